/* The libFuzzer target tests/fuzz/fuzz_mybinlog.c driven without libFuzzer (label unit): every
 * seed of tests/fuzz/corpus/mybinlog as is, then seeded random mutations of it (byte flips,
 * truncations, duplicated and dropped slices), so a plain or ASan build exercises the decoder's
 * error paths on every run. */
#include "../fuzz/fuzz_mybinlog.c"

#include <dirent.h>
#include <stdio.h>

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *p = malloc(1 << 16);
    *n = p ? fread(p, 1, 1 << 16, f) : 0;
    fclose(f);
    return p;
}

int main(void)
{
    const char *src = getenv("SL_SOURCE_DIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/mybinlog", src ? src : ".");
    DIR *dh = opendir(dir);
    if (!dh) {
        fprintf(stderr, "no seed corpus at %s\n", dir);
        return 1;
    }
    unsigned seed = 20261202;
    int seeds = 0;
    long runs = 0;
    uint8_t *m = malloc(1 << 17);
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[1300];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t n;
        uint8_t *s = slurp(path, &n);
        if (!s)
            continue;
        seeds++;
        LLVMFuzzerTestOneInput(s, n);
        for (int it = 0; it < 20000; it++) {
            size_t mn = n;
            memcpy(m, s, n);
            if (it & 1)
                m[0] |= 8; /* fix up checksums after mutating */
            int k = 1 + rand_r(&seed) % 4;
            for (int j = 0; j < k && mn > 1; j++) {
                size_t at = (size_t)rand_r(&seed) % mn;
                switch (rand_r(&seed) % 4) {
                case 0:
                    m[at] ^= (uint8_t)(1u << (rand_r(&seed) % 8));
                    break;
                case 1:
                    m[at] = (uint8_t)rand_r(&seed);
                    break;
                case 2:
                    mn = at + 1;
                    break;
                default: { /* duplicate a slice */
                    size_t len = 1 + (size_t)rand_r(&seed) % 32;
                    if (at + len <= mn && mn + len < (1 << 17)) {
                        memmove(m + at + len, m + at, mn - at);
                        mn += len;
                    }
                }
                }
            }
            LLVMFuzzerTestOneInput(m, mn);
            runs++;
        }
        free(s);
    }
    closedir(dh);
    free(m);
    fprintf(stderr, "%d seeds, %ld mutated inputs, no crash\n", seeds, runs);
    return seeds ? 0 : 1;
}
