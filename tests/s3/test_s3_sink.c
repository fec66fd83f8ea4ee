/* Integration tests of the s3 sink against s3rver behind the SigV4 gate (scripts/s3.sh). Every
 * object the plugin writes is checked by an independent client (tests/node/s3check.js). */
#include "s3_harness.h"

#define MiB (1024u * 1024u)

static void probe_ok(void)
{
    h_inst in = {0};
    CHECK(h_open(&in, NULL) == 0);
    CHECK_EQ_INT(in.ops->probe(in.ctx), SL_OK);
    h_close(&in);
}

static void single_put_and_read_back(void)
{
    h_inst in = {0};
    CHECK(h_open(&in, NULL) == 0);
    char sha[65], got[65];
    uint64_t n = 0;
    CHECK_EQ_INT(h_put(&in, "single/orders.qvd", 100000, 777, 1, sha), SL_OK);
    CHECK(h_check_object("single/orders.qvd", sha, 100000));
    CHECK_EQ_INT(h_get(&in, "single/orders.qvd", got, &n), SL_OK);
    CHECK_EQ_STR(got, sha);
    CHECK_EQ_INT(n, 100000);
    /* an empty object is an object too */
    CHECK_EQ_INT(h_put(&in, "single/empty.qvd", 0, 10, 2, sha), SL_OK);
    CHECK(h_check_object("single/empty.qvd", sha, 0));
    CHECK_EQ_INT(h_get(&in, "single/empty.qvd", got, &n), SL_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(sl_th_errors(in.th), 0);
    h_close(&in);
}

static void multipart_put(void)
{
    h_inst in = {0};
    CHECK(h_open(&in, "part_size", "5242880", "parallel_parts", "3", NULL) == 0);
    int before = h_count_lines("gate.log", "uploadId=");
    char sha[65], got[65];
    uint64_t size = 17 * MiB + 12345, n = 0;
    CHECK_EQ_INT(h_put(&in, "multi/big.qvd", size, 100003, 3, sha), SL_OK);
    CHECK(h_check_object("multi/big.qvd", sha, size));
    CHECK_EQ_INT(h_get(&in, "multi/big.qvd", got, &n), SL_OK);
    CHECK_EQ_STR(got, sha);
    CHECK_EQ_INT(n, size);
    /* 4 parts (5+5+5+2 MiB) and one CompleteMultipartUpload went through the gate */
    CHECK_EQ_INT(h_count_lines("gate.log", "uploadId=") - before, 5);
    /* streaming: never more than (parallel_parts + 1) part buffers, all returned */
    CHECK(sl_th_mem_peak(in.th) <= 4 * 5 * MiB);
    CHECK_EQ_INT(sl_th_mem_now(in.th), 0);
    h_close(&in);
    CHECK(h_open(&in, "part_size", "5242880", "parallel_parts", "1", NULL) == 0);
    CHECK_EQ_INT(h_put(&in, "multi/big1.qvd", 23 * MiB, 1 * MiB, 6, sha), SL_OK);
    CHECK(h_check_object("multi/big1.qvd", sha, 23 * MiB));
    CHECK(sl_th_mem_peak(in.th) <= 2 * 5 * MiB);
    CHECK_EQ_INT(sl_th_mem_now(in.th), 0);
    /* exactly part_size: one PUT, no multipart */
    before = h_count_lines("gate.log", "uploadId=");
    CHECK_EQ_INT(h_put(&in, "multi/exact.qvd", 5 * MiB, 65536, 4, sha), SL_OK);
    CHECK(h_check_object("multi/exact.qvd", sha, 5 * MiB));
    CHECK_EQ_INT(h_count_lines("gate.log", "uploadId=") - before, 0);
    /* two exact parts: the last buffer is full at commit */
    CHECK_EQ_INT(h_put(&in, "multi/two.qvd", 10 * MiB, 1 * MiB, 5, sha), SL_OK);
    CHECK(h_check_object("multi/two.qvd", sha, 10 * MiB));
    CHECK_EQ_INT(sl_th_errors(in.th), 0);
    h_close(&in);
}

static void overwrite_and_abort(void)
{
    h_inst in = {0};
    CHECK(h_open(&in, "part_size", "5242880", NULL) == 0);
    char sha1[65], sha2[65], got[65];
    uint64_t n;
    CHECK_EQ_INT(h_put(&in, "ow/t.qvd", 3000, 1000, 10, sha1), SL_OK);
    CHECK(h_check_object("ow/t.qvd", sha1, 3000));
    CHECK_EQ_INT(h_put(&in, "ow/t.qvd", 7 * MiB, 300000, 11, sha2), SL_OK);
    CHECK(h_check_object("ow/t.qvd", sha2, 7 * MiB));
    CHECK_EQ_INT(h_put(&in, "ow/t.qvd", 5000, 1000, 12, sha1), SL_OK);
    CHECK(h_check_object("ow/t.qvd", sha1, 5000));
    /* an aborted replacement (small, then multipart) leaves the previous object untouched */
    sl_put *p = NULL;
    uint8_t buf[4096];
    h_fill(buf, sizeof buf, 99, 0);
    CHECK_EQ_INT(in.ops->put_begin(in.ctx, "ow/t.qvd", NULL, &p), SL_OK);
    CHECK_EQ_INT(in.ops->put_write(in.ctx, p, buf, sizeof buf), SL_OK);
    in.ops->put_abort(in.ctx, p);
    CHECK_EQ_INT(in.ops->put_begin(in.ctx, "ow/t.qvd", NULL, &p), SL_OK);
    for (int i = 0; i < 3000; i++) { /* 12 MB: two parts are uploaded before the abort */
        CHECK_EQ_INT(in.ops->put_write(in.ctx, p, buf, sizeof buf), SL_OK);
    }
    in.ops->put_abort(in.ctx, p);
    CHECK(h_check_object("ow/t.qvd", sha1, 5000));
    CHECK_EQ_INT(h_get(&in, "ow/t.qvd", got, &n), SL_OK);
    CHECK_EQ_STR(got, sha1);
    CHECK_EQ_INT(sl_th_errors(in.th), 0);
    h_close(&in);
}

static void get_missing_and_delete(void)
{
    h_inst in = {0};
    CHECK(h_open(&in, NULL) == 0);
    char sha[65];
    uint64_t n;
    CHECK_EQ_INT(h_get(&in, "nothing/here.qvd", sha, &n), SL_NOTFOUND);
    CHECK_EQ_INT(h_put(&in, "del/x.qvd", 10, 10, 20, sha), SL_OK);
    CHECK_EQ_INT(in.ops->del(in.ctx, "del/x.qvd"), SL_OK);
    CHECK_EQ_INT(h_check(NULL, 0, "absent", "del/x.qvd"), 0);
    CHECK_EQ_INT(h_get(&in, "del/x.qvd", sha, &n), SL_NOTFOUND);
    CHECK_EQ_INT(in.ops->del(in.ctx, "del/x.qvd"), SL_OK); /* absent: still OK */
    CHECK_EQ_INT(sl_th_errors(in.th), 0);
    h_close(&in);
}

typedef struct list_acc {
    int n;
    int bad;
    char last[256];
    uint64_t bytes;
} list_acc;

static sl_status list_cb(void *ud, const char *key, uint64_t size)
{
    list_acc *a = ud;
    if (a->n > 0 && strcmp(a->last, key) >= 0) {
        a->bad++; /* keys come sorted and each once */
    }
    snprintf(a->last, sizeof a->last, "%s", key);
    a->n++;
    a->bytes += size;
    return SL_OK;
}

static void list_paginates(void)
{
    h_inst in = {0};
    CHECK(h_open(&in, "prefix", "lst/", NULL) == 0);
    sl_th_echo(in.th, -1);
    char key[64], sha[65];
    const int count = 1105; /* more than one ListObjectsV2 page (1000) */
    int ok = 1;
    for (int i = 0; i < count && ok; i++) {
        snprintf(key, sizeof key, "many/t%05d.qvd", i);
        ok = h_put(&in, key, (uint64_t)(i % 7), 16, (uint64_t)i, sha) == SL_OK;
    }
    CHECK(ok);
    CHECK_EQ_INT(h_put(&in, "other.qvd", 1, 1, 1, sha), SL_OK);
    int pages_before = h_count_lines("gate.log", "continuation-token=");
    list_acc a = {0};
    CHECK_EQ_INT(in.ops->list(in.ctx, "many/", list_cb, &a), SL_OK);
    CHECK_EQ_INT(a.n, count);
    CHECK_EQ_INT(a.bad, 0);
    CHECK_EQ_STR(a.last, "many/t01104.qvd"); /* keys come back without the sink's prefix */
    uint64_t want = 0;
    for (int i = 0; i < count; i++) {
        want += (uint64_t)(i % 7);
    }
    CHECK_EQ_INT(a.bytes, want);
    CHECK(h_count_lines("gate.log", "continuation-token=") > pages_before);
    char out[64];
    CHECK_EQ_INT(h_check(out, sizeof out, "count", "lst/many/"), 0);
    CHECK_EQ_STR(out, "1105");
    list_acc b = {0};
    CHECK_EQ_INT(in.ops->list(in.ctx, "", list_cb, &b), SL_OK);
    CHECK_EQ_INT(b.n, count + 1);
    list_acc c = {0};
    CHECK_EQ_INT(in.ops->list(in.ctx, "none/", list_cb, &c), SL_OK);
    CHECK_EQ_INT(c.n, 0);
    CHECK_EQ_INT(sl_th_errors(in.th), 0);
    h_close(&in);
}

static void odd_keys_and_prefix(void)
{
    h_inst in = {0};
    CHECK(h_open(&in, "prefix", "tenant a/", NULL) == 0);
    const char *keys[] = {"dir/ä b+c&d=e.qvd", "_changes/orders/0000000000001A2B.qvd",
                          "_sluice/manifest.json", "x~y!$*()'.qvd"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char sha[65], got[65], full[128];
        uint64_t n;
        CHECK_EQ_INT(h_put(&in, keys[i], 1234 + i, 100, 30 + i, sha), SL_OK);
        snprintf(full, sizeof full, "tenant a/%s", keys[i]);
        if (!strchr(keys[i], '\'')) { /* the checker is called through a shell */
            CHECK(h_check_object(full, sha, 1234 + i));
        }
        CHECK_EQ_INT(h_get(&in, keys[i], got, &n), SL_OK);
        CHECK_EQ_STR(got, sha);
    }
    list_acc a = {0};
    CHECK_EQ_INT(in.ops->list(in.ctx, "dir/", list_cb, &a), SL_OK);
    CHECK_EQ_INT(a.n, 1);
    CHECK_EQ_STR(a.last, "dir/ä b+c&d=e.qvd");
    CHECK_EQ_INT(sl_th_errors(in.th), 0);
    h_close(&in);
}

static void virtual_hosted_and_sse(void)
{
    /* http://<bucket>.localhost:<port>/key: curl resolves *.localhost to loopback and the gate
     * verifies the signature over that Host before handing the request to s3rver. */
    char ep[300];
    const char *port = strrchr(h_endpoint, ':');
    snprintf(ep, sizeof ep, "http://localhost%s", port ? port : "");
    h_inst in = {0};
    CHECK(h_open(&in, "endpoint", ep, "path_style", "false", "sse", "AES256", NULL) == 0);
    char sha[65], got[65];
    uint64_t n;
    CHECK_EQ_INT(in.ops->probe(in.ctx), SL_OK);
    CHECK_EQ_INT(h_put(&in, "vhost/a.qvd", 4321, 1000, 40, sha), SL_OK);
    CHECK(h_check_object("vhost/a.qvd", sha, 4321));
    CHECK_EQ_INT(h_get(&in, "vhost/a.qvd", got, &n), SL_OK);
    CHECK_EQ_STR(got, sha);
    CHECK(h_count_lines("gate.log", "\"url\":\"/vhost/a.qvd\"") >= 2);
    CHECK_EQ_INT(sl_th_errors(in.th), 0);
    h_close(&in);
}

static void wrong_secret_is_one_clear_error(void)
{
    h_inst in = {0};
    CHECK(h_open(&in, "secret_access_key", "not-the-secret", NULL) == 0);
    int reqs = h_count_lines("gate.log", "SignatureDoesNotMatch");
    CHECK_EQ_INT(in.ops->probe(in.ctx), SL_ERROR);
    CHECK_EQ_INT(sl_th_errors(in.th), 1);
    CHECK(strstr(sl_th_error(in.th), h_bucket) != NULL);
    CHECK(strstr(sl_th_error(in.th), "SignatureDoesNotMatch") != NULL);
    char sha[65];
    CHECK_EQ_INT(h_put(&in, "denied.qvd", 100, 100, 1, sha), SL_ERROR);
    CHECK_EQ_INT(sl_th_errors(in.th), 2);
    CHECK(strstr(sl_th_error(in.th), "SignatureDoesNotMatch") != NULL);
    CHECK(strstr(sl_th_error(in.th), "denied.qvd") != NULL);
    /* permanent: no retries (one request each) */
    CHECK_EQ_INT(h_count_lines("gate.log", "SignatureDoesNotMatch") - reqs, 2);
    CHECK_EQ_INT(h_check(NULL, 0, "absent", "denied.qvd"), 0);
    fprintf(stderr, "  error text: %s\n", sl_th_error(in.th));
    h_close(&in);
}

static void session_token(void)
{
    /* a second gate that wants this token with the S3RVER key (temporary credentials) */
    int port = h_script_port("gate", "--creds 'S3RVER:S3RVER:tok/123+abc='");
    CHECK(port > 0);
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", port);
    h_inst in = {0};
    CHECK(h_open(&in, "endpoint", ep, "session_token", "tok/123+abc=", NULL) == 0);
    char sha[65];
    CHECK_EQ_INT(in.ops->probe(in.ctx), SL_OK);
    CHECK_EQ_INT(h_put(&in, "token/a.qvd", 2222, 1000, 50, sha), SL_OK);
    CHECK(h_check_object("token/a.qvd", sha, 2222));
    CHECK_EQ_INT(sl_th_errors(in.th), 0);
    h_close(&in);
    CHECK(h_open(&in, "endpoint", ep, "session_token", "expired", NULL) == 0);
    CHECK_EQ_INT(in.ops->probe(in.ctx), SL_ERROR);
    CHECK(strstr(sl_th_error(in.th), "InvalidToken") != NULL);
    h_close(&in);
    CHECK(h_open(&in, "endpoint", ep, NULL) == 0);
    CHECK_EQ_INT(in.ops->probe(in.ctx), SL_ERROR);
    h_close(&in);
}

static void tls_verification(void)
{
    /* a self-signed certificate for 127.0.0.1; the sink must refuse it unless ca_file names it */
    int rc =
        h_sh("cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -keyout tls.key -out tls.pem "
             "-days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             h_dir);
    if (rc != 0) {
        fprintf(stderr, "  openssl CLI not available: TLS part skipped\n");
        return;
    }
    char args[2200];
    snprintf(args, sizeof args, "--tls-cert '%s/tls.pem' --tls-key '%s/tls.key'", h_dir, h_dir);
    int port = h_script_port("gate", args);
    CHECK(port > 0);
    char ep[64], ca[1200], sha[65];
    snprintf(ep, sizeof ep, "https://127.0.0.1:%d", port);
    snprintf(ca, sizeof ca, "%s/tls.pem", h_dir);
    h_inst in = {0};
    CHECK(h_open(&in, "endpoint", ep, NULL) == 0);
    CHECK_EQ_INT(in.ops->probe(in.ctx), SL_ERROR); /* verification is on by default */
    CHECK_EQ_INT(sl_th_errors(in.th), 1);
    CHECK(strstr(sl_th_error(in.th), "certificate") != NULL ||
          strstr(sl_th_error(in.th), "SSL") != NULL);
    h_close(&in);
    CHECK(h_open(&in, "endpoint", ep, "ca_file", ca, NULL) == 0);
    CHECK_EQ_INT(in.ops->probe(in.ctx), SL_OK);
    CHECK_EQ_INT(h_put(&in, "tls/a.qvd", 6 * MiB, 1 * MiB, 60, sha), SL_OK);
    CHECK_EQ_INT(sl_th_errors(in.th), 0);
    CHECK(h_check_object("tls/a.qvd", sha, 6 * MiB));
    h_close(&in);
}

/* Sequential requests of one instance reuse one kept-alive connection. */
static void connection_reuse(void)
{
    h_inst in = {0};
    CHECK(h_open(&in, NULL) == 0);
    char sha[65], key[64];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "reuse/%02d.qvd", i);
        CHECK_EQ_INT(h_put(&in, key, 100, 100, (uint64_t)i, sha), SL_OK);
    }
    h_close(&in);
    /* every line of those 20 PUTs names the same client port */
    char path[1200], line[4096], first[32] = "";
    snprintf(path, sizeof path, "%s/gate.log", h_dir);
    FILE *f = fopen(path, "r");
    int n = 0, same = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (!strstr(line, "\"url\":\"/etl-test/reuse/")) {
            continue;
        }
        char *c = strstr(line, "\"conn\":");
        if (!c) {
            continue;
        }
        char port[32];
        snprintf(port, sizeof port, "%.*s", (int)strcspn(c + 7, ","), c + 7);
        if (!first[0]) {
            snprintf(first, sizeof first, "%s", port);
        }
        n++;
        same += strcmp(port, first) == 0;
    }
    if (f) {
        fclose(f);
    }
    CHECK_EQ_INT(n, 20);
    CHECK_EQ_INT(same, 20);
}

static void missing_bucket(void)
{
    h_inst in = {0};
    CHECK(h_open(&in, "bucket", "no-such-bucket", NULL) == 0);
    CHECK_EQ_INT(in.ops->probe(in.ctx), SL_ERROR);
    CHECK(strstr(sl_th_error(in.th), "no-such-bucket") != NULL);
    CHECK(strstr(sl_th_error(in.th), "NoSuchBucket") != NULL);
    char sha[65];
    uint64_t n;
    CHECK_EQ_INT(h_get(&in, "x.qvd", sha, &n), SL_ERROR); /* not SL_NOTFOUND */
    CHECK_EQ_INT(in.ops->del(in.ctx, "x.qvd"), SL_ERROR);
    h_close(&in);
}

static void bad_options_fail_create(void)
{
    h_inst in = {.quiet = 1};
    CHECK(h_open(&in, "part_size", "1000", NULL) != 0);
    CHECK(h_open(&in, "sse", "rot13", NULL) != 0);
    CHECK(h_open(&in, "endpoint", "ftp://x", NULL) != 0);
    CHECK(h_open(&in, "sse_kms_key_id", "k", NULL) != 0);
    CHECK(h_open(&in, "sse", "aws:kms", "sse_kms_key_id", "arn:aws:kms:k", NULL) == 0);
    h_close(&in);
    /* the declaration marks secrets */
    int secrets = 0;
    for (const sl_option *o = h_plugin->options; o->name; o++) {
        if (o->flags & SL_OPT_SECRET) {
            secrets++;
            CHECK(strcmp(o->name, "secret_access_key") == 0 ||
                  strcmp(o->name, "session_token") == 0);
        }
    }
    CHECK_EQ_INT(secrets, 2);
}

int main(void)
{
    h_setup();
    SL_RUN(probe_ok);
    SL_RUN(single_put_and_read_back);
    SL_RUN(multipart_put);
    SL_RUN(overwrite_and_abort);
    SL_RUN(get_missing_and_delete);
    SL_RUN(list_paginates);
    SL_RUN(odd_keys_and_prefix);
    SL_RUN(virtual_hosted_and_sse);
    SL_RUN(wrong_secret_is_one_clear_error);
    SL_RUN(session_token);
    SL_RUN(tls_verification);
    SL_RUN(connection_reuse);
    SL_RUN(missing_bucket);
    SL_RUN(bad_options_fail_create);
    sl_th_unload(h_tp);
    SL_DONE();
}
