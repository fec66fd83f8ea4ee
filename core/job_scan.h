/* A light lexer over a job file's text that finds where keys are written ("bucket =" or
 * ["bucket"] =), skipping comments and strings, so errors about values can name the line where
 * the key is, even for plain tables. Best effort: a table built by code may have no such line. */
#ifndef SL_JOB_SCAN_H
#define SL_JOB_SCAN_H

#include <stddef.h>

typedef struct sl_scan_key {
    const char *name; /* points into the scanned text */
    size_t len;
    int line;
} sl_scan_key;

typedef struct sl_scan {
    sl_scan_key *keys; /* in text order */
    size_t n, cap;
    int last_return; /* line of the last "return" keyword, 0 if none */
    int last_line;   /* number of lines */
    int last_token;  /* line of the last token that is not a comment, 0 if none */
} sl_scan;

/* Never fails: on allocation failure fewer keys are recorded. text must outlive the scan. */
void sl_scan_text(sl_scan *s, const char *text, size_t len);
/* Line of the nth (0-based) key named name at or after line from; 0 if none. */
int sl_scan_find(const sl_scan *s, const char *name, int from, size_t nth);
void sl_scan_free(sl_scan *s);

#endif
