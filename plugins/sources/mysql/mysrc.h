/* mysrc.h - internal state of the mysql source plugin, shared by its .c files. */
#ifndef SL_MYSRC_H
#define SL_MYSRC_H

#include "mytext.h"

#include <mysql.h>
#include <sluice/plugin.h>

#define SL_MY_BATCH_ROWS 4096

enum { SL_MY_SNAP_INITIAL = 0, SL_MY_SNAP_NEVER = 1, SL_MY_SNAP_ALWAYS = 2 };
enum { SL_MY_PH_IDLE = 0, SL_MY_PH_SNAPSHOT = 1, SL_MY_PH_EOF = 2, SL_MY_PH_STREAM = 3 };
enum {
    SL_MY_SSL_DISABLED = 0,
    SL_MY_SSL_PREFERRED,
    SL_MY_SSL_REQUIRED,
    SL_MY_SSL_VERIFY_CA,
    SL_MY_SSL_VERIFY_IDENTITY
};

/* How a column's text value becomes a cell. */
typedef enum my_conv {
    MY_C_INT,     /* signed integers, YEAR, unsigned up to INT */
    MY_C_UINT,    /* BIGINT UNSIGNED */
    MY_C_DOUBLE,  /* FLOAT (selected as CAST(.. AS DOUBLE)), DOUBLE */
    MY_C_DECIMAL, /* text as is */
    MY_C_BIT,     /* big-endian bytes */
    MY_C_DATE,
    MY_C_TIME,
    MY_C_DATETIME, /* DATETIME -> TIMESTAMP, TIMESTAMP -> TIMESTAMPTZ (session zone +00:00) */
    MY_C_STRING,   /* UTF-8 text (the connection's character set is utf8mb4) */
    MY_C_BINARY,
} my_conv;

typedef struct my_col {
    char *name;
    char *coltype; /* COLUMN_TYPE, e.g. "bigint(20) unsigned" */
    char *datatype;
    my_conv conv;
    sl_type type;
    int key;
    int notnull;
    int precision, scale;
    uint32_t collation; /* information_schema.COLLATIONS.ID, 0 for none */
} my_col;

typedef struct my_table {
    char *db, *name;
    uint64_t est_rows; /* information_schema.TABLES.TABLE_ROWS, for progress */
    uint32_t ncols;
    my_col *cols;
    const sl_schema *schema;
    sl_batch *txb; /* stream: this table's rows of the open transaction */
} my_table;

typedef struct mysrc {
    sl_host *h;
    const sl_host_api *api;
    /* options */
    const char *host, *socket, *user, *password, *database, *ssl_ca;
    unsigned port;
    unsigned connect_timeout;
    uint32_t server_id;
    int snap_mode, ssl_mode;
    int heartbeat_s;
    char where[96]; /* "host:port" or the socket, for messages */
    /* connection */
    MYSQL *conn;
    int mariadb;
    char version[64];
    /* tables */
    my_table *tabs;
    size_t ntabs;
    /* phases */
    int phase, once;
    sl_my_pos snap_pos;
    /* snapshot */
    size_t snap_idx;
    MYSQL_RES *res; /* the current table's unbuffered result */
    sl_batch *snap_batch;
    uint64_t snap_rows;
    int64_t snap_started_us, last_progress_us;
    uint64_t zero_dates;
    /* stream (mystream.c, built when the binlog decoder is present) */
    MYSQL *rconn;
    void *rpl, *rev, *dec; /* MARIADB_RPL, MARIADB_RPL_EVENT, sl_mb_decoder */
    sl_my_pos cur;         /* position after the last event read */
    int in_txn;
    int64_t txn_time_us, last_commit_us;
    uint64_t txn_rows;
} mysrc;

/* myconn.c */
/* Connects with the options (utf8mb4, session time_zone '+00:00'); NULL with set_error. */
MYSQL *sl_my_connect(mysrc *s);
/* Server settings, privileges and TLS; 0 or -1 with one line in set_error. */
int sl_my_check_server(mysrc *s);
/* A query that must succeed; 0 or -1 with set_error naming what. */
int sl_my_exec(mysrc *s, const char *sql, const char *what);
/* One-row, one-column query result copied into out; 0, 1 (no row) or -1 (set_error). */
int sl_my_query_value(mysrc *s, const char *sql, char *out, size_t outlen, const char *what);
void sl_my_error(mysrc *s, const char *what);
int64_t sl_my_now_us(void);

/* mysnap.c */
/* Resolves the tables option against the server (every base table of database when unset);
 * 0 or -1 (a listed table missing: error naming where the option was set). */
int sl_my_load_tables(mysrc *s);
/* Columns, keys and schemas of every table; 0 or -1. */
int sl_my_load_schemas(mysrc *s);
/* Takes the consistent snapshot and its binlog coordinates (s->snap_pos); 0 or -1. */
int sl_my_snapshot_begin(mysrc *s);
/* The current binlog coordinates without a snapshot; 0 or -1. */
int sl_my_current_pos(mysrc *s, sl_my_pos *pos);
sl_status sl_my_snapshot_poll(mysrc *s);
void sl_my_tables_free(mysrc *s);
void sl_my_snapshot_abort(mysrc *s);

/* mystream.c: 1 when this build can stream the binlog. */
int sl_my_stream_available(void);
/* Starts reading the binlog at from (after the snapshot, or the resume position); 0 or -1. */
int sl_my_stream_start(mysrc *s, const sl_my_pos *from);
sl_status sl_my_stream_poll(mysrc *s, int timeout_ms);
void sl_my_stream_stop(mysrc *s);

#endif
