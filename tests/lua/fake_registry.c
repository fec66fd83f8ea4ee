/* Test-only registry lookup: the real sl_registry_find lives in core/registry.c (sluice_core),
 * which these tests do not link, so the job loader is tested without dlopen. */
#include "registry.h"

#include <string.h>

const sl_plugin_entry *sl_registry_find(const sl_registry *reg, sl_kind kind, const char *name)
{
    for (size_t i = 0; i < reg->n; i++) {
        if (reg->items[i].desc.kind == kind && strcmp(reg->items[i].desc.name, name) == 0) {
            return &reg->items[i];
        }
    }
    return NULL;
}
