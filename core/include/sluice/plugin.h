/*
 * sluice/plugin.h - the one header a Sluice plugin includes (ABI 2).
 *
 * A plugin is a shared object that exports one symbol, sl_plugin_descriptor(), returning a
 * constant sl_plugin. The host hands every instance a table of host functions (sl_host_api), so a
 * plugin never links against the engine and the engine can change inside without breaking it.
 *
 * ABI promise (docs/abi.md has the symbol -> minor table):
 *  - SL_PLUGIN_ABI_MAJOR changes on any incompatible change; the loader refuses another major.
 *  - SL_PLUGIN_ABI_MINOR grows when members are appended to the END of a struct that carries a
 *    size (sl_plugin, every *_ops table, sl_open_args, sl_option, sl_field, sl_column, sl_put_opts,
 *    sl_flush_info, sl_flush_table, sl_host_api). Nothing is removed, reordered or re-typed
 *    within a major, and no enum value changes meaning.
 *  - Every such struct starts with (or, for sl_plugin and sl_host_api, carries early) its size as
 *    its author compiled it. The host copies a plugin's struct by that size into a zeroed struct
 *    of its own, so members newer than the plugin read as zero/NULL, and it walks arrays the
 *    plugin hands it (options, fields) with the plugin's own stride (sl_plugin.option_size,
 *    schema_new's field_size). Arrays the host hands a plugin (sl_schema.cols,
 *    sl_flush_info.tables) carry the host's stride: read them with SL_SCHEMA_COL/SL_FLUSH_TABLE.
 *  - A plugin built for a newer minor than the host loads with one warning; it must check
 *    SL_API_HAS(api, member) before calling a host function the host may not have.
 *
 * Threading (the whole rule; docs/plugin-guide.md explains it):
 *  - An instance (one create() .. destroy()) is called by one thread at a time, never
 *    concurrently and never re-entrantly: no host function calls back into the plugin.
 *    Source and transform instances run on their job's thread; a sink instance runs on its
 *    job's flush thread; a notifier instance runs on its job's notifier thread.
 *  - Different instances of one plugin (other tenants, other jobs) run at the same time in
 *    other threads: a plugin keeps no unsynchronised global state. Process-wide setup goes into
 *    init()/fini(), which the host calls once, on the main thread, before any instance exists
 *    and after the last one is destroyed.
 *  - Host functions taking an sl_host * may be called only from the thread currently running
 *    that instance; batch functions only on batches the caller currently holds.
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

#define SL_PLUGIN_ABI_MAJOR 2
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

typedef enum sl_kind {
    SL_KIND_SOURCE = 1,
    SL_KIND_TRANSFORM = 2,
    SL_KIND_SINK = 3,
    SL_KIND_NOTIFIER = 4, /* 2.0: told after each durable flush (e.g. reload a Qlik app) */
} sl_kind;

/* Data-path result. SL_RETRY is transient (the host backs off and retries, keeping what it had to
 * deliver); SL_ERROR is permanent for this attempt (the job restarts with backoff). */
typedef enum sl_status {
    SL_OK = 0,
    SL_AGAIN = 1,    /* nothing to do right now */
    SL_EOF = 2,      /* source: no more data in --once mode / snapshot-only */
    SL_NOTFOUND = 3, /* sink: object does not exist */
    SL_CONFLICT = 4, /* sink: a conditional put's precondition failed (another writer) */
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
/* Options: each plugin declares the options it takes; the host validates job files against them
 * (`sluice check`: FILE:LINE and did-you-mean) before any instance is created. */

typedef enum sl_opt_type {
    SL_OPT_STRING = 1,
    SL_OPT_INT = 2,
    SL_OPT_DOUBLE = 3,
    SL_OPT_BOOL = 4,
    SL_OPT_LIST = 5,  /* a Lua array of strings (or a single string, taken as a one-element list) */
    SL_OPT_MAP = 6,   /* 2.0: a Lua table from string keys to scalars ({ email = "hmac" }) */
    SL_OPT_TABLE = 7, /* 2.0: any nesting of lists and maps of scalars ({ {column="a"}, ... }) */
} sl_opt_type;

#define SL_OPT_REQUIRED 0x1u
#define SL_OPT_SECRET   0x2u /* never logged or printed */
#define SL_OPT_RANGE    0x4u /* INT/DOUBLE: the value must lie in [min, max] */
/* Two jobs must not give this option the same value for the same plugin (a replication slot, a
 * publication): `sluice check` and `sluice run` refuse the second job, naming both files and
 * tenants. Values a plugin derives at run time from an unset option (e.g. from the tenant name)
 * are the plugin's to keep apart. A flag bit, not a new member: an older host ignores it, so it
 * needs no minor of its own. */
#define SL_OPT_EXCLUSIVE 0x8u

typedef struct sl_option {
    const char *name;
    sl_opt_type type;
    unsigned flags;
    const char *default_value; /* text form; NULL = no default */
    const char *help;
    /* 2.0 */
    const char *const *choices; /* NULL-terminated allowed values of a STRING (or of each LIST
                                   item), checked with did-you-mean; NULL = any */
    double min, max;            /* with SL_OPT_RANGE */
} sl_option;

/* Declaring options with these keeps a plugin's table valid when sl_option grows. */
#define SL_OPTION(name_, type_, flags_, default_, help_)                                           \
    {                                                                                              \
        .name = (name_), .type = (type_), .flags = (flags_), .default_value = (default_),          \
        .help = (help_)                                                                            \
    }
/* A STRING option whose value must be one of choices_ (a NULL-terminated array). */
#define SL_OPTION_CHOICE(name_, flags_, default_, help_, choices_)                                 \
    {                                                                                              \
        .name = (name_), .type = SL_OPT_STRING, .flags = (flags_), .default_value = (default_),    \
        .help = (help_), .choices = (choices_)                                                     \
    }
/* An INT or DOUBLE option that must lie in [min_, max_]. */
#define SL_OPTION_RANGE(name_, type_, flags_, default_, help_, min_, max_)                         \
    {                                                                                              \
        .name = (name_), .type = (type_), .flags = (flags_) | SL_OPT_RANGE,                        \
        .default_value = (default_), .help = (help_), .min = (min_), .max = (max_)                 \
    }
#define SL_OPTIONS_END                                                                             \
    {                                                                                              \
        .name = NULL                                                                               \
    }

/* A node of a MAP or TABLE option (or of any option, read generically). Host-owned, immutable,
 * valid for the life of the instance. */
typedef struct sl_optnode sl_optnode;

/* ------------------------------------------------------------------------------------------ */
/* Data model */

typedef enum sl_type {
    SL_T_INT64 = 1,
    SL_T_DOUBLE = 2,
    SL_T_DECIMAL = 3,       /* exact decimal as text ("-12.340"); precision/scale in sl_field */
    SL_T_STRING = 4,        /* UTF-8 text (also uuid, json, enum, arrays as text) */
    SL_T_BOOL = 5,          /* i64 0/1 */
    SL_T_DATE = 6,          /* i64 days since 1970-01-01 */
    SL_T_TIME = 7,          /* i64 microseconds since midnight */
    SL_T_TIMESTAMP = 8,     /* i64 microseconds since 1970-01-01 00:00, no zone (wall clock) */
    SL_T_TIMESTAMPTZ = 9,   /* i64 microseconds since the Unix epoch, UTC */
    SL_T_BINARY = 10,       /* bytes */
    SL_T_UINT64 = 11,       /* 2.0: i64 holding the bits of an unsigned 64-bit integer */
    SL_T_TIMESTAMPOFF = 12, /* 2.0: i64 microseconds since the Unix epoch (the UTC instant) plus
                               the source's offset east of UTC in seconds (sl_column.aux) */
} sl_type;

/* Per-cell state. UNCHANGED means "same as the row's previous value" (PostgreSQL unchanged TOAST):
 * only a source sets it; the host resolves it from its table state before any transform or sink
 * sees the row. */
enum { SL_CELL_VALUE = 0, SL_CELL_NULL = 1, SL_CELL_UNCHANGED = 2 };

typedef enum sl_op {
    SL_OP_SNAPSHOT = 0, /* a row of a consistent copy of the table */
    SL_OP_INSERT = 1,
    SL_OP_UPDATE = 2,   /* full new row; a key change is sent as DELETE(old key) immediately
                           followed by INSERT(new row), whose UNCHANGED cells take the deleted
                           row's values */
    SL_OP_DELETE = 3,   /* key columns set (others may be NULL; all columns for a keyless table) */
    SL_OP_TRUNCATE = 4, /* the table is emptied; cells are ignored. TRUNCATE followed by SNAPSHOT
                           rows in one source transaction re-reads one table in the stream (after
                           DDL, or for a table newly added to the job). */
} sl_op;

#define SL_FIELD_NOT_NULL 0x1u /* the source declares the column NOT NULL */

typedef struct sl_field {
    const char *name;
    sl_type type;
    int key; /* 1-based position in the primary key / replica identity; 0 = not a key column */
    /* 2.0 */
    unsigned flags;          /* SL_FIELD_* */
    int precision;           /* DECIMAL: total digits; 0 = unknown */
    int scale;               /* DECIMAL: digits after the point; TIME/TIMESTAMP*: fractional-second
                                digits; -1 = unknown */
    const char *source_type; /* the source's own type name ("numeric(12,2)", "bigint unsigned",
                                "datetimeoffset(7)"), or NULL */
} sl_field;

/* Initialiser of an sl_field with only the 1.x members (later ones zero, scale unknown). */
#define SL_FIELD_INIT(name_, type_, key_)                                                          \
    {                                                                                              \
        .name = (name_), .type = (type_), .key = (key_), .scale = -1                               \
    }

/* A table's shape. Made by api->schema_new, owned by the host, immutable, valid for the life of
 * the job attempt. A schema change is a new sl_schema for the same (ns, name). */
typedef struct sl_schema {
    const char *ns;   /* schema / database name, may be "" */
    const char *name; /* table name */
    uint32_t ncols;
    const sl_field *cols; /* ncols entries, field_size bytes apart: use SL_SCHEMA_COL */
    uint32_t nkeys;       /* number of key columns; 0 = table without key */
    uint32_t field_size;  /* the host's sizeof(sl_field) */
} sl_schema;

#define SL_SCHEMA_COL(s, i)                                                                        \
    ((const sl_field *)(const void *)((const char *)(s)->cols + (size_t)(i) * (s)->field_size))

/* Read-only view of one column of a batch, filled by api->batch_column. Set .size to
 * sizeof(sl_column) before the call: the host fills that much. Exactly one of i64/f64/(off,data)
 * is used, by type: fixed types use i64 (INT64, UINT64, BOOL, DATE, TIME, TIMESTAMP,
 * TIMESTAMPTZ, TIMESTAMPOFF) or f64 (DOUBLE); DECIMAL, STRING and BINARY use off[row]..off[row+1]
 * into data. flags[row] is SL_CELL_*. */
typedef struct sl_column {
    uint32_t size;
    sl_type type;
    const uint8_t *flags;
    const int64_t *i64;
    const double *f64;
    const uint64_t *off;
    const char *data;
    const int32_t *aux; /* TIMESTAMPOFF: offset east of UTC in seconds, per row */
} sl_column;

typedef struct sl_batch sl_batch; /* opaque, host-owned, one table, many rows */
typedef struct sl_host sl_host;   /* opaque per-instance handle */

/* What a notifier is told after a durable flush (host-owned, valid during the call). */
typedef struct sl_flush_table {
    uint32_t size;
    const char *ns, *name;
    const char *key;  /* object key of the table's file (without the sink prefix) */
    uint64_t rows;    /* rows in the file */
    uint64_t changes; /* changes applied since the previous notification */
} sl_flush_table;

typedef struct sl_flush_info {
    uint32_t size;
    uint64_t flush_seq;
    const void *pos; /* the durable source position */
    size_t pos_len;
    const char *pos_text;         /* pos as the source formats it */
    int64_t commit_time_us;       /* source commit time of pos (Unix µs), 0 unknown */
    int64_t durable_time_us;      /* when the manifest became durable */
    int64_t oldest_commit_us;     /* oldest source commit first made durable by this flush */
    size_t ntables;               /* changed tables (all changes since the last notification) */
    const sl_flush_table *tables; /* ntables entries, table_size bytes apart: SL_FLUSH_TABLE */
    uint32_t table_size;
} sl_flush_info;

#define SL_FLUSH_TABLE(fi, i)                                                                      \
    ((const sl_flush_table *)(const void *)((const char *)(fi)->tables +                           \
                                            (size_t)(i) * (fi)->table_size))

/* ------------------------------------------------------------------------------------------ */
/* Host API: host -> plugin. Append-only within a major version. */

typedef struct sl_host_api {
    uint32_t abi_minor;
    uint32_t size; /* sizeof(sl_host_api) as the host compiled it */

    /* Logging with tenant and plugin context added by the host. Any thread of the instance. */
    void (*log)(sl_host *h, sl_log_level level, const char *fmt, ...) SL_PRINTF(3, 4);
    /* Record the cause of the failure the plugin is about to return (one line, host copies). */
    void (*set_error)(sl_host *h, const char *fmt, ...) SL_PRINTF(2, 3);
    const char *(*tenant)(sl_host *h); /* valid for the instance's life */

    /* Options, validated and defaulted against the plugin's declaration. Returned strings are
     * host-owned and valid for the instance's life. */
    int (*opt_isset)(sl_host *h, const char *name);          /* given in the job or has a default */
    const char *(*opt_string)(sl_host *h, const char *name); /* NULL if unset */
    int64_t (*opt_int)(sl_host *h, const char *name, int64_t dflt);
    double (*opt_double)(sl_host *h, const char *name, double dflt);
    int (*opt_bool)(sl_host *h, const char *name, int dflt);
    size_t (*opt_list_len)(sl_host *h, const char *name);
    const char *(*opt_list_item)(sl_host *h, const char *name, size_t i);
    /* "FILE:LINE" where the option was set in the job file, or NULL (a default, or unknown):
     * for errors about an option's value found only at run time. */
    const char *(*opt_where)(sl_host *h, const char *name);
    /* Generic reading of any option, for MAP and TABLE options. NULL when unset. */
    const sl_optnode *(*opt_node)(sl_host *h, const char *name);
    /* A node's type: SL_OPT_STRING/INT/DOUBLE/BOOL for scalars, SL_OPT_LIST for an array,
     * SL_OPT_MAP for a table with string keys. */
    sl_opt_type (*node_type)(const sl_optnode *n);
    size_t (*node_len)(const sl_optnode *n); /* items of a list, entries of a map, 0 otherwise */
    /* i-th item of a list, or the value of the i-th entry of a map (maps in key order). */
    const sl_optnode *(*node_item)(const sl_optnode *n, size_t i);
    const char *(*node_key)(const sl_optnode *n, size_t i);              /* map: i-th key */
    const sl_optnode *(*node_get)(const sl_optnode *n, const char *key); /* map lookup */
    const char *(*node_string)(const sl_optnode *n); /* a scalar as text; NULL for lists/maps */
    int64_t (*node_int)(const sl_optnode *n, int64_t dflt);
    double (*node_double)(const sl_optnode *n, double dflt);
    int (*node_line)(const sl_optnode *n); /* line in the job file, 0 unknown */

    /* Metrics: a named counter or gauge for this instance (exported with tenant and plugin
     * labels; names keep [A-Za-z0-9_]). */
    void (*counter_add)(sl_host *h, const char *name, double delta);
    void (*gauge_set)(sl_host *h, const char *name, double value);

    /* Memory, counted against the tenant's memory_limit_mb together with the engine's own table
     * state and flush buffers. May return NULL when the tenant is over its budget: fail the
     * call with set_error (the host then names the budget). free(h, NULL) is a no-op. */
    void *(*malloc)(sl_host *h, size_t n);
    void *(*calloc)(sl_host *h, size_t n, size_t size);
    void *(*realloc)(sl_host *h, void *p, size_t n);
    void (*free)(sl_host *h, void *p);

    /* Schemas. Copies everything it is given; cols is an array of ncols sl_field, field_size
     * (= sizeof(sl_field) as the plugin compiled it) bytes apart. NULL on failure (set_error
     * already called). */
    const sl_schema *(*schema_new)(sl_host *h, const char *ns, const char *name, uint32_t ncols,
                                   const sl_field *cols, size_t field_size);

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
    void (*set_tsoff)(sl_batch *b, uint32_t col, int64_t utc_us, int32_t offset_s);

    /* Reading batches. */
    const sl_schema *(*batch_schema)(const sl_batch *b);
    size_t (*batch_rows)(const sl_batch *b);
    sl_op (*batch_op)(const sl_batch *b, size_t row);
    void (*batch_column)(const sl_batch *b, uint32_t col, sl_column *out);

    /* Source output (source instances only, from poll()). emit hands the host a filled batch
     * (the host copies what it keeps and clears the batch for reuse). commit closes the current
     * source transaction: every row emitted since the previous commit belongs to it. pos is the
     * source's position after that transaction (copied; never before the previous one by
     * pos_compare); the host stores it with the data and gives it back at open() after a restart
     * and to durable() once the sink has made it durable. commit_time_us: the source's commit
     * time (Unix µs) or 0. Neither call ever calls back into the plugin. */
    sl_status (*emit)(sl_host *h, sl_batch *b);
    sl_status (*commit)(sl_host *h, const void *pos, size_t pos_len, int64_t commit_time_us);
    /* 1 when the host is stopping: return from poll() soon (sources check it inside long loops,
     * e.g. a snapshot copy; an abandoned snapshot is simply never committed). */
    int (*stopping)(sl_host *h);

    /* Tables the host holds durable state for (source instances, from open() on): i-th name, or
     * NULL past the end. *ns and the table's own position (everything up to it is in the table's
     * file; NULL = the job's resume position) are filled. A selected table the host does not
     * know has no durable state: the source reads it (TRUNCATE + SNAPSHOT rows in one
     * transaction) while the others keep streaming. */
    const char *(*known_table)(sl_host *h, size_t i, const char **ns, const void **pos,
                               size_t *pos_len);
    /* The source no longer serves a known table (removed from its selection): the host stops
     * writing it and drops it from the manifest (its last file is left in place). */
    void (*table_drop)(sl_host *h, const char *ns, const char *name);
    /* A small text kept for this instance in the tenant's manifest (e.g. a notifier's "last
     * reload done for flush N"): state_get returns the value recovered at start (NULL if none;
     * valid until the next state_set); state_set copies the value, which becomes durable with
     * the next manifest write. */
    const char *(*state_get)(sl_host *h);
    int (*state_set)(sl_host *h, const char *value);
} sl_host_api;

#define SL_API_HAS(api, member)                                                                    \
    ((api)->size >= offsetof(sl_host_api, member) + sizeof((api)->member))
#define SL_HAS(s, type, member) ((s)->size >= offsetof(type, member) + sizeof((s)->member))

/* ------------------------------------------------------------------------------------------ */
/* Per-kind function tables: plugin -> host. Each starts with its size (set .size = sizeof). */

typedef struct sl_open_args {
    uint32_t size;          /* host's sizeof(sl_open_args): check SL_HAS before newer members */
    const void *resume_pos; /* last durable position, or NULL: start with a snapshot */
    size_t resume_len;
    int once; /* 1: run the snapshot or the available changes, then return SL_EOF */
} sl_open_args;

#define SL_POS_UNORDERED 2 /* pos_compare: neither position contains the other (GTID sets) */

typedef struct sl_source_ops {
    uint32_t size;
    /* Do some work: emit batches and commits through the host API. Return SL_OK when work was
     * done, SL_AGAIN when idle (the host may wait up to timeout_ms), SL_EOF when finished. The
     * host calls poll() only between its own flush hand-offs, never from inside emit/commit. */
    sl_status (*poll)(void *ctx, int timeout_ms);
    /* Everything up to pos is durable in the sink: the source may release it (e.g. confirm an LSN).
     * Called on the job thread between polls, never from inside emit() or commit(). */
    void (*durable)(void *ctx, const void *pos, size_t pos_len);
    /* Optional (sluice check --connect): connect and check credentials, privileges, server
     * settings and that the selected tables exist, changing nothing. SL_OK, or SL_ERROR after
     * set_error with the first problem; warnings go through log. Called instead of open(). */
    sl_status (*probe)(void *ctx);
    /* 2.0. Order of two positions this plugin produced: <0, 0, >0, or SL_POS_UNORDERED. No
     * context: the host compares recovered positions before any instance exists. Without it the
     * host can only test equality. */
    int (*pos_compare)(const void *a, size_t alen, const void *b, size_t blen);
    /* 2.0. A position for humans (logs, `sluice qvd info`, metrics): writes at most outlen bytes
     * including the NUL; returns the length it needed, or -1 when pos is not this plugin's. */
    int (*pos_format)(const void *pos, size_t len, char *out, size_t outlen);
    /* 2.0. The namespace unqualified table names mean ("public", "dbo", the MySQL database):
     * object keys leave it out. NULL = always qualify. Valid for the instance's life. */
    const char *(*default_ns)(void *ctx);
    /* 2.0, optional. Called instead of poll() while the host holds the source back (its flush is
     * behind or the tenant is at its memory budget): keep the connection alive (answer
     * keepalives, send status) without delivering rows. SL_OK or SL_RETRY. */
    sl_status (*heartbeat)(void *ctx);
} sl_source_ops;

typedef struct sl_transform_ops {
    uint32_t size;
    /* Map one batch to zero or one batch. in is read-only and resolved (no UNCHANGED cells).
     * *out = NULL drops the batch; *out = in passes it on unchanged; otherwise *out is a batch the
     * transform got from api->batch_new and keeps owning (the host reads it before the next call).
     */
    sl_status (*transform)(void *ctx, const sl_batch *in, const sl_batch **out);
} sl_transform_ops;

/* Sinks store whole objects under keys ("acme/orders.qvd"). An object written with
 * put_begin/put_write/put_commit becomes visible atomically at put_commit, replacing any previous
 * object under the key; put_abort leaves the previous object untouched. */
typedef struct sl_put sl_put;
typedef sl_status (*sl_read_cb)(void *ud, const void *p, size_t len);
typedef sl_status (*sl_list_cb)(void *ud, const char *key, uint64_t size);

typedef struct sl_put_opts {
    uint32_t size;
    const char *content_type;
    /* Conditional write (fencing): commit only if the object's current version equals if_match
     * (a version a previous get/put_commit returned), or, with if_none_match, only if no object
     * exists. Otherwise put_commit returns SL_CONFLICT and the previous object stays. */
    const char *if_match;
    int if_none_match;
} sl_put_opts;

#define SL_VERSION_MAX 128 /* room for a version string (S3 ETag, file generation) with NUL */

typedef struct sl_sink_ops {
    uint32_t size;
    sl_status (*put_begin)(void *ctx, const char *key, const sl_put_opts *opts, sl_put **out);
    sl_status (*put_write)(void *ctx, sl_put *p, const void *buf, size_t len);
    /* Frees p. On SL_OK writes the new object's version into version (SL_VERSION_MAX bytes, may
     * be NULL; "" when the sink has none). SL_CONFLICT: a precondition failed. */
    sl_status (*put_commit)(void *ctx, sl_put *p, char *version);
    void (*put_abort)(void *ctx, sl_put *p); /* frees p */
    /* Streams the object to cb; SL_NOTFOUND when absent. version as for put_commit. */
    sl_status (*get)(void *ctx, const char *key, sl_read_cb cb, void *ud, char *version);
    sl_status (*list)(void *ctx, const char *prefix, sl_list_cb cb, void *ud);
    sl_status (*del)(void *ctx, const char *key); /* SL_OK also when absent */
    /* Optional: check credentials and access without writing data (sluice check --connect). */
    sl_status (*probe)(void *ctx);
    /* 1 when put_opts.if_match / if_none_match are honoured (fencing); 0 = unconditional only. */
    int conditional;
} sl_sink_ops;

typedef struct sl_notifier_ops {
    uint32_t size;
    /* A flush became durable. Runs on the job's notifier thread and may block (bounded by the
     * plugin's own timeouts) without delaying the data path; while it runs, later flushes are
     * coalesced into the next call (union of tables, latest position). SL_RETRY: call again
     * with this information merged into the next; SL_ERROR: logged, the information dropped. */
    sl_status (*notify)(void *ctx, const sl_flush_info *info);
    /* Optional: called about once a second on the notifier thread (poll a running reload). */
    sl_status (*tick)(void *ctx);
    /* Optional (sluice check --connect). */
    sl_status (*probe)(void *ctx);
} sl_notifier_ops;

typedef struct sl_plugin {
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t size; /* sizeof(sl_plugin) as the plugin compiled it */
    sl_kind kind;
    const char *name;
    const char *version;
    const char *description;
    const sl_option *options; /* terminated by an entry with name == NULL */
    uint32_t option_size;     /* sizeof(sl_option) as the plugin compiled it */

    /* Optional process-wide setup, called once on the main thread after loading, before any
     * instance (e.g. a client library's global init). 0, or -1 with a reason in err: the plugin
     * is then refused. fini() runs once at exit if init() succeeded. */
    int (*init)(const sl_host_api *api, char *err, size_t errlen);
    void (*fini)(void);

    /* Make an instance from validated options; no I/O yet. */
    int (*create)(sl_host *h, const sl_host_api *api, void **ctx);
    /* Connect / prepare. Sources get their resume position here (others get NULL). 0 or -1
     * (set_error first). */
    int (*open)(void *ctx, const sl_open_args *args);
    void (*close)(void *ctx);
    void (*destroy)(void *ctx);

    /* Exactly the one matching kind is non-NULL. */
    const sl_source_ops *source;
    const sl_transform_ops *transform;
    const sl_sink_ops *sink;
    const sl_notifier_ops *notifier;
    /* Fields added in later minors go below, never above. */
} sl_plugin;

#define SL_PLUGIN_INIT(kind_, name_, version_, desc_)                                              \
    .abi_major = SL_PLUGIN_ABI_MAJOR, .abi_minor = SL_PLUGIN_ABI_MINOR, .size = sizeof(sl_plugin), \
    .kind = (kind_), .name = (name_), .version = (version_), .description = (desc_),               \
    .option_size = sizeof(sl_option)

#define SL_LOG(api, h, lvl, ...)                                                                   \
    do {                                                                                           \
        (api)->log((h), (lvl), __VA_ARGS__);                                                       \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
