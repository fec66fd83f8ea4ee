/* pgconn.c - libpq connections from the plugin's options, one-line errors. */
#include "pgsrc.h"

#include <poll.h>
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

/* Waits until c's socket is readable (want_write = 0) or writable, at most ms. */
static void wait_socket(PGconn *c, int want_write, int ms)
{
    struct pollfd p = {.fd = PQsocket(c), .events = want_write ? POLLOUT : POLLIN};
    if (p.fd >= 0)
        (void)poll(&p, 1, ms);
}

static int interrupted(pgsrc *s, int flags, int64_t deadline, const char **why)
{
    if ((flags & SL_PG_Q_STOPPABLE) && s->api->stopping(s->h)) {
        *why = "the job is stopping";
        return 1;
    }
    if (sl_pg_now_us() >= deadline) {
        *why = "timed out";
        return 1;
    }
    return 0;
}

/* The connect_timeout libpq would apply (ours or the user's), in seconds. */
static int connect_timeout_s(PGconn *c)
{
    int t = 10;
    PQconninfoOption *o = PQconninfo(c);
    for (PQconninfoOption *p = o; p && p->keyword; p++)
        if (strcmp(p->keyword, "connect_timeout") == 0 && p->val && atoi(p->val) > 0)
            t = atoi(p->val);
    PQconninfoFree(o);
    return t;
}

PGconn *sl_pg_connect_ex(pgsrc *s, int replication, int flags, char *err, size_t errlen)
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
    /* Non-blocking, so a stop is never held up by a server that does not answer (libpq's own
     * connect_timeout applies only to the blocking calls: the same limit is kept here). */
    PGconn *c = PQconnectStartParams(kw, val, 1);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const char *why = NULL;
    if (PQstatus(c) != CONNECTION_BAD) {
        int64_t deadline = sl_pg_now_us() + (int64_t)connect_timeout_s(c) * 1000000;
        PostgresPollingStatusType ps = PGRES_POLLING_WRITING;
        while (ps != PGRES_POLLING_OK && ps != PGRES_POLLING_FAILED) {
            if (interrupted(s, flags, deadline, &why))
                break;
            wait_socket(c, ps == PGRES_POLLING_WRITING, 100);
            ps = PQconnectPoll(c);
        }
    }
    if (why || PQstatus(c) != CONNECTION_OK) {
        char line[512];
        if (why)
            snprintf(line, sizeof line, "%s", why);
        else
            sl_pg_errline(PQerrorMessage(c), line, sizeof line);
        snprintf(err, errlen, "cannot connect to PostgreSQL: %s", line);
        PQfinish(c);
        return NULL;
    }
    /* Text formats the value decoders expect, for COPY and for pgoutput alike (the walsender
     * formats values with its own session settings). */
    const char *setup = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD';"
                        " SET IntervalStyle = 'postgres'; SET extra_float_digits = 3;"
                        " SET bytea_output = 'hex'";
    char line[512];
    PGresult *r = sl_pg_run(s, c, setup, 0, NULL, SL_PG_QUERY_TIMEOUT_MS, flags, line, sizeof line);
    if (r && PQresultStatus(r) != PGRES_COMMAND_OK)
        sl_pg_errline(PQerrorMessage(c), line, sizeof line);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "session settings: %s", line);
        PQclear(r);
        PQfinish(c);
        return NULL;
    }
    PQclear(r);
    return c;
}

PGconn *sl_pg_connect(pgsrc *s, int replication, char *err, size_t errlen)
{
    return sl_pg_connect_ex(s, replication, SL_PG_Q_STOPPABLE, err, errlen);
}

PGresult *sl_pg_run(pgsrc *s, PGconn *c, const char *sql, int nparams, const char *const *params,
                    int timeout_ms, int flags, char *err, size_t errlen)
{
    /* Replication commands need the simple query protocol. */
    int sent = nparams > 0 ? PQsendQueryParams(c, sql, nparams, NULL, params, NULL, NULL, 0)
                           : PQsendQuery(c, sql);
    if (!sent) {
        sl_pg_errline(PQerrorMessage(c), err, errlen);
        return NULL;
    }
    int64_t deadline = sl_pg_now_us() + (int64_t)timeout_ms * 1000;
    const char *why = NULL;
    /* Keep the last result, or the first failed one. Every wait (also between the results of a
     * multi-statement text) is bounded: PQgetResult is only called when it will not block. */
    PGresult *keep = NULL;
    for (;;) {
        while (PQisBusy(c) && !why) {
            if (interrupted(s, flags, deadline, &why))
                break;
            wait_socket(c, 0, 100);
            if (!PQconsumeInput(c)) {
                sl_pg_errline(PQerrorMessage(c), err, errlen);
                PQclear(keep);
                return NULL;
            }
        }
        if (why)
            break;
        PGresult *r = PQgetResult(c);
        if (!r)
            break;
        ExecStatusType st = PQresultStatus(r);
        if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
            PQclear(r);
            continue;
        }
        PQclear(keep);
        keep = r;
        if (st == PGRES_COPY_OUT || st == PGRES_COPY_IN || st == PGRES_COPY_BOTH)
            break; /* the caller runs the copy */
    }
    if (why) {
        PQclear(keep);
        /* Ask the server to stop the statement; if it does not answer soon the caller closes
         * the connection (every error path does), which ends the statement too. */
        char ebuf[256];
        PGcancel *k = PQgetCancel(c);
        if (k) {
            (void)PQcancel(k, ebuf, sizeof ebuf);
            PQfreeCancel(k);
        }
        int64_t grace = sl_pg_now_us() + 2000000;
        for (;;) {
            while (PQisBusy(c) && sl_pg_now_us() < grace) {
                wait_socket(c, 0, 100);
                if (!PQconsumeInput(c))
                    break;
            }
            PGresult *r;
            if (PQisBusy(c) || !(r = PQgetResult(c)))
                break;
            PQclear(r);
        }
        if (strcmp(why, "timed out") == 0)
            snprintf(err, errlen, "no answer within %d s (statement cancelled)", timeout_ms / 1000);
        else
            snprintf(err, errlen, "%s (statement cancelled)", why);
        return NULL;
    }
    if (!keep)
        sl_pg_errline(PQerrorMessage(c), err, errlen);
    return keep;
}

int sl_pg_exec_ok(pgsrc *s, PGconn *c, const char *sql, const char *what)
{
    char line[512];
    PGresult *r = sl_pg_run(s, c, sql, 0, NULL, SL_PG_QUERY_TIMEOUT_MS, SL_PG_Q_OPENING(s), line,
                            sizeof line);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        if (r)
            sl_pg_errline(PQerrorMessage(c), line, sizeof line);
        s->api->set_error(s->h, "postgres: %s: %s", what, line);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

void sl_pg_warn_tls(pgsrc *s, PGconn *c)
{
    if (s->warned_tls)
        return;
    const char *host = PQhost(c);
    if (host && host[0] == '/')
        return; /* a Unix socket: nothing travels over a network */
    const char *mode = NULL;
    PQconninfoOption *o = PQconninfo(c);
    for (PQconninfoOption *p = o; p && p->keyword; p++)
        if (strcmp(p->keyword, "sslmode") == 0)
            mode = p->val;
    if (!sl_pg_sslmode_verified(mode)) {
        const char *t = s->api->tenant(s->h);
        s->api->log(s->h, SL_LOG_WARN,
                    "postgres: tenant %s connects to %s with sslmode=%s: the server's certificate"
                    " is not verified (use sslmode=verify-full and sslrootcert=...)",
                    t ? t : "", host ? host : "?", mode ? mode : "prefer");
    }
    PQconninfoFree(o);
    s->warned_tls = 1;
}

char *sl_pg_qualified(PGconn *c, const pg_rel *rel)
{
    char *a = PQescapeIdentifier(c, rel->ns, strlen(rel->ns));
    char *b = PQescapeIdentifier(c, rel->name, strlen(rel->name));
    char *out = NULL;
    if (a && b) {
        size_t n = strlen(a) + strlen(b) + 2;
        out = malloc(n);
        if (out)
            snprintf(out, n, "%s.%s", a, b);
    }
    PQfreemem(a);
    PQfreemem(b);
    return out;
}

/* COPY binary (measured: the server sends it about 1.7x faster than text, see
 * docs/performance.md); types without a binary decoder here are cast to text, which needs the
 * SELECT form (as do partitioned parents and tables without columns). */
char *sl_pg_copy_sql(PGconn *c, const pg_rel *rel)
{
    size_t cap = 96 + strlen(rel->ns) * 2 + strlen(rel->name) * 2, len;
    for (uint32_t i = 0; i < rel->ncols; i++)
        cap += strlen(rel->cols[i].name) * 2 + 12;
    char *sql = malloc(cap);
    char *q = sl_pg_qualified(c, rel);
    if (!sql || !q) {
        free(sql);
        free(q);
        return NULL;
    }
    int viaselect = rel->relkind == 'p' || rel->ncols == 0;
    for (uint32_t i = 0; i < rel->ncols; i++)
        viaselect |= !sl_pg_binary_ok(rel->cols[i].base);
    len = (size_t)snprintf(sql, cap, viaselect ? "COPY (SELECT " : "COPY %s (", q);
    for (uint32_t i = 0; i < rel->ncols; i++) {
        char *n = PQescapeIdentifier(c, rel->cols[i].name, strlen(rel->cols[i].name));
        len += (size_t)snprintf(sql + len, cap - len, "%s%s%s", i ? ", " : "", n ? n : "\"\"",
                                sl_pg_binary_ok(rel->cols[i].base) ? "" : "::text");
        PQfreemem(n);
    }
    if (viaselect)
        snprintf(sql + len, cap - len, " FROM %s) TO STDOUT (FORMAT binary)", q);
    else
        snprintf(sql + len, cap - len, ") TO STDOUT (FORMAT binary)");
    free(q);
    return sql;
}
