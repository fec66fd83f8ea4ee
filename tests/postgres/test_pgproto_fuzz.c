/* Fuzz target for the postgres source's pure decoders (pgoutput, walsender framing, COPY text
 * and binary rows, text and binary values). Built as a libFuzzer target with -DSL_LIBFUZZER
 * (-fsanitize=fuzzer), or as this ctest (label unit) whose main() feeds it 300,000 seeded random
 * inputs shaped like each decoder's input; the ASan build runs it too. */
#include "pgproto.h"

#include <stdlib.h>
#include <string.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    data++;
    size--;
    uint8_t *p = malloc(size ? size : 1);
    memcpy(p, data, size);
    char err[200];
    switch (sel % 6) {
    case 0: {
        sl_pg_scratch s = {0};
        sl_pg_msg m;
        if (sl_pg_decode_msg(p, size, &m, &s, err, sizeof err) == 0 && m.tag == 'T')
            for (uint32_t i = 0; i < m.nrels; i++)
                (void)sl_pg_truncate_relid(&m, i);
        sl_pg_scratch_free(&s);
        break;
    }
    case 1: {
        sl_pg_copymsg cm;
        (void)sl_pg_decode_copydata(p, size, &cm, err, sizeof err);
        break;
    }
    case 2: {
        sl_pg_field f[8];
        int hdr = sel & 0x80 ? 1 : 0;
        (void)sl_pg_copybin_row(p, size, &hdr, f, (sel >> 3) & 7);
        break;
    }
    case 3: {
        sl_pg_field f[8];
        (void)sl_pg_copy_split((char *)p, size, f, 1 + ((sel >> 3) & 7));
        break;
    }
    case 4: {
        sl_pg_cell c;
        (void)sl_pg_parse_value((sl_type)(1 + (sel >> 3) % 10), (char *)p, size, &c);
        break;
    }
    case 5: {
        static const uint32_t oids[] = {16,   20,   21,   23,   26, 700, 701, 1700,
                                        1082, 1083, 1114, 1184, 17, 25,  0};
        sl_pg_cell c;
        sl_pg_buf tmp = {0};
        uint32_t oid = oids[(sel >> 3) % 15];
        (void)sl_pg_parse_binary(sl_pg_type_map(oid), oid, (char *)p, size, &c, &tmp);
        free(tmp.p);
        break;
    }
    }
    free(p);
    return 0;
}

#ifndef SL_LIBFUZZER
#include <stdio.h>

/* Mostly valid-looking inputs: a selector byte, then a known message tag or a date-like text. */
int main(void)
{
    static const char *const starts[] = {"B",           "C",
                                         "R",           "I",
                                         "U",           "D",
                                         "T",           "S",
                                         "c",           "A",
                                         "O",           "Y",
                                         "M",           "w",
                                         "k",           "PGCOPY\n\377\r\n",
                                         "2024-01-01 ", "294276-12-31 23:59:59",
                                         "\\x",         "-infinity"};
    unsigned seed = 20261128;
    uint8_t buf[512];
    for (int it = 0; it < 300000; it++) {
        size_t n = 1 + (size_t)(rand_r(&seed) % 200);
        buf[0] = (uint8_t)rand_r(&seed);
        const char *st = starts[rand_r(&seed) % (sizeof starts / sizeof starts[0])];
        size_t sl = strlen(st) + (strncmp(st, "PGCOPY", 6) == 0) /* its NUL is part of it */;
        memcpy(buf + 1, st, sl);
        for (size_t i = 1 + sl; i < n + sl + 1; i++)
            buf[i] = (uint8_t)(rand_r(&seed) % 4 ? rand_r(&seed) % 16 : rand_r(&seed));
        LLVMFuzzerTestOneInput(buf, n + sl + 1);
    }
    fprintf(stderr, "300000 inputs, no crash\n");
    return 0;
}
#endif
