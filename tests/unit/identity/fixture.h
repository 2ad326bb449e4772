/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_TEST_IDENTITY_FIXTURE_H
#define CK_TEST_IDENTITY_FIXTURE_H

/*
 * Shared fixture for the identity service tests: a temporary data directory, an identity service
 * with a random master key, a plain-HTTP main listener and a managed-identity listener on
 * 127.0.0.1 (ephemeral ports), and helpers that drive them over HTTP with the real client and
 * check the three error shapes (Entra token endpoint A.4, Graph C.8, ARM envelope). Each test file
 * includes this header once; helpers a file does not use are marked unused.
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
#include "core/timeutil.h"
#include "crypto/random.h"
#include "http/client/httpc.h"
#include "services/identity/idp_int.h"
#include "../common/tf_http.h"

#define FX_UNUSED __attribute__((unused))
#define FX_OP_KEY "b3BlcmF0b3Ita2V5LWZvci1pZGVudGl0eS10ZXN0czAx"
#define FX_RP_KEY "cnAta2V5LWZvci1pZGVudGl0eS10ZXN0cy0wMTIzNDU2"
#define FX_FORM "Content-Type: application/x-www-form-urlencoded;charset=utf-8"
#define FX_JSON "Content-Type: application/json"
#define FX_GRAPH_AUD "https://graph.microsoft.com"
#define FX_EXCHANGE "api://AzureADTokenExchange"
#define FX_JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

struct fx {
    char dir[256];
    struct ck_secret *master;
    struct ck_secret *opk;
    struct ck_secret *rpk;
    struct idp *idp;
    struct ck_httpd *main;
    struct ck_httpd *mi;
    char base[64];
    char mibase[64];
};

static struct fx F;

/* A tenant as the operator API returns it. */
struct tenant {
    char tid[37];
    char client_id[37];
    char secret[128];
    char sp[37];
};

/* A user-assigned identity as the resource provider returns it. */
struct uami {
    char id[512];
    char principal[37];
    char client[37];
};

/* struct rsp, rsp_free, the live-response list, the HTTP request and P() are shared. */
#define fx_http tf_http
#define fx_live_release tf_live_release

/* Starts the identity service and both listeners on F.dir with the given master key. Returns the
 * idp_new result; on failure nothing is left running. */
static FX_UNUSED int fx_start(const struct ck_secret *master)
{
    struct ck_httpd_config hc = {.bind_addr = "127.0.0.1", .port = 0, .name = "idp-test"};
    struct ck_httpd_config mc = {.bind_addr = "127.0.0.1", .port = 0, .name = "idp-test-mi"};
    struct idp_config cfg = {0};
    int rc;
    assert_int_equal(ck_httpd_new(&hc, &F.main), CK_OK);
    assert_int_equal(ck_httpd_new(&mc, &F.mi), CK_OK);
    snprintf(F.base, sizeof(F.base), "http://127.0.0.1:%u", ck_httpd_port(F.main));
    snprintf(F.mibase, sizeof(F.mibase), "http://127.0.0.1:%u", ck_httpd_port(F.mi));
    cfg.data_dir = F.dir;
    cfg.authority = F.base;
    cfg.mi_endpoint = F.mibase;
    cfg.master_key = master;
    cfg.operator_key = F.opk;
    cfg.rp_key = F.rpk;
    F.idp = NULL;
    rc = idp_new(&cfg, &F.idp);
    if (rc != CK_OK) {
        ck_httpd_free(F.main);
        ck_httpd_free(F.mi);
        F.main = F.mi = NULL;
        return rc;
    }
    assert_int_equal(idp_mount(F.idp, F.main), CK_OK);
    assert_int_equal(idp_mount_mi(F.idp, F.mi), CK_OK);
    return CK_OK;
}

static FX_UNUSED void fx_stop(void)
{
    ck_httpd_free(F.main);
    ck_httpd_free(F.mi);
    idp_free(F.idp);
    F.main = F.mi = NULL;
    F.idp = NULL;
}

static FX_UNUSED int fx_setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof(F));
    assert_int_equal(ck_httpc_global_init(), CK_OK);
    snprintf(F.dir, sizeof(F.dir), "/tmp/ck-idp-test-XXXXXX");
    assert_non_null(mkdtemp(F.dir));
    assert_int_equal(ck_rand_secret(CK_SEAL_KEY_LEN, &F.master), CK_OK);
    /* The services compare the presented header text with the key's NUL-terminated text. */
    F.opk = ck_secret_from(FX_OP_KEY, sizeof(FX_OP_KEY));
    F.rpk = ck_secret_from(FX_RP_KEY, sizeof(FX_RP_KEY));
    assert_non_null(F.opk);
    assert_non_null(F.rpk);
    assert_int_equal(fx_start(F.master), CK_OK);
    return 0;
}

static FX_UNUSED int fx_teardown(void **state)
{
    char cmd[300];
    (void)state;
    fx_live_release();
    fx_stop();
    ck_secret_free(F.master);
    ck_secret_free(F.opk);
    ck_secret_free(F.rpk);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.dir);
    if (system(cmd) != 0)
        return 0;
    return 0;
}

/* ---- HTTP ---- */

static char fx_urlbuf[4][8192];
static int fx_urlidx;

static FX_UNUSED const char *fx_url(const char *base, const char *path)
{
    char *b = fx_urlbuf[fx_urlidx++ % 4];
    snprintf(b, sizeof(fx_urlbuf[0]), "%s%s", base, path);
    return b;
}

/* Operator API call; key NULL sends no Authorization header. */
static FX_UNUSED struct rsp fx_op_key(const char *method, const char *path, const char *key, const char *body)
{
    char auth[256];
    const char *h[3] = {NULL, NULL, NULL};
    int n = 0;
    if (key != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Operator %s", key);
        h[n++] = auth;
    }
    if (body != NULL)
        h[n++] = FX_JSON;
    return fx_http(method, fx_url(F.base, path), h, body, body ? strlen(body) : 0);
}

static FX_UNUSED struct rsp fx_op(const char *method, const char *path, const char *body)
{
    return fx_op_key(method, path, FX_OP_KEY, body);
}

/* Graph call with a bearer token (NULL: no Authorization header). */
static FX_UNUSED struct rsp fx_graph(const char *method, const char *path, const char *token, const char *body)
{
    char *auth = NULL;
    const char *h[3] = {NULL, NULL, NULL};
    int n = 0;
    if (token != NULL) {
        size_t l = strlen(token) + 32;
        auth = ck_malloc(l);
        assert_non_null(auth);
        snprintf(auth, l, "Authorization: Bearer %s", token);
        h[n++] = auth;
    }
    if (body != NULL)
        h[n++] = FX_JSON;
    struct rsp r = fx_http(method, fx_url(F.base, path), h, body, body ? strlen(body) : 0);
    ck_free(auth);
    return r;
}

/* POST /{tid}/oauth2/v2.0/token with a form body. */
static FX_UNUSED struct rsp fx_token_raw(const char *tid, const char *ctype_line, const char *form, size_t len)
{
    const char *h[2] = {ctype_line, NULL};
    return fx_http("POST", fx_url(F.base, P("/%s/oauth2/v2.0/token", tid)), ctype_line ? h : NULL, form, len);
}

static FX_UNUSED struct rsp fx_token_form(const char *tid, const char *form)
{
    return fx_token_raw(tid, FX_FORM, form, strlen(form));
}

/* ---- error shapes ---- */

static FX_UNUSED void fx_show(const char *what, const struct rsp *r)
{
    print_error("%s: HTTP %ld %s\n", what, r->status, r->body ? r->body : "");
}

/* Entra token-endpoint error (wire reference A.4): status, "error", error_codes [code], and a
 * description that starts with "AADSTS<code>: " and carries Trace ID, Correlation ID, Timestamp. */
static FX_UNUSED void fx_expect_aad(const struct rsp *r, long status, const char *error, int code)
{
    char prefix[32];
    json_t *codes = ck_json_arr(r->json, "error_codes");
    const char *desc = ck_json_str(r->json, "error_description");
    const char *err = ck_json_str(r->json, "error");
    snprintf(prefix, sizeof(prefix), "AADSTS%d: ", code);
    if (r->status != status || err == NULL || strcmp(err, error) != 0 || codes == NULL || json_array_size(codes) != 1 ||
        json_integer_value(json_array_get(codes, 0)) != code || desc == NULL ||
        strncmp(desc, prefix, strlen(prefix)) != 0) {
        print_error("want %ld %s AADSTS%d\n", status, error, code);
        fx_show("got", r);
        fail();
    }
    assert_non_null(strstr(desc, "\r\nTrace ID: "));
    assert_non_null(strstr(desc, "\r\nCorrelation ID: "));
    assert_non_null(strstr(desc, "\r\nTimestamp: "));
    assert_non_null(ck_json_str(r->json, "timestamp"));
    assert_non_null(ck_json_str(r->json, "trace_id"));
    assert_non_null(ck_json_str(r->json, "correlation_id"));
    assert_string_equal(ck_json_str(r->json, "error_uri"), P("https://login.microsoftonline.com/error?code=%d", code));
}

/* {"error":{"code":...,"message":...}} (Graph adds innerError, checked by fx_expect_graph). */
static FX_UNUSED void fx_expect_envelope(const struct rsp *r, long status, const char *code)
{
    json_t *e = ck_json_obj(r->json, "error");
    const char *c = ck_json_str(e, "code");
    if (r->status != status || c == NULL || strcmp(c, code) != 0 || ck_json_str(e, "message") == NULL) {
        print_error("want %ld %s\n", status, code);
        fx_show("got", r);
        fail();
    }
}

static FX_UNUSED void fx_expect_graph(const struct rsp *r, long status, const char *code)
{
    fx_expect_envelope(r, status, code);
    json_t *inner = ck_json_obj(ck_json_obj(r->json, "error"), "innerError");
    assert_non_null(inner);
    assert_non_null(ck_json_str(inner, "date"));
    assert_non_null(ck_json_str(inner, "request-id"));
}

/* Consumes r after checking it. */
static FX_UNUSED void fx_aad(struct rsp r, long status, const char *error, int code)
{
    fx_expect_aad(&r, status, error, code);
    rsp_free(&r);
}

static FX_UNUSED void fx_arm(struct rsp r, long status, const char *code)
{
    fx_expect_envelope(&r, status, code);
    rsp_free(&r);
}

static FX_UNUSED void fx_gr(struct rsp r, long status, const char *code)
{
    fx_expect_graph(&r, status, code);
    rsp_free(&r);
}

static FX_UNUSED void fx_status(const struct rsp *r, long status)
{
    if (r->status != status) {
        print_error("want HTTP %ld\n", status);
        fx_show("got", r);
        fail();
    }
}

/* A Graph call that must answer status; returns the JSON body (caller decrefs; NULL if none). */
static FX_UNUSED json_t *fx_graph_ok(const char *method, const char *path, const char *token, const char *body,
                                     long status)
{
    struct rsp r = fx_graph(method, path, token, body);
    fx_status(&r, status);
    json_t *o = r.json;
    r.json = NULL;
    rsp_free(&r);
    return o;
}

/* {"displayName":"big"} padded with spaces to n bytes (caller frees). */
static FX_UNUSED char *fx_big_json(size_t n)
{
    static const char head[] = "{\"displayName\":\"big\"";
    char *big = ck_malloc(n + 1);
    assert_non_null(big);
    assert_true(n > sizeof(head));
    memset(big, ' ', n);
    memcpy(big, head, sizeof(head) - 1);
    big[n - 1] = '}';
    big[n] = '\0';
    return big;
}

/* ---- objects ---- */

static FX_UNUSED void fx_copy(char *dst, size_t cap, const char *src)
{
    assert_non_null(src);
    assert_true(strlen(src) < cap);
    memcpy(dst, src, strlen(src) + 1);
}

static FX_UNUSED void fx_tenant(const char *name, struct tenant *t)
{
    struct rsp r = fx_op("POST", "/operator/identity/tenants", P("{\"displayName\":\"%s\"}", name));
    fx_status(&r, 201);
    fx_copy(t->tid, sizeof(t->tid), ck_json_str(r.json, "tenantId"));
    fx_copy(t->client_id, sizeof(t->client_id), ck_json_str(r.json, "clientId"));
    fx_copy(t->secret, sizeof(t->secret), ck_json_str(r.json, "clientSecret"));
    fx_copy(t->sp, sizeof(t->sp), ck_json_str(r.json, "servicePrincipalId"));
    assert_string_equal(ck_json_str(r.json, "displayName"), name);
    assert_true(ck_uuid_valid(t->tid));
    assert_true(ck_uuid_valid(t->client_id));
    assert_true(ck_uuid_valid(t->sp));
    rsp_free(&r);
}

/* Form-encodes one value into a static buffer. */
static FX_UNUSED const char *fx_enc(const char *v)
{
    static char bufs[4][8192];
    static int idx;
    char *e = ck_url_encode(v);
    char *b = bufs[idx++ % 4];
    assert_non_null(e);
    fx_copy(b, sizeof(bufs[0]), e);
    ck_free(e);
    return b;
}

/* Client-credentials with a secret; returns the access token (caller frees) or fails. */
static FX_UNUSED char *fx_get_token(const char *tid, const char *client_id, const char *secret, const char *scope)
{
    char form[2048];
    snprintf(form, sizeof(form), "grant_type=client_credentials&client_id=%s&scope=%s&client_secret=%s", client_id,
             fx_enc(scope), fx_enc(secret));
    struct rsp r = fx_token_form(tid, form);
    fx_status(&r, 200);
    char *tok = ck_strdup(ck_json_str(r.json, "access_token"));
    assert_non_null(tok);
    rsp_free(&r);
    return tok;
}

static FX_UNUSED char *fx_admin_token(const struct tenant *t, const char *scope)
{
    return fx_get_token(t->tid, t->client_id, t->secret, scope);
}

/* Form for a client-assertion exchange. */
static FX_UNUSED const char *fx_assertion_form(const char *client_id, const char *scope, const char *assertion)
{
    return P("grant_type=client_credentials&client_id=%s&scope=%s&client_assertion_type=%s&client_assertion=%s",
             client_id, fx_enc(scope), fx_enc(FX_JWT_BEARER), assertion);
}

static FX_UNUSED const char *fx_uami_path(const char *sub, const char *rg, const char *name)
{
    return P("/rp/identity/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ManagedIdentity/"
             "userAssignedIdentities/%s?api-version=2024-11-30",
             sub, rg, name);
}

/* The resource-provider call ARM makes (docs/internal-api.md); home may be NULL. */
static FX_UNUSED struct rsp fx_rp(const char *method, const char *path, const char *home, const char *body)
{
    char hh[128];
    const char *h[4] = {"Authorization: RP " FX_RP_KEY, NULL, NULL, NULL};
    int n = 1;
    if (home != NULL) {
        snprintf(hh, sizeof(hh), "x-ms-home-tenant-id: %s", home);
        h[n++] = hh;
    }
    if (body != NULL)
        h[n++] = FX_JSON;
    return fx_http(method, fx_url(F.base, path), h, body, body ? strlen(body) : 0);
}

static FX_UNUSED void fx_uami(const char *tid, const char *sub, const char *rg, const char *name, struct uami *u)
{
    struct rsp r = fx_rp("PUT", fx_uami_path(sub, rg, name), tid, "{\"location\":\"westeurope\"}");
    fx_status(&r, 201);
    json_t *props = ck_json_obj(r.json, "properties");
    fx_copy(u->id, sizeof(u->id), ck_json_str(r.json, "id"));
    fx_copy(u->principal, sizeof(u->principal), ck_json_str(props, "principalId"));
    fx_copy(u->client, sizeof(u->client), ck_json_str(props, "clientId"));
    assert_string_equal(ck_json_str(props, "tenantId"), tid);
    assert_string_equal(ck_json_str(r.json, "type"), "Microsoft.ManagedIdentity/userAssignedIdentities");
    rsp_free(&r);
}

/* Registers a workload for n identities; header receives the identity header. */
static FX_UNUSED void fx_workload(const struct uami *const *ids, int n, char *header, size_t cap)
{
    char body[4096];
    size_t o = 0;
    o += (size_t)snprintf(body + o, sizeof(body) - o, "{\"identities\":[");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(body + o, sizeof(body) - o, "%s\"%s\"", i ? "," : "", ids[i]->id);
    snprintf(body + o, sizeof(body) - o, "]}");
    struct rsp r = fx_op("POST", "/operator/identity/workloads", body);
    fx_status(&r, 201);
    fx_copy(header, cap, ck_json_str(r.json, "identityHeader"));
    assert_string_equal(ck_json_str(r.json, "identityEndpoint"), P("%s/msi/token", F.mibase));
    assert_true(ck_uuid_valid(ck_json_str(r.json, "workloadId")));
    rsp_free(&r);
}

/* App Service protocol: GET /msi/token?api-version=2019-08-01&{query} with X-IDENTITY-HEADER. */
static FX_UNUSED struct rsp fx_mi_appservice(const char *header, const char *query)
{
    char hh[256];
    const char *h[2] = {NULL, NULL};
    if (header != NULL) {
        snprintf(hh, sizeof(hh), "X-IDENTITY-HEADER: %s", header);
        h[0] = hh;
    }
    return fx_http("GET", fx_url(F.mibase, P("/msi/token?api-version=2019-08-01&%s", query)), h, NULL, 0);
}

/* IMDS protocol through the workload path: GET /w/{header}/metadata/identity/oauth2/token/?... */
static FX_UNUSED struct rsp fx_mi_imds(const char *header, const char *query, int metadata)
{
    const char *h[2] = {metadata ? "Metadata: true" : NULL, NULL};
    return fx_http("GET",
                   fx_url(F.mibase, P("/w/%s/metadata/identity/oauth2/token/?api-version=2018-02-01&%s", header, query)),
                   h, NULL, 0);
}

/* Asks the MI endpoint (App Service protocol) for a token; returns it (caller frees). */
static FX_UNUSED char *fx_mi_token(const char *header, const char *client_id, const char *resource)
{
    struct rsp r = fx_mi_appservice(header, P("resource=%s&client_id=%s", fx_enc(resource), client_id));
    fx_status(&r, 200);
    char *tok = ck_strdup(ck_json_str(r.json, "access_token"));
    assert_non_null(tok);
    rsp_free(&r);
    return tok;
}

/* ---- tokens ---- */

/* Decodes a token's payload without verifying it (caller decrefs). */
static FX_UNUSED json_t *fx_claims(const char *tok)
{
    json_t *h = NULL, *p = NULL;
    assert_int_equal(ck_jwt_decode_unverified(tok, &h, &p), CK_OK);
    json_decref(h);
    return p;
}

static FX_UNUSED json_t *fx_header(const char *tok)
{
    json_t *h = NULL, *p = NULL;
    assert_int_equal(ck_jwt_decode_unverified(tok, &h, &p), CK_OK);
    json_decref(p);
    return h;
}

/* A verifier that knows only the keys the tenant's JWKS endpoint publishes (rebuilt from n, e). */
static FX_UNUSED struct ck_verifier *fx_jwks_verifier(const char *tid, int *nkeys)
{
    struct ck_verifier_config vc = {0};
    struct ck_verifier *v = NULL;
    size_t i;
    json_t *k;
    int n = 0;
    assert_int_equal(ck_verifier_new(&vc, &v), CK_OK);
    struct rsp r = fx_http("GET", fx_url(F.base, P("/%s/discovery/v2.0/keys", tid)), NULL, NULL, 0);
    fx_status(&r, 200);
    json_array_foreach(ck_json_arr(r.json, "keys"), i, k) {
        const char *ns = ck_json_str(k, "n"), *es = ck_json_str(k, "e"), *kid = ck_json_str(k, "kid");
        uint8_t *nb = NULL, *eb = NULL;
        size_t nl = 0, el = 0;
        struct ck_pkey *key = NULL;
        assert_string_equal(ck_json_str(k, "kty"), "RSA");
        assert_string_equal(ck_json_str(k, "use"), "sig");
        assert_non_null(kid);
        assert_int_equal(ck_b64url_decode(ns, strlen(ns), &nb, &nl), 0);
        assert_int_equal(ck_b64url_decode(es, strlen(es), &eb, &el), 0);
        assert_int_equal(ck_pkey_rsa_from_public(nb, nl, eb, el, &key), CK_OK);
        assert_int_equal(ck_verifier_add_key(v, tid, kid, key), CK_OK);
        ck_pkey_free(key);
        ck_free(nb);
        ck_free(eb);
        n++;
    }
    rsp_free(&r);
    if (nkeys != NULL)
        *nkeys = n;
    return v;
}

/* Verifies tok with the tenant's published keys (no audience check). */
static FX_UNUSED enum ck_token_fail fx_verify(const char *tid, const char *tok, struct ck_claims *c)
{
    struct ck_verifier *v = fx_jwks_verifier(tid, NULL);
    struct ck_claims tmp;
    enum ck_token_fail why = ck_verify_token(v, tok, NULL, tid, c ? c : &tmp);
    ck_verifier_free(v);
    return why;
}

/* Signs crafted claims with the tenant's own signing key (through the internal API). */
static FX_UNUSED char *fx_sign(const char *tid, json_t *claims)
{
    struct ck_secret *t = NULL;
    assert_non_null(claims);
    assert_int_equal(idp_sign(F.idp, tid, claims, &t), CK_OK);
    char *s = ck_strdup((const char *)ck_secret_ptr(t));
    ck_secret_free(t);
    json_decref(claims);
    return s;
}

/* base64url(JSON of v), caller frees. */
static FX_UNUSED char *fx_b64json(const char *json)
{
    char *s = ck_b64url_encode((const uint8_t *)json, strlen(json));
    assert_non_null(s);
    return s;
}

#endif
