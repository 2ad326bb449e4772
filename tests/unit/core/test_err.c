/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/core/err.c: the error table lookups, in and out of range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/err.h"

#include <string.h>

static void test_err_rows(void **state)
{
    (void)state;
    assert_int_equal(CK_OK, 0);
    assert_int_equal(ck_err_status(CK_OK), 200);
    assert_int_equal(ck_err_status(CK_E_NOMEM), 500);
    assert_int_equal(ck_err_status(CK_E_INVALID), 400);
    assert_int_equal(ck_err_status(CK_E_TOO_LARGE), 413);
    assert_string_equal(ck_err_code(CK_E_TOO_LARGE), "RequestBodyTooLarge");
    assert_int_equal(ck_err_status(CK_E_NOT_FOUND), 404);
    assert_int_equal(ck_err_status(CK_E_EXISTS), 409);
    assert_string_equal(ck_err_code(CK_E_EXISTS), "Conflict");
    assert_int_equal(ck_err_status(CK_E_UNAUTHENTICATED), 401);
    assert_int_equal(ck_err_status(CK_E_FORBIDDEN), 403);
    assert_int_equal(ck_err_status(CK_E_UNAVAILABLE), 503);
    assert_int_equal(ck_err_status(CK_E_TIMEOUT), 504);
    assert_string_equal(ck_err_text(CK_E_NOMEM), "out of memory");
    assert_string_equal(ck_err_text(CK_E_CRYPTO), "cryptographic operation failed");
}

static void test_err_table_complete(void **state)
{
    (void)state;
    for (int e = 0; e < CK_E__COUNT; e++) {
        int st = ck_err_status((ck_err)e);
        assert_true(st >= 200 && st <= 599);
        assert_non_null(ck_err_code((ck_err)e));
        assert_true(strlen(ck_err_code((ck_err)e)) > 0);
        assert_non_null(ck_err_text((ck_err)e));
        assert_true(strlen(ck_err_text((ck_err)e)) > 0);
        /* Only CK_OK is a success. */
        if (e != CK_OK)
            assert_true(st >= 400);
    }
}

static void test_err_out_of_range(void **state)
{
    (void)state;
    ck_err bad[] = {CK_E__COUNT, (ck_err)(CK_E__COUNT + 100), (ck_err)-1};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ck_err_status(bad[i]), 500);
        assert_string_equal(ck_err_code(bad[i]), "InternalError");
        assert_string_equal(ck_err_text(bad[i]), "internal error");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_rows),
        cmocka_unit_test(test_err_table_complete),
        cmocka_unit_test(test_err_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
