/* libFuzzer target: the manifest JSON reader must reject any malformed input with a one-line
 * error and never crash, leak or read out of bounds. */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[128];
    sl_json *j = sl_json_parse((const char *)data, size, err, sizeof err);
    if (!j) {
        if (!err[0] || strchr(err, '\n'))
            abort(); /* every rejection says why, on one line */
        return 0;
    }
    /* Walk the result the way recovery does. */
    (void)sl_json_str(j, "format");
    (void)sl_json_num(j, "flush", 0);
    const sl_json *t = sl_json_get(j, "tables");
    if (t && t->type == SL_J_ARR)
        for (size_t i = 0; i < t->n; i++)
            (void)sl_json_get(t->items[i], "columns");
    sl_json_free(j);
    return 0;
}
