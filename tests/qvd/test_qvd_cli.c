/* sluice qvd info|cat through sl_cli_qvd: output formats, NULL text, limits, exit codes. */
#include "qvd_test_util.h"
#include "sl_test.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char out[65536], errbuf[4096];

/* Runs sl_cli_qvd with stdout/stderr captured into out/errbuf. */
static int run(int argc, char **argv)
{
    char o[] = "/tmp/sl_qvd_cli_outXXXXXX", e[] = "/tmp/sl_qvd_cli_errXXXXXX";
    int fo = mkstemp(o), fe = mkstemp(e);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    dup2(fo, 1);
    dup2(fe, 2);
    int rc = sl_cli_qvd(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    ssize_t n = pread(fo, out, sizeof out - 1, 0);
    out[n > 0 ? n : 0] = 0;
    n = pread(fe, errbuf, sizeof errbuf - 1, 0);
    errbuf[n > 0 ? n : 0] = 0;
    close(fo);
    close(fe);
    unlink(o);
    unlink(e);
    return rc;
}

static char path[] = "/tmp/sl_qvd_cli_XXXXXX.qvd";

static void make_file(void)
{
    int fd = mkstemps(path, 4);
    close(fd);
    sl_qvd_column_spec cols[] = {{"id", SL_T_INT64, 1},      {"name", SL_T_STRING, 0},
                                 {"price", SL_T_DECIMAL, 0}, {"x", SL_T_DOUBLE, 0},
                                 {"day", SL_T_DATE, 0},      {"big", SL_T_INT64, 0}};
    sl_qvd_write_opts o = {.table_name = "items", .lineage = "src;", .create_time_us = 1};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, 6, cols);
    sl_value r1[6] = {{.i = 1}, {.p = "a,\"b\"", .len = 5}, {.p = "10.50", .len = 5}, {.f = 0.1},
                      {.i = 0}, {.i = 9007199254740993LL}};
    sl_value r2[6] = {{.i = 2},  {.flag = SL_CELL_NULL}, {.p = "-3", .len = 2}, {.f = 2.0},
                      {.i = -1}, {.flag = SL_CELL_NULL}};
    CHECK(sl_qvd_writer_add_row(w, r1) == 0);
    CHECK(sl_qvd_writer_add_row(w, r2) == 0);
    CHECK(sl_qvd_writer_finish_file(w, path) == 0);
    sl_qvd_writer_free(w);
}

static void test_cat_csv(void)
{
    char *a[] = {"qvd", "cat", path, "--null", "N/A"};
    CHECK_EQ_INT(run(5, a), 0);
    CHECK_EQ_STR(out, "id,name,price,x,day,big\r\n"
                      "1,\"a,\"\"b\"\"\",10.50,0.1,1970-01-01,9007199254740993\r\n"
                      "2,N/A,-3,2,1969-12-31,N/A\r\n");
}

static void test_cat_jsonl(void)
{
    char *a[] = {"qvd", "cat", path, "--format", "jsonl", "--limit", "1"};
    CHECK_EQ_INT(run(7, a), 0);
    CHECK_EQ_STR(out, "{\"id\":1,\"name\":\"a,\\\"b\\\"\",\"price\":10.50,\"x\":0.1,"
                      "\"day\":\"1970-01-01\",\"big\":9007199254740993}\n");
    char *b[] = {"qvd", "cat", path, "--format", "jsonl", "--limit", "0"};
    CHECK_EQ_INT(run(7, b), 0);
    CHECK_EQ_STR(out, "");
    char *c[] = {"qvd", "cat", path, "--format", "jsonl"};
    CHECK_EQ_INT(run(5, c), 0);
    CHECK(strstr(out, "{\"id\":2,\"name\":null,\"price\":-3,\"x\":2,") != NULL);
}

static void test_info(void)
{
    char *a[] = {"qvd", "info", path};
    CHECK_EQ_INT(run(3, a), 0);
    CHECK(strstr(out, "table:     items\n") != NULL);
    CHECK(strstr(out, "rows:      2\n") != NULL);
    CHECK(strstr(out, "lineage:   src;\n") != NULL);
    CHECK(strstr(out, "created:   1970-01-01 00:00:00 UTC\n") != NULL);
    CHECK(strstr(out, "DATE") != NULL && strstr(out, "$key,$numeric,$integer") != NULL);
}

static void test_errors(void)
{
    char *a[] = {"qvd"};
    CHECK_EQ_INT(run(1, a), 2);
    char *b[] = {"qvd", "frobnicate", path};
    CHECK_EQ_INT(run(3, b), 2);
    char *c[] = {"qvd", "cat", path, "--format", "xml"};
    CHECK_EQ_INT(run(5, c), 2);
    char *d[] = {"qvd", "cat", path, "--limit", "-3"};
    CHECK_EQ_INT(run(5, d), 2);
    char *e[] = {"qvd", "cat"};
    CHECK_EQ_INT(run(2, e), 2);
    char *f[] = {"qvd", "info", "/nonexistent/x.qvd"};
    CHECK_EQ_INT(run(3, f), 1);
    CHECK_EQ_STR(errbuf, "sluice qvd: /nonexistent/x.qvd: No such file or directory\n");
    /* a damaged file: exit 1, one line naming the file */
    FILE *fp = fopen(path, "r+b");
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    CHECK(ftruncate(fileno(fp), n - 1) == 0);
    fclose(fp);
    char *g[] = {"qvd", "cat", path};
    CHECK_EQ_INT(run(3, g), 1);
    CHECK(strncmp(errbuf, "sluice qvd: ", 12) == 0 && strstr(errbuf, path) != NULL);
    CHECK(strchr(errbuf, '\n') == errbuf + strlen(errbuf) - 1);
}

/* Writes one DOUBLE column "x" with the given values into a new temporary file. */
static void write_doubles(char *p, const double *v, int n)
{
    int fd = mkstemps(p, 4);
    close(fd);
    sl_qvd_column_spec col = {"x", SL_T_DOUBLE, 0};
    sl_qvd_write_opts o = {.table_name = "d", .create_time_us = 1};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, 1, &col);
    for (int i = 0; i < n; i++) {
        sl_value x = {.f = v[i]};
        CHECK(sl_qvd_writer_add_row(w, &x) == 0);
    }
    CHECK(sl_qvd_writer_finish_file(w, p) == 0);
    sl_qvd_writer_free(w);
}

/* Whole numbers print as Qlik shows them (10, 670), not 1e+01 / 6.7e+02. */
static void test_cat_numbers(void)
{
    static const double v[] = {10, 670, 1e15, 1e21, 0.000001, 1e-7, 123.5, -2, 0.1};
    char p[] = "/tmp/sl_qvd_cli_numXXXXXX.qvd";
    write_doubles(p, v, 9);
    char *a[] = {"qvd", "cat", p};
    CHECK_EQ_INT(run(3, a), 0);
    CHECK_EQ_STR(out, "x\r\n10\r\n670\r\n1000000000000000\r\n1e+21\r\n0.000001\r\n1e-7\r\n"
                      "123.5\r\n-2\r\n0.1\r\n");
    char *b[] = {"qvd", "cat", p, "--format", "jsonl", "--limit", "2"};
    CHECK_EQ_INT(run(7, b), 0);
    CHECK_EQ_STR(out, "{\"x\":10}\n{\"x\":670}\n");
    unlink(p);
}

/* A FIFO is refused at once (it used to block in open until a writer came). */
static void test_fifo_refused(void)
{
    char dir[] = "/tmp/sl_qvd_cli_fifoXXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char fifo[64];
    snprintf(fifo, sizeof fifo, "%s/f.qvd", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    alarm(10); /* a hang kills the test (SIGALRM) instead of the whole test run */
    char *a[] = {"qvd", "info", fifo};
    CHECK_EQ_INT(run(3, a), 1);
    CHECK(strstr(errbuf, "not a regular file") != NULL);
    char *b[] = {"qvd", "cat", fifo};
    CHECK_EQ_INT(run(3, b), 1);
    alarm(0);
    unlink(fifo);
    rmdir(dir);
}

/* A row whose index points past the field's symbols is an error naming the row and the field,
 * exit 1 (it used to print NULL and exit 0). */
static void test_index_out_of_range(void)
{
    static const double v[] = {1, 2, 3, 1, 2};
    char p[] = "/tmp/sl_qvd_cli_idxXXXXXX.qvd";
    write_doubles(p, v, 5); /* 3 symbols, 2 bits: stored 3 would be symbol 3 */
    FILE *fp = fopen(p, "r+b");
    fseek(fp, -2, SEEK_END); /* row 4 of 5: index 0 -> 3 */
    fputc(3, fp);
    fclose(fp);
    char *a[] = {"qvd", "cat", p};
    CHECK_EQ_INT(run(3, a), 1);
    CHECK(strstr(errbuf, "row 4 of 5, field x: symbol index 3 is outside its 3 symbols") != NULL);
    CHECK(strchr(errbuf, '\n') == errbuf + strlen(errbuf) - 1);
    CHECK_EQ_STR(out, "");
    unlink(p);
}

int main(void)
{
    make_file();
    SL_RUN(test_cat_numbers);
    SL_RUN(test_fifo_refused);
    SL_RUN(test_index_out_of_range);
    SL_RUN(test_cat_csv);
    SL_RUN(test_cat_jsonl);
    SL_RUN(test_info);
    SL_RUN(test_errors);
    unlink(path);
    SL_DONE();
}
