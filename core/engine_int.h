/* Internals shared by the job runtime files (engine.c, host.c, flush.c). */
#ifndef SL_ENGINE_INT_H
#define SL_ENGINE_INT_H

#include "batch.h"
#include "engine.h"
#include "table.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sl_run sl_run;

struct sl_host {
    sl_run *run;
    const sl_plugin_entry *entry;
    const sl_plugin_spec *spec;
    char label[96];  /* "<kind>/<name>" */
    char where[512]; /* opt_where's answer */
    char *state;     /* state_get/state_set: kept in the manifest */
    char err[512];
    void *ctx;
    int created, opened;
    /* Plugin metrics (counter_add / gauge_set); only the job thread touches them. */
    struct sl_plugin_metric {
        char name[64];
        double value;
        int gauge;
    } metrics[32];
    size_t nmetrics;
};

/* One change kept for a change file. */
typedef struct sl_change_log {
    sl_batch *rows;          /* table columns + _op, _commit_time, _position */
    const sl_schema *schema; /* the extended schema */
    const sl_schema *base;   /* the table schema it was built for */
    size_t committed;        /* rows covered by a commit */
} sl_change_log;

typedef struct sl_run_table {
    sl_table *t;
    char *key; /* object key of the current-state file, without the sink prefix */
    sl_change_log ch;
    uint64_t file_flush; /* flush number the current file was written at */
    uint64_t file_bytes, file_hash;
    /* Recovery found this table's file newer than the manifest (a crash between the file and the
     * manifest write): it already holds every change up to this position, so replayed changes
     * are not applied again until the commit at this position has passed. Only change files
     * still record them. */
    uint8_t *skip_until;
    size_t skip_len;
    int snapshot_seen; /* this attempt has received SNAPSHOT rows for the table */
    int recovered;     /* its state came from the sink (the source sees it as known_table) */
    /* Position of the last commit that changed this table: the table's file holds every change
     * up to it. A replay after a crash reproduces exactly this commit (a real transaction, unlike
     * a keepalive's empty commit), so recovery can skip up to it by equality. */
    uint8_t *change_pos;
    size_t change_pos_len;
    int txn_touched;
    int64_t last_flush_us;
    int64_t last_latency_us;
} sl_run_table;

/* One attempt of a job: plugin instances, table state, positions. */
struct sl_run {
    sl_job *job;
    const sl_jobdesc *d;
    sl_schema_store schemas;
    sl_host source, sink;
    sl_host *transforms;
    size_t ntransforms;
    /* Notifiers: each instance runs on its own thread (core/notify.c) once started. */
    sl_host *notifiers;
    struct sl_notify **notify;
    size_t nnotifiers;
    char **nstate; /* notifier state recovered from the manifest, by index, until created */
    /* Guards every host's state (state_set runs on notifier threads, the manifest reads it). */
    pthread_mutex_t state_lock;
    int state_lock_ok;
    sl_run_table *tables;
    size_t ntables;
    int manifest_dirty; /* a table left the job: the next flush writes the manifest */
    int txn_open;
    int txn_rows; /* the open transaction emitted rows (empty commits only move the position) */
    /* Positions: the last committed (in memory) and the last durable (in the sink). */
    uint8_t *pos;
    size_t pos_len;
    int64_t pos_commit_us;      /* source commit time of pos */
    int64_t first_unflushed_us; /* wall time of the oldest commit not yet flushed */
    uint64_t commits_since_flush;
    uint64_t changes_since_flush;
    uint8_t *durable;
    size_t durable_len;
    uint64_t flush_seq;
    int64_t last_flush_mono;
    int64_t last_manifest_mono;
    /* Core sink options. */
    double flush_interval;
    int64_t flush_max_changes;
    int changes;
    int csv;
    int tz_minutes;
    int64_t memory_limit;
    /* Failure raised inside a callback (emit/commit). */
    int failed;
    char err[640];
    /* Commit-to-durable latency: the source commit time of every commit not yet flushed, and a
     * histogram (1 ms buckets up to 10 s, then overflow) of every flushed commit's latency. */
    int64_t *pending_commits;
    size_t npending, cappending;
    uint64_t lat_hist[10001];
    uint64_t lat_n;
    int64_t lat_max;
    uint64_t rows_in;
    uint64_t flushes;
};

extern const sl_host_api sl_host_api_v2;

void sl_run_fail(sl_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
sl_status sl_run_on_emit(sl_run *r, sl_batch *b);
sl_status sl_run_on_commit(sl_run *r, const void *pos, size_t len, int64_t commit_us);

/* flush.c */
int sl_flush(sl_run *r, int force); /* 0 ok (or nothing to do), -1 failed (r->err) */
int sl_flush_due(const sl_run *r);
int sl_recover(sl_run *r); /* 0 ok, -1 failed; fills tables and r->pos */
sl_run_table *sl_run_table_for(sl_run *r, const sl_schema *s);
/* Host API for sources: tables with durable state, and dropping one the source no longer serves. */
const char *sl_run_known_table(sl_run *r, size_t i, const char **ns, const void **pos,
                               size_t *pos_len);
void sl_run_table_drop(sl_run *r, const char *ns, const char *name);

#endif
