-- Bigger than any Lua string can be: Lua refuses before allocating.
local big = string.rep('x', 1e10)
return {}
