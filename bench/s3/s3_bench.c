/* Upload throughput of the s3 sink plugin: streams FILE into KEY through put_begin/put_write/
 * put_commit in 1 MiB writes and prints "<bytes> <seconds> <MB/s>". Uses the tests' harness
 * (tests/s3/s3_harness.h, on libsluice-testhost); the server comes from $S3_TEST_DIR/s3.env.
 *
 * usage: s3_bench FILE KEY [option=value ...]   (e.g. endpoint=http://127.0.0.1:PORT) */
#include "s3_harness.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: s3_bench FILE KEY [option=value ...]\n");
        return 2;
    }
    h_setup();
    const char *kv[2 * 16 + 1] = {0};
    int nkv = 0;
    for (int i = 3; i < argc && nkv < 32; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            return 2;
        }
        *eq = '\0';
        kv[nkv++] = argv[i];
        kv[nkv++] = eq + 1;
    }
    h_inst in = {0};
    if (h_open(&in, kv[0], kv[1], kv[2], kv[3], kv[4], kv[5], kv[6], kv[7], kv[8], kv[9], NULL) !=
        0) {
        return 1;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    size_t cap = 1u << 20;
    uint8_t *buf = malloc(cap);
    double t0 = h_now();
    sl_put *p = NULL;
    sl_status st = in.ops->put_begin(in.ctx, argv[2], &h_octet, &p);
    uint64_t total = 0;
    size_t n;
    while (st == SL_OK && (n = fread(buf, 1, cap, f)) > 0) {
        st = in.ops->put_write(in.ctx, p, buf, n);
        total += n;
    }
    if (st == SL_OK) {
        st = in.ops->put_commit(in.ctx, p, NULL);
    } else if (p) {
        in.ops->put_abort(in.ctx, p);
    }
    double dt = h_now() - t0;
    fclose(f);
    free(buf);
    h_close(&in);
    if (st != SL_OK) {
        fprintf(stderr, "upload failed: %d\n", (int)st);
        return 1;
    }
    printf("%llu %.3f %.1f\n", (unsigned long long)total, dt, (double)total / dt / 1e6);
    return 0;
}
