/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_TEST_STORAGE_FIXTURE_H
#define CK_TEST_STORAGE_FIXTURE_H

/*
 * Fixture for the storage account tests: identity, ARM and the storage resource provider in one
 * process, wired as src/daemon/main.c wires them, on a plain-HTTP main listener on 127.0.0.1 (a
 * kernel-chosen port) over a temporary data directory. The blob listeners are not started (the
 * account tests need the resource provider only). Helpers create tenants (operator API),
 * principals (Graph), tokens, subscriptions, groups, user-assigned identities, role assignments
 * and storage accounts through ARM. Include once per test file, after cmocka.h.
 *
 * Opt-in (sf_setup_with_vault, for the customer-managed-key tests): a test CA and a server
 * certificate for localhost and 127.0.0.1 (trusted by the HTTP client), the vault service with its
 * resource provider behind ARM and fault injection on (test_faults), and the storage service
 * started (st_start) with its HTTPS blob origin on a kernel-chosen port, its keeper thread and the
 * cmk_* timings of sf_opts, as src/daemon/main.c wires them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/codec.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "crypto/random.h"
#include "db/db.h"
#include "http/client/httpc.h"
#include "http/server/httpd.h"
#include "services/arm/arm.h"
#include "services/identity/identity.h"
#include "services/vault/vault.h"
#include "services/storage/st_int.h"
#include "services/storage/storage_root.h"
#include "../common/tf_http.h"

#define SF_UNUSED __attribute__((unused))
#define SF_OP_KEY "b3BlcmF0b3Ita2V5LWZvci1zdG9yYWdlLXRlc3RzLTAx"
#define SF_RP_KEY "cnAta2V5LWZvci1zdG9yYWdlLXRlc3RzLTAxMjM0NTY3"
#define SF_JSON "Content-Type: application/json"
#define SF_FORM "Content-Type: application/x-www-form-urlencoded;charset=utf-8"
#define SF_ARM_SCOPE "https://management.azure.com/.default"
#define SF_GRAPH_SCOPE "https://graph.microsoft.com/.default"
#define SF_API "2025-08-01"

#define SF_ROLE_OWNER "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
#define SF_ROLE_CONTRIBUTOR "b24988ac-6180-42a0-ab88-20f7382dd24c"
#define SF_ROLE_READER "acdd72a7-3385-48ef-bd42-f606fba81ae7"

struct sf {
    char dir[256];
    char stdir[300];
    struct ck_secret *master, *root, *opk, *rpk;
    struct ck_httpd *main;
    struct idp *idp;
    struct arm *arm;
    struct st *st;
    char base[64];
    /* With the vault (sf_setup_with_vault): TLS material, the vault service and its master key. */
    struct kv *kv;
    struct ck_secret *kv_master, *tls_key_pem;
    char *ca_pem, *chain_pem;
    char ca_file[300];
};

static struct sf F;

/* The opt-in stack of sf_setup_with_vault; kept apart from F, which sf_setup clears. 0 timings
 * take the service defaults. */
static struct sf_opts {
    int vault;
    unsigned cmk_revalidate_s, cmk_ride_through_s, cmk_version_poll_s;
} sf_opts;

struct sf_tenant {
    char tid[37], client_id[37], secret[128], sp[37], sub[37];
    char armtok[8192];
};

struct sf_principal {
    char app_id[37], app_oid[37], secret[128], oid[37];
    char armtok[8192];
};

static SF_UNUSED void sf_copy(char *dst, size_t cap, const char *src)
{
    assert_non_null(src);
    assert_true(strlen(src) < cap);
    memcpy(dst, src, strlen(src) + 1);
}

/* Starts (or restarts) the storage service alone on F.stdir under root. Returns st_new's result. */
static SF_UNUSED int sf_storage_new(const struct ck_secret *root, struct st **out)
{
    struct st_config c = {.data_dir = F.stdir, .authority = F.base, .arm_endpoint = F.base, .root_key = root,
                          .rp_key = F.rpk, .operator_key = F.opk, .listen_addr = "127.0.0.1",
                          .public_host = "localhost", .blob_port = 10443};
    if (sf_opts.vault) {
        c.ca_file = F.ca_file;
        c.tls_cert_pem = F.chain_pem;
        c.tls_key_pem = (const char *)ck_secret_ptr(F.tls_key_pem);
        c.blob_port = 0;
        c.cmk_revalidate_s = sf_opts.cmk_revalidate_s;
        c.cmk_ride_through_s = sf_opts.cmk_ride_through_s;
        c.cmk_version_poll_s = sf_opts.cmk_version_poll_s;
    }
    return st_new(&c, out);
}

/* The stack on F.dir. The storage service is mounted on the main listener with F.root. With
 * sf_opts.vault, the vault service is mounted too and started, and so is the storage service. */
static SF_UNUSED void sf_start(void)
{
    char id_dir[300], arm_dir[300], kv_dir[300], rp_id[128], rp_st[128], rp_kv[128];
    struct ck_httpd_config hc = {.bind_addr = "127.0.0.1", .port = 0, .name = "st-test-main"};
    assert_int_equal(ck_httpd_new(&hc, &F.main), CK_OK);
    ck_httpd_set_public_host(F.main, "127.0.0.1");
    snprintf(F.base, sizeof(F.base), "http://127.0.0.1:%u", ck_httpd_port(F.main));
    snprintf(id_dir, sizeof(id_dir), "%s/identity", F.dir);
    snprintf(arm_dir, sizeof(arm_dir), "%s/arm", F.dir);
    snprintf(kv_dir, sizeof(kv_dir), "%s/vault", F.dir);
    struct idp_config icfg = {.data_dir = id_dir, .authority = F.base, .mi_endpoint = "http://127.0.0.1:1",
                              .master_key = F.master, .operator_key = F.opk, .rp_key = F.rpk};
    if (sf_opts.vault)
        icfg.ca_file = F.ca_file;
    assert_int_equal(idp_new(&icfg, &F.idp), CK_OK);
    assert_int_equal(idp_mount(F.idp, F.main), CK_OK);
    if (sf_opts.vault) {
        struct kv_config kcfg = {.data_dir = kv_dir, .authority = F.base, .arm_endpoint = F.base,
                                 .ca_file = F.ca_file, .master_key = F.kv_master, .rp_key = F.rpk,
                                 .listen_addr = "127.0.0.1", .public_host = "localhost",
                                 .tls_cert_pem = F.chain_pem,
                                 .tls_key_pem = (const char *)ck_secret_ptr(F.tls_key_pem), .port_lo = 0,
                                 .port_hi = 0, .operator_key = F.opk, .test_faults = 1};
        assert_int_equal(kv_new(&kcfg, &F.kv), CK_OK);
        assert_int_equal(kv_mount(F.kv, F.main), CK_OK);
    }
    assert_int_equal(sf_storage_new(F.root, &F.st), CK_OK);
    assert_int_equal(st_mount(F.st, F.main), CK_OK);
    snprintf(rp_id, sizeof(rp_id), "%s/rp/identity", F.base);
    snprintf(rp_st, sizeof(rp_st), "%s/rp/storage", F.base);
    snprintf(rp_kv, sizeof(rp_kv), "%s/rp/vault", F.base);
    struct arm_config acfg = {.data_dir = arm_dir, .endpoint = F.base, .authority = F.base, .operator_key = F.opk,
                              .rp_key = F.rpk};
    acfg.rps[0].ns = "Microsoft.ManagedIdentity";
    acfg.rps[0].base_url = rp_id;
    acfg.rps[1].ns = "Microsoft.Storage";
    acfg.rps[1].base_url = rp_st;
    acfg.nrps = 2;
    if (sf_opts.vault) {
        acfg.ca_file = F.ca_file;
        acfg.rps[2].ns = "Microsoft.KeyVault";
        acfg.rps[2].base_url = rp_kv;
        acfg.nrps = 3;
    }
    assert_int_equal(arm_new(&acfg, &F.arm), CK_OK);
    assert_int_equal(arm_mount(F.arm, F.main), CK_OK);
    if (sf_opts.vault) {
        /* Vault origins once ARM (check-access) is mounted; then the blob origin and the keeper. */
        assert_int_equal(kv_start(F.kv), CK_OK);
        assert_int_equal(st_start(F.st), CK_OK);
    }
}

static SF_UNUSED void sf_stop(void)
{
    if (F.kv != NULL) {
        /* As crosskeyd drains: storage's key-event long polls and vault calls end first. */
        ck_httpd_quiesce(F.main);
        st_drain(F.st, 5000);
        kv_drain(F.kv, 5000);
    }
    ck_httpd_free(F.main);
    kv_free(F.kv);
    st_free(F.st);
    idp_free(F.idp);
    arm_free(F.arm);
    F.main = NULL;
    F.kv = NULL;
    F.st = NULL;
    F.idp = NULL;
    F.arm = NULL;
}

/* A test CA and a server certificate for localhost and 127.0.0.1 under F.dir, trusted by the HTTP
 * client (as tests/unit/vault/kv_fixture.h makes them). */
static SF_UNUSED void sf_make_tls(void)
{
    struct ck_pkey *ca_key = NULL, *srv_key = NULL;
    char *cert_pem = NULL;
    assert_int_equal(ck_pkey_rsa_generate(2048, &ca_key), CK_OK);
    assert_int_equal(ck_pkey_rsa_generate(2048, &srv_key), CK_OK);
    assert_int_equal(ck_x509_self_signed(ca_key, "crosskey storage test CA", 1, 30, &F.ca_pem), CK_OK);
    assert_int_equal(ck_x509_issue(ca_key, F.ca_pem, srv_key, "localhost", "localhost,127.0.0.1", 30, &cert_pem),
                     CK_OK);
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

static SF_UNUSED int sf_setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof(F));
    assert_int_equal(ck_httpc_global_init(), CK_OK);
    if (getenv("CK_TEST_VERBOSE") == NULL)
        ck_log_set_level(CK_LOG_ERROR);
    snprintf(F.dir, sizeof(F.dir), "/tmp/ck-st-test-XXXXXX");
    assert_non_null(mkdtemp(F.dir));
    snprintf(F.stdir, sizeof(F.stdir), "%s/storage", F.dir);
    assert_int_equal(ck_rand_secret(CK_SEAL_KEY_LEN, &F.master), CK_OK);
    assert_int_equal(ck_rand_secret(CK_SEAL_KEY_LEN, &F.root), CK_OK);
    F.opk = ck_secret_from(SF_OP_KEY, strlen(SF_OP_KEY));
    F.rpk = ck_secret_from(SF_RP_KEY, strlen(SF_RP_KEY));
    assert_non_null(F.opk);
    assert_non_null(F.rpk);
    if (sf_opts.vault) {
        assert_int_equal(ck_rand_secret(CK_SEAL_KEY_LEN, &F.kv_master), CK_OK);
        sf_make_tls();
    }
    sf_start();
    return 0;
}

/* sf_setup with the vault service and the storage service started (see the top of this file);
 * the cmk_* timings in seconds (0: the service default). */
static SF_UNUSED int sf_setup_with_vault(void **state, unsigned revalidate_s, unsigned ride_through_s,
                                         unsigned version_poll_s)
{
    sf_opts.vault = 1;
    sf_opts.cmk_revalidate_s = revalidate_s;
    sf_opts.cmk_ride_through_s = ride_through_s;
    sf_opts.cmk_version_poll_s = version_poll_s;
    return sf_setup(state);
}

static SF_UNUSED int sf_teardown(void **state)
{
    char cmd[300];
    (void)state;
    tf_live_release();
    sf_stop();
    ck_secret_free(F.master);
    ck_secret_free(F.root);
    ck_secret_free(F.opk);
    ck_secret_free(F.rpk);
    ck_secret_free(F.kv_master);
    ck_secret_free(F.tls_key_pem);
    ck_free(F.ca_pem);
    ck_free(F.chain_pem);
    if (sf_opts.vault)
        ck_httpc_set_ca_file(NULL);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.dir);
    if (getenv("CK_KEEP") == NULL && system(cmd) != 0)
        return 0;
    return 0;
}

/* ---- HTTP ---- */

static SF_UNUSED void sf_status(const struct rsp *r, long status)
{
    if (r->status != status) {
        print_error("want HTTP %ld, got HTTP %ld %s\n", status, r->status, r->body ? r->body : "");
        fail();
    }
}

/* A main-origin call with an Authorization header value (NULL: none). */
static SF_UNUSED struct rsp sf_main(const char *method, const char *path, const char *auth, const char *body,
                                    size_t body_len)
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
        h[n++] = SF_JSON;
    struct rsp r = tf_http(method, P("%s%s", F.base, path), h, body, body ? body_len : 0);
    ck_free(ah);
    return r;
}

/* ARM call with a bearer token; body text or NULL. */
static SF_UNUSED struct rsp sf_arm(const char *tok, const char *method, const char *path, const char *body)
{
    return sf_main(method, path, P("Bearer %s", tok), body, body ? strlen(body) : 0);
}

/* ARM call that must answer status; returns the JSON (caller decrefs; NULL when none). */
static SF_UNUSED json_t *sf_arm_ok(const char *tok, const char *method, const char *path, const char *body, long status)
{
    struct rsp r = sf_arm(tok, method, path, body);
    if (r.status != status)
        print_error("%s %s\n", method, path);
    sf_status(&r, status);
    json_t *o = r.json;
    r.json = NULL;
    rsp_free(&r);
    return o;
}

/* Checks an ARM error: status and error.code. */
static SF_UNUSED void sf_arm_err(struct rsp r, long status, const char *code)
{
    sf_status(&r, status);
    const char *c = ck_json_str(ck_json_obj(r.json, "error"), "code");
    if (c == NULL || strcmp(c, code) != 0) {
        print_error("want error code %s, got %s\n", code, r.body);
        fail();
    }
    assert_non_null(ck_json_str(ck_json_obj(r.json, "error"), "message"));
    rsp_free(&r);
}

/* ---- identity and ARM set-up ---- */

static SF_UNUSED void sf_token(const char *tid, const char *client_id, const char *secret, const char *scope,
                               char *out, size_t cap)
{
    char form[2048];
    const char *h[2] = {SF_FORM, NULL};
    char *es = ck_url_encode(scope), *ek = ck_url_encode(secret);
    assert_non_null(es);
    assert_non_null(ek);
    snprintf(form, sizeof(form), "grant_type=client_credentials&client_id=%s&scope=%s&client_secret=%s", client_id, es,
             ek);
    ck_free(es);
    ck_free(ek);
    struct rsp r = tf_http("POST", P("%s/%s/oauth2/v2.0/token", F.base, tid), h, form, strlen(form));
    sf_status(&r, 200);
    sf_copy(out, cap, ck_json_str(r.json, "access_token"));
    rsp_free(&r);
}

/* A tenant with its admin, a subscription owned by the admin, an ARM token, and group rg. */
static SF_UNUSED void sf_tenant(const char *name, const char *rg, struct sf_tenant *t)
{
    struct rsp r = sf_main("POST", "/operator/identity/tenants", "Operator " SF_OP_KEY,
                           P("{\"displayName\":\"%s\"}", name), strlen(P("{\"displayName\":\"%s\"}", name)));
    sf_status(&r, 201);
    sf_copy(t->tid, sizeof(t->tid), ck_json_str(r.json, "tenantId"));
    sf_copy(t->client_id, sizeof(t->client_id), ck_json_str(r.json, "clientId"));
    sf_copy(t->secret, sizeof(t->secret), ck_json_str(r.json, "clientSecret"));
    sf_copy(t->sp, sizeof(t->sp), ck_json_str(r.json, "servicePrincipalId"));
    rsp_free(&r);
    const char *b = P("{\"tenantId\":\"%s\",\"displayName\":\"st-test\",\"ownerPrincipalId\":\"%s\"}", t->tid, t->sp);
    r = sf_main("POST", "/operator/arm/subscriptions", "Operator " SF_OP_KEY, b, strlen(b));
    sf_status(&r, 201);
    sf_copy(t->sub, sizeof(t->sub), ck_json_str(r.json, "subscriptionId"));
    rsp_free(&r);
    sf_token(t->tid, t->client_id, t->secret, SF_ARM_SCOPE, t->armtok, sizeof(t->armtok));
    if (rg != NULL)
        json_decref(sf_arm_ok(t->armtok, "PUT", P("/subscriptions/%s/resourcegroups/%s?api-version=2021-04-01", t->sub, rg),
                              "{\"location\":\"eastus\"}", 201));
}

static SF_UNUSED void sf_group(const struct sf_tenant *t, const char *rg)
{
    json_decref(sf_arm_ok(t->armtok, "PUT", P("/subscriptions/%s/resourcegroups/%s?api-version=2021-04-01", t->sub, rg),
                          "{\"location\":\"eastus\"}", 201));
}

/* An application with a secret and its service principal in t, and an ARM token for it. */
static SF_UNUSED void sf_principal(const struct sf_tenant *t, const char *name, struct sf_principal *p)
{
    char gtok[8192];
    sf_token(t->tid, t->client_id, t->secret, SF_GRAPH_SCOPE, gtok, sizeof(gtok));
    json_t *o = sf_arm_ok(gtok, "POST", "/v1.0/applications", P("{\"displayName\":\"%s\"}", name), 201);
    sf_copy(p->app_oid, sizeof(p->app_oid), ck_json_str(o, "id"));
    sf_copy(p->app_id, sizeof(p->app_id), ck_json_str(o, "appId"));
    json_decref(o);
    o = sf_arm_ok(gtok, "POST", P("/v1.0/applications/%s/addPassword", p->app_oid),
                  "{\"passwordCredential\":{\"displayName\":\"test\"}}", 200);
    sf_copy(p->secret, sizeof(p->secret), ck_json_str(o, "secretText"));
    json_decref(o);
    o = sf_arm_ok(gtok, "POST", "/v1.0/servicePrincipals", P("{\"appId\":\"%s\"}", p->app_id), 201);
    sf_copy(p->oid, sizeof(p->oid), ck_json_str(o, "id"));
    json_decref(o);
    sf_token(t->tid, p->app_id, p->secret, SF_ARM_SCOPE, p->armtok, sizeof(p->armtok));
}

/* Assigns a built-in role (GUID) to principal at scope. */
static SF_UNUSED void sf_assign(const struct sf_tenant *t, const char *scope, const char *role, const char *principal)
{
    char name[37];
    assert_int_equal(ck_uuid_new(name), 0);
    json_decref(sf_arm_ok(
        t->armtok, "PUT", P("%s/providers/Microsoft.Authorization/roleAssignments/%s?api-version=2022-04-01", scope, name),
        P("{\"properties\":{\"roleDefinitionId\":\"/subscriptions/%s/providers/Microsoft.Authorization/"
          "roleDefinitions/%s\",\"principalId\":\"%s\",\"principalType\":\"ServicePrincipal\"}}",
          t->sub, role, principal),
        201));
}

static SF_UNUSED const char *sf_uami_id(const struct sf_tenant *t, const char *rg, const char *name)
{
    return P("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/%s", t->sub,
             rg, name);
}

/* Creates a user-assigned identity; writes its principalId and clientId. */
static SF_UNUSED void sf_uami(const struct sf_tenant *t, const char *rg, const char *name, char principal[37],
                              char client[37])
{
    json_t *o = sf_arm_ok(t->armtok, "PUT", P("%s?api-version=2024-11-30", sf_uami_id(t, rg, name)),
                          "{\"location\":\"eastus\"}", 201);
    sf_copy(principal, 37, ck_json_str(ck_json_obj(o, "properties"), "principalId"));
    sf_copy(client, 37, ck_json_str(ck_json_obj(o, "properties"), "clientId"));
    json_decref(o);
}

static SF_UNUSED const char *sf_acct_path(const struct sf_tenant *t, const char *rg, const char *name)
{
    return P("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Storage/storageAccounts/%s", t->sub, rg, name);
}

/* PUT of an account with the given body; must answer status. Returns the JSON (caller decrefs). */
static SF_UNUSED json_t *sf_account_put(const struct sf_tenant *t, const char *rg, const char *name, const char *body,
                                        long status)
{
    return sf_arm_ok(t->armtok, "PUT", P("%s?api-version=" SF_API, sf_acct_path(t, rg, name)), body, status);
}

/* The system-assigned identity the identity service holds for resource id rid, read over its
 * internal endpoint: writes its principalId and returns 1, or returns 0 when it has none. */
static SF_UNUSED int sf_sa_identity(const char *rid, char principal[37])
{
    char *e = ck_url_encode(rid);
    assert_non_null(e);
    struct rsp r = sf_main("GET", P("/rp/identity/systemAssigned?resourceId=%s", e), "RP " SF_RP_KEY, NULL, 0);
    ck_free(e);
    int found = r.status == 200;
    if (!found)
        sf_status(&r, 404);
    else if (principal != NULL)
        sf_copy(principal, 37, ck_json_str(r.json, "principalId"));
    rsp_free(&r);
    return found;
}

#define SF_PLAIN_BODY "{\"sku\":{\"name\":\"Standard_LRS\"},\"kind\":\"StorageV2\",\"location\":\"eastus\"}"

/* Number of account rows in the store. */
static SF_UNUSED long sf_count(const char *table)
{
    struct ck_db_stmt *s = NULL;
    long n = -1;
    ck_db_lock(F.st->db);
    assert_int_equal(ck_db_prepare(F.st->db, P("SELECT count(*) FROM %s", table), &s), CK_OK);
    if (ck_db_step(s) == 1)
        n = (long)ck_db_col_int64(s, 0);
    ck_db_stmt_free(s);
    ck_db_unlock(F.st->db);
    return n;
}

/* Reads every file under F.stdir into one buffer (caller frees), for scans. */
static SF_UNUSED uint8_t *sf_slurp_store(size_t *len)
{
    static const char *const names[] = {"storage.db", "storage.db-wal", "storage.db-journal", "storage.db-shm"};
    uint8_t *all = NULL;
    size_t n = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[400];
        char *data = NULL;
        size_t dl = 0;
        snprintf(path, sizeof(path), "%s/%s", F.stdir, names[i]);
        if (ck_read_file(path, 256u << 20, &data, &dl) != 0)
            continue;
        all = ck_realloc(all, n + dl + 1);
        assert_non_null(all);
        memcpy(all + n, data, dl);
        n += dl;
        ck_free(data);
    }
    *len = n;
    return all;
}

static SF_UNUSED int sf_contains(const uint8_t *hay, size_t hl, const void *needle, size_t nl)
{
    if (nl == 0 || hl < nl)
        return 0;
    for (size_t i = 0; i + nl <= hl; i++) {
        if (memcmp(hay + i, needle, nl) == 0)
            return 1;
    }
    return 0;
}

/* ---- the vault (sf_setup_with_vault) ---- */

#define SF_VAULT_SCOPE "https://vault.azure.net/.default"
#define SF_ARM_KV_API "2026-02-01"

static SF_UNUSED const char *sf_vault_id(const struct sf_tenant *t, const char *rg, const char *name)
{
    return P("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/%s", t->sub, rg, name);
}

/* Creates a vault in t's group rg through ARM (RBAC, soft delete, purge protection as asked);
 * returns the port of its origin (vaultUri https://localhost:{port}/). */
static SF_UNUSED unsigned sf_vault(const struct sf_tenant *t, const char *rg, const char *name, int purge_protection)
{
    struct rsp r = sf_arm(t->armtok, "PUT", P("%s?api-version=" SF_ARM_KV_API, sf_vault_id(t, rg, name)),
                          P("{\"location\":\"eastus\",\"properties\":{\"tenantId\":\"%s\",\"sku\":{\"family\":\"A\","
                            "\"name\":\"standard\"},\"enableSoftDelete\":true,\"softDeleteRetentionInDays\":7,"
                            "\"enablePurgeProtection\":%s,\"enableRbacAuthorization\":true}}",
                            t->tid, purge_protection ? "true" : "false"));
    if (r.status != 200)
        sf_status(&r, 201);
    const char *uri = ck_json_str(ck_json_obj(r.json, "properties"), "vaultUri");
    unsigned port = 0;
    assert_non_null(uri);
    assert_int_equal(sscanf(uri, "https://localhost:%u/", &port), 1);
    assert_true(port > 0);
    rsp_free(&r);
    return port;
}

/* A vault data-plane call on port with a bearer token (NULL: none); "?api-version=7.5" is added
 * when path has no query. */
static SF_UNUSED struct rsp sf_kv(unsigned port, const char *method, const char *path, const char *tok, const char *body)
{
    char *ah = NULL;
    const char *h[3] = {NULL, NULL, NULL};
    int n = 0;
    if (tok != NULL) {
        size_t l = strlen(tok) + 32;
        ah = ck_malloc(l);
        assert_non_null(ah);
        snprintf(ah, l, "Authorization: Bearer %s", tok);
        h[n++] = ah;
    }
    if (body != NULL)
        h[n++] = SF_JSON;
    const char *url = strchr(path, '?') ? P("https://localhost:%u%s", port, path)
                                        : P("https://localhost:%u%s?api-version=7.5", port, path);
    struct rsp r = tf_http(method, url, h, body, body ? strlen(body) : 0);
    ck_free(ah);
    return r;
}

/* A vault data-plane call that must answer status; returns the JSON (caller decrefs). */
static SF_UNUSED json_t *sf_kv_ok(unsigned port, const char *method, const char *path, const char *tok,
                                  const char *body, long status)
{
    struct rsp r = sf_kv(port, method, path, tok, body);
    if (r.status != status)
        print_error("%s https://localhost:%u%s\n", method, port, path);
    sf_status(&r, status);
    json_t *o = r.json;
    r.json = NULL;
    rsp_free(&r);
    return o;
}

/* POST /operator/vault/fault {"vault": name, "mode": mode, ...extra} (extra: "" or ",\"status\":503");
 * must answer 200. */
static SF_UNUSED void sf_vault_fault(const char *name, const char *mode, const char *extra)
{
    const char *b = P("{\"vault\":\"%s\",\"mode\":\"%s\"%s}", name, mode, extra ? extra : "");
    struct rsp r = sf_main("POST", "/operator/vault/fault", "Operator " SF_OP_KEY, b, strlen(b));
    sf_status(&r, 200);
    rsp_free(&r);
}

#endif
