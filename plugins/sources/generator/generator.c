/* Source "generator": deterministic synthetic tables for tests, demos and benchmarks.
 * A snapshot of `rows` rows per table, then `changes` transactions of inserts, updates and deletes.
 * Every value is a pure function of (seed, table, column, id, version), so two runs — or a run
 * that was killed and resumed from its last durable position — produce the same final tables.
 * Position: the text "gen:<n>", n = number of change transactions applied (0 = snapshot only). */
#include <sluice/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TABLES 64
#define MAX_COLS   32

typedef struct gen_ctx {
    sl_host *h;
    const sl_host_api *api;
    int64_t rows, changes, per_txn, batch_rows, seed, null_every, fail_after, polls;
    double rate, changes_after;
    int ntables;
    char table[128];
    sl_type types[MAX_COLS];
    int ncols;                      /* not counting id */
    int64_t table_rows[MAX_TABLES]; /* snapshot rows per table (rows, or table_rows) */
    int change_table;               /* 0: changes touch every table; k: only table k */
    const sl_schema *schemas[MAX_TABLES];
    sl_batch *batches[MAX_TABLES];
    int once;
    int fail_open;
    int fail_probe;
    /* Progress. */
    int snap_table;
    int64_t snap_row;
    int snapshot_done;
    int64_t txn; /* change transactions done */
    double next_txn_at;
    /* Test hooks. */
    int64_t unchanged_every;
    int unchanged_values, report, state_hook;
    int in_commit; /* inside api->commit: durable() must never arrive then */
    int64_t durable_calls, durable_in_commit, heartbeats;
    int64_t txns_before_durable; /* change transactions committed before the first durable() */
    double last_call, max_gap;   /* between the starts of consecutive poll/heartbeat calls */
} gen_ctx;

static const sl_option options[] = {
    SL_OPTION("table", SL_OPT_STRING, SL_OPT_IDENTITY, "items",
              "table name (with tables > 1: name_1, name_2, ...)"),
    SL_OPTION_RANGE("tables", SL_OPT_INT, 0, "1", "number of tables", 1, MAX_TABLES),
    SL_OPTION_RANGE("rows", SL_OPT_INT, 0, "1000", "rows per table in the snapshot", 0, 1e12),
    SL_OPTION("columns", SL_OPT_LIST, 0,
              "int64,double,decimal,string,bool,date,time,timestamp,timestamptz,binary",
              "column types after the int64 key column \"id\" (also uint64, timestampoff)"),
    SL_OPTION("changes", SL_OPT_INT, 0, "0",
              "change transactions after the snapshot (-1 = endless)"),
    SL_OPTION_RANGE("changes_per_txn", SL_OPT_INT, 0, "10", "rows changed per transaction", 1, 1e9),
    SL_OPTION_RANGE("rate", SL_OPT_DOUBLE, 0, "0",
                    "transactions per second (0 = as fast as possible)", 0, 1e9),
    SL_OPTION_RANGE("batch_rows", SL_OPT_INT, 0, "4096", "rows per emitted batch", 1, 1e7),
    SL_OPTION("seed", SL_OPT_INT, SL_OPT_IDENTITY, "1", "seed of the deterministic values"),
    SL_OPTION("null_every", SL_OPT_INT, 0, "7",
              "every Nth value of a non-key column is NULL (0 = never)"),
    SL_OPTION_CHOICE("fail", 0, NULL,
                     "test hook: \"open\" fails every open; \"poll\" fails after fail_after "
                     "polls; \"probe\" fails sluice check --connect",
                     ((const char *const[]){"open", "poll", "probe", NULL})),
    SL_OPTION("fail_after", SL_OPT_INT, 0, "0", "test hook: polls before a \"poll\" failure"),
    SL_OPTION("table_rows", SL_OPT_LIST, 0, NULL,
              "snapshot rows of each table in order (overrides rows; missing entries use rows)"),
    SL_OPTION("changes_after", SL_OPT_DOUBLE, 0, "0",
              "seconds between the snapshot's commit and the first change transaction"),
    SL_OPTION("change_table", SL_OPT_INT, 0, "0",
              "changes touch only this table (1-based); 0 = all tables"),
    SL_OPTION("unchanged_every", SL_OPT_INT, 0, "0",
              "test hook: string columns of snapshot ids divisible by N never change, and odd "
              "transactions' updates send them as UNCHANGED (like PostgreSQL's unchanged TOAST); "
              "0 = never"),
    SL_OPTION("unchanged_values", SL_OPT_BOOL, 0, "false",
              "test hook: with unchanged_every, send those unchanged values instead (a reference)"),
    SL_OPTION("report", SL_OPT_BOOL, 0, "false",
              "test hook: at close, log durable()/heartbeat counts and the longest gap between "
              "calls"),
    SL_OPTION("state_hook", SL_OPT_BOOL, 0, "false",
              "test hook: after each commit, set the source state to that commit's position"),
    SL_OPTIONS_END,
};

/* Column type names, indexed by sl_type (also the column name suffix). */
static const char *const type_names[] = {
    NULL,   "int64",     "double",      "decimal", "string", "bool",        "date",
    "time", "timestamp", "timestamptz", "binary",  "uint64", "timestampoff"};

static int parse_type(const char *s, sl_type *t)
{
    const char *const *names = type_names;
    for (int i = 1; i <= SL_T_TIMESTAMPOFF; i++)
        if (strcmp(names[i], s) == 0) {
            *t = (sl_type)i;
            return 0;
        }
    return -1;
}

static int gen_create(sl_host *h, const sl_host_api *api, void **out)
{
    gen_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->h = h;
    c->api = api;
    snprintf(c->table, sizeof c->table, "%s", api->opt_string(h, "table"));
    c->ntables = (int)api->opt_int(h, "tables", 1);
    c->rows = api->opt_int(h, "rows", 1000);
    c->changes = api->opt_int(h, "changes", 0);
    c->per_txn = api->opt_int(h, "changes_per_txn", 10);
    c->rate = api->opt_double(h, "rate", 0);
    c->changes_after = api->opt_double(h, "changes_after", 0);
    c->batch_rows = api->opt_int(h, "batch_rows", 4096);
    c->seed = api->opt_int(h, "seed", 1);
    c->null_every = api->opt_int(h, "null_every", 7);
    c->fail_after = api->opt_int(h, "fail_after", 0);
    c->unchanged_every = api->opt_int(h, "unchanged_every", 0);
    c->change_table = (int)api->opt_int(h, "change_table", 0);
    for (int t = 0; t < MAX_TABLES; t++) {
        const char *tr = (size_t)t < api->opt_list_len(h, "table_rows")
                             ? api->opt_list_item(h, "table_rows", (size_t)t)
                             : NULL;
        c->table_rows[t] = tr ? strtoll(tr, NULL, 10) : c->rows;
        if (c->table_rows[t] < 0)
            c->table_rows[t] = 0;
    }
    c->unchanged_values = api->opt_bool(h, "unchanged_values", 0);
    c->report = api->opt_bool(h, "report", 0);
    c->state_hook = api->opt_bool(h, "state_hook", 0);
    const char *fail = api->opt_string(h, "fail");
    if (c->ntables < 1 || c->ntables > MAX_TABLES || c->rows < 0 || c->per_txn < 1 ||
        c->batch_rows < 1 || c->change_table < 0 || c->change_table > c->ntables) {
        api->set_error(h,
                       "tables must be 1..%d, rows >= 0, changes_per_txn and batch_rows >= 1, "
                       "change_table 0..tables",
                       MAX_TABLES);
        free(c);
        return -1;
    }
    size_t n = api->opt_list_len(h, "columns");
    for (size_t i = 0; i < n; i++) {
        const char *item = api->opt_list_item(h, "columns", i);
        /* A single default string "a,b,c" arrives as one item: split on commas. */
        char buf[256];
        snprintf(buf, sizeof buf, "%s", item);
        char *save = NULL;
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (c->ncols >= MAX_COLS || parse_type(tok, &c->types[c->ncols]) != 0) {
                const char *where = api->opt_where(h, "columns");
                api->set_error(h, "%s%scolumns: unknown type \"%s\" (or more than %d columns)",
                               where ? where : "", where ? ": " : "", tok, MAX_COLS);
                free(c);
                return -1;
            }
            c->ncols++;
        }
    }
    if (fail && strcmp(fail, "open") == 0)
        c->fail_open = 1;
    else if (fail && strcmp(fail, "probe") == 0)
        c->fail_probe = 1;
    else if (fail && strcmp(fail, "poll") != 0) {
        api->set_error(h, "fail must be \"open\", \"poll\" or \"probe\"");
        free(c);
        return -1;
    } else if (!fail)
        c->fail_after = 0;
    *out = c;
    return 0;
}

static void gen_destroy(void *ctx)
{
    gen_ctx *c = ctx;
    if (!c)
        return;
    for (int i = 0; i < c->ntables; i++)
        if (c->batches[i])
            c->api->batch_free(c->h, c->batches[i]);
    free(c);
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static int gen_open(void *ctx, const sl_open_args *a)
{
    gen_ctx *c = ctx;
    if (c->fail_open) {
        c->api->set_error(c->h, "simulated failure at open (option fail = \"open\")");
        return -1;
    }
    c->once = a->once;
    if (a->resume_pos) {
        char buf[64];
        size_t n = a->resume_len < sizeof buf - 1 ? a->resume_len : sizeof buf - 1;
        memcpy(buf, a->resume_pos, n);
        buf[n] = 0;
        long long t;
        if (sscanf(buf, "gen:%lld", &t) != 1 || t < 0) {
            c->api->set_error(c->h, "cannot resume from position \"%s\"", buf);
            return -1;
        }
        c->txn = t;
        c->snapshot_done = 1;
        c->api->log(c->h, SL_LOG_INFO, "resuming after change transaction %lld", t);
    }
    for (int t = 0; t < c->ntables; t++) {
        char name[160];
        if (c->ntables == 1)
            snprintf(name, sizeof name, "%s", c->table);
        else
            snprintf(name, sizeof name, "%s_%d", c->table, t + 1);
        sl_field f[MAX_COLS + 1];
        char cname[MAX_COLS + 1][32];
        f[0] = (sl_field)SL_FIELD_INIT("id", SL_T_INT64, 1);
        f[0].flags = SL_FIELD_NOT_NULL;
        f[0].source_type = "bigint";
        for (int i = 0; i < c->ncols; i++) {
            snprintf(cname[i], sizeof cname[i], "c%d_%s", i + 1, type_names[c->types[i]]);
            f[i + 1] = (sl_field)SL_FIELD_INIT(cname[i], c->types[i], 0);
            /* the metadata a SQL source would give (decimals have 2 places, see fill_row) */
            if (c->types[i] == SL_T_DECIMAL) {
                f[i + 1].precision = 8;
                f[i + 1].scale = 2;
                f[i + 1].source_type = "numeric(8,2)";
            } else if (c->types[i] == SL_T_UINT64) {
                f[i + 1].source_type = "bigint unsigned";
            } else if (c->types[i] == SL_T_TIMESTAMPOFF) {
                f[i + 1].scale = 6;
                f[i + 1].source_type = "datetimeoffset(6)";
            }
        }
        c->schemas[t] = c->api->schema_new(c->h, "", name, (uint32_t)c->ncols + 1, f, sizeof *f);
        if (!c->schemas[t])
            return -1;
        c->batches[t] = c->api->batch_new(c->h, c->schemas[t]);
        if (!c->batches[t]) {
            c->api->set_error(c->h, "out of memory");
            return -1;
        }
    }
    return 0;
}

/* unchanged_every: this snapshot id's string columns never change (and are never deleted). */
static int stable_id(const gen_ctx *c, int64_t id)
{
    return c->unchanged_every > 0 && id <= c->table_rows[0] && id % c->unchanged_every == 0;
}

/* The row (id, version) of table t. */
static int fill_row(gen_ctx *c, sl_batch *b, int t, sl_op op, int64_t id, int64_t version)
{
    if (c->api->row_begin(b, op) < 0)
        return -1;
    c->api->set_i64(b, 0, id);
    if (op == SL_OP_DELETE)
        return 0;
    for (int i = 0; i < c->ncols; i++) {
        int64_t v = version;
        uint32_t col = (uint32_t)i + 1;
        if (c->types[i] == SL_T_STRING && stable_id(c, id)) {
            /* Odd transactions send the unchanged value as UNCHANGED, even ones whole (as a
             * database does when another column's update rewrites the row). */
            if (op == SL_OP_UPDATE && !c->unchanged_values && version % 2) {
                c->api->set_unchanged(b, col);
                continue;
            }
            v = 0;
        }
        uint64_t r = mix((uint64_t)c->seed * 1000003u ^ (uint64_t)t << 48 ^ (uint64_t)i << 40 ^
                         (uint64_t)id * 31 ^ (uint64_t)v * 0x9E3779B97F4A7C15ULL);
        if (c->null_every > 0 && r % (uint64_t)c->null_every == 0) {
            c->api->set_null(b, col);
            continue;
        }
        char txt[96];
        int n;
        switch (c->types[i]) {
        case SL_T_INT64:
            c->api->set_i64(b, col, (int64_t)(r >> 1) % 2000000000000LL - 1000000000000LL);
            break;
        case SL_T_DOUBLE:
            c->api->set_f64(b, col, (double)(int64_t)(r % 2000000) / 64.0 - 15000.0);
            break;
        case SL_T_DECIMAL:
            n = snprintf(txt, sizeof txt, "%s%llu.%02llu", (r & 1) ? "-" : "",
                         (unsigned long long)(r >> 8) % 1000000ULL,
                         (unsigned long long)(r >> 40) % 100ULL);
            c->api->set_bytes(b, col, txt, (size_t)n);
            break;
        case SL_T_STRING:
            n = snprintf(txt, sizeof txt, "%s %lld v%lld %s", (r & 2) ? "Zürich" : "name",
                         (long long)id, (long long)v, (r & 4) ? "" : "ĉ-€");
            c->api->set_bytes(b, col, txt, (size_t)n);
            break;
        case SL_T_BOOL:
            c->api->set_i64(b, col, (int64_t)(r & 1));
            break;
        case SL_T_DATE:
            c->api->set_i64(b, col, (int64_t)(r % 40000) - 10000);
            break;
        case SL_T_TIME:
            c->api->set_i64(b, col, (int64_t)(r % 86400000000ULL));
            break;
        case SL_T_TIMESTAMP:
        case SL_T_TIMESTAMPTZ:
            c->api->set_i64(b, col, (int64_t)(r % 4000000000000000ULL) - 1000000000000000LL);
            break;
        case SL_T_UINT64:
            /* a third small, a third anywhere in 64 bits (most above INT64_MAX's half), a third
             * within 5000 of UINT64_MAX, where 2048 values share one double */
            c->api->set_i64(b, col,
                            (int64_t)(r % 3 == 0   ? (r >> 8) % 100000
                                      : r % 3 == 1 ? r
                                                   : UINT64_MAX - (r >> 8) % 5000));
            break;
        case SL_T_TIMESTAMPOFF:
            /* the instant as for timestamp; offsets -14:00..+14:00 in quarter hours */
            c->api->set_tsoff(b, col, (int64_t)(r % 4000000000000000ULL) - 1000000000000000LL,
                              (int32_t)((r >> 20) % 113) * 900 - 50400);
            break;
        case SL_T_BINARY:
            memcpy(txt, &r, 8);
            c->api->set_bytes(b, col, txt, (size_t)(r % 9));
            break;
        }
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static sl_status flush_batch(gen_ctx *c, int t)
{
    if (c->api->batch_rows(c->batches[t]) == 0)
        return SL_OK;
    return c->api->emit(c->h, c->batches[t]);
}

static sl_status commit(gen_ctx *c, const char *pos, size_t n, int64_t when)
{
    c->in_commit = 1;
    sl_status st = c->api->commit(c->h, pos, n, when);
    c->in_commit = 0;
    if (st == SL_OK && c->state_hook && SL_API_HAS(c->api, state_set) && c->api->state_set) {
        /* The state now belongs to this position: a manifest must carry the two together. */
        char v[80];
        snprintf(v, sizeof v, "%.*s", (int)n, pos);
        if (c->api->state_set(c->h, v) != 0)
            return SL_ERROR;
    }
    return st;
}

/* A poll or heartbeat begins: the longest gap between two is how long the host left the source
 * unattended (a flush on its stack, or no keepalive). */
static void note_call(gen_ctx *c)
{
    double now = now_s();
    if (c->snapshot_done && c->last_call > 0 && now - c->last_call > c->max_gap)
        c->max_gap = now - c->last_call;
    c->last_call = now;
}

static void gen_durable(void *ctx, const void *pos, size_t len)
{
    gen_ctx *c = ctx;
    (void)pos;
    (void)len;
    c->durable_calls++;
    if (c->in_commit) {
        c->durable_in_commit++;
        c->api->log(c->h, SL_LOG_ERROR, "durable() entered from inside commit()");
    }
}

static sl_status gen_heartbeat(void *ctx)
{
    gen_ctx *c = ctx;
    note_call(c);
    c->heartbeats++;
    return SL_OK;
}

static void gen_close(void *ctx)
{
    gen_ctx *c = ctx;
    if (c->report)
        c->api->log(c->h, SL_LOG_INFO,
                    "report: durable=%lld durable_in_commit=%lld txns_before_durable=%lld "
                    "heartbeats=%lld max_gap_ms=%.0f txn=%lld",
                    (long long)c->durable_calls, (long long)c->durable_in_commit,
                    (long long)c->txns_before_durable, (long long)c->heartbeats, c->max_gap * 1000,
                    (long long)c->txn);
}

static sl_status gen_poll(void *ctx, int timeout_ms)
{
    gen_ctx *c = ctx;
    c->polls++;
    note_call(c);
    if (c->fail_after > 0 && c->polls > c->fail_after) {
        c->api->set_error(c->h, "simulated failure after %lld polls (option fail = \"poll\")",
                          (long long)c->fail_after);
        return SL_ERROR;
    }
    char pos[64];
    if (!c->snapshot_done) {
        /* One batch per poll keeps the host responsive during big snapshots. */
        int t = c->snap_table;
        sl_batch *b = c->batches[t];
        int64_t end = c->snap_row + c->batch_rows;
        if (end > c->table_rows[t])
            end = c->table_rows[t];
        for (int64_t id = c->snap_row; id < end; id++)
            if (fill_row(c, b, t, SL_OP_SNAPSHOT, id + 1, 0) != 0)
                return SL_ERROR;
        c->snap_row = end;
        if (flush_batch(c, t) != SL_OK)
            return SL_ERROR;
        if (c->snap_row >= c->table_rows[t]) {
            c->snap_table++;
            c->snap_row = 0;
        }
        if (c->snap_table >= c->ntables) {
            c->snapshot_done = 1;
            /* Changes are due from now on, whether or not the host reads them yet. */
            if (c->rate > 0 || c->changes_after > 0)
                c->next_txn_at = now_s() + c->changes_after;
            int n = snprintf(pos, sizeof pos, "gen:%lld", (long long)c->txn);
            return commit(c, pos, (size_t)n, 0) == SL_OK ? SL_OK : SL_ERROR;
        }
        return SL_OK;
    }
    if (c->changes >= 0 && c->txn >= c->changes) {
        if (c->once)
            return SL_EOF;
        struct timespec ts = {0, (long)(timeout_ms > 50 ? 50 : timeout_ms) * 1000000L};
        nanosleep(&ts, NULL);
        return SL_AGAIN;
    }
    double late = 0; /* how far behind its schedule this transaction is */
    if (c->rate > 0 || now_s() < c->next_txn_at) {
        double now = now_s();
        if (c->next_txn_at == 0)
            c->next_txn_at = now;
        if (now < c->next_txn_at) {
            double wait = c->next_txn_at - now;
            if (wait > timeout_ms / 1000.0)
                wait = timeout_ms / 1000.0;
            struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
            return SL_AGAIN;
        }
        late = c->rate > 0 ? now - c->next_txn_at : 0;
        c->next_txn_at += c->rate > 0 ? 1.0 / c->rate : 0;
    }
    /* Transaction k: a deterministic mix of inserts, updates and deletes over all tables. */
    int64_t k = ++c->txn;
    for (int64_t j = 0; j < c->per_txn; j++) {
        int64_t m = (k - 1) * c->per_txn + j;
        int t = c->change_table ? c->change_table - 1 : (int)(m % c->ntables);
        uint64_t r = mix((uint64_t)m ^ (uint64_t)c->seed << 32);
        sl_batch *b = c->batches[t];
        int kind = (int)(r % 10);
        int64_t span = c->table_rows[t] + m / c->ntables + 1;
        if (kind < 3) {
            if (fill_row(c, b, t, SL_OP_INSERT, c->table_rows[t] + m + 1, k) != 0)
                return SL_ERROR;
        } else if (kind < 8) {
            if (fill_row(c, b, t, SL_OP_UPDATE, (int64_t)((r >> 8) % (uint64_t)span) + 1, k) != 0)
                return SL_ERROR;
        } else {
            int64_t id = (int64_t)((r >> 8) % (uint64_t)span) + 1;
            /* Rows with unchanged cells must exist when updated: they are never deleted. */
            if (fill_row(c, b, t, stable_id(c, id) ? SL_OP_UPDATE : SL_OP_DELETE, id, k) != 0)
                return SL_ERROR;
        }
        if ((int64_t)c->api->batch_rows(b) >= c->batch_rows && flush_batch(c, t) != SL_OK)
            return SL_ERROR;
    }
    for (int t = 0; t < c->ntables; t++)
        if (flush_batch(c, t) != SL_OK)
            return SL_ERROR;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    int n = snprintf(pos, sizeof pos, "gen:%lld", (long long)k);
    /* With a rate, the commit happened at its scheduled time, as in a database that does not
     * wait for its reader: a host that polls late sees the delay as commit-to-durable latency. */
    int64_t when = (int64_t)wall.tv_sec * 1000000 + wall.tv_nsec / 1000 - (int64_t)(late * 1e6);
    if (commit(c, pos, (size_t)n, when) != SL_OK)
        return SL_ERROR;
    if (c->durable_calls == 0)
        c->txns_before_durable++;
    return SL_OK;
}

/* sluice check --connect: nothing to connect to; the test hook shows how a failure reads. */
static sl_status gen_probe(void *ctx)
{
    gen_ctx *c = ctx;
    if (c->fail_probe) {
        const char *where = c->api->opt_where(c->h, "fail");
        c->api->set_error(c->h, "%s%ssimulated probe failure (option fail = \"probe\")",
                          where ? where : "", where ? ": " : "");
        return SL_ERROR;
    }
    return SL_OK;
}

static const sl_source_ops ops = {.size = sizeof(sl_source_ops),
                                  .poll = gen_poll,
                                  .durable = gen_durable,
                                  .probe = gen_probe,
                                  .heartbeat = gen_heartbeat};

static const sl_plugin plugin = {
    SL_PLUGIN_INIT(SL_KIND_SOURCE, "generator", "1.0.0",
                   "deterministic synthetic tables (tests, demos, benchmarks)"),
    .options = options,
    .create = gen_create,
    .open = gen_open,
    .close = gen_close,
    .destroy = gen_destroy,
    .source = &ops,
};

SL_PLUGIN_ENTRY(generator)
{
    return &plugin;
}
