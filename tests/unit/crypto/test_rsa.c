/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the RSA part of src/crypto/crypto.c: key generation, PKCS#8 DER round trips, public
 * keys from modulus and exponent (and refusal of weak ones), and RS256 sign/verify including a
 * known answer produced by the openssl command line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/codec.h"
#include "core/mem.h"
#include "crypto/crypto.h"

#include <string.h>

/*
 * A fixed 2048-bit key (PKCS#8 DER, base64) and the RS256 signature of KAT_MSG under it, made with
 * `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048` and
 * `openssl dgst -sha256 -sign key.der msg`. RSASSA-PKCS1-v1_5 is deterministic, so signing KAT_MSG
 * must reproduce KAT_SIG byte for byte.
 */
static const char KAT_DER_B64[] =
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCVAMM2GaKEi77Sed00Ug8PEsgUNiK9Amp/3ChnCbdYfyNW"
    "HWZKIHAP8qWFQBicsEwn/yJ1kYaxbZrBSQSXVqu1E/8H8z0zeLkTqj3YigfgK9fM0Mj8soV+7Zylel3+mLRm6OrmFL8FpkYM"
    "8lsBkoN4iPcZP4SyUJiR3sLnA1fEhXl8iMAYWnGcHUyKIChF49EyGhBHwnunDYKmDcwfLaWjL0BXx4EXt94VrizRsalPuVRC"
    "KexaE2lDFVQkYTkPkSAEAT04qOZ3xxK1Mj/T7vdJiKkiZmmJDQTW4a70KLx8vFm2Bb6LgbygVpohR2NadBOlU3NYzSVDQNLN"
    "y9V+DY0BAgMBAAECggEAHE5Sx1pDV268x3tDHIdiOPjWbZCDNOjaloOaYUilPfiZG+jl37sdzsnHy/KLOmj7brW3NCJ7NgWe"
    "Wo2mg6GBaRrtXfNFcxvB/QxgR1yhdmKd0ljvdaHsXlqBYaZHaPBVhR9GUIMsbsRRlnAL/dZ5h1Jtrqw0ZzOMaFmrKPunlruC"
    "RQfpv7w6zjTp959jylpOJlxpQDLfSQVDy1z8navOIGixAA3wlpILzwEctICFgCdsOeoLz6Y0HHYCPVFsLClo66PO6PnOouV+"
    "iH04nzQHfaTz48RzRpHNFlT+OHF2ZaYq19yO2oyTXJZ2zCIwH3W/YSNrZPAQfy6xFG8L9XOCYQKBgQDJbZK1ZLVgKQbn1jG+"
    "NqUEr5kKJHRg6goZ/0NT/SEZ+mgW3m9B8MCLH9h25M9jsWil3Qr6IGSQqmhD1A7fejsVo9e6j7ofDdaJcGbuwOXYf3bbsPXv"
    "PgAT75KxUMTiX1jgm3wYSUSLcENtCYarLyncvC+5OHdTVDQ2DHosr8OIZQKBgQC9XyZt5rjL+zcf+QifZz/wpP70hip1ykkE"
    "DE+sBMJ8Bw9D8V4nyHLvvxREWO8PxcaTzRP4urCznJ8brY7QPG77GMvRRhiHPsGVcSGnwY36sFEFO/h0eUCZt4UudvDkSnMM"
    "k1Uo7fyWXwrsOidcYu8bQb8Vnvf8Tri2hF6wExnybQKBgEOsHnf2x8Dwx7MoETo4naQ/Yok3yimtN4uYaQRUrMRPjpzwSiy7"
    "N9UF8/Gt2cdCmUfwRXnXXDIGLlVrbzvBkwwoKZgyJXO9cHBoZQydnhroaARTJa0lBV2tRXlxC1SKeA+t7TkzlGXMZ7rAUpA8"
    "njHcv6PYxq4mQgxOkNVmj6jJAoGAOmXHQgjuX+j+XNu9Lvr2Gs2m2d0t5tkUnyz0vMVS/FBpArjCIl6MIya3p0QNpL2GuTl6"
    "uS9JInpgDnb9HXYle0VwRP7qvXo61Ezo5gSoNfB9a7HMso5Zv416gpOnQZ87z1r33gFV7UEt6x8b2D+iILOrq400SBg2mgJD"
    "+ORLEhkCgYEAvPhhoJ8rpEU0GK2JlvEOkBGf3MQcqsdayCcIdg4mpetFr0K4tqqLd19v4BtfO6zsEUKWeaDh0gKOjToGc5Ho"
    "hhYP19jupzWVMB6JrHoqHb/wz+NuNdWNX+DNjRgfLxr/Gh9npCoxw/OeiJo2afkNEn3oks/BwIxvxg8D6YWATU8="
    ;
static const char KAT_SIG_B64[] =
    "DfhJ7OGwEWRHR58N093/6oU+z5nVF3xBGMKh320jxRRbb4m/hJ+bmm/1+TEmL15p7xPb28YrR+Mnemv10HjGolqt4WtSRaHN"
    "IYy9NwHf8W/YyRuc16wDzoP6nSgmau4QKeXikMzX2o6tQ8cyO3jhi8AAyPI7ZgxB5TRjWMzoRrqyn8etZRYw7c52QpKJFWip"
    "MJQ6QT2H9ugBjm7IuSSAA7S4eKdr+acJfiLaiq9EvdQQtmMgrC7kcIrDtGiq25BF/t4RqYDUzcpQImbvHaNhGzBqIhnDlUcc"
    "QvVNfRYRuvVMzCV+8olksrPwaFB+t8an60WPkvBsk4ETyvrPs3PCOg=="
    ;
static const char KAT_MSG[] = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UifQ";

static struct ck_pkey *key_a; /* generated once: RSA generation is slow */
static struct ck_pkey *key_b;

static int setup(void **state)
{
    (void)state;
    if (ck_pkey_rsa_generate(2048, &key_a) != CK_OK || ck_pkey_rsa_generate(2048, &key_b) != CK_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ck_alloc_fail_after(0);
    ck_pkey_free(key_a);
    ck_pkey_free(key_b);
    return 0;
}

static struct ck_bytes b64(const char *s)
{
    struct ck_bytes b = {0};
    assert_int_equal(ck_b64_decode(s, strlen(s), &b.ptr, &b.len), 0);
    return b;
}

static struct ck_pkey *public_of(const struct ck_pkey *k)
{
    struct ck_bytes n = {0}, e = {0};
    struct ck_pkey *pub = NULL;
    assert_int_equal(ck_pkey_rsa_public(k, &n, &e), CK_OK);
    assert_int_equal(ck_pkey_rsa_from_public(n.ptr, n.len, e.ptr, e.len, &pub), CK_OK);
    ck_free(n.ptr);
    ck_free(e.ptr);
    return pub;
}

static void test_generate(void **state)
{
    (void)state;
    struct ck_pkey *k = (struct ck_pkey *)0x1;
    assert_int_equal(ck_pkey_bits(key_a), 2048);
    assert_int_equal(ck_pkey_bits(NULL), 0);
    assert_int_equal(ck_pkey_rsa_generate(1024, &k), CK_E_INVALID);
    assert_int_equal(ck_pkey_rsa_generate(512, &k), CK_E_INVALID);
    assert_int_equal(ck_pkey_rsa_generate(2047, &k), CK_E_INVALID);
    assert_int_equal(ck_pkey_rsa_generate(0, &k), CK_E_INVALID);
    assert_ptr_equal(k, (struct ck_pkey *)0x1);
    ck_pkey_free(NULL);
}

static void test_sign_verify(void **state)
{
    (void)state;
    static const char data[] = "header.payload";
    struct ck_bytes sig = {0};
    assert_int_equal(ck_rs256_sign(key_a, data, strlen(data), &sig), CK_OK);
    assert_int_equal(sig.len, 256);
    assert_int_equal(ck_rs256_verify(key_a, data, strlen(data), sig.ptr, sig.len), CK_OK);
    /* The public half alone verifies. */
    struct ck_pkey *pub = public_of(key_a);
    assert_int_equal(ck_rs256_verify(pub, data, strlen(data), sig.ptr, sig.len), CK_OK);
    /* Another key, altered data, altered signature, truncated or empty signature: CK_E_VERIFY. */
    assert_int_equal(ck_rs256_verify(key_b, data, strlen(data), sig.ptr, sig.len), CK_E_VERIFY);
    assert_int_equal(ck_rs256_verify(pub, "header.payloaD", strlen(data), sig.ptr, sig.len), CK_E_VERIFY);
    assert_int_equal(ck_rs256_verify(pub, data, strlen(data) - 1, sig.ptr, sig.len), CK_E_VERIFY);
    for (size_t i = 0; i < sig.len; i += 17) {
        sig.ptr[i] ^= 1;
        assert_int_equal(ck_rs256_verify(pub, data, strlen(data), sig.ptr, sig.len), CK_E_VERIFY);
        sig.ptr[i] ^= 1;
    }
    assert_int_equal(ck_rs256_verify(pub, data, strlen(data), sig.ptr, sig.len - 1), CK_E_VERIFY);
    assert_int_equal(ck_rs256_verify(pub, data, strlen(data), sig.ptr, 0), CK_E_VERIFY);
    uint8_t zeros[256] = {0};
    assert_int_equal(ck_rs256_verify(pub, data, strlen(data), zeros, sizeof(zeros)), CK_E_VERIFY);
    ck_pkey_free(pub);
    ck_free(sig.ptr);
}

static void test_rs256_known_answer(void **state)
{
    (void)state;
    struct ck_bytes der = b64(KAT_DER_B64), want = b64(KAT_SIG_B64), sig = {0};
    struct ck_pkey *k = NULL;
    assert_int_equal(ck_pkey_from_private_der(der.ptr, der.len, &k), CK_OK);
    assert_int_equal(ck_pkey_bits(k), 2048);
    assert_int_equal(ck_rs256_sign(k, KAT_MSG, strlen(KAT_MSG), &sig), CK_OK);
    assert_int_equal(sig.len, want.len);
    assert_memory_equal(sig.ptr, want.ptr, want.len);
    struct ck_pkey *pub = public_of(k);
    assert_int_equal(ck_rs256_verify(pub, KAT_MSG, strlen(KAT_MSG), want.ptr, want.len), CK_OK);
    ck_pkey_free(pub);
    ck_pkey_free(k);
    ck_free(sig.ptr);
    ck_free(want.ptr);
    ck_free(der.ptr);
}

static void test_private_der_round_trip(void **state)
{
    (void)state;
    struct ck_secret *der = NULL;
    struct ck_pkey *back = NULL;
    struct ck_bytes sig = {0};
    assert_int_equal(ck_pkey_private_der(key_a, &der), CK_OK);
    assert_true(ck_secret_len(der) > 1000);
    assert_int_equal(ck_pkey_from_private_der(ck_secret_ptr(der), ck_secret_len(der), &back), CK_OK);
    assert_int_equal(ck_pkey_bits(back), 2048);
    /* The restored key signs what the original verifies. */
    assert_int_equal(ck_rs256_sign(back, "m", 1, &sig), CK_OK);
    assert_int_equal(ck_rs256_verify(key_a, "m", 1, sig.ptr, sig.len), CK_OK);
    ck_free(sig.ptr);
    ck_pkey_free(back);
    ck_secret_free(der);
}

static void test_private_der_is_pkcs8(void **state)
{
    (void)state;
    /* PKCS#8 PrivateKeyInfo: SEQUENCE { INTEGER 0, SEQUENCE { OID rsaEncryption, NULL }, ... }.
     * A PKCS#1 RSAPrivateKey would have the modulus where the algorithm identifier belongs. */
    static const uint8_t rsa_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
    struct ck_secret *der = NULL;
    assert_int_equal(ck_pkey_private_der(key_a, &der), CK_OK);
    int seq = ck_secret_ptr(der)[0] == 0x30;
    int pkcs8 = memmem(ck_secret_ptr(der), 32, rsa_oid, sizeof(rsa_oid)) != NULL;
    ck_secret_free(der);
    assert_true(seq);
    assert_true(pkcs8);
}

static void test_private_der_garbage(void **state)
{
    (void)state;
    struct ck_pkey *k = (struct ck_pkey *)0x1;
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x00};
    assert_int_equal(ck_pkey_from_private_der(junk, sizeof(junk), &k), CK_E_CRYPTO);
    assert_int_equal(ck_pkey_from_private_der(junk, 0, &k), CK_E_CRYPTO);
    struct ck_bytes der = b64(KAT_DER_B64);
    assert_int_equal(ck_pkey_from_private_der(der.ptr, der.len / 2, &k), CK_E_CRYPTO);
    assert_ptr_equal(k, (struct ck_pkey *)0x1);
    ck_free(der.ptr);
}

static void test_public_round_trip(void **state)
{
    (void)state;
    struct ck_bytes n = {0}, e = {0}, n2 = {0}, e2 = {0};
    assert_int_equal(ck_pkey_rsa_public(key_a, &n, &e), CK_OK);
    assert_int_equal(n.len, 256);
    assert_true(n.ptr[0] & 0x80);
    assert_int_equal(e.len, 3);
    assert_memory_equal(e.ptr, ((const uint8_t[]){1, 0, 1}), 3);
    struct ck_pkey *pub = NULL;
    assert_int_equal(ck_pkey_rsa_from_public(n.ptr, n.len, e.ptr, e.len, &pub), CK_OK);
    assert_int_equal(ck_pkey_bits(pub), 2048);
    assert_int_equal(ck_pkey_rsa_public(pub, &n2, &e2), CK_OK);
    assert_int_equal(n2.len, n.len);
    assert_memory_equal(n2.ptr, n.ptr, n.len);
    assert_memory_equal(e2.ptr, e.ptr, e.len);
    /* A public key cannot sign or be serialised as a private key. */
    struct ck_bytes sig = {0};
    struct ck_secret *der = NULL;
    assert_int_not_equal(ck_rs256_sign(pub, "x", 1, &sig), CK_OK);
    assert_int_not_equal(ck_pkey_private_der(pub, &der), CK_OK);
    ck_pkey_free(pub);
    ck_free(n.ptr);
    ck_free(e.ptr);
    ck_free(n2.ptr);
    ck_free(e2.ptr);
}

static void test_public_refuses_small_moduli(void **state)
{
    (void)state;
    struct ck_pkey *pub = NULL;
    static const uint8_t e[] = {1, 0, 1};
    uint8_t n[512];
    memset(n, 0xc5, sizeof(n)); /* odd, top bit set */
    /* 1024 and 2040 bits: refused. */
    assert_int_not_equal(ck_pkey_rsa_from_public(n, 128, e, sizeof(e), &pub), CK_OK);
    assert_int_not_equal(ck_pkey_rsa_from_public(n, 255, e, sizeof(e), &pub), CK_OK);
    assert_null(pub);
    /* Exponent sizes. */
    struct ck_bytes kn = {0}, ke = {0};
    assert_int_equal(ck_pkey_rsa_public(key_a, &kn, &ke), CK_OK);
    assert_int_not_equal(ck_pkey_rsa_from_public(kn.ptr, kn.len, e, 0, &pub), CK_OK);
    uint8_t e9[9] = {1, 0, 0, 0, 0, 0, 0, 0, 1};
    assert_int_not_equal(ck_pkey_rsa_from_public(kn.ptr, kn.len, e9, sizeof(e9), &pub), CK_OK);
    assert_null(pub);
    ck_free(kn.ptr);
    ck_free(ke.ptr);
}

static void test_public_refuses_padded_small_modulus(void **state)
{
    (void)state;
    /* A 1024-bit modulus written as 256 bytes with 128 leading zero bytes (JWKS "n" values can
     * carry leading zeros) is still a 1024-bit key and must be refused. */
    struct ck_pkey *pub = NULL;
    static const uint8_t e[] = {1, 0, 1};
    uint8_t n[256];
    memset(n, 0, 128);
    memset(n + 128, 0xc5, 128);
    int rc = ck_pkey_rsa_from_public(n, sizeof(n), e, sizeof(e), &pub);
    if (rc == CK_OK) {
        int bits = ck_pkey_bits(pub);
        ck_pkey_free(pub);
        fail_msg("accepted a %d-bit RSA modulus", bits);
    }
}

/* EMSA-PKCS1-v1_5 encoding of SHA-256(data) for a 2048-bit modulus. */
static void emsa_pkcs1(const void *data, size_t n, uint8_t em[256])
{
    static const uint8_t prefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                     0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
    size_t tlen = sizeof(prefix) + 32;
    memset(em, 0xff, 256);
    em[0] = 0x00;
    em[1] = 0x01;
    em[256 - tlen - 1] = 0x00;
    memcpy(em + 256 - tlen, prefix, sizeof(prefix));
    ck_sha256(data, n, em + 256 - 32);
}

static void test_public_exponent_one_cannot_forge(void **state)
{
    (void)state;
    /* With e = 1 the "signature" is the encoded message itself: anyone could forge. Such a key
     * must be refused when built, or no signature under it may verify. */
    static const char data[] = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9";
    static const uint8_t e1[] = {1};
    struct ck_bytes n = {0}, e = {0};
    struct ck_pkey *pub = NULL;
    uint8_t em[256];
    assert_int_equal(ck_pkey_rsa_public(key_a, &n, &e), CK_OK);
    emsa_pkcs1(data, strlen(data), em);
    if (ck_pkey_rsa_from_public(n.ptr, n.len, e1, sizeof(e1), &pub) == CK_OK) {
        int rc = ck_rs256_verify(pub, data, strlen(data), em, sizeof(em));
        ck_pkey_free(pub);
        assert_int_equal(rc, CK_E_VERIFY);
    }
    ck_free(n.ptr);
    ck_free(e.ptr);
}

static void test_sign_nomem(void **state)
{
    (void)state;
    struct ck_bytes sig = {0};
    ck_alloc_fail_after(1);
    assert_int_equal(ck_rs256_sign(key_a, "x", 1, &sig), CK_E_NOMEM);
    assert_null(sig.ptr);
    struct ck_bytes n = {0}, e = {0};
    for (long i = 1; i <= 2; i++) {
        ck_alloc_fail_after(i);
        assert_int_equal(ck_pkey_rsa_public(key_a, &n, &e), CK_E_NOMEM);
        assert_null(n.ptr);
        assert_null(e.ptr);
    }
    struct ck_secret *der = NULL;
    ck_alloc_fail_after(1);
    assert_int_equal(ck_pkey_private_der(key_a, &der), CK_E_NOMEM);
    ck_alloc_fail_after(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_rs256_known_answer),
        cmocka_unit_test(test_private_der_round_trip),
        cmocka_unit_test(test_private_der_is_pkcs8),
        cmocka_unit_test(test_private_der_garbage),
        cmocka_unit_test(test_public_round_trip),
        cmocka_unit_test(test_public_refuses_small_moduli),
        cmocka_unit_test(test_public_refuses_padded_small_modulus),
        cmocka_unit_test(test_public_exponent_one_cannot_forge),
        cmocka_unit_test(test_sign_nomem),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
