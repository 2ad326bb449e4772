/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_SERVICES_ARM_INT_H
#define CK_SERVICES_ARM_INT_H

/*
 * Declarations shared by the files of the ARM service (not part of its public interface). Each
 * request is handled through a struct arm_call that lives in the request arena; handlers answer
 * through arm_reply_* and never write the response twice.
 */
#include "authz/jwt.h"
#include "authz/roles.h"
#include "core/mem.h"
#include "db/db.h"
#include "http/server/httpd.h"
#include "json/json.h"
#include "services/arm/arm.h"

#include <stddef.h>
#include <stdint.h>

#define ARM_BODY_LIMIT (1u << 20)
#define ARM_MAX_SEGMENTS 64
#define ARM_MAX_AUDIENCES 8
#define ARM_RP_TIMEOUT_MS 60000L

struct arm {
    struct ck_db *db;
    struct ck_verifier *verifier;
    char *endpoint;
    char *ca_file;
    struct ck_secret *operator_key;
    struct ck_secret *rp_key;
    struct arm_rp rps[ARM_MAX_RPS];
    int nrps;
    const char *audiences[ARM_MAX_AUDIENCES + 1];
    char *aud_store[2];
};

/* One ARM request in flight. Strings live in the request arena. */
struct arm_call {
    struct arm *arm;
    struct ck_req *req;
    struct ck_resp *resp;
    struct ck_arena *a;
    const char *method;
    char **seg; /* path segments, empty ones dropped */
    int nseg;
    struct ck_claims claims; /* valid after authentication */
    const char *sub_tenant;  /* tenant of the subscription in the path, once looked up */
};

/* A subscription row. */
struct arm_sub {
    char id[64];
    char tenant_id[64];
    char display_name[256];
};

/* ---- arm.c: replies and helpers ---- */
void arm_reply_error(struct arm_call *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void arm_reply_json(struct arm_call *c, int status, json_t *v); /* consumes v */
/* Answers 403 AuthorizationFailed for action over scope. */
void arm_reply_denied(struct arm_call *c, const char *action, const char *scope);
void arm_reply_db_error(struct arm_call *c);
/* Ends a listing: frees st, releases the store lock, answers {"value":arr} (or 500 when s < 0)
 * and drops arr. */
void arm_finish_list(struct arm_call *c, struct ck_db_stmt *st, json_t *arr, int s);
/* Answers 404 ResourceGroupNotFound (or 500) and returns -1 unless the group exists. */
int arm_require_rg(struct arm_call *c, const char *sub_id, const char *rg);
int arm_ieq(const char *a, const char *b);
char *arm_lower(struct ck_arena *a, const char *s);
/* Joins seg[0..n) as "/a/b/c" with ARM's canonical keyword case; "/" when n is 0. */
char *arm_canon_path(const struct arm *arm, struct ck_arena *a, char *const *seg, int n);
/* Splits path into non-empty segments (doubled slashes collapse). Returns the count, or -1 when
 * there are more than ARM_MAX_SEGMENTS or memory ran out. */
int arm_split_path(struct ck_arena *a, const char *path, char ***out);
/* Returns the configured provider for ns (case-insensitive), or NULL. */
const struct arm_rp *arm_find_rp(const struct arm *arm, const char *ns);
/* Parses the request body as a JSON object; on failure answers 400 InvalidRequestContent and
 * returns NULL. An empty body yields an empty object when allow_empty is set. */
json_t *arm_body_object(struct arm_call *c, int allow_empty);
/* Checks the "Authorization: <scheme> <key>" header against key in constant time. */
int arm_internal_auth(struct ck_req *req, const char *scheme, const struct ck_secret *key);
/*
 * Looks up the subscription in the path: answers 400/404/401 and returns -1 when it is malformed,
 * unknown or of another tenant than the caller's token; fills *sub and returns 0 otherwise.
 */
int arm_load_sub(struct arm_call *c, const char *sub_id, struct arm_sub *sub);

/* ---- arm_store.c ---- */
int arm_store_open(struct arm *arm, const char *data_dir) CK_MUST_CHECK;
/* Inserts a role assignment. Returns CK_OK, CK_E_EXISTS (name or principal+role+scope taken) or
 * CK_E_DB. The db lock is recursive: callers may hold it around a check-then-insert. */
int arm_ra_create(struct arm *arm, const char *name, const char *scope, const char *scope_lc, const char *role_id,
                  const char *principal, const char *principal_type, const char *tenant, const char *description,
                  const char *by) CK_MUST_CHECK;
/* Returns CK_OK and fills *out, CK_E_NOT_FOUND, or CK_E_DB. sub_id is lower case. */
int arm_sub_get(struct arm *arm, const char *sub_id, struct arm_sub *out) CK_MUST_CHECK;
int arm_sub_create(struct arm *arm, const char *tenant_id, const char *display_name, const char *owner,
                   struct arm_sub *out) CK_MUST_CHECK;
/* Returns 1 when the resource group exists (name case-insensitive), 0 when not, <0 on error. */
int arm_rg_exists(struct arm *arm, const char *sub_id, const char *rg);
/* 1 when anc (lower case, "/" for the root) is scope or one of its parents. */
int arm_scope_covers(const char *anc, const char *scope);
/*
 * The access decision: returns 1 when principal (of tenant) holds a role assignment at scope or
 * above whose role allows action; the assignment name and role name are copied out when found.
 * Returns 0 when not allowed, <0 on a store error.
 */
int arm_check_access(struct arm *arm, const char *tenant, const char *principal, const char *scope,
                     const char *action, int is_data, char assignment[64], const char **role_name);
/* 1 when principal has any assignment at, above or below scope. */
int arm_has_any_access(struct arm *arm, const char *tenant, const char *principal, const char *scope);
/* Deletes role assignments and indexed resources at scope and below. */
int arm_purge_scope(struct arm *arm, const char *scope_lc) CK_MUST_CHECK;
/* Records a resource created through a provider, with the api-version it was created with. */
int arm_index_put(struct arm *arm, const char *id, const char *type, const char *sub_id, const char *rg,
                  const char *api_version);

/* ---- the handlers ---- */
/* Authorizes action at scope for the caller; answers 403 (or 500) and returns -1 when refused. */
int arm_authorize(struct arm_call *c, const char *action, const char *scope);
void arm_handle_subscriptions(struct arm_call *c);
void arm_handle_resource_groups(struct arm_call *c);
void arm_handle_providers(struct arm_call *c);
void arm_handle_features(struct arm_call *c);
/* seg[k] is "providers" of ".../providers/Microsoft.Authorization/{roleAssignments|roleDefinitions}". */
void arm_handle_authorization(struct arm_call *c, int k);
void arm_handle_forward(struct arm_call *c);
/* Deletes every indexed resource under the group through its provider. Returns 0, or -1 after
 * answering the request with the error. */
int arm_forward_delete_group(struct arm_call *c, const char *sub_id, const char *rg);
/* /operator/arm/... (operator credential) and /rp/arm/... (resource-provider credential). */
void arm_handle_operator(struct arm_call *c);
void arm_handle_internal(struct arm_call *c);

/* For tests: the verifier that checks bearer tokens. */
struct ck_verifier *arm_verifier(struct arm *arm);

/* Notifies the provider owning scope of a role-assignment change (type RoleAssignmentCreated or
 * RoleAssignmentDeleted). Best effort. */
void arm_notify_role_change(struct arm_call *c, const char *type, const char *scope, const char *name,
                            const char *role_id, const char *principal);

#endif
