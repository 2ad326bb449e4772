/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sign-in commands: `login --service-principal` validates the credential with a client-credentials
 * token request, lists the subscriptions the principal sees (GET /subscriptions, api 2022-12-01)
 * and saves them with the credential and endpoints in the profile, the first one as default (a
 * tenant-level account when it sees none, as az does). `account show|list|set` and `logout` read
 * and edit that profile.
 */
#include "cli/cli_int.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CLI_API_SUBSCRIPTIONS "2022-12-01"

/* A copy of a profile subscription entry as az prints it (internal keys removed). */
static json_t *cli_account_view(const json_t *sub)
{
    json_t *v = json_deep_copy(sub);
    if (v != NULL)
        json_object_del(v, "tenantLevel");
    return v;
}

/* Removes subscriptions and credentials of client_id (in tenant, or any tenant when NULL). */
static void cli_profile_drop(json_t *profile, const char *client_id, const char *tenant)
{
    json_t *subs = ck_json_arr(profile, "subscriptions"), *sps = ck_json_arr(profile, "servicePrincipals");
    for (size_t i = json_array_size(subs); i-- > 0;) {
        json_t *s = json_array_get(subs, i);
        const char *u = ck_json_str(ck_json_obj(s, "user"), "name"), *t = ck_json_str(s, "tenantId");
        if (u != NULL && strcmp(u, client_id) == 0 && (tenant == NULL || (t != NULL && strcasecmp(t, tenant) == 0)))
            json_array_remove(subs, i);
    }
    for (size_t i = json_array_size(sps); i-- > 0;) {
        json_t *s = json_array_get(sps, i);
        const char *u = ck_json_str(s, "clientId"), *t = ck_json_str(s, "tenantId");
        if (u != NULL && strcmp(u, client_id) == 0 && (tenant == NULL || (t != NULL && strcasecmp(t, tenant) == 0))) {
            cli_json_wipe(s);
            json_array_remove(sps, i);
        }
    }
}

static void cli_set_default(json_t *subs, const json_t *chosen)
{
    size_t i;
    json_t *s;
    json_array_foreach(subs, i, s) json_object_set_new(s, "isDefault", json_boolean(s == chosen));
}

static json_t *cli_sub_entry(const char *id, const char *name, const char *tenant, const char *client, int tenant_level)
{
    json_t *e = json_object(), *user = json_object();
    if (e == NULL || user == NULL) {
        json_decref(e);
        json_decref(user);
        return NULL;
    }
    ck_json_set_str(e, "environmentName", "crosskey");
    ck_json_set_str(e, "homeTenantId", tenant);
    ck_json_set_str(e, "id", id);
    json_object_set_new(e, "isDefault", json_false());
    json_object_set_new(e, "managedByTenants", json_array());
    ck_json_set_str(e, "name", name);
    ck_json_set_str(e, "state", "Enabled");
    ck_json_set_str(e, "tenantId", tenant);
    ck_json_set_str(user, "name", client);
    ck_json_set_str(user, "type", "servicePrincipal");
    json_object_set_new(e, "user", user);
    if (tenant_level)
        json_object_set_new(e, "tenantLevel", json_true());
    return e;
}

static int cli_login(struct cli_ctx *ctx)
{
    struct cli_endpoints ep;
    const char *client = cli_arg(ctx, "username"), *secret = cli_arg(ctx, "password");
    const char *tenant = cli_arg(ctx, "tenant");
    json_t *subs = NULL, *profile = NULL, *printed = NULL, *cred = NULL;
    size_t i;
    json_t *s;
    int rc;

    memset(&ep, 0, sizeof(ep));
    if (!cli_has(ctx, "service-principal")) {
        cli_err("only service-principal sign-in is supported: pass --service-principal -u <clientId> -p <secret> "
                "--tenant <tenantId>");
        return CLI_EXIT_USAGE;
    }
    if (ctx->data_dir != NULL) {
        rc = cli_endpoints_from_data(ctx, ctx->data_dir, &ep);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    if (cli_arg(ctx, "authority") != NULL)
        ep.authority = cli_fmt(ctx, "%s", cli_arg(ctx, "authority"));
    if (cli_arg(ctx, "arm") != NULL)
        ep.arm = cli_fmt(ctx, "%s", cli_arg(ctx, "arm"));
    if (cli_arg(ctx, "graph") != NULL)
        ep.graph = cli_fmt(ctx, "%s", cli_arg(ctx, "graph"));
    if (cli_arg(ctx, "ca-file") != NULL)
        ep.ca_file = cli_fmt(ctx, "%s", cli_arg(ctx, "ca-file"));
    if (ep.authority == NULL || ep.arm == NULL) {
        cli_err("say where crosskeyd is: --data DIR (reads DIR/endpoints.json), or --authority URL --arm URL "
                "[--graph URL] [--ca-file PATH]");
        return CLI_EXIT_USAGE;
    }
    /* Origins are kept without a trailing slash. */
    const char **urls[] = {&ep.authority, &ep.arm, &ep.graph};
    for (size_t k = 0; k < sizeof(urls) / sizeof(urls[0]); k++) {
        if (*urls[k] == NULL)
            continue;
        char *u = cli_fmt(ctx, "%s", *urls[k]);
        size_t n = strlen(u);
        while (n > 0 && u[n - 1] == '/')
            u[--n] = '\0';
        *urls[k] = u;
    }
    if (ep.graph == NULL)
        ep.graph = ep.arm;
    rc = cli_account_use(ctx, &ep, tenant, client, secret);
    if (rc != CLI_EXIT_OK)
        goto out;
    /* A fresh token request with the secret is the validation; never a cached token. */
    const char *tok = NULL;
    rc = cli_token(ctx, "https://management.azure.com/.default", 1, &tok);
    if (rc != CLI_EXIT_OK)
        goto out;
    rc = cli_list(ctx, CLI_API_ARM, "/subscriptions?api-version=" CLI_API_SUBSCRIPTIONS, &subs);
    if (rc != CLI_EXIT_OK)
        goto out;
    rc = CLI_EXIT_ERR;
    profile = cli_profile_load(ctx);
    printed = json_array();
    cred = json_object();
    if (profile == NULL || printed == NULL || cred == NULL)
        goto out;
    cli_profile_drop(profile, client, tenant);
    json_t *psubs = ck_json_arr(profile, "subscriptions");
    json_t *first = NULL;
    json_array_foreach(subs, i, s) {
        const char *t = ck_json_str(s, "tenantId");
        const char *sid = ck_json_str(s, "subscriptionId");
        if (sid == NULL || (t != NULL && strcasecmp(t, tenant) != 0))
            continue;
        json_t *e = cli_sub_entry(sid, ck_json_str(s, "displayName"), tenant, client, 0);
        if (e == NULL)
            goto out;
        json_array_append_new(psubs, e);
        if (first == NULL)
            first = e;
    }
    if (first == NULL) {
        cli_warn("No subscriptions found for %s in tenant %s; signed in at tenant level.", client, tenant);
        first = cli_sub_entry(tenant, "N/A(tenant level account)", tenant, client, 1);
        if (first == NULL)
            goto out;
        json_array_append_new(psubs, first);
    }
    cli_set_default(psubs, first);
    ck_json_set_str(cred, "clientId", client);
    ck_json_set_str(cred, "tenantId", tenant);
    ck_json_set_str(cred, "clientSecret", secret);
    ck_json_set_str(cred, "authority", ep.authority);
    ck_json_set_str(cred, "arm", ep.arm);
    ck_json_set_str(cred, "graph", ep.graph);
    ck_json_set_str(cred, "caFile", ep.ca_file);
    json_array_append(ck_json_arr(profile, "servicePrincipals"), cred);
    rc = cli_profile_save(ctx, profile);
    if (rc != CLI_EXIT_OK)
        goto out;
    json_array_foreach(psubs, i, s) {
        const char *u = ck_json_str(ck_json_obj(s, "user"), "name"), *t = ck_json_str(s, "tenantId");
        if (u != NULL && t != NULL && strcmp(u, client) == 0 && strcasecmp(t, tenant) == 0)
            json_array_append_new(printed, cli_account_view(s));
    }
    rc = cli_print(ctx, printed);
out:
    cli_json_wipe(profile);
    cli_json_wipe(cred);
    json_decref(profile);
    json_decref(cred);
    json_decref(subs);
    json_decref(printed);
    return rc;
}

static int cli_account_show(struct cli_ctx *ctx)
{
    json_t *profile = cli_profile_load(ctx), *v = NULL;
    int rc = CLI_EXIT_ERR;

    if (profile == NULL)
        return rc;
    json_t *cur = cli_profile_current(ctx, profile);
    if (cur != NULL) {
        v = cli_account_view(cur);
        rc = cli_print(ctx, v);
    }
    cli_json_wipe(profile);
    json_decref(profile);
    json_decref(v);
    return rc;
}

static int cli_account_list(struct cli_ctx *ctx)
{
    json_t *profile = cli_profile_load(ctx), *out = json_array();
    size_t i;
    json_t *s;
    int rc = CLI_EXIT_ERR;

    if (profile != NULL && out != NULL) {
        json_array_foreach(ck_json_arr(profile, "subscriptions"), i, s) json_array_append_new(out, cli_account_view(s));
        rc = cli_print(ctx, out);
    }
    cli_json_wipe(profile);
    json_decref(profile);
    json_decref(out);
    return rc;
}

static int cli_account_set(struct cli_ctx *ctx)
{
    json_t *profile;
    int rc = CLI_EXIT_ERR;

    if (cli_arg(ctx, "subscription") != NULL)
        ctx->subscription = cli_arg(ctx, "subscription");
    if (ctx->subscription == NULL)
        return cli_need(ctx, "--subscription/-s");
    profile = cli_profile_load(ctx);
    if (profile == NULL)
        return rc;
    json_t *cur = cli_profile_current(ctx, profile);
    if (cur != NULL) {
        cli_set_default(ck_json_arr(profile, "subscriptions"), cur);
        rc = cli_profile_save(ctx, profile);
    }
    cli_json_wipe(profile);
    json_decref(profile);
    return rc;
}

static int cli_logout(struct cli_ctx *ctx)
{
    json_t *profile = cli_profile_load(ctx);
    const char *user = cli_arg(ctx, "username");
    int rc = CLI_EXIT_ERR;

    if (profile == NULL)
        return rc;
    json_t *subs = ck_json_arr(profile, "subscriptions");
    if (user == NULL) {
        json_t *cur = json_array_size(subs) ? cli_profile_current(ctx, profile) : NULL;
        user = cur != NULL ? cli_fmt(ctx, "%s", ck_json_str(ck_json_obj(cur, "user"), "name")) : NULL;
    }
    if (user == NULL) {
        cli_err("There are no active accounts.");
        goto out;
    }
    size_t before = json_array_size(subs);
    cli_profile_drop(profile, user, NULL);
    if (json_array_size(subs) == before) {
        cli_err("account '%s' was not signed in", user);
        goto out;
    }
    if (json_array_size(subs) == 0) {
        cli_profile_remove(ctx);
        rc = CLI_EXIT_OK;
        goto out;
    }
    int has_default = 0;
    size_t i;
    json_t *s;
    json_array_foreach(subs, i, s) has_default |= ck_json_bool(s, "isDefault", 0);
    if (!has_default)
        cli_set_default(subs, json_array_get(subs, 0));
    rc = cli_profile_save(ctx, profile);
    /* The token cache is only a cache: drop it so no token of the signed-out principal stays. */
    if (rc == CLI_EXIT_OK && unlink(cli_config_path(ctx, "tokens.json", 0)) != 0 && errno != ENOENT)
        cli_warn("cannot remove the token cache: %s", strerror(errno));
out:
    cli_json_wipe(profile);
    json_decref(profile);
    return rc;
}

const struct cli_cmd cli_account_cmds[] = {
    {"login",
     "Sign in with a service principal and save the profile (like az login).",
     cli_login,
     {{"service-principal", NULL, CLI_BOOL, 0, "Sign in as a service principal (the only kind supported)."},
      {"username", "u", CLI_VALUE, 1, "Client (application) id of the service principal."},
      {"password", "p", CLI_VALUE, 1, "Client secret of the service principal."},
      {"tenant", "t", CLI_VALUE, 1, "Tenant id."},
      {"authority", NULL, CLI_VALUE, 0, "Identity origin, e.g. https://localhost:8443 (default: from --data)."},
      {"arm", NULL, CLI_VALUE, 0, "ARM origin (default: from --data)."},
      {"graph", NULL, CLI_VALUE, 0, "Graph origin (default: from --data, else the ARM origin)."},
      {"ca-file", NULL, CLI_VALUE, 0, "CA certificate file to trust (default: caFile from --data)."}},
     "crosskey login --service-principal -u <clientId> -p <secret> --tenant <tenantId> --data /var/lib/crosskey"},
    {"logout",
     "Sign out: remove the account and its saved credential.",
     cli_logout,
     {{"username", NULL, CLI_VALUE, 0, "Client id to sign out (default: the current account)."}},
     NULL},
    {"account show",
     "Show the current (default) subscription, or the one --subscription names.",
     cli_account_show,
     {{NULL, NULL, 0, 0, NULL}},
     NULL},
    {"account list",
     "List the subscriptions of the signed-in accounts.",
     cli_account_list,
     {{NULL, NULL, 0, 0, NULL}},
     "crosskey account list -o table"},
    {"account set",
     "Make a subscription the default.",
     cli_account_set,
     {{"subscription", "s", CLI_VALUE, 0, "[Required] Name or id of the subscription."}},
     "crosskey account set --subscription <id>"},
    {NULL, NULL, NULL, {{NULL, NULL, 0, 0, NULL}}, NULL},
};
