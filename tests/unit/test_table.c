/* Table state: upserts, deletes, truncates, unchanged (TOAST) cells, keyless tables, schema
 * changes, ordering, and a randomized comparison against a simple model. */
#include "batch.h"
#include "sl_test.h"
#include "table.h"

#include <stdint.h>

static sl_schema_store st;

static const sl_schema *schema2(void)
{
    sl_field f[] = {SL_FIELD_INIT("id", SL_T_INT64, 1), SL_FIELD_INIT("name", SL_T_STRING, 0),
                    SL_FIELD_INIT("amount", SL_T_DOUBLE, 0)};
    return sl_schema_store_add(&st, "public", "t", 3, f);
}

static void row(sl_batch *b, sl_op op, int64_t id, const char *name, double amount)
{
    sl_batch_row_begin(b, op);
    sl_batch_set_i64(b, 0, id);
    if (name)
        sl_batch_set_bytes(b, 1, name, strlen(name));
    if (amount == amount)
        sl_batch_set_f64(b, 2, amount);
}

static void apply_all(sl_table *t, sl_batch *b)
{
    char msg[128];
    for (size_t i = 0; i < b->nrows; i++)
        CHECK(sl_table_apply(t, b, i, msg, sizeof msg) == 0);
    sl_batch_clear(b);
}

static int find_row(sl_table *t, int64_t id, sl_value *vals)
{
    for (size_t i = 0; i < t->nrows; i++) {
        sl_table_row(t, i, vals);
        if (vals[0].i == id)
            return 1;
    }
    return 0;
}

static void test_upsert_delete(void)
{
    const sl_schema *s = schema2();
    sl_table *t = sl_table_new("public", "t", s);
    sl_batch *b = sl_batch_new(s);
    row(b, SL_OP_SNAPSHOT, 1, "a", 1.5);
    row(b, SL_OP_SNAPSHOT, 2, "b", 2.5);
    row(b, SL_OP_INSERT, 3, "c", 0.0 / 0.0);
    apply_all(t, b);
    CHECK_EQ_INT(sl_table_count(t), 3);
    row(b, SL_OP_UPDATE, 2, "bb", 20);
    row(b, SL_OP_DELETE, 1, NULL, 0.0 / 0.0);
    row(b, SL_OP_DELETE, 99, NULL, 0.0 / 0.0); /* absent: idempotent */
    apply_all(t, b);
    CHECK_EQ_INT(sl_table_count(t), 2);
    sl_value v[3];
    CHECK(find_row(t, 2, v));
    CHECK(v[1].len == 2 && memcmp(v[1].p, "bb", 2) == 0);
    CHECK(v[2].f == 20);
    CHECK(find_row(t, 3, v));
    CHECK(v[2].flag == SL_CELL_NULL);
    CHECK(!find_row(t, 1, v));
    /* Unchanged cell keeps the stored value. */
    sl_batch_row_begin(b, SL_OP_UPDATE);
    sl_batch_set_i64(b, 0, 2);
    sl_batch_set_unchanged(b, 1);
    sl_batch_set_f64(b, 2, 21);
    apply_all(t, b);
    CHECK(find_row(t, 2, v));
    CHECK(v[1].len == 2 && memcmp(v[1].p, "bb", 2) == 0);
    CHECK(v[2].f == 21);
    /* Truncate. */
    sl_batch_row_begin(b, SL_OP_TRUNCATE);
    apply_all(t, b);
    CHECK_EQ_INT(sl_table_count(t), 0);
    row(b, SL_OP_INSERT, 5, "e", 5);
    apply_all(t, b);
    CHECK_EQ_INT(sl_table_count(t), 1);
    sl_batch_free(b);
    sl_table_free(t);
}

/* Key change: DELETE(old key) + INSERT(new row) whose unchanged cells come from the old row. */
static void test_key_change_unchanged(void)
{
    const sl_schema *s = schema2();
    sl_table *t = sl_table_new("public", "t", s);
    sl_batch *b = sl_batch_new(s);
    row(b, SL_OP_SNAPSHOT, 1, "toasted", 1);
    apply_all(t, b);
    row(b, SL_OP_DELETE, 1, NULL, 0.0 / 0.0);
    sl_batch_row_begin(b, SL_OP_INSERT);
    sl_batch_set_i64(b, 0, 100);
    sl_batch_set_unchanged(b, 1);
    sl_batch_set_f64(b, 2, 2);
    apply_all(t, b);
    sl_value v[3];
    CHECK(!find_row(t, 1, v));
    CHECK(find_row(t, 100, v));
    CHECK(v[1].flag == SL_CELL_VALUE && v[1].len == 7 && memcmp(v[1].p, "toasted", 7) == 0);
    CHECK(v[2].f == 2);
    sl_batch_free(b);
    sl_table_free(t);
}

static void test_keyless(void)
{
    sl_field f[] = {SL_FIELD_INIT("a", SL_T_INT64, 0), SL_FIELD_INIT("b", SL_T_STRING, 0)};
    const sl_schema *s = sl_schema_store_add(&st, "", "nokey", 2, f);
    CHECK_EQ_INT(s->nkeys, 0);
    sl_table *t = sl_table_new("", "nokey", s);
    sl_batch *b = sl_batch_new(s);
    for (int i = 0; i < 3; i++) {
        sl_batch_row_begin(b, SL_OP_INSERT);
        sl_batch_set_i64(b, 0, 7);
        sl_batch_set_bytes(b, 1, "x", 1);
    }
    sl_batch_row_begin(b, SL_OP_INSERT);
    sl_batch_set_i64(b, 0, 8);
    apply_all(t, b);
    CHECK_EQ_INT(sl_table_count(t), 4); /* duplicates are kept */
    CHECK_EQ_INT(t->nrows, 2);
    sl_batch_row_begin(b, SL_OP_DELETE);
    sl_batch_set_i64(b, 0, 7);
    sl_batch_set_bytes(b, 1, "x", 1);
    apply_all(t, b);
    CHECK_EQ_INT(sl_table_count(t), 3); /* one copy removed */
    sl_batch_free(b);
    sl_table_free(t);
}

static void test_schema_change(void)
{
    const sl_schema *s = schema2();
    sl_table *t = sl_table_new("public", "t", s);
    sl_batch *b = sl_batch_new(s);
    row(b, SL_OP_SNAPSHOT, 1, "a", 1);
    apply_all(t, b);
    sl_batch_free(b);
    /* ADD COLUMN extra, DROP COLUMN amount. */
    sl_field f[] = {SL_FIELD_INIT("id", SL_T_INT64, 1), SL_FIELD_INIT("name", SL_T_STRING, 0),
                    SL_FIELD_INIT("extra", SL_T_BOOL, 0)};
    const sl_schema *s2 = sl_schema_store_add(&st, "public", "t", 3, f);
    b = sl_batch_new(s2);
    sl_batch_row_begin(b, SL_OP_INSERT);
    sl_batch_set_i64(b, 0, 2);
    sl_batch_set_bytes(b, 1, "b", 1);
    sl_batch_set_i64(b, 2, 1);
    apply_all(t, b);
    CHECK(t->schema == s2);
    sl_value v[3];
    CHECK(find_row(t, 1, v));
    CHECK(v[1].len == 1 && v[1].p[0] == 'a');
    CHECK(v[2].flag == SL_CELL_NULL); /* old row: NULL for the new column */
    CHECK(find_row(t, 2, v));
    CHECK(v[2].flag == SL_CELL_VALUE && v[2].i == 1);
    sl_batch_free(b);
    sl_table_free(t);
}

/* Random operations against a trivially correct model (array indexed by id). */
static void test_random_model(void)
{
    const sl_schema *s = schema2();
    sl_table *t = sl_table_new("public", "t", s);
    sl_batch *b = sl_batch_new(s);
    enum { N = 3000 };
    static int present[N];
    static double amount[N];
    uint64_t x = 88172645463325252ULL;
    for (int step = 0; step < 60000; step++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int id = (int)(x % N);
        int op = (int)((x >> 20) % 3);
        if (op == 2) {
            row(b, SL_OP_DELETE, id, NULL, 0.0 / 0.0);
            present[id] = 0;
        } else {
            row(b, op ? SL_OP_UPDATE : SL_OP_INSERT, id, "n", (double)step);
            present[id] = 1;
            amount[id] = step;
        }
        if (b->nrows == 100)
            apply_all(t, b);
    }
    apply_all(t, b);
    size_t expect = 0;
    for (int i = 0; i < N; i++)
        expect += (size_t)present[i];
    CHECK_EQ_INT(sl_table_count(t), expect);
    size_t *order = sl_table_sorted(t);
    int64_t prev = -1;
    int bad = 0;
    for (size_t i = 0; i < t->nrows; i++) {
        sl_value v[3];
        sl_table_row(t, order[i], v);
        if (v[0].i <= prev || !present[v[0].i] || v[2].f != amount[v[0].i])
            bad++;
        prev = v[0].i;
    }
    CHECK_EQ_INT(bad, 0);
    free(order);
    sl_batch_free(b);
    sl_table_free(t);
}

/* TIMESTAMPOFF keeps its offset (sl_value.aux) in table state: it used to be dropped, so an
 * active QVD showed every such value at +00:00 after the first flush. The offset is part of the
 * value: a keyless table tells rows apart by it. UINT64 keeps all 64 bits. */
static void test_timestampoff_and_uint64(void)
{
    sl_field f[] = {SL_FIELD_INIT("id", SL_T_INT64, 1), SL_FIELD_INIT("at", SL_T_TIMESTAMPOFF, 0),
                    SL_FIELD_INIT("n", SL_T_UINT64, 0), SL_FIELD_INIT("s", SL_T_STRING, 0)};
    const sl_schema *s = sl_schema_store_add(&st, "dbo", "ev", 4, f);
    sl_table *t = sl_table_new("dbo", "ev", s);
    sl_batch *b = sl_batch_new(s);
    const int64_t t0 = 1710072000000000LL;
    for (int64_t id = 1; id <= 3; id++) {
        sl_batch_row_begin(b, SL_OP_SNAPSHOT);
        sl_batch_set_i64(b, 0, id);
        sl_batch_set_tsoff(b, 1, t0 + id, (int32_t)(id * 3600 - 19800));
        sl_batch_set_i64(b, 2, (int64_t)(UINT64_MAX - (uint64_t)id));
        sl_batch_set_bytes(b, 3, "after", 5);
    }
    apply_all(t, b);
    sl_value v[4];
    for (int64_t id = 1; id <= 3; id++) {
        CHECK(find_row(t, id, v));
        CHECK(v[1].flag == SL_CELL_VALUE && v[1].i == t0 + id);
        CHECK_EQ_INT(v[1].aux, id * 3600 - 19800);
        CHECK((uint64_t)v[2].i == UINT64_MAX - (uint64_t)id);
        CHECK(v[3].len == 5 && memcmp(v[3].p, "after", 5) == 0); /* the cell after it */
    }
    /* an UPDATE whose offset cell is UNCHANGED keeps the stored offset */
    sl_batch_row_begin(b, SL_OP_UPDATE);
    sl_batch_set_i64(b, 0, 2);
    sl_batch_set_unchanged(b, 1);
    sl_batch_set_i64(b, 2, 5);
    sl_batch_set_null(b, 3);
    apply_all(t, b);
    CHECK(find_row(t, 2, v));
    CHECK(v[1].i == t0 + 2 && v[1].aux == 2 * 3600 - 19800);
    sl_table_free(t);
    sl_batch_free(b);

    /* keyless: two rows differing only in the offset are two rows; a DELETE removes its own */
    sl_field g[] = {SL_FIELD_INIT("at", SL_T_TIMESTAMPOFF, 0)};
    const sl_schema *k = sl_schema_store_add(&st, "dbo", "nokey", 1, g);
    t = sl_table_new("dbo", "nokey", k);
    b = sl_batch_new(k);
    sl_batch_row_begin(b, SL_OP_INSERT);
    sl_batch_set_tsoff(b, 0, t0, 3600);
    sl_batch_row_begin(b, SL_OP_INSERT);
    sl_batch_set_tsoff(b, 0, t0, -3600);
    apply_all(t, b);
    CHECK_EQ_INT(sl_table_count(t), 2);
    CHECK_EQ_INT(t->nrows, 2);
    sl_batch_row_begin(b, SL_OP_DELETE);
    sl_batch_set_tsoff(b, 0, t0, -3600);
    apply_all(t, b);
    CHECK_EQ_INT(sl_table_count(t), 1);
    sl_table_row(t, 0, v);
    CHECK_EQ_INT(v[0].aux, 3600);
    sl_table_free(t);
    sl_batch_free(b);
}

/* Identity is the value, not its spelling: the QVD keeps one spelling per number (first text
 * wins), so after recovery a row stored as "1.0" must still match a DELETE carrying "1.00", and
 * 0.0 must match -0.0. */
static void test_same_value_other_spelling(void)
{
    sl_field f[] = {SL_FIELD_INIT("d", SL_T_DECIMAL, 0), SL_FIELD_INIT("x", SL_T_DOUBLE, 0)};
    const sl_schema *k = sl_schema_store_add(&st, "public", "nokey2", 2, f);
    sl_table *t = sl_table_new("public", "nokey2", k);
    sl_batch *b = sl_batch_new(k);
    static const char *const in[] = {"1.0", "1.00", "+1", "10e-1", "2.5"};
    for (int i = 0; i < 5; i++) {
        sl_batch_row_begin(b, SL_OP_INSERT);
        sl_batch_set_bytes(b, 0, in[i], strlen(in[i]));
        sl_batch_set_f64(b, 1, i % 2 ? -0.0 : 0.0);
    }
    apply_all(t, b);
    CHECK_EQ_INT(sl_table_count(t), 5);
    CHECK_EQ_INT(t->nrows, 2); /* 1 (four times) and 2.5 */
    sl_batch_row_begin(b, SL_OP_DELETE);
    sl_batch_set_bytes(b, 0, "1.000", 5);
    sl_batch_set_f64(b, 1, -0.0);
    sl_batch_row_begin(b, SL_OP_DELETE);
    sl_batch_set_bytes(b, 0, "2.50", 4);
    sl_batch_set_f64(b, 1, 0.0);
    apply_all(t, b);
    CHECK_EQ_INT(sl_table_count(t), 3);
    CHECK_EQ_INT(t->nrows, 1);
    sl_batch_row_begin(b, SL_OP_DELETE); /* a different value is still a different row */
    sl_batch_set_bytes(b, 0, "1.0000000000000000000001", 24);
    sl_batch_set_f64(b, 1, 0.0);
    apply_all(t, b);
    CHECK_EQ_INT(sl_table_count(t), 3);
    sl_table_free(t);
    sl_batch_free(b);
}

/* Rows of a table (or a snapshot) in key order, as "id:name:amount;" text. */
static void dump(const sl_table *t, char *out, size_t n)
{
    size_t *order = sl_table_sorted(t);
    CHECK(order != NULL);
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; order && i < t->nrows && len < n; i++) {
        sl_value v[3];
        uint32_t count = sl_table_row(t, order[i], v);
        len += (size_t)snprintf(out + len, n - len, "%lld:%.*s:%g*%u;", (long long)v[0].i,
                                v[1].flag == SL_CELL_VALUE ? (int)v[1].len : 1,
                                v[1].flag == SL_CELL_VALUE ? v[1].p : "-",
                                v[2].flag == SL_CELL_VALUE ? v[2].f : -1.0, count);
    }
    free(order);
}

/* A flush reads a snapshot on another thread while the table keeps changing: the snapshot must
 * keep showing the rows of its moment (blobs are copied on write, freed only at thaw). Under
 * ASan a freed blob read through the snapshot fails this test. */
static void test_snapshot_copy_on_write(void)
{
    const sl_schema *s = schema2();
    sl_table *t = sl_table_new("public", "t", s);
    sl_batch *b = sl_batch_new(s);
    for (int i = 1; i <= 5; i++)
        row(b, SL_OP_SNAPSHOT, i, i % 2 ? "odd" : "even", i);
    apply_all(t, b);
    char before[512], after[512], live[512];
    dump(t, before, sizeof before);
    sl_table *snap = sl_table_snapshot(t);
    CHECK(snap != NULL && t->frozen);
    row(b, SL_OP_UPDATE, 2, "changed", 20);
    row(b, SL_OP_DELETE, 3, NULL, 0.0 / 0.0);
    row(b, SL_OP_DELETE, 4, NULL, 0.0 / 0.0);
    row(b, SL_OP_INSERT, 40, "new", 4); /* a key change: takes over DELETE(4)'s row */
    row(b, SL_OP_INSERT, 6, "six", 6);
    apply_all(t, b);
    CHECK(t->grave_bytes > 0);
    dump(snap, after, sizeof after);
    CHECK_EQ_STR(after, before);
    CHECK_EQ_INT(sl_table_count(snap), 5);
    dump(t, live, sizeof live);
    CHECK_EQ_STR(live, "1:odd:1*1;2:changed:20*1;5:odd:5*1;6:six:6*1;40:new:4*1;");
    /* A truncate and a schema change while frozen leave the snapshot intact too. */
    sl_batch_row_begin(b, SL_OP_TRUNCATE);
    apply_all(t, b);
    dump(snap, after, sizeof after);
    CHECK_EQ_STR(after, before);
    sl_table_snapshot_free(snap);
    sl_table_thaw(t);
    CHECK(!t->frozen && t->grave_bytes == 0 && t->ngrave == 0);
    sl_batch_free(b);
    sl_table_free(t);

    /* Keyless: duplicate counts change in place, which a snapshot must not see. */
    sl_field f[] = {SL_FIELD_INIT("id", SL_T_INT64, 0), SL_FIELD_INIT("name", SL_T_STRING, 0),
                    SL_FIELD_INIT("amount", SL_T_DOUBLE, 0)};
    const sl_schema *k = sl_schema_store_add(&st, "", "k", 3, f);
    t = sl_table_new("", "k", k);
    b = sl_batch_new(k);
    row(b, SL_OP_INSERT, 1, "a", 1);
    row(b, SL_OP_INSERT, 1, "a", 1);
    row(b, SL_OP_INSERT, 2, "b", 2);
    apply_all(t, b);
    snap = sl_table_snapshot(t);
    dump(snap, before, sizeof before);
    row(b, SL_OP_INSERT, 1, "a", 1);
    row(b, SL_OP_DELETE, 2, "b", 2);
    row(b, SL_OP_INSERT, 2, "b", 2);
    row(b, SL_OP_INSERT, 2, "b", 2);
    apply_all(t, b);
    dump(snap, after, sizeof after);
    CHECK_EQ_STR(after, before);
    CHECK_EQ_INT(sl_table_count(snap), 3);
    CHECK_EQ_INT(sl_table_count(t), 5);
    sl_table_snapshot_free(snap);
    sl_table_thaw(t);
    CHECK_EQ_INT(sl_table_count(t), 5);
    sl_batch_free(b);
    sl_table_free(t);
}

/* What the engine resolves UNCHANGED cells from before transforms run: the stored row by the
 * batch row's key, and the row a key change's DELETE removed. */
static void test_lookup_resolves_unchanged(void)
{
    const sl_schema *s = schema2();
    sl_table *t = sl_table_new("public", "t", s);
    sl_batch *b = sl_batch_new(s);
    row(b, SL_OP_SNAPSHOT, 1, "long toasted text", 1);
    row(b, SL_OP_SNAPSHOT, 2, "other", 2);
    apply_all(t, b);
    sl_batch_row_begin(b, SL_OP_UPDATE);
    sl_batch_set_i64(b, 0, 1);
    sl_batch_set_unchanged(b, 1);
    sl_batch_set_f64(b, 2, 10);
    char msg[128];
    CHECK(sl_table_apply(t, b, 0, msg, sizeof msg) == 0);
    sl_value v[3];
    CHECK(sl_table_lookup(t, b, 0, v) == 1);
    CHECK(v[1].flag == SL_CELL_VALUE && v[1].len == 17 && memcmp(v[1].p, "long toasted", 12) == 0);
    CHECK(v[2].f == 10);
    sl_batch_clear(b);
    row(b, SL_OP_DELETE, 1, NULL, 0.0 / 0.0);
    CHECK(sl_table_apply(t, b, 0, msg, sizeof msg) == 0);
    CHECK(sl_table_lookup(t, b, 0, v) == 0);
    CHECK(sl_table_last_deleted(t, v) == 1);
    CHECK(v[0].i == 1 && v[1].len == 17 && v[2].f == 10);
    sl_batch_clear(b);
    row(b, SL_OP_INSERT, 99, NULL, 0.0 / 0.0);
    CHECK(sl_table_lookup(t, b, 0, v) == 0);
    sl_batch_free(b);
    sl_table_free(t);
}

int main(void)
{
    SL_RUN(test_same_value_other_spelling);
    SL_RUN(test_timestampoff_and_uint64);
    SL_RUN(test_snapshot_copy_on_write);
    SL_RUN(test_lookup_resolves_unchanged);
    SL_RUN(test_upsert_delete);
    SL_RUN(test_key_change_unchanged);
    SL_RUN(test_keyless);
    SL_RUN(test_schema_change);
    SL_RUN(test_random_model);
    sl_schema_store_free(&st);
    SL_DONE();
}
