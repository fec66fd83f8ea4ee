-- Each comparison is one instruction but compares 10 MB: the clock stops it.
local a = string.rep("x", 1e7) .. "a"
local b = string.rep("x", 1e7) .. "b"
local same = 0
while true do
  if a == b then same = same + 1 end
end
