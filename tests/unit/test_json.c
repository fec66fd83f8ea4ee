#include "json.h"
#include "sl_test.h"

static void test_parse(void)
{
    const char *s = "{\"a\": [1, 2.5, -3e2], \"b\": \"x\\n\\u00e9\\\"\", \"c\": true, \"d\": null}";
    char err[64];
    sl_json *j = sl_json_parse(s, strlen(s), err, sizeof err);
    CHECK(j != NULL);
    const sl_json *a = sl_json_get(j, "a");
    CHECK(a && a->type == SL_J_ARR && a->n == 3 && a->items[2]->num == -300);
    CHECK_EQ_STR(sl_json_str(j, "b"), "x\n\xc3\xa9\"");
    CHECK(sl_json_get(j, "c")->b == 1);
    CHECK(sl_json_get(j, "d")->type == SL_J_NULL);
    CHECK(sl_json_get(j, "zz") == NULL);
    sl_json_free(j);
}

static void test_reject(void)
{
    const char *bad[] = {"", "{", "[1,", "{\"a\" 1}", "\"abc", "{} x", "[1 2]", "\"\\q\"", "tru"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[64] = "";
        sl_json *j = sl_json_parse(bad[i], strlen(bad[i]), err, sizeof err);
        CHECK(j == NULL);
        CHECK(err[0] != 0);
    }
    /* Deep nesting is refused, not a stack overflow. */
    char deep[400];
    memset(deep, '[', sizeof deep);
    char err[64];
    CHECK(sl_json_parse(deep, sizeof deep, err, sizeof err) == NULL);
}

static void test_writer_roundtrip(void)
{
    sl_buf b = {0};
    const char raw[] = "tab\there \"q\" \\ \x01 end";
    sl_buf_json_str(&b, raw, strlen(raw));
    char err[64];
    sl_json *j = sl_json_parse(b.p, b.len, err, sizeof err);
    CHECK(j && j->type == SL_J_STR);
    CHECK_EQ_STR(j->str, raw);
    sl_json_free(j);
    sl_buf_free(&b);
}

int main(void)
{
    SL_RUN(test_parse);
    SL_RUN(test_reject);
    SL_RUN(test_writer_roundtrip);
    SL_DONE();
}
