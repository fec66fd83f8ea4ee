-- Every problem of one table is reported, not only the first.
return {
  tenant = "acme",
  source = { plugin = "postgres", slto = "s", snapshot = 1,
             heartbeat_interval = "x" },
  sink = { plugin = "s3", buckt = "b", regoin = "eu",
           part_size_mb = "big", endpoint = 5,
           fsync = true },
}
