/*
 * sluice/plugin.h - the one header a Sluice plugin includes.
 *
 * A plugin is a shared object that exports one symbol, sl_plugin_descriptor(), returning a
 * constant sl_plugin. The host hands every instance a table of host functions (sl_host_api), so a
 * plugin never links against the engine and the engine can change inside without breaking it.
 *
 * ABI rules (see docs/plugin-api.md):
 *  - SL_PLUGIN_ABI_MAJOR changes on any incompatible change; the loader refuses another major.
 *  - SL_PLUGIN_ABI_MINOR grows when fields or functions are appended to the end of sl_plugin or
 *    sl_host_api. A plugin built for an older minor still loads (sl_plugin.size tells the host how
 *    much of the struct the plugin knows); a plugin checks api->size before calling a function
 *    appended after its own minor (SL_API_HAS).
 *  - Nothing is ever removed, reordered or re-typed within one major.
 *  - The per-kind tables (sl_source_ops, sl_transform_ops, sl_sink_ops) and sl_open_args carry
 *    no size, so they are frozen for the major: later functions are appended to sl_plugin.
 *
 * Ownership: arguments are borrowed for the duration of a call; whoever keeps data copies it.
 * Batches and schemas belong to the host. A plugin context is made by create() and freed by
 * destroy(), which the host calls exactly once whenever create() succeeded.
 */
#ifndef SLUICE_PLUGIN_H
#define SLUICE_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SL_PLUGIN_ABI_MAJOR 1
#define SL_PLUGIN_ABI_MINOR 0

#if defined(__GNUC__)
#define SL_EXPORT       __attribute__((visibility("default")))
#define SL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SL_EXPORT
#define SL_PRINTF(f, a)
#endif

/* Symbol every plugin exports. SL_PLUGIN_STATIC renames it so the same source links into a
 * program (tests, static builds). */
#ifdef SL_PLUGIN_STATIC
#define SL_PLUGIN_ENTRY(name) const struct sl_plugin *sl_plugin_descriptor_##name(void)
#else
#define SL_PLUGIN_ENTRY(name) SL_EXPORT const struct sl_plugin *sl_plugin_descriptor(void)
#endif
#define SL_PLUGIN_SYMBOL "sl_plugin_descriptor"

typedef enum sl_kind { SL_KIND_SOURCE = 1, SL_KIND_TRANSFORM = 2, SL_KIND_SINK = 3 } sl_kind;

/* Data-path result. SL_RETRY is transient (the host backs off and retries, keeping what it had to
 * deliver); SL_ERROR is permanent for this attempt (the job restarts with backoff). */
typedef enum sl_status {
    SL_OK = 0,
    SL_AGAIN = 1,    /* nothing to do right now */
    SL_EOF = 2,      /* source: no more data in --once mode / snapshot-only */
    SL_NOTFOUND = 3, /* sink: object does not exist */
    SL_RETRY = -1,
    SL_ERROR = -2,
} sl_status;

typedef enum sl_log_level {
    SL_LOG_ERROR = 0,
    SL_LOG_WARN = 1,
    SL_LOG_INFO = 2,
    SL_LOG_DEBUG = 3,
} sl_log_level;

/* ------------------------------------------------------------------------------------------ */
/* Options: each plugin declares the options it takes; the host validates job files against them */

typedef enum sl_opt_type {
    SL_OPT_STRING = 1,
    SL_OPT_INT = 2,
    SL_OPT_DOUBLE = 3,
    SL_OPT_BOOL = 4,
    SL_OPT_LIST = 5, /* a Lua array of strings (or a single string, taken as a one-element list) */
} sl_opt_type;

#define SL_OPT_REQUIRED 0x1u
#define SL_OPT_SECRET   0x2u /* never logged or printed */

typedef struct sl_option {
    const char *name;
    sl_opt_type type;
    unsigned flags;
    const char *default_value; /* text form; NULL = no default */
    const char *help;
} sl_option;

/* ------------------------------------------------------------------------------------------ */
/* Data model */

typedef enum sl_type {
    SL_T_INT64 = 1,
    SL_T_DOUBLE = 2,
    SL_T_DECIMAL = 3,       /* exact decimal as text ("-12.340") */
    SL_T_STRING = 4,        /* UTF-8 text (also uuid, json, enum, arrays as text) */
    SL_T_BOOL = 5,          /* i64 0/1 */
    SL_T_DATE = 6,          /* i64 days since 1970-01-01 */
    SL_T_TIME = 7,          /* i64 microseconds since midnight */
    SL_T_TIMESTAMP = 8,     /* i64 microseconds since 1970-01-01 00:00, no zone (wall clock) */
    SL_T_TIMESTAMPTZ = 9,   /* i64 microseconds since the Unix epoch, UTC */
    SL_T_BINARY = 10,       /* bytes */
    SL_T_UINT64 = 11,       /* i64 holding the bits of an unsigned 64-bit integer */
    SL_T_TIMESTAMPOFF = 12, /* i64 microseconds since the Unix epoch (UTC instant) plus the
                               source's offset east of UTC in seconds (sl_column.aux) */
} sl_type;

/* Per-cell state. UNCHANGED means "same as the row's previous value" (PostgreSQL unchanged TOAST):
 * the host takes it from its table state. */
enum { SL_CELL_VALUE = 0, SL_CELL_NULL = 1, SL_CELL_UNCHANGED = 2 };

typedef enum sl_op {
    SL_OP_SNAPSHOT = 0, /* a row of the initial copy */
    SL_OP_INSERT = 1,
    SL_OP_UPDATE = 2,   /* full new row; a key change is sent as DELETE(old key) immediately
                           followed by INSERT(new row), whose UNCHANGED cells take the deleted
                           row's values */
    SL_OP_DELETE = 3,   /* key columns set (others may be NULL) */
    SL_OP_TRUNCATE = 4, /* the table is emptied; cells are ignored */
} sl_op;

typedef struct sl_field {
    const char *name;
    sl_type type;
    int key; /* 1-based position in the primary key / replica identity; 0 = not a key column */
} sl_field;

/* A table's shape. Made by api->schema_new, owned by the host, immutable, valid for the life of
 * the plugin instance. A schema change is a new sl_schema for the same (ns, name). */
typedef struct sl_schema {
    const char *ns;   /* schema / database name, may be "" */
    const char *name; /* table name */
    uint32_t ncols;
    const sl_field *cols;
    uint32_t nkeys; /* number of key columns; 0 = table without key */
} sl_schema;

/* Read-only view of one column of a batch. Exactly one of i64/f64/(off,data) is used, by type:
 * fixed types use i64 (INT64, BOOL, DATE, TIME, TIMESTAMP, TIMESTAMPTZ) or f64 (DOUBLE); DECIMAL,
 * STRING and BINARY use off[row]..off[row+1] into data. flags[row] is SL_CELL_*. */
typedef struct sl_column {
    sl_type type;
    const uint8_t *flags;
    const int64_t *i64;
    const double *f64;
    const uint64_t *off;
    const char *data;
} sl_column;

typedef struct sl_batch sl_batch; /* opaque, host-owned, one table, many rows */
typedef struct sl_host sl_host;   /* opaque per-instance handle */

/* ------------------------------------------------------------------------------------------ */
/* Host API: host -> plugin. Append-only within a major version. */

typedef struct sl_host_api {
    uint32_t abi_minor;
    uint32_t size; /* sizeof(sl_host_api) as the host compiled it */

    /* Logging with tenant and plugin context added by the host. */
    void (*log)(sl_host *h, sl_log_level level, const char *fmt, ...) SL_PRINTF(3, 4);
    /* Record the cause of the failure the plugin is about to return (one line, host copies). */
    void (*set_error)(sl_host *h, const char *fmt, ...) SL_PRINTF(2, 3);
    const char *(*tenant)(sl_host *h);

    /* Options, validated and defaulted against the plugin's declaration. */
    int (*opt_isset)(sl_host *h, const char *name);          /* given in the job or has a default */
    const char *(*opt_string)(sl_host *h, const char *name); /* NULL if unset */
    int64_t (*opt_int)(sl_host *h, const char *name, int64_t dflt);
    double (*opt_double)(sl_host *h, const char *name, double dflt);
    int (*opt_bool)(sl_host *h, const char *name, int dflt);
    size_t (*opt_list_len)(sl_host *h, const char *name);
    const char *(*opt_list_item)(sl_host *h, const char *name, size_t i);

    /* Metrics: a named counter or gauge for this instance. */
    void (*counter_add)(sl_host *h, const char *name, double delta);
    void (*gauge_set)(sl_host *h, const char *name, double value);

    /* Memory, counted per tenant. */
    void *(*malloc)(sl_host *h, size_t n);
    void *(*calloc)(sl_host *h, size_t n, size_t size);
    void *(*realloc)(sl_host *h, void *p, size_t n);
    void (*free)(sl_host *h, void *p);

    /* Schemas. Copies everything it is given. NULL on failure (set_error already called). */
    const sl_schema *(*schema_new)(sl_host *h, const char *ns, const char *name, uint32_t ncols,
                                   const sl_field *cols);

    /* Building batches. batch_new returns an empty host-owned batch for a schema; the plugin fills
     * it row by row and hands it back with emit (source) or as transform output. */
    sl_batch *(*batch_new)(sl_host *h, const sl_schema *schema);
    void (*batch_free)(sl_host *h, sl_batch *b);
    void (*batch_clear)(sl_batch *b);
    /* Start a row; then set every column once (unset columns become NULL). Returns the row index
     * or -1 on allocation failure. */
    int64_t (*row_begin)(sl_batch *b, sl_op op);
    void (*set_i64)(sl_batch *b, uint32_t col, int64_t v);
    void (*set_f64)(sl_batch *b, uint32_t col, double v);
    int (*set_bytes)(sl_batch *b, uint32_t col, const void *p, size_t len); /* 0 / -1 */
    void (*set_null)(sl_batch *b, uint32_t col);
    void (*set_unchanged)(sl_batch *b, uint32_t col);

    /* Reading batches. */
    const sl_schema *(*batch_schema)(const sl_batch *b);
    size_t (*batch_rows)(const sl_batch *b);
    sl_op (*batch_op)(const sl_batch *b, size_t row);
    void (*batch_column)(const sl_batch *b, uint32_t col, sl_column *out);

    /* Source output. emit hands the host a filled batch (the host copies what it keeps and clears
     * the batch for reuse). commit closes the current source transaction: every row emitted since
     * the previous commit belongs to it. pos is an opaque position (copied) that the host stores
     * with the data and gives back at open() after a restart, and to durable() once the sink has
     * made it durable. commit_time_us: the source's commit time (Unix microseconds) or 0. */
    sl_status (*emit)(sl_host *h, sl_batch *b);
    sl_status (*commit)(sl_host *h, const void *pos, size_t pos_len, int64_t commit_time_us);
    /* 1 when the host is stopping (sources poll this inside long loops, e.g. a snapshot copy). */
    int (*stopping)(sl_host *h);
    /* "FILE:LINE" where the option was set in the job file, or NULL (a default, or unknown):
     * for errors about an option's value found only at run time. Valid for the instance's life. */
    const char *(*opt_where)(sl_host *h, const char *name);
} sl_host_api;

#define SL_API_HAS(api, member)                                                                    \
    ((api)->size >= offsetof(sl_host_api, member) + sizeof((api)->member))

/* ------------------------------------------------------------------------------------------ */
/* Per-kind function tables: plugin -> host. */

typedef struct sl_open_args {
    const void *resume_pos; /* last durable position, or NULL: start with a snapshot */
    size_t resume_len;
    int once; /* 1: run the snapshot or the available changes, then return SL_EOF */
} sl_open_args;

typedef struct sl_source_ops {
    /* Do some work: emit batches and commits through the host API. Return SL_OK when work was
     * done, SL_AGAIN when idle (the host may wait up to timeout_ms), SL_EOF when finished. */
    sl_status (*poll)(void *ctx, int timeout_ms);
    /* Everything up to pos is durable in the sink: the source may release it (e.g. confirm an LSN).
     */
    void (*durable)(void *ctx, const void *pos, size_t pos_len);
    /* Optional (sluice check --connect): connect and check credentials, privileges, server
     * settings and that the selected tables exist, changing nothing. SL_OK, or SL_ERROR after
     * set_error with the first problem; warnings go through log. Called instead of open(). */
    sl_status (*probe)(void *ctx);
} sl_source_ops;

typedef struct sl_transform_ops {
    /* Map one batch to zero or one batch. *out = NULL drops the batch; *out = in passes it on
     * unchanged; otherwise *out is a batch the transform got from api->batch_new and keeps owning.
     */
    sl_status (*transform)(void *ctx, sl_batch *in, sl_batch **out);
} sl_transform_ops;

/* Sinks store whole objects under keys ("acme/orders.qvd"). An object written with
 * put_begin/put_write/put_commit becomes visible atomically at put_commit, replacing any previous
 * object under the key; put_abort leaves the previous object untouched. */
typedef struct sl_put sl_put;
typedef sl_status (*sl_read_cb)(void *ud, const void *p, size_t len);
typedef sl_status (*sl_list_cb)(void *ud, const char *key, uint64_t size);

typedef struct sl_sink_ops {
    sl_status (*put_begin)(void *ctx, const char *key, const char *content_type, sl_put **out);
    sl_status (*put_write)(void *ctx, sl_put *p, const void *buf, size_t len);
    sl_status (*put_commit)(void *ctx, sl_put *p); /* frees p */
    void (*put_abort)(void *ctx, sl_put *p);       /* frees p */
    /* Streams the object to cb; SL_NOTFOUND when absent. */
    sl_status (*get)(void *ctx, const char *key, sl_read_cb cb, void *ud);
    sl_status (*list)(void *ctx, const char *prefix, sl_list_cb cb, void *ud);
    sl_status (*del)(void *ctx, const char *key); /* SL_OK also when absent */
    /* Optional: check credentials and access without writing data (sluice check --connect). */
    sl_status (*probe)(void *ctx);
} sl_sink_ops;

typedef struct sl_plugin {
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t size; /* sizeof(sl_plugin) as the plugin compiled it */
    sl_kind kind;
    const char *name;
    const char *version;
    const char *description;
    const sl_option *options; /* terminated by an entry with name == NULL */

    /* Make an instance from validated options; no I/O yet. */
    int (*create)(sl_host *h, const sl_host_api *api, void **ctx);
    /* Connect / prepare. Sources get their resume position here. 0 or -1 (set_error first). */
    int (*open)(void *ctx, const sl_open_args *args);
    void (*close)(void *ctx);
    void (*destroy)(void *ctx);

    /* Exactly the one matching kind is non-NULL. */
    const sl_source_ops *source;
    const sl_transform_ops *transform;
    const sl_sink_ops *sink;
    /* Fields added in later minors go below, never above. */
} sl_plugin;

#define SL_PLUGIN_INIT(kind_, name_, version_, desc_)                                              \
    .abi_major = SL_PLUGIN_ABI_MAJOR, .abi_minor = SL_PLUGIN_ABI_MINOR, .size = sizeof(sl_plugin), \
    .kind = (kind_), .name = (name_), .version = (version_), .description = (desc_)

#define SL_LOG(api, h, lvl, ...)                                                                   \
    do {                                                                                           \
        (api)->log((h), (lvl), __VA_ARGS__);                                                       \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
