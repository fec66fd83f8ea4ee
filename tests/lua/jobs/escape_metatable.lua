local t = setmetatable({}, { __gc = function() end })
return t
