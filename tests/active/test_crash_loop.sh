#!/bin/bash
# SIGKILL at random moments (during the snapshot, during streaming, during uploads) under a steady
# pgbench write load, each followed by a restart; at the end the QVDs in S3 equal the source
# tables exactly: no lost row, no duplicate, no stale value. Rounds: SL_CRASH_ROUNDS (default 20).
. "$(dirname "$0")/lib.sh"
ROUNDS=${SL_CRASH_ROUNDS:-20}
new_db active_crash
psql -q <<'SQL'
CREATE TABLE items (id bigint PRIMARY KEY, v int, t text, n numeric(12,2), ts timestamptz(0), big text);
CREATE TABLE events (k int, note text);               -- no key: full-row identity
ALTER TABLE events REPLICA IDENTITY FULL;
INSERT INTO items SELECT i, i, 'r' || i, i * 0.25, TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '1 second',
                         CASE WHEN i % 1000 = 0 THEN (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 200)) END
FROM generate_series(1, 150000) i;
INSERT INTO events SELECT i % 50, 'seed' || (i % 7) FROM generate_series(1, 300) i;
SQL
cat >"$T/load.sql" <<'SQL'
\set id random(1, 160000)
\set op random(1, 10)
\if :op <= 2
DELETE FROM items WHERE id = :id;
\elif :op <= 4
INSERT INTO events VALUES (:id % 50, 'e' || (:id % 13));
\elif :op = 5
DELETE FROM events WHERE ctid = (SELECT ctid FROM events WHERE k = :id % 50 LIMIT 1);
\elif :op = 6
UPDATE items SET v = v + 1 WHERE id = :id;
\else
INSERT INTO items (id, v, t, n, ts) VALUES (:id, :op, 't' || :id, :id * 0.5, TIMESTAMPTZ '2025-01-01 00:00:00+00' + :id * INTERVAL '1 second')
  ON CONFLICT (id) DO UPDATE SET v = items.v + 1, t = 'u' || :op;
\endif
SQL
cat >"$T/job.lua" <<LUA
return {
  tenant = "crash",
  source = { plugin = "postgres", conninfo = "$DB_CONNINFO", tables = { "items", "events" } },
  sink = { plugin = "s3", endpoint = "$S3_ENDPOINT", region = "$S3_REGION", bucket = "$S3_BUCKET",
           prefix = "crash/", access_key_id = "$S3_ACCESS_KEY_ID",
           secret_access_key = "$S3_SECRET_ACCESS_KEY", path_style = true, flush_interval = 0.2 },
}
LUA
before=$(psql -qAt -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
pgbench -n -f "$T/load.sql" -R 300 -c 2 -T 3600 >"$T/pgbench.log" 2>&1 &
LOAD=$!
PIDS+=("$LOAD")
for i in $(seq 1 "$ROUNDS"); do
    "$SLUICE" run "$T/job.lua" 2>>"$T/log" &
    pid=$!
    # 0.1 .. 2.6 s: the first rounds die inside the snapshot (150k rows), later ones while
    # streaming or uploading.
    sleep "$(awk -v r=$RANDOM 'BEGIN{printf "%.3f", 0.1 + (r % 2500) / 1000}')"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
done
kill "$LOAD" 2>/dev/null
wait "$LOAD" 2>/dev/null
PIDS=()
after=$(psql -qAt -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
echo "load: $((after - before)) commits during the kills; $(grep -c "recovered flush" "$T/log") restarts recovered from the bucket, $(grep -c "newer than the manifest" "$T/log") found a file newer than the manifest"
expect "the write load really ran ($((after - before)) commits)" [ $((after - before)) -gt $((ROUNDS * 150)) ]
"$SLUICE" run --once "$T/job.lua" 2>>"$T/log"
expect "final catch-up run exits 0" [ $? -eq 0 ]
pg_csv "SELECT id, v, t, n, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS ts, big FROM items ORDER BY id" >"$T/want_items.csv"
s3_qvd_csv crash/items.qvd >"$T/got_items.csv"
expect "items: QVD equals SELECT after $ROUNDS kills ($(($(wc -l <"$T/want_items.csv") - 1)) rows)" same_csv "$T/got_items.csv" "$T/want_items.csv"
pg_csv "SELECT k, note FROM events ORDER BY k, note COLLATE \"C\"" >"$T/want_events.csv"
s3_qvd_csv crash/events.qvd >"$T/got_events.csv"
expect "events (no key): QVD equals SELECT ($(($(wc -l <"$T/want_events.csv") - 1)) rows)" same_csv "$T/got_events.csv" "$T/want_events.csv"
expect "some kills happened after a durable flush" grep -q "recovered flush" "$T/log"
finish
