/* Minimal test harness: one executable per test file, TEST() functions listed in main via
 * SL_RUN(). A failed check prints FILE:LINE and the expression, and the test exits 1.
 * Exit 77 means skipped (ctest SKIP_RETURN_CODE). */
#ifndef SL_TEST_H
#define SL_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sl_test_failures;
static int sl_test_count;

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr);               \
            sl_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long sl_a_ = (long long)(a), sl_b_ = (long long)(b);                                  \
        if (sl_a_ != sl_b_) {                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__,  \
                    #a, #b, sl_a_, sl_b_);                                                         \
            sl_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *sl_a_ = (a), *sl_b_ = (b);                                                     \
        if (!sl_a_ || !sl_b_ || strcmp(sl_a_, sl_b_) != 0) {                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", __FILE__,        \
                    __LINE__, #a, #b, sl_a_ ? sl_a_ : "(null)", sl_b_ ? sl_b_ : "(null)");         \
            sl_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define SL_RUN(fn)                                                                                 \
    do {                                                                                           \
        int sl_before_ = sl_test_failures;                                                         \
        sl_test_count++;                                                                           \
        fn();                                                                                      \
        fprintf(stderr, "%s %s\n", sl_test_failures == sl_before_ ? "ok  " : "FAIL", #fn);         \
    } while (0)

#define SL_DONE()                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "%d tests, %d failed checks\n", sl_test_count, sl_test_failures);          \
        return sl_test_failures ? 1 : 0;                                                           \
    } while (0)

#define SL_SKIP(msg)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "skipped: %s\n", msg);                                                     \
        exit(77);                                                                                  \
    } while (0)

#endif
