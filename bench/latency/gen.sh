#!/usr/bin/env bash
# Commit-to-durable latency at about 1,000 changes/s (100 transactions/s of 10 changes) in a job
# that also holds a 1M-row table, without services: generator -> table state -> QVD -> file sink
# (fsync off: the engine, not the disk), flush_interval = 1. The generator stamps each commit
# with its scheduled time, so a host that stops reading (a flush on the source's stack) shows up
# as latency, as it would with a database that keeps committing. sluice prints p50/p99/max of
# every commit's commit-to-durable time at the end.
#   bench/latency/gen.sh [SECONDS] [HOT] [AFTER]
#     HOT = small: changes go to a 10k-row table; the 1M-row table is only snapshotted
#     HOT = big:   changes go to both tables, so every flush rewrites the 1M-row table too
#     AFTER: seconds between the snapshot's commit and the first change (0: at once, so the
#            commits made while the 1M-row snapshot is flushed are measured too; 25: steady
#            state, the snapshot's flush is over before the first change)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-30}
hot=${2:-small}
after=${3:-0}
S=${SLUICE:-$here/build/sluice}
D=$(mktemp -d /tmp/sluice-bench-genlat.XXXXXX)
trap 'rm -rf "$D"' EXIT
ct=2
[ "$hot" = big ] && ct=0
cat >"$D/job.lua" <<LUA
return {
  tenant = "bench",
  source = { plugin = "generator", tables = 2, table_rows = { "1000000", "10000" },
             columns = { "int64", "string", "double", "timestamp" },
             changes = -1, rate = 100, changes_per_txn = 10, change_table = $ct,
             changes_after = $after },
  sink = { plugin = "file", path = "$D/out", fsync = false },
  flush_interval = 1,
}
LUA
"$S" run "$D/job.lua" 2>"$D/log" &
pid=$!
# Measure from the first durable manifest (the 1M-row snapshot), for SECONDS.
for _ in $(seq 1 600); do [ -s "$D/out/_sluice/manifest.json" ] && break; sleep 0.1; done
sleep "$secs"
kill -TERM "$pid"
wait "$pid" || true
line=$(grep -o "commit-to-durable latency over.*" "$D/log" || echo "no latency line")
echo "hot=$hot after=${after}s ${secs}s: $line"
