/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Authentication and authorization of the key vault data plane, over the real stack (identity,
 * ARM and the vault service in one process; vault origins over HTTPS): the 401 challenge before
 * any routing (wire reference B.1), tokens of another tenant (AKV10032), of another audience,
 * expired; RBAC through ARM check-access with 403 ForbiddenByRbac naming caller, action and scope
 * (B.5), assignments at vault, key and resource-group scope, removal taking effect on the next
 * request, and the reach of each built-in role (C.6: Crypto Service Encryption User, Crypto User,
 * Crypto Officer, Administrator; Owner holds no data actions). Last, every authenticated request
 * above left exactly one audit record and the chain verifies.
 */
#include "kv_fixture.h"

static struct tenant ta, tb;
static char sub[64];
static char armtok[8192], admin_vtok[8192], other_vtok[8192];
static struct principal nobody, seu, cuser, officer, admin;
static unsigned port;
static char vid[512], rgid[256];
static char kver[40];

#define RSA_KEY "{\"kty\":\"RSA\",\"key_size\":2048}"

static int setup(void **state)
{
    (void)state;
    kf_setup();
    kf_customer("customer", &ta, sub, sizeof(sub), armtok, sizeof(armtok), "rg1");
    kf_tenant("other", &tb);
    kf_token(ta.tid, ta.client_id, ta.secret, KF_VAULT_SCOPE, admin_vtok, sizeof(admin_vtok));
    kf_token(tb.tid, tb.client_id, tb.secret, KF_VAULT_SCOPE, other_vtok, sizeof(other_vtok));
    port = kf_vault(armtok, sub, "rg1", "authvault", ta.tid, 1, 90);
    kf_copy(vid, sizeof(vid), kf_vault_id(sub, "rg1", "authvault"));
    kf_copy(rgid, sizeof(rgid), P("/subscriptions/%s/resourceGroups/rg1", sub));
    kf_principal(&ta, "nobody", &nobody);
    kf_principal(&ta, "seu", &seu);
    kf_principal(&ta, "cuser", &cuser);
    kf_principal(&ta, "officer", &officer);
    kf_principal(&ta, "kvadmin", &admin);
    char n[37];
    kf_assign(armtok, sub, vid, ROLE_KV_OFFICER, officer.oid, n);
    json_t *o = kv_ok(port, "POST", "/keys/k/create", officer.tok, RSA_KEY, 200);
    kf_copy(kver, sizeof(kver), kf_kid_version(ck_json_str(ck_json_obj(o, "key"), "kid")));
    json_decref(o);
    json_decref(kv_ok(port, "POST", "/keys/other/create", officer.tok, RSA_KEY, 200));
    json_decref(kv_ok(port, "POST", "/keys/ec/create", officer.tok, "{\"kty\":\"EC\",\"crv\":\"P-256\"}", 200));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return kf_teardown();
}

static void expect_challenge(const struct rsp *r, const char *code_msg_prefix)
{
    kv_expect_err(r, 401, "Unauthorized", NULL);
    const char *msg = ck_json_str(ck_json_obj(r->json, "error"), "message");
    if (strncmp(msg, code_msg_prefix, strlen(code_msg_prefix)) != 0) {
        print_error("message '%s' does not start with '%s'\n", msg, code_msg_prefix);
        fail();
    }
    assert_non_null(r->www);
    assert_string_equal(r->www, P("Bearer authorization=\"%s/%s\", resource=\"https://vault.azure.net\"", F.base, ta.tid));
}

/* B.1 step 2: the SDK's first request has no token and no body; it must get 401 before any
 * routing or validation, whatever the path, method or body. */
static void test_challenge_before_routing(void **state)
{
    (void)state;
    const char *paths[][2] = {
        {"GET", "/keys/k/"},
        {"GET", "/keys/doesnotexist"},
        {"GET", "/keys/doesnotexist/0123456789abcdef0123456789abcdef"},
        {"POST", "/keys/k/create"},
        {"POST", "/keys/k//wrapkey"},
        {"POST", "/keys/k//unwrapkey"},
        {"POST", "/keys/nope/0123456789abcdef0123456789abcdef/unwrapkey"},
        {"PUT", "/keys/imported"},
        {"DELETE", "/deletedkeys/k"},
        {"POST", "/rng"},
        {"GET", "/secrets/s"},
        {"GET", "/not/a/route/at/all/really"},
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        /* Content-Type: application/json with Content-Length: 0, as the SDK sends it. */
        struct rsp r = kv_raw(port, paths[i][0], paths[i][1], NULL, "", 0, 1);
        expect_challenge(&r, "AKV10000: Request is missing a Bearer or PoP token.");
        rsp_free(&r);
    }
    /* Malformed JSON, no api-version, api%2Dversion: still the challenge. */
    struct rsp r = kv(port, "POST", "/keys/k/create", NULL, "{not json");
    expect_challenge(&r, "AKV10000");
    rsp_free(&r);
    r = kv(port, "GET", "/keys/k?x=1", NULL, NULL);
    expect_challenge(&r, "AKV10000");
    rsp_free(&r);
    r = kv(port, "GET", "/keys/k?api%2Dversion=2025-07-01", NULL, NULL);
    expect_challenge(&r, "AKV10000");
    rsp_free(&r);
    /* An Authorization header that is not a bearer token counts as no token. */
    const char *h[2] = {"Authorization: Basic dXNlcjpwYXNz", NULL};
    r = kf_http("GET", P("https://localhost:%u/keys/k?api-version=7.5", port), h, NULL, 0);
    expect_challenge(&r, "AKV10000");
    rsp_free(&r);
}

/* B.1: tokens must come from the vault's tenant (AKV10032 with both issuer forms named). */
static void test_other_tenant(void **state)
{
    (void)state;
    struct rsp r = kv(port, "GET", "/keys/k", other_vtok, NULL);
    expect_challenge(&r, "AKV10032: Invalid issuer.");
    const char *msg = ck_json_str(ck_json_obj(r.json, "error"), "message");
    assert_non_null(strstr(msg, P("https://sts.windows.net/%s/", ta.tid)));
    assert_non_null(strstr(msg, tb.tid));
    rsp_free(&r);
    /* Also before routing: an unknown key and a bad body answer the same. */
    r = kv(port, "POST", "/keys/nokey//unwrapkey", other_vtok, "garbage");
    expect_challenge(&r, "AKV10032");
    rsp_free(&r);
}

static void test_audience_and_lifetime(void **state)
{
    (void)state;
    /* An ARM token of the right tenant. */
    struct rsp r = kv(port, "GET", "/keys/k", armtok, NULL);
    expect_challenge(&r, "AKV10022: Invalid audience.");
    rsp_free(&r);
    /* Not a JWT at all. */
    r = kv(port, "GET", "/keys/k", "not.a.token", NULL);
    expect_challenge(&r, "AKV10001");
    rsp_free(&r);
    /* The same token two days later. */
    ck_time_set_offset(2 * 86400);
    r = kv(port, "GET", "/keys/k", admin_vtok, NULL);
    ck_time_set_offset(0);
    expect_challenge(&r, "AKV10001: The token has expired.");
    rsp_free(&r);
}

static void expect_rbac(struct rsp r, const struct principal *p, const char *action, const char *key)
{
    kv_expect_err(&r, 403, "Forbidden", "ForbiddenByRbac");
    const char *msg = ck_json_str(ck_json_obj(r.json, "error"), "message");
    char scope[600];
    snprintf(scope, sizeof(scope), "%s%s%s", vid, key ? "/keys/" : "", key ? key : "");
    for (char *c = scope; *c; c++)
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    const char *want[] = {P("oid=%s", p->oid), P("appid=%s", p->app_id),
                          P("Action: 'Microsoft.KeyVault/vaults/%s'", action), P("Resource: '%s'", scope),
                          "Vault: authvault;location=eastus"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (strstr(msg, want[i]) == NULL) {
            print_error("message lacks '%s':\n%s\n", want[i], msg);
            fail();
        }
    }
    rsp_free(&r);
}

/* RBAC: no role is 403; an assignment at the vault allows; removal denies the very next request. */
static void test_rbac_vault_scope(void **state)
{
    (void)state;
    char n[37];
    expect_rbac(kv(port, "GET", "/keys/k", nobody.tok, NULL), &nobody, "keys/read", "k");
    expect_rbac(kv(port, "POST", "/keys/k//unwrapkey", nobody.tok, "{\"alg\":\"RSA-OAEP\",\"value\":\"AA\"}"), &nobody,
                "keys/unwrap/action", "k");
    /* Authorization comes before the key lookup: an unknown key is also 403, not 404. */
    expect_rbac(kv(port, "GET", "/keys/ghost", nobody.tok, NULL), &nobody, "keys/read", "ghost");
    /* Operations on no key are authorized at the vault. */
    expect_rbac(kv(port, "GET", "/keys", nobody.tok, NULL), &nobody, "keys/read", NULL);
    expect_rbac(kv(port, "POST", "/rng", nobody.tok, "{\"count\":8}"), &nobody, "keys/read", NULL);
    expect_rbac(kv(port, "POST", "/keys/restore", nobody.tok, "{\"value\":\"AA\"}"), &nobody, "keys/restore/action",
                NULL);

    kf_assign(armtok, sub, vid, ROLE_KV_USER, nobody.oid, n);
    json_decref(kv_ok(port, "GET", "/keys/k", nobody.tok, NULL, 200));
    json_decref(kv_ok(port, "GET", "/keys/other", nobody.tok, NULL, 200));
    json_decref(kv_ok(port, "GET", "/keys", nobody.tok, NULL, 200));
    kf_unassign(armtok, vid, n);
    expect_rbac(kv(port, "GET", "/keys/k", nobody.tok, NULL), &nobody, "keys/read", "k");
    expect_rbac(kv(port, "GET", "/keys", nobody.tok, NULL), &nobody, "keys/read", NULL);
}

/* An assignment at the key scope reaches that key only; at the resource group, every key. */
static void test_rbac_key_and_rg_scope(void **state)
{
    (void)state;
    char n[37];
    kf_assign(armtok, sub, P("%s/keys/k", vid), ROLE_KV_SEU, nobody.oid, n);
    json_decref(kv_ok(port, "GET", "/keys/k", nobody.tok, NULL, 200));
    json_decref(kv_ok(port, "GET", P("/keys/k/%s", kver), nobody.tok, NULL, 200));
    json_t *w = kv_ok(port, "POST", "/keys/k//wrapkey", nobody.tok,
                      P("{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", kf_b64("0123456789abcdef0123456789abcdef", 32)), 200);
    json_t *u = kv_ok(port, "POST", P("/keys/k/%s/unwrapkey", kver), nobody.tok,
                      P("{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", ck_json_str(w, "value")), 200);
    assert_string_equal(ck_json_str(u, "value"), kf_b64("0123456789abcdef0123456789abcdef", 32));
    assert_string_equal(ck_json_str(u, "kid"), P("https://localhost:%u/keys/k/%s", port, kver));
    json_decref(w);
    json_decref(u);
    expect_rbac(kv(port, "GET", "/keys/other", nobody.tok, NULL), &nobody, "keys/read", "other");
    expect_rbac(kv(port, "GET", "/keys", nobody.tok, NULL), &nobody, "keys/read", NULL);
    kf_unassign(armtok, P("%s/keys/k", vid), n);
    expect_rbac(kv(port, "GET", "/keys/k", nobody.tok, NULL), &nobody, "keys/read", "k");

    kf_assign(armtok, sub, rgid, ROLE_KV_ADMIN, nobody.oid, n);
    json_decref(kv_ok(port, "GET", "/keys/other", nobody.tok, NULL, 200));
    json_decref(kv_ok(port, "GET", "/keys/k/rotationpolicy", nobody.tok, NULL, 200));
    kf_unassign(armtok, rgid, n);
    expect_rbac(kv(port, "GET", "/keys/other", nobody.tok, NULL), &nobody, "keys/read", "other");
}

static const char *wrap_body(void)
{
    return P("{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", kf_b64("abcdefghabcdefghabcdefghabcdefgh", 32));
}

/* Crypto Service Encryption User: get, wrap and unwrap only (C.6). */
static void test_role_service_encryption_user(void **state)
{
    (void)state;
    char n[37];
    kf_assign(armtok, sub, vid, ROLE_KV_SEU, seu.oid, n);
    json_decref(kv_ok(port, "GET", "/keys/k/", seu.tok, NULL, 200));
    json_decref(kv_ok(port, "GET", "/keys", seu.tok, NULL, 200));
    json_decref(kv_ok(port, "GET", "/keys/k/versions", seu.tok, NULL, 200));
    json_t *w = kv_ok(port, "POST", "/keys/k//wrapkey", seu.tok, wrap_body(), 200);
    json_decref(kv_ok(port, "POST", "/keys/k//unwrapkey", seu.tok,
                      P("{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", ck_json_str(w, "value")), 200));
    expect_rbac(kv(port, "POST", "/keys/k//encrypt", seu.tok, wrap_body()), &seu, "keys/encrypt/action", "k");
    expect_rbac(kv(port, "POST", "/keys/k//decrypt", seu.tok,
                   P("{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", ck_json_str(w, "value"))),
                &seu, "keys/decrypt/action", "k");
    json_decref(w);
    expect_rbac(kv(port, "POST", "/keys/k//sign", seu.tok, "{\"alg\":\"RS256\",\"value\":\"AA\"}"), &seu,
                "keys/sign/action", "k");
    expect_rbac(kv(port, "POST", "/keys/k//verify", seu.tok, "{\"alg\":\"RS256\",\"value\":\"AA\",\"digest\":\"AA\"}"),
                &seu, "keys/verify/action", "k");
    expect_rbac(kv(port, "POST", "/keys/k/create", seu.tok, RSA_KEY), &seu, "keys/create/action", "k");
    expect_rbac(kv(port, "PATCH", "/keys/k/", seu.tok, "{\"tags\":{\"a\":\"b\"}}"), &seu, "keys/update/action", "k");
    expect_rbac(kv(port, "DELETE", "/keys/k", seu.tok, NULL), &seu, "keys/delete", "k");
    expect_rbac(kv(port, "POST", "/keys/k/backup", seu.tok, NULL), &seu, "keys/backup/action", "k");
    expect_rbac(kv(port, "POST", "/keys/k/rotate", seu.tok, NULL), &seu, "keys/rotate/action", "k");
    expect_rbac(kv(port, "GET", "/keys/k/rotationpolicy", seu.tok, NULL), &seu, "keyrotationpolicies/read", "k");
    kf_unassign(armtok, vid, n);
}

/* Crypto User: read, update, backup and the six crypto actions; no create, delete, purge,
 * rotate, import, restore or rotation policy write (C.6). */
static void test_role_crypto_user(void **state)
{
    (void)state;
    char n[37];
    kf_assign(armtok, sub, vid, ROLE_KV_USER, cuser.oid, n);
    json_decref(kv_ok(port, "GET", "/keys/k", cuser.tok, NULL, 200));
    json_decref(kv_ok(port, "PATCH", "/keys/k/", cuser.tok, "{\"tags\":{\"owner\":\"cuser\"}}", 200));
    json_decref(kv_ok(port, "POST", "/keys/k/backup", cuser.tok, NULL, 200));
    json_t *e = kv_ok(port, "POST", "/keys/k//encrypt", cuser.tok, wrap_body(), 200);
    json_decref(kv_ok(port, "POST", "/keys/k//decrypt", cuser.tok,
                      P("{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", ck_json_str(e, "value")), 200));
    json_decref(e);
    uint8_t digest[32];
    ck_sha256("data", 4, digest);
    json_t *s = kv_ok(port, "POST", "/keys/k//sign", cuser.tok, P("{\"alg\":\"PS256\",\"value\":\"%s\"}", kf_b64(digest, 32)),
                      200);
    json_t *v = kv_ok(port, "POST", "/keys/k//verify", cuser.tok,
                      P("{\"alg\":\"PS256\",\"digest\":\"%s\",\"value\":\"%s\"}", kf_b64(digest, 32), ck_json_str(s, "value")),
                      200);
    assert_true(json_is_true(json_object_get(v, "value")));
    json_decref(s);
    json_decref(v);
    json_t *w = kv_ok(port, "POST", "/keys/k//wrapkey", cuser.tok, wrap_body(), 200);
    json_decref(kv_ok(port, "POST", "/keys/k//unwrapkey", cuser.tok,
                      P("{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", ck_json_str(w, "value")), 200));
    json_decref(w);
    expect_rbac(kv(port, "POST", "/keys/new/create", cuser.tok, RSA_KEY), &cuser, "keys/create/action", "new");
    expect_rbac(kv(port, "DELETE", "/keys/k", cuser.tok, NULL), &cuser, "keys/delete", "k");
    expect_rbac(kv(port, "DELETE", "/deletedkeys/k", cuser.tok, NULL), &cuser, "keys/purge/action", "k");
    expect_rbac(kv(port, "POST", "/deletedkeys/k/recover", cuser.tok, NULL), &cuser, "keys/recover/action", "k");
    expect_rbac(kv(port, "POST", "/keys/k/rotate", cuser.tok, NULL), &cuser, "keys/rotate/action", "k");
    expect_rbac(kv(port, "PUT", "/keys/imp", cuser.tok, "{\"key\":{}}"), &cuser, "keys/import/action", "imp");
    expect_rbac(kv(port, "POST", "/keys/restore", cuser.tok, "{\"value\":\"AA\"}"), &cuser, "keys/restore/action", NULL);
    expect_rbac(kv(port, "PUT", "/keys/k/rotationpolicy", cuser.tok, "{\"lifetimeActions\":[]}"), &cuser,
                "keyrotationpolicies/write", "k");
    kf_unassign(armtok, vid, n);
}

/* Crypto Officer and Administrator hold every key action; purge of a protected vault is then
 * refused by purge protection, not by RBAC. */
static void test_role_officer_and_admin(void **state)
{
    (void)state;
    char n[37];
    kf_assign(armtok, sub, vid, ROLE_KV_ADMIN, admin.oid, n);
    const struct principal *ps[2] = {&officer, &admin};
    for (int i = 0; i < 2; i++) {
        const char *tok = ps[i]->tok;
        const char *name = i ? "byadmin" : "byofficer";
        json_decref(kv_ok(port, "POST", P("/keys/%s/create", name), tok, RSA_KEY, 200));
        json_decref(kv_ok(port, "POST", P("/keys/%s/rotate", name), tok, NULL, 200));
        json_decref(kv_ok(port, "PUT", P("/keys/%s/rotationpolicy", name), tok,
                          "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P90D\"},\"action\":{\"type\":\"Rotate\"}}]}",
                          200));
        json_decref(kv_ok(port, "GET", P("/keys/%s/rotationpolicy", name), tok, NULL, 200));
        json_decref(kv_ok(port, "POST", P("/keys/%s/backup", name), tok, NULL, 200));
        json_decref(kv_ok(port, "DELETE", P("/keys/%s", name), tok, NULL, 200));
        json_decref(kv_ok(port, "GET", P("/deletedkeys/%s", name), tok, NULL, 200));
        json_decref(kv_ok(port, "GET", "/deletedkeys", tok, NULL, 200));
        kv_err(kv(port, "DELETE", P("/deletedkeys/%s", name), tok, NULL), 403, "Forbidden", NULL);
        json_decref(kv_ok(port, "POST", P("/deletedkeys/%s/recover", name), tok, NULL, 200));
        json_t *r = kv_ok(port, "POST", "/rng", tok, "{\"count\":16}", 200);
        assert_non_null(ck_json_str(r, "value"));
        json_decref(r);
    }
    kf_unassign(armtok, vid, n);
}

/* Owner holds no data actions (and the subscription owner's token is otherwise valid). */
static void test_owner_has_no_data_actions(void **state)
{
    (void)state;
    struct principal owner;
    memset(&owner, 0, sizeof(owner));
    kf_copy(owner.oid, sizeof(owner.oid), ta.sp);
    kf_copy(owner.app_id, sizeof(owner.app_id), ta.client_id);
    expect_rbac(kv(port, "GET", "/keys/k", admin_vtok, NULL), &owner, "keys/read", "k");
    expect_rbac(kv(port, "POST", "/keys/k//unwrapkey", admin_vtok, "{\"alg\":\"RSA-OAEP\",\"value\":\"AA\"}"), &owner,
                "keys/unwrap/action", "k");
    expect_rbac(kv(port, "POST", "/keys/x/create", admin_vtok, RSA_KEY), &owner, "keys/create/action", "x");
    /* A Reader or Owner assignment at the vault itself adds no data action either. */
    char n[37];
    kf_assign(armtok, sub, vid, ROLE_OWNER, nobody.oid, n);
    expect_rbac(kv(port, "GET", "/keys/k", nobody.tok, NULL), &nobody, "keys/read", "k");
    kf_unassign(armtok, vid, n);
}

/* Every request above that passed authentication left one record, in sequence, and the chain is
 * valid. */
static void test_audit_complete(void **state)
{
    (void)state;
    long n = kf_audit_count(armtok, vid, 1000);
    if (n != kf_audited(port)) {
        print_error("audit records %ld, authenticated requests %ld\n", n, kf_audited(port));
        kf_audit_diff(armtok, vid, port);
        fail();
    }
    int valid;
    long records, bad;
    kf_audit_verify(armtok, vid, &valid, &records, &bad);
    assert_true(valid);
    assert_int_equal(records, n);
    assert_int_equal(bad, -1);
    /* Records name the caller, its tenant, the operation and the result; denials are recorded. */
    json_t *o = kf_bearer_ok("GET", P("%s/auditRecords?api-version=" KF_ARM_KV_API "&callerOid=%s", vid, seu.oid),
                             armtok, NULL, 200);
    json_t *arr = ck_json_arr(o, "value"), *rec;
    size_t i;
    int denied = 0, unwraps = 0;
    assert_true(json_array_size(arr) > 0);
    json_array_foreach(arr, i, rec) {
        assert_string_equal(ck_json_str(rec, "callerOid"), seu.oid);
        assert_string_equal(ck_json_str(rec, "callerAppId"), seu.app_id);
        assert_string_equal(ck_json_str(rec, "callerTenantId"), ta.tid);
        assert_string_equal(ck_json_str(rec, "clientAddress"), "127.0.0.1");
        assert_string_equal(ck_json_str(rec, "vault"), "authvault");
        assert_non_null(ck_json_str(rec, "requestId"));
        assert_non_null(ck_json_str(rec, "time"));
        denied += ck_json_int(rec, "result", 0) == 403;
        if (strcmp(ck_json_str(rec, "operation"), "UnwrapKey") == 0) {
            unwraps++;
            assert_string_equal(ck_json_str(rec, "kid"), P("https://localhost:%u/keys/k/%s", port, kver));
        }
    }
    assert_int_equal(denied, 10);
    assert_int_equal(unwraps, 1);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_challenge_before_routing),
        cmocka_unit_test(test_other_tenant),
        cmocka_unit_test(test_audience_and_lifetime),
        cmocka_unit_test(test_rbac_vault_scope),
        cmocka_unit_test(test_rbac_key_and_rg_scope),
        cmocka_unit_test(test_role_service_encryption_user),
        cmocka_unit_test(test_role_crypto_user),
        cmocka_unit_test(test_role_officer_and_admin),
        cmocka_unit_test(test_owner_has_no_data_actions),
        cmocka_unit_test(test_audit_complete),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
