/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cross-tenant chain of the identity service end to end (DESIGN.md section 2): tenant A's
 * admin makes a multi-tenant app and a federated credential for a user-assigned identity
 * through Graph (C.8), tenant B's admin provisions the app, the managed-identity endpoint mints
 * the identity's token for api://AzureADTokenExchange over both protocols (A.7), and tenant B's
 * token endpoint exchanges it for a resource token (A.6). Then every way the assertion can be
 * wrong, with Entra's codes (A.4 table, A.6; DESIGN.md section 6 invariants 3 and 4), and the
 * effect of deleting the credential, the service principal and the application.
 */
#include "fixture.h"

#include "crypto/crypto.h"

#define VAULT_SCOPE "https://vault.azure.net/.default"

static struct tenant ta, tb, tc;
static struct uami u1, u2, ub;
static char tok_a[8192], tok_b[8192];
static char app_oid[37], app_id[37], fic_id[37], sp_b[37];
static char header[128];
static char iss_a[128];

static void graph_ok(const char *method, const char *path, const char *tok, const char *body, long status,
                     json_t **out)
{
    json_t *o = fx_graph_ok(method, path, tok, body, status);
    if (out != NULL)
        *out = o;
    else
        json_decref(o);
}

static void make_fic(void)
{
    json_t *o = NULL;
    graph_ok("POST", P("/v1.0/applications/%s/federatedIdentityCredentials", app_oid), tok_a,
             P("{\"name\":\"uami-fic\",\"issuer\":\"%s\",\"subject\":\"%s\",\"audiences\":[\"" FX_EXCHANGE "\"],"
               "\"description\":\"cross-tenant CMK\"}",
               iss_a, u1.principal),
             201, &o);
    fx_copy(fic_id, sizeof(fic_id), ck_json_str(o, "id"));
    assert_string_equal(ck_json_str(o, "issuer"), iss_a);
    assert_string_equal(ck_json_str(o, "subject"), u1.principal);
    assert_string_equal(json_string_value(json_array_get(ck_json_arr(o, "audiences"), 0)), FX_EXCHANGE);
    json_decref(o);
}

static void make_sp_b(void)
{
    json_t *o = NULL;
    graph_ok("POST", "/v1.0/servicePrincipals", tok_b, P("{\"appId\":\"%s\"}", app_id), 201, &o);
    fx_copy(sp_b, sizeof(sp_b), ck_json_str(o, "id"));
    assert_string_equal(ck_json_str(o, "appId"), app_id);
    assert_string_equal(ck_json_str(o, "appOwnerOrganizationId"), ta.tid);
    assert_string_equal(ck_json_str(o, "servicePrincipalType"), "Application");
    assert_string_equal(ck_json_str(o, "displayName"), "isv-cmk-app");
    json_decref(o);
}

static int setup(void **state)
{
    json_t *o = NULL;
    fx_setup(state);
    fx_tenant("isv", &ta);
    fx_tenant("customer", &tb);
    fx_tenant("other", &tc);
    snprintf(iss_a, sizeof(iss_a), "https://login.microsoftonline.com/%s/v2.0", ta.tid);
    char *t = fx_admin_token(&ta, FX_GRAPH_AUD "/.default");
    fx_copy(tok_a, sizeof(tok_a), t);
    ck_free(t);
    t = fx_admin_token(&tb, FX_GRAPH_AUD "/.default");
    fx_copy(tok_b, sizeof(tok_b), t);
    ck_free(t);
    graph_ok("POST", "/v1.0/applications", tok_a,
             "{\"displayName\":\"isv-cmk-app\",\"signInAudience\":\"AzureADMultipleOrgs\"}", 201, &o);
    fx_copy(app_oid, sizeof(app_oid), ck_json_str(o, "id"));
    fx_copy(app_id, sizeof(app_id), ck_json_str(o, "appId"));
    assert_string_equal(ck_json_str(o, "signInAudience"), "AzureADMultipleOrgs");
    json_decref(o);
    fx_uami(ta.tid, "11111111-aaaa-4aaa-8aaa-00000000000a", "rg-a", "uami-one", &u1);
    fx_uami(ta.tid, "11111111-aaaa-4aaa-8aaa-00000000000a", "rg-a", "uami-two", &u2);
    fx_uami(tb.tid, "11111111-bbbb-4bbb-8bbb-00000000000b", "rg-b", "uami-bee", &ub);
    make_fic();
    make_sp_b();
    const struct uami *ids[] = {&u1, &u2, &ub};
    fx_workload(ids, 3, header, sizeof(header));
    return 0;
}

static struct rsp exchange(const char *tid, const char *client_id, const char *assertion)
{
    return fx_token_form(tid, fx_assertion_form(client_id, VAULT_SCOPE, assertion));
}

static char *mi_exchange_token(const struct uami *u)
{
    return fx_mi_token(header, u->client, FX_EXCHANGE);
}

/* Claims signed with a tenant's signing key: the shape of an MI token, with chosen values. */
static char *craft(const char *key_tid, const char *iss, const char *sub, json_t *aud, int64_t nbf, int64_t exp)
{
    json_t *c = json_pack("{s:s,s:s,s:o,s:I,s:I,s:I,s:s,s:s}", "iss", iss, "sub", sub, "aud", aud, "iat",
                          (json_int_t)nbf, "nbf", (json_int_t)nbf, "exp", (json_int_t)exp, "oid", sub, "ver", "2.0");
    return fx_sign(key_tid, c);
}

static void check_exchanged(const struct rsp *r, const char *sp)
{
    fx_status(r, 200);
    assert_int_equal(ck_json_int(r->json, "expires_in", 0), 3599);
    const char *tok = ck_json_str(r->json, "access_token");
    json_t *c = fx_claims(tok);
    /* A.6 step 5: tid = customer, oid = customer-side SP, appid = app id, appidacr "2". */
    assert_string_equal(ck_json_str(c, "iss"), P("https://sts.windows.net/%s/", tb.tid));
    assert_string_equal(ck_json_str(c, "tid"), tb.tid);
    assert_string_equal(ck_json_str(c, "oid"), sp);
    assert_string_equal(ck_json_str(c, "sub"), sp);
    assert_string_equal(ck_json_str(c, "appid"), app_id);
    assert_string_equal(ck_json_str(c, "appidacr"), "2");
    assert_string_equal(ck_json_str(c, "aud"), "https://vault.azure.net");
    assert_string_equal(ck_json_str(c, "ver"), "1.0");
    assert_null(json_object_get(c, "xms_mirid"));
    json_decref(c);
    struct ck_claims cl;
    assert_int_equal(fx_verify(tb.tid, tok, &cl), CK_TF_NONE);
    assert_string_equal(cl.oid, sp);
}

static void check_mi_claims(const char *tok, const struct uami *u, const char *tid)
{
    json_t *c = fx_claims(tok);
    /* A.6: iss is Entra's v2 form for the identity's tenant, sub = oid = principalId. */
    assert_string_equal(ck_json_str(c, "iss"), P("https://login.microsoftonline.com/%s/v2.0", tid));
    assert_string_equal(ck_json_str(c, "sub"), u->principal);
    assert_string_equal(ck_json_str(c, "oid"), u->principal);
    assert_string_equal(ck_json_str(c, "tid"), tid);
    assert_string_equal(ck_json_str(c, "aud"), FX_EXCHANGE);
    assert_string_equal(ck_json_str(c, "azp"), u->client);
    assert_string_equal(ck_json_str(c, "ver"), "2.0");
    assert_string_equal(ck_json_str(c, "xms_mirid"), u->id);
    assert_null(json_object_get(c, "appid"));
    assert_int_equal(ck_json_int(c, "exp", 0) - ck_json_int(c, "iat", 0), 86399);
    json_decref(c);
    struct ck_claims cl;
    assert_int_equal(fx_verify(tid, tok, &cl), CK_TF_NONE);
    assert_string_equal(cl.xms_mirid, u->id);
}

static void test_chain_app_service(void **state)
{
    (void)state;
    struct rsp r = fx_mi_appservice(header, P("resource=%s&client_id=%s", fx_enc(FX_EXCHANGE), u1.client));
    fx_status(&r, 200);
    /* A.7 response: strings for numbers, expires_on mandatory. */
    assert_string_equal(ck_json_str(r.json, "client_id"), u1.client);
    assert_string_equal(ck_json_str(r.json, "resource"), FX_EXCHANGE);
    assert_string_equal(ck_json_str(r.json, "token_type"), "Bearer");
    assert_string_equal(ck_json_str(r.json, "expires_in"), "86399");
    const char *eo = ck_json_str(r.json, "expires_on"), *nb = ck_json_str(r.json, "not_before");
    assert_non_null(eo);
    assert_non_null(nb);
    assert_int_equal(strtoll(eo, NULL, 10) - strtoll(nb, NULL, 10), 86399);
    const char *tok = ck_json_str(r.json, "access_token");
    check_mi_claims(tok, &u1, ta.tid);

    struct rsp x = exchange(tb.tid, app_id, tok);
    check_exchanged(&x, sp_b);
    rsp_free(&x);
    /* The same assertion may be presented again while it is valid. */
    x = exchange(tb.tid, app_id, tok);
    check_exchanged(&x, sp_b);
    rsp_free(&x);
    /* The app has no service principal in its home tenant nor in tenant C: 700016 (A.6 step 1). */
    fx_aad(exchange(ta.tid, app_id, tok), 400, "unauthorized_client", 700016);
    fx_aad(exchange(tc.tid, app_id, tok), 400, "unauthorized_client", 700016);
    rsp_free(&r);
}

static void test_chain_imds(void **state)
{
    (void)state;
    struct rsp r = fx_mi_imds(header, P("resource=%s&client_id=%s", fx_enc(FX_EXCHANGE), u1.client), 1);
    fx_status(&r, 200);
    const char *tok = ck_json_str(r.json, "access_token");
    check_mi_claims(tok, &u1, ta.tid);
    struct rsp x = exchange(tb.tid, app_id, tok);
    check_exchanged(&x, sp_b);
    rsp_free(&x);
    rsp_free(&r);
    /* The path without the trailing slash, and selection by resource id, work too. */
    r = fx_http("GET",
                fx_url(F.mibase, P("/w/%s/metadata/identity/oauth2/token?api-version=2018-02-01&resource=%s&msi_res_id=%s",
                                   header, fx_enc(FX_EXCHANGE), fx_enc(u1.id))),
                (const char *const[]){"Metadata: true", NULL}, NULL, 0);
    fx_status(&r, 200);
    check_mi_claims(ck_json_str(r.json, "access_token"), &u1, ta.tid);
    rsp_free(&r);
}

/* Invariant 4: the audience may be the exchange URI or the exchange app's GUID (A.5), given as a
 * string or in an array; the token exchange accepts both spellings against the stored URI. */
static void test_exchange_audience_forms(void **state)
{
    (void)state;
    int64_t now = ck_time_now();
    char *t = craft(ta.tid, iss_a, u1.principal, json_string(IDP_EXCHANGE_APP_ID), now, now + 600);
    struct rsp x = exchange(tb.tid, app_id, t);
    check_exchanged(&x, sp_b);
    rsp_free(&x);
    ck_free(t);
    t = craft(ta.tid, iss_a, u1.principal, json_pack("[s,s]", "https://other", FX_EXCHANGE), now, now + 600);
    x = exchange(tb.tid, app_id, t);
    check_exchanged(&x, sp_b);
    rsp_free(&x);
    ck_free(t);
    /* Within the 5-minute clock skew an assertion that just expired still counts. */
    t = craft(ta.tid, iss_a, u1.principal, json_string(FX_EXCHANGE), now - 3600, now - 60);
    x = exchange(tb.tid, app_id, t);
    check_exchanged(&x, sp_b);
    rsp_free(&x);
    ck_free(t);
}

/* Presents assertion (then frees it) and expects a 401 invalid_client with code whose description
 * names mention (NULL: not checked). */
static void refused(char *assertion, int code, const char *mention)
{
    struct rsp x = exchange(tb.tid, app_id, assertion);
    fx_expect_aad(&x, 401, "invalid_client", code);
    if (mention != NULL && strstr(ck_json_str(x.json, "error_description"), mention) == NULL) {
        fx_show("description does not name the value", &x);
        fail();
    }
    rsp_free(&x);
    ck_free(assertion);
}

static void test_issuer_mismatch(void **state)
{
    (void)state;
    /* A real MI token of an identity in tenant B: issuer .../{B}/v2.0. */
    char *t = mi_exchange_token(&ub);
    check_mi_claims(t, &ub, tb.tid);
    refused(t, 700211, tb.tid);
    /* Exact string match: no trailing-slash or case normalisation (A.6 step 3). */
    int64_t now = ck_time_now();
    char iss[200];
    snprintf(iss, sizeof(iss), "%s/", iss_a);
    refused(craft(ta.tid, iss, u1.principal, json_string(FX_EXCHANGE), now, now + 600), 700211, iss);
    snprintf(iss, sizeof(iss), "https://login.microsoftonline.com/%s/V2.0", ta.tid);
    refused(craft(ta.tid, iss, u1.principal, json_string(FX_EXCHANGE), now, now + 600), 700211, iss);
    /* A v1 token of the right identity (an MI token for another resource) has the v1 issuer. */
    refused(fx_mi_token(header, u1.client, "https://vault.azure.net"), 700211, "https://sts.windows.net/");
}

static void test_subject_mismatch(void **state)
{
    (void)state;
    char *t = mi_exchange_token(&u2);
    check_mi_claims(t, &u2, ta.tid);
    refused(t, 700213, u2.principal);
    /* Case-sensitive subject. */
    char upper[37];
    for (size_t i = 0; i < sizeof(upper); i++)
        upper[i] = (char)((u1.principal[i] >= 'a' && u1.principal[i] <= 'f') ? u1.principal[i] - 32 : u1.principal[i]);
    int64_t now = ck_time_now();
    refused(craft(ta.tid, iss_a, upper, json_string(FX_EXCHANGE), now, now + 600), 700213, upper);
}

static void test_audience_mismatch(void **state)
{
    (void)state;
    int64_t now = ck_time_now();
    /* Right issuer and subject, wrong audience. */
    refused(craft(ta.tid, iss_a, u1.principal, json_string("https://vault.azure.net"), now, now + 600), 700212,
            "https://vault.azure.net");
    refused(craft(ta.tid, iss_a, u1.principal, json_string("api://azureadtokenexchange"), now, now + 600), 700212,
            "api://azureadtokenexchange");
    /* A credential for the v1 issuer makes an MI token minted for another resource reach the
     * audience check: 700212. */
    json_t *o = NULL;
    graph_ok("POST", P("/v1.0/applications(appId='%s')/federatedIdentityCredentials", app_id), tok_a,
             P("{\"name\":\"v1-fic\",\"issuer\":\"https://sts.windows.net/%s/\",\"subject\":\"%s\","
               "\"audiences\":[\"" FX_EXCHANGE "\"]}",
               ta.tid, u1.principal),
             201, &o);
    char v1_fic[37];
    fx_copy(v1_fic, sizeof(v1_fic), ck_json_str(o, "id"));
    json_decref(o);
    refused(fx_mi_token(header, u1.client, "https://vault.azure.net"), 700212, "https://vault.azure.net");
    graph_ok("DELETE", P("/v1.0/applications/%s/federatedIdentityCredentials/%s", app_oid, v1_fic), tok_a, NULL, 204,
             NULL);
}

static char *replace_header(const char *tok, const char *hdr_json)
{
    const char *d1 = strchr(tok, '.');
    char *h = fx_b64json(hdr_json);
    size_t n = strlen(h) + strlen(d1) + 1;
    char *out = ck_malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%s%s", h, d1);
    ck_free(h);
    return out;
}

/* Invariant 3: none and HMAC are refused before any key is looked up (5002738). */
static void test_algorithms(void **state)
{
    (void)state;
    char *t = mi_exchange_token(&u1);
    json_t *h = fx_header(t);
    char kid[64];
    fx_copy(kid, sizeof(kid), ck_json_str(h, "kid"));
    json_decref(h);

    /* alg none with an empty signature. */
    char *n = replace_header(t, "{\"alg\":\"none\",\"typ\":\"JWT\"}");
    *(strrchr(n, '.') + 1) = '\0';
    struct rsp x = exchange(tb.tid, app_id, n);
    fx_expect_aad(&x, 401, "invalid_client", 5002738);
    assert_non_null(strstr(ck_json_str(x.json, "error_description"), "'none'"));
    rsp_free(&x);
    ck_free(n);
    /* alg missing. */
    n = replace_header(t, "{\"typ\":\"JWT\"}");
    fx_aad(exchange(tb.tid, app_id, n), 401, "invalid_client", 5002738);
    ck_free(n);

    /* HS256 "signed" with the public key's bytes (the certificate and the modulus from the JWKS). */
    struct rsp jw = fx_http("GET", fx_url(F.base, P("/%s/discovery/v2.0/keys", ta.tid)), NULL, NULL, 0);
    fx_status(&jw, 200);
    json_t *k = json_array_get(ck_json_arr(jw.json, "keys"), 0);
    const char *x5c = json_string_value(json_array_get(ck_json_arr(k, "x5c"), 0));
    const char *nmod = ck_json_str(k, "n");
    uint8_t *der = NULL, *nb = NULL;
    size_t derlen = 0, nlen = 0;
    assert_int_equal(ck_b64_decode(x5c, strlen(x5c), &der, &derlen), 0);
    assert_int_equal(ck_b64url_decode(nmod, strlen(nmod), &nb, &nlen), 0);
    const struct ck_bytes keys[] = {{der, derlen}, {nb, nlen}, {(uint8_t *)(uintptr_t)nmod, strlen(nmod)}};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char *hs = replace_header(t, P("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid));
        char *dot = strrchr(hs, '.');
        uint8_t mac[CK_SHA256_LEN];
        assert_int_equal(ck_hmac_sha256(keys[i].ptr, keys[i].len, hs, (size_t)(dot - hs), mac), CK_OK);
        char *sig = ck_b64url_encode(mac, sizeof(mac));
        dot[1] = '\0';
        size_t l = strlen(hs) + strlen(sig) + 1;
        char *full = ck_malloc(l);
        snprintf(full, l, "%s%s", hs, sig);
        x = exchange(tb.tid, app_id, full);
        fx_expect_aad(&x, 401, "invalid_client", 5002738);
        assert_non_null(strstr(ck_json_str(x.json, "error_description"), "'HS256'"));
        rsp_free(&x);
        ck_free(full);
        ck_free(sig);
        ck_free(hs);
    }
    /* RS512 and ES256 are refused the same way. */
    n = replace_header(t, P("{\"alg\":\"RS512\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid));
    fx_aad(exchange(tb.tid, app_id, n), 401, "invalid_client", 5002738);
    ck_free(n);
    ck_free(der);
    ck_free(nb);
    rsp_free(&jw);
    ck_free(t);
}

/* Signature failures: 700027. */
static void test_tampered(void **state)
{
    (void)state;
    char *t = mi_exchange_token(&u1);
    /* Payload changed (a claim added), signature kept: iss, sub and aud still match the FIC. */
    const char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
    json_t *c = fx_claims(t);
    json_object_set_new(c, "exp", json_integer(ck_json_int(c, "exp", 0) + 86400 * 365));
    char *pj = ck_json_dump(c);
    char *pb = fx_b64json(pj);
    free(pj);
    json_decref(c);
    size_t l = strlen(t) + strlen(pb) + 1;
    char *tp = ck_malloc(l);
    snprintf(tp, l, "%.*s.%s%s", (int)(d1 - t), t, pb, d2);
    ck_free(pb);
    struct rsp x = exchange(tb.tid, app_id, tp);
    fx_expect_aad(&x, 401, "invalid_client", 700027);
    rsp_free(&x);
    ck_free(tp);
    /* One signature character changed. */
    char *ts = ck_strdup(t);
    char *s = strrchr(ts, '.') + 10;
    *s = *s == 'A' ? 'B' : 'A';
    fx_aad(exchange(tb.tid, app_id, ts), 401, "invalid_client", 700027);
    /* Signature removed. */
    *(strrchr(ts, '.') + 1) = '\0';
    fx_aad(exchange(tb.tid, app_id, ts), 401, "invalid_client", 700027);
    ck_free(ts);
    /* Signed by tenant B's key while claiming tenant A's issuer: no such key for A. */
    int64_t now = ck_time_now();
    char *tb_signed = craft(tb.tid, iss_a, u1.principal, json_string(FX_EXCHANGE), now, now + 600);
    fx_aad(exchange(tb.tid, app_id, tb_signed), 401, "invalid_client", 700027);
    ck_free(tb_signed);
    /* The untouched token still works. */
    x = exchange(tb.tid, app_id, t);
    check_exchanged(&x, sp_b);
    rsp_free(&x);
    ck_free(t);
}

/* Lifetime: 700024 (signed with the tenant's real key, so only the time is wrong). */
static void test_lifetime(void **state)
{
    (void)state;
    int64_t now = ck_time_now();
    refused(craft(ta.tid, iss_a, u1.principal, json_string(FX_EXCHANGE), now - 7200, now - 3600), 700024,
            "not within its valid time range");
    refused(craft(ta.tid, iss_a, u1.principal, json_string(FX_EXCHANGE), now + 3600, now + 7200), 700024,
            "not within its valid time range");
}

static void test_malformed(void **state)
{
    (void)state;
    const char *bad[] = {"not-a-jwt", "a.b.c", "a.b", "....", "eyJhbGciOiJSUzI1NiJ9.e30.sig.extra"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        fx_aad(exchange(tb.tid, app_id, bad[i]), 400, "invalid_request", 50027);
    /* A well-formed JWS whose payload lacks iss, sub and aud. */
    char *t = fx_sign(ta.tid, json_pack("{s:I}", "exp", (json_int_t)ck_time_now() + 600));
    fx_aad(exchange(tb.tid, app_id, t), 400, "invalid_request", 50027);
    ck_free(t);
    /* Payload that is JSON but not an object. */
    char *h = fx_b64json("{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"x\"}");
    char *p = fx_b64json("[1,2]");
    fx_aad(exchange(tb.tid, app_id, P("%s.%s.c2ln", h, p)), 400, "invalid_request", 50027);
    ck_free(h);
    ck_free(p);
}

static void test_assertion_form_errors(void **state)
{
    (void)state;
    char *t = mi_exchange_token(&u1);
    /* Wrong or missing client_assertion_type. */
    fx_aad(fx_token_form(tb.tid, P("grant_type=client_credentials&client_id=%s&scope=%s&client_assertion_type=%s"
                                   "&client_assertion=%s",
                                   app_id, fx_enc(VAULT_SCOPE),
                                   fx_enc("urn:ietf:params:oauth:client-assertion-type:saml2-bearer"), t)),
           400, "invalid_request", 900144);
    fx_aad(fx_token_form(tb.tid, P("grant_type=client_credentials&client_id=%s&scope=%s&client_assertion=%s", app_id,
                                   fx_enc(VAULT_SCOPE), t)),
           400, "invalid_request", 900144);
    /* Both a secret and an assertion. */
    fx_aad(fx_token_form(tb.tid, P("%s&client_secret=abc", fx_assertion_form(app_id, VAULT_SCOPE, t))), 400,
           "invalid_request", 90015);
    /* An assertion for a client id that is not the app holding the FIC. */
    fx_aad(exchange(tb.tid, tb.client_id, t), 401, "invalid_client", 700211);
    ck_free(t);
}

/* Deleting the credential, the customer's service principal or the app stops the exchange. */
static void test_deletions(void **state)
{
    (void)state;
    char *t = mi_exchange_token(&u1);
    struct rsp x = exchange(tb.tid, app_id, t);
    check_exchanged(&x, sp_b);
    rsp_free(&x);

    graph_ok("DELETE", P("/v1.0/applications/%s/federatedIdentityCredentials/%s", app_oid, fic_id), tok_a, NULL, 204,
             NULL);
    fx_aad(exchange(tb.tid, app_id, t), 401, "invalid_client", 700211);
    make_fic();
    x = exchange(tb.tid, app_id, t);
    check_exchanged(&x, sp_b);
    rsp_free(&x);

    char old_sp[37];
    fx_copy(old_sp, sizeof(old_sp), sp_b);
    graph_ok("DELETE", P("/v1.0/servicePrincipals/%s", sp_b), tok_b, NULL, 204, NULL);
    fx_aad(exchange(tb.tid, app_id, t), 400, "unauthorized_client", 700016);
    make_sp_b();
    assert_string_not_equal(sp_b, old_sp);
    x = exchange(tb.tid, app_id, t);
    check_exchanged(&x, sp_b);
    rsp_free(&x);

    graph_ok("DELETE", P("/v1.0/applications/%s", app_oid), tok_a, NULL, 204, NULL);
    fx_aad(exchange(tb.tid, app_id, t), 400, "unauthorized_client", 700016);
    fx_gr(fx_graph("GET", P("/v1.0/applications/%s", app_oid), tok_a, NULL), 404, "Request_ResourceNotFound");
    fx_gr(fx_graph("GET", P("/v1.0/applications/%s/federatedIdentityCredentials", app_oid), tok_a, NULL), 404,
          "Request_ResourceNotFound");
    /* The identity itself keeps working. */
    ck_free(t);
    t = mi_exchange_token(&u1);
    check_mi_claims(t, &u1, ta.tid);
    ck_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_app_service),  cmocka_unit_test(test_chain_imds),
        cmocka_unit_test(test_exchange_audience_forms), cmocka_unit_test(test_issuer_mismatch),
        cmocka_unit_test(test_subject_mismatch),   cmocka_unit_test(test_audience_mismatch),
        cmocka_unit_test(test_algorithms),         cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_lifetime),           cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_assertion_form_errors), cmocka_unit_test(test_deletions),
    };
    return cmocka_run_group_tests(tests, setup, fx_teardown);
}
