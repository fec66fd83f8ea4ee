/* The mock host itself (libsluice-testhost): options as a job file would give them, validation,
 * row text, memory counting, rule-break detection, and each kind driven with the tree's own
 * plugins (generator, select, file) and a plugin linked into this test. */
#include "sl_test.h"

#include <sluice/testhost.h>
#include <stdlib.h>
#include <unistd.h>

static char g_build[1024];

static sl_th_plugin *load(const char *file)
{
    char path[1400], err[1600];
    snprintf(path, sizeof path, "%s/%s", g_build, file);
    sl_th_plugin *p = sl_th_load(path, err, sizeof err);
    if (!p)
        fprintf(stderr, "%s\n", err);
    CHECK(p != NULL);
    return p;
}

/* ---- a plugin linked into the test: reads every kind of option, allocates through the host ----
 */

static const char *const modes[] = {"fast", "safe", NULL};
static const sl_option probe_opts[] = {
    SL_OPTION_CHOICE("mode", 0, "safe", "a choice", modes),
    SL_OPTION_RANGE("level", SL_OPT_INT, 0, "3", "a range", 1, 9),
    SL_OPTION("ratio", SL_OPT_DOUBLE, 0, "0.5", "a double"),
    SL_OPTION("on", SL_OPT_BOOL, 0, "false", "a bool"),
    SL_OPTION("cols", SL_OPT_LIST, 0, "a,b", "a list"),
    SL_OPTION("cast", SL_OPT_MAP, 0, NULL, "a map"),
    SL_OPTION("rules", SL_OPT_TABLE, 0, NULL, "a table"),
    SL_OPTION("name", SL_OPT_STRING, SL_OPT_REQUIRED, NULL, "required"),
    SL_OPTION("alloc", SL_OPT_INT, 0, "0", "bytes to allocate in create"),
    SL_OPTION("rogue", SL_OPT_BOOL, 0, "false", "read an undeclared option"),
    SL_OPTION("leak", SL_OPT_BOOL, 0, "false", "keep the allocation at destroy"),
    SL_OPTIONS_END,
};

typedef struct pr_ctx {
    sl_host *h;
    const sl_host_api *api;
    void *mem;
    char seen[512];
} pr_ctx;

static pr_ctx *g_last;

static int pr_create(sl_host *h, const sl_host_api *api, void **ctx)
{
    pr_ctx *c = calloc(1, sizeof *c);
    c->h = h;
    c->api = api;
    int64_t n = api->opt_int(h, "alloc", 0);
    if (n > 0 && !(c->mem = api->malloc(h, (size_t)n))) {
        api->set_error(h, "no memory for %lld bytes", (long long)n);
        free(c);
        return -1;
    }
    if (api->opt_bool(h, "rogue", 0))
        api->opt_string(h, "undeclared");
    /* mode|level|ratio|on|cols...|cast k=v...|rules: first rule's column */
    size_t o = (size_t)snprintf(c->seen, sizeof c->seen, "%s|%lld|%g|%d|",
                                api->opt_string(h, "mode"), (long long)api->opt_int(h, "level", -1),
                                api->opt_double(h, "ratio", -1), api->opt_bool(h, "on", -1));
    for (size_t i = 0; i < api->opt_list_len(h, "cols"); i++)
        o += (size_t)snprintf(c->seen + o, sizeof c->seen - o, "%s,",
                              api->opt_list_item(h, "cols", i));
    const sl_optnode *m = api->opt_node(h, "cast");
    o += (size_t)snprintf(c->seen + o, sizeof c->seen - o, "|");
    for (size_t i = 0; i < api->node_len(m); i++)
        o += (size_t)snprintf(c->seen + o, sizeof c->seen - o, "%s=%s,", api->node_key(m, i),
                              api->node_string(api->node_item(m, i)));
    const sl_optnode *r = api->opt_node(h, "rules");
    const sl_optnode *r0 = api->node_item(r, 0);
    snprintf(c->seen + o, sizeof c->seen - o, "|%s:%lld:%zu",
             r0 ? api->node_string(api->node_get(r0, "column")) : "-",
             (long long)api->node_int(api->node_get(r0, "n"), -1), api->node_len(r));
    *ctx = c;
    g_last = c;
    return 0;
}

static void pr_destroy(void *ctx)
{
    pr_ctx *c = ctx;
    if (!c->api->opt_bool(c->h, "leak", 0))
        c->api->free(c->h, c->mem);
    free(c);
}

static sl_status pr_transform(void *ctx, const sl_batch *in, const sl_batch **out)
{
    (void)ctx;
    *out = in;
    return SL_OK;
}

static const sl_transform_ops pr_ops = {.size = sizeof pr_ops, .transform = pr_transform};
static const sl_plugin pr_plugin = {
    SL_PLUGIN_INIT(SL_KIND_TRANSFORM, "probe", "1.0", "options probe"),
    .options = probe_opts,
    .create = pr_create,
    .destroy = pr_destroy,
    .transform = &pr_ops,
};

static void options_as_a_job_file_gives_them(void)
{
    char err[256];
    sl_th_plugin *p = sl_th_wrap(&pr_plugin, err, sizeof err);
    CHECK(p != NULL);
    sl_th *t = sl_th_new(p, NULL);
    sl_th_echo(t, -1);
    /* defaults */
    CHECK_EQ_INT(sl_th_start(t, "name", "x", NULL), 0);
    CHECK_EQ_STR(g_last->seen, "safe|3|0.5|0|a,b,||-:-1:0");
    sl_th_close(t);
    /* every type given, maps in key order, a list of maps */
    CHECK_EQ_INT(sl_th_set_all(t, "mode", "fast", "level", "9", "ratio", "1e-3", "on", "true",
                               "cols", "{ 'x y', \"z\", w }", "cast",
                               "{ zed = 'text', email = hmac, n = 3 }", "rules",
                               "{ { column = 'email', n = 7 }, { column = 'b' } }", NULL),
                 0);
    CHECK_EQ_INT(sl_th_create(t), 0);
    CHECK_EQ_STR(g_last->seen, "fast|9|0.001|1|x y,z,w,|email=hmac,n=3,zed=text,|email:7:2");
    sl_th_close(t);
    /* a single string is a one-item list */
    CHECK_EQ_INT(sl_th_set(t, "cols", "solo"), 0);
    CHECK_EQ_INT(sl_th_create(t), 0);
    CHECK(strstr(g_last->seen, "|solo,|") != NULL);
    sl_th_close(t);
    CHECK_EQ_INT(sl_th_misuses(t), 0);
    sl_th_free(t);
    sl_th_unload(p);
}

/* Each bad value fails create with the option named, as `sluice check` would. */
static void bad_options_are_refused(void)
{
    char err[256];
    sl_th_plugin *p = sl_th_wrap(&pr_plugin, err, sizeof err);
    static const char *const bad[][3] = {
        {"mode", "fsat", "not one of"},         {"level", "10", "between 1 and 9"},
        {"level", "abc", "must be an integer"}, {"ratio", "x", "finite number"},
        {"on", "yes", "true or false"},         {"cols", "{ a = 1 }", "list of strings"},
        {"cast", "plain", "must be a table"},   {"colls", "a", "unknown option"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_th *t = sl_th_new(p, NULL);
        sl_th_echo(t, -1);
        CHECK_EQ_INT(sl_th_set_all(t, "name", "x", bad[i][0], bad[i][1], NULL), 0);
        CHECK_EQ_INT(sl_th_create(t), -1);
        if (!strstr(sl_th_error(t), bad[i][2]) || !strstr(sl_th_error(t), bad[i][0]))
            fprintf(stderr, "  %s = %s: %s\n", bad[i][0], bad[i][1], sl_th_error(t));
        CHECK(strstr(sl_th_error(t), bad[i][2]) != NULL);
        CHECK(strstr(sl_th_error(t), bad[i][0]) != NULL);
        sl_th_free(t);
    }
    sl_th *t = sl_th_new(p, NULL);
    CHECK_EQ_INT(sl_th_create(t), -1); /* name is required */
    CHECK(strstr(sl_th_error(t), "\"name\" is required") != NULL);
    CHECK_EQ_INT(sl_th_set(t, "rules", "{ { a = 1 }"), -1); /* syntax */
    CHECK_EQ_INT(sl_th_set(t, "rules", "{ a = 1, 2 }"), -1);
    CHECK_EQ_INT(sl_th_set(t, "rules", "{ a = 1, a = 2 }"), -1);
    sl_th_free(t);
    sl_th_unload(p);
}

static void memory_and_rule_breaks_are_seen(void)
{
    char err[256];
    sl_th_plugin *p = sl_th_wrap(&pr_plugin, err, sizeof err);
    sl_th *t = sl_th_new(p, NULL);
    sl_th_echo(t, -1);
    CHECK_EQ_INT(sl_th_start(t, "name", "x", "alloc", "1000", NULL), 0);
    CHECK_EQ_INT(sl_th_mem_now(t), 1000);
    sl_th_close(t);
    CHECK_EQ_INT(sl_th_mem_now(t), 0);
    CHECK_EQ_INT(sl_th_mem_peak(t), 1000);
    /* a budget: malloc returns NULL past it, the plugin says why */
    sl_th_mem_limit(t, 999);
    CHECK_EQ_INT(sl_th_create(t), -1);
    CHECK(strstr(sl_th_error(t), "1000 bytes") != NULL);
    CHECK_EQ_INT(sl_th_misuses(t), 0);
    /* reading an option the plugin did not declare */
    sl_th_mem_limit(t, 0);
    CHECK_EQ_INT(sl_th_set(t, "rogue", "true"), 0);
    CHECK_EQ_INT(sl_th_create(t), 0);
    CHECK_EQ_INT(sl_th_misuses(t), 1);
    CHECK(sl_th_misuse(t) && strstr(sl_th_misuse(t), "undeclared") != NULL);
    sl_th_close(t);
    /* memory the instance still holds after destroy */
    sl_th_reset(t);
    CHECK_EQ_INT(sl_th_set_all(t, "rogue", "false", "alloc", "64", "leak", "true", NULL), 0);
    CHECK_EQ_INT(sl_th_create(t), 0);
    sl_th_close(t);
    CHECK_EQ_INT(sl_th_misuses(t), 1);
    CHECK(sl_th_misuse(t) && strstr(sl_th_misuse(t), "left 64 bytes") != NULL);
    sl_th_free(t);
    sl_th_unload(p);
}

/* ---- the tree's plugins, one of each kind ---- */

static void source_rows_and_commits(void)
{
    sl_th_plugin *p = load("plugins/sl-source-generator.so");
    if (!p)
        return;
    sl_th *t = sl_th_new(p, "gen");
    CHECK_EQ_INT(
        sl_th_set_all(t, "rows", "3", "columns", "{ 'string', 'double' }", "null_every", "2", NULL),
        0);
    CHECK_EQ_INT(sl_th_create(t), 0);
    CHECK_EQ_INT(sl_th_open(t, NULL, 0, 1), 0);
    sl_status st = sl_th_poll_until(t, 100, 10000);
    CHECK_EQ_INT(st, SL_EOF);
    CHECK_EQ_INT(sl_th_rows(t), 3);
    CHECK_EQ_INT(sl_th_pending(t), 0);
    CHECK(sl_th_commits(t) >= 1);
    CHECK_EQ_INT(sl_th_schemas(t), 1);
    const sl_schema *s = sl_th_schema_at(t, 0);
    CHECK(s && s->ncols == 3 && s->nkeys == 1);
    for (size_t i = 0; i < sl_th_rows(t); i++)
        fprintf(stderr, "  %s\n", sl_th_row(t, i));
    CHECK(sl_th_row(t, 0) && strncmp(sl_th_row(t, 0), ".items|S|1|", 11) == 0);
    CHECK(sl_th_find_row(t, sl_th_row(t, 2)) == 2);
    CHECK(sl_th_row(t, 1) && strstr(sl_th_row(t, 1), "\\N") != NULL); /* null_every = 2 */
    /* the emitted batches are kept for typed access */
    size_t typed = 0;
    for (size_t i = 0; i < sl_th_emits(t); i++)
        typed += sl_th_api()->batch_rows(sl_th_emitted(t, i));
    CHECK_EQ_INT(typed, 3);
    CHECK_EQ_INT(sl_th_misuses(t), 0);
    sl_th_close(t);
    sl_th_free(t);
    sl_th_unload(p);
}

static void transform_on_a_batch(void)
{
    sl_th_plugin *p = load("plugins/sl-transform-select.so");
    if (!p)
        return;
    sl_th *t = sl_th_new(p, NULL);
    CHECK_EQ_INT(sl_th_start(t, "columns", "{ 'name as n', 'id' }", NULL), 0);
    const sl_field f[] = {SL_FIELD_INIT("id", SL_T_INT64, 1), SL_FIELD_INIT("skip", SL_T_BINARY, 0),
                          SL_FIELD_INIT("name", SL_T_STRING, 0)};
    sl_batch *in = sl_th_batch(t, sl_th_schema(t, "s", "t", 3, f));
    CHECK_EQ_INT(sl_th_batch_add(t, in, "I|1|00ff|a b\nT\nD|2|\\N|\\N\n"), 0);
    CHECK_EQ_INT(sl_th_batch_add(t, in, "I|1|0|x"), -1); /* odd hex */
    char line[128];
    sl_th_row_text(in, 0, line, sizeof line);
    CHECK_EQ_STR(line, "s.t|I|1|00ff|a b");
    const sl_batch *out = NULL;
    CHECK_EQ_INT(sl_th_transform(t, in, &out), SL_OK);
    CHECK(out != NULL);
    if (out) {
        sl_th_row_text(out, 0, line, sizeof line);
        CHECK_EQ_STR(line, "s.t|I|a b|1");
        sl_th_row_text(out, 1, line, sizeof line);
        CHECK_EQ_STR(line, "s.t|T");
    }
    CHECK_EQ_INT(sl_th_misuses(t), 0);
    sl_th_free(t);
    sl_th_unload(p);
}

static void sink_objects(void)
{
    sl_th_plugin *p = load("plugins/sl-sink-file.so");
    if (!p)
        return;
    char dir[] = "/tmp/sl-testhost.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    sl_th *t = sl_th_new(p, NULL);
    CHECK_EQ_INT(sl_th_start(t, "path", dir, "fsync", "false", NULL), 0);
    char v1[SL_VERSION_MAX] = "", v2[SL_VERSION_MAX] = "";
    CHECK_EQ_INT(sl_th_put(t, "a/x.qvd", "hello world", 11, 4, NULL, v1), SL_OK);
    CHECK_EQ_INT(sl_th_put(t, "a/y.qvd", "", 0, 0, NULL, NULL), SL_OK);
    char *data = NULL;
    size_t len = 0;
    CHECK_EQ_INT(sl_th_get(t, "a/x.qvd", &data, &len, v2), SL_OK);
    CHECK(data && len == 11 && memcmp(data, "hello world", 11) == 0);
    CHECK_EQ_STR(v1, v2);
    free(data);
    CHECK_EQ_INT(sl_th_get(t, "a/none", &data, &len, NULL), SL_NOTFOUND);
    char *keys = NULL;
    CHECK_EQ_INT(sl_th_list(t, "a/", &keys), SL_OK);
    CHECK_EQ_STR(keys, "a/x.qvd\na/y.qvd\n");
    free(keys);
    /* a fenced write: refused either way (conflict, or no conditional writes at all) */
    sl_put_opts fence = {.size = sizeof fence, .if_none_match = 1};
    sl_th_echo(t, -1);
    CHECK_EQ_INT(sl_th_put(t, "a/x.qvd", "z", 1, 0, &fence, NULL),
                 sl_th_desc(p)->sink->conditional ? SL_CONFLICT : SL_ERROR);
    CHECK_EQ_INT(sl_th_del(t, "a/x.qvd"), SL_OK);
    CHECK_EQ_INT(sl_th_del(t, "a/y.qvd"), SL_OK);
    CHECK_EQ_INT(sl_th_misuses(t), 0);
    sl_th_free(t);
    sl_th_unload(p);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

/* The engine's loader checks: a plugin of another major is refused with the reason. */
static void loader_refuses_other_major(void)
{
    char path[1400], err[1600];
    snprintf(path, sizeof path, "%s/tests/abi/fixtures/sl-transform-abi_major3.so", g_build);
    if (access(path, R_OK) != 0)
        return;
    CHECK(sl_th_load(path, err, sizeof err) == NULL);
    CHECK(strstr(err, "refused") != NULL && strstr(err, "ABI 3") != NULL);
}

int main(void)
{
    const char *b = getenv("SL_BUILD_DIR");
    if (!b)
        SL_SKIP("SL_BUILD_DIR not set (run through ctest)");
    snprintf(g_build, sizeof g_build, "%s", b);
    SL_RUN(options_as_a_job_file_gives_them);
    SL_RUN(bad_options_are_refused);
    SL_RUN(memory_and_rule_breaks_are_seen);
    SL_RUN(source_rows_and_commits);
    SL_RUN(transform_on_a_batch);
    SL_RUN(sink_objects);
    SL_RUN(loader_refuses_other_major);
    SL_DONE();
}
