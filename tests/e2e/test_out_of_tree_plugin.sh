#!/bin/bash
# examples/plugin-upper builds with nothing but the public header and runs in a job.
. "$(dirname "$0")/lib.sh"
src=$SL_SOURCE_DIR/examples/plugin-upper
mkdir -p "$T/plugins"
# The example's own Makefile, pointed at the source tree's header instead of pkg-config.
make -s -C "$src" SLUICE_CFLAGS="-I$SL_SOURCE_DIR/core/include" sl-transform-upper.so >"$T/make.log" 2>&1 &&
    mv "$src/sl-transform-upper.so" "$T/plugins/"
expect "builds against the header alone" [ -f "$T/plugins/sl-transform-upper.so" ]
expect "exports only the descriptor" bash -c "[ \"\$(nm -D --defined-only '$T/plugins/sl-transform-upper.so' | awk '\$2 == \"T\"' | wc -l)\" -eq 1 ]"
"$SLUICE" --plugin-dir "$T/plugins" plugins >"$T/p.txt" 2>&1
expect "listed by sluice plugins" grep -qE '^transform +upper +0\.1\.0' "$T/p.txt"
cat >"$T/j.lua" <<LUA
return { tenant = "up", source = { plugin = "generator", rows = 20, columns = { "string" }, null_every = 0 },
         transforms = { { plugin = "upper", columns = { "c1_string" } } },
         sink = { plugin = "file", path = "$T/out", format = "csv", fsync = false } }
LUA
SLUICE_PLUGIN_PATH="$T/plugins" "$SLUICE" run --once "$T/j.lua" 2>"$T/log"
expect "job with the plugin exits 0" [ $? -eq 0 ]
expect "values upper-cased" grep -q 'NAME 1 V0' "$T/out/items.csv"
finish
