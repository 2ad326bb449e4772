/* SPDX-License-Identifier: Apache-2.0 */
/* ck_path_segments: non-empty segments of a URL path, in order, with a cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/mem.h"

#include <string.h>

static void test_segments(void **state)
{
    struct ck_arena *a = ck_arena_new();
    char *seg[4];
    (void)state;
    assert_int_equal(ck_path_segments(a, "/subscriptions/s1//resourceGroups/rg/", seg, 4), 4);
    assert_string_equal(seg[0], "subscriptions");
    assert_string_equal(seg[1], "s1");
    assert_string_equal(seg[2], "resourceGroups");
    assert_string_equal(seg[3], "rg");
    assert_int_equal(ck_path_segments(a, "//", seg, 4), 0);
    assert_int_equal(ck_path_segments(a, "", seg, 4), 0);
    assert_int_equal(ck_path_segments(a, "a", seg, 4), 1);
    assert_string_equal(seg[0], "a");
    /* More segments than room: refused, not truncated. */
    assert_int_equal(ck_path_segments(a, "/a/b/c/d/e", seg, 4), -1);
    ck_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_segments)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
