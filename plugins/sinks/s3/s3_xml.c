/* Just enough XML for S3's answers (ListObjectsV2, InitiateMultipartUpload, errors): elements
 * are found by name and their text is entity-decoded. S3 documents are flat and machine-made. */
#include "s3.h"

#include <stdlib.h>
#include <string.h>

static const char *find(const char *p, const char *end, const char *s)
{
    size_t n = strlen(s);
    while (p && p + n <= end) {
        const char *q = memchr(p, s[0], (size_t)(end - p));
        if (!q || q + n > end) {
            return NULL;
        }
        if (memcmp(q, s, n) == 0) {
            return q;
        }
        p = q + 1;
    }
    return NULL;
}

int sl_s3_xml_elem(const char *p, const char *end, const char *tag, const char **in_start,
                   const char **in_end)
{
    char open[80], close[80];
    size_t tl = strlen(tag);
    if (tl + 4 > sizeof open) {
        return 0;
    }
    memcpy(open, "<", 1);
    memcpy(open + 1, tag, tl);
    open[tl + 1] = '\0';
    memcpy(close, "</", 2);
    memcpy(close + 2, tag, tl);
    memcpy(close + 2 + tl, ">", 2);
    const char *q = p;
    for (;;) {
        q = find(q, end, open);
        if (!q) {
            return 0;
        }
        const char *after = q + tl + 1;
        if (after < end && (*after == '>' || *after == ' ')) {
            const char *gt = memchr(after, '>', (size_t)(end - after));
            if (!gt) {
                return 0;
            }
            if (gt[-1] == '/') { /* <Tag/> */
                *in_start = *in_end = gt + 1;
                return 1;
            }
            const char *c = find(gt + 1, end, close);
            if (!c) {
                return 0;
            }
            *in_start = gt + 1;
            *in_end = c;
            return 1;
        }
        q = after;
    }
}

char *sl_s3_xml_get(const char *p, const char *end, const char *tag, const char **next)
{
    const char *a, *b;
    if (!sl_s3_xml_elem(p, end, tag, &a, &b)) {
        return NULL;
    }
    if (next) {
        *next = b + strlen(tag) + 3;
    }
    char *out = malloc((size_t)(b - a) + 1);
    if (!out) {
        return NULL;
    }
    size_t n = 0;
    while (a < b) {
        if (*a != '&') {
            out[n++] = *a++;
            continue;
        }
        const char *semi = memchr(a, ';', (size_t)(b - a));
        size_t el = semi ? (size_t)(semi - a) + 1 : 0;
        static const struct {
            const char *ent;
            char c;
        } ents[] = {
            {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
        int done = 0;
        for (size_t i = 0; semi && i < sizeof ents / sizeof ents[0]; i++) {
            if (el == strlen(ents[i].ent) && memcmp(a, ents[i].ent, el) == 0) {
                out[n++] = ents[i].c;
                a += el;
                done = 1;
                break;
            }
        }
        if (!done && semi && el > 3 && a[1] == '#') {
            unsigned long cp = a[2] == 'x' ? strtoul(a + 3, NULL, 16) : strtoul(a + 2, NULL, 10);
            /* UTF-8 encode; S3 uses numeric references for control characters in keys */
            if (cp < 0x80) {
                out[n++] = (char)cp;
            } else if (cp < 0x800 && el >= 4) {
                out[n++] = (char)(0xC0 | (cp >> 6));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000 && el >= 5) {
                out[n++] = (char)(0xE0 | (cp >> 12));
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            } else if (el >= 6) {
                out[n++] = (char)(0xF0 | (cp >> 18));
                out[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            }
            a += el;
            done = 1;
        }
        if (!done) {
            out[n++] = *a++;
        }
    }
    out[n] = '\0';
    return out;
}
