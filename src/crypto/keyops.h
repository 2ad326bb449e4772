/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_CRYPTO_KEYOPS_H
#define CK_CRYPTO_KEYOPS_H

/*
 * Key Vault key operations: generation (RSA and EC), JWK import and export, RSA encryption and
 * key wrapping (RSA1_5, RSA-OAEP, RSA-OAEP-256), signatures over a caller-supplied digest
 * (RS256/384/512, PS256/384/512, ES256/384/512 with JOSE r||s encoding), and AES key wrap
 * (RFC 3394). Algorithm names are the JOSE / Key Vault strings. Every function returns CK_OK or a
 * ck_err; outputs are set only on success. Decryption failures collapse to CK_E_CRYPTO.
 */
#include "core/err.h"
#include "core/mem.h"
#include "core/secret.h"
#include "crypto/crypto.h"

#include <stddef.h>
#include <stdint.h>

/* Curves by their Key Vault names: "P-256", "P-384", "P-521". */
int ck_pkey_ec_generate(const char *crv, struct ck_pkey **out) CK_MUST_CHECK;
/* Returns CK_PKEY_RSA or CK_PKEY_EC (0 for anything else). */
int ck_pkey_type(const struct ck_pkey *k);
/* Returns the curve name ("P-256", ...) of an EC key, or NULL. */
const char *ck_pkey_ec_curve(const struct ck_pkey *k);
/* EC public point as big-endian x and y, each padded to the field size (caller frees ptrs). */
int ck_pkey_ec_public(const struct ck_pkey *k, struct ck_bytes *x, struct ck_bytes *y) CK_MUST_CHECK;
/* Returns 1 when k holds a private key, 0 for a public key. */
int ck_pkey_has_private(const struct ck_pkey *k);

/*
 * Builds a key from JWK members, all base64url-decoded by the caller into ck_bytes (absent members
 * have ptr NULL). RSA: n, e required; d, p, q, dp, dq, qi for a private key (d alone is refused:
 * CRT parameters are required). EC: crv, x, y required; d for a private key. The point must lie on
 * the curve; CK_E_INVALID otherwise.
 */
struct ck_jwk_parts {
    struct ck_bytes n, e, d, p, q, dp, dq, qi; /* RSA */
    const char *crv;                           /* EC */
    struct ck_bytes x, y;                      /* EC (d shared with RSA's d) */
};
int ck_pkey_from_jwk(const char *kty, const struct ck_jwk_parts *parts, struct ck_pkey **out) CK_MUST_CHECK;

/* RSA encryption. alg: "RSA1_5", "RSA-OAEP" (SHA-1, MGF1-SHA-1), "RSA-OAEP-256" (SHA-256). */
int ck_rsa_encrypt(const struct ck_pkey *k, const char *alg, const uint8_t *pt, size_t ptlen,
                   struct ck_bytes *ct) CK_MUST_CHECK;
/* Decrypts into a secret. RSA1_5 uses implicit rejection where OpenSSL provides it; any failure
 * is CK_E_CRYPTO with no detail. */
int ck_rsa_decrypt(const struct ck_pkey *k, const char *alg, const uint8_t *ct, size_t ctlen,
                   struct ck_secret **pt) CK_MUST_CHECK;

/*
 * Signs a digest (the caller hashed the data): alg RS256/384/512 (PKCS#1 v1.5), PS256/384/512
 * (PSS, salt length = digest length, MGF1 with the same hash) or ES256/384/512 (ECDSA on P-256,
 * P-384, P-521; output is JOSE r||s, each padded to the field size). The digest length must match
 * the algorithm's hash (32, 48, 64); CK_E_INVALID otherwise. ES* need a key on the matching curve.
 */
int ck_sign_digest(const struct ck_pkey *k, const char *alg, const uint8_t *digest, size_t dlen,
                   struct ck_bytes *sig) CK_MUST_CHECK;
/* Returns CK_OK when sig is valid for digest, CK_E_VERIFY when not, CK_E_INVALID on bad input. */
int ck_verify_digest(const struct ck_pkey *k, const char *alg, const uint8_t *digest, size_t dlen,
                     const uint8_t *sig, size_t siglen) CK_MUST_CHECK;

/* Returns 1 when alg is one of the names above for that purpose. */
int ck_alg_is_rsa_enc(const char *alg);
int ck_alg_is_sign(const char *alg);

/* AES key wrap (RFC 3394, default IV) with a 256-bit KEK. Input a multiple of 8 bytes, >= 16. */
int ck_aes_kw_wrap(const struct ck_secret *kek, const uint8_t *key, size_t keylen, struct ck_bytes *out) CK_MUST_CHECK;
int ck_aes_kw_unwrap(const struct ck_secret *kek, const uint8_t *in, size_t inlen, struct ck_secret **key) CK_MUST_CHECK;

#endif
