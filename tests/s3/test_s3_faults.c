/* Fault tests of the s3 sink: injected 500/503 SlowDown/slow/reset answers (tests/node/
 * fault-proxy.js in front of the SigV4 gate), the server going away in the middle of a multipart
 * upload, and retries running out. In every case the object is whole or absent, never partial. */
#include "s3_harness.h"

#define MiB (1024u * 1024u)

static char proxy_ep[128];

static int start_proxy(const char *args)
{
    int port = h_script_port("proxy", args);
    snprintf(proxy_ep, sizeof proxy_ep, "http://127.0.0.1:%d", port);
    return port;
}

static void stop_proxy(void)
{
    h_sh("'%s/scripts/s3.sh' proxy-stop '%s'", h_src, h_dir);
}

static void slowdown_with_retry_after(void)
{
    CHECK(start_proxy("--fail 3 --mode slowdown --retry-after 1 --method PUT") > 0);
    h_inst in = {0};
    CHECK(h_open(&in, "endpoint", proxy_ep, NULL) == 0);
    char sha[65];
    double t0 = h_now();
    CHECK_EQ_INT(h_put(&in, "f/slowdown.qvd", 50000, 4096, 1, sha), SL_OK);
    double dt = h_now() - t0;
    CHECK(dt >= 2.9); /* three Retry-After: 1 honoured */
    CHECK_EQ_INT(h_count_lines("proxy.log", "\"fault\":\"slowdown\""), 3);
    CHECK_EQ_INT(sl_th_errors(in.th), 0);
    CHECK_EQ_INT(sl_th_log_count(in.th, SL_LOG_WARN), 3);
    CHECK(h_check_object("f/slowdown.qvd", sha, 50000));
    h_close(&in);
    stop_proxy();
}

static void internal_errors_on_parts(void)
{
    CHECK(start_proxy("--fail 4 --mode 500 --match partNumber") > 0);
    h_inst in = {0};
    CHECK(h_open(&in, "endpoint", proxy_ep, "part_size", "5242880", "parallel_parts", "2", NULL) ==
          0);
    char sha[65];
    CHECK_EQ_INT(h_put(&in, "f/parts500.qvd", 13 * MiB + 7, 65536, 2, sha), SL_OK);
    CHECK_EQ_INT(h_count_lines("proxy.log", "\"fault\":\"500\""), 4);
    CHECK_EQ_INT(sl_th_errors(in.th), 0);
    CHECK(h_check_object("f/parts500.qvd", sha, 13 * MiB + 7));
    h_close(&in);
    stop_proxy();
}

static void slow_answer_times_out_and_retries(void)
{
    CHECK(start_proxy("--fail 1 --mode slow --slow-ms 4000 --method PUT") > 0);
    h_inst in = {0};
    CHECK(h_open(&in, "endpoint", proxy_ep, "timeout", "1", NULL) == 0);
    char sha[65];
    double t0 = h_now();
    CHECK_EQ_INT(h_put(&in, "f/slow.qvd", 20000, 20000, 3, sha), SL_OK);
    CHECK(h_now() - t0 < 3.9); /* did not wait for the slow answer */
    CHECK_EQ_INT(sl_th_errors(in.th), 0);
    CHECK(sl_th_log_count(in.th, SL_LOG_WARN) >= 1);
    CHECK(h_check_object("f/slow.qvd", sha, 20000));
    h_close(&in);
    stop_proxy();
}

static void connection_resets(void)
{
    CHECK(start_proxy("--fail 2 --mode reset") > 0);
    h_inst in = {0};
    CHECK(h_open(&in, "endpoint", proxy_ep, NULL) == 0);
    char sha[65], got[65];
    uint64_t n;
    CHECK_EQ_INT(h_put(&in, "f/reset.qvd", 30000, 1000, 4, sha), SL_OK);
    CHECK_EQ_INT(h_count_lines("proxy.log", "\"fault\":\"reset\""), 2);
    CHECK_EQ_INT(h_get(&in, "f/reset.qvd", got, &n), SL_OK);
    CHECK_EQ_STR(got, sha);
    CHECK(h_check_object("f/reset.qvd", sha, 30000));
    h_close(&in);
    stop_proxy();
}

static void broken_read_resumes(void)
{
    h_inst direct = {0};
    CHECK(h_open(&direct, NULL) == 0);
    char sha[65], got[65];
    uint64_t n = 0;
    CHECK_EQ_INT(h_put(&direct, "f/read.qvd", 3 * MiB + 3, 65536, 8, sha), SL_OK);
    h_close(&direct);
    /* the first GET's answer is cut off after 1 000 000 bytes: the retry asks for the rest with
     * Range and If-Match, and the callback sees every byte once */
    CHECK(start_proxy("--fail 1 --mode cut --cut-bytes 1000000 --method GET") > 0);
    h_inst in = {0};
    CHECK(h_open(&in, "endpoint", proxy_ep, NULL) == 0);
    CHECK_EQ_INT(h_get(&in, "f/read.qvd", got, &n), SL_OK);
    CHECK_EQ_STR(got, sha);
    CHECK_EQ_INT(n, 3 * MiB + 3);
    CHECK_EQ_INT(h_count_lines("proxy.log", "\"fault\":\"cut\""), 1);
    CHECK_EQ_INT(h_count_lines("proxy.log", "\"method\":\"GET\""), 2);
    CHECK_EQ_INT(sl_th_errors(in.th), 0);
    CHECK(sl_th_log_count(in.th, SL_LOG_WARN) >= 1);
    h_close(&in);
    stop_proxy();
}

static void retries_run_out(void)
{
    /* a previous version exists; failed replacements must leave it whole */
    h_inst direct = {0};
    CHECK(h_open(&direct, NULL) == 0);
    char sha0[65], sha[65];
    CHECK_EQ_INT(h_put(&direct, "f/keep.qvd", 999, 999, 5, sha0), SL_OK);
    h_close(&direct);

    CHECK(start_proxy("--fail 1000 --mode 503 --method PUT") > 0);
    h_inst in = {0};
    CHECK(h_open(&in, "endpoint", proxy_ep, "max_retries", "2", "part_size", "5242880", NULL) == 0);
    CHECK_EQ_INT(h_put(&in, "f/keep.qvd", 1000, 1000, 6, sha), SL_RETRY);
    CHECK_EQ_INT(sl_th_errors(in.th), 1);
    CHECK(strstr(sl_th_error(in.th), "gave up after 3 attempts") != NULL);
    CHECK(strstr(sl_th_error(in.th), "etl-test") != NULL);
    CHECK(strstr(sl_th_error(in.th), "ServiceUnavailable") != NULL);
    CHECK(h_check_object("f/keep.qvd", sha0, 999));
    /* multipart: parts keep failing; the upload is aborted (s3rver answers 405, tolerated) */
    int aborts = h_count_lines("gate.log", "\"method\":\"DELETE\"");
    CHECK_EQ_INT(h_put(&in, "f/keep.qvd", 11 * MiB, 1 * MiB, 7, sha), SL_RETRY);
    CHECK(strstr(sl_th_error(in.th), "UploadPart") != NULL);
    CHECK_EQ_INT(h_count_lines("gate.log", "\"method\":\"DELETE\"") - aborts, 1);
    CHECK(h_check_object("f/keep.qvd", sha0, 999));
    CHECK_EQ_INT(h_check(NULL, 0, "absent", "f/never.qvd"), 0);
    fprintf(stderr, "  error text: %s\n", sl_th_error(in.th));
    h_close(&in);
    stop_proxy();
}

/* A caller that pauses longer than `timeout` while parts are in flight is not a stalled server:
 * no retries, no errors. */
static void slow_writer_is_not_a_stall(void)
{
    h_inst in = {0};
    CHECK(h_open(&in, "part_size", "5242880", "timeout", "1", NULL) == 0);
    sl_put *p = NULL;
    CHECK_EQ_INT(in.ops->put_begin(in.ctx, "f/slowwriter.qvd", NULL, &p), SL_OK);
    const size_t chunk = 1 * MiB;
    const uint64_t size = 12 * MiB;
    uint8_t *buf = malloc(chunk);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    sl_status st = SL_OK;
    for (uint64_t off = 0; off < size && st == SL_OK; off += chunk) {
        if (off == 6 * MiB) { /* part 1 is in flight now */
            struct timespec ts = {4, 0};
            nanosleep(&ts, NULL);
        }
        h_fill(buf, chunk, 88, off);
        EVP_DigestUpdate(md, buf, chunk);
        st = in.ops->put_write(in.ctx, p, buf, chunk);
    }
    CHECK_EQ_INT(st, SL_OK);
    st = st == SL_OK ? in.ops->put_commit(in.ctx, p, NULL) : (in.ops->put_abort(in.ctx, p), st);
    CHECK_EQ_INT(st, SL_OK);
    uint8_t d[32];
    char sha[65];
    EVP_DigestFinal_ex(md, d, NULL);
    EVP_MD_CTX_free(md);
    free(buf);
    h_hex(d, 32, sha);
    CHECK_EQ_INT(sl_th_log_count(in.th, SL_LOG_WARN), 0);
    CHECK_EQ_INT(sl_th_errors(in.th), 0);
    CHECK(h_check_object("f/slowwriter.qvd", sha, size));
    h_close(&in);
}

static void server_restarts_mid_upload(void)
{
    h_inst in = {0};
    CHECK(h_open(&in, "part_size", "5242880", "parallel_parts", "2", "max_retries", "8", NULL) ==
          0);
    sl_put *p = NULL;
    CHECK_EQ_INT(in.ops->put_begin(in.ctx, "f/bounce.qvd", NULL, &p), SL_OK);
    const size_t chunk = 256 * 1024;
    const uint64_t size = 31 * MiB + 5;
    uint8_t *buf = malloc(chunk);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    sl_status st = SL_OK;
    int bounced = 0;
    for (uint64_t off = 0; off < size && st == SL_OK; off += chunk) {
        if (!bounced && off >= 11 * MiB) {
            /* two parts are up; take the gate and s3rver away for 2 s in the background */
            CHECK_EQ_INT(h_sh("'%s/scripts/s3.sh' bounce '%s' 2 >/dev/null 2>&1 &", h_src, h_dir),
                         0);
            struct timespec ts = {0, 300 * 1000000L};
            nanosleep(&ts, NULL);
            bounced = 1;
        }
        size_t n = size - off < chunk ? (size_t)(size - off) : chunk;
        h_fill(buf, n, 77, off);
        EVP_DigestUpdate(md, buf, n);
        st = in.ops->put_write(in.ctx, p, buf, n);
    }
    CHECK_EQ_INT(st, SL_OK);
    st = st == SL_OK ? in.ops->put_commit(in.ctx, p, NULL) : (in.ops->put_abort(in.ctx, p), st);
    CHECK_EQ_INT(st, SL_OK);
    uint8_t d[32];
    char sha[65];
    EVP_DigestFinal_ex(md, d, NULL);
    EVP_MD_CTX_free(md);
    free(buf);
    h_hex(d, 32, sha);
    CHECK(sl_th_log_count(in.th, SL_LOG_WARN) >= 1); /* it did have to retry */
    CHECK_EQ_INT(sl_th_errors(in.th), 0);
    CHECK(h_check_object("f/bounce.qvd", sha, size));
    h_close(&in);
}

int main(void)
{
    h_setup();
    SL_RUN(slowdown_with_retry_after);
    SL_RUN(internal_errors_on_parts);
    SL_RUN(slow_answer_times_out_and_retries);
    SL_RUN(connection_resets);
    SL_RUN(broken_read_resumes);
    SL_RUN(retries_run_out);
    SL_RUN(slow_writer_is_not_a_stall);
    SL_RUN(server_restarts_mid_upload);
    sl_th_unload(h_tp);
    SL_DONE();
}
