return {
  tenant = "acme",
  source = { plugin = "generator" },
  sink = { plugin = "s3", bucket = "b", secret_access_key = secret_file("secrets/acme.secret") },
}
