#!/bin/bash
# SIGHUP: only the changed job restarts; a broken edit keeps the old version running; a removed
# file stops its job after a final flush; untouched jobs never pause. SIGTERM then exits 0.
. "$(dirname "$0")/lib.sh"
cd "$T"
mkdir jobs
job() { # tenant rate
    cat >"jobs/$1.lua" <<LUA
return {
  tenant = "$1",
  source = { plugin = "generator", rows = 200, changes = -1, rate = $2 },
  sink = { plugin = "file", path = "$T/out/$1", fsync = false, flush_interval = 0.2 },
}
LUA
}
job alpha 100
job beta 100
M=$T/metrics.prom
"$SLUICE" run --metrics-file "$M" jobs 2>log &
PID=$!
PIDS+=("$PID")
rows() { metric "$M" sluice_job_rows_in_total "$1"; }
attempt() { metric "$M" sluice_job_attempt "$1"; }
has_rows() { local v; v=$(rows "$1"); [ -n "$v" ] && [ "$v" -gt "${2:-0}" ]; }
expect "both tenants produce rows" wait_for 20 bash -c "$(declare -f metric rows has_rows); M=$M; has_rows alpha 300 && has_rows beta 300"
b_att=$(attempt beta)
b_rows=$(rows beta)
a_att=$(attempt alpha)
# 1. Change alpha only.
job alpha 150
kill -HUP "$PID"
expect "alpha restarted on its change" wait_for 10 grep -q "tenant=alpha stopping job (its job file changed)" log
expect "alpha started again" wait_for 10 bash -c "[ \$(grep -c 'tenant=alpha job started' '$T/log') -ge 2 ]"
sleep 1
expect "beta was not restarted" bash -c "! grep -q 'tenant=beta stopping' '$T/log'"
expect "beta kept its thread and attempt" [ "$(attempt beta)" = "$b_att" ]
expect "beta row counter kept going ($b_rows -> $(rows beta))" [ "$(rows beta)" -gt "$b_rows" ]
expect "alpha resumed from its manifest" wait_for 10 bash -c "grep -q 'tenant=alpha recovered flush' '$T/log'"
# 2. A broken edit keeps the old alpha running.
a_att=$(attempt alpha)
a_rows=$(rows alpha)
printf 'return { tenant = "alpha", source = { plugin = "generator" \n' >jobs/alpha.lua
kill -HUP "$PID"
expect "broken edit is reported with FILE:LINE" wait_for 10 grep -qE "jobs/alpha\.lua:[0-9]+: " log
expect "broken edit keeps the running version" wait_for 10 grep -q "the running version keeps running" log
sleep 1
expect "alpha still the same attempt" [ "$(attempt alpha)" = "$a_att" ]
expect "alpha still producing" [ "$(rows alpha)" -gt "$a_rows" ]
# 3. Removing a file stops its job after a final flush.
before=$(grep -o '"flush": [0-9]*' out/beta/_sluice/manifest.json | head -1)
rm jobs/beta.lua
kill -HUP "$PID"
expect "beta stopped on removal" wait_for 10 grep -q "tenant=beta stopping job (its job file was removed)" log
expect "beta thread ended" wait_for 10 grep -q "tenant=beta job stopped" log
expect "beta manifest present after its stop" [ -s out/beta/_sluice/manifest.json ]
expect "beta metrics gone" wait_for 5 bash -c "! grep -q 'tenant=\"beta\"' '$M'"
# 4. A new file starts a new job.
job gamma 50
kill -HUP "$PID"
expect "gamma started" wait_for 10 grep -q "tenant=gamma job started" log
# 5. SIGTERM: graceful stop within the timeout, exit 0.
kill -TERM "$PID"
start=$SECONDS
wait "$PID"
rc=$?
PIDS=()
expect "SIGTERM exits 0 (rc=$rc)" [ "$rc" -eq 0 ]
expect "SIGTERM stop took under 10 s" [ $((SECONDS - start)) -lt 10 ]
expect "alpha stopped cleanly" grep -q "tenant=alpha job stopped" log
last=$(grep -o '"position_text": "gen:[0-9]*"' out/alpha/_sluice/manifest.json)
expect "alpha final manifest has a position ($last)" [ -n "$last" ]
finish
