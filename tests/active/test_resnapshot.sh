#!/bin/bash
# A new snapshot replaces recovered state (rows deleted meanwhile disappear): snapshot = "always",
# and a lost replication slot with resnapshot_on_slot_loss = true. Without that option a lost slot
# is one clear error and the job does not pretend to continue.
. "$(dirname "$0")/lib.sh"
new_db active_resnap
psql -q -c "CREATE TABLE t (id int PRIMARY KEY, v text)" -c "INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 100) i"
Q="SELECT * FROM t ORDER BY id"
job() { # name snapshot resnap
    cat >"$T/$1.lua" <<LUA
return {
  tenant = "$1",
  source = { plugin = "postgres", conninfo = "$DB_CONNINFO", tables = { "t" }, snapshot = "$2",
             resnapshot_on_slot_loss = $3 },
  sink = { plugin = "file", path = "$T/$1", flush_interval = 0.2 },
}
LUA
}
same() { pg_csv "$Q" >"$T/want.csv"; file_qvd_csv "$T/$1/t.qvd" >"$T/got.csv"; same_csv "$T/got.csv" "$T/want.csv"; }
job always always false
"$SLUICE" run --once "$T/always.lua" 2>>"$T/log"
expect "snapshot always: first run equals SELECT" same always
psql -q -c "DELETE FROM t WHERE id <= 10" -c "UPDATE t SET v = 'changed' WHERE id = 50"
"$SLUICE" run --once "$T/always.lua" 2>>"$T/log"
expect "snapshot always: second run drops rows deleted meanwhile" same always
expect "snapshot always: logged the replacement" grep -q "a new snapshot replaces the 100 recovered rows" "$T/log"
job lost initial true
"$SLUICE" run --once "$T/lost.lua" 2>>"$T/log"
expect "slot loss: first run equals SELECT" same lost
psql -q -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'sluice_lost_%'" >/dev/null
psql -q -c "DELETE FROM t WHERE id = 20" -c "INSERT INTO t VALUES (1000, 'new')"
"$SLUICE" run --once "$T/lost.lua" 2>>"$T/log"
expect "slot loss + resnapshot_on_slot_loss: run exits 0" [ $? -eq 0 ]
expect "slot loss + resnapshot_on_slot_loss: equals SELECT again" same lost
job strict initial false
"$SLUICE" run --once "$T/strict.lua" 2>>"$T/log"
psql -q -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'sluice_strict_%'" >/dev/null
"$SLUICE" run --once "$T/strict.lua" 2>"$T/strict.log"
expect "slot loss without the option: exit 1" [ $? -eq 1 ]
expect "slot loss without the option: clear error" grep -q "tenant=strict job failed: source/postgres: postgres: replication slot sluice_strict_[0-9a-f]\{8\} is missing" "$T/strict.log"
finish
