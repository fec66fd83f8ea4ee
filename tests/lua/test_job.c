/* Job-file loader: golden diagnostics for broken jobs, values and defaults of valid ones, the
 * hash, and sandbox escapes. Job files live in tests/lua/jobs; NAME.expected holds the exact
 * diagnostics for NAME.lua (paths as given: the test runs inside the jobs directory). */
#include "job.h"
#include "job_sandbox.h"
#include "job_scan.h"
#include "sl_test.h"

#include <dirent.h>
#include <lauxlib.h>
#include <lualib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- fake plugins: only descriptors, the loader never calls into them ---- */

static const sl_option generator_opts[] = {
    SL_OPTION("tables", SL_OPT_LIST, 0, "gen", "tables to generate"),
    SL_OPTION("rows", SL_OPT_INT, 0, "1000", "rows per table"),
    SL_OPTION("rate", SL_OPT_DOUBLE, 0, "0", "rows per second, 0 = unlimited"),
    SL_OPTION("deletes", SL_OPT_BOOL, 0, "false", "also generate deletes"),
    SL_OPTION("seed", SL_OPT_INT, 0, NULL, "random seed"),
    SL_OPTIONS_END,
};
static const char *const snapshot_modes[] = {"initial", "never", "always", NULL};
static const sl_option postgres_opts[] = {
    SL_OPTION("conninfo", SL_OPT_STRING, SL_OPT_REQUIRED | SL_OPT_SECRET, NULL,
              "libpq connection string"),
    SL_OPTION("tables", SL_OPT_LIST, SL_OPT_REQUIRED, NULL, "tables to replicate"),
    SL_OPTION("slot", SL_OPT_STRING, SL_OPT_EXCLUSIVE, "sluice", "replication slot"),
    SL_OPTION("publication", SL_OPT_STRING, SL_OPT_EXCLUSIVE, NULL, "publication"),
    SL_OPTION_CHOICE("snapshot", 0, "initial", "initial | never | always", snapshot_modes),
    SL_OPTION_RANGE("heartbeat_interval", SL_OPT_INT, 0, "10", "seconds", 1, 3600),
    SL_OPTIONS_END,
};
static const sl_option select_opts[] = {
    SL_OPTION("columns", SL_OPT_LIST, SL_OPT_REQUIRED, NULL, "columns to keep"),
    SL_OPTIONS_END,
};
static const char *const mask_levels[] = {"low", "medium", "high", NULL};
static const sl_option mask_opts[] = {
    SL_OPTION("rules", SL_OPT_TABLE, SL_OPT_REQUIRED, NULL, "{ {column=..., method=...}, ... }"),
    SL_OPTION("methods", SL_OPT_MAP, 0, NULL, "column = method"),
    {.name = "levels", .type = SL_OPT_LIST, .choices = mask_levels, .help = "levels"},
    SL_OPTION_RANGE("ratio", SL_OPT_DOUBLE, 0, NULL, "share of rows", 0, 1),
    SL_OPTION("key", SL_OPT_STRING, SL_OPT_EXCLUSIVE | SL_OPT_SECRET, NULL, "hmac key"),
    SL_OPTIONS_END,
};
static const sl_option file_opts[] = {
    SL_OPTION("dir", SL_OPT_STRING, SL_OPT_REQUIRED, NULL, "output directory"),
    SL_OPTION("fsync", SL_OPT_BOOL, 0, "true", "fsync files"),
    SL_OPTIONS_END,
};
static const sl_option s3_opts[] = {
    SL_OPTION("bucket", SL_OPT_STRING, SL_OPT_REQUIRED, NULL, "bucket"),
    SL_OPTION("region", SL_OPT_STRING, 0, "us-east-1", "region"),
    SL_OPTION("endpoint", SL_OPT_STRING, 0, NULL, "endpoint URL"),
    SL_OPTION("access_key_id", SL_OPT_STRING, 0, NULL, "access key"),
    SL_OPTION("secret_access_key", SL_OPT_STRING, SL_OPT_SECRET, NULL, "secret key"),
    SL_OPTION("part_size_mb", SL_OPT_INT, 0, "8", "multipart part size"),
    SL_OPTIONS_END,
};

#define FAKE(kind_, name_, opts_)                                                                  \
    {                                                                                              \
        .path = NULL, .dl = NULL,                                                                  \
        .desc = {SL_PLUGIN_INIT(kind_, name_, "0", "fake"), .options = opts_},                     \
    }

static sl_plugin_entry fake_items[] = {
    FAKE(SL_KIND_SOURCE, "postgres", postgres_opts),
    FAKE(SL_KIND_SOURCE, "generator", generator_opts),
    FAKE(SL_KIND_TRANSFORM, "select", select_opts),
    FAKE(SL_KIND_TRANSFORM, "mask", mask_opts),
    FAKE(SL_KIND_SINK, "s3", s3_opts),
    FAKE(SL_KIND_SINK, "file", file_opts),
};
static const sl_registry reg = {fake_items, sizeof fake_items / sizeof fake_items[0], NULL, 0};

/* ---- helpers ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    char *buf = calloc(1, 65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    (void)n;
    fclose(f);
    return buf;
}

static char *joined(const sl_diag *d)
{
    size_t len = 1;
    for (size_t i = 0; i < d->n; i++) {
        len += strlen(d->lines[i]) + 1;
    }
    char *s = calloc(1, len);
    for (size_t i = 0; s && i < d->n; i++) {
        strcat(s, d->lines[i]);
        strcat(s, "\n");
    }
    return s;
}

/* Loads NAME.lua, which must fail with exactly the lines of NAME.expected. */
static void golden(const char *name)
{
    char path[300], exp_path[300];
    snprintf(path, sizeof path, "%s.lua", name);
    snprintf(exp_path, sizeof exp_path, "%s.expected", name);
    sl_diag d = {0};
    sl_jobdesc *job = sl_job_load(path, &reg, &d);
    char *got = joined(&d);
    char *want = slurp(exp_path);
    if (getenv("SL_UPDATE_GOLDEN") && got) {
        /* Developer aid: rewrite the .expected files, then review them with git diff. */
        FILE *f = fopen(exp_path, "w");
        if (f) {
            fputs(got, f);
            fclose(f);
        }
    } else if (job || !want || strcmp(got, want) != 0) {
        fprintf(stderr, "golden %s: job=%p\n--- want\n%s--- got\n%s---\n", name, (void *)job,
                want ? want : "(no .expected file)\n", got);
        sl_test_failures++;
    }
    free(got);
    free(want);
    sl_job_free(job);
    sl_diag_free(&d);
}

static sl_jobdesc *load_ok(const char *path)
{
    sl_diag d = {0};
    sl_jobdesc *job = sl_job_load(path, &reg, &d);
    for (size_t i = 0; i < d.n; i++) {
        fprintf(stderr, "unexpected: %s\n", d.lines[i]);
    }
    CHECK(job != NULL);
    CHECK_EQ_INT(d.n, 0);
    sl_diag_free(&d);
    return job;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char mark_path[512];
static char tmp_dir[64];

/* ---- tests ---- */

static int is_expected(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 9 && strcmp(e->d_name + n - 9, ".expected") == 0;
}

/* Every NAME.expected in the jobs directory is one golden case: syntax and runtime errors,
 * validation problems, sandbox escapes (which also try to create mark_path) and the limits. */
static void test_goldens(void)
{
    struct dirent **ents = NULL;
    int n = scandir(".", &ents, is_expected, alphasort);
    CHECK(n >= 30);
    for (int i = 0; i < n; i++) {
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(strlen(ents[i]->d_name) - 9), ents[i]->d_name);
        double t0 = now_s();
        golden(name);
        double dt = now_s() - t0;
        if (dt > 0.05) {
            fprintf(stderr, "  %s stopped after %.3f s\n", name, dt);
        }
        CHECK(dt < 30.0);
        /* The escape scripts try to create this file; it must never exist. */
        CHECK(access(mark_path, F_OK) != 0);
        free(ents[i]);
    }
    free(ents);
}

static void test_valid(void)
{
    sl_jobdesc *job = load_ok("valid.lua");
    if (!job) {
        return;
    }
    CHECK_EQ_STR(job->file, "valid.lua");
    CHECK_EQ_STR(job->tenant, "acme");
    CHECK_EQ_STR(job->source.plugin, "postgres");
    CHECK(job->source.entry == &fake_items[0]);
    CHECK_EQ_INT(job->source.line, 6);
    const sl_optval *v = sl_spec_opt(&job->source, "conninfo");
    CHECK(v && v->s && strcmp(v->s, "host=127.0.0.1 dbname=acme") == 0);
    CHECK(v && v->flags == (SL_OPT_REQUIRED | SL_OPT_SECRET) && v->line == 8 && !v->is_default);
    v = sl_spec_opt(&job->source, "tables");
    CHECK(v && v->type == SL_OPT_LIST && v->nlist == 2);
    CHECK(v && v->nlist == 2 && strcmp(v->list[0], "public.orders") == 0 &&
          strcmp(v->list[1], "customers") == 0);
    CHECK(v && strcmp(v->s, "public.orders,customers") == 0);
    v = sl_spec_opt(&job->source, "slot");
    CHECK(v && v->is_default && v->line == 0 && strcmp(v->s, "sluice") == 0);
    CHECK_EQ_INT(job->source.nopts, 5); /* + snapshot and heartbeat_interval defaults */

    CHECK_EQ_INT(job->ntransforms, 2);
    if (job->ntransforms == 2) {
        CHECK_EQ_INT(job->transforms[0].line, 12);
        CHECK_EQ_INT(job->transforms[1].line, 13);
        v = sl_spec_opt(&job->transforms[0], "columns");
        CHECK(v && v->nlist == 1 && strcmp(v->list[0], "id") == 0);
        v = sl_spec_opt(&job->transforms[1], "columns");
        CHECK(v && v->nlist == 2 && strcmp(v->list[1], "name") == 0);
    }

    CHECK_EQ_STR(job->sink.plugin, "s3");
    CHECK_EQ_INT(job->sink.line, 15);
    v = sl_spec_opt(&job->sink, "bucket");
    CHECK(v && strcmp(v->s, "acme-qvd") == 0 && v->line == 17);
    v = sl_spec_opt(&job->sink, "region");
    CHECK(v && strcmp(v->s, "eu-west-1") == 0 && !v->is_default);
    v = sl_spec_opt(&job->sink, "secret_access_key");
    CHECK(v && strcmp(v->s, "s3cr3t") == 0 && (v->flags & SL_OPT_SECRET));
    v = sl_spec_opt(&job->settings, "flush_interval");
    CHECK(v && v->type == SL_OPT_DOUBLE && v->d == 2.5 && strcmp(v->s, "2.5") == 0);
    CHECK(v && v->line == 22);
    v = sl_spec_opt(&job->settings, "changes");
    CHECK(v && v->i == 1 && strcmp(v->s, "true") == 0);
    v = sl_spec_opt(&job->sink, "part_size_mb");
    CHECK(v && v->type == SL_OPT_INT && v->i == 16 && strcmp(v->s, "16") == 0);
    /* job-wide defaults, and none of them in the sink's options */
    v = sl_spec_opt(&job->settings, "flush_max_changes");
    CHECK(v && v->is_default && v->i == 10000);
    v = sl_spec_opt(&job->settings, "format");
    CHECK(v && v->is_default && strcmp(v->s, "qvd") == 0);
    v = sl_spec_opt(&job->settings, "memory_limit_mb");
    CHECK(v && v->is_default && v->i == 0);
    CHECK(sl_spec_opt(&job->settings, "timezone") == NULL); /* no default */
    CHECK_EQ_INT(job->settings.nopts, 5);
    for (const sl_option *o = sl_job_options; o->name; o++) {
        CHECK(sl_spec_opt(&job->sink, o->name) == NULL);
    }
    CHECK(sl_spec_opt(&job->sink, "endpoint") == NULL);
    /* sorted by name */
    for (size_t i = 1; i < job->sink.nopts; i++) {
        CHECK(strcmp(job->sink.opts[i - 1].name, job->sink.opts[i].name) < 0);
    }
    CHECK_EQ_INT(strlen(job->hash), 16);

    /* Same file again: same hash. One option changed: another hash. */
    sl_jobdesc *again = load_ok("valid.lua");
    sl_jobdesc *changed = load_ok("valid_changed.lua");
    if (again && changed) {
        CHECK_EQ_STR(again->hash, job->hash);
        CHECK(strcmp(changed->hash, job->hash) != 0);
    }
    sl_job_free(again);
    sl_job_free(changed);

    /* A secret is part of the hash: a changed environment value changes it too. */
    setenv("SL_TEST_PG", "host=127.0.0.1 dbname=other", 1);
    sl_jobdesc *other = load_ok("valid.lua");
    CHECK(other && strcmp(other->hash, job->hash) != 0);
    sl_job_free(other);
    setenv("SL_TEST_PG", "host=127.0.0.1 dbname=acme", 1);
    sl_job_free(job);
}

static void test_valid_plain(void)
{
    sl_jobdesc *job = load_ok("valid_plain.lua");
    if (!job) {
        return;
    }
    CHECK_EQ_STR(job->tenant, "t-1.x_Y");
    CHECK_EQ_INT(job->ntransforms, 0);
    CHECK_EQ_INT(job->source.line, 4);
    CHECK_EQ_INT(job->sink.line, 5);
    const sl_optval *v = sl_spec_opt(&job->source, "rows");
    CHECK(v && v->is_default && v->type == SL_OPT_INT && v->i == 1000);
    v = sl_spec_opt(&job->source, "rate");
    CHECK(v && v->is_default && v->d == 0.0);
    v = sl_spec_opt(&job->source, "deletes");
    CHECK(v && v->is_default && v->i == 0);
    v = sl_spec_opt(&job->source, "tables");
    CHECK(v && v->is_default && v->nlist == 1 && strcmp(v->list[0], "gen") == 0);
    CHECK(sl_spec_opt(&job->source, "seed") == NULL);
    v = sl_spec_opt(&job->sink, "fsync");
    CHECK(v && v->is_default && v->i == 1);
    v = sl_spec_opt(&job->settings, "flush_interval");
    CHECK(v && v->is_default && v->d == 1.0 && strcmp(v->s, "1") == 0);

    /* Writing defaults out does not change the hash. */
    sl_jobdesc *explicit = load_ok("valid_plain_explicit.lua");
    if (explicit) {
        CHECK_EQ_STR(explicit->hash, job->hash);
        v = sl_spec_opt(&explicit->source, "rows");
        CHECK(v && !v->is_default && v->i == 1000 && v->line == 4);
    }
    sl_job_free(explicit);
    sl_job_free(job);
}

static void test_secret_ok(void)
{
    sl_jobdesc *job = load_ok("secret_ok.lua");
    const sl_optval *v = job ? sl_spec_opt(&job->sink, "secret_access_key") : NULL;
    CHECK(v && strcmp(v->s, "s3cr3t") == 0);
    sl_job_free(job);

    /* Relative to the job file's directory, not the working directory. */
    char cwd[512], path[600];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(path, sizeof path, "%s/secret_ok.lua", cwd);
    CHECK(chdir("/") == 0);
    job = load_ok(path);
    v = job ? sl_spec_opt(&job->sink, "secret_access_key") : NULL;
    CHECK(v && strcmp(v->s, "s3cr3t") == 0);
    sl_job_free(job);
    CHECK(chdir(cwd) == 0);

    /* The path the user gave is the FILE of every diagnostic. */
    snprintf(path, sizeof path, "%s/syntax_error.lua", cwd);
    sl_diag d = {0};
    CHECK(sl_job_load(path, &reg, &d) == NULL);
    CHECK_EQ_INT(d.n, 1);
    char want[700];
    snprintf(want, sizeof want, "%s:4: '}' expected (to close '{' at line 1) near 'sink'", path);
    CHECK(d.n == 1 && strcmp(d.lines[0], want) == 0);
    sl_diag_free(&d);
}

/* The key scanner skips comments and strings and finds name = and ["name"] = forms. */
static void test_scan(void)
{
    const char *text = "-- a = 1\n"                                        /* 1: comment */
                       "--[==[ b = 2\n ]] c = 3 ]==]\n"                    /* 2-3: long comment */
                       "local s = [[ d = 4\n]]\n"                          /* 4-5: long string */
                       "local q = \"e = 5\" if x == y then end\n"          /* 6 */
                       "t = { [\"f\"] = 6, g=7, h\n= 8, 1e+5, i.j = 9 }\n" /* 7-8 */
                       "return t\n";                                       /* 9 */
    sl_scan sc;
    sl_scan_text(&sc, text, strlen(text));
    CHECK_EQ_INT(sl_scan_find(&sc, "a", 1, 0), 0);
    CHECK_EQ_INT(sl_scan_find(&sc, "b", 1, 0), 0);
    CHECK_EQ_INT(sl_scan_find(&sc, "c", 1, 0), 0);
    CHECK_EQ_INT(sl_scan_find(&sc, "d", 1, 0), 0);
    CHECK_EQ_INT(sl_scan_find(&sc, "e", 1, 0), 0);
    CHECK_EQ_INT(sl_scan_find(&sc, "x", 1, 0), 0);
    CHECK_EQ_INT(sl_scan_find(&sc, "s", 1, 0), 4);
    CHECK_EQ_INT(sl_scan_find(&sc, "q", 1, 0), 6);
    CHECK_EQ_INT(sl_scan_find(&sc, "t", 1, 0), 7);
    CHECK_EQ_INT(sl_scan_find(&sc, "f", 1, 0), 7);
    CHECK_EQ_INT(sl_scan_find(&sc, "g", 1, 0), 7);
    CHECK_EQ_INT(sl_scan_find(&sc, "h", 1, 0), 7);
    CHECK_EQ_INT(sl_scan_find(&sc, "j", 1, 0), 8);
    CHECK_EQ_INT(sl_scan_find(&sc, "g", 8, 0), 0);
    CHECK_EQ_INT(sl_scan_find(&sc, "t", 1, 1), 0);
    CHECK_EQ_INT(sc.last_return, 9);
    CHECK_EQ_INT(sc.last_token, 9);
    sl_scan_free(&sc);
}

/* The examples in docs/job-scripts.md load. */
static void test_doc_examples(void)
{
    setenv("ACME_PG", "host=127.0.0.1", 1);
    sl_jobdesc *job = load_ok("doc_demo.lua");
    sl_job_free(job);
    job = load_ok("doc_shared.lua");
    if (job) {
        CHECK_EQ_INT(job->sink.line, 2);
        const sl_optval *v = sl_spec_opt(&job->sink, "secret_access_key");
        CHECK(v && strcmp(v->s, "k3y") == 0); /* "\r\n" stripped */
        v = sl_spec_opt(&job->sink, "bucket");
        CHECK(v && strcmp(v->s, "acme-eu-qvd") == 0);
    }
    sl_job_free(job);
    unsetenv("ACME_PG");
}

/* The old place of the job-wide settings (inside sink{}) still works: same values, same hash
 * as the new place, one warning line naming them. */
static void test_legacy_settings(void)
{
    sl_diag d = {0};
    sl_jobdesc *old = sl_job_load("legacy_settings.lua", &reg, &d);
    CHECK(old != NULL);
    CHECK_EQ_INT(d.n, 1);
    if (d.n == 1) {
        CHECK_EQ_STR(d.lines[0],
                     "legacy_settings.lua:20: warning: sink: flush_interval, changes inside sink{} "
                     "are deprecated: write job-wide settings in the job table (return { tenant = "
                     "..., flush_interval = ..., source = ..., sink = ... })");
    }
    sl_diag_free(&d);
    sl_jobdesc *now = load_ok("valid.lua");
    if (old && now) {
        const sl_optval *v = sl_spec_opt(&old->settings, "flush_interval");
        CHECK(v && v->d == 2.5 && v->line == 20 && !v->is_default);
        v = sl_spec_opt(&old->settings, "changes");
        CHECK(v && v->i == 1 && v->line == 21);
        CHECK(sl_spec_opt(&old->sink, "flush_interval") == NULL);
        CHECK(sl_spec_opt(&old->sink, "changes") == NULL);
        CHECK_EQ_INT(old->settings.nopts, now->settings.nopts);
        CHECK_EQ_STR(old->hash, now->hash);
    }
    sl_job_free(old);
    sl_job_free(now);
}

/* MAP and TABLE options arrive as trees with keys sorted and lines kept. */
static void test_maps(void)
{
    sl_jobdesc *job = load_ok("maps_ok.lua");
    if (!job || job->ntransforms != 2) {
        sl_job_free(job);
        CHECK(0);
        return;
    }
    const sl_optval *v = sl_spec_opt(&job->transforms[0], "rules");
    CHECK(v && v->node && v->node->type == SL_OPT_LIST && v->node->n == 2);
    if (v && v->node && v->node->n == 2) {
        const sl_optnode *r1 = &v->node->items[1];
        CHECK(r1->type == SL_OPT_MAP && r1->n == 3);
        if (r1->n == 3) {
            CHECK_EQ_STR(r1->keys[0], "column");
            CHECK_EQ_STR(r1->keys[1], "keep");
            CHECK_EQ_STR(r1->keys[2], "method");
            CHECK(r1->items[1].type == SL_OPT_INT && r1->items[1].i == 4);
            CHECK_EQ_STR(r1->items[2].s, "last4");
        }
        CHECK_EQ_INT(v->line, 7);
    }
    CHECK(v && strcmp(v->s, "[{column = email, method = hmac}, {column = phone, keep = 4, "
                            "method = last4}]") == 0);
    v = sl_spec_opt(&job->transforms[0], "methods");
    CHECK(v && v->node && v->node->type == SL_OPT_MAP && v->node->n == 2);
    CHECK(v && strcmp(v->s, "{email = hmac, zip = drop}") == 0);
    v = sl_spec_opt(&job->transforms[0], "levels");
    CHECK(v && v->nlist == 2);
    v = sl_spec_opt(&job->transforms[0], "ratio");
    CHECK(v && v->d == 0.5);
    /* {} is an empty map for a MAP option and an empty list for a TABLE option */
    v = sl_spec_opt(&job->transforms[1], "methods");
    CHECK(v && v->node && v->node->type == SL_OPT_MAP && v->node->n == 0);
    v = sl_spec_opt(&job->transforms[1], "rules");
    CHECK(v && v->node && v->node->type == SL_OPT_LIST && v->node->n == 0);
    sl_job_free(job);
}

/* SL_OPT_EXCLUSIVE: two jobs giving an exclusive option the same value (a default included)
 * clash; other values, other plugins and non-exclusive options do not. */
static void test_clashes(void)
{
    sl_jobdesc *a = load_ok("valid.lua");       /* postgres, slot default "sluice" */
    sl_jobdesc *b = load_ok("exclusive_a.lua"); /* postgres, slot "s1", publication "p" */
    sl_jobdesc *c = load_ok("exclusive_b.lua"); /* postgres, slot "s1", publication "p" */
    sl_jobdesc *e = load_ok("exclusive_c.lua"); /* postgres, slot default, other publication */
    sl_jobdesc *g = load_ok("valid_plain.lua"); /* generator: nothing exclusive */
    if (!a || !b || !c || !e || !g) {
        CHECK(0);
    } else {
        sl_diag d = {0};
        CHECK_EQ_INT(sl_job_clashes(a, g, &d), 0);
        CHECK_EQ_INT(sl_job_clashes(a, b, &d), 0);
        CHECK_EQ_INT(d.n, 0);
        CHECK_EQ_INT(sl_job_clashes(b, c, &d), 3); /* slot, publication, the mask key */
        CHECK_EQ_INT(d.n, 3);
        if (d.n == 3) {
            CHECK_EQ_STR(d.lines[0],
                         "exclusive_b.lua:5: tenant \"beta\": source \"postgres\": option "
                         "\"publication\" = \"p\" is also used by tenant \"alpha\" "
                         "(exclusive_a.lua:5); two jobs must not share it");
            CHECK_EQ_STR(d.lines[1],
                         "exclusive_b.lua:4: tenant \"beta\": source \"postgres\": option "
                         "\"slot\" = \"s1\" is also used by tenant \"alpha\" "
                         "(exclusive_a.lua:4); two jobs must not share it");
            /* a secret's value is never printed */
            CHECK_EQ_STR(d.lines[2], "exclusive_b.lua:7: tenant \"beta\": transform \"mask\": "
                                     "option \"key\" is also used by tenant \"alpha\" "
                                     "(exclusive_a.lua:7); two jobs must not share it");
        }
        sl_diag_free(&d);
        CHECK_EQ_INT(sl_job_clashes(a, e, &d), 1); /* both take slot's default */
        CHECK(d.n == 1 && strstr(d.lines[0], "option \"slot\" = \"sluice\" (the default) is "
                                             "also used by tenant \"acme\" (valid.lua:6)"));
        sl_diag_free(&d);
    }
    sl_job_free(a);
    sl_job_free(b);
    sl_job_free(c);
    sl_job_free(e);
    sl_job_free(g);
}

static int write_dump(lua_State *L, const void *p, size_t sz, void *ud)
{
    (void)L;
    return fwrite(p, 1, sz, ud) == sz ? 0 : 1;
}

static void test_bytecode(void)
{
    const char *dir = tmp_dir;
    char path[600];
    snprintf(path, sizeof path, "%s/bytecode.lua", dir);
    lua_State *L = luaL_newstate();
    CHECK(luaL_loadstring(L, "return { tenant = 'acme' }") == LUA_OK);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(lua_dump(L, write_dump, f, 0) == 0);
        fclose(f);
    }
    lua_close(L);
    sl_diag d = {0};
    CHECK(sl_job_load(path, &reg, &d) == NULL);
    char want[700];
    snprintf(want, sizeof want,
             "%s: precompiled Lua bytecode is not accepted: job files are Lua source text", path);
    CHECK(d.n == 1 && strcmp(d.lines[0], want) == 0);
    sl_diag_free(&d);

    /* Missing file */
    snprintf(path, sizeof path, "%s/absent.lua", dir);
    CHECK(sl_job_load(path, &reg, &d) == NULL);
    snprintf(want, sizeof want, "%s: cannot read job file: No such file or directory", path);
    CHECK(d.n == 1 && strcmp(d.lines[0], want) == 0);
    sl_diag_free(&d);
}

static void test_diag(void)
{
    sl_diag d = {0};
    sl_diag_add(&d, "a.lua", 3, "x %d", 1);
    sl_diag_add(&d, "a.lua", 0, "whole file");
    CHECK_EQ_INT(d.n, 2);
    CHECK_EQ_STR(d.lines[0], "a.lua:3: x 1");
    CHECK_EQ_STR(d.lines[1], "a.lua: whole file");
    sl_diag_free(&d);
    CHECK(d.n == 0 && d.lines == NULL);
    /* core sink options are declared once each with the documented defaults */
    size_t n = 0;
    for (const sl_option *o = sl_job_options; o->name; o++) {
        n++;
    }
    CHECK_EQ_INT(n, 6);
}

int main(void)
{
    const char *src = getenv("SL_SOURCE_DIR");
    if (!src) {
        SL_SKIP("SL_SOURCE_DIR not set (run through ctest)");
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tests/lua/jobs", src);
    if (chdir(dir) != 0) {
        fprintf(stderr, "cannot chdir to %s\n", dir);
        return 1;
    }
    char tmpl[] = "/tmp/sl-test-job-XXXXXX";
    char *tmp = mkdtemp(tmpl);
    if (!tmp) {
        return 1;
    }
    snprintf(tmp_dir, sizeof tmp_dir, "%s", tmp);
    snprintf(mark_path, sizeof mark_path, "%s/escaped", tmp);
    setenv("SL_TEST_MARK", mark_path, 1);
    setenv("SL_TEST_PG", "host=127.0.0.1 dbname=acme", 1);
    unsetenv("SL_TEST_SURELY_UNSET");
    unsetenv("SL_TEST_UNSET_REGION");

    SL_RUN(test_diag);
    SL_RUN(test_goldens);
    SL_RUN(test_valid);
    SL_RUN(test_valid_plain);
    SL_RUN(test_secret_ok);
    SL_RUN(test_bytecode);
    SL_RUN(test_doc_examples);
    SL_RUN(test_scan);
    SL_RUN(test_legacy_settings);
    SL_RUN(test_maps);
    SL_RUN(test_clashes);

    char path[600];
    snprintf(path, sizeof path, "%s/bytecode.lua", tmp);
    unlink(path);
    unlink(mark_path);
    rmdir(tmp);
    SL_DONE();
}
