return {
  tenant = "acme",
  source = {
    plugin = "mysqll",
    tables = "orders",
  },
  sink = { plugin = "file", dir = "/tmp/out" },
}
