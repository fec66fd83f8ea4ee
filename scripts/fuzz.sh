#!/usr/bin/env bash
# Runs every libFuzzer target of a -DSL_FUZZ=ON build for N seconds on a scratch copy of its seed
# corpus (tests/fuzz/corpus/<target without fuzz_>). Any crash fails the run.
#   scripts/fuzz.sh BUILD_DIR [SECONDS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: fuzz.sh BUILD_DIR [SECONDS]}
secs=${2:-20}
scratch=$(mktemp -d /tmp/sluice-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
found=0
for bin in "$build"/tests/fuzz/fuzz_*; do
    [[ -x "$bin" && -f "$bin" ]] || continue
    name=$(basename "$bin")
    case "$name" in *seeds*) continue ;; esac
    found=1
    corpus="$scratch/$name"
    mkdir -p "$corpus"
    seeds="$here/tests/fuzz/corpus/${name#fuzz_}"
    [[ -d "$seeds" ]] && cp "$seeds"/* "$corpus"/ 2>/dev/null || true
    echo "fuzz: $name for ${secs}s"
    "$bin" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=0 \
        -artifact_prefix="$scratch/" "$corpus" >"$scratch/$name.log" 2>&1 || {
        tail -40 "$scratch/$name.log"
        echo "fuzz: $name FAILED (artifacts were in $scratch)"
        exit 1
    }
    grep -E '^(Done|#[0-9]+ +DONE)' "$scratch/$name.log" | tail -1 || true
done
((found)) || { echo "fuzz: no targets in $build/tests/fuzz" >&2; exit 1; }
echo "fuzz: ok"
