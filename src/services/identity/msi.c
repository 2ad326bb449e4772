/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Managed identities. As the Microsoft.ManagedIdentity resource provider behind ARM it creates,
 * reads, updates and deletes user-assigned identities (each an application plus a service
 * principal of type ManagedIdentity). For other resource providers it creates and deletes the
 * system-assigned identity of a resource (PUT/GET/DELETE /rp/identity/systemAssigned), stored the
 * same way with a flag and the resource's id as key, and kept out of the user-assigned listings. As
 * the managed-identity endpoint it issues tokens, over the App Service and IMDS protocols, only for
 * identities assigned to the calling workload.
 */
#include "services/identity/idp_int.h"
#include "authz/armpath.h"
#include "core/codec.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MSI_NS "Microsoft.ManagedIdentity"
#define MSI_TYPE "userAssignedIdentities"

struct msi_row {
    char *arm_id, *name, *sub, *rg, *location, *tags, *tenant_id, *principal_id, *client_id, *app_object_id;
};

static char *msi_lower(struct ck_arena *a, const char *s)
{
    char *d = ck_arena_strdup(a, s);
    for (char *c = d; c && *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return d;
}

#define MSI_COLS "arm_id, name, subscription_id, resource_group, location, tags, tenant_id, principal_id, client_id, app_object_id"

static void msi_row_read(struct ck_arena *a, struct ck_db_stmt *st, struct msi_row *r)
{
    char **f[] = {&r->arm_id, &r->name, &r->sub, &r->rg, &r->location, &r->tags,
                  &r->tenant_id, &r->principal_id, &r->client_id, &r->app_object_id};
    for (int i = 0; i < 10; i++) {
        const char *s = ck_db_col_text(st, i);
        *f[i] = ck_arena_strdup(a, s ? s : "");
    }
}

/* Finds one identity by a column (id_lower, client_id or principal_id) among the user-assigned
 * (sa 0) or the system-assigned (sa 1) identities. Returns CK_OK or CK_E_NOT_FOUND. */
static int msi_find(struct idp *idp, struct ck_arena *a, const char *col, const char *val, int sa, struct msi_row *r)
{
    struct ck_db_stmt *st = NULL;
    char sql[256];
    int rc = CK_E_NOT_FOUND;
    snprintf(sql, sizeof(sql), "SELECT " MSI_COLS " FROM managed_identities WHERE %s = ?1 AND system_assigned = %d", col,
             sa ? 1 : 0);
    ck_db_lock(idp->db);
    if (ck_db_prepare(idp->db, sql, &st) == CK_OK) {
        ck_db_bind_text(st, 1, val);
        if (ck_db_step(st) == 1) {
            msi_row_read(a, st, r);
            rc = CK_OK;
        }
    }
    ck_db_stmt_free(st);
    ck_db_unlock(idp->db);
    return rc;
}

static json_t *msi_json(const struct msi_row *r)
{
    json_t *tags = ck_json_parse(r->tags, strlen(r->tags), NULL, 0);
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:{s:s,s:s,s:s,s:s}}", "id", r->arm_id, "name", r->name, "type",
                     MSI_NS "/" MSI_TYPE, "location", r->location, "tags", tags ? tags : json_object(), "properties",
                     "tenantId", r->tenant_id, "principalId", r->principal_id, "clientId", r->client_id,
                     "isolationScope", "None");
}

static int msi_name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len < 3 || len > 128 || !isalnum((unsigned char)n[0]))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)n[i]) && n[i] != '-' && n[i] != '_')
            return 0;
    return 1;
}

/* Splits "/subscriptions/{s}[/resourceGroups/{rg}]/providers/Microsoft.ManagedIdentity/userAssignedIdentities[/{n}[/...]]". */
struct msi_path {
    char *sub, *rg, *name, *extra;
};

static int msi_parse(struct ck_arena *a, const char *path, struct msi_path *p)
{
    struct ck_arm_path ap;
    memset(p, 0, sizeof(*p));
    if (ck_arm_path_parse(a, path, MSI_NS, MSI_TYPE, &ap) != 0)
        return -1;
    p->sub = ap.sub;
    p->rg = ap.rg;
    p->name = ap.name;
    p->extra = ap.child;
    return 0;
}

static void msi_list(struct idp *idp, struct ck_req *req, struct ck_resp *resp, const struct msi_path *p)
{
    struct ck_db_stmt *st = NULL;
    json_t *arr = json_array();
    ck_db_lock(idp->db);
    if (ck_db_prepare(idp->db, "SELECT " MSI_COLS " FROM managed_identities WHERE lower(subscription_id) = lower(?1)"
                               " AND (?2 IS NULL OR lower(resource_group) = lower(?2)) AND system_assigned = 0 ORDER BY id_lower", &st) == CK_OK) {
        ck_db_bind_text(st, 1, p->sub);
        ck_db_bind_text(st, 2, p->rg);
        while (ck_db_step(st) == 1) {
            struct msi_row r;
            msi_row_read(ck_req_arena(req), st, &r);
            json_array_append_new(arr, msi_json(&r));
        }
    }
    ck_db_stmt_free(st);
    ck_db_unlock(idp->db);
    json_t *o = json_pack("{s:o}", "value", arr);
    ck_resp_json(resp, 200, o);
    json_decref(o);
}

/* What a new identity row is made of; strings are the caller's. */
struct msi_new {
    const char *id_lower, *arm_id, *name, *sub, *rg, *location, *tags, *tenant;
    int sa; /* 1: the system-assigned identity of the resource arm_id */
};

/*
 * Deletes an identity's principal (service principal sp_oid and application app_oid) and, when
 * id_lower is not NULL, its row and workload assignments, in one transaction. Returns CK_OK or a
 * store error (then nothing is deleted).
 */
static int msi_drop(struct idp *idp, const char *id_lower, const char *sp_oid, const char *app_oid)
{
    const char *q[3] = {id_lower, sp_oid, app_oid};
    ck_db_lock(idp->db);
    int rc = ck_db_begin(idp->db);
    if (rc == CK_OK && id_lower != NULL)
        rc = ck_db_run(idp->db, "DELETE FROM workload_identities WHERE mi_id_lower = ?1", 1, q);
    if (rc == CK_OK && id_lower != NULL)
        rc = ck_db_run(idp->db, "DELETE FROM managed_identities WHERE id_lower = ?1", 1, q);
    if (rc == CK_OK)
        rc = ck_db_run(idp->db, "DELETE FROM service_principals WHERE object_id = ?1", 1, q + 1);
    if (rc == CK_OK)
        rc = ck_db_run(idp->db, "DELETE FROM applications WHERE object_id = ?1", 1, q + 2);
    if (rc == CK_OK)
        rc = ck_db_commit(idp->db);
    if (rc != CK_OK)
        ck_db_rollback(idp->db);
    ck_db_unlock(idp->db);
    return rc;
}

/*
 * Creates an identity: an application (its client id) and a service principal of type
 * ManagedIdentity (its principal id) in n->tenant, then the row. On success fills r and returns
 * CK_OK. When another request stored the same id first, the principal made here is dropped, r is
 * that identity and CK_E_EXISTS is returned. Otherwise returns an error and leaves nothing behind.
 */
static int msi_create(struct idp *idp, struct ck_arena *a, const struct msi_new *n, struct msi_row *r)
{
    char app_oid[37] = "", app_id[37] = "", sp_oid[37] = "", now[24];
    int rc = idp_app_insert(idp, n->tenant, n->name, "AzureADMyOrg", "mi", app_oid, app_id);
    if (rc != CK_OK)
        return rc;
    rc = idp_sp_insert(idp, app_id, n->tenant, n->name, "ManagedIdentity", n->tenant, 0, sp_oid);
    if (rc == CK_OK) {
        snprintf(now, sizeof(now), "%lld", (long long)ck_time_now());
        const char *q[13] = {n->id_lower, n->arm_id, n->name, n->sub, n->rg, n->location, n->tags, n->tenant,
                             sp_oid, app_id, app_oid, now, n->sa ? "1" : "0"};
        ck_db_lock(idp->db);
        rc = ck_db_run(idp->db,
                       "INSERT INTO managed_identities (id_lower, arm_id, name, subscription_id, resource_group, location,"
                       " tags, tenant_id, principal_id, client_id, app_object_id, created_at, system_assigned)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, CAST(?12 AS INTEGER), CAST(?13 AS INTEGER))",
                       13, q);
        ck_db_unlock(idp->db);
    }
    if (rc == CK_OK)
        return msi_find(idp, a, "id_lower", n->id_lower, n->sa, r) == CK_OK ? CK_OK : CK_E_DB;
    if (msi_drop(idp, NULL, sp_oid, app_oid) != CK_OK)
        ck_log(CK_LOG_WARN, "identity: an unused managed-identity principal %s could not be removed", sp_oid);
    return msi_find(idp, a, "id_lower", n->id_lower, n->sa, r) == CK_OK ? CK_E_EXISTS : rc;
}

static void msi_put(struct idp *idp, struct ck_req *req, struct ck_resp *resp, const struct msi_path *p, const char *id,
                    const char *id_lower)
{
    struct ck_arena *a = ck_req_arena(req);
    size_t len;
    char err[256];
    const char *text = ck_req_body(req, &len);
    json_t *body = ck_json_parse_object(text, len, err, sizeof(err));
    const char *home = ck_req_header(req, "x-ms-home-tenant-id");
    struct msi_row r;
    char *tags = NULL;
    if (body == NULL) {
        idp_arm_error(req, resp, 400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: %s.", err);
        return;
    }
    const char *location = ck_json_str(body, "location");
    json_t *jt = json_object_get(body, "tags");
    if (location == NULL || *location == '\0' || strlen(location) > 64) {
        idp_arm_error(req, resp, 400, "LocationRequired", "The location property is required for this definition.");
        goto out;
    }
    if (jt != NULL && !json_is_object(jt) && !json_is_null(jt)) {
        idp_arm_error(req, resp, 400, "InvalidRequestContent", "The 'tags' property must be an object.");
        goto out;
    }
    tags = json_is_object(jt) ? ck_json_dump(jt) : ck_strdup("{}");
    if (tags == NULL) {
        idp_arm_error(req, resp, 500, "InternalError", "Out of memory.");
        goto out;
    }
    if (msi_find(idp, a, "id_lower", id_lower, 0, &r) == CK_OK) {
        if (strcasecmp(r.location, location) != 0) {
            idp_arm_error(req, resp, 409, "InvalidResourceLocation",
                          "The resource '%s' already exists in location '%s'. A resource with the same name cannot be "
                          "created in location '%s'.", r.name, r.location, location);
            goto out;
        }
        const char *q[2] = {tags, id_lower};
        ck_db_lock(idp->db);
        int rc = ck_db_run(idp->db, "UPDATE managed_identities SET tags = ?1 WHERE id_lower = ?2", 2, q);
        ck_db_unlock(idp->db);
        if (rc != CK_OK || msi_find(idp, a, "id_lower", id_lower, 0, &r) != CK_OK) {
            idp_arm_error(req, resp, 500, "InternalError", "The identity could not be updated.");
            goto out;
        }
        json_t *o = msi_json(&r);
        ck_resp_json(resp, 200, o);
        json_decref(o);
        goto out;
    }
    if (home == NULL || !idp_tenant_exists(idp, home)) {
        idp_arm_error(req, resp, 400, "InvalidRequest", "The subscription's tenant is unknown to the identity service.");
        goto out;
    }
    struct msi_new n = {id_lower, id, p->name, p->sub, p->rg, location, tags, home, 0};
    int rc = msi_create(idp, a, &n, &r);
    if (rc != CK_OK && rc != CK_E_EXISTS) {
        idp_arm_error(req, resp, 500, "InternalError", "The identity could not be stored.");
        goto out;
    }
    json_t *o = msi_json(&r);
    ck_resp_json(resp, rc == CK_OK ? 201 : 200, o);
    json_decref(o);
out:
    free(tags);
    json_decref(body);
}

static void msi_delete(struct idp *idp, struct ck_req *req, struct ck_resp *resp, const char *id_lower)
{
    struct msi_row r;
    if (msi_find(idp, ck_req_arena(req), "id_lower", id_lower, 0, &r) != CK_OK) {
        ck_resp_status(resp, 204);
        return;
    }
    if (msi_drop(idp, id_lower, r.principal_id, r.app_object_id) != CK_OK)
        idp_arm_error(req, resp, 500, "InternalError", "The identity could not be deleted.");
    else
        ck_resp_status(resp, 200);
}

/* ---- system-assigned identities, for other resource providers ---- */

#define MSI_SA_ID_MAX 512
#define MSI_SA_SEGS 16

/* The resource a system-assigned identity belongs to, from its ARM id. */
struct msi_sa_res {
    char *arm_id;   /* canonical: fixed segments spelled "subscriptions", "resourceGroups", "providers" */
    char *id_lower; /* the row key */
    char *sub, *rg, *name;
};

/*
 * Parses the ARM id of a resource that may own a system-assigned identity:
 * "/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{type}/{name}...]", of
 * another namespace than Microsoft.ManagedIdentity. Returns 0 and fills *out, or -1.
 */
static int msi_sa_parse(struct ck_arena *a, const char *id, struct msi_sa_res *out)
{
    char *seg[MSI_SA_SEGS];
    size_t len = id ? strlen(id) : 0;
    if (len == 0 || len > MSI_SA_ID_MAX || id[0] != '/' ||
        strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.()/") != len)
        return -1;
    int n = ck_path_segments(a, id, seg, MSI_SA_SEGS);
    if (n < 8 || n % 2 != 0 || strcasecmp(seg[0], "subscriptions") != 0 || strcasecmp(seg[2], "resourceGroups") != 0 ||
        strcasecmp(seg[4], "providers") != 0 || strcasecmp(seg[5], MSI_NS) == 0 || strchr(seg[5], '.') == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        if (strcmp(seg[i], ".") == 0 || strcmp(seg[i], "..") == 0)
            return -1;
    }
    char *canon = ck_arena_printf(a, "/subscriptions/%s/resourceGroups/%s/providers", seg[1], seg[3]);
    for (int i = 5; canon != NULL && i < n; i++)
        canon = ck_arena_printf(a, "%s/%s", canon, seg[i]);
    if (canon == NULL || (out->id_lower = msi_lower(a, canon)) == NULL)
        return -1;
    out->arm_id = canon;
    out->sub = seg[1];
    out->rg = seg[3];
    out->name = seg[n - 1];
    return 0;
}

static void msi_sa_reply(struct ck_resp *resp, int status, const struct msi_row *r)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "resourceId", r->arm_id, "principalId", r->principal_id, "clientId",
                          r->client_id, "tenantId", r->tenant_id);
    ck_resp_json(resp, status, o);
    json_decref(o);
}

/*
 * PUT {"resourceId","tenantId"[,"location"]} creates the resource's system-assigned identity, or
 * returns the one it has (idempotent by resource id); GET and DELETE take ?resourceId=. Answers
 * {"resourceId","principalId","clientId","tenantId"} (docs/internal-api.md).
 */
static void msi_sa_handle(struct idp *idp, struct ck_req *req, struct ck_resp *resp)
{
    struct ck_arena *a = ck_req_arena(req);
    const char *method = ck_req_method(req);
    struct msi_sa_res res;
    struct msi_row r;
    json_t *body = NULL;
    const char *rid;

    if (strcmp(method, "PUT") == 0) {
        size_t len;
        char err[256];
        const char *text = ck_req_body(req, &len);
        body = ck_json_parse_object(text, len, err, sizeof(err));
        if (body == NULL) {
            idp_arm_error(req, resp, 400, "InvalidRequestContent",
                          "The request content was invalid and could not be deserialized: %s.", len ? err : "empty body");
            return;
        }
        rid = ck_json_str(body, "resourceId");
    } else if (strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0) {
        rid = ck_req_query(req, "resourceId");
    } else {
        idp_arm_error(req, resp, 405, "MethodNotAllowed", "Method %s is not allowed.", method);
        return;
    }
    if (msi_sa_parse(a, rid, &res) != 0) {
        idp_arm_error(req, resp, 400, "InvalidResourceId",
                      "resourceId must be the ARM id of a resource "
                      "(/subscriptions/{s}/resourceGroups/{rg}/providers/{namespace}/{type}/{name}).");
        goto out;
    }
    if (strcmp(method, "GET") == 0) {
        if (msi_find(idp, a, "id_lower", res.id_lower, 1, &r) != CK_OK)
            idp_arm_error(req, resp, 404, "ResourceNotFound", "The resource has no system-assigned identity.");
        else
            msi_sa_reply(resp, 200, &r);
        goto out;
    }
    if (strcmp(method, "DELETE") == 0) {
        if (msi_find(idp, a, "id_lower", res.id_lower, 1, &r) != CK_OK) {
            ck_resp_status(resp, 204);
        } else if (msi_drop(idp, res.id_lower, r.principal_id, r.app_object_id) != CK_OK) {
            idp_arm_error(req, resp, 500, "InternalError", "The identity could not be deleted.");
        } else {
            ck_log(CK_LOG_INFO, "identity: system-assigned identity %s of %s deleted", r.principal_id, res.arm_id);
            ck_resp_status(resp, 200);
        }
        goto out;
    }
    const char *tid = ck_json_str(body, "tenantId");
    json_t *jl = json_object_get(body, "location");
    if (tid == NULL || strlen(tid) > 64 || !idp_tenant_exists(idp, tid)) {
        idp_arm_error(req, resp, 400, "InvalidRequest", "tenantId must name a tenant of the identity service.");
        goto out;
    }
    if (jl != NULL && !json_is_null(jl) && (!json_is_string(jl) || json_string_length(jl) > 64)) {
        idp_arm_error(req, resp, 400, "InvalidRequestContent", "location must be a string of at most 64 characters.");
        goto out;
    }
    int rc = msi_find(idp, a, "id_lower", res.id_lower, 1, &r);
    if (rc != CK_OK) {
        struct msi_new n = {res.id_lower, res.arm_id, res.name, res.sub, res.rg,
                            json_is_string(jl) ? json_string_value(jl) : "", "{}", tid, 1};
        rc = msi_create(idp, a, &n, &r);
        if (rc != CK_OK && rc != CK_E_EXISTS) {
            idp_arm_error(req, resp, 500, "InternalError", "The identity could not be stored.");
            goto out;
        }
        if (rc == CK_OK)
            ck_log(CK_LOG_INFO, "identity: system-assigned identity %s created for %s", r.principal_id, res.arm_id);
    }
    if (strcasecmp(r.tenant_id, tid) != 0) {
        idp_arm_error(req, resp, 409, "Conflict", "The resource's system-assigned identity belongs to another tenant.");
        goto out;
    }
    msi_sa_reply(resp, 200, &r);
out:
    json_decref(body);
}

static void mi_reply_token(struct ck_resp *resp, const struct msi_row *r, const char *res, const struct ck_secret *token,
                           int64_t exp);
static void mi_error(struct ck_resp *resp, int status, const char *error, const char *desc);

/*
 * POST /rp/identity/token {"identityId","resource"}: a token for a managed identity, for a resource
 * service acting as that identity (the storage service reaching a customer's vault, DESIGN.md
 * section 2). identityId is a user-assigned identity's ARM id, or the ARM id of a resource with a
 * system-assigned identity. The caller holds the RP credential and answers for having checked
 * that the identity is assigned to the resource it acts for. Answers the managed-identity token
 * shape (docs/internal-api.md).
 */
static void msi_rp_token(struct idp *idp, struct ck_req *req, struct ck_resp *resp)
{
    struct ck_arena *a = ck_req_arena(req);
    size_t len;
    char err[256];
    const char *text = ck_req_body(req, &len);
    json_t *body = ck_json_parse_object(text, len, err, sizeof(err));
    struct msi_row r;
    struct idp_sp sp;
    struct ck_secret *token = NULL;
    int64_t exp = 0;
    if (body == NULL) {
        idp_arm_error(req, resp, 400, "InvalidRequestContent",
                      "The request content was invalid and could not be deserialized: %s.", len ? err : "empty body");
        return;
    }
    const char *id = ck_json_str(body, "identityId"), *resource = ck_json_str(body, "resource");
    if (id == NULL || strlen(id) > 1000 || resource == NULL || *resource == '\0' || strlen(resource) > 600) {
        idp_arm_error(req, resp, 400, "InvalidRequestContent", "identityId and resource are required strings.");
        goto out;
    }
    char *lower = ck_arena_strdup(a, id);
    for (char *q = lower; q && *q; q++)
        *q = (char)tolower((unsigned char)*q);
    struct msi_sa_res res;
    int found = lower != NULL && msi_find(idp, a, "id_lower", lower, 0, &r) == CK_OK;
    if (!found && msi_sa_parse(a, id, &res) == 0)
        found = msi_find(idp, a, "id_lower", res.id_lower, 1, &r) == CK_OK;
    if (!found || idp_sp_by_object_id(idp, a, r.principal_id, &sp) != CK_OK) {
        idp_arm_error(req, resp, 404, "ResourceNotFound", "No managed identity %.200s.", id);
        goto out;
    }
    char *aud = ck_arena_strdup(a, resource);
    size_t al = aud ? strlen(aud) : 0;
    if (al > 9 && strcmp(aud + al - 9, "/.default") == 0)
        aud[al - 9] = '\0';
    if (aud == NULL || idp_mint(idp, r.tenant_id, &sp, aud, "2", r.arm_id, IDP_MI_TOKEN_LIFETIME, &token, &exp) != CK_OK) {
        idp_arm_error(req, resp, 500, "InternalError", "The token could not be issued.");
        goto out;
    }
    mi_reply_token(resp, &r, aud, token, exp);
    ck_secret_free(token);
out:
    json_decref(body);
}

void idp_handle_rp(struct idp *idp, struct ck_req *req, struct ck_resp *resp)
{
    struct ck_arena *a = ck_req_arena(req);
    struct msi_path p;
    const char *method = ck_req_method(req);
    const char *path = ck_req_path(req) + strlen("/rp/identity");

    if (!idp_check_shared_key(req, "RP", idp->rp_key)) {
        idp_arm_error(req, resp, 401, "AuthenticationFailed", "Only the resource manager may call the resource provider.");
        return;
    }
    const char *caller = ck_req_header(req, "x-ms-client-principal-id");
    if (caller != NULL)
        ck_req_set_principal(req, caller);
    /* Role-assignment notifications from ARM: identity keeps no authorization state to refresh. */
    if (strcmp(path, "/notifications") == 0 && strcmp(method, "POST") == 0) {
        ck_resp_status(resp, 204);
        return;
    }
    if (strcasecmp(path, "/systemAssigned") == 0) {
        msi_sa_handle(idp, req, resp);
        return;
    }
    if (strcmp(path, "/token") == 0) {
        if (strcmp(method, "POST") != 0)
            idp_arm_error(req, resp, 405, "MethodNotAllowed", "Method %s is not allowed.", method);
        else
            msi_rp_token(idp, req, resp);
        return;
    }
    if (msi_parse(a, path, &p) != 0) {
        idp_arm_error(req, resp, 404, "InvalidResourceType", "The resource type could not be found in the namespace '" MSI_NS "'.");
        return;
    }
    if (p.extra != NULL) {
        idp_arm_error(req, resp, 400, "InvalidResourceType",
                      "Child resources of user-assigned identities are not supported by this server.");
        return;
    }
    if (p.name == NULL) {
        if (strcmp(method, "GET") == 0)
            msi_list(idp, req, resp, &p);
        else
            idp_arm_error(req, resp, 405, "MethodNotAllowed", "Method %s is not allowed on a collection.", method);
        return;
    }
    if (p.rg == NULL) {
        idp_arm_error(req, resp, 404, "InvalidResourceType", "User-assigned identities live in a resource group.");
        return;
    }
    char *id = ck_arena_printf(a, "/subscriptions/%s/resourcegroups/%s/providers/" MSI_NS "/" MSI_TYPE "/%s", p.sub,
                               p.rg, p.name);
    char *id_lower = id ? msi_lower(a, id) : NULL;
    if (id_lower == NULL) {
        idp_arm_error(req, resp, 500, "InternalError", "Out of memory.");
        return;
    }
    if (strcmp(method, "PUT") == 0) {
        if (!msi_name_ok(p.name)) {
            idp_arm_error(req, resp, 400, "InvalidResourceName",
                          "Resource name '%.128s' is invalid. The name can be 3-128 characters long, start with a letter "
                          "or number, and contain only letters, numbers, hyphens and underscores.", p.name);
            return;
        }
        msi_put(idp, req, resp, &p, id, id_lower);
    } else if (strcmp(method, "GET") == 0 || strcmp(method, "PATCH") == 0) {
        struct msi_row r;
        if (msi_find(idp, a, "id_lower", id_lower, 0, &r) != CK_OK) {
            idp_arm_error(req, resp, 404, "ResourceNotFound",
                          "The Resource '" MSI_NS "/" MSI_TYPE "/%s' under resource group '%s' was not found.", p.name, p.rg);
            return;
        }
        if (strcmp(method, "PATCH") == 0) {
            size_t len;
            char err[256];
            const char *text = ck_req_body(req, &len);
            json_t *body = ck_json_parse_object(text, len, err, sizeof(err));
            json_t *jt = body ? json_object_get(body, "tags") : NULL;
            if (body == NULL || (jt != NULL && !json_is_object(jt))) {
                json_decref(body);
                idp_arm_error(req, resp, 400, "InvalidRequestContent", "The request content was invalid: %s.",
                              body ? "'tags' must be an object" : err);
                return;
            }
            if (jt != NULL) {
                char *tags = ck_json_dump(jt);
                const char *q[2] = {tags, id_lower};
                ck_db_lock(idp->db);
                (void)ck_db_run(idp->db, "UPDATE managed_identities SET tags = ?1 WHERE id_lower = ?2", 2, q);
                ck_db_unlock(idp->db);
                free(tags);
                (void)msi_find(idp, a, "id_lower", id_lower, 0, &r);
            }
            json_decref(body);
        }
        json_t *o = msi_json(&r);
        ck_resp_json(resp, 200, o);
        json_decref(o);
    } else if (strcmp(method, "DELETE") == 0) {
        msi_delete(idp, req, resp, id_lower);
    } else {
        idp_arm_error(req, resp, 405, "MethodNotAllowed", "Method %s is not allowed.", method);
    }
}

/* ---- the managed-identity endpoint ---- */

static void mi_error(struct ck_resp *resp, int status, const char *error, const char *desc)
{
    json_t *o = json_pack("{s:s,s:s}", "error", error, "error_description", desc);
    ck_resp_json(resp, status, o);
    json_decref(o);
}

/* Finds the workload whose identity header matches; writes its id into wid. */
static int mi_workload(struct idp *idp, const char *header, char wid[37])
{
    struct ck_db_stmt *st = NULL;
    int found = 0;
    if (header == NULL || strlen(header) > 128)
        return 0;
    ck_db_lock(idp->db);
    if (ck_db_prepare(idp->db, "SELECT id, salt, hash FROM workloads", &st) == CK_OK) {
        while (ck_db_step(st) == 1) {
            size_t sl = 0, hl = 0;
            const uint8_t *salt = ck_db_col_blob(st, 1, &sl);
            const uint8_t *hash = ck_db_col_blob(st, 2, &hl);
            uint8_t h[CK_SHA256_LEN];
            if (sl != CK_SECRET_SALT_LEN || hl != CK_SHA256_LEN)
                continue;
            ck_secret_hash("ck-workload-header", salt, header, strlen(header), h);
            if (ck_ct_equal(h, sizeof(h), hash, hl) && !found) {
                snprintf(wid, 37, "%s", ck_db_col_text(st, 0));
                found = 1;
            }
        }
    }
    ck_db_stmt_free(st);
    ck_db_unlock(idp->db);
    return found;
}

/* Picks the identity: by selector when given, else the workload's only identity. */
static int mi_select(struct idp *idp, struct ck_arena *a, const char *wid, const char *client_id, const char *res_id,
                     const char *object_id, struct msi_row *r, const char **why)
{
    struct ck_db_stmt *st = NULL;
    int rc = CK_E_NOT_FOUND, count = 0;
    const char *col = NULL, *val = NULL;
    if (client_id != NULL) {
        col = "m.client_id";
        val = client_id;
    } else if (res_id != NULL) {
        col = "m.id_lower";
        val = msi_lower(a, res_id);
    } else if (object_id != NULL) {
        col = "m.principal_id";
        val = object_id;
    }
    char sql[400];
    snprintf(sql, sizeof(sql),
             "SELECT m.arm_id, m.name, m.subscription_id, m.resource_group, m.location, m.tags, m.tenant_id,"
             " m.principal_id, m.client_id, m.app_object_id FROM managed_identities m JOIN workload_identities w"
             " ON w.mi_id_lower = m.id_lower WHERE w.workload_id = ?1%s%s", col ? " AND " : "", col ? col : "");
    if (col != NULL)
        snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql), " = ?2");
    *why = "Identity not found";
    ck_db_lock(idp->db);
    if (ck_db_prepare(idp->db, sql, &st) == CK_OK) {
        ck_db_bind_text(st, 1, wid);
        if (col != NULL)
            ck_db_bind_text(st, 2, val);
        while (ck_db_step(st) == 1) {
            if (count++ == 0) {
                msi_row_read(a, st, r);
                rc = CK_OK;
            }
        }
    }
    ck_db_stmt_free(st);
    ck_db_unlock(idp->db);
    if (rc == CK_OK && col == NULL && count > 1) {
        *why = "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in "
               "the token request";
        rc = CK_E_INVALID;
    }
    return rc;
}

/* Writes the managed-identity token answer (App Service and IMDS shape): the token is spliced into
 * wiped memory so that no unwiped copy of it is left behind. */
static void mi_reply_token(struct ck_resp *resp, const struct msi_row *r, const char *res, const struct ck_secret *token,
                           int64_t exp)
{
    char exp_s[24], now_s[24], life_s[24];
    snprintf(exp_s, sizeof(exp_s), "%lld", (long long)exp);
    snprintf(now_s, sizeof(now_s), "%lld", (long long)(exp - IDP_MI_TOKEN_LIFETIME));
    snprintf(life_s, sizeof(life_s), "%d", IDP_MI_TOKEN_LIFETIME);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "client_id", r->client_id, "expires_in", life_s, "expires_on",
                          exp_s, "ext_expires_in", life_s, "not_before", now_s, "resource", res, "token_type", "Bearer");
    char *rest = o ? ck_json_dump(o) : NULL;
    struct ck_buf b;
    ck_buf_init(&b, CK_JWT_MAX_LEN + 4096);
    b.secret = 1;
    if (rest == NULL || ck_buf_printf(&b, "{\"access_token\":\"%s\",%s", (const char *)ck_secret_ptr(token), rest + 1) != CK_OK) {
        mi_error(resp, 500, "server_error", "The token could not be issued.");
    } else {
        ck_resp_status(resp, 200);
        ck_resp_body(resp, "application/json; charset=utf-8", b.data, b.len);
    }
    ck_buf_cleanup(&b);
    free(rest);
    json_decref(o);
}

void idp_handle_mi(struct idp *idp, struct ck_req *req, struct ck_resp *resp)
{
    struct ck_arena *a = ck_req_arena(req);
    const char *path = ck_req_path(req);
    const char *header = ck_req_header(req, "X-IDENTITY-HEADER");
    int imds = 0;
    char wid[37];
    struct msi_row r;
    struct idp_sp sp;
    struct ck_secret *token = NULL;
    const char *why;
    int64_t exp = 0;

    /* IMDS clients can carry the workload's header only in the path: AZURE_POD_IDENTITY_AUTHORITY_HOST
     * set to {endpoint}/w/{identityHeader} makes MSAL call {that}/metadata/identity/oauth2/token. */
    if (strncmp(path, "/w/", 3) == 0) {
        const char *end = strchr(path + 3, '/');
        if (end == NULL || end == path + 3 || (size_t)(end - path - 3) > 128) {
            ck_req_set_log_path(req, "/w/(redacted)");
            mi_error(resp, 400, "invalid_request", "No managed-identity endpoint at this path.");
            return;
        }
        header = ck_arena_strndup(a, path + 3, (size_t)(end - path - 3));
        path = end;
        ck_req_set_log_path(req, ck_arena_printf(a, "/w/(redacted)%s", end));
    }
    if (strcmp(path, "/metadata/identity/oauth2/token") == 0 || strcmp(path, "/metadata/identity/oauth2/token/") == 0) {
        imds = 1;
        const char *md = ck_req_header(req, "Metadata");
        if (md == NULL || strcasecmp(md, "true") != 0) {
            mi_error(resp, 400, "invalid_request", "Required metadata header not specified");
            return;
        }
    } else if (strcmp(path, "/msi/token") != 0 && strcmp(path, "/msi/token/") != 0) {
        mi_error(resp, 400, "invalid_request", "No managed-identity endpoint at this path.");
        return;
    }
    if (strcmp(ck_req_method(req), "GET") != 0) {
        mi_error(resp, 405, "invalid_request", "Only GET is supported.");
        return;
    }
    /* Both protocols identify the calling workload by its identity header (docs/managed-identity.md). */
    if (!mi_workload(idp, header, wid)) {
        mi_error(resp, imds ? 400 : 401, "invalid_request",
                 header ? "The identity header is not valid for any workload."
                        : "The X-IDENTITY-HEADER header is required: register the workload with 'crosskey workload create'.");
        return;
    }
    const char *resource = ck_req_query(req, "resource");
    if (resource == NULL || *resource == '\0' || strlen(resource) > 600) {
        mi_error(resp, 400, "invalid_request", "Required query variable 'resource' is missing");
        return;
    }
    const char *client_id = ck_req_query(req, "client_id");
    const char *res_id = ck_req_query(req, imds ? "msi_res_id" : "mi_res_id");
    const char *object_id = ck_req_query(req, "object_id");
    if (res_id == NULL)
        res_id = ck_req_query(req, imds ? "mi_res_id" : "msi_res_id");
    if ((client_id != NULL) + (res_id != NULL) + (object_id != NULL) > 1) {
        mi_error(resp, 400, "invalid_request", "Only one of client_id, resource id and object_id may be given.");
        return;
    }
    int rc = mi_select(idp, a, wid, client_id, res_id, object_id, &r, &why);
    if (rc != CK_OK) {
        mi_error(resp, 400, "invalid_request", why);
        return;
    }
    if (idp_sp_by_object_id(idp, a, r.principal_id, &sp) != CK_OK) {
        mi_error(resp, 400, "invalid_request", "Identity not found");
        return;
    }
    /* Strip a trailing "/.default" if a client sent a scope instead of a resource. */
    char *res = ck_arena_strdup(a, resource);
    size_t rl = strlen(res);
    if (rl > 9 && strcmp(res + rl - 9, "/.default") == 0)
        res[rl - 9] = '\0';
    if (idp_mint(idp, r.tenant_id, &sp, res, "2", r.arm_id, IDP_MI_TOKEN_LIFETIME, &token, &exp) != CK_OK) {
        mi_error(resp, 500, "server_error", "The token could not be issued.");
        return;
    }
    ck_req_set_principal(req, r.principal_id);
    mi_reply_token(resp, &r, res, token, exp);
    ck_secret_free(token);
}
