-- Several problems, all reported in one pass.
return {
  tenant = 42,
  sorce = { plugin = "generator" },
  source = { plugin = "generator", rows = true },
  transforms = { { plugin = "select", columns = {"id"} }, "mask", { plugin = "nope" } },
  sink = sink{ plugin = "file", dirr = "/tmp/out", format = "xlsx", timezone = "CET" },
  [1] = "stray",
}
