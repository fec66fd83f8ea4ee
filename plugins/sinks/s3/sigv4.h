/* AWS Signature Version 4 for S3 requests, on OpenSSL libcrypto.
 *
 * We sign ourselves instead of using CURLOPT_AWS_SIGV4: curl 7.88 neither canonicalizes the query
 * string nor adds x-amz-content-sha256, and it signs headers it does not send (docs/sinks.md). */
#ifndef SL_S3_SIGV4_H
#define SL_S3_SIGV4_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_s3_kv {
    const char *name;
    const char *value;
} sl_s3_kv;

typedef struct sl_sigv4_req {
    const char *method;
    /* Canonical URI: the request path exactly as sent, already URI-encoded by sl_s3_uri_encode
     * (S3 does not double-encode or normalize it). */
    const char *path;
    /* Query parameters, raw (not encoded); the signer encodes and sorts them. */
    const sl_s3_kv *query;
    size_t nquery;
    /* Every header to sign, any case, including host and x-amz-date. */
    const sl_s3_kv *headers;
    size_t nheaders;
    const char *payload_hash; /* lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
    const char *amz_date;     /* "20150830T123600Z" */
    const char *region;
    const char *service;
    const char *access_key;
    const char *secret_key;
} sl_sigv4_req;

/* Builds the Authorization header value ("AWS4-HMAC-SHA256 Credential=..."). Returns a malloc'd
 * string or NULL on allocation failure. If creq is not NULL it receives the malloc'd canonical
 * request (for tests and debugging). */
char *sl_sigv4_authorization(const sl_sigv4_req *r, char **creq);

/* RFC 3986 encoding as SigV4 wants it: unreserved A-Z a-z 0-9 - . _ ~ stay, everything else is
 * %XX (uppercase); '/' stays when keep_slash. Returns a malloc'd string or NULL. */
char *sl_s3_uri_encode(const char *s, size_t len, int keep_slash);

/* The canonical query string of the parameters (sorted by encoded name, then value). malloc'd. */
char *sl_s3_canonical_query(const sl_s3_kv *q, size_t n);

void sl_s3_sha256(const void *p, size_t n, uint8_t out[32]);
void sl_s3_hex(const uint8_t *p, size_t n, char *out);    /* writes 2n chars + NUL */
void sl_s3_base64(const uint8_t *p, size_t n, char *out); /* writes 4*ceil(n/3) chars + NUL */
/* "YYYYMMDDTHHMMSSZ" for a Unix time. */
void sl_s3_amz_date(int64_t unix_seconds, char out[17]);

#endif
