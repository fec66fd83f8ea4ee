/* Key positions in a job file's text; see job_scan.h. Follows Lua's lexical rules only as far as
 * needed to not mistake comments and string contents for keys. */
#include "job_scan.h"

#include <stdlib.h>
#include <string.h>

static int sc_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int sc_alnum(char c)
{
    return sc_alpha(c) || (c >= '0' && c <= '9');
}

static void sc_add(sl_scan *s, const char *name, size_t len, int line)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        sl_scan_key *k = realloc(s->keys, cap * sizeof *k);
        if (!k) {
            return;
        }
        s->keys = k;
        s->cap = cap;
    }
    s->keys[s->n++] = (sl_scan_key){name, len, line};
}

/* At '[': the level of a long bracket "[==[" or -1. */
static int sc_long_open(const char *t, size_t len, size_t i)
{
    size_t j = i + 1;
    while (j < len && t[j] == '=') {
        j++;
    }
    return j < len && t[j] == '[' ? (int)(j - i - 1) : -1;
}

/* Skips a long bracket of the given level starting at i; returns the index after it. */
static size_t sc_skip_long(const char *t, size_t len, size_t i, int level, int *line)
{
    i += (size_t)level + 2;
    while (i < len) {
        if (t[i] == '\n') {
            (*line)++;
        } else if (t[i] == ']') {
            size_t j = i + 1;
            while (j < len && t[j] == '=') {
                j++;
            }
            if (j < len && t[j] == ']' && (int)(j - i - 1) == level) {
                return j + 1;
            }
        }
        i++;
    }
    return len;
}

/* After a key candidate at i: whitespace then a single '=' (not "==")? */
static int sc_assign_follows(const char *t, size_t len, size_t i)
{
    while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) {
        i++;
    }
    return i < len && t[i] == '=' && (i + 1 >= len || t[i + 1] != '=');
}

void sl_scan_text(sl_scan *s, const char *t, size_t len)
{
    memset(s, 0, sizeof *s);
    int line = 1;
    int after_bracket = 0; /* previous token was a single '[' */
    size_t i = 0;
    while (i < len) {
        char c = t[i];
        if (c == '\n') {
            line++;
            i++;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            i++;
            continue;
        }
        if (!(c == '-' && i + 1 < len && t[i + 1] == '-')) {
            s->last_token = line;
        }
        int was_bracket = after_bracket;
        after_bracket = 0;
        if (c == '-' && i + 1 < len && t[i + 1] == '-') {
            i += 2;
            int level = i < len && t[i] == '[' ? sc_long_open(t, len, i) : -1;
            if (level >= 0) {
                i = sc_skip_long(t, len, i, level, &line);
            } else {
                while (i < len && t[i] != '\n') {
                    i++;
                }
            }
        } else if (c == '[') {
            int level = sc_long_open(t, len, i);
            if (level >= 0) {
                i = sc_skip_long(t, len, i, level, &line);
            } else {
                after_bracket = 1;
                i++;
            }
        } else if (c == '"' || c == '\'') {
            int start_line = line;
            size_t start = ++i;
            while (i < len && t[i] != c && t[i] != '\n') {
                if (t[i] == '\\' && i + 1 < len) {
                    if (t[i + 1] == '\n') {
                        line++;
                    }
                    i++;
                }
                i++;
            }
            size_t end = i;
            if (i < len && t[i] == c) {
                i++;
            }
            /* ["key"] = value */
            if (was_bracket) {
                size_t j = i;
                while (j < len && (t[j] == ' ' || t[j] == '\t')) {
                    j++;
                }
                if (j < len && t[j] == ']' && sc_assign_follows(t, len, j + 1)) {
                    sc_add(s, t + start, end - start, start_line);
                }
            }
        } else if (sc_alpha(c)) {
            size_t start = i;
            while (i < len && sc_alnum(t[i])) {
                i++;
            }
            if (i - start == 6 && memcmp(t + start, "return", 6) == 0) {
                s->last_return = line;
            } else if (sc_assign_follows(t, len, i)) {
                sc_add(s, t + start, i - start, line);
            }
        } else if (c >= '0' && c <= '9') {
            /* Numbers, including 1e+5 and 0x1p-3: never keys. */
            while (i < len &&
                   (sc_alnum(t[i]) || t[i] == '.' ||
                    ((t[i] == '+' || t[i] == '-') &&
                     (t[i - 1] == 'e' || t[i - 1] == 'E' || t[i - 1] == 'p' || t[i - 1] == 'P')))) {
                i++;
            }
        } else {
            i++;
        }
    }
    s->last_line = line;
}

int sl_scan_find(const sl_scan *s, const char *name, int from, size_t nth)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < s->n; i++) {
        const sl_scan_key *k = &s->keys[i];
        if (k->line >= from && k->len == nl && memcmp(k->name, name, nl) == 0) {
            if (nth == 0) {
                return k->line;
            }
            nth--;
        }
    }
    return 0;
}

void sl_scan_free(sl_scan *s)
{
    free(s->keys);
    memset(s, 0, sizeof *s);
}
