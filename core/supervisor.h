/* The supervisor: owns the set of running jobs, reloads job files on SIGHUP as a per-job diff,
 * stops everything gracefully on SIGTERM/SIGINT, writes the metrics file. */
#ifndef SL_SUPERVISOR_H
#define SL_SUPERVISOR_H

#include "registry.h"

#include <stddef.h>

typedef struct sl_run_opts {
    int once;
    const char *metrics_file;
    int stop_timeout_ms;
    int shard_i, shard_n; /* run only tenants with hash % n == i; n = 0: all */
} sl_run_opts;

/* Expand FILE|DIR arguments into a sorted list of job files (*.lua in directories). */
int sl_expand_paths(char *const *args, size_t nargs, char ***out, size_t *nout);
void sl_free_paths(char **paths, size_t n);

/* Blocks the control signals in the calling thread (call in main before any thread starts). */
void sl_signals_block(void);

int sl_supervise(const sl_registry *reg, char *const *args, size_t nargs, const sl_run_opts *o);

#endif
