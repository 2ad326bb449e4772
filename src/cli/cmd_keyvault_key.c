/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key Vault keys data-plane commands (`keyvault key ...`, api-version 2025-07-01) over the vault's
 * own HTTPS origin. The vault URL comes from --id (a key identifier) or from --vault-name (the
 * vault's properties.vaultUri through ARM). Authentication follows @azure/keyvault-common: the
 * first request goes out without a token and without its body, the service answers 401 with
 * `WWW-Authenticate: Bearer authorization="<authority>/<tenant>", resource="<resource>"`, and the
 * request is sent again with a client-credentials token for "<resource>/.default" in that tenant,
 * asked of the profile's own authority. Results print in az's shapes (keyOps, ISO times,
 * notBefore/expires), errors as "ERROR: (code) message" plus Key Vault's inner error. Request
 * bodies that held key material or plaintext are wiped.
 */
#include "cli/cli_int.h"
#include "core/codec.h"
#include "core/fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define CLI_API_KV "2025-07-01"
/* Cap on a value the CLI encrypts, wraps or restores. */
#define CLI_KV_VALUE_LIMIT (1u << 20)

/* One vault's data-plane origin and the token to present there. */
struct cli_kv {
    const char *url;    /* "https://localhost:8501", no trailing slash (arena) */
    const char *name;   /* key name from --name or --id (arena), or NULL */
    const char *version; /* key version from --version or --id (arena), or NULL */
    const char *tok;    /* bearer token (arena, wiped at exit), or NULL before the challenge */
};

/* ---- time and attribute conversion ---- */

/* Parses an ISO 8601 date-time ("2026-01-31", "2026-01-31T12:00:00Z", "...T12:00:00.5+02:00") to
 * epoch seconds. Returns 0 or -1. */
static int cli_kv_time_parse(const char *s, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    int64_t off = 0;
    struct tm tm;
    const char *p;

    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    p = s + n;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &n) != 2 || n != 5)
            return -1;
        p += 1 + n;
        if (*p == ':') {
            if (sscanf(p + 1, "%2d%n", &sec, &n) != 1 || n != 2)
                return -1;
            p += 1 + n;
            if (*p == '.')
                for (p++; *p >= '0' && *p <= '9'; p++)
                    ;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5 || oh > 23 || om > 59)
            return -1;
        off = (*p == '+' ? 1 : -1) * ((int64_t)oh * 3600 + om * 60);
        p += 1 + n;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *out = (int64_t)timegm(&tm) - off;
    return 0;
}

/* Replaces the epoch member `from` of obj by an ISO string `to` (null when absent), as az prints. */
static void cli_kv_time_member(json_t *obj, const char *from, const char *to)
{
    json_t *v = json_object_get(obj, from);
    json_t *iso = json_null();
    if (json_is_integer(v) || json_is_real(v)) {
        time_t t = json_is_integer(v) ? (time_t)json_integer_value(v) : (time_t)json_real_value(v);
        struct tm tm;
        char buf[40];
        if (gmtime_r(&t, &tm) != NULL && strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S+00:00", &tm) > 0)
            iso = json_string(buf);
    } else if (json_is_string(v)) {
        iso = json_incref(v);
    }
    if (strcmp(from, to) != 0)
        json_object_del(obj, from);
    json_object_set_new(obj, to, iso);
}

/* Renames a member when present. */
static void cli_kv_rename(json_t *obj, const char *from, const char *to)
{
    json_t *v = json_object_get(obj, from);
    if (v == NULL)
        return;
    json_object_set(obj, to, v);
    json_object_del(obj, from);
}

/* The segment after "/keys/" (or "/deletedkeys/") of an identifier, into the arena; NULL if none. */
static const char *cli_kv_id_name(struct cli_ctx *ctx, const char *id)
{
    const char *p = id != NULL ? strstr(id, "/keys/") : NULL;
    size_t skip = strlen("/keys/");
    if (p == NULL && id != NULL && (p = strstr(id, "/deletedkeys/")) != NULL)
        skip = strlen("/deletedkeys/");
    if (p == NULL)
        return NULL;
    p += skip;
    return ck_arena_strndup(ctx->arena, p, strcspn(p, "/?"));
}

/* Turns a KeyBundle, KeyItem or DeletedKey of the wire into az's shape, in place. */
static void cli_kv_shape(struct cli_ctx *ctx, json_t *v)
{
    json_t *attrs = json_object_get(v, "attributes"), *key = json_object_get(v, "key");

    if (!json_is_object(v))
        return;
    if (json_is_object(attrs)) {
        cli_kv_time_member(attrs, "created", "created");
        cli_kv_time_member(attrs, "updated", "updated");
        cli_kv_time_member(attrs, "nbf", "notBefore");
        cli_kv_time_member(attrs, "exp", "expires");
    }
    if (json_is_object(key))
        cli_kv_rename(key, "key_ops", "keyOps");
    cli_kv_rename(v, "release_policy", "releasePolicy");
    if (json_object_get(v, "deletedDate") != NULL)
        cli_kv_time_member(v, "deletedDate", "deletedDate");
    if (json_object_get(v, "scheduledPurgeDate") != NULL)
        cli_kv_time_member(v, "scheduledPurgeDate", "scheduledPurgeDate");
    if (json_object_get(v, "tags") == NULL)
        json_object_set_new(v, "tags", json_null());
    if (json_object_get(v, "managed") == NULL)
        json_object_set_new(v, "managed", json_null());
    /* List items carry a kid but no key: az adds the name. */
    if (key == NULL && ck_json_str(v, "kid") != NULL && json_object_get(v, "name") == NULL) {
        const char *name = cli_kv_id_name(ctx, ck_json_str(v, "kid"));
        if (name != NULL)
            ck_json_set_str(v, "name", name);
    }
}

/* ---- transport: challenge authentication and error envelopes ---- */

/* Copies the value of `name="..."` from a WWW-Authenticate header into the arena, or NULL. */
static const char *cli_kv_auth_param(struct cli_ctx *ctx, const char *hdr, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = hdr; (p = strcasestr(p, name)) != NULL; p += n) {
        int starts = p == hdr || p[-1] == ' ' || p[-1] == ',';
        if (!starts || p[n] != '=')
            continue;
        const char *v = p + n + 1;
        if (*v == '"') {
            const char *end = strchr(v + 1, '"');
            if (end == NULL)
                return NULL;
            return ck_arena_strndup(ctx->arena, v + 1, (size_t)(end - v - 1));
        }
        return ck_arena_strndup(ctx->arena, v, strcspn(v, ", "));
    }
    return NULL;
}

/* Gets a token for scope in tenant from the profile's authority. A tenant other than the
 * signed-in one is announced: the service principal must exist there (a multi-tenant app). */
static int cli_kv_token(struct cli_ctx *ctx, const char *tenant, const char *scope, int fresh, const char **tok)
{
    const char *mine = cli_account_tenant(ctx);
    json_t *profile = NULL, *sp;
    struct cli_account *saved;
    const char *client = NULL, *secret = NULL;
    size_t i;
    int rc = CLI_EXIT_ERR;

    if (tenant == NULL || strcasecmp(tenant, mine) == 0)
        return cli_token(ctx, scope, fresh, tok);
    cli_warn("the vault belongs to tenant %s, not to the signed-in tenant %s; requesting a token in tenant %s", tenant,
             mine, tenant);
    /* The same client credential, presented in the vault's tenant. */
    profile = cli_profile_load(ctx);
    json_t *cur = profile != NULL ? cli_profile_current(ctx, profile) : NULL;
    client = ck_json_str(ck_json_obj(cur, "user"), "name");
    json_array_foreach(ck_json_arr(profile, "servicePrincipals"), i, sp) {
        const char *c = ck_json_str(sp, "clientId"), *t = ck_json_str(sp, "tenantId");
        if (c != NULL && t != NULL && client != NULL && strcmp(c, client) == 0 && strcasecmp(t, mine) == 0)
            secret = ck_json_str(sp, "clientSecret");
    }
    if (client == NULL || secret == NULL) {
        cli_err("no saved credential to present in tenant %s. Please run 'crosskey login'.", tenant);
        goto out;
    }
    saved = ctx->account;
    rc = cli_account_use(ctx, cli_account_endpoints(ctx), tenant, client, secret);
    if (rc == CLI_EXIT_OK) {
        rc = cli_token(ctx, scope, fresh, tok);
        if (rc != CLI_EXIT_OK)
            cli_err("cannot get a token for the vault in tenant %s (the vault's tenant differs from the signed-in "
                    "tenant %s)",
                    tenant, mine);
    }
    ctx->account = saved;
out:
    cli_json_wipe(profile);
    json_decref(profile);
    return rc;
}

/* Reads a 401 challenge and gets the token it asks for. Returns CLI_EXIT_OK or an exit code. */
static int cli_kv_challenge(struct cli_ctx *ctx, struct cli_kv *kv, const struct cli_resp *resp, int fresh)
{
    const char *hdr = resp->www_authenticate;
    const char *authz, *resource, *scope, *tenant = NULL;

    if (hdr == NULL || strncasecmp(hdr, "Bearer", 6) != 0) {
        cli_err("the vault answered 401 without a Bearer challenge");
        return CLI_EXIT_ERR;
    }
    authz = cli_kv_auth_param(ctx, hdr, "authorization");
    if (authz == NULL)
        authz = cli_kv_auth_param(ctx, hdr, "authorization_uri");
    resource = cli_kv_auth_param(ctx, hdr, "resource");
    scope = cli_kv_auth_param(ctx, hdr, "scope");
    if (resource != NULL) {
        size_t n = strlen(resource);
        while (n > 0 && resource[n - 1] == '/')
            n--;
        scope = cli_fmt(ctx, "%.*s/.default", (int)n, resource);
    }
    if (scope == NULL) {
        cli_err("the vault's challenge names neither a resource nor a scope");
        return CLI_EXIT_ERR;
    }
    /* As the SDK: the tenant is the one path segment of the authorization URL; its host is
     * ignored (the token comes from the profile's authority). */
    const char *p = authz != NULL ? strstr(authz, "://") : NULL;
    if (p != NULL && (p = strchr(p + 3, '/')) != NULL && p[1] != '\0' && strchr(p + 1, '/') == NULL)
        tenant = p + 1;
    cli_debug(ctx, "Challenge: tenant %s, scope %s", tenant ? tenant : "(signed-in)", scope);
    return cli_kv_token(ctx, tenant, scope, fresh, &kv->tok);
}

/*
 * Sends one data-plane request. path is relative to the vault URL (or an absolute nextLink on the
 * same origin); api-version is added. Without a token yet, the SDK's probe goes first. Returns
 * CLI_EXIT_OK when an HTTP response arrived (resp filled), otherwise an exit code (printed).
 */
static int cli_kv_call(struct cli_ctx *ctx, struct cli_kv *kv, const char *method, const char *path, const json_t *body,
                       struct cli_resp *resp)
{
    const char *ca = cli_account_endpoints(ctx)->ca_file;
    const char *url;
    char *text = NULL;
    char rid[37];
    int rc = CLI_EXIT_ERR;

    memset(resp, 0, sizeof(*resp));
    if (strncmp(path, "https://", 8) == 0) {
        size_t n = strlen(kv->url);
        if (strncmp(path, kv->url, n) != 0 || (path[n] != '/' && path[n] != '?')) {
            cli_err("refusing to follow a link to another origin");
            return CLI_EXIT_ERR;
        }
        url = strstr(path, "api-version=") ? path
                                           : cli_fmt(ctx, "%s%sapi-version=" CLI_API_KV, path, strchr(path, '?') ? "&" : "?");
    } else {
        url = cli_fmt(ctx, "%s%s%sapi-version=" CLI_API_KV, kv->url, path, strchr(path, '?') ? "&" : "?");
    }
    if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) == NULL) {
        cli_err("out of memory");
        return CLI_EXIT_ERR;
    }
    if (ck_uuid_new(rid) != 0)
        snprintf(rid, sizeof(rid), "00000000-0000-0000-0000-000000000000");
    for (int attempt = 0; attempt < 3; attempt++) {
        const char *hdrs[6] = {"Accept: application/json", NULL, NULL, NULL, NULL, NULL};
        int h = 1, probe = kv->tok == NULL;
        /* The probe keeps the Content-Type of a request with a body (Content-Length: 0), as the SDK. */
        if (text != NULL)
            hdrs[h++] = "Content-Type: application/json";
        hdrs[h++] = cli_fmt(ctx, "x-ms-client-request-id: %s", rid);
        if (!probe)
            hdrs[h++] = cli_fmt(ctx, "Authorization: Bearer %s", kv->tok);
        /* The probe goes without its body, as the SDK sends it. */
        rc = cli_send(ctx, method, url, hdrs, probe ? NULL : text, probe || text == NULL ? 0 : strlen(text), ca, resp);
        if (rc != CLI_EXIT_OK || resp->status != 401 || attempt == 2)
            break;
        /* A 401 on the probe is the challenge; on a cached token, the token is stale: ask again. */
        cli_debug(ctx, probe ? "401 challenge; requesting a token" : "401 with a cached token; requesting a new one");
        if (!probe)
            cli_token_forget(ctx);
        rc = cli_kv_challenge(ctx, kv, resp, !probe);
        if (rc != CLI_EXIT_OK)
            break;
        cli_resp_cleanup(resp);
    }
    if (text != NULL)
        ck_freezero(text, strlen(text));
    return rc;
}

/* cli_kv_call, then anything outside 2xx is printed and turned into an exit code. */
static int cli_kv_ok(struct cli_ctx *ctx, struct cli_kv *kv, const char *method, const char *path, const json_t *body,
                     json_t **out)
{
    struct cli_resp resp;
    int rc = cli_kv_call(ctx, kv, method, path, body, &resp);

    if (out != NULL)
        *out = NULL;
    if (rc == CLI_EXIT_OK)
        rc = cli_resp_take(&resp, out);
    cli_resp_cleanup(&resp);
    return rc;
}

/* One page of a data-plane list (cli_page_fn). */
static int cli_kv_page(struct cli_ctx *ctx, void *arg, const char *url, json_t **body)
{
    return cli_kv_ok(ctx, arg, "GET", url, NULL, body);
}

/* ---- resolving the vault and the key ---- */

/* Splits a key identifier https://host[:port]/keys|deletedkeys/<name>[/<version>]. */
static int cli_kv_parse_id(struct cli_ctx *ctx, const char *id, struct cli_kv *kv)
{
    const char *p = strncmp(id, "https://", 8) == 0 ? id + 8 : NULL;
    const char *path = p != NULL ? strchr(p, '/') : NULL;
    const char *seg, *name, *ver;
    size_t nl;

    if (path == NULL || path == p)
        goto bad;
    kv->url = ck_arena_strndup(ctx->arena, id, (size_t)(path - id));
    if (strncmp(path, "/keys/", 6) == 0)
        seg = path + 6;
    else if (strncmp(path, "/deletedkeys/", 13) == 0)
        seg = path + 13;
    else
        goto bad;
    name = seg;
    nl = strcspn(name, "/?");
    if (nl == 0)
        goto bad;
    kv->name = ck_arena_strndup(ctx->arena, name, nl);
    ver = name[nl] == '/' ? name + nl + 1 : NULL;
    if (ver != NULL && ver[0] != '\0') {
        size_t vl = strcspn(ver, "/?");
        if (ver[vl] == '/' && ver[vl + 1] != '\0')
            goto bad;
        kv->version = ck_arena_strndup(ctx->arena, ver, vl);
    }
    return CLI_EXIT_OK;
bad:
    cli_err("argument --id: '%s' is not a key identifier (https://<vault host>/keys/<name>[/<version>])", id);
    return CLI_EXIT_USAGE;
}

/* 1 when the command has an --id flag. */
static int cli_kv_takes_id(const struct cli_ctx *ctx)
{
    for (int i = 0; i < CLI_MAX_FLAGS && ctx->cmd->flags[i].name != NULL; i++) {
        if (strcmp(ctx->cmd->flags[i].name, "id") == 0)
            return 1;
    }
    return 0;
}

/*
 * Fills kv from --id, or from --vault-name (through ARM) and --name/--version. need_name: the
 * command works on one key. Returns CLI_EXIT_OK or an exit code (printed).
 */
static int cli_kv_open(struct cli_ctx *ctx, struct cli_kv *kv, int need_name)
{
    const char *id = cli_arg(ctx, "id"), *vname = cli_arg(ctx, "vault-name");
    json_t *vault = NULL;
    int rc;

    memset(kv, 0, sizeof(*kv));
    if (id != NULL) {
        if (vname != NULL || cli_has(ctx, "name")) {
            cli_err("usage error: --id | --vault-name --name");
            return CLI_EXIT_USAGE;
        }
        rc = cli_kv_parse_id(ctx, id, kv);
        if (rc != CLI_EXIT_OK)
            return rc;
        if (cli_arg(ctx, "version") != NULL)
            kv->version = cli_arg(ctx, "version");
        /* The account gives the CA file and the credential for the challenge. */
        return cli_account_get(ctx);
    }
    if (vname == NULL)
        return cli_need(ctx, cli_kv_takes_id(ctx) ? "--id | --vault-name" : "--vault-name");
    if (need_name && !cli_has(ctx, "name"))
        return cli_need(ctx, "--name/-n");
    rc = cli_kv_vault_get(ctx, vname, NULL, &vault);
    if (rc != CLI_EXIT_OK)
        return rc;
    const char *uri = ck_json_str(ck_json_obj(vault, "properties"), "vaultUri");
    if (uri == NULL || strncmp(uri, "https://", 8) != 0) {
        cli_err("the vault '%s' has no https vaultUri", vname);
        json_decref(vault);
        return CLI_EXIT_ERR;
    }
    size_t n = strlen(uri);
    while (n > 0 && uri[n - 1] == '/')
        n--;
    kv->url = ck_arena_strndup(ctx->arena, uri, n);
    json_decref(vault);
    kv->name = cli_arg(ctx, "name");
    kv->version = cli_arg(ctx, "version");
    return CLI_EXIT_OK;
}

/* The path of the key (and version; empty means the latest, as the SDK sends it) plus suffix. */
static const char *cli_kv_key_path(struct cli_ctx *ctx, const struct cli_kv *kv, const char *suffix)
{
    return cli_fmt(ctx, "/keys/%s/%s%s", cli_enc(ctx, kv->name), kv->version ? cli_enc(ctx, kv->version) : "",
                   suffix);
}

/* ---- request bodies from flags ---- */

/* --ops as a JSON array (NULL when absent, or on a bad value with *rc set). */
static json_t *cli_kv_ops(struct cli_ctx *ctx, int *rc)
{
    static const char *const known[] = {"encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey", "import",
                                        "export"};
    const char *const *vals;
    int n = cli_args_of(ctx, "ops", &vals);
    json_t *ops;

    *rc = CLI_EXIT_OK;
    if (n == 0)
        return NULL;
    ops = json_array();
    for (int i = 0; ops != NULL && i < n; i++) {
        size_t k;
        for (k = 0; k < sizeof(known) / sizeof(known[0]) && strcasecmp(vals[i], known[k]) != 0; k++)
            ;
        if (k == sizeof(known) / sizeof(known[0])) {
            cli_err("argument --ops: invalid choice: '%s' (choose from 'encrypt', 'decrypt', 'sign', 'verify', "
                    "'wrapKey', 'unwrapKey', 'import', 'export')",
                    vals[i]);
            *rc = CLI_EXIT_USAGE;
            json_decref(ops);
            return NULL;
        }
        json_array_append_new(ops, json_string(known[k]));
    }
    return ops;
}

/* Builds {"enabled","nbf","exp"} from --enabled (or --disabled), --not-before and --expires.
 * Returns a new object (possibly empty), or NULL with *rc set on a bad value. */
static json_t *cli_kv_attrs(struct cli_ctx *ctx, int *rc)
{
    static const struct {
        const char *flag;
        const char *member;
    } times[] = {{"not-before", "nbf"}, {"expires", "exp"}};
    json_t *a = json_object();
    int enabled = cli_kv_bool(ctx, "enabled"), disabled = cli_kv_bool(ctx, "disabled");

    *rc = CLI_EXIT_USAGE;
    if (a == NULL || enabled == -2 || disabled == -2)
        goto bad;
    if (enabled >= 0)
        json_object_set_new(a, "enabled", json_boolean(enabled));
    else if (disabled >= 0)
        json_object_set_new(a, "enabled", json_boolean(!disabled));
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        const char *v = cli_arg(ctx, times[i].flag);
        int64_t t;
        if (v == NULL)
            continue;
        if (cli_kv_time_parse(v, &t) != 0) {
            cli_err("argument --%s: '%s' is not an ISO 8601 date-time such as 2027-01-31T00:00:00Z", times[i].flag, v);
            goto bad;
        }
        json_object_set_new(a, times[i].member, json_integer(t));
    }
    *rc = CLI_EXIT_OK;
    return a;
bad:
    json_decref(a);
    return NULL;
}

/* Adds "attributes", "key_ops" and "tags" from the flags to body. Returns an exit code. */
static int cli_kv_common_body(struct cli_ctx *ctx, json_t *body)
{
    int rc;
    json_t *attrs = cli_kv_attrs(ctx, &rc), *ops, *tags;

    if (attrs == NULL)
        return rc;
    if (json_object_size(attrs) > 0)
        json_object_set(body, "attributes", attrs);
    json_decref(attrs);
    ops = cli_kv_ops(ctx, &rc);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (ops != NULL)
        json_object_set_new(body, "key_ops", ops);
    if (cli_has(ctx, "tags")) {
        if ((tags = cli_tags(ctx)) == NULL)
            return CLI_EXIT_USAGE;
        json_object_set_new(body, "tags", tags);
    }
    return CLI_EXIT_OK;
}

/* ---- printing ---- */

#define CLI_KV_TABLE_KEY "{Kid:key.kid, Kty:key.kty, Enabled:attributes.enabled, Expires:attributes.expires}"
#define CLI_KV_TABLE_ITEMS                                                                                             \
    "[].{Name:name, Enabled:attributes.enabled, Expires:attributes.expires, NotBefore:attributes.notBefore, "        \
    "Updated:attributes.updated}"
#define CLI_KV_TABLE_VERSIONS                                                                                          \
    "[].{Kid:kid, Enabled:attributes.enabled, Created:attributes.created, Expires:attributes.expires}"
#define CLI_KV_TABLE_DELETED                                                                                           \
    "[].{Name:name, DeletedDate:deletedDate, ScheduledPurgeDate:scheduledPurgeDate, RecoveryId:recoveryId}"

/* Shapes and prints a body (an object, or an array of items), then releases it. */
static int cli_kv_emit(struct cli_ctx *ctx, int rc, json_t *v, const char *table_expr)
{
    size_t i;
    json_t *e;

    if (rc == CLI_EXIT_OK) {
        if (json_is_array(v)) {
            json_array_foreach(v, i, e) cli_kv_shape(ctx, e);
        } else {
            cli_kv_shape(ctx, v);
        }
        rc = cli_kv_print(ctx, v, table_expr);
    }
    cli_json_wipe(v);
    json_decref(v);
    return rc;
}

/* One request on the key the flags name, printed in az's shape. */
static int cli_kv_key_run(struct cli_ctx *ctx, const char *method, const char *suffix, int versioned, const json_t *body,
                          const char *table_expr)
{
    struct cli_kv kv;
    json_t *out = NULL;
    int rc = cli_kv_open(ctx, &kv, 1);

    if (rc != CLI_EXIT_OK)
        return rc;
    if (!versioned)
        kv.version = NULL;
    const char *path = versioned ? cli_kv_key_path(ctx, &kv, suffix)
                                 : cli_fmt(ctx, "/keys/%s%s", cli_enc(ctx, kv.name), suffix);
    rc = cli_kv_ok(ctx, &kv, method, path, body, &out);
    return cli_kv_emit(ctx, rc, out, table_expr);
}

/* ---- commands ---- */

static int cli_kv_key_create(struct cli_ctx *ctx)
{
    const char *kty = cli_arg(ctx, "kty"), *size = cli_arg(ctx, "size"), *crv = cli_arg(ctx, "curve");
    json_t *body = json_object();
    int rc = CLI_EXIT_USAGE;

    if (body == NULL)
        return CLI_EXIT_ERR;
    if (kty == NULL)
        kty = crv != NULL ? "EC" : "RSA";
    ck_json_set_str(body, "kty", kty);
    if (strncasecmp(kty, "RSA", 3) == 0) {
        char *end = NULL;
        long bits = size != NULL ? strtol(size, &end, 10) : 2048;
        if (size != NULL && (end == size || *end != '\0' || (bits != 2048 && bits != 3072 && bits != 4096))) {
            cli_err("argument --size: invalid choice: '%s' (choose from 2048, 3072, 4096)", size);
            goto out;
        }
        json_object_set_new(body, "key_size", json_integer(bits));
    } else if (strncasecmp(kty, "EC", 2) == 0) {
        if (crv != NULL && strcmp(crv, "P-256") != 0 && strcmp(crv, "P-384") != 0 && strcmp(crv, "P-521") != 0 &&
            strcmp(crv, "P-256K") != 0) {
            cli_err("argument --curve: invalid choice: '%s' (choose from 'P-256', 'P-256K', 'P-384', 'P-521')", crv);
            goto out;
        }
        ck_json_set_str(body, "crv", crv != NULL ? crv : "P-256");
    } else if (size != NULL) {
        json_object_set_new(body, "key_size", json_integer(strtol(size, NULL, 10)));
    }
    rc = cli_kv_common_body(ctx, body);
    if (rc == CLI_EXIT_OK)
        rc = cli_kv_key_run(ctx, "POST", "/create", 0, body, CLI_KV_TABLE_KEY);
out:
    json_decref(body);
    return rc;
}

static int cli_kv_key_show(struct cli_ctx *ctx)
{
    return cli_kv_key_run(ctx, "GET", "", 1, NULL, CLI_KV_TABLE_KEY);
}

static int cli_kv_key_set_attributes(struct cli_ctx *ctx)
{
    json_t *body = json_object();
    int rc = body != NULL ? cli_kv_common_body(ctx, body) : CLI_EXIT_ERR;
    if (rc == CLI_EXIT_OK)
        rc = cli_kv_key_run(ctx, "PATCH", "", 1, body, CLI_KV_TABLE_KEY);
    json_decref(body);
    return rc;
}

static int cli_kv_key_rotate(struct cli_ctx *ctx)
{
    return cli_kv_key_run(ctx, "POST", "/rotate", 0, NULL, CLI_KV_TABLE_KEY);
}

static int cli_kv_key_delete(struct cli_ctx *ctx)
{
    return cli_kv_key_run(ctx, "DELETE", "", 0, NULL, CLI_KV_TABLE_KEY);
}

/* An operation on /deletedkeys/{name}[suffix]. */
static int cli_kv_deleted_run(struct cli_ctx *ctx, const char *method, const char *suffix)
{
    struct cli_kv kv;
    json_t *out = NULL;
    int rc = cli_kv_open(ctx, &kv, 1);

    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_kv_ok(ctx, &kv, method, cli_fmt(ctx, "/deletedkeys/%s%s", cli_enc(ctx, kv.name), suffix), NULL, &out);
    return cli_kv_emit(ctx, rc, out, CLI_KV_TABLE_KEY);
}

static int cli_kv_key_recover(struct cli_ctx *ctx)
{
    return cli_kv_deleted_run(ctx, "POST", "/recover");
}

static int cli_kv_key_purge(struct cli_ctx *ctx)
{
    return cli_kv_deleted_run(ctx, "DELETE", "");
}

static int cli_kv_key_show_deleted(struct cli_ctx *ctx)
{
    return cli_kv_deleted_run(ctx, "GET", "");
}

/* A list of the vault ("/keys", "/deletedkeys") or, with need_name, the versions of one key; items
 * shaped and printed. */
static int cli_kv_list_run(struct cli_ctx *ctx, const char *collection, int need_name, const char *table_expr)
{
    struct cli_kv kv;
    json_t *list = NULL;
    int rc = cli_kv_open(ctx, &kv, need_name);

    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_list_pages(ctx, cli_kv_page, &kv,
                        need_name ? cli_fmt(ctx, "/keys/%s/versions", cli_enc(ctx, kv.name)) : collection, &list);
    if (rc == CLI_EXIT_OK && need_name) {
        /* Versions come in the service's order; az users read the latest with [-1], so the oldest
         * goes first (a stable insertion sort on the creation time). */
        size_t n = json_array_size(list);
        for (size_t i = 1; i < n; i++) {
            json_t *cur = json_incref(json_array_get(list, i));
            int64_t t = ck_json_int(ck_json_obj(cur, "attributes"), "created", 0);
            size_t j = i;
            while (j > 0 && ck_json_int(ck_json_obj(json_array_get(list, j - 1), "attributes"), "created", 0) > t) {
                json_array_set(list, j, json_array_get(list, j - 1));
                j--;
            }
            json_array_set_new(list, j, cur);
        }
        /*
         * created has whole seconds: versions made in the same second as the newest (a rotation
         * right after the key was made) would come in the service's order. The key's current
         * version, which GET /keys/{name} names, goes last among them, so that [-1] is the newest.
         */
        int64_t tlast = n >= 2 ? ck_json_int(ck_json_obj(json_array_get(list, n - 1), "attributes"), "created", 0) : 0;
        if (n >= 2 && ck_json_int(ck_json_obj(json_array_get(list, n - 2), "attributes"), "created", 0) == tlast) {
            json_t *cur = NULL;
            if (cli_kv_ok(ctx, &kv, "GET", cli_fmt(ctx, "/keys/%s", cli_enc(ctx, kv.name)), NULL, &cur) == CLI_EXIT_OK) {
                const char *kid = ck_json_str(ck_json_obj(cur, "key"), "kid");
                for (size_t i = n; kid != NULL && i-- > 0;) {
                    json_t *e = json_array_get(list, i);
                    if (ck_json_int(ck_json_obj(e, "attributes"), "created", 0) != tlast)
                        break;
                    if (ck_json_str(e, "kid") != NULL && strcmp(ck_json_str(e, "kid"), kid) == 0) {
                        json_incref(e);
                        json_array_remove(list, i);
                        json_array_append_new(list, e);
                        break;
                    }
                }
            }
            json_decref(cur);
        }
    }
    return cli_kv_emit(ctx, rc, list, table_expr);
}

static int cli_kv_key_list(struct cli_ctx *ctx)
{
    return cli_kv_list_run(ctx, "/keys", 0, CLI_KV_TABLE_ITEMS);
}

static int cli_kv_key_list_versions(struct cli_ctx *ctx)
{
    return cli_kv_list_run(ctx, NULL, 1, CLI_KV_TABLE_VERSIONS);
}

static int cli_kv_key_list_deleted(struct cli_ctx *ctx)
{
    return cli_kv_list_run(ctx, "/deletedkeys", 0, CLI_KV_TABLE_DELETED);
}

static int cli_kv_key_import(struct cli_ctx *ctx)
{
    const char *file = cli_arg(ctx, "jwk-file");
    char *text = NULL;
    size_t len = 0;
    char why[160];
    json_t *jwk = NULL, *body = NULL;
    int rc = CLI_EXIT_USAGE;

    if (cli_has(ctx, "pem-file")) {
        cli_err("argument --pem-file: not supported yet (the CLI does not link a PEM parser); convert the private "
                "key to a JWK and pass --jwk-file");
        return CLI_EXIT_USAGE;
    }
    if (file == NULL)
        return cli_need(ctx, "--jwk-file");
    if (ck_read_file(file, CLI_FILE_LIMIT, &text, &len) != 0) {
        cli_err("argument --jwk-file: cannot read %s: %s", file, strerror(errno));
        return CLI_EXIT_ERR;
    }
    jwk = ck_json_parse_object(text, len, why, sizeof(why));
    ck_freezero(text, len + 1);
    if (jwk == NULL) {
        cli_err("argument --jwk-file: %s is not a JSON object", file);
        goto out;
    }
    /* A JWK may come wrapped as {"key": {...}}, as an exported KeyBundle. */
    if (json_is_object(json_object_get(jwk, "key"))) {
        json_t *inner = json_incref(json_object_get(jwk, "key"));
        cli_json_wipe(jwk);
        json_decref(jwk);
        jwk = inner;
    }
    const char *kty = ck_json_str(jwk, "kty");
    if (kty == NULL || ck_json_str(jwk, strncasecmp(kty, "oct", 3) == 0 ? "k" : "d") == NULL) {
        cli_err("argument --jwk-file: %s is not a private JWK (needs \"kty\" and the private part \"%s\")", file,
                kty != NULL && strncasecmp(kty, "oct", 3) == 0 ? "k" : "d");
        goto out;
    }
    body = json_object();
    if (body == NULL) {
        rc = CLI_EXIT_ERR;
        goto out;
    }
    rc = cli_kv_common_body(ctx, body);
    if (rc != CLI_EXIT_OK)
        goto out;
    /* key_ops belong to the JWK on import. */
    if (json_object_get(body, "key_ops") != NULL) {
        json_object_set(jwk, "key_ops", json_object_get(body, "key_ops"));
        json_object_del(body, "key_ops");
    }
    json_object_set(body, "key", jwk);
    json_object_set_new(body, "Hsm", json_false());
    rc = cli_kv_key_run(ctx, "PUT", "", 0, body, CLI_KV_TABLE_KEY);
out:
    cli_json_wipe(body);
    json_decref(body);
    cli_json_wipe(jwk);
    json_decref(jwk);
    return rc;
}

static int cli_kv_key_backup(struct cli_ctx *ctx)
{
    const char *file = cli_arg(ctx, "file");
    struct cli_kv kv;
    json_t *out = NULL;
    uint8_t *blob = NULL;
    size_t len = 0;
    int rc;

    if (access(file, F_OK) == 0) {
        cli_err("argument --file: %s already exists", file);
        return CLI_EXIT_USAGE;
    }
    rc = cli_kv_open(ctx, &kv, 1);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_kv_ok(ctx, &kv, "POST", cli_fmt(ctx, "/keys/%s/backup", cli_enc(ctx, kv.name)), NULL, &out);
    if (rc != CLI_EXIT_OK)
        goto out;
    const char *v = ck_json_str(out, "value");
    if (v == NULL || ck_b64url_decode(v, strlen(v), &blob, &len) != 0) {
        cli_err("the vault answered the backup without a base64url \"value\"");
        rc = CLI_EXIT_ERR;
        goto out;
    }
    /* The blob is sealed by the service, but it is still the key: 0600. */
    if (ck_write_file_atomic(file, blob, len, 0600) != 0) {
        cli_err("cannot write %s: %s", file, strerror(errno));
        rc = CLI_EXIT_ERR;
    }
out:
    ck_freezero(blob, len);
    cli_json_wipe(out);
    json_decref(out);
    return rc;
}

static int cli_kv_key_restore(struct cli_ctx *ctx)
{
    const char *file = cli_arg(ctx, "file");
    struct cli_kv kv;
    char *blob = NULL, *b64 = NULL;
    size_t len = 0;
    json_t *body = NULL, *out = NULL;
    int rc;

    if (ck_read_file(file, CLI_KV_VALUE_LIMIT, &blob, &len) != 0) {
        cli_err("argument --file: cannot read %s: %s", file, strerror(errno));
        return CLI_EXIT_ERR;
    }
    rc = cli_kv_open(ctx, &kv, 0);
    if (rc != CLI_EXIT_OK)
        goto out;
    b64 = ck_b64url_encode((const uint8_t *)blob, len);
    body = b64 != NULL ? json_pack("{s:s}", "value", b64) : NULL;
    if (body == NULL) {
        cli_err("out of memory");
        rc = CLI_EXIT_ERR;
        goto out;
    }
    rc = cli_kv_ok(ctx, &kv, "POST", "/keys/restore", body, &out);
    rc = cli_kv_emit(ctx, rc, out, CLI_KV_TABLE_KEY);
out:
    ck_freezero(blob, len + 1);
    if (b64 != NULL)
        ck_freezero(b64, strlen(b64));
    cli_json_wipe(body);
    json_decref(body);
    return rc;
}

/* Turns the epoch times of a rotation policy into az's ISO strings. */
static int cli_kv_policy_emit(struct cli_ctx *ctx, int rc, json_t *out)
{
    json_t *attrs = json_object_get(out, "attributes");
    if (rc == CLI_EXIT_OK && json_is_object(attrs)) {
        cli_kv_time_member(attrs, "created", "created");
        cli_kv_time_member(attrs, "updated", "updated");
    }
    if (rc == CLI_EXIT_OK)
        rc = cli_kv_print(ctx, out, "{Id:id, ExpiryTime:attributes.expiryTime, Updated:attributes.updated}");
    json_decref(out);
    return rc;
}

static int cli_kv_policy_show(struct cli_ctx *ctx)
{
    struct cli_kv kv;
    json_t *out = NULL;
    int rc = cli_kv_open(ctx, &kv, 1);

    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_kv_ok(ctx, &kv, "GET", cli_fmt(ctx, "/keys/%s/rotationpolicy", cli_enc(ctx, kv.name)), NULL, &out);
    return cli_kv_policy_emit(ctx, rc, out);
}

static int cli_kv_policy_update(struct cli_ctx *ctx)
{
    struct cli_kv kv;
    json_t *body = cli_json_arg(ctx, "value", cli_arg(ctx, "value")), *out = NULL;
    int rc;

    if (body == NULL)
        return CLI_EXIT_USAGE;
    rc = cli_kv_open(ctx, &kv, 1);
    if (rc == CLI_EXIT_OK) {
        rc = cli_kv_ok(ctx, &kv, "PUT", cli_fmt(ctx, "/keys/%s/rotationpolicy", cli_enc(ctx, kv.name)), body, &out);
        rc = cli_kv_policy_emit(ctx, rc, out);
    }
    json_decref(body);
    return rc;
}

/*
 * encrypt, decrypt, wrapkey and unwrapkey: --value (base64, or text with --data-type plaintext for
 * encrypt) goes out as base64url; the result prints as base64 (or text with --data-type plaintext
 * for decrypt), as az does.
 */
static int cli_kv_crypto(struct cli_ctx *ctx, const char *op)
{
    const char *value = cli_arg(ctx, "value"), *dtype = cli_arg(ctx, "data-type");
    int plain = dtype != NULL && strcasecmp(dtype, "plaintext") == 0;
    struct cli_kv kv;
    uint8_t *in = NULL, *res = NULL;
    size_t inlen = 0, reslen = 0;
    char *in64 = NULL, *res64 = NULL;
    json_t *body = NULL, *out = NULL, *shown = NULL;
    int rc = CLI_EXIT_USAGE;

    if (dtype != NULL && !plain && strcasecmp(dtype, "base64") != 0) {
        cli_err("argument --data-type: invalid choice: '%s' (choose from 'base64', 'plaintext')", dtype);
        return CLI_EXIT_USAGE;
    }
    if (plain && strcmp(op, "encrypt") == 0) {
        inlen = strlen(value);
        in = (uint8_t *)ck_strndup(value, inlen);
    } else if (ck_b64_decode(value, strlen(value), &in, &inlen) != 0 &&
               ck_b64url_decode(value, strlen(value), &in, &inlen) != 0) {
        cli_err("argument --value: not valid base64");
        return CLI_EXIT_USAGE;
    }
    if (inlen == 0) {
        cli_err("argument --value: empty");
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    if (in == NULL || (in64 = ck_b64url_encode(in, inlen)) == NULL) {
        cli_err("out of memory");
        rc = CLI_EXIT_ERR;
        goto out;
    }
    rc = cli_kv_open(ctx, &kv, 1);
    if (rc != CLI_EXIT_OK)
        goto out;
    body = json_pack("{s:s, s:s}", "alg", cli_arg(ctx, "algorithm"), "value", in64);
    if (body == NULL) {
        rc = CLI_EXIT_ERR;
        goto out;
    }
    rc = cli_kv_ok(ctx, &kv, "POST", cli_kv_key_path(ctx, &kv, cli_fmt(ctx, "/%s", op)), body, &out);
    if (rc != CLI_EXIT_OK)
        goto out;
    const char *v = ck_json_str(out, "value");
    if (v == NULL || ck_b64url_decode(v, strlen(v), &res, &reslen) != 0) {
        cli_err("the vault answered %s without a base64url \"value\"", op);
        rc = CLI_EXIT_ERR;
        goto out;
    }
    if (plain && strcmp(op, "decrypt") == 0)
        shown = json_stringn((const char *)res, reslen);
    else if ((res64 = ck_b64_encode(res, reslen)) != NULL)
        shown = json_string(res64);
    if (shown == NULL) {
        cli_err(plain ? "the decrypted value is not text; use --data-type base64" : "out of memory");
        rc = CLI_EXIT_ERR;
        goto out;
    }
    json_t *print = json_pack("{s:s, s:s?, s:O}", "algorithm", cli_arg(ctx, "algorithm"), "kid", ck_json_str(out, "kid"),
                              "result", shown);
    rc = cli_kv_print(ctx, print, "{Algorithm:algorithm, Kid:kid, Result:result}");
    cli_json_wipe(print);
    json_decref(print);
out:
    if (in != NULL)
        ck_freezero(in, inlen);
    if (res != NULL)
        ck_freezero(res, reslen);
    if (in64 != NULL)
        ck_freezero(in64, strlen(in64));
    if (res64 != NULL)
        ck_freezero(res64, strlen(res64));
    cli_json_wipe(shown);
    json_decref(shown);
    cli_json_wipe(body);
    json_decref(body);
    cli_json_wipe(out);
    json_decref(out);
    return rc;
}

static int cli_kv_key_encrypt(struct cli_ctx *ctx)
{
    return cli_kv_crypto(ctx, "encrypt");
}

static int cli_kv_key_decrypt(struct cli_ctx *ctx)
{
    return cli_kv_crypto(ctx, "decrypt");
}

static int cli_kv_key_wrap(struct cli_ctx *ctx)
{
    return cli_kv_crypto(ctx, "wrapkey");
}

static int cli_kv_key_unwrap(struct cli_ctx *ctx)
{
    return cli_kv_crypto(ctx, "unwrapkey");
}

#define CLI_FLAG_VAULT {"vault-name", NULL, CLI_VALUE, 0, "Name of the vault (found through ARM)."}
#define CLI_FLAG_VAULT_REQ {"vault-name", NULL, CLI_VALUE, 1, "Name of the vault (found through ARM)."}
#define CLI_FLAG_KEY {"name", "n", CLI_VALUE, 0, "Name of the key."}
#define CLI_FLAG_KEY_REQ {"name", "n", CLI_VALUE, 1, "Name of the key."}
#define CLI_FLAG_ID {"id", NULL, CLI_VALUE, 0, "Key identifier (https://<vault>/keys/<name>[/<version>]), instead of --vault-name and --name."}
#define CLI_FLAG_VERSION {"version", "v", CLI_VALUE, 0, "Key version (default: the latest)."}
#define CLI_FLAG_OPS                                                                                                   \
    {"ops", NULL, CLI_MULTI, 0, "Permitted operations: encrypt decrypt sign verify wrapKey unwrapKey import export."}
#define CLI_FLAG_EXPIRES {"expires", NULL, CLI_VALUE, 0, "Expiry, ISO 8601 (2027-01-31T00:00:00Z)."}
#define CLI_FLAG_NBF {"not-before", NULL, CLI_VALUE, 0, "Not usable before, ISO 8601."}
#define CLI_FLAG_TAGS {"tags", NULL, CLI_MULTI, 0, "Space-separated tags: key[=value]."}
#define CLI_FLAG_ALG(what) {"algorithm", "a", CLI_VALUE, 1, what}
#define CLI_FLAG_VALUE(what) {"value", NULL, CLI_VALUE, 1, what}
#define CLI_FLAGS_ONE_KEY CLI_FLAG_VAULT, CLI_FLAG_KEY, CLI_FLAG_ID

const struct cli_cmd cli_keyvault_key_cmds[] = {
    {"keyvault key create",
     "Create a key, or a new version of it (RSA 2048 by default).",
     cli_kv_key_create,
     {CLI_FLAG_VAULT_REQ,
      CLI_FLAG_KEY_REQ,
      {"kty", NULL, CLI_VALUE, 0, "Key type: RSA, EC (RSA-HSM and EC-HSM are refused: no HSM backend)."},
      {"size", NULL, CLI_VALUE, 0, "RSA key size: 2048, 3072 or 4096."},
      {"curve", NULL, CLI_VALUE, 0, "EC curve: P-256, P-384 or P-521."},
      CLI_FLAG_OPS,
      {"disabled", NULL, CLI_VALUE, 0, "true: create the key disabled."},
      CLI_FLAG_EXPIRES,
      CLI_FLAG_NBF,
      CLI_FLAG_TAGS},
     "crosskey keyvault key create --vault-name kv1 --name cmk --kty RSA --size 3072 --query key.kid -o tsv"},
    {"keyvault key show", "Show a key (the latest version unless --version).", cli_kv_key_show,
     {CLI_FLAGS_ONE_KEY, CLI_FLAG_VERSION}, "crosskey keyvault key show --vault-name kv1 --name cmk --query key.kid"},
    {"keyvault key list", "List the keys of a vault.", cli_kv_key_list, {CLI_FLAG_VAULT_REQ},
     "crosskey keyvault key list --vault-name kv1 -o table"},
    {"keyvault key list-versions", "List the versions of a key, oldest first.", cli_kv_key_list_versions,
     {CLI_FLAGS_ONE_KEY}, "crosskey keyvault key list-versions --vault-name kv1 --name cmk --query [-1].kid -o tsv"},
    {"keyvault key set-attributes",
     "Update a key's attributes, operations or tags.",
     cli_kv_key_set_attributes,
     {CLI_FLAGS_ONE_KEY, CLI_FLAG_VERSION, {"enabled", NULL, CLI_VALUE, 0, "true|false: enable or disable the key."},
      CLI_FLAG_EXPIRES, CLI_FLAG_NBF, CLI_FLAG_OPS, CLI_FLAG_TAGS},
     "crosskey keyvault key set-attributes --vault-name kv1 --name cmk --enabled false"},
    {"keyvault key rotate", "Create a new version of a key with the same type and size.", cli_kv_key_rotate,
     {CLI_FLAGS_ONE_KEY}, NULL},
    {"keyvault key delete", "Delete a key (soft delete: it can be recovered until purged).", cli_kv_key_delete,
     {CLI_FLAGS_ONE_KEY}, NULL},
    {"keyvault key recover", "Recover a deleted key.", cli_kv_key_recover, {CLI_FLAGS_ONE_KEY}, NULL},
    {"keyvault key purge", "Purge a deleted key for good (refused under purge protection).", cli_kv_key_purge,
     {CLI_FLAGS_ONE_KEY}, NULL},
    {"keyvault key show-deleted", "Show a deleted key.", cli_kv_key_show_deleted, {CLI_FLAGS_ONE_KEY}, NULL},
    {"keyvault key list-deleted", "List the deleted keys of a vault.", cli_kv_key_list_deleted, {CLI_FLAG_VAULT_REQ},
     NULL},
    {"keyvault key import",
     "Import a private key from a JWK file (--pem-file is not supported yet: convert the key to a JWK).",
     cli_kv_key_import,
     {CLI_FLAG_VAULT_REQ,
      CLI_FLAG_KEY_REQ,
      {"jwk-file", NULL, CLI_VALUE, 0, "File with a JWK including its private parts (RSA n,e,d,p,q,dp,dq,qi; EC crv,x,y,d)."},
      {"pem-file", NULL, CLI_VALUE, 0, "Not supported yet: the CLI does not parse PEM. Use --jwk-file."},
      CLI_FLAG_OPS,
      {"disabled", NULL, CLI_VALUE, 0, "true: import the key disabled."},
      CLI_FLAG_EXPIRES,
      CLI_FLAG_NBF,
      CLI_FLAG_TAGS},
     "crosskey keyvault key import --vault-name kv1 --name byok --jwk-file key.jwk.json"},
    {"keyvault key backup", "Write a protected backup of every version of a key to a file (mode 0600).",
     cli_kv_key_backup, {CLI_FLAGS_ONE_KEY, {"file", "f", CLI_VALUE, 1, "File to create."}}, NULL},
    {"keyvault key restore", "Restore a key from a backup file.", cli_kv_key_restore,
     {CLI_FLAG_VAULT_REQ, {"file", "f", CLI_VALUE, 1, "Backup file."}}, NULL},
    {"keyvault key rotation-policy show", "Show a key's rotation policy.", cli_kv_policy_show, {CLI_FLAGS_ONE_KEY},
     NULL},
    {"keyvault key rotation-policy update",
     "Set a key's rotation policy.",
     cli_kv_policy_update,
     {CLI_FLAGS_ONE_KEY,
      {"value", NULL, CLI_VALUE, 1,
       "The policy: JSON or @file ({\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P90D\"},\"action\":"
       "{\"type\":\"Rotate\"}}],\"attributes\":{\"expiryTime\":\"P2Y\"}})."}},
     "crosskey keyvault key rotation-policy update --vault-name kv1 --name cmk --value @policy.json"},
    {"keyvault key encrypt",
     "Encrypt a value with a key (on the service).",
     cli_kv_key_encrypt,
     {CLI_FLAGS_ONE_KEY, CLI_FLAG_VERSION, CLI_FLAG_ALG("RSA-OAEP, RSA-OAEP-256 or RSA1_5."),
      CLI_FLAG_VALUE("The value, base64 (or text with --data-type plaintext)."),
      {"data-type", NULL, CLI_VALUE, 0, "base64 (default) or plaintext."}},
     "crosskey keyvault key encrypt --vault-name kv1 -n cmk -a RSA-OAEP-256 --value aGVsbG8="},
    {"keyvault key decrypt",
     "Decrypt a value with a key.",
     cli_kv_key_decrypt,
     {CLI_FLAGS_ONE_KEY, CLI_FLAG_VERSION, CLI_FLAG_ALG("RSA-OAEP, RSA-OAEP-256 or RSA1_5."),
      CLI_FLAG_VALUE("The ciphertext, base64."),
      {"data-type", NULL, CLI_VALUE, 0, "base64 (default) or plaintext: how to print the result."}},
     NULL},
    {"keyvault key wrap", "Wrap a symmetric key with a key.", cli_kv_key_wrap,
     {CLI_FLAGS_ONE_KEY, CLI_FLAG_VERSION, CLI_FLAG_ALG("RSA-OAEP, RSA-OAEP-256 or RSA1_5."),
      CLI_FLAG_VALUE("The key to wrap, base64.")},
     NULL},
    {"keyvault key unwrap", "Unwrap a wrapped key (prints the key material).", cli_kv_key_unwrap,
     {CLI_FLAGS_ONE_KEY, CLI_FLAG_VERSION, CLI_FLAG_ALG("RSA-OAEP, RSA-OAEP-256 or RSA1_5."),
      CLI_FLAG_VALUE("The wrapped key, base64.")},
     NULL},
    {NULL, NULL, NULL, {{NULL, NULL, 0, 0, NULL}}, NULL},
};
