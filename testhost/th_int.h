/* Internals of libsluice-testhost shared by its files (never installed). */
#ifndef SL_TH_INT_H
#define SL_TH_INT_H

#include "batch.h"
#include "optnode.h"
#include "registry.h"

#include <pthread.h>
#include <sluice/testhost.h>

/* A growable list of owned strings. */
typedef struct th_strv {
    char **v;
    size_t n, cap;
} th_strv;

void th_push(th_strv *s, char *str); /* takes str; aborts when out of memory */
void th_strv_free(th_strv *s);
char *th_strdup(const char *s); /* aborts when out of memory */
void *th_alloc(size_t n);       /* calloc that aborts when out of memory */
char *th_fmt(const char *fmt, ...) SL_PRINTF(1, 2);

/* Parses an option value (see sl_th_set). NULL with why on a syntax error. */
sl_optnode *th_node_parse(const char *value, char *why, size_t whylen);
void th_node_free(sl_optnode *n);

/* An option after validation against the declaration. */
typedef struct th_val {
    const sl_option *decl;
    sl_optnode *node; /* owned */
    char *s;          /* text of every type (lists joined with ',') */
    int64_t i;
    double d;
    const char **list; /* LIST: item texts (borrowed from node) */
    size_t nlist;
} th_val;

typedef struct th_raw {
    char *name;
    sl_optnode *node;
} th_raw;

typedef struct th_known {
    char *ns, *name;
    void *pos;
    size_t pos_len;
    int has_pos;
} th_known;

typedef struct th_metric {
    char *name;
    double value;
} th_metric;

typedef struct th_blk th_blk; /* an api->malloc block (th_host.c) */

typedef struct th_commit {
    char *pos; /* NUL-terminated copy */
    size_t len;
    int64_t time_us;
} th_commit;

struct sl_th_plugin {
    sl_plugin_entry e;
};

struct sl_host {
    struct sl_th *t;
};

struct sl_th {
    struct sl_host host;
    const sl_th_plugin *p;
    char *tenant;
    pthread_t owner;
    int echo;
    /* options */
    th_raw *raw;
    size_t nraw;
    th_val *vals;
    size_t nvals;
    /* instance */
    void *ctx;
    int resolved, created, opened, in_poll;
    int stopping;
    /* host-owned data */
    sl_schema_store schemas;
    const sl_schema **made; /* schemas the plugin made, in order */
    size_t nmade;
    sl_batch **batches; /* test batches and emitted copies, freed with t */
    size_t nbatches;
    /* recordings */
    int keep_rows;          /* 0: emit only counts (sl_th_keep_rows) */
    size_t nrows, npending; /* committed / pending row counts, kept or not */
    th_strv rows, pending;
    sl_batch **emitted;
    size_t nemitted;
    th_commit *commits;
    size_t ncommits;
    char *pos; /* the host's position: the resume position given to open, then each commit's */
    size_t pos_len;
    char err[1024];
    int nerrors;
    pthread_mutex_t log_lock; /* log may come from any thread of the instance */
    th_strv logs;
    int nlog[4];
    th_metric *metrics;
    size_t nmetrics;
    size_t mem_now, mem_peak, mem_limit;
    size_t mem_at_create; /* what was held before create(): destroy() must get back to it */
    th_blk *blocks;       /* every block the plugin holds */
    th_strv drops;
    th_known *known;
    size_t nknown;
    char *state_in, *state_out;
    int nmisuse;
    char misuse[512];
};

/* th_host.c */
#define sl_th_host_api sl_host_api_v2 /* declared in registry.h */
void th_misuse(sl_th *t, const char *fmt, ...) SL_PRINTF(2, 3);
void th_free_blocks(sl_th *t); /* frees what the plugin left allocated */
void th_record_emit(sl_th *t, sl_batch *b);
sl_batch *th_keep_batch(sl_th *t, const sl_schema *s);

/* th_opts.c: validates raw options into vals. 0, or -1 with t->err. */
int th_opts_resolve(sl_th *t);
void th_opts_free_vals(sl_th *t);
const th_val *th_opt_find(sl_th *t, const char *name);

/* th_text.c */
int th_row_text(const sl_batch *b, size_t row, char *out, size_t outlen);
char *th_row_dup(const sl_batch *b, size_t row);

#endif
