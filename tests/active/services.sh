#!/bin/bash
# Starts/stops the PostgreSQL and S3 servers the active-QVD tests share (throwaway dirs, by PID).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
cmd=$1
dir=$2
if [ "$cmd" = start ]; then
    "$src/scripts/pg.sh" stop "$dir/pg" >/dev/null 2>&1 || true
    "$src/scripts/s3.sh" stop "$dir/s3" >/dev/null 2>&1 || true
    rm -rf "$dir"
    mkdir -p "$dir"
    "$src/scripts/pg.sh" start "$dir/pg"
    "$src/scripts/s3.sh" start "$dir/s3"
else
    "$src/scripts/pg.sh" stop "$dir/pg" || true
    "$src/scripts/s3.sh" stop "$dir/s3" || true
fi
