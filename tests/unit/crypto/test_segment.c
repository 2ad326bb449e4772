/* SPDX-License-Identifier: Apache-2.0 */
/* CKB1 segments (src/crypto/segment.c): HKDF known answers (RFC 5869), round trips, and every
 * tampering the format must catch: a flipped byte, swapped or dropped segments, a changed header
 * field, a part read as another blob's, a wrong AEK. Also MD5 known answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/codec.h"
#include "core/mem.h"
#include "crypto/segment.h"

#include <string.h>

static void expect_hex(const uint8_t *got, size_t n, const char *want)
{
    char *h = ck_hex_encode(got, n);
    assert_non_null(h);
    assert_string_equal(h, want);
    ck_free(h);
}

static void test_hkdf_rfc5869(void **state)
{
    (void)state;
    uint8_t ikm[22], salt[13], info[10], okm[42];
    memset(ikm, 0x0b, sizeof(ikm));
    for (int i = 0; i < 13; i++)
        salt[i] = (uint8_t)i;
    for (int i = 0; i < 10; i++)
        info[i] = (uint8_t)(0xf0 + i);
    assert_int_equal(ck_hkdf_sha256(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info), okm, sizeof(okm)), CK_OK);
    expect_hex(okm, sizeof(okm),
               "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    /* Test case 3: no salt, no info. */
    assert_int_equal(ck_hkdf_sha256(ikm, sizeof(ikm), NULL, 0, "", 0, okm, sizeof(okm)), CK_OK);
    expect_hex(okm, sizeof(okm),
               "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

static void test_md5(void **state)
{
    (void)state;
    uint8_t d[16];
    struct ck_md5 *m = ck_md5_new();
    assert_non_null(m);
    ck_md5_update(m, "a", 1);
    ck_md5_update(m, "bc", 2);
    ck_md5_final(m, d);
    expect_hex(d, 16, "900150983cd24fb0d6963f7d28e17f72");
}

struct part {
    struct ck_seg_header h;
    uint8_t *file;
    size_t size;
};

static struct ck_secret *test_aek(uint8_t fill)
{
    uint8_t k[32];
    memset(k, fill, sizeof(k));
    return ck_secret_from(k, sizeof(k));
}

static void seal_part(const struct ck_secret *aek, const char *blob, const uint8_t *pt, uint64_t len, uint32_t seg,
                      struct part *p)
{
    struct ck_seg *s = NULL;
    memset(&p->h, 0, sizeof(p->h));
    p->h.seg_size = seg;
    p->h.length = len;
    memset(p->h.part_id, 0x11, sizeof(p->h.part_id));
    memset(p->h.salt, 0x22, sizeof(p->h.salt));
    p->size = (size_t)ck_seg_file_size(&p->h);
    p->file = ck_calloc(1, p->size);
    assert_non_null(p->file);
    ck_seg_header_encode(&p->h, p->file);
    assert_int_equal(ck_seg_new(aek, &p->h, "acct", "cont", blob, &s), CK_OK);
    for (uint64_t i = 0; i < ck_seg_count(&p->h); i++) {
        size_t n = ck_seg_plain_len(&p->h, i);
        assert_int_equal(ck_seg_seal(s, i, pt + i * seg, n, p->file + ck_seg_offset(&p->h, i)), CK_OK);
    }
    ck_seg_free(s);
}

/* Opens every segment of file as part of blob; returns CK_OK when all verify and match pt. */
static int open_part(const struct ck_secret *aek, const char *blob, const uint8_t *file, size_t size, const uint8_t *pt)
{
    struct ck_seg_header h;
    struct ck_seg *s = NULL;
    int rc;
    if (size < CK_SEG_HEADER_LEN || ck_seg_header_decode(file, &h) != CK_OK || ck_seg_file_size(&h) != size)
        return CK_E_CRYPTO;
    if ((rc = ck_seg_new(aek, &h, "acct", "cont", blob, &s)) != CK_OK)
        return rc;
    uint8_t *out = ck_malloc(h.seg_size);
    for (uint64_t i = 0; rc == CK_OK && i < ck_seg_count(&h); i++) {
        size_t n = ck_seg_plain_len(&h, i);
        rc = ck_seg_open(s, i, file + ck_seg_offset(&h, i), n + CK_SEG_TAG_LEN, out);
        if (rc == CK_OK && pt != NULL && memcmp(out, pt + i * h.seg_size, n) != 0)
            rc = CK_E_CRYPTO;
    }
    ck_free(out);
    ck_seg_free(s);
    return rc;
}

static void test_round_trip_sizes(void **state)
{
    (void)state;
    struct ck_secret *aek = test_aek(7);
    uint8_t pt[5000];
    for (size_t i = 0; i < sizeof(pt); i++)
        pt[i] = (uint8_t)(i * 31);
    const uint64_t lens[] = {0, 1, 1023, 1024, 1025, 4096, 5000};
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        struct part p;
        seal_part(aek, "b", pt, lens[k], 1024, &p);
        assert_int_equal(p.size, CK_SEG_HEADER_LEN + lens[k] + CK_SEG_TAG_LEN * ck_seg_count(&p.h));
        assert_int_equal(open_part(aek, "b", p.file, p.size, pt), CK_OK);
        /* The plaintext does not appear in the file. */
        if (lens[k] >= 16)
            assert_null(memmem(p.file, p.size, pt + 1, 15));
        ck_free(p.file);
    }
    ck_secret_free(aek);
}

static void test_tamper_every_byte(void **state)
{
    (void)state;
    struct ck_secret *aek = test_aek(7);
    uint8_t pt[300];
    struct part p;
    memset(pt, 'x', sizeof(pt));
    seal_part(aek, "b", pt, sizeof(pt), 128, &p);
    for (size_t i = 0; i < p.size; i++) {
        p.file[i] ^= 0x01;
        assert_int_not_equal(open_part(aek, "b", p.file, p.size, pt), CK_OK);
        p.file[i] ^= 0x01;
    }
    assert_int_equal(open_part(aek, "b", p.file, p.size, pt), CK_OK);
    ck_free(p.file);
    ck_secret_free(aek);
}

static void test_swap_truncate_extend(void **state)
{
    (void)state;
    struct ck_secret *aek = test_aek(7);
    uint8_t pt[512];
    struct part p;
    memset(pt, 'y', sizeof(pt)); /* equal plaintext in every segment: only position binds them */
    seal_part(aek, "b", pt, sizeof(pt), 128, &p);
    size_t seg = 128 + CK_SEG_TAG_LEN;
    uint8_t tmp[128 + CK_SEG_TAG_LEN];
    /* Swap segments 0 and 1. */
    memcpy(tmp, p.file + CK_SEG_HEADER_LEN, seg);
    memcpy(p.file + CK_SEG_HEADER_LEN, p.file + CK_SEG_HEADER_LEN + seg, seg);
    memcpy(p.file + CK_SEG_HEADER_LEN + seg, tmp, seg);
    assert_int_not_equal(open_part(aek, "b", p.file, p.size, pt), CK_OK);
    memcpy(p.file + CK_SEG_HEADER_LEN + seg, p.file + CK_SEG_HEADER_LEN, seg);
    memcpy(p.file + CK_SEG_HEADER_LEN, tmp, seg);
    assert_int_equal(open_part(aek, "b", p.file, p.size, pt), CK_OK);
    /* Drop the last segment and claim the shorter length: the new last segment is not final. */
    struct ck_seg_header h = p.h;
    h.length = 384;
    ck_seg_header_encode(&h, p.file);
    assert_int_not_equal(open_part(aek, "b", p.file, p.size - seg, NULL), CK_OK);
    /* Keep the file but change only the length: every AAD changes. */
    assert_int_not_equal(open_part(aek, "b", p.file, (size_t)ck_seg_file_size(&h), NULL), CK_OK);
    ck_seg_header_encode(&p.h, p.file);
    /* Extend: a copy of segment 3 appended, length raised. */
    uint8_t *big = ck_calloc(1, p.size + seg);
    memcpy(big, p.file, p.size);
    memcpy(big + p.size, p.file + p.size - seg, seg);
    h = p.h;
    h.length = 640;
    ck_seg_header_encode(&h, big);
    assert_int_not_equal(open_part(aek, "b", big, p.size + seg, NULL), CK_OK);
    ck_free(big);
    ck_free(p.file);
    ck_secret_free(aek);
}

static void test_bound_to_blob_and_key(void **state)
{
    (void)state;
    struct ck_secret *aek = test_aek(7), *other = test_aek(8);
    uint8_t pt[200];
    struct part p;
    memset(pt, 'z', sizeof(pt));
    seal_part(aek, "b", pt, sizeof(pt), 64, &p);
    assert_int_not_equal(open_part(aek, "c", p.file, p.size, pt), CK_OK);
    assert_int_not_equal(open_part(other, "b", p.file, p.size, pt), CK_OK);
    /* A part moved between blobs whose names only differ in where the separator falls. */
    struct ck_seg *s = NULL;
    uint8_t out[64];
    assert_int_equal(ck_seg_new(aek, &p.h, "acc", "tcont", "b", &s), CK_OK);
    assert_int_not_equal(ck_seg_open(s, 0, p.file + CK_SEG_HEADER_LEN, 64 + CK_SEG_TAG_LEN, out), CK_OK);
    ck_seg_free(s);
    ck_free(p.file);
    ck_secret_free(aek);
    ck_secret_free(other);
}

static void test_bad_headers(void **state)
{
    (void)state;
    struct ck_seg_header h = {.seg_size = 1024, .length = 10};
    uint8_t buf[CK_SEG_HEADER_LEN];
    struct ck_seg_header out;
    ck_seg_header_encode(&h, buf);
    assert_int_equal(ck_seg_header_decode(buf, &out), CK_OK);
    const size_t flips[] = {0, 4, 5, 6, 12};
    for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
        buf[flips[i]] ^= 0x40;
        assert_int_not_equal(ck_seg_header_decode(buf, &out), CK_OK);
        buf[flips[i]] ^= 0x40;
    }
    h.seg_size = 0;
    ck_seg_header_encode(&h, buf);
    assert_int_not_equal(ck_seg_header_decode(buf, &out), CK_OK);
    h.seg_size = CK_SEG_MAX_SIZE + 1;
    ck_seg_header_encode(&h, buf);
    assert_int_not_equal(ck_seg_header_decode(buf, &out), CK_OK);
    struct ck_secret *short_key = ck_secret_from("short", 5);
    struct ck_seg *s = NULL;
    h.seg_size = 1024;
    assert_int_equal(ck_seg_new(short_key, &h, "a", "c", "b", &s), CK_E_INVALID);
    ck_secret_free(short_key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hkdf_rfc5869),       cmocka_unit_test(test_md5),
        cmocka_unit_test(test_round_trip_sizes),   cmocka_unit_test(test_tamper_every_byte),
        cmocka_unit_test(test_swap_truncate_extend), cmocka_unit_test(test_bound_to_blob_and_key),
        cmocka_unit_test(test_bad_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
