/* Streaming uploads. Bytes collect in one part_size buffer; an object that fits is one PUT at
 * commit (atomic replace). A larger one becomes a multipart upload whose parts go out through
 * curl multi, at most parallel_parts at once, while the caller keeps writing: memory stays
 * under (parallel_parts + 1) * part_size. Any failure aborts the upload. */
#include "s3.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SLOT_FREE = 0, SLOT_RUNNING = 1, SLOT_WAITING = 2 };

typedef struct s3_slot {
    CURL *e;
    int state;
    uint8_t *buf; /* part_size bytes, owned by the slot */
    size_t len;
    int part_no;
    int attempt;
    int64_t not_before_ms; /* SLOT_WAITING: when to retry */
    sl_s3_prep prep;
    sl_s3_resp resp;
} s3_slot;

struct sl_put {
    char *key; /* full key (prefix included) */
    char *content_type;
    uint8_t *buf; /* the part being filled */
    size_t len;
    char *upload_id; /* NULL until the object outgrows one part */
    int next_part;   /* number of the next part to submit */
    char **etags;    /* etags[i] for part i+1 */
    int netags;
    s3_slot *slots;
    sl_status failed; /* SL_OK, or the status every later call returns */
    char *if_match;   /* conditional put: the ETag the object must have, or NULL */
    int if_none_match;
};

sl_status sl_s3_put_begin(void *ctx, const char *key, const sl_put_opts *opts, sl_put **out)
{
    sl_s3 *s = ctx;
    const char *content_type = opts ? opts->content_type : NULL;
    sl_put *p = calloc(1, sizeof *p);
    if (p) {
        p->if_none_match = opts && opts->if_none_match;
        p->if_match = opts && opts->if_match ? strdup(opts->if_match) : NULL;
        p->key = sl_s3_full_key(s, key);
        p->content_type =
            strdup(content_type && *content_type ? content_type : "application/octet-stream");
        p->buf = s->api->malloc(s->h, s->part_size);
        p->slots = calloc((size_t)s->parallel, sizeof *p->slots);
        p->next_part = 1;
    }
    if (!p || !p->key || !p->content_type || !p->buf || !p->slots ||
        (opts && opts->if_match && !p->if_match)) {
        if (p) {
            free(p->if_match);
            free(p->key);
            free(p->content_type);
            if (p->buf) {
                s->api->free(s->h, p->buf);
            }
            free(p->slots);
            free(p);
        }
        s->api->set_error(s->h, "s3: out of memory for a %zu-byte upload buffer", s->part_size);
        return SL_ERROR;
    }
    *out = p;
    return SL_OK;
}

static void put_free(sl_s3 *s, sl_put *p)
{
    for (int i = 0; i < s->parallel; i++) {
        s3_slot *sl = &p->slots[i];
        if (sl->e) {
            if (sl->state == SLOT_RUNNING) {
                curl_multi_remove_handle(s->multi, sl->e);
            }
            curl_easy_cleanup(sl->e);
        }
        sl_s3_prep_free(&sl->prep);
        sl_s3_resp_free(&sl->resp);
        if (sl->buf) {
            s->api->free(s->h, sl->buf);
        }
    }
    for (int i = 0; i < p->netags; i++) {
        free(p->etags[i]);
    }
    free(p->etags);
    free(p->slots);
    if (p->buf) {
        s->api->free(s->h, p->buf);
    }
    free(p->upload_id);
    free(p->if_match);
    free(p->content_type);
    free(p->key);
    free(p);
}

static sl_status create_upload(sl_s3 *s, sl_put *p)
{
    sl_s3_kv q[] = {{"uploads", ""}};
    sl_s3_call c = {.method = "POST",
                    .key = p->key,
                    .query = q,
                    .nquery = 1,
                    .content_type = p->content_type,
                    .sse = 1};
    sl_s3_resp r = {0};
    sl_status st = sl_s3_do(s, &c, &r);
    if (st == SL_OK) {
        char *id = r.status == 200 && r.body.p
                       ? sl_s3_xml_get(r.body.p, r.body.p + r.body.len, "UploadId", NULL)
                       : NULL;
        if (id && *id) {
            p->upload_id = id;
        } else {
            free(id);
            st = sl_s3_fail(s, "CreateMultipartUpload", p->key, &r);
        }
    }
    sl_s3_resp_free(&r);
    return st;
}

static int start_part(sl_s3 *s, sl_put *p, s3_slot *sl)
{
    char num[16];
    snprintf(num, sizeof num, "%d", sl->part_no);
    sl_s3_kv q[] = {{"partNumber", num}, {"uploadId", p->upload_id}};
    sl_s3_call c = {.method = "PUT",
                    .key = p->key,
                    .query = q,
                    .nquery = 2,
                    .body = sl->buf,
                    .body_len = sl->len,
                    .content_type = "application/octet-stream",
                    .content_md5 = 1};
    sl_s3_prep_free(&sl->prep);
    sl_s3_resp_reset(&sl->resp);
    if (!sl->e) {
        sl->e = curl_easy_init();
        if (!sl->e) {
            return -1;
        }
        sl_s3_setup_handle(s, sl->e);
    }
    if (sl_s3_prepare(s, sl->e, &c, &sl->resp, &sl->prep) != 0) {
        return -1;
    }
    if (curl_multi_add_handle(s->multi, sl->e) != CURLM_OK) {
        return -1;
    }
    sl->state = SLOT_RUNNING;
    return 0;
}

static int record_etag(sl_put *p, int part_no, const char *etag)
{
    if (part_no > p->netags) {
        char **n = realloc(p->etags, (size_t)part_no * sizeof *n);
        if (!n) {
            return -1;
        }
        for (int i = p->netags; i < part_no; i++) {
            n[i] = NULL;
        }
        p->etags = n;
        p->netags = part_no;
    }
    free(p->etags[part_no - 1]);
    p->etags[part_no - 1] = strdup(etag);
    return p->etags[part_no - 1] ? 0 : -1;
}

static void part_done(sl_s3 *s, sl_put *p, s3_slot *sl, CURLcode rc)
{
    curl_multi_remove_handle(s->multi, sl->e);
    curl_easy_setopt(sl->e, CURLOPT_HTTPHEADER, NULL);
    sl_s3_prep_free(&sl->prep);
    sl->resp.rc = rc;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(sl->e, CURLINFO_RESPONSE_CODE, &sl->resp.status);
    }
    sl->state = SLOT_FREE;
    if (rc == CURLE_OK && sl->resp.status == 200 && sl->resp.etag[0]) {
        if (record_etag(p, sl->part_no, sl->resp.etag) != 0) {
            s->api->set_error(s->h, "s3: out of memory");
            p->failed = SL_ERROR;
        }
        return;
    }
    char what[64];
    if (sl_s3_transient(&sl->resp) && sl->attempt < s->max_retries) {
        sl->attempt++;
        long ms = sl_s3_backoff_ms(s, sl->attempt, &sl->resp);
        sl_s3_str d = {0};
        sl_s3_describe(&sl->resp, &d);
        s->api->log(s->h, SL_LOG_WARN, "s3 UploadPart %d of %s: %s; retry %d/%d in %ld ms",
                    sl->part_no, p->key, d.p ? d.p : "?", sl->attempt, s->max_retries, ms);
        sl_s3_str_free(&d);
        sl->not_before_ms = sl_s3_now_ms() + ms;
        sl->state = SLOT_WAITING;
        return;
    }
    if (rc == CURLE_OK && sl->resp.status == 200) {
        snprintf(what, sizeof what, "UploadPart %d (no ETag in the answer)", sl->part_no);
        s->api->set_error(s->h, "s3 bucket '%s': %s '%s'", s->bucket, what, p->key);
        p->failed = SL_ERROR;
        return;
    }
    snprintf(what, sizeof what, "UploadPart %d%s", sl->part_no,
             sl_s3_transient(&sl->resp) ? " (gave up)" : "");
    p->failed = sl_s3_fail(s, what, p->key, &sl->resp);
}

/* Moves the running transfers along without waiting and collects the finished ones. */
static void drive(sl_s3 *s, sl_put *p)
{
    int running = 0;
    if (curl_multi_perform(s->multi, &running) != CURLM_OK) {
        s->api->set_error(s->h, "s3: curl_multi_perform failed");
        p->failed = SL_ERROR;
        return;
    }
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(s->multi, &left))) {
        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        for (int i = 0; i < s->parallel; i++) {
            if (p->slots[i].e == m->easy_handle && p->slots[i].state == SLOT_RUNNING) {
                part_done(s, p, &p->slots[i], m->data.result);
                break;
            }
        }
    }
}

/* Drives the parallel parts. Returns when a slot is free (all_done = 0) or when every part has
 * finished (all_done = 1), or on the first failure. */
static sl_status pump(sl_s3 *s, sl_put *p, int all_done)
{
    while (p->failed == SL_OK) {
        int busy = 0, free_slot = 0;
        int64_t t = sl_s3_now_ms(), wake = -1;
        for (int i = 0; i < s->parallel; i++) {
            s3_slot *sl = &p->slots[i];
            if (sl->state == SLOT_WAITING && sl->not_before_ms <= t) {
                if (start_part(s, p, sl) != 0) {
                    s->api->set_error(s->h, "s3: cannot start UploadPart (out of memory)");
                    p->failed = SL_ERROR;
                    return p->failed;
                }
            }
            if (sl->state == SLOT_WAITING) {
                int64_t w = sl->not_before_ms - t;
                wake = wake < 0 || w < wake ? w : wake;
            }
            busy += sl->state != SLOT_FREE;
            free_slot |= sl->state == SLOT_FREE;
        }
        if ((!all_done && free_slot) || (all_done && busy == 0)) {
            return SL_OK;
        }
        drive(s, p);
        if (p->failed != SL_OK) {
            break;
        }
        if (s->api->stopping(s->h)) {
            s->api->set_error(s->h, "s3: stopped during a multipart upload of '%s'", p->key);
            p->failed = SL_RETRY;
            break;
        }
        int ms = wake >= 0 && wake < 200 ? (int)wake : 200;
        curl_multi_poll(s->multi, NULL, 0, ms, NULL);
    }
    return p->failed;
}

/* Hands the full fill buffer to a free slot as the next part. */
static sl_status submit_part(sl_s3 *s, sl_put *p)
{
    if (p->next_part > 10000) { /* S3's limit on parts per upload */
        s->api->set_error(s->h,
                          "s3 bucket '%s': '%s' needs more than 10000 parts of %zu bytes; raise "
                          "part_size",
                          s->bucket, p->key, s->part_size);
        return p->failed = SL_ERROR;
    }
    if (!p->upload_id) {
        sl_status st = create_upload(s, p);
        if (st != SL_OK) {
            return p->failed = st;
        }
    }
    sl_status st = pump(s, p, 0);
    if (st != SL_OK) {
        return st;
    }
    for (int i = 0; i < s->parallel; i++) {
        s3_slot *sl = &p->slots[i];
        if (sl->state != SLOT_FREE) {
            continue;
        }
        uint8_t *spare = sl->buf;
        if (!spare) {
            spare = s->api->malloc(s->h, s->part_size);
            if (!spare) {
                s->api->set_error(s->h, "s3: out of memory for a part buffer");
                return p->failed = SL_ERROR;
            }
        }
        sl->buf = p->buf;
        sl->len = p->len;
        sl->part_no = p->next_part++;
        sl->attempt = 0;
        p->buf = spare;
        p->len = 0;
        if (start_part(s, p, sl) != 0) {
            s->api->set_error(s->h, "s3: cannot start UploadPart (out of memory)");
            return p->failed = SL_ERROR;
        }
        drive(s, p); /* let the new transfer start while the caller fills the next buffer */
        return p->failed;
    }
    s->api->set_error(s->h, "s3: internal error: no free upload slot");
    return p->failed = SL_ERROR;
}

sl_status sl_s3_put_write(void *ctx, sl_put *p, const void *buf, size_t len)
{
    sl_s3 *s = ctx;
    const uint8_t *b = buf;
    if (p->upload_id && p->failed == SL_OK) {
        /* parts in flight move on every write, not only when the caller waits for a slot */
        drive(s, p);
    }
    while (len > 0) {
        if (p->failed != SL_OK) {
            return p->failed;
        }
        if (p->len == s->part_size) {
            sl_status st = submit_part(s, p);
            if (st != SL_OK) {
                return st;
            }
        }
        size_t n = s->part_size - p->len;
        if (n > len) {
            n = len;
        }
        memcpy(p->buf + p->len, b, n);
        p->len += n;
        b += n;
        len -= n;
    }
    return p->failed;
}

static void abort_upload(sl_s3 *s, sl_put *p)
{
    if (!p->upload_id) {
        return;
    }
    sl_s3_kv q[] = {{"uploadId", p->upload_id}};
    sl_s3_call c = {.method = "DELETE", .key = p->key, .query = q, .nquery = 1};
    sl_s3_resp r = {0};
    /* One attempt: a leftover upload costs storage, not correctness, and a bucket lifecycle
     * rule (AbortIncompleteMultipartUpload) removes it. s3rver answers 405 here. */
    int saved = s->max_retries;
    s->max_retries = 0;
    sl_s3_prep prep = {0};
    if (sl_s3_prepare(s, s->easy, &c, &r, &prep) == 0) {
        r.rc = curl_easy_perform(s->easy);
        curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, NULL);
        if (r.rc == CURLE_OK) {
            curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &r.status);
        }
    }
    sl_s3_prep_free(&prep);
    s->max_retries = saved;
    if (!(r.rc == CURLE_OK && ((r.status >= 200 && r.status < 300) || r.status == 404 ||
                               r.status == 405 || r.status == 501))) {
        s->api->log(s->h, SL_LOG_WARN,
                    "s3 bucket '%s': AbortMultipartUpload '%s' failed (%s, HTTP %ld); the "
                    "incomplete upload stays until a lifecycle rule removes it",
                    s->bucket, p->key, curl_easy_strerror(r.rc), r.status);
    }
    sl_s3_resp_free(&r);
}

/* The ETag S3 gives the object this put writes (without SSE-KMS/SSE-C): the MD5 of the body
 * for a single PUT, or the MD5 of the parts' MD5s plus "-N" for a multipart upload. */
static void expected_etag(const sl_put *p, char out[80])
{
    uint8_t md5[16];
    char hex[33];
    if (!p->upload_id) {
        EVP_Digest(p->buf, p->len, md5, NULL, EVP_md5(), NULL);
        sl_s3_hex(md5, 16, hex);
        snprintf(out, 80, "\"%s\"", hex);
        return;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) {
        out[0] = 0;
        return;
    }
    EVP_DigestInit_ex(md, EVP_md5(), NULL);
    for (int i = 0; i < p->netags; i++) {
        const char *e = p->etags[i] ? p->etags[i] : "";
        e += *e == '"';
        uint8_t bin[16] = {0};
        for (int k = 0;
             k < 16 && isxdigit((unsigned char)e[2 * k]) && isxdigit((unsigned char)e[2 * k + 1]);
             k++) {
            unsigned v;
            sscanf(e + 2 * k, "%2x", &v);
            bin[k] = (uint8_t)v;
        }
        EVP_DigestUpdate(md, bin, 16);
    }
    EVP_DigestFinal_ex(md, md5, NULL);
    EVP_MD_CTX_free(md);
    sl_s3_hex(md5, 16, hex);
    snprintf(out, 80, "\"%s-%d\"", hex, p->netags);
}

/* A conditional request's precondition failed (412, or 404 NoSuchKey for If-Match on a missing
 * object). When the request had to be sent again, the first copy may have landed and the 412 be
 * about our own write: the object then carries exactly the ETag of our bytes, which a HEAD tells.
 * Returns SL_OK with etag filled in that case, else SL_CONFLICT (error set). */
static sl_status precondition_failed(sl_s3 *s, sl_put *p, const sl_s3_resp *r, const char *what,
                                     char *etag, size_t etaglen)
{
    if (r->attempts > 1) {
        char want[80];
        expected_etag(p, want);
        sl_s3_call c = {.method = "HEAD", .key = p->key};
        sl_s3_resp h = {0};
        if (want[0] && sl_s3_do(s, &c, &h) == SL_OK && h.status == 200 &&
            strcmp(h.etag, want) == 0) {
            sl_s3_copy_etag(etag, etaglen, h.etag);
            sl_s3_resp_free(&h);
            return SL_OK;
        }
        sl_s3_resp_free(&h);
    }
    sl_s3_str d = {0};
    sl_s3_describe(r, &d);
    s->api->set_error(s->h, "s3 bucket '%s': %s '%s': %s: another writer changed the object%s%s",
                      s->bucket, what, p->key, d.p ? d.p : "precondition failed",
                      p->if_match ? " since version " : "", p->if_match ? p->if_match : "");
    sl_s3_str_free(&d);
    return SL_CONFLICT;
}

/* The answer to a conditional PutObject / CompleteMultipartUpload: 412 (or, for If-Match, 404
 * NoSuchKey) is a conflict; 409 ConditionalRequestConflict (a concurrent conditional write to
 * the key) is worth another try of the whole object. -1 when the answer is none of these. */
static int conditional_answer(sl_s3 *s, sl_put *p, const sl_s3_resp *r, const char *what,
                              char *etag, size_t etaglen, sl_status *st)
{
    if (!p->if_match && !p->if_none_match)
        return -1;
    int missing = r->status == 404 && p->if_match &&
                  (!r->body.p || strstr(r->body.p, "<Code>NoSuchKey</Code>"));
    if (r->status == 412 || missing) {
        *st = precondition_failed(s, p, r, what, etag, etaglen);
        return 0;
    }
    if (r->status == 409) {
        sl_s3_fail(s, what, p->key, r);
        *st = SL_RETRY;
        return 0;
    }
    return -1;
}

static sl_status single_put(sl_s3 *s, sl_put *p, char *etag, size_t etaglen)
{
    sl_s3_call c = {.method = "PUT",
                    .key = p->key,
                    .body = p->buf,
                    .body_len = p->len,
                    .content_type = p->content_type,
                    .content_md5 = 1,
                    .sse = 1,
                    .if_match = p->if_match,
                    .if_none_match = p->if_none_match};
    sl_s3_resp r = {0};
    sl_status st = sl_s3_do(s, &c, &r);
    if (st == SL_OK && r.status == 200) {
        sl_s3_copy_etag(etag, etaglen, r.etag);
    } else if (st == SL_OK && conditional_answer(s, p, &r, "PUT", etag, etaglen, &st) != 0) {
        st = sl_s3_fail(s, "PUT", p->key, &r);
    }
    sl_s3_resp_free(&r);
    return st;
}

static sl_status complete_upload(sl_s3 *s, sl_put *p, char *etag, size_t etaglen)
{
    sl_s3_str x = {0};
    sl_s3_str_cat(&x,
                  "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (int i = 0; i < p->netags; i++) {
        if (!p->etags[i]) {
            x.oom = 1; /* cannot happen: every part finished before we get here */
            break;
        }
        sl_s3_str_printf(&x, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1,
                         p->etags[i]);
    }
    sl_s3_str_cat(&x, "</CompleteMultipartUpload>");
    if (x.oom) {
        sl_s3_str_free(&x);
        s->api->set_error(s->h, "s3: out of memory");
        return SL_ERROR;
    }
    sl_s3_kv q[] = {{"uploadId", p->upload_id}};
    sl_s3_call c = {.method = "POST",
                    .key = p->key,
                    .query = q,
                    .nquery = 1,
                    .body = (const uint8_t *)x.p,
                    .body_len = x.len,
                    .content_type = "application/xml",
                    .if_match = p->if_match,
                    .if_none_match = p->if_none_match};
    sl_s3_resp r = {0};
    sl_status st = sl_s3_do(s, &c, &r);
    /* A 200 can still carry an <Error> document (S3 reports late failures that way). */
    if (st == SL_OK && r.status == 200 && r.body.p && !strstr(r.body.p, "<Error>")) {
        char *e = sl_s3_xml_get(r.body.p, r.body.p + r.body.len, "ETag", NULL);
        sl_s3_copy_etag(etag, etaglen, e ? e : r.etag);
        free(e);
    } else if (st == SL_OK &&
               conditional_answer(s, p, &r, "CompleteMultipartUpload", etag, etaglen, &st) != 0) {
        st = sl_s3_fail(s, "CompleteMultipartUpload", p->key, &r);
    }
    sl_s3_resp_free(&r);
    sl_s3_str_free(&x);
    return st;
}

sl_status sl_s3_put_commit(void *ctx, sl_put *p, char *version)
{
    sl_s3 *s = ctx;
    sl_status st = p->failed;
    char etag[SL_VERSION_MAX] = "";
    if (st == SL_OK && !p->upload_id) {
        st = single_put(s, p, etag, sizeof etag);
    } else if (st == SL_OK) {
        if (p->len > 0) {
            st = submit_part(s, p);
        }
        if (st == SL_OK) {
            st = pump(s, p, 1);
        }
        if (st == SL_OK) {
            st = complete_upload(s, p, etag, sizeof etag);
        }
        if (st != SL_OK) {
            abort_upload(s, p);
        }
    }
    put_free(s, p);
    if (version) {
        sl_s3_copy_etag(version, SL_VERSION_MAX, st == SL_OK ? etag : "");
    }
    return st;
}

void sl_s3_put_abort(void *ctx, sl_put *p)
{
    sl_s3 *s = ctx;
    for (int i = 0; i < s->parallel; i++) {
        s3_slot *sl = &p->slots[i];
        if (sl->state == SLOT_RUNNING) {
            curl_multi_remove_handle(s->multi, sl->e);
            sl->state = SLOT_FREE;
        }
    }
    abort_upload(s, p);
    put_free(s, p);
}
