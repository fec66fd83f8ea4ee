#!/bin/bash
# run --once exits 1 when any job file fails to load or any job fails, after the healthy jobs
# have run to completion; a select transform naming a column the table lacks stops the job with
# FILE:LINE of the option, the tenant, the table and the column (never a silently missing column).
. "$(dirname "$0")/lib.sh"
cd "$T"
healthy() { # file tenant
    cat >"$1" <<LUA
return {
  tenant = "$2",
  source = { plugin = "generator", rows = 20 },
  sink = { plugin = "file", path = "$T/out/$2", fsync = false },
}
LUA
}
healthy healthy.lua healthy
printf 'return {\n  tenant = "broken",\n  source = { plugin = "generator" \n' > broken.lua
"$SLUICE" run --once broken.lua healthy.lua 2>run.log
expect "broken + healthy: exit 1" [ $? -eq 1 ]
expect "broken + healthy: the healthy job ran to a durable flush" grep -q '"flush"' out/healthy/_sluice/manifest.json
expect "broken + healthy: the broken file is named with FILE:LINE" grep -q 'broken.lua:[0-9]*: ' run.log
"$SLUICE" run --once healthy.lua 2>run.log
expect "healthy alone: exit 0" [ $? -eq 0 ]

# A directory of 30 broken and 5 valid files.
mkdir jobs
for i in $(seq 1 30); do
    printf 'return { tenant = "b%d", source = { plugin = "generator", rowz = 1 },\n  sink = { plugin = "file", path = "x" } }\n' "$i" >"jobs/b$i.lua"
done
for i in 1 2 3 4 5; do healthy "jobs/v$i.lua" "v$i"; done
"$SLUICE" run --once jobs 2>run.log
expect "30 broken + 5 valid: exit 1" [ $? -eq 1 ]
n=0
for i in 1 2 3 4 5; do grep -q '"flush"' "out/v$i/_sluice/manifest.json" 2>/dev/null && n=$((n + 1)); done
expect "30 broken + 5 valid: the 5 valid jobs are done ($n)" [ "$n" -eq 5 ]
expect "30 broken + 5 valid: each broken file reported ($(grep -c 'unknown option "rowz"' run.log))" [ "$(grep -c 'unknown option "rowz"' run.log)" -eq 30 ]
expect "30 broken + 5 valid: a summary line" grep -q '30 job file(s) could not be started' run.log

# A job that fails (not its file) fails the run too.
cat > failing.lua <<LUA
return {
  tenant = "failing",
  source = { plugin = "generator", fail = "open" },
  sink = { plugin = "file", path = "$T/out/failing", fsync = false },
}
LUA
timeout 60 "$SLUICE" run --once failing.lua healthy.lua 2>run.log
expect "a failing job: exit 1" [ $? -eq 1 ]

# select naming a missing column.
cat > sel.lua <<LUA
return {
  tenant = "sel",
  source = { plugin = "generator", tables = 2, rows = 5, columns = { "string" } },
  transforms = {
    { plugin = "select",
      columns = { "id", "c1_string as name", "nosuch" } },
  },
  sink = { plugin = "file", path = "$T/out/sel", fsync = false },
}
LUA
timeout 60 "$SLUICE" run --once sel.lua 2>run.log
expect "select with a missing column: exit 1" [ $? -eq 1 ]
expect "select with a missing column: FILE:LINE, tenant, table, column" grep -qE 'tenant=sel .*sel\.lua:6: table items_[12] has no column "nosuch"' run.log
expect "select with a missing column: no table written" [ ! -e out/sel/items_1.qvd ] && [ ! -e out/sel/items_2.qvd ]
# Limited with tables = {...} to the table that has the columns: the other table passes whole.
cat > sel2.lua <<LUA
return {
  tenant = "sel2",
  source = { plugin = "generator", tables = 2, rows = 5, columns = { "string", "date" } },
  transforms = {
    { plugin = "select", columns = { "id", "c2_date as day" }, tables = { "items_1" } },
  },
  sink = { plugin = "file", path = "$T/out/sel2", format = "csv", fsync = false },
}
LUA
"$SLUICE" run --once sel2.lua 2>run.log
expect "select limited to one table: exit 0" [ $? -eq 0 ]
expect "select limited to one table: that table selected" grep -qE '^id,day.?$' <(head -1 out/sel2/items_1.csv)
expect "select limited to one table: the other table whole" grep -q '^id,c1_string,c2_date' <(head -1 out/sel2/items_2.csv)
finish
