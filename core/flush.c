/* Flush: write every changed table's complete QVD (or CSV) through the sink, then the manifest
 * that names the position those files reflect, then acknowledge that position to the source.
 * Recovery: the same manifest and files, read back, rebuild the table state. The bucket is the
 * state: a crash at any moment leaves the previous complete flush or the new one. */
#include "engine_int.h"
#include "fnv.h"
#include "json.h"
#include "log.h"
#include "notify.h"
#include "qvd/qvd.h"
#include "valtext.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MANIFEST_KEY "_sluice/manifest.json"

static const sl_sink_ops *sink_ops(sl_run *r)
{
    return r->sink.entry->desc.sink;
}

static int get_object_quiet(sl_run *r, const char *key, sl_buf *b, int *found, char *version);

/* The source names the namespace its unqualified table names mean ("public", "dbo", the MySQL
 * database): the core knows no source's conventions. */
static int is_default_ns(sl_run *r, const char *ns)
{
    if (!*ns)
        return 1;
    const sl_source_ops *so = r->source.entry ? r->source.entry->desc.source : NULL;
    const char *d =
        so && so->default_ns && r->source.created ? so->default_ns(r->source.ctx) : NULL;
    return d && strcmp(ns, d) == 0;
}

static void safe_append(sl_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-' || c >= 0x80;
        char o = ok ? (char)c : '_';
        sl_buf_add(b, &o, 1);
    }
}

/* {table}.qvd, or {schema}.{table}.qvd when the schema is not the source's default or another
 * table of the job has the same bare name. */
static char *table_base(sl_run *r, const sl_table *t)
{
    int qualify = !is_default_ns(r, t->ns);
    for (size_t i = 0; i < r->ntables && !qualify; i++) {
        const sl_table *o = r->tables[i].t;
        if (o != t && strcmp(o->name, t->name) == 0)
            qualify = 1;
    }
    sl_buf b = {0};
    if (qualify && *t->ns) {
        safe_append(&b, t->ns);
        sl_buf_add(&b, ".", 1);
    }
    safe_append(&b, t->name);
    if (b.oom) {
        sl_buf_free(&b);
        return NULL;
    }
    return b.p;
}

/* ---- streaming a put through the sink ---- */

typedef struct put_ctx {
    sl_run *r;
    sl_put *put;
    sl_status st;
    uint64_t bytes;
    uint64_t hash;
} put_ctx;

static int put_out(void *ud, const void *p, size_t len)
{
    put_ctx *pc = ud;
    pc->hash = sl_fnv1a(pc->hash, p, len);
    pc->bytes += len;
    pc->st = sink_ops(pc->r)->put_write(pc->r->sink.ctx, pc->put, p, len);
    return pc->st == SL_OK ? 0 : -1;
}

typedef int (*producer_fn)(sl_run *r, void *arg, put_ctx *pc, char *err, size_t errlen);

/* A failure on the flush thread: kept apart from r->err, which the job thread owns meanwhile. */
__attribute__((format(printf, 2, 3))) static void flush_fail(sl_run *r, const char *fmt, ...)
{
    if (r->ffailed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->ferr, sizeof r->ferr, fmt, ap);
    va_end(ap);
    r->ffailed = 1;
}

/* Run producer into a new object; retries the whole object on SL_RETRY with backoff. */
static int put_object(sl_run *r, const char *key, const char *ctype, producer_fn prod, void *arg,
                      uint64_t *bytes, uint64_t *hash)
{
    int64_t backoff = 500000;
    for (int attempt = 1;; attempt++) {
        put_ctx pc = {.r = r, .hash = SL_FNV_INIT};
        char perr[256] = "";
        r->sink.err[0] = 0;
        sl_put_opts po = {.size = sizeof po, .content_type = ctype};
        sl_status st = sink_ops(r)->put_begin(r->sink.ctx, key, &po, &pc.put);
        if (st == SL_OK) {
            if (prod(r, arg, &pc, perr, sizeof perr) != 0) {
                sink_ops(r)->put_abort(r->sink.ctx, pc.put);
                if (pc.st == SL_OK) {
                    flush_fail(r, "encoding %s: %s", key, perr[0] ? perr : "failed");
                    return -1;
                }
                st = pc.st;
            } else {
                char version[SL_VERSION_MAX];
                st = sink_ops(r)->put_commit(r->sink.ctx, pc.put, version);
            }
        }
        if (st == SL_OK) {
            if (bytes)
                *bytes = pc.bytes;
            if (hash)
                *hash = pc.hash;
            return 0;
        }
        const char *why = r->sink.err[0] ? r->sink.err : "write failed";
        if (st != SL_RETRY || attempt >= 5 || atomic_load(&r->job->stop)) {
            flush_fail(r, "%s: writing %s: %s", r->sink.label, key, why);
            return -1;
        }
        sl_log(SL_LOG_WARN, r->d->tenant, r->sink.label, "writing %s: %s; retry %d in %.1fs", key,
               why, attempt, (double)backoff / 1e6);
        struct timespec ts = {(time_t)(backoff / 1000000), (long)(backoff % 1000000) * 1000};
        nanosleep(&ts, NULL);
        backoff *= 2;
    }
}

/* The manifest, written conditionally (fencing): only over the version this attempt read or
 * wrote last, or only if none exists. SL_CONFLICT means another process wrote this sink
 * location since: the job stops (r->fatal) and never overwrites it. Flush thread: the outcome
 * (new version, fatal) goes into fj and flush_finish applies it on the job thread; r's fencing
 * fields change only there, never while a flush runs. */
static int put_manifest(sl_run *r, sl_flush_job *fj, const sl_buf *m)
{
    const sl_sink_ops *ops = sink_ops(r);
    int64_t backoff = 500000;
    for (int attempt = 1;; attempt++) {
        r->sink.err[0] = 0;
        sl_put_opts po = {.size = sizeof po, .content_type = "application/json"};
        if (ops->conditional) {
            po.if_match = r->manifest_found ? r->manifest_version : NULL;
            po.if_none_match = !r->manifest_found;
        }
        char version[SL_VERSION_MAX] = "";
        sl_put *put = NULL;
        sl_status st = m->oom ? SL_ERROR : ops->put_begin(r->sink.ctx, MANIFEST_KEY, &po, &put);
        if (st == SL_OK) {
            st = ops->put_write(r->sink.ctx, put, m->p, m->len);
            if (st != SL_OK)
                ops->put_abort(r->sink.ctx, put);
            else
                st = ops->put_commit(r->sink.ctx, put, version);
        }
        char why[sizeof r->sink.err];
        snprintf(why, sizeof why, "%s",
                 m->oom           ? "out of memory"
                 : r->sink.err[0] ? r->sink.err
                                  : "write failed");
        int late = 0; /* the other write was built before this attempt started */
        if (st == SL_CONFLICT) {
            /* A copy of this very put may have landed with only its answer lost (a retry, here
             * or inside the sink): then the manifest there is byte for byte ours (it names the
             * time it was built, so another writer's never is). */
            sl_buf cur = {0};
            int found = 0;
            if (get_object_quiet(r, MANIFEST_KEY, &cur, &found, version) == 0 && found) {
                if (cur.len == m->len && memcmp(cur.p, m->p, m->len) == 0) {
                    st = SL_OK;
                } else {
                    sl_json *j = sl_json_parse(cur.p, cur.len, NULL, 0);
                    int64_t at = j ? (int64_t)sl_json_num(j, "written_at_us", 0) : 0;
                    late = at > 0 && at < r->attempt_start_us;
                    sl_json_free(j);
                }
            }
            sl_buf_free(&cur);
        }
        if (st == SL_OK) {
            snprintf(fj->manifest_version, sizeof fj->manifest_version, "%s", version);
            return 0;
        }
        if (st == SL_CONFLICT && late) {
            /* Built before this attempt started: a late write of the process this one replaces
             * (killed with its PUT in flight). Recover from it again. */
            flush_fail(r,
                       "%s: %s was replaced by a write older than this job's start (a late write "
                       "of its previous run?): recovering from it again",
                       r->sink.label, MANIFEST_KEY);
            return -1;
        }
        if (st == SL_CONFLICT) {
            fj->fatal = 1;
            flush_fail(r,
                       "%s: %s was changed by another process since this job read or wrote it "
                       "(%s): stopping without overwriting it; two jobs must not share one "
                       "sink location",
                       r->sink.label, MANIFEST_KEY, why);
            return -1;
        }
        if (st != SL_RETRY || attempt >= 5 || atomic_load(&r->job->stop)) {
            flush_fail(r, "%s: writing %s: %s", r->sink.label, MANIFEST_KEY, why);
            return -1;
        }
        sl_log(SL_LOG_WARN, r->d->tenant, r->sink.label, "writing %s: %s; retry %d in %.1fs",
               MANIFEST_KEY, why, attempt, (double)backoff / 1e6);
        struct timespec ts = {(time_t)(backoff / 1000000), (long)(backoff % 1000000) * 1000};
        nanosleep(&ts, NULL);
        backoff *= 2;
    }
}

/* ---- encoders ---- */

static int csv_field(sl_buf *b, const char *s, size_t n)
{
    int quote = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
            quote = 1;
    if (!quote) {
        sl_buf_add(b, s, n);
        return 0;
    }
    sl_buf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            sl_buf_add(b, "\"", 1);
        sl_buf_add(b, &s[i], 1);
    }
    sl_buf_add(b, "\"", 1);
    return 0;
}

typedef struct rows_src {
    const sl_schema *schema;
    /* Either a table (sorted) or a batch. */
    const sl_table *t;
    const sl_batch *b;
    const char *table_name;
    const char *comment;
} rows_src;

/* Calls fn once per output row (a keyless table's duplicates once each), table rows in key order.
 * fn returns 0, or -1 to stop (it reports its own cause). 0, or -1 (out of memory, or fn). */
typedef int (*row_fn)(void *ud, const sl_value *vals);

static int each_row(const rows_src *rs, row_fn fn, void *ud, int *oom)
{
    const sl_schema *s = rs->schema;
    sl_value *vals = calloc(s->ncols ? s->ncols : 1, sizeof *vals);
    size_t *order = rs->t ? sl_table_sorted(rs->t) : NULL;
    size_t n = rs->t ? rs->t->nrows : rs->b->nrows;
    int rc = -1;
    *oom = !vals || (rs->t && !order);
    for (size_t i = 0; i < n && !*oom; i++) {
        uint32_t count = 1;
        if (rs->t)
            count = sl_table_row(rs->t, order[i], vals);
        else
            for (uint32_t c = 0; c < s->ncols; c++)
                sl_batch_get(rs->b, i, c, &vals[c]);
        for (uint32_t k = 0; k < count; k++)
            if (fn(ud, vals) != 0)
                goto out;
    }
    rc = *oom ? -1 : 0;
out:
    free(order);
    free(vals);
    return rc;
}

typedef struct csv_out {
    sl_run *r;
    const sl_schema *s;
    put_ctx *pc;
    sl_buf line, cell;
} csv_out;

static int csv_row(void *ud, const sl_value *vals)
{
    csv_out *o = ud;
    for (uint32_t c = 0; c < o->s->ncols; c++) {
        if (c)
            sl_buf_add(&o->line, ",", 1);
        o->cell.len = 0;
        sl_value_text(&o->cell, o->s->cols[c].type, &vals[c], o->r->tz_minutes);
        if (o->cell.len)
            csv_field(&o->line, o->cell.p, o->cell.len);
    }
    sl_buf_add(&o->line, "\r\n", 2);
    if (o->line.oom || o->cell.oom)
        return -1;
    if (o->line.len >= 1 << 20) {
        if (put_out(o->pc, o->line.p, o->line.len) != 0)
            return -1;
        o->line.len = 0;
    }
    return 0;
}

static int produce_csv(sl_run *r, void *arg, put_ctx *pc, char *err, size_t errlen)
{
    rows_src *rs = arg;
    csv_out o = {.r = r, .s = rs->schema, .pc = pc};
    for (uint32_t c = 0; c < o.s->ncols; c++) {
        if (c)
            sl_buf_add(&o.line, ",", 1);
        csv_field(&o.line, o.s->cols[c].name, strlen(o.s->cols[c].name));
    }
    sl_buf_add(&o.line, "\r\n", 2);
    int oom = 0;
    int rc = each_row(rs, csv_row, &o, &oom);
    if (rc == 0 && !o.line.oom && o.line.len && put_out(pc, o.line.p, o.line.len) != 0)
        rc = -1;
    if (oom || o.line.oom || o.cell.oom) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    sl_buf_free(&o.line);
    sl_buf_free(&o.cell);
    return rc;
}

typedef struct qvd_out {
    sl_qvd_writer *w;
    char *err;
    size_t errlen;
} qvd_out;

static int qvd_row(void *ud, const sl_value *vals)
{
    qvd_out *o = ud;
    if (sl_qvd_writer_add_row(o->w, vals) == 0)
        return 0;
    snprintf(o->err, o->errlen, "%s", sl_qvd_writer_error(o->w));
    return -1;
}

static int produce_qvd(sl_run *r, void *arg, put_ctx *pc, char *err, size_t errlen)
{
    rows_src *rs = arg;
    const sl_schema *s = rs->schema;
    sl_qvd_column_spec *cols = calloc(s->ncols ? s->ncols : 1, sizeof *cols);
    if (!cols) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (uint32_t c = 0; c < s->ncols; c++) {
        cols[c].name = s->cols[c].name;
        cols[c].type = s->cols[c].type;
        cols[c].key = s->cols[c].key;
    }
    char creator[256];
    snprintf(creator, sizeof creator, "sluice://%s/%s", r->d->tenant, r->source.label);
    sl_qvd_write_opts opts = {.table_name = rs->table_name,
                              .creator_doc = creator,
                              .comment = rs->comment,
                              .create_time_us = sl_now_us(),
                              .fields = s->cols,
                              .tz_offset_minutes = r->tz_minutes};
    qvd_out o = {.w = sl_qvd_writer_new(&opts, s->ncols, cols), .err = err, .errlen = errlen};
    free(cols);
    if (!o.w) {
        snprintf(err, errlen, "cannot create the QVD writer");
        return -1;
    }
    int oom = 0;
    int rc = each_row(rs, qvd_row, &o, &oom);
    if (oom)
        snprintf(err, errlen, "out of memory");
    /* The encoder's symbols and row indices are the flush's big buffer: count them while held. */
    long long wmem = (long long)sl_qvd_writer_mem(o.w);
    atomic_fetch_add(&r->mem_flush, wmem);
    if (rc == 0 && sl_qvd_writer_finish(o.w, put_out, pc) != 0) {
        snprintf(err, errlen, "%s", sl_qvd_writer_error(o.w));
        rc = -1;
    }
    sl_qvd_writer_free(o.w);
    atomic_fetch_sub(&r->mem_flush, wmem);
    return rc;
}

/* ---- manifest ---- */

/* The source's identity: its plugin name and an FNV-1a-64 digest of the options it flags
 * SL_OPT_IDENTITY (name=value, in name order; SECRET ones never), so that state written from one
 * database is not resumed against another. Tuning options (and table lists, which may grow) are
 * not part of it. */
static int optval_cmp(const void *a, const void *b)
{
    return strcmp((*(const sl_optval *const *)a)->name, (*(const sl_optval *const *)b)->name);
}

static void source_identity(const sl_run *r, char out[17])
{
    const sl_plugin_spec *sp = &r->d->source;
    const sl_optval **o = calloc(sp->nopts ? sp->nopts : 1, sizeof *o);
    size_t n = 0;
    for (size_t i = 0; o && i < sp->nopts; i++)
        if ((sp->opts[i].flags & SL_OPT_IDENTITY) && !(sp->opts[i].flags & SL_OPT_SECRET) &&
            sp->opts[i].s)
            o[n++] = &sp->opts[i];
    if (o)
        qsort(o, n, sizeof *o, optval_cmp);
    uint64_t h = SL_FNV_INIT;
    const char *name = r->d->source.entry->desc.name;
    for (size_t k = 0; k <= n; k++) {
        const char *parts[4] = {k ? o[k - 1]->name : name, "=", k ? o[k - 1]->s : "", "\n"};
        for (size_t j = 0; j < 4; j++)
            h = sl_fnv1a(h, parts[j], strlen(parts[j]));
    }
    free(o);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* Where the sink keeps the job's state, for error lines: the sink's bucket/path and prefix
 * options when it has them. */
static void sink_location(const sl_run *r, char *out, size_t n)
{
    const sl_optval *b = sl_spec_opt(&r->d->sink, "bucket");
    const sl_optval *p = sl_spec_opt(&r->d->sink, "path");
    const sl_optval *x = sl_spec_opt(&r->d->sink, "prefix");
    snprintf(out, n, "%s%s%s%s%s%s", r->sink.label, b && b->s ? " bucket " : "",
             b && b->s ? b->s : "", p && p->s ? " path " : "", p && p->s ? p->s : "",
             x && x->s && *x->s ? " prefix " : "");
    if (x && x->s && *x->s) {
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s", x->s);
    }
}

static void iso_time(char *out, size_t n, int64_t us)
{
    sl_buf b = {0};
    sl_value v = {.flag = SL_CELL_VALUE, .i = us};
    sl_value_text(&b, SL_T_TIMESTAMPTZ, &v, 0);
    snprintf(out, n, "%s", b.p ? b.p : "");
    sl_buf_free(&b);
}

static void hex(sl_buf *b, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_buf_printf(b, "%02x", p[i]);
}

static int printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] >= 0x7f)
            return 0;
    return 1;
}

/* "notifier/<name>#<index>": the key a notifier's state is kept under in the manifest. */
static void state_key(char *out, size_t len, const char *name, size_t i)
{
    snprintf(out, len, "notifier/%s#%zu", name, i);
}

/* Plugins' small state texts (state_set): written with every manifest, read back at start. */
static void manifest_state(sl_run *r, sl_buf *m)
{
    pthread_mutex_lock(&r->state_lock);
    int any = 0;
    for (size_t i = 0; i < r->nnotifiers; i++) {
        const sl_host *h = &r->notifiers[i];
        if (!h->state)
            continue;
        char k[160];
        state_key(k, sizeof k, h->entry->desc.name, i);
        sl_buf_printf(m, "%s\n    ", any ? "," : ",\n  \"state\": {");
        sl_buf_json_str(m, k, strlen(k));
        sl_buf_printf(m, ": ");
        sl_buf_json_str(m, h->state, strlen(h->state));
        any = 1;
    }
    pthread_mutex_unlock(&r->state_lock);
    if (any)
        sl_buf_printf(m, "\n  }");
}

/* Tells the notifiers what this flush made durable: the tables whose files it wrote. Job
 * thread, when the flush is finished. */
static void notify_flush(sl_run *r, const sl_flush_job *fj)
{
    if (!r->nnotifiers)
        return;
    size_t n = 0;
    for (size_t i = 0; i < fj->ntables; i++)
        n += fj->tables[i].changed != 0;
    if (n == 0)
        return; /* only the position moved: nothing for Qlik to reload */
    sl_flush_table *ft = calloc(n, sizeof *ft);
    if (!ft) {
        sl_log(SL_LOG_ERROR, r->d->tenant, NULL, "out of memory: flush %llu not notified",
               (unsigned long long)fj->seq);
        return;
    }
    n = 0;
    for (size_t i = 0; i < fj->ntables; i++) {
        const sl_flush_table_job *tj = &fj->tables[i];
        if (tj->changed)
            ft[n++] =
                (sl_flush_table){sizeof *ft, tj->ns, tj->name, tj->key, tj->rows, tj->pending};
    }
    char text[256] = "";
    const sl_source_ops *so = r->source.entry ? r->source.entry->desc.source : NULL;
    if (so && so->pos_format && so->pos_format(fj->pos, fj->pos_len, text, sizeof text) >= 0) {
        /* the source's own form */
    } else if (fj->pos_len < sizeof text && printable(fj->pos, fj->pos_len)) {
        memcpy(text, fj->pos, fj->pos_len);
        text[fj->pos_len] = 0;
    } else {
        sl_buf hx = {0};
        hex(&hx, fj->pos, fj->pos_len);
        snprintf(text, sizeof text, "%s", hx.p ? hx.p : "");
        sl_buf_free(&hx);
    }
    sl_flush_info fi = {.size = sizeof fi,
                        .flush_seq = fj->seq,
                        .pos = fj->pos,
                        .pos_len = fj->pos_len,
                        .pos_text = text,
                        .commit_time_us = fj->pos_commit_us,
                        .durable_time_us = fj->durable_us,
                        .oldest_commit_us = fj->ncommits ? fj->commits[0] : 0,
                        .ntables = n,
                        .tables = ft,
                        .table_size = sizeof *ft};
    for (size_t i = 0; i < r->nnotifiers; i++)
        sl_notify_post(r->notify[i], &fi);
    free(ft);
}

static void manifest_build(sl_run *r, const sl_flush_job *fj, sl_buf *m)
{
    char when[64], commit[64];
    int64_t now_us = sl_now_us();
    iso_time(when, sizeof when, now_us);
    iso_time(commit, sizeof commit, fj->pos_commit_us);
    sl_buf_printf(m, "{\n  \"format\": \"sluice-manifest/1\",\n  \"tenant\": ");
    sl_buf_json_str(m, r->d->tenant, strlen(r->d->tenant));
    char ident[17];
    source_identity(r, ident);
    sl_buf_printf(m,
                  ",\n  \"source\": \"%s\",\n  \"source_identity\": \"%s\",\n  \"flush\": "
                  "%llu,\n  \"position\": \"",
                  r->source.label, ident, (unsigned long long)fj->seq);
    hex(m, fj->pos, fj->pos_len);
    sl_buf_printf(m, "\",\n");
    if (fj->pos_len && printable(fj->pos, fj->pos_len)) {
        sl_buf_printf(m, "  \"position_text\": ");
        sl_buf_json_str(m, (const char *)fj->pos, fj->pos_len);
        sl_buf_printf(m, ",\n");
    }
    if (fj->source_state) {
        /* The source's own small state (api->state_set), as it was at this flush's position
         * (copied when the flush was handed off: the source may have moved on since). */
        sl_buf_printf(m, "  \"source_state\": ");
        sl_buf_json_str(m, fj->source_state, strlen(fj->source_state));
        sl_buf_printf(m, ",\n");
    }
    sl_buf_printf(m,
                  "  \"commit_time\": \"%s\",\n  \"commit_time_us\": %lld,\n  \"written_at\": "
                  "\"%s\",\n  \"written_at_us\": %lld,\n  \"file_format\": \"%s\",\n  "
                  "\"tables\": [",
                  commit, (long long)fj->pos_commit_us, when, (long long)now_us,
                  r->csv ? "csv" : "qvd");
    for (size_t i = 0; i < fj->ntables; i++) {
        const sl_flush_table_job *tj = &fj->tables[i];
        const sl_schema *s = tj->schema;
        sl_buf_printf(m, "%s\n    {\"ns\": ", i ? "," : "");
        sl_buf_json_str(m, tj->ns, strlen(tj->ns));
        sl_buf_printf(m, ", \"name\": ");
        sl_buf_json_str(m, tj->name, strlen(tj->name));
        sl_buf_printf(m, ", \"key\": ");
        sl_buf_json_str(m, tj->key, strlen(tj->key));
        sl_buf_printf(m,
                      ", \"rows\": %zu, \"flush\": %llu, \"bytes\": %llu, \"fnv64\": "
                      "\"%016llx\",\n     \"columns\": [",
                      tj->rows, (unsigned long long)tj->file_flush,
                      (unsigned long long)tj->file_bytes, (unsigned long long)tj->file_hash);
        for (uint32_t c = 0; c < s->ncols; c++) {
            sl_buf_printf(m, "%s{\"name\": ", c ? ", " : "");
            sl_buf_json_str(m, s->cols[c].name, strlen(s->cols[c].name));
            sl_buf_printf(m, ", \"type\": \"%s\", \"key\": %d}", sl_type_name(s->cols[c].type),
                          s->cols[c].key);
        }
        sl_buf_printf(m, "]");
        if (tj->skip_until) {
            /* Still replaying changes this table's file already holds: a restart must keep
             * skipping them (see recover_table). */
            sl_buf_printf(m, ",\n     \"skip_until\": \"");
            hex(m, tj->skip_until, tj->skip_len);
            sl_buf_printf(m, "\"");
        }
        if (tj->chkey) {
            /* next: the number the table's next change file gets (this one's plus one) */
            sl_buf_printf(m, ",\n     \"changes\": {\"next\": %llu, \"key\": ",
                          (unsigned long long)tj->ch_next + 1);
            sl_buf_json_str(m, tj->chkey, strlen(tj->chkey));
            sl_buf_printf(m, ", \"rows\": %zu}", tj->chrows);
        } else if (tj->ch_next) {
            sl_buf_printf(m, ",\n     \"changes\": {\"next\": %llu}",
                          (unsigned long long)tj->ch_next);
        }
        sl_buf_printf(m, "}");
    }
    sl_buf_printf(m, "\n  ]");
    manifest_state(r, m);
    sl_buf_printf(m, "\n}\n");
}

/* ---- change files ---- */

/* "_changes/{table}/" for a table whose current-state key is "{table}.qvd" (malloc'd). */
static char *change_dir(const char *key)
{
    const char *dot = strrchr(key, '.');
    size_t n = dot ? (size_t)(dot - key) : strlen(key);
    char *d = malloc(n + 11);
    if (d)
        snprintf(d, n + 11, "_changes/%.*s/", (int)n, key);
    return d;
}

typedef struct change_scan {
    size_t dirlen;
    uint64_t next; /* the manifest's number, or 0 */
    uint64_t max;  /* highest number found */
    size_t leftover, beyond;
} change_scan;

static sl_status change_scan_cb(void *ud, const char *key, uint64_t size)
{
    (void)size;
    change_scan *cs = ud;
    const char *p = key + cs->dirlen;
    char *end;
    uint64_t n = strlen(p) > 12 ? strtoull(p, &end, 10) : 0;
    if (!n || end != p + 12)
        return SL_OK; /* not a change file of ours */
    if (n > cs->max)
        cs->max = n;
    cs->leftover += cs->next && n == cs->next;
    cs->beyond += cs->next && n > cs->next;
    return SL_OK;
}

/* Lists the change files of the table stored under key. With *next (from the manifest) set,
 * says what an interrupted flush left; without, sets it past the highest file there (a new
 * table, or a manifest from before change-file numbers were kept). Runs at recovery (job
 * thread) and in a flush (flush thread: flusher = 1, the failure goes to the flush's result).
 * 0 / -1 (failed). */
static int change_files_check(sl_run *r, const char *key, uint64_t *next, int flusher)
{
    char *dir = change_dir(key);
    if (!dir) {
        if (flusher)
            flush_fail(r, "out of memory");
        else
            sl_run_fail(r, "out of memory");
        return -1;
    }
    change_scan cs = {.dirlen = strlen(dir), .next = *next};
    r->sink.err[0] = 0;
    sl_status st = sink_ops(r)->list(r->sink.ctx, dir, change_scan_cb, &cs);
    if (st != SL_OK) {
        const char *why = r->sink.err[0] ? r->sink.err : "failed";
        if (flusher)
            flush_fail(r, "%s: listing %s: %s", r->sink.label, dir, why);
        else
            sl_run_fail(r, "%s: listing %s: %s", r->sink.label, dir, why);
        free(dir);
        return -1;
    }
    if (!*next) {
        *next = cs.max + 1;
    } else if (cs.leftover) {
        sl_log(SL_LOG_INFO, r->d->tenant, NULL,
               "%s%012llu: left by an interrupted flush; the replay writes it again", dir,
               (unsigned long long)*next);
    }
    if (cs.beyond)
        sl_log(SL_LOG_WARN, r->d->tenant, NULL,
               "%s holds %zu change file(s) numbered past %012llu, which the manifest does not "
               "know (another process writing this location?): readers may see their changes "
               "twice",
               dir, cs.beyond, (unsigned long long)*next);
    free(dir);
    return 0;
}

/* Flush thread: writes the table's changes moved into tj as change file number tj->ch_next.
 * The number (and so the key) depends only on the durable manifest, so a retry or a replay
 * after a crash rewrites the same key instead of adding a second file with the same changes. */
static int write_change_file(sl_run *r, const sl_flush_job *fj, sl_flush_table_job *tj)
{
    if (!tj->ch_next && change_files_check(r, tj->key, &tj->ch_next, 1) != 0)
        return -1;
    char *dir = change_dir(tj->key);
    sl_buf key = {0}, comment = {0};
    int rc = -1;
    if (!dir) {
        flush_fail(r, "out of memory");
        goto out;
    }
    sl_buf_printf(&key, "%s%012llu%s", dir, (unsigned long long)tj->ch_next,
                  r->csv ? ".csv" : ".qvd");
    /* (from, to]: every change of the table after the last durable flush up to this one */
    sl_buf_printf(&comment, "sluice flush=%llu changes=%llu from=", (unsigned long long)fj->seq,
                  (unsigned long long)tj->ch_next);
    hex(&comment, fj->from, fj->from_len);
    sl_buf_printf(&comment, " to=");
    hex(&comment, fj->pos, fj->pos_len);
    if (key.oom || comment.oom) {
        flush_fail(r, "out of memory");
        goto out;
    }
    rows_src cs = {.schema = tj->changes->schema,
                   .b = tj->changes,
                   .table_name = tj->name,
                   .comment = comment.p};
    if (put_object(r, key.p, r->csv ? "text/csv" : "application/octet-stream",
                   r->csv ? produce_csv : produce_qvd, &cs, NULL, NULL) != 0)
        goto out;
    tj->chkey = key.p;
    key.p = NULL;
    rc = 0;
out:
    free(dir);
    sl_buf_free(&key);
    sl_buf_free(&comment);
    return rc;
}

int sl_flush_due(const sl_run *r)
{
    if (r->txn_open || r->commits_since_flush == 0)
        return 0;
    int64_t since = sl_mono_us() - r->last_flush_mono;
    int dirty = r->changes_since_flush > 0 || r->manifest_dirty;
    for (size_t i = 0; i < r->ntables && !dirty; i++)
        dirty = r->tables[i].t->dirty; /* e.g. a new, empty table */
    if (dirty)
        return since >= (int64_t)(r->flush_interval * 1e6) ||
               (int64_t)r->changes_since_flush >= r->flush_max_changes;
    /* Position moved without data (other tables' commits): keep the ack moving, less often. */
    double iv = r->flush_interval > 10 ? r->flush_interval : 10;
    return since >= (int64_t)(iv * 1e6);
}

/* ---- the flush thread ---- */

/* Runs on the flush thread: reads only fj, the frozen snapshots, the sink and the run's
 * immutable settings. */
static void flush_exec(sl_run *r, sl_flush_job *fj)
{
    const char *ctype = r->csv ? "text/csv" : "application/octet-stream";
    r->ffailed = 0;
    r->ferr[0] = 0;
    for (size_t i = 0; i < fj->ntables; i++) {
        sl_flush_table_job *tj = &fj->tables[i];
        /* Changes first, for every table that has some: while a replay skips changes a newer
         * table file already holds, the table is not dirty but its changes are still due. */
        if (tj->changes && write_change_file(r, fj, tj) != 0)
            goto fail;
        if (!tj->snap)
            continue;
        rows_src rs = {.schema = tj->snap->schema,
                       .t = tj->snap,
                       .table_name = tj->snap->name,
                       .comment = tj->comment};
        if (put_object(r, tj->key, ctype, r->csv ? produce_csv : produce_qvd, &rs, &tj->file_bytes,
                       &tj->file_hash) != 0)
            goto fail;
        tj->file_flush = fj->seq;
    }
    /* Every table's next change-file number goes into the manifest (a new table's from what the
     * sink holds), so that recovery never takes an interrupted flush's file for a durable one. */
    for (size_t i = 0; r->changes && i < fj->ntables; i++)
        if (!fj->tables[i].ch_next &&
            change_files_check(r, fj->tables[i].key, &fj->tables[i].ch_next, 1) != 0)
            goto fail;
    sl_buf m = {0};
    manifest_build(r, fj, &m);
    int rc = put_manifest(r, fj, &m);
    sl_buf_free(&m);
    if (rc != 0)
        goto fail;
    fj->durable_us = sl_now_us();
    return;
fail:
    fj->failed = 1;
    snprintf(fj->err, sizeof fj->err, "%s", r->ferr[0] ? r->ferr : "flush failed");
    if (atomic_load(&r->mem_refused) && r->memory_limit > 0) {
        size_t n = strlen(fj->err);
        snprintf(fj->err + n, sizeof fj->err - n,
                 " (the tenant is at memory_limit_mb = %lld: %lld MiB in use)",
                 (long long)(r->memory_limit >> 20), (long long)(sl_run_mem(r) >> 20));
    }
}

static void *flusher_main(void *arg)
{
    sl_run *r = arg;
    pthread_mutex_lock(&r->fl_mu);
    for (;;) {
        while (!r->fl_todo && !r->fl_quit)
            pthread_cond_wait(&r->fl_cv, &r->fl_mu);
        if (!r->fl_todo)
            break;
        sl_flush_job *fj = r->fl_todo;
        pthread_mutex_unlock(&r->fl_mu);
        flush_exec(r, fj);
        pthread_mutex_lock(&r->fl_mu);
        r->fl_todo = NULL;
        r->fl_done = fj;
        pthread_cond_broadcast(&r->fl_cv);
    }
    pthread_mutex_unlock(&r->fl_mu);
    return NULL;
}

int sl_flusher_start(sl_run *r)
{
    pthread_mutex_init(&r->fl_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->fl_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&r->fl_thread, NULL, flusher_main, r) != 0) {
        pthread_mutex_destroy(&r->fl_mu);
        pthread_cond_destroy(&r->fl_cv);
        sl_run_fail(r, "cannot start the flush thread");
        return -1;
    }
    r->fl_started = 1;
    return 0;
}

/* The flush no longer needs tj's snapshot: free it and end copy-on-write on the live table. The
 * bookkeeping flush_finish does with it is kept in tj (file_*). */
static void fj_forget_snap(sl_run *r, sl_flush_table_job *tj)
{
    size_t m = tj->snap->nrows * sizeof *tj->snap->rows * 2;
    sl_table_snapshot_free(tj->snap);
    sl_table_thaw(tj->live);
    tj->snap = NULL;
    r->inflight->mem -= m;
    atomic_fetch_sub(&r->mem_flush, (long long)m);
}

/* Frees a flush job and ends copy-on-write on the tables it had frozen (job thread). */
static void flush_job_free(sl_run *r, sl_flush_job *fj)
{
    if (!fj)
        return;
    for (size_t i = 0; i < fj->ntables; i++) {
        sl_flush_table_job *tj = &fj->tables[i];
        if (tj->snap) {
            sl_table_snapshot_free(tj->snap);
            sl_table_thaw(tj->live);
        }
        free(tj->ns);
        free(tj->name);
        free(tj->key);
        free(tj->comment);
        sl_batch_free(tj->changes);
        free(tj->chkey);
        free(tj->skip_until);
    }
    free(fj->tables);
    free(fj->pos);
    free(fj->from);
    free(fj->source_state);
    free(fj->commits);
    atomic_fetch_sub(&r->mem_flush, (long long)fj->mem);
    free(fj);
    sl_run_mem_tables(r);
}

void sl_flush_detach_table(sl_run *r, sl_table *t)
{
    if (!r->inflight)
        return;
    /* Wait until the flush thread no longer reads it, without finishing the flush here: this
     * may run inside a source call, where durable() must not be called. */
    pthread_mutex_lock(&r->fl_mu);
    while (!r->fl_done)
        pthread_cond_wait(&r->fl_cv, &r->fl_mu);
    pthread_mutex_unlock(&r->fl_mu);
    for (size_t i = 0; i < r->inflight->ntables; i++) {
        sl_flush_table_job *tj = &r->inflight->tables[i];
        if (t && tj->live != t)
            continue;
        if (tj->snap) {
            fj_forget_snap(r, tj);
        }
        if (t)
            tj->live = NULL;
    }
    sl_run_mem_tables(r);
}

void sl_flusher_stop(sl_run *r)
{
    if (!r->fl_started)
        return;
    pthread_mutex_lock(&r->fl_mu);
    r->fl_quit = 1;
    pthread_cond_broadcast(&r->fl_cv);
    pthread_mutex_unlock(&r->fl_mu);
    pthread_join(r->fl_thread, NULL);
    r->fl_started = 0;
    /* Joined: whatever it held is ours. An unfinished flush may have replaced table files
     * without its manifest; recovery handles that like a crash at the same moment. */
    flush_job_free(r, r->fl_done);
    r->fl_done = NULL;
    r->inflight = NULL;
    pthread_mutex_destroy(&r->fl_mu);
    pthread_cond_destroy(&r->fl_cv);
}

static char *dup_bytes(const void *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        if (n)
            memcpy(d, p, n);
        d[n] = 0;
    }
    return d;
}

/* Job thread, between source transactions: freeze what the flush writes and hand it over. */
int sl_flush_start(sl_run *r, int force)
{
    if (r->txn_open || r->inflight)
        return 0;
    if (r->commits_since_flush == 0 && !force)
        return 0;
    if (r->commits_since_flush == 0 && force && r->flush_seq > 0)
        return 0; /* nothing new since the last durable flush */
    if (r->pos_len == 0 && r->ntables == 0)
        return 0; /* the source never committed anything */
    const char *ext = r->csv ? ".csv" : ".qvd";
    sl_flush_job *fj = calloc(1, sizeof *fj);
    if (!fj || !(fj->tables = calloc(r->ntables ? r->ntables : 1, sizeof *fj->tables)))
        goto oom;
    fj->seq = r->flush_seq + 1;
    fj->pos_commit_us = r->pos_commit_us;
    fj->pos_len = r->pos_len;
    if (!(fj->pos = (uint8_t *)dup_bytes(r->pos, r->pos_len)))
        goto oom;
    sl_buf comment = {0};
    for (size_t i = 0; i < r->ntables; i++) {
        sl_run_table *rt = &r->tables[i];
        sl_flush_table_job *tj = &fj->tables[i];
        fj->ntables = i + 1;
        tj->live = rt->t;
        tj->schema = rt->t->schema;
        if (!(tj->ns = strdup(rt->t->ns)) || !(tj->name = strdup(rt->t->name)))
            goto oom_c;
        if (!rt->key) {
            char *base = table_base(r, rt->t);
            size_t n = base ? strlen(base) + 8 : 0;
            rt->key = base ? malloc(n) : NULL;
            if (rt->key)
                snprintf(rt->key, n, "%s%s", base, ext);
            free(base);
            if (!rt->key)
                goto oom_c;
        }
        if (!(tj->key = strdup(rt->key)))
            goto oom_c;
        tj->rows = sl_table_count(rt->t);
        tj->file_flush = rt->file_flush;
        tj->file_bytes = rt->file_bytes;
        tj->file_hash = rt->file_hash;
        tj->ch_next = rt->ch_next;
        if (rt->skip_until) {
            if (!(tj->skip_until = (uint8_t *)dup_bytes(rt->skip_until, rt->skip_len)))
                goto oom_c;
            tj->skip_len = rt->skip_len;
        }
        /* Changes for every table that has some, dirty or not: while a replay skips changes a
         * newer table file already holds, the table is not dirty but its changes are still due.
         * The change log moves to the flush; the next change starts a new one. */
        if (r->changes && rt->ch.rows && rt->ch.committed > 0) {
            tj->changes = rt->ch.rows;
            tj->chrows = rt->ch.rows->nrows;
            rt->ch.rows = NULL;
            rt->ch.base = NULL;
            rt->ch.committed = 0;
        } else if (rt->ch.rows) {
            sl_batch_clear(rt->ch.rows);
            rt->ch.committed = 0;
        }
        if (!rt->t->dirty)
            continue;
        /* The table's comment: the flush, its position, and the position of the last commit
         * that changed this table (what recovery skips a replay up to). */
        comment.len = 0;
        sl_buf_printf(&comment, "sluice flush=%llu position=", (unsigned long long)fj->seq);
        hex(&comment, r->pos, r->pos_len);
        sl_buf_printf(&comment, " table_position=");
        if (rt->change_pos)
            hex(&comment, rt->change_pos, rt->change_pos_len);
        else
            hex(&comment, r->pos, r->pos_len);
        if (comment.oom || !(tj->comment = strdup(comment.p)))
            goto oom_c;
        if (!(tj->snap = sl_table_snapshot(rt->t)))
            goto oom_c;
        tj->changed = 1;
        tj->pending = rt->t->pending;
        fj->mem += tj->snap->nrows * sizeof *tj->snap->rows * 2; /* the view and its sort order */
    }
    sl_buf_free(&comment);
    /* The change files' from=: the last durable position (the previous flush has finished). */
    if (r->durable_len) {
        if (!(fj->from = (uint8_t *)dup_bytes(r->durable, r->durable_len)))
            goto oom;
        fj->from_len = r->durable_len;
    }
    /* The source's state as it is at this position: the source may change it before the flush
     * thread writes the manifest. */
    pthread_mutex_lock(&r->state_lock);
    int state_oom = r->source.state && !(fj->source_state = strdup(r->source.state));
    pthread_mutex_unlock(&r->state_lock);
    if (state_oom)
        goto oom;
    /* Everything up to here is in the flush: the counters start over. */
    for (size_t i = 0; i < r->ntables; i++) {
        r->tables[i].t->dirty = 0;
        r->tables[i].t->pending = 0;
    }
    fj->commits = r->pending_commits;
    fj->ncommits = r->npending;
    r->pending_commits = NULL;
    r->npending = r->cappending = 0;
    fj->first_unflushed_us = r->first_unflushed_us;
    fj->changes = r->changes_since_flush;
    r->flush_seq = fj->seq;
    r->manifest_dirty = 0;
    r->commits_since_flush = 0;
    r->changes_since_flush = 0;
    r->last_flush_mono = r->last_manifest_mono = sl_mono_us();
    atomic_fetch_add(&r->mem_flush, (long long)fj->mem);
    pthread_mutex_lock(&r->fl_mu);
    r->fl_todo = fj;
    r->inflight = fj;
    pthread_cond_broadcast(&r->fl_cv);
    pthread_mutex_unlock(&r->fl_mu);
    return 1;
oom_c:
    sl_buf_free(&comment);
oom:
    if (fj) {
        /* Change logs already moved stay with this failed attempt; it restarts from the sink. */
        flush_job_free(r, fj);
    }
    sl_run_fail(r, "out of memory preparing a flush");
    return -1;
}

/* Job thread: the flush thread handed fj back. Everything the flush decided (fencing outcome,
 * change-file numbers, the durable position) becomes the run's state here, never on the flush
 * thread. */
static int flush_finish(sl_run *r, sl_flush_job *fj)
{
    r->inflight = NULL;
    if (fj->failed) {
        if (fj->fatal)
            r->fatal = 1;
        sl_run_fail(r, "%s", fj->err);
        flush_job_free(r, fj);
        sl_run_publish_unflushed(r);
        return -1;
    }
    /* Fencing: the next manifest is written only over this one. */
    snprintf(r->manifest_version, sizeof r->manifest_version, "%s", fj->manifest_version);
    r->manifest_found = 1;
    int64_t now = fj->durable_us;
    for (size_t i = 0; i < fj->ntables; i++) {
        sl_flush_table_job *tj = &fj->tables[i];
        for (size_t k = 0; k < r->ntables; k++) {
            sl_run_table *rt = &r->tables[k];
            if (!tj->live || rt->t != tj->live)
                continue;
            /* The manifest now names the change file: its number is used. */
            rt->ch_next = tj->chkey ? tj->ch_next + 1 : tj->ch_next;
            if (!tj->changed)
                continue;
            rt->file_flush = tj->file_flush;
            rt->file_bytes = tj->file_bytes;
            rt->file_hash = tj->file_hash;
            rt->last_flush_us = now;
            rt->last_latency_us = now - fj->first_unflushed_us;
        }
    }
    for (size_t i = 0; i < fj->ncommits; i++) {
        int64_t l = now - fj->commits[i];
        if (l < 0)
            l = 0; /* source clock ahead of ours */
        size_t bucket = (size_t)(l / 1000);
        r->lat_hist[bucket < 10000 ? bucket : 10000]++;
        r->lat_n++;
        if (l > r->lat_max)
            r->lat_max = l;
    }
    if (fj->changes)
        sl_log(SL_LOG_DEBUG, r->d->tenant, NULL,
               "flush %llu durable: %llu changes, commit-to-durable %.3fs",
               (unsigned long long)fj->seq, (unsigned long long)fj->changes,
               (double)(now - fj->first_unflushed_us) / 1e6);
    r->flushes++;
    /* Exactly one notice per durable flush, built from the tables it wrote. */
    notify_flush(r, fj);
    /* The next change files start after this position (their comment's from=). */
    free(r->durable);
    r->durable = fj->pos;
    r->durable_len = fj->pos_len;
    fj->pos = NULL;
    /* Durable: tell the source, from the job thread and never from inside one of its calls. */
    if (r->durable_len && r->source.created && r->source.entry->desc.source->durable) {
        if (r->in_source) {
            sl_log(SL_LOG_ERROR, r->d->tenant, NULL,
                   "internal error: durable() would be entered from inside a source call");
            abort();
        }
        r->in_source = 1;
        r->source.entry->desc.source->durable(r->source.ctx, r->durable, r->durable_len);
        r->in_source = 0;
    }
    flush_job_free(r, fj);
    sl_run_publish_unflushed(r);
    return 0;
}

int sl_flush_poll(sl_run *r, int64_t wait_us)
{
    if (!r->inflight)
        return 0;
    pthread_mutex_lock(&r->fl_mu);
    if (!r->fl_done && wait_us > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (wait_us % 1000000) * 1000;
        ts.tv_sec += (time_t)(wait_us / 1000000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        while (!r->fl_done)
            if (pthread_cond_timedwait(&r->fl_cv, &r->fl_mu, &ts) != 0)
                break;
    }
    sl_flush_job *fj = r->fl_done;
    r->fl_done = NULL;
    pthread_mutex_unlock(&r->fl_mu);
    if (!fj)
        return 0;
    return flush_finish(r, fj) == 0 ? 1 : -1;
}

int sl_flush(sl_run *r, int force)
{
    while (r->inflight)
        if (sl_flush_poll(r, 1000000) < 0)
            return -1;
    int st = sl_flush_start(r, force);
    if (st < 0)
        return -1;
    while (r->inflight)
        if (sl_flush_poll(r, 1000000) < 0)
            return -1;
    return 0;
}

/* ---- recovery ---- */

static sl_status get_cb(void *ud, const void *p, size_t len)
{
    sl_buf *b = ud;
    sl_buf_add(b, p, len);
    return b->oom ? SL_ERROR : SL_OK;
}

static int unhex(const char *s, uint8_t **out, size_t *outlen)
{
    size_t n = strlen(s);
    if (n % 2)
        return -1;
    /* One byte more, zeroed: positions are bytes, but a plugin printing one as text must not
     * run off the end. */
    uint8_t *p = calloc(1, n / 2 + 1);
    if (!p)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) {
            free(p);
            return -1;
        }
        p[i] = (uint8_t)v;
    }
    *out = p;
    *outlen = n / 2;
    return 0;
}

/* Reads key, retrying briefly; -1 with the cause in r->sink.err, reported by the caller (the
 * flush thread must not touch r->err). */
static int get_object_quiet(sl_run *r, const char *key, sl_buf *b, int *found, char *version)
{
    for (int attempt = 1;; attempt++) {
        b->len = 0;
        r->sink.err[0] = 0;
        char scratch[SL_VERSION_MAX];
        sl_status st = sink_ops(r)->get(r->sink.ctx, key, get_cb, b, version ? version : scratch);
        if (st == SL_OK) {
            *found = 1;
            return 0;
        }
        if (st == SL_NOTFOUND) {
            *found = 0;
            return 0;
        }
        if (st != SL_RETRY || attempt >= 3)
            return -1;
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
}

static int get_object(sl_run *r, const char *key, sl_buf *b, int *found, char *version)
{
    if (get_object_quiet(r, key, b, found, version) == 0)
        return 0;
    sl_run_fail(r, "%s: reading %s: %s", r->sink.label, key,
                r->sink.err[0] ? r->sink.err : "read failed");
    return -1;
}

static int recover_table(sl_run *r, const sl_json *jt)
{
    const char *ns = sl_json_str(jt, "ns"), *name = sl_json_str(jt, "name");
    const char *key = sl_json_str(jt, "key");
    const sl_json *jc = sl_json_get(jt, "columns");
    if (!ns || !name || !key || !jc || jc->type != SL_J_ARR) {
        sl_run_fail(r, "manifest: a table entry lacks ns/name/key/columns");
        return -1;
    }
    sl_field *f = calloc(jc->n ? jc->n : 1, sizeof *f);
    if (!f) {
        sl_run_fail(r, "out of memory");
        return -1;
    }
    for (size_t c = 0; c < jc->n; c++) {
        const char *cn = sl_json_str(jc->items[c], "name");
        const char *ct = sl_json_str(jc->items[c], "type");
        sl_type t;
        if (!cn || !ct || sl_type_from_name(ct, &t) != 0) {
            free(f);
            sl_run_fail(r, "manifest: table %s has a bad column entry", name);
            return -1;
        }
        f[c].name = cn;
        f[c].type = t;
        f[c].key = (int)sl_json_num(jc->items[c], "key", 0);
    }
    const sl_schema *s = sl_schema_store_add(&r->schemas, ns, name, (uint32_t)jc->n, f);
    free(f);
    if (!s) {
        sl_run_fail(r, "manifest: table %s has an invalid schema", name);
        return -1;
    }
    sl_run_table *rt = sl_run_table_for(r, s);
    if (!rt || !(rt->key = strdup(key))) {
        sl_run_fail(r, "out of memory");
        return -1;
    }
    rt->recovered = 1;
    const sl_json *jch = sl_json_get(jt, "changes");
    rt->ch_next = jch ? (uint64_t)sl_json_num(jch, "next", 0) : 0;
    /* What exists against what the manifest names: a file an interrupted flush left is written
     * again by the replay; a manifest without numbers continues after the highest file. */
    if (r->changes && change_files_check(r, rt->key, &rt->ch_next, 0) != 0)
        return -1;
    rt->file_flush = (uint64_t)sl_json_num(jt, "flush", 0);
    rt->file_bytes = (uint64_t)sl_json_num(jt, "bytes", 0);
    const char *fh = sl_json_str(jt, "fnv64");
    rt->file_hash = fh ? strtoull(fh, NULL, 16) : 0;
    sl_buf b = {0};
    int found = 0;
    if (get_object(r, key, &b, &found, NULL) != 0) {
        sl_buf_free(&b);
        return -1;
    }
    if (!found) {
        sl_buf_free(&b);
        sl_run_fail(r, "recovery: %s is named by the manifest but missing from the sink", key);
        return -1;
    }
    /* Is this the file the manifest names? A crash between a table's write and the manifest's
     * leaves a newer file; its comment says up to which position it holds changes. */
    uint64_t h = sl_fnv1a(SL_FNV_INIT, b.p, b.len);
    int newer = fh && (h != rt->file_hash || b.len != rt->file_bytes);
    char err[256];
    sl_qvd_table *q = sl_qvd_read_buffer((unsigned char *)b.p, b.len, err, sizeof err);
    b.p = NULL; /* owned by the reader now */
    sl_buf_free(&b);
    if (!q) {
        sl_run_fail(r, "recovery: %s: %s", key, err);
        return -1;
    }
    const char *mskip = sl_json_str(jt, "skip_until");
    if (newer) {
        /* From now on the file in the sink is this one. */
        rt->file_hash = h;
        rt->file_bytes = q->buflen;
        /* Files from before table_position existed name only the flush's position. */
        const char *tp = q->comment ? strstr(q->comment, "table_position=") : NULL;
        const char *pos = tp ? tp + 15 : q->comment ? strstr(q->comment, "position=") : NULL;
        if (pos && !tp)
            pos += 9;
        char *end = pos ? strchr(pos, ' ') : NULL;
        char *ptext = pos ? strndup(pos, end ? (size_t)(end - pos) : strlen(pos)) : NULL;
        int bad = !ptext || unhex(ptext, &rt->skip_until, &rt->skip_len) != 0 || rt->skip_len == 0;
        free(ptext);
        if (bad) {
            sl_qvd_table_free(q);
            free(rt->skip_until);
            rt->skip_until = NULL;
            sl_run_fail(r, "recovery: %s differs from the manifest and names no position", key);
            return -1;
        }
        sl_log(SL_LOG_INFO, r->d->tenant, NULL,
               "recovery: %s is newer than the manifest (a flush was interrupted); its changes "
               "will not be applied twice",
               key);
    } else if (mskip && *mskip) {
        if (unhex(mskip, &rt->skip_until, &rt->skip_len) != 0) {
            sl_qvd_table_free(q);
            sl_run_fail(r, "manifest: table %s has a bad skip_until", name);
            return -1;
        }
    }
    int rc = -1;
    /* Scratch for decoded values (BINARY hex text decodes to bytes); values are copied into the
     * batch at once, so one buffer serves every cell. */
    char *scratch = NULL;
    size_t scratch_cap = 0;
    int *map = calloc(s->ncols ? s->ncols : 1, sizeof *map);
    sl_batch *batch = sl_batch_new(s);
    if (!map || !batch) {
        sl_run_fail(r, "out of memory");
        goto out;
    }
    for (uint32_t c = 0; c < s->ncols; c++) {
        map[c] = -1;
        /* the header holds a name with characters XML cannot hold changed (U+FFFD) */
        char *hname = sl_qvd_header_text(s->cols[c].name);
        if (!hname) {
            sl_run_fail(r, "out of memory");
            goto out;
        }
        for (size_t f2 = 0; f2 < q->nfields; f2++)
            if (strcmp(q->fields[f2].name, hname) == 0)
                map[c] = (int)f2;
        free(hname);
        if (map[c] < 0) {
            sl_run_fail(r, "recovery: %s has no field %s", key, s->cols[c].name);
            goto out;
        }
    }
    char msg[256];
    for (uint64_t row = 0; row < q->nrecords; row++) {
        if (sl_batch_row_begin(batch, SL_OP_SNAPSHOT) < 0) {
            sl_run_fail(r, "out of memory");
            goto out;
        }
        for (uint32_t c = 0; c < s->ncols; c++) {
            const sl_qvd_symbol *sym = sl_qvd_cell(q, row, (size_t)map[c]);
            if (!sym)
                continue; /* NULL */
            sl_value v;
            size_t need = sl_qvd_symbol_scratch_size(sym, s->cols[c].type);
            if (need > scratch_cap) {
                char *grown = realloc(scratch, need);
                if (!grown) {
                    sl_run_fail(r, "out of memory");
                    goto out;
                }
                scratch = grown;
                scratch_cap = need;
            }
            if (sl_qvd_symbol_to_value(sym, s->cols[c].type, &v, scratch, scratch_cap) != 0) {
                sl_run_fail(r, "recovery: %s row %llu field %s: value does not fit type %s", key,
                            (unsigned long long)row, s->cols[c].name,
                            sl_type_name(s->cols[c].type));
                goto out;
            }
            sl_batch_set_value(batch, c, &v);
        }
        if (batch->nrows >= 4096 || row + 1 == q->nrecords) {
            for (size_t i = 0; i < batch->nrows; i++) {
                if (sl_table_apply(rt->t, batch, i, msg, sizeof msg) != 0) {
                    sl_run_fail(r, "recovery: %s", msg);
                    goto out;
                }
            }
            sl_batch_clear(batch);
        }
    }
    rt->t->dirty = 0;
    rt->t->pending = 0;
    rt->t->changes_total = 0;
    rc = 0;
out:
    free(scratch);
    sl_batch_free(batch);
    free(map);
    sl_qvd_table_free(q);
    return rc;
}

int sl_recover(sl_run *r)
{
    r->attempt_start_us = sl_now_us();
    sl_buf b = {0};
    int found = 0;
    if (get_object(r, MANIFEST_KEY, &b, &found, r->manifest_version) != 0) {
        sl_buf_free(&b);
        return -1;
    }
    if (!sink_ops(r)->conditional)
        sl_log(SL_LOG_WARN, r->d->tenant, NULL,
               "%s offers no conditional writes: a second process writing this sink location "
               "would not be detected",
               r->sink.label);
    if (!found) {
        sl_buf_free(&b);
        r->manifest_found = 0;
        sl_log(SL_LOG_INFO, r->d->tenant, NULL, "no manifest in the sink: starting fresh");
        return 0;
    }
    r->manifest_found = 1;
    char err[128];
    sl_json *m = sl_json_parse(b.p ? b.p : "", b.len, err, sizeof err);
    sl_buf_free(&b);
    if (!m) {
        sl_run_fail(r, "manifest %s is not valid JSON (%s)", MANIFEST_KEY, err);
        return -1;
    }
    int rc = -1;
    const char *fmtv = sl_json_str(m, "format");
    const char *pos = sl_json_str(m, "position");
    const char *ff = sl_json_str(m, "file_format");
    const char *src = sl_json_str(m, "source");
    const sl_json *tables = sl_json_get(m, "tables");
    if (!fmtv || strcmp(fmtv, "sluice-manifest/1") != 0 || !pos || !tables ||
        tables->type != SL_J_ARR) {
        sl_run_fail(r, "manifest %s: unknown format", MANIFEST_KEY);
        goto out;
    }
    /* Whose state is this? Another tenant's (two jobs pointed at one location), or state
     * from another source, must never be resumed: refuse, and do not retry. */
    char label[96], loc[512], ident[17];
    snprintf(label, sizeof label, "source/%s", r->d->source.entry->desc.name);
    sink_location(r, loc, sizeof loc);
    source_identity(r, ident);
    const char *mtenant = sl_json_str(m, "tenant");
    const char *mident = sl_json_str(m, "source_identity");
    if (mtenant && strcmp(mtenant, r->d->tenant) != 0) {
        r->fatal = 1;
        sl_run_fail(r,
                    "%s holds the state of tenant '%s' (%s), not of tenant '%s': refusing to "
                    "start; give each tenant its own path or prefix",
                    loc, mtenant, MANIFEST_KEY, r->d->tenant);
        goto out;
    }
    if (src && strcmp(src, label) != 0) {
        r->fatal = 1;
        sl_run_fail(r,
                    "%s (%s) was written by %s, but this job's source is %s: refusing to "
                    "start; use another path or prefix, or delete the old files",
                    loc, MANIFEST_KEY, src, label);
        goto out;
    }
    if (mident && strcmp(mident, ident) != 0) {
        r->fatal = 1;
        sl_run_fail(r,
                    "%s (%s) holds state from another %s source (identity %s, this job's is "
                    "%s: a server, database or slot option changed): refusing to resume it; "
                    "use another path or prefix, or delete %s to start with a new snapshot",
                    loc, MANIFEST_KEY, label, mident, ident, MANIFEST_KEY);
        goto out;
    }
    const char *sstate = sl_json_str(m, "source_state");
    if (sstate && !(r->source.state = strdup(sstate))) {
        sl_run_fail(r, "out of memory");
        goto out;
    }
    if (ff && strcmp(ff, "csv") == 0) {
        /* CSV output is for debugging: it cannot be read back, so the job starts over. */
        sl_log(SL_LOG_WARN, r->d->tenant, NULL,
               "manifest names CSV files, which cannot be recovered: starting with a new snapshot");
        rc = 0;
        goto out;
    }
    for (size_t i = 0; i < tables->n; i++)
        if (recover_table(r, tables->items[i]) != 0)
            goto out;
    if (unhex(pos, &r->pos, &r->pos_len) != 0) {
        sl_run_fail(r, "manifest %s: bad position", MANIFEST_KEY);
        goto out;
    }
    if (r->pos_len == 0) {
        free(r->pos);
        r->pos = NULL;
    }
    const sl_json *st = sl_json_get(m, "state");
    if (st && r->d->nnotifiers) {
        r->nstate = calloc(r->d->nnotifiers, sizeof *r->nstate);
        for (size_t i = 0; r->nstate && i < r->d->nnotifiers; i++) {
            char k[160];
            state_key(k, sizeof k, r->d->notifiers[i].entry->desc.name, i);
            const char *v = sl_json_str(st, k);
            r->nstate[i] = v ? strdup(v) : NULL;
        }
    }
    r->flush_seq = (uint64_t)sl_json_num(m, "flush", 0);
    r->pos_commit_us = (int64_t)sl_json_num(m, "commit_time_us", 0);
    if (r->pos_len && (r->durable = malloc(r->pos_len)) != NULL) {
        memcpy(r->durable, r->pos, r->pos_len);
        r->durable_len = r->pos_len;
    }
    size_t rows = 0;
    for (size_t i = 0; i < r->ntables; i++)
        rows += sl_table_count(r->tables[i].t);
    sl_log(SL_LOG_INFO, r->d->tenant, NULL,
           "recovered flush %llu from the sink: %zu tables, %zu rows",
           (unsigned long long)r->flush_seq, r->ntables, rows);
    rc = 0;
out:
    sl_json_free(m);
    return rc;
}
