/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resource group commands (ARM Microsoft.Resources, api 2021-04-01): create (PUT, location and
 * tags), show, delete (asks for confirmation unless --yes; waits for a 202 operation unless
 * --no-wait), list and exists.
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>

#define CLI_API_GROUPS "2021-04-01"

static const char *cli_group_path(struct cli_ctx *ctx, const char *sub, const char *name)
{
    return cli_fmt(ctx, "/subscriptions/%s/resourcegroups/%s?api-version=" CLI_API_GROUPS, cli_enc(ctx, sub),
                   cli_enc(ctx, name));
}

/* Parses az's "--tags a=b c" into an object; returns NULL (printed) on a bad tag. */
json_t *cli_tags(struct cli_ctx *ctx)
{
    const char *const *vals;
    int n = cli_args_of(ctx, "tags", &vals);
    json_t *tags = json_object();

    for (int i = 0; tags != NULL && i < n; i++) {
        const char *eq = strchr(vals[i], '=');
        char key[512];
        if (vals[i][0] == '\0' || eq == vals[i]) {
            cli_err("argument --tags: '%s' is not key[=value]", vals[i]);
            json_decref(tags);
            return NULL;
        }
        snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - vals[i]) : (int)strlen(vals[i]), vals[i]);
        json_object_set_new(tags, key, json_string(eq ? eq + 1 : ""));
    }
    return tags;
}

static int cli_group_create(struct cli_ctx *ctx)
{
    const char *sub = cli_require_sub(ctx);
    json_t *body = NULL, *tags;
    int rc;

    if (sub == NULL)
        return CLI_EXIT_ERR;
    if ((tags = cli_tags(ctx)) == NULL)
        return CLI_EXIT_USAGE;
    body = json_pack("{s:s, s:o}", "location", cli_arg(ctx, "location"), "tags", tags);
    if (body == NULL) {
        cli_err("out of memory");
        return CLI_EXIT_ERR;
    }
    rc = cli_run(ctx, CLI_API_ARM, "PUT", cli_group_path(ctx, sub, cli_arg(ctx, "name")), body, 0);
    json_decref(body);
    return rc;
}

static int cli_group_show(struct cli_ctx *ctx)
{
    const char *sub = cli_require_sub(ctx);
    if (sub == NULL)
        return CLI_EXIT_ERR;
    return cli_run(ctx, CLI_API_ARM, "GET", cli_group_path(ctx, sub, cli_arg(ctx, "name")), NULL, 0);
}

static int cli_group_exists(struct cli_ctx *ctx)
{
    const char *sub = cli_require_sub(ctx);
    struct cli_resp resp;
    json_t *out;
    int rc;

    if (sub == NULL)
        return CLI_EXIT_ERR;
    rc = cli_call(ctx, CLI_API_ARM, "GET", cli_group_path(ctx, sub, cli_arg(ctx, "name")), NULL, &resp);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (resp.status == 200 || resp.status == 404) {
        out = json_boolean(resp.status == 200);
        rc = cli_print(ctx, out);
        json_decref(out);
    } else {
        rc = cli_resp_error(&resp);
    }
    cli_resp_cleanup(&resp);
    return rc;
}

static int cli_group_delete(struct cli_ctx *ctx)
{
    const char *sub = cli_require_sub(ctx);
    struct cli_resp resp;
    int rc;

    if (sub == NULL)
        return CLI_EXIT_ERR;
    if (!cli_confirm(ctx))
        return CLI_EXIT_ERR;
    if (cli_has(ctx, "no-wait")) {
        rc = cli_call(ctx, CLI_API_ARM, "DELETE", cli_group_path(ctx, sub, cli_arg(ctx, "name")), NULL, &resp);
        if (rc == CLI_EXIT_OK && (resp.status < 200 || resp.status > 299))
            rc = cli_resp_error(&resp);
        cli_resp_cleanup(&resp);
        return rc;
    }
    return cli_call_ok(ctx, CLI_API_ARM, "DELETE", cli_group_path(ctx, sub, cli_arg(ctx, "name")), NULL, NULL);
}

static int cli_group_list(struct cli_ctx *ctx)
{
    const char *sub = cli_require_sub(ctx);
    if (sub == NULL)
        return CLI_EXIT_ERR;
    return cli_run_list(
        ctx, CLI_API_ARM,
        cli_fmt(ctx, "/subscriptions/%s/resourcegroups?api-version=" CLI_API_GROUPS, cli_enc(ctx, sub)), 0);
}

#define CLI_FLAG_RG_NAME {"name", "n", CLI_VALUE, 1, "Name of the resource group."}

const struct cli_cmd cli_group_cmds[] = {
    {"group create",
     "Create a new resource group (or update its location and tags).",
     cli_group_create,
     {CLI_FLAG_RG_NAME,
      {"location", "l", CLI_VALUE, 1, "Location, e.g. eastus."},
      {"tags", NULL, CLI_MULTI, 0, "Space-separated tags: key[=value]."}},
     "crosskey group create -n rg1 -l eastus"},
    {"group show", "Get a resource group.", cli_group_show, {CLI_FLAG_RG_NAME}, "crosskey group show -n rg1"},
    {"group exists", "Check whether a resource group exists (prints true or false).", cli_group_exists,
     {CLI_FLAG_RG_NAME}, NULL},
    {"group delete",
     "Delete a resource group and every resource in it.",
     cli_group_delete,
     {CLI_FLAG_RG_NAME,
      {"yes", "y", CLI_BOOL, 0, "Do not prompt for confirmation."},
      {"no-wait", NULL, CLI_BOOL, 0, "Do not wait for the long-running operation to finish."}},
     "crosskey group delete -n rg1 --yes"},
    {"group list", "List resource groups.", cli_group_list, {{NULL, NULL, 0, 0, NULL}}, "crosskey group list -o table"},
    {NULL, NULL, NULL, {{NULL, NULL, 0, 0, NULL}}, NULL},
};
