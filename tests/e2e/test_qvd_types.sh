#!/bin/bash
# UINT64 and TIMESTAMPOFF through the whole path: generator -> table state -> QVD (file sink),
# read back by `sluice qvd cat` and by an independent reader (tests/e2e/qvd_types_check.py) that
# recomputes every value; then a resumed run (recovery reads these QVDs back into table state)
# must end with exactly the QVD of an uninterrupted run.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null || { echo "skipped: python3 is needed (scripts/install-deps.sh installs it)"; exit 77; }
cd "$T"
ROWS=3000
job() { # file tenant dir changes
    cat >"$1" <<LUA
return {
  tenant = "$2",
  source = { plugin = "generator", rows = $ROWS, columns = { "uint64", "timestampoff", "decimal" },
             changes = $4, changes_per_txn = 9 },
  sink = { plugin = "file", path = "$T/$3", fsync = false },
  flush_interval = 0.05,
}
LUA
}
job a.lua types out1 0
"$SLUICE" run --once a.lua 2>log1
expect "snapshot run exits 0" [ $? -eq 0 ]
"$SLUICE" qvd cat out1/items.qvd --format csv >cat1.csv 2>cat1.err
expect "qvd cat reads it" [ $? -eq 0 ]
python3 "$here/qvd_types_check.py" out1/items.qvd cat1.csv $ROWS 7 >check.txt 2>&1
rc=$?
cat check.txt
expect "independent reader: every value exact, numbers and metadata as documented" [ $rc -eq 0 ]
"$SLUICE" qvd info out1/items.qvd >info.txt
expect "qvd info shows the TIMESTAMP format and tags" grep -Eq 'c2_timestampoff +TIMESTAMP .*\$numeric,\$timestamp' info.txt
# Recovery: a run that resumes from out1 must equal a run that never stopped.
job a.lua types out1 25
"$SLUICE" run --once a.lua 2>log2
expect "resumed run exits 0" [ $? -eq 0 ]
expect "resumed run recovered from the QVDs" grep -q "recovered flush" log2
job b.lua whole out2 25
"$SLUICE" run --once b.lua 2>log3
expect "uninterrupted run exits 0" [ $? -eq 0 ]
"$SLUICE" qvd cat out1/items.qvd --format jsonl >a.jsonl
"$SLUICE" qvd cat out2/items.qvd --format jsonl >b.jsonl
expect "resumed run equals uninterrupted run (offsets and 64-bit values kept)" cmp -s a.jsonl b.jsonl
expect "offsets other than +00:00 survive the round trip" grep -q '[0-9] -0[1-9]:[0-9][0-9]"' a.jsonl
# Column names with control characters (issue 9 item 13): the header stays strict XML, CR comes
# back as CR, \x01 as U+FFFD, and a resumed run still finds its columns in the file it recovers.
ctl() { # file tenant dir changes
    cat >"$1" <<LUA
return {
  tenant = "$2",
  source = { plugin = "generator", rows = 50, columns = { "int64", "string" }, changes = $4,
             changes_per_txn = 3 },
  transforms = { { plugin = "select", columns = { "id", "c1_int64 as a\1b\r", "c2_string as t\tx" } } },
  sink = { plugin = "file", path = "$T/$3", fsync = false },
}
LUA
}
ctl c.lua ctl out3 0
"$SLUICE" run --once c.lua 2>log4
expect "control-character names: run exits 0" [ $? -eq 0 ]
python3 -c '
import sys, xml.etree.ElementTree as E
b = open(sys.argv[1], "rb").read()
names = [f.findtext("FieldName") for f in E.fromstring(b[:b.index(b"\0")]).iter("QvdFieldHeader")]
sys.exit(0 if names == ["id", "a\ufffdb\r", "t\tx"] else "names %r" % names)
' out3/items.qvd
expect "control-character names: strict XML parser reads them (CR kept, \\x01 -> U+FFFD)" [ $? -eq 0 ]
ctl c.lua ctl out3 10
"$SLUICE" run --once c.lua 2>log5
expect "control-character names: resumed run recovers its columns" [ $? -eq 0 ]
ctl d.lua ctl2 out4 10
"$SLUICE" run --once d.lua 2>log6
"$SLUICE" qvd cat out3/items.qvd --format jsonl >c.jsonl
"$SLUICE" qvd cat out4/items.qvd --format jsonl >d.jsonl
expect "control-character names: resumed run equals uninterrupted run" cmp -s c.jsonl d.jsonl
finish
