/* A small JSON reader/writer for the engine's own metadata (the manifest). Not a general-purpose
 * library: no surrogate-pair decoding beyond the BMP, numbers as double. */
#ifndef SL_JSON_H
#define SL_JSON_H

#include <stddef.h>

typedef enum { SL_J_NULL, SL_J_BOOL, SL_J_NUM, SL_J_STR, SL_J_ARR, SL_J_OBJ } sl_jtype;

typedef struct sl_json {
    sl_jtype type;
    double num;
    int b;
    char *str;              /* STR */
    struct sl_json **items; /* ARR values, OBJ values */
    char **keys;            /* OBJ keys */
    size_t n;
} sl_json;

sl_json *sl_json_parse(const char *text, size_t len, char *err, size_t errlen);
void sl_json_free(sl_json *j);
const sl_json *sl_json_get(const sl_json *obj, const char *key);
const char *sl_json_str(const sl_json *obj, const char *key); /* NULL unless a string */
double sl_json_num(const sl_json *obj, const char *key, double dflt);

/* Growing output buffer with JSON string escaping. */
typedef struct sl_buf {
    char *p;
    size_t len, cap;
    int oom;
} sl_buf;

void sl_buf_add(sl_buf *b, const void *p, size_t n);
void sl_buf_printf(sl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sl_buf_json_str(sl_buf *b, const char *s, size_t n);
void sl_buf_free(sl_buf *b);

#endif
