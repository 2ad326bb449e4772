/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resource provider and feature registration (ARM): `provider register|unregister|show`
 * (api 2021-04-01; register prints nothing, like az, unless --wait polls until Registered) and
 * `feature register|unregister|show|list` (Microsoft.Features, api 2021-07-01).
 */
#include "cli/cli_int.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#define CLI_API_PROVIDERS "2021-04-01"
#define CLI_API_FEATURES "2021-07-01"
/* --wait polls provider state once a second for at most this long. */
#define CLI_PROVIDER_WAIT_S 120

static const char *cli_provider_path(struct cli_ctx *ctx, const char *sub, const char *action)
{
    return cli_fmt(ctx, "/subscriptions/%s/providers/%s%s?api-version=" CLI_API_PROVIDERS, cli_enc(ctx, sub),
                   cli_enc(ctx, cli_arg(ctx, "namespace")), action);
}

static int cli_provider_action(struct cli_ctx *ctx, const char *action, const char *target)
{
    const char *sub = cli_require_sub(ctx);
    json_t *out = NULL;
    int rc;

    if (sub == NULL)
        return CLI_EXIT_ERR;
    rc = cli_call_ok(ctx, CLI_API_ARM, "POST", cli_provider_path(ctx, sub, action), NULL, &out);
    for (int i = 0; rc == CLI_EXIT_OK && cli_has(ctx, "wait") && i < CLI_PROVIDER_WAIT_S; i++) {
        const char *state = ck_json_str(out, "registrationState");
        if (state != NULL && strcasecmp(state, target) == 0)
            break;
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
        json_decref(out);
        rc = cli_call_ok(ctx, CLI_API_ARM, "GET", cli_provider_path(ctx, sub, ""), NULL, &out);
    }
    if (rc == CLI_EXIT_OK && !cli_has(ctx, "wait")) {
        const char *state = ck_json_str(out, "registrationState");
        if (state == NULL || strcasecmp(state, target) != 0)
            cli_warn("%s is still on-going. You can monitor using 'crosskey provider show -n %s'",
                     strcmp(action, "/register") == 0 ? "Registering" : "Unregistering", cli_arg(ctx, "namespace"));
    }
    json_decref(out);
    return rc;
}

static int cli_provider_register(struct cli_ctx *ctx)
{
    return cli_provider_action(ctx, "/register", "Registered");
}

static int cli_provider_unregister(struct cli_ctx *ctx)
{
    return cli_provider_action(ctx, "/unregister", "Unregistered");
}

static int cli_provider_show(struct cli_ctx *ctx)
{
    const char *sub = cli_require_sub(ctx);
    if (sub == NULL)
        return CLI_EXIT_ERR;
    return cli_run(ctx, CLI_API_ARM, "GET", cli_provider_path(ctx, sub, ""), NULL, 0);
}

/* Runs one feature call: method on ".../features/{name}{action}", printing the result. */
static int cli_feature_call(struct cli_ctx *ctx, const char *method, const char *action)
{
    const char *sub = cli_require_sub(ctx);
    json_t *out = NULL;
    int rc;

    if (sub == NULL)
        return CLI_EXIT_ERR;
    const char *path =
        cli_fmt(ctx, "/subscriptions/%s/providers/Microsoft.Features/providers/%s/features/%s%s?api-version=" CLI_API_FEATURES,
                cli_enc(ctx, sub), cli_enc(ctx, cli_arg(ctx, "namespace")), cli_enc(ctx, cli_arg(ctx, "name")), action);
    rc = cli_call_ok(ctx, CLI_API_ARM, method, path, NULL, &out);
    if (rc == CLI_EXIT_OK) {
        const char *state = ck_json_str(ck_json_obj(out, "properties"), "state");
        if (strcmp(action, "/register") == 0 && state != NULL && strcasecmp(state, "Registered") != 0)
            cli_warn("Once the feature '%s' is registered, invoking 'crosskey provider register -n %s' is required "
                     "to get the change propagated",
                     cli_arg(ctx, "name"), cli_arg(ctx, "namespace"));
        rc = cli_print(ctx, out);
    }
    json_decref(out);
    return rc;
}

static int cli_feature_register(struct cli_ctx *ctx)
{
    return cli_feature_call(ctx, "POST", "/register");
}

static int cli_feature_unregister(struct cli_ctx *ctx)
{
    return cli_feature_call(ctx, "POST", "/unregister");
}

static int cli_feature_show(struct cli_ctx *ctx)
{
    return cli_feature_call(ctx, "GET", "");
}

static int cli_feature_list(struct cli_ctx *ctx)
{
    const char *sub = cli_require_sub(ctx);
    const char *ns = cli_arg(ctx, "namespace");

    if (sub == NULL)
        return CLI_EXIT_ERR;
    const char *path =
        ns != NULL ? cli_fmt(ctx, "/subscriptions/%s/providers/Microsoft.Features/providers/%s/features?api-version=" CLI_API_FEATURES,
                             cli_enc(ctx, sub), cli_enc(ctx, ns))
                   : cli_fmt(ctx, "/subscriptions/%s/providers/Microsoft.Features/features?api-version=" CLI_API_FEATURES,
                             cli_enc(ctx, sub));
    return cli_run_list(ctx, CLI_API_ARM, path, 0);
}

#define CLI_FLAG_NS {"namespace", "n", CLI_VALUE, 1, "Resource provider namespace, e.g. Microsoft.Storage."}
#define CLI_FLAG_FEATURE_NS {"namespace", NULL, CLI_VALUE, 1, "Resource provider namespace, e.g. Microsoft.Storage."}
#define CLI_FLAG_FEATURE {"name", "n", CLI_VALUE, 1, "Feature name, e.g. FederatedClientIdentity."}

const struct cli_cmd cli_provider_cmds[] = {
    {"provider register",
     "Register a resource provider in the subscription.",
     cli_provider_register,
     {CLI_FLAG_NS, {"wait", NULL, CLI_BOOL, 0, "Wait until the provider is Registered."}},
     "crosskey provider register --namespace Microsoft.Storage"},
    {"provider unregister",
     "Unregister a resource provider.",
     cli_provider_unregister,
     {CLI_FLAG_NS, {"wait", NULL, CLI_BOOL, 0, "Wait until the provider is Unregistered."}},
     NULL},
    {"provider show", "Show a resource provider and its registration state.", cli_provider_show, {CLI_FLAG_NS},
     "crosskey provider show --namespace Microsoft.Storage --query registrationState"},
    {"feature register",
     "Register a preview feature.",
     cli_feature_register,
     {CLI_FLAG_FEATURE_NS, CLI_FLAG_FEATURE},
     "crosskey feature register --namespace Microsoft.Storage --name FederatedClientIdentity"},
    {"feature unregister", "Unregister a preview feature.", cli_feature_unregister,
     {CLI_FLAG_FEATURE_NS, CLI_FLAG_FEATURE}, NULL},
    {"feature show",
     "Show a preview feature and its state.",
     cli_feature_show,
     {CLI_FLAG_FEATURE_NS, CLI_FLAG_FEATURE},
     "crosskey feature show --namespace Microsoft.Storage --name FederatedClientIdentity --query properties.state"},
    {"feature list",
     "List preview features.",
     cli_feature_list,
     {{"namespace", NULL, CLI_VALUE, 0, "Only the features of this namespace."}},
     NULL},
    {NULL, NULL, NULL, {{NULL, NULL, 0, 0, NULL}}, NULL},
};
