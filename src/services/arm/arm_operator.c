/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ARM's internal APIs (docs/internal-api.md): the operator API that creates and lists
 * subscriptions (operator credential), and, for resource services, check-access and a feature
 * state getter (resource-provider credential). Both credentials are compared in constant time.
 */
#include "services/arm/arm_int.h"
#include "core/codec.h"

#include <string.h>
#include <strings.h>

static void arm_reply_unauthenticated(struct arm_call *c)
{
    arm_reply_error(c, 401, "AuthenticationFailed",
                    "Authentication failed. The internal credential is missing or invalid.");
}

/* Reads a required string member of at most max bytes; answers 400 and returns NULL otherwise. */
static const char *arm_req_str(struct arm_call *c, const json_t *o, const char *key, size_t max)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max) {
        arm_reply_error(c, 400, "InvalidRequestContent", "'%s' is required and must be a non-empty string of at most %zu characters.",
                        key, max);
        return NULL;
    }
    return json_string_value(v);
}

static void arm_operator_create(struct arm_call *c)
{
    json_t *body = arm_body_object(c, 0), *owner_v;
    const char *tenant, *name, *owner = NULL;
    struct arm_sub sub;
    char *tenant_lc, *owner_lc = NULL;
    if (body == NULL)
        return;
    if ((tenant = arm_req_str(c, body, "tenantId", 64)) == NULL || (name = arm_req_str(c, body, "displayName", 200)) == NULL)
        goto out;
    owner_v = json_object_get(body, "ownerPrincipalId");
    if (owner_v != NULL && !json_is_null(owner_v)) {
        if (!json_is_string(owner_v) || !ck_uuid_valid(json_string_value(owner_v))) {
            arm_reply_error(c, 400, "InvalidRequestContent", "'ownerPrincipalId' must be a GUID.");
            goto out;
        }
        owner = json_string_value(owner_v);
    }
    if (!ck_uuid_valid(tenant)) {
        arm_reply_error(c, 400, "InvalidRequestContent", "'tenantId' must be a GUID.");
        goto out;
    }
    tenant_lc = arm_lower(c->a, tenant);
    if (owner != NULL)
        owner_lc = arm_lower(c->a, owner);
    if (tenant_lc == NULL || (owner != NULL && owner_lc == NULL) ||
        arm_sub_create(c->arm, tenant_lc, name, owner_lc, &sub) != CK_OK) {
        arm_reply_db_error(c);
        goto out;
    }
    arm_reply_json(c, 201, json_pack("{s:s,s:s,s:s}", "subscriptionId", sub.id, "tenantId", sub.tenant_id,
                                     "displayName", sub.display_name));
out:
    json_decref(body);
}

static void arm_operator_list(struct arm_call *c)
{
    struct ck_db_stmt *st = NULL;
    json_t *arr = json_array();
    int s = -1;
    ck_db_lock(c->arm->db);
    if (arr != NULL &&
        ck_db_prepare(c->arm->db, "SELECT id, tenant_id, display_name FROM subscriptions ORDER BY created_at", &st) ==
            CK_OK) {
        while ((s = ck_db_step(st)) == 1)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "subscriptionId", ck_db_col_text(st, 0), "tenantId",
                                                 ck_db_col_text(st, 1), "displayName", ck_db_col_text(st, 2)));
    }
    arm_finish_list(c, st, arr, s);
}

void arm_handle_operator(struct arm_call *c)
{
    const char *path = ck_req_path(c->req);
    if (!arm_internal_auth(c->req, "Operator", c->arm->operator_key)) {
        arm_reply_unauthenticated(c);
        return;
    }
    ck_req_set_principal(c->req, "operator");
    if (strcmp(path, "/operator/arm/subscriptions") != 0 && strcmp(path, "/operator/arm/subscriptions/") != 0) {
        arm_reply_error(c, 404, "NotFound", "No operator API at this path.");
        return;
    }
    if (strcmp(c->method, "POST") == 0)
        arm_operator_create(c);
    else if (strcmp(c->method, "GET") == 0)
        arm_operator_list(c);
    else
        arm_reply_error(c, 405, "MethodNotAllowed", "Use GET or POST.");
}

/* The full id of the assignment named name, or NULL. */
static char *arm_assignment_id(struct arm_call *c, const char *name)
{
    struct ck_db_stmt *st = NULL;
    char *r = NULL;
    ck_db_lock(c->arm->db);
    if (ck_db_prepare(c->arm->db, "SELECT scope FROM role_assignments WHERE name = ?1", &st) == CK_OK &&
        ck_db_bind_text(st, 1, name) == CK_OK && ck_db_step(st) == 1)
        r = ck_arena_printf(c->a, "%s/providers/Microsoft.Authorization/roleAssignments/%s", ck_db_col_text(st, 0), name);
    ck_db_stmt_free(st);
    ck_db_unlock(c->arm->db);
    return r;
}

static void arm_check_access_api(struct arm_call *c)
{
    json_t *body = arm_body_object(c, 0), *isdata;
    const char *principal, *tenant, *scope_in, *action, *role_name = NULL;
    char assignment[64] = "", **seg = NULL, *scope;
    struct arm_sub sub;
    int n, allowed = 0, r;
    if (body == NULL)
        return;
    if ((principal = arm_req_str(c, body, "principalId", 64)) == NULL ||
        (tenant = arm_req_str(c, body, "tenantId", 64)) == NULL ||
        (scope_in = arm_req_str(c, body, "scope", 4096)) == NULL || (action = arm_req_str(c, body, "action", 512)) == NULL)
        goto out;
    isdata = json_object_get(body, "isDataAction");
    if (isdata != NULL && !json_is_boolean(isdata)) {
        arm_reply_error(c, 400, "InvalidRequestContent", "'isDataAction' must be a boolean.");
        goto out;
    }
    n = arm_split_path(c->a, scope_in, &seg);
    if (n < 0) {
        arm_reply_error(c, 400, "InvalidRequestContent", "'scope' has too many segments.");
        goto out;
    }
    scope = arm_canon_path(c->arm, c->a, seg, n);
    if (scope == NULL) {
        arm_reply_db_error(c);
        goto out;
    }
    /* Only scopes inside a subscription of that tenant can grant anything. */
    if (n >= 2 && arm_ieq(seg[0], "subscriptions") && ck_uuid_valid(seg[1])) {
        char *lc = arm_lower(c->a, seg[1]);
        r = lc ? arm_sub_get(c->arm, lc, &sub) : CK_E_NOMEM;
        if (r != CK_OK && r != CK_E_NOT_FOUND) {
            arm_reply_db_error(c);
            goto out;
        }
        if (r == CK_OK && strcasecmp(sub.tenant_id, tenant) == 0) {
            allowed = arm_check_access(c->arm, tenant, principal, scope, action, json_is_true(isdata), assignment,
                                       &role_name);
            if (allowed < 0) {
                arm_reply_db_error(c);
                goto out;
            }
        }
    }
    json_t *res = json_pack("{s:b}", "allowed", allowed);
    if (res != NULL) {
        ck_json_set_str(res, "roleAssignmentId", allowed ? arm_assignment_id(c, assignment) : NULL);
        ck_json_set_str(res, "roleDefinitionName", allowed ? role_name : NULL);
    }
    arm_reply_json(c, 200, res);
out:
    json_decref(body);
}

/* GET /rp/arm/features?subscriptionId=..&namespace=..&name=.. -> {"state", "effective"}: effective
 * when the feature is Registered and the namespace's provider was registered again after it (the
 * provider only learns of a feature at its registration, as in Azure). */
static void arm_feature_state_api(struct arm_call *c)
{
    const char *sub = ck_req_query(c->req, "subscriptionId"), *ns = ck_req_query(c->req, "namespace"),
               *name = ck_req_query(c->req, "name");
    struct ck_db_stmt *st = NULL;
    char *state = NULL;
    int s = -1, effective = 0;
    if (sub == NULL || ns == NULL || name == NULL) {
        arm_reply_error(c, 400, "InvalidRequestContent", "'subscriptionId', 'namespace' and 'name' are required.");
        return;
    }
    ck_db_lock(c->arm->db);
    if (ck_db_prepare(c->arm->db,
                      "SELECT f.state, f.state = 'Registered' AND p.state = 'Registered' AND f.registered_ms IS NOT NULL"
                      " AND p.registered_ms IS NOT NULL AND p.registered_ms >= f.registered_ms"
                      " FROM features f LEFT JOIN providers p ON p.sub_id = f.sub_id AND p.ns_lc = f.ns_lc"
                      " WHERE lower(f.sub_id) = lower(?1) AND f.ns_lc = lower(?2) AND f.name_lc = lower(?3)",
                      &st) == CK_OK &&
        ck_db_bind_text(st, 1, sub) == CK_OK && ck_db_bind_text(st, 2, ns) == CK_OK &&
        ck_db_bind_text(st, 3, name) == CK_OK) {
        s = ck_db_step(st);
        if (s == 1) {
            state = ck_arena_strdup(c->a, ck_db_col_text(st, 0));
            effective = ck_db_col_int64(st, 1) != 0;
        }
    }
    ck_db_stmt_free(st);
    ck_db_unlock(c->arm->db);
    if (s < 0) {
        arm_reply_db_error(c);
        return;
    }
    arm_reply_json(c, 200, json_pack("{s:s,s:b}", "state", state ? state : "NotRegistered", "effective", effective));
}

void arm_handle_internal(struct arm_call *c)
{
    const char *path = ck_req_path(c->req);
    if (!arm_internal_auth(c->req, "RP", c->arm->rp_key)) {
        arm_reply_unauthenticated(c);
        return;
    }
    if (strcmp(path, "/rp/arm/checkAccess") == 0 && strcmp(c->method, "POST") == 0)
        arm_check_access_api(c);
    else if (strcmp(path, "/rp/arm/features") == 0 && strcmp(c->method, "GET") == 0)
        arm_feature_state_api(c);
    else
        arm_reply_error(c, 404, "NotFound", "No internal API at this path.");
}
