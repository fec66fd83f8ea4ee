-- Job-wide settings: a setting in both places, a misspelled one, a bad value at the top level.
return {
  tenant = "acme",
  flush_interval = 2,
  flush_intervall = 3,
  changes = "yes",
  source = { plugin = "generator" },
  sink = { plugin = "file", dir = "/tmp/out",
           flush_interval = 5, timezone = "+02:00" },
}
