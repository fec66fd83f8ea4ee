/* A plugin built several ways to exercise the loader's checks (tests/abi): wrong major, newer
 * and older minors, missing entries, structs shorter than ABI 2.0 for every kind, and structs
 * grown by a newer minor (sl_option, sl_field, the ops table) that must be walked with the
 * plugin's own stride. */
#include <sluice/plugin.h>
#include <stdlib.h>
#include <string.h>

#ifndef FIXTURE_ABI_MAJOR
#define FIXTURE_ABI_MAJOR SL_PLUGIN_ABI_MAJOR
#endif
#ifndef FIXTURE_ABI_MINOR
#define FIXTURE_ABI_MINOR SL_PLUGIN_ABI_MINOR
#endif

typedef struct fx {
    sl_host *h;
    const sl_host_api *api;
    const sl_schema *out_schema;
    sl_batch *out;
} fx;

/* Set by init(): create() refuses to run without it, so a job that runs proves init() ran
 * first. Process-wide state is exactly what init() is for. */
static int fx_inited;

static int fx_init(const sl_host_api *api, char *err, size_t errlen)
{
    (void)api;
#ifdef FIXTURE_INIT_FAIL
    strncpy(err, "the fixture's library is missing", errlen - 1);
    err[errlen - 1] = 0;
    return -1;
#else
    (void)err;
    (void)errlen;
    fx_inited = 1;
    return 0;
#endif
}

static void fx_fini(void)
{
    fx_inited = 0;
}

static int fx_create(sl_host *h, const sl_host_api *api, void **ctx)
{
    if (!fx_inited) {
        api->set_error(h, "fixture: create() before init()");
        return -1;
    }
    fx *f = api->calloc(h, 1, sizeof *f);
    if (!f)
        return -1;
    f->h = h;
    f->api = api;
    *ctx = f;
    return 0;
}

static void fx_destroy(void *ctx)
{
    fx *f = ctx;
    if (f->out)
        f->api->batch_free(f->h, f->out);
    f->api->free(f->h, f);
}

/* A newer minor's sl_field / sl_option: the 2.0 members, then one more. */
struct grown_field {
    sl_field f;
    double added_later;
};
struct grown_option {
    sl_option o;
    const char *added_later;
};

#if !defined(FIXTURE_NO_TRANSFORM) && !defined(FIXTURE_KIND_SOURCE) &&                             \
    !defined(FIXTURE_KIND_SINK) && !defined(FIXTURE_KIND_NOTIFIER)
static sl_status fx_transform(void *ctx, const sl_batch *in, const sl_batch **out)
{
    fx *f = ctx;
#ifdef FIXTURE_GROWN
    /* Re-shape every batch into (a INT64 key, b STRING) declared with the grown stride: the host
     * must read the second field at the plugin's stride, not its own. */
    if (!f->out_schema) {
        struct grown_field cols[2];
        memset(cols, 0, sizeof cols);
        cols[0].f = (sl_field){.name = "a", .type = SL_T_INT64, .key = 1, .scale = -1};
        cols[1].f = (sl_field){.name = "b", .type = SL_T_STRING, .scale = -1};
        cols[0].added_later = cols[1].added_later = 1.5;
        const sl_schema *is = f->api->batch_schema(in);
        f->out_schema =
            f->api->schema_new(f->h, is->ns, is->name, 2, &cols[0].f, sizeof(struct grown_field));
        if (!f->out_schema)
            return SL_ERROR;
        f->out = f->api->batch_new(f->h, f->out_schema);
        if (!f->out)
            return SL_ERROR;
    }
    f->api->batch_clear(f->out);
    sl_column id = {.size = sizeof id};
    f->api->batch_column(in, 0, &id);
    for (size_t r = 0; r < f->api->batch_rows(in); r++) {
        if (f->api->row_begin(f->out, f->api->batch_op(in, r)) < 0)
            return SL_ERROR;
        f->api->set_i64(f->out, 0, id.i64[r]);
        f->api->set_bytes(f->out, 1, "grown", 5);
    }
    *out = f->out;
#else
    (void)f;
    *out = in;
#endif
    return SL_OK;
}
#endif

#if defined(FIXTURE_KIND_SOURCE)
#define FX_KIND SL_KIND_SOURCE
static sl_status fx_poll(void *ctx, int t)
{
    (void)ctx;
    (void)t;
    return SL_EOF;
}
static const sl_source_ops ops = {.size = FIXTURE_OPS_SIZE, .poll = fx_poll};
#define FX_OPS .source = &ops
#elif defined(FIXTURE_KIND_SINK)
#define FX_KIND SL_KIND_SINK
static const sl_sink_ops ops = {.size = FIXTURE_OPS_SIZE};
#define FX_OPS  .sink = &ops
#elif defined(FIXTURE_KIND_NOTIFIER)
#define FX_KIND SL_KIND_NOTIFIER
static const sl_notifier_ops ops = {.size = FIXTURE_OPS_SIZE};
#define FX_OPS  .notifier = &ops
#else
#define FX_KIND SL_KIND_TRANSFORM
#ifndef FIXTURE_OPS_SIZE
#define FIXTURE_OPS_SIZE sizeof(sl_transform_ops)
#endif
#ifdef FIXTURE_GROWN
/* A newer minor's transform table: one more entry at the end, and a larger size. */
static const struct {
    sl_transform_ops t;
    void (*added_later)(void);
} ops = {.t = {.size = sizeof ops, .transform = fx_transform}};
#define FX_OPS .transform = &ops.t
#else
static const sl_transform_ops ops = {
    .size = FIXTURE_OPS_SIZE,
#ifndef FIXTURE_NO_TRANSFORM
    .transform = fx_transform,
#endif
};
#define FX_OPS .transform = &ops
#endif
#endif

#ifdef FIXTURE_GROWN
static const struct grown_option options[] = {
    {.o = SL_OPTION("note", SL_OPT_STRING, 0, "x", "a fixture option"), .added_later = "?"},
    {.o = SL_OPTION("second", SL_OPT_INT, 0, "2",
                    "the option a host with the wrong stride "
                    "loses"),
     .added_later = "?"},
    {.o = SL_OPTIONS_END}};
#define FX_OPTIONS .options = &options[0].o, .option_size = sizeof options[0]
#else
static const sl_option options[] = {SL_OPTION("note", SL_OPT_STRING, 0, "x", "a fixture option"),
                                    SL_OPTIONS_END};
#ifdef FIXTURE_OPTION_SIZE
#define FX_OPTIONS .options = options, .option_size = FIXTURE_OPTION_SIZE
#else
#define FX_OPTIONS .options = options, .option_size = sizeof(sl_option)
#endif
#endif

static const sl_plugin plugin = {
    .abi_major = FIXTURE_ABI_MAJOR,
    .abi_minor = FIXTURE_ABI_MINOR,
#ifdef FIXTURE_SHORT
    .size = 16, /* as if built against a much older, shorter struct */
#else
    .size = sizeof(sl_plugin),
#endif
    .kind = FX_KIND,
    .name = FIXTURE_NAME,
    .version = "0.0.1",
    .description = "loader test fixture",
    FX_OPTIONS,
    .init = fx_init,
    .fini = fx_fini,
    .create = fx_create,
    .destroy = fx_destroy,
    FX_OPS,
};

#ifndef FIXTURE_NO_SYMBOL
SL_EXPORT const sl_plugin *sl_plugin_descriptor(void)
{
    return &plugin;
}
#else
SL_EXPORT const sl_plugin *not_the_descriptor(void)
{
    return &plugin;
}
#endif
