-- A tenant whose "database" is the deterministic generator: handy to try Sluice without a server.
--   build/sluice run --once examples/jobs/generator-to-dir.lua
return {
  tenant = "demo",
  source = source{ plugin = "generator", tables = 2, rows = 1000, changes = 100 },
  transforms = {
    transform{ plugin = "select", columns = { "id", "c4_string as name", "c6_date as day", "c9_timestamptz as at" } },
  },
  sink = sink{ plugin = "file", path = "/tmp/sluice-demo/out" },
  flush_interval = 1, changes = true,
}
