/* pgsrc.h - internal state of the postgres source plugin, shared by its .c files. */
#ifndef SL_PGSRC_H
#define SL_PGSRC_H

#include "pgproto.h"
#include "pgrules.h"

#include <libpq-fe.h>
#include <sluice/plugin.h>
#include <stdio.h>

#define SL_PG_BATCH_ROWS 4096

enum { SL_PG_SNAP_INITIAL = 0, SL_PG_SNAP_NEVER = 1, SL_PG_SNAP_ALWAYS = 2 };
enum { SL_PG_PH_IDLE = 0, SL_PG_PH_SNAPSHOT = 1, SL_PG_PH_STREAM = 2, SL_PG_PH_EOF = 3 };

typedef struct pg_col {
    char *name;
    uint32_t typoid;
    uint32_t base; /* typoid with domains resolved */
    sl_type type;
    int key;
} pg_col;

typedef struct pg_rel {
    uint32_t relid;
    char *ns, *name;
    char relkind;
    int selected;
    uint32_t ncols;
    pg_col *cols;
    const sl_schema *schema;
    sl_batch *txb; /* this relation's newest batch in the open transaction */
    int warned_inf, warned_nokey;
    /* The shape of this table's rows the host holds (kept in the manifest through state_set, so a
     * restart tells a changed table from an unchanged one), and a re-read not yet delivered. */
    uint64_t host_shape;
    int host_shape_known;
    int reread_pending;
} pg_rel;

/* A streamed (protocol 2) in-progress transaction: its pgoutput messages, xid removed, kept
 * until Stream Commit replays them (or Stream Abort drops them, per subtransaction). The first
 * SL_PG_SX_MEM_BUDGET bytes stay in memory; later ones go to an unnamed temporary file (records
 * of subxid u32, length u32, message), so a huge transaction costs disk, not memory. */
#define SL_PG_SX_MEM_BUDGET (4u << 20)

typedef struct pg_smsg {
    uint32_t subxid;
    uint8_t *msg;
    size_t len;
} pg_smsg;

typedef struct pg_sxact {
    uint32_t xid;
    pg_smsg *msgs;
    size_t n, cap;
    size_t mem;        /* bytes of msgs[] messages */
    FILE *spill;       /* NULL until the budget is exceeded */
    uint64_t nspilled; /* records in spill */
    uint32_t *aborted; /* subtransactions rolled back: their spilled records are skipped */
    size_t naborted, capaborted;
} pg_sxact;

typedef struct pg_resnap pg_resnap; /* pgresnap.c */

typedef struct pg_typecache {
    uint32_t oid, base;
} pg_typecache;

typedef struct pgsrc {
    sl_host *h;
    const sl_host_api *api;
    /* options */
    char *slot, *pub;
    int snap_mode, drop_slot, resnap;
    int64_t heartbeat_us;
    int slot_default; /* slot name derived from the tenant (not the slot option) */
    int warned_tls;
    /* connections */
    PGconn *conn;  /* SQL: catalog, publication, snapshot COPY */
    PGconn *rconn; /* replication=database */
    /* relations by relid (linear: a job has tens of tables, not thousands) */
    pg_rel *rels;
    size_t nrels, caprels;
    pg_typecache *types;
    size_t ntypes, captypes;
    /* phases */
    int phase;
    int once;
    uint64_t target_lsn; /* once: pg_current_wal_lsn() at open */
    /* snapshot */
    size_t snap_idx;
    int copy_active;
    uint64_t snap_rows;   /* rows of the current table */
    int copy_header;      /* COPY binary header seen */
    int snap_abandoned;   /* the host stopped during the copy: see snap_abandon */
    int64_t snap_data_us; /* when the copy last received data (monotonic) */
    sl_pg_buf numtmp;     /* numeric binary -> text */
    sl_batch *snap_batch;
    sl_pg_field *fields;
    size_t capfields;
    uint64_t consistent_lsn;
    /* stream */
    uint64_t start_lsn; /* START_REPLICATION point */
    uint64_t skip_upto; /* transactions ending at or before this were delivered already */
    uint64_t recv_lsn;  /* highest WAL position seen */
    uint64_t durable_lsn;
    uint64_t sent_flush;
    uint64_t committed_lsn;      /* last position handed to api->commit */
    int64_t last_idle_commit_us; /* see on_copydata: quiet tables still advance the slot */
    int status_due;
    int64_t last_status_us;
    int ping_outstanding;
    int64_t ping_sent_us;
    int in_txn;
    int64_t txn_time_us;
    sl_batch **txb;
    size_t ntxb, captxb;
    sl_pg_scratch scratch;
    /* protocol 2 streaming */
    int proto;
    int in_stream;
    uint32_t stream_xid;
    pg_sxact *sx;
    size_t nsx, capsx;
    char *spill_dir;    /* where streamed transactions spill (option spill_dir) */
    uint8_t *spill_buf; /* replay buffer for spilled records */
    size_t spill_cap;
    int txn_deliver;    /* the open transaction is past skip_upto: rows go to the host as
                           batches fill, not all at the commit */
    int txn_emitted;    /* ... and some already went */
    int committed_told; /* the host holds committed_lsn as its position (keepalive commits) */
    int64_t receive_timeout_us;
    int64_t last_recv_us; /* when the replication connection last received anything */
    /* per-table re-reads in the stream (pgresnap.c) */
    uint64_t txn_final_lsn; /* commit LSN of the transaction being decoded (from Begin) */
    pg_resnap *rs;
    size_t nrs, caprs;
} pgsrc;

/* pgconn.c */
/* "ns"."name" quoted for SQL (malloc'ed; NULL when out of memory). */
char *sl_pg_qualified(PGconn *c, const pg_rel *rel);
/* The COPY ... TO STDOUT (FORMAT binary) statement that reads rel (malloc'ed; NULL: no memory). */
char *sl_pg_copy_sql(PGconn *c, const pg_rel *rel);
PGconn *sl_pg_connect(pgsrc *s, int replication, char *err, size_t errlen);
void sl_pg_errline(const char *msg, char *out, size_t outlen);
int sl_pg_exec_ok(pgsrc *s, PGconn *c, const char *sql, const char *what);
/* Flags of sl_pg_run / sl_pg_connect_ex: give up (and cancel) when the host is stopping. */
#define SL_PG_Q_STOPPABLE 0x1
/* Stoppable while opening; once streaming, a stop lets the current transaction finish (a
 * catalog query for its Relation message must not fail it), so only the deadline applies. */
#define SL_PG_Q_OPENING(s) ((s)->phase == SL_PG_PH_IDLE ? SL_PG_Q_STOPPABLE : 0)
/* Limit for one catalog or replication command (not the snapshot COPY). */
#define SL_PG_QUERY_TIMEOUT_MS 30000
PGconn *sl_pg_connect_ex(pgsrc *s, int replication, int flags, char *err, size_t errlen);
/* Runs one command without blocking past timeout_ms (or a stop, with SL_PG_Q_STOPPABLE): the
 * statement is cancelled then. Returns its result (any status; the first failed one of a
 * multi-statement text), or NULL with a one-line reason in err. */
PGresult *sl_pg_run(pgsrc *s, PGconn *c, const char *sql, int nparams, const char *const *params,
                    int timeout_ms, int flags, char *err, size_t errlen);
/* Warns once per instance when c does not verify the server's certificate. */
void sl_pg_warn_tls(pgsrc *s, PGconn *c);

/* pgtables.c */
/* Fills s->rels with the selected tables from the catalog: a named table that does not exist is
 * an error (FILE:LINE of the option first), a pattern matching nothing a warning; tables without
 * columns, and tables without a usable replica identity that are not already in the
 * publication, are left out with one warning each kind. probe: also requires SELECT on each.
 * 0 or -1 (set_error called). */
int sl_pg_load_tables(pgsrc *s, int probe);

/* pgprobe.c: the checks of sluice check --connect; the caller resets the connections. */
sl_status sl_pg_probe_run(pgsrc *s);

#endif

/* pgsrc.c */
pg_rel *sl_pg_rel_find(pgsrc *s, uint32_t relid);
/* Adds a relation (selected by the tables option or not); NULL when out of memory. */
pg_rel *sl_pg_rel_add(pgsrc *s, uint32_t relid, const char *ns, const char *name, char kind);
/* (Re)builds rel's columns and schema, from a Relation message or (m == NULL) the catalog.
 * A new sl_schema is made only when the shape changed. 0 or -1 (set_error called). */
int sl_pg_rel_refresh(pgsrc *s, pg_rel *rel, const sl_pg_msg *m);
/* Sets column col of the current row from a text value ('t'), null ('n') or unchanged ('u').
 * 0 or -1 (set_error called). */
int sl_pg_set_cell(pgsrc *s, pg_rel *rel, sl_batch *b, uint32_t col, char kind, char *data,
                   size_t len);
/* The same for a COPY binary field (p == NULL: NULL). */
int sl_pg_set_cell_bin(pgsrc *s, pg_rel *rel, sl_batch *b, uint32_t col, char *p, size_t len);
int sl_pg_table_selected(pgsrc *s, const char *ns, const char *name);
int64_t sl_pg_now_us(void);

/* pgstream.c */
int sl_pg_start_replication(pgsrc *s);
sl_status sl_pg_stream_poll(pgsrc *s, int timeout_ms);
void sl_pg_txn_discard(pgsrc *s);
void sl_pg_final_status(pgsrc *s);
void sl_pg_stream_free(pgsrc *s);
void sl_pg_format_pos(uint64_t lsn, char *out, size_t outlen);
int sl_pg_parse_pos(const void *pos, size_t len, uint64_t *lsn);
/* Sends a standby status update when one is due (long waits outside the poll loop). 0 or -1. */
int sl_pg_stream_keepalive(pgsrc *s);

/* pgresnap.c: re-reading one table inside the stream (after DDL, or newly added to the job). */
/* Starts a re-read of rel (replacing one still running); logs reason. 0 or -1 (set_error). */
int sl_pg_resnap_request(pgsrc *s, pg_rel *rel, const char *reason);
/* At open: drops known tables no longer selected; with streaming, re-reads unknown ones. */
int sl_pg_resnap_open(pgsrc *s, int streaming);
/* 1 when the current transaction's change to relid is already in a pending re-read's copy. */
int sl_pg_resnap_drops(const pgsrc *s, uint32_t relid);
/* The stream reached lsn (a commit at lsn, or a keepalive): deliver every re-read due. */
sl_status sl_pg_resnap_due(pgsrc *s, uint64_t lsn);
sl_status sl_pg_resnap_work(pgsrc *s); /* moves some COPY data to the temporary file */
int sl_pg_resnap_pending(const pgsrc *s);
int sl_pg_resnap_copying(const pgsrc *s);
void sl_pg_resnap_free(pgsrc *s);
void sl_pg_shape_reason(const pg_rel *rel, const sl_pg_msg *m, char *out, size_t outlen);
uint64_t sl_pg_shape_hash(const pg_rel *rel);
/* 1 when a pending re-read of relid copied another shape than shape. */
int sl_pg_resnap_shape_differs(const pgsrc *s, uint32_t relid, uint64_t shape);
/* The host now holds rel's rows in its current shape: remember it (and save the state). */
void sl_pg_host_shape(pgsrc *s, pg_rel *rel, uint64_t shape);
