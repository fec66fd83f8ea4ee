#!/usr/bin/env bash
# The one test command (README, .ci/run): install what is needed, build, run every test (unit,
# Lua, ABI, end-to-end, integration against real PostgreSQL / MariaDB / S3 servers), then again
# under AddressSanitizer + UBSan, then a short libFuzzer run of each parser.
#   scripts/test.sh            everything
#   SL_SKIP_ASAN=1 / SL_SKIP_FUZZ=1 / SL_FUZZ_SECONDS=N   to shorten a local run
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
jobs=$(nproc 2>/dev/null || echo 2)

scripts/install-deps.sh
scripts/format.sh --check

echo "== build (RelWithDebInfo, all plugins required)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSL_TESTS=ON -DSL_STRICT_PLUGINS=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
ctest --test-dir build --output-on-failure -j1

if [[ -z "${SL_SKIP_ASAN:-}" ]]; then
    echo "== build and tests under AddressSanitizer + UBSan"
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSL_TESTS=ON -DSL_SANITIZE=ON -DSL_STRICT_PLUGINS=ON >/dev/null
    cmake --build build-asan -j"$jobs"
    # LSAN use_tls=0: Debian 12's GCC 12 LeakSanitizer crashes ("Tracer caught signal 11",
    # "DTLS 5 at 0x...87") scanning the dynamic TLS of dlopen'ed libraries (OpenSSL under libpq
    # and libcurl) with glibc 2.36. Without TLS roots it still reports every leak of ours; the
    # third-party per-thread state that then looks leaked is suppressed in tests/lsan.supp.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        LSAN_OPTIONS="use_tls=0:print_suppressions=0:suppressions=$here/tests/lsan.supp" \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        SL_CRASH_ROUNDS=6 ctest --test-dir build-asan --output-on-failure -j1 -LE bench
fi

if [[ -z "${SL_SKIP_FUZZ:-}" ]]; then
    echo "== fuzz smoke (libFuzzer, ${SL_FUZZ_SECONDS:-20} s per target)"
    CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DSL_FUZZ=ON -DSL_TESTS=OFF >/dev/null
    cmake --build build-fuzz -j"$jobs"
    scripts/fuzz.sh build-fuzz "${SL_FUZZ_SECONDS:-20}"
fi
echo "== all tests passed"
