/* pgconn.c - libpq connections from the plugin's options, one-line errors. */
#include "pgsrc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libpq messages span lines ("...failed: Connection refused\n\tIs the server running..."): the
 * user sees one line. */
void sl_pg_errline(const char *msg, char *out, size_t outlen)
{
    size_t o = 0;
    int space = 0;
    if (!msg)
        msg = "unknown error";
    for (const char *p = msg; *p && o + 1 < outlen; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < outlen)
            out[o++] = ' ';
        space = 0;
        out[o++] = *p;
    }
    out[o] = 0;
}

PGconn *sl_pg_connect(pgsrc *s, int replication, char *err, size_t errlen)
{
    const sl_host_api *api = s->api;
    const char *kw[24], *val[24];
    int n = 0;
    char appname[128], port[16], usertimeout[24];
    const char *ci = api->opt_string(s->h, "conninfo");
    /* The conninfo string first: fields given separately override it, and our own settings
     * (application_name, replication) come last so they always apply. */
    if (ci && *ci) {
        kw[n] = "dbname";
        val[n++] = ci;
    }
    static const char *const fields[] = {"host", "dbname", "user", "password", "sslmode"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v = api->opt_string(s->h, fields[i]);
        if (v && *v) {
            kw[n] = fields[i];
            val[n++] = v;
        }
    }
    if (api->opt_isset(s->h, "port")) {
        snprintf(port, sizeof port, "%lld", (long long)api->opt_int(s->h, "port", 5432));
        kw[n] = "port";
        val[n++] = port;
    }
    snprintf(appname, sizeof appname, "sluice/%s", api->tenant(s->h) ? api->tenant(s->h) : "");
    kw[n] = "application_name";
    val[n++] = appname;
    if (!(ci && strstr(ci, "connect_timeout"))) {
        kw[n] = "connect_timeout";
        val[n++] = "10";
    }
    /* A peer that vanishes (host down, path cut) is noticed by TCP: keepalive probes after 30 s
     * of silence, and unacknowledged data gives up after receive_timeout. A path that still
     * acknowledges but delivers nothing is the stream's receive deadline's job. Settings given
     * in conninfo win. */
    static const char *const ka[][2] = {{"keepalives", "1"},
                                        {"keepalives_idle", "30"},
                                        {"keepalives_interval", "10"},
                                        {"keepalives_count", "3"}};
    for (size_t i = 0; i < sizeof ka / sizeof ka[0]; i++)
        if (!(ci && strstr(ci, ka[i][0]))) {
            kw[n] = ka[i][0];
            val[n++] = ka[i][1];
        }
    if (!(ci && strstr(ci, "tcp_user_timeout"))) {
        snprintf(usertimeout, sizeof usertimeout, "%lld",
                 (long long)(s->receive_timeout_us / 1000));
        kw[n] = "tcp_user_timeout";
        val[n++] = usertimeout;
    }
    if (replication) {
        kw[n] = "replication";
        val[n++] = "database";
    }
    kw[n] = NULL;
    val[n] = NULL;
    PGconn *c = PQconnectdbParams(kw, val, 1);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        char line[512];
        sl_pg_errline(PQerrorMessage(c), line, sizeof line);
        snprintf(err, errlen, "cannot connect to PostgreSQL: %s", line);
        PQfinish(c);
        return NULL;
    }
    /* Text formats the value decoders expect, for COPY and for pgoutput alike (the walsender
     * formats values with its own session settings). */
    static const char *const setup[] = {"SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, YMD'",
                                        "SET IntervalStyle = 'postgres'",
                                        "SET extra_float_digits = 3", "SET bytea_output = 'hex'"};
    for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++) {
        PGresult *r = PQexec(c, setup[i]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            char line[512];
            sl_pg_errline(PQerrorMessage(c), line, sizeof line);
            snprintf(err, errlen, "%s: %s", setup[i], line);
            PQclear(r);
            PQfinish(c);
            return NULL;
        }
        PQclear(r);
    }
    return c;
}

int sl_pg_exec_ok(pgsrc *s, PGconn *c, const char *sql, const char *what)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char line[512];
        sl_pg_errline(PQerrorMessage(c), line, sizeof line);
        s->api->set_error(s->h, "postgres: %s: %s", what, line);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

/* "sluice_<tenant>" lowercased, [a-z0-9_] only, at most 63 bytes (NAMEDATALEN - 1). */
char *sl_pg_sanitize_name(const char *prefix, const char *tenant)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s%s", prefix, tenant ? tenant : "");
    for (char *p = buf; *p; p++) {
        unsigned char c = (unsigned char)*p;
        *p = isalnum(c) ? (char)tolower(c) : '_';
    }
    return strdup(buf);
}
