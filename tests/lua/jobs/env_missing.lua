return {
  tenant = "acme",
  source = { plugin = "postgres",
             conninfo = env("SL_TEST_SURELY_UNSET"), tables = "t" },
  sink = { plugin = "file", dir = "/tmp/out" },
}
