local common = { plugin = "s3", bucket = "shared" }

return {
  tenant = "acme",
  source = source{ plugin = "generator", rwos = 10 },
  sink = sink{ plugin = "s3", bucket = "b", ["regoin"] = "x" },
}
