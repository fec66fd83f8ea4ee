# Shared setup of the mysql integration scripts: the MariaDB fixture's environment, a throwaway
# directory $T (kept on failure), expect, and clients as root (socket) and as the CDC user (TCP).
# Usage: . lib.sh NAME   (NAME names the directory /tmp/sl-mysql-NAME.XXXXXX)
set -u
SLUICE=${SLUICE:-$SL_BUILD_DIR/sluice}
HERE=$(cd "$(dirname "$0")" && pwd)
[ -f "${SL_MARIADB_ENV:-}" ] || { echo "skipped: MariaDB fixture not running (SL_MARIADB_ENV)"; exit 77; }
[ -x "$SLUICE" ] || { echo "skipped: $SLUICE not built"; exit 77; }
. "$SL_MARIADB_ENV"
T=$(mktemp -d "/tmp/sl-mysql-$1.XXXXXX")
FAILS=0
trap '[ $FAILS -eq 0 ] && rm -rf "$T" || echo "kept $T"' EXIT
expect() {
    local d=$1; shift
    if "$@"; then echo "ok   $d"; else echo "FAIL $d"; FAILS=$((FAILS + 1)); fi
}
root() { mariadb --no-defaults --default-character-set=utf8mb4 -uroot --socket="$SL_MARIADB_SOCKET" "$@"; }
cdc() {
    mariadb --no-defaults --default-character-set=utf8mb4 -h 127.0.0.1 -P "$SL_MARIADB_PORT" \
        -u "$SL_MARIADB_USER" -p"$SL_MARIADB_PASSWORD" "$@"
}
