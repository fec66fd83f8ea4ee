/*
 * sluice/testhost.h - a mock Sluice host for plugin unit tests (libsluice-testhost).
 *
 * The mock implements the whole sl_host_api of the ABI this header ships with, on the engine's
 * own batch and schema code, and records everything a plugin does through it so a test can
 * look: rows emitted and committed (as text lines and as batches), positions, schemas, log
 * lines, errors, metrics, memory held, tables dropped, instance state. It also drives a plugin:
 * load a .so (checked like the engine's loader does), set options, create/open, poll a source,
 * run a transform on a batch, put/get objects through a sink.
 *
 * One sl_th is one host handle for at most one plugin instance at a time. Everything here is
 * single-threaded: call it from the test's thread. Calls that fail return -1 / NULL /
 * SL_ERROR and leave the reason in sl_th_error() (or in err for loading).
 *
 * Row text (sl_th_row, sl_th_row_text, sl_th_batch_add): "<ns>.<table>|<op>|<cell>|<cell>..."
 * with op one of S I U D T (a TRUNCATE line has no cells). Cells: \N is NULL, \U is UNCHANGED;
 * integers and every i64 type (dates, times, timestamps as their raw numbers) in decimal,
 * UINT64 unsigned; DOUBLE as the shortest text that reads back equal (NaN, Infinity, -Infinity;
 * integral values without a point); STRING and DECIMAL as their bytes; BINARY as lower-case
 * hex; TIMESTAMPOFF as "<utc_us>@<offset_s>".
 */
#ifndef SLUICE_TESTHOST_H
#define SLUICE_TESTHOST_H

#include <sluice/plugin.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SL_TH_API __attribute__((visibility("default")))
#else
#define SL_TH_API
#endif

typedef struct sl_th_plugin sl_th_plugin; /* a loaded plugin */
typedef struct sl_th sl_th;               /* a mock host (and its instance) */

/* ---- loading ---- */

/* dlopen a plugin .so, check it as the engine's loader does (major, sizes, entries, option
 * stride), normalise it to this host's struct layouts and call its init(). NULL on refusal with
 * the reason in err. */
SL_TH_API sl_th_plugin *sl_th_load(const char *path, char *err, size_t errlen);
/* The same for a descriptor linked into the test (a plugin built with -DSL_PLUGIN_STATIC). */
SL_TH_API sl_th_plugin *sl_th_wrap(const sl_plugin *desc, char *err, size_t errlen);
/* The normalised descriptor (host layouts: read ops and options directly). */
SL_TH_API const sl_plugin *sl_th_desc(const sl_th_plugin *p);
/* fini() if init() ran, then dlclose. Every sl_th of the plugin must be freed first. */
SL_TH_API void sl_th_unload(sl_th_plugin *p);

/* ---- a host ---- */

/* A host for one instance of p, for tenant (NULL: "test"). Aborts when out of memory. */
SL_TH_API sl_th *sl_th_new(const sl_th_plugin *p, const char *tenant);
/* Closes and destroys the instance if there is one, then frees everything recorded. */
SL_TH_API void sl_th_free(sl_th *t);
/* Echo log lines (and set_error texts, as level ERROR) at or below this level to stderr;
 * -1 echoes nothing. Default SL_LOG_WARN, or $SL_TH_ECHO (a number) when set. */
SL_TH_API void sl_th_echo(sl_th *t, int max_level);

/* ---- options (before sl_th_create) ---- */

/* Sets an option as a job file would. value is the text of a scalar ("5", "true", "abc"), or a
 * Lua-style table constructor for lists and maps: "{ 'a', 'b' }", "{ email = 'hmac', n = 3 }",
 * "{ { column = 'a', method = 'hmac' }, { column = 'b' } }" (strings quoted with ' or ", or
 * bare words; numbers; true/false). A LIST option also takes a single scalar (one item). Values
 * are checked against the declaration at sl_th_create, like `sluice check` does. Setting a name
 * twice replaces the value; value NULL removes it. -1 when value does not parse. */
SL_TH_API int sl_th_set(sl_th *t, const char *name, const char *value);
/* sl_th_set for name, value, name, value, ..., NULL. -1 at the first that fails. */
SL_TH_API int sl_th_set_all(sl_th *t, ...);

/* ---- lifecycle ---- */

/* Validates the options (unknown names, types, required, choices, ranges; defaults filled) and
 * calls the plugin's create(). 0, or -1 with sl_th_error(). */
SL_TH_API int sl_th_create(sl_th *t);
/* open() with a resume position (NULL: none) and the once flag. 0 or -1 with sl_th_error(). */
SL_TH_API int sl_th_open(sl_th *t, const void *resume, size_t resume_len, int once);
/* sl_th_set_all + create + open(NULL, once = 0). */
SL_TH_API int sl_th_start(sl_th *t, ...);
/* close() if open, destroy() if created. Recordings stay until sl_th_reset or sl_th_free. */
SL_TH_API void sl_th_close(sl_th *t);
/* Forgets every recording (rows, commits, schemas, logs, errors, metrics, drops); keeps the
 * options, the known tables and the state. The instance must be closed. */
SL_TH_API void sl_th_reset(sl_th *t);
/* The instance context create() made (NULL before). */
SL_TH_API void *sl_th_ctx(const sl_th *t);
/* The host API table this mock hands to plugins. */
SL_TH_API const sl_host_api *sl_th_api(void);
/* The sl_host * handed to the plugin (for building batches with sl_th_api()). */
SL_TH_API sl_host *sl_th_host(sl_th *t);

/* ---- driving each kind ---- */

/* Source: one poll(). emit/commit are accepted only inside it. */
SL_TH_API sl_status sl_th_poll(sl_th *t, int timeout_ms);
/* Polls until at least ncommits commits are recorded in total, or EOF, an error, or max_ms
 * pass (then SL_AGAIN). SL_OK when reached. */
SL_TH_API sl_status sl_th_poll_until(sl_th *t, size_t ncommits, int max_ms);
SL_TH_API void sl_th_durable(sl_th *t, const void *pos, size_t len);
SL_TH_API sl_status sl_th_heartbeat(sl_th *t); /* SL_OK when the plugin has none */
SL_TH_API sl_status sl_th_probe(sl_th *t);     /* SL_OK when the plugin has none */
/* What sluice stopping() tells the plugin from now on. */
SL_TH_API void sl_th_set_stopping(sl_th *t, int stopping);
/* A table the host "holds durable state for" (known_table), in the order added. pos NULL: the
 * job's resume position. */
SL_TH_API void sl_th_add_known_table(sl_th *t, const char *ns, const char *name, const void *pos,
                                     size_t pos_len);
/* The value state_get() returns (as recovered from a manifest), NULL for none. */
SL_TH_API void sl_th_set_state(sl_th *t, const char *value);

/* Transform: runs transform(in). *out as the plugin set it (NULL, in, or its own batch). */
SL_TH_API sl_status sl_th_transform(sl_th *t, const sl_batch *in, const sl_batch **out);

/* Sink: whole-object helpers over put_begin/put_write/put_commit (put_abort on failure). len
 * bytes go in writes of at most chunk bytes (0: one write). opts may be NULL; version (may be
 * NULL) gets SL_VERSION_MAX bytes. */
SL_TH_API sl_status sl_th_put(sl_th *t, const char *key, const void *data, size_t len, size_t chunk,
                              const sl_put_opts *opts, char *version);
/* get(key) into a malloc'ed buffer (NUL-terminated, free() it); SL_NOTFOUND when absent. */
SL_TH_API sl_status sl_th_get(sl_th *t, const char *key, char **data, size_t *len, char *version);
/* list(prefix): the keys, newline-separated and sorted, into a malloc'ed string (free() it). */
SL_TH_API sl_status sl_th_list(sl_th *t, const char *prefix, char **keys);
SL_TH_API sl_status sl_th_del(sl_th *t, const char *key);

/* Notifier. */
SL_TH_API sl_status sl_th_notify(sl_th *t, const sl_flush_info *info);

/* ---- building batches for a test ---- */

/* A schema owned by t (like schema_new). fields is an array of ncols sl_field. */
SL_TH_API const sl_schema *sl_th_schema(sl_th *t, const char *ns, const char *name, uint32_t ncols,
                                        const sl_field *fields);
/* An empty batch owned by t (freed with t; never pass it to batch_free). */
SL_TH_API sl_batch *sl_th_batch(sl_th *t, const sl_schema *schema);
/* Appends rows written as row text without the "<ns>.<table>|" part ("I|1|abc", one per line;
 * cells as described above, BINARY in hex). -1 with sl_th_error() on a malformed line. */
SL_TH_API int sl_th_batch_add(sl_th *t, sl_batch *b, const char *lines);
/* Row text of one row of any batch; returns the length it needed (like snprintf). */
SL_TH_API int sl_th_row_text(const sl_batch *b, size_t row, char *out, size_t outlen);

/* ---- what the plugin did ---- */

/* Rows emitted and then committed, in order, as row text; pending: emitted, not yet committed.
 * After sl_th_keep_rows(t, 0) only the counts are kept (sl_th_row and sl_th_emitted return
 * NULL): for benchmarks and very large snapshots. */
SL_TH_API void sl_th_keep_rows(sl_th *t, int keep);
SL_TH_API size_t sl_th_rows(const sl_th *t);
SL_TH_API const char *sl_th_row(const sl_th *t, size_t i);
SL_TH_API size_t sl_th_pending(const sl_th *t);
SL_TH_API const char *sl_th_pending_row(const sl_th *t, size_t i);
/* Index of the first committed row equal to line, or -1. */
SL_TH_API long sl_th_find_row(const sl_th *t, const char *line);
/* Every emit() as a copy of the batch (typed access), and the commits recorded (an empty
 * commit at the unchanged position, a source's "I am current", is not recorded, as in the
 * engine). */
SL_TH_API size_t sl_th_emits(const sl_th *t);
SL_TH_API const sl_batch *sl_th_emitted(const sl_th *t, size_t i);
SL_TH_API size_t sl_th_commits(const sl_th *t);
/* i-th commit's position (NUL-terminated copy, so text positions read as strings). */
SL_TH_API const char *sl_th_commit_pos(const sl_th *t, size_t i, size_t *len);
SL_TH_API int64_t sl_th_commit_time(const sl_th *t, size_t i);
/* Schemas the plugin made with schema_new, in order. */
SL_TH_API size_t sl_th_schemas(const sl_th *t);
SL_TH_API const sl_schema *sl_th_schema_at(const sl_th *t, size_t i);

/* set_error: the last text (""), and how many calls. */
SL_TH_API const char *sl_th_error(const sl_th *t);
SL_TH_API int sl_th_errors(const sl_th *t);
/* Log lines as "<level> <message>" (level: error warn info debug), and a count by level. */
SL_TH_API size_t sl_th_logs(const sl_th *t);
SL_TH_API const char *sl_th_log(const sl_th *t, size_t i);
SL_TH_API int sl_th_log_count(const sl_th *t, sl_log_level level);
/* First log line containing needle, or NULL. */
SL_TH_API const char *sl_th_log_find(const sl_th *t, const char *needle);
/* counter_add / gauge_set: 1 and *value when the metric exists, 0 otherwise. */
SL_TH_API int sl_th_metric(const sl_th *t, const char *name, double *value);
/* Bytes the plugin holds through api->malloc/calloc/realloc now, and the most it held. */
SL_TH_API size_t sl_th_mem_now(const sl_th *t);
SL_TH_API size_t sl_th_mem_peak(const sl_th *t);
/* From now on api->malloc & co. return NULL past this many bytes held (0: no limit), as the
 * engine does at a tenant's memory_limit_mb. */
SL_TH_API void sl_th_mem_limit(sl_th *t, size_t bytes);
/* table_drop calls, as "<ns>.<name>". */
SL_TH_API size_t sl_th_drops(const sl_th *t);
SL_TH_API const char *sl_th_drop(const sl_th *t, size_t i);
/* The value the plugin last gave state_set (NULL: none). */
SL_TH_API const char *sl_th_state(const sl_th *t);
/* Rule breaks seen (an undeclared option read, emit outside poll, a host call from another
 * thread, free of a pointer the host did not allocate, a set_error of more than one line,
 * memory from api->malloc still held after destroy(), a failure returned without set_error,
 * ...): a count and the first one's text.
 * Each is also printed to stderr. A good test checks sl_th_misuses(t) == 0. */
SL_TH_API int sl_th_misuses(const sl_th *t);
SL_TH_API const char *sl_th_misuse(const sl_th *t);

#ifdef __cplusplus
}
#endif
#endif
