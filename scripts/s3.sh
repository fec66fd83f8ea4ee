#!/bin/sh
# Test S3 server for the s3 sink: s3rver 3.7.1 (tests/node, pinned by its lock file) on a free
# loopback port, behind the strict SigV4 gate (tests/node/sigv4-gate.js), in a throwaway DIR.
#
#   scripts/s3.sh start DIR          start both; writes DIR/s3.env (S3_ENDPOINT = the gate)
#   scripts/s3.sh stop DIR           stop both (by the PIDs in DIR)
#   scripts/s3.sh bounce DIR SECS    stop both, wait SECS, start both again on the same ports
#                                    with the same data (fault tests)
#   scripts/s3.sh proxy DIR ARGS...  start tests/node/fault-proxy.js in front of the gate with
#                                    ARGS (--fail N --mode ...); prints its port
#   scripts/s3.sh proxy-stop DIR     stop that proxy (stop stops it too)
#   scripts/s3.sh gate DIR ARGS...   start a second gate in front of s3rver with ARGS (e.g.
#                                    --creds AK:SK:TOKEN, or --tls-cert/--tls-key for HTTPS);
#                                    prints its port; stopped by stop
#
# s3.env: S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_REGION, and
# S3_DIRECT_ENDPOINT (s3rver itself, no signature checks).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODE_DIR="$ROOT/tests/node"
BUCKET=etl-test
AK=S3RVER
SK=S3RVER

die() { echo "s3.sh: $*" >&2; exit 1; }

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}

wait_http() { # port
    i=0
    while [ $i -lt 100 ]; do
        if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"; then return 0; fi
        sleep 0.1; i=$((i + 1))
    done
    return 1
}

wait_tcp() { # port
    i=0
    while ! node -e 'const c=require("net").connect(+process.argv[1],"127.0.0.1");c.on("connect",()=>process.exit(0));c.on("error",()=>process.exit(1));' "$1" 2>/dev/null; do
        sleep 0.1; i=$((i + 1)); [ $i -lt 50 ] || return 1
    done
}

deps() {
    command -v node >/dev/null || die "node is not installed"
    if [ ! -d "$NODE_DIR/node_modules/s3rver" ] || [ ! -d "$NODE_DIR/node_modules/@smithy/signature-v4" ]; then
        (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error) >&2 || die "npm ci failed in tests/node"
    fi
}

start_procs() { # dir
    d=$1
    . "$d/ports"
    mkdir -p "$d/data"
    # --openssl-legacy-provider: s3rver's ListObjectsV2 continuation tokens use DES (Node 20).
    node --openssl-legacy-provider "$NODE_DIR/node_modules/s3rver/bin/s3rver.js" -d "$d/data" \
        -a 127.0.0.1 -p "$SERVER_PORT" --no-vhost-buckets --silent --configure-bucket "$BUCKET" \
        >"$d/s3rver.log" 2>&1 &
    echo $! >"$d/s3rver.pid"
    node "$NODE_DIR/sigv4-gate.js" --listen "$GATE_PORT" --upstream "$SERVER_PORT" \
        --creds "$AK:$SK" --log "$d/gate.log" >"$d/gate.out" 2>&1 &
    echo $! >"$d/gate.pid"
    wait_http "$SERVER_PORT" || die "s3rver did not start (see $d/s3rver.log)"
    wait_http "$GATE_PORT" || die "the gate did not start (see $d/gate.out)"
}

stop_pid() { # pidfile
    if [ -f "$1" ]; then
        pid=$(cat "$1")
        if kill "$pid" 2>/dev/null; then
            i=0
            # a zombie has exited (its reaper may be slow): only a live process is waited for
            while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ] &&
                ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do
                sleep 0.05; i=$((i + 1))
            done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$1"
    fi
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: s3.sh start|stop|bounce|proxy DIR [...]"

case "$cmd" in
start)
    deps
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ ! -f "$dir/s3rver.pid" ] || die "$dir already has a running server (stop it first)"
    echo "SERVER_PORT=$(free_port)" >"$dir/ports"
    echo "GATE_PORT=$(free_port)" >>"$dir/ports"
    start_procs "$dir"
    . "$dir/ports"
    cat >"$dir/s3.env" <<ENV
S3_ENDPOINT=http://127.0.0.1:$GATE_PORT
S3_DIRECT_ENDPOINT=http://127.0.0.1:$SERVER_PORT
S3_BUCKET=$BUCKET
S3_ACCESS_KEY_ID=$AK
S3_SECRET_ACCESS_KEY=$SK
S3_REGION=us-east-1
ENV
    ;;
stop)
    [ -d "$dir" ] || exit 0
    stop_pid "$dir/proxy.pid"
    stop_pid "$dir/gate2.pid"
    stop_pid "$dir/gate.pid"
    stop_pid "$dir/s3rver.pid"
    ;;
bounce)
    secs=${3:-1}
    stop_pid "$dir/gate.pid"
    stop_pid "$dir/s3rver.pid"
    sleep "$secs"
    start_procs "$dir"
    ;;
proxy)
    shift 2
    . "$dir/ports"
    port=$(free_port)
    node "$NODE_DIR/fault-proxy.js" --listen "$port" --upstream "$GATE_PORT" --log "$dir/proxy.log" "$@" \
        >"$dir/proxy.out" 2>&1 &
    echo $! >"$dir/proxy.pid"
    wait_http "$port" || die "the fault proxy did not start"
    # the readiness probe itself must not consume a fault: restart the count
    stop_pid "$dir/proxy.pid"
    : >"$dir/proxy.log"
    node "$NODE_DIR/fault-proxy.js" --listen "$port" --upstream "$GATE_PORT" --log "$dir/proxy.log" "$@" \
        >"$dir/proxy.out" 2>&1 &
    echo $! >"$dir/proxy.pid"
    wait_tcp "$port" || die "the fault proxy did not restart"
    echo "$port"
    ;;
proxy-stop)
    stop_pid "$dir/proxy.pid"
    ;;
gate)
    shift 2
    . "$dir/ports"
    port=$(free_port)
    stop_pid "$dir/gate2.pid"
    node "$NODE_DIR/sigv4-gate.js" --listen "$port" --upstream "$SERVER_PORT" --log "$dir/gate2.log" "$@" \
        >"$dir/gate2.out" 2>&1 &
    echo $! >"$dir/gate2.pid"
    wait_tcp "$port" || die "the second gate did not start"
    echo "$port"
    ;;
*)
    die "unknown command $cmd"
    ;;
esac
