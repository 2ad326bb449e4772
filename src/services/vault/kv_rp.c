/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Microsoft.KeyVault/vaults as a resource provider behind ARM (wire reference C.5): create or
 * update, get, list, patch and delete, with the vault's own origin started on creation. Soft
 * delete is always on; purge protection cannot be turned off; access policies are not supported,
 * so RBAC authorization is required. Also the vault's audit log (auditRecords, verifyAudit).
 */
#include "services/vault/kv_int.h"
#include "authz/armpath.h"
#include "authz/shared_key.h"
#include "core/codec.h"
#include "core/timeutil.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define KV_NS "Microsoft.KeyVault"
#define KV_TYPE "vaults"

void kv_arm_error(struct ck_resp *resp, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    ck_resp_json(resp, status, body);
    json_decref(body);
}

static json_t *kv_vault_json(struct kv *kv, const struct kv_vault *v)
{
    char uri[400], ts[40];
    json_t *tags = ck_json_parse(v->tags, strlen(v->tags), NULL, 0);
    struct ck_arena *a = ck_arena_new();
    char *origin = a ? kv_vault_origin(kv, a, v) : NULL;
    snprintf(uri, sizeof(uri), "%s/", origin ? origin : "");
    ck_arena_free(a);
    ck_time_iso8601(v->created_at, ts, sizeof(ts));
    json_t *props = json_pack(
        "{s:s,s:{s:s,s:s},s:[],s:b,s:b,s:b,s:b,s:i,s:b,s:s,s:s,s:s,s:{s:s,s:s,s:[],s:[]}}", "tenantId", v->tenant_id,
        "sku", "family", "A", "name", v->sku, "accessPolicies", "enabledForDeployment", 0, "enabledForDiskEncryption", 0,
        "enabledForTemplateDeployment", 0, "enableSoftDelete", 1, "softDeleteRetentionInDays", v->retention_days,
        "enableRbacAuthorization", v->rbac, "vaultUri", uri, "provisioningState", "Succeeded", "publicNetworkAccess",
        "Enabled", "networkAcls", "bypass", "AzureServices", "defaultAction", "Allow", "ipRules", "virtualNetworkRules");
    if (props != NULL && v->purge_protection)
        json_object_set_new(props, "enablePurgeProtection", json_true());
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:{s:s,s:s},s:o}", "id", v->arm_id, "name", v->name, "type", KV_NS "/" KV_TYPE,
                     "location", v->location, "tags", tags ? tags : json_object(), "systemData", "createdAt", ts,
                     "lastModifiedAt", ts, "properties", props);
}

static int kv_name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len < 3 || len > 24 || !isalpha((unsigned char)n[0]) || !isalnum((unsigned char)n[len - 1]))
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!isalnum((unsigned char)n[i]) && n[i] != '-')
            return 0;
        if (n[i] == '-' && n[i + 1] == '-')
            return 0;
    }
    return 1;
}

struct kv_rp_path {
    char *sub, *rg, *name, *action;
};

/* "/subscriptions/{s}[/resourceGroups/{rg}]/providers/Microsoft.KeyVault/vaults[/{name}[/{action}]]" */
static int kv_rp_parse(struct ck_arena *a, const char *path, struct kv_rp_path *p)
{
    struct ck_arm_path ap;
    memset(p, 0, sizeof(*p));
    if (ck_arm_path_parse(a, path, KV_NS, KV_TYPE, &ap) != 0 || ap.more > 0)
        return -1;
    p->sub = ap.sub;
    p->rg = ap.rg;
    p->name = ap.name;
    p->action = ap.child;
    return 0;
}

static void kv_rp_list(struct kv *kv, struct ck_req *req, struct ck_resp *resp, const struct kv_rp_path *p)
{
    struct ck_db_stmt *st = NULL;
    json_t *arr = json_array();
    struct ck_arena *a = ck_req_arena(req);
    char *names[1024];
    int n = 0;
    ck_db_lock(kv->db);
    if (ck_db_prepare(kv->db, "SELECT name FROM vaults WHERE deleted_at IS NULL AND subscription_id = ?1 COLLATE NOCASE"
                              " AND (?2 IS NULL OR resource_group = ?2 COLLATE NOCASE) ORDER BY name", &st) == CK_OK) {
        ck_db_bind_text(st, 1, p->sub);
        ck_db_bind_text(st, 2, p->rg);
        while (n < 1024 && ck_db_step(st) == 1)
            names[n++] = ck_arena_strdup(a, ck_db_col_text(st, 0));
    }
    ck_db_stmt_free(st);
    ck_db_unlock(kv->db);
    for (int i = 0; i < n; i++) {
        struct kv_vault v;
        if (names[i] != NULL && kv_vault_get(kv, a, names[i], 0, &v) == CK_OK)
            json_array_append_new(arr, kv_vault_json(kv, &v));
    }
    json_t *o = json_pack("{s:o,s:n}", "value", arr, "nextLink");
    ck_resp_json(resp, 200, o);
    json_decref(o);
}

/* Reads and checks the vault properties of a PUT or PATCH against the current vault (NULL for a
 * new one). Returns 1 and fills the fields, or writes a 400 and returns 0. */
static int kv_rp_props(struct ck_resp *resp, const json_t *props, const struct kv_vault *cur, const char *home,
                       int is_put, struct kv_vault *nv)
{
    json_t *j;
    if (props == NULL) {
        if (is_put) {
            kv_arm_error(resp, 400, "BadRequest", "The request must have a 'properties' object.");
            return 0;
        }
        return 1;
    }
    if (!json_is_object(props)) {
        kv_arm_error(resp, 400, "BadRequest", "'properties' must be an object.");
        return 0;
    }
    const char *tid = ck_json_str(props, "tenantId");
    if (is_put && (tid == NULL || !ck_uuid_valid(tid))) {
        kv_arm_error(resp, 400, "BadRequest", "properties.tenantId is required and must be a GUID.");
        return 0;
    }
    if (tid != NULL) {
        if (home == NULL || strcasecmp(tid, home) != 0) {
            kv_arm_error(resp, 400, "BadRequest",
                         "properties.tenantId '%s' is not the tenant of the subscription; a vault authenticates "
                         "requests with tokens of its subscription's tenant.", tid);
            return 0;
        }
        nv->tenant_id = (char *)home;
    }
    json_t *sku = json_object_get(props, "sku");
    if (is_put && !json_is_object(sku)) {
        kv_arm_error(resp, 400, "BadRequest", "properties.sku is required: {\"family\":\"A\",\"name\":\"standard\"}.");
        return 0;
    }
    if (json_is_object(sku)) {
        const char *sn = ck_json_str(sku, "name");
        const char *sf = ck_json_str(sku, "family");
        if (sn == NULL || (strcasecmp(sn, "standard") != 0 && strcasecmp(sn, "premium") != 0) ||
            (sf != NULL && strcmp(sf, "A") != 0)) {
            kv_arm_error(resp, 400, "BadRequest", "properties.sku.name must be 'standard' or 'premium' (family 'A').");
            return 0;
        }
        nv->sku = strcasecmp(sn, "premium") == 0 ? "premium" : "standard";
    }
    if ((j = json_object_get(props, "enableSoftDelete")) != NULL && !json_is_null(j)) {
        if (!json_is_boolean(j) || !json_is_true(j)) {
            kv_arm_error(resp, 400, "BadRequest", "Soft delete is always enabled; enableSoftDelete cannot be false.");
            return 0;
        }
    }
    if ((j = json_object_get(props, "softDeleteRetentionInDays")) != NULL && !json_is_null(j)) {
        if (!json_is_integer(j) || json_integer_value(j) < 7 || json_integer_value(j) > 90) {
            kv_arm_error(resp, 400, "BadRequest", "softDeleteRetentionInDays must be an integer from 7 to 90.");
            return 0;
        }
        if (cur != NULL && json_integer_value(j) != cur->retention_days) {
            kv_arm_error(resp, 400, "BadRequest",
                         "The property \"softDeleteRetentionInDays\" has been set already and it can't be modified.");
            return 0;
        }
        nv->retention_days = (int)json_integer_value(j);
    }
    if ((j = json_object_get(props, "enablePurgeProtection")) != NULL && !json_is_null(j)) {
        if (!json_is_boolean(j)) {
            kv_arm_error(resp, 400, "BadRequest", "enablePurgeProtection must be a boolean.");
            return 0;
        }
        if (!json_is_true(j) && cur != NULL && cur->purge_protection) {
            kv_arm_error(resp, 400, "BadRequest",
                         "The property \"enablePurgeProtection\" cannot be set to false. Enabling the purge "
                         "protection for a vault is an irreversible action.");
            return 0;
        }
        nv->purge_protection = json_is_true(j);
    }
    if ((j = json_object_get(props, "enableRbacAuthorization")) != NULL && !json_is_null(j)) {
        if (!json_is_boolean(j) || !json_is_true(j)) {
            kv_arm_error(resp, 400, "BadRequest",
                         "enableRbacAuthorization must be true: this server authorizes data-plane requests with "
                         "Azure RBAC only; access policies are not supported.");
            return 0;
        }
    }
    json_t *ap = json_object_get(props, "accessPolicies");
    if (json_is_array(ap) && json_array_size(ap) > 0) {
        kv_arm_error(resp, 400, "BadRequest", "Access policies are not supported; use Azure RBAC role assignments.");
        return 0;
    }
    return 1;
}

static int kv_tags_text(struct ck_resp *resp, const json_t *body, char **out)
{
    json_t *t = json_object_get(body, "tags");
    if (t == NULL || json_is_null(t)) {
        *out = NULL;
        return 1;
    }
    if (!json_is_object(t) || json_object_size(t) > 50) {
        kv_arm_error(resp, 400, "InvalidTag", "tags must be an object of at most 50 string values.");
        return 0;
    }
    const char *k;
    json_t *v;
    json_object_foreach(t, k, v) {
        if (!json_is_string(v) || strlen(k) > 512 || strlen(json_string_value(v)) > 256) {
            kv_arm_error(resp, 400, "InvalidTag", "tag '%.64s' must be a string of at most 256 characters.", k);
            return 0;
        }
    }
    *out = ck_json_dump(t);
    return *out != NULL;
}

static void kv_rp_put(struct kv *kv, struct ck_req *req, struct ck_resp *resp, const struct kv_rp_path *p,
                      const json_t *body, int is_put)
{
    struct ck_arena *a = ck_req_arena(req);
    struct kv_vault cur, nv, any;
    const char *home = ck_req_header(req, "x-ms-home-tenant-id");
    int exists = kv_vault_get(kv, a, p->name, 0, &cur) == CK_OK;
    char *tags = NULL;
    char now[24], ret[8], pp[4], port_s[16];
    int rc;

    if (!is_put && !exists) {
        kv_arm_error(resp, 404, "ResourceNotFound", "The Resource '" KV_NS "/" KV_TYPE "/%s' under resource group '%s' "
                     "was not found.", p->name, p->rg);
        return;
    }
    if (exists && (strcasecmp(cur.sub, p->sub) != 0 || strcasecmp(cur.rg, p->rg) != 0)) {
        kv_arm_error(resp, 409, "VaultAlreadyExists", "The vault name '%s' is already in use.", p->name);
        return;
    }
    if (!exists && kv_vault_get(kv, a, p->name, 1, &any) == CK_OK) {
        kv_arm_error(resp, 409, "ConflictError",
                     "A vault with the same name already exists in deleted state. You need to either recover or "
                     "purge existing key vault.");
        return;
    }
    memset(&nv, 0, sizeof(nv));
    if (exists) {
        nv = cur;
    } else {
        nv.sku = "standard";
        nv.retention_days = 90;
        nv.rbac = 1;
    }
    if (!kv_rp_props(resp, json_object_get(body, "properties"), exists ? &cur : NULL, home, is_put, &nv))
        return;
    const char *location = ck_json_str(body, "location");
    if (is_put && (location == NULL || *location == '\0' || strlen(location) > 64)) {
        kv_arm_error(resp, 400, "LocationRequired", "The location property is required for this definition.");
        return;
    }
    if (exists && location != NULL && strcasecmp(location, cur.location) != 0) {
        kv_arm_error(resp, 400, "LocationNotAvailableForResourceType",
                     "The vault exists in '%s'; its location cannot change.", cur.location);
        return;
    }
    if (!kv_tags_text(resp, body, &tags))
        return;
    snprintf(now, sizeof(now), "%lld", (long long)ck_time_now());
    snprintf(ret, sizeof(ret), "%d", nv.retention_days);
    snprintf(pp, sizeof(pp), "%d", nv.purge_protection);
    if (exists) {
        const char *q[6] = {tags ? tags : cur.tags, nv.sku, ret, pp, now, cur.name};
        ck_db_lock(kv->db);
        rc = ck_db_run(kv->db, "UPDATE vaults SET tags = ?1, sku = ?2, retention_days = CAST(?3 AS INTEGER),"
                               " purge_protection = CAST(?4 AS INTEGER), updated_at = CAST(?5 AS INTEGER)"
                               " WHERE name = ?6", 6, q);
        ck_db_unlock(kv->db);
    } else {
        char *id = ck_arena_printf(a, "/subscriptions/%s/resourceGroups/%s/providers/" KV_NS "/" KV_TYPE "/%s", p->sub,
                                   p->rg, p->name);
        const char *q[12] = {p->name, id, p->sub, p->rg, location, tags ? tags : "{}", nv.tenant_id, nv.sku, ret, pp,
                             now, "0"};
        ck_db_lock(kv->db);
        rc = ck_db_run(kv->db,
                       "INSERT INTO vaults (name, arm_id, subscription_id, resource_group, location, tags, tenant_id,"
                       " sku, retention_days, purge_protection, rbac, port, created_at, updated_at) VALUES (?1, ?2,"
                       " ?3, ?4, ?5, ?6, ?7, ?8, CAST(?9 AS INTEGER), CAST(?10 AS INTEGER), 1,"
                       " CAST(?12 AS INTEGER), CAST(?11 AS INTEGER), CAST(?11 AS INTEGER))", 12, q);
        ck_db_unlock(kv->db);
        if (rc == CK_E_EXISTS) {
            free(tags);
            kv_arm_error(resp, 409, "VaultAlreadyExists", "The vault name '%s' is already in use.", p->name);
            return;
        }
        if (rc == CK_OK) {
            unsigned port = 0;
            rc = kv_origin_start(kv, p->name, &port);
            if (rc == CK_OK) {
                snprintf(port_s, sizeof(port_s), "%u", port);
                const char *u[2] = {port_s, p->name};
                ck_db_lock(kv->db);
                rc = ck_db_run(kv->db, "UPDATE vaults SET port = CAST(?1 AS INTEGER) WHERE name = ?2", 2, u);
                ck_db_unlock(kv->db);
            } else {
                const char *d[1] = {p->name};
                ck_db_lock(kv->db);
                (void)ck_db_run(kv->db, "DELETE FROM vaults WHERE name = ?1", 1, d);
                ck_db_unlock(kv->db);
                free(tags);
                kv_arm_error(resp, 503, "ServiceUnavailable", "No port is free for the vault's origin.");
                return;
            }
        }
    }
    free(tags);
    if (rc != CK_OK || kv_vault_get(kv, a, p->name, 0, &cur) != CK_OK) {
        kv_arm_error(resp, 500, "InternalServerError", "The vault could not be stored.");
        return;
    }
    json_t *o = kv_vault_json(kv, &cur);
    ck_resp_json(resp, exists ? 200 : 201, o);
    json_decref(o);
}

static void kv_rp_delete(struct kv *kv, struct ck_req *req, struct ck_resp *resp, const struct kv_rp_path *p)
{
    struct kv_vault v;
    char now[24];
    if (kv_vault_get(kv, ck_req_arena(req), p->name, 0, &v) != CK_OK || strcasecmp(v.rg, p->rg) != 0 ||
        strcasecmp(v.sub, p->sub) != 0) {
        ck_resp_status(resp, 204);
        return;
    }
    /* Vaults are soft-deleted: the keys stay sealed in the store, the origin stops. */
    kv_origin_stop(kv, v.name);
    kv_fault_forget(kv, v.name);
    kv_keycache_drop(kv, v.name, NULL);
    snprintf(now, sizeof(now), "%lld", (long long)ck_time_now());
    const char *q[2] = {now, v.name};
    ck_db_lock(kv->db);
    int rc = ck_db_run(kv->db, "UPDATE vaults SET deleted_at = CAST(?1 AS INTEGER) WHERE name = ?2", 2, q);
    ck_db_unlock(kv->db);
    if (rc != CK_OK)
        kv_arm_error(resp, 500, "InternalServerError", "The vault could not be deleted.");
    else
        ck_resp_status(resp, 200);
}

void kv_handle_rp(struct kv *kv, struct ck_req *req, struct ck_resp *resp)
{
    struct ck_arena *a = ck_req_arena(req);
    struct kv_rp_path p;
    const char *method = ck_req_method(req);
    json_t *body = NULL;
    char err[256];

    if (!ck_shared_key_ok(ck_req_header(req, "Authorization"), "RP", kv->rp_key)) {
        kv_arm_error(resp, 401, "AuthenticationFailed", "Only the resource manager may call the resource provider.");
        return;
    }
    const char *caller = ck_req_header(req, "x-ms-client-principal-id");
    if (caller != NULL)
        ck_req_set_principal(req, caller);
    if (strcmp(ck_req_path(req), "/rp/vault/notifications") == 0 && strcmp(method, "POST") == 0) {
        kv_events_notification(kv, req, resp);
        return;
    }
    if (kv_rp_parse(a, ck_req_path(req) + strlen("/rp/vault"), &p) != 0) {
        kv_arm_error(resp, 404, "InvalidResourceType",
                     "The resource type could not be found in the namespace '" KV_NS "'.");
        return;
    }
    if (p.name == NULL) {
        if (strcmp(method, "GET") == 0)
            kv_rp_list(kv, req, resp, &p);
        else
            kv_arm_error(resp, 405, "MethodNotAllowed", "Method %s is not allowed on a collection.", method);
        return;
    }
    if (p.rg == NULL) {
        kv_arm_error(resp, 404, "InvalidResourceType", "Vaults live in a resource group.");
        return;
    }
    if (p.action != NULL) {
        struct kv_vault v;
        if (kv_vault_get(kv, a, p.name, 0, &v) != CK_OK || strcasecmp(v.rg, p.rg) != 0) {
            kv_arm_error(resp, 404, "ResourceNotFound", "The vault '%s' was not found.", p.name);
        } else if (strcasecmp(p.action, "auditRecords") == 0 && strcmp(method, "GET") == 0) {
            kv_audit_list(kv, req, resp, v.name);
        } else if (strcasecmp(p.action, "verifyAudit") == 0 && strcmp(method, "POST") == 0) {
            kv_audit_verify(kv, req, resp, v.name);
        } else {
            kv_arm_error(resp, 404, "InvalidResourceType", "No operation '%s' on vaults.", p.action);
        }
        return;
    }
    if (strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
        size_t len;
        const char *text = ck_req_body(req, &len);
        body = ck_json_parse_object(text, len, err, sizeof(err));
        if (body == NULL) {
            kv_arm_error(resp, 400, "InvalidRequestContent",
                         "The request content was invalid and could not be deserialized: %s.", err);
            return;
        }
        if (strcmp(method, "PUT") == 0 && !kv_name_ok(p.name)) {
            kv_arm_error(resp, 400, "VaultNameNotValid",
                         "The vault name '%.64s' is invalid. A vault's name must be between 3-24 alphanumeric "
                         "characters. The name must begin with a letter, end with a letter or digit, and not contain "
                         "consecutive hyphens.", p.name);
        } else {
            kv_rp_put(kv, req, resp, &p, body, strcmp(method, "PUT") == 0);
        }
        json_decref(body);
    } else if (strcmp(method, "GET") == 0) {
        struct kv_vault v;
        if (kv_vault_get(kv, a, p.name, 0, &v) != CK_OK || strcasecmp(v.rg, p.rg) != 0 || strcasecmp(v.sub, p.sub) != 0) {
            kv_arm_error(resp, 404, "ResourceNotFound",
                         "The Resource '" KV_NS "/" KV_TYPE "/%s' under resource group '%s' was not found.", p.name, p.rg);
            return;
        }
        json_t *o = kv_vault_json(kv, &v);
        ck_resp_json(resp, 200, o);
        json_decref(o);
    } else if (strcmp(method, "DELETE") == 0) {
        kv_rp_delete(kv, req, resp, &p);
    } else {
        kv_arm_error(resp, 405, "MethodNotAllowed", "Method %s is not allowed.", method);
    }
}
