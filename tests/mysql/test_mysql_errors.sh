#!/bin/bash
# The mysql source's configuration errors against a real MariaDB: each is one line naming the
# setting and the fix, from `sluice check --connect` and from `sluice run --once`: wrong
# password, a listed table that does not exist (with the job file's line), binlog_format =
# STATEMENT, binlog_row_image = MINIMAL, a user without REPLICATION SLAVE, and a server with the
# binary log off (a second throwaway server started with --skip-log-bin).
set -u
SLUICE=${SLUICE:-$SL_BUILD_DIR/sluice}
SRC=${SL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
[ -f "${SL_MARIADB_ENV:-}" ] || { echo "skipped: MariaDB fixture not running (SL_MARIADB_ENV)"; exit 77; }
[ -x "$SLUICE" ] || { echo "skipped: $SLUICE not built"; exit 77; }
. "$SL_MARIADB_ENV"
T=$(mktemp -d /tmp/sl-mysql-err.XXXXXX)
chmod 755 "$T" # the second server runs as the mysql user
FAILS=0
cleanup() {
    "$SRC/scripts/mariadb.sh" stop "$T/nobin" >/dev/null 2>&1
    [ $FAILS -eq 0 ] && rm -rf "$T" || echo "kept $T"
}
trap cleanup EXIT
expect() {
    local d=$1; shift
    if "$@"; then echo "ok   $d"; else echo "FAIL $d"; FAILS=$((FAILS + 1)); fi
}
root() { mariadb --no-defaults -uroot --socket="$SL_MARIADB_SOCKET" "$@"; }
cd "$T"
root -e "CREATE DATABASE IF NOT EXISTS sl_err; CREATE TABLE IF NOT EXISTS sl_err.t (id INT PRIMARY KEY);
         DROP USER IF EXISTS 'norepl'@'127.0.0.1'; CREATE USER 'norepl'@'127.0.0.1' IDENTIFIED BY 'pw';
         GRANT SELECT, BINLOG MONITOR ON *.* TO 'norepl'@'127.0.0.1'"
job() { # $1 file, $2 port, $3 user, $4 password, $5 tables
    cat >"$1" <<LUA
return {
  tenant = "myerr",
  source = { plugin = "mysql", host = "127.0.0.1", port = $2, user = "$3", password = "$4",
             database = "sl_err",
             tables = { $5 } },
  sink = { plugin = "file", path = "$T/out-$1", fsync = false },
}
LUA
}
# check_one NAME FILE PATTERN [run]: check --connect fails with exactly one line matching
# PATTERN; with "run", `sluice run --once` fails with the same cause.
check_one() {
    "$SLUICE" check --connect "$2" >out.txt 2>err.txt
    local rc=$?
    expect "$1: check --connect fails" [ $rc -ne 0 ]
    expect "$1: one line naming the cause" bash -c "[ \$(grep -vc ' info ' err.txt) -eq 1 ] && grep -Eq \"$3\" err.txt" ||
        cat err.txt
    if [ "${4:-}" = run ]; then
        "$SLUICE" run --once "$2" >/dev/null 2>run.txt
        rc=$?
        expect "$1: run --once fails" [ $rc -ne 0 ]
        expect "$1: run names the same cause" grep -Eq "job failed: source/mysql: .*$3" run.txt
    fi
}
P=$SL_MARIADB_PORT
job good.lua "$P" "$SL_MARIADB_USER" "$SL_MARIADB_PASSWORD" '"t"'
"$SLUICE" check --connect good.lua >/dev/null 2>err.txt
expect "a correct job passes check --connect" [ $? -eq 0 ]

job pw.lua "$P" "$SL_MARIADB_USER" wrong '"t"'
check_one "wrong password" pw.lua "cannot connect to 127.0.0.1:$P as cdc: Access denied.*check user and password" run

job missing.lua "$P" "$SL_MARIADB_USER" "$SL_MARIADB_PASSWORD" '"t", "nope"'
check_one "missing table" missing.lua "missing.lua:5: tables: table sl_err.nope does not exist"

job priv.lua "$P" norepl pw '"t"'
check_one "no REPLICATION SLAVE" priv.lua "lacks REPLICATION SLAVE.*GRANT REPLICATION SLAVE"

root -e "SET GLOBAL binlog_format = 'STATEMENT'"
check_one "binlog_format STATEMENT" good.lua "binlog_format is STATEMENT, not ROW: set binlog_format = ROW" run
root -e "SET GLOBAL binlog_format = 'ROW'"

root -e "SET GLOBAL binlog_row_image = 'MINIMAL'"
check_one "binlog_row_image MINIMAL" good.lua "binlog_row_image is MINIMAL, not FULL: set binlog_row_image = FULL"
root -e "SET GLOBAL binlog_row_image = 'FULL'"

if SL_MARIADB_ARGS=--skip-log-bin "$SRC/scripts/mariadb.sh" start "$T/nobin" >/dev/null; then
    (
        . "$T/nobin/mariadb.env"
        job nobin.lua "$SL_MARIADB_PORT" "$SL_MARIADB_USER" "$SL_MARIADB_PASSWORD" '"t"'
        mariadb --no-defaults -uroot --socket="$SL_MARIADB_SOCKET" \
            -e "CREATE DATABASE sl_err; CREATE TABLE sl_err.t (id INT PRIMARY KEY)"
        check_one "binlog off" nobin.lua "binary logging is off \(log_bin = OFF\): start the server with log_bin" run
        exit $FAILS
    )
    FAILS=$?
else
    expect "second server (--skip-log-bin) starts" false
fi
[ $FAILS -eq 0 ]
