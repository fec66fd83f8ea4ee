return {
  tenant = "acme",
  source = {
    plugin = "generator",
    rows = "ten",
    rate = "fast",
    deletes = 1,
    tables = { "a", 2 },
    seed = 1.5,
  },
  sink = { plugin = "file", dir = 7 },
}
