/* Corrupt input must give a one-line error or a table whose every cell reads safely; never a
 * crash or out-of-bounds access (run under ASan with -DSL_SANITIZE=ON). Inputs: every truncation
 * of a valid generated file, random bit flips and byte stores, and hand-made bogus headers. */
#include "qvd_test_util.h"
#include "sl_test.h"

#include <stdio.h>

static const sl_type types[10] = {SL_T_INT64,       SL_T_DOUBLE, SL_T_DECIMAL, SL_T_STRING,
                                  SL_T_BOOL,        SL_T_DATE,   SL_T_TIME,    SL_T_TIMESTAMP,
                                  SL_T_TIMESTAMPTZ, SL_T_BINARY};

static membuf make_valid(void)
{
    sl_qvd_column_spec cols[10];
    char names[10][8];
    for (int c = 0; c < 10; c++) {
        snprintf(names[c], sizeof names[c], "c%d", c);
        cols[c] = (sl_qvd_column_spec){names[c], types[c], c == 0};
    }
    sl_qvd_write_opts o = {.table_name = "corrupt", .lineage = "x;", .create_time_us = 1};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, 10, cols);
    char text[40];
    for (int r = 0; r < 40; r++) {
        sl_value v[10] = {{0}};
        snprintf(text, sizeof text, "%d.5", r * 7);
        for (int c = 0; c < 10; c++) {
            v[c].i = r * 1000003LL * (c + 1);
            v[c].f = r / 3.0;
            v[c].p = text;
            v[c].len = strlen(text);
            v[c].flag = (r + c) % 9 == 0 ? SL_CELL_NULL : SL_CELL_VALUE;
        }
        v[4].i = r & 1;
        v[6].i %= 86400000000LL;
        sl_qvd_writer_add_row(w, v);
    }
    membuf m = {0};
    sl_qvd_writer_finish(w, membuf_out, &m);
    sl_qvd_writer_free(w);
    return m;
}

/* Reads a copy of [p, p+n); touches every cell. Returns 1 when the file was accepted. */
static int try_read(const unsigned char *p, size_t n, char *err, size_t errlen)
{
    unsigned char *b = malloc(n ? n : 1);
    memcpy(b, p, n);
    err[0] = 0;
    sl_qvd_table *t = sl_qvd_read_buffer(b, n, err, errlen);
    if (!t) {
        CHECK(err[0] != 0);
        CHECK(strchr(err, '\n') == NULL);
        return 0;
    }
    char scratch[64];
    for (uint64_t r = 0; r <= t->nrecords && r < 100000; r++)
        for (size_t f = 0; f <= t->nfields; f++) {
            const sl_qvd_symbol *s = sl_qvd_cell(t, r, f);
            if (s) {
                volatile size_t sum = 0;
                for (size_t k = 0; k < s->slen; k++)
                    sum += (unsigned char)s->s[k];
                (void)sum;
                for (int ty = 0; ty < 10; ty++) {
                    sl_value v;
                    sl_qvd_symbol_to_value(s, types[ty], &v, scratch, sizeof scratch);
                }
            }
        }
    sl_qvd_table_free(t);
    return 1;
}

static void test_truncations(void)
{
    membuf m = make_valid();
    char err[256];
    CHECK(try_read(m.p, m.n, err, sizeof err) == 1);
    size_t accepted = 0;
    for (size_t n = 0; n < m.n; n++)
        accepted += (size_t)try_read(m.p, n, err, sizeof err);
    CHECK_EQ_INT(accepted, 0); /* a QVD ends exactly at its index table: every cut is visible */
    try_read(m.p, m.n / 2, err, sizeof err);
    fprintf(stderr, "  e.g. cut in half: %s\n", err);
    free(m.p);
}

static void test_bit_flips(void)
{
    membuf m = make_valid();
    unsigned char *c = malloc(m.n);
    char err[256];
    int rejected = 0;
    for (int i = 0; i < 4000; i++) {
        memcpy(c, m.p, m.n);
        int k = 1 + (int)rndn(4);
        for (int j = 0; j < k; j++) {
            size_t pos = rndn(m.n);
            if (rndn(2))
                c[pos] ^= (unsigned char)(1u << rndn(8));
            else
                c[pos] = (unsigned char)"09<>/\0\xff-"[rndn(8)];
        }
        rejected += !try_read(c, m.n, err, sizeof err);
    }
    fprintf(stderr, "  %d of 4000 damaged copies rejected, the rest read safely\n", rejected);
    CHECK(rejected > 0);
    free(c);
    free(m.p);
}

static void test_bogus_headers(void)
{
    membuf m = make_valid();
    char err[256];
    /* rewrite one header token, keep the body */
    static const char *edits[][2] = {
        {"<NoOfSymbols>", "<NoOfSymbols>99999999999"},
        {"<RecordByteSize>", "<RecordByteSize>9"},
        {"<NoOfRecords>40<", "<NoOfRecords>18446744073709551615<"},
        {"<NoOfRecords>40<", "<NoOfRecords>-1<"},
        {"<BitWidth>", "<BitWidth>9"},
        {"<BitOffset>", "<BitOffset>4"},
        {"<Offset>0</Offset>", "<Offset>9223372036854775807</Offset>"},
        {"<Length>", "<Length>1"},
        {"<Bias>-2</Bias>", "<Bias>-2147483648</Bias>"},
        {"<Bias>-2</Bias>", "<Bias>2147483647</Bias>"},
        {"<Fields>", "<Fieldz>"},
        {"<QvdTableHeader>", "<QvdTableHeaderX>"},
        {"<FieldName>c0</FieldName>", "<FieldName>c0&bogus;</FieldName>"},
        {"<FieldName>c0</FieldName>", "<FieldName>c0&#0;</FieldName>"},
        {"<FieldName>c0</FieldName>", "<FieldName>c0<!-- x</FieldName>"},
        {"<TableName>", "<TableName><a><b><c>"},
        {"</Fields>", ""},
    };
    int accepted = 0;
    for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
        const char *at = strstr((const char *)m.p, edits[i][0]);
        CHECK(at != NULL);
        if (!at)
            continue;
        size_t pre = (size_t)(at - (const char *)m.p), ol = strlen(edits[i][0]),
               nl = strlen(edits[i][1]);
        size_t n = m.n - ol + nl;
        unsigned char *c = malloc(n);
        memcpy(c, m.p, pre);
        memcpy(c + pre, edits[i][1], nl);
        memcpy(c + pre + nl, m.p + pre + ol, m.n - pre - ol);
        int ok = try_read(c, n, err, sizeof err);
        fprintf(stderr, "  %-45s -> %s\n", edits[i][1], ok ? "read (safely)" : err);
        accepted += ok;
        free(c);
    }
    CHECK(accepted <= 3); /* a few edits stay valid: a BitOffset that still fits, odd Bias values */
    /* deep nesting, no root, empty input, NUL only, header without body */
    static const char *raw[] = {"",
                                "\0",
                                "<a>\0",
                                "<?xml?>\0",
                                "</QvdTableHeader>\r\n\0",
                                "<QvdTableHeader></QvdTableHeader>\r\n\0"};
    for (size_t i = 0; i < sizeof raw / sizeof *raw; i++)
        CHECK(try_read((const unsigned char *)raw[i], strlen(raw[i]) + (i > 0), err, sizeof err) ==
              0);
    size_t dn = 100000;
    unsigned char *deep = malloc(dn + 40);
    size_t k = 0;
    k += (size_t)sprintf((char *)deep, "<QvdTableHeader>");
    while (k + 30 < dn)
        k += (size_t)sprintf((char *)deep + k, "<a>");
    k += (size_t)sprintf((char *)deep + k, "</QvdTableHeader>\r\n");
    deep[k++] = 0;
    CHECK(try_read(deep, k, err, sizeof err) == 0);
    fprintf(stderr, "  deep nesting -> %s\n", err);
    free(deep);
    free(m.p);
}

static void test_lf_terminator(void)
{
    /* a header written with LF only (seen in the wild) is accepted, cells unchanged */
    membuf m = make_valid();
    const unsigned char *nul = memchr(m.p, 0, m.n);
    size_t hlen = (size_t)(nul - m.p);
    unsigned char *c = malloc(m.n);
    size_t n = 0;
    for (size_t i = 0; i < hlen; i++)
        if (m.p[i] != '\r')
            c[n++] = m.p[i];
    memcpy(c + n, nul, m.n - hlen);
    n += m.n - hlen;
    char err[256];
    unsigned char *a = malloc(m.n), *b = malloc(n);
    memcpy(a, m.p, m.n);
    memcpy(b, c, n);
    sl_qvd_table *ta = sl_qvd_read_buffer(a, m.n, err, sizeof err);
    sl_qvd_table *tb = sl_qvd_read_buffer(b, n, err, sizeof err);
    CHECK(ta && tb);
    if (ta && tb) {
        CHECK_EQ_INT(ta->nrecords, tb->nrecords);
        for (uint64_t r = 0; r < ta->nrecords; r++)
            for (size_t f = 0; f < ta->nfields; f++) {
                const sl_qvd_symbol *x = sl_qvd_cell(ta, r, f), *y = sl_qvd_cell(tb, r, f);
                CHECK((x == NULL) == (y == NULL));
                if (x && y)
                    CHECK(x->type == y->type && x->slen == y->slen &&
                          memcmp(x->s, y->s, x->slen) == 0);
            }
    }
    sl_qvd_table_free(ta);
    sl_qvd_table_free(tb);
    free(c);
    free(m.p);
}

/* Found by fuzz_qvd_read: a field name with CR/LF inside an error message made it two lines. */
static void test_error_stays_one_line(void)
{
    membuf m = make_valid();
    char *s = malloc(m.n + 16);
    const char *at = strstr((const char *)m.p, "<FieldName>c0</FieldName>");
    const char *len = strstr((const char *)m.p, "<Length>");
    CHECK(at && len && at < len);
    size_t a = (size_t)(at - (const char *)m.p) + 12, l = (size_t)(len - (const char *)m.p) + 8;
    size_t n = 0;
    memcpy(s, m.p, a); /* ...<FieldName>c */
    n = a;
    memcpy(s + n, "\r\n", 2); /* c CR LF 0 */
    n += 2;
    memcpy(s + n, m.p + a, l - a); /* ...<Length> */
    n += l - a;
    s[n++] = '1'; /* field length 1xxx: does not match its symbols */
    memcpy(s + n, m.p + l, m.n - l);
    n += m.n - l;
    char err[256];
    CHECK(try_read((unsigned char *)s, n, err, sizeof err) == 0);
    fprintf(stderr, "  %s\n", err);
    CHECK(strstr(err, "c??0") != NULL);
    free(s);
    free(m.p);
}

/* A UTF-8 byte order mark before the XML is tolerated (offsets count from the 0x00). */
static void test_bom(void)
{
    membuf m = make_valid();
    unsigned char *c = malloc(m.n + 3);
    memcpy(c, "\xEF\xBB\xBF", 3);
    memcpy(c + 3, m.p, m.n);
    char err[256];
    CHECK(try_read(c, m.n + 3, err, sizeof err) == 1);
    free(c);
    free(m.p);
}

/* Any negative index reads as NULL (Qlik's NULL is -2); an index >= NoOfSymbols is refused at
 * load with the first such row and its field named (it used to read as NULL: silent wrong
 * data). */
static void test_out_of_range_index(void)
{
    sl_qvd_column_spec col = {"k", SL_T_INT64, 0};
    sl_qvd_write_opts o = {.table_name = "r"};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, 1, &col);
    for (int r = 0; r < 5; r++) { /* k = 0,1,2,3 then NULL: Bias -2, stored 2..5 and 0 */
        sl_value v = {.i = r, .flag = r == 4 ? SL_CELL_NULL : SL_CELL_VALUE};
        sl_qvd_writer_add_row(w, &v);
    }
    membuf m = {0};
    CHECK(sl_qvd_writer_finish(w, membuf_out, &m) == 0);
    sl_qvd_writer_free(w);
    char *b = strstr((char *)m.p, "<Bias>-2</Bias>");
    CHECK(b != NULL);
    if (!b)
        return;
    static const struct {
        char bias;
        const char *err; /* NULL: reads, every row NULL */
    } cases[] = {
        /* stored 2..5 -> 2,3,4,5 of 4 symbols: row 3 is the first past them */
        {'0', "row 3 of 5, field k: symbol index 4 is outside its 4 symbols"},
        {'1', "row 2 of 5, field k: symbol index 4 is outside its 4 symbols"},
        {'9', NULL}, /* "-9": everything negative */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        /* "<Bias>-2</Bias>" -> "<Bias>0 </Bias>" / "<Bias>1 </Bias>" / "<Bias>-9</Bias>" */
        if (cases[i].bias == '9') {
            b[7] = '9';
        } else {
            b[6] = cases[i].bias;
            b[7] = ' ';
        }
        unsigned char *c = malloc(m.n);
        memcpy(c, m.p, m.n);
        char err[256] = "";
        sl_qvd_table *t = sl_qvd_read_buffer(c, m.n, err, sizeof err);
        if (cases[i].err) {
            CHECK(t == NULL);
            CHECK(strstr(err, cases[i].err) != NULL);
            if (!strstr(err, cases[i].err))
                fprintf(stderr, "  got: %s\n", err);
        } else {
            CHECK(t != NULL);
            for (uint64_t r = 0; t && r < 5; r++)
                CHECK(sl_qvd_cell(t, r, 0) == NULL);
        }
        sl_qvd_table_free(t);
        b[6] = '-';
        b[7] = '2';
    }
    free(m.p);
}

int main(void)
{
    SL_RUN(test_truncations);
    SL_RUN(test_bit_flips);
    SL_RUN(test_bogus_headers);
    SL_RUN(test_lf_terminator);
    SL_RUN(test_error_stays_one_line);
    SL_RUN(test_bom);
    SL_RUN(test_out_of_range_index);
    SL_DONE();
}
