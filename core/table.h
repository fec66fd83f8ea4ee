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
    /* Copy-on-write while a flush reads a snapshot of this table (sl_table_snapshot): blobs are
     * then immutable, so a blob the table would free or change in place goes to the graveyard
     * (or is copied first) until sl_table_thaw. */
    int frozen;
    uint8_t **grave;
    size_t ngrave, capgrave;
    size_t grave_bytes;
} sl_table;

sl_table *sl_table_new(const char *ns, const char *name, const sl_schema *schema);
void sl_table_free(sl_table *t);

/* Apply row r of batch b (op from the batch). Handles SL_CELL_UNCHANGED by taking the stored value
 * and migrates the table when b's schema differs. 0 or -1 (out of memory / bad row, msg set). */
int sl_table_apply(sl_table *t, const sl_batch *b, size_t r, char *msg, size_t msglen);
/* Replace the schema, keeping columns of the same name and type; others become NULL. */
int sl_table_migrate(sl_table *t, const sl_schema *s);
void sl_table_truncate(sl_table *t);

/* A read-only view of t's rows as they are now, for a flush on another thread: the row pointer
 * array is copied (8 bytes a row), the blobs are shared and t is frozen (copy-on-write) until
 * sl_table_thaw. The view has no index; sl_table_sorted/sl_table_row/sl_table_count work on it.
 * Free it with sl_table_snapshot_free (any thread), then thaw t (t's thread). NULL: no memory. */
sl_table *sl_table_snapshot(sl_table *t);
void sl_table_snapshot_free(sl_table *snap);
/* The flush that read t's snapshot is over: free the blobs it kept alive. */
void sl_table_thaw(sl_table *t);
/* Bytes t holds: row blobs, row array, index, blobs kept for a snapshot. */
size_t sl_table_mem(const sl_table *t);
/* The stored row whose key equals batch row r's (r's UNCHANGED cells count as NULL): decodes it
 * into vals[schema->ncols] (pointing into the blob, valid until the next change) and returns 1,
 * or 0 when there is none. b must have t's schema. */
int sl_table_lookup(const sl_table *t, const sl_batch *b, size_t r, sl_value *vals);
/* The row a key change's DELETE just removed (its INSERT's UNCHANGED cells come from it), or 0. */
int sl_table_last_deleted(const sl_table *t, sl_value *vals);

/* Number of logical rows (keyless tables count duplicates). */
size_t sl_table_count(const sl_table *t);
/* Row order for output: indices sorted by key. Caller frees. */
size_t *sl_table_sorted(const sl_table *t);
/* Decode row i into vals[schema->ncols]; returns the duplicate count (1 for keyed tables). */
uint32_t sl_table_row(const sl_table *t, size_t i, sl_value *vals);

#endif
