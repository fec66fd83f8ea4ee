/* Table state: the current rows of one source table keyed by its primary key (or by the whole row
 * when the table has no key), built from the snapshot and updated by changes. This is the "active"
 * part of active QVDs. Each row is one compact blob, so memory stays near the table's encoded size.
 */
#ifndef SL_TABLE_H
#define SL_TABLE_H

#include "batch.h"
#include "value.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sl_table {
    char *ns, *name;
    const sl_schema *schema; /* borrowed from the job's schema store */
    uint8_t **rows;          /* row blobs */
    size_t nrows, cap;
    uint32_t *slots; /* open addressing: row index + 1, 0 = empty */
    uint64_t *slot_hash;
    size_t nslots;
    size_t bytes; /* memory held by row blobs */
    uint8_t
        *last_deleted; /* the row a key change's DELETE removed, for its INSERT's unchanged cells */
    uint64_t changes_total; /* changes applied since start */
    uint64_t pending;       /* changes since the last flush */
    int dirty;
} sl_table;

sl_table *sl_table_new(const char *ns, const char *name, const sl_schema *schema);
void sl_table_free(sl_table *t);

/* Apply row r of batch b (op from the batch). Handles SL_CELL_UNCHANGED by taking the stored value
 * and migrates the table when b's schema differs. 0 or -1 (out of memory / bad row, msg set). */
int sl_table_apply(sl_table *t, const sl_batch *b, size_t r, char *msg, size_t msglen);
/* Replace the schema, keeping columns of the same name and type; others become NULL. */
int sl_table_migrate(sl_table *t, const sl_schema *s);
void sl_table_truncate(sl_table *t);

/* Number of logical rows (keyless tables count duplicates). */
size_t sl_table_count(const sl_table *t);
/* Row order for output: indices sorted by key. Caller frees. */
size_t *sl_table_sorted(const sl_table *t);
/* Decode row i into vals[schema->ncols]; returns the duplicate count (1 for keyed tables). */
uint32_t sl_table_row(const sl_table *t, size_t i, sl_value *vals);

#endif
