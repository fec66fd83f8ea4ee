/* Internals shared by the QVD reader, writer, type mapping and CLI. */
#ifndef SL_QVD_INTERNAL_H
#define SL_QVD_INTERNAL_H

#include "qvd.h"

#include <stddef.h>
#include <stdint.h>

/* Qlik serial day 0 is 1899-12-30; the Unix epoch is serial 25569. */
#define SL_QVD_EPOCH_SERIAL 25569
#define SL_QVD_US_PER_DAY   86400000000LL

/* Shortest text that strtod reads back as exactly d, in plain notation for 1e-6 <= |d| < 1e21
 * ("10", "670", "0.1"), else "1e+21" / "5e-324"; "NaN", "+Inf", "-Inf". Returns its length. */
int sl_qvd_fmt_double(double d, char *buf, size_t len);

/* The calendar and the date/time texts are declared in qvd.h (the core uses them too). */
/* The exact parsers for the writer's texts. Return 0 or -1. */
int sl_qvd_parse_date(const char *s, size_t n, int64_t *days);
int sl_qvd_parse_time(const char *s, size_t n, int64_t *us);
/* "YYYY-MM-DD hh:mm:ss[.ffffff][ ][+|-]hh:mm[:ss]" ('T' also separates date and time); *us is
 * the wall clock the text shows, *offsec the suffix in seconds east of UTC (0 without one) and
 * *has_off whether there was one (may be NULL). */
int sl_qvd_parse_timestamp(const char *s, size_t n, int64_t *us, int *offsec, int *has_off);

/* floor division helpers */
int64_t sl_qvd_floordiv(int64_t a, int64_t b);

#endif
