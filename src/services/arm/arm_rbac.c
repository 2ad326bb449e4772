/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Microsoft.Authorization at any scope: role assignments (PUT, GET, DELETE, list with $filter
 * atScope() and principalId eq '...') and the built-in role definitions (GET by GUID, list with
 * $filter roleName eq '...'), in the shapes of wire reference C.6 (api 2022-04-01).
 */
#include "services/arm/arm_int.h"
#include "core/codec.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ARM_RA_TYPE "Microsoft.Authorization/roleAssignments"
#define ARM_RD_TYPE "Microsoft.Authorization/roleDefinitions"

/* A role assignment row, strings in the request arena. */
struct arm_ra {
    const char *name, *scope, *role_id, *principal, *principal_type, *tenant, *description;
    const char *created_by, *updated_by;
    int64_t created_on, updated_on;
};

/* The subscription id inside a scope ("/subscriptions/{s}/..."), or NULL. */
static char *arm_scope_sub(struct ck_arena *a, const char *scope)
{
    static const char pre[] = "/subscriptions/";
    const char *p, *e;
    if (strncasecmp(scope, pre, sizeof(pre) - 1) != 0)
        return NULL;
    p = scope + sizeof(pre) - 1;
    e = strchr(p, '/');
    return ck_arena_strndup(a, p, e ? (size_t)(e - p) : strlen(p));
}

/* "{scope}/providers/Microsoft.Authorization/{kind}/{name}", without a doubled slash at the root. */
static char *arm_authz_id(struct ck_arena *a, const char *scope, const char *kind, const char *name)
{
    return ck_arena_printf(a, "%s/providers/Microsoft.Authorization/%s/%s", strcmp(scope, "/") == 0 ? "" : scope,
                           kind, name);
}

static json_t *arm_str_array(const char *const *v)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && v != NULL && v[i] != NULL; i++)
        json_array_append_new(arr, json_string(v[i]));
    return arr;
}

static json_t *arm_role_json(struct arm_call *c, const struct ck_role *r, const char *scope)
{
    char *sub = arm_scope_sub(c->a, scope);
    char *id = arm_authz_id(c->a, sub ? ck_arena_printf(c->a, "/subscriptions/%s", sub) : "/", "roleDefinitions", r->id);
    json_t *perm = json_pack("{s:o,s:o,s:o,s:o}", "actions", arm_str_array(r->actions), "notActions",
                             arm_str_array(r->not_actions), "dataActions", arm_str_array(r->data_actions),
                             "notDataActions", arm_str_array(r->not_data_actions));
    if (id == NULL || perm == NULL) {
        json_decref(perm);
        return NULL;
    }
    return json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:[s],s:[o],s:s,s:s,s:n,s:n}}", "id", id, "name", r->id, "type",
                     ARM_RD_TYPE, "properties", "roleName", r->name, "type", "BuiltInRole", "description",
                     r->description, "assignableScopes", "/", "permissions", perm, "createdOn",
                     "2015-02-02T21:55:09.8806423Z", "updatedOn", "2024-01-01T00:00:00.0000000Z", "createdBy",
                     "updatedBy");
}

static json_t *arm_ra_json(struct arm_call *c, const struct arm_ra *ra)
{
    char created[40], updated[40];
    char *sub = arm_scope_sub(c->a, ra->scope);
    char *rd = sub ? ck_arena_printf(c->a, "/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s",
                                     sub, ra->role_id)
                   : ck_arena_printf(c->a, "/providers/Microsoft.Authorization/roleDefinitions/%s", ra->role_id);
    char *id = arm_authz_id(c->a, ra->scope, "roleAssignments", ra->name);
    if (rd == NULL || id == NULL)
        return NULL;
    ck_time_iso8601(ra->created_on, created, sizeof(created));
    ck_time_iso8601(ra->updated_on, updated, sizeof(updated));
    json_t *props = json_pack("{s:s,s:s,s:s,s:s,s:n,s:n,s:s,s:s,s:n}", "roleDefinitionId", rd, "principalId",
                              ra->principal, "principalType", ra->principal_type, "scope", ra->scope, "condition",
                              "conditionVersion", "createdOn", created, "updatedOn", updated,
                              "delegatedManagedIdentityResourceId");
    if (props == NULL)
        return NULL;
    ck_json_set_str(props, "createdBy", ra->created_by);
    ck_json_set_str(props, "updatedBy", ra->updated_by);
    ck_json_set_str(props, "description", ra->description);
    return json_pack("{s:s,s:s,s:s,s:o}", "id", id, "name", ra->name, "type", ARM_RA_TYPE, "properties", props);
}

#define ARM_RA_COLS                                                                                                  \
    "name, scope, role_id, principal_id, principal_type, tenant_id, description, created_on, updated_on, created_by," \
    " updated_by, scope_lc"

static char *arm_col(struct arm_call *c, struct ck_db_stmt *st, int i)
{
    const char *s = ck_db_col_text(st, i);
    return s ? ck_arena_strdup(c->a, s) : NULL;
}

static void arm_ra_read(struct arm_call *c, struct ck_db_stmt *st, struct arm_ra *ra)
{
    ra->name = arm_col(c, st, 0);
    ra->scope = arm_col(c, st, 1);
    ra->role_id = arm_col(c, st, 2);
    ra->principal = arm_col(c, st, 3);
    ra->principal_type = arm_col(c, st, 4);
    ra->tenant = arm_col(c, st, 5);
    ra->description = arm_col(c, st, 6);
    ra->created_on = ck_db_col_int64(st, 7);
    ra->updated_on = ck_db_col_int64(st, 8);
    ra->created_by = arm_col(c, st, 9);
    ra->updated_by = arm_col(c, st, 10);
    if (ra->name == NULL)
        ra->name = "";
    if (ra->scope == NULL)
        ra->scope = "/";
}

/* Loads the assignment named name (any scope). Returns 1 found, 0 absent, <0 on error. */
static int arm_ra_load(struct arm_call *c, const char *name, struct arm_ra *ra)
{
    struct ck_db_stmt *st = NULL;
    int s = -1;
    ck_db_lock(c->arm->db);
    if (ck_db_prepare(c->arm->db, "SELECT " ARM_RA_COLS " FROM role_assignments WHERE name = lower(?1)", &st) !=
            CK_OK ||
        ck_db_bind_text(st, 1, name) != CK_OK)
        goto out;
    s = ck_db_step(st);
    if (s == 1)
        arm_ra_read(c, st, ra);
out:
    ck_db_stmt_free(st);
    ck_db_unlock(c->arm->db);
    return s;
}

/* The GUID of a role definition id: a bare GUID or ".../roleDefinitions/{guid}". */
static const char *arm_role_guid(const char *rdid)
{
    const char *p = strrchr(rdid, '/');
    if (p == NULL)
        return rdid;
    size_t n = (size_t)(p - rdid);
    static const char tail[] = "/providers/Microsoft.Authorization/roleDefinitions";
    if (n < sizeof(tail) - 1 || strncasecmp(p - (sizeof(tail) - 1), tail, sizeof(tail) - 1) != 0)
        return NULL;
    return p + 1;
}

/* Reads an optional string member; answers 400 and returns -1 when it has another type. */
static int arm_opt_str(struct arm_call *c, const json_t *obj, const char *key, const char **out)
{
    json_t *v = ck_json_get_ci(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        arm_reply_error(c, 400, "InvalidRequestContent",
                        "The request content was invalid and could not be deserialized: 'properties.%s' must be a "
                        "string.",
                        key);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static void arm_ra_put(struct arm_call *c, const char *scope, const char *name)
{
    json_t *body = NULL, *props;
    const char *rdid, *principal, *ptype, *desc, *cond, *guid;
    const struct ck_role *role;
    struct arm_ra ra = {0};
    char *scope_lc = arm_lower(c->a, scope), *name_lc = arm_lower(c->a, name), *principal_lc;
    int found, rc, locked = 0, created = 0;

    if (!ck_uuid_valid(name)) {
        arm_reply_error(c, 400, "InvalidRoleAssignmentId",
                        "The role assignment ID '%s' is not valid. The role assignment ID must be a GUID.", name);
        goto out;
    }
    if (arm_authorize(c, "Microsoft.Authorization/roleAssignments/write", scope) != 0)
        goto out;
    if ((body = arm_body_object(c, 0)) == NULL)
        goto out;
    props = ck_json_get_ci(body, "properties");
    if (!json_is_object(props)) {
        arm_reply_error(c, 400, "InvalidRequestContent",
                        "The request content was invalid and could not be deserialized: 'properties' must be an "
                        "object.");
        goto out;
    }
    if (arm_opt_str(c, props, "roleDefinitionId", &rdid) != 0 || arm_opt_str(c, props, "principalId", &principal) != 0 ||
        arm_opt_str(c, props, "principalType", &ptype) != 0 || arm_opt_str(c, props, "description", &desc) != 0 ||
        arm_opt_str(c, props, "condition", &cond) != 0)
        goto out;
    if (rdid == NULL || principal == NULL) {
        arm_reply_error(c, 400, "InvalidRequestContent",
                        "The request content was invalid: 'properties.roleDefinitionId' and 'properties.principalId' "
                        "are required.");
        goto out;
    }
    if (!ck_uuid_valid(principal)) {
        arm_reply_error(c, 400, "InvalidPrincipalId", "The principal ID '%.64s' is not valid. It must be a GUID.",
                        principal);
        goto out;
    }
    if (cond != NULL) {
        arm_reply_error(c, 400, "InvalidRequestContent", "Conditions on role assignments are not supported.");
        goto out;
    }
    if (ptype == NULL)
        ptype = "ServicePrincipal";
    if (strlen(ptype) > 32 || (desc != NULL && strlen(desc) > 2048)) {
        arm_reply_error(c, 400, "InvalidRequestContent", "'principalType' or 'description' is too long.");
        goto out;
    }
    guid = arm_role_guid(rdid);
    role = guid ? ck_role_find(guid) : NULL;
    if (role == NULL) {
        arm_reply_error(c, 400, "RoleDefinitionDoesNotExist", "The specified role definition with ID '%.200s' does not exist.",
                        guid ? guid : rdid);
        goto out;
    }
    principal_lc = arm_lower(c->a, principal);
    if (scope_lc == NULL || name_lc == NULL || principal_lc == NULL) {
        arm_reply_db_error(c);
        goto out;
    }
    /* Check and insert under one hold of the (recursive) store lock. */
    ck_db_lock(c->arm->db);
    locked = 1;
    found = arm_ra_load(c, name_lc, &ra);
    if (found < 0) {
        arm_reply_db_error(c);
        goto out;
    }
    if (found) {
        if (strcmp(arm_lower(c->a, ra.scope), scope_lc) == 0 && strcasecmp(ra.role_id, role->id) == 0 &&
            strcasecmp(ra.principal, principal_lc) == 0) {
            arm_reply_json(c, 200, arm_ra_json(c, &ra));
        } else {
            arm_reply_error(c, 409, "RoleAssignmentUpdateNotPermitted",
                            "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.");
        }
        goto out;
    }
    rc = arm_ra_create(c->arm, name_lc, scope, scope_lc, role->id, principal_lc, ptype, c->sub_tenant, desc,
                       c->claims.oid);
    if (rc == CK_E_EXISTS) {
        arm_reply_error(c, 409, "RoleAssignmentExists", "The role assignment already exists.");
        goto out;
    }
    if (rc != CK_OK || arm_ra_load(c, name_lc, &ra) != 1) {
        arm_reply_db_error(c);
        goto out;
    }
    arm_reply_json(c, 201, arm_ra_json(c, &ra));
    created = 1;
out:
    if (locked)
        ck_db_unlock(c->arm->db);
    if (created)
        arm_notify_role_change(c, "RoleAssignmentCreated", ra.scope, ra.name, ra.role_id, ra.principal);
    json_decref(body);
}

static void arm_ra_get_delete(struct arm_call *c, const char *scope, const char *name, int del)
{
    struct arm_ra ra = {0};
    int found;
    const char *p[1];
    if (arm_authorize(c, del ? "Microsoft.Authorization/roleAssignments/delete" : "Microsoft.Authorization/roleAssignments/read",
                      scope) != 0)
        return;
    found = ck_uuid_valid(name) ? arm_ra_load(c, name, &ra) : 0;
    if (found < 0) {
        arm_reply_db_error(c);
        return;
    }
    if (found && strcasecmp(ra.scope, scope) != 0)
        found = 0;
    if (!found) {
        if (del) {
            ck_resp_status(c->resp, 204);
            return;
        }
        arm_reply_error(c, 404, "RoleAssignmentNotFound", "The role assignment '%s' is not found.", name);
        return;
    }
    if (del) {
        int rc;
        p[0] = ra.name;
        ck_db_lock(c->arm->db);
        rc = ck_db_run(c->arm->db, "DELETE FROM role_assignments WHERE name = ?1", 1, p);
        ck_db_unlock(c->arm->db);
        if (rc != CK_OK) {
            arm_reply_db_error(c);
            return;
        }
        arm_notify_role_change(c, "RoleAssignmentDeleted", ra.scope, ra.name, ra.role_id, ra.principal);
    }
    arm_reply_json(c, 200, arm_ra_json(c, &ra));
}

/* Extracts the quoted value after key in a $filter ("principalId eq 'x'"); NULL when absent. */
static char *arm_filter_value(struct ck_arena *a, const char *filter, const char *key)
{
    const char *p = filter ? strcasestr(filter, key) : NULL;
    const char *q, *e;
    if (p == NULL)
        return NULL;
    q = strchr(p + strlen(key), '\'');
    if (q == NULL)
        return NULL;
    e = strchr(q + 1, '\'');
    if (e == NULL)
        return NULL;
    return ck_arena_strndup(a, q + 1, (size_t)(e - q - 1));
}

static void arm_ra_list(struct arm_call *c, const char *scope)
{
    const char *filter = ck_req_query(c->req, "$filter");
    int at_scope = filter != NULL && strcasestr(filter, "atScope()") != NULL;
    char *principal = arm_filter_value(c->a, filter, "principalId eq");
    char *assigned = arm_filter_value(c->a, filter, "assignedTo(");
    struct ck_db_stmt *st = NULL;
    json_t *arr = json_array();
    int s;

    if (principal == NULL)
        principal = assigned;
    if (arm_authorize(c, "Microsoft.Authorization/roleAssignments/read", scope) != 0)
        goto out;
    ck_db_lock(c->arm->db);
    if (arr == NULL ||
        ck_db_prepare(c->arm->db, "SELECT " ARM_RA_COLS " FROM role_assignments WHERE tenant_id = lower(?1) ORDER BY created_on, name",
                      &st) != CK_OK ||
        ck_db_bind_text(st, 1, c->sub_tenant) != CK_OK) {
        ck_db_unlock(c->arm->db);
        arm_reply_db_error(c);
        goto out;
    }
    while ((s = ck_db_step(st)) == 1) {
        struct arm_ra ra = {0};
        const char *sc = ck_db_col_text(st, 11);
        if (sc == NULL || !(arm_scope_covers(sc, scope) || (!at_scope && arm_scope_covers(scope, sc))))
            continue;
        arm_ra_read(c, st, &ra);
        if (principal != NULL && strcasecmp(principal, ra.principal ? ra.principal : "") != 0)
            continue;
        json_array_append_new(arr, arm_ra_json(c, &ra));
    }
    ck_db_unlock(c->arm->db);
    if (s < 0) {
        arm_reply_db_error(c);
        goto out;
    }
    arm_reply_json(c, 200, json_pack("{s:O}", "value", arr));
out:
    ck_db_stmt_free(st);
    json_decref(arr);
}

static void arm_rd_handle(struct arm_call *c, const char *scope, const char *name)
{
    const struct ck_role *r;
    if (strcmp(c->method, "GET") != 0) {
        arm_reply_error(c, 405, "MethodNotAllowed", "Only built-in role definitions exist; they are read-only.");
        return;
    }
    if (strcmp(scope, "/") != 0 && arm_authorize(c, "Microsoft.Authorization/roleDefinitions/read", scope) != 0)
        return;
    if (name != NULL) {
        r = ck_role_find(name);
        if (r == NULL) {
            arm_reply_error(c, 404, "RoleDefinitionDoesNotExist",
                            "The specified role definition with ID '%s' does not exist.", name);
            return;
        }
        arm_reply_json(c, 200, arm_role_json(c, r, scope));
        return;
    }
    const char *filter = ck_req_query(c->req, "$filter");
    char *want = arm_filter_value(c->a, filter, "roleName eq");
    size_t n;
    const struct ck_role *all = ck_roles_builtin(&n);
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++) {
        if (want == NULL || strcasecmp(want, all[i].name) == 0)
            json_array_append_new(arr, arm_role_json(c, &all[i], scope));
    }
    arm_reply_json(c, 200, arr ? json_pack("{s:o}", "value", arr) : NULL);
}

void arm_handle_authorization(struct arm_call *c, int k)
{
    char **s = c->seg;
    int rest = c->nseg - (k + 3);
    int defs = arm_ieq(s[k + 2], "roleDefinitions");
    const char *name = rest == 1 ? s[k + 3] : NULL;
    char *scope = arm_canon_path(c->arm, c->a, s, k);
    struct arm_sub sub;

    if (scope == NULL) {
        arm_reply_db_error(c);
        return;
    }
    if (rest > 1) {
        arm_reply_error(c, 404, "NotFound", "No HTTP resource was found that matches the request URI.");
        return;
    }
    if (k > 0) {
        if (!arm_ieq(s[0], "subscriptions") || k < 2) {
            arm_reply_error(c, 400, "InvalidScope", "The scope '%s' is not valid.", scope);
            return;
        }
        if (arm_load_sub(c, s[1], &sub) != 0)
            return;
        if (k >= 4 && arm_ieq(s[2], "resourceGroups") && arm_require_rg(c, sub.id, s[3]) != 0)
            return;
    }
    if (defs) {
        arm_rd_handle(c, scope, name);
        return;
    }
    if (k == 0) {
        /* Assignments at the root scope are not supported: nobody holds a role there. */
        arm_reply_denied(c, "Microsoft.Authorization/roleAssignments/read", "/");
        return;
    }
    if (name == NULL) {
        if (strcmp(c->method, "GET") == 0)
            arm_ra_list(c, scope);
        else
            arm_reply_error(c, 405, "MethodNotAllowed", "The requested method is not allowed on this collection.");
        return;
    }
    if (strcmp(c->method, "PUT") == 0)
        arm_ra_put(c, scope, name);
    else if (strcmp(c->method, "GET") == 0)
        arm_ra_get_delete(c, scope, name, 0);
    else if (strcmp(c->method, "DELETE") == 0)
        arm_ra_get_delete(c, scope, name, 1);
    else
        arm_reply_error(c, 405, "MethodNotAllowed", "The requested method is not allowed on a role assignment.");
}
