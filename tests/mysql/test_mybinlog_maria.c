/* Integration test of the binlog decoder against a real MariaDB (scripts/mariadb.sh, ctest
 * fixture): a table with every type gets inserts (edge values, NULLs, zero dates), an update and
 * a delete, partly with log_bin_compress on; the binlog file is read from the server's binlog
 * directory, every event decoded (CRC32 verified), the row events applied to an in-memory copy
 * of the table, and each value compared with what SELECT returns for it. */
#include "mybinlog.h"
#include "sl_test.h"

#include <mysql.h>

#define NCOL    48
#define MAXROWS 16

/* How a column is compared: the SELECT expression (with %s for the column) and the kind. */
typedef struct ccol {
    const char *name, *def, *expr;
    char kind; /* I int, N decimal, F float, G double, D date days, U microseconds, X hex of the
                  value's bytes, H decoded text equals SELECT text */
} ccol;

static const ccol CC[] = {
    {"id", "INT PRIMARY KEY", "%s", 'I'},
    {"ti", "TINYINT", "%s", 'I'},
    {"tu", "TINYINT UNSIGNED", "%s", 'I'},
    {"si", "SMALLINT", "%s", 'I'},
    {"su", "SMALLINT UNSIGNED", "%s", 'I'},
    {"mi", "MEDIUMINT", "%s", 'I'},
    {"mu", "MEDIUMINT UNSIGNED", "%s", 'I'},
    {"i", "INT", "%s", 'I'},
    {"iu", "INT UNSIGNED", "%s", 'I'},
    {"bi", "BIGINT", "%s", 'I'},
    {"bu", "BIGINT UNSIGNED", "%s", 'I'},
    {"d1", "DECIMAL(10,2)", "%s", 'N'},
    {"d2", "DECIMAL(65,30)", "%s", 'N'},
    {"d3", "DECIMAL(5,0)", "%s", 'N'},
    {"d4", "DECIMAL(19,9)", "%s", 'N'},
    {"f", "FLOAT", "%s", 'F'},
    {"db", "DOUBLE", "%s", 'G'},
    {"b1", "BIT(1)", "CAST(%s AS UNSIGNED)", 'I'},
    {"b10", "BIT(10)", "CAST(%s AS UNSIGNED)", 'I'},
    {"b64", "BIT(64)", "CAST(%s AS UNSIGNED)", 'I'},
    {"y", "YEAR", "%s + 0", 'I'},
    {"dt", "DATE", "DATEDIFF(%s, '1970-01-01')", 'D'},
    {"tm", "TIME", "CAST(TIME_TO_SEC(%s) * 1000000 AS SIGNED)", 'U'},
    {"tm6", "TIME(6)", "CAST(TIME_TO_SEC(%s) * 1000000 AS SIGNED)", 'U'},
    {"dtm", "DATETIME", "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', %s)", 'U'},
    {"dtm6", "DATETIME(6)", "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', %s)", 'U'},
    {"ts", "TIMESTAMP(3) NULL DEFAULT NULL",
     "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', %s)", 'U'},
    {"ts0", "TIMESTAMP NULL DEFAULT NULL", "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', %s)",
     'U'},
    {"vl", "VARCHAR(20) CHARACTER SET latin1", "HEX(CONVERT(%s USING utf8mb4))", 'X'},
    {"vu", "VARCHAR(300) CHARACTER SET utf8mb4", "HEX(%s)", 'X'},
    {"c3", "CHAR(10) CHARACTER SET utf8mb3", "HEX(%s)", 'X'},
    {"cl", "CHAR(255) CHARACTER SET utf8mb4", "HEX(%s)", 'X'},
    {"ca", "CHAR(5) CHARACTER SET ascii", "HEX(%s)", 'X'},
    {"bn", "BINARY(4)", "HEX(%s)", 'X'},
    {"vb", "VARBINARY(10)", "HEX(%s)", 'X'},
    {"bl", "BLOB", "HEX(%s)", 'X'},
    {"tx", "TEXT CHARACTER SET latin1", "HEX(CONVERT(%s USING utf8mb4))", 'X'},
    {"mt", "MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", "HEX(%s)", 'X'},
    {"lb", "LONGBLOB", "HEX(%s)", 'X'},
    {"e", "ENUM('small','medium','large')", "HEX(%s)", 'X'},
    {"s", "SET('a','b','c','\xC3\xBC') CHARACTER SET latin1", "HEX(CONVERT(%s USING utf8mb4))",
     'X'},
    {"j", "JSON", "HEX(%s)", 'X'},
    {"g", "GEOMETRY", "HEX(%s)", 'H'},
    {"pt", "POINT", "HEX(%s)", 'H'},
    {"gen", "INT AS (i + 1) STORED", "%s", 'I'},
    {"n", "INT NULL", "%s", 'I'},
    {"yz", "YEAR", "%s + 0", 'I'},
    {"dz", "DATETIME(3)", "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', %s)", 'U'},
};

static const char *const INSERTS[] = {
    "INSERT INTO t (id,ti,tu,si,su,mi,mu,i,iu,bi,bu,d1,d2,d3,d4,f,db,b1,b10,b64,y,dt,tm,tm6,dtm,"
    "dtm6,ts,ts0,vl,vu,c3,cl,ca,bn,vb,bl,tx,mt,lb,e,s,j,g,pt,n,yz,dz) VALUES "
    "(1,-128,0,-32768,0,-8388608,0,-2147483648,0,-9223372036854775808,0,-99999999.99,"
    "-99999999999999999999999999999999999.999999999999999999999999999999,-99999,"
    "-1234567890.123456789,-3.40282e38,-1.7976931348623157e308,0,0,0,1901,'1000-01-01',"
    "'-838:59:59','-00:00:00.000001','1000-01-01 00:00:00','1000-01-01 00:00:00.000000',"
    "'1970-01-01 00:00:01.000','1970-01-01 00:00:01','caf\xC3\xA9 \xE2\x82\xAC','',"
    "'\xE2\x9C\x93','a','x',X'00',X'',X'',_utf8mb4'\xC3\xA0 la latin1','',X'','small','',"
    "'null',ST_GeomFromText('POINT(1 2)'),ST_GeomFromText('POINT(-1.5 2.25)',4326),NULL,0,"
    "'2024-02-29 12:00:00.5')",
    "INSERT INTO t (id,ti,tu,si,su,mi,mu,i,iu,bi,bu,d1,d2,d3,d4,f,db,b1,b10,b64,y,dt,tm,tm6,dtm,"
    "dtm6,ts,ts0,vl,vu,c3,cl,ca,bn,vb,bl,tx,mt,lb,e,s,j,g,pt,n,yz,dz) VALUES "
    "(2,127,255,32767,65535,8388607,16777215,2147483647,4294967295,9223372036854775807,"
    "18446744073709551615,99999999.99,"
    "99999999999999999999999999999999999.999999999999999999999999999999,99999,"
    "0.000000001,3.14159,0.1,1,1023,18446744073709551615,2155,'9999-12-31','838:59:59',"
    "'123:45:06.789012','9999-12-31 23:59:59','9999-12-31 23:59:59.999999',"
    "'2038-01-19 03:14:07.999','2038-01-19 03:14:07',REPEAT('\xC3\xBF',20),"
    "REPEAT('\xF0\x9F\x98\x80',300),'\xE2\x82\xAC\xE2\x82\xAC','trailing  ','abcde',"
    "X'01020304',X'FFFE00',X'00FF',REPEAT('z',300),'emoji \xF0\x9F\x98\x80',X'DEADBEEF',"
    "'large','a,c,\xC3\xBC','{\"a\": [1, 2.5, \"x\"], \"b\": null}',"
    "ST_GeomFromText('LINESTRING(0 0,1 1,2 0)'),ST_GeomFromText('POINT(0 0)'),7,2024,"
    "'2000-01-01 00:00:00.001')",
    "INSERT INTO t (id) VALUES (3)",
    "INSERT INTO t (id,dt,dtm,dtm6,ts,y,dz) VALUES (4,'0000-00-00','0000-00-00 00:00:00',"
    "'2024-00-10 00:00:00','0000-00-00 00:00:00',0,'0000-00-00 00:00:00')",
    "INSERT INTO t (id,d1,d4,f,db,tm,tm6,vu) VALUES (5,0.01,-0.000000001,1e-10,-0.0,"
    "'00:00:00','-12:00:00.5','b')",
};

static const char *const LATER[] = {
    "UPDATE t SET vu = 'changed', bu = 9223372036854775808, tm6 = '-01:02:03.000004' WHERE id = 2",
    "DELETE FROM t WHERE id = 3",
    "SET GLOBAL log_bin_compress = ON",
    "INSERT INTO t (id, mt, tx, vu) VALUES (6, REPEAT('compressed \xE2\x9C\x93 ', 100), "
    "REPEAT('\xC3\xA9', 500), 'c')",
    "UPDATE t SET mt = REPEAT('again ', 200) WHERE id = 6",
    "ALTER TABLE t COMMENT 'compressed query event, long enough to be compressed by the server "
    "when log_bin_compress is on, more than two hundred and fifty six bytes of text: "
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
    "89012345678901234567890123456789'",
    "SET GLOBAL log_bin_compress = OFF",
};

typedef struct vrow {
    int used;
    int64_t id;
    char *txt[NCOL]; /* canonical text of each decoded value, NULL for SQL NULL */
} vrow;

static vrow ROWS[MAXROWS];

static void q(MYSQL *m, const char *sql)
{
    if (mysql_query(m, sql)) {
        fprintf(stderr, "query failed: %s: %s\n", sql, mysql_error(m));
        exit(1);
    }
}

static char *hexdup(const char *p, size_t n)
{
    static const char hx[] = "0123456789ABCDEF";
    char *o = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        o[2 * i] = hx[(uint8_t)p[i] >> 4];
        o[2 * i + 1] = hx[(uint8_t)p[i] & 15];
    }
    o[2 * n] = 0;
    return o;
}

/* The canonical text of a decoded cell for comparison kind k. */
static char *cell_text(const sl_mb_cell *c, char k)
{
    char tmp[64];
    if (c->state != SL_CELL_VALUE)
        return NULL;
    switch (k) {
    case 'I':
    case 'D':
    case 'U':
        if (c->type == SL_T_UINT64)
            snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)c->i64);
        else
            snprintf(tmp, sizeof tmp, "%lld", (long long)c->i64);
        return strdup(tmp);
    case 'F':
    case 'G':
        snprintf(tmp, sizeof tmp, "%.17g", c->f64);
        return strdup(tmp);
    case 'X':
        return hexdup(c->p, c->len);
    default: { /* N, H */
        char *o = malloc(c->len + 1);
        memcpy(o, c->p, c->len);
        o[c->len] = 0;
        return o;
    }
    }
}

static vrow *find_row(int64_t id, int create)
{
    for (int i = 0; i < MAXROWS; i++)
        if (ROWS[i].used && ROWS[i].id == id)
            return &ROWS[i];
    if (!create)
        return NULL;
    for (int i = 0; i < MAXROWS; i++)
        if (!ROWS[i].used) {
            ROWS[i].used = 1;
            ROWS[i].id = id;
            return &ROWS[i];
        }
    return NULL;
}

static void drop_row(vrow *r)
{
    for (int i = 0; i < NCOL; i++) {
        free(r->txt[i]);
        r->txt[i] = NULL;
    }
    r->used = 0;
}

/* Maps table column -> CC index by name (the table map's COLUMN_NAME metadata). */
static int cc_index(const char *name)
{
    for (int i = 0; i < NCOL; i++)
        if (strcmp(CC[i].name, name) == 0)
            return i;
    return -1;
}

static void apply(const sl_mb_table *t, const sl_mb_cell *b, const sl_mb_cell *a)
{
    if (b) {
        CHECK(b[0].state == SL_CELL_VALUE);
        vrow *r = find_row(b[0].i64, 0);
        CHECK(r != NULL);
        if (r)
            drop_row(r);
    }
    if (a) {
        vrow *r = find_row(a[0].i64, 1);
        for (uint32_t i = 0; i < t->ncols; i++) {
            int k = t->cols[i].name ? cc_index(t->cols[i].name) : -1;
            CHECK(k >= 0);
            if (k < 0)
                continue;
            CHECK(a[i].state != SL_MB_CELL_ABSENT);
            r->txt[k] = cell_text(&a[i], CC[k].kind);
        }
    }
}

static int values_equal(char kind, const char *sel, const char *dec)
{
    if (!sel || !dec)
        return !sel && !dec;
    if (kind == 'F')
        return (float)strtod(sel, NULL) == (float)strtod(dec, NULL);
    if (kind == 'G')
        return strtod(sel, NULL) == strtod(dec, NULL);
    return strcmp(sel, dec) == 0;
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)sz + 1);
    *n = fread(p, 1, (size_t)sz, f);
    fclose(f);
    return p;
}

int main(void)
{
    const char *sock = getenv("SL_MARIADB_SOCKET");
    char sockbuf[640];
    const char *envf = getenv("SL_MARIADB_ENV");
    FILE *ef = !sock && envf ? fopen(envf, "r") : NULL;
    if (ef) { /* the fixture's env file: SL_MARIADB_SOCKET=... */
        char line[600];
        while (fgets(line, sizeof line, ef))
            if (strncmp(line, "SL_MARIADB_SOCKET=", 18) == 0) {
                snprintf(sockbuf, sizeof sockbuf, "%s", line + 18);
                sockbuf[strcspn(sockbuf, "\n")] = 0;
                sock = sockbuf;
            }
        fclose(ef);
    }
    if (!sock)
        SL_SKIP("SL_MARIADB_SOCKET not set (run under the mariadb fixture)");
    MYSQL *m = mysql_init(NULL);
    if (!mysql_real_connect(m, NULL, "root", NULL, NULL, 0, sock, 0)) {
        fprintf(stderr, "connect: %s\n", mysql_error(m));
        return 1;
    }
    q(m, "SET NAMES utf8mb4");
    q(m, "SET SESSION sql_mode = ''");
    q(m, "SET SESSION time_zone = '+00:00'");
    q(m, "DROP DATABASE IF EXISTS mybin");
    q(m, "CREATE DATABASE mybin");
    q(m, "USE mybin");
    char ddl[8192] = "CREATE TABLE t (";
    for (int i = 0; i < NCOL; i++) {
        strcat(ddl, i ? ", " : "");
        strcat(ddl, CC[i].name);
        strcat(ddl, " ");
        strcat(ddl, CC[i].def);
    }
    strcat(ddl, ") DEFAULT CHARSET = utf8mb4");
    q(m, ddl);
    q(m, "FLUSH BINARY LOGS");
    q(m, "SHOW MASTER STATUS");
    MYSQL_RES *res = mysql_store_result(m);
    MYSQL_ROW row = mysql_fetch_row(res);
    char file[256];
    snprintf(file, sizeof file, "%s", row[0]);
    mysql_free_result(res);
    q(m, "SELECT @@log_bin_basename");
    res = mysql_store_result(m);
    row = mysql_fetch_row(res);
    char path[1024];
    snprintf(path, sizeof path, "%s", row[0]);
    mysql_free_result(res);
    char *slash = strrchr(path, '/');
    if (slash)
        slash[1] = 0;
    strncat(path, file, sizeof path - strlen(path) - 1);

    for (size_t i = 0; i < sizeof INSERTS / sizeof *INSERTS; i++)
        q(m, INSERTS[i]);
    q(m, "BEGIN");
    q(m, "INSERT INTO t (id, i) VALUES (7, 1), (8, 2)");
    q(m, "UPDATE t SET i = i + 10 WHERE id IN (7, 8)");
    q(m, "COMMIT");
    for (size_t i = 0; i < sizeof LATER / sizeof *LATER; i++)
        q(m, LATER[i]);
    q(m, "FLUSH BINARY LOGS");

    size_t n;
    uint8_t *bin = slurp(path, &n);
    if (!bin) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    CHECK(n > 4 && memcmp(bin,
                          "\xFE"
                          "bin",
                          4) == 0);
    sl_mb_decoder *d = sl_mb_decoder_new();
    char err[256];
    size_t off = 4;
    int events = 0, crc_checked = 0, row_events = 0, compressed_rows = 0, compressed_query = 0;
    int xids = 0, gtids = 0;
    while (off + SL_MB_HEADER_LEN <= n) {
        sl_mb_header h;
        if (sl_mb_header_parse(bin + off, n - off, &h, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            CHECK(0);
            break;
        }
        sl_mb_event ev;
        int rc = sl_mb_decode(d, bin + off, h.event_size, &ev, err, sizeof err);
        if (rc) {
            fprintf(stderr, "event at %zu: %s\n", off, err);
            CHECK(0);
            break;
        }
        events++;
        crc_checked += ev.checksum_checked;
        if (ev.h.type == SL_MB_XID)
            xids++;
        if (ev.h.type == SL_MB_MARIA_GTID)
            gtids++;
        if (ev.h.type == SL_MB_MARIA_QUERY_COMPRESSED) {
            compressed_query++;
            CHECK(strstr(ev.query, "compressed query event") != NULL);
        }
        if (ev.rows_kind && ev.table && strcmp(ev.table->name, "t") == 0) {
            row_events++;
            if (ev.h.type >= SL_MB_MARIA_WRITE_ROWS_COMPRESSED_V1)
                compressed_rows++;
            const sl_mb_cell *b, *a;
            while ((rc = sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err)) == 1)
                apply(ev.table, b, a);
            if (rc < 0) {
                fprintf(stderr, "rows: %s\n", err);
                CHECK(0);
            }
        }
        off += h.event_size;
    }
    CHECK_EQ_INT(off, n);
    CHECK(events > 20);
    CHECK_EQ_INT(crc_checked, events); /* binlog_checksum=CRC32 */
    CHECK(row_events >= 8);
    CHECK(compressed_rows >= 2);
    CHECK(compressed_query >= 1);
    /* MariaDB opens each transaction with a GTID event (no BEGIN query) and ends it with XID */
    CHECK_EQ_INT(gtids, 11); /* 10 transactions and the ALTER */
    CHECK_EQ_INT(xids, 10);
    fprintf(stderr,
            "%d events (%d GTID, %d XID), %d row events (%d compressed), %d compressed queries\n",
            events, gtids, xids, row_events, compressed_rows, compressed_query);

    /* compare with SELECT */
    char sel[8192] = "SELECT ";
    for (int i = 0; i < NCOL; i++) {
        const char *x = CC[i].expr, *at = strstr(x, "%s");
        strcat(sel, i ? ", " : "");
        strncat(sel, x, (size_t)(at - x));
        strcat(sel, CC[i].name);
        strcat(sel, at + 2);
    }
    strcat(sel, " FROM t ORDER BY id");
    q(m, sel);
    res = mysql_store_result(m);
    int nrows = 0, compared = 0;
    while ((row = mysql_fetch_row(res)) != NULL) {
        nrows++;
        vrow *r = find_row(strtoll(row[0], NULL, 10), 0);
        CHECK(r != NULL);
        if (!r)
            continue;
        for (int i = 0; i < NCOL; i++) {
            compared++;
            if (!values_equal(CC[i].kind, row[i], r->txt[i])) {
                fprintf(stderr, "id %s column %s: SELECT %s, binlog %s\n", row[0], CC[i].name,
                        row[i] ? row[i] : "NULL", r->txt[i] ? r->txt[i] : "NULL");
                CHECK(0);
            }
        }
        drop_row(r);
    }
    mysql_free_result(res);
    for (int i = 0; i < MAXROWS; i++)
        if (ROWS[i].used) {
            fprintf(stderr, "id %lld decoded but not in SELECT\n", (long long)ROWS[i].id);
            CHECK(0);
            drop_row(&ROWS[i]);
        }
    CHECK_EQ_INT(nrows, 7);
    fprintf(stderr, "%d rows, %d values compared with SELECT\n", nrows, compared);
    free(bin);
    sl_mb_decoder_free(d);
    q(m, "DROP DATABASE mybin");
    mysql_close(m);
    SL_DONE();
}
