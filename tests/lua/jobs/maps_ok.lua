-- Valid MAP and TABLE options: the test reads them back as trees.
return {
  tenant = "acme",
  source = { plugin = "generator" },
  transforms = {
    transform{ plugin = "mask",
               rules = {
                 { column = "email", method = "hmac" },
                 { column = "phone", method = "last4", keep = 4 },
               },
               methods = { zip = "drop", email = "hmac" },
               levels = { "low", "high" }, ratio = 0.5 },
    transform{ plugin = "mask", rules = {}, methods = {} },
  },
  sink = { plugin = "file", dir = "/tmp/out" },
}
