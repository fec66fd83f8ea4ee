/* Writes the fuzz seed corpus: small QVD files from our own writer covering every sl_type, NULLs,
 * width-0 fields, empty tables, wide rows, values that share a number (text symbols) and names
 * with control characters (character references). Usage: fuzz_qvd_seeds DIR */
#include "qvd/qvd.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NTYPES 12 /* every sl_type */

static int write_one(const char *dir, const char *name, size_t ncols, const sl_type *types,
                     int nrows, int nulls)
{
    sl_qvd_column_spec cols[64];
    char names[64][16];
    for (size_t c = 0; c < ncols; c++) {
        snprintf(names[c], sizeof names[c], "f%zu", c);
        cols[c] = (sl_qvd_column_spec){names[c], types[c % NTYPES], c == 0};
    }
    sl_qvd_write_opts o = {.table_name = name, .lineage = "seed;", .create_time_us = 1};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, ncols, cols);
    if (!w)
        return -1;
    char text[32];
    for (int r = 0; r < nrows; r++) {
        sl_value v[64];
        memset(v, 0, sizeof v);
        snprintf(text, sizeof text, "%d.25", r * 37 % 11);
        for (size_t c = 0; c < ncols; c++) {
            v[c].i = (r * 7919LL * (long long)(c + 1)) % 100000;
            v[c].f = r / 4.0;
            v[c].p = text;
            v[c].len = strlen(text);
            v[c].aux = (r % 5 - 2) * 3600 + (r == 3 ? 561 : 0);
            v[c].flag = nulls && (r + (int)c) % 4 == 0;
        }
        if (sl_qvd_writer_add_row(w, v) != 0)
            return -1;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/%s.qvd", dir, name);
    int rc = sl_qvd_writer_finish_file(w, path);
    sl_qvd_writer_free(w);
    return rc;
}

/* Values of one number written several ways, and different values of one number (2^64 - k,
 * one instant at other offsets): text symbols among duals. Names need character references. */
static int write_shared_numbers(const char *dir)
{
    sl_qvd_column_spec cols[] = {{"u\t64", SL_T_UINT64, 1},
                                 {"d\r\ndec", SL_T_DECIMAL, 0},
                                 {"ts\x01off", SL_T_TIMESTAMPOFF, 0},
                                 {"i64", SL_T_INT64, 0}};
    static const char *const dec[] = {"1.0", "1.00", "0.1", "0.1000000000000000000001", "-0"};
    sl_qvd_write_opts o = {.table_name = "shared\x02", .lineage = "seed;", .create_time_us = 1};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, 4, cols);
    if (!w)
        return -1;
    for (int r = 0; r < 10; r++) {
        sl_value v[4] = {{.i = (int64_t)(UINT64_MAX - (uint64_t)r * 700)},
                         {.p = dec[r % 5], .len = strlen(dec[r % 5])},
                         {.i = 1710072000000000LL + r / 3, .aux = (r % 3) * 1800 - 3600},
                         {.i = 9007199254740992LL + r, .flag = r == 7}};
        if (sl_qvd_writer_add_row(w, v) != 0)
            return -1;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/shared_numbers.qvd", dir);
    int rc = sl_qvd_writer_finish_file(w, path);
    sl_qvd_writer_free(w);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_qvd_seeds DIR\n");
        return 2;
    }
    static const sl_type all[NTYPES] = {
        SL_T_INT64, SL_T_DOUBLE,    SL_T_DECIMAL,     SL_T_STRING, SL_T_BOOL,   SL_T_DATE,
        SL_T_TIME,  SL_T_TIMESTAMP, SL_T_TIMESTAMPTZ, SL_T_BINARY, SL_T_UINT64, SL_T_TIMESTAMPOFF};
    int rc = 0;
    rc |= write_one(argv[1], "all_types", NTYPES, all, 12, 0);
    rc |= write_one(argv[1], "all_types_nulls", NTYPES, all, 12, 1);
    rc |= write_one(argv[1], "empty", 3, all, 0, 0);
    rc |= write_one(argv[1], "one_row", NTYPES, all, 1, 0);
    rc |= write_one(argv[1], "wide", 40, all, 5, 1);
    for (int t = 0; t < NTYPES; t++) {
        char name[32];
        snprintf(name, sizeof name, "type%d", (int)all[t]);
        rc |= write_one(argv[1], name, 1, &all[t], 9, t & 1);
    }
    rc |= write_shared_numbers(argv[1]);
    return rc ? 1 : 0;
}
