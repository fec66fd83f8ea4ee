/*
 * pg_bench.c - snapshot throughput of the postgres source plugin: load the plugin into the mock
 * host (libsluice-testhost, counting rows only: the cells go into the engine's own batches and
 * are discarded at emit), open it in once mode (slot + exported snapshot + COPY of one table),
 * poll to EOF. Prints rows, seconds, rows/s.
 *   pg_bench PLUGIN.so CONNINFO TABLE [never [keep]]
 * With "never": no snapshot, stream the slot's changes up to the WAL end (once mode); "keep"
 * keeps the slot (to create it before the changes are made).
 */
#include <sluice/testhost.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s PLUGIN.so CONNINFO TABLE [never [keep]]\n", argv[0]);
        return 2;
    }
    const char *snap = argc > 4 ? argv[4] : "initial";
    const char *drop = argc > 5 && strcmp(argv[5], "keep") == 0 ? "false" : "true";
    char err[1024];
    sl_th_plugin *p = sl_th_load(argv[1], err, sizeof err);
    if (!p) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    sl_th *t = sl_th_new(p, "bench");
    sl_th_keep_rows(t, 0);
    if (sl_th_set_all(t, "conninfo", argv[2], "tables", argv[3], "slot", "sluice_bench",
                      "publication", "sluice_bench", "drop_slot_on_stop", drop, "snapshot", snap,
                      NULL) != 0) {
        fprintf(stderr, "options: %s\n", sl_th_error(t));
        return 1;
    }
    double t0 = now_s();
    if (sl_th_create(t) != 0 || sl_th_open(t, NULL, 0, 1) != 0) {
        fprintf(stderr, "create/open: %s\n", sl_th_error(t));
        return 1;
    }
    sl_status st;
    while ((st = sl_th_poll(t, 100)) == SL_OK || st == SL_AGAIN)
        ;
    double t1 = now_s();
    if (st != SL_EOF) {
        fprintf(stderr, "poll: %s\n", sl_th_error(t));
        return 1;
    }
    size_t rows = sl_th_rows(t) + sl_th_pending(t), commits = sl_th_commits(t);
    sl_th_free(t);
    sl_th_unload(p);
    printf("rows=%zu commits=%zu seconds=%.3f rows_per_s=%.0f\n", rows, commits, t1 - t0,
           (double)rows / (t1 - t0));
    return 0;
}
