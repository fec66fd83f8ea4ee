#!/bin/bash
# The sluice binary with the s3 sink on s3rver behind the SigV4 gate: a generator job runs --once
# into the bucket, a second run recovers from the bucket (manifest + QVDs read back through the
# sink) and resumes, and the tables equal those of the same job written by the file sink.
set -u
T=$(mktemp -d /tmp/sluice-s3-e2e.XXXXXX)
FAILS=0
trap 'if [ $FAILS -eq 0 ]; then rm -rf "$T"; else echo "kept $T"; fi' EXIT
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
expect() { local d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }

[ -f "$S3_TEST_DIR/s3.env" ] || { echo "skipped: no test S3 server"; exit 77; }
. "$S3_TEST_DIR/s3.env"
check() { node "$SL_SOURCE_DIR/tests/node/s3check.js" --env "$S3_TEST_DIR/s3.env" "$@"; }
cd "$T"

job() { # file changes sink-table
    cat >"$1" <<LUA
return {
  tenant = "s3e2e",
  source = { plugin = "generator", tables = 2, rows = 3000, changes = $2, changes_per_txn = 7 },
  sink = $3,
}
LUA
}
S3SINK="{ plugin = \"s3\", endpoint = \"$S3_ENDPOINT\", region = \"$S3_REGION\", bucket = \"$S3_BUCKET\",
    prefix = \"e2e/\", access_key_id = \"$S3_ACCESS_KEY_ID\", secret_access_key = \"$S3_SECRET_ACCESS_KEY\",
    path_style = true, flush_interval = 0.05, changes = true }"
job a.lua 40 "$S3SINK"
"$SLUICE" run --once a.lua 2>log1
expect "first run exits 0" [ $? -eq 0 ]
expect "manifest in the bucket" check get e2e/_sluice/manifest.json m1.json
expect "manifest names position gen:40" grep -q '"position_text": "gen:40"' m1.json
job a.lua 150 "$S3SINK"
"$SLUICE" run --once a.lua 2>log2
expect "second run exits 0" [ $? -eq 0 ]
expect "second run recovered from the bucket" grep -q "recovered flush" log2
expect "second run resumed after 40" grep -q "resuming after change transaction 40" log2
job b.lua 150 "{ plugin = \"file\", path = \"$T/out\", fsync = false, flush_interval = 0.05 }"
"$SLUICE" run --once b.lua 2>log3
expect "file-sink run exits 0" [ $? -eq 0 ]
for t in items_1 items_2; do
    expect "$t.qvd in the bucket" check get "e2e/$t.qvd" "$t.qvd"
    "$SLUICE" qvd cat "$t.qvd" --format csv >s3.csv
    "$SLUICE" qvd cat "out/$t.qvd" --format csv >file.csv
    expect "$t: s3 run (resumed) equals file run" cmp -s s3.csv file.csv
    expect "$t: has rows" [ "$(wc -l <s3.csv)" -gt 3000 ]
done
n=$(check count e2e/_changes/items_1/)
expect "change files in the bucket ($n)" [ "${n:-0}" -ge 1 ]
expect "no request was refused by the gate" [ "$(grep -vc '"verdict":"ok"' "$S3_TEST_DIR/gate.log")" -le 1 ]
echo "$FAILS failed"
[ $FAILS -eq 0 ]
