/* The notifier runtime (core/notify.c): posting never waits for the plugin, flushes that arrive
 * while a call runs are merged into the next call (tables united, changes summed, latest
 * position), SL_RETRY keeps the information, and stop drains. */
#include "../../core/notify.h"
#include "sl_test.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct rec {
    pthread_mutex_t lock;
    int delay_ms;   /* each notify() sleeps this long */
    int retry_left; /* notify() returns SL_RETRY this many times first */
    int calls, ticks;
    uint64_t last_seq;
    char last_pos[64];
    uint64_t changes_a, changes_b, rows_a;
    size_t max_tables;
} rec;

static int64_t ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static sl_status rec_notify(void *ctx, const sl_flush_info *fi)
{
    rec *r = ctx;
    usleep((useconds_t)r->delay_ms * 1000);
    pthread_mutex_lock(&r->lock);
    r->calls++;
    if (r->retry_left > 0) {
        r->retry_left--;
        pthread_mutex_unlock(&r->lock);
        return SL_RETRY;
    }
    r->last_seq = fi->flush_seq;
    snprintf(r->last_pos, sizeof r->last_pos, "%s", fi->pos_text ? fi->pos_text : "");
    if (fi->ntables > r->max_tables)
        r->max_tables = fi->ntables;
    for (size_t i = 0; i < fi->ntables; i++) {
        const sl_flush_table *t = SL_FLUSH_TABLE(fi, i);
        if (strcmp(t->name, "a") == 0) {
            r->changes_a += t->changes;
            r->rows_a = t->rows;
        } else {
            r->changes_b += t->changes;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return SL_OK;
}

static sl_status rec_tick(void *ctx)
{
    rec *r = ctx;
    pthread_mutex_lock(&r->lock);
    r->ticks++;
    pthread_mutex_unlock(&r->lock);
    return SL_OK;
}

static const sl_notifier_ops ops = {.size = sizeof ops, .notify = rec_notify, .tick = rec_tick};

static void post(sl_notify *n, uint64_t seq, const char *table, uint64_t rows, uint64_t changes)
{
    char pos[32];
    snprintf(pos, sizeof pos, "0/%llu", (unsigned long long)seq);
    sl_flush_table t = {sizeof t, "public", table, table, rows, changes};
    sl_flush_info fi = {.size = sizeof fi,
                        .flush_seq = seq,
                        .pos = pos,
                        .pos_len = strlen(pos),
                        .pos_text = pos,
                        .commit_time_us = (int64_t)seq,
                        .durable_time_us = (int64_t)seq,
                        .oldest_commit_us = (int64_t)seq,
                        .ntables = 1,
                        .tables = &t,
                        .table_size = sizeof t};
    CHECK_EQ_INT(sl_notify_post(n, &fi), 0);
}

static void test_slow_notifier_does_not_block_and_merges(void)
{
    rec r = {.delay_ms = 300};
    pthread_mutex_init(&r.lock, NULL);
    sl_notify_cfg cfg = {
        .ops = &ops, .ctx = &r, .tenant = "t", .label = "notifier/rec", .tick_ms = 50};
    sl_notify *n = sl_notify_start(&cfg);
    CHECK(n != NULL);
    int64_t t0 = ms();
    for (uint64_t i = 1; i <= 20; i++)
        post(n, i, i % 2 ? "a" : "b", i * 10, 1);
    int64_t took = ms() - t0;
    CHECK(took < 100); /* 20 posts while a 300 ms call runs: none of them waited for it */
    sl_notify_stop(n, 5000);
    /* First call got flush 1 alone; everything after was merged into one or two more calls. */
    CHECK(r.calls <= 3);
    CHECK_EQ_INT(r.last_seq, 20);
    CHECK_EQ_STR(r.last_pos, "0/20");
    CHECK_EQ_INT(r.changes_a, 10);
    CHECK_EQ_INT(r.changes_b, 10);
    CHECK_EQ_INT(r.rows_a, 190); /* the latest flush of a: 19 * 10 */
    CHECK_EQ_INT(r.max_tables, 2);
    pthread_mutex_destroy(&r.lock);
}

static void test_retry_keeps_information(void)
{
    rec r = {.retry_left = 2};
    pthread_mutex_init(&r.lock, NULL);
    sl_notify_cfg cfg = {
        .ops = &ops, .ctx = &r, .tenant = "t", .label = "notifier/rec", .retry_ms = 20};
    sl_notify *n = sl_notify_start(&cfg);
    post(n, 1, "a", 5, 3);
    usleep(5000);
    post(n, 2, "b", 7, 4);
    sl_notify_stop(n, 3000);
    CHECK_EQ_INT(r.calls, 3);     /* two SL_RETRY, then one success with both flushes */
    CHECK_EQ_INT(r.changes_a, 3); /* flush 1's table survived the retries */
    CHECK_EQ_INT(r.changes_b, 4);
    CHECK_EQ_INT(r.last_seq, 2);
    pthread_mutex_destroy(&r.lock);
}

static void test_tick_and_prompt_stop(void)
{
    rec r = {0};
    pthread_mutex_init(&r.lock, NULL);
    sl_notify_cfg cfg = {
        .ops = &ops, .ctx = &r, .tenant = "t", .label = "notifier/rec", .tick_ms = 20};
    sl_notify *n = sl_notify_start(&cfg);
    usleep(200000);
    int64_t t0 = ms();
    sl_notify_stop(n, 0);
    CHECK(ms() - t0 < 100);
    CHECK(r.ticks >= 3);
    CHECK_EQ_INT(r.calls, 0);
    pthread_mutex_destroy(&r.lock);
}

static void test_stop_does_not_wait_forever_for_retries(void)
{
    rec r = {.retry_left = 1000};
    pthread_mutex_init(&r.lock, NULL);
    sl_notify_cfg cfg = {
        .ops = &ops, .ctx = &r, .tenant = "t", .label = "notifier/rec", .retry_ms = 10};
    sl_notify *n = sl_notify_start(&cfg);
    post(n, 1, "a", 1, 1);
    usleep(50000);
    int64_t t0 = ms();
    sl_notify_stop(n, 200);
    CHECK(ms() - t0 < 1000);
    CHECK(r.calls >= 2);
    CHECK_EQ_INT(r.last_seq, 0);
    pthread_mutex_destroy(&r.lock);
}

int main(void)
{
    SL_RUN(test_slow_notifier_does_not_block_and_merges);
    SL_RUN(test_retry_keeps_information);
    SL_RUN(test_tick_and_prompt_stop);
    SL_RUN(test_stop_does_not_wait_forever_for_retries);
    SL_DONE();
}
