/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/core/secret.c: the secret container's lifetime and the constant-time compare. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/mem.h"
#include "core/secret.h"

#include <pthread.h>
#include <string.h>

static void test_secret_new_is_zeroed(void **state)
{
    (void)state;
    struct ck_secret *s = ck_secret_new(64);
    uint8_t zero[64] = {0};
    assert_non_null(s);
    assert_int_equal(ck_secret_len(s), 64);
    assert_non_null(ck_secret_ptr(s));
    assert_memory_equal(ck_secret_ptr(s), zero, 64);
    memset(ck_secret_ptr(s), 0x5a, 64); /* writable */
    ck_secret_free(s);

    s = ck_secret_new(0);
    assert_non_null(s);
    assert_int_equal(ck_secret_len(s), 0);
    assert_non_null(ck_secret_ptr(s));
    ck_secret_free(s);
    ck_secret_free(NULL);
}

static void test_secret_from_copies(void **state)
{
    (void)state;
    char src[] = "client-secret-value";
    struct ck_secret *s = ck_secret_from(src, strlen(src));
    assert_non_null(s);
    assert_int_equal(ck_secret_len(s), strlen(src));
    assert_memory_equal(ck_secret_ptr(s), src, strlen(src));
    assert_ptr_not_equal(ck_secret_ptr(s), src);
    src[0] = 'X'; /* a copy, not a reference */
    assert_int_equal(ck_secret_ptr(s)[0], 'c');
    ck_secret_free(s);

    s = ck_secret_from(NULL, 0);
    assert_non_null(s);
    assert_int_equal(ck_secret_len(s), 0);
    ck_secret_free(s);
}

static void test_secret_nomem(void **state)
{
    (void)state;
    /* The container's allocation may fail; nothing leaks (the bytes come from the locked pool,
     * whose pages are mapped, not allocated, outside sanitizer builds). */
    ck_alloc_fail_after(1);
    assert_null(ck_secret_new(32));
    ck_alloc_fail_after(1);
    assert_null(ck_secret_from("abc", 3));
    ck_alloc_fail_after(0);
    struct ck_secret *s = ck_secret_new(32);
    assert_non_null(s);
    ck_secret_free(s);
}

static void test_secret_large(void **state)
{
    (void)state;
    /* Larger than typical RLIMIT_MEMLOCK: locking may fail, the secret must still work. */
    size_t n = 4u << 20;
    struct ck_secret *s = ck_secret_new(n);
    assert_non_null(s);
    assert_int_equal(ck_secret_len(s), n);
    ck_secret_ptr(s)[n - 1] = 1;
    ck_secret_free(s);
}

/* Many secrets of every size class and beyond, alive together: each keeps its own bytes; a freed
 * block comes back zeroed to the next secret; threads share the pool safely. */
static void test_secret_pool(void **state)
{
    (void)state;
    enum { N = 600 };
    static struct ck_secret *s[N];
    for (int i = 0; i < N; i++) {
        size_t len = (size_t)(i * 37) % 9000; /* 0 .. 8999: every class, and own mappings */
        s[i] = ck_secret_new(len);
        assert_non_null(s[i]);
        assert_int_equal(ck_secret_len(s[i]), len);
        memset(ck_secret_ptr(s[i]), (int)(i & 0xff), len);
    }
    for (int i = 0; i < N; i++) {
        size_t len = ck_secret_len(s[i]);
        for (size_t k = 0; k < len; k++)
            assert_int_equal(ck_secret_ptr(s[i])[k], (uint8_t)(i & 0xff));
    }
    for (int i = 0; i < N; i += 2)
        ck_secret_free(s[i]);
    for (int i = 0; i < N; i += 2) {
        size_t len = (size_t)(i * 37) % 9000;
        s[i] = ck_secret_new(len);
        assert_non_null(s[i]);
        for (size_t k = 0; k < len; k++)
            assert_int_equal(ck_secret_ptr(s[i])[k], 0);
    }
    for (int i = 0; i < N; i++)
        ck_secret_free(s[i]);
}

static void *pool_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        struct ck_secret *a = ck_secret_from("0123456789abcdef0123456789abcdef", 32);
        struct ck_secret *b = ck_secret_new((size_t)(i % 300));
        if (a == NULL || b == NULL || memcmp(ck_secret_ptr(a), "0123456789abcdef", 16) != 0)
            return (void *)1;
        ck_secret_free(a);
        ck_secret_free(b);
    }
    return NULL;
}

static void test_secret_pool_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, pool_worker, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *r = NULL;
        pthread_join(t[i], &r);
        assert_null(r);
    }
}

static void test_ct_equal(void **state)
{
    (void)state;
    assert_true(ck_ct_equal("abc", 3, "abc", 3));
    assert_false(ck_ct_equal("abc", 3, "abd", 3));
    assert_false(ck_ct_equal("abc", 3, "xbc", 3));
    assert_false(ck_ct_equal("abc", 3, "abcd", 4)); /* a prefix is not equal */
    assert_false(ck_ct_equal("abcd", 4, "abc", 3));
    assert_false(ck_ct_equal("", 0, "a", 1));
    assert_true(ck_ct_equal("", 0, "", 0));
    assert_true(ck_ct_equal(NULL, 0, NULL, 0));
    /* Every bit position of every byte matters. */
    uint8_t a[32], b[32];
    for (int i = 0; i < 32; i++)
        a[i] = (uint8_t)(i * 37);
    for (int i = 0; i < 32; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(b, a, sizeof(a));
            b[i] ^= (uint8_t)(1u << bit);
            assert_false(ck_ct_equal(a, sizeof(a), b, sizeof(b)));
        }
    }
    memcpy(b, a, sizeof(a));
    assert_true(ck_ct_equal(a, sizeof(a), b, sizeof(b)));
    /* Embedded NULs do not end the comparison. */
    assert_false(ck_ct_equal("a\0b", 3, "a\0c", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_new_is_zeroed),
        cmocka_unit_test(test_secret_from_copies),
        cmocka_unit_test(test_secret_nomem),
        cmocka_unit_test(test_secret_large),
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_secret_pool),
        cmocka_unit_test(test_secret_pool_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
