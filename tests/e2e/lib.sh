# Shared helpers for the end-to-end tests. Each test makes its own throwaway directory.
set -u
SLUICE=${SLUICE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/sluice}
T=$(mktemp -d /tmp/sluice-e2e.XXXXXX)
FAILS=0
PASSES=0
PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
    if [ "$FAILS" -eq 0 ]; then rm -rf "$T"; else echo "kept $T for inspection"; fi
}
trap cleanup EXIT
ok() { echo "ok   $*"; PASSES=$((PASSES + 1)); }
bad() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
expect() { # description, command...
    local d=$1; shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}
# wait_for SECONDS command...: poll until the command succeeds
wait_for() {
    local limit=$1; shift
    local end=$((SECONDS + limit))
    while [ $SECONDS -lt $end ]; do
        if "$@"; then return 0; fi
        sleep 0.1
    done
    return 1
}
metric() { # file name tenant -> value (empty if absent)
    grep -E "^$2\{tenant=\"$3\"\} " "$1" 2>/dev/null | awk '{print $2}' | head -1
}
finish() {
    echo "$PASSES passed, $FAILS failed"
    [ "$FAILS" -eq 0 ]
    exit $?
}
