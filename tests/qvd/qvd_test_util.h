/* Shared helpers for the QVD tests: an in-memory output sink and a deterministic PRNG. */
#ifndef SL_QVD_TEST_UTIL_H
#define SL_QVD_TEST_UTIL_H

#include "qvd/qvd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    unsigned char *p;
    size_t n, cap;
} membuf;

static inline int membuf_out(void *ud, const void *p, size_t len)
{
    membuf *m = ud;
    if (m->n + len > m->cap) {
        size_t c = m->cap ? m->cap * 2 : 4096;
        while (c < m->n + len)
            c *= 2;
        unsigned char *t = realloc(m->p, c);
        if (!t)
            return -1;
        m->p = t;
        m->cap = c;
    }
    memcpy(m->p + m->n, p, len);
    m->n += len;
    return 0;
}

static uint64_t rng_state = 0x853c49e6748fea9bull;

static inline uint64_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rndn(uint64_t n)
{
    return n ? rnd() % n : 0;
}

#endif
