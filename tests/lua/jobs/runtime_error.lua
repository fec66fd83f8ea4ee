local settings = nil

local rows = settings.rows
return { tenant = "acme" }
