/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CKB1 segments (docs/data-format.md): HKDF-SHA256 key derivation, AES-256-GCM per segment with a
 * counter nonce and an AAD of header, index and final flag. One cipher context per part, keyed
 * once; each segment only sets a new nonce.
 */
#include "crypto/segment.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <string.h>

#define CK_SEG_MAGIC "CKB1"
#define CK_SEG_VERSION 1
#define CK_SEG_ALG 1
#define CK_SEG_INFO "crosskey/blob-dek/v1"

struct ck_seg {
    struct ck_seg_header h;
    uint8_t header[CK_SEG_HEADER_LEN];
    uint64_t count;
    EVP_CIPHER_CTX *enc, *dec;
    struct ck_secret *dek;
};

static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void ck_seg_header_encode(const struct ck_seg_header *h, uint8_t out[CK_SEG_HEADER_LEN])
{
    memset(out, 0, CK_SEG_HEADER_LEN);
    memcpy(out, CK_SEG_MAGIC, 4);
    out[4] = CK_SEG_VERSION;
    out[5] = CK_SEG_ALG;
    put_be32(out + 8, h->seg_size);
    put_be64(out + 16, h->length);
    memcpy(out + 24, h->part_id, CK_SEG_ID_LEN);
    memcpy(out + 40, h->salt, CK_SEG_SALT_LEN);
}

int ck_seg_header_decode(const uint8_t in[CK_SEG_HEADER_LEN], struct ck_seg_header *h)
{
    static const uint8_t zero[4] = {0};
    if (memcmp(in, CK_SEG_MAGIC, 4) != 0 || in[4] != CK_SEG_VERSION || in[5] != CK_SEG_ALG || in[6] != 0 ||
        in[7] != 0 || memcmp(in + 12, zero, 4) != 0)
        return CK_E_CRYPTO;
    h->seg_size = get_be32(in + 8);
    h->length = get_be64(in + 16);
    if (h->seg_size == 0 || h->seg_size > CK_SEG_MAX_SIZE || h->length > (UINT64_C(1) << 50))
        return CK_E_CRYPTO;
    memcpy(h->part_id, in + 24, CK_SEG_ID_LEN);
    memcpy(h->salt, in + 40, CK_SEG_SALT_LEN);
    return CK_OK;
}

uint64_t ck_seg_count(const struct ck_seg_header *h)
{
    if (h->length == 0)
        return 1;
    return (h->length + h->seg_size - 1) / h->seg_size;
}

size_t ck_seg_plain_len(const struct ck_seg_header *h, uint64_t i)
{
    uint64_t n = ck_seg_count(h);
    if (i + 1 < n)
        return h->seg_size;
    return (size_t)(h->length - (n - 1) * h->seg_size);
}

uint64_t ck_seg_offset(const struct ck_seg_header *h, uint64_t i)
{
    return CK_SEG_HEADER_LEN + i * ((uint64_t)h->seg_size + CK_SEG_TAG_LEN);
}

uint64_t ck_seg_file_size(const struct ck_seg_header *h)
{
    return CK_SEG_HEADER_LEN + h->length + ck_seg_count(h) * CK_SEG_TAG_LEN;
}

int ck_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt, size_t saltlen, const void *info,
                   size_t infolen, uint8_t *out, size_t outlen)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[5], *p = params;
    int rc = CK_E_CRYPTO;
    EVP_KDF_free(kdf);
    if (kctx == NULL)
        return CK_E_CRYPTO;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen);
    if (saltlen > 0)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
    *p = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(kctx, out, outlen, params) == 1)
        rc = CK_OK;
    EVP_KDF_CTX_free(kctx);
    return rc;
}

/* Appends a u16 big-endian length and the string; returns the new offset or 0 when it does not fit. */
static size_t seg_put_str(uint8_t *buf, size_t off, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n > 0xffff || off + 2 + n > cap)
        return 0;
    buf[off] = (uint8_t)(n >> 8);
    buf[off + 1] = (uint8_t)n;
    memcpy(buf + off + 2, s, n);
    return off + 2 + n;
}

int ck_seg_new(const struct ck_secret *aek, const struct ck_seg_header *h, const char *account,
               const char *container, const char *blob, struct ck_seg **out)
{
    uint8_t info[sizeof(CK_SEG_INFO) + CK_SEG_ID_LEN + 3 * 2 + 64 + 64 + 4096];
    size_t off = sizeof(CK_SEG_INFO); /* the label and its NUL separator */
    struct ck_seg *s;
    int rc = CK_E_CRYPTO;
    if (ck_secret_len(aek) != 32 || h->seg_size == 0 || h->seg_size > CK_SEG_MAX_SIZE)
        return CK_E_INVALID;
    memcpy(info, CK_SEG_INFO, sizeof(CK_SEG_INFO));
    memcpy(info + off, h->part_id, CK_SEG_ID_LEN);
    off += CK_SEG_ID_LEN;
    if ((off = seg_put_str(info, off, sizeof(info), account)) == 0 ||
        (off = seg_put_str(info, off, sizeof(info), container)) == 0 ||
        (off = seg_put_str(info, off, sizeof(info), blob)) == 0)
        return CK_E_INVALID;
    s = ck_calloc(1, sizeof(*s));
    if (s == NULL)
        return CK_E_NOMEM;
    s->h = *h;
    s->count = ck_seg_count(h);
    ck_seg_header_encode(h, s->header);
    s->dek = ck_secret_new(32);
    s->enc = EVP_CIPHER_CTX_new();
    s->dec = EVP_CIPHER_CTX_new();
    if (s->dek == NULL || s->enc == NULL || s->dec == NULL) {
        rc = CK_E_NOMEM;
        goto fail;
    }
    if (ck_hkdf_sha256(ck_secret_ptr(aek), 32, h->salt, CK_SEG_SALT_LEN, info, off, ck_secret_ptr(s->dek), 32) != CK_OK)
        goto fail;
    if (EVP_EncryptInit_ex(s->enc, EVP_aes_256_gcm(), NULL, ck_secret_ptr(s->dek), NULL) != 1 ||
        EVP_DecryptInit_ex(s->dec, EVP_aes_256_gcm(), NULL, ck_secret_ptr(s->dek), NULL) != 1)
        goto fail;
    *out = s;
    return CK_OK;
fail:
    ck_seg_free(s);
    return rc;
}

void ck_seg_free(struct ck_seg *s)
{
    if (s == NULL)
        return;
    EVP_CIPHER_CTX_free(s->enc);
    EVP_CIPHER_CTX_free(s->dec);
    ck_secret_free(s->dek);
    ck_free(s);
}

static void seg_nonce_aad(const struct ck_seg *s, uint64_t i, uint8_t nonce[12], uint8_t aad[CK_SEG_HEADER_LEN + 9])
{
    memset(nonce, 0, 4);
    put_be64(nonce + 4, i);
    memcpy(aad, s->header, CK_SEG_HEADER_LEN);
    put_be64(aad + CK_SEG_HEADER_LEN, i);
    aad[CK_SEG_HEADER_LEN + 8] = (uint8_t)(i + 1 == s->count);
}

int ck_seg_seal(struct ck_seg *s, uint64_t i, const uint8_t *pt, size_t n, uint8_t *out)
{
    uint8_t nonce[12], aad[CK_SEG_HEADER_LEN + 9];
    int len;
    if (i >= s->count || n != ck_seg_plain_len(&s->h, i))
        return CK_E_INVALID;
    seg_nonce_aad(s, i, nonce, aad);
    if (EVP_EncryptInit_ex(s->enc, NULL, NULL, NULL, nonce) != 1 ||
        EVP_EncryptUpdate(s->enc, NULL, &len, aad, (int)sizeof(aad)) != 1 ||
        (n > 0 && EVP_EncryptUpdate(s->enc, out, &len, pt, (int)n) != 1) ||
        EVP_EncryptFinal_ex(s->enc, out + n, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(s->enc, EVP_CTRL_GCM_GET_TAG, CK_SEG_TAG_LEN, out + n) != 1)
        return CK_E_CRYPTO;
    return CK_OK;
}

int ck_seg_open(struct ck_seg *s, uint64_t i, const uint8_t *in, size_t inlen, uint8_t *out)
{
    uint8_t nonce[12], aad[CK_SEG_HEADER_LEN + 9];
    size_t n;
    int len;
    if (i >= s->count || inlen < CK_SEG_TAG_LEN)
        return CK_E_CRYPTO;
    n = inlen - CK_SEG_TAG_LEN;
    if (n != ck_seg_plain_len(&s->h, i))
        return CK_E_CRYPTO;
    seg_nonce_aad(s, i, nonce, aad);
    if (EVP_DecryptInit_ex(s->dec, NULL, NULL, NULL, nonce) != 1 ||
        EVP_DecryptUpdate(s->dec, NULL, &len, aad, (int)sizeof(aad)) != 1 ||
        (n > 0 && EVP_DecryptUpdate(s->dec, out, &len, in, (int)n) != 1) ||
        EVP_CIPHER_CTX_ctrl(s->dec, EVP_CTRL_GCM_SET_TAG, CK_SEG_TAG_LEN, (void *)(in + n)) != 1 ||
        EVP_DecryptFinal_ex(s->dec, out + n, &len) != 1) {
        ck_wipe(out, n);
        return CK_E_CRYPTO;
    }
    return CK_OK;
}

struct ck_md5 {
    EVP_MD_CTX *ctx;
};

struct ck_md5 *ck_md5_new(void)
{
    struct ck_md5 *m = ck_calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->ctx = EVP_MD_CTX_new();
    if (m->ctx == NULL || EVP_DigestInit_ex(m->ctx, EVP_md5(), NULL) != 1) {
        ck_md5_free(m);
        return NULL;
    }
    return m;
}

void ck_md5_update(struct ck_md5 *m, const void *p, size_t n)
{
    EVP_DigestUpdate(m->ctx, p, n);
}

void ck_md5_final(struct ck_md5 *m, uint8_t out[16])
{
    unsigned int len = 16;
    EVP_DigestFinal_ex(m->ctx, out, &len);
    ck_md5_free(m);
}

void ck_md5_free(struct ck_md5 *m)
{
    if (m == NULL)
        return;
    EVP_MD_CTX_free(m->ctx);
    ck_free(m);
}
