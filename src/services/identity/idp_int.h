/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_SERVICES_IDP_INT_H
#define CK_SERVICES_IDP_INT_H

/* Identity service internals shared by its source files. */
#include "authz/jwt.h"
#include "core/secret.h"
#include "crypto/crypto.h"
#include "db/db.h"
#include "http/server/httpd.h"
#include "services/identity/identity.h"

#include <pthread.h>
#include <stdint.h>

#define IDP_TOKEN_LIFETIME 3599        /* app tokens, seconds (Entra: 60-90 min) */
#define IDP_MI_TOKEN_LIFETIME 86399    /* managed-identity tokens (24 h) */
#define IDP_MAX_FICS 20
#define IDP_EXCHANGE_AUDIENCE "api://AzureADTokenExchange"
#define IDP_EXCHANGE_APP_ID "fb60f99c-7a34-4190-8149-302f77469936"

/* A tenant's active signing key, loaded in memory. */
struct idp_signer {
    struct idp_signer *next;
    char tid[37];
    char kid[64];
    char *cert_b64; /* DER certificate, standard base64 (x5c) */
    struct ck_pkey *key;
};

struct idp {
    char *data_dir;
    char *authority;
    char *mi_endpoint;
    char *ca_file;
    struct ck_secret *master_key;
    struct ck_secret *operator_key;
    struct ck_secret *rp_key;
    struct ck_db *db;
    struct ck_verifier *verifier; /* our own tenants' keys, added directly */
    pthread_mutex_t lock;         /* guards signers */
    struct idp_signer *signers;
};

/* Rows as read from the store; strings live in the request arena. */
struct idp_app {
    char *object_id;
    char *app_id;
    char *tenant_id;
    char *display_name;
    char *sign_in_audience;
    char *kind; /* "app" or "mi" */
    int64_t created_at;
};

struct idp_sp {
    char *object_id;
    char *app_id;
    char *tenant_id;
    char *display_name;
    char *sp_type;
    char *app_owner_tenant_id;
    int directory_admin;
};

struct idp_fic {
    char *id;
    char *name;
    char *issuer;
    char *subject;
    char *audiences; /* JSON array text */
    char *description;
};

/* ---- store.c ---- */
int idp_store_open(struct idp *idp);
int idp_tenant_exists(struct idp *idp, const char *tid);
char *idp_tenant_name(struct idp *idp, struct ck_arena *a, const char *tid);
int idp_app_by_app_id(struct idp *idp, struct ck_arena *a, const char *app_id, struct idp_app *out);
int idp_app_by_object_id(struct idp *idp, struct ck_arena *a, const char *oid, struct idp_app *out);
int idp_sp_by_app(struct idp *idp, struct ck_arena *a, const char *app_id, const char *tid, struct idp_sp *out);
int idp_sp_by_object_id(struct idp *idp, struct ck_arena *a, const char *oid, struct idp_sp *out);
/* Creates an application and returns its ids; kind is "app" or "mi". */
int idp_app_insert(struct idp *idp, const char *tid, const char *name, const char *audience, const char *kind,
                   char object_id[37], char app_id[37]);
int idp_sp_insert(struct idp *idp, const char *app_id, const char *tid, const char *name, const char *sp_type,
                  const char *owner_tid, int directory_admin, char object_id[37]);
/* Adds a client secret to an app; *secret_text receives the secret (caller frees the secret). */
int idp_secret_add(struct idp *idp, const char *app_object_id, const char *display_name, int64_t end_at,
                   char key_id[37], struct ck_secret **secret_text, char hint[4]);
/* Returns 1 when secret matches a current secret of the app, 2 when it matches only a secret outside
 * its validity window (expired or not yet valid), 0 otherwise. Each compare is constant-time. */
int idp_secret_check(struct idp *idp, const char *app_object_id, const char *secret, size_t len);

/* ---- keys.c ---- */
/* Makes and persists a tenant's signing key. */
int idp_keys_create(struct idp *idp, const char *tid);
/* Loads every tenant's signing keys into memory and the verifier. */
int idp_keys_load(struct idp *idp);
/* Signs claims with the tenant's key; token is NUL-terminated. */
int idp_sign(struct idp *idp, const char *tid, const json_t *claims, struct ck_secret **token);
/* Returns the tenant's JWKS document (caller decrefs) or NULL. */
json_t *idp_jwks(struct idp *idp, const char *tid, const char *issuer);

/* ---- errors.c ---- */
/* Entra token-endpoint error: {"error","error_description":"AADSTS<n>: ...","error_codes":[n],...}. */
void idp_aad_error(struct ck_req *req, struct ck_resp *resp, int status, const char *error, int aadsts,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Graph error: {"error":{"code","message","innerError":{...}}}. */
void idp_graph_error(struct ck_req *req, struct ck_resp *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* ARM error envelope: {"error":{"code","message"}}. */
void idp_arm_error(struct ck_req *req, struct ck_resp *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Checks "Authorization: <scheme> <key>" against key in constant time. */
int idp_check_shared_key(struct ck_req *req, const char *scheme, const struct ck_secret *key);

/* ---- token.c ---- */
void idp_handle_token(struct idp *idp, struct ck_req *req, struct ck_resp *resp, const char *tid);
/* Mints an access token for principal (service principal row) and resource. */
int idp_mint(struct idp *idp, const char *tid, const struct idp_sp *sp, const char *resource, const char *appidacr,
             const char *mirid, int64_t lifetime, struct ck_secret **token, int64_t *exp);

/* ---- oidc.c ---- */
void idp_handle_tenant_path(struct idp *idp, struct ck_req *req, struct ck_resp *resp);

/* ---- graph.c ---- */
void idp_handle_graph(struct idp *idp, struct ck_req *req, struct ck_resp *resp);

/* ---- msi.c ---- */
void idp_handle_rp(struct idp *idp, struct ck_req *req, struct ck_resp *resp);
void idp_handle_mi(struct idp *idp, struct ck_req *req, struct ck_resp *resp);

/* ---- operator.c ---- */
void idp_handle_operator(struct idp *idp, struct ck_req *req, struct ck_resp *resp);

#endif
