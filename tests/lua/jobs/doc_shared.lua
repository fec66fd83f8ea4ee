local function s3(bucket)
  return sink{ plugin = "s3", bucket = bucket, region = env("REGION", "eu-west-1"),
               secret_access_key = secret_file("keys/" .. bucket) }
end

return {
  tenant = "acme-eu",
  source = source{ plugin = "postgres", conninfo = env("ACME_PG"), tables = "public.orders" },
  sink = s3("acme-eu-qvd"),
}
