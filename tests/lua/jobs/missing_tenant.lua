local job = {
  source = { plugin = "generator" },
  sink = { plugin = "file", dir = "/tmp/out" },
}
return job
