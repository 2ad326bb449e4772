/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_AUTHZ_JWT_H
#define CK_AUTHZ_JWT_H

/*
 * Token verification shared by every resource service (DESIGN.md section 6, invariant 3), and
 * JWT signing used by the identity service. Only RS256 is accepted: "none", HS* and any other
 * algorithm are refused before a key is looked up. Keys come from the issuing tenant's JWKS,
 * fetched over HTTPS from the authority and cached, or from keys added directly (the identity
 * service verifying its own assertions, and unit tests).
 */
#include "core/err.h"
#include "crypto/crypto.h"
#include "json/json.h"

#include <stddef.h>
#include <stdint.h>

/* Why a token was refused; each maps to a protocol error chosen by the resource service. */
enum ck_token_fail {
    CK_TF_NONE = 0,
    CK_TF_MISSING,     /* no bearer token */
    CK_TF_MALFORMED,   /* not a compact JWS, bad base64url or JSON, missing claims */
    CK_TF_ALG,         /* alg other than RS256 */
    CK_TF_KEY,         /* kid unknown for the issuer */
    CK_TF_SIGNATURE,   /* signature does not verify */
    CK_TF_ISSUER,      /* issuer not one of ours or not the expected tenant's */
    CK_TF_AUDIENCE,    /* aud not accepted */
    CK_TF_TENANT,      /* tid differs from the resource's tenant */
    CK_TF_EXPIRED,     /* exp in the past (beyond skew) */
    CK_TF_NOT_YET,     /* nbf in the future (beyond skew) */
    CK_TF_UNAVAILABLE, /* the issuer's keys could not be fetched */
};

const char *ck_token_fail_text(enum ck_token_fail f);

#define CK_JWT_MAX_LEN (16 * 1024)
#define CK_JWT_SKEW_SECONDS 300

/* The claims a resource service needs, copied out of a verified token. */
struct ck_claims {
    char tid[64];
    char oid[64];
    char sub[640];
    char appid[64];  /* appid (v1) or azp (v2) */
    char iss[640];
    char aud[640];
    char idtyp[16];
    char ver[8];
    char xms_mirid[512];
    int64_t iat, nbf, exp;
};

struct ck_verifier;

struct ck_verifier_config {
    const char *authority; /* "https://localhost:8443": JWKS at {authority}/{tid}/discovery/v2.0/keys */
    const char *ca_file;   /* CA for fetching JWKS; NULL uses the process default */
    int jwks_ttl_seconds;  /* cache lifetime; 0: 3600 */
    int token_cache;       /* verified tokens kept, see below; 0: none */
};

/*
 * The verified-token cache (opt-in, token_cache entries). A token that passed every check of
 * ck_verify_token is kept under SHA-256 of its whole text, with its claims, until its exp (never
 * beyond, and never with the skew that a full verification allows), and only while the key set
 * of its issuer is the one that verified it (a JWKS reload or ck_verifier_forget drops it). A hit
 * skips only the parsing and the signature check: tenant, lifetime (nbf) and audience are checked
 * on every call against the caller's arguments. Any other text, a tampered token included,
 * misses and is verified in full. Only tokens with a single string audience (or none) are kept.
 */
#define CK_TOKEN_CACHE_DEFAULT 256

int ck_verifier_new(const struct ck_verifier_config *cfg, struct ck_verifier **out) CK_MUST_CHECK;
void ck_verifier_free(struct ck_verifier *v);
/* Adds a key for tenant tid under kid (the verifier keeps its own reference). */
int ck_verifier_add_key(struct ck_verifier *v, const char *tid, const char *kid, const struct ck_pkey *k);
/* Drops cached JWKS for tid (after key rotation), and the cached tokens it verified. */
void ck_verifier_forget(struct ck_verifier *v, const char *tid);
/* How many verifications the token cache answered so far (for tests and metrics). */
uint64_t ck_verifier_cache_hits(struct ck_verifier *v);

/*
 * Returns the tenant id named by an issuer of ours: "https://sts.windows.net/{tid}/" or
 * "https://login.microsoftonline.com/{tid}/v2.0". Writes tid (at most 63 chars) and returns 1, or
 * returns 0 for any other issuer.
 */
int ck_issuer_tenant(const char *iss, char tid[64]);

/*
 * Verifies a compact JWS token: RS256 signature by a key of the issuing tenant, lifetime (with
 * CK_JWT_SKEW_SECONDS of skew), audience (one of the NULL-terminated audiences list; NULL
 * skips the check) and, when tenant is not NULL, that the issuer's tenant equals tenant.
 * Returns CK_TF_NONE and fills *out, or the failure reason (and *out is untouched).
 */
enum ck_token_fail ck_verify_token(struct ck_verifier *v, const char *token, const char *const *audiences,
                                   const char *tenant, struct ck_claims *out) CK_MUST_CHECK;

/*
 * Parses a compact JWS without verifying it: header and payload JSON objects are returned
 * (caller decrefs both). Returns CK_OK or CK_E_INVALID.
 */
int ck_jwt_decode_unverified(const char *token, json_t **header, json_t **payload) CK_MUST_CHECK;

/*
 * Signs claims (a JSON object) as an RS256 JWT with header {"typ":"JWT","alg":"RS256","kid",
 * "x5t"}. Returns a NUL-terminated token in a secret (tokens are bearer credentials).
 */
int ck_jwt_sign(const struct ck_pkey *k, const char *kid, const char *x5t, const json_t *claims,
                struct ck_secret **token) CK_MUST_CHECK;

/* Extracts the token from an "Authorization: Bearer <token>" header value; NULL if absent. */
const char *ck_bearer_token(const char *authorization);

#endif
