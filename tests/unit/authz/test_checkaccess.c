/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The check-access client (authz/checkaccess.c) against a fake ARM on a plain-HTTP listener: the
 * request it sends (RP key, principal, tenant, scope, data action), allowed and denied answers,
 * the decision cache (hits without a call, case-insensitive scope and action, per principal),
 * forget, an answer that arrives after a forget is used once and not cached, ARM failures (not
 * cached), no RP key, and the 5-second bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "authz/checkaccess.h"
#include "http/client/httpc.h"
#include "http/server/httpd.h"
#include "json/json.h"

#define RP_KEY "test-rp-key-0123456789"

static struct ck_httpd *arm;
static char endpoint[64];
static struct ck_access *acc;
static int calls;
static int fail_next;      /* the fake answers 500 */
static int forget_in_call; /* the fake calls ck_access_forget before answering */
static char last_body[1024];

static void fake_arm(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    (void)ctx;
    size_t len = 0;
    const char *body = ck_req_body(req, &len);
    const char *auth = ck_req_header(req, "Authorization");
    calls++;
    snprintf(last_body, sizeof(last_body), "%.*s", (int)len, body ? body : "");
    if (strcmp(ck_req_path(req), "/rp/arm/checkAccess") != 0 || auth == NULL || strcmp(auth, "RP " RP_KEY) != 0) {
        ck_resp_status(resp, 401);
        return;
    }
    if (fail_next) {
        fail_next = 0;
        ck_resp_status(resp, 500);
        return;
    }
    if (forget_in_call) {
        forget_in_call = 0;
        ck_access_forget(acc);
    }
    json_t *b = ck_json_parse_object(body, len, NULL, 0);
    const char *principal = b ? ck_json_str(b, "principalId") : NULL;
    int allowed = principal != NULL && strcmp(principal, "oid-allowed") == 0;
    json_decref(b);
    json_t *o = json_pack("{s:b}", "allowed", allowed);
    ck_resp_json(resp, 200, o);
    json_decref(o);
}

static void fake_error(void *ctx, struct ck_req *req, struct ck_resp *resp, int status, const char *code,
                       const char *message)
{
    (void)ctx;
    (void)req;
    (void)code;
    (void)message;
    ck_resp_status(resp, status);
}

static int setup(void **state)
{
    (void)state;
    struct ck_httpd_config hc = {.bind_addr = "127.0.0.1", .port = 0, .name = "fake-arm"};
    struct ck_mount m = {.name = "arm", .handle = fake_arm, .error = fake_error};
    struct ck_secret *key = ck_secret_from(RP_KEY, strlen(RP_KEY));
    if (ck_httpc_global_init() != CK_OK || ck_httpd_new(&hc, &arm) != CK_OK || ck_httpd_mount(arm, &m) != CK_OK ||
        key == NULL)
        return -1;
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u", ck_httpd_port(arm));
    int rc = ck_access_new(endpoint, NULL, key, &acc);
    ck_secret_free(key);
    return rc == CK_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ck_access_free(acc);
    ck_httpd_free(arm);
    ck_httpc_thread_cleanup();
    return 0;
}

static int reset(void **state)
{
    (void)state;
    ck_access_forget(acc);
    calls = 0;
    fail_next = 0;
    forget_in_call = 0;
    return 0;
}

static struct ck_claims who(const char *oid)
{
    struct ck_claims c;
    memset(&c, 0, sizeof(c));
    snprintf(c.oid, sizeof(c.oid), "%s", oid);
    snprintf(c.tid, sizeof(c.tid), "%s", "72f988bf-86f1-41af-91ab-2d7cd011db47");
    return c;
}

#define SCOPE "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v1/keys/k1"
#define ACTION "Microsoft.KeyVault/vaults/keys/unwrap/action"

static void test_request_and_answers(void **state)
{
    (void)state;
    struct ck_claims yes = who("oid-allowed"), no = who("oid-denied");
    assert_int_equal(ck_access_check(acc, &yes, SCOPE, ACTION), 1);
    assert_int_equal(calls, 1);
    json_t *b = ck_json_parse_object(last_body, strlen(last_body), NULL, 0);
    assert_non_null(b);
    assert_string_equal(ck_json_str(b, "principalId"), "oid-allowed");
    assert_string_equal(ck_json_str(b, "tenantId"), yes.tid);
    assert_string_equal(ck_json_str(b, "scope"), SCOPE);
    assert_string_equal(ck_json_str(b, "action"), ACTION);
    assert_true(ck_json_bool(b, "isDataAction", 0));
    json_decref(b);
    assert_int_equal(ck_access_check(acc, &no, SCOPE, ACTION), 0);
    assert_int_equal(calls, 2);
}

static void test_cache(void **state)
{
    (void)state;
    struct ck_claims yes = who("oid-allowed"), no = who("oid-denied");
    assert_int_equal(ck_access_check(acc, &yes, SCOPE, ACTION), 1);
    assert_int_equal(ck_access_check(acc, &no, SCOPE, ACTION), 0);
    assert_int_equal(calls, 2);
    /* Hits, allowed and denied alike; scope and action compare without regard to case. */
    assert_int_equal(ck_access_check(acc, &yes, SCOPE, ACTION), 1);
    assert_int_equal(ck_access_check(acc, &no, SCOPE, ACTION), 0);
    assert_int_equal(ck_access_check(acc, &yes, "/SUBSCRIPTIONS/s1/resourcegroups/RG/providers/microsoft.keyvault/"
                                                "vaults/V1/keys/K1", "microsoft.keyvault/vaults/keys/UNWRAP/action"), 1);
    assert_int_equal(calls, 2);
    /* Another action or scope is another question. */
    assert_int_equal(ck_access_check(acc, &yes, SCOPE, "Microsoft.KeyVault/vaults/keys/wrap/action"), 1);
    assert_int_equal(ck_access_check(acc, &yes, SCOPE "2", ACTION), 1);
    assert_int_equal(calls, 4);
}

static void test_forget(void **state)
{
    (void)state;
    struct ck_claims yes = who("oid-allowed");
    assert_int_equal(ck_access_check(acc, &yes, SCOPE, ACTION), 1);
    assert_int_equal(ck_access_check(acc, &yes, SCOPE, ACTION), 1);
    assert_int_equal(calls, 1);
    ck_access_forget(acc);
    assert_int_equal(ck_access_check(acc, &yes, SCOPE, ACTION), 1);
    assert_int_equal(calls, 2);
}

/* A forget while ARM is answering: the answer is used for that request, and not kept. */
static void test_forget_during_check(void **state)
{
    (void)state;
    struct ck_claims yes = who("oid-allowed");
    forget_in_call = 1;
    assert_int_equal(ck_access_check(acc, &yes, SCOPE, ACTION), 1);
    assert_int_equal(calls, 1);
    assert_int_equal(ck_access_check(acc, &yes, SCOPE, ACTION), 1);
    assert_int_equal(calls, 2);
    assert_int_equal(ck_access_check(acc, &yes, SCOPE, ACTION), 1);
    assert_int_equal(calls, 2);
}

static void test_arm_failure(void **state)
{
    (void)state;
    struct ck_claims yes = who("oid-allowed");
    fail_next = 1;
    assert_int_equal(ck_access_check(acc, &yes, SCOPE, ACTION), -1);
    assert_int_equal(ck_access_check(acc, &yes, SCOPE, ACTION), 1);
    assert_int_equal(calls, 2);
}

static void test_no_rp_key(void **state)
{
    (void)state;
    struct ck_access *a = NULL;
    struct ck_claims yes = who("oid-allowed");
    assert_int_equal(ck_access_new(endpoint, NULL, NULL, &a), CK_OK);
    assert_int_equal(ck_access_check(a, &yes, SCOPE, ACTION), -1);
    assert_int_equal(calls, 0);
    ck_access_free(a);
    ck_access_free(NULL);
    assert_int_equal(ck_access_new(NULL, NULL, NULL, &a), CK_E_INVALID);
}

static void test_ttl(void **state)
{
    (void)state;
    struct ck_claims yes = who("oid-allowed");
    assert_int_equal(ck_access_check(acc, &yes, SCOPE, ACTION), 1);
    usleep((CK_ACCESS_TTL_MS - 1000) * 1000);
    assert_int_equal(ck_access_check(acc, &yes, SCOPE, ACTION), 1);
    assert_int_equal(calls, 1);
    usleep(1200 * 1000);
    assert_int_equal(ck_access_check(acc, &yes, SCOPE, ACTION), 1);
    assert_int_equal(calls, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_request_and_answers, reset),
        cmocka_unit_test_setup(test_cache, reset),
        cmocka_unit_test_setup(test_forget, reset),
        cmocka_unit_test_setup(test_forget_during_check, reset),
        cmocka_unit_test_setup(test_arm_failure, reset),
        cmocka_unit_test_setup(test_no_rp_key, reset),
        cmocka_unit_test_setup(test_ttl, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
