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
check '^transform +abi_older_minor ' "older minor (exact ABI 2.0 structs) loads"
check '^transform +abi_newer_minor ' "newer minor of the same major loads"
check '^transform +abi_grown ' "grown structs of a newer minor load"
check '^source +generator ' "built-in plugins still load"
check '^sink +file ' "built-in sink still loads"
check "refused .*abi_major1\.so: refused: plugin ABI 1, sluice provides 2" "ABI major 1 refused"
check "refused .*abi_major3\.so: refused: plugin ABI 3, sluice provides 2" "ABI major 3 refused"
check "refused .*abi_noentry\.so: refused: missing required entry transform\.transform" "missing entry refused"
check "refused .*abi_short\.so: refused: descriptor too small" "short descriptor refused"
check "refused .*abi_nosymbol\.so: refused: no sl_plugin_descriptor\(\) symbol" "missing symbol refused"
check "refused .*abi_short_transform\.so: refused: transform ops too small" "short transform ops refused"
check "refused .*abi_short_source\.so: refused: source ops too small" "short source ops refused"
check "refused .*abi_short_sink\.so: refused: sink ops too small" "short sink ops refused"
check "refused .*abi_short_notifier\.so: refused: notifier ops too small" "short notifier ops refused"
check "refused .*abi_short_option\.so: refused: option_size 24 too small" "short sl_option refused"
check "refused .*abi_init_fail\.so: refused: init failed: the fixture's library is missing" "failing init() refused with its reason"
n=$(grep -c '^refused' <<<"$out")
if [ "$n" -eq 11 ]; then echo "ok   exactly 11 refusals"; else echo "FAIL expected 11 refusals, got $n"; fail=1; fi
# A grown sl_option is walked with the plugin's stride: its second option is still there.
grown=$(sed -En '/^transform +abi_grown/,/^[a-z]/p' <<<"$out")
if grep -qE '^ +second +integer +optional, default 2' <<<"$grown"; then
    echo "ok   grown sl_option: second option read at the plugin's stride"
else
    echo "FAIL grown sl_option: second option lost"; echo "$grown"; fail=1
fi
# A newer minor is loaded with one warning line; an older one without.
errs=$("$SLUICE" --plugin-dir "$FIX" plugins 2>&1 >/dev/null)
if grep -qE 'abi_newer_minor\.so: built for ABI 2\.7, newer than this sluice \(2\.[0-9]+\)' <<<"$errs"; then
    echo "ok   newer minor warned"
else
    echo "FAIL newer minor not warned"; fail=1
fi
if grep -q 'abi_older_minor' <<<"$errs"; then echo "FAIL older minor warned"; fail=1; else echo "ok   older minor not warned"; fi
# The refusal is also logged as one line on stderr.
err=$(grep -c 'abi_major3.so: refused' <<<"$errs")
if [ "$err" -eq 1 ]; then echo "ok   refusal logged once"; else echo "FAIL refusal logged $err times"; fail=1; fi
# A job can use the good fixture next to refused ones.
tmp=$(mktemp -d)
cat >"$tmp/j.lua" <<LUA
return { tenant = "t1", source = { plugin = "generator", rows = 3 },
         transforms = { { plugin = "abi_good" } },
         sink = { plugin = "file", path = "$tmp/out", fsync = false } }
LUA
if "$SLUICE" --plugin-dir "$FIX" run --once "$tmp/j.lua" 2>"$tmp/log" && [ -s "$tmp/out/items.qvd" ]; then
    echo "ok   job runs with the good fixture (its create() checks that init() ran first)"
else
    echo "FAIL job with the good fixture"; cat "$tmp/log"; fail=1
fi
# The grown transform declares its output schema with sl_field grown by one member: the host
# must read the second field at the plugin's stride (a, b = "grown").
cat >"$tmp/g.lua" <<LUA
return { tenant = "t2", source = { plugin = "generator", rows = 3 },
         transforms = { { plugin = "abi_grown" } },
         sink = { plugin = "file", path = "$tmp/outg", fsync = false, format = "csv" } }
LUA
if "$SLUICE" --plugin-dir "$FIX" run --once "$tmp/g.lua" 2>"$tmp/logg"; then
    f=$(ls "$tmp"/outg/items.* 2>/dev/null | head -1)
    if [ -n "$f" ] && "$SLUICE" qvd cat "$f" 2>/dev/null | grep -q grown || grep -q grown "$f" 2>/dev/null; then
        echo "ok   grown sl_field read at the plugin's stride"
    else
        echo "FAIL grown sl_field: no column b = grown in $(ls "$tmp"/outg)"; fail=1
    fi
else
    echo "FAIL job with the grown fixture"; cat "$tmp/logg"; fail=1
fi
rm -rf "$tmp"
exit $fail
