/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key vault management commands (ARM Microsoft.KeyVault/vaults, api 2026-02-01): create (PUT with
 * the signed-in tenant, sku standard, soft delete always on, az's purge-protection, RBAC and
 * retention flags), show, list, update (PATCH) and delete; a vault named without -g is found by
 * listing the subscription's vaults, as az does. Also `keyvault audit list|verify`, which read the
 * vault's hash-chained audit log through ARM (auditRecords, verifyAudit). Vaults print as az prints
 * them: the ARM resource with resourceGroup added and properties left nested
 * (`--query properties.vaultUri`).
 */
#include "cli/cli_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CLI_API_KV_ARM "2026-02-01"
#define CLI_KV_RETENTION_MIN 7
#define CLI_KV_RETENTION_MAX 90

int cli_kv_print(struct cli_ctx *ctx, const json_t *v, const char *table_expr)
{
    json_t *rows = NULL;
    int rc;

    if (v != NULL && ctx->output == CLI_OUT_TABLE && ctx->query == NULL && table_expr != NULL) {
        rows = cli_query(v, table_expr);
        if (rows != NULL)
            v = rows;
    }
    rc = cli_print(ctx, v);
    json_decref(rows);
    return rc;
}

int cli_kv_bool(struct cli_ctx *ctx, const char *flag)
{
    const char *v = cli_arg(ctx, flag);
    if (v == NULL)
        return -1;
    if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0)
        return 1;
    if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0)
        return 0;
    cli_err("argument --%s: invalid choice: '%s' (choose from 'false', 'true')", flag, v);
    return -2;
}

/* The ARM path of a vault (without api-version). */
static const char *cli_kv_vault_path(struct cli_ctx *ctx, const char *sub, const char *rg, const char *name)
{
    return cli_fmt(ctx, "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/%s", cli_enc(ctx, sub),
                   cli_enc(ctx, rg), cli_enc(ctx, name));
}

/* The list path of the vaults of a group, or of the subscription when rg is NULL. */
static const char *cli_kv_list_path(struct cli_ctx *ctx, const char *sub, const char *rg)
{
    if (rg != NULL)
        return cli_fmt(ctx,
                       "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults?api-version=" CLI_API_KV_ARM,
                       cli_enc(ctx, sub), cli_enc(ctx, rg));
    return cli_fmt(ctx, "/subscriptions/%s/providers/Microsoft.KeyVault/vaults?api-version=" CLI_API_KV_ARM,
                   cli_enc(ctx, sub));
}

int cli_kv_vault_get(struct cli_ctx *ctx, const char *name, const char *rg, json_t **vault)
{
    const char *sub = cli_require_sub(ctx);
    *vault = NULL;
    if (sub == NULL)
        return CLI_EXIT_ERR;
    return cli_arm_find(ctx,
                        rg ? cli_fmt(ctx, "%s?api-version=" CLI_API_KV_ARM, cli_kv_vault_path(ctx, sub, rg, name)) : NULL,
                        cli_kv_list_path(ctx, sub, NULL), name, "Vault", vault);
}

/* Reads --retention-days into *days (0 when absent). Returns CLI_EXIT_OK or CLI_EXIT_USAGE. */
static int cli_kv_retention(struct cli_ctx *ctx, long *days)
{
    const char *v = cli_arg(ctx, "retention-days");
    char *end = NULL;

    *days = 0;
    if (v == NULL)
        return CLI_EXIT_OK;
    errno = 0;
    *days = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || *days < CLI_KV_RETENTION_MIN || *days > CLI_KV_RETENTION_MAX) {
        cli_err("argument --retention-days: must be a whole number of days from %d to %d, got '%s'",
                CLI_KV_RETENTION_MIN, CLI_KV_RETENTION_MAX, v);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* Prints one vault (or a list of them) as az does: resourceGroup added, properties nested. */
static int cli_kv_emit(struct cli_ctx *ctx, json_t *v, const char *table_expr)
{
    size_t i;
    json_t *e;
    if (json_is_array(v)) {
        json_array_foreach(v, i, e) cli_flatten(e, 0);
    } else {
        cli_flatten(v, 0);
    }
    return cli_kv_print(ctx, v, table_expr);
}

#define CLI_KV_TABLE_ONE "{Location:location, Name:name, ResourceGroup:resourceGroup, VaultUri:properties.vaultUri}"
#define CLI_KV_TABLE_LIST "[].{Location:location, Name:name, ResourceGroup:resourceGroup}"

static int cli_kv_create(struct cli_ctx *ctx)
{
    const char *sub = NULL;
    const char *loc = cli_arg(ctx, "location"), *sku = cli_arg(ctx, "sku");
    const char *rg = cli_arg(ctx, "resource-group");
    int purge = cli_kv_bool(ctx, "enable-purge-protection"), rbac = cli_kv_bool(ctx, "enable-rbac-authorization");
    json_t *body = NULL, *props = NULL, *group = NULL, *out = NULL, *tags = NULL;
    long days = 0;
    int rc = CLI_EXIT_USAGE;

    if (purge == -2 || rbac == -2 || cli_kv_retention(ctx, &days) != CLI_EXIT_OK)
        goto out;
    if (purge == 0) {
        cli_err("argument --enable-purge-protection: purge protection can only be enabled; leave the flag out instead");
        goto out;
    }
    if (sku != NULL && strcasecmp(sku, "standard") != 0) {
        cli_err("argument --sku: invalid choice: '%s' (choose from 'standard'; premium needs an HSM backend, which "
                "crosskeyd does not have)",
                sku);
        goto out;
    }
    if ((tags = cli_tags(ctx)) == NULL)
        goto out;
    rc = CLI_EXIT_ERR;
    if ((sub = cli_require_sub(ctx)) == NULL)
        goto out;
    if (loc == NULL) {
        /* az takes the group's location. */
        rc = cli_call_ok(ctx, CLI_API_ARM, "GET",
                         cli_fmt(ctx, "/subscriptions/%s/resourcegroups/%s?api-version=2021-04-01", cli_enc(ctx, sub),
                                 cli_enc(ctx, rg)),
                         NULL, &group);
        if (rc != CLI_EXIT_OK)
            goto out;
        loc = ck_json_str(group, "location");
        rc = CLI_EXIT_ERR;
    }
    props = json_pack("{s:s, s:{s:s, s:s}, s:b, s:I, s:b, s:[]}", "tenantId", cli_account_tenant(ctx), "sku", "family",
                      "A", "name", "standard", "enableSoftDelete", 1, "softDeleteRetentionInDays",
                      (json_int_t)(days ? days : CLI_KV_RETENTION_MAX), "enableRbacAuthorization", rbac != 0,
                      "accessPolicies");
    if (props != NULL && purge == 1)
        json_object_set_new(props, "enablePurgeProtection", json_true());
    body = props != NULL ? json_pack("{s:s, s:O, s:O}", "location", loc ? loc : "", "properties", props, "tags", tags)
                         : NULL;
    if (body == NULL) {
        cli_err("out of memory");
        goto out;
    }
    rc = cli_call_ok(ctx, CLI_API_ARM, "PUT",
                     cli_fmt(ctx, "%s?api-version=" CLI_API_KV_ARM, cli_kv_vault_path(ctx, sub, rg, cli_arg(ctx, "name"))),
                     body, &out);
    if (rc == CLI_EXIT_OK)
        rc = cli_kv_emit(ctx, out, CLI_KV_TABLE_ONE);
out:
    json_decref(body);
    json_decref(props);
    json_decref(group);
    json_decref(tags);
    json_decref(out);
    return rc;
}

static int cli_kv_show(struct cli_ctx *ctx)
{
    json_t *v = NULL;
    int rc = cli_kv_vault_get(ctx, cli_arg(ctx, "name"), cli_arg(ctx, "resource-group"), &v);
    if (rc == CLI_EXIT_OK)
        rc = cli_kv_emit(ctx, v, CLI_KV_TABLE_ONE);
    json_decref(v);
    return rc;
}

static int cli_kv_list(struct cli_ctx *ctx)
{
    const char *sub = cli_require_sub(ctx);
    json_t *list = NULL;
    int rc;

    if (sub == NULL)
        return CLI_EXIT_ERR;
    rc = cli_list(ctx, CLI_API_ARM, cli_kv_list_path(ctx, sub, cli_arg(ctx, "resource-group")), &list);
    if (rc == CLI_EXIT_OK)
        rc = cli_kv_emit(ctx, list, CLI_KV_TABLE_LIST);
    json_decref(list);
    return rc;
}

/* The ARM id of the vault -n names (found through -g or the subscription list), in the arena. */
static int cli_kv_vault_id(struct cli_ctx *ctx, const char **id)
{
    json_t *v = NULL;
    int rc = cli_kv_vault_get(ctx, cli_arg(ctx, "name"), cli_arg(ctx, "resource-group"), &v);
    if (rc == CLI_EXIT_OK) {
        if (ck_json_str(v, "id") == NULL) {
            cli_err("the vault resource has no id");
            rc = CLI_EXIT_ERR;
        } else {
            *id = cli_fmt(ctx, "%s", ck_json_str(v, "id"));
        }
    }
    json_decref(v);
    return rc;
}

static int cli_kv_delete(struct cli_ctx *ctx)
{
    const char *id = NULL;
    int rc = cli_kv_vault_id(ctx, &id);
    if (rc != CLI_EXIT_OK)
        return rc;
    return cli_call_ok(ctx, CLI_API_ARM, "DELETE", cli_fmt(ctx, "%s?api-version=" CLI_API_KV_ARM, id), NULL, NULL);
}

static int cli_kv_update(struct cli_ctx *ctx)
{
    int purge = cli_kv_bool(ctx, "enable-purge-protection"), rbac = cli_kv_bool(ctx, "enable-rbac-authorization");
    json_t *body = json_object(), *props = json_object(), *tags = NULL, *out = NULL;
    const char *id = NULL;
    long days = 0;
    int rc = CLI_EXIT_USAGE;

    if (body == NULL || props == NULL) {
        rc = CLI_EXIT_ERR;
        goto out;
    }
    if (purge == -2 || rbac == -2 || cli_kv_retention(ctx, &days) != CLI_EXIT_OK)
        goto out;
    if (purge == 1)
        json_object_set_new(props, "enablePurgeProtection", json_true());
    else if (purge == 0)
        json_object_set_new(props, "enablePurgeProtection", json_false()); /* the service refuses it once on */
    if (rbac >= 0)
        json_object_set_new(props, "enableRbacAuthorization", json_boolean(rbac));
    if (days > 0)
        json_object_set_new(props, "softDeleteRetentionInDays", json_integer(days));
    if (cli_has(ctx, "tags")) {
        if ((tags = cli_tags(ctx)) == NULL)
            goto out;
        json_object_set(body, "tags", tags);
    }
    if (json_object_size(props) == 0 && tags == NULL) {
        rc = cli_need(ctx, "at least one of --enable-purge-protection, --enable-rbac-authorization, "
                           "--retention-days, --tags");
        goto out;
    }
    if (json_object_size(props) > 0)
        json_object_set(body, "properties", props);
    rc = cli_kv_vault_id(ctx, &id);
    if (rc != CLI_EXIT_OK)
        goto out;
    rc = cli_call_ok(ctx, CLI_API_ARM, "PATCH", cli_fmt(ctx, "%s?api-version=" CLI_API_KV_ARM, id), body, &out);
    if (rc == CLI_EXIT_OK)
        rc = cli_kv_emit(ctx, out, CLI_KV_TABLE_ONE);
out:
    json_decref(body);
    json_decref(props);
    json_decref(tags);
    json_decref(out);
    return rc;
}

/* ---- audit ---- */

static int cli_kv_audit_list(struct cli_ctx *ctx)
{
    const char *id = NULL, *caller = cli_arg(ctx, "caller"), *top = cli_arg(ctx, "top");
    const char *corr = cli_arg(ctx, "correlation-id");
    json_t *list = NULL, *out = json_array(), *r;
    long ntop = -1;
    size_t i;
    int rc;

    if (out == NULL)
        return CLI_EXIT_ERR;
    if (top != NULL) {
        char *end = NULL;
        errno = 0;
        ntop = strtol(top, &end, 10);
        if (errno != 0 || end == top || *end != '\0' || ntop < 1) {
            cli_err("argument --top: expected a positive whole number, got '%s'", top);
            rc = CLI_EXIT_USAGE;
            goto out;
        }
    }
    rc = cli_kv_vault_id(ctx, &id);
    if (rc != CLI_EXIT_OK)
        goto out;
    /*
     * The service filters on callerOid and correlationId (exact match) before it applies $top.
     * Object ids are lower-case UUIDs, so --caller is sent in lower case; both filters run again
     * here, so a record the service let through by mistake is never shown.
     */
    const char *lcaller = NULL;
    if (caller != NULL) {
        char *l = cli_fmt(ctx, "%s", caller);
        for (char *c = l; *c; c++)
            *c = (char)((*c >= 'A' && *c <= 'Z') ? *c - 'A' + 'a' : *c);
        lcaller = l;
    }
    rc = cli_list(ctx, CLI_API_ARM,
                  cli_fmt(ctx, "%s/auditRecords?api-version=" CLI_API_KV_ARM "%s%s%s%s%s%s", id,
                          ntop > 0 ? "&$top=" : "", ntop > 0 ? top : "", lcaller ? "&callerOid=" : "",
                          lcaller ? cli_enc(ctx, lcaller) : "", corr ? "&correlationId=" : "",
                          corr ? cli_enc(ctx, corr) : ""),
                  &list);
    if (rc != CLI_EXIT_OK)
        goto out;
    json_array_foreach(list, i, r) {
        const char *oid = ck_json_str(r, "callerOid"), *cid = ck_json_str(r, "correlationId");
        if (caller != NULL && (oid == NULL || strcasecmp(oid, caller) != 0))
            continue;
        if (corr != NULL && (cid == NULL || strcmp(cid, corr) != 0))
            continue;
        if (ntop > 0 && (long)json_array_size(out) >= ntop)
            break;
        json_array_append(out, r);
    }
    rc = cli_kv_print(ctx, out,
                      "[].{Sequence:sequence, Time:time, Operation:operation, Result:result, Caller:callerOid, "
                      "Kid:kid}");
out:
    json_decref(list);
    json_decref(out);
    return rc;
}

static int cli_kv_audit_verify(struct cli_ctx *ctx)
{
    const char *id = NULL;
    json_t *server = NULL, *out = NULL, *records = NULL, *local = NULL;
    int rc = cli_kv_vault_id(ctx, &id);

    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_call_ok(ctx, CLI_API_ARM, "POST", cli_fmt(ctx, "%s/verifyAudit?api-version=" CLI_API_KV_ARM, id), NULL,
                     &server);
    if (rc != CLI_EXIT_OK)
        goto out;
    if (!json_is_object(server) || !json_is_boolean(json_object_get(server, "valid"))) {
        cli_err("the vault service answered verifyAudit without a \"valid\" member");
        rc = CLI_EXIT_ERR;
        goto out;
    }
    /* The chain is recomputed here too, so that a service that lies about its own log is caught. */
    rc = cli_list(ctx, CLI_API_ARM, cli_fmt(ctx, "%s/auditRecords?api-version=" CLI_API_KV_ARM "&$top=1000", id),
                  &records);
    if (rc != CLI_EXIT_OK)
        goto out;
    rc = cli_kv_audit_check(ctx, records, &local);
    if (rc != CLI_EXIT_OK)
        goto out;
    int valid = json_is_true(json_object_get(server, "valid")) &&
                (json_is_null(local) || json_is_true(json_object_get(local, "valid")));
    out = json_pack("{s:b, s:O, s:O}", "valid", valid, "server", server, "local", local);
    if (out == NULL) {
        cli_err("out of memory");
        rc = CLI_EXIT_ERR;
        goto out;
    }
    rc = cli_kv_print(ctx, out, "{Valid:valid, Server:server.valid, Local:local.valid, Records:server.records, "
                                "FirstBadSequence:server.firstBadSequence}");
    if (rc == CLI_EXIT_OK && !valid) {
        json_t *bad = json_object_get(server, "firstBadSequence");
        if (!json_is_integer(bad) && json_is_object(local))
            bad = json_object_get(local, "firstBadSequence");
        if (json_is_integer(bad))
            cli_err("the audit log of vault '%s' is broken at sequence %" JSON_INTEGER_FORMAT, cli_arg(ctx, "name"),
                    json_integer_value(bad));
        else
            cli_err("the audit log of vault '%s' does not verify", cli_arg(ctx, "name"));
        rc = CLI_EXIT_ERR;
    }
out:
    json_decref(server);
    json_decref(records);
    json_decref(local);
    json_decref(out);
    return rc;
}

#define CLI_FLAG_KV_NAME {"name", "n", CLI_VALUE, 1, "Name of the vault."}
#define CLI_FLAG_KV_RG_OPT {"resource-group", "g", CLI_VALUE, 0, "Resource group (default: search the subscription)."}
#define CLI_FLAG_KV_PURGE                                                                                              \
    {"enable-purge-protection", NULL, CLI_VALUE, 0,                                                                    \
     "true: deleted vaults and keys cannot be purged before the retention ends (cannot be undone)."}
#define CLI_FLAG_KV_RBAC                                                                                               \
    {"enable-rbac-authorization", NULL, CLI_VALUE, 0, "true|false: authorize data actions with Azure RBAC (default true)."}
#define CLI_FLAG_KV_RETENTION                                                                                          \
    {"retention-days", NULL, CLI_VALUE, 0, "Soft-delete retention in days, 7 to 90 (default 90)."}
#define CLI_FLAG_KV_TAGS {"tags", NULL, CLI_MULTI, 0, "Space-separated tags: key[=value]."}

const struct cli_cmd cli_keyvault_cmds[] = {
    {"keyvault create",
     "Create a key vault in the signed-in tenant (soft delete is always on).",
     cli_kv_create,
     {CLI_FLAG_KV_NAME,
      {"resource-group", "g", CLI_VALUE, 1, "Name of the resource group."},
      {"location", "l", CLI_VALUE, 0, "Location (default: the resource group's)."},
      CLI_FLAG_KV_PURGE,
      CLI_FLAG_KV_RBAC,
      CLI_FLAG_KV_RETENTION,
      {"sku", NULL, CLI_VALUE, 0, "SKU: standard (the only one)."},
      CLI_FLAG_KV_TAGS},
     "crosskey keyvault create -n kv1 -g rg1 --enable-purge-protection true --enable-rbac-authorization true"},
    {"keyvault show", "Show a key vault.", cli_kv_show, {CLI_FLAG_KV_NAME, CLI_FLAG_KV_RG_OPT},
     "crosskey keyvault show -n kv1 --query properties.vaultUri -o tsv"},
    {"keyvault list",
     "List key vaults.",
     cli_kv_list,
     {{"resource-group", "g", CLI_VALUE, 0, "Only those in this resource group."}},
     "crosskey keyvault list -o table"},
    {"keyvault update",
     "Update a key vault's properties or tags.",
     cli_kv_update,
     {CLI_FLAG_KV_NAME, CLI_FLAG_KV_RG_OPT, CLI_FLAG_KV_PURGE, CLI_FLAG_KV_RBAC, CLI_FLAG_KV_RETENTION, CLI_FLAG_KV_TAGS},
     "crosskey keyvault update -n kv1 --enable-purge-protection true"},
    {"keyvault delete", "Delete a key vault.", cli_kv_delete, {CLI_FLAG_KV_NAME, CLI_FLAG_KV_RG_OPT}, NULL},
    {"keyvault audit list",
     "List a vault's audit records (every data-plane operation), oldest first.",
     cli_kv_audit_list,
     {CLI_FLAG_KV_NAME,
      CLI_FLAG_KV_RG_OPT,
      {"caller", NULL, CLI_VALUE, 0, "Only records of this caller object id."},
      {"correlation-id", NULL, CLI_VALUE, 0,
       "Only records of this correlation id (the x-ms-client-request-id of the call, e.g. storage's unwrap)."},
      {"top", NULL, CLI_VALUE, 0, "At most this many records."}},
     "crosskey keyvault audit list -n kv1 --top 20 -o table"},
    {"keyvault audit verify",
     "Check a vault's audit hash chain, on the service and again locally; exit 1 when it is broken.",
     cli_kv_audit_verify,
     {CLI_FLAG_KV_NAME, CLI_FLAG_KV_RG_OPT},
     "crosskey keyvault audit verify -n kv1"},
    {NULL, NULL, NULL, {{NULL, NULL, 0, 0, NULL}}, NULL},
};
