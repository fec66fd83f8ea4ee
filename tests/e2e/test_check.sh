#!/bin/bash
# sluice check: exit 0 on valid jobs, 1 with FILE:LINE: lines for each kind of problem.
. "$(dirname "$0")/lib.sh"
cd "$T"
cat > good.lua <<'LUA'
return {
  tenant = "good",
  source = { plugin = "generator", rows = 10 },
  transforms = { { plugin = "select", columns = { "id", "c4_string as name" } } },
  sink = { plugin = "file", path = "out" },
  flush_interval = 0.5,
}
LUA
cat > syntax.lua <<'LUA'
return {
  tenant = "s",
  source = { plugin = "generator" }
  sink = { plugin = "file", path = "x" },
}
LUA
cat > unknown_plugin.lua <<'LUA'
return {
  tenant = "u",
  source = { plugin = "mysqll" },
  sink = { plugin = "file", path = "x" },
}
LUA
cat > typo.lua <<'LUA'
return {
  tenant = "t",
  source = { plugin = "generator" },
  sink = {
    plugin = "file",
    paht = "x",
  },
}
LUA
cat > missing.lua <<'LUA'
return {
  tenant = "m",
  source = { plugin = "generator" },
  sink = { plugin = "file" },
}
LUA
"$SLUICE" check good.lua >out.txt 2>err.txt
expect "valid job exits 0" [ $? -eq 0 ]
expect "valid job prints ok" grep -q "good.lua: ok" out.txt
"$SLUICE" check syntax.lua 2>err.txt
expect "syntax error exits 1" [ $? -eq 1 ]
expect "syntax error has FILE:LINE" grep -qE '^syntax\.lua:4: ' err.txt
"$SLUICE" check unknown_plugin.lua 2>err.txt
expect "unknown plugin exits 1" [ $? -eq 1 ]
expect "unknown plugin line" grep -qE '^unknown_plugin\.lua:3: source "mysqll": unknown source plugin' err.txt
"$SLUICE" check typo.lua 2>err.txt
expect "misspelled option exits 1" [ $? -eq 1 ]
expect "misspelled option line points at the key" grep -qE '^typo\.lua:6: sink "file": unknown option "paht"' err.txt
"$SLUICE" check missing.lua 2>err.txt
expect "missing option exits 1" [ $? -eq 1 ]
expect "missing option line" grep -qE '^missing\.lua:4: sink "file": missing required option "path"' err.txt
"$SLUICE" check good.lua typo.lua >/dev/null 2>err.txt
expect "one bad file among good ones exits 1" [ $? -eq 1 ]
mkdir d && cp good.lua d/ && sed 's/"good"/"good2"/' good.lua > d/b.lua
"$SLUICE" check d >out.txt 2>&1
expect "a directory of valid jobs exits 0" [ $? -eq 0 ]
cp good.lua d/c.lua
"$SLUICE" check d >out.txt 2>&1
expect "duplicate tenant across files exits 1" [ $? -eq 1 ]
expect "duplicate tenant named" grep -q 'tenant "good" is also defined' out.txt
"$SLUICE" check nonexistent.lua 2>err.txt
expect "missing file exits 1" [ $? -eq 1 ]
"$SLUICE" --plugin-dir /nonexistent check good.lua >/dev/null 2>&1
expect "bad --plugin-dir still finds the build tree's plugins" [ $? -eq 0 ]
v=$("$SLUICE" version)
expect "version line" grep -qE '^sluice [0-9]+\.[0-9]+\.[0-9]+ \(plugin ABI 2\.[0-9]+\)$' <<<"$v"
"$SLUICE" --help | grep -q "run \[--once\]"
expect "--help documents run" [ $? -eq 0 ]
finish
