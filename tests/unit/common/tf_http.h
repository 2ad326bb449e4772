/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helpers shared by the service fixtures (tests/unit/identity/fixture.h,
 * tests/unit/vault/kv_fixture.h): one HTTP request with ck_httpc, the response kept as text and
 * parsed JSON, tracking of responses not yet freed (a failed assertion jumps out before rsp_free,
 * and the group teardown releases the rest, so sanitizer runs report only real leaks), and P(), a
 * formatted string in a rotating static buffer. Include after cmocka.h.
 */
#ifndef CK_TESTS_TF_HTTP_H
#define CK_TESTS_TF_HTTP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "http/client/httpc.h"
#include "json/json.h"

#define TF_UNUSED __attribute__((unused))

struct rsp {
    long status;
    char *body;
    json_t *json;
    char *www; /* the WWW-Authenticate header, or NULL */
};

#define TF_MAX_LIVE 64
static struct rsp tf_live[TF_MAX_LIVE];

static TF_UNUSED void tf_live_add(const struct rsp *r)
{
    for (int i = 0; i < TF_MAX_LIVE; i++) {
        if (tf_live[i].body == NULL) {
            tf_live[i] = *r;
            return;
        }
    }
}

static TF_UNUSED void rsp_free(struct rsp *r)
{
    for (int i = 0; i < TF_MAX_LIVE; i++)
        if (r->body != NULL && tf_live[i].body == r->body)
            memset(&tf_live[i], 0, sizeof(tf_live[i]));
    json_decref(r->json);
    ck_free(r->body);
    ck_free(r->www);
    memset(r, 0, sizeof(*r));
}

static TF_UNUSED void tf_live_release(void)
{
    for (int i = 0; i < TF_MAX_LIVE; i++) {
        if (tf_live[i].body != NULL) {
            json_decref(tf_live[i].json);
            ck_free(tf_live[i].body);
            ck_free(tf_live[i].www);
            memset(&tf_live[i], 0, sizeof(tf_live[i]));
        }
    }
}

/* Sends one request. headers is a NULL-terminated list of "Name: value" lines (or NULL). A
 * transport failure fails the test. */
static TF_UNUSED struct rsp tf_http(const char *method, const char *url, const char *const *headers, const char *body,
                                    size_t body_len)
{
    struct ck_httpc_req req = {0};
    struct ck_httpc_resp resp;
    struct rsp r = {0};
    int n = 0;
    req.method = method;
    req.url = url;
    for (; headers != NULL && headers[n] != NULL; n++) {
        assert_true(n < CK_HTTPC_MAX_HEADERS - 1);
        req.headers[n] = headers[n];
    }
    req.headers[n] = NULL;
    req.body = body;
    req.body_len = body_len;
    req.timeout_ms = 30000;
    int rc = ck_httpc_do(&req, &resp);
    if (rc != CK_OK) {
        print_error("%s %s: transport error %d\n", method, url, rc);
        ck_httpc_resp_cleanup(&resp);
        fail();
    }
    r.status = resp.status;
    r.body = ck_strndup(resp.body.data ? resp.body.data : "", resp.body.len);
    assert_non_null(r.body);
    if (resp.body.len > 0)
        r.json = ck_json_parse(resp.body.data, resp.body.len, NULL, 0);
    r.www = ck_httpc_resp_header(&resp, "WWW-Authenticate");
    ck_httpc_resp_cleanup(&resp);
    tf_live_add(&r);
    return r;
}

static char tf_pbuf[24][16384];
static int tf_pidx;
static TF_UNUSED const char *P(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static TF_UNUSED const char *P(const char *fmt, ...)
{
    va_list ap;
    char *b = tf_pbuf[tf_pidx++ % 24];
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof(tf_pbuf[0]), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(tf_pbuf[0]));
    return b;
}

#endif
