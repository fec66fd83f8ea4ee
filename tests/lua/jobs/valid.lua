-- A complete job with the constructors; the test checks values and filled-in defaults.
local region = env("SL_TEST_UNSET_REGION", "eu-west-1")

return {
  tenant = "acme",
  source = source{
    plugin = "postgres",
    conninfo = env("SL_TEST_PG"),
    tables = {"public.orders", "customers"},
  },
  transforms = {
    transform{ plugin = "select", columns = "id" },
    { plugin = "select", columns = {"id", "name"} },
  },
  sink = sink{
    plugin = "s3",
    bucket = "acme-qvd",
    region = region,
    secret_access_key = secret_file("secrets/acme.secret"),
    part_size_mb = 16.0,
  },
  flush_interval = 2.5,
  changes = true,
}
