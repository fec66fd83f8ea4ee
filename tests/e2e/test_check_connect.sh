#!/bin/bash
# sluice check creates every plugin (create() judges what the declarations cannot, with no I/O)
# and, with --connect, probes the source as well as the sink: a failing probe reports FILE:LINE,
# the tenant and the plugin, and exits 1; a source without a probe says it cannot be checked.
. "$(dirname "$0")/lib.sh"
cd "$T"
FIXTURES=${SL_BUILD_DIR:-$(dirname "$SLUICE")}/tests/abi/fixtures
cat > good.lua <<'LUA'
return {
  tenant = "good",
  source = { plugin = "generator", rows = 10 },
  sink = { plugin = "file", path = "out" },
}
LUA
cat > probe_fails.lua <<'LUA'
return {
  tenant = "pf",
  source = { plugin = "generator", rows = 10,
             fail = "probe" },
  sink = { plugin = "file", path = "out" },
}
LUA
cat > create_fails.lua <<'LUA'
return {
  tenant = "cf",
  source = { plugin = "generator",
             columns = { "int64", "quaternion" } },
  sink = { plugin = "file", path = "out" },
}
LUA
cat > noprobe.lua <<'LUA'
return {
  tenant = "np",
  source = { plugin = "noprobe" },
  sink = { plugin = "file", path = "out" },
}
LUA
"$SLUICE" check --connect good.lua >out.txt 2>err.txt
expect "--connect on a good job exits 0" [ $? -eq 0 ]
expect "--connect on a good job says ok" grep -q '^good.lua: ok (tenant good)' out.txt
"$SLUICE" check probe_fails.lua >out.txt 2>err.txt
expect "without --connect the source is not probed" [ $? -eq 0 ]
"$SLUICE" check --connect probe_fails.lua >out.txt 2>err.txt
expect "a failing source probe exits 1" [ $? -eq 1 ]
expect "a failing source probe: FILE:LINE of the option, tenant, plugin" grep -qx 'probe_fails.lua:4: tenant pf: source "generator": simulated probe failure (option fail = "probe")' err.txt
expect "a failing source probe: not ok" bash -c '! grep -q ": ok" out.txt'
"$SLUICE" check --connect good.lua probe_fails.lua >out.txt 2>err.txt
expect "one failing probe among good jobs exits 1" [ $? -eq 1 ]
expect "the good job is still ok" grep -q '^good.lua: ok' out.txt
"$SLUICE" check create_fails.lua >out.txt 2>err.txt
expect "a value only the plugin can judge fails check (exit 1)" [ $? -eq 1 ]
expect "... with FILE:LINE, tenant and plugin" grep -q '^create_fails.lua:4: tenant cf: source "generator": columns: unknown type "quaternion"' err.txt
if [ -f "$FIXTURES/sl-transform-abi_source_noprobe.so" ]; then
    "$SLUICE" --plugin-dir "$FIXTURES" check --connect noprobe.lua >out.txt 2>err.txt
    expect "a source without probe: exit 0" [ $? -eq 0 ]
    expect "a source without probe: says so" grep -qx 'noprobe.lua:3: tenant np: source "noprobe" cannot be checked without running (the plugin has no probe)' out.txt
    expect "a source without probe: the rest is ok" grep -q '^noprobe.lua: ok' out.txt
else
    bad "fixture $FIXTURES/sl-transform-abi_source_noprobe.so missing"
fi
finish
