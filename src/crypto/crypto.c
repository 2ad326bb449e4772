/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenSSL-backed primitives: SHA-1/256, HMAC, AES-256-GCM sealing, secret hashing, RSA keys and
 * RS256 signatures. OpenSSL objects never leave this directory; callers see opaque types.
 */
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <string.h>

/* OpenSSL 3 looks algorithms up in its providers on every EVP_sha256()-based init; fetching once
 * and reusing the handle removes that cost from every signature. */
static EVP_MD *ck_md_sha256_fetched;
static pthread_once_t ck_md_once = PTHREAD_ONCE_INIT;

static void ck_md_fetch(void)
{
    ck_md_sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *ck_md_sha256(void)
{
    pthread_once(&ck_md_once, ck_md_fetch);
    return ck_md_sha256_fetched ? ck_md_sha256_fetched : EVP_sha256();
}

void ck_sha256(const void *p, size_t n, uint8_t out[CK_SHA256_LEN])
{
    unsigned int len = CK_SHA256_LEN;
    EVP_Digest(p, n, out, &len, ck_md_sha256(), NULL);
}

void ck_sha1(const void *p, size_t n, uint8_t out[CK_SHA1_LEN])
{
    unsigned int len = CK_SHA1_LEN;
    EVP_Digest(p, n, out, &len, EVP_sha1(), NULL);
}

int ck_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n, uint8_t out[CK_SHA256_LEN])
{
    unsigned int len = CK_SHA256_LEN;
    if (HMAC(EVP_sha256(), key, (int)keylen, p, n, out, &len) == NULL)
        return CK_E_CRYPTO;
    return CK_OK;
}

void ck_secret_hash(const char *label, const uint8_t salt[CK_SECRET_SALT_LEN], const void *secret,
                    size_t len, uint8_t out[CK_SHA256_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int olen = CK_SHA256_LEN;
    uint8_t zero = 0;
    if (ctx == NULL) {
        memset(out, 0, CK_SHA256_LEN);
        return;
    }
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, label, strlen(label));
    EVP_DigestUpdate(ctx, &zero, 1);
    EVP_DigestUpdate(ctx, salt, CK_SECRET_SALT_LEN);
    EVP_DigestUpdate(ctx, secret, len);
    EVP_DigestFinal_ex(ctx, out, &olen);
    EVP_MD_CTX_free(ctx);
}

/* ---- sealing ---- */

static const uint8_t ck_seal_magic[3] = {'c', 'k', '1'};

int ck_seal(const struct ck_secret *key, const void *aad, size_t aadlen, const void *pt, size_t ptlen,
            uint8_t **out, size_t *outlen)
{
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *buf = NULL;
    int len, rc = CK_E_CRYPTO;

    if (ck_secret_len(key) != CK_SEAL_KEY_LEN)
        return CK_E_INVALID;
    if (ptlen > (size_t)INT32_MAX)
        return CK_E_TOO_LARGE;
    buf = ck_malloc(ptlen + CK_SEAL_OVERHEAD);
    if (buf == NULL)
        return CK_E_NOMEM;
    memcpy(buf, ck_seal_magic, 3);
    if (RAND_bytes(buf + 3, 12) != 1)
        goto out;
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, ck_secret_ptr(key), buf + 3) != 1)
        goto out;
    if (aadlen > 0 && EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1)
        goto out;
    if (EVP_EncryptUpdate(ctx, buf + 15, &len, pt, (int)ptlen) != 1)
        goto out;
    if (EVP_EncryptFinal_ex(ctx, buf + 15 + len, &len) != 1)
        goto out;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, buf + 15 + ptlen) != 1)
        goto out;
    *out = buf;
    *outlen = ptlen + CK_SEAL_OVERHEAD;
    buf = NULL;
    rc = CK_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    ck_free(buf);
    return rc;
}

int ck_open(const struct ck_secret *key, const void *aad, size_t aadlen, const uint8_t *in, size_t inlen,
            struct ck_secret **pt)
{
    EVP_CIPHER_CTX *ctx = NULL;
    struct ck_secret *p = NULL;
    int len, rc = CK_E_CRYPTO;

    if (ck_secret_len(key) != CK_SEAL_KEY_LEN || inlen < CK_SEAL_OVERHEAD || memcmp(in, ck_seal_magic, 3) != 0)
        return CK_E_CRYPTO;
    size_t ctlen = inlen - CK_SEAL_OVERHEAD;
    p = ck_secret_new(ctlen);
    if (p == NULL)
        return CK_E_NOMEM;
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, ck_secret_ptr(key), in + 3) != 1)
        goto out;
    if (aadlen > 0 && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1)
        goto out;
    if (EVP_DecryptUpdate(ctx, ck_secret_ptr(p), &len, in + 15, (int)ctlen) != 1)
        goto out;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)(in + 15 + ctlen)) != 1)
        goto out;
    if (EVP_DecryptFinal_ex(ctx, ck_secret_ptr(p) + len, &len) != 1)
        goto out;
    *pt = p;
    p = NULL;
    rc = CK_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    ck_secret_free(p);
    return rc;
}

/* ---- asymmetric keys ---- */

void ck_pkey_free(struct ck_pkey *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey);
    ck_free(k);
}

struct ck_pkey *ck_pkey_wrap(EVP_PKEY *pk)
{
    struct ck_pkey *k = ck_calloc(1, sizeof(*k));
    if (k == NULL) {
        EVP_PKEY_free(pk);
        return NULL;
    }
    k->pkey = pk;
    return k;
}

struct ck_pkey *ck_pkey_dup(const struct ck_pkey *k)
{
    if (k == NULL || EVP_PKEY_up_ref(k->pkey) != 1)
        return NULL;
    return ck_pkey_wrap(k->pkey);
}

int ck_pkey_rsa_generate(int bits, struct ck_pkey **out)
{
    EVP_PKEY *pk = NULL;
    if (bits != 2048 && bits != 3072 && bits != 4096)
        return CK_E_INVALID;
    pk = EVP_RSA_gen((unsigned)bits);
    if (pk == NULL)
        return CK_E_CRYPTO;
    *out = ck_pkey_wrap(pk);
    return *out ? CK_OK : CK_E_NOMEM;
}

int ck_pkey_bits(const struct ck_pkey *k)
{
    return k ? EVP_PKEY_get_bits(k->pkey) : 0;
}

int ck_pkey_private_der(const struct ck_pkey *k, struct ck_secret **out)
{
    unsigned char *der = NULL;
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k->pkey);
    int len = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (len <= 0)
        return CK_E_CRYPTO;
    *out = ck_secret_from(der, (size_t)len);
    OPENSSL_clear_free(der, (size_t)len);
    return *out ? CK_OK : CK_E_NOMEM;
}

int ck_pkey_from_private_der(const uint8_t *der, size_t len, struct ck_pkey **out)
{
    const unsigned char *p = der;
    EVP_PKEY *pk = d2i_AutoPrivateKey(NULL, &p, (long)len);
    if (pk == NULL)
        return CK_E_CRYPTO;
    *out = ck_pkey_wrap(pk);
    return *out ? CK_OK : CK_E_NOMEM;
}

int ck_pkey_rsa_from_public(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen, struct ck_pkey **out)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    BIGNUM *bn_n = BN_bin2bn(n, (int)nlen, NULL);
    BIGNUM *bn_e = BN_bin2bn(e, (int)elen, NULL);
    int rc = CK_E_CRYPTO;

    if (bld == NULL || bn_n == NULL || bn_e == NULL)
        goto out;
    if (nlen > 1024 || elen > 8 || BN_num_bits(bn_n) < 2048 || !BN_is_odd(bn_n) || !BN_is_odd(bn_e) || BN_is_one(bn_e))
        goto out;
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto out;
    *out = ck_pkey_wrap(pk);
    pk = NULL;
    rc = *out ? CK_OK : CK_E_NOMEM;
out:
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return rc;
}

static int ck_bn_param(const EVP_PKEY *pk, const char *name, struct ck_bytes *out)
{
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(pk, name, &bn) != 1)
        return CK_E_CRYPTO;
    int len = BN_num_bytes(bn);
    out->ptr = ck_malloc((size_t)len);
    if (out->ptr == NULL) {
        BN_free(bn);
        return CK_E_NOMEM;
    }
    out->len = (size_t)BN_bn2bin(bn, out->ptr);
    BN_free(bn);
    return CK_OK;
}

int ck_pkey_rsa_public(const struct ck_pkey *k, struct ck_bytes *n, struct ck_bytes *e)
{
    struct ck_bytes nn = {0}, ee = {0};
    int rc;
    if (EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_RSA)
        return CK_E_INVALID;
    if ((rc = ck_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &nn)) != CK_OK)
        return rc;
    if ((rc = ck_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_E, &ee)) != CK_OK) {
        ck_free(nn.ptr);
        return rc;
    }
    *n = nn;
    *e = ee;
    return CK_OK;
}

int ck_rs256_sign(const struct ck_pkey *k, const void *data, size_t n, struct ck_bytes *sig)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t len = 0;
    uint8_t *buf = NULL;
    int rc = CK_E_CRYPTO;
    if (ctx == NULL || EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_RSA)
        goto out;
    if (EVP_DigestSignInit(ctx, NULL, ck_md_sha256(), NULL, k->pkey) != 1 ||
        EVP_DigestSign(ctx, NULL, &len, data, n) != 1)
        goto out;
    buf = ck_malloc(len);
    if (buf == NULL) {
        rc = CK_E_NOMEM;
        goto out;
    }
    if (EVP_DigestSign(ctx, buf, &len, data, n) != 1)
        goto out;
    sig->ptr = buf;
    sig->len = len;
    buf = NULL;
    rc = CK_OK;
out:
    ck_free(buf);
    EVP_MD_CTX_free(ctx);
    return rc;
}

int ck_rs256_verify(const struct ck_pkey *k, const void *data, size_t n, const uint8_t *sig, size_t siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = CK_E_VERIFY;
    if (ctx == NULL || EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_RSA)
        goto out;
    if (EVP_DigestVerifyInit(ctx, NULL, ck_md_sha256(), NULL, k->pkey) != 1)
        goto out;
    if (EVP_DigestVerify(ctx, sig, siglen, data, n) == 1)
        rc = CK_OK;
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}
