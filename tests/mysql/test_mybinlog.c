/* Unit tests of the mysql source's binlog decoder (mybinlog.c) on events built byte by byte from
 * the documented MySQL and MariaDB formats. Tests named format_mysql_* cover MySQL-only events
 * and encodings (binary JSON, MySQL GTIDs, TRANSACTION_PAYLOAD): no MySQL server can be had
 * here, so they are checked at the format level only. */
#include "mybinlog.h"
#include "sl_test.h"

#include <zlib.h>
#include <zstd.h>

/* ---- event builder ---- */
typedef struct eb {
    uint8_t b[16384];
    size_t n;
} eb;

static void put(eb *e, const void *p, size_t n)
{
    memcpy(e->b + e->n, p, n);
    e->n += n;
}
static void u8(eb *e, uint64_t v)
{
    e->b[e->n++] = (uint8_t)v;
}
static void le(eb *e, uint64_t v, unsigned k)
{
    for (unsigned i = 0; i < k; i++)
        u8(e, v >> (8 * i));
}
static void be(eb *e, uint64_t v, unsigned k)
{
    for (unsigned i = k; i-- > 0;)
        u8(e, v >> (8 * i));
}
static void packed(eb *e, uint64_t v)
{
    if (v < 251)
        u8(e, v);
    else if (v < 65536) {
        u8(e, 252);
        le(e, v, 2);
    } else {
        u8(e, 254);
        le(e, v, 8);
    }
}
static void pstr(eb *e, const char *s) /* packed length + bytes */
{
    packed(e, strlen(s));
    put(e, s, strlen(s));
}

static void ev_start(eb *e, uint8_t type)
{
    e->n = 0;
    le(e, 1700000000, 4);
    u8(e, type);
    le(e, 7, 4);    /* server_id */
    le(e, 0, 4);    /* event_size, patched */
    le(e, 4242, 4); /* log_pos */
    le(e, 0, 2);
}
/* Patches the size and appends a CRC32 when crc. */
static void ev_end(eb *e, int crc)
{
    size_t size = e->n + (crc ? 4 : 0);
    for (int i = 0; i < 4; i++)
        e->b[9 + i] = (uint8_t)(size >> (8 * i));
    if (crc) {
        uint32_t c = (uint32_t)crc32(0L, e->b, (uInt)e->n);
        le(e, c, 4);
    }
}

/* A FORMAT_DESCRIPTION of a checksum-aware server (alg 0 or 1). Post-header lengths as servers
 * send them; TRANSACTION_PAYLOAD's is deliberately non-zero (its body has no fixed part). */
static void fde(eb *e, const char *ver, int alg)
{
    ev_start(e, SL_MB_FORMAT_DESCRIPTION);
    le(e, 4, 2);
    char v[50] = {0};
    memcpy(v, ver, strlen(ver));
    put(e, v, 50);
    le(e, 0, 4);
    u8(e, 19);
    uint8_t ph[171] = {0};
    ph[SL_MB_QUERY - 1] = 13;
    ph[SL_MB_ROTATE - 1] = 8;
    ph[SL_MB_FORMAT_DESCRIPTION - 1] = 98;
    ph[SL_MB_TABLE_MAP - 1] = 8;
    for (int t = SL_MB_WRITE_ROWS_V1; t <= SL_MB_DELETE_ROWS_V1; t++)
        ph[t - 1] = 8;
    for (int t = SL_MB_WRITE_ROWS_V2; t <= SL_MB_DELETE_ROWS_V2; t++)
        ph[t - 1] = 10;
    ph[SL_MB_MYSQL_GTID - 1] = ph[SL_MB_MYSQL_ANONYMOUS_GTID - 1] = 42;
    ph[SL_MB_TRANSACTION_PAYLOAD - 1] = 40;
    ph[SL_MB_MARIA_GTID - 1] = 19;
    ph[SL_MB_MARIA_QUERY_COMPRESSED - 1] = 13;
    for (int t = SL_MB_MARIA_WRITE_ROWS_COMPRESSED_V1; t <= SL_MB_MARIA_DELETE_ROWS_COMPRESSED; t++)
        ph[t - 1] = 8;
    put(e, ph, strstr(ver, "MariaDB") ? 171 : 41);
    u8(e, alg);
    le(e, 0, 4); /* checksum slot */
    size_t size = e->n;
    for (int i = 0; i < 4; i++)
        e->b[9 + i] = (uint8_t)(size >> (8 * i));
    if (alg) {
        uint32_t c = (uint32_t)crc32(0L, e->b, (uInt)(e->n - 4));
        for (int i = 0; i < 4; i++)
            e->b[e->n - 4 + i] = (uint8_t)(c >> (8 * i));
    }
}

static sl_mb_decoder *dec_with(const char *ver, int alg)
{
    sl_mb_decoder *d = sl_mb_decoder_new();
    eb e;
    sl_mb_event ev;
    char err[256];
    fde(&e, ver, alg);
    int rc = sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err);
    if (rc)
        fprintf(stderr, "fde: %s\n", err);
    CHECK_EQ_INT(rc, 0);
    return d;
}

/* Every strict prefix of an event, declared with its real length (as a short read would be),
 * and every body truncation with a size that agrees (as a lying server would send), must fail or
 * decode without reading out of bounds (ASan: each copy is an exact-size heap buffer). */
static void check_truncations(const eb *e, const char *ver, int alg, const eb *pre)
{
    char err[256];
    for (size_t n = 0; n < e->n; n++) {
        sl_mb_decoder *d = dec_with(ver, alg);
        sl_mb_event ev;
        if (pre)
            CHECK_EQ_INT(sl_mb_decode(d, pre->b, pre->n, &ev, err, sizeof err), 0);
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, e->b, n);
        CHECK_EQ_INT(sl_mb_decode(d, p, n, &ev, err, sizeof err), -1);
        CHECK(err[0] != 0);
        if (n >= SL_MB_HEADER_LEN) { /* same bytes, size patched: decoders see a short body */
            for (int i = 0; i < 4; i++)
                p[9 + i] = (uint8_t)(n >> (8 * i));
            if (alg && n >= SL_MB_HEADER_LEN + 4) {
                uint32_t c = (uint32_t)crc32(0L, p, (uInt)(n - 4));
                for (int i = 0; i < 4; i++)
                    p[n - 4 + i] = (uint8_t)(c >> (8 * i));
            }
            if (sl_mb_decode(d, p, n, &ev, err, sizeof err) == 0 && ev.rows_kind) {
                const sl_mb_cell *b, *a;
                while (sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err) == 1)
                    ;
            }
        }
        free(p);
        sl_mb_decoder_free(d);
    }
}

#define MARIA "10.11.19-MariaDB-log"
#define MYSQL "8.0.36"

/* ---- header, FORMAT_DESCRIPTION, checksums ---- */
static void test_header_and_fde(void)
{
    char err[256];
    sl_mb_header h;
    uint8_t shortb[10] = {0};
    CHECK_EQ_INT(sl_mb_header_parse(shortb, sizeof shortb, &h, err, sizeof err), -1);
    CHECK(strstr(err, "truncated") != NULL);

    eb e;
    fde(&e, MARIA, 1);
    CHECK_EQ_INT(sl_mb_header_parse(e.b, e.n, &h, err, sizeof err), 0);
    CHECK_EQ_INT(h.type, SL_MB_FORMAT_DESCRIPTION);
    CHECK_EQ_INT(h.server_id, 7);
    CHECK_EQ_INT(h.log_pos, 4242);
    CHECK_EQ_INT(h.event_size, e.n);
    CHECK_EQ_INT(h.timestamp, 1700000000);

    sl_mb_decoder *d = sl_mb_decoder_new();
    sl_mb_event ev;
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_INT(ev.binlog_version, 4);
    CHECK_EQ_STR(ev.server_version, MARIA);
    CHECK_EQ_INT(ev.mariadb, 1);
    CHECK_EQ_INT(ev.checksum_alg, 1);
    CHECK_EQ_INT(ev.checksum_checked, 1);

    /* checksums are now expected: an XID with a good CRC decodes, a flipped bit fails */
    eb x;
    ev_start(&x, SL_MB_XID);
    le(&x, 987654321, 8);
    ev_end(&x, 1);
    CHECK_EQ_INT(sl_mb_decode(d, x.b, x.n, &ev, err, sizeof err), 0);
    CHECK_EQ_INT(ev.xid, 987654321);
    CHECK_EQ_INT(ev.checksum_checked, 1);
    x.b[20] ^= 1;
    CHECK_EQ_INT(sl_mb_decode(d, x.b, x.n, &ev, err, sizeof err), -1);
    CHECK(strstr(err, "checksum mismatch") != NULL && strstr(err, "4242") != NULL);
    x.b[20] ^= 1;
    x.b[x.n - 1] ^= 0x80; /* the stored CRC itself */
    CHECK_EQ_INT(sl_mb_decode(d, x.b, x.n, &ev, err, sizeof err), -1);
    /* an XID without a CRC while checksums are on: its last 4 bytes do not match */
    eb y;
    ev_start(&y, SL_MB_XID);
    le(&y, 5, 8);
    ev_end(&y, 0);
    CHECK_EQ_INT(sl_mb_decode(d, y.b, y.n, &ev, err, sizeof err), -1);

    /* a corrupted FORMAT_DESCRIPTION is refused by its own CRC */
    e.b[30] ^= 4;
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), -1);
    CHECK(strstr(err, "FORMAT_DESCRIPTION") != NULL);
    sl_mb_decoder_free(d);

    /* checksum off: FDE with alg 0 switches verification off */
    d = dec_with(MYSQL, 0);
    CHECK_EQ_INT(sl_mb_decode(d, y.b, y.n, &ev, err, sizeof err), 0);
    CHECK_EQ_INT(ev.checksum_checked, 0);
    /* before any FDE the caller's setting rules (the artificial ROTATE) */
    sl_mb_decoder_set_checksum(d, 1);
    CHECK_EQ_INT(sl_mb_decode(d, y.b, y.n, &ev, err, sizeof err), -1);
    sl_mb_decoder_free(d);

    /* size field larger than the bytes, and smaller */
    d = sl_mb_decoder_new();
    x.b[9] = 200;
    CHECK_EQ_INT(sl_mb_decode(d, x.b, x.n, &ev, err, sizeof err), -1);
    x.b[9] = 10;
    CHECK_EQ_INT(sl_mb_decode(d, x.b, x.n, &ev, err, sizeof err), -1);
    sl_mb_decoder_free(d);

    fde(&e, MARIA, 1);
    check_truncations(&e, MARIA, 1, NULL);
}

/* ---- ROTATE, HEARTBEAT, XID, QUERY ---- */
static void test_control_events(void)
{
    char err[256];
    sl_mb_decoder *d = dec_with(MARIA, 1);
    sl_mb_event ev;
    eb e;

    ev_start(&e, SL_MB_ROTATE);
    le(&e, 4, 8);
    put(&e, "mariadb-bin.000002", 18);
    e.b[17] = SL_MB_F_ARTIFICIAL;
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_INT(ev.pos, 4);
    CHECK_EQ_STR(ev.file, "mariadb-bin.000002");
    CHECK(ev.h.flags & SL_MB_F_ARTIFICIAL);
    check_truncations(&e, MARIA, 1, NULL);

    ev_start(&e, SL_MB_HEARTBEAT);
    put(&e, "mariadb-bin.000002", 18);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_STR(ev.file, "mariadb-bin.000002");
    CHECK_EQ_INT(ev.pos, 4242);

    ev_start(&e, SL_MB_XID);
    le(&e, UINT64_C(0xFFFFFFFFFFFFFFF0), 8);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK(ev.xid == UINT64_C(0xFFFFFFFFFFFFFFF0));
    check_truncations(&e, MARIA, 1, NULL);

    /* QUERY: thread 11, exec 0, db "shop", error 0, status vars (3 bytes), "BEGIN" */
    ev_start(&e, SL_MB_QUERY);
    le(&e, 11, 4);
    le(&e, 0, 4);
    u8(&e, 4);
    le(&e, 0, 2);
    le(&e, 3, 2);
    put(&e, "\x00\x01\x02", 3);
    put(&e, "shop\0", 5);
    put(&e, "BEGIN", 5);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_STR(ev.db, "shop");
    CHECK_EQ_STR(ev.query, "BEGIN");
    CHECK_EQ_INT(ev.query_len, 5);
    CHECK_EQ_INT(ev.thread_id, 11);
    check_truncations(&e, MARIA, 1, NULL);

    /* a DDL without default database */
    const char *ddl = "ALTER TABLE shop.t ADD COLUMN z INT DEFAULT 3";
    ev_start(&e, SL_MB_QUERY);
    le(&e, 12, 4);
    le(&e, 1, 4);
    u8(&e, 0);
    le(&e, 0, 2);
    le(&e, 0, 2);
    u8(&e, 0);
    put(&e, ddl, strlen(ddl));
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_STR(ev.db, "");
    CHECK_EQ_STR(ev.query, ddl);
    CHECK_EQ_INT(ev.exec_time, 1);

    /* MariaDB QUERY_COMPRESSED: the query is zlib-compressed behind a 0x80|lenlen header */
    uint8_t z[256];
    uLongf zl = sizeof z;
    CHECK_EQ_INT(compress(z, &zl, (const Bytef *)ddl, (uLong)strlen(ddl)), Z_OK);
    ev_start(&e, SL_MB_MARIA_QUERY_COMPRESSED);
    le(&e, 12, 4);
    le(&e, 0, 4);
    u8(&e, 4);
    le(&e, 0, 2);
    le(&e, 0, 2);
    put(&e, "shop\0", 5);
    u8(&e, 0x81);
    u8(&e, strlen(ddl));
    put(&e, z, zl);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_STR(ev.query, ddl);
    CHECK_EQ_STR(ev.db, "shop");
    check_truncations(&e, MARIA, 1, NULL);
    /* declared length that disagrees with the data */
    e.b[19 + 13 + 5 + 1] = (uint8_t)(strlen(ddl) + 1);
    e.n -= 4;
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), -1);
    CHECK(strstr(err, "zlib") != NULL);
    sl_mb_decoder_free(d);
}

/* ---- GTIDs ---- */
static void test_maria_gtid(void)
{
    char err[256];
    sl_mb_decoder *d = dec_with(MARIA, 1);
    sl_mb_event ev;
    eb e;
    ev_start(&e, SL_MB_MARIA_GTID);
    le(&e, 12345, 8);
    le(&e, 3, 4);
    u8(&e, 2); /* group commit id follows */
    le(&e, 99, 8);
    le(&e, 0, 2); /* padding to the post-header length */
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_STR(ev.gtid_text, "3-7-12345");
    CHECK_EQ_INT(ev.gtid_seq, 12345);
    CHECK_EQ_INT(ev.gtid_domain, 3);
    CHECK_EQ_INT(ev.gtid_commit_id, 99);
    check_truncations(&e, MARIA, 1, NULL);

    ev_start(&e, SL_MB_MARIA_GTID);
    le(&e, 7, 8);
    le(&e, 0, 4);
    u8(&e, 1); /* standalone (DDL) */
    put(&e, "\0\0\0\0\0\0", 6);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_STR(ev.gtid_text, "0-7-7");
    CHECK(ev.gtid_flags & 1);

    ev_start(&e, SL_MB_MARIA_GTID_LIST);
    le(&e, 2, 4);
    le(&e, 0, 4);
    le(&e, 1, 4);
    le(&e, 100, 8);
    le(&e, 5, 4);
    le(&e, 2, 4);
    le(&e, UINT64_C(1) << 40, 8);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_INT(ev.n_gtids, 2);
    uint32_t dom, srv;
    uint64_t seq;
    sl_mb_gtid_list_at(&ev, 1, &dom, &srv, &seq);
    CHECK(dom == 5 && srv == 2 && seq == UINT64_C(1) << 40);
    sl_mb_gtid_list_at(&ev, 0, &dom, &srv, &seq);
    CHECK(dom == 0 && srv == 1 && seq == 100);
    check_truncations(&e, MARIA, 1, NULL);
    sl_mb_decoder_free(d);
}

static void test_format_mysql_gtid(void)
{
    char err[256];
    sl_mb_decoder *d = dec_with(MYSQL, 1);
    sl_mb_event ev;
    eb e;
    static const uint8_t sid[16] = {0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1,
                                    0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62};
    ev_start(&e, SL_MB_MYSQL_GTID);
    u8(&e, 1);
    put(&e, sid, 16);
    le(&e, 23, 8);
    u8(&e, 2);
    le(&e, 5, 8);
    le(&e, 6, 8);
    le(&e, 1700000000123456ull, 7); /* immediate commit ts, no original ts */
    packed(&e, 1234);               /* transaction length */
    le(&e, 80036, 4);               /* server version */
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_STR(ev.gtid_text, "3e11fa47-71ca-11e1-9e33-c80aa9429562:23");
    CHECK_EQ_INT(ev.gtid_gno, 23);
    CHECK_EQ_INT(ev.last_committed, 5);
    CHECK_EQ_INT(ev.sequence_number, 6);
    CHECK(ev.commit_ts_us == 1700000000123456ull);
    check_truncations(&e, MYSQL, 1, NULL);

    ev_start(&e, SL_MB_MYSQL_ANONYMOUS_GTID);
    u8(&e, 1);
    put(&e, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    le(&e, 0, 8);
    u8(&e, 2);
    le(&e, 0, 8);
    le(&e, 1, 8);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_STR(ev.gtid_text, "");
    CHECK_EQ_INT(ev.sequence_number, 1);
    sl_mb_decoder_free(d);
}

/* ---- the all-types table ---- */
enum { NC = 37 };
typedef struct colspec {
    uint8_t type;
    int nmeta;
    uint8_t m0, m1;
} colspec;
static const colspec COLS[NC] = {
    {SL_MB_T_TINY, 0, 0, 0},          /* 0  TINYINT */
    {SL_MB_T_TINY, 0, 0, 0},          /* 1  TINYINT UNSIGNED */
    {SL_MB_T_SHORT, 0, 0, 0},         /* 2  SMALLINT */
    {SL_MB_T_INT24, 0, 0, 0},         /* 3  MEDIUMINT */
    {SL_MB_T_LONG, 0, 0, 0},          /* 4  INT UNSIGNED */
    {SL_MB_T_LONGLONG, 0, 0, 0},      /* 5  BIGINT UNSIGNED */
    {SL_MB_T_LONGLONG, 0, 0, 0},      /* 6  BIGINT */
    {SL_MB_T_NEWDECIMAL, 2, 14, 4},   /* 7  DECIMAL(14,4) */
    {SL_MB_T_NEWDECIMAL, 2, 14, 4},   /* 8  DECIMAL(14,4) */
    {SL_MB_T_FLOAT, 1, 4, 0},         /* 9  FLOAT */
    {SL_MB_T_DOUBLE, 1, 8, 0},        /* 10 DOUBLE */
    {SL_MB_T_BIT, 2, 1, 0},           /* 11 BIT(1) */
    {SL_MB_T_BIT, 2, 0, 8},           /* 12 BIT(64) */
    {SL_MB_T_YEAR, 0, 0, 0},          /* 13 YEAR */
    {SL_MB_T_DATE, 0, 0, 0},          /* 14 DATE */
    {SL_MB_T_TIME2, 1, 0, 0},         /* 15 TIME */
    {SL_MB_T_TIME2, 1, 6, 0},         /* 16 TIME(6) */
    {SL_MB_T_DATETIME2, 1, 6, 0},     /* 17 DATETIME(6) */
    {SL_MB_T_TIMESTAMP2, 1, 3, 0},    /* 18 TIMESTAMP(3) */
    {SL_MB_T_VARCHAR, 2, 10, 0},      /* 19 VARCHAR(10) latin1 */
    {SL_MB_T_VARCHAR, 2, 0xB0, 0x04}, /* 20 VARCHAR(300) utf8mb4: 1200 bytes */
    {SL_MB_T_STRING, 2, 0xCE, 0xFC},  /* 21 CHAR(255) utf8mb4: 1020 bytes */
    {SL_MB_T_STRING, 2, 0xFE, 4},     /* 22 BINARY(4) */
    {SL_MB_T_BLOB, 1, 2, 0},          /* 23 BLOB */
    {SL_MB_T_BLOB, 1, 2, 0},          /* 24 TEXT utf8mb4 */
    {SL_MB_T_STRING, 2, 0xF7, 1},     /* 25 ENUM('small','medium','large') */
    {SL_MB_T_STRING, 2, 0xF8, 1},     /* 26 SET('a','b','c') */
    {SL_MB_T_BLOB, 1, 4, 0},          /* 27 JSON on MariaDB: LONGTEXT utf8mb4_bin */
    {SL_MB_T_GEOMETRY, 1, 4, 0},      /* 28 POINT */
    {SL_MB_T_LONG, 0, 0, 0},          /* 29 INT NULL */
    {SL_MB_T_DATETIME2, 1, 0, 0},     /* 30 DATETIME zero */
    {SL_MB_T_DATE, 0, 0, 0},          /* 31 DATE zero */
    {SL_MB_T_TIMESTAMP2, 1, 0, 0},    /* 32 TIMESTAMP zero */
    {SL_MB_T_TIME, 0, 0, 0},          /* 33 old TIME */
    {SL_MB_T_DATETIME, 0, 0, 0},      /* 34 old DATETIME */
    {SL_MB_T_TIMESTAMP, 0, 0, 0},     /* 35 old TIMESTAMP */
    {SL_MB_T_NEWDECIMAL, 2, 5, 0},    /* 36 DECIMAL(5,0) */
};

/* The optional metadata of the table above (binlog_row_metadata=FULL). */
static void optmeta(eb *e, int with_values)
{
    eb f;
    /* SIGNEDNESS: numeric columns 0..10; unsigned are 1, 4, 5 */
    u8(e, 1);
    packed(e, 2);
    u8(e, 0x4C);
    u8(e, 0x00);
    /* DEFAULT_CHARSET: utf8mb4_general_ci; character column 0 (col 19) latin1, 3 and 4 (22, 23)
     * binary; 5 (24) and 6 (27) keep the default */
    f.n = 0;
    packed(&f, 45);
    packed(&f, 0);
    packed(&f, 8);
    packed(&f, 3);
    packed(&f, 63);
    packed(&f, 4);
    packed(&f, 63);
    u8(e, 2);
    packed(e, f.n);
    put(e, f.b, f.n);
    /* COLUMN_NAME */
    f.n = 0;
    for (int i = 0; i < NC; i++) {
        char nm[8];
        snprintf(nm, sizeof nm, "c%d", i);
        pstr(&f, nm);
    }
    u8(e, 4);
    packed(e, f.n);
    put(e, f.b, f.n);
    if (with_values) {
        f.n = 0; /* SET_STR_VALUE */
        packed(&f, 3);
        pstr(&f, "a");
        pstr(&f, "b");
        pstr(&f, "c");
        u8(e, 5);
        packed(e, f.n);
        put(e, f.b, f.n);
        f.n = 0; /* ENUM_STR_VALUE */
        packed(&f, 3);
        pstr(&f, "small");
        pstr(&f, "medium");
        pstr(&f, "large");
        u8(e, 6);
        packed(e, f.n);
        put(e, f.b, f.n);
    }
    u8(e, 7); /* GEOMETRY_TYPE: point */
    packed(e, 1);
    packed(e, 1);
    u8(e, 8); /* SIMPLE_PRIMARY_KEY: c0 */
    packed(e, 1);
    packed(e, 0);
    u8(e, 99); /* an unknown future field is skipped */
    packed(e, 2);
    u8(e, 1);
    u8(e, 2);
}

static void table_map(eb *e, uint64_t id, int crc, int with_values)
{
    ev_start(e, SL_MB_TABLE_MAP);
    le(e, id, 6);
    le(e, 1, 2);
    u8(e, 4);
    put(e, "shop\0", 5);
    u8(e, 1);
    put(e, "t\0", 2);
    packed(e, NC);
    for (int i = 0; i < NC; i++)
        u8(e, COLS[i].type);
    size_t ml = 0;
    for (int i = 0; i < NC; i++)
        ml += (size_t)COLS[i].nmeta;
    packed(e, ml);
    for (int i = 0; i < NC; i++) {
        if (COLS[i].nmeta >= 1)
            u8(e, COLS[i].m0);
        if (COLS[i].nmeta == 2)
            u8(e, COLS[i].m1);
    }
    uint8_t nulls[(NC + 7) / 8];
    memset(nulls, 0xFF, sizeof nulls);
    nulls[0] &= 0xFE; /* c0 NOT NULL */
    put(e, nulls, sizeof nulls);
    optmeta(e, with_values);
    ev_end(e, crc);
}

static uint64_t dt2(int y, int mo, int d, int h, int mi, int s)
{
    uint64_t ymd = ((uint64_t)(y * 13 + mo) << 5) | (uint64_t)d;
    uint64_t hms = (uint64_t)(h << 12 | mi << 6 | s);
    return (ymd << 17 | hms) + UINT64_C(0x8000000000);
}

/* One row image with every column present (c29 NULL). */
static void all_types_image(eb *e)
{
    uint8_t nulls[(NC + 7) / 8] = {0};
    nulls[29 / 8] |= 1u << (29 % 8);
    put(e, nulls, sizeof nulls);
    u8(e, 0xFB);                               /* 0: -5 */
    u8(e, 250);                                /* 1: 250 */
    le(e, (uint16_t)-300, 2);                  /* 2 */
    le(e, 0x800000, 3);                        /* 3: -8388608 */
    le(e, 0xFFFFFFFF, 4);                      /* 4: 4294967295 */
    le(e, UINT64_MAX, 8);                      /* 5: 18446744073709551615 */
    le(e, UINT64_C(1) << 63, 8);               /* 6: INT64_MIN */
    put(e, "\x81\x0D\xFB\x38\xD2\x04\xD2", 7); /* 7: 1234567890.1234 (MySQL's decimal.c) */
    put(e, "\x7E\xF2\x04\xC7\x2D\xFB\x2D", 7); /* 8: -1234567890.1234 */
    float f = 1.5f;
    uint32_t fb;
    memcpy(&fb, &f, 4);
    le(e, fb, 4); /* 9 */
    double dv = -2.25;
    uint64_t db;
    memcpy(&db, &dv, 8);
    le(e, db, 8);                         /* 10 */
    u8(e, 1);                             /* 11: b'1' */
    be(e, UINT64_MAX, 8);                 /* 12 */
    u8(e, 124);                           /* 13: 2024 */
    le(e, 2024u << 9 | 2u << 5 | 29u, 3); /* 14: 2024-02-29 */
    /* 15: TIME -838:59:59 */
    be(e, (uint64_t)(0x800000 - (838 << 12 | 59 << 6 | 59)), 3);
    /* 16: TIME(6) 25:00:00.500000 */
    be(e, (((uint64_t)(25 << 12) << 24) | 500000) + UINT64_C(0x800000000000), 6);
    be(e, dt2(2024, 12, 31, 23, 59, 59), 5); /* 17: DATETIME(6) ...999999 */
    be(e, 999999, 3);
    be(e, 1700000000, 4); /* 18: TIMESTAMP(3) .123 */
    be(e, 1230, 2);
    u8(e, 7); /* 19: latin1 "café €" */
    put(e, "caf\xE9 \x80!", 7);
    le(e, 10, 2); /* 20: utf8mb4, 2-byte length */
    put(e, "h\xC3\xA9llo \xE2\x9C\x93", 10);
    le(e, 3, 2); /* 21: CHAR(255): 2-byte length, trailing spaces not logged */
    put(e, "abc", 3);
    u8(e, 4); /* 22: BINARY(4) */
    put(e, "ab\0\0", 4);
    le(e, 3, 2); /* 23: BLOB */
    put(e, "\x00\x01\xFF", 3);
    le(e, 4, 2); /* 24: TEXT */
    put(e, "text", 4);
    u8(e, 2);    /* 25: ENUM 'medium' */
    u8(e, 0x5);  /* 26: SET 'a,c' */
    le(e, 7, 4); /* 27: JSON as text */
    put(e, "{\"a\":1}", 7);
    le(e, 25, 4); /* 28: POINT(1 2), SRID 0 */
    put(e, "\0\0\0\0\x01\x01\0\0\0\0\0\0\0\0\0\xF0\x3F\0\0\0\0\0\0\0\x40", 25);
    /* 29: NULL, nothing */
    be(e, UINT64_C(0x8000000000), 5);   /* 30: '0000-00-00 00:00:00' */
    le(e, 0, 3);                        /* 31: '0000-00-00' */
    be(e, 0, 4);                        /* 32: TIMESTAMP 0 */
    le(e, (uint32_t)-123456, 3);        /* 33: old TIME -12:34:56 */
    le(e, UINT64_C(20010203040506), 8); /* 34: old DATETIME */
    le(e, 1000, 4);                     /* 35: old TIMESTAMP */
    put(e, "\x80\x00\x00", 3);          /* 36: DECIMAL(5,0) 0 */
}

static void check_str(const sl_mb_cell *c, const char *want)
{
    CHECK_EQ_INT(c->state, SL_CELL_VALUE);
    CHECK_EQ_INT(c->len, strlen(want));
    if (c->len == strlen(want) && memcmp(c->p, want, c->len) != 0)
        fprintf(stderr, "  got '%.*s' want '%s'\n", (int)c->len, c->p, want);
    CHECK(c->len == strlen(want) && memcmp(c->p, want, c->len) == 0);
}

static void check_all_types(const sl_mb_cell *c)
{
    CHECK_EQ_INT(c[0].i64, -5);
    CHECK_EQ_INT(c[1].i64, 250);
    CHECK_EQ_INT(c[2].i64, -300);
    CHECK_EQ_INT(c[3].i64, -8388608);
    CHECK_EQ_INT(c[4].i64, 4294967295LL);
    CHECK(c[5].type == SL_T_UINT64 && (uint64_t)c[5].i64 == UINT64_MAX);
    CHECK(c[6].type == SL_T_INT64 && c[6].i64 == INT64_MIN);
    CHECK(c[7].type == SL_T_DECIMAL);
    check_str(&c[7], "1234567890.1234");
    check_str(&c[8], "-1234567890.1234");
    CHECK(c[9].type == SL_T_DOUBLE && c[9].f64 == 1.5);
    CHECK(c[10].f64 == -2.25);
    CHECK(c[11].type == SL_T_INT64 && c[11].i64 == 1);
    CHECK(c[12].type == SL_T_UINT64 && (uint64_t)c[12].i64 == UINT64_MAX);
    CHECK_EQ_INT(c[13].i64, 2024);
    CHECK(c[14].type == SL_T_DATE);
    CHECK_EQ_INT(c[14].i64, sl_mb_days_from_civil(2024, 2, 29));
    CHECK_EQ_INT(c[14].i64, 19782);
    CHECK(c[15].type == SL_T_TIME);
    CHECK_EQ_INT(c[15].i64, -(838LL * 3600 + 59 * 60 + 59) * 1000000);
    CHECK_EQ_INT(c[16].i64, 25LL * 3600 * 1000000 + 500000);
    CHECK(c[17].type == SL_T_TIMESTAMP);
    CHECK_EQ_INT(c[17].i64, 1735689599999999LL);
    CHECK(c[18].type == SL_T_TIMESTAMPTZ);
    CHECK_EQ_INT(c[18].i64, 1700000000123000LL);
    CHECK(c[19].type == SL_T_STRING);
    check_str(&c[19], "caf\xC3\xA9 \xE2\x82\xAC!");
    check_str(&c[20], "h\xC3\xA9llo \xE2\x9C\x93");
    check_str(&c[21], "abc");
    CHECK(c[22].type == SL_T_BINARY && c[22].len == 4 && memcmp(c[22].p, "ab\0\0", 4) == 0);
    CHECK(c[23].type == SL_T_BINARY && c[23].len == 3 && memcmp(c[23].p, "\x00\x01\xFF", 3) == 0);
    CHECK(c[24].type == SL_T_STRING);
    check_str(&c[24], "text");
    CHECK(c[25].type == SL_T_STRING);
    check_str(&c[25], "medium");
    check_str(&c[26], "a,c");
    check_str(&c[27], "{\"a\":1}");
    check_str(&c[28], "000000000101000000000000000000F03F0000000000000040");
    CHECK_EQ_INT(c[29].state, SL_CELL_NULL);
    CHECK_EQ_INT(c[29].invalid, 0);
    CHECK(c[30].state == SL_CELL_NULL && c[30].invalid == 1);
    CHECK(c[31].state == SL_CELL_NULL && c[31].invalid == 1);
    CHECK(c[32].state == SL_CELL_NULL && c[32].invalid == 1);
    CHECK_EQ_INT(c[33].i64, -(12LL * 3600 + 34 * 60 + 56) * 1000000);
    CHECK_EQ_INT(c[34].i64, 981173106LL * 1000000);
    CHECK_EQ_INT(c[35].i64, 1000LL * 1000000);
    check_str(&c[36], "0");
}

static void test_table_map(void)
{
    char err[256];
    sl_mb_decoder *d = dec_with(MARIA, 1);
    sl_mb_event ev;
    eb e;
    table_map(&e, 77, 1, 1);
    int rc = sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    CHECK_EQ_INT(rc, 0);
    sl_mb_table *t = ev.table;
    CHECK(t != NULL && t == sl_mb_table_get(d, 77));
    if (!t) {
        sl_mb_decoder_free(d);
        return;
    }
    CHECK_EQ_STR(t->db, "shop");
    CHECK_EQ_STR(t->name, "t");
    CHECK_EQ_INT(t->ncols, NC);
    CHECK(t->has_names && t->has_keys && t->has_signedness && t->has_charsets &&
          t->has_enum_values);
    CHECK_EQ_STR(t->cols[5].name, "c5");
    CHECK_EQ_INT(t->cols[0].key, 1);
    CHECK_EQ_INT(t->cols[1].key, 0);
    CHECK_EQ_INT(t->cols[0].nullable, 0);
    CHECK_EQ_INT(t->cols[1].nullable, 1);
    CHECK_EQ_INT(t->cols[0].is_unsigned, 0);
    CHECK_EQ_INT(t->cols[1].is_unsigned, 1);
    CHECK_EQ_INT(t->cols[5].is_unsigned, 1);
    CHECK_EQ_INT(t->cols[13].is_unsigned, 0); /* MariaDB gives YEAR a SIGNEDNESS bit */
    CHECK_EQ_INT(t->cols[19].collation, 8);
    CHECK_EQ_INT(t->cols[20].collation, 45);
    CHECK_EQ_INT(t->cols[22].collation, 63);
    CHECK_EQ_INT(t->cols[24].collation, 45);
    CHECK_EQ_INT(t->cols[21].max_len, 1020);
    CHECK_EQ_INT(t->cols[21].real_type, SL_MB_T_STRING);
    CHECK_EQ_INT(t->cols[25].real_type, SL_MB_T_ENUM);
    CHECK_EQ_INT(t->cols[26].real_type, SL_MB_T_SET);
    CHECK_EQ_INT(t->cols[25].nvalues, 3);
    CHECK_EQ_STR(t->cols[25].values[2], "large");
    CHECK_EQ_INT(t->cols[28].geom_type, 1);
    CHECK_EQ_INT(t->cols[12].max_len, 64);
    int p, s;
    CHECK_EQ_INT(sl_mb_column_type(&t->cols[7], &p, &s), SL_T_DECIMAL);
    CHECK(p == 14 && s == 4);
    CHECK_EQ_INT(sl_mb_column_type(&t->cols[17], &p, &s), SL_T_TIMESTAMP);
    CHECK_EQ_INT(s, 6);
    CHECK_EQ_INT(sl_mb_column_type(&t->cols[5], NULL, NULL), SL_T_UINT64);
    CHECK_EQ_INT(sl_mb_column_type(&t->cols[6], NULL, NULL), SL_T_INT64);
    CHECK_EQ_INT(sl_mb_column_type(&t->cols[23], NULL, NULL), SL_T_BINARY);
    CHECK_EQ_INT(sl_mb_column_type(&t->cols[24], NULL, NULL), SL_T_STRING);
    check_truncations(&e, MARIA, 1, NULL);

    /* metadata length that disagrees with the column types */
    eb bad;
    ev_start(&bad, SL_MB_TABLE_MAP);
    le(&bad, 5, 6);
    le(&bad, 0, 2);
    u8(&bad, 1);
    put(&bad, "d\0", 2);
    u8(&bad, 1);
    put(&bad, "x\0", 2);
    packed(&bad, 1);
    u8(&bad, SL_MB_T_VARCHAR);
    packed(&bad, 1); /* VARCHAR needs 2 */
    u8(&bad, 10);
    u8(&bad, 1);
    ev_end(&bad, 1);
    CHECK_EQ_INT(sl_mb_decode(d, bad.b, bad.n, &ev, err, sizeof err), -1);
    CHECK(strstr(err, "d.x") != NULL);
    /* a TIME2 with fsp 7 */
    bad.b[bad.n - 4 - 4] = SL_MB_T_TIME2;
    bad.b[bad.n - 4 - 2] = 7;
    bad.n -= 4;
    ev_end(&bad, 1);
    CHECK_EQ_INT(sl_mb_decode(d, bad.b, bad.n, &ev, err, sizeof err), -1);
    sl_mb_decoder_free(d);
}

static void rows_header(eb *e, uint8_t type, uint64_t id, uint16_t flags)
{
    ev_start(e, type);
    le(e, id, 6);
    le(e, flags, 2);
    if (type >= SL_MB_WRITE_ROWS_V2 && type <= SL_MB_DELETE_ROWS_V2) {
        le(e, 2, 2); /* extra data: none */
    }
}

static void test_rows_all_types(void)
{
    char err[256];
    sl_mb_decoder *d = dec_with(MARIA, 1);
    sl_mb_event ev;
    eb tm, e;
    table_map(&tm, 77, 1, 1);
    CHECK_EQ_INT(sl_mb_decode(d, tm.b, tm.n, &ev, err, sizeof err), 0);

    rows_header(&e, SL_MB_WRITE_ROWS_V1, 77, SL_MB_ROWS_STMT_END);
    packed(&e, NC);
    uint8_t all[(NC + 7) / 8];
    memset(all, 0xFF, sizeof all);
    put(&e, all, sizeof all);
    all_types_image(&e);
    all_types_image(&e); /* two rows */
    ev_end(&e, 1);
    int rc = sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(ev.rows_kind, SL_MB_ROWS_INSERT);
    CHECK(ev.rows_flags & SL_MB_ROWS_STMT_END);
    const sl_mb_cell *b, *a;
    for (int row = 0; row < 2; row++) {
        rc = sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err);
        if (rc != 1)
            fprintf(stderr, "%s\n", err);
        CHECK_EQ_INT(rc, 1);
        CHECK(b == NULL && a != NULL);
        if (a)
            check_all_types(a);
    }
    CHECK_EQ_INT(sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err), 0);
    check_truncations(&e, MARIA, 1, &tm);

    /* without enum/set values the cells carry the numbers */
    sl_mb_decoder_free(d);
    d = dec_with(MARIA, 1);
    table_map(&tm, 77, 1, 0);
    CHECK_EQ_INT(sl_mb_decode(d, tm.b, tm.n, &ev, err, sizeof err), 0);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_INT(sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err), 1);
    CHECK(a[25].type == SL_T_INT64 && a[25].i64 == 2);
    CHECK(a[26].type == SL_T_UINT64 && a[26].i64 == 5);

    /* the unknown-table and column-count errors */
    eb r2;
    rows_header(&r2, SL_MB_WRITE_ROWS_V1, 78, 0);
    packed(&r2, NC);
    put(&r2, all, sizeof all);
    ev_end(&r2, 1);
    CHECK_EQ_INT(sl_mb_decode(d, r2.b, r2.n, &ev, err, sizeof err), -1);
    CHECK(strstr(err, "table id 78") != NULL);
    rows_header(&r2, SL_MB_WRITE_ROWS_V1, 77, 0);
    packed(&r2, NC - 1);
    put(&r2, all, (NC - 1 + 7) / 8);
    ev_end(&r2, 1);
    CHECK_EQ_INT(sl_mb_decode(d, r2.b, r2.n, &ev, err, sizeof err), -1);
    CHECK(strstr(err, "shop.t") != NULL);
    /* an ENUM index past the values, and a charset we do not convert */
    sl_mb_decoder_free(d);
    d = dec_with(MARIA, 1);
    table_map(&tm, 77, 1, 1);
    CHECK_EQ_INT(sl_mb_decode(d, tm.b, tm.n, &ev, err, sizeof err), 0);
    sl_mb_table *t = sl_mb_table_get(d, 77);
    t->cols[20].collation = 28; /* gbk */
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_INT(sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err), -1);
    CHECK(strstr(err, "c20") != NULL && strstr(err, "collation 28") != NULL);
    /* the plugin may fill in signedness when the server logs no metadata */
    t->cols[20].collation = 45;
    t->cols[0].is_unsigned = 1;
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_INT(sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err), 1);
    CHECK_EQ_INT(a[0].i64, 251);
    sl_mb_decoder_free(d);
}

/* UPDATE with partial images (binlog_row_image=MINIMAL) and DELETE as a MySQL v2 event. */
static void test_rows_update_delete(void)
{
    char err[256];
    sl_mb_decoder *d = dec_with(MYSQL, 1);
    sl_mb_event ev;
    eb tm, e;
    table_map(&tm, 9, 1, 1);
    CHECK_EQ_INT(sl_mb_decode(d, tm.b, tm.n, &ev, err, sizeof err), 0);

    rows_header(&e, SL_MB_UPDATE_ROWS_V2, 9, SL_MB_ROWS_STMT_END);
    packed(&e, NC);
    uint8_t bm0[(NC + 7) / 8] = {0}, bm1[(NC + 7) / 8] = {0};
    bm0[0] = 0x01;                /* before: c0 */
    bm1[0] = 0x05;                /* after: c0, c2 */
    bm1[29 / 8] = 1u << (29 % 8); /* and c29 */
    put(&e, bm0, sizeof bm0);
    put(&e, bm1, sizeof bm1);
    u8(&e, 0x00); /* before nulls */
    u8(&e, 42);
    u8(&e, 0x04); /* after nulls: third present (c29) NULL */
    u8(&e, 43);
    le(&e, 7, 2);
    ev_end(&e, 1);
    int rc = sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(ev.rows_kind, SL_MB_ROWS_UPDATE);
    const sl_mb_cell *b, *a;
    CHECK_EQ_INT(sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err), 1);
    CHECK(b && a);
    if (b && a) {
        CHECK_EQ_INT(b[0].i64, 42);
        CHECK_EQ_INT(b[2].state, SL_MB_CELL_ABSENT);
        CHECK_EQ_INT(a[0].i64, 43);
        CHECK_EQ_INT(a[2].i64, 7);
        CHECK_EQ_INT(a[29].state, SL_CELL_NULL);
        CHECK_EQ_INT(a[5].state, SL_MB_CELL_ABSENT);
    }
    CHECK_EQ_INT(sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err), 0);
    check_truncations(&e, MYSQL, 1, &tm);

    /* after a statement end the next TABLE_MAP starts a fresh cache */
    eb tm2;
    table_map(&tm2, 10, 1, 1);
    CHECK_EQ_INT(sl_mb_decode(d, tm2.b, tm2.n, &ev, err, sizeof err), 0);
    CHECK(sl_mb_table_get(d, 9) == NULL && sl_mb_table_get(d, 10) != NULL);

    rows_header(&e, SL_MB_DELETE_ROWS_V2, 10, SL_MB_ROWS_STMT_END);
    packed(&e, NC);
    memset(bm0, 0, sizeof bm0);
    bm0[0] = 0x02; /* c1 only */
    put(&e, bm0, sizeof bm0);
    u8(&e, 0);
    u8(&e, 200);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_INT(ev.rows_kind, SL_MB_ROWS_DELETE);
    CHECK_EQ_INT(sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err), 1);
    CHECK(a == NULL && b != NULL);
    if (b)
        CHECK_EQ_INT(b[1].i64, 200);

    /* v2 extra data is skipped */
    rows_header(&e, SL_MB_WRITE_ROWS_V2, 10, 0);
    e.n -= 2;
    le(&e, 5, 2);
    put(&e, "\x00\x01\x02", 3);
    packed(&e, NC);
    put(&e, bm0, sizeof bm0);
    u8(&e, 0);
    u8(&e, 201);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_INT(sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err), 1);
    CHECK(a && a[1].i64 == 201);

    /* the dummy statement-end event with table id 0xFFFFFF */
    rows_header(&e, SL_MB_WRITE_ROWS_V1, 0xFFFFFF, SL_MB_ROWS_STMT_END);
    packed(&e, 0);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_INT(sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err), 0);
    sl_mb_decoder_free(d);
}

static void test_maria_compressed_rows(void)
{
    char err[256];
    sl_mb_decoder *d = dec_with(MARIA, 1);
    sl_mb_event ev;
    eb tm, e, img;
    table_map(&tm, 77, 1, 1);
    CHECK_EQ_INT(sl_mb_decode(d, tm.b, tm.n, &ev, err, sizeof err), 0);
    img.n = 0;
    all_types_image(&img);
    uint8_t z[8192];
    uLongf zl = sizeof z;
    CHECK_EQ_INT(compress(z, &zl, img.b, (uLong)img.n), Z_OK);
    rows_header(&e, SL_MB_MARIA_WRITE_ROWS_COMPRESSED_V1, 77, SL_MB_ROWS_STMT_END);
    packed(&e, NC);
    uint8_t all[(NC + 7) / 8];
    memset(all, 0xFF, sizeof all);
    put(&e, all, sizeof all);
    u8(&e, 0x82);
    be(&e, img.n, 2);
    put(&e, z, zl);
    ev_end(&e, 1);
    int rc = sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    CHECK_EQ_INT(rc, 0);
    const sl_mb_cell *b, *a;
    CHECK_EQ_INT(sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err), 1);
    if (a)
        check_all_types(a);
    CHECK_EQ_INT(sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err), 0);
    check_truncations(&e, MARIA, 1, &tm);
    /* an uncompressed size over the limit is refused before any allocation */
    sl_mb_decoder_set_max_uncompressed(d, 16);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), -1);
    CHECK(strstr(err, "limit") != NULL);
    sl_mb_decoder_free(d);
}

/* ---- decimals ---- */
static void test_decimal(void)
{
    char out[80];
    /* DECIMAL(5,2) 123.45: 3 int digits (2 bytes), 2 frac digits (1 byte) */
    CHECK_EQ_INT(sl_mb_decimal_size(5, 2), 3);
    CHECK_EQ_INT(sl_mb_decimal_to_text((const uint8_t *)"\x80\x7B\x2D", 3, 5, 2, out, sizeof out),
                 6);
    CHECK_EQ_STR(out, "123.45");
    /* -0.50 as DECIMAL(5,2): int part 0, frac 50, negated */
    const uint8_t neg[3] = {0x7F, 0xFF, 0xCD};
    CHECK(sl_mb_decimal_to_text(neg, 3, 5, 2, out, sizeof out) > 0);
    CHECK_EQ_STR(out, "-0.50");
    /* DECIMAL(65,30): 35 int digits (8 + 3*4+... bytes) = max 1 followed by zeros */
    int sz = sl_mb_decimal_size(65, 30);
    CHECK_EQ_INT(sz, 30);
    uint8_t big[30] = {0};
    big[0] = 0x80; /* +0 */
    CHECK(sl_mb_decimal_to_text(big, 30, 65, 30, out, sizeof out) > 0);
    CHECK_EQ_STR(out, "0.000000000000000000000000000000");
    memset(big, 0xFF, sizeof big); /* digit groups above 999999999: malformed */
    CHECK_EQ_INT(sl_mb_decimal_to_text(big, 30, 65, 30, out, sizeof out), -1);
    CHECK_EQ_INT(sl_mb_decimal_size(66, 0), -1);
    CHECK_EQ_INT(sl_mb_decimal_size(10, 11), -1);
    /* DECIMAL(10,0) 9999999999: 1 digit (1 byte) + 9 digits (4 bytes) */
    const uint8_t nines[5] = {0x89, 0x3B, 0x9A, 0xC9, 0xFF};
    CHECK(sl_mb_decimal_to_text(nines, 5, 10, 0, out, sizeof out) > 0);
    CHECK_EQ_STR(out, "9999999999");
}

static void test_collations(void)
{
    CHECK_EQ_INT(sl_mb_collation_class(45), 1);
    CHECK_EQ_INT(sl_mb_collation_class(255), 1);
    CHECK_EQ_INT(sl_mb_collation_class(33), 1);
    CHECK_EQ_INT(sl_mb_collation_class(1070), 1); /* utf8mb4_nopad_bin */
    CHECK_EQ_INT(sl_mb_collation_class(8), 2);
    CHECK_EQ_INT(sl_mb_collation_class(1032), 2);
    CHECK_EQ_INT(sl_mb_collation_class(63), 3);
    CHECK_EQ_INT(sl_mb_collation_class(28), 0);  /* gbk */
    CHECK_EQ_INT(sl_mb_collation_class(248), 0); /* gb18030 */
    CHECK_EQ_INT(sl_mb_collation_class(0), 0);
}

/* ---- MySQL binary JSON ---- */
static void json_is(sl_mb_decoder *d, const uint8_t *p, size_t n, const char *want)
{
    char err[256];
    const char *out;
    size_t ol;
    int rc = sl_mb_json_to_text(d, p, n, &out, &ol, err, sizeof err);
    if (rc)
        fprintf(stderr, "json: %s\n", err);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) {
        CHECK_EQ_STR(out, want);
        CHECK_EQ_INT(ol, strlen(want));
    }
}

static void test_format_mysql_json(void)
{
    sl_mb_decoder *d = sl_mb_decoder_new();
    /* {"a": 1, "b": [true, null, "x"]} as a small object */
    static const uint8_t obj[] = {0x00, 0x02, 0x00, 0x23, 0x00, /* count 2, size 35 */
                                  0x12, 0x00, 0x01, 0x00, 0x13, 0x00, 0x01, 0x00, /* keys */
                                  0x05, 0x01, 0x00, 0x02, 0x14, 0x00, /* a: int16 1; b @20 */
                                  'a',  'b',                          /* key text */
                                  0x03, 0x00, 0x0F, 0x00,             /* array: 3, size 15 */
                                  0x04, 0x01, 0x00, 0x04, 0x00, 0x00, 0x0C, 0x0D, 0x00, /* */
                                  0x01, 'x'};
    json_is(d, obj, sizeof obj, "{\"a\": 1, \"b\": [true, null, \"x\"]}");
    /* scalars at the top */
    json_is(d, (const uint8_t *)"\x04\x02", 2, "false");
    json_is(d, (const uint8_t *)"\x05\xFE\xFF", 3, "-2");
    json_is(d, (const uint8_t *)"\x0A\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 9, "18446744073709551615");
    json_is(d, (const uint8_t *)"\x09\x00\x00\x00\x00\x00\x00\x00\x80", 9, "-9223372036854775808");
    double dv = 1.5;
    uint8_t dbl[9] = {0x0B};
    memcpy(dbl + 1, &dv, 8);
    json_is(d, dbl, 9, "1.5");
    dv = 0.1;
    memcpy(dbl + 1, &dv, 8);
    json_is(d, dbl, 9, "0.1");
    json_is(d, (const uint8_t *)"\x0C\x05q\"\\\n\x01", 7, "\"q\\\"\\\\\\n\\u0001\"");
    json_is(d, (const uint8_t *)"", 0, "null");
    /* opaque DECIMAL(3,2) 3.50 */
    json_is(d, (const uint8_t *)"\x0F\xF6\x04\x03\x02\x83\x32", 7, "3.50");
    /* opaque DATETIME 2015-01-15 23:24:25 */
    uint64_t ymd = ((uint64_t)(2015 * 13 + 1) << 5) | 15, hms = 23 << 12 | 24 << 6 | 25;
    uint64_t packedv = (ymd << 17 | hms) << 24 | 120000;
    uint8_t dt[11] = {0x0F, SL_MB_T_DATETIME, 8};
    for (int i = 0; i < 8; i++)
        dt[3 + i] = (uint8_t)(packedv >> (8 * i));
    json_is(d, dt, 11, "\"2015-01-15 23:24:25.120000\"");
    dt[1] = SL_MB_T_DATE;
    json_is(d, dt, 11, "\"2015-01-15\"");
    /* opaque of another type: base64 */
    json_is(d,
            (const uint8_t *)"\x0F\xFC\x03"
                             "abc",
            6, "\"base64:type252:YWJj\"");
    /* large object {"k": 100000} (int32 inlined in the large format) */
    static const uint8_t lobj[] = {0x01, 0x01, 0,    0,    0,    0x14,
                                   0,    0,    0,                   /* count 1, size 20 */
                                   0x13, 0,    0,    0,    0x01, 0, /* key @19 len 1 */
                                   0x07, 0xA0, 0x86, 0x01, 0x00,    /* int32 100000 */
                                   'k'};
    json_is(d, lobj, sizeof lobj, "{\"k\": 100000}");
    /* nested empty array and object: [[], {}] */
    static const uint8_t nest[] = {0x02, 0x02, 0x00, 0x12, 0x00, 0x02, 0x0A, 0x00, 0x00, 0x0E,
                                   0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0x00};
    json_is(d, nest, sizeof nest, "[[], {}]");

    /* malformed: every truncation of the object, bad offsets, bad literal, deep nesting */
    char err[256];
    const char *out;
    size_t ol;
    for (size_t n = 1; n < sizeof obj; n++) {
        uint8_t *p = malloc(n);
        memcpy(p, obj, n);
        CHECK_EQ_INT(sl_mb_json_to_text(d, p, n, &out, &ol, err, sizeof err), -1);
        free(p);
    }
    uint8_t badoff[sizeof obj];
    memcpy(badoff, obj, sizeof obj);
    badoff[17] = 0x40; /* value offset past the container */
    CHECK_EQ_INT(sl_mb_json_to_text(d, badoff, sizeof badoff, &out, &ol, err, sizeof err), -1);
    CHECK(strstr(err, "JSON") != NULL);
    CHECK_EQ_INT(sl_mb_json_to_text(d, (const uint8_t *)"\x04\x07", 2, &out, &ol, err, sizeof err),
                 -1);
    CHECK_EQ_INT(sl_mb_json_to_text(d, (const uint8_t *)"\x0C\x85", 2, &out, &ol, err, sizeof err),
                 -1);
    /* 200 nested one-element arrays, each pointing at the next */
    size_t dn = 200 * 7 + 1;
    uint8_t *deep = calloc(1, dn + 2);
    deep[0] = 0x02;
    for (int i = 0; i < 200; i++) {
        uint8_t *c = deep + 1 + i * 7;
        size_t size = dn - 1 - (size_t)i * 7;
        c[0] = 1;
        c[2] = (uint8_t)size;
        c[3] = (uint8_t)(size >> 8);
        c[4] = 0x02;
        c[5] = 7;
    }
    CHECK_EQ_INT(sl_mb_json_to_text(d, deep, dn, &out, &ol, err, sizeof err), -1);
    free(deep);
    sl_mb_decoder_free(d);
}

/* A JSON column in a MySQL rows event. */
static void test_format_mysql_json_column(void)
{
    char err[256];
    sl_mb_decoder *d = dec_with(MYSQL, 1);
    sl_mb_event ev;
    eb e;
    ev_start(&e, SL_MB_TABLE_MAP);
    le(&e, 3, 6);
    le(&e, 1, 2);
    u8(&e, 1);
    put(&e, "d\0", 2);
    u8(&e, 1);
    put(&e, "j\0", 2);
    packed(&e, 1);
    u8(&e, SL_MB_T_JSON);
    packed(&e, 1);
    u8(&e, 4);
    u8(&e, 1);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    sl_mb_decoder_free(d);

    /* JSON true, then JSON [1] */
    d = dec_with(MYSQL, 1);
    ev_start(&e, SL_MB_TABLE_MAP);
    le(&e, 3, 6);
    le(&e, 1, 2);
    u8(&e, 1);
    put(&e, "d\0", 2);
    u8(&e, 1);
    put(&e, "j\0", 2);
    packed(&e, 1);
    u8(&e, SL_MB_T_JSON);
    packed(&e, 1);
    u8(&e, 4);
    u8(&e, 1);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    rows_header(&e, SL_MB_WRITE_ROWS_V2, 3, SL_MB_ROWS_STMT_END);
    packed(&e, 1);
    u8(&e, 1);
    u8(&e, 0);
    le(&e, 2, 4);
    put(&e, "\x04\x01", 2);
    u8(&e, 0);
    le(&e, 8, 4);
    put(&e, "\x02\x01\x00\x07\x00\x05\x01\x00", 8);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    const sl_mb_cell *b, *a;
    CHECK_EQ_INT(sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err), 1);
    if (a)
        check_str(&a[0], "true");
    CHECK_EQ_INT(sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err), 1);
    if (a)
        check_str(&a[0], "[1]");
    CHECK_EQ_INT(sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err), 0);
    sl_mb_decoder_free(d);
}

/* ---- MySQL TRANSACTION_PAYLOAD ---- */
static size_t payload_event(eb *out, const uint8_t *inner, size_t n, int zstd)
{
    uint8_t z[16384];
    size_t zl = n;
    if (zstd) {
        zl = ZSTD_compress(z, sizeof z, inner, n, 3);
        CHECK(!ZSTD_isError(zl));
    } else {
        memcpy(z, inner, n);
    }
    ev_start(out, SL_MB_TRANSACTION_PAYLOAD);
    packed(out, 2); /* compression type */
    packed(out, zstd ? 1 : 3);
    packed(out, zstd ? 0 : 255);
    packed(out, 3); /* uncompressed size */
    packed(out, n < 251 ? 1 : 3);
    packed(out, n);
    packed(out, 1); /* payload size */
    packed(out, zl < 251 ? 1 : 3);
    packed(out, zl);
    packed(out, 0); /* end of header */
    put(out, z, zl);
    ev_end(out, 1);
    return zl;
}

static void test_format_mysql_transaction_payload(void)
{
    char err[256];
    /* inner events: GTID is outside; TABLE_MAP, WRITE_ROWS_V2, XID without checksums */
    eb inner = {.n = 0}, e;
    table_map(&e, 77, 0, 1);
    put(&inner, e.b, e.n);
    rows_header(&e, SL_MB_WRITE_ROWS_V2, 77, SL_MB_ROWS_STMT_END);
    packed(&e, NC);
    uint8_t all[(NC + 7) / 8];
    memset(all, 0xFF, sizeof all);
    put(&e, all, sizeof all);
    all_types_image(&e);
    ev_end(&e, 0);
    put(&inner, e.b, e.n);
    ev_start(&e, SL_MB_XID);
    le(&e, 31337, 8);
    ev_end(&e, 0);
    put(&inner, e.b, e.n);

    for (int zstd = 1; zstd >= 0; zstd--) {
        sl_mb_decoder *d = dec_with(MYSQL, 1);
        sl_mb_event ev;
        eb pe;
        payload_event(&pe, inner.b, inner.n, zstd);
        int rc = sl_mb_decode(d, pe.b, pe.n, &ev, err, sizeof err);
        if (rc)
            fprintf(stderr, "%s\n", err);
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_INT(ev.compression, zstd ? 0 : 255);
        CHECK_EQ_INT(ev.uncompressed_size, inner.n);
        const uint8_t *ib;
        size_t il;
        int seen = 0, rows = 0;
        while ((rc = sl_mb_payload_next(d, &ib, &il, err, sizeof err)) == 1) {
            sl_mb_event iev;
            int r2 = sl_mb_decode(d, ib, il, &iev, err, sizeof err);
            if (r2)
                fprintf(stderr, "inner: %s\n", err);
            CHECK_EQ_INT(r2, 0);
            seen++;
            if (iev.rows_kind) {
                const sl_mb_cell *b, *a;
                while (sl_mb_rows_next(d, &iev, &b, &a, err, sizeof err) == 1) {
                    check_all_types(a);
                    rows++;
                }
            }
            if (iev.h.type == SL_MB_XID)
                CHECK_EQ_INT(iev.xid, 31337);
        }
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_INT(seen, 3);
        CHECK_EQ_INT(rows, 1);
        check_truncations(&pe, MYSQL, 1, NULL);
        sl_mb_decoder_free(d);
    }

    /* a corrupt zstd frame, and a declared size that disagrees */
    sl_mb_decoder *d = dec_with(MYSQL, 1);
    sl_mb_event ev;
    eb pe;
    size_t zl = payload_event(&pe, inner.b, inner.n, 1);
    pe.b[pe.n - 4 - zl] ^= 0x55; /* the frame's magic number */
    pe.n -= 4;
    ev_end(&pe, 1);
    CHECK_EQ_INT(sl_mb_decode(d, pe.b, pe.n, &ev, err, sizeof err), -1);
    CHECK(strstr(err, "TRANSACTION_PAYLOAD") != NULL);
    /* an inner event that claims more bytes than the payload holds */
    eb bad = {.n = 0};
    ev_start(&e, SL_MB_XID);
    le(&e, 1, 8);
    ev_end(&e, 0);
    e.b[9] = 200;
    put(&bad, e.b, e.n);
    payload_event(&pe, bad.b, bad.n, 1);
    CHECK_EQ_INT(sl_mb_decode(d, pe.b, pe.n, &ev, err, sizeof err), 0);
    const uint8_t *ib;
    size_t il;
    CHECK_EQ_INT(sl_mb_payload_next(d, &ib, &il, err, sizeof err), -1);
    sl_mb_decoder_free(d);
}

static void test_partial_json_refused(void)
{
    char err[256];
    sl_mb_decoder *d = dec_with(MYSQL, 1);
    sl_mb_event ev;
    eb e;
    rows_header(&e, SL_MB_PARTIAL_UPDATE_ROWS, 1, 0);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), -1);
    CHECK(strstr(err, "binlog_row_value_options") != NULL);
    /* other event types decode to their header */
    ev_start(&e, SL_MB_MARIA_ANNOTATE_ROWS);
    put(&e, "INSERT ...", 10);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_INT(ev.body_len, 10);
    sl_mb_decoder_free(d);
}

/* A two-column table map (YEAR, then INT) with a one-byte SIGNEDNESS field of value bits. */
static void year_int_map(eb *e, uint8_t bits, uint8_t second_type, uint8_t m0, uint8_t m1,
                         int nmeta)
{
    ev_start(e, SL_MB_TABLE_MAP);
    le(e, 4, 6);
    le(e, 1, 2);
    u8(e, 1);
    put(e, "d\0", 2);
    u8(e, 1);
    put(e, "y\0", 2);
    packed(e, 2);
    u8(e, SL_MB_T_YEAR);
    u8(e, second_type);
    packed(e, (uint64_t)nmeta);
    if (nmeta >= 1)
        u8(e, m0);
    if (nmeta == 2)
        u8(e, m1);
    u8(e, 3);
    u8(e, 1); /* SIGNEDNESS */
    packed(e, 1);
    u8(e, bits);
    ev_end(e, 1);
}

/* SIGNEDNESS counts YEAR on MariaDB (seen in its binlog) but not on MySQL (its
 * is_numeric_type): the same bits mean different columns. */
static void test_signedness_year(void)
{
    char err[256];
    eb e;
    sl_mb_event ev;
    sl_mb_decoder *d = dec_with(MARIA, 1);
    year_int_map(&e, 0x80, SL_MB_T_LONG, 0, 0, 0); /* YEAR unsigned, INT signed */
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK(ev.table && ev.table->cols[0].is_unsigned == 1 && ev.table->cols[1].is_unsigned == 0);
    sl_mb_decoder_free(d);
    d = dec_with(MYSQL, 1);
    year_int_map(&e, 0x80, SL_MB_T_LONG, 0, 0, 0); /* INT unsigned */
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK(ev.table && ev.table->cols[0].is_unsigned == -1 && ev.table->cols[1].is_unsigned == 1);
    sl_mb_decoder_free(d);
}

/* BINARY(n) is logged without its trailing zero bytes; the cell has all n, as SELECT. */
static void test_binary_padding(void)
{
    char err[256];
    eb e;
    sl_mb_event ev;
    sl_mb_decoder *d = dec_with(MARIA, 1);
    ev_start(&e, SL_MB_TABLE_MAP);
    le(&e, 4, 6);
    le(&e, 1, 2);
    u8(&e, 1);
    put(&e, "d\0", 2);
    u8(&e, 1);
    put(&e, "b\0", 2);
    packed(&e, 2);
    u8(&e, SL_MB_T_STRING);
    u8(&e, SL_MB_T_STRING);
    packed(&e, 4);
    put(&e, "\xFE\x04\xFE\x04", 4);
    u8(&e, 3);
    u8(&e, 3); /* COLUMN_CHARSET: binary, utf8mb4 */
    packed(&e, 2);
    u8(&e, 63);
    u8(&e, 45);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    rows_header(&e, SL_MB_WRITE_ROWS_V1, 4, SL_MB_ROWS_STMT_END);
    packed(&e, 2);
    u8(&e, 3);
    u8(&e, 0);
    u8(&e, 1);
    u8(&e, 'a');
    u8(&e, 1);
    u8(&e, 'a');
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    const sl_mb_cell *b, *a;
    CHECK_EQ_INT(sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err), 1);
    CHECK(a && a[0].type == SL_T_BINARY && a[0].len == 4 && memcmp(a[0].p, "a\0\0\0", 4) == 0);
    CHECK(a && a[1].type == SL_T_STRING && a[1].len == 1); /* CHAR: no padding */
    sl_mb_decoder_free(d);
}

static void test_format_mysql_heartbeat_v2(void)
{
    char err[256];
    sl_mb_decoder *d = dec_with(MYSQL, 1);
    sl_mb_event ev;
    eb e;
    ev_start(&e, SL_MB_HEARTBEAT_V2);
    packed(&e, 1); /* log file name */
    pstr(&e, "binlog.000042");
    packed(&e, 2); /* position: a packed integer in a field of its own length */
    packed(&e, 9);
    packed(&e, 5000000000ull);
    packed(&e, 0);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    CHECK_EQ_STR(ev.file, "binlog.000042");
    CHECK(ev.pos == 5000000000ull);
    check_truncations(&e, MYSQL, 1, NULL);
    sl_mb_decoder_free(d);
}

/* Found by fuzz_mybinlog: a rows event whose image has no column looped forever; a name with a
 * newline made a two-line error. */
static void test_fuzz_regressions(void)
{
    char err[256];
    sl_mb_decoder *d = dec_with(MARIA, 1);
    sl_mb_event ev;
    eb tm, e;
    table_map(&tm, 77, 1, 1);
    CHECK_EQ_INT(sl_mb_decode(d, tm.b, tm.n, &ev, err, sizeof err), 0);
    rows_header(&e, SL_MB_WRITE_ROWS_V1, 77, 0);
    packed(&e, NC);
    uint8_t none[(NC + 7) / 8] = {0};
    put(&e, none, sizeof none);
    put(&e, "junk", 4);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), 0);
    const sl_mb_cell *b, *a;
    int rc = 0;
    for (int i = 0; i < 10 && (rc = sl_mb_rows_next(d, &ev, &b, &a, err, sizeof err)) == 1; i++)
        ;
    CHECK_EQ_INT(rc, -1);
    CHECK(strstr(err, "empty row image") != NULL);

    ev_start(&e, SL_MB_TABLE_MAP);
    le(&e, 5, 6);
    le(&e, 0, 2);
    u8(&e, 2);
    put(&e, "d\n\0", 3);
    u8(&e, 1);
    put(&e, "x\0", 2);
    packed(&e, 1);
    u8(&e, SL_MB_T_VARCHAR);
    packed(&e, 1);
    u8(&e, 10);
    u8(&e, 1);
    ev_end(&e, 1);
    CHECK_EQ_INT(sl_mb_decode(d, e.b, e.n, &ev, err, sizeof err), -1);
    CHECK(strchr(err, '\n') == NULL && strstr(err, "d?.x") != NULL);
    sl_mb_decoder_free(d);
}

/* ---- seed corpus of tests/fuzz/fuzz_mybinlog.c: a flags byte, then an event stream ---- */
static void seed_write(const char *dir, const char *name, uint8_t flags, const eb *stream)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fwrite(&flags, 1, 1, f);
    fwrite(stream->b, 1, stream->n, f);
    fclose(f);
}

static void write_seeds(const char *dir)
{
    static eb s, e, img;
    uint8_t all[(NC + 7) / 8];
    memset(all, 0xFF, sizeof all);

    /* MariaDB: FDE, GTID, TABLE_MAP, WRITE_ROWS (all types), UPDATE (partial), XID */
    s.n = 0;
    fde(&e, MARIA, 1);
    put(&s, e.b, e.n);
    ev_start(&e, SL_MB_MARIA_GTID);
    le(&e, 5, 8);
    le(&e, 0, 4);
    u8(&e, 0);
    put(&e, "\0\0\0\0\0\0", 6);
    ev_end(&e, 1);
    put(&s, e.b, e.n);
    table_map(&e, 77, 1, 1);
    put(&s, e.b, e.n);
    rows_header(&e, SL_MB_WRITE_ROWS_V1, 77, 0);
    packed(&e, NC);
    put(&e, all, sizeof all);
    all_types_image(&e);
    ev_end(&e, 1);
    put(&s, e.b, e.n);
    rows_header(&e, SL_MB_UPDATE_ROWS_V1, 77, SL_MB_ROWS_STMT_END);
    packed(&e, NC);
    put(&e, all, sizeof all);
    put(&e, all, sizeof all);
    all_types_image(&e);
    all_types_image(&e);
    ev_end(&e, 1);
    put(&s, e.b, e.n);
    ev_start(&e, SL_MB_XID);
    le(&e, 9, 8);
    ev_end(&e, 1);
    put(&s, e.b, e.n);
    seed_write(dir, "maria_rows", 1, &s);

    /* MariaDB compressed rows and query, checksums off */
    s.n = 0;
    fde(&e, MARIA, 0);
    put(&s, e.b, e.n);
    table_map(&e, 77, 0, 1);
    put(&s, e.b, e.n);
    img.n = 0;
    all_types_image(&img);
    uint8_t z[8192];
    uLongf zl = sizeof z;
    compress(z, &zl, img.b, (uLong)img.n);
    rows_header(&e, SL_MB_MARIA_WRITE_ROWS_COMPRESSED_V1, 77, SL_MB_ROWS_STMT_END);
    packed(&e, NC);
    put(&e, all, sizeof all);
    u8(&e, 0x82);
    be(&e, img.n, 2);
    put(&e, z, zl);
    ev_end(&e, 0);
    put(&s, e.b, e.n);
    const char *q = "DROP TABLE shop.t";
    zl = sizeof z;
    compress(z, &zl, (const Bytef *)q, (uLong)strlen(q));
    ev_start(&e, SL_MB_MARIA_QUERY_COMPRESSED);
    le(&e, 1, 4);
    le(&e, 0, 4);
    u8(&e, 4);
    le(&e, 0, 2);
    le(&e, 0, 2);
    put(&e, "shop\0", 5);
    u8(&e, 0x81);
    u8(&e, strlen(q));
    put(&e, z, zl);
    ev_end(&e, 0);
    put(&s, e.b, e.n);
    seed_write(dir, "maria_compressed", 0, &s);

    /* control events */
    s.n = 0;
    ev_start(&e, SL_MB_ROTATE);
    le(&e, 4, 8);
    put(&e, "bin.000001", 10);
    ev_end(&e, 1);
    put(&s, e.b, e.n);
    fde(&e, MARIA, 1);
    put(&s, e.b, e.n);
    ev_start(&e, SL_MB_MARIA_GTID_LIST);
    le(&e, 1, 4);
    le(&e, 0, 4);
    le(&e, 1, 4);
    le(&e, 100, 8);
    ev_end(&e, 1);
    put(&s, e.b, e.n);
    ev_start(&e, SL_MB_QUERY);
    le(&e, 11, 4);
    le(&e, 0, 4);
    u8(&e, 4);
    le(&e, 0, 2);
    le(&e, 0, 2);
    put(&e, "shop\0BEGIN", 10);
    ev_end(&e, 1);
    put(&s, e.b, e.n);
    ev_start(&e, SL_MB_HEARTBEAT);
    put(&e, "bin.000001", 10);
    ev_end(&e, 1);
    put(&s, e.b, e.n);
    seed_write(dir, "control", 1, &s);

    /* MySQL: FDE, GTID, TRANSACTION_PAYLOAD (zstd) of TABLE_MAP + WRITE_ROWS_V2 + XID */
    eb inner = {.n = 0};
    table_map(&e, 77, 0, 1);
    put(&inner, e.b, e.n);
    rows_header(&e, SL_MB_WRITE_ROWS_V2, 77, SL_MB_ROWS_STMT_END);
    packed(&e, NC);
    put(&e, all, sizeof all);
    all_types_image(&e);
    ev_end(&e, 0);
    put(&inner, e.b, e.n);
    ev_start(&e, SL_MB_XID);
    le(&e, 1, 8);
    ev_end(&e, 0);
    put(&inner, e.b, e.n);
    s.n = 0;
    fde(&e, MYSQL, 1);
    put(&s, e.b, e.n);
    ev_start(&e, SL_MB_MYSQL_GTID);
    u8(&e, 1);
    put(&e, "0123456789abcdef", 16);
    le(&e, 23, 8);
    u8(&e, 2);
    le(&e, 5, 8);
    le(&e, 6, 8);
    ev_end(&e, 1);
    put(&s, e.b, e.n);
    payload_event(&e, inner.b, inner.n, 1);
    put(&s, e.b, e.n);
    seed_write(dir, "mysql_payload", 1, &s);

    /* MySQL binary JSON (flags bit 1: the rest is also tried as one JSON value) */
    static const uint8_t obj[] = {0x00, 0x02, 0x00, 0x23, 0x00, 0x12, 0x00, 0x01, 0x00,
                                  0x13, 0x00, 0x01, 0x00, 0x05, 0x01, 0x00, 0x02, 0x14,
                                  0x00, 'a',  'b',  0x03, 0x00, 0x0F, 0x00, 0x04, 0x01,
                                  0x00, 0x04, 0x00, 0x00, 0x0C, 0x0D, 0x00, 0x01, 'x'};
    s.n = 0;
    put(&s, obj, sizeof obj);
    seed_write(dir, "mysql_json", 2, &s);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) {
        write_seeds(argv[2]);
        return 0;
    }
    SL_RUN(test_header_and_fde);
    SL_RUN(test_control_events);
    SL_RUN(test_maria_gtid);
    SL_RUN(test_format_mysql_gtid);
    SL_RUN(test_table_map);
    SL_RUN(test_rows_all_types);
    SL_RUN(test_rows_update_delete);
    SL_RUN(test_maria_compressed_rows);
    SL_RUN(test_decimal);
    SL_RUN(test_collations);
    SL_RUN(test_format_mysql_json);
    SL_RUN(test_format_mysql_json_column);
    SL_RUN(test_format_mysql_transaction_payload);
    SL_RUN(test_partial_json_refused);
    SL_RUN(test_fuzz_regressions);
    SL_RUN(test_signedness_year);
    SL_RUN(test_binary_padding);
    SL_RUN(test_format_mysql_heartbeat_v2);
    SL_DONE();
}
