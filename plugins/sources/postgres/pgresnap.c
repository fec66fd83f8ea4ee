/*
 * pgresnap.c - re-reading one table inside the change stream, while the other tables keep
 * streaming: after DDL the stream alone cannot make the table's file right (a column added with a
 * default fills untouched rows without WAL rows; a rename or a new type or key changes what every
 * row means), and a table newly added to the job has no durable state at all.
 *
 * The re-read: a temporary slot (CREATE_REPLICATION_SLOT ... TEMPORARY ... SNAPSHOT 'export') on
 * a second replication connection gives a consistent point C and a snapshot; a third connection
 * imports the snapshot and COPYs the table into an unlinked temporary file, a little at every
 * poll, while the main stream goes on. Transactions committing before C are in the copy: their
 * changes to the table are dropped (the table's file stays as it was, consistent but behind).
 * When the main stream reaches C (the first transaction committing at or after C, or a keepalive
 * past C), the copy goes to the host as one transaction ending at C: TRUNCATE, then the copied
 * rows as SNAPSHOT rows. Later changes apply on top. A restart before that commit replays from an
 * older position and, for a table added to the job, the host still does not know it; see
 * docs/sources/postgres.md for what a restart does after DDL.
 */
#include "pgsrc.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pg_resnap {
    uint32_t relid;
    PGconn *conn; /* the imported snapshot's transaction and its COPY; closed when done */
    uint64_t lsn; /* C: the temporary slot's consistent point */
    FILE *spill;  /* CopyData messages, each as a 4-byte length and the bytes */
    uint64_t rows, bytes;
    pg_rel copy; /* the table's columns, key and schema as of C */
    int copying;
    int64_t t_start, t_copied; /* monotonic µs: requested, COPY finished */
};

static void copy_rel_free(pg_rel *r)
{
    free(r->ns);
    free(r->name);
    for (uint32_t i = 0; i < r->ncols; i++)
        free(r->cols[i].name);
    free(r->cols);
    memset(r, 0, sizeof *r);
}

static void resnap_close(pg_resnap *rs)
{
    if (rs->conn)
        PQfinish(rs->conn);
    if (rs->spill)
        fclose(rs->spill);
    copy_rel_free(&rs->copy);
    memset(rs, 0, sizeof *rs);
}

static void resnap_remove(pgsrc *s, size_t i)
{
    resnap_close(&s->rs[i]);
    s->rs[i] = s->rs[--s->nrs];
}

void sl_pg_resnap_free(pgsrc *s)
{
    while (s->nrs)
        resnap_remove(s, s->nrs - 1);
    free(s->rs);
    s->rs = NULL;
    s->caprs = 0;
}

int sl_pg_resnap_pending(const pgsrc *s)
{
    return s->nrs > 0;
}

int sl_pg_resnap_copying(const pgsrc *s)
{
    for (size_t i = 0; i < s->nrs; i++)
        if (s->rs[i].copying)
            return 1;
    return 0;
}

uint64_t sl_pg_shape_hash(const pg_rel *rel)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (uint32_t i = 0; i < rel->ncols; i++) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "/%u/%d/", rel->cols[i].typoid, rel->cols[i].key);
        for (const char *p = rel->cols[i].name; *p; p++)
            h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
        for (int k = 0; k < n; k++)
            h = (h ^ (uint8_t)buf[k]) * 0x100000001b3ULL;
    }
    return h;
}

/* The state kept in the manifest: "reread/1" then, per selected table, "relid:shape" with ":p"
 * while a re-read is pending. It is true at the manifest's position because the core writes it
 * with the rows of the same commits (changes to a pending table are not delivered). */
static void save_state(pgsrc *s)
{
    if (!SL_API_HAS(s->api, state_set) || !s->api->state_set)
        return;
    size_t cap = 16 + s->nrels * 40, o = 0;
    char *buf = malloc(cap);
    if (!buf)
        return; /* the previous state stays; a restart then re-reads less precisely */
    o += (size_t)snprintf(buf, cap, "reread/1");
    for (size_t i = 0; i < s->nrels; i++) {
        const pg_rel *rel = &s->rels[i];
        if (!rel->selected || (!rel->host_shape_known && !rel->reread_pending))
            continue;
        o += (size_t)snprintf(buf + o, cap - o, " %u:%016llx%s", rel->relid,
                              (unsigned long long)rel->host_shape, rel->reread_pending ? ":p" : "");
    }
    (void)s->api->state_set(s->h, buf);
    free(buf);
}

void sl_pg_host_shape(pgsrc *s, pg_rel *rel, uint64_t shape)
{
    if (rel->host_shape_known && rel->host_shape == shape)
        return;
    rel->host_shape = shape;
    rel->host_shape_known = 1;
    save_state(s);
}

/* Reads the state back at open: shapes, and re-reads a restart interrupted. */
static void load_state(pgsrc *s)
{
    const char *st =
        SL_API_HAS(s->api, state_get) && s->api->state_get ? s->api->state_get(s->h) : NULL;
    if (!st || strncmp(st, "reread/1", 8) != 0)
        return;
    for (const char *p = st + 8; *p;) {
        while (*p == ' ')
            p++;
        unsigned relid;
        unsigned long long shape;
        int n = 0;
        if (sscanf(p, "%u:%llx%n", &relid, &shape, &n) != 2)
            break;
        p += n;
        int pending = strncmp(p, ":p", 2) == 0;
        if (pending)
            p += 2;
        pg_rel *rel = sl_pg_rel_find(s, relid);
        if (!rel || !rel->selected)
            continue;
        rel->host_shape = shape;
        rel->host_shape_known = 1;
        rel->reread_pending = pending;
    }
}

int sl_pg_resnap_shape_differs(const pgsrc *s, uint32_t relid, uint64_t shape)
{
    for (size_t i = 0; i < s->nrs; i++)
        if (s->rs[i].relid == relid)
            return sl_pg_shape_hash(&s->rs[i].copy) != shape;
    return 0;
}

int sl_pg_resnap_drops(const pgsrc *s, uint32_t relid)
{
    for (size_t i = 0; i < s->nrs; i++)
        if (s->rs[i].relid == relid)
            return s->txn_final_lsn < s->rs[i].lsn;
    return 0;
}

static void conn_error(pgsrc *s, PGconn *c, const pg_rel *rel, const char *what)
{
    char line[512];
    sl_pg_errline(PQerrorMessage(c), line, sizeof line);
    s->api->set_error(s->h, "postgres: re-reading %s.%s: %s: %s", rel->ns, rel->name, what, line);
}

/* Waits for the result of a query sent with PQsendQuery, keeping the main stream's standby
 * status going (the server may wait for running transactions before a slot is consistent). */
static PGresult *wait_result(pgsrc *s, PGconn *c)
{
    for (;;) {
        if (!PQconsumeInput(c))
            return NULL;
        if (!PQisBusy(c))
            return PQgetResult(c);
        if (s->api->stopping(s->h))
            return NULL;
        if (sl_pg_stream_keepalive(s) < 0)
            return NULL;
        struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
        (void)poll(&pfd, 1, 200);
    }
}

static void drain(PGconn *c)
{
    PGresult *r;
    while ((r = PQgetResult(c)))
        PQclear(r);
}

/* COPY ... TO STDOUT (FORMAT binary) of the snapshot's columns, as the initial snapshot does. */
static int start_copy(pgsrc *s, pg_resnap *rs)
{
    const pg_rel *rel = &rs->copy;
    char *sql = sl_pg_copy_sql(rs->conn, rel);
    if (!sql) {
        s->api->set_error(s->h, "postgres: out of memory");
        return -1;
    }
    PGresult *r = PQexec(rs->conn, sql);
    free(sql);
    int ok = PQresultStatus(r) == PGRES_COPY_OUT;
    PQclear(r);
    if (!ok) {
        conn_error(s, rs->conn, rel, "COPY");
        return -1;
    }
    if (PQsetnonblocking(rs->conn, 1) != 0) {
        conn_error(s, rs->conn, rel, "COPY");
        return -1;
    }
    rs->copying = 1;
    return 0;
}

/* Sets up the re-read: temporary slot (C and snapshot), snapshot imported on a new connection,
 * the table's shape read under it, COPY started. The main stream waits meanwhile (usually
 * milliseconds; longer only while transactions that were running at that moment finish). */
static int resnap_setup(pgsrc *s, pg_rel *rel, pg_resnap *rs)
{
    char err[600], sql[256], slotname[64], snapname[128];
    PGconn *rc = sl_pg_connect(s, 1, err, sizeof err);
    if (!rc) {
        s->api->set_error(s->h, "postgres: re-reading %s.%s: replication connection: %s", rel->ns,
                          rel->name, err);
        return -1;
    }
    /* Unique in the cluster while it lives (it dies with its connection). */
    snprintf(slotname, sizeof slotname, "%.40s_rr%u_%lld", s->slot, rel->relid,
             (long long)(sl_pg_now_us() % 1000000000));
    char *id = PQescapeIdentifier(rc, slotname, strlen(slotname));
    snprintf(sql, sizeof sql,
             "CREATE_REPLICATION_SLOT %s TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export')",
             id ? id : "\"\"");
    PQfreemem(id);
    PGresult *r = NULL;
    if (PQsendQuery(rc, sql))
        r = wait_result(s, rc);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 3 ||
        sl_pg_lsn_parse(PQgetvalue(r, 0, 1), &rs->lsn) < 0) {
        if (s->api->stopping(s->h))
            s->api->set_error(s->h, "postgres: stopping while re-reading %s.%s", rel->ns,
                              rel->name);
        else
            conn_error(s, rc, rel, "creating a temporary replication slot");
        PQclear(r);
        PQfinish(rc);
        return -1;
    }
    snprintf(snapname, sizeof snapname, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    drain(rc);
    rs->conn = sl_pg_connect(s, 0, err, sizeof err);
    if (!rs->conn) {
        s->api->set_error(s->h, "postgres: re-reading %s.%s: %s", rel->ns, rel->name, err);
        PQfinish(rc);
        return -1;
    }
    snprintf(sql, sizeof sql, "SET TRANSACTION SNAPSHOT '%s'", snapname);
    int ok = sl_pg_exec_ok(s, rs->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                           "starting the re-read transaction") == 0 &&
             sl_pg_exec_ok(s, rs->conn, sql, "importing the re-read snapshot") == 0;
    /* The snapshot is ours now: the temporary slot goes with its connection. */
    PQfinish(rc);
    if (!ok)
        return -1;
    /* The table's shape as of C: the catalog read under the imported snapshot. */
    rs->copy.relid = rel->relid;
    rs->copy.relkind = rel->relkind;
    rs->copy.selected = 1;
    rs->copy.warned_nokey = 1; /* said once for the stream's relation */
    rs->copy.ns = strdup(rel->ns);
    rs->copy.name = strdup(rel->name);
    if (!rs->copy.ns || !rs->copy.name) {
        s->api->set_error(s->h, "postgres: out of memory");
        return -1;
    }
    PGconn *main = s->conn;
    s->conn = rs->conn;
    int rrc = sl_pg_rel_refresh(s, &rs->copy, NULL);
    s->conn = main;
    if (rrc < 0)
        return -1;
    rs->spill = tmpfile();
    if (!rs->spill) {
        s->api->set_error(s->h, "postgres: re-reading %s.%s: cannot create a temporary file",
                          rel->ns, rel->name);
        return -1;
    }
    return start_copy(s, rs);
}

int sl_pg_resnap_request(pgsrc *s, pg_rel *rel, const char *reason)
{
    if (s->snap_mode == SL_PG_SNAP_NEVER) {
        s->api->log(s->h, SL_LOG_WARN,
                    "postgres: table %s.%s %s: not re-read (snapshot = \"never\"); its file may "
                    "differ from the table",
                    rel->ns, rel->name, reason);
        if (rel->schema)
            sl_pg_host_shape(s, rel, sl_pg_shape_hash(rel));
        return 0;
    }
    /* A newer request replaces one still running: its point is later, its copy newer. */
    for (size_t i = 0; i < s->nrs; i++)
        if (s->rs[i].relid == rel->relid) {
            resnap_remove(s, i);
            break;
        }
    if (s->nrs == s->caprs) {
        size_t n = s->caprs ? s->caprs * 2 : 4;
        pg_resnap *v = realloc(s->rs, n * sizeof *v);
        if (!v) {
            s->api->set_error(s->h, "postgres: out of memory");
            return -1;
        }
        s->rs = v;
        s->caprs = n;
    }
    pg_resnap *rs = &s->rs[s->nrs];
    memset(rs, 0, sizeof *rs);
    rs->relid = rel->relid;
    rs->t_start = sl_pg_now_us();
    if (resnap_setup(s, rel, rs) < 0) {
        resnap_close(rs);
        return -1;
    }
    s->nrs++;
    rel->reread_pending = 1;
    save_state(s);
    char lsn[32];
    sl_pg_lsn_format(rs->lsn, lsn, sizeof lsn);
    s->api->log(s->h, SL_LOG_INFO, "postgres: re-reading table %s.%s (%s) as of %s", rel->ns,
                rel->name, reason, lsn);
    /* --once: run until the re-read is delivered. */
    if (s->once && rs->lsn > s->target_lsn)
        s->target_lsn = rs->lsn;
    return 0;
}

/* Moves available COPY data to the spill file. block: until the COPY ends. */
static sl_status copy_some(pgsrc *s, pg_resnap *rs, int block)
{
    int64_t until = sl_pg_now_us() + 20000;
    while (rs->copying) {
        char *buf = NULL;
        int n = PQgetCopyData(rs->conn, &buf, 1);
        if (n > 0) {
            uint32_t len = (uint32_t)n;
            int ok = fwrite(&len, sizeof len, 1, rs->spill) == 1 &&
                     fwrite(buf, 1, (size_t)n, rs->spill) == (size_t)n;
            PQfreemem(buf);
            if (!ok) {
                s->api->set_error(s->h,
                                  "postgres: re-reading %s.%s: writing the temporary file failed "
                                  "(disk full?)",
                                  rs->copy.ns, rs->copy.name);
                return SL_RETRY;
            }
            rs->rows++;
            rs->bytes += (uint64_t)n;
            if (!block && (rs->rows & 1023) == 0 && sl_pg_now_us() > until)
                return SL_OK;
            continue;
        }
        if (n == -1) { /* COPY done */
            PGresult *r = PQgetResult(rs->conn);
            int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
            if (!ok) {
                conn_error(s, rs->conn, &rs->copy, "COPY");
                return SL_RETRY;
            }
            drain(rs->conn);
            PQfinish(rs->conn); /* ends the snapshot's transaction */
            rs->conn = NULL;
            rs->copying = 0;
            rs->t_copied = sl_pg_now_us();
            if (fflush(rs->spill) != 0) {
                s->api->set_error(s->h, "postgres: re-reading %s.%s: temporary file: flush failed",
                                  rs->copy.ns, rs->copy.name);
                return SL_RETRY;
            }
            return SL_OK;
        }
        if (n < -1) {
            conn_error(s, rs->conn, &rs->copy, "COPY");
            return SL_RETRY;
        }
        if (!block) {
            /* Keep reading while the server has more, within this poll's share of time. */
            struct pollfd pfd = {.fd = PQsocket(rs->conn), .events = POLLIN};
            if (sl_pg_now_us() > until || poll(&pfd, 1, 0) <= 0)
                return SL_OK;
            if (!PQconsumeInput(rs->conn)) {
                conn_error(s, rs->conn, &rs->copy, "COPY");
                return SL_RETRY;
            }
            continue;
        }
        if (s->api->stopping(s->h)) {
            s->api->set_error(s->h, "postgres: stopping while re-reading %s.%s", rs->copy.ns,
                              rs->copy.name);
            return SL_RETRY;
        }
        if (sl_pg_stream_keepalive(s) < 0)
            return SL_RETRY;
        struct pollfd pfd = {.fd = PQsocket(rs->conn), .events = POLLIN};
        (void)poll(&pfd, 1, 200);
        if (!PQconsumeInput(rs->conn)) {
            conn_error(s, rs->conn, &rs->copy, "COPY");
            return SL_RETRY;
        }
    }
    return SL_OK;
}

sl_status sl_pg_resnap_work(pgsrc *s)
{
    for (size_t i = 0; i < s->nrs; i++) {
        pg_resnap *rs = &s->rs[i];
        if (!rs->copying)
            continue;
        if (!PQconsumeInput(rs->conn)) {
            conn_error(s, rs->conn, &rs->copy, "COPY");
            return SL_RETRY;
        }
        sl_status st = copy_some(s, rs, 0);
        if (st != SL_OK)
            return st;
    }
    return SL_OK;
}

/* Hands the copy to the host: TRUNCATE (alone in its batch, so the host empties the table
 * before any copied row), the rows as SNAPSHOT, one commit at C. */
static sl_status deliver(pgsrc *s, pg_resnap *rs)
{
    const sl_host_api *api = s->api;
    pg_rel *rel = &rs->copy;
    sl_status st = copy_some(s, rs, 1);
    if (st != SL_OK)
        return st;
    if (rs->lsn < s->committed_lsn) {
        /* Cannot happen while the slot is made before the stream moves on; never deliver an
         * older copy over newer changes. */
        api->set_error(s->h, "postgres: re-read of %s.%s overtaken by the stream", rel->ns,
                       rel->name);
        return SL_RETRY;
    }
    sl_pg_field *fields = calloc(rel->ncols + 1, sizeof *fields);
    uint8_t *buf = NULL;
    size_t cap = 0;
    sl_batch *b = api->batch_new(s->h, rel->schema);
    st = SL_ERROR;
    if (!fields || !b) {
        api->set_error(s->h, "postgres: out of memory");
        goto out;
    }
    if (api->row_begin(b, SL_OP_TRUNCATE) < 0 || (st = api->emit(s->h, b)) != SL_OK) {
        if (st == SL_ERROR)
            api->set_error(s->h, "postgres: out of memory");
        goto out;
    }
    st = SL_ERROR;
    rewind(rs->spill);
    int header = 0;
    uint64_t rows = 0;
    uint32_t len;
    rel->warned_inf = 0;
    while (fread(&len, sizeof len, 1, rs->spill) == 1) {
        if (len > cap) {
            uint8_t *nb = realloc(buf, len);
            if (!nb) {
                api->set_error(s->h, "postgres: out of memory");
                goto out;
            }
            buf = nb;
            cap = len;
        }
        if (fread(buf, 1, len, rs->spill) != len) {
            api->set_error(s->h, "postgres: re-reading %s.%s: temporary file truncated", rel->ns,
                           rel->name);
            goto out;
        }
        int kind = sl_pg_copybin_row(buf, len, &header, fields, rel->ncols);
        if (kind == 0)
            continue; /* trailer */
        if (kind < 0) {
            api->set_error(s->h, "postgres: malformed COPY row from %s.%s", rel->ns, rel->name);
            goto out;
        }
        if (api->row_begin(b, SL_OP_SNAPSHOT) < 0) {
            api->set_error(s->h, "postgres: out of memory");
            goto out;
        }
        for (uint32_t c = 0; c < rel->ncols; c++)
            if (sl_pg_set_cell_bin(s, rel, b, c, fields[c].p, fields[c].len) < 0)
                goto out;
        rows++;
        if (api->batch_rows(b) >= SL_PG_BATCH_ROWS && (st = api->emit(s->h, b)) != SL_OK)
            goto out;
        st = SL_ERROR;
    }
    if (ferror(rs->spill)) {
        api->set_error(s->h, "postgres: re-reading %s.%s: reading the temporary file failed",
                       rel->ns, rel->name);
        goto out;
    }
    if (api->batch_rows(b) > 0 && (st = api->emit(s->h, b)) != SL_OK)
        goto out;
    api->counter_add(s->h, "snapshot_rows", (double)rows);
    pg_rel *srel = sl_pg_rel_find(s, rs->relid);
    if (srel) {
        srel->reread_pending = 0;
        srel->host_shape = sl_pg_shape_hash(rel);
        srel->host_shape_known = 1;
        save_state(s); /* becomes durable with this commit's manifest */
    }
    char pos[64];
    sl_pg_format_pos(rs->lsn, pos, sizeof pos);
    st = api->commit(s->h, pos, strlen(pos), 0);
    if (st != SL_OK)
        goto out;
    s->committed_lsn = rs->lsn;
    int64_t now = sl_pg_now_us();
    api->log(
        s->h, SL_LOG_INFO,
        "postgres: re-read of %s.%s done: %llu rows (copied in %.1f s, delivered %.1f s later)",
        rel->ns, rel->name, (unsigned long long)rows, (double)(rs->t_copied - rs->t_start) / 1e6,
        (double)(now - rs->t_copied) / 1e6);
out:
    if (b)
        api->batch_free(s->h, b);
    free(buf);
    free(fields);
    return st;
}

sl_status sl_pg_resnap_due(pgsrc *s, uint64_t lsn)
{
    for (size_t i = 0; i < s->nrs;) {
        if (s->rs[i].lsn > lsn) {
            i++;
            continue;
        }
        sl_status st = deliver(s, &s->rs[i]);
        resnap_remove(s, i);
        if (st != SL_OK)
            return st;
    }
    return SL_OK;
}

/* What changed between the relation we had and a new Relation message, for the log line. */
void sl_pg_shape_reason(const pg_rel *rel, const sl_pg_msg *m, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (o < outlen)                                                                            \
            o += (size_t)snprintf(out + o, outlen - o, __VA_ARGS__);                               \
    } while (0)
    for (uint16_t i = 0; i < m->ncols; i++) {
        uint32_t k = 0;
        while (k < rel->ncols && strcmp(rel->cols[k].name, m->relcols[i].name) != 0)
            k++;
        if (k == rel->ncols)
            ADD("%scolumn %s added", o ? ", " : "", m->relcols[i].name);
        else if (rel->cols[k].typoid != m->relcols[i].typoid)
            ADD("%scolumn %s changed type", o ? ", " : "", m->relcols[i].name);
    }
    for (uint32_t k = 0; k < rel->ncols; k++) {
        uint16_t i = 0;
        while (i < m->ncols && strcmp(rel->cols[k].name, m->relcols[i].name) != 0)
            i++;
        if (i == m->ncols)
            ADD("%scolumn %s dropped", o ? ", " : "", rel->cols[k].name);
    }
    if (!o)
        ADD("key, replica identity or column order changed");
#undef ADD
}

int sl_pg_resnap_open(pgsrc *s, int streaming)
{
    const sl_host_api *api = s->api;
    if (!streaming) {
        /* A fresh snapshot: every table's rows come in the shape just read from the catalog. */
        for (size_t k = 0; k < s->nrels; k++)
            if (s->rels[k].selected && s->rels[k].schema) {
                s->rels[k].host_shape = sl_pg_shape_hash(&s->rels[k]);
                s->rels[k].host_shape_known = 1;
            }
        save_state(s);
    } else {
        load_state(s);
    }
    if (!SL_API_HAS(api, known_table) || !SL_API_HAS(api, table_drop) || !api->known_table ||
        !api->table_drop)
        return 0;
    /* Copy the names first: table_drop changes the host's list. */
    size_t n = 0;
    while (api->known_table(s->h, n, NULL, NULL, NULL))
        n++;
    char **known = calloc(n ? n : 1, sizeof *known);
    if (!known) {
        api->set_error(s->h, "postgres: out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *ns = NULL;
        const char *name = api->known_table(s->h, i, &ns, NULL, NULL);
        size_t len = strlen(ns ? ns : "") + strlen(name ? name : "") + 2;
        if (!(known[i] = malloc(len))) {
            api->set_error(s->h, "postgres: out of memory");
            rc = -1;
            break;
        }
        snprintf(known[i], len, "%s.%s", ns ? ns : "", name ? name : "");
    }
    /* Known but no longer selected (or gone from the database): the host stops writing it. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        int found = 0;
        for (size_t k = 0; k < s->nrels && !found; k++) {
            const pg_rel *rel = &s->rels[k];
            size_t nl = strlen(rel->ns);
            found = rel->selected && strncmp(known[i], rel->ns, nl) == 0 && known[i][nl] == '.' &&
                    strcmp(known[i] + nl + 1, rel->name) == 0;
        }
        if (!found) {
            char *dot = strchr(known[i], '.');
            *dot = 0;
            api->table_drop(s->h, known[i], dot + 1);
            *dot = '.';
        }
    }
    /* Selected but unknown: read it while the others stream ("never": stream only, as asked). */
    for (size_t k = 0; k < s->nrels && rc == 0 && streaming && s->snap_mode != SL_PG_SNAP_NEVER;
         k++) {
        pg_rel *rel = &s->rels[k];
        if (!rel->selected)
            continue;
        int found = 0;
        size_t nl = strlen(rel->ns);
        for (size_t i = 0; i < n && !found; i++)
            found = strncmp(known[i], rel->ns, nl) == 0 && known[i][nl] == '.' &&
                    strcmp(known[i] + nl + 1, rel->name) == 0;
        if (!found) {
            rel->reread_pending = 0;
            rel->host_shape_known = 0;
            if (sl_pg_resnap_request(s, rel, "added to the job") < 0)
                rc = -1;
        } else if (rel->reread_pending &&
                   sl_pg_resnap_request(s, rel, "a re-read was interrupted by a restart") < 0) {
            rc = -1;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(known[i]);
    free(known);
    return rc;
}
