/* Tiny non-validating XML parser for QVD headers (see qvd_xml.h). Iterative, bounded depth. */
#include "qvd_xml.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SL_XML_MAX_DEPTH 64

typedef struct {
    const char *p, *end;
    char *err;
    size_t errlen;
} sl_xml_in;

static void xerr(sl_xml_in *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void xerr(sl_xml_in *in, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(in->err, in->errlen, fmt, ap);
    va_end(ap);
    /* names from files may hold CR/LF: keep the message on one line */
    for (char *c = in->err; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = '?';
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_name_char(char c)
{
    return !is_ws(c) && c != '>' && c != '/' && c != '=' && c != '<' && c != '"' && c != '\'' &&
           c != '\0';
}

static const char *find(const char *p, const char *end, const char *s)
{
    size_t n = strlen(s);
    while ((size_t)(end - p) >= n) {
        if (memcmp(p, s, n) == 0)
            return p;
        p++;
    }
    return NULL;
}

/* Appends [s, s+n) to the node's text. */
static int text_add(sl_xml_node *n, size_t *cap, const char *s, size_t len)
{
    if (n->textlen + len + 1 > *cap) {
        size_t c = *cap ? *cap : 16;
        while (c < n->textlen + len + 1)
            c *= 2;
        char *t = realloc(n->text, c);
        if (!t)
            return -1;
        n->text = t;
        *cap = c;
    }
    memcpy(n->text + n->textlen, s, len);
    n->textlen += len;
    n->text[n->textlen] = '\0';
    return 0;
}

static size_t utf8_put(unsigned long cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes character data [s, e) with entities into n's text. */
static int text_decode(sl_xml_in *in, sl_xml_node *n, size_t *cap, const char *s, const char *e)
{
    while (s < e) {
        const char *amp = memchr(s, '&', (size_t)(e - s));
        if (!amp)
            return text_add(n, cap, s, (size_t)(e - s));
        if (text_add(n, cap, s, (size_t)(amp - s)) != 0)
            return -1;
        const char *semi = memchr(amp, ';', (size_t)(e - amp));
        if (!semi || semi - amp > 12) {
            xerr(in, "bad XML entity");
            return -1;
        }
        const char *nm = amp + 1;
        size_t nl = (size_t)(semi - nm);
        char buf[4];
        size_t bl = 0;
        if (nl == 2 && memcmp(nm, "lt", 2) == 0)
            buf[bl++] = '<';
        else if (nl == 2 && memcmp(nm, "gt", 2) == 0)
            buf[bl++] = '>';
        else if (nl == 3 && memcmp(nm, "amp", 3) == 0)
            buf[bl++] = '&';
        else if (nl == 4 && memcmp(nm, "quot", 4) == 0)
            buf[bl++] = '"';
        else if (nl == 4 && memcmp(nm, "apos", 4) == 0)
            buf[bl++] = '\'';
        else if (nl >= 2 && nm[0] == '#') {
            unsigned long cp = 0;
            int hex = nm[1] == 'x' || nm[1] == 'X';
            const char *d = nm + 1 + hex;
            if (d == semi) {
                xerr(in, "bad XML character reference");
                return -1;
            }
            for (; d < semi; d++) {
                int v;
                if (*d >= '0' && *d <= '9')
                    v = *d - '0';
                else if (hex && *d >= 'a' && *d <= 'f')
                    v = *d - 'a' + 10;
                else if (hex && *d >= 'A' && *d <= 'F')
                    v = *d - 'A' + 10;
                else {
                    xerr(in, "bad XML character reference");
                    return -1;
                }
                cp = cp * (hex ? 16u : 10u) + (unsigned long)v;
                if (cp > 0x10FFFF) {
                    xerr(in, "bad XML character reference");
                    return -1;
                }
            }
            if (cp == 0) {
                xerr(in, "bad XML character reference");
                return -1;
            }
            bl = utf8_put(cp, buf);
        } else {
            xerr(in, "unknown XML entity");
            return -1;
        }
        if (text_add(n, cap, buf, bl) != 0)
            return -1;
        s = semi + 1;
    }
    return 0;
}

void sl_xml_free(sl_xml_node *n)
{
    /* Iterative post-order walk: no recursion on hostile depth or long sibling lists. */
    while (n) {
        if (n->first) {
            sl_xml_node *c = n->first;
            n->first = NULL;
            n = c;
            continue;
        }
        sl_xml_node *next = n->next ? n->next : n->parent;
        free(n->name);
        free(n->text);
        free(n);
        n = next;
    }
}

sl_xml_node *sl_xml_parse(const char *p, size_t len, char *err, size_t errlen)
{
    sl_xml_in in = {p, p + len, err, errlen};
    sl_xml_node *root = NULL, *cur = NULL, *last_child = NULL;
    size_t cap = 0; /* text capacity of cur */
    int depth = 0, done = 0;
    /* Per-level text capacity and last child, so appends stay linear. */
    size_t caps[SL_XML_MAX_DEPTH + 1];
    sl_xml_node *lasts[SL_XML_MAX_DEPTH + 1];
    const char *s = in.p;
    err[0] = '\0';

    while (s < in.end) {
        if (*s != '<') {
            const char *lt = memchr(s, '<', (size_t)(in.end - s));
            const char *e = lt ? lt : in.end;
            if (!cur) {
                for (const char *q = s; q < e; q++)
                    if (!is_ws(*q)) {
                        xerr(&in, "text outside the root element");
                        goto fail;
                    }
            } else if (text_decode(&in, cur, &cap, s, e) != 0) {
                goto fail_oom;
            }
            s = e;
            continue;
        }
        if (in.end - s >= 2 && s[1] == '?') {
            const char *e = find(s + 2, in.end, "?>");
            if (!e) {
                xerr(&in, "unterminated XML declaration");
                goto fail;
            }
            s = e + 2;
            continue;
        }
        if (in.end - s >= 4 && memcmp(s, "<!--", 4) == 0) {
            const char *e = find(s + 4, in.end, "-->");
            if (!e) {
                xerr(&in, "unterminated XML comment");
                goto fail;
            }
            s = e + 3;
            continue;
        }
        if (in.end - s >= 9 && memcmp(s, "<![CDATA[", 9) == 0) {
            const char *e = find(s + 9, in.end, "]]>");
            if (!e || !cur) {
                xerr(&in, "bad CDATA section");
                goto fail;
            }
            if (text_add(cur, &cap, s + 9, (size_t)(e - (s + 9))) != 0)
                goto fail_oom;
            s = e + 3;
            continue;
        }
        if (in.end - s >= 2 && s[1] == '!') {
            const char *e = memchr(s, '>', (size_t)(in.end - s));
            if (!e) {
                xerr(&in, "unterminated XML markup");
                goto fail;
            }
            s = e + 1;
            continue;
        }
        if (in.end - s >= 2 && s[1] == '/') {
            const char *n = s + 2, *q = n;
            while (q < in.end && is_name_char(*q))
                q++;
            if (!cur) {
                xerr(&in, "unexpected closing tag");
                goto fail;
            }
            if ((size_t)(q - n) != strlen(cur->name) ||
                memcmp(n, cur->name, (size_t)(q - n)) != 0) {
                xerr(&in, "mismatched closing tag for <%.40s>", cur->name);
                goto fail;
            }
            while (q < in.end && is_ws(*q))
                q++;
            if (q >= in.end || *q != '>') {
                xerr(&in, "bad closing tag </%.40s>", cur->name);
                goto fail;
            }
            s = q + 1;
            cur = cur->parent;
            depth--;
            if (!cur)
                done = 1;
            else {
                cap = caps[depth];
                last_child = lasts[depth];
            }
            continue;
        }
        /* start tag */
        const char *n = s + 1, *q = n;
        while (q < in.end && is_name_char(*q))
            q++;
        if (q == n) {
            xerr(&in, "bad XML tag");
            goto fail;
        }
        if (done) {
            xerr(&in, "content after the root element");
            goto fail;
        }
        /* skip attributes, honouring quotes */
        const char *a = q;
        char quote = 0;
        while (a < in.end && (quote || (*a != '>'))) {
            if (quote) {
                if (*a == quote)
                    quote = 0;
            } else if (*a == '"' || *a == '\'') {
                quote = *a;
            } else if (*a == '<') {
                break;
            }
            a++;
        }
        if (a >= in.end || *a != '>') {
            xerr(&in, "unterminated tag <%.*s>", (int)((q - n) > 40 ? 40 : (q - n)), n);
            goto fail;
        }
        int selfclose = a > q && a[-1] == '/';
        if (depth >= SL_XML_MAX_DEPTH) {
            xerr(&in, "XML nested too deeply");
            goto fail;
        }
        sl_xml_node *node = calloc(1, sizeof *node);
        if (!node)
            goto fail_oom;
        node->name = strndup(n, (size_t)(q - n));
        node->text = calloc(1, 1);
        if (!node->name || !node->text) {
            free(node->name);
            free(node->text);
            free(node);
            goto fail_oom;
        }
        node->parent = cur;
        if (!cur) {
            root = node;
        } else {
            if (last_child)
                last_child->next = node;
            else
                cur->first = node;
            last_child = node;
        }
        s = a + 1;
        if (selfclose) {
            if (!cur)
                done = 1;
            continue;
        }
        if (cur) {
            caps[depth] = cap;
            lasts[depth] = last_child;
        }
        depth++;
        cur = node;
        cap = 1;
        last_child = NULL;
    }
    if (!root) {
        xerr(&in, "no XML root element");
        goto fail;
    }
    if (cur) {
        xerr(&in, "unclosed XML element <%.40s>", cur->name);
        goto fail;
    }
    return root;
fail_oom:
    if (!err[0])
        xerr(&in, "out of memory parsing the XML header");
fail:
    sl_xml_free(root);
    return NULL;
}

sl_xml_node *sl_xml_child(const sl_xml_node *n, const char *name)
{
    for (sl_xml_node *c = n ? n->first : NULL; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

const char *sl_xml_child_text(const sl_xml_node *n, const char *name)
{
    sl_xml_node *c = sl_xml_child(n, name);
    return c ? c->text : NULL;
}

size_t sl_xml_char(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ? 0xFFFD : c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (n < len) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = v << 6 | (s[i] & 0x3F);
    }
    /* overlong forms, surrogates, beyond U+10FFFF, and the two non-characters XML excludes */
    if (v < min || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF || v == 0xFFFE || v == 0xFFFF) {
        *cp = 0xFFFD;
        return v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) ? 1 : len;
    }
    *cp = v;
    return len;
}
