/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Client assertions from an external OIDC issuer at the token endpoint (docs/identity.md; wire
 * reference A.6; DESIGN.md section 6, invariants 3 and 4). The issuer is a TLS listener whose
 * certificate comes from a test CA handed to the identity service as idp_config.ca_file; it serves
 * /.well-known/openid-configuration and the jwks_uri named there. An application in a tenant has
 * federated credentials for that issuer; assertions signed by the issuer's key are exchanged for a
 * token with appidacr "2", and each way one can go wrong gets Entra's code: 700024 (lifetime),
 * 700027 (signature or key), 50166 (keys unreachable: listener stopped, certificate from an
 * untrusted CA, bad discovery), 700213 (subject), 700212 (audience), 700211 (issuer). An http://
 * issuer cannot be registered through Graph, and one put in the store directly is never fetched.
 */
#include "fixture.h"

#include "crypto/crypto.h"

#include <pthread.h>
#include <stdatomic.h>

#define VAULT_SCOPE "https://vault.azure.net/.default"
#define SUBJECT "system:serviceaccount:ns:sa"
#define KID "ext-k1"

/* An external issuer. Routes: /.well-known/openid-configuration and /keys, plus prefixes with
 * broken discovery documents (see issuer_handle). */
struct issuer {
    struct ck_httpd *h;
    char base[64]; /* "https://127.0.0.1:<port>" (http:// for the plain one) */
    _Atomic int hits;
};

static struct issuer main_iss, rogue_iss, doomed_iss, plain_iss;
static struct ck_pkey *iss_key, *other_key;
static char *jwks_doc; /* the JWKS of iss_key under KID, served by every issuer */
static struct tenant T;
static char admin_tok[8192];
static char app_oid[37], app_id[37], sp_id[37];

static void reply_json(struct ck_resp *resp, int status, const char *body)
{
    ck_resp_status(resp, status);
    ck_resp_body(resp, "application/json", body, strlen(body));
}

/* Runs on the listener's threads: it formats into its own buffer, not the fixture's P(). */
static void issuer_handle(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    struct issuer *is = ctx;
    const char *p = ck_req_path(req);
    char doc[256];
    atomic_fetch_add(&is->hits, 1);
    if (strcmp(p, "/keys") == 0) {
        reply_json(resp, 200, jwks_doc);
        return;
    }
    if (strcmp(p, "/.well-known/openid-configuration") == 0)
        snprintf(doc, sizeof(doc), "{\"issuer\":\"%s\",\"jwks_uri\":\"%s/keys\"}", is->base, is->base);
    else if (strncmp(p, "/broken/", 8) == 0)
        snprintf(doc, sizeof(doc), "{}");
    else if (strncmp(p, "/notjson/", 9) == 0)
        snprintf(doc, sizeof(doc), "jwks_uri");
    else if (strncmp(p, "/httpjwks/", 10) == 0) /* the JWKS over plain http */
        snprintf(doc, sizeof(doc), "{\"jwks_uri\":\"http%s/keys\"}", is->base + 5);
    else if (strncmp(p, "/nojwks/", 8) == 0)
        snprintf(doc, sizeof(doc), "{\"issuer\":\"%s/nojwks\"}", is->base);
    else if (strncmp(p, "/gone/.", 7) == 0) /* a jwks_uri that answers 404 */
        snprintf(doc, sizeof(doc), "{\"jwks_uri\":\"%s/gone/keys\"}", is->base);
    else {
        ck_resp_status(resp, 404);
        return;
    }
    reply_json(resp, strncmp(p, "/broken/", 8) == 0 ? 500 : 200, doc);
}

/* Starts an issuer: TLS with a certificate for 127.0.0.1 and localhost issued by the CA (ca_key,
 * ca_pem), or plain HTTP when ca_key is NULL. */
static void issuer_start(struct issuer *is, const struct ck_pkey *ca_key, const char *ca_pem)
{
    char *cert = NULL, *chain = NULL;
    struct ck_secret *key_pem = NULL;
    struct ck_httpd_config cfg = {.bind_addr = "127.0.0.1", .port = 0, .name = "ext-issuer"};
    const struct ck_mount m = {.name = "issuer", .handle = issuer_handle, .ctx = is};
    if (ca_key != NULL) {
        assert_int_equal(ck_x509_issue(ca_key, ca_pem, other_key, "127.0.0.1", "127.0.0.1,localhost", 2, &cert),
                         CK_OK);
        assert_int_equal(ck_pkey_private_pem(other_key, &key_pem), CK_OK);
        size_t n = strlen(cert) + strlen(ca_pem) + 1;
        chain = ck_malloc(n);
        snprintf(chain, n, "%s%s", cert, ca_pem);
        cfg.tls_cert_pem = chain;
        cfg.tls_key_pem = (const char *)ck_secret_ptr(key_pem);
    }
    assert_int_equal(ck_httpd_new(&cfg, &is->h), CK_OK);
    assert_int_equal(ck_httpd_mount(is->h, &m), CK_OK);
    snprintf(is->base, sizeof(is->base), "%s://127.0.0.1:%u", ca_key ? "https" : "http", ck_httpd_port(is->h));
    ck_free(chain);
    ck_free(cert);
    ck_secret_free(key_pem);
}

/* A self-signed CA; the certificate PEM is returned (caller frees). */
static char *make_ca(const char *cn, struct ck_pkey **key)
{
    char *pem = NULL;
    assert_int_equal(ck_pkey_rsa_generate(2048, key), CK_OK);
    assert_int_equal(ck_x509_self_signed(*key, cn, 1, 2, &pem), CK_OK);
    return pem;
}

static char *make_jwks(const struct ck_pkey *k, const char *kid)
{
    struct ck_bytes n = {0}, e = {0};
    assert_int_equal(ck_pkey_rsa_public(k, &n, &e), CK_OK);
    char *ns = ck_b64url_encode(n.ptr, n.len), *es = ck_b64url_encode(e.ptr, e.len);
    json_t *doc = json_pack("{s:[{s:s,s:s,s:s,s:s,s:s}]}", "keys", "kty", "RSA", "use", "sig", "kid", kid, "n", ns,
                            "e", es);
    char *s = ck_json_dump(doc);
    assert_non_null(s);
    json_decref(doc);
    ck_free(ns);
    ck_free(es);
    ck_free(n.ptr);
    ck_free(e.ptr);
    return s;
}

/* Restarts the identity service on the same data with ca_file trusted for outgoing HTTPS (only the
 * main listener: the managed-identity endpoint is not used here). */
static void restart_with_ca(const char *ca_file)
{
    struct ck_httpd_config hc = {.bind_addr = "127.0.0.1", .port = 0, .name = "idp-ext-test"};
    struct idp_config cfg = {.data_dir = F.dir, .mi_endpoint = F.mibase, .ca_file = ca_file,
                             .master_key = F.master, .operator_key = F.opk, .rp_key = F.rpk};
    fx_stop();
    assert_int_equal(ck_httpd_new(&hc, &F.main), CK_OK);
    snprintf(F.base, sizeof(F.base), "http://127.0.0.1:%u", ck_httpd_port(F.main));
    cfg.authority = F.base;
    assert_int_equal(idp_new(&cfg, &F.idp), CK_OK);
    assert_int_equal(idp_mount(F.idp, F.main), CK_OK);
}

static void make_fic(const char *name, const char *issuer)
{
    json_decref(fx_graph_ok("POST", P("/v1.0/applications/%s/federatedIdentityCredentials", app_oid), admin_tok,
                            P("{\"name\":\"%s\",\"issuer\":\"%s\",\"subject\":\"" SUBJECT "\","
                              "\"audiences\":[\"" FX_EXCHANGE "\"]}",
                              name, issuer),
                            201));
}

static int setup(void **state)
{
    struct ck_pkey *ca_key = NULL, *rogue_key = NULL;
    json_t *o;
    fx_setup(state);
    assert_int_equal(ck_pkey_rsa_generate(2048, &iss_key), CK_OK);
    assert_int_equal(ck_pkey_rsa_generate(2048, &other_key), CK_OK);
    jwks_doc = make_jwks(iss_key, KID);
    char *ca_pem = make_ca("crosskey external issuer test CA", &ca_key);
    char *rogue_pem = make_ca("crosskey untrusted CA", &rogue_key);
    char *ca_file = ck_path_join(F.dir, "issuer-ca.pem");
    assert_int_equal(ck_write_file_atomic(ca_file, ca_pem, strlen(ca_pem), 0644), 0);
    issuer_start(&main_iss, ca_key, ca_pem);
    issuer_start(&doomed_iss, ca_key, ca_pem);
    issuer_start(&rogue_iss, rogue_key, rogue_pem);
    issuer_start(&plain_iss, NULL, NULL);
    restart_with_ca(ca_file);
    ck_free(ca_file);
    ck_free(ca_pem);
    ck_free(rogue_pem);
    ck_pkey_free(ca_key);
    ck_pkey_free(rogue_key);

    fx_tenant("external", &T);
    char *t = fx_admin_token(&T, FX_GRAPH_AUD "/.default");
    fx_copy(admin_tok, sizeof(admin_tok), t);
    ck_free(t);
    o = fx_graph_ok("POST", "/v1.0/applications", admin_tok, "{\"displayName\":\"workload-app\"}", 201);
    fx_copy(app_oid, sizeof(app_oid), ck_json_str(o, "id"));
    fx_copy(app_id, sizeof(app_id), ck_json_str(o, "appId"));
    json_decref(o);
    o = fx_graph_ok("POST", "/v1.0/servicePrincipals", admin_tok, P("{\"appId\":\"%s\"}", app_id), 201);
    fx_copy(sp_id, sizeof(sp_id), ck_json_str(o, "id"));
    json_decref(o);
    make_fic("k8s", main_iss.base);
    make_fic("k8s-slash", P("%s/", main_iss.base));
    static const char *const prefixes[] = {"broken", "notjson", "httpjwks", "nojwks", "gone"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        make_fic(prefixes[i], P("%s/%s", main_iss.base, prefixes[i]));
    make_fic("doomed", doomed_iss.base);
    make_fic("rogue", rogue_iss.base);
    return 0;
}

static int teardown(void **state)
{
    struct issuer *all[] = {&main_iss, &rogue_iss, &doomed_iss, &plain_iss};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        ck_httpd_free(all[i]->h);
        all[i]->h = NULL;
    }
    free(jwks_doc);
    ck_pkey_free(iss_key);
    ck_pkey_free(other_key);
    return fx_teardown(state);
}

/* An assertion as a Kubernetes service account token would carry it (caller frees). */
static char *assertion(const struct ck_pkey *k, const char *kid, const char *iss, const char *sub, const char *aud,
                       int64_t nbf, int64_t exp)
{
    struct ck_secret *s = NULL;
    json_t *c = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "iss", iss, "sub", sub, "aud", aud, "iat",
                          (json_int_t)nbf, "nbf", (json_int_t)nbf, "exp", (json_int_t)exp, "jti", "jti-1");
    assert_non_null(c);
    assert_int_equal(ck_jwt_sign(k, kid, NULL, c, &s), CK_OK);
    json_decref(c);
    char *t = ck_strdup((const char *)ck_secret_ptr(s));
    ck_secret_free(s);
    return t;
}

/* A valid assertion for iss, signed by the issuer's key. */
static char *good(const char *iss)
{
    int64_t now = ck_time_now();
    return assertion(iss_key, KID, iss, SUBJECT, FX_EXCHANGE, now, now + 600);
}

/* Exchanges the assertion (consumed) at the tenant's token endpoint. */
static struct rsp exchange(char *a)
{
    struct rsp r = fx_token_form(T.tid, fx_assertion_form(app_id, VAULT_SCOPE, a));
    ck_free(a);
    return r;
}

/* Expects 401 invalid_client with code, and a description that names mention (NULL: unchecked). */
static void refused_why(char *a, int code, const char *mention)
{
    struct rsp r = exchange(a);
    fx_expect_aad(&r, 401, "invalid_client", code);
    if (mention != NULL && strstr(ck_json_str(r.json, "error_description"), mention) == NULL) {
        print_error("description does not say \"%s\"\n", mention);
        fx_show("got", &r);
        fail();
    }
    rsp_free(&r);
}

static void refused(char *a, int code)
{
    refused_why(a, code, NULL);
}

/* A.6 step 5: a v1 token of the application's service principal in the tenant, appidacr "2". */
static void check_ok(char *a)
{
    struct rsp r = exchange(a);
    fx_status(&r, 200);
    const char *tok = ck_json_str(r.json, "access_token");
    json_t *c = fx_claims(tok);
    assert_string_equal(ck_json_str(c, "iss"), P("https://sts.windows.net/%s/", T.tid));
    assert_string_equal(ck_json_str(c, "tid"), T.tid);
    assert_string_equal(ck_json_str(c, "oid"), sp_id);
    assert_string_equal(ck_json_str(c, "appid"), app_id);
    assert_string_equal(ck_json_str(c, "appidacr"), "2");
    assert_string_equal(ck_json_str(c, "aud"), "https://vault.azure.net");
    json_decref(c);
    struct ck_claims cl;
    assert_int_equal(fx_verify(T.tid, tok, &cl), CK_TF_NONE);
    assert_string_equal(cl.oid, sp_id);
    rsp_free(&r);
}

static void test_exchange(void **state)
{
    (void)state;
    int h0 = atomic_load(&main_iss.hits);
    check_ok(good(main_iss.base));
    /* Discovery, then the jwks_uri, over TLS verified with the configured CA. */
    assert_true(atomic_load(&main_iss.hits) >= h0 + 2);
    /* The exchange app's GUID stands for api://AzureADTokenExchange. */
    int64_t now = ck_time_now();
    check_ok(assertion(iss_key, KID, main_iss.base, SUBJECT, IDP_EXCHANGE_APP_ID, now, now + 600));
    /* An issuer with a trailing slash (its own credential): discovery lives below it without the slash. */
    check_ok(good(P("%s/", main_iss.base)));
    /* The same assertion twice while valid. */
    char *a = good(main_iss.base);
    check_ok(ck_strdup(a));
    check_ok(a);
}

static void test_lifetime(void **state)
{
    (void)state;
    int64_t now = ck_time_now();
    const char *iss = main_iss.base;
    refused(assertion(iss_key, KID, iss, SUBJECT, FX_EXCHANGE, now - 7200, now - 3600), 700024);
    /* Expired and signed by another key: the signature is judged first. */
    refused(assertion(other_key, KID, iss, SUBJECT, FX_EXCHANGE, now - 7200, now - 3600), 700027);
    refused(assertion(iss_key, KID, iss, SUBJECT, FX_EXCHANGE, now - 3600, now - CK_JWT_SKEW_SECONDS - 10), 700024);
    refused(assertion(iss_key, KID, iss, SUBJECT, FX_EXCHANGE, now + CK_JWT_SKEW_SECONDS + 10, now + 7200), 700024);
    /* Within the 5-minute skew on either side. */
    check_ok(assertion(iss_key, KID, iss, SUBJECT, FX_EXCHANGE, now - 3600, now - 60));
    check_ok(assertion(iss_key, KID, iss, SUBJECT, FX_EXCHANGE, now + 60, now + 600));
    /* The message carries the times (A.4). */
    struct rsp r = exchange(assertion(iss_key, KID, iss, SUBJECT, FX_EXCHANGE, now - 7200, now - 3600));
    fx_expect_aad(&r, 401, "invalid_client", 700024);
    assert_non_null(strstr(ck_json_str(r.json, "error_description"), "not within its valid time range"));
    rsp_free(&r);
}

static void test_signature(void **state)
{
    (void)state;
    int64_t now = ck_time_now();
    const char *iss = main_iss.base;
    /* Another key under the issuer's kid. */
    refused_why(assertion(other_key, KID, iss, SUBJECT, FX_EXCHANGE, now, now + 600), 700027,
                ck_token_fail_text(CK_TF_SIGNATURE));
    /* A kid the issuer does not publish, signed by its real key or another. */
    refused_why(assertion(iss_key, "ext-k2", iss, SUBJECT, FX_EXCHANGE, now, now + 600), 700027,
                ck_token_fail_text(CK_TF_KEY));
    refused_why(assertion(other_key, "ext-k2", iss, SUBJECT, FX_EXCHANGE, now, now + 600), 700027,
                ck_token_fail_text(CK_TF_KEY));
    /* Payload changed after signing (a later expiry), and the signature cut off. */
    char *a = good(iss);
    json_t *c = fx_claims(a);
    json_object_set_new(c, "exp", json_integer(now + 86400 * 365));
    char *pj = ck_json_dump(c);
    char *pb = fx_b64json(pj);
    const char *d1 = strchr(a, '.'), *d2 = strrchr(a, '.');
    refused_why(ck_strdup(P("%.*s.%s%s", (int)(d1 - a), a, pb, d2)), 700027, ck_token_fail_text(CK_TF_SIGNATURE));
    refused_why(ck_strdup(P("%.*s.", (int)(d2 - a), a)), 700027, ck_token_fail_text(CK_TF_SIGNATURE));
    free(pj);
    ck_free(pb);
    json_decref(c);
    /* HS256 "signed" with the issuer's modulus: refused for its algorithm. */
    struct ck_bytes n = {0}, e = {0};
    assert_int_equal(ck_pkey_rsa_public(iss_key, &n, &e), CK_OK);
    char *hb = fx_b64json("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"" KID "\"}");
    char *input = ck_strdup(P("%s%.*s", hb, (int)(d2 - d1), d1));
    uint8_t mac[CK_SHA256_LEN];
    assert_int_equal(ck_hmac_sha256(n.ptr, n.len, input, strlen(input), mac), CK_OK);
    char *sb = ck_b64url_encode(mac, sizeof(mac));
    fx_aad(exchange(ck_strdup(P("%s.%s", input, sb))), 401, "invalid_client", 5002738);
    ck_free(sb);
    ck_free(input);
    ck_free(hb);
    ck_free(n.ptr);
    ck_free(e.ptr);
    ck_free(a);
}

/* The issuer's keys cannot be had: 50166. */
static void test_keys_unreachable(void **state)
{
    (void)state;
    static const char *const prefixes[] = {"broken", "notjson", "httpjwks", "nojwks", "gone"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        refused(good(P("%s/%s", main_iss.base, prefixes[i])), 50166);
    /* A certificate from a CA the service does not trust: the handshake fails, no request lands. */
    refused(good(rogue_iss.base), 50166);
    assert_int_equal(atomic_load(&rogue_iss.hits), 0);
    /* An issuer that worked, then went away. */
    check_ok(good(doomed_iss.base));
    ck_httpd_free(doomed_iss.h);
    doomed_iss.h = NULL;
    struct rsp r = exchange(good(doomed_iss.base));
    fx_expect_aad(&r, 401, "invalid_client", 50166);
    assert_non_null(strstr(ck_json_str(r.json, "error_description"), doomed_iss.base));
    rsp_free(&r);
}

/* Invariant 4 for external issuers: exact issuer, subject and audience. */
static void test_credential_match(void **state)
{
    (void)state;
    int64_t now = ck_time_now();
    const char *iss = main_iss.base;
    refused(assertion(iss_key, KID, iss, "system:serviceaccount:ns:other", FX_EXCHANGE, now, now + 600), 700213);
    refused(assertion(iss_key, KID, iss, "system:serviceaccount:NS:sa", FX_EXCHANGE, now, now + 600), 700213);
    refused(assertion(iss_key, KID, iss, SUBJECT, "api://azureadtokenexchange", now, now + 600), 700212);
    refused(assertion(iss_key, KID, iss, SUBJECT, "https://vault.azure.net", now, now + 600), 700212);
    /* An issuer without a credential is not fetched at all. */
    int h0 = atomic_load(&main_iss.hits);
    refused(good(P("%s/unregistered", iss)), 700211);
    refused(good(P("https://localhost:%u", ck_httpd_port(main_iss.h))), 700211);
    assert_int_equal(atomic_load(&main_iss.hits), h0);
}

/* Only https issuers: Graph refuses an http one, and one written to the store is never fetched. */
static void test_http_issuer(void **state)
{
    (void)state;
    fx_gr(fx_graph("POST", P("/v1.0/applications/%s/federatedIdentityCredentials", app_oid), admin_tok,
                   P("{\"name\":\"plain\",\"issuer\":\"%s\",\"subject\":\"" SUBJECT "\",\"audiences\":[\"" FX_EXCHANGE
                     "\"]}",
                     plain_iss.base)),
          400, "Request_BadRequest");
    char id[37];
    assert_int_equal(ck_uuid_new(id), 0);
    const char *p[7] = {id, app_oid, "plain", plain_iss.base, SUBJECT, "[\"" FX_EXCHANGE "\"]", NULL};
    ck_db_lock(F.idp->db);
    int rc = ck_db_run(F.idp->db,
                       "INSERT INTO fics (id, app_object_id, name, issuer, subject, audiences, description)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                       7, p);
    ck_db_unlock(F.idp->db);
    assert_int_equal(rc, CK_OK);
    struct rsp r = exchange(good(plain_iss.base));
    fx_status(&r, 401);
    assert_string_equal(ck_json_str(r.json, "error"), "invalid_client");
    rsp_free(&r);
    assert_int_equal(atomic_load(&plain_iss.hits), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exchange),         cmocka_unit_test(test_lifetime),
        cmocka_unit_test(test_signature),        cmocka_unit_test(test_keys_unreachable),
        cmocka_unit_test(test_credential_match), cmocka_unit_test(test_http_issuer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
