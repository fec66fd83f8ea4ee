local x = 1
local y = 2
error("no position here", 0)
