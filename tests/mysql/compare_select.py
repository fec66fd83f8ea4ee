#!/usr/bin/env python3
"""Compares `sluice qvd cat --format csv --null NULL` of the alltypes table with
`mariadb -B -N` of the SELECT in test_mysql_snapshot.sh, value for value, by column kind.

The normalisation is written here independently of the plugin: fractions of seconds compare
without trailing zeros, binaries as hex, doubles as the same IEEE value, and zero or invalid
dates (year, month or day 0) are expected as NULL (the documented rule).

usage: compare_select.py GOT.csv WANT.tsv
"""
import csv
import sys

# Column kinds in the SELECT's order (test_mysql_snapshot.sh).
KINDS = (["int"] * 11 + ["text"] * 2 + ["double"] * 2 + ["int"] * 4 + ["date"] +
         ["time"] * 2 + ["datetime"] * 3 + ["text"] * 6 + ["hex"] * 3 + ["text"] * 3 +
         ["text"] + ["int"])


def unescape(s):
    if s == "NULL":
        return None
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"n": "\n", "t": "\t", "0": "\0", "\\": "\\"}.get(s[i + 1], s[i + 1]))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def frac(t):
    if "." in t:
        t = t.rstrip("0").rstrip(".")
    return t


def zero_date(d):
    y, m, dd = d[:10].split("-")
    return int(y) == 0 or int(m) == 0 or int(dd) == 0


def norm_want(kind, v):
    if v is None:
        return None
    if kind == "double":
        return float(v)
    if kind == "hex":
        return "\\x" + v.lower()
    if kind in ("date", "datetime"):
        return None if zero_date(v) else frac(v)
    if kind == "time":
        return frac(v)
    return v


def norm_got(kind, v):
    if v is None:
        return None
    if kind == "double":
        return float(v)
    if kind in ("time", "datetime"):
        return frac(v)
    return v


def main():
    got_rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))[1:]
    want_rows = [line.rstrip("\n").split("\t")
                 for line in open(sys.argv[2], encoding="utf-8").read().split("\n") if line]
    fails = 0
    if len(got_rows) != len(want_rows):
        print("FAIL rows: got %d, want %d" % (len(got_rows), len(want_rows)))
        return 1
    got_rows.sort(key=lambda r: int(r[0]))
    for g, w in zip(got_rows, want_rows):
        if len(g) != len(KINDS) or len(w) != len(KINDS):
            print("FAIL columns: got %d, want %d, kinds %d" % (len(g), len(w), len(KINDS)))
            return 1
        for c, kind in enumerate(KINDS):
            gv = norm_got(kind, None if g[c] == "NULL" else g[c])
            wv = norm_want(kind, unescape(w[c]))
            if gv != wv:
                fails += 1
                print("FAIL id=%s column %d (%s): got %r want %r" %
                      (g[0], c, kind, str(gv)[:80], str(wv)[:80]))
    print("%d rows x %d columns compared, %d differences" % (len(got_rows), len(KINDS), fails))
    return 1 if fails else 0


sys.exit(main())
