#!/bin/bash
# memory_limit_mb holds a tenant's counted memory (table state, change logs, batches, host
# allocations, flush buffers): a tenant whose snapshot cannot fit stops with one line naming the
# tenant, the limit and the use, while another tenant in the same process keeps running and
# its files stay right (checked row for row against a reference run).
. "$(dirname "$0")/lib.sh"
cd "$T"
mkdir jobs
cat > jobs/small.lua <<LUA
return {
  tenant = "small",
  source = { plugin = "generator", rows = 1000000 },
  sink = { plugin = "file", path = "$T/out/small", fsync = false },
  memory_limit_mb = 40,
}
LUA
cat > jobs/good.lua <<LUA
return {
  tenant = "good",
  source = { plugin = "generator", rows = 2000, changes = -1, rate = 100 },
  sink = { plugin = "file", path = "$T/out/good", fsync = false },
  flush_interval = 0.2, memory_limit_mb = 256, changes = true,
}
LUA
M=$T/m.prom
"$SLUICE" run --metrics-file "$M" jobs 2>log &
PID=$!
PIDS+=("$PID")
expect "small tenant stops with the limit and the use named" wait_for 60 grep -qE \
    "tenant=small job failed: tenant small uses [0-9.]+ MiB, above memory_limit_mb = 40 \(table state [0-9.]+ MiB" log
grep -m1 "tenant=small job failed" log | sed 's/^/  /'
g1=$(metric "$M" sluice_job_rows_in_total good)
sleep 1.5
g2=$(metric "$M" sluice_job_rows_in_total good)
expect "good tenant keeps going ($g1 -> $g2)" [ "${g2:-0}" -gt "${g1:-0}" ]
mem=$(metric "$M" sluice_job_memory_bytes good)
expect "good tenant's memory is counted ($mem bytes) and under its limit" \
    bash -c "[ '${mem:-0}' -gt 100000 ] && [ '${mem:-0}' -lt $((256 << 20)) ]"
expect "good tenant never failed" bash -c "! grep -q 'tenant=good job failed' '$T/log'"
kill -TERM "$PID"
wait "$PID"
rc=$?
PIDS=()
expect "clean stop (rc=$rc)" [ "$rc" -eq 0 ]
expect "small tenant wrote no manifest" test ! -e out/small/_sluice/manifest.json
pos=$(grep -o '"position_text": "gen:[0-9]*' out/good/_sluice/manifest.json | grep -o '[0-9]*$')
cat > ref.lua <<LUA
return {
  tenant = "ref",
  source = { plugin = "generator", rows = 2000, changes = $pos },
  sink = { plugin = "file", path = "$T/ref", fsync = false },
}
LUA
"$SLUICE" --log-level warn run --once ref.lua
"$SLUICE" qvd cat out/good/items.qvd > a.csv
"$SLUICE" qvd cat ref/items.qvd > b.csv
expect "good tenant's items.qvd equals a reference run to gen:$pos ($(wc -l < a.csv) lines)" \
    bash -c "[ \$(wc -l < a.csv) -gt 1000 ] && cmp -s a.csv b.csv"
finish
