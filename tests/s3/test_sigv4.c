/* Unit test of the s3 sink's SigV4 signer against published vectors.
 *
 * Origin of the data: the "AWS Signature Version 4 test suite" (aws-sig-v4-test-suite, published
 * by AWS with the SigV4 documentation: credentials AKIDEXAMPLE, region us-east-1, service
 * "service", 2015-08-30T12:36:00Z), cases get-vanilla, get-vanilla-query-order-key-case,
 * get-vanilla-query-unreserved, get-vanilla-utf8-query, post-vanilla-query-nonunreserved,
 * post-x-www-form-urlencoded and post-sts-token/post-sts-header-before; and the "GET Object"
 * example of the Amazon S3 API reference page "Signature Calculations for the Authorization
 * Header: Transferring Payload in a Single Chunk" (examplebucket, 2013-05-24). The expected
 * values were re-typed here from that published test data. */
#include "sigv4.h"
#include "sl_test.h"

#include <stdlib.h>

#define SUITE_DATE "20150830T123600Z"
#define SUITE_AK   "AKIDEXAMPLE"
#define SUITE_SK   "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SCOPE      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "

static const sl_s3_kv suite_headers[] = {
    {"Host", "example.amazonaws.com"},
    {"X-Amz-Date", SUITE_DATE},
};

static char *sign(const char *method, const sl_s3_kv *q, size_t nq, const sl_s3_kv *h, size_t nh,
                  const char *payload_hash, char **creq)
{
    sl_sigv4_req r = {
        .method = method,
        .path = "/",
        .query = q,
        .nquery = nq,
        .headers = h,
        .nheaders = nh,
        .payload_hash = payload_hash,
        .amz_date = SUITE_DATE,
        .region = "us-east-1",
        .service = "service",
        .access_key = SUITE_AK,
        .secret_key = SUITE_SK,
    };
    return sl_sigv4_authorization(&r, creq);
}

static void get_vanilla(void)
{
    char *creq = NULL;
    char *a = sign("GET", NULL, 0, suite_headers, 2, EMPTY_SHA, &creq);
    CHECK_EQ_STR(a, SCOPE
                 "SignedHeaders=host;x-amz-date, "
                 "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    CHECK_EQ_STR(creq, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                       "host;x-amz-date\n" EMPTY_SHA);
    free(a);
    free(creq);
}

static void get_vanilla_query_order_key_case(void)
{
    const sl_s3_kv q[] = {{"Param2", "value2"}, {"Param1", "value1"}};
    char *creq = NULL;
    char *a = sign("GET", q, 2, suite_headers, 2, EMPTY_SHA, &creq);
    CHECK_EQ_STR(a, SCOPE
                 "SignedHeaders=host;x-amz-date, "
                 "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    CHECK(creq && strstr(creq, "\nParam1=value1&Param2=value2\n"));
    free(a);
    free(creq);
}

static void get_vanilla_query_unreserved(void)
{
    const char *u = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const sl_s3_kv q[] = {{u, u}};
    char *a = sign("GET", q, 1, suite_headers, 2, EMPTY_SHA, NULL);
    CHECK_EQ_STR(a, SCOPE
                 "SignedHeaders=host;x-amz-date, "
                 "Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197");
    free(a);
}

static void get_vanilla_utf8_query(void)
{
    const sl_s3_kv q[] = {{"\xe1\x88\xb4", "bar"}}; /* U+1234 */
    char *a = sign("GET", q, 1, suite_headers, 2, EMPTY_SHA, NULL);
    CHECK_EQ_STR(a, SCOPE
                 "SignedHeaders=host;x-amz-date, "
                 "Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04");
    free(a);
}

static void post_vanilla_query_nonunreserved(void)
{
    const sl_s3_kv q[] = {{"@#$%^", ""}, {"+", "/,?><`\";:\\|][{}"}};
    char *a = sign("POST", q, 2, suite_headers, 2, EMPTY_SHA, NULL);
    CHECK_EQ_STR(a, SCOPE
                 "SignedHeaders=host;x-amz-date, "
                 "Signature=66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e");
    free(a);
}

static void post_x_www_form_urlencoded(void)
{
    const sl_s3_kv h[] = {
        {"Content-Type", "application/x-www-form-urlencoded"},
        {"Host", "example.amazonaws.com"},
        {"X-Amz-Date", SUITE_DATE},
    };
    uint8_t d[32];
    char hex[65];
    sl_s3_sha256("Param1=value1", 13, d);
    sl_s3_hex(d, 32, hex);
    CHECK_EQ_STR(hex, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
    char *a = sign("POST", NULL, 0, h, 3, hex, NULL);
    CHECK_EQ_STR(a, SCOPE
                 "SignedHeaders=content-type;host;x-amz-date, "
                 "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
    free(a);
}

static void post_sts_header_before(void)
{
    const sl_s3_kv h[] = {
        {"Host", "example.amazonaws.com"},
        {"X-Amz-Date", SUITE_DATE},
        {"X-Amz-Security-Token",
         "AQoDYXdzEPT//////////"
         "wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUu"
         "wthAx7mSEI/qkPpKPi/"
         "kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8Y"
         "QcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+"
         "scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="},
    };
    char *a = sign("POST", NULL, 0, h, 3, EMPTY_SHA, NULL);
    CHECK_EQ_STR(a, SCOPE
                 "SignedHeaders=host;x-amz-date;x-amz-security-token, "
                 "Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead");
    free(a);
}

/* The S3 documentation's GET Object example: service "s3", a signed x-amz-content-sha256 and a
 * Range header. */
static void s3_get_object_example(void)
{
    const sl_s3_kv h[] = {
        {"Host", "examplebucket.s3.amazonaws.com"},
        {"Range", "bytes=0-9"},
        {"x-amz-content-sha256", EMPTY_SHA},
        {"x-amz-date", "20130524T000000Z"},
    };
    char *path = sl_s3_uri_encode("/test.txt", 9, 1);
    sl_sigv4_req r = {
        .method = "GET",
        .path = path,
        .headers = h,
        .nheaders = 4,
        .payload_hash = EMPTY_SHA,
        .amz_date = "20130524T000000Z",
        .region = "us-east-1",
        .service = "s3",
        .access_key = "AKIAIOSFODNN7EXAMPLE",
        .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    };
    char *a = sl_sigv4_authorization(&r, NULL);
    CHECK_EQ_STR(a, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                    "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    free(a);
    free(path);
}

static void key_encoding(void)
{
    const char *k = "acme/ord ers+ä~.qvd";
    char *e = sl_s3_uri_encode(k, strlen(k), 1);
    CHECK_EQ_STR(e, "acme/ord%20ers%2B%C3%A4~.qvd");
    free(e);
    e = sl_s3_uri_encode("a/b", 3, 0);
    CHECK_EQ_STR(e, "a%2Fb");
    free(e);
    const sl_s3_kv q[] = {{"uploads", NULL}, {"prefix", "dir/"}, {"list-type", "2"}};
    char *c = sl_s3_canonical_query(q, 3);
    CHECK_EQ_STR(c, "list-type=2&prefix=dir%2F&uploads=");
    free(c);
    char d[17];
    sl_s3_amz_date(1440938160, d);
    CHECK_EQ_STR(d, SUITE_DATE);
    char b64[25];
    uint8_t md[16] = {0};
    sl_s3_base64(md, 16, b64);
    CHECK_EQ_STR(b64, "AAAAAAAAAAAAAAAAAAAAAA==");
}

int main(void)
{
    SL_RUN(get_vanilla);
    SL_RUN(get_vanilla_query_order_key_case);
    SL_RUN(get_vanilla_query_unreserved);
    SL_RUN(get_vanilla_utf8_query);
    SL_RUN(post_vanilla_query_nonunreserved);
    SL_RUN(post_x_www_form_urlencoded);
    SL_RUN(post_sts_header_before);
    SL_RUN(s3_get_object_example);
    SL_RUN(key_encoding);
    SL_DONE();
}
