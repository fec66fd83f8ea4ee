/* Data-model throughput: how fast a source can push rows through the host's batch API
 * (row_begin + one setter per column), and how fast the table state takes them.
 * Baseline in the same run: memcpy of the same number of bytes into a flat array.
 *   build/bench/engine/bench_batch [ROWS] */
#include "batch.h"
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long rows = argc > 1 ? atol(argv[1]) : 10000000;
    sl_schema_store st = {0};
    sl_field f[] = {
        SL_FIELD_INIT("id", SL_T_INT64, 1),     SL_FIELD_INIT("qty", SL_T_INT64, 0),
        SL_FIELD_INIT("price", SL_T_DOUBLE, 0), SL_FIELD_INIT("name", SL_T_STRING, 0),
        SL_FIELD_INIT("day", SL_T_DATE, 0),     SL_FIELD_INIT("at", SL_T_TIMESTAMPTZ, 0)};
    const sl_schema *s = sl_schema_store_add(&st, "", "t", 6, f);
    sl_batch *b = sl_batch_new(s);
    const long per = 8192;
    double t0 = now();
    size_t bytes = 0;
    for (long base = 0; base < rows; base += per) {
        sl_batch_clear(b);
        for (long i = base; i < base + per && i < rows; i++) {
            sl_batch_row_begin(b, SL_OP_SNAPSHOT);
            sl_batch_set_i64(b, 0, i);
            sl_batch_set_i64(b, 1, i % 100);
            sl_batch_set_f64(b, 2, (double)i * 0.01);
            sl_batch_set_bytes(b, 3, "customer name", 13);
            sl_batch_set_i64(b, 4, 19000 + i % 365);
            sl_batch_set_i64(b, 5, 1700000000000000LL + i);
            bytes += 8 * 5 + 13;
        }
    }
    double t_batch = now() - t0;
    /* Baseline: copying the same bytes. */
    char *flat = malloc(per * 64), row[64] = "customer name customer name customer name customer";
    t0 = now();
    for (long i = 0; i < rows; i++)
        memcpy(flat + (i % per) * 53, row, 53);
    double t_copy = now() - t0;
    /* Table state: the same rows applied (1/10 of them, to keep memory small). */
    long trows = rows / 10;
    sl_table *t = sl_table_new("", "t", s);
    char msg[128];
    t0 = now();
    for (long base = 0; base < trows; base += per) {
        sl_batch_clear(b);
        for (long i = base; i < base + per && i < trows; i++) {
            sl_batch_row_begin(b, SL_OP_SNAPSHOT);
            sl_batch_set_i64(b, 0, i);
            sl_batch_set_i64(b, 1, i % 100);
            sl_batch_set_f64(b, 2, (double)i * 0.01);
            sl_batch_set_bytes(b, 3, "customer name", 13);
            sl_batch_set_i64(b, 4, 19000 + i % 365);
            sl_batch_set_i64(b, 5, 1700000000000000LL + i);
        }
        for (size_t r = 0; r < b->nrows; r++)
            if (sl_table_apply(t, b, r, msg, sizeof msg) != 0)
                return 1;
    }
    double t_table = now() - t0;
    printf("batch API   : %ld rows x 6 columns in %.3f s = %.2f M rows/s\n", rows, t_batch,
           (double)rows / t_batch / 1e6);
    printf("baseline    : memcpy of %zu MB in %.3f s\n", bytes >> 20, t_copy);
    printf("table state : %ld rows applied in %.3f s = %.2f M rows/s (%zu MB held)\n", trows,
           t_table, (double)trows / t_table / 1e6, t->bytes >> 20);
    sl_table_free(t);
    free(flat);
    sl_batch_free(b);
    sl_schema_store_free(&st);
    return 0;
}
