/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The customer's key, as the storage service reaches it (docs/cmk.md "The chain"): a managed
 * identity token from the identity service, the vault's challenge for its tenant and resource, the
 * federated exchange at that tenant, then the vault's keys API. Nothing here trusts the vault with
 * a credential before it is known to be a vault of the trusted authority: a challenge that names
 * another authority is refused, because the next step would hand it the managed identity's token.
 *
 * Limits per vault origin: at most ST_KEK_SLOTS calls at once, each bounded by ST_KEK_TIMEOUT_MS;
 * after a failure (no answer, 5xx, 429) the origin is backed off exponentially with jitter, and
 * calls fail at once while it is, so a dead or slow vault holds few threads and no other account's.
 */
#include "services/storage/st_kek.h"
#include "services/storage/st_int.h"
#include "core/codec.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "http/client/httpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ST_KEK_SLOTS 4
#define ST_KEK_TIMEOUT_MS 5000
#define ST_KEK_BACKOFF_MIN_MS 1000
#define ST_KEK_BACKOFF_MAX_MS 15000
#define ST_KEK_CHALLENGE_TTL_MS (3600 * 1000)
#define ST_KEK_TOKEN_MARGIN_S 300
#define ST_KEK_API "api-version=7.5"
#define ST_KEK_EXCHANGE_AUD "api://AzureADTokenExchange"
#define ST_KEK_ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

struct st_vlim {
    struct st_vlim *next;
    char origin[320];
    int active, failures;
    int64_t backoff_until; /* ck_mono_ms */
};

struct st_chal {
    struct st_chal *next;
    char vault[320];
    char tenant[128];
    char resource[320];
    int64_t until; /* ck_mono_ms */
};

struct st_tok {
    struct st_tok *next;
    char *id; /* identity|client id|tenant|resource */
    struct ck_secret *token;
    int64_t exp; /* epoch seconds (ck_time_now) */
};

struct st_kek_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct st_vlim *vlims;
    struct st_chal *chals;
    struct st_tok *toks;
};

static void st_fail_set(struct st_kek_fail *f, enum st_kek_link link, int transient, const char *upstream,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void st_fail_set(struct st_kek_fail *f, enum st_kek_link link, int transient, const char *upstream,
                        const char *fmt, ...)
{
    va_list ap;
    f->link = link;
    f->transient = transient;
    snprintf(f->upstream, sizeof(f->upstream), "%s", upstream ? upstream : "");
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
    va_end(ap);
}

const char *st_kek_data_code(const struct st_kek_fail *f)
{
    switch (f->link) {
    case ST_LINK_KEY: return "KeyVaultEncryptionKeyNotFound";
    case ST_LINK_VAULT:
    case ST_LINK_POLICY: return "KeyVaultVaultNotFound";
    default: return "KeyVaultAccessTokenCannotBeAcquired";
    }
}

const char *st_kek_link_name(enum st_kek_link link)
{
    static const char *const names[] = {"none", "identity", "vault", "federatedCredential", "servicePrincipal",
                                        "role", "key", "vaultPolicy", "internal"};
    return (unsigned)link < sizeof(names) / sizeof(names[0]) ? names[link] : "internal";
}

int st_kek_init(struct st *st)
{
    struct st_kek_state *k = ck_calloc(1, sizeof(*k));
    if (k == NULL)
        return CK_E_NOMEM;
    pthread_mutex_init(&k->lock, NULL);
    pthread_cond_init(&k->cond, NULL);
    st->kek = k;
    return CK_OK;
}

void st_kek_cleanup(struct st *st)
{
    struct st_kek_state *k = st->kek;
    if (k == NULL)
        return;
    while (k->vlims != NULL) {
        struct st_vlim *n = k->vlims->next;
        ck_free(k->vlims);
        k->vlims = n;
    }
    while (k->chals != NULL) {
        struct st_chal *n = k->chals->next;
        ck_free(k->chals);
        k->chals = n;
    }
    while (k->toks != NULL) {
        struct st_tok *n = k->toks->next;
        ck_secret_free(k->toks->token);
        ck_free(k->toks->id);
        ck_free(k->toks);
        k->toks = n;
    }
    pthread_mutex_destroy(&k->lock);
    pthread_cond_destroy(&k->cond);
    ck_free(k);
    st->kek = NULL;
}

int st_kek_version_of(const char *kid, char *out, size_t outlen)
{
    const char *slash = kid ? strrchr(kid, '/') : NULL;
    if (slash == NULL || slash[1] == '\0' || strlen(slash + 1) >= outlen)
        return CK_E_INVALID;
    snprintf(out, outlen, "%s", slash + 1);
    return CK_OK;
}

/* ---- one bounded HTTP call ---- */

/* "https://host:port" of url into out. */
static void st_origin_of(const char *url, char *out, size_t outlen)
{
    const char *p = strstr(url, "://");
    size_t n = strlen(url);
    if (p != NULL) {
        const char *slash = strchr(p + 3, '/');
        if (slash != NULL)
            n = (size_t)(slash - url);
    }
    snprintf(out, outlen, "%.*s", (int)n, url);
}

static struct st_vlim *st_vlim_get(struct st_kek_state *k, const char *origin)
{
    for (struct st_vlim *v = k->vlims; v != NULL; v = v->next)
        if (strcasecmp(v->origin, origin) == 0)
            return v;
    struct st_vlim *v = ck_calloc(1, sizeof(*v));
    if (v == NULL)
        return NULL;
    snprintf(v->origin, sizeof(v->origin), "%s", origin);
    v->next = k->vlims;
    k->vlims = v;
    return v;
}

/* Takes a slot of the vault origin of url. Returns CK_OK, or fills f (transient) and fails. */
static int st_slot_take(struct st *st, const char *url, struct st_kek_fail *f)
{
    struct st_kek_state *k = st->kek;
    char origin[320];
    int64_t deadline = ck_mono_ms() + ST_KEK_TIMEOUT_MS;
    int rc = CK_OK;
    st_origin_of(url, origin, sizeof(origin));
    pthread_mutex_lock(&k->lock);
    struct st_vlim *v = st_vlim_get(k, origin);
    if (v == NULL) {
        rc = CK_E_NOMEM;
        st_fail_set(f, ST_LINK_INTERNAL, 1, NULL, "out of memory");
        goto out;
    }
    int64_t now = ck_mono_ms();
    if (now < v->backoff_until) {
        st_fail_set(f, ST_LINK_VAULT, 1, "BackingOff",
                    "the vault %s failed %d time(s) in a row; the next call waits %lld ms", origin, v->failures,
                    (long long)(v->backoff_until - now));
        rc = CK_E_UNAVAILABLE;
        goto out;
    }
    while (v->active >= ST_KEK_SLOTS) {
        struct timespec ts;
        int64_t left = deadline - ck_mono_ms();
        if (left <= 0) {
            st_fail_set(f, ST_LINK_VAULT, 1, "TooManyRequests",
                        "%d calls to the vault %s are already in flight", ST_KEK_SLOTS, origin);
            rc = CK_E_UNAVAILABLE;
            goto out;
        }
        ck_deadline_after_ms(left, &ts);
        pthread_cond_timedwait(&k->cond, &k->lock, &ts);
    }
    v->active++;
out:
    pthread_mutex_unlock(&k->lock);
    return rc;
}

/* Gives the slot back; failed: the call got no answer, a 5xx or a 429. */
static void st_slot_give(struct st *st, const char *url, int failed)
{
    struct st_kek_state *k = st->kek;
    char origin[320];
    st_origin_of(url, origin, sizeof(origin));
    pthread_mutex_lock(&k->lock);
    struct st_vlim *v = st_vlim_get(k, origin);
    if (v != NULL) {
        if (v->active > 0)
            v->active--;
        if (failed) {
            int64_t d = ST_KEK_BACKOFF_MIN_MS;
            for (int i = 1; i < v->failures && d < ST_KEK_BACKOFF_MAX_MS; i++)
                d *= 2;
            if (d > ST_KEK_BACKOFF_MAX_MS)
                d = ST_KEK_BACKOFF_MAX_MS;
            uint32_t r = 0;
            (void)ck_random(&r, sizeof(r));
            d = d / 2 + (int64_t)(r % (uint32_t)(d / 2 + 1)); /* 50-100 % jitter */
            v->failures++;
            v->backoff_until = ck_mono_ms() + d;
        } else {
            v->failures = 0;
            v->backoff_until = 0;
        }
    }
    pthread_cond_broadcast(&k->cond);
    pthread_mutex_unlock(&k->lock);
}

struct st_call_opts {
    const char *method, *url;
    const char *bearer;     /* token text, or NULL */
    int rp;                 /* authenticate with the RP credential */
    const char *ctype;
    const char *body;
    size_t body_len;
    const char *corr;       /* x-ms-client-request-id, or NULL */
    int limited;            /* through the per-vault limits */
    long timeout_ms;
    const volatile int *abort_flag;
};

/* One call. Returns CK_OK with resp filled (any status), or a transport error with f filled
 * (transient). resp must be cleaned up whatever the result. */
static int st_call(struct st *st, const struct st_call_opts *o, struct ck_httpc_resp *resp, struct st_kek_fail *f,
                   enum st_kek_link link)
{
    struct ck_httpc_req r = {0};
    struct ck_buf auth;
    char corr_h[100];
    int h = 0, rc;
    memset(resp, 0, sizeof(*resp));
    ck_buf_init(&auth, 16384);
    auth.secret = 1;
    if (o->limited && (rc = st_slot_take(st, o->url, f)) != CK_OK) {
        ck_buf_cleanup(&auth);
        return rc;
    }
    r.method = o->method;
    r.url = o->url;
    if (o->bearer != NULL && ck_buf_printf(&auth, "Authorization: Bearer %s", o->bearer) == CK_OK)
        r.headers[h++] = auth.data;
    else if (o->rp && st->rp_key != NULL && ck_buf_puts(&auth, "Authorization: RP ") == CK_OK &&
             ck_buf_append(&auth, ck_secret_ptr(st->rp_key), ck_secret_len(st->rp_key)) == CK_OK &&
             ck_buf_append(&auth, "", 1) == CK_OK)
        r.headers[h++] = auth.data;
    if (o->ctype != NULL)
        r.headers[h++] = o->ctype;
    if (o->corr != NULL) {
        snprintf(corr_h, sizeof(corr_h), "x-ms-client-request-id: %s", o->corr);
        r.headers[h++] = corr_h;
    }
    r.headers[h++] = "Accept: application/json";
    r.headers[h] = NULL;
    r.body = o->body;
    r.body_len = o->body_len;
    r.ca_file = st->ca_file;
    r.timeout_ms = o->timeout_ms ? o->timeout_ms : ST_KEK_TIMEOUT_MS;
    r.abort_flag = o->abort_flag;
    rc = ck_httpc_do(&r, resp);
    ck_buf_cleanup(&auth);
    int failed = rc != CK_OK || resp->status >= 500 || resp->status == 429;
    if (o->limited)
        st_slot_give(st, o->url, failed);
    if (rc != CK_OK) {
        char origin[320];
        st_origin_of(o->url, origin, sizeof(origin));
        st_fail_set(f, link, 1, rc == CK_E_TIMEOUT ? "Timeout" : "ConnectionFailed", "%s did not answer (%s)", origin,
                    rc == CK_E_TIMEOUT ? "timed out" : ck_err_text(rc));
    }
    return rc;
}

static json_t *st_body_json(const struct ck_httpc_resp *resp)
{
    return resp->body.len > 0 ? ck_json_parse(resp->body.data, resp->body.len, NULL, 0) : NULL;
}

/* ---- the challenge ---- */

/* The value of name="..." in a WWW-Authenticate header, copied into out. */
static int st_auth_param(const char *h, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = h; (p = strstr(p, name)) != NULL; p += nl) {
        if ((p != h && p[-1] != ' ' && p[-1] != ',') || p[nl] != '=' || p[nl + 1] != '"')
            continue;
        const char *v = p + nl + 2, *end = strchr(v, '"');
        if (end == NULL || (size_t)(end - v) >= outlen)
            return -1;
        snprintf(out, outlen, "%.*s", (int)(end - v), v);
        return 0;
    }
    return -1;
}

/* The host of an https URL into out ("" when it is not one). */
static void st_host_of(const char *url, char *out, size_t outlen)
{
    out[0] = '\0';
    if (strncasecmp(url, "https://", 8) != 0)
        return;
    const char *h = url + 8;
    size_t n = strcspn(h, ":/?#");
    if (n > 0 && n < outlen)
        snprintf(out, outlen, "%.*s", (int)n, h);
}

/*
 * 1 when resource (an https URL, trimmed) is a key vault resource: Azure's ("vault.azure.net",
 * "managedhsm.azure.net"), or a host the vault's own host is a sub-domain of (a deployment with a
 * vault DNS suffix: https://{vault}.{suffix} and resource https://{suffix}).
 */
static int st_vault_resource_ok(const char *resource, const char *vault_uri)
{
    char rh[256], vh[256];
    st_host_of(resource, rh, sizeof(rh));
    st_host_of(vault_uri, vh, sizeof(vh));
    if (rh[0] == '\0' || strchr(resource + 8, '/') != NULL)
        return 0;
    if (strcasecmp(rh, "vault.azure.net") == 0 || strcasecmp(rh, "managedhsm.azure.net") == 0)
        return 1;
    size_t rl = strlen(rh), vl = strlen(vh);
    return strchr(rh, '.') != NULL && vl > rl + 1 && vh[vl - rl - 1] == '.' && strcasecmp(vh + vl - rl, rh) == 0;
}

/* The vault's tenant and resource from its challenge (cached for an hour unless fresh). */
static int st_challenge(struct st *st, const struct st_kek_ref *ref, int fresh, char *tenant, size_t tlen,
                        char *resource, size_t rlen, struct st_kek_fail *f)
{
    struct st_kek_state *k = st->kek;
    struct ck_httpc_resp resp;
    char authz[600];
    char *url = NULL, *www = NULL;
    int rc;
    pthread_mutex_lock(&k->lock);
    for (struct st_chal *c = k->chals; c != NULL; c = c->next) {
        if (strcasecmp(c->vault, ref->vault_uri) == 0 && !fresh && ck_mono_ms() < c->until) {
            snprintf(tenant, tlen, "%s", c->tenant);
            snprintf(resource, rlen, "%s", c->resource);
            pthread_mutex_unlock(&k->lock);
            return CK_OK;
        }
    }
    pthread_mutex_unlock(&k->lock);
    char *ename = ck_url_encode(ref->key_name);
    size_t ul = strlen(ref->vault_uri) + (ename ? strlen(ename) : 0) + 64;
    if (ename == NULL || (url = ck_malloc(ul)) == NULL) {
        ck_free(ename);
        st_fail_set(f, ST_LINK_INTERNAL, 1, NULL, "out of memory");
        return CK_E_NOMEM;
    }
    snprintf(url, ul, "%s/keys/%s?" ST_KEK_API, ref->vault_uri, ename);
    ck_free(ename);
    struct st_call_opts o = {.method = "GET", .url = url, .limited = 1};
    rc = st_call(st, &o, &resp, f, ST_LINK_VAULT);
    if (rc != CK_OK)
        goto out;
    www = ck_httpc_resp_header(&resp, "WWW-Authenticate");
    if (resp.status >= 500 || resp.status == 429) {
        st_fail_set(f, ST_LINK_VAULT, 1, "ServiceUnavailable", "the vault %s answered HTTP %ld", ref->vault_uri,
                    resp.status);
        rc = CK_E_UNAVAILABLE;
        goto out;
    }
    if (resp.status != 401 || www == NULL || strncasecmp(www, "Bearer", 6) != 0 ||
        st_auth_param(www, "authorization", authz, sizeof(authz)) != 0 ||
        (st_auth_param(www, "resource", resource, rlen) != 0 && st_auth_param(www, "scope", resource, rlen) != 0)) {
        st_fail_set(f, ST_LINK_VAULT, 0, "VaultNotFound",
                    "%s is not a key vault: it answered HTTP %ld without a bearer challenge", ref->vault_uri,
                    resp.status);
        rc = CK_E_NOT_FOUND;
        goto out;
    }
    /* The challenge must send us to the authority we trust, and name a tenant. */
    size_t al = strlen(st->authority);
    const char *t = authz + al + 1;
    if (strncasecmp(authz, st->authority, al) != 0 || authz[al] != '/' || *t == '\0' || strlen(t) >= tlen ||
        strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != strlen(t)) {
        st_fail_set(f, ST_LINK_VAULT, 0, "UntrustedAuthority",
                    "the vault %s names the authority '%.200s', which is not this deployment's identity service (%s); "
                    "no token is sent to it", ref->vault_uri, authz, st->authority);
        rc = CK_E_FORBIDDEN;
        goto out;
    }
    snprintf(tenant, tlen, "%s", t);
    /* "https://vault.azure.net/.default" style scopes: keep the resource. */
    size_t rl = strlen(resource);
    if (rl > 9 && strcmp(resource + rl - 9, "/.default") == 0)
        resource[rl - 9] = '\0';
    while ((rl = strlen(resource)) > 0 && resource[rl - 1] == '/')
        resource[rl - 1] = '\0';
    /* The token asked for next has the challenge's resource as its audience: only a key vault
     * resource, or the one the vault's own host sits under (as the Key Vault SDKs verify), or a
     * token for ARM, Graph or storage would be handed to whoever answered. */
    if (!st_vault_resource_ok(resource, ref->vault_uri)) {
        st_fail_set(f, ST_LINK_VAULT, 0, "UntrustedResource",
                    "the vault %s asks for a token for '%.200s', which is not a key vault resource; no token is sent",
                    ref->vault_uri, resource);
        rc = CK_E_FORBIDDEN;
        goto out;
    }
    pthread_mutex_lock(&k->lock);
    struct st_chal *c = NULL;
    for (c = k->chals; c != NULL; c = c->next)
        if (strcasecmp(c->vault, ref->vault_uri) == 0)
            break;
    if (c == NULL && (c = ck_calloc(1, sizeof(*c))) != NULL) {
        snprintf(c->vault, sizeof(c->vault), "%s", ref->vault_uri);
        c->next = k->chals;
        k->chals = c;
    }
    if (c != NULL) {
        snprintf(c->tenant, sizeof(c->tenant), "%s", tenant);
        snprintf(c->resource, sizeof(c->resource), "%s", resource);
        c->until = ck_mono_ms() + ST_KEK_CHALLENGE_TTL_MS;
    }
    pthread_mutex_unlock(&k->lock);
out:
    ck_free(www);
    ck_free(url);
    ck_httpc_resp_cleanup(&resp);
    return rc;
}

/* ---- tokens ---- */

static struct ck_secret *st_tok_cached(struct st_kek_state *k, const char *id, int drop)
{
    struct ck_secret *r = NULL;
    pthread_mutex_lock(&k->lock);
    for (struct st_tok **pp = &k->toks; *pp != NULL; pp = &(*pp)->next) {
        struct st_tok *t = *pp;
        if (strcmp(t->id, id) != 0)
            continue;
        if (drop || t->exp - ST_KEK_TOKEN_MARGIN_S <= ck_time_now()) {
            *pp = t->next;
            ck_secret_free(t->token);
            ck_free(t->id);
            ck_free(t);
        } else {
            r = ck_secret_from(ck_secret_ptr(t->token), ck_secret_len(t->token));
        }
        break;
    }
    pthread_mutex_unlock(&k->lock);
    return r;
}

static void st_tok_put(struct st_kek_state *k, const char *id, const struct ck_secret *tok, int64_t exp)
{
    struct st_tok *t = ck_calloc(1, sizeof(*t));
    if (t == NULL || (t->id = ck_strdup(id)) == NULL ||
        (t->token = ck_secret_from(ck_secret_ptr(tok), ck_secret_len(tok))) == NULL) {
        if (t != NULL) {
            ck_free(t->id);
            ck_free(t);
        }
        return;
    }
    t->exp = exp;
    pthread_mutex_lock(&k->lock);
    t->next = k->toks;
    k->toks = t;
    pthread_mutex_unlock(&k->lock);
}

/* Takes the string member name of o as a secret and wipes jansson's copy. */
static struct ck_secret *st_take_secret(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    const char *s = json_string_value(v);
    struct ck_secret *r;
    if (s == NULL || *s == '\0')
        return NULL;
    r = ck_secret_from(s, strlen(s) + 1); /* with its NUL: used as a C string */
    ck_wipe((void *)s, strlen(s));
    return r;
}

/* The expiry (epoch s) of a token answer: expires_on, else now + expires_in, else an hour. */
static int64_t st_token_exp(const json_t *o)
{
    json_t *on = json_object_get(o, "expires_on"), *in = json_object_get(o, "expires_in");
    if (json_is_string(on))
        return strtoll(json_string_value(on), NULL, 10);
    if (json_is_integer(on))
        return json_integer_value(on);
    if (json_is_string(in))
        return ck_time_now() + strtoll(json_string_value(in), NULL, 10);
    if (json_is_integer(in))
        return ck_time_now() + json_integer_value(in);
    return ck_time_now() + 3600;
}

/* Step 1: a managed-identity token for aud. */
static int st_mi_token(struct st *st, const char *identity, const char *aud, struct ck_secret **tok, int64_t *exp,
                       struct st_kek_fail *f)
{
    struct ck_httpc_resp resp;
    char url[400];
    json_t *req = json_pack("{s:s,s:s}", "identityId", identity, "resource", aud), *body = NULL;
    char *text = req ? ck_json_dump(req) : NULL;
    int rc;
    json_decref(req);
    if (text == NULL) {
        st_fail_set(f, ST_LINK_INTERNAL, 1, NULL, "out of memory");
        return CK_E_NOMEM;
    }
    snprintf(url, sizeof(url), "%s/rp/identity/token", st->authority);
    struct st_call_opts o = {.method = "POST", .url = url, .rp = 1, .ctype = "Content-Type: application/json",
                             .body = text, .body_len = strlen(text)};
    rc = st_call(st, &o, &resp, f, ST_LINK_IDENTITY);
    free(text);
    if (rc != CK_OK)
        goto out;
    body = st_body_json(&resp);
    if (resp.status >= 500) {
        st_fail_set(f, ST_LINK_IDENTITY, 1, "ServiceUnavailable", "the identity service answered HTTP %ld",
                    resp.status);
        rc = CK_E_UNAVAILABLE;
    } else if (resp.status != 200 || (*tok = st_take_secret(body, "access_token")) == NULL) {
        json_t *e = ck_json_obj(body, "error");
        st_fail_set(f, ST_LINK_IDENTITY, 0, ck_json_str(e, "code") ? ck_json_str(e, "code") : "TokenRefused",
                    "the managed identity '%.300s' got no token (HTTP %ld: %.200s)", identity, resp.status,
                    ck_json_str(e, "message") ? ck_json_str(e, "message") : "no reason given");
        rc = CK_E_FORBIDDEN;
    } else {
        *exp = st_token_exp(body);
    }
out:
    json_decref(body);
    ck_httpc_resp_cleanup(&resp);
    return rc;
}

/* Step 3: the federated exchange at tenant for resource, with the managed identity's token. */
static int st_fic_exchange(struct st *st, const char *tenant, const char *client_id, const char *resource,
                           const struct ck_secret *assertion, struct ck_secret **tok, int64_t *exp,
                           struct st_kek_fail *f)
{
    struct ck_httpc_resp resp;
    struct ck_buf form;
    char url[400];
    char *scope = NULL, *escope = NULL, *ecid = NULL;
    json_t *body = NULL;
    int rc = CK_E_NOMEM;
    memset(&resp, 0, sizeof(resp));
    ck_buf_init(&form, 64 * 1024);
    form.secret = 1;
    size_t sl = strlen(resource) + 16;
    if ((scope = ck_malloc(sl)) == NULL)
        goto oom;
    snprintf(scope, sl, "%s/.default", resource);
    if ((escope = ck_url_encode(scope)) == NULL || (ecid = ck_url_encode(client_id)) == NULL)
        goto oom;
    /* The assertion is a JWT: base64url and dots, nothing to encode. */
    if (ck_buf_printf(&form,
                      "grant_type=client_credentials&client_id=%s&scope=%s&client_assertion_type=%s"
                      "&client_assertion=",
                      ecid, escope, "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer") != CK_OK ||
        ck_buf_puts(&form, (const char *)ck_secret_ptr(assertion)) != CK_OK)
        goto oom;
    snprintf(url, sizeof(url), "%s/%s/oauth2/v2.0/token", st->authority, tenant);
    struct st_call_opts o = {.method = "POST", .url = url, .ctype = "Content-Type: application/x-www-form-urlencoded",
                             .body = form.data, .body_len = form.len};
    rc = st_call(st, &o, &resp, f, ST_LINK_FIC);
    if (rc != CK_OK)
        goto out;
    body = st_body_json(&resp);
    if (resp.status >= 500 || resp.status == 429) {
        st_fail_set(f, ST_LINK_FIC, 1, "ServiceUnavailable", "the token endpoint of tenant %s answered HTTP %ld",
                    tenant, resp.status);
        rc = CK_E_UNAVAILABLE;
    } else if (resp.status != 200 || (*tok = st_take_secret(body, "access_token")) == NULL) {
        json_t *codes = ck_json_arr(body, "error_codes");
        long code = (long)json_integer_value(json_array_get(codes, 0));
        const char *desc = ck_json_str(body, "error_description");
        char up[32], first[300];
        snprintf(up, sizeof(up), "AADSTS%ld", code);
        snprintf(first, sizeof(first), "%s", desc ? desc : "no description");
        char *crlf = strstr(first, "\r\n");
        if (crlf != NULL)
            *crlf = '\0';
        enum st_kek_link link = ST_LINK_FIC;
        if (code == 700016 || code == 7000215 || code == 90002 || code == 700024)
            link = ST_LINK_SP;
        st_fail_set(f, link, 0, up, "the federated exchange for the application %s in tenant %s was refused: %s",
                    client_id, tenant, first);
        rc = CK_E_FORBIDDEN;
    } else {
        *exp = st_token_exp(body);
    }
    goto out;
oom:
    st_fail_set(f, ST_LINK_INTERNAL, 1, NULL, "out of memory");
out:
    json_decref(body);
    ck_httpc_resp_cleanup(&resp);
    ck_buf_cleanup(&form);
    ck_free(scope);
    ck_free(escope);
    ck_free(ecid);
    return rc;
}

/* A token for ref's vault: cached, or the whole chain (fresh drops the cache first). */
static int st_vault_token(struct st *st, const struct st_kek_ref *ref, int fresh, struct ck_secret **tok,
                          struct st_kek_fail *f)
{
    char tenant[128], resource[320], id[1400];
    struct ck_secret *mi = NULL, *t = NULL;
    int64_t exp = 0, mexp = 0;
    int rc = st_challenge(st, ref, fresh, tenant, sizeof(tenant), resource, sizeof(resource), f);
    if (rc != CK_OK)
        return rc;
    snprintf(id, sizeof(id), "%s|%s|%s|%s", ref->identity, ref->client_id ? ref->client_id : "", tenant, resource);
    if ((*tok = st_tok_cached(st->kek, id, fresh)) != NULL)
        return CK_OK;
    if (ref->client_id != NULL) {
        if ((rc = st_mi_token(st, ref->identity, ST_KEK_EXCHANGE_AUD, &mi, &mexp, f)) != CK_OK)
            return rc;
        rc = st_fic_exchange(st, tenant, ref->client_id, resource, mi, &t, &exp, f);
        ck_secret_free(mi);
    } else {
        rc = st_mi_token(st, ref->identity, resource, &t, &exp, f);
    }
    if (rc != CK_OK)
        return rc;
    st_tok_put(st->kek, id, t, exp);
    *tok = t;
    return CK_OK;
}

/* ---- the vault's keys API ---- */

/* Fills f from a vault error answer. */
static void st_vault_fail(const struct st_kek_ref *ref, long status, const json_t *body, struct st_kek_fail *f)
{
    json_t *e = ck_json_obj(body, "error");
    const char *code = ck_json_str(e, "code"), *msg = ck_json_str(e, "message");
    json_t *inner = ck_json_obj(e, "innererror");
    if (ck_json_str(inner, "code") != NULL)
        code = ck_json_str(inner, "code");
    if (code == NULL)
        code = status == 401 ? "Unauthorized" : status == 404 ? "NotFound" : "Error";
    enum st_kek_link link = ST_LINK_ROLE;
    int transient = status >= 500 || status == 429;
    if (transient)
        link = ST_LINK_VAULT;
    else if (status == 404)
        link = strcasecmp(code, "KeyNotFound") == 0 ? ST_LINK_KEY : ST_LINK_VAULT;
    else if (status == 403 && strcasecmp(code, "ForbiddenByRbac") != 0 && strcasecmp(code, "AccessDenied") != 0)
        link = ST_LINK_KEY; /* KeyDisabled, Forbidden (outside nbf/exp), KeyOperationForbidden */
    else if (status == 400)
        link = ST_LINK_KEY;
    st_fail_set(f, link, transient, code, "the vault %s answered HTTP %ld for the key '%s': %.300s", ref->vault_uri,
                status, ref->key_name, msg ? msg : code);
}

/* {vault}/keys/{name}[/{version}][/{op}]?api-version, in a ck_malloc'd string. */
static char *st_key_url(const struct st_kek_ref *ref, const char *version, const char *op)
{
    char *en = ck_url_encode(ref->key_name), *ev = version && *version ? ck_url_encode(version) : NULL;
    size_t n = strlen(ref->vault_uri) + (en ? strlen(en) : 0) + (ev ? strlen(ev) : 0) + 64;
    char *url = en ? ck_malloc(n) : NULL;
    if (url != NULL)
        snprintf(url, n, "%s/keys/%s%s%s%s%s?" ST_KEK_API, ref->vault_uri, en, ev ? "/" : "", ev ? ev : "",
                 op ? "/" : "", op ? op : "");
    ck_free(en);
    ck_free(ev);
    return url;
}

/* One authenticated vault call: a 401 with a cached token is retried once with a fresh chain. */
static int st_vault_call(struct st *st, const struct st_kek_ref *ref, int fresh, const char *method, const char *url,
                         const char *body, size_t body_len, const char *corr, json_t **out, struct st_kek_fail *f)
{
    struct ck_httpc_resp resp;
    struct ck_secret *tok = NULL;
    int rc = CK_OK;
    *out = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((rc = st_vault_token(st, ref, fresh || attempt > 0, &tok, f)) != CK_OK)
            return rc;
        struct st_call_opts o = {.method = method, .url = url, .bearer = (const char *)ck_secret_ptr(tok),
                                 .ctype = body ? "Content-Type: application/json" : NULL, .body = body,
                                 .body_len = body_len, .corr = corr, .limited = 1};
        rc = st_call(st, &o, &resp, f, ST_LINK_VAULT);
        ck_secret_free(tok);
        tok = NULL;
        if (rc != CK_OK) {
            ck_httpc_resp_cleanup(&resp);
            return rc;
        }
        json_t *j = st_body_json(&resp);
        long status = resp.status;
        ck_httpc_resp_cleanup(&resp);
        if (status == 200) {
            *out = j;
            return CK_OK;
        }
        if (status == 401 && !fresh && attempt == 0) {
            json_decref(j);
            continue;
        }
        st_vault_fail(ref, status, j, f);
        json_decref(j);
        return f->transient ? CK_E_UNAVAILABLE : CK_E_FORBIDDEN;
    }
    return rc;
}

static int64_t st_attr_time(const json_t *attrs, const char *name)
{
    json_t *v = json_object_get(attrs, name);
    return json_is_integer(v) ? json_integer_value(v) : json_is_real(v) ? (int64_t)json_real_value(v) : 0;
}

int st_kek_get_key(struct st *st, const struct st_kek_ref *ref, int fresh, struct st_kek_key *key,
                   struct st_kek_fail *f)
{
    char *url = st_key_url(ref, ref->key_version, NULL);
    json_t *j = NULL;
    int rc;
    memset(key, 0, sizeof(*key));
    if (url == NULL) {
        st_fail_set(f, ST_LINK_INTERNAL, 1, NULL, "out of memory");
        return CK_E_NOMEM;
    }
    char corr[37];
    if (ck_uuid_new(corr) != 0)
        snprintf(corr, sizeof(corr), "00000000-0000-0000-0000-000000000000");
    rc = st_vault_call(st, ref, fresh, "GET", url, NULL, 0, corr, &j, f);
    ck_free(url);
    if (rc != CK_OK)
        return rc;
    json_t *k = ck_json_obj(j, "key"), *attrs = ck_json_obj(j, "attributes");
    const char *kid = ck_json_str(k, "kid"), *kty = ck_json_str(k, "kty"), *n = ck_json_str(k, "n");
    if (kid == NULL || kty == NULL || strlen(kid) >= sizeof(key->kid) ||
        st_kek_version_of(kid, key->version, sizeof(key->version)) != CK_OK) {
        st_fail_set(f, ST_LINK_KEY, 0, "InvalidKey", "the vault %s answered a key without a versioned kid",
                    ref->vault_uri);
        json_decref(j);
        return CK_E_INVALID;
    }
    snprintf(key->kid, sizeof(key->kid), "%s", kid);
    snprintf(key->kty, sizeof(key->kty), "%s", kty);
    if (n != NULL) {
        uint8_t *raw = NULL;
        size_t rl = 0;
        if (ck_b64url_decode(n, strlen(n), &raw, &rl) == 0) {
            size_t i = 0;
            while (i < rl && raw[i] == 0)
                i++;
            key->bits = (int)((rl - i) * 8);
            ck_free(raw);
        }
    }
    key->enabled = ck_json_bool(attrs, "enabled", 1);
    key->nbf = st_attr_time(attrs, "nbf");
    key->exp = st_attr_time(attrs, "exp");
    snprintf(key->recovery_level, sizeof(key->recovery_level), "%s",
             ck_json_str(attrs, "recoveryLevel") ? ck_json_str(attrs, "recoveryLevel") : "");
    json_t *ops = ck_json_arr(k, "key_ops");
    if (ops == NULL) {
        key->can_wrap = key->can_unwrap = 1;
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(ops, i, v) {
            if (json_is_string(v) && strcmp(json_string_value(v), "wrapKey") == 0)
                key->can_wrap = 1;
            if (json_is_string(v) && strcmp(json_string_value(v), "unwrapKey") == 0)
                key->can_unwrap = 1;
        }
    }
    json_decref(j);
    return CK_OK;
}

int st_kek_key_usable(const struct st_kek_key *kv, int64_t now, struct st_kek_fail *f)
{
    static const char *const purge_protected[] = {"Recoverable", "Recoverable+ProtectedSubscription",
                                                  "CustomizedRecoverable",
                                                  "CustomizedRecoverable+ProtectedSubscription", NULL};
    if (strcmp(kv->kty, "RSA") != 0 && strcmp(kv->kty, "RSA-HSM") != 0) {
        st_fail_set(f, ST_LINK_KEY, 0, "InvalidKeyType", "the key %s is %s; customer-managed keys must be RSA", kv->kid,
                    kv->kty);
        return CK_E_INVALID;
    }
    if (kv->bits != 2048 && kv->bits != 3072 && kv->bits != 4096) {
        st_fail_set(f, ST_LINK_KEY, 0, "InvalidKeySize",
                    "the key %s has %d bits; customer-managed keys must be RSA 2048, 3072 or 4096", kv->kid, kv->bits);
        return CK_E_INVALID;
    }
    if (!kv->enabled) {
        st_fail_set(f, ST_LINK_KEY, 0, "KeyDisabled", "the key %s is disabled", kv->kid);
        return CK_E_INVALID;
    }
    if ((kv->nbf != 0 && now < kv->nbf) || (kv->exp != 0 && now >= kv->exp)) {
        st_fail_set(f, ST_LINK_KEY, 0, "KeyExpired", "the key %s is outside its validity period (nbf/exp)", kv->kid);
        return CK_E_INVALID;
    }
    if (!kv->can_wrap || !kv->can_unwrap) {
        st_fail_set(f, ST_LINK_KEY, 0, "KeyOperationForbidden", "the key %s does not allow wrapKey and unwrapKey",
                    kv->kid);
        return CK_E_INVALID;
    }
    int ok = 0;
    for (size_t i = 0; purge_protected[i] != NULL; i++)
        ok |= strcmp(kv->recovery_level, purge_protected[i]) == 0;
    if (!ok) {
        st_fail_set(f, ST_LINK_POLICY, 0, "recoveryLevel",
                    "Keyvault policy recoverable is not set: the vault of %s has recoveryLevel '%s'; turn on soft delete "
                    "and purge protection", kv->kid, kv->recovery_level);
        return CK_E_INVALID;
    }
    return CK_OK;
}

/* A fresh correlation id into corr (37 bytes). */
static void st_corr_new(char *corr)
{
    if (ck_uuid_new(corr) != 0)
        snprintf(corr, 37, "00000000-0000-0000-0000-000000000000");
}

/* Posts {"alg":"RSA-OAEP-256","value":<b64url(in)>} to op; returns the decoded "value". */
static int st_key_op(struct st *st, const struct st_kek_ref *ref, const char *version, const char *op,
                     const void *in, size_t inlen, int fresh, char *corr, uint8_t **out, size_t *outlen,
                     struct st_kek_fail *f)
{
    struct ck_buf body;
    char my_corr[37];
    char *url = st_key_url(ref, version, op), *b64 = ck_b64url_encode(in, inlen);
    json_t *j = NULL;
    int rc = CK_E_NOMEM;
    ck_buf_init(&body, 64 * 1024);
    body.secret = 1;
    if (corr == NULL)
        corr = my_corr;
    st_corr_new(corr);
    if (url == NULL || b64 == NULL ||
        ck_buf_printf(&body, "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", b64) != CK_OK) {
        st_fail_set(f, ST_LINK_INTERNAL, 1, NULL, "out of memory");
        goto out;
    }
    rc = st_vault_call(st, ref, fresh, "POST", url, body.data, body.len, corr, &j, f);
    if (rc != CK_OK)
        goto out;
    json_t *v = json_object_get(j, "value");
    const char *s = json_string_value(v);
    if (s == NULL || ck_b64url_decode(s, strlen(s), out, outlen) != 0) {
        st_fail_set(f, ST_LINK_KEY, 0, "InvalidResponse", "the vault %s answered %s without a value", ref->vault_uri, op);
        rc = CK_E_INVALID;
    }
    if (s != NULL)
        ck_wipe((void *)s, strlen(s));
out:
    json_decref(j);
    if (b64 != NULL)
        ck_freezero(b64, strlen(b64));
    ck_buf_cleanup(&body);
    ck_free(url);
    return rc;
}

int st_kek_wrap(struct st *st, const struct st_kek_ref *ref, const char *version, const struct ck_secret *aek,
                struct ck_bytes *out, char *corr, struct st_kek_fail *f)
{
    out->ptr = NULL;
    out->len = 0;
    return st_key_op(st, ref, version, "wrapkey", ck_secret_ptr(aek), ck_secret_len(aek), 0, corr, &out->ptr,
                     &out->len, f);
}

int st_kek_unwrap(struct st *st, const struct st_kek_ref *ref, const char *version, const void *wrapped, size_t len,
                  int fresh, struct ck_secret **aek, char *corr, struct st_kek_fail *f)
{
    uint8_t *raw = NULL;
    size_t rl = 0;
    int rc = st_key_op(st, ref, version, "unwrapkey", wrapped, len, fresh, corr, &raw, &rl, f);
    if (rc != CK_OK)
        return rc;
    if (rl != ST_AEK_LEN) {
        st_fail_set(f, ST_LINK_KEY, 0, "InvalidResponse", "the vault %s unwrapped %zu bytes, not an account key",
                    ref->vault_uri, rl);
        ck_freezero(raw, rl);
        return CK_E_CRYPTO;
    }
    *aek = ck_secret_from(raw, rl);
    ck_freezero(raw, rl);
    if (*aek == NULL) {
        st_fail_set(f, ST_LINK_INTERNAL, 1, NULL, "out of memory");
        return CK_E_NOMEM;
    }
    return CK_OK;
}

int st_kek_events(struct st *st, const struct st_kek_ref *ref, int64_t *cursor, int timeout_s, int fresh,
                  const volatile int *abort_flag, json_t **events, struct st_kek_fail *f)
{
    struct ck_httpc_resp resp;
    struct ck_secret *tok = NULL;
    char *en = ck_url_encode(ref->key_name);
    size_t n = strlen(ref->vault_uri) + (en ? strlen(en) : 0) + 128;
    char *url = en ? ck_malloc(n) : NULL;
    json_t *j = NULL;
    int rc;
    *events = NULL;
    if (url == NULL) {
        ck_free(en);
        st_fail_set(f, ST_LINK_INTERNAL, 1, NULL, "out of memory");
        return CK_E_NOMEM;
    }
    snprintf(url, n, "%s/events?" ST_KEK_API "&key=%s&cursor=%lld&timeout=%d", ref->vault_uri, en,
             (long long)*cursor, timeout_s);
    ck_free(en);
    if ((rc = st_vault_token(st, ref, fresh, &tok, f)) != CK_OK)
        goto out;
    struct st_call_opts o = {.method = "GET", .url = url, .bearer = (const char *)ck_secret_ptr(tok),
                             .timeout_ms = (long)(timeout_s + 10) * 1000, .abort_flag = abort_flag};
    rc = st_call(st, &o, &resp, f, ST_LINK_VAULT);
    if (rc == CK_OK) {
        j = st_body_json(&resp);
        if (resp.status != 200 || !json_is_array(json_object_get(j, "value"))) {
            st_vault_fail(ref, resp.status, j, f);
            rc = f->transient ? CK_E_UNAVAILABLE : CK_E_FORBIDDEN;
        } else {
            *events = json_incref(json_object_get(j, "value"));
            json_t *c = json_object_get(j, "cursor");
            if (json_is_integer(c) && json_integer_value(c) > *cursor)
                *cursor = json_integer_value(c);
        }
    }
    ck_httpc_resp_cleanup(&resp);
out:
    json_decref(j);
    ck_secret_free(tok);
    ck_free(url);
    return rc;
}
