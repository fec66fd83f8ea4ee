#!/usr/bin/env bash
# Engine throughput: the generator source -> table state -> QVD -> file sink, end to end through
# the sluice binary (run --once), for ROWS rows of id + 10 typed columns. Same-run baselines:
#   - the same job writing CSV instead of QVD (the codec's share),
#   - the same job keeping only the id column (source, batches and table state alone),
#   - dd of as many bytes as the QVD to the same directory (the disk's floor).
#   bench/engine/run.sh [ROWS]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
rows=${1:-1000000}
D=$(mktemp -d /tmp/sluice-bench-engine.XXXXXX)
trap 'rm -rf "$D"' EXIT
S=$here/build/sluice
job() { # name format transforms
    cat >"$D/$1.lua" <<LUA
return { tenant = "$1", source = { plugin = "generator", rows = $rows, batch_rows = 8192 },
         transforms = { $3 },
         sink = { plugin = "file", path = "$D/$1", format = "$2", fsync = false } }
LUA
}
run() { # name -> seconds
    local t0 t1
    t0=$(date +%s.%N)
    "$S" --log-level warn run --once "$D/$1.lua"
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}
job qvd qvd ""
job csv csv ""
job idonly qvd '{ plugin = "select", columns = { "id" } }'
printf "%-34s %9s %12s %10s\n" "run ($rows rows, 11 columns)" "seconds" "rows/s" "MB written"
for name in idonly csv qvd; do
    s=$(run $name)
    mb=$(du -sm "$D/$name" | cut -f1)
    printf "%-34s %9.2f %12.0f %10s\n" "generator -> $name" "$s" "$(echo "$rows / $s" | bc -l)" "$mb"
done
bytes=$(stat -c %s "$D/qvd/items.qvd")
t0=$(date +%s.%N)
dd if=/dev/zero of="$D/dd.bin" bs=1M count=$(((bytes >> 20) + 1)) conv=fsync status=none
t1=$(date +%s.%N)
printf "%-34s %9.2f %12s %10s\n" "baseline: dd same bytes (fsync)" "$(echo "$t1 - $t0" | bc -l)" "-" "$(((bytes >> 20) + 1))"
