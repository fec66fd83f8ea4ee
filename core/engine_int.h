/* Internals shared by the job runtime files (engine.c, host.c, flush.c). */
#ifndef SL_ENGINE_INT_H
#define SL_ENGINE_INT_H

#include "batch.h"
#include "engine.h"
#include "table.h"

#include <pthread.h>
#include <stdatomic.h>
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
    /* Number of the table's next change file (_changes/{table}/{n:012}.qvd); 0 = not known yet
     * (a new table: taken from what the sink holds at its first change file). A number becomes
     * used only with the manifest that names it, so a file left by an interrupted flush carries
     * the number the next attempt writes again: replaced, never a second copy of its changes. */
    uint64_t ch_next;
    int64_t last_flush_us;
    int64_t last_latency_us;
} sl_run_table;

/* One table of a flush handed to the flush thread: everything it needs, copied or frozen at the
 * hand-off, so the job thread keeps changing the live table meanwhile. */
typedef struct sl_flush_table_job {
    sl_table *live; /* the job's table (the job thread matches on it when the flush ends) */
    sl_table *snap; /* its rows at the hand-off (copy-on-write view), NULL = unchanged */
    const sl_schema *schema; /* at the hand-off */
    char *ns, *name;         /* copies: the live table may be dropped before the flush ends */
    char *key;
    size_t rows;
    char *comment;
    sl_batch *changes; /* committed change rows (moved out of the table's change log) */
    char *chkey;
    size_t chrows;
    uint8_t *skip_until;
    size_t skip_len;
    uint64_t file_flush, file_bytes, file_hash; /* filled by the flush thread for snap */
    int changed;      /* the table changed since the previous flush: this one writes its file */
    uint64_t pending; /* changes it holds since the previous flush (for notifiers) */
    /* The number of the change file this flush writes for the table (0 = not known yet: the
     * flush thread takes it from what the sink holds). It becomes the table's ch_next (plus
     * one when a file was written) only when the manifest naming it is durable. */
    uint64_t ch_next;
} sl_flush_table_job;

typedef struct sl_flush_job {
    uint64_t seq;
    uint8_t *pos;
    size_t pos_len;
    int64_t pos_commit_us;
    sl_flush_table_job *tables;
    size_t ntables;
    int64_t *commits; /* source commit times this flush makes durable */
    size_t ncommits;
    int64_t first_unflushed_us;
    uint64_t changes;
    size_t mem;         /* bytes counted in the run's mem_flush for this job */
    int64_t durable_us; /* when the manifest was durable (flush thread) */
    uint8_t *from;      /* the last durable position at the hand-off (change files' from=) */
    size_t from_len;
    char *source_state; /* the source's state text at the hand-off (NULL = none) */
    /* Results for the job thread to apply (flush_finish): the manifest's new version, and a
     * fencing conflict the job must stop on. */
    char manifest_version[SL_VERSION_MAX];
    int fatal;
    int failed;
    char err[640];
} sl_flush_job;

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
    /* The flush thread: one per attempt. todo/done/quit under fl_mu; inflight is the job
     * thread's own pointer to the flush it handed off and has not finished yet. */
    pthread_t fl_thread;
    int fl_started;
    pthread_mutex_t fl_mu;
    pthread_cond_t fl_cv;
    sl_flush_job *fl_todo, *fl_done;
    int fl_quit;
    sl_flush_job *inflight;
    char ferr[640]; /* the flush thread's failure (put_object), read after the hand-back */
    int ffailed;
    /* 1 while the job thread is inside a source call (open/poll/heartbeat): durable() must not
     * be entered then (plugin.h: never re-entrantly). */
    int in_source;
    /* Memory per tenant (bytes): host allocations and plugin batches; the engine's change logs;
     * the flush thread's snapshots and encoders; table state (published by the job thread after
     * each change, so other threads can read it). */
    atomic_llong mem_plugins, mem_engine, mem_flush, mem_tables;
    atomic_int mem_refused; /* a host allocation was refused at the budget */
    int mem_flushed;        /* over the budget, a flush has run since: the next check fails */
    /* Pre-transform images of the source tables (only with transforms): UNCHANGED cells are
     * resolved from them before any transform sees a row (the table state holds rows after the
     * transforms, which may rename, drop or change columns). */
    sl_table **pre;
    size_t npre;
    sl_batch *resolved; /* scratch: the resolved copy of a batch with UNCHANGED cells */
    uint64_t polls, polls_during_flush, heartbeats, held_us;
    uint64_t unresolved;    /* rows whose UNCHANGED cells reached the transforms unresolved */
    uint64_t resolved_rows; /* rows whose UNCHANGED cells were filled before the transforms */
    /* Commit-to-durable latency: the source commit time of every commit not yet flushed, and a
     * histogram (1 ms buckets up to 10 s, then overflow) of every flushed commit's latency. */
    int64_t *pending_commits;
    size_t npending, cappending;
    uint64_t lat_hist[10001];
    uint64_t lat_n;
    int64_t lat_max;
    uint64_t rows_in;
    uint64_t flushes;
    /* Fencing: the manifest's version as this attempt last read or wrote it ("" with
     * manifest_found = 0: none existed, the first write must create it). */
    char manifest_version[SL_VERSION_MAX];
    int manifest_found;
    int64_t attempt_start_us; /* wall clock: a conflicting manifest built before it is a late
                                 write of the previous run, not a second live writer */
    /* The failure is not one a restart can cure (another process owns the sink location, state
     * of another tenant or source): the job stops instead of retrying. */
    int fatal;
};

extern const sl_host_api sl_host_api_v2;

void sl_run_fail(sl_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
sl_status sl_run_on_emit(sl_run *r, sl_batch *b);
sl_status sl_run_on_commit(sl_run *r, const void *pos, size_t len, int64_t commit_us);

/* flush.c. The job thread hands a flush to the flush thread (sl_flush_start), keeps reading,
 * and finishes it (sl_flush_poll/sl_flush_wait: bookkeeping, then durable() to the source)
 * between polls. */
int sl_flush_start(sl_run *r, int force); /* 1 handed off, 0 nothing to do, -1 failed (r->err) */
/* Finishes the handed-off flush if the flush thread is done (waiting up to wait_us for it):
 * 1 finished, 0 still running (or none), -1 it failed (r->err). */
int sl_flush_poll(sl_run *r, int64_t wait_us);
int sl_flush(sl_run *r, int force); /* synchronous: any in-flight flush, then this one; 0 / -1 */
int sl_flush_due(const sl_run *r);
/* engine.c: job->unflushed_us (lag metric) = the oldest data commit not yet durable, which may
 * be in the running flush. Job thread. */
void sl_run_publish_unflushed(sl_run *r);
int sl_flusher_start(sl_run *r); /* 0 / -1 */
/* Table t (NULL: every table) is about to be freed, or memory is short: wait until the
 * in-flight flush no longer reads it and release its snapshot (the flush is finished later). */
void sl_flush_detach_table(sl_run *r, sl_table *t);
void sl_flusher_stop(sl_run *r); /* joins the thread, drops an unfinished flush (files stay
                                    ahead of the manifest, as after a crash) */
/* Tenant memory: everything counted, and the error naming it. */
int64_t sl_run_mem(sl_run *r);
void sl_run_mem_tables(sl_run *r); /* republish mem_tables after table changes */
int sl_recover(sl_run *r);         /* 0 ok, -1 failed; fills tables and r->pos */
sl_run_table *sl_run_table_for(sl_run *r, const sl_schema *s);
/* Host API for sources: tables with durable state, and dropping one the source no longer serves. */
const char *sl_run_known_table(sl_run *r, size_t i, const char **ns, const void **pos,
                               size_t *pos_len);
void sl_run_table_drop(sl_run *r, const char *ns, const char *name);

#endif
