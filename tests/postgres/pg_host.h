/*
 * pg_host.h - a small sl_host_api implementation for driving the postgres source plugin in
 * tests (a harness, not the engine): options from a key/value list, emitted rows collected as
 * text lines "<ns>.<table>|<op>|v1|v2|..." with \N for NULL and \U for unchanged; commits
 * collected with their positions. Only rows followed by a commit count as delivered.
 */
#ifndef SL_PG_HOST_H
#define SL_PG_HOST_H

#include <dlfcn.h>
#include <inttypes.h>
#include <math.h>
#include <sluice/plugin.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct th_strv {
    char **v;
    size_t n, cap;
} th_strv;

static void th_push(th_strv *s, char *str)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v)
            abort();
    }
    s->v[s->n++] = str;
}

static void th_strv_free(th_strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

struct sl_batch {
    const sl_schema *sc;
    size_t nrows, cap;
    sl_op *ops;
    char **cells; /* nrows * ncols, NULL = null, "\U" = unchanged */
    int64_t cur;
};

struct sl_host {
    const char *const *kv; /* key, value, ..., NULL */
    const char *tenant;
    th_strv pending, rows; /* rows: delivered (committed) */
    th_strv commits;       /* positions */
    th_strv schemas_log;   /* "<ns>.<name>:<ncols>:<nkeys>" per schema_new */
    th_strv known;         /* "<ns>\0<name>" of every table emitted: known_table's answer */
    sl_schema **schemas;
    size_t nschemas;
    char err[1024];
    int nerr_calls;
    int quiet;
    size_t list_n;
    char list_buf[1024];
    char *list_items[64];
};

static const char *th_opt(sl_host *h, const char *name)
{
    for (size_t i = 0; h->kv[i]; i += 2)
        if (strcmp(h->kv[i], name) == 0)
            return h->kv[i + 1];
    return NULL;
}

static void th_log(sl_host *h, sl_log_level lvl, const char *fmt, ...)
{
    if (h->quiet && lvl > SL_LOG_WARN)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  [plugin %d] ", (int)lvl);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void th_set_error(sl_host *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->err, sizeof h->err, fmt, ap);
    va_end(ap);
    h->nerr_calls++;
}

static const char *th_tenant(sl_host *h)
{
    return h->tenant;
}
static int th_opt_isset(sl_host *h, const char *n)
{
    return th_opt(h, n) != NULL;
}
static const char *th_opt_string(sl_host *h, const char *n)
{
    return th_opt(h, n);
}
static int64_t th_opt_int(sl_host *h, const char *n, int64_t d)
{
    const char *v = th_opt(h, n);
    return v ? strtoll(v, NULL, 10) : d;
}
static double th_opt_double(sl_host *h, const char *n, double d)
{
    const char *v = th_opt(h, n);
    return v ? strtod(v, NULL) : d;
}
static int th_opt_bool(sl_host *h, const char *n, int d)
{
    const char *v = th_opt(h, n);
    return v ? (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) : d;
}
/* LIST options: comma-separated in the kv list. */
static void th_split(sl_host *h, const char *n)
{
    const char *v = th_opt(h, n);
    h->list_n = 0;
    if (!v)
        return;
    snprintf(h->list_buf, sizeof h->list_buf, "%s", v);
    for (char *save = NULL, *t = strtok_r(h->list_buf, ",", &save); t && h->list_n < 64;
         t = strtok_r(NULL, ",", &save))
        h->list_items[h->list_n++] = t;
}
static size_t th_opt_list_len(sl_host *h, const char *n)
{
    th_split(h, n);
    return h->list_n;
}
static const char *th_opt_list_item(sl_host *h, const char *n, size_t i)
{
    th_split(h, n);
    return i < h->list_n ? h->list_items[i] : NULL;
}
static void th_counter(sl_host *h, const char *n, double d)
{
}
static void *th_malloc(sl_host *h, size_t n)
{
    return malloc(n);
}
static void *th_calloc(sl_host *h, size_t n, size_t s)
{
    return calloc(n, s);
}
static void *th_realloc(sl_host *h, void *p, size_t n)
{
    return realloc(p, n);
}
static void th_free(sl_host *h, void *p)
{
    free(p);
}

static const sl_schema *th_schema_new(sl_host *h, const char *ns, const char *name, uint32_t ncols,
                                      const sl_field *cols, size_t field_size)
{
    sl_schema *s = calloc(1, sizeof *s);
    sl_field *f = calloc(ncols ? ncols : 1, sizeof *f);
    s->ns = strdup(ns);
    s->name = strdup(name);
    s->ncols = ncols;
    s->field_size = sizeof(sl_field);
    for (uint32_t i = 0; i < ncols; i++) {
        const sl_field *src = (const sl_field *)(const void *)((const char *)cols + i * field_size);
        f[i] = *src;
        f[i].name = strdup(src->name);
        f[i].source_type = NULL; /* not kept by this host */
        s->nkeys += src->key != 0;
    }
    s->cols = f;
    h->schemas = realloc(h->schemas, (h->nschemas + 1) * sizeof *h->schemas);
    h->schemas[h->nschemas++] = s;
    char *line;
    if (asprintf(&line, "%s.%s:%u:%u", ns, name, ncols, s->nkeys) < 0)
        abort();
    th_push(&h->schemas_log, line);
    return s;
}

static sl_batch *th_batch_new(sl_host *h, const sl_schema *sc)
{
    sl_batch *b = calloc(1, sizeof *b);
    b->sc = sc;
    b->cur = -1;
    return b;
}
static void th_batch_clear(sl_batch *b)
{
    for (size_t i = 0; i < b->nrows * b->sc->ncols; i++)
        free(b->cells[i]);
    b->nrows = 0;
    b->cur = -1;
}
static void th_batch_free(sl_host *h, sl_batch *b)
{
    th_batch_clear(b);
    free(b->ops);
    free(b->cells);
    free(b);
}
static int64_t th_row_begin(sl_batch *b, sl_op op)
{
    if (b->nrows == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->ops = realloc(b->ops, b->cap * sizeof *b->ops);
        b->cells = realloc(b->cells, b->cap * (b->sc->ncols ? b->sc->ncols : 1) * sizeof(char *));
    }
    b->ops[b->nrows] = op;
    for (uint32_t c = 0; c < b->sc->ncols; c++)
        b->cells[b->nrows * b->sc->ncols + c] = NULL;
    b->cur = (int64_t)b->nrows++;
    return b->cur;
}
static void th_set(sl_batch *b, uint32_t col, char *text)
{
    char **cell = &b->cells[(size_t)b->cur * b->sc->ncols + col];
    free(*cell);
    *cell = text;
}
static void th_set_i64(sl_batch *b, uint32_t col, int64_t v)
{
    char *t;
    if (asprintf(&t, "%" PRId64, v) < 0)
        abort();
    th_set(b, col, t);
}
/* Shortest text that reads back to the same double; NaN/Infinity spelled like PostgreSQL. */
static void th_set_f64(sl_batch *b, uint32_t col, double v)
{
    char buf[64];
    if (isnan(v))
        snprintf(buf, sizeof buf, "NaN");
    else if (isinf(v))
        snprintf(buf, sizeof buf, v > 0 ? "Infinity" : "-Infinity");
    else if (v == trunc(v) && fabs(v) < 1e15)
        snprintf(buf, sizeof buf, "%.0f", v); /* PostgreSQL prints integral values plainly */
    else
        for (int p = 1; p <= 17; p++) {
            snprintf(buf, sizeof buf, "%.*g", p, v);
            if (strtod(buf, NULL) == v)
                break;
        }
    th_set(b, col, strdup(buf));
}
static int th_set_bytes(sl_batch *b, uint32_t col, const void *p, size_t len)
{
    char *t;
    if (b->sc->cols[col].type == SL_T_BINARY) {
        t = malloc(len * 2 + 1);
        for (size_t i = 0; i < len; i++)
            sprintf(t + 2 * i, "%02x", ((const unsigned char *)p)[i]);
        t[len * 2] = 0;
    } else {
        t = malloc(len + 1);
        memcpy(t, p, len);
        t[len] = 0;
    }
    th_set(b, col, t);
    return 0;
}
static void th_set_null(sl_batch *b, uint32_t col)
{
    th_set(b, col, NULL);
}
static void th_set_unchanged(sl_batch *b, uint32_t col)
{
    th_set(b, col, strdup("\\U"));
}
static const sl_schema *th_batch_schema(const sl_batch *b)
{
    return b->sc;
}
static size_t th_batch_rows(const sl_batch *b)
{
    return b->nrows;
}
static sl_op th_batch_op(const sl_batch *b, size_t r)
{
    return b->ops[r];
}
static void th_batch_column(const sl_batch *b, uint32_t col, sl_column *out)
{
    memset(out, 0, sizeof *out);
}

static const char th_opchar[] = {'S', 'I', 'U', 'D', 'T'};

static void th_know(sl_host *h, const sl_schema *sc);

static sl_status th_emit(sl_host *h, sl_batch *b)
{
    th_know(h, b->sc);
    for (size_t r = 0; r < b->nrows; r++) {
        size_t cap = 256, len = 0;
        char *line = malloc(cap);
        len = (size_t)snprintf(line, cap, "%s.%s|%c", b->sc->ns, b->sc->name, th_opchar[b->ops[r]]);
        if (b->ops[r] != SL_OP_TRUNCATE)
            for (uint32_t c = 0; c < b->sc->ncols; c++) {
                const char *v = b->cells[r * b->sc->ncols + c];
                if (!v)
                    v = "\\N";
                size_t need = len + strlen(v) + 2;
                if (need > cap) {
                    cap = need * 2;
                    line = realloc(line, cap);
                }
                len += (size_t)snprintf(line + len, cap - len, "|%s", v);
            }
        th_push(&h->pending, line);
    }
    th_batch_clear(b);
    return SL_OK;
}

static sl_status th_commit(sl_host *h, const void *pos, size_t len, int64_t t)
{
    for (size_t i = 0; i < h->pending.n; i++)
        th_push(&h->rows, h->pending.v[i]);
    h->pending.n = 0;
    th_push(&h->commits, strndup(pos, len));
    return SL_OK;
}

static int th_stopping(sl_host *h)
{
    return 0;
}

static const char *th_opt_where(sl_host *h, const char *name)
{
    (void)h;
    (void)name;
    return NULL;
}

/* Like the engine, the host knows every table it received rows (or an empty snapshot) for;
 * inst_open keeps the list for a resumed open. */
static const char *th_known_table(sl_host *h, size_t i, const char **ns, const void **pos,
                                  size_t *pos_len)
{
    if (i >= h->known.n)
        return NULL;
    if (ns)
        *ns = h->known.v[i];
    if (pos)
        *pos = NULL;
    if (pos_len)
        *pos_len = 0;
    return h->known.v[i] + strlen(h->known.v[i]) + 1;
}

static void th_know(sl_host *h, const sl_schema *sc)
{
    for (size_t i = 0; i < h->known.n; i++)
        if (strcmp(h->known.v[i], sc->ns) == 0 &&
            strcmp(h->known.v[i] + strlen(h->known.v[i]) + 1, sc->name) == 0)
            return;
    size_t a = strlen(sc->ns), b = strlen(sc->name);
    char *v = malloc(a + b + 2);
    memcpy(v, sc->ns, a + 1);
    memcpy(v + a + 1, sc->name, b + 1);
    th_push(&h->known, v);
}

static void th_table_drop(sl_host *h, const char *ns, const char *name)
{
    (void)h;
    (void)ns;
    (void)name;
}

static const sl_host_api th_api = {
    .abi_minor = SL_PLUGIN_ABI_MINOR,
    .size = sizeof(sl_host_api),
    .log = th_log,
    .set_error = th_set_error,
    .tenant = th_tenant,
    .opt_isset = th_opt_isset,
    .opt_string = th_opt_string,
    .opt_int = th_opt_int,
    .opt_double = th_opt_double,
    .opt_bool = th_opt_bool,
    .opt_list_len = th_opt_list_len,
    .opt_list_item = th_opt_list_item,
    .counter_add = th_counter,
    .gauge_set = th_counter,
    .malloc = th_malloc,
    .calloc = th_calloc,
    .realloc = th_realloc,
    .free = th_free,
    .schema_new = th_schema_new,
    .batch_new = th_batch_new,
    .batch_free = th_batch_free,
    .batch_clear = th_batch_clear,
    .row_begin = th_row_begin,
    .set_i64 = th_set_i64,
    .set_f64 = th_set_f64,
    .set_bytes = th_set_bytes,
    .set_null = th_set_null,
    .set_unchanged = th_set_unchanged,
    .batch_schema = th_batch_schema,
    .batch_rows = th_batch_rows,
    .batch_op = th_batch_op,
    .batch_column = th_batch_column,
    .emit = th_emit,
    .commit = th_commit,
    .stopping = th_stopping,
    .opt_where = th_opt_where,
    .known_table = th_known_table,
    .table_drop = th_table_drop,
};

static void th_host_reset(sl_host *h)
{
    th_strv_free(&h->pending);
    th_strv_free(&h->rows);
    th_strv_free(&h->commits);
    th_strv_free(&h->schemas_log);
    th_strv_free(&h->known);
    for (size_t i = 0; i < h->nschemas; i++) {
        sl_schema *s = h->schemas[i];
        for (uint32_t c = 0; c < s->ncols; c++)
            free((char *)s->cols[c].name);
        free((void *)s->cols);
        free((char *)s->ns);
        free((char *)s->name);
        free(s);
    }
    free(h->schemas);
    h->schemas = NULL;
    h->nschemas = 0;
    h->err[0] = 0;
}

#endif
