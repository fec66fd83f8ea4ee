-- test_clashes: the default slot, like valid.lua.
return {
  tenant = "gamma",
  source = { plugin = "postgres", conninfo = "host=x", tables = "t", publication = "q" },
  sink = { plugin = "file", dir = "/tmp/gamma" },
}
