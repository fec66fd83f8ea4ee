/* Unit tests of the postgres source's pure decoders: walsender framing, pgoutput messages
 * (including truncated and malformed ones), COPY text rows and value parsing. */
#include "pgproto.h"
#include "sl_test.h"

#include <math.h>

typedef struct mb {
    uint8_t b[4096];
    size_t n;
} mb;

static void u8(mb *m, uint8_t v)
{
    m->b[m->n++] = v;
}
static void u16(mb *m, uint16_t v)
{
    u8(m, (uint8_t)(v >> 8));
    u8(m, (uint8_t)v);
}
static void u32(mb *m, uint32_t v)
{
    u16(m, (uint16_t)(v >> 16));
    u16(m, (uint16_t)v);
}
static void u64(mb *m, uint64_t v)
{
    u32(m, (uint32_t)(v >> 32));
    u32(m, (uint32_t)v);
}
static void str(mb *m, const char *s)
{
    size_t l = strlen(s) + 1;
    memcpy(m->b + m->n, s, l);
    m->n += l;
}
static void tval(mb *m, const char *s)
{
    u8(m, 't');
    u32(m, (uint32_t)strlen(s));
    memcpy(m->b + m->n, s, strlen(s));
    m->n += strlen(s);
}

static int decode(mb *m, sl_pg_msg *out, sl_pg_scratch *s, char *err)
{
    return sl_pg_decode_msg(m->b, m->n, out, s, err, 200);
}

/* Every strict prefix of a valid message must fail cleanly (ASan catches any overread: the
 * prefix is copied to an exact-size heap buffer). */
static void check_prefixes(const mb *m, sl_pg_scratch *s)
{
    char err[200];
    for (size_t n = 0; n < m->n; n++) {
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, m->b, n);
        sl_pg_msg out;
        int rc = sl_pg_decode_msg(p, n, &out, s, err, sizeof err);
        if (rc != -1)
            fprintf(stderr, "prefix %zu of '%c' decoded\n", n, m->b[0]);
        CHECK(rc == -1);
        free(p);
    }
}

static void test_begin_commit(void)
{
    sl_pg_scratch s = {0};
    char err[200];
    sl_pg_msg m;
    mb b = {.n = 0};
    u8(&b, 'B');
    u64(&b, 0x16B3748);
    u64(&b, 123456789);
    u32(&b, 777);
    CHECK_EQ_INT(decode(&b, &m, &s, err), 0);
    CHECK(m.tag == 'B' && m.lsn1 == 0x16B3748 && m.ts == 123456789 && m.xid == 777);
    check_prefixes(&b, &s);
    mb c = {.n = 0};
    u8(&c, 'C');
    u8(&c, 0);
    u64(&c, 0x100);
    u64(&c, 0x1000000200ull);
    u64(&c, 42);
    CHECK_EQ_INT(decode(&c, &m, &s, err), 0);
    CHECK(m.tag == 'C' && m.lsn1 == 0x100 && m.lsn2 == 0x1000000200ull && m.ts == 42);
    check_prefixes(&c, &s);
    sl_pg_scratch_free(&s);
}

static void test_relation(void)
{
    sl_pg_scratch s = {0};
    char err[200];
    sl_pg_msg m;
    mb b = {.n = 0};
    u8(&b, 'R');
    u32(&b, 16384);
    str(&b, "public");
    str(&b, "items");
    u8(&b, 'd');
    u16(&b, 2);
    u8(&b, 1);
    str(&b, "id");
    u32(&b, 23);
    u32(&b, 0xffffffff);
    u8(&b, 0);
    str(&b, "name");
    u32(&b, 25);
    u32(&b, 0xffffffff);
    CHECK_EQ_INT(decode(&b, &m, &s, err), 0);
    CHECK_EQ_STR(m.ns, "public");
    CHECK_EQ_STR(m.name, "items");
    CHECK(m.relid == 16384 && m.replident == 'd' && m.ncols == 2);
    CHECK(m.relcols[0].flags == 1 && m.relcols[0].typoid == 23 && m.relcols[0].typmod == -1);
    CHECK_EQ_STR(m.relcols[1].name, "name");
    check_prefixes(&b, &s);
    /* A name without its NUL terminator at the very end. */
    mb bad = {.n = 0};
    u8(&bad, 'R');
    u32(&bad, 1);
    memcpy(bad.b + bad.n, "public", 6);
    bad.n += 6;
    CHECK_EQ_INT(decode(&bad, &m, &s, err), -1);
    /* Column count larger than the data. */
    mb big = {.n = 0};
    u8(&big, 'R');
    u32(&big, 1);
    str(&big, "a");
    str(&big, "b");
    u8(&big, 'f');
    u16(&big, 60000);
    CHECK_EQ_INT(decode(&big, &m, &s, err), -1);
    sl_pg_scratch_free(&s);
}

static void test_changes(void)
{
    sl_pg_scratch s = {0};
    char err[200];
    sl_pg_msg m;
    mb i = {.n = 0};
    u8(&i, 'I');
    u32(&i, 5);
    u8(&i, 'N');
    u16(&i, 3);
    tval(&i, "42");
    u8(&i, 'n');
    tval(&i, "");
    CHECK_EQ_INT(decode(&i, &m, &s, err), 0);
    CHECK(m.tag == 'I' && m.relid == 5 && m.newt.ncols == 3);
    CHECK(m.newt.cols[0].kind == 't' && m.newt.cols[0].len == 2 &&
          memcmp(m.newt.cols[0].data, "42", 2) == 0);
    CHECK(m.newt.cols[1].kind == 'n');
    CHECK(m.newt.cols[2].kind == 't' && m.newt.cols[2].len == 0);
    check_prefixes(&i, &s);

    mb u = {.n = 0};
    u8(&u, 'U');
    u32(&u, 5);
    u8(&u, 'K');
    u16(&u, 2);
    tval(&u, "1");
    u8(&u, 'n');
    u8(&u, 'N');
    u16(&u, 2);
    tval(&u, "2");
    u8(&u, 'u');
    CHECK_EQ_INT(decode(&u, &m, &s, err), 0);
    CHECK(m.tag == 'U' && m.old_kind == 'K' && m.oldt.ncols == 2 && m.newt.ncols == 2);
    CHECK(m.oldt.cols[0].kind == 't' && m.oldt.cols[0].data[0] == '1');
    CHECK(m.newt.cols[0].data[0] == '2' && m.newt.cols[1].kind == 'u');
    check_prefixes(&u, &s);

    mb un = {.n = 0};
    u8(&un, 'U');
    u32(&un, 5);
    u8(&un, 'N');
    u16(&un, 1);
    tval(&un, "x");
    CHECK_EQ_INT(decode(&un, &m, &s, err), 0);
    CHECK(m.old_kind == 0 && m.newt.ncols == 1);

    mb d = {.n = 0};
    u8(&d, 'D');
    u32(&d, 5);
    u8(&d, 'O');
    u16(&d, 1);
    tval(&d, "abc");
    CHECK_EQ_INT(decode(&d, &m, &s, err), 0);
    CHECK(m.tag == 'D' && m.old_kind == 'O' && m.oldt.cols[0].len == 3);
    check_prefixes(&d, &s);

    mb t = {.n = 0};
    u8(&t, 'T');
    u32(&t, 2);
    u8(&t, 1);
    u32(&t, 100);
    u32(&t, 200);
    CHECK_EQ_INT(decode(&t, &m, &s, err), 0);
    CHECK(m.nrels == 2 && sl_pg_truncate_relid(&m, 0) == 100 && sl_pg_truncate_relid(&m, 1) == 200);
    check_prefixes(&t, &s);
    sl_pg_scratch_free(&s);
}

static void test_malformed(void)
{
    sl_pg_scratch s = {0};
    char err[200];
    sl_pg_msg m;
    mb b = {.n = 0};
    u8(&b, 'Z');
    CHECK_EQ_INT(decode(&b, &m, &s, err), -1);
    CHECK(strstr(err, "unknown pgoutput message tag") != NULL);
    mb i = {.n = 0};
    u8(&i, 'I');
    u32(&i, 5);
    u8(&i, 'X');
    CHECK_EQ_INT(decode(&i, &m, &s, err), -1);
    mb k = {.n = 0}; /* bad column kind */
    u8(&k, 'I');
    u32(&k, 5);
    u8(&k, 'N');
    u16(&k, 1);
    u8(&k, 'b');
    u32(&k, 0);
    CHECK_EQ_INT(decode(&k, &m, &s, err), -1);
    mb l = {.n = 0}; /* value length beyond the message */
    u8(&l, 'I');
    u32(&l, 5);
    u8(&l, 'N');
    u16(&l, 1);
    u8(&l, 't');
    u32(&l, 0xfffffff0u);
    CHECK_EQ_INT(decode(&l, &m, &s, err), -1);
    mb d = {.n = 0};
    u8(&d, 'D');
    u32(&d, 5);
    u8(&d, 'N');
    CHECK_EQ_INT(decode(&d, &m, &s, err), -1);
    mb t = {.n = 0};
    u8(&t, 'T');
    u32(&t, 0x7fffffff);
    u8(&t, 0);
    u32(&t, 1);
    CHECK_EQ_INT(decode(&t, &m, &s, err), -1);
    CHECK_EQ_INT(sl_pg_decode_msg(b.b, 0, &m, &s, err, sizeof err), -1);
    /* Random garbage never crashes. */
    unsigned seed = 12345;
    for (int it = 0; it < 20000; it++) {
        uint8_t buf[64];
        size_t n = (size_t)(rand_r(&seed) % 64);
        for (size_t j = 0; j < n; j++)
            buf[j] = (uint8_t)rand_r(&seed);
        if (n)
            buf[0] = (uint8_t) "BCORYIUDTM"[rand_r(&seed) % 10];
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, buf, n);
        (void)sl_pg_decode_msg(p, n, &m, &s, err, sizeof err);
        free(p);
    }
    sl_pg_scratch_free(&s);
}

static void test_copydata(void)
{
    char err[200];
    sl_pg_copymsg cm;
    mb w = {.n = 0};
    u8(&w, 'w');
    u64(&w, 10);
    u64(&w, 20);
    u64(&w, 30);
    u8(&w, 'B');
    CHECK_EQ_INT(sl_pg_decode_copydata(w.b, w.n, &cm, err, sizeof err), 0);
    CHECK(cm.tag == 'w' && cm.start == 10 && cm.end == 20 && cm.send_time == 30 && cm.len == 1 &&
          cm.data[0] == 'B');
    CHECK_EQ_INT(sl_pg_decode_copydata(w.b, 24, &cm, err, sizeof err), -1);
    mb k = {.n = 0};
    u8(&k, 'k');
    u64(&k, 0x2000);
    u64(&k, 5);
    u8(&k, 1);
    CHECK_EQ_INT(sl_pg_decode_copydata(k.b, k.n, &cm, err, sizeof err), 0);
    CHECK(cm.tag == 'k' && cm.end == 0x2000 && cm.reply_requested == 1);
    CHECK_EQ_INT(sl_pg_decode_copydata(k.b, k.n - 1, &cm, err, sizeof err), -1);
    uint8_t x = 'q';
    CHECK_EQ_INT(sl_pg_decode_copydata(&x, 1, &cm, err, sizeof err), -1);
    CHECK_EQ_INT(sl_pg_decode_copydata(&x, 0, &cm, err, sizeof err), -1);
    uint8_t st[34];
    sl_pg_encode_status(st, 0x0102030405060708ull, 2, 3, 4, 1);
    CHECK(st[0] == 'r' && st[1] == 1 && st[8] == 8 && st[16] == 2 && st[24] == 3 && st[32] == 4 &&
          st[33] == 1);
}

static void test_copy_split(void)
{
    sl_pg_field f[4];
    char l1[] = "1\t\\N\ta\\tb\\\\c\\n\n";
    CHECK_EQ_INT(sl_pg_copy_split(l1, strlen(l1), f, 3), 0);
    CHECK(f[0].len == 1 && f[0].p[0] == '1');
    CHECK(f[1].p == NULL);
    CHECK(f[2].len == 6 && memcmp(f[2].p, "a\tb\\c\n", 6) == 0);
    char l2[] = "\\101\\x42\\x4a\t\tx";
    CHECK_EQ_INT(sl_pg_copy_split(l2, strlen(l2), f, 3), 0);
    CHECK(f[0].len == 3 && memcmp(f[0].p, "ABJ", 3) == 0);
    CHECK(f[1].p != NULL && f[1].len == 0);
    char l3[] = "1\t2";
    CHECK_EQ_INT(sl_pg_copy_split(l3, strlen(l3), f, 3), -1);
    char l4[] = "1\t2\t3\t4";
    CHECK_EQ_INT(sl_pg_copy_split(l4, strlen(l4), f, 3), -1);
    char l5[] = "abc\\";
    CHECK_EQ_INT(sl_pg_copy_split(l5, strlen(l5), f, 1), -1);
    char l6[] = "\\Nx";
    CHECK_EQ_INT(sl_pg_copy_split(l6, strlen(l6), f, 1), -1);
    char l7[] = "\\N";
    CHECK_EQ_INT(sl_pg_copy_split(l7, strlen(l7), f, 1), 0);
    CHECK(f[0].p == NULL);
}

static int pv(sl_type t, const char *txt, sl_pg_cell *c)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s", txt);
    return sl_pg_parse_value(t, buf, strlen(buf), c);
}

static void test_values(void)
{
    sl_pg_cell c;
    CHECK(pv(SL_T_INT64, "-9223372036854775808", &c) == 0 && c.i64 == INT64_MIN);
    CHECK(pv(SL_T_INT64, "12x", &c) == -1);
    CHECK(pv(SL_T_INT64, "", &c) == -1);
    CHECK(pv(SL_T_INT64, "99999999999999999999", &c) == -1);
    CHECK(pv(SL_T_DOUBLE, "1.5", &c) == 0 && c.f64 == 1.5);
    CHECK(pv(SL_T_DOUBLE, "NaN", &c) == 0 && isnan(c.f64));
    CHECK(pv(SL_T_DOUBLE, "-Infinity", &c) == 0 && isinf(c.f64) && c.f64 < 0);
    CHECK(pv(SL_T_DOUBLE, "1e-310", &c) == 0 && c.f64 > 0);
    CHECK(pv(SL_T_DOUBLE, "abc", &c) == -1);
    CHECK(pv(SL_T_BOOL, "t", &c) == 0 && c.i64 == 1);
    CHECK(pv(SL_T_BOOL, "f", &c) == 0 && c.i64 == 0);
    CHECK(pv(SL_T_BOOL, "true", &c) == -1);
    CHECK(pv(SL_T_DATE, "1970-01-01", &c) == 0 && c.i64 == 0);
    CHECK(pv(SL_T_DATE, "2000-03-01", &c) == 0 && c.i64 == 11017);
    CHECK(pv(SL_T_DATE, "1969-12-31", &c) == 0 && c.i64 == -1);
    CHECK(pv(SL_T_DATE, "0001-01-01 BC", &c) == 0 && c.i64 == -719528);
    CHECK(pv(SL_T_DATE, "4713-11-24 BC", &c) == 0 && c.i64 == -2440222);
    CHECK(pv(SL_T_DATE, "294276-12-31", &c) == 0);
    CHECK(pv(SL_T_DATE, "infinity", &c) == SL_PG_CELL_INFINITE);
    CHECK(pv(SL_T_DATE, "-infinity", &c) == SL_PG_CELL_INFINITE);
    CHECK(pv(SL_T_DATE, "2020-13-01", &c) == -1);
    CHECK(pv(SL_T_DATE, "2020-01-01x", &c) == -1);
    CHECK(pv(SL_T_DATE, "20-01-01", &c) == -1);
    CHECK(pv(SL_T_TIME, "00:00:00", &c) == 0 && c.i64 == 0);
    CHECK(pv(SL_T_TIME, "23:59:59.999999", &c) == 0 && c.i64 == INT64_C(86399999999));
    CHECK(pv(SL_T_TIME, "24:00:00", &c) == 0 && c.i64 == INT64_C(86400000000));
    CHECK(pv(SL_T_TIME, "12:00:00.5", &c) == 0 && c.i64 == INT64_C(43200500000));
    CHECK(pv(SL_T_TIME, "12:00", &c) == -1);
    CHECK(pv(SL_T_TIME, "12:00:00.", &c) == -1);
    CHECK(pv(SL_T_TIMESTAMP, "1970-01-01 00:00:01.000001", &c) == 0 && c.i64 == 1000001);
    CHECK(pv(SL_T_TIMESTAMP, "2024-02-29 13:14:15", &c) == 0 && c.i64 == INT64_C(1709212455000000));
    CHECK(pv(SL_T_TIMESTAMP, "infinity", &c) == SL_PG_CELL_INFINITE);
    CHECK(pv(SL_T_TIMESTAMP, "0001-01-01 00:00:00 BC", &c) == 0 &&
          c.i64 == INT64_C(-719528) * 86400000000);
    CHECK(pv(SL_T_TIMESTAMPTZ, "2024-02-29 13:14:15+00", &c) == 0 &&
          c.i64 == INT64_C(1709212455000000));
    CHECK(pv(SL_T_TIMESTAMPTZ, "2024-02-29 13:14:15.25+05:30", &c) == 0 &&
          c.i64 == INT64_C(1709212455250000) - INT64_C(19800000000));
    CHECK(pv(SL_T_TIMESTAMPTZ, "1900-01-01 00:00:00-00:09:21", &c) == 0 &&
          c.i64 == INT64_C(-2208988800000000) + 561000000);
    CHECK(pv(SL_T_TIMESTAMPTZ, "2024-02-29 13:14:15", &c) == -1);
    CHECK(pv(SL_T_TIMESTAMP, "292277-01-01 00:00:00", &c) == 0 &&
          c.i64 == INT64_C(9161204112000000000));
    /* Past int64 Unix microseconds (PostgreSQL goes to 294276): out of range, like infinity. */
    CHECK(pv(SL_T_TIMESTAMP, "294276-12-31 23:59:59.999999", &c) == SL_PG_CELL_INFINITE);
    CHECK(pv(SL_T_TIMESTAMPTZ, "999999999-01-01 00:00:00+00", &c) == SL_PG_CELL_INFINITE);
    CHECK(pv(SL_T_BINARY, "\\x00ff41", &c) == 0 && c.len == 3 &&
          memcmp(c.p,
                 "\x00\xff"
                 "A",
                 3) == 0);
    CHECK(pv(SL_T_BINARY, "\\x", &c) == 0 && c.len == 0);
    CHECK(pv(SL_T_BINARY, "\\x0", &c) == -1);
    CHECK(pv(SL_T_BINARY, "\\xzz", &c) == -1);
    CHECK(pv(SL_T_BINARY, "abc", &c) == -1);
    CHECK(pv(SL_T_DECIMAL, "NaN", &c) == 0 && c.len == 3);
    CHECK(pv(SL_T_STRING, "héllo", &c) == 0 && c.len == strlen("héllo"));
}

static void test_types_lsn(void)
{
    CHECK(sl_pg_type_map(23) == SL_T_INT64);
    CHECK(sl_pg_type_map(1700) == SL_T_DECIMAL);
    CHECK(sl_pg_type_map(1184) == SL_T_TIMESTAMPTZ);
    CHECK(sl_pg_type_map(1266) == SL_T_STRING); /* timetz */
    CHECK(sl_pg_type_map(1186) == SL_T_STRING); /* interval */
    CHECK(sl_pg_type_map(17) == SL_T_BINARY);
    CHECK(sl_pg_type_map(99999) == SL_T_STRING);
    uint64_t l;
    CHECK(sl_pg_lsn_parse("0/16B3748", &l) == 0 && l == 0x16B3748);
    CHECK(sl_pg_lsn_parse("1A/0", &l) == 0 && l == 0x1A00000000ull);
    CHECK(sl_pg_lsn_parse("16B3748", &l) == -1);
    CHECK(sl_pg_lsn_parse("0/1x", &l) == -1);
    char buf[32];
    sl_pg_lsn_format(0xAB00000010ull, buf, sizeof buf);
    CHECK_EQ_STR(buf, "AB/10");
    CHECK_EQ_INT(sl_pg_days_from_civil(2000, 1, 1), 10957);
}

static void test_copy_binary(void)
{
    mb b = {.n = 0};
    memcpy(b.b, "PGCOPY\n\377\r\n\0", 11);
    b.n = 11;
    u32(&b, 0);
    u32(&b, 0);
    u16(&b, 2);
    u32(&b, 4);
    u32(&b, 42);
    u32(&b, 0xffffffff);
    sl_pg_field f[2];
    int hdr = 0;
    CHECK_EQ_INT(sl_pg_copybin_row(b.b, b.n, &hdr, f, 2), 1);
    CHECK(hdr == 1 && f[0].len == 4 && f[1].p == NULL);
    for (size_t n = 0; n < b.n; n++) {
        int h2 = 0;
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, b.b, n);
        CHECK_EQ_INT(sl_pg_copybin_row(p, n, &h2, f, 2), -1);
        free(p);
    }
    hdr = 0;
    CHECK_EQ_INT(sl_pg_copybin_row(b.b, b.n, &hdr, f, 3), -1);
    b.b[0] = 'X';
    hdr = 0;
    CHECK_EQ_INT(sl_pg_copybin_row(b.b, b.n, &hdr, f, 2), -1);
    mb t = {.n = 0};
    u16(&t, 0xffff);
    hdr = 1;
    CHECK_EQ_INT(sl_pg_copybin_row(t.b, t.n, &hdr, f, 2), 0);
    mb l = {.n = 0};
    u16(&l, 1);
    u32(&l, 100);
    u8(&l, 1);
    CHECK_EQ_INT(sl_pg_copybin_row(l.b, l.n, &hdr, f, 1), -1);
}

static int numeric(const uint16_t *w, size_t nw, const char *want)
{
    mb b = {.n = 0};
    for (size_t i = 0; i < nw; i++)
        u16(&b, w[i]);
    sl_pg_cell c;
    sl_pg_buf tmp = {0};
    int rc = sl_pg_parse_binary(SL_T_DECIMAL, 1700, (char *)b.b, b.n, &c, &tmp);
    int ok = want ? rc == 0 && c.len == strlen(want) && memcmp(c.p, want, c.len) == 0 : rc == -1;
    if (!ok)
        fprintf(stderr, "numeric: rc %d got '%.*s' want '%s'\n", rc, rc == 0 ? (int)c.len : 0,
                rc == 0 ? c.p : "", want ? want : "(error)");
    free(tmp.p);
    return ok;
}

static void test_binary_values(void)
{
    CHECK(numeric((const uint16_t[]){2, 0, 0, 4, 123, 4500}, 6, "123.4500"));
    CHECK(numeric((const uint16_t[]){1, 0xfffe, 0x4000, 6, 100}, 5, "-0.000001"));
    CHECK(numeric((const uint16_t[]){0, 0, 0, 0}, 4, "0"));
    CHECK(numeric((const uint16_t[]){0, 0, 0, 2}, 4, "0.00"));
    CHECK(numeric((const uint16_t[]){1, 1, 0, 0, 1}, 5, "10000"));
    CHECK(numeric((const uint16_t[]){3, 2, 0x4000, 1, 12, 3456, 7800}, 7, "-1234567800.0"));
    CHECK(numeric((const uint16_t[]){0, 0, 0xC000, 0}, 4, "NaN"));
    CHECK(numeric((const uint16_t[]){0, 0, 0xD000, 0}, 4, "Infinity"));
    CHECK(numeric((const uint16_t[]){0, 0, 0xF000, 0}, 4, "-Infinity"));
    CHECK(numeric((const uint16_t[]){2, 0, 0, 0, 1}, 5, NULL));      /* digits missing */
    CHECK(numeric((const uint16_t[]){1, 0, 0, 0, 10000}, 5, NULL));  /* digit > 9999 */
    CHECK(numeric((const uint16_t[]){1, 0, 0x1234, 0, 1}, 5, NULL)); /* bad sign */
    CHECK(numeric((const uint16_t[]){0, 0, 0}, 3, NULL));            /* short */
    sl_pg_cell c;
    sl_pg_buf tmp = {0};
    char d0[4] = {0, 0, 0, 0};
    CHECK(sl_pg_parse_binary(SL_T_DATE, 1082, d0, 4, &c, &tmp) == 0 && c.i64 == 10957);
    char dinf[4] = {0x7f, (char)0xff, (char)0xff, (char)0xff};
    CHECK(sl_pg_parse_binary(SL_T_DATE, 1082, dinf, 4, &c, &tmp) == SL_PG_CELL_INFINITE);
    char t0[8] = {0};
    CHECK(sl_pg_parse_binary(SL_T_TIMESTAMPTZ, 1184, t0, 8, &c, &tmp) == 0 &&
          c.i64 == SL_PG_EPOCH_OFFSET_US);
    char tinf[8] = {(char)0x80, 0, 0, 0, 0, 0, 0, 0};
    CHECK(sl_pg_parse_binary(SL_T_TIMESTAMP, 1114, tinf, 8, &c, &tmp) == SL_PG_CELL_INFINITE);
    char tbig[8] = {0x7f, (char)0xff, (char)0xff, (char)0xff, 0, 0, 0, 0};
    CHECK(sl_pg_parse_binary(SL_T_TIMESTAMP, 1114, tbig, 8, &c, &tmp) == SL_PG_CELL_INFINITE);
    char f4[4] = {0x3d, (char)0xcc, (char)0xcc, (char)0xcd}; /* 0.1f */
    CHECK(sl_pg_parse_binary(SL_T_DOUBLE, 700, f4, 4, &c, &tmp) == 0 && c.f64 == 0.1);
    char i2[2] = {(char)0xff, (char)0xff};
    CHECK(sl_pg_parse_binary(SL_T_INT64, 21, i2, 2, &c, &tmp) == 0 && c.i64 == -1);
    CHECK(sl_pg_parse_binary(SL_T_INT64, 23, i2, 2, &c, &tmp) == -1);
    char bo[1] = {1};
    CHECK(sl_pg_parse_binary(SL_T_BOOL, 16, bo, 1, &c, &tmp) == 0 && c.i64 == 1);
    CHECK(sl_pg_parse_binary(SL_T_STRING, 0, bo, 1, &c, &tmp) == 0 && c.len == 1);
    CHECK(sl_pg_binary_ok(1700) && !sl_pg_binary_ok(2950));
    free(tmp.p);
}

static void test_stream_messages(void)
{
    sl_pg_scratch s = {0};
    char err[200];
    sl_pg_msg m;
    mb st = {.n = 0};
    u8(&st, 'S');
    u32(&st, 900);
    u8(&st, 1);
    CHECK_EQ_INT(decode(&st, &m, &s, err), 0);
    CHECK(m.tag == 'S' && m.xid == 900 && m.flags == 1);
    check_prefixes(&st, &s);
    mb e = {.n = 0};
    u8(&e, 'E');
    CHECK_EQ_INT(decode(&e, &m, &s, err), 0);
    mb c = {.n = 0};
    u8(&c, 'c');
    u32(&c, 900);
    u8(&c, 0);
    u64(&c, 0x10);
    u64(&c, 0x20);
    u64(&c, 7);
    CHECK_EQ_INT(decode(&c, &m, &s, err), 0);
    CHECK(m.tag == 'c' && m.xid == 900 && m.lsn1 == 0x10 && m.lsn2 == 0x20 && m.ts == 7);
    check_prefixes(&c, &s);
    mb a = {.n = 0};
    u8(&a, 'A');
    u32(&a, 900);
    u32(&a, 901);
    CHECK_EQ_INT(decode(&a, &m, &s, err), 0);
    CHECK(m.tag == 'A' && m.xid == 900 && m.subxid == 901);
    check_prefixes(&a, &s);
    mb i = {.n = 0};
    u8(&i, 'I');
    u32(&i, 901);
    u32(&i, 5);
    uint32_t xid = 0;
    CHECK(sl_pg_stream_xid(i.b, i.n, &xid) == 0 && xid == 901);
    CHECK(sl_pg_stream_xid(i.b, 4, &xid) == -1);
    sl_pg_scratch_free(&s);
}

int main(void)
{
    SL_RUN(test_begin_commit);
    SL_RUN(test_relation);
    SL_RUN(test_changes);
    SL_RUN(test_malformed);
    SL_RUN(test_copydata);
    SL_RUN(test_copy_split);
    SL_RUN(test_values);
    SL_RUN(test_types_lsn);
    SL_RUN(test_copy_binary);
    SL_RUN(test_stream_messages);
    SL_RUN(test_binary_values);
    SL_DONE();
}
