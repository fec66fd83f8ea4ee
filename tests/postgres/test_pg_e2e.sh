#!/bin/bash
# End to end with the real engine: `sluice run --once` with the postgres source and the file sink
# (QVD). First run: snapshot; second run: resumes from the sink's manifest and streams the changes
# made in between; the QVD equals SELECT; the slot's confirmed_flush_lsn reaches the manifest's
# position.
set -u
SLUICE=${SLUICE:-$SL_BUILD_DIR/sluice}
[ -f "${SL_PG_ENV:-}" ] || { echo "skipped: PostgreSQL fixture not running (SL_PG_ENV)"; exit 77; }
[ -x "$SLUICE" ] || { echo "skipped: $SLUICE not built"; exit 77; }
. "$SL_PG_ENV"
T=$(mktemp -d /tmp/sl-pg-e2e.XXXXXX)
FAILS=0
trap '[ $FAILS -eq 0 ] && rm -rf "$T" || echo "kept $T"' EXIT
expect() {
    local d=$1; shift
    if "$@"; then echo "ok   $d"; else echo "FAIL $d"; FAILS=$((FAILS + 1)); fi
}
cd "$T"
psql -qX -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<'SQL'
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'sluice_pge2e_%';
DROP TABLE IF EXISTS e2e;
CREATE TABLE e2e (id int PRIMARY KEY, name text, amount numeric(10,2), at timestamptz, d date);
INSERT INTO e2e SELECT g, 'n' || g, g * 1.5, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 hour',
       '2024-01-01'::date + g FROM generate_series(1, 1000) g;
SQL
cat >job.lua <<LUA
return {
  tenant = "pge2e",
  source = { plugin = "postgres", conninfo = "$SL_PG_CONNINFO", tables = "e2e" },
  sink = { plugin = "file", path = "$T/out", fsync = false, flush_interval = 0.05 },
}
LUA
expected() {
    psql -AtX --csv -c "SELECT id, name, amount, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), d
                         FROM e2e ORDER BY id" >want.csv
    "$SLUICE" qvd cat out/e2e.qvd --format csv | tail -n +2 | sort -t, -k1,1n >got.csv
    cmp -s want.csv got.csv || diff want.csv got.csv | head -5
}
"$SLUICE" run --once job.lua 2>log1
expect "first run exits 0" [ $? -eq 0 ]
expect "first run took a snapshot" grep -q "snapshot of public.e2e done" log1
expect "QVD equals the table after the snapshot" expected
psql -qX -c "INSERT INTO e2e VALUES (1001, 'new', 1, '2025-05-05 05:05:05+00', '2020-01-01')" \
    -c "UPDATE e2e SET name = 'upd' WHERE id = 5" -c "DELETE FROM e2e WHERE id = 6" \
    -c "UPDATE e2e SET id = 2000 WHERE id = 7" >/dev/null
"$SLUICE" run --once job.lua 2>log2
expect "second run exits 0" [ $? -eq 0 ]
expect "second run resumed (no snapshot)" bash -c "! grep -q 'snapshot of' log2 && grep -q 'streaming from slot' log2"
expect "QVD equals the table after the changes" expected
pos=$(sed -n 's/.*"position_text": "lsn=\(.*\)".*/\1/p' out/_sluice/manifest.json)
flush=$(psql -AtX -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name LIKE 'sluice_pge2e_%'")
expect "confirmed_flush_lsn ($flush) = manifest position ($pos)" [ -n "$pos" -a "$flush" = "$pos" ]
[ $FAILS -eq 0 ]
