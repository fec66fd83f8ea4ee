local posix = require("os")
return {}
