/* jsonl.c - the `jsonl` notifier: appends one JSON line per durable flush to a file, for ops
 * scripts (`tail -F`), audits and tests. The line names the flush, the durable position and
 * every table whose file changed, with its object key, rows and changes. It also keeps the last
 * flush it wrote in the manifest (state_set), so after a restart it can say which flushes a
 * crash kept it from reporting. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sluice/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct jl {
    sl_host *h;
    const sl_host_api *api;
    const char *path;
    int fsync;
    int64_t delay_ms;
    uint64_t last_seq; /* last flush written (recovered from the manifest) */
    char *line;
    size_t cap;
} jl;

static const sl_option jl_options[] = {
    SL_OPTION("path", SL_OPT_STRING, SL_OPT_REQUIRED, NULL,
              "file the lines are appended to (created 0640 when missing)"),
    SL_OPTION("fsync", SL_OPT_BOOL, 0, "false", "fsync after every line"),
    SL_OPTION_RANGE("delay_ms", SL_OPT_INT, 0, "0",
                    "test hook: wait this long in every call (shows a slow notifier never "
                    "delays the data path)",
                    0, 600000),
    SL_OPTIONS_END,
};

static int jl_create(sl_host *h, const sl_host_api *api, void **ctx)
{
    jl *j = api->calloc(h, 1, sizeof *j);
    if (!j)
        return -1;
    j->h = h;
    j->api = api;
    j->path = api->opt_string(h, "path");
    j->fsync = api->opt_bool(h, "fsync", 0);
    j->delay_ms = api->opt_int(h, "delay_ms", 0);
    *ctx = j;
    return 0;
}

static int jl_open(void *ctx, const sl_open_args *args)
{
    (void)args;
    jl *j = ctx;
    const char *st = j->api->state_get(j->h);
    if (st)
        j->last_seq = strtoull(st, NULL, 10);
    /* Fail at start, not at the first flush, when the file cannot be written. */
    int fd = open(j->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        j->api->set_error(j->h, "cannot open %s: %s", j->path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

/* Appends s as a JSON string. */
static int put(jl *j, size_t *len, const char *fmt, ...) SL_PRINTF(3, 4);
static int put(jl *j, size_t *len, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(j->line ? j->line + *len : NULL, j->line ? j->cap - *len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -1;
        if (j->line && *len + (size_t)n < j->cap) {
            *len += (size_t)n;
            return 0;
        }
        size_t nc = (j->cap ? j->cap : 256) * 2 + (size_t)n;
        char *p = j->api->realloc(j->h, j->line, nc);
        if (!p)
            return -1;
        j->line = p;
        j->cap = nc;
    }
}

static int put_str(jl *j, size_t *len, const char *s)
{
    if (!s)
        return put(j, len, "null");
    if (put(j, len, "\"") != 0)
        return -1;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int rc = c == '"' || c == '\\' ? put(j, len, "\\%c", c)
                 : c < 0x20            ? put(j, len, "\\u%04x", c)
                                       : put(j, len, "%c", c);
        if (rc != 0)
            return -1;
    }
    return put(j, len, "\"");
}

static sl_status jl_notify(void *ctx, const sl_flush_info *fi)
{
    jl *j = ctx;
    if (j->delay_ms > 0) {
        struct timespec ts = {j->delay_ms / 1000, (long)(j->delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    size_t len = 0;
    int bad = put(j, &len, "{\"tenant\":") || put_str(j, &len, j->api->tenant(j->h)) ||
              put(j, &len, ",\"flush\":%" PRIu64 ",\"position\":", fi->flush_seq) ||
              put_str(j, &len, fi->pos_text) ||
              put(j, &len,
                  ",\"commit_time_us\":%" PRId64 ",\"durable_time_us\":%" PRId64
                  ",\"oldest_commit_us\":%" PRId64 ",\"tables\":[",
                  fi->commit_time_us, fi->durable_time_us, fi->oldest_commit_us);
    for (size_t i = 0; i < fi->ntables && !bad; i++) {
        const sl_flush_table *t = SL_FLUSH_TABLE(fi, i);
        bad = put(j, &len, "%s{\"ns\":", i ? "," : "") || put_str(j, &len, t->ns) ||
              put(j, &len, ",\"name\":") || put_str(j, &len, t->name) ||
              put(j, &len, ",\"key\":") || put_str(j, &len, t->key) ||
              put(j, &len, ",\"rows\":%" PRIu64 ",\"changes\":%" PRIu64 "}", t->rows, t->changes);
    }
    if (bad || put(j, &len, "]}\n") != 0) {
        j->api->set_error(j->h, "out of memory");
        return SL_ERROR;
    }
    int fd = open(j->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        j->api->log(j->h, SL_LOG_WARN, "cannot open %s: %s", j->path, strerror(errno));
        return SL_RETRY;
    }
    /* One write(2) of the whole line: concurrent readers never see half a line. */
    ssize_t w = write(fd, j->line, len);
    int ok = w == (ssize_t)len && (!j->fsync || fsync(fd) == 0);
    int saved = errno;
    close(fd);
    if (!ok) {
        j->api->log(j->h, SL_LOG_WARN, "cannot append to %s: %s", j->path, strerror(saved));
        return SL_RETRY;
    }
    j->last_seq = fi->flush_seq;
    char st[32];
    snprintf(st, sizeof st, "%" PRIu64, j->last_seq);
    j->api->state_set(j->h, st);
    return SL_OK;
}

static void jl_destroy(void *ctx)
{
    jl *j = ctx;
    j->api->free(j->h, j->line);
    j->api->free(j->h, j);
}

static const sl_notifier_ops jl_ops = {.size = sizeof jl_ops, .notify = jl_notify};

static const sl_plugin jl_plugin = {
    SL_PLUGIN_INIT(SL_KIND_NOTIFIER, "jsonl", "1.0.0",
                   "appends one JSON line per durable flush (tables changed, position) to a file"),
    .options = jl_options,
    .create = jl_create,
    .open = jl_open,
    .destroy = jl_destroy,
    .notifier = &jl_ops,
};

SL_PLUGIN_ENTRY(jsonl)
{
    return &jl_plugin;
}
