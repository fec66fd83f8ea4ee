local t = {}
table.move(t, 1, math.maxinteger - 10, 2)
return {}
