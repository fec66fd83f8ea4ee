-- valid_plain.lua with some defaults written out (and 1e3 for an integer): same hash.
return {
  tenant = "t-1.x_Y",
  source = { plugin = "generator", rows = 1e3, deletes = false, tables = "gen" },
  sink = { plugin = "file", dir = "/tmp/out" },
  flush_interval = 1.0, format = "qvd",
}
