/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User-assigned managed identity commands (ARM Microsoft.ManagedIdentity, api 2024-11-30):
 * create (location defaults to the resource group's, as in az), show, delete and list. Output is
 * flattened as az prints it: principalId, clientId and tenantId at the top level, plus
 * resourceGroup.
 */
#include "cli/cli_int.h"

#include <string.h>

#define CLI_API_MSI "2024-11-30"

static const char *cli_identity_path(struct cli_ctx *ctx, const char *sub)
{
    return cli_fmt(ctx,
                   "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
                   "%s?api-version=" CLI_API_MSI,
                   cli_enc(ctx, sub), cli_enc(ctx, cli_arg(ctx, "resource-group")), cli_enc(ctx, cli_arg(ctx, "name")));
}

static int cli_identity_create(struct cli_ctx *ctx)
{
    const char *sub = cli_require_sub(ctx);
    const char *loc = cli_arg(ctx, "location");
    json_t *body = json_object(), *rg = NULL;
    int rc = CLI_EXIT_ERR;

    if (sub == NULL || body == NULL)
        goto out;
    if (loc == NULL) {
        rc = cli_call_ok(ctx, CLI_API_ARM, "GET",
                         cli_fmt(ctx, "/subscriptions/%s/resourcegroups/%s?api-version=2021-04-01", cli_enc(ctx, sub),
                                 cli_enc(ctx, cli_arg(ctx, "resource-group"))),
                         NULL, &rg);
        if (rc != CLI_EXIT_OK)
            goto out;
        loc = ck_json_str(rg, "location");
    }
    ck_json_set_str(body, "location", loc);
    json_object_set_new(body, "tags", json_object());
    rc = cli_run(ctx, CLI_API_ARM, "PUT", cli_identity_path(ctx, sub), body, 1);
out:
    json_decref(body);
    json_decref(rg);
    return rc;
}

static int cli_identity_show(struct cli_ctx *ctx)
{
    const char *sub = cli_require_sub(ctx);
    if (sub == NULL)
        return CLI_EXIT_ERR;
    return cli_run(ctx, CLI_API_ARM, "GET", cli_identity_path(ctx, sub), NULL, 1);
}

static int cli_identity_delete(struct cli_ctx *ctx)
{
    const char *sub = cli_require_sub(ctx);
    if (sub == NULL)
        return CLI_EXIT_ERR;
    return cli_call_ok(ctx, CLI_API_ARM, "DELETE", cli_identity_path(ctx, sub), NULL, NULL);
}

static int cli_identity_list(struct cli_ctx *ctx)
{
    const char *sub = cli_require_sub(ctx);
    const char *rg = cli_arg(ctx, "resource-group");

    if (sub == NULL)
        return CLI_EXIT_ERR;
    const char *path =
        rg != NULL
            ? cli_fmt(ctx,
                      "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
                      "?api-version=" CLI_API_MSI,
                      cli_enc(ctx, sub), cli_enc(ctx, rg))
            : cli_fmt(ctx,
                      "/subscriptions/%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version=" CLI_API_MSI,
                      cli_enc(ctx, sub));
    return cli_run_list(ctx, CLI_API_ARM, path, 1);
}

#define CLI_FLAG_ID_NAME {"name", "n", CLI_VALUE, 1, "Name of the identity."}
#define CLI_FLAG_ID_RG {"resource-group", "g", CLI_VALUE, 1, "Name of the resource group."}

const struct cli_cmd cli_identity_cmds[] = {
    {"identity create",
     "Create a user-assigned managed identity.",
     cli_identity_create,
     {CLI_FLAG_ID_NAME, CLI_FLAG_ID_RG,
      {"location", "l", CLI_VALUE, 0, "Location (default: the resource group's)."}},
     "crosskey identity create -n uami1 -g rg1 --query principalId -o tsv"},
    {"identity show", "Show a user-assigned managed identity.", cli_identity_show, {CLI_FLAG_ID_NAME, CLI_FLAG_ID_RG},
     NULL},
    {"identity delete", "Delete a user-assigned managed identity.", cli_identity_delete,
     {CLI_FLAG_ID_NAME, CLI_FLAG_ID_RG}, NULL},
    {"identity list",
     "List user-assigned managed identities.",
     cli_identity_list,
     {{"resource-group", "g", CLI_VALUE, 0, "Only those in this resource group."}},
     NULL},
    {NULL, NULL, NULL, {{NULL, NULL, 0, 0, NULL}}, NULL},
};
