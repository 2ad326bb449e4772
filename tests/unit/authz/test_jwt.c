/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for src/authz/jwt.c (DESIGN.md section 6, invariant 3). First ck_verify_token against
 * keys added directly, each refusal asserting its exact enum ck_token_fail: algorithms other than
 * RS256 (even over a valid RS256 signature), unknown and foreign keys, tampering, issuers that are
 * not ours, audience, tenant, lifetime with skew, malformed input and claim sizes; with
 * ck_jwt_sign, ck_jwt_decode_unverified, ck_issuer_tenant and ck_bearer_token. Then the JWKS
 * path: a TLS listener (certificate from a CA made with the crypto API) serving
 * /{tid}/discovery/v2.0/keys, fetched once and cached, refetched at most once per 30 s for an
 * unknown kid, after rotation, after the cache lifetime and after ck_verifier_forget, and
 * CK_TF_UNAVAILABLE when the authority is unreachable or its certificate is not trusted. Last, the
 * verified-token cache: hits return the verified claims while tenant, nbf and audience are still
 * checked per call; entries end at the token's exp; a different token with the same claims and a
 * tampered token miss and are verified in full; forget and JWKS reloads drop entries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "authz/jwt.h"
#include "core/codec.h"
#include "core/fsutil.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "http/client/httpc.h"
#include "http/server/httpd.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TID_A "0a1b2c3d-0000-4000-8000-00000000000a"
#define TID_B "0a1b2c3d-0000-4000-8000-00000000000b"
#define KID_A "kid-a"
#define KID_B "kid-b"
#define OID "5b0c1f6e-1111-4111-8111-000000000001"
#define APPID "5b0c1f6e-2222-4222-8222-000000000002"
#define AUD "https://vault.azure.net"
#define SKEW CK_JWT_SKEW_SECONDS

static struct ck_pkey *key_a, *key_b, *key_c;
static struct ck_verifier *V; /* keys added directly: A's key under KID_A, B's under KID_B */
static const char *const auds[] = {AUD, NULL};

/* ---- helpers ---- */

/* A formatted string in a rotating static buffer. */
static const char *P(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *P(const char *fmt, ...)
{
    static char bufs[16][4096];
    static int idx;
    char *b = bufs[idx++ % 16];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof(bufs[0]), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(bufs[0]));
    return b;
}

/* a then b then c in one new string (caller frees). */
static char *join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = ck_malloc(n);
    assert_non_null(s);
    snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

static char *b64s(const char *text)
{
    char *s = ck_b64url_encode((const uint8_t *)text, strlen(text));
    assert_non_null(s);
    return s;
}

/* The claims of a v1 app token of tid, valid from now for an hour. */
static json_t *claims_v1(const char *tid)
{
    int64_t now = ck_time_now();
    char iss[128];
    snprintf(iss, sizeof(iss), "https://sts.windows.net/%s/", tid);
    json_t *c = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "iss", iss, "tid", tid, "aud", AUD, "oid", OID, "sub", OID,
                          "appid", APPID, "idtyp", "app", "ver", "1.0", "iat", (json_int_t)now, "nbf", (json_int_t)now,
                          "exp", (json_int_t)(now + 3600));
    assert_non_null(c);
    return c;
}

/* claims_v1 with one claim replaced (v NULL removes it; v is consumed). */
static json_t *claims_with(const char *tid, const char *name, json_t *v)
{
    json_t *c = claims_v1(tid);
    if (v == NULL)
        json_object_del(c, name);
    else
        json_object_set_new(c, name, v);
    return c;
}

/* Signs claims (consumed) with ck_jwt_sign; returns the token (caller frees). */
static char *sign(const struct ck_pkey *k, const char *kid, json_t *claims)
{
    struct ck_secret *t = NULL;
    assert_non_null(claims);
    assert_int_equal(ck_jwt_sign(k, kid, NULL, claims, &t), CK_OK);
    json_decref(claims);
    char *s = ck_strdup((const char *)ck_secret_ptr(t));
    ck_secret_free(t);
    assert_non_null(s);
    return s;
}

/* A token with exactly this header and payload text and a valid RS256 signature by k over them. */
static char *sign_raw(const struct ck_pkey *k, const char *header, const char *payload)
{
    char *hb = b64s(header), *pb = b64s(payload);
    char *input = join3(hb, ".", pb);
    struct ck_bytes sig = {0};
    assert_int_equal(ck_rs256_sign(k, input, strlen(input), &sig), CK_OK);
    char *sb = ck_b64url_encode(sig.ptr, sig.len);
    char *tok = join3(input, ".", sb);
    ck_free(hb);
    ck_free(pb);
    ck_free(input);
    ck_free(sig.ptr);
    ck_free(sb);
    return tok;
}

/* sign_raw with claims (consumed) as the payload. */
static char *sign_hdr(const struct ck_pkey *k, const char *header, json_t *claims)
{
    char *pj = ck_json_dump(claims);
    assert_non_null(pj);
    char *t = sign_raw(k, header, pj);
    free(pj);
    json_decref(claims);
    return t;
}

/* tok with its header part replaced by base64url(header), payload and signature kept. */
static char *with_header(const char *tok, const char *header)
{
    char *hb = b64s(header);
    char *t = join3(hb, strchr(tok, '.'), "");
    ck_free(hb);
    return t;
}

/* tok with its payload part replaced by base64url(payload), header and signature kept. */
static char *with_payload(const char *tok, const char *payload)
{
    const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    char *head = ck_strndup(tok, (size_t)(d1 - tok) + 1);
    char *pb = b64s(payload);
    char *t = join3(head, pb, d2);
    ck_free(head);
    ck_free(pb);
    return t;
}

/* tok with its signature part replaced by sig (text). */
static char *with_sig(const char *tok, const char *sig)
{
    char *head = ck_strndup(tok, (size_t)(strrchr(tok, '.') - tok) + 1);
    char *t = join3(head, sig, "");
    ck_free(head);
    return t;
}

/* Verifies tok (consumed) with v and expects want; names both on a mismatch. */
static void expect_at(int line, struct ck_verifier *v, char *tok, const char *const *aud, const char *tenant,
                      enum ck_token_fail want)
{
    struct ck_claims c;
    enum ck_token_fail got = ck_verify_token(v, tok, aud, tenant, &c);
    ck_free(tok);
    if (got != want) {
        print_error("line %d: want %d (%s), got %d (%s)\n", line, (int)want, ck_token_fail_text(want), (int)got,
                    ck_token_fail_text(got));
        fail();
    }
}

#define EXPECT(want, tok) expect_at(__LINE__, V, (tok), auds, NULL, (want))
#define EXPECT_V(v, want, tok) expect_at(__LINE__, (v), (tok), auds, NULL, (want))

/* ---- signing and decoding ---- */

static void test_sign_and_decode(void **state)
{
    (void)state;
    json_t *c = claims_v1(TID_A);
    struct ck_secret *t = NULL;
    json_t *h = NULL, *p = NULL;
    assert_int_equal(ck_jwt_sign(key_a, KID_A, "x5t-thumb", c, &t), CK_OK);
    const char *tok = (const char *)ck_secret_ptr(t);
    assert_int_equal(ck_secret_len(t), strlen(tok) + 1);
    assert_int_equal(ck_jwt_decode_unverified(tok, &h, &p), CK_OK);
    assert_int_equal(json_object_size(h), 4);
    assert_string_equal(ck_json_str(h, "typ"), "JWT");
    assert_string_equal(ck_json_str(h, "alg"), "RS256");
    assert_string_equal(ck_json_str(h, "kid"), KID_A);
    assert_string_equal(ck_json_str(h, "x5t"), "x5t-thumb");
    assert_true(json_equal(p, c));
    json_decref(h);
    json_decref(p);
    /* The signature is RS256 over the first two parts, base64url without padding. */
    const char *d2 = strrchr(tok, '.');
    uint8_t *sig = NULL;
    size_t siglen = 0;
    assert_null(strchr(tok, '='));
    assert_int_equal(ck_b64url_decode(d2 + 1, strlen(d2 + 1), &sig, &siglen), 0);
    assert_int_equal(siglen, 256);
    assert_int_equal(ck_rs256_verify(key_a, tok, (size_t)(d2 - tok), sig, siglen), CK_OK);
    assert_int_not_equal(ck_rs256_verify(key_b, tok, (size_t)(d2 - tok), sig, siglen), CK_OK);
    ck_free(sig);
    struct ck_claims cl;
    assert_int_equal(ck_verify_token(V, tok, auds, TID_A, &cl), CK_TF_NONE);
    ck_secret_free(t);

    /* Without x5t the header has no x5t member. */
    assert_int_equal(ck_jwt_sign(key_a, KID_A, NULL, c, &t), CK_OK);
    assert_int_equal(ck_jwt_decode_unverified((const char *)ck_secret_ptr(t), &h, &p), CK_OK);
    assert_int_equal(json_object_size(h), 3);
    assert_null(json_object_get(h, "x5t"));
    json_decref(h);
    json_decref(p);
    ck_secret_free(t);

    /* Claims too large for CK_JWT_MAX_LEN: an error and no token. */
    char *big = ck_malloc(CK_JWT_MAX_LEN);
    memset(big, 'x', CK_JWT_MAX_LEN - 1);
    big[CK_JWT_MAX_LEN - 1] = '\0';
    json_object_set_new(c, "pad", json_string(big));
    t = NULL;
    assert_int_not_equal(ck_jwt_sign(key_a, KID_A, NULL, c, &t), CK_OK);
    assert_null(t);
    ck_free(big);
    json_decref(c);
}

static void test_decode_unverified(void **state)
{
    (void)state;
    json_t *h = NULL, *p = NULL;
    char *hb = b64s("{\"alg\":\"none\"}"), *pb = b64s("{\"a\":1}"), *arr = b64s("[1,2]"), *nj = b64s("{\"alg\"");
    /* Nothing is verified: any signature text that decodes will do. */
    assert_int_equal(ck_jwt_decode_unverified(P("%s.%s.", hb, pb), &h, &p), CK_OK);
    assert_string_equal(ck_json_str(h, "alg"), "none");
    assert_int_equal(ck_json_int(p, "a", 0), 1);
    json_decref(h);
    json_decref(p);
    const char *bad[] = {
        "", "abc", P("%s.%s", hb, pb), P("%s.%s.x.y", hb, pb), P("%s..", hb), P(".%s.", pb), P("%s.%s.", hb, arr),
        P("%s.%s.", arr, pb), P("%s.%s.", nj, pb), P("%s!.%s.", hb, pb), P("%s.%s*.", hb, pb),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        h = p = NULL;
        if (ck_jwt_decode_unverified(bad[i], &h, &p) != CK_E_INVALID) {
            print_error("accepted: \"%s\"\n", bad[i]);
            fail();
        }
        assert_null(h);
        assert_null(p);
    }
    assert_int_equal(ck_jwt_decode_unverified(NULL, &h, &p), CK_E_INVALID);
    ck_free(hb);
    ck_free(pb);
    ck_free(arr);
    ck_free(nj);
}

/* ---- verification with keys added directly ---- */

static void test_valid_v1_v2(void **state)
{
    (void)state;
    struct ck_claims c;
    int64_t now = ck_time_now();
    json_t *cl = claims_v1(TID_A);
    json_object_set_new(cl, "xms_mirid", json_string("/subscriptions/s/resourcegroups/rg/providers/"
                                                     "Microsoft.ManagedIdentity/userAssignedIdentities/u"));
    char *t = sign(key_a, KID_A, cl);
    assert_int_equal(ck_verify_token(V, t, auds, TID_A, &c), CK_TF_NONE);
    assert_string_equal(c.iss, P("https://sts.windows.net/%s/", TID_A));
    assert_string_equal(c.tid, TID_A);
    assert_string_equal(c.oid, OID);
    assert_string_equal(c.sub, OID);
    assert_string_equal(c.appid, APPID);
    assert_string_equal(c.aud, AUD);
    assert_string_equal(c.idtyp, "app");
    assert_string_equal(c.ver, "1.0");
    assert_string_equal(c.xms_mirid, "/subscriptions/s/resourcegroups/rg/providers/"
                                     "Microsoft.ManagedIdentity/userAssignedIdentities/u");
    assert_true(c.iat >= now && c.iat <= now + 5);
    assert_int_equal(c.nbf, c.iat);
    assert_int_equal(c.exp, c.iat + 3600);
    ck_free(t);
    /* No audience list skips the audience check; no tenant skips the tenant check. */
    t = sign(key_a, KID_A, claims_with(TID_A, "aud", json_string("https://elsewhere")));
    assert_int_equal(ck_verify_token(V, t, NULL, NULL, &c), CK_TF_NONE);
    ck_free(t);

    /* v2: issuer login.microsoftonline.com/{tid}/v2.0 and azp instead of appid. */
    cl = claims_with(TID_B, "appid", NULL);
    json_object_set_new(cl, "iss", json_string(P("https://login.microsoftonline.com/%s/v2.0", TID_B)));
    json_object_set_new(cl, "azp", json_string(APPID));
    json_object_set_new(cl, "ver", json_string("2.0"));
    json_object_set_new(cl, "aud", json_string("api://AzureADTokenExchange"));
    const char *const xaud[] = {"https://other", "api://AzureADTokenExchange", NULL};
    t = sign(key_b, KID_B, cl);
    memset(&c, 0, sizeof(c));
    assert_int_equal(ck_verify_token(V, t, xaud, TID_B, &c), CK_TF_NONE);
    assert_string_equal(c.iss, P("https://login.microsoftonline.com/%s/v2.0", TID_B));
    assert_string_equal(c.tid, TID_B);
    assert_string_equal(c.appid, APPID);
    assert_string_equal(c.ver, "2.0");
    assert_string_equal(c.xms_mirid, "");
    ck_free(t);
}

static void test_claims_copied(void **state)
{
    (void)state;
    struct ck_claims c;
    /* appid wins over azp when both are present. */
    char *t = sign(key_a, KID_A, claims_with(TID_A, "azp", json_string("azp-value")));
    assert_int_equal(ck_verify_token(V, t, auds, NULL, &c), CK_TF_NONE);
    assert_string_equal(c.appid, APPID);
    ck_free(t);
    /* Without a tid claim the tenant comes from the issuer. */
    t = sign(key_a, KID_A, claims_with(TID_A, "tid", NULL));
    assert_int_equal(ck_verify_token(V, t, auds, TID_A, &c), CK_TF_NONE);
    assert_string_equal(c.tid, TID_A);
    ck_free(t);

    /* Each claim at its buffer's capacity is accepted; one more character is malformed. */
    static const struct {
        const char *name;
        size_t cap;
    } caps[] = {{"oid", sizeof(c.oid)}, {"sub", sizeof(c.sub)}, {"appid", sizeof(c.appid)},
                {"idtyp", sizeof(c.idtyp)}, {"ver", sizeof(c.ver)}, {"xms_mirid", sizeof(c.xms_mirid)}};
    char s[1024];
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        memset(s, 'o', sizeof(s));
        s[caps[i].cap - 1] = '\0';
        t = sign(key_a, KID_A, claims_with(TID_A, caps[i].name, json_string(s)));
        memset(&c, 0, sizeof(c));
        assert_int_equal(ck_verify_token(V, t, auds, NULL, &c), CK_TF_NONE);
        ck_free(t);
        s[caps[i].cap - 1] = 'o';
        s[caps[i].cap] = '\0';
        EXPECT(CK_TF_MALFORMED, sign(key_a, KID_A, claims_with(TID_A, caps[i].name, json_string(s))));
    }
    /* An over-long azp (v2 tokens carry no appid). */
    memset(s, 'z', 64);
    s[64] = '\0';
    json_t *cl = claims_with(TID_A, "appid", NULL);
    json_object_set_new(cl, "azp", json_string(s));
    EXPECT(CK_TF_MALFORMED, sign(key_a, KID_A, cl));

    /* A refusal leaves *out untouched. */
    memset(&c, 0x5a, sizeof(c));
    struct ck_claims before = c;
    t = sign(key_a, KID_A, claims_with(TID_A, "aud", json_string("https://elsewhere")));
    assert_int_equal(ck_verify_token(V, t, auds, NULL, &c), CK_TF_AUDIENCE);
    assert_memory_equal(&c, &before, sizeof(c));
    ck_free(t);
}

/* Invariant 3: only RS256. Each header below comes with a valid RS256 signature over it by the
 * right key, so only the algorithm label is wrong. */
static void test_algorithms(void **state)
{
    (void)state;
    static const char *const hdrs[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"" KID_A "\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"" KID_A "\"}",
        "{\"alg\":\"RS512\",\"typ\":\"JWT\",\"kid\":\"" KID_A "\"}",
        "{\"alg\":\"RS384\",\"typ\":\"JWT\",\"kid\":\"" KID_A "\"}",
        "{\"alg\":\"PS256\",\"typ\":\"JWT\",\"kid\":\"" KID_A "\"}",
        "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"" KID_A "\"}",
        "{\"alg\":\"rs256\",\"typ\":\"JWT\",\"kid\":\"" KID_A "\"}",
        "{\"alg\":\"RS256 \",\"typ\":\"JWT\",\"kid\":\"" KID_A "\"}",
        "{\"alg\":\"\",\"typ\":\"JWT\",\"kid\":\"" KID_A "\"}",
        "{\"alg\":256,\"typ\":\"JWT\",\"kid\":\"" KID_A "\"}",
        "{\"alg\":null,\"typ\":\"JWT\",\"kid\":\"" KID_A "\"}",
        "{\"alg\":[\"RS256\"],\"typ\":\"JWT\",\"kid\":\"" KID_A "\"}",
        "{\"typ\":\"JWT\",\"kid\":\"" KID_A "\"}",
    };
    for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++)
        EXPECT(CK_TF_ALG, sign_hdr(key_a, hdrs[i], claims_v1(TID_A)));

    /* none with an empty signature. */
    char *t = sign(key_a, KID_A, claims_v1(TID_A));
    char *n = with_header(t, "{\"alg\":\"none\",\"typ\":\"JWT\"}");
    EXPECT(CK_TF_ALG, with_sig(n, ""));
    ck_free(n);

    /* HS256 with the public key as the HMAC secret (modulus bytes, its base64url text, e || n). */
    struct ck_bytes nb = {0}, eb = {0};
    assert_int_equal(ck_pkey_rsa_public(key_a, &nb, &eb), CK_OK);
    char *ntext = ck_b64url_encode(nb.ptr, nb.len);
    uint8_t *en = ck_malloc(eb.len + nb.len);
    memcpy(en, eb.ptr, eb.len);
    memcpy(en + eb.len, nb.ptr, nb.len);
    const struct ck_bytes secrets[] = {{nb.ptr, nb.len}, {(uint8_t *)ntext, strlen(ntext)}, {en, eb.len + nb.len}};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        char *hs = with_header(t, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"" KID_A "\"}");
        const char *dot = strrchr(hs, '.');
        uint8_t mac[CK_SHA256_LEN];
        assert_int_equal(ck_hmac_sha256(secrets[i].ptr, secrets[i].len, hs, (size_t)(dot - hs), mac), CK_OK);
        char *sb = ck_b64url_encode(mac, sizeof(mac));
        EXPECT(CK_TF_ALG, with_sig(hs, sb));
        ck_free(sb);
        ck_free(hs);
    }
    ck_free(en);
    ck_free(ntext);
    ck_free(nb.ptr);
    ck_free(eb.ptr);
    ck_free(t);
}

static void test_keys(void **state)
{
    (void)state;
    /* Unknown kid for the issuer's tenant. */
    EXPECT(CK_TF_KEY, sign(key_a, "kid-unknown", claims_v1(TID_A)));
    /* Tenant A's issuer, signed by B's key under B's kid: A has no such key. */
    EXPECT(CK_TF_KEY, sign(key_b, KID_B, claims_v1(TID_A)));
    /* Tenant B's issuer, signed by A's key under A's kid. */
    EXPECT(CK_TF_KEY, sign(key_a, KID_A, claims_v1(TID_B)));
    /* Tenant A's issuer and kid, signed by B's key. */
    EXPECT(CK_TF_SIGNATURE, sign(key_b, KID_A, claims_v1(TID_A)));
    /* kid missing or not a string. */
    EXPECT(CK_TF_MALFORMED, sign_hdr(key_a, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", claims_v1(TID_A)));
    EXPECT(CK_TF_MALFORMED, sign_hdr(key_a, "{\"alg\":\"RS256\",\"kid\":7}", claims_v1(TID_A)));
    /* A tenant without any key and no authority to fetch from. */
    EXPECT(CK_TF_UNAVAILABLE, sign(key_a, KID_A, claims_v1("0a1b2c3d-0000-4000-8000-00000000000c")));
    /* Forgetting a tenant whose keys were added directly keeps them. */
    ck_verifier_forget(V, TID_A);
    EXPECT(CK_TF_NONE, sign(key_a, KID_A, claims_v1(TID_A)));
}

static void test_tampered(void **state)
{
    (void)state;
    char *t = sign(key_a, KID_A, claims_v1(TID_A));
    /* Payload changed (a longer lifetime), signature kept. */
    json_t *c = claims_v1(TID_A);
    json_object_set_new(c, "exp", json_integer(ck_time_now() + 86400 * 365));
    char *pj = ck_json_dump(c);
    EXPECT(CK_TF_SIGNATURE, with_payload(t, pj));
    free(pj);
    json_decref(c);
    /* Header changed (still RS256 and the right kid). */
    EXPECT(CK_TF_SIGNATURE, with_header(t, "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"" KID_A "\",\"x\":1}"));
    /* One signature character changed. */
    char *s = ck_strdup(t);
    char *ch = strrchr(s, '.') + 10;
    *ch = *ch == 'A' ? 'B' : 'A';
    EXPECT(CK_TF_SIGNATURE, s);
    /* Truncated signatures that are still base64url, empty, and extended. */
    const char *sig = strrchr(t, '.') + 1;
    size_t sl = strlen(sig);
    assert_int_equal(sl, 342);
    char part[400];
    snprintf(part, sizeof(part), "%.*s", (int)(sl - 2), sig);
    EXPECT(CK_TF_SIGNATURE, with_sig(t, part));
    snprintf(part, sizeof(part), "%.*s", (int)(sl - 6), sig);
    EXPECT(CK_TF_SIGNATURE, with_sig(t, part));
    snprintf(part, sizeof(part), "%.*s", 8, sig);
    EXPECT(CK_TF_SIGNATURE, with_sig(t, part));
    EXPECT(CK_TF_SIGNATURE, with_sig(t, ""));
    snprintf(part, sizeof(part), "%sAAAA", sig);
    EXPECT(CK_TF_SIGNATURE, with_sig(t, part));
    /* A signature that is not base64url (a dangling sextet, a foreign character) is malformed. */
    snprintf(part, sizeof(part), "%.*s", (int)(sl - 1), sig);
    EXPECT(CK_TF_MALFORMED, with_sig(t, part));
    snprintf(part, sizeof(part), "%.*s+", (int)(sl - 1), sig);
    EXPECT(CK_TF_MALFORMED, with_sig(t, part));
    /* The signature of another token by the same key. */
    char *other = sign(key_a, KID_A, claims_with(TID_A, "oid", json_string("someone-else")));
    EXPECT(CK_TF_SIGNATURE, with_sig(t, strrchr(other, '.') + 1));
    ck_free(other);
    /* The original still verifies. */
    EXPECT(CK_TF_NONE, t);
}

static void test_issuers(void **state)
{
    (void)state;
    const char *bad[] = {
        P("https://evil.example/%s/v2.0", TID_A),
        P("https://evil.example/%s/", TID_A),
        "https://sts.windows.net/not-a-guid/",
        P("https://sts.windows.net/%s", TID_A),
        P("https://sts.windows.net/%s//", TID_A),
        P("https://sts.windows.net/%s/v2.0", TID_A),
        P("https://sts.windows.net/x/%s/", TID_A),
        P("http://sts.windows.net/%s/", TID_A),
        P("https://STS.windows.net/%s/", TID_A),
        P("https://sts.windows.net.evil.example/%s/", TID_A),
        P("https://login.microsoftonline.com/%s/v2.0/", TID_A),
        P("https://login.microsoftonline.com/%s/", TID_A),
        P("https://login.microsoftonline.com/%s", TID_A),
        P("https://login.microsoftonline.com/%s/v2.00", TID_A),
        P("https://login.microsoftonline.com/%s/V2.0", TID_A),
        P("https://login.microsoftonline.com/common/%s/v2.0", TID_A),
        "https://login.microsoftonline.com/common/v2.0",
        "",
    };
    char tid[64];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ck_issuer_tenant(bad[i], tid) != 0) {
            print_error("issuer accepted: %s\n", bad[i]);
            fail();
        }
        EXPECT(CK_TF_ISSUER, sign(key_a, KID_A, claims_with(TID_A, "iss", json_string(bad[i]))));
    }
    assert_int_equal(ck_issuer_tenant(NULL, tid), 0);
    EXPECT(CK_TF_ISSUER, sign(key_a, KID_A, claims_with(TID_A, "iss", NULL)));
    EXPECT(CK_TF_ISSUER, sign(key_a, KID_A, claims_with(TID_A, "iss", json_integer(1))));

    /* Ours: both forms name the tenant. */
    assert_int_equal(ck_issuer_tenant(P("https://sts.windows.net/%s/", TID_A), tid), 1);
    assert_string_equal(tid, TID_A);
    assert_int_equal(ck_issuer_tenant(P("https://login.microsoftonline.com/%s/v2.0", TID_B), tid), 1);
    assert_string_equal(tid, TID_B);
    /* A tenant segment of 64 characters or more. */
    char longseg[80];
    memset(longseg, 'a', 70);
    longseg[70] = '\0';
    assert_int_equal(ck_issuer_tenant(P("https://sts.windows.net/%s/", longseg), tid), 0);

    /* The tid claim must name the issuer's tenant. */
    EXPECT(CK_TF_ISSUER, sign(key_a, KID_A, claims_with(TID_A, "tid", json_string(TID_B))));
    EXPECT(CK_TF_ISSUER, sign(key_b, KID_B, claims_with(TID_B, "tid", json_string(TID_A))));
}

static void test_audience(void **state)
{
    (void)state;
    EXPECT(CK_TF_AUDIENCE, sign(key_a, KID_A, claims_with(TID_A, "aud", json_string("https://storage.azure.com"))));
    EXPECT(CK_TF_AUDIENCE, sign(key_a, KID_A, claims_with(TID_A, "aud", json_string(AUD "/"))));
    EXPECT(CK_TF_AUDIENCE, sign(key_a, KID_A, claims_with(TID_A, "aud", json_pack("[s,s]", "https://a", "https://b"))));
    EXPECT(CK_TF_AUDIENCE, sign(key_a, KID_A, claims_with(TID_A, "aud", json_pack("[]"))));
    EXPECT(CK_TF_AUDIENCE, sign(key_a, KID_A, claims_with(TID_A, "aud", json_integer(1))));
    EXPECT(CK_TF_AUDIENCE, sign(key_a, KID_A, claims_with(TID_A, "aud", NULL)));
    EXPECT(CK_TF_NONE, sign(key_a, KID_A, claims_with(TID_A, "aud", json_pack("[s,s]", "https://a", AUD))));
    /* Any of several accepted audiences; none accepted at all. */
    const char *const two[] = {"https://other", AUD, NULL};
    const char *const none[] = {NULL};
    expect_at(__LINE__, V, sign(key_a, KID_A, claims_v1(TID_A)), two, NULL, CK_TF_NONE);
    expect_at(__LINE__, V, sign(key_a, KID_A, claims_v1(TID_A)), none, NULL, CK_TF_AUDIENCE);
}

static void test_tenant(void **state)
{
    (void)state;
    expect_at(__LINE__, V, sign(key_a, KID_A, claims_v1(TID_A)), auds, TID_B, CK_TF_TENANT);
    expect_at(__LINE__, V, sign(key_b, KID_B, claims_v1(TID_B)), auds, TID_A, CK_TF_TENANT);
    expect_at(__LINE__, V, sign(key_a, KID_A, claims_v1(TID_A)), auds, "", CK_TF_TENANT);
    expect_at(__LINE__, V, sign(key_a, KID_A, claims_v1(TID_A)), auds, TID_A, CK_TF_NONE);
    expect_at(__LINE__, V, sign(key_b, KID_B, claims_v1(TID_B)), auds, TID_B, CK_TF_NONE);
}

static void test_lifetime(void **state)
{
    (void)state;
    int64_t now = ck_time_now();
    /* Expired beyond the skew, and just within it. */
    EXPECT(CK_TF_EXPIRED, sign(key_a, KID_A, claims_with(TID_A, "exp", json_integer(now - SKEW - 10))));
    EXPECT(CK_TF_NONE, sign(key_a, KID_A, claims_with(TID_A, "exp", json_integer(now - SKEW + 10))));
    /* Not yet valid beyond the skew, and just within it. */
    EXPECT(CK_TF_NOT_YET, sign(key_a, KID_A, claims_with(TID_A, "nbf", json_integer(now + SKEW + 10))));
    EXPECT(CK_TF_NONE, sign(key_a, KID_A, claims_with(TID_A, "nbf", json_integer(now + SKEW - 10))));
    EXPECT(CK_TF_NONE, sign(key_a, KID_A, claims_with(TID_A, "nbf", NULL)));
    /* exp is required and must be an integer. */
    EXPECT(CK_TF_MALFORMED, sign(key_a, KID_A, claims_with(TID_A, "exp", NULL)));
    EXPECT(CK_TF_MALFORMED, sign(key_a, KID_A, claims_with(TID_A, "exp", json_string(P("%lld", (long long)now + 60)))));
    EXPECT(CK_TF_MALFORMED, sign(key_a, KID_A, claims_with(TID_A, "exp", json_real((double)now + 60))));
    EXPECT(CK_TF_MALFORMED, sign(key_a, KID_A, claims_with(TID_A, "exp", json_null())));
    /* The same token as the clock moves (ck_time_set_offset). */
    char *t = sign(key_a, KID_A, claims_v1(TID_A));
    ck_time_set_offset(3600 + SKEW - 10);
    EXPECT(CK_TF_NONE, ck_strdup(t));
    ck_time_set_offset(3600 + SKEW + 10);
    EXPECT(CK_TF_EXPIRED, ck_strdup(t));
    ck_time_set_offset(-SKEW + 10);
    EXPECT(CK_TF_NONE, ck_strdup(t));
    ck_time_set_offset(-SKEW - 10);
    EXPECT(CK_TF_NOT_YET, ck_strdup(t));
    ck_time_set_offset(0);
    ck_free(t);
}

/* A token signed by A's key whose total length is exactly len (a padding claim of 'p's), or NULL
 * when no padding gives exactly that length (base64url never ends a part at 4k+1 characters).
 * Built with sign_raw: ck_jwt_sign itself refuses to make a token over CK_JWT_MAX_LEN. */
static char *token_of_length(size_t len)
{
    static const char hdr[] = "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"" KID_A "\"}";
    json_t *c = claims_with(TID_A, "pad", json_string(""));
    char *pj = ck_json_dump(c);
    /* Unpadded base64url of n bytes has (4n + 2) / 3 characters; the signature has 342. */
    size_t j0 = strlen(pj), fixed = ((sizeof(hdr) - 1) * 4 + 2) / 3 + 1 + 1 + 342;
    free(pj);
    for (size_t pad = 0;; pad++) {
        size_t total = fixed + ((j0 + pad) * 4 + 2) / 3;
        if (total > len) {
            json_decref(c);
            return NULL;
        }
        if (total == len) {
            char *s = ck_malloc(pad + 1);
            memset(s, 'p', pad);
            s[pad] = '\0';
            json_object_set_new(c, "pad", json_string(s));
            ck_free(s);
            char *t = sign_hdr(key_a, hdr, c);
            assert_int_equal(strlen(t), len);
            return t;
        }
    }
}

static void test_malformed(void **state)
{
    (void)state;
    char *t = sign(key_a, KID_A, claims_v1(TID_A));
    const char *d1 = strchr(t, '.');
    char *hb = ck_strndup(t, (size_t)(d1 - t));
    char *pb = ck_strndup(d1 + 1, (size_t)(strrchr(t, '.') - d1 - 1));
    const char *sig = strrchr(t, '.') + 1;
    char *arr = b64s("[1,2]"), *notjson = b64s("{\"alg\":\"RS256\""), *str = b64s("\"RS256\"");
    const char *bad[] = {
        "abc",
        P("%s.%s", hb, pb),
        P("%s.%s.%s.%s", hb, pb, sig, sig),
        P("%s.%s.%s.", hb, pb, sig),
        "..",
        P(".%s.%s", pb, sig),
        P("%s..%s", hb, sig),
        P("%s!.%s.%s", hb, pb, sig),
        P("%s.%s*.%s", hb, pb, sig),
        P("%s.%s.%s", notjson, pb, sig),
        P("%s.%s.%s", arr, pb, sig),
        P("%s.%s.%s", str, pb, sig),
        P("%s.%s.%s", hb, arr, sig),
        P("%s.%s.%s", hb, notjson, sig),
        P("%s.%s.%s", hb, str, sig),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT(CK_TF_MALFORMED, ck_strdup(bad[i]));
    /* Duplicate members are refused rather than resolved one way or the other. */
    EXPECT(CK_TF_MALFORMED, sign_raw(key_a, "{\"alg\":\"RS256\",\"alg\":\"none\",\"kid\":\"" KID_A "\"}", "{}"));
    json_t *c = claims_v1(TID_A);
    char *pj = ck_json_dump(c);
    json_decref(c);
    assert_non_null(pj);
    char *dup = join3("{\"aud\":\"https://other\",", pj + 1, "");
    EXPECT(CK_TF_MALFORMED, sign_raw(key_a, "{\"alg\":\"RS256\",\"kid\":\"" KID_A "\"}", dup));
    ck_free(dup);
    free(pj);
    /* Empty and absent tokens are missing, not malformed. */
    EXPECT(CK_TF_MISSING, ck_strdup(""));
    EXPECT(CK_TF_MISSING, NULL);
    /* Length: up to CK_JWT_MAX_LEN is accepted (the longest length a token can have), over it is
     * malformed. */
    char *at = NULL, *over = NULL;
    for (size_t l = CK_JWT_MAX_LEN; at == NULL && l > CK_JWT_MAX_LEN - 3; l--)
        at = token_of_length(l);
    for (size_t l = CK_JWT_MAX_LEN + 1; over == NULL && l < CK_JWT_MAX_LEN + 4; l++)
        over = token_of_length(l);
    assert_non_null(at);
    assert_true(strlen(at) <= CK_JWT_MAX_LEN);
    EXPECT(CK_TF_NONE, at);
    assert_non_null(over);
    assert_true(strlen(over) > CK_JWT_MAX_LEN);
    EXPECT(CK_TF_MALFORMED, over);
    ck_free(hb);
    ck_free(pb);
    ck_free(arr);
    ck_free(notjson);
    ck_free(str);
    ck_free(t);
}

static void test_bearer(void **state)
{
    (void)state;
    assert_string_equal(ck_bearer_token("Bearer x"), "x");
    assert_string_equal(ck_bearer_token("bearer x"), "x");
    assert_string_equal(ck_bearer_token("BEARER x.y.z"), "x.y.z");
    assert_string_equal(ck_bearer_token("Bearer   x"), "x");
    assert_null(ck_bearer_token("Basic x"));
    assert_null(ck_bearer_token("Bearer"));
    assert_null(ck_bearer_token("Bearer "));
    assert_null(ck_bearer_token("Bearer    "));
    assert_null(ck_bearer_token("Bearerx"));
    assert_null(ck_bearer_token(""));
    assert_null(ck_bearer_token(NULL));
}

static void test_fail_text(void **state)
{
    (void)state;
    for (int i = CK_TF_NONE; i <= CK_TF_UNAVAILABLE; i++) {
        const char *s = ck_token_fail_text((enum ck_token_fail)i);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        for (int j = CK_TF_NONE; j < i; j++)
            assert_string_not_equal(s, ck_token_fail_text((enum ck_token_fail)j));
    }
}

/* ---- the JWKS fetch path ---- */

#define JWKS_MAX_TENANTS 16

/* A JWKS listener: per-tenant documents (NULL: 404; "!" answers 500) and a request count. */
struct jwks_srv {
    pthread_mutex_t mu;
    struct {
        char tid[37];
        char *doc;
    } t[JWKS_MAX_TENANTS];
    _Atomic int hits;
    struct ck_httpd *h;
};

static struct jwks_srv good, rogue;
static char ca_dir[] = "/tmp/ck-jwt-XXXXXX";
static char *ca_file;
static struct ck_verifier *VF; /* authority: the good listener, trusting the test CA */
static struct ck_verifier *tmp_v; /* a test's own verifier, freed after the test even if it fails */

static void jwks_handle(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    struct jwks_srv *s = ctx;
    const char *p = ck_req_path(req);
    static const char tail[] = "/discovery/v2.0/keys";
    atomic_fetch_add(&s->hits, 1);
    ck_resp_status(resp, 404);
    if (strlen(p) != 1 + 36 + sizeof(tail) - 1 || strcmp(p + 37, tail) != 0)
        return;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < JWKS_MAX_TENANTS; i++) {
        if (s->t[i].doc != NULL && strncmp(s->t[i].tid, p + 1, 36) == 0) {
            if (strcmp(s->t[i].doc, "!") == 0) {
                ck_resp_status(resp, 500);
            } else {
                ck_resp_status(resp, 200);
                ck_resp_body(resp, "application/json", s->t[i].doc, strlen(s->t[i].doc));
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
}

/* Sets the document s serves for tid (copied; NULL stops serving it). */
static void serve(struct jwks_srv *s, const char *tid, const char *doc)
{
    int slot = -1;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < JWKS_MAX_TENANTS; i++) {
        if (slot < 0 && (s->t[i].doc == NULL || strcmp(s->t[i].tid, tid) == 0))
            slot = i;
        if (s->t[i].doc != NULL && strcmp(s->t[i].tid, tid) == 0) {
            slot = i;
            break;
        }
    }
    if (slot >= 0) {
        free(s->t[slot].doc);
        s->t[slot].doc = doc ? strdup(doc) : NULL;
        snprintf(s->t[slot].tid, sizeof(s->t[slot].tid), "%s", tid);
    }
    pthread_mutex_unlock(&s->mu);
    assert_true(slot >= 0);
}

/* {"keys":[...]} for n keys and kids (caller frees with free). */
static char *jwks_of(int n, struct ck_pkey *const *keys, const char *const *kids)
{
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        struct ck_bytes nb = {0}, eb = {0};
        assert_int_equal(ck_pkey_rsa_public(keys[i], &nb, &eb), CK_OK);
        char *ns = ck_b64url_encode(nb.ptr, nb.len), *es = ck_b64url_encode(eb.ptr, eb.len);
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "RSA", "use", "sig", "kid", kids[i], "n",
                                             ns, "e", es));
        ck_free(ns);
        ck_free(es);
        ck_free(nb.ptr);
        ck_free(eb.ptr);
    }
    json_t *doc = json_pack("{s:o}", "keys", arr);
    char *s = ck_json_dump(doc);
    json_decref(doc);
    assert_non_null(s);
    return s;
}

static void serve_keys(struct jwks_srv *s, const char *tid, int n, struct ck_pkey *const *keys,
                       const char *const *kids)
{
    char *doc = jwks_of(n, keys, kids);
    serve(s, tid, doc);
    free(doc);
}

/* Starts s over TLS with a certificate for 127.0.0.1 and localhost issued by a new CA named cn;
 * when ca_out is not NULL the CA certificate PEM is returned there (caller frees). */
static void jwks_start(struct jwks_srv *s, const char *cn, char **ca_out)
{
    struct ck_pkey *ca_key = NULL, *srv_key = NULL;
    char *ca_pem = NULL, *cert = NULL;
    struct ck_secret *key_pem = NULL;
    const struct ck_mount m = {.name = "jwks", .handle = jwks_handle, .ctx = s};
    assert_int_equal(ck_pkey_rsa_generate(2048, &ca_key), CK_OK);
    assert_int_equal(ck_pkey_rsa_generate(2048, &srv_key), CK_OK);
    assert_int_equal(ck_x509_self_signed(ca_key, cn, 1, 2, &ca_pem), CK_OK);
    assert_int_equal(ck_x509_issue(ca_key, ca_pem, srv_key, "127.0.0.1", "127.0.0.1,localhost", 2, &cert), CK_OK);
    assert_int_equal(ck_pkey_private_pem(srv_key, &key_pem), CK_OK);
    char *chain = join3(cert, ca_pem, "");
    struct ck_httpd_config cfg = {.bind_addr = "127.0.0.1", .port = 0, .tls_cert_pem = chain,
                                  .tls_key_pem = (const char *)ck_secret_ptr(key_pem), .name = "jwks-test"};
    pthread_mutex_init(&s->mu, NULL);
    assert_int_equal(ck_httpd_new(&cfg, &s->h), CK_OK);
    assert_int_equal(ck_httpd_mount(s->h, &m), CK_OK);
    if (ca_out != NULL)
        *ca_out = ck_strdup(ca_pem);
    ck_free(chain);
    ck_free(cert);
    ck_free(ca_pem);
    ck_secret_free(key_pem);
    ck_pkey_free(ca_key);
    ck_pkey_free(srv_key);
}

static void jwks_stop(struct jwks_srv *s)
{
    ck_httpd_free(s->h);
    s->h = NULL;
    for (int i = 0; i < JWKS_MAX_TENANTS; i++)
        free(s->t[i].doc);
    pthread_mutex_destroy(&s->mu);
}

static struct ck_verifier *verifier_for(const struct jwks_srv *s, const char *host, const char *ca)
{
    struct ck_verifier *v = NULL;
    struct ck_verifier_config vc = {.authority = P("https://%s:%u", host, ck_httpd_port(s->h)), .ca_file = ca};
    assert_int_equal(ck_verifier_new(&vc, &v), CK_OK);
    return v;
}

static int hits(void)
{
    return atomic_load(&good.hits);
}

static void test_jwks_fetch_cached(void **state)
{
    (void)state;
    const char *tid = "c0000000-0000-4000-8000-000000000001";
    struct ck_pkey *ks[] = {key_b, key_a};
    const char *kids[] = {"other", "k1"};
    serve_keys(&good, tid, 2, ks, kids);
    int h0 = hits();
    struct ck_claims c;
    char *t = sign(key_a, "k1", claims_v1(tid));
    assert_int_equal(ck_verify_token(VF, t, auds, tid, &c), CK_TF_NONE);
    assert_string_equal(c.tid, tid);
    assert_int_equal(hits(), h0 + 1);
    /* Cached: more tokens, by either published key, fetch nothing. */
    for (int i = 0; i < 3; i++)
        EXPECT_V(VF, CK_TF_NONE, sign(key_a, "k1", claims_v1(tid)));
    EXPECT_V(VF, CK_TF_NONE, sign(key_b, "other", claims_v1(tid)));
    assert_int_equal(hits(), h0 + 1);
    /* The fetched keys are held to the same checks. */
    EXPECT_V(VF, CK_TF_SIGNATURE, sign(key_b, "k1", claims_v1(tid)));
    EXPECT_V(VF, CK_TF_ALG, sign_hdr(key_a, "{\"alg\":\"HS256\",\"kid\":\"k1\"}", claims_v1(tid)));
    expect_at(__LINE__, VF, ck_strdup(t), auds, TID_A, CK_TF_TENANT);
    /* The listener's other name (localhost) is in its certificate too. */
    tmp_v = verifier_for(&good, "localhost", ca_file);
    EXPECT_V(tmp_v, CK_TF_NONE, t);
    assert_int_equal(hits(), h0 + 2);
}

static void test_jwks_unknown_kid_refetch(void **state)
{
    (void)state;
    const char *tid = "c0000000-0000-4000-8000-000000000002";
    struct ck_pkey *ks[] = {key_a};
    const char *kids[] = {"k1"};
    serve_keys(&good, tid, 1, ks, kids);
    int h0 = hits();
    EXPECT_V(VF, CK_TF_NONE, sign(key_a, "k1", claims_v1(tid)));
    assert_int_equal(hits(), h0 + 1);
    /* Unknown kid right after a fetch: no refetch within 30 s, however many tokens. */
    for (int i = 0; i < 5; i++)
        EXPECT_V(VF, CK_TF_KEY, sign(key_a, P("unknown-%d", i), claims_v1(tid)));
    ck_time_set_offset(25);
    EXPECT_V(VF, CK_TF_KEY, sign(key_a, "unknown", claims_v1(tid)));
    assert_int_equal(hits(), h0 + 1);
    /* After 30 s one refetch, then none again for 30 s. */
    ck_time_set_offset(31);
    EXPECT_V(VF, CK_TF_KEY, sign(key_a, "unknown", claims_v1(tid)));
    assert_int_equal(hits(), h0 + 2);
    for (int i = 0; i < 5; i++)
        EXPECT_V(VF, CK_TF_KEY, sign(key_a, "unknown", claims_v1(tid)));
    EXPECT_V(VF, CK_TF_NONE, sign(key_a, "k1", claims_v1(tid)));
    assert_int_equal(hits(), h0 + 2);
    ck_time_set_offset(62);
    EXPECT_V(VF, CK_TF_KEY, sign(key_a, "unknown", claims_v1(tid)));
    assert_int_equal(hits(), h0 + 3);
    ck_time_set_offset(0);
}

static void test_jwks_rotation(void **state)
{
    (void)state;
    const char *tid = "c0000000-0000-4000-8000-000000000003";
    struct ck_pkey *k1[] = {key_a}, *k2[] = {key_c};
    const char *kid1[] = {"k1"}, *kid2[] = {"k2"};
    serve_keys(&good, tid, 1, k1, kid1);
    int h0 = hits();
    EXPECT_V(VF, CK_TF_NONE, sign(key_a, "k1", claims_v1(tid)));
    /* Rotation: the issuer now publishes only k2. Within the refetch window k2 is unknown. */
    serve_keys(&good, tid, 1, k2, kid2);
    ck_time_set_offset(10);
    EXPECT_V(VF, CK_TF_KEY, sign(key_c, "k2", claims_v1(tid)));
    assert_int_equal(hits(), h0 + 1);
    /* Once the window passes the new key verifies, and the old one is gone with the old document. */
    ck_time_set_offset(45);
    EXPECT_V(VF, CK_TF_NONE, sign(key_c, "k2", claims_v1(tid)));
    assert_int_equal(hits(), h0 + 2);
    EXPECT_V(VF, CK_TF_KEY, sign(key_a, "k1", claims_v1(tid)));
    EXPECT_V(VF, CK_TF_NONE, sign(key_c, "k2", claims_v1(tid)));
    assert_int_equal(hits(), h0 + 2);
    /* After the cache lifetime (3600 s by default) even a known kid refetches, once. */
    ck_time_set_offset(45 + 3601);
    EXPECT_V(VF, CK_TF_NONE, sign(key_c, "k2", claims_v1(tid)));
    EXPECT_V(VF, CK_TF_NONE, sign(key_c, "k2", claims_v1(tid)));
    assert_int_equal(hits(), h0 + 3);
    ck_time_set_offset(0);
}

static void test_jwks_forget(void **state)
{
    (void)state;
    const char *tid = "c0000000-0000-4000-8000-000000000004";
    struct ck_pkey *k1[] = {key_a}, *k2[] = {key_c};
    const char *kid1[] = {"k1"}, *kid2[] = {"k2"};
    serve_keys(&good, tid, 1, k1, kid1);
    int h0 = hits();
    EXPECT_V(VF, CK_TF_NONE, sign(key_a, "k1", claims_v1(tid)));
    EXPECT_V(VF, CK_TF_NONE, sign(key_a, "k1", claims_v1(tid)));
    assert_int_equal(hits(), h0 + 1);
    /* forget drops the cache: the next token refetches at once, even for a known kid. */
    ck_verifier_forget(VF, tid);
    EXPECT_V(VF, CK_TF_NONE, sign(key_a, "k1", claims_v1(tid)));
    assert_int_equal(hits(), h0 + 2);
    /* Rotation followed by forget: the new key verifies without waiting. */
    serve_keys(&good, tid, 1, k2, kid2);
    ck_verifier_forget(VF, tid);
    EXPECT_V(VF, CK_TF_NONE, sign(key_c, "k2", claims_v1(tid)));
    assert_int_equal(hits(), h0 + 3);
    /* Forgetting an unknown tenant is harmless. */
    ck_verifier_forget(VF, "c0000000-0000-4000-8000-0000000000ff");
}

static void test_jwks_bad_documents(void **state)
{
    (void)state;
    const char *t404 = "c0000000-0000-4000-8000-000000000005";
    const char *t500 = "c0000000-0000-4000-8000-000000000006";
    const char *tbad = "c0000000-0000-4000-8000-000000000007";
    const char *tec = "c0000000-0000-4000-8000-000000000008";
    /* No JWKS for the tenant (404), a server error, a body that is not a JWKS. */
    EXPECT_V(VF, CK_TF_UNAVAILABLE, sign(key_a, "k1", claims_v1(t404)));
    serve(&good, t500, "!");
    EXPECT_V(VF, CK_TF_UNAVAILABLE, sign(key_a, "k1", claims_v1(t500)));
    serve(&good, tbad, "{\"keys\":");
    EXPECT_V(VF, CK_TF_UNAVAILABLE, sign(key_a, "k1", claims_v1(tbad)));
    /* Entries that are not usable RSA keys are skipped. */
    serve(&good, tec, "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"k1\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"},"
                      "{\"kty\":\"RSA\",\"kid\":\"k1\",\"n\":\"!!\",\"e\":\"AQAB\"}]}");
    EXPECT_V(VF, CK_TF_KEY, sign(key_a, "k1", claims_v1(tec)));
}

static void test_jwks_unreachable(void **state)
{
    (void)state;
    const char *tid = "c0000000-0000-4000-8000-000000000009";
    struct ck_httpd *h = NULL;
    struct ck_httpd_config cfg = {.bind_addr = "127.0.0.1", .port = 0};
    assert_int_equal(ck_httpd_new(&cfg, &h), CK_OK);
    struct ck_verifier_config vc = {.authority = P("https://127.0.0.1:%u", ck_httpd_port(h)), .ca_file = ca_file};
    ck_httpd_free(h);
    assert_int_equal(ck_verifier_new(&vc, &tmp_v), CK_OK);
    EXPECT_V(tmp_v, CK_TF_UNAVAILABLE, sign(key_a, "k1", claims_v1(tid)));
    /* A second token right after the failed fetch is refused for the same reason: the keys could
     * not be fetched, not "kid unknown". */
    EXPECT_V(tmp_v, CK_TF_UNAVAILABLE, sign(key_a, "k1", claims_v1(tid)));
}

static void test_jwks_tls_verified(void **state)
{
    (void)state;
    const char *tid = "c0000000-0000-4000-8000-00000000000a";
    struct ck_pkey *ks[] = {key_a};
    const char *kids[] = {"k1"};
    serve_keys(&rogue, tid, 1, ks, kids);
    serve_keys(&good, tid, 1, ks, kids);
    /* A certificate from a CA the verifier does not trust: no request reaches the handler. */
    tmp_v = verifier_for(&rogue, "127.0.0.1", ca_file);
    EXPECT_V(tmp_v, CK_TF_UNAVAILABLE, sign(key_a, "k1", claims_v1(tid)));
    assert_int_equal(atomic_load(&rogue.hits), 0);
    ck_verifier_free(tmp_v);
    /* The good listener without its CA (system store only). */
    int h0 = hits();
    tmp_v = verifier_for(&good, "127.0.0.1", NULL);
    EXPECT_V(tmp_v, CK_TF_UNAVAILABLE, sign(key_a, "k1", claims_v1(tid)));
    assert_int_equal(hits(), h0);
}

/* ---- the verified-token cache ---- */

/* A verifier with a token cache and A's and B's keys added directly (freed by after_test). */
static struct ck_verifier *cached_verifier(void)
{
    struct ck_verifier_config vc = {.token_cache = 16};
    assert_int_equal(ck_verifier_new(&vc, &tmp_v), CK_OK);
    assert_int_equal(ck_verifier_add_key(tmp_v, TID_A, KID_A, key_a), CK_OK);
    assert_int_equal(ck_verifier_add_key(tmp_v, TID_B, KID_B, key_b), CK_OK);
    return tmp_v;
}

static enum ck_token_fail verify_c(struct ck_verifier *v, const char *tok, const char *const *aud, const char *tenant,
                                   struct ck_claims *c)
{
    struct ck_claims scratch;
    return ck_verify_token(v, tok, aud, tenant, c ? c : &scratch);
}

static void test_cache_hit(void **state)
{
    (void)state;
    struct ck_verifier *v = cached_verifier();
    const char *const other_aud[] = {"https://storage.azure.com", NULL};
    struct ck_claims c1, c2;
    char *t = sign(key_a, KID_A, claims_v1(TID_A));
    assert_int_equal(verify_c(v, t, auds, TID_A, &c1), CK_TF_NONE);
    assert_int_equal(ck_verifier_cache_hits(v), 0);
    memset(&c2, 0x5a, sizeof(c2));
    assert_int_equal(verify_c(v, t, auds, TID_A, &c2), CK_TF_NONE);
    assert_int_equal(ck_verifier_cache_hits(v), 1);
    /* The cached claims are the verified ones. */
    assert_memory_equal(&c1, &c2, sizeof(c1));
    assert_string_equal(c2.oid, OID);
    assert_string_equal(c2.appid, APPID);
    assert_string_equal(c2.aud, AUD);
    /* Tenant and audience are the caller's checks, made on every hit. */
    assert_int_equal(verify_c(v, t, auds, TID_B, NULL), CK_TF_TENANT);
    assert_int_equal(verify_c(v, t, other_aud, TID_A, NULL), CK_TF_AUDIENCE);
    assert_int_equal(verify_c(v, t, NULL, NULL, NULL), CK_TF_NONE);
    assert_int_equal(verify_c(v, t, auds, "0A1B2C3D-0000-4000-8000-00000000000A", NULL), CK_TF_NONE);
    assert_int_equal(ck_verifier_cache_hits(v), 5);
    /* A verifier without a cache never counts a hit. */
    EXPECT(CK_TF_NONE, ck_strdup(t));
    EXPECT(CK_TF_NONE, ck_strdup(t));
    assert_int_equal(ck_verifier_cache_hits(V), 0);
    ck_free(t);
}

/* An entry lives until the token's exp and never beyond (the skew is for full verifications). */
static void test_cache_expiry(void **state)
{
    (void)state;
    struct ck_verifier *v = cached_verifier();
    int64_t now = ck_time_now();
    char *t = sign(key_a, KID_A, claims_with(TID_A, "exp", json_integer(now + 60)));
    assert_int_equal(verify_c(v, t, auds, TID_A, NULL), CK_TF_NONE);
    ck_time_set_offset(58);
    assert_int_equal(verify_c(v, t, auds, TID_A, NULL), CK_TF_NONE);
    assert_int_equal(ck_verifier_cache_hits(v), 1);
    /* Past exp: verified in full (accepted within the skew), and not kept. */
    ck_time_set_offset(61);
    assert_int_equal(verify_c(v, t, auds, TID_A, NULL), CK_TF_NONE);
    assert_int_equal(verify_c(v, t, auds, TID_A, NULL), CK_TF_NONE);
    assert_int_equal(ck_verifier_cache_hits(v), 1);
    ck_time_set_offset(60 + SKEW + 10);
    assert_int_equal(verify_c(v, t, auds, TID_A, NULL), CK_TF_EXPIRED);
    /* Moving the clock back before nbf (less the skew) refuses a cached token too. */
    ck_time_set_offset(0);
    char *u = sign(key_a, KID_A, claims_v1(TID_A));
    assert_int_equal(verify_c(v, u, auds, TID_A, NULL), CK_TF_NONE);
    ck_time_set_offset(-SKEW - 10);
    assert_int_equal(verify_c(v, u, auds, TID_A, NULL), CK_TF_NOT_YET);
    assert_int_equal(ck_verifier_cache_hits(v), 2);
    ck_time_set_offset(0);
    ck_free(t);
    ck_free(u);
}

/* The cache is keyed by the whole text: the same claims under another header or signature are
 * another token, verified in full. */
static void test_cache_same_claims(void **state)
{
    (void)state;
    struct ck_verifier *v = cached_verifier();
    json_t *c = claims_v1(TID_A);
    char *pj = ck_json_dump(c);
    json_decref(c);
    assert_non_null(pj);
    char *t = sign_raw(key_a, "{\"alg\":\"RS256\",\"kid\":\"" KID_A "\"}", pj);
    assert_int_equal(verify_c(v, t, auds, TID_A, NULL), CK_TF_NONE);
    /* Same header and payload, signed by B's key: refused although its claims are cached. */
    char *forged = sign_raw(key_b, "{\"alg\":\"RS256\",\"kid\":\"" KID_A "\"}", pj);
    assert_int_equal(verify_c(v, forged, auds, TID_A, NULL), CK_TF_SIGNATURE);
    /* Same payload under another (valid) header: a miss, then a hit of its own. */
    char *other = sign_raw(key_a, "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"" KID_A "\"}", pj);
    assert_int_equal(verify_c(v, other, auds, TID_A, NULL), CK_TF_NONE);
    assert_int_equal(ck_verifier_cache_hits(v), 0);
    assert_int_equal(verify_c(v, other, auds, TID_A, NULL), CK_TF_NONE);
    assert_int_equal(verify_c(v, t, auds, TID_A, NULL), CK_TF_NONE);
    assert_int_equal(ck_verifier_cache_hits(v), 2);
    /* An array audience is verified in full every time. */
    char *arr = sign(key_a, KID_A, claims_with(TID_A, "aud", json_pack("[s,s]", "x", AUD)));
    assert_int_equal(verify_c(v, arr, auds, TID_A, NULL), CK_TF_NONE);
    assert_int_equal(verify_c(v, arr, auds, TID_A, NULL), CK_TF_NONE);
    assert_int_equal(ck_verifier_cache_hits(v), 2);
    free(pj);
    ck_free(t);
    ck_free(forged);
    ck_free(other);
    ck_free(arr);
}

/* A tampered copy of a cached token misses and fails its full verification. */
static void test_cache_tampered(void **state)
{
    (void)state;
    struct ck_verifier *v = cached_verifier();
    char *t = sign(key_a, KID_A, claims_v1(TID_A));
    assert_int_equal(verify_c(v, t, auds, TID_A, NULL), CK_TF_NONE);
    assert_int_equal(verify_c(v, t, auds, TID_A, NULL), CK_TF_NONE);
    assert_int_equal(ck_verifier_cache_hits(v), 1);
    json_t *c = claims_with(TID_A, "oid", json_string("5b0c1f6e-1111-4111-8111-0000000000ff"));
    char *pj = ck_json_dump(c);
    json_decref(c);
    char *payload = with_payload(t, pj);
    assert_int_equal(verify_c(v, payload, auds, TID_A, NULL), CK_TF_SIGNATURE);
    char *sig = ck_strdup(t);
    char *last = sig + strlen(sig) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    assert_int_equal(verify_c(v, sig, auds, TID_A, NULL), CK_TF_SIGNATURE);
    char *hdr = with_header(t, "{\"alg\":\"none\",\"kid\":\"" KID_A "\"}");
    assert_int_equal(verify_c(v, hdr, auds, TID_A, NULL), CK_TF_ALG);
    char *longer = join3(t, "A", "");
    assert_int_equal(verify_c(v, longer, auds, TID_A, NULL), CK_TF_SIGNATURE);
    assert_int_equal(ck_verifier_cache_hits(v), 1);
    free(pj);
    ck_free(t);
    ck_free(payload);
    ck_free(sig);
    ck_free(hdr);
    ck_free(longer);
}

/* The cache holds at most its size; tokens it had to drop are verified in full. */
static void test_cache_bounded(void **state)
{
    (void)state;
    struct ck_verifier_config vc = {.token_cache = 4};
    assert_int_equal(ck_verifier_new(&vc, &tmp_v), CK_OK);
    assert_int_equal(ck_verifier_add_key(tmp_v, TID_A, KID_A, key_a), CK_OK);
    char *t[8];
    int64_t now = ck_time_now();
    for (int i = 0; i < 8; i++) {
        t[i] = sign(key_a, KID_A, claims_with(TID_A, "exp", json_integer(now + 600 + i)));
        assert_int_equal(verify_c(tmp_v, t[i], auds, TID_A, NULL), CK_TF_NONE);
    }
    for (int i = 7; i >= 0; i--)
        assert_int_equal(verify_c(tmp_v, t[i], auds, TID_A, NULL), CK_TF_NONE);
    assert_true(ck_verifier_cache_hits(tmp_v) >= 1 && ck_verifier_cache_hits(tmp_v) <= 4);
    for (int i = 0; i < 8; i++)
        ck_free(t[i]);
}

/* Cached tokens are dropped with the key set that verified them (forget, JWKS reload). */
static void test_cache_key_set(void **state)
{
    (void)state;
    const char *tid = "c0000000-0000-4000-8000-00000000000b";
    struct ck_pkey *k1[] = {key_a}, *k2[] = {key_c};
    const char *kid1[] = {"k1"}, *kid2[] = {"k2"};
    serve_keys(&good, tid, 1, k1, kid1);
    struct ck_verifier_config vc = {.authority = P("https://127.0.0.1:%u", ck_httpd_port(good.h)), .ca_file = ca_file,
                                    .token_cache = 8};
    assert_int_equal(ck_verifier_new(&vc, &tmp_v), CK_OK);
    char *t = sign(key_a, "k1", claims_v1(tid));
    int h0 = hits();
    assert_int_equal(verify_c(tmp_v, t, auds, tid, NULL), CK_TF_NONE);
    assert_int_equal(verify_c(tmp_v, t, auds, tid, NULL), CK_TF_NONE);
    assert_int_equal(ck_verifier_cache_hits(tmp_v), 1);
    /* The issuer rotates to k2 and the verifier is told: the cached token is verified again, and
     * its key is gone. */
    serve_keys(&good, tid, 1, k2, kid2);
    ck_verifier_forget(tmp_v, tid);
    assert_int_equal(verify_c(tmp_v, t, auds, tid, NULL), CK_TF_KEY);
    assert_int_equal(ck_verifier_cache_hits(tmp_v), 1);
    assert_int_equal(hits(), h0 + 2);
    /* A reload after the JWKS lifetime drops cached tokens too. */
    char *u = sign(key_c, "k2", claims_v1(tid));
    assert_int_equal(verify_c(tmp_v, u, auds, tid, NULL), CK_TF_NONE);
    assert_int_equal(verify_c(tmp_v, u, auds, tid, NULL), CK_TF_NONE);
    assert_int_equal(ck_verifier_cache_hits(tmp_v), 2);
    serve_keys(&good, tid, 1, k1, kid1);
    ck_time_set_offset(3601);
    assert_int_equal(verify_c(tmp_v, u, auds, tid, NULL), CK_TF_KEY);
    assert_int_equal(ck_verifier_cache_hits(tmp_v), 2);
    ck_time_set_offset(0);
    ck_free(t);
    ck_free(u);
}

/* ---- fixtures ---- */

static int setup(void **state)
{
    (void)state;
    char *ca_pem = NULL;
    assert_int_equal(ck_httpc_global_init(), CK_OK);
    assert_int_equal(ck_pkey_rsa_generate(2048, &key_a), CK_OK);
    assert_int_equal(ck_pkey_rsa_generate(2048, &key_b), CK_OK);
    assert_int_equal(ck_pkey_rsa_generate(2048, &key_c), CK_OK);
    struct ck_verifier_config vc = {0};
    assert_int_equal(ck_verifier_new(&vc, &V), CK_OK);
    assert_int_equal(ck_verifier_add_key(V, TID_A, KID_A, key_a), CK_OK);
    assert_int_equal(ck_verifier_add_key(V, TID_B, KID_B, key_b), CK_OK);
    assert_non_null(mkdtemp(ca_dir));
    jwks_start(&good, "crosskey jwt test CA", &ca_pem);
    jwks_start(&rogue, "crosskey jwt rogue CA", NULL);
    ca_file = ck_path_join(ca_dir, "ca.pem");
    assert_int_equal(ck_write_file_atomic(ca_file, ca_pem, strlen(ca_pem), 0644), 0);
    ck_free(ca_pem);
    VF = verifier_for(&good, "127.0.0.1", ca_file);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ck_time_set_offset(0);
    ck_verifier_free(VF);
    ck_verifier_free(V);
    jwks_stop(&good);
    jwks_stop(&rogue);
    if (ca_file != NULL)
        unlink(ca_file);
    rmdir(ca_dir);
    ck_free(ca_file);
    ck_pkey_free(key_a);
    ck_pkey_free(key_b);
    ck_pkey_free(key_c);
    return 0;
}

/* A test that failed midway may leave the clock shifted or its verifier allocated. */
static int after_test(void **state)
{
    (void)state;
    ck_time_set_offset(0);
    ck_verifier_free(tmp_v);
    tmp_v = NULL;
    return 0;
}

#define T(f) cmocka_unit_test_teardown(f, after_test)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_sign_and_decode),       T(test_decode_unverified), T(test_valid_v1_v2),
        T(test_claims_copied),         T(test_algorithms),        T(test_keys),
        T(test_tampered),              T(test_issuers),           T(test_audience),
        T(test_tenant),                T(test_lifetime),          T(test_malformed),
        T(test_bearer),                T(test_fail_text),         T(test_jwks_fetch_cached),
        T(test_jwks_unknown_kid_refetch), T(test_jwks_rotation),  T(test_jwks_forget),
        T(test_jwks_bad_documents),    T(test_jwks_unreachable),  T(test_jwks_tls_verified),
        T(test_cache_hit),             T(test_cache_expiry),      T(test_cache_same_claims),
        T(test_cache_tampered),        T(test_cache_key_set),     T(test_cache_bounded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
