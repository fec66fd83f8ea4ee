#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *p, *end;
    char *err;
    size_t errlen;
    int depth;
} jp;

static void jerr(jp *j, const char *what)
{
    if (j->err && !j->err[0])
        snprintf(j->err, j->errlen, "%s", what);
}

static void skip_ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static sl_json *parse_value(jp *j);

static char *parse_string(jp *j)
{
    if (j->p >= j->end || *j->p != '"') {
        jerr(j, "expected a string");
        return NULL;
    }
    j->p++;
    sl_buf b = {0};
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p++;
        if (c != '\\') {
            sl_buf_add(&b, &c, 1);
            continue;
        }
        if (j->p >= j->end)
            break;
        char e = *j->p++;
        char out = 0;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            out = e;
            break;
        case 'b':
            out = '\b';
            break;
        case 'f':
            out = '\f';
            break;
        case 'n':
            out = '\n';
            break;
        case 'r':
            out = '\r';
            break;
        case 't':
            out = '\t';
            break;
        case 'u': {
            if (j->end - j->p < 4) {
                jerr(j, "bad \\u escape");
                sl_buf_free(&b);
                return NULL;
            }
            unsigned v = 0;
            for (int i = 0; i < 4; i++) {
                char h = *j->p++;
                v <<= 4;
                if (h >= '0' && h <= '9')
                    v |= (unsigned)(h - '0');
                else if (h >= 'a' && h <= 'f')
                    v |= (unsigned)(h - 'a' + 10);
                else if (h >= 'A' && h <= 'F')
                    v |= (unsigned)(h - 'A' + 10);
                else {
                    jerr(j, "bad \\u escape");
                    sl_buf_free(&b);
                    return NULL;
                }
            }
            unsigned char u[3];
            if (v < 0x80) {
                u[0] = (unsigned char)v;
                sl_buf_add(&b, u, 1);
            } else if (v < 0x800) {
                u[0] = (unsigned char)(0xC0 | (v >> 6));
                u[1] = (unsigned char)(0x80 | (v & 0x3F));
                sl_buf_add(&b, u, 2);
            } else {
                u[0] = (unsigned char)(0xE0 | (v >> 12));
                u[1] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
                u[2] = (unsigned char)(0x80 | (v & 0x3F));
                sl_buf_add(&b, u, 3);
            }
            continue;
        }
        default:
            jerr(j, "bad escape");
            sl_buf_free(&b);
            return NULL;
        }
        sl_buf_add(&b, &out, 1);
    }
    if (j->p >= j->end) {
        jerr(j, "unterminated string");
        sl_buf_free(&b);
        return NULL;
    }
    j->p++;
    char z = 0;
    sl_buf_add(&b, &z, 1);
    if (b.oom) {
        sl_buf_free(&b);
        return NULL;
    }
    return b.p;
}

static int push(sl_json *v, sl_json *item, char *key)
{
    sl_json **items = realloc(v->items, (v->n + 1) * sizeof *items);
    if (!items)
        return -1;
    v->items = items;
    if (v->type == SL_J_OBJ) {
        char **keys = realloc(v->keys, (v->n + 1) * sizeof *keys);
        if (!keys)
            return -1;
        v->keys = keys;
        v->keys[v->n] = key;
    }
    v->items[v->n++] = item;
    return 0;
}

static sl_json *parse_container(jp *j, int obj)
{
    sl_json *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->type = obj ? SL_J_OBJ : SL_J_ARR;
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
        j->p++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(j);
        if (obj) {
            key = parse_string(j);
            if (!key)
                goto fail;
            skip_ws(j);
            if (j->p >= j->end || *j->p != ':') {
                free(key);
                jerr(j, "expected ':'");
                goto fail;
            }
            j->p++;
        }
        sl_json *item = parse_value(j);
        if (!item || push(v, item, key) != 0) {
            free(key);
            sl_json_free(item);
            goto fail;
        }
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
            j->p++;
            return v;
        }
        jerr(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        goto fail;
    }
fail:
    sl_json_free(v);
    return NULL;
}

static sl_json *parse_value(jp *j)
{
    skip_ws(j);
    if (j->p >= j->end) {
        jerr(j, "unexpected end of input");
        return NULL;
    }
    if (++j->depth > 64) {
        jerr(j, "nested too deeply");
        return NULL;
    }
    sl_json *v = NULL;
    char c = *j->p;
    if (c == '{' || c == '[') {
        v = parse_container(j, c == '{');
    } else if (c == '"') {
        char *s = parse_string(j);
        if (s) {
            v = calloc(1, sizeof *v);
            if (v) {
                v->type = SL_J_STR;
                v->str = s;
            } else {
                free(s);
            }
        }
    } else if (j->end - j->p >= 4 && memcmp(j->p, "true", 4) == 0) {
        v = calloc(1, sizeof *v);
        if (v) {
            v->type = SL_J_BOOL;
            v->b = 1;
        }
        j->p += 4;
    } else if (j->end - j->p >= 5 && memcmp(j->p, "false", 5) == 0) {
        v = calloc(1, sizeof *v);
        if (v)
            v->type = SL_J_BOOL;
        j->p += 5;
    } else if (j->end - j->p >= 4 && memcmp(j->p, "null", 4) == 0) {
        v = calloc(1, sizeof *v);
        j->p += 4;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        char tmp[64];
        size_t n = 0;
        while (j->p < j->end && n < sizeof tmp - 1 && strchr("+-0123456789.eE", *j->p))
            tmp[n++] = *j->p++;
        tmp[n] = 0;
        v = calloc(1, sizeof *v);
        if (v) {
            v->type = SL_J_NUM;
            v->num = strtod(tmp, NULL);
        }
    } else {
        jerr(j, "unexpected character");
    }
    j->depth--;
    return v;
}

sl_json *sl_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    jp j = {.p = text, .end = text + len, .err = err, .errlen = errlen};
    sl_json *v = parse_value(&j);
    if (!v) {
        jerr(&j, "out of memory");
        return NULL;
    }
    skip_ws(&j);
    if (j.p != j.end) {
        jerr(&j, "trailing data after JSON value");
        sl_json_free(v);
        return NULL;
    }
    return v;
}

void sl_json_free(sl_json *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        sl_json_free(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

const sl_json *sl_json_get(const sl_json *o, const char *key)
{
    if (!o || o->type != SL_J_OBJ)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0)
            return o->items[i];
    return NULL;
}

const char *sl_json_str(const sl_json *o, const char *key)
{
    const sl_json *v = sl_json_get(o, key);
    return v && v->type == SL_J_STR ? v->str : NULL;
}

double sl_json_num(const sl_json *o, const char *key, double dflt)
{
    const sl_json *v = sl_json_get(o, key);
    return v && v->type == SL_J_NUM ? v->num : dflt;
}

void sl_buf_add(sl_buf *b, const void *p, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
}

void sl_buf_printf(sl_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        sl_buf_add(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sl_buf_add(b, big, (size_t)n);
    free(big);
}

void sl_buf_json_str(sl_buf *b, const char *s, size_t n)
{
    sl_buf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sl_buf_add(b, e, 2);
        } else if (c < 0x20) {
            sl_buf_printf(b, "\\u%04x", c);
        } else {
            sl_buf_add(b, &s[i], 1);
        }
    }
    sl_buf_add(b, "\"", 1);
}

void sl_buf_free(sl_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}
