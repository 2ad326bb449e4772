/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fault injection for tests (crosskeyd --test-faults, POST /operator/vault/fault), over the real
 * stack: "error" answers every data-plane request of the vault (the unauthenticated challenge and
 * /events included) with the injected 5xx and the Key Vault error body, before authentication and
 * without an audit record; "delay" holds every request for delayMs, and a change of the fault ends
 * a delay at once; "down" stops the vault's origin so that connections are refused, and "none"
 * starts it again on the same port with its keys working; other vaults are untouched. Bad input
 * answers 400 (unknown vault 404) in ARM's error format and changes nothing; only the operator may
 * call it; without --test-faults it answers 403, and a restart clears every fault. Under a DNS
 * suffix, where vaults share one origin, a vault that is down answers 503 instead.
 */
#include "kv_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

static struct tenant ta;
static char sub[64], armtok[8192];
static struct principal officer;
static unsigned port, other_port;
static char vid[512];
static uint8_t cek[32];
static char wrapped[1024];

static int setup(void **state)
{
    char n[37];
    (void)state;
    kf_test_faults = 1;
    kf_setup();
    kf_customer("customer", &ta, sub, sizeof(sub), armtok, sizeof(armtok), "rg");
    port = kf_vault(armtok, sub, "rg", "faultvault", ta.tid, 1, 90);
    other_port = kf_vault(armtok, sub, "rg", "othervault", ta.tid, 1, 90);
    kf_copy(vid, sizeof(vid), kf_vault_id(sub, "rg", "faultvault"));
    kf_principal(&ta, "officer", &officer);
    kf_assign(armtok, sub, P("/subscriptions/%s", sub), ROLE_KV_OFFICER, officer.oid, n);
    json_decref(kv_ok(port, "POST", "/keys/k/create", officer.tok, "{\"kty\":\"RSA\"}", 200));
    json_decref(kv_ok(other_port, "POST", "/keys/k/create", officer.tok, "{\"kty\":\"RSA\"}", 200));
    kf_wrap_new_cek(port, officer.tok, "k", cek, sizeof(cek), wrapped, sizeof(wrapped));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return kf_teardown();
}

/* POST /operator/vault/fault with body, as the operator. */
static struct rsp fault(const char *body)
{
    return kf_op("POST", "/operator/vault/fault", body);
}

/* A fault change that must succeed; returns the answer (caller decrefs). */
static json_t *fault_ok(const char *body)
{
    return kf_take_json(fault(body), 200, "POST", "/operator/vault/fault");
}

/* Checks an ARM error: status and error.code, with a message and nothing else. */
static void arm_err(struct rsp r, long status, const char *code)
{
    json_t *e = ck_json_obj(r.json, "error");
    if (r.status != status || ck_json_str(e, "code") == NULL || strcmp(ck_json_str(e, "code"), code) != 0 ||
        ck_json_str(e, "message") == NULL || json_object_size(e) != 2) {
        print_error("want %ld %s\n", status, code);
        kf_show("got", &r);
        fail();
    }
    rsp_free(&r);
}

/* A data-plane call that is not counted as audited (faulted requests leave no record). */
static struct rsp plain(unsigned p, const char *method, const char *path, const char *tok)
{
    const char *h[2] = {tok ? P("Authorization: Bearer %s", tok) : NULL, NULL};
    const char *url = strchr(path, '?') ? P("https://localhost:%u%s", p, path)
                                        : P("https://localhost:%u%s?api-version=" KF_KV_API, p, path);
    return kf_http(method, url, h, NULL, 0);
}

/* Checks the injected error: status and {"error":{"code":"InternalServerError","message":"Injected fault"}}. */
static void injected(struct rsp r, long status)
{
    kv_expect_err(&r, status, "InternalServerError", NULL);
    assert_string_equal(ck_json_str(ck_json_obj(r.json, "error"), "message"), "Injected fault");
    assert_null(r.www);
    rsp_free(&r);
}

static void unwrap_ok(void)
{
    json_t *u = kv_ok(port, "POST", "/keys/k//unwrapkey", officer.tok,
                      P("{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", wrapped), 200);
    assert_string_equal(ck_json_str(u, "value"), kf_b64(cek, sizeof(cek)));
    json_decref(u);
}

/* errno of a plain TCP connect to 127.0.0.1:p (0 when it connects). */
static int connect_errno(unsigned p)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), err = 0;
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)p);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        err = errno;
    close(fd);
    return err;
}

static void test_fault_needs_operator(void **state)
{
    (void)state;
    const char *body = "{\"vault\":\"faultvault\",\"mode\":\"error\"}";
    arm_err(kf_main("POST", "/operator/vault/fault", NULL, body), 401, "AuthenticationFailed");
    arm_err(kf_main("POST", "/operator/vault/fault", "Operator bm90LXRoZS1rZXk", body), 401, "AuthenticationFailed");
    arm_err(kf_main("POST", "/operator/vault/fault", P("Bearer %s", officer.tok), body), 401, "AuthenticationFailed");
    arm_err(kf_op("GET", "/operator/vault/fault", NULL), 404, "NotFound");
    /* Nothing was injected. */
    json_decref(kv_ok(port, "GET", "/keys/k", officer.tok, NULL, 200));
}

static void test_fault_error(void **state)
{
    (void)state;
    long before = kf_audit_count(armtok, vid, 1000);
    json_t *o = fault_ok("{\"vault\":\"FaultVault\",\"mode\":\"error\"}");
    assert_string_equal(ck_json_str(o, "vault"), "faultvault");
    assert_string_equal(ck_json_str(o, "mode"), "error");
    assert_int_equal(ck_json_int(o, "status", 0), 500);
    assert_int_equal(json_object_size(o), 3);
    json_decref(o);
    /* Before authentication: the challenge, a token's request, /events, any path. */
    injected(plain(port, "GET", "/keys/k", NULL), 500);
    injected(plain(port, "GET", "/keys/k", officer.tok), 500);
    injected(plain(port, "GET", "/events?api-version=7.5&cursor=0", officer.tok), 500);
    injected(plain(port, "POST", "/no/such/path", "not-a-token"), 500);
    /* Another status; other vaults are untouched. */
    json_decref(fault_ok("{\"vault\":\"faultvault\",\"mode\":\"error\",\"status\":503}"));
    injected(plain(port, "GET", "/keys/k", officer.tok), 503);
    json_decref(fault_ok("{\"vault\":\"faultvault\",\"mode\":\"error\",\"status\":599}"));
    injected(plain(port, "GET", "/keys/k", officer.tok), 599);
    json_decref(kv_ok(other_port, "GET", "/keys/k", officer.tok, NULL, 200));
    /* Injected errors leave no audit record. */
    assert_int_equal(kf_audit_count(armtok, vid, 1000), before);
    o = fault_ok("{\"vault\":\"faultvault\",\"mode\":\"none\"}");
    assert_string_equal(ck_json_str(o, "mode"), "none");
    assert_int_equal(ck_json_int(o, "port", 0), port);
    json_decref(o);
    json_decref(kv_ok(port, "GET", "/keys/k", officer.tok, NULL, 200));
    unwrap_ok();
}

static void test_fault_delay(void **state)
{
    (void)state;
    json_t *o = fault_ok("{\"vault\":\"faultvault\",\"mode\":\"delay\",\"delayMs\":700}");
    assert_string_equal(ck_json_str(o, "mode"), "delay");
    assert_int_equal(ck_json_int(o, "delayMs", 0), 700);
    json_decref(o);
    int64_t t0 = ck_mono_ms();
    struct rsp r = plain(port, "GET", "/keys/k", NULL);
    kv_expect_err(&r, 401, "Unauthorized", NULL);
    rsp_free(&r);
    int64_t t1 = ck_mono_ms();
    json_decref(kv_ok(port, "GET", "/events?api-version=7.5&cursor=0", officer.tok, NULL, 200));
    int64_t t2 = ck_mono_ms();
    unwrap_ok();
    int64_t t3 = ck_mono_ms();
    assert_true(t1 - t0 >= 700);
    assert_true(t2 - t1 >= 700);
    assert_true(t3 - t2 >= 700);
    /* The other vault is not delayed. */
    json_decref(kv_ok(other_port, "GET", "/keys/k", officer.tok, NULL, 200));
    assert_true(ck_mono_ms() - t3 < 700);
    json_decref(fault_ok("{\"vault\":\"faultvault\",\"mode\":\"none\"}"));
    t0 = ck_mono_ms();
    json_decref(kv_ok(port, "GET", "/keys/k", officer.tok, NULL, 200));
    assert_true(ck_mono_ms() - t0 < 700);
}

/* A request on another thread, with its own URL and result (P() and the response list are not
 * shared across threads). */
struct bg_call {
    pthread_t t;
    char url[128];
    long status;
    int rc;
    int64_t ms;
};

static void *bg_main(void *arg)
{
    struct bg_call *c = arg;
    struct ck_httpc_req req = {.method = "GET", .url = c->url, .timeout_ms = 30000};
    struct ck_httpc_resp resp;
    int64_t t0 = ck_mono_ms();
    c->rc = ck_httpc_do(&req, &resp);
    c->status = c->rc == CK_OK ? resp.status : 0;
    ck_httpc_resp_cleanup(&resp);
    c->ms = ck_mono_ms() - t0;
    return NULL;
}

/* Sets a 60 s delay, sends an unauthenticated request on another thread, applies change while it
 * waits, and checks that the request ends at once with status want and that the change did not
 * wait for the delay either. */
static void delayed_then(const char *change, long want)
{
    struct bg_call c;
    memset(&c, 0, sizeof(c));
    snprintf(c.url, sizeof(c.url), "https://localhost:%u/keys/k?api-version=7.5", port);
    json_decref(fault_ok("{\"vault\":\"faultvault\",\"mode\":\"delay\",\"delayMs\":60000}"));
    assert_int_equal(pthread_create(&c.t, NULL, bg_main, &c), 0);
    usleep(400 * 1000);
    int64_t t0 = ck_mono_ms();
    json_decref(fault_ok(change));
    assert_true(ck_mono_ms() - t0 < 10000);
    pthread_join(c.t, NULL);
    assert_int_equal(c.rc, CK_OK);
    assert_int_equal(c.status, want);
    assert_true(c.ms < 10000);
}

/* A long delay ends as soon as the fault changes: cleared, the request is served (401, the
 * challenge); turned into an error, it answers the error; down, it answers 503 and the origin
 * stops without waiting for the delay. */
static void test_fault_delay_ends_on_change(void **state)
{
    (void)state;
    delayed_then("{\"vault\":\"faultvault\",\"mode\":\"none\"}", 401);
    delayed_then("{\"vault\":\"faultvault\",\"mode\":\"error\",\"status\":502}", 502);
    delayed_then("{\"vault\":\"faultvault\",\"mode\":\"down\"}", 503);
    json_decref(fault_ok("{\"vault\":\"faultvault\",\"mode\":\"none\"}"));
    json_decref(kv_ok(port, "GET", "/keys/k", officer.tok, NULL, 200));
}

static void test_fault_down(void **state)
{
    struct ck_httpc_req req = {.method = "GET", .timeout_ms = 5000};
    struct ck_httpc_resp resp;
    (void)state;
    assert_int_equal(connect_errno(port), 0);
    json_t *o = fault_ok("{\"vault\":\"faultvault\",\"mode\":\"down\"}");
    assert_string_equal(ck_json_str(o, "mode"), "down");
    assert_int_equal(ck_json_int(o, "port", 0), port);
    json_decref(o);
    /* Connections are refused: at the socket and for the HTTP client. */
    assert_int_equal(connect_errno(port), ECONNREFUSED);
    req.url = P("https://localhost:%u/keys/k?api-version=7.5", port);
    assert_int_equal(ck_httpc_do(&req, &resp), CK_E_UNAVAILABLE);
    ck_httpc_resp_cleanup(&resp);
    /* Down again is no change; the other vault is up. */
    json_decref(fault_ok("{\"vault\":\"faultvault\",\"mode\":\"down\"}"));
    assert_int_equal(connect_errno(port), ECONNREFUSED);
    json_decref(kv_ok(other_port, "GET", "/keys/k", officer.tok, NULL, 200));
    /* Back on the same port, with its keys (a vault restart). */
    o = fault_ok("{\"vault\":\"faultvault\",\"mode\":\"none\"}");
    assert_int_equal(ck_json_int(o, "port", 0), port);
    json_decref(o);
    assert_int_equal(connect_errno(port), 0);
    json_decref(kv_ok(port, "GET", "/keys/k", officer.tok, NULL, 200));
    unwrap_ok();
    json_t *v = kf_bearer_ok("GET", P("%s?api-version=" KF_ARM_KV_API, vid), armtok, NULL, 200);
    assert_string_equal(ck_json_str(ck_json_obj(v, "properties"), "vaultUri"), P("https://localhost:%u/", port));
    json_decref(v);
    /* From down straight to error: the origin comes back and answers the error. */
    json_decref(fault_ok("{\"vault\":\"faultvault\",\"mode\":\"down\"}"));
    assert_int_equal(connect_errno(port), ECONNREFUSED);
    json_decref(fault_ok("{\"vault\":\"faultvault\",\"mode\":\"error\",\"status\":503}"));
    injected(plain(port, "GET", "/keys/k", officer.tok), 503);
    json_decref(fault_ok("{\"vault\":\"faultvault\",\"mode\":\"none\"}"));
    unwrap_ok();
    /* The audit chain went on across the restarts. */
    int valid;
    long records, bad;
    kf_audit_verify(armtok, vid, &valid, &records, &bad);
    assert_true(valid);
    assert_int_equal(records, kf_audited(port));
}

/* Bad input answers 400 (unknown vault 404) and changes nothing: the injected 502 stays. */
static void test_fault_bad_input(void **state)
{
    static const char *const bad[] = {
        "not json",
        "[]",
        "{}",
        "\"faultvault\"",
        "{\"mode\":\"none\"}",
        "{\"vault\":\"faultvault\"}",
        "{\"vault\":\"faultvault\",\"mode\":\"sideways\"}",
        "{\"vault\":\"faultvault\",\"mode\":\"NONE\"}",
        "{\"vault\":\"faultvault\",\"mode\":null}",
        "{\"vault\":\"faultvault\",\"mode\":1}",
        "{\"vault\":\"faultvault\",\"mode\":\"delay\"}",
        "{\"vault\":\"faultvault\",\"mode\":\"delay\",\"delayMs\":-1}",
        "{\"vault\":\"faultvault\",\"mode\":\"delay\",\"delayMs\":60001}",
        "{\"vault\":\"faultvault\",\"mode\":\"delay\",\"delayMs\":\"100\"}",
        "{\"vault\":\"faultvault\",\"mode\":\"delay\",\"delayMs\":1.5}",
        "{\"vault\":\"faultvault\",\"mode\":\"error\",\"status\":499}",
        "{\"vault\":\"faultvault\",\"mode\":\"error\",\"status\":600}",
        "{\"vault\":\"faultvault\",\"mode\":\"error\",\"status\":\"500\"}",
        "{\"vault\":\"faultvault\",\"mode\":\"none\",\"delayMs\":99999}",
        "{\"vault\":\"faultvault\",\"mode\":\"none\",\"extra\":1}",
        "{\"vault\":123,\"mode\":\"none\"}",
        "{\"vault\":\"\",\"mode\":\"none\"}",
        "{\"vault\":\"faultvaultfaultvaultfaultvaultfaultvault\",\"mode\":\"none\"}",
    };
    (void)state;
    json_decref(fault_ok("{\"vault\":\"faultvault\",\"mode\":\"error\",\"status\":502}"));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rsp r = fault(bad[i]);
        if (r.status != 400)
            print_error("body %s\n", bad[i]);
        arm_err(r, 400, "InvalidRequestContent");
    }
    arm_err(kf_op("POST", "/operator/vault/fault", NULL), 400, "InvalidRequestContent");
    arm_err(fault("{\"vault\":\"nosuchvault\",\"mode\":\"none\"}"), 404, "ResourceNotFound");
    injected(plain(port, "GET", "/keys/k", officer.tok), 502);
    json_decref(kv_ok(other_port, "GET", "/keys/k", officer.tok, NULL, 200));
    json_decref(fault_ok("{\"vault\":\"faultvault\",\"mode\":\"none\"}"));
    json_decref(kv_ok(port, "GET", "/keys/k", officer.tok, NULL, 200));
}

/* Faults live in memory: a restart clears them. Without --test-faults the endpoint answers 403
 * and injects nothing. */
static void test_fault_restart_and_flag(void **state)
{
    (void)state;
    json_decref(fault_ok("{\"vault\":\"faultvault\",\"mode\":\"error\",\"status\":502}"));
    json_decref(fault_ok("{\"vault\":\"othervault\",\"mode\":\"down\"}"));
    kf_stop();
    kf_test_faults = 0;
    assert_int_equal(kf_start(F.kv_master, 0), CK_OK);
    json_decref(kv_ok(port, "GET", "/keys/k", officer.tok, NULL, 200));
    json_decref(kv_ok(other_port, "GET", "/keys/k", officer.tok, NULL, 200));
    arm_err(fault("{\"vault\":\"faultvault\",\"mode\":\"error\"}"), 403, "Forbidden");
    arm_err(fault("{\"vault\":\"othervault\",\"mode\":\"down\"}"), 403, "Forbidden");
    arm_err(kf_main("POST", "/operator/vault/fault", NULL, "{}"), 401, "AuthenticationFailed");
    json_decref(kv_ok(port, "GET", "/keys/k", officer.tok, NULL, 200));
    assert_int_equal(connect_errno(other_port), 0);
    unwrap_ok();
}

/* A call to the shared origin (port p) for vault under the DNS suffix vault.test, routed by Host. */
static struct rsp shared(unsigned p, const char *vault, const char *path, const char *tok)
{
    const char *h[3] = {P("Host: %s.vault.test:%u", vault, p), tok ? P("Authorization: Bearer %s", tok) : NULL, NULL};
    return kf_http("GET", P("https://localhost:%u%s?api-version=" KF_KV_API, p, path), h, NULL, 0);
}

/* Under a DNS suffix the vaults share one origin, which stays up: a vault that is down answers 503
 * ServiceUnavailable, the others are served; "none" brings it back. */
static void test_fault_shared_origin(void **state)
{
    (void)state;
    kf_stop();
    kf_test_faults = 1;
    kf_dns_suffix = "vault.test";
    assert_int_equal(kf_start(F.kv_master, 0), CK_OK);
    json_t *v = kf_bearer_ok("GET", P("%s?api-version=" KF_ARM_KV_API, vid), armtok, NULL, 200);
    unsigned sp = 0;
    assert_int_equal(sscanf(ck_json_str(ck_json_obj(v, "properties"), "vaultUri"), "https://faultvault.vault.test:%u/", &sp), 1);
    json_decref(v);
    struct rsp r = shared(sp, "faultvault", "/keys/k", officer.tok);
    kf_status(&r, 200);
    rsp_free(&r);
    json_t *o = fault_ok("{\"vault\":\"faultvault\",\"mode\":\"down\"}");
    assert_int_equal(ck_json_int(o, "port", 0), sp);
    json_decref(o);
    assert_int_equal(connect_errno(sp), 0);
    r = shared(sp, "faultvault", "/keys/k", officer.tok);
    kv_expect_err(&r, 503, "ServiceUnavailable", NULL);
    rsp_free(&r);
    r = shared(sp, "FAULTVAULT", "/keys/k", NULL);
    kv_expect_err(&r, 503, "ServiceUnavailable", NULL);
    rsp_free(&r);
    r = shared(sp, "othervault", "/keys/k", officer.tok);
    kf_status(&r, 200);
    rsp_free(&r);
    json_decref(fault_ok("{\"vault\":\"faultvault\",\"mode\":\"error\",\"status\":504}"));
    injected(shared(sp, "faultvault", "/keys/k", NULL), 504);
    json_decref(fault_ok("{\"vault\":\"faultvault\",\"mode\":\"none\"}"));
    r = shared(sp, "faultvault", "/keys/k", officer.tok);
    kf_status(&r, 200);
    rsp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_needs_operator),
        cmocka_unit_test(test_fault_error),
        cmocka_unit_test(test_fault_delay),
        cmocka_unit_test(test_fault_delay_ends_on_change),
        cmocka_unit_test(test_fault_down),
        cmocka_unit_test(test_fault_bad_input),
        cmocka_unit_test(test_fault_restart_and_flag),
        cmocka_unit_test(test_fault_shared_origin),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
