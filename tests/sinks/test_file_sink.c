/* The file sink's conditional puts (fencing): a stale version or an existing object makes
 * put_commit return SL_CONFLICT and leaves the old object in place, and processes racing
 * read-modify-write on one key through if_match never lose an update. */
#include "sl_test.h"

#include <dlfcn.h>
#include <sluice/plugin.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct sl_host {
    const char *path;
    char err[512];
};

static void h_log(sl_host *h, sl_log_level l, const char *fmt, ...)
{
    (void)h;
    (void)l;
    (void)fmt;
}
static void h_set_error(sl_host *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->err, sizeof h->err, fmt, ap);
    va_end(ap);
}
static const char *h_tenant(sl_host *h)
{
    (void)h;
    return "test";
}
static const char *h_opt_string(sl_host *h, const char *name)
{
    return strcmp(name, "path") == 0 ? h->path : NULL;
}
static int h_opt_bool(sl_host *h, const char *name, int dflt)
{
    (void)h;
    return strcmp(name, "fsync") == 0 ? 0 : dflt;
}
static int64_t h_opt_int(sl_host *h, const char *name, int64_t dflt)
{
    (void)h;
    (void)name;
    return dflt; /* delay_ms: no delay */
}

static const sl_host_api api = {
    .abi_minor = SL_PLUGIN_ABI_MINOR,
    .size = sizeof(sl_host_api),
    .log = h_log,
    .set_error = h_set_error,
    .tenant = h_tenant,
    .opt_string = h_opt_string,
    .opt_bool = h_opt_bool,
    .opt_int = h_opt_int,
};

static const sl_plugin *plugin;
static char dir[256];

typedef struct inst {
    sl_host host;
    void *ctx;
    const sl_sink_ops *ops;
} inst;

static void inst_open(inst *in)
{
    memset(in, 0, sizeof *in);
    in->host.path = dir;
    in->ops = plugin->sink;
    if (plugin->create(&in->host, &api, &in->ctx) != 0 ||
        plugin->open(in->ctx, &(sl_open_args){sizeof(sl_open_args), NULL, 0, 0}) != 0) {
        fprintf(stderr, "cannot open the file sink: %s\n", in->host.err);
        exit(1);
    }
}

static void inst_close(inst *in)
{
    plugin->destroy(in->ctx);
}

/* put text under key with the given condition; version receives the new version */
static sl_status put(inst *in, const char *key, const char *text, const char *if_match,
                     int if_none_match, char *version)
{
    sl_put_opts o = {sizeof o, "text/plain", if_match, if_none_match};
    sl_put *p;
    sl_status st = in->ops->put_begin(in->ctx, key, &o, &p);
    if (st != SL_OK)
        return st;
    st = in->ops->put_write(in->ctx, p, text, strlen(text));
    if (st != SL_OK) {
        in->ops->put_abort(in->ctx, p);
        return st;
    }
    return in->ops->put_commit(in->ctx, p, version);
}

typedef struct text {
    char b[256];
    size_t n;
} text;

static sl_status to_text(void *ud, const void *p, size_t len)
{
    text *t = ud;
    if (t->n + len >= sizeof t->b)
        return SL_ERROR;
    memcpy(t->b + t->n, p, len);
    t->n += len;
    t->b[t->n] = 0;
    return SL_OK;
}

static sl_status get(inst *in, const char *key, text *t, char *version)
{
    memset(t, 0, sizeof *t);
    return in->ops->get(in->ctx, key, to_text, t, version);
}

static void declares_conditional(void)
{
    CHECK(plugin->sink->conditional == 1);
}

static void stale_version_conflicts(void)
{
    inst a, b;
    inst_open(&a);
    inst_open(&b);
    char v1[SL_VERSION_MAX] = "", v2[SL_VERSION_MAX] = "", vr[SL_VERSION_MAX] = "";
    CHECK_EQ_INT(put(&a, "_sluice/m.json", "one", NULL, 1, v1), SL_OK);
    CHECK(v1[0] != 0);
    text t;
    CHECK_EQ_INT(get(&b, "_sluice/m.json", &t, vr), SL_OK);
    CHECK_EQ_STR(vr, v1);
    /* b moves the object on; a still holds v1 */
    CHECK_EQ_INT(put(&b, "_sluice/m.json", "two", vr, 0, v2), SL_OK);
    CHECK(strcmp(v1, v2) != 0);
    CHECK_EQ_INT(put(&a, "_sluice/m.json", "stale", v1, 0, NULL), SL_CONFLICT);
    CHECK(strstr(a.host.err, "m.json") != NULL);
    CHECK_EQ_INT(get(&a, "_sluice/m.json", &t, vr), SL_OK);
    CHECK_EQ_STR(t.b, "two");
    CHECK_EQ_STR(vr, v2);
    /* must-not-exist on an existing key, and must-match on a missing one */
    CHECK_EQ_INT(put(&a, "_sluice/m.json", "new", NULL, 1, NULL), SL_CONFLICT);
    CHECK_EQ_INT(put(&a, "absent.json", "x", v2, 0, NULL), SL_CONFLICT);
    CHECK_EQ_INT(get(&a, "absent.json", &t, NULL), SL_NOTFOUND);
    CHECK_EQ_INT(get(&a, "_sluice/m.json", &t, NULL), SL_OK);
    CHECK_EQ_STR(t.b, "two");
    /* an unconditional put still changes the version (fences a later stale if_match) */
    CHECK_EQ_INT(put(&a, "_sluice/m.json", "three", NULL, 0, v1), SL_OK);
    CHECK(strcmp(v1, v2) != 0);
    CHECK_EQ_INT(put(&b, "_sluice/m.json", "stale", v2, 0, NULL), SL_CONFLICT);
    /* no temporary file is left behind by a refused put, and lock files are not listed */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test -z \"$(find '%s' -name '.*' ! -name '.*.lock' -type f)\"", dir);
    CHECK(system(cmd) == 0);
    inst_close(&a);
    inst_close(&b);
}

/* N processes each add 1 to a counter object M times by read-modify-write with if_match,
 * retrying on conflict. Any lost update (two writers both passing the check) shows as a total
 * below N*M. */
static void racing_writers_lose_no_update(void)
{
    enum { N = 4, M = 150 };
    inst a;
    inst_open(&a);
    CHECK_EQ_INT(put(&a, "counter", "0", NULL, 0, NULL), SL_OK);
    inst_close(&a);
    pid_t kids[N];
    for (int k = 0; k < N; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            inst in;
            inst_open(&in);
            int done = 0, conflicts = 0;
            while (done < M) {
                text t;
                char v[SL_VERSION_MAX], nv[SL_VERSION_MAX];
                if (get(&in, "counter", &t, v) != SL_OK)
                    _exit(2);
                char next[32];
                snprintf(next, sizeof next, "%ld", strtol(t.b, NULL, 10) + 1);
                sl_status st = put(&in, "counter", next, v, 0, nv);
                if (st == SL_OK)
                    done++;
                else if (st == SL_CONFLICT)
                    conflicts++;
                else
                    _exit(3);
            }
            inst_close(&in);
            _exit(conflicts > 0 ? 0 : 4); /* 4: never raced, the test proved nothing */
        }
    }
    int raced = 0;
    for (int k = 0; k < N; k++) {
        int ws = 0;
        waitpid(kids[k], &ws, 0);
        CHECK(WIFEXITED(ws) && (WEXITSTATUS(ws) == 0 || WEXITSTATUS(ws) == 4));
        raced += WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
    }
    CHECK(raced > 0);
    inst_open(&a);
    text t;
    CHECK_EQ_INT(get(&a, "counter", &t, NULL), SL_OK);
    CHECK_EQ_INT(strtol(t.b, NULL, 10), N * M);
    inst_close(&a);
}

int main(void)
{
    const char *bld = getenv("SL_BUILD_DIR");
    if (!bld)
        SL_SKIP("SL_BUILD_DIR not set (run through ctest)");
    char path[1024];
    snprintf(path, sizeof path, "%s/plugins/sl-sink-file.so", bld);
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return 1;
    }
    const sl_plugin *(*desc)(void) = (const sl_plugin *(*)(void))dlsym(dl, SL_PLUGIN_SYMBOL);
    plugin = desc ? desc() : NULL;
    if (!plugin || !plugin->sink) {
        fprintf(stderr, "no sink descriptor in %s\n", path);
        return 1;
    }
    snprintf(dir, sizeof dir, "/tmp/sl-file-sink.XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    SL_RUN(declares_conditional);
    SL_RUN(stale_version_conflicts);
    SL_RUN(racing_writers_lose_no_update);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (sl_test_failures == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    dlclose(dl);
    SL_DONE();
}
