/* mysnap.c - tables, schemas and the consistent snapshot of the mysql source.
 *
 * MariaDB: START TRANSACTION WITH CONSISTENT SNAPSHOT; the status variables
 * binlog_snapshot_file/binlog_snapshot_position are the binlog coordinates of exactly that read
 * view (kept consistent by the binlog group commit), and BINLOG_GTID_POS() of them is its GTID
 * position: no lock at all.
 * MySQL 8 has no such variables: FLUSH TABLES WITH READ LOCK is held only while the read view is
 * opened and SHOW MASTER STATUS is read (milliseconds once the lock is granted; the wait for it is
 * the wait for running statements). LOCK INSTANCE FOR BACKUP + performance_schema.log_status does
 * not block commits, so its coordinates need not match a read view opened in another statement.
 *
 * Rows are read with mysql_use_result (unbuffered: memory stays one batch), values in the text
 * protocol, converted by mytext.c. */
#include "mysrc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SNAP_ROWS_PER_POLL 65536
#define PROGRESS_US        10000000

/* `name` with backticks doubled, appended to buf; returns the new length or -1. */
static int quote_ident(char *buf, size_t cap, size_t len, const char *name)
{
    if (len + 1 >= cap)
        return -1;
    buf[len++] = '`';
    for (const char *p = name; *p; p++) {
        if (len + 3 >= cap)
            return -1;
        if (*p == '`')
            buf[len++] = '`';
        buf[len++] = *p;
    }
    buf[len++] = '`';
    buf[len] = '\0';
    return (int)len;
}

/* 'text' escaped for the connection; -1 when it does not fit. */
static int quote_str(mysrc *s, char *buf, size_t cap, size_t len, const char *text)
{
    size_t n = strlen(text);
    if (len + 2 * n + 3 > cap)
        return -1;
    buf[len++] = '\'';
    len += mysql_real_escape_string(s->conn, buf + len, text, (unsigned long)n);
    buf[len++] = '\'';
    buf[len] = '\0';
    return (int)len;
}

static MYSQL_RES *query(mysrc *s, const char *sql, const char *what)
{
    if (mysql_real_query(s->conn, sql, strlen(sql)) != 0) {
        sl_my_error(s, what);
        return NULL;
    }
    MYSQL_RES *r = mysql_store_result(s->conn);
    if (!r)
        sl_my_error(s, what);
    return r;
}

static void cols_free(my_col *c, uint32_t n)
{
    for (uint32_t i = 0; c && i < n; i++) {
        free(c[i].name);
        free(c[i].coltype);
        free(c[i].datatype);
    }
    free(c);
}

void sl_my_tables_free(mysrc *s)
{
    for (size_t i = 0; i < s->ntabs; i++) {
        free(s->tabs[i].db);
        free(s->tabs[i].name);
        cols_free(s->tabs[i].cols, s->tabs[i].ncols);
    }
    free(s->tabs);
    s->tabs = NULL;
    s->ntabs = 0;
}

static int add_table(mysrc *s, const char *db, const char *name, uint64_t est)
{
    for (size_t i = 0; i < s->ntabs; i++)
        if (strcmp(s->tabs[i].db, db) == 0 && strcmp(s->tabs[i].name, name) == 0)
            return 0;
    my_table *t = realloc(s->tabs, (s->ntabs + 1) * sizeof *t);
    if (!t)
        goto oom;
    s->tabs = t;
    t = &s->tabs[s->ntabs];
    memset(t, 0, sizeof *t);
    t->db = strdup(db);
    t->name = strdup(name);
    t->est_rows = est;
    if (!t->db || !t->name) {
        free(t->db);
        free(t->name);
        goto oom;
    }
    s->ntabs++;
    return 0;
oom:
    s->api->set_error(s->h, "mysql: out of memory");
    return -1;
}

/* One listed table: exists, is a base table, SELECT is granted. */
static int check_listed(mysrc *s, const char *item, const char *db, const char *name)
{
    char sql[1200];
    int n = snprintf(sql, sizeof sql,
                     "SELECT TABLE_TYPE, TABLE_ROWS FROM information_schema.TABLES"
                     " WHERE TABLE_SCHEMA = ");
    n = quote_str(s, sql, sizeof sql, (size_t)n, db);
    if (n > 0)
        n += snprintf(sql + n, sizeof sql - (size_t)n, " AND TABLE_NAME = ");
    if (n > 0)
        n = quote_str(s, sql, sizeof sql, (size_t)n, name);
    const char *w = s->api->opt_where(s->h, "tables");
    if (n < 0) {
        s->api->set_error(s->h, "mysql: %s%stables: name too long: %s", w ? w : "", w ? ": " : "",
                          item);
        return -1;
    }
    MYSQL_RES *r = query(s, sql, "looking up tables");
    if (!r)
        return -1;
    MYSQL_ROW row = mysql_fetch_row(r);
    if (!row) {
        mysql_free_result(r);
        s->api->set_error(s->h, "mysql: %s%stables: table %s.%s does not exist on %s", w ? w : "",
                          w ? ": " : "", db, name, s->where);
        return -1;
    }
    if (!row[0] || strcmp(row[0], "BASE TABLE") != 0) {
        s->api->set_error(s->h,
                          "mysql: %s%stables: %s.%s is a %s, not a base table (a view has "
                          "no changes in the binlog)",
                          w ? w : "", w ? ": " : "", db, name, row[0] ? row[0] : "?");
        mysql_free_result(r);
        return -1;
    }
    uint64_t est = row[1] ? strtoull(row[1], NULL, 10) : 0;
    mysql_free_result(r);
    return add_table(s, db, name, est);
}

static int check_select(mysrc *s, const my_table *t)
{
    char sql[700];
    int n = snprintf(sql, sizeof sql, "SELECT 1 FROM ");
    n = quote_ident(sql, sizeof sql, (size_t)n, t->db);
    if (n > 0 && (size_t)n + 1 < sizeof sql)
        sql[n++] = '.';
    if (n > 0)
        n = quote_ident(sql, sizeof sql, (size_t)n, t->name);
    if (n < 0 || (size_t)n + 10 > sizeof sql) {
        s->api->set_error(s->h, "mysql: table name too long: %s.%s", t->db, t->name);
        return -1;
    }
    snprintf(sql + n, sizeof sql - (size_t)n, " LIMIT 0");
    if (mysql_real_query(s->conn, sql, strlen(sql)) != 0) {
        unsigned e = mysql_errno(s->conn);
        if (e == 1142 || e == 1143)
            s->api->set_error(s->h,
                              "mysql: %s: user %s lacks SELECT on %s.%s: GRANT SELECT ON "
                              "%s.* TO the user",
                              s->where, s->user ? s->user : "", t->db, t->name, t->db);
        else
            sl_my_error(s, "checking SELECT");
        return -1;
    }
    mysql_free_result(mysql_store_result(s->conn));
    return 0;
}

int sl_my_load_tables(mysrc *s)
{
    const sl_host_api *api = s->api;
    sl_my_tables_free(s);
    size_t n = api->opt_list_len(s->h, "tables");
    if (n == 0) {
        char sql[600];
        int len = snprintf(sql, sizeof sql,
                           "SELECT TABLE_NAME, TABLE_ROWS FROM "
                           "information_schema.TABLES WHERE TABLE_SCHEMA = ");
        len = quote_str(s, sql, sizeof sql, (size_t)len, s->database);
        if (len < 0) {
            api->set_error(s->h, "mysql: database name too long");
            return -1;
        }
        snprintf(sql + len, sizeof sql - (size_t)len,
                 " AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME");
        MYSQL_RES *r = query(s, sql, "listing tables");
        if (!r)
            return -1;
        MYSQL_ROW row;
        while ((row = mysql_fetch_row(r)))
            if (add_table(s, s->database, row[0], row[1] ? strtoull(row[1], NULL, 10) : 0) < 0) {
                mysql_free_result(r);
                return -1;
            }
        mysql_free_result(r);
        if (s->ntabs == 0)
            api->log(s->h, SL_LOG_WARN, "mysql: database %s on %s has no base tables", s->database,
                     s->where);
    }
    for (size_t i = 0; i < n; i++) {
        const char *item = api->opt_list_item(s->h, "tables", i);
        const char *dot = item ? strchr(item, '.') : NULL;
        char db[256];
        if (dot) {
            snprintf(db, sizeof db, "%.*s", (int)(dot - item), item);
        } else {
            snprintf(db, sizeof db, "%s", s->database ? s->database : "");
        }
        if (!item || check_listed(s, item, db, dot ? dot + 1 : item) < 0)
            return -1;
    }
    for (size_t i = 0; i < s->ntabs; i++)
        if (check_select(s, &s->tabs[i]) < 0)
            return -1;
    return 0;
}

static int has_word(const char *s, const char *w)
{
    return s && strstr(s, w) != NULL;
}

/* DATA_TYPE (+ COLUMN_TYPE, charset) -> conversion and Sluice type (docs/sources/mysql.md). */
static int map_type(mysrc *s, my_table *t, my_col *c, const char *charset, int *warned)
{
    const char *d = c->datatype;
    c->precision = 0;
    c->scale = -1;
    if (!strcmp(d, "tinyint") || !strcmp(d, "smallint") || !strcmp(d, "mediumint") ||
        !strcmp(d, "int") || !strcmp(d, "integer") || !strcmp(d, "year")) {
        c->conv = MY_C_INT, c->type = SL_T_INT64;
    } else if (!strcmp(d, "bigint")) {
        if (has_word(c->coltype, "unsigned"))
            c->conv = MY_C_UINT, c->type = SL_T_UINT64;
        else
            c->conv = MY_C_INT, c->type = SL_T_INT64;
    } else if (!strcmp(d, "decimal") || !strcmp(d, "numeric")) {
        c->conv = MY_C_DECIMAL, c->type = SL_T_DECIMAL;
    } else if (!strcmp(d, "float") || !strcmp(d, "double") || !strcmp(d, "real")) {
        c->conv = MY_C_DOUBLE, c->type = SL_T_DOUBLE;
    } else if (!strcmp(d, "bit")) {
        c->conv = MY_C_BIT;
        c->type = c->precision >= 64 ? SL_T_UINT64 : SL_T_INT64;
    } else if (!strcmp(d, "date")) {
        c->conv = MY_C_DATE, c->type = SL_T_DATE;
    } else if (!strcmp(d, "time")) {
        c->conv = MY_C_TIME, c->type = SL_T_TIME;
    } else if (!strcmp(d, "datetime")) {
        c->conv = MY_C_DATETIME, c->type = SL_T_TIMESTAMP;
    } else if (!strcmp(d, "timestamp")) {
        c->conv = MY_C_DATETIME, c->type = SL_T_TIMESTAMPTZ;
    } else if (!strcmp(d, "char") || !strcmp(d, "varchar") || !strcmp(d, "tinytext") ||
               !strcmp(d, "text") || !strcmp(d, "mediumtext") || !strcmp(d, "longtext")) {
        /* CHARACTER SET binary makes these byte strings. */
        if (!charset || !strcasecmp(charset, "binary"))
            c->conv = MY_C_BINARY, c->type = SL_T_BINARY;
        else
            c->conv = MY_C_STRING, c->type = SL_T_STRING;
    } else if (!strcmp(d, "binary") || !strcmp(d, "varbinary") || !strcmp(d, "tinyblob") ||
               !strcmp(d, "blob") || !strcmp(d, "mediumblob") || !strcmp(d, "longblob")) {
        c->conv = MY_C_BINARY, c->type = SL_T_BINARY;
    } else if (!strcmp(d, "enum") || !strcmp(d, "set") || !strcmp(d, "json") ||
               !strcmp(d, "uuid") || !strcmp(d, "inet4") || !strcmp(d, "inet6")) {
        c->conv = MY_C_STRING, c->type = SL_T_STRING;
    } else if (!strcmp(d, "geometry") || !strcmp(d, "point") || !strcmp(d, "linestring") ||
               !strcmp(d, "polygon") || !strcmp(d, "multipoint") || !strcmp(d, "multilinestring") ||
               !strcmp(d, "multipolygon") || !strcmp(d, "geometrycollection") ||
               !strcmp(d, "geomcollection")) {
        /* Selected as HEX(col): the stored SRID + WKB, as the binlog carries it. */
        c->conv = MY_C_STRING, c->type = SL_T_STRING;
    } else {
        c->conv = MY_C_STRING, c->type = SL_T_STRING;
        if (!*warned)
            s->api->log(s->h, SL_LOG_WARN, "mysql: %s.%s.%s: type %s is read as its text", t->db,
                        t->name, c->name, c->coltype);
        *warned = 1;
    }
    return 0;
}

static int is_geometry(const my_col *c)
{
    static const char *const g[] = {
        "geometry",        "point",        "linestring",         "polygon",        "multipoint",
        "multilinestring", "multipolygon", "geometrycollection", "geomcollection", NULL};
    for (int i = 0; g[i]; i++)
        if (!strcmp(c->datatype, g[i]))
            return 1;
    return 0;
}

static int load_schema(mysrc *s, my_table *t)
{
    char sql[1400];
    int n = snprintf(sql, sizeof sql,
                     "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, NUMERIC_PRECISION,"
                     " NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_SET_NAME,"
                     " (SELECT s.SEQ_IN_INDEX FROM information_schema.STATISTICS s WHERE"
                     " s.TABLE_SCHEMA = c.TABLE_SCHEMA AND s.TABLE_NAME = c.TABLE_NAME AND"
                     " s.INDEX_NAME = 'PRIMARY' AND s.COLUMN_NAME = c.COLUMN_NAME),"
                     " (SELECT l.ID FROM information_schema.COLLATIONS l WHERE"
                     " l.COLLATION_NAME = c.COLLATION_NAME)"
                     " FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = ");
    n = quote_str(s, sql, sizeof sql, (size_t)n, t->db);
    if (n > 0)
        n += snprintf(sql + n, sizeof sql - (size_t)n, " AND c.TABLE_NAME = ");
    if (n > 0)
        n = quote_str(s, sql, sizeof sql, (size_t)n, t->name);
    if (n < 0 || (size_t)n + 40 > sizeof sql) {
        s->api->set_error(s->h, "mysql: table name too long: %s.%s", t->db, t->name);
        return -1;
    }
    snprintf(sql + n, sizeof sql - (size_t)n, " ORDER BY c.ORDINAL_POSITION");
    MYSQL_RES *r = query(s, sql, "reading columns");
    if (!r)
        return -1;
    uint32_t ncols = (uint32_t)mysql_num_rows(r);
    my_col *cols = calloc(ncols ? ncols : 1, sizeof *cols);
    sl_field *f = calloc(ncols ? ncols : 1, sizeof *f);
    int warned = 0, rc = -1;
    if (!cols || !f) {
        s->api->set_error(s->h, "mysql: out of memory");
        goto out;
    }
    if (ncols == 0) {
        s->api->set_error(s->h, "mysql: %s.%s has no columns visible to user %s", t->db, t->name,
                          s->user ? s->user : "");
        goto out;
    }
    for (uint32_t i = 0; i < ncols; i++) {
        MYSQL_ROW row = mysql_fetch_row(r);
        my_col *c = &cols[i];
        c->name = strdup(row[0] ? row[0] : "");
        c->datatype = strdup(row[1] ? row[1] : "");
        c->coltype = strdup(row[2] ? row[2] : "");
        if (!c->name || !c->datatype || !c->coltype) {
            s->api->set_error(s->h, "mysql: out of memory");
            goto out;
        }
        for (char *p = c->datatype; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        c->notnull = row[3] && strcmp(row[3], "NO") == 0;
        c->key = row[8] ? atoi(row[8]) : 0;
        c->collation = row[9] ? (uint32_t)strtoul(row[9], NULL, 10) : 0;
        map_type(s, t, c, row[7], &warned);
        if (c->conv == MY_C_DECIMAL) {
            c->precision = row[4] ? atoi(row[4]) : 0;
            c->scale = row[5] ? atoi(row[5]) : -1;
        } else if (c->conv == MY_C_BIT) {
            int bits = row[4] ? atoi(row[4]) : 64;
            c->type = bits >= 64 ? SL_T_UINT64 : SL_T_INT64;
        } else if (c->conv == MY_C_TIME || c->conv == MY_C_DATETIME) {
            c->scale = row[6] ? atoi(row[6]) : 0;
        }
        f[i] = (sl_field){.name = c->name,
                          .type = c->type,
                          .key = c->key,
                          .flags = c->notnull ? SL_FIELD_NOT_NULL : 0u,
                          .precision = c->precision,
                          .scale = c->scale,
                          .source_type = c->coltype};
    }
    t->schema = s->api->schema_new(s->h, t->db, t->name, ncols, f, sizeof *f);
    if (!t->schema)
        goto out;
    cols_free(t->cols, t->ncols);
    t->cols = cols;
    t->ncols = ncols;
    cols = NULL;
    rc = 0;
out:
    if (cols)
        cols_free(cols, ncols);
    free(f);
    mysql_free_result(r);
    return rc;
}

int sl_my_load_schemas(mysrc *s)
{
    for (size_t i = 0; i < s->ntabs; i++)
        if (load_schema(s, &s->tabs[i]) < 0)
            return -1;
    return 0;
}

/* ---- coordinates ---- */

static int gtid_of(mysrc *s, sl_my_pos *pos)
{
    char sql[600];
    int n = snprintf(sql, sizeof sql, "SELECT BINLOG_GTID_POS(");
    n = quote_str(s, sql, sizeof sql, (size_t)n, pos->file);
    if (n < 0)
        return -1;
    snprintf(sql + n, sizeof sql - (size_t)n, ", %" PRIu64 ")", pos->offset);
    int rc = sl_my_query_value(s, sql, pos->gtid, sizeof pos->gtid, "reading the GTID position");
    if (rc == 1)
        pos->gtid[0] = '\0';
    return rc < 0 ? -1 : 0;
}

/* SHOW MASTER STATUS (MySQL 8.4: SHOW BINARY LOG STATUS): file, position, executed GTIDs. */
static int master_status(mysrc *s, sl_my_pos *pos)
{
    MYSQL_RES *r = NULL;
    if (mysql_real_query(s->conn, "SHOW MASTER STATUS", 18) == 0)
        r = mysql_store_result(s->conn);
    else if (mysql_errno(s->conn) == 1064 &&
             mysql_real_query(s->conn, "SHOW BINARY LOG STATUS", 22) == 0)
        r = mysql_store_result(s->conn);
    if (!r) {
        sl_my_error(s, "reading the binlog position");
        return -1;
    }
    MYSQL_ROW row = mysql_fetch_row(r);
    unsigned nf = mysql_num_fields(r);
    if (!row || !row[0] || !row[1]) {
        mysql_free_result(r);
        s->api->set_error(s->h, "mysql: %s: SHOW MASTER STATUS is empty: is log_bin on?", s->where);
        return -1;
    }
    snprintf(pos->file, sizeof pos->file, "%s", row[0]);
    pos->offset = strtoull(row[1], NULL, 10);
    pos->gtid[0] = '\0';
    if (!s->mariadb && nf >= 5 && row[4])
        snprintf(pos->gtid, sizeof pos->gtid, "%s", row[4]);
    mysql_free_result(r);
    return s->mariadb ? gtid_of(s, pos) : 0;
}

int sl_my_current_pos(mysrc *s, sl_my_pos *pos)
{
    return master_status(s, pos);
}

int sl_my_snapshot_begin(mysrc *s)
{
    const sl_host_api *api = s->api;
    if (sl_my_exec(s, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                   "setting the isolation level") < 0)
        return -1;
    if (s->mariadb) {
        if (sl_my_exec(s, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
                       "starting the snapshot transaction") < 0)
            return -1;
        MYSQL_RES *r = query(s, "SHOW STATUS LIKE 'binlog_snapshot_%'",
                             "reading snapshot "
                             "coordinates");
        if (!r)
            return -1;
        MYSQL_ROW row;
        int have = 0;
        while ((row = mysql_fetch_row(r))) {
            if (!row[0] || !row[1])
                continue;
            if (!strcasecmp(row[0], "Binlog_snapshot_file")) {
                snprintf(s->snap_pos.file, sizeof s->snap_pos.file, "%s", row[1]);
                have |= 1;
            } else if (!strcasecmp(row[0], "Binlog_snapshot_position")) {
                s->snap_pos.offset = strtoull(row[1], NULL, 10);
                have |= 2;
            }
        }
        mysql_free_result(r);
        if (have != 3 || !s->snap_pos.file[0]) {
            api->set_error(s->h,
                           "mysql: %s: binlog_snapshot_file/position are not set: is "
                           "log_bin on?",
                           s->where);
            return -1;
        }
        if (gtid_of(s, &s->snap_pos) < 0)
            return -1;
    } else {
        int64_t t0 = sl_my_now_us();
        if (sl_my_exec(s, "FLUSH TABLES WITH READ LOCK",
                       "locking for the snapshot's "
                       "coordinates") < 0)
            return -1;
        int rc = sl_my_exec(s, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
                            "starting the snapshot transaction");
        if (rc == 0)
            rc = master_status(s, &s->snap_pos);
        if (sl_my_exec(s, "UNLOCK TABLES", "unlocking") < 0)
            rc = -1;
        if (rc < 0)
            return -1;
        api->log(s->h, SL_LOG_INFO,
                 "mysql: global read lock held %.1f ms for the snapshot's "
                 "coordinates",
                 (double)(sl_my_now_us() - t0) / 1000.0);
    }
    char txt[1400];
    sl_my_pos_format(&s->snap_pos, txt, sizeof txt);
    api->log(s->h, SL_LOG_INFO, "mysql: consistent snapshot at %s", txt);
    s->phase = SL_MY_PH_SNAPSHOT;
    s->snap_idx = 0;
    return 0;
}

/* ---- the copy ---- */

static sl_status begin_table(mysrc *s, my_table *t)
{
    size_t cap = 64 + 2 * (strlen(t->db) + strlen(t->name)), len;
    for (uint32_t i = 0; i < t->ncols; i++)
        cap += 2 * strlen(t->cols[i].name) + 32;
    char *sql = malloc(cap);
    if (!sql) {
        s->api->set_error(s->h, "mysql: out of memory");
        return SL_ERROR;
    }
    len = (size_t)snprintf(sql, cap, "SELECT ");
    for (uint32_t i = 0; i < t->ncols; i++) {
        my_col *c = &t->cols[i];
        /* FLOAT prints 6 digits in text: the stored float, widened exactly, reads back whole. */
        int isfloat = !strcmp(c->datatype, "float"), geo = is_geometry(c);
        len += (size_t)snprintf(sql + len, cap - len, "%s%s", i ? ", " : "",
                                isfloat ? "CAST("
                                : geo   ? "HEX("
                                        : "");
        len = (size_t)quote_ident(sql, cap, len, c->name);
        len += (size_t)snprintf(sql + len, cap - len, "%s",
                                isfloat ? " AS DOUBLE)"
                                : geo   ? ")"
                                        : "");
    }
    len += (size_t)snprintf(sql + len, cap - len, " FROM ");
    len = (size_t)quote_ident(sql, cap, len, t->db);
    sql[len++] = '.';
    len = (size_t)quote_ident(sql, cap, len, t->name);
    int q = mysql_real_query(s->conn, sql, (unsigned long)len);
    free(sql);
    if (q != 0 || !(s->res = mysql_use_result(s->conn))) {
        char what[600];
        snprintf(what, sizeof what, "reading %s.%s", t->db, t->name);
        sl_my_error(s, what);
        return SL_ERROR;
    }
    s->snap_batch = s->api->batch_new(s->h, t->schema);
    if (!s->snap_batch)
        return SL_ERROR;
    s->snap_rows = 0;
    s->zero_dates = 0;
    s->snap_started_us = s->last_progress_us = sl_my_now_us();
    s->api->log(s->h, SL_LOG_INFO, "mysql: snapshot of %s.%s (about %" PRIu64 " rows)", t->db,
                t->name, t->est_rows);
    return SL_OK;
}

/* One cell; 0 or -1 (set_error called). */
static int set_cell(mysrc *s, my_table *t, uint32_t i, const char *v, unsigned long n)
{
    const sl_host_api *api = s->api;
    sl_batch *b = s->snap_batch;
    my_col *c = &t->cols[i];
    if (!v) {
        api->set_null(b, i);
        return 0;
    }
    int rc = 0;
    int64_t x;
    uint64_t u;
    double d;
    switch (c->conv) {
    case MY_C_INT:
        if ((rc = sl_my_parse_i64(v, n, &x)) == 0)
            api->set_i64(b, i, x);
        break;
    case MY_C_UINT:
        if ((rc = sl_my_parse_u64(v, n, &u)) == 0)
            api->set_i64(b, i, (int64_t)u);
        break;
    case MY_C_BIT:
        if ((rc = sl_my_parse_bit((const unsigned char *)v, n, &u)) == 0)
            api->set_i64(b, i, (int64_t)u);
        break;
    case MY_C_DOUBLE:
        if ((rc = sl_my_parse_f64(v, n, &d)) == 0)
            api->set_f64(b, i, d);
        break;
    case MY_C_DATE:
        if ((rc = sl_my_parse_date(v, n, &x)) == 0)
            api->set_i64(b, i, x);
        break;
    case MY_C_TIME:
        if ((rc = sl_my_parse_time(v, n, &x)) == 0)
            api->set_i64(b, i, x);
        break;
    case MY_C_DATETIME:
        if ((rc = sl_my_parse_datetime(v, n, &x)) == 0)
            api->set_i64(b, i, x);
        break;
    case MY_C_DECIMAL:
    case MY_C_STRING:
    case MY_C_BINARY:
        if (api->set_bytes(b, i, v, n) < 0) {
            api->set_error(s->h, "mysql: out of memory (tenant memory budget?)");
            return -1;
        }
        break;
    }
    if (rc == 1) {
        /* A zero or invalid date: no calendar value exists; NULL, counted and warned once. */
        api->set_null(b, i);
        if (s->zero_dates++ == 0)
            api->log(s->h, SL_LOG_WARN,
                     "mysql: %s.%s.%s: zero or invalid date '%.*s' read as "
                     "NULL (counted in zero_dates)",
                     t->db, t->name, c->name, (int)n, v);
        api->counter_add(s->h, "zero_dates", 1);
        return 0;
    }
    if (rc < 0) {
        api->set_error(s->h, "mysql: %s.%s.%s (%s): cannot read value '%.*s'", t->db, t->name,
                       c->name, c->coltype, (int)(n > 64 ? 64 : n), v);
        return -1;
    }
    return 0;
}

static sl_status end_table(mysrc *s, my_table *t)
{
    if (mysql_errno(s->conn)) {
        char what[600];
        snprintf(what, sizeof what, "reading %s.%s", t->db, t->name);
        sl_my_error(s, what);
        return SL_ERROR;
    }
    mysql_free_result(s->res);
    s->res = NULL;
    sl_status st = SL_OK;
    size_t tail = s->api->batch_rows(s->snap_batch);
    /* An empty table still sends one empty batch so the host learns its schema. */
    if (tail > 0 || s->snap_rows == 0)
        st = s->api->emit(s->h, s->snap_batch);
    s->api->counter_add(s->h, "snapshot_rows", (double)tail);
    s->api->batch_free(s->h, s->snap_batch);
    s->snap_batch = NULL;
    double secs = (double)(sl_my_now_us() - s->snap_started_us) / 1e6;
    s->api->log(s->h, SL_LOG_INFO, "mysql: snapshot of %s.%s done: %" PRIu64 " rows in %.1f s",
                t->db, t->name, s->snap_rows, secs);
    return st;
}

void sl_my_snapshot_abort(mysrc *s)
{
    if (s->res) {
        /* Draining the rest of a big table would take as long as reading it: cut the
         * connection first, then the result frees without reading. */
        if (s->conn)
            mariadb_cancel(s->conn);
        mysql_free_result(s->res);
        s->res = NULL;
    }
    if (s->snap_batch) {
        s->api->batch_free(s->h, s->snap_batch);
        s->snap_batch = NULL;
    }
}

sl_status sl_my_snapshot_poll(mysrc *s)
{
    const sl_host_api *api = s->api;
    size_t done = 0;
    while (s->snap_idx < s->ntabs) {
        my_table *t = &s->tabs[s->snap_idx];
        if (!s->res) {
            sl_status st = begin_table(s, t);
            if (st != SL_OK)
                return st;
        }
        for (;;) {
            if (done >= SNAP_ROWS_PER_POLL || api->stopping(s->h))
                return SL_OK;
            MYSQL_ROW row = mysql_fetch_row(s->res);
            if (!row)
                break;
            unsigned long *lens = mysql_fetch_lengths(s->res);
            if (api->row_begin(s->snap_batch, SL_OP_SNAPSHOT) < 0) {
                api->set_error(s->h, "mysql: out of memory (tenant memory budget?)");
                return SL_ERROR;
            }
            for (uint32_t i = 0; i < t->ncols; i++)
                if (set_cell(s, t, i, row[i], lens[i]) < 0)
                    return SL_ERROR;
            s->snap_rows++;
            done++;
            if (api->batch_rows(s->snap_batch) >= SL_MY_BATCH_ROWS) {
                sl_status st = api->emit(s->h, s->snap_batch);
                if (st != SL_OK)
                    return st;
                api->counter_add(s->h, "snapshot_rows", SL_MY_BATCH_ROWS);
                int64_t now = sl_my_now_us();
                if (now - s->last_progress_us >= PROGRESS_US) {
                    s->last_progress_us = now;
                    double secs = (double)(now - s->snap_started_us) / 1e6;
                    api->log(s->h, SL_LOG_INFO,
                             "mysql: snapshot of %s.%s: %" PRIu64 " of about %" PRIu64
                             " rows (%.0f rows/s)",
                             t->db, t->name, s->snap_rows, t->est_rows,
                             secs > 0 ? (double)s->snap_rows / secs : 0.0);
                }
            }
        }
        sl_status st = end_table(s, t);
        if (st != SL_OK)
            return st;
        s->snap_idx++;
    }
    /* Every table copied: one source transaction ending at the snapshot's coordinates. */
    if (sl_my_exec(s, "COMMIT", "ending the snapshot transaction") < 0)
        return SL_ERROR;
    char pos[1400];
    int n = sl_my_pos_format(&s->snap_pos, pos, sizeof pos);
    if (n < 0) {
        api->set_error(s->h, "mysql: snapshot position too long");
        return SL_ERROR;
    }
    sl_status st = api->commit(s->h, pos, (size_t)n, 0);
    if (st != SL_OK)
        return st;
    if (s->once) {
        s->phase = SL_MY_PH_EOF;
        return SL_OK;
    }
    /* The stream goes on exactly where the snapshot's read view ends. */
    return sl_my_stream_start(s, &s->snap_pos) < 0 ? SL_ERROR : SL_OK;
}
