/* Flush: write every changed table's complete QVD (or CSV) through the sink, then the manifest
 * that names the position those files reflect, then acknowledge that position to the source.
 * Recovery: the same manifest and files, read back, rebuild the table state. The bucket is the
 * state: a crash at any moment leaves the previous complete flush or the new one. */
#include "engine_int.h"
#include "json.h"
#include "log.h"
#include "qvd/qvd.h"
#include "valtext.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MANIFEST_KEY "_sluice/manifest.json"

static const sl_sink_ops *sink_ops(sl_run *r)
{
    return r->sink.entry->desc.sink;
}

static int is_default_ns(const char *ns)
{
    return !*ns || strcmp(ns, "public") == 0 || strcmp(ns, "dbo") == 0;
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
    int qualify = !is_default_ns(t->ns);
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
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++) {
        pc->hash ^= b[i];
        pc->hash *= 0x100000001b3ULL;
    }
    pc->bytes += len;
    pc->st = sink_ops(pc->r)->put_write(pc->r->sink.ctx, pc->put, p, len);
    return pc->st == SL_OK ? 0 : -1;
}

typedef int (*producer_fn)(sl_run *r, void *arg, put_ctx *pc, char *err, size_t errlen);

/* Run producer into a new object; retries the whole object on SL_RETRY with backoff. */
static int put_object(sl_run *r, const char *key, const char *ctype, producer_fn prod, void *arg,
                      uint64_t *bytes, uint64_t *hash)
{
    int64_t backoff = 500000;
    for (int attempt = 1;; attempt++) {
        put_ctx pc = {.r = r, .hash = 0xcbf29ce484222325ULL};
        char perr[256] = "";
        r->sink.err[0] = 0;
        sl_put_opts po = {.size = sizeof po, .content_type = ctype};
        sl_status st = sink_ops(r)->put_begin(r->sink.ctx, key, &po, &pc.put);
        if (st == SL_OK) {
            if (prod(r, arg, &pc, perr, sizeof perr) != 0) {
                sink_ops(r)->put_abort(r->sink.ctx, pc.put);
                if (pc.st == SL_OK) {
                    sl_run_fail(r, "encoding %s: %s", key, perr[0] ? perr : "failed");
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
            sl_run_fail(r, "%s: writing %s: %s", r->sink.label, key, why);
            return -1;
        }
        sl_log(SL_LOG_WARN, r->d->tenant, r->sink.label, "writing %s: %s; retry %d in %.1fs", key,
               why, attempt, (double)backoff / 1e6);
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
    if (rc == 0 && sl_qvd_writer_finish(o.w, put_out, pc) != 0) {
        snprintf(err, errlen, "%s", sl_qvd_writer_error(o.w));
        rc = -1;
    }
    sl_qvd_writer_free(o.w);
    return rc;
}

/* ---- manifest ---- */

static int produce_buf(sl_run *r, void *arg, put_ctx *pc, char *err, size_t errlen)
{
    (void)r;
    sl_buf *b = arg;
    if (b->oom) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return put_out(pc, b->p, b->len);
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

static void manifest_build(sl_run *r, sl_buf *m, char **chkeys, size_t *chrows)
{
    char when[64], commit[64];
    iso_time(when, sizeof when, sl_now_us());
    iso_time(commit, sizeof commit, r->pos_commit_us);
    sl_buf_printf(m, "{\n  \"format\": \"sluice-manifest/1\",\n  \"tenant\": ");
    sl_buf_json_str(m, r->d->tenant, strlen(r->d->tenant));
    sl_buf_printf(m, ",\n  \"source\": \"%s\",\n  \"flush\": %llu,\n  \"position\": \"",
                  r->source.label, (unsigned long long)r->flush_seq);
    hex(m, r->pos, r->pos_len);
    sl_buf_printf(m, "\",\n");
    if (r->pos_len && printable(r->pos, r->pos_len)) {
        sl_buf_printf(m, "  \"position_text\": ");
        sl_buf_json_str(m, (const char *)r->pos, r->pos_len);
        sl_buf_printf(m, ",\n");
    }
    if (r->source.state) {
        /* The source's own small state (api->state_set), true at this manifest's position. */
        sl_buf_printf(m, "  \"source_state\": ");
        sl_buf_json_str(m, r->source.state, strlen(r->source.state));
        sl_buf_printf(m, ",\n");
    }
    sl_buf_printf(m,
                  "  \"commit_time\": \"%s\",\n  \"commit_time_us\": %lld,\n  \"written_at\": "
                  "\"%s\",\n  \"file_format\": \"%s\",\n  \"tables\": [",
                  commit, (long long)r->pos_commit_us, when, r->csv ? "csv" : "qvd");
    for (size_t i = 0; i < r->ntables; i++) {
        const sl_run_table *rt = &r->tables[i];
        const sl_schema *s = rt->t->schema;
        sl_buf_printf(m, "%s\n    {\"ns\": ", i ? "," : "");
        sl_buf_json_str(m, rt->t->ns, strlen(rt->t->ns));
        sl_buf_printf(m, ", \"name\": ");
        sl_buf_json_str(m, rt->t->name, strlen(rt->t->name));
        sl_buf_printf(m, ", \"key\": ");
        sl_buf_json_str(m, rt->key ? rt->key : "", rt->key ? strlen(rt->key) : 0);
        sl_buf_printf(m,
                      ", \"rows\": %zu, \"flush\": %llu, \"bytes\": %llu, \"fnv64\": "
                      "\"%016llx\",\n     \"columns\": [",
                      sl_table_count(rt->t), (unsigned long long)rt->file_flush,
                      (unsigned long long)rt->file_bytes, (unsigned long long)rt->file_hash);
        for (uint32_t c = 0; c < s->ncols; c++) {
            sl_buf_printf(m, "%s{\"name\": ", c ? ", " : "");
            sl_buf_json_str(m, s->cols[c].name, strlen(s->cols[c].name));
            sl_buf_printf(m, ", \"type\": \"%s\", \"key\": %d}", sl_type_name(s->cols[c].type),
                          s->cols[c].key);
        }
        sl_buf_printf(m, "]");
        if (rt->skip_until) {
            /* Still replaying changes this table's file already holds: a restart must keep
             * skipping them (see recover_table). */
            sl_buf_printf(m, ",\n     \"skip_until\": \"");
            hex(m, rt->skip_until, rt->skip_len);
            sl_buf_printf(m, "\"");
        }
        if (chkeys && chkeys[i]) {
            sl_buf_printf(m, ",\n     \"changes\": {\"key\": ");
            sl_buf_json_str(m, chkeys[i], strlen(chkeys[i]));
            sl_buf_printf(m, ", \"rows\": %zu}", chrows[i]);
        }
        sl_buf_printf(m, "}");
    }
    sl_buf_printf(m, "\n  ]\n}\n");
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

int sl_flush(sl_run *r, int force)
{
    if (r->txn_open)
        return 0;
    if (r->commits_since_flush == 0 && !force)
        return 0;
    if (r->commits_since_flush == 0 && force && r->flush_seq > 0)
        return 0; /* nothing new since the last durable flush */
    if (r->pos_len == 0 && r->ntables == 0)
        return 0; /* the source never committed anything */
    uint64_t seq = r->flush_seq + 1;
    sl_buf comment = {0};
    char **chkeys = calloc(r->ntables ? r->ntables : 1, sizeof *chkeys);
    size_t *chrows = calloc(r->ntables ? r->ntables : 1, sizeof *chrows);
    int rc = -1;
    if (!chkeys || !chrows) {
        sl_run_fail(r, "out of memory");
        goto out;
    }
    const char *ext = r->csv ? ".csv" : ".qvd";
    const char *ctype = r->csv ? "text/csv" : "application/octet-stream";
    for (size_t i = 0; i < r->ntables; i++) {
        sl_run_table *rt = &r->tables[i];
        if (!rt->key) {
            char *base = table_base(r, rt->t);
            if (!base) {
                sl_run_fail(r, "out of memory");
                goto out;
            }
            size_t n = strlen(base) + 8;
            rt->key = malloc(n);
            if (!rt->key) {
                free(base);
                sl_run_fail(r, "out of memory");
                goto out;
            }
            snprintf(rt->key, n, "%s%s", base, ext);
            free(base);
        }
        if (!rt->t->dirty)
            continue;
        /* The table's comment: the flush, its position, and the position of the last commit
         * that changed this table (what recovery skips a replay up to). */
        comment.len = 0;
        sl_buf_printf(&comment, "sluice flush=%llu position=", (unsigned long long)seq);
        hex(&comment, r->pos, r->pos_len);
        sl_buf_printf(&comment, " table_position=");
        if (rt->change_pos)
            hex(&comment, rt->change_pos, rt->change_pos_len);
        else
            hex(&comment, r->pos, r->pos_len);
        if (comment.oom) {
            sl_run_fail(r, "out of memory");
            goto out;
        }
        rows_src rs = {
            .schema = rt->t->schema, .t = rt->t, .table_name = rt->t->name, .comment = comment.p};
        uint64_t bytes = 0, hash = 0;
        if (put_object(r, rt->key, ctype, r->csv ? produce_csv : produce_qvd, &rs, &bytes, &hash) !=
            0)
            goto out;
        rt->file_flush = seq;
        rt->file_bytes = bytes;
        rt->file_hash = hash;
        if (r->changes && rt->ch.rows && rt->ch.committed > 0) {
            char *base = table_base(r, rt->t);
            size_t n = (base ? strlen(base) : 0) + 64;
            chkeys[i] = malloc(n);
            if (!base || !chkeys[i]) {
                free(base);
                sl_run_fail(r, "out of memory");
                goto out;
            }
            snprintf(chkeys[i], n, "_changes/%s/%012llu%s", base, (unsigned long long)seq, ext);
            free(base);
            rows_src cs = {.schema = rt->ch.schema,
                           .b = rt->ch.rows,
                           .table_name = rt->t->name,
                           .comment = comment.p};
            if (put_object(r, chkeys[i], ctype, r->csv ? produce_csv : produce_qvd, &cs, NULL,
                           NULL) != 0)
                goto out;
            chrows[i] = rt->ch.rows->nrows;
        }
    }
    sl_buf m = {0};
    r->flush_seq = seq; /* the manifest names this flush */
    manifest_build(r, &m, chkeys, chrows);
    if (put_object(r, MANIFEST_KEY, "application/json", produce_buf, &m, NULL, NULL) != 0) {
        r->flush_seq = seq - 1;
        sl_buf_free(&m);
        goto out;
    }
    sl_buf_free(&m);
    /* Durable: clean the tables, tell the source. */
    int64_t now = sl_now_us();
    for (size_t i = 0; i < r->ntables; i++) {
        sl_run_table *rt = &r->tables[i];
        if (rt->t->dirty) {
            rt->t->dirty = 0;
            rt->t->pending = 0;
            rt->last_flush_us = now;
            rt->last_latency_us = now - r->first_unflushed_us;
        }
        if (rt->ch.rows) {
            sl_batch_clear(rt->ch.rows);
            rt->ch.committed = 0;
        }
    }
    for (size_t i = 0; i < r->npending; i++) {
        int64_t l = now - r->pending_commits[i];
        if (l < 0)
            l = 0; /* source clock ahead of ours */
        size_t bucket = (size_t)(l / 1000);
        r->lat_hist[bucket < 10000 ? bucket : 10000]++;
        r->lat_n++;
        if (l > r->lat_max)
            r->lat_max = l;
    }
    r->npending = 0;
    if (r->commits_since_flush) {
        int64_t lat = now - r->first_unflushed_us;
        sl_log(SL_LOG_DEBUG, r->d->tenant, NULL,
               "flush %llu durable: %llu changes, commit-to-durable %.3fs", (unsigned long long)seq,
               (unsigned long long)r->changes_since_flush, (double)lat / 1e6);
    }
    r->flushes++;
    r->manifest_dirty = 0;
    r->commits_since_flush = 0;
    r->changes_since_flush = 0;
    r->last_flush_mono = r->last_manifest_mono = sl_mono_us();
    if (r->pos_len && r->source.created && r->source.entry->desc.source->durable)
        r->source.entry->desc.source->durable(r->source.ctx, r->pos, r->pos_len);
    rc = 0;
out:
    sl_buf_free(&comment);
    if (chkeys)
        for (size_t i = 0; i < r->ntables; i++)
            free(chkeys[i]);
    free(chkeys);
    free(chrows);
    return rc;
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

static int get_object(sl_run *r, const char *key, sl_buf *b, int *found)
{
    for (int attempt = 1;; attempt++) {
        b->len = 0;
        r->sink.err[0] = 0;
        char version[SL_VERSION_MAX];
        sl_status st = sink_ops(r)->get(r->sink.ctx, key, get_cb, b, version);
        if (st == SL_OK) {
            *found = 1;
            return 0;
        }
        if (st == SL_NOTFOUND) {
            *found = 0;
            return 0;
        }
        if (st != SL_RETRY || attempt >= 3) {
            sl_run_fail(r, "%s: reading %s: %s", r->sink.label, key,
                        r->sink.err[0] ? r->sink.err : "read failed");
            return -1;
        }
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
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
    rt->file_flush = (uint64_t)sl_json_num(jt, "flush", 0);
    rt->file_bytes = (uint64_t)sl_json_num(jt, "bytes", 0);
    const char *fh = sl_json_str(jt, "fnv64");
    rt->file_hash = fh ? strtoull(fh, NULL, 16) : 0;
    sl_buf b = {0};
    int found = 0;
    if (get_object(r, key, &b, &found) != 0) {
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
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < b.len; i++) {
        h ^= (uint8_t)b.p[i];
        h *= 0x100000001b3ULL;
    }
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
        for (size_t f2 = 0; f2 < q->nfields; f2++)
            if (strcmp(q->fields[f2].name, s->cols[c].name) == 0)
                map[c] = (int)f2;
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
    sl_buf b = {0};
    int found = 0;
    if (get_object(r, MANIFEST_KEY, &b, &found) != 0) {
        sl_buf_free(&b);
        return -1;
    }
    if (!found) {
        sl_buf_free(&b);
        sl_log(SL_LOG_INFO, r->d->tenant, NULL, "no manifest in the sink: starting fresh");
        return 0;
    }
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
    char label[96];
    snprintf(label, sizeof label, "source/%s", r->d->source.entry->desc.name);
    if (src && strcmp(src, label) != 0) {
        sl_run_fail(r,
                    "manifest %s was written by %s, but this job's source is %s: use another "
                    "prefix or path, or delete the old files",
                    MANIFEST_KEY, src, label);
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
    r->flush_seq = (uint64_t)sl_json_num(m, "flush", 0);
    r->pos_commit_us = (int64_t)sl_json_num(m, "commit_time_us", 0);
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
