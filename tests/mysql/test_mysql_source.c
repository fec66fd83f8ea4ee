/* The mysql source on the mock host (libsluice-testhost) against the real MariaDB fixture:
 * a 200k-row table arrives in batches of at most 4096 rows, in one commit at a gtid/file/pos
 * position, with the declared schema (key, NOT NULL, source_type); a stop in the middle of the
 * snapshot returns at once and commits nothing, and close() is quick (a bound only: at 200k rows
 * draining the rest would be quick too, so this does not prove the result is cut); a
 * listed table that does not exist fails the probe with one line; no host rule is broken and
 * nothing allocated through the host is left. */
#include "sl_test.h"

#include <mysql.h>
#include <sluice/testhost.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BIG_ROWS 200000

static sl_th_plugin *g_tp;
static char g_port[16], g_user[64], g_pass[64], g_sock[512];

static int load_env(void)
{
    const char *envf = getenv("SL_MARIADB_ENV");
    FILE *f = envf ? fopen(envf, "r") : NULL;
    if (!f)
        return -1;
    char line[600];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = 0;
        char *v = eq + 1;
        if (!strcmp(line, "SL_MARIADB_PORT"))
            snprintf(g_port, sizeof g_port, "%s", v);
        else if (!strcmp(line, "SL_MARIADB_USER"))
            snprintf(g_user, sizeof g_user, "%s", v);
        else if (!strcmp(line, "SL_MARIADB_PASSWORD"))
            snprintf(g_pass, sizeof g_pass, "%s", v);
        else if (!strcmp(line, "SL_MARIADB_SOCKET"))
            snprintf(g_sock, sizeof g_sock, "%s", v);
    }
    fclose(f);
    return g_port[0] && g_sock[0] ? 0 : -1;
}

static int root_sql(const char *sql)
{
    MYSQL *m = mysql_init(NULL);
    int ok = m && mysql_real_connect(m, NULL, "root", NULL, NULL, 0, g_sock, 0) &&
             mysql_query(m, sql) == 0;
    if (!ok)
        fprintf(stderr, "sql: %s: %s\n", sql, m ? mysql_error(m) : "oom");
    mysql_close(m);
    return ok ? 0 : -1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static sl_th *make(const char *tables)
{
    sl_th *t = sl_th_new(g_tp, "mh");
    sl_th_echo(t, -1);
    CHECK(sl_th_set_all(t, "host", "127.0.0.1", "port", g_port, "user", g_user, "password", g_pass,
                        "database", "sl_mh", "tables", tables, NULL) == 0);
    CHECK(sl_th_create(t) == 0);
    return t;
}

static void done(sl_th *t)
{
    sl_th_close(t);
    CHECK_EQ_INT(sl_th_misuses(t), 0);
    CHECK_EQ_INT(sl_th_mem_now(t), 0);
    sl_th_free(t);
}

static void test_big_snapshot(void)
{
    sl_th *t = make("{ 'big' }");
    CHECK(sl_th_open(t, NULL, 0, 1) == 0);
    CHECK(sl_th_poll_until(t, 1, 120000) == SL_OK);
    CHECK(sl_th_poll(t, 10) == SL_EOF);
    CHECK_EQ_INT(sl_th_rows(t), BIG_ROWS);
    CHECK_EQ_INT(sl_th_commits(t), 1);
    size_t len;
    const char *pos = sl_th_commit_pos(t, 0, &len);
    CHECK(pos && strncmp(pos, "gtid=0-1-", 9) == 0 && strstr(pos, ";file=mysql-bin."));
    size_t emits = sl_th_emits(t), most = 0;
    for (size_t i = 0; i < emits; i++) {
        size_t n = sl_th_api()->batch_rows(sl_th_emitted(t, i));
        most = n > most ? n : most;
    }
    CHECK(emits >= BIG_ROWS / 4096 && most == 4096);
    CHECK(sl_th_find_row(t, "sl_mh.big|S|123456|row 123456|123.456") >= 0);
    CHECK(sl_th_schemas(t) == 1);
    const sl_schema *s = sl_th_schema_at(t, 0);
    CHECK(s && !strcmp(s->ns, "sl_mh") && !strcmp(s->name, "big") && s->ncols == 3);
    if (s && s->ncols == 3) {
        const sl_field *id = SL_SCHEMA_COL(s, 0), *v = SL_SCHEMA_COL(s, 1),
                       *d = SL_SCHEMA_COL(s, 2);
        CHECK(id->key == 1 && (id->flags & SL_FIELD_NOT_NULL) && id->type == SL_T_INT64);
        CHECK(id->source_type && !strcmp(id->source_type, "int(11)"));
        CHECK(v->key == 0 && !(v->flags & SL_FIELD_NOT_NULL) && v->type == SL_T_STRING);
        CHECK(d->type == SL_T_DECIMAL && d->precision == 12 && d->scale == 3);
    }
    double rows;
    CHECK(sl_th_metric(t, "snapshot_rows", &rows) && rows == BIG_ROWS);
    CHECK(sl_th_log_find(t, "snapshot of sl_mh.big done: 200000 rows") != NULL);
    done(t);
}

static void test_stop_mid_snapshot(void)
{
    sl_th *t = make("{ 'big' }");
    sl_th_keep_rows(t, 0);
    CHECK(sl_th_open(t, NULL, 0, 1) == 0);
    CHECK(sl_th_poll(t, 10) == SL_OK); /* one poll: at most 65536 rows, no commit yet */
    CHECK(sl_th_pending(t) > 0 && sl_th_pending(t) < BIG_ROWS);
    sl_th_set_stopping(t, 1);
    double t0 = now_s();
    CHECK(sl_th_poll(t, 10) == SL_OK);
    CHECK_EQ_INT(sl_th_commits(t), 0);
    sl_th_close(t);
    CHECK(now_s() - t0 < 2.0);
    CHECK_EQ_INT(sl_th_misuses(t), 0);
    CHECK_EQ_INT(sl_th_mem_now(t), 0);
    sl_th_free(t);
}

static void test_missing_table(void)
{
    sl_th *t = make("{ 'big', 'sl_mh.nope' }");
    CHECK(sl_th_probe(t) == SL_ERROR);
    CHECK(strstr(sl_th_error(t), "table sl_mh.nope does not exist") != NULL);
    CHECK(strchr(sl_th_error(t), '\n') == NULL);
    CHECK(sl_th_open(t, NULL, 0, 1) != 0);
    done(t);
}

int main(void)
{
    if (load_env() < 0)
        SL_SKIP("MariaDB fixture not running (SL_MARIADB_ENV)");
    const char *bd = getenv("SL_BUILD_DIR");
    char path[1024], lerr[1024];
    snprintf(path, sizeof path, "%s/plugins/sl-source-mysql.so", bd ? bd : "build");
    g_tp = sl_th_load(path, lerr, sizeof lerr);
    if (!g_tp) {
        fprintf(stderr, "%s\n", lerr);
        return 1;
    }
    if (root_sql("DROP DATABASE IF EXISTS sl_mh") || root_sql("CREATE DATABASE sl_mh") ||
        root_sql("CREATE TABLE sl_mh.big (id INT PRIMARY KEY, v VARCHAR(20), d DECIMAL(12,3))") ||
        root_sql("INSERT INTO sl_mh.big SELECT seq, CONCAT('row ', seq), seq / 1000"
                 " FROM sl_mh.seq_1_to_200000"))
        return 1;
    SL_RUN(test_big_snapshot);
    SL_RUN(test_stop_mid_snapshot);
    SL_RUN(test_missing_table);
    sl_th_unload(g_tp);
    SL_DONE();
}
