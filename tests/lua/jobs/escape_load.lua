local function f() return 1 end
local g = load(string.dump(f))
return {}
