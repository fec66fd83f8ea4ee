/*
 * Integration tests of the postgres source plugin against a real PostgreSQL 15 (the ctest
 * fixture from scripts/pg.sh). The plugin is loaded from build/plugins and driven by the mock
 * host (libsluice-testhost): rows are checked as its row text, "<ns>.<table>|<op>|v1|v2|...".
 */
#include "sl_test.h"

#include <libpq-fe.h>
#include <sluice/testhost.h>
#include <time.h>
#include <unistd.h>

static char g_conninfo[512];
static sl_th_plugin *g_tp;
static const sl_plugin *g_plugin;
static PGconn *g_db;

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

/* First value of the first row, malloc'ed ("" when no row). */
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

/* A fresh host with the options kv (name, value, ..., NULL), created (not opened). */
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

static size_t ncommits(const inst *in)
{
    return sl_th_commits(in->t);
}

static const char *commit_pos(const inst *in, size_t i)
{
    return sl_th_commit_pos(in->t, i, NULL);
}

static const char *err(const inst *in)
{
    return sl_th_error(in->t);
}

/* "<ns>.<name>:<ncols>:<nkeys>" of the i-th schema the plugin made. */
static const char *schema_line(const inst *in, size_t i)
{
    static char line[256];
    const sl_schema *s = sl_th_schema_at(in->t, i);
    snprintf(line, sizeof line, "%s.%s:%u:%u", s->ns, s->name, s->ncols, s->nkeys);
    return line;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Polls until at least want commits were delivered (or EOF, error, timeout). */
static sl_status drive(inst *in, size_t want, double max_s)
{
    double end = now_s() + max_s;
    while (ncommits(in) < want) {
        sl_status st = sl_th_poll(in->t, 100);
        if (st == SL_EOF)
            return SL_EOF;
        if (st < 0) {
            fprintf(stderr, "poll: %d: %s\n", st, err(in));
            return st;
        }
        if (now_s() > end) {
            fprintf(stderr, "timeout waiting for %zu commits (have %zu)\n", want, ncommits(in));
            return SL_AGAIN;
        }
    }
    return SL_OK;
}

/* Polls for a while and returns the last status (to check that nothing more arrives). */
static sl_status drain(inst *in, double secs)
{
    double end = now_s() + secs;
    sl_status st = SL_AGAIN;
    while (now_s() < end) {
        st = sl_th_poll(in->t, 50);
        if (st == SL_EOF || st < 0)
            break;
    }
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_line(const inst *in, const char *line)
{
    for (size_t i = 0; i < nrows(in); i++)
        if (strcmp(row(in, i), line) == 0)
            return 1;
    return 0;
}

static void dump_rows(const inst *in)
{
    for (size_t i = 0; i < nrows(in); i++)
        fprintf(stderr, "    row: %.200s\n", row(in, i));
}

/* ---- a table-state model fed with delivered rows (key = first column) ---- */
typedef struct model {
    char **rows; /* "k|c2|c3..." cells after the op */
    size_t n, cap;
    int snapshot_append; /* 'S' rows appended without lookup (duplicates caught at check) */
} model;

static size_t cells_of(char *s, char **out, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(s, "|", &save); t && n < max;
         t = strtok_r(NULL, "|", &save))
        out[n++] = t;
    return n;
}

static int model_find(model *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++) {
        size_t kl = strcspn(m->rows[i], "|");
        if (strlen(key) == kl && strncmp(m->rows[i], key, kl) == 0)
            return (int)i;
    }
    return -1;
}

static void model_del(model *m, int i)
{
    free(m->rows[i]);
    m->rows[i] = m->rows[--m->n];
}

static void model_apply(model *m, const char *line)
{
    char *copy = strdup(line), *c[32];
    size_t n = cells_of(copy, c, 32); /* c[0] table, c[1] op, c[2..] cells */
    char op = c[1][0];
    if (op == 'T') {
        while (m->n)
            model_del(m, 0);
        free(copy);
        return;
    }
    int at = op == 'S' && m->snapshot_append ? -1 : model_find(m, c[2]);
    if (op == 'D') {
        CHECK(at >= 0);
        if (at >= 0)
            model_del(m, at);
        free(copy);
        return;
    }
    char *prev[32];
    size_t np = 0;
    char *pcopy = NULL;
    if (at >= 0) {
        pcopy = strdup(m->rows[at]);
        np = cells_of(pcopy, prev, 32);
        CHECK(op == 'U'); /* an insert of an existing key would be a duplicate */
    } else {
        CHECK(op != 'U');
    }
    char buf[8192];
    size_t o = 0;
    for (size_t i = 2; i < n; i++) {
        const char *v = c[i];
        if (strcmp(v, "\\U") == 0)
            v = i - 2 < np ? prev[i - 2] : "?missing";
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", i > 2 ? "|" : "", v);
    }
    if (at >= 0)
        model_del(m, at);
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 256;
        m->rows = realloc(m->rows, m->cap * sizeof *m->rows);
    }
    m->rows[m->n++] = strdup(buf);
    free(pcopy);
    free(copy);
}

static void model_free(model *m)
{
    while (m->n)
        model_del(m, 0);
    free(m->rows);
    memset(m, 0, sizeof *m);
}

/* The model equals SELECT <cols as text joined by '|'> FROM t. */
static void model_check(model *m, const char *select_lines)
{
    PGresult *r = PQexec(g_db, select_lines);
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
    size_t n = (size_t)PQntuples(r);
    CHECK_EQ_INT(n, m->n);
    qsort(m->rows, m->n, sizeof(char *), cmp_str);
    char **exp = calloc(n + 1, sizeof *exp);
    for (size_t i = 0; i < n; i++)
        exp[i] = PQgetvalue(r, (int)i, 0);
    qsort(exp, n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < n && i < m->n; i++) {
        if (strcmp(exp[i], m->rows[i]) != 0)
            fprintf(stderr, "  model: %.120s\n  table: %.120s\n", m->rows[i], exp[i]);
        CHECK_EQ_INT(strcmp(exp[i], m->rows[i]), 0);
    }
    free(exp);
    PQclear(r);
}

/* ---- tests ---- */

/* The delivered rows equal the lines of a query, as multisets. */
static void compare_rows(inst *in, const char *query)
{
    PGresult *r = PQexec(g_db, query);
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "%s", PQerrorMessage(g_db));
    size_t n = (size_t)PQntuples(r);
    size_t got_n = nrows(in);
    CHECK_EQ_INT(n, got_n);
    char **exp = calloc(n + 1, sizeof *exp);
    const char **got = calloc(got_n + 1, sizeof *got);
    for (size_t i = 0; i < n; i++)
        exp[i] = PQgetvalue(r, (int)i, 0);
    for (size_t i = 0; i < got_n; i++)
        got[i] = row(in, i);
    qsort(exp, n, sizeof *exp, cmp_str);
    qsort(got, got_n, sizeof *got, cmp_str);
    int shown = 0;
    for (size_t i = 0; i < n && i < got_n; i++)
        if (strcmp(exp[i], got[i]) != 0) {
            if (shown++ < 5)
                fprintf(stderr, "  got:  %s\n  want: %s\n", got[i], exp[i]);
            CHECK(0);
        }
    free(got);
    free(exp);
    PQclear(r);
}

static void test_types_snapshot(void)
{
    sql("DROP TABLE IF EXISTS ty; DROP TYPE IF EXISTS mood; DROP DOMAIN IF EXISTS posint;"
        " DROP TYPE IF EXISTS pair");
    sql("CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);"
        " CREATE TYPE pair AS (a int, b text)");
    sql("CREATE TABLE ty (id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, num numeric, f4 float4,"
        " f8 float8, b bool, t text, vc varchar(10), ch char(5), nm name, d date, tm time,"
        " ttz timetz, ts timestamp, tstz timestamptz, iv interval, u uuid, j json, jb jsonb,"
        " by bytea, en mood, arr int[], comp pair, dom posint)");
    sql("INSERT INTO ty VALUES (1, -32768, 2147483647, -9223372036854775808, 123.4500, 1.5, -0.25,"
        " true, E'tab\\there \"q\" \\\\ back\\nline2', 'vc', 'ab', 'nm', '2024-02-29',"
        " '23:59:59.999999', '12:00:00+05:30', '2024-02-29 13:14:15.123456',"
        " '2024-02-29 13:14:15.5+02', '1 year 2 mons 3 days 04:05:06',"
        " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}', '{\"b\": 1}',"
        " '\\x00ff0a5c', 'happy', '{1,2,NULL}', '(1,\"x y\")', 7)");
    sql("INSERT INTO ty (id) VALUES (2)");
    sql("INSERT INTO ty VALUES (3, 0, 0, 0, 'NaN', 'NaN', 'Infinity', false, '', 'é€', 'x', '',"
        " '0001-01-01 BC', '00:00:00', '00:00:00-08', '1900-01-01 00:00:00',"
        " '1960-06-01 12:00:00.000001+00', '-1 days', '00000000-0000-0000-0000-000000000000',"
        " 'null', '[]', '\\x', 'sad', '{}', '(,)', 1)");
    sql("INSERT INTO ty (id, d, ts, tstz, f4, f8, num) VALUES (4, 'infinity', '-infinity',"
        " 'infinity', 0.1, -2.25e-10, -0.000001)");
    sql("INSERT INTO ty (id, i8, f8, t, by) SELECT g, g::int8 * 1000003, g / 7.0, repeat('x', g % "
        "50),"
        " int4send(g) FROM generate_series(5, 9000) g");

    const char *kv[] = {"conninfo", g_conninfo, "tables", "ty", NULL};
    inst in = {0};
    int rc = inst_open(&in, kv, "types", NULL, 1);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "open: %s\n", err(&in));
        inst_close(&in);
        return;
    }
    sl_status st = drive(&in, 100, 30);
    CHECK_EQ_INT(st, SL_EOF);
    CHECK_EQ_INT(ncommits(&in), 1);
    CHECK_EQ_INT(nrows(&in), 9000);
    CHECK_EQ_INT(sl_th_schemas(in.t), 1);
    if (sl_th_schemas(in.t))
        CHECK_EQ_STR(schema_line(&in, 0), "public.ty:26:1");
        /* The expected rows in the harness's text form, from SELECT. */
#define expect_fmt                                                                                 \
    "SELECT concat_ws('|', 'public.ty', '%s', id::text, coalesce(i2::text, '\\N'),"                \
    " coalesce(i4::text, '\\N'), coalesce(i8::text, '\\N'), coalesce(num::text, '\\N'),"           \
    " coalesce(f4::text, '\\N'), coalesce(f8::text, '\\N'), coalesce(b::int::text, '\\N'),"        \
    " coalesce(t, '\\N'), coalesce(vc::text, '\\N'), CASE WHEN ch IS NULL THEN '\\N' ELSE "        \
    "format('%%s', ch) END,"                                                                       \
    " coalesce(nm::text, '\\N'),"                                                                  \
    " coalesce(CASE WHEN isfinite(d) THEN (d - date '1970-01-01')::text END, '\\N'),"              \
    " coalesce((extract(epoch FROM tm) * 1000000)::bigint::text, '\\N'),"                          \
    " coalesce(ttz::text, '\\N'),"                                                                 \
    " coalesce(CASE WHEN isfinite(ts) THEN (extract(epoch FROM ts) * 1000000)::bigint::text"       \
    " END, '\\N'),"                                                                                \
    " coalesce(CASE WHEN isfinite(tstz) THEN (extract(epoch FROM tstz) * 1000000)::bigint"         \
    "::text END, '\\N'),"                                                                          \
    " coalesce(iv::text, '\\N'), coalesce(u::text, '\\N'), coalesce(j::text, '\\N'),"              \
    " coalesce(jb::text, '\\N'), coalesce(encode(by, 'hex'), '\\N'),"                              \
    " coalesce(en::text, '\\N'), coalesce(arr::text, '\\N'), coalesce(comp::text, '\\N'),"         \
    " coalesce(dom::text, '\\N')) FROM ty WHERE %s"
    char q[4096];
    snprintf(q, sizeof q, expect_fmt, "S", "id < 100000");
    compare_rows(&in, q);
    char *pos = ncommits(&in) ? strdup(commit_pos(&in, 0)) : NULL;
    inst_close(&in);

    /* The same values through the stream (pgoutput text) instead of COPY binary. */
    CHECK_EQ_INT(inst_open(&in, kv, "types", pos, 0), 0);
    sql("INSERT INTO ty SELECT id + 100000, i2, i4, i8, num, f4, f8, b, t, vc, ch, nm, d, tm, ttz,"
        " ts, tstz, iv, u, j, jb, by, en, arr, comp, dom FROM ty WHERE id < 10");
    CHECK_EQ_INT(drive(&in, 1, 10), SL_OK);
    snprintf(q, sizeof q, expect_fmt, "I", "id > 100000");
    compare_rows(&in, q);
    free(pos);
    inst_close(&in);
    inst_free(&in);
#undef expect_fmt
}

static const char *ST_SELECT =
    "SELECT concat_ws('|', id::text, coalesce(big, '\\N'), coalesce(v::text, '\\N')) FROM st";

static void test_stream(void)
{
    sql("DROP TABLE IF EXISTS st");
    sql("CREATE TABLE st (id int PRIMARY KEY, big text, v int)");
    sql("ALTER TABLE st ALTER COLUMN big SET STORAGE EXTERNAL"); /* TOAST without compression */
    sql("INSERT INTO st SELECT 1, string_agg(md5(g::text), '') , 1 FROM generate_series(1, 100) g");
    sql("INSERT INTO st VALUES (2, 'small', 2), (3, 'c', 3)");
    const char *kv[] = {"conninfo", g_conninfo, "tables", "public.s?", NULL};
    inst in = {0};
    int rc = inst_open(&in, kv, "stream", NULL, 0);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "open: %s\n", err(&in));
        inst_close(&in);
        return;
    }
    /* After the slot's snapshot point, before the copy: must appear once, in the stream. */
    sql("INSERT INTO st VALUES (4, 'four', 4)");
    sql("UPDATE st SET v = 20 WHERE id = 2");
    sql("DELETE FROM st WHERE id = 3");
    CHECK_EQ_INT(drive(&in, 4, 15), SL_OK);
    model m = {0};
    for (size_t i = 0; i < nrows(&in); i++)
        model_apply(&m, row(&in, i));
    model_check(&m, ST_SELECT);
    size_t seen = nrows(&in);

    sql("UPDATE st SET v = 10 WHERE id = 1"); /* big (TOASTed) untouched */
    sql("UPDATE st SET id = 5 WHERE id = 4"); /* key change */
    sql("DELETE FROM st WHERE id = 2");
    sql("BEGIN; INSERT INTO st VALUES (6, 'six', 6); UPDATE st SET v = 66 WHERE id = 6;"
        " INSERT INTO st VALUES (7, NULL, NULL); COMMIT");
    CHECK_EQ_INT(drive(&in, 8, 15), SL_OK);
    CHECK(has_line(&in, "public.st|U|1|\\U|10"));
    CHECK(has_line(&in, "public.st|D|4|\\N|\\N"));
    CHECK(has_line(&in, "public.st|I|5|four|4"));
    CHECK(has_line(&in, "public.st|D|2|\\N|\\N"));
    for (size_t i = seen; i < nrows(&in); i++)
        model_apply(&m, row(&in, i));
    model_check(&m, ST_SELECT);
    seen = nrows(&in);

    sql("TRUNCATE st");
    sql("INSERT INTO st VALUES (8, 'eight', 8)");
    CHECK_EQ_INT(drive(&in, 10, 15), SL_OK);
    CHECK(has_line(&in, "public.st|T"));
    for (size_t i = seen; i < nrows(&in); i++)
        model_apply(&m, row(&in, i));
    model_check(&m, ST_SELECT);
    model_free(&m);

    /* Schema changes mid-stream. */
    sql("ALTER TABLE st ADD COLUMN extra text");
    sql("INSERT INTO st VALUES (9, 'x', 9, 'e')");
    sql("ALTER TABLE st DROP COLUMN v");
    sql("INSERT INTO st VALUES (10, 'y', 'e10')");
    sql("UPDATE st SET extra = 'z' WHERE id = 9");
    CHECK_EQ_INT(drive(&in, 13, 15), SL_OK);
    CHECK(has_line(&in, "public.st|I|9|x|9|e"));
    CHECK(has_line(&in, "public.st|I|10|y|e10"));
    CHECK(has_line(&in, "public.st|U|9|x|z"));
    int s3 = 0, s4 = 0, s3b = 0;
    for (size_t i = 0; i < sl_th_schemas(in.t); i++) {
        const char *l = schema_line(&in, i);
        if (strcmp(l, "public.st:3:1") == 0) {
            if (s4)
                s3b++;
            else
                s3++;
        }
        if (strcmp(l, "public.st:4:1") == 0)
            s4++;
    }
    CHECK(s3 == 1 && s4 == 1 && s3b == 1);
    /* Nothing more, no duplicates. */
    size_t before = nrows(&in);
    drain(&in, 0.5);
    CHECK_EQ_INT(nrows(&in), before);
    if (sl_test_failures)
        dump_rows(&in);
    inst_close(&in);
    inst_free(&in);
}

static void test_resume(void)
{
    sql("DROP TABLE IF EXISTS rs");
    sql("CREATE TABLE rs (id int PRIMARY KEY, v text)");
    sql("INSERT INTO rs VALUES (0, 'zero')");
    const char *kv[] = {"conninfo", g_conninfo, "tables", "rs", "heartbeat_interval", "3600", NULL};
    inst in = {0};
    CHECK_EQ_INT(inst_open(&in, kv, "resume", NULL, 0), 0);
    CHECK_EQ_INT(drive(&in, 1, 10), SL_OK); /* the snapshot */
    sql("INSERT INTO rs VALUES (1, 'a')");
    CHECK_EQ_INT(drive(&in, 2, 10), SL_OK);
    sql("INSERT INTO rs VALUES (2, 'b')");
    CHECK_EQ_INT(drive(&in, 3, 10), SL_OK);
    if (ncommits(&in) < 3) {
        inst_close(&in);
        return;
    }
    char *pos_a = strdup(commit_pos(&in, 1));
    sl_th_durable(in.t, commit_pos(&in, 0), strlen(commit_pos(&in, 0)));
    sl_th_durable(in.t, pos_a, strlen(pos_a));
    /* The next poll sends the standby status: confirmed_flush_lsn becomes A, not more. */
    char want[64];
    snprintf(want, sizeof want, "%s", pos_a + 4);
    char *got = NULL;
    for (int i = 0; i < 40; i++) {
        drain(&in, 0.05);
        free(got);
        got = sql1("SELECT confirmed_flush_lsn FROM pg_replication_slots"
                   " WHERE slot_name = 'sluice_resume'");
        if (strcmp(got, want) == 0)
            break;
    }
    CHECK_EQ_STR(got, want);
    free(got);
    inst_close(&in);

    sql("INSERT INTO rs VALUES (3, 'c')"); /* while stopped */
    CHECK_EQ_INT(inst_open(&in, kv, "resume", pos_a, 0), 0);
    CHECK_EQ_INT(drive(&in, 2, 10), SL_OK);
    drain(&in, 0.5);
    CHECK_EQ_INT(nrows(&in), 2);
    CHECK(has_line(&in, "public.rs|I|2|b")); /* not durable before: delivered again */
    CHECK(has_line(&in, "public.rs|I|3|c"));
    CHECK(!has_line(&in, "public.rs|I|1|a"));
    char *last = strdup(commit_pos(&in, ncommits(&in) - 1));
    inst_close(&in);

    /* once: catches up with the WAL end at open, then EOF. */
    sql("INSERT INTO rs VALUES (4, 'd')");
    CHECK_EQ_INT(inst_open(&in, kv, "resume", last, 1), 0);
    CHECK_EQ_INT(drive(&in, 100, 10), SL_EOF);
    CHECK_EQ_INT(nrows(&in), 1);
    CHECK(has_line(&in, "public.rs|I|4|d"));
    inst_close(&in);

    /* The slot survives close; a lost slot is a clear error, or a fresh snapshot on request. */
    char *slot =
        sql1("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sluice_resume'");
    CHECK_EQ_STR(slot, "1");
    free(slot);
    /* The walsender may still be exiting: retry while the slot is active. */
    for (int i = 0; i < 50; i++) {
        char *d = sql1("SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots"
                       " WHERE slot_name = 'sluice_resume' AND NOT active");
        int dropped = strcmp(d, "1") == 0;
        free(d);
        if (dropped)
            break;
        usleep(100000);
    }
    CHECK_EQ_INT(inst_open(&in, kv, "resume", last, 0), -1);
    CHECK(strstr(err(&in), "missing") != NULL && strchr(err(&in), '\n') == NULL);
    fprintf(stderr, "  lost slot error: %s\n", err(&in));
    inst_close(&in);
    const char *kv2[] = {"conninfo", g_conninfo,          "tables", "rs", "resnapshot_on_slot_loss",
                         "true",     "drop_slot_on_stop", "true",   NULL};
    CHECK_EQ_INT(inst_open(&in, kv2, "resume", last, 1), 0);
    CHECK_EQ_INT(drive(&in, 100, 10), SL_EOF);
    CHECK_EQ_INT(nrows(&in), 5);
    CHECK(has_line(&in, "public.rs|S|4|d"));
    inst_close(&in);
    slot = sql1("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sluice_resume'");
    CHECK_EQ_STR(slot, "0"); /* drop_slot_on_stop */
    free(slot);
    free(last);
    free(pos_a);
    inst_free(&in);
}

static void test_errors(void)
{
    inst in = {0};
    const char *kv1[] = {"conninfo", "host=127.0.0.1 port=1 connect_timeout=2", "tables", "x",
                         NULL};
    CHECK_EQ_INT(inst_open(&in, kv1, "err", NULL, 0), -1);
    fprintf(stderr, "  unreachable: %s\n", err(&in));
    CHECK(strstr(err(&in), "cannot connect") != NULL && strchr(err(&in), '\n') == NULL);
    inst_close(&in);
    char ci[600];
    snprintf(ci, sizeof ci, "%s user=nosuchuser", g_conninfo);
    const char *kv2[] = {"conninfo", ci, "tables", "x", NULL};
    CHECK_EQ_INT(inst_open(&in, kv2, "err", NULL, 0), -1);
    fprintf(stderr, "  bad user: %s\n", err(&in));
    CHECK(strstr(err(&in), "nosuchuser") != NULL && strchr(err(&in), '\n') == NULL);
    inst_close(&in);
    const char *kv3[] = {"conninfo", g_conninfo, "tables", "no_such_table_*", NULL};
    CHECK_EQ_INT(inst_open(&in, kv3, "err", NULL, 0), -1);
    fprintf(stderr, "  no table: %s\n", err(&in));
    CHECK(strstr(err(&in), "matches no table") != NULL);
    inst_close(&in);
    inst_free(&in);
}

static void test_full_identity(void)
{
    sql("DROP TABLE IF EXISTS fi; DROP TABLE IF EXISTS nk");
    sql("CREATE TABLE fi (id int PRIMARY KEY, v text); ALTER TABLE fi REPLICA IDENTITY FULL");
    sql("CREATE TABLE nk (a int, b text); ALTER TABLE nk REPLICA IDENTITY FULL");
    sql("INSERT INTO fi VALUES (1, 'a'), (2, 'b'), (3, 'c'); INSERT INTO nk VALUES (1, 'x')");
    const char *kv[] = {"conninfo", g_conninfo, "tables", "fi,nk", NULL};
    inst in = {0};
    CHECK_EQ_INT(inst_open(&in, kv, "full", NULL, 0), 0);
    CHECK_EQ_INT(drive(&in, 1, 10), SL_OK);
    sql("UPDATE fi SET v = 'aa' WHERE id = 1");
    sql("UPDATE fi SET id = 20 WHERE id = 2");
    sql("DELETE FROM fi WHERE id = 3");
    sql("UPDATE nk SET b = 'y'");
    sql("DELETE FROM nk");
    CHECK_EQ_INT(drive(&in, 6, 10), SL_OK);
    CHECK(has_line(&in, "public.fi|U|1|aa"));
    CHECK(has_line(&in, "public.fi|D|2|\\N"));
    CHECK(has_line(&in, "public.fi|I|20|b"));
    CHECK(has_line(&in, "public.fi|D|3|\\N"));
    CHECK(has_line(&in, "public.nk|D|1|x"));
    CHECK(has_line(&in, "public.nk|I|1|y"));
    CHECK(has_line(&in, "public.nk|D|1|y"));
    int found = 0;
    for (size_t i = 0; i < sl_th_schemas(in.t); i++)
        found += strcmp(schema_line(&in, i), "public.fi:2:1") == 0 ||
                 strcmp(schema_line(&in, i), "public.nk:2:0") == 0;
    CHECK_EQ_INT(found, 2);
    model m = {0};
    for (size_t i = 0; i < nrows(&in); i++)
        if (strncmp(row(&in, i), "public.fi|", 10) == 0)
            model_apply(&m, row(&in, i));
    model_check(&m, "SELECT concat_ws('|', id::text, v) FROM fi");
    model_free(&m);
    if (sl_test_failures)
        dump_rows(&in);
    inst_close(&in);
    inst_free(&in);
}

/* Changes committed while the COPY is half way: each appears exactly once (in the stream). */
static void test_snapshot_concurrent(void)
{
    sql("DROP TABLE IF EXISTS big");
    sql("CREATE TABLE big (id int PRIMARY KEY, v int)");
    sql("INSERT INTO big SELECT g, g FROM generate_series(1, 80000) g");
    const char *kv[] = {"conninfo", g_conninfo, "tables", "big", NULL};
    inst in = {0};
    CHECK_EQ_INT(inst_open(&in, kv, "conc", NULL, 0), 0);
    CHECK_EQ_INT(sl_th_poll(in.t, 100), SL_OK); /* first 65536 rows */
    CHECK_EQ_INT(ncommits(&in), 0);
    CHECK(sl_th_pending(in.t) > 0 && sl_th_pending(in.t) < 80000);
    sql("UPDATE big SET v = -1 WHERE id IN (1, 79999)");
    sql("DELETE FROM big WHERE id IN (2, 79998)");
    sql("INSERT INTO big VALUES (80001, 1)");
    sql("UPDATE big SET id = 80002 WHERE id = 40000");
    CHECK_EQ_INT(drive(&in, 5, 20), SL_OK);
    model m = {.snapshot_append = 1};
    size_t snap = 0;
    for (size_t i = 0; i < nrows(&in); i++) {
        snap += strstr(row(&in, i), "|S|") != NULL;
        model_apply(&m, row(&in, i));
    }
    CHECK_EQ_INT(snap, 80000);
    model_check(&m, "SELECT concat_ws('|', id::text, v::text) FROM big");
    model_free(&m);
    inst_close(&in);
    inst_free(&in);
}

static void test_tls(void)
{
    const char *root = getenv("SL_PG_SSLROOTCERT_FILE");
    if (!root || !*root) {
        fprintf(stderr, "  (no server certificate: TLS not tested)\n");
        return;
    }
    sql("DROP TABLE IF EXISTS tl; CREATE TABLE tl (id int PRIMARY KEY)");
    char ci[900];
    snprintf(ci, sizeof ci, "%s sslrootcert=%s", g_conninfo, root);
    const char *kv[] = {"conninfo", ci, "sslmode", "verify-full", "tables", "tl", NULL};
    inst in = {0};
    CHECK_EQ_INT(inst_open(&in, kv, "tls", NULL, 0), 0);
    char *n = sql1("SELECT count(*) FILTER (WHERE s.ssl) || '/' || count(*) FROM pg_stat_activity a"
                   " JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = 'sluice/tls'");
    CHECK_EQ_STR(n, "2/2"); /* the SQL and the replication connection */
    free(n);
    inst_close(&in);
    /* verify-full without the CA: a clean one-line error. */
    const char *kv2[] = {"conninfo", g_conninfo, "sslmode", "verify-full", "tables", "tl", NULL};
    setenv("PGSSLROOTCERT", "/nonexistent/root.crt", 1);
    CHECK_EQ_INT(inst_open(&in, kv2, "tls", NULL, 0), -1);
    unsetenv("PGSSLROOTCERT");
    fprintf(stderr, "  verify-full without CA: %s\n", err(&in));
    CHECK(strstr(err(&in), "cannot connect") != NULL && strchr(err(&in), '\n') == NULL);
    inst_close(&in);
    inst_free(&in);
}

static void reconnect_db(void)
{
    PQfinish(g_db);
    g_db = PQconnectdb(g_conninfo);
    CHECK(PQstatus(g_db) == CONNECTION_OK);
}

/* Server restart: poll reports SL_RETRY with a one-line error; reopening at the durable position
 * loses nothing and repeats nothing. */
static void test_restart(void)
{
    const char *src = getenv("SL_SOURCE_DIR"), *envf = getenv("SL_PG_ENV");
    char dir[1024], cmd[2400];
    snprintf(dir, sizeof dir, "%s", envf);
    char *slash = strrchr(dir, '/');
    if (!src || !slash)
        return;
    *slash = 0;
    sql("DROP TABLE IF EXISTS rr; CREATE TABLE rr (id int PRIMARY KEY)");
    const char *kv[] = {"conninfo", g_conninfo, "tables", "rr", NULL};
    inst in = {0};
    CHECK_EQ_INT(inst_open(&in, kv, "restart", NULL, 0), 0);
    CHECK_EQ_INT(drive(&in, 1, 10), SL_OK);
    sql("INSERT INTO rr VALUES (1)");
    CHECK_EQ_INT(drive(&in, 2, 10), SL_OK);
    if (ncommits(&in) < 2) {
        inst_close(&in);
        return;
    }
    char *pos = strdup(commit_pos(&in, 1));
    sl_th_durable(in.t, pos, strlen(pos));
    drain(&in, 0.2);
    snprintf(cmd, sizeof cmd, "'%s/scripts/pg.sh' stop '%s' >/dev/null", src, dir);
    CHECK_EQ_INT(system(cmd), 0);
    sl_status st = drain(&in, 5);
    CHECK_EQ_INT(st, SL_RETRY);
    fprintf(stderr, "  server stopped: %s\n", err(&in));
    CHECK(err(&in)[0] && strchr(err(&in), '\n') == NULL);
    inst_close(&in);
    snprintf(cmd, sizeof cmd, "'%s/scripts/pg.sh' start '%s' >/dev/null", src, dir);
    CHECK_EQ_INT(system(cmd), 0);
    reconnect_db();
    sql("SET TimeZone = 'UTC'");
    sql("INSERT INTO rr VALUES (2)");
    CHECK_EQ_INT(inst_open(&in, kv, "restart", pos, 0), 0);
    CHECK_EQ_INT(drive(&in, 1, 10), SL_OK);
    drain(&in, 0.3);
    CHECK_EQ_INT(nrows(&in), 1);
    CHECK(has_line(&in, "public.rr|I|2"));
    free(pos);
    inst_close(&in);
    inst_free(&in);
}

/* A partitioned table: copied through its root, changes arrive under the root's name. */
static void test_partitioned(void)
{
    sql("DROP TABLE IF EXISTS pt");
    sql("CREATE TABLE pt (id int PRIMARY KEY, v text) PARTITION BY RANGE (id)");
    sql("CREATE TABLE pt_1 PARTITION OF pt FOR VALUES FROM (0) TO (100)");
    sql("CREATE TABLE pt_2 PARTITION OF pt FOR VALUES FROM (100) TO (200)");
    sql("INSERT INTO pt VALUES (1, 'a'), (150, 'b')");
    const char *kv[] = {"conninfo", g_conninfo, "tables", "pt*", NULL};
    inst in = {0};
    CHECK_EQ_INT(inst_open(&in, kv, "part", NULL, 0), 0);
    CHECK_EQ_INT(drive(&in, 1, 10), SL_OK);
    sql("INSERT INTO pt VALUES (2, 'c'), (151, 'd')");
    sql("UPDATE pt SET v = 'bb' WHERE id = 150");
    CHECK_EQ_INT(drive(&in, 3, 10), SL_OK);
    CHECK(has_line(&in, "public.pt|S|1|a") && has_line(&in, "public.pt|S|150|b"));
    CHECK(has_line(&in, "public.pt|I|2|c") && has_line(&in, "public.pt|I|151|d"));
    CHECK(has_line(&in, "public.pt|U|150|bb"));
    CHECK_EQ_INT(nrows(&in), 5);
    if (sl_test_failures)
        dump_rows(&in);
    inst_close(&in);
    inst_free(&in);
}

/* Connection by fields instead of conninfo. */
static void test_fields(void)
{
    const char *p = strstr(g_conninfo, "port="), *u = "postgres";
    char port[16] = "";
    if (p)
        snprintf(port, sizeof port, "%.*s", (int)strcspn(p + 5, " "), p + 5);
    sql("DROP TABLE IF EXISTS fl; CREATE TABLE fl (id int PRIMARY KEY); INSERT INTO fl VALUES (1)");
    const char *kv[] = {"host",     "127.0.0.1", "port",   port,       "dbname",
                        "postgres", "user",      u,        "password", "unused",
                        "sslmode",  "disable",   "tables", "fl",       NULL};
    inst in = {0};
    CHECK_EQ_INT(inst_open(&in, kv, "fields", NULL, 1), 0);
    CHECK_EQ_INT(drive(&in, 100, 10), SL_EOF);
    CHECK(has_line(&in, "public.fl|S|1"));
    inst_close(&in);
    inst_free(&in);
}

/* snapshot = never / always, an existing publication, a bad option value. */
static void test_modes(void)
{
    sql("DROP TABLE IF EXISTS nv; CREATE TABLE nv (id int PRIMARY KEY); INSERT INTO nv VALUES (1)");
    sql("DROP TABLE IF EXISTS nv2; CREATE TABLE nv2 (id int PRIMARY KEY)");
    sql("DROP PUBLICATION IF EXISTS mypub; CREATE PUBLICATION mypub FOR TABLE nv2");
    const char *kv[] = {"conninfo", g_conninfo,    "tables", "nv,nv2", "snapshot",
                        "never",    "publication", "mypub",  NULL};
    inst in = {0};
    CHECK_EQ_INT(inst_open(&in, kv, "modes", NULL, 0), 0);
    sql("INSERT INTO nv VALUES (2)");
    sql("INSERT INTO nv2 VALUES (20)");
    CHECK_EQ_INT(drive(&in, 2, 10), SL_OK);
    CHECK_EQ_INT(nrows(&in), 2); /* no snapshot rows */
    CHECK(has_line(&in, "public.nv|I|2") && has_line(&in, "public.nv2|I|20"));
    char *n = sql1("SELECT count(*) FROM pg_publication_tables WHERE pubname = 'mypub'");
    CHECK_EQ_STR(n, "2"); /* the missing selected table was added to the existing publication */
    free(n);
    char *pos = strdup(commit_pos(&in, ncommits(&in) - 1));
    inst_close(&in);

    const char *kv2[] = {"conninfo", g_conninfo,    "tables", "nv,nv2", "snapshot",
                         "always",   "publication", "mypub",  NULL};
    CHECK_EQ_INT(inst_open(&in, kv2, "modes", pos, 1), 0);
    CHECK_EQ_INT(drive(&in, 100, 10), SL_EOF);
    CHECK_EQ_INT(nrows(&in), 3); /* a full copy again, despite the position */
    CHECK(has_line(&in, "public.nv|S|1") && has_line(&in, "public.nv|S|2") &&
          has_line(&in, "public.nv2|S|20"));
    inst_close(&in);
    free(pos);

    const char *kv3[] = {"conninfo", g_conninfo, "tables", "nv", "snapshot", "sometimes", NULL};
    CHECK_EQ_INT(inst_create(&in, kv3, "modes"), -1);
    CHECK(strstr(err(&in), "sometimes") != NULL && strstr(err(&in), "choices") != NULL);
    inst_free(&in);
}

/* Protocol 2 streaming: a large transaction arrives in stream blocks before its commit; a
 * rolled-back savepoint and a rolled-back transaction leave nothing. The first transaction
 * (~7 MB of messages) outgrows the plugin's in-memory budget (SL_PG_SX_MEM_BUDGET), so the
 * savepoint's rows sit in the spill file and must be skipped there. */
static void test_streaming(void)
{
    sql("ALTER SYSTEM SET logical_decoding_work_mem = '64kB'");
    sql("SELECT pg_reload_conf()");
    sql("DROP TABLE IF EXISTS sx; CREATE TABLE sx (id int PRIMARY KEY, v text)");
    const char *kv[] = {"conninfo", g_conninfo, "tables", "sx", NULL};
    inst in = {0};
    CHECK_EQ_INT(inst_open(&in, kv, "strm", NULL, 0), 0);
    CHECK_EQ_INT(drive(&in, 1, 10), SL_OK);
    sql("BEGIN; INSERT INTO sx SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 60000)"
        " g;"
        " SAVEPOINT a; INSERT INTO sx SELECT g, 'gone' FROM generate_series(100000, 101000) g;"
        " ROLLBACK TO a; INSERT INTO sx VALUES (99999, 'kept'); UPDATE sx SET v = 'u' WHERE id = 1;"
        " COMMIT");
    sql("BEGIN; INSERT INTO sx SELECT g, repeat(md5(g::text), 3) FROM generate_series(200000, "
        "205000)"
        " g; ROLLBACK");
    sql("INSERT INTO sx VALUES (300000, 'small')");
    CHECK_EQ_INT(drive(&in, 3, 20), SL_OK);
    drain(&in, 0.5);
    CHECK_EQ_INT(ncommits(&in), 3);
    model m = {0};
    for (size_t i = 0; i < nrows(&in); i++)
        model_apply(&m, row(&in, i));
    model_check(&m, "SELECT concat_ws('|', id::text, v) FROM sx");
    model_free(&m);
    CHECK(has_line(&in, "public.sx|I|99999|kept") && has_line(&in, "public.sx|U|1|u"));
    char *n = sql1("SELECT stream_txns > 0 FROM pg_stat_replication_slots"
                   " WHERE slot_name = 'sluice_strm'");
    CHECK_EQ_STR(n, "t"); /* the server did stream */
    free(n);
    /* ... and the first transaction went past the in-memory budget into the spill file. */
    CHECK(sl_th_log_find(in.t, "spilling streamed transaction") != NULL);
    inst_close(&in);
    inst_free(&in);
    sql("ALTER SYSTEM RESET logical_decoding_work_mem");
    sql("SELECT pg_reload_conf()");
}

/* The fixture server has 10 slots: drop the ones a finished test left (their walsenders may
 * still be exiting for a moment). */
static void drop_idle_slots(void)
{
    for (int i = 0; i < 30; i++) {
        PGresult *r = PQexec(g_db, "SELECT count(pg_drop_replication_slot(slot_name)) FILTER"
                                   " (WHERE NOT active), count(*) FILTER (WHERE active)"
                                   " FROM pg_replication_slots");
        int busy = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 1), "0") != 0;
        PQclear(r);
        if (!busy)
            return;
        usleep(100000);
    }
}

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        SL_RUN(fn);                                                                                \
        drop_idle_slots();                                                                         \
    } while (0)

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

int main(void)
{
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
    CHECK(g_plugin->kind == SL_KIND_SOURCE && strcmp(g_plugin->name, "postgres") == 0);
    g_db = PQconnectdb(g_conninfo);
    if (PQstatus(g_db) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s", PQerrorMessage(g_db));
        return 1;
    }
    sql("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';"
        " SET extra_float_digits = 3");
    RUN(test_errors);
    RUN(test_fields);
    RUN(test_types_snapshot);
    RUN(test_stream);
    RUN(test_resume);
    RUN(test_full_identity);
    RUN(test_partitioned);
    RUN(test_modes);
    RUN(test_streaming);
    RUN(test_snapshot_concurrent);
    RUN(test_tls);
    RUN(test_restart);
    PQfinish(g_db);
    sl_th_unload(g_tp);
    SL_DONE();
}
