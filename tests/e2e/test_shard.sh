#!/bin/bash
# --shard i/N: N processes over one job directory run disjoint sets of tenants that together
# cover all of them.
. "$(dirname "$0")/lib.sh"
cd "$T"
mkdir jobs
for t in a b c d e f g h; do
    cat >"jobs/$t.lua" <<LUA
return { tenant = "t_$t", source = { plugin = "generator", rows = 5 },
         sink = { plugin = "file", path = "$T/out/$t", fsync = false } }
LUA
done
"$SLUICE" run --once --shard 0/2 jobs 2>s0.log
expect "shard 0/2 exits 0" [ $? -eq 0 ]
"$SLUICE" run --once --shard 1/2 jobs 2>s1.log
expect "shard 1/2 exits 0" [ $? -eq 0 ]
n0=$(grep -c "job started" s0.log)
n1=$(grep -c "job started" s1.log)
expect "together all 8 tenants ($n0 + $n1)" [ $((n0 + n1)) -eq 8 ]
both=$(cat <(grep -o "tenant=t_[a-h] job started" s0.log) <(grep -o "tenant=t_[a-h] job started" s1.log) | sort | uniq -d | wc -l)
expect "no tenant in both shards" [ "$both" -eq 0 ]
expect "every tenant wrote its table" [ "$(ls out/*/items.qvd | wc -l)" -eq 8 ]
"$SLUICE" run --once --shard 2/2 jobs 2>bad.log
expect "--shard 2/2 is a usage error (exit 2)" [ $? -eq 2 ]
# More shards than tenants: an empty shard is not an error; without --once it waits for SIGHUP.
"$SLUICE" run --once --shard 7/50 jobs/a.lua 2>empty.log
rc=$?
if grep -q "tenant=t_a job started" empty.log; then
    expect "t_a's own shard runs it" [ $rc -eq 0 ]
else
    expect "an empty shard with --once exits 0 (rc=$rc)" [ $rc -eq 0 ]
fi
mkdir empty
"$SLUICE" run empty 2>idle.log &
pid=$!
PIDS+=("$pid")
sleep 1
expect "an empty job directory keeps running (waits for SIGHUP)" kill -0 "$pid"
cp jobs/a.lua empty/
kill -HUP "$pid"
expect "a file added later starts on SIGHUP" wait_for 10 grep -q "tenant=t_a job started" idle.log
kill -TERM "$pid"; wait "$pid"; rc=$?; PIDS=()
expect "then stops cleanly (rc=$rc)" [ $rc -eq 0 ]
finish
