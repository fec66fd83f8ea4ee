#include "registry.h"

#include "log.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The plugin directory relative to the installed binary's directory (core/CMakeLists.txt). */
#ifndef SL_PLUGIN_REL_DIR
#define SL_PLUGIN_REL_DIR "../lib/sluice/plugins"
#endif

/* What a plugin must know of each struct: the members of ABI 2.0. */
#define SL_PLUGIN_V2_SIZE    (offsetof(sl_plugin, notifier) + sizeof(const sl_notifier_ops *))
#define SL_OPTION_V2_SIZE    (offsetof(sl_option, max) + sizeof(double))
#define SL_SOURCE_V2_SIZE    (offsetof(sl_source_ops, heartbeat) + sizeof(void *))
#define SL_TRANSFORM_V2_SIZE (offsetof(sl_transform_ops, transform) + sizeof(void *))
#define SL_SINK_V2_SIZE      (offsetof(sl_sink_ops, conditional) + sizeof(int))
#define SL_NOTIFIER_V2_SIZE  (offsetof(sl_notifier_ops, probe) + sizeof(void *))

const char *sl_kind_name(sl_kind k)
{
    switch (k) {
    case SL_KIND_SOURCE:
        return "source";
    case SL_KIND_TRANSFORM:
        return "transform";
    case SL_KIND_SINK:
        return "sink";
    case SL_KIND_NOTIFIER:
        return "notifier";
    }
    return "?";
}

/* The plugin's struct at p, declared size *size_p, must hold at least need bytes. */
static int ops_size_ok(const void *p, size_t need, const char *what, char *why, size_t whylen)
{
    uint32_t size;
    memcpy(&size, p, sizeof size);
    if (size < need) {
        snprintf(why, whylen, "%s too small (%u bytes, ABI %d.0 needs %zu)", what, size,
                 SL_PLUGIN_ABI_MAJOR, need);
        return -1;
    }
    return 0;
}

int sl_registry_check(const sl_plugin *p, size_t size_known, char *why, size_t whylen)
{
    if (p->abi_major != SL_PLUGIN_ABI_MAJOR) {
        snprintf(why, whylen, "plugin ABI %u, sluice provides %d", p->abi_major,
                 SL_PLUGIN_ABI_MAJOR);
        return -1;
    }
    if (p->size < SL_PLUGIN_V2_SIZE || size_known < SL_PLUGIN_V2_SIZE) {
        snprintf(why, whylen, "descriptor too small (%u bytes, ABI %d.0 needs %zu)", p->size,
                 SL_PLUGIN_ABI_MAJOR, (size_t)SL_PLUGIN_V2_SIZE);
        return -1;
    }
    if (!p->name || !*p->name) {
        snprintf(why, whylen, "descriptor has no name");
        return -1;
    }
    for (const char *c = p->name; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-')) {
            snprintf(why, whylen, "invalid plugin name \"%s\"", p->name);
            return -1;
        }
    }
    const char *missing = NULL;
    if (!p->create)
        missing = "create";
    else if (!p->destroy)
        missing = "destroy";
    else if (p->kind == SL_KIND_SOURCE) {
        if (!p->source)
            missing = "source";
        else if (ops_size_ok(p->source, SL_SOURCE_V2_SIZE, "source ops", why, whylen) != 0)
            return -1;
        else if (!p->source->poll)
            missing = "source.poll";
    } else if (p->kind == SL_KIND_TRANSFORM) {
        if (!p->transform)
            missing = "transform";
        else if (ops_size_ok(p->transform, SL_TRANSFORM_V2_SIZE, "transform ops", why, whylen) != 0)
            return -1;
        else if (!p->transform->transform)
            missing = "transform.transform";
    } else if (p->kind == SL_KIND_SINK) {
        if (!p->sink)
            missing = "sink";
        else if (ops_size_ok(p->sink, SL_SINK_V2_SIZE, "sink ops", why, whylen) != 0)
            return -1;
        else if (!p->sink->put_begin)
            missing = "sink.put_begin";
        else if (!p->sink->put_write)
            missing = "sink.put_write";
        else if (!p->sink->put_commit)
            missing = "sink.put_commit";
        else if (!p->sink->put_abort)
            missing = "sink.put_abort";
        else if (!p->sink->get)
            missing = "sink.get";
        else if (!p->sink->list)
            missing = "sink.list";
        else if (!p->sink->del)
            missing = "sink.del";
    } else if (p->kind == SL_KIND_NOTIFIER) {
        if (!p->notifier)
            missing = "notifier";
        else if (ops_size_ok(p->notifier, SL_NOTIFIER_V2_SIZE, "notifier ops", why, whylen) != 0)
            return -1;
        else if (!p->notifier->notify)
            missing = "notifier.notify";
    } else {
        snprintf(why, whylen, "unknown plugin kind %d", (int)p->kind);
        return -1;
    }
    if (missing) {
        snprintf(why, whylen, "missing required entry %s", missing);
        return -1;
    }
    if (p->options && p->option_size < SL_OPTION_V2_SIZE) {
        snprintf(why, whylen, "option_size %u too small (ABI %d.0 needs %zu)", p->option_size,
                 SL_PLUGIN_ABI_MAJOR, (size_t)SL_OPTION_V2_SIZE);
        return -1;
    }
    return 0;
}

/* Copy a plugin struct of its own declared size into a zeroed host struct. */
static void copy_sized(void *dst, size_t dst_size, const void *src)
{
    uint32_t size;
    memcpy(&size, src, sizeof size);
    memset(dst, 0, dst_size);
    memcpy(dst, src, size < dst_size ? size : dst_size);
    memcpy(dst, &dst_size, sizeof size); /* the copy now describes the host's layout */
}

int sl_registry_normalise(const sl_plugin *p, sl_plugin_entry *e, char *why, size_t whylen)
{
    size_t n = p->size < sizeof(sl_plugin) ? p->size : sizeof(sl_plugin);
    memset(&e->desc, 0, sizeof e->desc);
    memcpy(&e->desc, p, n);
    e->plugin_minor = p->abi_minor;
    e->desc.size = sizeof(sl_plugin);
    if (p->source) {
        copy_sized(&e->source, sizeof e->source, p->source);
        e->desc.source = &e->source;
    }
    if (p->transform) {
        copy_sized(&e->transform, sizeof e->transform, p->transform);
        e->desc.transform = &e->transform;
    }
    if (p->sink) {
        copy_sized(&e->sink, sizeof e->sink, p->sink);
        e->desc.sink = &e->sink;
    }
    if (p->notifier) {
        copy_sized(&e->notifier, sizeof e->notifier, p->notifier);
        e->desc.notifier = &e->notifier;
    }
    /* Options are walked with the plugin's stride: a plugin built with a grown sl_option must
     * not lose every option after the first. */
    size_t count = 0, stride = p->option_size;
    const char *base = (const char *)p->options;
    while (base && ((const sl_option *)(const void *)(base + count * stride))->name)
        count++;
    e->options = calloc(count + 1, sizeof *e->options);
    if (!e->options) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    size_t m = stride < sizeof(sl_option) ? stride : sizeof(sl_option);
    for (size_t i = 0; i < count; i++) {
        memcpy(&e->options[i], base + i * stride, m);
        const sl_option *o = &e->options[i];
        if (o->type < SL_OPT_STRING || o->type > SL_OPT_TABLE) {
            snprintf(why, whylen, "option \"%s\" has unknown type %d", o->name, (int)o->type);
            free(e->options);
            e->options = NULL;
            return -1;
        }
    }
    e->noptions = count;
    e->desc.options = e->options;
    e->desc.option_size = sizeof(sl_option);
    return 0;
}

static void add_refusal(sl_registry *reg, const char *path, const char *why)
{
    char line[1200];
    snprintf(line, sizeof line, "%s: refused: %s", path, why);
    sl_log(SL_LOG_WARN, NULL, NULL, "plugin %s", line);
    char **n = realloc(reg->refusals, (reg->nrefusals + 1) * sizeof *n);
    if (!n)
        return;
    reg->refusals = n;
    reg->refusals[reg->nrefusals] = strdup(line);
    if (reg->refusals[reg->nrefusals])
        reg->nrefusals++;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void load_file(sl_registry *reg, const char *path)
{
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        char why[1024];
        snprintf(why, sizeof why, "cannot load (%s); check its libraries with ldd", e ? e : "?");
        add_refusal(reg, path, why);
        return;
    }
    const sl_plugin *(*entry)(void) = NULL;
    void *sym = dlsym(dl, SL_PLUGIN_SYMBOL);
    memcpy(&entry, &sym, sizeof entry); /* object pointer to function pointer, POSIX-sanctioned */
    if (!entry) {
        add_refusal(reg, path, "no " SL_PLUGIN_SYMBOL "() symbol (not a sluice plugin)");
        dlclose(dl);
        return;
    }
    const sl_plugin *p = entry();
    char why[512];
    if (!p) {
        add_refusal(reg, path, SL_PLUGIN_SYMBOL "() returned NULL");
        dlclose(dl);
        return;
    }
    if (sl_registry_check(p, p->size, why, sizeof why) != 0) {
        add_refusal(reg, path, why);
        dlclose(dl);
        return;
    }
    const sl_plugin_entry *dup = sl_registry_find(reg, p->kind, p->name);
    if (dup) {
        /* Earlier directories take precedence: a quiet skip, as PATH does. */
        sl_log(SL_LOG_DEBUG, NULL, NULL, "plugin %s: %s/%s already loaded from %s", path,
               sl_kind_name(p->kind), p->name, dup->path);
        dlclose(dl);
        return;
    }
    sl_plugin_entry *items = realloc(reg->items, (reg->n + 1) * sizeof *items);
    if (!items) {
        dlclose(dl);
        return;
    }
    reg->items = items;
    sl_plugin_entry *e = &reg->items[reg->n];
    memset(e, 0, sizeof *e);
    if (sl_registry_normalise(p, e, why, sizeof why) != 0) {
        add_refusal(reg, path, why);
        dlclose(dl);
        return;
    }
    if (p->abi_minor > SL_PLUGIN_ABI_MINOR)
        sl_log(SL_LOG_WARN, NULL, NULL,
               "plugin %s: built for ABI %u.%u, newer than this sluice (%d.%d): functions it "
               "expects may be missing (it must check SL_API_HAS)",
               path, p->abi_major, p->abi_minor, SL_PLUGIN_ABI_MAJOR, SL_PLUGIN_ABI_MINOR);
    if (e->desc.init) {
        char ierr[200] = "";
        if (e->desc.init(&sl_host_api_v2, ierr, sizeof ierr) != 0) {
            snprintf(why, sizeof why, "init failed: %s", ierr[0] ? ierr : "no reason given");
            add_refusal(reg, path, why);
            free(e->options);
            dlclose(dl);
            return;
        }
        e->inited = 1;
    }
    e->path = strdup(path);
    e->dl = dl;
    reg->n++;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_dir(sl_registry *reg, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "sl-", 3) != 0 || !ends_with(de->d_name, ".so"))
            continue;
        char **nn = realloc(names, (n + 1) * sizeof *nn);
        if (!nn)
            break;
        names = nn;
        names[n] = strdup(de->d_name);
        if (names[n])
            n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        load_file(reg, path);
        free(names[i]);
    }
    free(names);
}

int sl_registry_load(sl_registry *reg, const char *const *dirs, size_t ndirs, const char *exe_dir)
{
    memset(reg, 0, sizeof *reg);
    for (size_t i = 0; i < ndirs; i++)
        load_dir(reg, dirs[i]);
    const char *env = getenv("SLUICE_PLUGIN_PATH");
    if (env && *env) {
        char *copy = strdup(env);
        char *save = NULL;
        for (char *tok = copy ? strtok_r(copy, ":", &save) : NULL; tok;
             tok = strtok_r(NULL, ":", &save))
            load_dir(reg, tok);
        free(copy);
    }
    if (exe_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/plugins", exe_dir);
        load_dir(reg, path);
        /* An install moved to another prefix (cmake --install --prefix P): P/bin/sluice finds
         * P/lib/sluice/plugins before the prefix it was configured with. */
        snprintf(path, sizeof path, "%s/%s", exe_dir, SL_PLUGIN_REL_DIR);
        load_dir(reg, path);
    }
    load_dir(reg, SL_PLUGIN_INSTALL_DIR);
    /* The array moved while it grew: point each descriptor at its own entry's copies. */
    for (size_t i = 0; i < reg->n; i++) {
        sl_plugin_entry *e = &reg->items[i];
        e->desc.source = e->desc.source ? &e->source : NULL;
        e->desc.transform = e->desc.transform ? &e->transform : NULL;
        e->desc.sink = e->desc.sink ? &e->sink : NULL;
        e->desc.notifier = e->desc.notifier ? &e->notifier : NULL;
    }
    return 0;
}

void sl_registry_fini(sl_registry *reg)
{
    for (size_t i = 0; i < reg->n; i++)
        if (reg->items[i].inited && reg->items[i].desc.fini) {
            reg->items[i].desc.fini();
            reg->items[i].inited = 0;
        }
}

const sl_plugin_entry *sl_registry_find(const sl_registry *reg, sl_kind kind, const char *name)
{
    for (size_t i = 0; i < reg->n; i++)
        if (reg->items[i].desc.kind == kind && strcmp(reg->items[i].desc.name, name) == 0)
            return &reg->items[i];
    return NULL;
}

void sl_registry_free(sl_registry *reg)
{
    sl_registry_fini(reg); /* no instance outlives the registry: the plugins' fini() may run */
    for (size_t i = 0; i < reg->n; i++) {
        free(reg->items[i].path);
        free(reg->items[i].options);
        /* The handles stay open until the process exits: unloading gains nothing then, and
         * a library that used thread-local storage (OpenSSL via libpq or libcurl) leaves
         * LeakSanitizer reading freed DTLS blocks (it crashes at exit). */
        reg->items[i].dl = NULL;
    }
    free(reg->items);
    for (size_t i = 0; i < reg->nrefusals; i++)
        free(reg->refusals[i]);
    free(reg->refusals);
    memset(reg, 0, sizeof *reg);
}
