/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key Vault key operations on top of OpenSSL 3: EC key generation on the NIST curves, JWK import
 * of RSA and EC keys (validated: RSA keys pass OpenSSL's pairwise check, EC points lie on their
 * curve), RSA encryption with RSA1_5, RSA-OAEP and RSA-OAEP-256, signatures over a digest (RS*,
 * PS*, ES* with the JOSE r||s form) and AES key wrap (RFC 3394). Errors that depend only on the
 * request (unknown algorithm, wrong key type or curve, wrong digest length, plaintext too long)
 * are CK_E_INVALID; anything that depends on a ciphertext's content is CK_E_CRYPTO, and a
 * signature that does not verify is CK_E_VERIFY. The OpenSSL error queue is emptied on failure so
 * that no stale entry reaches a later TLS call on the same thread.
 */
#include "crypto/keyops.h"
#include "crypto/crypto_int.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <string.h>

/* RSA moduli accepted on import: 2048 to 8192 bits (the upper bound caps validation cost). */
#define CK_RSA_MIN_BITS 2048
#define CK_RSA_MAX_BITS 8192
#define CK_RSA_MAX_BYTES (CK_RSA_MAX_BITS / 8)
/* Public exponents up to 64 bits, as ck_pkey_rsa_from_public accepts. */
#define CK_RSA_MAX_E_BITS 64
/* The largest field among the supported curves (P-521), in bytes. */
#define CK_EC_MAX_FIELD 66

struct ck_curve {
    const char *name; /* Key Vault / JOSE name */
    const char *group; /* OpenSSL group name */
    int nid;
    size_t flen; /* field size in bytes */
};

static const struct ck_curve ck_curves[] = {
    {"P-256", "prime256v1", NID_X9_62_prime256v1, 32},
    {"P-384", "secp384r1", NID_secp384r1, 48},
    {"P-521", "secp521r1", NID_secp521r1, 66},
};

enum ck_sig_kind { CK_SIG_RS, CK_SIG_PS, CK_SIG_ES };

struct ck_sig_alg {
    const char *name;
    enum ck_sig_kind kind;
    int md_nid;
    size_t dlen;
    const char *crv; /* ES* only */
};

static const struct ck_sig_alg ck_sig_algs[] = {
    {"RS256", CK_SIG_RS, NID_sha256, 32, NULL}, {"RS384", CK_SIG_RS, NID_sha384, 48, NULL},
    {"RS512", CK_SIG_RS, NID_sha512, 64, NULL}, {"PS256", CK_SIG_PS, NID_sha256, 32, NULL},
    {"PS384", CK_SIG_PS, NID_sha384, 48, NULL}, {"PS512", CK_SIG_PS, NID_sha512, 64, NULL},
    {"ES256", CK_SIG_ES, NID_sha256, 32, "P-256"}, {"ES384", CK_SIG_ES, NID_sha384, 48, "P-384"},
    {"ES512", CK_SIG_ES, NID_sha512, 64, "P-521"},
};

struct ck_enc_alg {
    const char *name;
    int padding;
    int md_nid;    /* OAEP digest and MGF1 digest; NID_undef for PKCS#1 v1.5 */
    size_t overhead; /* modulus bytes minus the longest plaintext */
};

static const struct ck_enc_alg ck_enc_algs[] = {
    {"RSA1_5", RSA_PKCS1_PADDING, NID_undef, 11},
    {"RSA-OAEP", RSA_PKCS1_OAEP_PADDING, NID_sha1, 2 * 20 + 2},
    {"RSA-OAEP-256", RSA_PKCS1_OAEP_PADDING, NID_sha256, 2 * 32 + 2},
};

#define CK_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct ck_curve *ck_curve_by_name(const char *crv)
{
    for (size_t i = 0; crv != NULL && i < CK_COUNT(ck_curves); i++)
        if (strcmp(crv, ck_curves[i].name) == 0)
            return &ck_curves[i];
    return NULL;
}

static const struct ck_sig_alg *ck_sig_alg_find(const char *alg)
{
    for (size_t i = 0; alg != NULL && i < CK_COUNT(ck_sig_algs); i++)
        if (strcmp(alg, ck_sig_algs[i].name) == 0)
            return &ck_sig_algs[i];
    return NULL;
}

static const struct ck_enc_alg *ck_enc_alg_find(const char *alg)
{
    for (size_t i = 0; alg != NULL && i < CK_COUNT(ck_enc_algs); i++)
        if (strcmp(alg, ck_enc_algs[i].name) == 0)
            return &ck_enc_algs[i];
    return NULL;
}

static const EVP_MD *ck_md(int nid)
{
    switch (nid) {
    case NID_sha1:
        return EVP_sha1();
    case NID_sha256:
        return EVP_sha256();
    case NID_sha384:
        return EVP_sha384();
    case NID_sha512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

/* Drops whatever OpenSSL queued while failing, and passes rc through. */
static int ck_ossl_done(int rc)
{
    if (rc != CK_OK)
        ERR_clear_error();
    return rc;
}

/* ---- key properties ---- */

int ck_pkey_type(const struct ck_pkey *k)
{
    if (k == NULL || k->pkey == NULL)
        return 0;
    switch (EVP_PKEY_get_base_id(k->pkey)) {
    case EVP_PKEY_RSA:
        return CK_PKEY_RSA;
    case EVP_PKEY_EC:
        return CK_PKEY_EC;
    default:
        return 0;
    }
}

static const struct ck_curve *ck_pkey_curve(const struct ck_pkey *k)
{
    char group[64];
    size_t len = 0;
    if (ck_pkey_type(k) != CK_PKEY_EC ||
        EVP_PKEY_get_group_name(k->pkey, group, sizeof(group), &len) != 1) {
        ERR_clear_error();
        return NULL;
    }
    int nid = OBJ_txt2nid(group);
    if (nid == NID_undef)
        nid = EC_curve_nist2nid(group);
    for (size_t i = 0; i < CK_COUNT(ck_curves); i++)
        if (ck_curves[i].nid == nid)
            return &ck_curves[i];
    return NULL;
}

const char *ck_pkey_ec_curve(const struct ck_pkey *k)
{
    const struct ck_curve *c = ck_pkey_curve(k);
    return c ? c->name : NULL;
}

int ck_pkey_has_private(const struct ck_pkey *k)
{
    const char *name;
    BIGNUM *bn = NULL;
    switch (ck_pkey_type(k)) {
    case CK_PKEY_RSA: {
        /* Asks only for the size of d (no copy of it): a third of the cost, on every decrypt. */
        OSSL_PARAM p[2] = {OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_D, NULL, 0), OSSL_PARAM_END};
        int has = EVP_PKEY_get_params(k->pkey, p) == 1 && OSSL_PARAM_modified(&p[0]) && p[0].return_size > 0;
        ERR_clear_error();
        return has;
    }
    case CK_PKEY_EC:
        name = OSSL_PKEY_PARAM_PRIV_KEY;
        break;
    default:
        return 0;
    }
    int has = EVP_PKEY_get_bn_param(k->pkey, name, &bn) == 1 && !BN_is_zero(bn);
    BN_clear_free(bn);
    ERR_clear_error();
    return has;
}

int ck_pkey_ec_generate(const char *crv, struct ck_pkey **out)
{
    const struct ck_curve *c = ck_curve_by_name(crv);
    if (c == NULL)
        return CK_E_INVALID;
    EVP_PKEY *pk = EVP_EC_gen(c->group);
    if (pk == NULL)
        return ck_ossl_done(CK_E_CRYPTO);
    *out = ck_pkey_wrap(pk);
    return *out ? CK_OK : CK_E_NOMEM;
}

/* Copies a BIGNUM parameter of pk big-endian into a new buffer of exactly flen bytes. */
static int ck_bn_param_padded(const EVP_PKEY *pk, const char *name, size_t flen, struct ck_bytes *out)
{
    BIGNUM *bn = NULL;
    uint8_t *buf = NULL;
    int rc = CK_E_CRYPTO;
    if (EVP_PKEY_get_bn_param(pk, name, &bn) != 1)
        goto out;
    buf = ck_malloc(flen);
    if (buf == NULL) {
        rc = CK_E_NOMEM;
        goto out;
    }
    if (BN_bn2binpad(bn, buf, (int)flen) != (int)flen)
        goto out;
    out->ptr = buf;
    out->len = flen;
    buf = NULL;
    rc = CK_OK;
out:
    ck_free(buf);
    BN_free(bn);
    return ck_ossl_done(rc);
}

int ck_pkey_ec_public(const struct ck_pkey *k, struct ck_bytes *x, struct ck_bytes *y)
{
    const struct ck_curve *c = ck_pkey_curve(k);
    struct ck_bytes xx = {0}, yy = {0};
    int rc;
    if (c == NULL)
        return CK_E_INVALID;
    if ((rc = ck_bn_param_padded(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, c->flen, &xx)) != CK_OK)
        return rc;
    if ((rc = ck_bn_param_padded(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, c->flen, &yy)) != CK_OK) {
        ck_free(xx.ptr);
        return rc;
    }
    *x = xx;
    *y = yy;
    return CK_OK;
}

/* ---- JWK import ---- */

/* The BIGNUMs pushed into a parameter builder, kept until the parameters are built. */
struct ck_bn_list {
    BIGNUM *bn[8];
    size_t n;
};

static void ck_bn_list_cleanup(struct ck_bn_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        BN_clear_free(l->bn[i]);
    l->n = 0;
}

/* Converts b to a BIGNUM (in secure memory when secret), remembers it in l and returns it. */
static BIGNUM *ck_bn_from(struct ck_bn_list *l, const struct ck_bytes *b, int secret)
{
    if (l->n == CK_COUNT(l->bn) || b->ptr == NULL || b->len == 0 || b->len > INT32_MAX)
        return NULL;
    BIGNUM *bn = secret ? BN_secure_new() : BN_new();
    if (bn == NULL)
        return NULL;
    l->bn[l->n++] = bn;
    return BN_bin2bn(b->ptr, (int)b->len, bn);
}

/* Builds a key from params and checks it: pairwise for key pairs, public part otherwise. */
static int ck_pkey_build(const char *type, OSSL_PARAM_BLD *bld, int priv, struct ck_pkey **out)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY_CTX *check = NULL;
    EVP_PKEY *pk = NULL;
    int rc = CK_E_NOMEM;

    if (params == NULL || ctx == NULL)
        goto out;
    rc = CK_E_INVALID;
    if (EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto out;
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (check == NULL) {
        rc = CK_E_NOMEM;
        goto out;
    }
    if ((priv ? EVP_PKEY_check(check) : EVP_PKEY_public_check(check)) != 1)
        goto out;
    *out = ck_pkey_wrap(pk);
    pk = NULL;
    rc = *out ? CK_OK : CK_E_NOMEM;
out:
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return ck_ossl_done(rc);
}

static int ck_present(const struct ck_bytes *b)
{
    return b->ptr != NULL;
}

static int ck_rsa_from_jwk(const struct ck_jwk_parts *j, struct ck_pkey **out)
{
    static const char *const priv_names[] = {
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,   OSSL_PKEY_PARAM_RSA_FACTOR2,
        OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
    };
    const struct ck_bytes *priv[] = {&j->d, &j->p, &j->q, &j->dp, &j->dq, &j->qi};
    struct ck_bn_list l = {0};
    OSSL_PARAM_BLD *bld = NULL;
    size_t npriv = 0;
    int rc = CK_E_INVALID;

    for (size_t i = 0; i < CK_COUNT(priv); i++)
        npriv += ck_present(priv[i]) ? 1 : 0;
    /* A private key needs every CRT parameter; a public key none. */
    if (npriv != 0 && npriv != CK_COUNT(priv))
        return CK_E_INVALID;
    if (j->n.len > CK_RSA_MAX_BITS / 8 + 1 || j->e.len > CK_RSA_MAX_E_BITS / 8 + 1)
        return CK_E_INVALID;
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL)
        return CK_E_NOMEM;
    BIGNUM *n = ck_bn_from(&l, &j->n, 0), *e = ck_bn_from(&l, &j->e, 0);
    if (n == NULL || e == NULL)
        goto out;
    int nbits = BN_num_bits(n);
    if (nbits < CK_RSA_MIN_BITS || nbits > CK_RSA_MAX_BITS || !BN_is_odd(n) ||
        BN_num_bits(e) > CK_RSA_MAX_E_BITS || !BN_is_odd(e) || BN_is_one(e) || BN_cmp(e, n) >= 0)
        goto out;
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)) {
        rc = CK_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < npriv; i++) {
        if (priv[i]->len > CK_RSA_MAX_BITS / 8 + 1)
            goto out;
        BIGNUM *bn = ck_bn_from(&l, priv[i], 1);
        if (bn == NULL || BN_is_zero(bn))
            goto out;
        if (!OSSL_PARAM_BLD_push_BN(bld, priv_names[i], bn)) {
            rc = CK_E_NOMEM;
            goto out;
        }
    }
    rc = ck_pkey_build("RSA", bld, npriv != 0, out);
out:
    ck_bn_list_cleanup(&l);
    OSSL_PARAM_BLD_free(bld);
    return ck_ossl_done(rc);
}

/* Left-pads b (1 to flen bytes) into dst[0..flen). */
static int ck_pad_into(uint8_t *dst, size_t flen, const struct ck_bytes *b)
{
    if (b->ptr == NULL || b->len == 0 || b->len > flen)
        return -1;
    memset(dst, 0, flen - b->len);
    memcpy(dst + flen - b->len, b->ptr, b->len);
    return 0;
}

static int ck_ec_from_jwk(const struct ck_jwk_parts *j, struct ck_pkey **out)
{
    const struct ck_curve *c = ck_curve_by_name(j->crv);
    uint8_t point[1 + 2 * CK_EC_MAX_FIELD];
    struct ck_bn_list l = {0};
    OSSL_PARAM_BLD *bld = NULL;
    int priv = ck_present(&j->d), rc = CK_E_INVALID;

    if (c == NULL)
        return CK_E_INVALID;
    point[0] = 0x04; /* uncompressed: 0x04 || x || y */
    if (ck_pad_into(point + 1, c->flen, &j->x) != 0 || ck_pad_into(point + 1 + c->flen, c->flen, &j->y) != 0)
        return CK_E_INVALID;
    if (priv && j->d.len > c->flen)
        return CK_E_INVALID;
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL)
        return CK_E_NOMEM;
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * c->flen)) {
        rc = CK_E_NOMEM;
        goto out;
    }
    if (priv) {
        BIGNUM *d = ck_bn_from(&l, &j->d, 1);
        if (d == NULL)
            goto out;
        if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d)) {
            rc = CK_E_NOMEM;
            goto out;
        }
    }
    rc = ck_pkey_build("EC", bld, priv, out);
out:
    ck_bn_list_cleanup(&l);
    OSSL_PARAM_BLD_free(bld);
    return ck_ossl_done(rc);
}

int ck_pkey_from_jwk(const char *kty, const struct ck_jwk_parts *parts, struct ck_pkey **out)
{
    if (kty == NULL || parts == NULL)
        return CK_E_INVALID;
    if (strcmp(kty, "RSA") == 0 || strcmp(kty, "RSA-HSM") == 0)
        return ck_rsa_from_jwk(parts, out);
    if (strcmp(kty, "EC") == 0 || strcmp(kty, "EC-HSM") == 0)
        return ck_ec_from_jwk(parts, out);
    return CK_E_INVALID;
}

/* ---- RSA encryption ---- */

int ck_alg_is_rsa_enc(const char *alg)
{
    return ck_enc_alg_find(alg) != NULL;
}

int ck_alg_is_sign(const char *alg)
{
    return ck_sig_alg_find(alg) != NULL;
}

static int ck_enc_setup(EVP_PKEY_CTX *ctx, const struct ck_enc_alg *a)
{
    if (EVP_PKEY_CTX_set_rsa_padding(ctx, a->padding) != 1)
        return -1;
    if (a->padding == RSA_PKCS1_OAEP_PADDING &&
        (EVP_PKEY_CTX_set_rsa_oaep_md(ctx, ck_md(a->md_nid)) != 1 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, ck_md(a->md_nid)) != 1))
        return -1;
    return 0;
}

int ck_rsa_encrypt(const struct ck_pkey *k, const char *alg, const uint8_t *pt, size_t ptlen, struct ck_bytes *ct)
{
    const struct ck_enc_alg *a = ck_enc_alg_find(alg);
    static const uint8_t empty[1];
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t *buf = NULL;
    size_t len;
    int rc = CK_E_INVALID;

    if (a == NULL || ck_pkey_type(k) != CK_PKEY_RSA)
        return CK_E_INVALID;
    len = (size_t)EVP_PKEY_get_size(k->pkey);
    if (len <= a->overhead || ptlen > len - a->overhead)
        return CK_E_INVALID;
    buf = ck_malloc(len);
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    if (buf == NULL || ctx == NULL) {
        rc = CK_E_NOMEM;
        goto out;
    }
    rc = CK_E_CRYPTO;
    if (EVP_PKEY_encrypt_init(ctx) != 1 || ck_enc_setup(ctx, a) != 0 ||
        EVP_PKEY_encrypt(ctx, buf, &len, ptlen ? pt : empty, ptlen) != 1)
        goto out;
    ct->ptr = buf;
    ct->len = len;
    buf = NULL;
    rc = CK_OK;
out:
    ck_free(buf);
    EVP_PKEY_CTX_free(ctx);
    return ck_ossl_done(rc);
}

int ck_rsa_decrypt(const struct ck_pkey *k, const char *alg, const uint8_t *ct, size_t ctlen, struct ck_secret **pt)
{
    const struct ck_enc_alg *a = ck_enc_alg_find(alg);
    EVP_PKEY_CTX *ctx = NULL;
    struct ck_secret *res = NULL;
    /* The padded plaintext lands on the stack (wiped at out:) and only the result is copied into a
     * secret: one locked allocation per call instead of two. */
    uint8_t buf[CK_RSA_MAX_BYTES];
    size_t len;
    int rc = CK_E_CRYPTO;

    if (a == NULL || ck_pkey_type(k) != CK_PKEY_RSA || !ck_pkey_has_private(k))
        return CK_E_INVALID;
    len = (size_t)EVP_PKEY_get_size(k->pkey);
    if (ct == NULL || ctlen != len || len > sizeof(buf))
        return CK_E_CRYPTO;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    if (ctx == NULL) {
        rc = CK_E_NOMEM;
        goto out;
    }
    if (EVP_PKEY_decrypt_init(ctx) != 1 || ck_enc_setup(ctx, a) != 0 || EVP_PKEY_decrypt(ctx, buf, &len, ct, ctlen) != 1)
        goto out;
    res = ck_secret_from(buf, len);
    if (res == NULL) {
        rc = CK_E_NOMEM;
        goto out;
    }
    *pt = res;
    rc = CK_OK;
out:
    OPENSSL_cleanse(buf, sizeof(buf));
    EVP_PKEY_CTX_free(ctx);
    return ck_ossl_done(rc);
}

/* ---- signatures ---- */

/* Checks alg, digest length and key; sets *ap, and *cp for ES*. */
static int ck_sig_check(const struct ck_pkey *k, const char *alg, size_t dlen, const struct ck_sig_alg **ap,
                        const struct ck_curve **cp)
{
    const struct ck_sig_alg *a = ck_sig_alg_find(alg);
    if (a == NULL || dlen != a->dlen)
        return CK_E_INVALID;
    if (a->kind == CK_SIG_ES) {
        const struct ck_curve *c = ck_pkey_curve(k);
        if (c == NULL || c != ck_curve_by_name(a->crv))
            return CK_E_INVALID;
        *cp = c;
    } else if (ck_pkey_type(k) != CK_PKEY_RSA) {
        return CK_E_INVALID;
    }
    *ap = a;
    return CK_OK;
}

static int ck_sig_setup(EVP_PKEY_CTX *ctx, const struct ck_sig_alg *a)
{
    const EVP_MD *md = ck_md(a->md_nid);
    switch (a->kind) {
    case CK_SIG_RS:
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
            return -1;
        break;
    case CK_SIG_PS:
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1)
            return -1;
        break;
    case CK_SIG_ES:
        break;
    }
    return EVP_PKEY_CTX_set_signature_md(ctx, md) == 1 ? 0 : -1;
}

/* DER ECDSA-Sig-Value to r||s, each padded to flen. */
static int ck_ecdsa_der_to_jose(const uint8_t *der, size_t derlen, size_t flen, struct ck_bytes *out)
{
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    uint8_t *buf = NULL;
    int rc = CK_E_CRYPTO;
    if (es == NULL)
        goto out;
    buf = ck_malloc(2 * flen);
    if (buf == NULL) {
        rc = CK_E_NOMEM;
        goto out;
    }
    if (BN_bn2binpad(ECDSA_SIG_get0_r(es), buf, (int)flen) != (int)flen ||
        BN_bn2binpad(ECDSA_SIG_get0_s(es), buf + flen, (int)flen) != (int)flen)
        goto out;
    out->ptr = buf;
    out->len = 2 * flen;
    buf = NULL;
    rc = CK_OK;
out:
    ck_free(buf);
    ECDSA_SIG_free(es);
    return rc;
}

/* r||s (2 * flen bytes) to DER; the caller frees *der with OPENSSL_free. */
static int ck_ecdsa_jose_to_der(const uint8_t *sig, size_t flen, unsigned char **der, int *derlen)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)flen, NULL), *s = BN_bin2bn(sig + flen, (int)flen, NULL);
    int rc = CK_E_NOMEM;
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
        goto out;
    r = s = NULL; /* owned by es */
    *der = NULL;
    *derlen = i2d_ECDSA_SIG(es, der);
    if (*derlen > 0)
        rc = CK_OK;
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return rc;
}

int ck_sign_digest(const struct ck_pkey *k, const char *alg, const uint8_t *digest, size_t dlen, struct ck_bytes *sig)
{
    const struct ck_sig_alg *a = NULL;
    const struct ck_curve *c = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if ((rc = ck_sig_check(k, alg, dlen, &a, &c)) != CK_OK)
        return rc;
    if (!ck_pkey_has_private(k))
        return CK_E_INVALID;
    rc = CK_E_NOMEM;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    if (ctx == NULL)
        goto out;
    rc = CK_E_CRYPTO;
    if (EVP_PKEY_sign_init(ctx) != 1 || ck_sig_setup(ctx, a) != 0 || EVP_PKEY_sign(ctx, NULL, &len, digest, dlen) != 1)
        goto out;
    buf = ck_malloc(len);
    if (buf == NULL) {
        rc = CK_E_NOMEM;
        goto out;
    }
    if (EVP_PKEY_sign(ctx, buf, &len, digest, dlen) != 1)
        goto out;
    if (a->kind == CK_SIG_ES) {
        rc = ck_ecdsa_der_to_jose(buf, len, c->flen, sig);
        goto out;
    }
    sig->ptr = buf;
    sig->len = len;
    buf = NULL;
    rc = CK_OK;
out:
    ck_free(buf);
    EVP_PKEY_CTX_free(ctx);
    return ck_ossl_done(rc);
}

int ck_verify_digest(const struct ck_pkey *k, const char *alg, const uint8_t *digest, size_t dlen,
                     const uint8_t *sig, size_t siglen)
{
    const struct ck_sig_alg *a = NULL;
    const struct ck_curve *c = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    unsigned char *der = NULL;
    int derlen = 0, rc;

    if ((rc = ck_sig_check(k, alg, dlen, &a, &c)) != CK_OK)
        return rc;
    if (sig == NULL || siglen == 0)
        return CK_E_VERIFY;
    if (a->kind == CK_SIG_ES) {
        if (siglen != 2 * c->flen)
            return CK_E_VERIFY;
        if ((rc = ck_ecdsa_jose_to_der(sig, c->flen, &der, &derlen)) != CK_OK)
            goto out;
        sig = der;
        siglen = (size_t)derlen;
    }
    rc = CK_E_NOMEM;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    if (ctx == NULL)
        goto out;
    rc = CK_E_VERIFY;
    if (EVP_PKEY_verify_init(ctx) != 1 || ck_sig_setup(ctx, a) != 0)
        goto out;
    if (EVP_PKEY_verify(ctx, sig, siglen, digest, dlen) == 1)
        rc = CK_OK;
out:
    OPENSSL_free(der);
    EVP_PKEY_CTX_free(ctx);
    return ck_ossl_done(rc);
}

/* ---- AES key wrap ---- */

/* Runs EVP_aes_256_wrap over in (enc 1 wraps, 0 unwraps) into out, which holds outlen bytes. */
static int ck_aes_kw(const struct ck_secret *kek, int enc, const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0, rc = CK_E_CRYPTO;
    if (ctx == NULL)
        return CK_E_NOMEM;
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_wrap(), NULL, ck_secret_ptr(kek), NULL, enc) != 1 ||
        EVP_CipherUpdate(ctx, out, &len, in, (int)inlen) != 1 || (size_t)len != outlen ||
        EVP_CipherFinal_ex(ctx, out + len, &fin) != 1 || fin != 0)
        goto out;
    rc = CK_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    return ck_ossl_done(rc);
}

/* Largest key accepted for wrapping; key wrap is for keys, not bulk data. */
#define CK_AES_KW_MAX (64 * 1024)

int ck_aes_kw_wrap(const struct ck_secret *kek, const uint8_t *key, size_t keylen, struct ck_bytes *out)
{
    uint8_t *buf;
    int rc;
    if (ck_secret_len(kek) != 32 || key == NULL || keylen < 16 || keylen % 8 != 0)
        return CK_E_INVALID;
    if (keylen > CK_AES_KW_MAX)
        return CK_E_TOO_LARGE;
    buf = ck_malloc(keylen + 8);
    if (buf == NULL)
        return CK_E_NOMEM;
    if ((rc = ck_aes_kw(kek, 1, key, keylen, buf, keylen + 8)) != CK_OK) {
        ck_free(buf);
        return rc;
    }
    out->ptr = buf;
    out->len = keylen + 8;
    return CK_OK;
}

int ck_aes_kw_unwrap(const struct ck_secret *kek, const uint8_t *in, size_t inlen, struct ck_secret **key)
{
    struct ck_secret *s;
    int rc;
    if (ck_secret_len(kek) != 32)
        return CK_E_INVALID;
    if (in == NULL || inlen < 24 || inlen % 8 != 0 || inlen > CK_AES_KW_MAX + 8)
        return CK_E_CRYPTO;
    s = ck_secret_new(inlen - 8);
    if (s == NULL)
        return CK_E_NOMEM;
    if ((rc = ck_aes_kw(kek, 0, in, inlen, ck_secret_ptr(s), inlen - 8)) != CK_OK) {
        ck_secret_free(s);
        return rc;
    }
    *key = s;
    return CK_OK;
}
