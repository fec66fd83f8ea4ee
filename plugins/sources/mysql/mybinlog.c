/*
 * mybinlog.c - MySQL/MariaDB binlog v4 event decoder (see mybinlog.h). Every read is bounds
 * checked through the rd reader; nothing trusts a length field before comparing it with what is
 * left of the buffer.
 */
#include "mybinlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define MB_MAX_TABLES 4096 /* table maps of one statement; more is a malformed stream */

/* ---- small helpers ---- */
static int fail(char *err, size_t errlen, const char *fmt, ...) SL_PRINTF(3, 4);
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        /* names from the stream may hold control bytes: the error stays one line */
        for (char *c = err; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7F)
                *c = '?';
    }
    return -1;
}

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}
static uint64_t be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}
static int64_t sext(uint64_t v, unsigned bytes)
{
    if (bytes >= 8)
        return (int64_t)v;
    uint64_t sign = UINT64_C(1) << (bytes * 8 - 1);
    return (int64_t)((v ^ sign) - sign);
}

typedef struct rd {
    const uint8_t *p;
    size_t n, off;
} rd;

static size_t rd_left(const rd *r)
{
    return r->n - r->off;
}
static int rd_bytes(rd *r, size_t k, const uint8_t **out)
{
    if (rd_left(r) < k)
        return -1;
    *out = r->p + r->off;
    r->off += k;
    return 0;
}
static int rd_le(rd *r, unsigned k, uint64_t *v)
{
    const uint8_t *p;
    if (rd_bytes(r, k, &p))
        return -1;
    *v = le(p, k);
    return 0;
}
/* MySQL's packed (length-encoded) integer; 251 (SQL NULL) is malformed where we use it. */
static int rd_packed(rd *r, uint64_t *v)
{
    uint64_t b;
    if (rd_le(r, 1, &b))
        return -1;
    if (b < 251) {
        *v = b;
        return 0;
    }
    if (b == 252)
        return rd_le(r, 2, v);
    if (b == 253)
        return rd_le(r, 3, v);
    if (b == 254)
        return rd_le(r, 8, v);
    return -1;
}

/* A growable byte buffer. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static int sb_reserve(sbuf *b, size_t more)
{
    if (more > SIZE_MAX / 2 - b->len)
        return -1;
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}
static int sb_put(sbuf *b, const void *s, size_t n)
{
    if (sb_reserve(b, n + 1))
        return -1;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}
static int sb_str(sbuf *b, const char *s)
{
    return sb_put(b, s, strlen(s));
}
static int sb_fmt(sbuf *b, const char *fmt, ...) SL_PRINTF(2, 3);
static int sb_fmt(sbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -1;
    return sb_put(b, tmp, (size_t)n);
}

/* ---- decoder state ---- */
typedef struct chunk {
    struct chunk *next;
    max_align_t align[];
} chunk;

typedef struct mb_table {
    sl_mb_table t;
    chunk *mem; /* every allocation of this table map, freed together */
} mb_table;

struct sl_mb_decoder {
    int crc;
    size_t max_unc;
    int have_fde;
    uint8_t post_len[256]; /* post-header length by event type (from FORMAT_DESCRIPTION) */
    char server_version[51];
    int mariadb;
    sbuf txt; /* the current event's strings */
    sbuf unc; /* decompressed body of the current compressed event */
    sbuf pay; /* TRANSACTION_PAYLOAD inner events */
    size_t pay_off;
    mb_table **tables;
    size_t ntables, tables_cap;
    int stmt_ended;
    sl_mb_cell *cells; /* 2 * cells_cap */
    size_t cells_cap;
    uint8_t *in_arena; /* per cell: p is an offset into row until the row is done */
    sbuf row;          /* converted cell text of the current row */
};

sl_mb_decoder *sl_mb_decoder_new(void)
{
    sl_mb_decoder *d = calloc(1, sizeof *d);
    if (d)
        d->max_unc = (size_t)1 << 30;
    return d;
}

static void table_free(mb_table *t)
{
    if (!t)
        return;
    for (chunk *c = t->mem, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(t);
}

static void tables_clear(sl_mb_decoder *d)
{
    for (size_t i = 0; i < d->ntables; i++)
        table_free(d->tables[i]);
    d->ntables = 0;
}

void sl_mb_decoder_free(sl_mb_decoder *d)
{
    if (!d)
        return;
    tables_clear(d);
    free(d->tables);
    free(d->txt.p);
    free(d->unc.p);
    free(d->pay.p);
    free(d->cells);
    free(d->in_arena);
    free(d->row.p);
    free(d);
}

void sl_mb_decoder_set_checksum(sl_mb_decoder *d, int crc32_on)
{
    d->crc = crc32_on ? 1 : 0;
}

void sl_mb_decoder_set_max_uncompressed(sl_mb_decoder *d, size_t max)
{
    d->max_unc = max;
}

sl_mb_table *sl_mb_table_get(sl_mb_decoder *d, uint64_t table_id)
{
    for (size_t i = 0; i < d->ntables; i++)
        if (d->tables[i]->t.table_id == table_id)
            return &d->tables[i]->t;
    return NULL;
}

static void *talloc(mb_table *t, size_t n)
{
    chunk *c = calloc(1, sizeof *c + n + 1);
    if (!c)
        return NULL;
    c->next = t->mem;
    t->mem = c;
    return c->align;
}
static char *tstrdup(mb_table *t, const uint8_t *s, size_t n)
{
    char *p = talloc(t, n + 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* Copies n bytes into the event's string buffer; returns the offset (strings are turned into
 * pointers once the event is done, as the buffer may move while it grows). */
static int txt_add(sl_mb_decoder *d, const void *s, size_t n, size_t *off)
{
    *off = d->txt.len;
    if (sb_reserve(&d->txt, n + 1))
        return -1;
    if (n)
        memcpy(d->txt.p + d->txt.len, s, n);
    d->txt.p[d->txt.len + n] = 0;
    d->txt.len += n + 1;
    return 0;
}

/* ---- collations and text ---- */
int sl_mb_collation_class(uint32_t c)
{
    if (c >= 1024 && c < 2048) /* MariaDB NO PAD variants: 1024 + the PAD collation's id */
        c -= 1024;
    if (c == 63)
        return 3;
    switch (c) {
    case 5:
    case 8:
    case 15:
    case 31:
    case 47:
    case 48:
    case 49:
    case 94:
        return 2;
    case 11:
    case 65: /* ascii */
    case 33:
    case 76:
    case 83:
    case 223: /* utf8mb3 */
    case 45:
    case 46: /* utf8mb4 */
        return 1;
    default:
        break;
    }
    if ((c >= 192 && c <= 215) || (c >= 224 && c <= 247) || (c >= 255 && c <= 323) ||
        (c >= 576 && c <= 578) || (c >= 608 && c <= 610))
        return 1;
    /* MariaDB 10.10+ UCA 14.0.0 collations: 2048 + charset-specific ranges of 256 (utf8mb3 at
     * 2048, utf8mb4 at 2304). */
    if (c >= 2048 && c < 2560)
        return 1;
    return 0;
}

/* MySQL's latin1 is Windows-1252 with the five undefined bytes mapped to C1 controls. */
static const uint16_t cp1252_hi[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static int put_utf8(sbuf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    }
    return sb_put(b, u, n);
}

static int latin1_to_utf8(sbuf *b, const uint8_t *s, size_t n)
{
    if (sb_reserve(b, n * 3 + 1))
        return -1;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = s[i] >= 0x80 && s[i] < 0xA0 ? cp1252_hi[s[i] - 0x80] : s[i];
        if (put_utf8(b, cp))
            return -1;
    }
    return 0;
}

/* ---- types ---- */
/* The columns SIGNEDNESS has a bit for, in order. MariaDB counts YEAR too (seen in its binlog:
 * its YEAR is an unsigned TINYINT underneath); MySQL's is_numeric_type does not. */
static int is_numeric(uint8_t t, int mariadb)
{
    if (t == SL_MB_T_YEAR)
        return mariadb;
    switch (t) {
    case SL_MB_T_TINY:
    case SL_MB_T_SHORT:
    case SL_MB_T_INT24:
    case SL_MB_T_LONG:
    case SL_MB_T_LONGLONG:
    case SL_MB_T_FLOAT:
    case SL_MB_T_DOUBLE:
    case SL_MB_T_NEWDECIMAL:
        return 1;
    default:
        return 0;
    }
}
static int is_blob(uint8_t t)
{
    return t >= SL_MB_T_TINY_BLOB && t <= SL_MB_T_BLOB;
}
/* The columns that DEFAULT_CHARSET/COLUMN_CHARSET list, in order: the servers count GEOMETRY
 * too (it is a BLOB underneath; its collation is binary). */
static int is_character(uint8_t real)
{
    return real == SL_MB_T_STRING || real == SL_MB_T_VARCHAR || real == SL_MB_T_VAR_STRING ||
           real == SL_MB_T_GEOMETRY || is_blob(real);
}

sl_type sl_mb_column_type(const sl_mb_column *c, int *precision, int *scale)
{
    int p = 0, s = -1;
    sl_type t;
    switch (c->real_type) {
    case SL_MB_T_TINY:
    case SL_MB_T_SHORT:
    case SL_MB_T_INT24:
    case SL_MB_T_LONG:
    case SL_MB_T_YEAR:
        t = SL_T_INT64;
        break;
    case SL_MB_T_LONGLONG:
        t = c->is_unsigned == 1 ? SL_T_UINT64 : SL_T_INT64;
        break;
    case SL_MB_T_BIT:
        t = c->max_len >= 64 ? SL_T_UINT64 : SL_T_INT64;
        break;
    case SL_MB_T_FLOAT:
    case SL_MB_T_DOUBLE:
        t = SL_T_DOUBLE;
        break;
    case SL_MB_T_NEWDECIMAL:
        t = SL_T_DECIMAL;
        p = c->precision;
        s = c->scale;
        break;
    case SL_MB_T_DATE:
    case SL_MB_T_NEWDATE:
        t = SL_T_DATE;
        break;
    case SL_MB_T_TIME:
    case SL_MB_T_TIME2:
        t = SL_T_TIME;
        s = c->fsp;
        break;
    case SL_MB_T_DATETIME:
    case SL_MB_T_DATETIME2:
        t = SL_T_TIMESTAMP;
        s = c->fsp;
        break;
    case SL_MB_T_TIMESTAMP:
    case SL_MB_T_TIMESTAMP2:
        t = SL_T_TIMESTAMPTZ;
        s = c->fsp;
        break;
    case SL_MB_T_ENUM:
        t = c->values ? SL_T_STRING : SL_T_INT64;
        break;
    case SL_MB_T_SET:
        t = c->values ? SL_T_STRING : SL_T_UINT64;
        break;
    case SL_MB_T_STRING:
    case SL_MB_T_VARCHAR:
    case SL_MB_T_VAR_STRING:
        t = sl_mb_collation_class(c->collation) == 3 ? SL_T_BINARY : SL_T_STRING;
        break;
    case SL_MB_T_TINY_BLOB:
    case SL_MB_T_MEDIUM_BLOB:
    case SL_MB_T_LONG_BLOB:
    case SL_MB_T_BLOB: {
        int cls = sl_mb_collation_class(c->collation);
        t = c->collation == 0 || cls == 3 ? SL_T_BINARY : SL_T_STRING;
        break;
    }
    default: /* JSON, GEOMETRY, and the ones rows decoding refuses */
        t = SL_T_STRING;
        break;
    }
    if (precision)
        *precision = p;
    if (scale)
        *scale = s;
    return t;
}

/* ---- decimal ---- */
static const int dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};

/* Exactly n decimal digits of v, zero-padded; -1 when v has more (a malformed group). */
static int put_digits(char *out, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return v ? -1 : 0;
}

int sl_mb_decimal_size(int precision, int scale)
{
    if (precision < 1 || precision > 65 || scale < 0 || scale > 30 || scale > precision)
        return -1;
    int intg = precision - scale;
    return intg / 9 * 4 + dig2bytes[intg % 9] + scale / 9 * 4 + dig2bytes[scale % 9];
}

int sl_mb_decimal_to_text(const uint8_t *p, size_t len, int precision, int scale, char *out,
                          size_t outlen)
{
    int size = sl_mb_decimal_size(precision, scale);
    if (size < 0 || len < (size_t)size || outlen < (size_t)precision + 3)
        return -1;
    uint8_t b[40]; /* 65 digits need at most 30 bytes */
    memcpy(b, p, (size_t)size);
    int neg = !(b[0] & 0x80);
    b[0] ^= 0x80;
    if (neg)
        for (int i = 0; i < size; i++)
            b[i] ^= 0xFF;
    int intg = precision - scale, pos = 0;
    char digits[80];
    size_t nd = 0;
    /* integer part: leading partial group, then groups of 9 */
    int lead = intg % 9;
    if (lead) {
        unsigned k = (unsigned)dig2bytes[lead];
        uint64_t v = be(b + pos, k);
        pos += (int)k;
        if (put_digits(digits + nd, v, lead))
            return -1;
        nd += (size_t)lead;
    }
    for (int g = 0; g < intg / 9; g++) {
        uint64_t v = be(b + pos, 4);
        pos += 4;
        if (put_digits(digits + nd, v, 9))
            return -1;
        nd += 9;
    }
    size_t int_digits = nd;
    for (int g = 0; g < scale / 9; g++) {
        uint64_t v = be(b + pos, 4);
        pos += 4;
        if (put_digits(digits + nd, v, 9))
            return -1;
        nd += 9;
    }
    int trail = scale % 9;
    if (trail) {
        unsigned k = (unsigned)dig2bytes[trail];
        uint64_t v = be(b + pos, k);
        if (put_digits(digits + nd, v, trail))
            return -1;
        nd += (size_t)trail;
    }
    /* text: sign, integer part without leading zeros ("0" when none), point, scale digits */
    size_t i = 0, o = 0;
    while (i < int_digits && digits[i] == '0')
        i++;
    int zero = 1;
    for (size_t k = i; k < nd; k++)
        if (digits[k] != '0')
            zero = 0;
    if (neg && !zero)
        out[o++] = '-';
    if (i == int_digits)
        out[o++] = '0';
    else
        for (; i < int_digits; i++)
            out[o++] = digits[i];
    if (scale > 0) {
        out[o++] = '.';
        memcpy(out + o, digits + int_digits, (size_t)scale);
        o += (size_t)scale;
    }
    out[o] = 0;
    return (int)o;
}

/* ---- dates ---- */
int64_t sl_mb_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int valid_date(int64_t y, unsigned m, unsigned d)
{
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return 0;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 0;
    return 1;
}

/* Fractional seconds of TIME2/DATETIME2/TIMESTAMP2 (big-endian, (fsp+1)/2 bytes), as
 * microseconds; signed for TIME2's negative values. */
static unsigned frac_bytes(unsigned fsp)
{
    return (fsp + 1) / 2;
}

/* ---- binary JSON (MySQL) ---- */
enum {
    JB_SMALL_OBJ = 0,
    JB_LARGE_OBJ = 1,
    JB_SMALL_ARR = 2,
    JB_LARGE_ARR = 3,
    JB_LITERAL = 4,
    JB_INT16 = 5,
    JB_UINT16 = 6,
    JB_INT32 = 7,
    JB_UINT32 = 8,
    JB_INT64 = 9,
    JB_UINT64 = 10,
    JB_DOUBLE = 11,
    JB_STRING = 12,
    JB_OPAQUE = 15,
};

static int json_str(sbuf *o, const uint8_t *s, size_t n)
{
    if (sb_put(o, "\"", 1))
        return -1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        const char *e = NULL;
        switch (c) {
        case '"':
            e = "\\\"";
            break;
        case '\\':
            e = "\\\\";
            break;
        case '\n':
            e = "\\n";
            break;
        case '\r':
            e = "\\r";
            break;
        case '\t':
            e = "\\t";
            break;
        case '\b':
            e = "\\b";
            break;
        case '\f':
            e = "\\f";
            break;
        default:
            break;
        }
        if (e) {
            if (sb_str(o, e))
                return -1;
        } else if (c < 0x20) {
            if (sb_fmt(o, "\\u%04x", c))
                return -1;
        } else if (sb_put(o, &c, 1)) {
            return -1;
        }
    }
    return sb_put(o, "\"", 1);
}

/* JSON's 7-bits-per-byte length (at most 5 bytes for 32 bits). */
static int json_varlen(const uint8_t *p, size_t n, size_t *used, uint64_t *v)
{
    *v = 0;
    for (size_t i = 0; i < 5 && i < n; i++) {
        *v |= (uint64_t)(p[i] & 0x7F) << (7 * i);
        if (!(p[i] & 0x80)) {
            *used = i + 1;
            return *v <= UINT32_MAX ? 0 : -1;
        }
    }
    return -1;
}

/* The shortest %g that reads back as the same double, as MySQL prints doubles in JSON. */
static int put_double(sbuf *o, double v)
{
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    return sb_str(o, tmp);
}

static int put_base64(sbuf *o, const uint8_t *s, size_t n)
{
    static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        char q[4] = {tb[v >> 18 & 63], tb[v >> 12 & 63], i + 1 < n ? tb[v >> 6 & 63] : '=',
                     i + 2 < n ? tb[v & 63] : '='};
        if (sb_put(o, q, 4))
            return -1;
    }
    return 0;
}

static int put_packed_temporal(sbuf *o, uint8_t mtype, int64_t packed)
{
    int neg = packed < 0;
    uint64_t v = neg ? (uint64_t)0 - (uint64_t)packed : (uint64_t)packed;
    uint64_t frac = v % (1u << 24), ymdhms = v >> 24;
    if (mtype == SL_MB_T_TIME) {
        uint64_t h = ymdhms >> 12 & 0x3FF, mi = ymdhms >> 6 & 63, s = ymdhms & 63;
        return sb_fmt(o, "\"%s%02llu:%02llu:%02llu.%06llu\"", neg ? "-" : "", (unsigned long long)h,
                      (unsigned long long)mi, (unsigned long long)s, (unsigned long long)frac);
    }
    uint64_t ymd = ymdhms >> 17, hms = ymdhms & 0x1FFFF;
    uint64_t y = (ymd >> 5) / 13, m = (ymd >> 5) % 13, d = ymd & 31;
    if (mtype == SL_MB_T_DATE)
        return sb_fmt(o, "\"%04llu-%02llu-%02llu\"", (unsigned long long)y, (unsigned long long)m,
                      (unsigned long long)d);
    return sb_fmt(o, "\"%04llu-%02llu-%02llu %02llu:%02llu:%02llu.%06llu\"", (unsigned long long)y,
                  (unsigned long long)m, (unsigned long long)d, (unsigned long long)(hms >> 12),
                  (unsigned long long)(hms >> 6 & 63), (unsigned long long)(hms & 63),
                  (unsigned long long)frac);
}

static int json_value(sbuf *o, uint8_t type, const uint8_t *p, size_t n, int depth);

/* A scalar stored inline in a value entry (literals and small integers). */
static int json_inline(sbuf *o, uint8_t type, const uint8_t *p, int large)
{
    switch (type) {
    case JB_LITERAL:
        if (p[0] > 2)
            return -1;
        return sb_str(o, p[0] == 0 ? "null" : p[0] == 1 ? "true" : "false");
    case JB_INT16:
        return sb_fmt(o, "%d", (int)(int16_t)le(p, 2));
    case JB_UINT16:
        return sb_fmt(o, "%u", (unsigned)le(p, 2));
    case JB_INT32:
        return large ? sb_fmt(o, "%ld", (long)(int32_t)le(p, 4)) : -1;
    case JB_UINT32:
        return large ? sb_fmt(o, "%lu", (unsigned long)le(p, 4)) : -1;
    default:
        return -1;
    }
}

static int inlined(uint8_t type, int large)
{
    return type == JB_LITERAL || type == JB_INT16 || type == JB_UINT16 ||
           (large && (type == JB_INT32 || type == JB_UINT32));
}

static int json_container(sbuf *o, int obj, int large, const uint8_t *p, size_t n, int depth)
{
    unsigned w = large ? 4 : 2;
    if (n < 2 * w)
        return -1;
    uint64_t count = le(p, w), size = le(p + w, w);
    if (size > n || size < 2 * w)
        return -1;
    n = (size_t)size; /* offsets are relative to p and must stay within the container */
    size_t key_entry = w + 2, val_entry = 1 + w;
    size_t hdr = 2 * w;
    if (obj) {
        if (count > (n - hdr) / (key_entry + val_entry))
            return -1;
    } else if (count > (n - hdr) / val_entry) {
        return -1;
    }
    size_t vstart = hdr + (obj ? (size_t)count * key_entry : 0);
    if (sb_str(o, obj ? "{" : "["))
        return -1;
    for (uint64_t i = 0; i < count; i++) {
        if (i && sb_str(o, ", "))
            return -1;
        if (obj) {
            const uint8_t *ke = p + hdr + i * key_entry;
            uint64_t koff = le(ke, w), klen = le(ke + w, 2);
            if (koff > n || klen > n - koff)
                return -1;
            if (json_str(o, p + koff, (size_t)klen) || sb_str(o, ": "))
                return -1;
        }
        const uint8_t *ve = p + vstart + i * val_entry;
        uint8_t t = ve[0];
        if (inlined(t, large)) {
            if (json_inline(o, t, ve + 1, large))
                return -1;
            continue;
        }
        uint64_t voff = le(ve + 1, w);
        if (voff >= n)
            return -1;
        if (json_value(o, t, p + voff, n - (size_t)voff, depth + 1))
            return -1;
    }
    return sb_str(o, obj ? "}" : "]");
}

static int json_value(sbuf *o, uint8_t type, const uint8_t *p, size_t n, int depth)
{
    if (depth > 100) /* MySQL caps JSON nesting at 100 */
        return -1;
    switch (type) {
    case JB_SMALL_OBJ:
    case JB_LARGE_OBJ:
        return json_container(o, 1, type == JB_LARGE_OBJ, p, n, depth);
    case JB_SMALL_ARR:
    case JB_LARGE_ARR:
        return json_container(o, 0, type == JB_LARGE_ARR, p, n, depth);
    case JB_LITERAL:
        if (n < 1)
            return -1;
        return json_inline(o, type, p, 1);
    case JB_INT16:
    case JB_UINT16:
        if (n < 2)
            return -1;
        return json_inline(o, type, p, 1);
    case JB_INT32:
    case JB_UINT32:
        if (n < 4)
            return -1;
        return json_inline(o, type, p, 1);
    case JB_INT64:
        if (n < 8)
            return -1;
        return sb_fmt(o, "%lld", (long long)(int64_t)le(p, 8));
    case JB_UINT64:
        if (n < 8)
            return -1;
        return sb_fmt(o, "%llu", (unsigned long long)le(p, 8));
    case JB_DOUBLE: {
        if (n < 8)
            return -1;
        uint64_t bits = le(p, 8);
        double v;
        memcpy(&v, &bits, sizeof v);
        return put_double(o, v);
    }
    case JB_STRING: {
        size_t used;
        uint64_t len;
        if (json_varlen(p, n, &used, &len) || len > n - used)
            return -1;
        return json_str(o, p + used, (size_t)len);
    }
    case JB_OPAQUE: {
        if (n < 1)
            return -1;
        uint8_t mtype = p[0];
        size_t used;
        uint64_t len;
        if (json_varlen(p + 1, n - 1, &used, &len) || len > n - 1 - used)
            return -1;
        const uint8_t *v = p + 1 + used;
        if (mtype == SL_MB_T_NEWDECIMAL && len >= 2) {
            char tmp[96];
            int tl = sl_mb_decimal_to_text(v + 2, (size_t)len - 2, v[0], v[1], tmp, sizeof tmp);
            return tl < 0 ? -1 : sb_put(o, tmp, (size_t)tl);
        }
        if ((mtype == SL_MB_T_DATE || mtype == SL_MB_T_TIME || mtype == SL_MB_T_DATETIME ||
             mtype == SL_MB_T_TIMESTAMP) &&
            len == 8)
            return put_packed_temporal(o, mtype == SL_MB_T_TIMESTAMP ? SL_MB_T_DATETIME : mtype,
                                       (int64_t)le(v, 8));
        return sb_fmt(o, "\"base64:type%u:", mtype) || put_base64(o, v, (size_t)len) ||
                       sb_str(o, "\"")
                   ? -1
                   : 0;
    }
    default:
        return -1;
    }
}

static int json_doc(sbuf *o, const uint8_t *p, size_t n)
{
    if (n == 0) /* MySQL's empty binary value is the JSON null literal */
        return sb_str(o, "null");
    return json_value(o, p[0], p + 1, n - 1, 0);
}

int sl_mb_json_to_text(sl_mb_decoder *d, const uint8_t *p, size_t len, const char **out,
                       size_t *outlen, char *err, size_t errlen)
{
    d->row.len = 0;
    if (sb_reserve(&d->row, 1))
        return fail(err, errlen, "out of memory");
    if (json_doc(&d->row, p, len))
        return fail(err, errlen, "malformed binary JSON value (%zu bytes)", len);
    *out = d->row.p;
    *outlen = d->row.len;
    return 0;
}

/* ---- common header, checksum ---- */
int sl_mb_header_parse(const uint8_t *buf, size_t len, sl_mb_header *h, char *err, size_t errlen)
{
    if (len < SL_MB_HEADER_LEN)
        return fail(err, errlen, "binlog event truncated: %zu bytes, the header alone is 19", len);
    h->timestamp = (uint32_t)le(buf, 4);
    h->type = buf[4];
    h->server_id = (uint32_t)le(buf + 5, 4);
    h->event_size = (uint32_t)le(buf + 9, 4);
    h->log_pos = (uint32_t)le(buf + 13, 4);
    h->flags = (uint16_t)le(buf + 17, 2);
    if (h->event_size < SL_MB_HEADER_LEN || h->event_size > len)
        return fail(err, errlen,
                    "binlog event type %u at log_pos %u truncated: event_size %u, have %zu bytes",
                    h->type, h->log_pos, h->event_size, len);
    return 0;
}

static int version_checksum_aware(const char *v)
{
    unsigned a = 0, b = 0, c = 0;
    if (sscanf(v, "%u.%u.%u", &a, &b, &c) < 2)
        return 0;
    if (strstr(v, "MariaDB"))
        return a > 5 || (a == 5 && b >= 3);
    return a > 5 || (a == 5 && (b > 6 || (b == 6 && c >= 1)));
}

/* ---- event bodies ---- */
static int dec_fde(sl_mb_decoder *d, sl_mb_event *ev, size_t *txt_ver, char *err, size_t errlen)
{
    const uint8_t *b = ev->body;
    size_t n = ev->body_len; /* checksum still included: the FDE tells whether there is one */
    if (n < 2 + 50 + 4 + 1)
        return fail(err, errlen, "FORMAT_DESCRIPTION event truncated (%zu bytes)", n);
    ev->binlog_version = (uint16_t)le(b, 2);
    char ver[51];
    memcpy(ver, b + 2, 50);
    ver[50] = 0;
    uint8_t hlen = b[56];
    if (ev->binlog_version != 4 || hlen < SL_MB_HEADER_LEN)
        return fail(err, errlen, "unsupported binlog format: version %u, header length %u",
                    ev->binlog_version, hlen);
    size_t nlens = n - 57;
    int alg = 0;
    if (version_checksum_aware(ver)) {
        /* checksum-aware servers always append the algorithm byte and a 4-byte checksum slot */
        if (nlens < 5)
            return fail(err, errlen, "FORMAT_DESCRIPTION event truncated (%zu bytes)", n);
        nlens -= 5;
        alg = b[57 + nlens];
        if (alg != 0 && alg != 1)
            return fail(err, errlen, "unsupported binlog checksum algorithm %d", alg);
        ev->body_len = n - 4;
        if (alg == 1) {
            size_t total = SL_MB_HEADER_LEN + n;
            const uint8_t *start = ev->body - SL_MB_HEADER_LEN;
            uint32_t want = (uint32_t)le(start + total - 4, 4);
            uint32_t got = (uint32_t)crc32(0L, start, (uInt)(total - 4));
            if (want != got)
                return fail(err, errlen,
                            "binlog checksum mismatch in FORMAT_DESCRIPTION at log_pos %u "
                            "(stored %08x, computed %08x)",
                            ev->h.log_pos, want, got);
            ev->checksum_checked = 1;
        }
    }
    memset(d->post_len, 0, sizeof d->post_len);
    for (size_t i = 0; i < nlens && i < 255; i++)
        d->post_len[i + 1] = b[57 + i];
    d->have_fde = 1;
    d->crc = alg;
    memcpy(d->server_version, ver, sizeof ver);
    d->mariadb = strstr(ver, "MariaDB") != NULL;
    ev->mariadb = d->mariadb;
    ev->checksum_alg = alg;
    return txt_add(d, ver, strlen(ver), txt_ver) ? fail(err, errlen, "out of memory") : 0;
}

/* MariaDB's compressed body: one header byte 0x80|lenlen, the big-endian uncompressed length,
 * then zlib data. */
static int maria_uncompress(sl_mb_decoder *d, const uint8_t *p, size_t n, char *err, size_t errlen)
{
    if (n < 1 || (p[0] & 0xE0) != 0x80)
        return fail(err, errlen, "MariaDB compressed event: bad compression header");
    unsigned lenlen = p[0] & 7;
    if (lenlen < 1 || lenlen > 4 || n < 1 + (size_t)lenlen)
        return fail(err, errlen, "MariaDB compressed event: bad length header");
    uint64_t ulen = be(p + 1, lenlen);
    if (ulen > d->max_unc)
        return fail(err, errlen,
                    "MariaDB compressed event: uncompressed size %llu above the limit %zu",
                    (unsigned long long)ulen, d->max_unc);
    d->unc.len = 0;
    if (sb_reserve(&d->unc, (size_t)ulen + 1))
        return fail(err, errlen, "out of memory");
    uLongf dl = (uLongf)ulen;
    int rc = uncompress((Bytef *)d->unc.p, &dl, p + 1 + lenlen, (uLong)(n - 1 - lenlen));
    if (rc != Z_OK || dl != ulen)
        return fail(err, errlen, "MariaDB compressed event: zlib error %d (%lu of %llu bytes)", rc,
                    (unsigned long)dl, (unsigned long long)ulen);
    d->unc.len = (size_t)ulen;
    return 0;
}

static int dec_query(sl_mb_decoder *d, sl_mb_event *ev, size_t *odb, size_t *oq, char *err,
                     size_t errlen)
{
    rd r = {ev->body, ev->body_len, 0};
    uint64_t tid, et, dblen, ec, svlen;
    if (rd_le(&r, 4, &tid) || rd_le(&r, 4, &et) || rd_le(&r, 1, &dblen) || rd_le(&r, 2, &ec) ||
        rd_le(&r, 2, &svlen))
        return fail(err, errlen, "QUERY event truncated at log_pos %u", ev->h.log_pos);
    size_t ph = d->post_len[ev->h.type];
    if (ph > 13 && rd_left(&r) >= ph - 13) /* a longer post-header from a newer server */
        r.off += ph - 13;
    const uint8_t *db, *sv;
    if (rd_bytes(&r, (size_t)svlen, &sv) || rd_bytes(&r, (size_t)dblen, &db) || rd_left(&r) < 1)
        return fail(err, errlen, "QUERY event truncated at log_pos %u", ev->h.log_pos);
    r.off++; /* NUL after the database name */
    ev->thread_id = (uint32_t)tid;
    ev->exec_time = (uint32_t)et;
    ev->error_code = (uint16_t)ec;
    const uint8_t *q = r.p + r.off;
    size_t qn = rd_left(&r);
    if (ev->h.type == SL_MB_MARIA_QUERY_COMPRESSED) {
        if (maria_uncompress(d, q, qn, err, errlen))
            return -1;
        q = (const uint8_t *)d->unc.p;
        qn = d->unc.len;
    }
    if (txt_add(d, db, (size_t)dblen, odb) || txt_add(d, q, qn, oq))
        return fail(err, errlen, "out of memory");
    ev->query_len = qn;
    return 0;
}

static void fmt_uuid(char *out, const uint8_t *u)
{
    static const char hx[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hx[u[i] >> 4];
        out[o++] = hx[u[i] & 15];
    }
    out[o] = 0;
}

static int dec_mysql_gtid(sl_mb_event *ev, char *err, size_t errlen)
{
    rd r = {ev->body, ev->body_len, 0};
    uint64_t flags, gno, lt;
    const uint8_t *sid;
    if (rd_le(&r, 1, &flags) || rd_bytes(&r, 16, &sid) || rd_le(&r, 8, &gno))
        return fail(err, errlen, "GTID event truncated at log_pos %u", ev->h.log_pos);
    ev->gtid_flags = (uint8_t)flags;
    memcpy(ev->gtid_sid, sid, 16);
    ev->gtid_gno = (int64_t)gno;
    ev->last_committed = ev->sequence_number = -1;
    if (rd_left(&r) >= 17 && rd_le(&r, 1, &lt) == 0 && lt == 2) {
        uint64_t lc, sn;
        rd_le(&r, 8, &lc);
        rd_le(&r, 8, &sn);
        ev->last_committed = (int64_t)lc;
        ev->sequence_number = (int64_t)sn;
        uint64_t ts;
        if (rd_le(&r, 7, &ts) == 0)
            ev->commit_ts_us = ts & ~(UINT64_C(1) << 55);
    }
    if (ev->h.type == SL_MB_MYSQL_GTID) {
        char u[40];
        fmt_uuid(u, sid);
        snprintf(ev->gtid_text, sizeof ev->gtid_text, "%s:%lld", u, (long long)ev->gtid_gno);
    }
    return 0;
}

static int dec_maria_gtid(sl_mb_event *ev, char *err, size_t errlen)
{
    rd r = {ev->body, ev->body_len, 0};
    uint64_t seq, dom, fl;
    if (rd_le(&r, 8, &seq) || rd_le(&r, 4, &dom) || rd_le(&r, 1, &fl))
        return fail(err, errlen, "MariaDB GTID event truncated at log_pos %u", ev->h.log_pos);
    ev->gtid_seq = seq;
    ev->gtid_domain = (uint32_t)dom;
    ev->gtid_flags = (uint8_t)fl;
    if (fl & 2) { /* FL_GROUP_COMMIT_ID */
        uint64_t cid;
        if (rd_le(&r, 8, &cid))
            return fail(err, errlen, "MariaDB GTID event truncated at log_pos %u", ev->h.log_pos);
        ev->gtid_commit_id = cid;
    }
    snprintf(ev->gtid_text, sizeof ev->gtid_text, "%u-%u-%llu", ev->gtid_domain, ev->h.server_id,
             (unsigned long long)seq);
    return 0;
}

void sl_mb_gtid_list_at(const sl_mb_event *ev, uint32_t i, uint32_t *domain, uint32_t *server_id,
                        uint64_t *seq)
{
    const uint8_t *p = ev->body + 4 + (size_t)i * 16;
    *domain = (uint32_t)le(p, 4);
    *server_id = (uint32_t)le(p + 4, 4);
    *seq = le(p + 8, 8);
}

/* ---- table map ---- */
static unsigned meta_bytes(uint8_t t)
{
    switch (t) {
    case SL_MB_T_FLOAT:
    case SL_MB_T_DOUBLE:
    case SL_MB_T_TINY_BLOB:
    case SL_MB_T_MEDIUM_BLOB:
    case SL_MB_T_LONG_BLOB:
    case SL_MB_T_BLOB:
    case SL_MB_T_GEOMETRY:
    case SL_MB_T_JSON:
    case SL_MB_T_TIMESTAMP2:
    case SL_MB_T_DATETIME2:
    case SL_MB_T_TIME2:
    case 140: /* MariaDB BLOB_COMPRESSED */
        return 1;
    case SL_MB_T_VARCHAR:
    case SL_MB_T_VAR_STRING:
    case SL_MB_T_BIT:
    case SL_MB_T_NEWDECIMAL:
    case SL_MB_T_DECIMAL:
    case SL_MB_T_STRING:
    case SL_MB_T_ENUM:
    case SL_MB_T_SET:
    case 141: /* MariaDB VARCHAR_COMPRESSED */
        return 2;
    default:
        return 0;
    }
}

static int set_meta(sl_mb_column *c, const uint8_t *m)
{
    uint8_t b0 = m[0], b1 = m[1];
    c->real_type = c->type;
    switch (c->type) {
    case SL_MB_T_FLOAT:
    case SL_MB_T_DOUBLE:
        c->max_len = b0;
        return b0 == (c->type == SL_MB_T_FLOAT ? 4 : 8) ? 0 : -1;
    case SL_MB_T_TINY_BLOB:
    case SL_MB_T_MEDIUM_BLOB:
    case SL_MB_T_LONG_BLOB:
    case SL_MB_T_BLOB:
    case SL_MB_T_GEOMETRY:
    case SL_MB_T_JSON:
    case 140:
        c->max_len = b0;
        return b0 >= 1 && b0 <= 4 ? 0 : -1;
    case SL_MB_T_TIMESTAMP2:
    case SL_MB_T_DATETIME2:
    case SL_MB_T_TIME2:
        c->fsp = b0;
        return b0 <= 6 ? 0 : -1;
    case SL_MB_T_VARCHAR:
    case SL_MB_T_VAR_STRING:
    case 141:
        c->max_len = (uint32_t)b0 | (uint32_t)b1 << 8;
        return 0;
    case SL_MB_T_BIT:
        c->max_len = (uint32_t)b1 * 8 + b0;
        return c->max_len >= 1 && c->max_len <= 64 && b0 < 8 ? 0 : -1;
    case SL_MB_T_NEWDECIMAL:
        c->precision = b0;
        c->scale = b1;
        return sl_mb_decimal_size(b0, b1) < 0 ? -1 : 0;
    case SL_MB_T_STRING:
    case SL_MB_T_ENUM:
    case SL_MB_T_SET:
        /* The real type in the first byte; CHAR lengths above 255 borrow its bits 4-5. */
        if ((b0 & 0x30) != 0x30) {
            c->max_len = b1 | (uint32_t)(((b0 & 0x30) ^ 0x30) << 4);
            c->real_type = (uint8_t)(b0 | 0x30);
        } else {
            c->real_type = b0;
            c->max_len = b1;
        }
        if (c->real_type == SL_MB_T_ENUM)
            return b1 == 1 || b1 == 2 ? 0 : -1;
        if (c->real_type == SL_MB_T_SET)
            return b1 >= 1 && b1 <= 8 ? 0 : -1;
        if (c->real_type == SL_MB_T_STRING)
            return 0;
        return -1;
    default:
        return 0;
    }
}

/* Optional metadata field types (binlog_row_metadata). */
enum {
    OM_SIGNEDNESS = 1,
    OM_DEFAULT_CHARSET = 2,
    OM_COLUMN_CHARSET = 3,
    OM_COLUMN_NAME = 4,
    OM_SET_STR_VALUE = 5,
    OM_ENUM_STR_VALUE = 6,
    OM_GEOMETRY_TYPE = 7,
    OM_SIMPLE_PRIMARY_KEY = 8,
    OM_PRIMARY_KEY_WITH_PREFIX = 9,
    OM_ENUM_AND_SET_DEFAULT_CHARSET = 10,
    OM_ENUM_AND_SET_COLUMN_CHARSET = 11,
    OM_MAX = 16,
};

/* Assigns collations to the columns pick() selects, from a DEFAULT_CHARSET-style field (default
 * then (index, collation) pairs) or a COLUMN_CHARSET-style one (one per column). */
static int om_charsets(sl_mb_table *t, const uint8_t *p, size_t n, int per_column, int enumset)
{
    rd r = {p, n, 0};
    uint32_t idx[4096];
    size_t k = 0;
    for (uint32_t i = 0; i < t->ncols && k < 4096; i++) {
        uint8_t rt = t->cols[i].real_type;
        if (enumset ? (rt == SL_MB_T_ENUM || rt == SL_MB_T_SET) : is_character(rt))
            idx[k++] = i;
    }
    if (per_column) {
        for (size_t i = 0; i < k; i++) {
            uint64_t c;
            if (rd_packed(&r, &c) || c > UINT32_MAX)
                return -1;
            t->cols[idx[i]].collation = (uint32_t)c;
        }
        return rd_left(&r) ? -1 : 0;
    }
    uint64_t def;
    if (rd_packed(&r, &def) || def > UINT32_MAX)
        return -1;
    for (size_t i = 0; i < k; i++)
        t->cols[idx[i]].collation = (uint32_t)def;
    while (rd_left(&r)) {
        uint64_t ci, c;
        if (rd_packed(&r, &ci) || rd_packed(&r, &c) || ci >= k || c > UINT32_MAX)
            return -1;
        t->cols[idx[ci]].collation = (uint32_t)c;
    }
    return 0;
}

static int om_strvalues(mb_table *mt, const uint8_t *p, size_t n, uint8_t want)
{
    sl_mb_table *t = &mt->t;
    rd r = {p, n, 0};
    for (uint32_t i = 0; i < t->ncols; i++) {
        sl_mb_column *c = &t->cols[i];
        if (c->real_type != want)
            continue;
        uint64_t cnt;
        if (rd_packed(&r, &cnt) || cnt > 65535 || cnt > rd_left(&r))
            return -1;
        char **vals = talloc(mt, sizeof(char *) * (size_t)(cnt ? cnt : 1));
        if (!vals)
            return -1;
        int latin1 = sl_mb_collation_class(c->collation) == 2;
        for (uint64_t j = 0; j < cnt; j++) {
            uint64_t len;
            const uint8_t *s;
            if (rd_packed(&r, &len) || rd_bytes(&r, (size_t)len, &s))
                return -1;
            if (latin1) {
                sbuf b = {0};
                if (latin1_to_utf8(&b, s, (size_t)len)) {
                    free(b.p);
                    return -1;
                }
                vals[j] = tstrdup(mt, (const uint8_t *)(b.p ? b.p : ""), b.len);
                free(b.p);
            } else {
                vals[j] = tstrdup(mt, s, (size_t)len);
            }
            if (!vals[j])
                return -1;
        }
        c->values = (const char *const *)vals;
        c->nvalues = (uint32_t)cnt;
    }
    return rd_left(&r) ? -1 : 0;
}

static int optional_meta(mb_table *mt, const uint8_t *p, size_t n, int mariadb)
{
    sl_mb_table *t = &mt->t;
    const uint8_t *f[OM_MAX] = {0};
    size_t fl[OM_MAX] = {0};
    rd r = {p, n, 0};
    while (rd_left(&r)) {
        uint64_t type, len;
        const uint8_t *v;
        if (rd_le(&r, 1, &type) || rd_packed(&r, &len) || rd_bytes(&r, (size_t)len, &v))
            return -1;
        if (type < OM_MAX) { /* unknown (newer) fields are skipped */
            f[type] = v;
            fl[type] = (size_t)len;
        }
    }
    if (f[OM_SIGNEDNESS]) {
        uint32_t k = 0;
        for (uint32_t i = 0; i < t->ncols; i++) {
            if (!is_numeric(t->cols[i].real_type, mariadb))
                continue;
            if (k / 8 >= fl[OM_SIGNEDNESS])
                return -1;
            t->cols[i].is_unsigned = (f[OM_SIGNEDNESS][k / 8] >> (7 - k % 8)) & 1;
            k++;
        }
        t->has_signedness = 1;
    }
    if (f[OM_DEFAULT_CHARSET] || f[OM_COLUMN_CHARSET]) {
        if (f[OM_DEFAULT_CHARSET]
                ? om_charsets(t, f[OM_DEFAULT_CHARSET], fl[OM_DEFAULT_CHARSET], 0, 0)
                : om_charsets(t, f[OM_COLUMN_CHARSET], fl[OM_COLUMN_CHARSET], 1, 0))
            return -1;
        t->has_charsets = 1;
    }
    if (f[OM_ENUM_AND_SET_DEFAULT_CHARSET] &&
        om_charsets(t, f[OM_ENUM_AND_SET_DEFAULT_CHARSET], fl[OM_ENUM_AND_SET_DEFAULT_CHARSET], 0,
                    1))
        return -1;
    if (f[OM_ENUM_AND_SET_COLUMN_CHARSET] &&
        om_charsets(t, f[OM_ENUM_AND_SET_COLUMN_CHARSET], fl[OM_ENUM_AND_SET_COLUMN_CHARSET], 1, 1))
        return -1;
    if (f[OM_COLUMN_NAME]) {
        rd c = {f[OM_COLUMN_NAME], fl[OM_COLUMN_NAME], 0};
        for (uint32_t i = 0; i < t->ncols; i++) {
            uint64_t len;
            const uint8_t *s;
            if (rd_packed(&c, &len) || rd_bytes(&c, (size_t)len, &s) ||
                !(t->cols[i].name = tstrdup(mt, s, (size_t)len)))
                return -1;
        }
        t->has_names = 1;
    }
    if (f[OM_ENUM_STR_VALUE] &&
        om_strvalues(mt, f[OM_ENUM_STR_VALUE], fl[OM_ENUM_STR_VALUE], SL_MB_T_ENUM))
        return -1;
    if (f[OM_SET_STR_VALUE] &&
        om_strvalues(mt, f[OM_SET_STR_VALUE], fl[OM_SET_STR_VALUE], SL_MB_T_SET))
        return -1;
    t->has_enum_values = f[OM_ENUM_STR_VALUE] || f[OM_SET_STR_VALUE];
    if (f[OM_GEOMETRY_TYPE]) {
        rd c = {f[OM_GEOMETRY_TYPE], fl[OM_GEOMETRY_TYPE], 0};
        for (uint32_t i = 0; i < t->ncols; i++) {
            uint64_t g;
            if (t->cols[i].type != SL_MB_T_GEOMETRY)
                continue;
            if (rd_packed(&c, &g))
                return -1;
            t->cols[i].geom_type = (uint32_t)g;
        }
    }
    for (int pk = OM_SIMPLE_PRIMARY_KEY; pk <= OM_PRIMARY_KEY_WITH_PREFIX; pk++) {
        if (!f[pk])
            continue;
        rd c = {f[pk], fl[pk], 0};
        int pos = 0;
        while (rd_left(&c)) {
            uint64_t col, prefix;
            if (rd_packed(&c, &col) || col >= t->ncols ||
                (pk == OM_PRIMARY_KEY_WITH_PREFIX && rd_packed(&c, &prefix)))
                return -1;
            t->cols[col].key = ++pos;
        }
        t->has_keys = 1;
    }
    return 0;
}

static int dec_table_map(sl_mb_decoder *d, sl_mb_event *ev, char *err, size_t errlen)
{
    rd r = {ev->body, ev->body_len, 0};
    uint64_t id, fl, dbl, tbl, ncols, mlen;
    const uint8_t *db, *tn, *types, *meta, *nulls;
    unsigned idlen = d->post_len[SL_MB_TABLE_MAP] == 6 ? 4 : 6;
    if (rd_le(&r, idlen, &id) || rd_le(&r, 2, &fl) || rd_le(&r, 1, &dbl) ||
        rd_bytes(&r, (size_t)dbl + 1, &db) || rd_le(&r, 1, &tbl) ||
        rd_bytes(&r, (size_t)tbl + 1, &tn) || rd_packed(&r, &ncols) || ncols > 4096 ||
        rd_bytes(&r, (size_t)ncols, &types) || rd_packed(&r, &mlen) ||
        rd_bytes(&r, (size_t)mlen, &meta) || rd_bytes(&r, ((size_t)ncols + 7) / 8, &nulls))
        return fail(err, errlen, "TABLE_MAP event truncated or malformed at log_pos %u",
                    ev->h.log_pos);
    if (d->stmt_ended) { /* a new statement: the previous one's maps are done */
        tables_clear(d);
        d->stmt_ended = 0;
    }
    mb_table *mt = calloc(1, sizeof *mt);
    if (!mt)
        return fail(err, errlen, "out of memory");
    sl_mb_table *t = &mt->t;
    t->table_id = id;
    t->ncols = (uint32_t)ncols;
    t->db = tstrdup(mt, db, (size_t)dbl);
    t->name = tstrdup(mt, tn, (size_t)tbl);
    t->cols = talloc(mt, sizeof(sl_mb_column) * (size_t)(ncols ? ncols : 1));
    if (!t->db || !t->name || !t->cols) {
        table_free(mt);
        return fail(err, errlen, "out of memory");
    }
    size_t mo = 0;
    for (uint32_t i = 0; i < t->ncols; i++) {
        sl_mb_column *c = &t->cols[i];
        c->type = types[i];
        c->is_unsigned = -1;
        c->nullable = (nulls[i / 8] >> (i % 8)) & 1;
        unsigned mb = meta_bytes(c->type);
        uint8_t m[2] = {0, 0};
        if (mb > mlen - mo) {
            fail(err, errlen, "TABLE_MAP %s.%s: metadata too short for column %u", t->db, t->name,
                 i + 1);
            table_free(mt);
            return -1;
        }
        memcpy(m, meta + mo, mb);
        mo += mb;
        c->meta = (uint16_t)(m[0] | m[1] << 8);
        if (set_meta(c, m)) {
            fail(err, errlen, "TABLE_MAP %s.%s: bad metadata for column %u (type %u)", t->db,
                 t->name, i + 1, c->type);
            table_free(mt);
            return -1;
        }
    }
    if (mo != mlen || optional_meta(mt, r.p + r.off, rd_left(&r), d->mariadb)) {
        fail(err, errlen, "TABLE_MAP %s.%s: malformed %s", t->db, t->name,
             mo != mlen ? "column metadata" : "optional metadata");
        table_free(mt);
        return -1;
    }
    /* replace a map with the same id, else append */
    for (size_t i = 0; i < d->ntables; i++)
        if (d->tables[i]->t.table_id == id) {
            table_free(d->tables[i]);
            d->tables[i] = mt;
            ev->table = t;
            ev->table_id = id;
            return 0;
        }
    if (d->ntables >= MB_MAX_TABLES) {
        table_free(mt);
        return fail(err, errlen, "more than %d table maps in one statement", MB_MAX_TABLES);
    }
    if (d->ntables == d->tables_cap) {
        size_t cap = d->tables_cap ? d->tables_cap * 2 : 8;
        mb_table **nt = realloc(d->tables, cap * sizeof *nt);
        if (!nt) {
            table_free(mt);
            return fail(err, errlen, "out of memory");
        }
        d->tables = nt;
        d->tables_cap = cap;
    }
    d->tables[d->ntables++] = mt;
    ev->table = t;
    ev->table_id = id;
    return 0;
}

/* ---- rows events ---- */
static int rows_kind(uint8_t type, int *v2, int *compressed)
{
    *v2 = *compressed = 0;
    switch (type) {
    case SL_MB_WRITE_ROWS_V1:
        return SL_MB_ROWS_INSERT;
    case SL_MB_UPDATE_ROWS_V1:
        return SL_MB_ROWS_UPDATE;
    case SL_MB_DELETE_ROWS_V1:
        return SL_MB_ROWS_DELETE;
    default:
        break;
    }
    if (type >= SL_MB_WRITE_ROWS_V2 && type <= SL_MB_DELETE_ROWS_V2) {
        *v2 = 1;
        return type - SL_MB_WRITE_ROWS_V2 + 1;
    }
    if (type >= SL_MB_MARIA_WRITE_ROWS_COMPRESSED_V1 &&
        type <= SL_MB_MARIA_DELETE_ROWS_COMPRESSED_V1) {
        *compressed = 1;
        return type - SL_MB_MARIA_WRITE_ROWS_COMPRESSED_V1 + 1;
    }
    if (type >= SL_MB_MARIA_WRITE_ROWS_COMPRESSED && type <= SL_MB_MARIA_DELETE_ROWS_COMPRESSED) {
        *v2 = *compressed = 1;
        return type - SL_MB_MARIA_WRITE_ROWS_COMPRESSED + 1;
    }
    return 0;
}

static int dec_rows(sl_mb_decoder *d, sl_mb_event *ev, int kind, int v2, int compressed, char *err,
                    size_t errlen)
{
    rd r = {ev->body, ev->body_len, 0};
    uint64_t id, fl, ncols;
    unsigned idlen = d->post_len[ev->h.type] == 6 ? 4 : 6;
    if (rd_le(&r, idlen, &id) || rd_le(&r, 2, &fl))
        return fail(err, errlen, "rows event truncated at log_pos %u", ev->h.log_pos);
    if (v2) {
        uint64_t xl;
        const uint8_t *x;
        if (rd_le(&r, 2, &xl) || xl < 2 || rd_bytes(&r, (size_t)xl - 2, &x))
            return fail(err, errlen, "rows event truncated at log_pos %u", ev->h.log_pos);
    }
    ev->rows_kind = (sl_mb_rows_kind)kind;
    ev->table_id = id;
    ev->rows_flags = (uint16_t)fl;
    if (fl & SL_MB_ROWS_STMT_END)
        d->stmt_ended = 1;
    ev->table = sl_mb_table_get(d, id);
    if (!ev->table) {
        if (id == 0xFFFFFF) { /* the dummy event that only ends a statement */
            ev->rows = NULL;
            ev->rows_len = 0;
            return 0;
        }
        return fail(err, errlen, "rows event at log_pos %u for table id %llu without TABLE_MAP",
                    ev->h.log_pos, (unsigned long long)id);
    }
    const uint8_t *bm0, *bm1 = NULL;
    if (rd_packed(&r, &ncols) || ncols > 4096 || rd_bytes(&r, ((size_t)ncols + 7) / 8, &bm0) ||
        (kind == SL_MB_ROWS_UPDATE && rd_bytes(&r, ((size_t)ncols + 7) / 8, &bm1)))
        return fail(err, errlen, "rows event truncated at log_pos %u", ev->h.log_pos);
    if (ncols != ev->table->ncols)
        return fail(err, errlen, "rows event for %s.%s has %llu columns, its TABLE_MAP %u",
                    ev->table->db, ev->table->name, (unsigned long long)ncols, ev->table->ncols);
    ev->ncols = (uint32_t)ncols;
    ev->present[0] = bm0;
    ev->present[1] = bm1;
    if (compressed) {
        if (maria_uncompress(d, r.p + r.off, rd_left(&r), err, errlen))
            return -1;
        ev->rows = (const uint8_t *)d->unc.p;
        ev->rows_len = d->unc.len;
    } else {
        ev->rows = r.p + r.off;
        ev->rows_len = rd_left(&r);
    }
    ev->rows_off = 0;
    return 0;
}

/* Row cells of converted text are written to d->row and fixed up after the row (it may move). */
static int cell_text(sl_mb_decoder *d, size_t ci, sl_mb_cell *c, size_t start)
{
    c->p = NULL;
    c->i64 = (int64_t)start;
    c->len = d->row.len - start;
    d->in_arena[ci] = 1;
    return 0;
}

#define CELLFAIL(...) fail(err, errlen, __VA_ARGS__)

static int decode_cell(sl_mb_decoder *d, const sl_mb_table *t, uint32_t ci, size_t slot, rd *r,
                       sl_mb_cell *c, char *err, size_t errlen)
{
    const sl_mb_column *col = &t->cols[ci];
    const char *cn = col->name ? col->name : "?";
    const uint8_t *p;
    uint64_t v;
    c->type = sl_mb_column_type(col, NULL, NULL);
    c->state = SL_CELL_VALUE;
#define NEED(k)                                                                                    \
    do {                                                                                           \
        if (rd_bytes(r, (k), &p))                                                                  \
            return CELLFAIL("%s.%s column %u (%s): row data truncated", t->db, t->name, ci + 1,    \
                            cn);                                                                   \
    } while (0)
    switch (col->real_type) {
    case SL_MB_T_TINY:
    case SL_MB_T_SHORT:
    case SL_MB_T_INT24:
    case SL_MB_T_LONG:
    case SL_MB_T_LONGLONG: {
        unsigned k = col->real_type == SL_MB_T_TINY    ? 1
                     : col->real_type == SL_MB_T_SHORT ? 2
                     : col->real_type == SL_MB_T_INT24 ? 3
                     : col->real_type == SL_MB_T_LONG  ? 4
                                                       : 8;
        NEED(k);
        v = le(p, k);
        c->i64 = col->is_unsigned == 1 ? (int64_t)v : sext(v, k);
        return 0;
    }
    case SL_MB_T_YEAR:
        NEED(1);
        c->i64 = p[0] ? 1900 + p[0] : 0;
        return 0;
    case SL_MB_T_FLOAT: {
        NEED(4);
        uint32_t bits = (uint32_t)le(p, 4);
        float f;
        memcpy(&f, &bits, 4);
        c->f64 = f;
        return 0;
    }
    case SL_MB_T_DOUBLE: {
        NEED(8);
        uint64_t bits = le(p, 8);
        memcpy(&c->f64, &bits, 8);
        return 0;
    }
    case SL_MB_T_NEWDECIMAL: {
        int sz = sl_mb_decimal_size(col->precision, col->scale);
        NEED((size_t)sz);
        size_t start = d->row.len;
        if (sb_reserve(&d->row, 72))
            return CELLFAIL("out of memory");
        int n =
            sl_mb_decimal_to_text(p, (size_t)sz, col->precision, col->scale, d->row.p + start, 72);
        if (n < 0)
            return CELLFAIL("%s.%s column %u (%s): malformed DECIMAL(%u,%u)", t->db, t->name,
                            ci + 1, cn, col->precision, col->scale);
        d->row.len += (size_t)n;
        return cell_text(d, slot, c, start);
    }
    case SL_MB_T_BIT: {
        unsigned k = (col->max_len + 7) / 8;
        NEED(k);
        c->i64 = (int64_t)be(p, k);
        return 0;
    }
    case SL_MB_T_DATE:
    case SL_MB_T_NEWDATE: {
        NEED(3);
        v = le(p, 3);
        unsigned dd = v & 31, mm = v >> 5 & 15;
        int64_t yy = (int64_t)(v >> 9);
        if (!valid_date(yy, mm, dd)) {
            c->state = SL_CELL_NULL;
            c->invalid = 1;
            return 0;
        }
        c->i64 = sl_mb_days_from_civil(yy, mm, dd);
        return 0;
    }
    case SL_MB_T_TIME: { /* old format: signed HHMMSS */
        NEED(3);
        int64_t x = sext(le(p, 3), 3);
        int neg = x < 0;
        if (neg)
            x = -x;
        int64_t us = ((x / 10000) * 3600 + (x / 100 % 100) * 60 + x % 100) * 1000000;
        c->i64 = neg ? -us : us;
        return 0;
    }
    case SL_MB_T_TIME2: {
        unsigned fb = frac_bytes(col->fsp);
        NEED(3 + fb);
        int64_t packed;
        int64_t ip = (int64_t)be(p, 3) - 0x800000;
        if (fb == 0) {
            packed = ip * (INT64_C(1) << 24);
        } else if (fb == 1) {
            /* The fraction byte is unsigned (MySQL's my_time_packed_from_binary); a negative
             * time borrows one second from the integer part. */
            int64_t fr = p[3];
            if (ip < 0 && fr) {
                ip++;
                fr -= 0x100;
            }
            packed = ip * (INT64_C(1) << 24) + fr * 10000;
        } else if (fb == 2) {
            int64_t fr = (int64_t)be(p + 3, 2);
            if (ip < 0 && fr) {
                ip++;
                fr -= 0x10000;
            }
            packed = ip * (INT64_C(1) << 24) + fr * 100;
        } else {
            packed = (int64_t)be(p, 6) - INT64_C(0x800000000000);
        }
        int neg = packed < 0;
        uint64_t a = neg ? (uint64_t)0 - (uint64_t)packed : (uint64_t)packed;
        uint64_t hms = a >> 24, frac = a % (1u << 24);
        if (frac > 999999)
            return CELLFAIL("%s.%s column %u (%s): malformed TIME", t->db, t->name, ci + 1, cn);
        int64_t us =
            (int64_t)(((hms >> 12) % 1024) * 3600 + ((hms >> 6) % 64) * 60 + hms % 64) * 1000000 +
            (int64_t)frac;
        c->i64 = neg ? -us : us;
        return 0;
    }
    case SL_MB_T_DATETIME: { /* old format: YYYYMMDDhhmmss as an integer */
        NEED(8);
        uint64_t x = le(p, 8);
        uint64_t dt = x / 1000000, tm = x % 1000000;
        int64_t yy = (int64_t)(dt / 10000);
        unsigned mm = (unsigned)(dt / 100 % 100), dd = (unsigned)(dt % 100);
        if (!valid_date(yy, mm, dd)) {
            c->state = SL_CELL_NULL;
            c->invalid = 1;
            return 0;
        }
        c->i64 = (sl_mb_days_from_civil(yy, mm, dd) * 86400 + (int64_t)(tm / 10000) * 3600 +
                  (int64_t)(tm / 100 % 100) * 60 + (int64_t)(tm % 100)) *
                 1000000;
        return 0;
    }
    case SL_MB_T_DATETIME2: {
        unsigned fb = frac_bytes(col->fsp);
        NEED(5 + fb);
        int64_t ip = (int64_t)be(p, 5) - INT64_C(0x8000000000);
        int64_t fr = fb == 0   ? 0
                     : fb == 1 ? p[5] * 10000
                     : fb == 2 ? (int64_t)be(p + 5, 2) * 100
                               : (int64_t)be(p + 5, 3);
        if (ip < 0 || fr > 999999) {
            c->state = SL_CELL_NULL;
            c->invalid = 1;
            return 0;
        }
        uint64_t ymd = (uint64_t)ip >> 17, hms = (uint64_t)ip & 0x1FFFF;
        int64_t yy = (int64_t)((ymd >> 5) / 13);
        unsigned mm = (unsigned)((ymd >> 5) % 13), dd = (unsigned)(ymd & 31);
        unsigned hh = (unsigned)(hms >> 12), mi = (unsigned)(hms >> 6 & 63),
                 ss = (unsigned)(hms & 63);
        if (!valid_date(yy, mm, dd) || hh > 23 || mi > 59 || ss > 59) {
            c->state = SL_CELL_NULL;
            c->invalid = 1;
            return 0;
        }
        c->i64 =
            (sl_mb_days_from_civil(yy, mm, dd) * 86400 + hh * 3600 + mi * 60 + ss) * 1000000 + fr;
        return 0;
    }
    case SL_MB_T_TIMESTAMP:
        NEED(4);
        v = le(p, 4);
        if (v == 0) {
            c->state = SL_CELL_NULL;
            c->invalid = 1;
            return 0;
        }
        c->i64 = (int64_t)v * 1000000;
        return 0;
    case SL_MB_T_TIMESTAMP2: {
        unsigned fb = frac_bytes(col->fsp);
        NEED(4 + fb);
        v = be(p, 4);
        int64_t fr = fb == 0   ? 0
                     : fb == 1 ? p[4] * 10000
                     : fb == 2 ? (int64_t)be(p + 4, 2) * 100
                               : (int64_t)be(p + 4, 3);
        if (fr > 999999)
            return CELLFAIL("%s.%s column %u (%s): malformed TIMESTAMP", t->db, t->name, ci + 1,
                            cn);
        if (v == 0 && fr == 0) {
            c->state = SL_CELL_NULL;
            c->invalid = 1;
            return 0;
        }
        c->i64 = (int64_t)v * 1000000 + fr;
        return 0;
    }
    case SL_MB_T_ENUM:
    case SL_MB_T_SET: {
        unsigned k = col->max_len;
        NEED(k);
        v = le(p, k);
        if (!col->values) {
            c->i64 = (int64_t)v;
            return 0;
        }
        size_t start = d->row.len;
        if (sb_reserve(&d->row, 1))
            return CELLFAIL("out of memory");
        if (col->real_type == SL_MB_T_ENUM) {
            if (v > col->nvalues)
                return CELLFAIL("%s.%s column %u (%s): ENUM index %llu of %u values", t->db,
                                t->name, ci + 1, cn, (unsigned long long)v, col->nvalues);
            if (v && sb_str(&d->row, col->values[v - 1]))
                return CELLFAIL("out of memory");
        } else {
            int first = 1;
            for (unsigned b = 0; b < 64; b++) {
                if (!(v >> b & 1))
                    continue;
                if (b >= col->nvalues)
                    return CELLFAIL("%s.%s column %u (%s): SET bit %u of %u values", t->db, t->name,
                                    ci + 1, cn, b + 1, col->nvalues);
                if ((!first && sb_str(&d->row, ",")) || sb_str(&d->row, col->values[b]))
                    return CELLFAIL("out of memory");
                first = 0;
            }
        }
        return cell_text(d, slot, c, start);
    }
    case SL_MB_T_STRING:
    case SL_MB_T_VARCHAR:
    case SL_MB_T_VAR_STRING:
    case SL_MB_T_TINY_BLOB:
    case SL_MB_T_MEDIUM_BLOB:
    case SL_MB_T_LONG_BLOB:
    case SL_MB_T_BLOB:
    case SL_MB_T_JSON:
    case SL_MB_T_GEOMETRY: {
        unsigned k;
        if (col->real_type == SL_MB_T_STRING || col->real_type == SL_MB_T_VARCHAR ||
            col->real_type == SL_MB_T_VAR_STRING)
            k = col->max_len < 256 ? 1 : 2;
        else
            k = col->max_len;
        uint64_t len;
        if (rd_le(r, k, &len))
            return CELLFAIL("%s.%s column %u (%s): row data truncated", t->db, t->name, ci + 1, cn);
        NEED((size_t)len);
        if (col->real_type == SL_MB_T_JSON) {
            size_t start = d->row.len;
            if (sb_reserve(&d->row, 1))
                return CELLFAIL("out of memory");
            if (json_doc(&d->row, p, (size_t)len))
                return CELLFAIL("%s.%s column %u (%s): malformed binary JSON", t->db, t->name,
                                ci + 1, cn);
            return cell_text(d, slot, c, start);
        }
        if (col->real_type == SL_MB_T_GEOMETRY) {
            static const char hx[] = "0123456789ABCDEF";
            size_t start = d->row.len;
            if (sb_reserve(&d->row, (size_t)len * 2 + 1))
                return CELLFAIL("out of memory");
            for (uint64_t i = 0; i < len; i++) {
                d->row.p[d->row.len++] = hx[p[i] >> 4];
                d->row.p[d->row.len++] = hx[p[i] & 15];
            }
            return cell_text(d, slot, c, start);
        }
        int cls = sl_mb_collation_class(col->collation);
        if (col->collation && cls == 0)
            return CELLFAIL("%s.%s column %u (%s): character set of collation %u is not "
                            "supported (use utf8mb4, utf8mb3, latin1, ascii or binary)",
                            t->db, t->name, ci + 1, cn, col->collation);
        if (cls == 2) {
            size_t start = d->row.len;
            if (latin1_to_utf8(&d->row, p, (size_t)len))
                return CELLFAIL("out of memory");
            return cell_text(d, slot, c, start);
        }
        if (cls == 3 && col->real_type == SL_MB_T_STRING && len < col->max_len) {
            /* BINARY(n) is logged without its trailing 0x00 pad; SELECT returns n bytes */
            size_t start = d->row.len;
            if (sb_reserve(&d->row, col->max_len + 1))
                return CELLFAIL("out of memory");
            memcpy(d->row.p + start, p, (size_t)len);
            memset(d->row.p + start + len, 0, col->max_len - (size_t)len);
            d->row.len += col->max_len;
            return cell_text(d, slot, c, start);
        }
        c->p = (const char *)p;
        c->len = (size_t)len;
        return 0;
    }
    case SL_MB_T_NULL:
        c->state = SL_CELL_NULL;
        return 0;
    default:
        return CELLFAIL("%s.%s column %u (%s): column type %u is not supported", t->db, t->name,
                        ci + 1, cn, col->type);
    }
#undef NEED
}

static int decode_image(sl_mb_decoder *d, sl_mb_event *ev, const uint8_t *present, size_t base,
                        rd *r, char *err, size_t errlen)
{
    const sl_mb_table *t = ev->table;
    uint32_t n = ev->ncols, np = 0;
    for (uint32_t i = 0; i < n; i++)
        np += (present[i / 8] >> (i % 8)) & 1;
    const uint8_t *nulls;
    if (rd_bytes(r, (np + 7) / 8, &nulls))
        return fail(err, errlen, "%s.%s: row image truncated (null bitmap)", t->db, t->name);
    uint32_t j = 0;
    for (uint32_t i = 0; i < n; i++) {
        sl_mb_cell *c = &d->cells[base + i];
        memset(c, 0, sizeof *c);
        c->type = sl_mb_column_type(&t->cols[i], NULL, NULL);
        if (!((present[i / 8] >> (i % 8)) & 1)) {
            c->state = SL_MB_CELL_ABSENT;
            continue;
        }
        int isnull = (nulls[j / 8] >> (j % 8)) & 1;
        j++;
        if (isnull) {
            c->state = SL_CELL_NULL;
            continue;
        }
        if (decode_cell(d, t, i, base + i, r, c, err, errlen))
            return -1;
    }
    return 0;
}

int sl_mb_rows_next(sl_mb_decoder *d, sl_mb_event *ev, const sl_mb_cell **before,
                    const sl_mb_cell **after, char *err, size_t errlen)
{
    *before = *after = NULL;
    if (!ev->table || !ev->rows_kind || ev->rows_off >= ev->rows_len)
        return 0;
    size_t n = ev->ncols;
    if (n > d->cells_cap) {
        sl_mb_cell *c = realloc(d->cells, 2 * n * sizeof *c);
        if (!c)
            return fail(err, errlen, "out of memory");
        d->cells = c;
        uint8_t *a = realloc(d->in_arena, 2 * n);
        if (!a)
            return fail(err, errlen, "out of memory");
        d->in_arena = a;
        d->cells_cap = n;
    }
    memset(d->in_arena, 0, 2 * n);
    d->row.len = 0;
    rd r = {ev->rows, ev->rows_len, ev->rows_off};
    if (decode_image(d, ev, ev->present[0], 0, &r, err, errlen))
        return -1;
    if (ev->rows_kind == SL_MB_ROWS_UPDATE &&
        decode_image(d, ev, ev->present[1], n, &r, err, errlen))
        return -1;
    if (r.off == ev->rows_off) /* an empty image would never reach the end of the event */
        return fail(err, errlen, "%s.%s: rows event at log_pos %u has an empty row image",
                    ev->table->db, ev->table->name, ev->h.log_pos);
    ev->rows_off = r.off;
    size_t used = ev->rows_kind == SL_MB_ROWS_UPDATE ? 2 * n : n;
    for (size_t i = 0; i < used; i++)
        if (d->in_arena[i]) {
            d->cells[i].p = d->row.p + d->cells[i].i64;
            d->cells[i].i64 = 0;
        }
    if (ev->rows_kind == SL_MB_ROWS_INSERT)
        *after = d->cells;
    else if (ev->rows_kind == SL_MB_ROWS_DELETE)
        *before = d->cells;
    else {
        *before = d->cells;
        *after = d->cells + n;
    }
    return 1;
}

/* ---- TRANSACTION_PAYLOAD ---- */
static int dec_payload(sl_mb_decoder *d, sl_mb_event *ev, char *err, size_t errlen)
{
    rd r = {ev->body, ev->body_len, 0};
    uint64_t psize = 0, usize = 0, comp = 255;
    int have_size = 0, have_comp = 0;
    for (;;) {
        uint64_t type, len;
        if (rd_packed(&r, &type))
            return fail(err, errlen, "TRANSACTION_PAYLOAD header truncated at log_pos %u",
                        ev->h.log_pos);
        if (type == 0)
            break;
        if (rd_packed(&r, &len) || len > rd_left(&r))
            return fail(err, errlen, "TRANSACTION_PAYLOAD header truncated at log_pos %u",
                        ev->h.log_pos);
        rd f = {r.p + r.off, (size_t)len, 0};
        r.off += (size_t)len;
        uint64_t val = 0;
        if (type <= 3 && rd_packed(&f, &val))
            return fail(err, errlen, "TRANSACTION_PAYLOAD field %llu malformed",
                        (unsigned long long)type);
        if (type == 1) {
            psize = val;
            have_size = 1;
        } else if (type == 2) {
            comp = val;
            have_comp = 1;
        } else if (type == 3) {
            usize = val;
        }
    }
    if (!have_size || !have_comp || psize != rd_left(&r))
        return fail(err, errlen,
                    "TRANSACTION_PAYLOAD at log_pos %u: missing size/compression or payload "
                    "size %llu does not match the %zu bytes present",
                    ev->h.log_pos, (unsigned long long)psize, rd_left(&r));
    ev->payload_size = psize;
    ev->uncompressed_size = usize;
    ev->compression = (int)comp;
    const uint8_t *src = r.p + r.off;
    d->pay.len = 0;
    d->pay_off = 0;
    if (comp == 255) {
        if (psize > d->max_unc || sb_put(&d->pay, src, (size_t)psize))
            return fail(err, errlen, "TRANSACTION_PAYLOAD too large or out of memory");
        return 0;
    }
    if (comp != 0)
        return fail(err, errlen, "TRANSACTION_PAYLOAD compression type %llu is not supported",
                    (unsigned long long)comp);
    unsigned long long fs = ZSTD_getFrameContentSize(src, (size_t)psize);
    if (fs == ZSTD_CONTENTSIZE_ERROR)
        return fail(err, errlen, "TRANSACTION_PAYLOAD: not a zstd frame");
    if (fs == ZSTD_CONTENTSIZE_UNKNOWN)
        fs = usize;
    if (fs > d->max_unc || (usize && fs != usize))
        return fail(err, errlen,
                    "TRANSACTION_PAYLOAD: uncompressed size %llu (declared %llu) over the limit "
                    "or inconsistent",
                    fs, (unsigned long long)usize);
    if (sb_reserve(&d->pay, (size_t)fs + 1))
        return fail(err, errlen, "out of memory");
    size_t got = ZSTD_decompress(d->pay.p, (size_t)fs, src, (size_t)psize);
    if (ZSTD_isError(got) || got != fs)
        return fail(err, errlen, "TRANSACTION_PAYLOAD: zstd: %s",
                    ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short output");
    d->pay.len = got;
    return 0;
}

int sl_mb_payload_next(sl_mb_decoder *d, const uint8_t **buf, size_t *len, char *err, size_t errlen)
{
    if (d->pay_off >= d->pay.len)
        return 0;
    const uint8_t *p = (const uint8_t *)d->pay.p + d->pay_off;
    size_t left = d->pay.len - d->pay_off;
    sl_mb_header h;
    if (sl_mb_header_parse(p, left, &h, err, errlen))
        return -1;
    *buf = p;
    *len = h.event_size;
    d->pay_off += h.event_size;
    return 1;
}

/* ---- the entry point ---- */
int sl_mb_decode(sl_mb_decoder *d, const uint8_t *buf, size_t len, sl_mb_event *ev, char *err,
                 size_t errlen)
{
    memset(ev, 0, sizeof *ev);
    d->txt.len = 0;
    if (sl_mb_header_parse(buf, len, &ev->h, err, errlen))
        return -1;
    if (ev->h.event_size != len)
        return fail(err, errlen, "binlog event type %u at log_pos %u: event_size %u but %zu bytes",
                    ev->h.type, ev->h.log_pos, ev->h.event_size, len);
    /* inner events of a TRANSACTION_PAYLOAD carry no checksum */
    int inner = d->pay.len && buf >= (const uint8_t *)d->pay.p &&
                buf < (const uint8_t *)d->pay.p + d->pay.len;
    ev->body = buf + SL_MB_HEADER_LEN;
    ev->body_len = len - SL_MB_HEADER_LEN;
    uint8_t type = ev->h.type;
    if (type != SL_MB_FORMAT_DESCRIPTION && d->crc && !inner) {
        if (ev->body_len < 4)
            return fail(err, errlen,
                        "binlog event type %u at log_pos %u too short for its checksum", type,
                        ev->h.log_pos);
        uint32_t want = (uint32_t)le(buf + len - 4, 4);
        uint32_t got = (uint32_t)crc32(0L, buf, (uInt)(len - 4));
        if (want != got)
            return fail(err, errlen,
                        "binlog checksum mismatch in event type %u at log_pos %u (stored %08x, "
                        "computed %08x)",
                        type, ev->h.log_pos, want, got);
        ev->body_len -= 4;
        ev->checksum_checked = 1;
    }
    size_t o1 = SIZE_MAX, o2 = SIZE_MAX;
    int rc = 0;
    switch (type) {
    case SL_MB_FORMAT_DESCRIPTION:
        if (inner)
            return fail(err, errlen, "FORMAT_DESCRIPTION inside a TRANSACTION_PAYLOAD");
        rc = dec_fde(d, ev, &o1, err, errlen);
        break;
    case SL_MB_ROTATE: {
        rd r = {ev->body, ev->body_len, 0};
        if (rd_le(&r, 8, &ev->pos))
            return fail(err, errlen, "ROTATE event truncated");
        rc = txt_add(d, r.p + r.off, rd_left(&r), &o1) ? fail(err, errlen, "out of memory") : 0;
        break;
    }
    case SL_MB_HEARTBEAT:
        ev->pos = ev->h.log_pos;
        rc = txt_add(d, ev->body, ev->body_len, &o1) ? fail(err, errlen, "out of memory") : 0;
        break;
    case SL_MB_HEARTBEAT_V2: { /* MySQL 8.0.26+: fields (type, length, value), 0 ends */
        rd r = {ev->body, ev->body_len, 0};
        const uint8_t *fname = NULL;
        size_t flen = 0;
        uint64_t ft, fl;
        while (rd_left(&r) && rd_packed(&r, &ft) == 0 && ft != 0) {
            const uint8_t *v;
            if (rd_packed(&r, &fl) || rd_bytes(&r, (size_t)fl, &v))
                return fail(err, errlen, "HEARTBEAT_V2 event malformed");
            if (ft == 1) {
                fname = v;
                flen = (size_t)fl;
            } else if (ft == 2) {
                rd f = {v, (size_t)fl, 0};
                if (rd_packed(&f, &ev->pos))
                    return fail(err, errlen, "HEARTBEAT_V2 event: bad position");
            }
        }
        rc = txt_add(d, fname ? fname : (const uint8_t *)"", flen, &o1)
                 ? fail(err, errlen, "out of memory")
                 : 0;
        break;
    }
    case SL_MB_XID:
        if (ev->body_len < 8)
            return fail(err, errlen, "XID event truncated at log_pos %u", ev->h.log_pos);
        ev->xid = le(ev->body, 8);
        break;
    case SL_MB_QUERY:
    case SL_MB_MARIA_QUERY_COMPRESSED:
        rc = dec_query(d, ev, &o1, &o2, err, errlen);
        break;
    case SL_MB_MYSQL_GTID:
    case SL_MB_MYSQL_ANONYMOUS_GTID:
        rc = dec_mysql_gtid(ev, err, errlen);
        break;
    case SL_MB_MARIA_GTID:
        rc = dec_maria_gtid(ev, err, errlen);
        break;
    case SL_MB_MARIA_GTID_LIST: {
        if (ev->body_len < 4)
            return fail(err, errlen, "GTID_LIST event truncated at log_pos %u", ev->h.log_pos);
        uint32_t cnt = (uint32_t)le(ev->body, 4) & 0x0FFFFFFF; /* top 4 bits are flags */
        if ((ev->body_len - 4) / 16 < cnt)
            return fail(err, errlen, "GTID_LIST event truncated at log_pos %u", ev->h.log_pos);
        ev->n_gtids = cnt;
        break;
    }
    case SL_MB_TABLE_MAP:
        rc = dec_table_map(d, ev, err, errlen);
        break;
    case SL_MB_TRANSACTION_PAYLOAD:
        if (inner)
            return fail(err, errlen, "TRANSACTION_PAYLOAD nested in another");
        rc = dec_payload(d, ev, err, errlen);
        break;
    case SL_MB_PARTIAL_UPDATE_ROWS:
        return fail(err, errlen,
                    "PARTIAL_UPDATE_ROWS event (binlog_row_value_options=PARTIAL_JSON) is not "
                    "supported: set binlog_row_value_options=''");
    default: {
        int v2, comp, kind = rows_kind(type, &v2, &comp);
        if (kind)
            rc = dec_rows(d, ev, kind, v2, comp, err, errlen);
        break;
    }
    }
    if (rc)
        return -1;
    if (type == SL_MB_FORMAT_DESCRIPTION)
        ev->server_version = d->txt.p + o1;
    else if (type == SL_MB_ROTATE || type == SL_MB_HEARTBEAT || type == SL_MB_HEARTBEAT_V2)
        ev->file = d->txt.p + o1;
    else if (type == SL_MB_QUERY || type == SL_MB_MARIA_QUERY_COMPRESSED) {
        ev->db = d->txt.p + o1;
        ev->query = d->txt.p + o2;
    }
    return 0;
}
