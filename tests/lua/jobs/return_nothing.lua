local job = { tenant = "acme" }
