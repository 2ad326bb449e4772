/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_TEST_VAULT_FIXTURE_H
#define CK_TEST_VAULT_FIXTURE_H

/*
 * Shared fixture for the key vault service tests: the real stack in one process, wired as
 * src/daemon/main.c wires it. A temporary data directory; a test CA and a server certificate for
 * localhost and 127.0.0.1 (made with the crypto API, trusted by the HTTP client); a plain-HTTP main
 * listener on 127.0.0.1 carrying identity, ARM and the vault resource provider; vault origins
 * over HTTPS on kernel-chosen ports. Helpers create tenants (operator API), principals (Graph),
 * tokens (token endpoint), subscriptions, resource groups, vaults and role assignments (ARM), and
 * drive the vault data plane with the real client. Every data-plane response that passed
 * authentication is counted, so that a test can check the audit log holds one record for each.
 * Each test file includes this header once; helpers a file does not use are marked unused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authz/jwt.h"
#include "core/codec.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "crypto/keyops.h"
#include "crypto/random.h"
#include "db/db.h"
#include "http/client/httpc.h"
#include "http/server/httpd.h"
#include "services/arm/arm.h"
#include "services/identity/identity.h"
#include "services/vault/vault.h"
#include "../common/tf_http.h"

#define KF_UNUSED __attribute__((unused))
#define KF_OP_KEY "b3BlcmF0b3Ita2V5LWZvci12YXVsdC10ZXN0cy0wMTIz"
#define KF_RP_KEY "cnAta2V5LWZvci12YXVsdC10ZXN0cy0wMTIzNDU2Nzg5"
#define KF_JSON "Content-Type: application/json"
#define KF_FORM "Content-Type: application/x-www-form-urlencoded;charset=utf-8"
#define KF_VAULT_SCOPE "https://vault.azure.net/.default"
#define KF_ARM_SCOPE "https://management.azure.com/.default"
#define KF_GRAPH_SCOPE "https://graph.microsoft.com/.default"
#define KF_KV_API "7.5"
#define KF_ARM_KV_API "2026-02-01"

#define ROLE_KV_ADMIN "00482a5a-887f-4fb3-b363-3b7fe8e74483"
#define ROLE_KV_OFFICER "14b46e9e-c2b7-41b4-b07b-48a6ebf60603"
#define ROLE_KV_USER "12338af0-0e69-4776-bea7-57ae8d297424"
#define ROLE_KV_SEU "e147488a-f6f5-4113-8e2d-b22465e65bf6"
#define ROLE_OWNER "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
#define ROLE_READER "acdd72a7-3385-48ef-bd42-f606fba81ae7"

struct kf {
    char dir[256];
    char kvdir[300];
    char ca_file[300];
    char *ca_pem, *chain_pem;
    struct ck_secret *tls_key_pem;
    struct ck_secret *master, *kv_master, *opk, *rpk;
    struct ck_httpd *main;
    struct idp *idp;
    struct arm *arm;
    struct kv *kv;
    unsigned main_port;
    char base[64];
    /* Per vault origin: data-plane responses that passed authentication (each must have left one
     * audit record), in all and by status. */
    struct {
        unsigned port;
        long n;
        long by_status[600];
    } audited[8];
};

static struct kf F;
/* Whether kf_start lets the operator inject faults (crosskeyd --test-faults), and the DNS suffix
 * it serves vaults under (NULL: an origin per vault); kept apart from F, which kf_setup clears. */
static int kf_test_faults;
static const char *kf_dns_suffix;

struct tenant {
    char tid[37];
    char client_id[37];
    char secret[128];
    char sp[37];
};

/* An application with a secret and its service principal in one tenant. */
struct principal {
    char app_id[37];
    char app_oid[37];
    char secret[128];
    char oid[37]; /* the service principal: what role assignments name */
    char tok[8192];
};

/* struct rsp, rsp_free, the live-response list, the HTTP request and P() are shared. */
#define kf_http tf_http
#define kf_live_release tf_live_release

static KF_UNUSED void kf_copy(char *dst, size_t cap, const char *src)
{
    assert_non_null(src);
    assert_true(strlen(src) < cap);
    memcpy(dst, src, strlen(src) + 1);
}

/* ---- TLS material ---- */

static void kf_make_tls(void)
{
    struct ck_pkey *ca_key = NULL, *srv_key = NULL;
    char *cert_pem = NULL;
    assert_int_equal(ck_pkey_rsa_generate(2048, &ca_key), CK_OK);
    assert_int_equal(ck_pkey_rsa_generate(2048, &srv_key), CK_OK);
    assert_int_equal(ck_x509_self_signed(ca_key, "crosskey vault test CA", 1, 30, &F.ca_pem), CK_OK);
    assert_int_equal(ck_x509_issue(ca_key, F.ca_pem, srv_key, "localhost", "localhost,127.0.0.1", 30, &cert_pem), CK_OK);
    F.chain_pem = ck_malloc(strlen(cert_pem) + strlen(F.ca_pem) + 1);
    assert_non_null(F.chain_pem);
    memcpy(F.chain_pem, cert_pem, strlen(cert_pem));
    memcpy(F.chain_pem + strlen(cert_pem), F.ca_pem, strlen(F.ca_pem) + 1);
    assert_int_equal(ck_pkey_private_pem(srv_key, &F.tls_key_pem), CK_OK);
    snprintf(F.ca_file, sizeof(F.ca_file), "%s/ca.pem", F.dir);
    assert_int_equal(ck_write_file_atomic(F.ca_file, F.ca_pem, strlen(F.ca_pem), 0644), 0);
    ck_httpc_set_ca_file(F.ca_file);
    ck_free(cert_pem);
    ck_pkey_free(ca_key);
    ck_pkey_free(srv_key);
}

/* ---- the stack ---- */

/*
 * Starts identity, ARM and the vault service on F.dir, as crosskeyd does, with the given vault
 * master key. main_port 0 lets the kernel choose (else the port is reused, for restarts).
 * Returns kv_new's result; on failure nothing is left running.
 */
static KF_UNUSED int kf_start(const struct ck_secret *kv_master, unsigned main_port)
{
    char id_dir[300], arm_dir[300], rp_id[128], rp_kv[128];
    struct ck_httpd_config hc = {.bind_addr = "127.0.0.1", .port = (uint16_t)main_port, .name = "kv-test-main"};
    int rc;
    assert_int_equal(ck_httpd_new(&hc, &F.main), CK_OK);
    ck_httpd_set_public_host(F.main, "127.0.0.1");
    F.main_port = ck_httpd_port(F.main);
    snprintf(F.base, sizeof(F.base), "http://127.0.0.1:%u", F.main_port);
    snprintf(id_dir, sizeof(id_dir), "%s/identity", F.dir);
    snprintf(arm_dir, sizeof(arm_dir), "%s/arm", F.dir);
    snprintf(F.kvdir, sizeof(F.kvdir), "%s/vault", F.dir);
    struct idp_config icfg = {.data_dir = id_dir, .authority = F.base, .mi_endpoint = "http://127.0.0.1:1",
                              .ca_file = F.ca_file, .master_key = F.master, .operator_key = F.opk, .rp_key = F.rpk};
    assert_int_equal(idp_new(&icfg, &F.idp), CK_OK);
    assert_int_equal(idp_mount(F.idp, F.main), CK_OK);
    struct kv_config kcfg = {.data_dir = F.kvdir, .authority = F.base, .arm_endpoint = F.base, .ca_file = F.ca_file,
                             .master_key = kv_master, .rp_key = F.rpk, .listen_addr = "127.0.0.1",
                             .public_host = "localhost", .tls_cert_pem = F.chain_pem,
                             .tls_key_pem = (const char *)ck_secret_ptr(F.tls_key_pem), .port_lo = 0, .port_hi = 0,
                             .operator_key = F.opk, .test_faults = kf_test_faults, .dns_suffix = kf_dns_suffix};
    rc = kv_new(&kcfg, &F.kv);
    if (rc != CK_OK) {
        ck_httpd_free(F.main);
        idp_free(F.idp);
        F.main = NULL;
        F.idp = NULL;
        F.kv = NULL;
        return rc;
    }
    assert_int_equal(kv_mount(F.kv, F.main), CK_OK);
    snprintf(rp_id, sizeof(rp_id), "%s/rp/identity", F.base);
    snprintf(rp_kv, sizeof(rp_kv), "%s/rp/vault", F.base);
    struct arm_config acfg = {.data_dir = arm_dir, .endpoint = F.base, .authority = F.base, .ca_file = F.ca_file,
                              .operator_key = F.opk, .rp_key = F.rpk};
    acfg.rps[0].ns = "Microsoft.ManagedIdentity";
    acfg.rps[0].base_url = rp_id;
    acfg.rps[1].ns = "Microsoft.KeyVault";
    acfg.rps[1].base_url = rp_kv;
    acfg.nrps = 2;
    assert_int_equal(arm_new(&acfg, &F.arm), CK_OK);
    assert_int_equal(arm_mount(F.arm, F.main), CK_OK);
    assert_int_equal(kv_start(F.kv), CK_OK);
    return CK_OK;
}

static KF_UNUSED void kf_stop(void)
{
    ck_httpd_free(F.main);
    kv_free(F.kv);
    idp_free(F.idp);
    arm_free(F.arm);
    F.main = NULL;
    F.kv = NULL;
    F.idp = NULL;
    F.arm = NULL;
}

static KF_UNUSED int kf_setup(void)
{
    memset(&F, 0, sizeof(F));
    assert_int_equal(ck_httpc_global_init(), CK_OK);
    if (getenv("CK_TEST_VERBOSE") == NULL)
        ck_log_set_level(CK_LOG_ERROR);
    snprintf(F.dir, sizeof(F.dir), "/tmp/ck-kv-test-XXXXXX");
    assert_non_null(mkdtemp(F.dir));
    assert_int_equal(ck_rand_secret(CK_SEAL_KEY_LEN, &F.master), CK_OK);
    assert_int_equal(ck_rand_secret(CK_SEAL_KEY_LEN, &F.kv_master), CK_OK);
    F.opk = ck_secret_from(KF_OP_KEY, strlen(KF_OP_KEY));
    F.rpk = ck_secret_from(KF_RP_KEY, strlen(KF_RP_KEY));
    assert_non_null(F.opk);
    assert_non_null(F.rpk);
    kf_make_tls();
    assert_int_equal(kf_start(F.kv_master, 0), CK_OK);
    return 0;
}

static KF_UNUSED int kf_teardown(void)
{
    char cmd[300];
    kf_live_release();
    kf_stop();
    ck_time_set_offset(0);
    ck_secret_free(F.master);
    ck_secret_free(F.kv_master);
    ck_secret_free(F.opk);
    ck_secret_free(F.rpk);
    ck_secret_free(F.tls_key_pem);
    ck_free(F.ca_pem);
    ck_free(F.chain_pem);
    ck_httpc_set_ca_file(NULL);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.dir);
    if (system(cmd) != 0)
        return 0;
    return 0;
}

/* ---- HTTP ---- */

static KF_UNUSED void kf_show(const char *what, const struct rsp *r)
{
    print_error("%s: HTTP %ld %s\n", what, r->status, r->body ? r->body : "");
}

static KF_UNUSED void kf_status(const struct rsp *r, long status)
{
    if (r->status != status) {
        print_error("want HTTP %ld\n", status);
        kf_show("got", r);
        fail();
    }
}

/* Main-origin call with an Authorization header value (NULL: none). */
static KF_UNUSED struct rsp kf_main(const char *method, const char *path, const char *auth, const char *body)
{
    char *ah = NULL;
    const char *h[3] = {NULL, NULL, NULL};
    int n = 0;
    if (auth != NULL) {
        size_t l = strlen(auth) + 32;
        ah = ck_malloc(l);
        assert_non_null(ah);
        snprintf(ah, l, "Authorization: %s", auth);
        h[n++] = ah;
    }
    if (body != NULL)
        h[n++] = KF_JSON;
    struct rsp r = kf_http(method, P("%s%s", F.base, path), h, body, body ? strlen(body) : 0);
    ck_free(ah);
    return r;
}

static KF_UNUSED struct rsp kf_op(const char *method, const char *path, const char *body)
{
    return kf_main(method, path, "Operator " KF_OP_KEY, body);
}

/* Checks that r answered status and returns its JSON body (caller decrefs; NULL if none),
 * freeing the rest of r. */
static KF_UNUSED json_t *kf_take_json(struct rsp r, long status, const char *method, const char *path)
{
    if (r.status != status) {
        print_error("%s %s\n", method, path);
        kf_status(&r, status);
    }
    json_t *o = r.json;
    r.json = NULL;
    rsp_free(&r);
    return o;
}

/* A main-origin call with a bearer token that must answer status; returns the JSON (caller decrefs). */
static KF_UNUSED json_t *kf_bearer_ok(const char *method, const char *path, const char *tok, const char *body, long status)
{
    return kf_take_json(kf_main(method, path, P("Bearer %s", tok), body), status, method, path);
}

/* ---- identity ---- */

static KF_UNUSED const char *kf_enc(const char *v)
{
    static char bufs[4][8192];
    static int idx;
    char *e = ck_url_encode(v);
    char *b = bufs[idx++ % 4];
    assert_non_null(e);
    kf_copy(b, sizeof(bufs[0]), e);
    ck_free(e);
    return b;
}

static KF_UNUSED void kf_tenant(const char *name, struct tenant *t)
{
    struct rsp r = kf_op("POST", "/operator/identity/tenants", P("{\"displayName\":\"%s\"}", name));
    kf_status(&r, 201);
    kf_copy(t->tid, sizeof(t->tid), ck_json_str(r.json, "tenantId"));
    kf_copy(t->client_id, sizeof(t->client_id), ck_json_str(r.json, "clientId"));
    kf_copy(t->secret, sizeof(t->secret), ck_json_str(r.json, "clientSecret"));
    kf_copy(t->sp, sizeof(t->sp), ck_json_str(r.json, "servicePrincipalId"));
    rsp_free(&r);
}

/* Client credentials with a secret; writes the access token into out. */
static KF_UNUSED void kf_token(const char *tid, const char *client_id, const char *secret, const char *scope, char *out,
                               size_t cap)
{
    char form[2048];
    const char *h[2] = {KF_FORM, NULL};
    snprintf(form, sizeof(form), "grant_type=client_credentials&client_id=%s&scope=%s&client_secret=%s", client_id,
             kf_enc(scope), kf_enc(secret));
    struct rsp r = kf_http("POST", P("%s/%s/oauth2/v2.0/token", F.base, tid), h, form, strlen(form));
    kf_status(&r, 200);
    kf_copy(out, cap, ck_json_str(r.json, "access_token"));
    rsp_free(&r);
}

/* An application with a secret and a service principal in tenant t (made by t's admin through
 * Graph), with a vault token. */
static KF_UNUSED void kf_principal(const struct tenant *t, const char *name, struct principal *p)
{
    char gtok[8192];
    kf_token(t->tid, t->client_id, t->secret, KF_GRAPH_SCOPE, gtok, sizeof(gtok));
    json_t *o = kf_bearer_ok("POST", "/v1.0/applications", gtok, P("{\"displayName\":\"%s\"}", name), 201);
    kf_copy(p->app_oid, sizeof(p->app_oid), ck_json_str(o, "id"));
    kf_copy(p->app_id, sizeof(p->app_id), ck_json_str(o, "appId"));
    json_decref(o);
    o = kf_bearer_ok("POST", P("/v1.0/applications/%s/addPassword", p->app_oid), gtok,
                     "{\"passwordCredential\":{\"displayName\":\"test\"}}", 200);
    kf_copy(p->secret, sizeof(p->secret), ck_json_str(o, "secretText"));
    json_decref(o);
    o = kf_bearer_ok("POST", "/v1.0/servicePrincipals", gtok, P("{\"appId\":\"%s\"}", p->app_id), 201);
    kf_copy(p->oid, sizeof(p->oid), ck_json_str(o, "id"));
    json_decref(o);
    kf_token(t->tid, p->app_id, p->secret, KF_VAULT_SCOPE, p->tok, sizeof(p->tok));
}

/* ---- ARM ---- */

static KF_UNUSED void kf_subscription(const char *tid, const char *owner, char *out, size_t cap)
{
    struct rsp r = kf_op("POST", "/operator/arm/subscriptions",
                         P("{\"tenantId\":\"%s\",\"displayName\":\"kv-test\",\"ownerPrincipalId\":\"%s\"}", tid, owner));
    kf_status(&r, 201);
    kf_copy(out, cap, ck_json_str(r.json, "subscriptionId"));
    rsp_free(&r);
}

static KF_UNUSED void kf_rg(const char *armtok, const char *sub, const char *rg)
{
    json_decref(kf_bearer_ok("PUT", P("/subscriptions/%s/resourcegroups/%s?api-version=2021-04-01", sub, rg), armtok,
                             "{\"location\":\"eastus\"}", 201));
}

/* A customer: a tenant, a subscription owned by its admin service principal, an ARM token of
 * that principal, and resource group rg in the subscription. */
static KF_UNUSED void kf_customer(const char *name, struct tenant *t, char *sub, size_t subcap, char *armtok,
                                  size_t tokcap, const char *rg)
{
    kf_tenant(name, t);
    kf_subscription(t->tid, t->sp, sub, subcap);
    kf_token(t->tid, t->client_id, t->secret, KF_ARM_SCOPE, armtok, tokcap);
    kf_rg(armtok, sub, rg);
}

static KF_UNUSED const char *kf_vault_id(const char *sub, const char *rg, const char *name)
{
    return P("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/%s", sub, rg, name);
}

/* Creates a vault through ARM (RBAC, soft delete; purge protection as asked); returns its port. */
static KF_UNUSED unsigned kf_vault(const char *armtok, const char *sub, const char *rg, const char *name,
                                   const char *tid, int purge_protection, int retention)
{
    struct rsp r = kf_main("PUT", P("%s?api-version=" KF_ARM_KV_API, kf_vault_id(sub, rg, name)), P("Bearer %s", armtok),
                           P("{\"location\":\"eastus\",\"properties\":{\"tenantId\":\"%s\",\"sku\":{\"family\":\"A\","
                             "\"name\":\"standard\"},\"enableSoftDelete\":true,\"softDeleteRetentionInDays\":%d,"
                             "\"enablePurgeProtection\":%s,\"enableRbacAuthorization\":true}}",
                             tid, retention, purge_protection ? "true" : "false"));
    if (r.status != 200 && r.status != 201)
        kf_status(&r, 201);
    const char *uri = ck_json_str(ck_json_obj(r.json, "properties"), "vaultUri");
    assert_non_null(uri);
    unsigned port = 0;
    assert_int_equal(sscanf(uri, "https://localhost:%u/", &port), 1);
    assert_true(port > 0);
    assert_string_equal(uri, P("https://localhost:%u/", port));
    rsp_free(&r);
    return port;
}

/* Assigns role (GUID) to principal at scope through ARM; writes the assignment name. */
static KF_UNUSED void kf_assign(const char *armtok, const char *sub, const char *scope, const char *role,
                                const char *principal, char name[37])
{
    assert_int_equal(ck_uuid_new(name), CK_OK);
    json_decref(kf_bearer_ok(
        "PUT", P("%s/providers/Microsoft.Authorization/roleAssignments/%s?api-version=2022-04-01", scope, name), armtok,
        P("{\"properties\":{\"roleDefinitionId\":\"/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/"
          "%s\",\"principalId\":\"%s\",\"principalType\":\"ServicePrincipal\"}}",
          sub, role, principal),
        201));
}

static KF_UNUSED void kf_unassign(const char *armtok, const char *scope, const char *name)
{
    json_decref(kf_bearer_ok(
        "DELETE", P("%s/providers/Microsoft.Authorization/roleAssignments/%s?api-version=2022-04-01", scope, name),
        armtok, NULL, 200));
}

/* ---- the vault data plane ---- */

/*
 * Calls a vault origin. path may carry its own query; otherwise "?api-version=7.5" is added. tok
 * NULL sends no Authorization header. body NULL sends none (with ctype still set when force_ctype).
 * extra, when not NULL, is one more header line ("Name: value"). Counts the responses that passed
 * authentication (neither 401 nor a 413 answered before the handler) in F.audited.
 */
static KF_UNUSED struct rsp kv_call(unsigned port, const char *method, const char *path, const char *tok,
                                    const char *body, size_t body_len, int force_ctype, const char *extra)
{
    char *ah = NULL;
    const char *h[4] = {NULL, NULL, NULL, NULL};
    int n = 0;
    if (tok != NULL) {
        size_t l = strlen(tok) + 32;
        ah = ck_malloc(l);
        assert_non_null(ah);
        snprintf(ah, l, "Authorization: Bearer %s", tok);
        h[n++] = ah;
    }
    if (body != NULL || force_ctype)
        h[n++] = KF_JSON;
    if (extra != NULL)
        h[n++] = extra;
    const char *url = strchr(path, '?') ? P("https://localhost:%u%s", port, path)
                                        : P("https://localhost:%u%s?api-version=" KF_KV_API, port, path);
    struct rsp r = kf_http(method, url, h, body, body ? body_len : 0);
    ck_free(ah);
    if (r.status != 401 && r.status != 413) {
        int i = 0;
        while (i < 8 && F.audited[i].port != 0 && F.audited[i].port != port)
            i++;
        assert_true(i < 8);
        F.audited[i].port = port;
        F.audited[i].n++;
        if (r.status > 0 && r.status < 600)
            F.audited[i].by_status[r.status]++;
    }
    return r;
}

static KF_UNUSED struct rsp kv_raw(unsigned port, const char *method, const char *path, const char *tok,
                                   const char *body, size_t body_len, int force_ctype)
{
    return kv_call(port, method, path, tok, body, body_len, force_ctype, NULL);
}

static KF_UNUSED struct rsp kv(unsigned port, const char *method, const char *path, const char *tok, const char *body)
{
    return kv_raw(port, method, path, tok, body, body ? strlen(body) : 0, 0);
}

/* Checks a Key Vault error: status, error.code, error.innererror.code (inner NULL: absent). */
static KF_UNUSED void kv_expect_err(const struct rsp *r, long status, const char *code, const char *inner)
{
    json_t *e = ck_json_obj(r->json, "error");
    const char *c = ck_json_str(e, "code");
    json_t *ie = json_object_get(e, "innererror");
    const char *ic = json_is_object(ie) ? ck_json_str(ie, "code") : NULL;
    int ok = r->status == status && c != NULL && strcmp(c, code) == 0 && ck_json_str(e, "message") != NULL;
    if (inner == NULL)
        ok = ok && ie == NULL;
    else
        ok = ok && ic != NULL && strcmp(ic, inner) == 0;
    if (!ok) {
        print_error("want %ld %s / %s\n", status, code, inner ? inner : "(no innererror)");
        kf_show("got", r);
        fail();
    }
}

/* Consumes r after checking it. */
static KF_UNUSED void kv_err(struct rsp r, long status, const char *code, const char *inner)
{
    kv_expect_err(&r, status, code, inner);
    rsp_free(&r);
}

/* A data-plane call that must answer status; returns the JSON body (caller decrefs; NULL if none). */
static KF_UNUSED json_t *kv_ok(unsigned port, const char *method, const char *path, const char *tok, const char *body,
                               long status)
{
    return kf_take_json(kv(port, method, path, tok, body), status, method, path);
}

/* The version segment of a kid ("https://localhost:P/keys/name/version"). */
static KF_UNUSED const char *kf_kid_version(const char *kid)
{
    assert_non_null(kid);
    const char *s = strrchr(kid, '/');
    assert_non_null(s);
    assert_int_equal(strlen(s + 1), 32);
    return P("%s", s + 1);
}

static KF_UNUSED const char *kf_b64(const void *p, size_t n)
{
    char *e = ck_b64url_encode(p, n);
    assert_non_null(e);
    const char *out = P("%s", e);
    ck_free(e);
    return out;
}

/* Wraps a fresh random CEK of n bytes with key name (RSA-OAEP-256) on the vault at port; writes the
 * CEK into cek and the wrapped value (base64url) into wrapped. */
static KF_UNUSED void kf_wrap_new_cek(unsigned port, const char *tok, const char *name, uint8_t *cek, size_t n,
                                      char *wrapped, size_t cap)
{
    assert_int_equal(ck_rand_bytes(cek, n), CK_OK);
    json_t *b = kv_ok(port, "POST", P("/keys/%s//wrapkey", name), tok,
                      P("{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", kf_b64(cek, n)), 200);
    kf_copy(wrapped, cap, ck_json_str(b, "value"));
    json_decref(b);
}

/* ---- audit ---- */

/* Calls fn for each audit record of the vault, read through ARM in pages of top records by
 * following nextLink (absolute URLs on the ARM origin), and checks each page's size. */
static KF_UNUSED void kf_audit_walk(const char *armtok, const char *vault_id, int top,
                                    void (*fn)(const json_t *rec, void *arg), void *arg)
{
    const char *path = P("%s/auditRecords?api-version=" KF_ARM_KV_API "&$top=%d", vault_id, top);
    char next[2048];
    for (int pages = 0;; pages++) {
        assert_true(pages < 100000);
        json_t *o = kf_bearer_ok("GET", path, armtok, NULL, 200);
        json_t *v = ck_json_arr(o, "value"), *rec;
        size_t i;
        assert_non_null(v);
        assert_true(json_array_size(v) <= (size_t)top);
        json_array_foreach(v, i, rec)
            fn(rec, arg);
        const char *nl = ck_json_str(o, "nextLink");
        if (nl == NULL) {
            json_decref(o);
            break;
        }
        assert_int_equal(strncmp(nl, F.base, strlen(F.base)), 0);
        kf_copy(next, sizeof(next), nl + strlen(F.base));
        json_decref(o);
        path = next;
    }
}

static void kf_audit_count_one(const json_t *rec, void *arg)
{
    long *n = arg;
    (*n)++;
    assert_int_equal(ck_json_int(rec, "sequence", -1), *n);
    assert_non_null(ck_json_str(rec, "hash"));
    assert_non_null(ck_json_str(rec, "prevHash"));
}

/* Counts the vault's audit records, checking that the sequence runs 1..N; returns N. */
static KF_UNUSED long kf_audit_count(const char *armtok, const char *vault_id, int top)
{
    long n = 0;
    kf_audit_walk(armtok, vault_id, top, kf_audit_count_one, &n);
    return n;
}

/* The responses counted by kv_raw for the vault on port (NULL when none). */
static KF_UNUSED long *kf_audited_by_status(unsigned port)
{
    for (int i = 0; i < 8; i++)
        if (F.audited[i].port == port)
            return F.audited[i].by_status;
    return NULL;
}

static KF_UNUSED long kf_audited(unsigned port)
{
    for (int i = 0; i < 8; i++)
        if (F.audited[i].port == port)
            return F.audited[i].n;
    return 0;
}

static void kf_audit_tally(const json_t *rec, void *arg)
{
    long *seen = arg, st = (long)ck_json_int(rec, "result", 0);
    if (st > 0 && st < 600)
        seen[st]++;
}

/* Prints the results of the vault's audit records next to the responses counted by kv_raw. */
static KF_UNUSED void kf_audit_diff(const char *armtok, const char *vault_id, unsigned port)
{
    long none[600] = {0}, seen[600] = {0};
    long *mine = kf_audited_by_status(port) ? kf_audited_by_status(port) : none;
    kf_audit_walk(armtok, vault_id, 1000, kf_audit_tally, seen);
    for (int s = 100; s < 600; s++)
        if (seen[s] != mine[s])
            print_error("status %d: %ld audit records, %ld responses\n", s, seen[s], mine[s]);
}

/* POST verifyAudit; writes valid, records and firstBadSequence (-1 when null). */
static KF_UNUSED void kf_audit_verify(const char *armtok, const char *vault_id, int *valid, long *records, long *bad)
{
    json_t *o = kf_bearer_ok("POST", P("%s/verifyAudit?api-version=" KF_ARM_KV_API, vault_id), armtok, NULL, 200);
    assert_true(json_is_boolean(json_object_get(o, "valid")));
    *valid = json_is_true(json_object_get(o, "valid"));
    *records = (long)ck_json_int(o, "records", -1);
    json_t *b = json_object_get(o, "firstBadSequence");
    *bad = json_is_null(b) ? -1 : (long)json_integer_value(b);
    json_decref(o);
}

/* ---- DIR scan ---- */

static int kf_memmem(const uint8_t *h, size_t hl, const uint8_t *n, size_t nl)
{
    if (nl == 0 || hl < nl)
        return 0;
    for (size_t i = 0; i + nl <= hl; i++)
        if (h[i] == n[0] && memcmp(h + i, n, nl) == 0)
            return 1;
    return 0;
}

/* Returns how many files under dir contain needle (printing their paths). */
static KF_UNUSED int kf_scan(const char *dir, const uint8_t *needle, size_t nl, const char *what)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int hits = 0;
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char path[1024];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            hits += kf_scan(path, needle, nl, what);
        } else if (S_ISREG(st.st_mode)) {
            FILE *f = fopen(path, "rb");
            if (f == NULL)
                continue;
            uint8_t *buf = ck_malloc((size_t)st.st_size + 1);
            size_t got = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
            fclose(f);
            if (buf != NULL && kf_memmem(buf, got, needle, nl)) {
                print_error("%s found in %s\n", what, path);
                hits++;
            }
            ck_free(buf);
        }
    }
    closedir(d);
    return hits;
}

#endif
