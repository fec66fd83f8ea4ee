return {
  tenant = "acme corp/1",
  source = { plugin = "generator" },
  sink = { plugin = "file", dir = "/tmp/out" },
}
