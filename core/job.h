/* Job files: a sandboxed Lua script per tenant job, evaluated to a job description and validated
 * against the plugins' option declarations. */
#ifndef SL_JOB_H
#define SL_JOB_H

#include "optnode.h"
#include "registry.h"

#include <stdint.h>

typedef struct sl_optval {
    char *name;
    sl_opt_type type;
    unsigned flags; /* SL_OPT_SECRET ... copied from the declaration */
    int line;       /* where it was set in the job file (0 for defaults) */
    int is_default; /* 1 if not in the file but taken from the declaration's default */
    char *s;        /* STRING, and the text of every other type */
    int64_t i;      /* INT, BOOL (0/1) */
    double d;       /* DOUBLE (also INT as double) */
    char **list;    /* LIST */
    size_t nlist;
    sl_optnode *node; /* every option also as a tree (MAP and TABLE options only so) */
} sl_optval;

typedef struct sl_plugin_spec {
    char *plugin;                 /* plugin name as written */
    int line;                     /* line of the table in the job file */
    const sl_plugin_entry *entry; /* resolved plugin, borrowed from the registry */
    sl_optval *opts;              /* validated options incl. defaults */
    size_t nopts;
} sl_plugin_spec;

/* Job-wide settings, written at the top level of the job table (flush_interval, format, ...).
 * The core, not a plugin, reads them. The old spelling inside sink{} is still accepted, with
 * one deprecation warning per file. */
extern const sl_option sl_job_options[];

typedef struct sl_jobdesc {
    char *file;   /* path as given */
    char *tenant; /* validated: [A-Za-z0-9_.-]{1,64} */
    int tenant_line;
    sl_plugin_spec source;
    sl_plugin_spec *transforms;
    size_t ntransforms;
    sl_plugin_spec sink;
    sl_plugin_spec *notifiers;
    size_t nnotifiers;
    sl_plugin_spec settings; /* sl_job_options incl. defaults; plugin and entry are NULL */
    char hash[17]; /* hex of a 64-bit hash over the evaluated description, secrets included */
} sl_jobdesc;

/* Diagnostics, "FILE:LINE: message" each. A job that loads may still carry warnings
 * ("FILE:LINE: warning: ..."); a job that fails has at least one other line. */
typedef struct sl_diag {
    char **lines;
    size_t n;
} sl_diag;

void sl_diag_add(sl_diag *d, const char *file, int line, const char *fmt, ...) SL_PRINTF(4, 5);
void sl_diag_free(sl_diag *d);

/* Evaluates and validates one job file. NULL on failure with the reasons in diag. */
sl_jobdesc *sl_job_load(const char *path, const sl_registry *reg, sl_diag *diag);
void sl_job_free(sl_jobdesc *job);

const sl_optval *sl_spec_opt(const sl_plugin_spec *spec, const char *name);

/* Options declared SL_OPT_EXCLUSIVE that job b gives the same value as job a (same kind, same
 * plugin): one diagnostic per clash, at b's file and line, naming a's. Returns the number. */
size_t sl_job_clashes(const sl_jobdesc *a, const sl_jobdesc *b, sl_diag *diag);

#endif
