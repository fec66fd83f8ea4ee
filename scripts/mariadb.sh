#!/usr/bin/env bash
# Throwaway MariaDB server with a ROW binlog for CDC tests.
#   scripts/mariadb.sh start DIR   # install-db (once) + start on a free 127.0.0.1 port
#   scripts/mariadb.sh stop DIR    # SIGTERM by PID, SIGKILL after 20 s
#   scripts/mariadb.sh status DIR
# DIR/mariadb.env: SL_MARIADB_HOST SL_MARIADB_PORT SL_MARIADB_SOCKET SL_MARIADB_USER (cdc)
# SL_MARIADB_PASSWORD, SL_MARIADB_ROOT_USER (root, via socket, no password).
# binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL, server-id=1.
# SL_MARIADB_ARGS: extra mariadbd options appended last (e.g. --skip-log-bin for a test of a
# server without a binlog).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [[ -z "$cmd" || -z "$dir" ]]; then
    echo "usage: $0 start|stop|status DIR" >&2
    exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data="$dir/data"
pidf="$dir/mysqld.pid"
sock="$dir/mysqld.sock"
CDC_PASSWORD=${SL_MARIADB_CDC_PASSWORD:-cdcpass}

ensure_binaries() {
    if command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd ]]; then
        return
    fi
    if [[ $(id -u) -ne 0 ]]; then
        echo "mariadb.sh: mariadbd missing and not root: install mariadb-server" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends mariadb-server >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y --no-install-recommends mariadb-server >/dev/null; }
}

running_pid() {
    local pid
    [[ -r "$pidf" ]] || return 0
    pid=$(head -n1 "$pidf")
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        echo "$pid"
    fi
}

port_free() {
    ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

admin() {
    mariadb --no-defaults -uroot --socket="$sock" "$@"
}

write_env() {
    cat >"$dir/mariadb.env.tmp" <<ENV
SL_MARIADB_HOST=127.0.0.1
SL_MARIADB_PORT=$1
SL_MARIADB_SOCKET=$sock
SL_MARIADB_USER=cdc
SL_MARIADB_PASSWORD=$CDC_PASSWORD
SL_MARIADB_ROOT_USER=root
export SL_MARIADB_HOST SL_MARIADB_PORT SL_MARIADB_SOCKET SL_MARIADB_USER SL_MARIADB_PASSWORD SL_MARIADB_ROOT_USER
ENV
    mv "$dir/mariadb.env.tmp" "$dir/mariadb.env"
}

start() {
    ensure_binaries
    if [[ -n "$(running_pid)" && -f "$dir/mariadb.env" ]]; then
        echo "mariadb.sh: already running ($dir)"
        return 0
    fi
    local user_args=()
    mkdir -p "$dir/binlog"
    if [[ $(id -u) -eq 0 ]]; then
        user_args=(--user=mysql)
        chown mysql:mysql "$dir"
        chown -R mysql:mysql "$dir/binlog"
    fi
    if [[ ! -d "$data/mysql" ]]; then
        rm -rf "$data"
        mkdir -p "$data"
        [[ $(id -u) -eq 0 ]] && chown mysql:mysql "$data"
        mariadb-install-db --no-defaults "${user_args[@]}" --datadir="$data" \
            --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 ||
            { cat "$dir/install.log" >&2; exit 1; }
    fi
    local try port pid i
    for try in 1 2 3 4 5 6; do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 30000))
        port_free "$port" || continue
        rm -f "$pidf"
        mariadbd --no-defaults "${user_args[@]}" --datadir="$data" --socket="$sock" \
            --port="$port" --bind-address=127.0.0.1 --pid-file="$pidf" \
            --log-error="$dir/error.log" --log-bin="$dir/binlog/mysql-bin" --binlog-format=ROW \
            --binlog-row-image=FULL --binlog-row-metadata=FULL --server-id=1 --skip-name-resolve \
            --innodb-buffer-pool-size=64M --innodb-log-file-size=16M --performance-schema=OFF \
            ${SL_MARIADB_ARGS:-} \
            </dev/null >/dev/null 2>&1 &
        pid=$!
        for i in $(seq 1 150); do
            if mariadb-admin --no-defaults -uroot --socket="$sock" ping >/dev/null 2>&1; then
                break
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null && mariadb-admin --no-defaults -uroot --socket="$sock" ping >/dev/null 2>&1; then
            admin -e "CREATE USER IF NOT EXISTS 'cdc'@'127.0.0.1' IDENTIFIED BY '$CDC_PASSWORD';
                      CREATE USER IF NOT EXISTS 'cdc'@'localhost' IDENTIFIED BY '$CDC_PASSWORD';
                      GRANT REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, SELECT, RELOAD
                        ON *.* TO 'cdc'@'127.0.0.1';
                      GRANT REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, SELECT, RELOAD
                        ON *.* TO 'cdc'@'localhost';
                      CREATE DATABASE IF NOT EXISTS sluice_test;"
            write_env "$port"
            echo "mariadb.sh: started on 127.0.0.1:$port ($dir)"
            return 0
        fi
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    echo "mariadb.sh: could not start MariaDB; see $dir/error.log" >&2
    tail -n 5 "$dir/error.log" >&2 || true
    exit 1
}

stop() {
    local pid i
    pid=$(running_pid)
    if [[ -z "$pid" ]]; then
        echo "mariadb.sh: not running ($dir)"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "mariadb.sh: stopped ($dir)"
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
