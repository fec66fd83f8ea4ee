#include "valtext.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Days <-> civil date in the proleptic Gregorian calendar (H. Hinnant's algorithms). */
void sl_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

int64_t sl_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static void put_time(sl_buf *out, int64_t us_of_day)
{
    int64_t s = us_of_day / 1000000, frac = us_of_day % 1000000;
    sl_buf_printf(out, "%02lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60),
                  (long long)(s % 60));
    if (frac)
        sl_buf_printf(out, ".%06lld", (long long)frac);
}

static void put_date(sl_buf *out, int64_t days)
{
    int64_t y;
    unsigned m, d;
    sl_civil_from_days(days, &y, &m, &d);
    sl_buf_printf(out, "%04lld-%02u-%02u", (long long)y, m, d);
}

void sl_value_text(sl_buf *out, sl_type t, const sl_value *v, int tz_minutes)
{
    if (v->flag != SL_CELL_VALUE)
        return;
    switch (t) {
    case SL_T_INT64:
        sl_buf_printf(out, "%lld", (long long)v->i);
        break;
    case SL_T_DOUBLE: {
        if (isnan(v->f)) {
            sl_buf_printf(out, "NaN");
            break;
        }
        if (isinf(v->f)) {
            sl_buf_printf(out, v->f > 0 ? "Infinity" : "-Infinity");
            break;
        }
        char tmp[40];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, v->f);
            if (strtod(tmp, NULL) == v->f)
                break;
        }
        sl_buf_printf(out, "%s", tmp);
        break;
    }
    case SL_T_DECIMAL:
    case SL_T_STRING:
        sl_buf_add(out, v->p, v->len);
        break;
    case SL_T_BINARY:
        sl_buf_add(out, "\\x", 2);
        for (size_t i = 0; i < v->len; i++)
            sl_buf_printf(out, "%02x", (unsigned char)v->p[i]);
        break;
    case SL_T_BOOL:
        sl_buf_printf(out, v->i ? "true" : "false");
        break;
    case SL_T_DATE:
        put_date(out, v->i);
        break;
    case SL_T_TIME:
        put_time(out, v->i);
        break;
    case SL_T_TIMESTAMP:
    case SL_T_TIMESTAMPTZ: {
        int64_t us = v->i + (t == SL_T_TIMESTAMPTZ ? (int64_t)tz_minutes * 60000000 : 0);
        int64_t days = floordiv(us, 86400000000LL);
        put_date(out, days);
        sl_buf_add(out, " ", 1);
        put_time(out, us - days * 86400000000LL);
        if (t == SL_T_TIMESTAMPTZ) {
            if (tz_minutes == 0)
                sl_buf_add(out, "Z", 1);
            else
                sl_buf_printf(out, "%c%02d:%02d", tz_minutes < 0 ? '-' : '+', abs(tz_minutes) / 60,
                              abs(tz_minutes) % 60);
        }
        break;
    }
    }
}
