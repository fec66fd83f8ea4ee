/* The s3 sink: stores objects in an S3 bucket (AWS or any S3-compatible endpoint). */
#include "s3.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SL_S3_MIN_PART ((int64_t)5 << 20)
#define SL_S3_MAX_PART ((int64_t)5 << 30)

static const sl_option s3_options[] = {
    SL_OPTION("endpoint", SL_OPT_STRING, 0, NULL,
              "base URL, e.g. http://127.0.0.1:9000 (default https://s3.<region>.amazonaws.com)"),
    SL_OPTION("region", SL_OPT_STRING, 0, "us-east-1", "signing region"),
    SL_OPTION("bucket", SL_OPT_STRING, SL_OPT_REQUIRED, NULL, "bucket name"),
    SL_OPTION("prefix", SL_OPT_STRING, 0, "", "prepended to every key, e.g. \"acme/\""),
    SL_OPTION("access_key_id", SL_OPT_STRING, SL_OPT_REQUIRED, NULL, "access key id"),
    SL_OPTION("secret_access_key", SL_OPT_STRING, SL_OPT_REQUIRED | SL_OPT_SECRET, NULL,
              "secret key"),
    SL_OPTION("session_token", SL_OPT_STRING, SL_OPT_SECRET, NULL, "temporary credentials' token"),
    SL_OPTION("path_style", SL_OPT_BOOL, 0, "false",
              "bucket in the path (endpoint/bucket/key) instead of the host name"),
    SL_OPTION("ca_file", SL_OPT_STRING, 0, NULL, "CA bundle for TLS verification (always on)"),
    SL_OPTION("sse", SL_OPT_STRING, 0, NULL, "server-side encryption: \"AES256\" or \"aws:kms\""),
    SL_OPTION("sse_kms_key_id", SL_OPT_STRING, 0, NULL, "KMS key for sse = \"aws:kms\""),
    SL_OPTION("part_size", SL_OPT_INT, 0, "8388608",
              "bytes per multipart part (5 MiB..5 GiB); smaller objects take one PUT"),
    SL_OPTION("parallel_parts", SL_OPT_INT, 0, "4", "parts uploaded at the same time (1..64)"),
    SL_OPTION("timeout", SL_OPT_INT, 0, "30",
              "seconds a connection may stall (connect, or no byte moving) before a retry"),
    SL_OPTION("max_retries", SL_OPT_INT, 0, "5", "retries of one request on transient failures"),
    SL_OPTIONS_END,
};

/* libcurl's global state is initialised once per process by whichever s3 instance comes first;
 * it is never cleaned up (other users of libcurl in the process may still need it). */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_once_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
    curl_once_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_opt(sl_s3 *s, const char *name)
{
    const char *v = s->api->opt_string(s->h, name);
    return v && *v ? strdup(v) : NULL;
}

static void s3_free(sl_s3 *s)
{
    if (!s) {
        return;
    }
    if (s->easy) {
        curl_easy_cleanup(s->easy);
    }
    if (s->multi) {
        curl_multi_cleanup(s->multi);
    }
    if (s->share) {
        curl_share_cleanup(s->share);
    }
    char **strs[] = {&s->scheme, &s->host,    &s->base_path,  &s->region,
                     &s->bucket, &s->prefix,  &s->access_key, &s->secret_key,
                     &s->token,  &s->ca_file, &s->sse,        &s->kms_key};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (*strs[i] && (strs[i] == &s->secret_key || strs[i] == &s->token)) {
            memset(*strs[i], 0, strlen(*strs[i]));
        }
        free(*strs[i]);
    }
    free(s);
}

/* Splits "scheme://host[:port][/path]" into its parts. 0 / -1 (cause set). */
static int parse_endpoint(sl_s3 *s, const char *ep)
{
    const char *sep = strstr(ep, "://");
    if (!sep ||
        (strncmp(ep, "http", (size_t)(sep - ep)) != 0 &&
         strncmp(ep, "https", (size_t)(sep - ep)) != 0) ||
        sep - ep < 4 || sep - ep > 5) {
        s->api->set_error(s->h, "s3: endpoint '%s' must start with http:// or https://", ep);
        return -1;
    }
    const char *host = sep + 3;
    const char *slash = strchr(host, '/');
    size_t hlen = slash ? (size_t)(slash - host) : strlen(host);
    if (hlen == 0 || memchr(host, '?', hlen) || memchr(host, '@', hlen)) {
        s->api->set_error(s->h, "s3: endpoint '%s' has no usable host", ep);
        return -1;
    }
    s->scheme = strndup(ep, (size_t)(sep - ep));
    s->host = strndup(host, hlen);
    const char *path = slash ? slash : "";
    size_t plen = strlen(path);
    while (plen && path[plen - 1] == '/') {
        plen--;
    }
    s->base_path = strndup(path, plen);
    return s->scheme && s->host && s->base_path ? 0 : -1;
}

static int s3_create(sl_host *h, const sl_host_api *api, void **ctx)
{
    pthread_once(&curl_once, curl_init_once);
    if (curl_once_rc != CURLE_OK) {
        api->set_error(h, "s3: curl_global_init failed: %s", curl_easy_strerror(curl_once_rc));
        return -1;
    }
    sl_s3 *s = calloc(1, sizeof *s);
    if (!s) {
        api->set_error(h, "s3: out of memory");
        return -1;
    }
    s->h = h;
    s->api = api;
    s->region = dup_opt(s, "region");
    if (!s->region) {
        s->region = strdup("us-east-1");
    }
    s->bucket = dup_opt(s, "bucket");
    s->prefix = dup_opt(s, "prefix");
    if (!s->prefix) {
        s->prefix = strdup("");
    }
    s->access_key = dup_opt(s, "access_key_id");
    s->secret_key = dup_opt(s, "secret_access_key");
    s->token = dup_opt(s, "session_token");
    s->ca_file = dup_opt(s, "ca_file");
    s->sse = dup_opt(s, "sse");
    s->kms_key = dup_opt(s, "sse_kms_key_id");
    s->path_style = api->opt_bool(h, "path_style", 0);
    int64_t part = api->opt_int(h, "part_size", (int64_t)8 << 20);
    int64_t par = api->opt_int(h, "parallel_parts", 4);
    int64_t tmo = api->opt_int(h, "timeout", 30);
    int64_t retries = api->opt_int(h, "max_retries", 5);
    s->rng = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)(uintptr_t)s;

    const char *err = NULL;
    if (!s->region || !s->prefix) {
        err = "out of memory";
    } else if (!s->bucket) {
        err = "option 'bucket' is required";
    } else if (!s->access_key || !s->secret_key) {
        err = "options 'access_key_id' and 'secret_access_key' are required";
    } else if (part < SL_S3_MIN_PART || part > SL_S3_MAX_PART) {
        err = "part_size must be between 5 MiB (5242880) and 5 GiB";
    } else if (par < 1 || par > 64) {
        err = "parallel_parts must be between 1 and 64";
    } else if (tmo < 1 || tmo > 3600) {
        err = "timeout must be between 1 and 3600 seconds";
    } else if (retries < 0 || retries > 100) {
        err = "max_retries must be between 0 and 100";
    } else if (s->sse && strcmp(s->sse, "AES256") != 0 && strcmp(s->sse, "aws:kms") != 0) {
        err = "sse must be \"AES256\" or \"aws:kms\"";
    } else if (s->kms_key && (!s->sse || strcmp(s->sse, "aws:kms") != 0)) {
        err = "sse_kms_key_id needs sse = \"aws:kms\"";
    }
    if (err) {
        api->set_error(h, "s3: %s", err);
        s3_free(s);
        return -1;
    }
    s->part_size = (size_t)part;
    s->parallel = (int)par;
    s->timeout_s = (long)tmo;
    s->max_retries = (int)retries;

    char *ep = dup_opt(s, "endpoint");
    if (!ep) {
        size_t n = strlen(s->region) + 40;
        ep = malloc(n);
        if (ep) {
            snprintf(ep, n, "https://s3.%s.amazonaws.com", s->region);
        }
    }
    int rc = ep ? parse_endpoint(s, ep) : -1;
    free(ep);
    if (rc != 0) {
        s3_free(s);
        return -1;
    }

    s->share = curl_share_init();
    s->easy = curl_easy_init();
    s->multi = curl_multi_init();
    if (!s->share || !s->easy || !s->multi) {
        api->set_error(h, "s3: cannot create curl handles");
        s3_free(s);
        return -1;
    }
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    sl_s3_setup_handle(s, s->easy);
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)s->parallel);
    *ctx = s;
    return 0;
}

static int s3_open(void *ctx, const sl_open_args *args)
{
    (void)ctx;
    (void)args;
    return 0; /* connections are made on first use; `sluice check --connect` calls probe */
}

static void s3_close(void *ctx)
{
    (void)ctx;
}

static void s3_destroy(void *ctx)
{
    s3_free(ctx);
}

static sl_status s3_get(void *ctx, const char *key, sl_read_cb cb, void *ud, char *version)
{
    sl_s3 *s = ctx;
    if (version) {
        version[0] = 0;
    }
    char *full = sl_s3_full_key(s, key);
    if (!full) {
        s->api->set_error(s->h, "s3: out of memory");
        return SL_ERROR;
    }
    sl_s3_call c = {.method = "GET", .key = full};
    sl_s3_resp r = {.cb = cb, .ud = ud};
    sl_status st = sl_s3_do(s, &c, &r);
    if (st == SL_OK) {
        if (r.status == 404 && (r.body.len == 0 || strstr(r.body.p, "<Code>NoSuchKey</Code>"))) {
            st = SL_NOTFOUND;
        } else if (r.status == 412) {
            /* the object was replaced while a broken read was being resumed */
            sl_s3_fail(s, "GET (object changed while reading)", full, &r);
            st = SL_RETRY;
        } else if (r.status != 200 && r.status != 206) {
            st = sl_s3_fail(s, "GET", full, &r);
        } else if (version) {
            /* a resumed read was pinned to the first answer's ETag with If-Match */
            sl_s3_copy_etag(version, SL_VERSION_MAX, r.etag);
        }
    }
    sl_s3_resp_free(&r);
    free(full);
    return st;
}

static sl_status s3_del(void *ctx, const char *key)
{
    sl_s3 *s = ctx;
    char *full = sl_s3_full_key(s, key);
    if (!full) {
        s->api->set_error(s->h, "s3: out of memory");
        return SL_ERROR;
    }
    sl_s3_call c = {.method = "DELETE", .key = full};
    sl_s3_resp r = {0};
    sl_status st = sl_s3_do(s, &c, &r);
    if (st == SL_OK && !(r.status >= 200 && r.status < 300) &&
        !(r.status == 404 && (!r.body.p || strstr(r.body.p, "<Code>NoSuchKey</Code>")))) {
        st = sl_s3_fail(s, "DELETE", full, &r);
    }
    sl_s3_resp_free(&r);
    free(full);
    return st;
}

/* ListObjectsV2 over every page. cb gets keys without the sink's prefix. max_keys 0 = server
 * default (1000). */
static sl_status list_pages(sl_s3 *s, const char *prefix, int max_keys, int one_page, sl_list_cb cb,
                            void *ud)
{
    char *full = sl_s3_full_key(s, prefix ? prefix : "");
    if (!full) {
        s->api->set_error(s->h, "s3: out of memory");
        return SL_ERROR;
    }
    size_t plen = strlen(s->prefix);
    char *token = NULL;
    char mk[16];
    snprintf(mk, sizeof mk, "%d", max_keys);
    sl_s3_resp r = {0};
    sl_status st = SL_OK;
    for (;;) {
        sl_s3_kv q[4];
        size_t nq = 0;
        q[nq++] = (sl_s3_kv){"list-type", "2"};
        q[nq++] = (sl_s3_kv){"prefix", full};
        if (max_keys > 0) {
            q[nq++] = (sl_s3_kv){"max-keys", mk};
        }
        if (token) {
            q[nq++] = (sl_s3_kv){"continuation-token", token};
        }
        sl_s3_call c = {.method = "GET", .query = q, .nquery = nq};
        st = sl_s3_do(s, &c, &r);
        if (st != SL_OK) {
            break;
        }
        if (r.status != 200 || !r.body.p) {
            st = sl_s3_fail(s, "ListObjectsV2", full, &r);
            break;
        }
        const char *p = r.body.p, *end = r.body.p + r.body.len, *a, *b;
        while (st == SL_OK && sl_s3_xml_elem(p, end, "Contents", &a, &b)) {
            char *key = sl_s3_xml_get(a, b, "Key", NULL);
            char *size = sl_s3_xml_get(a, b, "Size", NULL);
            if (!key) {
                free(size);
                s->api->set_error(s->h, "s3 bucket '%s': ListObjectsV2: malformed answer",
                                  s->bucket);
                st = SL_ERROR;
                break;
            }
            const char *rel = strncmp(key, s->prefix, plen) == 0 ? key + plen : key;
            if (cb) {
                st = cb(ud, rel, size ? strtoull(size, NULL, 10) : 0);
            }
            free(key);
            free(size);
            p = b;
        }
        if (st != SL_OK || one_page) {
            break;
        }
        char *trunc = sl_s3_xml_get(r.body.p, end, "IsTruncated", NULL);
        int more = trunc && strcmp(trunc, "true") == 0;
        free(trunc);
        free(token);
        token = more ? sl_s3_xml_get(r.body.p, end, "NextContinuationToken", NULL) : NULL;
        if (!more) {
            break;
        }
        if (!token) {
            s->api->set_error(s->h,
                              "s3 bucket '%s': ListObjectsV2 is truncated but has no "
                              "NextContinuationToken",
                              s->bucket);
            st = SL_ERROR;
            break;
        }
    }
    free(token);
    free(full);
    sl_s3_resp_free(&r);
    return st;
}

static sl_status s3_list(void *ctx, const char *prefix, sl_list_cb cb, void *ud)
{
    return list_pages(ctx, prefix, 0, 0, cb, ud);
}

/* Credentials, signature, bucket existence and list permission, without writing anything: one
 * ListObjectsV2 page of at most one key under the prefix. */
static sl_status s3_probe(void *ctx)
{
    return list_pages(ctx, "", 1, 1, NULL, NULL);
}

static const sl_sink_ops s3_ops = {
    .size = sizeof(sl_sink_ops),
    .put_begin = sl_s3_put_begin,
    .put_write = sl_s3_put_write,
    .put_commit = sl_s3_put_commit,
    .put_abort = sl_s3_put_abort,
    .get = s3_get,
    .list = s3_list,
    .del = s3_del,
    .probe = s3_probe,
    .conditional = 1, /* If-Match / If-None-Match on PutObject and CompleteMultipartUpload */
};

static const sl_plugin s3_plugin = {
    SL_PLUGIN_INIT(SL_KIND_SINK, "s3", "0.1.0",
                   "objects in an S3 bucket (AWS SigV4; any S3-compatible endpoint)"),
    .options = s3_options,
    .create = s3_create,
    .open = s3_open,
    .close = s3_close,
    .destroy = s3_destroy,
    .sink = &s3_ops,
};

SL_PLUGIN_ENTRY(s3)
{
    return &s3_plugin;
}
