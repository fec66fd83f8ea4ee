#!/bin/bash
# While the selected tables are quiet, traffic on other tables must not pin WAL forever: the
# slot's confirmed_flush_lsn moves past that traffic (keepalive -> empty commit -> manifest-only
# flush -> durable -> standby status).
. "$(dirname "$0")/lib.sh"
new_db active_quiet
psql -q -c "CREATE TABLE quiet (id int PRIMARY KEY)" -c "CREATE TABLE busy (id int PRIMARY KEY, v int)" \
     -c "INSERT INTO busy VALUES (1, 0)"
cat >"$T/q.lua" <<LUA
return {
  tenant = "quiet",
  source = { plugin = "postgres", conninfo = "$DB_CONNINFO", tables = { "quiet" }, heartbeat_interval = 1 },
  sink = { plugin = "file", path = "$T/out", flush_interval = 0.2 },
}
LUA
"$SLUICE" run "$T/q.lua" 2>"$T/log" &
PID=$!
PIDS+=("$PID")
expect "streaming" wait_for 20 grep -q "streaming from slot" "$T/log"
expect "the empty table still gets its QVD" wait_for 10 test -s "$T/out/quiet.qvd"
for i in $(seq 1 200); do echo "UPDATE busy SET v = v + 1;"; done | psql -q
target=$(psql -qAt -c "SELECT pg_current_wal_lsn()")
moved() {
    [ "$(psql -qAt -c "SELECT confirmed_flush_lsn >= '$target'::pg_lsn FROM pg_replication_slots WHERE slot_name LIKE 'sluice_quiet_%'")" = t ]
}
expect "confirmed_flush_lsn passes the other table's traffic ($target) within 30 s" wait_for 30 moved
kill -TERM "$PID"; wait "$PID"; PIDS=()
finish
