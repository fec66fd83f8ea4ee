/*
 * pg_bench.c - snapshot throughput of the postgres source plugin: dlopen the plugin, open it in
 * once mode (slot + exported snapshot + COPY of one table), poll to EOF with a minimal host that
 * copies every cell into a batch buffer and discards it at emit. Prints rows, seconds, rows/s.
 *   pg_bench PLUGIN.so CONNINFO TABLE [never [keep]]
 * With "never": no snapshot, stream the slot's changes up to the WAL end (once mode); "keep"
 * keeps the slot (to create it before the changes are made).
 */
#include <dlfcn.h>
#include <sluice/plugin.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sl_batch {
    const sl_schema *sc;
    size_t rows;
    char *buf;
    size_t len, cap;
};

struct sl_host {
    const char *kv[16];
    size_t rows, commits;
    char err[1024];
    sl_schema *schemas[64];
    size_t nschemas;
};

static const char *opt(sl_host *h, const char *n)
{
    for (size_t i = 0; h->kv[i]; i += 2)
        if (strcmp(h->kv[i], n) == 0)
            return h->kv[i + 1];
    return NULL;
}
static void h_log(sl_host *h, sl_log_level l, const char *fmt, ...)
{
    if (l > SL_LOG_WARN)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
static void h_err(sl_host *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->err, sizeof h->err, fmt, ap);
    va_end(ap);
}
static const char *h_tenant(sl_host *h)
{
    return "bench";
}
static int h_isset(sl_host *h, const char *n)
{
    return opt(h, n) != NULL;
}
static const char *h_str(sl_host *h, const char *n)
{
    return opt(h, n);
}
static int64_t h_int(sl_host *h, const char *n, int64_t d)
{
    return opt(h, n) ? strtoll(opt(h, n), NULL, 10) : d;
}
static double h_dbl(sl_host *h, const char *n, double d)
{
    return d;
}
static int h_bool(sl_host *h, const char *n, int d)
{
    return opt(h, n) ? strcmp(opt(h, n), "true") == 0 : d;
}
static size_t h_llen(sl_host *h, const char *n)
{
    return opt(h, n) ? 1 : 0;
}
static const char *h_litem(sl_host *h, const char *n, size_t i)
{
    return opt(h, n);
}
static void h_metric(sl_host *h, const char *n, double v)
{
}
static void *h_malloc(sl_host *h, size_t n)
{
    return malloc(n);
}
static void *h_calloc(sl_host *h, size_t n, size_t s)
{
    return calloc(n, s);
}
static void *h_realloc(sl_host *h, void *p, size_t n)
{
    return realloc(p, n);
}
static void h_free(sl_host *h, void *p)
{
    free(p);
}
static const sl_schema *h_schema(sl_host *h, const char *ns, const char *name, uint32_t n,
                                 const sl_field *f)
{
    sl_schema *s = calloc(1, sizeof *s);
    s->ns = strdup(ns);
    s->name = strdup(name);
    s->ncols = n;
    sl_field *c = calloc(n ? n : 1, sizeof *c);
    for (uint32_t i = 0; i < n; i++) {
        c[i] = f[i];
        c[i].name = strdup(f[i].name);
    }
    s->cols = c;
    if (h->nschemas < 64)
        h->schemas[h->nschemas++] = s;
    return s;
}
static sl_batch *b_new(sl_host *h, const sl_schema *s)
{
    sl_batch *b = calloc(1, sizeof *b);
    b->sc = s;
    return b;
}
static void b_clear(sl_batch *b)
{
    b->rows = 0;
    b->len = 0;
}
static void b_free(sl_host *h, sl_batch *b)
{
    free(b->buf);
    free(b);
}
static void put(sl_batch *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->buf = realloc(b->buf, b->cap);
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}
static int64_t b_row(sl_batch *b, sl_op op)
{
    return (int64_t)b->rows++;
}
static void b_i64(sl_batch *b, uint32_t c, int64_t v)
{
    put(b, &v, sizeof v);
}
static void b_f64(sl_batch *b, uint32_t c, double v)
{
    put(b, &v, sizeof v);
}
static int b_bytes(sl_batch *b, uint32_t c, const void *p, size_t n)
{
    put(b, p, n);
    return 0;
}
static void b_null(sl_batch *b, uint32_t c)
{
}
static const sl_schema *b_schema(const sl_batch *b)
{
    return b->sc;
}
static size_t b_rows(const sl_batch *b)
{
    return b->rows;
}
static sl_op b_op(const sl_batch *b, size_t r)
{
    return SL_OP_SNAPSHOT;
}
static void b_col(const sl_batch *b, uint32_t c, sl_column *o)
{
    memset(o, 0, sizeof *o);
}
static sl_status h_emit(sl_host *h, sl_batch *b)
{
    h->rows += b->rows;
    b_clear(b);
    return SL_OK;
}
static sl_status h_commit(sl_host *h, const void *p, size_t n, int64_t t)
{
    h->commits++;
    return SL_OK;
}
static int h_stopping(sl_host *h)
{
    return 0;
}

static const sl_host_api api = {
    .abi_minor = SL_PLUGIN_ABI_MINOR,
    .size = sizeof(sl_host_api),
    .log = h_log,
    .set_error = h_err,
    .tenant = h_tenant,
    .opt_isset = h_isset,
    .opt_string = h_str,
    .opt_int = h_int,
    .opt_double = h_dbl,
    .opt_bool = h_bool,
    .opt_list_len = h_llen,
    .opt_list_item = h_litem,
    .counter_add = h_metric,
    .gauge_set = h_metric,
    .malloc = h_malloc,
    .calloc = h_calloc,
    .realloc = h_realloc,
    .free = h_free,
    .schema_new = h_schema,
    .batch_new = b_new,
    .batch_free = b_free,
    .batch_clear = b_clear,
    .row_begin = b_row,
    .set_i64 = b_i64,
    .set_f64 = b_f64,
    .set_bytes = b_bytes,
    .set_null = b_null,
    .set_unchanged = b_null,
    .batch_schema = b_schema,
    .batch_rows = b_rows,
    .batch_op = b_op,
    .batch_column = b_col,
    .emit = h_emit,
    .commit = h_commit,
    .stopping = h_stopping,
};

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
    void *so = dlopen(argv[1], RTLD_NOW);
    if (!so) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    const sl_plugin *(*d)(void) = (const sl_plugin *(*)(void))dlsym(so, SL_PLUGIN_SYMBOL);
    const sl_plugin *p = d();
    sl_host h = {.kv = {"conninfo", argv[2], "tables", argv[3], "slot", "sluice_bench",
                        "publication", "sluice_bench", "drop_slot_on_stop", drop, "snapshot", snap,
                        NULL}};
    void *ctx = NULL;
    double t0 = now_s();
    if (p->create(&h, &api, &ctx) != 0) {
        fprintf(stderr, "create: %s\n", h.err);
        return 1;
    }
    sl_open_args a = {NULL, 0, 1};
    if (p->open(ctx, &a) != 0) {
        fprintf(stderr, "open: %s\n", h.err);
        return 1;
    }
    sl_status st;
    while ((st = p->source->poll(ctx, 100)) == SL_OK || st == SL_AGAIN)
        ;
    double t1 = now_s();
    if (st != SL_EOF) {
        fprintf(stderr, "poll: %s\n", h.err);
        return 1;
    }
    p->close(ctx);
    p->destroy(ctx);
    printf("rows=%zu commits=%zu seconds=%.3f rows_per_s=%.0f\n", h.rows, h.commits, t1 - t0,
           (double)h.rows / (t1 - t0));
    return 0;
}
