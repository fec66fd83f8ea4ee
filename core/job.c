/* Job files: evaluate in the sandbox, then validate the returned table against the plugins'
 * option declarations, collecting every problem as one "FILE:LINE: message" diagnostic. */
#include "job.h"

#include "fnv.h"
#include "job_sandbox.h"
#include "job_scan.h"

#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SL_JOB_MAX_FILE  (1024 * 1024) /* a job file is a page of Lua, not a data file */
#define SL_JOB_MAX_DIAGS 50            /* per file; after that one summary line */

static const char *const sl_formats[] = {"qvd", "csv", NULL};

const sl_option sl_job_options[] = {
    SL_OPTION("flush_interval", SL_OPT_DOUBLE, 0, "1", "seconds between flushes of changed tables"),
    SL_OPTION("flush_max_changes", SL_OPT_INT, 0, "10000",
              "flush a table early once it has this many unflushed changes"),
    SL_OPTION("changes", SL_OPT_BOOL, 0, "false",
              "also write the change records, not only the tables"),
    SL_OPTION_CHOICE("format", 0, "qvd", "file format: qvd or csv", sl_formats),
    SL_OPTION("timezone", SL_OPT_STRING, 0, NULL,
              "UTC offset used to display timestamptz values, e.g. \"+02:00\" (default UTC)"),
    SL_OPTION("memory_limit_mb", SL_OPT_INT, 0, "0",
              "memory limit for this tenant in MiB, 0 = none"),
    SL_OPTIONS_END,
};

#define SL_JOB_NOPTIONS 6 /* entries of sl_job_options */

/* ------------------------------------------------------------------------------------------ */
/* Diagnostics */

static void sl_diag_addv(sl_diag *d, const char *file, int line, const char *fmt, va_list ap)
    SL_PRINTF(4, 0);

static void sl_diag_addv(sl_diag *d, const char *file, int line, const char *fmt, va_list ap)
{
    char *msg = NULL, *full = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) {
        return;
    }
    int r = line > 0 ? asprintf(&full, "%s:%d: %s", file, line, msg)
                     : asprintf(&full, "%s: %s", file, msg);
    free(msg);
    if (r < 0) {
        return;
    }
    char **lines = realloc(d->lines, (d->n + 1) * sizeof *lines);
    if (!lines) {
        free(full);
        return;
    }
    d->lines = lines;
    d->lines[d->n++] = full;
}

void sl_diag_add(sl_diag *d, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sl_diag_addv(d, file, line, fmt, ap);
    va_end(ap);
}

void sl_diag_free(sl_diag *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->lines[i]);
    }
    free(d->lines);
    d->lines = NULL;
    d->n = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Loader state */

typedef struct sl_loader {
    const char *path;
    const sl_registry *reg;
    sl_diag *diag;
    lua_State *L;
    sl_scan scan;
    int ret_line; /* where problems of the whole job are reported */
    size_t nerr;
    int oom;
    /* Job-wide settings written inside sink{} (the deprecated place), moved to the job's
     * settings once the whole table is read. */
    sl_optval legacy[SL_JOB_NOPTIONS];
    size_t nlegacy;
} sl_loader;

static void ld_err(sl_loader *ld, int line, const char *fmt, ...) SL_PRINTF(3, 4);

static void ld_err(sl_loader *ld, int line, const char *fmt, ...)
{
    ld->nerr++;
    if (ld->nerr > SL_JOB_MAX_DIAGS + 1) {
        return;
    }
    if (ld->nerr == SL_JOB_MAX_DIAGS + 1) {
        sl_diag_add(ld->diag, ld->path, 0, "too many problems, stopped after %d", SL_JOB_MAX_DIAGS);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    sl_diag_addv(ld->diag, ld->path, line, fmt, ap);
    va_end(ap);
}

static void ld_warn(sl_loader *ld, int line, const char *fmt, ...) SL_PRINTF(3, 4);

/* A warning does not fail the load; it is kept with the diagnostics ("FILE:LINE: warning: ..."). */
static void ld_warn(sl_loader *ld, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_diag_add(ld->diag, ld->path, line, "warning: %s", msg);
}

/* A user string made safe for a one-line message: at most 64 bytes, control bytes as '?'. */
typedef struct sl_shown {
    char s[72];
} sl_shown;

static sl_shown shown(const char *p, size_t len)
{
    sl_shown r;
    size_t n = 0;
    for (size_t i = 0; i < len && n < 64; i++) {
        unsigned char c = (unsigned char)p[i];
        r.s[n++] = (c < 0x20 || c == 0x7f || c == '"') ? '?' : (char)c;
    }
    if (len > 64) {
        memcpy(r.s + n, "...", 3);
        n += 3;
    }
    r.s[n] = '\0';
    return r;
}

/* Lua-side string at idx (must be a string: never converts, so never allocates). */
static sl_shown lshown(lua_State *L, int idx)
{
    size_t len = 0;
    const char *p = lua_tolstring(L, idx, &len);
    return shown(p, len);
}

static const char *kind_label(sl_kind k)
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
    return "plugin";
}

/* Optimal string alignment distance (a swap of two neighbours counts 1), capped inputs. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) {
        return (size_t)-1;
    }
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++) {
        d[i][0] = i;
    }
    for (size_t j = 0; j <= lb; j++) {
        d[0][j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) {
                v = d[i][j - 1] + 1;
            }
            if (d[i - 1][j - 1] + cost < v) {
                v = d[i - 1][j - 1] + cost;
            }
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v) {
                v = d[i - 2][j - 2] + 1;
            }
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

/* Builds ` (did you mean "x"?)` into out when one of names is close to word. */
static void suggestion(char *out, size_t outlen, const char *word, const char *const *names,
                       size_t nnames)
{
    out[0] = '\0';
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    size_t wl = strlen(word);
    for (size_t i = 0; i < nnames; i++) {
        size_t d = edit_distance(word, names[i]);
        size_t nl = strlen(names[i]);
        size_t longer = wl > nl ? wl : nl;
        /* Close enough to be a typo, not just a short unrelated name. */
        if (d <= 2 && d * 3 <= longer && d < bestd) {
            best = names[i];
            bestd = d;
        }
    }
    if (best) {
        snprintf(out, outlen, " (did you mean \"%s\"?)", best);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Values */

static char *fmt_double(double d)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", d);
    if (strtod(buf, NULL) != d) {
        snprintf(buf, sizeof buf, "%.17g", d);
    }
    return strdup(buf);
}

static char *fmt_int(int64_t i)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)i);
    return strdup(buf);
}

/* Joins a list with ',' for optval.s. */
static char *join_list(char **list, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++) {
        len += strlen(list[i]) + 1;
    }
    char *s = malloc(len);
    if (!s) {
        return NULL;
    }
    s[0] = '\0';
    char *p = s;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(list[i]);
        if (i) {
            *p++ = ',';
        }
        memcpy(p, list[i], l + 1);
        p += l;
    }
    return s;
}

static void node_clear(sl_optnode *n)
{
    if (!n)
        return;
    free(n->s);
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            free(n->keys[i]);
        if (n->items)
            node_clear(&n->items[i]);
    }
    free(n->keys);
    free(n->items);
    memset(n, 0, sizeof *n);
}

static void optval_clear(sl_optval *v)
{
    if (v->node) {
        node_clear(v->node);
        free(v->node);
    }
    free(v->name);
    free(v->s);
    for (size_t i = 0; i < v->nlist; i++) {
        free(v->list[i]);
    }
    free(v->list);
    memset(v, 0, sizeof *v);
}

static const char *type_wanted(sl_opt_type t)
{
    switch (t) {
    case SL_OPT_STRING:
        return "a string";
    case SL_OPT_INT:
        return "an integer";
    case SL_OPT_DOUBLE:
        return "a number";
    case SL_OPT_BOOL:
        return "a boolean";
    case SL_OPT_LIST:
        return "a string or an array of strings";
    case SL_OPT_MAP:
        return "a table of name = value";
    case SL_OPT_TABLE:
        return "a table";
    }
    return "a value";
}

/* 1 if the Lua table at idx has exactly the keys 1..rawlen. */
static int is_array(lua_State *L, int idx, size_t *n)
{
    idx = lua_absindex(L, idx);
    size_t len = (size_t)lua_rawlen(L, idx), count = 0;
    int ok = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
            (size_t)lua_tointeger(L, -1) > len) {
            ok = 0;
        }
    }
    *n = len;
    return ok && count == len;
}

/* Copies a message into a caller's buffer, cut at its size. */
static void copy_line(char *dst, size_t dstlen, const char *src)
{
    size_t l = strlen(src);
    if (!dstlen)
        return;
    if (l >= dstlen)
        l = dstlen - 1;
    memmove(dst, src, l);
    dst[l] = 0;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Canonical text of a node (for `sluice check`, the job hash and opt_string): scalars as
 * themselves, lists as [a, b], maps as {k = v, ...} in key order. */
static void node_text(const sl_optnode *n, char **out, size_t *len, size_t *cap, int *oom_)
{
#define SL_ADD(p_, l_)                                                                             \
    do {                                                                                           \
        size_t ll_ = (l_);                                                                         \
        if (*len + ll_ + 1 > *cap) {                                                               \
            size_t nc_ = (*cap ? *cap * 2 : 64) + ll_;                                             \
            char *np_ = realloc(*out, nc_);                                                        \
            if (!np_) {                                                                            \
                *oom_ = 1;                                                                         \
                return;                                                                            \
            }                                                                                      \
            *out = np_;                                                                            \
            *cap = nc_;                                                                            \
        }                                                                                          \
        memcpy(*out + *len, (p_), ll_);                                                            \
        *len += ll_;                                                                               \
        (*out)[*len] = 0;                                                                          \
    } while (0)
    if (n->type == SL_OPT_LIST || n->type == SL_OPT_MAP) {
        SL_ADD(n->type == SL_OPT_LIST ? "[" : "{", 1);
        for (size_t i = 0; i < n->n; i++) {
            if (i)
                SL_ADD(", ", 2);
            if (n->type == SL_OPT_MAP) {
                SL_ADD(n->keys[i], strlen(n->keys[i]));
                SL_ADD(" = ", 3);
            }
            node_text(&n->items[i], out, len, cap, oom_);
            if (*oom_)
                return;
        }
        SL_ADD(n->type == SL_OPT_LIST ? "]" : "}", 1);
    } else if (n->s) {
        SL_ADD(n->s, strlen(n->s));
    }
#undef SL_ADD
}

/* Builds a node from the Lua value at idx (any nesting of scalars, arrays and string-keyed
 * tables). 0, -1 with why, -2 out of memory. */
static int node_from_lua(lua_State *L, int idx, int line, int depth, sl_optnode *n, char *why,
                         size_t whylen)
{
    idx = lua_absindex(L, idx);
    n->line = line;
    int t = lua_type(L, idx);
    size_t len = 0;
    if (depth > 8) {
        snprintf(why, whylen, "is nested too deeply (more than 8 levels)");
        return -1;
    }
    switch (t) {
    case LUA_TSTRING: {
        const char *p = lua_tolstring(L, idx, &len);
        if (memchr(p, '\0', len)) {
            snprintf(why, whylen, "must not contain a NUL byte");
            return -1;
        }
        n->type = SL_OPT_STRING;
        n->s = strndup(p, len);
        return n->s ? 0 : -2;
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            n->type = SL_OPT_INT;
            n->i = lua_tointeger(L, idx);
            n->d = (double)n->i;
            n->s = fmt_int(n->i);
        } else {
            n->type = SL_OPT_DOUBLE;
            n->d = lua_tonumber(L, idx);
            n->i = (int64_t)n->d;
            n->s = fmt_double(n->d);
        }
        return n->s ? 0 : -2;
    case LUA_TBOOLEAN:
        n->type = SL_OPT_BOOL;
        n->i = lua_toboolean(L, idx);
        n->d = (double)n->i;
        n->s = strdup(n->i ? "true" : "false");
        return n->s ? 0 : -2;
    case LUA_TTABLE:
        break;
    default:
        snprintf(why, whylen, "cannot hold a %s", lua_typename(L, t));
        return -1;
    }
    const char *ctor = NULL;
    int tl = sl_sandbox_table_line(L, idx, &ctor);
    if (tl)
        n->line = tl;
    size_t count = 0;
    if (is_array(L, idx, &count)) {
        n->type = SL_OPT_LIST;
        n->items = calloc(count ? count : 1, sizeof *n->items);
        if (!n->items)
            return -2;
        for (size_t i = 0; i < count; i++) {
            lua_rawgeti(L, idx, (lua_Integer)i + 1);
            n->n = i + 1;
            int r = node_from_lua(L, -1, n->line, depth + 1, &n->items[i], why, whylen);
            lua_pop(L, 1);
            if (r == -1) {
                char tmp[512];
                snprintf(tmp, sizeof tmp, "item [%zu] %.200s", i + 1, why);
                copy_line(why, whylen, tmp);
            }
            if (r != 0)
                return r;
        }
        return 0;
    }
    n->type = SL_OPT_MAP;
    count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            snprintf(why, whylen, "mixes array items and name = value entries");
            return -1;
        }
        count++;
    }
    n->keys = calloc(count ? count : 1, sizeof *n->keys);
    n->items = calloc(count ? count : 1, sizeof *n->items);
    if (!n->keys || !n->items)
        return -2;
    size_t k = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) && k < count) {
        lua_pop(L, 1);
        n->keys[k] = strdup(lua_tostring(L, -1));
        if (!n->keys[k]) {
            lua_pop(L, 1);
            return -2;
        }
        k++;
    }
    n->n = k;
    qsort(n->keys, n->n, sizeof *n->keys, cmp_cstr);
    for (size_t i = 0; i < n->n; i++) {
        lua_getfield(L, idx, n->keys[i]);
        lua_pushstring(L, n->keys[i]);
        lua_rawget(L, idx);
        int r = node_from_lua(L, -1, n->line, depth + 1, &n->items[i], why, whylen);
        lua_pop(L, 2);
        if (r != 0) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "entry \"%.40s\" %.200s",
                     shown(n->keys[i], strlen(n->keys[i])).s, why);
            copy_line(why, whylen, tmp);
            return r;
        }
    }
    return 0;
}

/* A MAP option is one level of name = scalar ({} is the empty map). 0, or -1 with why. */
static int check_map(sl_optnode *n, char *why, size_t whylen)
{
    if (n->type == SL_OPT_LIST && n->n == 0) {
        n->type = SL_OPT_MAP;
        return 0;
    }
    if (n->type != SL_OPT_MAP) {
        snprintf(why, whylen, "must be %s, got %s", type_wanted(SL_OPT_MAP),
                 n->type == SL_OPT_LIST ? "an array" : "a scalar");
        return -1;
    }
    for (size_t i = 0; i < n->n; i++) {
        sl_opt_type t = n->items[i].type;
        if (t == SL_OPT_LIST || t == SL_OPT_MAP) {
            char tmp[256];
            snprintf(tmp, sizeof tmp,
                     "entry \"%.40s\" must be a string, number or boolean, got a table",
                     shown(n->keys[i], strlen(n->keys[i])).s);
            copy_line(why, whylen, tmp);
            return -1;
        }
    }
    return 0;
}

/* Every option also as a tree, so plugins may read any option with opt_node. */
static int optval_node(lua_State *L, int idx, int line, sl_optval *v, char *why, size_t whylen)
{
    v->node = calloc(1, sizeof *v->node);
    if (!v->node)
        return -2;
    int r = node_from_lua(L, idx, line, 0, v->node, why, whylen);
    if (r != 0)
        return r;
    if (v->type == SL_OPT_MAP && check_map(v->node, why, whylen) != 0)
        return -1;
    if (v->type == SL_OPT_MAP || v->type == SL_OPT_TABLE || !v->s) {
        char *out = NULL;
        size_t len = 0, cap = 0;
        int o = 0;
        node_text(v->node, &out, &len, &cap, &o);
        if (o) {
            free(out);
            return -2;
        }
        free(v->s);
        v->s = out ? out : strdup("");
        if (!v->s)
            return -2;
    }
    return 0;
}

/* Converts the Lua value at idx to an optval of type o->type. 0, or -1 with why filled (a
 * complete "must be X, got Y" phrase), or -2 when out of memory. */
static int convert(lua_State *L, int idx, const sl_option *o, sl_optval *v, char *why,
                   size_t whylen)
{
    int t = lua_type(L, idx);
    size_t len = 0;
    switch (o->type) {
    case SL_OPT_STRING:
        if (t != LUA_TSTRING) {
            break;
        }
        {
            const char *p = lua_tolstring(L, idx, &len);
            if (memchr(p, '\0', len)) {
                snprintf(why, whylen, "must not contain a NUL byte");
                return -1;
            }
            v->s = strndup(p, len);
        }
        return v->s ? 0 : -2;
    case SL_OPT_INT:
        if (t != LUA_TNUMBER) {
            break;
        }
        if (lua_isinteger(L, idx)) {
            v->i = lua_tointeger(L, idx);
        } else {
            double d = lua_tonumber(L, idx);
            /* 1e3 is written as a float but means an integer. */
            if (!(d == floor(d) && d >= -9.2e18 && d <= 9.2e18)) {
                char *ds = fmt_double(d);
                snprintf(why, whylen, "must be an integer, got %s", ds ? ds : "a fraction");
                free(ds);
                return -1;
            }
            v->i = (int64_t)d;
        }
        v->d = (double)v->i;
        v->s = fmt_int(v->i);
        return v->s ? 0 : -2;
    case SL_OPT_DOUBLE:
        if (t != LUA_TNUMBER) {
            break;
        }
        v->d = lua_tonumber(L, idx);
        if (!isfinite(v->d)) {
            snprintf(why, whylen, "must be a finite number");
            return -1;
        }
        v->s = fmt_double(v->d);
        return v->s ? 0 : -2;
    case SL_OPT_BOOL:
        if (t != LUA_TBOOLEAN) {
            break;
        }
        v->i = lua_toboolean(L, idx);
        v->d = (double)v->i;
        v->s = strdup(v->i ? "true" : "false");
        return v->s ? 0 : -2;
    case SL_OPT_LIST:
        if (t == LUA_TSTRING) {
            v->list = calloc(1, sizeof *v->list);
            if (!v->list) {
                return -2;
            }
            const char *p = lua_tolstring(L, idx, &len);
            v->list[0] = strndup(p, len);
            if (!v->list[0]) {
                return -2;
            }
            v->nlist = 1;
        } else if (t == LUA_TTABLE) {
            size_t n = 0;
            if (!is_array(L, idx, &n)) {
                snprintf(why, whylen, "must be %s, got a table with non-array keys",
                         type_wanted(o->type));
                return -1;
            }
            v->list = calloc(n ? n : 1, sizeof *v->list);
            if (!v->list) {
                return -2;
            }
            for (size_t i = 0; i < n; i++) {
                int et = lua_rawgeti(L, idx, (lua_Integer)i + 1);
                if (et != LUA_TSTRING) {
                    snprintf(why, whylen, "must be %s, got %s at [%zu]", type_wanted(o->type),
                             lua_typename(L, et), i + 1);
                    lua_pop(L, 1);
                    return -1;
                }
                const char *p = lua_tolstring(L, -1, &len);
                v->list[i] = strndup(p, len);
                lua_pop(L, 1);
                if (!v->list[i]) {
                    return -2;
                }
                v->nlist = i + 1;
            }
        } else {
            break;
        }
        v->s = join_list(v->list, v->nlist);
        return v->s ? 0 : -2;
    case SL_OPT_MAP:
    case SL_OPT_TABLE:
        if (t != LUA_TTABLE)
            break;
        return 0; /* the node tree (optval_node) is the value */
    }
    snprintf(why, whylen, "must be %s, got %s", type_wanted(o->type), lua_typename(L, t));
    return -1;
}

/* A default's tree: a scalar, or a list of strings. */
static int default_node(sl_optval *v)
{
    sl_optnode *n = calloc(1, sizeof *n);
    if (!n)
        return -1;
    v->node = n;
    if (v->list || v->type == SL_OPT_LIST) {
        n->type = SL_OPT_LIST;
        n->items = calloc(v->nlist ? v->nlist : 1, sizeof *n->items);
        if (!n->items)
            return -1;
        for (size_t i = 0; i < v->nlist; i++) {
            n->items[i].type = SL_OPT_STRING;
            n->items[i].s = strdup(v->list[i]);
            n->n = i + 1;
            if (!n->items[i].s)
                return -1;
        }
        return 0;
    }
    n->type = v->type == SL_OPT_MAP || v->type == SL_OPT_TABLE ? SL_OPT_STRING : v->type;
    n->i = v->i;
    n->d = v->d;
    n->s = strdup(v->s ? v->s : "");
    return n->s ? 0 : -1;
}

/* Allowed values and ranges the plugin declared. 0, or -1 with why. */
static int check_value(const sl_option *o, const sl_optval *v, char *why, size_t whylen)
{
    if ((o->flags & SL_OPT_RANGE) && (o->type == SL_OPT_INT || o->type == SL_OPT_DOUBLE) &&
        (v->d < o->min || v->d > o->max)) {
        char *lo = fmt_double(o->min), *hi = fmt_double(o->max);
        snprintf(why, whylen, "must be between %s and %s, got %s", lo ? lo : "?", hi ? hi : "?",
                 v->s ? v->s : "?");
        free(lo);
        free(hi);
        return -1;
    }
    if (!o->choices || (o->type != SL_OPT_STRING && o->type != SL_OPT_LIST))
        return 0;
    size_t nc = 0;
    while (o->choices[nc])
        nc++;
    size_t nvals = o->type == SL_OPT_LIST ? v->nlist : 1;
    for (size_t i = 0; i < nvals; i++) {
        const char *val = o->type == SL_OPT_LIST ? v->list[i] : v->s;
        int ok = 0;
        for (size_t c = 0; c < nc && !ok; c++)
            ok = strcmp(o->choices[c], val) == 0;
        if (ok)
            continue;
        char sug[96], allowed[160] = "";
        suggestion(sug, sizeof sug, val, (const char *const *)o->choices, nc);
        for (size_t c = 0; c < nc; c++) {
            size_t l = strlen(allowed);
            snprintf(allowed + l, sizeof allowed - l, "%s%s", c ? ", " : "", o->choices[c]);
        }
        char tmp[512], at[32] = "";
        if (o->type == SL_OPT_LIST)
            snprintf(at, sizeof at, " at [%zu]", i + 1);
        snprintf(tmp, sizeof tmp, "must be one of %s, got \"%.40s\"%s%s", allowed,
                 shown(val, strlen(val)).s, at, sug);
        copy_line(why, whylen, tmp);
        return -1;
    }
    return 0;
}

/* Fills v from a declaration's default text. 0, -1 (the plugin declared a bad default), -2. */
static int parse_default(const sl_option *o, sl_optval *v)
{
    const char *s = o->default_value;
    char *end = NULL;
    errno = 0;
    switch (o->type) {
    case SL_OPT_MAP:
    case SL_OPT_TABLE:
        return -1; /* a table option has no text default: the plugin applies its own */
    case SL_OPT_STRING:
        v->s = strdup(s);
        return v->s ? 0 : -2;
    case SL_OPT_INT: {
        long long x = strtoll(s, &end, 10);
        if (!*s || *end || errno) {
            return -1;
        }
        v->i = x;
        v->d = (double)x;
        v->s = fmt_int(v->i);
        return v->s ? 0 : -2;
    }
    case SL_OPT_DOUBLE:
        v->d = strtod(s, &end);
        if (!*s || *end || errno || !isfinite(v->d)) {
            return -1;
        }
        v->s = fmt_double(v->d);
        return v->s ? 0 : -2;
    case SL_OPT_BOOL:
        if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) {
            v->i = 1;
        } else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0) {
            v->i = 0;
        } else {
            return -1;
        }
        v->d = (double)v->i;
        v->s = strdup(v->i ? "true" : "false");
        return v->s ? 0 : -2;
    case SL_OPT_LIST: {
        /* "a,b,c"; "" is the empty list. */
        size_t n = *s ? 1 : 0;
        for (const char *p = s; *p; p++) {
            n += *p == ',';
        }
        v->list = calloc(n ? n : 1, sizeof *v->list);
        if (!v->list) {
            return -2;
        }
        const char *p = s;
        for (size_t i = 0; i < n; i++) {
            size_t l = strcspn(p, ",");
            v->list[i] = strndup(p, l);
            if (!v->list[i]) {
                return -2;
            }
            v->nlist = i + 1;
            p += l + (p[l] == ',');
        }
        v->s = join_list(v->list, v->nlist);
        return v->s ? 0 : -2;
    }
    }
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Plugin tables */

/* t[key] without metamethods (the script's _ENV and string table have some), pushed. */
static int rawfield(lua_State *L, int idx, const char *key)
{
    idx = lua_absindex(L, idx);
    lua_pushstring(L, key);
    return lua_rawget(L, idx);
}

/* A table's string keys, sorted by (line where written, name): Lua's traversal order depends on
 * a per-state random hash seed, and diagnostics must come out the same on every run. */
typedef struct sl_tkey {
    const char *name; /* the Lua string, alive as long as the table */
    size_t len;
    int line;
} sl_tkey;

static int cmp_tkey(const void *a, const void *b)
{
    const sl_tkey *x = a, *y = b;
    if (x->line != y->line) {
        return x->line < y->line ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

static int key_line(const sl_loader *ld, const char *name, int line);
static void oom(sl_loader *ld);

/* Collects the string keys of the table at idx (private keys skipped); *other counts the keys
 * of other types. NULL with *n == 0 for none; sets ld->oom on failure. */
static sl_tkey *table_keys(sl_loader *ld, int idx, int base_line, size_t *n, size_t *other)
{
    lua_State *L = ld->L;
    idx = lua_absindex(L, idx);
    size_t cap = 0;
    sl_tkey *keys = NULL;
    *n = *other = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (sl_sandbox_is_private_key(L, -1)) {
            continue;
        }
        if (lua_type(L, -1) != LUA_TSTRING) {
            (*other)++;
            continue;
        }
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            sl_tkey *k = realloc(keys, nc * sizeof *k);
            if (!k) {
                lua_pop(L, 1);
                free(keys);
                *n = 0;
                oom(ld);
                return NULL;
            }
            keys = k;
            cap = nc;
        }
        sl_tkey *k = &keys[(*n)++];
        k->name = lua_tolstring(L, -1, &k->len);
        k->line = key_line(ld, k->name, base_line);
    }
    if (*n > 1) {
        qsort(keys, *n, sizeof *keys, cmp_tkey);
    }
    return keys;
}

/* The declarations that apply to a spec: the plugin's, then (sinks) the core's. */
typedef struct sl_decls {
    const sl_option *lists[2];
    size_t n;
} sl_decls;

static const sl_option *decl_find(const sl_decls *ds, const char *name)
{
    for (size_t l = 0; l < ds->n; l++) {
        for (const sl_option *o = ds->lists[l]; o && o->name; o++) {
            if (strcmp(o->name, name) == 0) {
                return o;
            }
        }
    }
    return NULL;
}

static size_t decl_count(const sl_decls *ds)
{
    size_t n = 0;
    for (size_t l = 0; l < ds->n; l++) {
        for (const sl_option *o = ds->lists[l]; o && o->name; o++) {
            n++;
        }
    }
    return n;
}

/* Where the key `name` of a table that starts at `line` is written. */
static int key_line(const sl_loader *ld, const char *name, int line)
{
    int l = sl_scan_find(&ld->scan, name, line, 0);
    if (!l) {
        l = sl_scan_find(&ld->scan, name, 1, 0);
    }
    return l ? l : line;
}

static void oom(sl_loader *ld)
{
    if (!ld->oom) {
        ld->oom = 1;
        ld_err(ld, 0, "out of memory");
    }
}

static int cmp_optval(const void *a, const void *b)
{
    return strcmp(((const sl_optval *)a)->name, ((const sl_optval *)b)->name);
}

/* Known plugins of a kind, sorted, as "a, b, c". */
static char *known_plugins(const sl_registry *reg, sl_kind kind)
{
    size_t n = 0, len = 1;
    for (size_t i = 0; i < reg->n; i++) {
        if (reg->items[i].desc.kind == kind && reg->items[i].desc.name) {
            n++;
            len += strlen(reg->items[i].desc.name) + 2;
        }
    }
    const char **names = calloc(n ? n : 1, sizeof *names);
    char *out = malloc(len);
    if (!names || !out) {
        free(names);
        free(out);
        return NULL;
    }
    n = 0;
    for (size_t i = 0; i < reg->n; i++) {
        if (reg->items[i].desc.kind == kind && reg->items[i].desc.name) {
            names[n++] = reg->items[i].desc.name;
        }
    }
    /* Insertion sort: a handful of names. */
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i) {
            strcat(out, ", ");
        }
        strcat(out, names[i]);
    }
    free(names);
    return out;
}

/* Converts, type-checks and value-checks the option value at idx (declared by o, written at line
 * kl) into v. 0, or -1 after reporting the problem as "<what>option "name" ...". */
static int parse_given(sl_loader *ld, int idx, const sl_option *o, int kl, const char *what,
                       sl_optval *v)
{
    lua_State *L = ld->L;
    char why[320];
    v->type = o->type;
    int r = convert(L, idx, o, v, why, sizeof why);
    if (r == 0)
        r = optval_node(L, idx, kl, v, why, sizeof why);
    if (r == 0)
        r = check_value(o, v, why, sizeof why);
    if (r == 0 && !(v->name = strdup(o->name)))
        r = -2;
    if (r == 0) {
        v->type = o->type;
        v->flags = o->flags;
        v->line = kl;
        return 0;
    }
    optval_clear(v);
    if (r == -1)
        ld_err(ld, kl, "%s%s\"%s\" %s", what, *what ? "option " : "", o->name, why);
    else
        oom(ld);
    return -1;
}

/* Fills v with o's declared default. 0, or -1 after reporting (a bad default in the plugin). */
static int fill_default(sl_loader *ld, const sl_option *o, int line, const char *what, sl_optval *v)
{
    int r = parse_default(o, v);
    if (r == 0 && !(v->name = strdup(o->name)))
        r = -2;
    if (r == 0 && default_node(v) != 0)
        r = -2;
    if (r == 0) {
        v->type = o->type;
        v->flags = o->flags;
        v->is_default = 1;
        return 0;
    }
    optval_clear(v);
    if (r == -1)
        ld_err(ld, line, "%soption \"%s\" has an invalid default \"%s\" in the plugin", what,
               o->name, o->default_value);
    else
        oom(ld);
    return -1;
}

static int is_job_option(const sl_option *o)
{
    return o >= sl_job_options && o < sl_job_options + SL_JOB_NOPTIONS;
}

/* Checks the job-wide settings' values beyond their declarations. */
static void check_settings(sl_loader *ld, const sl_plugin_spec *spec)
{
    const sl_optval *v = sl_spec_opt(spec, "flush_interval");
    if (v && !(v->d > 0)) {
        ld_err(ld, v->line ? v->line : ld->ret_line, "\"flush_interval\" must be greater than 0");
    }
    v = sl_spec_opt(spec, "flush_max_changes");
    if (v && v->i < 1) {
        ld_err(ld, v->line ? v->line : ld->ret_line, "\"flush_max_changes\" must be at least 1");
    }
    v = sl_spec_opt(spec, "memory_limit_mb");
    if (v && v->i < 0) {
        ld_err(ld, v->line ? v->line : ld->ret_line,
               "\"memory_limit_mb\" must be 0 (no limit) or more");
    }
    v = sl_spec_opt(spec, "timezone");
    if (v && v->s) {
        const char *z = v->s;
        int ok = strcmp(z, "UTC") == 0 || strcmp(z, "Z") == 0;
        if (!ok && strlen(z) == 6 && (z[0] == '+' || z[0] == '-') && z[3] == ':') {
            int digits = 1;
            for (int i = 1; i < 6; i++) {
                digits &= i == 3 || (z[i] >= '0' && z[i] <= '9');
            }
            int hh = (z[1] - '0') * 10 + (z[2] - '0'), mm = (z[4] - '0') * 10 + (z[5] - '0');
            ok = digits && hh <= 14 && mm <= 59;
        }
        if (!ok) {
            ld_err(ld, v->line ? v->line : ld->ret_line,
                   "\"timezone\" must be \"UTC\" or an offset like \"+02:00\", got \"%s\"",
                   shown(z, strlen(z)).s);
        }
    }
}

/* Validates one plugin table at idx into spec. fallback_line: where the table is when it was
 * not made by a constructor. */
static void load_spec(sl_loader *ld, int idx, sl_kind kind, int fallback_line, sl_plugin_spec *spec)
{
    lua_State *L = ld->L;
    const char *label = kind_label(kind);
    idx = lua_absindex(L, idx);
    const char *ctor = NULL;
    int line = sl_sandbox_table_line(L, idx, &ctor);
    spec->line = line ? line : fallback_line;
    line = spec->line;
    if (ctor && strcmp(ctor, label) != 0) {
        ld_err(ld, line, "%s table made with %s{...}: use %s{...} or a plain table", label, ctor,
               label);
    }

    int pt = rawfield(L, idx, "plugin");
    if (pt == LUA_TNIL) {
        lua_pop(L, 1);
        ld_err(ld, line, "%s: missing \"plugin\"", label);
        return;
    }
    if (pt != LUA_TSTRING) {
        ld_err(ld, key_line(ld, "plugin", line), "%s: \"plugin\" must be a string, got %s", label,
               lua_typename(L, pt));
        lua_pop(L, 1);
        return;
    }
    size_t plen = 0;
    const char *pname = lua_tolstring(L, -1, &plen);
    spec->plugin = strndup(pname, plen);
    lua_pop(L, 1);
    if (!spec->plugin) {
        oom(ld);
        return;
    }
    const char *name = spec->plugin;
    const sl_plugin_entry *e = strlen(name) == plen ? sl_registry_find(ld->reg, kind, name) : NULL;
    if (!e) {
        char *known = known_plugins(ld->reg, kind);
        ld_err(ld, key_line(ld, "plugin", line), "%s \"%s\": unknown %s plugin (known: %s)", label,
               shown(name, strlen(name)).s, label, known && *known ? known : "none");
        free(known);
        return;
    }
    spec->entry = e;

    /* A sink table still accepts the job-wide settings (their old place); the plugin's own
     * declaration of the same name wins. */
    sl_decls ds = {{e->desc.options, NULL}, 1};
    if (kind == SL_KIND_SINK) {
        ds.lists[ds.n++] = sl_job_options;
    }
    size_t ndecl = decl_count(&ds);
    spec->opts = calloc(ndecl ? ndecl : 1, sizeof *spec->opts);
    if (!spec->opts) {
        oom(ld);
        return;
    }
    char what[96];
    snprintf(what, sizeof what, "%s \"%s\": ", label, shown(name, strlen(name)).s);

    /* Given options. */
    size_t nkeys = 0, other = 0;
    sl_tkey *keys = table_keys(ld, idx, line, &nkeys, &other);
    if (other) {
        ld_err(ld, line, "%s \"%s\": %zu entr%s without a name (options are written name = value)",
               label, name, other, other == 1 ? "y" : "ies");
    }
    for (size_t ki = 0; ki < nkeys; ki++) {
        const char *key = keys[ki].name;
        size_t klen = keys[ki].len;
        int kl = keys[ki].line;
        if (strcmp(key, "plugin") == 0) {
            continue;
        }
        const sl_option *o = strlen(key) == klen ? decl_find(&ds, key) : NULL;
        if (!o) {
            const char *names[128];
            size_t nn = 0;
            for (size_t l = 0; l < ds.n; l++) {
                for (const sl_option *d = ds.lists[l]; d && d->name && nn < 128; d++) {
                    names[nn++] = d->name;
                }
            }
            char sug[96];
            suggestion(sug, sizeof sug, key, names, nn);
            ld_err(ld, kl, "%s \"%s\": unknown option \"%s\"%s", label, name, shown(key, klen).s,
                   sug);
            continue;
        }
        int legacy = is_job_option(o);
        if (legacy && ld->nlegacy == SL_JOB_NOPTIONS) {
            continue; /* cannot happen: each key once, and no more settings than that */
        }
        sl_optval *v = legacy ? &ld->legacy[ld->nlegacy] : &spec->opts[spec->nopts];
        lua_pushlstring(L, key, klen);
        lua_rawget(L, idx);
        if (parse_given(ld, -1, o, kl, what, v) == 0) {
            if (legacy) {
                ld->nlegacy++;
            } else {
                spec->nopts++;
            }
        }
        lua_pop(L, 1);
    }
    free(keys);

    /* Defaults and required options of the plugin. An option given with a wrong type is
     * reported once, as a wrong type, not also as missing. */
    for (const sl_option *o = e->desc.options; o && o->name; o++) {
        if (sl_spec_opt(spec, o->name) || decl_find(&ds, o->name) != o) {
            continue; /* given, or shadowed by an earlier declaration of the same name */
        }
        lua_pushstring(L, o->name);
        int given = lua_rawget(L, idx) != LUA_TNIL;
        lua_pop(L, 1);
        if (given) {
            continue;
        }
        if (o->default_value) {
            if (fill_default(ld, o, line, what, &spec->opts[spec->nopts]) == 0) {
                spec->nopts++;
            }
        } else if (o->flags & SL_OPT_REQUIRED) {
            ld_err(ld, line, "%s \"%s\": missing required option \"%s\"", label, name, o->name);
        }
    }
    if (spec->nopts)
        qsort(spec->opts, spec->nopts, sizeof *spec->opts, cmp_optval);
}

/* ------------------------------------------------------------------------------------------ */
/* The job table */

static int tenant_ok(const char *s, size_t len)
{
    if (len < 1 || len > 64) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

static const char *const top_keys[] = {"tenant", "source", "transforms", "sink", "notifiers"};
#define NTOP_KEYS (sizeof top_keys / sizeof top_keys[0])

/* Line of a top-level key, or where the job table is returned. */
static int top_line(const sl_loader *ld, const char *key)
{
    int l = sl_scan_find(&ld->scan, key, 1, 0);
    return l ? l : ld->ret_line;
}

/* An optional array of plugin tables (transforms, notifiers). */
static void load_list(sl_loader *ld, int t, const char *key, sl_kind kind, sl_plugin_spec **out,
                      size_t *nout)
{
    lua_State *L = ld->L;
    int ty = rawfield(L, t, key);
    int xl = top_line(ld, key);
    size_t n = 0;
    if (ty == LUA_TNIL) {
        /* optional */
    } else if (ty != LUA_TTABLE || !is_array(L, -1, &n)) {
        ld_err(ld, xl, "\"%s\" must be an array of tables, got %s", key,
               ty == LUA_TTABLE ? "a table with non-array keys" : lua_typename(L, ty));
    } else if (n > 0) {
        *out = calloc(n, sizeof **out);
        if (!*out) {
            oom(ld);
        } else {
            *nout = n;
            size_t ntables = 0;
            for (size_t i = 0; i < n; i++) {
                int et = lua_rawgeti(L, -1, (lua_Integer)i + 1);
                if (et != LUA_TTABLE) {
                    ld_err(ld, xl, "%s[%zu] must be a table, got %s", key, i + 1,
                           lua_typename(L, et));
                } else {
                    /* A plain entry is found as the (i+1)-th "plugin =" after the key. */
                    int el = sl_scan_find(&ld->scan, "plugin", xl, ntables++);
                    load_spec(ld, -1, kind, el ? el : xl, &(*out)[i]);
                }
                lua_pop(L, 1);
            }
        }
    }
    lua_pop(L, 1);
}

static const sl_option *job_option(const char *name)
{
    for (const sl_option *o = sl_job_options; o->name; o++) {
        if (strcmp(o->name, name) == 0) {
            return o;
        }
    }
    return NULL;
}

/* The job-wide settings: those written in the job table, then those written inside sink{} (the
 * old place: one warning per file), then the defaults. */
static void load_settings(sl_loader *ld, int t, const sl_tkey *keys, size_t nkeys, sl_jobdesc *job)
{
    sl_plugin_spec *spec = &job->settings;
    spec->line = ld->ret_line;
    spec->opts = calloc(SL_JOB_NOPTIONS, sizeof *spec->opts);
    if (!spec->opts) {
        oom(ld);
        return;
    }
    for (size_t ki = 0; ki < nkeys; ki++) {
        const sl_option *o =
            strlen(keys[ki].name) == keys[ki].len ? job_option(keys[ki].name) : NULL;
        if (!o) {
            continue;
        }
        rawfield(ld->L, t, o->name);
        if (parse_given(ld, -1, o, keys[ki].line, "", &spec->opts[spec->nopts]) == 0) {
            spec->nopts++;
        }
        lua_pop(ld->L, 1);
    }
    if (ld->nlegacy) {
        char names[160] = "";
        int first = 0;
        char first_name[32] = "";
        for (size_t i = 0; i < ld->nlegacy; i++) {
            sl_optval *v = &ld->legacy[i];
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%s", i ? ", " : "", v->name);
            if (!first || v->line < first) {
                first = v->line;
                snprintf(first_name, sizeof first_name, "%s", v->name);
            }
            const sl_optval *top = sl_spec_opt(spec, v->name);
            if (top) {
                ld_err(ld, v->line,
                       "\"%s\" is set both in the job table (line %d) and inside sink{}: keep "
                       "the one in the job table",
                       v->name, top->line);
                optval_clear(v);
            } else if (spec->nopts < SL_JOB_NOPTIONS) {
                spec->opts[spec->nopts++] = *v;
                memset(v, 0, sizeof *v);
            } else {
                optval_clear(v); /* cannot happen: each setting is stored once */
            }
        }
        ld_warn(ld, first,
                "sink: %s inside sink{} %s deprecated: write job-wide settings in the job table "
                "(return { tenant = ..., %s = ..., source = ..., sink = ... })",
                names, ld->nlegacy == 1 ? "is" : "are", first_name);
        ld->nlegacy = 0;
    }
    for (const sl_option *o = sl_job_options; o->name; o++) {
        if (!sl_spec_opt(spec, o->name) && o->default_value && spec->nopts < SL_JOB_NOPTIONS &&
            fill_default(ld, o, ld->ret_line, "", &spec->opts[spec->nopts]) == 0) {
            spec->nopts++;
        }
    }
    if (spec->nopts) {
        qsort(spec->opts, spec->nopts, sizeof *spec->opts, cmp_optval);
    }
    check_settings(ld, spec);
}

static void load_top(sl_loader *ld, int t, sl_jobdesc *job)
{
    lua_State *L = ld->L;
    if (lua_type(L, t) != LUA_TTABLE) {
        ld_err(ld, ld->ret_line, "the job script must return a table, got %s", luaL_typename(L, t));
        return;
    }
    size_t nkeys = 0, other = 0;
    sl_tkey *keys = table_keys(ld, t, ld->ret_line, &nkeys, &other);
    if (other) {
        ld_err(ld, ld->ret_line,
               "the job table has %zu entr%s without a name (keys are tenant, source, "
               "transforms, sink, notifiers and the job-wide settings)",
               other, other == 1 ? "y" : "ies");
    }
    const char *names[NTOP_KEYS + SL_JOB_NOPTIONS];
    size_t nnames = 0;
    for (size_t i = 0; i < NTOP_KEYS; i++) {
        names[nnames++] = top_keys[i];
    }
    for (const sl_option *o = sl_job_options; o->name; o++) {
        names[nnames++] = o->name;
    }
    for (size_t ki = 0; ki < nkeys; ki++) {
        const char *k = keys[ki].name;
        int known = 0;
        for (size_t i = 0; i < nnames; i++) {
            known |= strcmp(k, names[i]) == 0;
        }
        if (!known) {
            char sug[64];
            suggestion(sug, sizeof sug, k, names, nnames);
            ld_err(ld, keys[ki].line, "unknown top-level key \"%s\"%s", shown(k, keys[ki].len).s,
                   sug);
        }
    }

    /* tenant */
    int tt = rawfield(L, t, "tenant");
    int tl = top_line(ld, "tenant");
    if (tt == LUA_TNIL) {
        ld_err(ld, ld->ret_line, "missing \"tenant\"");
    } else if (tt != LUA_TSTRING) {
        ld_err(ld, tl, "\"tenant\" must be a string, got %s", lua_typename(L, tt));
    } else {
        size_t len = 0;
        const char *s = lua_tolstring(L, -1, &len);
        if (!tenant_ok(s, len)) {
            ld_err(ld, tl, "tenant \"%s\" is not a valid name (1 to 64 of A-Z a-z 0-9 _ . -)",
                   lshown(L, -1).s);
        } else if (!(job->tenant = strndup(s, len))) {
            oom(ld);
        }
        job->tenant_line = tl;
    }
    lua_pop(L, 1);

    /* source and sink */
    static const struct {
        const char *key;
        sl_kind kind;
    } ends[] = {{"source", SL_KIND_SOURCE}, {"sink", SL_KIND_SINK}};
    for (size_t i = 0; i < 2; i++) {
        int ty = rawfield(L, t, ends[i].key);
        sl_plugin_spec *spec = ends[i].kind == SL_KIND_SOURCE ? &job->source : &job->sink;
        if (ty == LUA_TNIL) {
            ld_err(ld, ld->ret_line, "missing \"%s\"", ends[i].key);
        } else if (ty != LUA_TTABLE) {
            ld_err(ld, top_line(ld, ends[i].key), "\"%s\" must be a table, got %s", ends[i].key,
                   lua_typename(L, ty));
        } else {
            load_spec(ld, -1, ends[i].kind, top_line(ld, ends[i].key), spec);
        }
        lua_pop(L, 1);
    }

    load_list(ld, t, "transforms", SL_KIND_TRANSFORM, &job->transforms, &job->ntransforms);
    load_list(ld, t, "notifiers", SL_KIND_NOTIFIER, &job->notifiers, &job->nnotifiers);

    /* After the sink: it may hold settings in their old place. */
    load_settings(ld, t, keys, nkeys, job);
    free(keys);
}

/* ------------------------------------------------------------------------------------------ */
/* Hash: FNV-1a 64 over a canonical serialisation (lengths before bytes, options sorted). */

typedef struct sl_fnv {
    uint64_t h;
} sl_fnv;

static void fnv_bytes(sl_fnv *f, const void *p, size_t n)
{
    f->h = sl_fnv1a(f->h, p, n);
}

static void fnv_u64(sl_fnv *f, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(v >> (8 * i));
    }
    fnv_bytes(f, b, 8);
}

static void fnv_str(sl_fnv *f, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    fnv_u64(f, n);
    fnv_bytes(f, s ? s : "", n);
}

static void fnv_spec(sl_fnv *f, const char *kind, const sl_plugin_spec *s)
{
    fnv_str(f, kind);
    fnv_str(f, s->plugin);
    fnv_u64(f, s->nopts);
    for (size_t i = 0; i < s->nopts; i++) {
        const sl_optval *v = &s->opts[i];
        fnv_str(f, v->name);
        fnv_u64(f, (uint64_t)v->type);
        if (v->type == SL_OPT_LIST) {
            fnv_u64(f, v->nlist);
            for (size_t j = 0; j < v->nlist; j++) {
                fnv_str(f, v->list[j]);
            }
        } else {
            fnv_str(f, v->s);
        }
    }
}

static void job_hash(sl_jobdesc *job)
{
    sl_fnv f = {SL_FNV_INIT};
    fnv_str(&f, "sluice-job-1");
    fnv_str(&f, job->tenant);
    fnv_spec(&f, "source", &job->source);
    fnv_u64(&f, job->ntransforms);
    for (size_t i = 0; i < job->ntransforms; i++) {
        fnv_spec(&f, "transform", &job->transforms[i]);
    }
    fnv_spec(&f, "sink", &job->sink);
    fnv_u64(&f, job->nnotifiers);
    for (size_t i = 0; i < job->nnotifiers; i++)
        fnv_spec(&f, "notifier", &job->notifiers[i]);
    fnv_spec(&f, "settings", &job->settings);
    snprintf(job->hash, sizeof job->hash, "%016llx", (unsigned long long)f.h);
}

/* ------------------------------------------------------------------------------------------ */

static char *read_file(sl_loader *ld, size_t *len)
{
    FILE *fp = fopen(ld->path, "rbe");
    if (!fp) {
        char why[128];
        ld_err(ld, 0, "cannot read job file: %s", strerror_r(errno, why, sizeof why));
        return NULL;
    }
    char *buf = malloc(SL_JOB_MAX_FILE + 1);
    if (!buf) {
        fclose(fp);
        oom(ld);
        return NULL;
    }
    size_t n = fread(buf, 1, SL_JOB_MAX_FILE + 1, fp);
    int err = ferror(fp) ? errno : 0;
    fclose(fp);
    if (err) {
        char why[128];
        ld_err(ld, 0, "cannot read job file: %s", strerror_r(err, why, sizeof why));
        free(buf);
        return NULL;
    }
    if (n > SL_JOB_MAX_FILE) {
        ld_err(ld, 0, "job file is larger than %d KiB", SL_JOB_MAX_FILE / 1024);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The line number of a diagnostic this loader wrote ("PATH:LINE: ..."), 0 for "PATH: ...". */
static long diag_line(const char *d, size_t pathlen)
{
    const char *p = d + pathlen;
    if (*p != ':' || p[1] < '0' || p[1] > '9') {
        return 0;
    }
    return strtol(p + 1, NULL, 10);
}

/* Problems come out in file order (stable: same-line problems keep their order). */
static void sort_diags(sl_diag *d, size_t from, const char *path)
{
    size_t pl = strlen(path);
    for (size_t i = from + 1; i < d->n; i++) {
        char *cur = d->lines[i];
        long cl = diag_line(cur, pl);
        size_t j = i;
        while (j > from && diag_line(d->lines[j - 1], pl) > cl) {
            d->lines[j] = d->lines[j - 1];
            j--;
        }
        d->lines[j] = cur;
    }
}

static void spec_free(sl_plugin_spec *s)
{
    free(s->plugin);
    for (size_t i = 0; i < s->nopts; i++) {
        optval_clear(&s->opts[i]);
    }
    free(s->opts);
}

void sl_job_free(sl_jobdesc *job)
{
    if (!job) {
        return;
    }
    free(job->file);
    free(job->tenant);
    spec_free(&job->source);
    for (size_t i = 0; i < job->ntransforms; i++) {
        spec_free(&job->transforms[i]);
    }
    free(job->transforms);
    for (size_t i = 0; i < job->nnotifiers; i++)
        spec_free(&job->notifiers[i]);
    free(job->notifiers);
    spec_free(&job->sink);
    spec_free(&job->settings);
    free(job);
}

sl_jobdesc *sl_job_load(const char *path, const sl_registry *reg, sl_diag *diag)
{
    sl_loader ld = {.path = path, .reg = reg, .diag = diag};
    size_t first_diag = diag->n;
    sl_jobdesc *job = NULL;
    sl_sandbox *sb = NULL;
    size_t len = 0;
    char *src = read_file(&ld, &len);
    if (!src) {
        return NULL;
    }
    if (len > 0 && src[0] == LUA_SIGNATURE[0]) {
        ld_err(&ld, 0, "precompiled Lua bytecode is not accepted: job files are Lua source text");
        goto out;
    }
    sl_scan_text(&ld.scan, src, len);
    /* Problems of the job table as a whole point at its return statement, or at the end of a
     * script that forgot it. */
    ld.ret_line = ld.scan.last_return  ? ld.scan.last_return
                  : ld.scan.last_token ? ld.scan.last_token
                                       : 1;
    sb = sl_sandbox_new(path);
    if (!sb) {
        oom(&ld);
        goto out;
    }
    int line = 0;
    char msg[512];
    if (sl_sandbox_run(sb, src, len, &line, msg, sizeof msg) != 0) {
        ld_err(&ld, line, "%s", msg);
        goto out;
    }
    ld.L = sl_sandbox_lua(sb);
    if (!lua_checkstack(ld.L, 16)) {
        oom(&ld);
        goto out;
    }
    job = calloc(1, sizeof *job);
    if (!job || !(job->file = strdup(path))) {
        oom(&ld);
        goto out;
    }
    load_top(&ld, lua_gettop(ld.L), job);
    if (ld.nerr == 0) {
        job_hash(job);
    }
out:
    for (size_t i = 0; i < ld.nlegacy; i++) {
        optval_clear(&ld.legacy[i]);
    }
    sort_diags(diag, first_diag, path);
    if (ld.nerr) {
        sl_job_free(job);
        job = NULL;
    }
    sl_sandbox_free(sb);
    sl_scan_free(&ld.scan);
    free(src);
    return job;
}

const sl_optval *sl_spec_opt(const sl_plugin_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->nopts; i++) {
        if (strcmp(spec->opts[i].name, name) == 0) {
            return &spec->opts[i];
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Exclusive options across jobs */

static void spec_clashes(const sl_jobdesc *a, const sl_plugin_spec *sa, const sl_jobdesc *b,
                         const sl_plugin_spec *sb, const char *label, sl_diag *diag, size_t *n)
{
    if (!sa->entry || sa->entry != sb->entry) {
        return;
    }
    for (size_t i = 0; i < sb->nopts; i++) {
        const sl_optval *vb = &sb->opts[i];
        if (!(vb->flags & SL_OPT_EXCLUSIVE) || !vb->s) {
            continue;
        }
        const sl_optval *va = sl_spec_opt(sa, vb->name);
        if (!va || !va->s || strcmp(va->s, vb->s) != 0) {
            continue;
        }
        int secret = (vb->flags & SL_OPT_SECRET) != 0;
        sl_diag_add(diag, b->file, vb->line ? vb->line : sb->line,
                    "tenant \"%s\": %s \"%s\": option \"%s\"%s%s%s%s is also used by tenant \"%s\" "
                    "(%s:%d); two jobs must not share it",
                    b->tenant, label, sb->plugin, vb->name, secret ? "" : " = \"",
                    secret ? "" : shown(vb->s, strlen(vb->s)).s, secret ? "" : "\"",
                    vb->is_default ? " (the default)" : "", a->tenant, a->file,
                    va->line ? va->line : sa->line);
        (*n)++;
    }
}

size_t sl_job_clashes(const sl_jobdesc *a, const sl_jobdesc *b, sl_diag *diag)
{
    size_t n = 0;
    spec_clashes(a, &a->source, b, &b->source, "source", diag, &n);
    spec_clashes(a, &a->sink, b, &b->sink, "sink", diag, &n);
    for (size_t i = 0; i < a->ntransforms; i++) {
        for (size_t k = 0; k < b->ntransforms; k++) {
            spec_clashes(a, &a->transforms[i], b, &b->transforms[k], "transform", diag, &n);
        }
    }
    for (size_t i = 0; i < a->nnotifiers; i++) {
        for (size_t k = 0; k < b->nnotifiers; k++) {
            spec_clashes(a, &a->notifiers[i], b, &b->notifiers[k], "notifier", diag, &n);
        }
    }
    return n;
}
