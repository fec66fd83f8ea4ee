#!/bin/bash
# A stalled connection is noticed (issue 9 item 5): a TCP proxy between sluice and PostgreSQL
# freezes (the path stays open, nothing is delivered). Within receive_timeout the source drops
# the connection with one log line naming the tenant and reconnects with backoff;
# sluice_job_lag_seconds grows while nothing arrives (and stays small while the idle source is
# healthy); after the thaw the QVD catches up and equals the table.
. "$(dirname "$0")/lib.sh"
new_db active_stall
psql -q -c "CREATE TABLE s (id int PRIMARY KEY, v int)" \
     -c "INSERT INTO s SELECT g, g FROM generate_series(1, 100) g"
node "$NODE_DIR/tcp-freeze-proxy.js" --upstream "$PGPORT" --port-file "$T/proxy.port" &
PROXY=$!
PIDS+=("$PROXY")
wait_for 10 test -s "$T/proxy.port" || { bad "proxy started"; finish; }
PROXYPORT=$(cat "$T/proxy.port")
cat >"$T/j.lua" <<LUA
return {
  tenant = "stall",
  source = { plugin = "postgres", conninfo = "host=127.0.0.1 port=$PROXYPORT user=$PGUSER dbname=active_stall",
             tables = { "s" }, heartbeat_interval = 1, receive_timeout = 3 },
  sink = { plugin = "file", path = "$T/out", flush_interval = 0.2 },
}
LUA
"$SLUICE" run "$T/j.lua" --metrics-file "$T/metrics" 2>"$T/log" &
PID=$!
PIDS+=("$PID")
lag() { metric "$T/metrics" sluice_job_lag_seconds stall; }
lag_below() { local l; l=$(lag); [ -n "$l" ] && awk -v l="$l" -v b="$1" 'BEGIN { exit !(l < b) }'; }
rows_equal() {
    "$SLUICE" qvd cat "$T/out/s.qvd" --format csv >"$T/got.csv" 2>/dev/null &&
        pg_csv "SELECT id, v FROM s ORDER BY id" >"$T/want.csv" && cmp -s "$T/got.csv" "$T/want.csv"
}
expect "streaming" wait_for 30 grep -q "streaming from slot" "$T/log"
psql -q -c "UPDATE s SET v = v + 1 WHERE id <= 10"
expect "changes arrive through the proxy" wait_for 15 rows_equal
sleep 3
expect "an idle, healthy source shows a small lag ($(lag) s)" lag_below 2.5

kill -USR1 "$PROXY"
frozen_at=$SECONDS
psql -q -c "UPDATE s SET v = v + 100 WHERE id > 90"
stalled() { grep -q "tenant=stall .*nothing received from the server for .* (receive_timeout)" "$T/log"; }
expect "the stall is noticed within receive_timeout (3 s) + 2 s, one line naming the tenant" wait_for 5 stalled
echo "     noticed after $((SECONDS - frozen_at)) s: $(grep -m1 "nothing received" "$T/log" | cut -c1-220)"
l1=$(lag)
sleep 2
l2=$(lag)
grows() { awk -v a="$l1" -v b="$l2" 'BEGIN { exit !(b > a + 1.5 && b > 3) }'; }
expect "sluice_job_lag_seconds grows while nothing arrives ($l1 -> $l2)" grows

kill -USR2 "$PROXY"
expect "after the thaw the QVD catches up and equals the table" wait_for 60 rows_equal
expect "the lag is small again" wait_for 10 lag_below 2.5
kill -TERM "$PID"
wait "$PID"
RC=$?
PIDS=("$PROXY")
expect "clean stop (exit $RC)" test "$RC" = 0
finish
