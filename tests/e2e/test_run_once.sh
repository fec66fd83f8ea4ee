#!/bin/bash
# run --once: snapshot + changes to a durable flush; a second run resumes from the manifest and
# ends with exactly the tables of one uninterrupted run; transforms apply; CSV format works.
. "$(dirname "$0")/lib.sh"
cd "$T"
job() { # file tenant dir changes extra
    cat >"$1" <<LUA
return {
  tenant = "$2",
  source = { plugin = "generator", tables = 2, rows = 3000, changes = $4, changes_per_txn = 7 },
  sink = { plugin = "file", path = "$T/$3", fsync = false },
  flush_interval = 0.05 $5,
}
LUA
}
job a.lua split out1 40 ", changes = true"
job b.lua whole out2 150 ""
"$SLUICE" run --once a.lua 2>log1
expect "first run exits 0" [ $? -eq 0 ]
expect "manifest written" grep -q '"position_text": "gen:40"' out1/_sluice/manifest.json
job a.lua split out1 150 ", changes = true"
"$SLUICE" run --once a.lua 2>log2
expect "second run exits 0" [ $? -eq 0 ]
expect "second run recovered from the sink" grep -q "recovered flush" log2
expect "second run resumed after 40" grep -q "resuming after change transaction 40" log2
"$SLUICE" run --once b.lua 2>log3
expect "uninterrupted run exits 0" [ $? -eq 0 ]
for t in items_1 items_2; do
    "$SLUICE" qvd cat out1/$t.qvd --format csv >a.csv
    "$SLUICE" qvd cat out2/$t.qvd --format csv >b.csv
    expect "$t: resumed run equals uninterrupted run" cmp -s a.csv b.csv
    expect "$t: has rows" [ "$(wc -l <a.csv)" -gt 3000 ]
done
expect "change files written" ls out1/_changes/items_1/ >/dev/null
n=$(ls out1/_changes/items_1 | wc -l)
expect "change files per flush ($n)" [ "$n" -ge 1 ]
f=$(ls out1/_changes/items_1 | tail -1)
"$SLUICE" qvd cat "out1/_changes/items_1/$f" --format csv --limit 2 >ch.csv
expect "change file has _op/_commit_time/_commit_seq" grep -q '_op,_commit_time,_commit_seq' ch.csv
# Transform + CSV output.
cat > c.lua <<LUA
return {
  tenant = "csv",
  source = { plugin = "generator", rows = 5, columns = { "string", "date" }, null_every = 0 },
  transforms = { { plugin = "select", columns = { "c2_date as day", "id" } } },
  sink = { plugin = "file", path = "$T/out3", fsync = false },
  format = "csv",
}
LUA
"$SLUICE" run --once c.lua 2>log4
expect "csv run exits 0" [ $? -eq 0 ]
expect "csv header has renamed, reordered columns" grep -q '^day,id' out3/items.csv
expect "csv has 5 rows" [ "$(wc -l <out3/items.csv)" -eq 6 ]
# QVD written by the file sink is a QVD the reader accepts, with the key tagged.
"$SLUICE" qvd info out2/items_1.qvd >info.txt
expect "qvd info reads the output" grep -q 'items_1' info.txt
expect "key column tagged \$key" grep -q '\$key' info.txt
# --log-format json: one JSON object per line with time, level, tenant.
"$SLUICE" --log-format json run --once c.lua 2>json.log
expect "json log run exits 0" [ $? -eq 0 ]
if command -v node >/dev/null; then
    node -e '
      const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
      let ok = lines.length > 2;
      for (const l of lines) { const o = JSON.parse(l); ok = ok && o.time && o.level && o.msg; }
      if (!lines.some(l => JSON.parse(l).tenant === "csv")) ok = false;
      process.exit(ok ? 0 : 1);' json.log
    expect "every json log line parses and carries time/level/msg, tenant where it applies" [ $? -eq 0 ]
fi
finish
