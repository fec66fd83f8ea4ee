/* Unit tests of the mysql source's pure helpers: text-protocol values (zero dates, negative and
 * > 24 h TIME, fractions, BIGINT UNSIGNED), positions and their order (GTID containment). */
#include "mytext.h"
#include "sl_test.h"

#include <stdint.h>

#define S(lit) lit, sizeof(lit) - 1

static int cmp(const char *a, const char *b)
{
    sl_my_pos x, y;
    if (sl_my_pos_parse(a, strlen(a), &x) || sl_my_pos_parse(b, strlen(b), &y))
        return -99;
    return sl_my_pos_compare(&x, &y);
}

static void test_integers(void)
{
    int64_t i;
    uint64_t u;
    CHECK(sl_my_parse_i64(S("-9223372036854775808"), &i) == 0 && i == INT64_MIN);
    CHECK(sl_my_parse_u64(S("18446744073709551615"), &u) == 0 && u == UINT64_MAX);
    CHECK(sl_my_parse_u64(S("9223372036854775808"), &u) == 0 && u == 9223372036854775808ull);
    CHECK(sl_my_parse_u64(S("-1"), &u) < 0);
    CHECK(sl_my_parse_i64(S("12x"), &i) < 0);
    CHECK(sl_my_parse_i64("", 0, &i) < 0);
    const unsigned char bits[] = {0x01, 0x02, 0x03};
    CHECK(sl_my_parse_bit(bits, 3, &u) == 0 && u == 0x010203);
    const unsigned char b64[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CHECK(sl_my_parse_bit(b64, 8, &u) == 0 && u == UINT64_MAX);
}

static void test_dates(void)
{
    int64_t v;
    CHECK(sl_my_parse_date(S("1970-01-01"), &v) == 0 && v == 0);
    CHECK(sl_my_parse_date(S("2024-02-29"), &v) == 0 && v == 19782);
    CHECK(sl_my_parse_date(S("1000-01-01"), &v) == 0 && v == -354285);
    CHECK_EQ_INT(sl_my_parse_date(S("0000-00-00"), &v), 1);
    CHECK_EQ_INT(sl_my_parse_date(S("2024-00-10"), &v), 1);
    CHECK_EQ_INT(sl_my_parse_date(S("2024-05-00"), &v), 1);
    CHECK_EQ_INT(sl_my_parse_date(S("2023-02-29"), &v), 1); /* ALLOW_INVALID_DATES */
    CHECK_EQ_INT(sl_my_parse_date(S("2024-1-01"), &v), -1);
    CHECK(sl_my_parse_datetime(S("1970-01-02 00:00:01.5"), &v) == 0 && v == 86401500000);
    CHECK(sl_my_parse_datetime(S("1969-12-31 23:59:59.999999"), &v) == 0 && v == -1);
    CHECK_EQ_INT(sl_my_parse_datetime(S("0000-00-00 00:00:00"), &v), 1);
    CHECK_EQ_INT(sl_my_parse_datetime(S("2024-01-01 24:00:00"), &v), -1);
    CHECK_EQ_INT(sl_my_parse_datetime(S("2024-01-01"), &v), -1);
}

static void test_times(void)
{
    int64_t v;
    CHECK(sl_my_parse_time(S("00:00:00"), &v) == 0 && v == 0);
    CHECK(sl_my_parse_time(S("12:34:56.78"), &v) == 0 && v == 45296780000);
    CHECK(sl_my_parse_time(S("-12:34:56.78"), &v) == 0 && v == -45296780000);
    CHECK(sl_my_parse_time(S("838:59:59.000000"), &v) == 0 && v == 3020399000000);
    CHECK(sl_my_parse_time(S("-838:59:59"), &v) == 0 && v == -3020399000000);
    CHECK(sl_my_parse_time(S("-00:00:00.5"), &v) == 0 && v == -500000);
    CHECK(sl_my_parse_time(S("12:60:00"), &v) < 0);
    CHECK(sl_my_parse_time(S("12:00"), &v) < 0);
    CHECK(sl_my_parse_time(S("1:00:00.1234567"), &v) < 0);
}

static void test_pos_text(void)
{
    sl_my_pos p;
    const char *t = "gtid=0-1-5,1-2-9;file=mysql-bin.000012;pos=4711";
    CHECK(sl_my_pos_parse(t, strlen(t), &p) == 0);
    CHECK_EQ_STR(p.gtid, "0-1-5,1-2-9");
    CHECK_EQ_STR(p.file, "mysql-bin.000012");
    CHECK(p.offset == 4711);
    char out[256];
    CHECK(sl_my_pos_format(&p, out, sizeof out) == (int)strlen(t));
    CHECK_EQ_STR(out, t);
    CHECK(sl_my_pos_parse("lsn=0/1", 7, &p) < 0);
    CHECK(sl_my_pos_parse("gtid=;file=;pos=1", 17, &p) < 0);
    CHECK(sl_my_pos_parse("gtid=;file=a.1;pos=x", 20, &p) < 0);
    CHECK(sl_my_pos_parse("gtid=;file=a.1;pos=1", 20, &p) == 0 && p.gtid[0] == 0);
}

static void test_pos_order(void)
{
    /* Files: the numeric suffix orders, then the offset. */
    CHECK(cmp("gtid=;file=b.000002;pos=4", "gtid=;file=b.000010;pos=4") < 0);
    CHECK(cmp("gtid=;file=b.000010;pos=900", "gtid=;file=b.000010;pos=4") > 0);
    CHECK(cmp("gtid=;file=b.000010;pos=4", "gtid=;file=b.000010;pos=4") == 0);
    CHECK(cmp("gtid=;file=a.000010;pos=4", "gtid=;file=b.000010;pos=4") == 2);
    /* MariaDB GTIDs: per domain; another server's file numbers do not matter. */
    CHECK(cmp("gtid=0-1-5;file=b.000009;pos=4", "gtid=0-2-6;file=b.000001;pos=4") < 0);
    CHECK(cmp("gtid=0-1-5,1-1-3;file=b.1;pos=4", "gtid=0-1-5;file=b.1;pos=4") > 0);
    CHECK(cmp("gtid=0-1-6,1-1-3;file=b.1;pos=4", "gtid=0-1-5,1-1-4;file=b.1;pos=4") == 2);
    CHECK(cmp("gtid=0-1-5;file=b.1;pos=400", "gtid=0-1-5;file=b.1;pos=4") > 0);
    CHECK(cmp("gtid=;file=b.1;pos=400", "gtid=0-1-5;file=b.1;pos=4") > 0); /* file decides */
    /* MySQL GTID sets: interval containment, uuids case-insensitive. */
    const char *u = "3E11FA47-71CA-11E1-9E33-C80AA9429562";
    char a[300], b[300];
    snprintf(a, sizeof a, "gtid=%s:1-10;file=b.1;pos=4", u);
    snprintf(b, sizeof b, "gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5;file=b.2;pos=4");
    CHECK(cmp(a, b) > 0);
    CHECK(cmp(b, a) < 0);
    snprintf(a, sizeof a, "gtid=%s:1-5:7-9;file=b.1;pos=4", u);
    snprintf(b, sizeof b, "gtid=%s:1-6;file=b.1;pos=4", u);
    CHECK(cmp(a, b) == 2);
    snprintf(b, sizeof b, "gtid=%s:1-5:8, 4e11fa47-71ca-11e1-9e33-c80aa9429562:1;file=b.1;pos=4",
             u);
    CHECK(cmp(a, b) == 2);
    CHECK(sl_my_gtid_contains("0-1-5", "x:1-3") < 0); /* mixed flavours */
}

static void test_server_id(void)
{
    uint32_t a = sl_my_default_server_id("acme"), b = sl_my_default_server_id("acme2");
    CHECK(a >= 1073741824u && a <= 2147483647u);
    CHECK(b >= 1073741824u && b <= 2147483647u);
    CHECK(a != b);
    CHECK(a == sl_my_default_server_id("acme"));
}

int main(void)
{
    SL_RUN(test_integers);
    SL_RUN(test_dates);
    SL_RUN(test_times);
    SL_RUN(test_pos_text);
    SL_RUN(test_pos_order);
    SL_RUN(test_server_id);
    SL_DONE();
}
