#!/usr/bin/env bash
# Commit-to-durable latency at a steady 1,000 changes/s: PostgreSQL 15 -> sluice -> S3 (s3rver
# behind the SigV4 gate), flush_interval = 1. pgbench drives single-row UPDATE transactions at a
# fixed rate; sluice records, for every source commit, the time from the commit (server
# timestamp) to the moment the manifest naming it is durable in the bucket, and prints p50/p99.
# Baseline in the same run: pgbench's own transaction latency.
#   bench/latency/run.sh [SECONDS] [RATE] [FLUSH_INTERVAL]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
rate=${2:-1000}
interval=${3:-1}
D=$(mktemp -d /tmp/sluice-bench-lat.XXXXXX)
chmod 755 "$D" # the server runs as user postgres
"$here/scripts/pg.sh" start "$D/pg" >/dev/null
"$here/scripts/s3.sh" start "$D/s3" >/dev/null
cleanup() {
    [[ -n "${SPID:-}" ]] && kill -9 "$SPID" 2>/dev/null || true
    "$here/scripts/pg.sh" stop "$D/pg" >/dev/null 2>&1 || true
    "$here/scripts/s3.sh" stop "$D/s3" >/dev/null 2>&1 || true
    rm -rf "$D"
}
trap cleanup EXIT
. "$D/pg/pg.env"
. "$D/s3/s3.env"
psql -q -c "CREATE TABLE acct (id int PRIMARY KEY, balance bigint NOT NULL, note text)" \
     -c "INSERT INTO acct SELECT i, 0, 'account ' || i FROM generate_series(1, 10000) i"
cat >"$D/job.lua" <<LUA
return {
  tenant = "bench",
  source = { plugin = "postgres", conninfo = "$SL_PG_CONNINFO", tables = { "acct" } },
  sink = { plugin = "s3", endpoint = "$S3_ENDPOINT", region = "$S3_REGION", bucket = "$S3_BUCKET",
           access_key_id = "$S3_ACCESS_KEY_ID", secret_access_key = "$S3_SECRET_ACCESS_KEY",
           path_style = true, flush_interval = $interval },
}
LUA
printf '\\set id random(1, 10000)\nUPDATE acct SET balance = balance + 1 WHERE id = :id;\n' >"$D/upd.sql"
"$here/build/sluice" run --metrics-file "$D/m.prom" "$D/job.lua" 2>"$D/sluice.log" &
SPID=$!
for _ in $(seq 1 100); do grep -q "streaming from slot" "$D/sluice.log" && break; sleep 0.1; done
sleep 2
echo "pgbench: $rate tx/s for ${secs}s (one UPDATE per transaction), flush_interval = $interval"
pgbench -n -f "$D/upd.sql" -R "$rate" -c 4 -j 2 -T "$secs" 2>&1 | grep -E "^(latency average|tps|number of transactions actually)" | sed 's/^/  pgbench: /'
sleep $((2 + ${interval%.*}))
kill -TERM "$SPID"
wait "$SPID" || true
SPID=
grep -o "commit-to-durable latency over.*" "$D/sluice.log" | sed 's/^/  sluice: /'
echo "  machine: $(nproc) cores, $(uname -r)"
