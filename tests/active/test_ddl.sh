#!/bin/bash
# DDL while streaming (issue 9.1): for every kind of schema change pgoutput reveals, while a
# writer keeps updating this table and another one, the table's QVD ends up equal to SELECT *
# (defaults filled in without WAL rows, renamed/retyped columns, new keys and a renamed table
# included), each change is logged once with its reason, the other table is never re-read, and
# the result survives a restart.
. "$(dirname "$0")/lib.sh"
new_db active_ddl
psql -q <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, k int NOT NULL UNIQUE, w int NOT NULL DEFAULT 0, v int, s text);
INSERT INTO t SELECT i, i + 1000, 0, i * 3, 's' || i FROM generate_series(1, 60) i;
CREATE TABLE o (id int PRIMARY KEY, v int);
INSERT INTO o SELECT i, i FROM generate_series(1, 40) i;
CREATE TABLE big (id int PRIMARY KEY, v int);
INSERT INTO big SELECT i, i FROM generate_series(1, 200000) i;
SQL
cat >"$T/ddl.lua" <<LUA
return {
  tenant = "ddl",
  source = { plugin = "postgres", conninfo = "$DB_CONNINFO", tables = { "t*", "o", "big" } },
  sink = { plugin = "file", path = "$T/out", flush_interval = 0.2 },
}
LUA
echo t >"$T/wtable"
# The writer: small transactions on both tables until told to stop; pauses on request.
writer() {
    while [ ! -f "$T/wstop" ]; do
        if [ -f "$T/wpause" ]; then
            touch "$T/wpaused"
            sleep 0.05
            continue
        fi
        rm -f "$T/wpaused"
        psql -q -c "UPDATE $(cat "$T/wtable") SET w = w + 1 WHERE id IN ($((RANDOM % 60 + 1)), $((RANDOM % 60 + 1)))" \
            -c "UPDATE o SET v = v + 1 WHERE id = $((RANDOM % 40 + 1))" >/dev/null 2>&1
        sleep 0.03
    done
}
pause_writer() { touch "$T/wpause"; wait_for 10 test -f "$T/wpaused"; }
resume_writer() { rm -f "$T/wpause" "$T/wpaused"; }
start_sluice() {
    "$SLUICE" run "$T/ddl.lua" 2>>"$T/log" &
    PID=$!
    PIDS+=("$PID")
}
matches() { file_qvd_csv "$T/out/$1.qvd" >"$T/got.csv" && cmp -s "$T/got.csv" "$T/want.csv"; }
# converged LABEL TABLE: the QVD equals SELECT * (30 s at most)
converged() {
    pg_csv "SELECT * FROM $2 ORDER BY id" >"$T/want.csv"
    if wait_for 30 matches "$2"; then
        ok "$1: $2.qvd equals SELECT * ($(($(wc -l <"$T/want.csv") - 1)) rows)"
    else
        bad "$1: $2.qvd differs from SELECT *"
        same_csv "$T/got.csv" "$T/want.csv"
    fi
}
rereads() { grep -c "re-reading table public.$1 " "$T/log"; }
start_sluice
converged "snapshot" t
converged "snapshot" o
writer &
WPID=$!
PIDS+=("$WPID")
step() { # label table-now sql
    local before
    before=$(rereads "$2")
    psql -q -c "$3" || bad "$1: DDL failed"
    sleep 1.5 # the writer keeps changing the table: pgoutput reveals the new shape
    pause_writer
    converged "$1" "$2"
    converged "$1 (other table)" o
    local n=$(($(rereads "$2") - before))
    expect "$1: one info line with the reason ($n)" [ "$n" -eq 1 ]
    resume_writer
}
step "ADD COLUMN constant DEFAULT" t "ALTER TABLE t ADD COLUMN c1 numeric DEFAULT 1.5"
step "ADD COLUMN volatile DEFAULT random()" t "ALTER TABLE t ADD COLUMN c2 int DEFAULT (random() * 1000)::int"
step "ADD COLUMN volatile DEFAULT clock_timestamp()" t "ALTER TABLE t ADD COLUMN c3 text DEFAULT clock_timestamp()::text"
step "ADD COLUMN without DEFAULT" t "ALTER TABLE t ADD COLUMN c4 int"
step "DROP COLUMN" t "ALTER TABLE t DROP COLUMN c4"
step "RENAME COLUMN" t "ALTER TABLE t RENAME COLUMN s TO s2"
step "ALTER COLUMN TYPE" t "ALTER TABLE t ALTER COLUMN c1 TYPE text, ALTER COLUMN v TYPE bigint"
step "primary key change" t "ALTER TABLE t DROP CONSTRAINT t_pkey, ADD PRIMARY KEY (k)"
step "replica identity change" t "CREATE UNIQUE INDEX t_id ON t (id); ALTER TABLE t REPLICA IDENTITY USING INDEX t_id"
echo t2 >"$T/wtable"
step "RENAME TABLE" t2 "ALTER TABLE t RENAME TO t2"
expect "RENAME TABLE: the old name left the job" grep -q "table public.t is no longer selected" "$T/log"
expect "RENAME TABLE: the manifest no longer lists t.qvd" eval '! grep -q "\"t.qvd\"" "$T/out/_sluice/manifest.json"'
expect "the other table was never re-read" [ "$(rereads o)" -eq 0 ]
expect "the other table was snapshotted once" [ "$(grep -c "snapshot of public.o done" "$T/log")" -eq 1 ]
# Restart: the files are recovered, nothing is re-read, changes continue.
pause_writer
kill -TERM "$PID"
wait "$PID"
expect "graceful stop exits 0" [ $? -eq 0 ]
n_before=$(grep -c "re-reading table" "$T/log")
start_sluice
resume_writer
sleep 1
pause_writer
converged "after restart" t2
converged "after restart" o
expect "no re-read after the restart" [ "$(grep -c "re-reading table" "$T/log")" -eq "$n_before" ]
# DDL while the job is stopped: the file's shape (kept in the manifest) tells the change.
kill -TERM "$PID"
wait "$PID"
psql -q -c "ALTER TABLE t2 ADD COLUMN c5 int DEFAULT 7"
start_sluice
resume_writer
sleep 1.5
pause_writer
converged "DDL while stopped" t2
expect "DDL while stopped: re-read with the reason" grep -q "re-reading table public.t2 (its shape differs from the one in its file)" "$T/log"
expect "the manifest keeps the tables' shapes" grep -q '"source_state": "reread/1 ' "$T/out/_sluice/manifest.json"
# kill -9 while a re-read is under way (a 200,000-row table): after the restart the table is
# re-read again (from the pending mark in the manifest, or because its shape differs).
resume_writer
psql -q -c "ALTER TABLE big ADD COLUMN x int DEFAULT 5" -c "UPDATE big SET v = -1 WHERE id = 1"
wait_for 20 grep -q "re-reading table public.big" "$T/log"
kill -9 "$PID"
wait "$PID" 2>/dev/null
n_big=$(grep -c "re-reading table public.big" "$T/log")
start_sluice
sleep 2
pause_writer
converged "kill -9 during a re-read" big
converged "kill -9 during a re-read" t2
converged "kill -9 during a re-read" o
grep "re-read" "$T/log" | tail -4 | cut -c1-200
touch "$T/wstop"
wait "$WPID"
kill -TERM "$PID"
wait "$PID"
finish
