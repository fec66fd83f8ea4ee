/* Canonical text of engine values (CSV output, logs, tests): ISO dates and times, shortest
 * round-trip doubles, exact decimals, hex for binary. */
#ifndef SL_VALTEXT_H
#define SL_VALTEXT_H

#include "json.h"
#include "value.h"

#include <stdint.h>

/* Appends the text of v (NULL appends nothing). tz_minutes shifts TIMESTAMPTZ. */
void sl_value_text(sl_buf *out, sl_type t, const sl_value *v, int tz_minutes);

#endif
