#include "table.h"

#include "fnv.h"
#include "qvd/qvd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Row blob: u32 length, u32 count, then per column a flag byte and, for a value, 8 bytes (fixed
 * types; TIMESTAMPOFF adds its i32 offset: 12) or u32 length + bytes (variable types). Unaligned
 * access goes through memcpy. */
#define HDR 8

static size_t fixed_size(sl_type t)
{
    return t == SL_T_TIMESTAMPOFF ? 12 : 8;
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    return sl_fnv1a(h, p, n);
}

sl_table *sl_table_new(const char *ns, const char *name, const sl_schema *schema)
{
    sl_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ns = strdup(ns ? ns : "");
    t->name = strdup(name);
    t->schema = schema;
    if (!t->ns || !t->name) {
        sl_table_free(t);
        return NULL;
    }
    return t;
}

void sl_table_free(sl_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows; i++)
        free(t->rows[i]);
    free(t->rows);
    free(t->last_deleted);
    for (size_t i = 0; i < t->ngrave; i++)
        free(t->grave[i]);
    free(t->grave);
    free(t->slots);
    free(t->slot_hash);
    free(t->ns);
    free(t->name);
    free(t);
}

/* A blob the table no longer uses: freed, or kept while a snapshot may still read it. */
static void blob_release(sl_table *t, uint8_t *blob)
{
    if (!blob)
        return;
    if (!t->frozen) {
        free(blob);
        return;
    }
    if (t->ngrave == t->capgrave) {
        size_t ncap = t->capgrave ? t->capgrave * 2 : 256;
        uint8_t **g = realloc(t->grave, ncap * sizeof *g);
        if (!g)
            return; /* out of memory: leaking one blob beats freeing one a flush still reads */
        t->grave = g;
        t->capgrave = ncap;
    }
    t->grave[t->ngrave++] = blob;
    t->grave_bytes += rd32(blob);
}

/* Row idx about to be changed in place (a keyless row's duplicate count): a private copy while
 * a snapshot shares the blob. NULL when out of memory. */
static uint8_t *row_for_write(sl_table *t, size_t idx)
{
    if (!t->frozen)
        return t->rows[idx];
    uint32_t len = rd32(t->rows[idx]);
    uint8_t *copy = malloc(len);
    if (!copy)
        return NULL;
    memcpy(copy, t->rows[idx], len);
    blob_release(t, t->rows[idx]);
    t->rows[idx] = copy;
    return copy;
}

sl_table *sl_table_snapshot(sl_table *t)
{
    sl_table *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->ns = strdup(t->ns);
    v->name = strdup(t->name);
    v->rows = malloc((t->nrows ? t->nrows : 1) * sizeof *v->rows);
    if (!v->ns || !v->name || !v->rows) {
        sl_table_snapshot_free(v);
        return NULL;
    }
    if (t->nrows)
        memcpy(v->rows, t->rows, t->nrows * sizeof *v->rows);
    v->nrows = v->cap = t->nrows;
    v->schema = t->schema;
    v->bytes = t->bytes;
    v->frozen = 1;
    t->frozen = 1;
    return v;
}

void sl_table_snapshot_free(sl_table *snap)
{
    if (!snap)
        return;
    free(snap->rows); /* the blobs belong to the table */
    free(snap->ns);
    free(snap->name);
    free(snap);
}

void sl_table_thaw(sl_table *t)
{
    for (size_t i = 0; i < t->ngrave; i++)
        free(t->grave[i]);
    t->ngrave = 0;
    t->grave_bytes = 0;
    t->frozen = 0;
}

size_t sl_table_mem(const sl_table *t)
{
    size_t m = sizeof *t + t->bytes + t->cap * sizeof *t->rows +
               t->nslots * (sizeof *t->slots + sizeof *t->slot_hash) + t->grave_bytes +
               t->capgrave * sizeof *t->grave;
    if (t->last_deleted)
        m += rd32(t->last_deleted);
    return m;
}

static int is_key(const sl_schema *s, uint32_t c)
{
    return s->nkeys == 0 || s->cols[c].key > 0;
}

/* Walk a blob's cells. */
static const uint8_t *cell_at(const sl_schema *s, const uint8_t *blob, uint32_t col)
{
    const uint8_t *p = blob + HDR;
    for (uint32_t c = 0; c < col; c++) {
        uint8_t f = *p++;
        if (f != SL_CELL_VALUE)
            continue;
        if (sl_type_is_var(s->cols[c].type))
            p += 4 + rd32(p);
        else
            p += fixed_size(s->cols[c].type);
    }
    return p;
}

static const uint8_t *decode_cell(sl_type t, const uint8_t *p, sl_value *v)
{
    memset(v, 0, sizeof *v);
    v->flag = *p++;
    if (v->flag != SL_CELL_VALUE)
        return p;
    if (sl_type_is_var(t)) {
        v->len = rd32(p);
        v->p = (const char *)p + 4;
        return p + 4 + v->len;
    }
    if (sl_type_is_f64(t))
        memcpy(&v->f, p, 8);
    else
        memcpy(&v->i, p, 8);
    if (t == SL_T_TIMESTAMPOFF)
        memcpy(&v->aux, p + 8, 4);
    return p + fixed_size(t);
}

uint32_t sl_table_row(const sl_table *t, size_t i, sl_value *vals)
{
    const uint8_t *blob = t->rows[i];
    const uint8_t *p = blob + HDR;
    for (uint32_t c = 0; c < t->schema->ncols; c++)
        p = decode_cell(t->schema->cols[c].type, p, &vals[c]);
    return rd32(blob + 4);
}

/* Identity of values (keys, and whole rows of keyless tables) is the value, not its spelling:
 * DECIMAL "1.0" and "1.00" and DOUBLE 0.0 and -0.0 are one value, as in the source's own
 * comparison and as the QVD stores them (docs/qvd-types.md, "One number, one symbol": the file
 * keeps the first spelling, so after recovery a DELETE carrying the other must still match). */
static uint64_t value_hash(sl_type t, const sl_value *v, uint64_t h)
{
    if (t == SL_T_DECIMAL) {
        char buf[SL_QVD_DECIMAL_DIGITS];
        sl_qvd_decimal d;
        if (sl_qvd_decimal_parse(v->p, v->len, &d, buf) == 0) {
            int64_t e = d.exp10;
            h = fnv(&d.neg, sizeof d.neg, h);
            h = fnv(d.digits, d.ndigits, h);
            return fnv(&e, 8, h);
        }
        return fnv(v->p, v->len, h);
    }
    if (sl_type_is_var(t))
        return fnv(v->p, v->len, h);
    if (sl_type_is_f64(t)) {
        double f = v->f == 0 ? 0.0 : isnan(v->f) ? NAN : v->f;
        return fnv(&f, 8, h);
    }
    h = fnv(&v->i, 8, h);
    if (t == SL_T_TIMESTAMPOFF) /* the offset is part of the value */
        h = fnv(&v->aux, 4, h);
    return h;
}

/* Key bytes of a blob: the key cells, in key order (key position 1..n), as stored. */
/* Hash of a row's key cells in key order (all cells for a keyless table), read from a stored
 * blob or, when blob is NULL, from row r of a batch (unchanged cells count as NULL there). The
 * two must agree: the index holds blob hashes and is probed with batch hashes. */
static uint64_t key_hash(const sl_schema *s, const uint8_t *blob, const sl_batch *b, size_t r)
{
    uint64_t h = SL_FNV_INIT;
    for (uint32_t k = 1; k <= (s->nkeys ? s->nkeys : 1); k++) {
        for (uint32_t c = 0; c < s->ncols; c++) {
            if (s->nkeys ? (uint32_t)s->cols[c].key != k : k != 1)
                continue;
            sl_value v;
            if (blob)
                decode_cell(s->cols[c].type, cell_at(s, blob, c), &v);
            else
                sl_batch_get(b, r, c, &v);
            if (v.flag == SL_CELL_UNCHANGED)
                v.flag = SL_CELL_NULL;
            h = fnv(&v.flag, 1, h);
            if (v.flag == SL_CELL_VALUE)
                h = value_hash(s->cols[c].type, &v, h);
        }
    }
    return h;
}

static uint64_t blob_key_hash(const sl_schema *s, const uint8_t *blob)
{
    return key_hash(s, blob, NULL, 0);
}

static int val_eq(sl_type t, const sl_value *a, const sl_value *b)
{
    if (a->flag != b->flag)
        return 0;
    if (a->flag != SL_CELL_VALUE)
        return 1;
    if (sl_type_is_var(t) && a->len == b->len && memcmp(a->p, b->p, a->len) == 0)
        return 1;
    if (t == SL_T_DECIMAL) {
        char ba[SL_QVD_DECIMAL_DIGITS], bb[SL_QVD_DECIMAL_DIGITS];
        sl_qvd_decimal da, db;
        return sl_qvd_decimal_parse(a->p, a->len, &da, ba) == 0 &&
               sl_qvd_decimal_parse(b->p, b->len, &db, bb) == 0 && sl_qvd_decimal_eq(&da, &db);
    }
    if (sl_type_is_var(t))
        return 0;
    if (sl_type_is_f64(t))
        return a->f == b->f || (isnan(a->f) && isnan(b->f));
    return a->i == b->i && (t != SL_T_TIMESTAMPOFF || a->aux == b->aux);
}

static int rehash(sl_table *t, size_t nslots)
{
    uint32_t *slots = calloc(nslots, sizeof *slots);
    uint64_t *hashes = calloc(nslots, sizeof *hashes);
    if (!slots || !hashes) {
        free(slots);
        free(hashes);
        return -1;
    }
    /* Reuse the stored hashes; a schema change (slots == NULL) recomputes them. */
    if (t->slots) {
        for (size_t o = 0; o < t->nslots; o++) {
            if (!t->slots[o])
                continue;
            size_t s = t->slot_hash[o] & (nslots - 1);
            while (slots[s])
                s = (s + 1) & (nslots - 1);
            slots[s] = t->slots[o];
            hashes[s] = t->slot_hash[o];
        }
    } else {
        for (size_t i = 0; i < t->nrows; i++) {
            uint64_t h = blob_key_hash(t->schema, t->rows[i]);
            size_t s = h & (nslots - 1);
            while (slots[s])
                s = (s + 1) & (nslots - 1);
            slots[s] = (uint32_t)(i + 1);
            hashes[s] = h;
        }
    }
    free(t->slots);
    free(t->slot_hash);
    t->slots = slots;
    t->slot_hash = hashes;
    t->nslots = nslots;
    return 0;
}

static uint64_t batch_key_hash(const sl_schema *s, const sl_batch *b, size_t r)
{
    return key_hash(s, NULL, b, r);
}

static int batch_blob_key_eq(const sl_schema *s, const sl_batch *b, size_t r, const uint8_t *blob)
{
    const uint8_t *p = blob + HDR;
    for (uint32_t c = 0; c < s->ncols; c++) {
        sl_value vb;
        p = decode_cell(s->cols[c].type, p, &vb);
        if (!is_key(s, c))
            continue;
        sl_value va;
        sl_batch_get(b, r, c, &va);
        if (va.flag == SL_CELL_UNCHANGED)
            va.flag = SL_CELL_NULL;
        if (!val_eq(s->cols[c].type, &va, &vb))
            return 0;
    }
    return 1;
}

/* Slot holding the row whose key equals batch row r's, or the empty slot where it would go. */
static size_t find_slot_batch(const sl_table *t, const sl_batch *b, size_t r, uint64_t h)
{
    size_t s = h & (t->nslots - 1);
    while (t->slots[s]) {
        if (t->slot_hash[s] == h && batch_blob_key_eq(t->schema, b, r, t->rows[t->slots[s] - 1]))
            return s;
        s = (s + 1) & (t->nslots - 1);
    }
    return s;
}

/* Remove the entry at slot s (backward-shift deletion keeps probe chains intact). */
static void slot_remove(sl_table *t, size_t s)
{
    size_t mask = t->nslots - 1;
    t->slots[s] = 0;
    size_t j = s;
    for (;;) {
        j = (j + 1) & mask;
        if (!t->slots[j])
            break;
        size_t home = t->slot_hash[j] & mask;
        /* Move j back to s when s lies cyclically in [home, j). */
        int move = (j > s) ? (home <= s || home > j) : (home <= s && home > j);
        if (move) {
            t->slots[s] = t->slots[j];
            t->slot_hash[s] = t->slot_hash[j];
            t->slots[j] = 0;
            s = j;
        }
    }
}

static void row_remove(sl_table *t, size_t s)
{
    size_t idx = t->slots[s] - 1;
    slot_remove(t, s);
    t->bytes -= rd32(t->rows[idx]);
    blob_release(t, t->last_deleted);
    t->last_deleted = t->rows[idx];
    size_t last = t->nrows - 1;
    if (idx != last) {
        /* Move the last row into the hole and repoint its slot. */
        uint8_t *moved = t->rows[last];
        uint64_t h = blob_key_hash(t->schema, moved);
        size_t ms = h & (t->nslots - 1);
        while (t->slots[ms] != last + 1)
            ms = (ms + 1) & (t->nslots - 1);
        t->slots[ms] = (uint32_t)(idx + 1);
        t->rows[idx] = moved;
    }
    t->nrows--;
}

/* Build a blob from batch row r, taking UNCHANGED cells from old (may be NULL). */
static uint8_t *build_blob(const sl_schema *s, const sl_batch *b, size_t r, const uint8_t *old,
                           int key_only)
{
    size_t len = HDR;
    sl_value stackvals[64];
    sl_value *vals = s->ncols <= 64 ? stackvals : calloc(s->ncols, sizeof *vals);
    if (!vals)
        return NULL;
    for (uint32_t c = 0; c < s->ncols; c++) {
        sl_batch_get(b, r, c, &vals[c]);
        if (key_only && !is_key(s, c))
            vals[c].flag = SL_CELL_NULL;
        if (vals[c].flag == SL_CELL_UNCHANGED) {
            if (old)
                decode_cell(s->cols[c].type, cell_at(s, old, c), &vals[c]);
            else
                vals[c].flag = SL_CELL_NULL; /* no previous row: nothing better to keep */
        }
        len += 1;
        if (vals[c].flag == SL_CELL_VALUE)
            len += sl_type_is_var(s->cols[c].type) ? 4 + vals[c].len : fixed_size(s->cols[c].type);
    }
    uint8_t *blob = malloc(len);
    if (!blob) {
        if (vals != stackvals)
            free(vals);
        return NULL;
    }
    wr32(blob, (uint32_t)len);
    wr32(blob + 4, 1);
    uint8_t *p = blob + HDR;
    for (uint32_t c = 0; c < s->ncols; c++) {
        *p++ = vals[c].flag;
        if (vals[c].flag != SL_CELL_VALUE)
            continue;
        if (sl_type_is_var(s->cols[c].type)) {
            wr32(p, (uint32_t)vals[c].len);
            if (vals[c].len)
                memcpy(p + 4, vals[c].p, vals[c].len);
            p += 4 + vals[c].len;
        } else if (sl_type_is_f64(s->cols[c].type)) {
            memcpy(p, &vals[c].f, 8);
            p += 8;
        } else {
            memcpy(p, &vals[c].i, 8);
            if (s->cols[c].type == SL_T_TIMESTAMPOFF)
                memcpy(p + 8, &vals[c].aux, 4);
            p += fixed_size(s->cols[c].type);
        }
    }
    if (vals != stackvals)
        free(vals);
    return blob;
}

static int ensure_room(sl_table *t)
{
    if (t->nrows == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        uint8_t **rows = realloc(t->rows, ncap * sizeof *rows);
        if (!rows)
            return -1;
        t->rows = rows;
        t->cap = ncap;
    }
    if ((t->nrows + 1) * 10 >= t->nslots * 7)
        return rehash(t, t->nslots ? t->nslots * 2 : 128);
    return 0;
}

void sl_table_truncate(sl_table *t)
{
    blob_release(t, t->last_deleted);
    t->last_deleted = NULL;
    for (size_t i = 0; i < t->nrows; i++)
        blob_release(t, t->rows[i]);
    t->nrows = 0;
    t->bytes = 0;
    if (t->slots)
        memset(t->slots, 0, t->nslots * sizeof *t->slots);
}

int sl_table_migrate(sl_table *t, const sl_schema *s)
{
    const sl_schema *old = t->schema;
    blob_release(t, t->last_deleted);
    t->last_deleted = NULL;
    sl_batch *b = sl_batch_new(s);
    if (!b)
        return -1;
    uint8_t **rows = t->rows;
    size_t n = t->nrows;
    sl_value *vals = calloc(old->ncols ? old->ncols : 1, sizeof *vals);
    uint8_t **nrows = calloc(n ? n : 1, sizeof *nrows);
    if (!vals || !nrows)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        uint32_t count = sl_table_row(t, i, vals);
        sl_batch_clear(b);
        if (sl_batch_row_begin(b, SL_OP_INSERT) < 0)
            goto fail;
        for (uint32_t c = 0; c < s->ncols; c++) {
            int oc = sl_schema_find_col(old, s->cols[c].name);
            if (oc >= 0 && old->cols[oc].type == s->cols[c].type)
                sl_batch_set_value(b, c, &vals[oc]);
        }
        if (b->oom)
            goto fail;
        nrows[i] = build_blob(s, b, 0, NULL, 0);
        if (!nrows[i])
            goto fail;
        wr32(nrows[i] + 4, count);
    }
    for (size_t i = 0; i < n; i++)
        blob_release(t, rows[i]);
    memcpy(rows, nrows, n * sizeof *rows);
    t->bytes = 0;
    for (size_t i = 0; i < n; i++)
        t->bytes += rd32(rows[i]);
    t->schema = s;
    free(nrows);
    free(vals);
    sl_batch_free(b);
    /* Keys may have changed: rebuild the index from the rows. Rows that now collide stay (rare;
     * they will be resolved by the source's next change of that key). */
    size_t ns = t->nslots ? t->nslots : 128;
    free(t->slots);
    free(t->slot_hash);
    t->slots = NULL;
    t->slot_hash = NULL;
    return rehash(t, ns);
fail:
    if (nrows)
        for (size_t i = 0; i < n; i++)
            free(nrows[i]);
    free(nrows);
    free(vals);
    sl_batch_free(b);
    return -1;
}

int sl_table_apply(sl_table *t, const sl_batch *b, size_t r, char *msg, size_t msglen)
{
    if (!sl_schema_equal(t->schema, b->schema)) {
        if (sl_table_migrate(t, b->schema) != 0) {
            snprintf(msg, msglen, "table %s: out of memory while changing its schema", t->name);
            return -1;
        }
    } else {
        t->schema = b->schema;
    }
    const sl_schema *s = t->schema;
    sl_op op = (sl_op)b->ops[r];
    t->changes_total++;
    t->pending++;
    t->dirty = 1;
    if (op == SL_OP_TRUNCATE) {
        sl_table_truncate(t);
        return 0;
    }
    if (ensure_room(t) != 0)
        goto oom;
    /* Find the existing row by key, straight from the batch. */
    uint64_t h = batch_key_hash(s, b, r);
    size_t slot = find_slot_batch(t, b, r, h);
    int exists = t->slots[slot] != 0;
    if (op == SL_OP_DELETE) {
        if (!exists)
            return 0; /* deleting an absent row is idempotent (replays after a restart) */
        size_t idx = t->slots[slot] - 1;
        uint32_t count = rd32(t->rows[idx] + 4);
        if (s->nkeys == 0 && count > 1) {
            uint8_t *w = row_for_write(t, idx);
            if (!w)
                goto oom;
            wr32(w + 4, count - 1);
        } else
            row_remove(t, slot);
        return 0;
    }
    /* SNAPSHOT, INSERT, UPDATE: upsert. */
    if (s->nkeys > 0) {
        /* A key change arrives as DELETE(old key) then INSERT(new row): cells the source marked
         * unchanged (PostgreSQL TOAST) come from the row that DELETE removed. */
        const uint8_t *old = exists ? t->rows[t->slots[slot] - 1] : t->last_deleted;
        uint8_t *blob = build_blob(s, b, r, old, 0);
        if (!blob)
            goto oom;
        if (!exists && t->last_deleted) {
            blob_release(t, t->last_deleted);
            t->last_deleted = NULL;
        }
        if (exists) {
            size_t idx = t->slots[slot] - 1;
            t->bytes -= rd32(t->rows[idx]);
            blob_release(t, t->rows[idx]);
            t->rows[idx] = blob;
        } else {
            t->rows[t->nrows] = blob;
            t->slots[slot] = (uint32_t)(++t->nrows);
            t->slot_hash[slot] = h;
        }
        t->bytes += rd32(blob);
        return 0;
    }
    /* Keyless: the whole row is the identity; duplicates are counted. */
    if (exists) {
        size_t idx = t->slots[slot] - 1;
        uint8_t *w = row_for_write(t, idx);
        if (!w)
            goto oom;
        wr32(w + 4, rd32(w + 4) + 1);
    } else {
        uint8_t *probe = build_blob(s, b, r, NULL, 0);
        if (!probe)
            goto oom;
        t->rows[t->nrows] = probe;
        t->slots[slot] = (uint32_t)(++t->nrows);
        t->slot_hash[slot] = h;
        t->bytes += rd32(probe);
    }
    return 0;
oom:
    snprintf(msg, msglen, "table %s: out of memory applying a change", t->name);
    return -1;
}

int sl_table_lookup(const sl_table *t, const sl_batch *b, size_t r, sl_value *vals)
{
    if (!t->nslots || !t->nrows)
        return 0;
    size_t slot = find_slot_batch(t, b, r, batch_key_hash(t->schema, b, r));
    if (!t->slots[slot])
        return 0;
    sl_table_row(t, t->slots[slot] - 1, vals);
    return 1;
}

int sl_table_last_deleted(const sl_table *t, sl_value *vals)
{
    if (!t->last_deleted)
        return 0;
    const uint8_t *p = t->last_deleted + HDR;
    for (uint32_t c = 0; c < t->schema->ncols; c++)
        p = decode_cell(t->schema->cols[c].type, p, &vals[c]);
    return 1;
}

size_t sl_table_count(const sl_table *t)
{
    if (t->schema->nkeys)
        return t->nrows;
    size_t n = 0;
    for (size_t i = 0; i < t->nrows; i++)
        n += rd32(t->rows[i] + 4);
    return n;
}

static int cmp_val(sl_type t, const sl_value *a, const sl_value *b)
{
    if (a->flag != SL_CELL_VALUE || b->flag != SL_CELL_VALUE)
        return (a->flag == SL_CELL_VALUE) - (b->flag == SL_CELL_VALUE);
    if (sl_type_is_var(t)) {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = memcmp(a->p, b->p, n);
        if (c)
            return c;
        return (a->len > b->len) - (a->len < b->len);
    }
    if (sl_type_is_f64(t))
        return (a->f > b->f) - (a->f < b->f);
    if (a->i != b->i)
        return (a->i > b->i) - (a->i < b->i);
    return t == SL_T_TIMESTAMPOFF ? (a->aux > b->aux) - (a->aux < b->aux) : 0;
}

typedef struct {
    const sl_table *t;
    uint32_t korder[64];
    uint32_t nk;
} sort_ctx;

static int cmp_rows(const void *pa, const void *pb, void *ud)
{
    const sort_ctx *sc = ud;
    const sl_schema *s = sc->t->schema;
    const uint8_t *a = sc->t->rows[*(const size_t *)pa];
    const uint8_t *b = sc->t->rows[*(const size_t *)pb];
    for (uint32_t k = 0; k < sc->nk; k++) {
        uint32_t c = sc->korder[k];
        sl_value va, vb;
        decode_cell(s->cols[c].type, cell_at(s, a, c), &va);
        decode_cell(s->cols[c].type, cell_at(s, b, c), &vb);
        int r = cmp_val(s->cols[c].type, &va, &vb);
        if (r)
            return r;
    }
    return 0;
}

size_t *sl_table_sorted(const sl_table *t)
{
    size_t *idx = malloc((t->nrows ? t->nrows : 1) * sizeof *idx);
    if (!idx)
        return NULL;
    for (size_t i = 0; i < t->nrows; i++)
        idx[i] = i;
    sort_ctx sc = {.t = t};
    const sl_schema *s = t->schema;
    if (s->nkeys) {
        for (uint32_t k = 1; k <= s->nkeys && sc.nk < 64; k++)
            for (uint32_t c = 0; c < s->ncols; c++)
                if ((uint32_t)s->cols[c].key == k)
                    sc.korder[sc.nk++] = c;
    } else {
        for (uint32_t c = 0; c < s->ncols && sc.nk < 64; c++)
            sc.korder[sc.nk++] = c;
    }
    qsort_r(idx, t->nrows, sizeof *idx, cmp_rows, &sc);
    return idx;
}
