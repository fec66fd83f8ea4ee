/*
 * pgproto.h - pure decoders for the PostgreSQL source: the walsender CopyData framing ('w'
 * XLogData, 'k' keepalive), pgoutput protocol version 1 messages, COPY text rows and the text
 * output of the types we map. No I/O, no libpq: unit-tested on crafted and malformed input.
 */
#ifndef SL_PG_PROTO_H
#define SL_PG_PROTO_H

#include <sluice/plugin.h>
#include <stddef.h>
#include <stdint.h>

/* Microseconds between 1970-01-01 and 2000-01-01 (the PostgreSQL epoch). */
#define SL_PG_EPOCH_OFFSET_US INT64_C(946684800000000)

/* ---- walsender framing ---- */
typedef struct sl_pg_copymsg {
    char tag;            /* 'w' or 'k' */
    uint64_t start, end; /* 'w': dataStart, walEnd; 'k': end = walEnd */
    int64_t send_time;   /* microseconds since 2000-01-01 */
    int reply_requested; /* 'k' */
    const uint8_t *data; /* 'w': the pgoutput message */
    size_t len;
} sl_pg_copymsg;

int sl_pg_decode_copydata(const uint8_t *buf, size_t len, sl_pg_copymsg *out, char *err,
                          size_t errlen);
/* Standby status update ('r'), 34 bytes, into out. */
void sl_pg_encode_status(uint8_t out[34], uint64_t write, uint64_t flush, uint64_t apply,
                         int64_t now_pg_us, int reply);

/* ---- pgoutput ---- */
typedef struct sl_pg_tcol {
    char kind;  /* 'n' null, 'u' unchanged TOAST, 't' text */
    char *data; /* 't': points into the (mutable) message buffer, not NUL-terminated */
    uint32_t len;
} sl_pg_tcol;

typedef struct sl_pg_tuple {
    uint16_t ncols;
    sl_pg_tcol *cols;
} sl_pg_tuple;

typedef struct sl_pg_relcol {
    uint8_t flags; /* bit 0: part of the replica identity key */
    const char *name;
    uint32_t typoid;
    int32_t typmod;
} sl_pg_relcol;

/* Decoder scratch arrays, grown with realloc and owned by the caller (sl_pg_scratch_free). */
typedef struct sl_pg_scratch {
    sl_pg_relcol *rc;
    size_t rc_cap;
    sl_pg_tcol *tc[2];
    size_t tc_cap[2];
} sl_pg_scratch;
void sl_pg_scratch_free(sl_pg_scratch *s);

typedef struct sl_pg_msg {
    char tag; /* B C O R Y I U D T M */
    /* B: lsn1 = final lsn; C: lsn1 = commit lsn, lsn2 = end lsn; O: lsn1 = origin lsn */
    uint64_t lsn1, lsn2;
    int64_t ts; /* B, C: commit time, microseconds since 2000-01-01 */
    uint32_t xid;
    uint8_t flags;          /* C flags, T options */
    uint32_t relid;         /* R Y I U D */
    const char *ns, *name;  /* R Y; O: name = origin name */
    char replident;         /* R */
    uint16_t ncols;         /* R */
    sl_pg_relcol *relcols;  /* R (scratch) */
    char old_kind;          /* U D: 'K', 'O' or 0 */
    sl_pg_tuple oldt, newt; /* U D: oldt; I U: newt (scratch) */
    uint32_t subxid;        /* A (stream abort) */
    uint32_t nrels;         /* T */
    const uint8_t *relids;  /* T: nrels big-endian uint32 (sl_pg_truncate_relid) */
} sl_pg_msg;

/* Protocol 2 streaming of in-progress transactions: 'S' stream start (xid, flags = first
 * segment), 'E' stream stop, 'c' stream commit (xid, flags, lsn1 = commit lsn, lsn2 = end lsn,
 * ts), 'A' stream abort (xid, subxid). Between S and E, the data messages R Y I U D T carry the
 * (sub)transaction's xid right after the tag: sl_pg_stream_xid reads it, and the caller decodes
 * the message without those 4 bytes. 0 or -1 (too short). */
int sl_pg_stream_xid(const uint8_t *buf, size_t len, uint32_t *xid);

/* Decodes one pgoutput message (protocol 1, and the stream control messages of 2). buf must stay
 * alive and unmodified while m is used, except that the caller may rewrite tuple values in place. 0
 * or -1 with err set. */
int sl_pg_decode_msg(uint8_t *buf, size_t len, sl_pg_msg *m, sl_pg_scratch *s, char *err,
                     size_t errlen);
uint32_t sl_pg_truncate_relid(const sl_pg_msg *m, uint32_t i);

/* ---- COPY text format ---- */
typedef struct sl_pg_field {
    char *p; /* unescaped in place; NULL for \N */
    size_t len;
} sl_pg_field;

/* Splits one COPY text line (with or without its trailing newline) into exactly nfields fields,
 * unescaping in place. 0 or -1 (wrong field count, bad escape). */
int sl_pg_copy_split(char *line, size_t len, sl_pg_field *fields, size_t nfields);

/* ---- COPY binary format ---- */
/* One CopyData message of a COPY ... (FORMAT binary): the first one starts with the file header
 * (*header_done tracks it). Returns 1 for a row (exactly nfields fields, p == NULL for NULL),
 * 0 for the trailer, -1 when malformed. Field data point into buf. */
int sl_pg_copybin_row(uint8_t *buf, size_t len, int *header_done, sl_pg_field *fields,
                      size_t nfields);

typedef struct sl_pg_cell sl_pg_cell;

/* A growable text buffer (numeric binary -> text). */
typedef struct sl_pg_buf {
    char *p;
    size_t cap;
} sl_pg_buf;

/* Converts one binary value of built-in base type oid (mapped to t by sl_pg_type_map) to a cell.
 * Types outside the binary set must be sent as text (cast in the COPY query) and are passed
 * through as bytes. Same returns as sl_pg_parse_value. DECIMAL text is written to tmp. */
int sl_pg_parse_binary(sl_type t, uint32_t oid, char *p, size_t len, sl_pg_cell *out,
                       sl_pg_buf *tmp);
/* 1 when COPY binary can send this base type as is (else the query casts it to text). */
int sl_pg_binary_ok(uint32_t oid);

/* ---- types ---- */
/* The sl_type of a built-in base type OID (domains resolved by the caller); STRING otherwise. */
sl_type sl_pg_type_map(uint32_t oid);

typedef enum sl_pg_cell_kind {
    SL_PG_CELL_VALUE = 0,
    SL_PG_CELL_INFINITE = 1, /* date/timestamp +-infinity (or a timestamp past what int64 Unix
                                microseconds hold): the caller stores NULL and warns */
} sl_pg_cell_kind;

typedef struct sl_pg_cell {
    int64_t i64;
    double f64;
    char *p; /* DECIMAL, STRING, BINARY (BINARY decoded in place) */
    size_t len;
} sl_pg_cell;

/* Converts one text value (the type's output function result, DateStyle ISO, TimeZone UTC,
 * bytea_output hex) to the cell for type t. Returns SL_PG_CELL_VALUE, SL_PG_CELL_INFINITE, or -1
 * when the text does not parse. s is modified in place for BINARY. */
int sl_pg_parse_value(sl_type t, char *s, size_t len, sl_pg_cell *out);

/* Days since 1970-01-01 of a proleptic Gregorian date (year may be <= 0: 0 = 1 BC). */
int64_t sl_pg_days_from_civil(int64_t y, unsigned m, unsigned d);

/* LSN text "X/Y" <-> uint64. Parse returns 0 or -1. */
int sl_pg_lsn_parse(const char *s, uint64_t *out);
void sl_pg_lsn_format(uint64_t lsn, char *out, size_t outlen);

#endif
