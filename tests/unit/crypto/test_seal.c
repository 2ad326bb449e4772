/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for ck_seal/ck_open (AES-256-GCM under a master key): round trips, the sealed layout, and
 * refusal with one opaque error when any byte, the aad or the key is wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/mem.h"
#include "core/secret.h"
#include "crypto/crypto.h"
#include "crypto/random.h"

#include <string.h>

static struct ck_secret *key;
static struct ck_secret *key2;

static int setup(void **state)
{
    (void)state;
    if (ck_rand_secret(CK_SEAL_KEY_LEN, &key) != CK_OK || ck_rand_secret(CK_SEAL_KEY_LEN, &key2) != CK_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ck_alloc_fail_after(0);
    ck_secret_free(key);
    ck_secret_free(key2);
    return 0;
}

static void seal_ok(const char *aad, const void *pt, size_t ptlen, uint8_t **out, size_t *outlen)
{
    assert_int_equal(ck_seal(key, aad, aad ? strlen(aad) : 0, pt, ptlen, out, outlen), CK_OK);
}

static void test_round_trip(void **state)
{
    (void)state;
    static const char *aads[] = {NULL, "", "account=a1;blob=b1"};
    size_t lens[] = {0, 1, 15, 16, 17, 1000, 65536};
    for (size_t ai = 0; ai < 3; ai++) {
        for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
            uint8_t *pt = ck_malloc(lens[li]);
            uint8_t *sealed = NULL;
            size_t sealedlen = 0;
            struct ck_secret *opened = NULL;
            for (size_t i = 0; i < lens[li]; i++)
                pt[i] = (uint8_t)(i * 31 + 7);
            seal_ok(aads[ai], pt, lens[li], &sealed, &sealedlen);
            assert_int_equal(sealedlen, lens[li] + CK_SEAL_OVERHEAD);
            assert_memory_equal(sealed, "ck1", 3);
            if (lens[li] >= 16) /* the plaintext does not appear in the sealed form */
                assert_null(memmem(sealed, sealedlen, pt, 16));
            const char *aad = aads[ai];
            assert_int_equal(ck_open(key, aad, aad ? strlen(aad) : 0, sealed, sealedlen, &opened), CK_OK);
            assert_int_equal(ck_secret_len(opened), lens[li]);
            if (lens[li] > 0)
                assert_memory_equal(ck_secret_ptr(opened), pt, lens[li]);
            ck_secret_free(opened);
            ck_free(sealed);
            ck_free(pt);
        }
    }
}

static void test_nonce_fresh(void **state)
{
    (void)state;
    uint8_t *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    seal_ok("x", "same", 4, &a, &al);
    seal_ok("x", "same", 4, &b, &bl);
    assert_int_equal(al, bl);
    assert_memory_not_equal(a + 3, b + 3, 12); /* nonces differ */
    assert_memory_not_equal(a, b, al);
    ck_free(a);
    ck_free(b);
}

static void test_tamper_every_byte(void **state)
{
    (void)state;
    static const char aad[] = "vault=v1;key=k1";
    uint8_t *sealed = NULL;
    size_t n = 0;
    struct ck_secret *pt = (struct ck_secret *)0x1;
    seal_ok(aad, "wrapped key material", 20, &sealed, &n);
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            sealed[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(ck_open(key, aad, strlen(aad), sealed, n, &pt), CK_E_CRYPTO);
            assert_ptr_equal(pt, (struct ck_secret *)0x1); /* no output on failure */
            sealed[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* Truncation and extension. */
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(ck_open(key, aad, strlen(aad), sealed, cut, &pt), CK_E_CRYPTO);
    uint8_t *longer = ck_malloc(n + 1);
    memcpy(longer, sealed, n);
    longer[n] = 0;
    assert_int_equal(ck_open(key, aad, strlen(aad), longer, n + 1, &pt), CK_E_CRYPTO);
    ck_free(longer);
    /* Untouched, it still opens. */
    assert_int_equal(ck_open(key, aad, strlen(aad), sealed, n, &pt), CK_OK);
    ck_secret_free(pt);
    ck_free(sealed);
}

static void test_wrong_aad_or_key(void **state)
{
    (void)state;
    static const char aad[] = "account=a1";
    uint8_t *sealed = NULL;
    size_t n = 0;
    struct ck_secret *pt = NULL;
    seal_ok(aad, "data", 4, &sealed, &n);
    assert_int_equal(ck_open(key, "account=a2", 10, sealed, n, &pt), CK_E_CRYPTO);
    assert_int_equal(ck_open(key, aad, strlen(aad) - 1, sealed, n, &pt), CK_E_CRYPTO);
    assert_int_equal(ck_open(key, NULL, 0, sealed, n, &pt), CK_E_CRYPTO);
    assert_int_equal(ck_open(key2, aad, strlen(aad), sealed, n, &pt), CK_E_CRYPTO);
    /* A key differing in one bit. */
    struct ck_secret *k3 = ck_secret_from(ck_secret_ptr(key), CK_SEAL_KEY_LEN);
    ck_secret_ptr(k3)[31] ^= 0x80;
    assert_int_equal(ck_open(k3, aad, strlen(aad), sealed, n, &pt), CK_E_CRYPTO);
    ck_secret_free(k3);
    ck_free(sealed);

    /* Sealed without aad, opened with some. */
    seal_ok(NULL, "data", 4, &sealed, &n);
    assert_int_equal(ck_open(key, "x", 1, sealed, n, &pt), CK_E_CRYPTO);
    assert_int_equal(ck_open(key, "", 0, sealed, n, &pt), CK_OK);
    ck_secret_free(pt);
    ck_free(sealed);
}

static void test_bad_key_length(void **state)
{
    (void)state;
    struct ck_secret *short_key = ck_secret_new(16);
    uint8_t *out = NULL;
    size_t outlen = 0;
    struct ck_secret *pt = NULL;
    assert_int_equal(ck_seal(short_key, NULL, 0, "x", 1, &out, &outlen), CK_E_INVALID);
    assert_null(out);
    uint8_t junk[64] = {'c', 'k', '1'};
    assert_int_equal(ck_open(short_key, NULL, 0, junk, sizeof(junk), &pt), CK_E_CRYPTO);
    assert_null(pt);
    ck_secret_free(short_key);
    /* Wrong magic. */
    assert_int_equal(ck_open(key, NULL, 0, (const uint8_t *)"ck2xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 35, &pt),
                     CK_E_CRYPTO);
}

static void test_seal_nomem(void **state)
{
    (void)state;
    uint8_t *out = NULL;
    size_t outlen = 0;
    struct ck_secret *pt = NULL;
    ck_alloc_fail_after(1);
    assert_int_equal(ck_seal(key, NULL, 0, "x", 1, &out, &outlen), CK_E_NOMEM);
    assert_null(out);
    seal_ok(NULL, "x", 1, &out, &outlen);
    /* One allocation can fail: the secret's container (its bytes come from the locked pool). */
    for (long i = 1; i <= 1; i++) {
        ck_alloc_fail_after(i);
        assert_int_equal(ck_open(key, NULL, 0, out, outlen, &pt), CK_E_NOMEM);
        assert_null(pt);
    }
    ck_alloc_fail_after(0);
    assert_int_equal(ck_open(key, NULL, 0, out, outlen, &pt), CK_OK);
    ck_secret_free(pt);
    ck_free(out);
}

static void test_rand(void **state)
{
    (void)state;
    struct ck_secret *s = NULL;
    uint8_t a[32] = {0}, zero[32] = {0};
    assert_int_equal(ck_rand_secret(32, &s), CK_OK);
    assert_int_equal(ck_secret_len(s), 32);
    assert_memory_not_equal(ck_secret_ptr(s), zero, 32);
    assert_memory_not_equal(ck_secret_ptr(s), ck_secret_ptr(key), 32);
    ck_secret_free(s);
    assert_int_equal(ck_rand_bytes(a, sizeof(a)), CK_OK);
    assert_memory_not_equal(a, zero, sizeof(a));
    s = NULL;
    ck_alloc_fail_after(1);
    assert_int_equal(ck_rand_secret(32, &s), CK_E_NOMEM);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_nonce_fresh),
        cmocka_unit_test(test_tamper_every_byte),
        cmocka_unit_test(test_wrong_aad_or_key),
        cmocka_unit_test(test_bad_key_length),
        cmocka_unit_test(test_seal_nomem),
        cmocka_unit_test(test_rand),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
