/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Graph commands (`{graph}/v1.0`): `ad app create|show|list|delete`, `ad app federated-credential
 * create|list|show|delete` and `ad sp create|show|list|delete`. As in az, --id takes an appId or
 * an object id: the appId form (`applications(appId='…')`) is tried first, then the object id.
 * Federated credentials are named by id or by name (resolved through the list).
 */
#include "cli/cli_int.h"
#include "core/codec.h"

#include <string.h>

/*
 * Fetches an application or service principal (coll = "applications" | "servicePrincipals") by
 * appId or object id. Returns CLI_EXIT_OK with *out, or an exit code (printed).
 */
static int cli_ad_get(struct cli_ctx *ctx, const char *coll, const char *id, json_t **out)
{
    struct cli_resp resp;
    int rc;

    *out = NULL;
    if (ck_uuid_valid(id)) {
        rc = cli_call(ctx, CLI_API_GRAPH, "GET", cli_fmt(ctx, "/%s(appId='%s')", coll, id), NULL, &resp);
        if (rc != CLI_EXIT_OK)
            return rc;
        if (resp.status == 200) {
            *out = resp.body;
            resp.body = NULL;
            cli_resp_cleanup(&resp);
            return CLI_EXIT_OK;
        }
        if (resp.status != 404) {
            rc = cli_resp_error(&resp);
            cli_resp_cleanup(&resp);
            return rc;
        }
        cli_resp_cleanup(&resp);
    }
    rc = cli_call(ctx, CLI_API_GRAPH, "GET", cli_fmt(ctx, "/%s/%s", coll, cli_enc(ctx, id)), NULL, &resp);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (resp.status == 200) {
        *out = resp.body;
        resp.body = NULL;
    } else if (resp.status == 404) {
        cli_err("(Request_ResourceNotFound) Resource '%s' does not exist or one of its queried reference-property "
                "objects are not present.",
                id);
        rc = CLI_EXIT_NOTFOUND;
    } else {
        rc = cli_resp_error(&resp);
    }
    cli_resp_cleanup(&resp);
    return rc;
}

/* The object id of the application --id names, in the arena. */
static int cli_app_oid(struct cli_ctx *ctx, const char **oid)
{
    json_t *app = NULL;
    int rc = cli_ad_get(ctx, "applications", cli_arg(ctx, "id"), &app);
    if (rc == CLI_EXIT_OK) {
        const char *id = ck_json_str(app, "id");
        if (id == NULL) {
            cli_err("the application has no id");
            rc = CLI_EXIT_ERR;
        } else {
            *oid = cli_fmt(ctx, "%s", id);
        }
    }
    json_decref(app);
    return rc;
}

static int cli_ad_show(struct cli_ctx *ctx, const char *coll)
{
    json_t *out = NULL;
    int rc = cli_ad_get(ctx, coll, cli_arg(ctx, "id"), &out);
    if (rc == CLI_EXIT_OK)
        rc = cli_print(ctx, out);
    json_decref(out);
    return rc;
}

static int cli_ad_delete(struct cli_ctx *ctx, const char *coll)
{
    json_t *obj = NULL;
    int rc = cli_ad_get(ctx, coll, cli_arg(ctx, "id"), &obj);
    if (rc == CLI_EXIT_OK) {
        const char *oid = ck_json_str(obj, "id");
        rc = oid == NULL ? CLI_EXIT_ERR
                         : cli_call_ok(ctx, CLI_API_GRAPH, "DELETE", cli_fmt(ctx, "/%s/%s", coll, cli_enc(ctx, oid)),
                                       NULL, NULL);
    }
    json_decref(obj);
    return rc;
}

/* Lists a collection, keeping entries whose field equals want (when want is set). */
static int cli_ad_list(struct cli_ctx *ctx, const char *path, const char *field, const char *want)
{
    json_t *all = NULL, *out = json_array();
    size_t i;
    json_t *v;
    int rc = cli_list(ctx, CLI_API_GRAPH, path, &all);

    if (rc == CLI_EXIT_OK && out != NULL) {
        json_array_foreach(all, i, v) {
            const char *f = field ? ck_json_str(v, field) : NULL;
            if (want == NULL || (f != NULL && strcmp(f, want) == 0))
                json_array_append(out, v);
        }
        rc = cli_print(ctx, out);
    }
    json_decref(all);
    json_decref(out);
    return rc;
}

static int cli_app_create(struct cli_ctx *ctx)
{
    json_t *body = json_object();
    int rc;

    ck_json_set_str(body, "displayName", cli_arg(ctx, "display-name"));
    ck_json_set_str(body, "signInAudience",
                    cli_arg(ctx, "sign-in-audience") ? cli_arg(ctx, "sign-in-audience") : "AzureADMyOrg");
    rc = cli_run(ctx, CLI_API_GRAPH, "POST", "/applications", body, 0);
    json_decref(body);
    return rc;
}

static int cli_app_show(struct cli_ctx *ctx)
{
    return cli_ad_show(ctx, "applications");
}

static int cli_app_delete(struct cli_ctx *ctx)
{
    return cli_ad_delete(ctx, "applications");
}

static int cli_app_list(struct cli_ctx *ctx)
{
    if (cli_arg(ctx, "app-id") != NULL)
        return cli_ad_list(ctx, "/applications", "appId", cli_arg(ctx, "app-id"));
    return cli_ad_list(ctx, "/applications", "displayName", cli_arg(ctx, "display-name"));
}

static int cli_fic_create(struct cli_ctx *ctx)
{
    const char *oid = NULL;
    json_t *params = NULL;
    int rc;

    params = cli_json_arg(ctx, "parameters", cli_arg(ctx, "parameters"));
    if (params == NULL)
        return CLI_EXIT_USAGE;
    if (!json_is_object(params)) {
        cli_err("argument --parameters: expected a JSON object with name, issuer, subject, audiences");
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    rc = cli_app_oid(ctx, &oid);
    if (rc != CLI_EXIT_OK)
        goto out;
    rc = cli_run(ctx, CLI_API_GRAPH, "POST", cli_fmt(ctx, "/applications/%s/federatedIdentityCredentials", oid),
                 params, 0);
out:
    json_decref(params);
    return rc;
}

static int cli_fic_list(struct cli_ctx *ctx)
{
    const char *oid = NULL;
    int rc = cli_app_oid(ctx, &oid);
    if (rc != CLI_EXIT_OK)
        return rc;
    return cli_ad_list(ctx, cli_fmt(ctx, "/applications/%s/federatedIdentityCredentials", oid), NULL, NULL);
}

/* Finds the credential --federated-credential-id names (id or name) on the app. */
static int cli_fic_find(struct cli_ctx *ctx, const char **oid, json_t **fic)
{
    json_t *all = NULL;
    const char *want = cli_arg(ctx, "federated-credential-id");
    size_t i;
    json_t *v;
    int rc;

    *fic = NULL;
    rc = cli_app_oid(ctx, oid);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_list(ctx, CLI_API_GRAPH, cli_fmt(ctx, "/applications/%s/federatedIdentityCredentials", *oid), &all);
    if (rc != CLI_EXIT_OK)
        return rc;
    json_array_foreach(all, i, v) {
        const char *id = ck_json_str(v, "id"), *name = ck_json_str(v, "name");
        if ((id != NULL && strcmp(id, want) == 0) || (name != NULL && strcmp(name, want) == 0)) {
            *fic = json_incref(v);
            break;
        }
    }
    json_decref(all);
    if (*fic == NULL) {
        cli_err("(Request_ResourceNotFound) Federated identity credential '%s' was not found on application '%s'.",
                want, cli_arg(ctx, "id"));
        return CLI_EXIT_NOTFOUND;
    }
    return CLI_EXIT_OK;
}

static int cli_fic_show(struct cli_ctx *ctx)
{
    const char *oid = NULL;
    json_t *fic = NULL;
    int rc = cli_fic_find(ctx, &oid, &fic);
    if (rc == CLI_EXIT_OK)
        rc = cli_print(ctx, fic);
    json_decref(fic);
    return rc;
}

static int cli_fic_delete(struct cli_ctx *ctx)
{
    const char *oid = NULL;
    json_t *fic = NULL;
    int rc = cli_fic_find(ctx, &oid, &fic);
    if (rc == CLI_EXIT_OK) {
        const char *id = ck_json_str(fic, "id");
        rc = id == NULL ? CLI_EXIT_ERR
                        : cli_call_ok(ctx, CLI_API_GRAPH, "DELETE",
                                      cli_fmt(ctx, "/applications/%s/federatedIdentityCredentials/%s", oid,
                                              cli_enc(ctx, id)),
                                      NULL, NULL);
    }
    json_decref(fic);
    return rc;
}

static int cli_sp_create(struct cli_ctx *ctx)
{
    json_t *body = json_object();
    int rc;

    ck_json_set_str(body, "appId", cli_arg(ctx, "id"));
    rc = cli_run(ctx, CLI_API_GRAPH, "POST", "/servicePrincipals", body, 0);
    json_decref(body);
    return rc;
}

static int cli_sp_show(struct cli_ctx *ctx)
{
    return cli_ad_show(ctx, "servicePrincipals");
}

static int cli_sp_delete(struct cli_ctx *ctx)
{
    return cli_ad_delete(ctx, "servicePrincipals");
}

static int cli_sp_list(struct cli_ctx *ctx)
{
    return cli_ad_list(ctx, "/servicePrincipals", "displayName", cli_arg(ctx, "display-name"));
}

#define CLI_FLAG_APP_ID {"id", NULL, CLI_VALUE, 1, "Application id (appId) or object id of the application."}
#define CLI_FLAG_FIC_ID \
    {"federated-credential-id", NULL, CLI_VALUE, 1, "Id or name of the federated identity credential."}

const struct cli_cmd cli_ad_cmds[] = {
    {"ad app create",
     "Create an application.",
     cli_app_create,
     {{"display-name", NULL, CLI_VALUE, 1, "Display name of the application."},
      {"sign-in-audience", NULL, CLI_VALUE, 0,
       "Who may sign in: AzureADMyOrg (default, single tenant) or AzureADMultipleOrgs (multi-tenant)."}},
     "crosskey ad app create --display-name isv-cmk-app --sign-in-audience AzureADMultipleOrgs --query appId -o tsv"},
    {"ad app show", "Get an application.", cli_app_show, {CLI_FLAG_APP_ID}, "crosskey ad app show --id <appId>"},
    {"ad app delete", "Delete an application.", cli_app_delete, {CLI_FLAG_APP_ID}, NULL},
    {"ad app list",
     "List applications.",
     cli_app_list,
     {{"display-name", NULL, CLI_VALUE, 0, "Only applications with this display name."},
      {"app-id", NULL, CLI_VALUE, 0, "Only the application with this appId."}},
     NULL},
    {"ad app federated-credential create",
     "Create a federated identity credential on an application.",
     cli_fic_create,
     {CLI_FLAG_APP_ID,
      {"parameters", NULL, CLI_VALUE, 1,
       "JSON, @file or a file name: {\"name\",\"issuer\",\"subject\",\"audiences\":[...],\"description\"}."}},
     "crosskey ad app federated-credential create --id <appObjectId> --parameters credential.json"},
    {"ad app federated-credential list", "List the federated identity credentials of an application.", cli_fic_list,
     {CLI_FLAG_APP_ID}, NULL},
    {"ad app federated-credential show", "Show a federated identity credential.", cli_fic_show,
     {CLI_FLAG_APP_ID, CLI_FLAG_FIC_ID}, NULL},
    {"ad app federated-credential delete", "Delete a federated identity credential.", cli_fic_delete,
     {CLI_FLAG_APP_ID, CLI_FLAG_FIC_ID}, NULL},
    {"ad sp create",
     "Create a service principal for an application in the signed-in tenant.",
     cli_sp_create,
     {{"id", NULL, CLI_VALUE, 1, "Application id (appId)."}},
     "crosskey ad sp create --id <appId>"},
    {"ad sp show",
     "Get a service principal.",
     cli_sp_show,
     {{"id", NULL, CLI_VALUE, 1, "Application id (appId) or object id of the service principal."}},
     "crosskey ad sp show --id <appId> --query id -o tsv"},
    {"ad sp delete", "Delete a service principal.", cli_sp_delete,
     {{"id", NULL, CLI_VALUE, 1, "Application id (appId) or object id of the service principal."}}, NULL},
    {"ad sp list", "List service principals.", cli_sp_list,
     {{"display-name", NULL, CLI_VALUE, 0, "Only service principals with this display name."}}, NULL},
    {NULL, NULL, NULL, {{NULL, NULL, 0, 0, NULL}}, NULL},
};
