/* Loading plugins (with the engine's own checks) and driving an instance through the mock. */
#include "th_int.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- loading ---- */

static sl_th_plugin *adopt(const sl_plugin *p, void *dl, const char *path, char *err, size_t errlen)
{
    char why[512];
    if (!p) {
        snprintf(err, errlen, "%s: %s() returned NULL", path, SL_PLUGIN_SYMBOL);
        return NULL;
    }
    sl_th_plugin *tp = th_alloc(sizeof *tp);
    if (sl_registry_check(p, p->size, why, sizeof why) != 0 ||
        sl_registry_normalise(p, &tp->e, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s: refused: %s", path, why);
        free(tp);
        return NULL;
    }
    tp->e.path = th_strdup(path);
    tp->e.dl = dl;
    if (p->abi_minor > SL_PLUGIN_ABI_MINOR)
        fprintf(stderr,
                "  [testhost] %s: built for ABI %u.%u, newer than this mock host (%d.%d): it "
                "must check SL_API_HAS\n",
                path, p->abi_major, p->abi_minor, SL_PLUGIN_ABI_MAJOR, SL_PLUGIN_ABI_MINOR);
    if (tp->e.desc.init) {
        char ierr[512] = "";
        if (tp->e.desc.init(&sl_th_host_api, ierr, sizeof ierr) != 0) {
            snprintf(err, errlen, "%s: refused: init failed: %s", path,
                     ierr[0] ? ierr : "no reason given");
            free(tp->e.options);
            free(tp->e.path);
            free(tp);
            return NULL;
        }
        tp->e.inited = 1;
    }
    return tp;
}

sl_th_plugin *sl_th_load(const char *path, char *err, size_t errlen)
{
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        snprintf(err, errlen, "%s: cannot load (%s)", path, e ? e : "?");
        return NULL;
    }
    const sl_plugin *(*entry)(void) = NULL;
    void *sym = dlsym(dl, SL_PLUGIN_SYMBOL);
    memcpy(&entry, &sym, sizeof entry);
    if (!entry) {
        snprintf(err, errlen, "%s: no %s() symbol (not a sluice plugin)", path, SL_PLUGIN_SYMBOL);
        dlclose(dl);
        return NULL;
    }
    sl_th_plugin *tp = adopt(entry(), dl, path, err, errlen);
    if (!tp)
        dlclose(dl);
    return tp;
}

sl_th_plugin *sl_th_wrap(const sl_plugin *desc, char *err, size_t errlen)
{
    return adopt(desc, NULL, desc && desc->name ? desc->name : "(static plugin)", err, errlen);
}

const sl_plugin *sl_th_desc(const sl_th_plugin *p)
{
    return &p->e.desc;
}

void sl_th_unload(sl_th_plugin *p)
{
    if (!p)
        return;
    if (p->e.inited && p->e.desc.fini)
        p->e.desc.fini();
    /* Like the engine, keep the library mapped: libraries with thread-local state (OpenSSL via
     * libpq or libcurl) crash LeakSanitizer at exit when unloaded. */
    free(p->e.options);
    free(p->e.path);
    free(p);
}

/* ---- hosts ---- */

sl_th *sl_th_new(const sl_th_plugin *p, const char *tenant)
{
    sl_th *t = th_alloc(sizeof *t);
    t->host.t = t;
    t->p = p;
    t->tenant = th_strdup(tenant ? tenant : "test");
    t->owner = pthread_self();
    const char *echo = getenv("SL_TH_ECHO");
    t->echo = echo && *echo ? atoi(echo) : SL_LOG_WARN;
    t->keep_rows = 1;
    pthread_mutex_init(&t->log_lock, NULL);
    return t;
}

void sl_th_echo(sl_th *t, int max_level)
{
    const char *echo = getenv("SL_TH_ECHO");
    t->echo = echo && *echo ? atoi(echo) : max_level; /* the environment wins: debugging */
}

void sl_th_keep_rows(sl_th *t, int keep)
{
    t->keep_rows = keep;
}

static void forget(sl_th *t)
{
    t->nrows = t->npending = 0;
    th_strv_free(&t->rows);
    th_strv_free(&t->pending);
    free(t->emitted);
    t->emitted = NULL;
    t->nemitted = 0;
    for (size_t i = 0; i < t->ncommits; i++)
        free(t->commits[i].pos);
    free(t->commits);
    t->commits = NULL;
    t->ncommits = 0;
    free(t->pos);
    t->pos = NULL;
    t->pos_len = 0;
    t->err[0] = 0;
    t->nerrors = 0;
    th_strv_free(&t->logs);
    memset(t->nlog, 0, sizeof t->nlog);
    for (size_t i = 0; i < t->nmetrics; i++)
        free(t->metrics[i].name);
    free(t->metrics);
    t->metrics = NULL;
    t->nmetrics = 0;
    th_strv_free(&t->drops);
    t->nmisuse = 0;
    t->misuse[0] = 0;
}

void sl_th_reset(sl_th *t)
{
    if (t->created)
        th_misuse(t, "sl_th_reset while the instance exists (sl_th_close first)");
    forget(t);
    t->mem_peak = t->mem_now;
}

void sl_th_free(sl_th *t)
{
    if (!t)
        return;
    sl_th_close(t);
    forget(t);
    th_free_blocks(t);
    for (size_t i = 0; i < t->nbatches; i++)
        sl_batch_free(t->batches[i]);
    free(t->batches);
    sl_schema_store_free(&t->schemas);
    free(t->made);
    th_opts_free_vals(t);
    for (size_t i = 0; i < t->nraw; i++) {
        free(t->raw[i].name);
        th_node_free(t->raw[i].node);
    }
    free(t->raw);
    for (size_t i = 0; i < t->nknown; i++) {
        free(t->known[i].ns);
        free(t->known[i].name);
        free(t->known[i].pos);
    }
    free(t->known);
    free(t->state_in);
    free(t->state_out);
    free(t->tenant);
    pthread_mutex_destroy(&t->log_lock);
    free(t);
}

/* ---- options ---- */

int sl_th_set(sl_th *t, const char *name, const char *value)
{
    if (!name)
        return -1;
    size_t i = 0;
    while (i < t->nraw && strcmp(t->raw[i].name, name) != 0)
        i++;
    if (!value) {
        if (i < t->nraw) {
            free(t->raw[i].name);
            th_node_free(t->raw[i].node);
            t->raw[i] = t->raw[--t->nraw];
        }
        return 0;
    }
    char why[256];
    sl_optnode *n = th_node_parse(value, why, sizeof why);
    if (!n) {
        snprintf(t->err, sizeof t->err, "option \"%s\": %s", name, why);
        return -1;
    }
    if (i == t->nraw) {
        th_raw *r = realloc(t->raw, (t->nraw + 1) * sizeof *r);
        if (!r)
            abort();
        t->raw = r;
        t->raw[t->nraw].name = th_strdup(name);
        t->raw[t->nraw++].node = n;
    } else {
        th_node_free(t->raw[i].node);
        t->raw[i].node = n;
    }
    return 0;
}

static int set_va(sl_th *t, va_list ap)
{
    const char *name;
    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        if (sl_th_set(t, name, value) != 0)
            return -1;
    }
    return 0;
}

int sl_th_set_all(sl_th *t, ...)
{
    va_list ap;
    va_start(ap, t);
    int rc = set_va(t, ap);
    va_end(ap);
    return rc;
}

/* ---- lifecycle ---- */

int sl_th_create(sl_th *t)
{
    if (t->created) {
        th_misuse(t, "sl_th_create twice (sl_th_close first)");
        return -1;
    }
    if (th_opts_resolve(t) != 0)
        return -1;
    t->ctx = NULL;
    t->mem_at_create = t->mem_now;
    int e0 = t->nerrors;
    if (t->p->e.desc.create(&t->host, &sl_th_host_api, &t->ctx) != 0) {
        if (t->nerrors == e0)
            th_misuse(t, "create() failed without set_error");
        t->ctx = NULL;
        return -1;
    }
    t->created = 1;
    return 0;
}

int sl_th_open(sl_th *t, const void *resume, size_t resume_len, int once)
{
    if (!t->created) {
        th_misuse(t, "sl_th_open without a created instance");
        return -1;
    }
    if (!t->p->e.desc.open) {
        t->opened = 1;
        return 0;
    }
    free(t->pos);
    t->pos = NULL;
    t->pos_len = 0;
    if (resume) {
        t->pos = th_alloc(resume_len + 1);
        memcpy(t->pos, resume, resume_len);
        t->pos_len = resume_len;
    }
    sl_open_args a = {.size = sizeof a,
                      .resume_pos = resume,
                      .resume_len = resume ? resume_len : 0,
                      .once = once};
    int e0 = t->nerrors;
    if (t->p->e.desc.open(t->ctx, &a) != 0) {
        if (t->nerrors == e0)
            th_misuse(t, "open() failed without set_error");
        return -1;
    }
    t->opened = 1;
    return 0;
}

int sl_th_start(sl_th *t, ...)
{
    va_list ap;
    va_start(ap, t);
    int rc = set_va(t, ap);
    va_end(ap);
    if (rc != 0 || sl_th_create(t) != 0)
        return -1;
    return sl_th_open(t, NULL, 0, 0);
}

void sl_th_close(sl_th *t)
{
    if (t->opened && t->p->e.desc.close)
        t->p->e.desc.close(t->ctx);
    if (t->created) {
        size_t before = t->mem_at_create;
        t->p->e.desc.destroy(t->ctx);
        if (t->mem_now > before)
            th_misuse(t, "destroy() left %zu bytes allocated through api->malloc",
                      t->mem_now - before);
    }
    t->opened = t->created = 0;
    t->ctx = NULL;
}

void *sl_th_ctx(const sl_th *t)
{
    return t->ctx;
}

const sl_host_api *sl_th_api(void)
{
    return &sl_th_host_api;
}

sl_host *sl_th_host(sl_th *t)
{
    return &t->host;
}

/* ---- driving ---- */

static int need(sl_th *t, sl_kind kind, const char *fn)
{
    if (t->p->e.desc.kind != kind) {
        th_misuse(t, "%s on a %s plugin", fn, sl_kind_name(t->p->e.desc.kind));
        return 0;
    }
    if (!t->opened) {
        th_misuse(t, "%s before sl_th_open", fn);
        return 0;
    }
    return 1;
}

static void check_status(sl_th *t, const char *fn, sl_status st, int e0)
{
    if (st < 0 && t->nerrors == e0)
        th_misuse(t, "%s returned %d without set_error", fn, (int)st);
}

sl_status sl_th_poll(sl_th *t, int timeout_ms)
{
    if (!need(t, SL_KIND_SOURCE, "poll"))
        return SL_ERROR;
    int e0 = t->nerrors;
    t->in_poll = 1;
    sl_status st = t->p->e.desc.source->poll(t->ctx, timeout_ms);
    t->in_poll = 0;
    check_status(t, "poll", st, e0);
    return st;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

sl_status sl_th_poll_until(sl_th *t, size_t ncommits, int max_ms)
{
    int64_t end = now_ms() + max_ms;
    while (t->ncommits < ncommits) {
        sl_status st = sl_th_poll(t, 100);
        if (st == SL_EOF || st < 0)
            return st;
        if (now_ms() > end)
            return SL_AGAIN;
    }
    return SL_OK;
}

void sl_th_durable(sl_th *t, const void *pos, size_t len)
{
    if (need(t, SL_KIND_SOURCE, "durable") && t->p->e.desc.source->durable)
        t->p->e.desc.source->durable(t->ctx, pos, len);
}

sl_status sl_th_heartbeat(sl_th *t)
{
    if (!need(t, SL_KIND_SOURCE, "heartbeat") || !t->p->e.desc.source->heartbeat)
        return t->p->e.desc.kind == SL_KIND_SOURCE && t->opened ? SL_OK : SL_ERROR;
    int e0 = t->nerrors;
    sl_status st = t->p->e.desc.source->heartbeat(t->ctx);
    check_status(t, "heartbeat", st, e0);
    return st;
}

/* probe() is called instead of open(): it needs only a created instance. */
sl_status sl_th_probe(sl_th *t)
{
    if (!t->created) {
        th_misuse(t, "sl_th_probe without a created instance");
        return SL_ERROR;
    }
    const sl_plugin *d = &t->p->e.desc;
    sl_status (*probe)(void *) = d->source     ? d->source->probe
                                 : d->sink     ? d->sink->probe
                                 : d->notifier ? d->notifier->probe
                                               : NULL;
    if (!probe)
        return SL_OK;
    int e0 = t->nerrors;
    sl_status st = probe(t->ctx);
    check_status(t, "probe", st, e0);
    return st;
}

void sl_th_set_stopping(sl_th *t, int stopping)
{
    t->stopping = stopping;
}

void sl_th_add_known_table(sl_th *t, const char *ns, const char *name, const void *pos,
                           size_t pos_len)
{
    th_known *k = realloc(t->known, (t->nknown + 1) * sizeof *k);
    if (!k)
        abort();
    t->known = k;
    k = &t->known[t->nknown++];
    k->ns = th_strdup(ns);
    k->name = th_strdup(name);
    k->has_pos = pos != NULL;
    k->pos = th_alloc(pos_len + 1);
    if (pos && pos_len)
        memcpy(k->pos, pos, pos_len);
    k->pos_len = pos_len;
}

void sl_th_set_state(sl_th *t, const char *value)
{
    free(t->state_in);
    t->state_in = value ? th_strdup(value) : NULL;
}

sl_status sl_th_transform(sl_th *t, const sl_batch *in, const sl_batch **out)
{
    *out = NULL;
    if (!need(t, SL_KIND_TRANSFORM, "transform"))
        return SL_ERROR;
    int e0 = t->nerrors;
    const sl_batch *o = NULL;
    sl_status st = t->p->e.desc.transform->transform(t->ctx, in, &o);
    check_status(t, "transform", st, e0);
    if (st == SL_OK && o && o != in && o->oom)
        th_misuse(t, "transform returned a batch that ran out of memory while being filled");
    *out = o;
    return st;
}

sl_status sl_th_put(sl_th *t, const char *key, const void *data, size_t len, size_t chunk,
                    const sl_put_opts *opts, char *version)
{
    if (!need(t, SL_KIND_SINK, "put"))
        return SL_ERROR;
    const sl_sink_ops *ops = t->p->e.desc.sink;
    sl_put_opts dflt = {.size = sizeof dflt, .content_type = "application/octet-stream"};
    sl_put *p = NULL;
    int e0 = t->nerrors;
    sl_status st = ops->put_begin(t->ctx, key, opts ? opts : &dflt, &p);
    check_status(t, "put_begin", st, e0);
    if (st != SL_OK)
        return st;
    size_t off = 0;
    if (!chunk)
        chunk = len ? len : 1;
    while (off < len && st == SL_OK) {
        size_t n = len - off < chunk ? len - off : chunk;
        st = ops->put_write(t->ctx, p, (const char *)data + off, n);
        off += n;
    }
    check_status(t, "put_write", st, e0);
    if (st != SL_OK) {
        ops->put_abort(t->ctx, p);
        return st;
    }
    st = ops->put_commit(t->ctx, p, version);
    if (st != SL_CONFLICT)
        check_status(t, "put_commit", st, e0);
    return st;
}

static sl_status collect(void *ud, const void *p, size_t len)
{
    FILE *f = ud;
    return fwrite(p, 1, len, f) == len ? SL_OK : SL_ERROR;
}

sl_status sl_th_get(sl_th *t, const char *key, char **data, size_t *len, char *version)
{
    *data = NULL;
    *len = 0;
    if (!need(t, SL_KIND_SINK, "get"))
        return SL_ERROR;
    FILE *f = open_memstream(data, len);
    if (!f)
        abort();
    int e0 = t->nerrors;
    sl_status st = t->p->e.desc.sink->get(t->ctx, key, collect, f, version);
    fclose(f);
    if (st != SL_NOTFOUND)
        check_status(t, "get", st, e0);
    if (st != SL_OK) {
        free(*data);
        *data = NULL;
        *len = 0;
    }
    return st;
}

static sl_status add_key(void *ud, const char *key, uint64_t size)
{
    (void)size;
    th_push(ud, th_strdup(key));
    return SL_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

sl_status sl_th_list(sl_th *t, const char *prefix, char **keys)
{
    *keys = NULL;
    if (!need(t, SL_KIND_SINK, "list"))
        return SL_ERROR;
    th_strv v = {0};
    int e0 = t->nerrors;
    sl_status st = t->p->e.desc.sink->list(t->ctx, prefix, add_key, &v);
    check_status(t, "list", st, e0);
    if (v.n)
        qsort(v.v, v.n, sizeof *v.v, cmp_str);
    size_t len = 0;
    FILE *f = open_memstream(keys, &len);
    if (!f)
        abort();
    for (size_t i = 0; i < v.n; i++)
        fprintf(f, "%s\n", v.v[i]);
    fclose(f);
    th_strv_free(&v);
    return st;
}

sl_status sl_th_del(sl_th *t, const char *key)
{
    if (!need(t, SL_KIND_SINK, "del"))
        return SL_ERROR;
    int e0 = t->nerrors;
    sl_status st = t->p->e.desc.sink->del(t->ctx, key);
    check_status(t, "del", st, e0);
    return st;
}

sl_status sl_th_notify(sl_th *t, const sl_flush_info *info)
{
    if (!need(t, SL_KIND_NOTIFIER, "notify"))
        return SL_ERROR;
    int e0 = t->nerrors;
    sl_status st = t->p->e.desc.notifier->notify(t->ctx, info);
    check_status(t, "notify", st, e0);
    return st;
}

/* ---- test batches ---- */

const sl_schema *sl_th_schema(sl_th *t, const char *ns, const char *name, uint32_t ncols,
                              const sl_field *fields)
{
    const sl_schema *s = sl_schema_store_add(&t->schemas, ns ? ns : "", name, ncols, fields);
    if (!s)
        snprintf(t->err, sizeof t->err, "sl_th_schema: invalid schema for %s",
                 name ? name : "(null)");
    return s;
}

sl_batch *sl_th_batch(sl_th *t, const sl_schema *schema)
{
    return th_keep_batch(t, schema);
}

/* ---- recordings ---- */

size_t sl_th_rows(const sl_th *t)
{
    return t->nrows;
}

const char *sl_th_row(const sl_th *t, size_t i)
{
    return i < t->rows.n ? t->rows.v[i] : NULL;
}

size_t sl_th_pending(const sl_th *t)
{
    return t->npending;
}

const char *sl_th_pending_row(const sl_th *t, size_t i)
{
    return i < t->pending.n ? t->pending.v[i] : NULL;
}

long sl_th_find_row(const sl_th *t, const char *line)
{
    for (size_t i = 0; i < t->rows.n; i++)
        if (strcmp(t->rows.v[i], line) == 0)
            return (long)i;
    return -1;
}

size_t sl_th_emits(const sl_th *t)
{
    return t->nemitted;
}

const sl_batch *sl_th_emitted(const sl_th *t, size_t i)
{
    return i < t->nemitted ? t->emitted[i] : NULL;
}

size_t sl_th_commits(const sl_th *t)
{
    return t->ncommits;
}

const char *sl_th_commit_pos(const sl_th *t, size_t i, size_t *len)
{
    if (i >= t->ncommits)
        return NULL;
    if (len)
        *len = t->commits[i].len;
    return t->commits[i].pos;
}

int64_t sl_th_commit_time(const sl_th *t, size_t i)
{
    return i < t->ncommits ? t->commits[i].time_us : 0;
}

size_t sl_th_schemas(const sl_th *t)
{
    return t->nmade;
}

const sl_schema *sl_th_schema_at(const sl_th *t, size_t i)
{
    return i < t->nmade ? t->made[i] : NULL;
}

const char *sl_th_error(const sl_th *t)
{
    return t->err;
}

int sl_th_errors(const sl_th *t)
{
    return t->nerrors;
}

size_t sl_th_logs(const sl_th *t)
{
    return t->logs.n;
}

const char *sl_th_log(const sl_th *t, size_t i)
{
    return i < t->logs.n ? t->logs.v[i] : NULL;
}

int sl_th_log_count(const sl_th *t, sl_log_level level)
{
    return level >= SL_LOG_ERROR && level <= SL_LOG_DEBUG ? t->nlog[level] : 0;
}

const char *sl_th_log_find(const sl_th *t, const char *needle)
{
    for (size_t i = 0; i < t->logs.n; i++)
        if (strstr(t->logs.v[i], needle))
            return t->logs.v[i];
    return NULL;
}

int sl_th_metric(const sl_th *t, const char *name, double *value)
{
    for (size_t i = 0; i < t->nmetrics; i++)
        if (strcmp(t->metrics[i].name, name) == 0) {
            if (value)
                *value = t->metrics[i].value;
            return 1;
        }
    return 0;
}

size_t sl_th_mem_now(const sl_th *t)
{
    return t->mem_now;
}

size_t sl_th_mem_peak(const sl_th *t)
{
    return t->mem_peak;
}

void sl_th_mem_limit(sl_th *t, size_t bytes)
{
    t->mem_limit = bytes;
}

size_t sl_th_drops(const sl_th *t)
{
    return t->drops.n;
}

const char *sl_th_drop(const sl_th *t, size_t i)
{
    return i < t->drops.n ? t->drops.v[i] : NULL;
}

const char *sl_th_state(const sl_th *t)
{
    return t->state_out;
}

int sl_th_misuses(const sl_th *t)
{
    return t->nmisuse;
}

const char *sl_th_misuse(const sl_th *t)
{
    return t->nmisuse ? t->misuse : NULL;
}
