/* notify.c - see notify.h. One pending record per notifier, merged under a lock: the flush path
 * only copies, the notifier thread delivers one call at a time. */
#include "notify.h"

#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct nt_table {
    char *ns, *name, *key;
    uint64_t rows, changes;
} nt_table;

typedef struct nt_info {
    int present;
    uint64_t flush_seq;
    uint8_t *pos;
    size_t pos_len;
    char *pos_text;
    int64_t commit_time_us, durable_time_us, oldest_commit_us;
    nt_table *tables;
    size_t ntables, cap;
} nt_info;

struct sl_notify {
    sl_notify_cfg cfg;
    char *tenant, *label;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    nt_info pending;
    int stop;
    int64_t drain_until_ms;
    int64_t next_try_ms;
    int backoff_ms;
    sl_notify_stats stats;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void info_free(nt_info *x)
{
    for (size_t i = 0; i < x->ntables; i++) {
        free(x->tables[i].ns);
        free(x->tables[i].name);
        free(x->tables[i].key);
    }
    free(x->tables);
    free(x->pos);
    free(x->pos_text);
    memset(x, 0, sizeof *x);
}

static char *dup_or_null(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

static int same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static int replace(char **dst, const char *src)
{
    int oom = 0;
    char *d = dup_or_null(src, &oom);
    if (oom)
        return -1;
    free(*dst);
    *dst = d;
    return 0;
}

/* Adds one table to dst. newer: src's rows and key replace dst's (src happened later). */
static int merge_table(nt_info *dst, const char *ns, const char *name, const char *key,
                       uint64_t rows, uint64_t changes, int newer)
{
    for (size_t i = 0; i < dst->ntables; i++) {
        nt_table *t = &dst->tables[i];
        if (same(t->ns, ns) && same(t->name, name)) {
            t->changes += changes;
            if (newer) {
                t->rows = rows;
                if (replace(&t->key, key) != 0)
                    return -1;
            }
            return 0;
        }
    }
    if (dst->ntables == dst->cap) {
        size_t nc = dst->cap ? dst->cap * 2 : 8;
        nt_table *nt = realloc(dst->tables, nc * sizeof *nt);
        if (!nt)
            return -1;
        dst->tables = nt;
        dst->cap = nc;
    }
    int oom = 0;
    nt_table t = {dup_or_null(ns, &oom), dup_or_null(name, &oom), dup_or_null(key, &oom), rows,
                  changes};
    if (oom) {
        free(t.ns);
        free(t.name);
        free(t.key);
        return -1;
    }
    dst->tables[dst->ntables++] = t;
    return 0;
}

/* Merges a flush into dst. newer = 1 when fi happened after what dst holds. */
static int merge_flush(nt_info *dst, const sl_flush_info *fi, int newer)
{
    int first = !dst->present;
    if (first || newer) {
        dst->flush_seq = fi->flush_seq;
        uint8_t *p = NULL;
        if (fi->pos_len) {
            p = malloc(fi->pos_len);
            if (!p)
                return -1;
            memcpy(p, fi->pos, fi->pos_len);
        }
        free(dst->pos);
        dst->pos = p;
        dst->pos_len = fi->pos_len;
        if (replace(&dst->pos_text, fi->pos_text) != 0)
            return -1;
        dst->commit_time_us = fi->commit_time_us;
        dst->durable_time_us = fi->durable_time_us;
    }
    if (first || (fi->oldest_commit_us &&
                  (!dst->oldest_commit_us || fi->oldest_commit_us < dst->oldest_commit_us)))
        dst->oldest_commit_us = fi->oldest_commit_us;
    dst->present = 1;
    for (size_t i = 0; i < fi->ntables; i++) {
        const sl_flush_table *t = SL_FLUSH_TABLE(fi, i);
        if (merge_table(dst, t->ns, t->name, SL_HAS(t, sl_flush_table, key) ? t->key : NULL,
                        t->rows, t->changes, newer || first) != 0)
            return -1;
    }
    return 0;
}

/* The pending record as the ABI hands it to a plugin; tabs is caller-provided storage. */
static void as_flush_info(const nt_info *x, sl_flush_table *tabs, sl_flush_info *fi)
{
    for (size_t i = 0; i < x->ntables; i++)
        tabs[i] = (sl_flush_table){sizeof *tabs,     x->tables[i].ns,   x->tables[i].name,
                                   x->tables[i].key, x->tables[i].rows, x->tables[i].changes};
    *fi = (sl_flush_info){.size = sizeof *fi,
                          .flush_seq = x->flush_seq,
                          .pos = x->pos,
                          .pos_len = x->pos_len,
                          .pos_text = x->pos_text,
                          .commit_time_us = x->commit_time_us,
                          .durable_time_us = x->durable_time_us,
                          .oldest_commit_us = x->oldest_commit_us,
                          .ntables = x->ntables,
                          .tables = tabs,
                          .table_size = sizeof *tabs};
}

static void cond_wait_until(sl_notify *n, int64_t until_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t wait = until_ms - now_ms();
    if (wait <= 0)
        return;
    ts.tv_sec += wait / 1000;
    ts.tv_nsec += (wait % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&n->cond, &n->lock, &ts);
}

static void deliver(sl_notify *n, nt_info *take)
{
    sl_flush_table *tabs = calloc(take->ntables ? take->ntables : 1, sizeof *tabs);
    sl_status st = SL_ERROR;
    if (tabs) {
        sl_flush_info fi;
        as_flush_info(take, tabs, &fi);
        st = n->cfg.ops->notify(n->cfg.ctx, &fi);
    }
    pthread_mutex_lock(&n->lock);
    n->stats.calls++;
    if (st == SL_OK) {
        n->stats.delivered++;
        n->backoff_ms = n->cfg.retry_ms;
        n->next_try_ms = 0;
    } else if (st == SL_RETRY && tabs) {
        /* Keep it: what arrived meanwhile is newer, so take merges in as the older part. */
        sl_flush_info fi;
        as_flush_info(take, tabs, &fi);
        nt_info merged = {0};
        int bad = merge_flush(&merged, &fi, 1);
        if (!bad && n->pending.present) {
            sl_flush_table *pt = calloc(n->pending.ntables ? n->pending.ntables : 1, sizeof *pt);
            if (pt) {
                sl_flush_info pf;
                as_flush_info(&n->pending, pt, &pf);
                bad = merge_flush(&merged, &pf, 1);
                free(pt);
            } else {
                bad = 1;
            }
        }
        if (!bad) {
            info_free(&n->pending);
            n->pending = merged;
        } else {
            info_free(&merged);
        }
        n->next_try_ms = now_ms() + n->backoff_ms;
        int wait = n->backoff_ms;
        n->backoff_ms = n->backoff_ms * 2 > 30000 ? 30000 : n->backoff_ms * 2;
        pthread_mutex_unlock(&n->lock);
        sl_log(SL_LOG_WARN, n->tenant, n->label,
               "notify for flush %llu failed, retrying in %d ms%s",
               (unsigned long long)take->flush_seq, wait, bad ? " (out of memory: dropped)" : "");
        free(tabs);
        return;
    } else {
        n->stats.failed++;
        pthread_mutex_unlock(&n->lock);
        sl_log(SL_LOG_ERROR, n->tenant, n->label, "notify for flush %llu failed; dropped",
               (unsigned long long)take->flush_seq);
        free(tabs);
        return;
    }
    pthread_mutex_unlock(&n->lock);
    free(tabs);
}

static void *notify_main(void *arg)
{
    sl_notify *n = arg;
    int tick_ms = n->cfg.tick_ms > 0 ? n->cfg.tick_ms : 1000;
    int64_t next_tick = now_ms() + tick_ms;
    pthread_mutex_lock(&n->lock);
    for (;;) {
        int64_t now = now_ms();
        if (n->stop && (!n->pending.present || now >= n->drain_until_ms))
            break;
        if (n->pending.present && now >= n->next_try_ms) {
            nt_info take = n->pending;
            memset(&n->pending, 0, sizeof n->pending);
            pthread_mutex_unlock(&n->lock);
            deliver(n, &take);
            info_free(&take);
            pthread_mutex_lock(&n->lock);
            continue;
        }
        if (n->cfg.ops->tick && now >= next_tick && !n->stop) {
            pthread_mutex_unlock(&n->lock);
            n->cfg.ops->tick(n->cfg.ctx);
            pthread_mutex_lock(&n->lock);
            next_tick = now_ms() + tick_ms;
            continue;
        }
        int64_t until = next_tick;
        if (n->pending.present && n->next_try_ms < until)
            until = n->next_try_ms;
        if (n->stop && n->drain_until_ms < until)
            until = n->drain_until_ms;
        cond_wait_until(n, until);
    }
    int lost = n->pending.present;
    uint64_t seq = n->pending.flush_seq;
    info_free(&n->pending);
    pthread_mutex_unlock(&n->lock);
    if (lost)
        sl_log(SL_LOG_WARN, n->tenant, n->label,
               "stopping with flush %llu not yet notified (the next start notifies again from the "
               "manifest's state)",
               (unsigned long long)seq);
    return NULL;
}

sl_notify *sl_notify_start(const sl_notify_cfg *cfg)
{
    sl_notify *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->cfg = *cfg;
    if (n->cfg.retry_ms <= 0)
        n->cfg.retry_ms = 1000;
    n->backoff_ms = n->cfg.retry_ms;
    n->tenant = strdup(cfg->tenant ? cfg->tenant : "");
    n->label = strdup(cfg->label ? cfg->label : "notifier");
    pthread_condattr_t ca;
    int ok = n->tenant && n->label && pthread_condattr_init(&ca) == 0;
    if (ok) {
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        ok = pthread_cond_init(&n->cond, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (ok && pthread_mutex_init(&n->lock, NULL) != 0) {
        pthread_cond_destroy(&n->cond);
        ok = 0;
    }
    if (ok && pthread_create(&n->thread, NULL, notify_main, n) != 0) {
        pthread_mutex_destroy(&n->lock);
        pthread_cond_destroy(&n->cond);
        ok = 0;
    }
    if (!ok) {
        free(n->tenant);
        free(n->label);
        free(n);
        return NULL;
    }
    return n;
}

int sl_notify_post(sl_notify *n, const sl_flush_info *fi)
{
    pthread_mutex_lock(&n->lock);
    int was = n->pending.present;
    int rc = merge_flush(&n->pending, fi, 1);
    n->stats.posted++;
    if (was)
        n->stats.merged++;
    pthread_cond_signal(&n->cond);
    pthread_mutex_unlock(&n->lock);
    if (rc != 0)
        sl_log(SL_LOG_ERROR, n->tenant, n->label, "out of memory: flush %llu not notified",
               (unsigned long long)fi->flush_seq);
    return rc;
}

void sl_notify_get_stats(sl_notify *n, sl_notify_stats *out)
{
    pthread_mutex_lock(&n->lock);
    *out = n->stats;
    pthread_mutex_unlock(&n->lock);
}

void sl_notify_stop(sl_notify *n, int drain_ms)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->lock);
    n->stop = 1;
    n->drain_until_ms = now_ms() + (drain_ms > 0 ? drain_ms : 0);
    pthread_cond_signal(&n->cond);
    pthread_mutex_unlock(&n->lock);
    pthread_join(n->thread, NULL);
    pthread_mutex_destroy(&n->lock);
    pthread_cond_destroy(&n->cond);
    free(n->tenant);
    free(n->label);
    free(n);
}
