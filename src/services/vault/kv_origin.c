/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vault service object and the vault origins. Each vault is served on its own HTTPS origin.
 * A data-plane request is authenticated before anything else (wire reference B.1): without a
 * bearer token it gets 401 with the challenge naming the vault's tenant; a token must be RS256
 * from the vault's tenant, for the vault resource, and current. Authorization is asked of ARM
 * (check-access) on every request, so role changes apply to the next one. Every authenticated
 * request lands in the vault's audit log. CORS preflights from the main origin (the portal's, see
 * kv_cors) are answered first; faults injected for tests (kv_fault.c) apply before anything else.
 */
#include "services/vault/kv_int.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static char *kv_dup(const char *s)
{
    return s ? ck_strdup(s) : NULL;
}

int kv_new(const struct kv_config *cfg, struct kv **out)
{
    struct kv *kv = ck_calloc(1, sizeof(*kv));
    struct ck_verifier_config vc = {0};
    int rc = CK_E_NOMEM;
    if (kv == NULL)
        return CK_E_NOMEM;
    pthread_mutex_init(&kv->lock, NULL);
    pthread_mutex_init(&kv->events_lock, NULL);
    pthread_cond_init(&kv->events_cond, NULL);
    pthread_mutex_init(&kv->sched_lock, NULL);
    pthread_cond_init(&kv->sched_cond, NULL);
    pthread_mutex_init(&kv->keycache_lock, NULL);
    pthread_mutex_init(&kv->audit_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&kv->audit_gather_cond, &ca);
    pthread_condattr_destroy(&ca);
    kv->audit_tail = &kv->audit_head;
    kv_fault_init(kv);
    kv->cfg = *cfg;
    if (cfg->master_key == NULL || ck_secret_len(cfg->master_key) != CK_SEAL_KEY_LEN) {
        rc = CK_E_INVALID;
        goto fail;
    }
    kv->keycache = ck_calloc(KV_KEYCACHE_SIZE, sizeof(struct kv_cached));
    if (kv->keycache == NULL)
        goto fail;
    kv->data_dir = kv_dup(cfg->data_dir);
    kv->authority = kv_dup(cfg->authority);
    kv->arm_endpoint = kv_dup(cfg->arm_endpoint);
    kv->ca_file = kv_dup(cfg->ca_file);
    kv->listen_addr = kv_dup(cfg->listen_addr ? cfg->listen_addr : "127.0.0.1");
    kv->public_host = kv_dup(cfg->public_host ? cfg->public_host : "localhost");
    kv->tls_cert = kv_dup(cfg->tls_cert_pem);
    kv->tls_key = kv_dup(cfg->tls_key_pem);
    kv->dns_suffix = kv_dup(cfg->dns_suffix);
    /* Under a DNS suffix the challenge names https://{suffix}, so the SDK's check that the vault
     * host is a sub-domain of the resource host passes. */
    if (cfg->resource != NULL)
        kv->resource = kv_dup(cfg->resource);
    else if (cfg->dns_suffix != NULL)
        kv->resource = ck_malloc(strlen(cfg->dns_suffix) + 9);
    else
        kv->resource = kv_dup(KV_DEFAULT_RESOURCE);
    if (kv->resource != NULL && cfg->resource == NULL && cfg->dns_suffix != NULL)
        snprintf(kv->resource, strlen(cfg->dns_suffix) + 9, "https://%s", cfg->dns_suffix);
    kv->master_key = ck_secret_from(ck_secret_ptr(cfg->master_key), ck_secret_len(cfg->master_key));
    kv->audit_key = ck_secret_new(CK_SHA256_LEN);
    if (kv->master_key == NULL || kv->audit_key == NULL ||
        ck_hmac_sha256(ck_secret_ptr(kv->master_key), ck_secret_len(kv->master_key), "ck-kv-audit-anchor", 18,
                       ck_secret_ptr(kv->audit_key)) != CK_OK)
        goto fail;
    kv->rp_key = cfg->rp_key ? ck_secret_from(ck_secret_ptr(cfg->rp_key), ck_secret_len(cfg->rp_key)) : NULL;
    kv->operator_key = cfg->operator_key
                           ? ck_secret_from(ck_secret_ptr(cfg->operator_key), ck_secret_len(cfg->operator_key))
                           : NULL;
    if (kv->data_dir == NULL || kv->authority == NULL || kv->arm_endpoint == NULL || kv->master_key == NULL ||
        kv->resource == NULL || kv->listen_addr == NULL || kv->public_host == NULL)
        goto fail;
    vc.authority = kv->authority;
    vc.ca_file = kv->ca_file;
    vc.token_cache = CK_TOKEN_CACHE_DEFAULT;
    if ((rc = ck_verifier_new(&vc, &kv->verifier)) != CK_OK)
        goto fail;
    if ((rc = ck_access_new(kv->arm_endpoint, kv->ca_file, kv->rp_key, &kv->access)) != CK_OK)
        goto fail;
    if ((rc = kv_store_open(kv)) != CK_OK) {
        ck_log(CK_LOG_ERROR, "vault: cannot open the store under %s", kv->data_dir);
        goto fail;
    }
    *out = kv;
    return CK_OK;
fail:
    kv_free(kv);
    return rc;
}

void kv_free(struct kv *kv)
{
    if (kv == NULL)
        return;
    kv_fault_stop(kv);
    kv_sched_stop(kv);
    if (kv->keycache != NULL)
        kv_keycache_clear(kv);
    ck_free(kv->keycache);
    pthread_mutex_destroy(&kv->keycache_lock);
    pthread_mutex_destroy(&kv->audit_lock);
    ck_access_free(kv->access);
    pthread_cond_destroy(&kv->audit_gather_cond);
    ck_httpd_free(kv->shared);
    while (kv->origins != NULL) {
        struct kv_origin *o = kv->origins;
        kv->origins = o->next;
        ck_httpd_free(o->httpd);
        ck_free(o);
    }
    ck_verifier_free(kv->verifier);
    ck_db_free(kv->audit_db);
    ck_db_free(kv->db);
    ck_secret_free(kv->master_key);
    ck_secret_free(kv->audit_key);
    ck_secret_free(kv->rp_key);
    ck_secret_free(kv->operator_key);
    if (kv->tls_key != NULL)
        ck_freezero(kv->tls_key, strlen(kv->tls_key));
    ck_free(kv->data_dir);
    ck_free(kv->authority);
    ck_free(kv->arm_endpoint);
    ck_free(kv->ca_file);
    ck_free(kv->listen_addr);
    ck_free(kv->public_host);
    ck_free(kv->tls_cert);
    ck_free(kv->resource);
    ck_free(kv->dns_suffix);
    pthread_mutex_destroy(&kv->lock);
    pthread_mutex_destroy(&kv->events_lock);
    pthread_cond_destroy(&kv->events_cond);
    pthread_mutex_destroy(&kv->sched_lock);
    pthread_cond_destroy(&kv->sched_cond);
    kv_fault_cleanup(kv);
    ck_free(kv);
}

void kv_error(struct ck_resp *resp, int status, const char *code, const char *inner, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:s,s:s}", "code", code, "message", msg);
    if (e != NULL && inner != NULL)
        json_object_set_new(e, "innererror", json_pack("{s:s}", "code", inner));
    json_t *body = json_pack("{s:o}", "error", e);
    ck_resp_json(resp, status, body);
    json_decref(body);
}

static void kv_challenge(struct kv *kv, struct ck_resp *resp, const char *tenant)
{
    char h[512];
    snprintf(h, sizeof(h), "Bearer authorization=\"%s/%s\", resource=\"%s\"", kv->authority, tenant, kv->resource);
    ck_resp_header(resp, "WWW-Authenticate", h);
}

/* Authenticates the bearer token for vault v. Returns 1, or writes a 401 and returns 0. */
static int kv_authenticate(struct kv *kv, const struct kv_vault *v, struct ck_req *req, struct ck_resp *resp,
                           struct kv_caller *c)
{
    const char *tok = ck_bearer_token(ck_req_header(req, "Authorization"));
    char res_slash[300];
    snprintf(res_slash, sizeof(res_slash), "%s/", kv->resource);
    const char *auds[] = {kv->resource, res_slash, KV_DEFAULT_RESOURCE, KV_DEFAULT_RESOURCE "/", KV_APP_ID, NULL};
    if (tok == NULL) {
        kv_challenge(kv, resp, v->tenant_id);
        kv_error(resp, 401, "Unauthorized", NULL, "AKV10000: Request is missing a Bearer or PoP token.");
        return 0;
    }
    enum ck_token_fail why = ck_verify_token(kv->verifier, tok, auds, v->tenant_id, &c->claims);
    if (why == CK_TF_NONE)
        return 1;
    kv_challenge(kv, resp, v->tenant_id);
    if (why == CK_TF_TENANT) {
        json_t *h = NULL, *p = NULL;
        const char *iss = "";
        if (ck_jwt_decode_unverified(tok, &h, &p) == CK_OK && ck_json_str(p, "iss") != NULL)
            iss = ck_json_str(p, "iss");
        kv_error(resp, 401, "Unauthorized", NULL,
                 "AKV10032: Invalid issuer. Expected one of https://sts.windows.net/%s/, "
                 "https://login.microsoftonline.com/%s/v2.0, found %.200s.",
                 v->tenant_id, v->tenant_id, iss);
        json_decref(h);
        json_decref(p);
    } else if (why == CK_TF_AUDIENCE) {
        kv_error(resp, 401, "Unauthorized", NULL, "AKV10022: Invalid audience. Expected %s.", kv->resource);
    } else if (why == CK_TF_EXPIRED) {
        kv_error(resp, 401, "Unauthorized", NULL, "AKV10001: The token has expired.");
    } else {
        kv_error(resp, 401, "Unauthorized", NULL, "AKV10001: The access token is not valid: %s.", ck_token_fail_text(why));
    }
    return 0;
}

char *kv_vault_origin(struct kv *kv, struct ck_arena *a, const struct kv_vault *v)
{
    if (kv->dns_suffix != NULL)
        return ck_arena_printf(a, "https://%s.%s:%u", v->name, kv->dns_suffix, v->port);
    return ck_arena_printf(a, "https://%s:%u", kv->public_host, v->port);
}

/* Whether origin is the main origin (kv->authority, where the portal is served), ignoring a
 * trailing slash of the configured value. */
static int kv_cors_allowed(const struct kv *kv, const char *origin)
{
    size_t n = strlen(kv->authority);
    while (n > 0 && kv->authority[n - 1] == '/')
        n--;
    return strlen(origin) == n && strncmp(origin, kv->authority, n) == 0;
}

/*
 * CORS for the portal (docs/portal.md): the portal, served on the main origin, calls the keys
 * data plane from the browser. A request whose Origin is exactly the main origin gets
 * Access-Control-Allow-Origin (with the headers the portal reads exposed); any other origin gets
 * none, so browsers keep other sites' pages from reading vault answers. A preflight (OPTIONS with
 * Access-Control-Request-Method) is answered here, before authentication, faults and the audit
 * log: 204 with the methods and headers the portal sends for the main origin, 403 for any other
 * origin or method. Returns 1 when the request was answered.
 */
static int kv_cors(const struct kv *kv, struct ck_req *req, struct ck_resp *resp)
{
    const char *origin = ck_req_header(req, "Origin");
    const char *want = ck_req_header(req, "Access-Control-Request-Method");
    int allowed;
    if (origin == NULL)
        return 0;
    allowed = kv_cors_allowed(kv, origin);
    ck_resp_header(resp, "Vary", "Origin");
    if (allowed) {
        ck_resp_header(resp, "Access-Control-Allow-Origin", origin);
        ck_resp_header(resp, "Access-Control-Expose-Headers", "WWW-Authenticate, x-ms-request-id, x-ms-client-request-id");
    }
    if (strcmp(ck_req_method(req), "OPTIONS") != 0 || want == NULL)
        return 0;
    if (!allowed) {
        kv_error(resp, 403, "Forbidden", NULL, "CORS: the origin '%.200s' may not call this vault.", origin);
        return 1;
    }
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};
    int ok = 0;
    for (size_t i = 0; methods[i] != NULL; i++)
        ok |= strcmp(want, methods[i]) == 0;
    if (!ok) {
        kv_error(resp, 403, "Forbidden", NULL, "CORS: the method '%.20s' is not allowed.", want);
        return 1;
    }
    ck_resp_header(resp, "Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE");
    ck_resp_header(resp, "Access-Control-Allow-Headers", "Authorization, Content-Type, x-ms-client-request-id");
    ck_resp_header(resp, "Access-Control-Max-Age", "600");
    ck_resp_status(resp, 204);
    return 1;
}

static void kv_serve(struct kv *kv, const char *name, struct ck_req *req, struct ck_resp *resp)
{
    struct kv_vault v;
    struct kv_caller c;
    const char *operation = NULL;
    char *kid = NULL;

    if (kv_cors(kv, req, resp))
        return;
    if (kv_fault_gate(kv, name, resp))
        return;
    if (kv_vault_get(kv, ck_req_arena(req), name, 0, &v) != CK_OK) {
        kv_error(resp, 404, "VaultNotFound", NULL, "The vault '%.64s' does not exist.", name);
        return;
    }
    memset(&c, 0, sizeof(c));
    if (!kv_authenticate(kv, &v, req, resp, &c))
        return;
    ck_req_set_principal(req, c.claims.oid);
    kv_handle_keys(kv, &v, &c, kv_vault_origin(kv, ck_req_arena(req), &v), req, resp, &operation, &kid);
    if (operation != NULL) {
        int status = ck_resp_get_status(resp);
        /* The record is durable before the result leaves: if it cannot be written, the result
         * (an unwrapped key, a plaintext, a signature) is withheld. */
        const char *corr = kv_audit_correlation(ck_req_header(req, "x-ms-client-request-id"));
        if (kv_audit_append(kv, v.name, &c, operation, kid, status, ck_req_peer(req), ck_req_id(req), corr) != CK_OK) {
            ck_log(CK_LOG_ERROR, "vault %s: the audit record for request %s could not be written", v.name, ck_req_id(req));
            kv_error(resp, 500, "InternalServerError", NULL,
                     "The audit record of this request could not be written; its result is withheld.");
        }
    }
}

static void kv_data_handler(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    struct kv_origin *o = ctx;
    kv_serve(o->kv, o->name, req, resp);
}

/* The shared origin: the vault is the first label of the Host header, under the DNS suffix. */
static void kv_shared_handler(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    struct kv *kv = ctx;
    const char *host = ck_req_header(req, "Host");
    char name[32];
    size_t sl = strlen(kv->dns_suffix);
    size_t hl = host ? strcspn(host, ":") : 0;
    if (host == NULL || hl <= sl + 1 || host[hl - sl - 1] != '.' || strncasecmp(host + hl - sl, kv->dns_suffix, sl) != 0 ||
        hl - sl - 1 >= sizeof(name)) {
        kv_error(resp, 404, "VaultNotFound", NULL, "The host name does not name a vault under %s.", kv->dns_suffix);
        return;
    }
    memcpy(name, host, hl - sl - 1);
    name[hl - sl - 1] = '\0';
    if (strchr(name, '.') != NULL) {
        kv_error(resp, 404, "VaultNotFound", NULL, "The host name does not name a vault under %s.", kv->dns_suffix);
        return;
    }
    kv_serve(kv, name, req, resp);
}

static void kv_data_error(void *ctx, struct ck_req *req, struct ck_resp *resp, int status, const char *code,
                          const char *message)
{
    (void)ctx;
    (void)req;
    kv_error(resp, status, status == 413 ? "RequestEntityTooLarge" : code, NULL, "%s", message);
}

/* Listens for vault name on port (0: the kernel chooses). Returns the origin, not yet linked into
 * kv->origins, or NULL when the port cannot be bound. */
static struct kv_origin *kv_origin_open(struct kv *kv, const char *name, unsigned port)
{
    struct kv_origin *o = ck_calloc(1, sizeof(*o));
    struct ck_httpd_config hc = {.bind_addr = kv->listen_addr, .port = (uint16_t)port, .tls_cert_pem = kv->tls_cert,
                                 .tls_key_pem = kv->tls_key, .name = "vault"};
    if (o == NULL)
        return NULL;
    o->kv = kv;
    snprintf(o->name, sizeof(o->name), "%s", name);
    if (ck_httpd_new(&hc, &o->httpd) != CK_OK) {
        ck_free(o);
        return NULL;
    }
    ck_httpd_set_public_host(o->httpd, kv->public_host);
    o->port = ck_httpd_port(o->httpd);
    struct ck_mount m = {.name = "vault", .match = NULL, .handle = kv_data_handler, .error = kv_data_error,
                         .ctx = o, .body_limit = KV_BODY_LIMIT};
    if (ck_httpd_mount(o->httpd, &m) != CK_OK) {
        ck_httpd_free(o->httpd);
        ck_free(o);
        return NULL;
    }
    return o;
}

static void kv_origin_link(struct kv *kv, struct kv_origin *o)
{
    pthread_mutex_lock(&kv->lock);
    o->next = kv->origins;
    kv->origins = o;
    pthread_mutex_unlock(&kv->lock);
    ck_log(CK_LOG_INFO, "vault %s: origin https://%s:%u/", o->name, kv->public_host, o->port);
}

/* Whether port p of the range is stored as the port of a vault other than name. */
static int kv_port_taken(struct kv *kv, unsigned p, const char *name)
{
    struct kv_vault other;
    struct ck_arena *a = ck_arena_new();
    int used = a != NULL && kv_vault_by_port(kv, a, p, &other) == CK_OK && strcasecmp(other.name, name) != 0;
    ck_arena_free(a);
    return used;
}

int kv_origin_start(struct kv *kv, const char *name, unsigned *port)
{
    struct kv_origin *o = NULL;
    if (kv->shared != NULL) {
        *port = ck_httpd_port(kv->shared);
        return CK_OK;
    }
    /* The stored port first, then the configured range (0-0: the kernel chooses). */
    if (*port != 0)
        o = kv_origin_open(kv, name, *port);
    if (o == NULL && kv->cfg.port_lo == 0)
        o = kv_origin_open(kv, name, 0);
    for (unsigned p = kv->cfg.port_lo; o == NULL && p != 0 && p <= kv->cfg.port_hi; p++)
        if (!kv_port_taken(kv, p, name))
            o = kv_origin_open(kv, name, p);
    if (o == NULL) {
        ck_log(CK_LOG_ERROR, "vault %s: no free port for its origin", name);
        return CK_E_IO;
    }
    kv_origin_link(kv, o);
    *port = o->port;
    return CK_OK;
}

int kv_origin_running(struct kv *kv, const char *name)
{
    int found = 0;
    pthread_mutex_lock(&kv->lock);
    for (struct kv_origin *o = kv->origins; o != NULL && !found; o = o->next)
        found = strcasecmp(o->name, name) == 0;
    pthread_mutex_unlock(&kv->lock);
    return found;
}

int kv_origin_resume(struct kv *kv, const char *name, unsigned port)
{
    if (kv->shared != NULL || kv_origin_running(kv, name))
        return CK_OK;
    if (port == 0)
        return CK_E_INVALID;
    struct kv_origin *o = kv_origin_open(kv, name, port);
    if (o == NULL) {
        ck_log(CK_LOG_ERROR, "vault %s: port %u is taken; its origin stays down", name, port);
        return CK_E_IO;
    }
    kv_origin_link(kv, o);
    return CK_OK;
}

void kv_origin_stop(struct kv *kv, const char *name)
{
    struct kv_origin *found = NULL;
    pthread_mutex_lock(&kv->lock);
    for (struct kv_origin **pp = &kv->origins; *pp != NULL; pp = &(*pp)->next) {
        if (strcasecmp((*pp)->name, name) == 0) {
            found = *pp;
            *pp = found->next;
            break;
        }
    }
    pthread_mutex_unlock(&kv->lock);
    if (found != NULL) {
        ck_httpd_quiesce(found->httpd);
        ck_httpd_wait_idle(found->httpd, 5000);
        ck_httpd_free(found->httpd);
        ck_free(found);
    }
}

int kv_start(struct kv *kv)
{
    struct ck_db_stmt *st = NULL;
    struct ck_arena *a = ck_arena_new();
    char *names[1024];
    unsigned ports[1024];
    int n = 0, rc = CK_OK;
    if (a == NULL)
        return CK_E_NOMEM;
    if (kv->dns_suffix != NULL && kv->shared == NULL) {
        struct ck_httpd_config hc = {.bind_addr = kv->listen_addr, .port = (uint16_t)kv->cfg.port_lo,
                                     .tls_cert_pem = kv->tls_cert, .tls_key_pem = kv->tls_key, .name = "vault"};
        struct ck_mount m = {.name = "vault", .match = NULL, .handle = kv_shared_handler, .error = kv_data_error,
                             .ctx = kv, .body_limit = KV_BODY_LIMIT};
        if (ck_httpd_new(&hc, &kv->shared) != CK_OK || ck_httpd_mount(kv->shared, &m) != CK_OK) {
            ck_log(CK_LOG_ERROR, "vault: cannot listen on %s:%u for *.%s", kv->listen_addr, kv->cfg.port_lo, kv->dns_suffix);
            ck_arena_free(a);
            return CK_E_IO;
        }
        ck_log(CK_LOG_INFO, "vault: origin https://*.%s:%u/", kv->dns_suffix, ck_httpd_port(kv->shared));
    }
    ck_db_lock(kv->db);
    if (ck_db_prepare(kv->db, "SELECT name, port FROM vaults WHERE deleted_at IS NULL ORDER BY name", &st) == CK_OK) {
        while (n < 1024 && ck_db_step(st) == 1) {
            names[n] = ck_arena_strdup(a, ck_db_col_text(st, 0));
            ports[n] = (unsigned)ck_db_col_int64(st, 1);
            n++;
        }
    }
    ck_db_stmt_free(st);
    ck_db_unlock(kv->db);
    for (int i = 0; i < n && rc == CK_OK; i++) {
        unsigned port = ports[i];
        rc = kv_origin_start(kv, names[i], &port);
        if (rc == CK_OK && port != ports[i]) {
            char ps[16];
            snprintf(ps, sizeof(ps), "%u", port);
            const char *p[2] = {ps, names[i]};
            ck_db_lock(kv->db);
            rc = ck_db_run(kv->db, "UPDATE vaults SET port = CAST(?1 AS INTEGER) WHERE name = ?2", 2, p);
            ck_db_unlock(kv->db);
        }
    }
    ck_arena_free(a);
    if (rc == CK_OK && !kv->sched_running)
        rc = kv_sched_start(kv, kv->cfg.rotation_interval_ms);
    return rc;
}

void kv_drain(struct kv *kv, int timeout_ms)
{
    kv_events_close(kv); /* long polls would hold the drain for their whole timeout */
    kv_fault_stop(kv);
    if (kv->shared != NULL) {
        ck_httpd_quiesce(kv->shared);
        ck_httpd_wait_idle(kv->shared, timeout_ms);
    }
    pthread_mutex_lock(&kv->lock);
    for (struct kv_origin *o = kv->origins; o != NULL; o = o->next)
        ck_httpd_quiesce(o->httpd);
    for (struct kv_origin *o = kv->origins; o != NULL; o = o->next)
        ck_httpd_wait_idle(o->httpd, timeout_ms);
    pthread_mutex_unlock(&kv->lock);
}

static int kv_rp_match(void *ctx, const char *path)
{
    (void)ctx;
    return strncmp(path, "/rp/vault/", 10) == 0 || strncmp(path, "/operator/vault/", 16) == 0;
}

static void kv_rp_route(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    if (strncmp(ck_req_path(req), "/operator/vault/", 16) == 0)
        kv_operator(ctx, req, resp);
    else
        kv_handle_rp(ctx, req, resp);
}


int kv_mount(struct kv *kv, struct ck_httpd *h)
{
    struct ck_mount m = {.name = "vault-rp", .match = kv_rp_match, .handle = kv_rp_route,
                         .ctx = kv, .body_limit = 256 * 1024};
    return ck_httpd_mount(h, &m);
}
