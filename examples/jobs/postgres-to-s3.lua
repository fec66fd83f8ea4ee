-- One customer: PostgreSQL (logical replication) -> active QVDs in the customer's bucket.
-- Credentials come from the environment or from files, never from the job file itself.
return {
  tenant = "acme",
  source = source{
    plugin = "postgres",
    conninfo = env("ACME_PG_CONNINFO"),            -- e.g. "host=db.acme.internal dbname=erp user=sluice sslrootcert=/etc/sluice/acme-ca.crt"
    sslmode = "verify-full",                       -- verify the server's certificate (anything else logs a warning)
    tables = { "public.orders", "public.customers", "public.products" },
  },
  sink = sink{
    plugin = "s3",
    endpoint = "https://s3.eu-central-1.amazonaws.com",
    region = "eu-central-1",
    bucket = "acme-qlik",
    prefix = "sluice/",
    access_key_id = env("ACME_S3_KEY_ID"),
    secret_access_key = secret_file("/run/secrets/acme-s3-secret"),
  },
  flush_interval = 1,                              -- job-wide: seconds between flushes
}
