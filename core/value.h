/* One typed cell, as the core passes values between table state, the QVD codec and the CSV
 * encoder. Borrowed: p points into storage owned by someone else. */
#ifndef SL_VALUE_H
#define SL_VALUE_H

#include <sluice/plugin.h>

typedef struct sl_value {
    uint8_t flag; /* SL_CELL_VALUE / SL_CELL_NULL (SL_CELL_UNCHANGED never reaches encoders) */
    int64_t i;    /* INT64, UINT64 (bits), BOOL, DATE, TIME, TIMESTAMP, TIMESTAMPTZ, TIMESTAMPOFF */
    int32_t aux;  /* TIMESTAMPOFF: offset east of UTC in seconds */
    double f;     /* DOUBLE */
    const char *p; /* DECIMAL, STRING, BINARY */
    size_t len;
} sl_value;

#endif
