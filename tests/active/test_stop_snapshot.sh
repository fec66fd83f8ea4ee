#!/bin/bash
# Stopping during the initial snapshot of a large table (issue 9 item 3): SIGTERM, and a SIGHUP
# that changes the job, must end the snapshot within 2 s with exit code 0; nothing of the
# abandoned snapshot becomes visible, and the next start (or the reloaded job) snapshots again
# and ends with a QVD equal to the table.
. "$(dirname "$0")/lib.sh"
new_db active_stopsnap
psql -q -c "CREATE TABLE big AS SELECT g AS id, g % 1000 AS v FROM generate_series(1, 2000000) g" \
     -c "ALTER TABLE big ADD PRIMARY KEY (id)"
job() { # tenant flush_interval
    cat >"$T/$1.lua" <<LUA
return {
  tenant = "$1",
  source = { plugin = "postgres", conninfo = "$DB_CONNINFO", tables = { "big" } },
  sink = { plugin = "file", path = "$T/out-$1", flush_interval = $2 },
}
LUA
}
# mid_snapshot LOG: the COPY has started (slot created) and has not finished
mid_snapshot() { grep -q "created replication slot" "$1" && sleep 0.3 && ! grep -q "snapshot of public.big done" "$1"; }
# stopped_within PID SECONDS: the process exits within SECONDS; its exit code in $RC
stopped_within() {
    local end=$((SECONDS + $2 + 1)) t0
    t0=$(date +%s%N)
    while kill -0 "$1" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.05; done
    if kill -0 "$1" 2>/dev/null; then
        ELAPSED=timeout
        return 1
    fi
    wait "$1"
    RC=$?
    ELAPSED=$((($(date +%s%N) - t0) / 1000000))
    [ "$ELAPSED" -le $(($2 * 1000)) ]
}
check_qvd() { # file: equal to the table
    "$SLUICE" qvd cat "$1" --format csv >"$T/got.csv" 2>/dev/null &&
        pg_csv "SELECT id, v FROM big ORDER BY id" >"$T/want.csv" && same_csv "$T/got.csv" "$T/want.csv"
}

# 1. SIGTERM mid-snapshot.
job term 1
"$SLUICE" run "$T/term.lua" 2>"$T/log1" &
PID=$!
PIDS+=("$PID")
expect "the snapshot is under way" wait_for 30 mid_snapshot "$T/log1"
kill -TERM "$PID"
RC=
expect "SIGTERM mid-snapshot: the process exits within 2 s" stopped_within "$PID" 2
echo "     (exit took $ELAPSED ms)"
kill -9 "$PID" 2>/dev/null
PIDS=()
expect "exit code 0 (got $RC)" test "$RC" = 0
expect "no 'did not stop' in the log" bash -c "! grep -q 'did not stop' '$T/log1'"
expect "the abandoned snapshot wrote no QVD" test ! -e "$T/out-term/big.qvd"
expect "and no manifest" test ! -e "$T/out-term/_sluice/manifest.json"
"$SLUICE" run "$T/term.lua" 2>"$T/log2" &
PID=$!
PIDS+=("$PID")
expect "the next start snapshots again" wait_for 60 test -s "$T/out-term/big.qvd"
kill -TERM "$PID"
wait "$PID"
RC=$?
PIDS=()
expect "clean stop after the snapshot (exit $RC)" test "$RC" = 0
expect "the QVD equals the table (2M rows)" check_qvd "$T/out-term/big.qvd"

# 2. SIGHUP with a changed job file mid-snapshot: the old job stops fast, the new one takes over.
job hup 1
"$SLUICE" run "$T/hup.lua" 2>"$T/log3" &
PID=$!
PIDS+=("$PID")
expect "the snapshot is under way" wait_for 30 mid_snapshot "$T/log3"
job hup 2
kill -HUP "$PID"
stop_done() { grep -q "job stopped" "$T/log3"; }
expect "SIGHUP mid-snapshot: the old job stops within 2 s" wait_for 2 stop_done
expect "no 'did not stop' in the log" bash -c "! grep -q 'did not stop' '$T/log3'"
restarted() { [ "$(grep -c 'job started' "$T/log3")" -ge 2 ]; }
expect "the reloaded job starts" wait_for 5 restarted
expect "the reloaded job finishes the snapshot" wait_for 60 test -s "$T/out-hup/big.qvd"
expect "the process is still running" kill -0 "$PID"
kill -TERM "$PID"
wait "$PID"
RC=$?
PIDS=()
expect "clean stop (exit $RC)" test "$RC" = 0
expect "the reloaded job's QVD equals the table" check_qvd "$T/out-hup/big.qvd"
finish
