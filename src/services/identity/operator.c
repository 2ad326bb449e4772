/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The identity half of the operator API (docs/internal-api.md): tenant creation with its signing
 * key and admin application, tenant listing, and workload registration for the managed-identity
 * endpoint. Every call needs the operator credential.
 */
#include "services/identity/idp_int.h"
#include "core/codec.h"
#include "core/timeutil.h"
#include "crypto/random.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define IDP_SECRET_YEARS 2

static int idp_display_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 256)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (iscntrl((unsigned char)s[i]))
            return 0;
    return 1;
}

static void idp_tenant_create(struct idp *idp, struct ck_req *req, struct ck_resp *resp, const json_t *body)
{
    const char *name = ck_json_str(body, "displayName");
    char tid[37], app_oid[37], app_id[37], sp_oid[37], key_id[37], hint[4];
    struct ck_secret *secret = NULL;
    const char *p[3];
    char now[24];
    char admin_name[300];
    int rc;

    if (!idp_display_name_ok(name)) {
        idp_arm_error(req, resp, 400, "InvalidRequestContent",
                      "displayName is required: 1 to 256 printable characters.");
        return;
    }
    if (ck_uuid_new(tid) != 0) {
        idp_arm_error(req, resp, 500, "InternalError", "Could not make a tenant id.");
        return;
    }
    snprintf(now, sizeof(now), "%lld", (long long)ck_time_now());
    p[0] = tid;
    p[1] = name;
    p[2] = now;
    ck_db_lock(idp->db);
    rc = ck_db_run(idp->db, "INSERT INTO tenants (id, display_name, created_at) VALUES (?1, ?2, CAST(?3 AS INTEGER))", 3, p);
    ck_db_unlock(idp->db);
    if (rc != CK_OK)
        goto fail;
    if ((rc = idp_keys_create(idp, tid)) != CK_OK)
        goto fail;
    snprintf(admin_name, sizeof(admin_name), "%s-admin", name);
    if ((rc = idp_app_insert(idp, tid, admin_name, "AzureADMyOrg", "app", app_oid, app_id)) != CK_OK)
        goto fail;
    if ((rc = idp_sp_insert(idp, app_id, tid, admin_name, "Application", tid, 1, sp_oid)) != CK_OK)
        goto fail;
    if ((rc = idp_secret_add(idp, app_oid, "operator bootstrap", ck_time_now() + IDP_SECRET_YEARS * 365 * 86400LL,
                             key_id, &secret, hint)) != CK_OK)
        goto fail;
    json_t *out = json_pack("{s:s,s:s,s:s,s:s,s:s}", "tenantId", tid, "displayName", name, "clientId", app_id,
                            "clientSecret", (const char *)ck_secret_ptr(secret), "servicePrincipalId", sp_oid);
    ck_resp_json(resp, 201, out);
    json_decref(out);
    ck_secret_free(secret);
    return;
fail:
    idp_arm_error(req, resp, 500, "InternalError", "Creating the tenant failed: %s.", ck_err_text(rc));
}

static void idp_tenant_list(struct idp *idp, struct ck_req *req, struct ck_resp *resp)
{
    struct ck_db_stmt *st = NULL;
    json_t *arr = json_array();
    char ts[40];
    (void)req;
    ck_db_lock(idp->db);
    if (ck_db_prepare(idp->db, "SELECT id, display_name, created_at FROM tenants ORDER BY created_at, id", &st) == CK_OK) {
        while (ck_db_step(st) == 1) {
            ck_time_iso8601(ck_db_col_int64(st, 2), ts, sizeof(ts));
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "tenantId", ck_db_col_text(st, 0), "displayName",
                                                 ck_db_col_text(st, 1), "createdAt", ts));
        }
    }
    ck_db_stmt_free(st);
    ck_db_unlock(idp->db);
    json_t *out = json_pack("{s:o}", "value", arr);
    ck_resp_json(resp, 200, out);
    json_decref(out);
}

static void idp_workload_create(struct idp *idp, struct ck_req *req, struct ck_resp *resp, const json_t *body)
{
    json_t *ids = ck_json_arr(body, "identities");
    struct ck_secret *raw = NULL;
    char *header = NULL;
    char wid[37];
    uint8_t salt[CK_SECRET_SALT_LEN], hash[CK_SHA256_LEN];
    struct ck_db_stmt *st = NULL;
    size_t i;
    json_t *v;
    int rc = CK_E_DB;

    if (ids == NULL || json_array_size(ids) == 0 || json_array_size(ids) > 64) {
        idp_arm_error(req, resp, 400, "InvalidRequestContent",
                      "identities must be a non-empty array of user-assigned identity resource ids.");
        return;
    }
    json_array_foreach(ids, i, v) {
        if (!json_is_string(v) || strlen(json_string_value(v)) > 1024) {
            idp_arm_error(req, resp, 400, "InvalidRequestContent", "identities[%zu] must be a resource id string.", i);
            return;
        }
    }
    if (ck_rand_secret(32, &raw) != CK_OK || ck_rand_bytes(salt, sizeof(salt)) != CK_OK || ck_uuid_new(wid) != 0) {
        idp_arm_error(req, resp, 500, "InternalError", "Could not make a workload credential.");
        goto out;
    }
    /* Lower-case hex, because MSAL lower-cases the whole IMDS URL, and the header may travel in its
     * path (docs/managed-identity.md). */
    header = ck_hex_encode(ck_secret_ptr(raw), ck_secret_len(raw));
    if (header == NULL)
        goto out;
    ck_secret_hash("ck-workload-header", salt, header, strlen(header), hash);

    ck_db_lock(idp->db);
    if (ck_db_begin(idp->db) != CK_OK) {
        ck_db_unlock(idp->db);
        goto fail;
    }
    if (ck_db_prepare(idp->db, "INSERT INTO workloads (id, salt, hash, created_at) VALUES (?1, ?2, ?3, ?4)", &st) != CK_OK)
        goto rollback;
    ck_db_bind_text(st, 1, wid);
    ck_db_bind_blob(st, 2, salt, sizeof(salt));
    ck_db_bind_blob(st, 3, hash, sizeof(hash));
    ck_db_bind_int64(st, 4, ck_time_now());
    if (ck_db_step(st) < 0)
        goto rollback;
    ck_db_stmt_free(st);
    st = NULL;
    json_array_foreach(ids, i, v) {
        char *lower = ck_arena_strdup(ck_req_arena(req), json_string_value(v));
        for (char *c = lower; c && *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (ck_db_prepare(idp->db, "SELECT 1 FROM managed_identities WHERE id_lower = ?1 AND system_assigned = 0", &st) != CK_OK)
            goto rollback;
        ck_db_bind_text(st, 1, lower);
        int found = ck_db_step(st) == 1;
        ck_db_stmt_free(st);
        st = NULL;
        if (!found) {
            ck_db_rollback(idp->db);
            ck_db_unlock(idp->db);
            idp_arm_error(req, resp, 404, "ResourceNotFound", "The user-assigned identity '%s' was not found.",
                          json_string_value(v));
            goto out;
        }
        const char *p[2] = {wid, lower};
        if (ck_db_run(idp->db, "INSERT OR IGNORE INTO workload_identities (workload_id, mi_id_lower) VALUES (?1, ?2)",
                      2, p) != CK_OK)
            goto rollback;
    }
    if (ck_db_commit(idp->db) != CK_OK)
        goto rollback;
    ck_db_unlock(idp->db);
    char endpoint[512], imds[512];
    snprintf(endpoint, sizeof(endpoint), "%s/msi/token", idp->mi_endpoint);
    snprintf(imds, sizeof(imds), "%s/w/%s", idp->mi_endpoint, header);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "workloadId", wid, "identityEndpoint", endpoint, "identityHeader", header,
                          "imdsAuthorityHost", imds);
    ck_resp_json(resp, 201, o);
    json_decref(o);
    rc = CK_OK;
    goto out;
rollback:
    ck_db_stmt_free(st);
    st = NULL;
    ck_db_rollback(idp->db);
    ck_db_unlock(idp->db);
fail:
    idp_arm_error(req, resp, 500, "InternalError", "Registering the workload failed: %s.", ck_err_text(rc));
out:
    if (header != NULL)
        ck_freezero(header, strlen(header));
    ck_secret_free(raw);
}

void idp_handle_operator(struct idp *idp, struct ck_req *req, struct ck_resp *resp)
{
    const char *path = ck_req_path(req);
    const char *method = ck_req_method(req);
    json_t *body = NULL;
    char err[256];

    if (!idp_check_shared_key(req, "Operator", idp->operator_key)) {
        ck_resp_header(resp, "WWW-Authenticate", "Operator");
        idp_arm_error(req, resp, 401, "AuthenticationFailed",
                      "The operator credential is missing or wrong. Run the command as the host operator with --data DIR.");
        return;
    }
    ck_req_set_principal(req, "operator");
    if (strcmp(method, "POST") == 0) {
        size_t len;
        const char *text = ck_req_body(req, &len);
        body = ck_json_parse_object(text, len, err, sizeof(err));
        if (body == NULL) {
            idp_arm_error(req, resp, 400, "InvalidRequestContent", "The request content is not valid: %s.", err);
            return;
        }
    }
    if (strcmp(path, "/operator/identity/tenants") == 0 && strcmp(method, "POST") == 0)
        idp_tenant_create(idp, req, resp, body);
    else if (strcmp(path, "/operator/identity/tenants") == 0 && strcmp(method, "GET") == 0)
        idp_tenant_list(idp, req, resp);
    else if (strcmp(path, "/operator/identity/workloads") == 0 && strcmp(method, "POST") == 0)
        idp_workload_create(idp, req, resp, body);
    else
        idp_arm_error(req, resp, 404, "NotFound", "No operator operation at %s %s.", method, path);
    json_decref(body);
}
