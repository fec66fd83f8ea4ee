#!/bin/bash
# sluice_job_lag_seconds counts from the oldest commit not yet durable, and while a flush runs
# that commit is in the flush (its commits left the job's pending list at the hand-off): the lag
# must not drop when a slow flush starts, only when its manifest is durable. With each flush
# taking ~3 s (two puts at 1.5 s) and commits arriving all the time, a flush's oldest commit is
# ~3 s old at the hand-off and ~6 s old when durable; counting only commits after the hand-off
# would never show more than ~3.5 s.
. "$(dirname "$0")/lib.sh"
cd "$T"
mkdir jobs
cat > jobs/lag.lua <<LUA
return {
  tenant = "lag",
  source = { plugin = "generator", rows = 100, columns = { "int64" },
             changes = -1, changes_per_txn = 1, rate = 50 },
  sink = { plugin = "file", path = "$T/out", fsync = false, delay_ms = 1500 },
  flush_interval = 0.1, flush_max_changes = 100000,
}
LUA
M=$T/m.prom
"$SLUICE" run --metrics-file "$M" jobs 2>log &
PID=$!
PIDS+=("$PID")
flushed() { grep -qs "\"flush\": [2-9][,0-9]" out/_sluice/manifest.json; }
expect "flushes follow one another" wait_for 60 flushed
max=0
for _ in $(seq 1 60); do
    v=$(metric "$M" sluice_job_lag_seconds lag)
    [ -n "$v" ] && max=$(awk -v a="$max" -v b="$v" 'BEGIN { print (b > a) ? b : a }')
    sleep 0.2
done
kill -TERM "$PID"
wait "$PID"
PIDS=()
expect "the lag counts the running flush's commits (max $max s)" \
    awk -v m="$max" 'BEGIN { exit !(m >= 4.5 && m < 30) }'
finish
