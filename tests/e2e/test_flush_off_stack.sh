#!/bin/bash
# The flush runs off the source's stack: while a 1M-row table's QVD is encoded and written to a
# slow sink (delay_ms), the job keeps polling the source and reading changes, durable() reaches
# the source between polls and never from inside commit(), and when the changes pending behind
# the running flush reach the budget the source is held and kept alive with heartbeat() (at
# least once a second) instead of being polled. The result is then checked row for row against
# a reference run.
. "$(dirname "$0")/lib.sh"
cd "$T"
mkdir jobs
cat > jobs/big.lua <<LUA
return {
  tenant = "big",
  source = { plugin = "generator", rows = 1000000, columns = { "int64", "string" },
             changes = -1, changes_per_txn = 2, rate = 400, report = true },
  sink = { plugin = "file", path = "$T/out", fsync = false, delay_ms = 2500 },
  flush_interval = 0.5, flush_max_changes = 100,
}
LUA
M=$T/m.prom
"$SLUICE" run --metrics-file "$M" jobs 2>log &
PID=$!
PIDS+=("$PID")
flushed() { grep -qs "\"flush\": $1[,0-9]" out/_sluice/manifest.json; }
expect "the first flush (1M rows, slow sink) becomes durable" wait_for 120 flushed 1
expect "a later flush follows" wait_for 60 flushed '[2-9]'
sleep 0.6 # metrics are published every 0.5 s
pdf=$(metric "$M" sluice_job_polls_during_flush_total big)
kill -TERM "$PID"
wait "$PID"
rc=$?
PIDS=()
expect "clean stop (rc=$rc)" [ "$rc" -eq 0 ]
rep=$(grep -o "report: .*" log | tail -1)
echo "  $rep"
val() { echo "$rep" | grep -oE "(^| )$1=[0-9]+" | cut -d= -f2; }
expect "durable() was called" [ "$(val durable)" -gt 0 ]
expect "durable() was never entered from inside commit()" [ "$(val durable_in_commit)" = "0" ]
expect "changes were read while the first flush ran ($(val txns_before_durable) transactions)" \
    [ "$(val txns_before_durable)" -ge 50 ]
expect "the source was never left alone for more than 1.5 s (max gap $(val max_gap_ms) ms)" \
    [ "$(val max_gap_ms)" -lt 1500 ]
expect "held behind a running flush, it got heartbeats ($(val heartbeats))" [ "$(val heartbeats)" -ge 2 ]
expect "polls counted during flushes ($pdf)" [ "${pdf:-0}" -gt 0 ]
# Row for row: a reference run of as many transactions from scratch, flushed once.
pos=$(grep -o '"position_text": "gen:[0-9]*' out/_sluice/manifest.json | grep -o '[0-9]*$')
cat > ref.lua <<LUA
return {
  tenant = "ref",
  source = { plugin = "generator", rows = 1000000, columns = { "int64", "string" },
             changes = $pos, changes_per_txn = 2 },
  sink = { plugin = "file", path = "$T/ref", fsync = false },
  flush_max_changes = 100000000, flush_interval = 100000,
}
LUA
"$SLUICE" --log-level warn run --once ref.lua
"$SLUICE" qvd cat out/items.qvd > a.csv
"$SLUICE" qvd cat ref/items.qvd > b.csv
expect "items.qvd equals a reference run to gen:$pos ($(wc -l < a.csv) lines)" \
    bash -c "[ \$(wc -l < a.csv) -gt 1000000 ] && cmp -s a.csv b.csv"
finish
