#!/bin/bash
# PostgreSQL -> active QVDs in S3 (and in a local directory, a second tenant on the same
# database): snapshot, then rounds of inserts, updates (TOASTed column unchanged), deletes, a key
# change, ADD/DROP COLUMN, TRUNCATE; after each round the QVDs read back equal SELECT ... ORDER BY
# the key. Then a graceful stop, a restart that recovers from the bucket, and one more change.
. "$(dirname "$0")/lib.sh"
new_db active_stream
psql -q <<'SQL'
CREATE TABLE items (id bigint PRIMARY KEY, v int, t text, n numeric(12,2), ts timestamptz, d date, big text);
CREATE TABLE other (k text PRIMARY KEY, amount double precision);
INSERT INTO items
SELECT i, i * 3, 'row ' || i, i * 1.25, TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '61 seconds',
       DATE '2024-01-01' + i, CASE WHEN i % 50 = 0 THEN (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 200)) END
FROM generate_series(1, 500) i;
INSERT INTO other VALUES ('a', 1.5), ('b', NULL);
SQL
ITEMS_Q="SELECT id, v, t, n, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS ts, d, big FROM items ORDER BY id"
OTHER_Q="SELECT * FROM other ORDER BY k"
cat >"$T/s3job.lua" <<LUA
return {
  tenant = "stream_s3",
  source = { plugin = "postgres", conninfo = "$DB_CONNINFO", tables = { "items", "other" } },
  sink = { plugin = "s3", endpoint = "$S3_ENDPOINT", region = "$S3_REGION", bucket = "$S3_BUCKET",
           prefix = "stream/", access_key_id = "$S3_ACCESS_KEY_ID",
           secret_access_key = "$S3_SECRET_ACCESS_KEY", path_style = true, flush_interval = 0.3 },
}
LUA
cat >"$T/filejob.lua" <<LUA
return {
  tenant = "stream_file",
  source = { plugin = "postgres", conninfo = "$DB_CONNINFO", tables = { "public.*" } },
  sink = { plugin = "file", path = "$T/files", flush_interval = 0.3, changes = true },
}
LUA
"$SLUICE" check "$T/s3job.lua" "$T/filejob.lua" >/dev/null || bad "jobs valid"
start_sluice() {
    "$SLUICE" run --metrics-file "$T/m.prom" "$T/s3job.lua" "$T/filejob.lua" 2>>"$T/log" &
    PID=$!
    PIDS+=("$PID")
}
# converged LABEL QUERY S3KEY FILEPATH: wait until both sinks equal the query (15 s at most)
converged() {
    local label=$1 q=$2 key=$3 file=$4
    pg_csv "$q" >"$T/want.csv"
    local end=$((SECONDS + 15)) okay_s3=0 okay_file=0
    while [ $SECONDS -lt $end ]; do
        [ $okay_s3 = 1 ] || { s3_qvd_csv "$key" >"$T/s3.csv" 2>/dev/null && cmp -s "$T/s3.csv" "$T/want.csv" && okay_s3=1; }
        [ $okay_file = 1 ] || { file_qvd_csv "$file" >"$T/file.csv" && cmp -s "$T/file.csv" "$T/want.csv" && okay_file=1; }
        [ $okay_s3 = 1 ] && [ $okay_file = 1 ] && break
        sleep 0.3
    done
    if [ $okay_s3 = 1 ]; then ok "$label: S3 QVD equals SELECT ($(($(wc -l <"$T/want.csv") - 1)) rows)"; else bad "$label: S3 QVD differs"; same_csv "$T/s3.csv" "$T/want.csv"; fi
    if [ $okay_file = 1 ]; then ok "$label: file QVD equals SELECT"; else bad "$label: file QVD differs"; same_csv "$T/file.csv" "$T/want.csv"; fi
}
start_sluice
converged "snapshot items" "$ITEMS_Q" stream/items.qvd "$T/files/items.qvd"
converged "snapshot other" "$OTHER_Q" stream/other.qvd "$T/files/other.qvd"
# Round A: separate transactions and a multi-statement one; TOASTed 'big' untouched by updates.
psql -q -c "INSERT INTO items (id, v, t) VALUES (501, 1, 'new')"
psql -q -c "UPDATE items SET v = v + 1000 WHERE id % 50 = 0"
psql -q -c "DELETE FROM items WHERE id BETWEEN 10 AND 19"
psql -q -c "BEGIN; UPDATE items SET t = 'changed' WHERE id = 7; INSERT INTO other VALUES ('c', -2.25); DELETE FROM other WHERE k = 'a'; COMMIT;"
psql -q -c "UPDATE other SET amount = 1e-300 WHERE k = 'b'"
converged "round A (insert/update/delete, TOAST kept)" "$ITEMS_Q" stream/items.qvd "$T/files/items.qvd"
converged "round A other" "$OTHER_Q" stream/other.qvd "$T/files/other.qvd"
# Round B: primary-key change.
psql -q -c "UPDATE items SET id = id + 100000 WHERE id IN (5, 100)"
converged "round B (key change)" "$ITEMS_Q" stream/items.qvd "$T/files/items.qvd"
# Round C: ADD COLUMN mid-stream (old rows NULL).
psql -q -c "ALTER TABLE items ADD COLUMN extra text"
psql -q -c "UPDATE items SET extra = 'x' || id WHERE id % 7 = 0"
ITEMS_Q2="SELECT id, v, t, n, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS ts, d, big, extra FROM items ORDER BY id"
converged "round C (ADD COLUMN)" "$ITEMS_Q2" stream/items.qvd "$T/files/items.qvd"
# Round D: DROP COLUMN.
psql -q -c "ALTER TABLE items DROP COLUMN d"
psql -q -c "UPDATE items SET v = -1 WHERE id = 1"
ITEMS_Q3="SELECT id, v, t, n, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS ts, big, extra FROM items ORDER BY id"
converged "round D (DROP COLUMN)" "$ITEMS_Q3" stream/items.qvd "$T/files/items.qvd"
# Round E: TRUNCATE, then new rows.
psql -q -c "TRUNCATE other"
psql -q -c "INSERT INTO other VALUES ('z', 42)"
converged "round E (TRUNCATE)" "$OTHER_Q" stream/other.qvd "$T/files/other.qvd"
expect "change files written for the file tenant" bash -c "ls '$T/files/_changes/items/' | grep -q qvd"
# Graceful stop, change while stopped, restart: recovery from the sink, no snapshot.
kill -TERM "$PID"; wait "$PID"; rc=$?; PIDS=()
expect "SIGTERM exits 0 (rc=$rc)" [ "$rc" -eq 0 ]
psql -q -c "UPDATE items SET t = 'while stopped' WHERE id = 2"
psql -q -c "DELETE FROM items WHERE id = 3"
start_sluice
converged "after restart" "$ITEMS_Q3" stream/items.qvd "$T/files/items.qvd"
expect "restart recovered from the bucket" grep -q "tenant=stream_s3 recovered flush" "$T/log"
expect "restart did not take a new snapshot" [ "$(grep -c 'tenant=stream_s3 .*snapshot of public.items done' "$T/log")" -eq 1 ]
expect "latency metric present" grep -q 'sluice_table_commit_to_durable_seconds{tenant="stream_s3",table="items"}' "$T/m.prom"
kill -TERM "$PID"; wait "$PID"; PIDS=()
finish
