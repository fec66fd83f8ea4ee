return {
  tenant = "acme",
  source = { plugin = "postgres", conninfo = "host=127.0.0.1" },
  transforms = { { plugin = "select" } },
  sink = {
    plugin = "s3",
  },
}
