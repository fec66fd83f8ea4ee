/* pgtables.c - which tables a job replicates: the tables option against the catalog, with the
 * checks that keep a mistake or a table PostgreSQL cannot serve from passing silently. */
#include "pgsrc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing comma-separated list of names for one message. */
typedef struct namelist {
    char *p;
    size_t len, cap, n;
} namelist;

/* Adds "ns.name", or name alone when ns is NULL. */
static int nl_add(namelist *l, const char *ns, const char *name)
{
    size_t need = l->len + (ns ? strlen(ns) : 0) + strlen(name) + 4;
    if (need > l->cap) {
        size_t cap = need * 2;
        char *p = realloc(l->p, cap);
        if (!p)
            return -1;
        l->p = p;
        l->cap = cap;
    }
    l->len += (size_t)snprintf(l->p + l->len, l->cap - l->len, "%s%s%s%s", l->n ? ", " : "",
                               ns ? ns : "", ns ? "." : "", name);
    l->n++;
    return 0;
}

/* set_error with "FILE:LINE: " of the tables option first, when the host knows it. */
static void tables_error(pgsrc *s, const char *fmt, ...) SL_PRINTF(2, 3);
static void tables_error(pgsrc *s, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *where = s->api->opt_where ? s->api->opt_where(s->h, "tables") : NULL;
    s->api->set_error(s->h, "%s%spostgres: %s", where ? where : "", where ? ": " : "", msg);
}

/* A table is safe in a publication of updates and deletes when PostgreSQL can identify its
 * rows: REPLICA IDENTITY FULL, or an identity index (the primary key for DEFAULT, the chosen
 * index for USING INDEX). For a partitioned table every leaf partition counts. */
static const char *const tables_sql =
    "SELECT c.oid, n.nspname, c.relname, c.relkind,"
    " (SELECT count(*) FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0"
    "  AND NOT a.attisdropped AND a.attgenerated = '') AS ncols,"
    " NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class l WHERE (l.oid = c.oid AND c.relkind = 'r'"
    "  OR l.oid IN (SELECT t.relid FROM pg_catalog.pg_partition_tree(c.oid) t WHERE t.isleaf))"
    "  AND l.relreplident <> 'f'"
    "  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = l.oid"
    "   AND i.indisvalid AND CASE l.relreplident WHEN 'd' THEN i.indisprimary"
    "   WHEN 'i' THEN i.indisreplident ELSE false END)) AS identity_ok,"
    " EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables p WHERE p.pubname = $1"
    "  AND p.schemaname = n.nspname AND p.tablename = c.relname) AS in_pub,"
    " pg_catalog.has_table_privilege(c.oid, 'SELECT') AS can_select"
    " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition"
    " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    " AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 2, 3";

static PGresult *query(pgsrc *s, const char *sql, const char *param, const char *what)
{
    char line[512];
    const char *params[1] = {param};
    PGresult *r = sl_pg_run(s, s->conn, sql, param ? 1 : 0, params, SL_PG_QUERY_TIMEOUT_MS,
                            SL_PG_Q_STOPPABLE, line, sizeof line);
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
        return r;
    if (r)
        sl_pg_errline(PQerrorMessage(s->conn), line, sizeof line);
    s->api->set_error(s->h, "postgres: %s: %s", what, line);
    PQclear(r);
    return NULL;
}

/* An existing publication that leaves out some operations loses those changes silently. */
static int publication_flags(pgsrc *s, int *exists, int *updel)
{
    PGresult *r = query(s,
                        "SELECT pubinsert, pubupdate, pubdelete, pubtruncate"
                        " FROM pg_catalog.pg_publication WHERE pubname = $1",
                        s->pub, "reading publication");
    if (!r)
        return -1;
    *exists = PQntuples(r) > 0;
    *updel = 1;
    if (*exists) {
        static const char *const ops[] = {"insert", "update", "delete", "truncate"};
        char miss[64] = "";
        for (int i = 0; i < 4; i++)
            if (strcmp(PQgetvalue(r, 0, i), "t") != 0)
                snprintf(miss + strlen(miss), sizeof miss - strlen(miss), "%s%s", *miss ? ", " : "",
                         ops[i]);
        *updel = strcmp(PQgetvalue(r, 0, 1), "t") == 0 || strcmp(PQgetvalue(r, 0, 2), "t") == 0;
        if (*miss)
            s->api->log(s->h, SL_LOG_WARN,
                        "postgres: publication %s does not publish %s: such changes never reach "
                        "the QVDs (ALTER PUBLICATION %s SET (publish = 'insert, update, delete, "
                        "truncate'))",
                        s->pub, miss, s->pub);
    }
    PQclear(r);
    return 0;
}

int sl_pg_load_tables(pgsrc *s, int probe)
{
    const sl_host_api *api = s->api;
    int pub_exists = 0, pub_updel = 1;
    if (publication_flags(s, &pub_exists, &pub_updel) < 0)
        return -1;
    PGresult *r = query(s, tables_sql, s->pub, "listing tables");
    if (!r)
        return -1;
    int rc = -1;
    size_t npat = api->opt_list_len(s->h, "tables");
    namelist missing = {0}, nocols = {0}, keyless = {0}, inpub = {0}, nosel = {0};
    /* Every entry of the tables option must find something: a named table that is not there is
     * a mistake (an error), a pattern matching nothing may be a future table (a warning). */
    for (size_t k = 0; k < npat; k++) {
        const char *pat = api->opt_list_item(s->h, "tables", k);
        int hit = 0;
        for (int i = 0; i < PQntuples(r) && !hit; i++)
            hit = sl_pg_pattern_match(pat, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
        if (hit || !pat)
            continue;
        if (sl_pg_pattern_literal(pat)) {
            if (nl_add(&missing, strchr(pat, '.') ? NULL : "public", pat) < 0)
                goto oom;
        } else {
            const char *where = api->opt_where ? api->opt_where(s->h, "tables") : NULL;
            api->log(s->h, SL_LOG_WARN, "%s%spostgres: tables entry '%s' matches no table",
                     where ? where : "", where ? ": " : "", pat);
        }
    }
    if (missing.n) {
        tables_error(s, "option tables names %s, which %s not a table in the database", missing.p,
                     missing.n > 1 ? "are" : "is");
        goto out;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *ns = PQgetvalue(r, i, 1), *name = PQgetvalue(r, i, 2);
        if (!sl_pg_table_selected(s, ns, name))
            continue;
        int ncols = atoi(PQgetvalue(r, i, 4));
        int ident = strcmp(PQgetvalue(r, i, 5), "t") == 0;
        int in_pub = strcmp(PQgetvalue(r, i, 6), "t") == 0;
        int can_select = strcmp(PQgetvalue(r, i, 7), "t") == 0;
        if (ncols == 0) {
            if (nl_add(&nocols, ns, name) < 0)
                goto oom;
            continue;
        }
        if (!ident && pub_updel) {
            if (!in_pub || !pub_exists) {
                if (nl_add(&keyless, ns, name) < 0)
                    goto oom;
                continue;
            }
            if (nl_add(&inpub, ns, name) < 0)
                goto oom;
        }
        if (!can_select && nl_add(&nosel, ns, name) < 0)
            goto oom;
        if (!sl_pg_rel_add(s, (uint32_t)strtoul(PQgetvalue(r, i, 0), NULL, 10), ns, name,
                           PQgetvalue(r, i, 3)[0]))
            goto oom;
    }
    if (nocols.n)
        api->log(s->h, SL_LOG_WARN,
                 "postgres: left out, no columns (a QVD needs at least one field): %s", nocols.p);
    if (keyless.n) {
        /* Publishing a table PostgreSQL cannot identify rows of makes the application's own
         * UPDATE and DELETE on it fail, even after sluice stops: never add one. */
        const char *first = keyless.p, *comma = strchr(first, ',');
        api->log(s->h, SL_LOG_WARN,
                 "postgres: left out, no primary key or replica identity (published, their UPDATE "
                 "and DELETE would fail for the application): %s; to replicate one: ALTER TABLE "
                 "%.*s REPLICA IDENTITY FULL",
                 keyless.p, comma ? (int)(comma - first) : (int)strlen(first), first);
    }
    if (inpub.n) {
        const char *first = inpub.p, *comma = strchr(first, ',');
        int fl = comma ? (int)(comma - first) : (int)strlen(first);
        api->log(s->h, SL_LOG_WARN,
                 "postgres: publication %s already holds tables without primary key or replica "
                 "identity, whose UPDATE and DELETE fail for the application: %s; fix: ALTER "
                 "TABLE %.*s REPLICA IDENTITY FULL (or ALTER PUBLICATION %s DROP TABLE %.*s)",
                 s->pub, inpub.p, fl, first, s->pub, fl, first);
    }
    if (probe && nosel.n) {
        tables_error(s, "no SELECT privilege on %s (GRANT SELECT ON ... TO the job's user)",
                     nosel.p);
        goto out;
    }
    if (s->nrels == 0) {
        if (nocols.n || keyless.n)
            tables_error(s, "no table left to replicate (see the warnings above)");
        else
            tables_error(s, "option tables matches no table in the database");
        goto out;
    }
    rc = 0;
    goto out;
oom:
    api->set_error(s->h, "postgres: out of memory");
out:
    free(missing.p);
    free(nocols.p);
    free(keyless.p);
    free(inpub.p);
    free(nosel.p);
    PQclear(r);
    return rc;
}
