#!/bin/bash
# A table added to `tables` on SIGHUP (issue 10.3): only that table is read (TRUNCATE + SNAPSHOT
# in the stream, from a temporary slot's snapshot) while the others resume streaming from the
# manifest without a new snapshot; a table removed from `tables` leaves the manifest. A writer
# keeps changing every table throughout; all QVDs end equal to SELECT *.
. "$(dirname "$0")/lib.sh"
new_db active_addtab
psql -q <<'SQL'
CREATE TABLE t1 (id int PRIMARY KEY, v int NOT NULL DEFAULT 0);
CREATE TABLE t2 (id int PRIMARY KEY, v int NOT NULL DEFAULT 0);
CREATE TABLE t3 (id int PRIMARY KEY, v int NOT NULL DEFAULT 0, s text);
INSERT INTO t1 SELECT i, 0 FROM generate_series(1, 50) i;
INSERT INTO t2 SELECT i, 0 FROM generate_series(1, 50) i;
INSERT INTO t3 SELECT i, 0, md5(i::text) FROM generate_series(1, 100000) i;
SQL
mkdir -p "$T/jobs"
job() { # tables...
    local list=""
    for t in "$@"; do list="$list\"$t\", "; done
    cat >"$T/jobs/add.lua.tmp" <<LUA
return {
  tenant = "addtab",
  source = { plugin = "postgres", conninfo = "$DB_CONNINFO", tables = { $list } },
  sink = { plugin = "file", path = "$T/out", flush_interval = 0.2 },
}
LUA
    mv "$T/jobs/add.lua.tmp" "$T/jobs/add.lua"
}
writer() {
    while [ ! -f "$T/wstop" ]; do
        if [ -f "$T/wpause" ]; then
            touch "$T/wpaused"
            sleep 0.05
            continue
        fi
        rm -f "$T/wpaused"
        psql -q -c "UPDATE t1 SET v = v + 1 WHERE id = $((RANDOM % 50 + 1))" \
            -c "UPDATE t2 SET v = v + 1 WHERE id = $((RANDOM % 50 + 1))" \
            -c "UPDATE t3 SET v = v + 1 WHERE id IN ($((RANDOM % 1000 + 1)), $((RANDOM * 3 + 1)))" \
            -c "DELETE FROM t3 WHERE id = $((RANDOM * 3 + 2))" \
            -c "INSERT INTO t3 VALUES ($((RANDOM + 200000)), 1, 'new') ON CONFLICT DO NOTHING" >/dev/null 2>&1
        sleep 0.03
    done
}
pause_writer() { touch "$T/wpause"; wait_for 10 test -f "$T/wpaused"; }
resume_writer() { rm -f "$T/wpause" "$T/wpaused"; }
matches() { file_qvd_csv "$T/out/$1.qvd" >"$T/got.csv" && cmp -s "$T/got.csv" "$T/want.csv"; }
converged() { # LABEL TABLE
    pg_csv "SELECT * FROM $2 ORDER BY id" >"$T/want.csv"
    if wait_for 30 matches "$2"; then
        ok "$1: $2.qvd equals SELECT * ($(($(wc -l <"$T/want.csv") - 1)) rows)"
    else
        bad "$1: $2.qvd differs from SELECT *"
        same_csv "$T/got.csv" "$T/want.csv"
    fi
}
count() { grep -c "$1" "$T/log"; }
job t1 t2
"$SLUICE" run "$T/jobs" 2>>"$T/log" &
PID=$!
PIDS+=("$PID")
converged "start" t1
converged "start" t2
writer &
WPID=$!
PIDS+=("$WPID")
sleep 1
job t1 t2 t3
kill -HUP "$PID"
sleep 2
pause_writer
converged "t3 added on SIGHUP" t3
converged "t3 added on SIGHUP" t1
converged "t3 added on SIGHUP" t2
expect "t3 read once in the stream, with the reason" [ "$(count "re-reading table public.t3 (added to the job)")" -eq 1 ]
expect "t1 and t2 were snapshotted once (at the start) and never re-read" \
    [ "$(count "snapshot of public.t1 done")" -eq 1 -a "$(count "snapshot of public.t2 done")" -eq 1 -a "$(count "re-reading table public.t[12]")" -eq 0 ]
expect "the job resumed streaming from the manifest" [ "$(count "streaming from slot sluice_addtab")" -eq 2 ]
resume_writer
sleep 1
pause_writer
converged "streaming after the re-read" t3
converged "streaming after the re-read" t1
resume_writer
job t1 t3
kill -HUP "$PID"
sleep 2
pause_writer
converged "t2 removed on SIGHUP" t1
converged "t2 removed on SIGHUP" t3
expect "t2 left the job" grep -q "table public.t2 is no longer selected" "$T/log"
expect "the manifest no longer lists t2.qvd" eval '! grep -q "\"t2.qvd\"" "$T/out/_sluice/manifest.json"'
expect "no table was read again" [ "$(count "re-reading table")" -eq 1 -a "$(count "snapshot of public")" -eq 2 ]
touch "$T/wstop"
wait "$WPID"
kill -TERM "$PID"
wait "$PID"
expect "graceful stop exits 0" [ $? -eq 0 ]
finish
