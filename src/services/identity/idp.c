/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The identity service object: configuration, store and signing keys at start, and the routes it
 * mounts on the main origin (operator API, resource provider, Graph, per-tenant OIDC and token
 * endpoints) and on the managed-identity listener.
 */
#include "services/identity/idp_int.h"
#include "core/log.h"

#include <string.h>
#include <strings.h>

static struct ck_secret *idp_secret_copy(const struct ck_secret *s)
{
    return s ? ck_secret_from(ck_secret_ptr(s), ck_secret_len(s)) : NULL;
}

int idp_new(const struct idp_config *cfg, struct idp **out)
{
    struct idp *idp = ck_calloc(1, sizeof(*idp));
    struct ck_verifier_config vc = {0};
    int rc = CK_E_NOMEM;
    if (idp == NULL)
        return CK_E_NOMEM;
    pthread_mutex_init(&idp->lock, NULL);
    if (cfg->master_key == NULL || ck_secret_len(cfg->master_key) != CK_SEAL_KEY_LEN) {
        rc = CK_E_INVALID;
        goto fail;
    }
    idp->data_dir = ck_strdup(cfg->data_dir);
    idp->authority = ck_strdup(cfg->authority);
    idp->mi_endpoint = ck_strdup(cfg->mi_endpoint ? cfg->mi_endpoint : "");
    idp->ca_file = cfg->ca_file ? ck_strdup(cfg->ca_file) : NULL;
    idp->master_key = idp_secret_copy(cfg->master_key);
    idp->operator_key = idp_secret_copy(cfg->operator_key);
    idp->rp_key = idp_secret_copy(cfg->rp_key);
    if (idp->data_dir == NULL || idp->authority == NULL || idp->master_key == NULL)
        goto fail;
    vc.authority = NULL; /* our own tenants only: keys are added directly */
    if ((rc = ck_verifier_new(&vc, &idp->verifier)) != CK_OK)
        goto fail;
    if ((rc = idp_store_open(idp)) != CK_OK) {
        ck_log(CK_LOG_ERROR, "identity: cannot open the store under %s", idp->data_dir);
        goto fail;
    }
    if ((rc = idp_keys_load(idp)) != CK_OK)
        goto fail;
    *out = idp;
    return CK_OK;
fail:
    idp_free(idp);
    return rc;
}

void idp_free(struct idp *idp)
{
    if (idp == NULL)
        return;
    while (idp->signers != NULL) {
        struct idp_signer *s = idp->signers;
        idp->signers = s->next;
        ck_pkey_free(s->key);
        ck_free(s->cert_b64);
        ck_free(s);
    }
    ck_verifier_free(idp->verifier);
    ck_db_free(idp->db);
    ck_secret_free(idp->master_key);
    ck_secret_free(idp->operator_key);
    ck_secret_free(idp->rp_key);
    ck_free(idp->data_dir);
    ck_free(idp->authority);
    ck_free(idp->mi_endpoint);
    ck_free(idp->ca_file);
    pthread_mutex_destroy(&idp->lock);
    ck_free(idp);
}

static int idp_prefix(const char *path, const char *prefix)
{
    return strncmp(path, prefix, strlen(prefix)) == 0;
}

/* ARM's paths are case-insensitive, so the ones it owns are refused here in any case. */
static int idp_arm_prefix(const char *path, const char *prefix)
{
    return strncasecmp(path, prefix, strlen(prefix)) == 0;
}

/* Main-origin paths the identity service owns. ARM owns /subscriptions and /providers. */
static int idp_match(void *ctx, const char *path)
{
    (void)ctx;
    if (idp_prefix(path, "/operator/identity/") || idp_prefix(path, "/rp/identity/") || idp_prefix(path, "/v1.0/"))
        return 1;
    if (path[0] != '/' || path[1] == '/' || path[1] == '\0')
        return 0;
    if (idp_arm_prefix(path, "/subscriptions") || idp_arm_prefix(path, "/providers") ||
        idp_prefix(path, "/operator/") || idp_prefix(path, "/rp/") || idp_prefix(path, "/portal"))
        return 0;
    /* /{tenant}/... : OIDC discovery, JWKS and the token endpoint. */
    return strchr(path + 1, '/') != NULL;
}

static void idp_route(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    struct idp *idp = ctx;
    const char *path = ck_req_path(req);
    if (idp_prefix(path, "/operator/identity/"))
        idp_handle_operator(idp, req, resp);
    else if (idp_prefix(path, "/rp/identity/"))
        idp_handle_rp(idp, req, resp);
    else if (idp_prefix(path, "/v1.0/"))
        idp_handle_graph(idp, req, resp);
    else
        idp_handle_tenant_path(idp, req, resp);
}

static void idp_error(void *ctx, struct ck_req *req, struct ck_resp *resp, int status, const char *code,
                      const char *message)
{
    const char *path = ck_req_path(req);
    (void)ctx;
    if (idp_prefix(path, "/v1.0/"))
        idp_graph_error(req, resp, status, status == 413 ? "Request_BadRequest" : code, "%s", message);
    else if (idp_prefix(path, "/operator/") || idp_prefix(path, "/rp/"))
        idp_arm_error(req, resp, status, code, "%s", message);
    else
        idp_aad_error(req, resp, status, "invalid_request", 900144, "%s", message);
}

int idp_mount(struct idp *idp, struct ck_httpd *h)
{
    struct ck_mount m = {
        .name = "identity",
        .match = idp_match,
        .handle = idp_route,
        .error = idp_error,
        .ctx = idp,
        .body_limit = 256 * 1024,
    };
    return ck_httpd_mount(h, &m);
}

static void idp_mi_error(void *ctx, struct ck_req *req, struct ck_resp *resp, int status, const char *code,
                         const char *message)
{
    (void)ctx;
    (void)req;
    (void)code;
    json_t *body = json_pack("{s:s,s:s}", "error", "invalid_request", "error_description", message);
    /* IMDS clients retry 404 and 410 for ~25 s; never answer them. */
    ck_resp_json(resp, status == 404 || status == 410 ? 400 : status, body);
    json_decref(body);
}

static void idp_mi_route(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    idp_handle_mi(ctx, req, resp);
}

int idp_mount_mi(struct idp *idp, struct ck_httpd *h)
{
    struct ck_mount m = {
        .name = "managed-identity",
        .match = NULL,
        .handle = idp_mi_route,
        .error = idp_mi_error,
        .ctx = idp,
        .body_limit = 16 * 1024,
    };
    return ck_httpd_mount(h, &m);
}
