/*
 * pgsrc.c - the postgres source plugin: options, open (publication, slot, exported snapshot),
 * the snapshot copy (COPY ... TO STDOUT, text format) and relation/schema handling. The change
 * stream is in pgstream.c, the pure decoders in pgproto.c.
 *
 * Positions are text: "lsn=<X/Y>", the end LSN of the last committed source transaction (or the
 * slot's consistent point for the snapshot's commit).
 */
#include "pgsrc.h"

#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const sl_option pg_options[] = {
    SL_OPTION("conninfo", SL_OPT_STRING, 0, NULL, "libpq connection string (or use host/port/...)"),
    SL_OPTION("host", SL_OPT_STRING, SL_OPT_IDENTITY, NULL, "server host"),
    SL_OPTION("port", SL_OPT_INT, SL_OPT_IDENTITY, NULL, "server port"),
    SL_OPTION("dbname", SL_OPT_STRING, SL_OPT_IDENTITY, NULL, "database"),
    SL_OPTION("user", SL_OPT_STRING, 0, NULL, "user (needs REPLICATION)"),
    SL_OPTION("password", SL_OPT_STRING, SL_OPT_SECRET, NULL, "password"),
    SL_OPTION("sslmode", SL_OPT_STRING, 0, NULL,
              "disable|allow|prefer|require|verify-ca|verify-full"),
    SL_OPTION(
        "tables", SL_OPT_LIST, 0, NULL,
        "tables or patterns (* ?): schema.table or bare names in public; default all of public"),
    SL_OPTION("publication", SL_OPT_STRING, SL_OPT_EXCLUSIVE | SL_OPT_IDENTITY, NULL,
              "publication (default sluice_<tenant>_<hash of the tenant>)"),
    SL_OPTION("slot", SL_OPT_STRING, SL_OPT_EXCLUSIVE | SL_OPT_IDENTITY, NULL,
              "logical replication slot (default sluice_<tenant>_<hash of the tenant>)"),
    SL_OPTION_CHOICE("snapshot", 0, "initial", "initial | never | always",
                     ((const char *const[]){"initial", "never", "always", NULL})),
    SL_OPTION("heartbeat_interval", SL_OPT_INT, 0, "10", "seconds between standby status updates"),
    SL_OPTION_RANGE("receive_timeout", SL_OPT_INT, 0, NULL,
                    "seconds without any message from the server (not even a keepalive) before "
                    "the connection is dropped and re-made; default max(3 x heartbeat_interval, "
                    "60)",
                    1, 86400),
    SL_OPTION("spill_dir", SL_OPT_STRING, 0, NULL,
              "directory for the temporary files of large streamed transactions (default "
              "$TMPDIR, else /tmp)"),
    SL_OPTION("drop_slot_on_stop", SL_OPT_BOOL, 0, "false", "drop the slot when the job stops"),
    SL_OPTION("resnapshot_on_slot_loss", SL_OPT_BOOL, 0, "false",
              "take a fresh snapshot when the slot is missing, lost or cannot continue the "
              "durable position"),
    SL_OPTIONS_END,
};

int64_t sl_pg_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void pg_errmsg(pgsrc *s, PGconn *c, const char *what)
{
    char line[512];
    sl_pg_errline(PQerrorMessage(c), line, sizeof line);
    s->api->set_error(s->h, "postgres: %s: %s", what, line);
}

/* A catalog query with one text parameter: its rows, or NULL with the error set ("what"). */
static PGresult *catalog_query(pgsrc *s, const char *sql, const char *param, const char *what)
{
    const char *params[1] = {param};
    char line[512];
    PGresult *r = sl_pg_run(s, s->conn, sql, 1, params, SL_PG_QUERY_TIMEOUT_MS, SL_PG_Q_OPENING(s),
                            line, sizeof line);
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
        return r;
    if (r)
        pg_errmsg(s, s->conn, what);
    else
        s->api->set_error(s->h, "postgres: %s: %s", what, line);
    PQclear(r);
    return NULL;
}

/* The same with an OID parameter. */
static PGresult *catalog_query_oid(pgsrc *s, const char *sql, uint32_t oid, const char *what)
{
    char oidtxt[16];
    snprintf(oidtxt, sizeof oidtxt, "%u", oid);
    return catalog_query(s, sql, oidtxt, what);
}

/* ---- relations ---- */

pg_rel *sl_pg_rel_find(pgsrc *s, uint32_t relid)
{
    for (size_t i = 0; i < s->nrels; i++)
        if (s->rels[i].relid == relid)
            return &s->rels[i];
    return NULL;
}

pg_rel *sl_pg_rel_add(pgsrc *s, uint32_t relid, const char *ns, const char *name, char kind)
{
    if (s->nrels == s->caprels) {
        size_t n = s->caprels ? s->caprels * 2 : 16;
        pg_rel *r = realloc(s->rels, n * sizeof *r);
        if (!r)
            return NULL;
        s->rels = r;
        s->caprels = n;
    }
    pg_rel *r = &s->rels[s->nrels];
    memset(r, 0, sizeof *r);
    r->relid = relid;
    r->ns = strdup(ns);
    r->name = strdup(name);
    r->relkind = kind;
    if (!r->ns || !r->name) {
        free(r->ns);
        free(r->name);
        return NULL;
    }
    r->selected = sl_pg_table_selected(s, ns, name);
    s->nrels++;
    return r;
}

static void cols_free(pg_col *c, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        free(c[i].name);
    free(c);
}

static void rels_free(pgsrc *s)
{
    for (size_t i = 0; i < s->nrels; i++) {
        free(s->rels[i].ns);
        free(s->rels[i].name);
        cols_free(s->rels[i].cols, s->rels[i].ncols);
    }
    free(s->rels);
    s->rels = NULL;
    s->nrels = s->caprels = 0;
}

int sl_pg_table_selected(pgsrc *s, const char *ns, const char *name)
{
    size_t n = s->api->opt_list_len(s->h, "tables");
    if (n == 0)
        return strcmp(ns, "public") == 0;
    for (size_t i = 0; i < n; i++)
        if (sl_pg_pattern_match(s->api->opt_list_item(s->h, "tables", i), ns, name))
            return 1;
    return 0;
}

/* Base type of a domain (nested domains followed), cached; built-ins map to themselves. */
static int base_type(pgsrc *s, uint32_t oid, uint32_t *base)
{
    if (oid < 10000) {
        *base = oid;
        return 0;
    }
    for (size_t i = 0; i < s->ntypes; i++)
        if (s->types[i].oid == oid) {
            *base = s->types[i].base;
            return 0;
        }
    PGresult *r = catalog_query_oid(
        s,
        "WITH RECURSIVE t(oid, base, typtype) AS ("
        " SELECT oid, typbasetype, typtype FROM pg_catalog.pg_type WHERE oid = $1::oid"
        " UNION ALL SELECT p.oid, p.typbasetype, p.typtype FROM pg_catalog.pg_type p"
        " JOIN t ON p.oid = t.base WHERE t.typtype = 'd')"
        " SELECT oid FROM t WHERE typtype <> 'd'",
        oid, "type lookup");
    if (!r)
        return -1;
    *base = PQntuples(r) ? (uint32_t)strtoul(PQgetvalue(r, 0, 0), NULL, 10) : oid;
    PQclear(r);
    if (s->ntypes == s->captypes) {
        size_t n = s->captypes ? s->captypes * 2 : 16;
        pg_typecache *t = realloc(s->types, n * sizeof *t);
        if (!t)
            return 0; /* uncached is fine */
        s->types = t;
        s->captypes = n;
    }
    s->types[s->ntypes++] = (pg_typecache){oid, *base};
    return 0;
}

/* Key columns from the catalog: the replica identity index for REPLICA IDENTITY USING INDEX,
 * otherwise the primary key (also for FULL, whose Relation message flags every column). */
static int load_keys(pgsrc *s, pg_rel *rel, pg_col *cols, uint32_t ncols)
{
    PGresult *r = catalog_query_oid(
        s,
        "SELECT a.attname FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_index i ON i.indrelid = c.oid"
        " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)"
        " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum"
        " WHERE c.oid = $1::oid AND i.indexrelid = (SELECT i2.indexrelid FROM pg_catalog.pg_index"
        "  i2 WHERE i2.indrelid = c.oid AND (i2.indisprimary OR i2.indisreplident)"
        "  ORDER BY CASE WHEN c.relreplident = 'i' THEN i2.indisreplident"
        "  ELSE i2.indisprimary END DESC LIMIT 1)"
        " AND (c.relreplident <> 'd' OR i.indisprimary)"
        " ORDER BY k.ord",
        rel->relid, "primary key lookup");
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++)
        for (uint32_t c = 0; c < ncols; c++)
            if (strcmp(cols[c].name, PQgetvalue(r, i, 0)) == 0)
                cols[c].key = i + 1;
    PQclear(r);
    return 0;
}

static int same_shape(const pg_rel *rel, const pg_col *cols, uint32_t ncols)
{
    if (!rel->schema || rel->ncols != ncols)
        return 0;
    for (uint32_t i = 0; i < ncols; i++)
        if (strcmp(rel->cols[i].name, cols[i].name) != 0 || rel->cols[i].type != cols[i].type ||
            rel->cols[i].key != cols[i].key || rel->cols[i].typoid != cols[i].typoid)
            return 0;
    return 1;
}

int sl_pg_rel_refresh(pgsrc *s, pg_rel *rel, const sl_pg_msg *m)
{
    uint32_t ncols = 0;
    pg_col *cols = NULL;
    PGresult *r = NULL;
    if (m) {
        ncols = m->ncols;
        cols = calloc(ncols ? ncols : 1, sizeof *cols);
        if (!cols)
            goto oom;
        for (uint32_t i = 0; i < ncols; i++) {
            cols[i].name = strdup(m->relcols[i].name);
            cols[i].typoid = m->relcols[i].typoid;
            if (!cols[i].name)
                goto oom;
        }
    } else {
        r = catalog_query_oid(s,
                              "SELECT attname, atttypid FROM pg_catalog.pg_attribute WHERE attrelid"
                              " = $1::oid AND attnum > 0 AND NOT attisdropped AND attgenerated = ''"
                              " ORDER BY attnum",
                              rel->relid, "column lookup");
        if (!r)
            goto fail;
        ncols = (uint32_t)PQntuples(r);
        cols = calloc(ncols ? ncols : 1, sizeof *cols);
        if (!cols)
            goto oom;
        for (uint32_t i = 0; i < ncols; i++) {
            cols[i].name = strdup(PQgetvalue(r, (int)i, 0));
            cols[i].typoid = (uint32_t)strtoul(PQgetvalue(r, (int)i, 1), NULL, 10);
            if (!cols[i].name)
                goto oom;
        }
        PQclear(r);
        r = NULL;
    }
    for (uint32_t i = 0; i < ncols; i++) {
        uint32_t base;
        if (base_type(s, cols[i].typoid, &base) < 0)
            goto fail;
        cols[i].base = base;
        cols[i].type = sl_pg_type_map(base);
    }
    if (load_keys(s, rel, cols, ncols) < 0)
        goto fail;
    if (same_shape(rel, cols, ncols)) {
        cols_free(cols, ncols);
        return 0;
    }
    sl_field *f = calloc(ncols ? ncols : 1, sizeof *f);
    if (!f)
        goto oom;
    uint32_t nkeys = 0;
    for (uint32_t i = 0; i < ncols; i++) {
        f[i].name = cols[i].name;
        f[i].type = cols[i].type;
        f[i].key = cols[i].key;
        nkeys += cols[i].key != 0;
    }
    const sl_schema *sc = s->api->schema_new(s->h, rel->ns, rel->name, ncols, f, sizeof *f);
    free(f);
    if (!sc)
        goto fail;
    if (nkeys == 0 && rel->selected && !rel->warned_nokey) {
        s->api->log(s->h, SL_LOG_WARN,
                    "postgres: table %s.%s has no primary key or replica identity index: rows are "
                    "identified by all their columns (updates and deletes need REPLICA IDENTITY "
                    "FULL)",
                    rel->ns, rel->name);
        rel->warned_nokey = 1;
    }
    cols_free(rel->cols, rel->ncols);
    rel->cols = cols;
    rel->ncols = ncols;
    rel->schema = sc;
    rel->txb = NULL;
    return 0;
oom:
    s->api->set_error(s->h, "postgres: out of memory");
fail:
    PQclear(r);
    if (cols)
        cols_free(cols, ncols);
    return -1;
}

static int store_cell(pgsrc *s, pg_rel *rel, sl_batch *b, uint32_t col, int rc,
                      const sl_pg_cell *cp, const char *data, size_t len);

int sl_pg_set_cell(pgsrc *s, pg_rel *rel, sl_batch *b, uint32_t col, char kind, char *data,
                   size_t len)
{
    const sl_host_api *api = s->api;
    if (kind == 'u') {
        api->set_unchanged(b, col);
        return 0;
    }
    if (kind == 'n' || !data) {
        api->set_null(b, col);
        return 0;
    }
    sl_pg_cell c;
    int rc = sl_pg_parse_value(rel->cols[col].type, data, len, &c);
    return store_cell(s, rel, b, col, rc, &c, data, len);
}

int sl_pg_set_cell_bin(pgsrc *s, pg_rel *rel, sl_batch *b, uint32_t col, char *p, size_t len)
{
    if (!p) {
        s->api->set_null(b, col);
        return 0;
    }
    sl_pg_cell c;
    const pg_col *pc = &rel->cols[col];
    int rc = sl_pg_parse_binary(pc->type, sl_pg_binary_ok(pc->base) ? pc->base : 0, p, len, &c,
                                &s->numtmp);
    return store_cell(s, rel, b, col, rc, &c, NULL, len);
}

/* Stores a decoded value (rc from the parsers) into the current row. */
static int store_cell(pgsrc *s, pg_rel *rel, sl_batch *b, uint32_t col, int rc,
                      const sl_pg_cell *cp, const char *data, size_t len)
{
    const sl_host_api *api = s->api;
    sl_type t = rel->cols[col].type;
    sl_pg_cell c = *cp;
    if (rc < 0) {
        if (data)
            api->set_error(s->h, "postgres: cannot decode value '%.*s' of %s.%s.%s (type oid %u)",
                           (int)(len > 60 ? 60 : len), data, rel->ns, rel->name,
                           rel->cols[col].name, rel->cols[col].typoid);
        else
            api->set_error(s->h,
                           "postgres: cannot decode a %zu-byte binary value of %s.%s.%s (type oid "
                           "%u)",
                           len, rel->ns, rel->name, rel->cols[col].name, rel->cols[col].typoid);
        return -1;
    }
    if (rc == SL_PG_CELL_INFINITE) {
        if (!rel->warned_inf) {
            api->log(s->h, SL_LOG_WARN,
                     "postgres: %s.%s.%s holds an infinite (or out of range) date or timestamp:"
                     " stored as NULL (further ones in this table not reported)",
                     rel->ns, rel->name, rel->cols[col].name);
            rel->warned_inf = 1;
        }
        api->set_null(b, col);
        return 0;
    }
    switch (t) {
    case SL_T_DOUBLE:
        api->set_f64(b, col, c.f64);
        return 0;
    case SL_T_DECIMAL:
    case SL_T_STRING:
    case SL_T_BINARY:
        if (api->set_bytes(b, col, c.p, c.len) < 0) {
            api->set_error(s->h, "postgres: out of memory");
            return -1;
        }
        return 0;
    default:
        api->set_i64(b, col, c.i64);
        return 0;
    }
}

/* ---- plugin lifecycle ---- */

static int pg_create(sl_host *h, const sl_host_api *api, void **ctx)
{
    /* libpq keeps the BIO_METHOD of its TLS connections in a static variable: when the host
     * unloads this plugin, libpq would go with it and orphan that allocation (LeakSanitizer
     * reports it; a reload makes another). Keep libpq loaded for the life of the process. */
    (void)dlopen("libpq.so.5", RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    pgsrc *s = calloc(1, sizeof *s);
    if (!s) {
        api->set_error(h, "postgres: out of memory");
        return -1;
    }
    s->h = h;
    s->api = api;
    /* Default names carry a hash of the exact tenant text: tenants that differ only in
     * punctuation or case ("acme-eu", "acme.eu") must never share a slot or publication. */
    char dflt[SL_PG_NAME_MAX + 1];
    sl_pg_default_name(api->tenant(h), dflt, sizeof dflt);
    const char *v = api->opt_string(h, "slot");
    s->slot_default = !(v && *v);
    s->slot = strdup(v && *v ? v : dflt);
    v = api->opt_string(h, "publication");
    s->pub = strdup(v && *v ? v : dflt);
    if (!s->slot || !s->pub) {
        free(s->slot);
        free(s->pub);
        free(s);
        api->set_error(h, "postgres: out of memory");
        return -1;
    }
    v = api->opt_string(h, "snapshot");
    if (!v || strcmp(v, "initial") == 0) {
        s->snap_mode = SL_PG_SNAP_INITIAL;
    } else if (strcmp(v, "never") == 0) {
        s->snap_mode = SL_PG_SNAP_NEVER;
    } else if (strcmp(v, "always") == 0) {
        s->snap_mode = SL_PG_SNAP_ALWAYS;
    } else {
        api->set_error(h, "postgres: option snapshot must be initial, never or always, not '%s'",
                       v);
        free(s->slot);
        free(s->pub);
        free(s);
        return -1;
    }
    int64_t hb = api->opt_int(h, "heartbeat_interval", 10);
    s->heartbeat_us = (hb < 1 ? 1 : hb) * 1000000;
    int64_t rt = api->opt_isset(h, "receive_timeout") ? api->opt_int(h, "receive_timeout", 60)
                                                      : (3 * hb > 60 ? 3 * hb : 60);
    s->receive_timeout_us = rt * 1000000;
    v = api->opt_string(h, "spill_dir");
    if (!v || !*v)
        v = getenv("TMPDIR");
    s->spill_dir = strdup(v && *v ? v : "/tmp");
    if (!s->spill_dir) {
        free(s->slot);
        free(s->pub);
        free(s);
        api->set_error(h, "postgres: out of memory");
        return -1;
    }
    s->drop_slot = api->opt_bool(h, "drop_slot_on_stop", 0);
    s->resnap = api->opt_bool(h, "resnapshot_on_slot_loss", 0);
    if (strlen(s->slot) > 63) {
        api->set_error(h, "postgres: slot name '%s' is longer than 63 bytes", s->slot);
        free(s->slot);
        free(s->pub);
        free(s->spill_dir);
        free(s);
        return -1;
    }
    *ctx = s;
    return 0;
}

/* Frees the connection state; the instance can be opened again. */
static void pg_reset(pgsrc *s)
{
    sl_pg_txn_discard(s);
    sl_pg_stream_free(s);
    sl_pg_resnap_free(s);
    free(s->txb);
    s->txb = NULL;
    s->captxb = 0;
    if (s->snap_batch) {
        s->api->batch_free(s->h, s->snap_batch);
        s->snap_batch = NULL;
    }
    if (s->rconn) {
        sl_pg_final_status(s);
        PQfinish(s->rconn);
        s->rconn = NULL;
    }
    if (s->conn) {
        PQfinish(s->conn);
        s->conn = NULL;
    }
    rels_free(s);
    free(s->types);
    s->types = NULL;
    s->ntypes = s->captypes = 0;
    free(s->fields);
    s->fields = NULL;
    s->capfields = 0;
    free(s->numtmp.p);
    s->numtmp.p = NULL;
    s->numtmp.cap = 0;
    sl_pg_scratch_free(&s->scratch);
    s->copy_active = 0;
    s->snap_abandoned = 0;
    s->phase = SL_PG_PH_IDLE;
}

static void pg_close(void *ctx)
{
    pgsrc *s = ctx;
    int was_open = s->phase != SL_PG_PH_IDLE;
    pg_reset(s);
    /* Only an explicit option drops the slot, and only after a successful open. */
    if (s->drop_slot && was_open) {
        /* close runs while the job stops: bounded waits, never DROP ... WAIT (which waits for
         * whoever holds the slot, for ever). Our own walsender may still be exiting for a
         * moment after the PQfinish above: a few short retries cover that. */
        char err[512];
        PGconn *c = sl_pg_connect_ex(s, 1, 0, err, sizeof err);
        if (c) {
            char *id = PQescapeIdentifier(c, s->slot, strlen(s->slot));
            char sql[256];
            snprintf(sql, sizeof sql, "DROP_REPLICATION_SLOT %s", id ? id : "\"\"");
            PQfreemem(id);
            int ok = 0;
            for (int attempt = 0; attempt < 20 && !ok; attempt++) {
                PGresult *r = sl_pg_run(s, c, sql, 0, NULL, 5000, 0, err, sizeof err);
                ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
                const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
                if (r && !ok)
                    sl_pg_errline(PQerrorMessage(c), err, sizeof err);
                PQclear(r);
                if (ok || !code || strcmp(code, "55006") != 0)
                    break;
                usleep(100000);
            }
            if (ok)
                s->api->log(s->h, SL_LOG_INFO, "postgres: dropped replication slot %s", s->slot);
            else
                s->api->log(s->h, SL_LOG_WARN, "postgres: cannot drop slot %s: %s", s->slot, err);
            PQfinish(c);
        } else {
            s->api->log(s->h, SL_LOG_WARN, "postgres: cannot drop slot %s: %s", s->slot, err);
        }
    }
}

static void pg_destroy(void *ctx)
{
    pgsrc *s = ctx;
    if (!s)
        return;
    pg_reset(s);
    free(s->slot);
    free(s->pub);
    free(s->spill_dir);
    free(s);
}

static char *qualified(pgsrc *s, const pg_rel *rel)
{
    return sl_pg_qualified(s->conn, rel);
}

/* Creates the publication FOR TABLE the selected tables, or uses an existing one (adding
 * missing selected tables when we may). */
static int ensure_publication(pgsrc *s)
{
    PGresult *r = catalog_query(s,
                                "SELECT schemaname, tablename FROM"
                                " pg_catalog.pg_publication_tables WHERE pubname = $1",
                                s->pub, "reading publication");
    if (!r)
        return -1;
    PGresult *e = catalog_query(s, "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1",
                                s->pub, "reading publication");
    int exists = e && PQntuples(e) > 0;
    PQclear(e);
    char *pubid = PQescapeIdentifier(s->conn, s->pub, strlen(s->pub));
    int rc = 0;
    /* SQL text: "CREATE PUBLICATION p FOR TABLE a, b" or one ALTER per missing table. */
    size_t cap = 256, len = 0;
    char *sql = malloc(cap);
    if (!pubid || !sql) {
        s->api->set_error(s->h, "postgres: out of memory");
        rc = -1;
        goto out;
    }
    len = (size_t)snprintf(sql, cap, "CREATE PUBLICATION %s FOR TABLE ", pubid);
    size_t missing = 0;
    for (size_t i = 0; i < s->nrels; i++) {
        const pg_rel *rel = &s->rels[i];
        int found = 0;
        for (int k = 0; k < PQntuples(r) && !found; k++)
            found = strcmp(PQgetvalue(r, k, 0), rel->ns) == 0 &&
                    strcmp(PQgetvalue(r, k, 1), rel->name) == 0;
        if (found)
            continue;
        char *q = qualified(s, rel);
        if (!q) {
            s->api->set_error(s->h, "postgres: out of memory");
            rc = -1;
            goto out;
        }
        if (exists) {
            char alter[1024];
            snprintf(alter, sizeof alter, "ALTER PUBLICATION %s ADD TABLE %s", pubid, q);
            char line[512];
            PGresult *a = sl_pg_run(s, s->conn, alter, 0, NULL, SL_PG_QUERY_TIMEOUT_MS,
                                    SL_PG_Q_STOPPABLE, line, sizeof line);
            if (!a || PQresultStatus(a) != PGRES_COMMAND_OK) {
                if (a)
                    sl_pg_errline(PQerrorMessage(s->conn), line, sizeof line);
                s->api->log(s->h, SL_LOG_WARN,
                            "postgres: table %s is not in publication %s and cannot be added (%s):"
                            " its changes will not be captured",
                            q, s->pub, line);
            }
            PQclear(a);
        } else {
            size_t need = len + strlen(q) + 3;
            if (need > cap) {
                cap = need * 2;
                char *n2 = realloc(sql, cap);
                if (!n2) {
                    free(q);
                    s->api->set_error(s->h, "postgres: out of memory");
                    rc = -1;
                    goto out;
                }
                sql = n2;
            }
            len += (size_t)snprintf(sql + len, cap - len, "%s%s", missing ? ", " : "", q);
        }
        missing++;
        free(q);
    }
    if (!exists) {
        /* Changes of a partitioned table arrive under its own name, not its partitions'. */
        const char *with = " WITH (publish_via_partition_root = true)";
        if (len + strlen(with) + 1 > cap) {
            char *n2 = realloc(sql, len + strlen(with) + 1);
            if (!n2) {
                s->api->set_error(s->h, "postgres: out of memory");
                rc = -1;
                goto out;
            }
            sql = n2;
            cap = len + strlen(with) + 1;
        }
        memcpy(sql + len, with, strlen(with) + 1);
        char line[512];
        PGresult *c = sl_pg_run(s, s->conn, sql, 0, NULL, SL_PG_QUERY_TIMEOUT_MS, SL_PG_Q_STOPPABLE,
                                line, sizeof line);
        if (!c || PQresultStatus(c) != PGRES_COMMAND_OK) {
            if (c)
                sl_pg_errline(PQerrorMessage(s->conn), line, sizeof line);
            s->api->set_error(s->h,
                              "postgres: creating publication (create it FOR TABLE the selected "
                              "tables, or grant CREATE on the database): %s",
                              line);
            rc = -1;
        } else {
            s->api->log(s->h, SL_LOG_INFO, "postgres: created publication %s (%zu tables)", s->pub,
                        missing);
        }
        PQclear(c);
    }
out:
    free(sql);
    PQfreemem(pubid);
    PQclear(r);
    return rc;
}

/* Slot state: SL_PG_SLOT_MISSING, _OK or _LOST (WAL removed), and its confirmed_flush_lsn
 * (0 unknown). -1 on error. */
static int slot_state(pgsrc *s, uint64_t *confirmed)
{
    PGresult *r = catalog_query(s,
                                "SELECT plugin, database = current_database(),"
                                " coalesce(wal_status, ''), coalesce(confirmed_flush_lsn::text, '')"
                                " FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
                                s->slot, "reading pg_replication_slots");
    if (!r)
        return -1;
    int st = SL_PG_SLOT_MISSING;
    *confirmed = 0;
    if (PQntuples(r) > 0) {
        if (strcmp(PQgetvalue(r, 0, 0), "pgoutput") != 0 || strcmp(PQgetvalue(r, 0, 1), "t")) {
            s->api->set_error(s->h,
                              "postgres: slot %s exists but is not a pgoutput slot of this "
                              "database; choose another slot name",
                              s->slot);
            PQclear(r);
            return -1;
        }
        st = strcmp(PQgetvalue(r, 0, 2), "lost") == 0 ? SL_PG_SLOT_LOST : SL_PG_SLOT_OK;
        if (*PQgetvalue(r, 0, 3) && sl_pg_lsn_parse(PQgetvalue(r, 0, 3), confirmed) < 0)
            *confirmed = 0;
    }
    PQclear(r);
    return st;
}

/* An older sluice named the slot "sluice_<tenant>" without the hash: such a slot, left behind,
 * holds WAL for ever. Say so (once per open) when we use the default name. */
static int legacy_slot(pgsrc *s, char *name, size_t namelen)
{
    if (!s->slot_default)
        return 0;
    sl_pg_legacy_name(s->api->tenant(s->h), name, namelen);
    PGresult *r = catalog_query(s,
                                "SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1"
                                " AND database = current_database()",
                                name, "reading pg_replication_slots");
    int found = r && PQntuples(r) > 0;
    PQclear(r);
    return found;
}

/* A fresh start under the default names: an older sluice's slot holds WAL for ever, and its
 * publication may hold tables whose UPDATE/DELETE now fail for the application. */
static void legacy_warn(pgsrc *s)
{
    char legacy[SL_PG_NAME_MAX + 1];
    sl_pg_legacy_name(s->api->tenant(s->h), legacy, sizeof legacy);
    if (legacy_slot(s, legacy, sizeof legacy))
        s->api->log(s->h, SL_LOG_WARN,
                    "postgres: slot %s (the default name of an older sluice) exists and holds WAL;"
                    " this job now uses %s: drop the old one when nothing uses it"
                    " (SELECT pg_drop_replication_slot('%s'))",
                    legacy, s->slot, legacy);
    if (!s->api->opt_string(s->h, "publication") || !*s->api->opt_string(s->h, "publication")) {
        PGresult *r = catalog_query(s, "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1",
                                    legacy, "reading publications");
        if (r && PQntuples(r) > 0)
            s->api->log(s->h, SL_LOG_WARN,
                        "postgres: publication %s (the default name of an older sluice) exists; "
                        "this job now uses %s: DROP PUBLICATION %s when nothing uses it (a table "
                        "without replica identity in it keeps failing the application's UPDATE "
                        "and DELETE)",
                        legacy, s->pub, legacy);
        PQclear(r);
    }
}

/* Without WAIT: a slot held by another process is an error now, not a wait that no stop can
 * end. Our own previous walsender may still be exiting: retry that briefly. */
static int drop_slot(pgsrc *s)
{
    char *id = PQescapeIdentifier(s->rconn, s->slot, strlen(s->slot));
    char sql[256], line[512];
    snprintf(sql, sizeof sql, "DROP_REPLICATION_SLOT %s", id ? id : "\"\"");
    PQfreemem(id);
    for (int attempt = 0;; attempt++) {
        PGresult *r = sl_pg_run(s, s->rconn, sql, 0, NULL, SL_PG_QUERY_TIMEOUT_MS,
                                SL_PG_Q_STOPPABLE, line, sizeof line);
        if (r && PQresultStatus(r) == PGRES_COMMAND_OK) {
            PQclear(r);
            return 0;
        }
        const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        int busy = code && strcmp(code, "55006") == 0;
        if (r)
            sl_pg_errline(PQerrorMessage(s->rconn), line, sizeof line);
        PQclear(r);
        if (!busy || attempt >= 50 || s->api->stopping(s->h)) {
            s->api->set_error(s->h, "postgres: dropping replication slot %s: %s", s->slot, line);
            return -1;
        }
        usleep(100000);
    }
}

/* Creating a slot waits for the transactions running at that moment to end: bounded, so a
 * customer's hour-long transaction gives an error and a retry, not a job that cannot stop. */
#define SL_PG_CREATE_SLOT_TIMEOUT_MS 120000

/* CREATE_REPLICATION_SLOT; with export, *snapname gets the exported snapshot. */
static int create_slot(pgsrc *s, int export, char *snapname, size_t snaplen)
{
    char *id = PQescapeIdentifier(s->rconn, s->slot, strlen(s->slot));
    char sql[256], line[512];
    snprintf(sql, sizeof sql, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput (SNAPSHOT '%s')",
             id ? id : "\"\"", export ? "export" : "nothing");
    PQfreemem(id);
    PGresult *r = sl_pg_run(s, s->rconn, sql, 0, NULL, SL_PG_CREATE_SLOT_TIMEOUT_MS,
                            SL_PG_Q_STOPPABLE, line, sizeof line);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 3) {
        if (r)
            sl_pg_errline(PQerrorMessage(s->rconn), line, sizeof line);
        s->api->set_error(s->h, "postgres: creating replication slot %s: %s%s", s->slot, line,
                          r ? ""
                            : " (creating a slot waits for the transactions open at that moment:"
                              " see pg_stat_activity)");
        PQclear(r);
        return -1;
    }
    if (sl_pg_lsn_parse(PQgetvalue(r, 0, 1), &s->consistent_lsn) < 0) {
        s->api->set_error(s->h, "postgres: bad consistent point '%s'", PQgetvalue(r, 0, 1));
        PQclear(r);
        return -1;
    }
    if (export)
        snprintf(snapname, snaplen, "%s", PQgetvalue(r, 0, 2));
    s->api->log(s->h, SL_LOG_INFO, "postgres: created replication slot %s at %s", s->slot,
                PQgetvalue(r, 0, 1));
    PQclear(r);
    return 0;
}

static int start_snapshot(pgsrc *s, const char *snapname)
{
    if (sl_pg_exec_ok(s, s->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                      "starting snapshot transaction") < 0)
        return -1;
    char sql[160];
    snprintf(sql, sizeof sql, "SET TRANSACTION SNAPSHOT '%s'", snapname);
    if (sl_pg_exec_ok(s, s->conn, sql, "importing snapshot") < 0)
        return -1;
    for (size_t i = 0; i < s->nrels; i++)
        if (sl_pg_rel_refresh(s, &s->rels[i], NULL) < 0)
            return -1;
    s->phase = SL_PG_PH_SNAPSHOT;
    s->snap_idx = 0;
    s->copy_active = 0;
    return 0;
}

static const char *why_text(sl_pg_slot_why why)
{
    switch (why) {
    case SL_PG_WHY_MISSING:
        return "missing";
    case SL_PG_WHY_LOST:
        return "lost (its WAL was removed)";
    default:
        return "not the slot the durable position came from";
    }
}

/* The one-line error when the slot cannot continue the durable position. */
static void slot_error(pgsrc *s, sl_pg_slot_why why, uint64_t confirmed, const sl_open_args *a)
{
    char legacy[SL_PG_NAME_MAX + 1], hint[512] = "";
    if (why == SL_PG_WHY_MISSING && legacy_slot(s, legacy, sizeof legacy))
        snprintf(hint, sizeof hint,
                 " (slot %s of an older sluice exists: set slot = \"%s\" and publication = \"%s\""
                 " to keep using it)",
                 legacy, legacy, legacy);
    if (why == SL_PG_WHY_GAP) {
        char c[32];
        sl_pg_lsn_format(confirmed, c, sizeof c);
        s->api->set_error(s->h,
                          "postgres: replication slot %s is confirmed up to %s but the durable "
                          "position is %.*s: the changes in between are gone (slot dropped and "
                          "re-created, or used by another job); set resnapshot_on_slot_loss = "
                          "true for a fresh snapshot",
                          s->slot, c, (int)a->resume_len, (const char *)a->resume_pos);
        return;
    }
    s->api->set_error(s->h,
                      "postgres: replication slot %s is %s: changes since %.*s cannot be "
                      "streamed; set resnapshot_on_slot_loss = true for a fresh snapshot%s",
                      s->slot, why_text(why), (int)a->resume_len, (const char *)a->resume_pos,
                      hint);
}

static int pg_open(void *ctx, const sl_open_args *args)
{
    pgsrc *s = ctx;
    char err[600];
    pg_reset(s); /* a re-open after an error starts clean */
    s->once = args->once;
    uint64_t resume = 0;
    int have_resume = args->resume_pos != NULL;
    if (have_resume && sl_pg_parse_pos(args->resume_pos, args->resume_len, &resume) < 0) {
        s->api->set_error(s->h, "postgres: resume position is not a postgres position");
        return -1;
    }
    s->conn = sl_pg_connect(s, 0, err, sizeof err);
    if (!s->conn) {
        s->api->set_error(s->h, "postgres: %s", err);
        return -1;
    }
    sl_pg_warn_tls(s, s->conn);
    if (sl_pg_load_tables(s, 0) < 0 || ensure_publication(s) < 0)
        goto fail;
    /* once: the end of WAL now. The insert position also covers asynchronous commits that
     * are not written yet; a position just past a page header (nothing after it yet) becomes
     * the page boundary, which is where the walsender's decoding position stops. */
    PGresult *w = sl_pg_run(s, s->conn,
                            "SELECT pg_current_wal_insert_lsn(),"
                            " current_setting('wal_block_size')::int8,"
                            " pg_size_bytes(current_setting('wal_segment_size'))",
                            0, NULL, SL_PG_QUERY_TIMEOUT_MS, SL_PG_Q_STOPPABLE, err, sizeof err);
    if (!w || PQresultStatus(w) != PGRES_TUPLES_OK || PQntuples(w) != 1 ||
        sl_pg_lsn_parse(PQgetvalue(w, 0, 0), &s->target_lsn) < 0) {
        if (w)
            sl_pg_errline(PQerrorMessage(s->conn), err, sizeof err);
        s->api->set_error(s->h, "postgres: reading the WAL position: %s", err);
        PQclear(w);
        goto fail;
    }
    uint64_t blk = strtoull(PQgetvalue(w, 0, 1), NULL, 10);
    uint64_t seg = strtoull(PQgetvalue(w, 0, 2), NULL, 10);
    PQclear(w);
    /* Page header sizes: SizeOfXLogLongPHD (40) at a segment start, SizeOfXLogShortPHD (24). */
    if (seg && s->target_lsn % seg == 40)
        s->target_lsn -= 40;
    else if (blk && s->target_lsn % blk == 24)
        s->target_lsn -= 24;
    uint64_t confirmed = 0;
    int st = slot_state(s, &confirmed);
    if (st < 0)
        goto fail;
    if (st == SL_PG_SLOT_MISSING && !have_resume)
        legacy_warn(s);
    s->rconn = sl_pg_connect(s, 1, err, sizeof err);
    if (!s->rconn) {
        s->api->set_error(s->h, "postgres: replication connection: %s", err);
        goto fail;
    }
    sl_pg_slot_why why;
    sl_pg_slot_plan plan =
        sl_pg_plan_slot(have_resume, resume, st, confirmed, s->snap_mode, s->resnap, &why);
    if (plan == SL_PG_PLAN_FAIL) {
        slot_error(s, why, confirmed, args);
        goto fail;
    }
    if (plan == SL_PG_PLAN_RESNAP)
        s->api->log(s->h, SL_LOG_WARN, "postgres: replication slot %s is %s: taking a new snapshot",
                    s->slot, why_text(why));
    if (plan == SL_PG_PLAN_SNAPSHOT || plan == SL_PG_PLAN_RESNAP) {
        /* A snapshot needs the exported snapshot of a new slot. An existing slot has nothing
         * durable behind it here (no resume position, a full re-copy was asked for, or it
         * cannot continue the durable position). */
        if (st != SL_PG_SLOT_MISSING) {
            s->api->log(s->h, SL_LOG_INFO,
                        "postgres: re-creating replication slot %s for a new snapshot", s->slot);
            if (drop_slot(s) < 0)
                goto fail;
        }
        char snapname[128];
        if (create_slot(s, 1, snapname, sizeof snapname) < 0 || start_snapshot(s, snapname) < 0)
            goto fail;
        s->start_lsn = s->skip_upto = s->consistent_lsn;
        s->durable_lsn = 0;
        if (sl_pg_resnap_open(s, 0) < 0)
            goto fail;
        return 0;
    }
    if (plan == SL_PG_PLAN_CREATE_STREAM) {
        if (create_slot(s, 0, NULL, 0) < 0)
            goto fail;
        s->start_lsn = s->skip_upto = s->consistent_lsn;
        s->durable_lsn = 0;
    } else {
        s->start_lsn = s->skip_upto = resume;
        s->durable_lsn = resume;
    }
    if (sl_pg_start_replication(s) < 0 || sl_pg_resnap_open(s, 1) < 0)
        goto fail;
    return 0;
fail:
    if (s->rconn) {
        PQfinish(s->rconn);
        s->rconn = NULL;
    }
    return -1;
}

/* ---- snapshot copy ---- */

/* The copy never blocks in libpq: the connection is non-blocking, the socket is waited on in
 * short slices, and the host's stopping() is checked between them, so a stop (SIGTERM, a reload
 * that changes the job) ends a copy of any size, or one the server is slow to answer, at once. */
#define SNAP_WAIT_SLICE_MS  100
#define SNAP_POLL_BUDGET_US 200000

/* Waits up to ms for the snapshot connection to become readable (or writable, for a query not
 * yet sent whole), then reads what arrived. 0, or -1 with the error set. */
static int snap_wait(pgsrc *s, int ms, int for_write)
{
    struct pollfd pfd = {.fd = PQsocket(s->conn), .events = (short)(for_write ? POLLOUT : POLLIN)};
    if (pfd.fd < 0) {
        pg_errmsg(s, s->conn, "COPY");
        return -1;
    }
    if (poll(&pfd, 1, ms) < 0 && errno != EINTR) {
        s->api->set_error(s->h, "postgres: COPY: poll: %s", strerror(errno));
        return -1;
    }
    if (!PQconsumeInput(s->conn)) {
        pg_errmsg(s, s->conn, "COPY");
        return -1;
    }
    return 0;
}

/* Gives the snapshot up (the host is stopping): the server is told to cancel the COPY and the
 * connection is closed, which also ends its transaction. The cancel request is a new connection
 * to the server, so it is sent only while the server is visibly alive (data within the last
 * second); otherwise closing the socket is all we do: a stop never waits on a stalled server.
 * Nothing was committed to the host, so nothing of the copy becomes visible; the next open
 * takes a new snapshot. */
static void snap_abandon(pgsrc *s)
{
    if (s->conn && s->copy_active && sl_pg_now_us() - s->snap_data_us < 1000000) {
        PGcancel *c = PQgetCancel(s->conn);
        char buf[256];
        if (c && !PQcancel(c, buf, sizeof buf))
            s->api->log(s->h, SL_LOG_DEBUG, "postgres: cancelling the snapshot COPY: %s", buf);
        PQfreeCancel(c);
    }
    if (s->conn) {
        PQfinish(s->conn);
        s->conn = NULL;
    }
    if (s->snap_batch) {
        s->api->batch_free(s->h, s->snap_batch);
        s->snap_batch = NULL;
    }
    s->copy_active = 0;
    s->snap_abandoned = 1;
    s->api->log(s->h, SL_LOG_INFO,
                "postgres: stopping: snapshot abandoned (%zu of %zu tables "
                "copied); the next start takes a new one",
                s->snap_idx, s->nrels);
}

/* SL_OK: the COPY is running; SL_AGAIN: the host is stopping (copy not started). */
static sl_status snap_begin_copy(pgsrc *s, pg_rel *rel)
{
    char *sql = sl_pg_copy_sql(s->conn, rel);
    if (!sql) {
        s->api->set_error(s->h, "postgres: out of memory");
        return SL_ERROR;
    }
    int sent = PQsetnonblocking(s->conn, 1) == 0 && PQsendQuery(s->conn, sql);
    free(sql);
    if (!sent) {
        pg_errmsg(s, s->conn, "COPY");
        return SL_RETRY;
    }
    s->copy_active = 1; /* a stop from here on cancels the query */
    s->snap_data_us = sl_pg_now_us();
    int f;
    while ((f = PQflush(s->conn)) == 1) {
        if (s->api->stopping(s->h))
            return SL_AGAIN;
        if (snap_wait(s, SNAP_WAIT_SLICE_MS, 1) < 0)
            return SL_RETRY;
    }
    while (f == 0 && PQisBusy(s->conn)) {
        if (s->api->stopping(s->h))
            return SL_AGAIN;
        if (snap_wait(s, SNAP_WAIT_SLICE_MS, 0) < 0)
            return SL_RETRY;
    }
    PGresult *r = f == 0 ? PQgetResult(s->conn) : NULL;
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        pg_errmsg(s, s->conn, "COPY");
        PQclear(r);
        return SL_RETRY;
    }
    PQclear(r);
    if (s->capfields < rel->ncols + 1) {
        sl_pg_field *fl = realloc(s->fields, (rel->ncols + 1) * sizeof *fl);
        if (!fl) {
            s->api->set_error(s->h, "postgres: out of memory");
            return SL_ERROR;
        }
        s->fields = fl;
        s->capfields = rel->ncols + 1;
    }
    s->snap_batch = s->api->batch_new(s->h, rel->schema);
    if (!s->snap_batch)
        return SL_ERROR;
    s->copy_header = 0;
    s->snap_rows = 0;
    return SL_OK;
}

/* After the last row: the end of the COPY's result, the last (or only, empty) batch.
 * SL_AGAIN: the host is stopping. */
static sl_status snap_end_copy(pgsrc *s, pg_rel *rel)
{
    while (PQisBusy(s->conn)) {
        if (s->api->stopping(s->h))
            return SL_AGAIN;
        if (snap_wait(s, SNAP_WAIT_SLICE_MS, 0) < 0)
            return SL_RETRY;
    }
    PGresult *r = PQgetResult(s->conn);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        pg_errmsg(s, s->conn, "COPY");
    PQclear(r);
    /* Up to ReadyForQuery: the next table's COPY can only be sent on an idle connection. */
    for (;;) {
        while (PQisBusy(s->conn)) {
            if (s->api->stopping(s->h))
                return SL_AGAIN;
            if (snap_wait(s, SNAP_WAIT_SLICE_MS, 0) < 0)
                return SL_RETRY;
        }
        if (!(r = PQgetResult(s->conn)))
            break;
        PQclear(r);
    }
    if (!ok)
        return SL_RETRY;
    sl_status st = SL_OK;
    /* An empty table still sends one empty batch so the host learns its schema. */
    if (s->api->batch_rows(s->snap_batch) > 0 || s->snap_rows == 0)
        st = s->api->emit(s->h, s->snap_batch);
    s->api->batch_free(s->h, s->snap_batch);
    s->snap_batch = NULL;
    s->copy_active = 0;
    s->api->log(s->h, SL_LOG_INFO, "postgres: snapshot of %s.%s done", rel->ns, rel->name);
    return st;
}

#define SNAP_ROWS_PER_POLL 65536

/* Copies rows of the current table: SL_OK (rows done), SL_AGAIN (nothing arrived within the
 * poll's budget), -1 stands for "COPY ended" (*ended set). */
static sl_status snap_rows(pgsrc *s, pg_rel *rel, int *ended)
{
    const sl_host_api *api = s->api;
    size_t done = 0;
    int64_t until = sl_pg_now_us() + SNAP_POLL_BUDGET_US;
    *ended = 0;
    for (;;) {
        if (done >= SNAP_ROWS_PER_POLL || api->stopping(s->h))
            return done ? SL_OK : SL_AGAIN;
        char *buf = NULL;
        int n = PQgetCopyData(s->conn, &buf, 1);
        if (n == 0) { /* no whole row buffered: wait for the socket, a slice at a time */
            int64_t left = until - sl_pg_now_us();
            if (left <= 0)
                return done ? SL_OK : SL_AGAIN;
            int ms = (int)(left / 1000) + 1;
            if (snap_wait(s, ms < SNAP_WAIT_SLICE_MS ? ms : SNAP_WAIT_SLICE_MS, 0) < 0)
                return SL_RETRY;
            continue;
        }
        if (n == -1) {
            *ended = 1;
            return SL_OK;
        }
        if (n < 0) {
            pg_errmsg(s, s->conn, "COPY");
            return SL_RETRY;
        }
        s->snap_data_us = sl_pg_now_us();
        int kind =
            sl_pg_copybin_row((uint8_t *)buf, (size_t)n, &s->copy_header, s->fields, rel->ncols);
        if (kind == 0) { /* trailer */
            PQfreemem(buf);
            continue;
        }
        if (kind < 0) {
            api->set_error(s->h, "postgres: malformed COPY row from %s.%s", rel->ns, rel->name);
            PQfreemem(buf);
            return SL_ERROR;
        }
        s->snap_rows++;
        if (api->row_begin(s->snap_batch, SL_OP_SNAPSHOT) < 0) {
            PQfreemem(buf);
            api->set_error(s->h, "postgres: out of memory");
            return SL_ERROR;
        }
        for (uint32_t c = 0; c < rel->ncols; c++) {
            sl_pg_field *f = &s->fields[c];
            if (sl_pg_set_cell_bin(s, rel, s->snap_batch, c, f->p, f->len) < 0) {
                PQfreemem(buf);
                return SL_ERROR;
            }
        }
        PQfreemem(buf);
        done++;
        if (api->batch_rows(s->snap_batch) >= SL_PG_BATCH_ROWS) {
            sl_status st = api->emit(s->h, s->snap_batch);
            if (st != SL_OK)
                return st;
            api->counter_add(s->h, "snapshot_rows", SL_PG_BATCH_ROWS);
        }
    }
}

static sl_status snap_poll(pgsrc *s)
{
    const sl_host_api *api = s->api;
    if (s->snap_abandoned)
        return SL_AGAIN;
    sl_status st = SL_OK;
    while (s->snap_idx < s->nrels) {
        pg_rel *rel = &s->rels[s->snap_idx];
        if (!s->copy_active) {
            st = snap_begin_copy(s, rel);
            if (st != SL_OK)
                break;
            rel->warned_inf = 0;
        }
        int ended;
        st = snap_rows(s, rel, &ended);
        if (!ended)
            break;
        size_t tail = api->batch_rows(s->snap_batch);
        st = snap_end_copy(s, rel);
        if (st != SL_OK)
            break;
        api->counter_add(s->h, "snapshot_rows", (double)tail);
        s->snap_idx++;
    }
    if (s->snap_idx < s->nrels) {
        if (api->stopping(s->h) && (st == SL_OK || st == SL_AGAIN)) {
            snap_abandon(s);
            return SL_AGAIN; /* idle inside the open snapshot transaction: the host gives it up */
        }
        return st;
    }
    /* Every table copied: the snapshot is one source transaction ending at the consistent
     * point; the stream continues from there. */
    if (PQsetnonblocking(s->conn, 0) != 0 ||
        sl_pg_exec_ok(s, s->conn, "COMMIT", "ending snapshot transaction") < 0)
        return SL_RETRY;
    char pos[64];
    sl_pg_format_pos(s->consistent_lsn, pos, sizeof pos);
    st = api->commit(s->h, pos, strlen(pos), 0);
    if (st != SL_OK)
        return st;
    s->committed_lsn = s->consistent_lsn;
    s->committed_told = 1;
    if (sl_pg_start_replication(s) < 0)
        return SL_RETRY;
    return SL_OK;
}

static sl_status pg_poll(void *ctx, int timeout_ms)
{
    pgsrc *s = ctx;
    switch (s->phase) {
    case SL_PG_PH_SNAPSHOT:
        return snap_poll(s);
    case SL_PG_PH_STREAM:
        return sl_pg_stream_poll(s, timeout_ms);
    case SL_PG_PH_EOF:
        return SL_EOF;
    default:
        s->api->set_error(s->h, "postgres: poll before open");
        return SL_ERROR;
    }
}

static void pg_durable(void *ctx, const void *pos, size_t len)
{
    pgsrc *s = ctx;
    uint64_t lsn;
    if (sl_pg_parse_pos(pos, len, &lsn) < 0)
        return;
    if (lsn > s->durable_lsn) {
        s->durable_lsn = lsn;
        s->status_due = 1;
    }
}

/* Positions order by their LSN (the text may carry more, e.g. the slot's identity). */
static int pg_pos_compare(const void *a, size_t alen, const void *b, size_t blen)
{
    uint64_t x, y;
    if (sl_pg_parse_pos(a, alen, &x) != 0 || sl_pg_parse_pos(b, blen, &y) != 0)
        return SL_POS_UNORDERED;
    return x < y ? -1 : x > y ? 1 : 0;
}

static int pg_pos_format(const void *pos, size_t len, char *out, size_t outlen)
{
    uint64_t lsn;
    if (sl_pg_parse_pos(pos, len, &lsn) != 0)
        return -1;
    /* The position is already text for humans. */
    if (outlen)
        snprintf(out, outlen, "%.*s", (int)len, (const char *)pos);
    return (int)len;
}

static const char *pg_default_ns(void *ctx)
{
    (void)ctx;
    return "public";
}

static sl_status pg_probe(void *ctx)
{
    pgsrc *s = ctx;
    sl_status st = sl_pg_probe_run(s);
    pg_reset(s);
    return st;
}

static const sl_source_ops pg_source_ops = {
    .size = sizeof(sl_source_ops),
    .poll = pg_poll,
    .durable = pg_durable,
    .probe = pg_probe,
    .pos_compare = pg_pos_compare,
    .pos_format = pg_pos_format,
    .default_ns = pg_default_ns,
};

static const sl_plugin pg_plugin = {
    SL_PLUGIN_INIT(SL_KIND_SOURCE, "postgres", "0.1.0",
                   "PostgreSQL logical replication (pgoutput) with an initial snapshot"),
    .options = pg_options,
    .create = pg_create,
    .open = pg_open,
    .close = pg_close,
    .destroy = pg_destroy,
    .source = &pg_source_ops,
};

SL_PLUGIN_ENTRY(postgres)
{
    return &pg_plugin;
}
