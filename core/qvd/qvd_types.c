/* Calendar and text helpers for the engine <-> QVD type mapping (docs/qvd-types.md), and
 * sl_qvd_symbol_to_value, the exact inverse of the writer's mapping. */
#include "qvd_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Dates further than this from 1970 are refused (keeps every computation inside int64). */
#define SL_QVD_MAX_ABS_DAYS 3000000000LL

int64_t sl_qvd_floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

int sl_qvd_fmt_double(double d, char *buf, size_t len)
{
    if (isnan(d))
        return snprintf(buf, len, "NaN");
    if (isinf(d))
        return snprintf(buf, len, d > 0 ? "+Inf" : "-Inf");
    /* The fewest significant digits that read back exactly ("%.*e" gives them and the exponent).
     */
    char e[40];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, d);
        if (strtod(e, NULL) == d)
            break;
    }
    /* Laid out as ECMAScript's Number::toString does (10, 670, 0.000001, 1e+21, 1e-7): plain
     * notation for 1e-6 <= |d| < 1e21, as Qlik shows numbers, never "1e+01". */
    char dig[20];
    int nd = 0;
    const char *p = e;
    int neg = *p == '-';
    if (neg)
        p++;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            dig[nd++] = *p;
    int x = *p == 'e' ? atoi(p + 1) : 0;
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    char o[64];
    int n = 0;
    if (neg)
        o[n++] = '-';
    if (d == 0) {
        o[n++] = '0';
    } else if (x >= 21 || x < -6) {
        o[n++] = dig[0];
        if (nd > 1) {
            o[n++] = '.';
            memcpy(o + n, dig + 1, (size_t)nd - 1);
            n += nd - 1;
        }
        n += snprintf(o + n, sizeof o - (size_t)n, "e%c%d", x < 0 ? '-' : '+', abs(x));
    } else if (x >= 0) {
        for (int i = 0; i <= x || i < nd; i++) {
            if (i == x + 1)
                o[n++] = '.';
            o[n++] = i < nd ? dig[i] : '0';
        }
    } else {
        o[n++] = '0';
        o[n++] = '.';
        for (int i = 0; i < -x - 1; i++)
            o[n++] = '0';
        memcpy(o + n, dig, (size_t)nd);
        n += nd;
    }
    o[n] = '\0';
    return snprintf(buf, len, "%s", o);
}

/* Howard Hinnant's civil calendar algorithms (public domain), proleptic Gregorian. */
void sl_qvd_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = sl_qvd_floordiv(z, 146097);
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

int64_t sl_qvd_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = sl_qvd_floordiv(y, 400);
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Writes v as exactly w digits (v < 10^w). Hand-rolled: these run for every date/time cell. */
static void put_digits(char *o, uint64_t v, int w)
{
    for (int i = w - 1; i >= 0; i--) {
        o[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

int sl_qvd_fmt_date(int64_t days, char *buf, size_t len)
{
    if (days > SL_QVD_MAX_ABS_DAYS || days < -SL_QVD_MAX_ABS_DAYS)
        return -1;
    int64_t y;
    unsigned m, d;
    sl_qvd_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) /* rare: let printf handle signs and long years */
        return y < 0 ? snprintf(buf, len, "-%04" PRId64 "-%02u-%02u", -y, m, d)
                     : snprintf(buf, len, "%04" PRId64 "-%02u-%02u", y, m, d);
    if (len < 11)
        return -1;
    put_digits(buf, (uint64_t)y, 4);
    buf[4] = '-';
    put_digits(buf + 5, m, 2);
    buf[7] = '-';
    put_digits(buf + 8, d, 2);
    buf[10] = '\0';
    return 10;
}

int sl_qvd_fmt_time(int64_t us, char *buf, size_t len)
{
    const char *sign = "";
    uint64_t u = (uint64_t)us;
    if (us < 0) {
        sign = "-";
        u = (uint64_t)0 - u;
    }
    uint64_t sec = u / 1000000u, frac = u % 1000000u;
    if (us < 0 || sec / 3600 > 99 || len < 16) /* rare: negative or 100+ hours */
        return frac ? snprintf(buf, len, "%s%02" PRIu64 ":%02u:%02u.%06u", sign, sec / 3600,
                               (unsigned)(sec / 60 % 60), (unsigned)(sec % 60), (unsigned)frac)
                    : snprintf(buf, len, "%s%02" PRIu64 ":%02u:%02u", sign, sec / 3600,
                               (unsigned)(sec / 60 % 60), (unsigned)(sec % 60));
    put_digits(buf, sec / 3600, 2);
    buf[2] = ':';
    put_digits(buf + 3, sec / 60 % 60, 2);
    buf[5] = ':';
    put_digits(buf + 6, sec % 60, 2);
    if (!frac) {
        buf[8] = '\0';
        return 8;
    }
    buf[8] = '.';
    put_digits(buf + 9, frac, 6);
    buf[15] = '\0';
    return 15;
}

int sl_qvd_fmt_timestamp(int64_t us, char *buf, size_t len)
{
    int64_t days = sl_qvd_floordiv(us, SL_QVD_US_PER_DAY);
    int64_t rem = us - days * SL_QVD_US_PER_DAY;
    int n = sl_qvd_fmt_date(days, buf, len);
    if (n < 0 || (size_t)n + 1 >= len)
        return -1;
    buf[n] = ' ';
    int t = sl_qvd_fmt_time(rem, buf + n + 1, len - (size_t)n - 1);
    if (t < 0)
        return -1;
    return n + 1 + t;
}

/* Reads exactly w digits (w > 0) or, with w == 0, one or more digits (at most 12). */
static int digits(const char **s, const char *e, int w, int64_t *v)
{
    int64_t x = 0;
    int k = 0;
    while (*s < e && **s >= '0' && **s <= '9' && (w ? k < w : k < 12)) {
        x = x * 10 + (**s - '0');
        (*s)++;
        k++;
    }
    if (k == 0 || (w && k != w))
        return -1;
    *v = x;
    return 0;
}

static int parse_date_at(const char **s, const char *e, int64_t *days)
{
    int neg = 0;
    int64_t y, m, d;
    if (*s < e && **s == '-') {
        neg = 1;
        (*s)++;
    }
    if (digits(s, e, 0, &y) != 0 || *s >= e || **s != '-')
        return -1;
    (*s)++;
    if (digits(s, e, 2, &m) != 0 || *s >= e || **s != '-')
        return -1;
    (*s)++;
    if (digits(s, e, 2, &d) != 0)
        return -1;
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    *days = sl_qvd_days_from_civil(neg ? -y : y, (unsigned)m, (unsigned)d);
    return 0;
}

static int parse_time_at(const char **s, const char *e, int64_t *us)
{
    int neg = 0;
    int64_t h, mi, se, f = 0;
    if (*s < e && **s == '-') {
        neg = 1;
        (*s)++;
    }
    if (digits(s, e, 0, &h) != 0 || *s >= e || **s != ':')
        return -1;
    (*s)++;
    if (digits(s, e, 2, &mi) != 0 || *s >= e || **s != ':')
        return -1;
    (*s)++;
    if (digits(s, e, 2, &se) != 0 || mi > 59 || se > 60 || h > 2562047788LL)
        return -1;
    if (*s < e && **s == '.') {
        (*s)++;
        int k = 0;
        while (*s < e && **s >= '0' && **s <= '9') {
            if (k < 6)
                f = f * 10 + (**s - '0');
            k++;
            (*s)++;
        }
        if (k == 0)
            return -1;
        for (; k < 6; k++)
            f *= 10;
    }
    int64_t v;
    if (__builtin_mul_overflow((h * 60 + mi) * 60 + se, (int64_t)1000000, &v) ||
        __builtin_add_overflow(v, f, &v))
        return -1;
    *us = neg ? -v : v;
    return 0;
}

int sl_qvd_parse_date(const char *s, size_t n, int64_t *days)
{
    const char *e = s + n;
    if (parse_date_at(&s, e, days) != 0 || s != e)
        return -1;
    return 0;
}

int sl_qvd_parse_time(const char *s, size_t n, int64_t *us)
{
    const char *e = s + n;
    if (parse_time_at(&s, e, us) != 0 || s != e)
        return -1;
    return 0;
}

int sl_qvd_parse_timestamp(const char *s, size_t n, int64_t *us, int *offsec, int *has_off)
{
    const char *e = s + n;
    int64_t days, t;
    *offsec = 0;
    if (has_off)
        *has_off = 0;
    if (parse_date_at(&s, e, &days) != 0 || s >= e || (*s != ' ' && *s != 'T'))
        return -1;
    s++;
    if (s >= e || *s == '-' || parse_time_at(&s, e, &t) != 0)
        return -1;
    if (days > SL_QVD_MAX_ABS_DAYS || days < -SL_QVD_MAX_ABS_DAYS)
        return -1;
    if (s < e) {
        /* " +hh:mm" zone suffix (TIMESTAMPTZ shown in a non-UTC zone, TIMESTAMPOFF), with
         * seconds for offsets such as local mean time */
        int64_t oh, om, os = 0;
        if (*s == ' ')
            s++;
        if (s >= e || (*s != '+' && *s != '-'))
            return -1;
        int sign = *s == '-' ? -1 : 1;
        s++;
        if (digits(&s, e, 2, &oh) != 0 || s >= e || *s != ':')
            return -1;
        s++;
        if (digits(&s, e, 2, &om) != 0 || om > 59)
            return -1;
        if (s < e && *s == ':') {
            s++;
            if (digits(&s, e, 2, &os) != 0 || os > 59)
                return -1;
        }
        if (s != e)
            return -1;
        *offsec = sign * (int)(oh * 3600 + om * 60 + os);
        if (has_off)
            *has_off = 1;
    }
    int64_t base;
    if (__builtin_mul_overflow(days, SL_QVD_US_PER_DAY, &base) ||
        __builtin_add_overflow(base, t, us))
        return -1; /* beyond the int64 microsecond range (found by fuzz_qvd_read) */
    return 0;
}

/* ---- exact decimal values ---- */

int sl_qvd_decimal_parse(const char *s, size_t n, sl_qvd_decimal *d, char *buf)
{
    size_t i = 0, k = 0;
    long frac = 0, e = 0;
    d->neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        d->neg = s[i++] == '-';
    int any = 0, dot = 0;
    for (; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            any = 1;
            frac += dot;
            if (k == 0 && s[i] == '0') /* a leading zero only shifts the scale */
                continue;
            if (k >= SL_QVD_DECIMAL_DIGITS)
                return -1;
            buf[k++] = s[i];
        } else if (s[i] == '.' && !dot) {
            dot = 1;
        } else {
            break;
        }
    }
    if (!any)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0, ed = 0;
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            eneg = s[i++] == '-';
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, ed++)
            if (e < 100000000)
                e = e * 10 + (s[i] - '0');
        if (!ed)
            return -1;
        if (eneg)
            e = -e;
    }
    if (i != n)
        return -1;
    while (k > 0 && buf[k - 1] == '0') {
        k--;
        frac--;
    }
    if (k == 0) { /* zero: no sign, no scale */
        d->neg = 0;
        frac = e = 0;
    }
    d->digits = buf;
    d->ndigits = k;
    d->exp10 = e - frac;
    return 0;
}

int sl_qvd_decimal_eq(const sl_qvd_decimal *a, const sl_qvd_decimal *b)
{
    return a->neg == b->neg && a->ndigits == b->ndigits && a->exp10 == b->exp10 &&
           memcmp(a->digits, b->digits, a->ndigits) == 0;
}

/* ---- symbol -> engine value ---- */

static int sym_has_text(const sl_qvd_symbol *s)
{
    return s->type == SL_QVD_SYM_STRING || s->type == SL_QVD_SYM_DUAL_INT ||
           s->type == SL_QVD_SYM_DUAL_DOUBLE;
}

static int sym_number(const sl_qvd_symbol *s, double *d)
{
    switch (s->type) {
    case SL_QVD_SYM_INT:
    case SL_QVD_SYM_DUAL_INT:
        *d = s->i;
        return 0;
    case SL_QVD_SYM_DOUBLE:
    case SL_QVD_SYM_DUAL_DOUBLE:
        *d = s->d;
        return 0;
    default:
        return -1;
    }
}

static int parse_i64(const char *s, size_t n, int64_t *v)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (errno || *end || !(buf[0] == '-' || (buf[0] >= '0' && buf[0] <= '9')))
        return -1;
    *v = x;
    return 0;
}

static int parse_u64(const char *s, size_t n, uint64_t *v)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf || s[0] < '0' || s[0] > '9')
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    unsigned long long x = strtoull(buf, &end, 10);
    if (errno || *end)
        return -1;
    *v = x;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int number_as_text(const sl_qvd_symbol *sym, sl_value *out, char *scratch, size_t scratchlen)
{
    int n;
    if (sym->type == SL_QVD_SYM_INT)
        n = snprintf(scratch, scratchlen, "%" PRId32, sym->i);
    else
        n = sl_qvd_fmt_double(sym->d, scratch, scratchlen);
    if (n < 0 || (size_t)n >= scratchlen)
        return -1;
    out->p = scratch;
    out->len = (size_t)n;
    return 0;
}

int sl_qvd_symbol_to_value(const sl_qvd_symbol *sym, sl_type t, sl_value *out, char *scratch,
                           size_t scratchlen)
{
    double d;
    int64_t v;
    uint64_t u;
    int off;
    memset(out, 0, sizeof *out);
    out->flag = SL_CELL_VALUE;
    if (!sym) {
        out->flag = SL_CELL_NULL;
        return 0;
    }
    const int text = sym_has_text(sym);
    switch (t) {
    case SL_T_UINT64:
        /* above 2^53 the text is exact (dual or, sharing a number, text only) */
        if (text && parse_u64(sym->s, sym->slen, &u) == 0) {
            out->i = (int64_t)u;
            return 0;
        }
        if (sym_number(sym, &d) != 0 || d != floor(d) || d < 0 || d > 9007199254740992.0)
            return -1;
        out->i = (int64_t)d;
        return 0;
    case SL_T_TIMESTAMPOFF:
        /* the text is the source's wall clock and offset; without an offset it is UTC */
        if (text && sl_qvd_parse_timestamp(sym->s, sym->slen, &v, &off, NULL) == 0) {
            if (__builtin_sub_overflow(v, (int64_t)off * 1000000, &out->i))
                return -1;
            out->aux = off;
            return 0;
        }
        if (sym_number(sym, &d) != 0 || !isfinite(d) || fabs(d) > 1e8)
            return -1;
        out->i = (int64_t)llround((d - SL_QVD_EPOCH_SERIAL) * (double)SL_QVD_US_PER_DAY);
        return 0;
    case SL_T_INT64:
        /* Beyond int32 the writer stores a dual double whose text is exact. */
        if (text && parse_i64(sym->s, sym->slen, &v) == 0) {
            out->i = v;
            return 0;
        }
        if (sym_number(sym, &d) != 0 || d != floor(d) || fabs(d) > 9007199254740992.0)
            return -1;
        out->i = (int64_t)d;
        return 0;
    case SL_T_DOUBLE:
        if (sym_number(sym, &d) == 0) {
            out->f = d;
            return 0;
        }
        if (text && sym->slen > 0) {
            char *end;
            out->f = strtod(sym->s, &end);
            return *end ? -1 : 0;
        }
        return -1;
    case SL_T_DECIMAL:
    case SL_T_STRING:
        if (text) {
            out->p = sym->s;
            out->len = sym->slen;
            return 0;
        }
        return number_as_text(sym, out, scratch, scratchlen);
    case SL_T_BOOL:
        if (sym_number(sym, &d) == 0) {
            out->i = d != 0;
            return 0;
        }
        if (sym->slen == 4 && memcmp(sym->s, "true", 4) == 0)
            out->i = 1;
        else if (sym->slen == 5 && memcmp(sym->s, "false", 5) == 0)
            out->i = 0;
        else
            return -1;
        return 0;
    case SL_T_DATE:
        if (text && sl_qvd_parse_date(sym->s, sym->slen, &v) == 0) {
            out->i = v;
            return 0;
        }
        if (sym_number(sym, &d) != 0 || !isfinite(d) || fabs(d) > 1e12)
            return -1;
        out->i = (int64_t)floor(d) - SL_QVD_EPOCH_SERIAL;
        return 0;
    case SL_T_TIME:
        if (text && sl_qvd_parse_time(sym->s, sym->slen, &v) == 0) {
            out->i = v;
            return 0;
        }
        if (sym_number(sym, &d) != 0 || !isfinite(d) || fabs(d) > 1e12)
            return -1;
        /* a number may carry a day part (PyQvd issue #7): keep the time of day */
        out->i = (int64_t)llround((d - floor(d)) * (double)SL_QVD_US_PER_DAY);
        return 0;
    case SL_T_TIMESTAMP:
    case SL_T_TIMESTAMPTZ:
        if (text && sl_qvd_parse_timestamp(sym->s, sym->slen, &v, &off, NULL) == 0) {
            /* the text is wall clock in the zone its suffix names; engine TZ values are UTC */
            if (t != SL_T_TIMESTAMPTZ)
                off = 0;
            if (__builtin_sub_overflow(v, (int64_t)off * 1000000, &out->i))
                return -1;
            return 0;
        }
        if (sym_number(sym, &d) != 0 || !isfinite(d) || fabs(d) > 1e8)
            return -1;
        out->i = (int64_t)llround((d - SL_QVD_EPOCH_SERIAL) * (double)SL_QVD_US_PER_DAY);
        return 0;
    case SL_T_BINARY:
        if (!text)
            return -1;
        if (sym->slen >= 2 && sym->s[0] == '\\' && sym->s[1] == 'x' && sym->slen % 2 == 0) {
            size_t n = (sym->slen - 2) / 2;
            if (n > scratchlen)
                return -1;
            for (size_t i = 0; i < n; i++) {
                int hi = hexval(sym->s[2 + 2 * i]), lo = hexval(sym->s[3 + 2 * i]);
                if (hi < 0 || lo < 0)
                    return -1;
                scratch[i] = (char)(hi << 4 | lo);
            }
            out->p = scratch;
            out->len = n;
            return 0;
        }
        return -1;
    }
    return -1;
}

size_t sl_qvd_symbol_scratch_size(const sl_qvd_symbol *sym, sl_type t)
{
    if (t == SL_T_BINARY && sym && sym->slen > 64)
        return sym->slen / 2;
    return 64;
}
