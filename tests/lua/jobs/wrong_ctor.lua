return {
  tenant = "acme",
  source = sink{ plugin = "generator" },
  transforms = { plugin = "select", columns = "id" },
  sink = { plugin = "file", dir = "/tmp/out" },
}
