#include "qvd/qvd.h"
#include "sl_test.h"
#include "valtext.h"

static char *text(sl_type t, int64_t i, double f, int tz)
{
    static char out[128];
    sl_buf b = {0};
    sl_value v = {.flag = SL_CELL_VALUE, .i = i, .f = f};
    sl_value_text(&b, t, &v, tz);
    snprintf(out, sizeof out, "%s", b.p ? b.p : "");
    sl_buf_free(&b);
    return out;
}

static void test_dates(void)
{
    CHECK_EQ_STR(text(SL_T_DATE, 0, 0, 0), "1970-01-01");
    CHECK_EQ_STR(text(SL_T_DATE, -25569, 0, 0), "1899-12-30"); /* Qlik's day 0 */
    CHECK_EQ_STR(text(SL_T_DATE, 19723, 0, 0), "2024-01-01");
    CHECK_EQ_STR(text(SL_T_DATE, -719528, 0, 0), "0000-01-01");
    for (int64_t d = -800000; d < 800000; d += 997) {
        int64_t y;
        unsigned m, dd;
        sl_qvd_civil_from_days(d, &y, &m, &dd);
        CHECK_EQ_INT(sl_qvd_days_from_civil(y, m, dd), d);
    }
}

static void test_times(void)
{
    CHECK_EQ_STR(text(SL_T_TIME, 0, 0, 0), "00:00:00");
    CHECK_EQ_STR(text(SL_T_TIME, 86399999999LL, 0, 0), "23:59:59.999999");
    CHECK_EQ_STR(text(SL_T_TIMESTAMP, 1704067200000000LL + 5, 0, 0), "2024-01-01 00:00:00.000005");
    CHECK_EQ_STR(text(SL_T_TIMESTAMP, -1, 0, 0), "1969-12-31 23:59:59.999999");
    CHECK_EQ_STR(text(SL_T_TIMESTAMPTZ, 0, 0, 0), "1970-01-01 00:00:00Z");
    CHECK_EQ_STR(text(SL_T_TIMESTAMPTZ, 0, 0, 120), "1970-01-01 02:00:00+02:00");
    CHECK_EQ_STR(text(SL_T_TIMESTAMPTZ, 0, 0, -330), "1969-12-31 18:30:00-05:30");
}

static void test_timestampoff(void)
{
    sl_buf b = {0};
    sl_value v = {.flag = SL_CELL_VALUE, .i = 1710072000000000LL, .aux = -19800};
    sl_value_text(&b, SL_T_TIMESTAMPOFF, &v, 0);
    CHECK_EQ_STR(b.p, "2024-03-10 06:30:00-05:30");
    sl_buf_free(&b);
    b = (sl_buf){0};
    v.aux = -561; /* local mean time: the offset keeps its seconds, as the wall clock does */
    sl_value_text(&b, SL_T_TIMESTAMPOFF, &v, 0);
    CHECK_EQ_STR(b.p, "2024-03-10 11:50:39-00:09:21");
    sl_buf_free(&b);
}

static void test_numbers(void)
{
    CHECK_EQ_STR(text(SL_T_DOUBLE, 0, 0.1, 0), "0.1");
    CHECK_EQ_STR(text(SL_T_DOUBLE, 0, 1.0 / 3.0, 0), "0.3333333333333333");
    CHECK_EQ_STR(text(SL_T_DOUBLE, 0, 1e300, 0), "1e+300");
    CHECK_EQ_STR(text(SL_T_INT64, INT64_MIN, 0, 0), "-9223372036854775808");
    CHECK_EQ_STR(text(SL_T_BOOL, 1, 0, 0), "true");
}

int main(void)
{
    SL_RUN(test_dates);
    SL_RUN(test_times);
    SL_RUN(test_numbers);
    SL_RUN(test_timestampoff);
    SL_DONE();
}
