/* Plugin registry: the plugins found on the search path, loaded once per process (dlopen is never
 * repeated on reload). Built once in main() before any job thread starts, read-only afterwards. */
#ifndef SL_REGISTRY_H
#define SL_REGISTRY_H

#include <sluice/plugin.h>

extern const sl_host_api sl_host_api_v2; /* core/host.c */

/* A loaded plugin, normalised to the host's struct layouts: every struct the plugin declared is
 * copied by its own size into a zeroed host struct, and desc's pointers point at these copies,
 * so the rest of the host never sees a plugin's stride or size. */
typedef struct sl_plugin_entry {
    char *path;     /* the .so file */
    sl_plugin desc; /* copy of the descriptor, zero-filled past the plugin's own size */
    void *dl;       /* dlopen handle */
    sl_source_ops source;
    sl_transform_ops transform;
    sl_sink_ops sink;
    sl_notifier_ops notifier;
    sl_option *options; /* host-stride copy, NULL-name terminated; desc.options points here */
    size_t noptions;
    uint32_t plugin_minor; /* abi_minor the plugin was built for */
    int inited;            /* init() succeeded: fini() at exit */
} sl_plugin_entry;

typedef struct sl_registry {
    sl_plugin_entry *items; /* jobs borrow entries: never grows after sl_registry_load */
    size_t n;
    char **refusals; /* one line per refused file, already logged */
    size_t nrefusals;
} sl_registry;

/* Search order: dirs given with --plugin-dir (in order), then $SLUICE_PLUGIN_PATH (':'-separated),
 * then <dir of the executable>/plugins (the build tree), then <dir of the executable>/
 * SL_PLUGIN_REL_DIR (a relocated install), then the configured install prefix. The first
 * plugin with a given kind+name wins. Refusals are logged as one line each and recorded. */
int sl_registry_load(sl_registry *reg, const char *const *dirs, size_t ndirs, const char *exe_dir);
const sl_plugin_entry *sl_registry_find(const sl_registry *reg, sl_kind kind, const char *name);
void sl_registry_free(sl_registry *reg);
const char *sl_kind_name(sl_kind k);
/* Check one loaded descriptor; on refusal writes the reason into why. 0 = accepted. */
int sl_registry_check(const sl_plugin *p, size_t size_known, char *why, size_t whylen);
/* Normalise a checked descriptor into e (see sl_plugin_entry). 0, or -1 with why. */
int sl_registry_normalise(const sl_plugin *p, sl_plugin_entry *e, char *why, size_t whylen);
/* Call every plugin's fini() (once, at exit, after the last instance is gone). */
void sl_registry_fini(sl_registry *reg);

#endif
