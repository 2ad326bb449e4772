/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-tenant paths: OIDC discovery (v2.0 and v1 documents), JWKS, and dispatch to the token
 * endpoint. Documents follow the wire reference A.3: the issuer keeps Entra's real form so that
 * federated credentials written for Azure match, while every endpoint points at this authority.
 */
#include "services/identity/idp_int.h"
#include "core/codec.h"

#include <stdio.h>
#include <string.h>

/* The JWKS paths under /{tenant} (v2.0 and v1 endpoints). */
#define IDP_JWKS_PATH_V2 "/discovery/v2.0/keys"
#define IDP_JWKS_PATH_V1 "/discovery/keys"

static void idp_discovery(struct idp *idp, struct ck_req *req, struct ck_resp *resp, const char *tid, int v2)
{
    char issuer[128], authz[512], token[512], jwks[512], logout[512], devcode[512];
    const char *a = idp->authority;
    if (v2)
        snprintf(issuer, sizeof(issuer), "https://login.microsoftonline.com/%s/v2.0", tid);
    else
        snprintf(issuer, sizeof(issuer), "https://sts.windows.net/%s/", tid);
    snprintf(authz, sizeof(authz), "%s/%s/oauth2/%sauthorize", a, tid, v2 ? "v2.0/" : "");
    snprintf(token, sizeof(token), "%s/%s/oauth2/%stoken", a, tid, v2 ? "v2.0/" : "");
    snprintf(jwks, sizeof(jwks), "%s/%s/discovery/%skeys", a, tid, v2 ? "v2.0/" : "");
    snprintf(logout, sizeof(logout), "%s/%s/oauth2/%slogout", a, tid, v2 ? "v2.0/" : "");
    snprintf(devcode, sizeof(devcode), "%s/%s/oauth2/%sdevicecode", a, tid, v2 ? "v2.0/" : "");
    json_t *doc = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:[s,s,s],s:[s],s:[s],s:[s,s,s,s],s:[s,s,s,s],s:[s,s,s],s:s,s:s,s:b,s:b}",
        "issuer", issuer, "authorization_endpoint", authz, "token_endpoint", token, "jwks_uri", jwks,
        "end_session_endpoint", logout, "device_authorization_endpoint", devcode, "token_endpoint_auth_methods_supported",
        "client_secret_post", "private_key_jwt", "client_secret_basic", "id_token_signing_alg_values_supported", "RS256",
        "subject_types_supported", "pairwise", "response_types_supported", "code", "id_token", "code id_token",
        "id_token token", "scopes_supported", "openid", "profile", "email", "offline_access",
        "response_modes_supported", "query", "fragment", "form_post", "tenant_region_scope", "NA",
        "cloud_instance_name", "microsoftonline.com", "http_logout_supported", 1, "frontchannel_logout_supported", 1);
    (void)req;
    ck_resp_json(resp, 200, doc);
    json_decref(doc);
}

static void idp_keys(struct idp *idp, struct ck_req *req, struct ck_resp *resp, const char *tid, int v2)
{
    char issuer[128];
    (void)req;
    if (v2)
        snprintf(issuer, sizeof(issuer), "https://login.microsoftonline.com/%s/v2.0", tid);
    else
        snprintf(issuer, sizeof(issuer), "https://sts.windows.net/%s/", tid);
    json_t *doc = idp_jwks(idp, tid, issuer);
    if (doc == NULL) {
        idp_aad_error(req, resp, 500, "server_error", 90000, "The signing keys could not be read.");
        return;
    }
    ck_resp_header(resp, "Cache-Control", "max-age=86400, private");
    ck_resp_json(resp, 200, doc);
    json_decref(doc);
}

void idp_handle_tenant_path(struct idp *idp, struct ck_req *req, struct ck_resp *resp)
{
    const char *path = ck_req_path(req);
    const char *slash = strchr(path + 1, '/');
    const char *rest = slash;
    char tid[64];
    size_t tl = (size_t)(slash - path - 1);
    int is_get = strcmp(ck_req_method(req), "GET") == 0;
    int is_post = strcmp(ck_req_method(req), "POST") == 0;

    if (tl == 0 || tl >= sizeof(tid)) {
        idp_aad_error(req, resp, 400, "invalid_tenant", 90002, "Tenant identifier is not valid.");
        return;
    }
    memcpy(tid, path + 1, tl);
    tid[tl] = '\0';
    /* Tenants are addressed by id; ids are GUIDs and compared in their lower-case form. */
    for (char *c = tid; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    if (!ck_uuid_valid(tid) || !idp_tenant_exists(idp, tid)) {
        /* Entra names this invalid_request at the token endpoint and invalid_tenant elsewhere. */
        idp_aad_error(req, resp, 400, strcmp(rest, "/oauth2/v2.0/token") == 0 ? "invalid_request" : "invalid_tenant", 90002,
                      "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into "
                      "the correct cloud.", tid);
        return;
    }
    if (is_get && (strcmp(rest, "/v2.0/.well-known/openid-configuration") == 0))
        idp_discovery(idp, req, resp, tid, 1);
    else if (is_get && strcmp(rest, "/.well-known/openid-configuration") == 0)
        idp_discovery(idp, req, resp, tid, 0);
    else if (is_get && strcmp(rest, IDP_JWKS_PATH_V2) == 0)
        idp_keys(idp, req, resp, tid, 1);
    else if (is_get && strcmp(rest, IDP_JWKS_PATH_V1) == 0)
        idp_keys(idp, req, resp, tid, 0);
    else if (is_post && strcmp(rest, "/oauth2/v2.0/token") == 0)
        idp_handle_token(idp, req, resp, tid);
    else if (strcmp(rest, "/oauth2/v2.0/token") == 0)
        idp_aad_error(req, resp, 405, "invalid_request", 900561,
                      "The endpoint only accepts POST requests. Received a %s request.", ck_req_method(req));
    else
        idp_aad_error(req, resp, 404, "invalid_request", 900000, "No identity endpoint at this path.");
}
