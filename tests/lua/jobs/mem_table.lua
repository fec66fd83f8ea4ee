-- A table that keeps growing: every entry a new 1 MB string.
local chunk = string.rep("x", 1000000)
local t = {}
local i = 0
while true do
  i = i + 1
  t[i] = chunk .. i
end
