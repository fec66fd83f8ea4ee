/*
 * pgstream.c - the change stream: START_REPLICATION with pgoutput protocol 2 (streaming of
 * in-progress transactions, kept until their commit) or 1, one host transaction per source
 * transaction (rows buffered until Commit), standby status updates whose flush LSN is only what
 * the host reported durable.
 */
#include "pgsrc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void sl_pg_format_pos(uint64_t lsn, char *out, size_t outlen)
{
    char l[32];
    sl_pg_lsn_format(lsn, l, sizeof l);
    snprintf(out, outlen, "lsn=%s", l);
}

int sl_pg_parse_pos(const void *pos, size_t len, uint64_t *lsn)
{
    char buf[64];
    if (!pos || len < 5 || len >= sizeof buf || memcmp(pos, "lsn=", 4) != 0)
        return -1;
    memcpy(buf, (const char *)pos + 4, len - 4);
    buf[len - 4] = 0;
    return sl_pg_lsn_parse(buf, lsn);
}

static int64_t pg_now_pg_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - SL_PG_EPOCH_OFFSET_US;
}

/* Status updates go out every heartbeat_interval, and every second while idle between
 * transactions: each asks the server for a keepalive, whose answer proves the path alive (the
 * receive deadline) and, while nothing is pending, tells the host the source is current (see
 * on_copydata), which keeps sluice_job_lag_seconds honest. */
static int64_t status_interval(const pgsrc *s)
{
    int idle = !s->in_txn && !s->in_stream && s->nsx == 0;
    return idle && s->heartbeat_us > 1000000 ? 1000000 : s->heartbeat_us;
}

static int status_time(const pgsrc *s, int64_t now)
{
    return now - s->last_status_us >= status_interval(s);
}

static int send_status(pgsrc *s, int reply)
{
    uint8_t msg[34];
    uint64_t write = s->recv_lsn > s->durable_lsn ? s->recv_lsn : s->durable_lsn;
    sl_pg_encode_status(msg, write, s->durable_lsn, s->durable_lsn, pg_now_pg_us(), reply);
    if (PQputCopyData(s->rconn, (const char *)msg, sizeof msg) != 1 || PQflush(s->rconn) != 0) {
        char line[512];
        sl_pg_errline(PQerrorMessage(s->rconn), line, sizeof line);
        s->api->set_error(s->h, "postgres: sending standby status: %s", line);
        return -1;
    }
    s->sent_flush = s->durable_lsn;
    s->last_status_us = sl_pg_now_us();
    s->status_due = 0;
    return 0;
}

void sl_pg_final_status(pgsrc *s)
{
    /* On close: tell the server the last durable position (best effort). */
    if (s->rconn && s->phase >= SL_PG_PH_STREAM && s->durable_lsn > s->sent_flush &&
        PQstatus(s->rconn) == CONNECTION_OK)
        (void)send_status(s, 0);
}

int sl_pg_start_replication(pgsrc *s)
{
    char lsn[32], sql[512], pubs[300];
    sl_pg_lsn_format(s->start_lsn, lsn, sizeof lsn);
    /* publication_names is a string literal holding a list of identifiers. */
    size_t o = 0;
    pubs[o++] = '"';
    for (const char *p = s->pub; *p && o + 4 < sizeof pubs; p++) {
        if (*p == '"')
            pubs[o++] = '"';
        if (*p == '\'')
            pubs[o++] = '\'';
        pubs[o++] = *p;
    }
    pubs[o++] = '"';
    pubs[o] = 0;
    char *slot = PQescapeIdentifier(s->rconn, s->slot, strlen(s->slot));
    /* Protocol 2 (PostgreSQL 14+) streams large in-progress transactions instead of spilling
     * them to disk on the server; we keep them until their commit (or drop them on abort). */
    s->proto = PQserverVersion(s->rconn) >= 140000 ? 2 : 1;
    snprintf(sql, sizeof sql,
             "START_REPLICATION SLOT %s LOGICAL %s (proto_version '%d', publication_names '%s'%s)",
             slot ? slot : "\"\"", lsn, s->proto, pubs, s->proto >= 2 ? ", streaming 'on'" : "");
    PQfreemem(slot);
    PGresult *r = PQexec(s->rconn, sql);
    if (PQresultStatus(r) != PGRES_COPY_BOTH) {
        char line[512];
        sl_pg_errline(PQerrorMessage(s->rconn), line, sizeof line);
        s->api->set_error(s->h, "postgres: START_REPLICATION: %s", line);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    s->api->log(s->h, SL_LOG_INFO, "postgres: streaming from slot %s at %s", s->slot, lsn);
    s->phase = SL_PG_PH_STREAM;
    s->in_txn = 0;
    s->in_stream = 0;
    s->recv_lsn = s->start_lsn;
    s->last_status_us = sl_pg_now_us();
    s->last_idle_commit_us = s->last_status_us;
    s->last_recv_us = s->last_status_us;
    if (s->committed_lsn < s->start_lsn)
        s->committed_lsn = s->start_lsn;
    if (s->durable_lsn > 0 && s->durable_lsn == s->committed_lsn)
        s->committed_told = 1; /* resuming: the host's position */
    s->ping_outstanding = 0;
    s->status_due = s->durable_lsn > 0;
    if (s->once && s->start_lsn >= s->target_lsn)
        s->phase = SL_PG_PH_EOF;
    return 0;
}

/* Streamed transactions can be large: their memory goes through the host's allocator, so it
 * is counted for the tenant, and beyond SL_PG_SX_MEM_BUDGET they go to a temporary file. */
static void sx_drop(pgsrc *s, pg_sxact *x)
{
    for (size_t i = 0; i < x->n; i++)
        s->api->free(s->h, x->msgs[i].msg);
    s->api->free(s->h, x->msgs);
    if (x->spill)
        fclose(x->spill); /* unnamed: the file goes with its descriptor */
    free(x->aborted);
    memset(x, 0, sizeof *x);
}

void sl_pg_stream_free(pgsrc *s)
{
    for (size_t i = 0; i < s->nsx; i++)
        sx_drop(s, &s->sx[i]);
    free(s->sx);
    s->sx = NULL;
    s->nsx = s->capsx = 0;
    s->in_stream = 0;
    s->committed_told = 0;
    free(s->spill_buf);
    s->spill_buf = NULL;
    s->spill_cap = 0;
}

static pg_sxact *sx_find(pgsrc *s, uint32_t xid, int create)
{
    for (size_t i = 0; i < s->nsx; i++)
        if (s->sx[i].xid == xid)
            return &s->sx[i];
    if (!create)
        return NULL;
    if (s->nsx == s->capsx) {
        size_t n = s->capsx ? s->capsx * 2 : 8;
        pg_sxact *v = realloc(s->sx, n * sizeof *v);
        if (!v)
            return NULL;
        s->sx = v;
        s->capsx = n;
    }
    pg_sxact *x = &s->sx[s->nsx++];
    memset(x, 0, sizeof *x);
    x->xid = xid;
    return x;
}

static void sx_remove(pgsrc *s, pg_sxact *x)
{
    sx_drop(s, x);
    *x = s->sx[--s->nsx];
}

/* An unnamed temporary file in spill_dir (O_TMPFILE: nothing to clean up after a crash; where
 * the file system lacks it, a named file unlinked at once). */
static FILE *sx_spill_open(pgsrc *s)
{
    const char *dir = s->spill_dir;
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        char path[4096];
        snprintf(path, sizeof path, "%s/sluice-spill-XXXXXX", dir);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0)
            unlink(path);
    }
    FILE *f = fd >= 0 ? fdopen(fd, "w+b") : NULL;
    if (!f) {
        s->api->set_error(s->h,
                          "postgres: cannot create a spill file for a streamed transaction in %s "
                          "(option spill_dir): %s",
                          dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    return f;
}

static sl_status sx_spill_write(pgsrc *s, pg_sxact *x, uint32_t subxid, const uint8_t *data,
                                size_t len)
{
    if (!x->spill) {
        if (!(x->spill = sx_spill_open(s)))
            return SL_ERROR;
        s->api->log(s->h, SL_LOG_INFO,
                    "postgres: spilling streamed transaction %u to a temporary file in %s (over "
                    "%u MiB in memory)",
                    x->xid, s->spill_dir, SL_PG_SX_MEM_BUDGET >> 20);
    }
    /* The message without its xid: the tag, then what followed the xid. */
    uint32_t hdr[2] = {subxid, (uint32_t)(len - 4)};
    if (fwrite(hdr, sizeof hdr, 1, x->spill) != 1 || fwrite(data, 1, 1, x->spill) != 1 ||
        (len > 5 && fwrite(data + 5, len - 5, 1, x->spill) != 1)) {
        s->api->set_error(s->h, "postgres: writing a streamed transaction to %s: %s", s->spill_dir,
                          strerror(errno));
        return SL_ERROR;
    }
    x->nspilled++;
    return SL_OK;
}

/* A data message inside a stream block: keep it, without its xid, for the commit. */
static sl_status sx_store(pgsrc *s, const uint8_t *data, size_t len)
{
    uint32_t subxid;
    if (sl_pg_stream_xid(data, len, &subxid) < 0) {
        s->api->set_error(s->h, "postgres: truncated streamed '%c' message", data[0]);
        return SL_ERROR;
    }
    pg_sxact *x = sx_find(s, s->stream_xid, 1);
    if (!x) {
        s->api->set_error(s->h, "postgres: out of memory");
        return SL_ERROR;
    }
    if (x->spill || x->mem + len > SL_PG_SX_MEM_BUDGET)
        return sx_spill_write(s, x, subxid, data, len);
    uint8_t *copy = s->api->malloc(s->h, len - 4);
    if (copy && x->n == x->cap) {
        size_t n = x->cap ? x->cap * 2 : 64;
        pg_smsg *v = s->api->realloc(s->h, x->msgs, n * sizeof *v);
        if (v) {
            x->msgs = v;
            x->cap = n;
        }
    }
    if (!copy || x->n == x->cap) {
        s->api->free(s->h, copy);
        s->api->set_error(s->h, "postgres: out of memory");
        return SL_ERROR;
    }
    copy[0] = data[0];
    memcpy(copy + 1, data + 5, len - 5);
    x->msgs[x->n++] = (pg_smsg){subxid, copy, len - 4};
    x->mem += len - 4;
    return SL_OK;
}

/* Stream Abort of a subtransaction (ROLLBACK TO SAVEPOINT): its messages are dropped from
 * memory; spilled ones are skipped at the replay. */
static sl_status sx_abort_sub(pgsrc *s, pg_sxact *x, uint32_t subxid)
{
    size_t o = 0;
    for (size_t i = 0; i < x->n; i++) {
        if (x->msgs[i].subxid == subxid) {
            x->mem -= x->msgs[i].len;
            s->api->free(s->h, x->msgs[i].msg);
        } else {
            x->msgs[o++] = x->msgs[i];
        }
    }
    x->n = o;
    if (!x->spill)
        return SL_OK;
    if (x->naborted == x->capaborted) {
        size_t n = x->capaborted ? x->capaborted * 2 : 8;
        uint32_t *v = realloc(x->aborted, n * sizeof *v);
        if (!v) {
            s->api->set_error(s->h, "postgres: out of memory");
            return SL_ERROR;
        }
        x->aborted = v;
        x->capaborted = n;
    }
    x->aborted[x->naborted++] = subxid;
    return SL_OK;
}

static int sx_is_aborted(const pg_sxact *x, uint32_t subxid)
{
    for (size_t i = 0; i < x->naborted; i++)
        if (x->aborted[i] == subxid)
            return 1;
    return 0;
}

/* The next spilled record into s->spill_buf: 1, 0 at the end, -1 on error (set). */
static int sx_spill_read(pgsrc *s, pg_sxact *x, uint32_t *subxid, size_t *len)
{
    uint32_t hdr[2];
    size_t got = fread(hdr, 1, sizeof hdr, x->spill);
    if (got == 0 && feof(x->spill))
        return 0;
    if (got != sizeof hdr || hdr[1] == 0) {
        s->api->set_error(s->h, "postgres: reading a spilled streamed transaction: %s",
                          ferror(x->spill) ? strerror(errno) : "truncated file");
        return -1;
    }
    if (hdr[1] > s->spill_cap) {
        size_t n = hdr[1] > 2 * s->spill_cap ? hdr[1] : 2 * s->spill_cap;
        uint8_t *b = realloc(s->spill_buf, n);
        if (!b) {
            s->api->set_error(s->h, "postgres: out of memory");
            return -1;
        }
        s->spill_buf = b;
        s->spill_cap = n;
    }
    if (fread(s->spill_buf, hdr[1], 1, x->spill) != 1) {
        s->api->set_error(s->h, "postgres: reading a spilled streamed transaction: %s",
                          ferror(x->spill) ? strerror(errno) : "truncated file");
        return -1;
    }
    *subxid = hdr[0];
    *len = hdr[1];
    return 1;
}

void sl_pg_txn_discard(pgsrc *s)
{
    for (size_t i = 0; i < s->ntxb; i++)
        s->api->batch_free(s->h, s->txb[i]);
    s->ntxb = 0;
    for (size_t i = 0; i < s->nrels; i++)
        s->rels[i].txb = NULL;
    s->txn_deliver = 0;
    s->txn_emitted = 0;
}

/* Hands the open transaction's rows so far to the host, batch by batch in the order they were
 * started (each table's rows stay in order); the batches are cleared for reuse. */
static int txn_emit_pending(pgsrc *s)
{
    const sl_host_api *api = s->api;
    for (size_t i = 0; i < s->ntxb; i++) {
        size_t rows = api->batch_rows(s->txb[i]);
        if (rows == 0)
            continue;
        if (api->emit(s->h, s->txb[i]) != SL_OK)
            return -1;
        api->counter_add(s->h, "change_rows", (double)rows);
        s->txn_emitted = 1;
    }
    return 0;
}

static sl_batch *txn_batch(pgsrc *s, pg_rel *rel)
{
    const sl_host_api *api = s->api;
    if (rel->txb && api->batch_schema(rel->txb) == rel->schema) {
        if (api->batch_rows(rel->txb) < SL_PG_BATCH_ROWS)
            return rel->txb;
        /* A transaction known to be delivered (it ends past skip_upto) goes to the host as its
         * batches fill, so a large one is never held whole here; the host keeps it open (no
         * flush) until the commit. */
        if (s->txn_deliver)
            return txn_emit_pending(s) < 0 ? NULL : rel->txb;
    }
    if (s->ntxb == s->captxb) {
        size_t n = s->captxb ? s->captxb * 2 : 16;
        sl_batch **v = realloc(s->txb, n * sizeof *v);
        if (!v) {
            api->set_error(s->h, "postgres: out of memory");
            return NULL;
        }
        s->txb = v;
        s->captxb = n;
    }
    sl_batch *b = api->batch_new(s->h, rel->schema);
    if (!b)
        return NULL;
    s->txb[s->ntxb++] = b;
    rel->txb = b;
    return b;
}

static sl_status stream_fail(pgsrc *s, const char *what)
{
    char line[512];
    sl_pg_errline(PQerrorMessage(s->rconn), line, sizeof line);
    s->api->set_error(s->h, "postgres: %s: %s", what, line[0] ? line : "connection lost");
    return SL_RETRY;
}

static pg_rel *change_rel(pgsrc *s, uint32_t relid)
{
    pg_rel *rel = sl_pg_rel_find(s, relid);
    if (!rel || !rel->schema) {
        if (rel && !rel->selected)
            return rel;
        s->api->set_error(s->h, "postgres: change for relation %u before its Relation message",
                          relid);
        return NULL;
    }
    return rel;
}

static int tuple_fits(pgsrc *s, const pg_rel *rel, const sl_pg_tuple *t)
{
    if (t->ncols == rel->ncols)
        return 1;
    s->api->set_error(s->h, "postgres: %s.%s: tuple has %u columns, relation has %u", rel->ns,
                      rel->name, t->ncols, rel->ncols);
    return 0;
}

/* A row from tuple t (all columns; 'u' from fill when given). */
static int put_row(pgsrc *s, pg_rel *rel, sl_op op, const sl_pg_tuple *t, const sl_pg_tuple *fill)
{
    sl_batch *b = txn_batch(s, rel);
    if (!b)
        return -1;
    if (s->api->row_begin(b, op) < 0) {
        s->api->set_error(s->h, "postgres: out of memory");
        return -1;
    }
    for (uint32_t c = 0; c < rel->ncols; c++) {
        const sl_pg_tcol *tc = &t->cols[c];
        if (tc->kind == 'u' && fill && fill->cols[c].kind == 't')
            tc = &fill->cols[c];
        if (sl_pg_set_cell(s, rel, b, c, tc->kind, tc->data, tc->len) < 0)
            return -1;
    }
    return 0;
}

/* A DELETE row: key columns from the old tuple, others NULL (all columns for a keyless table). */
static int put_delete(pgsrc *s, pg_rel *rel, const sl_pg_tuple *old)
{
    sl_batch *b = txn_batch(s, rel);
    if (!b)
        return -1;
    if (s->api->row_begin(b, SL_OP_DELETE) < 0) {
        s->api->set_error(s->h, "postgres: out of memory");
        return -1;
    }
    int keyless = rel->schema->nkeys == 0;
    for (uint32_t c = 0; c < rel->ncols; c++) {
        const sl_pg_tcol *tc = &old->cols[c];
        if (!keyless && !rel->cols[c].key) {
            s->api->set_null(b, c);
            continue;
        }
        if (sl_pg_set_cell(s, rel, b, c, tc->kind, tc->data, tc->len) < 0)
            return -1;
    }
    return 0;
}

static int key_changed(const pg_rel *rel, const sl_pg_tuple *old, const sl_pg_tuple *nw)
{
    for (uint32_t c = 0; c < rel->ncols; c++) {
        if (!rel->cols[c].key)
            continue;
        const sl_pg_tcol *a = &old->cols[c], *b = &nw->cols[c];
        if (b->kind == 'u' || a->kind == 'u')
            continue;
        if (a->kind != b->kind)
            return 1;
        if (a->kind == 't' && (a->len != b->len || memcmp(a->data, b->data, a->len) != 0))
            return 1;
    }
    return 0;
}

static sl_status on_commit(pgsrc *s, const sl_pg_msg *m, int *commits)
{
    const sl_host_api *api = s->api;
    s->in_txn = 0;
    if (m->lsn2 <= s->skip_upto) { /* delivered before a restart */
        sl_pg_txn_discard(s);
        return SL_OK;
    }
    for (size_t i = 0; i < s->ntxb; i++) {
        if (api->batch_rows(s->txb[i]) == 0)
            continue;
        size_t rows = api->batch_rows(s->txb[i]);
        sl_status st = api->emit(s->h, s->txb[i]);
        if (st != SL_OK) {
            sl_pg_txn_discard(s);
            return st;
        }
        api->counter_add(s->h, "change_rows", (double)rows);
    }
    sl_pg_txn_discard(s);
    char pos[64];
    sl_pg_format_pos(m->lsn2, pos, sizeof pos);
    sl_status st = api->commit(s->h, pos, strlen(pos), s->txn_time_us);
    if (st != SL_OK)
        return st;
    s->committed_lsn = m->lsn2;
    s->committed_told = 1;
    s->last_idle_commit_us = sl_pg_now_us(); /* idle commits only after a quiet heartbeat */
    (*commits)++;
    if (m->lsn2 > s->recv_lsn)
        s->recv_lsn = m->lsn2;
    if (s->once && m->lsn2 >= s->target_lsn)
        s->phase = SL_PG_PH_EOF;
    return SL_OK;
}

static sl_status on_relation(pgsrc *s, const sl_pg_msg *m)
{
    pg_rel *rel = sl_pg_rel_find(s, m->relid);
    if (rel && (strcmp(rel->ns, m->ns) != 0 || strcmp(rel->name, m->name) != 0)) {
        /* Renamed: same relation, new name; selection follows the name. */
        char *ns = strdup(m->ns), *name = strdup(m->name);
        if (!ns || !name) {
            free(ns);
            free(name);
            s->api->set_error(s->h, "postgres: out of memory");
            return SL_ERROR;
        }
        free(rel->ns);
        free(rel->name);
        rel->ns = ns;
        rel->name = name;
        rel->selected = sl_pg_table_selected(s, ns, name);
        rel->schema = NULL;
    }
    if (!rel && !(rel = sl_pg_rel_add(s, m->relid, m->ns, m->name, 'r'))) {
        s->api->set_error(s->h, "postgres: out of memory");
        return SL_ERROR;
    }
    if (!rel->selected)
        return SL_OK;
    return sl_pg_rel_refresh(s, rel, m) < 0 ? SL_RETRY : SL_OK;
}

static sl_status on_message(pgsrc *s, uint8_t *data, size_t len, int *commits);

/* One kept message of a streamed transaction, replayed at its commit. */
static sl_status sx_replay_one(pgsrc *s, uint8_t *msg, size_t len, int *commits)
{
    uint8_t tag = msg[0];
    if (tag == 'B' || tag == 'C' || tag == 'S' || tag == 'E' || tag == 'c' || tag == 'A') {
        s->api->set_error(s->h, "postgres: unexpected '%c' inside a streamed transaction", tag);
        return SL_ERROR;
    }
    return on_message(s, msg, len, commits);
}

#define SX_STOP_CHECK 4096

/* Stream Commit: replay the kept messages (memory first, then the spill file, in the order they
 * came) as one transaction, then commit it. A stop during a long replay gives it up (SL_AGAIN):
 * nothing is committed, and the slot sends the transaction again at the next start. */
static sl_status on_stream_commit(pgsrc *s, const sl_pg_msg *m, int *commits)
{
    if (s->in_txn || s->in_stream) {
        s->api->set_error(s->h, "postgres: Stream Commit inside a transaction");
        return SL_ERROR;
    }
    sl_pg_txn_discard(s);
    s->in_txn = 1;
    s->txn_time_us = m->ts + SL_PG_EPOCH_OFFSET_US;
    s->txn_deliver = m->lsn2 > s->skip_upto;
    pg_sxact *x = sx_find(s, m->xid, 0);
    sl_status st = SL_OK;
    uint64_t done = 0;
    for (size_t i = 0; x && s->txn_deliver && i < x->n && st == SL_OK; i++) {
        if (++done % SX_STOP_CHECK == 0 && s->api->stopping(s->h))
            st = SL_AGAIN;
        else
            st = sx_replay_one(s, x->msgs[i].msg, x->msgs[i].len, commits);
    }
    if (x && x->spill && s->txn_deliver && st == SL_OK) {
        if (fflush(x->spill) != 0 || fseek(x->spill, 0, SEEK_SET) != 0) {
            s->api->set_error(s->h, "postgres: reading a spilled streamed transaction: %s",
                              strerror(errno));
            st = SL_ERROR;
        }
        uint32_t subxid;
        size_t len;
        int rc;
        while (st == SL_OK && (rc = sx_spill_read(s, x, &subxid, &len)) != 0) {
            if (rc < 0)
                st = SL_ERROR;
            else if (++done % SX_STOP_CHECK == 0 && s->api->stopping(s->h))
                st = SL_AGAIN;
            else if (!sx_is_aborted(x, subxid))
                st = sx_replay_one(s, s->spill_buf, len, commits);
        }
    }
    if (x)
        sx_remove(s, x);
    if (st == SL_AGAIN)
        s->api->log(s->h, SL_LOG_INFO,
                    "postgres: stopping during the replay of streamed transaction %u: given up, "
                    "it is streamed again at the next start",
                    m->xid);
    if (st != SL_OK) {
        s->in_txn = 0;
        sl_pg_txn_discard(s);
        return st;
    }
    return on_commit(s, m, commits);
}

static sl_status on_message(pgsrc *s, uint8_t *data, size_t len, int *commits)
{
    const sl_host_api *api = s->api;
    char err[200];
    sl_pg_msg m;
    if (s->in_stream && len > 0 && strchr("RYIUDTM", data[0])) {
        if (data[0] == 'M')
            return SL_OK; /* logical decoding messages are not captured */
        return sx_store(s, data, len);
    }
    if (sl_pg_decode_msg(data, len, &m, &s->scratch, err, sizeof err) < 0) {
        api->set_error(s->h, "postgres: bad pgoutput message: %s", err);
        return SL_ERROR;
    }
    pg_rel *rel;
    switch (m.tag) {
    case 'B':
        if (s->in_txn) {
            api->set_error(s->h, "postgres: Begin inside a transaction");
            return SL_ERROR;
        }
        sl_pg_txn_discard(s);
        s->in_txn = 1;
        s->txn_time_us = m.ts + SL_PG_EPOCH_OFFSET_US;
        /* Begin carries the commit's own LSN: at or past skip_upto, the commit ends past it and
         * the rows are delivered (see txn_batch). */
        s->txn_deliver = m.lsn1 >= s->skip_upto;
        return SL_OK;
    case 'C':
        if (!s->in_txn) {
            api->set_error(s->h, "postgres: Commit outside a transaction");
            return SL_ERROR;
        }
        return on_commit(s, &m, commits);
    case 'R':
        return on_relation(s, &m);
    case 'S':
        if (s->in_txn || s->in_stream) {
            api->set_error(s->h, "postgres: Stream Start inside a transaction");
            return SL_ERROR;
        }
        s->in_stream = 1;
        s->stream_xid = m.xid;
        return SL_OK;
    case 'E':
        s->in_stream = 0;
        return SL_OK;
    case 'A': {
        /* Abort of the whole transaction, or of one subtransaction (ROLLBACK TO SAVEPOINT). */
        pg_sxact *x = sx_find(s, m.xid, 0);
        if (!x)
            return SL_OK;
        if (m.subxid == m.xid) {
            sx_remove(s, x);
            return SL_OK;
        }
        return sx_abort_sub(s, x, m.subxid);
    }
    case 'c':
        return on_stream_commit(s, &m, commits);
    case 'I':
        if (!(rel = change_rel(s, m.relid)))
            return SL_ERROR;
        if (!rel->selected)
            return SL_OK;
        if (!tuple_fits(s, rel, &m.newt) || put_row(s, rel, SL_OP_INSERT, &m.newt, NULL) < 0)
            return SL_ERROR;
        return SL_OK;
    case 'U':
        if (!(rel = change_rel(s, m.relid)))
            return SL_ERROR;
        if (!rel->selected)
            return SL_OK;
        if (!tuple_fits(s, rel, &m.newt) || (m.old_kind && !tuple_fits(s, rel, &m.oldt)))
            return SL_ERROR;
        if (m.old_kind && ((rel->schema->nkeys > 0 && key_changed(rel, &m.oldt, &m.newt)) ||
                           (rel->schema->nkeys == 0 && m.old_kind == 'O'))) {
            /* The row's identity changed (or is the whole row): delete the old, insert new. */
            const sl_pg_tuple *fill = m.old_kind == 'O' ? &m.oldt : NULL;
            if (put_delete(s, rel, &m.oldt) < 0 || put_row(s, rel, SL_OP_INSERT, &m.newt, fill) < 0)
                return SL_ERROR;
            return SL_OK;
        }
        return put_row(s, rel, SL_OP_UPDATE, &m.newt, NULL) < 0 ? SL_ERROR : SL_OK;
    case 'D':
        if (!(rel = change_rel(s, m.relid)))
            return SL_ERROR;
        if (!rel->selected)
            return SL_OK;
        if (!tuple_fits(s, rel, &m.oldt) || put_delete(s, rel, &m.oldt) < 0)
            return SL_ERROR;
        return SL_OK;
    case 'T':
        for (uint32_t i = 0; i < m.nrels; i++) {
            if (!(rel = change_rel(s, sl_pg_truncate_relid(&m, i))))
                return SL_ERROR;
            if (!rel->selected)
                continue;
            sl_batch *b = txn_batch(s, rel);
            if (!b || api->row_begin(b, SL_OP_TRUNCATE) < 0)
                return SL_ERROR;
        }
        return SL_OK;
    default: /* O (origin), Y (type), M (message): nothing to capture */
        return SL_OK;
    }
}

static sl_status on_copydata(pgsrc *s, char *buf, int n, int *commits)
{
    char err[200];
    sl_pg_copymsg cm;
    if (sl_pg_decode_copydata((const uint8_t *)buf, (size_t)n, &cm, err, sizeof err) < 0) {
        s->api->set_error(s->h, "postgres: %s", err);
        return SL_ERROR;
    }
    if (cm.tag == 'k') {
        s->ping_outstanding = 0;
        if (cm.end > s->recv_lsn && !s->in_txn)
            s->recv_lsn = cm.end;
        /* While the selected tables are quiet, WAL still moves (other tables, other databases).
         * Between transactions, everything before the keepalive's walEnd has been decoded, so an
         * empty commit at walEnd lets the engine make that position durable and the slot release
         * its WAL. Transactions still open (streamed or not) commit later, past walEnd, and are
         * re-decoded from the slot's restart point after a restart. At most once a heartbeat. */
        int64_t now = sl_pg_now_us();
        int idle = !s->in_txn && !s->in_stream && s->nsx == 0;
        if (idle && cm.end > s->committed_lsn && cm.end > s->skip_upto &&
            now - s->last_idle_commit_us >= s->heartbeat_us) {
            char pos[64];
            sl_pg_format_pos(cm.end, pos, sizeof pos);
            s->last_idle_commit_us = now;
            s->committed_lsn = cm.end;
            if (s->api->commit(s->h, pos, strlen(pos), 0) != SL_OK)
                return SL_ERROR;
            s->committed_told = 1;
        } else if (idle && s->committed_told) {
            /* Nothing pending: an empty commit at the unchanged position tells the host the
             * source is current now (it moves nothing and costs no flush). */
            char pos[64];
            sl_pg_format_pos(s->committed_lsn, pos, sizeof pos);
            if (s->api->commit(s->h, pos, strlen(pos), 0) != SL_OK)
                return SL_ERROR;
        }
        if (cm.reply_requested && send_status(s, 0) < 0)
            return SL_RETRY;
        if (s->once && !s->in_txn && cm.end >= s->target_lsn)
            s->phase = SL_PG_PH_EOF;
        return SL_OK;
    }
    if (cm.start > s->recv_lsn)
        s->recv_lsn = cm.start;
    /* cm.data points into buf, which libpq handed us and we may modify. */
    return on_message(s, (uint8_t *)buf + (cm.data - (const uint8_t *)buf), cm.len, commits);
}

#define STREAM_MAX_COMMITS 256
#define STREAM_MAX_MSGS    20000

sl_status sl_pg_stream_poll(pgsrc *s, int timeout_ms)
{
    int64_t now = sl_pg_now_us();
    int64_t deadline = now + (int64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000;
    int commits = 0, msgs = 0;
    if ((s->status_due && s->durable_lsn > s->sent_flush) || status_time(s, now))
        if (send_status(s, status_time(s, now)) < 0)
            return SL_RETRY;
    for (;;) {
        if (s->phase == SL_PG_PH_EOF)
            return SL_EOF;
        /* A stop inside a transaction whose rows already went to the host: report idle, and
         * the host gives that transaction up (the slot sends it again at the next start). */
        if (s->in_txn && s->txn_emitted && s->api->stopping(s->h))
            return SL_AGAIN;
        char *buf = NULL;
        int n = PQgetCopyData(s->rconn, &buf, 1);
        if (n > 0) {
            s->last_recv_us = sl_pg_now_us();
            sl_status st = on_copydata(s, buf, n, &commits);
            PQfreemem(buf);
            if (st != SL_OK)
                return st;
            msgs++;
            /* Also inside a transaction: its state stays here, and the host gets to check for
             * a stop between polls. */
            if (commits >= STREAM_MAX_COMMITS || msgs >= STREAM_MAX_MSGS)
                return SL_OK;
            continue;
        }
        if (n == -1) {
            /* The server ended the COPY: its result carries the reason (shutdown, slot
             * dropped, ...). */
            PGresult *r = PQgetResult(s->rconn);
            char line[512];
            sl_pg_errline(r ? PQresultErrorMessage(r) : "", line, sizeof line);
            PQclear(r);
            if (line[0]) {
                s->api->set_error(s->h, "postgres: replication stream ended: %s", line);
                return SL_RETRY;
            }
            s->api->set_error(s->h, "postgres: the server ended replication (shutdown or "
                                    "restart)");
            return SL_RETRY;
        }
        if (n < 0)
            return stream_fail(s, "replication stream");
        /* Nothing buffered. */
        if (commits > 0 && !s->in_txn)
            return SL_OK;
        now = sl_pg_now_us();
        if (s->once && !s->in_txn && (!s->ping_outstanding || now - s->ping_sent_us > 1000000)) {
            /* Ask for a keepalive: its walEnd tells when we have caught up with target_lsn. */
            if (send_status(s, 1) < 0)
                return SL_RETRY;
            s->ping_outstanding = 1;
            s->ping_sent_us = now;
        }
        /* The server answers each status request (one per heartbeat) with a keepalive, so
         * silence past receive_timeout is a stalled path (a frozen NAT, a dead peer): drop the
         * connection; the host reconnects with backoff. */
        int64_t silent = now - s->last_recv_us;
        if (silent >= s->receive_timeout_us) {
            s->api->set_error(s->h,
                              "postgres: nothing received from the server for %.0f s "
                              "(receive_timeout): the connection is stalled; reconnecting",
                              (double)silent / 1e6);
            return SL_RETRY;
        }
        int64_t wait = deadline - now;
        if (wait <= 0)
            return msgs ? SL_OK : SL_AGAIN;
        int64_t hb = s->last_status_us + status_interval(s) - now;
        if (hb < wait)
            wait = hb > 0 ? hb : 0;
        if (s->receive_timeout_us - silent < wait)
            wait = s->receive_timeout_us - silent;
        struct pollfd pfd = {.fd = PQsocket(s->rconn), .events = POLLIN};
        int pr = poll(&pfd, 1, (int)((wait + 999) / 1000));
        if (pr < 0)
            continue; /* EINTR */
        if (!PQconsumeInput(s->rconn))
            return stream_fail(s, "replication connection");
        now = sl_pg_now_us();
        if (status_time(s, now) && send_status(s, 1) < 0)
            return SL_RETRY;
    }
}
