/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CORS on the vault origins, for the portal (docs/portal.md), over the real stack: the portal is
 * served on the main origin (the vault's authority) and calls the keys data plane from a browser.
 * A preflight from the main origin gets 204 with the methods and headers the portal sends, before
 * authentication and without an audit record; a preflight from any other origin, or for another
 * method, gets 403 without Access-Control-Allow-Origin. Real requests from the main origin carry
 * Access-Control-Allow-Origin (also on the 401 challenge, so the portal can read it) and expose
 * WWW-Authenticate; requests from another origin, or with no Origin, carry none.
 */
#include "kv_fixture.h"

static struct tenant ta;
static char sub[64], armtok[8192];
static struct principal officer;
static unsigned port;
static char vid[512];

static int setup(void **state)
{
    char n[37];
    (void)state;
    kf_setup();
    kf_customer("customer", &ta, sub, sizeof(sub), armtok, sizeof(armtok), "rg");
    port = kf_vault(armtok, sub, "rg", "corsvault", ta.tid, 1, 90);
    kf_copy(vid, sizeof(vid), kf_vault_id(sub, "rg", "corsvault"));
    kf_principal(&ta, "officer", &officer);
    kf_assign(armtok, sub, vid, ROLE_KV_OFFICER, officer.oid, n);
    json_t *b = kv_ok(port, "POST", "/keys/cmk/create", officer.tok, "{\"kty\":\"RSA\"}", 200);
    json_decref(b);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return kf_teardown();
}

/* One answer with the headers a browser reads. */
struct cors_rsp {
    long status;
    char *acao, *methods, *headers, *expose, *vary, *www;
};

static void cors_free(struct cors_rsp *r)
{
    ck_free(r->acao);
    ck_free(r->methods);
    ck_free(r->headers);
    ck_free(r->expose);
    ck_free(r->vary);
    ck_free(r->www);
    memset(r, 0, sizeof(*r));
}

/* A request to the vault origin with up to three extra header lines (NULL ends them early). */
static struct cors_rsp cors_call(const char *method, const char *path, const char *h1, const char *h2, const char *h3)
{
    struct ck_httpc_req req = {0};
    struct ck_httpc_resp resp;
    struct cors_rsp r = {0};
    const char *hs[] = {h1, h2, h3};
    int n = 0;
    for (int i = 0; i < 3 && hs[i] != NULL; i++)
        req.headers[n++] = hs[i];
    req.headers[n] = NULL;
    req.method = method;
    req.url = P("https://localhost:%u%s", port, path);
    req.timeout_ms = 30000;
    assert_int_equal(ck_httpc_do(&req, &resp), CK_OK);
    r.status = resp.status;
    r.acao = ck_httpc_resp_header(&resp, "Access-Control-Allow-Origin");
    r.methods = ck_httpc_resp_header(&resp, "Access-Control-Allow-Methods");
    r.headers = ck_httpc_resp_header(&resp, "Access-Control-Allow-Headers");
    r.expose = ck_httpc_resp_header(&resp, "Access-Control-Expose-Headers");
    r.vary = ck_httpc_resp_header(&resp, "Vary");
    r.www = ck_httpc_resp_header(&resp, "WWW-Authenticate");
    ck_httpc_resp_cleanup(&resp);
    return r;
}

static const char *origin_line(void)
{
    return P("Origin: %s", F.base);
}

static void test_preflight_from_main_origin(void **state)
{
    (void)state;
    long before = kf_audit_count(armtok, vid, 1000);
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        struct cors_rsp r = cors_call("OPTIONS", "/keys/cmk/0123456789abcdef0123456789abcdef?api-version=2025-07-01",
                                      origin_line(), P("Access-Control-Request-Method: %s", methods[i]),
                                      "Access-Control-Request-Headers: authorization,content-type,x-ms-client-request-id");
        assert_int_equal(r.status, 204);
        assert_non_null(r.acao);
        assert_string_equal(r.acao, F.base);
        assert_non_null(r.methods);
        assert_non_null(strstr(r.methods, methods[i]));
        assert_non_null(r.headers);
        assert_non_null(strcasestr(r.headers, "authorization"));
        assert_non_null(strcasestr(r.headers, "content-type"));
        assert_non_null(strcasestr(r.headers, "x-ms-client-request-id"));
        assert_non_null(r.vary);
        assert_non_null(strstr(r.vary, "Origin"));
        assert_null(r.www); /* answered before authentication */
        cors_free(&r);
    }
    /* Preflights never reach authentication: no audit record. */
    assert_int_equal(kf_audit_count(armtok, vid, 1000), before);
}

static void test_preflight_refused(void **state)
{
    (void)state;
    const char *others[] = {"Origin: https://evil.example", "Origin: https://localhost:1", "Origin: null",
                            P("Origin: %s.evil.example", F.base)};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        struct cors_rsp r = cors_call("OPTIONS", "/keys?api-version=7.5", others[i], "Access-Control-Request-Method: GET", NULL);
        assert_int_equal(r.status, 403);
        assert_null(r.acao);
        assert_null(r.methods);
        cors_free(&r);
    }
    struct cors_rsp r = cors_call("OPTIONS", "/keys?api-version=7.5", origin_line(), "Access-Control-Request-Method: TRACE", NULL);
    assert_int_equal(r.status, 403);
    assert_null(r.methods);
    cors_free(&r);
}

static void test_requests_from_main_origin(void **state)
{
    (void)state;
    const char *auth = P("Authorization: Bearer %s", officer.tok);
    /* The challenge is readable by the portal. */
    struct cors_rsp r = cors_call("GET", "/keys?api-version=7.5", origin_line(), NULL, NULL);
    assert_int_equal(r.status, 401);
    assert_non_null(r.www);
    assert_non_null(r.acao);
    assert_string_equal(r.acao, F.base);
    assert_non_null(r.expose);
    assert_non_null(strstr(r.expose, "WWW-Authenticate"));
    cors_free(&r);
    /* A real call: list keys, then update attributes (PATCH), both with the header. */
    r = cors_call("GET", "/keys?api-version=7.5", origin_line(), auth, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(r.acao);
    assert_string_equal(r.acao, F.base);
    cors_free(&r);
    /* A refusal (no such key) carries it too, so the portal can show the error. */
    r = cors_call("GET", "/keys/nosuchkey?api-version=7.5", origin_line(), auth, NULL);
    assert_int_equal(r.status, 404);
    assert_non_null(r.acao);
    cors_free(&r);
}

static void test_other_origins_get_no_cors(void **state)
{
    (void)state;
    const char *auth = P("Authorization: Bearer %s", officer.tok);
    struct cors_rsp r = cors_call("GET", "/keys?api-version=7.5", "Origin: https://evil.example", auth, NULL);
    assert_int_equal(r.status, 200); /* served (not a browser), but no browser page may read it */
    assert_null(r.acao);
    assert_null(r.expose);
    cors_free(&r);
    r = cors_call("GET", "/keys?api-version=7.5", auth, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_null(r.acao);
    assert_null(r.vary);
    cors_free(&r);
    /* OPTIONS without Access-Control-Request-Method is no preflight: authentication as usual. */
    r = cors_call("OPTIONS", "/keys?api-version=7.5", origin_line(), NULL, NULL);
    assert_int_equal(r.status, 401);
    assert_non_null(r.www);
    cors_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preflight_from_main_origin),
        cmocka_unit_test(test_preflight_refused),
        cmocka_unit_test(test_requests_from_main_origin),
        cmocka_unit_test(test_other_origins_get_no_cors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
