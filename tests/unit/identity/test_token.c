/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The identity service's token endpoint, OIDC discovery and JWKS over a real listener: the
 * client-credentials grant with a client secret and the claims of the v1 token it issues (wire
 * reference A.4, A.5), signature checked with keys rebuilt from the published JWKS (A.3), and
 * every refusal with Entra's status, "error" and AADSTS code (A.4 table).
 */
#include "fixture.h"

static struct tenant ta, tb;

static int setup(void **state)
{
    fx_setup(state);
    fx_tenant("isv", &ta);
    fx_tenant("customer", &tb);
    return 0;
}

static const char *admin_form(const struct tenant *t, const char *scope)
{
    return P("grant_type=client_credentials&client_id=%s&scope=%s&client_secret=%s", t->client_id, fx_enc(scope),
             fx_enc(t->secret));
}

/* Wire reference A.3: issuer keeps Entra's form; endpoints point at this authority. */
static void test_discovery_and_jwks(void **state)
{
    (void)state;
    struct rsp r = fx_http("GET", fx_url(F.base, P("/%s/v2.0/.well-known/openid-configuration", ta.tid)), NULL, NULL, 0);
    fx_status(&r, 200);
    assert_string_equal(ck_json_str(r.json, "issuer"), P("https://login.microsoftonline.com/%s/v2.0", ta.tid));
    assert_string_equal(ck_json_str(r.json, "token_endpoint"), P("%s/%s/oauth2/v2.0/token", F.base, ta.tid));
    assert_string_equal(ck_json_str(r.json, "jwks_uri"), P("%s/%s/discovery/v2.0/keys", F.base, ta.tid));
    rsp_free(&r);
    r = fx_http("GET", fx_url(F.base, P("/%s/.well-known/openid-configuration", ta.tid)), NULL, NULL, 0);
    fx_status(&r, 200);
    assert_string_equal(ck_json_str(r.json, "issuer"), P("https://sts.windows.net/%s/", ta.tid));
    rsp_free(&r);

    /* One RS256 key per tenant; kid is the certificate thumbprint (= x5t); x5c carries the cert. */
    r = fx_http("GET", fx_url(F.base, P("/%s/discovery/v2.0/keys", ta.tid)), NULL, NULL, 0);
    fx_status(&r, 200);
    json_t *keys = ck_json_arr(r.json, "keys");
    assert_int_equal(json_array_size(keys), 1);
    json_t *k = json_array_get(keys, 0);
    assert_string_equal(ck_json_str(k, "kid"), ck_json_str(k, "x5t"));
    assert_int_equal(json_array_size(ck_json_arr(k, "x5c")), 1);
    assert_string_equal(ck_json_str(k, "issuer"), P("https://login.microsoftonline.com/%s/v2.0", ta.tid));
    assert_string_equal(ck_json_str(k, "e"), "AQAB");
    char kid_a[64];
    fx_copy(kid_a, sizeof(kid_a), ck_json_str(k, "kid"));
    rsp_free(&r);
    /* The v1 path publishes the same key; the other tenant has its own. */
    r = fx_http("GET", fx_url(F.base, P("/%s/discovery/keys", ta.tid)), NULL, NULL, 0);
    fx_status(&r, 200);
    assert_string_equal(ck_json_str(json_array_get(ck_json_arr(r.json, "keys"), 0), "kid"), kid_a);
    rsp_free(&r);
    r = fx_http("GET", fx_url(F.base, P("/%s/discovery/v2.0/keys", tb.tid)), NULL, NULL, 0);
    fx_status(&r, 200);
    assert_string_not_equal(ck_json_str(json_array_get(ck_json_arr(r.json, "keys"), 0), "kid"), kid_a);
    rsp_free(&r);

    /* Discovery for an unknown tenant: 400 invalid_tenant AADSTS90002 (as Entra's discovery does). */
    fx_aad(fx_http("GET", fx_url(F.base, "/00000000-1111-4222-8333-444444444444/v2.0/.well-known/openid-configuration"),
                   NULL, NULL, 0),
           400, "invalid_tenant", 90002);
    fx_aad(fx_http("GET", fx_url(F.base, "/contoso.onmicrosoft.com/discovery/v2.0/keys"), NULL, NULL, 0), 400,
           "invalid_tenant", 90002);
}

static void test_secret_success(void **state)
{
    (void)state;
    struct rsp r = fx_token_form(ta.tid, admin_form(&ta, "https://vault.azure.net/.default"));
    fx_status(&r, 200);
    assert_string_equal(ck_json_str(r.json, "token_type"), "Bearer");
    assert_int_equal(ck_json_int(r.json, "expires_in", 0), 3599);
    assert_int_equal(ck_json_int(r.json, "ext_expires_in", 0), 3599);
    const char *tok = ck_json_str(r.json, "access_token");
    assert_non_null(tok);

    json_t *h = fx_header(tok);
    assert_string_equal(ck_json_str(h, "alg"), "RS256");
    assert_string_equal(ck_json_str(h, "typ"), "JWT");
    assert_non_null(ck_json_str(h, "kid"));
    assert_string_equal(ck_json_str(h, "x5t"), ck_json_str(h, "kid"));
    json_decref(h);

    /* Wire reference A.5: the app-only v1 token. */
    json_t *c = fx_claims(tok);
    assert_string_equal(ck_json_str(c, "iss"), P("https://sts.windows.net/%s/", ta.tid));
    assert_string_equal(ck_json_str(c, "idp"), P("https://sts.windows.net/%s/", ta.tid));
    assert_string_equal(ck_json_str(c, "aud"), "https://vault.azure.net");
    assert_string_equal(ck_json_str(c, "tid"), ta.tid);
    assert_string_equal(ck_json_str(c, "oid"), ta.sp);
    assert_string_equal(ck_json_str(c, "sub"), ta.sp);
    assert_string_equal(ck_json_str(c, "appid"), ta.client_id);
    assert_string_equal(ck_json_str(c, "appidacr"), "1");
    assert_string_equal(ck_json_str(c, "ver"), "1.0");
    assert_string_equal(ck_json_str(c, "idtyp"), "app");
    assert_null(json_object_get(c, "azp"));
    assert_null(json_object_get(c, "xms_mirid"));
    int64_t iat = ck_json_int(c, "iat", 0), exp = ck_json_int(c, "exp", 0);
    assert_int_equal(exp - iat, 3599);
    assert_int_equal(ck_json_int(c, "nbf", -1), iat);
    assert_true(llabs((long long)(iat - ck_time_now())) <= 5);
    json_decref(c);

    /* The signature verifies with the key rebuilt from the published JWKS. */
    int nkeys = 0;
    struct ck_verifier *v = fx_jwks_verifier(ta.tid, &nkeys);
    assert_int_equal(nkeys, 1);
    struct ck_claims cl;
    const char *const vault[] = {"https://vault.azure.net", NULL};
    const char *const graph[] = {FX_GRAPH_AUD, NULL};
    assert_int_equal(ck_verify_token(v, tok, vault, ta.tid, &cl), CK_TF_NONE);
    assert_string_equal(cl.oid, ta.sp);
    assert_string_equal(cl.appid, ta.client_id);
    assert_string_equal(cl.ver, "1.0");
    assert_int_equal(ck_verify_token(v, tok, graph, ta.tid, &cl), CK_TF_AUDIENCE);
    assert_int_equal(ck_verify_token(v, tok, vault, tb.tid, &cl), CK_TF_TENANT);
    /* A flipped signature byte fails. */
    char *bad = ck_strdup(tok);
    char *sig = strrchr(bad, '.') + 5;
    *sig = *sig == 'A' ? 'B' : 'A';
    assert_int_equal(ck_verify_token(v, bad, vault, ta.tid, &cl), CK_TF_SIGNATURE);
    ck_free(bad);
    ck_verifier_free(v);
    /* Tenant B's keys do not verify tenant A's token. */
    v = fx_jwks_verifier(tb.tid, NULL);
    assert_int_not_equal(ck_verify_token(v, tok, vault, NULL, &cl), CK_TF_NONE);
    ck_verifier_free(v);
    rsp_free(&r);
}

/* What MSAL really sends: CAE claims, telemetry fields, client-request-id in the query, an
 * upper-case tenant id and a percent-encoded field name are all fine (A.4, transport rules). */
static void test_secret_msal_shapes(void **state)
{
    (void)state;
    char upper[37];
    for (size_t i = 0; i < sizeof(upper); i++)
        upper[i] = (char)((ta.tid[i] >= 'a' && ta.tid[i] <= 'f') ? ta.tid[i] - 'a' + 'A' : ta.tid[i]);
    const char *form = P("client_id=%s&scope=%s&grant_type=client_credentials&client_secret=%s&claims=%s"
                         "&x-client-SKU=msal.js.node&x-client-VER=2.0.0&x-ms-lib-capability=retry-after%%2C+h429"
                         "&client-request-id=0d3c1f6e-1111-4222-8333-444444444444",
                         ta.client_id, fx_enc("https://management.azure.com//.default"), fx_enc(ta.secret),
                         fx_enc("{\"access_token\":{\"xms_cc\":{\"values\":[\"cp1\"]}}}"));
    struct rsp r = fx_token_form(upper, form);
    fx_status(&r, 200);
    json_t *c = fx_claims(ck_json_str(r.json, "access_token"));
    /* Only a trailing "/.default" is stripped: the resource keeps its own trailing slash. */
    assert_string_equal(ck_json_str(c, "aud"), "https://management.azure.com/");
    assert_string_equal(ck_json_str(c, "tid"), ta.tid);
    json_decref(c);
    rsp_free(&r);

    /* Arbitrary resources are accepted (classic ARM clients ask for ${endpoint}/.default). */
    r = fx_token_form(ta.tid, P("grant%%5Ftype=client_credentials&client_id=%s&scope=%s&client_secret=%s", ta.client_id,
                                fx_enc("https://localhost:8445/.default"), fx_enc(ta.secret)));
    fx_status(&r, 200);
    c = fx_claims(ck_json_str(r.json, "access_token"));
    assert_string_equal(ck_json_str(c, "aud"), "https://localhost:8445");
    json_decref(c);
    rsp_free(&r);

    /* The correlation id of an error is the client-request-id the client sent. */
    const char *h[2] = {FX_FORM, NULL};
    r = fx_http("POST",
                fx_url(F.base, P("/%s/oauth2/v2.0/token?client-request-id=0d3c1f6e-1111-4222-8333-444444444444", ta.tid)),
                h, "grant_type=client_credentials", 29);
    fx_expect_aad(&r, 400, "invalid_request", 900144);
    assert_string_equal(ck_json_str(r.json, "correlation_id"), "0d3c1f6e-1111-4222-8333-444444444444");
    rsp_free(&r);
}

static void test_wrong_secret(void **state)
{
    (void)state;
    fx_aad(fx_token_form(ta.tid, P("grant_type=client_credentials&client_id=%s&scope=%s&client_secret=%s",
                                   ta.client_id, fx_enc("https://vault.azure.net/.default"), fx_enc(tb.secret))),
           401, "invalid_client", 7000215);
    fx_aad(fx_token_form(ta.tid, P("grant_type=client_credentials&client_id=%s&scope=%s&client_secret=", ta.client_id,
                                   fx_enc("https://vault.azure.net/.default"))),
           401, "invalid_client", 7000215);
    /* A prefix of the right secret is still wrong. */
    char half[64];
    snprintf(half, sizeof(half), "%.20s", ta.secret);
    struct rsp r = fx_token_form(ta.tid, P("grant_type=client_credentials&client_id=%s&scope=%s&client_secret=%s",
                                           ta.client_id, fx_enc("https://vault.azure.net/.default"), fx_enc(half)));
    fx_expect_aad(&r, 401, "invalid_client", 7000215);
    /* The error never echoes the presented secret. */
    assert_null(strstr(r.body, half));
    rsp_free(&r);
    /* No credential at all. */
    fx_aad(fx_token_form(ta.tid, P("grant_type=client_credentials&client_id=%s&scope=%s", ta.client_id,
                                   fx_enc("https://vault.azure.net/.default"))),
           401, "invalid_client", 7000218);
}

/* Wire reference A.4: "bad secret | 401 | invalid_client | 7000215 (expired secret: 7000222)".
 * The tenant's bootstrap secret lasts two years; a day after that it is expired, not wrong. */
static void test_expired_secret(void **state)
{
    (void)state;
    ck_time_set_offset(2 * 365 * 86400LL + 86400);
    struct rsp r = fx_token_form(ta.tid, admin_form(&ta, "https://vault.azure.net/.default"));
    ck_time_set_offset(0);
    fx_expect_aad(&r, 401, "invalid_client", 7000222);
    rsp_free(&r);
    /* Back in the present the same secret works. */
    ck_free(fx_admin_token(&ta, "https://vault.azure.net/.default"));
}

/* Entra compares client ids (GUIDs) without regard to case, like tenant ids; the token names the
 * application by its registered id. */
static void test_client_id_case(void **state)
{
    (void)state;
    char upper[37];
    for (size_t i = 0; i < sizeof(upper); i++)
        upper[i] = (char)((ta.client_id[i] >= 'a' && ta.client_id[i] <= 'f') ? ta.client_id[i] - 32 : ta.client_id[i]);
    struct rsp r = fx_token_form(ta.tid, P("grant_type=client_credentials&client_id=%s&scope=%s&client_secret=%s", upper,
                                           fx_enc("https://vault.azure.net/.default"), fx_enc(ta.secret)));
    fx_status(&r, 200);
    json_t *c = fx_claims(ck_json_str(r.json, "access_token"));
    assert_string_equal(ck_json_str(c, "appid"), ta.client_id);
    assert_string_equal(ck_json_str(c, "oid"), ta.sp);
    json_decref(c);
    rsp_free(&r);
}

/* Unknown tenants at the token endpoint: 400 with AADSTS90002 in Entra's shape, and nothing else
 * of the request looked at (the tenant is checked first). */
static void test_unknown_tenant(void **state)
{
    (void)state;
    const char *tenants[] = {"00000000-1111-4222-8333-444444444444", "contoso.onmicrosoft.com", "common",
                             "00000000-1111-4222-8333-444444444444"};
    for (size_t i = 0; i < sizeof(tenants) / sizeof(tenants[0]); i++) {
        const char *form = i == 3 ? "garbage" : admin_form(&ta, "https://vault.azure.net/.default");
        struct rsp r = fx_token_form(tenants[i], form);
        const char *err = ck_json_str(r.json, "error");
        assert_non_null(err);
        assert_true(strcmp(err, "invalid_request") == 0 || strcmp(err, "invalid_tenant") == 0);
        fx_expect_aad(&r, 400, err, 90002);
        rsp_free(&r);
    }
}

/* Wire reference A.4 table: "unknown tenant | 400 | invalid_request | 90002" at the token
 * endpoint (discovery answers invalid_tenant, see test_discovery_and_jwks). The implementation
 * answers invalid_tenant here too, and tests/compat/04-token-negative.test.mjs expects that; this
 * test holds the reference's value until the two are reconciled. */
static void test_unknown_tenant_error_per_reference(void **state)
{
    (void)state;
    fx_aad(fx_token_form("00000000-1111-4222-8333-444444444444", admin_form(&ta, "https://vault.azure.net/.default")),
           400, "invalid_request", 90002);
}

static void test_unknown_client(void **state)
{
    (void)state;
    const char *scope = fx_enc("https://vault.azure.net/.default");
    /* Unknown app id, a non-GUID client id, and tenant A's single-tenant admin app asking tenant B. */
    fx_aad(fx_token_form(ta.tid, P("grant_type=client_credentials&client_id=11111111-2222-4333-8444-555555555555&scope=%s"
                                   "&client_secret=x", scope)),
           400, "unauthorized_client", 700016);
    fx_aad(fx_token_form(ta.tid, P("grant_type=client_credentials&client_id=not-a-guid&scope=%s&client_secret=x", scope)),
           400, "unauthorized_client", 700016);
    struct rsp r = fx_token_form(tb.tid, admin_form(&ta, "https://vault.azure.net/.default"));
    fx_expect_aad(&r, 400, "unauthorized_client", 700016);
    /* The message names the directory by its display name, as Entra does. */
    assert_non_null(strstr(ck_json_str(r.json, "error_description"), "'customer'"));
    rsp_free(&r);
}

static void test_missing_parameters(void **state)
{
    (void)state;
    const char *scope = fx_enc("https://vault.azure.net/.default");
    struct rsp r = fx_token_form(ta.tid, P("client_id=%s&scope=%s&client_secret=x", ta.client_id, scope));
    fx_expect_aad(&r, 400, "invalid_request", 900144);
    assert_non_null(strstr(ck_json_str(r.json, "error_description"), "'grant_type'"));
    rsp_free(&r);
    r = fx_token_form(ta.tid, P("grant_type=client_credentials&scope=%s&client_secret=x", scope));
    fx_expect_aad(&r, 400, "invalid_request", 900144);
    assert_non_null(strstr(ck_json_str(r.json, "error_description"), "'client_id'"));
    rsp_free(&r);
    r = fx_token_form(ta.tid, P("grant_type=client_credentials&client_id=%s&client_secret=x", ta.client_id));
    fx_expect_aad(&r, 400, "invalid_request", 900144);
    assert_non_null(strstr(ck_json_str(r.json, "error_description"), "'scope'"));
    rsp_free(&r);
    /* Empty values count as missing. */
    fx_aad(fx_token_form(ta.tid, P("grant_type=&client_id=%s&scope=%s", ta.client_id, scope)), 400, "invalid_request",
           900144);
    fx_aad(fx_token_form(ta.tid, ""), 400, "invalid_request", 900144);
}

static void test_unsupported_grant(void **state)
{
    (void)state;
    const char *scope = fx_enc("https://vault.azure.net/.default");
    fx_aad(fx_token_form(ta.tid, P("grant_type=password&client_id=%s&scope=%s&client_secret=x", ta.client_id, scope)),
           400, "unsupported_grant_type", 70003);
    fx_aad(fx_token_form(ta.tid, P("grant_type=Client_Credentials&client_id=%s&scope=%s", ta.client_id, scope)), 400,
           "unsupported_grant_type", 70003);
}

static void test_bad_scope(void **state)
{
    (void)state;
    const char *bad[] = {
        "https://vault.azure.net",                          /* no /.default */
        "https://vault.azure.net/.default openid",          /* two scopes */
        "https://vault.azure.net/.default https://x/.default",
        "/.default",                                        /* no resource */
        "https://vault.azure.net/user_impersonation",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        fx_aad(fx_token_form(ta.tid, admin_form(&ta, bad[i])), 400, "invalid_scope", 1002012);
    /* '+' in a form value is a space: two scopes again. */
    fx_aad(fx_token_form(ta.tid, P("grant_type=client_credentials&client_id=%s&client_secret=%s"
                                   "&scope=https%%3A%%2F%%2Fa%%2F.default+https%%3A%%2F%%2Fb%%2F.default",
                                   ta.client_id, fx_enc(ta.secret))),
           400, "invalid_scope", 1002012);
}

static void test_form_errors(void **state)
{
    (void)state;
    const char *scope = fx_enc("https://vault.azure.net/.default");
    /* A duplicated parameter: 9000411, naming it. */
    struct rsp r = fx_token_form(ta.tid, P("grant_type=client_credentials&client_id=%s&scope=%s&scope=%s&client_secret=%s",
                                           ta.client_id, scope, scope, fx_enc(ta.secret)));
    fx_expect_aad(&r, 400, "invalid_request", 9000411);
    assert_non_null(strstr(ck_json_str(r.json, "error_description"), "'scope'"));
    rsp_free(&r);
    fx_aad(fx_token_form(ta.tid, P("grant_type=client_credentials&grant_type=client_credentials&client_id=%s&scope=%s"
                                   "&client_secret=%s", ta.client_id, scope, fx_enc(ta.secret))),
           400, "invalid_request", 9000411);
    /* Bad percent-encoding, a truncated escape and an encoded NUL. */
    fx_aad(fx_token_form(ta.tid, P("grant_type=client_credentials&client_id=%%zz&scope=%s", scope)), 400,
           "invalid_request", 900144);
    fx_aad(fx_token_form(ta.tid, P("grant_type=client_credentials&scope=%s&client_id=%%4", scope)), 400,
           "invalid_request", 900144);
    fx_aad(fx_token_form(ta.tid, P("grant_type=client_credentials%%00&client_id=%s&scope=%s", ta.client_id, scope)), 400,
           "invalid_request", 900144);
    /* More than 64 fields. */
    char many[2048];
    size_t o = (size_t)snprintf(many, sizeof(many), "grant_type=client_credentials&client_id=%s&scope=%s", ta.client_id,
                                scope);
    for (int i = 0; i < 70; i++)
        o += (size_t)snprintf(many + o, sizeof(many) - o, "&f%d=x", i);
    fx_aad(fx_token_form(ta.tid, many), 400, "invalid_request", 900144);
    /* Wrong or missing content type, even with a valid form. */
    const char *good = admin_form(&ta, "https://vault.azure.net/.default");
    fx_aad(fx_token_raw(ta.tid, FX_JSON, good, strlen(good)), 400, "invalid_request", 900144);
    fx_aad(fx_token_raw(ta.tid, "Content-Type: text/plain", good, strlen(good)), 400, "invalid_request", 900144);
    fx_aad(fx_token_raw(ta.tid, "Content-Type:", good, strlen(good)), 400, "invalid_request", 900144);
}

static void test_method_not_allowed(void **state)
{
    (void)state;
    fx_aad(fx_http("GET", fx_url(F.base, P("/%s/oauth2/v2.0/token", ta.tid)), NULL, NULL, 0), 405, "invalid_request",
           900561);
    fx_aad(fx_http("PUT", fx_url(F.base, P("/%s/oauth2/v2.0/token", ta.tid)), NULL, NULL, 0), 405, "invalid_request",
           900561);
}

/* A body over the identity mount's 256 KiB cap: 413, still in Entra's error shape. */
static void test_oversized_body(void **state)
{
    (void)state;
    size_t n = 256 * 1024 + 100;
    char *body = ck_malloc(n + 1);
    assert_non_null(body);
    const char *head = admin_form(&ta, "https://vault.azure.net/.default");
    size_t hl = strlen(head);
    memcpy(body, head, hl);
    memcpy(body + hl, "&pad=", 5);
    memset(body + hl + 5, 'a', n - hl - 5);
    body[n] = '\0';
    struct rsp r = fx_token_raw(ta.tid, FX_FORM, body, n);
    ck_free(body);
    fx_status(&r, 413);
    assert_string_equal(ck_json_str(r.json, "error"), "invalid_request");
    json_t *codes = ck_json_arr(r.json, "error_codes");
    assert_int_equal(json_array_size(codes), 1);
    assert_true(json_is_integer(json_array_get(codes, 0)));
    const char *desc = ck_json_str(r.json, "error_description");
    assert_non_null(desc);
    assert_int_equal(strncmp(desc, P("AADSTS%lld: ", (long long)json_integer_value(json_array_get(codes, 0))),
                             strlen(P("AADSTS%lld: ", (long long)json_integer_value(json_array_get(codes, 0))))),
                     0);
    assert_non_null(ck_json_str(r.json, "trace_id"));
    rsp_free(&r);
    /* Exactly at the cap is served normally (refused only for its content). */
    n = 256 * 1024;
    body = ck_malloc(n);
    assert_non_null(body);
    memcpy(body, head, hl);
    memcpy(body + hl, "&pad=", 5);
    memset(body + hl + 5, 'a', n - hl - 5);
    r = fx_token_raw(ta.tid, FX_FORM, body, n);
    ck_free(body);
    fx_status(&r, 200);
    rsp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery_and_jwks), cmocka_unit_test(test_secret_success),
        cmocka_unit_test(test_secret_msal_shapes), cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_unknown_tenant),     cmocka_unit_test(test_unknown_client),
        cmocka_unit_test(test_missing_parameters), cmocka_unit_test(test_unsupported_grant),
        cmocka_unit_test(test_bad_scope),          cmocka_unit_test(test_form_errors),
        cmocka_unit_test(test_method_not_allowed), cmocka_unit_test(test_oversized_body),
        cmocka_unit_test(test_expired_secret),     cmocka_unit_test(test_client_id_case),
        cmocka_unit_test(test_unknown_tenant_error_per_reference),
    };
    return cmocka_run_group_tests(tests, setup, fx_teardown);
}
