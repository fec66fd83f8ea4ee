/* An out-of-tree transform: it upper-cases (ASCII) the string columns named in `columns`.
 * Built only against the installed SDK, either way:
 *   cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags sluice) upper.c \
 *      -o sl-transform-upper.so                      (or `make`, `make check`)
 *   cmake -S . -B b -DCMAKE_PREFIX_PATH=<prefix>      (CMakeLists.txt: find_package(Sluice))
 * test_upper.c is its unit test, on the mock host (libsluice-testhost). */
#include <sluice/plugin.h>
#include <stdlib.h>
#include <string.h>

typedef struct up_ctx {
    sl_host *h;
    const sl_host_api *api;
    sl_batch *out;
    const sl_schema *schema;
    char buf[4096];
} up_ctx;

static const sl_option options[] = {
    SL_OPTION("columns", SL_OPT_LIST, SL_OPT_REQUIRED, NULL, "string columns to upper-case"),
    SL_OPTIONS_END,
};

static int up_create(sl_host *h, const sl_host_api *api, void **ctx)
{
    up_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->h = h;
    c->api = api;
    *ctx = c;
    return 0;
}

static void up_destroy(void *ctx)
{
    up_ctx *c = ctx;
    if (c && c->out)
        c->api->batch_free(c->h, c->out);
    free(c);
}

static int selected(up_ctx *c, const char *name)
{
    size_t n = c->api->opt_list_len(c->h, "columns");
    for (size_t i = 0; i < n; i++)
        if (strcmp(c->api->opt_list_item(c->h, "columns", i), name) == 0)
            return 1;
    return 0;
}

static sl_status up_transform(void *ctx, const sl_batch *in, const sl_batch **out)
{
    up_ctx *c = ctx;
    const sl_schema *s = c->api->batch_schema(in);
    if (c->schema != s) {
        if (c->out)
            c->api->batch_free(c->h, c->out);
        c->out = c->api->batch_new(c->h, s);
        c->schema = s;
        if (!c->out)
            return SL_ERROR;
    }
    c->api->batch_clear(c->out);
    for (size_t r = 0; r < c->api->batch_rows(in); r++) {
        if (c->api->row_begin(c->out, c->api->batch_op(in, r)) < 0)
            return SL_ERROR;
        for (uint32_t k = 0; k < s->ncols; k++) {
            sl_column col = {.size = sizeof col};
            c->api->batch_column(in, k, &col);
            if (col.flags[r] == SL_CELL_NULL) {
                c->api->set_null(c->out, k);
            } else if (col.flags[r] == SL_CELL_UNCHANGED) {
                c->api->set_unchanged(c->out, k);
            } else if (col.off) {
                size_t len = (size_t)(col.off[r + 1] - col.off[r]);
                const char *p = col.data ? col.data + col.off[r] : "";
                const sl_field *f = SL_SCHEMA_COL(s, k);
                if (f->type == SL_T_STRING && selected(c, f->name) && len <= sizeof c->buf) {
                    for (size_t i = 0; i < len; i++)
                        c->buf[i] = (p[i] >= 'a' && p[i] <= 'z') ? (char)(p[i] - 32) : p[i];
                    p = c->buf;
                }
                c->api->set_bytes(c->out, k, p, len);
            } else if (col.f64) {
                c->api->set_f64(c->out, k, col.f64[r]);
            } else if (col.aux) {
                c->api->set_tsoff(c->out, k, col.i64[r], col.aux[r]);
            } else {
                c->api->set_i64(c->out, k, col.i64[r]);
            }
        }
    }
    *out = c->out;
    return SL_OK;
}

static const sl_transform_ops ops = {.size = sizeof(sl_transform_ops), .transform = up_transform};
static const sl_plugin plugin = {
    SL_PLUGIN_INIT(SL_KIND_TRANSFORM, "upper", "0.1.0", "upper-case string columns (example)"),
    .options = options,
    .create = up_create,
    .destroy = up_destroy,
    .transform = &ops,
};

SL_PLUGIN_ENTRY(upper)
{
    return &plugin;
}
