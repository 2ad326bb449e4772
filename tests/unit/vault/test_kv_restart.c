/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key vault service across restarts of the whole stack on the same data directory: vaults
 * come back on the port they had (persisted), keys unwrap what they wrapped before, tokens issued
 * before still work, the audit chain continues. With another vault master key the sealed keys
 * cannot be opened: operations that need the private key answer 500 and nothing of the key or
 * of the data leaks, while public reads still work; with the right key back, everything works.
 */
#include "kv_fixture.h"

static struct tenant ta;
static char sub[64], armtok[8192];
static struct principal officer;
static unsigned port;
static char vid[512];
static uint8_t cek[32];
static char wrapped[1024], kid[256], pub_n[1024];

static int setup(void **state)
{
    char n[37];
    (void)state;
    kf_setup();
    kf_customer("customer", &ta, sub, sizeof(sub), armtok, sizeof(armtok), "rg");
    port = kf_vault(armtok, sub, "rg", "restartvault", ta.tid, 1, 90);
    kf_copy(vid, sizeof(vid), kf_vault_id(sub, "rg", "restartvault"));
    kf_principal(&ta, "officer", &officer);
    kf_assign(armtok, sub, vid, ROLE_KV_OFFICER, officer.oid, n);
    json_t *b = kv_ok(port, "POST", "/keys/rk/create", officer.tok, "{\"kty\":\"RSA\"}", 200);
    kf_copy(kid, sizeof(kid), ck_json_str(ck_json_obj(b, "key"), "kid"));
    kf_copy(pub_n, sizeof(pub_n), ck_json_str(ck_json_obj(b, "key"), "n"));
    json_decref(b);
    kf_wrap_new_cek(port, officer.tok, "rk", cek, sizeof(cek), wrapped, sizeof(wrapped));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return kf_teardown();
}

static const char *unwrap_body(void)
{
    return P("{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", wrapped);
}

static void restart(const struct ck_secret *master)
{
    kf_stop();
    assert_int_equal(kf_start(master, 0), CK_OK);
    /* ARM tokens name the ARM audience, not an origin: the one issued before still works. */
}

static void check_unwrap_ok(void)
{
    json_t *u = kv_ok(port, "POST", "/keys/rk//unwrapkey", officer.tok, unwrap_body(), 200);
    assert_string_equal(ck_json_str(u, "value"), kf_b64(cek, sizeof(cek)));
    assert_string_equal(ck_json_str(u, "kid"), kid);
    json_decref(u);
}

static void test_restart_same_dir(void **state)
{
    (void)state;
    restart(F.kv_master);
    /* The vault is served on its persisted port, and ARM shows the same vaultUri. */
    json_t *v = kf_bearer_ok("GET", P("%s?api-version=" KF_ARM_KV_API, vid), armtok, NULL, 200);
    assert_string_equal(ck_json_str(ck_json_obj(v, "properties"), "vaultUri"), P("https://localhost:%u/", port));
    json_decref(v);
    /* A token issued before the restart, a key sealed before it. */
    check_unwrap_ok();
    json_t *b = kv_ok(port, "GET", "/keys/rk", officer.tok, NULL, 200);
    assert_string_equal(ck_json_str(ck_json_obj(b, "key"), "kid"), kid);
    json_decref(b);
    /* New keys and vaults work after the restart. */
    json_decref(kv_ok(port, "POST", "/keys/after/create", officer.tok, "{\"kty\":\"EC\"}", 200));
    unsigned p2 = kf_vault(armtok, sub, "rg", "secondvault", ta.tid, 1, 90);
    assert_true(p2 != port);
    /* Twice. */
    restart(F.kv_master);
    check_unwrap_ok();
    struct rsp r = kv(p2, "GET", "/keys/none", NULL, NULL);
    kf_status(&r, 401);
    rsp_free(&r);
    /* The audit chain continued across the restarts. */
    assert_int_equal(kf_audit_count(armtok, vid, 1000), kf_audited(port));
    int valid;
    long records, bad;
    kf_audit_verify(armtok, vid, &valid, &records, &bad);
    assert_true(valid);
    assert_int_equal(bad, -1);
}

static void expect_500_no_leak(struct rsp r)
{
    kv_expect_err(&r, 500, "InternalServerError", NULL);
    assert_null(strstr(r.body, kf_b64(cek, sizeof(cek))));
    assert_null(strstr(r.body, "BEGIN"));
    rsp_free(&r);
}

static void test_wrong_master_key(void **state)
{
    (void)state;
    struct ck_secret *other = NULL;
    assert_int_equal(ck_rand_secret(CK_SEAL_KEY_LEN, &other), CK_OK);
    restart(other);
    /* Public reads come from the store. */
    json_t *b = kv_ok(port, "GET", "/keys/rk", officer.tok, NULL, 200);
    assert_string_equal(ck_json_str(ck_json_obj(b, "key"), "n"), pub_n);
    json_decref(b);
    /* Anything that needs the private key fails closed. */
    expect_500_no_leak(kv(port, "POST", "/keys/rk//unwrapkey", officer.tok, unwrap_body()));
    expect_500_no_leak(kv(port, "POST", "/keys/rk//decrypt", officer.tok, unwrap_body()));
    uint8_t digest[32] = {1};
    expect_500_no_leak(kv(port, "POST", "/keys/rk//sign", officer.tok,
                          P("{\"alg\":\"RS256\",\"value\":\"%s\"}", kf_b64(digest, sizeof(digest)))));
    expect_500_no_leak(kv(port, "POST", "/keys/rk/backup", officer.tok, NULL));
    /* The right key back: everything works again, and nothing was rewritten under the wrong key. */
    restart(F.kv_master);
    check_unwrap_ok();
    json_t *s = kv_ok(port, "POST", "/keys/rk//sign", officer.tok,
                      P("{\"alg\":\"RS256\",\"value\":\"%s\"}", kf_b64(digest, sizeof(digest))), 200);
    json_decref(s);
    json_decref(kv_ok(port, "POST", "/keys/rk/backup", officer.tok, NULL, 200));
    ck_secret_free(other);
    int valid;
    long records, bad;
    kf_audit_verify(armtok, vid, &valid, &records, &bad);
    assert_true(valid);
    assert_int_equal(records, kf_audited(port));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_same_dir),
        cmocka_unit_test(test_wrong_master_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
