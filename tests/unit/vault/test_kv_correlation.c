/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The correlation id of the vault audit log, over the real stack: a data-plane request that sends
 * a well-formed x-ms-client-request-id (1-64 characters of [A-Za-z0-9-_.:{}], as the storage
 * service sends on wrapkey, unwrapkey and get-key) leaves a record carrying it as "correlationId";
 * the listing filters on it (alone, with callerOid, across pages); a malformed one is left out of
 * the record and the request still succeeds; records with and without the member chain alike, so
 * chains written before the member existed stay valid (verifyAudit and a local recomputation).
 */
#include "kv_fixture.h"
#include "services/vault/kv_int.h"

static struct tenant ta;
static char sub[64], armtok[8192];
static struct principal officer, reader;
static unsigned port;
static char vid[512];
static uint8_t cek[32];
static char wrapped[1024], kid[256];

static int setup(void **state)
{
    char n[37];
    (void)state;
    kf_setup();
    kf_customer("customer", &ta, sub, sizeof(sub), armtok, sizeof(armtok), "rg");
    port = kf_vault(armtok, sub, "rg", "corrvault", ta.tid, 1, 90);
    kf_copy(vid, sizeof(vid), kf_vault_id(sub, "rg", "corrvault"));
    kf_principal(&ta, "officer", &officer);
    kf_principal(&ta, "reader", &reader);
    kf_assign(armtok, sub, vid, ROLE_KV_OFFICER, officer.oid, n);
    kf_assign(armtok, sub, vid, ROLE_KV_USER, reader.oid, n);
    json_t *b = kv_ok(port, "POST", "/keys/cmk/create", officer.tok, "{\"kty\":\"RSA\"}", 200);
    kf_copy(kid, sizeof(kid), ck_json_str(ck_json_obj(b, "key"), "kid"));
    json_decref(b);
    kf_wrap_new_cek(port, officer.tok, "cmk", cek, sizeof(cek), wrapped, sizeof(wrapped));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return kf_teardown();
}

/* An unwrap of the wrapped CEK by the officer, sending header (a whole line, or NULL); it must
 * succeed whatever the header holds. */
static void unwrap_with(const char *header)
{
    const char *body = P("{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", wrapped);
    struct rsp r = kv_call(port, "POST", "/keys/cmk//unwrapkey", officer.tok, body, strlen(body), 0, header);
    json_t *u = kf_take_json(r, 200, "POST", "/keys/cmk//unwrapkey");
    assert_string_equal(ck_json_str(u, "value"), kf_b64(cek, sizeof(cek)));
    json_decref(u);
}

/* The audit records listed with the query suffix q (e.g. "&correlationId=x"), following nextLink
 * through pages of top; returns a new array. */
static json_t *list_records(const char *q, int top)
{
    json_t *all = json_array();
    char path[4096];
    kf_copy(path, sizeof(path), P("%s/auditRecords?api-version=" KF_ARM_KV_API "&$top=%d%s", vid, top, q));
    for (int pages = 0;; pages++) {
        assert_true(pages < 1000);
        json_t *o = kf_bearer_ok("GET", path, armtok, NULL, 200);
        json_t *v = ck_json_arr(o, "value");
        assert_non_null(v);
        assert_true(json_array_size(v) <= (size_t)top);
        json_array_extend(all, v);
        const char *nl = ck_json_str(o, "nextLink");
        if (nl == NULL) {
            json_decref(o);
            return all;
        }
        assert_int_equal(strncmp(nl, F.base, strlen(F.base)), 0);
        /* The next page keeps every filter. */
        for (const char *f = q; *f == '&'; f = f + 1 + strcspn(f + 1, "&")) {
            char part[512];
            size_t fl = 1 + strcspn(f + 1, "&");
            assert_true(fl < sizeof(part));
            memcpy(part, f, fl);
            part[fl] = '\0';
            assert_non_null(strstr(nl, part));
        }
        kf_copy(path, sizeof(path), nl + strlen(F.base));
        json_decref(o);
    }
}

/* The newest audit record of the vault (caller decrefs). */
static json_t *last_record(void)
{
    json_t *all = list_records("", 1000);
    size_t n = json_array_size(all);
    assert_true(n > 0);
    json_t *r = json_incref(json_array_get(all, n - 1));
    json_decref(all);
    return r;
}

/* The validator alone: length 1 to 64, the allowed characters only. */
static void test_correlation_validator(void **state)
{
    char s[80];
    (void)state;
    assert_null(kv_audit_correlation(NULL));
    assert_null(kv_audit_correlation(""));
    assert_non_null(kv_audit_correlation("0f8fad5b-d9cb-469f-a165-70867728950e"));
    assert_non_null(kv_audit_correlation("{0F8FAD5B-D9CB-469F-A165-70867728950E}"));
    assert_non_null(kv_audit_correlation("job_42.part:7"));
    memset(s, 'a', 64);
    s[64] = '\0';
    assert_non_null(kv_audit_correlation(s));
    s[64] = 'a';
    s[65] = '\0';
    assert_null(kv_audit_correlation(s));
    assert_null(kv_audit_correlation("ab\"cd"));
    assert_null(kv_audit_correlation("a b"));
    assert_null(kv_audit_correlation("a/b"));
    assert_null(kv_audit_correlation("a\\b"));
    assert_null(kv_audit_correlation("caf\xc3\xa9"));
}

/* An unwrap with the header leaves a record with that correlationId, and the filter finds exactly
 * it; records of requests without the header have no such member. */
static void test_unwrap_carries_correlation_id(void **state)
{
    char id[37];
    (void)state;
    assert_int_equal(ck_uuid_new(id), CK_OK);
    unwrap_with(NULL);
    unwrap_with(P("x-ms-client-request-id: %s", id));
    json_t *last = last_record();
    assert_string_equal(ck_json_str(last, "operation"), "UnwrapKey");
    assert_string_equal(ck_json_str(last, "correlationId"), id);
    assert_string_equal(ck_json_str(last, "kid"), kid);
    json_decref(last);

    json_t *hits = list_records(P("&correlationId=%s", id), 100);
    assert_int_equal(json_array_size(hits), 1);
    json_t *r = json_array_get(hits, 0);
    assert_string_equal(ck_json_str(r, "correlationId"), id);
    assert_string_equal(ck_json_str(r, "operation"), "UnwrapKey");
    assert_string_equal(ck_json_str(r, "callerOid"), officer.oid);
    assert_int_equal(ck_json_int(r, "result", 0), 200);
    json_decref(hits);

    /* The records without the header have exactly the members they had before: sequence, time,
     * vault, callerOid, callerAppId, callerTenantId, operation, kid, result, clientAddress,
     * requestId, and the listing's prevHash and hash. */
    json_t *all = list_records("", 1000), *rec;
    size_t i;
    int without = 0;
    json_array_foreach(all, i, rec) {
        if (json_object_get(rec, "correlationId") != NULL)
            continue;
        without++;
        assert_int_equal(json_object_size(rec), 13);
    }
    assert_true(without >= 3);
    json_decref(all);
}

/* The filter across pages, together with callerOid, and for ids nobody sent. */
static void test_filter_pages_and_combines(void **state)
{
    const char *id = "job-42:{a.b_c}";
    (void)state;
    for (int i = 0; i < 3; i++) {
        struct rsp r = kv_call(port, "GET", "/keys/cmk", officer.tok, NULL, 0, 0, P("x-ms-client-request-id: %s", id));
        kf_status(&r, 200);
        rsp_free(&r);
    }
    struct rsp r = kv_call(port, "GET", "/keys/cmk", reader.tok, NULL, 0, 0, P("x-ms-client-request-id: %s", id));
    kf_status(&r, 200);
    rsp_free(&r);
    unwrap_with("x-ms-client-request-id: another-id");

    json_t *hits = list_records(P("&correlationId=%s", kf_enc(id)), 1), *rec;
    size_t i;
    assert_int_equal(json_array_size(hits), 4);
    json_array_foreach(hits, i, rec) {
        assert_string_equal(ck_json_str(rec, "correlationId"), id);
        assert_string_equal(ck_json_str(rec, "operation"), "GetKey");
    }
    json_decref(hits);
    hits = list_records(P("&correlationId=%s&callerOid=%s", kf_enc(id), officer.oid), 2);
    assert_int_equal(json_array_size(hits), 3);
    json_decref(hits);
    hits = list_records(P("&callerOid=%s&correlationId=%s", reader.oid, kf_enc(id)), 100);
    assert_int_equal(json_array_size(hits), 1);
    json_decref(hits);
    hits = list_records("&correlationId=another-id", 100);
    assert_int_equal(json_array_size(hits), 1);
    assert_string_equal(ck_json_str(json_array_get(hits, 0), "operation"), "UnwrapKey");
    json_decref(hits);
    hits = list_records("&correlationId=nobody-sent-this", 100);
    assert_int_equal(json_array_size(hits), 0);
    json_decref(hits);
    /* Ids are compared exactly. */
    hits = list_records(P("&correlationId=%s", kf_enc("JOB-42:{A.B_C}")), 100);
    assert_int_equal(json_array_size(hits), 0);
    json_decref(hits);
}

/* A malformed header is left out of the record; the request still succeeds. */
static void test_malformed_is_left_out(void **state)
{
    char longid[201], id65[66], id64[65];
    const char *bad[] = {longid, id65, "ab\"cd", "a b c", "a/b", "caf\xc3\xa9", "{\"x\":1}"};
    (void)state;
    memset(longid, 'a', 200);
    longid[200] = '\0';
    memset(id65, 'b', 65);
    id65[65] = '\0';
    memset(id64, 'c', 64);
    id64[64] = '\0';
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unwrap_with(P("x-ms-client-request-id: %s", bad[i]));
        json_t *last = last_record();
        assert_string_equal(ck_json_str(last, "operation"), "UnwrapKey");
        assert_int_equal(ck_json_int(last, "result", 0), 200);
        if (json_object_get(last, "correlationId") != NULL) {
            print_error("header '%s' was recorded\n", bad[i]);
            fail();
        }
        json_decref(last);
    }
    unwrap_with(P("x-ms-client-request-id: %s", id64));
    json_t *last = last_record();
    assert_string_equal(ck_json_str(last, "correlationId"), id64);
    json_decref(last);
}

/* verifyAudit holds the chain valid, and it recomputes here from the listed records (hash =
 * hex(SHA-256(prevHash "\n" canonical record)), docs/vault.md) with and without correlationId. */
static void test_chain_verifies(void **state)
{
    char prev[65] = KV_ZERO_HASH;
    int valid, with = 0;
    long records, bad;
    (void)state;
    kf_audit_verify(armtok, vid, &valid, &records, &bad);
    assert_true(valid);
    assert_int_equal(bad, -1);
    assert_int_equal(records, kf_audited(port));
    json_t *all = list_records("", 1000), *rec;
    size_t i;
    assert_int_equal(json_array_size(all), records);
    json_array_foreach(all, i, rec) {
        uint8_t h[CK_SHA256_LEN];
        json_t *copy = json_deep_copy(rec);
        assert_string_equal(ck_json_str(rec, "prevHash"), prev);
        json_object_del(copy, "prevHash");
        json_object_del(copy, "hash");
        char *canon = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        const char *text = P("%s\n%s", prev, canon);
        ck_sha256(text, strlen(text), h);
        char *hex = ck_hex_encode(h, sizeof(h));
        assert_string_equal(hex, ck_json_str(rec, "hash"));
        kf_copy(prev, sizeof(prev), hex);
        with += json_object_get(copy, "correlationId") != NULL;
        ck_free(hex);
        free(canon);
        json_decref(copy);
    }
    assert_true(with >= 6);
    json_decref(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_correlation_validator),
        cmocka_unit_test(test_unwrap_carries_correlation_id),
        cmocka_unit_test(test_filter_pages_and_combines),
        cmocka_unit_test(test_malformed_is_left_out),
        cmocka_unit_test(test_chain_verifies),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
