/* HTTP requests of the s3 sink: URL and signed headers, one exchange, retries with backoff. */
#include "s3.h"

#include <openssl/evp.h>
#include <openssl/md5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SL_S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

void sl_s3_resp_reset(sl_s3_resp *r)
{
    r->status = 0;
    r->rc = CURLE_OK;
    r->err[0] = '\0';
    sl_s3_str_reset(&r->body);
    r->etag[0] = '\0';
    r->retry_after = -1;
    r->cb_status = SL_OK;
    r->last_move_ms = r->last_call_ms = sl_s3_now_ms();
    r->last_dl = r->last_ul = 0;
    r->stalled = 0;
}

int64_t sl_s3_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* curl's low-speed check averages over seconds and ignores a server that took the body and then
 * says nothing; this aborts a transfer in which no byte moved either way for `timeout`. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    sl_s3_resp *r = ud;
    int64_t now = sl_s3_now_ms();
    if (now - r->last_call_ms > 3000) { /* curl calls about once a second when idle */
        /* a multipart transfer is only driven while the caller is inside the sink; a gap
         * between calls is the caller's time, not a stall */
        r->last_move_ms = now;
    }
    r->last_call_ms = now;
    if (dlnow != r->last_dl || ulnow != r->last_ul) {
        r->last_dl = dlnow;
        r->last_ul = ulnow;
        r->last_move_ms = now;
        return 0;
    }
    if (now - r->last_move_ms > r->timeout_s * 1000) {
        r->stalled = 1;
        return 1;
    }
    return 0;
}

void sl_s3_resp_free(sl_s3_resp *r)
{
    sl_s3_str_free(&r->body);
}

void sl_s3_prep_free(sl_s3_prep *prep)
{
    curl_slist_free_all(prep->headers);
    prep->headers = NULL;
    sl_s3_str_free(&prep->url);
}

/* Header lines: the status line (kept so the body writer knows where bytes go), ETag and
 * Retry-After. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    sl_s3_resp *r = ud;
    size_t len = size * n;
    if (len > 9 && strncmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', len);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        r->etag[0] = '\0';
        r->retry_after = -1;
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon) {
        return len;
    }
    size_t nlen = (size_t)(colon - p);
    const char *v = colon + 1;
    const char *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) {
        end--;
    }
    size_t vlen = (size_t)(end - v);
    if (nlen == 4 && strncasecmp(p, "ETag", 4) == 0 && vlen < sizeof r->etag) {
        memcpy(r->etag, v, vlen);
        r->etag[vlen] = '\0';
    } else if (nlen == 11 && strncasecmp(p, "Retry-After", 11) == 0 && vlen < 32) {
        char tmp[32];
        memcpy(tmp, v, vlen);
        tmp[vlen] = '\0';
        char *e;
        double d = strtod(tmp, &e);
        if (e != tmp && d >= 0) {
            r->retry_after = d; /* S3 sends seconds; an HTTP-date is ignored */
        }
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    sl_s3_resp *r = ud;
    size_t len = size * n;
    if (r->cb && (r->status == 200 || r->status == 206)) {
        if (r->cb_status != SL_OK) {
            return 0;
        }
        r->cb_status = r->cb(r->ud, p, len);
        if (r->cb_status != SL_OK) {
            return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
        }
        r->delivered += len;
        return len;
    }
    if (r->body.len + len > (size_t)16 << 20) {
        return 0; /* no S3 answer we parse is this large */
    }
    sl_s3_str_add(&r->body, p, len);
    return r->body.oom ? 0 : len;
}

void sl_s3_setup_handle(sl_s3 *s, CURL *e)
{
    curl_easy_setopt(e, CURLOPT_SHARE, s->share);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, s->timeout_s < 10 ? s->timeout_s : 10L);
    /* No total timeout (objects can be large); a stalled transfer is one that moves less than
     * one byte per second for `timeout` seconds. */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, s->timeout_s);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (s->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_file);
    }
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "sluice-s3/0.1");
}

void sl_s3_copy_etag(char *out, size_t n, const char *etag)
{
    size_t l = etag ? strlen(etag) : 0;
    if (l >= n) {
        l = 0;
    }
    memcpy(out, etag ? etag : "", l);
    out[l] = '\0';
}

char *sl_s3_full_key(sl_s3 *s, const char *key)
{
    sl_s3_str k = {0};
    sl_s3_str_cat(&k, s->prefix);
    sl_s3_str_cat(&k, key);
    return sl_s3_str_take(&k);
}

int sl_s3_prepare(sl_s3 *s, CURL *e, const sl_s3_call *c, sl_s3_resp *r, sl_s3_prep *prep)
{
    sl_s3_str path = {0}, host = {0}, hv[8] = {{0}};
    char *query = NULL, *ekey = NULL, *auth = NULL;
    int rc = -1;

    /* Host and canonical path: path style puts the bucket in the path, virtual-hosted style in
     * the host name. The path we sign is exactly the path we send. */
    if (s->path_style) {
        sl_s3_str_cat(&host, s->host);
        sl_s3_str_printf(&path, "%s/%s", s->base_path, s->bucket);
    } else {
        sl_s3_str_printf(&host, "%s.%s", s->bucket, s->host);
        sl_s3_str_cat(&path, s->base_path);
    }
    if (c->key) {
        ekey = sl_s3_uri_encode(c->key, strlen(c->key), 1);
        if (!ekey) {
            goto out;
        }
        sl_s3_str_printf(&path, "/%s", ekey);
    } else if (!s->path_style || path.len == 0) {
        sl_s3_str_cat(&path, "/");
    }
    query = sl_s3_canonical_query(c->query, c->nquery);
    if (!query || path.oom || host.oom) {
        goto out;
    }
    sl_s3_str_printf(&prep->url, "%s://%s%s%s%s", s->scheme, host.p, path.p, *query ? "?" : "",
                     query);

    uint8_t digest[32];
    char payload_hash[65];
    if (c->body_len) {
        sl_s3_sha256(c->body, c->body_len, digest);
        sl_s3_hex(digest, 32, payload_hash);
    } else {
        strcpy(payload_hash, SL_S3_EMPTY_SHA256);
    }
    char amz_date[17];
    sl_s3_amz_date((int64_t)time(NULL), amz_date);

    sl_s3_kv h[12];
    size_t nh = 0;
    h[nh++] = (sl_s3_kv){"host", host.p};
    h[nh++] = (sl_s3_kv){"x-amz-date", amz_date};
    h[nh++] = (sl_s3_kv){"x-amz-content-sha256", payload_hash};
    if (s->token) {
        h[nh++] = (sl_s3_kv){"x-amz-security-token", s->token};
    }
    if (c->content_type) {
        h[nh++] = (sl_s3_kv){"content-type", c->content_type};
    }
    char md5b64[32];
    if (c->content_md5) {
        uint8_t md5[16];
        EVP_Digest(c->body, c->body_len, md5, NULL, EVP_md5(), NULL);
        sl_s3_base64(md5, 16, md5b64);
        h[nh++] = (sl_s3_kv){"content-md5", md5b64};
    }
    if (c->sse && s->sse) {
        h[nh++] = (sl_s3_kv){"x-amz-server-side-encryption", s->sse};
        if (s->kms_key) {
            h[nh++] = (sl_s3_kv){"x-amz-server-side-encryption-aws-kms-key-id", s->kms_key};
        }
    }
    if (c->range) {
        h[nh++] = (sl_s3_kv){"range", c->range};
    }
    if (c->if_match) {
        h[nh++] = (sl_s3_kv){"if-match", c->if_match};
    }
    if (c->if_none_match) {
        h[nh++] = (sl_s3_kv){"if-none-match", "*"};
    }
    sl_sigv4_req sr = {
        .method = c->method,
        .path = path.p,
        .query = c->query,
        .nquery = c->nquery,
        .headers = h,
        .nheaders = nh,
        .payload_hash = payload_hash,
        .amz_date = amz_date,
        .region = s->region,
        .service = "s3",
        .access_key = s->access_key,
        .secret_key = s->secret_key,
    };
    auth = sl_sigv4_authorization(&sr, NULL);
    if (!auth || prep->url.oom) {
        goto out;
    }
    /* Every header we send is signed, except the transport ones curl adds (Content-Length,
     * Accept, User-Agent) and "Expect:", which we disable to avoid a 100-continue round trip
     * (safe: our signature never names it). */
    for (size_t i = 0; i < nh; i++) {
        sl_s3_str_printf(&hv[0], "%s: %s", h[i].name, h[i].value);
        if (hv[0].oom) {
            goto out;
        }
        struct curl_slist *l = curl_slist_append(prep->headers, hv[0].p);
        if (!l) {
            goto out;
        }
        prep->headers = l;
        sl_s3_str_reset(&hv[0]);
    }
    sl_s3_str_printf(&hv[0], "Authorization: %s", auth);
    const char *extra[] = {hv[0].oom ? NULL : hv[0].p, "Expect:", "Accept:"};
    for (size_t i = 0; i < 3; i++) {
        struct curl_slist *l = extra[i] ? curl_slist_append(prep->headers, extra[i]) : NULL;
        if (!l) {
            goto out;
        }
        prep->headers = l;
    }

    curl_easy_setopt(e, CURLOPT_URL, prep->url.p);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, prep->headers);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L); /* resets any previous body settings */
    curl_easy_setopt(e, CURLOPT_NOBODY, strcmp(c->method, "HEAD") == 0 ? 1L : 0L);
    if (strcmp(c->method, "PUT") == 0 || strcmp(c->method, "POST") == 0) {
        /* The body is in memory and stays alive until the transfer ends; curl does not copy. */
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body_len ? (const char *)c->body : "");
    }
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->err);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, r);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    r->timeout_s = s->timeout_s;
    r->last_move_ms = r->last_call_ms = sl_s3_now_ms();
    r->err[0] = '\0';
    rc = 0;
out:
    if (auth) {
        memset(auth, 0, strlen(auth));
    }
    free(auth);
    free(query);
    free(ekey);
    sl_s3_str_free(&path);
    sl_s3_str_free(&host);
    sl_s3_str_free(&hv[0]);
    return rc;
}

static int s3_code_is(const sl_s3_resp *r, const char *code)
{
    char tag[96];
    snprintf(tag, sizeof tag, "<Code>%s</Code>", code);
    return r->body.p && strstr(r->body.p, tag) != NULL;
}

int sl_s3_transient(const sl_s3_resp *r)
{
    if (r->stalled) {
        return 1;
    }
    if (r->rc != CURLE_OK) {
        switch (r->rc) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
            return 1;
        default:
            return 0;
        }
    }
    if (r->status >= 500 || r->status == 429 || r->status == 408) {
        return 1;
    }
    if (r->status == 400 && s3_code_is(r, "RequestTimeout")) {
        return 1;
    }
    /* An error document inside a 200 (CompleteMultipartUpload can do that) is retried too. */
    if (r->status == 200 && s3_code_is(r, "InternalError")) {
        return 1;
    }
    return r->status == 503 || s3_code_is(r, "SlowDown");
}

long sl_s3_backoff_ms(sl_s3 *s, int attempt, const sl_s3_resp *r)
{
    /* Exponential (200 ms doubling, capped at 10 s) with "equal jitter": half fixed, half
     * random, so parallel writers spread out but the wait never collapses to zero. */
    long cap = 10000, d = 200;
    for (int i = 1; i < attempt && d < cap; i++) {
        d *= 2;
    }
    if (d > cap) {
        d = cap;
    }
    long ms = d / 2 + (long)(rand_r(&s->rng) % (unsigned)(d / 2 + 1));
    if (r && r->retry_after >= 0) {
        long ra = (long)(r->retry_after * 1000.0);
        if (ra > 60000) {
            ra = 60000;
        }
        if (ra > ms) {
            ms = ra;
        }
    }
    return ms;
}

int sl_s3_sleep(sl_s3 *s, long ms)
{
    while (ms > 0) {
        if (s->api->stopping(s->h)) {
            return -1;
        }
        long step = ms < 100 ? ms : 100;
        struct timespec ts = {step / 1000, (step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return 0;
}

void sl_s3_describe(const sl_s3_resp *r, sl_s3_str *out)
{
    if (r->stalled) {
        sl_s3_str_printf(out, "stalled: no data moved for %ld s", r->timeout_s);
        return;
    }
    if (r->rc != CURLE_OK) {
        sl_s3_str_printf(out, "%s (%s)", curl_easy_strerror(r->rc), r->err[0] ? r->err : "-");
        return;
    }
    sl_s3_str_printf(out, "HTTP %ld", r->status);
    const char *end = r->body.p ? r->body.p + r->body.len : NULL;
    char *code = r->body.p ? sl_s3_xml_get(r->body.p, end, "Code", NULL) : NULL;
    char *msg = r->body.p ? sl_s3_xml_get(r->body.p, end, "Message", NULL) : NULL;
    if (code) {
        sl_s3_str_printf(out, " %s", code);
    }
    if (msg) {
        sl_s3_str_printf(out, ": %s", msg);
    }
    free(code);
    free(msg);
}

sl_status sl_s3_fail(sl_s3 *s, const char *what, const char *key, const sl_s3_resp *r)
{
    sl_s3_str d = {0};
    sl_s3_describe(r, &d);
    s->api->set_error(s->h, "s3 bucket '%s': %s%s%s%s: %s", s->bucket, what, key ? " '" : "",
                      key ? key : "", key ? "'" : "", d.p ? d.p : "out of memory");
    sl_s3_str_free(&d);
    return sl_s3_transient(r) ? SL_RETRY : SL_ERROR;
}

sl_status sl_s3_do(sl_s3 *s, const sl_s3_call *c, sl_s3_resp *r)
{
    char range[48];
    sl_s3_call cc = *c;
    char etag[sizeof r->etag] = "";
    for (int attempt = 0;; attempt++) {
        if (r->cb && r->delivered > 0) {
            /* A streaming GET broke after delivering bytes: resume where it stopped, and only
             * from the same version of the object. */
            snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)r->delivered);
            cc.range = range;
            cc.if_match = etag[0] ? etag : NULL;
        }
        sl_s3_resp_reset(r);
        r->attempts = attempt + 1;
        sl_s3_prep prep = {0};
        if (sl_s3_prepare(s, s->easy, &cc, r, &prep) != 0) {
            sl_s3_prep_free(&prep);
            s->api->set_error(s->h, "s3 bucket '%s': out of memory", s->bucket);
            return SL_ERROR;
        }
        r->rc = curl_easy_perform(s->easy);
        curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, NULL);
        sl_s3_prep_free(&prep);
        if (r->cb && r->cb_status != SL_OK) {
            return r->cb_status; /* the consumer stopped the transfer */
        }
        if (r->rc == CURLE_WRITE_ERROR && r->body.oom) {
            s->api->set_error(s->h, "s3 bucket '%s': out of memory", s->bucket);
            return SL_ERROR;
        }
        if (r->rc == CURLE_OK) {
            curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &r->status);
        }
        if (r->cb && r->delivered > 0 && !etag[0] && r->etag[0]) {
            memcpy(etag, r->etag, sizeof etag);
        }
        if (!sl_s3_transient(r)) {
            return SL_OK;
        }
        if (attempt >= s->max_retries) {
            sl_s3_str what = {0};
            sl_s3_str_printf(&what, "%s (gave up after %d attempts)", c->method, attempt + 1);
            sl_s3_fail(s, what.p ? what.p : c->method, c->key, r);
            sl_s3_str_free(&what);
            return SL_RETRY;
        }
        long ms = sl_s3_backoff_ms(s, attempt + 1, r);
        sl_s3_str d = {0};
        sl_s3_describe(r, &d);
        s->api->log(s->h, SL_LOG_WARN, "s3 %s %s: %s; retry %d/%d in %ld ms", c->method,
                    c->key ? c->key : "(bucket)", d.p ? d.p : "?", attempt + 1, s->max_retries, ms);
        sl_s3_str_free(&d);
        if (sl_s3_sleep(s, ms) != 0) {
            s->api->set_error(s->h, "s3 bucket '%s': %s: stopped while retrying", s->bucket,
                              c->method);
            return SL_RETRY;
        }
    }
}
