/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The identity service's Graph subset over a real listener (wire reference C.8): bearer
 * authentication and directory-admin authorization, applications and their lookups, client
 * secrets, federated identity credentials with the limits and uniqueness of A.6, service
 * principals for multi-tenant apps, the Graph error envelope, and that refused writes change no
 * state (DESIGN.md section 6, invariant 6).
 */
#include "fixture.h"

static struct tenant ta, tb;
static char tok_a[8192], tok_b[8192];
static char multi_oid[37], multi_app[37], single_oid[37], single_app[37];

static void make_app(const char *body, char oid[37], char app[37])
{
    json_t *o = fx_graph_ok("POST", "/v1.0/applications", tok_a, body, 201);
    fx_copy(oid, 37, ck_json_str(o, "id"));
    fx_copy(app, 37, ck_json_str(o, "appId"));
    json_decref(o);
}

static int setup(void **state)
{
    fx_setup(state);
    fx_tenant("isv", &ta);
    fx_tenant("customer", &tb);
    char *t = fx_admin_token(&ta, FX_GRAPH_AUD "/.default");
    fx_copy(tok_a, sizeof(tok_a), t);
    ck_free(t);
    t = fx_admin_token(&tb, "https://graph.microsoft.com//.default");
    fx_copy(tok_b, sizeof(tok_b), t);
    ck_free(t);
    make_app("{\"displayName\":\"isv-cmk-app\",\"signInAudience\":\"AzureADMultipleOrgs\"}", multi_oid, multi_app);
    make_app("{\"displayName\":\"single\"}", single_oid, single_app);
    return 0;
}

static size_t count_value(const char *path, const char *tok)
{
    json_t *o = fx_graph_ok("GET", path, tok, NULL, 200);
    size_t n = json_array_size(ck_json_arr(o, "value"));
    json_decref(o);
    return n;
}

static void test_authentication(void **state)
{
    (void)state;
    fx_gr(fx_graph("GET", "/v1.0/applications", NULL, NULL), 401, "InvalidAuthenticationToken");
    fx_gr(fx_graph("GET", "/v1.0/applications", "not-a-token", NULL), 401, "InvalidAuthenticationToken");
    fx_gr(fx_graph("POST", "/v1.0/applications", "a.b.c", "{\"displayName\":\"x\"}"), 401, "InvalidAuthenticationToken");
    /* A valid token for another audience. */
    char *vault = fx_admin_token(&ta, "https://vault.azure.net/.default");
    fx_gr(fx_graph("GET", "/v1.0/applications", vault, NULL), 401, "InvalidAuthenticationToken");
    ck_free(vault);
    /* An expired Graph token signed with the tenant's real key. */
    int64_t now = ck_time_now();
    char *old = fx_sign(ta.tid, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "iss",
                                          P("https://sts.windows.net/%s/", ta.tid), "aud", FX_GRAPH_AUD, "tid", ta.tid,
                                          "oid", ta.sp, "appid", ta.client_id, "iat", (json_int_t)now - 7200, "nbf",
                                          (json_int_t)now - 7200, "exp", (json_int_t)now - 3600));
    fx_gr(fx_graph("GET", "/v1.0/applications", old, NULL), 401, "InvalidAuthenticationToken");
    ck_free(old);
    /* The same claims, still valid, but naming a principal that does not exist. */
    char *ghost = fx_sign(ta.tid, json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "iss", P("https://sts.windows.net/%s/", ta.tid),
                                            "aud", FX_GRAPH_AUD, "tid", ta.tid, "oid",
                                            "99999999-8888-4777-8666-555555555555", "nbf", (json_int_t)now, "exp",
                                            (json_int_t)now + 600));
    fx_gr(fx_graph("GET", "/v1.0/applications", ghost, NULL), 401, "InvalidAuthenticationToken");
    ck_free(ghost);
    /* Tenant A's admin oid presented in a token of tenant B's issuer: not a principal of B. */
    char *cross = fx_sign(tb.tid, json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "iss", P("https://sts.windows.net/%s/", tb.tid),
                                            "aud", FX_GRAPH_AUD, "tid", tb.tid, "oid", ta.sp, "nbf", (json_int_t)now,
                                            "exp", (json_int_t)now + 600));
    fx_gr(fx_graph("GET", "/v1.0/applications", cross, NULL), 401, "InvalidAuthenticationToken");
    ck_free(cross);
    /* The v2 Graph audience GUID is accepted (C.8). */
    char *guid = fx_admin_token(&ta, "00000003-0000-0000-c000-000000000000/.default");
    json_t *o = fx_graph_ok("GET", "/v1.0/applications", guid, NULL, 200);
    assert_string_equal(ck_json_str(o, "@odata.context"), "https://graph.microsoft.com/v1.0/$metadata#applications");
    json_decref(o);
    ck_free(guid);
}

/* A principal without directory rights: the multi-tenant app itself, with a secret of its own. */
static void test_non_admin_denied(void **state)
{
    (void)state;
    json_t *o = fx_graph_ok("POST", P("/v1.0/applications/%s/addPassword", multi_oid), tok_a,
                      "{\"passwordCredential\":{\"displayName\":\"ci\"}}", 200);
    char secret[128], key_id[37];
    fx_copy(secret, sizeof(secret), ck_json_str(o, "secretText"));
    fx_copy(key_id, sizeof(key_id), ck_json_str(o, "keyId"));
    assert_string_equal(ck_json_str(o, "displayName"), "ci");
    assert_int_equal(strlen(ck_json_str(o, "hint")), 3);
    assert_int_equal(strncmp(ck_json_str(o, "hint"), secret, 3), 0);
    json_decref(o);
    /* Reading the app shows the credential without its text. */
    o = fx_graph_ok("GET", P("/v1.0/applications/%s", multi_oid), tok_a, NULL, 200);
    json_t *pcs = ck_json_arr(o, "passwordCredentials");
    assert_int_equal(json_array_size(pcs), 1);
    assert_string_equal(ck_json_str(json_array_get(pcs, 0), "keyId"), key_id);
    assert_true(json_is_null(json_object_get(json_array_get(pcs, 0), "secretText")));
    char *dump = ck_json_dump(o);
    assert_null(strstr(dump, secret));
    free(dump);
    json_decref(o);

    /* Provision the app in tenant B, take a token as the app, and call Graph. */
    o = fx_graph_ok("POST", "/v1.0/servicePrincipals", tok_b, P("{\"appId\":\"%s\"}", multi_app), 201);
    char sp_b[37];
    fx_copy(sp_b, sizeof(sp_b), ck_json_str(o, "id"));
    json_decref(o);
    char *app_tok = fx_get_token(tb.tid, multi_app, secret, FX_GRAPH_AUD "/.default");
    json_t *c = fx_claims(app_tok);
    assert_string_equal(ck_json_str(c, "oid"), sp_b);
    assert_string_equal(ck_json_str(c, "appidacr"), "1");
    json_decref(c);
    size_t before = count_value("/v1.0/applications", tok_b);
    fx_gr(fx_graph("GET", "/v1.0/applications", app_tok, NULL), 403, "Authorization_RequestDenied");
    fx_gr(fx_graph("POST", "/v1.0/applications", app_tok, "{\"displayName\":\"sneaky\"}"), 403,
          "Authorization_RequestDenied");
    fx_gr(fx_graph("POST", "/v1.0/servicePrincipals", app_tok, P("{\"appId\":\"%s\"}", single_app)), 403,
          "Authorization_RequestDenied");
    fx_gr(fx_graph("DELETE", P("/v1.0/servicePrincipals/%s", sp_b), app_tok, NULL), 403, "Authorization_RequestDenied");
    assert_int_equal(count_value("/v1.0/applications", tok_b), before);
    /* Once its service principal is gone, the app's still-valid token is refused with 401. */
    json_decref(fx_graph_ok("DELETE", P("/v1.0/servicePrincipals/%s", sp_b), tok_b, NULL, 204));
    fx_gr(fx_graph("GET", "/v1.0/applications", app_tok, NULL), 401, "InvalidAuthenticationToken");
    ck_free(app_tok);
    /* The same secret does not work at tenant A, where the app has no service principal. */
    fx_aad(fx_token_form(ta.tid, P("grant_type=client_credentials&client_id=%s&scope=%s&client_secret=%s", multi_app,
                                   fx_enc(FX_GRAPH_AUD "/.default"), fx_enc(secret))),
           400, "unauthorized_client", 700016);
}

static void test_applications(void **state)
{
    (void)state;
    json_t *o = fx_graph_ok("GET", P("/v1.0/applications/%s", single_oid), tok_a, NULL, 200);
    assert_string_equal(ck_json_str(o, "appId"), single_app);
    assert_string_equal(ck_json_str(o, "displayName"), "single");
    assert_string_equal(ck_json_str(o, "signInAudience"), "AzureADMyOrg");
    assert_string_equal(ck_json_str(o, "@odata.context"),
                        "https://graph.microsoft.com/v1.0/$metadata#applications/$entity");
    json_decref(o);
    /* applications(appId='...') resolves the same object. */
    o = fx_graph_ok("GET", P("/v1.0/applications(appId='%s')", multi_app), tok_a, NULL, 200);
    assert_string_equal(ck_json_str(o, "id"), multi_oid);
    assert_string_equal(ck_json_str(o, "signInAudience"), "AzureADMultipleOrgs");
    json_decref(o);
    fx_gr(fx_graph("GET", "/v1.0/applications(appId='11111111-2222-4333-8444-555555555555')", tok_a, NULL), 404,
          "Request_ResourceNotFound");
    fx_gr(fx_graph("GET", P("/v1.0/applications/%s", multi_app), tok_a, NULL), 404, "Request_ResourceNotFound");
    /* Another tenant's admin sees nothing of tenant A's apps. */
    fx_gr(fx_graph("GET", P("/v1.0/applications/%s", multi_oid), tok_b, NULL), 404, "Request_ResourceNotFound");
    fx_gr(fx_graph("GET", P("/v1.0/applications(appId='%s')", multi_app), tok_b, NULL), 404, "Request_ResourceNotFound");
    fx_gr(fx_graph("DELETE", P("/v1.0/applications/%s", multi_oid), tok_b, NULL), 404, "Request_ResourceNotFound");
    assert_int_equal(count_value(P("/v1.0/applications?$filter=%s", fx_enc(P("appId eq '%s'", multi_app))), tok_b), 0);
    /* List and $filter=appId eq '...'; the admin app created with the tenant is listed too. */
    size_t all = count_value("/v1.0/applications", tok_a);
    assert_true(all >= 3);
    o = fx_graph_ok("GET", P("/v1.0/applications?$filter=%s", fx_enc(P("appId eq '%s'", multi_app))), tok_a, NULL, 200);
    json_t *v = ck_json_arr(o, "value");
    assert_int_equal(json_array_size(v), 1);
    assert_string_equal(ck_json_str(json_array_get(v, 0), "id"), multi_oid);
    json_decref(o);
    assert_int_equal(count_value(P("/v1.0/applications?$filter=%s",
                                   fx_enc("appId eq '11111111-2222-4333-8444-555555555555'")),
                                 tok_a),
                     0);
    fx_gr(fx_graph("GET", P("/v1.0/applications?$filter=%s", fx_enc("displayName eq 'x'")), tok_a, NULL), 400,
          "Request_UnsupportedQuery");
    /* Validation: no displayName, a non-string one, an unknown audience. */
    fx_gr(fx_graph("POST", "/v1.0/applications", tok_a, "{}"), 400, "Request_BadRequest");
    fx_gr(fx_graph("POST", "/v1.0/applications", tok_a, "{\"displayName\":\"\"}"), 400, "Request_BadRequest");
    fx_gr(fx_graph("POST", "/v1.0/applications", tok_a, "{\"displayName\":7}"), 400, "Request_BadRequest");
    fx_gr(fx_graph("POST", "/v1.0/applications", tok_a, "{\"displayName\":\"a\\u0001b\"}"), 400, "Request_BadRequest");
    fx_gr(fx_graph("POST", "/v1.0/applications", tok_a, "{\"displayName\":\"x\",\"signInAudience\":\"Everyone\"}"), 400,
          "Request_BadRequest");
    fx_gr(fx_graph("POST", "/v1.0/applications", tok_a, "{\"displayName\":\"x\",\"signInAudience\":1}"), 400,
          "Request_BadRequest");
    assert_int_equal(count_value("/v1.0/applications", tok_a), all);
    /* Unknown segments and methods. */
    fx_gr(fx_graph("GET", "/v1.0/users", tok_a, NULL), 400, "BadRequest");
    fx_gr(fx_graph("PUT", "/v1.0/applications", tok_a, NULL), 405, "Request_BadRequest");
    fx_gr(fx_graph("GET", P("/v1.0/applications/%s/owners", multi_oid), tok_a, NULL), 400, "Request_BadRequest");
}

/* Invariant 6: malformed JSON gets 400 in Graph's shape and creates nothing. */
static void test_malformed_json(void **state)
{
    (void)state;
    size_t apps = count_value("/v1.0/applications", tok_a);
    size_t fics = count_value(P("/v1.0/applications/%s/federatedIdentityCredentials", single_oid), tok_a);
    const char *bad[] = {"{bad", "[1]", "", "{\"displayName\":\"x\"", "null", "{\"displayName\":\"x\"} trailing"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fx_gr(fx_graph("POST", "/v1.0/applications", tok_a, bad[i]), 400, "BadRequest");
        fx_gr(fx_graph("POST", P("/v1.0/applications/%s/federatedIdentityCredentials", single_oid), tok_a, bad[i]), 400,
              "BadRequest");
        fx_gr(fx_graph("POST", "/v1.0/servicePrincipals", tok_b, bad[i]), 400, "BadRequest");
    }
    /* A body over the 256 KiB cap: 413 in Graph's error shape, nothing created. */
    char *big = fx_big_json(256 * 1024 + 64);
    fx_gr(fx_graph("POST", "/v1.0/applications", tok_a, big), 413, "Request_BadRequest");
    ck_free(big);
    assert_int_equal(count_value("/v1.0/applications", tok_a), apps);
    assert_int_equal(count_value(P("/v1.0/applications/%s/federatedIdentityCredentials", single_oid), tok_a), fics);
    assert_int_equal(count_value(P("/v1.0/servicePrincipals?$filter=%s", fx_enc(P("appId eq '%s'", single_app))), tok_b),
                     0);
}

static const char *fic_body(const char *name, const char *subject)
{
    return P("{\"name\":\"%s\",\"issuer\":\"https://login.microsoftonline.com/%s/v2.0\",\"subject\":\"%s\","
             "\"audiences\":[\"" FX_EXCHANGE "\"]}",
             name, ta.tid, subject);
}

static void test_fic_validation(void **state)
{
    (void)state;
    const char *path = P("/v1.0/applications/%s/federatedIdentityCredentials", multi_oid);
    char fpath[256];
    fx_copy(fpath, sizeof(fpath), path);
    char iss[128];
    snprintf(iss, sizeof(iss), "https://login.microsoftonline.com/%s/v2.0", ta.tid);
    char long_name[130], long_subject[610];
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    memset(long_subject, 's', sizeof(long_subject) - 1);
    long_subject[sizeof(long_subject) - 1] = '\0';
    const char *bad[] = {
        P("{\"issuer\":\"%s\",\"subject\":\"s\",\"audiences\":[\"" FX_EXCHANGE "\"]}", iss),
        P("{\"name\":\"n\",\"subject\":\"s\",\"audiences\":[\"" FX_EXCHANGE "\"]}"),
        P("{\"name\":\"n\",\"issuer\":\"%s\",\"audiences\":[\"" FX_EXCHANGE "\"]}", iss),
        P("{\"name\":\"n\",\"issuer\":\"%s\",\"subject\":\"s\"}", iss),
        P("{\"name\":\"n\",\"issuer\":\"%s\",\"subject\":\"s\",\"audiences\":[]}", iss),
        P("{\"name\":\"n\",\"issuer\":\"%s\",\"subject\":\"s\",\"audiences\":[\"" FX_EXCHANGE "\",\"api://other\"]}", iss),
        P("{\"name\":\"n\",\"issuer\":\"%s\",\"subject\":\"s\",\"audiences\":[7]}", iss),
        P("{\"name\":\"n\",\"issuer\":\"%s\",\"subject\":\"s\",\"audiences\":\"" FX_EXCHANGE "\"}", iss),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        fx_gr(fx_graph("POST", fpath, tok_a, bad[i]), 400, "Request_BadRequest");
    /* Names: URL-safe characters only, at most 120. */
    const char *bad_names[] = {"bad name", "a/b", "a%2Fb", "caf\\u00e9", "a.b", "", long_name};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
        fx_gr(fx_graph("POST", fpath, tok_a, fic_body(bad_names[i], "s")), 400, "Request_BadRequest");
    fx_gr(fx_graph("POST", fpath, tok_a, fic_body("ok", long_subject)), 400, "Request_BadRequest");
    /* Issuer must be an https URL. */
    fx_gr(fx_graph("POST", fpath, tok_a,
                   "{\"name\":\"n\",\"issuer\":\"http://issuer\",\"subject\":\"s\",\"audiences\":[\"" FX_EXCHANGE "\"]}"),
          400, "Request_BadRequest");
    assert_int_equal(count_value(fpath, tok_a), 0);

    /* The first is created (also through the appId path); then uniqueness (A.6 step 4). */
    json_t *o = fx_graph_ok("POST", P("/v1.0/applications(appId='%s')/federatedIdentityCredentials", multi_app), tok_a,
                      fic_body("fic-00", "subject-00"), 201);
    char id0[37];
    fx_copy(id0, sizeof(id0), ck_json_str(o, "id"));
    assert_string_equal(ck_json_str(o, "name"), "fic-00");
    json_decref(o);
    fx_gr(fx_graph("POST", fpath, tok_a, fic_body("other-name", "subject-00")), 409,
          "Request_MultipleObjectsWithSameKeyValue");
    fx_gr(fx_graph("POST", fpath, tok_a, fic_body("fic-00", "other-subject")), 409,
          "Request_MultipleObjectsWithSameKeyValue");
    /* Same subject under another issuer is a different credential. */
    json_decref(fx_graph_ok("POST", fpath, tok_a,
                      P("{\"name\":\"fic-01\",\"issuer\":\"https://token.actions.githubusercontent.com\","
                        "\"subject\":\"subject-00\",\"audiences\":[\"" FX_EXCHANGE "\"]}"),
                      201));
    for (int i = 2; i < 20; i++)
        json_decref(fx_graph_ok("POST", fpath, tok_a, fic_body(P("fic-%02d", i), P("subject-%02d", i)), 201));
    assert_int_equal(count_value(fpath, tok_a), 20);
    /* The 21st is refused and not stored. */
    fx_gr(fx_graph("POST", fpath, tok_a, fic_body("fic-20", "subject-20")), 400, "Request_BadRequest");
    assert_int_equal(count_value(fpath, tok_a), 20);
    /* Get by id and by name; delete frees a slot. */
    o = fx_graph_ok("GET", P("%s/%s", fpath, id0), tok_a, NULL, 200);
    assert_string_equal(ck_json_str(o, "subject"), "subject-00");
    json_decref(o);
    o = fx_graph_ok("GET", P("%s/fic-05", fpath), tok_a, NULL, 200);
    assert_string_equal(ck_json_str(o, "subject"), "subject-05");
    json_decref(o);
    fx_gr(fx_graph("GET", P("%s/nope", fpath), tok_a, NULL), 404, "Request_ResourceNotFound");
    json_decref(fx_graph_ok("DELETE", P("%s/%s", fpath, id0), tok_a, NULL, 204));
    fx_gr(fx_graph("DELETE", P("%s/%s", fpath, id0), tok_a, NULL), 404, "Request_ResourceNotFound");
    json_decref(fx_graph_ok("POST", fpath, tok_a, fic_body("fic-20", "subject-20"), 201));
    assert_int_equal(count_value(fpath, tok_a), 20);
    /* Tenant B cannot touch tenant A's credentials. */
    fx_gr(fx_graph("POST", fpath, tok_b, fic_body("fic-b", "subject-b")), 404, "Request_ResourceNotFound");
    fx_gr(fx_graph("GET", fpath, tok_b, NULL), 404, "Request_ResourceNotFound");
}

static void test_service_principals(void **state)
{
    (void)state;
    /* A single-tenant app cannot be provisioned in another tenant (C.8: must fail with 400). */
    fx_gr(fx_graph("POST", "/v1.0/servicePrincipals", tok_b, P("{\"appId\":\"%s\"}", single_app)), 400,
          "Request_BadRequest");
    fx_gr(fx_graph("POST", "/v1.0/servicePrincipals", tok_b, P("{\"appId\":\"%s\"}", ta.client_id)), 400,
          "Request_BadRequest");
    /* ...but it can in its home tenant. */
    json_t *o = fx_graph_ok("POST", "/v1.0/servicePrincipals", tok_a, P("{\"appId\":\"%s\"}", single_app), 201);
    assert_string_equal(ck_json_str(o, "appOwnerOrganizationId"), ta.tid);
    json_decref(o);
    /* Bad and unknown app ids; a managed identity's client id is no application. */
    fx_gr(fx_graph("POST", "/v1.0/servicePrincipals", tok_b, "{}"), 400, "Request_BadRequest");
    fx_gr(fx_graph("POST", "/v1.0/servicePrincipals", tok_b, "{\"appId\":\"nope\"}"), 400, "Request_BadRequest");
    fx_gr(fx_graph("POST", "/v1.0/servicePrincipals", tok_b, "{\"appId\":\"11111111-2222-4333-8444-555555555555\"}"),
          400, "Request_BadRequest");
    struct uami u;
    fx_uami(ta.tid, "22222222-aaaa-4aaa-8aaa-000000000001", "rg", "graph-uami", &u);
    fx_gr(fx_graph("POST", "/v1.0/servicePrincipals", tok_a, P("{\"appId\":\"%s\"}", u.client)), 400,
          "Request_BadRequest");

    /* The multi-tenant app in tenant B, once. */
    const char *body = P("{\"appId\":\"%s\"}", multi_app);
    char b[128];
    fx_copy(b, sizeof(b), body);
    o = fx_graph_ok("POST", "/v1.0/servicePrincipals", tok_b, b, 201);
    char sp[37];
    fx_copy(sp, sizeof(sp), ck_json_str(o, "id"));
    assert_string_equal(ck_json_str(o, "appOwnerOrganizationId"), ta.tid);
    assert_true(ck_json_bool(o, "accountEnabled", 0));
    json_decref(o);
    fx_gr(fx_graph("POST", "/v1.0/servicePrincipals", tok_b, b), 409, "Request_MultipleObjectsWithSameKeyValue");
    /* Lookups: by object id, by appId, and $filter. */
    o = fx_graph_ok("GET", P("/v1.0/servicePrincipals(appId='%s')", multi_app), tok_b, NULL, 200);
    assert_string_equal(ck_json_str(o, "id"), sp);
    json_decref(o);
    o = fx_graph_ok("GET", P("/v1.0/servicePrincipals/%s", sp), tok_b, NULL, 200);
    assert_string_equal(ck_json_str(o, "appId"), multi_app);
    json_decref(o);
    assert_int_equal(count_value(P("/v1.0/servicePrincipals?$filter=%s", fx_enc(P("appId eq '%s'", multi_app))), tok_b),
                     1);
    fx_gr(fx_graph("GET", "/v1.0/servicePrincipals", tok_b, NULL), 400, "Request_UnsupportedQuery");
    /* Tenant A sees no SP of tenant B. */
    fx_gr(fx_graph("GET", P("/v1.0/servicePrincipals/%s", sp), tok_a, NULL), 404, "Request_ResourceNotFound");
    fx_gr(fx_graph("GET", P("/v1.0/servicePrincipals(appId='%s')", multi_app), tok_a, NULL), 404,
          "Request_ResourceNotFound");
    fx_gr(fx_graph("DELETE", P("/v1.0/servicePrincipals/%s", sp), tok_a, NULL), 404, "Request_ResourceNotFound");
    /* Managed-identity principals are not listed as application SPs. */
    fx_gr(fx_graph("GET", P("/v1.0/servicePrincipals/%s", u.principal), tok_a, NULL), 404, "Request_ResourceNotFound");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authentication), cmocka_unit_test(test_non_admin_denied),
        cmocka_unit_test(test_applications),   cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_fic_validation), cmocka_unit_test(test_service_principals),
    };
    return cmocka_run_group_tests(tests, setup, fx_teardown);
}
