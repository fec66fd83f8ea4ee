/* Columnar batches and host-owned schemas (the implementation behind sl_batch / schema_new). */
#ifndef SL_BATCH_H
#define SL_BATCH_H

#include "value.h"

#include <sluice/plugin.h>
#include <stdatomic.h>

typedef struct sl_col {
    uint8_t *flags;
    int64_t *i64;
    double *f64;
    uint64_t *off; /* rows+1 entries for variable-size types */
    char *data;
    size_t dlen, dcap;
    int32_t *aux; /* TIMESTAMPOFF offsets */
} sl_col;

struct sl_batch {
    const sl_schema *schema;
    size_t nrows, cap;
    uint8_t *ops;
    sl_col *cols;
    int oom;
    size_t mem;         /* bytes this batch holds */
    atomic_llong *acct; /* the tenant counter mem is added to, or NULL */
};

int sl_type_is_var(sl_type t);
int sl_type_is_f64(sl_type t);
const char *sl_type_name(sl_type t);
int sl_type_from_name(const char *s, sl_type *out);

sl_batch *sl_batch_new(const sl_schema *schema);
/* Count the batch's memory (now and as it grows or is freed) in *acct. */
void sl_batch_account(sl_batch *b, atomic_llong *acct);
void sl_batch_free(sl_batch *b);
void sl_batch_clear(sl_batch *b);
int64_t sl_batch_row_begin(sl_batch *b, sl_op op);
void sl_batch_set_i64(sl_batch *b, uint32_t col, int64_t v);
void sl_batch_set_f64(sl_batch *b, uint32_t col, double v);
int sl_batch_set_bytes(sl_batch *b, uint32_t col, const void *p, size_t len);
void sl_batch_set_null(sl_batch *b, uint32_t col);
void sl_batch_set_tsoff(sl_batch *b, uint32_t col, int64_t utc_us, int32_t offset_s);
void sl_batch_set_unchanged(sl_batch *b, uint32_t col);
void sl_batch_column(const sl_batch *b, uint32_t col, sl_column *out);
void sl_batch_get(const sl_batch *b, size_t row, uint32_t col, sl_value *out);
/* Append a value (flag included) to the current row. */
int sl_batch_set_value(sl_batch *b, uint32_t col, const sl_value *v);

/* Schemas: an owning list, freed all at once (a job's lifetime). */
typedef struct sl_schema_store {
    struct sl_schema_node *head;
} sl_schema_store;

const sl_schema *sl_schema_store_add(sl_schema_store *st, const char *ns, const char *name,
                                     uint32_t ncols, const sl_field *cols);
/* The same for an array of fields stride bytes apart (a plugin's own sizeof(sl_field)). */
const sl_schema *sl_schema_store_add_sized(sl_schema_store *st, const char *ns, const char *name,
                                           uint32_t ncols, const sl_field *cols, size_t stride);
void sl_schema_store_free(sl_schema_store *st);
int sl_schema_equal(const sl_schema *a, const sl_schema *b);
int sl_schema_find_col(const sl_schema *s, const char *name);

#endif
