-- Every type the mysql source maps, with edge values (tests/mysql/test_mysql_snapshot.sh).
-- Run as root with the utf8mb4 client character set; zero dates need a lenient sql_mode.
SET SESSION sql_mode = '';
DROP VIEW IF EXISTS v_alltypes;
DROP TABLE IF EXISTS alltypes;
DROP TABLE IF EXISTS other;
CREATE TABLE alltypes (
  id INT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT NOT NULL DEFAULT 0, iu INT UNSIGNED,
  bi BIGINT, biu BIGINT UNSIGNED,
  de DECIMAL(20,6), de0 DECIMAL(5,0), fl FLOAT, db DOUBLE,
  b1 BIT(1), b12 BIT(12), b64 BIT(64),
  y YEAR, d DATE, t TIME, t2 TIME(2), dt DATETIME, dt6 DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL,
  c CHAR(5), vc VARCHAR(50), tx TEXT, lat VARCHAR(20) CHARACTER SET latin1,
  u3 VARCHAR(20) CHARACTER SET utf8mb3, vbin VARCHAR(10) COLLATE utf8mb4_bin,
  bn BINARY(4), vb VARBINARY(10), bl BLOB,
  e ENUM('a','b','c'), st SET('x','y','z'), j JSON, g GEOMETRY,
  gen INT AS (i + 1) VIRTUAL
);
INSERT INTO alltypes (id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, de, de0, fl, db, b1, b12, b64,
  y, d, t, t2, dt, dt6, ts, c, vc, tx, lat, u3, vbin, bn, vb, bl, e, st, j, g) VALUES
 (1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12.5, 42, 1.1, 0.1, b'1', b'101010101010', b'1',
  2024, '2024-02-29', '12:34:56', '-12:34:56.78', '2024-01-02 03:04:05', '2024-01-02 03:04:05.123456',
  '2024-06-30 23:59:59.999', 'abc', 'héllo, "wörld"', 'line1\nline2\ttab', 'café', 'ça', 'BinColl',
  x'00010203', x'DEADBEEF', x'00FF00', 'b', 'x,z', '{"a": [1, 2.5, "x"]}', ST_GeomFromText('POINT(1 2)')),
 (2, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
  -9223372036854775808, 18446744073709551615, -99999999999999.999999, -99999, -3.40282e38, -1.7976931348623157e308,
  b'0', b'111111111111', b'1111111111111111111111111111111111111111111111111111111111111111',
  1901, '1000-01-01', '838:59:59', '-838:59:59', '1000-01-01 00:00:00', '9999-12-31 23:59:59.999999',
  '1970-01-01 00:00:01', '', '', '', '', '', '', x'', x'', x'', 'c', '', '[]',
  ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))')),
 (3, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 9223372036854775808,
  0.000001, 0, 1.17549e-38, 2.2250738585072014e-308, NULL, NULL, NULL, 2155, '9999-12-31', '-00:00:00.5', '00:00:00',
  '2038-01-19 03:14:07', '1969-12-31 23:59:59.5', '2038-01-19 03:14:07.999', '日本', '😀 emoji', REPEAT('x', 5000), NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  0, '0000-00-00', NULL, NULL, '0000-00-00 00:00:00', '2024-00-10 00:00:00', '0000-00-00 00:00:00',
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL, NULL);
CREATE VIEW v_alltypes AS SELECT id FROM alltypes;
CREATE TABLE other (k VARCHAR(10) PRIMARY KEY, n INT);
INSERT INTO other VALUES ('a', 1), ('b', NULL);
