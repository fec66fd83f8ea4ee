-- test_clashes: exclusive_a and exclusive_b share a slot, a publication and a secret key.
return {
  tenant = "alpha",
  source = { plugin = "postgres", conninfo = "host=x", tables = "t", slot = "s1",
             publication = "p" },
  transforms = {
    { plugin = "mask", rules = {}, key = "k3y" },
  },
  sink = { plugin = "file", dir = "/tmp/alpha" },
}
