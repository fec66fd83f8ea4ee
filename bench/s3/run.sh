#!/bin/sh
# S3 sink upload benchmark: 1 MB, 64 MB and 512 MB objects into a local s3rver, through the
# plugin (via the SigV4 gate and directly to s3rver) and with curl --aws-sigv4 (same file, same
# server, same run). Results go to stdout as a table (MB = 10^6 bytes).
#
#   bench/s3/run.sh [BUILD_DIR] [REPEATS]
#
# The plugin runs with its defaults (part_size 8 MiB, parallel_parts 4) unless a row says
# otherwise. curl needs the payload hash header (it does not add x-amz-content-sha256 itself),
# so its time includes sha256sum of the file.
# BUILD_DIR defaults to build-bench (configured here as RelWithDebInfo if absent). Needs node
# (tests/node deps are installed by scripts/s3.sh), curl, cc and libcrypto headers.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build-bench}
REPS=${2:-3}
WORK=$(mktemp -d /tmp/sluice-s3-bench.XXXXXX)
trap '"$ROOT/scripts/s3.sh" stop "$WORK/srv" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT INT TERM

if [ ! -f "$BUILD/plugins/sl-sink-s3.so" ] || [ ! -f "$BUILD/lib/libsluice-testhost.so" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSL_TESTS=OFF >/dev/null
    cmake --build "$BUILD" -j2 --target sl-sink-s3 sluice_testhost >/dev/null
fi
cc -O2 -std=c17 -D_GNU_SOURCE -I"$ROOT/core/include" -I"$ROOT/testhost/include" -I"$ROOT/tests/lib" \
    -I"$ROOT/tests/s3" -o "$WORK/s3_bench" "$ROOT/bench/s3/s3_bench.c" \
    -L"$BUILD/lib" -Wl,-rpath,"$BUILD/lib" -lsluice-testhost -lcrypto

"$ROOT/scripts/s3.sh" start "$WORK/srv"
. "$WORK/srv/s3.env"
export S3_TEST_DIR="$WORK/srv" SL_SOURCE_DIR="$ROOT" SL_BUILD_DIR="$BUILD"

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -m), $(nproc) cores, curl $(curl --version | head -1 | cut -d' ' -f2), node $(node --version), repeats $REPS (median shown)"
printf '%-7s %-44s %10s %9s\n' size method seconds MB/s

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for mb in 1 64 512; do
    f="$WORK/obj-$mb"
    head -c $((mb * 1000 * 1000)) /dev/urandom >"$f"
    want=$(sha256sum "$f" | cut -d' ' -f1)
    bytes=$((mb * 1000 * 1000))

    run_plugin() { # label endpoint [option=value...]
        label=$1
        ep=$2
        shift 2
        : >"$WORK/t"
        i=0
        while [ $i -lt "$REPS" ]; do
            "$WORK/s3_bench" "$f" "bench/$mb.bin" endpoint="$ep" "$@" | awk '{print $2}' >>"$WORK/t"
            i=$((i + 1))
        done
        got=$(node "$ROOT/tests/node/s3check.js" --env "$WORK/srv/s3.env" sha256 "bench/$mb.bin" | cut -d' ' -f1)
        [ "$got" = "$want" ] || { echo "checksum mismatch for $label" >&2; exit 1; }
        t=$(median <"$WORK/t")
        printf '%-7s %-44s %10.3f %9.1f\n' "${mb}MB" "$label" "$t" "$(echo "$bytes / $t / 1000000" | bc -l)"
    }
    run_curl() { # label endpoint
        : >"$WORK/t"
        i=0
        while [ $i -lt "$REPS" ]; do
            # curl 7.88 does not add x-amz-content-sha256 itself; hashing the file is part of
            # what it costs, so it is inside the timing.
            s=$(date +%s.%N)
            h=$(sha256sum "$f" | cut -d' ' -f1)
            code=$(curl -s -o "$WORK/curl.out" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
                --user "$S3_ACCESS_KEY_ID:$S3_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: $h" \
                -T "$f" "$2/$S3_BUCKET/bench/curl-$mb.bin")
            e=$(date +%s.%N)
            [ "$code" = 200 ] || { echo "curl via $1: HTTP $code $(cat "$WORK/curl.out")" >&2; return 0; }
            echo "$e - $s" | bc -l >>"$WORK/t"
            i=$((i + 1))
        done
        got=$(node "$ROOT/tests/node/s3check.js" --env "$WORK/srv/s3.env" sha256 "bench/curl-$mb.bin" | cut -d' ' -f1)
        [ "$got" = "$want" ] || { echo "checksum mismatch for $1" >&2; exit 1; }
        t=$(median <"$WORK/t")
        printf '%-7s %-44s %10.3f %9.1f\n' "${mb}MB" "$1" "$t" "$(echo "$bytes / $t / 1000000" | bc -l)"
    }
    run_plugin "plugin -> gate -> s3rver" "$S3_ENDPOINT"
    run_plugin "plugin -> s3rver" "$S3_DIRECT_ENDPOINT"
    run_plugin "plugin -> s3rver (32 MiB parts, 2 parallel)" "$S3_DIRECT_ENDPOINT" part_size=33554432 parallel_parts=2
    run_curl "curl --aws-sigv4 -T -> s3rver" "$S3_DIRECT_ENDPOINT"
    run_curl "curl --aws-sigv4 -T -> gate -> s3rver" "$S3_ENDPOINT"
    rm -f "$f"
done
