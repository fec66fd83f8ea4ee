return {
  tenant = "acme",
  source = { plugin = "postgres", conninfo = "host=x", tables = "t", snapshot = "alwyas",
             heartbeat_interval = 3601 },
  sink = { plugin = "file", dir = "/tmp/out" },
}
