/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/crypto/keyops.c: EC generation and public points, JWK import (RSA with CRT
 * parameters, EC with points checked against the curve), RSA1_5 / RSA-OAEP / RSA-OAEP-256,
 * RS* / PS* / ES* over digests, AES key wrap. Known answers: RFC 3394 section 4.6, an RSA-OAEP-256
 * ciphertext and an RS256 signature made by the openssl command line; ES* and PS256 signatures are
 * checked against the openssl command line in both directions at test time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/codec.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "crypto/keyops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * A fixed 2048-bit key made by `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`
 * (PKCS#8 DER, base64; the same key as test_rsa.c), the RS256 signature of KAT_MSG under it
 * (`openssl dgst -sha256 -sign`), and KAT_OAEP_CT, the encryption of KAT_OAEP_PT made with
 * `openssl pkeyutl -encrypt -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256
 * -pkeyopt rsa_mgf1_md:sha256` (RSA-OAEP-256 as Key Vault defines it: SHA-256 for OAEP and MGF1).
 */
static const char KAT_DER_B64[] =
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCVAMM2GaKEi77Sed00Ug8PEsgUNiK9Amp/3ChnCbdYfyNW"
    "HWZKIHAP8qWFQBicsEwn/yJ1kYaxbZrBSQSXVqu1E/8H8z0zeLkTqj3YigfgK9fM0Mj8soV+7Zylel3+mLRm6OrmFL8FpkYM"
    "8lsBkoN4iPcZP4SyUJiR3sLnA1fEhXl8iMAYWnGcHUyKIChF49EyGhBHwnunDYKmDcwfLaWjL0BXx4EXt94VrizRsalPuVRC"
    "KexaE2lDFVQkYTkPkSAEAT04qOZ3xxK1Mj/T7vdJiKkiZmmJDQTW4a70KLx8vFm2Bb6LgbygVpohR2NadBOlU3NYzSVDQNLN"
    "y9V+DY0BAgMBAAECggEAHE5Sx1pDV268x3tDHIdiOPjWbZCDNOjaloOaYUilPfiZG+jl37sdzsnHy/KLOmj7brW3NCJ7NgWe"
    "Wo2mg6GBaRrtXfNFcxvB/QxgR1yhdmKd0ljvdaHsXlqBYaZHaPBVhR9GUIMsbsRRlnAL/dZ5h1Jtrqw0ZzOMaFmrKPunlruC"
    "RQfpv7w6zjTp959jylpOJlxpQDLfSQVDy1z8navOIGixAA3wlpILzwEctICFgCdsOeoLz6Y0HHYCPVFsLClo66PO6PnOouV+"
    "iH04nzQHfaTz48RzRpHNFlT+OHF2ZaYq19yO2oyTXJZ2zCIwH3W/YSNrZPAQfy6xFG8L9XOCYQKBgQDJbZK1ZLVgKQbn1jG+"
    "NqUEr5kKJHRg6goZ/0NT/SEZ+mgW3m9B8MCLH9h25M9jsWil3Qr6IGSQqmhD1A7fejsVo9e6j7ofDdaJcGbuwOXYf3bbsPXv"
    "PgAT75KxUMTiX1jgm3wYSUSLcENtCYarLyncvC+5OHdTVDQ2DHosr8OIZQKBgQC9XyZt5rjL+zcf+QifZz/wpP70hip1ykkE"
    "DE+sBMJ8Bw9D8V4nyHLvvxREWO8PxcaTzRP4urCznJ8brY7QPG77GMvRRhiHPsGVcSGnwY36sFEFO/h0eUCZt4UudvDkSnMM"
    "k1Uo7fyWXwrsOidcYu8bQb8Vnvf8Tri2hF6wExnybQKBgEOsHnf2x8Dwx7MoETo4naQ/Yok3yimtN4uYaQRUrMRPjpzwSiy7"
    "N9UF8/Gt2cdCmUfwRXnXXDIGLlVrbzvBkwwoKZgyJXO9cHBoZQydnhroaARTJa0lBV2tRXlxC1SKeA+t7TkzlGXMZ7rAUpA8"
    "njHcv6PYxq4mQgxOkNVmj6jJAoGAOmXHQgjuX+j+XNu9Lvr2Gs2m2d0t5tkUnyz0vMVS/FBpArjCIl6MIya3p0QNpL2GuTl6"
    "uS9JInpgDnb9HXYle0VwRP7qvXo61Ezo5gSoNfB9a7HMso5Zv416gpOnQZ87z1r33gFV7UEt6x8b2D+iILOrq400SBg2mgJD"
    "+ORLEhkCgYEAvPhhoJ8rpEU0GK2JlvEOkBGf3MQcqsdayCcIdg4mpetFr0K4tqqLd19v4BtfO6zsEUKWeaDh0gKOjToGc5Ho"
    "hhYP19jupzWVMB6JrHoqHb/wz+NuNdWNX+DNjRgfLxr/Gh9npCoxw/OeiJo2afkNEn3oks/BwIxvxg8D6YWATU8=";
static const char KAT_SIG_B64[] =
    "DfhJ7OGwEWRHR58N093/6oU+z5nVF3xBGMKh320jxRRbb4m/hJ+bmm/1+TEmL15p7xPb28YrR+Mnemv10HjGolqt4WtSRaHN"
    "IYy9NwHf8W/YyRuc16wDzoP6nSgmau4QKeXikMzX2o6tQ8cyO3jhi8AAyPI7ZgxB5TRjWMzoRrqyn8etZRYw7c52QpKJFWip"
    "MJQ6QT2H9ugBjm7IuSSAA7S4eKdr+acJfiLaiq9EvdQQtmMgrC7kcIrDtGiq25BF/t4RqYDUzcpQImbvHaNhGzBqIhnDlUcc"
    "QvVNfRYRuvVMzCV+8olksrPwaFB+t8an60WPkvBsk4ETyvrPs3PCOg==";
static const char KAT_MSG[] = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UifQ";
static const char KAT_OAEP_PT[] = "crosskey OAEP-256 known answer: a 32-byte DEK follows";
static const char KAT_OAEP_CT[] =
    "OOOcXrKQXbauAbza4mk1DAahR+UGvUKtnv3IAto4fmmCmHzzqNhDFeT5Nmy5TDO1zQGl75X7TqXMw67edwmplPxoqTNXA5Fb"
    "LpKnnU9hRovKmECd4rV2R/XriKiftOQ4yYZUYF7JP8Z8sMq3vhnSIxxu9s3xGR8GRqwaS9iAvp8O7rLdWHbKrrLnmuyXFj9V"
    "463xGNypbdJ84/K6V0HzPRLThVr6PrOggzdedbb8r6IDKTjSkF53P3SZ/W7EawF6BsxX1IGvKb+bnEqijLj4/MdKo6rQWnSF"
    "GICV/AOEaA9NemHzHLbr3m8XPjoSagMKs+T+Xl0fY2tq50GHxFuHgg==";

static const char *const CURVES[] = {"P-256", "P-384", "P-521"};
static const char *const ES_ALGS[] = {"ES256", "ES384", "ES512"};
static const size_t FIELD[] = {32, 48, 66};
static const char *const ENC_ALGS[] = {"RSA1_5", "RSA-OAEP", "RSA-OAEP-256"};
static const size_t ENC_OVERHEAD[] = {11, 42, 66};
static const char *const RSA_SIG_ALGS[] = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"};
static const int RSA_BITS[] = {2048, 3072, 4096};

static struct ck_pkey *rsa_keys[3]; /* 2048, 3072, 4096: generated once, generation is slow */
static struct ck_pkey *ec_keys[3];  /* P-256, P-384, P-521 */
static struct ck_pkey *kat_key;
static char tmpdir[64];
static int have_cli;

/* ---- helpers ---- */

static struct ck_bytes b64(const char *s)
{
    struct ck_bytes b = {0};
    assert_int_equal(ck_b64_decode(s, strlen(s), &b.ptr, &b.len), 0);
    return b;
}

/* A digest of the length alg expects: SHA-256/384/512 of msg, computed by the openssl-free
 * ck_sha256 for 32 bytes and stretched deterministically for the longer ones (the signature
 * code takes any bytes of the right length). */
static size_t digest_for(const char *alg, const char *msg, uint8_t out[64])
{
    size_t len = strstr(alg, "256") ? 32 : strstr(alg, "384") ? 48 : 64;
    uint8_t h[CK_SHA256_LEN];
    ck_sha256(msg, strlen(msg), h);
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(h[i % 32] ^ (uint8_t)(i / 32));
    return len;
}

static struct ck_pkey *public_of(const struct ck_pkey *k)
{
    struct ck_pkey *pub = NULL;
    if (ck_pkey_type(k) == CK_PKEY_RSA) {
        struct ck_bytes n = {0}, e = {0};
        assert_int_equal(ck_pkey_rsa_public(k, &n, &e), CK_OK);
        struct ck_jwk_parts j = {.n = n, .e = e};
        assert_int_equal(ck_pkey_from_jwk("RSA", &j, &pub), CK_OK);
        ck_free(n.ptr);
        ck_free(e.ptr);
    } else {
        struct ck_jwk_parts j = {.crv = ck_pkey_ec_curve(k)};
        assert_int_equal(ck_pkey_ec_public(k, &j.x, &j.y), CK_OK);
        assert_int_equal(ck_pkey_from_jwk("EC", &j, &pub), CK_OK);
        ck_free(j.x.ptr);
        ck_free(j.y.ptr);
    }
    assert_int_equal(ck_pkey_has_private(pub), 0);
    return pub;
}

/* Minimal DER reader: reads one element with the expected tag at *p, sets val to its contents. */
static void der_take(const uint8_t **p, const uint8_t *end, uint8_t tag, struct ck_bytes *val)
{
    const uint8_t *q = *p;
    size_t len = 0;
    assert_true(end - q >= 2);
    assert_int_equal(q[0], tag);
    q++;
    if (*q < 0x80) {
        len = *q++;
    } else {
        int nb = *q++ & 0x7f;
        assert_true(nb >= 1 && nb <= 3 && end - q >= nb);
        while (nb-- > 0)
            len = (len << 8) | *q++;
    }
    assert_true((size_t)(end - q) >= len);
    val->ptr = (uint8_t *)q;
    val->len = len;
    *p = q + len;
}

/* A DER INTEGER without its sign byte, as a JWK member carries it. */
static void der_uint(const uint8_t **p, const uint8_t *end, struct ck_bytes *val)
{
    der_take(p, end, 0x02, val);
    while (val->len > 1 && val->ptr[0] == 0)
        val->ptr++, val->len--;
}

/* Splits a PKCS#8 RSA key into JWK parts pointing into der (not owned). */
static void rsa_jwk_from_pkcs8(const uint8_t *der, size_t len, struct ck_jwk_parts *j)
{
    const uint8_t *p = der, *end = der + len;
    struct ck_bytes seq, v;
    der_take(&p, end, 0x30, &seq);
    p = seq.ptr, end = seq.ptr + seq.len;
    der_take(&p, end, 0x02, &v);   /* version */
    der_take(&p, end, 0x30, &v);   /* algorithm */
    der_take(&p, end, 0x04, &v);   /* privateKey */
    p = v.ptr, end = v.ptr + v.len;
    der_take(&p, end, 0x30, &seq); /* RSAPrivateKey */
    p = seq.ptr, end = seq.ptr + seq.len;
    der_take(&p, end, 0x02, &v);   /* version */
    memset(j, 0, sizeof(*j));
    struct ck_bytes *fields[] = {&j->n, &j->e, &j->d, &j->p, &j->q, &j->dp, &j->dq, &j->qi};
    for (size_t i = 0; i < 8; i++)
        der_uint(&p, end, fields[i]);
}

/* The private scalar of a PKCS#8 EC key (pointing into der). */
static struct ck_bytes ec_d_from_pkcs8(const uint8_t *der, size_t len)
{
    const uint8_t *p = der, *end = der + len;
    struct ck_bytes seq, v;
    der_take(&p, end, 0x30, &seq);
    p = seq.ptr, end = seq.ptr + seq.len;
    der_take(&p, end, 0x02, &v);
    der_take(&p, end, 0x30, &v);
    der_take(&p, end, 0x04, &v);
    p = v.ptr, end = v.ptr + v.len;
    der_take(&p, end, 0x30, &seq); /* ECPrivateKey */
    p = seq.ptr, end = seq.ptr + seq.len;
    der_take(&p, end, 0x02, &v);   /* version 1 */
    der_take(&p, end, 0x04, &v);   /* privateKey */
    return v;
}

/* JOSE r||s to a DER ECDSA-Sig-Value (written into out, returns its length). */
static size_t jose_to_der(const uint8_t *sig, size_t flen, uint8_t *out)
{
    uint8_t body[2 * (66 + 3) + 8];
    size_t n = 0;
    for (int half = 0; half < 2; half++) {
        const uint8_t *v = sig + half * flen;
        size_t len = flen;
        while (len > 1 && v[0] == 0)
            v++, len--;
        int pad = v[0] & 0x80 ? 1 : 0;
        body[n++] = 0x02;
        body[n++] = (uint8_t)(len + pad);
        if (pad)
            body[n++] = 0;
        memcpy(body + n, v, len);
        n += len;
    }
    size_t h = 0;
    out[h++] = 0x30;
    if (n >= 0x80)
        out[h++] = 0x81;
    out[h++] = (uint8_t)n;
    memcpy(out + h, body, n);
    return h + n;
}

/* DER ECDSA-Sig-Value to JOSE r||s. */
static void der_to_jose(const uint8_t *der, size_t len, size_t flen, uint8_t *out)
{
    const uint8_t *p = der, *end = der + len;
    struct ck_bytes seq, v;
    der_take(&p, end, 0x30, &seq);
    p = seq.ptr, end = seq.ptr + seq.len;
    memset(out, 0, 2 * flen);
    for (int half = 0; half < 2; half++) {
        der_uint(&p, end, &v);
        assert_true(v.len <= flen);
        memcpy(out + half * flen + flen - v.len, v.ptr, v.len);
    }
}

static void path_of(char *buf, size_t n, const char *name)
{
    assert_true((size_t)snprintf(buf, n, "%s/%s", tmpdir, name) < n);
}

static void write_file(const char *name, const void *p, size_t len)
{
    char path[128];
    path_of(path, sizeof(path), name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static size_t read_file(const char *name, uint8_t *buf, size_t cap)
{
    char path[128];
    path_of(path, sizeof(path), name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t len = fread(buf, 1, cap, f);
    fclose(f);
    return len;
}

/* Runs an openssl command line in the temporary directory; returns its exit status. */
static int cli(const char *args)
{
    char cmd[1024];
    assert_true((size_t)snprintf(cmd, sizeof(cmd), "cd '%s' && openssl %s >/dev/null 2>&1", tmpdir, args) <
                sizeof(cmd));
    return system(cmd);
}

static void write_private_der(const struct ck_pkey *k, const char *name)
{
    struct ck_secret *der = NULL;
    assert_int_equal(ck_pkey_private_der(k, &der), CK_OK);
    write_file(name, ck_secret_ptr(der), ck_secret_len(der));
    ck_secret_free(der);
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        if (ck_pkey_rsa_generate(RSA_BITS[i], &rsa_keys[i]) != CK_OK)
            return -1;
        if (ck_pkey_ec_generate(CURVES[i], &ec_keys[i]) != CK_OK)
            return -1;
    }
    struct ck_bytes der = {0};
    if (ck_b64_decode(KAT_DER_B64, strlen(KAT_DER_B64), &der.ptr, &der.len) != 0)
        return -1;
    int rc = ck_pkey_from_private_der(der.ptr, der.len, &kat_key);
    ck_free(der.ptr);
    if (rc != CK_OK)
        return -1;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ck_keyops_XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    have_cli = system("openssl version >/dev/null 2>&1") == 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    ck_alloc_fail_after(0);
    for (int i = 0; i < 3; i++) {
        ck_pkey_free(rsa_keys[i]);
        ck_pkey_free(ec_keys[i]);
    }
    ck_pkey_free(kat_key);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- EC keys ---- */

static void test_ec_generate(void **state)
{
    (void)state;
    struct ck_pkey *k = (struct ck_pkey *)0x1;
    for (int i = 0; i < 3; i++) {
        struct ck_bytes x = {0}, y = {0};
        assert_int_equal(ck_pkey_type(ec_keys[i]), CK_PKEY_EC);
        assert_string_equal(ck_pkey_ec_curve(ec_keys[i]), CURVES[i]);
        assert_int_equal(ck_pkey_has_private(ec_keys[i]), 1);
        assert_int_equal(ck_pkey_bits(ec_keys[i]), i == 0 ? 256 : i == 1 ? 384 : 521);
        assert_int_equal(ck_pkey_ec_public(ec_keys[i], &x, &y), CK_OK);
        assert_int_equal(x.len, FIELD[i]);
        assert_int_equal(y.len, FIELD[i]);
        ck_free(x.ptr);
        ck_free(y.ptr);
    }
    assert_int_equal(ck_pkey_ec_generate("P-192", &k), CK_E_INVALID);
    assert_int_equal(ck_pkey_ec_generate("prime256v1", &k), CK_E_INVALID);
    assert_int_equal(ck_pkey_ec_generate("p-256", &k), CK_E_INVALID);
    assert_int_equal(ck_pkey_ec_generate(NULL, &k), CK_E_INVALID);
    assert_ptr_equal(k, (struct ck_pkey *)0x1);
    /* RSA keys are not EC keys. */
    struct ck_bytes x = {0}, y = {0};
    assert_int_equal(ck_pkey_type(rsa_keys[0]), CK_PKEY_RSA);
    assert_null(ck_pkey_ec_curve(rsa_keys[0]));
    assert_int_equal(ck_pkey_ec_public(rsa_keys[0], &x, &y), CK_E_INVALID);
    assert_null(x.ptr);
    assert_int_equal(ck_pkey_type(NULL), 0);
    assert_null(ck_pkey_ec_curve(NULL));
    assert_int_equal(ck_pkey_has_private(NULL), 0);
    assert_int_equal(ck_pkey_has_private(rsa_keys[0]), 1);
}

/* The exported x and y are the point OpenSSL's command line prints in the SubjectPublicKeyInfo. */
static void test_ec_public_matches_cli(void **state)
{
    (void)state;
    if (!have_cli)
        skip();
    for (int i = 0; i < 3; i++) {
        struct ck_bytes x = {0}, y = {0};
        uint8_t spki[256];
        write_private_der(ec_keys[i], "ec.der");
        assert_int_equal(cli("pkey -inform DER -in ec.der -pubout -outform DER -out ec.pub"), 0);
        size_t len = read_file("ec.pub", spki, sizeof(spki));
        assert_true(len > 1 + 2 * FIELD[i]);
        assert_int_equal(ck_pkey_ec_public(ec_keys[i], &x, &y), CK_OK);
        const uint8_t *pt = spki + len - 2 * FIELD[i];
        assert_int_equal(pt[-1], 0x04);
        assert_memory_equal(pt, x.ptr, FIELD[i]);
        assert_memory_equal(pt + FIELD[i], y.ptr, FIELD[i]);
        ck_free(x.ptr);
        ck_free(y.ptr);
    }
}

static void test_ec_jwk_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        struct ck_secret *der = NULL;
        struct ck_pkey *imp = NULL, *pub = NULL;
        struct ck_bytes sig = {0};
        uint8_t dg[64];
        size_t dlen = digest_for(ES_ALGS[i], "ec round trip", dg);
        struct ck_jwk_parts j = {.crv = CURVES[i]};
        assert_int_equal(ck_pkey_private_der(ec_keys[i], &der), CK_OK);
        j.d = ec_d_from_pkcs8(ck_secret_ptr(der), ck_secret_len(der));
        assert_int_equal(ck_pkey_ec_public(ec_keys[i], &j.x, &j.y), CK_OK);
        assert_int_equal(ck_pkey_from_jwk("EC", &j, &imp), CK_OK);
        assert_int_equal(ck_pkey_has_private(imp), 1);
        assert_string_equal(ck_pkey_ec_curve(imp), CURVES[i]);
        /* The imported key signs; the original and a public-only import verify. */
        assert_int_equal(ck_sign_digest(imp, ES_ALGS[i], dg, dlen, &sig), CK_OK);
        assert_int_equal(sig.len, 2 * FIELD[i]);
        assert_int_equal(ck_verify_digest(ec_keys[i], ES_ALGS[i], dg, dlen, sig.ptr, sig.len), CK_OK);
        pub = public_of(ec_keys[i]);
        assert_int_equal(ck_verify_digest(pub, ES_ALGS[i], dg, dlen, sig.ptr, sig.len), CK_OK);
        /* A public key cannot sign. */
        struct ck_bytes none = {0};
        assert_int_equal(ck_sign_digest(pub, ES_ALGS[i], dg, dlen, &none), CK_E_INVALID);
        assert_null(none.ptr);
        /* "EC-HSM" is the same key type. */
        ck_pkey_free(imp);
        imp = NULL;
        assert_int_equal(ck_pkey_from_jwk("EC-HSM", &j, &imp), CK_OK);
        ck_pkey_free(imp);
        ck_pkey_free(pub);
        ck_free(sig.ptr);
        ck_free(j.x.ptr);
        ck_free(j.y.ptr);
        ck_secret_free(der);
    }
}

static void test_ec_jwk_refused(void **state)
{
    (void)state;
    struct ck_pkey *k = (struct ck_pkey *)0x1;
    struct ck_secret *der = NULL;
    struct ck_jwk_parts j = {.crv = "P-256"};
    assert_int_equal(ck_pkey_ec_public(ec_keys[0], &j.x, &j.y), CK_OK);
    assert_int_equal(ck_pkey_private_der(ec_keys[0], &der), CK_OK);
    /* A point off the curve, on each coordinate. */
    j.y.ptr[31] ^= 1;
    assert_int_equal(ck_pkey_from_jwk("EC", &j, &k), CK_E_INVALID);
    j.y.ptr[31] ^= 1;
    j.x.ptr[0] ^= 0x40;
    assert_int_equal(ck_pkey_from_jwk("EC", &j, &k), CK_E_INVALID);
    j.x.ptr[0] ^= 0x40;
    /* The right point under another curve's name, an unknown curve, or none. */
    j.crv = "P-384";
    assert_int_equal(ck_pkey_from_jwk("EC", &j, &k), CK_E_INVALID);
    j.crv = "P-256K";
    assert_int_equal(ck_pkey_from_jwk("EC", &j, &k), CK_E_INVALID);
    j.crv = NULL;
    assert_int_equal(ck_pkey_from_jwk("EC", &j, &k), CK_E_INVALID);
    j.crv = "P-256";
    /* Missing or oversized coordinates. */
    struct ck_bytes y = j.y;
    j.y = (struct ck_bytes){0};
    assert_int_equal(ck_pkey_from_jwk("EC", &j, &k), CK_E_INVALID);
    uint8_t big[33] = {0};
    memcpy(big + 1, y.ptr, 32);
    j.y = (struct ck_bytes){big, sizeof(big)};
    assert_int_equal(ck_pkey_from_jwk("EC", &j, &k), CK_E_INVALID);
    j.y = y;
    /* A private scalar that does not match the point, zero, or too long. */
    struct ck_bytes d = ec_d_from_pkcs8(ck_secret_ptr(der), ck_secret_len(der));
    uint8_t d2[33] = {0};
    memcpy(d2, d.ptr, d.len);
    d2[d.len - 1] ^= 1;
    j.d = (struct ck_bytes){d2, d.len};
    assert_int_equal(ck_pkey_from_jwk("EC", &j, &k), CK_E_INVALID);
    memset(d2, 0, sizeof(d2));
    assert_int_equal(ck_pkey_from_jwk("EC", &j, &k), CK_E_INVALID);
    memcpy(d2 + 1, d.ptr, d.len); /* the right scalar in 33 bytes */
    j.d = (struct ck_bytes){d2, d.len + 1};
    assert_int_equal(ck_pkey_from_jwk("EC", &j, &k), CK_E_INVALID);
    /* The unmodified scalar is accepted (so the refusals above are about the changes). */
    j.d = d;
    assert_int_equal(ck_pkey_from_jwk("oct", &j, &k), CK_E_INVALID);
    assert_int_equal(ck_pkey_from_jwk(NULL, &j, &k), CK_E_INVALID);
    assert_ptr_equal(k, (struct ck_pkey *)0x1);
    assert_int_equal(ck_pkey_from_jwk("EC", &j, &k), CK_OK);
    ck_pkey_free(k);
    ck_free(j.x.ptr);
    ck_free(j.y.ptr);
    ck_secret_free(der);
}

/* ---- RSA JWK import ---- */

static void test_rsa_jwk_import(void **state)
{
    (void)state;
    struct ck_bytes der = b64(KAT_DER_B64), want = b64(KAT_SIG_B64), sig = {0};
    struct ck_jwk_parts j;
    struct ck_pkey *k = NULL;
    uint8_t dg[CK_SHA256_LEN];
    rsa_jwk_from_pkcs8(der.ptr, der.len, &j);
    assert_int_equal(j.n.len, 256);
    assert_int_equal(ck_pkey_from_jwk("RSA", &j, &k), CK_OK);
    assert_int_equal(ck_pkey_type(k), CK_PKEY_RSA);
    assert_int_equal(ck_pkey_bits(k), 2048);
    assert_int_equal(ck_pkey_has_private(k), 1);
    /* The imported key reproduces the openssl command line's RS256 signature (PKCS#1 v1.5 is
     * deterministic; this also checks that the DigestInfo is added to the digest). */
    ck_sha256(KAT_MSG, strlen(KAT_MSG), dg);
    assert_int_equal(ck_sign_digest(k, "RS256", dg, sizeof(dg), &sig), CK_OK);
    assert_int_equal(sig.len, want.len);
    assert_memory_equal(sig.ptr, want.ptr, want.len);
    assert_int_equal(ck_rs256_verify(kat_key, KAT_MSG, strlen(KAT_MSG), sig.ptr, sig.len), CK_OK);
    ck_pkey_free(k);
    k = NULL;
    assert_int_equal(ck_pkey_from_jwk("RSA-HSM", &j, &k), CK_OK);
    ck_pkey_free(k);
    ck_free(sig.ptr);
    ck_free(want.ptr);
    ck_free(der.ptr);
}

static void test_rsa_jwk_generated_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        struct ck_secret *der = NULL, *pt = NULL;
        struct ck_pkey *imp = NULL;
        struct ck_bytes ct = {0};
        struct ck_jwk_parts j;
        assert_int_equal(ck_pkey_private_der(rsa_keys[i], &der), CK_OK);
        rsa_jwk_from_pkcs8(ck_secret_ptr(der), ck_secret_len(der), &j);
        assert_int_equal(ck_pkey_from_jwk("RSA", &j, &imp), CK_OK);
        assert_int_equal(ck_pkey_bits(imp), RSA_BITS[i]);
        assert_int_equal(ck_rsa_encrypt(rsa_keys[i], "RSA-OAEP-256", (const uint8_t *)"dek", 3, &ct), CK_OK);
        assert_int_equal(ck_rsa_decrypt(imp, "RSA-OAEP-256", ct.ptr, ct.len, &pt), CK_OK);
        assert_int_equal(ck_secret_len(pt), 3);
        assert_memory_equal(ck_secret_ptr(pt), "dek", 3);
        ck_secret_free(pt);
        ck_free(ct.ptr);
        ck_pkey_free(imp);
        ck_secret_free(der);
    }
}

static void test_rsa_jwk_refused(void **state)
{
    (void)state;
    struct ck_bytes der = b64(KAT_DER_B64);
    struct ck_jwk_parts j, t;
    struct ck_pkey *k = (struct ck_pkey *)0x1;
    rsa_jwk_from_pkcs8(der.ptr, der.len, &j);
    struct ck_bytes *priv[] = {&t.d, &t.p, &t.q, &t.dp, &t.dq, &t.qi};
    uint8_t buf[512];
    for (size_t i = 0; i < 6; i++) {
        /* One private parameter changed in its last byte: the pairwise check refuses it. */
        t = j;
        assert_true(priv[i]->len <= sizeof(buf));
        memcpy(buf, priv[i]->ptr, priv[i]->len);
        buf[priv[i]->len - 1] ^= 2;
        priv[i]->ptr = buf;
        assert_int_equal(ck_pkey_from_jwk("RSA", &t, &k), CK_E_INVALID);
        /* One private parameter missing: CRT parameters are all required. */
        t = j;
        *priv[i] = (struct ck_bytes){0};
        assert_int_equal(ck_pkey_from_jwk("RSA", &t, &k), CK_E_INVALID);
    }
    /* d alone is refused. */
    t = (struct ck_jwk_parts){.n = j.n, .e = j.e, .d = j.d};
    assert_int_equal(ck_pkey_from_jwk("RSA", &t, &k), CK_E_INVALID);
    /* Missing n or e. */
    t = j;
    t.n = (struct ck_bytes){0};
    assert_int_equal(ck_pkey_from_jwk("RSA", &t, &k), CK_E_INVALID);
    t = j;
    t.e = (struct ck_bytes){0};
    assert_int_equal(ck_pkey_from_jwk("RSA", &t, &k), CK_E_INVALID);
    /* Weak public keys: even modulus, 1024-bit modulus, e = 1, even e, e of 0. */
    t = (struct ck_jwk_parts){.n = j.n, .e = j.e};
    memcpy(buf, j.n.ptr, j.n.len);
    buf[j.n.len - 1] ^= 1;
    t.n.ptr = buf;
    assert_int_equal(ck_pkey_from_jwk("RSA", &t, &k), CK_E_INVALID);
    t.n = (struct ck_bytes){(uint8_t *)j.n.ptr, 128};
    assert_int_equal(ck_pkey_from_jwk("RSA", &t, &k), CK_E_INVALID);
    t.n = j.n;
    static uint8_t e1[] = {1}, e2[] = {0x01, 0x00, 0x00}, e0[] = {0};
    t.e = (struct ck_bytes){e1, 1};
    assert_int_equal(ck_pkey_from_jwk("RSA", &t, &k), CK_E_INVALID);
    t.e = (struct ck_bytes){e2, 3};
    assert_int_equal(ck_pkey_from_jwk("RSA", &t, &k), CK_E_INVALID);
    t.e = (struct ck_bytes){e0, 1};
    assert_int_equal(ck_pkey_from_jwk("RSA", &t, &k), CK_E_INVALID);
    assert_int_equal(ck_pkey_from_jwk("rsa", &j, &k), CK_E_INVALID);
    assert_ptr_equal(k, (struct ck_pkey *)0x1);
    /* The public part alone is a public key. */
    t.e = j.e;
    assert_int_equal(ck_pkey_from_jwk("RSA", &t, &k), CK_OK);
    assert_int_equal(ck_pkey_has_private(k), 0);
    ck_pkey_free(k);
    ck_free(der.ptr);
}

/* ---- RSA encryption ---- */

static void test_rsa_encrypt_round_trip(void **state)
{
    (void)state;
    uint8_t msg[512];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7 + 1);
    for (int s = 0; s < 3; s++) {
        struct ck_pkey *pub = public_of(rsa_keys[s]);
        size_t klen = (size_t)RSA_BITS[s] / 8;
        for (int a = 0; a < 3; a++) {
            size_t max = klen - ENC_OVERHEAD[a];
            size_t lens[] = {0, 1, 32, max};
            for (size_t l = 0; l < 4; l++) {
                struct ck_bytes ct = {0};
                struct ck_secret *pt = NULL;
                assert_int_equal(ck_rsa_encrypt(pub, ENC_ALGS[a], msg, lens[l], &ct), CK_OK);
                assert_int_equal(ct.len, klen);
                assert_int_equal(ck_rsa_decrypt(rsa_keys[s], ENC_ALGS[a], ct.ptr, ct.len, &pt), CK_OK);
                assert_int_equal(ck_secret_len(pt), lens[l]);
                if (lens[l] > 0)
                    assert_memory_equal(ck_secret_ptr(pt), msg, lens[l]);
                ck_secret_free(pt);
                ck_free(ct.ptr);
            }
            /* One byte over the padding's limit. */
            struct ck_bytes ct = {0};
            assert_int_equal(ck_rsa_encrypt(pub, ENC_ALGS[a], msg, max + 1, &ct), CK_E_INVALID);
            assert_null(ct.ptr);
        }
        ck_pkey_free(pub);
    }
}

static void test_rsa_encrypt_errors(void **state)
{
    (void)state;
    struct ck_pkey *pub = public_of(rsa_keys[0]);
    struct ck_bytes ct = {0};
    struct ck_secret *pt = NULL;
    static const uint8_t dek[32] = {1, 2, 3};
    /* Unknown algorithm names, EC keys, decryption without a private key: CK_E_INVALID. */
    assert_int_equal(ck_rsa_encrypt(pub, "RSA-OAEP-384", dek, 32, &ct), CK_E_INVALID);
    assert_int_equal(ck_rsa_encrypt(pub, "rsa-oaep", dek, 32, &ct), CK_E_INVALID);
    assert_int_equal(ck_rsa_encrypt(pub, NULL, dek, 32, &ct), CK_E_INVALID);
    assert_int_equal(ck_rsa_encrypt(ec_keys[0], "RSA-OAEP", dek, 32, &ct), CK_E_INVALID);
    assert_null(ct.ptr);
    assert_int_equal(ck_rsa_encrypt(pub, "RSA-OAEP", dek, 32, &ct), CK_OK);
    assert_int_equal(ck_rsa_decrypt(pub, "RSA-OAEP", ct.ptr, ct.len, &pt), CK_E_INVALID);
    assert_int_equal(ck_rsa_decrypt(rsa_keys[0], "A256KW", ct.ptr, ct.len, &pt), CK_E_INVALID);
    assert_int_equal(ck_rsa_decrypt(ec_keys[0], "RSA-OAEP", ct.ptr, ct.len, &pt), CK_E_INVALID);
    /* Wrong key, wrong OAEP hash, tampered, truncated or empty ciphertext: CK_E_CRYPTO. */
    assert_int_equal(ck_rsa_decrypt(kat_key, "RSA-OAEP", ct.ptr, ct.len, &pt), CK_E_CRYPTO);
    assert_int_equal(ck_rsa_decrypt(rsa_keys[0], "RSA-OAEP-256", ct.ptr, ct.len, &pt), CK_E_CRYPTO);
    for (size_t i = 0; i < ct.len; i += 31) {
        ct.ptr[i] ^= 0x10;
        assert_int_equal(ck_rsa_decrypt(rsa_keys[0], "RSA-OAEP", ct.ptr, ct.len, &pt), CK_E_CRYPTO);
        ct.ptr[i] ^= 0x10;
    }
    assert_int_equal(ck_rsa_decrypt(rsa_keys[0], "RSA-OAEP", ct.ptr, ct.len - 1, &pt), CK_E_CRYPTO);
    assert_int_equal(ck_rsa_decrypt(rsa_keys[0], "RSA-OAEP", ct.ptr, 0, &pt), CK_E_CRYPTO);
    assert_null(pt);
    ck_free(ct.ptr);
    /* RFC 8017 7.1.2 step 1: a ciphertext is exactly k octets, so one that begins with a zero
     * octet is refused with that octet dropped (OpenSSL alone would accept it). */
    for (int tries = 0;; tries++) {
        assert_true(tries < 20000);
        ct = (struct ck_bytes){0};
        assert_int_equal(ck_rsa_encrypt(pub, "RSA-OAEP", dek, 32, &ct), CK_OK);
        if (ct.ptr[0] == 0)
            break;
        ck_free(ct.ptr);
    }
    assert_int_equal(ck_rsa_decrypt(rsa_keys[0], "RSA-OAEP", ct.ptr + 1, ct.len - 1, &pt), CK_E_CRYPTO);
    assert_int_equal(ck_rsa_decrypt(rsa_keys[0], "RSA-OAEP", ct.ptr, ct.len, &pt), CK_OK);
    ck_secret_free(pt);
    pt = NULL;
    ck_free(ct.ptr);
    /* RSA1_5: a tampered ciphertext fails, or (with implicit rejection, OpenSSL 3.2+) yields
     * something other than the plaintext. */
    assert_int_equal(ck_rsa_encrypt(pub, "RSA1_5", dek, 32, &ct), CK_OK);
    ct.ptr[ct.len / 2] ^= 1;
    int rc = ck_rsa_decrypt(rsa_keys[0], "RSA1_5", ct.ptr, ct.len, &pt);
    if (rc == CK_OK) {
        int same = ck_secret_len(pt) == 32 && memcmp(ck_secret_ptr(pt), dek, 32) == 0;
        ck_secret_free(pt);
        assert_false(same);
    } else {
        assert_int_equal(rc, CK_E_CRYPTO);
    }
    ck_free(ct.ptr);
    ck_pkey_free(pub);
}

static void test_oaep256_known_answer(void **state)
{
    (void)state;
    struct ck_bytes ct = b64(KAT_OAEP_CT);
    struct ck_secret *pt = NULL;
    assert_int_equal(ct.len, 256);
    assert_int_equal(ck_rsa_decrypt(kat_key, "RSA-OAEP-256", ct.ptr, ct.len, &pt), CK_OK);
    assert_int_equal(ck_secret_len(pt), strlen(KAT_OAEP_PT));
    assert_memory_equal(ck_secret_ptr(pt), KAT_OAEP_PT, strlen(KAT_OAEP_PT));
    ck_secret_free(pt);
    pt = NULL;
    /* The same ciphertext under the SHA-1 variant or PKCS#1 v1.5 does not decrypt. */
    assert_int_equal(ck_rsa_decrypt(kat_key, "RSA-OAEP", ct.ptr, ct.len, &pt), CK_E_CRYPTO);
    int rc = ck_rsa_decrypt(kat_key, "RSA1_5", ct.ptr, ct.len, &pt);
    if (rc == CK_OK) {
        int same = ck_secret_len(pt) == strlen(KAT_OAEP_PT);
        ck_secret_free(pt);
        assert_false(same);
    } else {
        assert_int_equal(rc, CK_E_CRYPTO);
    }
    ck_free(ct.ptr);
}

/* Our RSA-OAEP-256 and RSA-OAEP ciphertexts decrypt with the openssl command line. */
static void test_oaep_cli(void **state)
{
    (void)state;
    if (!have_cli)
        skip();
    static const uint8_t dek[32] = {0xde, 0xad, 0xbe, 0xef, 9, 8, 7};
    static const char *const md[] = {"sha1", "sha256"};
    write_private_der(kat_key, "rsa.der");
    for (int a = 1; a < 3; a++) {
        struct ck_bytes ct = {0};
        uint8_t out[64];
        char args[512];
        assert_int_equal(ck_rsa_encrypt(kat_key, ENC_ALGS[a], dek, sizeof(dek), &ct), CK_OK);
        write_file("ct.bin", ct.ptr, ct.len);
        snprintf(args, sizeof(args),
                 "pkeyutl -decrypt -inkey rsa.der -keyform DER -pkeyopt rsa_padding_mode:oaep "
                 "-pkeyopt rsa_oaep_md:%s -pkeyopt rsa_mgf1_md:%s -in ct.bin -out pt.bin",
                 md[a - 1], md[a - 1]);
        assert_int_equal(cli(args), 0);
        assert_int_equal(read_file("pt.bin", out, sizeof(out)), sizeof(dek));
        assert_memory_equal(out, dek, sizeof(dek));
        ck_free(ct.ptr);
    }
}

/* ---- signatures ---- */

static void sign_verify_one(const struct ck_pkey *k, const struct ck_pkey *pub, const char *alg, size_t siglen)
{
    uint8_t dg[64], other[64];
    size_t dlen = digest_for(alg, alg, dg);
    struct ck_bytes sig = {0}, sig2 = {0};
    memcpy(other, dg, sizeof(dg));
    other[0] ^= 1;
    assert_int_equal(ck_sign_digest(k, alg, dg, dlen, &sig), CK_OK);
    assert_int_equal(sig.len, siglen);
    assert_int_equal(ck_verify_digest(pub, alg, dg, dlen, sig.ptr, sig.len), CK_OK);
    assert_int_equal(ck_verify_digest(k, alg, dg, dlen, sig.ptr, sig.len), CK_OK);
    assert_int_equal(ck_verify_digest(pub, alg, other, dlen, sig.ptr, sig.len), CK_E_VERIFY);
    for (size_t i = 0; i < sig.len; i += sig.len / 5) {
        sig.ptr[i] ^= 0x04;
        assert_int_equal(ck_verify_digest(pub, alg, dg, dlen, sig.ptr, sig.len), CK_E_VERIFY);
        sig.ptr[i] ^= 0x04;
    }
    assert_int_equal(ck_verify_digest(pub, alg, dg, dlen, sig.ptr, sig.len - 1), CK_E_VERIFY);
    assert_int_equal(ck_verify_digest(pub, alg, dg, dlen, sig.ptr, 0), CK_E_VERIFY);
    /* RS* is deterministic; PS* and ES* are randomised. */
    assert_int_equal(ck_sign_digest(k, alg, dg, dlen, &sig2), CK_OK);
    assert_int_equal(sig2.len, sig.len);
    if (alg[0] == 'R')
        assert_memory_equal(sig.ptr, sig2.ptr, sig.len);
    else
        assert_memory_not_equal(sig.ptr, sig2.ptr, sig.len);
    ck_free(sig.ptr);
    ck_free(sig2.ptr);
}

static void test_sign_round_trip(void **state)
{
    (void)state;
    for (int s = 0; s < 3; s++) {
        struct ck_pkey *pub = public_of(rsa_keys[s]);
        for (int a = 0; a < 6; a++)
            sign_verify_one(rsa_keys[s], pub, RSA_SIG_ALGS[a], (size_t)RSA_BITS[s] / 8);
        ck_pkey_free(pub);
        pub = public_of(ec_keys[s]);
        sign_verify_one(ec_keys[s], pub, ES_ALGS[s], 2 * FIELD[s]);
        ck_pkey_free(pub);
    }
}

static void test_sign_errors(void **state)
{
    (void)state;
    uint8_t dg[64] = {1};
    struct ck_bytes sig = {0};
    uint8_t zeros[132] = {0};
    /* Digest length must match the algorithm's hash. */
    assert_int_equal(ck_sign_digest(rsa_keys[0], "RS256", dg, 31, &sig), CK_E_INVALID);
    assert_int_equal(ck_sign_digest(rsa_keys[0], "RS256", dg, 48, &sig), CK_E_INVALID);
    assert_int_equal(ck_sign_digest(rsa_keys[0], "PS384", dg, 32, &sig), CK_E_INVALID);
    assert_int_equal(ck_sign_digest(rsa_keys[0], "RS512", dg, 48, &sig), CK_E_INVALID);
    assert_int_equal(ck_sign_digest(ec_keys[0], "ES256", dg, 64, &sig), CK_E_INVALID);
    assert_int_equal(ck_sign_digest(ec_keys[2], "ES512", dg, 66, &sig), CK_E_INVALID);
    assert_int_equal(ck_verify_digest(rsa_keys[0], "RS256", dg, 20, zeros, 256), CK_E_INVALID);
    assert_int_equal(ck_verify_digest(ec_keys[1], "ES384", dg, 32, zeros, 96), CK_E_INVALID);
    /* Unknown algorithms. */
    static const char *const bad[] = {"HS256", "ES256K", "rs256", "RS1", "PS", "", "RSA-OAEP"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ck_sign_digest(rsa_keys[0], bad[i], dg, 32, &sig), CK_E_INVALID);
        assert_int_equal(ck_verify_digest(rsa_keys[0], bad[i], dg, 32, zeros, 64), CK_E_INVALID);
    }
    assert_int_equal(ck_sign_digest(rsa_keys[0], NULL, dg, 32, &sig), CK_E_INVALID);
    /* Curve must match the algorithm; RSA algorithms need RSA keys and ES* EC keys. */
    assert_int_equal(ck_sign_digest(ec_keys[0], "ES384", dg, 48, &sig), CK_E_INVALID);
    assert_int_equal(ck_sign_digest(ec_keys[1], "ES256", dg, 32, &sig), CK_E_INVALID);
    assert_int_equal(ck_sign_digest(ec_keys[2], "ES384", dg, 48, &sig), CK_E_INVALID);
    assert_int_equal(ck_verify_digest(ec_keys[1], "ES512", dg, 64, zeros, 132), CK_E_INVALID);
    assert_int_equal(ck_sign_digest(ec_keys[0], "RS256", dg, 32, &sig), CK_E_INVALID);
    assert_int_equal(ck_sign_digest(ec_keys[0], "PS256", dg, 32, &sig), CK_E_INVALID);
    assert_int_equal(ck_sign_digest(rsa_keys[0], "ES256", dg, 32, &sig), CK_E_INVALID);
    assert_int_equal(ck_verify_digest(rsa_keys[0], "ES256", dg, 32, zeros, 64), CK_E_INVALID);
    assert_null(sig.ptr);
    /* ES*: r||s of the wrong length, or of zeros, is a bad signature. */
    assert_int_equal(ck_sign_digest(ec_keys[0], "ES256", dg, 32, &sig), CK_OK);
    assert_int_equal(ck_verify_digest(ec_keys[0], "ES256", dg, 32, sig.ptr, 63), CK_E_VERIFY);
    uint8_t longer[65] = {0};
    memcpy(longer + 1, sig.ptr, 64);
    assert_int_equal(ck_verify_digest(ec_keys[0], "ES256", dg, 32, longer, 65), CK_E_VERIFY);
    memcpy(longer, sig.ptr, 64); /* the valid r||s followed by one more byte */
    assert_int_equal(ck_verify_digest(ec_keys[0], "ES256", dg, 32, longer, 65), CK_E_VERIFY);
    assert_int_equal(ck_verify_digest(ec_keys[0], "ES256", dg, 32, zeros, 64), CK_E_VERIFY);
    assert_int_equal(ck_verify_digest(ec_keys[0], "ES256", dg, 32, NULL, 0), CK_E_VERIFY);
    /* Under another key of the same curve it does not verify. */
    struct ck_pkey *other = NULL;
    assert_int_equal(ck_pkey_ec_generate("P-256", &other), CK_OK);
    assert_int_equal(ck_verify_digest(other, "ES256", dg, 32, sig.ptr, sig.len), CK_E_VERIFY);
    ck_pkey_free(other);
    ck_free(sig.ptr);
    /* RSA: a signature made with PKCS#1 v1.5 is not a PSS signature, nor one over SHA-384. */
    sig = (struct ck_bytes){0};
    assert_int_equal(ck_sign_digest(rsa_keys[0], "RS256", dg, 32, &sig), CK_OK);
    assert_int_equal(ck_verify_digest(rsa_keys[0], "PS256", dg, 32, sig.ptr, sig.len), CK_E_VERIFY);
    assert_int_equal(ck_verify_digest(rsa_keys[1], "RS256", dg, 32, sig.ptr, sig.len), CK_E_VERIFY);
    assert_int_equal(ck_verify_digest(rsa_keys[0], "RS256", dg, 32, zeros, 132), CK_E_VERIFY);
    ck_free(sig.ptr);
}

/* ES256/384/512 against `openssl dgst -sign` / `-prverify`, with DER <-> JOSE done here. */
static void test_es_cli(void **state)
{
    (void)state;
    if (!have_cli)
        skip();
    static const char msg[] = "the quick brown fox signs a blob key";
    static const char *const md[] = {"sha256", "sha384", "sha512"};
    write_file("msg", msg, strlen(msg));
    for (int i = 0; i < 3; i++) {
        char args[256];
        uint8_t der[256], jose[132], dg[64];
        unsigned int dlen = 0;
        size_t n;
        struct ck_bytes sig = {0};
        /* The digest of msg, by the command line (ck_sha256 covers only SHA-256). */
        snprintf(args, sizeof(args), "dgst -%s -binary -out dg.bin msg", md[i]);
        assert_int_equal(cli(args), 0);
        dlen = (unsigned int)read_file("dg.bin", dg, sizeof(dg));
        assert_int_equal(dlen, i == 0 ? 32 : i == 1 ? 48 : 64);
        write_private_der(ec_keys[i], "ec.der");
        /* The command line signs; we verify its converted signature. */
        snprintf(args, sizeof(args), "dgst -%s -sign ec.der -keyform DER -out sig.der msg", md[i]);
        assert_int_equal(cli(args), 0);
        n = read_file("sig.der", der, sizeof(der));
        der_to_jose(der, n, FIELD[i], jose);
        assert_int_equal(ck_verify_digest(ec_keys[i], ES_ALGS[i], dg, dlen, jose, 2 * FIELD[i]), CK_OK);
        jose[FIELD[i]] ^= 1;
        assert_int_equal(ck_verify_digest(ec_keys[i], ES_ALGS[i], dg, dlen, jose, 2 * FIELD[i]), CK_E_VERIFY);
        /* We sign; the command line verifies the converted signature, and refuses a changed one. */
        assert_int_equal(ck_sign_digest(ec_keys[i], ES_ALGS[i], dg, dlen, &sig), CK_OK);
        n = jose_to_der(sig.ptr, FIELD[i], der);
        write_file("our.der", der, n);
        snprintf(args, sizeof(args), "dgst -%s -prverify ec.der -keyform DER -signature our.der msg", md[i]);
        assert_int_equal(cli(args), 0);
        sig.ptr[1] ^= 1;
        n = jose_to_der(sig.ptr, FIELD[i], der);
        write_file("our.der", der, n);
        assert_int_not_equal(cli(args), 0);
        ck_free(sig.ptr);
    }
}

/* PS256 against `openssl dgst -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest`. */
static void test_ps256_cli(void **state)
{
    (void)state;
    if (!have_cli)
        skip();
    static const char msg[] = "PS256 cross-check";
    static const char pss[] = "-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sigopt rsa_mgf1_md:sha256";
    uint8_t dg[CK_SHA256_LEN], sigbuf[512];
    char args[512];
    struct ck_bytes sig = {0};
    ck_sha256(msg, strlen(msg), dg);
    write_file("msg", msg, strlen(msg));
    write_private_der(kat_key, "rsa.der");
    snprintf(args, sizeof(args), "dgst -sha256 -sign rsa.der -keyform DER %s -out ps.sig msg", pss);
    assert_int_equal(cli(args), 0);
    size_t n = read_file("ps.sig", sigbuf, sizeof(sigbuf));
    assert_int_equal(n, 256);
    assert_int_equal(ck_verify_digest(kat_key, "PS256", dg, sizeof(dg), sigbuf, n), CK_OK);
    assert_int_equal(ck_verify_digest(kat_key, "RS256", dg, sizeof(dg), sigbuf, n), CK_E_VERIFY);
    assert_int_equal(ck_sign_digest(kat_key, "PS256", dg, sizeof(dg), &sig), CK_OK);
    write_file("our.sig", sig.ptr, sig.len);
    snprintf(args, sizeof(args), "dgst -sha256 -prverify rsa.der -keyform DER %s -signature our.sig msg", pss);
    assert_int_equal(cli(args), 0);
    /* A salt of another length is not PS256 as JOSE defines it. */
    snprintf(args, sizeof(args),
             "dgst -sha256 -sign rsa.der -keyform DER -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:20 "
             "-out ps20.sig msg");
    assert_int_equal(cli(args), 0);
    n = read_file("ps20.sig", sigbuf, sizeof(sigbuf));
    assert_int_equal(ck_verify_digest(kat_key, "PS256", dg, sizeof(dg), sigbuf, n), CK_E_VERIFY);
    ck_free(sig.ptr);
}

/* ---- AES key wrap ---- */

static void test_aes_kw_rfc3394(void **state)
{
    (void)state;
    /* RFC 3394 section 4.6: wrap 256 bits of key data with a 256-bit KEK. */
    uint8_t kekb[32], data[32];
    static const uint8_t want[40] = {0x28, 0xC9, 0xF4, 0x04, 0xC4, 0xB8, 0x10, 0xF4, 0xCB, 0xCC, 0xB3, 0x5C, 0xFB, 0x87,
                                     0xF8, 0x26, 0x3F, 0x57, 0x86, 0xE2, 0xD8, 0x0E, 0xD3, 0x26, 0xCB, 0xC7, 0xF0, 0xE7,
                                     0x1A, 0x99, 0xF4, 0x3B, 0xFB, 0x98, 0x8B, 0x9B, 0x7A, 0x02, 0xDD, 0x21};
    for (int i = 0; i < 32; i++) {
        kekb[i] = (uint8_t)i;
        data[i] = (uint8_t)(i < 16 ? i * 0x11 : i - 16);
    }
    struct ck_secret *kek = ck_secret_from(kekb, 32), *out = NULL;
    struct ck_bytes ct = {0};
    assert_int_equal(ck_aes_kw_wrap(kek, data, 32, &ct), CK_OK);
    assert_int_equal(ct.len, 40);
    assert_memory_equal(ct.ptr, want, 40);
    assert_int_equal(ck_aes_kw_unwrap(kek, want, 40, &out), CK_OK);
    assert_int_equal(ck_secret_len(out), 32);
    assert_memory_equal(ck_secret_ptr(out), data, 32);
    ck_secret_free(out);
    out = NULL;
    /* Any changed bit, a wrong KEK, or a bad length fails to unwrap. */
    for (size_t i = 0; i < 40; i += 3) {
        ct.ptr[i] ^= 0x80;
        assert_int_equal(ck_aes_kw_unwrap(kek, ct.ptr, 40, &out), CK_E_CRYPTO);
        ct.ptr[i] ^= 0x80;
    }
    kekb[31] ^= 1;
    struct ck_secret *kek2 = ck_secret_from(kekb, 32), *kek16 = ck_secret_from(kekb, 16);
    assert_int_equal(ck_aes_kw_unwrap(kek2, ct.ptr, 40, &out), CK_E_CRYPTO);
    assert_int_equal(ck_aes_kw_unwrap(kek, ct.ptr, 32, &out), CK_E_CRYPTO);
    assert_int_equal(ck_aes_kw_unwrap(kek, ct.ptr, 39, &out), CK_E_CRYPTO);
    assert_int_equal(ck_aes_kw_unwrap(kek, ct.ptr, 16, &out), CK_E_CRYPTO);
    assert_int_equal(ck_aes_kw_unwrap(kek, ct.ptr, 0, &out), CK_E_CRYPTO);
    assert_null(out);
    /* Only 256-bit KEKs; input a multiple of 8 and at least 16 bytes. */
    struct ck_bytes none = {0};
    assert_int_equal(ck_aes_kw_unwrap(kek16, ct.ptr, 40, &out), CK_E_INVALID);
    assert_int_equal(ck_aes_kw_wrap(kek16, data, 32, &none), CK_E_INVALID);
    assert_int_equal(ck_aes_kw_wrap(kek, data, 8, &none), CK_E_INVALID);
    assert_int_equal(ck_aes_kw_wrap(kek, data, 20, &none), CK_E_INVALID);
    assert_int_equal(ck_aes_kw_wrap(kek, data, 0, &none), CK_E_INVALID);
    assert_null(none.ptr);
    /* 16 and 24 bytes wrap and unwrap. */
    for (size_t len = 16; len <= 24; len += 8) {
        assert_int_equal(ck_aes_kw_wrap(kek2, data, len, &none), CK_OK);
        assert_int_equal(none.len, len + 8);
        assert_int_equal(ck_aes_kw_unwrap(kek2, none.ptr, none.len, &out), CK_OK);
        assert_memory_equal(ck_secret_ptr(out), data, len);
        ck_secret_free(out);
        out = NULL;
        ck_free(none.ptr);
        none = (struct ck_bytes){0};
    }
    ck_free(ct.ptr);
    ck_secret_free(kek);
    ck_secret_free(kek2);
    ck_secret_free(kek16);
}

static void test_alg_names(void **state)
{
    (void)state;
    for (int a = 0; a < 3; a++) {
        assert_true(ck_alg_is_rsa_enc(ENC_ALGS[a]));
        assert_false(ck_alg_is_sign(ENC_ALGS[a]));
        assert_true(ck_alg_is_sign(ES_ALGS[a]));
        assert_false(ck_alg_is_rsa_enc(ES_ALGS[a]));
    }
    for (int a = 0; a < 6; a++)
        assert_true(ck_alg_is_sign(RSA_SIG_ALGS[a]));
    assert_false(ck_alg_is_rsa_enc("A256KW"));
    assert_false(ck_alg_is_rsa_enc("RSA-OAEP-512"));
    assert_false(ck_alg_is_rsa_enc(NULL));
    assert_false(ck_alg_is_sign("ES256K"));
    assert_false(ck_alg_is_sign("none"));
    assert_false(ck_alg_is_sign(NULL));
}

/* Returns 1 for CK_OK, 0 for CK_E_NOMEM, and fails the test for anything else. */
static int check_nomem(int rc)
{
    if (rc != CK_OK)
        assert_int_equal(rc, CK_E_NOMEM);
    return rc == CK_OK;
}

/* Every allocation of ours failing in turn: CK_E_NOMEM (or success once the failure point lies
 * past the last allocation), outputs untouched on failure, nothing leaked (ASan). */
static void test_alloc_failure(void **state)
{
    (void)state;
    uint8_t dg[32] = {7}, data[32] = {1};
    struct ck_secret *kek = ck_secret_from(data, 32);
    struct ck_bytes ct = {0};
    struct ck_bytes xy[2] = {{0}}, wrapped = {0};
    assert_int_equal(ck_rsa_encrypt(rsa_keys[0], "RSA-OAEP-256", data, 32, &ct), CK_OK);
    assert_int_equal(ck_pkey_ec_public(ec_keys[0], &xy[0], &xy[1]), CK_OK);
    assert_int_equal(ck_aes_kw_wrap(kek, data, 32, &wrapped), CK_OK);
    for (long n = 1;; n++) {
        struct ck_bytes out = {0}, x = {0}, y = {0};
        struct ck_secret *pt = NULL;
        struct ck_pkey *k = NULL;
        int ok = 1, rc;
        ck_alloc_fail_after(n);
        rc = ck_rsa_encrypt(rsa_keys[0], "RSA-OAEP", data, 32, &out);
        ok &= check_nomem(rc);
        if (rc == CK_OK)
            ck_free(out.ptr);
        else
            assert_null(out.ptr);
        ck_alloc_fail_after(n);
        rc = ck_rsa_decrypt(rsa_keys[0], "RSA-OAEP-256", ct.ptr, ct.len, &pt);
        ok &= check_nomem(rc);
        ck_secret_free(pt);
        ck_alloc_fail_after(n);
        out = (struct ck_bytes){0};
        rc = ck_sign_digest(ec_keys[0], "ES256", dg, 32, &out);
        ok &= check_nomem(rc);
        ck_free(out.ptr);
        ck_alloc_fail_after(n);
        rc = ck_pkey_ec_public(ec_keys[1], &x, &y);
        ok &= check_nomem(rc);
        if (rc != CK_OK)
            assert_true(x.ptr == NULL && y.ptr == NULL);
        ck_free(x.ptr);
        ck_free(y.ptr);
        ck_alloc_fail_after(n);
        rc = ck_pkey_ec_generate("P-256", &k);
        ok &= check_nomem(rc);
        ck_pkey_free(k);
        ck_alloc_fail_after(n);
        out = (struct ck_bytes){0};
        rc = ck_aes_kw_wrap(kek, data, 32, &out);
        ok &= check_nomem(rc);
        ck_free(out.ptr);
        ck_alloc_fail_after(n);
        struct ck_jwk_parts j = {.crv = "P-256", .x = xy[0], .y = xy[1]};
        k = NULL;
        ok &= check_nomem(ck_pkey_from_jwk("EC", &j, &k));
        ck_pkey_free(k);
        ck_alloc_fail_after(n);
        ok &= check_nomem(ck_aes_kw_unwrap(kek, wrapped.ptr, wrapped.len, &pt));
        if (pt != NULL)
            assert_memory_equal(ck_secret_ptr(pt), data, 32);
        ck_secret_free(pt);
        pt = NULL;
        ck_alloc_fail_after(0);
        if (ok)
            break;
        assert_true(n < 20);
    }
    ck_free(ct.ptr);
    ck_free(xy[0].ptr);
    ck_free(xy[1].ptr);
    ck_free(wrapped.ptr);
    ck_secret_free(kek);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ec_generate),
        cmocka_unit_test(test_ec_public_matches_cli),
        cmocka_unit_test(test_ec_jwk_round_trip),
        cmocka_unit_test(test_ec_jwk_refused),
        cmocka_unit_test(test_rsa_jwk_import),
        cmocka_unit_test(test_rsa_jwk_generated_round_trip),
        cmocka_unit_test(test_rsa_jwk_refused),
        cmocka_unit_test(test_rsa_encrypt_round_trip),
        cmocka_unit_test(test_rsa_encrypt_errors),
        cmocka_unit_test(test_oaep256_known_answer),
        cmocka_unit_test(test_oaep_cli),
        cmocka_unit_test(test_sign_round_trip),
        cmocka_unit_test(test_sign_errors),
        cmocka_unit_test(test_es_cli),
        cmocka_unit_test(test_ps256_cli),
        cmocka_unit_test(test_aes_kw_rfc3394),
        cmocka_unit_test(test_alg_names),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
