-- MAP options take one level of name = scalar; TABLE options any nesting of scalars.
return {
  tenant = "acme",
  source = { plugin = "generator" },
  transforms = {
    transform{ plugin = "mask", rules = "email", methods = { "hmac" } },
    transform{ plugin = "mask", rules = { { column = "email", method = function() end } },
               methods = { email = { "hmac" } } },
    transform{ plugin = "mask", rules = { { column = "a" }, "b", c = 1 }, methods = 5 },
  },
  sink = { plugin = "file", dir = "/tmp/out" },
}
