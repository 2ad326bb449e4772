/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/http: a plain and a TLS listener (ck_httpd) driven by the client (ck_httpc): body
 * echo, decoded query names, headers, request ids, the per-mount body cap answered in the mount's
 * error format, 404 without a mount, client limits and timeouts, quiesce and drain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/codec.h"
#include "core/fsutil.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "http/client/httpc.h"
#include "http/server/httpd.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ECHO_LIMIT 16

static struct ck_httpd *srv;
static _Atomic int handled;

static int match_prefix(void *ctx, const char *path)
{
    return strncmp(path, (const char *)ctx, strlen((const char *)ctx)) == 0;
}

static int count_query(void *arg, const char *k, const char *v)
{
    (void)k;
    (void)v;
    (*(int *)arg)++;
    return 0;
}

static void hdr_if(struct ck_resp *resp, const char *name, const char *v)
{
    if (v != NULL)
        ck_resp_header(resp, name, v);
}

/* Echoes the body and reports what the request accessors saw, as response headers. */
static void echo_handler(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    (void)ctx;
    struct ck_arena *a = ck_req_arena(req);
    size_t len = 0;
    const char *body = ck_req_body(req, &len);
    int nq = 0;
    atomic_fetch_add(&handled, 1);
    ck_req_query_each(req, count_query, &nq);
    hdr_if(resp, "X-Method", ck_req_method(req));
    hdr_if(resp, "X-Path", ck_req_path(req));
    hdr_if(resp, "X-Api-Version", ck_req_query(req, "api-version"));
    hdr_if(resp, "X-Api-Version-Ci", ck_req_query_ci(req, "API-VERSION"));
    hdr_if(resp, "X-Test-Header", ck_req_header(req, "X-TEST-HEADER"));
    hdr_if(resp, "X-Query-Count", ck_arena_printf(a, "%d", nq));
    hdr_if(resp, "X-Origin", ck_req_origin(req));
    hdr_if(resp, "X-Peer", ck_req_peer(req));
    hdr_if(resp, "X-Req-Id", ck_req_id(req));
    ck_req_set_principal(req, "test-principal");
    const char *st = ck_req_query(req, "status");
    ck_resp_status(resp, st ? (int)strtol(st, NULL, 10) : 200);
    ck_resp_body(resp, "text/plain", body, len);
}

static void slow_handler(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    (void)ctx;
    const char *ms = ck_req_query(req, "ms");
    atomic_fetch_add(&handled, 1);
    usleep((useconds_t)(ms ? strtol(ms, NULL, 10) : 300) * 1000);
    ck_resp_body(resp, "text/plain", "slept", 5);
}

static void big_handler(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    (void)ctx;
    (void)req;
    static char big[100000];
    memset(big, 'b', sizeof(big));
    ck_resp_body(resp, "application/octet-stream", big, sizeof(big));
}

/* The test protocol's error format. */
static void test_error_fmt(void *ctx, struct ck_req *req, struct ck_resp *resp, int status, const char *code,
                           const char *message)
{
    (void)ctx;
    (void)req;
    json_t *e = json_pack("{s:s,s:i,s:s,s:s}", "fmt", "test", "status", status, "code", code, "message", message);
    ck_resp_json(resp, status, e);
    ck_resp_header(resp, "X-Error-Format", "test");
    json_decref(e);
}

static const struct ck_mount echo_mount = {
    .name = "echo", .match = match_prefix, .handle = echo_handler, .error = test_error_fmt,
    .ctx = (void *)"/echo", .body_limit = ECHO_LIMIT,
};
static const struct ck_mount slow_mount = {
    .name = "slow", .match = match_prefix, .handle = slow_handler, .error = test_error_fmt, .ctx = (void *)"/slow",
};
static const struct ck_mount big_mount = {
    .name = "big", .match = match_prefix, .handle = big_handler, .ctx = (void *)"/big",
};

static int start(struct ck_httpd **out, const char *cert, const char *key)
{
    struct ck_httpd_config cfg = {.bind_addr = "127.0.0.1", .port = 0, .tls_cert_pem = cert, .tls_key_pem = key,
                                  .name = "test"};
    if (ck_httpd_new(&cfg, out) != CK_OK)
        return -1;
    if (ck_httpd_mount(*out, &echo_mount) != CK_OK || ck_httpd_mount(*out, &slow_mount) != CK_OK ||
        ck_httpd_mount(*out, &big_mount) != CK_OK)
        return -1;
    return 0;
}

static int setup(void **state)
{
    (void)state;
    if (ck_httpc_global_init() != CK_OK)
        return -1;
    return start(&srv, NULL, NULL);
}

static int teardown(void **state)
{
    (void)state;
    ck_httpd_free(srv);
    return 0;
}

static char *url(struct ck_httpd *h, const char *scheme, const char *host, const char *path)
{
    size_t n = strlen(path) + 64;
    char *u = ck_malloc(n);
    snprintf(u, n, "%s://%s:%u%s", scheme, host, ck_httpd_port(h), path);
    return u;
}

static int do_req(const char *method, const char *u, const char *body, size_t body_len, const char *h1,
                  struct ck_httpc_resp *resp)
{
    struct ck_httpc_req req = {.method = method, .url = u, .body = body, .body_len = body_len};
    req.headers[0] = h1;
    return ck_httpc_do(&req, resp);
}

static void expect_header(struct ck_httpc_resp *resp, const char *name, const char *want)
{
    char *v = ck_httpc_resp_header(resp, name);
    if (want == NULL) {
        if (v != NULL)
            fail_msg("unexpected header %s: %s", name, v);
        return;
    }
    if (v == NULL)
        fail_msg("header %s missing", name);
    assert_string_equal(v, want);
    ck_free(v);
}

static void test_echo(void **state)
{
    (void)state;
    struct ck_httpc_resp resp;
    char *u = url(srv, "http", "127.0.0.1", "/echo/a%20b?api%2Dversion=2024-01-01&x=%2B1+2&flag");
    assert_int_equal(do_req("POST", u, "hello", 5, "x-test-header: v1", &resp), CK_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body.len, 5);
    assert_string_equal(resp.body.data, "hello");
    expect_header(&resp, "X-Method", "POST");
    expect_header(&resp, "X-Path", "/echo/a b");
    expect_header(&resp, "X-Api-Version", "2024-01-01");
    expect_header(&resp, "X-Api-Version-Ci", "2024-01-01");
    expect_header(&resp, "X-Test-Header", "v1");
    expect_header(&resp, "X-Query-Count", "3");
    expect_header(&resp, "x-peer", "127.0.0.1"); /* header names are case-insensitive */
    expect_header(&resp, "Content-Type", "text/plain");
    char *origin = ck_httpc_resp_header(&resp, "X-Origin");
    char want[64];
    snprintf(want, sizeof(want), "http://localhost:%u", ck_httpd_port(srv));
    assert_string_equal(origin, want);
    ck_free(origin);
    expect_header(&resp, "X-No-Such-Header", NULL);
    ck_httpc_resp_cleanup(&resp);
    ck_free(u);

    /* GET without a body; a status chosen by the handler; binary body. */
    u = url(srv, "http", "127.0.0.1", "/echo?status=201");
    assert_int_equal(do_req("GET", u, NULL, 0, NULL, &resp), CK_OK);
    assert_int_equal(resp.status, 201);
    assert_int_equal(resp.body.len, 0);
    expect_header(&resp, "X-Api-Version", NULL);
    ck_httpc_resp_cleanup(&resp);
    assert_int_equal(do_req("PUT", u, "a\0b", 3, NULL, &resp), CK_OK);
    assert_int_equal(resp.body.len, 3);
    assert_memory_equal(resp.body.data, "a\0b", 3);
    ck_httpc_resp_cleanup(&resp);
    ck_free(u);
}

static void test_request_ids(void **state)
{
    (void)state;
    struct ck_httpc_resp resp;
    char *u = url(srv, "http", "127.0.0.1", "/echo");
    assert_int_equal(do_req("GET", u, NULL, 0, "x-ms-client-request-id: my-client-id-1", &resp), CK_OK);
    char *rid = ck_httpc_resp_header(&resp, "x-ms-request-id");
    assert_non_null(rid);
    assert_true(ck_uuid_valid(rid));
    expect_header(&resp, "X-Req-Id", rid); /* the handler saw the same id */
    expect_header(&resp, "x-ms-client-request-id", "my-client-id-1");
    ck_httpc_resp_cleanup(&resp);
    /* Each request gets its own id; an over-long client id is not echoed. */
    char longid[200] = "x-ms-client-request-id: ";
    memset(longid + strlen(longid), 'c', 129);
    assert_int_equal(do_req("GET", u, NULL, 0, longid, &resp), CK_OK);
    char *rid2 = ck_httpc_resp_header(&resp, "x-ms-request-id");
    assert_non_null(rid2);
    assert_string_not_equal(rid, rid2);
    expect_header(&resp, "x-ms-client-request-id", NULL);
    ck_httpc_resp_cleanup(&resp);
    ck_free(rid);
    ck_free(rid2);
    ck_free(u);
}

static void test_body_limit_413(void **state)
{
    (void)state;
    struct ck_httpc_resp resp;
    char body[64];
    memset(body, 'x', sizeof(body));
    char *u = url(srv, "http", "127.0.0.1", "/echo");
    /* Exactly the limit is accepted. */
    assert_int_equal(do_req("POST", u, body, ECHO_LIMIT, NULL, &resp), CK_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body.len, ECHO_LIMIT);
    ck_httpc_resp_cleanup(&resp);
    /* One byte more: 413 in the mount's own error format, and the handler never runs. */
    int before = atomic_load(&handled);
    for (size_t n = ECHO_LIMIT + 1; n <= sizeof(body); n += 47) {
        assert_int_equal(do_req("POST", u, body, n, NULL, &resp), CK_OK);
        assert_int_equal(resp.status, 413);
        expect_header(&resp, "X-Error-Format", "test");
        json_t *e = ck_json_parse_object(resp.body.data, resp.body.len, NULL, 0);
        assert_non_null(e);
        assert_string_equal(ck_json_str(e, "fmt"), "test");
        assert_string_equal(ck_json_str(e, "code"), "RequestBodyTooLarge");
        assert_int_equal(ck_json_int(e, "status", 0), 413);
        json_decref(e);
        char *rid = ck_httpc_resp_header(&resp, "x-ms-request-id");
        assert_non_null(rid);
        ck_free(rid);
        ck_httpc_resp_cleanup(&resp);
    }
    assert_int_equal(atomic_load(&handled), before);
    ck_free(u);
    /* A larger body on a mount with the default limit is fine. */
    u = url(srv, "http", "127.0.0.1", "/slow?ms=1");
    assert_int_equal(do_req("POST", u, body, sizeof(body), NULL, &resp), CK_OK);
    assert_int_equal(resp.status, 200);
    ck_httpc_resp_cleanup(&resp);
    ck_free(u);
}

static void test_404_without_mount(void **state)
{
    (void)state;
    struct ck_httpc_resp resp;
    char *u = url(srv, "http", "127.0.0.1", "/nothing/here");
    assert_int_equal(do_req("GET", u, NULL, 0, NULL, &resp), CK_OK);
    assert_int_equal(resp.status, 404);
    json_t *e = ck_json_parse_object(resp.body.data, resp.body.len, NULL, 0);
    assert_non_null(e);
    assert_string_equal(ck_json_str(ck_json_obj(e, "error"), "code"), "NotFound");
    assert_non_null(ck_json_str(ck_json_obj(e, "error"), "message"));
    json_decref(e);
    char *rid = ck_httpc_resp_header(&resp, "x-ms-request-id");
    assert_non_null(rid);
    ck_free(rid);
    ck_httpc_resp_cleanup(&resp);
    ck_free(u);

    /* A listener with no mounts at all: 404 too, and a body over the default limit is still 413. */
    struct ck_httpd *empty = NULL;
    struct ck_httpd_config cfg = {.port = 0};
    assert_int_equal(ck_httpd_new(&cfg, &empty), CK_OK);
    u = url(empty, "http", "127.0.0.1", "/");
    assert_int_equal(do_req("GET", u, NULL, 0, NULL, &resp), CK_OK);
    assert_int_equal(resp.status, 404);
    ck_httpc_resp_cleanup(&resp);
    size_t big = CK_HTTP_DEFAULT_BODY_LIMIT + 1;
    char *body = ck_calloc(1, big);
    assert_int_equal(do_req("POST", u, body, big, NULL, &resp), CK_OK);
    assert_int_equal(resp.status, 413);
    ck_httpc_resp_cleanup(&resp);
    ck_free(body);
    ck_free(u);
    ck_httpd_free(empty);
}

static void test_listener_config(void **state)
{
    (void)state;
    struct ck_httpd *h = NULL;
    struct ck_httpd_config bad = {.bind_addr = "not-an-address", .port = 0};
    assert_int_equal(ck_httpd_new(&bad, &h), CK_E_INVALID);
    assert_null(h);
    /* The port is taken: CK_E_IO, not a second listener sharing it. */
    struct ck_httpd_config same = {.bind_addr = "127.0.0.1", .port = ck_httpd_port(srv)};
    int rc = ck_httpd_new(&same, &h);
    if (rc == CK_OK)
        ck_httpd_free(h);
    assert_int_equal(rc, CK_E_IO);
    /* Mount table limit. */
    struct ck_httpd_config cfg = {.port = 0};
    assert_int_equal(ck_httpd_new(&cfg, &h), CK_OK);
    for (int i = 0; i < CK_HTTP_MAX_MOUNTS; i++)
        assert_int_equal(ck_httpd_mount(h, &echo_mount), CK_OK);
    assert_int_equal(ck_httpd_mount(h, &echo_mount), CK_E_LIMIT);
    ck_httpd_set_public_host(h, "example.test");
    struct ck_httpc_resp resp;
    char *u = url(h, "http", "127.0.0.1", "/echo");
    assert_int_equal(do_req("GET", u, NULL, 0, NULL, &resp), CK_OK);
    char want[64];
    snprintf(want, sizeof(want), "http://example.test:%u", ck_httpd_port(h));
    expect_header(&resp, "X-Origin", want);
    ck_httpc_resp_cleanup(&resp);
    ck_free(u);
    ck_httpd_free(h);
    ck_httpd_free(NULL);
}

static void test_client_limits(void **state)
{
    (void)state;
    struct ck_httpc_resp resp;
    /* Response body cap. */
    char *u = url(srv, "http", "127.0.0.1", "/big");
    struct ck_httpc_req req = {.url = u, .limit = 1000};
    assert_int_equal(ck_httpc_do(&req, &resp), CK_E_TOO_LARGE);
    ck_httpc_resp_cleanup(&resp);
    req.limit = 0;
    assert_int_equal(ck_httpc_do(&req, &resp), CK_OK);
    assert_int_equal(resp.body.len, 100000);
    ck_httpc_resp_cleanup(&resp);
    ck_free(u);
    /* Timeout. */
    u = url(srv, "http", "127.0.0.1", "/slow?ms=1500");
    struct ck_httpc_req slow = {.url = u, .timeout_ms = 200};
    assert_int_equal(ck_httpc_do(&slow, &resp), CK_E_TIMEOUT);
    ck_httpc_resp_cleanup(&resp);
    ck_free(u);
    /* Nothing listening. */
    struct ck_httpd *h = NULL;
    struct ck_httpd_config cfg = {.port = 0};
    assert_int_equal(ck_httpd_new(&cfg, &h), CK_OK);
    u = url(h, "http", "127.0.0.1", "/");
    ck_httpd_free(h);
    struct ck_httpc_req gone = {.url = u};
    assert_int_equal(ck_httpc_do(&gone, &resp), CK_E_UNAVAILABLE);
    ck_httpc_resp_cleanup(&resp);
    ck_free(u);
    /* Schemes other than http and https are refused. */
    struct ck_httpc_req file = {.url = "file:///etc/passwd"};
    assert_int_not_equal(ck_httpc_do(&file, &resp), CK_OK);
    assert_int_equal(resp.body.len, 0);
    ck_httpc_resp_cleanup(&resp);
}

struct slow_call {
    char *url;
    int rc;
    long status;
};

static void *slow_thread(void *arg)
{
    struct slow_call *c = arg;
    struct ck_httpc_resp resp;
    struct ck_httpc_req req = {.url = c->url};
    c->rc = ck_httpc_do(&req, &resp);
    c->status = resp.status;
    ck_httpc_resp_cleanup(&resp);
    return NULL;
}

static void test_quiesce_and_drain(void **state)
{
    (void)state;
    struct ck_httpd *h = NULL;
    pthread_t th;
    assert_int_equal(start(&h, NULL, NULL), 0);
    assert_int_equal(ck_httpd_wait_idle(h, 10), 1); /* idle from the start */
    struct slow_call c = {.url = url(h, "http", "127.0.0.1", "/slow?ms=600")};
    int before = atomic_load(&handled);
    assert_int_equal(pthread_create(&th, NULL, slow_thread, &c), 0);
    while (atomic_load(&handled) == before)
        usleep(5000);
    /* In flight: not idle within a short wait. */
    assert_int_equal(ck_httpd_wait_idle(h, 50), 0);
    ck_httpd_quiesce(h);
    /* New connections are refused once quiesced. */
    struct ck_httpc_resp resp;
    char *u = url(h, "http", "127.0.0.1", "/echo");
    struct ck_httpc_req req = {.url = u, .timeout_ms = 2000};
    assert_int_equal(ck_httpc_do(&req, &resp), CK_E_UNAVAILABLE);
    ck_httpc_resp_cleanup(&resp);
    /* The request in flight completes. */
    assert_int_equal(ck_httpd_wait_idle(h, 5000), 1);
    pthread_join(th, NULL);
    assert_int_equal(c.rc, CK_OK);
    assert_int_equal(c.status, 200);
    ck_free(c.url);
    ck_free(u);
    ck_httpd_free(h);
}

static void test_tls(void **state)
{
    (void)state;
    struct ck_pkey *ca_key = NULL, *srv_key = NULL;
    char *ca_pem = NULL, *cert_pem = NULL;
    struct ck_secret *key_pem = NULL;
    char dir[] = "/tmp/ck-http-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(ck_pkey_rsa_generate(2048, &ca_key), CK_OK);
    assert_int_equal(ck_pkey_rsa_generate(2048, &srv_key), CK_OK);
    assert_int_equal(ck_x509_self_signed(ca_key, "crosskey test CA", 1, 30, &ca_pem), CK_OK);
    assert_int_equal(ck_x509_issue(ca_key, ca_pem, srv_key, "localhost", "localhost,127.0.0.1", 30, &cert_pem),
                     CK_OK);
    assert_int_equal(ck_pkey_private_pem(srv_key, &key_pem), CK_OK);
    char *chain = ck_malloc(strlen(cert_pem) + strlen(ca_pem) + 1);
    memcpy(chain, cert_pem, strlen(cert_pem));
    memcpy(chain + strlen(cert_pem), ca_pem, strlen(ca_pem) + 1);
    char *ca_file = ck_path_join(dir, "ca.pem");
    assert_int_equal(ck_write_file_atomic(ca_file, ca_pem, strlen(ca_pem), 0644), 0);

    struct ck_httpd *h = NULL;
    assert_int_equal(start(&h, chain, (const char *)ck_secret_ptr(key_pem)), 0);
    struct ck_httpc_resp resp;
    /* Both names in the SAN verify. */
    static const char *hosts[] = {"localhost", "127.0.0.1"};
    for (int i = 0; i < 2; i++) {
        char *u = url(h, "https", hosts[i], "/echo?api-version=tls");
        struct ck_httpc_req req = {.method = "POST", .url = u, .body = "secure", .body_len = 6, .ca_file = ca_file};
        assert_int_equal(ck_httpc_do(&req, &resp), CK_OK);
        assert_int_equal(resp.status, 200);
        assert_string_equal(resp.body.data, "secure");
        expect_header(&resp, "X-Api-Version", "tls");
        char want[64];
        snprintf(want, sizeof(want), "https://localhost:%u", ck_httpd_port(h));
        expect_header(&resp, "X-Origin", want);
        ck_httpc_resp_cleanup(&resp);
        ck_free(u);
    }
    /* The process-wide CA default works the same way. */
    char *u = url(h, "https", "localhost", "/echo");
    ck_httpc_set_ca_file(ca_file);
    struct ck_httpc_req dflt = {.url = u};
    assert_int_equal(ck_httpc_do(&dflt, &resp), CK_OK);
    assert_int_equal(resp.status, 200);
    ck_httpc_resp_cleanup(&resp);
    ck_httpc_set_ca_file(NULL);
    /* Without trusting the CA (system store only), the handshake is refused. */
    assert_int_equal(ck_httpc_do(&dflt, &resp), CK_E_UNAVAILABLE);
    ck_httpc_resp_cleanup(&resp);
    /* A name outside the SAN is refused. */
    ck_free(u);
    u = url(h, "https", "127.0.0.2", "/echo");
    struct ck_httpc_req wrong = {.url = u, .ca_file = ca_file};
    assert_int_equal(ck_httpc_do(&wrong, &resp), CK_E_UNAVAILABLE);
    ck_httpc_resp_cleanup(&resp);
    ck_free(u);
    /* Plain HTTP to the TLS port gets no response. */
    u = url(h, "http", "127.0.0.1", "/echo");
    struct ck_httpc_req plain = {.url = u, .timeout_ms = 2000};
    int rc = ck_httpc_do(&plain, &resp);
    assert_true(rc != CK_OK || resp.status >= 400);
    ck_httpc_resp_cleanup(&resp);
    ck_free(u);

    ck_httpd_free(h);
    unlink(ca_file);
    rmdir(dir);
    ck_free(ca_file);
    ck_free(chain);
    ck_secret_free(key_pem);
    ck_free(cert_pem);
    ck_free(ca_pem);
    ck_pkey_free(ca_key);
    ck_pkey_free(srv_key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_request_ids),
        cmocka_unit_test(test_body_limit_413),
        cmocka_unit_test(test_404_without_mount),
        cmocka_unit_test(test_listener_config),
        cmocka_unit_test(test_client_limits),
        cmocka_unit_test(test_quiesce_and_drain),
        cmocka_unit_test(test_tls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
