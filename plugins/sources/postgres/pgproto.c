/* pgproto.c - see pgproto.h. Every read is bounds-checked: malformed input gives -1 and a reason,
 * never a read past the buffer. */
#include "pgproto.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rd {
    uint8_t *p;
    size_t len, off;
    int bad;
} rd;

static int rd_need(rd *r, size_t n)
{
    if (r->bad || r->len - r->off < n) {
        r->bad = 1;
        return 0;
    }
    return 1;
}

static uint8_t rd_u8(rd *r)
{
    if (!rd_need(r, 1))
        return 0;
    return r->p[r->off++];
}

static uint16_t rd_u16(rd *r)
{
    if (!rd_need(r, 2))
        return 0;
    uint16_t v = (uint16_t)((uint16_t)r->p[r->off] << 8 | r->p[r->off + 1]);
    r->off += 2;
    return v;
}

static uint32_t rd_u32(rd *r)
{
    if (!rd_need(r, 4))
        return 0;
    const uint8_t *b = r->p + r->off;
    r->off += 4;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t rd_u64(rd *r)
{
    uint64_t hi = rd_u32(r);
    return hi << 32 | rd_u32(r);
}

/* A NUL-terminated string inside the buffer. */
static const char *rd_str(rd *r)
{
    if (r->bad)
        return "";
    const uint8_t *nul = memchr(r->p + r->off, 0, r->len - r->off);
    if (!nul) {
        r->bad = 1;
        return "";
    }
    const char *s = (const char *)(r->p + r->off);
    r->off = (size_t)(nul - r->p) + 1;
    return s;
}

static void put_u64(uint8_t *o, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        o[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

int sl_pg_decode_copydata(const uint8_t *buf, size_t len, sl_pg_copymsg *out, char *err,
                          size_t errlen)
{
    rd r = {(uint8_t *)buf, len, 0, 0};
    memset(out, 0, sizeof *out);
    if (len < 1) {
        snprintf(err, errlen, "empty replication message");
        return -1;
    }
    out->tag = (char)rd_u8(&r);
    if (out->tag == 'w') {
        out->start = rd_u64(&r);
        out->end = rd_u64(&r);
        out->send_time = (int64_t)rd_u64(&r);
        if (r.bad) {
            snprintf(err, errlen, "truncated XLogData header (%zu bytes)", len);
            return -1;
        }
        out->data = buf + r.off;
        out->len = len - r.off;
        return 0;
    }
    if (out->tag == 'k') {
        out->end = rd_u64(&r);
        out->send_time = (int64_t)rd_u64(&r);
        out->reply_requested = rd_u8(&r);
        if (r.bad) {
            snprintf(err, errlen, "truncated keepalive (%zu bytes)", len);
            return -1;
        }
        return 0;
    }
    snprintf(err, errlen, "unknown replication message tag 0x%02x", (unsigned)(uint8_t)out->tag);
    return -1;
}

void sl_pg_encode_status(uint8_t out[34], uint64_t write, uint64_t flush, uint64_t apply,
                         int64_t now_pg_us, int reply)
{
    out[0] = 'r';
    put_u64(out + 1, write);
    put_u64(out + 9, flush);
    put_u64(out + 17, apply);
    put_u64(out + 25, (uint64_t)now_pg_us);
    out[33] = reply ? 1 : 0;
}

void sl_pg_scratch_free(sl_pg_scratch *s)
{
    free(s->rc);
    free(s->tc[0]);
    free(s->tc[1]);
    memset(s, 0, sizeof *s);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int rd_tuple(rd *r, sl_pg_tuple *t, sl_pg_scratch *s, int which, char *err, size_t errlen)
{
    t->ncols = rd_u16(r);
    if (r->bad) {
        snprintf(err, errlen, "truncated tuple header");
        return -1;
    }
    if (grow((void **)&s->tc[which], &s->tc_cap[which], t->ncols ? t->ncols : 1,
             sizeof(sl_pg_tcol)) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->cols = s->tc[which];
    for (uint16_t i = 0; i < t->ncols; i++) {
        sl_pg_tcol *c = &t->cols[i];
        c->kind = (char)rd_u8(r);
        c->data = NULL;
        c->len = 0;
        if (r->bad) {
            snprintf(err, errlen, "truncated tuple (column %u of %u)", i + 1, t->ncols);
            return -1;
        }
        switch (c->kind) {
        case 'n':
        case 'u':
            break;
        case 't': {
            uint32_t l = rd_u32(r);
            if (!rd_need(r, l)) {
                snprintf(err, errlen, "truncated tuple value (column %u)", i + 1);
                return -1;
            }
            c->data = (char *)(r->p + r->off);
            c->len = l;
            r->off += l;
            break;
        }
        default:
            snprintf(err, errlen, "unknown tuple column kind 0x%02x (binary values unsupported)",
                     (unsigned)(uint8_t)c->kind);
            return -1;
        }
    }
    return 0;
}

int sl_pg_decode_msg(uint8_t *buf, size_t len, sl_pg_msg *m, sl_pg_scratch *s, char *err,
                     size_t errlen)
{
    rd r = {buf, len, 0, 0};
    memset(m, 0, sizeof *m);
    if (len < 1) {
        snprintf(err, errlen, "empty pgoutput message");
        return -1;
    }
    m->tag = (char)rd_u8(&r);
    switch (m->tag) {
    case 'B':
        m->lsn1 = rd_u64(&r);
        m->ts = (int64_t)rd_u64(&r);
        m->xid = rd_u32(&r);
        break;
    case 'C':
        m->flags = rd_u8(&r);
        m->lsn1 = rd_u64(&r);
        m->lsn2 = rd_u64(&r);
        m->ts = (int64_t)rd_u64(&r);
        break;
    case 'O':
        m->lsn1 = rd_u64(&r);
        m->name = rd_str(&r);
        break;
    case 'S':
        m->xid = rd_u32(&r);
        m->flags = rd_u8(&r);
        break;
    case 'E':
        break;
    case 'c':
        m->xid = rd_u32(&r);
        m->flags = rd_u8(&r);
        m->lsn1 = rd_u64(&r);
        m->lsn2 = rd_u64(&r);
        m->ts = (int64_t)rd_u64(&r);
        break;
    case 'A':
        m->xid = rd_u32(&r);
        m->subxid = rd_u32(&r);
        break;
    case 'Y':
        m->relid = rd_u32(&r);
        m->ns = rd_str(&r);
        m->name = rd_str(&r);
        break;
    case 'M': /* logical decoding message: flags, lsn, prefix, length, content - skipped */
        m->flags = rd_u8(&r);
        m->lsn1 = rd_u64(&r);
        m->name = rd_str(&r);
        {
            uint32_t l = rd_u32(&r);
            rd_need(&r, l);
        }
        break;
    case 'R':
        m->relid = rd_u32(&r);
        m->ns = rd_str(&r);
        m->name = rd_str(&r);
        m->replident = (char)rd_u8(&r);
        m->ncols = rd_u16(&r);
        if (r.bad)
            break;
        if (grow((void **)&s->rc, &s->rc_cap, m->ncols ? m->ncols : 1, sizeof(sl_pg_relcol)) < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        m->relcols = s->rc;
        for (uint16_t i = 0; i < m->ncols && !r.bad; i++) {
            m->relcols[i].flags = rd_u8(&r);
            m->relcols[i].name = rd_str(&r);
            m->relcols[i].typoid = rd_u32(&r);
            m->relcols[i].typmod = (int32_t)rd_u32(&r);
        }
        break;
    case 'I': {
        m->relid = rd_u32(&r);
        uint8_t k = rd_u8(&r);
        if (r.bad)
            break;
        if (k != 'N') {
            snprintf(err, errlen, "insert: expected 'N', got 0x%02x", k);
            return -1;
        }
        return rd_tuple(&r, &m->newt, s, 1, err, errlen);
    }
    case 'U': {
        m->relid = rd_u32(&r);
        uint8_t k = rd_u8(&r);
        if (r.bad)
            break;
        if (k == 'K' || k == 'O') {
            m->old_kind = (char)k;
            if (rd_tuple(&r, &m->oldt, s, 0, err, errlen) < 0)
                return -1;
            k = rd_u8(&r);
            if (r.bad)
                break;
        }
        if (k != 'N') {
            snprintf(err, errlen, "update: expected 'N', got 0x%02x", k);
            return -1;
        }
        return rd_tuple(&r, &m->newt, s, 1, err, errlen);
    }
    case 'D': {
        m->relid = rd_u32(&r);
        uint8_t k = rd_u8(&r);
        if (r.bad)
            break;
        if (k != 'K' && k != 'O') {
            snprintf(err, errlen, "delete: expected 'K' or 'O', got 0x%02x", k);
            return -1;
        }
        m->old_kind = (char)k;
        return rd_tuple(&r, &m->oldt, s, 0, err, errlen);
    }
    case 'T':
        m->nrels = rd_u32(&r);
        m->flags = rd_u8(&r);
        if (r.bad)
            break;
        if (m->nrels > (r.len - r.off) / 4) {
            snprintf(err, errlen, "truncate: %u relations do not fit the message", m->nrels);
            return -1;
        }
        m->relids = r.p + r.off;
        r.off += (size_t)m->nrels * 4;
        break;
    default:
        snprintf(err, errlen, "unknown pgoutput message tag 0x%02x", (unsigned)(uint8_t)m->tag);
        return -1;
    }
    if (r.bad) {
        snprintf(err, errlen, "truncated pgoutput '%c' message (%zu bytes)", m->tag, len);
        return -1;
    }
    return 0;
}

int sl_pg_stream_xid(const uint8_t *buf, size_t len, uint32_t *xid)
{
    if (len < 5)
        return -1;
    *xid = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 8 | buf[4];
    return 0;
}

uint32_t sl_pg_truncate_relid(const sl_pg_msg *m, uint32_t i)
{
    const uint8_t *b = m->relids + (size_t)i * 4;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* ---- COPY text ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int sl_pg_copy_split(char *line, size_t len, sl_pg_field *fields, size_t nfields)
{
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (nfields == 0)
        return len == 0 ? 0 : -1;
    size_t f = 0, i = 0;
    char *w = line;
    fields[0].p = w;
    fields[0].len = 0;
    int isnull = 0;
    while (i < len) {
        char c = line[i++];
        if (c == '\t') {
            fields[f].p = isnull ? NULL : fields[f].p;
            fields[f].len = isnull ? 0 : (size_t)(w - fields[f].p);
            if (++f >= nfields)
                return -1;
            fields[f].p = w;
            isnull = 0;
            continue;
        }
        if (c != '\\') {
            *w++ = c;
            continue;
        }
        if (i >= len)
            return -1;
        c = line[i++];
        switch (c) {
        case 'N':
            /* \N alone is NULL; anything else next to it is malformed. */
            if (w != fields[f].p || (i < len && line[i] != '\t'))
                return -1;
            isnull = 1;
            break;
        case 'b':
            *w++ = '\b';
            break;
        case 'f':
            *w++ = '\f';
            break;
        case 'n':
            *w++ = '\n';
            break;
        case 'r':
            *w++ = '\r';
            break;
        case 't':
            *w++ = '\t';
            break;
        case 'v':
            *w++ = '\v';
            break;
        case 'x': {
            int v = 0, n = 0, h;
            while (n < 2 && i < len && (h = hexval((unsigned char)line[i])) >= 0) {
                v = v * 16 + h;
                i++;
                n++;
            }
            if (n == 0)
                *w++ = 'x';
            else
                *w++ = (char)v;
            break;
        }
        default:
            if (c >= '0' && c <= '7') {
                int v = c - '0', n = 1;
                while (n < 3 && i < len && line[i] >= '0' && line[i] <= '7') {
                    v = v * 8 + (line[i++] - '0');
                    n++;
                }
                *w++ = (char)(v & 0xff);
            } else {
                *w++ = c;
            }
        }
    }
    fields[f].len = isnull ? 0 : (size_t)(w - fields[f].p);
    if (isnull)
        fields[f].p = NULL;
    return f + 1 == nfields ? 0 : -1;
}

/* ---- types ---- */

sl_type sl_pg_type_map(uint32_t oid)
{
    switch (oid) {
    case 16:
        return SL_T_BOOL;
    case 20:
    case 21:
    case 23:
    case 26:
        return SL_T_INT64; /* int8 int2 int4 oid */
    case 700:
    case 701:
        return SL_T_DOUBLE;
    case 1700:
        return SL_T_DECIMAL;
    case 1082:
        return SL_T_DATE;
    case 1083:
        return SL_T_TIME;
    case 1114:
        return SL_T_TIMESTAMP;
    case 1184:
        return SL_T_TIMESTAMPTZ;
    case 17:
        return SL_T_BINARY;
    default:
        return SL_T_STRING; /* text varchar bpchar name char uuid json jsonb interval timetz ... */
    }
}

int64_t sl_pg_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* H. Hinnant's days_from_civil, valid for the whole int64 year range we accept. */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads exactly n digits. */
static int digits(const char *s, size_t len, size_t *i, int n, int64_t *out)
{
    int64_t v = 0;
    for (int k = 0; k < n; k++) {
        if (*i >= len || s[*i] < '0' || s[*i] > '9')
            return -1;
        v = v * 10 + (s[(*i)++] - '0');
    }
    *out = v;
    return 0;
}

static int is_inf(const char *s, size_t len)
{
    return (len == 8 && memcmp(s, "infinity", 8) == 0) ||
           (len == 9 && memcmp(s, "-infinity", 9) == 0);
}

/* "YYYY-MM-DD" (4+ digit year); BC suffix handled by the caller. */
static int parse_date(const char *s, size_t len, size_t *i, int64_t *y, int64_t *mo, int64_t *d)
{
    int64_t v = 0;
    int n = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9' && n < 9) {
        v = v * 10 + (s[(*i)++] - '0');
        n++;
    }
    if (n < 4 || *i >= len || s[*i] != '-')
        return -1;
    (*i)++;
    *y = v;
    if (digits(s, len, i, 2, mo) < 0 || *i >= len || s[(*i)++] != '-' ||
        digits(s, len, i, 2, d) < 0)
        return -1;
    if (*mo < 1 || *mo > 12 || *d < 1 || *d > 31)
        return -1;
    return 0;
}

/* "HH:MM:SS[.ffffff]" -> microseconds. */
static int parse_time(const char *s, size_t len, size_t *i, int64_t *us)
{
    int64_t h, mi, se, frac = 0;
    if (digits(s, len, i, 2, &h) < 0 || *i >= len || s[(*i)++] != ':' ||
        digits(s, len, i, 2, &mi) < 0 || *i >= len || s[(*i)++] != ':' ||
        digits(s, len, i, 2, &se) < 0)
        return -1;
    if (*i < len && s[*i] == '.') {
        (*i)++;
        int n = 0;
        while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
            if (n < 6) {
                frac = frac * 10 + (s[*i] - '0');
                n++;
            }
            (*i)++;
        }
        if (n == 0)
            return -1;
        while (n++ < 6)
            frac *= 10;
    }
    if (h > 24 || mi > 59 || se > 60)
        return -1;
    *us = ((h * 60 + mi) * 60 + se) * 1000000 + frac;
    return 0;
}

static int parse_bc(const char *s, size_t len, size_t *i, int64_t *y)
{
    if (*i + 3 == len && memcmp(s + *i, " BC", 3) == 0) {
        *y = 1 - *y;
        *i += 3;
    }
    return *i == len ? 0 : -1;
}

static int parse_int(const char *s, size_t len, int64_t *out)
{
    char tmp[32];
    if (len == 0 || len >= sizeof tmp)
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = 0;
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, size_t len, double *out)
{
    char tmp[64];
    if (len == 0 || len >= sizeof tmp)
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = 0;
    char *end;
    double v = strtod(tmp, &end);
    if (*end)
        return -1;
    *out = v;
    return 0;
}

int sl_pg_parse_value(sl_type t, char *s, size_t len, sl_pg_cell *out)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    int64_t y, mo, d, us;
    switch (t) {
    case SL_T_INT64:
        return parse_int(s, len, &out->i64) < 0 ? -1 : SL_PG_CELL_VALUE;
    case SL_T_DOUBLE:
        return parse_double(s, len, &out->f64) < 0 ? -1 : SL_PG_CELL_VALUE;
    case SL_T_BOOL:
        if (len == 1 && (s[0] == 't' || s[0] == 'f')) {
            out->i64 = s[0] == 't';
            return SL_PG_CELL_VALUE;
        }
        return -1;
    case SL_T_DATE:
        if (is_inf(s, len))
            return SL_PG_CELL_INFINITE;
        if (parse_date(s, len, &i, &y, &mo, &d) < 0 || parse_bc(s, len, &i, &y) < 0)
            return -1;
        out->i64 = sl_pg_days_from_civil(y, (unsigned)mo, (unsigned)d);
        return SL_PG_CELL_VALUE;
    case SL_T_TIME:
        if (parse_time(s, len, &i, &us) < 0 || i != len)
            return -1;
        out->i64 = us;
        return SL_PG_CELL_VALUE;
    case SL_T_TIMESTAMP:
    case SL_T_TIMESTAMPTZ: {
        if (is_inf(s, len))
            return SL_PG_CELL_INFINITE;
        if (parse_date(s, len, &i, &y, &mo, &d) < 0 || i >= len || s[i++] != ' ' ||
            parse_time(s, len, &i, &us) < 0)
            return -1;
        int64_t off = 0;
        if (t == SL_T_TIMESTAMPTZ) {
            if (i >= len || (s[i] != '+' && s[i] != '-'))
                return -1;
            int neg = s[i++] == '-';
            int64_t oh, om = 0, os = 0;
            if (digits(s, len, &i, 2, &oh) < 0)
                return -1;
            if (i < len && s[i] == ':') {
                i++;
                if (digits(s, len, &i, 2, &om) < 0)
                    return -1;
                if (i < len && s[i] == ':') {
                    i++;
                    if (digits(s, len, &i, 2, &os) < 0)
                        return -1;
                }
            }
            off = (oh * 3600 + om * 60 + os) * 1000000;
            if (neg)
                off = -off;
        }
        if (parse_bc(s, len, &i, &y) < 0)
            return -1;
        int64_t days = sl_pg_days_from_civil(y, (unsigned)mo, (unsigned)d), v;
        /* PostgreSQL timestamps reach 294276 AD, past what Unix microseconds hold in int64
         * (292277 AD): those few are out of range, like infinity. */
        if (__builtin_mul_overflow(days, INT64_C(86400000000), &v) ||
            __builtin_add_overflow(v, us - off, &v))
            return SL_PG_CELL_INFINITE;
        out->i64 = v;
        return SL_PG_CELL_VALUE;
    }
    case SL_T_BINARY: {
        if (len < 2 || s[0] != '\\' || s[1] != 'x' || (len - 2) % 2)
            return -1;
        size_t n = (len - 2) / 2;
        for (size_t k = 0; k < n; k++) {
            int hi = hexval((unsigned char)s[2 + 2 * k]), lo = hexval((unsigned char)s[3 + 2 * k]);
            if (hi < 0 || lo < 0)
                return -1;
            s[k] = (char)(hi << 4 | lo);
        }
        out->p = s;
        out->len = n;
        return SL_PG_CELL_VALUE;
    }
    case SL_T_DECIMAL:
    case SL_T_STRING:
    default:
        out->p = s;
        out->len = len;
        return SL_PG_CELL_VALUE;
    }
}

int sl_pg_lsn_parse(const char *s, uint64_t *out)
{
    unsigned hi, lo;
    int n = 0;
    if (sscanf(s, "%X/%X%n", &hi, &lo, &n) != 2 || s[n] != 0)
        return -1;
    *out = (uint64_t)hi << 32 | lo;
    return 0;
}

void sl_pg_lsn_format(uint64_t lsn, char *out, size_t outlen)
{
    snprintf(out, outlen, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xffffffffu));
}

/* ---- COPY binary ---- */

static const uint8_t copybin_sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};

int sl_pg_copybin_row(uint8_t *buf, size_t len, int *header_done, sl_pg_field *fields,
                      size_t nfields)
{
    rd r = {buf, len, 0, 0};
    if (!*header_done) {
        if (len < 19 || memcmp(buf, copybin_sig, sizeof copybin_sig) != 0)
            return -1;
        r.off = 11;
        (void)rd_u32(&r); /* flags */
        uint32_t ext = rd_u32(&r);
        if (!rd_need(&r, ext))
            return -1;
        r.off += ext;
        *header_done = 1;
    }
    int16_t n = (int16_t)rd_u16(&r);
    if (r.bad)
        return -1;
    if (n == -1)
        return r.off == len ? 0 : -1;
    if (n < 0 || (size_t)n != nfields)
        return -1;
    for (size_t i = 0; i < nfields; i++) {
        int32_t l = (int32_t)rd_u32(&r);
        if (r.bad)
            return -1;
        if (l == -1) {
            fields[i].p = NULL;
            fields[i].len = 0;
            continue;
        }
        if (l < 0 || !rd_need(&r, (size_t)l))
            return -1;
        fields[i].p = (char *)(buf + r.off);
        fields[i].len = (size_t)l;
        r.off += (size_t)l;
    }
    return r.off == len ? 1 : -1;
}

int sl_pg_binary_ok(uint32_t oid)
{
    switch (oid) {
    case 16:
    case 20:
    case 21:
    case 23:
    case 26:
    case 700:
    case 701:
    case 1700:
    case 1082:
    case 1083:
    case 1114:
    case 1184:
    case 17:
    case 25:
    case 1043:
    case 1042:
    case 19:
        return 1;
    default:
        return 0;
    }
}

static uint64_t be(const char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | (uint8_t)p[i];
    return v;
}

/* PostgreSQL's numeric send format: ndigits, weight, sign, dscale, then base-10000 digits;
 * printed like numeric_out (get_str_from_var). */
static int numeric_text(const char *p, size_t len, sl_pg_cell *out, sl_pg_buf *tmp)
{
    if (len < 8)
        return -1;
    int ndigits = (int16_t)be(p, 2), weight = (int16_t)be(p + 2, 2);
    unsigned sign = (unsigned)be(p + 4, 2);
    int dscale = (int16_t)be(p + 6, 2);
    if (ndigits < 0 || dscale < 0 || len != 8 + (size_t)ndigits * 2)
        return -1;
    const char *special = sign == 0xC000   ? "NaN"
                          : sign == 0xD000 ? "Infinity"
                          : sign == 0xF000 ? "-Infinity"
                                           : NULL;
    if (!special && sign != 0 && sign != 0x4000)
        return -1;
    size_t need = (size_t)(weight > 0 ? weight + 1 : 1) * 4 + (size_t)dscale + 8 + 16;
    if (need > tmp->cap) {
        char *n = realloc(tmp->p, need);
        if (!n)
            return -1;
        tmp->p = n;
        tmp->cap = need;
    }
    char *o = tmp->p;
    if (special) {
        size_t l = strlen(special);
        memcpy(o, special, l);
        out->p = o;
        out->len = l;
        return SL_PG_CELL_VALUE;
    }
    if (sign == 0x4000)
        *o++ = '-';
    int d;
    if (weight < 0) {
        d = weight + 1;
        *o++ = '0';
    } else {
        for (d = 0; d <= weight; d++) {
            unsigned dig = d < ndigits ? (unsigned)be(p + 8 + 2 * d, 2) : 0;
            if (dig > 9999)
                return -1;
            o += d == 0 ? sprintf(o, "%u", dig) : sprintf(o, "%04u", dig);
        }
    }
    if (dscale > 0) {
        *o++ = '.';
        char *start = o;
        for (int i = 0; i < dscale; d++, i += 4) {
            unsigned dig = d >= 0 && d < ndigits ? (unsigned)be(p + 8 + 2 * d, 2) : 0;
            if (dig > 9999)
                return -1;
            o += sprintf(o, "%04u", dig);
        }
        o = start + dscale;
    }
    out->p = tmp->p;
    out->len = (size_t)(o - tmp->p);
    return SL_PG_CELL_VALUE;
}

int sl_pg_parse_binary(sl_type t, uint32_t oid, char *p, size_t len, sl_pg_cell *out,
                       sl_pg_buf *tmp)
{
    memset(out, 0, sizeof *out);
    switch (oid) {
    case 16:
        if (len != 1)
            return -1;
        out->i64 = p[0] != 0;
        return SL_PG_CELL_VALUE;
    case 21:
        if (len != 2)
            return -1;
        out->i64 = (int16_t)be(p, 2);
        return SL_PG_CELL_VALUE;
    case 23:
        if (len != 4)
            return -1;
        out->i64 = (int32_t)be(p, 4);
        return SL_PG_CELL_VALUE;
    case 26:
        if (len != 4)
            return -1;
        out->i64 = (int64_t)be(p, 4);
        return SL_PG_CELL_VALUE;
    case 20:
        if (len != 8)
            return -1;
        out->i64 = (int64_t)be(p, 8);
        return SL_PG_CELL_VALUE;
    case 700: {
        if (len != 4)
            return -1;
        uint32_t b = (uint32_t)be(p, 4);
        float f;
        memcpy(&f, &b, 4);
        /* The double nearest to float4's shortest decimal text, as the text path (and
         * PostgreSQL's float4 -> text) gives: 0.1f becomes 0.1, not 0.10000000149011612. */
        if (isfinite(f)) {
            char buf[32];
            for (int prec = 1; prec <= 9; prec++) {
                snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
                if ((float)strtod(buf, NULL) == f)
                    break;
            }
            out->f64 = strtod(buf, NULL);
        } else {
            out->f64 = f;
        }
        return SL_PG_CELL_VALUE;
    }
    case 701: {
        if (len != 8)
            return -1;
        uint64_t b = be(p, 8);
        memcpy(&out->f64, &b, 8);
        return SL_PG_CELL_VALUE;
    }
    case 1082: {
        if (len != 4)
            return -1;
        int32_t d = (int32_t)be(p, 4);
        if (d == INT32_MAX || d == INT32_MIN)
            return SL_PG_CELL_INFINITE;
        out->i64 = (int64_t)d + 10957;
        return SL_PG_CELL_VALUE;
    }
    case 1083:
        if (len != 8)
            return -1;
        out->i64 = (int64_t)be(p, 8);
        return SL_PG_CELL_VALUE;
    case 1114:
    case 1184: {
        if (len != 8)
            return -1;
        int64_t v = (int64_t)be(p, 8);
        if (v == INT64_MAX || v == INT64_MIN ||
            __builtin_add_overflow(v, SL_PG_EPOCH_OFFSET_US, &out->i64))
            return SL_PG_CELL_INFINITE; /* infinity, or past 292277 AD (see the text path) */
        return SL_PG_CELL_VALUE;
    }
    case 1700:
        return numeric_text(p, len, out, tmp);
    default: /* bytea, text types, and everything cast to text */
        (void)t;
        out->p = p;
        out->len = len;
        return SL_PG_CELL_VALUE;
    }
}
