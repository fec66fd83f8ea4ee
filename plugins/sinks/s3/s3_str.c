#include "s3_str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(sl_s3_str *s, size_t extra)
{
    if (s->oom) {
        return -1;
    }
    if (s->len + extra + 1 <= s->cap) {
        return 0;
    }
    size_t cap = s->cap ? s->cap : 64;
    while (cap < s->len + extra + 1) {
        cap *= 2;
    }
    char *p = realloc(s->p, cap);
    if (!p) {
        s->oom = 1;
        return -1;
    }
    s->p = p;
    s->cap = cap;
    return 0;
}

void sl_s3_str_add(sl_s3_str *s, const void *p, size_t n)
{
    if (reserve(s, n) != 0) {
        return;
    }
    if (n) {
        memcpy(s->p + s->len, p, n);
    }
    s->len += n;
    s->p[s->len] = '\0';
}

void sl_s3_str_cat(sl_s3_str *s, const char *z)
{
    sl_s3_str_add(s, z, strlen(z));
}

void sl_s3_str_printf(sl_s3_str *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(s, (size_t)n) != 0) {
        s->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(s->p + s->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

void sl_s3_str_reset(sl_s3_str *s)
{
    s->len = 0;
    if (s->p) {
        s->p[0] = '\0';
    }
}

void sl_s3_str_free(sl_s3_str *s)
{
    free(s->p);
    memset(s, 0, sizeof *s);
}

char *sl_s3_str_take(sl_s3_str *s)
{
    char *p = NULL;
    if (!s->oom) {
        if (reserve(s, 0) == 0) {
            p = s->p;
            s->p = NULL;
        }
    }
    sl_s3_str_free(s);
    return p;
}
