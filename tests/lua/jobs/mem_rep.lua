local big = string.rep('x', 1e9)
return {}
