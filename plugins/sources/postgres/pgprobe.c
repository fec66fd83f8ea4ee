/* pgprobe.c - `sluice check --connect` for the postgres source: everything open() would need,
 * checked without changing anything on the server (no slot, no publication, no data read). */
#include "pgsrc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sl_status fail(pgsrc *s, const char *fmt, ...) SL_PRINTF(2, 3);
static sl_status fail(pgsrc *s, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->api->set_error(s->h, "%s", msg);
    return SL_ERROR;
}

/* Server settings and the role: wal_level, REPLICATION, a free slot (unless ours exists). */
static sl_status check_server(pgsrc *s)
{
    const char *sql = "SELECT current_setting('wal_level'), current_user,"
                      " (SELECT rolreplication OR rolsuper FROM pg_catalog.pg_roles WHERE rolname "
                      "= current_user),"
                      " current_setting('max_replication_slots')::int,"
                      " (SELECT count(*) FROM pg_catalog.pg_replication_slots),"
                      " (SELECT coalesce(wal_status, '') FROM pg_catalog.pg_replication_slots"
                      "  WHERE slot_name = $1),"
                      " current_setting('max_wal_senders')::int,"
                      " (SELECT count(*) FROM pg_catalog.pg_stat_replication),"
                      " pg_catalog.has_database_privilege(current_database(), 'CREATE'),"
                      " EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $2)";
    const char *params[2] = {s->slot, s->pub};
    char line[512];
    PGresult *r = sl_pg_run(s, s->conn, sql, 2, params, SL_PG_QUERY_TIMEOUT_MS, SL_PG_Q_STOPPABLE,
                            line, sizeof line);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        if (r)
            sl_pg_errline(PQerrorMessage(s->conn), line, sizeof line);
        PQclear(r);
        return fail(s, "postgres: reading server settings: %s", line);
    }
    sl_status st = SL_OK;
    const char *user = PQgetvalue(r, 0, 1);
    int slots = atoi(PQgetvalue(r, 0, 3)), used = atoi(PQgetvalue(r, 0, 4));
    int have_slot = !PQgetisnull(r, 0, 5);
    if (strcmp(PQgetvalue(r, 0, 0), "logical") != 0)
        st = fail(s,
                  "postgres: wal_level is %s, logical replication needs wal_level = logical"
                  " (ALTER SYSTEM SET wal_level = logical, then restart the server)",
                  PQgetvalue(r, 0, 0));
    else if (strcmp(PQgetvalue(r, 0, 2), "t") != 0)
        st = fail(s, "postgres: user %s has no REPLICATION attribute (ALTER ROLE %s REPLICATION)",
                  user, user);
    else if (!have_slot && used >= slots)
        st = fail(s,
                  "postgres: all max_replication_slots = %d are in use: no room for slot %s "
                  "(raise max_replication_slots or drop an unused slot)",
                  slots, s->slot);
    else {
        if (have_slot && strcmp(PQgetvalue(r, 0, 5), "lost") == 0)
            s->api->log(s->h, SL_LOG_WARN,
                        "postgres: replication slot %s is lost (its WAL was removed): the job "
                        "fails unless resnapshot_on_slot_loss = true",
                        s->slot);
        if (!have_slot && atoi(PQgetvalue(r, 0, 7)) >= atoi(PQgetvalue(r, 0, 6)))
            s->api->log(s->h, SL_LOG_WARN,
                        "postgres: all max_wal_senders = %s are in use: the job's replication "
                        "connection would be refused",
                        PQgetvalue(r, 0, 6));
        if (strcmp(PQgetvalue(r, 0, 9), "t") != 0 && strcmp(PQgetvalue(r, 0, 8), "t") != 0)
            s->api->log(s->h, SL_LOG_WARN,
                        "postgres: publication %s does not exist and user %s may not create it "
                        "(GRANT CREATE ON DATABASE, or create it FOR TABLE the selected tables)",
                        s->pub, user);
    }
    PQclear(r);
    return st;
}

/* A replication=database connection (pg_hba.conf needs a "replication" line for it). */
static sl_status check_replication(pgsrc *s)
{
    char err[600];
    PGconn *c = sl_pg_connect(s, 1, err, sizeof err);
    if (!c)
        return fail(s, "postgres: replication connection: %s", err);
    PGresult *r = sl_pg_run(s, c, "IDENTIFY_SYSTEM", 0, NULL, SL_PG_QUERY_TIMEOUT_MS,
                            SL_PG_Q_STOPPABLE, err, sizeof err);
    sl_status st = SL_OK;
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        if (r)
            sl_pg_errline(PQerrorMessage(c), err, sizeof err);
        st = fail(s, "postgres: replication connection: IDENTIFY_SYSTEM: %s", err);
    }
    PQclear(r);
    PQfinish(c);
    return st;
}

sl_status sl_pg_probe_run(pgsrc *s)
{
    char err[600];
    s->conn = sl_pg_connect(s, 0, err, sizeof err);
    if (!s->conn)
        return fail(s, "postgres: %s", err);
    sl_pg_warn_tls(s, s->conn);
    sl_status st = check_server(s);
    if (st == SL_OK && sl_pg_load_tables(s, 1) < 0)
        st = SL_ERROR;
    if (st == SL_OK)
        st = check_replication(s);
    return st;
}
