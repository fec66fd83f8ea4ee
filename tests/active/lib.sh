# Helpers for the active-QVD tests (on top of tests/e2e/lib.sh).
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
: "${SL_SVC:?run through ctest (needs the active_svc fixture)}"
. "$SL_SVC/pg/pg.env"
S3ENV=$SL_SVC/s3/s3.env
. "$S3ENV"
NODE_DIR=$SL_SOURCE_DIR/tests/node
export PGCONNECT_TIMEOUT=5
# A fresh database per test.
new_db() {
    psql -q -d postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null 2>&1
    psql -q -d postgres -c "CREATE DATABASE $1" >/dev/null
    export PGDATABASE=$1
    DB_CONNINFO="host=$PGHOST port=$PGPORT user=$PGUSER dbname=$1"
}
# s3_qvd_csv KEY -> CSV of the object's rows on stdout (empty output when absent)
s3_qvd_csv() {
    local f=$T/dl.$$.$RANDOM.qvd
    timeout 30 node "$NODE_DIR/s3get.js" --env "$S3ENV" "$1" "$f" 2>/dev/null || return 1
    "$SLUICE" qvd cat "$f" --format csv
    rm -f "$f"
}
file_qvd_csv() { "$SLUICE" qvd cat "$1" --format csv 2>/dev/null; }
# pg_csv "SELECT ... ORDER BY key" -> the same CSV shape as `sluice qvd cat --format csv`
pg_csv() { psql -qAt -c "COPY ($1) TO STDOUT WITH (FORMAT csv, HEADER)" | sed 's/$/\r/'; }
# same_csv A B: equal, or print the first differences
same_csv() {
    if cmp -s "$1" "$2"; then return 0; fi
    diff "$1" "$2" | head -6 | cut -c1-200 >&2
    return 1
}
