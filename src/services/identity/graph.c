/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Microsoft Graph subset (wire reference C.8): applications, their federated identity
 * credentials and client secrets, and service principals. The caller's tenant is the token's
 * tenant; writes and reads need directory admin rights (held by each tenant's admin application).
 */
#include "services/identity/idp_int.h"
#include "core/codec.h"
#include "core/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define GRAPH_CTX "https://graph.microsoft.com/v1.0/$metadata#"

static const char *const graph_audiences[] = {
    "https://graph.microsoft.com", "https://graph.microsoft.com/", "00000003-0000-0000-c000-000000000000",
    "https://graph.windows.net", "https://graph.windows.net/", NULL,
};

struct graph_call {
    struct idp *idp;
    struct ck_req *req;
    struct ck_resp *resp;
    struct ck_arena *a;
    struct ck_claims claims;
    struct idp_sp caller;
    json_t *body;
};

/* Authenticates the bearer token and loads the calling principal. Returns 1 or writes an error. */
static int graph_auth(struct graph_call *g)
{
    const char *tok = ck_bearer_token(ck_req_header(g->req, "Authorization"));
    if (tok == NULL) {
        idp_graph_error(g->req, g->resp, 401, "InvalidAuthenticationToken", "Access token is empty.");
        return 0;
    }
    enum ck_token_fail why = ck_verify_token(g->idp->verifier, tok, graph_audiences, NULL, &g->claims);
    if (why != CK_TF_NONE) {
        idp_graph_error(g->req, g->resp, 401, "InvalidAuthenticationToken", "Access token validation failure: %s.",
                        ck_token_fail_text(why));
        return 0;
    }
    if (idp_sp_by_object_id(g->idp, g->a, g->claims.oid, &g->caller) != CK_OK ||
        strcmp(g->caller.tenant_id, g->claims.tid) != 0) {
        idp_graph_error(g->req, g->resp, 401, "InvalidAuthenticationToken",
                        "Access token validation failure: the calling principal no longer exists in the tenant.");
        return 0;
    }
    ck_req_set_principal(g->req, g->claims.oid);
    if (!g->caller.directory_admin) {
        idp_graph_error(g->req, g->resp, 403, "Authorization_RequestDenied",
                        "Insufficient privileges to complete the operation.");
        return 0;
    }
    return 1;
}

static void graph_send(struct graph_call *g, int status, json_t *v)
{
    ck_resp_header(g->resp, "OData-Version", "4.0");
    ck_resp_json(g->resp, status, v);
    json_decref(v);
}

static void graph_no_content(struct graph_call *g)
{
    ck_resp_status(g->resp, 204);
}

static json_t *graph_app_json(struct graph_call *g, const struct idp_app *app, int with_ctx)
{
    char ts[40];
    struct ck_db_stmt *st = NULL;
    json_t *pw = json_array();
    ck_time_iso8601(app->created_at, ts, sizeof(ts));
    ts[19] = 'Z';
    ts[20] = '\0';
    ck_db_lock(g->idp->db);
    if (ck_db_prepare(g->idp->db,
                      "SELECT key_id, display_name, hint, start_at, end_at FROM app_secrets WHERE app_object_id = ?1",
                      &st) == CK_OK) {
        ck_db_bind_text(st, 1, app->object_id);
        while (ck_db_step(st) == 1) {
            char s1[40], s2[40];
            ck_time_iso8601(ck_db_col_int64(st, 3), s1, sizeof(s1));
            ck_time_iso8601(ck_db_col_int64(st, 4), s2, sizeof(s2));
            json_array_append_new(pw, json_pack("{s:s,s:s?,s:s,s:s,s:s,s:n,s:n}", "keyId", ck_db_col_text(st, 0),
                                                "displayName", ck_db_col_text(st, 1), "hint", ck_db_col_text(st, 2),
                                                "startDateTime", s1, "endDateTime", s2, "secretText", "customKeyIdentifier"));
        }
    }
    ck_db_stmt_free(st);
    ck_db_unlock(g->idp->db);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:n,s:o,s:[],s:[],s:s}", "id", app->object_id, "appId", app->app_id,
                          "displayName", app->display_name, "signInAudience", app->sign_in_audience,
                          "createdDateTime", ts, "deletedDateTime", "passwordCredentials", pw, "keyCredentials",
                          "identifierUris", "publisherDomain", "crosskey.local");
    if (o != NULL && with_ctx)
        json_object_set_new(o, "@odata.context", json_string(GRAPH_CTX "applications/$entity"));
    return o;
}

static json_t *graph_sp_json(const struct idp_sp *sp, int with_ctx)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:[s],s:n}", "id", sp->object_id, "appId", sp->app_id,
                          "displayName", sp->display_name, "appDisplayName", sp->display_name, "servicePrincipalType",
                          sp->sp_type, "appOwnerOrganizationId", sp->app_owner_tenant_id, "accountEnabled", 1,
                          "servicePrincipalNames", sp->app_id, "deletedDateTime");
    if (o != NULL && with_ctx)
        json_object_set_new(o, "@odata.context", json_string(GRAPH_CTX "servicePrincipals/$entity"));
    return o;
}

/* ---- applications ---- */

static int graph_name_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (iscntrl((unsigned char)s[i]))
            return 0;
    return 1;
}

static void graph_app_create(struct graph_call *g)
{
    const char *name = ck_json_str(g->body, "displayName");
    const char *aud = ck_json_str(g->body, "signInAudience");
    char oid[37], app_id[37];
    struct idp_app app;
    json_t *jaud = json_object_get(g->body, "signInAudience");
    if (!graph_name_ok(name, 256)) {
        idp_graph_error(g->req, g->resp, 400, "Request_BadRequest",
                        "Property 'displayName' is required and must be 1 to 256 printable characters.");
        return;
    }
    if (jaud != NULL && aud == NULL) {
        idp_graph_error(g->req, g->resp, 400, "Request_BadRequest", "Property 'signInAudience' must be a string.");
        return;
    }
    if (aud == NULL)
        aud = "AzureADMyOrg";
    if (strcmp(aud, "AzureADMyOrg") != 0 && strcmp(aud, "AzureADMultipleOrgs") != 0 &&
        strcmp(aud, "AzureADandPersonalMicrosoftAccount") != 0 && strcmp(aud, "PersonalMicrosoftAccount") != 0) {
        idp_graph_error(g->req, g->resp, 400, "Request_BadRequest",
                        "Property 'signInAudience' has an invalid value '%.64s'. Expected AzureADMyOrg, "
                        "AzureADMultipleOrgs, AzureADandPersonalMicrosoftAccount or PersonalMicrosoftAccount.", aud);
        return;
    }
    if (idp_app_insert(g->idp, g->claims.tid, name, aud, "app", oid, app_id) != CK_OK ||
        idp_app_by_object_id(g->idp, g->a, oid, &app) != CK_OK) {
        idp_graph_error(g->req, g->resp, 500, "Service_InternalServerError", "The application could not be created.");
        return;
    }
    graph_send(g, 201, graph_app_json(g, &app, 1));
}

/* Resolves "{objectId}" or "(appId='{appId}')" to an application of the caller's tenant. */
static int graph_app_resolve(struct graph_call *g, const char *ref, size_t reflen, struct idp_app *app)
{
    char *s = ck_arena_strndup(g->a, ref, reflen);
    int rc;
    if (s == NULL)
        return CK_E_NOMEM;
    if (strncmp(s, "(appId='", 8) == 0 && reflen > 10 && strcmp(s + reflen - 2, "')") == 0) {
        s[reflen - 2] = '\0';
        rc = idp_app_by_app_id(g->idp, g->a, s + 8, app);
    } else {
        rc = idp_app_by_object_id(g->idp, g->a, s, app);
    }
    if (rc == CK_OK && (strcmp(app->tenant_id, g->claims.tid) != 0 || strcmp(app->kind, "app") != 0))
        rc = CK_E_NOT_FOUND;
    return rc;
}

static void graph_app_list(struct graph_call *g)
{
    const char *filter = ck_req_query(g->req, "$filter");
    char want[64] = "";
    struct ck_db_stmt *st = NULL;
    json_t *arr = json_array();
    if (filter != NULL) {
        /* The one filter scripts use: appId eq '<guid>'. */
        if (sscanf(filter, "appId eq '%36[0-9a-fA-F-]'", want) != 1) {
            json_decref(arr);
            idp_graph_error(g->req, g->resp, 400, "Request_UnsupportedQuery",
                            "Unsupported query: only $filter=appId eq '<appId>' is supported.");
            return;
        }
    }
    ck_db_lock(g->idp->db);
    if (ck_db_prepare(g->idp->db,
                      "SELECT object_id FROM applications WHERE tenant_id = ?1 AND kind = 'app'"
                      " AND (?2 = '' OR app_id = lower(?2)) ORDER BY created_at, object_id",
                      &st) == CK_OK) {
        ck_db_bind_text(st, 1, g->claims.tid);
        ck_db_bind_text(st, 2, want);
        while (ck_db_step(st) == 1) {
            struct idp_app app;
            char *oid = ck_arena_strdup(g->a, ck_db_col_text(st, 0));
            if (oid != NULL && idp_app_by_object_id(g->idp, g->a, oid, &app) == CK_OK)
                json_array_append_new(arr, graph_app_json(g, &app, 0));
        }
    }
    ck_db_stmt_free(st);
    ck_db_unlock(g->idp->db);
    graph_send(g, 200, json_pack("{s:s,s:o}", "@odata.context", GRAPH_CTX "applications", "value", arr));
}

static void graph_app_delete(struct graph_call *g, const struct idp_app *app)
{
    const char *p[2] = {app->object_id, app->app_id};
    int rc;
    ck_db_lock(g->idp->db);
    rc = ck_db_begin(g->idp->db);
    if (rc == CK_OK)
        rc = ck_db_run(g->idp->db, "DELETE FROM service_principals WHERE app_id = ?2 AND tenant_id ="
                                   " (SELECT tenant_id FROM applications WHERE object_id = ?1)", 2, p);
    if (rc == CK_OK)
        rc = ck_db_run(g->idp->db, "DELETE FROM applications WHERE object_id = ?1", 1, p);
    if (rc == CK_OK)
        rc = ck_db_commit(g->idp->db);
    if (rc != CK_OK)
        ck_db_rollback(g->idp->db);
    ck_db_unlock(g->idp->db);
    if (rc != CK_OK)
        idp_graph_error(g->req, g->resp, 500, "Service_InternalServerError", "The application could not be deleted.");
    else
        graph_no_content(g);
}

static void graph_add_password(struct graph_call *g, const struct idp_app *app)
{
    json_t *pc = ck_json_obj(g->body, "passwordCredential");
    const char *dn = pc ? ck_json_str(pc, "displayName") : NULL;
    char key_id[37], hint[4], s1[40], s2[40];
    struct ck_secret *secret = NULL;
    int64_t now = ck_time_now(), end = now + 2 * 365 * 86400LL;
    if (idp_secret_add(g->idp, app->object_id, dn, end, key_id, &secret, hint) != CK_OK) {
        idp_graph_error(g->req, g->resp, 500, "Service_InternalServerError", "The secret could not be added.");
        return;
    }
    ck_time_iso8601(now, s1, sizeof(s1));
    ck_time_iso8601(end, s2, sizeof(s2));
    graph_send(g, 200, json_pack("{s:s,s:s,s:s?,s:s,s:s,s:s,s:s,s:n}", "@odata.context",
                                 GRAPH_CTX "microsoft.graph.passwordCredential", "keyId", key_id, "displayName", dn,
                                 "hint", hint, "secretText", (const char *)ck_secret_ptr(secret), "startDateTime", s1,
                                 "endDateTime", s2, "customKeyIdentifier"));
    ck_secret_free(secret);
}

/* ---- federated identity credentials ---- */

static json_t *graph_fic_json(struct ck_db_stmt *st, int with_ctx)
{
    const char *auds = ck_db_col_text(st, 4);
    json_t *a = ck_json_parse(auds, strlen(auds), NULL, 0);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s?,s:o}", "id", ck_db_col_text(st, 0), "name", ck_db_col_text(st, 1),
                          "issuer", ck_db_col_text(st, 2), "subject", ck_db_col_text(st, 3), "description",
                          ck_db_col_text(st, 5), "audiences", a ? a : json_array());
    if (o != NULL && with_ctx)
        json_object_set_new(o, "@odata.context",
                            json_string(GRAPH_CTX "applications('')/federatedIdentityCredentials/$entity"));
    return o;
}

static int graph_fic_field_ok(const char *s, size_t max)
{
    return s != NULL && *s != '\0' && strlen(s) <= max;
}

static void graph_fic_create(struct graph_call *g, const struct idp_app *app)
{
    const char *name = ck_json_str(g->body, "name");
    const char *issuer = ck_json_str(g->body, "issuer");
    const char *subject = ck_json_str(g->body, "subject");
    const char *desc = ck_json_str(g->body, "description");
    json_t *auds = ck_json_arr(g->body, "audiences");
    struct ck_db_stmt *st = NULL;
    char id[37];
    int count = 0, rc;

    if (!graph_fic_field_ok(name, 120) || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
                                               strlen(name)) {
        idp_graph_error(g->req, g->resp, 400, "Request_BadRequest",
                        "Property 'name' is required: 1 to 120 characters of letters, digits, '-' and '_'.");
        return;
    }
    if (!graph_fic_field_ok(issuer, 600) || strncmp(issuer, "https://", 8) != 0) {
        idp_graph_error(g->req, g->resp, 400, "Request_BadRequest",
                        "Property 'issuer' is required: an https URL of at most 600 characters.");
        return;
    }
    if (!graph_fic_field_ok(subject, 600)) {
        idp_graph_error(g->req, g->resp, 400, "Request_BadRequest",
                        "Property 'subject' is required: 1 to 600 characters.");
        return;
    }
    if (auds == NULL || json_array_size(auds) != 1 || !json_is_string(json_array_get(auds, 0)) ||
        !graph_fic_field_ok(json_string_value(json_array_get(auds, 0)), 600)) {
        idp_graph_error(g->req, g->resp, 400, "Request_BadRequest",
                        "Property 'audiences' is required and must hold exactly one value of at most 600 characters.");
        return;
    }
    if (desc != NULL && strlen(desc) > 600) {
        idp_graph_error(g->req, g->resp, 400, "Request_BadRequest", "Property 'description' exceeds 600 characters.");
        return;
    }
    char *audtext = ck_json_dump(auds);
    if (audtext == NULL || ck_uuid_new(id) != 0) {
        free(audtext);
        idp_graph_error(g->req, g->resp, 500, "Service_InternalServerError", "Out of memory.");
        return;
    }
    ck_db_lock(g->idp->db);
    rc = ck_db_begin(g->idp->db);
    if (rc == CK_OK && ck_db_prepare(g->idp->db, "SELECT COUNT(*) FROM fics WHERE app_object_id = ?1", &st) == CK_OK) {
        ck_db_bind_text(st, 1, app->object_id);
        if (ck_db_step(st) == 1)
            count = (int)ck_db_col_int64(st, 0);
        ck_db_stmt_free(st);
        st = NULL;
    }
    if (rc == CK_OK && count >= IDP_MAX_FICS) {
        ck_db_rollback(g->idp->db);
        ck_db_unlock(g->idp->db);
        free(audtext);
        idp_graph_error(g->req, g->resp, 400, "Request_BadRequest",
                        "FederatedIdentityCredential count limit of %d reached for this application.", IDP_MAX_FICS);
        return;
    }
    if (rc == CK_OK) {
        const char *p[7] = {id, app->object_id, name, issuer, subject, audtext, desc};
        rc = ck_db_run(g->idp->db,
                       "INSERT INTO fics (id, app_object_id, name, issuer, subject, audiences, description)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", 7, p);
    }
    if (rc == CK_OK)
        rc = ck_db_commit(g->idp->db);
    if (rc != CK_OK)
        ck_db_rollback(g->idp->db);
    ck_db_unlock(g->idp->db);
    free(audtext);
    if (rc == CK_E_EXISTS) {
        idp_graph_error(g->req, g->resp, 409, "Request_MultipleObjectsWithSameKeyValue",
                        "A federated identity credential with the same name, or with the same issuer and subject, "
                        "already exists on this application.");
        return;
    }
    if (rc != CK_OK) {
        idp_graph_error(g->req, g->resp, 500, "Service_InternalServerError", "The credential could not be created.");
        return;
    }
    ck_db_lock(g->idp->db);
    if (ck_db_prepare(g->idp->db, "SELECT id, name, issuer, subject, audiences, description FROM fics WHERE id = ?1",
                      &st) == CK_OK) {
        ck_db_bind_text(st, 1, id);
        if (ck_db_step(st) == 1)
            graph_send(g, 201, graph_fic_json(st, 1));
    }
    ck_db_stmt_free(st);
    ck_db_unlock(g->idp->db);
}

static void graph_fic_get(struct graph_call *g, const struct idp_app *app, const char *which, int del)
{
    struct ck_db_stmt *st = NULL;
    int found = 0;
    ck_db_lock(g->idp->db);
    if (which == NULL) {
        json_t *arr = json_array();
        if (ck_db_prepare(g->idp->db, "SELECT id, name, issuer, subject, audiences, description FROM fics"
                                      " WHERE app_object_id = ?1 ORDER BY name", &st) == CK_OK) {
            ck_db_bind_text(st, 1, app->object_id);
            while (ck_db_step(st) == 1)
                json_array_append_new(arr, graph_fic_json(st, 0));
        }
        ck_db_stmt_free(st);
        ck_db_unlock(g->idp->db);
        graph_send(g, 200, json_pack("{s:s,s:o}", "@odata.context",
                                     GRAPH_CTX "applications('')/federatedIdentityCredentials", "value", arr));
        return;
    }
    if (ck_db_prepare(g->idp->db, "SELECT id, name, issuer, subject, audiences, description FROM fics"
                                  " WHERE app_object_id = ?1 AND (id = ?2 OR name = ?2)", &st) == CK_OK) {
        ck_db_bind_text(st, 1, app->object_id);
        ck_db_bind_text(st, 2, which);
        if (ck_db_step(st) == 1) {
            found = 1;
            if (!del)
                graph_send(g, 200, graph_fic_json(st, 1));
        }
    }
    ck_db_stmt_free(st);
    if (found && del) {
        const char *p[2] = {app->object_id, which};
        if (ck_db_run(g->idp->db, "DELETE FROM fics WHERE app_object_id = ?1 AND (id = ?2 OR name = ?2)", 2, p) == CK_OK)
            graph_no_content(g);
        else
            idp_graph_error(g->req, g->resp, 500, "Service_InternalServerError", "The credential could not be deleted.");
    }
    ck_db_unlock(g->idp->db);
    if (!found)
        idp_graph_error(g->req, g->resp, 404, "Request_ResourceNotFound",
                        "Resource '%.64s' does not exist or one of its queried reference-property objects are not present.",
                        which);
}

static void graph_applications(struct graph_call *g, const char *rest)
{
    const char *method = ck_req_method(g->req);
    struct idp_app app;
    if (*rest == '\0') {
        if (strcmp(method, "POST") == 0)
            graph_app_create(g);
        else if (strcmp(method, "GET") == 0)
            graph_app_list(g);
        else
            idp_graph_error(g->req, g->resp, 405, "Request_BadRequest", "Method %s is not allowed here.", method);
        return;
    }
    /* rest: "/{id}[/sub...]" or "(appId='...')[/sub...]" */
    const char *ref = rest[0] == '/' ? rest + 1 : rest;
    const char *sub = strchr(ref, '/');
    size_t reflen = sub ? (size_t)(sub - ref) : strlen(ref);
    if (reflen == 0 || graph_app_resolve(g, ref, reflen, &app) != CK_OK) {
        idp_graph_error(g->req, g->resp, 404, "Request_ResourceNotFound",
                        "Resource '%.*s' does not exist or one of its queried reference-property objects are not present.",
                        (int)(reflen > 80 ? 80 : reflen), ref);
        return;
    }
    if (sub == NULL) {
        if (strcmp(method, "GET") == 0)
            graph_send(g, 200, graph_app_json(g, &app, 1));
        else if (strcmp(method, "DELETE") == 0)
            graph_app_delete(g, &app);
        else
            idp_graph_error(g->req, g->resp, 405, "Request_BadRequest", "Method %s is not allowed here.", method);
        return;
    }
    if (strcmp(sub, "/addPassword") == 0 && strcmp(method, "POST") == 0) {
        graph_add_password(g, &app);
    } else if (strcmp(sub, "/federatedIdentityCredentials") == 0) {
        if (strcmp(method, "POST") == 0)
            graph_fic_create(g, &app);
        else if (strcmp(method, "GET") == 0)
            graph_fic_get(g, &app, NULL, 0);
        else
            idp_graph_error(g->req, g->resp, 405, "Request_BadRequest", "Method %s is not allowed here.", method);
    } else if (strncmp(sub, "/federatedIdentityCredentials/", 30) == 0 && sub[30] != '\0' && !strchr(sub + 30, '/')) {
        if (strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0)
            graph_fic_get(g, &app, sub + 30, strcmp(method, "DELETE") == 0);
        else
            idp_graph_error(g->req, g->resp, 405, "Request_BadRequest", "Method %s is not allowed here.", method);
    } else {
        idp_graph_error(g->req, g->resp, 400, "Request_BadRequest", "Unsupported segment in the request path.");
    }
}

/* ---- service principals ---- */

static void graph_sp_create(struct graph_call *g)
{
    const char *app_id = ck_json_str(g->body, "appId");
    struct idp_app app;
    struct idp_sp sp;
    char oid[37];
    if (app_id == NULL || !ck_uuid_valid(app_id)) {
        idp_graph_error(g->req, g->resp, 400, "Request_BadRequest", "Property 'appId' is required and must be a GUID.");
        return;
    }
    if (idp_app_by_app_id(g->idp, g->a, app_id, &app) != CK_OK || strcmp(app.kind, "app") != 0) {
        idp_graph_error(g->req, g->resp, 400, "Request_BadRequest",
                        "The appId '%s' of the service principal does not reference a valid application object.", app_id);
        return;
    }
    if (strcmp(app.tenant_id, g->claims.tid) != 0 && strcmp(app.sign_in_audience, "AzureADMultipleOrgs") != 0 &&
        strcmp(app.sign_in_audience, "AzureADandPersonalMicrosoftAccount") != 0) {
        idp_graph_error(g->req, g->resp, 400, "Request_BadRequest",
                        "The application '%s' is not multi-tenant (signInAudience %s); it can have a service principal "
                        "only in its home tenant.", app_id, app.sign_in_audience);
        return;
    }
    int rc = idp_sp_insert(g->idp, app_id, g->claims.tid, app.display_name, "Application", app.tenant_id, 0, oid);
    if (rc == CK_E_EXISTS) {
        idp_graph_error(g->req, g->resp, 409, "Request_MultipleObjectsWithSameKeyValue",
                        "The service principal cannot be created, updated, or restored because the service principal "
                        "name %s is already in use.", app_id);
        return;
    }
    if (rc != CK_OK || idp_sp_by_object_id(g->idp, g->a, oid, &sp) != CK_OK) {
        idp_graph_error(g->req, g->resp, 500, "Service_InternalServerError", "The service principal could not be created.");
        return;
    }
    graph_send(g, 201, graph_sp_json(&sp, 1));
}

static int graph_sp_resolve(struct graph_call *g, const char *ref, size_t reflen, struct idp_sp *sp)
{
    char *s = ck_arena_strndup(g->a, ref, reflen);
    int rc;
    if (s == NULL)
        return CK_E_NOMEM;
    if (strncmp(s, "(appId='", 8) == 0 && reflen > 10 && strcmp(s + reflen - 2, "')") == 0) {
        s[reflen - 2] = '\0';
        rc = idp_sp_by_app(g->idp, g->a, s + 8, g->claims.tid, sp);
    } else {
        rc = idp_sp_by_object_id(g->idp, g->a, s, sp);
    }
    if (rc == CK_OK && (strcmp(sp->tenant_id, g->claims.tid) != 0 || strcmp(sp->sp_type, "Application") != 0))
        rc = CK_E_NOT_FOUND;
    return rc;
}

static void graph_service_principals(struct graph_call *g, const char *rest)
{
    const char *method = ck_req_method(g->req);
    struct idp_sp sp;
    if (*rest == '\0') {
        if (strcmp(method, "POST") == 0) {
            graph_sp_create(g);
        } else if (strcmp(method, "GET") == 0) {
            const char *filter = ck_req_query(g->req, "$filter");
            char want[64] = "";
            json_t *arr = json_array();
            if (filter == NULL || sscanf(filter, "appId eq '%36[0-9a-fA-F-]'", want) != 1) {
                json_decref(arr);
                idp_graph_error(g->req, g->resp, 400, "Request_UnsupportedQuery",
                                "Unsupported query: use $filter=appId eq '<appId>'.");
                return;
            }
            if (idp_sp_by_app(g->idp, g->a, want, g->claims.tid, &sp) == CK_OK && strcmp(sp.sp_type, "Application") == 0)
                json_array_append_new(arr, graph_sp_json(&sp, 0));
            graph_send(g, 200, json_pack("{s:s,s:o}", "@odata.context", GRAPH_CTX "servicePrincipals", "value", arr));
        } else {
            idp_graph_error(g->req, g->resp, 405, "Request_BadRequest", "Method %s is not allowed here.", method);
        }
        return;
    }
    const char *ref = rest[0] == '/' ? rest + 1 : rest;
    if (strchr(ref, '/') != NULL || graph_sp_resolve(g, ref, strlen(ref), &sp) != CK_OK) {
        idp_graph_error(g->req, g->resp, 404, "Request_ResourceNotFound",
                        "Resource '%.80s' does not exist or one of its queried reference-property objects are not present.",
                        ref);
        return;
    }
    if (strcmp(method, "GET") == 0) {
        graph_send(g, 200, graph_sp_json(&sp, 1));
    } else if (strcmp(method, "DELETE") == 0) {
        const char *p[1] = {sp.object_id};
        ck_db_lock(g->idp->db);
        int rc = ck_db_run(g->idp->db, "DELETE FROM service_principals WHERE object_id = ?1", 1, p);
        ck_db_unlock(g->idp->db);
        if (rc == CK_OK)
            graph_no_content(g);
        else
            idp_graph_error(g->req, g->resp, 500, "Service_InternalServerError", "The service principal could not be deleted.");
    } else {
        idp_graph_error(g->req, g->resp, 405, "Request_BadRequest", "Method %s is not allowed here.", method);
    }
}

void idp_handle_graph(struct idp *idp, struct ck_req *req, struct ck_resp *resp)
{
    struct graph_call g = {.idp = idp, .req = req, .resp = resp, .a = ck_req_arena(req)};
    const char *path = ck_req_path(req) + 5; /* after "/v1.0" */
    const char *method = ck_req_method(req);
    char err[256];

    if (!graph_auth(&g))
        return;
    if (strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0) {
        size_t len;
        const char *text = ck_req_body(req, &len);
        g.body = ck_json_parse_object(text, len, err, sizeof(err));
        if (g.body == NULL) {
            idp_graph_error(req, resp, 400, "BadRequest", "Unable to read JSON request payload: %s.", err);
            return;
        }
    }
    if (strncmp(path, "/applications", 13) == 0 && (path[13] == '\0' || path[13] == '/' || path[13] == '('))
        graph_applications(&g, path + 13);
    else if (strncmp(path, "/servicePrincipals", 18) == 0 && (path[18] == '\0' || path[18] == '/' || path[18] == '('))
        graph_service_principals(&g, path + 18);
    else
        idp_graph_error(req, resp, 400, "BadRequest", "Resource not found for the segment '%.64s'.", path + 1);
    json_decref(g.body);
}
