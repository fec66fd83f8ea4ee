/* A transform plugin built several ways to exercise the loader's checks (tests/abi). */
#include <sluice/plugin.h>
#include <stdlib.h>

#ifndef FIXTURE_ABI_MAJOR
#define FIXTURE_ABI_MAJOR SL_PLUGIN_ABI_MAJOR
#endif
#ifndef FIXTURE_ABI_MINOR
#define FIXTURE_ABI_MINOR SL_PLUGIN_ABI_MINOR
#endif

static int fx_create(sl_host *h, const sl_host_api *api, void **ctx)
{
    (void)h;
    (void)api;
    *ctx = NULL;
    return 0;
}

static void fx_destroy(void *ctx)
{
    (void)ctx;
}

#ifndef FIXTURE_NO_TRANSFORM
static sl_status fx_transform(void *ctx, sl_batch *in, sl_batch **out)
{
    (void)ctx;
    *out = in;
    return SL_OK;
}
#endif

static const sl_transform_ops ops = {
#ifndef FIXTURE_NO_TRANSFORM
    .transform = fx_transform,
#else
    .transform = NULL,
#endif
};

static const sl_option options[] = {{"note", SL_OPT_STRING, 0, "x", "a fixture option"},
                                    {NULL, 0, 0, NULL, NULL}};

static const sl_plugin plugin = {
    .abi_major = FIXTURE_ABI_MAJOR,
    .abi_minor = FIXTURE_ABI_MINOR,
#ifdef FIXTURE_SHORT
    .size = 16, /* as if built against a much older, shorter struct */
#else
    .size = sizeof(sl_plugin),
#endif
    .kind = SL_KIND_TRANSFORM,
    .name = FIXTURE_NAME,
    .version = "0.0.1",
    .description = "loader test fixture",
    .options = options,
    .create = fx_create,
    .destroy = fx_destroy,
    .transform = &ops,
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
