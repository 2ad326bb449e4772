/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_SERVICES_ST_KEK_H
#define CK_SERVICES_ST_KEK_H

/*
 * The storage service's client of the customer's key (docs/cmk.md, DESIGN.md section 2): the
 * managed-identity token, the vault's challenge, the federated exchange, the key's attributes,
 * and wrap/unwrap of an account's AEK with RSA-OAEP-256. Every call is bounded: per-vault
 * concurrency cap, a timeout, and backoff with jitter after failures. Tokens are cached per
 * (identity, client id, tenant, resource) until shortly before they expire.
 */
#include "core/mem.h"
#include "core/secret.h"
#include "json/json.h"

#include <stdint.h>

struct st;

/* What an account's settings name. Strings are borrowed. */
struct st_kek_ref {
    const char *vault_uri;  /* "https://host:port" (no trailing slash) */
    const char *key_name;
    const char *key_version; /* "" or NULL: the newest version */
    const char *identity;   /* ARM id of the user-assigned identity, or of the account (system-assigned) */
    const char *client_id;  /* federatedIdentityClientId (cross-tenant), or NULL (same tenant) */
};

/* Which link of the chain failed. */
enum st_kek_link {
    ST_LINK_NONE = 0,
    ST_LINK_IDENTITY,      /* the managed identity got no token */
    ST_LINK_VAULT,         /* the vault did not answer, or is not a vault */
    ST_LINK_FIC,           /* the federated credential does not match */
    ST_LINK_SP,            /* the app or its service principal in the vault's tenant */
    ST_LINK_ROLE,          /* the vault refused the token or the operation */
    ST_LINK_KEY,           /* the key: missing, disabled, expired, wrong type, no wrap/unwrap */
    ST_LINK_POLICY,        /* the vault has no purge protection */
    ST_LINK_INTERNAL,
};

struct st_kek_fail {
    enum st_kek_link link;
    int transient;          /* no answer, timeout, 5xx, 429: not a denial */
    char upstream[48];      /* the upstream code: "AADSTS700213", "ForbiddenByRbac", "KeyNotFound", ... */
    char message[512];      /* what happened, in plain words */
};

/* A key version as the vault describes it. */
struct st_kek_key {
    char kid[512];          /* the versioned key id the vault returned */
    char version[64];
    char kty[16];
    int bits;               /* RSA modulus size */
    int enabled;
    int64_t nbf, exp;       /* 0 when absent */
    char recovery_level[64];
    int can_wrap, can_unwrap;
};

/* The blob-data codes of a failure (docs/cmk.md "Key state"). */
const char *st_kek_data_code(const struct st_kek_fail *f);
/* The name of a link ("federatedCredential", ...). */
const char *st_kek_link_name(enum st_kek_link link);

/*
 * Reads the key version ref names (the newest when ref->key_version is empty). fresh: run the
 * whole token chain again (drops cached tokens). Returns CK_OK, or an error with *f filled.
 */
int st_kek_get_key(struct st *st, const struct st_kek_ref *ref, int fresh, struct st_kek_key *key,
                   struct st_kek_fail *f);
/* Checks a key against docs/cmk.md step 4. Returns CK_OK, or CK_E_INVALID with *f filled. */
int st_kek_key_usable(const struct st_kek_key *kv, int64_t now, struct st_kek_fail *f);
/* Wraps aek under ref's key at version (RSA-OAEP-256). *out is ck_malloc'd. corr: the correlation
 * id sent (37 bytes), may be NULL. */
int st_kek_wrap(struct st *st, const struct st_kek_ref *ref, const char *version, const struct ck_secret *aek,
                struct ck_bytes *out, char *corr, struct st_kek_fail *f);
/* Unwraps wrapped with ref's key at version. */
int st_kek_unwrap(struct st *st, const struct st_kek_ref *ref, const char *version, const void *wrapped, size_t len,
                  int fresh, struct ck_secret **aek, char *corr, struct st_kek_fail *f);
/* Long-polls the vault's key events after *cursor (docs/vault.md); appends them to *events (a new
 * JSON array, caller decrefs) and moves *cursor. timeout_s 0 answers at once; fresh runs the token
 * chain again (after a refusal: a restored service principal has a new object id). */
int st_kek_events(struct st *st, const struct st_kek_ref *ref, int64_t *cursor, int timeout_s, int fresh,
                  const volatile int *abort_flag, json_t **events, struct st_kek_fail *f);

/* Sets up and frees the client's state (tokens, challenges, per-vault limits). */
int st_kek_init(struct st *st);
void st_kek_cleanup(struct st *st);

/* The version segment of a versioned key id ("…/keys/{name}/{version}"), copied into out. */
int st_kek_version_of(const char *kid, char *out, size_t outlen);

#endif
