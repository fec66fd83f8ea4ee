#!/bin/bash
# The postgres source never breaks the application or resumes with a gap, with the real binary
# (issue 9, items 2, 4, 11): keyless tables with the default `tables` stay out of the publication
# (the application's UPDATE/DELETE keep working, while and after sluice runs); tenants "acme-eu"
# and "acme.eu" in one process get their own slots and both replicate; a slot dropped and
# re-created under load between two runs is an error naming both positions, or a new snapshot
# with resnapshot_on_slot_loss; a misspelt table is an error with FILE:LINE.
. "$(dirname "$0")/lib.sh"
new_db active_pgsafe
psql -q -c "CREATE TABLE t (id int PRIMARY KEY, v text)" -c "CREATE TABLE np (a int, b text)" \
     -c "INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 200) i" \
     -c "INSERT INTO np SELECT i, 'x' FROM generate_series(1, 10) i"
Q="SELECT * FROM t ORDER BY id"
same() {
    local n=${1//\//_}
    pg_csv "$Q" >"$T/want.$n.csv"; file_qvd_csv "$T/$1/t.qvd" >"$T/got.$n.csv"; same_csv "$T/got.$n.csv" "$T/want.$n.csv"
}
job() { # file tenant extra-source-options
    cat >"$T/$1.lua" <<LUA
return {
  tenant = "$2",
  flush_interval = 0.2,
  source = { plugin = "postgres", conninfo = "$DB_CONNINFO"$3 },
  sink = { plugin = "file", path = "$T/$1" },
}
LUA
}
app_ok() { psql -q -c "$1" >>"$T/app.log" 2>&1; }

# --- item 2: keyless table, default tables, two tenants that sanitise alike (item 4) ---
mkdir -p "$T/jobs"
job jobs/eu1 acme-eu ""
job jobs/eu2 acme.eu ""
"$SLUICE" run "$T/jobs" 2>"$T/run.log" &
PID=$!
PIDS+=("$PID")
expect "both tenants stream" wait_for 30 bash -c "[ \$(grep -c 'streaming from slot' '$T/run.log') -ge 2 ]"
expect "keyless table left out with the fix named" grep -q "left out, no primary key or replica identity.*public.np.*ALTER TABLE public.np REPLICA IDENTITY FULL" "$T/run.log"
expect "application UPDATE on the keyless table works while sluice runs" app_ok "UPDATE np SET b = 'y' WHERE a = 1"
expect "application DELETE on the keyless table works while sluice runs" app_ok "DELETE FROM np WHERE a = 2"
psql -q -c "UPDATE t SET v = 'changed' WHERE id <= 20" -c "DELETE FROM t WHERE id > 190" -c "INSERT INTO t VALUES (500, 'new')"
expect "tenant acme-eu: QVD equals the table" wait_for 30 same jobs/eu1
expect "tenant acme.eu: QVD equals the table" wait_for 30 same jobs/eu2
expect "no QVD for the keyless table" [ ! -e "$T/jobs/eu1/np.qvd" ]
slots=$(psql -qAt -c "SELECT count(DISTINCT slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'sluice_acme_eu_%' AND database = 'active_pgsafe'")
expect "two tenants, two slots ($slots)" [ "$slots" = 2 ]
kill -TERM "$PID"
wait "$PID"
rc=$?
PIDS=()
expect "SIGTERM: exit 0 ($rc)" [ "$rc" -eq 0 ]
expect "application UPDATE/DELETE on the keyless table work after sluice stopped" app_ok "UPDATE np SET b = 'z'; DELETE FROM np WHERE a = 3"

# --- item 4: slot dropped and re-created under load between two runs ---
job gap gap ", tables = { \"t\" }"
"$SLUICE" run --once "$T/gap.lua" 2>>"$T/gap.log"
expect "gap: first run equals the table" same gap
slot=$(psql -qAt -c "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'sluice_gap_%'")
(for i in $(seq 1 300); do echo "UPDATE t SET v = 'load$i' WHERE id = $((i % 150 + 1));"; done | psql -q) &
LOAD=$!
sleep 0.3
psql -q -c "SELECT pg_drop_replication_slot('$slot')" >/dev/null
sleep 0.3
psql -q -c "SELECT pg_create_logical_replication_slot('$slot', 'pgoutput')" >/dev/null
wait "$LOAD"
"$SLUICE" run --once "$T/gap.lua" 2>"$T/gap2.log"
expect "gap: the run fails (exit 1)" [ $? -eq 1 ]
expect "gap: one error naming tenant, slot and both positions" grep -qE "tenant=gap job failed: source/postgres: postgres: replication slot $slot is confirmed up to [0-9A-F]+/[0-9A-F]+ but the durable position is lsn=[0-9A-F]+/[0-9A-F]+" "$T/gap2.log"
job gap gap ", tables = { \"t\" }, resnapshot_on_slot_loss = true"
"$SLUICE" run --once "$T/gap.lua" 2>"$T/gap3.log"
expect "gap + resnapshot_on_slot_loss: exit 0" [ $? -eq 0 ]
expect "gap + resnapshot_on_slot_loss: QVD equals the table again" same gap

# --- item 11: a misspelt table is an error with FILE:LINE ---
job missing missing ",
             tables = { \"t\", \"nosuch\" }"
"$SLUICE" run --once "$T/missing.lua" 2>"$T/missing.log"
expect "missing table: exit 1" [ $? -eq 1 ]
expect "missing table: FILE:LINE and the name" grep -q "source/postgres: $T/missing.lua:5: postgres: option tables names public.nosuch, which is not a table" "$T/missing.log"

# --- item 11: sluice check --connect opens the source (probe), changing nothing ---
before=$(psql -qAt -c "SELECT (SELECT count(*) FROM pg_replication_slots) || '/' || (SELECT count(*) FROM pg_publication)")
job probe_ok probeok ", tables = { \"t\", \"np\" }"
"$SLUICE" check --connect "$T/probe_ok.lua" >"$T/probe_ok.out" 2>&1
expect "check --connect: reachable source, exit 0" [ $? -eq 0 ]
expect "check --connect: the keyless table reported" grep -q "left out, no primary key or replica identity.*public.np" "$T/probe_ok.out"
cat >"$T/probe_user.lua" <<LUA
return {
  tenant = "probeuser",
  source = { plugin = "postgres", conninfo = "$DB_CONNINFO user=sluice_no_such_user", tables = { "t" } },
  sink = { plugin = "file", path = "$T/probe_user" },
}
LUA
"$SLUICE" check --connect "$T/probe_user.lua" >"$T/probe_user.out" 2>&1
expect "check --connect: wrong user, exit 1" [ $? -eq 1 ]
expect "check --connect: wrong user, one line with file, tenant and cause" grep -q "probe_user.lua.*probeuser.*sluice_no_such_user" "$T/probe_user.out"
job probe_missing probemissing ",
             tables = { \"t\", \"nosuch\" }"
"$SLUICE" check --connect "$T/probe_missing.lua" >"$T/probe_missing.out" 2>&1
expect "check --connect: missing table, exit 1" [ $? -eq 1 ]
expect "check --connect: missing table with FILE:LINE" grep -q "probe_missing.lua:5: tenant probemissing: source \"postgres\": postgres: option tables names public.nosuch" "$T/probe_missing.out"
after=$(psql -qAt -c "SELECT (SELECT count(*) FROM pg_replication_slots) || '/' || (SELECT count(*) FROM pg_publication)")
expect "check --connect created no slot and no publication ($before -> $after)" [ "$before" = "$after" ]
finish
