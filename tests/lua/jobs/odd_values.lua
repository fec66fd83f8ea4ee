return {
  tenant = "acme",
  source = string,
  sink = { plugin = "s3", bucket = "b", flush_interval = 0, flush_max_changes = 0,
           memory_limit_mb = -1, timezone = "+25:00", "stray", [true] = 1 },
  transforms = { source{ plugin = "select", columns = {} } },
}
