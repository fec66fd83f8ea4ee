/* Notifier runtime: one notifier instance on its own thread. The flush path posts what a durable
 * flush made visible; posting copies and merges into one pending record and never waits for the
 * plugin, so a slow or hanging notifier (a Qlik reload API that takes a minute) cannot delay
 * the data path. */
#ifndef SL_NOTIFY_H
#define SL_NOTIFY_H

#include <sluice/plugin.h>

typedef struct sl_notify sl_notify;

typedef struct sl_notify_cfg {
    const sl_notifier_ops *ops;
    void *ctx;          /* the created and opened instance; the notifier thread calls it */
    const char *tenant; /* for log lines; copied */
    const char *label;  /* "notifier/<name>"; copied */
    int tick_ms;        /* period of ops->tick (0 = 1000) */
    int retry_ms;       /* first back-off after SL_RETRY (0 = 1000), doubled up to 30 s */
} sl_notify_cfg;

/* Starts the thread. NULL on failure (out of memory, no thread). */
sl_notify *sl_notify_start(const sl_notify_cfg *cfg);

/* Hands the notifier what a flush made durable (copied). Merged with anything not yet
 * delivered: the union of the tables (changes summed, rows and key the latest), the latest
 * position and times, the oldest first-commit. Never blocks on the plugin. 0, or -1 out of
 * memory (the information is then dropped with a log line). */
int sl_notify_post(sl_notify *n, const sl_flush_info *fi);

/* Stops the thread: waits up to drain_ms for pending information to be delivered (a call in
 * progress is always waited for: the instance is never abandoned mid-call), then joins. The
 * caller closes and destroys the instance afterwards. */
void sl_notify_stop(sl_notify *n, int drain_ms);

/* Counters for metrics and tests (read under the lock). */
typedef struct sl_notify_stats {
    uint64_t posted;    /* sl_notify_post calls */
    uint64_t delivered; /* notify() calls that returned SL_OK */
    uint64_t calls;     /* notify() calls */
    uint64_t failed;    /* SL_ERROR returns (information dropped) */
    uint64_t merged;    /* posts merged into a pending record instead of a call of their own */
} sl_notify_stats;
void sl_notify_get_stats(sl_notify *n, sl_notify_stats *out);

#endif
