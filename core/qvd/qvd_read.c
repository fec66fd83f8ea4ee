/* QVD reader: loads the whole file, parses the XML header structurally, indexes every symbol and
 * validates all offsets against the buffer, so later cell access cannot read out of bounds. */
#include "qvd_internal.h"
#include "qvd_xml.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void rerr(char *err, size_t errlen, const char *fmt, ...) SL_PRINTF(3, 4);
static void rerr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    /* names from files may hold CR/LF: keep the message on one line */
    for (char *c = err; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = '?';
}

static int check_indices(const sl_qvd_table *t, char *err, size_t errlen);

void sl_qvd_table_free(sl_qvd_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; t->fields && i < t->nfields; i++) {
        sl_qvd_field *f = &t->fields[i];
        free(f->name);
        free(f->numfmt.type);
        free(f->numfmt.fmt);
        free(f->numfmt.dec);
        free(f->numfmt.thou);
        free(f->comment);
        for (size_t k = 0; k < f->ntags; k++)
            free(f->tags[k]);
        free(f->tags);
        free(f->symbols);
    }
    free(t->fields);
    for (size_t i = 0; i < t->nlineage; i++)
        free(t->lineage[i]);
    free(t->lineage);
    free(t->table_name);
    free(t->creator_doc);
    free(t->create_utc_time);
    free(t->qv_build_no);
    free(t->comment);
    free(t->buf);
    free(t);
}

sl_qvd_table *sl_qvd_read_file(const char *path, char *err, size_t errlen)
{
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever, before
     * the regular-file check below could refuse it. It changes nothing for regular files. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        rerr(err, errlen, "%s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rerr(err, errlen, "not a regular file");
        close(fd);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) {
        rerr(err, errlen, "out of memory reading %zu bytes", len);
        close(fd);
        return NULL;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != len) {
        rerr(err, errlen, "read error");
        free(buf);
        return NULL;
    }
    return sl_qvd_read_buffer(buf, len, err, errlen);
}

/* Strict decimal integer with optional surrounding whitespace. */
static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s)
        return -1;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno)
        return -1;
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
        end++;
    if (*end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static char *dup_text(const sl_xml_node *n, const char *name)
{
    const char *t = sl_xml_child_text(n, name);
    return strdup(t ? t : "");
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int parse_symbols(sl_qvd_field *f, const unsigned char *p, uint64_t len, char *err,
                         size_t errlen)
{
    /* every symbol takes at least two bytes: bounds the allocation for hostile counts */
    if (f->nsymbols > len / 2) {
        rerr(err, errlen,
             "field %.60s: NoOfSymbols %" PRIu64 " does not fit its %" PRIu64 "-byte symbol table",
             f->name, f->nsymbols, len);
        return -1;
    }
    f->symbols = calloc(f->nsymbols ? f->nsymbols : 1, sizeof *f->symbols);
    if (!f->symbols) {
        rerr(err, errlen, "out of memory");
        return -1;
    }
    uint64_t pos = 0;
    for (uint64_t i = 0; i < f->nsymbols; i++) {
        sl_qvd_symbol *s = &f->symbols[i];
        if (pos >= len)
            goto trunc;
        s->type = p[pos++];
        size_t num = 0;
        int text = 0;
        switch (s->type) {
        case SL_QVD_SYM_INT:
            num = 4;
            break;
        case SL_QVD_SYM_DOUBLE:
            num = 8;
            break;
        case SL_QVD_SYM_STRING:
            text = 1;
            break;
        case SL_QVD_SYM_DUAL_INT:
            num = 4;
            text = 1;
            break;
        case SL_QVD_SYM_DUAL_DOUBLE:
            num = 8;
            text = 1;
            break;
        default:
            rerr(err, errlen, "field %.60s: symbol %" PRIu64 " has unknown type 0x%02x", f->name, i,
                 s->type);
            return -1;
        }
        if (len - pos < num)
            goto trunc;
        if (num == 4)
            s->i = (int32_t)(uint32_t)le(p + pos, 4);
        else if (num == 8) {
            uint64_t b = le(p + pos, 8);
            memcpy(&s->d, &b, 8);
        }
        pos += num;
        if (text) {
            const unsigned char *z = memchr(p + pos, 0, (size_t)(len - pos));
            if (!z)
                goto trunc;
            s->s = (const char *)(p + pos);
            s->slen = (size_t)(z - (p + pos));
            pos += s->slen + 1;
        } else {
            s->s = "";
        }
    }
    if (pos != len) { /* Qlik's tables are exact; a mismatch means a damaged header or body */
        rerr(err, errlen,
             "field %.60s: %" PRIu64 " symbols take %" PRIu64 " bytes, header says %" PRIu64,
             f->name, f->nsymbols, pos, len);
        return -1;
    }
    return 0;
trunc:
    rerr(err, errlen,
         "field %.60s: symbol table truncated (%" PRIu64 " symbols in %" PRIu64 " bytes)", f->name,
         f->nsymbols, len);
    return -1;
}

static int parse_field(sl_qvd_table *t, const sl_xml_node *x, sl_qvd_field *f, uint64_t bodylen,
                       char *err, size_t errlen)
{
    int64_t v;
    f->name = dup_text(x, "FieldName");
    f->comment = dup_text(x, "Comment");
    if (!f->name || !f->comment)
        goto oom;
    const sl_xml_node *nf = sl_xml_child(x, "NumberFormat");
    f->numfmt.type = dup_text(nf, "Type");
    f->numfmt.fmt = dup_text(nf, "Fmt");
    f->numfmt.dec = dup_text(nf, "Dec");
    f->numfmt.thou = dup_text(nf, "Thou");
    if (!f->numfmt.type || !f->numfmt.fmt || !f->numfmt.dec || !f->numfmt.thou)
        goto oom;
    if (!f->numfmt.type[0] || strcmp(f->numfmt.type, "0") == 0) { /* QlikView 7314 writes 0 */
        free(f->numfmt.type);
        if (!(f->numfmt.type = strdup("UNKNOWN")))
            goto oom;
    }
    if (nf && parse_int(sl_xml_child_text(nf, "nDec"), INT32_MIN, INT32_MAX, &v) == 0)
        f->numfmt.ndec = (int)v;
    if (nf && parse_int(sl_xml_child_text(nf, "UseThou"), INT32_MIN, INT32_MAX, &v) == 0)
        f->numfmt.usethou = (int)v;
    const sl_xml_node *tags = sl_xml_child(x, "Tags");
    for (const sl_xml_node *c = tags ? tags->first : NULL; c; c = c->next)
        f->ntags++;
    if (f->ntags) {
        f->tags = calloc(f->ntags, sizeof *f->tags);
        if (!f->tags)
            goto oom;
        size_t k = 0;
        for (const sl_xml_node *c = tags->first; c; c = c->next)
            if (!(f->tags[k++] = strdup(c->text)))
                goto oom;
    }
    const char *what;
    what = "BitOffset";
    if (parse_int(sl_xml_child_text(x, what), 0, INT32_MAX, &v) != 0)
        goto bad;
    f->bit_offset = (uint32_t)v;
    what = "BitWidth";
    if (parse_int(sl_xml_child_text(x, what), 0, 64, &v) != 0)
        goto bad;
    f->bit_width = (uint32_t)v;
    what = "Bias";
    if (parse_int(sl_xml_child_text(x, what), INT32_MIN, INT32_MAX, &v) != 0)
        goto bad;
    f->bias = (int32_t)v;
    what = "NoOfSymbols";
    if (parse_int(sl_xml_child_text(x, what), 0, INT64_MAX, &v) != 0)
        goto bad;
    f->nsymbols = (uint64_t)v;
    what = "Offset";
    if (parse_int(sl_xml_child_text(x, what), 0, INT64_MAX, &v) != 0)
        goto bad;
    f->offset = (uint64_t)v;
    what = "Length";
    if (parse_int(sl_xml_child_text(x, what), 0, INT64_MAX, &v) != 0)
        goto bad;
    f->length = (uint64_t)v;
    if (f->bit_width && (uint64_t)f->bit_offset + f->bit_width > t->record_byte_size * 8) {
        rerr(err, errlen, "field %.60s: bits %u..%u lie outside the %" PRIu64 "-byte record",
             f->name, f->bit_offset, f->bit_offset + f->bit_width, t->record_byte_size);
        return -1;
    }
    if (f->offset > bodylen || f->length > bodylen - f->offset) {
        rerr(err, errlen,
             "field %.60s: symbol table (offset %" PRIu64 ", length %" PRIu64
             ") lies outside the file (truncated?)",
             f->name, f->offset, f->length);
        return -1;
    }
    return 0;
bad:
    rerr(err, errlen, "field %.60s: missing or bad <%s>", f->name, what);
    return -1;
oom:
    rerr(err, errlen, "out of memory");
    return -1;
}

sl_qvd_table *sl_qvd_read_buffer(unsigned char *buf, size_t len, char *err, size_t errlen)
{
    sl_xml_node *root = NULL;
    sl_qvd_table *t = calloc(1, sizeof *t);
    if (!t) {
        free(buf);
        rerr(err, errlen, "out of memory");
        return NULL;
    }
    t->buf = buf;
    t->buflen = len;
    /* XML cannot contain 0x00: the first one ends the header. */
    const unsigned char *nul = len ? memchr(buf, 0, len) : NULL;
    if (!nul) {
        rerr(err, errlen, "no end of the XML header (0x00 byte); truncated or not a QVD file");
        goto fail;
    }
    static const char endtag[] = "</QvdTableHeader>";
    size_t hlen = (size_t)(nul - buf);
    size_t e = hlen;
    while (e > 0 &&
           (buf[e - 1] == '\r' || buf[e - 1] == '\n' || buf[e - 1] == ' ' || buf[e - 1] == '\t'))
        e--;
    if (e < sizeof endtag - 1 || memcmp(buf + e - (sizeof endtag - 1), endtag, sizeof endtag - 1)) {
        rerr(err, errlen, "not a QVD file: the header does not end with </QvdTableHeader>");
        goto fail;
    }
    char xerr[160];
    size_t bom = hlen >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0; /* tolerate a BOM */
    root = sl_xml_parse((const char *)buf + bom, hlen - bom, xerr, sizeof xerr);
    if (!root) {
        rerr(err, errlen, "bad XML header: %s", xerr);
        goto fail;
    }
    if (strcmp(root->name, "QvdTableHeader") != 0) {
        rerr(err, errlen, "not a QVD file: root element is <%.40s>", root->name);
        goto fail;
    }
    const unsigned char *body = nul + 1;
    uint64_t bodylen = (uint64_t)(len - hlen - 1);
    int64_t v;
    const char *what;
    what = "NoOfRecords";
    if (parse_int(sl_xml_child_text(root, what), 0, INT64_MAX, &v) != 0)
        goto bad;
    t->nrecords = (uint64_t)v;
    what = "RecordByteSize";
    if (parse_int(sl_xml_child_text(root, what), 0, 1 << 24, &v) != 0)
        goto bad;
    t->record_byte_size = (uint64_t)v;
    /* table-level Offset/Length: children of the root, after </Fields> */
    what = "Offset";
    if (parse_int(sl_xml_child_text(root, what), 0, INT64_MAX, &v) != 0)
        goto bad;
    t->offset = (uint64_t)v;
    what = "Length";
    if (parse_int(sl_xml_child_text(root, what), 0, INT64_MAX, &v) != 0)
        goto bad;
    t->length = (uint64_t)v;
    if (t->record_byte_size == 0 && t->nrecords) {
        rerr(err, errlen, "RecordByteSize is 0 for %" PRIu64 " records", t->nrecords);
        goto fail;
    }
    if (t->record_byte_size && t->nrecords > UINT64_MAX / t->record_byte_size) {
        rerr(err, errlen, "NoOfRecords too large");
        goto fail;
    }
    uint64_t need = t->nrecords * t->record_byte_size;
    if (t->length < need) {
        rerr(err, errlen,
             "index table Length %" PRIu64 " is less than %" PRIu64 " records of %" PRIu64 " bytes",
             t->length, t->nrecords, t->record_byte_size);
        goto fail;
    }
    if (t->offset > bodylen || need > bodylen - t->offset) {
        rerr(err, errlen,
             "index table (offset %" PRIu64 ", %" PRIu64 " bytes) lies outside the "
             "file: truncated",
             t->offset, need);
        goto fail;
    }
    t->index = body + t->offset;
    if (!(t->table_name = dup_text(root, "TableName")) ||
        !(t->creator_doc = dup_text(root, "CreatorDoc")) ||
        !(t->create_utc_time = dup_text(root, "CreateUtcTime")) ||
        !(t->qv_build_no = dup_text(root, "QvBuildNo")) ||
        !(t->comment = dup_text(root, "Comment")))
        goto oom;
    const sl_xml_node *lin = sl_xml_child(root, "Lineage");
    for (const sl_xml_node *c = lin ? lin->first : NULL; c; c = c->next)
        if (strcmp(c->name, "LineageInfo") == 0)
            t->nlineage++;
    if (t->nlineage) {
        if (!(t->lineage = calloc(t->nlineage, sizeof *t->lineage)))
            goto oom;
        size_t k = 0;
        for (const sl_xml_node *c = lin->first; c; c = c->next) {
            if (strcmp(c->name, "LineageInfo") != 0)
                continue;
            const char *d = sl_xml_child_text(c, "Discriminator");
            if (!d || !d[0])
                d = sl_xml_child_text(c, "Statement");
            if (!(t->lineage[k++] = strdup(d ? d : "")))
                goto oom;
        }
    }
    const sl_xml_node *fields = sl_xml_child(root, "Fields");
    if (!fields) {
        rerr(err, errlen, "header has no <Fields>");
        goto fail;
    }
    for (const sl_xml_node *c = fields->first; c; c = c->next)
        if (strcmp(c->name, "QvdFieldHeader") == 0)
            t->nfields++;
    if (t->nfields) {
        if (!(t->fields = calloc(t->nfields, sizeof *t->fields)))
            goto oom;
    }
    size_t k = 0;
    for (const sl_xml_node *c = fields->first; c; c = c->next) {
        if (strcmp(c->name, "QvdFieldHeader") != 0)
            continue;
        sl_qvd_field *f = &t->fields[k++];
        if (parse_field(t, c, f, bodylen, err, errlen) != 0 ||
            parse_symbols(f, body + f->offset, f->length, err, errlen) != 0)
            goto fail;
    }
    if (check_indices(t, err, errlen) != 0)
        goto fail;
    sl_xml_free(root);
    return t;
bad:
    rerr(err, errlen, "header: missing or bad <%s>", what);
    goto fail;
oom:
    rerr(err, errlen, "out of memory");
fail:
    sl_xml_free(root);
    sl_qvd_table_free(t);
    return NULL;
}

/* The stored (biased) index of one cell. */
static uint64_t stored_at(const sl_qvd_table *t, uint64_t row, const sl_qvd_field *f)
{
    const unsigned char *r = t->index + row * t->record_byte_size;
    uint64_t stored = 0, bit = f->bit_offset;
    unsigned got = 0;
    while (got < f->bit_width) {
        unsigned sh = (unsigned)(bit & 7), take = 8 - sh;
        if (take > f->bit_width - got)
            take = f->bit_width - got;
        stored |= (uint64_t)((r[bit >> 3] >> sh) & ((1u << take) - 1)) << got;
        got += take;
        bit += take;
    }
    return stored;
}

/* Symbol index of a stored value: -1 for NULL (any negative index: Qlik writes -2), or an index
 * that may still be >= NoOfSymbols (checked once, at load). */
static int64_t index_of(uint64_t stored, const sl_qvd_field *f)
{
    if (stored > (uint64_t)INT64_MAX / 2) /* nsymbols < 2^62: always out of range */
        return INT64_MAX;
    int64_t idx = (int64_t)stored + f->bias;
    return idx < 0 ? -1 : idx;
}

/* Every row's index must name a symbol or NULL. A file with an index past the symbols is damaged
 * (or written by a tool with another NULL convention): reading it as NULL would be silent wrong
 * data, so it is refused, naming the first bad row and field. Fields whose width cannot hold an
 * out-of-range index are not scanned. */
static int check_indices(const sl_qvd_table *t, char *err, size_t errlen)
{
    for (size_t k = 0; k < t->nfields; k++) {
        const sl_qvd_field *f = &t->fields[k];
        uint64_t maxstored = f->bit_width >= 64 ? UINT64_MAX : (1ull << f->bit_width) - 1;
        if (index_of(maxstored, f) < (int64_t)f->nsymbols || t->nrecords == 0)
            continue;
        for (uint64_t r = 0; r < t->nrecords; r++) {
            int64_t idx = index_of(stored_at(t, r, f), f);
            if (idx >= 0 && (uint64_t)idx >= f->nsymbols) {
                rerr(err, errlen,
                     "row %" PRIu64 " of %" PRIu64 ", field %.60s: symbol index %" PRIu64
                     " is outside its %" PRIu64 " symbols (damaged file?)",
                     r + 1, t->nrecords, f->name, stored_at(t, r, f) + (uint64_t)(int64_t)f->bias,
                     f->nsymbols);
                return -1;
            }
        }
    }
    return 0;
}

const sl_qvd_symbol *sl_qvd_cell(const sl_qvd_table *t, uint64_t row, size_t field)
{
    if (row >= t->nrecords || field >= t->nfields)
        return NULL;
    const sl_qvd_field *f = &t->fields[field];
    int64_t idx = index_of(stored_at(t, row, f), f);
    /* past the symbols cannot happen after check_indices; stay in bounds regardless */
    if (idx < 0 || (uint64_t)idx >= f->nsymbols)
        return NULL;
    return &f->symbols[idx];
}
