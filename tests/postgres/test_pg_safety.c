/*
 * Integration tests (real PostgreSQL 15 from scripts/pg.sh) of what the postgres source must
 * never do silently (issue 9, items 2, 4, 7, 8, 11): publish a table whose UPDATE/DELETE would
 * then fail for the application, resume across a gap in a re-created slot, share a slot between
 * tenants, hang a stop in a server call, skip a misspelt table, stop every table for one without
 * columns; and the probe of `sluice check --connect`. The plugin is driven by the mock host
 * (libsluice-testhost); a stop in the middle of open() comes from a timer signal.
 */
#include "sl_test.h"

#include <libpq-fe.h>
#include <signal.h>
#include <sluice/testhost.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char g_conninfo[512];
static sl_th_plugin *g_tp;
static const sl_plugin *g_plugin;
static PGconn *g_db;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int sql(const char *q)
{
    PGresult *r = PQexec(g_db, q);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "SQL failed: %s: %s", q, PQerrorMessage(g_db));
    PQclear(r);
    CHECK(ok);
    return ok ? 0 : -1;
}

/* Like sql() but the failure is the expected outcome to test, not a test failure. */
static int sql_try(const char *q, char *err, size_t errlen)
{
    PGresult *r = PQexec(g_db, q);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    snprintf(err, errlen, "%s", ok ? "" : PQerrorMessage(g_db));
    PQclear(r);
    return ok ? 0 : -1;
}

static char *sql1(const char *q)
{
    PGresult *r = PQexec(g_db, q);
    char *v =
        strdup(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)
                   ? PQgetvalue(r, 0, 0)
                   : "");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "SQL failed: %s: %s", q, PQerrorMessage(g_db));
    PQclear(r);
    return v;
}

typedef struct inst {
    sl_th *t; /* the mock host: options, the instance and what it delivered */
} inst;

/* The list option "tables" is written "a,b" here: the mock takes it as "{'a', 'b'}". */
static int set_opt(sl_th *t, const char *name, const char *value)
{
    if (strcmp(name, "tables") != 0)
        return sl_th_set(t, name, value);
    char buf[512];
    size_t o = (size_t)snprintf(buf, sizeof buf, "{'");
    for (const char *p = value; *p && o < sizeof buf - 8; p++)
        o += (size_t)(*p == ',' ? snprintf(buf + o, sizeof buf - o, "', '")
                                : snprintf(buf + o, sizeof buf - o, "%c", *p));
    snprintf(buf + o, sizeof buf - o, "'}");
    return sl_th_set(t, name, buf);
}

static int inst_create(inst *in, const char *const *kv, const char *tenant)
{
    sl_th_free(in->t);
    in->t = sl_th_new(g_tp, tenant);
    for (size_t i = 0; kv[i]; i += 2)
        CHECK_EQ_INT(set_opt(in->t, kv[i], kv[i + 1]), 0);
    return sl_th_create(in->t);
}

static int inst_open(inst *in, const char *const *kv, const char *tenant, const char *resume,
                     int once)
{
    if (inst_create(in, kv, tenant) != 0)
        return -1;
    return sl_th_open(in->t, resume, resume ? strlen(resume) : 0, once);
}

static void inst_close(inst *in)
{
    if (in->t)
        sl_th_close(in->t); /* the recordings stay until inst_free */
}

static void inst_free(inst *in)
{
    if (in->t)
        CHECK_EQ_INT(sl_th_misuses(in->t), 0);
    sl_th_free(in->t);
    in->t = NULL;
}

static size_t nrows(const inst *in)
{
    return sl_th_rows(in->t);
}

static const char *row(const inst *in, size_t i)
{
    return sl_th_row(in->t, i);
}

static const char *err(const inst *in)
{
    return sl_th_error(in->t);
}

/* Log lines ("warn ...") of the instance containing every one of up to three fragments. */
static int logged(const inst *in, const char *a, const char *b, const char *c)
{
    int n = 0;
    for (size_t i = 0; i < sl_th_logs(in->t); i++) {
        const char *l = sl_th_log(in->t, i);
        n += strstr(l, a) && (!b || strstr(l, b)) && (!c || strstr(l, c));
    }
    return n;
}

static sl_status drive(inst *in, size_t want, double max_s)
{
    sl_status st = sl_th_poll_until(in->t, want, (int)(max_s * 1000));
    if (st != SL_OK && st != SL_EOF)
        fprintf(stderr, "poll: %d: %s (have %zu commits, want %zu)\n", st, err(in),
                sl_th_commits(in->t), want);
    return st;
}

/* Table state from delivered rows "ns.t|op|k|v..." (key = first cell) as "k|v..." lines. */
typedef struct state {
    char **rows;
    size_t n;
} state;

static void state_apply(state *s, const char *line, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (strncmp(line, prefix, pl) != 0)
        return;
    char op = line[pl];
    const char *cells = line + pl + 2;
    size_t kl = strcspn(cells, "|");
    if (op == 'T') {
        for (size_t i = 0; i < s->n; i++)
            free(s->rows[i]);
        s->n = 0;
        return;
    }
    for (size_t i = 0; i < s->n; i++)
        if (strncmp(s->rows[i], cells, kl) == 0 && s->rows[i][kl] == '|') {
            free(s->rows[i]);
            s->rows[i] = s->rows[--s->n];
            break;
        }
    if (op == 'D')
        return;
    s->rows = realloc(s->rows, (s->n + 1) * sizeof *s->rows);
    s->rows[s->n++] = strdup(cells);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The state equals the lines of query; returns 1 when equal. */
static int state_equals(state *s, const char *query)
{
    PGresult *r = PQexec(g_db, query);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && (size_t)PQntuples(r) == s->n;
    if (!ok)
        fprintf(stderr, "  state has %zu rows, table %d\n", s->n, PQntuples(r));
    qsort(s->rows, s->n, sizeof *s->rows, cmp_str);
    char **exp = calloc((size_t)PQntuples(r) + 1, sizeof *exp);
    for (int i = 0; i < PQntuples(r); i++)
        exp[i] = PQgetvalue(r, i, 0);
    qsort(exp, (size_t)PQntuples(r), sizeof *exp, cmp_str);
    for (size_t i = 0; ok && i < s->n; i++)
        if (strcmp(exp[i], s->rows[i]) != 0) {
            fprintf(stderr, "  state: %s\n  table: %s\n", s->rows[i], exp[i]);
            ok = 0;
        }
    free(exp);
    PQclear(r);
    return ok;
}

static void state_free(state *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->rows[i]);
    free(s->rows);
    memset(s, 0, sizeof *s);
}

static char *slot_of(const char *tenant_like)
{
    char q[256];
    snprintf(
        q, sizeof q,
        "SELECT string_agg(slot_name, ',') FROM pg_replication_slots WHERE slot_name LIKE '%s'",
        tenant_like);
    return sql1(q);
}

/* Drops the idle slots a test left (their walsenders may still be exiting for a moment). */
static void drop_idle_slots(void)
{
    for (int i = 0; i < 30; i++) {
        PGresult *r = PQexec(g_db, "SELECT count(pg_drop_replication_slot(slot_name)) FILTER"
                                   " (WHERE NOT active), count(*) FILTER (WHERE active)"
                                   " FROM pg_replication_slots WHERE slot_name LIKE 'sluice_sf%'");
        int busy = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 1), "0") != 0;
        PQclear(r);
        if (!busy)
            return;
        usleep(100000);
    }
}

/* ---- item 2: tables without a usable replica identity ---- */

static void test_keyless(void)
{
    /* Own schema, so "all tables" is exactly what this test made. */
    sql("DROP SCHEMA IF EXISTS sfk CASCADE; CREATE SCHEMA sfk");
    sql("CREATE TABLE sfk.withpk (id int PRIMARY KEY, v text)");
    sql("CREATE TABLE sfk.np (a int, b text)"); /* no key, identity DEFAULT */
    sql("CREATE TABLE sfk.nothing (id int PRIMARY KEY, v text);"
        " ALTER TABLE sfk.nothing REPLICA IDENTITY NOTHING");
    sql("CREATE TABLE sfk.full_id (a int, b text); ALTER TABLE sfk.full_id REPLICA IDENTITY FULL");
    sql("CREATE TABLE sfk.by_index (a int NOT NULL, b text); CREATE UNIQUE INDEX ON sfk.by_index "
        "(a);"
        " ALTER TABLE sfk.by_index REPLICA IDENTITY USING INDEX by_index_a_idx");
    /* Partitioned: the leaves count (a primary key reaches them; no key leaves them bare). */
    sql("CREATE TABLE sfk.pk_parted (id int PRIMARY KEY) PARTITION BY RANGE (id);"
        " CREATE TABLE sfk.pk_p1 PARTITION OF sfk.pk_parted FOR VALUES FROM (0) TO (100);"
        " CREATE TABLE sfk.np_parted (a int) PARTITION BY RANGE (a);"
        " CREATE TABLE sfk.np_p1 PARTITION OF sfk.np_parted FOR VALUES FROM (0) TO (100);"
        " INSERT INTO sfk.np_parted VALUES (1); INSERT INTO sfk.pk_parted VALUES (1)");
    sql("INSERT INTO sfk.withpk VALUES (1, 'x'); INSERT INTO sfk.np VALUES (1, 'x');"
        " INSERT INTO sfk.nothing VALUES (1, 'x'); INSERT INTO sfk.full_id VALUES (1, 'x');"
        " INSERT INTO sfk.by_index VALUES (1, 'x')");
    const char *kv[] = {"conninfo", g_conninfo, "tables", "sfk.*", NULL};
    inst in = {0};
    CHECK_EQ_INT(inst_open(&in, kv, "sfkeyless", NULL, 0), 0);
    CHECK_EQ_INT(drive(&in, 1, 20), SL_OK);
    char *pubs = sql1("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM"
                      " pg_publication_tables WHERE pubname LIKE 'sluice_sfkeyless_%'");
    CHECK_EQ_STR(pubs, "by_index,full_id,pk_parted,withpk");
    free(pubs);
    /* One warning naming them all and the fix. */
    CHECK_EQ_INT(
        logged(&in, "left out", "sfk.nothing, sfk.np, sfk.np_parted", "REPLICA IDENTITY FULL"), 1);
    /* The application's own UPDATE and DELETE keep working, while sluice runs ... */
    char err[512];
    CHECK_EQ_INT(sql_try("UPDATE sfk.np SET b = 'y'", err, sizeof err), 0);
    CHECK_EQ_INT(sql_try("DELETE FROM sfk.nothing", err, sizeof err), 0);
    CHECK_EQ_INT(sql_try("UPDATE sfk.np_parted SET a = 2", err, sizeof err), 0);
    if (*err)
        fprintf(stderr, "  %s", err);
    /* ... and the replicated ones are streamed. */
    sql("UPDATE sfk.full_id SET b = 'y'; UPDATE sfk.by_index SET b = 'y'"); /* one commit */
    CHECK_EQ_INT(drive(&in, 2, 20), SL_OK);
    int seen = 0;
    for (size_t i = 0; i < nrows(&in); i++)
        seen += strcmp(row(&in, i), "sfk.full_id|I|1|y") == 0 ||
                strcmp(row(&in, i), "sfk.by_index|U|1|y") == 0;
    CHECK_EQ_INT(seen, 2);
    inst_close(&in);
    /* ... and after it stopped. */
    CHECK_EQ_INT(sql_try("DELETE FROM sfk.np", err, sizeof err), 0);
    if (*err)
        fprintf(stderr, "  %s", err);

    /* An existing publication (an administrator's, named with the option) that already holds
     * a keyless table: used, with a warning; nothing is added that lacks an identity. */
    sql("DROP PUBLICATION IF EXISTS sf_admin; CREATE PUBLICATION sf_admin FOR TABLE sfk.withpk");
    sql("ALTER TABLE sfk.np REPLICA IDENTITY FULL; ALTER PUBLICATION sf_admin ADD TABLE sfk.np;"
        " ALTER TABLE sfk.np REPLICA IDENTITY DEFAULT");
    const char *kv2[] = {"conninfo",    g_conninfo, "tables", "sfk.*",
                         "publication", "sf_admin", NULL};
    CHECK_EQ_INT(inst_open(&in, kv2, "sfadmin", NULL, 1), 0);
    CHECK_EQ_INT(drive(&in, 100, 20), SL_EOF);
    CHECK_EQ_INT(logged(&in, "already holds", "sfk.np", "ALTER PUBLICATION sf_admin DROP TABLE"),
                 1);
    pubs = sql1("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM"
                " pg_publication_tables WHERE pubname = 'sf_admin'");
    /* (sf_admin lacks publish_via_partition_root: it lists the leaf) */
    CHECK_EQ_STR(pubs, "by_index,full_id,np,pk_p1,withpk");
    free(pubs);
    inst_free(&in);
    sql("DROP PUBLICATION sf_admin");
}

/* ---- item 8: a table without columns ---- */

static void test_nocols(void)
{
    sql("DROP TABLE IF EXISTS sf_nocols, sf_cols; CREATE TABLE sf_nocols ();"
        " CREATE TABLE sf_cols (id int PRIMARY KEY); INSERT INTO sf_cols VALUES (1), (2)");
    const char *kv[] = {"conninfo", g_conninfo, "tables", "sf_nocols,sf_cols", NULL};
    inst in = {0};
    CHECK_EQ_INT(inst_open(&in, kv, "sfnocols", NULL, 0), 0);
    CHECK_EQ_INT(drive(&in, 1, 20), SL_OK);
    CHECK_EQ_INT(nrows(&in), 2);
    CHECK_EQ_INT(logged(&in, "no columns", "public.sf_nocols", NULL), 1);
    sql("INSERT INTO sf_cols VALUES (3)");
    CHECK_EQ_INT(drive(&in, 2, 20), SL_OK);
    CHECK_EQ_INT(nrows(&in), 3);
    inst_free(&in);
}

/* ---- item 11: the tables option ---- */

static void test_tables_option(void)
{
    sql("DROP TABLE IF EXISTS sf_t1; CREATE TABLE sf_t1 (id int PRIMARY KEY)");
    inst in = {0};
    const char *kv[] = {"conninfo", g_conninfo, "tables", "sf_t1,sf_nosuch,nosuchschema.x", NULL};
    CHECK_EQ_INT(inst_open(&in, kv, "sftables", NULL, 0), -1);
    fprintf(stderr, "  missing tables: %s\n", err(&in));
    /* The mock host has no job file (opt_where is NULL): the FILE:LINE prefix is checked with
     * the real binary in tests/active/test_pg_safety.sh. */
    CHECK(strncmp(err(&in), "postgres: option tables names ", 30) == 0);
    CHECK(strstr(err(&in), "public.sf_nosuch, nosuchschema.x") != NULL);
    CHECK(strstr(err(&in), "sf_t1") == NULL);
    inst_free(&in);
    char *s = slot_of("sluice_sftables_%");
    CHECK_EQ_STR(s, ""); /* nothing created for a job that cannot run */
    free(s);
    /* A pattern that matches nothing may be for tables to come: a warning. */
    const char *kv2[] = {"conninfo", g_conninfo, "tables", "sf_t1,sfsales.*", NULL};
    CHECK_EQ_INT(inst_open(&in, kv2, "sftables", NULL, 1), 0);
    CHECK_EQ_INT(logged(&in, "postgres: tables entry 'sfsales.*' matches no table", NULL, NULL), 1);
    CHECK_EQ_INT(drive(&in, 100, 20), SL_EOF);
    inst_free(&in);
}

/* ---- item 4: slot identity ---- */

static void test_slot_gap(void)
{
    sql("DROP TABLE IF EXISTS sf_gap; CREATE TABLE sf_gap (id int PRIMARY KEY, v int);"
        " INSERT INTO sf_gap SELECT g, 0 FROM generate_series(1, 100) g");
    const char *kv[] = {"conninfo", g_conninfo, "tables", "sf_gap", NULL};
    inst in = {0};
    CHECK_EQ_INT(inst_open(&in, kv, "sfgap", NULL, 0), 0);
    CHECK_EQ_INT(drive(&in, 1, 20), SL_OK);
    sql("UPDATE sf_gap SET v = 1 WHERE id <= 10");
    CHECK_EQ_INT(drive(&in, 2, 20), SL_OK);
    if (sl_th_commits(in.t) < 2) {
        inst_free(&in);
        return;
    }
    char *pos = strdup(sl_th_commit_pos(in.t, sl_th_commits(in.t) - 1, NULL));
    sl_th_durable(in.t, pos, strlen(pos));
    for (int i = 0; i < 20; i++)
        (void)sl_th_poll(in.t, 50);
    inst_close(&in);
    char *slot = slot_of("sluice_sfgap_%");
    CHECK(strncmp(slot, "sluice_sfgap_", 13) == 0);
    /* An administrator drops and re-creates the slot while the application writes. */
    char q[512];
    sql("UPDATE sf_gap SET v = 2 WHERE id BETWEEN 11 AND 20");
    for (int i = 0; i < 50; i++) {
        snprintf(q, sizeof q,
                 "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots"
                 " WHERE slot_name = '%s' AND NOT active",
                 slot);
        char *d = sql1(q);
        int done = strcmp(d, "1") == 0;
        free(d);
        if (done)
            break;
        usleep(100000);
    }
    sql("UPDATE sf_gap SET v = 3 WHERE id BETWEEN 21 AND 30; DELETE FROM sf_gap WHERE id = 99");
    snprintf(q, sizeof q, "SELECT pg_create_logical_replication_slot('%s', 'pgoutput')", slot);
    sql(q);
    sql("UPDATE sf_gap SET v = 4 WHERE id BETWEEN 31 AND 40");
    char *confirmed = NULL;
    snprintf(q, sizeof q,
             "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '%s'", slot);
    confirmed = sql1(q);
    /* Resuming would skip the changes made while the slot was missing: a clear error. */
    CHECK_EQ_INT(inst_open(&in, kv, "sfgap", pos, 0), -1);
    fprintf(stderr, "  gap: %s\n", err(&in));
    CHECK(strstr(err(&in), slot) != NULL);
    CHECK(strstr(err(&in), pos) != NULL);       /* the durable position */
    CHECK(strstr(err(&in), confirmed) != NULL); /* the slot's */
    CHECK(strchr(err(&in), '\n') == NULL);
    inst_free(&in);
    /* With the option: a fresh snapshot, equal to the table. */
    const char *kv2[] = {"conninfo", g_conninfo, "tables", "sf_gap", "resnapshot_on_slot_loss",
                         "true",     NULL};
    CHECK_EQ_INT(inst_open(&in, kv2, "sfgap", pos, 1), 0);
    CHECK_EQ_INT(drive(&in, 100, 20), SL_EOF);
    CHECK_EQ_INT(
        logged(&in, "not the slot the durable position came from", "taking a new snapshot", NULL),
        1);
    state st = {0};
    for (size_t i = 0; i < nrows(&in); i++)
        state_apply(&st, row(&in, i), "public.sf_gap|");
    CHECK(state_equals(&st, "SELECT id || '|' || v FROM sf_gap"));
    CHECK_EQ_INT(st.n, 99);
    state_free(&st);
    inst_free(&in);
    free(confirmed);
    free(slot);
    free(pos);
}

/* Tenants that sanitise to the same text get their own slot and publication, in one process. */
static void test_two_tenants(void)
{
    sql("DROP TABLE IF EXISTS sf_tt; CREATE TABLE sf_tt (id int PRIMARY KEY, v int);"
        " INSERT INTO sf_tt SELECT g, 0 FROM generate_series(1, 50) g");
    const char *kv[] = {"conninfo", g_conninfo, "tables", "sf_tt", NULL};
    inst a = {0}, b = {0};
    CHECK_EQ_INT(inst_open(&a, kv, "sfacme-eu", NULL, 0), 0);
    CHECK_EQ_INT(drive(&a, 1, 20), SL_OK);
    CHECK_EQ_INT(inst_open(&b, kv, "sfacme.eu", NULL, 0), 0);
    CHECK_EQ_INT(drive(&b, 1, 20), SL_OK);
    char *slots = sql1("SELECT count(DISTINCT slot_name) FROM pg_replication_slots"
                       " WHERE slot_name LIKE 'sluice_sfacme_eu_%' AND active");
    CHECK_EQ_STR(slots, "2");
    free(slots);
    char *pubs =
        sql1("SELECT count(*) FROM pg_publication WHERE pubname LIKE 'sluice_sfacme_eu_%'");
    CHECK_EQ_STR(pubs, "2");
    free(pubs);
    sql("UPDATE sf_tt SET v = id WHERE id <= 25; DELETE FROM sf_tt WHERE id > 45");
    CHECK_EQ_INT(drive(&a, 2, 20), SL_OK);
    CHECK_EQ_INT(drive(&b, 2, 20), SL_OK);
    state sa = {0}, sb = {0};
    for (size_t i = 0; i < nrows(&a); i++)
        state_apply(&sa, row(&a, i), "public.sf_tt|");
    for (size_t i = 0; i < nrows(&b); i++)
        state_apply(&sb, row(&b, i), "public.sf_tt|");
    CHECK(state_equals(&sa, "SELECT id || '|' || v FROM sf_tt"));
    CHECK(state_equals(&sb, "SELECT id || '|' || v FROM sf_tt"));
    state_free(&sa);
    state_free(&sb);
    inst_free(&a);
    inst_free(&b);
}

static sl_th *volatile g_stop_th;

static void on_alarm(int sig)
{
    (void)sig;
    if (g_stop_th)
        sl_th_set_stopping(g_stop_th, 1);
}

/* No server call holds up a stop: slot creation waits for an open transaction here. */
static void test_stop_not_blocked(void)
{
    sql("DROP TABLE IF EXISTS sf_blk, sf_st; CREATE TABLE sf_blk (id int);"
        " CREATE TABLE sf_st (id int PRIMARY KEY)");
    PGconn *blocker = PQconnectdb(g_conninfo);
    CHECK(PQstatus(blocker) == CONNECTION_OK);
    /* Ended by the server after 8 s, so a plugin that waits is measured, not hung for ever. */
    PGresult *r = PQexec(blocker, "SET idle_in_transaction_session_timeout = '8s'; BEGIN;"
                                  " INSERT INTO sf_blk VALUES (1)");
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    const char *kv[] = {"conninfo", g_conninfo, "tables", "sf_st", NULL};
    inst in = {0};
    CHECK_EQ_INT(inst_create(&in, kv, "sfstop"), 0);
    /* The stop arrives 1 s into open(), from a timer (the mock host is single-threaded). */
    g_stop_th = in.t;
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {.it_value = {.tv_sec = 1}};
    double t0 = now_s();
    setitimer(ITIMER_REAL, &it, NULL);
    CHECK_EQ_INT(sl_th_open(in.t, NULL, 0, 0), -1);
    double took = now_s() - t0;
    g_stop_th = NULL;
    fprintf(stderr, "  open during stop returned after %.1f s: %s\n", took, err(&in));
    CHECK(took < 4.0);
    CHECK(strstr(err(&in), "stopping") != NULL);
    double c0 = now_s();
    sl_th_close(in.t);
    CHECK(now_s() - c0 < 2.0);
    PQfinish(blocker);
    /* drop_slot_on_stop never waits for whoever holds the slot. */
    const char *kv2[] = {"conninfo",          g_conninfo, "tables", "sf_st",
                         "drop_slot_on_stop", "true",     NULL};
    CHECK_EQ_INT(inst_open(&in, kv2, "sfstop", NULL, 0), 0);
    CHECK_EQ_INT(drive(&in, 1, 20), SL_OK);
    sl_th_set_stopping(in.t, 1);
    c0 = now_s();
    sl_th_close(in.t);
    CHECK(now_s() - c0 < 3.0);
    inst_free(&in);
    char *s = slot_of("sluice_sfstop_%");
    CHECK_EQ_STR(s, "");
    free(s);
}

/* Upgrading from the hash-less default names: the old slot and publication are named. */
static void test_legacy_names(void)
{
    sql("DROP TABLE IF EXISTS sf_leg; CREATE TABLE sf_leg (id int PRIMARY KEY)");
    sql("DROP PUBLICATION IF EXISTS sluice_sflegacy; CREATE PUBLICATION sluice_sflegacy FOR TABLE"
        " sf_leg");
    sql("SELECT pg_create_logical_replication_slot('sluice_sflegacy', 'pgoutput')");
    const char *kv[] = {"conninfo", g_conninfo, "tables", "sf_leg", NULL};
    inst in = {0};
    CHECK_EQ_INT(inst_open(&in, kv, "sflegacy", NULL, 1), 0);
    CHECK_EQ_INT(logged(&in, "slot sluice_sflegacy (the default name of an older sluice)",
                        "pg_drop_replication_slot('sluice_sflegacy')", NULL),
                 1);
    CHECK_EQ_INT(logged(&in, "publication sluice_sflegacy (the default name of an older sluice)",
                        "DROP PUBLICATION sluice_sflegacy", NULL),
                 1);
    inst_free(&in);
    /* A durable position and only the old slot: the error says how to keep using it. */
    sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
        " WHERE slot_name LIKE 'sluice_sflegacy_%' AND NOT active");
    CHECK_EQ_INT(inst_open(&in, kv, "sflegacy", "lsn=0/1", 0), -1);
    CHECK(strstr(err(&in), "is missing") != NULL);
    CHECK(strstr(err(&in),
                 "set slot = \"sluice_sflegacy\" and publication = \"sluice_sflegacy\"") != NULL);
    fprintf(stderr, "  legacy: %s\n", err(&in));
    inst_free(&in);
    sql("SELECT pg_drop_replication_slot('sluice_sflegacy')");
    sql("DROP PUBLICATION sluice_sflegacy");
}

/* ---- item 7: TLS ---- */

static void test_tls_warning(void)
{
    sql("DROP TABLE IF EXISTS sf_tls; CREATE TABLE sf_tls (id int PRIMARY KEY)");
    const char *kv[] = {"conninfo", g_conninfo, "tables", "sf_tls", NULL};
    inst in = {0};
    CHECK_EQ_INT(inst_open(&in, kv, "sftls", NULL, 1), 0);
    CHECK_EQ_INT(drive(&in, 100, 20), SL_EOF);
    CHECK_EQ_INT(logged(&in, "tenant sftls", "sslmode=", "not verified"),
                 1); /* once, not per conn */
    inst_free(&in);
    const char *root = getenv("SL_PG_SSLROOTCERT_FILE");
    if (!root || !*root) {
        fprintf(stderr, "  (no server certificate: verify-full not tested)\n");
        return;
    }
    char ci[900];
    snprintf(ci, sizeof ci, "%s sslrootcert=%s", g_conninfo, root);
    const char *kv2[] = {"conninfo", ci, "sslmode", "verify-full", "tables", "sf_tls", NULL};
    CHECK_EQ_INT(inst_open(&in, kv2, "sftls", NULL, 1), 0);
    CHECK_EQ_INT(drive(&in, 100, 20), SL_EOF);
    CHECK_EQ_INT(logged(&in, "sslmode", NULL, NULL), 0);
    inst_free(&in);
}

/* ---- item 11: probe (sluice check --connect) ---- */

static sl_status probe(const char *const *kv, const char *tenant, inst *in)
{
    if (inst_create(in, kv, tenant) != 0)
        return SL_ERROR;
    CHECK(g_plugin->source->probe != NULL);
    if (!g_plugin->source->probe)
        return SL_ERROR;
    sl_status st = sl_th_probe(in->t);
    fprintf(stderr, "  probe %s: %d %s\n", tenant, st, err(in));
    return st;
}

static void test_probe(void)
{
    sql("DROP SCHEMA IF EXISTS sfp CASCADE; CREATE SCHEMA sfp;"
        " CREATE TABLE sfp.ok (id int PRIMARY KEY); CREATE TABLE sfp.nokey (a int)");
    char *before = sql1("SELECT (SELECT count(*) FROM pg_replication_slots) || '/' ||"
                        " (SELECT count(*) FROM pg_publication)");
    inst in = {0};
    const char *kv[] = {"conninfo", g_conninfo, "tables", "sfp.*", NULL};
    CHECK_EQ_INT(probe(kv, "sfprobe", &in), SL_OK);
    CHECK_EQ_INT(logged(&in, "left out", "sfp.nokey", "REPLICA IDENTITY FULL"), 1);
    inst_free(&in);
    const char *kv2[] = {"conninfo", g_conninfo, "tables", "sfp.ok,sfp.missing", NULL};
    CHECK_EQ_INT(probe(kv2, "sfprobe", &in), SL_ERROR);
    CHECK(strstr(err(&in), "option tables names sfp.missing") != NULL);
    inst_free(&in);
    /* Bad credentials, no REPLICATION, no SELECT: each one clear line. */
    char ci[700];
    snprintf(ci, sizeof ci, "%s user=sf_nosuchuser", g_conninfo);
    const char *kv3[] = {"conninfo", ci, "tables", "sfp.ok", NULL};
    CHECK_EQ_INT(probe(kv3, "sfprobe", &in), SL_ERROR);
    CHECK(strstr(err(&in), "sf_nosuchuser") != NULL && strchr(err(&in), '\n') == NULL);
    inst_free(&in);
    sql("DROP ROLE IF EXISTS sf_norepl; CREATE ROLE sf_norepl LOGIN");
    snprintf(ci, sizeof ci, "%s user=sf_norepl", g_conninfo);
    const char *kv4[] = {"conninfo", ci, "tables", "sfp.ok", NULL};
    CHECK_EQ_INT(probe(kv4, "sfprobe", &in), SL_ERROR);
    CHECK(strstr(err(&in), "REPLICATION") != NULL);
    inst_free(&in);
    sql("ALTER ROLE sf_norepl REPLICATION");
    CHECK_EQ_INT(probe(kv4, "sfprobe", &in), SL_ERROR);
    CHECK(strstr(err(&in), "SELECT") != NULL && strstr(err(&in), "sfp.ok") != NULL);
    inst_free(&in);
    sql("GRANT USAGE ON SCHEMA sfp TO sf_norepl; GRANT SELECT ON sfp.ok TO sf_norepl");
    CHECK_EQ_INT(probe(kv4, "sfprobe", &in), SL_OK);
    inst_free(&in);
    char *after = sql1("SELECT (SELECT count(*) FROM pg_replication_slots) || '/' ||"
                       " (SELECT count(*) FROM pg_publication)");
    CHECK_EQ_STR(after, before); /* changed nothing */
    free(before);
    free(after);
    sql("DROP SCHEMA sfp CASCADE; DROP OWNED BY sf_norepl; DROP ROLE sf_norepl");
}

static int load_env(void)
{
    const char *envf = getenv("SL_PG_ENV");
    FILE *f = envf ? fopen(envf, "r") : NULL;
    if (!f)
        return -1;
    char line[1024];
    int ok = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "SL_PG_CONNINFO='", 16) == 0) {
            char *e = strrchr(line, '\'');
            if (e && e > line + 15) {
                *e = 0;
                snprintf(g_conninfo, sizeof g_conninfo, "%.500s", line + 16);
                ok = 0;
            }
        } else if (strncmp(line, "SL_PG_SSLROOTCERT='", 19) == 0) {
            char *e = strrchr(line, '\'');
            if (e && e > line + 18) {
                *e = 0;
                setenv("SL_PG_SSLROOTCERT_FILE", line + 19, 1);
            }
        }
    fclose(f);
    return ok;
}

static const char *g_only; /* argv[1]: run only this test (to check one against old code) */

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        if (!g_only || strcmp(g_only, #fn) == 0) {                                                 \
            SL_RUN(fn);                                                                            \
            drop_idle_slots();                                                                     \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    g_only = argc > 1 ? argv[1] : NULL;
    if (load_env() < 0)
        SL_SKIP("PostgreSQL fixture not running (SL_PG_ENV)");
    const char *bd = getenv("SL_BUILD_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/plugins/sl-source-postgres.so", bd ? bd : "build");
    char lerr[1024];
    g_tp = sl_th_load(path, lerr, sizeof lerr);
    if (!g_tp) {
        fprintf(stderr, "%s\n", lerr);
        return 1;
    }
    g_plugin = sl_th_desc(g_tp);
    g_db = PQconnectdb(g_conninfo);
    if (PQstatus(g_db) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s", PQerrorMessage(g_db));
        return 1;
    }
    RUN(test_tables_option);
    RUN(test_nocols);
    RUN(test_keyless);
    RUN(test_tls_warning);
    RUN(test_probe);
    RUN(test_slot_gap);
    RUN(test_two_tenants);
    RUN(test_stop_not_blocked);
    RUN(test_legacy_names);
    PQfinish(g_db);
    sl_th_unload(g_tp);
    SL_DONE();
}
