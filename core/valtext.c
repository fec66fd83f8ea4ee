#include "valtext.h"

#include "qvd/qvd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The QVD codec's texts, so CSV output and QVD duals show dates and times identically. Out of
 * range values (beyond year +-9999999) fall back to the raw number. */
static void put_date(sl_buf *out, int64_t days)
{
    char tmp[40];
    int n = sl_qvd_fmt_date(days, tmp, sizeof tmp);
    if (n < 0)
        sl_buf_printf(out, "%lld", (long long)days);
    else
        sl_buf_add(out, tmp, (size_t)n);
}

static void put_time(sl_buf *out, int64_t us_of_day)
{
    char tmp[40];
    int n = sl_qvd_fmt_time(us_of_day, tmp, sizeof tmp);
    if (n < 0)
        sl_buf_printf(out, "%lld", (long long)us_of_day);
    else
        sl_buf_add(out, tmp, (size_t)n);
}

void sl_value_text(sl_buf *out, sl_type t, const sl_value *v, int tz_minutes)
{
    if (v->flag != SL_CELL_VALUE)
        return;
    switch (t) {
    case SL_T_INT64:
        sl_buf_printf(out, "%lld", (long long)v->i);
        break;
    case SL_T_UINT64:
        sl_buf_printf(out, "%llu", (unsigned long long)(uint64_t)v->i);
        break;
    case SL_T_TIMESTAMPOFF: {
        /* The source's own wall time and offset, as SQL Server prints a datetimeoffset. */
        int64_t us = v->i + (int64_t)v->aux * 1000000;
        int64_t days = floordiv(us, 86400000000LL);
        put_date(out, days);
        sl_buf_add(out, " ", 1);
        put_time(out, us - days * 86400000000LL);
        /* seconds only when the offset has them (local mean time): the text stays exact */
        int a = abs(v->aux);
        sl_buf_printf(out, "%c%02d:%02d", v->aux < 0 ? '-' : '+', a / 3600, a / 60 % 60);
        if (a % 60)
            sl_buf_printf(out, ":%02d", a % 60);
        break;
    }
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
