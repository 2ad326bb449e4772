/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End-to-end unit tests of the ARM service over a real (plain HTTP) listener: bearer
 * authentication and its 401 codes (wire reference C.1), api-version, subscriptions, resource
 * groups, providers, features, role assignments and definitions (C.6), RBAC enforcement,
 * resource-provider forwarding with a fake provider mounted on the same listener, the operator
 * API and check-access (docs/internal-api.md), and that rejected requests change no state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authz/jwt.h"
#include "core/codec.h"
#include "core/fsutil.h"
#include "core/timeutil.h"
#include "http/client/httpc.h"
#include "services/arm/arm_int.h"

#define TENANT_A "aaaaaaaa-0000-4000-8000-000000000001"
#define TENANT_B "bbbbbbbb-0000-4000-8000-000000000002"
#define OWNER_A "0a0a0a0a-1111-4111-8111-000000000001"
#define OWNER_B "0b0b0b0b-1111-4111-8111-000000000002"
#define USER_A "0c0c0c0c-1111-4111-8111-000000000003"
#define OP_KEY "operator-key-for-tests-0123456789abcdefghij"
#define RP_KEY "rp-key-for-tests-0123456789abcdefghijklmnop"
#define ARM_AUD "https://management.azure.com/"
#define READER_ROLE "acdd72a7-3385-48ef-bd42-f606fba81ae7"
#define OWNER_ROLE "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"

/* ---- the fake resource provider ---- */

struct fake_rp {
    pthread_mutex_t lock;
    int calls;
    char method[16];
    char path[512];
    char auth[128];
    char principal[64];
    char home_tenant[64];
    int deletes;
};

static struct fake_rp rp = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int fake_match(void *ctx, const char *path)
{
    (void)ctx;
    return strncmp(path, "/rp/fake/", 9) == 0;
}

static void fake_handle(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    const char *h;
    size_t len = 0;
    const char *body = ck_req_body(req, &len);
    (void)ctx;
    pthread_mutex_lock(&rp.lock);
    rp.calls++;
    snprintf(rp.method, sizeof(rp.method), "%s", ck_req_method(req));
    snprintf(rp.path, sizeof(rp.path), "%s", ck_req_path(req));
    h = ck_req_header(req, "Authorization");
    snprintf(rp.auth, sizeof(rp.auth), "%s", h ? h : "");
    h = ck_req_header(req, "x-ms-client-principal-id");
    snprintf(rp.principal, sizeof(rp.principal), "%s", h ? h : "");
    h = ck_req_header(req, "x-ms-home-tenant-id");
    snprintf(rp.home_tenant, sizeof(rp.home_tenant), "%s", h ? h : "");
    if (strcmp(ck_req_method(req), "DELETE") == 0)
        rp.deletes++;
    pthread_mutex_unlock(&rp.lock);
    if (strcmp(ck_req_method(req), "PUT") == 0) {
        ck_resp_status(resp, 201);
        ck_resp_header(resp, "Location", "http://example.invalid/op/1");
        ck_resp_body(resp, "application/json; charset=utf-8", body ? body : "{}", body ? len : 2);
        return;
    }
    ck_resp_body(resp, "application/json; charset=utf-8", "{\"fake\":true}", 13);
    ck_resp_status(resp, 200);
}

/* ---- fixture ---- */

static struct ck_httpd *httpd;
static struct arm *arm;
static struct ck_pkey *key_a, *key_b;
static char data_dir[256];
static char sub_a[64], sub_b[64];
static char tok_owner_a[8192], tok_owner_b[8192], tok_user_a[8192];

static void mint(struct ck_pkey *k, const char *tid, const char *oid, const char *aud, int64_t exp_delta, char *out,
                 size_t cap)
{
    char iss[128];
    int64_t now = ck_time_now();
    struct ck_secret *t = NULL;
    snprintf(iss, sizeof(iss), "https://sts.windows.net/%s/", tid);
    json_t *c = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:s}", "iss", iss, "tid", tid, "oid", oid, "appid",
                          "11111111-2222-4333-8444-555555555555", "aud", aud, "iat", (json_int_t)now, "nbf",
                          (json_int_t)now - 10, "exp", (json_int_t)(now + exp_delta), "ver", "1.0", "idtyp", "app");
    assert_non_null(c);
    assert_int_equal(ck_jwt_sign(k, "k1", NULL, c, &t), CK_OK);
    snprintf(out, cap, "%s", (const char *)ck_secret_ptr(t));
    ck_secret_free(t);
    json_decref(c);
}

struct reply {
    long status;
    json_t *json;
    char *www;
    char *location;
};

static void reply_free(struct reply *r)
{
    json_decref(r->json);
    ck_free(r->www);
    ck_free(r->location);
    memset(r, 0, sizeof(*r));
}

/* Calls the listener: auth is a bearer token, NULL for none, or a full header value when it has
 * a space. */
static struct reply call(const char *method, const char *path, const char *auth, const char *body)
{
    struct ck_httpc_req req = {0};
    struct ck_httpc_resp resp;
    struct reply r = {0};
    char url[2048], ah[9000];
    int h = 0;
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", ck_httpd_port(httpd), path);
    req.method = method;
    req.url = url;
    if (auth != NULL) {
        if (strchr(auth, ' ') != NULL)
            snprintf(ah, sizeof(ah), "Authorization: %s", auth);
        else
            snprintf(ah, sizeof(ah), "Authorization: Bearer %s", auth);
        req.headers[h++] = ah;
    }
    if (body != NULL) {
        req.headers[h++] = "Content-Type: application/json";
        req.body = body;
        req.body_len = strlen(body);
    }
    req.headers[h] = NULL;
    assert_int_equal(ck_httpc_do(&req, &resp), CK_OK);
    r.status = resp.status;
    if (resp.body.len > 0)
        r.json = ck_json_parse(resp.body.data, resp.body.len, NULL, 0);
    r.www = ck_httpc_resp_header(&resp, "WWW-Authenticate");
    r.location = ck_httpc_resp_header(&resp, "Location");
    ck_httpc_resp_cleanup(&resp);
    return r;
}

static const char *err_code(const struct reply *r)
{
    return ck_json_str(ck_json_obj(r->json, "error"), "code");
}

static void expect(const char *method, const char *path, const char *auth, const char *body, long status,
                   const char *code)
{
    struct reply r = call(method, path, auth, body);
    if (r.status != status || (code != NULL && (err_code(&r) == NULL || strcmp(err_code(&r), code) != 0))) {
        char *d = r.json ? ck_json_dump(r.json) : NULL;
        print_error("%s %s -> %ld %s (want %ld %s)\n", method, path, r.status, d ? d : "", status, code ? code : "");
        free(d);
        fail();
    }
    reply_free(&r);
}

static void create_sub(const char *tenant, const char *owner, char *out)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"tenantId\":\"%s\",\"displayName\":\"test\",\"ownerPrincipalId\":\"%s\"}", tenant,
             owner);
    struct reply r = call("POST", "/operator/arm/subscriptions", "Operator " OP_KEY, body);
    assert_int_equal(r.status, 201);
    snprintf(out, 64, "%s", ck_json_str(r.json, "subscriptionId"));
    assert_string_equal(ck_json_str(r.json, "tenantId"), tenant);
    reply_free(&r);
}

static int setup(void **state)
{
    struct ck_httpd_config hc = {.bind_addr = "127.0.0.1", .port = 0, .name = "test"};
    struct arm_config ac = {0};
    struct ck_secret *opk = ck_secret_from(OP_KEY, strlen(OP_KEY));
    struct ck_secret *rpk = ck_secret_from(RP_KEY, strlen(RP_KEY));
    char base[128];
    struct ck_mount fake = {.name = "fake", .match = fake_match, .handle = fake_handle};
    (void)state;
    assert_int_equal(ck_httpc_global_init(), CK_OK);
    snprintf(data_dir, sizeof(data_dir), "/tmp/ck-arm-test-XXXXXX");
    assert_non_null(mkdtemp(data_dir));
    assert_int_equal(ck_httpd_new(&hc, &httpd), CK_OK);
    snprintf(base, sizeof(base), "http://127.0.0.1:%u/rp/fake", ck_httpd_port(httpd));
    ac.data_dir = data_dir;
    ac.endpoint = "https://localhost:8443";
    ac.authority = "https://localhost:8443";
    ac.operator_key = opk;
    ac.rp_key = rpk;
    ac.rps[0].ns = "Microsoft.ManagedIdentity";
    ac.rps[0].base_url = base;
    ac.nrps = 1;
    assert_int_equal(arm_new(&ac, &arm), CK_OK);
    ck_secret_free(opk);
    ck_secret_free(rpk);
    assert_int_equal(arm_mount(arm, httpd), CK_OK);
    assert_int_equal(ck_httpd_mount(httpd, &fake), CK_OK);
    assert_int_equal(ck_pkey_rsa_generate(2048, &key_a), CK_OK);
    assert_int_equal(ck_pkey_rsa_generate(2048, &key_b), CK_OK);
    assert_int_equal(ck_verifier_add_key(arm_verifier(arm), TENANT_A, "k1", key_a), CK_OK);
    assert_int_equal(ck_verifier_add_key(arm_verifier(arm), TENANT_B, "k1", key_b), CK_OK);
    mint(key_a, TENANT_A, OWNER_A, ARM_AUD, 3600, tok_owner_a, sizeof(tok_owner_a));
    mint(key_b, TENANT_B, OWNER_B, "https://management.azure.com", 3600, tok_owner_b, sizeof(tok_owner_b));
    mint(key_a, TENANT_A, USER_A, "https://localhost:8443/", 3600, tok_user_a, sizeof(tok_user_a));
    create_sub(TENANT_A, OWNER_A, sub_a);
    create_sub(TENANT_B, OWNER_B, sub_b);
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;
    ck_httpd_free(httpd);
    arm_free(arm);
    ck_pkey_free(key_a);
    ck_pkey_free(key_b);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", data_dir);
    if (system(cmd) != 0)
        return 0;
    return 0;
}

static char *P(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char pbuf[8][1024];
static int pidx;
static char *P(const char *fmt, ...)
{
    va_list ap;
    char *b = pbuf[pidx++ % 8];
    va_start(ap, fmt);
    vsnprintf(b, 1024, fmt, ap);
    va_end(ap);
    return b;
}

/* ---- tests ---- */

static void test_operator_api(void **state)
{
    (void)state;
    expect("GET", "/operator/arm/subscriptions", NULL, NULL, 401, "AuthenticationFailed");
    expect("GET", "/operator/arm/subscriptions", "Operator wrong", NULL, 401, "AuthenticationFailed");
    expect("GET", "/operator/arm/subscriptions", "RP " RP_KEY, NULL, 401, "AuthenticationFailed");
    expect("POST", "/operator/arm/subscriptions", "Operator " OP_KEY, "{\"tenantId\":1}", 400, "InvalidRequestContent");
    expect("POST", "/operator/arm/subscriptions", "Operator " OP_KEY, "{bad", 400, "InvalidRequestContent");
    struct reply r = call("GET", "/operator/arm/subscriptions", "Operator " OP_KEY, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(ck_json_arr(r.json, "value")), 2);
    reply_free(&r);
}

/* Wire reference C.1: the 401 codes and the WWW-Authenticate challenge. */
static void test_authentication(void **state)
{
    char tok[8192];
    (void)state;
    struct reply r = call("GET", P("/subscriptions/%s?api-version=2022-12-01", sub_a), NULL, NULL);
    assert_int_equal(r.status, 401);
    assert_string_equal(err_code(&r), "AuthenticationFailed");
    assert_non_null(strstr(ck_json_str(ck_json_obj(r.json, "error"), "message"), "The 'Authorization' header is missing."));
    assert_non_null(r.www);
    assert_non_null(strstr(r.www, "authorization_uri=\"https://login.microsoftonline.com/" TENANT_A "\""));
    assert_non_null(strstr(r.www, "error=\"invalid_token\""));
    reply_free(&r);

    mint(key_a, TENANT_A, OWNER_A, ARM_AUD, -3600, tok, sizeof(tok));
    expect("GET", P("/subscriptions/%s?api-version=2022-12-01", sub_a), tok, NULL, 401, "ExpiredAuthenticationToken");
    mint(key_a, TENANT_A, OWNER_A, "https://vault.azure.net", 3600, tok, sizeof(tok));
    expect("GET", P("/subscriptions/%s?api-version=2022-12-01", sub_a), tok, NULL, 401,
           "InvalidAuthenticationTokenAudience");
    expect("GET", P("/subscriptions/%s?api-version=2022-12-01", sub_a), "not-a-jwt", NULL, 401,
           "InvalidAuthenticationToken");
    /* Signed by tenant B's key but claiming tenant A. */
    mint(key_b, TENANT_A, OWNER_A, ARM_AUD, 3600, tok, sizeof(tok));
    expect("GET", P("/subscriptions/%s?api-version=2022-12-01", sub_a), tok, NULL, 401, "InvalidAuthenticationToken");
    /* A token from tenant B on tenant A's subscription. */
    r = call("GET", P("/subscriptions/%s?api-version=2022-12-01", sub_a), tok_owner_b, NULL);
    assert_int_equal(r.status, 401);
    assert_string_equal(err_code(&r), "InvalidAuthenticationTokenTenant");
    assert_non_null(r.www);
    reply_free(&r);
    expect("PUT", P("/subscriptions/%s/resourcegroups/rgx?api-version=2025-04-01", sub_a), tok_owner_b,
           "{\"location\":\"eastus\"}", 401, "InvalidAuthenticationTokenTenant");
    expect("HEAD", P("/subscriptions/%s/resourcegroups/rgx?api-version=2025-04-01", sub_a), tok_owner_a, NULL, 404, NULL);
    /* ARM's own endpoint is an accepted audience too. */
    expect("GET", P("/subscriptions/%s?api-version=2022-12-01", sub_a), tok_user_a, NULL, 403, "AuthorizationFailed");
}

static void test_api_version(void **state)
{
    (void)state;
    expect("GET", P("/subscriptions/%s", sub_a), tok_owner_a, NULL, 400, "MissingApiVersionParameter");
    expect("GET", P("/subscriptions/%s?api-version=yesterday", sub_a), tok_owner_a, NULL, 400,
           "InvalidApiVersionParameter");
    expect("GET", P("/subscriptions/%s?api-version=2021-07-01-preview", sub_a), tok_owner_a, NULL, 200, NULL);
    expect("GET", P("/subscriptions/%s?api-version=2021-07-01-", sub_a), tok_owner_a, NULL, 400,
           "InvalidApiVersionParameter");
}

static void test_subscriptions(void **state)
{
    (void)state;
    struct reply r = call("GET", P("/subscriptions/%s?api-version=2022-12-01", sub_a), tok_owner_a, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(ck_json_str(r.json, "subscriptionId"), sub_a);
    assert_string_equal(ck_json_str(r.json, "tenantId"), TENANT_A);
    assert_string_equal(ck_json_str(r.json, "state"), "Enabled");
    assert_string_equal(ck_json_str(r.json, "authorizationSource"), "RoleBased");
    assert_non_null(ck_json_obj(r.json, "subscriptionPolicies"));
    reply_free(&r);
    r = call("GET", "/subscriptions?api-version=2022-12-01", tok_owner_a, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(ck_json_arr(r.json, "value")), 1);
    reply_free(&r);
    /* A principal without any role sees no subscription. */
    r = call("GET", "/subscriptions?api-version=2022-12-01", tok_user_a, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(ck_json_arr(r.json, "value")), 0);
    reply_free(&r);
    expect("GET", "/subscriptions/11111111-2222-4333-8444-555555555555?api-version=2022-12-01", tok_owner_a, NULL, 404,
           "SubscriptionNotFound");
    expect("GET", "/subscriptions/not-a-guid?api-version=2022-12-01", tok_owner_a, NULL, 400, "InvalidSubscriptionId");
}

static void test_resource_groups(void **state)
{
    (void)state;
    const char *body = "{\"location\":\"eastus\",\"tags\":{\"a\":\"b\"}}";
    struct reply r = call("PUT", P("/subscriptions/%s/resourcegroups/rg1?api-version=2025-04-01", sub_a), tok_owner_a, body);
    assert_int_equal(r.status, 201);
    assert_string_equal(ck_json_str(r.json, "id"), P("/subscriptions/%s/resourceGroups/rg1", sub_a));
    assert_string_equal(ck_json_str(r.json, "type"), "Microsoft.Resources/resourceGroups");
    assert_string_equal(ck_json_str(ck_json_obj(r.json, "properties"), "provisioningState"), "Succeeded");
    assert_string_equal(ck_json_str(ck_json_obj(r.json, "tags"), "a"), "b");
    reply_free(&r);
    expect("PUT", P("/subscriptions/%s/resourceGroups/RG1?api-version=2025-04-01", sub_a), tok_owner_a, body, 200, NULL);
    expect("PUT", P("/subscriptions/%s/resourceGroups/rg1?api-version=2025-04-01", sub_a), tok_owner_a,
           "{\"location\":\"westus\"}", 409, "InvalidResourceGroupLocation");
    /* Case-insensitive fixed segments and the SDK's doubled leading slash. */
    expect("GET", P("//SUBSCRIPTIONS/%s/RESOURCEGROUPS/rg1?api-version=2025-04-01", sub_a), tok_owner_a, NULL, 200, NULL);
    expect("GET", P("/subscriptions//%s//resourceGroups/rg1/?api-version=2025-04-01", sub_a), tok_owner_a, NULL, 200, NULL);
    expect("HEAD", P("/subscriptions/%s/resourcegroups/rg1?api-version=2025-04-01", sub_a), tok_owner_a, NULL, 204, NULL);
    expect("GET", P("/subscriptions/%s/resourcegroups/nope?api-version=2025-04-01", sub_a), tok_owner_a, NULL, 404,
           "ResourceGroupNotFound");
    r = call("GET", P("/subscriptions/%s/resourcegroups?api-version=2025-04-01", sub_a), tok_owner_a, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(ck_json_arr(r.json, "value")), 1);
    reply_free(&r);
    /* Bad input changes nothing. */
    expect("PUT", P("/subscriptions/%s/resourcegroups/rg2?api-version=2025-04-01", sub_a), tok_owner_a, "{\"location\":",
           400, "InvalidRequestContent");
    expect("PUT", P("/subscriptions/%s/resourcegroups/rg2?api-version=2025-04-01", sub_a), tok_owner_a, "[1]", 400,
           "InvalidRequestContent");
    expect("PUT", P("/subscriptions/%s/resourcegroups/rg2?api-version=2025-04-01", sub_a), tok_owner_a,
           "{\"location\":5}", 400, "InvalidRequestContent");
    expect("PUT", P("/subscriptions/%s/resourcegroups/rg2?api-version=2025-04-01", sub_a), tok_owner_a,
           "{\"location\":\"eastus\",\"tags\":{\"a\":1}}", 400, "InvalidRequestContent");
    expect("PUT", P("/subscriptions/%s/resourcegroups/rg2?api-version=2025-04-01", sub_a), tok_owner_a, "{}", 400,
           "LocationRequired");
    expect("PUT", P("/subscriptions/%s/resourcegroups/bad%%20name?api-version=2025-04-01", sub_a), tok_owner_a, body, 400,
           "InvalidResourceGroup");
    expect("HEAD", P("/subscriptions/%s/resourcegroups/rg2?api-version=2025-04-01", sub_a), tok_owner_a, NULL, 404, NULL);
    /* Oversized body: 413 in ARM's envelope. */
    size_t big = (1u << 20) + 100;
    char *huge = malloc(big + 1);
    assert_non_null(huge);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    huge[big] = '\0';
    expect("PUT", P("/subscriptions/%s/resourcegroups/rg2?api-version=2025-04-01", sub_a), tok_owner_a, huge, 413, NULL);
    free(huge);
    expect("HEAD", P("/subscriptions/%s/resourcegroups/rg2?api-version=2025-04-01", sub_a), tok_owner_a, NULL, 404, NULL);
}

static void put_assignment(const char *scope, const char *name, const char *role, const char *principal,
                           const char *tok, long status, const char *code)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"properties\":{\"roleDefinitionId\":\"/subscriptions/%s/providers/Microsoft.Authorization/"
             "roleDefinitions/%s\",\"principalId\":\"%s\",\"principalType\":\"ServicePrincipal\"}}",
             sub_a, role, principal);
    expect("PUT", P("%s/providers/Microsoft.Authorization/roleAssignments/%s?api-version=2022-04-01", scope, name), tok,
           body, status, code);
}

/* Wire reference C.6 and the RBAC rule of issue 2. */
static void test_rbac(void **state)
{
    (void)state;
    const char *rg_scope = P("/subscriptions/%s/resourceGroups/rbacrg", sub_a);
    char scope[256];
    snprintf(scope, sizeof(scope), "%s", rg_scope);
    expect("PUT", P("%s?api-version=2025-04-01", scope), tok_owner_a, "{\"location\":\"eastus\"}", 201, NULL);
    /* No role: every operation is refused, with Azure's message. */
    struct reply r = call("GET", P("%s?api-version=2025-04-01", scope), tok_user_a, NULL);
    assert_int_equal(r.status, 403);
    assert_string_equal(err_code(&r), "AuthorizationFailed");
    assert_non_null(strstr(ck_json_str(ck_json_obj(r.json, "error"), "message"),
                           "The client '" USER_A "' with object id '" USER_A "' does not have authorization to perform "
                           "action 'Microsoft.Resources/subscriptions/resourceGroups/read'"));
    reply_free(&r);
    expect("PUT", P("/subscriptions/%s/resourceGroups/userrg?api-version=2025-04-01", sub_a), tok_user_a,
           "{\"location\":\"eastus\"}", 403, "AuthorizationFailed");
    put_assignment(scope, "33333333-0000-4000-8000-000000000001", READER_ROLE, USER_A, tok_user_a, 403,
                   "AuthorizationFailed");

    /* Assignment name and role checks. */
    put_assignment(scope, "not-a-guid", READER_ROLE, USER_A, tok_owner_a, 400, "InvalidRoleAssignmentId");
    put_assignment(scope, "33333333-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000000", USER_A,
                   tok_owner_a, 400, "RoleDefinitionDoesNotExist");
    expect("PUT", P("%s/providers/Microsoft.Authorization/roleAssignments/33333333-0000-4000-8000-000000000001?api-version=2022-04-01", scope),
           tok_owner_a, "{\"properties\":{\"roleDefinitionId\":7}}", 400, "InvalidRequestContent");
    expect("PUT", P("%s/providers/Microsoft.Authorization/roleAssignments/33333333-0000-4000-8000-000000000001?api-version=2022-04-01", scope),
           tok_owner_a, "not json", 400, "InvalidRequestContent");
    expect("GET", P("%s/providers/Microsoft.Authorization/roleAssignments/33333333-0000-4000-8000-000000000001?api-version=2022-04-01", scope),
           tok_owner_a, NULL, 404, "RoleAssignmentNotFound");

    /* Grant Reader at the group through the SDK's "//subscriptions" shape. */
    r = call("PUT",
             P("/%s/providers/microsoft.authorization/roleassignments/33333333-0000-4000-8000-000000000001?api-version=2022-04-01",
               scope),
             tok_owner_a,
             P("{\"properties\":{\"roleDefinitionId\":\"/providers/Microsoft.Authorization/roleDefinitions/%s\","
               "\"principalId\":\"%s\"}}",
               READER_ROLE, USER_A));
    assert_int_equal(r.status, 201);
    assert_string_equal(ck_json_str(r.json, "name"), "33333333-0000-4000-8000-000000000001");
    assert_string_equal(ck_json_str(r.json, "type"), "Microsoft.Authorization/roleAssignments");
    assert_string_equal(ck_json_str(r.json, "id"),
                        P("%s/providers/Microsoft.Authorization/roleAssignments/33333333-0000-4000-8000-000000000001", scope));
    json_t *props = ck_json_obj(r.json, "properties");
    assert_string_equal(ck_json_str(props, "scope"), scope);
    assert_string_equal(ck_json_str(props, "principalId"), USER_A);
    assert_string_equal(ck_json_str(props, "roleDefinitionId"),
                        P("/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s", sub_a, READER_ROLE));
    assert_true(json_is_null(json_object_get(props, "condition")));
    reply_free(&r);
    /* Identical re-PUT: 200; same principal+role+scope under another name: 409. */
    put_assignment(scope, "33333333-0000-4000-8000-000000000001", READER_ROLE, USER_A, tok_owner_a, 200, NULL);
    put_assignment(scope, "33333333-0000-4000-8000-000000000002", READER_ROLE, USER_A, tok_owner_a, 409,
                   "RoleAssignmentExists");
    put_assignment(scope, "33333333-0000-4000-8000-000000000001", OWNER_ROLE, USER_A, tok_owner_a, 409,
                   "RoleAssignmentUpdateNotPermitted");

    /* The grant takes effect on the next request: read yes, write no. */
    expect("GET", P("%s?api-version=2025-04-01", scope), tok_user_a, NULL, 200, NULL);
    expect("PUT", P("%s?api-version=2025-04-01", scope), tok_user_a, "{\"location\":\"eastus\"}", 403, "AuthorizationFailed");
    expect("DELETE", P("%s?api-version=2025-04-01", scope), tok_user_a, NULL, 403, "AuthorizationFailed");
    expect("GET", P("/subscriptions/%s/resourceGroups/rg1?api-version=2025-04-01", sub_a), tok_user_a, NULL, 403,
           "AuthorizationFailed");
    r = call("GET", "/subscriptions?api-version=2022-12-01", tok_user_a, NULL);
    assert_int_equal(json_array_size(ck_json_arr(r.json, "value")), 1);
    reply_free(&r);
    r = call("GET", P("/subscriptions/%s/resourcegroups?api-version=2025-04-01", sub_a), tok_user_a, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(ck_json_arr(r.json, "value")), 1);
    reply_free(&r);

    /* Lists and filters. */
    r = call("GET", P("%s/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01", scope), tok_owner_a, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(ck_json_arr(r.json, "value")), 2); /* owner at sub + reader at rg */
    reply_free(&r);
    r = call("GET", P("%s/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&%%24filter=principalId%%20eq%%20%%27%s%%27",
                      scope, USER_A),
             tok_owner_a, NULL);
    assert_int_equal(json_array_size(ck_json_arr(r.json, "value")), 1);
    reply_free(&r);
    r = call("GET", P("/subscriptions/%s/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&%%24filter=atScope%%28%%29",
                      sub_a),
             tok_owner_a, NULL);
    assert_int_equal(json_array_size(ck_json_arr(r.json, "value")), 1); /* only the owner's */
    reply_free(&r);
    /* Readers may read role assignments: Reader holds every read action. */
    expect("GET", P("%s/providers/Microsoft.Authorization/roleAssignments/33333333-0000-4000-8000-000000000001?api-version=2022-04-01", scope),
           tok_user_a, NULL, 200, NULL);

    /* Role definitions. */
    r = call("GET", P("/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s?api-version=2022-04-01", sub_a,
                      "e147488a-f6f5-4113-8e2d-b22465e65bf6"),
             tok_owner_a, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(ck_json_str(ck_json_obj(r.json, "properties"), "roleName"), "Key Vault Crypto Service Encryption User");
    reply_free(&r);
    r = call("GET", P("%s/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01&%%24filter=roleName%%20eq%%20%%27Reader%%27",
                      scope),
             tok_owner_a, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(ck_json_arr(r.json, "value")), 1);
    reply_free(&r);
    expect("GET", "/providers/Microsoft.Authorization/roleDefinitions/00000000-0000-4000-8000-000000000000?api-version=2022-04-01",
           tok_owner_a, NULL, 404, "RoleDefinitionDoesNotExist");

    /* Revocation takes effect at once. */
    expect("DELETE", P("%s/providers/Microsoft.Authorization/roleAssignments/33333333-0000-4000-8000-000000000001?api-version=2022-04-01", scope),
           tok_user_a, NULL, 403, "AuthorizationFailed");
    expect("DELETE", P("%s/providers/Microsoft.Authorization/roleAssignments/33333333-0000-4000-8000-000000000001?api-version=2022-04-01", scope),
           tok_owner_a, NULL, 200, NULL);
    expect("DELETE", P("%s/providers/Microsoft.Authorization/roleAssignments/33333333-0000-4000-8000-000000000001?api-version=2022-04-01", scope),
           tok_owner_a, NULL, 204, NULL);
    expect("GET", P("%s?api-version=2025-04-01", scope), tok_user_a, NULL, 403, "AuthorizationFailed");
    /* Tenant B's owner cannot touch tenant A's assignments. */
    put_assignment(scope, "33333333-0000-4000-8000-000000000003", READER_ROLE, OWNER_B, tok_owner_b, 401,
                   "InvalidAuthenticationTokenTenant");
}

static void test_providers_features(void **state)
{
    (void)state;
    struct reply r = call("GET", P("/subscriptions/%s/providers/Microsoft.Storage?api-version=2025-04-01", sub_a), tok_owner_a, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(ck_json_str(r.json, "registrationState"), "NotRegistered");
    reply_free(&r);
    expect("POST", P("/subscriptions/%s/providers/Microsoft.Storage/register?api-version=2025-04-01", sub_a), tok_user_a, NULL,
           403, "AuthorizationFailed");
    r = call("POST", P("/subscriptions/%s/providers/microsoft.storage/register?api-version=2025-04-01", sub_a), tok_owner_a, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(ck_json_str(r.json, "registrationState"), "Registered");
    assert_string_equal(ck_json_str(r.json, "namespace"), "microsoft.storage");
    reply_free(&r);
    r = call("GET", P("/subscriptions/%s/providers/Microsoft.Storage?api-version=2025-04-01", sub_a), tok_owner_a, NULL);
    assert_string_equal(ck_json_str(r.json, "registrationState"), "Registered");
    reply_free(&r);
    r = call("GET", P("/subscriptions/%s/providers?api-version=2025-04-01", sub_a), tok_owner_a, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_array_size(ck_json_arr(r.json, "value")) >= 2);
    reply_free(&r);

    const char *fp = P("/subscriptions/%s/providers/Microsoft.Features/providers/Microsoft.Storage/features/FederatedClientIdentity",
                       sub_a);
    char feat[512];
    snprintf(feat, sizeof(feat), "%s", fp);
    r = call("GET", P("%s?api-version=2021-07-01", feat), tok_owner_a, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(ck_json_str(ck_json_obj(r.json, "properties"), "state"), "NotRegistered");
    reply_free(&r);
    expect("POST", P("%s/register?api-version=2021-07-01", feat), tok_user_a, NULL, 403, "AuthorizationFailed");
    r = call("POST", P("%s/register?api-version=2021-07-01", feat), tok_owner_a, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(ck_json_str(r.json, "name"), "Microsoft.Storage/FederatedClientIdentity");
    assert_string_equal(ck_json_str(r.json, "type"), "Microsoft.Features/providers/features");
    assert_string_equal(ck_json_str(ck_json_obj(r.json, "properties"), "state"), "Registered");
    reply_free(&r);
    r = call("GET", P("/subscriptions/%s/providers/microsoft.features/providers/microsoft.storage/features/federatedclientidentity?api-version=2021-07-01",
                      sub_a),
             tok_owner_a, NULL);
    assert_string_equal(ck_json_str(ck_json_obj(r.json, "properties"), "state"), "Registered");
    reply_free(&r);
    r = call("GET", P("/subscriptions/%s/providers/Microsoft.Features/providers/Microsoft.Storage/features?api-version=2021-07-01", sub_a),
             tok_owner_a, NULL);
    assert_int_equal(json_array_size(ck_json_arr(r.json, "value")), 1);
    reply_free(&r);
    /* The internal getter for services. */
    r = call("GET", P("/rp/arm/features?subscriptionId=%s&namespace=Microsoft.Storage&name=FederatedClientIdentity", sub_a),
             "RP " RP_KEY, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(ck_json_str(r.json, "state"), "Registered");
    reply_free(&r);
    expect("GET", P("/rp/arm/features?subscriptionId=%s&namespace=Microsoft.Storage&name=x", sub_a), "RP nope", NULL, 401,
           "AuthenticationFailed");
    r = call("POST", P("%s/unregister?api-version=2021-07-01", feat), tok_owner_a, NULL);
    assert_string_equal(ck_json_str(ck_json_obj(r.json, "properties"), "state"), "Unregistered");
    reply_free(&r);
}

static void test_forwarding_and_cascade(void **state)
{
    (void)state;
    char rg[256], uami[512];
    snprintf(rg, sizeof(rg), "/subscriptions/%s/resourceGroups/fwd", sub_a);
    snprintf(uami, sizeof(uami), "%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u1", rg);
    expect("PUT", P("%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u1?api-version=2024-11-30", rg), tok_owner_a,
           "{\"location\":\"eastus\"}", 404, "ResourceGroupNotFound");
    expect("PUT", P("%s?api-version=2025-04-01", rg), tok_owner_a, "{\"location\":\"eastus\"}", 201, NULL);
    int before = rp.calls;
    expect("PUT", P("/subscriptions/%s/resourcegroups/fwd/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u1?api-version=2024-11-30", sub_a),
           tok_user_a, "{\"location\":\"eastus\"}", 403, "AuthorizationFailed");
    assert_int_equal(rp.calls, before);
    struct reply r = call("PUT",
                          P("/subscriptions/%s/resourcegroups/fwd/providers/microsoft.managedidentity/userAssignedIdentities/u1?api-version=2024-11-30",
                            sub_a),
                          tok_owner_a, "{\"location\":\"eastus\"}");
    assert_int_equal(r.status, 201);
    assert_string_equal(ck_json_str(r.json, "location"), "eastus");
    assert_non_null(r.location);
    assert_string_equal(r.location, "http://example.invalid/op/1");
    reply_free(&r);
    pthread_mutex_lock(&rp.lock);
    assert_string_equal(rp.method, "PUT");
    assert_string_equal(rp.path, P("/rp/fake%s", uami));
    assert_string_equal(rp.auth, "RP " RP_KEY);
    assert_string_equal(rp.principal, OWNER_A);
    assert_string_equal(rp.home_tenant, TENANT_A);
    pthread_mutex_unlock(&rp.lock);
    /* Unknown namespaces are not forwarded. */
    expect("GET", P("%s/providers/Microsoft.Nothing/things/t1?api-version=2024-11-30", rg), tok_owner_a, NULL, 404,
           "InvalidResourceNamespace");
    /* A role assignment at the resource scope, then deleting the group cascades. */
    put_assignment(uami, "44444444-0000-4000-8000-000000000001", READER_ROLE, USER_A, tok_owner_a, 201, NULL);
    expect("GET", P("%s?api-version=2024-11-30", uami), tok_user_a, NULL, 200, NULL);
    int deletes = rp.deletes;
    expect("DELETE", P("%s?api-version=2025-04-01", rg), tok_owner_a, NULL, 200, NULL);
    assert_int_equal(rp.deletes, deletes + 1);
    expect("HEAD", P("%s?api-version=2025-04-01", rg), tok_owner_a, NULL, 404, NULL);
    expect("DELETE", P("%s?api-version=2025-04-01", rg), tok_owner_a, NULL, 404, "ResourceGroupNotFound");
    /* The assignment went with the group: re-creating the group does not resurrect access. */
    expect("PUT", P("%s?api-version=2025-04-01", rg), tok_owner_a, "{\"location\":\"eastus\"}", 201, NULL);
    expect("GET", P("%s?api-version=2024-11-30", uami), tok_user_a, NULL, 403, "AuthorizationFailed");
    expect("GET", P("%s/providers/Microsoft.Authorization/roleAssignments/44444444-0000-4000-8000-000000000001?api-version=2022-04-01", uami),
           tok_owner_a, NULL, 404, "RoleAssignmentNotFound");
}

static void test_check_access(void **state)
{
    (void)state;
    const char *body = P("{\"principalId\":\"%s\",\"tenantId\":\"%s\",\"scope\":\"//subscriptions/%s/resourcegroups/x/providers/"
                         "Microsoft.KeyVault/vaults/v\",\"action\":\"Microsoft.KeyVault/vaults/write\",\"isDataAction\":false}",
                         OWNER_A, TENANT_A, sub_a);
    char b[1024];
    snprintf(b, sizeof(b), "%s", body);
    expect("POST", "/rp/arm/checkAccess", NULL, b, 401, "AuthenticationFailed");
    expect("POST", "/rp/arm/checkAccess", "Operator " OP_KEY, b, 401, "AuthenticationFailed");
    struct reply r = call("POST", "/rp/arm/checkAccess", "RP " RP_KEY, b);
    assert_int_equal(r.status, 200);
    assert_true(ck_json_bool(r.json, "allowed", 0));
    assert_string_equal(ck_json_str(r.json, "roleDefinitionName"), "Owner");
    assert_non_null(strstr(ck_json_str(r.json, "roleAssignmentId"), "/providers/Microsoft.Authorization/roleAssignments/"));
    reply_free(&r);
    /* Owner holds no data actions. */
    snprintf(b, sizeof(b),
             "{\"principalId\":\"%s\",\"tenantId\":\"%s\",\"scope\":\"/subscriptions/%s\",\"action\":"
             "\"Microsoft.KeyVault/vaults/keys/unwrap/action\",\"isDataAction\":true}",
             OWNER_A, TENANT_A, sub_a);
    r = call("POST", "/rp/arm/checkAccess", "RP " RP_KEY, b);
    assert_false(ck_json_bool(r.json, "allowed", 1));
    assert_true(json_is_null(json_object_get(r.json, "roleAssignmentId")));
    reply_free(&r);
    /* Wrong tenant and unknown subscription answer not allowed. */
    snprintf(b, sizeof(b),
             "{\"principalId\":\"%s\",\"tenantId\":\"%s\",\"scope\":\"/subscriptions/%s\",\"action\":\"x/read\"}", OWNER_A,
             TENANT_B, sub_a);
    r = call("POST", "/rp/arm/checkAccess", "RP " RP_KEY, b);
    assert_false(ck_json_bool(r.json, "allowed", 1));
    reply_free(&r);
    snprintf(b, sizeof(b),
             "{\"principalId\":\"%s\",\"tenantId\":\"%s\",\"scope\":\"/subscriptions/99999999-0000-4000-8000-000000000000\","
             "\"action\":\"x/read\"}",
             OWNER_A, TENANT_A);
    r = call("POST", "/rp/arm/checkAccess", "RP " RP_KEY, b);
    assert_int_equal(r.status, 200);
    assert_false(ck_json_bool(r.json, "allowed", 1));
    reply_free(&r);
    expect("POST", "/rp/arm/checkAccess", "RP " RP_KEY, "{\"principalId\":1}", 400, "InvalidRequestContent");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operator_api),   cmocka_unit_test(test_authentication),
        cmocka_unit_test(test_api_version),    cmocka_unit_test(test_subscriptions),
        cmocka_unit_test(test_resource_groups), cmocka_unit_test(test_rbac),
        cmocka_unit_test(test_providers_features), cmocka_unit_test(test_forwarding_and_cascade),
        cmocka_unit_test(test_check_access),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
