#include "sigv4.h"

#include "s3_str.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void sl_s3_sha256(const void *p, size_t n, uint8_t out[32])
{
    SHA256(p, n, out);
}

void sl_s3_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void sl_s3_base64(const uint8_t *p, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

void sl_s3_amz_date(int64_t unix_seconds, char out[17])
{
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static void encode_into(sl_s3_str *s, const char *p, size_t len, int keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            sl_s3_str_add(s, &p[i], 1);
        } else {
            char e[3] = {'%', digits[c >> 4], digits[c & 15]};
            sl_s3_str_add(s, e, 3);
        }
    }
}

char *sl_s3_uri_encode(const char *s, size_t len, int keep_slash)
{
    sl_s3_str out = {0};
    sl_s3_str_add(&out, "", 0);
    encode_into(&out, s, len, keep_slash);
    return sl_s3_str_take(&out);
}

typedef struct enc_pair {
    char *name;
    char *value;
} enc_pair;

static int cmp_pair(const void *a, const void *b)
{
    const enc_pair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

char *sl_s3_canonical_query(const sl_s3_kv *q, size_t n)
{
    sl_s3_str out = {0};
    sl_s3_str_add(&out, "", 0);
    enc_pair *pairs = n ? calloc(n, sizeof *pairs) : NULL;
    if (n && !pairs) {
        sl_s3_str_free(&out);
        return NULL;
    }
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        const char *v = q[i].value ? q[i].value : "";
        pairs[i].name = sl_s3_uri_encode(q[i].name, strlen(q[i].name), 0);
        pairs[i].value = sl_s3_uri_encode(v, strlen(v), 0);
        ok = pairs[i].name && pairs[i].value;
    }
    if (ok) {
        if (n) { /* qsort wants a non-NULL array even for zero elements */
            qsort(pairs, n, sizeof *pairs, cmp_pair);
        }
        for (size_t i = 0; i < n; i++) {
            if (i) {
                sl_s3_str_add(&out, "&", 1);
            }
            sl_s3_str_cat(&out, pairs[i].name);
            sl_s3_str_add(&out, "=", 1); /* "=" even for valueless keys ("uploads=") */
            sl_s3_str_cat(&out, pairs[i].value);
        }
    } else {
        out.oom = 1;
    }
    for (size_t i = 0; i < n; i++) {
        free(pairs[i].name);
        free(pairs[i].value);
    }
    free(pairs);
    return sl_s3_str_take(&out);
}

typedef struct canon_header {
    char *name; /* lowercase */
    const char *value;
    size_t order; /* input position, to keep duplicate headers in their order */
} canon_header;

static int cmp_header(const void *a, const void *b)
{
    const canon_header *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) {
        return c;
    }
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Header value as SigV4 wants it: leading/trailing blanks trimmed, inner runs of blanks
 * collapsed to one space. */
static void add_trimmed(sl_s3_str *s, const char *v)
{
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
        n--;
    }
    int blank = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == ' ' || v[i] == '\t') {
            blank = 1;
            continue;
        }
        if (blank) {
            sl_s3_str_add(s, " ", 1);
            blank = 0;
        }
        sl_s3_str_add(s, &v[i], 1);
    }
}

static void hmac(const void *key, size_t keylen, const char *msg, uint8_t out[32])
{
    unsigned int outlen = 32;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &outlen);
}

char *sl_sigv4_authorization(const sl_sigv4_req *r, char **creq_out)
{
    if (creq_out) {
        *creq_out = NULL;
    }
    sl_s3_str creq = {0}, signed_headers = {0}, out = {0};
    char *query = sl_s3_canonical_query(r->query, r->nquery);
    canon_header *hs = r->nheaders ? calloc(r->nheaders, sizeof *hs) : NULL;
    int ok = query && (hs || !r->nheaders);
    for (size_t i = 0; ok && i < r->nheaders; i++) {
        hs[i].name = strdup(r->headers[i].name);
        hs[i].value = r->headers[i].value;
        hs[i].order = i;
        if (!hs[i].name) {
            ok = 0;
            break;
        }
        for (char *c = hs[i].name; *c; c++) {
            if (*c >= 'A' && *c <= 'Z') {
                *c = (char)(*c - 'A' + 'a');
            }
        }
    }
    if (ok) {
        if (r->nheaders) {
            qsort(hs, r->nheaders, sizeof *hs, cmp_header);
        }
        sl_s3_str_printf(&creq, "%s\n%s\n%s\n", r->method, r->path, query);
        for (size_t i = 0; i < r->nheaders; i++) {
            int dup = i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0;
            if (dup) { /* same header twice: values joined by commas on one line */
                sl_s3_str_add(&creq, ",", 1);
            } else {
                if (i > 0) {
                    sl_s3_str_add(&creq, "\n", 1);
                    sl_s3_str_add(&signed_headers, ";", 1);
                }
                sl_s3_str_cat(&creq, hs[i].name);
                sl_s3_str_add(&creq, ":", 1);
                sl_s3_str_cat(&signed_headers, hs[i].name);
            }
            add_trimmed(&creq, hs[i].value ? hs[i].value : "");
        }
        sl_s3_str_add(&creq, "\n\n", 2);
        sl_s3_str_add(&signed_headers, "", 0);
        sl_s3_str_cat(&creq, signed_headers.p ? signed_headers.p : "");
        sl_s3_str_add(&creq, "\n", 1);
        sl_s3_str_cat(&creq, r->payload_hash);
        ok = !creq.oom && !signed_headers.oom;
    }
    if (ok) {
        char day[9];
        memcpy(day, r->amz_date, 8);
        day[8] = '\0';
        uint8_t h[32];
        char hexh[65];
        sl_s3_sha256(creq.p, creq.len, h);
        sl_s3_hex(h, 32, hexh);
        sl_s3_str sts = {0};
        sl_s3_str_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", r->amz_date, day,
                         r->region, r->service, hexh);
        sl_s3_str ksecret = {0};
        sl_s3_str_printf(&ksecret, "AWS4%s", r->secret_key);
        if (sts.oom || ksecret.oom) {
            ok = 0;
        } else {
            uint8_t k1[32], k2[32], k3[32], k4[32], sig[32];
            char hexsig[65];
            hmac(ksecret.p, ksecret.len, day, k1);
            hmac(k1, 32, r->region, k2);
            hmac(k2, 32, r->service, k3);
            hmac(k3, 32, "aws4_request", k4);
            hmac(k4, 32, sts.p, sig);
            sl_s3_hex(sig, 32, hexsig);
            sl_s3_str_printf(&out,
                             "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
                             "SignedHeaders=%s, Signature=%s",
                             r->access_key, day, r->region, r->service, signed_headers.p, hexsig);
            OPENSSL_cleanse(k1, sizeof k1);
            OPENSSL_cleanse(k2, sizeof k2);
            OPENSSL_cleanse(k3, sizeof k3);
            OPENSSL_cleanse(k4, sizeof k4);
        }
        if (ksecret.p) {
            OPENSSL_cleanse(ksecret.p, ksecret.len);
        }
        sl_s3_str_free(&ksecret);
        sl_s3_str_free(&sts);
    }
    for (size_t i = 0; hs && i < r->nheaders; i++) {
        free(hs[i].name);
    }
    free(hs);
    free(query);
    sl_s3_str_free(&signed_headers);
    if (ok && creq_out) {
        *creq_out = sl_s3_str_take(&creq);
    } else {
        sl_s3_str_free(&creq);
    }
    return ok ? sl_s3_str_take(&out) : (sl_s3_str_free(&out), NULL);
}
