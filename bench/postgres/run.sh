#!/usr/bin/env bash
# Snapshot throughput of the postgres source vs psql COPY ... TO STDOUT > /dev/null, same table,
# same throwaway server (scripts/pg.sh), same run.
#   bench/postgres/run.sh [ROWS]          (default 1000000; BUILD=dir to reuse a Release build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROWS=${1:-1000000}
BUILD=${BUILD:-$ROOT/build-bench}
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSL_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j2 --target sl-source-postgres sluice_testhost >/dev/null
cc -O2 -std=c17 -D_GNU_SOURCE -I"$ROOT/core/include" -I"$ROOT/testhost/include" \
    "$ROOT/bench/postgres/pg_bench.c" -o "$BUILD/pg_bench" \
    -L"$BUILD/lib" -Wl,-rpath,"$BUILD/lib" -lsluice-testhost
D=$(mktemp -d /tmp/sl-pgbench.XXXXXX)
trap '"$ROOT/scripts/pg.sh" stop "$D" >/dev/null; rm -rf "$D"' EXIT
"$ROOT/scripts/pg.sh" start "$D" >/dev/null
. "$D/pg.env"
psql -q -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE bt (id int8 PRIMARY KEY, qty int4, price numeric(12,2), ratio float8, ok bool,
                 name text, day date, at timestamptz, note varchar(40));
INSERT INTO bt SELECT g, g % 1000, (g % 100000) / 100.0, g / 7.0, g % 2 = 0,
       'customer ' || g, date '2020-01-01' + (g % 2000),
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1 second', md5(g::text)
  FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE bt;
SQL
size=$(psql -Atc "SELECT pg_size_pretty(pg_table_size('bt'))")
echo "table bt: $ROWS rows, $size; $(nproc) cores; PostgreSQL $(psql -Atc 'SHOW server_version')"
for i in 1 2 3; do
    s=$(date +%s.%N)
    psql -Atc "COPY bt TO STDOUT" >/dev/null
    e=$(date +%s.%N)
    awk -v s="$s" -v e="$e" -v n="$ROWS" -v i="$i" 'BEGIN {
        printf "psql COPY bt TO STDOUT > /dev/null: run %d: %.3fs (%.0f rows/s)\n", i, e - s, n / (e - s) }' 
done
for i in 1 2 3; do
    s=$(date +%s.%N)
    psql -Atc "COPY bt TO STDOUT (FORMAT binary)" >/dev/null
    e=$(date +%s.%N)
    awk -v s="$s" -v e="$e" -v n="$ROWS" -v i="$i" 'BEGIN {
        printf "psql COPY bt TO STDOUT (FORMAT binary) > /dev/null: run %d: %.3fs (%.0f rows/s)\n", i, e - s, n / (e - s) }'
done
for i in 1 2 3; do
    echo "sl-source-postgres snapshot: run $i: $("$BUILD/pg_bench" "$BUILD/plugins/sl-source-postgres.so" "$SL_PG_CONNINFO" bt)"
done

# Change stream: one ROWS-row INSERT transaction (streamed in protocol 2 blocks) and 20000
# one-row transactions, made after the slots exist. Baseline: pg_recvlogical reading the same
# changes with pgoutput (same options) from a second slot into /dev/null, i.e. the server's
# decoding and sending alone.
psql -q -c "CREATE TABLE ct (LIKE bt INCLUDING ALL)"
"$BUILD/pg_bench" "$BUILD/plugins/sl-source-postgres.so" "$SL_PG_CONNINFO" ct never keep >/dev/null
psql -q -c "SELECT 1 FROM pg_create_logical_replication_slot('recv_baseline', 'pgoutput')" >/dev/null
psql -q <<SQL
INSERT INTO ct SELECT * FROM bt;
CREATE PROCEDURE small_txns(n int) LANGUAGE plpgsql AS \$\$
BEGIN
  FOR i IN 1..n LOOP
    UPDATE ct SET qty = qty + 1 WHERE id = i;
    COMMIT;
  END LOOP;
END \$\$;
CALL small_txns(20000);
SQL
end=$(psql -Atc "SELECT pg_current_wal_insert_lsn()")
s=$(date +%s.%N)
"${SL_PG_BIN:-/usr/lib/postgresql/15/bin}/pg_recvlogical" -d "$SL_PG_CONNINFO" -S recv_baseline \
    --start -o proto_version=2 -o streaming=on -o publication_names=sluice_bench -E "$end" \
    -f /dev/null --no-loop
e=$(date +%s.%N)
awk -v s="$s" -v e="$e" -v n=$((ROWS + 20000)) 'BEGIN {
    printf "pg_recvlogical (pgoutput, same changes) > /dev/null: %.3fs (%.0f rows/s)\n", e - s, n / (e - s) }'
echo "sl-source-postgres stream of the same changes: $("$BUILD/pg_bench" "$BUILD/plugins/sl-source-postgres.so" "$SL_PG_CONNINFO" ct never)"
