#include "registry.h"

#include "log.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The size of sl_plugin as of ABI 1.0: a plugin must know at least these fields. */
#define SL_PLUGIN_V1_SIZE (offsetof(sl_plugin, sink) + sizeof(const sl_sink_ops *))

const char *sl_kind_name(sl_kind k)
{
    switch (k) {
    case SL_KIND_SOURCE:
        return "source";
    case SL_KIND_TRANSFORM:
        return "transform";
    case SL_KIND_SINK:
        return "sink";
    }
    return "?";
}

int sl_registry_check(const sl_plugin *p, size_t size_known, char *why, size_t whylen)
{
    if (p->abi_major != SL_PLUGIN_ABI_MAJOR) {
        snprintf(why, whylen, "plugin ABI %u, sluice provides %d", p->abi_major,
                 SL_PLUGIN_ABI_MAJOR);
        return -1;
    }
    if (p->size < SL_PLUGIN_V1_SIZE || size_known < SL_PLUGIN_V1_SIZE) {
        snprintf(why, whylen, "descriptor too small (%u bytes, ABI 1.0 needs %zu)", p->size,
                 (size_t)SL_PLUGIN_V1_SIZE);
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
        if (!p->source || !p->source->poll)
            missing = "source.poll";
    } else if (p->kind == SL_KIND_TRANSFORM) {
        if (!p->transform || !p->transform->transform)
            missing = "transform.transform";
    } else if (p->kind == SL_KIND_SINK) {
        if (!p->sink || !p->sink->put_begin)
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
    } else {
        snprintf(why, whylen, "unknown plugin kind %d", (int)p->kind);
        return -1;
    }
    if (missing) {
        snprintf(why, whylen, "missing required entry %s", missing);
        return -1;
    }
    for (const sl_option *o = p->options; o && o->name; o++) {
        if (o->type < SL_OPT_STRING || o->type > SL_OPT_LIST) {
            snprintf(why, whylen, "option \"%s\" has unknown type %d", o->name, (int)o->type);
            return -1;
        }
    }
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
    /* Copy only what the plugin knows; later fields stay zero (closes the over-read of a shorter
     * struct from an older minor). */
    size_t n = p->size < sizeof(sl_plugin) ? p->size : sizeof(sl_plugin);
    memcpy(&e->desc, p, n);
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
    }
    load_dir(reg, SL_PLUGIN_INSTALL_DIR);
    return 0;
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
    for (size_t i = 0; i < reg->n; i++) {
        free(reg->items[i].path);
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
