return { tenant = "acme", source = { plugin = "generator" },
  sink = { plugin = "file", dir = secret_file("/") } }
