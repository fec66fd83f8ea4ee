/* Unit test of the upper transform on the mock host (libsluice-testhost): no engine, no job
 * file. Usage: test_upper path/to/sl-transform-upper.so */
#include <sluice/testhost.h>
#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(e)                                                                                   \
    do {                                                                                           \
        if (!(e)) {                                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #e);                  \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static const sl_field fields[] = {
    SL_FIELD_INIT("id", SL_T_INT64, 1),
    SL_FIELD_INIT("name", SL_T_STRING, 0),
    SL_FIELD_INIT("note", SL_T_STRING, 0),
    SL_FIELD_INIT("price", SL_T_DOUBLE, 0),
};

/* Row i of b as row text equals want. */
static int row_is(const sl_batch *b, size_t i, const char *want)
{
    char got[256];
    sl_th_row_text(b, i, got, sizeof got);
    if (strcmp(got, want) == 0)
        return 1;
    fprintf(stderr, "  row %zu: got  %s\n          want %s\n", i, got, want);
    return 0;
}

static void test_upper_cases_selected_columns(const sl_th_plugin *p)
{
    sl_th *t = sl_th_new(p, "acme");
    CHECK(sl_th_start(t, "columns", "{ 'name' }", NULL) == 0);
    const sl_schema *s = sl_th_schema(t, "public", "items", 4, fields);
    sl_batch *in = sl_th_batch(t, s);
    CHECK(sl_th_batch_add(t, in,
                          "I|1|abc|abc|1.5\n"
                          "U|2|\\N|x|\\N\n"
                          "D|3|MiXed 9 é|y|-2\n") == 0);
    const sl_batch *out = NULL;
    CHECK(sl_th_transform(t, in, &out) == SL_OK);
    CHECK(out != NULL && out != in);
    if (out) {
        CHECK(sl_th_api()->batch_rows(out) == 3);
        CHECK(row_is(out, 0, "public.items|I|1|ABC|abc|1.5"));
        CHECK(row_is(out, 1, "public.items|U|2|\\N|x|\\N"));
        CHECK(row_is(out, 2, "public.items|D|3|MIXED 9 é|y|-2"));
    }
    CHECK(sl_th_misuses(t) == 0);
    sl_th_close(t);
    CHECK(sl_th_mem_now(t) == 0);
    sl_th_free(t);
}

static void test_columns_is_required(const sl_th_plugin *p)
{
    sl_th *t = sl_th_new(p, NULL);
    sl_th_echo(t, -1);
    CHECK(sl_th_create(t) == -1);
    CHECK(strstr(sl_th_error(t), "columns") != NULL);
    sl_th_free(t);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s sl-transform-upper.so\n", argv[0]);
        return 2;
    }
    char err[512];
    sl_th_plugin *p = sl_th_load(argv[1], err, sizeof err);
    if (!p) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    CHECK(sl_th_desc(p)->kind == SL_KIND_TRANSFORM && strcmp(sl_th_desc(p)->name, "upper") == 0);
    test_upper_cases_selected_columns(p);
    test_columns_is_required(p);
    sl_th_unload(p);
    fprintf(stderr, "%s (%d failed checks)\n", failures ? "FAIL" : "ok", failures);
    return failures ? 1 : 0;
}
