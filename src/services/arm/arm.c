/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ARM service front: lifecycle, the mount on the main-origin listener, ARM's error envelope,
 * bearer authentication (audiences of wire reference C.1), the api-version rule, path
 * normalisation (doubled slashes collapse, fixed segments match without regard to case) and the
 * router that hands each request to its handler.
 */
#include "authz/shared_key.h"
#include "services/arm/arm_int.h"
#include "core/codec.h"
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Real ARM's accepted audiences (wire reference C.1); ARM's own endpoint is added at start. */
static const char *const arm_fixed_audiences[] = {
    "https://management.azure.com",
    "https://management.azure.com/",
    "https://management.core.windows.net",
    "https://management.core.windows.net/",
};

/* Namespaces whose canonical spelling ARM restores in canonical paths. */
static const char *const arm_known_namespaces[] = {
    "Microsoft.Authorization", "Microsoft.Features", "Microsoft.Resources",      "Microsoft.Storage",
    "Microsoft.KeyVault",      "Microsoft.ManagedIdentity", "Microsoft.EventGrid",
};

/* ---- small helpers ---- */

int arm_ieq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcasecmp(a, b) == 0;
}

char *arm_lower(struct ck_arena *a, const char *s)
{
    char *r = ck_arena_strdup(a, s ? s : "");
    if (r == NULL)
        return NULL;
    for (char *p = r; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    return r;
}

const struct arm_rp *arm_find_rp(const struct arm *arm, const char *ns)
{
    for (int i = 0; i < arm->nrps; i++) {
        if (arm_ieq(arm->rps[i].ns, ns))
            return &arm->rps[i];
    }
    return NULL;
}

static const char *arm_canon_ns(const struct arm *arm, const char *ns)
{
    const struct arm_rp *rp = arm_find_rp(arm, ns);
    if (rp != NULL)
        return rp->ns;
    for (size_t i = 0; i < sizeof(arm_known_namespaces) / sizeof(arm_known_namespaces[0]); i++) {
        if (arm_ieq(arm_known_namespaces[i], ns))
            return arm_known_namespaces[i];
    }
    return ns;
}

int arm_split_path(struct ck_arena *a, const char *path, char ***out)
{
    char **seg = ck_arena_alloc(a, sizeof(char *) * ARM_MAX_SEGMENTS);
    int n = 0;
    const char *p = path;
    if (seg == NULL)
        return -1;
    while (*p != '\0') {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (n >= ARM_MAX_SEGMENTS)
            return -1;
        seg[n] = ck_arena_strndup(a, p, len);
        if (seg[n] == NULL)
            return -1;
        n++;
        p += len;
    }
    *out = seg;
    return n;
}

char *arm_canon_path(const struct arm *arm, struct ck_arena *a, char *const *seg, int n)
{
    struct ck_buf b;
    char *r = NULL;
    int is_sub = n > 0 && arm_ieq(seg[0], "subscriptions");
    ck_buf_init(&b, 64 * 1024);
    if (n == 0) {
        r = ck_arena_strdup(a, "/");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const char *s = seg[i];
        if (i == 0 && is_sub)
            s = "subscriptions";
        else if (i == 2 && is_sub && arm_ieq(s, "resourceGroups"))
            s = "resourceGroups";
        else if (i % 2 == 0 && arm_ieq(s, "providers"))
            s = "providers";
        else if (i > 0 && i % 2 == 1 && arm_ieq(seg[i - 1], "providers"))
            s = arm_canon_ns(arm, s);
        else if (i > 1 && arm_ieq(seg[i - 1], "Microsoft.Authorization") && arm_ieq(s, "roleAssignments"))
            s = "roleAssignments";
        else if (i > 1 && arm_ieq(seg[i - 1], "Microsoft.Authorization") && arm_ieq(s, "roleDefinitions"))
            s = "roleDefinitions";
        if (ck_buf_puts(&b, "/") != CK_OK || ck_buf_puts(&b, s) != CK_OK)
            goto out;
    }
    r = ck_arena_strdup(a, b.data);
out:
    ck_buf_cleanup(&b);
    return r;
}

/* ---- replies ---- */

static json_t *arm_error_body(const char *code, const char *message)
{
    return json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
}

static void arm_error_fn(void *ctx, struct ck_req *req, struct ck_resp *resp, int status, const char *code,
                         const char *message)
{
    json_t *e = arm_error_body(code, message);
    (void)ctx;
    (void)req;
    ck_resp_json(resp, status, e);
    json_decref(e);
}

void arm_reply_json(struct arm_call *c, int status, json_t *v)
{
    if (v == NULL) {
        arm_error_fn(NULL, c->req, c->resp, 500, "InternalServerError", "The server ran out of memory.");
        return;
    }
    ck_resp_json(c->resp, status, v);
    json_decref(v);
}

void arm_reply_error(struct arm_call *c, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    arm_error_fn(NULL, c->req, c->resp, status, code, msg);
}

void arm_reply_db_error(struct arm_call *c)
{
    arm_reply_error(c, 500, "InternalServerError", "The metadata store failed; the request was not applied.");
}

void arm_finish_list(struct arm_call *c, struct ck_db_stmt *st, json_t *arr, int s)
{
    ck_db_stmt_free(st);
    ck_db_unlock(c->arm->db);
    if (s < 0 || arr == NULL)
        arm_reply_db_error(c);
    else
        arm_reply_json(c, 200, json_pack("{s:O}", "value", arr));
    json_decref(arr);
}

int arm_require_rg(struct arm_call *c, const char *sub_id, const char *rg)
{
    int e = arm_rg_exists(c->arm, sub_id, rg);
    if (e < 0)
        arm_reply_db_error(c);
    else if (e == 0)
        arm_reply_error(c, 404, "ResourceGroupNotFound", "Resource group '%s' could not be found.", rg);
    return e > 0 ? 0 : -1;
}

void arm_reply_denied(struct arm_call *c, const char *action, const char *scope)
{
    const char *oid = c->claims.oid;
    arm_reply_error(c, 403, "AuthorizationFailed",
                    "The client '%s' with object id '%s' does not have authorization to perform action '%s' over "
                    "scope '%s' or the scope is invalid. If access was recently granted, please refresh your "
                    "credentials.",
                    oid, oid, action, scope);
}

/* A 401 with the WWW-Authenticate challenge naming tid (or "common"). */
static void arm_reply_401(struct arm_call *c, const char *tid, const char *code, const char *message)
{
    char *h = ck_arena_printf(c->a,
                              "Bearer authorization_uri=\"https://login.microsoftonline.com/%s\", "
                              "error=\"invalid_token\", error_description=\"%s\"",
                              tid && *tid ? tid : "common", message);
    if (h != NULL)
        ck_resp_header(c->resp, "WWW-Authenticate", h);
    arm_reply_error(c, 401, code, "%s", message);
}

json_t *arm_body_object(struct arm_call *c, int allow_empty)
{
    size_t len = 0;
    const char *body = ck_req_body(c->req, &len);
    char err[256];
    json_t *v;
    if (body == NULL || len == 0) {
        if (allow_empty)
            return json_object();
        arm_reply_error(c, 400, "InvalidRequestContent",
                        "The request content was invalid and could not be deserialized: the body is empty.");
        return NULL;
    }
    v = ck_json_parse_object(body, len, err, sizeof(err));
    if (v == NULL)
        arm_reply_error(c, 400, "InvalidRequestContent",
                        "The request content was invalid and could not be deserialized: '%s'.", err);
    return v;
}

int arm_internal_auth(struct ck_req *req, const char *scheme, const struct ck_secret *key)
{
    return ck_shared_key_ok(ck_req_header(req, "Authorization"), scheme, key);
}

/* ---- subscription lookup and authorization ---- */

int arm_load_sub(struct arm_call *c, const char *sub_id, struct arm_sub *sub)
{
    char *lc;
    int rc;
    if (!ck_uuid_valid(sub_id)) {
        arm_reply_error(c, 400, "InvalidSubscriptionId",
                        "The provided subscription identifier '%s' is malformed or invalid.", sub_id);
        return -1;
    }
    lc = arm_lower(c->a, sub_id);
    if (lc == NULL) {
        arm_reply_db_error(c);
        return -1;
    }
    rc = arm_sub_get(c->arm, lc, sub);
    if (rc == CK_E_NOT_FOUND) {
        arm_reply_error(c, 404, "SubscriptionNotFound", "The subscription '%s' could not be found.", sub_id);
        return -1;
    }
    if (rc != CK_OK) {
        arm_reply_db_error(c);
        return -1;
    }
    if (strcasecmp(sub->tenant_id, c->claims.tid) != 0) {
        char *m = ck_arena_printf(c->a,
                                  "The access token is from the wrong issuer '%s'. It must match the tenant "
                                  "'https://sts.windows.net/%s/' associated with this subscription. Please use the "
                                  "authority (URL) 'https://login.windows.net/%s' to get the token.",
                                  c->claims.iss, sub->tenant_id, sub->tenant_id);
        arm_reply_401(c, sub->tenant_id, "InvalidAuthenticationTokenTenant",
                      m ? m : "The access token is from the wrong tenant.");
        return -1;
    }
    c->sub_tenant = ck_arena_strdup(c->a, sub->tenant_id);
    return 0;
}

int arm_authorize(struct arm_call *c, const char *action, const char *scope)
{
    int r = arm_check_access(c->arm, c->claims.tid, c->claims.oid, scope, action, 0, NULL, NULL);
    if (r < 0) {
        arm_reply_db_error(c);
        return -1;
    }
    if (r == 0) {
        arm_reply_denied(c, action, scope);
        return -1;
    }
    return 0;
}

/* ---- authentication and api-version ---- */

/* The tenant named in WWW-Authenticate before a token is trusted: the path's subscription's. */
static const char *arm_challenge_tenant(struct arm_call *c)
{
    struct arm_sub sub;
    char *lc;
    if (c->nseg < 2 || !arm_ieq(c->seg[0], "subscriptions") || !ck_uuid_valid(c->seg[1]))
        return NULL;
    lc = arm_lower(c->a, c->seg[1]);
    if (lc == NULL || arm_sub_get(c->arm, lc, &sub) != CK_OK)
        return NULL;
    return ck_arena_strdup(c->a, sub.tenant_id);
}

static int arm_authenticate(struct arm_call *c)
{
    const char *h = ck_req_header(c->req, "Authorization");
    const char *tok = ck_bearer_token(h);
    const char *code = "InvalidAuthenticationToken";
    const char *msg = "The access token is invalid.";
    enum ck_token_fail f;

    if (h == NULL) {
        arm_reply_401(c, arm_challenge_tenant(c), "AuthenticationFailed",
                      "Authentication failed. The 'Authorization' header is missing.");
        return -1;
    }
    if (tok == NULL) {
        arm_reply_401(c, arm_challenge_tenant(c), "AuthenticationFailed",
                      "Authentication failed. The 'Authorization' header is provided in an invalid format.");
        return -1;
    }
    f = ck_verify_token(c->arm->verifier, tok, c->arm->audiences, NULL, &c->claims);
    switch (f) {
    case CK_TF_NONE:
        if (c->claims.oid[0] == '\0' || c->claims.tid[0] == '\0')
            break;
        ck_req_set_principal(c->req, c->claims.oid);
        return 0;
    case CK_TF_AUDIENCE:
        code = "InvalidAuthenticationTokenAudience";
        msg = "The access token has been obtained for wrong audience or resource. It should exactly match with one "
              "of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net',"
              "'https://management.azure.com/','https://management.azure.com'.";
        break;
    case CK_TF_EXPIRED:
        code = "ExpiredAuthenticationToken";
        msg = "The access token expiry UTC time is earlier than current UTC time.";
        break;
    case CK_TF_NOT_YET:
        msg = "The access token is not yet valid.";
        break;
    case CK_TF_TENANT:
        code = "InvalidAuthenticationTokenTenant";
        msg = "The access token is from the wrong issuer.";
        break;
    case CK_TF_UNAVAILABLE:
        msg = "The signing keys of the token's issuer could not be retrieved.";
        break;
    default:
        msg = "The access token is invalid: its signature, issuer or format could not be verified.";
        break;
    }
    arm_reply_401(c, arm_challenge_tenant(c), code, msg);
    return -1;
}

/* "YYYY-MM-DD" with an optional "-word" suffix ("-preview", "-beta", "-privatepreview"). */
static int arm_api_version_ok(const char *v)
{
    static const char shape[] = "dddd-dd-dd";
    size_t i;
    for (i = 0; shape[i] != '\0'; i++) {
        if (v[i] == '\0')
            return 0;
        if (shape[i] == 'd' ? (v[i] < '0' || v[i] > '9') : v[i] != shape[i])
            return 0;
    }
    if (v[i] == '\0')
        return 1;
    if (v[i] != '-' || v[i + 1] == '\0')
        return 0;
    for (i++; v[i] != '\0'; i++) {
        char ch = v[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.'))
            return 0;
    }
    return 1;
}

static int arm_check_api_version(struct arm_call *c)
{
    const char *v = ck_req_query(c->req, "api-version");
    if (v == NULL || *v == '\0') {
        arm_reply_error(c, 400, "MissingApiVersionParameter",
                        "The api-version query parameter (?api-version=) is required for all requests.");
        return -1;
    }
    if (strlen(v) > 40 || !arm_api_version_ok(v)) {
        arm_reply_error(c, 400, "InvalidApiVersionParameter",
                        "The api-version '%.40s' is invalid. Use a date of the form YYYY-MM-DD, optionally "
                        "followed by a suffix such as -preview.",
                        v);
        return -1;
    }
    return 0;
}

/* ---- routing ---- */

/* Index k of ".../providers/Microsoft.Authorization/{roleAssignments|roleDefinitions}...", or -1. */
static int arm_find_authorization(const struct arm_call *c)
{
    for (int k = 0; k + 2 < c->nseg; k += 2) {
        if (arm_ieq(c->seg[k], "providers") && arm_ieq(c->seg[k + 1], "Microsoft.Authorization") &&
            (arm_ieq(c->seg[k + 2], "roleAssignments") || arm_ieq(c->seg[k + 2], "roleDefinitions")))
            return k;
    }
    return -1;
}

static void arm_route(struct arm_call *c)
{
    char **s = c->seg;
    int n = c->nseg;
    int k = arm_find_authorization(c);

    if (k >= 0) {
        arm_handle_authorization(c, k);
        return;
    }
    if (n >= 1 && arm_ieq(s[0], "subscriptions")) {
        if (n <= 2) {
            arm_handle_subscriptions(c);
            return;
        }
        if (arm_ieq(s[2], "resourceGroups")) {
            if (n <= 4) {
                arm_handle_resource_groups(c);
                return;
            }
            if (n >= 7 && arm_ieq(s[4], "providers")) {
                arm_handle_forward(c);
                return;
            }
        } else if (arm_ieq(s[2], "providers")) {
            if (n >= 4 && arm_ieq(s[3], "Microsoft.Features")) {
                arm_handle_features(c);
                return;
            }
            if (n <= 4 || (n == 5 && (arm_ieq(s[4], "register") || arm_ieq(s[4], "unregister")))) {
                arm_handle_providers(c);
                return;
            }
            arm_handle_forward(c);
            return;
        }
    }
    arm_reply_error(c, 404, "NotFound", "No HTTP resource was found that matches the request URI '%s'.",
                    ck_req_path(c->req));
}

static int arm_prefix_word(const char *p, const char *word)
{
    size_t n = strlen(word);
    return strncasecmp(p, word, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

static int arm_match(void *ctx, const char *path)
{
    const char *p = path;
    (void)ctx;
    if (strncmp(path, "/operator/arm/", 14) == 0 || strcmp(path, "/operator/arm") == 0 ||
        strncmp(path, "/rp/arm/", 8) == 0)
        return 1;
    while (*p == '/')
        p++;
    if (p == path)
        return 0;
    return arm_prefix_word(p, "subscriptions") || arm_prefix_word(p, "providers");
}

static void arm_handle(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    struct arm *arm = ctx;
    struct ck_arena *a = ck_req_arena(req);
    struct arm_call *c = ck_arena_alloc(a, sizeof(*c));
    const char *path = ck_req_path(req);

    if (c == NULL) {
        arm_error_fn(NULL, req, resp, 500, "InternalServerError", "The server ran out of memory.");
        return;
    }
    c->arm = arm;
    c->req = req;
    c->resp = resp;
    c->a = a;
    c->method = ck_req_method(req);
    if (strncmp(path, "/operator/arm", 13) == 0) {
        arm_handle_operator(c);
        return;
    }
    if (strncmp(path, "/rp/arm/", 8) == 0) {
        arm_handle_internal(c);
        return;
    }
    c->nseg = arm_split_path(a, path, &c->seg);
    if (c->nseg < 0) {
        arm_reply_error(c, 400, "InvalidRequestUri", "The request URI has too many segments.");
        return;
    }
    if (arm_authenticate(c) != 0 || arm_check_api_version(c) != 0)
        return;
    arm_route(c);
}

/* ---- lifecycle ---- */

struct ck_verifier *arm_verifier(struct arm *arm)
{
    return arm->verifier;
}

int arm_new(const struct arm_config *cfg, struct arm **out)
{
    struct arm *arm = NULL;
    struct ck_verifier_config vc = {0};
    int rc = CK_E_INVALID, na = 0;
    size_t el;

    if (cfg == NULL || cfg->data_dir == NULL || cfg->endpoint == NULL || cfg->nrps < 0 || cfg->nrps > ARM_MAX_RPS)
        goto out;
    rc = CK_E_NOMEM;
    arm = ck_calloc(1, sizeof(*arm));
    if (arm == NULL)
        goto out;
    arm->endpoint = ck_strdup(cfg->endpoint);
    if (arm->endpoint == NULL)
        goto out;
    el = strlen(arm->endpoint);
    while (el > 0 && arm->endpoint[el - 1] == '/')
        arm->endpoint[--el] = '\0';
    if (cfg->ca_file != NULL && (arm->ca_file = ck_strdup(cfg->ca_file)) == NULL)
        goto out;
    if (cfg->operator_key != NULL &&
        (arm->operator_key = ck_secret_from(ck_secret_ptr(cfg->operator_key), ck_secret_len(cfg->operator_key))) ==
            NULL)
        goto out;
    if (cfg->rp_key != NULL &&
        (arm->rp_key = ck_secret_from(ck_secret_ptr(cfg->rp_key), ck_secret_len(cfg->rp_key))) == NULL)
        goto out;
    for (int i = 0; i < cfg->nrps; i++) {
        if (cfg->rps[i].ns == NULL || cfg->rps[i].base_url == NULL) {
            rc = CK_E_INVALID;
            goto out;
        }
        arm->rps[i].ns = ck_strdup(cfg->rps[i].ns);
        arm->rps[i].base_url = ck_strdup(cfg->rps[i].base_url);
        arm->nrps = i + 1;
        if (arm->rps[i].ns == NULL || arm->rps[i].base_url == NULL)
            goto out;
    }
    for (size_t i = 0; i < sizeof(arm_fixed_audiences) / sizeof(arm_fixed_audiences[0]); i++)
        arm->audiences[na++] = arm_fixed_audiences[i];
    arm->aud_store[0] = ck_strdup(arm->endpoint);
    arm->aud_store[1] = ck_malloc(el + 2);
    if (arm->aud_store[0] == NULL || arm->aud_store[1] == NULL)
        goto out;
    snprintf(arm->aud_store[1], el + 2, "%s/", arm->endpoint);
    arm->audiences[na++] = arm->aud_store[0];
    arm->audiences[na++] = arm->aud_store[1];
    arm->audiences[na] = NULL;

    vc.authority = cfg->authority ? cfg->authority : cfg->endpoint;
    vc.ca_file = cfg->ca_file;
    if ((rc = ck_verifier_new(&vc, &arm->verifier)) != CK_OK)
        goto out;
    if ((rc = arm_store_open(arm, cfg->data_dir)) != CK_OK)
        goto out;
    *out = arm;
    arm = NULL;
    rc = CK_OK;
out:
    arm_free(arm);
    return rc;
}

void arm_free(struct arm *arm)
{
    if (arm == NULL)
        return;
    ck_db_free(arm->db);
    ck_verifier_free(arm->verifier);
    ck_free(arm->endpoint);
    ck_free(arm->ca_file);
    ck_secret_free(arm->operator_key);
    ck_secret_free(arm->rp_key);
    for (int i = 0; i < arm->nrps; i++) {
        ck_free((void *)arm->rps[i].ns);
        ck_free((void *)arm->rps[i].base_url);
    }
    ck_free(arm->aud_store[0]);
    ck_free(arm->aud_store[1]);
    ck_free(arm);
}

int arm_mount(struct arm *arm, struct ck_httpd *h)
{
    struct ck_mount m = {
        .name = "arm",
        .match = arm_match,
        .handle = arm_handle,
        .error = arm_error_fn,
        .ctx = arm,
        .body_limit = ARM_BODY_LIMIT,
    };
    return ck_httpd_mount(h, &m);
}
