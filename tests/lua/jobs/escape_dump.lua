local function f() return 1 end
local code = string.dump(f)
return {}
