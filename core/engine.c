/* The job thread: one attempt = create plugins, recover state from the sink, open the source,
 * pump changes into table state, flush on transaction boundaries, stop cleanly. Attempts that fail
 * are retried with exponential backoff; nothing here touches another tenant's job. */
#include "engine_int.h"
#include "json.h"
#include "log.h"
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t sl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sl_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void sl_run_fail(sl_run *r, const char *fmt, ...)
{
    if (r->failed)
        return; /* keep the first cause */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    r->failed = 1;
}

static const char *host_err(const sl_host *h, const char *dflt)
{
    return h->err[0] ? h->err : dflt;
}

/* ---- data path ---- */

/* The change file's schema for a table schema: its columns plus _op, _commit_time, _commit_seq. */
static const sl_schema *change_schema(sl_run *r, const sl_schema *base)
{
    sl_field *f = calloc(base->ncols + 3, sizeof *f);
    if (!f)
        return NULL;
    for (uint32_t c = 0; c < base->ncols; c++)
        f[c] = base->cols[c];
    f[base->ncols] = (sl_field)SL_FIELD_INIT("_op", SL_T_STRING, 0);
    f[base->ncols + 1] = (sl_field)SL_FIELD_INIT("_commit_time", SL_T_TIMESTAMPTZ, 0);
    f[base->ncols + 2] = (sl_field)SL_FIELD_INIT("_commit_seq", SL_T_INT64, 0);
    const sl_schema *s = sl_schema_store_add(&r->schemas, base->ns, base->name, base->ncols + 3, f);
    free(f);
    return s;
}

/* The table's schema object changed while changes are pending (the source re-announced the
 * table, a replay moved from the recovered schema to the source's, or DDL): the pending rows move
 * to the new shape by column name, so none is dropped (a removed column's values go with it). */
static int change_log_reshape(sl_run *r, sl_change_log *ch, const sl_schema *base)
{
    const sl_schema *ns = change_schema(r, base);
    sl_batch *nb = ns ? sl_batch_new(ns) : NULL;
    if (!nb)
        return -1;
    for (size_t row = 0; row < ch->rows->nrows; row++) {
        if (sl_batch_row_begin(nb, (sl_op)ch->rows->ops[row]) < 0)
            break;
        for (uint32_t c = 0; c < ns->ncols; c++) {
            int oc = sl_schema_find_col(ch->schema, ns->cols[c].name);
            if (oc < 0)
                continue;
            sl_value v;
            sl_batch_get(ch->rows, row, (uint32_t)oc, &v);
            sl_batch_set_value(nb, c, &v);
        }
    }
    if (nb->oom) {
        sl_batch_free(nb);
        return -1;
    }
    sl_batch_free(ch->rows);
    ch->rows = nb;
    ch->schema = ns;
    ch->base = base;
    return 0;
}

static int append_change(sl_run *r, sl_run_table *rt, const sl_batch *b, size_t row)
{
    sl_change_log *ch = &rt->ch;
    const sl_schema *base = rt->t->schema;
    if (ch->rows && ch->base != base && ch->rows->nrows > 0) {
        if (change_log_reshape(r, ch, base) != 0)
            return -1;
    } else if (!ch->rows || ch->base != base) {
        sl_batch_free(ch->rows);
        ch->rows = NULL;
        ch->schema = change_schema(r, base);
        if (!ch->schema)
            return -1;
        ch->rows = sl_batch_new(ch->schema);
        if (!ch->rows)
            return -1;
        sl_batch_account(ch->rows, &r->mem_engine);
        ch->base = base;
        ch->committed = 0;
    }
    static const char *const opname[] = {"snapshot", "insert", "update", "delete", "truncate"};
    sl_op op = (sl_op)b->ops[row];
    if (sl_batch_row_begin(ch->rows, op) < 0)
        return -1;
    /* Without transforms the row is not resolved yet: its UNCHANGED cells are the stored row's,
     * which the change was just applied to. */
    sl_value stack[64], *stored = NULL;
    int have_stored = -1;
    for (uint32_t c = 0; c < base->ncols && c < b->schema->ncols; c++) {
        int bc = sl_schema_find_col(b->schema, base->cols[c].name);
        if (bc < 0)
            continue;
        sl_value v;
        sl_batch_get(b, row, (uint32_t)bc, &v);
        if (v.flag == SL_CELL_UNCHANGED && have_stored < 0) {
            have_stored = 0;
            stored = base->ncols <= 64 ? stack : calloc(base->ncols, sizeof *stored);
            if (stored && sl_schema_equal(base, b->schema))
                have_stored = sl_table_lookup(rt->t, b, row, stored);
        }
        if (v.flag == SL_CELL_UNCHANGED)
            v = have_stored > 0 ? stored[c] : (sl_value){.flag = SL_CELL_NULL};
        sl_batch_set_value(ch->rows, c, &v);
    }
    if (stored != stack)
        free(stored);
    const char *on = opname[op <= SL_OP_TRUNCATE ? op : 1];
    sl_batch_set_bytes(ch->rows, base->ncols, on, strlen(on));
    return ch->rows->oom ? -1 : 0;
}

sl_run_table *sl_run_table_for(sl_run *r, const sl_schema *s)
{
    for (size_t i = 0; i < r->ntables; i++)
        if (strcmp(r->tables[i].t->ns, s->ns) == 0 && strcmp(r->tables[i].t->name, s->name) == 0)
            return &r->tables[i];
    sl_run_table *nt = realloc(r->tables, (r->ntables + 1) * sizeof *nt);
    if (!nt)
        return NULL;
    r->tables = nt;
    sl_run_table *rt = &r->tables[r->ntables];
    memset(rt, 0, sizeof *rt);
    rt->t = sl_table_new(s->ns, s->name, s);
    if (!rt->t)
        return NULL;
    rt->t->dirty = 1; /* an empty table still gets its (empty) QVD */
    r->ntables++;
    if (s->nkeys == 0)
        sl_log(SL_LOG_WARN, r->d->tenant, NULL,
               "table %s%s%s has no primary key: rows are identified by their full contents", s->ns,
               *s->ns ? "." : "", s->name);
    return rt;
}

const char *sl_run_known_table(sl_run *r, size_t i, const char **ns, const void **pos,
                               size_t *pos_len)
{
    for (size_t k = 0; k < r->ntables; k++) {
        sl_run_table *rt = &r->tables[k];
        if (!rt->recovered || i--)
            continue;
        if (ns)
            *ns = rt->t->ns;
        /* A file ahead of the manifest holds every change up to skip_until; otherwise the table
         * is exactly at the job's resume position. */
        if (pos)
            *pos = rt->skip_until;
        if (pos_len)
            *pos_len = rt->skip_until ? rt->skip_len : 0;
        return rt->t->name;
    }
    return NULL;
}

static void run_table_free(sl_run_table *rt)
{
    sl_table_free(rt->t);
    free(rt->key);
    sl_batch_free(rt->ch.rows);
    free(rt->skip_until);
    free(rt->change_pos);
}

void sl_run_table_drop(sl_run *r, const char *ns, const char *name)
{
    for (size_t k = 0; k < r->ntables; k++) {
        sl_run_table *rt = &r->tables[k];
        if (strcmp(rt->t->ns, ns) != 0 || strcmp(rt->t->name, name) != 0)
            continue;
        sl_log(SL_LOG_INFO, r->d->tenant, NULL,
               "table %s%s%s is no longer selected: it leaves the manifest (its last file stays)",
               ns, *ns ? "." : "", name);
        sl_flush_detach_table(r, rt->t);
        run_table_free(rt);
        memmove(rt, rt + 1, (r->ntables - k - 1) * sizeof *rt);
        r->ntables--;
        r->manifest_dirty = 1;
        return;
    }
}

static int apply_batch(sl_run *r, const sl_batch *b)
{
    sl_run_table *rt = sl_run_table_for(r, b->schema);
    if (!rt) {
        sl_run_fail(r, "out of memory creating table state");
        return -1;
    }
    char msg[256];
    if (!rt->snapshot_seen && b->nrows && b->ops[0] == SL_OP_SNAPSHOT) {
        /* A new snapshot of a table whose state came from the sink (snapshot = "always", or a
         * re-snapshot after the source lost its position) replaces that state: rows deleted in
         * the meantime must not survive. */
        rt->snapshot_seen = 1;
        if (rt->t->nrows) {
            sl_log(SL_LOG_INFO, r->d->tenant, NULL,
                   "table %s: a new snapshot replaces the %zu recovered rows", rt->t->name,
                   sl_table_count(rt->t));
            sl_table_truncate(rt->t);
            rt->t->dirty = 1;
        }
        free(rt->skip_until);
        rt->skip_until = NULL;
    }
    for (size_t i = 0; i < b->nrows; i++) {
        if (rt->skip_until) {
            if (r->changes && b->ops[i] != SL_OP_SNAPSHOT && append_change(r, rt, b, i) != 0) {
                sl_run_fail(r, "out of memory recording changes of table %s", rt->t->name);
                return -1;
            }
            continue;
        }
        rt->txn_touched = 1;
        if (sl_table_apply(rt->t, b, i, msg, sizeof msg) != 0) {
            sl_run_fail(r, "%s", msg);
            return -1;
        }
        if (r->changes && b->ops[i] != SL_OP_SNAPSHOT && append_change(r, rt, b, i) != 0) {
            sl_run_fail(r, "out of memory recording changes of table %s", rt->t->name);
            return -1;
        }
    }
    r->changes_since_flush += b->nrows;
    r->rows_in += b->nrows;
    sl_run_mem_tables(r);
    return 0;
}

/* ---- memory per tenant ---- */

void sl_run_mem_tables(sl_run *r)
{
    long long m = (long long)(r->ntables * sizeof *r->tables);
    for (size_t i = 0; i < r->ntables; i++)
        m += (long long)sl_table_mem(r->tables[i].t);
    for (size_t i = 0; i < r->npre; i++)
        m += (long long)sl_table_mem(r->pre[i]);
    atomic_store(&r->mem_tables, m);
}

int64_t sl_run_mem(sl_run *r)
{
    return atomic_load(&r->mem_tables) + atomic_load(&r->mem_plugins) +
           atomic_load(&r->mem_engine) + atomic_load(&r->mem_flush);
}

static void mem_fail(sl_run *r, int64_t use)
{
    const double mib = 1 << 20;
    sl_run_fail(
        r,
        "tenant %s uses %.1f MiB, above memory_limit_mb = %lld (table state %.1f MiB, "
        "plugins %.1f MiB, change logs %.1f MiB, flush %.1f MiB) and a flush cannot free "
        "enough; raise memory_limit_mb or select fewer tables",
        r->d->tenant, (double)use / mib, (long long)(r->memory_limit >> 20),
        (double)atomic_load(&r->mem_tables) / mib, (double)atomic_load(&r->mem_plugins) / mib,
        (double)atomic_load(&r->mem_engine) / mib, (double)atomic_load(&r->mem_flush) / mib);
}

/* Between polls. 0: under the budget; 1: over it, hold the source while a flush frees memory
 * (copy-on-write copies, change logs, encoder buffers); -1: a flush cannot help (the job fails). */
static int mem_check(sl_run *r)
{
    if (r->memory_limit <= 0)
        return 0;
    int64_t use = sl_run_mem(r);
    if (use <= r->memory_limit) {
        r->mem_flushed = 0;
        return 0;
    }
    if (r->inflight)
        return 1;
    if (!r->mem_flushed && !r->txn_open && r->commits_since_flush > 0) {
        r->mem_flushed = 1;
        return sl_flush_start(r, 0) < 0 ? -1 : 1;
    }
    mem_fail(r, use);
    return -1;
}

/* Inside a source call (emit): nothing can be flushed mid-transaction, but a finished flush's
 * snapshots can be released at once. */
static int mem_check_emit(sl_run *r)
{
    if (r->memory_limit <= 0 || sl_run_mem(r) <= r->memory_limit)
        return 0;
    sl_flush_detach_table(r, NULL);
    int64_t use = sl_run_mem(r);
    if (use <= r->memory_limit)
        return 0;
    mem_fail(r, use);
    return -1;
}

/* ---- resolving UNCHANGED cells before transforms ---- */

static int has_unchanged(const sl_batch *b)
{
    for (uint32_t c = 0; c < b->schema->ncols; c++)
        if (memchr(b->cols[c].flags, SL_CELL_UNCHANGED, b->nrows))
            return 1;
    return 0;
}

/* The pre-transform image of a source table (jobs with transforms only), or NULL. */
static sl_table *pre_find(sl_run *r, const sl_schema *s)
{
    for (size_t i = 0; i < r->npre; i++)
        if (strcmp(r->pre[i]->ns, s->ns) == 0 && strcmp(r->pre[i]->name, s->name) == 0)
            return r->pre[i];
    return NULL;
}

static sl_table *pre_add(sl_run *r, const sl_schema *s)
{
    sl_table **np = realloc(r->pre, (r->npre + 1) * sizeof *np);
    if (!np)
        return NULL;
    r->pre = np;
    sl_table *t = sl_table_new(s->ns, s->name, s);
    if (t)
        r->pre[r->npre++] = t;
    return t;
}

/* Returns b with its UNCHANGED cells filled from the table's pre-transform image (b itself when
 * it has none), keeping the image up to date. The image of a table starts with the first
 * UNCHANGED cell its source sends (a source that never sends one costs nothing) and holds only
 * rows whose every cell is known: a row it cannot resolve keeps its UNCHANGED cells (the table
 * state fills them after the transforms, as for a transform that passes cells through) and stays
 * out of the image until the source sends it whole. Row by row, so a row sees the rows before it
 * in the batch; a key change's INSERT takes them from the row its DELETE removed. */
static const sl_batch *resolve(sl_run *r, const sl_batch *b)
{
    int any = has_unchanged(b);
    sl_table *pt = pre_find(r, b->schema);
    if (!pt && !any)
        return b;
    if (!pt && !(pt = pre_add(r, b->schema))) {
        sl_run_fail(r, "out of memory creating a table image");
        return NULL;
    }
    char msg[256];
    if (any && (!r->resolved || r->resolved->schema != b->schema)) {
        sl_batch_free(r->resolved);
        r->resolved = sl_batch_new(b->schema);
        if (!r->resolved) {
            sl_run_fail(r, "out of memory resolving unchanged cells");
            return NULL;
        }
        sl_batch_account(r->resolved, &r->mem_engine);
    }
    sl_batch *out = any ? r->resolved : NULL;
    if (out)
        sl_batch_clear(out);
    uint32_t nc = b->schema->ncols;
    sl_value stack[64];
    sl_value *vals = nc <= 64 ? stack : calloc(nc, sizeof *vals);
    if (!vals) {
        sl_run_fail(r, "out of memory resolving unchanged cells");
        return NULL;
    }
    const sl_batch *res = out ? out : b;
    int deleted_known = 0; /* the previous row was a DELETE of a row the image holds */
    for (size_t i = 0; i < b->nrows; i++) {
        sl_op op = (sl_op)b->ops[i];
        int unch = 0;
        for (uint32_t c = 0; c < nc && !unch; c++)
            unch = b->cols[c].flags[i] == SL_CELL_UNCHANGED;
        int known = !unch || op == SL_OP_DELETE || op == SL_OP_TRUNCATE;
        if (!known && pt->schema->nkeys)
            known = sl_table_lookup(pt, b, i, vals) || (op == SL_OP_INSERT && deleted_known);
        int was_deleted_known = op == SL_OP_DELETE && sl_table_lookup(pt, b, i, vals);
        /* A row the image cannot complete stays out of it: a stale or NULL cell there would
         * later "resolve" another update wrongly. */
        if (known && sl_table_apply(pt, b, i, msg, sizeof msg) != 0) {
            sl_run_fail(r, "%s", msg);
            res = NULL;
            break;
        }
        deleted_known = was_deleted_known;
        if (!out)
            continue;
        int stored = unch && known && sl_table_lookup(pt, b, i, vals);
        r->resolved_rows += stored != 0;
        if (unch && !stored && !r->unresolved++)
            sl_log(SL_LOG_WARN, r->d->tenant, NULL,
                   "table %s: an unchanged cell reached the transforms unresolved (its row was "
                   "not seen whole since the job started); the table state fills it after "
                   "them (counted in sluice_job_unresolved_rows_total)",
                   b->schema->name);
        if (sl_batch_row_begin(out, op) < 0) {
            sl_run_fail(r, "out of memory resolving unchanged cells");
            res = NULL;
            break;
        }
        for (uint32_t c = 0; c < nc; c++) {
            sl_value v;
            sl_batch_get(b, i, c, &v);
            if (v.flag == SL_CELL_UNCHANGED && stored)
                v = vals[c];
            sl_batch_set_value(out, c, &v);
        }
        if (out->oom) {
            sl_run_fail(r, "out of memory resolving unchanged cells");
            res = NULL;
            break;
        }
    }
    if (vals != stack)
        free(vals);
    return res;
}

sl_status sl_run_on_emit(sl_run *r, sl_batch *b)
{
    if (r->failed)
        return SL_ERROR;
    if (!b || b->oom) {
        sl_run_fail(r, "source ran out of memory building a batch");
        return SL_ERROR;
    }
    r->txn_open = 1;
    if (b->nrows)
        r->txn_rows = 1;
    /* Transforms see whole rows: UNCHANGED cells are filled first. Without transforms the table
     * state resolves them itself as it applies the row (table.c). */
    const sl_batch *cur = r->ntransforms ? resolve(r, b) : b;
    if (!cur) {
        sl_batch_clear(b);
        return SL_ERROR;
    }
    for (size_t i = 0; i < r->ntransforms && cur; i++) {
        sl_host *th = &r->transforms[i];
        const sl_batch *out = NULL;
        sl_status st = th->entry->desc.transform->transform(th->ctx, cur, &out);
        if (st != SL_OK) {
            sl_run_fail(r, "transform %s: %s", th->label, host_err(th, "failed"));
            return SL_ERROR;
        }
        cur = out;
    }
    int rc = cur ? apply_batch(r, cur) : 0;
    sl_batch_clear(b);
    if (rc == 0 && r->ntransforms)
        sl_run_mem_tables(r); /* the pre-transform images grew even when a transform dropped b */
    if (rc == 0 && mem_check_emit(r) != 0)
        rc = -1;
    return rc == 0 ? SL_OK : SL_ERROR;
}

sl_status sl_run_on_commit(sl_run *r, const void *pos, size_t len, int64_t commit_us)
{
    if (r->failed)
        return SL_ERROR;
    int64_t seen = commit_us ? commit_us : sl_now_us();
    if (!r->txn_open && len && len == r->pos_len && memcmp(pos, r->pos, len) == 0) {
        /* An empty commit at the unchanged position: the source only says it is current (a
         * keepalive). It moves nothing, so it costs no flush; it only keeps the lag metric
         * honest. */
        atomic_store(&r->job->current_us, seen);
        return SL_OK;
    }
    atomic_store(&r->job->current_us, seen);
    r->txn_open = 0;
    if (len && pos) {
        uint8_t *np = realloc(r->pos, len + 1);
        if (!np) {
            sl_run_fail(r, "out of memory storing the source position");
            return SL_ERROR;
        }
        memcpy(np, pos, len);
        np[len] = 0; /* see unhex in flush.c */
        r->pos = np;
        r->pos_len = len;
    }
    const sl_source_ops *so = r->source.entry ? r->source.entry->desc.source : NULL;
    for (size_t i = 0; i < r->ntables; i++) {
        sl_run_table *rt = &r->tables[i];
        if (!rt->skip_until)
            continue;
        int equal = rt->skip_len == len && memcmp(rt->skip_until, pos, len) == 0;
        /* The replay must reproduce the commit the file was written at. Passing it without
         * seeing it means the rows just skipped were newer than the file: stop rather than
         * serve a table that silently misses them. */
        int cmp = !equal && so && so->pos_compare && len
                      ? so->pos_compare(pos, len, rt->skip_until, rt->skip_len)
                      : 0;
        if (cmp > 0 && cmp != SL_POS_UNORDERED) {
            sl_run_fail(r,
                        "table %s: the source's replay passed the position its file was written "
                        "at without reproducing that commit; the table cannot be proven complete "
                        "(delete its file and the manifest entry, or restart with snapshot = "
                        "\"always\")",
                        rt->t->name);
            return SL_ERROR;
        }
        if (equal) {
            free(rt->change_pos);
            rt->change_pos = rt->skip_until;
            rt->change_pos_len = rt->skip_len;
            rt->skip_until = NULL;
            sl_log(SL_LOG_INFO, r->d->tenant, NULL,
                   "table %s: replay reached the position its file was written at", rt->t->name);
        }
    }
    for (size_t i = 0; i < r->ntables; i++) {
        sl_run_table *rt = &r->tables[i];
        if (!rt->txn_touched || !len)
            continue;
        rt->txn_touched = 0;
        uint8_t *cp = realloc(rt->change_pos, len);
        if (!cp) {
            sl_run_fail(r, "out of memory storing a table position");
            return SL_ERROR;
        }
        memcpy(cp, pos, len);
        rt->change_pos = cp;
        rt->change_pos_len = len;
    }
    int64_t now = sl_now_us();
    r->pos_commit_us = commit_us ? commit_us : now;
    if (r->commits_since_flush == 0)
        r->first_unflushed_us = r->pos_commit_us;
    r->commits_since_flush++;
    int had_rows = r->txn_rows;
    r->txn_rows = 0;
    if (had_rows && r->npending == r->cappending) {
        size_t ncap = r->cappending ? r->cappending * 2 : 1024;
        int64_t *np = realloc(r->pending_commits, ncap * sizeof *np);
        if (np) {
            r->pending_commits = np;
            r->cappending = ncap;
        }
    }
    if (had_rows && r->npending < r->cappending)
        r->pending_commits[r->npending++] = r->pos_commit_us;
    /* Only data waits for a flush; a commit that only moved the position is no lag. */
    if (r->npending == 1)
        sl_run_publish_unflushed(r);
    /* Stamp the change rows of this transaction. */
    for (size_t i = 0; i < r->ntables; i++) {
        sl_change_log *ch = &r->tables[i].ch;
        if (!ch->rows)
            continue;
        uint32_t base = ch->base->ncols;
        for (size_t row = ch->committed; row < ch->rows->nrows; row++) {
            ch->rows->cols[base + 1].i64[row] = r->pos_commit_us;
            ch->rows->cols[base + 1].flags[row] = SL_CELL_VALUE;
            ch->rows->cols[base + 2].i64[row] = (int64_t)r->commits_since_flush;
            ch->rows->cols[base + 2].flags[row] = SL_CELL_VALUE;
        }
        ch->committed = ch->rows->nrows;
    }
    /* No flush here: the job thread hands flushes off between polls (engine loop). */
    return SL_OK;
}

/* ---- plugin instances ---- */

static int host_create(sl_run *r, sl_host *h, const sl_plugin_spec *spec)
{
    h->run = r;
    h->entry = spec->entry;
    h->spec = spec;
    snprintf(h->label, sizeof h->label, "%s/%s", sl_kind_name(spec->entry->desc.kind),
             spec->entry->desc.name);
    if (spec->entry->desc.create(h, &sl_host_api_v2, &h->ctx) != 0) {
        sl_run_fail(r, "%s: %s", h->label, host_err(h, "create failed"));
        return -1;
    }
    h->created = 1;
    return 0;
}

static void host_destroy(sl_host *h)
{
    if (h->opened && h->entry->desc.close)
        h->entry->desc.close(h->ctx);
    h->opened = 0;
    if (h->created)
        h->entry->desc.destroy(h->ctx);
    h->created = 0;
    free(h->state);
    h->state = NULL;
}

/* Creates, opens and starts every notifier of the job (after recovery: their state comes from
 * the manifest). A notifier that cannot start fails the job like any other plugin. */
static int notifiers_start(sl_run *r)
{
    const sl_jobdesc *d = r->d;
    if (!d->nnotifiers)
        return 0;
    r->notifiers = calloc(d->nnotifiers, sizeof *r->notifiers);
    r->notify = calloc(d->nnotifiers, sizeof *r->notify);
    if (!r->notifiers || !r->notify) {
        sl_run_fail(r, "out of memory");
        return -1;
    }
    r->nnotifiers = d->nnotifiers;
    for (size_t i = 0; i < d->nnotifiers; i++) {
        sl_host *h = &r->notifiers[i];
        if (r->nstate && r->nstate[i]) {
            h->state = r->nstate[i];
            r->nstate[i] = NULL;
        }
        if (host_create(r, h, &d->notifiers[i]) != 0)
            return -1;
        if (h->entry->desc.open) {
            if (h->entry->desc.open(h->ctx, NULL) != 0) {
                sl_run_fail(r, "%s: %s", h->label, host_err(h, "open failed"));
                return -1;
            }
            h->opened = 1;
        }
        sl_notify_cfg cfg = {
            .ops = h->entry->desc.notifier, .ctx = h->ctx, .tenant = d->tenant, .label = h->label};
        r->notify[i] = sl_notify_start(&cfg);
        if (!r->notify[i]) {
            sl_run_fail(r, "%s: cannot start its thread", h->label);
            return -1;
        }
    }
    return 0;
}

/* Stops the notifier threads first (letting them deliver what is pending for up to drain_ms),
 * then the instances can be closed on this thread. */
static void notifiers_stop(sl_run *r, int drain_ms)
{
    for (size_t i = 0; i < r->nnotifiers; i++) {
        sl_notify_stop(r->notify[i], drain_ms);
        r->notify[i] = NULL;
    }
}

static void run_free(sl_run *r)
{
    /* The flush thread first: it may still read table snapshots and use the sink. */
    sl_flusher_stop(r);
    notifiers_stop(r, 0);
    for (size_t i = 0; i < r->nnotifiers; i++)
        host_destroy(&r->notifiers[i]);
    free(r->notifiers);
    free(r->notify);
    if (r->nstate)
        for (size_t i = 0; i < r->d->nnotifiers; i++)
            free(r->nstate[i]);
    free(r->nstate);
    host_destroy(&r->source);
    free(r->source.state);
    for (size_t i = 0; i < r->ntransforms; i++)
        host_destroy(&r->transforms[i]);
    host_destroy(&r->sink);
    free(r->transforms);
    for (size_t i = 0; i < r->ntables; i++)
        run_table_free(&r->tables[i]);
    free(r->tables);
    for (size_t i = 0; i < r->npre; i++)
        sl_table_free(r->pre[i]);
    free(r->pre);
    sl_batch_free(r->resolved);
    free(r->pos);
    free(r->durable);
    free(r->pending_commits);
    sl_schema_store_free(&r->schemas);
    if (r->state_lock_ok)
        pthread_mutex_destroy(&r->state_lock);
}

/* Latency (seconds) below which a fraction q of the flushed commits fall. */
static double lat_quantile(const sl_run *r, double q)
{
    if (r->lat_n == 0)
        return 0;
    uint64_t want = (uint64_t)(q * (double)r->lat_n + 0.5), seen = 0;
    if (want == 0)
        want = 1;
    for (size_t i = 0; i < 10001; i++) {
        seen += r->lat_hist[i];
        if (seen >= want)
            return i == 10000 ? (double)r->lat_max / 1e6 : (double)(i + 1) / 1000.0;
    }
    return (double)r->lat_max / 1e6;
}

void sl_run_publish_unflushed(sl_run *r)
{
    /* The running flush holds the older commits (pending_commits moved to it at the hand-off);
     * they stay lag until its manifest is durable. */
    int64_t oldest = r->inflight && r->inflight->ncommits ? r->inflight->commits[0]
                     : r->npending                        ? r->pending_commits[0]
                                                          : 0;
    atomic_store(&r->job->unflushed_us, oldest);
}

static void publish_metrics(sl_run *r)
{
    sl_job *job = r->job;
    sl_buf b = {0};
    const char *t = r->d->tenant;
    sl_buf_printf(&b, "sluice_job_up{tenant=\"%s\"} 1\n", t);
    sl_buf_printf(&b, "sluice_job_rows_in_total{tenant=\"%s\"} %llu\n", t,
                  (unsigned long long)r->rows_in);
    sl_buf_printf(&b, "sluice_job_flushes_total{tenant=\"%s\"} %llu\n", t,
                  (unsigned long long)r->flushes);
    pthread_mutex_lock(&job->mu);
    sl_buf_printf(&b, "sluice_job_restarts_total{tenant=\"%s\"} %llu\n", t,
                  (unsigned long long)job->restarts);
    sl_buf_printf(&b, "sluice_job_attempt{tenant=\"%s\"} %llu\n", t,
                  (unsigned long long)job->attempt_id);
    pthread_mutex_unlock(&job->mu);
    sl_buf_printf(&b, "sluice_job_commits_durable_total{tenant=\"%s\"} %llu\n", t,
                  (unsigned long long)r->lat_n);
    sl_buf_printf(&b, "sluice_job_commit_to_durable_p50_seconds{tenant=\"%s\"} %.3f\n", t,
                  lat_quantile(r, 0.5));
    sl_buf_printf(&b, "sluice_job_commit_to_durable_p99_seconds{tenant=\"%s\"} %.3f\n", t,
                  lat_quantile(r, 0.99));
    sl_buf_printf(&b, "sluice_job_commit_to_durable_max_seconds{tenant=\"%s\"} %.3f\n", t,
                  (double)r->lat_max / 1e6);
    /* The lag itself is computed when the metrics are read (sl_job_metrics). */
    sl_run_publish_unflushed(r);
    sl_buf_printf(&b, "sluice_job_memory_bytes{tenant=\"%s\"} %lld\n", t, (long long)sl_run_mem(r));
    sl_buf_printf(&b, "sluice_job_memory_limit_bytes{tenant=\"%s\"} %lld\n", t,
                  (long long)r->memory_limit);
    sl_buf_printf(&b, "sluice_job_flush_running{tenant=\"%s\"} %d\n", t, r->inflight != NULL);
    sl_buf_printf(&b, "sluice_job_polls_total{tenant=\"%s\"} %llu\n", t,
                  (unsigned long long)r->polls);
    sl_buf_printf(&b, "sluice_job_polls_during_flush_total{tenant=\"%s\"} %llu\n", t,
                  (unsigned long long)r->polls_during_flush);
    sl_buf_printf(&b, "sluice_job_heartbeats_total{tenant=\"%s\"} %llu\n", t,
                  (unsigned long long)r->heartbeats);
    sl_buf_printf(&b, "sluice_job_unresolved_rows_total{tenant=\"%s\"} %llu\n", t,
                  (unsigned long long)r->unresolved);
    sl_buf_printf(&b, "sluice_job_source_held_seconds_total{tenant=\"%s\"} %.3f\n", t,
                  (double)r->held_us / 1e6);
    for (size_t i = 0; i < r->ntables; i++) {
        sl_run_table *rt = &r->tables[i];
        const char *tn = rt->t->name;
        sl_buf_printf(&b, "sluice_table_rows{tenant=\"%s\",table=\"%s\"} %zu\n", t, tn,
                      sl_table_count(rt->t));
        sl_buf_printf(&b, "sluice_table_changes_total{tenant=\"%s\",table=\"%s\"} %llu\n", t, tn,
                      (unsigned long long)rt->t->changes_total);
        sl_buf_printf(&b, "sluice_table_last_flush_seconds{tenant=\"%s\",table=\"%s\"} %.3f\n", t,
                      tn, (double)rt->last_flush_us / 1e6);
        sl_buf_printf(&b,
                      "sluice_table_commit_to_durable_seconds{tenant=\"%s\",table=\"%s\"} %.6f\n",
                      t, tn, (double)rt->last_latency_us / 1e6);
    }
    sl_host *hosts[] = {&r->source, &r->sink};
    pthread_mutex_lock(&job->mu); /* the sink's metrics change on the flush thread */
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < hosts[k]->nmetrics; i++)
            sl_buf_printf(&b, "sluice_plugin_%s{tenant=\"%s\",plugin=\"%s\"} %.17g\n",
                          hosts[k]->metrics[i].name, t, hosts[k]->label,
                          hosts[k]->metrics[i].value);
    pthread_mutex_unlock(&job->mu);
    if (b.oom) {
        sl_buf_free(&b);
        return;
    }
    pthread_mutex_lock(&job->mu);
    free(job->metrics);
    job->metrics = b.p;
    pthread_mutex_unlock(&job->mu);
}

static double core_opt_d(const sl_jobdesc *d, const char *name, double dflt)
{
    const sl_optval *o = sl_spec_opt(&d->settings, name);
    return o ? o->d : dflt;
}

static int64_t core_opt_i(const sl_jobdesc *d, const char *name, int64_t dflt)
{
    const sl_optval *o = sl_spec_opt(&d->settings, name);
    return o ? o->i : dflt;
}

static int parse_tz(const char *s, int *minutes)
{
    if (!s || !*s || strcmp(s, "UTC") == 0 || strcmp(s, "Z") == 0) {
        *minutes = 0;
        return 0;
    }
    int h = 0, m = 0;
    char sign = 0;
    if (sscanf(s, "%c%d:%d", &sign, &h, &m) >= 2 && (sign == '+' || sign == '-') && h <= 14 &&
        m < 60) {
        *minutes = (sign == '-' ? -1 : 1) * (h * 60 + m);
        return 0;
    }
    return -1;
}

/* One attempt. Returns 0 when the job finished cleanly (stop requested or --once done). */
/* A stop inside a source transaction (an initial snapshot copy, a large transaction delivered
 * over many polls): a source that reports idle has given it up, and none is waited for longer
 * than a second (also while the source is held for backpressure). Nothing of it was committed,
 * so nothing of it may be flushed; the source delivers it again at the next start. 1 = abandon
 * it now. */
static int stop_abandons(sl_run *r, sl_status st, int64_t *stop_seen)
{
    if (!atomic_load(&r->job->stop) || !r->txn_open)
        return 0;
    int64_t now = sl_mono_us();
    if (!*stop_seen)
        *stop_seen = now;
    if (st != SL_AGAIN && st != SL_EOF && now - *stop_seen <= 1000000)
        return 0;
    sl_log(SL_LOG_INFO, r->d->tenant, NULL,
           "stopping inside an open source transaction: it is abandoned (not flushed) and read "
           "again at the next start");
    return 1;
}

static int run_attempt(sl_job *job, char *err, size_t errlen)
{
    const sl_jobdesc *d = job->desc;
    sl_run r;
    memset(&r, 0, sizeof r);
    r.job = job;
    r.d = d;
    r.flush_interval = core_opt_d(d, "flush_interval", 1.0);
    r.flush_max_changes = core_opt_i(d, "flush_max_changes", 10000);
    r.changes = (int)core_opt_i(d, "changes", 0);
    r.memory_limit = core_opt_i(d, "memory_limit_mb", 0) << 20;
    const sl_optval *fmt = sl_spec_opt(&d->settings, "format");
    r.csv = fmt && fmt->s && strcmp(fmt->s, "csv") == 0;
    const sl_optval *tz = sl_spec_opt(&d->settings, "timezone");
    if (parse_tz(tz ? tz->s : NULL, &r.tz_minutes) != 0) {
        snprintf(err, errlen, "option timezone: \"%s\" is not UTC or +HH:MM / -HH:MM", tz->s);
        return -1;
    }
    int rc = -1;
    if (pthread_mutex_init(&r.state_lock, NULL) != 0) {
        snprintf(err, errlen, "cannot create a lock");
        return -1;
    }
    r.state_lock_ok = 1;
    /* Sink first: recovery reads from it. */
    if (host_create(&r, &r.sink, &d->sink) != 0)
        goto out;
    if (r.sink.entry->desc.open) {
        if (r.sink.entry->desc.open(r.sink.ctx, NULL) != 0) {
            sl_run_fail(&r, "%s: %s", r.sink.label, host_err(&r.sink, "open failed"));
            goto out;
        }
        r.sink.opened = 1;
    }
    if (d->ntransforms) {
        r.transforms = calloc(d->ntransforms, sizeof *r.transforms);
        if (!r.transforms) {
            sl_run_fail(&r, "out of memory");
            goto out;
        }
        r.ntransforms = d->ntransforms;
        for (size_t i = 0; i < d->ntransforms; i++) {
            if (host_create(&r, &r.transforms[i], &d->transforms[i]) != 0)
                goto out;
            if (r.transforms[i].entry->desc.open) {
                if (r.transforms[i].entry->desc.open(r.transforms[i].ctx, NULL) != 0) {
                    sl_run_fail(&r, "%s: %s", r.transforms[i].label,
                                host_err(&r.transforms[i], "open failed"));
                    goto out;
                }
                r.transforms[i].opened = 1;
            }
        }
    }
    if (sl_recover(&r) != 0)
        goto out;
    sl_run_mem_tables(&r);
    if (notifiers_start(&r) != 0)
        goto out;
    /* From here on the sink is used only by the flush thread. */
    if (sl_flusher_start(&r) != 0)
        goto out;
    if (host_create(&r, &r.source, &d->source) != 0)
        goto out;
    sl_open_args oa = {.resume_pos = r.pos, .resume_len = r.pos_len, .once = job->once};
    if (r.source.entry->desc.open) {
        r.in_source = 1;
        int orc = r.source.entry->desc.open(r.source.ctx, &oa);
        r.in_source = 0;
        if (orc != 0) {
            sl_run_fail(&r, "%s: %s", r.source.label, host_err(&r.source, "open failed"));
            goto out;
        }
        r.source.opened = 1;
    }
    r.last_flush_mono = r.last_manifest_mono = sl_mono_us();
    const sl_source_ops *src = r.source.entry->desc.source;
    /* Changes applied while one flush runs, beyond which the source is held until it ends. */
    uint64_t pending_budget = (uint64_t)r.flush_max_changes * 4;
    int64_t last_metrics = 0, last_beat = 0, stop_seen = 0;
    int abandoned = 0;
    for (;;) {
        /* A flush the flush thread finished: bookkeeping and durable(), between polls. */
        if (sl_flush_poll(&r, 0) < 0)
            goto out;
        if (atomic_load(&job->stop) && !r.txn_open)
            break;
        int mem = mem_check(&r);
        if (mem < 0)
            goto out;
        if (mem > 0 || (r.inflight && r.changes_since_flush >= pending_budget)) {
            /* Backpressure: the source is not polled until the flush ends; it only keeps its
             * connection alive, at least once a second. */
            int64_t now = sl_mono_us();
            if (src->heartbeat && now - last_beat >= 1000000) {
                r.in_source = 1;
                sl_status hb = src->heartbeat(r.source.ctx);
                r.in_source = 0;
                r.heartbeats++;
                last_beat = now;
                if (hb == SL_ERROR || r.failed) {
                    sl_run_fail(&r, "%s: %s", r.source.label, host_err(&r.source, "failed"));
                    goto out;
                }
            }
            int64_t wait = 1000000 - (sl_mono_us() - last_beat);
            if (!src->heartbeat || wait > 200000 || wait < 1000)
                wait = 200000;
            if (sl_flush_poll(&r, wait) < 0)
                goto out;
            r.held_us += sl_mono_us() - now;
            if (stop_abandons(&r, SL_OK, &stop_seen)) {
                abandoned = 1;
                break;
            }
        } else {
            if (r.inflight)
                r.polls_during_flush++;
            r.polls++;
            r.in_source = 1;
            sl_status st = src->poll(r.source.ctx, r.inflight ? 50 : 200);
            r.in_source = 0;
            if (r.failed)
                goto out;
            if (stop_abandons(&r, st, &stop_seen)) {
                abandoned = 1;
                break;
            }
            if (st == SL_EOF) {
                if (r.txn_open) {
                    sl_run_fail(&r, "%s: finished inside an open transaction (no commit)",
                                r.source.label);
                    goto out;
                }
                break;
            }
            if (st == SL_RETRY || st == SL_ERROR) {
                sl_run_fail(&r, "%s: %s", r.source.label, host_err(&r.source, "failed"));
                goto out;
            }
            if (!r.txn_open && !r.inflight && sl_flush_due(&r) && sl_flush_start(&r, 0) < 0)
                goto out;
        }
        int64_t now = sl_mono_us();
        if (now - last_metrics > 500000) {
            publish_metrics(&r);
            last_metrics = now;
        }
    }
    /* Clean end: the final flush makes everything durable (up to the last commit: an abandoned
     * transaction's rows are already in the table state, so no flush at all then), and the
     * notifiers hear of it. */
    if (abandoned) {
        /* A flush handed off before the transaction began holds only committed data (its
         * snapshots predate the transaction's rows): it is let finish and made durable. */
        while (r.inflight)
            if (sl_flush_poll(&r, 1000000) < 0)
                goto out;
    } else if (sl_flush(&r, 1) != 0) {
        goto out;
    }
    notifiers_stop(&r, job->once ? 30000 : 2000);
    publish_metrics(&r);
    if (r.lat_n)
        sl_log(SL_LOG_INFO, d->tenant, NULL,
               "commit-to-durable latency over %llu commits: p50 %.3fs, p99 %.3fs, max %.3fs",
               (unsigned long long)r.lat_n, lat_quantile(&r, 0.5), lat_quantile(&r, 0.99),
               (double)r.lat_max / 1e6);
    if (r.resolved_rows || r.unresolved)
        sl_log(SL_LOG_INFO, d->tenant, NULL,
               "rows with unchanged cells: %llu resolved before the transforms, %llu after them",
               (unsigned long long)r.resolved_rows, (unsigned long long)r.unresolved);
    rc = 0;
out:
    if (rc != 0)
        snprintf(err, errlen, "%s", r.err[0] ? r.err : "failed");
    if (rc != 0 && r.fatal)
        rc = -2;
    run_free(&r);
    return rc;
}

static void sleep_interruptible(sl_job *job, int64_t us)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (us % 1000000) * 1000;
    ts.tv_sec += (time_t)(us / 1000000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&job->mu);
    while (!atomic_load(&job->stop)) {
        if (pthread_cond_timedwait(&job->cv, &job->mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&job->mu);
}

static void *job_thread(void *arg)
{
    sl_job *job = arg;
    const char *tenant = job->desc->tenant;
    int64_t backoff = 1000000;
    int failures = 0;
    sl_log(SL_LOG_INFO, tenant, NULL, "job started from %s", job->desc->file);
    while (!atomic_load(&job->stop)) {
        pthread_mutex_lock(&job->mu);
        job->attempt_id++;
        pthread_mutex_unlock(&job->mu);
        char err[1024];
        int64_t started = sl_mono_us();
        int arc = run_attempt(job, err, sizeof err);
        if (arc == 0)
            break;
        if (arc == -2) {
            /* A restart would meet the same refusal (or fight another process for the sink). */
            sl_log(SL_LOG_ERROR, tenant, NULL, "job stopped: %s", err);
            atomic_store(&job->failed, 1);
            break;
        }
        failures++;
        /* A run that lasted a while resets the backoff: it was a fresh failure, not a loop. */
        if (sl_mono_us() - started > 60000000)
            backoff = 1000000;
        if (job->once && failures >= 3) {
            sl_log(SL_LOG_ERROR, tenant, NULL, "job failed: %s; giving up after %d attempts", err,
                   failures);
            atomic_store(&job->failed, 1);
            break;
        }
        /* Jitter of up to 25% keeps many failing tenants from retrying in lockstep. */
        int64_t wait =
            backoff + (int64_t)(((uint64_t)started * 2654435761u) % (uint64_t)(backoff / 4 + 1));
        sl_log(SL_LOG_ERROR, tenant, NULL, "job failed: %s; restarting in %.1fs", err,
               (double)wait / 1e6);
        pthread_mutex_lock(&job->mu);
        job->restarts++;
        pthread_mutex_unlock(&job->mu);
        sleep_interruptible(job, wait);
        backoff = backoff * 2 > 60000000 ? 60000000 : backoff * 2;
    }
    sl_log(SL_LOG_INFO, tenant, NULL, "job stopped");
    atomic_store(&job->done, 1);
    return NULL;
}

sl_job *sl_job_start(sl_jobdesc *desc, int once)
{
    sl_job *job = calloc(1, sizeof *job);
    if (!job) {
        sl_job_free(desc);
        return NULL;
    }
    job->desc = desc;
    job->once = once;
    atomic_store(&job->current_us, sl_now_us());
    pthread_mutex_init(&job->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&job->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&job->thread, NULL, job_thread, job) != 0) {
        sl_log(SL_LOG_ERROR, desc->tenant, NULL, "cannot start the job thread");
        sl_job_free_stopped(job);
        return NULL;
    }
    job->started = 1;
    return job;
}

void sl_job_request_stop(sl_job *job)
{
    pthread_mutex_lock(&job->mu);
    atomic_store(&job->stop, 1);
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
}

int sl_job_join(sl_job *job, int timeout_ms)
{
    int64_t deadline = sl_mono_us() + (int64_t)timeout_ms * 1000;
    while (job->started && !atomic_load(&job->done)) {
        if (sl_mono_us() >= deadline)
            return -1;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (job->started) {
        pthread_join(job->thread, NULL);
        job->started = 0;
    }
    return 0;
}

void sl_job_free_stopped(sl_job *job)
{
    if (!job)
        return;
    sl_job_free(job->desc);
    free(job->metrics);
    pthread_mutex_destroy(&job->mu);
    pthread_cond_destroy(&job->cv);
    free(job);
}

char *sl_job_metrics(sl_job *job)
{
    /* The lag is computed here, at read time: it must grow while the job thread is blocked
     * (a stalled source), failing or reconnecting, when nothing republishes the rest. */
    int64_t now = sl_now_us(), since = atomic_load(&job->current_us);
    int64_t unflushed = atomic_load(&job->unflushed_us);
    if (unflushed && unflushed < since)
        since = unflushed;
    double lag = since && now > since ? (double)(now - since) / 1e6 : 0.0;
    pthread_mutex_lock(&job->mu);
    char *m = NULL;
    if (job->metrics) {
        size_t n = strlen(job->metrics), cap = n + strlen(job->desc->tenant) + 64;
        m = malloc(cap);
        if (m)
            snprintf(m, cap, "%ssluice_job_lag_seconds{tenant=\"%s\"} %.3f\n", job->metrics,
                     job->desc->tenant, lag);
    }
    pthread_mutex_unlock(&job->mu);
    return m;
}
