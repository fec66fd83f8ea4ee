#!/bin/bash
# sluice check reports every problem of a file with FILE:LINE (unknown options, missing required,
# bad values, declared choices and ranges with did-you-mean), job-wide settings in the job table
# (the old spelling inside sink{} warns once per file), and exclusive options across files.
. "$(dirname "$0")/lib.sh"
cd "$T"
"$SLUICE" plugins 2>/dev/null | grep -q '^source *postgres' || { echo "skip: no postgres plugin"; exit 77; }

cat > many.lua <<'LUA'
return {
  tenant = "many",
  source = { plugin = "generator", rows = -1,
             tabels = 2,
             batch_rows = "x",
             fail = "prob" },
  transforms = { { plugin = "select", colums = { "id" } } },
  sink = { plugin = "file", pth = "out",
           fsync = "yes" },
  flush_interval = 0,
  format = "qdv",
}
LUA
"$SLUICE" check many.lua >out.txt 2>err.txt
expect "a file with many problems exits 1" [ $? -eq 1 ]
expect "out-of-range number, FILE:LINE" grep -qx 'many.lua:3: source "generator": option "rows" must be between 0 and 1000000000000, got -1' err.txt
expect "unknown option with did-you-mean" grep -qx 'many.lua:4: source "generator": unknown option "tabels" (did you mean "tables"?)' err.txt
expect "wrong type" grep -qx 'many.lua:5: source "generator": option "batch_rows" must be an integer, got string' err.txt
expect "bad choice with did-you-mean" grep -qx 'many.lua:6: source "generator": option "fail" must be one of open, poll, probe, got "prob" (did you mean "probe"?)' err.txt
expect "transform: unknown option" grep -qx 'many.lua:7: transform "select": unknown option "colums" (did you mean "columns"?)' err.txt
expect "transform: missing required" grep -qx 'many.lua:7: transform "select": missing required option "columns"' err.txt
expect "sink: unknown option" grep -qx 'many.lua:8: sink "file": unknown option "pth" (did you mean "path"?)' err.txt
expect "sink: missing required" grep -qx 'many.lua:8: sink "file": missing required option "path"' err.txt
expect "sink: wrong type on its own line" grep -qx 'many.lua:9: sink "file": option "fsync" must be a boolean, got string' err.txt
expect "job-wide setting: bad value" grep -qx 'many.lua:10: "flush_interval" must be greater than 0' err.txt
expect "job-wide setting: bad choice" grep -qx 'many.lua:11: "format" must be one of qvd, csv, got "qdv" (did you mean "qvd"?)' err.txt
expect "every problem, one line each (11)" [ "$(wc -l <err.txt)" -eq 11 ]
expect "nothing on stdout for a bad file" [ ! -s out.txt ]

# PostgreSQL's snapshot option declares its choices (issue 10: "bogus" used to pass).
for v in bogus intial; do
    cat > snap_$v.lua <<LUA
return {
  tenant = "snap",
  source = { plugin = "postgres", conninfo = "host=127.0.0.1 port=1",
             snapshot = "$v" },
  sink = { plugin = "file", path = "out" },
}
LUA
done
"$SLUICE" check snap_bogus.lua 2>err.txt
expect "snapshot = bogus exits 1" [ $? -eq 1 ]
expect "snapshot = bogus: FILE:LINE and the choices" grep -qx 'snap_bogus.lua:4: source "postgres": option "snapshot" must be one of initial, never, always, got "bogus"' err.txt
"$SLUICE" check snap_intial.lua 2>err.txt
expect "snapshot typo: did you mean" grep -qx 'snap_intial.lua:4: source "postgres": option "snapshot" must be one of initial, never, always, got "intial" (did you mean "initial"?)' err.txt

# Job-wide settings: the new place is quiet, the old one works with one warning per file.
cat > new.lua <<'LUA'
return {
  tenant = "new",
  flush_interval = 0.5, changes = true,
  source = { plugin = "generator", rows = 10, changes = 3 },
  sink = { plugin = "file", path = "out_new", fsync = false },
}
LUA
cat > old.lua <<'LUA'
return {
  tenant = "old",
  source = { plugin = "generator", rows = 10, changes = 3 },
  sink = { plugin = "file", path = "out_old", fsync = false,
           flush_interval = 0.5,
           changes = true, format = "qvd" },
}
LUA
"$SLUICE" check new.lua >out.txt 2>err.txt
expect "settings in the job table: exit 0" [ $? -eq 0 ]
expect "settings in the job table: no warning" [ ! -s err.txt ]
"$SLUICE" check old.lua >out.txt 2>err.txt
expect "settings inside sink{}: still exit 0" [ $? -eq 0 ]
expect "settings inside sink{}: still ok" grep -q '^old.lua: ok' out.txt
expect "settings inside sink{}: exactly one warning line" [ "$(wc -l <err.txt)" -eq 1 ]
expect "the warning names FILE:LINE and the settings" grep -q '^old.lua:5: warning: sink: flush_interval, changes, format inside sink{} are deprecated' err.txt
"$SLUICE" run --once old.lua 2>run.log
expect "old spelling runs" [ $? -eq 0 ]
expect "old spelling: settings applied (change files written)" ls out_old/_changes/items >/dev/null
expect "run logs the warning once" [ "$(grep -c 'inside sink{} are deprecated' run.log)" -eq 1 ]
"$SLUICE" run --once new.lua 2>run.log
expect "new spelling runs" [ $? -eq 0 ]
expect "new spelling: settings applied (change files written)" ls out_new/_changes/items >/dev/null

# Exclusive options (slot, publication) across files: the second file names the first.
for t in acme-eu acme.eu; do
    cat > "$t.lua" <<LUA
return {
  tenant = "$t",
  source = { plugin = "postgres", conninfo = "host=127.0.0.1 port=1 connect_timeout=1",
             slot = "shared_slot",
             publication = "pub_$t" },
  sink = { plugin = "file", path = "out_$t" },
}
LUA
done
"$SLUICE" check acme-eu.lua acme.eu.lua >out.txt 2>err.txt
expect "shared slot: exit 1" [ $? -eq 1 ]
expect "shared slot: both files, lines and tenants named" grep -qx 'acme.eu.lua:4: tenant "acme.eu": source "postgres": option "slot" = "shared_slot" is also used by tenant "acme-eu" (acme-eu.lua:4); two jobs must not share it' err.txt
expect "shared slot: the first file is still ok" grep -q '^acme-eu.lua: ok' out.txt
expect "shared slot: the second is not ok" bash -c '! grep -q "^acme\.eu\.lua: ok" out.txt'
expect "different publications do not clash" bash -c '! grep -q "publication" err.txt'
sed -i 's/shared_slot/other_slot/' acme.eu.lua
"$SLUICE" check acme-eu.lua acme.eu.lua >out.txt 2>err.txt
expect "distinct slots: exit 0" [ $? -eq 0 ]
sed -i 's/other_slot/shared_slot/' acme.eu.lua
timeout 60 "$SLUICE" run --once acme-eu.lua acme.eu.lua 2>run.log
expect "run refuses the second job of a shared slot (exit 1)" [ $? -eq 1 ]
expect "run names the clash" grep -q 'option "slot" = "shared_slot" is also used by tenant "acme-eu" (acme-eu.lua:4); two jobs must not share it: not started' run.log
finish
