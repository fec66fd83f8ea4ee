/* Reads every Qlik-written sample in ../shared/testdata/qvd and compares every cell with
 * expected/<folder>/<name>.tsv (notation in the testdata README); damaged.qvd must be refused. */
#include "qvd/qvd.h"
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
                    fprintf(stderr, "%s: field %zu is %s, expected %s\n", qvd, f,
                            t->fields[f].name, c);
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
    SL_DONE();
}
