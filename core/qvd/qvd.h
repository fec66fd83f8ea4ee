/* QVD codec: writes QVD files Qlik loads as native, reads Qlik's own files exactly.
 * Pure code: libc only (plus the project's own small XML handling). See docs/qvd-types.md. */
#ifndef SL_QVD_H
#define SL_QVD_H

#include "../value.h"

#include <stddef.h>
#include <stdint.h>

/* ---- symbols as stored in a file ---- */
enum {
    SL_QVD_SYM_INT = 1,
    SL_QVD_SYM_DOUBLE = 2,
    SL_QVD_SYM_STRING = 4,
    SL_QVD_SYM_DUAL_INT = 5,
    SL_QVD_SYM_DUAL_DOUBLE = 6,
};

typedef struct sl_qvd_symbol {
    uint8_t type;  /* SL_QVD_SYM_* */
    int32_t i;     /* INT, DUAL_INT */
    double d;      /* DOUBLE, DUAL_DOUBLE */
    const char *s; /* STRING and the text of duals, NUL-terminated, points into the file */
    size_t slen;
} sl_qvd_symbol;

typedef struct sl_qvd_numfmt {
    char *type; /* "UNKNOWN", "INTEGER", "DATE", ... */
    int ndec, usethou;
    char *fmt, *dec, *thou;
} sl_qvd_numfmt;

typedef struct sl_qvd_field {
    char *name;
    uint32_t bit_offset, bit_width;
    int32_t bias;
    sl_qvd_numfmt numfmt;
    uint64_t nsymbols;
    uint64_t offset, length;
    char *comment;
    char **tags;
    size_t ntags;
    sl_qvd_symbol *symbols; /* nsymbols */
} sl_qvd_field;

typedef struct sl_qvd_table {
    char *table_name, *creator_doc, *create_utc_time, *qv_build_no, *comment;
    uint64_t nrecords, record_byte_size;
    uint64_t offset, length; /* index table, relative to the body */
    char **lineage;          /* one string per LineageInfo: its Discriminator, else its Statement */
    size_t nlineage;
    sl_qvd_field *fields;
    size_t nfields;
    /* internal: the whole file, symbols point into it */
    unsigned char *buf;
    size_t buflen;
    const unsigned char *index; /* index table */
} sl_qvd_table;

/* Read a whole file / buffer. On error returns NULL and writes one line into err. */
sl_qvd_table *sl_qvd_read_file(const char *path, char *err, size_t errlen);
/* Takes ownership of buf (malloc'd) on success and on failure. */
sl_qvd_table *sl_qvd_read_buffer(unsigned char *buf, size_t len, char *err, size_t errlen);
void sl_qvd_table_free(sl_qvd_table *t);
/* Symbol of one cell; NULL for a NULL cell. */
const sl_qvd_symbol *sl_qvd_cell(const sl_qvd_table *t, uint64_t row, size_t field);

/* ---- writer ---- */
typedef struct sl_qvd_column_spec {
    const char *name;
    sl_type type;
    int key; /* 1-based key position, 0 = not a key: adds the $key tag */
} sl_qvd_column_spec;

typedef struct sl_qvd_write_opts {
    const char *table_name;
    const char *creator_doc; /* e.g. "sluice://acme/postgres" */
    const char *comment;     /* table-level <Comment>: the core stores the source position here */
    const char *lineage;     /* one LineageInfo (written as its Discriminator), may be NULL */
    int64_t create_time_us;  /* CreateUtcTime; 0 = now */
    /* The source's field of each column (scale -> NumberFormat; source_type and NOT NULL -> the
     * field's Comment), ncols entries, or NULL. Borrowed until sl_qvd_writer_free. */
    const sl_field *fields;
    int tz_offset_minutes; /* TIMESTAMPTZ and the number of TIMESTAMPOFF are in this zone
                              (0 = UTC) */
} sl_qvd_write_opts;

typedef struct sl_qvd_writer sl_qvd_writer;
typedef int (*sl_qvd_out_fn)(void *ud, const void *p, size_t len); /* 0 ok, -1 stop */

sl_qvd_writer *sl_qvd_writer_new(const sl_qvd_write_opts *opts, size_t ncols,
                                 const sl_qvd_column_spec *cols);
/* values[ncols]; copies what it keeps. 0 or -1 (out of memory, string with NUL byte). */
int sl_qvd_writer_add_row(sl_qvd_writer *w, const sl_value *values);
/* Streams the complete file through out. 0 or -1. */
int sl_qvd_writer_finish(sl_qvd_writer *w, sl_qvd_out_fn out, void *ud);
const char *sl_qvd_writer_error(const sl_qvd_writer *w);
void sl_qvd_writer_free(sl_qvd_writer *w);

/* The inverse of the writer's type mapping: turn a symbol written for a column of type t back into
 * the exact engine value (text of duals is parsed where the number alone is not exact). The
 * returned value may point into the symbol or into scratch (caller-provided, at least 64 bytes).
 * 0 or -1 when the symbol cannot be a value of t. */
int sl_qvd_symbol_to_value(const sl_qvd_symbol *sym, sl_type t, sl_value *out, char *scratch,
                           size_t scratchlen);
/* Scratch bytes sl_qvd_symbol_to_value needs for sym: 64, or more for a long BINARY value. */
size_t sl_qvd_symbol_scratch_size(const sl_qvd_symbol *sym, sl_type t);

/* A name or text as a QVD header written by the writer holds it and a reader gets it back: bytes
 * that are not UTF-8 and characters XML 1.0 cannot hold become U+FFFD (docs/qvd-types.md,
 * "Header"). Malloc'd; NULL on out of memory. Recovery matches columns to fields with it. */
char *sl_qvd_header_text(const char *s);

/* A plain decimal text ([+-]digits[.digits][e[+-]digits]) as its exact value: sign, significant
 * digits without leading or trailing zeros, and the power of ten of the last one ("1.50",
 * "+15e-1" -> 15e-1; "-0", "0.00" -> zero). Equal values are equal texts written another way:
 * the writer lets them share one symbol, and table state treats them as one key. */
#define SL_QVD_DECIMAL_DIGITS 128 /* longer digit strings are not parsed (compared as bytes) */
typedef struct sl_qvd_decimal {
    int neg;
    const char *digits; /* ndigits, in the caller's buffer (SL_QVD_DECIMAL_DIGITS bytes) */
    size_t ndigits;     /* 0 = zero */
    long exp10;
} sl_qvd_decimal;
/* 0, or -1 when s is not a plain decimal (NaN, Infinity, ...) or has too many digits. */
int sl_qvd_decimal_parse(const char *s, size_t n, sl_qvd_decimal *d, char *buf);
int sl_qvd_decimal_eq(const sl_qvd_decimal *a, const sl_qvd_decimal *b);

/* Rows written so far (sl_qvd_writer_add_row calls that succeeded). */
uint64_t sl_qvd_writer_rows(const sl_qvd_writer *w);
/* Bytes the writer holds now (symbols, hash tables, packed row indices): for memory budgets. */
size_t sl_qvd_writer_mem(const sl_qvd_writer *w);
/* Convenience: finish into a file (written to path directly). 0 or -1. */
int sl_qvd_writer_finish_file(sl_qvd_writer *w, const char *path);

/* Calendar and the canonical date/time texts the writer puts into duals; the core's CSV output
 * and logs use the same ones. Days since 1970-01-01 <-> proleptic Gregorian y/m/d; the text
 * functions return the length written, or -1 (buffer too small, date out of range). */
void sl_qvd_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
int64_t sl_qvd_days_from_civil(int64_t y, unsigned m, unsigned d);
int sl_qvd_fmt_date(int64_t days, char *buf, size_t len);    /* YYYY-MM-DD */
int sl_qvd_fmt_time(int64_t us, char *buf, size_t len);      /* hh:mm:ss[.ffffff] */
int sl_qvd_fmt_timestamp(int64_t us, char *buf, size_t len); /* date + ' ' + time */

/* CLI: sluice qvd info|cat ... (argv[0] is "qvd") */
int sl_cli_qvd(int argc, char **argv);

#endif
