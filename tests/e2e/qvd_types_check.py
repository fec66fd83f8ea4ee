#!/usr/bin/env python3
"""Independent check of a QVD written for generator columns uint64, timestampoff, decimal.

Reads the file by hand (strict XML parser for the header, symbols and bit-packed index per
shared/docs/qvd-format.md), recomputes every value from the generator's formula (a port of
plugins/sources/generator/generator.c fill_row, snapshot rows, seed 1, table 0) and checks:
exact texts (uint64 above INT64_MAX, offsets), the numbers of duals, NumberFormat and Comment
from the field metadata, that no two symbols of a field share a number, and that
`sluice qvd cat` (CSV given as the second argument) shows the same texts.

usage: qvd_types_check.py FILE.qvd CAT.csv ROWS NULL_EVERY
"""
import csv
import math
import struct
import sys
import xml.etree.ElementTree as ET

M64 = (1 << 64) - 1
failures = []


def fail(msg):
    failures.append(msg)
    if len(failures) <= 10:
        print("FAIL", msg)


def mix(x):
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & M64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & M64
    x ^= x >> 33
    return x


def civil(days):  # days since 1970-01-01 -> (y, m, d), Hinnant's algorithm
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + (m <= 2), m, d)


def wall(us):
    days, rem = divmod(us, 86400000000)
    y, m, d = civil(days)
    sec, frac = divmod(rem, 1000000)
    t = "%04d-%02d-%02d %02d:%02d:%02d" % (y, m, d, sec // 3600, sec // 60 % 60, sec % 60)
    return t + (".%06d" % frac if frac else "")


def expected(ident, ncols, null_every):
    """Cells (None = NULL) of snapshot row `ident` for columns uint64, timestampoff, decimal."""
    out = []
    for i in range(ncols):
        r = mix(((1 * 1000003) ^ (0 << 48) ^ (i << 40) ^ ((ident * 31) & M64) ^ 0) & M64)
        if null_every > 0 and r % null_every == 0:
            out.append(None)
            continue
        if i == 0:  # uint64
            if r % 3 == 0:
                u = (r >> 8) % 100000
            elif r % 3 == 1:
                u = r
            else:
                u = M64 - (r >> 8) % 5000
            out.append(("u", u))
        elif i == 1:  # timestampoff
            inst = (r % 4000000000000000) - 1000000000000000
            off = ((r >> 20) % 113) * 900 - 50400
            out.append(("o", inst, off))
        else:  # decimal
            txt = "%s%d.%02d" % ("-" if r & 1 else "", (r >> 8) % 1000000, (r >> 40) % 100)
            out.append(("d", txt))
    return out


def text_of(cell):
    if cell is None:
        return None
    if cell[0] == "u":
        return str(cell[1])
    if cell[0] == "o":
        off = cell[2]
        a = abs(off)
        return "%s %s%02d:%02d" % (wall(cell[1] + off * 1000000), "-" if off < 0 else "+", a // 3600,
                                   a // 60 % 60)
    return cell[1]


def read_qvd(path):
    data = open(path, "rb").read()
    nul = data.index(b"\0")
    root = ET.fromstring(data[:nul])  # strict XML 1.0: refuses anything malformed
    body = data[nul + 1:]
    fields = []
    for f in root.find("Fields").findall("QvdFieldHeader"):
        fd = {k: f.findtext(k) for k in ("FieldName", "Comment")}
        for k in ("BitOffset", "BitWidth", "Bias", "NoOfSymbols", "Offset", "Length"):
            fd[k] = int(f.findtext(k))
        nf = f.find("NumberFormat")
        fd["nf"] = (nf.findtext("Type"), int(nf.findtext("nDec")))
        fd["tags"] = [t.text for t in f.find("Tags")] if f.find("Tags") is not None else []
        syms, p, end = [], fd["Offset"], fd["Offset"] + fd["Length"]
        while p < end:
            t = body[p]
            p += 1
            num = None
            if t in (1, 5):
                num = struct.unpack_from("<i", body, p)[0]
                p += 4
            elif t in (2, 6):
                num = struct.unpack_from("<d", body, p)[0]
                p += 8
            txt = None
            if t in (4, 5, 6):
                z = body.index(b"\0", p)
                txt = body[p:z].decode("utf-8")
                p = z + 1
            if t not in (1, 2, 4, 5, 6):
                raise SystemExit("unknown symbol type %d" % t)
            syms.append((t, num, txt))
        if len(syms) != fd["NoOfSymbols"]:
            fail("%s: %d symbols, header says %d" % (fd["FieldName"], len(syms), fd["NoOfSymbols"]))
        fd["syms"] = syms
        fields.append(fd)
    rbs = int(root.findtext("RecordByteSize"))
    nrec = int(root.findtext("NoOfRecords"))
    off = int(root.find("Offset").text)
    rows = []
    for r in range(nrec):
        v = int.from_bytes(body[off + r * rbs: off + (r + 1) * rbs], "little")
        row = []
        for fd in fields:
            idx = ((v >> fd["BitOffset"]) & ((1 << fd["BitWidth"]) - 1)) + fd["Bias"]
            if idx < 0:
                row.append(None)
            elif idx >= len(fd["syms"]):
                fail("row %d field %s: index %d past the symbols" % (r + 1, fd["FieldName"], idx))
                row.append(None)
            else:
                row.append(fd["syms"][idx])
        rows.append(row)
    return fields, rows


def serial(us):
    days, rem = divmod(us, 86400000000)
    return days + 25569 + rem / 86400000000.0


def main():
    path, catpath, nrows, null_every = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    fields, rows = read_qvd(path)
    names = [f["FieldName"] for f in fields]
    if names != ["id", "c1_uint64", "c2_timestampoff", "c3_decimal"]:
        fail("field names %r" % names)
    meta = {f["FieldName"]: (f["nf"], f["Comment"]) for f in fields}
    want_meta = {"id": (("INTEGER", 0), "bigint NOT NULL"),
                 "c1_uint64": (("INTEGER", 0), "bigint unsigned"),
                 "c2_timestampoff": (("TIMESTAMP", 0), "datetimeoffset(6)"),
                 "c3_decimal": (("FIX", 2), "numeric(8,2)")}
    for k, v in want_meta.items():
        if meta.get(k) != v:
            fail("%s: NumberFormat/Comment %r, want %r" % (k, meta.get(k), v))
    if len(rows) != nrows:
        fail("%d rows, want %d" % (len(rows), nrows))
    for fd in fields:  # Qlik links by number: no number twice in a field
        nums = [s[1] for s in fd["syms"] if s[1] is not None]
        keys = set(0.0 if n == 0 else n for n in nums)
        if len(keys) != len(nums):
            fail("%s: %d numeric symbols but %d distinct numbers"
                 % (fd["FieldName"], len(nums), len(keys)))
    stats = {"above_int64": 0, "text_only": 0, "neg_offset": 0}
    shown = {}
    for r, row in enumerate(rows):
        ident = row[0][1] if row[0] else None
        if ident is None or row[0][0] != 1:
            fail("row %d: id symbol %r" % (r + 1, row[0]))
            continue
        exp = expected(ident, 3, null_every)
        got = []
        for c, cell in enumerate(exp):
            sym = row[c + 1]
            txt = text_of(cell)
            if cell is None:
                if sym is not None:
                    fail("id %d col %d: want NULL, got %r" % (ident, c, sym))
                got.append(None)
                continue
            if sym is None:
                fail("id %d col %d: want %s, got NULL" % (ident, c, txt))
                got.append(None)
                continue
            t, num, stxt = sym
            if cell[0] == "u":
                u = cell[1]
                stats["above_int64"] += u > (1 << 63) - 1
                if t == 1:
                    ok = num == u and stxt is None
                elif t == 6:
                    ok = stxt == txt and num == float(u)
                else:
                    ok = t == 4 and stxt == txt
                    stats["text_only"] += 1
                shown_txt = str(num) if t == 1 else stxt
            elif cell[0] == "o":
                stats["neg_offset"] += cell[2] < 0
                if t == 6:
                    ok = stxt == txt and abs(num - serial(cell[1])) < 1e-9 * max(1, abs(num))
                else:
                    ok = t == 4 and stxt == txt
                    stats["text_only"] += 1
                shown_txt = stxt
            else:
                ok = stxt == txt and t in (5, 6) and math.isclose(num, float(txt), rel_tol=1e-15)
                shown_txt = stxt
            if not ok:
                fail("id %d col %d: want %s, got symbol %r" % (ident, c, txt, sym))
            got.append(shown_txt)
        shown[ident] = got
    with open(catpath, newline="") as fp:
        cat = list(csv.reader(fp))
    if cat[0] != names:
        fail("qvd cat header %r" % cat[0])
    for line in cat[1:]:
        ident = int(line[0])
        want = ["" if x is None else x for x in shown.get(ident, [])]
        if line[1:] != want:
            fail("qvd cat id %d: %r, want %r" % (ident, line[1:], want))
    if len(cat) - 1 != nrows:
        fail("qvd cat: %d rows" % (len(cat) - 1))
    print("checked %d rows: %d uint64 above INT64_MAX, %d values as text (sharing a number), "
          "%d negative offsets" % (len(rows), stats["above_int64"], stats["text_only"],
                                   stats["neg_offset"]))
    if stats["above_int64"] == 0 or stats["text_only"] == 0 or stats["neg_offset"] == 0:
        fail("the data did not exercise the cases (see counts)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
