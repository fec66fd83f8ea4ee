/* Test harness for the s3 sink plugin: loads build/plugins/sl-sink-s3.so into the mock host
 * (libsluice-testhost: options validated and defaulted from the plugin's declaration, errors,
 * warnings and memory recorded for the checks). Integration tests read the server from
 * $S3_TEST_DIR/s3.env (written by scripts/s3.sh start) and skip when it is absent. */
#ifndef SL_S3_HARNESS_H
#define SL_S3_HARNESS_H

#include "sl_test.h"

#include <openssl/evp.h>
#include <sluice/testhost.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

/* ---- environment ---- */

static char h_dir[1024];
static char h_src[1024];
static char h_endpoint[256], h_bucket[128], h_ak[128], h_sk[128], h_region[64];
static sl_th_plugin *h_tp;
static const sl_plugin *h_plugin;

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
    char err[1400];
    h_tp = sl_th_load(path, err, sizeof err);
    if (!h_tp) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    h_plugin = sl_th_desc(h_tp);
    if (h_plugin->kind != SL_KIND_SINK) {
        fprintf(stderr, "unexpected plugin descriptor\n");
        exit(1);
    }
}

/* An instance: the server's settings plus overrides (name, value, ..., NULL). th is the mock
 * host (sl_th_errors, sl_th_error, sl_th_log_count, sl_th_mem_now/peak); quiet = 1 before
 * h_open keeps its log off stderr. */
typedef struct h_inst {
    sl_th *th;
    void *ctx;
    const sl_sink_ops *ops;
    int quiet;
} h_inst;

static int h_open(h_inst *in, ...)
{
    int quiet = in->quiet;
    memset(in, 0, sizeof *in);
    in->quiet = quiet;
    in->th = sl_th_new(h_tp, "test");
    sl_th_echo(in->th, quiet ? -1 : SL_LOG_WARN);
    const char *base[][2] = {{"endpoint", h_endpoint}, {"bucket", h_bucket},
                             {"access_key_id", h_ak},  {"secret_access_key", h_sk},
                             {"region", h_region},     {"path_style", "true"}};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        sl_th_set(in->th, base[i][0], base[i][1]);
    }
    va_list ap;
    va_start(ap, in);
    const char *n;
    int rc = 0;
    while ((n = va_arg(ap, const char *)) && rc == 0) {
        rc = sl_th_set(in->th, n, va_arg(ap, const char *));
    }
    va_end(ap);
    in->ops = h_plugin->sink;
    if (rc == 0 && sl_th_create(in->th) == 0 && sl_th_open(in->th, NULL, 0, 0) == 0) {
        in->ctx = sl_th_ctx(in->th);
        return 0;
    }
    if (!quiet) {
        fprintf(stderr, "  h_open: %s\n", sl_th_error(in->th));
    }
    sl_th_free(in->th);
    in->th = NULL;
    return -1;
}

static void h_close(h_inst *in)
{
    if (in->th) {
        sl_th_close(in->th);
        CHECK_EQ_INT(sl_th_misuses(in->th), 0);
        sl_th_free(in->th);
        in->th = NULL;
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

static sl_status h_put(h_inst *in, const char *key, uint64_t size, size_t chunk, uint64_t seed,
                       char sha[65])
{
    sl_put *p = NULL;
    sl_status st = in->ops->put_begin(in->ctx, key, &h_octet, &p);
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
    return in->ops->put_commit(in->ctx, p, NULL);
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
static sl_status h_get(h_inst *in, const char *key, char sha[65], uint64_t *size)
{
    h_sink_buf b = {EVP_MD_CTX_new(), 0};
    EVP_DigestInit_ex(b.md, EVP_sha256(), NULL);
    sl_status st = in->ops->get(in->ctx, key, h_read_cb, &b, NULL);
    uint8_t d[32];
    EVP_DigestFinal_ex(b.md, d, NULL);
    EVP_MD_CTX_free(b.md);
    h_hex(d, 32, sha);
    *size = b.n;
    return st;
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
