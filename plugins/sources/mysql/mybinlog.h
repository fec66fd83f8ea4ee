/*
 * mybinlog.h - pure decoder of MySQL / MariaDB binary log events (binlog v4) for the mysql
 * source: bytes of one event in, a decoded event and its rows out. No I/O, no libmariadb: the
 * plugin feeds it the events its replication connection receives (each packet without the
 * leading 0x00 OK byte), and the unit tests and the fuzzer feed it crafted bytes.
 *
 * Ownership, in one place:
 *  - The caller owns the event bytes it passes to sl_mb_decode and keeps them alive and
 *    unmodified while it uses the event (row cells of plain strings and binaries point into them).
 *  - Everything else an event or a cell points to (names, query text, converted strings,
 *    decompressed bodies, table maps) belongs to the sl_mb_decoder. It stays valid until the next
 *    sl_mb_decode on the same decoder, except: row cells until the next sl_mb_rows_next, and
 *    table maps as documented at sl_mb_table_get. sl_mb_decoder_free releases all of it.
 *  - Exception for TRANSACTION_PAYLOAD (MySQL): the inner events from sl_mb_payload_next live in
 *    a buffer of their own, so the caller decodes them with sl_mb_decode on the same decoder; the
 *    buffer lives until the next payload event or sl_mb_decoder_free.
 *
 * Errors: every function that can fail returns -1 and writes one line (no tenant: the caller
 * prefixes it) into err (errlen bytes, always NUL-terminated). Malformed, truncated or
 * checksum-failing input never crashes or reads out of bounds (fuzzed: tests/fuzz/fuzz_mybinlog.c).
 *
 * Threading: a decoder is used by one thread at a time; there is no global state.
 */
#ifndef SL_MY_BINLOG_H
#define SL_MY_BINLOG_H

#include <sluice/plugin.h>
#include <stddef.h>
#include <stdint.h>

/* ---- event types (the type byte of the common header) ---- */
enum {
    SL_MB_QUERY = 2,
    SL_MB_STOP = 3,
    SL_MB_ROTATE = 4,
    SL_MB_INTVAR = 5,
    SL_MB_RAND = 13,
    SL_MB_USER_VAR = 14,
    SL_MB_FORMAT_DESCRIPTION = 15,
    SL_MB_XID = 16,
    SL_MB_TABLE_MAP = 19,
    SL_MB_WRITE_ROWS_V1 = 23,
    SL_MB_UPDATE_ROWS_V1 = 24,
    SL_MB_DELETE_ROWS_V1 = 25,
    SL_MB_HEARTBEAT = 27,
    SL_MB_IGNORABLE = 28,
    SL_MB_ROWS_QUERY = 29,
    SL_MB_WRITE_ROWS_V2 = 30,
    SL_MB_UPDATE_ROWS_V2 = 31,
    SL_MB_DELETE_ROWS_V2 = 32,
    SL_MB_MYSQL_GTID = 33,
    SL_MB_MYSQL_ANONYMOUS_GTID = 34,
    SL_MB_MYSQL_PREVIOUS_GTIDS = 35,
    SL_MB_PARTIAL_UPDATE_ROWS = 39, /* MySQL binlog_row_value_options=PARTIAL_JSON: refused */
    SL_MB_TRANSACTION_PAYLOAD = 40,
    SL_MB_HEARTBEAT_V2 = 41,
    SL_MB_MARIA_ANNOTATE_ROWS = 160,
    SL_MB_MARIA_BINLOG_CHECKPOINT = 161,
    SL_MB_MARIA_GTID = 162,
    SL_MB_MARIA_GTID_LIST = 163,
    SL_MB_MARIA_START_ENCRYPTION = 164,
    SL_MB_MARIA_QUERY_COMPRESSED = 165,
    SL_MB_MARIA_WRITE_ROWS_COMPRESSED_V1 = 166,
    SL_MB_MARIA_UPDATE_ROWS_COMPRESSED_V1 = 167,
    SL_MB_MARIA_DELETE_ROWS_COMPRESSED_V1 = 168,
    SL_MB_MARIA_WRITE_ROWS_COMPRESSED = 169,
    SL_MB_MARIA_UPDATE_ROWS_COMPRESSED = 170,
    SL_MB_MARIA_DELETE_ROWS_COMPRESSED = 171,
};

/* Common header flags. */
#define SL_MB_F_ARTIFICIAL 0x20u /* e.g. the fake ROTATE a server sends first: not in the file */
#define SL_MB_F_IGNORABLE  0x80u
/* Rows event flags. */
#define SL_MB_ROWS_STMT_END 0x0001u

#define SL_MB_HEADER_LEN 19u

/* ---- column types (the table map's type byte; ENUM/SET appear as STRING with the real type in
 * the metadata, resolved into sl_mb_column.real_type) ---- */
enum {
    SL_MB_T_DECIMAL = 0, /* pre-5.0 decimal: refused */
    SL_MB_T_TINY = 1,
    SL_MB_T_SHORT = 2,
    SL_MB_T_LONG = 3,
    SL_MB_T_FLOAT = 4,
    SL_MB_T_DOUBLE = 5,
    SL_MB_T_NULL = 6,
    SL_MB_T_TIMESTAMP = 7,
    SL_MB_T_LONGLONG = 8,
    SL_MB_T_INT24 = 9,
    SL_MB_T_DATE = 10,
    SL_MB_T_TIME = 11,
    SL_MB_T_DATETIME = 12,
    SL_MB_T_YEAR = 13,
    SL_MB_T_NEWDATE = 14,
    SL_MB_T_VARCHAR = 15,
    SL_MB_T_BIT = 16,
    SL_MB_T_TIMESTAMP2 = 17,
    SL_MB_T_DATETIME2 = 18,
    SL_MB_T_TIME2 = 19,
    SL_MB_T_JSON = 245,
    SL_MB_T_NEWDECIMAL = 246,
    SL_MB_T_ENUM = 247,
    SL_MB_T_SET = 248,
    SL_MB_T_TINY_BLOB = 249,
    SL_MB_T_MEDIUM_BLOB = 250,
    SL_MB_T_LONG_BLOB = 251,
    SL_MB_T_BLOB = 252,
    SL_MB_T_VAR_STRING = 253,
    SL_MB_T_STRING = 254,
    SL_MB_T_GEOMETRY = 255,
};

/* ---- decoder ---- */
typedef struct sl_mb_decoder sl_mb_decoder;

/* NULL on out of memory. A new decoder expects no checksums until told otherwise by
 * sl_mb_decoder_set_checksum or by a FORMAT_DESCRIPTION event. */
sl_mb_decoder *sl_mb_decoder_new(void);
void sl_mb_decoder_free(sl_mb_decoder *d);

/* Whether events carry a trailing CRC32 (binlog_checksum=CRC32). The plugin sets it from what it
 * negotiated (@master_binlog_checksum) for the events that precede the first FORMAT_DESCRIPTION
 * (the artificial ROTATE); each FORMAT_DESCRIPTION then sets it from its own checksum byte. */
void sl_mb_decoder_set_checksum(sl_mb_decoder *d, int crc32_on);

/* Upper bound of a decompressed body (MariaDB compressed events, TRANSACTION_PAYLOAD); a larger
 * declared size is an error, not an allocation. Default 1 GiB. */
void sl_mb_decoder_set_max_uncompressed(sl_mb_decoder *d, size_t max);

/* ---- table maps ---- */
typedef struct sl_mb_column {
    uint8_t type;      /* SL_MB_T_* as in the table map */
    uint8_t real_type; /* STRING resolved to ENUM/SET from the metadata; else == type */
    uint16_t meta;     /* raw 0..2 metadata bytes, first byte in the low 8 bits */
    uint32_t max_len;  /* STRING/VARCHAR: maximum byte length; BLOB/JSON/GEOMETRY: size of the
                          length prefix; BIT: number of bits; FLOAT/DOUBLE: byte size */
    uint8_t fsp;       /* TIME2/DATETIME2/TIMESTAMP2: fractional digits (0..6) */
    uint8_t precision, scale; /* NEWDECIMAL */
    uint8_t nullable;
    /* The following come from the optional metadata (binlog_row_metadata=MINIMAL gives
     * signedness and charsets, FULL also names, keys and enum/set values). The caller may fill
     * the ones that are missing (from information_schema) after the TABLE_MAP event and before
     * decoding rows; sl_mb_column_type reads them at every call. */
    int8_t is_unsigned; /* -1 unknown (integers decode as signed), 0 signed, 1 unsigned */
    uint32_t collation; /* collation id of a character or enum/set column; 0 = unknown */
    const char *name;   /* NUL-terminated; NULL when not logged */
    int key;            /* 1-based position in the primary key; 0 = not a key column/unknown */
    uint32_t geom_type; /* GEOMETRY subtype (0 = any/unknown) */
    uint32_t nvalues;   /* ENUM/SET member strings, converted to UTF-8, NUL-terminated; */
    const char *const *values; /* NULL when not logged (then cells carry the number) */
} sl_mb_column;

typedef struct sl_mb_table {
    uint64_t table_id;
    const char *db, *name; /* NUL-terminated */
    uint32_t ncols;
    sl_mb_column *cols; /* mutable: see above */
    int has_names, has_keys, has_signedness, has_charsets, has_enum_values;
} sl_mb_table;

/* The table map for a table id, or NULL. Table maps are kept from their TABLE_MAP event until a
 * TABLE_MAP event arrives after a rows event that ended a statement (the server re-sends the
 * maps for every statement), so the cache holds one statement's tables at most. A pointer stays
 * valid until then. */
sl_mb_table *sl_mb_table_get(sl_mb_decoder *d, uint64_t table_id);

/* The Sluice type the cells of a column are decoded to (and, for DECIMAL, its precision and
 * scale; for TIME/TIMESTAMP types, scale = fractional digits; else -1):
 *   TINY..LONGLONG, YEAR            INT64 (LONGLONG unsigned: UINT64, exact above 2^63)
 *   BIT(n)                          INT64 for n < 64, UINT64 for n = 64
 *   FLOAT, DOUBLE                   DOUBLE (FLOAT widened exactly from the stored float)
 *   NEWDECIMAL                      DECIMAL text, exactly `scale` fraction digits ("-12.340")
 *   DATE                            DATE
 *   TIME, TIME2                     TIME: signed microseconds, may be negative or >= 24 h
 *                                   (MySQL TIME is a duration, -838:59:59 .. 838:59:59)
 *   DATETIME, DATETIME2             TIMESTAMP (wall clock, no zone)
 *   TIMESTAMP, TIMESTAMP2           TIMESTAMPTZ (the binlog stores the UTC instant, so the
 *                                   session time zone plays no part)
 *   CHAR/VARCHAR/TEXT               STRING, UTF-8: utf8mb3/utf8mb4/ascii as is, latin1 (MySQL's
 *                                   latin1 is cp1252) converted; binary collation -> BINARY;
 *                                   unknown collation: STRING for CHAR/VARCHAR, BINARY for
 *                                   BLOB/TEXT (no way to tell them apart) - fill collation.
 *                                   Any other charset: rows decode fails, naming the column.
 *   BINARY/VARBINARY/BLOB           BINARY
 *   ENUM, SET                       STRING (member text; SET members joined by ',') when the
 *                                   values were logged, else INT64 (ENUM index, 1-based, 0 for
 *                                   the '' error value) / UINT64 (SET bitmask)
 *   JSON                            STRING: MySQL binary JSON as canonical MySQL JSON text
 *                                   (MariaDB logs JSON as LONGTEXT: a plain string)
 *   GEOMETRY                        STRING: hex of the stored value (4-byte little-endian SRID +
 *                                   WKB), equal to SELECT HEX(col)
 * Zero and invalid dates: DATE/DATETIME with a zero year, month or day (0000-00-00,
 * 2024-00-10), and TIMESTAMP 0 ('0000-00-00 00:00:00'), have no Sluice value: the cell is
 * SL_CELL_NULL with invalid = 1 so the plugin can count and warn. */
sl_type sl_mb_column_type(const sl_mb_column *c, int *precision, int *scale);

/* ---- events ---- */
typedef struct sl_mb_header {
    uint32_t timestamp; /* seconds since the epoch */
    uint8_t type;
    uint32_t server_id;
    uint32_t event_size; /* header + body + checksum */
    uint32_t log_pos;    /* position of the next event in the binlog file (0 for artificial) */
    uint16_t flags;
} sl_mb_header;

/* Parses the 19-byte common header only. 0, or -1 when len < 19 or event_size disagrees with
 * len (event_size < 19 or > len). */
int sl_mb_header_parse(const uint8_t *buf, size_t len, sl_mb_header *h, char *err, size_t errlen);

typedef enum sl_mb_rows_kind {
    SL_MB_ROWS_INSERT = 1,
    SL_MB_ROWS_UPDATE = 2,
    SL_MB_ROWS_DELETE = 3,
} sl_mb_rows_kind;

typedef struct sl_mb_event {
    sl_mb_header h;
    const uint8_t *body; /* after the common header, checksum excluded (into the caller's bytes) */
    size_t body_len;
    int checksum_checked; /* 1 when a CRC32 was present and matched */

    /* FORMAT_DESCRIPTION */
    uint16_t binlog_version;
    const char *server_version; /* NUL-terminated */
    int mariadb;                /* server_version names MariaDB */
    int checksum_alg;           /* 0 off, 1 CRC32 */

    /* ROTATE (next binlog file and the position in it); HEARTBEAT: file = current binlog file,
     * pos = h.log_pos; MySQL HEARTBEAT_V2: file and pos from its fields */
    const char *file; /* NUL-terminated */
    uint64_t pos;

    /* XID: the commit of a transaction */
    uint64_t xid;

    /* QUERY (and MariaDB QUERY_COMPRESSED, decompressed): BEGIN, COMMIT, ROLLBACK, DDL, ... */
    const char *db;    /* default database, NUL-terminated ("" when none) */
    const char *query; /* NUL-terminated; query_len bytes (it may contain NUL in theory) */
    size_t query_len;
    uint32_t thread_id, exec_time;
    uint16_t error_code;

    /* GTIDs. MariaDB GTID: domain-server-seq, flags2 (bit 0 standalone: a DDL or other statement
     * without BEGIN/COMMIT), commit_id when group-committed. MySQL GTID/ANONYMOUS_GTID: sid
     * (UUID) and gno; gtid_text is "domain-server-seq" or "uuid:gno" ("" for anonymous). */
    uint32_t gtid_domain;
    uint64_t gtid_seq;
    uint8_t gtid_flags;
    uint64_t gtid_commit_id;
    uint8_t gtid_sid[16];
    int64_t gtid_gno;
    int64_t last_committed, sequence_number; /* MySQL logical clock, -1 when absent */
    uint64_t commit_ts_us;                   /* MySQL immediate commit timestamp, 0 when absent */
    char gtid_text[64];

    /* MariaDB GTID_LIST: n_gtids triples (domain, server, seq) - see sl_mb_gtid_list_at */
    uint32_t n_gtids;

    /* TABLE_MAP: the cached map (also reachable by sl_mb_table_get) */
    sl_mb_table *table;

    /* Rows events (v1, v2, MariaDB compressed): rows are read with sl_mb_rows_next. */
    sl_mb_rows_kind rows_kind;
    uint64_t table_id; /* also TABLE_MAP */
    uint16_t rows_flags;
    uint32_t ncols;            /* column count the event declares (== table->ncols) */
    const uint8_t *present[2]; /* columns-present bitmaps: [0] before/only image, [1] after image
                                  of an UPDATE; (ncols+7)/8 bytes each, bit i = column i */
    const uint8_t *rows;       /* the row images (decompressed when compressed) */
    size_t rows_len;
    size_t rows_off; /* cursor of sl_mb_rows_next */

    /* TRANSACTION_PAYLOAD: decompressed; iterate with sl_mb_payload_next */
    uint64_t payload_size, uncompressed_size;
    int compression; /* 0 zstd, 255 none */
} sl_mb_event;

/* Decodes one complete event (header, body, checksum when on) into ev, which it fully
 * overwrites. Verifies the CRC32 first when checksums are on (a mismatch is an error naming the
 * event type and log_pos). A FORMAT_DESCRIPTION updates the decoder's format (header and
 * post-header lengths, checksum); a TABLE_MAP is cached; a rows event is resolved against its
 * table map (an unknown table id or a column count that disagrees is an error). Event types not
 * listed above decode to just the header and body. Returns 0, or -1 with err set. */
int sl_mb_decode(sl_mb_decoder *d, const uint8_t *buf, size_t len, sl_mb_event *ev, char *err,
                 size_t errlen);

/* MariaDB GTID_LIST entry i < ev->n_gtids (read from the event body). */
void sl_mb_gtid_list_at(const sl_mb_event *ev, uint32_t i, uint32_t *domain, uint32_t *server_id,
                        uint64_t *seq);

/* ---- rows ---- */
#define SL_MB_CELL_ABSENT 3 /* column not in this row image (binlog_row_image MINIMAL/NOBLOB) */

typedef struct sl_mb_cell {
    uint8_t state;   /* SL_CELL_VALUE, SL_CELL_NULL or SL_MB_CELL_ABSENT */
    uint8_t invalid; /* zero/invalid date (state is SL_CELL_NULL): see sl_mb_column_type */
    sl_type type;    /* sl_mb_column_type of the column */
    int64_t i64;     /* INT64, UINT64 (bits), DATE, TIME, TIMESTAMP, TIMESTAMPTZ */
    double f64;      /* DOUBLE */
    const char *p;   /* STRING, BINARY, DECIMAL: len bytes, not NUL-terminated */
    size_t len;
} sl_mb_cell;

/* Decodes the next row of a rows event. *before and *after point to ev->ncols cells each, owned
 * by the decoder and valid until the next call: INSERT sets only *after, DELETE only *before
 * (the other is NULL), UPDATE both. Returns 1 for a row, 0 when the event has no more rows, -1
 * on malformed row data or an unsupported column (err names the table, column and cause). */
int sl_mb_rows_next(sl_mb_decoder *d, sl_mb_event *ev, const sl_mb_cell **before,
                    const sl_mb_cell **after, char *err, size_t errlen);

/* ---- MySQL TRANSACTION_PAYLOAD ---- */
/* The next inner event of a decoded TRANSACTION_PAYLOAD event (inner events carry no checksum;
 * the decoder knows and does not expect one while decoding them). Returns 1 with *buf and *len set,
 * 0 at the end, -1 when the payload is malformed. Decode each with sl_mb_decode. */
int sl_mb_payload_next(sl_mb_decoder *d, const uint8_t **buf, size_t *len, char *err,
                       size_t errlen);

/* ---- helpers (exposed for the plugin's snapshot path and the tests) ---- */
/* MySQL binary JSON (the JSON column's value) to MySQL's JSON text; the text is appended to the
 * decoder's row buffer and valid like a row cell. 0 or -1. */
int sl_mb_json_to_text(sl_mb_decoder *d, const uint8_t *p, size_t len, const char **out,
                       size_t *outlen, char *err, size_t errlen);
/* Binary DECIMAL(precision, scale) of size sl_mb_decimal_size to text in out (at least
 * precision + 3 bytes). Returns the text length, or -1. */
int sl_mb_decimal_size(int precision, int scale);
int sl_mb_decimal_to_text(const uint8_t *p, size_t len, int precision, int scale, char *out,
                          size_t outlen);
/* Collation id class: 0 unknown/other charset, 1 UTF-8 (utf8mb3, utf8mb4, ascii), 2 latin1
 * (cp1252), 3 binary. */
int sl_mb_collation_class(uint32_t collation);
/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t sl_mb_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
