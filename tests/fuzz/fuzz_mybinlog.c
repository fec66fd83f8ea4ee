/* libFuzzer target: the mysql source's binlog event decoder (mybinlog.c) on arbitrary bytes.
 * Input: one flags byte (bit 0: checksums expected before the first FORMAT_DESCRIPTION; bit 1:
 * also try the rest as JSON and DECIMAL; bit 3: recompute each event's CRC32 so that mutations
 * reach the body decoders), then a stream of binlog events as a replica receives them (each event
 * cut at its header's event_size). Every event goes through sl_mb_decode, every rows event through
 * sl_mb_rows_next, every TRANSACTION_PAYLOAD through sl_mb_payload_next; the rest of the input is
 * also tried as a binary JSON value and a binary DECIMAL. Malformed input must be rejected with a
 * one-line error, never crash, leak or read out of bounds. Seeds: tests/fuzz/corpus/mybinlog
 * (written by `test_mybinlog --write-seeds DIR`). */
#include "mybinlog.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void check_err(const char *err)
{
    if (!err[0] || strchr(err, '\n'))
        abort(); /* an error must say something, on one line */
}

static void drain(sl_mb_decoder *d, sl_mb_event *ev, char *err, size_t errlen)
{
    const sl_mb_cell *b, *a;
    int rc;
    while ((rc = sl_mb_rows_next(d, ev, &b, &a, err, errlen)) == 1)
        for (uint32_t i = 0; i < ev->ncols; i++) {
            /* touch every byte a cell points to, so ASan sees a bad pointer */
            volatile uint8_t sink = 0;
            for (int k = 0; k < 2; k++) {
                const sl_mb_cell *c = k ? a : b;
                if (c && c[i].state == SL_CELL_VALUE && c[i].p)
                    for (size_t j = 0; j < c[i].len; j++)
                        sink ^= (uint8_t)c[i].p[j];
            }
            (void)sink;
        }
    if (rc < 0)
        check_err(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    sl_mb_decoder *d = sl_mb_decoder_new();
    if (!d)
        return 0;
    sl_mb_decoder_set_checksum(d, flags & 1);
    sl_mb_decoder_set_max_uncompressed(d, (size_t)1 << 20);
    char err[256];
    size_t off = 0;
    while (off < size) {
        size_t left = size - off, n = left;
        if (left >= SL_MB_HEADER_LEN) {
            uint32_t es = (uint32_t)data[off + 9] | (uint32_t)data[off + 10] << 8 |
                          (uint32_t)data[off + 11] << 16 | (uint32_t)data[off + 12] << 24;
            if (es >= SL_MB_HEADER_LEN && es < left)
                n = es;
        }
        /* an exact-size copy, so any overread is caught */
        uint8_t *p = malloc(n);
        if (!p)
            break;
        memcpy(p, data + off, n);
        off += n;
        if ((flags & 8) && n >= SL_MB_HEADER_LEN + 4) {
            /* let mutations get past the checksum: recompute it over the mutated bytes */
            uint32_t c = (uint32_t)crc32(0L, p, (uInt)(n - 4));
            for (int i = 0; i < 4; i++)
                p[n - 4 + i] = (uint8_t)(c >> (8 * i));
        }
        sl_mb_event ev;
        if (sl_mb_decode(d, p, n, &ev, err, sizeof err) == 0) {
            if (ev.rows_kind)
                drain(d, &ev, err, sizeof err);
            if (ev.h.type == SL_MB_TRANSACTION_PAYLOAD) {
                const uint8_t *ib;
                size_t il;
                int rc;
                while ((rc = sl_mb_payload_next(d, &ib, &il, err, sizeof err)) == 1) {
                    sl_mb_event iev;
                    if (sl_mb_decode(d, ib, il, &iev, err, sizeof err) == 0) {
                        if (iev.rows_kind)
                            drain(d, &iev, err, sizeof err);
                    } else {
                        check_err(err);
                    }
                }
                if (rc < 0)
                    check_err(err);
            }
        } else {
            check_err(err);
        }
        free(p);
    }
    if (flags & 2) {
        uint8_t *p = malloc(size ? size : 1);
        if (p) {
            memcpy(p, data, size);
            const char *out;
            size_t ol;
            if (sl_mb_json_to_text(d, p, size, &out, &ol, err, sizeof err) == 0) {
                if (strlen(out) != ol)
                    abort();
            } else {
                check_err(err);
            }
            char dec[80];
            (void)sl_mb_decimal_to_text(p, size, 1 + (flags >> 2) % 65, (flags >> 4) % 31, dec,
                                        sizeof dec);
            free(p);
        }
    }
    sl_mb_decoder_free(d);
    return 0;
}
