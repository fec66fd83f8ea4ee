#!/bin/bash
# SIGKILL at random moments (during the snapshot, during streaming, during flushes), 20 rounds,
# each followed by a restart; at the end the tables equal those of one uninterrupted run.
# (The deterministic generator stands in for a database here; the PostgreSQL crash loop lives in
# tests/postgres.)
. "$(dirname "$0")/lib.sh"
cd "$T"
ROUNDS=${SL_CRASH_ROUNDS:-20}
N=400
job() { # file tenant dir rate
    cat >"$1" <<LUA
return {
  tenant = "$2",
  source = { plugin = "generator", tables = 3, rows = 20000, batch_rows = 500, changes = $N,
             changes_per_txn = 25, rate = $4 },
  sink = { plugin = "file", path = "$T/$3", flush_interval = 0.1, changes = true },
}
LUA
}
job crash.lua crash out 300
job ref.lua ref ref 0
"$SLUICE" run --once ref.lua 2>ref.log || { bad "reference run"; finish; }
for i in $(seq 1 "$ROUNDS"); do
    "$SLUICE" run crash.lua 2>>crash.log &
    pid=$!
    # 50..1200 ms: early rounds land in the snapshot, later ones in streaming and flushes.
    sleep "$(awk -v r=$RANDOM 'BEGIN{printf "%.3f", 0.05 + (r % 1150) / 1000}')"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
done
pos=$(grep -o '"position_text": "gen:[0-9]*"' out/_sluice/manifest.json 2>/dev/null)
echo "position after $ROUNDS kills: ${pos:-none}"
"$SLUICE" run --once crash.lua 2>>crash.log
expect "final run exits 0" [ $? -eq 0 ]
expect "final manifest at gen:$N" grep -q "\"position_text\": \"gen:$N\"" out/_sluice/manifest.json
for t in items_1 items_2 items_3; do
    "$SLUICE" qvd cat "out/$t.qvd" --format csv >a.csv
    "$SLUICE" qvd cat "ref/$t.qvd" --format csv >b.csv
    expect "$t equals the uninterrupted run ($(wc -l <a.csv) lines)" cmp -s a.csv b.csv
done
leftovers=$(find out -name '.*' ! -name '.*.lock' -type f | wc -l)
expect "no temporary files left after the final run ($leftovers; lock files stay)" [ "$leftovers" -eq 0 ]
finish
