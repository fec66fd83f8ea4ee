/* mytext.h - pure helpers of the mysql source: MySQL text-protocol values to Sluice values, the
 * source's position bytes, and the default server_id. No I/O, no libmariadb: unit-tested alone
 * (tests/mysql/test_mytext.c). */
#ifndef SL_MYTEXT_H
#define SL_MYTEXT_H

#include <stddef.h>
#include <stdint.h>

/* Parsers of one text-protocol value (not NUL-terminated: p, len). 0 = parsed into *out;
 * 1 = a zero or invalid date (0000-00-00, 2024-00-10) that has no Sluice value; -1 = malformed. */
int sl_my_parse_i64(const char *p, size_t len, int64_t *out);
int sl_my_parse_u64(const char *p, size_t len, uint64_t *out);
int sl_my_parse_f64(const char *p, size_t len, double *out);
int sl_my_parse_date(const char *p, size_t len, int64_t *days);   /* YYYY-MM-DD */
int sl_my_parse_time(const char *p, size_t len, int64_t *us);     /* [-]H+:MM:SS[.f] */
int sl_my_parse_datetime(const char *p, size_t len, int64_t *us); /* date + ' ' + time */
/* BIT(n) arrives as ceil(n/8) big-endian bytes. */
int sl_my_parse_bit(const unsigned char *p, size_t len, uint64_t *out);
int64_t sl_my_days_from_civil(int64_t y, unsigned m, unsigned d);

/* ---- positions ----
 * The position is text: "gtid=<set>;file=<binlog file>;pos=<offset>" (gtid may be empty). The
 * set is MariaDB's gtid_binlog_pos ("0-1-5,1-2-9": the last GTID of each replication domain) or
 * MySQL's gtid_executed ("uuid:1-5:7,uuid2:1-3"). */
#define SL_MY_FILE_MAX 256
typedef struct sl_my_pos {
    char gtid[1024];
    char file[SL_MY_FILE_MAX];
    uint64_t offset;
} sl_my_pos;

/* 0, or -1 when the bytes are not a mysql position. */
int sl_my_pos_parse(const void *p, size_t len, sl_my_pos *out);
/* Writes the text form (NUL-terminated); returns its length, or -1 when it does not fit. */
int sl_my_pos_format(const sl_my_pos *pos, char *out, size_t outlen);
/* <0, 0, >0 or 2 (SL_POS_UNORDERED). GTID sets decide when both positions have one: strict
 * containment orders them, neither containing the other is unordered, equal sets fall back to
 * the file order (the same transaction count, later bytes: heartbeats, rotations). Without GTIDs:
 * file (same base name, then the numeric suffix) and offset; different base names: unordered. */
int sl_my_pos_compare(const sl_my_pos *a, const sl_my_pos *b);
/* 1 when GTID set a contains every transaction of b, 0 when not, -1 when either is malformed or
 * they are of different flavours (MariaDB domain-server-seq vs MySQL uuid:intervals). */
int sl_my_gtid_contains(const char *a, const char *b);

/* Default server_id: 2^30 + FNV-1a-32(tenant) mod 2^30, so in [1073741824, 2147483647], away
 * from the small ids administrators give real servers. */
uint32_t sl_my_default_server_id(const char *tenant);

#endif
