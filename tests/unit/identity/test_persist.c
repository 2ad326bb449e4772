/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The identity service across restarts and at rest: after a full cross-tenant flow the service is
 * freed and made again on the same directory. With the same master key, tenants, applications,
 * credentials, workloads and signing keys are all back (tokens issued before the restart verify
 * against the reloaded JWKS); with another master key idp_new fails cleanly because the sealed
 * signing keys cannot be opened. And no file under the directory holds a client secret, an
 * identity header, an issued token or a signing key in the clear (DESIGN.md section 6, invariant 1).
 */
#include "fixture.h"

#define SUB "55555555-aaaa-4aaa-8aaa-000000000001"
#define MAX_NEEDLES 64

static struct tenant ta, tb;
static struct uami u1;
static char app_oid[37], app_id[37], app_secret[128], sp_b[37], header[128], kid_a[64];
static char *tok_graph_a, *tok_graph_b, *tok_vault_a, *tok_mi, *tok_exchanged;

/* Values that must never appear in a file under the data directory. */
static struct {
    const char *what;
    uint8_t *p;
    size_t n;
} needles[MAX_NEEDLES];
static int nneedles;

static void needle(const char *what, const void *p, size_t n)
{
    assert_true(nneedles < MAX_NEEDLES);
    assert_true(n >= 16);
    needles[nneedles].what = what;
    needles[nneedles].p = ck_malloc(n);
    assert_non_null(needles[nneedles].p);
    memcpy(needles[nneedles].p, p, n);
    needles[nneedles].n = n;
    nneedles++;
}

static void needle_str(const char *what, const char *s)
{
    needle(what, s, strlen(s));
}

/* A token, and its signature segment on its own. */
static void needle_token(const char *what, const char *tok)
{
    needle_str(what, tok);
    needle_str(what, strrchr(tok, '.') + 1);
}

static char *exchange_ok(const char *assertion)
{
    struct rsp r = fx_token_form(tb.tid, fx_assertion_form(app_id, "https://vault.azure.net/.default", assertion));
    fx_status(&r, 200);
    char *t = ck_strdup(ck_json_str(r.json, "access_token"));
    json_t *c = fx_claims(t);
    assert_string_equal(ck_json_str(c, "oid"), sp_b);
    assert_string_equal(ck_json_str(c, "appidacr"), "2");
    json_decref(c);
    rsp_free(&r);
    return t;
}

static void jwks_kid(const char *tid, char kid[64])
{
    struct rsp r = fx_http("GET", fx_url(F.base, P("/%s/discovery/v2.0/keys", tid)), NULL, NULL, 0);
    fx_status(&r, 200);
    assert_int_equal(json_array_size(ck_json_arr(r.json, "keys")), 1);
    fx_copy(kid, 64, ck_json_str(json_array_get(ck_json_arr(r.json, "keys"), 0), "kid"));
    rsp_free(&r);
}

/* The whole chain, keeping every secret it hands out. */
static int setup(void **state)
{
    fx_setup(state);
    fx_tenant("isv", &ta);
    fx_tenant("customer", &tb);
    tok_graph_a = fx_admin_token(&ta, FX_GRAPH_AUD "/.default");
    tok_graph_b = fx_admin_token(&tb, FX_GRAPH_AUD "/.default");
    tok_vault_a = fx_admin_token(&ta, "https://vault.azure.net/.default");
    json_t *o = fx_graph_ok("POST", "/v1.0/applications", tok_graph_a,
                      "{\"displayName\":\"isv-cmk-app\",\"signInAudience\":\"AzureADMultipleOrgs\"}", 201);
    fx_copy(app_oid, sizeof(app_oid), ck_json_str(o, "id"));
    fx_copy(app_id, sizeof(app_id), ck_json_str(o, "appId"));
    json_decref(o);
    o = fx_graph_ok("POST", P("/v1.0/applications/%s/addPassword", app_oid), tok_graph_a, "{}", 200);
    fx_copy(app_secret, sizeof(app_secret), ck_json_str(o, "secretText"));
    json_decref(o);
    fx_uami(ta.tid, SUB, "rg", "uami-persist", &u1);
    json_decref(fx_graph_ok("POST", P("/v1.0/applications/%s/federatedIdentityCredentials", app_oid), tok_graph_a,
                      P("{\"name\":\"fic\",\"issuer\":\"https://login.microsoftonline.com/%s/v2.0\",\"subject\":\"%s\","
                        "\"audiences\":[\"" FX_EXCHANGE "\"]}",
                        ta.tid, u1.principal),
                      201));
    o = fx_graph_ok("POST", "/v1.0/servicePrincipals", tok_graph_b, P("{\"appId\":\"%s\"}", app_id), 201);
    fx_copy(sp_b, sizeof(sp_b), ck_json_str(o, "id"));
    json_decref(o);
    const struct uami *ids[] = {&u1};
    fx_workload(ids, 1, header, sizeof(header));
    tok_mi = fx_mi_token(header, u1.client, FX_EXCHANGE);
    tok_exchanged = exchange_ok(tok_mi);
    char *app_tok = fx_get_token(tb.tid, app_id, app_secret, "https://vault.azure.net/.default");
    jwks_kid(ta.tid, kid_a);

    needle_str("tenant A admin secret", ta.secret);
    needle_str("tenant B admin secret", tb.secret);
    needle_str("app secret", app_secret);
    needle_str("identity header", header);
    needle_token("graph token A", tok_graph_a);
    needle_token("graph token B", tok_graph_b);
    needle_token("vault token A", tok_vault_a);
    needle_token("MI token", tok_mi);
    needle_token("exchanged token", tok_exchanged);
    needle_token("app token", app_tok);
    ck_free(app_tok);
    needle("master key", ck_secret_ptr(F.master), ck_secret_len(F.master));
    /* Each tenant's signing key in DER, whole and a window from its middle. */
    for (struct idp_signer *s = F.idp->signers; s != NULL; s = s->next) {
        struct ck_secret *der = NULL;
        assert_int_equal(ck_pkey_private_der(s->key, &der), CK_OK);
        needle("signing key (DER)", ck_secret_ptr(der), ck_secret_len(der));
        needle("signing key (DER window)", ck_secret_ptr(der) + ck_secret_len(der) / 2, 32);
        ck_secret_free(der);
    }
    return 0;
}

static int teardown(void **state)
{
    for (int i = 0; i < nneedles; i++)
        ck_freezero(needles[i].p, needles[i].n);
    ck_free(tok_graph_a);
    ck_free(tok_graph_b);
    ck_free(tok_vault_a);
    ck_free(tok_mi);
    ck_free(tok_exchanged);
    return fx_teardown(state);
}

/* Reads every regular file under dir; calls check on each. Returns the number of files. */
static int scan_dir(const char *dir, void (*check)(const char *path, const uint8_t *p, size_t n, void *arg), void *arg)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int files = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *path = ck_path_join(dir, e->d_name);
        struct stat st;
        assert_non_null(path);
        assert_int_equal(lstat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            files += scan_dir(path, check, arg);
        } else if (S_ISREG(st.st_mode)) {
            char *data = NULL;
            size_t n = 0;
            assert_int_equal(ck_read_file(path, 256u << 20, &data, &n), CK_OK);
            check(path, (const uint8_t *)data, n, arg);
            ck_free(data);
            files++;
        }
        ck_free(path);
    }
    closedir(d);
    return files;
}

static void check_no_needle(const char *path, const uint8_t *p, size_t n, void *arg)
{
    (void)arg;
    for (int i = 0; i < nneedles; i++) {
        if (n >= needles[i].n && memmem(p, n, needles[i].p, needles[i].n) != NULL) {
            print_error("%s found in %s\n", needles[i].what, path);
            fail();
        }
    }
}

/* Positive control: the scanner does see plain identifiers in the store. */
struct find {
    const char *s;
    int found;
};

static void find_str(const char *path, const uint8_t *p, size_t n, void *arg)
{
    struct find *f = arg;
    (void)path;
    if (memmem(p, n, f->s, strlen(f->s)) != NULL)
        f->found++;
}

static void scan_for_secrets(void)
{
    int files = scan_dir(F.dir, check_no_needle, NULL);
    assert_true(files >= 1);
    struct find f = {.s = ta.tid};
    scan_dir(F.dir, find_str, &f);
    assert_true(f.found >= 1);
    f = (struct find){.s = u1.principal};
    scan_dir(F.dir, find_str, &f);
    assert_true(f.found >= 1);
}

/* Invariant 1, with the service running (the write-ahead log holds recent writes). */
static void test_secrets_at_rest_running(void **state)
{
    (void)state;
    scan_for_secrets();
}

static void test_restart_same_key(void **state)
{
    (void)state;
    fx_stop();
    assert_int_equal(fx_start(F.master), CK_OK);
    /* Tenants and keys are back; the key is the same one. */
    struct rsp r = fx_op("GET", "/operator/identity/tenants", NULL);
    fx_status(&r, 200);
    assert_int_equal(json_array_size(ck_json_arr(r.json, "value")), 2);
    rsp_free(&r);
    char kid[64];
    jwks_kid(ta.tid, kid);
    assert_string_equal(kid, kid_a);
    /* Tokens issued before the restart verify against the reloaded JWKS. */
    struct ck_claims c;
    assert_int_equal(fx_verify(ta.tid, tok_vault_a, &c), CK_TF_NONE);
    assert_string_equal(c.oid, ta.sp);
    assert_int_equal(fx_verify(ta.tid, tok_mi, &c), CK_TF_NONE);
    assert_int_equal(fx_verify(tb.tid, tok_exchanged, &c), CK_TF_NONE);
    /* And are accepted by the service itself (Graph with the old admin token). */
    json_t *o = fx_graph_ok("GET", P("/v1.0/applications(appId='%s')", app_id), tok_graph_a, NULL, 200);
    assert_string_equal(ck_json_str(o, "id"), app_oid);
    json_decref(o);
    /* Secrets (admin and app), the FIC and the SP, and the workload's header still work. */
    char *t = fx_admin_token(&ta, "https://vault.azure.net/.default");
    json_t *h = fx_header(t);
    assert_string_equal(ck_json_str(h, "kid"), kid_a);
    json_decref(h);
    ck_free(t);
    t = fx_get_token(tb.tid, app_id, app_secret, "https://vault.azure.net/.default");
    ck_free(t);
    ck_free(exchange_ok(tok_mi));
    t = fx_mi_token(header, u1.client, FX_EXCHANGE);
    ck_free(exchange_ok(t));
    ck_free(t);
    /* A new tenant after the restart gets a key of its own. */
    struct tenant tc;
    fx_tenant("after-restart", &tc);
    char kid_c[64];
    jwks_kid(tc.tid, kid_c);
    assert_string_not_equal(kid_c, kid_a);
}

static void test_restart_wrong_key(void **state)
{
    (void)state;
    struct ck_secret *other = NULL;
    fx_stop();
    assert_int_equal(ck_rand_secret(CK_SEAL_KEY_LEN, &other), CK_OK);
    int rc = fx_start(other);
    assert_int_not_equal(rc, CK_OK);
    assert_int_equal(rc, CK_E_CRYPTO);
    assert_null(F.idp);
    ck_secret_free(other);
    /* A master key of the wrong length is refused before the store is touched. */
    other = ck_secret_from("short", 5);
    assert_int_equal(fx_start(other), CK_E_INVALID);
    ck_secret_free(other);
    /* The failed attempts changed nothing: the right key opens everything again. */
    assert_int_equal(fx_start(F.master), CK_OK);
    char kid[64];
    jwks_kid(ta.tid, kid);
    assert_string_equal(kid, kid_a);
    assert_int_equal(fx_verify(ta.tid, tok_vault_a, NULL), CK_TF_NONE);
    ck_free(fx_admin_token(&tb, "https://vault.azure.net/.default"));
}

/* Invariant 1 again with the service stopped (everything checkpointed into the database). */
static void test_secrets_at_rest_stopped(void **state)
{
    (void)state;
    fx_stop();
    scan_for_secrets();
    assert_int_equal(fx_start(F.master), CK_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secrets_at_rest_running),
        cmocka_unit_test(test_restart_same_key),
        cmocka_unit_test(test_restart_wrong_key),
        cmocka_unit_test(test_secrets_at_rest_stopped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
