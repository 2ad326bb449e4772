/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The saved sign-in of `crosskey`, like az's ~/.azure: profile.json holds the subscriptions each
 * signed-in service principal sees (one marked default) and the principal's credential and
 * endpoints; tokens.json caches access tokens with their expiry. Both live in
 * $CROSSKEY_CONFIG_DIR or ~/.crosskey/, files 0600 in a 0700 directory. Also reads a daemon's
 * DIR/endpoints.json, and gets access tokens for the current account.
 */
#include "cli/cli_int.h"
#include "core/fsutil.h"
#include "core/timeutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Tokens are renewed this many seconds before they expire. */
#define CLI_TOKEN_SLACK 300

struct cli_account {
    const char *sub_id; /* NULL for a tenant-level account */
    const char *sub_name;
    const char *tenant;
    const char *client_id;
    const char *secret; /* arena: wiped at exit */
    struct cli_endpoints ep;
};

char *cli_config_path(struct cli_ctx *ctx, const char *name, int mk)
{
    const char *dir = getenv("CROSSKEY_CONFIG_DIR");
    char *d;

    if (dir != NULL && dir[0] != '\0') {
        d = cli_fmt(ctx, "%s", dir);
    } else {
        const char *home = getenv("HOME");
        d = cli_fmt(ctx, "%s/.crosskey", home != NULL && home[0] != '\0' ? home : ".");
    }
    if (mk) {
        if (ck_mkdirs(d, 0700) != 0 || chmod(d, 0700) != 0) {
            cli_err("cannot create the configuration directory %s: %s", d, strerror(errno));
            return NULL;
        }
    }
    return name != NULL ? cli_fmt(ctx, "%s/%s", d, name) : d;
}

/* Reads a JSON object file; *out is NULL when the file does not exist. Returns 0 or -1 (printed). */
static int cli_read_json_file(const char *path, json_t **out)
{
    char *text = NULL;
    size_t len = 0;
    char why[160];

    *out = NULL;
    if (ck_read_file(path, CLI_FILE_LIMIT, &text, &len) != 0) {
        if (errno == ENOENT)
            return 0;
        cli_err("cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    *out = ck_json_parse_object(text, len, why, sizeof(why));
    ck_freezero(text, len + 1);
    if (*out == NULL) {
        cli_err("%s is not valid JSON: %s", path, why);
        return -1;
    }
    return 0;
}

static int cli_write_json_file(struct cli_ctx *ctx, const char *name, const json_t *doc)
{
    char *path = cli_config_path(ctx, name, 1);
    char *text = NULL;
    int rc = CLI_EXIT_ERR;

    if (path == NULL)
        goto out;
    text = json_dumps(doc, JSON_INDENT(2));
    if (text == NULL) {
        cli_err("out of memory");
        goto out;
    }
    if (ck_write_file_atomic(path, text, strlen(text), 0600) != 0) {
        cli_err("cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    rc = CLI_EXIT_OK;
out:
    if (text != NULL)
        ck_freezero(text, strlen(text));
    return rc;
}

json_t *cli_profile_load(struct cli_ctx *ctx)
{
    char *path = cli_config_path(ctx, "profile.json", 0);
    json_t *doc = NULL;

    if (cli_read_json_file(path, &doc) != 0)
        return NULL;
    if (doc == NULL)
        doc = json_object();
    if (doc != NULL && ck_json_arr(doc, "subscriptions") == NULL)
        json_object_set_new(doc, "subscriptions", json_array());
    if (doc != NULL && ck_json_arr(doc, "servicePrincipals") == NULL)
        json_object_set_new(doc, "servicePrincipals", json_array());
    return doc;
}

int cli_profile_save(struct cli_ctx *ctx, const json_t *profile)
{
    return cli_write_json_file(ctx, "profile.json", profile);
}

void cli_profile_remove(struct cli_ctx *ctx)
{
    const char *names[] = {"profile.json", "tokens.json"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *p = cli_config_path(ctx, names[i], 0);
        if (unlink(p) != 0 && errno != ENOENT)
            cli_warn("cannot remove %s: %s", p, strerror(errno));
    }
}

/* Copies a URL into the arena without a trailing slash. */
static const char *cli_origin(struct cli_ctx *ctx, const char *url)
{
    size_t n;
    if (url == NULL)
        return NULL;
    n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    return ck_arena_strndup(ctx->arena, url, n);
}

int cli_endpoints_from_data(struct cli_ctx *ctx, const char *dir, struct cli_endpoints *ep)
{
    char *path = cli_fmt(ctx, "%s/endpoints.json", dir);
    json_t *doc = NULL;
    int rc = CLI_EXIT_ERR;

    if (access(dir, F_OK) != 0) {
        cli_err("the data directory %s does not exist (--data names the directory crosskeyd runs on)", dir);
        goto out;
    }
    if (cli_read_json_file(path, &doc) != 0)
        goto out;
    if (doc == NULL) {
        cli_err("%s does not exist: is crosskeyd running with --data %s?", path, dir);
        goto out;
    }
    ep->authority = cli_origin(ctx, ck_json_str(doc, "authority"));
    ep->arm = cli_origin(ctx, ck_json_str(doc, "arm"));
    ep->graph = cli_origin(ctx, ck_json_str(doc, "graph"));
    ep->ca_file = ck_json_str(doc, "caFile") ? ck_arena_strdup(ctx->arena, ck_json_str(doc, "caFile")) : NULL;
    if (ep->authority == NULL || ep->arm == NULL) {
        cli_err("%s lacks \"authority\" or \"arm\"", path);
        goto out;
    }
    if (ep->graph == NULL)
        ep->graph = ep->arm;
    rc = CLI_EXIT_OK;
out:
    json_decref(doc);
    return rc;
}

/* Finds the subscription entry --subscription names (id or name), or the default one. */
static json_t *cli_pick_sub(const json_t *subs, const char *want)
{
    size_t i;
    json_t *s;
    json_array_foreach(subs, i, s) {
        const char *id = ck_json_str(s, "id"), *name = ck_json_str(s, "name");
        if (want != NULL) {
            if ((id != NULL && strcasecmp(id, want) == 0) || (name != NULL && strcmp(name, want) == 0))
                return s;
        } else if (ck_json_bool(s, "isDefault", 0)) {
            return s;
        }
    }
    return want == NULL ? json_array_get(subs, 0) : NULL;
}

static const char *cli_dup(struct cli_ctx *ctx, const char *s)
{
    return s != NULL ? ck_arena_strdup(ctx->arena, s) : NULL;
}

int cli_account_get(struct cli_ctx *ctx)
{
    json_t *doc = NULL;
    struct cli_account *a;
    int rc = CLI_EXIT_ERR;
    size_t i;
    json_t *sp, *cred = NULL;

    if (ctx->account != NULL)
        return CLI_EXIT_OK;
    doc = cli_profile_load(ctx);
    if (doc == NULL)
        goto out;
    json_t *subs = ck_json_arr(doc, "subscriptions");
    if (json_array_size(subs) == 0) {
        cli_err("Please run 'crosskey login' to setup account.");
        goto out;
    }
    json_t *sub = cli_pick_sub(subs, ctx->subscription);
    if (sub == NULL) {
        cli_err("Subscription '%s' not found. Check the spelling and casing and try again.", ctx->subscription);
        goto out;
    }
    const char *tenant = ck_json_str(sub, "tenantId");
    const char *client = ck_json_str(ck_json_obj(sub, "user"), "name");
    json_array_foreach(ck_json_arr(doc, "servicePrincipals"), i, sp) {
        const char *c = ck_json_str(sp, "clientId"), *t = ck_json_str(sp, "tenantId");
        if (c != NULL && t != NULL && client != NULL && tenant != NULL && strcmp(c, client) == 0 &&
            strcasecmp(t, tenant) == 0)
            cred = sp;
    }
    if (cred == NULL || ck_json_str(cred, "clientSecret") == NULL) {
        cli_err("no saved credential for %s in tenant %s. Please run 'crosskey login'.", client ? client : "?",
                tenant ? tenant : "?");
        goto out;
    }
    a = ck_arena_alloc(ctx->arena, sizeof(*a));
    if (a == NULL) {
        cli_err("out of memory");
        goto out;
    }
    a->sub_id = ck_json_bool(sub, "tenantLevel", 0) ? NULL : cli_dup(ctx, ck_json_str(sub, "id"));
    a->sub_name = cli_dup(ctx, ck_json_str(sub, "name"));
    a->tenant = cli_dup(ctx, tenant);
    a->client_id = cli_dup(ctx, client);
    a->secret = cli_dup(ctx, ck_json_str(cred, "clientSecret"));
    a->ep.authority = cli_dup(ctx, ck_json_str(cred, "authority"));
    a->ep.arm = cli_dup(ctx, ck_json_str(cred, "arm"));
    a->ep.graph = cli_dup(ctx, ck_json_str(cred, "graph"));
    a->ep.ca_file = cli_dup(ctx, ck_json_str(cred, "caFile"));
    if (a->ep.authority == NULL || a->ep.arm == NULL) {
        cli_err("the saved profile lacks endpoints. Please run 'crosskey login' again.");
        goto out;
    }
    if (a->ep.graph == NULL)
        a->ep.graph = a->ep.arm;
    ctx->account = a;
    rc = CLI_EXIT_OK;
out:
    cli_json_wipe(doc);
    json_decref(doc);
    return rc;
}

const char *cli_account_sub(const struct cli_ctx *ctx)
{
    return ctx->account ? ctx->account->sub_id : NULL;
}

const char *cli_account_tenant(const struct cli_ctx *ctx)
{
    return ctx->account ? ctx->account->tenant : NULL;
}

const struct cli_endpoints *cli_account_endpoints(const struct cli_ctx *ctx)
{
    return ctx->account ? &ctx->account->ep : NULL;
}

const char *cli_require_sub(struct cli_ctx *ctx)
{
    if (cli_account_get(ctx) != CLI_EXIT_OK)
        return NULL;
    if (ctx->account->sub_id == NULL) {
        cli_err("the signed-in account (tenant %s) has no subscription; pass --subscription or ask the "
                "operator for one",
                ctx->account->tenant);
        return NULL;
    }
    return ctx->account->sub_id;
}

/* ---- token cache ---- */

static char *cli_token_key(struct cli_ctx *ctx, const char *scope)
{
    const struct cli_account *a = ctx->account;
    return cli_fmt(ctx, "%s|%s|%s|%s", a->ep.authority, a->tenant, a->client_id, scope);
}

static const char *cli_token_cached(struct cli_ctx *ctx, const char *key)
{
    char *path = cli_config_path(ctx, "tokens.json", 0);
    json_t *doc = NULL;
    const char *tok = NULL;

    if (cli_read_json_file(path, &doc) != 0 || doc == NULL)
        return NULL;
    json_t *e = ck_json_obj(doc, key);
    if (e != NULL && ck_json_int(e, "expiresOn", 0) > ck_time_now() + CLI_TOKEN_SLACK)
        tok = cli_dup(ctx, ck_json_str(e, "accessToken"));
    cli_json_wipe(doc);
    json_decref(doc);
    return tok;
}

/* Stores (tok != NULL) or drops entries; expired entries are pruned on the way. Best effort. */
static void cli_token_store(struct cli_ctx *ctx, const char *key, const char *tok, int64_t exp, const char *drop_prefix)
{
    char *path = cli_config_path(ctx, "tokens.json", 0);
    json_t *doc = NULL;
    const char *k;
    json_t *e;
    void *tmp;

    if (cli_read_json_file(path, &doc) != 0)
        return;
    if (doc == NULL && (doc = json_object()) == NULL)
        return;
    json_object_foreach_safe(doc, tmp, k, e) {
        if (ck_json_int(e, "expiresOn", 0) <= ck_time_now() ||
            (drop_prefix != NULL && strncmp(k, drop_prefix, strlen(drop_prefix)) == 0)) {
            cli_json_wipe(e);
            json_object_del(doc, k);
        }
    }
    if (tok != NULL) {
        json_t *n = json_object();
        ck_json_set_str(n, "accessToken", tok);
        json_object_set_new(n, "expiresOn", json_integer(exp));
        json_object_set_new(doc, key, n);
    }
    (void)cli_write_json_file(ctx, "tokens.json", doc);
    cli_json_wipe(doc);
    json_decref(doc);
}

void cli_token_forget(struct cli_ctx *ctx)
{
    if (ctx->account == NULL)
        return;
    const struct cli_account *a = ctx->account;
    cli_token_store(ctx, NULL, NULL, 0, cli_fmt(ctx, "%s|%s|%s|", a->ep.authority, a->tenant, a->client_id));
}

int cli_token(struct cli_ctx *ctx, const char *scope, int fresh, const char **tok)
{
    json_t *resp = NULL;
    int rc;

    rc = cli_account_get(ctx);
    if (rc != CLI_EXIT_OK)
        return rc;
    char *key = cli_token_key(ctx, scope);
    if (!fresh) {
        const char *t = cli_token_cached(ctx, key);
        if (t != NULL) {
            *tok = t;
            return CLI_EXIT_OK;
        }
    }
    const struct cli_account *a = ctx->account;
    rc = cli_token_request(ctx, &a->ep, a->tenant, a->client_id, a->secret, scope, &resp);
    if (rc != CLI_EXIT_OK)
        return rc;
    const char *at = ck_json_str(resp, "access_token");
    int64_t ttl = ck_json_int(resp, "expires_in", 0);
    if (at == NULL) {
        cli_err("the token endpoint answered without an access_token");
        rc = CLI_EXIT_ERR;
        goto out;
    }
    *tok = cli_dup(ctx, at);
    if (ttl > CLI_TOKEN_SLACK)
        cli_token_store(ctx, key, at, ck_time_now() + ttl, NULL);
out:
    cli_json_wipe(resp);
    json_decref(resp);
    return rc;
}

json_t *cli_profile_current(struct cli_ctx *ctx, const json_t *profile)
{
    json_t *s = cli_pick_sub(ck_json_arr(profile, "subscriptions"), ctx->subscription);
    if (s == NULL && ctx->subscription != NULL)
        cli_err("Subscription '%s' not found. Check the spelling and casing and try again.", ctx->subscription);
    else if (s == NULL)
        cli_err("Please run 'crosskey login' to setup account.");
    return s;
}

int cli_account_use(struct cli_ctx *ctx, const struct cli_endpoints *ep, const char *tenant, const char *client_id,
                    const char *secret)
{
    struct cli_account *a = ck_arena_alloc(ctx->arena, sizeof(*a));
    if (a == NULL) {
        cli_err("out of memory");
        return CLI_EXIT_ERR;
    }
    a->tenant = cli_dup(ctx, tenant);
    a->client_id = cli_dup(ctx, client_id);
    a->secret = cli_dup(ctx, secret);
    a->ep = *ep;
    ctx->account = a;
    return CLI_EXIT_OK;
}
