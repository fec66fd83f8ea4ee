/* The mock's sl_host_api: every host function of the ABI, recording what the plugin does. */
#include "th_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void th_push(th_strv *s, char *str)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        char **v = realloc(s->v, ncap * sizeof *v);
        if (!v)
            abort();
        s->v = v;
        s->cap = ncap;
    }
    s->v[s->n++] = str;
}

void th_strv_free(th_strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

char *th_strdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

void *th_alloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        abort();
    return p;
}

char *th_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

void th_misuse(sl_th *t, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (t->nmisuse++ == 0)
        snprintf(t->misuse, sizeof t->misuse, "%s", msg);
    fprintf(stderr, "  [testhost] misuse: %s\n", msg);
}

/* Host functions with an sl_host * belong to the instance's thread (plugin.h). */
static sl_th *th_of(sl_host *h, const char *fn)
{
    sl_th *t = h->t;
    if (!pthread_equal(t->owner, pthread_self()))
        th_misuse(t, "%s called from a thread other than the instance's", fn);
    return t;
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static void record_log(sl_th *t, sl_log_level lvl, const char *msg)
{
    int l = lvl < SL_LOG_ERROR ? 0 : lvl > SL_LOG_DEBUG ? 3 : (int)lvl;
    pthread_mutex_lock(&t->log_lock);
    th_push(&t->logs, th_fmt("%s %s", level_names[l], msg));
    t->nlog[l]++;
    pthread_mutex_unlock(&t->log_lock);
    if (l <= t->echo)
        fprintf(stderr, "  [%s/%s %s] %s\n", sl_kind_name(t->p->e.desc.kind), t->p->e.desc.name,
                level_names[l], msg);
}

SL_PRINTF(3, 4) static void h_log(sl_host *h, sl_log_level level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    record_log(h->t, level, msg); /* any thread of the instance may log */
}

/* Kept as given (newlines included), so a test can check the plugin wrote one line. */
SL_PRINTF(2, 3) static void h_set_error(sl_host *h, const char *fmt, ...)
{
    sl_th *t = th_of(h, "set_error");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->err, sizeof t->err, fmt, ap);
    va_end(ap);
    t->nerrors++;
    if (strpbrk(t->err, "\r\n"))
        th_misuse(t, "set_error text is more than one line: \"%.80s\"", t->err);
    if (t->echo >= SL_LOG_ERROR)
        fprintf(stderr, "  [%s/%s set_error] %s\n", sl_kind_name(t->p->e.desc.kind),
                t->p->e.desc.name, t->err);
}

static const char *h_tenant(sl_host *h)
{
    return th_of(h, "tenant")->tenant;
}

static const th_val *opt(sl_host *h, const char *name, const char *fn)
{
    sl_th *t = th_of(h, fn);
    if (!t->resolved)
        th_misuse(t, "%s(\"%s\") before the options were validated", fn, name ? name : "");
    for (const sl_option *o = t->p->e.desc.options; o && o->name; o++)
        if (name && strcmp(o->name, name) == 0)
            return th_opt_find(t, name);
    th_misuse(t, "%s(\"%s\"): the plugin did not declare that option", fn, name ? name : "(null)");
    return NULL;
}

static int h_opt_isset(sl_host *h, const char *name)
{
    return opt(h, name, "opt_isset") != NULL;
}

static const char *h_opt_string(sl_host *h, const char *name)
{
    const th_val *v = opt(h, name, "opt_string");
    return v ? v->s : NULL;
}

static int64_t h_opt_int(sl_host *h, const char *name, int64_t dflt)
{
    const th_val *v = opt(h, name, "opt_int");
    return v ? v->i : dflt;
}

static double h_opt_double(sl_host *h, const char *name, double dflt)
{
    const th_val *v = opt(h, name, "opt_double");
    return v ? v->d : dflt;
}

static int h_opt_bool(sl_host *h, const char *name, int dflt)
{
    const th_val *v = opt(h, name, "opt_bool");
    return v ? (int)v->i : dflt;
}

static size_t h_opt_list_len(sl_host *h, const char *name)
{
    const th_val *v = opt(h, name, "opt_list_len");
    return v ? v->nlist : 0;
}

static const char *h_opt_list_item(sl_host *h, const char *name, size_t i)
{
    const th_val *v = opt(h, name, "opt_list_item");
    return v && i < v->nlist ? v->list[i] : NULL;
}

static const char *h_opt_where(sl_host *h, const char *name)
{
    opt(h, name, "opt_where");
    return NULL; /* no job file */
}

static const sl_optnode *h_opt_node(sl_host *h, const char *name)
{
    const th_val *v = opt(h, name, "opt_node");
    return v ? v->node : NULL;
}

static th_metric *metric(sl_th *t, const char *name)
{
    for (size_t i = 0; i < t->nmetrics; i++)
        if (strcmp(t->metrics[i].name, name) == 0)
            return &t->metrics[i];
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_'))
            th_misuse(t, "metric name \"%s\" has characters outside [A-Za-z0-9_]", name);
    th_metric *m = realloc(t->metrics, (t->nmetrics + 1) * sizeof *m);
    if (!m)
        abort();
    t->metrics = m;
    m = &t->metrics[t->nmetrics++];
    m->name = th_strdup(name);
    m->value = 0;
    return m;
}

static void h_counter_add(sl_host *h, const char *name, double delta)
{
    sl_th *t = th_of(h, "counter_add");
    if (delta < 0)
        th_misuse(t, "counter_add(\"%s\", %g): counters only grow", name, delta);
    metric(t, name)->value += delta;
}

static void h_gauge_set(sl_host *h, const char *name, double value)
{
    metric(th_of(h, "gauge_set"), name)->value = value;
}

/* Allocations carry a header with their size and a tag, so the mock can count what the plugin
 * holds and catch a free of memory it did not hand out; they are linked so that sl_th_free
 * releases what a leaking plugin left (after reporting it). */
#define TH_TAG 0x5e1ce7e57ull
struct th_blk {
    struct th_blk *prev, *next;
    uint64_t tag;
    size_t size;
};
_Static_assert(sizeof(struct th_blk) == 32, "keeps 16-byte alignment");

static void blk_link(sl_th *t, th_blk *b)
{
    b->prev = NULL;
    b->next = t->blocks;
    if (t->blocks)
        t->blocks->prev = b;
    t->blocks = b;
}

static void blk_unlink(sl_th *t, th_blk *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        t->blocks = b->next;
    if (b->next)
        b->next->prev = b->prev;
}

void th_free_blocks(sl_th *t)
{
    while (t->blocks) {
        th_blk *b = t->blocks;
        blk_unlink(t, b);
        t->mem_now -= b->size;
        b->tag = 0;
        free(b);
    }
}

static void *h_malloc(sl_host *h, size_t n)
{
    sl_th *t = th_of(h, "malloc");
    if (t->mem_limit && t->mem_now + n > t->mem_limit)
        return NULL;
    th_blk *b = malloc(sizeof *b + n);
    if (!b)
        return NULL;
    b->tag = TH_TAG;
    b->size = n;
    blk_link(t, b);
    t->mem_now += n;
    if (t->mem_now > t->mem_peak)
        t->mem_peak = t->mem_now;
    return b + 1;
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

static th_blk *blk_of(sl_th *t, void *p, const char *fn)
{
    th_blk *b = (th_blk *)p - 1;
    if (b->tag != TH_TAG) {
        th_misuse(t, "%s of %p, which api->malloc did not return (or freed twice)", fn, p);
        return NULL;
    }
    return b;
}

static void h_free(sl_host *h, void *p)
{
    sl_th *t = th_of(h, "free");
    if (!p)
        return;
    th_blk *b = blk_of(t, p, "free");
    if (!b)
        return;
    blk_unlink(t, b);
    t->mem_now -= b->size;
    b->tag = 0;
    free(b);
}

static void *h_realloc(sl_host *h, void *p, size_t n)
{
    sl_th *t = th_of(h, "realloc");
    if (!p)
        return h_malloc(h, n);
    th_blk *b = blk_of(t, p, "realloc");
    if (!b)
        return NULL;
    if (n > b->size && t->mem_limit && t->mem_now + (n - b->size) > t->mem_limit)
        return NULL;
    size_t old = b->size;
    blk_unlink(t, b);
    th_blk *nb = realloc(b, sizeof *b + n);
    if (!nb) {
        blk_link(t, b);
        return NULL;
    }
    nb->size = n;
    blk_link(t, nb);
    t->mem_now = t->mem_now - old + n;
    if (t->mem_now > t->mem_peak)
        t->mem_peak = t->mem_now;
    return nb + 1;
}

static const sl_schema *h_schema_new(sl_host *h, const char *ns, const char *name, uint32_t ncols,
                                     const sl_field *cols, size_t field_size)
{
    sl_th *t = th_of(h, "schema_new");
    if (field_size < offsetof(sl_field, key) + sizeof(int))
        th_misuse(t, "schema_new with field_size %zu (pass sizeof(sl_field))", field_size);
    const sl_schema *s =
        sl_schema_store_add_sized(&t->schemas, ns ? ns : "", name, ncols, cols, field_size);
    if (!s) {
        snprintf(t->err, sizeof t->err,
                 "invalid schema for table %s (empty name or unknown column type)",
                 name ? name : "(null)");
        t->nerrors++;
        return NULL;
    }
    const sl_schema **m = realloc(t->made, (t->nmade + 1) * sizeof *m);
    if (!m)
        abort();
    t->made = m;
    t->made[t->nmade++] = s;
    return s;
}

sl_batch *th_keep_batch(sl_th *t, const sl_schema *s)
{
    sl_batch *b = sl_batch_new(s);
    sl_batch **v = realloc(t->batches, (t->nbatches + 1) * sizeof *v);
    if (!b || !v)
        abort();
    t->batches = v;
    t->batches[t->nbatches++] = b;
    return b;
}

static sl_batch *h_batch_new(sl_host *h, const sl_schema *schema)
{
    th_of(h, "batch_new");
    return schema ? sl_batch_new(schema) : NULL;
}

static void h_batch_free(sl_host *h, sl_batch *b)
{
    sl_th *t = th_of(h, "batch_free");
    for (size_t i = 0; b && i < t->nbatches; i++)
        if (t->batches[i] == b) {
            th_misuse(t, "batch_free of a batch the plugin did not get from batch_new");
            return;
        }
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

void th_record_emit(sl_th *t, sl_batch *b)
{
    t->npending += b->nrows;
    if (!t->keep_rows)
        return;
    sl_batch *copy = th_keep_batch(t, b->schema);
    for (size_t r = 0; r < b->nrows; r++) {
        sl_batch_row_begin(copy, (sl_op)b->ops[r]);
        for (uint32_t c = 0; c < b->schema->ncols; c++) {
            sl_value v;
            sl_batch_get(b, r, c, &v);
            sl_batch_set_value(copy, c, &v);
        }
        th_push(&t->pending, th_row_dup(b, r));
    }
    sl_batch **e = realloc(t->emitted, (t->nemitted + 1) * sizeof *e);
    if (!e)
        abort();
    t->emitted = e;
    t->emitted[t->nemitted++] = copy;
}

static sl_status h_emit(sl_host *h, sl_batch *b)
{
    sl_th *t = th_of(h, "emit");
    if (t->p->e.desc.kind != SL_KIND_SOURCE) {
        th_misuse(t, "emit from a %s", sl_kind_name(t->p->e.desc.kind));
        return SL_ERROR;
    }
    if (!t->in_poll)
        th_misuse(t, "emit outside poll()");
    if (!b)
        return SL_ERROR;
    if (b->oom) {
        snprintf(t->err, sizeof t->err, "emit: the batch ran out of memory while being filled");
        return SL_ERROR;
    }
    th_record_emit(t, b);
    sl_batch_clear(b);
    return SL_OK;
}

static sl_status h_commit(sl_host *h, const void *pos, size_t len, int64_t commit_us)
{
    sl_th *t = th_of(h, "commit");
    if (t->p->e.desc.kind != SL_KIND_SOURCE) {
        th_misuse(t, "commit from a %s", sl_kind_name(t->p->e.desc.kind));
        return SL_ERROR;
    }
    if (!t->in_poll)
        th_misuse(t, "commit outside poll()");
    const sl_source_ops *ops = t->p->e.desc.source;
    if (t->ncommits && ops->pos_compare) {
        const th_commit *prev = &t->commits[t->ncommits - 1];
        int c = ops->pos_compare(pos, len, prev->pos, prev->len);
        if (c < 0 || c == SL_POS_UNORDERED)
            th_misuse(t, "commit position orders before the previous one (pos_compare %d)", c);
    }
    /* Nothing emitted and the position unchanged: the source only says it is current (a
     * keepalive). Like the engine, record nothing. */
    if (t->pending.n == 0 && t->pos && t->pos_len == len && memcmp(t->pos, pos, len) == 0)
        return SL_OK;
    for (size_t i = 0; i < t->pending.n; i++)
        th_push(&t->rows, t->pending.v[i]);
    t->pending.n = 0;
    t->nrows += t->npending;
    t->npending = 0;
    th_commit *c = realloc(t->commits, (t->ncommits + 1) * sizeof *c);
    if (!c)
        abort();
    t->commits = c;
    c = &t->commits[t->ncommits++];
    c->pos = th_alloc(len + 1);
    if (len)
        memcpy(c->pos, pos, len);
    c->len = len;
    c->time_us = commit_us;
    char *np = th_alloc(len + 1);
    memcpy(np, pos, len);
    free(t->pos);
    t->pos = np;
    t->pos_len = len;
    return SL_OK;
}

static int h_stopping(sl_host *h)
{
    return th_of(h, "stopping")->stopping;
}

static const char *h_known_table(sl_host *h, size_t i, const char **ns, const void **pos,
                                 size_t *pos_len)
{
    sl_th *t = th_of(h, "known_table");
    if (i >= t->nknown)
        return NULL;
    if (ns)
        *ns = t->known[i].ns;
    if (pos)
        *pos = t->known[i].has_pos ? t->known[i].pos : NULL;
    if (pos_len)
        *pos_len = t->known[i].has_pos ? t->known[i].pos_len : 0;
    return t->known[i].name;
}

static void h_table_drop(sl_host *h, const char *ns, const char *name)
{
    sl_th *t = th_of(h, "table_drop");
    th_push(&t->drops, th_fmt("%s.%s", ns ? ns : "", name ? name : ""));
}

static const char *h_state_get(sl_host *h)
{
    sl_th *t = th_of(h, "state_get");
    return t->state_out ? t->state_out : t->state_in;
}

static int h_state_set(sl_host *h, const char *value)
{
    sl_th *t = th_of(h, "state_set");
    free(t->state_out);
    t->state_out = value ? th_strdup(value) : NULL;
    return 0;
}

/* Named as the engine's table so core/registry.c links against the mock (it hands it to init). */
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
