/* Options for the mock: a small parser for Lua-style table constructors (the test's stand-in for
 * a job file) and validation against the plugin's declarations, as `sluice check` does. */
#include "th_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void node_clear(sl_optnode *n)
{
    free(n->s);
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            free(n->keys[i]);
        node_clear(&n->items[i]);
    }
    free(n->keys);
    free(n->items);
    memset(n, 0, sizeof *n);
}

void th_node_free(sl_optnode *n)
{
    if (n)
        node_clear(n);
    free(n);
}

/* ---- parsing ---- */

typedef struct parser {
    const char *p;
    char *why;
    size_t whylen;
    int failed;
} parser;

static void fail(parser *ps, const char *what)
{
    if (!ps->failed)
        snprintf(ps->why, ps->whylen, "%s at \"%.20s\"", what, ps->p);
    ps->failed = 1;
}

static void skip_ws(parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
        ps->p++;
}

static int is_word_char(char c)
{
    return c && !strchr(" \t\r\n,;{}=[]'\"", c);
}

/* A bare token or a quoted string, malloc'ed; *quoted tells which. */
static char *token(parser *ps, int *quoted)
{
    *quoted = 0;
    if (*ps->p == '\'' || *ps->p == '"') {
        char q = *ps->p++;
        const char *start = ps->p;
        while (*ps->p && *ps->p != q)
            ps->p++;
        if (*ps->p != q) {
            fail(ps, "unterminated string");
            return NULL;
        }
        char *s = strndup(start, (size_t)(ps->p - start));
        ps->p++;
        *quoted = 1;
        if (!s)
            abort();
        return s;
    }
    const char *start = ps->p;
    while (is_word_char(*ps->p))
        ps->p++;
    if (ps->p == start) {
        fail(ps, "expected a value");
        return NULL;
    }
    char *s = strndup(start, (size_t)(ps->p - start));
    if (!s)
        abort();
    return s;
}

/* A scalar node from a token: numbers and booleans typed, other words strings. */
static void scalar(sl_optnode *n, char *text, int quoted)
{
    n->s = text;
    n->type = SL_OPT_STRING;
    if (quoted)
        return;
    if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
        n->type = SL_OPT_BOOL;
        n->i = text[0] == 't';
        n->d = (double)n->i;
        return;
    }
    char *end = NULL;
    errno = 0;
    long long i = strtoll(text, &end, 10);
    if (*text && !*end && !errno) {
        n->type = SL_OPT_INT;
        n->i = i;
        n->d = (double)i;
        return;
    }
    double d = strtod(text, &end);
    if (*text && !*end) {
        n->type = SL_OPT_DOUBLE;
        n->d = d;
        n->i = (int64_t)d;
    }
}

static int cmp_entry(const void *a, const void *b);

static void parse_value(parser *ps, sl_optnode *n, int depth);

static void parse_table(parser *ps, sl_optnode *n, int depth)
{
    if (depth > 8) {
        fail(ps, "nested too deeply");
        return;
    }
    ps->p++; /* '{' */
    size_t cap = 0;
    int has_keys = 0, has_items = 0;
    n->type = SL_OPT_LIST;
    for (;;) {
        skip_ws(ps);
        if (*ps->p == '}') {
            ps->p++;
            break;
        }
        if (!*ps->p) {
            fail(ps, "missing '}'");
            return;
        }
        if (n->n == cap) {
            cap = cap ? cap * 2 : 8;
            n->items = realloc(n->items, cap * sizeof *n->items);
            n->keys = realloc(n->keys, cap * sizeof *n->keys);
            if (!n->items || !n->keys)
                abort();
        }
        sl_optnode *item = &n->items[n->n];
        memset(item, 0, sizeof *item);
        n->keys[n->n] = NULL;
        /* key = value, ['key'] = value, or a value */
        const char *save = ps->p;
        char *key = NULL;
        int quoted = 0;
        if (*ps->p == '[') {
            ps->p++;
            skip_ws(ps);
            key = token(ps, &quoted);
            skip_ws(ps);
            if (ps->failed || *ps->p != ']') {
                free(key);
                fail(ps, "expected ']'");
                return;
            }
            ps->p++;
            skip_ws(ps);
            if (*ps->p != '=') {
                free(key);
                fail(ps, "expected '='");
                return;
            }
        } else if (is_word_char(*ps->p)) {
            key = token(ps, &quoted);
            skip_ws(ps);
            if (*ps->p != '=') {
                free(key);
                key = NULL;
                ps->p = save;
            }
        }
        if (key) {
            ps->p++; /* '=' */
            n->keys[n->n] = key;
            has_keys = 1;
        } else {
            has_items = 1;
        }
        n->n++;
        parse_value(ps, item, depth + 1);
        if (ps->failed)
            return;
        if (has_keys && has_items) {
            fail(ps, "mixes list items and name = value entries");
            return;
        }
        skip_ws(ps);
        if (*ps->p == ',' || *ps->p == ';')
            ps->p++;
        else if (*ps->p != '}') {
            fail(ps, "expected ',' or '}'");
            return;
        }
    }
    if (!has_keys) {
        free(n->keys);
        n->keys = NULL;
        return;
    }
    n->type = SL_OPT_MAP;
    /* Maps are read in key order (plugin.h): sort keys with their items. */
    struct entry {
        char *k;
        sl_optnode v;
    } *e = th_alloc(n->n * sizeof *e);
    for (size_t i = 0; i < n->n; i++) {
        e[i].k = n->keys[i];
        e[i].v = n->items[i];
    }
    qsort(e, n->n, sizeof *e, cmp_entry);
    for (size_t i = 0; i < n->n; i++) {
        n->keys[i] = e[i].k;
        n->items[i] = e[i].v;
        if (i && strcmp(n->keys[i], n->keys[i - 1]) == 0) {
            free(e);
            fail(ps, "duplicate key");
            return;
        }
    }
    free(e);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void parse_value(parser *ps, sl_optnode *n, int depth)
{
    skip_ws(ps);
    if (*ps->p == '{') {
        parse_table(ps, n, depth);
        return;
    }
    int quoted = 0;
    char *t = token(ps, &quoted);
    if (t)
        scalar(n, t, quoted);
}

sl_optnode *th_node_parse(const char *value, char *why, size_t whylen)
{
    sl_optnode *n = th_alloc(sizeof *n);
    const char *v = value;
    while (*v == ' ' || *v == '\t' || *v == '\n')
        v++;
    if (*v != '{') {
        /* A scalar is its text, as written; the declaration decides its type. */
        n->type = SL_OPT_STRING;
        n->s = th_strdup(value);
        return n;
    }
    parser ps = {.p = v, .why = why, .whylen = whylen};
    parse_table(&ps, n, 0);
    skip_ws(&ps);
    if (!ps.failed && *ps.p)
        fail(&ps, "text after the closing '}'");
    if (ps.failed) {
        th_node_free(n);
        return NULL;
    }
    return n;
}

/* ---- validation ---- */

static int is_scalar(const sl_optnode *n)
{
    return n->type != SL_OPT_LIST && n->type != SL_OPT_MAP;
}

static void text_of(const sl_optnode *n, char **out, size_t *len)
{
    FILE *f = open_memstream(out, len);
    if (!f)
        abort();
    if (is_scalar(n)) {
        fputs(n->s ? n->s : "", f);
    } else {
        fputc('{', f);
        for (size_t i = 0; i < n->n; i++) {
            char *sub = NULL;
            size_t sl = 0;
            text_of(&n->items[i], &sub, &sl);
            fprintf(f, "%s%s%s%s", i ? "," : "", n->keys ? n->keys[i] : "", n->keys ? "=" : "",
                    sub);
            free(sub);
        }
        fputc('}', f);
    }
    fclose(f);
}

SL_PRINTF(3, 4) static int fail_opt(sl_th *t, const char *name, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(t->err, sizeof t->err, "%s \"%s\": option \"%s\" %s", sl_kind_name(t->p->e.desc.kind),
             t->p->e.desc.name, name, what);
    return -1;
}

/* Fills v from its node for the declared type. 0, or -1 with t->err. */
static int convert(sl_th *t, const sl_option *o, th_val *v)
{
    sl_optnode *n = v->node;
    char *end = NULL;
    errno = 0;
    switch (o->type) {
    case SL_OPT_STRING:
        if (!is_scalar(n))
            return fail_opt(t, o->name, "must be a string%s", "");
        n->type = SL_OPT_STRING;
        break;
    case SL_OPT_INT: {
        long long x = is_scalar(n) ? strtoll(n->s, &end, 10) : 0;
        if (!is_scalar(n) || !*n->s || *end || errno) {
            double d = is_scalar(n) ? strtod(n->s, &end) : NAN;
            if (!is_scalar(n) || *end || d != floor(d) || fabs(d) > 9.2e18)
                return fail_opt(t, o->name, "must be an integer, got \"%s\"",
                                is_scalar(n) ? n->s : "a table");
            x = (long long)d;
        }
        n->type = SL_OPT_INT;
        n->i = x;
        n->d = (double)x;
        break;
    }
    case SL_OPT_DOUBLE: {
        double d = is_scalar(n) ? strtod(n->s, &end) : NAN;
        if (!is_scalar(n) || !*n->s || *end || !isfinite(d))
            return fail_opt(t, o->name, "must be a finite number, got \"%s\"",
                            is_scalar(n) ? n->s : "a table");
        n->type = SL_OPT_DOUBLE;
        n->d = d;
        n->i = (int64_t)d;
        break;
    }
    case SL_OPT_BOOL:
        if (!is_scalar(n) || (strcmp(n->s, "true") && strcmp(n->s, "false") && strcmp(n->s, "1") &&
                              strcmp(n->s, "0")))
            return fail_opt(t, o->name, "must be true or false, got \"%s\"",
                            is_scalar(n) ? n->s : "a table");
        n->type = SL_OPT_BOOL;
        n->i = n->s[0] == 't' || n->s[0] == '1';
        n->d = (double)n->i;
        break;
    case SL_OPT_LIST:
        if (is_scalar(n)) {
            sl_optnode *wrap = th_alloc(sizeof *wrap);
            wrap->type = SL_OPT_LIST;
            wrap->n = 1;
            wrap->items = th_alloc(sizeof *wrap->items);
            wrap->items[0] = *n;
            wrap->items[0].type = SL_OPT_STRING;
            free(n);
            v->node = n = wrap;
        }
        if (n->type != SL_OPT_LIST)
            return fail_opt(t, o->name, "must be a list of strings, got a map%s", "");
        for (size_t i = 0; i < n->n; i++)
            if (!is_scalar(&n->items[i]))
                return fail_opt(t, o->name, "must be a list of strings, got a table inside%s", "");
        v->list = th_alloc((n->n ? n->n : 1) * sizeof *v->list);
        for (size_t i = 0; i < n->n; i++)
            v->list[i] = n->items[i].s;
        v->nlist = n->n;
        break;
    case SL_OPT_MAP:
    case SL_OPT_TABLE:
        if (is_scalar(n))
            return fail_opt(t, o->name, "must be a table, got \"%s\"", n->s);
        if (o->type == SL_OPT_MAP && n->type == SL_OPT_LIST && n->n)
            return fail_opt(t, o->name, "must be a map (name = value entries)%s", "");
        break;
    }
    if (is_scalar(n)) {
        v->s = th_strdup(n->s);
    } else {
        size_t len = 0;
        if (o->type == SL_OPT_LIST) {
            FILE *f = open_memstream(&v->s, &len);
            if (!f)
                abort();
            for (size_t i = 0; i < v->nlist; i++)
                fprintf(f, "%s%s", i ? "," : "", v->list[i]);
            fclose(f);
        } else {
            text_of(n, &v->s, &len);
        }
    }
    v->i = n->i;
    v->d = n->d;
    return 0;
}

/* The plugin's declared choices and range. */
static int check_value(sl_th *t, const sl_option *o, const th_val *v)
{
    if ((o->flags & SL_OPT_RANGE) && (o->type == SL_OPT_INT || o->type == SL_OPT_DOUBLE) &&
        (v->d < o->min || v->d > o->max)) {
        char what[160];
        snprintf(what, sizeof what, "must be between %.17g and %.17g, got %s", o->min, o->max,
                 v->s);
        return fail_opt(t, o->name, "%s", what);
    }
    if (!o->choices || (o->type != SL_OPT_STRING && o->type != SL_OPT_LIST))
        return 0;
    size_t nvals = o->type == SL_OPT_LIST ? v->nlist : 1;
    for (size_t i = 0; i < nvals; i++) {
        const char *val = o->type == SL_OPT_LIST ? v->list[i] : v->s;
        int ok = 0;
        for (size_t c = 0; o->choices[c] && !ok; c++)
            ok = strcmp(o->choices[c], val) == 0;
        if (!ok)
            return fail_opt(t, o->name, "value \"%s\" is not one of the declared choices", val);
    }
    return 0;
}

/* A default's text as a node: a scalar, or for a LIST "a,b,c" ("" is the empty list). */
static sl_optnode *default_node(const sl_option *o)
{
    sl_optnode *n = th_alloc(sizeof *n);
    if (o->type != SL_OPT_LIST) {
        n->type = SL_OPT_STRING;
        n->s = th_strdup(o->default_value);
        return n;
    }
    n->type = SL_OPT_LIST;
    const char *s = o->default_value;
    size_t cnt = *s ? 1 : 0;
    for (const char *p = s; *p; p++)
        cnt += *p == ',';
    n->items = th_alloc((cnt ? cnt : 1) * sizeof *n->items);
    for (size_t i = 0; i < cnt; i++) {
        size_t l = strcspn(s, ",");
        n->items[i].type = SL_OPT_STRING;
        n->items[i].s = strndup(s, l);
        if (!n->items[i].s)
            abort();
        s += l + (s[l] == ',');
    }
    n->n = cnt;
    return n;
}

void th_opts_free_vals(sl_th *t)
{
    for (size_t i = 0; i < t->nvals; i++) {
        th_node_free(t->vals[i].node);
        free(t->vals[i].s);
        free(t->vals[i].list);
    }
    free(t->vals);
    t->vals = NULL;
    t->nvals = 0;
    t->resolved = 0;
}

const th_val *th_opt_find(sl_th *t, const char *name)
{
    for (size_t i = 0; i < t->nvals; i++)
        if (strcmp(t->vals[i].decl->name, name) == 0)
            return &t->vals[i];
    return NULL;
}

/* Deep copy, so vals own their trees and raw options can be set again. */
static sl_optnode *node_copy(const sl_optnode *n)
{
    sl_optnode *c = th_alloc(sizeof *c);
    *c = *n;
    c->s = n->s ? th_strdup(n->s) : NULL;
    c->keys = NULL;
    c->items = n->n ? th_alloc(n->n * sizeof *c->items) : NULL;
    if (n->keys)
        c->keys = th_alloc(n->n * sizeof *c->keys);
    for (size_t i = 0; i < n->n; i++) {
        sl_optnode *sub = node_copy(&n->items[i]);
        c->items[i] = *sub;
        free(sub);
        if (n->keys)
            c->keys[i] = th_strdup(n->keys[i]);
    }
    return c;
}

int th_opts_resolve(sl_th *t)
{
    th_opts_free_vals(t);
    const sl_option *decls = t->p->e.desc.options;
    for (size_t r = 0; r < t->nraw; r++) {
        int known = 0;
        for (const sl_option *o = decls; o && o->name && !known; o++)
            known = strcmp(o->name, t->raw[r].name) == 0;
        if (!known)
            return fail_opt(t, t->raw[r].name, "is not declared by the plugin (unknown option)%s",
                            "");
    }
    size_t ndecl = 0;
    for (const sl_option *o = decls; o && o->name; o++)
        ndecl++;
    t->vals = th_alloc((ndecl ? ndecl : 1) * sizeof *t->vals);
    for (const sl_option *o = decls; o && o->name; o++) {
        const th_raw *raw = NULL;
        for (size_t r = 0; r < t->nraw; r++)
            if (strcmp(t->raw[r].name, o->name) == 0)
                raw = &t->raw[r];
        sl_optnode *n = NULL;
        if (raw)
            n = node_copy(raw->node);
        else if (o->default_value && o->type != SL_OPT_MAP && o->type != SL_OPT_TABLE)
            n = default_node(o);
        else if (o->flags & SL_OPT_REQUIRED)
            return fail_opt(t, o->name, "is required%s", "");
        else
            continue;
        th_val *v = &t->vals[t->nvals++];
        v->decl = o;
        v->node = n;
        if (convert(t, o, v) != 0 || check_value(t, o, v) != 0) {
            if (!raw)
                snprintf(t->err + strlen(t->err), sizeof t->err - strlen(t->err),
                         " (the plugin's own default)");
            return -1;
        }
    }
    t->resolved = 1;
    return 0;
}
