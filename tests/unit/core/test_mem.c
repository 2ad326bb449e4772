/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/core/mem.c: allocation wrappers and failure injection, arenas (many and large
 * allocations, cleanup hooks, printf) and capped buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/mem.h"

#include <string.h>

static int teardown_injector(void **state)
{
    (void)state;
    ck_alloc_fail_after(0);
    return 0;
}

/* ---- allocation wrappers and the injector ---- */

static void test_alloc_wrappers(void **state)
{
    (void)state;
    char *p = ck_malloc(0); /* a zero-byte request still yields a pointer */
    assert_non_null(p);
    ck_free(p);
    uint32_t *z = ck_calloc(16, sizeof(uint32_t));
    for (int i = 0; i < 16; i++)
        assert_int_equal(z[i], 0);
    z = ck_realloc(z, 1024);
    assert_non_null(z);
    ck_free(z);
    char *s = ck_strdup("hello");
    assert_string_equal(s, "hello");
    ck_free(s);
    s = ck_strndup("hello world", 5);
    assert_string_equal(s, "hello");
    ck_freezero(s, 6);
    assert_null(ck_strdup(NULL));
    ck_free(NULL);
    ck_freezero(NULL, 10);
    ck_wipe(NULL, 10);
    uint8_t buf[8] = {1, 2, 3, 4, 5, 6, 7, 8}, zero[8] = {0};
    ck_wipe(buf, sizeof(buf));
    assert_memory_equal(buf, zero, sizeof(buf));
}

static void test_fail_after_counts(void **state)
{
    (void)state;
    void *a, *b, *c, *d;
    ck_alloc_fail_after(3);
    a = ck_malloc(8);
    b = ck_calloc(1, 8);
    c = ck_malloc(8); /* the third fails */
    d = ck_malloc(8); /* one-shot: later ones work again */
    assert_non_null(a);
    assert_non_null(b);
    assert_null(c);
    assert_non_null(d);
    ck_free(a);
    ck_free(b);
    ck_free(d);

    ck_alloc_fail_after(1);
    assert_null(ck_strdup("x"));
    ck_alloc_fail_after(1);
    assert_null(ck_strndup("x", 1));
    /* A failed realloc leaves the old block alive. */
    char *p = ck_strdup("keep");
    ck_alloc_fail_after(1);
    assert_null(ck_realloc(p, 4096));
    assert_string_equal(p, "keep");
    ck_free(p);
    /* Zero turns injection off. */
    ck_alloc_fail_after(2);
    ck_alloc_fail_after(0);
    a = ck_malloc(1);
    b = ck_malloc(1);
    assert_non_null(a);
    assert_non_null(b);
    ck_free(a);
    ck_free(b);
}

/* ---- arena ---- */

static void test_arena_many_allocs(void **state)
{
    (void)state;
    struct ck_arena *a = ck_arena_new();
    enum { N = 5000 };
    static uint8_t *ptrs[N];
    static size_t sizes[N];
    assert_non_null(a);
    for (int i = 0; i < N; i++) {
        sizes[i] = (size_t)(i * 7919) % 300; /* includes 0 */
        ptrs[i] = ck_arena_alloc(a, sizes[i]);
        assert_non_null(ptrs[i]);
        assert_int_equal((uintptr_t)ptrs[i] % _Alignof(max_align_t), 0);
        for (size_t j = 0; j < sizes[i]; j++)
            assert_int_equal(ptrs[i][j], 0); /* zeroed */
        memset(ptrs[i], (int)(i & 0xff), sizes[i]);
    }
    /* No allocation overlapped another. */
    for (int i = 0; i < N; i++)
        for (size_t j = 0; j < sizes[i]; j++)
            assert_int_equal(ptrs[i][j], (uint8_t)(i & 0xff));
    ck_arena_free(a);
    ck_arena_free(NULL);
}

static void test_arena_large_allocs(void **state)
{
    (void)state;
    struct ck_arena *a = ck_arena_new();
    char *small = ck_arena_strdup(a, "small");
    uint8_t *big = ck_arena_alloc(a, 1u << 20);
    uint8_t *big2 = ck_arena_alloc(a, 8193); /* just over one block */
    char *small2 = ck_arena_strdup(a, "after");
    assert_non_null(big);
    assert_non_null(big2);
    for (size_t i = 0; i < (1u << 20); i += 4096)
        assert_int_equal(big[i], 0);
    memset(big, 0xaa, 1u << 20);
    memset(big2, 0xbb, 8193);
    assert_string_equal(small, "small");
    assert_string_equal(small2, "after");
    /* Sizes that overflow when rounded are refused, not wrapped. */
    assert_null(ck_arena_alloc(a, SIZE_MAX));
    assert_null(ck_arena_alloc(a, SIZE_MAX - 8));
    ck_arena_free(a);
}

static void test_arena_strings(void **state)
{
    (void)state;
    struct ck_arena *a = ck_arena_new();
    assert_string_equal(ck_arena_strndup(a, "abcdef", 3), "abc");
    assert_string_equal(ck_arena_strdup(a, ""), "");
    assert_null(ck_arena_strdup(a, NULL));
    assert_string_equal(ck_arena_printf(a, "%s-%d-%05.1f", "x", 42, 3.14159), "x-42-003.1");
    char longer[20000];
    memset(longer, 'q', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    char *p = ck_arena_printf(a, "<%s>", longer);
    assert_int_equal(strlen(p), sizeof(longer) + 1);
    assert_int_equal(p[0], '<');
    assert_int_equal(p[sizeof(longer)], '>');
    ck_arena_free(a);
}

static int hook_log[16];
static int hook_n;

static void hook(void *arg)
{
    hook_log[hook_n++] = (int)(intptr_t)arg;
}

static void test_arena_defer_order(void **state)
{
    (void)state;
    struct ck_arena *a = ck_arena_new();
    hook_n = 0;
    for (intptr_t i = 1; i <= 5; i++) {
        assert_int_equal(ck_arena_defer(a, hook, (void *)i), 0);
        (void)ck_arena_alloc(a, 100);
    }
    assert_int_equal(hook_n, 0); /* nothing runs before the free */
    ck_arena_free(a);
    assert_int_equal(hook_n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(hook_log[i], 5 - i); /* reverse order of registration */
}

static void test_arena_defer_nomem_runs_now(void **state)
{
    (void)state;
    struct ck_arena *a = ck_arena_new();
    hook_n = 0;
    ck_alloc_fail_after(1); /* the arena's first block */
    assert_int_equal(ck_arena_defer(a, hook, (void *)(intptr_t)9), -1);
    assert_int_equal(hook_n, 1);
    assert_int_equal(hook_log[0], 9);
    ck_arena_free(a);
    assert_int_equal(hook_n, 1); /* not run twice */
}

static void test_arena_nomem(void **state)
{
    (void)state;
    ck_alloc_fail_after(1);
    assert_null(ck_arena_new());
    struct ck_arena *a = ck_arena_new();
    ck_alloc_fail_after(1);
    assert_null(ck_arena_alloc(a, 10));
    ck_alloc_fail_after(1);
    assert_null(ck_arena_printf(a, "%d", 5));
    ck_alloc_fail_after(1);
    assert_null(ck_arena_strdup(a, "x"));
    assert_string_equal(ck_arena_strdup(a, "ok"), "ok");
    ck_arena_free(a);
}

/* ---- capped buffers ---- */

static void test_buf_basic(void **state)
{
    (void)state;
    struct ck_buf b;
    ck_buf_init(&b, 1024);
    assert_int_equal(b.len, 0);
    assert_int_equal(ck_buf_puts(&b, "hello"), CK_OK);
    assert_int_equal(ck_buf_append(&b, ", ", 2), CK_OK);
    assert_int_equal(ck_buf_printf(&b, "%s %d", "world", 7), CK_OK);
    assert_int_equal(b.len, strlen("hello, world 7"));
    assert_string_equal(b.data, "hello, world 7");
    assert_int_equal(ck_buf_append(&b, NULL, 0), CK_OK);
    assert_int_equal(ck_buf_append(&b, "\0x", 2), CK_OK); /* binary data keeps its length */
    assert_int_equal(b.len, strlen("hello, world 7") + 2);
    assert_int_equal(b.data[b.len], '\0');
    ck_buf_cleanup(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    ck_buf_cleanup(&b); /* twice is harmless */
}

static void test_buf_growth(void **state)
{
    (void)state;
    struct ck_buf b;
    ck_buf_init(&b, 1u << 20);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(ck_buf_printf(&b, "%04d,", i % 10000), CK_OK);
    assert_int_equal(b.len, 50000);
    assert_true(b.cap > b.len);
    assert_memory_equal(b.data + 5 * 9999, "9999,", 5);
    assert_int_equal(b.data[b.len], '\0');
    ck_buf_cleanup(&b);
}

static void test_buf_cap(void **state)
{
    (void)state;
    struct ck_buf b;
    ck_buf_init(&b, 10);
    assert_int_equal(ck_buf_append(&b, "12345678", 8), CK_OK);
    char *before = b.data;
    size_t cap = b.cap;
    /* Beyond the limit: CK_E_TOO_LARGE and the buffer unchanged. */
    assert_int_equal(ck_buf_append(&b, "abc", 3), CK_E_TOO_LARGE);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    assert_int_equal(ck_buf_puts(&b, "abc"), CK_E_TOO_LARGE);
    assert_int_equal(ck_buf_printf(&b, "%d", 123), CK_E_TOO_LARGE);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    assert_ptr_equal(b.data, before);
    assert_int_equal(b.cap, cap);
    /* Up to the limit exactly is fine. */
    assert_int_equal(ck_buf_printf(&b, "%d", 9), CK_OK);
    assert_int_equal(ck_buf_append(&b, "0", 1), CK_OK);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "1234567890");
    assert_int_equal(ck_buf_append(&b, "x", 1), CK_E_TOO_LARGE);
    assert_int_equal(ck_buf_append(&b, "", 0), CK_OK);
    /* Sizes that would wrap are caught by the limit. */
    assert_int_equal(ck_buf_append(&b, "x", SIZE_MAX), CK_E_TOO_LARGE);
    assert_int_equal(b.len, 10);
    ck_buf_cleanup(&b);

    ck_buf_init(&b, 0);
    assert_int_equal(ck_buf_append(&b, "x", 1), CK_E_TOO_LARGE);
    assert_null(b.data);
    ck_buf_cleanup(&b);
}

static void test_buf_nomem_unchanged(void **state)
{
    (void)state;
    struct ck_buf b;
    ck_buf_init(&b, 1u << 20);
    b.secret = 1;
    assert_int_equal(ck_buf_puts(&b, "abc"), CK_OK);
    char big[600];
    memset(big, 'z', sizeof(big));
    ck_alloc_fail_after(1); /* growth past the first 256 bytes fails */
    assert_int_equal(ck_buf_append(&b, big, sizeof(big)), CK_E_NOMEM);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    ck_alloc_fail_after(1);
    assert_int_equal(ck_buf_printf(&b, "%.*s", 600, big), CK_E_NOMEM);
    assert_string_equal(b.data, "abc");
    assert_int_equal(ck_buf_append(&b, big, sizeof(big)), CK_OK);
    assert_int_equal(b.len, 603);
    ck_buf_cleanup(&b);

    ck_buf_init(&b, 100);
    ck_alloc_fail_after(1); /* the very first allocation */
    assert_int_equal(ck_buf_puts(&b, "x"), CK_E_NOMEM);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    ck_buf_cleanup(&b);
}

static void test_buf_steal(void **state)
{
    (void)state;
    struct ck_buf b;
    size_t len = 99;
    ck_buf_init(&b, 64);
    assert_int_equal(ck_buf_puts(&b, "stolen"), CK_OK);
    char *s = ck_buf_steal(&b, &len);
    assert_string_equal(s, "stolen");
    assert_int_equal(len, 6);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    ck_free(s);
    /* The buffer is reusable after a steal, with the same limit. */
    assert_int_equal(ck_buf_puts(&b, "again"), CK_OK);
    assert_string_equal(b.data, "again");
    assert_int_equal(ck_buf_append(&b, "0123456789012345678901234567890123456789012345678901234567890", 61),
                     CK_E_TOO_LARGE);
    ck_buf_cleanup(&b);
    /* Stealing an empty buffer yields an empty string the caller owns. */
    ck_buf_init(&b, 64);
    s = ck_buf_steal(&b, &len);
    assert_non_null(s);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    ck_free(s);
    s = ck_buf_steal(&b, NULL);
    ck_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_alloc_wrappers, teardown_injector),
        cmocka_unit_test_teardown(test_fail_after_counts, teardown_injector),
        cmocka_unit_test_teardown(test_arena_many_allocs, teardown_injector),
        cmocka_unit_test_teardown(test_arena_large_allocs, teardown_injector),
        cmocka_unit_test_teardown(test_arena_strings, teardown_injector),
        cmocka_unit_test_teardown(test_arena_defer_order, teardown_injector),
        cmocka_unit_test_teardown(test_arena_defer_nomem_runs_now, teardown_injector),
        cmocka_unit_test_teardown(test_arena_nomem, teardown_injector),
        cmocka_unit_test_teardown(test_buf_basic, teardown_injector),
        cmocka_unit_test_teardown(test_buf_growth, teardown_injector),
        cmocka_unit_test_teardown(test_buf_cap, teardown_injector),
        cmocka_unit_test_teardown(test_buf_nomem_unchanged, teardown_injector),
        cmocka_unit_test_teardown(test_buf_steal, teardown_injector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
