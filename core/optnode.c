/* optnode.c - see optnode.h. */
#include "optnode.h"

#include <string.h>

sl_opt_type sl_optnode_type(const sl_optnode *n)
{
    return n ? n->type : SL_OPT_STRING;
}

size_t sl_optnode_len(const sl_optnode *n)
{
    return n && (n->type == SL_OPT_LIST || n->type == SL_OPT_MAP) ? n->n : 0;
}

const sl_optnode *sl_optnode_item(const sl_optnode *n, size_t i)
{
    return n && (n->type == SL_OPT_LIST || n->type == SL_OPT_MAP) && i < n->n ? &n->items[i] : NULL;
}

const char *sl_optnode_key(const sl_optnode *n, size_t i)
{
    return n && n->type == SL_OPT_MAP && i < n->n ? n->keys[i] : NULL;
}

const sl_optnode *sl_optnode_get(const sl_optnode *n, const char *key)
{
    if (!n || n->type != SL_OPT_MAP || !key)
        return NULL;
    for (size_t i = 0; i < n->n; i++)
        if (strcmp(n->keys[i], key) == 0)
            return &n->items[i];
    return NULL;
}

const char *sl_optnode_string(const sl_optnode *n)
{
    return n && n->type != SL_OPT_LIST && n->type != SL_OPT_MAP ? n->s : NULL;
}

int64_t sl_optnode_int(const sl_optnode *n, int64_t dflt)
{
    if (n && (n->type == SL_OPT_INT || n->type == SL_OPT_BOOL))
        return n->i;
    return n && n->type == SL_OPT_DOUBLE ? (int64_t)n->d : dflt;
}

double sl_optnode_double(const sl_optnode *n, double dflt)
{
    return n && (n->type == SL_OPT_INT || n->type == SL_OPT_DOUBLE || n->type == SL_OPT_BOOL)
               ? n->d
               : dflt;
}

int sl_optnode_line(const sl_optnode *n)
{
    return n ? n->line : 0;
}
