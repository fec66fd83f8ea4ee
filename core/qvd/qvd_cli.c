/* sluice qvd info|cat: inspect QVD files. Usage errors exit 2, unreadable files exit 1. */
#include "qvd_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "sluice qvd: %s\n", msg);
    fprintf(stderr, "usage: sluice qvd info FILE\n"
                    "       sluice qvd cat FILE [--format csv|jsonl] [--limit N] [--null TEXT]\n");
    return 2;
}

static const char *symtype_name(int t)
{
    switch (t) {
    case SL_QVD_SYM_INT:
        return "int";
    case SL_QVD_SYM_DOUBLE:
        return "double";
    case SL_QVD_SYM_STRING:
        return "string";
    case SL_QVD_SYM_DUAL_INT:
        return "dual-int";
    case SL_QVD_SYM_DUAL_DOUBLE:
        return "dual-double";
    }
    return "?";
}

static int cmd_info(const char *path, const sl_qvd_table *t)
{
    printf("file:      %s\n", path);
    printf("table:     %s\n", t->table_name);
    printf("rows:      %" PRIu64 "\n", t->nrecords);
    printf("fields:    %zu\n", t->nfields);
    printf("row bytes: %" PRIu64 "\n", t->record_byte_size);
    printf("created:   %s UTC\n", t->create_utc_time);
    printf("creator:   %s\n", t->creator_doc);
    printf("build:     %s\n", t->qv_build_no);
    for (size_t i = 0; i < t->nlineage; i++) {
        fputs("lineage:   ", stdout);
        for (const char *c = t->lineage[i]; *c; c++) /* one line each: CR/LF shown as spaces */
            putchar(*c == '\r' || *c == '\n' ? ' ' : *c);
        putchar('\n');
    }
    if (t->comment[0])
        printf("comment:   %s\n", t->comment);
    printf("%-4s %-24s %-10s %10s %6s %5s %5s  %-22s %s\n", "#", "field", "format", "symbols",
           "bitoff", "width", "bias", "symbol types", "tags");
    for (size_t i = 0; i < t->nfields; i++) {
        const sl_qvd_field *f = &t->fields[i];
        uint64_t cnt[7] = {0};
        for (uint64_t k = 0; k < f->nsymbols; k++)
            cnt[f->symbols[k].type]++;
        char types[64] = "", tags[256] = "";
        size_t n = 0;
        for (int ty = 1; ty <= 6; ty++)
            if (cnt[ty])
                n += (size_t)snprintf(types + n, sizeof types - n, "%s%s", n ? "," : "",
                                      symtype_name(ty));
        n = 0;
        for (size_t k = 0; k < f->ntags && n < sizeof tags; k++)
            n += (size_t)snprintf(tags + n, sizeof tags - n, "%s%s", k ? "," : "", f->tags[k]);
        printf("%-4zu %-24s %-10s %10" PRIu64 " %6u %5u %5d  %-22s %s\n", i, f->name,
               f->numfmt.type, f->nsymbols, f->bit_offset, f->bit_width, f->bias,
               types[0] ? types : "-", tags);
    }
    return 0;
}

/* Display text of a symbol as Qlik shows it: the text of duals, numbers shortest round-trip. */
static const char *display(const sl_qvd_symbol *s, char *buf, size_t len, size_t *n)
{
    switch (s->type) {
    case SL_QVD_SYM_INT:
        *n = (size_t)snprintf(buf, len, "%" PRId32, s->i);
        return buf;
    case SL_QVD_SYM_DOUBLE:
        *n = (size_t)sl_qvd_fmt_double(s->d, buf, len);
        return buf;
    default:
        *n = s->slen;
        return s->s;
    }
}

static void csv_cell(const char *s, size_t n)
{
    int quote = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n') {
            quote = 1;
            break;
        }
    if (!quote) {
        fwrite(s, 1, n, stdout);
        return;
    }
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            putchar('"');
        putchar(s[i]);
    }
    putchar('"');
}

static void json_str(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            putchar('\\');
            putchar(c);
        } else if (c == '\n') {
            fputs("\\n", stdout);
        } else if (c == '\r') {
            fputs("\\r", stdout);
        } else if (c == '\t') {
            fputs("\\t", stdout);
        } else if (c < 0x20) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
    }
    putchar('"');
}

/* RFC 8259 number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int is_json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return 0;
    if (s[i] == '0')
        i++;
    else if (s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return 0;
    if (i < n && s[i] == '.') {
        size_t st = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == st)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t st = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == st)
            return 0;
    }
    return i == n;
}

static void json_cell(const sl_qvd_symbol *s)
{
    char buf[64];
    size_t n;
    const char *d = display(s, buf, sizeof buf, &n);
    if (s->type == SL_QVD_SYM_STRING) {
        json_str(d, n);
    } else if (s->type == SL_QVD_SYM_INT || (s->type == SL_QVD_SYM_DOUBLE && isfinite(s->d))) {
        fwrite(d, 1, n, stdout);
    } else if ((s->type == SL_QVD_SYM_DUAL_INT || s->type == SL_QVD_SYM_DUAL_DOUBLE) &&
               is_json_number(d, n)) {
        fwrite(d, 1, n, stdout); /* a dual whose text is a plain number stays a number */
    } else {
        json_str(d, n);
    }
}

static int cmd_cat(const sl_qvd_table *t, int jsonl, uint64_t limit, const char *null_text)
{
    char buf[64];
    size_t n;
    if (!jsonl) {
        for (size_t f = 0; f < t->nfields; f++) {
            if (f)
                putchar(',');
            csv_cell(t->fields[f].name, strlen(t->fields[f].name));
        }
        fputs("\r\n", stdout);
    }
    for (uint64_t r = 0; r < t->nrecords && r < limit; r++) {
        if (jsonl)
            putchar('{');
        for (size_t f = 0; f < t->nfields; f++) {
            const sl_qvd_symbol *s = sl_qvd_cell(t, r, f);
            if (jsonl) {
                if (f)
                    putchar(',');
                json_str(t->fields[f].name, strlen(t->fields[f].name));
                putchar(':');
                if (s)
                    json_cell(s);
                else
                    fputs("null", stdout);
            } else {
                if (f)
                    putchar(',');
                if (s) {
                    const char *d = display(s, buf, sizeof buf, &n);
                    csv_cell(d, n);
                } else {
                    csv_cell(null_text, strlen(null_text));
                }
            }
        }
        fputs(jsonl ? "}\n" : "\r\n", stdout);
    }
    return 0;
}

int sl_cli_qvd(int argc, char **argv)
{
    if (argc < 2)
        return usage(NULL);
    const char *cmd = argv[1];
    int is_info = strcmp(cmd, "info") == 0, is_cat = strcmp(cmd, "cat") == 0;
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(NULL);
        return 0;
    }
    if (!is_info && !is_cat)
        return usage("unknown command (expected info or cat)");
    const char *path = NULL, *null_text = "";
    int jsonl = 0;
    uint64_t limit = UINT64_MAX;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (is_cat && strcmp(a, "--format") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "csv") == 0)
                jsonl = 0;
            else if (strcmp(v, "jsonl") == 0)
                jsonl = 1;
            else
                return usage("--format must be csv or jsonl");
        } else if (is_cat && strcmp(a, "--limit") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (errno || *end || !argv[i][0] || argv[i][0] == '-')
                return usage("--limit needs a non-negative integer");
            limit = v;
        } else if (is_cat && strcmp(a, "--null") == 0 && i + 1 < argc) {
            null_text = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return usage("unknown option or missing value");
        } else if (!path) {
            path = a;
        } else {
            return usage("too many arguments");
        }
    }
    if (!path)
        return usage("missing FILE");
    char err[256];
    sl_qvd_table *t = sl_qvd_read_file(path, err, sizeof err);
    if (!t) {
        fprintf(stderr, "sluice qvd: %s: %s\n", path, err);
        return 1;
    }
    int rc = is_info ? cmd_info(path, t) : cmd_cat(t, jsonl, limit, null_text);
    sl_qvd_table_free(t);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "sluice qvd: writing output: %s\n", strerror(errno));
        return 1;
    }
    return rc;
}
