/* Row text: one line per row, "<ns>.<table>|<op>|<cell>...", for recording and for tests that
 * write their input rows by hand (format in sluice/testhost.h). */
#include "th_int.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char op_chars[] = "SIUDT";

/* Shortest text that reads back to the same double; NaN and infinities spelled as PostgreSQL
 * does, integral values without a point. */
static void f64_text(double v, char *buf, size_t len)
{
    if (isnan(v))
        snprintf(buf, len, "NaN");
    else if (isinf(v))
        snprintf(buf, len, v > 0 ? "Infinity" : "-Infinity");
    else if (v == trunc(v) && fabs(v) < 1e15)
        snprintf(buf, len, "%.0f", v);
    else
        for (int p = 1; p <= 17; p++) {
            snprintf(buf, len, "%.*g", p, v);
            if (strtod(buf, NULL) == v)
                break;
        }
}

static void cell_text(FILE *f, sl_type type, const sl_value *v)
{
    char buf[64];
    if (v->flag == SL_CELL_NULL) {
        fputs("\\N", f);
        return;
    }
    if (v->flag == SL_CELL_UNCHANGED) {
        fputs("\\U", f);
        return;
    }
    switch (type) {
    case SL_T_DOUBLE:
        f64_text(v->f, buf, sizeof buf);
        fputs(buf, f);
        break;
    case SL_T_UINT64:
        fprintf(f, "%" PRIu64, (uint64_t)v->i);
        break;
    case SL_T_TIMESTAMPOFF:
        fprintf(f, "%" PRId64 "@%" PRId32, v->i, v->aux);
        break;
    case SL_T_BINARY:
        for (size_t i = 0; i < v->len; i++)
            fprintf(f, "%02x", (unsigned char)v->p[i]);
        break;
    case SL_T_STRING:
    case SL_T_DECIMAL:
        if (v->len)
            fwrite(v->p, 1, v->len, f);
        break;
    default:
        fprintf(f, "%" PRId64, v->i);
        break;
    }
}

char *th_row_dup(const sl_batch *b, size_t row)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        abort();
    const sl_schema *s = b->schema;
    sl_op op = (sl_op)b->ops[row];
    fprintf(f, "%s.%s|%c", s->ns, s->name, op <= SL_OP_TRUNCATE ? op_chars[op] : '?');
    if (op != SL_OP_TRUNCATE)
        for (uint32_t c = 0; c < s->ncols; c++) {
            sl_value v;
            sl_batch_get(b, row, c, &v);
            fputc('|', f);
            cell_text(f, SL_SCHEMA_COL(s, c)->type, &v);
        }
    fclose(f);
    return out;
}

int th_row_text(const sl_batch *b, size_t row, char *out, size_t outlen)
{
    if (row >= b->nrows) {
        if (outlen)
            out[0] = 0;
        return -1;
    }
    char *s = th_row_dup(b, row);
    int n = snprintf(out, outlen, "%s", s);
    free(s);
    return n;
}

int sl_th_row_text(const sl_batch *b, size_t row, char *out, size_t outlen)
{
    return th_row_text(b, row, out, outlen);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* One cell of text into the current row. 0, or -1 with what. */
static int set_cell(sl_batch *b, uint32_t col, const char *p, size_t len, const char **what)
{
    sl_type type = SL_SCHEMA_COL(b->schema, col)->type;
    if (len == 2 && p[0] == '\\' && (p[1] == 'N' || p[1] == 'U')) {
        if (p[1] == 'N')
            sl_batch_set_null(b, col);
        else
            sl_batch_set_unchanged(b, col);
        return 0;
    }
    char tmp[64];
    if (!sl_type_is_var(type)) {
        if (len >= sizeof tmp) {
            *what = "number too long";
            return -1;
        }
        memcpy(tmp, p, len);
        tmp[len] = 0;
    }
    char *end = NULL;
    errno = 0;
    switch (type) {
    case SL_T_STRING:
    case SL_T_DECIMAL:
        return sl_batch_set_bytes(b, col, p, len) == 0 ? 0 : (*what = "out of memory", -1);
    case SL_T_BINARY: {
        if (len % 2) {
            *what = "odd number of hex digits";
            return -1;
        }
        unsigned char *buf = th_alloc(len / 2 + 1);
        for (size_t i = 0; i < len / 2; i++) {
            int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                free(buf);
                *what = "not hex";
                return -1;
            }
            buf[i] = (unsigned char)(hi * 16 + lo);
        }
        int rc = sl_batch_set_bytes(b, col, buf, len / 2);
        free(buf);
        return rc;
    }
    case SL_T_DOUBLE: {
        double d = strtod(tmp, &end);
        if (!*tmp || *end) {
            *what = "not a number";
            return -1;
        }
        sl_batch_set_f64(b, col, d);
        return 0;
    }
    case SL_T_UINT64: {
        unsigned long long u = strtoull(tmp, &end, 10);
        if (!*tmp || *end || errno || tmp[0] == '-') {
            *what = "not an unsigned integer";
            return -1;
        }
        sl_batch_set_i64(b, col, (int64_t)u);
        return 0;
    }
    case SL_T_TIMESTAMPOFF: {
        long long us = strtoll(tmp, &end, 10);
        if (*end != '@') {
            *what = "not <utc_us>@<offset_s>";
            return -1;
        }
        long off = strtol(end + 1, &end, 10);
        if (*end || errno) {
            *what = "not <utc_us>@<offset_s>";
            return -1;
        }
        sl_batch_set_tsoff(b, col, us, (int32_t)off);
        return 0;
    }
    default: {
        long long v = strtoll(tmp, &end, 10);
        if (!*tmp || *end || errno) {
            *what = "not an integer";
            return -1;
        }
        sl_batch_set_i64(b, col, v);
        return 0;
    }
    }
}

int sl_th_batch_add(sl_th *t, sl_batch *b, const char *lines)
{
    const char *line = lines;
    int lineno = 0;
    while (line && *line) {
        size_t llen = strcspn(line, "\n");
        lineno++;
        if (llen == 0) {
            line += 1;
            continue;
        }
        const char *p = line, *end = line + llen;
        const char *opc = strchr(op_chars, *p);
        if (!*p || !opc || (p + 1 < end && p[1] != '|')) {
            snprintf(t->err, sizeof t->err, "sl_th_batch_add line %d: op must be one of %s", lineno,
                     op_chars);
            return -1;
        }
        sl_op op = (sl_op)(opc - op_chars);
        if (sl_batch_row_begin(b, op) < 0) {
            snprintf(t->err, sizeof t->err, "sl_th_batch_add: out of memory");
            return -1;
        }
        p += 1;
        uint32_t col = 0;
        while (op != SL_OP_TRUNCATE && p < end) {
            p++; /* '|' */
            const char *c_end = memchr(p, '|', (size_t)(end - p));
            if (!c_end)
                c_end = end;
            if (col >= b->schema->ncols) {
                snprintf(t->err, sizeof t->err, "sl_th_batch_add line %d: more than %u cells",
                         lineno, b->schema->ncols);
                return -1;
            }
            const char *what = NULL;
            if (set_cell(b, col, p, (size_t)(c_end - p), &what) != 0) {
                snprintf(t->err, sizeof t->err, "sl_th_batch_add line %d, cell %u: %s", lineno,
                         col + 1, what ? what : "invalid");
                return -1;
            }
            col++;
            p = c_end;
        }
        if (op != SL_OP_TRUNCATE && col != b->schema->ncols) {
            snprintf(t->err, sizeof t->err, "sl_th_batch_add line %d: %u cells, the schema has %u",
                     lineno, col, b->schema->ncols);
            return -1;
        }
        line = *end ? end + 1 : end;
    }
    return 0;
}
