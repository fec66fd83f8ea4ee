#!/usr/bin/env bash
# Throwaway PostgreSQL 15 cluster for tests and benchmarks.
#   scripts/pg.sh start DIR   # initdb (once) + start on a free 127.0.0.1 port; writes DIR/pg.env
#   scripts/pg.sh stop DIR    # fast shutdown, by PID
#   scripts/pg.sh status DIR  # exit 0 when running
# DIR/pg.env: PGHOST PGPORT PGUSER PGDATABASE SL_PG_CONNINFO (shell syntax, `. DIR/pg.env`).
# Works as root (server runs as user postgres via runuser) or as an ordinary user.
set -euo pipefail

BIN=${SL_PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:-}
dir=${2:-}
if [[ -z "$cmd" || -z "$dir" ]]; then
    echo "usage: $0 start|stop|status DIR" >&2
    exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data="$dir/data"

as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

ensure_binaries() {
    if [[ -x "$BIN/postgres" ]]; then
        return
    fi
    if [[ $(id -u) -ne 0 ]]; then
        echo "pg.sh: $BIN/postgres missing and not root: install postgresql-15" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends postgresql-15 >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y --no-install-recommends postgresql-15 >/dev/null; }
}

# PID of the running postmaster of this cluster, or nothing.
running_pid() {
    local f="$data/postmaster.pid" pid
    [[ -r "$f" ]] || return 0
    pid=$(head -n1 "$f")
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        echo "$pid"
    fi
}

port_free() {
    ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

write_env() {
    local port=$1
    cat >"$dir/pg.env.tmp" <<ENV
PGHOST=127.0.0.1
PGPORT=$port
PGUSER=postgres
PGDATABASE=postgres
SL_PG_CONNINFO='host=127.0.0.1 port=$port user=postgres dbname=postgres'
SL_PG_SSLROOTCERT='$( [[ -f "$dir/server.crt" ]] && echo "$dir/server.crt" )'
export PGHOST PGPORT PGUSER PGDATABASE SL_PG_CONNINFO SL_PG_SSLROOTCERT
ENV
    mv "$dir/pg.env.tmp" "$dir/pg.env"
}

start() {
    ensure_binaries
    if [[ -n "$(running_pid)" && -f "$dir/pg.env" ]]; then
        echo "pg.sh: already running ($dir)"
        return 0
    fi
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres:postgres "$dir"
    fi
    if [[ ! -f "$data/PG_VERSION" ]]; then
        rm -rf "$data"
        as_pg "$BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
            --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    # TLS with a self-signed certificate for 127.0.0.1 (clients verify it with sslrootcert =
    # DIR/server.crt, sslmode up to verify-full). Skipped when openssl is absent.
    local ssl_opts=""
    if command -v openssl >/dev/null 2>&1; then
        if [[ ! -f "$dir/server.key" ]]; then
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 -subj "/CN=127.0.0.1" \
                -addext "subjectAltName=IP:127.0.0.1" -keyout "$dir/server.key" \
                -out "$dir/server.crt" >/dev/null 2>&1
            chmod 600 "$dir/server.key"
            [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$dir/server.key" "$dir/server.crt"
        fi
        ssl_opts="-c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key"
    fi
    local try port sock="$dir"
    # A Unix socket path is limited to 107 bytes: skip the socket for very deep DIRs (TCP only).
    if [[ ${#dir} -gt 90 ]]; then
        sock=""
    fi
    # A restart keeps the previous port when it is still free (clients keep their conninfo).
    local prev=""
    if [[ -f "$dir/pg.env" ]]; then
        prev=$(sed -n 's/^PGPORT=//p' "$dir/pg.env")
    fi
    for try in 1 2 3 4 5 6 7 8; do
        if [[ $try -eq 1 && -n "$prev" ]]; then
            port=$prev
        else
            port=$((20000 + (RANDOM * 32768 + RANDOM) % 30000))
        fi
        port_free "$port" || continue
        if as_pg "$BIN/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 30 start -o \
            "-c listen_addresses=127.0.0.1 -p $port -k '$sock' -c wal_level=logical \
             -c max_replication_slots=64 -c max_wal_senders=64 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off $ssl_opts" >"$dir/pg_ctl.log" 2>&1; then
            write_env "$port"
            echo "pg.sh: started on 127.0.0.1:$port ($dir)"
            return 0
        fi
        # Lost a race for the port (or another failure): show the reason only at the end.
        sleep 0.2
    done
    echo "pg.sh: could not start PostgreSQL; see $dir/server.log" >&2
    tail -n 5 "$dir/server.log" >&2 || true
    exit 1
}

stop() {
    local pid
    pid=$(running_pid)
    if [[ -z "$pid" ]]; then
        echo "pg.sh: not running ($dir)"
        return 0
    fi
    as_pg "$BIN/pg_ctl" -D "$data" -m fast -w -t 20 stop >/dev/null 2>&1 || true
    local i
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        [[ $i -eq 25 ]] && kill -TERM "$pid" 2>/dev/null
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "pg.sh: stopped ($dir)"
}

case "$cmd" in
start) start ;;
stop) stop ;;
status) [[ -n "$(running_pid)" ]] ;;
*)
    echo "usage: $0 start|stop|status DIR" >&2
    exit 2
    ;;
esac
