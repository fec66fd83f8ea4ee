/* "One number, one symbol" (docs/qvd-types.md): no two symbols of a field share a number, since
 * Qlik links values by number. The same number written another way (DECIMAL 1 / 1.0 / 1.00,
 * DOUBLE 0.0 / -0.0) shares the first symbol (first text wins, as when Qlik loads such values);
 * a different value whose number rounds onto an earlier one (INT64/UINT64 beyond 2^53, long
 * DECIMALs, timestamps microseconds apart beyond 2079, TIMESTAMPOFF with another offset) is
 * written as a text symbol with its exact text. Also the UINT64 / TIMESTAMPOFF mapping and the
 * source's field metadata in the header. */
#include "qvd_test_util.h"
#include "sl_test.h"

#include <inttypes.h>
#include <math.h>

typedef struct {
    membuf m;
    sl_qvd_table *t;
} file;

static file write1(sl_type ty, const sl_value *v, size_t n, int tz, const sl_field *meta)
{
    sl_qvd_column_spec col = {"v", ty, 0};
    sl_qvd_write_opts o = {
        .table_name = "n", .create_time_us = 1, .tz_offset_minutes = tz, .fields = meta};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, 1, &col);
    for (size_t i = 0; i < n; i++)
        CHECK(sl_qvd_writer_add_row(w, &v[i]) == 0);
    file f = {{0}, NULL};
    CHECK(sl_qvd_writer_finish(w, membuf_out, &f.m) == 0);
    sl_qvd_writer_free(w);
    unsigned char *copy = malloc(f.m.n);
    memcpy(copy, f.m.p, f.m.n);
    char err[256];
    f.t = sl_qvd_read_buffer(copy, f.m.n, err, sizeof err);
    if (!f.t)
        fprintf(stderr, "  read: %s\n", err);
    CHECK(f.t != NULL);
    return f;
}

static void file_free(file *f)
{
    sl_qvd_table_free(f->t);
    free(f->m.p);
}

/* Symbol index of row r, -1 for NULL. */
static int sym_of(const file *f, uint64_t r)
{
    const sl_qvd_symbol *s = sl_qvd_cell(f->t, r, 0);
    return s ? (int)(s - f->t->fields[0].symbols) : -1;
}

/* Reads row r back as type ty. */
static sl_value back(const file *f, uint64_t r, sl_type ty, char *scratch)
{
    sl_value v;
    CHECK(sl_qvd_symbol_to_value(sl_qvd_cell(f->t, r, 0), ty, &v, scratch, 64) == 0);
    return v;
}

static const sl_qvd_symbol *sym(const file *f, int i)
{
    return &f->t->fields[0].symbols[i];
}

static int has_tag(const file *f, const char *tag)
{
    for (size_t k = 0; k < f->t->fields[0].ntags; k++)
        if (strcmp(f->t->fields[0].tags[k], tag) == 0)
            return 1;
    return 0;
}

static sl_value dec(const char *s)
{
    sl_value v = {.flag = SL_CELL_VALUE, .p = s, .len = strlen(s)};
    return v;
}

static void test_decimal_same_number(void)
{
    sl_value v[] = {dec("1.0"), dec("2"), dec("1"),     dec("1.00"), dec("+1"), dec("10e-1"),
                    dec("-0"),  dec("0"), dec("0.000"), dec("2.50"), dec("2.5")};
    file f = write1(SL_T_DECIMAL, v, 11, 0, NULL);
    if (!f.t)
        return;
    CHECK_EQ_INT(f.t->fields[0].nsymbols, 4); /* 1.0, 2, -0, 2.50 */
    static const int want[] = {0, 1, 0, 0, 0, 0, 2, 2, 2, 3, 3};
    char sc[64];
    for (int r = 0; r < 11; r++) {
        CHECK_EQ_INT(sym_of(&f, (uint64_t)r), want[r]);
        sl_value b = back(&f, (uint64_t)r, SL_T_DECIMAL, sc);
        sl_value first = v[(r == 0 || (r >= 2 && r <= 5)) ? 0 : r == 1 ? 1 : r <= 8 ? 6 : 9];
        CHECK(b.len == first.len && memcmp(b.p, first.p, b.len) == 0); /* first text wins */
    }
    CHECK(sym(&f, 0)->type == SL_QVD_SYM_DUAL_INT && sym(&f, 0)->i == 1);
    CHECK_EQ_STR(sym(&f, 0)->s, "1.0");
    CHECK(has_tag(&f, "$numeric")); /* still one clean numeric field */
    file_free(&f);
}

static void test_decimal_rounding_onto_another(void)
{
    /* the same double, different exact decimals: the later ones keep their text */
    sl_value v[] = {dec("0.1"),
                    dec("0.1000000000000000000001"),
                    dec("0.10000000000000000001"),
                    dec("0.1000000000000000000001"),
                    dec("123456789012345678901234567890"),
                    dec("123456789012345678901234567891")};
    file f = write1(SL_T_DECIMAL, v, 6, 0, NULL);
    if (!f.t)
        return;
    CHECK_EQ_INT(f.t->fields[0].nsymbols, 5);
    CHECK_EQ_INT(sym_of(&f, 3), sym_of(&f, 1)); /* identical text: one symbol */
    CHECK(sym(&f, 0)->type == SL_QVD_SYM_DUAL_DOUBLE);
    CHECK(sym(&f, 1)->type == SL_QVD_SYM_STRING && sym(&f, 2)->type == SL_QVD_SYM_STRING);
    CHECK(sym(&f, 3)->type == SL_QVD_SYM_DUAL_DOUBLE && sym(&f, 4)->type == SL_QVD_SYM_STRING);
    char sc[64];
    for (int r = 0; r < 6; r++) {
        sl_value b = back(&f, (uint64_t)r, SL_T_DECIMAL, sc);
        CHECK(b.len == v[r].len && memcmp(b.p, v[r].p, b.len) == 0);
    }
    CHECK(!has_tag(&f, "$numeric")); /* text and numbers mixed: no tags, as Qlik */
    file_free(&f);
}

static void test_double_zero(void)
{
    sl_value v[] = {{.f = -0.0}, {.f = 1.5}, {.f = 0.0}, {.f = -0.0}, {.f = NAN}, {.f = -NAN}};
    file f = write1(SL_T_DOUBLE, v, 6, 0, NULL);
    if (!f.t)
        return;
    CHECK_EQ_INT(f.t->fields[0].nsymbols, 3);
    CHECK_EQ_INT(sym_of(&f, 2), 0);
    CHECK_EQ_INT(sym_of(&f, 3), 0);
    CHECK_EQ_INT(sym_of(&f, 5), 2); /* one NaN */
    char sc[64];
    sl_value b = back(&f, 2, SL_T_DOUBLE, sc);
    CHECK(b.f == 0 && signbit(b.f)); /* the first zero, -0.0, wins */
    file_free(&f);
}

static void int_beyond_2_53(sl_type ty, int sorted)
{
    /* 2^53 + 1 rounds onto 2^53: it is written as text "9007199254740993" */
    int64_t a = 9007199254740992LL;
    sl_value v[4];
    int64_t in[4] = {a, a + 1, a + 2, a + 3}; /* as doubles (ties to even): a, a, a+2, a+4 */
    for (int i = 0; i < 4; i++) {
        int k = sorted ? i : 3 - i;
        v[i] = (sl_value){.flag = SL_CELL_VALUE, .i = in[k]};
    }
    file f = write1(ty, v, 4, 0, NULL);
    if (!f.t)
        return;
    CHECK_EQ_INT(f.t->fields[0].nsymbols, 4);
    int ntext = 0;
    for (int i = 0; i < 4; i++)
        ntext += sym(&f, i)->type == SL_QVD_SYM_STRING;
    CHECK_EQ_INT(ntext, 1); /* whichever of a, a+1 comes second */
    char sc[64];
    for (int r = 0; r < 4; r++)
        CHECK(back(&f, (uint64_t)r, ty, sc).i == v[r].i);
    file_free(&f);
}

static void test_int64_beyond_2_53(void)
{
    int_beyond_2_53(SL_T_INT64, 1); /* the writer's sorted mode (no hash table) */
    int_beyond_2_53(SL_T_INT64, 0);
    int_beyond_2_53(SL_T_UINT64, 0);
}

static void test_uint64(void)
{
    sl_value v[] = {{.i = 7},
                    {.i = (int64_t)2147483648u},
                    {.i = (int64_t)UINT64_MAX},
                    {.i = (int64_t)(UINT64_MAX - 1)},
                    {.i = (int64_t)((uint64_t)INT64_MAX + 1)},
                    {.i = INT64_MAX}};
    file f = write1(SL_T_UINT64, v, 6, 0, NULL);
    if (!f.t)
        return;
    CHECK(sym(&f, 0)->type == SL_QVD_SYM_INT && sym(&f, 0)->i == 7);
    CHECK(sym(&f, 1)->type == SL_QVD_SYM_DUAL_DOUBLE && sym(&f, 1)->d == 2147483648.0);
    CHECK_EQ_STR(sym(&f, 2)->s, "18446744073709551615");
    CHECK(sym(&f, 2)->type == SL_QVD_SYM_DUAL_DOUBLE && sym(&f, 2)->d == 18446744073709551616.0);
    CHECK(sym(&f, 3)->type == SL_QVD_SYM_STRING); /* same double as UINT64_MAX */
    CHECK_EQ_STR(sym(&f, 3)->s, "18446744073709551614");
    CHECK_EQ_STR(sym(&f, 4)->s, "9223372036854775808");
    CHECK(sym(&f, 5)->type == SL_QVD_SYM_STRING); /* 2^63 - 1 rounds onto 2^63 */
    char sc[64];
    for (int r = 0; r < 6; r++)
        CHECK(back(&f, (uint64_t)r, SL_T_UINT64, sc).i == v[r].i);
    CHECK_EQ_STR(f.t->fields[0].numfmt.type, "INTEGER");
    file_free(&f);
}

static void test_timestampoff(void)
{
    /* 2024-03-10 12:00:00 UTC = 1710072000 s */
    int64_t t0 = 1710072000000000LL;
    sl_value v[] = {
        {.i = t0, .aux = 3600},             /* 13:00 +01:00 */
        {.i = t0, .aux = -5 * 3600 - 1800}, /* the same instant, another offset */
        {.i = t0 + 1, .aux = 0},            /* 12:00:00.000001 +00:00 */
        {.i = t0, .aux = 561},              /* local mean time +00:09:21 */
    };
    file f = write1(SL_T_TIMESTAMPOFF, v, 4, 120, NULL);
    if (!f.t)
        return;
    CHECK_EQ_STR(sym(&f, 0)->s, "2024-03-10 13:00:00 +01:00");
    CHECK(sym(&f, 0)->type == SL_QVD_SYM_DUAL_DOUBLE);
    /* the number is the instant in the job's zone (+02:00 here), like TIMESTAMPTZ */
    double want = 45361.0 + 14.0 / 24.0;
    CHECK(fabs(sym(&f, 0)->d - want) < 1e-9);
    CHECK(sym(&f, 1)->type == SL_QVD_SYM_STRING); /* same instant: its own text kept */
    CHECK_EQ_STR(sym(&f, 1)->s, "2024-03-10 06:30:00 -05:30");
    CHECK_EQ_STR(sym(&f, 2)->s, "2024-03-10 12:00:00.000001 +00:00");
    CHECK(sym(&f, 2)->type == SL_QVD_SYM_DUAL_DOUBLE);
    CHECK_EQ_STR(sym(&f, 3)->s, "2024-03-10 12:09:21 +00:09:21");
    char sc[64];
    for (int r = 0; r < 4; r++) {
        sl_value b = back(&f, (uint64_t)r, SL_T_TIMESTAMPOFF, sc);
        CHECK(b.i == v[r].i && b.aux == v[r].aux);
    }
    CHECK_EQ_STR(f.t->fields[0].numfmt.type, "TIMESTAMP");
    file_free(&f);
}

static void test_timestamp_far_future(void)
{
    /* 9999-12-31 23:59:59.999999 and .999998: ~40 µs per double step there */
    int64_t t = 253402300799999999LL;
    sl_value v[] = {{.i = t - 1}, {.i = t}, {.i = t - 5000000}};
    file f = write1(SL_T_TIMESTAMP, v, 3, 0, NULL);
    if (!f.t)
        return;
    CHECK_EQ_INT(f.t->fields[0].nsymbols, 3);
    CHECK(sym(&f, 1)->type == SL_QVD_SYM_STRING);
    CHECK_EQ_STR(sym(&f, 1)->s, "9999-12-31 23:59:59.999999");
    char sc[64];
    for (int r = 0; r < 3; r++)
        CHECK(back(&f, (uint64_t)r, SL_T_TIMESTAMP, sc).i == v[r].i);
    file_free(&f);
}

/* The source's field metadata: DECIMAL scale -> NumberFormat FIX/INTEGER with nDec; source type
 * and NOT NULL -> the field's Comment. */
static void test_field_metadata(void)
{
    sl_field m = SL_FIELD_INIT("v", SL_T_DECIMAL, 0);
    m.scale = 2;
    m.precision = 12;
    m.flags = SL_FIELD_NOT_NULL;
    m.source_type = "numeric(12,2)";
    sl_value v[] = {dec("1.50"), dec("-3.25")};
    file f = write1(SL_T_DECIMAL, v, 2, 0, &m);
    if (!f.t)
        return;
    CHECK_EQ_STR(f.t->fields[0].numfmt.type, "FIX");
    CHECK_EQ_INT(f.t->fields[0].numfmt.ndec, 2);
    CHECK_EQ_STR(f.t->fields[0].comment, "numeric(12,2) NOT NULL");
    file_free(&f);
    m.scale = 0;
    m.flags = 0;
    m.source_type = "bigint unsigned";
    f = write1(SL_T_DECIMAL, v, 1, 0, &m);
    if (f.t) {
        CHECK_EQ_STR(f.t->fields[0].numfmt.type, "INTEGER");
        CHECK_EQ_STR(f.t->fields[0].comment, "bigint unsigned");
    }
    file_free(&f);
    m.scale = -1; /* unknown: as without metadata */
    m.source_type = NULL;
    f = write1(SL_T_DECIMAL, v, 1, 0, &m);
    if (f.t) {
        CHECK_EQ_STR(f.t->fields[0].numfmt.type, "UNKNOWN");
        CHECK_EQ_STR(f.t->fields[0].comment, "");
    }
    file_free(&f);
}

int main(void)
{
    SL_RUN(test_decimal_same_number);
    SL_RUN(test_decimal_rounding_onto_another);
    SL_RUN(test_double_zero);
    SL_RUN(test_int64_beyond_2_53);
    SL_RUN(test_uint64);
    SL_RUN(test_timestampoff);
    SL_RUN(test_timestamp_far_future);
    SL_RUN(test_field_metadata);
    SL_DONE();
}
