#!/bin/bash
# Change files (changes = true) hold every committed change exactly once across SIGKILLs, hanging
# S3 PUTs and restarts: a writer updates rows and logs each committed update; sluice is killed
# with -9 at random moments, half of them while a change-file PUT hangs (fault proxy). At the
# end the change files, read in key order (deduplicated only by name), equal the writer's log:
# nothing missing, nothing twice, and per row in commit order.
. "$(dirname "$0")/lib.sh"
ROUNDS=${SL_CHANGE_ROUNDS:-14}
new_db active_changes
psql -q <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL);
INSERT INTO t SELECT i, 0 FROM generate_series(1, 40) i;
SQL
# Every PUT of a change file hangs 0.7 s in the proxy (and is dropped if its client is gone).
GATE_PORT=${S3_ENDPOINT##*:}
PROXY_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
node "$NODE_DIR/fault-proxy.js" --listen "$PROXY_PORT" --upstream "$GATE_PORT" --fail 1000000 \
    --mode slow --slow-ms 700 --method PUT --match '_changes' --log "$T/proxy.log" \
    >"$T/proxy.out" 2>&1 &
PIDS+=("$!")
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PROXY_PORT" || bad "fault proxy started"
cat >"$T/job.lua" <<LUA
return {
  tenant = "changes",
  source = { plugin = "postgres", conninfo = "$DB_CONNINFO", tables = { "t" } },
  sink = { plugin = "s3", endpoint = "http://127.0.0.1:$PROXY_PORT", region = "$S3_REGION",
           bucket = "$S3_BUCKET", prefix = "changes/", access_key_id = "$S3_ACCESS_KEY_ID",
           secret_access_key = "$S3_SECRET_ACCESS_KEY", path_style = true,
           flush_interval = 0.2, changes = true },
}
LUA
manifest_there() { node "$NODE_DIR/s3check.js" --env "$S3ENV" absent changes/_sluice/manifest.json >/dev/null 2>&1; [ $? -eq 1 ]; }
# The snapshot first (its rows are no changes), then the writer starts.
"$SLUICE" run "$T/job.lua" 2>>"$T/log" &
pid=$!
wait_for 30 manifest_there || bad "first manifest written"
kill -9 "$pid"
wait "$pid" 2>/dev/null
# The writer: one psql session, about 50 autocommitted updates a second; psql prints each
# RETURNING row once its statement has committed, so writer.log is the log of committed changes.
(
    while [ ! -e "$T/stop" ]; do
        echo "UPDATE t SET v = v + 1 WHERE id = $((RANDOM % 40 + 1)) RETURNING id, v;"
        sleep 0.02
    done
) | psql -qAt >"$T/writer.log" 2>"$T/writer.err" &
WRITER=$!
PIDS+=("$WRITER")
hung=0
for i in $(seq 1 "$ROUNDS"); do
    "$SLUICE" run "$T/job.lua" 2>"$T/round.log" &
    pid=$!
    if ((i % 2)); then
        # 0.5 .. 4 s: at start-up, during the replay, or after some change files became durable
        sleep "$(awk -v r=$RANDOM 'BEGIN{printf "%.3f", 0.5 + (r % 3500) / 1000}')"
    else
        # while a change-file PUT hangs: the proxy has it and has not forwarded it yet
        n0=$(grep -c '"fault":"slow"' "$T/proxy.log" 2>/dev/null)
        if wait_for 15 bash -c "[ \$(grep -c '\"fault\":\"slow\"' '$T/proxy.log') -gt ${n0:-0} ]"; then
            sleep 0.2
            hung=$((hung + 1))
        fi
    fi
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    cat "$T/round.log" >>"$T/log"
done
touch "$T/stop"
wait "$WRITER"
updates=$(wc -l <"$T/writer.log")
echo "$updates committed updates, $ROUNDS kills ($hung during a hanging change-file PUT)"
dropped=$(grep -c '"dropped":true' "$T/proxy.log")
echo "$dropped change-file PUTs never reached S3 (their process was killed while they hung)"
# A clean run catches up with everything the writer committed and stops with a final flush.
"$SLUICE" run --once "$T/job.lua" 2>>"$T/log"
expect "final run exits 0" [ $? -eq 0 ]
pg_csv "SELECT * FROM t ORDER BY id" >"$T/want.csv"
s3_qvd_csv changes/t.qvd >"$T/got.csv"
expect "the table QVD equals SELECT" same_csv "$T/got.csv" "$T/want.csv"
# Every change file, in key order, rows as id,v,op (one file per name: a name is never counted twice).
mkdir -p "$T/ch"
node "$NODE_DIR/s3check.js" --env "$S3ENV" fetch changes/_changes/t/ "$T/ch" >"$T/keys"
: >"$T/changes.csv"
while read -r k; do
    "$SLUICE" qvd cat "$T/ch/${k##*/}" --format csv | tail -n +2 | cut -d, -f1-3 | tr -d '\r' >>"$T/changes.csv"
done <"$T/keys"
files=$(wc -l <"$T/keys")
expect "several change files were written ($files)" [ "$files" -gt 3 ]
expect "some kills hit a hanging change-file PUT ($dropped)" [ "$dropped" -gt 0 ]
expect "every change file row is an update" bash -c "! grep -v ',update$' '$T/changes.csv'"
cut -d, -f1-2 "$T/changes.csv" | sort >"$T/have"
tr '|' ',' <"$T/writer.log" | sort >"$T/want"
missing=$(comm -13 "$T/have" "$T/want" | wc -l)
extra=$(comm -23 "$T/have" "$T/want" | wc -l)
dups=$(uniq -d "$T/have" | wc -l)
expect "no committed update missing from the change files ($missing of $updates)" [ "$missing" -eq 0 ]
expect "no change recorded that was not committed ($extra)" [ "$extra" -eq 0 ]
expect "no change recorded twice ($dups)" [ "$dups" -eq 0 ]
# key order = commit order: per row, v counts up by one from 1
expect "per row, key order is commit order" awk -F, '{ if ($2 != last[$1] + 1) bad = 1; last[$1] = $2 } END { exit bad }' "$T/changes.csv"
finish
