#!/bin/bash
# The manifest's source_state is the source's state at the manifest's own position, although
# the flush thread writes the manifest while the source keeps committing (and setting its state)
# behind it: the state is copied when the flush is handed off. The generator's state_hook sets
# the state to each commit's position; with a slow sink every manifest must carry the two equal.
. "$(dirname "$0")/lib.sh"
cd "$T"
mkdir jobs
cat > jobs/st.lua <<LUA
return {
  tenant = "st",
  source = { plugin = "generator", rows = 1000, columns = { "int64" },
             changes = -1, changes_per_txn = 2, rate = 200, state_hook = true },
  sink = { plugin = "file", path = "$T/out", fsync = false, delay_ms = 400 },
  flush_interval = 0.2, flush_max_changes = 50,
}
LUA
"$SLUICE" run jobs 2>log &
PID=$!
PIDS+=("$PID")
bad=0
seen=0
check() {
    local m pos st
    m=$(cat out/_sluice/manifest.json 2>/dev/null) || return 1
    pos=$(echo "$m" | grep -o '"position_text": "gen:[0-9]*"' | grep -o 'gen:[0-9]*')
    st=$(echo "$m" | grep -o '"source_state": "gen:[0-9]*"' | grep -o 'gen:[0-9]*')
    [ -n "$pos" ] && [ -n "$st" ] || return 1
    seen=$((seen + 1))
    if [ "$pos" != "$st" ]; then
        echo "  manifest at $pos carries source_state $st"
        bad=$((bad + 1))
    fi
}
for _ in $(seq 1 40); do
    check
    sleep 0.15
done
kill -TERM "$PID"
wait "$PID"
rc=$?
PIDS=()
check
expect "clean stop (rc=$rc)" [ "$rc" -eq 0 ]
expect "manifests with a source_state were read ($seen)" [ "$seen" -ge 10 ]
expect "every manifest's source_state is the state at its position ($bad differ)" [ "$bad" -eq 0 ]
finish
