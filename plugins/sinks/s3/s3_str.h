/* Growable byte string used across the s3 sink. An allocation failure sets oom and turns every
 * later append into a no-op, so callers check once at the end. */
#ifndef SL_S3_STR_H
#define SL_S3_STR_H

#include <stddef.h>

typedef struct sl_s3_str {
    char *p; /* NUL-terminated when not NULL */
    size_t len;
    size_t cap;
    int oom;
} sl_s3_str;

void sl_s3_str_add(sl_s3_str *s, const void *p, size_t n);
void sl_s3_str_cat(sl_s3_str *s, const char *z);
void sl_s3_str_printf(sl_s3_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sl_s3_str_reset(sl_s3_str *s); /* len = 0, keeps the memory */
void sl_s3_str_free(sl_s3_str *s);
/* Hands the buffer to the caller (NULL after an allocation failure) and empties s. */
char *sl_s3_str_take(sl_s3_str *s);

#endif
