#include "batch.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

int sl_type_is_var(sl_type t)
{
    return t == SL_T_DECIMAL || t == SL_T_STRING || t == SL_T_BINARY;
}

int sl_type_is_f64(sl_type t)
{
    return t == SL_T_DOUBLE;
}

static const char *const type_names[] = {
    [SL_T_INT64] = "int64",   [SL_T_DOUBLE] = "double",       [SL_T_DECIMAL] = "decimal",
    [SL_T_STRING] = "string", [SL_T_BOOL] = "bool",           [SL_T_DATE] = "date",
    [SL_T_TIME] = "time",     [SL_T_TIMESTAMP] = "timestamp", [SL_T_TIMESTAMPTZ] = "timestamptz",
    [SL_T_BINARY] = "binary", [SL_T_UINT64] = "uint64",       [SL_T_TIMESTAMPOFF] = "timestampoff",
};

const char *sl_type_name(sl_type t)
{
    if ((int)t >= SL_T_INT64 && (int)t <= SL_T_TIMESTAMPOFF)
        return type_names[t];
    return "?";
}

int sl_type_from_name(const char *s, sl_type *out)
{
    for (int t = SL_T_INT64; t <= SL_T_TIMESTAMPOFF; t++) {
        if (strcmp(type_names[t], s) == 0) {
            *out = (sl_type)t;
            return 0;
        }
    }
    return -1;
}

static void mem_add(sl_batch *b, long long delta)
{
    b->mem = (size_t)((long long)b->mem + delta);
    if (b->acct)
        atomic_fetch_add_explicit(b->acct, delta, memory_order_relaxed);
}

sl_batch *sl_batch_new(const sl_schema *schema)
{
    sl_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->schema = schema;
    b->cols = calloc(schema->ncols ? schema->ncols : 1, sizeof *b->cols);
    if (!b->cols) {
        free(b);
        return NULL;
    }
    b->mem = sizeof *b + (schema->ncols ? schema->ncols : 1) * sizeof *b->cols;
    return b;
}

void sl_batch_account(sl_batch *b, atomic_llong *acct)
{
    if (b->acct)
        atomic_fetch_sub_explicit(b->acct, (long long)b->mem, memory_order_relaxed);
    b->acct = acct;
    if (acct)
        atomic_fetch_add_explicit(acct, (long long)b->mem, memory_order_relaxed);
}

void sl_batch_free(sl_batch *b)
{
    if (!b)
        return;
    if (b->acct)
        atomic_fetch_sub_explicit(b->acct, (long long)b->mem, memory_order_relaxed);
    for (uint32_t c = 0; c < b->schema->ncols; c++) {
        free(b->cols[c].flags);
        free(b->cols[c].i64);
        free(b->cols[c].f64);
        free(b->cols[c].off);
        free(b->cols[c].data);
        free(b->cols[c].aux);
    }
    free(b->cols);
    free(b->ops);
    free(b);
}

void sl_batch_clear(sl_batch *b)
{
    b->nrows = 0;
    b->oom = 0;
    for (uint32_t c = 0; c < b->schema->ncols; c++) {
        b->cols[c].dlen = 0;
        if (b->cols[c].off)
            b->cols[c].off[0] = 0;
    }
}

/* Bytes one row takes in the column arrays. */
static size_t row_bytes(const sl_schema *s)
{
    size_t n = 1;
    for (uint32_t c = 0; c < s->ncols; c++)
        n += 1 + 8 + (s->cols[c].type == SL_T_TIMESTAMPOFF ? 4 : 0);
    return n;
}

static int grow(sl_batch *b)
{
    size_t ncap = b->cap ? b->cap * 2 : 256;
    uint8_t *ops = realloc(b->ops, ncap);
    if (!ops)
        return -1;
    b->ops = ops;
    /* Counted before the columns grow: a failure half way leaves some grown, none shrunk. */
    mem_add(b, (long long)((ncap - b->cap) * row_bytes(b->schema)));
    for (uint32_t c = 0; c < b->schema->ncols; c++) {
        sl_col *col = &b->cols[c];
        sl_type t = b->schema->cols[c].type;
        uint8_t *f = realloc(col->flags, ncap);
        if (!f)
            return -1;
        col->flags = f;
        if (sl_type_is_var(t)) {
            uint64_t *o = realloc(col->off, (ncap + 1) * sizeof *o);
            if (!o)
                return -1;
            if (!col->off)
                o[0] = 0;
            col->off = o;
        } else if (sl_type_is_f64(t)) {
            double *d = realloc(col->f64, ncap * sizeof *d);
            if (!d)
                return -1;
            col->f64 = d;
        } else {
            int64_t *i = realloc(col->i64, ncap * sizeof *i);
            if (!i)
                return -1;
            col->i64 = i;
            if (t == SL_T_TIMESTAMPOFF) {
                int32_t *a = realloc(col->aux, ncap * sizeof *a);
                if (!a)
                    return -1;
                col->aux = a;
            }
        }
    }
    b->cap = ncap;
    return 0;
}

int64_t sl_batch_row_begin(sl_batch *b, sl_op op)
{
    if (b->nrows == b->cap && grow(b) != 0) {
        b->oom = 1;
        return -1;
    }
    size_t r = b->nrows++;
    b->ops[r] = (uint8_t)op;
    for (uint32_t c = 0; c < b->schema->ncols; c++) {
        sl_col *col = &b->cols[c];
        col->flags[r] = SL_CELL_NULL;
        if (col->off)
            col->off[r + 1] = col->off[r];
        else if (col->f64)
            col->f64[r] = 0;
        else
            col->i64[r] = 0;
        if (col->aux)
            col->aux[r] = 0;
    }
    return (int64_t)r;
}

/* The setters touch the current (last begun) row; out-of-range columns are ignored so that a
 * plugin bug cannot write outside the batch. */
#define CUR_ROW_OK(b, col) ((b)->nrows > 0 && (col) < (b)->schema->ncols)

void sl_batch_set_i64(sl_batch *b, uint32_t col, int64_t v)
{
    if (!CUR_ROW_OK(b, col) || !b->cols[col].i64)
        return;
    b->cols[col].i64[b->nrows - 1] = v;
    b->cols[col].flags[b->nrows - 1] = SL_CELL_VALUE;
}

void sl_batch_set_tsoff(sl_batch *b, uint32_t col, int64_t utc_us, int32_t offset_s)
{
    if (!CUR_ROW_OK(b, col) || !b->cols[col].aux)
        return;
    b->cols[col].i64[b->nrows - 1] = utc_us;
    b->cols[col].aux[b->nrows - 1] = offset_s;
    b->cols[col].flags[b->nrows - 1] = SL_CELL_VALUE;
}

void sl_batch_set_f64(sl_batch *b, uint32_t col, double v)
{
    if (!CUR_ROW_OK(b, col) || !b->cols[col].f64)
        return;
    b->cols[col].f64[b->nrows - 1] = v;
    b->cols[col].flags[b->nrows - 1] = SL_CELL_VALUE;
}

int sl_batch_set_bytes(sl_batch *b, uint32_t col, const void *p, size_t len)
{
    if (!CUR_ROW_OK(b, col) || !b->cols[col].off)
        return -1;
    sl_col *c = &b->cols[col];
    size_t r = b->nrows - 1;
    c->dlen = c->off[r]; /* a second set of the same cell replaces the first */
    if (c->dlen + len > c->dcap) {
        size_t ncap = c->dcap ? c->dcap : 4096;
        while (ncap < c->dlen + len)
            ncap *= 2;
        char *d = realloc(c->data, ncap);
        if (!d) {
            b->oom = 1;
            return -1;
        }
        c->data = d;
        mem_add(b, (long long)(ncap - c->dcap));
        c->dcap = ncap;
    }
    if (len)
        memcpy(c->data + c->dlen, p, len);
    c->dlen += len;
    c->off[r + 1] = c->dlen;
    c->flags[r] = SL_CELL_VALUE;
    return 0;
}

void sl_batch_set_null(sl_batch *b, uint32_t col)
{
    if (!CUR_ROW_OK(b, col))
        return;
    b->cols[col].flags[b->nrows - 1] = SL_CELL_NULL;
}

void sl_batch_set_unchanged(sl_batch *b, uint32_t col)
{
    if (!CUR_ROW_OK(b, col))
        return;
    b->cols[col].flags[b->nrows - 1] = SL_CELL_UNCHANGED;
}

void sl_batch_column(const sl_batch *b, uint32_t col, sl_column *out)
{
    /* Fill no more than the caller's struct holds: a plugin of an older minor has a shorter one. */
    sl_column v;
    memset(&v, 0, sizeof v);
    size_t want = out->size && out->size < sizeof v ? out->size : sizeof v;
    v.size = (uint32_t)want;
    if (col < b->schema->ncols) {
        const sl_col *c = &b->cols[col];
        v.type = b->schema->cols[col].type;
        v.flags = c->flags;
        v.i64 = c->i64;
        v.f64 = c->f64;
        v.off = c->off;
        v.data = c->data;
        v.aux = c->aux;
    }
    memcpy(out, &v, want);
}

void sl_batch_get(const sl_batch *b, size_t row, uint32_t col, sl_value *out)
{
    const sl_col *c = &b->cols[col];
    memset(out, 0, sizeof *out);
    out->flag = c->flags[row];
    if (out->flag != SL_CELL_VALUE)
        return;
    if (c->off) {
        out->p = c->data ? c->data + c->off[row] : "";
        out->len = (size_t)(c->off[row + 1] - c->off[row]);
    } else if (c->f64) {
        out->f = c->f64[row];
    } else {
        out->i = c->i64[row];
        if (c->aux)
            out->aux = c->aux[row];
    }
}

int sl_batch_set_value(sl_batch *b, uint32_t col, const sl_value *v)
{
    if (v->flag == SL_CELL_NULL) {
        sl_batch_set_null(b, col);
        return 0;
    }
    if (v->flag == SL_CELL_UNCHANGED) {
        sl_batch_set_unchanged(b, col);
        return 0;
    }
    sl_type t = b->schema->cols[col].type;
    if (sl_type_is_var(t))
        return sl_batch_set_bytes(b, col, v->p, v->len);
    if (sl_type_is_f64(t))
        sl_batch_set_f64(b, col, v->f);
    else if (t == SL_T_TIMESTAMPOFF)
        sl_batch_set_tsoff(b, col, v->i, v->aux);
    else
        sl_batch_set_i64(b, col, v->i);
    return 0;
}

/* ---- schemas ---- */

struct sl_schema_node {
    struct sl_schema_node *next;
    sl_schema s;
    sl_field *fields;
    char *strings;
};

const sl_schema *sl_schema_store_add(sl_schema_store *st, const char *ns, const char *name,
                                     uint32_t ncols, const sl_field *cols)
{
    return sl_schema_store_add_sized(st, ns, name, ncols, cols, sizeof(sl_field));
}

/* Field i of an array written with another struct size; members past it read as zero. */
static sl_field field_at(const sl_field *cols, size_t stride, uint32_t i)
{
    sl_field f;
    memset(&f, 0, sizeof f);
    f.scale = -1;
    memcpy(&f, (const char *)cols + (size_t)i * stride, stride < sizeof f ? stride : sizeof f);
    if (stride < offsetof(sl_field, scale) + sizeof f.scale)
        f.scale = -1;
    return f;
}

const sl_schema *sl_schema_store_add_sized(sl_schema_store *st, const char *ns, const char *name,
                                           uint32_t ncols, const sl_field *cols, size_t stride)
{
    if (!name || !*name || stride < offsetof(sl_field, key) + sizeof(int))
        return NULL;
    size_t need = strlen(ns ? ns : "") + 1 + strlen(name) + 1;
    for (uint32_t i = 0; i < ncols; i++) {
        sl_field f = field_at(cols, stride, i);
        if (!f.name || !*f.name || f.type < SL_T_INT64 || f.type > SL_T_TIMESTAMPOFF)
            return NULL;
        need += strlen(f.name) + 1 + (f.source_type ? strlen(f.source_type) + 1 : 0);
    }
    struct sl_schema_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->fields = calloc(ncols ? ncols : 1, sizeof *n->fields);
    n->strings = malloc(need);
    if (!n->fields || !n->strings) {
        free(n->fields);
        free(n->strings);
        free(n);
        return NULL;
    }
    char *p = n->strings;
#define SL_PUT(dst, src)                                                                           \
    do {                                                                                           \
        size_t l_ = strlen(src) + 1;                                                               \
        memcpy(p, (src), l_);                                                                      \
        (dst) = p;                                                                                 \
        p += l_;                                                                                   \
    } while (0)
    SL_PUT(n->s.ns, ns ? ns : "");
    SL_PUT(n->s.name, name);
    uint32_t nkeys = 0;
    for (uint32_t i = 0; i < ncols; i++) {
        sl_field f = field_at(cols, stride, i);
        SL_PUT(n->fields[i].name, f.name);
        if (f.source_type)
            SL_PUT(n->fields[i].source_type, f.source_type);
        n->fields[i].type = f.type;
        n->fields[i].key = f.key > 0 ? f.key : 0;
        n->fields[i].flags = f.flags;
        n->fields[i].precision = f.precision;
        n->fields[i].scale = f.scale;
        if (n->fields[i].key)
            nkeys++;
    }
#undef SL_PUT
    n->s.ncols = ncols;
    n->s.cols = n->fields;
    n->s.nkeys = nkeys;
    n->s.field_size = sizeof(sl_field);
    n->next = st->head;
    st->head = n;
    return &n->s;
}

void sl_schema_store_free(sl_schema_store *st)
{
    struct sl_schema_node *n = st->head;
    while (n) {
        struct sl_schema_node *next = n->next;
        free(n->fields);
        free(n->strings);
        free(n);
        n = next;
    }
    st->head = NULL;
}

int sl_schema_equal(const sl_schema *a, const sl_schema *b)
{
    if (a == b)
        return 1;
    if (a->ncols != b->ncols || strcmp(a->ns, b->ns) != 0 || strcmp(a->name, b->name) != 0)
        return 0;
    for (uint32_t i = 0; i < a->ncols; i++)
        if (strcmp(a->cols[i].name, b->cols[i].name) != 0 || a->cols[i].type != b->cols[i].type ||
            a->cols[i].key != b->cols[i].key)
            return 0;
    return 1;
}

int sl_schema_find_col(const sl_schema *s, const char *name)
{
    for (uint32_t i = 0; i < s->ncols; i++)
        if (strcmp(s->cols[i].name, name) == 0)
            return (int)i;
    return -1;
}
