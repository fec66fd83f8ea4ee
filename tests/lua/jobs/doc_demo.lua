return {
  tenant = "demo",
  source = { plugin = "generator", rows = 1000 },
  sink = { plugin = "file", dir = "/var/lib/sluice/demo", format = "csv" },
}
