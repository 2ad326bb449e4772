/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OAuth2 v2.0 token endpoint, client-credentials grant (wire reference A.4-A.6): client
 * secrets compared by salted hash, and client assertions matched against the application's
 * federated identity credentials (exact, case-sensitive issuer, subject and audience; signature
 * by the issuer's keys; lifetime with skew). Tokens are RS256 JWTs for the service principal of
 * the application in the tenant of the URL.
 */
#include "services/identity/idp_int.h"
#include "core/codec.h"
#include "core/timeutil.h"
#include "crypto/random.h"
#include "http/client/httpc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define IDP_FORM_MAX_FIELDS 64
#define IDP_JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

struct idp_form {
    int n;
    char *names[IDP_FORM_MAX_FIELDS]; /* field names (public: grant_type, client_id, ...) */
    char *vals[IDP_FORM_MAX_FIELDS];
};

/* Parses an x-www-form-urlencoded body into arena strings. Returns NULL on success or a message;
 * *dup is set to the duplicated name when a field appears twice. */
static const char *idp_form_parse(struct ck_arena *a, const char *body, size_t len, struct idp_form *f,
                                  const char **dup)
{
    size_t i = 0;
    f->n = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && body[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(body + i, '=', j - i);
            size_t kl = eq ? (size_t)(eq - (body + i)) : j - i;
            char *name = ck_url_decode(body + i, kl, 1);
            char *v = eq ? ck_url_decode(eq + 1, (size_t)(body + j - eq - 1), 1) : ck_strdup("");
            if (name == NULL || v == NULL) {
                ck_free(name);
                if (v != NULL)
                    ck_freezero(v, strlen(v));
                return "The request body is not valid form data (bad percent-encoding).";
            }
            for (int x = 0; x < f->n; x++) {
                if (strcmp(f->names[x], name) == 0) {
                    *dup = ck_arena_strdup(a, name);
                    ck_free(name);
                    ck_freezero(v, strlen(v));
                    return "duplicate";
                }
            }
            if (f->n >= IDP_FORM_MAX_FIELDS) {
                ck_free(name);
                ck_freezero(v, strlen(v));
                return "The request body has too many parameters.";
            }
            f->names[f->n] = ck_arena_strdup(a, name);
            f->vals[f->n] = ck_arena_strdup(a, v);
            ck_free(name);
            ck_freezero(v, strlen(v));
            if (f->names[f->n] == NULL || f->vals[f->n] == NULL)
                return "Out of memory.";
            f->n++;
        }
        i = j + 1;
    }
    return NULL;
}

static const char *idp_form_get(const struct idp_form *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0)
            return f->vals[i];
    return NULL;
}

static int idp_is_exchange_audience(const char *aud)
{
    return strcmp(aud, IDP_EXCHANGE_AUDIENCE) == 0 || strcmp(aud, IDP_EXCHANGE_APP_ID) == 0;
}

int idp_mint(struct idp *idp, const char *tid, const struct idp_sp *sp, const char *resource, const char *appidacr,
             const char *mirid, int64_t lifetime, struct ck_secret **token, int64_t *exp)
{
    char iss[128], uti_raw[16];
    char *uti;
    int64_t now = ck_time_now();
    int v2 = idp_is_exchange_audience(resource);
    json_t *c;
    int rc;

    if (ck_rand_bytes(uti_raw, sizeof(uti_raw)) != CK_OK)
        return CK_E_CRYPTO;
    uti = ck_b64url_encode((const uint8_t *)uti_raw, sizeof(uti_raw));
    if (uti == NULL)
        return CK_E_NOMEM;
    if (v2)
        snprintf(iss, sizeof(iss), "https://login.microsoftonline.com/%s/v2.0", tid);
    else
        snprintf(iss, sizeof(iss), "https://sts.windows.net/%s/", tid);
    c = json_pack("{s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:s,s:s,s:s}", "aud", resource, "iss", iss, "iat", (json_int_t)now,
                  "nbf", (json_int_t)now, "exp", (json_int_t)(now + lifetime), "idtyp", "app", "oid", sp->object_id,
                  "sub", sp->object_id, "tid", tid, "uti", uti);
    ck_free(uti);
    if (c == NULL)
        return CK_E_NOMEM;
    if (v2) {
        ck_json_set_str(c, "azp", sp->app_id);
        ck_json_set_str(c, "azpacr", appidacr);
        ck_json_set_str(c, "ver", "2.0");
    } else {
        ck_json_set_str(c, "appid", sp->app_id);
        ck_json_set_str(c, "appidacr", appidacr);
        ck_json_set_str(c, "idp", iss);
        ck_json_set_str(c, "ver", "1.0");
    }
    if (mirid != NULL)
        ck_json_set_str(c, "xms_mirid", mirid);
    rc = idp_sign(idp, tid, c, token);
    json_decref(c);
    if (rc == CK_OK && exp != NULL)
        *exp = now + lifetime;
    return rc;
}

/* ---- external issuers: OIDC discovery, then JWKS, fetched per assertion ---- */

static int idp_fetch_json(struct idp *idp, const char *url, json_t **out)
{
    struct ck_httpc_req rq = {0};
    struct ck_httpc_resp rs;
    int rc;
    rq.url = url;
    rq.ca_file = idp->ca_file;
    rq.timeout_ms = 5000;
    rq.limit = 256 * 1024;
    rc = ck_httpc_do(&rq, &rs);
    if (rc == CK_OK && rs.status == 200) {
        *out = ck_json_parse_object(rs.body.data, rs.body.len, NULL, 0);
        if (*out == NULL)
            rc = CK_E_INVALID;
    } else if (rc == CK_OK) {
        rc = CK_E_UNAVAILABLE;
    }
    ck_httpc_resp_cleanup(&rs);
    return rc;
}

static enum ck_token_fail idp_verify_external(struct idp *idp, const char *token, const char *iss, const json_t *hdr,
                                              const json_t *payload)
{
    json_t *disc = NULL, *jwks = NULL;
    struct ck_pkey *key = NULL;
    uint8_t *sig = NULL;
    size_t siglen = 0;
    char url[1200];
    enum ck_token_fail why = CK_TF_UNAVAILABLE;
    const char *kid = ck_json_str(hdr, "kid");
    size_t il = strlen(iss);

    if (strncmp(iss, "https://", 8) != 0 || il > 1000)
        return CK_TF_ISSUER;
    snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration", (int)(iss[il - 1] == '/' ? il - 1 : il), iss);
    if (idp_fetch_json(idp, url, &disc) != CK_OK)
        goto out;
    /* OpenID Connect Discovery 1.0, section 4.3: the document's issuer must be the issuer asked for. */
    const char *diss = ck_json_str(disc, "issuer");
    size_t dl = diss ? strlen(diss) : 0, ql = strlen(iss);
    if (dl > 0 && diss[dl - 1] == '/')
        dl--;
    if (ql > 0 && iss[ql - 1] == '/')
        ql--;
    if (diss == NULL || dl != ql || strncmp(diss, iss, dl) != 0)
        goto out;
    const char *juri = ck_json_str(disc, "jwks_uri");
    if (juri == NULL || strncmp(juri, "https://", 8) != 0 || idp_fetch_json(idp, juri, &jwks) != CK_OK)
        goto out;
    why = CK_TF_KEY;
    size_t i;
    json_t *k;
    json_array_foreach(ck_json_arr(jwks, "keys"), i, k) {
        const char *n = ck_json_str(k, "n"), *e = ck_json_str(k, "e"), *kk = ck_json_str(k, "kid");
        uint8_t *nb = NULL, *eb = NULL;
        size_t nl, el;
        if (n == NULL || e == NULL || (kid != NULL && (kk == NULL || strcmp(kid, kk) != 0)))
            continue;
        if (ck_b64url_decode(n, strlen(n), &nb, &nl) == 0 && ck_b64url_decode(e, strlen(e), &eb, &el) == 0 &&
            ck_pkey_rsa_from_public(nb, nl, eb, el, &key) != CK_OK)
            key = NULL;
        ck_free(nb);
        ck_free(eb);
        if (key != NULL)
            break;
    }
    if (key == NULL)
        goto out;
    const char *d2 = strrchr(token, '.');
    why = CK_TF_SIGNATURE;
    if (ck_b64url_decode(d2 + 1, strlen(d2 + 1), &sig, &siglen) != 0 ||
        ck_rs256_verify(key, token, (size_t)(d2 - token), sig, siglen) != CK_OK)
        goto out;
    int64_t now = ck_time_now();
    json_t *exp = json_object_get(payload, "exp");
    if (!json_is_integer(exp)) {
        why = CK_TF_MALFORMED;
        goto out;
    }
    if (json_integer_value(exp) + CK_JWT_SKEW_SECONDS < now)
        why = CK_TF_EXPIRED;
    else if (ck_json_int(payload, "nbf", 0) - CK_JWT_SKEW_SECONDS > now)
        why = CK_TF_NOT_YET;
    else
        why = CK_TF_NONE;
out:
    json_decref(disc);
    json_decref(jwks);
    ck_pkey_free(key);
    ck_free(sig);
    return why;
}

/* Returns 1 when the FIC's audiences (JSON array text) contain one of the assertion's audiences. */
static int idp_fic_aud_match(const char *fic_auds, const json_t *aud)
{
    json_t *arr = ck_json_parse(fic_auds, strlen(fic_auds), NULL, 0);
    int ok = 0;
    size_t i, j;
    json_t *fa, *a;
    json_array_foreach(arr, i, fa) {
        const char *f = json_string_value(fa);
        if (f == NULL)
            continue;
        if (json_is_string(aud)) {
            const char *s = json_string_value(aud);
            ok |= strcmp(f, s) == 0 || (idp_is_exchange_audience(f) && idp_is_exchange_audience(s));
        }
        json_array_foreach(aud, j, a) {
            const char *s = json_string_value(a);
            if (s != NULL)
                ok |= strcmp(f, s) == 0 || (idp_is_exchange_audience(f) && idp_is_exchange_audience(s));
        }
    }
    json_decref(arr);
    return ok;
}

/* Authenticates a client assertion for app. Returns 1, or 0 after writing the error response. */
static int idp_check_assertion(struct idp *idp, struct ck_req *req, struct ck_resp *resp, const struct idp_app *app,
                               const char *assertion)
{
    json_t *hdr = NULL, *pl = NULL;
    struct ck_db_stmt *st = NULL;
    int ok = 0, iss_match = 0, sub_match = 0, aud_match = 0;
    char tid[64], ts_now[40], ts_nbf[40], ts_exp[40];

    if (ck_jwt_decode_unverified(assertion, &hdr, &pl) != CK_OK) {
        idp_aad_error(req, resp, 400, "invalid_request", 50027,
                      "JWT token is invalid or malformed: the client assertion is not a compact JWS with JSON header and payload.");
        return 0;
    }
    const char *alg = ck_json_str(hdr, "alg");
    if (alg == NULL || strcmp(alg, "RS256") != 0) {
        idp_aad_error(req, resp, 401, "invalid_client", 5002738,
                      "Invalid JWT token. '%s' is not a supported signature algorithm. Supported signing algorithms are: 'RS256'",
                      alg ? alg : "(none)");
        goto out;
    }
    const char *iss = ck_json_str(pl, "iss");
    const char *sub = ck_json_str(pl, "sub");
    json_t *aud = json_object_get(pl, "aud");
    if (iss == NULL || sub == NULL || aud == NULL) {
        idp_aad_error(req, resp, 400, "invalid_request", 50027,
                      "JWT token is invalid or malformed: the client assertion needs 'iss', 'sub' and 'aud' claims.");
        goto out;
    }
    /* Match the issuer first: without a credential for it there are no keys to check against. */
    ck_db_lock(idp->db);
    if (ck_db_prepare(idp->db, "SELECT issuer, subject, audiences FROM fics WHERE app_object_id = ?1", &st) == CK_OK) {
        ck_db_bind_text(st, 1, app->object_id);
        while (ck_db_step(st) == 1) {
            if (strcmp(ck_db_col_text(st, 0), iss) != 0)
                continue;
            iss_match = 1;
            if (strcmp(ck_db_col_text(st, 1), sub) != 0)
                continue;
            sub_match = 1;
            if (idp_fic_aud_match(ck_db_col_text(st, 2), aud))
                aud_match = 1;
        }
    }
    ck_db_stmt_free(st);
    ck_db_unlock(idp->db);
    if (!iss_match) {
        idp_aad_error(req, resp, 401, "invalid_client", 700211,
                      "No matching federated identity record found for presented assertion issuer '%s'. Please check "
                      "your federated identity credential Subject, Audience and Issuer against the presented assertion.",
                      iss);
        goto out;
    }
    enum ck_token_fail why;
    if (ck_issuer_tenant(iss, tid) && idp_tenant_exists(idp, tid)) {
        struct ck_claims c;
        why = ck_verify_token(idp->verifier, assertion, NULL, NULL, &c);
    } else {
        why = idp_verify_external(idp, assertion, iss, hdr, pl);
    }
    if (why == CK_TF_EXPIRED || why == CK_TF_NOT_YET) {
        ck_time_entra(ck_time_now(), ts_now, sizeof(ts_now));
        ck_time_entra(ck_json_int(pl, "nbf", 0), ts_nbf, sizeof(ts_nbf));
        ck_time_entra(ck_json_int(pl, "exp", 0), ts_exp, sizeof(ts_exp));
        idp_aad_error(req, resp, 401, "invalid_client", 700024,
                      "Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, "
                      "expiry time of assertion %s.", ts_now, ts_nbf, ts_exp);
        goto out;
    }
    if (why == CK_TF_UNAVAILABLE) {
        idp_aad_error(req, resp, 401, "invalid_client", 50166,
                      "Request to External OIDC endpoint failed: the signing keys of issuer '%s' could not be fetched.", iss);
        goto out;
    }
    if (why != CK_TF_NONE) {
        idp_aad_error(req, resp, 401, "invalid_client", 700027,
                      "Client assertion failed signature validation (%s).", ck_token_fail_text(why));
        goto out;
    }
    if (!sub_match) {
        idp_aad_error(req, resp, 401, "invalid_client", 700213,
                      "No matching federated identity record found for presented assertion subject '%s'. Please check "
                      "your federated identity credential Subject, Audience and Issuer against the presented assertion.",
                      sub);
        goto out;
    }
    if (!aud_match) {
        char *ad = ck_json_dump(aud);
        idp_aad_error(req, resp, 401, "invalid_client", 700212,
                      "No matching federated identity record found for presented assertion audience %s. Please check "
                      "your federated identity credential Subject, Audience and Issuer against the presented assertion.",
                      ad ? ad : "");
        free(ad);
        goto out;
    }
    ok = 1;
out:
    json_decref(hdr);
    json_decref(pl);
    return ok;
}

void idp_handle_token(struct idp *idp, struct ck_req *req, struct ck_resp *resp, const char *tid)
{
    struct ck_arena *a = ck_req_arena(req);
    struct idp_form f;
    struct idp_app app;
    struct idp_sp sp;
    struct ck_secret *token = NULL;
    const char *dup = NULL, *err;
    const char *ctype = ck_req_header(req, "Content-Type");
    size_t len;
    const char *body = ck_req_body(req, &len);
    const char *appidacr;

    if (ctype == NULL || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0) {
        idp_aad_error(req, resp, 400, "invalid_request", 900144,
                      "The request body must contain the following parameter: 'grant_type'. The body must be "
                      "application/x-www-form-urlencoded.");
        return;
    }
    if ((err = idp_form_parse(a, body, len, &f, &dup)) != NULL) {
        if (dup != NULL)
            idp_aad_error(req, resp, 400, "invalid_request", 9000411,
                          "The request is not properly formatted. The parameter '%s' is duplicated.", dup);
        else
            idp_aad_error(req, resp, 400, "invalid_request", 900144, "%s", err);
        return;
    }
    const char *grant = idp_form_get(&f, "grant_type");
    const char *client_id = idp_form_get(&f, "client_id");
    const char *scope = idp_form_get(&f, "scope");
    const char *secret = idp_form_get(&f, "client_secret");
    const char *assertion = idp_form_get(&f, "client_assertion");
    const char *atype = idp_form_get(&f, "client_assertion_type");
    if (grant == NULL || *grant == '\0') {
        idp_aad_error(req, resp, 400, "invalid_request", 900144,
                      "The request body must contain the following parameter: 'grant_type'.");
        return;
    }
    if (strcmp(grant, "client_credentials") != 0) {
        idp_aad_error(req, resp, 400, "unsupported_grant_type", 70003,
                      "The app requested an unsupported grant type '%.64s'. Only client_credentials is supported.", grant);
        return;
    }
    if (client_id == NULL || *client_id == '\0') {
        idp_aad_error(req, resp, 400, "invalid_request", 900144,
                      "The request body must contain the following parameter: 'client_id'.");
        return;
    }
    if (scope == NULL || *scope == '\0') {
        idp_aad_error(req, resp, 400, "invalid_request", 900144,
                      "The request body must contain the following parameter: 'scope'.");
        return;
    }
    size_t sl = strlen(scope);
    if (strchr(scope, ' ') != NULL || sl <= 9 || strcmp(scope + sl - 9, "/.default") != 0 || sl > 600) {
        idp_aad_error(req, resp, 400, "invalid_scope", 1002012,
                      "The provided value for scope %.200s is not valid. Client credential flows must have a scope "
                      "value with /.default suffixed to the resource identifier (application ID URI).", scope);
        return;
    }
    char *resource = ck_arena_strndup(a, scope, sl - 9);
    if (!ck_uuid_valid(client_id) || idp_app_by_app_id(idp, a, client_id, &app) != CK_OK ||
        idp_sp_by_app(idp, a, client_id, tid, &sp) != CK_OK) {
        char *tname = idp_tenant_name(idp, a, tid);
        idp_aad_error(req, resp, 400, "unauthorized_client", 700016,
                      "Application with identifier '%.64s' was not found in the directory '%s'. This can happen if the "
                      "application has not been installed by the administrator of the tenant or consented to by any "
                      "user in the tenant. You may have sent your authentication request to the wrong tenant.",
                      client_id, tname ? tname : tid);
        return;
    }
    if (secret != NULL && assertion != NULL) {
        idp_aad_error(req, resp, 400, "invalid_request", 90015,
                      "Only one of 'client_secret' and 'client_assertion' may be presented.");
        return;
    }
    if (secret != NULL) {
        int sc = idp_secret_check(idp, app.object_id, secret, strlen(secret));
        if (sc == 2) {
            idp_aad_error(req, resp, 401, "invalid_client", 7000222,
                          "The provided client secret keys for app '%s' are expired. Visit the Azure portal to create "
                          "new keys for your app, or consider using certificate credentials for added security.",
                          app.app_id);
            return;
        }
        if (sc != 1) {
            idp_aad_error(req, resp, 401, "invalid_client", 7000215,
                          "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                          "secret value, not the client secret ID, for a secret added to app '%s'.", app.app_id);
            return;
        }
        appidacr = "1";
    } else if (assertion != NULL) {
        if (atype == NULL || strcmp(atype, IDP_JWT_BEARER) != 0) {
            idp_aad_error(req, resp, 400, "invalid_request", 900144,
                          "The request body must contain the following parameter: 'client_assertion_type' with the "
                          "value '" IDP_JWT_BEARER "'.");
            return;
        }
        if (!idp_check_assertion(idp, req, resp, &app, assertion))
            return;
        appidacr = "2";
    } else {
        idp_aad_error(req, resp, 401, "invalid_client", 7000218,
                      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
        return;
    }
    int64_t exp = 0;
    if (idp_mint(idp, tid, &sp, resource, appidacr, NULL, IDP_TOKEN_LIFETIME, &token, &exp) != CK_OK) {
        idp_aad_error(req, resp, 500, "server_error", 90000, "The token could not be issued.");
        return;
    }
    ck_req_set_principal(req, sp.object_id);
    /* The body is built in wiped memory, not in a JSON value: tokens are bearer credentials. A JWT
     * holds only base64url characters and dots, so it needs no JSON escaping. */
    struct ck_buf b;
    ck_buf_init(&b, CK_JWT_MAX_LEN + 256);
    b.secret = 1;
    if (ck_buf_printf(&b, "{\"token_type\":\"Bearer\",\"expires_in\":%d,\"ext_expires_in\":%d,\"access_token\":\"%s\"}",
                      IDP_TOKEN_LIFETIME, IDP_TOKEN_LIFETIME, (const char *)ck_secret_ptr(token)) != CK_OK) {
        idp_aad_error(req, resp, 500, "server_error", 90000, "The token could not be issued.");
    } else {
        ck_resp_header(resp, "Cache-Control", "no-store, no-cache");
        ck_resp_header(resp, "Pragma", "no-cache");
        ck_resp_status(resp, 200);
        ck_resp_body(resp, "application/json; charset=utf-8", b.data, b.len);
    }
    ck_buf_cleanup(&b);
    ck_secret_free(token);
}
