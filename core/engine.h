/* A running tenant job: its own thread, Lua-free at run time (the description is already
 * evaluated), its own plugin instances, restarted with exponential backoff when it fails. */
#ifndef SL_ENGINE_H
#define SL_ENGINE_H

#include "job.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct sl_job {
    sl_jobdesc *desc; /* owned */
    pthread_t thread;
    int started;
    int once;
    atomic_int stop;    /* 1: flush at the next transaction boundary and stop */
    atomic_int done;    /* the thread has finished */
    atomic_int failed;  /* --once: gave up after repeated failures */
    pthread_mutex_t mu; /* guards cv (interruptible sleeps) and metrics */
    pthread_cond_t cv;
    /* Metrics, under mu. */
    char *metrics; /* Prometheus text for this job, rebuilt by the job thread */
    uint64_t restarts;
    uint64_t attempt_id;
    /* sluice_job_lag_seconds is now minus the older of these (wall µs), computed when the
     * metrics are read, so it grows while the job thread is blocked, failing or reconnecting. */
    _Atomic int64_t current_us;   /* the source's data was complete up to here: the last commit's
                                     time (a keepalive's empty commit: when it came) */
    _Atomic int64_t unflushed_us; /* oldest commit not yet durable, 0 = none */
} sl_job;

sl_job *sl_job_start(sl_jobdesc *desc, int once); /* takes desc */
void sl_job_request_stop(sl_job *job);
/* Waits up to timeout_ms for the thread; 0 when joined (job freed), -1 on timeout. */
int sl_job_join(sl_job *job, int timeout_ms);
void sl_job_free_stopped(sl_job *job);
/* Copy of the job's metrics text (caller frees). */
char *sl_job_metrics(sl_job *job);

int64_t sl_now_us(void);
int64_t sl_mono_us(void);

#endif
