/* libFuzzer target: the PostgreSQL source's wire decoders (walsender CopyData framing, pgoutput
 * messages, COPY text and binary rows, text values of every type) on arbitrary bytes. Any
 * malformed input must be rejected with an error, never crash or read out of bounds. */
#include "pgproto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* The decoders work in place: give each its own copy. */
    uint8_t *buf = malloc(size);
    if (!buf)
        return 0;
    char err[256];
    sl_pg_copymsg cm;
    memcpy(buf, data, size);
    (void)sl_pg_decode_copydata(buf, size, &cm, err, sizeof err);

    sl_pg_scratch sc = {0};
    sl_pg_msg m;
    memcpy(buf, data, size);
    if (sl_pg_decode_msg(buf, size, &m, &sc, err, sizeof err) == 0 && m.tag == 'T')
        for (uint32_t i = 0; i < m.nrels; i++)
            (void)sl_pg_truncate_relid(&m, i);
    sl_pg_scratch_free(&sc);

    sl_pg_field f[16];
    memcpy(buf, data, size);
    (void)sl_pg_copy_split((char *)buf, size, f, 1 + data[0] % 16);
    int header_done = data[0] & 1;
    memcpy(buf, data, size);
    (void)sl_pg_copybin_row(buf, size, &header_done, f, 1 + data[0] % 16);

    /* Every type's text parser on the rest of the input. */
    for (int t = SL_T_INT64; t <= SL_T_BINARY; t++) {
        sl_pg_cell c;
        memcpy(buf, data, size);
        (void)sl_pg_parse_value((sl_type)t, (char *)buf + 1, size - 1, &c);
    }
    free(buf);
    return 0;
}
