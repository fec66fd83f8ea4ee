#!/usr/bin/env bash
# The demo (README): installs what is needed, builds, starts a throwaway PostgreSQL 15 and a
# local S3 server on loopback, creates a small sample schema (customers, products, orders), and
# runs one demo tenant replicating it into active QVDs in the S3 bucket and in a local directory.
# While it runs it makes a few changes in the database and shows them arrive in the QVDs.
#   scripts/demo.sh [--keep-running] [DIR]      (DIR defaults to /tmp/sluice-demo)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
keep=0
if [[ "${1:-}" == "--keep-running" ]]; then keep=1; shift; fi
D=${1:-/tmp/sluice-demo}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say "installing dependencies and building"
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# Only what the demo runs; scripts/test.sh builds the rest.
cmake --build build -j"$(nproc)" --target sluice sl-source-postgres sl-sink-s3 sl-sink-file \
    sl-source-generator sl-transform-select >/dev/null
SLUICE=$here/build/sluice

say "starting PostgreSQL 15 (wal_level=logical) and an S3 server on loopback in $D"
"$here/scripts/pg.sh" stop "$D/pg" >/dev/null 2>&1 || true
"$here/scripts/s3.sh" stop "$D/s3" >/dev/null 2>&1 || true
rm -rf "$D"
mkdir -p "$D/jobs"
"$here/scripts/pg.sh" start "$D/pg"
"$here/scripts/s3.sh" start "$D/s3"
. "$D/pg/pg.env"
. "$D/s3/s3.env"
stop_all() {
    [[ -n "${SPID:-}" ]] && kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null || true
    if ((keep == 0)); then
        "$here/scripts/pg.sh" stop "$D/pg" >/dev/null 2>&1 || true
        "$here/scripts/s3.sh" stop "$D/s3" >/dev/null 2>&1 || true
    fi
}
trap stop_all EXIT

say "creating the sample schema (examples/demo/schema.sql)"
psql -q -v ON_ERROR_STOP=1 -f examples/demo/schema.sql 2>&1 | grep -v NOTICE || true
psql -At -c "SELECT 'customers: ' || count(*) FROM customers UNION ALL SELECT 'products: ' || count(*) FROM products UNION ALL SELECT 'orders: ' || count(*) FROM orders"

cat >"$D/jobs/demo.lua" <<LUA
-- The demo tenant: PostgreSQL -> active QVDs in the tenant's S3 bucket.
return {
  tenant = "demo",
  source = source{ plugin = "postgres", conninfo = env("SL_PG_CONNINFO"),
                   tables = { "customers", "products", "orders" } },
  sink = sink{ plugin = "s3", endpoint = env("S3_ENDPOINT"), region = env("S3_REGION"),
               bucket = env("S3_BUCKET"), prefix = "demo/", path_style = true,
               access_key_id = env("S3_ACCESS_KEY_ID"), secret_access_key = env("S3_SECRET_ACCESS_KEY") },
  flush_interval = 1,
}
LUA
cat >"$D/jobs/demo-local.lua" <<LUA
-- The same database into a local directory, with change files.
return {
  tenant = "demo-local",
  source = source{ plugin = "postgres", conninfo = env("SL_PG_CONNINFO"),
                   tables = { "customers", "products", "orders" } },
  sink = sink{ plugin = "file", path = "$D/qvd" },
  flush_interval = 1, changes = true,
}
LUA
export SL_PG_CONNINFO S3_ENDPOINT S3_REGION S3_BUCKET S3_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY
say "checking the job files"
"$SLUICE" check "$D/jobs"

say "running: snapshot, then streaming changes (log: $D/sluice.log)"
"$SLUICE" run --metrics-file "$D/metrics.prom" "$D/jobs" 2>"$D/sluice.log" &
SPID=$!
for _ in $(seq 1 100); do
    [[ -s "$D/qvd/_sluice/manifest.json" ]] &&
        node tests/node/s3get.js --env "$D/s3/s3.env" demo/_sluice/manifest.json "$D/s3-manifest.json" 2>/dev/null && break
    sleep 0.2
done
grep -E "snapshot of|streaming" "$D/sluice.log" | sed 's/^/  /'

say "making changes in the database (examples/demo/changes.sql)"
grep -v '^--' examples/demo/changes.sql | while IFS= read -r stmt; do
    [[ -n "$stmt" ]] || continue
    echo "  $stmt"
    psql -q -c "$stmt"
done
sleep 2.5

say "checking: the QVDs equal the database"
q="COPY (SELECT order_id, customer_id, product_id, quantity, discount, total, status,
  to_char(ordered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS ordered_at, delivery_date, note
  FROM orders ORDER BY order_id) TO STDOUT WITH (FORMAT csv, HEADER)"
psql -qAt -c "$q" | sed -e 's/\.000000,/,/' -e 's/$/\r/' >"$D/orders.db.csv"
"$SLUICE" qvd cat "$D/qvd/orders.qvd" --format csv >"$D/orders.local.csv"
node tests/node/s3get.js --env "$D/s3/s3.env" demo/orders.qvd "$D/orders.s3.qvd"
"$SLUICE" qvd cat "$D/orders.s3.qvd" --format csv >"$D/orders.s3.csv"
if cmp -s "$D/orders.db.csv" "$D/orders.local.csv" && cmp -s "$D/orders.db.csv" "$D/orders.s3.csv"; then
    echo "  orders: the local QVD and the S3 QVD equal SELECT * FROM orders ($(($(wc -l <"$D/orders.db.csv") - 1)) rows)"
else
    echo "  orders: DIFFERENT (see $D/orders.*.csv)"
    exit 1
fi
"$SLUICE" qvd cat "$D/qvd/orders.qvd" --format csv | grep -E '^(999|1000|1001),' | sed 's/^/  /'
grep -E 'sluice_table_(rows|commit_to_durable)' "$D/metrics.prom" | grep demo-local | sed 's/^/  /'

say "done"
cat <<TXT
Active QVDs are in $D/qvd/ (and in the bucket "$S3_BUCKET" under demo/). Look at them with:
  build/sluice qvd info $D/qvd/orders.qvd
  build/sluice qvd cat $D/qvd/customers.qvd --limit 10
  build/sluice qvd cat $D/qvd/orders.qvd --format jsonl --limit 5
  ls $D/qvd/_changes/orders/            # change files, one per flush
  cat $D/qvd/_sluice/manifest.json       # what each flush wrote, at which source position
TXT
if ((keep)); then
    echo "Servers keep running (--keep-running): PostgreSQL $PGHOST:$PGPORT, S3 $S3_ENDPOINT; sluice PID $SPID"
    SPID=
    trap - EXIT
fi
