#!/bin/bash
# Binlog streaming of the mysql source against a real MariaDB (built only with the sl_mybinlog
# decoder): `sluice run --once` takes the snapshot of the every-type table, then changes of every
# type (inserts, updates, a key change, deletes, a multi-row transaction, zero dates) are made,
# and a second `--once` run resumes from the manifest's position, streams them to the end of the
# binlog and stops; the QVD equals SELECT value for value (compare_select.py).
. "$(dirname "$0")/lib.sh" stream
cd "$T"
root -e "DROP DATABASE IF EXISTS sl_stream; CREATE DATABASE sl_stream"
root sl_stream <"$HERE/alltypes.sql" || { echo "FAIL loading alltypes.sql"; exit 1; }
cat >job.lua <<LUA
return {
  tenant = "mystream",
  flush_interval = 0.05,
  source = { plugin = "mysql", host = "127.0.0.1", port = $SL_MARIADB_PORT, user = "$SL_MARIADB_USER",
             password = "$SL_MARIADB_PASSWORD", database = "sl_stream", tables = { "alltypes", "other" } },
  sink = { plugin = "file", path = "$T/out", fsync = false },
}
LUA
compare() {
    "$SLUICE" qvd cat out/alltypes.qvd --format csv --null NULL >got.csv
    cdc -B -N sl_stream >want.tsv <<'SQL'
SET time_zone = '+00:00';
SELECT id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, de, de0, CAST(fl AS DOUBLE), db,
       b1 + 0, b12 + 0, b64 + 0, y + 0, d, t, t2, dt, dt6, ts, c, vc, tx, lat, u3, vbin,
       HEX(bn), HEX(vb), HEX(bl), e, st, j, HEX(g), gen
FROM alltypes ORDER BY id;
SQL
    python3 "$HERE/compare_select.py" got.csv want.tsv
}
"$SLUICE" run --once job.lua 2>log1
expect "snapshot run exits 0" [ $? -eq 0 ]
expect "QVD equals SELECT after the snapshot" compare
root sl_stream <<'SQL'
SET SESSION sql_mode = '';
INSERT INTO alltypes (id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, de, de0, fl, db, b1, b12, b64,
  y, d, t, t2, dt, dt6, ts, c, vc, tx, lat, u3, vbin, bn, vb, bl, e, st, j, g)
  SELECT id + 100, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, de, de0, fl, db, b1, b12, b64,
  y, d, t, t2, dt, dt6, ts, c, vc, tx, lat, u3, vbin, bn, vb, bl, e, st, j, g FROM alltypes;
UPDATE alltypes SET vc = 'updated', de = -0.5, t2 = '-00:00:01.01', ts = '2001-02-03 04:05:06.789' WHERE id = 1;
UPDATE alltypes SET id = 1000 WHERE id = 3;
DELETE FROM alltypes WHERE id = 2;
BEGIN;
INSERT INTO alltypes (id, i, vc) VALUES (500, 1, 'txn a');
UPDATE other SET n = 42 WHERE k = 'a';
INSERT INTO alltypes (id, i, vc) VALUES (501, 2, 'txn b');
COMMIT;
SQL
"$SLUICE" run --once job.lua 2>log2
expect "stream run exits 0" [ $? -eq 0 ]
expect "stream run resumed without a snapshot" bash -c "! grep -q 'snapshot of' log2 && grep -q 'streaming the binlog from' log2"
expect "QVD equals SELECT after streaming every type" compare
expect "other.qvd has the multi-table transaction's update" bash -c "'$SLUICE' qvd cat out/other.qvd --format csv | tr -d '\r' | grep -qx 'a,42'"
[ $FAILS -eq 0 ]
