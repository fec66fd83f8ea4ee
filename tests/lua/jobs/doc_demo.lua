return {
  tenant = "demo",
  source = { plugin = "generator", rows = 1000 },
  format = "csv",
  sink = { plugin = "file", dir = "/var/lib/sluice/demo" },
}
