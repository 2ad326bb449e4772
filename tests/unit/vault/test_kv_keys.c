/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Key Vault keys data plane over the real stack (wire reference B.3-B.5): create (RSA 2048,
 * 3072, 4096; EC P-256, P-384, P-521) and its refusals (HSM types, sizes, curves, exportable,
 * release policies), import of JWKs with private parts, get (latest by "/keys/n" and "/keys/n/",
 * a version, "//" shapes), list and list versions with paging through nextLink, update, rotate,
 * rotation policy (default, put, validation, expiry applied on rotation), soft delete, get and
 * list deleted, recover, purge refused under purge protection until scheduledPurgeDate and
 * allowed without it, 409 ObjectIsDeletedButRecoverable, backup and restore (within a
 * subscription only), random bytes, every RSA and EC algorithm of encrypt/decrypt,
 * wrapkey/unwrapkey and sign/verify checked against local OpenSSL operations, key state
 * (KeyDisabled, KeyNotYetValid, KeyExpired, KeyOperationForbidden) and request errors
 * (api-version, JSON, base64url, 413). Then the audit log: one record per authenticated request,
 * valid chain, and edits, deletions and reordering made directly in vault.db detected at the
 * right sequence. Last, no private key part or unwrapped plaintext appears in any file of DIR.
 */
#include "kv_fixture.h"
#include "services/vault/kv_int.h"

static struct tenant ta;
static char sub[64], sub2[64];
static char armtok[8192];
static struct principal officer;
static unsigned pv, pp, po; /* protected vault, purgeable vault, vault of the other subscription */
static char vid[512];
static char rsa_jwk[8192]; /* the imported RSA key as a JWK with private parts */

#define KV_TEST_ZERO "0000000000000000000000000000000000000000000000000000000000000000"

/* Secrets whose bytes must never reach the disk. */
#define MAX_NEEDLES 64
static struct {
    uint8_t b[600];
    size_t n;
    char what[48];
} needles[MAX_NEEDLES];
static int nneedles;

static void remember(const void *p, size_t n, const char *what)
{
    assert_true(nneedles < MAX_NEEDLES && n <= sizeof(needles[0].b));
    memcpy(needles[nneedles].b, p, n);
    needles[nneedles].n = n;
    snprintf(needles[nneedles].what, sizeof(needles[0].what), "%s", what);
    nneedles++;
    /* Also its base64url text. */
    const char *b = kf_b64(p, n);
    assert_true(nneedles < MAX_NEEDLES && strlen(b) <= sizeof(needles[0].b));
    memcpy(needles[nneedles].b, b, strlen(b));
    needles[nneedles].n = strlen(b);
    snprintf(needles[nneedles].what, sizeof(needles[0].what), "%s (base64url)", what);
    nneedles++;
}

static int setup(void **state)
{
    char n[37];
    (void)state;
    kf_setup();
    kf_customer("customer", &ta, sub, sizeof(sub), armtok, sizeof(armtok), "rg");
    kf_subscription(ta.tid, ta.sp, sub2, sizeof(sub2));
    kf_rg(armtok, sub2, "rg");
    pv = kf_vault(armtok, sub, "rg", "keysvault", ta.tid, 1, 90);
    pp = kf_vault(armtok, sub, "rg", "purgeable", ta.tid, 0, 7);
    po = kf_vault(armtok, sub2, "rg", "othersub", ta.tid, 1, 90);
    kf_copy(vid, sizeof(vid), kf_vault_id(sub, "rg", "keysvault"));
    kf_principal(&ta, "officer", &officer);
    kf_assign(armtok, sub, kf_vault_id(sub, "rg", "keysvault"), ROLE_KV_OFFICER, officer.oid, n);
    kf_assign(armtok, sub, kf_vault_id(sub, "rg", "purgeable"), ROLE_KV_OFFICER, officer.oid, n);
    kf_assign(armtok, sub2, kf_vault_id(sub2, "rg", "othersub"), ROLE_KV_OFFICER, officer.oid, n);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return kf_teardown();
}

/* ---- small helpers ---- */

static json_t *ok(unsigned port, const char *method, const char *path, const char *body)
{
    return kv_ok(port, method, path, officer.tok, body, 200);
}

static void bad(unsigned port, const char *method, const char *path, const char *body, long status, const char *code,
                const char *inner)
{
    struct rsp r = kv(port, method, path, officer.tok, body);
    if (r.status != status)
        print_error("%s %s\n", method, path);
    kv_expect_err(&r, status, code, inner);
    rsp_free(&r);
}

static const char *kid_of(const json_t *bundle)
{
    return ck_json_str(ck_json_obj(bundle, "key"), "kid");
}

/* Creates a key (or a new version) and writes its version. */
static void create(unsigned port, const char *name, const char *body, char ver[40])
{
    json_t *b = ok(port, "POST", P("/keys/%s/create", name), body);
    kf_copy(ver, 40, kf_kid_version(kid_of(b)));
    json_decref(b);
}

static size_t b64len(const char *s)
{
    uint8_t *b = NULL;
    size_t n = 0;
    assert_non_null(s);
    assert_int_equal(ck_b64url_decode(s, strlen(s), &b, &n), 0);
    ck_free(b);
    return n;
}

static uint8_t *b64dec(const char *s, size_t *n)
{
    uint8_t *b = NULL;
    assert_non_null(s);
    assert_int_equal(ck_b64url_decode(s, strlen(s), &b, n), 0);
    return b;
}

/* Checks a KeyBundle: kid on this vault with a 32-hex version, public parts only. */
static void check_bundle(const json_t *b, unsigned port, const char *name, const char *kty)
{
    json_t *key = ck_json_obj(b, "key");
    json_t *at = ck_json_obj(b, "attributes");
    const char *kid = ck_json_str(key, "kid");
    assert_non_null(kid);
    assert_int_equal(strncmp(kid, P("https://localhost:%u/keys/%s/", port, name), strlen(P("https://localhost:%u/keys/%s/", port, name))), 0);
    const char *ver = kf_kid_version(kid);
    assert_int_equal(strspn(ver, "0123456789abcdef"), 32);
    assert_string_equal(ck_json_str(key, "kty"), kty);
    const char *priv[] = {"d", "p", "q", "dp", "dq", "qi", "k"};
    for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
        assert_null(json_object_get(key, priv[i]));
    assert_true(json_is_array(json_object_get(key, "key_ops")));
    assert_non_null(at);
    assert_true(json_is_boolean(json_object_get(at, "enabled")));
    assert_true(ck_json_int(at, "created", 0) > 0);
    assert_true(ck_json_int(at, "updated", 0) > 0);
    assert_true(json_is_false(json_object_get(at, "exportable")));
    if (port == pv) {
        assert_string_equal(ck_json_str(at, "recoveryLevel"), "Recoverable");
        assert_int_equal(ck_json_int(at, "recoverableDays", 0), 90);
    } else if (port == pp) {
        assert_string_equal(ck_json_str(at, "recoveryLevel"), "CustomizedRecoverable+Purgeable");
        assert_int_equal(ck_json_int(at, "recoverableDays", 0), 7);
    }
}

static const char *wrap_req(const char *alg, const void *p, size_t n)
{
    return P("{\"alg\":\"%s\",\"value\":\"%s\"}", alg, kf_b64(p, n));
}

/* ---- DER (the PKCS#8 encoding ck_pkey_private_der produces) ---- */

struct der {
    const uint8_t *p;
    size_t n;
};

static void der_next(struct der *d, uint8_t want_tag, struct der *out)
{
    assert_true(d->n >= 2);
    uint8_t tag = d->p[0];
    size_t len = d->p[1], hdr = 2;
    assert_int_equal(tag, want_tag);
    if (len & 0x80) {
        size_t nb = len & 0x7f;
        assert_true(nb >= 1 && nb <= 3 && d->n >= 2 + nb);
        len = 0;
        for (size_t i = 0; i < nb; i++)
            len = (len << 8) | d->p[2 + i];
        hdr += nb;
    }
    assert_true(d->n >= hdr + len);
    out->p = d->p + hdr;
    out->n = len;
    d->p += hdr + len;
    d->n -= hdr + len;
}

/* An unsigned big-endian integer without its DER sign byte. */
static struct der der_uint(struct der *d)
{
    struct der v;
    der_next(d, 0x02, &v);
    while (v.n > 1 && v.p[0] == 0) {
        v.p++;
        v.n--;
    }
    return v;
}

/* The private key inside a PKCS#8 PrivateKeyInfo. */
static struct der pkcs8_inner(const struct ck_secret *der)
{
    struct der all = {ck_secret_ptr(der), ck_secret_len(der)}, seq, tmp, inner;
    der_next(&all, 0x30, &seq);
    der_next(&seq, 0x02, &tmp);
    der_next(&seq, 0x30, &tmp);
    der_next(&seq, 0x04, &inner);
    return inner;
}

/* ---- create ---- */

static void test_create_rsa_and_ec(void **state)
{
    (void)state;
    int sizes[3] = {2048, 3072, 4096};
    for (int i = 0; i < 3; i++) {
        json_t *b = ok(pv, "POST", P("/keys/rsa%d/create", sizes[i]),
                       P("{\"kty\":\"RSA\",\"key_size\":%d,\"public_exponent\":65537,\"tags\":{\"size\":\"%d\"}}", sizes[i], sizes[i]));
        check_bundle(b, pv, P("rsa%d", sizes[i]), "RSA");
        json_t *key = ck_json_obj(b, "key");
        assert_int_equal(b64len(ck_json_str(key, "n")), (size_t)sizes[i] / 8);
        assert_string_equal(ck_json_str(key, "e"), "AQAB");
        assert_int_equal(json_array_size(ck_json_arr(key, "key_ops")), 6);
        assert_true(json_is_true(json_object_get(ck_json_obj(b, "attributes"), "enabled")));
        assert_string_equal(ck_json_str(ck_json_obj(b, "tags"), "size"), P("%d", sizes[i]));
        json_decref(b);
    }
    const char *crvs[3] = {"P-256", "P-384", "P-521"};
    size_t coord[3] = {32, 48, 66};
    for (int i = 0; i < 3; i++) {
        json_t *b = ok(pv, "POST", P("/keys/ec%d/create", i), P("{\"kty\":\"EC\",\"crv\":\"%s\"}", crvs[i]));
        check_bundle(b, pv, P("ec%d", i), "EC");
        json_t *key = ck_json_obj(b, "key");
        assert_string_equal(ck_json_str(key, "crv"), crvs[i]);
        assert_int_equal(b64len(ck_json_str(key, "x")), coord[i]);
        assert_int_equal(b64len(ck_json_str(key, "y")), coord[i]);
        json_t *ops = ck_json_arr(key, "key_ops");
        assert_int_equal(json_array_size(ops), 2);
        assert_string_equal(json_string_value(json_array_get(ops, 0)), "sign");
        assert_string_equal(json_string_value(json_array_get(ops, 1)), "verify");
        json_decref(b);
    }
    /* Default size and curve. */
    json_t *b = ok(pv, "POST", "/keys/rsadefault/create", "{\"kty\":\"RSA\"}");
    assert_int_equal(b64len(ck_json_str(ck_json_obj(b, "key"), "n")), 256);
    json_decref(b);
    b = ok(pv, "POST", "/keys/ecdefault/create", "{\"kty\":\"EC\"}");
    assert_string_equal(ck_json_str(ck_json_obj(b, "key"), "crv"), "P-256");
    json_decref(b);
}

static void test_create_refused(void **state)
{
    (void)state;
    const char *hsm[] = {"RSA-HSM", "EC-HSM", "oct", "oct-HSM"};
    for (size_t i = 0; i < 4; i++) {
        struct rsp r = kv(pv, "POST", "/keys/hsm/create", officer.tok, P("{\"kty\":\"%s\",\"key_size\":2048}", hsm[i]));
        kv_expect_err(&r, 400, "BadParameter", NULL);
        assert_non_null(strstr(ck_json_str(ck_json_obj(r.json, "error"), "message"), "no hardware security module"));
        rsp_free(&r);
    }
    static const char *const refused[] = {
        "{\"key_size\":2048}",
        "{\"kty\":\"DSA\"}",
        "{\"kty\":\"RSA\",\"key_size\":1024}",
        "{\"kty\":\"RSA\",\"key_size\":\"2048\"}",
        "{\"kty\":\"RSA\",\"public_exponent\":3}",
        "{\"kty\":\"EC\",\"crv\":\"P-256K\"}",
        "{\"kty\":\"RSA\",\"attributes\":{\"exportable\":true}}",
        "{\"kty\":\"RSA\",\"release_policy\":{\"data\":\"AA\"}}",
        "{\"kty\":\"RSA\",\"key_ops\":[\"bogus\"]}",
        "{\"kty\":\"RSA\",\"attributes\":{\"nbf\":\"soon\"}}",
        "{\"kty\":\"RSA\",\"attributes\":{\"enabled\":\"yes\"}}",
        "{\"kty\":\"RSA\",\"tags\":{\"a\":1}}",
        "{\"kty\":\"RSA\",\"tags\":{\"1\":\"\",\"2\":\"\",\"3\":\"\",\"4\":\"\",\"5\":\"\",\"6\":\"\",\"7\":\"\","
        "\"8\":\"\",\"9\":\"\",\"10\":\"\",\"11\":\"\",\"12\":\"\",\"13\":\"\",\"14\":\"\",\"15\":\"\",\"16\":\"\"}}",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        bad(pv, "POST", "/keys/x/create", refused[i], 400, "BadParameter", NULL);
    /* Key names: letters, digits and hyphens. */
    bad(pv, "POST", "/keys/bad_name/create", "{\"kty\":\"RSA\"}", 400, "BadParameter", NULL);
    /* Nothing was created. */
    bad(pv, "GET", "/keys/x", NULL, 404, "KeyNotFound", NULL);
    bad(pv, "GET", "/keys/hsm", NULL, 404, "KeyNotFound", NULL);
}

/* ---- import ---- */

static void test_import(void **state)
{
    (void)state;
    struct ck_pkey *k = NULL;
    struct ck_secret *der = NULL;
    assert_int_equal(ck_pkey_rsa_generate(2048, &k), CK_OK);
    assert_int_equal(ck_pkey_private_der(k, &der), CK_OK);
    struct der inner = pkcs8_inner(der), seq, tmp;
    der_next(&inner, 0x30, &seq);
    der_next(&seq, 0x02, &tmp); /* version */
    struct der n = der_uint(&seq), e = der_uint(&seq), d = der_uint(&seq), p = der_uint(&seq), q = der_uint(&seq),
               dp = der_uint(&seq), dq = der_uint(&seq), qi = der_uint(&seq);
    remember(d.p, d.n, "imported RSA d");
    remember(p.p, p.n, "imported RSA p");
    remember(q.p, q.n, "imported RSA q");
    remember(dp.p, dp.n, "imported RSA dp");
    remember(ck_secret_ptr(der) + ck_secret_len(der) / 2, 64, "imported RSA PKCS#8 (middle)");
    const char *jwk = P("{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\",\"d\":\"%s\",\"p\":\"%s\",\"q\":\"%s\",\"dp\":\"%s\","
                        "\"dq\":\"%s\",\"qi\":\"%s\",\"key_ops\":[\"wrapKey\",\"unwrapKey\",\"encrypt\",\"decrypt\"]}",
                        kf_b64(n.p, n.n), kf_b64(e.p, e.n), kf_b64(d.p, d.n), kf_b64(p.p, p.n), kf_b64(q.p, q.n),
                        kf_b64(dp.p, dp.n), kf_b64(dq.p, dq.n), kf_b64(qi.p, qi.n));
    kf_copy(rsa_jwk, sizeof(rsa_jwk), jwk);
    json_t *b = ok(pv, "PUT", "/keys/imported", P("{\"key\":%s,\"Hsm\":false,\"tags\":{\"src\":\"byok\"}}", jwk));
    check_bundle(b, pv, "imported", "RSA");
    assert_string_equal(ck_json_str(ck_json_obj(b, "key"), "n"), kf_b64(n.p, n.n));
    assert_int_equal(json_array_size(ck_json_arr(ck_json_obj(b, "key"), "key_ops")), 4);
    json_decref(b);

    /* A CEK wrapped locally under the imported public key unwraps on the server. */
    uint8_t cek[32];
    struct ck_bytes ct = {0};
    assert_int_equal(ck_rand_bytes(cek, sizeof(cek)), CK_OK);
    remember(cek, sizeof(cek), "CEK unwrapped by the imported key");
    assert_int_equal(ck_rsa_encrypt(k, "RSA-OAEP", cek, sizeof(cek), &ct), CK_OK);
    json_t *u = ok(pv, "POST", "/keys/imported//unwrapkey", P("{\"alg\":\"RSA-OAEP\",\"value\":\"%s\"}", kf_b64(ct.ptr, ct.len)));
    assert_string_equal(ck_json_str(u, "value"), kf_b64(cek, sizeof(cek)));
    json_decref(u);
    ck_free(ct.ptr);
    /* Its key_ops leave out sign. */
    uint8_t digest[32] = {1};
    bad(pv, "POST", "/keys/imported//sign", P("{\"alg\":\"RS256\",\"value\":\"%s\"}", kf_b64(digest, 32)), 403, "Forbidden",
        "KeyOperationForbidden");

    /* Refusals: HSM, no private part, parts that do not fit, other types. */
    bad(pv, "PUT", "/keys/imp2", P("{\"key\":%s,\"Hsm\":true}", jwk), 400, "BadParameter", NULL);
    bad(pv, "PUT", "/keys/imp2", P("{\"key\":{\"kty\":\"RSA-HSM\",\"n\":\"%s\",\"e\":\"AQAB\"}}", kf_b64(n.p, n.n)), 400,
        "BadParameter", NULL);
    bad(pv, "PUT", "/keys/imp2", P("{\"key\":{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}}", kf_b64(n.p, n.n)), 400,
        "BadParameter", NULL);
    bad(pv, "PUT", "/keys/imp2",
        P("{\"key\":{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\",\"d\":\"%s\",\"p\":\"%s\",\"q\":\"%s\",\"dp\":\"%s\","
          "\"dq\":\"%s\",\"qi\":\"%s\"}}",
          kf_b64(n.p, n.n), kf_b64(d.p, d.n), kf_b64(q.p, q.n), kf_b64(p.p, p.n), kf_b64(dp.p, dp.n), kf_b64(dq.p, dq.n),
          kf_b64(qi.p, qi.n)),
        400, "BadParameter", NULL);
    bad(pv, "PUT", "/keys/imp2", "{\"key\":{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAA\"}}", 400, "BadParameter", NULL);
    bad(pv, "PUT", "/keys/imp2", "{\"key\":{\"kty\":\"RSA\",\"n\":\"@@@\",\"e\":\"AQAB\"}}", 400, "BadParameter", NULL);
    bad(pv, "PUT", "/keys/imp2", "{\"Hsm\":false}", 400, "BadParameter", NULL);
    bad(pv, "GET", "/keys/imp2", NULL, 404, "KeyNotFound", NULL);
    ck_secret_free(der);
    ck_pkey_free(k);

    /* EC P-256 with d. */
    assert_int_equal(ck_pkey_ec_generate("P-256", &k), CK_OK);
    assert_int_equal(ck_pkey_private_der(k, &der), CK_OK);
    struct der ei = pkcs8_inner(der), es, ed;
    der_next(&ei, 0x30, &es);
    der_next(&es, 0x02, &tmp);
    der_next(&es, 0x04, &ed);
    assert_int_equal(ed.n, 32);
    remember(ed.p, ed.n, "imported EC d");
    struct ck_bytes x = {0}, y = {0};
    assert_int_equal(ck_pkey_ec_public(k, &x, &y), CK_OK);
    b = ok(pv, "PUT", "/keys/imported-ec",
           P("{\"key\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\"}}", kf_b64(x.ptr, x.len),
             kf_b64(y.ptr, y.len), kf_b64(ed.p, ed.n)));
    check_bundle(b, pv, "imported-ec", "EC");
    assert_string_equal(ck_json_str(ck_json_obj(b, "key"), "x"), kf_b64(x.ptr, x.len));
    json_decref(b);
    json_t *s = ok(pv, "POST", "/keys/imported-ec//sign", P("{\"alg\":\"ES256\",\"value\":\"%s\"}", kf_b64(digest, 32)));
    size_t sl = 0;
    uint8_t *sig = b64dec(ck_json_str(s, "value"), &sl);
    assert_int_equal(sl, 64);
    assert_int_equal(ck_verify_digest(k, "ES256", digest, 32, sig, sl), CK_OK);
    ck_free(sig);
    json_decref(s);
    /* A point that is not on the curve. */
    y.ptr[y.len - 1] ^= 1;
    bad(pv, "PUT", "/keys/imp3",
        P("{\"key\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\"}}", kf_b64(x.ptr, x.len),
          kf_b64(y.ptr, y.len), kf_b64(ed.p, ed.n)),
        400, "BadParameter", NULL);
    bad(pv, "PUT", "/keys/imp3", P("{\"key\":{\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\"}}", kf_b64(x.ptr, x.len),
                                   kf_b64(y.ptr, y.len), kf_b64(ed.p, ed.n)),
        400, "BadParameter", NULL);
    bad(pv, "PUT", "/keys/imp3", "{\"key\":{\"kty\":\"EC-HSM\",\"crv\":\"P-256\"}}", 400, "BadParameter", NULL);
    ck_free(x.ptr);
    ck_free(y.ptr);
    ck_secret_free(der);
    ck_pkey_free(k);
}

/* ---- get and list ---- */

static void test_get_shapes(void **state)
{
    (void)state;
    json_t *a = ok(pv, "GET", "/keys/rsa2048", NULL);
    json_t *b = ok(pv, "GET", "/keys/rsa2048/", NULL);
    const char *ver = kf_kid_version(kid_of(a));
    assert_string_equal(kid_of(a), kid_of(b));
    json_t *c = ok(pv, "GET", P("/keys/rsa2048/%s", ver), NULL);
    assert_string_equal(kid_of(c), kid_of(a));
    json_decref(c);
    /* Names are matched without regard to case; versions too. */
    c = ok(pv, "GET", P("/keys/RSA2048/%s", P("%s", ver)), NULL);
    assert_string_equal(ck_json_str(ck_json_obj(c, "key"), "n"), ck_json_str(ck_json_obj(a, "key"), "n"));
    json_decref(c);
    /* "//" means the latest version, for crypto operations too. */
    uint8_t cek[32] = {7};
    json_t *w = ok(pv, "POST", "/keys/rsa2048//wrapkey", wrap_req("RSA-OAEP-256", cek, 32));
    assert_string_equal(ck_json_str(w, "kid"), kid_of(a));
    json_t *u = ok(pv, "POST", P("/keys/rsa2048/%s/unwrapkey", ver), P("{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", ck_json_str(w, "value")));
    assert_string_equal(ck_json_str(u, "value"), kf_b64(cek, 32));
    json_decref(w);
    json_decref(u);
    json_decref(a);
    json_decref(b);
    bad(pv, "GET", "/keys/nosuchkey", NULL, 404, "KeyNotFound", NULL);
    bad(pv, "GET", "/keys/nosuchkey/", NULL, 404, "KeyNotFound", NULL);
    bad(pv, "GET", "/keys/rsa2048/0123456789abcdef0123456789abcdef", NULL, 404, "KeyNotFound", NULL);
    bad(pv, "POST", "/keys/rsa2048/0123456789abcdef0123456789abcdef/unwrapkey", "{\"alg\":\"RSA-OAEP\",\"value\":\"AA\"}",
        404, "KeyNotFound", NULL);
    bad(pv, "POST", "/keys/nosuchkey//wrapkey", "{\"alg\":\"RSA-OAEP\",\"value\":\"AA\"}", 404, "KeyNotFound", NULL);
    /* A version that is not 32 hex characters is no route. */
    bad(pv, "GET", "/keys/rsa2048/notaversion", NULL, 400, "BadParameter", NULL);
    /* The key of another vault is not here. */
    bad(pp, "GET", "/keys/rsa2048", NULL, 404, "KeyNotFound", NULL);
}

/* Follows nextLink from path; returns the kids in order (JSON array, caller decrefs). */
static json_t *list_all(unsigned port, const char *path, int *pages)
{
    json_t *all = json_array();
    char next[2048];
    const char *origin = P("https://localhost:%u", port);
    *pages = 0;
    for (;;) {
        json_t *o = ok(port, "GET", path, NULL);
        json_t *v = ck_json_arr(o, "value"), *it;
        size_t i;
        assert_non_null(v);
        json_array_foreach(v, i, it) {
            assert_non_null(ck_json_obj(it, "attributes"));
            json_array_append_new(all, json_string(ck_json_str(it, "kid")));
        }
        (*pages)++;
        json_t *nl = json_object_get(o, "nextLink");
        assert_non_null(nl);
        if (json_is_null(nl)) {
            json_decref(o);
            break;
        }
        const char *s = json_string_value(nl);
        assert_int_equal(strncmp(s, origin, strlen(origin)), 0);
        kf_copy(next, sizeof(next), s + strlen(origin));
        json_decref(o);
        path = next;
        assert_true(*pages < 1000);
    }
    return all;
}

static void test_list_paging(void **state)
{
    (void)state;
    int pages = 0, pages1 = 0;
    json_t *full = list_all(pv, "/keys?api-version=" KF_KV_API, &pages);
    json_t *one = list_all(pv, "/keys?api-version=" KF_KV_API "&maxresults=1", &pages1);
    size_t n = json_array_size(full);
    assert_true(n >= 10);
    assert_int_equal(pages, 1);
    assert_int_equal(json_array_size(one), n);
    assert_int_equal((size_t)pages1, n);
    for (size_t i = 0; i < n; i++) {
        const char *k = json_string_value(json_array_get(one, i));
        assert_string_equal(k, json_string_value(json_array_get(full, i)));
        /* Versionless kids in the key list. */
        assert_int_equal(strncmp(k, P("https://localhost:%u/keys/", pv), strlen(P("https://localhost:%u/keys/", pv))), 0);
        assert_null(strchr(k + strlen(P("https://localhost:%u/keys/", pv)), '/'));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(k, json_string_value(json_array_get(one, j)));
    }
    json_decref(full);
    json_decref(one);
    /* Versions, after two rotations. */
    json_t *r1 = ok(pv, "POST", "/keys/ec0/rotate", NULL);
    json_t *r2 = ok(pv, "POST", "/keys/ec0/rotate", NULL);
    json_t *vs = list_all(pv, "/keys/ec0/versions?api-version=" KF_KV_API "&maxresults=1", &pages1);
    assert_int_equal(json_array_size(vs), 3);
    assert_int_equal(pages1, 3);
    int seen1 = 0, seen2 = 0;
    for (size_t i = 0; i < 3; i++) {
        const char *k = json_string_value(json_array_get(vs, i));
        kf_kid_version(k);
        seen1 += strcmp(k, kid_of(r1)) == 0;
        seen2 += strcmp(k, kid_of(r2)) == 0;
    }
    assert_int_equal(seen1, 1);
    assert_int_equal(seen2, 1);
    json_decref(vs);
    json_decref(r1);
    json_decref(r2);
    bad(pv, "GET", "/keys?api-version=" KF_KV_API "&maxresults=0", NULL, 400, "BadParameter", NULL);
    bad(pv, "GET", "/keys?api-version=" KF_KV_API "&maxresults=26", NULL, 400, "BadParameter", NULL);
    bad(pv, "GET", "/keys?api-version=" KF_KV_API "&maxresults=x", NULL, 400, "BadParameter", NULL);
    json_t *o = ok(pv, "GET", "/keys/nosuchkey/versions", NULL);
    assert_int_equal(json_array_size(ck_json_arr(o, "value")), 0);
    json_decref(o);
}

/* ---- update, rotate, rotation policy ---- */

static void test_update(void **state)
{
    (void)state;
    char v1[40];
    create(pv, "upd", "{\"kty\":\"RSA\"}", v1);
    int64_t now = ck_time_now();
    json_t *b = ok(pv, "PATCH", "/keys/upd/",
           P("{\"attributes\":{\"enabled\":false,\"nbf\":%lld,\"exp\":%lld},\"tags\":{\"a\":\"b\"},\"key_ops\":[\"sign\","
             "\"verify\"]}",
             (long long)now - 10, (long long)now + 86400));
    json_t *at = ck_json_obj(b, "attributes");
    assert_true(json_is_false(json_object_get(at, "enabled")));
    assert_int_equal(ck_json_int(at, "nbf", 0), now - 10);
    assert_int_equal(ck_json_int(at, "exp", 0), now + 86400);
    assert_string_equal(ck_json_str(ck_json_obj(b, "tags"), "a"), "b");
    assert_int_equal(json_array_size(ck_json_arr(ck_json_obj(b, "key"), "key_ops")), 2);
    assert_string_equal(kf_kid_version(kid_of(b)), v1);
    json_decref(b);
    /* A later GET shows the same; a PATCH of one version names it. */
    b = ok(pv, "GET", "/keys/upd", NULL);
    assert_true(json_is_false(json_object_get(ck_json_obj(b, "attributes"), "enabled")));
    json_decref(b);
    b = ok(pv, "PATCH", P("/keys/upd/%s", v1), "{\"attributes\":{\"enabled\":true}}");
    assert_true(json_is_true(json_object_get(ck_json_obj(b, "attributes"), "enabled")));
    assert_string_equal(ck_json_str(ck_json_obj(b, "tags"), "a"), "b");
    json_decref(b);
    bad(pv, "PATCH", "/keys/upd/", "{\"attributes\":{\"enabled\":\"no\"}}", 400, "BadParameter", NULL);
    bad(pv, "PATCH", "/keys/upd/", "{\"key_ops\":[\"launch\"]}", 400, "BadParameter", NULL);
    bad(pv, "PATCH", "/keys/upd/", "{\"attributes\":{\"exp\":-5}}", 400, "BadParameter", NULL);
    bad(pv, "PATCH", "/keys/upd/", "{\"attributes\":", 400, "BadParameter", NULL);
    bad(pv, "PATCH", "/keys/nosuchkey/", "{\"tags\":{}}", 404, "KeyNotFound", NULL);
    bad(pv, "PATCH", "/keys/upd/0123456789abcdef0123456789abcdef", "{\"tags\":{}}", 404, "KeyNotFound", NULL);
}

static void test_rotate_and_policy(void **state)
{
    (void)state;
    char v1[40];
    create(pv, "rot", "{\"kty\":\"RSA\",\"key_size\":3072,\"key_ops\":[\"wrapKey\",\"unwrapKey\"]}", v1);
    /* Default policy (not 404). */
    json_t *p = ok(pv, "GET", "/keys/rot/rotationpolicy", NULL);
    assert_string_equal(ck_json_str(p, "id"), P("https://localhost:%u/keys/rot/rotationpolicy", pv));
    json_t *la = json_array_get(ck_json_arr(p, "lifetimeActions"), 0);
    assert_string_equal(ck_json_str(ck_json_obj(la, "trigger"), "timeBeforeExpiry"), "P30D");
    assert_string_equal(ck_json_str(ck_json_obj(la, "action"), "type"), "Notify");
    json_decref(p);
    /* Put: action types any case, stored canonical. */
    p = ok(pv, "PUT", "/keys/rot/rotationpolicy",
           "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P90D\"},\"action\":{\"type\":\"rotate\"}},"
           "{\"trigger\":{\"timeBeforeExpiry\":\"P30D\"},\"action\":{\"type\":\"NOTIFY\"}}],\"attributes\":{\"expiryTime\":\"P1Y\"}}");
    assert_string_equal(ck_json_str(p, "id"), P("https://localhost:%u/keys/rot/rotationpolicy", pv));
    assert_int_equal(json_array_size(ck_json_arr(p, "lifetimeActions")), 2);
    la = json_array_get(ck_json_arr(p, "lifetimeActions"), 0);
    assert_string_equal(ck_json_str(ck_json_obj(la, "action"), "type"), "Rotate");
    assert_string_equal(ck_json_str(ck_json_obj(la, "trigger"), "timeAfterCreate"), "P90D");
    la = json_array_get(ck_json_arr(p, "lifetimeActions"), 1);
    assert_string_equal(ck_json_str(ck_json_obj(la, "action"), "type"), "Notify");
    assert_string_equal(ck_json_str(ck_json_obj(p, "attributes"), "expiryTime"), "P1Y");
    assert_true(ck_json_int(ck_json_obj(p, "attributes"), "created", 0) > 0);
    json_decref(p);
    p = ok(pv, "GET", "/keys/rot/rotationpolicy", NULL);
    assert_string_equal(ck_json_str(ck_json_obj(p, "attributes"), "expiryTime"), "P1Y");
    assert_int_equal(json_array_size(ck_json_arr(p, "lifetimeActions")), 2);
    json_decref(p);
    const char *invalid[] = {
        "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P90D\"},\"action\":{}}]}",
        "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P90D\"},\"action\":{\"type\":\"Delete\"}}]}",
        "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P90D\",\"timeBeforeExpiry\":\"P30D\"},\"action\":{\"type\":\"Rotate\"}}]}",
        "{\"lifetimeActions\":[{\"trigger\":{},\"action\":{\"type\":\"Rotate\"}}]}",
        "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"90 days\"},\"action\":{\"type\":\"Rotate\"}}]}",
        "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P0D\"},\"action\":{\"type\":\"Rotate\"}}]}",
        "{\"lifetimeActions\":{}}",
        "{\"lifetimeActions\":[],\"attributes\":{\"expiryTime\":\"P7D\"}}",
        "{\"lifetimeActions\":[],\"attributes\":[]}",
    };
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        bad(pv, "PUT", "/keys/rot/rotationpolicy", invalid[i], 400, "BadParameter", NULL);
    bad(pv, "GET", "/keys/nosuchkey/rotationpolicy", NULL, 404, "KeyNotFound", NULL);
    bad(pv, "PUT", "/keys/nosuchkey/rotationpolicy", "{\"lifetimeActions\":[]}", 404, "KeyNotFound", NULL);
    /* Rotate: a new version of the same type, size and operations, expiring after expiryTime. */
    int64_t before = ck_time_now();
    json_t *b = ok(pv, "POST", "/keys/rot/rotate", NULL);
    check_bundle(b, pv, "rot", "RSA");
    assert_string_not_equal(kf_kid_version(kid_of(b)), v1);
    assert_int_equal(b64len(ck_json_str(ck_json_obj(b, "key"), "n")), 384);
    assert_int_equal(json_array_size(ck_json_arr(ck_json_obj(b, "key"), "key_ops")), 2);
    int64_t exp = ck_json_int(ck_json_obj(b, "attributes"), "exp", 0);
    assert_true(exp >= before + 365 * 86400 && exp <= ck_time_now() + 365 * 86400);
    json_decref(b);
    /* The old version still works by its version. */
    json_decref(ok(pv, "GET", P("/keys/rot/%s", v1), NULL));
    /* Rotate with Content-Type and no body, as the SDK sends it. */
    struct rsp r = kv_raw(pv, "POST", "/keys/rot/rotate", officer.tok, "", 0, 1);
    kf_status(&r, 200);
    rsp_free(&r);
    bad(pv, "POST", "/keys/nosuchkey/rotate", NULL, 404, "KeyNotFound", NULL);
}

/* ---- delete, recover, purge ---- */

static void test_delete_recover_purge_protected(void **state)
{
    (void)state;
    json_decref(ok(pv, "POST", "/keys/del/create", "{\"kty\":\"RSA\"}"));
    int64_t t0 = ck_time_now();
    json_t *d = ok(pv, "DELETE", "/keys/del", NULL);
    check_bundle(d, pv, "del", "RSA");
    assert_string_equal(ck_json_str(d, "recoveryId"), P("https://localhost:%u/deletedkeys/del", pv));
    int64_t dd = ck_json_int(d, "deletedDate", 0), sp = ck_json_int(d, "scheduledPurgeDate", 0);
    assert_true(dd >= t0 && dd <= ck_time_now());
    assert_int_equal(sp, dd + 90 * 86400);
    json_decref(d);
    bad(pv, "GET", "/keys/del", NULL, 404, "KeyNotFound", NULL);
    bad(pv, "POST", "/keys/del//wrapkey", "{\"alg\":\"RSA-OAEP\",\"value\":\"AA\"}", 404, "KeyNotFound", NULL);
    bad(pv, "DELETE", "/keys/del", NULL, 404, "KeyNotFound", NULL);
    bad(pv, "POST", "/keys/del/create", "{\"kty\":\"RSA\"}", 409, "Conflict", "ObjectIsDeletedButRecoverable");
    bad(pv, "PUT", "/keys/del", P("{\"key\":%s}", rsa_jwk), 409, "Conflict", "ObjectIsDeletedButRecoverable");
    bad(pv, "POST", "/keys/del/rotate", NULL, 404, "KeyNotFound", NULL);
    d = ok(pv, "GET", "/deletedkeys/del", NULL);
    assert_string_equal(ck_json_str(d, "recoveryId"), P("https://localhost:%u/deletedkeys/del", pv));
    assert_int_equal(ck_json_int(d, "scheduledPurgeDate", 0), sp);
    json_decref(d);
    json_t *l = ok(pv, "GET", "/deletedkeys", NULL);
    json_t *it;
    size_t i;
    int found = 0;
    json_array_foreach(ck_json_arr(l, "value"), i, it) {
        if (strcmp(ck_json_str(it, "recoveryId"), P("https://localhost:%u/deletedkeys/del", pv)) == 0) {
            found = 1;
            assert_string_equal(ck_json_str(it, "kid"), P("https://localhost:%u/keys/del", pv));
            assert_int_equal(ck_json_int(it, "scheduledPurgeDate", 0), sp);
        }
    }
    assert_true(found);
    json_decref(l);
    /* The deleted key is not in the key list. */
    int pages;
    json_t *all = list_all(pv, "/keys", &pages);
    json_array_foreach(all, i, it)
        assert_string_not_equal(json_string_value(it), P("https://localhost:%u/keys/del", pv));
    json_decref(all);
    /* Purge protection: 403 until the scheduled purge date. */
    struct rsp r = kv(pv, "DELETE", "/deletedkeys/del", officer.tok, NULL);
    kv_expect_err(&r, 403, "Forbidden", NULL);
    assert_non_null(strstr(ck_json_str(ck_json_obj(r.json, "error"), "message"), "purge protection"));
    rsp_free(&r);
    json_t *rec = ok(pv, "POST", "/deletedkeys/del/recover", NULL);
    check_bundle(rec, pv, "del", "RSA");
    json_decref(rec);
    json_decref(ok(pv, "GET", "/keys/del/", NULL));
    bad(pv, "POST", "/deletedkeys/del/recover", NULL, 404, "KeyNotFound", NULL);
    bad(pv, "GET", "/deletedkeys/del", NULL, 404, "KeyNotFound", NULL);
    bad(pv, "DELETE", "/deletedkeys/del", NULL, 404, "KeyNotFound", NULL);
    /* Past the scheduled purge date (91 days on, with a token of that time) purge is allowed. */
    json_decref(ok(pv, "DELETE", "/keys/del", NULL));
    char later[8192];
    ck_time_set_offset(91 * 86400);
    kf_token(ta.tid, officer.app_id, officer.secret, KF_VAULT_SCOPE, later, sizeof(later));
    r = kv(pv, "DELETE", "/deletedkeys/del", later, NULL);
    ck_time_set_offset(0);
    kf_status(&r, 204);
    assert_int_equal(strlen(r.body), 0);
    rsp_free(&r);
    bad(pv, "GET", "/deletedkeys/del", NULL, 404, "KeyNotFound", NULL);
    json_decref(ok(pv, "POST", "/keys/del/create", "{\"kty\":\"EC\"}"));
}

static void test_purgeable_vault(void **state)
{
    (void)state;
    json_t *b = ok(pp, "POST", "/keys/p/create", "{\"kty\":\"RSA\"}");
    check_bundle(b, pp, "p", "RSA");
    json_decref(b);
    json_t *d = ok(pp, "DELETE", "/keys/p", NULL);
    assert_int_equal(ck_json_int(d, "scheduledPurgeDate", 0), ck_json_int(d, "deletedDate", 0) + 7 * 86400);
    json_decref(d);
    bad(pp, "PUT", "/keys/p", P("{\"key\":%s}", rsa_jwk), 409, "Conflict", "ObjectIsDeletedButRecoverable");
    struct rsp r = kv(pp, "DELETE", "/deletedkeys/p", officer.tok, NULL);
    kf_status(&r, 204);
    rsp_free(&r);
    bad(pp, "GET", "/deletedkeys/p", NULL, 404, "KeyNotFound", NULL);
    bad(pp, "POST", "/deletedkeys/p/recover", NULL, 404, "KeyNotFound", NULL);
    bad(pp, "DELETE", "/deletedkeys/p", NULL, 404, "KeyNotFound", NULL);
    bad(pp, "GET", "/keys/p", NULL, 404, "KeyNotFound", NULL);
    json_decref(ok(pp, "POST", "/keys/p/create", "{\"kty\":\"RSA\"}"));
    bad(pp, "DELETE", "/deletedkeys/p", NULL, 404, "KeyNotFound", NULL);
}

/* ---- backup and restore ---- */

static void test_backup_restore(void **state)
{
    (void)state;
    uint8_t cek[32];
    assert_int_equal(ck_rand_bytes(cek, sizeof(cek)), CK_OK);
    remember(cek, sizeof(cek), "CEK wrapped before backup");
    json_t *b1 = ok(pp, "POST", "/keys/bk/create", "{\"kty\":\"RSA\",\"tags\":{\"t\":\"v\"}}");
    json_t *w = ok(pp, "POST", P("/keys/bk/%s/wrapkey", kf_kid_version(kid_of(b1))), wrap_req("RSA-OAEP-256", cek, 32));
    json_t *b2 = ok(pp, "POST", "/keys/bk/rotate", NULL);
    json_decref(ok(pp, "PUT", "/keys/bk/rotationpolicy",
                   "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P30D\"},\"action\":{\"type\":\"Rotate\"}}]}"));
    json_t *bk = ok(pp, "POST", "/keys/bk/backup", NULL);
    const char *blob = ck_json_str(bk, "value");
    assert_non_null(blob);
    assert_true(strlen(blob) > 100);
    const char *restore = P("{\"value\":\"%s\"}", blob);
    /* The name is taken, live or soft-deleted. */
    bad(pp, "POST", "/keys/restore", restore, 409, "Conflict", NULL);
    json_decref(ok(pp, "DELETE", "/keys/bk", NULL));
    bad(pp, "POST", "/keys/restore", restore, 409, "Conflict", "ObjectIsDeletedButRecoverable");
    struct rsp r = kv(pp, "DELETE", "/deletedkeys/bk", officer.tok, NULL);
    kf_status(&r, 204);
    rsp_free(&r);
    bad(pp, "POST", "/keys/bk//unwrapkey", P("{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", ck_json_str(w, "value")), 404,
        "KeyNotFound", NULL);
    /* After purge: restored with both versions, tags and policy; old wraps unwrap. */
    json_t *rs = ok(pp, "POST", "/keys/restore", restore);
    check_bundle(rs, pp, "bk", "RSA");
    assert_string_equal(kid_of(rs), kid_of(b2));
    assert_string_equal(ck_json_str(ck_json_obj(rs, "key"), "n"), ck_json_str(ck_json_obj(b2, "key"), "n"));
    assert_string_equal(ck_json_str(ck_json_obj(rs, "tags"), "t"), "v");
    json_decref(rs);
    int pages;
    json_t *vs = list_all(pp, "/keys/bk/versions", &pages);
    assert_int_equal(json_array_size(vs), 2);
    json_decref(vs);
    json_t *u = ok(pp, "POST", P("/keys/bk/%s/unwrapkey", kf_kid_version(kid_of(b1))),
                   P("{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", ck_json_str(w, "value")));
    assert_string_equal(ck_json_str(u, "value"), kf_b64(cek, 32));
    json_decref(u);
    json_t *pol = ok(pp, "GET", "/keys/bk/rotationpolicy", NULL);
    assert_string_equal(ck_json_str(ck_json_obj(json_array_get(ck_json_arr(pol, "lifetimeActions"), 0), "trigger"),
                                    "timeAfterCreate"),
                        "P30D");
    json_decref(pol);
    /* Another vault of the same subscription restores it; a vault of another subscription does not. */
    rs = ok(pv, "POST", "/keys/restore", restore);
    assert_string_equal(kid_of(rs), P("https://localhost:%u/keys/bk/%s", pv, kf_kid_version(kid_of(b2))));
    json_decref(rs);
    u = ok(pv, "POST", P("/keys/bk/%s/unwrapkey", kf_kid_version(kid_of(b1))),
           P("{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", ck_json_str(w, "value")));
    assert_string_equal(ck_json_str(u, "value"), kf_b64(cek, 32));
    json_decref(u);
    bad(po, "POST", "/keys/restore", restore, 400, "BadParameter", NULL);
    bad(po, "GET", "/keys/bk", NULL, 404, "KeyNotFound", NULL);
    /* Garbage. */
    size_t bl = 0;
    uint8_t *raw = b64dec(blob, &bl);
    raw[bl / 2] ^= 0x40;
    bad(pp, "POST", "/keys/restore", P("{\"value\":\"%s\"}", kf_b64(raw, bl)), 400, "BadParameter", NULL);
    ck_free(raw);
    bad(pp, "POST", "/keys/restore", "{\"value\":\"AAAA\"}", 400, "BadParameter", NULL);
    bad(pp, "POST", "/keys/restore", "{\"value\":\"!!!\"}", 400, "BadParameter", NULL);
    bad(pp, "POST", "/keys/restore", "{}", 400, "BadParameter", NULL);
    bad(pp, "POST", "/keys/nosuchkey/backup", NULL, 404, "KeyNotFound", NULL);
    json_decref(bk);
    json_decref(b1);
    json_decref(b2);
    json_decref(w);
}

static void test_rng(void **state)
{
    (void)state;
    json_t *o = ok(pv, "POST", "/rng", "{\"count\":1}");
    assert_int_equal(b64len(ck_json_str(o, "value")), 1);
    json_decref(o);
    o = ok(pv, "POST", "/rng", "{\"count\":128}");
    assert_int_equal(b64len(ck_json_str(o, "value")), 128);
    json_t *o2 = ok(pv, "POST", "/rng", "{\"count\":128}");
    assert_string_not_equal(ck_json_str(o, "value"), ck_json_str(o2, "value"));
    json_decref(o);
    json_decref(o2);
    bad(pv, "POST", "/rng", "{\"count\":0}", 400, "BadParameter", NULL);
    bad(pv, "POST", "/rng", "{\"count\":129}", 400, "BadParameter", NULL);
    bad(pv, "POST", "/rng", "{\"count\":\"8\"}", 400, "BadParameter", NULL);
    bad(pv, "POST", "/rng", "{}", 400, "BadParameter", NULL);
}

/* ---- cryptographic operations ---- */

/* The public key of a bundle, rebuilt locally from its JWK. */
static struct ck_pkey *public_of(const json_t *bundle)
{
    json_t *key = ck_json_obj(bundle, "key");
    struct ck_jwk_parts parts;
    struct ck_pkey *k = NULL;
    memset(&parts, 0, sizeof(parts));
    if (strcmp(ck_json_str(key, "kty"), "RSA") == 0) {
        parts.n.ptr = b64dec(ck_json_str(key, "n"), &parts.n.len);
        parts.e.ptr = b64dec(ck_json_str(key, "e"), &parts.e.len);
        assert_int_equal(ck_pkey_from_jwk("RSA", &parts, &k), CK_OK);
    } else {
        parts.crv = ck_json_str(key, "crv");
        parts.x.ptr = b64dec(ck_json_str(key, "x"), &parts.x.len);
        parts.y.ptr = b64dec(ck_json_str(key, "y"), &parts.y.len);
        assert_int_equal(ck_pkey_from_jwk("EC", &parts, &k), CK_OK);
    }
    ck_free(parts.n.ptr);
    ck_free(parts.e.ptr);
    ck_free(parts.x.ptr);
    ck_free(parts.y.ptr);
    return k;
}

static void test_crypto_rsa(void **state)
{
    (void)state;
    json_t *b = ok(pv, "POST", "/keys/cr/create", "{\"kty\":\"RSA\",\"key_size\":2048}");
    struct ck_pkey *pub = public_of(b);
    char ver[40];
    kf_copy(ver, sizeof(ver), kf_kid_version(kid_of(b)));
    const char *algs[3] = {"RSA1_5", "RSA-OAEP", "RSA-OAEP-256"};
    for (int i = 0; i < 3; i++) {
        uint8_t cek[32];
        assert_int_equal(ck_rand_bytes(cek, sizeof(cek)), CK_OK);
        remember(cek, sizeof(cek), P("CEK %s", algs[i]));
        /* Server wrap, server unwrap (by version and by "//"). */
        json_t *w = ok(pv, "POST", P("/keys/cr/%s/wrapkey", ver), wrap_req(algs[i], cek, 32));
        assert_string_equal(ck_json_str(w, "kid"), kid_of(b));
        assert_int_equal(b64len(ck_json_str(w, "value")), 256);
        json_t *u = ok(pv, "POST", "/keys/cr//unwrapkey", P("{\"alg\":\"%s\",\"value\":\"%s\"}", algs[i], ck_json_str(w, "value")));
        assert_string_equal(ck_json_str(u, "value"), kf_b64(cek, 32));
        assert_string_equal(ck_json_str(u, "kid"), kid_of(b));
        json_decref(u);
        json_decref(w);
        /* Local wrap with the public JWK (what CryptographyClient does for RSA1_5 and RSA-OAEP). */
        struct ck_bytes ct = {0};
        assert_int_equal(ck_rsa_encrypt(pub, algs[i], cek, 32, &ct), CK_OK);
        u = ok(pv, "POST", "/keys/cr//unwrapkey", P("{\"alg\":\"%s\",\"value\":\"%s\"}", algs[i], kf_b64(ct.ptr, ct.len)));
        json_decref(u);
        u = ok(pv, "POST", P("/keys/cr/%s/decrypt", ver), P("{\"alg\":\"%s\",\"value\":\"%s\"}", algs[i], kf_b64(ct.ptr, ct.len)));
        assert_string_equal(ck_json_str(u, "value"), kf_b64(cek, 32));
        json_decref(u);
        /* Encrypt a longer plaintext, decrypt it. */
        const char *msg = "the customer's key never leaves the vault";
        json_t *e = ok(pv, "POST", "/keys/cr//encrypt", wrap_req(algs[i], msg, strlen(msg)));
        u = ok(pv, "POST", "/keys/cr//decrypt", P("{\"alg\":\"%s\",\"value\":\"%s\"}", algs[i], ck_json_str(e, "value")));
        assert_string_equal(ck_json_str(u, "value"), kf_b64(msg, strlen(msg)));
        json_decref(u);
        json_decref(e);
        /* A damaged ciphertext: 400, no detail. */
        if (i > 0) {
            ct.ptr[10] ^= 1;
            bad(pv, "POST", "/keys/cr//unwrapkey", P("{\"alg\":\"%s\",\"value\":\"%s\"}", algs[i], kf_b64(ct.ptr, ct.len)),
                400, "BadParameter", NULL);
        }
        /* The wrong algorithm for the ciphertext. */
        ck_free(ct.ptr);
        /* Too long for the key. */
        uint8_t big[300] = {0};
        bad(pv, "POST", "/keys/cr//wrapkey", wrap_req(algs[i], big, sizeof(big)), 400, "BadParameter", NULL);
    }
    const char *sigs[6] = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"};
    size_t dl[6] = {32, 48, 64, 32, 48, 64};
    for (int i = 0; i < 6; i++) {
        uint8_t digest[64];
        assert_int_equal(ck_rand_bytes(digest, sizeof(digest)), CK_OK);
        json_t *s = ok(pv, "POST", "/keys/cr//sign", P("{\"alg\":\"%s\",\"value\":\"%s\"}", sigs[i], kf_b64(digest, dl[i])));
        assert_string_equal(ck_json_str(s, "kid"), kid_of(b));
        size_t sl = 0;
        uint8_t *sig = b64dec(ck_json_str(s, "value"), &sl);
        assert_int_equal(sl, 256);
        assert_int_equal(ck_verify_digest(pub, sigs[i], digest, dl[i], sig, sl), CK_OK);
        json_t *v = ok(pv, "POST", P("/keys/cr/%s/verify", ver),
                       P("{\"alg\":\"%s\",\"digest\":\"%s\",\"value\":\"%s\"}", sigs[i], kf_b64(digest, dl[i]), kf_b64(sig, sl)));
        assert_true(json_is_true(json_object_get(v, "value")));
        json_decref(v);
        sig[5] ^= 1;
        v = ok(pv, "POST", "/keys/cr//verify",
               P("{\"alg\":\"%s\",\"digest\":\"%s\",\"value\":\"%s\"}", sigs[i], kf_b64(digest, dl[i]), kf_b64(sig, sl)));
        assert_true(json_is_false(json_object_get(v, "value")));
        json_decref(v);
        ck_free(sig);
        json_decref(s);
        /* A digest of the wrong length for the algorithm. */
        bad(pv, "POST", "/keys/cr//sign", P("{\"alg\":\"%s\",\"value\":\"%s\"}", sigs[i], kf_b64(digest, dl[i] == 32 ? 48 : 32)),
            400, "BadParameter", NULL);
    }
    /* Wrong algorithms, bad base64url, missing members. */
    uint8_t d32[32] = {0};
    bad(pv, "POST", "/keys/cr//wrapkey", wrap_req("RS256", d32, 32), 400, "BadParameter", NULL);
    bad(pv, "POST", "/keys/cr//wrapkey", wrap_req("A256KW", d32, 32), 400, "BadParameter", NULL);
    bad(pv, "POST", "/keys/cr//encrypt", wrap_req("A256GCM", d32, 32), 400, "BadParameter", NULL);
    bad(pv, "POST", "/keys/cr//sign", wrap_req("ES256", d32, 32), 400, "BadParameter", NULL);
    bad(pv, "POST", "/keys/cr//sign", wrap_req("RSA-OAEP", d32, 32), 400, "BadParameter", NULL);
    bad(pv, "POST", "/keys/cr//wrapkey", P("{\"value\":\"%s\"}", kf_b64(d32, 32)), 400, "BadParameter", NULL);
    bad(pv, "POST", "/keys/cr//wrapkey", "{\"alg\":\"RSA-OAEP\",\"value\":\"@@@@\"}", 400, "BadParameter", NULL);
    bad(pv, "POST", "/keys/cr//unwrapkey", "{\"alg\":\"RSA-OAEP\",\"value\":\"a+b/c=\"}", 400, "BadParameter", NULL);
    bad(pv, "POST", "/keys/cr//unwrapkey", "{\"alg\":\"RSA-OAEP\"}", 400, "BadParameter", NULL);
    bad(pv, "POST", "/keys/cr//unwrapkey", "{\"alg\":\"RSA-OAEP\",\"value\":17}", 400, "BadParameter", NULL);
    bad(pv, "POST", "/keys/cr//verify", P("{\"alg\":\"RS256\",\"value\":\"%s\"}", kf_b64(d32, 32)), 400, "BadParameter", NULL);
    ck_pkey_free(pub);
    json_decref(b);
}

static void test_crypto_ec(void **state)
{
    (void)state;
    const char *algs[3] = {"ES256", "ES384", "ES512"};
    size_t dl[3] = {32, 48, 64}, sl_want[3] = {64, 96, 132};
    for (int i = 0; i < 3; i++) {
        json_t *b = ok(pv, "GET", P("/keys/ec%d", i), NULL);
        struct ck_pkey *pub = public_of(b);
        uint8_t digest[64];
        assert_int_equal(ck_rand_bytes(digest, sizeof(digest)), CK_OK);
        json_t *s = ok(pv, "POST", P("/keys/ec%d//sign", i), P("{\"alg\":\"%s\",\"value\":\"%s\"}", algs[i], kf_b64(digest, dl[i])));
        size_t sl = 0;
        uint8_t *sig = b64dec(ck_json_str(s, "value"), &sl);
        assert_int_equal(sl, sl_want[i]);
        assert_int_equal(ck_verify_digest(pub, algs[i], digest, dl[i], sig, sl), CK_OK);
        json_t *v = ok(pv, "POST", P("/keys/ec%d//verify", i),
                       P("{\"alg\":\"%s\",\"digest\":\"%s\",\"value\":\"%s\"}", algs[i], kf_b64(digest, dl[i]), kf_b64(sig, sl)));
        assert_true(json_is_true(json_object_get(v, "value")));
        json_decref(v);
        digest[0] ^= 1;
        v = ok(pv, "POST", P("/keys/ec%d//verify", i),
               P("{\"alg\":\"%s\",\"digest\":\"%s\",\"value\":\"%s\"}", algs[i], kf_b64(digest, dl[i]), kf_b64(sig, sl)));
        assert_true(json_is_false(json_object_get(v, "value")));
        json_decref(v);
        ck_free(sig);
        json_decref(s);
        /* Another curve's algorithm, an RSA algorithm, an encryption. */
        bad(pv, "POST", P("/keys/ec%d//sign", i), P("{\"alg\":\"%s\",\"value\":\"%s\"}", algs[(i + 1) % 3], kf_b64(digest, dl[(i + 1) % 3])),
            400, "BadParameter", NULL);
        bad(pv, "POST", P("/keys/ec%d//sign", i), P("{\"alg\":\"RS256\",\"value\":\"%s\"}", kf_b64(digest, 32)), 400,
            "BadParameter", NULL);
        ck_pkey_free(pub);
        json_decref(b);
    }
    /* key_ops of an EC key leave out encryption. */
    uint8_t d32[32] = {0};
    bad(pv, "POST", "/keys/ec0//encrypt", wrap_req("RSA-OAEP", d32, 32), 403, "Forbidden", "KeyOperationForbidden");
    /* With the operation allowed, the algorithm is still wrong for the key type. */
    json_decref(ok(pv, "POST", "/keys/ecops/create", "{\"kty\":\"EC\",\"key_ops\":[\"sign\",\"verify\",\"wrapKey\",\"encrypt\"]}"));
    bad(pv, "POST", "/keys/ecops//wrapkey", wrap_req("RSA-OAEP", d32, 32), 400, "BadParameter", NULL);
    bad(pv, "POST", "/keys/ecops//encrypt", wrap_req("RSA-OAEP-256", d32, 32), 400, "BadParameter", NULL);
}

static void test_key_state(void **state)
{
    (void)state;
    uint8_t cek[32] = {9, 9, 9}, digest[32] = {1, 2, 3};
    const char *sign = P("{\"alg\":\"RS256\",\"value\":\"%s\"}", kf_b64(digest, 32));
    json_t *b = ok(pv, "POST", "/keys/st/create", "{\"kty\":\"RSA\"}");
    json_t *w = ok(pv, "POST", "/keys/st//wrapkey", wrap_req("RSA-OAEP", cek, 32));
    json_t *s = ok(pv, "POST", "/keys/st//sign", sign);
    const char *unwrap = P("{\"alg\":\"RSA-OAEP\",\"value\":\"%s\"}", ck_json_str(w, "value"));
    const char *verify = P("{\"alg\":\"RS256\",\"digest\":\"%s\",\"value\":\"%s\"}", kf_b64(digest, 32), ck_json_str(s, "value"));
    char unwrap_s[4096], verify_s[4096], sign_s[512];
    kf_copy(unwrap_s, sizeof(unwrap_s), unwrap);
    kf_copy(verify_s, sizeof(verify_s), verify);
    kf_copy(sign_s, sizeof(sign_s), sign);

    /* Disabled: unwrap, decrypt and sign refused; wrap, encrypt and verify still work (B.5). */
    json_decref(ok(pv, "PATCH", "/keys/st/", "{\"attributes\":{\"enabled\":false}}"));
    bad(pv, "POST", "/keys/st//unwrapkey", unwrap_s, 403, "Forbidden", "KeyDisabled");
    bad(pv, "POST", "/keys/st//decrypt", unwrap_s, 403, "Forbidden", "KeyDisabled");
    bad(pv, "POST", "/keys/st//sign", sign_s, 403, "Forbidden", "KeyDisabled");
    json_decref(ok(pv, "POST", "/keys/st//wrapkey", wrap_req("RSA-OAEP", cek, 32)));
    json_decref(ok(pv, "POST", "/keys/st//encrypt", wrap_req("RSA-OAEP", cek, 32)));
    json_t *v = ok(pv, "POST", "/keys/st//verify", verify_s);
    assert_true(json_is_true(json_object_get(v, "value")));
    json_decref(v);
    json_decref(ok(pv, "GET", "/keys/st", NULL));
    json_decref(ok(pv, "PATCH", "/keys/st/", "{\"attributes\":{\"enabled\":true}}"));
    json_decref(ok(pv, "POST", "/keys/st//unwrapkey", unwrap_s));

    /* Not yet valid: only verify stays open (ac4e950: outside nbf/exp a key neither protects new
     * data nor releases protected data). */
    int64_t now = ck_time_now();
    json_decref(ok(pv, "PATCH", "/keys/st/", P("{\"attributes\":{\"nbf\":%lld}}", (long long)now + 3600)));
    bad(pv, "POST", "/keys/st//unwrapkey", unwrap_s, 403, "Forbidden", "KeyNotYetValid");
    bad(pv, "POST", "/keys/st//decrypt", unwrap_s, 403, "Forbidden", "KeyNotYetValid");
    bad(pv, "POST", "/keys/st//sign", sign_s, 403, "Forbidden", "KeyNotYetValid");
    bad(pv, "POST", "/keys/st//wrapkey", wrap_req("RSA-OAEP", cek, 32), 403, "Forbidden", "KeyNotYetValid");
    bad(pv, "POST", "/keys/st//encrypt", wrap_req("RSA-OAEP", cek, 32), 403, "Forbidden", "KeyNotYetValid");
    v = ok(pv, "POST", "/keys/st//verify", verify_s);
    assert_true(json_is_true(json_object_get(v, "value")));
    json_decref(v);
    json_decref(ok(pv, "PATCH", "/keys/st/", "{\"attributes\":{\"nbf\":0}}"));
    json_decref(ok(pv, "POST", "/keys/st//unwrapkey", unwrap_s));

    /* Expired: valid now, refused two minutes on (the test clock). */
    json_decref(ok(pv, "PATCH", "/keys/st/", P("{\"attributes\":{\"exp\":%lld}}", (long long)now + 60)));
    json_decref(ok(pv, "POST", "/keys/st//unwrapkey", unwrap_s));
    ck_time_set_offset(120);
    struct rsp r1 = kv(pv, "POST", "/keys/st//unwrapkey", officer.tok, unwrap_s);
    struct rsp r2 = kv(pv, "POST", "/keys/st//sign", officer.tok, sign_s);
    struct rsp r3 = kv(pv, "POST", "/keys/st//wrapkey", officer.tok, wrap_req("RSA-OAEP", cek, 32));
    struct rsp r4 = kv(pv, "POST", "/keys/st//verify", officer.tok, verify_s);
    struct rsp r5 = kv(pv, "POST", "/keys/st//decrypt", officer.tok, unwrap_s);
    ck_time_set_offset(0);
    kv_expect_err(&r1, 403, "Forbidden", "KeyExpired");
    kv_expect_err(&r2, 403, "Forbidden", "KeyExpired");
    kv_expect_err(&r3, 403, "Forbidden", "KeyExpired");
    kf_status(&r4, 200);
    kv_expect_err(&r5, 403, "Forbidden", "KeyExpired");
    rsp_free(&r1);
    rsp_free(&r2);
    rsp_free(&r3);
    rsp_free(&r4);
    rsp_free(&r5);
    json_decref(ok(pv, "POST", "/keys/st//unwrapkey", unwrap_s));
    json_decref(ok(pv, "PATCH", "/keys/st/", "{\"attributes\":{\"exp\":0}}"));

    /* key_ops: only wrap and unwrap. */
    json_decref(ok(pv, "PATCH", "/keys/st/", "{\"key_ops\":[\"wrapKey\",\"unwrapKey\"]}"));
    bad(pv, "POST", "/keys/st//sign", sign_s, 403, "Forbidden", "KeyOperationForbidden");
    bad(pv, "POST", "/keys/st//verify", verify_s, 403, "Forbidden", "KeyOperationForbidden");
    bad(pv, "POST", "/keys/st//encrypt", wrap_req("RSA-OAEP", cek, 32), 403, "Forbidden", "KeyOperationForbidden");
    bad(pv, "POST", "/keys/st//decrypt", unwrap_s, 403, "Forbidden", "KeyOperationForbidden");
    json_decref(ok(pv, "POST", "/keys/st//unwrapkey", unwrap_s));
    json_decref(w);
    json_decref(s);
    json_decref(b);
}

/* ---- request errors ---- */

static void test_request_errors(void **state)
{
    (void)state;
    bad(pv, "GET", "/keys/cr?foo=1", NULL, 400, "BadParameter", NULL);
    bad(pv, "GET", "/keys/cr?api-version=", NULL, 400, "BadParameter", NULL);
    /* The SDK's percent-encoded parameter name. */
    json_decref(kv_ok(pv, "GET", "/keys/cr?api%2Dversion=2025-07-01", officer.tok, NULL, 200));
    bad(pv, "POST", "/keys/j/create", "{\"kty\":\"RSA\"", 400, "BadParameter", NULL);
    bad(pv, "POST", "/keys/j/create", "[\"kty\",\"RSA\"]", 400, "BadParameter", NULL);
    bad(pv, "POST", "/keys/j/create", "", 400, "BadParameter", NULL);
    bad(pv, "POST", "/keys/cr//wrapkey", "not json", 400, "BadParameter", NULL);
    bad(pv, "GET", "/secrets/s", NULL, 400, "BadParameter", NULL);
    bad(pv, "PATCH", "/keys", "{}", 400, "BadParameter", NULL);
    bad(pv, "POST", "/keys/cr/frobnicate", "{}", 400, "BadParameter", NULL);
    /* A body over the 1 MiB cap: 413 before the handler. */
    size_t n = (1u << 20) + 16;
    char *big = ck_malloc(n + 1);
    assert_non_null(big);
    memset(big, ' ', n);
    memcpy(big, "{\"kty\":\"RSA\"", 12);
    big[n - 1] = '}';
    big[n] = '\0';
    struct rsp r = kv_raw(pv, "POST", "/keys/big/create", officer.tok, big, n, 0);
    ck_free(big);
    kv_expect_err(&r, 413, "RequestEntityTooLarge", NULL);
    rsp_free(&r);
    bad(pv, "GET", "/keys/big", NULL, 404, "KeyNotFound", NULL);
}

/* ---- audit ---- */

static void audit_expect(struct ck_db *db, int valid_want, long bad_want)
{
    int valid;
    long records, badseq;
    (void)db;
    kf_audit_verify(armtok, vid, &valid, &records, &badseq);
    if (valid != valid_want || badseq != bad_want) {
        print_error("verifyAudit: valid %d firstBadSequence %ld (want %d, %ld)\n", valid, badseq, valid_want, bad_want);
        fail();
    }
}

static char *row_text(struct ck_db *db, const char *sql, long seq)
{
    struct ck_db_stmt *st = NULL;
    char *out = NULL;
    assert_int_equal(ck_db_prepare(db, sql, &st), CK_OK);
    ck_db_bind_text(st, 1, "keysvault");
    ck_db_bind_int64(st, 2, seq);
    if (ck_db_step(st) == 1)
        out = ck_strdup(ck_db_col_text(st, 0));
    ck_db_stmt_free(st);
    assert_non_null(out);
    return out;
}

static void set_row(struct ck_db *db, long seq, const char *record, const char *prev, const char *hash)
{
    char s[24];
    snprintf(s, sizeof(s), "%ld", seq);
    const char *q[5] = {record, prev, hash, "keysvault", s};
    assert_int_equal(ck_db_run(db, "UPDATE audit SET record = ?1, prev_hash = ?2, hash = ?3 WHERE vault = ?4 AND"
                                   " seq = CAST(?5 AS INTEGER)", 5, q),
                     CK_OK);
}

static void test_audit_and_tamper(void **state)
{
    (void)state;
    /* One record per authenticated request, read in pages of 7 through nextLink. */
    long n = kf_audit_count(armtok, vid, 7);
    if (n != kf_audited(pv)) {
        print_error("audit records %ld, authenticated requests %ld\n", n, kf_audited(pv));
        kf_audit_diff(armtok, vid, pv);
        fail();
    }
    audit_expect(NULL, 1, -1);
    /* The other vaults keep their own chains. */
    assert_int_equal(kf_audit_count(armtok, kf_vault_id(sub, "rg", "purgeable"), 1000), kf_audited(pp));
    assert_int_equal(kf_audit_count(armtok, kf_vault_id(sub2, "rg", "othersub"), 1000), kf_audited(po));
    assert_true(kf_audited(pp) > 10 && kf_audited(po) >= 2);
    /* A record as docs/vault.md shows it. */
    json_t *o = kf_bearer_ok("GET", P("%s/auditRecords?api-version=" KF_ARM_KV_API "&$top=1000", vid), armtok, NULL, 200);
    json_t *arr = ck_json_arr(o, "value"), *rec;
    size_t i;
    int unwrap = 0;
    json_array_foreach(arr, i, rec) {
        if (i == 0)
            assert_string_equal(ck_json_str(rec, "prevHash"), KV_TEST_ZERO);
        else
            assert_string_equal(ck_json_str(rec, "prevHash"), ck_json_str(json_array_get(arr, i - 1), "hash"));
        if (!unwrap && strcmp(ck_json_str(rec, "operation"), "UnwrapKey") == 0 && ck_json_int(rec, "result", 0) == 200) {
            unwrap = 1;
            assert_string_equal(ck_json_str(rec, "callerOid"), officer.oid);
            assert_string_equal(ck_json_str(rec, "callerAppId"), officer.app_id);
            assert_string_equal(ck_json_str(rec, "callerTenantId"), ta.tid);
            assert_string_equal(ck_json_str(rec, "clientAddress"), "127.0.0.1");
            assert_string_equal(ck_json_str(rec, "vault"), "keysvault");
            const char *kid = ck_json_str(rec, "kid");
            assert_non_null(kid);
            kf_kid_version(kid);
            assert_int_equal(strlen(ck_json_str(rec, "hash")), 64);
            assert_int_equal(strlen(ck_json_str(rec, "time")), 28);
        }
    }
    assert_true(unwrap);
    json_decref(o);

    struct ck_db *db = NULL;
    assert_int_equal(ck_db_open(P("%s/vault.db", F.kvdir), &db), CK_OK);
    /* Edit one result. */
    char *orig = row_text(db, "SELECT record FROM audit WHERE vault = ?1 AND seq = ?2", 5);
    const char *q1[2] = {"keysvault", "5"};
    assert_int_equal(ck_db_run(db, "UPDATE audit SET record = replace(record, '\"result\":', '\"result\":1') WHERE vault = ?1"
                                   " AND seq = CAST(?2 AS INTEGER)", 2, q1),
                     CK_OK);
    char *edited = row_text(db, "SELECT record FROM audit WHERE vault = ?1 AND seq = ?2", 5);
    assert_string_not_equal(edited, orig);
    ck_free(edited);
    audit_expect(db, 0, 5);
    const char *q2[3] = {orig, "keysvault", "5"};
    assert_int_equal(ck_db_run(db, "UPDATE audit SET record = ?1 WHERE vault = ?2 AND seq = CAST(?3 AS INTEGER)", 3, q2), CK_OK);
    audit_expect(db, 1, -1);
    ck_free(orig);

    /* Delete one row. */
    char *rec9 = row_text(db, "SELECT record FROM audit WHERE vault = ?1 AND seq = ?2", 9);
    char *prev9 = row_text(db, "SELECT prev_hash FROM audit WHERE vault = ?1 AND seq = ?2", 9);
    char *hash9 = row_text(db, "SELECT hash FROM audit WHERE vault = ?1 AND seq = ?2", 9);
    const char *q3[2] = {"keysvault", "9"};
    assert_int_equal(ck_db_run(db, "DELETE FROM audit WHERE vault = ?1 AND seq = CAST(?2 AS INTEGER)", 2, q3), CK_OK);
    audit_expect(db, 0, 9);
    const char *q4[5] = {"keysvault", "9", rec9, prev9, hash9};
    assert_int_equal(ck_db_run(db, "INSERT INTO audit (vault, seq, record, prev_hash, hash) VALUES (?1,"
                                   " CAST(?2 AS INTEGER), ?3, ?4, ?5)", 5, q4),
                     CK_OK);
    audit_expect(db, 1, -1);
    /* Reorder two rows (swap 3 and 4, each with its own hashes). */
    char *r3 = row_text(db, "SELECT record FROM audit WHERE vault = ?1 AND seq = ?2", 3);
    char *p3 = row_text(db, "SELECT prev_hash FROM audit WHERE vault = ?1 AND seq = ?2", 3);
    char *h3 = row_text(db, "SELECT hash FROM audit WHERE vault = ?1 AND seq = ?2", 3);
    char *r4 = row_text(db, "SELECT record FROM audit WHERE vault = ?1 AND seq = ?2", 4);
    char *p4 = row_text(db, "SELECT prev_hash FROM audit WHERE vault = ?1 AND seq = ?2", 4);
    char *h4 = row_text(db, "SELECT hash FROM audit WHERE vault = ?1 AND seq = ?2", 4);
    set_row(db, 3, r4, p4, h4);
    set_row(db, 4, r3, p3, h3);
    audit_expect(db, 0, 3);
    set_row(db, 3, r3, p3, h3);
    set_row(db, 4, r4, p4, h4);
    audit_expect(db, 1, -1);
    /* Recomputing one record's hash after an edit breaks the next link. */
    char *h6 = row_text(db, "SELECT hash FROM audit WHERE vault = ?1 AND seq = ?2", 6);
    const char *q5[2] = {"keysvault", "6"};
    assert_int_equal(ck_db_run(db, "UPDATE audit SET hash = '" KV_TEST_ZERO "' WHERE vault = ?1 AND"
                                   " seq = CAST(?2 AS INTEGER)", 2, q5),
                     CK_OK);
    audit_expect(db, 0, 6);
    const char *q6[3] = {h6, "keysvault", "6"};
    assert_int_equal(ck_db_run(db, "UPDATE audit SET hash = ?1 WHERE vault = ?2 AND seq = CAST(?3 AS INTEGER)", 3, q6),
                     CK_OK);
    audit_expect(db, 1, -1);
    ck_free(h6);

    /* Dropping the newest record leaves a valid-looking chain; the anchored head catches it. */
    long last = 0;
    {
        struct ck_db_stmt *st = NULL;
        assert_int_equal(ck_db_prepare(db, "SELECT MAX(seq) FROM audit WHERE vault = ?1", &st), CK_OK);
        ck_db_bind_text(st, 1, "keysvault");
        assert_int_equal(ck_db_step(st), 1);
        last = (long)ck_db_col_int64(st, 0);
        ck_db_stmt_free(st);
    }
    char *rl = row_text(db, "SELECT record FROM audit WHERE vault = ?1 AND seq = ?2", last);
    char *pl = row_text(db, "SELECT prev_hash FROM audit WHERE vault = ?1 AND seq = ?2", last);
    char *hl = row_text(db, "SELECT hash FROM audit WHERE vault = ?1 AND seq = ?2", last);
    char lasts[24];
    snprintf(lasts, sizeof(lasts), "%ld", last);
    const char *q7[2] = {"keysvault", lasts};
    assert_int_equal(ck_db_run(db, "DELETE FROM audit WHERE vault = ?1 AND seq = CAST(?2 AS INTEGER)", 2, q7), CK_OK);
    audit_expect(db, 0, last);
    const char *q8[5] = {"keysvault", lasts, rl, pl, hl};
    assert_int_equal(ck_db_run(db, "INSERT INTO audit (vault, seq, record, prev_hash, hash) VALUES (?1,"
                                   " CAST(?2 AS INTEGER), ?3, ?4, ?5)", 5, q8),
                     CK_OK);
    audit_expect(db, 1, -1);

    /* Editing a record and re-hashing every later one (what anyone with write access to the store
     * can do with SHA-256 alone) is caught by the head's MAC, made with the vault's key. */
    char prev[65];
    snprintf(prev, sizeof(prev), "%s", KV_TEST_ZERO);
    for (long s = 1; s <= last; s++) {
        char *text = row_text(db, "SELECT record FROM audit WHERE vault = ?1 AND seq = ?2", s);
        json_t *r = ck_json_parse_object(text, strlen(text), NULL, 0);
        assert_non_null(r);
        if (s == 2)
            json_object_set_new(r, "result", json_integer(299));
        char *canon = kv_audit_canonical(r);
        json_decref(r);
        char buf[8192];
        int blen = snprintf(buf, sizeof(buf), "%s\n%s", prev, canon);
        assert_true(blen > 0 && (size_t)blen < sizeof(buf));
        uint8_t h[CK_SHA256_LEN];
        ck_sha256(buf, (size_t)blen, h);
        char *hex = ck_hex_encode(h, sizeof(h));
        set_row(db, s, canon, prev, hex);
        snprintf(prev, sizeof(prev), "%s", hex);
        ck_free(hex);
        free(canon);
        ck_free(text);
    }
    audit_expect(db, 0, last);
    ck_free(rl);
    ck_free(pl);
    ck_free(hl);
    ck_free(r3);
    ck_free(p3);
    ck_free(h3);
    ck_free(r4);
    ck_free(p4);
    ck_free(h4);
    ck_free(rec9);
    ck_free(prev9);
    ck_free(hash9);
    ck_db_free(db);
}

/* docs/vault.md: "kid is absent for operations on no key" (random bytes, list, restore). */
static void test_audit_kid_absent_without_key(void **state)
{
    (void)state;
    json_t *o = kf_bearer_ok("GET", P("%s/auditRecords?api-version=" KF_ARM_KV_API "&$top=1000", vid), armtok, NULL, 200);
    json_t *rec;
    size_t i;
    int n = 0;
    json_array_foreach(ck_json_arr(o, "value"), i, rec) {
        const char *op = ck_json_str(rec, "operation");
        if (strcmp(op, "GetRandomBytes") == 0 || strcmp(op, "ListKeys") == 0 || strcmp(op, "ListDeletedKeys") == 0) {
            n++;
            if (json_object_get(rec, "kid") != NULL) {
                char *d = ck_json_dump(rec);
                print_error("record of an operation on no key carries kid: %s\n", d);
                free(d);
                json_decref(o);
                fail();
            }
        }
    }
    assert_true(n > 0);
    json_decref(o);
}

/* ---- custody ---- */

static void test_dir_scan(void **state)
{
    (void)state;
    assert_true(nneedles >= 10);
    int hits = 0;
    for (int i = 0; i < nneedles; i++)
        hits += kf_scan(F.dir, needles[i].b, needles[i].n, needles[i].what);
    assert_int_equal(hits, 0);
    /* Nor the vault master key. */
    assert_int_equal(kf_scan(F.dir, ck_secret_ptr(F.kv_master), ck_secret_len(F.kv_master), "vault master key"), 0);
}

/* An operation whose audit record cannot be made durable does not return its result: with every
 * insert into the audit table refused (a trigger), unwrap answers 500 without the key; once the
 * store takes records again, the same unwrap works and is recorded. Last: it leaves a request
 * without a record. */
static void test_audit_failure_withholds_result(void **state)
{
    (void)state;
    uint8_t cek[32] = {9};
    json_t *w = ok(pv, "POST", "/keys/rsa2048//wrapkey", wrap_req("RSA-OAEP-256", cek, 32));
    const char *unwrap = P("{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", ck_json_str(w, "value"));
    char *body = ck_strdup(unwrap);
    json_decref(w);
    struct ck_db *db = NULL;
    assert_int_equal(ck_db_open(P("%s/vault.db", F.kvdir), &db), CK_OK);
    assert_int_equal(ck_db_exec(db, "CREATE TRIGGER audit_refused BEFORE INSERT ON audit BEGIN"
                                    " SELECT RAISE(ABORT, 'refused'); END"),
                     CK_OK);
    struct rsp r = kv(pv, "POST", "/keys/rsa2048//unwrapkey", officer.tok, body);
    assert_int_equal(r.status, 500);
    assert_null(strstr(r.body, kf_b64(cek, 32)));
    assert_string_equal(ck_json_str(ck_json_obj(r.json, "error"), "code"), "InternalServerError");
    rsp_free(&r);
    assert_int_equal(ck_db_exec(db, "DROP TRIGGER audit_refused"), CK_OK);
    ck_db_free(db);
    json_t *u = ok(pv, "POST", "/keys/rsa2048//unwrapkey", body);
    assert_string_equal(ck_json_str(u, "value"), kf_b64(cek, 32));
    json_decref(u);
    ck_free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_rsa_and_ec),
        cmocka_unit_test(test_create_refused),
        cmocka_unit_test(test_import),
        cmocka_unit_test(test_get_shapes),
        cmocka_unit_test(test_list_paging),
        cmocka_unit_test(test_update),
        cmocka_unit_test(test_rotate_and_policy),
        cmocka_unit_test(test_delete_recover_purge_protected),
        cmocka_unit_test(test_purgeable_vault),
        cmocka_unit_test(test_backup_restore),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_crypto_rsa),
        cmocka_unit_test(test_crypto_ec),
        cmocka_unit_test(test_key_state),
        cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_dir_scan),
        cmocka_unit_test(test_audit_and_tamper),
        cmocka_unit_test(test_audit_kid_absent_without_key),
        cmocka_unit_test(test_audit_failure_withholds_result),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
