/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_AUTHZ_CHECKACCESS_H
#define CK_AUTHZ_CHECKACCESS_H

/*
 * The client of ARM's internal check-access call (POST {arm}/rp/arm/checkAccess, authenticated
 * with the resource-provider key), shared by the resource services (vault, storage): does a
 * principal hold a data action at a scope, through a role assignment at that scope or above?
 * Decisions are cached for at most CK_ACCESS_TTL_MS. ARM notifies every resource provider of
 * every role-assignment change before it answers the change; the provider then calls
 * ck_access_forget, so a role change applies to the next request. An answer that was asked for
 * before a forget is not cached (a generation counter), so a decision made before a change
 * cannot outlive it. If a notification is lost, the 5-second bound holds.
 */
#include "authz/jwt.h"
#include "core/secret.h"

#define CK_ACCESS_CACHE 256
#define CK_ACCESS_TTL_MS 5000

struct ck_access;

/*
 * Makes a client for ARM at arm_endpoint ("https://localhost:8443"), trusting ca_file (NULL: the
 * process default), authenticating with rp_key (copied; NULL: every check answers -1). Returns
 * CK_OK and sets *out, or CK_E_NOMEM / CK_E_INVALID.
 */
int ck_access_new(const char *arm_endpoint, const char *ca_file, const struct ck_secret *rp_key,
                  struct ck_access **out) CK_MUST_CHECK;
/* Frees the client and its cached decisions. NULL is a no-op. */
void ck_access_free(struct ck_access *a);

/*
 * Does caller (its oid and tid) hold the data action (full name, "Microsoft.KeyVault/vaults/keys/
 * unwrap/action") at scope (an ARM resource id)? Scope and action are compared without regard to
 * case. Returns 1 allowed, 0 denied, -1 when ARM could not answer (not cached). Thread-safe.
 */
int ck_access_check(struct ck_access *a, const struct ck_claims *caller, const char *scope, const char *action)
    CK_MUST_CHECK;

/* Like ck_access_check, for a control-plane action (is_data 0) or a data action (is_data 1). */
int ck_access_check_kind(struct ck_access *a, const struct ck_claims *caller, const char *scope, const char *action,
                         int is_data) CK_MUST_CHECK;

/* Forgets every cached decision; answers to checks in flight are not cached. Thread-safe. */
void ck_access_forget(struct ck_access *a);

#endif
