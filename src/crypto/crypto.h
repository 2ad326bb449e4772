/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_CRYPTO_CRYPTO_H
#define CK_CRYPTO_CRYPTO_H

/*
 * The crypto layer: hashes, sealing under a master key, asymmetric keys (RSA and EC), JWS pieces
 * and X.509 for the local CA. Every function returns CK_OK or a ck_err; outputs are set only on
 * success. Failures of decryption and verification collapse to one error (CK_E_CRYPTO or
 * CK_E_VERIFY) with no detail, and no plaintext leaves a function before its tag verifies.
 */
#include "core/err.h"
#include "core/mem.h"
#include "core/secret.h"

#include <stddef.h>
#include <stdint.h>

#define CK_SHA256_LEN 32
#define CK_SHA1_LEN 20

void ck_sha256(const void *p, size_t n, uint8_t out[CK_SHA256_LEN]);
void ck_sha1(const void *p, size_t n, uint8_t out[CK_SHA1_LEN]);
int ck_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n, uint8_t out[CK_SHA256_LEN]);

/*
 * Sealing: AES-256-GCM under a 32-byte key with a random 96-bit nonce. The sealed form is
 * "ck1" || nonce(12) || ciphertext || tag(16); aad is bound but not stored. *out is owned by the
 * caller (ck_free). ck_open returns the plaintext as a secret.
 */
#define CK_SEAL_KEY_LEN 32
#define CK_SEAL_OVERHEAD (3 + 12 + 16)
int ck_seal(const struct ck_secret *key, const void *aad, size_t aadlen, const void *pt, size_t ptlen,
            uint8_t **out, size_t *outlen) CK_MUST_CHECK;
int ck_open(const struct ck_secret *key, const void *aad, size_t aadlen, const uint8_t *in, size_t inlen,
            struct ck_secret **pt) CK_MUST_CHECK;

/*
 * Hashing of high-entropy secrets (client secrets, workload identity headers, the operator
 * credential): SHA-256 over a domain label, a 16-byte salt and the secret. Stored secrets are
 * random 256-bit values made by the server, so a slow password hash adds nothing.
 */
#define CK_SECRET_SALT_LEN 16
void ck_secret_hash(const char *label, const uint8_t salt[CK_SECRET_SALT_LEN], const void *secret,
                    size_t len, uint8_t out[CK_SHA256_LEN]);

/* An asymmetric key pair or public key (RSA or EC). */
struct ck_pkey;

enum ck_pkey_type { CK_PKEY_RSA = 1, CK_PKEY_EC = 2 };

/* Generates an RSA key of bits (2048, 3072 or 4096). */
int ck_pkey_rsa_generate(int bits, struct ck_pkey **out) CK_MUST_CHECK;
void ck_pkey_free(struct ck_pkey *k);
/* Returns a new reference to the same key (free it with ck_pkey_free), or NULL. */
struct ck_pkey *ck_pkey_dup(const struct ck_pkey *k);
/* Serialises the private key as PKCS#8 DER into a secret. */
int ck_pkey_private_der(const struct ck_pkey *k, struct ck_secret **out) CK_MUST_CHECK;
/* Parses a PKCS#8 DER private key. */
int ck_pkey_from_private_der(const uint8_t *der, size_t len, struct ck_pkey **out) CK_MUST_CHECK;
/* Builds an RSA public key from big-endian modulus and exponent. */
int ck_pkey_rsa_from_public(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen,
                            struct ck_pkey **out) CK_MUST_CHECK;
/* Returns the RSA modulus and exponent as big-endian bytes (caller frees both ptrs). */
int ck_pkey_rsa_public(const struct ck_pkey *k, struct ck_bytes *n, struct ck_bytes *e) CK_MUST_CHECK;
/* Returns the key size in bits, or 0. */
int ck_pkey_bits(const struct ck_pkey *k);

/* RS256: RSASSA-PKCS1-v1_5 with SHA-256 over data. */
int ck_rs256_sign(const struct ck_pkey *k, const void *data, size_t n, struct ck_bytes *sig) CK_MUST_CHECK;
/* Returns CK_OK when sig is a valid RS256 signature of data under k, CK_E_VERIFY otherwise. */
int ck_rs256_verify(const struct ck_pkey *k, const void *data, size_t n, const uint8_t *sig,
                    size_t siglen) CK_MUST_CHECK;

/*
 * X.509 for the local CA and for the certificate that accompanies each signing key in the JWKS.
 * PEM outputs are NUL-terminated and owned by the caller (ck_free). hosts is a comma-separated
 * list of DNS names and IP addresses for the subjectAltName.
 */
int ck_x509_self_signed(const struct ck_pkey *k, const char *cn, int is_ca, int days, char **cert_pem) CK_MUST_CHECK;
int ck_x509_issue(const struct ck_pkey *ca_key, const char *ca_cert_pem, const struct ck_pkey *k,
                  const char *cn, const char *hosts, int days, char **cert_pem) CK_MUST_CHECK;
/* Converts a certificate from PEM to DER (caller frees der->ptr). */
int ck_x509_pem_to_der(const char *pem, struct ck_bytes *der) CK_MUST_CHECK;
/* Writes the private key as unencrypted PKCS#8 PEM into a secret (for handing to the TLS
 * library in memory; never written to disk). */
int ck_pkey_private_pem(const struct ck_pkey *k, struct ck_secret **pem) CK_MUST_CHECK;

#endif
