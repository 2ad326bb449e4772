/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/json/json.c: parse caps (depth, duplicates), errors, typed getters (numeric strings,
 * embedded NUL), case-insensitive lookup and the builders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/mem.h"
#include "json/json.h"

#include <stdlib.h>
#include <string.h>

static json_t *parse(const char *s)
{
    char err[160];
    return ck_json_parse(s, strlen(s), err, sizeof(err));
}

/* Builds depth nested arrays (or objects) around a scalar. */
static char *nested(int depth, int objects)
{
    struct ck_buf b;
    ck_buf_init(&b, 1u << 20);
    for (int i = 0; i < depth; i++)
        assert_int_equal(ck_buf_puts(&b, objects ? "{\"a\":" : "["), 0);
    assert_int_equal(ck_buf_puts(&b, "1"), 0);
    for (int i = 0; i < depth; i++)
        assert_int_equal(ck_buf_puts(&b, objects ? "}" : "]"), 0);
    return ck_buf_steal(&b, NULL);
}

static void test_depth_cap(void **state)
{
    (void)state;
    char err[160];
    for (int objects = 0; objects <= 1; objects++) {
        char *ok = nested(CK_JSON_MAX_DEPTH, objects);
        char *bad = nested(CK_JSON_MAX_DEPTH + 1, objects);
        json_t *v = ck_json_parse(ok, strlen(ok), err, sizeof(err));
        assert_non_null(v);
        json_decref(v);
        err[0] = '\0';
        assert_null(ck_json_parse(bad, strlen(bad), err, sizeof(err)));
        assert_non_null(strstr(err, "nesting"));
        ck_free(ok);
        ck_free(bad);
    }
    /* Mixed nesting counts too. */
    struct ck_buf b;
    ck_buf_init(&b, 4096);
    for (int i = 0; i < 33; i++)
        assert_int_equal(ck_buf_puts(&b, i % 2 ? "[" : "{\"k\":"), 0);
    for (int i = 32; i >= 0; i--)
        assert_int_equal(ck_buf_puts(&b, i % 2 ? "]" : "}"), 0);
    assert_null(parse(b.data));
    ck_buf_cleanup(&b);
    /* Very deep input is refused quickly, before the parser recurses. */
    char *deep = nested(200000, 0);
    assert_null(parse(deep));
    ck_free(deep);
}

static void test_depth_ignores_strings(void **state)
{
    (void)state;
    /* Brackets inside strings (and after escaped quotes) are not nesting. */
    char *s = ck_malloc(1000);
    memcpy(s, "[\"", 2);
    memset(s + 2, '[', 900);
    memcpy(s + 902, "\\\"[[[\"]", 8);
    json_t *v = parse(s);
    assert_non_null(v);
    assert_true(json_is_array(v));
    json_decref(v);
    ck_free(s);
    v = parse("{\"k\":\"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\\\\\",\"j\":[]}");
    assert_non_null(v);
    assert_non_null(ck_json_arr(v, "j"));
    json_decref(v);
}

static void test_duplicates_and_errors(void **state)
{
    (void)state;
    char err[160];
    const char *dup = "{\"a\":1,\"a\":2}";
    assert_null(ck_json_parse(dup, strlen(dup), err, sizeof(err)));
    assert_non_null(strstr(err, "duplicate"));
    assert_null(parse("{\"o\":{\"x\":1,\"x\":1}}"));
    /* Keys differing only in case are distinct members. */
    json_t *v = parse("{\"a\":1,\"A\":2}");
    assert_non_null(v);
    json_decref(v);

    static const char *bad[] = {"", " ", "{", "}", "{\"a\":}", "{a:1}", "[1,]", "{\"a\":1,}", "{} {}",
                                "{}x", "'a'", "[\"\\x\"]", "nul", "01", "[1e99999]", "\"\xff\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        json_t *j = ck_json_parse(bad[i], strlen(bad[i]), err, sizeof(err));
        if (j != NULL)
            fail_msg("accepted %s", bad[i]);
        assert_true(strlen(err) > 0);
    }
    /* err may be NULL. */
    assert_null(ck_json_parse("{", 1, NULL, 0));
    assert_null(ck_json_parse(dup, strlen(dup), NULL, 0));
    /* Only text[0..len) is parsed. */
    v = ck_json_parse("{}garbage", 2, err, sizeof(err));
    assert_non_null(v);
    json_decref(v);
}

static void test_parse_object(void **state)
{
    (void)state;
    char err[160];
    json_t *v = ck_json_parse_object("{\"a\":1}", 7, err, sizeof(err));
    assert_non_null(v);
    json_decref(v);
    static const char *nonobj[] = {"[1]", "1", "\"s\"", "null", "true"};
    for (size_t i = 0; i < 5; i++) {
        err[0] = '\0';
        assert_null(ck_json_parse_object(nonobj[i], strlen(nonobj[i]), err, sizeof(err)));
        assert_non_null(strstr(err, "object"));
        /* ck_json_parse takes any value. */
        v = parse(nonobj[i]);
        assert_non_null(v);
        json_decref(v);
    }
}

static void test_getters(void **state)
{
    (void)state;
    json_t *o = parse("{\"s\":\"str\",\"i\":42,\"neg\":-7,\"ns\":\"123\",\"nns\":\"-5\",\"big\":9007199254740993,"
                      "\"f\":1.5,\"t\":true,\"fa\":false,\"n\":null,\"o\":{\"x\":1},\"a\":[1,2],"
                      "\"bad1\":\"12abc\",\"bad2\":\"\",\"bad3\":\"abc\",\"bad4\":\"1.5\",\"st\":\"true\"}");
    assert_non_null(o);
    assert_string_equal(ck_json_str(o, "s"), "str");
    assert_null(ck_json_str(o, "i"));
    assert_null(ck_json_str(o, "n"));
    assert_null(ck_json_str(o, "missing"));
    assert_int_equal(ck_json_int(o, "i", 0), 42);
    assert_int_equal(ck_json_int(o, "neg", 0), -7);
    assert_int_equal(ck_json_int(o, "ns", 0), 123);
    assert_int_equal(ck_json_int(o, "nns", 0), -5);
    assert_int_equal(ck_json_int(o, "big", 0), 9007199254740993LL);
    assert_int_equal(ck_json_int(o, "f", -1), -1);
    assert_int_equal(ck_json_int(o, "t", -1), -1);
    assert_int_equal(ck_json_int(o, "n", -1), -1);
    assert_int_equal(ck_json_int(o, "missing", -1), -1);
    assert_int_equal(ck_json_int(o, "bad1", -1), -1);
    assert_int_equal(ck_json_int(o, "bad2", -1), -1);
    assert_int_equal(ck_json_int(o, "bad3", -1), -1);
    assert_int_equal(ck_json_int(o, "bad4", -1), -1);
    assert_int_equal(ck_json_bool(o, "t", 0), 1);
    assert_int_equal(ck_json_bool(o, "fa", 1), 0);
    assert_int_equal(ck_json_bool(o, "st", 7), 7);
    assert_int_equal(ck_json_bool(o, "i", 7), 7);
    assert_int_equal(ck_json_bool(o, "missing", 7), 7);
    assert_non_null(ck_json_obj(o, "o"));
    assert_null(ck_json_obj(o, "a"));
    assert_non_null(ck_json_arr(o, "a"));
    assert_null(ck_json_arr(o, "o"));
    assert_null(ck_json_obj(o, "missing"));
    /* Getters on a non-object return the default. */
    json_t *arr = ck_json_arr(o, "a");
    assert_null(ck_json_str(arr, "s"));
    assert_int_equal(ck_json_int(arr, "i", 3), 3);
    assert_null(ck_json_str(NULL, "s"));
    json_decref(o);
}

static void test_int_out_of_range_string(void **state)
{
    (void)state;
    /* A numeric string outside int64 is bad input, not a saturated value. */
    json_t *o = parse("{\"hi\":\"99999999999999999999\",\"lo\":\"-99999999999999999999\",\"max\":\"9223372036854775807\"}");
    int64_t max = ck_json_int(o, "max", -1), hi = ck_json_int(o, "hi", -1), lo = ck_json_int(o, "lo", -1);
    json_decref(o);
    assert_int_equal(max, INT64_MAX);
    assert_int_equal(hi, -1);
    assert_int_equal(lo, -1);
    /* An out-of-range JSON number is refused by the parser. */
    assert_null(parse("{\"n\":99999999999999999999}"));
}

static void test_str_with_embedded_nul(void **state)
{
    (void)state;
    /* "\u0000" parses (JSON_ALLOW_NUL), but a C-string getter cannot represent it: returning the
     * prefix would let "issuer\u0000junk" compare equal to "issuer". */
    json_t *o = parse("{\"sub\":\"victim\\u0000attacker\"}");
    assert_non_null(o);
    const char *s = ck_json_str(o, "sub");
    if (s != NULL)
        fail_msg("ck_json_str returned the truncated prefix \"%s\"", s);
    json_decref(o);
}

static void test_get_ci(void **state)
{
    (void)state;
    json_t *o = parse("{\"properties\":{\"KeyName\":\"k1\",\"keyname\":\"k2\"},\"Location\":\"eastus\"}");
    json_t *p = ck_json_get_ci(o, "Properties");
    assert_non_null(p);
    assert_ptr_equal(p, ck_json_get_ci(o, "PROPERTIES"));
    assert_ptr_equal(p, ck_json_get_ci(o, "properties"));
    assert_string_equal(json_string_value(ck_json_get_ci(o, "location")), "eastus");
    /* An exact match wins over a case-insensitive one. */
    assert_string_equal(json_string_value(ck_json_get_ci(p, "keyname")), "k2");
    assert_string_equal(json_string_value(ck_json_get_ci(p, "KeyName")), "k1");
    assert_non_null(ck_json_get_ci(p, "KEYNAME"));
    assert_null(ck_json_get_ci(o, "propertie"));
    assert_null(ck_json_get_ci(o, "propertiesX"));
    assert_null(ck_json_get_ci(NULL, "a"));
    json_t *arr = json_array();
    assert_null(ck_json_get_ci(arr, "a"));
    json_decref(arr);
    json_decref(o);
}

static void test_builders(void **state)
{
    (void)state;
    json_t *o = json_object();
    ck_json_set(o, "n", json_integer(1));
    ck_json_set(o, "skip", NULL);
    ck_json_set_str(o, "s", "v\"q");
    ck_json_set_str(o, "null", NULL);
    char *d = ck_json_dump(o);
    assert_string_equal(d, "{\"n\":1,\"s\":\"v\\\"q\",\"null\":null}");
    free(d);
    d = ck_json_dump(json_object_get(o, "n")); /* scalars too */
    assert_string_equal(d, "1");
    free(d);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depth_cap),
        cmocka_unit_test(test_depth_ignores_strings),
        cmocka_unit_test(test_duplicates_and_errors),
        cmocka_unit_test(test_parse_object),
        cmocka_unit_test(test_getters),
        cmocka_unit_test(test_int_out_of_range_string),
        cmocka_unit_test(test_str_with_embedded_nul),
        cmocka_unit_test(test_get_ci),
        cmocka_unit_test(test_builders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
