/* Reads every Qlik-written sample in ../shared/testdata/qvd and compares every cell with
 * expected/<folder>/<name>.tsv (notation in the testdata README); damaged.qvd must be refused. */
#include "qvd_test_util.h"
#include "sl_test.h"

#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, fp) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(fp);
    if (b) {
        b[n] = 0;
        *len = (size_t)n;
    }
    return b;
}

/* Compares one cell; returns 1 when equal. */
static int cell_eq(const sl_qvd_symbol *s, const char *exp)
{
    if (strcmp(exp, "NULL") == 0)
        return s == NULL;
    if (!s)
        return 0;
    if (strncmp(exp, "I:", 2) == 0)
        return s->type == SL_QVD_SYM_INT && s->i == strtol(exp + 2, NULL, 10);
    if (strncmp(exp, "D:", 2) == 0)
        return s->type == SL_QVD_SYM_DOUBLE && s->d == strtod(exp + 2, NULL);
    if (strncmp(exp, "S:", 2) == 0)
        return s->type == SL_QVD_SYM_STRING && strcmp(s->s, exp + 2) == 0 &&
               s->slen == strlen(exp + 2);
    const char *bar = strchr(exp, '|');
    if (!bar)
        return 0;
    if (strncmp(exp, "DI:", 3) == 0)
        return s->type == SL_QVD_SYM_DUAL_INT && s->i == strtol(exp + 3, NULL, 10) &&
               strcmp(s->s, bar + 1) == 0;
    if (strncmp(exp, "DD:", 3) == 0)
        return s->type == SL_QVD_SYM_DUAL_DOUBLE && s->d == strtod(exp + 3, NULL) &&
               strcmp(s->s, bar + 1) == 0;
    return 0;
}

static int check_file(const char *qvd, const char *tsv)
{
    size_t len;
    char *text = slurp(tsv, &len);
    char err[256];
    sl_qvd_table *t = sl_qvd_read_file(qvd, err, sizeof err);
    if (!t || !text) {
        fprintf(stderr, "%s: %s\n", qvd, t ? "no tsv" : err);
        free(text);
        sl_qvd_table_free(t);
        return 0;
    }
    int bad = 0;
    uint64_t row = 0;
    char *save = NULL;
    int line = 0;
    for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save), line++) {
        size_t f = 0;
        char *cs = NULL;
        /* strtok_r would merge empty cells; split by hand */
        for (char *c = ln;; f++) {
            char *tab = strchr(c, '\t');
            if (tab)
                *tab = 0;
            (void)cs;
            if (f >= t->nfields) {
                bad++;
                break;
            }
            if (line == 0) {
                if (strcmp(t->fields[f].name, c) != 0) {
                    fprintf(stderr, "%s: field %zu is %s, expected %s\n", qvd, f, t->fields[f].name,
                            c);
                    bad++;
                }
            } else if (!cell_eq(sl_qvd_cell(t, row, f), c)) {
                if (bad < 5)
                    fprintf(stderr, "%s: row %llu field %s: expected %s\n", qvd,
                            (unsigned long long)row, t->fields[f].name, c);
                bad++;
            }
            if (!tab)
                break;
            c = tab + 1;
        }
        if (f + 1 != t->nfields) {
            fprintf(stderr, "%s: line %d has %zu cells, table has %zu fields\n", qvd, line, f + 1,
                    t->nfields);
            bad++;
        }
        if (line > 0)
            row++;
    }
    if (row != t->nrecords) {
        fprintf(stderr, "%s: %llu rows expected, file has %llu\n", qvd, (unsigned long long)row,
                (unsigned long long)t->nrecords);
        bad++;
    }
    /* reading past the last row or field is NULL, never out of bounds */
    CHECK(sl_qvd_cell(t, t->nrecords, 0) == NULL);
    CHECK(sl_qvd_cell(t, 0, t->nfields) == NULL);
    sl_qvd_table_free(t);
    free(text);
    return bad == 0;
}

static char root[1024];

static void test_every_sample(void)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/qvd/expected", root);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d)
        return;
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[1500];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        DIR *d2 = opendir(sub);
        if (!d2)
            continue;
        struct dirent *e2;
        while ((e2 = readdir(d2))) {
            size_t n = strlen(e2->d_name);
            if (n < 5 || strcmp(e2->d_name + n - 4, ".tsv") != 0)
                continue;
            char tsv[2000], qvd[2000];
            snprintf(tsv, sizeof tsv, "%s/%s", sub, e2->d_name);
            snprintf(qvd, sizeof qvd, "%s/qvd/%s/%.*s.qvd", root, e->d_name, (int)(n - 4),
                     e2->d_name);
            int ok = check_file(qvd, tsv);
            fprintf(stderr, "  %s %s\n", ok ? "ok  " : "FAIL", qvd);
            CHECK(ok);
            files++;
        }
        closedir(d2);
    }
    closedir(d);
    CHECK(files >= 14); /* all valid samples listed in the README */
}

static void test_damaged_rejected(void)
{
    char path[1200], err[256] = "";
    snprintf(path, sizeof path, "%s/qvd/qvd4js/damaged.qvd", root);
    sl_qvd_table *t = sl_qvd_read_file(path, err, sizeof err);
    CHECK(t == NULL);
    CHECK(err[0] != 0 && strchr(err, '\n') == NULL);
    fprintf(stderr, "  damaged.qvd: %s\n", err);
    sl_qvd_table_free(t);
}

static void test_sample_details(void)
{
    char path[1200], err[256];
    /* all-NULL field: 0 symbols, Bias -2; CRLF kept inside a Lineage value */
    snprintf(path, sizeof path, "%s/qvd/qvd-utils/test_qvd_null.qvd", root);
    sl_qvd_table *t = sl_qvd_read_file(path, err, sizeof err);
    CHECK(t != NULL);
    if (t) {
        CHECK_EQ_INT(t->fields[3].nsymbols, 0);
        CHECK_EQ_INT(t->fields[3].bias, -2);
        int crlf = 0;
        for (size_t i = 0; i < t->nlineage; i++)
            crlf |= strstr(t->lineage[i], "\r\n") != NULL;
        CHECK(crlf);
    }
    sl_qvd_table_free(t);
    /* QlikView 7314: NumberFormat Type 0 read as UNKNOWN, width-0 field */
    snprintf(path, sizeof path, "%s/qvd/qvdfile/tab1.qvd", root);
    t = sl_qvd_read_file(path, err, sizeof err);
    CHECK(t != NULL);
    if (t) {
        CHECK_EQ_STR(t->fields[0].numfmt.type, "UNKNOWN");
        CHECK_EQ_INT(t->fields[2].bit_width, 0);
    }
    sl_qvd_table_free(t);
}

/* Header skeleton: each line's indentation and tags with the text removed; Tags lists are
 * folded to <Tags></Tags> (their content depends on the data). */
static char *skeleton(const char *h, size_t n)
{
    char *out = malloc(n + 1);
    size_t k = 0;
    int in_tags = 0;
    for (const char *p = h; p < h + n;) {
        const char *e = memchr(p, '\n', (size_t)(h + n - p));
        size_t len = e ? (size_t)(e - p) + 1 : (size_t)(h + n - p);
        char line[512];
        size_t ll = len < sizeof line - 1 ? len : sizeof line - 1;
        memcpy(line, p, ll);
        line[ll] = 0;
        p += len;
        const char *tag = line + strspn(line, " ");
        if (strncmp(tag, "<Tags>\r", 7) == 0) {
            in_tags = 1;
            continue;
        }
        if (in_tags) {
            if (strncmp(tag, "</Tags>", 7) == 0) {
                in_tags = 0;
                k += (size_t)sprintf(out + k, "%.*s<Tags></Tags>\r\n", (int)(tag - line), line);
            }
            continue;
        }
        /* drop the text between ">" and "</" */
        char *gt = strchr(line, '>'), *close = gt ? strstr(gt, "</") : NULL;
        if (gt && close && close > gt + 1 && line[strspn(line, " ") + 1] != '/')
            memmove(gt + 1, close, strlen(close) + 1);
        k += (size_t)sprintf(out + k, "%s", line);
    }
    out[k] = 0;
    return out;
}

static void test_header_shape_like_qlik(void)
{
    char path[1200];
    size_t qlen;
    snprintf(path, sizeof path, "%s/qvd/ctrl-q-qvd-viewer/colors.qvd", root);
    char *q = slurp(path, &qlen);
    CHECK(q != NULL);
    if (!q)
        return;
    sl_qvd_column_spec cols[] = {{"id", SL_T_INT64, 0},
                                 {"name", SL_T_STRING, 0},
                                 {"rgb", SL_T_STRING, 0},
                                 {"is_trans", SL_T_BOOL, 0}};
    sl_qvd_write_opts o = {.table_name = "colors", .lineage = "colors.csv;"};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, 4, cols);
    sl_value v[4] = {{.i = 1}, {.p = "Red", .len = 3}, {.p = "C91A09", .len = 6}, {.i = 0}};
    CHECK(sl_qvd_writer_add_row(w, v) == 0);
    membuf m = {0};
    CHECK(sl_qvd_writer_finish(w, membuf_out, &m) == 0);
    sl_qvd_writer_free(w);
    char *a = skeleton(q, strlen(q)), *b = skeleton((char *)m.p, strlen((char *)m.p));
    CHECK(strcmp(a, b) == 0);
    if (strcmp(a, b) != 0)
        fprintf(stderr, "--- Qlik:\n%s\n--- ours:\n%s\n", a, b);
    /* both end "</QvdTableHeader>\r\n" + 0x00 */
    size_t ql = strlen(q), ml = strlen((char *)m.p);
    CHECK(ql < qlen && ml < m.n && strcmp(q + ql - 19, "</QvdTableHeader>\r\n") == 0 &&
          strcmp((char *)m.p + ml - 19, "</QvdTableHeader>\r\n") == 0);
    free(a);
    free(b);
    free(q);
    free(m.p);
}

int main(void)
{
    const char *src = getenv("SL_SOURCE_DIR");
    struct stat st;
    snprintf(root, sizeof root, "%s/../shared/testdata", src ? src : ".");
    if (stat(root, &st) != 0)
        SL_SKIP("../shared/testdata not present");
    SL_RUN(test_every_sample);
    SL_RUN(test_damaged_rejected);
    SL_RUN(test_sample_details);
    SL_RUN(test_header_shape_like_qlik);
    SL_DONE();
}
