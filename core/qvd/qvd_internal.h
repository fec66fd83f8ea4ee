/* Internals shared by the QVD reader, writer, type mapping and CLI. */
#ifndef SL_QVD_INTERNAL_H
#define SL_QVD_INTERNAL_H

#include "qvd.h"

#include <stddef.h>
#include <stdint.h>

/* Qlik serial day 0 is 1899-12-30; the Unix epoch is serial 25569. */
#define SL_QVD_EPOCH_SERIAL 25569
#define SL_QVD_US_PER_DAY   86400000000LL

/* Shortest text that strtod reads back as exactly d ("%.17g" at most). Returns its length. */
int sl_qvd_fmt_double(double d, char *buf, size_t len);

/* The calendar and the date/time texts are declared in qvd.h (the core uses them too). */
/* The exact parsers for the writer's texts. Return 0 or -1. */
int sl_qvd_parse_date(const char *s, size_t n, int64_t *days);
int sl_qvd_parse_time(const char *s, size_t n, int64_t *us);
/* "YYYY-MM-DD hh:mm:ss[.ffffff][ +hh:mm|-hh:mm]"; *offmin gets the suffix (0 without one). */
int sl_qvd_parse_timestamp(const char *s, size_t n, int64_t *us, int *offmin);

/* floor division helpers */
int64_t sl_qvd_floordiv(int64_t a, int64_t b);

#endif
