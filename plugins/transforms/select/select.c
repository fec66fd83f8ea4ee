/* Transform "select": keep, reorder and rename columns.
 *   columns = {"id", "name", "email as contact"}   -- output columns, in this order
 *   tables  = {"orders", "public.customers"}       -- optional: only these tables (others pass)
 * A selected column that a table it applies to lacks is an error naming the table, the column and
 * where `columns` is written (a silently missing column would be wrong data); key columns keep
 * their key position. */
#include <fnmatch.h>
#include <sluice/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mapping {
    const sl_schema *in, *out;
    uint32_t *src; /* out column -> in column */
    sl_batch *batch;
} mapping;

typedef struct sel_ctx {
    sl_host *h;
    const sl_host_api *api;
    size_t ncols;
    char **from, **to;
    mapping *maps;
    size_t nmaps;
} sel_ctx;

static const sl_option options[] = {
    SL_OPTION("columns", SL_OPT_LIST, SL_OPT_REQUIRED, NULL,
              "output columns in order; \"src as dst\" renames"),
    SL_OPTION("tables", SL_OPT_LIST, 0, NULL,
              "apply only to these tables (names or glob patterns)"),
    SL_OPTIONS_END,
};

static void sel_destroy(void *ctx)
{
    sel_ctx *c = ctx;
    if (!c)
        return;
    for (size_t i = 0; i < c->ncols; i++) {
        free(c->from ? c->from[i] : NULL);
        free(c->to ? c->to[i] : NULL);
    }
    free(c->from);
    free(c->to);
    for (size_t i = 0; i < c->nmaps; i++) {
        free(c->maps[i].src);
        if (c->maps[i].batch)
            c->api->batch_free(c->h, c->maps[i].batch);
    }
    free(c->maps);
    free(c);
}

static char *trim_dup(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static int sel_create(sl_host *h, const sl_host_api *api, void **out)
{
    sel_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->h = h;
    c->api = api;
    c->ncols = api->opt_list_len(h, "columns");
    c->from = calloc(c->ncols + 1, sizeof *c->from);
    c->to = calloc(c->ncols + 1, sizeof *c->to);
    if (!c->from || !c->to) {
        sel_destroy(c);
        return -1;
    }
    for (size_t i = 0; i < c->ncols; i++) {
        const char *item = api->opt_list_item(h, "columns", i);
        const char *as = strstr(item, " as ");
        if (as) {
            c->from[i] = trim_dup(item, (size_t)(as - item));
            c->to[i] = trim_dup(as + 4, strlen(as + 4));
        } else {
            c->from[i] = trim_dup(item, strlen(item));
            c->to[i] = trim_dup(item, strlen(item));
        }
        if (!c->from[i] || !c->to[i] || !*c->from[i] || !*c->to[i]) {
            api->set_error(h, "columns: entry %zu (\"%s\") is empty", i + 1, item);
            sel_destroy(c);
            return -1;
        }
    }
    if (c->ncols == 0) {
        api->set_error(h, "columns: at least one column is needed");
        sel_destroy(c);
        return -1;
    }
    *out = c;
    return 0;
}

static int applies(sel_ctx *c, const sl_schema *s)
{
    size_t n = c->api->opt_list_len(c->h, "tables");
    if (n == 0)
        return 1;
    char full[512];
    snprintf(full, sizeof full, "%s.%s", s->ns, s->name);
    for (size_t i = 0; i < n; i++) {
        const char *p = c->api->opt_list_item(c->h, "tables", i);
        if (fnmatch(p, s->name, 0) == 0 || fnmatch(p, full, 0) == 0)
            return 1;
    }
    return 0;
}

static mapping *map_for(sel_ctx *c, const sl_schema *in)
{
    for (size_t i = 0; i < c->nmaps; i++)
        if (c->maps[i].in == in)
            return &c->maps[i];
    mapping *nm = realloc(c->maps, (c->nmaps + 1) * sizeof *nm);
    if (!nm)
        return NULL;
    c->maps = nm;
    mapping *m = &c->maps[c->nmaps];
    memset(m, 0, sizeof *m);
    m->in = in;
    sl_field *f = calloc(c->ncols, sizeof *f);
    m->src = calloc(c->ncols, sizeof *m->src);
    if (!f || !m->src) {
        free(f);
        free(m->src);
        return NULL;
    }
    uint32_t n = 0;
    for (size_t i = 0; i < c->ncols; i++) {
        uint32_t k = 0;
        while (k < in->ncols && strcmp(SL_SCHEMA_COL(in, k)->name, c->from[i]) != 0)
            k++;
        if (k == in->ncols) {
            const char *where = c->api->opt_where(c->h, "columns");
            c->api->set_error(c->h,
                              "%s%stable %s%s%s has no column \"%s\" (named in columns; limit the "
                              "transform with tables = {...} if other tables lack it)",
                              where ? where : "", where ? ": " : "", in->ns, *in->ns ? "." : "",
                              in->name, c->from[i]);
            free(f);
            free(m->src);
            return NULL;
        }
        f[n] = *SL_SCHEMA_COL(in, k); /* type, key, precision, scale, source type */
        f[n].name = c->to[i];
        m->src[n++] = k;
    }
    m->out = c->api->schema_new(c->h, in->ns, in->name, n, f, sizeof *f);
    free(f);
    if (!m->out || !(m->batch = c->api->batch_new(c->h, m->out))) {
        free(m->src);
        return NULL;
    }
    c->nmaps++;
    return m;
}

static sl_status sel_transform(void *ctx, const sl_batch *in, const sl_batch **out)
{
    sel_ctx *c = ctx;
    const sl_schema *s = c->api->batch_schema(in);
    if (!applies(c, s)) {
        *out = in;
        return SL_OK;
    }
    mapping *m = map_for(c, s);
    if (!m)
        return SL_ERROR;
    c->api->batch_clear(m->batch);
    size_t rows = c->api->batch_rows(in);
    sl_column *cols = calloc(m->out->ncols, sizeof *cols);
    if (!cols)
        return SL_ERROR;
    for (uint32_t k = 0; k < m->out->ncols; k++) {
        cols[k].size = sizeof cols[k];
        c->api->batch_column(in, m->src[k], &cols[k]);
    }
    for (size_t r = 0; r < rows; r++) {
        if (c->api->row_begin(m->batch, c->api->batch_op(in, r)) < 0) {
            free(cols);
            return SL_ERROR;
        }
        for (uint32_t k = 0; k < m->out->ncols; k++) {
            const sl_column *col = &cols[k];
            if (col->flags[r] == SL_CELL_NULL)
                c->api->set_null(m->batch, k);
            else if (col->flags[r] == SL_CELL_UNCHANGED)
                c->api->set_unchanged(m->batch, k);
            else if (col->off)
                c->api->set_bytes(m->batch, k, col->data ? col->data + col->off[r] : "",
                                  (size_t)(col->off[r + 1] - col->off[r]));
            else if (col->f64)
                c->api->set_f64(m->batch, k, col->f64[r]);
            else if (col->aux)
                c->api->set_tsoff(m->batch, k, col->i64[r], col->aux[r]);
            else
                c->api->set_i64(m->batch, k, col->i64[r]);
        }
    }
    free(cols);
    *out = m->batch;
    return SL_OK;
}

static const sl_transform_ops ops = {.size = sizeof(sl_transform_ops), .transform = sel_transform};

static const sl_plugin plugin = {
    SL_PLUGIN_INIT(SL_KIND_TRANSFORM, "select", "1.0.0", "keep, reorder and rename columns"),
    .options = options,
    .create = sel_create,
    .destroy = sel_destroy,
    .transform = &ops,
};

SL_PLUGIN_ENTRY(select)
{
    return &plugin;
}
