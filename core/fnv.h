/* FNV-1a 64: the one non-cryptographic hash of the core (row keys in table state, object hashes
 * recovery compares, job-file hashes, shard assignment). Recovery compares a hash computed while
 * writing an object with one computed while reading it back, so both must be this function. */
#ifndef SL_FNV_H
#define SL_FNV_H

#include <stddef.h>
#include <stdint.h>

#define SL_FNV_INIT 0xcbf29ce484222325ULL

static inline uint64_t sl_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#endif
