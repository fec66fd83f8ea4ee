/* Option values as trees (the ABI's opaque sl_optnode) and the host API's readers of them, shared
 * by the engine's host and the mock host (testhost/) so both answer plugins alike. */
#ifndef SL_OPTNODE_H
#define SL_OPTNODE_H

#include <sluice/plugin.h>

/* Scalars carry text (s) and numbers; LIST has n items; MAP has n keys (sorted) and n items. */
struct sl_optnode {
    sl_opt_type type; /* STRING, INT, DOUBLE, BOOL, LIST or MAP */
    int line;         /* in the job file; 0 unknown */
    char *s;
    int64_t i;
    double d;
    size_t n;
    char **keys;
    struct sl_optnode *items;
};

/* The sl_host_api node_* functions. */
sl_opt_type sl_optnode_type(const sl_optnode *n);
size_t sl_optnode_len(const sl_optnode *n);
const sl_optnode *sl_optnode_item(const sl_optnode *n, size_t i);
const char *sl_optnode_key(const sl_optnode *n, size_t i);
const sl_optnode *sl_optnode_get(const sl_optnode *n, const char *key);
const char *sl_optnode_string(const sl_optnode *n);
int64_t sl_optnode_int(const sl_optnode *n, int64_t dflt);
double sl_optnode_double(const sl_optnode *n, double dflt);
int sl_optnode_line(const sl_optnode *n);

#endif
