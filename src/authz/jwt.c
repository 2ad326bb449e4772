/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token verification for every resource service, and RS256 JWT signing for the identity service.
 * Verification refuses any algorithm but RS256 before touching keys, checks the signature with a
 * key of the issuing tenant (cached JWKS fetched from the authority, or keys added directly),
 * then the issuer tenant, lifetime and audience. Optionally keeps verified tokens (by SHA-256 of
 * the whole text) with their claims until their exp, so that a client presenting the same token
 * again costs a hash and the per-call checks (tenant, nbf, audience) instead of a parse and an
 * RSA verification (jwt.h).
 */
#include "authz/jwt.h"
#include "core/codec.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "http/client/httpc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CK_JWKS_MAX_KEYS 16
#define CK_JWKS_REFETCH_SECONDS 30
#define CK_TCACHE_WAYS 4 /* the token cache is 4-way set-associative */

struct ck_vkey {
    char kid[128];
    struct ck_pkey *key;
};

struct ck_vtenant {
    struct ck_vtenant *next;
    char tid[64];
    struct ck_vkey keys[CK_JWKS_MAX_KEYS];
    int nkeys;
    int is_static;      /* keys added directly; never fetched */
    _Atomic uint64_t epoch; /* bumped whenever the keys are dropped or replaced */
    int fetch_failed;   /* the last fetch failed */
    int64_t fetched_at; /* 0: never */
};

/* A verified token: SHA-256 of its text, the issuer's tenant and key-set epoch that verified it,
 * and its claims. */
struct ck_tcache_entry {
    uint8_t id[CK_SHA256_LEN];
    int64_t exp; /* the token's exp; 0: empty slot */
    const struct ck_vtenant *t;
    uint64_t epoch;
    int has_aud; /* aud was one string (in claims.aud); else absent */
    char tid[64];
    struct ck_claims claims;
};

struct ck_verifier {
    char *authority;
    char *ca_file;
    int ttl;
    pthread_mutex_t lock;
    struct ck_vtenant *tenants;
    /* The verified-token cache: sets of CK_TCACHE_WAYS entries; its own lock (the key lock is
     * held during fetches). */
    pthread_mutex_t tc_lock;
    struct ck_tcache_entry *tc;
    size_t ntc;
    _Atomic uint64_t tc_hits;
};

const char *ck_token_fail_text(enum ck_token_fail f)
{
    switch (f) {
    case CK_TF_NONE: return "valid";
    case CK_TF_MISSING: return "no bearer token was presented";
    case CK_TF_MALFORMED: return "the token is malformed";
    case CK_TF_ALG: return "the token's signing algorithm is not accepted (only RS256 is)";
    case CK_TF_KEY: return "the token's signing key is not known for its issuer";
    case CK_TF_SIGNATURE: return "the token's signature is invalid";
    case CK_TF_ISSUER: return "the token's issuer is not accepted";
    case CK_TF_AUDIENCE: return "the token's audience is not accepted";
    case CK_TF_TENANT: return "the token was issued by another tenant";
    case CK_TF_EXPIRED: return "the token has expired";
    case CK_TF_NOT_YET: return "the token is not yet valid";
    case CK_TF_UNAVAILABLE: return "the issuer's signing keys could not be fetched";
    }
    return "invalid token";
}

int ck_verifier_new(const struct ck_verifier_config *cfg, struct ck_verifier **out)
{
    struct ck_verifier *v = ck_calloc(1, sizeof(*v));
    if (v == NULL)
        return CK_E_NOMEM;
    v->authority = cfg->authority ? ck_strdup(cfg->authority) : NULL;
    v->ca_file = cfg->ca_file ? ck_strdup(cfg->ca_file) : NULL;
    v->ttl = cfg->jwks_ttl_seconds > 0 ? cfg->jwks_ttl_seconds : 3600;
    pthread_mutex_init(&v->lock, NULL);
    pthread_mutex_init(&v->tc_lock, NULL);
    if (cfg->token_cache > 0) {
        v->ntc = ((size_t)cfg->token_cache + CK_TCACHE_WAYS - 1) / CK_TCACHE_WAYS * CK_TCACHE_WAYS;
        v->tc = ck_calloc(v->ntc, sizeof(*v->tc));
    }
    if ((cfg->authority != NULL && v->authority == NULL) || (cfg->ca_file != NULL && v->ca_file == NULL) ||
        (v->ntc > 0 && v->tc == NULL)) {
        ck_verifier_free(v);
        return CK_E_NOMEM;
    }
    *out = v;
    return CK_OK;
}

static void ck_vtenant_clear(struct ck_vtenant *t)
{
    for (int i = 0; i < t->nkeys; i++)
        ck_pkey_free(t->keys[i].key);
    t->nkeys = 0;
    atomic_fetch_add(&t->epoch, 1);
}

void ck_verifier_free(struct ck_verifier *v)
{
    if (v == NULL)
        return;
    while (v->tenants != NULL) {
        struct ck_vtenant *t = v->tenants;
        v->tenants = t->next;
        ck_vtenant_clear(t);
        ck_free(t);
    }
    pthread_mutex_destroy(&v->lock);
    pthread_mutex_destroy(&v->tc_lock);
    if (v->tc != NULL)
        ck_freezero(v->tc, v->ntc * sizeof(*v->tc));
    ck_free(v->authority);
    ck_free(v->ca_file);
    ck_free(v);
}

/* Caller holds v->lock. */
static struct ck_vtenant *ck_vtenant_get(struct ck_verifier *v, const char *tid, int create)
{
    for (struct ck_vtenant *t = v->tenants; t != NULL; t = t->next)
        if (strcmp(t->tid, tid) == 0)
            return t;
    if (!create)
        return NULL;
    struct ck_vtenant *t = ck_calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    snprintf(t->tid, sizeof(t->tid), "%s", tid);
    t->next = v->tenants;
    v->tenants = t;
    return t;
}

/* The entry of t whose key id (public, from the token header or the JWKS) is kid, or NULL. Caller
 * holds the verifier's lock. */
static struct ck_vkey *ck_vtenant_find(struct ck_vtenant *t, const char *kid)
{
    for (int i = 0; i < t->nkeys; i++) {
        struct ck_vkey *e = &t->keys[i];
        if (strcmp(e->kid, kid) == 0)
            return e;
    }
    return NULL;
}

int ck_verifier_add_key(struct ck_verifier *v, const char *tid, const char *kid, const struct ck_pkey *k)
{
    int rc = CK_E_NOMEM;
    if (strlen(tid) >= 64 || strlen(kid) >= 128)
        return CK_E_INVALID;
    pthread_mutex_lock(&v->lock);
    struct ck_vtenant *t = ck_vtenant_get(v, tid, 1);
    if (t == NULL)
        goto out;
    t->is_static = 1;
    if (ck_vtenant_find(t, kid) != NULL) {
        rc = CK_OK;
        goto out;
    }
    if (t->nkeys >= CK_JWKS_MAX_KEYS) {
        rc = CK_E_LIMIT;
        goto out;
    }
    t->keys[t->nkeys].key = ck_pkey_dup(k);
    if (t->keys[t->nkeys].key == NULL)
        goto out;
    snprintf(t->keys[t->nkeys].kid, sizeof(t->keys[0].kid), "%s", kid);
    t->nkeys++;
    rc = CK_OK;
out:
    pthread_mutex_unlock(&v->lock);
    return rc;
}

void ck_verifier_forget(struct ck_verifier *v, const char *tid)
{
    pthread_mutex_lock(&v->lock);
    struct ck_vtenant *t = ck_vtenant_get(v, tid, 0);
    if (t != NULL && !t->is_static) {
        ck_vtenant_clear(t);
        t->fetched_at = 0;
    }
    pthread_mutex_unlock(&v->lock);
}

int ck_issuer_tenant(const char *iss, char tid[64])
{
    static const char v1[] = "https://sts.windows.net/";
    static const char v2[] = "https://login.microsoftonline.com/";
    const char *rest;
    size_t n;
    if (iss == NULL)
        return 0;
    if (strncmp(iss, v1, sizeof(v1) - 1) == 0) {
        rest = iss + sizeof(v1) - 1;
        n = strlen(rest);
        if (n < 2 || rest[n - 1] != '/')
            return 0;
        n -= 1;
    } else if (strncmp(iss, v2, sizeof(v2) - 1) == 0) {
        rest = iss + sizeof(v2) - 1;
        n = strlen(rest);
        if (n < 6 || strcmp(rest + n - 5, "/v2.0") != 0)
            return 0;
        n -= 5;
    } else {
        return 0;
    }
    if (n >= 64)
        return 0;
    memcpy(tid, rest, n);
    tid[n] = '\0';
    return ck_uuid_valid(tid);
}

/* Parses one JWKS document into t (replacing its keys). Caller holds the lock. */
static int ck_jwks_load(struct ck_vtenant *t, const char *text, size_t len)
{
    json_t *doc = ck_json_parse_object(text, len, NULL, 0);
    json_t *keys = doc ? ck_json_arr(doc, "keys") : NULL;
    size_t i;
    json_t *jk;
    if (keys == NULL) {
        json_decref(doc);
        return CK_E_INVALID;
    }
    ck_vtenant_clear(t);
    json_array_foreach(keys, i, jk) {
        const char *kty = ck_json_str(jk, "kty");
        const char *kid = ck_json_str(jk, "kid");
        const char *n = ck_json_str(jk, "n");
        const char *e = ck_json_str(jk, "e");
        uint8_t *nb = NULL, *eb = NULL;
        size_t nl = 0, el = 0;
        struct ck_pkey *k = NULL;
        if (t->nkeys >= CK_JWKS_MAX_KEYS)
            break;
        if (kty == NULL || strcmp(kty, "RSA") != 0 || kid == NULL || n == NULL || e == NULL || strlen(kid) >= 128)
            continue;
        if (ck_b64url_decode(n, strlen(n), &nb, &nl) == 0 && ck_b64url_decode(e, strlen(e), &eb, &el) == 0 &&
            ck_pkey_rsa_from_public(nb, nl, eb, el, &k) == CK_OK) {
            snprintf(t->keys[t->nkeys].kid, sizeof(t->keys[0].kid), "%s", kid);
            t->keys[t->nkeys].key = k;
            t->nkeys++;
        }
        ck_free(nb);
        ck_free(eb);
    }
    json_decref(doc);
    return CK_OK;
}

/* Caller holds the lock; the fetch happens under it so one tenant is fetched once at a time. */
static int ck_jwks_fetch(struct ck_verifier *v, struct ck_vtenant *t)
{
    struct ck_httpc_req req = {0};
    struct ck_httpc_resp resp;
    char url[1024];
    int rc;
    if (v->authority == NULL)
        return CK_E_UNAVAILABLE;
    snprintf(url, sizeof(url), "%s/%s/discovery/v2.0/keys", v->authority, t->tid);
    req.url = url;
    req.ca_file = v->ca_file;
    req.timeout_ms = 5000;
    req.limit = 256 * 1024;
    rc = ck_httpc_do(&req, &resp);
    if (rc == CK_OK && resp.status == 200)
        rc = ck_jwks_load(t, resp.body.data, resp.body.len);
    else if (rc == CK_OK)
        rc = CK_E_UNAVAILABLE;
    ck_httpc_resp_cleanup(&resp);
    t->fetched_at = ck_time_now();
    t->fetch_failed = rc != CK_OK;
    if (rc != CK_OK)
        ck_log(CK_LOG_WARN, "jwks fetch for tenant %s failed: %s", t->tid, ck_err_text(rc));
    return rc;
}

uint64_t ck_verifier_cache_hits(struct ck_verifier *v)
{
    return atomic_load(&v->tc_hits);
}

/* The first of the CK_TCACHE_WAYS slots of the set a token id maps to. */
static struct ck_tcache_entry *ck_tcache_set(struct ck_verifier *v, const uint8_t id[CK_SHA256_LEN])
{
    uint64_t h = 0;
    memcpy(&h, id, sizeof(h));
    return &v->tc[(h % (v->ntc / CK_TCACHE_WAYS)) * CK_TCACHE_WAYS];
}

/* Copies the entry for id into *out when it is there, unexpired at now and verified by the
 * issuer's current keys. Returns 1 on a hit. */
static int ck_tcache_get(struct ck_verifier *v, const uint8_t id[CK_SHA256_LEN], int64_t now, struct ck_tcache_entry *out)
{
    int hit = 0;
    pthread_mutex_lock(&v->tc_lock);
    struct ck_tcache_entry *set = ck_tcache_set(v, id);
    for (int i = 0; i < CK_TCACHE_WAYS; i++) {
        struct ck_tcache_entry *e = &set[i];
        if (e->exp == 0 || !ck_ct_equal(e->id, sizeof(e->id), id, CK_SHA256_LEN))
            continue;
        if (now < e->exp && atomic_load(&e->t->epoch) == e->epoch) {
            *out = *e;
            hit = 1;
        } else {
            memset(e, 0, sizeof(*e));
        }
        break;
    }
    pthread_mutex_unlock(&v->tc_lock);
    return hit;
}

/* Keeps an entry: in the slot of the same token, else an empty one, else the one whose token
 * expires first. */
static void ck_tcache_put(struct ck_verifier *v, const struct ck_tcache_entry *in)
{
    pthread_mutex_lock(&v->tc_lock);
    struct ck_tcache_entry *set = ck_tcache_set(v, in->id), *slot = &set[0];
    for (int i = 0; i < CK_TCACHE_WAYS; i++) {
        struct ck_tcache_entry *e = &set[i];
        if (e->exp != 0 && memcmp(e->id, in->id, sizeof(e->id)) == 0) {
            slot = e;
            break;
        }
        if (slot->exp != 0 && (e->exp == 0 || e->exp < slot->exp))
            slot = e;
    }
    *slot = *in;
    pthread_mutex_unlock(&v->tc_lock);
}

/* The checks that depend on the caller and the clock, for a token whose signature and claims are
 * already known good (a cache hit). */
static enum ck_token_fail ck_tcache_checks(const struct ck_tcache_entry *e, const char *const *audiences,
                                           const char *tenant, int64_t now)
{
    if (tenant != NULL && strcasecmp(tenant, e->tid) != 0)
        return CK_TF_TENANT;
    if (e->claims.nbf - CK_JWT_SKEW_SECONDS > now)
        return CK_TF_NOT_YET;
    if (audiences == NULL)
        return CK_TF_NONE;
    for (const char *const *a = audiences; e->has_aud && *a != NULL; a++)
        if (strcmp(e->claims.aud, *a) == 0)
            return CK_TF_NONE;
    return CK_TF_AUDIENCE;
}

/* Returns a new reference to the key, or NULL with *why set; *t and *epoch name the key set. */
static struct ck_pkey *ck_verifier_key(struct ck_verifier *v, const char *tid, const char *kid, enum ck_token_fail *why,
                                       const struct ck_vtenant **tp, uint64_t *epoch)
{
    struct ck_pkey *k = NULL;
    pthread_mutex_lock(&v->lock);
    struct ck_vtenant *t = ck_vtenant_get(v, tid, 1);
    if (t == NULL) {
        *why = CK_TF_UNAVAILABLE;
        goto out;
    }
    int64_t now = ck_time_now();
    for (int pass = 0; pass < 2 && k == NULL; pass++) {
        if (!t->is_static && (t->fetched_at == 0 || now - t->fetched_at > v->ttl ||
                              (pass == 1 && now - t->fetched_at > CK_JWKS_REFETCH_SECONDS))) {
            if (ck_jwks_fetch(v, t) != CK_OK && t->nkeys == 0) {
                *why = CK_TF_UNAVAILABLE;
                goto out;
            }
        }
        const struct ck_vkey *e = ck_vtenant_find(t, kid);
        if (e != NULL)
            k = ck_pkey_dup(e->key);
    }
    if (k == NULL)
        *why = t->fetch_failed && t->nkeys == 0 ? CK_TF_UNAVAILABLE : CK_TF_KEY;
    *tp = t;
    *epoch = atomic_load(&t->epoch);
out:
    pthread_mutex_unlock(&v->lock);
    return k;
}

static json_t *ck_jwt_part(const char *p, size_t n)
{
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    json_t *j = NULL;
    if (ck_b64url_decode(p, n, &raw, &rawlen) != 0)
        return NULL;
    j = ck_json_parse_object((const char *)raw, rawlen, NULL, 0);
    ck_free(raw);
    return j;
}

int ck_jwt_decode_unverified(const char *token, json_t **header, json_t **payload)
{
    const char *d1, *d2;
    json_t *h = NULL, *p = NULL;
    if (token == NULL || strlen(token) > CK_JWT_MAX_LEN)
        return CK_E_INVALID;
    d1 = strchr(token, '.');
    d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (d1 == NULL || d2 == NULL || strchr(d2 + 1, '.') != NULL)
        return CK_E_INVALID;
    h = ck_jwt_part(token, (size_t)(d1 - token));
    p = ck_jwt_part(d1 + 1, (size_t)(d2 - d1 - 1));
    if (h == NULL || p == NULL) {
        json_decref(h);
        json_decref(p);
        return CK_E_INVALID;
    }
    *header = h;
    *payload = p;
    return CK_OK;
}

static int ck_copy_claim(const json_t *p, const char *name, char *dst, size_t dstlen, int required)
{
    const char *s = ck_json_str(p, name);
    if (s == NULL) {
        dst[0] = '\0';
        return required ? -1 : 0;
    }
    if (strlen(s) >= dstlen)
        return -1;
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

static int ck_aud_ok(const json_t *aud, const char *const *audiences)
{
    if (audiences == NULL)
        return 1;
    for (const char *const *a = audiences; *a != NULL; a++) {
        if (json_is_string(aud) && strcmp(json_string_value(aud), *a) == 0)
            return 1;
        if (json_is_array(aud)) {
            size_t i;
            json_t *x;
            json_array_foreach(aud, i, x) {
                if (json_is_string(x) && strcmp(json_string_value(x), *a) == 0)
                    return 1;
            }
        }
    }
    return 0;
}

enum ck_token_fail ck_verify_token(struct ck_verifier *v, const char *token, const char *const *audiences,
                                   const char *tenant, struct ck_claims *out)
{
    json_t *h = NULL, *p = NULL;
    struct ck_pkey *key = NULL;
    uint8_t *sig = NULL;
    size_t siglen = 0;
    enum ck_token_fail why = CK_TF_MALFORMED;
    struct ck_claims c;
    char tid[64];
    struct ck_tcache_entry *te = NULL;
    const struct ck_vtenant *kt = NULL;
    uint64_t epoch = 0;

    if (token == NULL || *token == '\0')
        return CK_TF_MISSING;
    if (v->ntc > 0 && strlen(token) <= CK_JWT_MAX_LEN) {
        te = ck_malloc(sizeof(*te));
        if (te != NULL) {
            uint8_t id[CK_SHA256_LEN];
            ck_sha256(token, strlen(token), id);
            if (ck_tcache_get(v, id, ck_time_now(), te)) {
                why = ck_tcache_checks(te, audiences, tenant, ck_time_now());
                if (why == CK_TF_NONE)
                    *out = te->claims;
                atomic_fetch_add(&v->tc_hits, 1);
                goto out;
            }
            memset(te, 0, sizeof(*te));
            memcpy(te->id, id, sizeof(id));
        }
    }
    if (ck_jwt_decode_unverified(token, &h, &p) != CK_OK)
        goto out;
    const char *alg = ck_json_str(h, "alg");
    if (alg == NULL || strcmp(alg, "RS256") != 0) {
        why = CK_TF_ALG;
        goto out;
    }
    const char *kid = ck_json_str(h, "kid");
    if (kid == NULL)
        goto out;
    if (!ck_issuer_tenant(ck_json_str(p, "iss"), tid)) {
        why = CK_TF_ISSUER;
        goto out;
    }
    /* A token for another tenant is refused before any key is looked up or fetched, so
     * unauthenticated callers cannot make the verifier fetch or cache keys of arbitrary tenants. */
    if (tenant != NULL && strcasecmp(tenant, tid) != 0) {
        why = CK_TF_TENANT;
        goto out;
    }
    key = ck_verifier_key(v, tid, kid, &why, &kt, &epoch);
    if (key == NULL)
        goto out;
    const char *d2 = strrchr(token, '.');
    if (ck_b64url_decode(d2 + 1, strlen(d2 + 1), &sig, &siglen) != 0) {
        why = CK_TF_MALFORMED;
        goto out;
    }
    if (ck_rs256_verify(key, token, (size_t)(d2 - token), sig, siglen) != CK_OK) {
        why = CK_TF_SIGNATURE;
        goto out;
    }
    /* The signature holds: the claims can be read. */
    memset(&c, 0, sizeof(c));
    why = CK_TF_MALFORMED;
    if (ck_copy_claim(p, "iss", c.iss, sizeof(c.iss), 1) || ck_copy_claim(p, "tid", c.tid, sizeof(c.tid), 0) ||
        ck_copy_claim(p, "oid", c.oid, sizeof(c.oid), 0) || ck_copy_claim(p, "sub", c.sub, sizeof(c.sub), 0) ||
        ck_copy_claim(p, "appid", c.appid, sizeof(c.appid), 0) ||
        ck_copy_claim(p, "idtyp", c.idtyp, sizeof(c.idtyp), 0) || ck_copy_claim(p, "ver", c.ver, sizeof(c.ver), 0) ||
        ck_copy_claim(p, "xms_mirid", c.xms_mirid, sizeof(c.xms_mirid), 0))
        goto out;
    if (c.appid[0] == '\0' && ck_copy_claim(p, "azp", c.appid, sizeof(c.appid), 0))
        goto out;
    if (c.tid[0] == '\0')
        memcpy(c.tid, tid, strlen(tid) + 1);
    if (strcmp(c.tid, tid) != 0) {
        why = CK_TF_ISSUER;
        goto out;
    }
    json_t *exp = json_object_get(p, "exp");
    if (!json_is_integer(exp))
        goto out;
    c.exp = json_integer_value(exp);
    c.nbf = ck_json_int(p, "nbf", 0);
    c.iat = ck_json_int(p, "iat", 0);
    json_t *aud = json_object_get(p, "aud");
    if (json_is_string(aud) && strlen(json_string_value(aud)) < sizeof(c.aud))
        memcpy(c.aud, json_string_value(aud), strlen(json_string_value(aud)) + 1);
    int64_t now = ck_time_now();
    if (c.exp + CK_JWT_SKEW_SECONDS < now) {
        why = CK_TF_EXPIRED;
        goto out;
    }
    if (c.nbf - CK_JWT_SKEW_SECONDS > now) {
        why = CK_TF_NOT_YET;
        goto out;
    }
    if (!ck_aud_ok(aud, audiences)) {
        why = CK_TF_AUDIENCE;
        goto out;
    }
    *out = c;
    why = CK_TF_NONE;
    /* Kept until exp, never beyond; only a single string audience (or none) is kept, so that the
     * audience check of a hit is the same as this one. */
    if (te != NULL && now < c.exp && (aud == NULL || (json_is_string(aud) && c.aud[0] != '\0'))) {
        te->exp = c.exp;
        te->t = kt;
        te->epoch = epoch;
        te->has_aud = aud != NULL;
        memcpy(te->tid, tid, sizeof(te->tid));
        te->claims = c;
        ck_tcache_put(v, te);
    }
out:
    json_decref(h);
    json_decref(p);
    ck_pkey_free(key);
    ck_free(sig);
    ck_free(te);
    return why;
}

int ck_jwt_sign(const struct ck_pkey *k, const char *kid, const char *x5t, const json_t *claims,
                struct ck_secret **token)
{
    json_t *hdr = json_pack("{s:s,s:s,s:s}", "typ", "JWT", "alg", "RS256", "kid", kid);
    char *hj = NULL, *pj = NULL, *hb = NULL, *pb = NULL, *sb = NULL;
    struct ck_buf b;
    struct ck_bytes sig = {0};
    int rc = CK_E_NOMEM;

    ck_buf_init(&b, CK_JWT_MAX_LEN);
    b.secret = 1;
    if (hdr == NULL)
        goto out;
    if (x5t != NULL)
        json_object_set_new(hdr, "x5t", json_string(x5t));
    hj = ck_json_dump(hdr);
    pj = ck_json_dump(claims);
    if (hj == NULL || pj == NULL)
        goto out;
    hb = ck_b64url_encode((const uint8_t *)hj, strlen(hj));
    pb = ck_b64url_encode((const uint8_t *)pj, strlen(pj));
    if (hb == NULL || pb == NULL)
        goto out;
    if ((rc = ck_buf_puts(&b, hb)) != CK_OK || (rc = ck_buf_puts(&b, ".")) != CK_OK ||
        (rc = ck_buf_puts(&b, pb)) != CK_OK)
        goto out;
    if ((rc = ck_rs256_sign(k, b.data, b.len, &sig)) != CK_OK)
        goto out;
    sb = ck_b64url_encode(sig.ptr, sig.len);
    rc = CK_E_NOMEM;
    if (sb == NULL || ck_buf_puts(&b, ".") != CK_OK || ck_buf_puts(&b, sb) != CK_OK)
        goto out;
    *token = ck_secret_from(b.data, b.len + 1);
    rc = *token ? CK_OK : CK_E_NOMEM;
out:
    json_decref(hdr);
    free(hj);
    free(pj);
    ck_free(hb);
    ck_free(pb);
    ck_free(sb);
    ck_free(sig.ptr);
    ck_buf_cleanup(&b);
    return rc;
}

const char *ck_bearer_token(const char *authorization)
{
    if (authorization == NULL)
        return NULL;
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    const char *t = authorization + 7;
    while (*t == ' ')
        t++;
    return *t ? t : NULL;
}
