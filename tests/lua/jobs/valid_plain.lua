-- Plain tables, no transforms, every default taken.
return {
  tenant = "t-1.x_Y",
  source = { plugin = "generator" },
  sink = { plugin = "file", dir = "/tmp/out" },
}
