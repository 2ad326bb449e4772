/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Operator bootstrap commands (docs/internal-api.md, "Operator API"): `tenant create` makes a
 * tenant with its admin application and a subscription owned by the admin's service principal;
 * `tenant list` joins tenants with their subscriptions; `workload create` lets a workload on this
 * host ask the managed-identity endpoint for the given identities. They need --data DIR and the
 * operator credential DIR/secrets/operator.key.
 */
#include "cli/cli_int.h"

#include <string.h>
#include <strings.h>

static int cli_tenant_create(struct cli_ctx *ctx)
{
    json_t *req = json_object(), *ten = NULL, *sub = NULL, *subreq = json_object(), *out = json_object();
    int rc = CLI_EXIT_ERR;

    if (req == NULL || subreq == NULL || out == NULL)
        goto out;
    ck_json_set_str(req, "displayName", cli_arg(ctx, "display-name"));
    rc = cli_call_ok(ctx, CLI_API_OP_IDENTITY, "POST", "/operator/identity/tenants", req, &ten);
    if (rc != CLI_EXIT_OK)
        goto out;
    const char *tid = ck_json_str(ten, "tenantId"), *spid = ck_json_str(ten, "servicePrincipalId");
    if (tid == NULL || spid == NULL || ck_json_str(ten, "clientId") == NULL ||
        ck_json_str(ten, "clientSecret") == NULL) {
        cli_err("the identity service answered without tenantId, clientId, clientSecret or servicePrincipalId");
        rc = CLI_EXIT_ERR;
        goto out;
    }
    ck_json_set_str(subreq, "tenantId", tid);
    ck_json_set_str(subreq, "displayName", cli_arg(ctx, "display-name"));
    ck_json_set_str(subreq, "ownerPrincipalId", spid);
    rc = cli_call_ok(ctx, CLI_API_OP_ARM, "POST", "/operator/arm/subscriptions", subreq, &sub);
    if (rc != CLI_EXIT_OK) {
        cli_err("tenant %s was created, but its subscription was not", tid);
        goto out;
    }
    ck_json_set_str(out, "tenantId", tid);
    ck_json_set_str(out, "subscriptionId", ck_json_str(sub, "subscriptionId"));
    ck_json_set_str(out, "clientId", ck_json_str(ten, "clientId"));
    /* The one place a secret is printed: the operator hands it to the tenant's admin. */
    ck_json_set_str(out, "clientSecret", ck_json_str(ten, "clientSecret"));
    rc = cli_print(ctx, out);
out:
    if (rc == CLI_EXIT_ERR && (req == NULL || subreq == NULL || out == NULL))
        cli_err("out of memory");
    cli_json_wipe(ten);
    cli_json_wipe(out);
    json_decref(req);
    json_decref(subreq);
    json_decref(ten);
    json_decref(sub);
    json_decref(out);
    return rc;
}

static int cli_tenant_list(struct cli_ctx *ctx)
{
    json_t *tens = NULL, *subs = NULL, *out = json_array();
    size_t i, j;
    json_t *t, *s;
    int rc;

    rc = cli_list(ctx, CLI_API_OP_IDENTITY, "/operator/identity/tenants", &tens);
    if (rc == CLI_EXIT_OK)
        rc = cli_list(ctx, CLI_API_OP_ARM, "/operator/arm/subscriptions", &subs);
    if (rc != CLI_EXIT_OK || out == NULL)
        goto out;
    json_array_foreach(tens, i, t) {
        json_t *row = json_object(), *ids = json_array();
        const char *tid = ck_json_str(t, "tenantId");
        ck_json_set_str(row, "tenantId", tid);
        ck_json_set_str(row, "displayName", ck_json_str(t, "displayName"));
        ck_json_set_str(row, "createdAt", ck_json_str(t, "createdAt"));
        ck_json_set_str(row, "subscriptionId", NULL);
        json_array_foreach(subs, j, s) {
            const char *st = ck_json_str(s, "tenantId");
            if (tid == NULL || st == NULL || strcasecmp(st, tid) != 0)
                continue;
            if (json_array_size(ids) == 0)
                ck_json_set_str(row, "subscriptionId", ck_json_str(s, "subscriptionId"));
            json_array_append_new(ids, json_string(ck_json_str(s, "subscriptionId")));
        }
        json_object_set_new(row, "subscriptions", ids);
        json_array_append_new(out, row);
    }
    rc = cli_print(ctx, out);
out:
    json_decref(tens);
    json_decref(subs);
    json_decref(out);
    return rc;
}

static int cli_workload_create(struct cli_ctx *ctx)
{
    const char *const *ids;
    int n = cli_args_of(ctx, "identity", &ids);
    json_t *req = json_object(), *arr = json_array(), *resp = NULL, *out = json_object();
    int rc = CLI_EXIT_ERR;

    if (req == NULL || arr == NULL || out == NULL) {
        cli_err("out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        if (strncasecmp(ids[i], "/subscriptions/", 15) != 0) {
            cli_err("argument --identity: '%s' is not an ARM resource id "
                    "(/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.ManagedIdentity/"
                    "userAssignedIdentities/{name})",
                    ids[i]);
            rc = CLI_EXIT_USAGE;
            goto out;
        }
        json_array_append_new(arr, json_string(ids[i]));
    }
    json_object_set(req, "identities", arr);
    rc = cli_call_ok(ctx, CLI_API_OP_IDENTITY, "POST", "/operator/identity/workloads", req, &resp);
    if (rc != CLI_EXIT_OK)
        goto out;
    ck_json_set_str(out, "identityEndpoint", ck_json_str(resp, "identityEndpoint"));
    ck_json_set_str(out, "identityHeader", ck_json_str(resp, "identityHeader"));
    rc = cli_print(ctx, out);
out:
    cli_json_wipe(resp);
    cli_json_wipe(out);
    json_decref(req);
    json_decref(arr);
    json_decref(resp);
    json_decref(out);
    return rc;
}

const struct cli_cmd cli_tenant_cmds[] = {
    {"tenant create",
     "Create a tenant with an admin application (client secret) and a subscription it owns.",
     cli_tenant_create,
     {{"display-name", NULL, CLI_VALUE, 1, "Display name of the tenant and its subscription."}},
     "crosskey --data /var/lib/crosskey tenant create --display-name isv"},
    {"tenant list",
     "List tenants with their subscriptions.",
     cli_tenant_list,
     {{NULL, NULL, 0, 0, NULL}},
     "crosskey --data /var/lib/crosskey tenant list -o table"},
    {"workload create",
     "Let a workload on this host get tokens for user-assigned identities from the managed-identity endpoint.",
     cli_workload_create,
     {{"identity", NULL, CLI_MULTI, 1,
       "ARM resource id of a user-assigned identity. Repeatable, or several values separated by spaces."}},
     "crosskey --data /var/lib/crosskey workload create --identity /subscriptions/<s>/resourceGroups/<g>/"
     "providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>"},
    {NULL, NULL, NULL, {{NULL, NULL, 0, 0, NULL}}, NULL},
};
