-- acme.lua
return {
  tenant = "acme",
  source = { plugin = "generator" },
  sink = {
    plugin = "s3",
    -- the bucket = line below is misspelled
    bukcet = "acme-qvd",
    bucket = "x",
    flush_intervall = 1,
    zzz = 1,
  },
}
