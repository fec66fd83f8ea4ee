#!/bin/bash
# A job whose source fails repeatedly backs off exponentially, logs the tenant and the cause, and
# does not affect another tenant. In --once mode it gives up after 3 attempts and the exit code
# says so, while the healthy tenant's output is complete.
. "$(dirname "$0")/lib.sh"
cd "$T"
mkdir jobs
cat > jobs/bad.lua <<LUA
return {
  tenant = "bad",
  source = { plugin = "generator", fail = "open" },
  sink = { plugin = "file", path = "$T/out/bad", fsync = false },
}
LUA
cat > jobs/crashy.lua <<LUA
return {
  tenant = "crashy",
  source = { plugin = "generator", rows = 100, changes = -1, rate = 50, fail = "poll", fail_after = 20 },
  sink = { plugin = "file", path = "$T/out/crashy", fsync = false, flush_interval = 0.1 },
}
LUA
cat > jobs/good.lua <<LUA
return {
  tenant = "good",
  source = { plugin = "generator", rows = 100, changes = -1, rate = 100 },
  sink = { plugin = "file", path = "$T/out/good", fsync = false, flush_interval = 0.2 },
}
LUA
M=$T/m.prom
"$SLUICE" run --metrics-file "$M" jobs 2>log &
PID=$!
PIDS+=("$PID")
expect "bad job: first failure logged with tenant and cause" \
    wait_for 10 grep -q "tenant=bad job failed: source/generator: simulated failure at open.*restarting in 1\." log
expect "bad job: second retry waits about 2 s" wait_for 10 grep -q "tenant=bad job failed.*restarting in 2\." log
# Backoff doubles; up to 25 % jitter is added (4 s can print as 5.0).
expect "bad job: third retry waits about 4 s" wait_for 10 grep -qE "tenant=bad job failed.*restarting in (4\.|5\.0)" log
expect "crashy job fails mid-stream and restarts" wait_for 10 grep -q "tenant=crashy job failed: source/generator: simulated failure after 20 polls" log
g1=$(metric "$M" sluice_job_rows_in_total good)
sleep 1.5
g2=$(metric "$M" sluice_job_rows_in_total good)
expect "good tenant keeps going ($g1 -> $g2)" [ "$g2" -gt "$g1" ]
expect "good tenant never restarted" [ "$(metric "$M" sluice_job_restarts_total good)" = "0" ]
expect "good tenant has no failures" bash -c "! grep -q 'tenant=good job failed' '$T/log'"
kill -TERM "$PID"
wait "$PID"
rc=$?
PIDS=()
expect "SIGTERM with a backing-off job still exits 0 (rc=$rc)" [ "$rc" -eq 0 ]
# --once: the bad job gives up after 3 attempts, the good one completes.
cat > jobs/good.lua <<LUA
return {
  tenant = "good",
  source = { plugin = "generator", rows = 500, changes = 20 },
  sink = { plugin = "file", path = "$T/out/good2", fsync = false },
}
LUA
rm jobs/crashy.lua
start=$SECONDS
"$SLUICE" run --once jobs 2>log2
rc=$?
expect "--once with a failing job exits 1 (rc=$rc)" [ "$rc" -eq 1 ]
expect "bad job gave up after 3 attempts" grep -q "tenant=bad job failed: .*giving up after 3 attempts" log2
expect "good job output complete" grep -q '"position_text": "gen:20"' out/good2/_sluice/manifest.json
expect "--once gives up within 15 s" [ $((SECONDS - start)) -lt 15 ]
# Unreachable sink directory: clear error naming tenant and path.
cat > jobs/bad.lua <<LUA
return {
  tenant = "nosink",
  source = { plugin = "generator", rows = 5 },
  sink = { plugin = "file", path = "/proc/forbidden/dir" },
}
LUA
"$SLUICE" run --once jobs/bad.lua 2>log3
expect "unwritable sink exits 1" [ $? -eq 1 ]
expect "unwritable sink error names tenant, plugin and path" grep -q "tenant=nosink job failed: sink/file: directory /proc/forbidden/dir is not writable" log3
finish
