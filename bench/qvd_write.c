/* QVD codec benchmark (not a test): writes N rows of a typical CDC table as QVD, reads it back,
 * and, as a baseline in the same run, writes the same rows as CSV with fwrite.
 *
 *   cc -O2 -std=c17 -D_GNU_SOURCE -Icore -Icore/include bench/qvd_write.c core/qvd/[a-z]*.c \
 *      -lm -o /tmp/qvd_bench && /tmp/qvd_bench 10000000 /tmp [shuffled]
 *
 * Reports wall time, file size, the writer's own memory just before finish, and peak RSS. */
#include "qvd/qvd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

enum { NCOLS = 9 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this process: the machine is shared, so wall time alone is noisy */
static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t xs(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int shuffled; /* argv[3] == "shuffled": keys in a scrambled order (no sorted fast path) */
static uint64_t nrows_total;

/* Row r of the table; text cells point into bufs. */
static void make_row(uint64_t r, sl_value *v, char bufs[NCOLS][64])
{
    if (shuffled) /* a permutation of 0..rows-1 when gcd(40503, rows) == 1 */
        r = r * 40503u % nrows_total;
    memset(v, 0, sizeof(sl_value) * NCOLS);
    static const char *status[] = {"new", "paid", "shipped", "returned", "cancelled"};
    uint64_t x = xs();
    v[0].i = (int64_t)r + 1;        /* id: unique */
    v[1].i = (int64_t)(x % 100000); /* customer_id */
    int n = snprintf(bufs[2], 64, "%u.%02u", (unsigned)(x >> 20) % 5000, (unsigned)(x >> 40) % 100);
    v[2].p = bufs[2]; /* amount DECIMAL ~500k distinct */
    v[2].len = (size_t)n;
    v[3].f = (double)((x >> 8) % 1000000) / 7.0; /* price DOUBLE ~1M distinct */
    v[4].p = status[(x >> 3) % 5];               /* status */
    v[4].len = strlen(v[4].p);
    n = snprintf(bufs[5], 64, "customer %" PRIu64, (x >> 12) % 200000);
    v[5].p = bufs[5]; /* name ~200k distinct */
    v[5].len = (size_t)n;
    v[6].i = 1700000000000000LL + (int64_t)r * 1000003; /* created TIMESTAMP: unique */
    v[7].i = 19000 + (int64_t)(x % 3650);               /* day DATE */
    v[8].i = (int64_t)(x >> 63);                        /* flag BOOL */
    if (x % 17 == 0)
        v[5].flag = SL_CELL_NULL;
}

static const sl_qvd_column_spec cols[NCOLS] = {
    {"id", SL_T_INT64, 1},          {"customer_id", SL_T_INT64, 0}, {"amount", SL_T_DECIMAL, 0},
    {"price", SL_T_DOUBLE, 0},      {"status", SL_T_STRING, 0},     {"name", SL_T_STRING, 0},
    {"created", SL_T_TIMESTAMP, 0}, {"day", SL_T_DATE, 0},          {"flag", SL_T_BOOL, 0}};

static void csv_value(FILE *fp, sl_type t, const sl_value *v)
{
    char b[64];
    int n = 0;
    if (v->flag == SL_CELL_NULL)
        return;
    switch (t) {
    case SL_T_DOUBLE:
        n = snprintf(b, sizeof b, "%.17g", v->f);
        break;
    case SL_T_DECIMAL:
    case SL_T_STRING:
        fwrite(v->p, 1, v->len, fp);
        return;
    default:
        n = snprintf(b, sizeof b, "%" PRId64, v->i);
        break;
    }
    fwrite(b, 1, (size_t)n, fp);
}

static long long fsize(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

int main(int argc, char **argv)
{
    uint64_t rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    shuffled = argc > 3 && strcmp(argv[3], "shuffled") == 0;
    nrows_total = rows;
    char qpath[512], cpath[512];
    snprintf(qpath, sizeof qpath, "%s/sl_bench.qvd", dir);
    snprintf(cpath, sizeof cpath, "%s/sl_bench.csv", dir);
    sl_value v[NCOLS];
    char bufs[NCOLS][64];

    /* QVD */
    double t0 = now(), c0 = cpu();
    sl_qvd_write_opts o = {.table_name = "orders", .creator_doc = "sluice://bench"};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, NCOLS, cols);
    rng = 88172645463325252ull;
    for (uint64_t r = 0; r < rows; r++) {
        make_row(r, v, bufs);
        if (sl_qvd_writer_add_row(w, v) != 0) {
            fprintf(stderr, "add_row: %s\n", sl_qvd_writer_error(w));
            return 1;
        }
    }
    double t1 = now();
    size_t mem = sl_qvd_writer_mem(w);
    if (sl_qvd_writer_finish_file(w, qpath) != 0) {
        fprintf(stderr, "finish: %s\n", sl_qvd_writer_error(w));
        return 1;
    }
    sl_qvd_writer_free(w);
    double t2 = now(), c2 = cpu();
    long rss_write = peak_rss_mb();
    long long qsize = fsize(qpath);
    printf("rows %" PRIu64 ", %d columns, keys %s\n", rows, NCOLS,
           shuffled ? "shuffled" : "ascending");
    printf(
        "QVD write: %.2f s wall, %.2f s CPU (add_row %.2f s, finish %.2f s wall), file %.1f MiB, "
        "writer memory before finish %.1f MiB (%.2fx file), peak RSS %ld MiB\n",
        t2 - t0, c2 - c0, t1 - t0, t2 - t1, qsize / 1048576.0, mem / 1048576.0,
        (double)mem / (double)qsize, rss_write);

    /* read back and touch every cell */
    double t3 = now(), c3 = cpu();
    char err[256];
    sl_qvd_table *t = sl_qvd_read_file(qpath, err, sizeof err);
    if (!t) {
        fprintf(stderr, "read: %s\n", err);
        return 1;
    }
    uint64_t nulls = 0;
    for (uint64_t r = 0; r < t->nrecords; r++)
        for (size_t f = 0; f < t->nfields; f++)
            nulls += sl_qvd_cell(t, r, f) == NULL;
    sl_qvd_table_free(t);
    double t4 = now(), c4 = cpu();
    printf("QVD read + every cell: %.2f s wall, %.2f s CPU (%" PRIu64 " NULLs), peak RSS %ld MiB\n",
           t4 - t3, c4 - c3, nulls, peak_rss_mb());

    /* baseline: the same rows as CSV through stdio */
    double t5 = now(), c5 = cpu();
    FILE *fp = fopen(cpath, "wb");
    rng = 88172645463325252ull;
    for (uint64_t r = 0; r < rows; r++) {
        make_row(r, v, bufs);
        for (int c = 0; c < NCOLS; c++) {
            if (c)
                fputc(',', fp);
            csv_value(fp, cols[c].type, &v[c]);
        }
        fputc('\n', fp);
    }
    fclose(fp);
    double t6 = now(), c6 = cpu();
    printf("CSV baseline write (fwrite, same rows): %.2f s wall, %.2f s CPU, file %.1f MiB\n",
           t6 - t5, c6 - c5, fsize(cpath) / 1048576.0);
    if (!getenv("SL_BENCH_KEEP")) { /* SL_BENCH_KEEP=1 keeps both files for other readers */
        remove(qpath);
        remove(cpath);
    }
    return 0;
}
