/* Round-trip property tests: random tables of every sl_type (NULLs, empty and long UTF-8 strings,
 * 0/1 rows, 1/many fields, constant fields) are written, read back and compared cell by cell via
 * sl_qvd_symbol_to_value; every file is also checked against the layout Qlik itself writes. */
#include "qvd_test_util.h"
#include "sl_test.h"

#include <inttypes.h>
#include <math.h>

#define NTYPES 12 /* every sl_type */

typedef struct {
    sl_value *v; /* nrows * ncols */
    char **owned;
    size_t nowned;
} table;

static char *keep(table *t, const char *s, size_t n)
{
    char *c = malloc(n + 1);
    memcpy(c, s, n);
    c[n] = 0;
    t->owned = realloc(t->owned, (t->nowned + 1) * sizeof *t->owned);
    t->owned[t->nowned++] = c;
    return c;
}

static void rand_utf8(char *b, size_t *n, size_t max)
{
    static const char *pieces[] = {"a", "Z",  " ",  "é",    "ü", "ß", "€", "中", "文", "😀",
                                   ",", "\"", "\t", "\r\n", "<", "&", ">", "\\", "|",  "0"};
    size_t k = 0;
    size_t want = rndn(max + 1);
    while (k < want) {
        const char *p = pieces[rndn(sizeof pieces / sizeof *pieces)];
        size_t l = strlen(p);
        if (k + l > max)
            break;
        memcpy(b + k, p, l);
        k += l;
    }
    *n = k;
}

static void gen_value(table *t, sl_type ty, sl_value *v, int pool)
{
    char buf[8192];
    size_t n;
    memset(v, 0, sizeof *v);
    v->flag = SL_CELL_VALUE;
    /* a small pool of seeds makes repeated values (dedup); pool 1 = a constant field */
    if (pool)
        rng_state = 0x1234567ull * (uint64_t)(rndn((uint64_t)pool) + 1) + (uint64_t)ty;
    switch (ty) {
    case SL_T_UINT64: {
        static const uint64_t special[] = {0,
                                           1,
                                           INT32_MAX,
                                           2147483648ull,
                                           9007199254740992ull,
                                           9007199254740993ull,
                                           (uint64_t)INT64_MAX,
                                           (uint64_t)INT64_MAX + 1,
                                           UINT64_MAX - 1,
                                           UINT64_MAX};
        v->i = (int64_t)(rndn(3) ? rndn(2000) : rndn(2) ? special[rndn(10)] : rnd());
        break;
    }
    case SL_T_TIMESTAMPOFF:
        v->i = (int64_t)(rnd() % 600000000000000000ull) - 300000000000000000LL;
        if (rndn(2))
            v->i -= v->i % 1000000;
        /* whole quarter hours as SQL Server has them, sometimes seconds (local mean time) */
        v->aux = (int32_t)rndn(113) * 900 - 50400 + (rndn(8) ? 0 : (int32_t)rndn(60));
        break;
    case SL_T_INT64: {
        static const int64_t special[] = {0,
                                          1,
                                          -1,
                                          INT32_MAX,
                                          INT32_MIN,
                                          2147483648LL,
                                          -2147483649LL,
                                          INT64_MAX,
                                          INT64_MIN,
                                          9007199254740993LL};
        v->i = rndn(3) ? (int64_t)rndn(2000) - 1000 : rndn(2) ? special[rndn(10)] : (int64_t)rnd();
        break;
    }
    case SL_T_DOUBLE: {
        static const double special[] = {0.0,    -0.0, 1.5,      -2.25,     1e300,
                                         5e-324, NAN,  INFINITY, -INFINITY, 3.0};
        if (rndn(3)) {
            uint64_t b = rnd();
            memcpy(&v->f, &b, 8);
            if (isnan(v->f))
                v->f = 0.1;
        } else {
            v->f = special[rndn(10)];
        }
        break;
    }
    case SL_T_DECIMAL: {
        static const char *special[] = {
            "0",   "-12.340",     "10.0",    "123456789012345678901234567890.5", "NaN", "-0",
            "1e3", "99999999999", "0.000001"};
        if (rndn(2))
            n = (size_t)snprintf(buf, sizeof buf, "%" PRId64 ".%03u", (int64_t)rnd() >> rndn(60),
                                 (unsigned)rndn(1000));
        else
            n = strlen(strcpy(buf, special[rndn(9)]));
        v->p = keep(t, buf, n);
        v->len = n;
        break;
    }
    case SL_T_STRING:
        rand_utf8(buf, &n, rndn(20) == 0 ? 6000 : 12);
        v->p = keep(t, buf, n);
        v->len = n;
        break;
    case SL_T_BOOL:
        v->i = (int64_t)rndn(2);
        break;
    case SL_T_DATE:
        v->i = rndn(2) ? (int64_t)rndn(40000) - 10000 : (int64_t)rndn(7000000) - 3500000;
        break;
    case SL_T_TIME:
        v->i = rndn(2) ? (int64_t)rndn(86400) * 1000000 : (int64_t)rndn(86400000001ull);
        break;
    case SL_T_TIMESTAMP:
    case SL_T_TIMESTAMPTZ:
        v->i = (int64_t)(rnd() % 600000000000000000ull) - 300000000000000000LL;
        if (rndn(2))
            v->i -= v->i % 1000000;
        break;
    case SL_T_BINARY:
        n = rndn(4) ? rndn(40) : rndn(3000);
        for (size_t k = 0; k < n; k++)
            buf[k] = (char)rnd();
        v->p = keep(t, buf, n);
        v->len = n;
        break;
    }
}

static int value_eq(sl_type ty, const sl_value *a, const sl_value *b)
{
    if (a->flag != b->flag)
        return 0;
    if (a->flag != SL_CELL_VALUE)
        return 1;
    switch (ty) {
    case SL_T_DOUBLE:
        return memcmp(&a->f, &b->f, 8) == 0 || (isnan(a->f) && isnan(b->f));
    case SL_T_TIMESTAMPOFF:
        return a->i == b->i && a->aux == b->aux;
    case SL_T_DECIMAL:
    case SL_T_STRING:
    case SL_T_BINARY:
        return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
    default:
        return a->i == b->i;
    }
}

/* A plain decimal text as "sign digits e exponent" with no leading/trailing zeros ("1.50" and
 * "15e-1" -> "+15e-1", "-0" -> "+e0"), or "" when the text is not a plain decimal. */
static void dec_key(const char *s, size_t n, char *out, size_t outlen)
{
    char d[256];
    size_t k = 0, i = 0;
    long scale = 0, e = 0;
    int neg = 0, dot = 0, any = 0;
    out[0] = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    for (; i < n && ((s[i] >= '0' && s[i] <= '9') || (s[i] == '.' && !dot)); i++) {
        if (s[i] == '.') {
            dot = 1;
            continue;
        }
        any = 1;
        scale += dot;
        if ((k || s[i] != '0') && k < sizeof d - 1)
            d[k++] = s[i];
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E'))
        e = strtol(s + i + 1, NULL, 10), i = n;
    if (!any || i != n)
        return;
    while (k && d[k - 1] == '0')
        k--, scale--;
    d[k] = 0;
    snprintf(out, outlen, "%c%se%ld", neg && k ? '-' : '+', d, k ? e - scale : 0);
}

/* What the reader must give back for row values v (one column, nrows): the writer's rule "one
 * number, one symbol" (docs/qvd-types.md) makes a value that is the same number as an earlier
 * one, written differently (DOUBLE -0.0 after 0.0, DECIMAL "1.00" after "1.0"), read back as the
 * earlier one. */
static void expect_first_spelling(sl_type ty, sl_value *v, size_t nrows, size_t stride)
{
    if (ty != SL_T_DOUBLE && ty != SL_T_DECIMAL)
        return;
    char(*keys)[300] = calloc(nrows + 1, 300);
    size_t *first = calloc(nrows + 1, sizeof *first), nk = 0;
    for (size_t r = 0; r < nrows; r++) {
        sl_value *x = &v[r * stride];
        if (x->flag != SL_CELL_VALUE)
            continue;
        char k[300];
        if (ty == SL_T_DOUBLE) {
            if (x->f != 0)
                continue;
            strcpy(k, "zero");
        } else {
            dec_key(x->p, x->len, k, sizeof k);
            if (!k[0])
                continue;
        }
        size_t j = 0;
        while (j < nk && strcmp(keys[j], k) != 0)
            j++;
        if (j == nk) {
            strcpy(keys[nk], k);
            first[nk++] = r;
        } else {
            *x = v[first[j] * stride];
        }
    }
    free(keys);
    free(first);
}

static uint64_t numkey(const sl_qvd_symbol *s, int *has)
{
    double d;
    *has = 1;
    if (s->type == SL_QVD_SYM_INT || s->type == SL_QVD_SYM_DUAL_INT)
        d = s->i;
    else if (s->type == SL_QVD_SYM_DOUBLE || s->type == SL_QVD_SYM_DUAL_DOUBLE)
        d = s->d;
    else
        return *has = 0;
    if (d == 0)
        return 0;
    if (isnan(d))
        return 0x7ff8000000000000ull;
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* No two symbols of a field have the same number (Qlik links values by number). */
static void check_numbers_unique(const sl_qvd_table *t)
{
    for (size_t f = 0; f < t->nfields; f++) {
        const sl_qvd_field *fd = &t->fields[f];
        uint64_t *k = malloc((fd->nsymbols + 1) * sizeof *k);
        size_t n = 0;
        for (uint64_t i = 0; i < fd->nsymbols; i++) {
            int has;
            uint64_t key = numkey(&fd->symbols[i], &has);
            if (has)
                k[n++] = key;
        }
        qsort(k, n, sizeof *k, cmp_u64);
        for (size_t i = 1; i < n; i++)
            if (k[i] == k[i - 1]) {
                fprintf(stderr, "field %s: two symbols share a number\n", fd->name);
                for (uint64_t j = 0; j < fd->nsymbols; j++) {
                    int has;
                    if (numkey(&fd->symbols[j], &has) == k[i] && has)
                        fprintf(stderr, "  symbol %d: type %d, %d / %.17g '%s'\n", (int)j,
                                fd->symbols[j].type, fd->symbols[j].i, fd->symbols[j].d,
                                fd->symbols[j].s);
                }
                CHECK(k[i] != k[i - 1]);
                break;
            }
        free(k);
    }
}

/* The layout Qlik writes (qvd-format.md §1, §3, §4, §7). */
static void check_layout(const membuf *m, const sl_qvd_table *t)
{
    const unsigned char *nul = memchr(m->p, 0, m->n);
    CHECK(nul && nul - m->p >= 19 && memcmp(nul - 19, "</QvdTableHeader>\r\n", 19) == 0);
    size_t body = (size_t)(nul - m->p) + 1;
    uint64_t off = 0, bits = 0;
    for (size_t f = 0; f < t->nfields; f++) {
        const sl_qvd_field *fd = &t->fields[f];
        CHECK_EQ_INT(fd->offset, off);
        off += fd->length;
        bits += fd->bit_width;
        CHECK(fd->bias == 0 || fd->bias == -2);
        /* symbols unique, all referenced, in first-occurrence order */
        uint64_t next = 0;
        for (uint64_t r = 0; r < t->nrecords; r++) {
            const sl_qvd_symbol *s = sl_qvd_cell(t, r, f);
            if (!s)
                continue;
            uint64_t idx = (uint64_t)(s - fd->symbols);
            CHECK(idx <= next);
            if (idx == next)
                next++;
        }
        CHECK_EQ_INT(next, fd->nsymbols);
    }
    CHECK_EQ_INT(t->offset, off);
    CHECK_EQ_INT(bits, 8 * t->record_byte_size);
    CHECK(t->record_byte_size >= 1);
    CHECK_EQ_INT(t->length, t->nrecords * t->record_byte_size);
    CHECK_EQ_INT(body + t->offset + t->length, m->n); /* nothing after the index table */
}

static int roundtrip(size_t ncols, size_t nrows, int null_pct, int pool, const sl_type *force,
                     int tz)
{
    table tb = {0};
    sl_qvd_column_spec *cols = calloc(ncols, sizeof *cols);
    char(*names)[32] = calloc(ncols, 32);
    for (size_t c = 0; c < ncols; c++) {
        cols[c].type = force ? force[c % NTYPES] : (sl_type)(1 + rndn(NTYPES));
        snprintf(names[c], 32, c % 3 == 0 ? "col_%zu" : c % 3 == 1 ? "Stück<%zu>&" : "f %zu", c);
        cols[c].name = names[c];
        cols[c].key = c == 0;
    }
    tb.v = calloc(ncols * nrows + 1, sizeof *tb.v);
    sl_qvd_write_opts o = {.table_name = "rt",
                           .creator_doc = "sluice://test",
                           .lineage = "test;",
                           .tz_offset_minutes = tz,
                           .create_time_us = 1700000000000000LL};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, ncols, cols);
    CHECK(w != NULL);
    int ok = 1;
    for (size_t r = 0; r < nrows && ok; r++) {
        for (size_t c = 0; c < ncols; c++) {
            sl_value *v = &tb.v[r * ncols + c];
            uint64_t save = rng_state;
            if ((int)rndn(100) < null_pct) {
                memset(v, 0, sizeof *v);
                v->flag = SL_CELL_NULL;
            } else {
                gen_value(&tb, cols[c].type, v, pool);
            }
            if (pool)
                rng_state = save + 0x51ed27ull * (r * ncols + c + 1);
        }
        if (sl_qvd_writer_add_row(w, &tb.v[r * ncols]) != 0) {
            fprintf(stderr, "add_row: %s\n", sl_qvd_writer_error(w));
            ok = 0;
        }
    }
    CHECK(ok);
    membuf m = {0};
    CHECK(sl_qvd_writer_finish(w, membuf_out, &m) == 0);
    sl_qvd_writer_free(w);
    char err[256];
    sl_qvd_table *t = sl_qvd_read_buffer(m.p, m.n, err, sizeof err);
    if (!t)
        fprintf(stderr, "read back: %s\n", err);
    CHECK(t != NULL);
    int bad = 0;
    if (t) {
        CHECK_EQ_INT(t->nrecords, nrows);
        CHECK_EQ_INT(t->nfields, ncols);
        m.p = t->buf; /* owned by t now; used by check_layout only */
        check_layout(&m, t);
        check_numbers_unique(t);
        for (size_t c = 0; c < ncols; c++)
            expect_first_spelling(cols[c].type, &tb.v[c], nrows, ncols);
        for (size_t c = 0; c < ncols && c < t->nfields; c++)
            CHECK_EQ_STR(t->fields[c].name, names[c]);
        for (size_t r = 0; r < nrows; r++)
            for (size_t c = 0; c < ncols; c++) {
                const sl_qvd_symbol *s = sl_qvd_cell(t, r, c);
                size_t need = sl_qvd_symbol_scratch_size(s, cols[c].type);
                char *scratch = malloc(need);
                sl_value got;
                int rc = sl_qvd_symbol_to_value(s, cols[c].type, &got, scratch, need);
                const sl_value *want = &tb.v[r * ncols + c];
                if (rc != 0 || !value_eq(cols[c].type, want, &got)) {
                    if (bad++ < 5)
                        fprintf(stderr,
                                "row %zu col %zu type %d: rc %d, want i=%" PRId64
                                " f=%.17g '%.*s', got i=%" PRId64 " f=%.17g '%.*s' (sym '%s')\n",
                                r, c, (int)cols[c].type, rc, want->i, want->f,
                                (int)(want->len > 40 ? 40 : want->len), want->p ? want->p : "",
                                got.i, got.f, (int)(got.len > 40 ? 40 : got.len),
                                got.p ? got.p : "", s ? s->s : "NULL");
                }
                free(scratch);
            }
        sl_qvd_table_free(t);
    } else {
        free(m.p);
    }
    CHECK_EQ_INT(bad, 0);
    for (size_t i = 0; i < tb.nowned; i++)
        free(tb.owned[i]);
    free(tb.owned);
    free(tb.v);
    free(cols);
    free(names);
    return bad == 0;
}

static const sl_type all_types[NTYPES] = {
    SL_T_INT64, SL_T_DOUBLE,    SL_T_DECIMAL,     SL_T_STRING, SL_T_BOOL,   SL_T_DATE,
    SL_T_TIME,  SL_T_TIMESTAMP, SL_T_TIMESTAMPTZ, SL_T_BINARY, SL_T_UINT64, SL_T_TIMESTAMPOFF};

static void test_zero_rows(void)
{
    roundtrip(NTYPES, 0, 0, 0, all_types, 0);
    roundtrip(1, 0, 0, 0, all_types, 0);
}

static void test_one_row(void)
{
    roundtrip(NTYPES, 1, 0, 0, all_types, 0);
    roundtrip(NTYPES, 1, 100, 0, all_types, 0);
}

static void test_one_field(void)
{
    for (int t = 0; t < NTYPES; t++) {
        sl_type ty[NTYPES];
        for (int k = 0; k < NTYPES; k++)
            ty[k] = all_types[t];
        roundtrip(1, 300, 10, 0, ty, 0);
        roundtrip(1, 50, 0, 1, ty, 0); /* one distinct value: BitWidth 0 */
    }
}

static void test_all_types_nulls(void)
{
    roundtrip(NTYPES, 2000, 0, 0, all_types, 0);
    roundtrip(NTYPES, 2000, 30, 0, all_types, 0);
    roundtrip(NTYPES, 500, 100, 0, all_types, 0); /* all NULL */
    roundtrip(24, 3000, 20, 7, all_types, 0);     /* few distinct values */
    roundtrip(NTYPES, 1000, 5, 0, all_types, 120);
    roundtrip(NTYPES, 1000, 5, 0, all_types, -330);
}

static void test_many_fields(void)
{
    roundtrip(300, 200, 10, 0, NULL, 0);
    roundtrip(70, 500, 50, 3, NULL, 0);
}

static void test_random_tables(void)
{
    for (int i = 0; i < 30; i++)
        roundtrip(1 + rndn(30), rndn(800), (int)rndn(60), rndn(3) ? 0 : (int)rndn(20) + 1, NULL,
                  (int)rndn(3) * 60);
}

static void test_rejects(void)
{
    sl_qvd_column_spec cols[2] = {{"s", SL_T_STRING, 0}, {"d", SL_T_DECIMAL, 0}};
    sl_qvd_write_opts o = {.table_name = "x"};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, 2, cols);
    sl_value v[2] = {{.flag = SL_CELL_VALUE, .p = "a\0b", .len = 3}, {.flag = SL_CELL_NULL}};
    CHECK(sl_qvd_writer_add_row(w, v) == -1);
    CHECK(strstr(sl_qvd_writer_error(w), "NUL") != NULL);
    /* the refused row left nothing behind: the table is still writable and empty */
    membuf m = {0};
    CHECK(sl_qvd_writer_finish(w, membuf_out, &m) == 0);
    char err[256];
    sl_qvd_table *t = sl_qvd_read_buffer(m.p, m.n, err, sizeof err);
    CHECK(t && t->nrecords == 0 && t->fields[0].nsymbols == 0);
    sl_qvd_table_free(t);
    sl_qvd_writer_free(w);
}

/* Texts beyond the int64 microsecond range are refused, not overflowed (found by the fuzzer;
 * the ASan/UBSan build turns an overflow into a failure). */
static void test_text_out_of_range(void)
{
    static const struct {
        const char *text;
        sl_type t;
        int rc;
    } cases[] = {
        {"719162483-01-01 00:00:00", SL_T_TIMESTAMP, -1},
        {"-719162483-01-01 00:00:00", SL_T_TIMESTAMPTZ, -1},
        {"294247-01-10 04:00:54.775807", SL_T_TIMESTAMP, 0},  /* INT64_MAX us */
        {"294247-01-10 04:00:54.775808", SL_T_TIMESTAMP, -1}, /* one past */
        {"2562047788:00:00", SL_T_TIME, 0},
        {"2562047788:59:59", SL_T_TIME, -1},
        {"294247-01-10 04:00:54.775807 -01:00", SL_T_TIMESTAMPTZ, -1}, /* offset pushes it over */
        {"2024-02-30", SL_T_DATE, 0}, /* lenient day check, like Qlik's own texts: no overflow */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sl_qvd_symbol sym = {
            .type = SL_QVD_SYM_STRING, .s = cases[i].text, .slen = strlen(cases[i].text)};
        sl_value v;
        char scratch[64];
        int rc = sl_qvd_symbol_to_value(&sym, cases[i].t, &v, scratch, sizeof scratch);
        if (rc != cases[i].rc)
            fprintf(stderr, "  %s: rc %d\n", cases[i].text, rc);
        CHECK_EQ_INT(rc, cases[i].rc);
        if (i == 2)
            CHECK(v.i == INT64_MAX);
    }
}

int main(void)
{
    const char *seed = getenv("SL_QVD_SEED");
    if (seed)
        rng_state = strtoull(seed, NULL, 0);
    fprintf(stderr, "seed 0x%llx\n", (unsigned long long)rng_state);
    SL_RUN(test_zero_rows);
    SL_RUN(test_one_row);
    SL_RUN(test_one_field);
    SL_RUN(test_all_types_nulls);
    SL_RUN(test_many_fields);
    SL_RUN(test_random_tables);
    SL_RUN(test_rejects);
    SL_RUN(test_text_out_of_range);
    SL_DONE();
}
