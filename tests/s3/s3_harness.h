/* Test harness for the s3 sink plugin: loads build/plugins/sl-sink-s3.so with dlopen and gives
 * it a small host API of its own (options from a key/value list, defaults from the plugin's
 * declaration, errors recorded for the checks). This is a harness for the plugin alone; the real
 * engine's host API is the lead's. Integration tests read the server from $S3_TEST_DIR/s3.env
 * (written by scripts/s3.sh start) and skip when it is absent. */
#ifndef SL_S3_HARNESS_H
#define SL_S3_HARNESS_H

#include "sl_test.h"

#include <dlfcn.h>
#include <openssl/evp.h>
#include <sluice/plugin.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define H_MAX_OPTS 24

struct sl_host {
    const sl_plugin *plugin;
    const char *names[H_MAX_OPTS];
    const char *values[H_MAX_OPTS];
    int nopts;
    char last_error[1024];
    int nerrors;
    int nwarn;
    int quiet;
    size_t mem_now, mem_peak; /* bytes held through api->malloc/calloc/realloc */
};

static const sl_option *h_decl(sl_host *h, const char *name)
{
    for (const sl_option *o = h->plugin->options; o->name; o++) {
        if (strcmp(o->name, name) == 0) {
            return o;
        }
    }
    fprintf(stderr, "harness: plugin asked for undeclared option '%s'\n", name);
    abort();
}

static const char *h_value(sl_host *h, const char *name)
{
    const sl_option *o = h_decl(h, name);
    for (int i = h->nopts - 1; i >= 0; i--) {
        if (strcmp(h->names[i], name) == 0) {
            return h->values[i];
        }
    }
    return o->default_value;
}

static void h_log(sl_host *h, sl_log_level level, const char *fmt, ...)
{
    h->nwarn += level == SL_LOG_WARN;
    if (h->quiet) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  [plugin %d] ", (int)level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void h_set_error(sl_host *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->last_error, sizeof h->last_error, fmt, ap);
    va_end(ap);
    h->nerrors++;
    if (!h->quiet) {
        fprintf(stderr, "  [plugin error] %s\n", h->last_error);
    }
}

static const char *h_tenant(sl_host *h)
{
    (void)h;
    return "test";
}
static int h_opt_isset(sl_host *h, const char *name)
{
    return h_value(h, name) != NULL;
}
static const char *h_opt_string(sl_host *h, const char *name)
{
    return h_value(h, name);
}
static int64_t h_opt_int(sl_host *h, const char *name, int64_t dflt)
{
    const char *v = h_value(h, name);
    return v ? strtoll(v, NULL, 10) : dflt;
}
static double h_opt_double(sl_host *h, const char *name, double dflt)
{
    const char *v = h_value(h, name);
    return v ? strtod(v, NULL) : dflt;
}
static int h_opt_bool(sl_host *h, const char *name, int dflt)
{
    const char *v = h_value(h, name);
    return v ? (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) : dflt;
}
static size_t h_opt_list_len(sl_host *h, const char *name)
{
    (void)h;
    (void)name;
    return 0;
}
static const char *h_opt_list_item(sl_host *h, const char *name, size_t i)
{
    (void)h;
    (void)name;
    (void)i;
    return NULL;
}
static void h_counter_add(sl_host *h, const char *name, double d)
{
    (void)h;
    (void)name;
    (void)d;
}
static void h_gauge_set(sl_host *h, const char *name, double v)
{
    (void)h;
    (void)name;
    (void)v;
}
/* Host allocations carry their size in a 16-byte header so the harness can track the plugin's
 * peak memory (the per-tenant accounting the real host does). */
static void *h_malloc(sl_host *h, size_t n)
{
    size_t *p = malloc(n + 16);
    if (!p) {
        return NULL;
    }
    p[0] = n;
    h->mem_now += n;
    if (h->mem_now > h->mem_peak) {
        h->mem_peak = h->mem_now;
    }
    return (char *)p + 16;
}
static void *h_calloc(sl_host *h, size_t n, size_t s)
{
    void *p = h_malloc(h, n * s);
    if (p) {
        memset(p, 0, n * s);
    }
    return p;
}
static void h_free(sl_host *h, void *p)
{
    if (p) {
        size_t *b = (size_t *)((char *)p - 16);
        h->mem_now -= b[0];
        free(b);
    }
}
static void *h_realloc(sl_host *h, void *p, size_t n)
{
    void *q = h_malloc(h, n);
    if (q && p) {
        size_t old = ((size_t *)((char *)p - 16))[0];
        memcpy(q, p, old < n ? old : n);
        h_free(h, p);
    }
    return q;
}
static int h_stopping(sl_host *h)
{
    (void)h;
    return 0;
}

static const sl_host_api h_api = {
    .abi_minor = SL_PLUGIN_ABI_MINOR,
    .size = sizeof(sl_host_api),
    .log = h_log,
    .set_error = h_set_error,
    .tenant = h_tenant,
    .opt_isset = h_opt_isset,
    .opt_string = h_opt_string,
    .opt_int = h_opt_int,
    .opt_double = h_opt_double,
    .opt_bool = h_opt_bool,
    .opt_list_len = h_opt_list_len,
    .opt_list_item = h_opt_list_item,
    .counter_add = h_counter_add,
    .gauge_set = h_gauge_set,
    .malloc = h_malloc,
    .calloc = h_calloc,
    .realloc = h_realloc,
    .free = h_free,
    .stopping = h_stopping,
};

/* ---- environment ---- */

static char h_dir[1024];
static char h_src[1024];
static char h_endpoint[256], h_bucket[128], h_ak[128], h_sk[128], h_region[64];
static const sl_plugin *h_plugin;
static void *h_dl;

static void h_env_line(const char *line, const char *key, char *out, size_t n)
{
    size_t kl = strlen(key);
    if (strncmp(line, key, kl) == 0 && line[kl] == '=') {
        snprintf(out, n, "%s", line + kl + 1);
        out[strcspn(out, "\r\n")] = '\0';
    }
}

/* Loads the plugin and the server description; skips the test when either is missing. */
static void h_setup(void)
{
    const char *dir = getenv("S3_TEST_DIR");
    const char *src = getenv("SL_SOURCE_DIR");
    const char *bld = getenv("SL_BUILD_DIR");
    if (!dir || !src || !bld) {
        SL_SKIP("S3_TEST_DIR, SL_SOURCE_DIR or SL_BUILD_DIR not set (run through ctest)");
    }
    snprintf(h_dir, sizeof h_dir, "%s", dir);
    snprintf(h_src, sizeof h_src, "%s", src);
    char path[1200];
    snprintf(path, sizeof path, "%s/s3.env", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        SL_SKIP("no test S3 server (scripts/s3.sh start did not run or node is missing)");
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        h_env_line(line, "S3_ENDPOINT", h_endpoint, sizeof h_endpoint);
        h_env_line(line, "S3_BUCKET", h_bucket, sizeof h_bucket);
        h_env_line(line, "S3_ACCESS_KEY_ID", h_ak, sizeof h_ak);
        h_env_line(line, "S3_SECRET_ACCESS_KEY", h_sk, sizeof h_sk);
        h_env_line(line, "S3_REGION", h_region, sizeof h_region);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/plugins/sl-sink-s3.so", bld);
    h_dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h_dl) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        exit(1);
    }
    const sl_plugin *(*desc)(void) = (const sl_plugin *(*)(void))dlsym(h_dl, SL_PLUGIN_SYMBOL);
    if (!desc) {
        fprintf(stderr, "no %s in %s\n", SL_PLUGIN_SYMBOL, path);
        exit(1);
    }
    h_plugin = desc();
    if (h_plugin->abi_major != SL_PLUGIN_ABI_MAJOR || h_plugin->kind != SL_KIND_SINK ||
        !h_plugin->sink) {
        fprintf(stderr, "unexpected plugin descriptor\n");
        exit(1);
    }
}

/* An instance: the server's settings plus overrides (name, value, ..., NULL). */
typedef struct h_inst {
    sl_host host;
    void *ctx;
    const sl_sink_ops *ops;
} h_inst;

static int h_open(h_inst *in, ...)
{
    memset(in, 0, sizeof *in);
    in->host.plugin = h_plugin;
    const char *base[][2] = {{"endpoint", h_endpoint}, {"bucket", h_bucket},
                             {"access_key_id", h_ak},  {"secret_access_key", h_sk},
                             {"region", h_region},     {"path_style", "true"}};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        in->host.names[in->host.nopts] = base[i][0];
        in->host.values[in->host.nopts++] = base[i][1];
    }
    va_list ap;
    va_start(ap, in);
    const char *n;
    while ((n = va_arg(ap, const char *)) && in->host.nopts < H_MAX_OPTS) {
        in->host.names[in->host.nopts] = n;
        in->host.values[in->host.nopts++] = va_arg(ap, const char *);
    }
    va_end(ap);
    in->ops = h_plugin->sink;
    if (h_plugin->create(&in->host, &h_api, &in->ctx) != 0) {
        return -1;
    }
    if (h_plugin->open(in->ctx, &(sl_open_args){0}) != 0) {
        h_plugin->destroy(in->ctx);
        in->ctx = NULL;
        return -1;
    }
    return 0;
}

static void h_close(h_inst *in)
{
    if (in->ctx) {
        h_plugin->close(in->ctx);
        h_plugin->destroy(in->ctx);
        in->ctx = NULL;
    }
}

/* ---- data ---- */

/* Deterministic pseudo-random bytes: seed selects the stream, off the position. */
static void h_fill(uint8_t *p, size_t n, uint64_t seed, uint64_t off)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t x = (off + i) / 8 * 0x9E3779B97F4A7C15ull ^ (seed * 0xD1B54A32D192ED03ull);
        x ^= x >> 29;
        x *= 0xBF58476D1CE4E5B9ull;
        x ^= x >> 32;
        p[i] = (uint8_t)(x >> (8 * ((off + i) % 8)));
    }
}

static void h_hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        sprintf(out + 2 * i, "%02x", d[i]);
    }
}

/* Writes `size` bytes of stream `seed` under key in chunks of `chunk` bytes; returns the status
 * of commit (or of the first failing call, after put_abort) and the SHA-256 hex in sha. */
static const sl_put_opts h_octet = {sizeof(sl_put_opts), "application/octet-stream", NULL, 0};

/* h_put with a condition (if_match / if_none_match); version receives the new version. */
static sl_status h_put_cond(h_inst *in, const char *key, uint64_t size, size_t chunk, uint64_t seed,
                            char sha[65], const char *if_match, int if_none_match, char *version);

static sl_status h_put(h_inst *in, const char *key, uint64_t size, size_t chunk, uint64_t seed,
                       char sha[65])
{
    return h_put_cond(in, key, size, chunk, seed, sha, NULL, 0, NULL);
}

static sl_status h_put_cond(h_inst *in, const char *key, uint64_t size, size_t chunk, uint64_t seed,
                            char sha[65], const char *if_match, int if_none_match, char *version)
{
    sl_put *p = NULL;
    sl_put_opts o = h_octet;
    o.if_match = if_match;
    o.if_none_match = if_none_match;
    sl_status st = in->ops->put_begin(in->ctx, key, &o, &p);
    if (st != SL_OK) {
        return st;
    }
    uint8_t *buf = malloc(chunk);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    uint64_t off = 0;
    while (off < size && st == SL_OK) {
        size_t n = size - off < chunk ? (size_t)(size - off) : chunk;
        h_fill(buf, n, seed, off);
        EVP_DigestUpdate(md, buf, n);
        st = in->ops->put_write(in->ctx, p, buf, n);
        off += n;
    }
    uint8_t d[32];
    EVP_DigestFinal_ex(md, d, NULL);
    EVP_MD_CTX_free(md);
    free(buf);
    if (sha) {
        h_hex(d, 32, sha);
    }
    if (st != SL_OK) {
        in->ops->put_abort(in->ctx, p);
        return st;
    }
    return in->ops->put_commit(in->ctx, p, version);
}

typedef struct h_sink_buf {
    EVP_MD_CTX *md;
    uint64_t n;
} h_sink_buf;

static sl_status h_read_cb(void *ud, const void *p, size_t len)
{
    h_sink_buf *b = ud;
    EVP_DigestUpdate(b->md, p, len);
    b->n += len;
    return SL_OK;
}

/* Reads key back through the plugin; fills sha and size. */
static sl_status h_get_version(h_inst *in, const char *key, char sha[65], uint64_t *size,
                               char *version)
{
    h_sink_buf b = {EVP_MD_CTX_new(), 0};
    EVP_DigestInit_ex(b.md, EVP_sha256(), NULL);
    sl_status st = in->ops->get(in->ctx, key, h_read_cb, &b, version);
    uint8_t d[32];
    EVP_DigestFinal_ex(b.md, d, NULL);
    EVP_MD_CTX_free(b.md);
    h_hex(d, 32, sha);
    *size = b.n;
    return st;
}

static sl_status h_get(h_inst *in, const char *key, char sha[65], uint64_t *size)
{
    return h_get_version(in, key, sha, size, NULL);
}

/* Runs the independent checker (tests/node/s3check.js, @aws-sdk/client-s3). Returns its exit
 * code; its first output line goes to out. */
static int h_check(char *out, size_t n, const char *cmd, const char *arg)
{
    char line[4096];
    snprintf(line, sizeof line, "node '%s/tests/node/s3check.js' --env '%s/s3.env' %s '%s'", h_src,
             h_dir, cmd, arg);
    FILE *f = popen(line, "r");
    if (!f) {
        return -1;
    }
    if (out) {
        out[0] = '\0';
        if (fgets(out, (int)n, f)) {
            out[strcspn(out, "\n")] = '\0';
        }
    }
    char junk[256];
    while (fgets(junk, sizeof junk, f)) {
    }
    int rc = pclose(f);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* The independent client's "<sha256> <size>" for key. */
static int h_check_object(const char *key, const char *sha, uint64_t size)
{
    char out[256], want[128];
    int rc = h_check(out, sizeof out, "sha256", key);
    snprintf(want, sizeof want, "%s %llu", sha, (unsigned long long)size);
    if (rc != 0 || strcmp(out, want) != 0) {
        fprintf(stderr, "  s3check %s: rc %d, got '%s', want '%s'\n", key, rc, out, want);
        return 0;
    }
    return 1;
}

static int h_sh(const char *fmt, ...) SL_PRINTF(1, 2) __attribute__((unused));
static int h_sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Runs "scripts/s3.sh CMD DIR ARGS" and returns the port it prints (0 on failure). */
__attribute__((unused)) static int h_script_port(const char *cmd, const char *args)
{
    char line[4096], out[64] = "";
    snprintf(line, sizeof line, "'%s/scripts/s3.sh' %s '%s' %s", h_src, cmd, h_dir, args);
    FILE *f = popen(line, "r");
    if (!f) {
        return 0;
    }
    if (!fgets(out, sizeof out, f)) {
        out[0] = '\0';
    }
    char junk[256];
    while (fgets(junk, sizeof junk, f)) {
    }
    int rc = pclose(f);
    return WIFEXITED(rc) && WEXITSTATUS(rc) == 0 ? atoi(out) : 0;
}

__attribute__((unused)) static double h_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Number of lines in DIR/name containing needle. */
static int h_count_lines(const char *name, const char *needle)
{
    char path[1200], line[4096];
    snprintf(path, sizeof path, "%s/%s", h_dir, name);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        n += strstr(line, needle) != NULL;
    }
    if (f) {
        fclose(f);
    }
    return n;
}

#endif
