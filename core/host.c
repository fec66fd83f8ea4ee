/* The host API table handed to every plugin instance. */
#include "engine_int.h"
#include "log.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

SL_PRINTF(3, 4) static void h_log(sl_host *h, sl_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sl_logv(level, h->run->d->tenant, h->label, fmt, ap);
    va_end(ap);
}

SL_PRINTF(2, 3) static void h_set_error(sl_host *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->err, sizeof h->err, fmt, ap);
    va_end(ap);
    for (char *p = h->err; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

static const char *h_tenant(sl_host *h)
{
    return h->run->d->tenant;
}

static const sl_optval *opt(sl_host *h, const char *name)
{
    return h->spec ? sl_spec_opt(h->spec, name) : NULL;
}

static int h_opt_isset(sl_host *h, const char *name)
{
    return opt(h, name) != NULL;
}

static const char *h_opt_string(sl_host *h, const char *name)
{
    const sl_optval *o = opt(h, name);
    return o ? o->s : NULL;
}

static int64_t h_opt_int(sl_host *h, const char *name, int64_t dflt)
{
    const sl_optval *o = opt(h, name);
    return o ? o->i : dflt;
}

static double h_opt_double(sl_host *h, const char *name, double dflt)
{
    const sl_optval *o = opt(h, name);
    return o ? o->d : dflt;
}

static int h_opt_bool(sl_host *h, const char *name, int dflt)
{
    const sl_optval *o = opt(h, name);
    return o ? (int)o->i : dflt;
}

static size_t h_opt_list_len(sl_host *h, const char *name)
{
    const sl_optval *o = opt(h, name);
    return o ? o->nlist : 0;
}

static const char *h_opt_list_item(sl_host *h, const char *name, size_t i)
{
    const sl_optval *o = opt(h, name);
    return o && i < o->nlist ? o->list[i] : NULL;
}

static const char *h_opt_where(sl_host *h, const char *name)
{
    const sl_optval *o = opt(h, name);
    if (!o || o->line <= 0 || !h->run->d->file)
        return NULL;
    /* One buffer per instance: the text stays valid for the instance's life as promised, as long
     * as the plugin asks about one option at a time (it only formats one error at a time). */
    snprintf(h->where, sizeof h->where, "%s:%d", h->run->d->file, o->line);
    return h->where;
}

/* ---- generic option nodes ---- */

static const sl_optnode *h_opt_node(sl_host *h, const char *name)
{
    const sl_optval *o = opt(h, name);
    return o ? o->node : NULL;
}

static struct sl_plugin_metric *metric(sl_host *h, const char *name, int gauge)
{
    for (size_t i = 0; i < h->nmetrics; i++)
        if (strcmp(h->metrics[i].name, name) == 0)
            return &h->metrics[i];
    if (h->nmetrics == sizeof h->metrics / sizeof h->metrics[0])
        return NULL; /* a plugin with more than 32 metrics loses the rest, silently by design */
    struct sl_plugin_metric *m = &h->metrics[h->nmetrics++];
    /* Metric names become Prometheus names: keep [a-zA-Z0-9_]. */
    size_t k = 0;
    for (; name[k] && k < sizeof m->name - 1; k++) {
        char c = name[k];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        m->name[k] = ok ? c : '_';
    }
    m->name[k] = 0;
    m->value = 0;
    m->gauge = gauge;
    return m;
}

/* The sink's metrics change on the flush thread while the job thread publishes them. */
static void h_counter_add(sl_host *h, const char *name, double delta)
{
    pthread_mutex_lock(&h->run->job->mu);
    struct sl_plugin_metric *m = metric(h, name, 0);
    if (m)
        m->value += delta;
    pthread_mutex_unlock(&h->run->job->mu);
}

static void h_gauge_set(sl_host *h, const char *name, double value)
{
    pthread_mutex_lock(&h->run->job->mu);
    struct sl_plugin_metric *m = metric(h, name, 1);
    if (m)
        m->value = value;
    pthread_mutex_unlock(&h->run->job->mu);
}

/* ---- memory, counted per tenant ---- */

/* Each block carries its size in front, so free and realloc can uncount it. */
typedef union mem_hdr {
    size_t n;
    max_align_t align;
} mem_hdr;

/* Refuses a block that would take the tenant over memory_limit_mb (0 = no limit). */
static int mem_allow(sl_host *h, size_t more)
{
    sl_run *r = h->run;
    if (r->memory_limit <= 0 || sl_run_mem(r) + (int64_t)more <= r->memory_limit)
        return 1;
    atomic_store(&r->mem_refused, 1);
    return 0;
}

static void *h_malloc(sl_host *h, size_t n)
{
    if (n > SIZE_MAX - sizeof(mem_hdr) || !mem_allow(h, n))
        return NULL;
    mem_hdr *p = malloc(sizeof *p + n);
    if (!p)
        return NULL;
    p->n = n;
    atomic_fetch_add(&h->run->mem_plugins, (long long)(n + sizeof *p));
    return p + 1;
}

static void *h_calloc(sl_host *h, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = h_malloc(h, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

static void h_free(sl_host *h, void *p)
{
    if (!p)
        return;
    mem_hdr *m = (mem_hdr *)p - 1;
    atomic_fetch_sub(&h->run->mem_plugins, (long long)(m->n + sizeof *m));
    free(m);
}

static void *h_realloc(sl_host *h, void *p, size_t n)
{
    if (!p)
        return h_malloc(h, n);
    mem_hdr *m = (mem_hdr *)p - 1;
    size_t old = m->n;
    if (n > SIZE_MAX - sizeof *m || (n > old && !mem_allow(h, n - old)))
        return NULL;
    mem_hdr *nm = realloc(m, sizeof *nm + n);
    if (!nm)
        return NULL;
    nm->n = n;
    atomic_fetch_add(&h->run->mem_plugins, (long long)n - (long long)old);
    return nm + 1;
}

static const sl_schema *h_schema_new(sl_host *h, const char *ns, const char *name, uint32_t ncols,
                                     const sl_field *cols, size_t field_size)
{
    const sl_schema *s =
        sl_schema_store_add_sized(&h->run->schemas, ns, name, ncols, cols, field_size);
    if (!s)
        h_set_error(h, "invalid schema for table %s (empty name or unknown column type)",
                    name ? name : "(null)");
    return s;
}

static sl_batch *h_batch_new(sl_host *h, const sl_schema *schema)
{
    sl_batch *b = schema ? sl_batch_new(schema) : NULL;
    if (b)
        sl_batch_account(b, &h->run->mem_plugins);
    return b;
}

static void h_batch_free(sl_host *h, sl_batch *b)
{
    (void)h;
    sl_batch_free(b);
}

static const sl_schema *h_batch_schema(const sl_batch *b)
{
    return b->schema;
}

static size_t h_batch_rows(const sl_batch *b)
{
    return b->nrows;
}

static sl_op h_batch_op(const sl_batch *b, size_t row)
{
    return row < b->nrows ? (sl_op)b->ops[row] : SL_OP_INSERT;
}

static sl_status h_emit(sl_host *h, sl_batch *b)
{
    if (h != &h->run->source)
        return SL_ERROR;
    return sl_run_on_emit(h->run, b);
}

static sl_status h_commit(sl_host *h, const void *pos, size_t len, int64_t commit_us)
{
    if (h != &h->run->source)
        return SL_ERROR;
    return sl_run_on_commit(h->run, pos, len, commit_us);
}

static int h_stopping(sl_host *h)
{
    return atomic_load(&h->run->job->stop) != 0;
}

static const char *h_known_table(sl_host *h, size_t i, const char **ns, const void **pos,
                                 size_t *pos_len)
{
    if (h != &h->run->source)
        return NULL;
    return sl_run_known_table(h->run, i, ns, pos, pos_len);
}

static void h_table_drop(sl_host *h, const char *ns, const char *name)
{
    if (h == &h->run->source && ns && name)
        sl_run_table_drop(h->run, ns, name);
}

/* The value only changes through state_set on the same instance's thread, so reading it
 * needs no lock; replacing it does, against the manifest writer. */
static const char *h_state_get(sl_host *h)
{
    return h->state;
}

static int h_state_set(sl_host *h, const char *value)
{
    char *v = value ? strdup(value) : NULL;
    if (value && !v)
        return -1;
    pthread_mutex_lock(&h->run->state_lock);
    char *old = h->state;
    h->state = v;
    pthread_mutex_unlock(&h->run->state_lock);
    free(old);
    return 0;
}

const sl_host_api sl_host_api_v2 = {
    .abi_minor = SL_PLUGIN_ABI_MINOR,
    .size = sizeof(sl_host_api),
    .log = h_log,
    .set_error = h_set_error,
    .tenant = h_tenant,
    .opt_isset = h_opt_isset,
    .opt_string = h_opt_string,
    .opt_int = h_opt_int,
    .opt_double = h_opt_double,
    .opt_bool = h_opt_bool,
    .opt_list_len = h_opt_list_len,
    .opt_list_item = h_opt_list_item,
    .opt_where = h_opt_where,
    .opt_node = h_opt_node,
    .node_type = sl_optnode_type,
    .node_len = sl_optnode_len,
    .node_item = sl_optnode_item,
    .node_key = sl_optnode_key,
    .node_get = sl_optnode_get,
    .node_string = sl_optnode_string,
    .node_int = sl_optnode_int,
    .node_double = sl_optnode_double,
    .node_line = sl_optnode_line,
    .counter_add = h_counter_add,
    .gauge_set = h_gauge_set,
    .malloc = h_malloc,
    .calloc = h_calloc,
    .realloc = h_realloc,
    .free = h_free,
    .schema_new = h_schema_new,
    .batch_new = h_batch_new,
    .batch_free = h_batch_free,
    .batch_clear = sl_batch_clear,
    .row_begin = sl_batch_row_begin,
    .set_i64 = sl_batch_set_i64,
    .set_f64 = sl_batch_set_f64,
    .set_bytes = sl_batch_set_bytes,
    .set_null = sl_batch_set_null,
    .set_unchanged = sl_batch_set_unchanged,
    .set_tsoff = sl_batch_set_tsoff,
    .batch_schema = h_batch_schema,
    .batch_rows = h_batch_rows,
    .batch_op = h_batch_op,
    .batch_column = sl_batch_column,
    .emit = h_emit,
    .commit = h_commit,
    .stopping = h_stopping,
    .known_table = h_known_table,
    .table_drop = h_table_drop,
    .state_get = h_state_get,
    .state_set = h_state_set,
};
