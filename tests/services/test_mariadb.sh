#!/bin/bash
# scripts/mariadb.sh: a throwaway MariaDB with a ROW binlog on a loopback port, a cdc user with
# replication grants, stopped by PID. (The MySQL/MariaDB source is not written yet; this keeps the
# script honest for it and for the demo of later sessions.)
src=$1
dir=$2
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || { echo "skipped: mariadb-server not installed"; exit 77; }
"$src/scripts/mariadb.sh" stop "$dir" >/dev/null 2>&1
rm -rf "$dir"
"$src/scripts/mariadb.sh" start "$dir" || { echo "FAIL start"; exit 1; }
. "$dir/mariadb.env"
q() { mariadb --no-defaults -h 127.0.0.1 -P "$SL_MARIADB_PORT" -u "$SL_MARIADB_USER" ${SL_MARIADB_PASSWORD:+-p"$SL_MARIADB_PASSWORD"} -N -B -e "$1"; }
check "listens on 127.0.0.1:$SL_MARIADB_PORT as the cdc user" '[ "$(q "SELECT 1")" = 1 ]'
check "binlog_format is ROW" '[ "$(q "SELECT @@binlog_format")" = ROW ]'
check "binlog_row_image is FULL" '[ "$(q "SELECT @@binlog_row_image")" = FULL ]'
check "log_bin is on" '[ "$(q "SELECT @@log_bin")" = 1 ]'
check "cdc user may replicate" 'q "SHOW GRANTS" | grep -q "REPLICATION SLAVE"'
"$src/scripts/mariadb.sh" stop "$dir"
check "stopped" '! q "SELECT 1" >/dev/null 2>&1'
echo "$((6 - fails)) passed, $fails failed"
[ $fails -eq 0 ]
