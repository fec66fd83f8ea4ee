#!/bin/bash
# Notifier plugins (ABI 2 kind 4) through the sluice binary, with the `jsonl` notifier:
# told after durable flushes what changed, never delaying the data path, flushes merged while a
# call runs, state kept in the manifest, a broken notifier failing only its own tenant.
. "$(dirname "$0")/lib.sh"
cd "$T"

# A notifier that takes 1.5 s per call, on a source committing for ~3 s with 0.1 s flushes.
cat >slow.lua <<LUA
return { tenant = "slow",
  source = source{ plugin = "generator", rows = 100, tables = 2, changes = 60, rate = 20,
                   changes_per_txn = 5 },
  sink = sink{ plugin = "file", path = "$T/out", fsync = false, flush_interval = 0.1 },
  notifiers = { notifier{ plugin = "jsonl", path = "$T/flushes.jsonl", delay_ms = 1500 } } }
LUA
"$SLUICE" run --once slow.lua 2>log1
expect "run --once with a notifier exits 0" [ $? -eq 0 ]
flushes=$(python3 -c 'import json;print(json.load(open("out/_sluice/manifest.json"))["flush"])')
lines=$(wc -l <flushes.jsonl)
few() { [ "$flushes" -ge 10 ] && [ "$lines" -ge 1 ] && [ "$lines" -lt $((flushes / 3)) ]; }
expect "many flushes ($flushes) while the slow notifier was called few times ($lines)" few
p99=$(sed -nE 's/.*commit-to-durable latency .* p99 ([0-9.]+)s.*/\1/p' log1)
expect "commit-to-durable p99 ($p99 s) not held up by the 1.5 s notifier" \
    python3 -c "import sys; sys.exit(0 if float('$p99') < 1.0 else 1)"
# Every flush is covered: the last line names the last flush, and the changes of all lines add
# up to every row change the job applied (merged calls sum them).
python3 - "$flushes" <<'PY' >check.out 2>&1
import json, sys
lines = [json.loads(l) for l in open("flushes.jsonl")]
flushes = int(sys.argv[1])
assert lines[-1]["flush"] == flushes, ("last notified", lines[-1]["flush"], "manifest", flushes)
seqs = [l["flush"] for l in lines]
assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
m = json.load(open("out/_sluice/manifest.json"))
rows = {t["name"]: t["rows"] for t in m["tables"]}
last = {}
for l in lines:
    assert l["tenant"] == "slow"
    for t in l["tables"]:
        last[t["name"]] = t
assert {n: t["rows"] for n, t in last.items()} == rows, (last, rows)
assert all(t["key"] == t["name"] + ".qvd" for t in last.values())
changes = sum(t["changes"] for l in lines for t in l["tables"])
# snapshot rows (2 x 100) + 60 transactions x 5 row changes
assert changes == 200 + 60 * 5, changes
print("ok")
PY
expect "notified flushes cover every change exactly once, rows and keys of the last flush" \
    grep -qx ok check.out || cat check.out

# The notifier's state (its last notified flush) is kept in the manifest on the next flush.
sed -i 's/changes = 60/changes = 70/' slow.lua
"$SLUICE" run --once slow.lua 2>log2
st=$(python3 -c 'import json;print(json.load(open("out/_sluice/manifest.json")).get("state",{}).get("notifier/jsonl#0",""))')
# The value is what the notifier had set when that manifest was written: a flush it reported.
kept() { [ -n "$st" ] && [ "$st" -ge 1 ] && [ "$st" -le "$flushes" ] && grep -q "\"flush\":$st," flushes.jsonl; }
expect "notifier state kept in the manifest ($st)" kept

# A notifier that cannot open fails its own tenant with one clear line; the other tenant runs.
cat >broken.lua <<LUA
return { tenant = "broken", source = source{ plugin = "generator", rows = 5 },
  sink = sink{ plugin = "file", path = "$T/outb", fsync = false },
  notifiers = { notifier{ plugin = "jsonl", path = "$T/no/such/dir/x.jsonl" } } }
LUA
cat >fine.lua <<LUA
return { tenant = "fine", source = source{ plugin = "generator", rows = 5 },
  sink = sink{ plugin = "file", path = "$T/outf", fsync = false } }
LUA
"$SLUICE" run --once broken.lua fine.lua 2>log3
rc=$?
expect "a failing notifier's tenant makes run --once exit non-zero" [ $rc -ne 0 ]
expect "the failure names the tenant and the notifier" \
    grep -qE 'tenant=broken.*notifier/jsonl.*cannot open .*no/such/dir' log3
expect "the other tenant still wrote its QVD" [ -s outf/items.qvd ]

# check: notifier options are validated like any plugin's.
cat >typo.lua <<LUA
return { tenant = "typo", source = source{ plugin = "generator" },
  sink = sink{ plugin = "file", path = "$T/o" },
  notifiers = {
    notifier{ plugin = "jsonl", pth = "x" } } }
LUA
out=$("$SLUICE" check typo.lua 2>&1)
expect "check names the misspelled notifier option with FILE:LINE" \
    grep -qE 'typo\.lua:4: .*unknown option "pth" \(did you mean "path"\?\)' <<<"$out"
"$SLUICE" plugins 2>/dev/null | grep -qE '^notifier +jsonl'
expect "sluice plugins lists notifiers" [ $? -eq 0 ]
finish
