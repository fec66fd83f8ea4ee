/* libFuzzer harness for the QVD reader: any input must be refused with a one-line error or read
 * so that every cell and every sl_type conversion stays in bounds. */
#include "qvd/qvd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    char err[256];
    sl_qvd_table *t = sl_qvd_read_buffer(buf, size, err, sizeof err);
    if (!t) {
        if (!err[0] || strchr(err, '\n'))
            abort(); /* errors are one non-empty line */
        return 0;
    }
    /* one row past the end and one field past the end must be NULL, not a read */
    for (uint64_t r = 0; r <= t->nrecords && r < 4096; r++) {
        for (size_t f = 0; f <= t->nfields; f++) {
            const sl_qvd_symbol *s = sl_qvd_cell(t, r, f);
            if ((r == t->nrecords || f == t->nfields) && s)
                abort();
            if (!s)
                continue;
            volatile unsigned sum = 0;
            for (size_t k = 0; k < s->slen; k++)
                sum += (unsigned char)s->s[k];
            (void)sum;
            for (int ty = SL_T_INT64; ty <= SL_T_TIMESTAMPOFF; ty++) {
                char scratch[64]; /* every sl_type, UINT64 and TIMESTAMPOFF included */
                sl_value v;
                sl_qvd_symbol_to_value(s, (sl_type)ty, &v, scratch, sizeof scratch);
            }
        }
    }
    sl_qvd_table_free(t);
    return 0;
}
