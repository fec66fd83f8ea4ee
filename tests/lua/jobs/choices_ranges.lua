-- Declared choices and ranges: a value outside them is an error at its line (did-you-mean when
-- one choice is close).
return {
  tenant = "acme",
  source = source{ plugin = "postgres", conninfo = "host=x", tables = "t",
                   snapshot = "bogus",
                   heartbeat_interval = 0 },
  transforms = {
    transform{ plugin = "mask", rules = {}, levels = { "low", "hgih" }, ratio = 1.5 },
  },
  sink = sink{ plugin = "file", dir = "/tmp/out" },
  format = "qdv",
}
