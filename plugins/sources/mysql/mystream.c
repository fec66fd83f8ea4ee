/*
 * mystream.c - the binlog stream of the mysql source: Connector/C's mariadb_rpl_* is only the
 * transport (registers as a replica with server_id, COM_BINLOG_DUMP from a file/offset); every
 * event's raw bytes go to the decoder (mybinlog.h), which checks CRC32s and decodes rows.
 *
 * Transactions: a MariaDB GTID (or MySQL GTID) event opens one; XID, a QUERY "COMMIT", or the
 * end of a standalone (DDL) GTID group closes it. Rows of selected tables are emitted per table;
 * the commit carries "gtid=<MariaDB GTID position after it>;file=<file>;pos=<end of the XID>".
 * MySQL GTID sets are not accumulated here: stream positions of a MySQL server carry no GTID set
 * and order by file and offset.
 *
 * Not handled yet (each stops the job with one line rather than writing wrong data): DDL on a
 * selected table, a table map whose columns differ from the snapshot's schema, ENUM/SET without
 * binlog_row_metadata = FULL, row images that are not FULL.
 */
#include "mybinlog.h"
#include "mysrc.h"

#include <inttypes.h>
#include <mariadb_rpl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STREAM_EVENTS_PER_POLL 20000

int sl_my_stream_available(void)
{
    return 1;
}

static int rexec(mysrc *s, const char *sql)
{
    if (mysql_real_query(s->rconn, sql, strlen(sql)) != 0) {
        s->api->set_error(s->h, "mysql: %s: binlog connection: %s: %s", s->where, sql,
                          mysql_error(s->rconn));
        return -1;
    }
    mysql_free_result(mysql_store_result(s->rconn));
    return 0;
}

void sl_my_stream_stop(mysrc *s)
{
    if (s->rev) {
        mariadb_free_rpl_event(s->rev);
        s->rev = NULL;
    }
    if (s->rpl) {
        mariadb_rpl_close(s->rpl);
        s->rpl = NULL;
    }
    if (s->rconn) {
        mysql_close(s->rconn);
        s->rconn = NULL;
    }
    if (s->dec) {
        sl_mb_decoder_free(s->dec);
        s->dec = NULL;
    }
    for (size_t i = 0; i < s->ntabs; i++)
        if (s->tabs[i].txb) {
            s->api->batch_free(s->h, s->tabs[i].txb);
            s->tabs[i].txb = NULL;
        }
}

int sl_my_stream_start(mysrc *s, const sl_my_pos *from)
{
    s->cur = *from;
    s->in_txn = 0;
    s->txn_rows = 0;
    s->last_commit_us = sl_my_now_us();
    s->rconn = sl_my_connect(s);
    if (!s->rconn)
        return -1;
    char crc[32] = "";
    if (mysql_real_query(s->rconn, "SELECT @@global.binlog_checksum", 31) == 0) {
        MYSQL_RES *r = mysql_store_result(s->rconn);
        MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
        if (row && row[0])
            snprintf(crc, sizeof crc, "%s", row[0]);
        mysql_free_result(r);
    }
    char hb[96];
    snprintf(hb, sizeof hb, "SET @master_heartbeat_period = %" PRId64,
             (int64_t)s->heartbeat_s * 1000000000);
    /* The server sends checksums only to a replica that says it understands them; MariaDB
     * sends its GTID events only to one with capability 4. */
    if (rexec(s, "SET @master_binlog_checksum = @@global.binlog_checksum") < 0 ||
        rexec(s, "SET @mariadb_slave_capability = 4") < 0 || rexec(s, hb) < 0)
        return -1;
    s->dec = sl_mb_decoder_new();
    MARIADB_RPL *rpl = mariadb_rpl_init(s->rconn);
    s->rpl = rpl;
    if (!s->dec || !rpl) {
        s->api->set_error(s->h, "mysql: out of memory");
        return -1;
    }
    sl_mb_decoder_set_checksum(s->dec, strcasecmp(crc, "CRC32") == 0);
    unsigned flags = s->once ? MARIADB_RPL_BINLOG_DUMP_NON_BLOCK : 0;
    if (mariadb_rpl_optionsv(rpl, MARIADB_RPL_SERVER_ID, (unsigned int)s->server_id) ||
        mariadb_rpl_optionsv(rpl, MARIADB_RPL_FILENAME, s->cur.file, strlen(s->cur.file)) ||
        mariadb_rpl_optionsv(rpl, MARIADB_RPL_START, (unsigned long)s->cur.offset) ||
        mariadb_rpl_optionsv(rpl, MARIADB_RPL_FLAGS, flags) || mariadb_rpl_open(rpl) != 0) {
        s->api->set_error(s->h, "mysql: %s: starting the binlog dump at %s:%" PRIu64 ": %s",
                          s->where, s->cur.file, s->cur.offset, mariadb_rpl_error(rpl));
        return -1;
    }
    s->api->log(s->h, SL_LOG_INFO,
                "mysql: streaming the binlog from %s:%" PRIu64 " as server_id %u", s->cur.file,
                s->cur.offset, (unsigned)s->server_id);
    s->phase = SL_MY_PH_STREAM;
    return 0;
}

static my_table *find_table(mysrc *s, const char *db, const char *name)
{
    for (size_t i = 0; i < s->ntabs; i++)
        if (strcmp(s->tabs[i].db, db) == 0 && strcmp(s->tabs[i].name, name) == 0)
            return &s->tabs[i];
    return NULL;
}

/* Fills what the table map did not log from the snapshot's schema, and refuses a shape that
 * differs from it (DDL not followed yet). */
static int adopt_map(mysrc *s, my_table *t, sl_mb_table *m)
{
    if (m->ncols != t->ncols) {
        s->api->set_error(s->h,
                          "mysql: %s.%s has %u columns in the binlog, %u in the schema read "
                          "at the snapshot: schema changes are not followed yet",
                          t->db, t->name, m->ncols, t->ncols);
        return -1;
    }
    for (uint32_t i = 0; i < m->ncols; i++) {
        sl_mb_column *c = &m->cols[i];
        my_col *mc = &t->cols[i];
        if (!c->name)
            c->name = mc->name;
        c->key = mc->key;
        /* The schema read from information_schema is authoritative for signedness (the binlog's
         * signedness bitmap has been seen to disagree for a generated column). */
        c->is_unsigned = strstr(mc->coltype, "unsigned") != NULL;
        if (!c->collation)
            c->collation = mc->collation;
        if ((c->real_type == SL_MB_T_ENUM || c->real_type == SL_MB_T_SET) && !c->values) {
            s->api->set_error(s->h,
                              "mysql: %s.%s.%s: ENUM/SET values are not in the binlog: set "
                              "binlog_row_metadata = FULL on the server",
                              t->db, t->name, mc->name);
            return -1;
        }
        int p, sc;
        sl_type ty = sl_mb_column_type(c, &p, &sc);
        if (ty != mc->type || strcmp(c->name, mc->name) != 0) {
            s->api->set_error(s->h,
                              "mysql: %s.%s.%s: the binlog's column (%s, type %d) differs "
                              "from the snapshot's (%s, type %d): schema changes are not "
                              "followed yet",
                              t->db, t->name, mc->name, c->name, (int)ty, mc->name, (int)mc->type);
            return -1;
        }
    }
    return 0;
}

static int put_row(mysrc *s, my_table *t, sl_op op, const sl_mb_cell *cells)
{
    const sl_host_api *api = s->api;
    if (!t->txb && !(t->txb = api->batch_new(s->h, t->schema)))
        return -1;
    sl_batch *b = t->txb;
    if (api->row_begin(b, op) < 0) {
        api->set_error(s->h, "mysql: out of memory (tenant memory budget?)");
        return -1;
    }
    for (uint32_t i = 0; i < t->ncols; i++) {
        const sl_mb_cell *c = &cells[i];
        if (c->state == SL_MB_CELL_ABSENT) {
            api->set_error(s->h,
                           "mysql: %s.%s.%s missing from a row image: set "
                           "binlog_row_image = FULL",
                           t->db, t->name, t->cols[i].name);
            return -1;
        }
        if (c->state == SL_CELL_NULL) {
            api->set_null(b, i);
            if (c->invalid)
                api->counter_add(s->h, "zero_dates", 1);
            continue;
        }
        switch (c->type) {
        case SL_T_DOUBLE:
            api->set_f64(b, i, c->f64);
            break;
        case SL_T_STRING:
        case SL_T_BINARY:
        case SL_T_DECIMAL: {
            /* The binlog drops BINARY(n)'s trailing zero bytes; SELECT shows all n. */
            unsigned n = 0;
            char pad[256];
            const char *p = c->p;
            size_t len = c->len;
            if (!strcmp(t->cols[i].datatype, "binary") &&
                sscanf(t->cols[i].coltype, "binary(%u)", &n) == 1 && n <= sizeof pad && len < n) {
                memcpy(pad, c->p, len);
                memset(pad + len, 0, n - len);
                p = pad;
                len = n;
            }
            if (api->set_bytes(b, i, p, len) < 0) {
                api->set_error(s->h, "mysql: out of memory (tenant memory budget?)");
                return -1;
            }
            break;
        }
        default:
            api->set_i64(b, i, c->i64);
            break;
        }
    }
    s->txn_rows++;
    if (api->batch_rows(b) >= SL_MY_BATCH_ROWS && api->emit(s->h, b) != SL_OK)
        return -1;
    return 0;
}

static int same_cell(const sl_mb_cell *a, const sl_mb_cell *b)
{
    if (a->state != b->state)
        return 0;
    if (a->state != SL_CELL_VALUE)
        return 1;
    if (a->type == SL_T_STRING || a->type == SL_T_BINARY || a->type == SL_T_DECIMAL)
        return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
    if (a->type == SL_T_DOUBLE)
        return a->f64 == b->f64;
    return a->i64 == b->i64;
}

static int on_rows(mysrc *s, sl_mb_event *ev)
{
    sl_mb_table *m = sl_mb_table_get(s->dec, ev->table_id);
    my_table *t = m ? find_table(s, m->db, m->name) : NULL;
    if (!t)
        return 0;
    char err[300];
    const sl_mb_cell *before, *after;
    int r;
    while ((r = sl_mb_rows_next(s->dec, ev, &before, &after, err, sizeof err)) == 1) {
        int rc = 0;
        if (ev->rows_kind == SL_MB_ROWS_INSERT) {
            rc = put_row(s, t, SL_OP_INSERT, after);
        } else if (ev->rows_kind == SL_MB_ROWS_DELETE) {
            rc = put_row(s, t, SL_OP_DELETE, before);
        } else {
            int keychg = 0;
            for (uint32_t i = 0; i < t->ncols; i++)
                if (t->cols[i].key && !same_cell(&before[i], &after[i]))
                    keychg = 1;
            if (keychg)
                rc = put_row(s, t, SL_OP_DELETE, before) < 0 ? -1
                                                             : put_row(s, t, SL_OP_INSERT, after);
            else
                rc = put_row(s, t, SL_OP_UPDATE, after);
        }
        if (rc < 0)
            return -1;
    }
    if (r < 0) {
        s->api->set_error(s->h, "mysql: binlog %s:%u: %s", s->cur.file, ev->h.log_pos, err);
        return -1;
    }
    return 0;
}

/* MariaDB GTID position with domain-server-seq applied (replacing the domain's entry). */
static void gtid_apply(char *set, size_t cap, uint32_t domain, uint32_t server, uint64_t seq)
{
    char out[sizeof(((sl_my_pos *)0)->gtid)];
    size_t n = 0;
    int done = 0;
    char *save = NULL, copy[sizeof out];
    snprintf(copy, sizeof copy, "%s", set);
    for (char *e = strtok_r(copy, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        unsigned long d = strtoul(e, NULL, 10);
        if (d == domain) {
            n += (size_t)snprintf(out + n, sizeof out - n, "%s%u-%u-%" PRIu64, n ? "," : "", domain,
                                  server, seq);
            done = 1;
        } else {
            n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", n ? "," : "", e);
        }
        if (n >= sizeof out)
            return;
    }
    if (!done)
        snprintf(out + n, sizeof out - n, "%s%u-%u-%" PRIu64, n ? "," : "", domain, server, seq);
    snprintf(set, cap, "%s", out);
}

static int commit_txn(mysrc *s, int64_t when_us)
{
    const sl_host_api *api = s->api;
    for (size_t i = 0; i < s->ntabs; i++) {
        sl_batch *b = s->tabs[i].txb;
        if (b && api->batch_rows(b) > 0 && api->emit(s->h, b) != SL_OK)
            return -1;
    }
    s->in_txn = 0;
    int64_t now = sl_my_now_us();
    /* Transactions of other tables still advance the position, but not at every one. */
    if (s->txn_rows == 0 && now - s->last_commit_us < 1000000)
        return 0;
    char pos[1400];
    int n = sl_my_pos_format(&s->cur, pos, sizeof pos);
    if (n < 0 || api->commit(s->h, pos, (size_t)n, when_us) != SL_OK)
        return -1;
    if (s->txn_rows)
        api->counter_add(s->h, "stream_rows", (double)s->txn_rows);
    s->txn_rows = 0;
    s->last_commit_us = now;
    return 0;
}

/* name appears in q as a whole identifier (not inside a longer one). */
static int mentions(const char *q, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = q; (p = strcasestr(p, name)); p++) {
        char b = p == q ? ' ' : p[-1], a = p[n];
        int ib = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
                 b == '_' || b == '$' || (unsigned char)b >= 0x80;
        int ia = (a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z') || (a >= '0' && a <= '9') ||
                 a == '_' || a == '$' || (unsigned char)a >= 0x80;
        if (!ib && !ia)
            return 1;
    }
    return 0;
}

/* A statement other than BEGIN/COMMIT: DDL on a selected table is refused for now. */
static int on_query(mysrc *s, sl_mb_event *ev)
{
    const char *q = ev->query;
    if (!strcasecmp(q, "BEGIN"))
        return 0;
    if (!strcasecmp(q, "COMMIT"))
        return 1;
    for (size_t i = 0; i < s->ntabs; i++)
        if (mentions(q, s->tabs[i].name)) {
            s->api->set_error(s->h,
                              "mysql: binlog %s:%u: statement on %s.%s (%.80s): schema "
                              "changes are not followed yet; re-run with snapshot = \"always\"",
                              s->cur.file, ev->h.log_pos, s->tabs[i].db, s->tabs[i].name, q);
            return -1;
        }
    return 0;
}

sl_status sl_my_stream_poll(mysrc *s, int timeout_ms)
{
    (void)timeout_ms;
    const sl_host_api *api = s->api;
    char err[300];
    for (int k = 0; k < STREAM_EVENTS_PER_POLL && !api->stopping(s->h); k++) {
        /* A fresh event each time, freed here: whether fetch frees an event handed back to it
         * on EOF or error is not documented (freeing it again crashed). */
        if (s->rev) {
            mariadb_free_rpl_event(s->rev);
            s->rev = NULL;
        }
        MARIADB_RPL_EVENT *re = mariadb_rpl_fetch(s->rpl, NULL);
        if (!re) {
            if (mariadb_rpl_errno(s->rpl) == 0 && s->once) {
                if (s->in_txn) {
                    api->set_error(s->h, "mysql: the binlog ended inside a transaction");
                    return SL_ERROR;
                }
                s->phase = SL_MY_PH_EOF;
                return SL_EOF;
            }
            api->set_error(s->h, "mysql: %s: reading the binlog at %s:%" PRIu64 ": %s (error %u)",
                           s->where, s->cur.file, s->cur.offset, mariadb_rpl_error(s->rpl),
                           mariadb_rpl_errno(s->rpl));
            return SL_ERROR;
        }
        s->rev = re;
        /* raw_data is the whole packet: the OK byte (0x00), then the event. */
        if (re->raw_data_size < 1 || re->raw_data[0] != 0) {
            api->set_error(s->h, "mysql: binlog %s:%" PRIu64 ": unexpected packet", s->cur.file,
                           s->cur.offset);
            return SL_ERROR;
        }
        const uint8_t *buf = re->raw_data + 1;
        size_t len = re->raw_data_size - 1;
        sl_mb_event ev;
        if (sl_mb_decode(s->dec, buf, len, &ev, err, sizeof err) < 0) {
            api->set_error(s->h, "mysql: binlog %s:%" PRIu64 ": %s", s->cur.file, s->cur.offset,
                           err);
            return SL_ERROR;
        }
        int artificial = (ev.h.flags & SL_MB_F_ARTIFICIAL) || ev.h.log_pos == 0;
        int commit = 0;
        switch (ev.h.type) {
        case SL_MB_ROTATE:
            snprintf(s->cur.file, sizeof s->cur.file, "%s", ev.file);
            s->cur.offset = ev.pos;
            continue;
        case SL_MB_MARIA_GTID:
            s->in_txn = 1;
            s->txn_time_us = (int64_t)ev.h.timestamp * 1000000;
            gtid_apply(s->cur.gtid, sizeof s->cur.gtid, ev.gtid_domain, ev.h.server_id,
                       ev.gtid_seq);
            break;
        case SL_MB_MYSQL_GTID:
        case SL_MB_MYSQL_ANONYMOUS_GTID:
            s->in_txn = 1;
            s->txn_time_us = (int64_t)ev.h.timestamp * 1000000;
            s->cur.gtid[0] = '\0';
            break;
        case SL_MB_QUERY:
        case SL_MB_MARIA_QUERY_COMPRESSED: {
            int q = on_query(s, &ev);
            if (q < 0)
                return SL_ERROR;
            /* COMMIT, or a statement outside BEGIN/COMMIT (DDL: its own transaction). */
            commit = q == 1 || strcasecmp(ev.query, "BEGIN") != 0;
            break;
        }
        case SL_MB_TABLE_MAP: {
            my_table *t = ev.table ? find_table(s, ev.table->db, ev.table->name) : NULL;
            if (t && adopt_map(s, t, ev.table) < 0)
                return SL_ERROR;
            break;
        }
        case SL_MB_WRITE_ROWS_V1:
        case SL_MB_UPDATE_ROWS_V1:
        case SL_MB_DELETE_ROWS_V1:
        case SL_MB_WRITE_ROWS_V2:
        case SL_MB_UPDATE_ROWS_V2:
        case SL_MB_DELETE_ROWS_V2:
        case SL_MB_MARIA_WRITE_ROWS_COMPRESSED_V1:
        case SL_MB_MARIA_UPDATE_ROWS_COMPRESSED_V1:
        case SL_MB_MARIA_DELETE_ROWS_COMPRESSED_V1:
        case SL_MB_MARIA_WRITE_ROWS_COMPRESSED:
        case SL_MB_MARIA_UPDATE_ROWS_COMPRESSED:
        case SL_MB_MARIA_DELETE_ROWS_COMPRESSED:
            if (on_rows(s, &ev) < 0)
                return SL_ERROR;
            break;
        case SL_MB_XID:
            commit = 1;
            break;
        case SL_MB_TRANSACTION_PAYLOAD:
            api->set_error(s->h, "mysql: MySQL compressed transactions (TRANSACTION_PAYLOAD) are "
                                 "not streamed yet: set binlog_transaction_compression = OFF");
            return SL_ERROR;
        default:
            break;
        }
        if (!artificial)
            s->cur.offset = ev.h.log_pos;
        if (commit && commit_txn(s, s->txn_time_us) < 0)
            return SL_ERROR;
    }
    return SL_OK;
}
