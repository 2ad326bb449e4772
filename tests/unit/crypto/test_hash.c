/* SPDX-License-Identifier: Apache-2.0 */
/* Known answers for src/crypto/crypto.c hashes: SHA-256 and SHA-1 (FIPS 180-4 examples), HMAC-SHA256
 * (RFC 4231 test cases 1, 2, 3, 6, 7), and the secret hash construction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/codec.h"
#include "core/mem.h"
#include "crypto/crypto.h"

#include <string.h>

static void expect_hex(const uint8_t *got, size_t n, const char *want)
{
    char *h = ck_hex_encode(got, n);
    assert_non_null(h);
    assert_string_equal(h, want);
    ck_free(h);
}

static const char abc448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

static void test_sha256_fips180(void **state)
{
    (void)state;
    uint8_t d[CK_SHA256_LEN];
    ck_sha256("abc", 3, d);
    expect_hex(d, sizeof(d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_sha256("", 0, d);
    expect_hex(d, sizeof(d), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ck_sha256(abc448, strlen(abc448), d);
    expect_hex(d, sizeof(d), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char *million = ck_malloc(1000000);
    memset(million, 'a', 1000000);
    ck_sha256(million, 1000000, d);
    expect_hex(d, sizeof(d), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    ck_free(million);
}

static void test_sha1_fips180(void **state)
{
    (void)state;
    uint8_t d[CK_SHA1_LEN];
    ck_sha1("abc", 3, d);
    expect_hex(d, sizeof(d), "a9993e364706816aba3e25717850c26c9cd0d89d");
    ck_sha1("", 0, d);
    expect_hex(d, sizeof(d), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    ck_sha1(abc448, strlen(abc448), d);
    expect_hex(d, sizeof(d), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

static void test_hmac_sha256_rfc4231(void **state)
{
    (void)state;
    uint8_t d[CK_SHA256_LEN];
    uint8_t k20[20], kaa131[131], dd50[50];

    memset(k20, 0x0b, sizeof(k20));
    assert_int_equal(ck_hmac_sha256(k20, sizeof(k20), "Hi There", 8, d), CK_OK);
    expect_hex(d, sizeof(d), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    assert_int_equal(ck_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d), CK_OK);
    expect_hex(d, sizeof(d), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    memset(k20, 0xaa, sizeof(k20));
    memset(dd50, 0xdd, sizeof(dd50));
    assert_int_equal(ck_hmac_sha256(k20, sizeof(k20), dd50, sizeof(dd50), d), CK_OK);
    expect_hex(d, sizeof(d), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");

    memset(kaa131, 0xaa, sizeof(kaa131));
    static const char tc6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
    assert_int_equal(ck_hmac_sha256(kaa131, sizeof(kaa131), tc6, strlen(tc6), d), CK_OK);
    expect_hex(d, sizeof(d), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

    static const char tc7[] = "This is a test using a larger than block-size key and a larger than block-size data. "
                              "The key needs to be hashed before being used by the HMAC algorithm.";
    assert_int_equal(ck_hmac_sha256(kaa131, sizeof(kaa131), tc7, strlen(tc7), d), CK_OK);
    expect_hex(d, sizeof(d), "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void test_secret_hash(void **state)
{
    (void)state;
    uint8_t salt[CK_SECRET_SALT_LEN], salt2[CK_SECRET_SALT_LEN];
    uint8_t a[CK_SHA256_LEN], b[CK_SHA256_LEN], ref[CK_SHA256_LEN];
    for (int i = 0; i < CK_SECRET_SALT_LEN; i++) {
        salt[i] = (uint8_t)i;
        salt2[i] = (uint8_t)(i + 1);
    }
    /* Deterministic. */
    ck_secret_hash("client-secret", salt, "s3cr3t", 6, a);
    ck_secret_hash("client-secret", salt, "s3cr3t", 6, b);
    assert_memory_equal(a, b, sizeof(a));
    /* The documented construction: SHA-256(label || 0x00 || salt || secret). */
    uint8_t msg[64];
    size_t o = 0;
    memcpy(msg, "client-secret", 13);
    o = 13;
    msg[o++] = 0;
    memcpy(msg + o, salt, sizeof(salt));
    o += sizeof(salt);
    memcpy(msg + o, "s3cr3t", 6);
    o += 6;
    ck_sha256(msg, o, ref);
    assert_memory_equal(a, ref, sizeof(a));
    /* Label, salt and secret each change the result. */
    ck_secret_hash("identity-header", salt, "s3cr3t", 6, b);
    assert_memory_not_equal(a, b, sizeof(a));
    ck_secret_hash("client-secret", salt2, "s3cr3t", 6, b);
    assert_memory_not_equal(a, b, sizeof(a));
    ck_secret_hash("client-secret", salt, "s3cr3u", 6, b);
    assert_memory_not_equal(a, b, sizeof(a));
    /* Label separation: moving bytes between label and secret changes the hash. */
    ck_secret_hash("ab", salt, "c", 1, a);
    ck_secret_hash("a", salt, "bc", 2, b);
    assert_memory_not_equal(a, b, sizeof(a));
    ck_secret_hash("a", salt, "", 0, a);
    ck_secret_hash("", salt, "a", 1, b);
    assert_memory_not_equal(a, b, sizeof(a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_fips180),
        cmocka_unit_test(test_sha1_fips180),
        cmocka_unit_test(test_hmac_sha256_rfc4231),
        cmocka_unit_test(test_secret_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
