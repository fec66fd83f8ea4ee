#!/bin/bash
# Sink ownership and fencing: a job refuses state of another tenant or another source with one
# clear line, and a job whose manifest was rewritten by another process (a second job writing
# the same location) stops without overwriting it.
. "$(dirname "$0")/lib.sh"
cd "$T"
job() { # file tenant dir seed changes rate
    cat >"$1" <<LUA
return {
  tenant = "$2",
  source = { plugin = "generator", tables = 1, rows = 200, seed = $4, changes = $5,
             changes_per_txn = 3, rate = $6 },
  sink = { plugin = "file", path = "$T/$3", fsync = false, flush_interval = 0.05 },
}
LUA
}
job acme.lua acme shared 1 20 0
"$SLUICE" run --once acme.lua 2>acme.log
expect "acme's first run exits 0" [ $? -eq 0 ]
expect "the manifest names its tenant" grep -q '"tenant": "acme"' shared/_sluice/manifest.json
expect "the manifest names its source identity" grep -q '"source_identity": "[0-9a-f]\{16\}"' shared/_sluice/manifest.json
cp shared/_sluice/manifest.json before.json

# Another tenant pointed at acme's path: refused, naming both tenants and the path.
job globex.lua globex shared 1 20 0
"$SLUICE" run --once globex.lua 2>globex.log
expect "globex on acme's path exits 1" [ $? -eq 1 ]
expect "one line names both tenants and the path" \
    grep -q "path $T/shared holds the state of tenant 'acme' .*not of tenant 'globex'" globex.log
expect "globex did not retry the refusal" [ "$(grep -c "holds the state of tenant" globex.log)" -eq 1 ]
expect "acme's manifest untouched" cmp -s before.json shared/_sluice/manifest.json

# Same tenant, another source (generator seed = another "database"): refused.
job acme2.lua acme shared 2 20 0
"$SLUICE" run --once acme2.lua 2>acme2.log
expect "acme from another source exits 1" [ $? -eq 1 ]
expect "the line says the state comes from another source" \
    grep -q "holds state from another source/generator source" acme2.log
expect "acme's manifest still untouched" cmp -s before.json shared/_sluice/manifest.json
# A tuning option (rate, changes) is not identity: the original job resumes.
job acme.lua acme shared 1 30 0
"$SLUICE" run --once acme.lua 2>acme3.log
expect "acme resumes after a tuning change" [ $? -eq 0 ]

# Fencing, deterministic: while a job runs, another process replaces its manifest (same bytes
# plus a blank, so a new version). The job's next manifest write is refused: the job stops with
# one line naming the tenant and the key, and the other process's manifest stays.
job live.lua live live 1 -1 50
"$SLUICE" run live.lua 2>live.log &
pid=$!
PIDS+=("$pid")
wait_for 10 test -s live/_sluice/manifest.json
sleep 0.3
cp live/_sluice/manifest.json other.json
echo ' ' >>other.json
mv other.json live/_sluice/manifest.json
cp live/_sluice/manifest.json theirs.json
expect "the fenced job stops" wait_for 10 grep -q "job stopped:" live.log
expect "with one line naming the tenant and the manifest key" \
    grep -q "tenant=live job stopped: sink/file: _sluice/manifest.json was changed by another process since this job read or wrote it" live.log
sleep 0.5
expect "it did not retry" [ "$(grep -c "changed by another process" live.log)" -eq 1 ]
expect "the other process's manifest was not overwritten" cmp -s theirs.json live/_sluice/manifest.json
kill -TERM "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

# A late write of a killed predecessor (a manifest built before this run started lands after
# this run read the manifest): not a second writer. The job recovers from it and goes on.
job late.lua late late 1 30 0
"$SLUICE" run --once late.lua 2>/dev/null
cp late/_sluice/manifest.json old.json
echo ' ' >>old.json
job late.lua late late 1 -1 50
"$SLUICE" run late.lua 2>late.log &
pid=$!
PIDS+=("$pid")
wait_for 10 bash -c "! grep -q '\"position_text\": \"gen:30\"' late/_sluice/manifest.json"
cp old.json late/_sluice/m.tmp
mv late/_sluice/m.tmp late/_sluice/manifest.json
expect "the late write is recognised" wait_for 10 grep -q "older than this job's start" late.log
expect "and the job recovers from it" wait_for 10 bash -c "[ \$(grep -c 'recovered flush' late.log) -ge 2 ]"
sleep 1.5
expect "the job was not stopped" bash -c "! grep -q 'job stopped:' late.log"
expect "it writes again after the late manifest" bash -c "! cmp -s old.json late/_sluice/manifest.json"
kill -TERM "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

# Two processes racing on one location (the same job started twice): the one whose manifest
# write meets the other's newer manifest stops for good; the other keeps flushing.
job race.lua race race 1 -1 100
"$SLUICE" run race.lua 2>race1.log &
p1=$!
PIDS+=("$p1")
wait_for 10 test -s race/_sluice/manifest.json
"$SLUICE" run race.lua 2>race2.log &
p2=$!
PIDS+=("$p2")
expect "one of two racing processes stops" wait_for 10 bash -c "grep -q 'job stopped:' race1.log race2.log"
sleep 1
n1=$(grep -c "job stopped: .*changed by another process" race1.log)
n2=$(grep -c "job stopped: .*changed by another process" race2.log)
expect "exactly one of them stopped ($n1 + $n2)" [ $((n1 + n2)) -eq 1 ]
a=$(grep -o '"flush": [0-9]*' race/_sluice/manifest.json | head -1)
sleep 1
b=$(grep -o '"flush": [0-9]*' race/_sluice/manifest.json | head -1)
expect "the survivor keeps flushing ($a -> $b)" [ "$a" != "$b" ]
kill -TERM "$p1" "$p2" 2>/dev/null
wait "$p1" "$p2" 2>/dev/null
finish
