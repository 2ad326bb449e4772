/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/core/timeutil.c: the test clock offset, the monotonic clock and the three date
 * formats (ARM ISO 8601 with seven fraction digits, the Entra error timestamp, RFC 1123). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/timeutil.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static void test_formats(void **state)
{
    (void)state;
    char buf[64];
    static const struct {
        int64_t t;
        const char *iso, *entra, *rfc1123;
    } rows[] = {
        {0, "1970-01-01T00:00:00.0000000Z", "1970-01-01 00:00:00Z", "Thu, 01 Jan 1970 00:00:00 GMT"},
        {1704067200, "2024-01-01T00:00:00.0000000Z", "2024-01-01 00:00:00Z", "Mon, 01 Jan 2024 00:00:00 GMT"},
        {951827696, "2000-02-29T12:34:56.0000000Z", "2000-02-29 12:34:56Z", "Tue, 29 Feb 2000 12:34:56 GMT"},
        {1735689599, "2024-12-31T23:59:59.0000000Z", "2024-12-31 23:59:59Z", "Tue, 31 Dec 2024 23:59:59 GMT"},
        {4102444800, "2100-01-01T00:00:00.0000000Z", "2100-01-01 00:00:00Z", "Fri, 01 Jan 2100 00:00:00 GMT"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        assert_ptr_equal(ck_time_iso8601(rows[i].t, buf, sizeof(buf)), buf);
        assert_string_equal(buf, rows[i].iso);
        assert_ptr_equal(ck_time_entra(rows[i].t, buf, sizeof(buf)), buf);
        assert_string_equal(buf, rows[i].entra);
        assert_ptr_equal(ck_time_rfc1123(rows[i].t, buf, sizeof(buf)), buf);
        assert_string_equal(buf, rows[i].rfc1123);
    }
}

static void test_formats_short_buffer_terminated(void **state)
{
    (void)state;
    /* A buffer too small for the result still holds a C string. */
    char buf[12];
    memset(buf, 'x', sizeof(buf));
    ck_time_rfc1123(0, buf, sizeof(buf));
    assert_non_null(memchr(buf, '\0', sizeof(buf)));
    memset(buf, 'x', sizeof(buf));
    ck_time_iso8601(0, buf, sizeof(buf));
    assert_non_null(memchr(buf, '\0', sizeof(buf)));
    memset(buf, 'x', sizeof(buf));
    ck_time_entra(0, buf, sizeof(buf));
    assert_non_null(memchr(buf, '\0', sizeof(buf)));
}

static void test_offset(void **state)
{
    (void)state;
    int64_t base = ck_time_now();
    int64_t wall = (int64_t)time(NULL);
    assert_true(base - wall <= 1 && wall - base <= 1);
    ck_time_set_offset(3600);
    int64_t shifted = ck_time_now();
    assert_true(shifted - base >= 3599 && shifted - base <= 3602);
    ck_time_set_offset(-86400);
    assert_true(ck_time_now() < base - 86000);
    ck_time_set_offset(0);
    assert_true(ck_time_now() - base <= 2);
}

static void test_mono(void **state)
{
    (void)state;
    int64_t a = ck_mono_ms();
    usleep(20 * 1000);
    int64_t b = ck_mono_ms();
    assert_true(b - a >= 19);
    assert_true(b - a < 5000);
    /* The test clock does not move the monotonic clock. */
    ck_time_set_offset(100000);
    assert_true(ck_mono_ms() - b < 5000);
    ck_time_set_offset(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_formats_short_buffer_terminated),
        cmocka_unit_test(test_offset),
        cmocka_unit_test(test_mono),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
