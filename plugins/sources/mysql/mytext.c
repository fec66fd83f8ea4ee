/* mytext.c - text-protocol values, positions and the default server_id (see mytext.h). */
#include "mytext.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* strtoll & co need a NUL: values are short, so copy into a stack buffer. */
static int cstr(const char *p, size_t len, char *buf, size_t cap)
{
    if (len == 0 || len >= cap)
        return -1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return 0;
}

int sl_my_parse_i64(const char *p, size_t len, int64_t *out)
{
    char b[32], *end;
    if (cstr(p, len, b, sizeof b) < 0)
        return -1;
    errno = 0;
    long long v = strtoll(b, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int sl_my_parse_u64(const char *p, size_t len, uint64_t *out)
{
    char b[32], *end;
    if (cstr(p, len, b, sizeof b) < 0 || b[0] == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(b, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int sl_my_parse_f64(const char *p, size_t len, double *out)
{
    char b[64], *end;
    if (cstr(p, len, b, sizeof b) < 0)
        return -1;
    errno = 0;
    double v = strtod(b, &end);
    if (*end || (errno == ERANGE && fabs(v) > 1.0))
        return -1;
    *out = v;
    return 0;
}

/* Digits p[0..n) as a number; -1 when any is not a digit. */
static int64_t digits(const char *p, size_t n)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

int64_t sl_my_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Hinnant's days_from_civil. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int sl_my_parse_date(const char *p, size_t len, int64_t *days)
{
    if (len != 10 || p[4] != '-' || p[7] != '-')
        return -1;
    int64_t y = digits(p, 4), m = digits(p + 5, 2), d = digits(p + 8, 2);
    if (y < 0 || m < 0 || d < 0)
        return -1;
    static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    /* Zero parts (NO_ZERO_DATE / NO_ZERO_IN_DATE off) and, with ALLOW_INVALID_DATES, a day past
     * the month's end: no calendar day to give. */
    if (y == 0 || m == 0 || d == 0 || m > 12 || d > mdays[m - 1] || (m == 2 && d == 29 && !leap(y)))
        return 1;
    *days = sl_my_days_from_civil(y, (unsigned)m, (unsigned)d);
    return 0;
}

/* "[.ffffff]" at p (len bytes, possibly 0) as microseconds. */
static int frac_us(const char *p, size_t len, int64_t *us)
{
    *us = 0;
    if (len == 0)
        return 0;
    if (p[0] != '.' || len < 2 || len > 7)
        return -1;
    int64_t f = digits(p + 1, len - 1);
    if (f < 0)
        return -1;
    for (size_t i = len - 1; i < 6; i++)
        f *= 10;
    *us = f;
    return 0;
}

int sl_my_parse_time(const char *p, size_t len, int64_t *us)
{
    int neg = len > 0 && p[0] == '-';
    const char *q = p + neg, *end = p + len;
    const char *c1 = memchr(q, ':', (size_t)(end - q));
    if (!c1 || c1 == q || c1 - q > 4 || end - c1 < 6 || c1[3] != ':')
        return -1;
    int64_t h = digits(q, (size_t)(c1 - q)), m = digits(c1 + 1, 2), s = digits(c1 + 4, 2), f;
    if (h < 0 || m < 0 || s < 0 || m > 59 || s > 59 || frac_us(c1 + 6, (size_t)(end - c1 - 6), &f))
        return -1;
    int64_t v = ((h * 60 + m) * 60 + s) * 1000000 + f;
    *us = neg ? -v : v;
    return 0;
}

int sl_my_parse_datetime(const char *p, size_t len, int64_t *us)
{
    if (len < 19 || p[10] != ' ')
        return -1;
    int64_t days, t;
    int rc = sl_my_parse_date(p, 10, &days);
    if (rc != 0) {
        /* A zero date still has to be a well-formed one. */
        return rc == 1 && sl_my_parse_time(p + 11, len - 11, &t) == 0 ? 1 : -1;
    }
    if (sl_my_parse_time(p + 11, len - 11, &t) < 0 || t < 0 || t >= 86400000000LL || p[13] != ':')
        return -1;
    *us = days * 86400000000LL + t;
    return 0;
}

int sl_my_parse_bit(const unsigned char *p, size_t len, uint64_t *out)
{
    if (len > 8)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++)
        v = v << 8 | p[i];
    *out = v;
    return 0;
}

/* ---- positions ---- */

int sl_my_pos_parse(const void *pv, size_t len, sl_my_pos *out)
{
    const char *p = pv;
    if (!p || len < 5 || memcmp(p, "gtid=", 5) != 0)
        return -1;
    const char *end = p + len;
    const char *f = NULL;
    for (const char *q = p + 5; q + 6 <= end; q++)
        if (memcmp(q, ";file=", 6) == 0)
            f = q;
    if (!f)
        return -1;
    size_t glen = (size_t)(f - (p + 5));
    if (glen >= sizeof out->gtid)
        return -1;
    memcpy(out->gtid, p + 5, glen);
    out->gtid[glen] = '\0';
    const char *fn = f + 6;
    const char *ps = NULL;
    for (const char *q = fn; q + 5 <= end; q++)
        if (memcmp(q, ";pos=", 5) == 0)
            ps = q;
    if (!ps || (size_t)(ps - fn) >= sizeof out->file || ps == fn)
        return -1;
    memcpy(out->file, fn, (size_t)(ps - fn));
    out->file[ps - fn] = '\0';
    uint64_t off;
    if (sl_my_parse_u64(ps + 5, (size_t)(end - ps - 5), &off) < 0)
        return -1;
    out->offset = off;
    if (memchr(out->gtid, '\0', glen) || strchr(out->file, ';'))
        return -1;
    return 0;
}

int sl_my_pos_format(const sl_my_pos *pos, char *out, size_t outlen)
{
    int n =
        snprintf(out, outlen, "gtid=%s;file=%s;pos=%" PRIu64, pos->gtid, pos->file, pos->offset);
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}

/* Splits a binlog file name into its base and numeric suffix ("mysql-bin.000012"). */
static int file_split(const char *f, size_t *baselen, uint64_t *num)
{
    const char *dot = strrchr(f, '.');
    if (!dot || sl_my_parse_u64(dot + 1, strlen(dot + 1), num) < 0)
        return -1;
    *baselen = (size_t)(dot - f);
    return 0;
}

static int cmp_file(const sl_my_pos *a, const sl_my_pos *b)
{
    size_t la, lb;
    uint64_t na, nb;
    if (strcmp(a->file, b->file) == 0)
        return a->offset < b->offset ? -1 : a->offset > b->offset;
    if (file_split(a->file, &la, &na) < 0 || file_split(b->file, &lb, &nb) < 0 || la != lb ||
        memcmp(a->file, b->file, la) != 0)
        return 2;
    return na < nb ? -1 : na > nb;
}

/* One entry of a GTID set: [s, e) trimmed of blanks; *next after the comma. */
static int next_entry(const char **cur, const char **s, const char **e)
{
    const char *p = *cur;
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == ',')
        p++;
    if (!*p)
        return 0;
    const char *q = p;
    while (*q && *q != ',')
        q++;
    *s = p;
    *e = q;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\n' || (*e)[-1] == '\t'))
        (*e)--;
    *cur = q;
    return 1;
}

/* MariaDB "domain-server-seq". */
static int maria_entry(const char *s, const char *e, uint64_t *dom, uint64_t *seq)
{
    const char *d1 = memchr(s, '-', (size_t)(e - s));
    const char *d2 = d1 ? memchr(d1 + 1, '-', (size_t)(e - d1 - 1)) : NULL;
    uint64_t srv;
    if (!d2 || sl_my_parse_u64(s, (size_t)(d1 - s), dom) < 0 ||
        sl_my_parse_u64(d1 + 1, (size_t)(d2 - d1 - 1), &srv) < 0 ||
        sl_my_parse_u64(d2 + 1, (size_t)(e - d2 - 1), seq) < 0)
        return -1;
    return 0;
}

static int maria_contains(const char *a, const char *b)
{
    const char *cb = b, *bs, *be;
    while (next_entry(&cb, &bs, &be)) {
        uint64_t db, sb, da, sa;
        if (maria_entry(bs, be, &db, &sb) < 0)
            return -1;
        int found = 0;
        const char *ca = a, *as, *ae;
        while (next_entry(&ca, &as, &ae)) {
            if (maria_entry(as, ae, &da, &sa) < 0)
                return -1;
            if (da == db) {
                found = 1;
                if (sa < sb)
                    return 0;
            }
        }
        if (!found)
            return 0;
    }
    return 1;
}

/* MySQL "uuid[:tag]:a-b:c..." : the key is everything before the first interval. */
static const char *mysql_ivals(const char *s, const char *e)
{
    for (const char *p = s; p < e; p++)
        if (*p == ':' && p + 1 < e && p[1] >= '0' && p[1] <= '9')
            return p;
    return NULL;
}

static int mysql_iv(const char **p, const char *e, uint64_t *lo, uint64_t *hi)
{
    if (*p >= e || **p != ':')
        return 0;
    const char *s = *p + 1, *q = s;
    while (q < e && *q != ':')
        q++;
    const char *dash = memchr(s, '-', (size_t)(q - s));
    if (sl_my_parse_u64(s, (size_t)((dash ? dash : q) - s), lo) < 0)
        return -1;
    *hi = *lo;
    if (dash && sl_my_parse_u64(dash + 1, (size_t)(q - dash - 1), hi) < 0)
        return -1;
    *p = q;
    return *lo <= *hi ? 1 : -1;
}

static int mysql_contains(const char *a, const char *b)
{
    const char *cb = b, *bs, *be;
    while (next_entry(&cb, &bs, &be)) {
        const char *bi = mysql_ivals(bs, be);
        if (!bi)
            return -1;
        uint64_t lo, hi;
        int r;
        while ((r = mysql_iv(&bi, be, &lo, &hi)) == 1) {
            int covered = 0;
            const char *ca = a, *as, *ae;
            while (!covered && next_entry(&ca, &as, &ae)) {
                const char *ai = mysql_ivals(as, ae);
                if (!ai)
                    return -1;
                if (!(mysql_ivals(bs, be) - bs == ai - as &&
                      strncasecmp(as, bs, (size_t)(ai - as)) == 0))
                    continue;
                uint64_t alo, ahi;
                int ra;
                /* gtid_executed keeps intervals merged, so one interval covers or none does. */
                while ((ra = mysql_iv(&ai, ae, &alo, &ahi)) == 1)
                    if (alo <= lo && hi <= ahi)
                        covered = 1;
                if (ra < 0)
                    return -1;
            }
            if (!covered)
                return 0;
        }
        if (r < 0)
            return -1;
    }
    return 1;
}

static int flavour(const char *g)
{
    const char *c = g, *s, *e;
    int fl = 0;
    while (next_entry(&c, &s, &e)) {
        int f = memchr(s, ':', (size_t)(e - s)) ? 2 : 1;
        if (fl && f != fl)
            return -1;
        fl = f;
    }
    return fl;
}

int sl_my_gtid_contains(const char *a, const char *b)
{
    int fa = flavour(a), fb = flavour(b);
    if (fa < 0 || fb < 0)
        return -1;
    if (fb == 0)
        return 1; /* the empty set */
    if (fa == 0)
        return 0;
    if (fa != fb)
        return -1;
    return fa == 1 ? maria_contains(a, b) : mysql_contains(a, b);
}

int sl_my_pos_compare(const sl_my_pos *a, const sl_my_pos *b)
{
    if (a->gtid[0] && b->gtid[0]) {
        int ab = sl_my_gtid_contains(a->gtid, b->gtid);
        int ba = sl_my_gtid_contains(b->gtid, a->gtid);
        if (ab < 0 || ba < 0)
            return 2;
        if (ab && !ba)
            return 1;
        if (ba && !ab)
            return -1;
        if (!ab && !ba)
            return 2;
    }
    return cmp_file(a, b);
}

uint32_t sl_my_default_server_id(const char *tenant)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)tenant; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return (1u << 30) + (h & ((1u << 30) - 1));
}
