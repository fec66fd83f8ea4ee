/* The writer's header byte for byte (Qlik's element order, indentation, CRLF, "\r\n\0"), the
 * body that follows it, and the narrowest-width/padding/NULL rules of qvd-format.md §7. */
#include "qvd_test_util.h"
#include "sl_test.h"

#include <sys/wait.h>
#include <unistd.h>

static const char *golden[] = {
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>",
    " <QvdTableHeader>",
    "   <QvBuildNo>50689</QvBuildNo>",
    "   <CreatorDoc>sluice://acme/pg</CreatorDoc>",
    "   <CreateUtcTime>2023-11-14 22:13:20</CreateUtcTime>",
    "   <SourceCreateUtcTime></SourceCreateUtcTime>",
    "   <SourceFileUtcTime></SourceFileUtcTime>",
    "   <SourceFileSize>-1</SourceFileSize>",
    "   <StaleUtcTime></StaleUtcTime>",
    "   <TableName>t</TableName>",
    "   <Fields>",
    "     <QvdFieldHeader>",
    "       <FieldName>id</FieldName>",
    "       <BitOffset>0</BitOffset>",
    "       <BitWidth>2</BitWidth>",
    "       <Bias>0</Bias>",
    "       <NumberFormat>",
    "         <Type>INTEGER</Type>",
    "         <nDec>0</nDec>",
    "         <UseThou>0</UseThou>",
    "         <Fmt></Fmt>",
    "         <Dec>.</Dec>",
    "         <Thou>,</Thou>",
    "       </NumberFormat>",
    "       <NoOfSymbols>3</NoOfSymbols>",
    "       <Offset>0</Offset>",
    "       <Length>15</Length>",
    "       <Comment></Comment>",
    "       <Tags>",
    "         <String>$key</String>",
    "         <String>$numeric</String>",
    "         <String>$integer</String>",
    "       </Tags>",
    "     </QvdFieldHeader>",
    "     <QvdFieldHeader>",
    "       <FieldName>name</FieldName>",
    "       <BitOffset>2</BitOffset>",
    "       <BitWidth>2</BitWidth>",
    "       <Bias>-2</Bias>",
    "       <NumberFormat>",
    "         <Type>UNKNOWN</Type>",
    "         <nDec>0</nDec>",
    "         <UseThou>0</UseThou>",
    "         <Fmt></Fmt>",
    "         <Dec></Dec>",
    "         <Thou></Thou>",
    "       </NumberFormat>",
    "       <NoOfSymbols>2</NoOfSymbols>",
    "       <Offset>15</Offset>",
    "       <Length>8</Length>",
    "       <Comment></Comment>",
    "       <Tags>",
    "         <String>$text</String>",
    "       </Tags>",
    "     </QvdFieldHeader>",
    "     <QvdFieldHeader>",
    "       <FieldName>day</FieldName>",
    "       <BitOffset>4</BitOffset>",
    "       <BitWidth>2</BitWidth>",
    "       <Bias>0</Bias>",
    "       <NumberFormat>",
    "         <Type>DATE</Type>",
    "         <nDec>0</nDec>",
    "         <UseThou>0</UseThou>",
    "         <Fmt>YYYY-MM-DD</Fmt>",
    "         <Dec></Dec>",
    "         <Thou></Thou>",
    "       </NumberFormat>",
    "       <NoOfSymbols>3</NoOfSymbols>",
    "       <Offset>23</Offset>",
    "       <Length>48</Length>",
    "       <Comment></Comment>",
    "       <Tags>",
    "         <String>$numeric</String>",
    "         <String>$integer</String>",
    "         <String>$timestamp</String>",
    "         <String>$date</String>",
    "       </Tags>",
    "     </QvdFieldHeader>",
    "     <QvdFieldHeader>",
    "       <FieldName>ts</FieldName>",
    "       <BitOffset>6</BitOffset>",
    "       <BitWidth>2</BitWidth>",
    "       <Bias>0</Bias>",
    "       <NumberFormat>",
    "         <Type>TIMESTAMP</Type>",
    "         <nDec>0</nDec>",
    "         <UseThou>0</UseThou>",
    "         <Fmt>YYYY-MM-DD hh:mm:ss[.fff]</Fmt>",
    "         <Dec></Dec>",
    "         <Thou></Thou>",
    "       </NumberFormat>",
    "       <NoOfSymbols>2</NoOfSymbols>",
    "       <Offset>71</Offset>",
    "       <Length>65</Length>",
    "       <Comment></Comment>",
    "       <Tags>",
    "         <String>$numeric</String>",
    "         <String>$timestamp</String>",
    "       </Tags>",
    "     </QvdFieldHeader>",
    "   </Fields>",
    "   <Compression></Compression>",
    "   <RecordByteSize>1</RecordByteSize>",
    "   <NoOfRecords>3</NoOfRecords>",
    "   <Offset>136</Offset>",
    "   <Length>3</Length>",
    "   <Lineage>",
    "     <LineageInfo>",
    "       <Discriminator>sluice:postgres;</Discriminator>",
    "       <Statement></Statement>",
    "     </LineageInfo>",
    "   </Lineage>",
    "   <Comment></Comment>",
    "   <EncryptionInfo></EncryptionInfo>",
    "   <TableTags></TableTags>",
    "   <ProfilingData></ProfilingData>",
    " </QvdTableHeader>",
};

/* The same small table the golden header was taken from (3 rows: key, text with a NULL, dates,
 * timestamps with microseconds). */
static membuf write_small(void)
{
    sl_qvd_column_spec cols[] = {{"id", SL_T_INT64, 1},
                                 {"name", SL_T_STRING, 0},
                                 {"day", SL_T_DATE, 0},
                                 {"ts", SL_T_TIMESTAMP, 0}};
    sl_qvd_write_opts o = {.table_name = "t",
                           .creator_doc = "sluice://acme/pg",
                           .lineage = "sluice:postgres;",
                           .create_time_us = 1700000000000000LL};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, 4, cols);
    for (int r = 0; r < 3; r++) {
        sl_value v[4] = {{.i = r + 1},
                         {.p = r == 1 ? "B\xc3\xa9" : "a", .len = r == 1 ? 3 : 1},
                         {.i = 19000 + r},
                         {.i = 1700000000123456LL * (r != 2)}};
        if (r == 2)
            v[1].flag = SL_CELL_NULL;
        CHECK(sl_qvd_writer_add_row(w, v) == 0);
    }
    membuf m = {0};
    CHECK(sl_qvd_writer_finish(w, membuf_out, &m) == 0);
    sl_qvd_writer_free(w);
    return m;
}

static void test_golden_header(void)
{
    membuf m = write_small();
    size_t k = 0;
    for (size_t i = 0; i < sizeof golden / sizeof *golden; i++) {
        size_t n = strlen(golden[i]);
        int same = k + n + 2 <= m.n && memcmp(m.p + k, golden[i], n) == 0 &&
                   memcmp(m.p + k + n, "\r\n", 2) == 0;
        if (!same) {
            fprintf(stderr, "header line %zu differs, expected: %s\n", i + 1, golden[i]);
            CHECK(same);
            break;
        }
        k += n + 2;
    }
    CHECK(k < m.n && m.p[k] == 0); /* "</QvdTableHeader>\r\n\0" */
    /* body: symbol tables then 3 one-byte rows (see the bit layout in the header) */
    static const unsigned char body_start[] = {1, 1, 0, 0, 0,   1, 2, 0,   0,    0,    1, 3,
                                               0, 0, 0, 4, 'a', 0, 4, 'B', 0xc3, 0xa9, 0};
    CHECK(m.n > k + 1 + sizeof body_start &&
          memcmp(m.p + k + 1, body_start, sizeof body_start) == 0);
    static const unsigned char rows[] = {0x08, 0x1d, 0x62};
    CHECK(memcmp(m.p + m.n - 3, rows, 3) == 0);
    free(m.p);
}

/* Widths are the narrowest that hold the indices; the last field absorbs the padding. */
static void test_widths(void)
{
    sl_qvd_column_spec cols[] = {
        {"a", SL_T_INT64, 0}, {"const", SL_T_STRING, 0}, {"b", SL_T_INT64, 0}};
    sl_qvd_write_opts o = {.table_name = "w"};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, 3, cols);
    for (int r = 0; r < 300; r++) {
        sl_value v[3] = {{.i = r}, {.p = "same", .len = 4}, {.i = r % 5}};
        if (r == 7)
            v[2].flag = SL_CELL_NULL;
        sl_qvd_writer_add_row(w, v);
    }
    membuf m = {0};
    CHECK(sl_qvd_writer_finish(w, membuf_out, &m) == 0);
    sl_qvd_writer_free(w);
    char err[200];
    sl_qvd_table *t = sl_qvd_read_buffer(m.p, m.n, err, sizeof err);
    CHECK(t != NULL);
    if (!t)
        return;
    CHECK_EQ_INT(t->fields[0].bit_width, 9); /* 300 symbols */
    CHECK_EQ_INT(t->fields[0].bit_offset, 0);
    CHECK_EQ_INT(t->fields[1].bit_width, 0); /* one symbol, no NULL */
    CHECK_EQ_INT(t->fields[1].bit_offset, 0);
    CHECK_EQ_INT(t->fields[2].bias, -2); /* 5 symbols + NULL: stored 0, 2..6 -> 3 bits */
    CHECK_EQ_INT(t->fields[2].bit_offset, 9);
    CHECK_EQ_INT(t->fields[2].bit_width, 7); /* padded: 9 + 7 = 16 */
    CHECK_EQ_INT(t->record_byte_size, 2);
    CHECK(sl_qvd_cell(t, 7, 2) == NULL);
    CHECK_EQ_INT(sl_qvd_cell(t, 8, 2)->i, 3);
    sl_qvd_table_free(t);
}

/* An empty table looks like Qlik's empty_qvd.qvd: RecordByteSize 1, one field 8 bits wide. */
static void test_empty_table(void)
{
    sl_qvd_column_spec cols[] = {{"x", SL_T_STRING, 0}, {"y", SL_T_DOUBLE, 0}};
    sl_qvd_write_opts o = {.table_name = "e"};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, 2, cols);
    membuf m = {0};
    CHECK(sl_qvd_writer_finish(w, membuf_out, &m) == 0);
    sl_qvd_writer_free(w);
    CHECK(strstr((char *)m.p, "<Lineage></Lineage>") != NULL);
    char err[200];
    sl_qvd_table *t = sl_qvd_read_buffer(m.p, m.n, err, sizeof err);
    CHECK(t != NULL);
    if (!t)
        return;
    CHECK_EQ_INT(t->record_byte_size, 1);
    CHECK_EQ_INT(t->nrecords, 0);
    CHECK_EQ_INT(t->length, 0);
    CHECK_EQ_INT(t->fields[0].bit_width, 0);
    CHECK_EQ_INT(t->fields[1].bit_width, 8);
    CHECK_EQ_INT(t->fields[1].nsymbols, 0);
    sl_qvd_table_free(t);
}

/* XML special characters in names and texts are escaped and read back unchanged. */
static void test_escaping(void)
{
    sl_qvd_column_spec cols[] = {{"a<b>&c", SL_T_STRING, 0}};
    sl_qvd_write_opts o = {.table_name = "T&<>", .comment = "pos=0/1&x", .lineage = "<lin>"};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, 1, cols);
    membuf m = {0};
    CHECK(sl_qvd_writer_finish(w, membuf_out, &m) == 0);
    sl_qvd_writer_free(w);
    CHECK(strstr((char *)m.p, "<FieldName>a&lt;b&gt;&amp;c</FieldName>") != NULL);
    char err[200];
    sl_qvd_table *t = sl_qvd_read_buffer(m.p, m.n, err, sizeof err);
    CHECK(t != NULL);
    if (!t)
        return;
    CHECK_EQ_STR(t->fields[0].name, "a<b>&c");
    CHECK_EQ_STR(t->table_name, "T&<>");
    CHECK_EQ_STR(t->comment, "pos=0/1&x");
    CHECK(t->nlineage == 1 && strcmp(t->lineage[0], "<lin>") == 0);
    sl_qvd_table_free(t);
}

/* Ascending integer-backed columns skip the hash table until a value repeats or goes down;
 * after that, earlier symbols must still be found (no duplicates), in first-occurrence order. */
static void test_sorted_then_repeats(void)
{
    sl_qvd_column_spec cols[] = {
        {"k", SL_T_INT64, 1}, {"ts", SL_T_TIMESTAMP, 0}, {"d", SL_T_DATE, 0}};
    sl_qvd_write_opts o = {.table_name = "s"};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, 3, cols);
    for (int r = 0; r < 2000; r++) {
        int64_t k = r < 500 ? r : r % 700; /* 0..499 ascending, then repeats and new values */
        sl_value v[3] = {{.i = k}, {.i = k * 1000001}, {.i = r < 1000 ? r : 1999 - r}};
        CHECK(sl_qvd_writer_add_row(w, v) == 0);
    }
    membuf m = {0};
    CHECK(sl_qvd_writer_finish(w, membuf_out, &m) == 0);
    sl_qvd_writer_free(w);
    char err[200];
    sl_qvd_table *t = sl_qvd_read_buffer(m.p, m.n, err, sizeof err);
    CHECK(t != NULL);
    if (!t)
        return;
    CHECK_EQ_INT(t->fields[0].nsymbols, 700);
    CHECK_EQ_INT(t->fields[1].nsymbols, 700);
    CHECK_EQ_INT(t->fields[2].nsymbols, 1000);
    for (int r = 0; r < 2000; r++) {
        int64_t k = r < 500 ? r : r % 700;
        const sl_qvd_symbol *s = sl_qvd_cell(t, (uint64_t)r, 0);
        CHECK(s && s->i == k && s - t->fields[0].symbols == k);
        sl_value v;
        char scratch[64];
        CHECK(sl_qvd_symbol_to_value(sl_qvd_cell(t, (uint64_t)r, 1), SL_T_TIMESTAMP, &v, scratch,
                                     sizeof scratch) == 0 &&
              v.i == k * 1000001);
        CHECK(sl_qvd_symbol_to_value(sl_qvd_cell(t, (uint64_t)r, 2), SL_T_DATE, &v, scratch,
                                     sizeof scratch) == 0 &&
              v.i == (r < 1000 ? r : 1999 - r));
    }
    sl_qvd_table_free(t);
}

/* Without a lineage the creator is named as the source, like Qlik files always name one. */
static void test_lineage_default(void)
{
    sl_qvd_column_spec cols[] = {{"x", SL_T_INT64, 0}};
    sl_qvd_write_opts o = {.table_name = "l", .creator_doc = "sluice://acme/pg"};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, 1, cols);
    membuf m = {0};
    CHECK(sl_qvd_writer_finish(w, membuf_out, &m) == 0);
    sl_qvd_writer_free(w);
    char err[200];
    sl_qvd_table *t = sl_qvd_read_buffer(m.p, m.n, err, sizeof err);
    CHECK(t && t->nlineage == 1 && strcmp(t->lineage[0], "sluice://acme/pg") == 0);
    sl_qvd_table_free(t);
}

/* Runs a strict XML 1.0 parser (python3's xml.etree, else xmllint) on the header of the file at
 * path and, with python3, prints the FieldName and TableName texts it reads into out (one per
 * line, each char as U+XXXX). Returns the parser's exit code, or -1 when neither exists. */
static int strict_parse(const char *path, char *out, size_t outlen)
{
    char cmd[1024];
    out[0] = 0;
    if (system("python3 -c 'import xml.etree.ElementTree' >/dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof cmd,
                 "python3 -c '\n"
                 "import sys, xml.etree.ElementTree as E\n"
                 "b = open(sys.argv[1], \"rb\").read()\n"
                 "r = E.fromstring(b[:b.index(b\"\\0\")])\n"
                 "for t in [r.findtext(\"TableName\")] + [f.findtext(\"FieldName\") for f in "
                 "r.iter(\"QvdFieldHeader\")]:\n"
                 "    print(\" \".join(\"U+%%04X\" %% ord(c) for c in t))\n"
                 "' %s 2>&1",
                 path);
    } else if (system("xmllint --version >/dev/null 2>&1") == 0) {
        /* the header ends at the first 0x00: xmllint reads it from a copy cut there */
        snprintf(cmd, sizeof cmd,
                 "head -c $(grep -abo '</QvdTableHeader>' %s | head -1 | cut -d: -f1) %s "
                 "> %s.xml && echo '</QvdTableHeader>' >> %s.xml && xmllint --noout %s.xml 2>&1",
                 path, path, path, path, path);
    } else {
        return -1;
    }
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Names with control characters (issue 9 item 13): TAB, LF and CR are written as character
 * references and read back as themselves (CR stays CR, not LF); what XML 1.0 cannot hold (other
 * C0 controls, bytes that are not UTF-8, U+FFFE) becomes U+FFFD; a strict parser accepts the
 * header. */
static void test_control_characters(void)
{
    sl_qvd_column_spec cols[] = {{"a\tb", SL_T_INT64, 0},
                                 {"line1\r\nline2\rx", SL_T_STRING, 0},
                                 {"ctl\x01\x1f", SL_T_STRING, 0},
                                 {"bad\xff\xc3", SL_T_STRING, 0},
                                 {"nonchar\xef\xbf\xbe", SL_T_STRING, 0},
                                 {"ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", SL_T_STRING, 0}};
    sl_qvd_write_opts o = {.table_name = "t\x02\r", .comment = "pos\x7f\x0b"};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, 6, cols);
    sl_value v[6] = {{.i = 1},
                     {.p = "x", .len = 1},
                     {.p = "y", .len = 1},
                     {.p = "z", .len = 1},
                     {.p = "", .len = 0},
                     {.p = "w", .len = 1}};
    CHECK(sl_qvd_writer_add_row(w, v) == 0);
    membuf m = {0};
    CHECK(sl_qvd_writer_finish(w, membuf_out, &m) == 0);
    sl_qvd_writer_free(w);
    const char *hdr = (const char *)m.p;
    CHECK(strstr(hdr, "<FieldName>a&#9;b</FieldName>") != NULL);
    CHECK(strstr(hdr, "<FieldName>line1&#13;&#10;line2&#13;x</FieldName>") != NULL);
    CHECK(strstr(hdr, "<FieldName>ctl\xef\xbf\xbd\xef\xbf\xbd</FieldName>") != NULL);
    CHECK(strstr(hdr, "<TableName>t\xef\xbf\xbd&#13;</TableName>") != NULL);
    CHECK(strstr(hdr, "<Comment>pos\x7f\xef\xbf\xbd</Comment>") != NULL);
    /* the header holds no byte below 0x20 but CR and LF of the layout (and, before, the
     * terminating 0x00 at its end) */
    size_t hl = strlen(hdr);
    int raw_ctl = 0;
    for (size_t i = 0; i < hl; i++)
        if ((unsigned char)hdr[i] < 0x20 && hdr[i] != '\r' && hdr[i] != '\n')
            raw_ctl = 1;
    CHECK(!raw_ctl);
    char err[200];
    unsigned char *copy = malloc(m.n);
    memcpy(copy, m.p, m.n);
    sl_qvd_table *t = sl_qvd_read_buffer(copy, m.n, err, sizeof err);
    CHECK(t != NULL);
    if (t) {
        CHECK_EQ_STR(t->fields[0].name, "a\tb");
        CHECK_EQ_STR(t->fields[1].name, "line1\r\nline2\rx");
        CHECK_EQ_STR(t->fields[2].name, "ctl\xef\xbf\xbd\xef\xbf\xbd");
        CHECK_EQ_STR(t->fields[3].name, "bad\xef\xbf\xbd\xef\xbf\xbd");
        CHECK_EQ_STR(t->fields[4].name, "nonchar\xef\xbf\xbd");
        CHECK_EQ_STR(t->fields[5].name, cols[5].name);
        CHECK_EQ_STR(t->table_name, "t\xef\xbf\xbd\r");
        /* recovery matches columns to fields through the same mapping */
        for (int c = 0; c < 6; c++) {
            char *h = sl_qvd_header_text(cols[c].name);
            CHECK_EQ_STR(h, t->fields[c].name);
            free(h);
        }
        sl_qvd_table_free(t);
    }
    char path[] = "/tmp/sl_qvd_ctlXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, m.p, m.n) == (ssize_t)m.n);
    close(fd);
    char out[2048];
    int rc = strict_parse(path, out, sizeof out);
    if (rc == -1) {
        fprintf(stderr, "  strict XML check skipped: neither python3 nor xmllint is installed\n");
    } else {
        if (rc != 0)
            fprintf(stderr, "  strict parser: %s\n", out);
        CHECK_EQ_INT(rc, 0);
        if (out[0] && strncmp(out, "U+", 2) == 0) /* python3: the names it read */
            CHECK(strstr(out, "U+0074 U+FFFD U+000D\n"
                              "U+0061 U+0009 U+0062\n"
                              "U+006C U+0069 U+006E U+0065 U+0031 U+000D U+000A U+006C U+0069 "
                              "U+006E U+0065 U+0032 U+000D U+0078\n") == out);
    }
    unlink(path);
    char xml[64];
    snprintf(xml, sizeof xml, "%s.xml", path);
    unlink(xml);
    free(m.p);
}

/* Two names the header would hold alike are refused (Qlik could not tell the fields apart). */
static void test_names_alike_refused(void)
{
    sl_qvd_column_spec cols[] = {{"a\x01", SL_T_INT64, 0}, {"a\x02", SL_T_INT64, 0}};
    sl_qvd_write_opts o = {.table_name = "d"};
    sl_qvd_writer *w = sl_qvd_writer_new(&o, 2, cols);
    membuf m = {0};
    CHECK(sl_qvd_writer_finish(w, membuf_out, &m) == -1);
    CHECK(strstr(sl_qvd_writer_error(w), "columns 1 and 2") != NULL);
    CHECK(strchr(sl_qvd_writer_error(w), '\n') == NULL);
    sl_qvd_writer_free(w);
    free(m.p);
}

int main(void)
{
    SL_RUN(test_control_characters);
    SL_RUN(test_names_alike_refused);
    SL_RUN(test_golden_header);
    SL_RUN(test_widths);
    SL_RUN(test_empty_table);
    SL_RUN(test_escaping);
    SL_RUN(test_sorted_then_repeats);
    SL_RUN(test_lineage_default);
    SL_DONE();
}
