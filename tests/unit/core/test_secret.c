/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/core/secret.c: the secret container's lifetime and the constant-time compare. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/mem.h"
#include "core/secret.h"

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
    /* Either of the two allocations may fail; neither leaks (ASan checks the second). */
    ck_alloc_fail_after(1);
    assert_null(ck_secret_new(32));
    ck_alloc_fail_after(2);
    assert_null(ck_secret_new(32));
    ck_alloc_fail_after(2);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
