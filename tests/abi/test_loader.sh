#!/bin/bash
# The loader refuses plugins built for another ABI major, missing an entry, too short or without
# the descriptor symbol, one line each naming the file and the reason, and still loads the rest.
set -u
SLUICE=$1
FIX=$2
fail=0
out=$("$SLUICE" --plugin-dir "$FIX" plugins 2>/dev/null)
check() { # pattern description
    if grep -qE -- "$1" <<<"$out"; then echo "ok   $2"; else echo "FAIL $2 (no line matching: $1)"; fail=1; fi
}
check '^transform +abi_good +0\.0\.1' "good fixture loads"
check '^transform +abi_newer_minor ' "newer minor of the same major loads"
check '^source +generator ' "built-in plugins still load"
check '^sink +file ' "built-in sink still loads"
check "refused .*sl-transform-abi_major2\.so: refused: plugin ABI 2, sluice provides 1" "ABI major 2 refused"
check "refused .*sl-transform-abi_noentry\.so: refused: missing required entry transform\.transform" "missing entry refused"
check "refused .*sl-transform-abi_short\.so: refused: descriptor too small" "short descriptor refused"
check "refused .*sl-transform-abi_nosymbol\.so: refused: no sl_plugin_descriptor\(\) symbol" "missing symbol refused"
n=$(grep -c '^refused' <<<"$out")
if [ "$n" -eq 4 ]; then echo "ok   exactly 4 refusals"; else echo "FAIL expected 4 refusals, got $n"; fail=1; fi
# The refusal is also logged as one line on stderr.
err=$("$SLUICE" --plugin-dir "$FIX" plugins 2>&1 >/dev/null | grep -c 'abi_major2.so: refused')
if [ "$err" -eq 1 ]; then echo "ok   refusal logged once"; else echo "FAIL refusal logged $err times"; fail=1; fi
# A job can use the good fixture next to refused ones.
tmp=$(mktemp -d)
cat >"$tmp/j.lua" <<LUA
return { tenant = "t1", source = { plugin = "generator", rows = 3 },
         transforms = { { plugin = "abi_good" } },
         sink = { plugin = "file", path = "$tmp/out", fsync = false } }
LUA
if "$SLUICE" --plugin-dir "$FIX" run --once "$tmp/j.lua" 2>"$tmp/log" && [ -s "$tmp/out/items.qvd" ]; then
    echo "ok   job runs with the good fixture"
else
    echo "FAIL job with the good fixture"; cat "$tmp/log"; fail=1
fi
rm -rf "$tmp"
exit $fail
