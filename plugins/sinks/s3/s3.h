/* Internal interfaces of the s3 sink plugin (one instance = one sl_s3). An instance is used by
 * one thread at a time (the host calls a sink from its job thread), so nothing here locks. */
#ifndef SL_S3_H
#define SL_S3_H

#include "s3_str.h"
#include "sigv4.h"

#include <curl/curl.h>
#include <sluice/plugin.h>

typedef struct sl_s3 {
    sl_host *h;
    const sl_host_api *api;
    /* options */
    char *scheme;    /* "http" / "https" */
    char *host;      /* endpoint host[:port] */
    char *base_path; /* endpoint path without trailing '/', usually "" */
    char *region, *bucket, *prefix, *access_key, *secret_key, *token, *ca_file, *sse, *kms_key;
    int path_style;
    size_t part_size;
    int parallel;
    long timeout_s;
    int max_retries;
    /* connections */
    CURL *easy;    /* sequential requests; keeps its connection alive */
    CURLSH *share; /* DNS cache and TLS sessions shared by every handle of the instance */
    CURLM *multi;  /* parallel UploadPart */
    unsigned rng;  /* jitter */
} sl_s3;

/* One HTTP exchange's outcome. */
typedef struct sl_s3_resp {
    long status; /* 0 when no HTTP response arrived */
    CURLcode rc;
    char err[CURL_ERROR_SIZE];
    sl_s3_str body; /* response body (XML answers, error documents) */
    char etag[160];
    double retry_after; /* seconds from Retry-After, < 0 when absent */
    /* stall detection (progress callback): no byte moved for timeout seconds */
    long timeout_s;
    int64_t last_move_ms;
    int64_t last_call_ms; /* last progress callback: time between drives does not count */
    curl_off_t last_dl, last_ul;
    int stalled;
    /* streaming GET: 2xx bodies go to cb instead of body */
    sl_read_cb cb;
    void *ud;
    uint64_t delivered;
    sl_status cb_status;
    int attempts; /* requests sl_s3_do sent: > 1 means an earlier one may have taken effect */
} sl_s3_resp;

/* A request to make. key is the full object key (prefix included), NULL for the bucket. */
typedef struct sl_s3_call {
    const char *method;
    const char *key;
    const sl_s3_kv *query;
    size_t nquery;
    const uint8_t *body;
    size_t body_len;
    const char *content_type;
    int content_md5;      /* send Content-MD5 of the body (object PUT, UploadPart) */
    int sse;              /* send the SSE headers (PutObject, CreateMultipartUpload) */
    const char *range;    /* "bytes=N-" or NULL */
    const char *if_match; /* ETag or NULL */
    int if_none_match;    /* send "If-None-Match: *" (create only) */
} sl_s3_call;

/* Per-handle request state that must live while the transfer runs. */
typedef struct sl_s3_prep {
    struct curl_slist *headers;
    sl_s3_str url;
} sl_s3_prep;

/* Sets up handle e for call (URL, signed headers, body, callbacks into resp). 0 / -1 (OOM). */
int sl_s3_prepare(sl_s3 *s, CURL *e, const sl_s3_call *c, sl_s3_resp *r, sl_s3_prep *prep);
void sl_s3_prep_free(sl_s3_prep *prep);
void sl_s3_resp_reset(sl_s3_resp *r);
void sl_s3_resp_free(sl_s3_resp *r);
/* Applies the instance's common options (timeouts, TLS, share) to a new easy handle. */
void sl_s3_setup_handle(sl_s3 *s, CURL *e);

/* 1 when the outcome is worth retrying (connection trouble, timeouts, 5xx, 429, 408, SlowDown,
 * RequestTimeout). */
int sl_s3_transient(const sl_s3_resp *r);
/* Backoff before attempt n (1-based), milliseconds, with jitter, honouring Retry-After. */
long sl_s3_backoff_ms(sl_s3 *s, int attempt, const sl_s3_resp *r);
/* Sleeps ms, waking early when the host is stopping. 0, or -1 when stopping. */
int sl_s3_sleep(sl_s3 *s, long ms);

/* Performs c on the instance's easy handle, retrying transient failures up to max_retries times.
 * Returns SL_OK when a final (non-transient) HTTP answer arrived (the caller inspects r->status),
 * SL_RETRY when retries ran out (error already set), SL_ERROR on local failures (error set), or
 * the callback's status when a streaming callback stopped the transfer. */
sl_status sl_s3_do(sl_s3 *s, const sl_s3_call *c, sl_s3_resp *r);

/* One line describing an outcome: "HTTP 403 SignatureDoesNotMatch: ..." or the curl error. */
void sl_s3_describe(const sl_s3_resp *r, sl_s3_str *out);
int64_t sl_s3_now_ms(void);

/* Reports a failed answer through api->set_error ("s3 bucket 'b': PUT 'k': HTTP 403
 * SignatureDoesNotMatch: ...") and returns SL_RETRY or SL_ERROR by its kind. */
sl_status sl_s3_fail(sl_s3 *s, const char *what, const char *key, const sl_s3_resp *r);

/* Tiny XML reader for S3's answers: finds <tag>..</tag> in [p, end) and returns the decoded text
 * (malloc'd) or NULL; *next is set past the closing tag. */
char *sl_s3_xml_get(const char *p, const char *end, const char *tag, const char **next);
/* Locates the next <tag>..</tag> element; returns 1 and its inner range, or 0. */
int sl_s3_xml_elem(const char *p, const char *end, const char *tag, const char **in_start,
                   const char **in_end);

/* Copies an ETag into a version buffer of n bytes; one that does not fit (never seen from S3)
 * becomes "" rather than a truncated version that could never match. */
void sl_s3_copy_etag(char *out, size_t n, const char *etag);

/* Full key = prefix + key (malloc'd). */
char *sl_s3_full_key(sl_s3 *s, const char *key);

/* Sink operations implemented in s3_put.c. */
sl_status sl_s3_put_begin(void *ctx, const char *key, const sl_put_opts *opts, sl_put **out);
sl_status sl_s3_put_write(void *ctx, sl_put *p, const void *buf, size_t len);
sl_status sl_s3_put_commit(void *ctx, sl_put *p, char *version);
void sl_s3_put_abort(void *ctx, sl_put *p);

#endif
