/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The managed-identity side of the identity service and its operator API over real listeners:
 * the MI endpoint in both protocols (wire reference A.7: selectors, the Metadata header, errors
 * as 400 and never 404/410), the Microsoft.ManagedIdentity resource provider behind ARM
 * (C.4, docs/internal-api.md), and the operator API's credential, validation and tenant list.
 */
#include "fixture.h"

#define SUB "33333333-aaaa-4aaa-8aaa-000000000001"

static struct tenant ta, tb;
static struct uami u1, u2, u3;
static char w1[128], w2[128];

static int setup(void **state)
{
    fx_setup(state);
    fx_tenant("isv", &ta);
    fx_tenant("customer", &tb);
    fx_uami(ta.tid, SUB, "rg-mi", "uami-one", &u1);
    fx_uami(ta.tid, SUB, "rg-mi", "uami-two", &u2);
    fx_uami(ta.tid, SUB, "rg-mi", "uami-three", &u3);
    const struct uami *one[] = {&u1};
    const struct uami *two[] = {&u1, &u2};
    fx_workload(one, 1, w1, sizeof(w1));
    fx_workload(two, 2, w2, sizeof(w2));
    return 0;
}

/* The MI endpoint's error shape: {"error":"invalid_request","error_description":...}. */
static void mi_err(struct rsp r, long status, const char *desc_part)
{
    const char *d = ck_json_str(r.json, "error_description");
    if (r.status != status || ck_json_str(r.json, "error") == NULL || d == NULL ||
        (desc_part != NULL && strstr(d, desc_part) == NULL)) {
        print_error("want %ld \"%s\"\n", status, desc_part ? desc_part : "");
        fx_show("got", &r);
        fail();
    }
    assert_int_not_equal(r.status, 404);
    assert_int_not_equal(r.status, 410);
    rsp_free(&r);
}

/* Expects a 200 token for u and resource (the claims name the identity). */
static void mi_ok(struct rsp r, const struct uami *u, const char *resource)
{
    fx_status(&r, 200);
    assert_string_equal(ck_json_str(r.json, "client_id"), u->client);
    assert_string_equal(ck_json_str(r.json, "resource"), resource);
    json_t *c = fx_claims(ck_json_str(r.json, "access_token"));
    assert_string_equal(ck_json_str(c, "oid"), u->principal);
    assert_string_equal(ck_json_str(c, "aud"), resource);
    assert_string_equal(ck_json_str(c, "xms_mirid"), u->id);
    assert_string_equal(ck_json_str(c, "tid"), ta.tid);
    json_decref(c);
    rsp_free(&r);
}

static const char *upper_rg(const char *id)
{
    /* The identity's ARM id with the resource-group name in another case. */
    char tmp[512];
    fx_copy(tmp, sizeof(tmp), id);
    char *rg = strstr(tmp, "/rg-mi/");
    assert_non_null(rg);
    memcpy(rg, "/RG-MI/", 7);
    return P("%s", tmp);
}

static void test_selectors(void **state)
{
    (void)state;
    const char *vault = fx_enc("https://vault.azure.net");
    /* A workload with one identity needs no selector. */
    mi_ok(fx_mi_appservice(w1, P("resource=%s", vault)), &u1, "https://vault.azure.net");
    mi_ok(fx_mi_imds(w1, P("resource=%s", vault), 1), &u1, "https://vault.azure.net");
    /* By client id, resource id (App Service: mi_res_id; IMDS: msi_res_id; ARM ids are case
     * insensitive) and object id. */
    mi_ok(fx_mi_appservice(w2, P("resource=%s&client_id=%s", vault, u2.client)), &u2, "https://vault.azure.net");
    mi_ok(fx_mi_appservice(w2, P("resource=%s&mi_res_id=%s", vault, fx_enc(u2.id))), &u2, "https://vault.azure.net");
    mi_ok(fx_mi_appservice(w2, P("resource=%s&mi_res_id=%s", vault, fx_enc(upper_rg(u2.id)))), &u2,
          "https://vault.azure.net");
    mi_ok(fx_mi_appservice(w2, P("resource=%s&object_id=%s", vault, u2.principal)), &u2, "https://vault.azure.net");
    mi_ok(fx_mi_imds(w2, P("resource=%s&client_id=%s", vault, u1.client), 1), &u1, "https://vault.azure.net");
    mi_ok(fx_mi_imds(w2, P("resource=%s&msi_res_id=%s", vault, fx_enc(u1.id)), 1), &u1, "https://vault.azure.net");
    mi_ok(fx_mi_imds(w2, P("resource=%s&object_id=%s", vault, u1.principal), 1), &u1, "https://vault.azure.net");
    /* A scope instead of a resource is tolerated: "/.default" is stripped. */
    mi_ok(fx_mi_appservice(w1, P("resource=%s", fx_enc("https://vault.azure.net/.default"))), &u1,
          "https://vault.azure.net");
    /* Two identities and no selector: the workload must say which. */
    mi_err(fx_mi_appservice(w2, P("resource=%s", vault)), 400, "Multiple user assigned identities");
    /* Two selectors at once. */
    mi_err(fx_mi_appservice(w2, P("resource=%s&client_id=%s&object_id=%s", vault, u1.client, u1.principal)), 400, NULL);
    mi_err(fx_mi_appservice(w2, P("resource=%s&client_id=%s&mi_res_id=%s", vault, u1.client, fx_enc(u1.id))), 400,
           NULL);
    mi_err(fx_mi_imds(w2, P("resource=%s&msi_res_id=%s&object_id=%s", vault, fx_enc(u1.id), u1.principal), 1), 400,
           NULL);
    /* Missing resource. */
    mi_err(fx_mi_appservice(w1, "client_id=x"), 400, "resource");
    mi_err(fx_mi_imds(w1, "", 1), 400, "resource");
}

/* An identity the workload was not given: 400 "Identity not found" (A.7), never 404. */
static void test_not_assigned(void **state)
{
    (void)state;
    const char *vault = fx_enc("https://vault.azure.net");
    mi_err(fx_mi_appservice(w1, P("resource=%s&client_id=%s", vault, u2.client)), 400, "Identity not found");
    mi_err(fx_mi_appservice(w1, P("resource=%s&object_id=%s", vault, u3.principal)), 400, "Identity not found");
    mi_err(fx_mi_appservice(w2, P("resource=%s&mi_res_id=%s", vault, fx_enc(u3.id))), 400, "Identity not found");
    mi_err(fx_mi_imds(w1, P("resource=%s&client_id=%s", vault, u3.client), 1), 400, "Identity not found");
    mi_err(fx_mi_imds(w1, P("resource=%s&client_id=11111111-2222-4333-8444-555555555555", vault), 1), 400,
           "Identity not found");
}

static void test_workload_credential(void **state)
{
    (void)state;
    const char *q = P("resource=%s", fx_enc("https://vault.azure.net"));
    char query[256];
    fx_copy(query, sizeof(query), q);
    /* App Service protocol: missing or unknown X-IDENTITY-HEADER. */
    mi_err(fx_mi_appservice(NULL, query), 401, "X-IDENTITY-HEADER");
    mi_err(fx_mi_appservice("bm90LWEtd29ya2xvYWQtaGVhZGVy", query), 401, "not valid");
    char longh[200];
    memset(longh, 'a', sizeof(longh) - 1);
    longh[sizeof(longh) - 1] = '\0';
    mi_err(fx_mi_appservice(longh, query), 401, NULL);
    /* IMDS: the Metadata header is required (400), and the path header must be a workload's. */
    mi_err(fx_mi_imds(w1, query, 0), 400, "Required metadata header not specified");
    const char *hf[] = {"Metadata: false", NULL};
    mi_err(fx_http("GET", fx_url(F.mibase, P("/w/%s/metadata/identity/oauth2/token?%s", w1, query)), hf, NULL, 0), 400,
           "metadata");
    mi_err(fx_mi_imds("bm90LWEtd29ya2xvYWQtaGVhZGVy", query, 1), 400, "not valid");
    mi_err(fx_mi_imds(longh, query, 1), 400, NULL);
    /* IMDS at its plain path: the header may come as X-IDENTITY-HEADER; without it, 400. */
    const char *hm[] = {"Metadata: true", NULL};
    mi_err(fx_http("GET", fx_url(F.mibase, P("/metadata/identity/oauth2/token?%s", query)), hm, NULL, 0), 400, NULL);
    char xh[200];
    snprintf(xh, sizeof(xh), "X-IDENTITY-HEADER: %s", w1);
    const char *hx[] = {"Metadata: true", xh, NULL};
    mi_ok(fx_http("GET", fx_url(F.mibase, P("/metadata/identity/oauth2/token/?%s", query)), hx, NULL, 0), &u1,
          "https://vault.azure.net");
    /* A header of one workload in the path and of another in X-IDENTITY-HEADER: the path wins. */
    snprintf(xh, sizeof(xh), "X-IDENTITY-HEADER: %s", w2);
    mi_ok(fx_http("GET", fx_url(F.mibase, P("/w/%s/metadata/identity/oauth2/token?%s", w1, query)), hx, NULL, 0), &u1,
          "https://vault.azure.net");
}

/* Paths and methods the endpoint does not serve: 400 or 405, never 404 or 410. */
static void test_never_404(void **state)
{
    (void)state;
    const char *paths[] = {"/",          "/nothing",           "/metadata/instance?api-version=2021-02-01",
                           "/w/abc",     "/w//metadata/identity/oauth2/token", "/msi/token/extra",
                           "/metadata/identity/oauth2/token/x"};
    const char *hm[] = {"Metadata: true", NULL};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        mi_err(fx_http("GET", fx_url(F.mibase, paths[i]), hm, NULL, 0), 400, NULL);
    char xh[200];
    snprintf(xh, sizeof(xh), "X-IDENTITY-HEADER: %s", w1);
    const char *hx[] = {xh, NULL};
    mi_err(fx_http("POST", fx_url(F.mibase, "/msi/token?resource=x"), hx, "a=b", 3), 405, NULL);
    /* A body over the endpoint's 16 KiB cap: 413 in the endpoint's error shape. */
    size_t n = 16 * 1024 + 1;
    char *big = ck_malloc(n);
    assert_non_null(big);
    memset(big, 'a', n);
    mi_err(fx_http("POST", fx_url(F.mibase, "/msi/token?resource=x"), hx, big, n), 413, NULL);
    ck_free(big);
}

/* A managed identity holds no directory rights: its Graph token is refused with 403. */
static void test_mi_graph_denied(void **state)
{
    (void)state;
    char *t = fx_mi_token(w1, u1.client, FX_GRAPH_AUD);
    json_t *c = fx_claims(t);
    assert_string_equal(ck_json_str(c, "iss"), P("https://sts.windows.net/%s/", ta.tid));
    assert_string_equal(ck_json_str(c, "appidacr"), "2");
    json_decref(c);
    fx_gr(fx_graph("GET", "/v1.0/applications", t, NULL), 403, "Authorization_RequestDenied");
    fx_gr(fx_graph("POST", "/v1.0/applications", t, "{\"displayName\":\"x\"}"), 403, "Authorization_RequestDenied");
    ck_free(t);
}

/* ---- the resource provider ---- */

static void test_rp_credential(void **state)
{
    (void)state;
    const char *path = fx_uami_path(SUB, "rg-mi", "uami-one");
    char p[512];
    fx_copy(p, sizeof(p), path);
    fx_arm(fx_http("GET", fx_url(F.base, p), NULL, NULL, 0), 401, "AuthenticationFailed");
    const char *wrong[] = {"Authorization: RP cnAta2V5LWZvci1pZGVudGl0eS10ZXN0cy0wMTIzNDU3", NULL};
    fx_arm(fx_http("GET", fx_url(F.base, p), wrong, NULL, 0), 401, "AuthenticationFailed");
    const char *op[] = {"Authorization: Operator " FX_OP_KEY, NULL};
    fx_arm(fx_http("GET", fx_url(F.base, p), op, NULL, 0), 401, "AuthenticationFailed");
    const char *other[] = {"Authorization: Operator " FX_RP_KEY, NULL};
    fx_arm(fx_http("GET", fx_url(F.base, p), other, NULL, 0), 401, "AuthenticationFailed");
    const char *prefix[] = {"Authorization: RP cnAta2V5LWZvci1pZGVudGl0eS10ZXN0cy0wMTIz", NULL};
    fx_arm(fx_http("GET", fx_url(F.base, p), prefix, NULL, 0), 401, "AuthenticationFailed");
    const char *longer[] = {"Authorization: RP " FX_RP_KEY "x", NULL};
    fx_arm(fx_http("GET", fx_url(F.base, p), longer, NULL, 0), 401, "AuthenticationFailed");
    struct rsp r = fx_rp("GET", p, NULL, NULL);
    fx_status(&r, 200);
    assert_string_equal(ck_json_str(ck_json_obj(r.json, "properties"), "principalId"), u1.principal);
    rsp_free(&r);
}

static void test_rp_lifecycle(void **state)
{
    (void)state;
    char path[512];
    fx_copy(path, sizeof(path), fx_uami_path(SUB, "rg-mi", "uami-life"));
    /* Validation: location, JSON, tags, names, the home tenant. */
    fx_arm(fx_rp("PUT", path, ta.tid, "{}"), 400, "LocationRequired");
    fx_arm(fx_rp("PUT", path, ta.tid, "{\"location\":\"\"}"), 400, "LocationRequired");
    fx_arm(fx_rp("PUT", path, ta.tid, "{bad"), 400, "InvalidRequestContent");
    fx_arm(fx_rp("PUT", path, ta.tid, "{\"location\":\"westeurope\",\"tags\":[1]}"), 400, "InvalidRequestContent");
    fx_arm(fx_rp("PUT", path, NULL, "{\"location\":\"westeurope\"}"), 400, "InvalidRequest");
    fx_arm(fx_rp("PUT", path, "44444444-aaaa-4aaa-8aaa-000000000001", "{\"location\":\"westeurope\"}"), 400,
           "InvalidRequest");
    const char *bad_names[] = {"ab", "-abc", "a.bc", "a%20bc"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
        fx_arm(fx_rp("PUT", fx_uami_path(SUB, "rg-mi", bad_names[i]), ta.tid, "{\"location\":\"westeurope\"}"), 400,
               "InvalidResourceName");
    fx_arm(fx_rp("GET", path, NULL, NULL), 404, "ResourceNotFound");

    /* Create, then PUT again: 200, same principal; another location: 409. */
    struct rsp r = fx_rp("PUT", path, ta.tid, "{\"location\":\"westeurope\",\"tags\":{\"env\":\"test\"}}");
    fx_status(&r, 201);
    char principal[37], client[37];
    fx_copy(principal, sizeof(principal), ck_json_str(ck_json_obj(r.json, "properties"), "principalId"));
    fx_copy(client, sizeof(client), ck_json_str(ck_json_obj(r.json, "properties"), "clientId"));
    assert_string_equal(ck_json_str(ck_json_obj(r.json, "tags"), "env"), "test");
    assert_string_equal(ck_json_str(r.json, "name"), "uami-life");
    assert_string_equal(ck_json_str(r.json, "location"), "westeurope");
    rsp_free(&r);
    r = fx_rp("PUT", path, ta.tid, "{\"location\":\"WestEurope\"}");
    fx_status(&r, 200);
    assert_string_equal(ck_json_str(ck_json_obj(r.json, "properties"), "principalId"), principal);
    rsp_free(&r);
    fx_arm(fx_rp("PUT", path, ta.tid, "{\"location\":\"eastus\"}"), 409, "InvalidResourceLocation");
    /* Paths are case-insensitive (transport rules). */
    r = fx_rp("GET",
              P("/rp/identity/subscriptions/%s/resourcegroups/RG-MI/providers/microsoft.managedidentity/"
                "userassignedidentities/UAMI-LIFE?api-version=2024-11-30",
                SUB),
              NULL, NULL);
    fx_status(&r, 200);
    assert_string_equal(ck_json_str(ck_json_obj(r.json, "properties"), "clientId"), client);
    rsp_free(&r);
    /* PATCH tags. */
    r = fx_rp("PATCH", path, NULL, "{\"tags\":{\"env\":\"prod\"}}");
    fx_status(&r, 200);
    assert_string_equal(ck_json_str(ck_json_obj(r.json, "tags"), "env"), "prod");
    rsp_free(&r);
    fx_arm(fx_rp("PATCH", path, NULL, "{\"tags\":\"x\"}"), 400, "InvalidRequestContent");
    /* Lists by resource group and by subscription. */
    r = fx_rp("GET",
              P("/rp/identity/subscriptions/%s/resourceGroups/rg-mi/providers/Microsoft.ManagedIdentity/"
                "userAssignedIdentities?api-version=2024-11-30",
                SUB),
              NULL, NULL);
    fx_status(&r, 200);
    assert_int_equal(json_array_size(ck_json_arr(r.json, "value")), 4);
    rsp_free(&r);
    r = fx_rp("GET",
              P("/rp/identity/subscriptions/%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities", SUB), NULL,
              NULL);
    fx_status(&r, 200);
    assert_int_equal(json_array_size(ck_json_arr(r.json, "value")), 4);
    rsp_free(&r);
    /* Children (federated credentials on the identity) are refused; unknown types are 404. */
    fx_arm(fx_rp("PUT",
                 P("/rp/identity/subscriptions/%s/resourceGroups/rg-mi/providers/Microsoft.ManagedIdentity/"
                   "userAssignedIdentities/uami-life/federatedIdentityCredentials/f1?api-version=2024-11-30",
                   SUB),
                 ta.tid, "{}"),
           400, "InvalidResourceType");
    fx_arm(fx_rp("GET", P("/rp/identity/subscriptions/%s/resourceGroups/rg-mi/providers/Microsoft.Storage/x/y", SUB),
                 NULL, NULL),
           404, "InvalidResourceType");
    /* Its token works until it is deleted; then the endpoint says 400, not 404. */
    struct uami lu;
    r = fx_rp("GET", path, NULL, NULL);
    fx_copy(lu.id, sizeof(lu.id), ck_json_str(r.json, "id"));
    fx_copy(lu.principal, sizeof(lu.principal), principal);
    fx_copy(lu.client, sizeof(lu.client), client);
    rsp_free(&r);
    const struct uami *ids[] = {&lu};
    char wh[128];
    fx_workload(ids, 1, wh, sizeof(wh));
    mi_ok(fx_mi_appservice(wh, P("resource=%s", fx_enc("https://vault.azure.net"))), &lu, "https://vault.azure.net");
    r = fx_rp("DELETE", path, NULL, NULL);
    fx_status(&r, 200);
    rsp_free(&r);
    r = fx_rp("DELETE", path, NULL, NULL);
    fx_status(&r, 204);
    rsp_free(&r);
    fx_arm(fx_rp("GET", path, NULL, NULL), 404, "ResourceNotFound");
    mi_err(fx_mi_appservice(wh, P("resource=%s", fx_enc("https://vault.azure.net"))), 400, "Identity not found");
    mi_err(fx_mi_appservice(wh, P("resource=%s&client_id=%s", fx_enc("https://vault.azure.net"), client)), 400,
           "Identity not found");
}

/* ---- system-assigned identities (internal endpoint for resource providers) ---- */

static long sa_count(const char *sql)
{
    struct ck_db_stmt *st = NULL;
    long n = -1;
    ck_db_lock(F.idp->db);
    assert_int_equal(ck_db_prepare(F.idp->db, sql, &st), CK_OK);
    if (ck_db_step(st) == 1)
        n = (long)ck_db_col_int64(st, 0);
    ck_db_stmt_free(st);
    ck_db_unlock(F.idp->db);
    return n;
}

/* Rows of the tables a managed identity touches, summed as a fingerprint. */
static long sa_rows(void)
{
    return sa_count("SELECT (SELECT count(*) FROM managed_identities) * 1000000 + (SELECT count(*) FROM "
                    "service_principals) * 1000 + (SELECT count(*) FROM applications)");
}

static void test_system_assigned(void **state)
{
    (void)state;
    char rid[400], body[600];
    fx_copy(rid, sizeof(rid),
            P("/subscriptions/%s/resourceGroups/rg-mi/providers/Microsoft.Storage/storageAccounts/sa1", SUB));
    snprintf(body, sizeof(body), "{\"resourceId\":\"%s\",\"tenantId\":\"%s\",\"location\":\"eastus\"}", rid, ta.tid);
    long before = sa_rows();

    /* Only the resource-provider credential opens it. */
    const char *wrong[] = {"Authorization: RP cnAta2V5LWZvci1pZGVudGl0eS10ZXN0cy0wMTIzNDU3", FX_JSON, NULL};
    fx_arm(fx_http("PUT", fx_url(F.base, "/rp/identity/systemAssigned"), wrong, body, strlen(body)), 401,
           "AuthenticationFailed");
    const char *op[] = {"Authorization: Operator " FX_OP_KEY, FX_JSON, NULL};
    fx_arm(fx_http("PUT", fx_url(F.base, "/rp/identity/systemAssigned"), op, body, strlen(body)), 401,
           "AuthenticationFailed");
    fx_arm(fx_http("PUT", fx_url(F.base, "/rp/identity/systemAssigned"), NULL, body, strlen(body)), 401,
           "AuthenticationFailed");
    /* Bad input changes nothing. */
    fx_arm(fx_rp("PUT", "/rp/identity/systemAssigned", NULL, "{bad"), 400, "InvalidRequestContent");
    fx_arm(fx_rp("PUT", "/rp/identity/systemAssigned", NULL, "[1]"), 400, "InvalidRequestContent");
    fx_arm(fx_rp("PUT", "/rp/identity/systemAssigned", NULL, P("{\"tenantId\":\"%s\"}", ta.tid)), 400,
           "InvalidResourceId");
    const char *bad_ids[] = {"storageAccounts/sa1", "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage",
                             "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a b",
                             "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/../x",
                             "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/"
                             "userAssignedIdentities/uami-one"};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++)
        fx_arm(fx_rp("PUT", "/rp/identity/systemAssigned", NULL,
                     P("{\"resourceId\":\"%s\",\"tenantId\":\"%s\"}", bad_ids[i], ta.tid)),
               400, "InvalidResourceId");
    fx_arm(fx_rp("PUT", "/rp/identity/systemAssigned", NULL, P("{\"resourceId\":\"%s\"}", rid)), 400, "InvalidRequest");
    fx_arm(fx_rp("PUT", "/rp/identity/systemAssigned", NULL,
                 P("{\"resourceId\":\"%s\",\"tenantId\":\"44444444-aaaa-4aaa-8aaa-000000000001\"}", rid)),
           400, "InvalidRequest");
    fx_arm(fx_rp("POST", "/rp/identity/systemAssigned", NULL, body), 405, "MethodNotAllowed");
    assert_int_equal(sa_rows(), before);
    fx_arm(fx_rp("GET", P("/rp/identity/systemAssigned?resourceId=%s", fx_enc(rid)), NULL, NULL), 404,
           "ResourceNotFound");

    /* Create: a service principal of type ManagedIdentity in the resource's tenant. */
    struct rsp r = fx_rp("PUT", "/rp/identity/systemAssigned", NULL, body);
    fx_status(&r, 200);
    char principal[37], client[37];
    fx_copy(principal, sizeof(principal), ck_json_str(r.json, "principalId"));
    fx_copy(client, sizeof(client), ck_json_str(r.json, "clientId"));
    assert_string_equal(ck_json_str(r.json, "tenantId"), ta.tid);
    assert_string_equal(ck_json_str(r.json, "resourceId"), rid);
    assert_true(ck_uuid_valid(principal));
    assert_true(ck_uuid_valid(client));
    rsp_free(&r);
    assert_int_equal(sa_rows(), before + 1001001);
    struct ck_arena *a = ck_arena_new();
    struct idp_sp sp;
    assert_int_equal(idp_sp_by_object_id(F.idp, a, principal, &sp), CK_OK);
    assert_string_equal(sp.sp_type, "ManagedIdentity");
    assert_string_equal(sp.app_id, client);
    assert_string_equal(sp.tenant_id, ta.tid);
    assert_string_equal(sp.display_name, "sa1");
    ck_arena_free(a);

    /* Idempotent by resource id (ARM ids compare without case, doubled slashes collapse). */
    r = fx_rp("PUT", "/rp/identity/systemAssigned", NULL,
              P("{\"resourceId\":\"/SUBSCRIPTIONS/%s/resourcegroups/RG-MI/providers//microsoft.storage/"
                "storageaccounts/SA1\",\"tenantId\":\"%s\"}",
                SUB, ta.tid));
    fx_status(&r, 200);
    assert_string_equal(ck_json_str(r.json, "principalId"), principal);
    assert_string_equal(ck_json_str(r.json, "clientId"), client);
    rsp_free(&r);
    assert_int_equal(sa_rows(), before + 1001001);
    r = fx_rp("GET", P("/rp/identity/systemAssigned?resourceId=%s", fx_enc(rid)), NULL, NULL);
    fx_status(&r, 200);
    assert_string_equal(ck_json_str(r.json, "principalId"), principal);
    rsp_free(&r);
    /* The same resource in another tenant is a conflict. */
    fx_arm(fx_rp("PUT", "/rp/identity/systemAssigned", NULL,
                 P("{\"resourceId\":\"%s\",\"tenantId\":\"%s\"}", rid, tb.tid)),
           409, "Conflict");

    /* Not a user-assigned identity: not listed, not addressable as one, not for workloads. */
    r = fx_rp("GET",
              P("/rp/identity/subscriptions/%s/resourceGroups/rg-mi/providers/Microsoft.ManagedIdentity/"
                "userAssignedIdentities?api-version=2024-11-30",
                SUB),
              NULL, NULL);
    fx_status(&r, 200);
    assert_null(strstr(r.body, principal));
    rsp_free(&r);
    r = fx_op("POST", "/operator/identity/workloads", P("{\"identities\":[\"%s\"]}", rid));
    fx_status(&r, 404);
    rsp_free(&r);

    /* Delete removes the identity and its principal; again is 204. */
    r = fx_rp("DELETE", P("/rp/identity/systemAssigned?resourceId=%s", fx_enc(rid)), NULL, NULL);
    fx_status(&r, 200);
    rsp_free(&r);
    assert_int_equal(sa_rows(), before);
    a = ck_arena_new();
    assert_int_equal(idp_sp_by_object_id(F.idp, a, principal, &sp), CK_E_NOT_FOUND);
    ck_arena_free(a);
    r = fx_rp("DELETE", P("/rp/identity/systemAssigned?resourceId=%s", fx_enc(rid)), NULL, NULL);
    fx_status(&r, 204);
    rsp_free(&r);
    fx_arm(fx_rp("DELETE", "/rp/identity/systemAssigned?resourceId=nope", NULL, NULL), 400, "InvalidResourceId");
    /* Turned on again, the resource gets a new principal (as in Azure). */
    r = fx_rp("PUT", "/rp/identity/systemAssigned", NULL, body);
    fx_status(&r, 200);
    assert_string_not_equal(ck_json_str(r.json, "principalId"), principal);
    rsp_free(&r);
    r = fx_rp("DELETE", P("/rp/identity/systemAssigned?resourceId=%s", fx_enc(rid)), NULL, NULL);
    fx_status(&r, 200);
    rsp_free(&r);
    assert_int_equal(sa_rows(), before);
}

/* ---- operator API ---- */

static size_t tenant_count(void)
{
    struct rsp r = fx_op("GET", "/operator/identity/tenants", NULL);
    fx_status(&r, 200);
    size_t n = json_array_size(ck_json_arr(r.json, "value"));
    rsp_free(&r);
    return n;
}

static void test_operator_credential(void **state)
{
    (void)state;
    const char *body = "{\"displayName\":\"x\"}";
    fx_arm(fx_op_key("POST", "/operator/identity/tenants", NULL, body), 401, "AuthenticationFailed");
    fx_arm(fx_op_key("GET", "/operator/identity/tenants", "wrong", NULL), 401, "AuthenticationFailed");
    fx_arm(fx_op_key("GET", "/operator/identity/tenants", FX_RP_KEY, NULL), 401, "AuthenticationFailed");
    fx_arm(fx_op_key("GET", "/operator/identity/tenants", FX_OP_KEY "=", NULL), 401, "AuthenticationFailed");
    fx_arm(fx_op_key("GET", "/operator/identity/tenants", "", NULL), 401, "AuthenticationFailed");
    const char *bearer[] = {"Authorization: Bearer " FX_OP_KEY, NULL};
    fx_arm(fx_http("GET", fx_url(F.base, "/operator/identity/tenants"), bearer, NULL, 0), 401, "AuthenticationFailed");
    const char *rp[] = {"Authorization: RP " FX_OP_KEY, NULL};
    fx_arm(fx_http("GET", fx_url(F.base, "/operator/identity/tenants"), rp, NULL, 0), 401, "AuthenticationFailed");
    fx_arm(fx_op_key("POST", "/operator/identity/workloads", NULL, P("{\"identities\":[\"%s\"]}", u1.id)), 401,
           "AuthenticationFailed");
    /* No tenant was made by the refused calls. */
    assert_int_equal(tenant_count(), 2);
}

static void test_operator_validation(void **state)
{
    (void)state;
    const char *bad_json[] = {"{bad", "[]", "", "{\"displayName\":\"x\"} x"};
    for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
        fx_arm(fx_op("POST", "/operator/identity/tenants", bad_json[i]), 400, "InvalidRequestContent");
        fx_arm(fx_op("POST", "/operator/identity/workloads", bad_json[i]), 400, "InvalidRequestContent");
    }
    fx_arm(fx_op("POST", "/operator/identity/tenants", "{}"), 400, "InvalidRequestContent");
    fx_arm(fx_op("POST", "/operator/identity/tenants", "{\"displayName\":\"\"}"), 400, "InvalidRequestContent");
    fx_arm(fx_op("POST", "/operator/identity/tenants", "{\"displayName\":12}"), 400, "InvalidRequestContent");
    fx_arm(fx_op("POST", "/operator/identity/tenants", "{\"displayName\":\"a\\nb\"}"), 400, "InvalidRequestContent");
    fx_arm(fx_op("POST", "/operator/identity/workloads", "{}"), 400, "InvalidRequestContent");
    fx_arm(fx_op("POST", "/operator/identity/workloads", "{\"identities\":[]}"), 400, "InvalidRequestContent");
    fx_arm(fx_op("POST", "/operator/identity/workloads", "{\"identities\":[7]}"), 400, "InvalidRequestContent");
    /* An unknown identity (even next to a known one) registers nothing. */
    fx_arm(fx_op("POST", "/operator/identity/workloads",
                 P("{\"identities\":[\"%s\",\"/subscriptions/%s/resourcegroups/rg-mi/providers/"
                   "Microsoft.ManagedIdentity/userAssignedIdentities/ghost\"]}",
                   u1.id, SUB)),
           404, "ResourceNotFound");
    /* Over the 256 KiB cap: 413 in the ARM envelope. */
    char *big = fx_big_json(256 * 1024 + 64);
    fx_arm(fx_op("POST", "/operator/identity/tenants", big), 413, "RequestBodyTooLarge");
    ck_free(big);
    fx_arm(fx_op("DELETE", "/operator/identity/tenants", NULL), 404, "NotFound");
    fx_arm(fx_op("GET", "/operator/identity/nothing", NULL), 404, "NotFound");
    assert_int_equal(tenant_count(), 2);
}

static void test_tenant_list(void **state)
{
    (void)state;
    struct tenant tc;
    fx_tenant("third", &tc);
    struct rsp r = fx_op("GET", "/operator/identity/tenants", NULL);
    fx_status(&r, 200);
    json_t *v = ck_json_arr(r.json, "value");
    assert_int_equal(json_array_size(v), 3);
    const struct tenant *want[] = {&ta, &tb, &tc};
    const char *names[] = {"isv", "customer", "third"};
    for (size_t i = 0; i < 3; i++) {
        int found = 0;
        size_t j;
        json_t *t;
        json_array_foreach(v, j, t) {
            if (strcmp(ck_json_str(t, "tenantId"), want[i]->tid) == 0) {
                found = 1;
                assert_string_equal(ck_json_str(t, "displayName"), names[i]);
                assert_non_null(ck_json_str(t, "createdAt"));
            }
        }
        assert_true(found);
    }
    /* The list carries no credential. */
    assert_null(strstr(r.body, ta.secret));
    assert_null(strstr(r.body, "clientSecret"));
    rsp_free(&r);
    /* Each new tenant's admin can sign in at once; secrets are per tenant. */
    char *t = fx_admin_token(&tc, "https://vault.azure.net/.default");
    ck_free(t);
    assert_string_not_equal(tc.secret, ta.secret);
}

/* POST /rp/identity/token: a resource service (RP credential) gets a token for a user-assigned
 * identity, or for a resource's system-assigned one; nothing else opens it. */
static void test_rp_token(void **state)
{
    (void)state;
    const char *body = P("{\"identityId\":\"%s\",\"resource\":\"api://AzureADTokenExchange/.default\"}", u1.id);
    /* Only the RP credential. */
    const char *wrong[] = {"Authorization: RP cnAta2V5LWZvci1pZGVudGl0eS10ZXN0cy0wMTIzNDU3", FX_JSON, NULL};
    fx_arm(fx_http("POST", fx_url(F.base, "/rp/identity/token"), wrong, body, strlen(body)), 401, "AuthenticationFailed");
    fx_arm(fx_http("POST", fx_url(F.base, "/rp/identity/token"), NULL, body, strlen(body)), 401, "AuthenticationFailed");
    /* Bad input. */
    fx_arm(fx_rp("POST", "/rp/identity/token", NULL, "{bad"), 400, "InvalidRequestContent");
    fx_arm(fx_rp("POST", "/rp/identity/token", NULL, P("{\"identityId\":\"%s\"}", u1.id)), 400, "InvalidRequestContent");
    fx_arm(fx_rp("POST", "/rp/identity/token", NULL, "{\"identityId\":7,\"resource\":\"x\"}"), 400, "InvalidRequestContent");
    fx_arm(fx_rp("GET", "/rp/identity/token", NULL, NULL), 405, "MethodNotAllowed");
    fx_arm(fx_rp("POST", "/rp/identity/token", NULL,
                 P("{\"identityId\":\"%s-nope\",\"resource\":\"api://AzureADTokenExchange\"}", u1.id)),
           404, "ResourceNotFound");
    /* A user-assigned identity, its id spelled in another case: the exchange token names it. */
    char upper[512];
    fx_copy(upper, sizeof(upper), u1.id);
    for (char *q = upper; *q; q++)
        if (*q >= 'a' && *q <= 'z')
            *q = (char)(*q - 'a' + 'A');
    struct rsp r = fx_rp("POST", "/rp/identity/token", NULL,
                         P("{\"identityId\":\"%s\",\"resource\":\"api://AzureADTokenExchange/.default\"}", upper));
    fx_status(&r, 200);
    assert_string_equal(ck_json_str(r.json, "client_id"), u1.client);
    json_t *c = fx_claims(ck_json_str(r.json, "access_token"));
    assert_string_equal(ck_json_str(c, "sub"), u1.principal);
    assert_string_equal(ck_json_str(c, "oid"), u1.principal);
    assert_string_equal(ck_json_str(c, "aud"), "api://AzureADTokenExchange");
    assert_string_equal(ck_json_str(c, "tid"), ta.tid);
    json_decref(c);
    rsp_free(&r);
    /* A system-assigned identity, by its resource's id. */
    const char *rid = P("/subscriptions/%s/resourceGroups/rg-mi/providers/Microsoft.Storage/storageAccounts/tok1", SUB);
    char ridc[400];
    fx_copy(ridc, sizeof(ridc), rid);
    r = fx_rp("PUT", "/rp/identity/systemAssigned", NULL, P("{\"resourceId\":\"%s\",\"tenantId\":\"%s\"}", ridc, ta.tid));
    fx_status(&r, 200);
    char principal[37];
    fx_copy(principal, sizeof(principal), ck_json_str(r.json, "principalId"));
    rsp_free(&r);
    r = fx_rp("POST", "/rp/identity/token", NULL,
              P("{\"identityId\":\"%s\",\"resource\":\"https://vault.azure.net\"}", ridc));
    fx_status(&r, 200);
    c = fx_claims(ck_json_str(r.json, "access_token"));
    assert_string_equal(ck_json_str(c, "oid"), principal);
    assert_string_equal(ck_json_str(c, "aud"), "https://vault.azure.net");
    json_decref(c);
    rsp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selectors),           cmocka_unit_test(test_not_assigned),
        cmocka_unit_test(test_workload_credential), cmocka_unit_test(test_never_404),
        cmocka_unit_test(test_rp_credential),       cmocka_unit_test(test_rp_lifecycle),
        cmocka_unit_test(test_operator_credential), cmocka_unit_test(test_operator_validation),
        cmocka_unit_test(test_tenant_list),         cmocka_unit_test(test_mi_graph_denied),
        cmocka_unit_test(test_system_assigned),       cmocka_unit_test(test_rp_token),
    };
    return cmocka_run_group_tests(tests, setup, fx_teardown);
}
