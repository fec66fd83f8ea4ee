/* QVD writer: per-field de-duplicated symbol tables (hash table over the serialized symbol bytes,
 * which are exactly what the file holds) and per-field bit-packed row indices at the narrowest
 * width so far. Nothing is kept per cell beyond those bits, so memory stays close to the size of
 * the final file. finish() streams header, symbol tables and the record table. */
#include "qvd_internal.h"
#include "qvd_xml.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SL_QVD_BUILD_NO "50689" /* newest Qlik Sense build in our samples; readers only echo it */
#define OUTBUF          (1u << 16)

typedef struct wfield {
    char *name;
    sl_type type;
    int key;
    /* symbols, serialized as in the file */
    unsigned char *sym;
    size_t symlen, symcap;
    uint64_t nsym;
    uint32_t fixlen; /* common symbol length while all are equal (offs == NULL) */
    uint64_t *offs;  /* start of each symbol once lengths differ */
    size_t offcap;
    uint64_t *slots; /* hash table: hash tag << 32 | (symbol index + 1), 0 = empty */
    size_t nslots;
    /* row indices: symbol + 1 (0 = NULL), `width` bits each, packed LSB-first in 64-bit words */
    uint64_t *bits;
    size_t nwords;
    unsigned width;
    int has_null;
    /* facts for Tags */
    int nonintegral, nonascii;
    int mixed; /* a field of a numeric type holds a text symbol (Qlik then writes no tags) */
    /* number -> symbol, for the numbers another value of the field could share (docs/qvd-types.md,
     * "One number, one symbol"): hash tag << 32 | (symbol index + 1), 0 = empty */
    uint64_t *nums;
    size_t nnums, nnum_used;
    double last_num;      /* sorted mode: the number of the latest value (rounding is monotonic) */
    const sl_field *meta; /* the source's field metadata, or NULL */
    /* Sorted mode: while an integer-backed column (INT64, DATE, TIME, TIMESTAMP[TZ]) only grows,
     * every value is a new symbol (their encodings are injective), so no hash table is kept
     * at all. Keys arrive sorted from the table state: this saves the largest hash tables. */
    int sorted;
    int64_t last;
} wfield;

struct sl_qvd_writer {
    char *table_name, *creator_doc, *comment, *lineage;
    int64_t create_time_us;
    int tz_offset_minutes;
    size_t ncols;
    wfield *f;
    uint64_t nrows, rowcap;
    int broken;
    unsigned char *tmp; /* the current row's encoded symbols, end to end */
    size_t tmpcap, tmppos;
    size_t *enc_off, *enc_len; /* per column: where its symbol is in tmp (len 0 = NULL) */
    unsigned char *enc_new;    /* per column: known new (sorted mode), no lookup needed */
    uint64_t *enc_hash;
    char err[256];
};

static void werr(sl_qvd_writer *w, const char *fmt, ...) SL_PRINTF(2, 3);
static void werr(sl_qvd_writer *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof w->err, fmt, ap);
    va_end(ap);
    /* names from files may hold CR/LF: keep the message on one line */
    for (char *c = w->err; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = '?';
}

static char *dupz(const char *s)
{
    return s ? strdup(s) : calloc(1, 1);
}

/* Two columns whose names the header would hold alike (the same name, or names that differ
 * only in characters XML cannot hold) would make fields Qlik cannot tell apart: refused. */
static int check_names(sl_qvd_writer *w)
{
    char **clean = calloc(w->ncols, sizeof *clean);
    int rc = clean ? 0 : -1;
    for (size_t c = 0; c < w->ncols && rc == 0; c++)
        if (!(clean[c] = sl_qvd_header_text(w->f[c].name)))
            rc = -1;
    if (rc != 0)
        werr(w, "out of memory writing the QVD table");
    for (size_t a = 0; a < w->ncols && rc == 0; a++)
        for (size_t b = a + 1; b < w->ncols && rc == 0; b++)
            if (strcmp(clean[a], clean[b]) == 0) {
                werr(w,
                     "columns %zu and %zu are both named \"%s\" in the QVD header (characters "
                     "XML cannot hold become U+FFFD)",
                     a + 1, b + 1, clean[a]);
                rc = -1;
            }
    for (size_t c = 0; clean && c < w->ncols; c++)
        free(clean[c]);
    free(clean);
    return rc;
}

sl_qvd_writer *sl_qvd_writer_new(const sl_qvd_write_opts *opts, size_t ncols,
                                 const sl_qvd_column_spec *cols)
{
    if (!opts || ncols == 0 || !cols)
        return NULL;
    sl_qvd_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->table_name = dupz(opts->table_name);
    w->creator_doc = dupz(opts->creator_doc);
    w->comment = dupz(opts->comment);
    w->lineage = opts->lineage ? strdup(opts->lineage) : NULL;
    w->create_time_us = opts->create_time_us;
    w->tz_offset_minutes = opts->tz_offset_minutes;
    w->ncols = ncols;
    w->f = calloc(ncols, sizeof *w->f);
    w->enc_off = calloc(ncols, sizeof *w->enc_off);
    w->enc_len = calloc(ncols, sizeof *w->enc_len);
    w->enc_hash = calloc(ncols, sizeof *w->enc_hash);
    w->enc_new = calloc(ncols, 1);
    if (!w->enc_new || !w->enc_off || !w->enc_len || !w->enc_hash || !w->table_name ||
        !w->creator_doc || !w->comment || (opts->lineage && !w->lineage) || !w->f) {
        sl_qvd_writer_free(w);
        return NULL;
    }
    for (size_t c = 0; c < ncols; c++) {
        w->f[c].name = dupz(cols[c].name);
        w->f[c].type = cols[c].type;
        w->f[c].key = cols[c].key;
        w->f[c].meta = opts->fields ? &opts->fields[c] : NULL;
        w->f[c].sorted = cols[c].type == SL_T_INT64 || cols[c].type == SL_T_DATE ||
                         cols[c].type == SL_T_TIME || cols[c].type == SL_T_TIMESTAMP ||
                         cols[c].type == SL_T_TIMESTAMPTZ;
        if (!w->f[c].name) {
            sl_qvd_writer_free(w);
            return NULL;
        }
        if (cols[c].type < SL_T_INT64 || cols[c].type > SL_T_TIMESTAMPOFF) {
            werr(w, "column %s: unknown type %d", w->f[c].name, (int)cols[c].type);
            w->broken = 1;
        }
    }
    if (!w->broken && check_names(w) != 0)
        w->broken = 1;
    return w;
}

void sl_qvd_writer_free(sl_qvd_writer *w)
{
    if (!w)
        return;
    for (size_t c = 0; w->f && c < w->ncols; c++) {
        wfield *f = &w->f[c];
        free(f->name);
        free(f->sym);
        free(f->offs);
        free(f->slots);
        free(f->nums);
        free(f->bits);
    }
    free(w->f);
    free(w->table_name);
    free(w->creator_doc);
    free(w->comment);
    free(w->lineage);
    free(w->tmp);
    free(w->enc_off);
    free(w->enc_len);
    free(w->enc_hash);
    free(w->enc_new);
    free(w);
}

const char *sl_qvd_writer_error(const sl_qvd_writer *w)
{
    return w ? w->err : "out of memory";
}

uint64_t sl_qvd_writer_rows(const sl_qvd_writer *w)
{
    return w->nrows;
}

size_t sl_qvd_writer_mem(const sl_qvd_writer *w)
{
    size_t m = sizeof *w + w->tmpcap;
    for (size_t c = 0; c < w->ncols; c++) {
        const wfield *f = &w->f[c];
        m += sizeof *f + f->symcap + f->offcap * 8 + f->nslots * 8 + f->nnums * 8 + f->nwords * 8;
    }
    return m;
}

/* ---- symbol encoding ---- */

/* Room for n more bytes at w->tmppos (a row's encoded symbols are laid end to end). */
static int tmp_reserve(sl_qvd_writer *w, size_t n)
{
    if (n > SIZE_MAX / 4 - w->tmppos)
        return -1;
    n += w->tmppos;
    if (n <= w->tmpcap)
        return 0;
    size_t c = w->tmpcap ? w->tmpcap : 256;
    while (c < n)
        c *= 2;
    unsigned char *t = realloc(w->tmp, c);
    if (!t)
        return -1;
    w->tmp = t;
    w->tmpcap = c;
    return 0;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Symbol with a number part and optional text (text == NULL: pure number). */
static size_t enc_num(sl_qvd_writer *w, int is_int, int32_t i, double d, const char *text,
                      size_t tlen)
{
    size_t n = 1 + (is_int ? 4 : 8) + (text ? tlen + 1 : 0);
    if (tmp_reserve(w, n) != 0)
        return 0;
    unsigned char *p = w->tmp + w->tmppos;
    if (is_int) {
        p[0] = text ? SL_QVD_SYM_DUAL_INT : SL_QVD_SYM_INT;
        put_le32(p + 1, (uint32_t)i);
    } else {
        uint64_t b;
        memcpy(&b, &d, 8);
        p[0] = text ? SL_QVD_SYM_DUAL_DOUBLE : SL_QVD_SYM_DOUBLE;
        put_le64(p + 1, b);
    }
    if (text) {
        memcpy(p + 1 + (is_int ? 4 : 8), text, tlen);
        p[n - 1] = 0;
    }
    return n;
}

static size_t enc_str(sl_qvd_writer *w, const char *s, size_t len)
{
    if (tmp_reserve(w, len + 2) != 0)
        return 0;
    unsigned char *p = w->tmp + w->tmppos;
    p[0] = SL_QVD_SYM_STRING;
    memcpy(p + 1, s, len);
    p[len + 1] = 0;
    return len + 2;
}

static size_t enc_hex(sl_qvd_writer *w, const char *s, size_t len)
{
    static const char hx[] = "0123456789abcdef";
    if (len > (SIZE_MAX - 8) / 4 || tmp_reserve(w, 2 * len + 4) != 0)
        return 0;
    unsigned char *p = w->tmp + w->tmppos;
    p[0] = SL_QVD_SYM_STRING;
    p[1] = '\\';
    p[2] = 'x';
    for (size_t k = 0; k < len; k++) {
        p[3 + 2 * k] = (unsigned char)hx[(unsigned char)s[k] >> 4];
        p[4 + 2 * k] = (unsigned char)hx[(unsigned char)s[k] & 15];
    }
    p[3 + 2 * len] = 0;
    return 2 * len + 4;
}

static int fits_i32(double d)
{
    return d >= -2147483648.0 && d <= 2147483647.0 && d == floor(d);
}

/* Qlik serial (days since 1899-12-30 plus the fraction of the day) of a microsecond timestamp. */
static double serial_of(int64_t us)
{
    int64_t days = sl_qvd_floordiv(us, SL_QVD_US_PER_DAY);
    return (double)(days + SL_QVD_EPOCH_SERIAL) +
           (double)(us - days * SL_QVD_US_PER_DAY) / (double)SL_QVD_US_PER_DAY;
}

/* Encodes one non-NULL value of field f at w->tmp + w->tmppos; returns its length, 0 on error. */
static size_t encode(sl_qvd_writer *w, const wfield *f, const sl_value *v)
{
    char buf[96];
    int n;
    switch (f->type) {
    case SL_T_UINT64: {
        uint64_t u = (uint64_t)v->i;
        if (u <= INT32_MAX)
            return enc_num(w, 1, (int32_t)u, 0, NULL, 0);
        n = snprintf(buf, sizeof buf, "%" PRIu64, u);
        return enc_num(w, 0, 0, (double)u, buf, (size_t)n);
    }
    case SL_T_TIMESTAMPOFF: {
        /* text: the source's own wall clock and offset (exact); number: the instant, in the
         * job's zone like TIMESTAMPTZ, so rows with different offsets compare and link right */
        int64_t local, inst;
        int tz = w->tz_offset_minutes, off = v->aux;
        if (__builtin_add_overflow(v->i, (int64_t)off * 1000000, &local) ||
            __builtin_add_overflow(v->i, (int64_t)tz * 60000000, &inst) ||
            (n = sl_qvd_fmt_timestamp(local, buf, sizeof buf - 16)) < 0) {
            werr(w, "column %s: timestamp out of range", f->name);
            return 0;
        }
        int a = abs(off);
        if (a % 60)
            n += snprintf(buf + n, 16, " %c%02d:%02d:%02d", off < 0 ? '-' : '+', a / 3600,
                          a / 60 % 60, a % 60);
        else
            n += snprintf(buf + n, 16, " %c%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
        return enc_num(w, 0, 0, serial_of(inst), buf, (size_t)n);
    }
    case SL_T_INT64:
        if (v->i >= INT32_MIN && v->i <= INT32_MAX)
            return enc_num(w, 1, (int32_t)v->i, 0, NULL, 0);
        n = snprintf(buf, sizeof buf, "%" PRId64, v->i);
        return enc_num(w, 0, 0, (double)v->i, buf, (size_t)n);
    case SL_T_DOUBLE:
        if (isnan(v->f)) /* one NaN: payloads and signs are not kept */
            return enc_num(w, 0, 0, NAN, "NaN", 3);
        if (isinf(v->f))
            return enc_num(w, 0, 0, v->f, v->f > 0 ? "+Inf" : "-Inf", 4);
        return enc_num(w, 0, 0, v->f, NULL, 0);
    case SL_T_DECIMAL: {
        if (!v->p || v->len == 0 || memchr(v->p, 0, v->len)) {
            werr(w, "column %s: bad decimal value", f->name);
            return 0;
        }
        char tb[256], *end, *heap = NULL, *t = tb;
        if (v->len >= sizeof tb && !(t = heap = malloc(v->len + 1))) {
            werr(w, "out of memory writing the QVD table");
            return 0;
        }
        memcpy(t, v->p, v->len);
        t[v->len] = 0;
        double d = strtod(t, &end);
        int numeric = *end == 0;
        free(heap);
        if (!numeric) /* not a number Qlik could use: keep it as text */
            return enc_str(w, v->p, v->len);
        if (fits_i32(d))
            return enc_num(w, 1, (int32_t)d, 0, v->p, v->len);
        return enc_num(w, 0, 0, d, v->p, v->len);
    }
    case SL_T_STRING:
        if (v->len && memchr(v->p, 0, v->len)) {
            werr(w, "column %s: text contains a NUL byte (QVD strings cannot)", f->name);
            return 0;
        }
        return enc_str(w, v->len ? v->p : "", v->len);
    case SL_T_BOOL:
        return v->i ? enc_num(w, 1, 1, 0, "true", 4) : enc_num(w, 1, 0, 0, "false", 5);
    case SL_T_DATE: {
        n = sl_qvd_fmt_date(v->i, buf, sizeof buf);
        if (n < 0) {
            werr(w, "column %s: date out of range", f->name);
            return 0;
        }
        int64_t serial = v->i + SL_QVD_EPOCH_SERIAL;
        if (serial >= INT32_MIN && serial <= INT32_MAX)
            return enc_num(w, 1, (int32_t)serial, 0, buf, (size_t)n);
        return enc_num(w, 0, 0, (double)serial, buf, (size_t)n);
    }
    case SL_T_TIME:
        n = sl_qvd_fmt_time(v->i, buf, sizeof buf);
        return enc_num(w, 0, 0, (double)v->i / (double)SL_QVD_US_PER_DAY, buf, (size_t)n);
    case SL_T_TIMESTAMP:
    case SL_T_TIMESTAMPTZ: {
        int64_t us = v->i;
        int tz = f->type == SL_T_TIMESTAMPTZ ? w->tz_offset_minutes : 0;
        if (tz && __builtin_add_overflow(us, (int64_t)tz * 60000000, &us)) {
            werr(w, "column %s: timestamp out of range", f->name);
            return 0;
        }
        n = sl_qvd_fmt_timestamp(us, buf, sizeof buf - 16);
        if (n < 0) {
            werr(w, "column %s: timestamp out of range", f->name);
            return 0;
        }
        if (tz) /* the text names its zone so the exact instant survives a round trip */
            n += snprintf(buf + n, 16, " %c%02d:%02d", tz < 0 ? '-' : '+', abs(tz) / 60,
                          abs(tz) % 60);
        return enc_num(w, 0, 0, serial_of(us), buf, (size_t)n);
    }
    case SL_T_BINARY:
        return enc_hex(w, v->len ? v->p : "", v->len);
    }
    werr(w, "column %s: unknown type", f->name);
    return 0;
}

/* ---- per-field symbol dictionary ---- */

static uint64_t hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t k;
        memcpy(&k, p, 8);
        h = (h ^ (k * 0xc4ceb9fe1a85ec53ull)) * 0x100000001b3ull;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k |= (uint64_t)p[i] << (8 * i);
    h = (h ^ (k * 0xc4ceb9fe1a85ec53ull)) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return h;
}

static const unsigned char *sym_at(const wfield *f, uint64_t i, size_t *len)
{
    if (!f->offs) {
        *len = f->fixlen;
        return f->sym + i * f->fixlen;
    }
    uint64_t end = i + 1 < f->nsym ? f->offs[i + 1] : f->symlen;
    *len = (size_t)(end - f->offs[i]);
    return f->sym + f->offs[i];
}

static int rehash(wfield *f, size_t nslots)
{
    uint64_t *s = calloc(nslots, sizeof *s);
    if (!s)
        return -1;
    for (uint64_t i = 0; i < f->nsym; i++) {
        size_t len;
        const unsigned char *p = sym_at(f, i, &len);
        uint64_t h = hash_bytes(p, len);
        size_t k = (size_t)h & (nslots - 1);
        while (s[k])
            k = (k + 1) & (nslots - 1);
        s[k] = (h & 0xFFFFFFFF00000000ull) | (i + 1);
    }
    free(f->slots);
    f->slots = s;
    f->nslots = nslots;
    return 0;
}

static int grow_if_needed(wfield *f)
{
    if (!f->slots || f->nsym + 1 >= f->nslots / 5 * 4)
        return rehash(f, f->nslots ? f->nslots * 2 : 64);
    return 0;
}

/* Appends a new symbol; slot is its empty hash slot, or SIZE_MAX in sorted mode (no table). */
static int64_t append_symbol(wfield *f, const unsigned char *p, size_t len, uint64_t h, size_t slot)
{
    if (f->nsym >= UINT32_MAX - 2)
        return -1;
    if (f->symlen + len > f->symcap) {
        size_t c = f->symcap ? f->symcap + f->symcap / 2 : 4096;
        while (c < f->symlen + len)
            c += c / 2;
        unsigned char *t = realloc(f->sym, c);
        if (!t)
            return -1;
        f->sym = t;
        f->symcap = c;
    }
    if (f->nsym == 0)
        f->fixlen = (uint32_t)(len <= UINT32_MAX ? len : 0);
    if (!f->offs && (len != f->fixlen || f->fixlen == 0)) {
        size_t cap = f->nsym + 64 + f->nsym / 2;
        f->offs = malloc(cap * sizeof *f->offs);
        if (!f->offs)
            return -1;
        f->offcap = cap;
        for (uint64_t k = 0; k < f->nsym; k++)
            f->offs[k] = k * f->fixlen;
    }
    if (f->offs) {
        if (f->nsym >= f->offcap) {
            size_t cap = f->offcap + f->offcap / 2 + 64;
            uint64_t *t = realloc(f->offs, cap * sizeof *t);
            if (!t)
                return -1;
            f->offs = t;
            f->offcap = cap;
        }
        f->offs[f->nsym] = f->symlen;
    }
    memcpy(f->sym + f->symlen, p, len);
    f->symlen += len;
    if (slot != SIZE_MAX)
        f->slots[slot] = (h & 0xFFFFFFFF00000000ull) | (f->nsym + 1);
    return (int64_t)f->nsym++;
}

/* Index of the symbol [p, p+len) (hash h) in f, or -1 with *slot set to the empty slot where it
 * would go. The slot keeps 32 bits of the hash, so a probe touches a symbol's bytes only on a
 * likely hit: one cache miss per lookup instead of one per probe. The table has room (see
 * grow_if_needed). */
static int64_t find_symbol(const wfield *f, const unsigned char *p, size_t len, uint64_t h,
                           size_t *slot)
{
    uint64_t tag = h & 0xFFFFFFFF00000000ull;
    size_t i = (size_t)h & (f->nslots - 1);
    while (f->slots[i]) {
        if ((f->slots[i] & 0xFFFFFFFF00000000ull) == tag) {
            uint64_t s = (f->slots[i] & 0xFFFFFFFFu) - 1;
            size_t sl;
            const unsigned char *sp = sym_at(f, s, &sl);
            if (sl == len && memcmp(sp, p, len) == 0)
                return (int64_t)s;
        }
        i = (i + 1) & (f->nslots - 1);
    }
    *slot = i;
    return -1;
}

/* ---- one number, one symbol (docs/qvd-types.md) ---- */

/* The number of an encoded symbol; 0 when it has none (a text symbol). */
static int sym_number(const unsigned char *p, double *d)
{
    uint64_t b = 0;
    switch (p[0]) {
    case SL_QVD_SYM_INT:
    case SL_QVD_SYM_DUAL_INT:
        *d = (int32_t)(uint32_t)(p[1] | p[2] << 8 | p[3] << 16 | (uint32_t)p[4] << 24);
        return 1;
    case SL_QVD_SYM_DOUBLE:
    case SL_QVD_SYM_DUAL_DOUBLE:
        for (int k = 0; k < 8; k++)
            b |= (uint64_t)p[1 + k] << (8 * k);
        memcpy(d, &b, 8);
        return 1;
    default:
        return 0;
    }
}

/* Numbers compare as Qlik compares them: 0.0 == -0.0, every NaN alike. */
static uint64_t num_key(double d)
{
    uint64_t b;
    if (d == 0)
        return 0;
    if (isnan(d))
        return 0x7ff8000000000000ull;
    memcpy(&b, &d, 8);
    return b;
}

static uint64_t num_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    return k ^ (k >> 33);
}

/* Whether another value of a field of type t could have the number d: only those numbers are
 * tracked. Integers up to 2^53, dates and booleans are exact and distinct as doubles; a DOUBLE
 * shares its number only as 0.0 / -0.0 (NaN has one encoding). Microseconds are 1.16e-11 days
 * apart, more than a double's step below 65536 days (serial 65536 is 2079-06-06), so times and
 * timestamps can share a number only beyond it. TIMESTAMPOFF shares the instant's number at
 * other offsets; DECIMAL texts can spell one number many ways. */
static int num_shareable(sl_type t, double d)
{
    switch (t) {
    case SL_T_DOUBLE:
        return d == 0;
    case SL_T_INT64:
    case SL_T_UINT64:
        return fabs(d) >= 9007199254740992.0;
    case SL_T_TIME:
    case SL_T_TIMESTAMP:
    case SL_T_TIMESTAMPTZ:
        return !(fabs(d) < 65536.0);
    case SL_T_DECIMAL:
    case SL_T_TIMESTAMPOFF:
        return 1;
    default:
        return 0;
    }
}

/* Symbol of f whose number is d (tracked numbers only), or -1. */
static int64_t num_find(const wfield *f, double d)
{
    if (!f->nnums)
        return -1;
    uint64_t key = num_key(d), h = num_hash(key), tag = h & 0xFFFFFFFF00000000ull;
    size_t i = (size_t)h & (f->nnums - 1);
    while (f->nums[i]) {
        if ((f->nums[i] & 0xFFFFFFFF00000000ull) == tag) {
            uint64_t s = (f->nums[i] & 0xFFFFFFFFu) - 1;
            size_t sl;
            double e;
            if (sym_number(sym_at(f, s, &sl), &e) && num_key(e) == key)
                return (int64_t)s;
        }
        i = (i + 1) & (f->nnums - 1);
    }
    return -1;
}

static void num_put(uint64_t *t, size_t n, double d, uint64_t sym)
{
    uint64_t h = num_hash(num_key(d));
    size_t i = (size_t)h & (n - 1);
    while (t[i])
        i = (i + 1) & (n - 1);
    t[i] = (h & 0xFFFFFFFF00000000ull) | (sym + 1);
}

/* Records that symbol sym has number d (not yet tracked). */
static int num_add(wfield *f, double d, uint64_t sym)
{
    if (f->nnum_used + 1 >= f->nnums / 5 * 4) {
        size_t n = f->nnums ? f->nnums * 2 : 64;
        uint64_t *t = calloc(n, sizeof *t);
        if (!t)
            return -1;
        for (size_t i = 0; i < f->nnums; i++) {
            if (!f->nums[i])
                continue;
            uint64_t s = (f->nums[i] & 0xFFFFFFFFu) - 1;
            size_t sl;
            double e = 0;
            sym_number(sym_at(f, s, &sl), &e);
            num_put(t, n, e, s);
        }
        free(f->nums);
        f->nums = t;
        f->nnums = n;
    }
    num_put(f->nums, f->nnums, d, sym);
    f->nnum_used++;
    return 0;
}

/* Whether two DECIMAL texts are the same number exactly (1 / 1.0 / 1.00, 0 / -0). */
static int dec_equal(const char *a, size_t an, const char *b, size_t bn)
{
    char ba[SL_QVD_DECIMAL_DIGITS], bb[SL_QVD_DECIMAL_DIGITS];
    sl_qvd_decimal da, db;
    return sl_qvd_decimal_parse(a, an, &da, ba) == 0 && sl_qvd_decimal_parse(b, bn, &db, bb) == 0 &&
           sl_qvd_decimal_eq(&da, &db);
}

/* Text part of an encoded dual symbol [p, p+len): *tlen bytes, or NULL for other symbols. */
static const char *sym_text(const unsigned char *p, size_t len, size_t *tlen)
{
    size_t num = p[0] == SL_QVD_SYM_DUAL_INT ? 4 : p[0] == SL_QVD_SYM_DUAL_DOUBLE ? 8 : 0;
    if (!num)
        return NULL;
    *tlen = len - 2 - num;
    return (const char *)p + 1 + num;
}

/* A new value [p, p+len) has the number of the earlier symbol e: whether it is the same value
 * written another way, so it may share e (first text wins, as when Qlik loads such values),
 * rather than a different value whose own text must be kept. */
static int same_number_same_value(sl_type t, const unsigned char *e, size_t elen,
                                  const unsigned char *p, size_t len)
{
    if (t == SL_T_DOUBLE)
        return 1; /* 0.0 and -0.0 */
    if (t != SL_T_DECIMAL)
        return 0; /* integers beyond 2^53, sub-µs-apart timestamps, other offsets: all distinct */
    size_t an, bn;
    const char *a = sym_text(e, elen, &an), *b = sym_text(p, len, &bn);
    return a && b && dec_equal(a, an, b, bn);
}

/* Turns the dual symbol at w->tmp + off (length *len) into a text symbol with the same text. */
static void make_text(sl_qvd_writer *w, size_t off, size_t *len)
{
    unsigned char *p = w->tmp + off;
    size_t num = p[0] == SL_QVD_SYM_DUAL_INT ? 4 : 8;
    p[0] = SL_QVD_SYM_STRING;
    memmove(p + 1, p + 1 + num, *len - 1 - num);
    *len -= num;
}

/* Index of the symbol for row cell c (encoded at w->tmp + w->enc_off[c]), adding it if new, with
 * the rule that no two symbols of a field share a number. -1 on out of memory / too many. */
static int64_t intern(sl_qvd_writer *w, wfield *f, size_t c, int *added)
{
    size_t len = w->enc_len[c];
    const unsigned char *p = w->tmp + w->enc_off[c];
    uint64_t h = w->enc_hash[c];
    size_t slot;
    double d;
    *added = 0;
    int64_t s = find_symbol(f, p, len, h, &slot);
    if (s >= 0)
        return s;
    int track = sym_number(p, &d) && num_shareable(f->type, d);
    if (track) {
        int64_t e = num_find(f, d);
        if (e >= 0) {
            size_t elen;
            const unsigned char *ep = sym_at(f, (uint64_t)e, &elen);
            if (same_number_same_value(f->type, ep, elen, p, len) || !sym_text(p, len, &elen))
                return e;
            make_text(w, w->enc_off[c], &w->enc_len[c]);
            len = w->enc_len[c];
            h = hash_bytes(p, len);
            track = 0;
            if ((s = find_symbol(f, p, len, h, &slot)) >= 0)
                return s;
        }
    }
    s = append_symbol(f, p, len, h, slot);
    if (s >= 0 && track && num_add(f, d, (uint64_t)s) != 0)
        return -1;
    *added = s >= 0;
    return s;
}

/* Leaves sorted mode: builds the hash table over the symbols appended so far. */
static int leave_sorted(wfield *f)
{
    size_t n = 64;
    while (f->nsym + 1 >= n / 5 * 4)
        n *= 2;
    f->sorted = 0;
    if (rehash(f, n) != 0)
        return -1;
    for (uint64_t i = 0; i < f->nsym; i++) { /* the numbers sorted mode did not track */
        size_t len;
        double d;
        if (sym_number(sym_at(f, i, &len), &d) && num_shareable(f->type, d) &&
            num_add(f, d, i) != 0)
            return -1;
    }
    return 0;
}

/* Sorted mode (values strictly ascending, every one new): a number can only equal the previous
 * value's, since rounding to double never reverses the order. */
static void sorted_check_number(sl_qvd_writer *w, wfield *f, size_t c)
{
    double d;
    const unsigned char *p = w->tmp + w->enc_off[c];
    if (!sym_number(p, &d) || !num_shareable(f->type, d))
        return;
    size_t tl;
    if (f->nsym > 0 && num_key(d) == num_key(f->last_num) && sym_text(p, w->enc_len[c], &tl))
        make_text(w, w->enc_off[c], &w->enc_len[c]);
    f->last_num = d;
}

/* ---- packed row indices ---- */

static unsigned bits_for(uint64_t v)
{
    unsigned b = 0;
    while (v) {
        b++;
        v >>= 1;
    }
    return b;
}

static uint64_t get_bits(const uint64_t *words, uint64_t bit, unsigned width)
{
    if (width == 0)
        return 0;
    uint64_t wi = bit >> 6;
    unsigned sh = (unsigned)(bit & 63);
    uint64_t v = words[wi] >> sh;
    if (sh + width > 64)
        v |= words[wi + 1] << (64 - sh);
    return width == 64 ? v : v & ((1ull << width) - 1);
}

static void set_bits(uint64_t *words, uint64_t bit, unsigned width, uint64_t v)
{
    if (width == 0)
        return;
    uint64_t wi = bit >> 6;
    unsigned sh = (unsigned)(bit & 63);
    words[wi] |= v << sh; /* slots start zeroed and are written once */
    if (sh + width > 64)
        words[wi + 1] |= v >> (64 - sh);
}

static size_t words_for(uint64_t rows, unsigned width)
{
    return (size_t)((rows * width + 63) / 64) + 1;
}

/* Makes room for row `rows-1` at width `width` in f (repacking when the width grows). */
static int ensure_bits(wfield *f, uint64_t rowcap, unsigned width, uint64_t nrows)
{
    size_t need = words_for(rowcap, width);
    if (width == f->width && need <= f->nwords)
        return 0;
    if (width == f->width) {
        uint64_t *t = realloc(f->bits, need * 8);
        if (!t)
            return -1;
        memset(t + f->nwords, 0, (need - f->nwords) * 8);
        f->bits = t;
        f->nwords = need;
        return 0;
    }
    uint64_t *t = calloc(need, 8);
    if (!t)
        return -1;
    for (uint64_t r = 0; r < nrows; r++)
        set_bits(t, r * width, width, get_bits(f->bits, r * f->width, f->width));
    free(f->bits);
    f->bits = t;
    f->nwords = need;
    f->width = width;
    return 0;
}

static void note_symbol(wfield *f, const unsigned char *p, size_t len)
{
    switch (p[0]) {
    case SL_QVD_SYM_DOUBLE:
    case SL_QVD_SYM_DUAL_DOUBLE: {
        double d;
        uint64_t b = 0;
        for (int k = 0; k < 8; k++)
            b |= (uint64_t)p[1 + k] << (8 * k);
        memcpy(&d, &b, 8);
        if (!(isfinite(d) && d == floor(d)))
            f->nonintegral = 1;
        break;
    }
    case SL_QVD_SYM_STRING:
        if (f->type != SL_T_STRING && f->type != SL_T_BINARY)
            f->mixed = 1;
        for (size_t k = 1; k + 1 < len; k++)
            if (p[k] & 0x80) {
                f->nonascii = 1;
                break;
            }
        break;
    default:
        break;
    }
}

int sl_qvd_writer_add_row(sl_qvd_writer *w, const sl_value *values)
{
    if (w->broken) {
        if (!w->err[0])
            werr(w, "writer failed earlier");
        return -1;
    }
    /* Validate first, so a refused row leaves no unreferenced symbols behind. */
    for (size_t c = 0; c < w->ncols; c++) {
        const sl_value *v = &values[c];
        if (v->flag != SL_CELL_VALUE)
            continue;
        sl_type t = w->f[c].type;
        if ((t == SL_T_STRING || t == SL_T_DECIMAL) && v->len && memchr(v->p, 0, v->len)) {
            werr(w, "column %s: text contains a NUL byte (QVD strings cannot)", w->f[c].name);
            return -1;
        }
        if (t == SL_T_DECIMAL && v->len == 0) {
            werr(w, "column %s: empty decimal value", w->f[c].name);
            return -1;
        }
        char buf[64];
        if (t == SL_T_DATE && sl_qvd_fmt_date(v->i, buf, sizeof buf) < 0) {
            werr(w, "column %s: date out of range", w->f[c].name);
            return -1;
        }
    }
    if (w->nrows >= w->rowcap) {
        uint64_t cap = w->rowcap ? w->rowcap + w->rowcap / 2 : 1024;
        for (size_t c = 0; c < w->ncols; c++)
            if (ensure_bits(&w->f[c], cap, w->f[c].width ? w->f[c].width : 1, w->nrows) != 0)
                goto oom;
        w->rowcap = cap;
    }
    /* Pass 1: encode every cell and prefetch its hash slot, so the cache misses of the
     * per-field lookups overlap instead of queueing one after another. */
    w->tmppos = 0;
    for (size_t c = 0; c < w->ncols; c++) {
        wfield *f = &w->f[c];
        w->enc_len[c] = 0;
        if (values[c].flag != SL_CELL_VALUE)
            continue;
        size_t len = encode(w, f, &values[c]);
        if (len == 0)
            return -1; /* nothing interned yet: the row is refused, the writer stays usable */
        w->enc_off[c] = w->tmppos;
        w->enc_len[c] = len;
        w->tmppos += len;
        w->enc_new[c] = 0;
        if (f->sorted) {
            if (f->nsym == 0 || values[c].i > f->last) {
                f->last = values[c].i;
                w->enc_new[c] = 1;
                continue;
            }
            if (leave_sorted(f) != 0)
                goto oom;
        }
        if (grow_if_needed(f) != 0)
            goto oom;
        w->enc_hash[c] = hash_bytes(w->tmp + w->enc_off[c], len);
        __builtin_prefetch(&f->slots[w->enc_hash[c] & (f->nslots - 1)]);
    }
    /* Pass 2: intern and store the row's indices. */
    for (size_t c = 0; c < w->ncols; c++) {
        wfield *f = &w->f[c];
        uint64_t stored = 0;
        if (w->enc_len[c] == 0) {
            f->has_null = 1;
        } else {
            const unsigned char *p = w->tmp + w->enc_off[c];
            int added = 1;
            int64_t s;
            if (w->enc_new[c]) {
                sorted_check_number(w, f, c);
                s = append_symbol(f, p, w->enc_len[c], 0, SIZE_MAX);
            } else {
                s = intern(w, f, c, &added);
            }
            if (s < 0)
                goto oom;
            if (added)
                note_symbol(f, p, w->enc_len[c]);
            stored = (uint64_t)s + 1;
        }
        unsigned need = bits_for(stored);
        if (need > f->width && ensure_bits(f, w->rowcap, need, w->nrows) != 0)
            goto oom;
        set_bits(f->bits, w->nrows * f->width, f->width, stored);
    }
    w->nrows++;
    return 0;
oom:
    werr(w, "out of memory writing the QVD table");
    /* a half-added row cannot be taken back (symbols may be interned): stop here */
    w->broken = 1;
    return -1;
}

/* ---- output ---- */

typedef struct {
    sl_qvd_out_fn out;
    void *ud;
    unsigned char *buf;
    size_t n;
    int failed;
} obuf;

static int ob_flush(obuf *o)
{
    if (o->n && !o->failed && o->out(o->ud, o->buf, o->n) != 0)
        o->failed = 1;
    o->n = 0;
    return o->failed ? -1 : 0;
}

static int ob_put(obuf *o, const void *p, size_t len)
{
    const unsigned char *s = p;
    while (len) {
        if (o->n == OUTBUF && ob_flush(o) != 0)
            return -1;
        size_t k = OUTBUF - o->n < len ? OUTBUF - o->n : len;
        memcpy(o->buf + o->n, s, k);
        o->n += k;
        s += k;
        len -= k;
    }
    return o->failed ? -1 : 0;
}

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t c = b->cap ? b->cap * 2 : 4096;
        while (c < b->n + len + 1)
            c *= 2;
        char *t = realloc(b->p, c);
        if (!t) {
            b->oom = 1;
            return;
        }
        b->p = t;
        b->cap = c;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
}

static void sb_printf(sbuf *b, const char *fmt, ...) SL_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->oom = 1;
        return;
    }
    sb_add(b, tmp, (size_t)n);
}

/* Text as the header holds it. as_xml: escaped for XML 1.0 (& < > as entities; TAB, LF, CR as
 * character references, so a CR is not turned into LF by a reader's line-end handling);
 * otherwise the text a reader gets back. Either way bytes that are not UTF-8 and characters
 * XML 1.0 cannot hold at all (other C0 controls, U+FFFE, U+FFFF) become U+FFFD. */
static void sb_text(sbuf *b, const char *text, int as_xml)
{
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    size_t n = strlen((const char *)s);
    while (n) {
        size_t k = 0;
        while (k < n && s[k] >= 0x20 && s[k] < 0x80 && s[k] != '&' && s[k] != '<' && s[k] != '>')
            k++;
        sb_add(b, (const char *)s, k);
        s += k;
        n -= k;
        if (!n)
            break;
        uint32_t cp;
        size_t used = sl_xml_char(s, n, &cp);
        if (as_xml && cp == '&')
            sb_add(b, "&amp;", 5);
        else if (as_xml && cp == '<')
            sb_add(b, "&lt;", 4);
        else if (as_xml && cp == '>')
            sb_add(b, "&gt;", 4);
        else if (as_xml && cp < 0x20)
            sb_printf(b, "&#%u;", (unsigned)cp);
        else if (cp == 0xFFFD && !(used == 3 && memcmp(s, "\xEF\xBF\xBD", 3) == 0))
            sb_add(b, "\xEF\xBF\xBD", 3);
        else
            sb_add(b, (const char *)s, used);
        s += used;
        n -= used;
    }
}

/* <tag>escaped text</tag> CRLF at the given indentation */
static void sb_elem(sbuf *b, int indent, const char *tag, const char *text)
{
    for (int i = 0; i < indent; i++)
        sb_add(b, " ", 1);
    sb_printf(b, "<%s>", tag);
    sb_text(b, text, 1);
    sb_printf(b, "</%s>\r\n", tag);
}

char *sl_qvd_header_text(const char *s)
{
    sbuf b = {0};
    sb_add(&b, "", 0);
    sb_text(&b, s, 0);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p ? b.p : calloc(1, 1);
}

static void sb_open(sbuf *b, int indent, const char *tag)
{
    for (int i = 0; i < indent; i++)
        sb_add(b, " ", 1);
    sb_printf(b, "<%s>\r\n", tag);
}

static void sb_close(sbuf *b, int indent, const char *tag)
{
    for (int i = 0; i < indent; i++)
        sb_add(b, " ", 1);
    sb_printf(b, "</%s>\r\n", tag);
}

typedef struct {
    unsigned offset, width;
    int bias;
} layout;

typedef struct {
    const char *type, *fmt, *dec, *thou;
    int ndec;
} numfmt;

/* NumberFormat of a field: a display hint only (the text of a dual is what Qlik shows). */
static numfmt numfmt_for(const wfield *f)
{
    numfmt n = {"UNKNOWN", "", "", "", 0};
    int scale = f->meta ? f->meta->scale : -1;
    switch (f->type) {
    case SL_T_INT64: /* as Qlik Sense writes SQL integer columns */
    case SL_T_UINT64:
        n.type = "INTEGER";
        n.dec = ".";
        n.thou = ",";
        break;
    case SL_T_DECIMAL: /* a known scale: INTEGER or FIX with that many decimals, as for SQL */
        if (scale >= 0) {
            n.type = scale ? "FIX" : "INTEGER";
            n.ndec = scale;
            n.dec = ".";
            n.thou = ",";
        }
        break;
    case SL_T_DATE:
        n.type = "DATE";
        n.fmt = "YYYY-MM-DD";
        break;
    case SL_T_TIME:
        n.type = "TIME";
        n.fmt = "hh:mm:ss";
        break;
    case SL_T_TIMESTAMP:
    case SL_T_TIMESTAMPTZ:
    case SL_T_TIMESTAMPOFF:
        n.type = "TIMESTAMP";
        n.fmt = scale == 0 ? "YYYY-MM-DD hh:mm:ss" : "YYYY-MM-DD hh:mm:ss[.fff]";
        break;
    default:
        break;
    }
    return n;
}

/* Field Comment: the source's type and NOT NULL ("numeric(12,2) NOT NULL"), which Qlik shows
 * as the field's comment. */
static void comment_for(const wfield *f, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!f->meta)
        return;
    const char *st = f->meta->source_type ? f->meta->source_type : "";
    int nn = (f->meta->flags & SL_FIELD_NOT_NULL) != 0;
    snprintf(buf, len, "%s%s%s", st, *st && nn ? " " : "", nn ? "NOT NULL" : "");
}

static void tags_for(const wfield *f, sbuf *b)
{
    const char *t[6];
    int n = 0;
    if (f->key)
        t[n++] = "$key";
    if (f->nsym > 0 && !f->mixed) { /* Qlik tags a field mixing text and numbers with nothing */
        switch (f->type) {
        case SL_T_INT64:
        case SL_T_UINT64:
        case SL_T_DOUBLE:
        case SL_T_DECIMAL:
        case SL_T_BOOL:
            t[n++] = "$numeric";
            if (!f->nonintegral)
                t[n++] = "$integer";
            break;
        case SL_T_DATE:
            t[n++] = "$numeric";
            t[n++] = "$integer";
            t[n++] = "$timestamp";
            t[n++] = "$date";
            break;
        case SL_T_TIMESTAMP:
        case SL_T_TIMESTAMPTZ:
        case SL_T_TIMESTAMPOFF:
            t[n++] = "$numeric";
            t[n++] = "$timestamp";
            break;
        case SL_T_TIME:
            t[n++] = "$numeric";
            break;
        case SL_T_STRING:
        case SL_T_BINARY:
            if (!f->nonascii)
                t[n++] = "$ascii";
            t[n++] = "$text";
            break;
        }
    }
    if (n == 0) {
        sb_elem(b, 7, "Tags", "");
        return;
    }
    sb_open(b, 7, "Tags");
    for (int i = 0; i < n; i++)
        sb_elem(b, 9, "String", t[i]);
    sb_close(b, 7, "Tags");
}

static void fmt_utc(int64_t us, char *buf, size_t len)
{
    if (us == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    }
    int64_t sec = sl_qvd_floordiv(us, 1000000);
    int64_t days = sl_qvd_floordiv(sec, 86400), r = sec - days * 86400;
    int n = sl_qvd_fmt_date(days, buf, len);
    if (n < 0) {
        snprintf(buf, len, "1970-01-01 00:00:00");
        return;
    }
    snprintf(buf + n, len - (size_t)n, " %02d:%02d:%02d", (int)(r / 3600), (int)(r / 60 % 60),
             (int)(r % 60));
}

static char *build_header(const sl_qvd_writer *w, const layout *lay, uint64_t rbs, size_t *hlen)
{
    sbuf b = {0};
    char tbuf[64];
    static const char decl[] = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n";
    sb_add(&b, decl, sizeof decl - 1);
    sb_open(&b, 1, "QvdTableHeader");
    sb_elem(&b, 3, "QvBuildNo", SL_QVD_BUILD_NO);
    sb_elem(&b, 3, "CreatorDoc", w->creator_doc);
    fmt_utc(w->create_time_us, tbuf, sizeof tbuf);
    sb_elem(&b, 3, "CreateUtcTime", tbuf);
    sb_elem(&b, 3, "SourceCreateUtcTime", "");
    sb_elem(&b, 3, "SourceFileUtcTime", "");
    sb_elem(&b, 3, "SourceFileSize", "-1");
    sb_elem(&b, 3, "StaleUtcTime", "");
    sb_elem(&b, 3, "TableName", w->table_name);
    sb_open(&b, 3, "Fields");
    uint64_t off = 0;
    for (size_t c = 0; c < w->ncols; c++) {
        const wfield *f = &w->f[c];
        numfmt nf = numfmt_for(f);
        char comment[256];
        comment_for(f, comment, sizeof comment);
        sb_open(&b, 5, "QvdFieldHeader");
        sb_elem(&b, 7, "FieldName", f->name);
        sb_printf(&b, "       <BitOffset>%u</BitOffset>\r\n", lay[c].offset);
        sb_printf(&b, "       <BitWidth>%u</BitWidth>\r\n", lay[c].width);
        sb_printf(&b, "       <Bias>%d</Bias>\r\n", lay[c].bias);
        sb_open(&b, 7, "NumberFormat");
        sb_elem(&b, 9, "Type", nf.type);
        sb_printf(&b, "         <nDec>%d</nDec>\r\n", nf.ndec);
        sb_elem(&b, 9, "UseThou", "0");
        sb_elem(&b, 9, "Fmt", nf.fmt);
        sb_elem(&b, 9, "Dec", nf.dec);
        sb_elem(&b, 9, "Thou", nf.thou);
        sb_close(&b, 7, "NumberFormat");
        sb_printf(&b, "       <NoOfSymbols>%" PRIu64 "</NoOfSymbols>\r\n", f->nsym);
        sb_printf(&b, "       <Offset>%" PRIu64 "</Offset>\r\n", off);
        sb_printf(&b, "       <Length>%zu</Length>\r\n", f->symlen);
        sb_elem(&b, 7, "Comment", comment);
        tags_for(f, &b);
        sb_close(&b, 5, "QvdFieldHeader");
        off += f->symlen;
    }
    sb_close(&b, 3, "Fields");
    sb_elem(&b, 3, "Compression", "");
    sb_printf(&b, "   <RecordByteSize>%" PRIu64 "</RecordByteSize>\r\n", rbs);
    sb_printf(&b, "   <NoOfRecords>%" PRIu64 "</NoOfRecords>\r\n", w->nrows);
    sb_printf(&b, "   <Offset>%" PRIu64 "</Offset>\r\n", off);
    sb_printf(&b, "   <Length>%" PRIu64 "</Length>\r\n", rbs * w->nrows);
    /* Every Qlik Sense file names at least one source; without a lineage the creator does. */
    const char *lin = w->lineage ? w->lineage : w->creator_doc[0] ? w->creator_doc : NULL;
    if (lin) {
        sb_open(&b, 3, "Lineage");
        sb_open(&b, 5, "LineageInfo");
        sb_elem(&b, 7, "Discriminator", lin);
        sb_elem(&b, 7, "Statement", "");
        sb_close(&b, 5, "LineageInfo");
        sb_close(&b, 3, "Lineage");
    } else {
        sb_elem(&b, 3, "Lineage", "");
    }
    sb_elem(&b, 3, "Comment", w->comment);
    sb_elem(&b, 3, "EncryptionInfo", "");
    sb_elem(&b, 3, "TableTags", "");
    sb_elem(&b, 3, "ProfilingData", "");
    sb_close(&b, 1, "QvdTableHeader");
    sb_add(&b, "", 1); /* the 0x00 terminator */
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *hlen = b.n;
    return b.p;
}

int sl_qvd_writer_finish(sl_qvd_writer *w, sl_qvd_out_fn out, void *ud)
{
    if (w->broken) {
        if (!w->err[0])
            werr(w, "writer failed earlier");
        return -1;
    }
    layout *lay = calloc(w->ncols, sizeof *lay);
    obuf o = {out, ud, malloc(OUTBUF), 0, 0};
    uint64_t *row = NULL;
    char *hdr = NULL;
    int rc = -1;
    if (!lay || !o.buf)
        goto oom;
    /* Narrowest widths, tiled in header order from bit 0; width-0 fields sit at offset 0. */
    unsigned total = 0;
    size_t last = SIZE_MAX;
    for (size_t c = 0; c < w->ncols; c++) {
        const wfield *f = &w->f[c];
        if (f->has_null) {
            lay[c].bias = -2;
            lay[c].width = bits_for(f->nsym + 1);
        } else {
            lay[c].width = f->nsym ? bits_for(f->nsym - 1) : 0;
        }
        lay[c].offset = lay[c].width ? total : 0;
        total += lay[c].width;
        if (lay[c].width)
            last = c;
    }
    /* Pad like Qlik: sum(BitWidth) == 8 * RecordByteSize, the slack going to the last field. */
    uint64_t rbs = total ? (total + 7) / 8 : 1;
    if (last == SIZE_MAX)
        last = w->ncols - 1;
    lay[last].width += (unsigned)(rbs * 8 - total);

    size_t hlen;
    hdr = build_header(w, lay, rbs, &hlen);
    if (!hdr)
        goto oom;
    if (ob_put(&o, hdr, hlen) != 0)
        goto io;
    for (size_t c = 0; c < w->ncols; c++)
        if (w->f[c].symlen && ob_put(&o, w->f[c].sym, w->f[c].symlen) != 0)
            goto io;
    size_t nw = (size_t)(rbs + 7) / 8 + 1;
    row = malloc(nw * 8);
    unsigned char *rb = malloc(rbs);
    if (!row || !rb) {
        free(rb);
        goto oom;
    }
    for (uint64_t r = 0; r < w->nrows; r++) {
        memset(row, 0, nw * 8);
        for (size_t c = 0; c < w->ncols; c++) {
            const wfield *f = &w->f[c];
            if (!lay[c].width)
                continue;
            uint64_t v = get_bits(f->bits, r * f->width, f->width);
            /* v is symbol+1 (0 = NULL); stored is symbol - Bias */
            uint64_t stored = f->has_null ? (v ? v + 1 : 0) : v - 1;
            set_bits(row, lay[c].offset, lay[c].width, stored);
        }
        for (uint64_t k = 0; k < rbs; k++)
            rb[k] = (unsigned char)(row[k >> 3] >> (8 * (k & 7)));
        if (ob_put(&o, rb, rbs) != 0) {
            free(rb);
            goto io;
        }
    }
    free(rb);
    if (ob_flush(&o) != 0)
        goto io;
    rc = 0;
    goto done;
oom:
    werr(w, "out of memory writing the QVD table");
    goto done;
io:
    if (!w->err[0])
        werr(w, "writing the QVD file failed");
done:
    free(row);
    free(hdr);
    free(o.buf);
    free(lay);
    return rc;
}

static int file_out(void *ud, const void *p, size_t len)
{
    return fwrite(p, 1, len, ud) == len ? 0 : -1;
}

int sl_qvd_writer_finish_file(sl_qvd_writer *w, const char *path)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        werr(w, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = sl_qvd_writer_finish(w, file_out, fp);
    if (fclose(fp) != 0 && rc == 0) {
        werr(w, "%s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc != 0 && !w->err[0])
        werr(w, "%s: write failed", path);
    return rc;
}
