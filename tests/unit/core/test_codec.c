/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/core/codec.c: base64 and base64url (RFC 4648 vectors, malformed and non-canonical
 * input), hex, UUIDs, randomness and percent-encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/codec.h"
#include "core/mem.h"

#include <string.h>

/* RFC 4648 section 10. */
static const struct {
    const char *raw;
    const char *b64;
    const char *b64url; /* unpadded */
} rfc4648[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void expect_decode(int url, const char *in, const void *want, size_t wantlen)
{
    uint8_t *out = NULL;
    size_t outlen = 0;
    int rc = url ? ck_b64url_decode(in, strlen(in), &out, &outlen) : ck_b64_decode(in, strlen(in), &out, &outlen);
    assert_int_equal(rc, 0);
    assert_non_null(out);
    assert_int_equal(outlen, wantlen);
    if (wantlen > 0)
        assert_memory_equal(out, want, wantlen);
    ck_free(out);
}

static void expect_refused(int url, const char *in)
{
    uint8_t *out = (uint8_t *)0x1;
    size_t outlen = 777;
    int rc = url ? ck_b64url_decode(in, strlen(in), &out, &outlen) : ck_b64_decode(in, strlen(in), &out, &outlen);
    if (rc != -1)
        fail_msg("%s decoder accepted \"%s\"", url ? "base64url" : "base64", in);
    /* Outputs are written only on success. */
    assert_ptr_equal(out, (uint8_t *)0x1);
    assert_int_equal(outlen, 777);
}

static void test_b64_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        const char *raw = rfc4648[i].raw;
        char *e = ck_b64_encode((const uint8_t *)raw, strlen(raw));
        assert_non_null(e);
        assert_string_equal(e, rfc4648[i].b64);
        ck_free(e);
        e = ck_b64url_encode((const uint8_t *)raw, strlen(raw));
        assert_non_null(e);
        assert_string_equal(e, rfc4648[i].b64url);
        ck_free(e);
        expect_decode(0, rfc4648[i].b64, raw, strlen(raw));
        expect_decode(1, rfc4648[i].b64url, raw, strlen(raw));
        /* base64url also accepts correct padding. */
        expect_decode(1, rfc4648[i].b64, raw, strlen(raw));
    }
}

static void test_b64_alphabets(void **state)
{
    (void)state;
    static const uint8_t raw[] = {0xfb, 0xff, 0xbf};
    char *e = ck_b64_encode(raw, sizeof(raw));
    assert_string_equal(e, "+/+/");
    ck_free(e);
    e = ck_b64url_encode(raw, sizeof(raw));
    assert_string_equal(e, "-_-_");
    ck_free(e);
    expect_decode(0, "+/+/", raw, sizeof(raw));
    expect_decode(1, "-_-_", raw, sizeof(raw));
    /* Each decoder refuses the other's alphabet. */
    expect_refused(0, "-_-_");
    expect_refused(1, "+/+/");
}

static void test_b64_all_bytes_round_trip(void **state)
{
    (void)state;
    uint8_t raw[256];
    for (int i = 0; i < 256; i++)
        raw[i] = (uint8_t)i;
    for (size_t n = 0; n <= sizeof(raw); n += 1) {
        char *e = ck_b64_encode(raw, n);
        char *u = ck_b64url_encode(raw, n);
        assert_non_null(e);
        assert_non_null(u);
        assert_int_equal(strlen(e), (n + 2) / 3 * 4);
        expect_decode(0, e, raw, n);
        expect_decode(1, u, raw, n);
        ck_free(e);
        ck_free(u);
    }
}

static void test_b64_malformed(void **state)
{
    (void)state;
    static const char *bad_std[] = {
        "Z",        /* a single dangling sextet */
        "Zm9vY",    /* likewise after a full quantum */
        "Zg",       /* standard base64 requires padding */
        "Zg=",      /* short padding */
        "Zm9=v",    /* padding in the middle */
        "Zg==Zg==", /* padding in the middle */
        "Zm9v=",    /* padding after a full quantum */
        "Zm9v====", /* too much padding */
        "====",     /* padding only */
        "Zm9v!",    /* character outside the alphabet */
        "Zm 9v",    /* whitespace */
        "Zm9v\n",   /* trailing newline */
        "Zm9\x80",  /* high byte */
    };
    for (size_t i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++)
        expect_refused(0, bad_std[i]);

    static const char *bad_url[] = {
        "Z", "Zm9vY", "Zm9=v", "Zg==Zg", "====", "Zm9v!", "Zm9v.", "Zm 9v", "Zm9v\n",
    };
    for (size_t i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++)
        expect_refused(1, bad_url[i]);

    /* An embedded NUL inside the given length is refused, not treated as the end. */
    uint8_t *out = NULL;
    size_t outlen = 0;
    assert_int_equal(ck_b64url_decode("Zm\0v", 4, &out, &outlen), -1);
    assert_int_equal(ck_b64_decode("Zm\0v", 4, &out, &outlen), -1);
}

/* base64url "with or without padding" means the RFC 4648 padding or none: padding that does not
 * complete a 4-character quantum is malformed in either alphabet. */
static void test_b64url_wrong_padding(void **state)
{
    (void)state;
    expect_refused(1, "Zm9v==");   /* "foo" needs no padding */
    expect_refused(1, "Zm9v=");
    expect_refused(1, "Zg=");      /* "f" needs two */
    expect_refused(1, "Zm9vYmE=="); /* "fooba" needs one */
}

static void test_b64_noncanonical_trailing_bits(void **state)
{
    (void)state;
    /* "Zg==" is canonical for "f"; "Zh==" .. "Zv==" carry non-zero trailing bits. */
    expect_refused(0, "Zh==");
    expect_refused(0, "Zv==");
    expect_refused(1, "Zh");
    expect_refused(1, "Zh==");
    /* "Zm8=" is canonical for "fo"; "Zm9=" sets a trailing bit. */
    expect_refused(0, "Zm9=");
    expect_refused(1, "Zm9");
    expect_refused(1, "Zm-");
    /* RS256 signatures and JWK moduli end on these boundaries too. */
    expect_decode(1, "AQAB", (const uint8_t[]){1, 0, 1}, 3);
}

static void test_b64_decode_length_bounds_input(void **state)
{
    (void)state;
    uint8_t *out = NULL;
    size_t outlen = 0;
    /* Only s[0..n) is read: a longer buffer is cut at n. */
    assert_int_equal(ck_b64url_decode("Zm9vYmFyGARBAGE", 8, &out, &outlen), 0);
    assert_int_equal(outlen, 6);
    assert_memory_equal(out, "foobar", 6);
    ck_free(out);
}

static void test_hex(void **state)
{
    (void)state;
    static const uint8_t raw[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char *h = ck_hex_encode(raw, sizeof(raw));
    assert_string_equal(h, "00017f80abff");
    ck_free(h);
    h = ck_hex_encode(raw, 0);
    assert_string_equal(h, "");
    ck_free(h);
}

static void test_uuid_new_format(void **state)
{
    (void)state;
    char a[37], b[37];
    for (int i = 0; i < 64; i++) {
        memset(a, 'x', sizeof(a));
        assert_int_equal(ck_uuid_new(a), 0);
        assert_int_equal(strlen(a), 36);
        assert_true(ck_uuid_valid(a));
        /* Lower case, version 4, RFC 4122 variant. */
        for (int j = 0; j < 36; j++)
            assert_false(a[j] >= 'A' && a[j] <= 'F');
        assert_int_equal(a[14], '4');
        assert_non_null(strchr("89ab", a[19]));
    }
    assert_int_equal(ck_uuid_new(b), 0);
    assert_string_not_equal(a, b);
}

static void test_uuid_valid(void **state)
{
    (void)state;
    assert_true(ck_uuid_valid("123e4567-e89b-12d3-a456-426614174000"));
    assert_true(ck_uuid_valid("123E4567-E89B-12D3-A456-426614174000"));
    assert_true(ck_uuid_valid("00000000-0000-0000-0000-000000000000"));
    assert_false(ck_uuid_valid(NULL));
    assert_false(ck_uuid_valid(""));
    assert_false(ck_uuid_valid("123e4567-e89b-12d3-a456-42661417400"));   /* short */
    assert_false(ck_uuid_valid("123e4567-e89b-12d3-a456-4266141740000")); /* long */
    assert_false(ck_uuid_valid("123e4567e89b12d3a456426614174000"));     /* no hyphens */
    assert_false(ck_uuid_valid("123e4567-e89b-12d3-a456_426614174000"));  /* wrong separator */
    assert_false(ck_uuid_valid("123e4567-e89b-12d3-a4566-42661417400"));  /* hyphen moved */
    assert_false(ck_uuid_valid("g23e4567-e89b-12d3-a456-426614174000"));  /* not hex */
    assert_false(ck_uuid_valid("{23e4567-e89b-12d3-a456-426614174000}"));
    assert_false(ck_uuid_valid(" 123e4567-e89b-12d3-a456-42661417400"));
}

static void test_random(void **state)
{
    (void)state;
    uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
    assert_int_equal(ck_random(a, sizeof(a)), 0);
    assert_int_equal(ck_random(b, sizeof(b)), 0);
    assert_memory_not_equal(a, zero, sizeof(a));
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_equal(ck_random(a, 0), 0);
}

static void expect_url(const char *in, size_t n, int form, const char *want)
{
    char *d = ck_url_decode(in, n, form);
    if (want == NULL) {
        if (d != NULL)
            fail_msg("url_decode accepted \"%.*s\" as \"%s\"", (int)n, in, d);
        return;
    }
    if (d == NULL)
        fail_msg("url_decode refused \"%.*s\"", (int)n, in);
    assert_string_equal(d, want);
    ck_free(d);
}

static void test_url_decode(void **state)
{
    (void)state;
#define U(s, form, want) expect_url(s, strlen(s), form, want)
    U("", 0, "");
    U("plain", 0, "plain");
    U("a%20b", 0, "a b");
    U("%41%42%43", 0, "ABC");
    U("%e2%82%ac", 0, "\xe2\x82\xac"); /* lower-case hex, UTF-8 bytes */
    U("%E2%82%AC", 0, "\xe2\x82\xac");
    U("api%2Dversion", 0, "api-version");
    U("%2B", 0, "+");
    U("%2B", 1, "+");
    U("a+b", 0, "a+b");
    U("a+b", 1, "a b");
    U("%25", 0, "%");
    U("%2525", 0, "%25"); /* one level only */
    /* Malformed escapes. */
    U("%", 0, NULL);
    U("%4", 0, NULL);
    U("abc%", 0, NULL);
    U("abc%4", 1, NULL);
    U("%zz", 0, NULL);
    U("%4g", 0, NULL);
    U("%g4", 0, NULL);
    U("% 4", 0, NULL);
    U("%-1", 0, NULL);
    /* NUL, escaped or literal, is refused. */
    U("%00", 0, NULL);
    U("a%00b", 1, NULL);
#undef U
    expect_url("a\0b", 3, 0, NULL);
    /* Only s[0..n) is read: an escape cut by n is malformed. */
    expect_url("%41", 2, 0, NULL);
    expect_url("%41", 1, 0, NULL);
    expect_url("ab%41", 2, 0, "ab");
}

static void test_url_encode(void **state)
{
    (void)state;
    char *e = ck_url_encode("AZaz09-_.~");
    assert_string_equal(e, "AZaz09-_.~");
    ck_free(e);
    e = ck_url_encode("a b/c?d=e&f+g%\xe2\x82\xac");
    assert_string_equal(e, "a%20b%2Fc%3Fd%3De%26f%2Bg%25%E2%82%AC");
    char *d = ck_url_decode(e, strlen(e), 0);
    assert_string_equal(d, "a b/c?d=e&f+g%\xe2\x82\xac");
    ck_free(d);
    ck_free(e);
}

static void test_codec_nomem(void **state)
{
    (void)state;
    uint8_t *out = NULL;
    size_t outlen = 0;
    ck_alloc_fail_after(1);
    assert_null(ck_b64_encode((const uint8_t *)"foo", 3));
    ck_alloc_fail_after(1);
    assert_null(ck_b64url_encode((const uint8_t *)"foo", 3));
    ck_alloc_fail_after(1);
    assert_null(ck_hex_encode((const uint8_t *)"foo", 3));
    ck_alloc_fail_after(1);
    assert_int_equal(ck_b64_decode("Zm9v", 4, &out, &outlen), -1);
    ck_alloc_fail_after(1);
    assert_int_equal(ck_b64url_decode("Zm9v", 4, &out, &outlen), -1);
    ck_alloc_fail_after(1);
    assert_null(ck_url_decode("a%20b", 5, 0));
    ck_alloc_fail_after(1);
    assert_null(ck_url_encode("a b"));
    ck_alloc_fail_after(0);
    assert_null(out);
    /* The injector is one-shot: the next call works. */
    char *e = ck_b64_encode((const uint8_t *)"foo", 3);
    assert_string_equal(e, "Zm9v");
    ck_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_rfc4648_vectors),
        cmocka_unit_test(test_b64_alphabets),
        cmocka_unit_test(test_b64_all_bytes_round_trip),
        cmocka_unit_test(test_b64_malformed),
        cmocka_unit_test(test_b64url_wrong_padding),
        cmocka_unit_test(test_b64_noncanonical_trailing_bits),
        cmocka_unit_test(test_b64_decode_length_bounds_input),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_uuid_new_format),
        cmocka_unit_test(test_uuid_valid),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_url_encode),
        cmocka_unit_test(test_codec_nomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
