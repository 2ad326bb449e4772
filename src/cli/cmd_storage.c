/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Storage account commands (ARM Microsoft.Storage/storageAccounts, api 2025-08-01, as
 * @azure/arm-storage 20 uses): create, update, show, list, delete, keys list, keys renew and
 * check-name, with az's flag names for the SKU, kind, public blob access, identities and encryption (customer-managed
 * key: --encryption-key-source/-name/-version/-vault, --key-vault-user-identity-id,
 * --key-vault-federated-client-id). An account named without -g is found by listing the
 * subscription's accounts, as az does. Accounts print as az prints them: properties lifted to the
 * top level, resourceGroup added, and the encryption members under the SDK's names
 * (keyVaultProperties.keyName, encryptionIdentity.encryptionUserAssignedIdentity, ...).
 */
#include "cli/cli_int.h"

#include <string.h>
#include <strings.h>

#define CLI_API_ST "2025-08-01"

static const char *cli_st_path(struct cli_ctx *ctx, const char *sub, const char *rg, const char *name)
{
    return cli_fmt(ctx, "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Storage/storageAccounts/%s",
                   cli_enc(ctx, sub), cli_enc(ctx, rg), cli_enc(ctx, name));
}

static const char *cli_st_list_path(struct cli_ctx *ctx, const char *sub, const char *rg)
{
    if (rg != NULL)
        return cli_fmt(ctx,
                       "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Storage/storageAccounts?api-version=" CLI_API_ST,
                       cli_enc(ctx, sub), cli_enc(ctx, rg));
    return cli_fmt(ctx, "/subscriptions/%s/providers/Microsoft.Storage/storageAccounts?api-version=" CLI_API_ST,
                   cli_enc(ctx, sub));
}

/* Renames member from to to inside o (if present). */
static void cli_st_rename(json_t *o, const char *from, const char *to)
{
    json_t *v = json_object_get(o, from);
    if (v == NULL)
        return;
    json_object_set(o, to, v);
    json_object_del(o, from);
}

/* One account as az prints it. */
static void cli_st_shape(json_t *v)
{
    cli_flatten(v, 1);
    json_t *enc = json_object_get(v, "encryption");
    json_t *kvp = json_object_get(enc, "keyvaultproperties");
    if (kvp != NULL) {
        cli_st_rename(kvp, "keyname", "keyName");
        cli_st_rename(kvp, "keyversion", "keyVersion");
        cli_st_rename(kvp, "keyvaulturi", "keyVaultUri");
        cli_st_rename(enc, "keyvaultproperties", "keyVaultProperties");
    }
    json_t *eid = json_object_get(enc, "identity");
    if (eid != NULL) {
        cli_st_rename(eid, "userAssignedIdentity", "encryptionUserAssignedIdentity");
        cli_st_rename(eid, "federatedIdentityClientId", "encryptionFederatedIdentityClientId");
        cli_st_rename(enc, "identity", "encryptionIdentity");
    }
}

static int cli_st_emit(struct cli_ctx *ctx, json_t *v, const char *table_expr)
{
    size_t i;
    json_t *e;
    if (json_is_array(v)) {
        json_array_foreach(v, i, e) cli_st_shape(e);
    } else {
        cli_st_shape(v);
    }
    return cli_kv_print(ctx, v, table_expr);
}

#define CLI_ST_TABLE_ONE                                                                                               \
    "{Name:name, ResourceGroup:resourceGroup, Location:location, Kind:kind, Sku:sku.name, "                          \
    "KeySource:encryption.keySource, ProvisioningState:provisioningState}"
#define CLI_ST_TABLE_LIST                                                                                              \
    "[].{Name:name, ResourceGroup:resourceGroup, Location:location, Kind:kind, Sku:sku.name, "                       \
    "KeySource:encryption.keySource}"

int cli_storage_account_get(struct cli_ctx *ctx, const char *name, const char *rg, json_t **acct)
{
    const char *sub = cli_require_sub(ctx);
    *acct = NULL;
    if (sub == NULL)
        return CLI_EXIT_ERR;
    return cli_arm_find(ctx, rg ? cli_fmt(ctx, "%s?api-version=" CLI_API_ST, cli_st_path(ctx, sub, rg, name)) : NULL,
                        cli_st_list_path(ctx, sub, NULL), name, "storage account", acct);
}

/* The ARM id of the account the flag (name or account-name) names, in the arena. */
static int cli_st_id(struct cli_ctx *ctx, const char *flag, const char **id)
{
    json_t *v = NULL;
    int rc = cli_storage_account_get(ctx, cli_arg(ctx, flag), cli_arg(ctx, "resource-group"), &v);
    if (rc == CLI_EXIT_OK) {
        if (ck_json_str(v, "id") == NULL) {
            cli_err("the storage account resource has no id");
            rc = CLI_EXIT_ERR;
        } else {
            *id = cli_fmt(ctx, "%s", ck_json_str(v, "id"));
        }
    }
    json_decref(v);
    return rc;
}

/*
 * The identity object from --identity-type, --user-identity-id and (create only) --assign-identity,
 * az's flag for a system-assigned identity (NULL in *out when none was given). Returns CLI_EXIT_OK
 * or CLI_EXIT_USAGE (printed).
 */
static int cli_st_identity(struct cli_ctx *ctx, int creating, json_t **out)
{
    static const char *const types[] = {"None", "SystemAssigned", "UserAssigned", "SystemAssigned,UserAssigned", NULL};
    const char *type = cli_arg(ctx, "identity-type"), *uid = cli_arg(ctx, "user-identity-id");
    const char *canon = NULL;
    int assign = creating && cli_has(ctx, "assign-identity");
    *out = NULL;
    if (type == NULL && uid == NULL && !assign)
        return CLI_EXIT_OK;
    if (assign && type == NULL)
        type = uid != NULL ? "SystemAssigned,UserAssigned" : "SystemAssigned";
    if (type != NULL) {
        for (size_t i = 0; types[i] != NULL; i++) {
            if (strcasecmp(type, types[i]) == 0)
                canon = types[i];
        }
        if (canon == NULL) {
            cli_err("argument --identity-type: invalid choice: '%s' (choose from 'None', 'SystemAssigned', "
                    "'UserAssigned', 'SystemAssigned,UserAssigned')",
                    type);
            return CLI_EXIT_USAGE;
        }
    } else {
        canon = "UserAssigned";
    }
    if (assign && strncmp(canon, "SystemAssigned", 14) != 0) {
        cli_err("argument --assign-identity: not allowed with --identity-type %s", canon);
        return CLI_EXIT_USAGE;
    }
    if (uid != NULL && strstr(canon, "UserAssigned") == NULL) {
        cli_err("argument --user-identity-id: needs --identity-type UserAssigned or SystemAssigned,UserAssigned");
        return CLI_EXIT_USAGE;
    }
    if (uid == NULL && strstr(canon, "UserAssigned") != NULL) {
        cli_err("argument --identity-type %s: needs --user-identity-id", canon);
        return CLI_EXIT_USAGE;
    }
    *out = json_pack("{s:s}", "type", canon);
    if (*out != NULL && uid != NULL)
        json_object_set_new(*out, "userAssignedIdentities", json_pack("{s:{}}", uid));
    return CLI_EXIT_OK;
}

/* Whether a flag that touches the key vault properties was given (update reads the account then). */
static int cli_st_kv_flags(struct cli_ctx *ctx)
{
    const char *src = cli_arg(ctx, "encryption-key-source");
    return cli_arg(ctx, "encryption-key-name") != NULL || cli_arg(ctx, "encryption-key-vault") != NULL ||
           cli_arg(ctx, "encryption-key-version") != NULL || (src != NULL && strcasecmp(src, "Microsoft.Keyvault") == 0);
}

/*
 * The encryption object from the --encryption-* and --key-vault-* flags (NULL in *out when none
 * was given). cur is the account's current encryption object (update) or NULL (create): as az
 * does (it reads the account and changes only what was given), a key name, vault or version not
 * given is taken from it, so an update that does not name the version keeps a pinned version and
 * `--encryption-key-version v` alone pins. Returns CLI_EXIT_OK or CLI_EXIT_USAGE (printed).
 */
static int cli_st_encryption(struct cli_ctx *ctx, int creating, const json_t *cur, json_t **out)
{
    const char *src = cli_arg(ctx, "encryption-key-source"), *kn = cli_arg(ctx, "encryption-key-name"),
               *kv = cli_arg(ctx, "encryption-key-version"), *uri = cli_arg(ctx, "encryption-key-vault"),
               *uid = cli_arg(ctx, "key-vault-user-identity-id"), *fc = cli_arg(ctx, "key-vault-federated-client-id");
    int infra = creating && cli_has(ctx, "require-infrastructure-encryption");
    json_t *e;
    *out = NULL;
    if (src == NULL && kn == NULL && kv == NULL && uri == NULL && uid == NULL && fc == NULL && !infra)
        return CLI_EXIT_OK;
    if (src != NULL && strcasecmp(src, "Microsoft.Storage") != 0 && strcasecmp(src, "Microsoft.Keyvault") != 0) {
        cli_err("argument --encryption-key-source: invalid choice: '%s' (choose from 'Microsoft.Keyvault', "
                "'Microsoft.Storage')",
                src);
        return CLI_EXIT_USAGE;
    }
    if (src == NULL && (kn != NULL || uri != NULL))
        src = "Microsoft.Keyvault";
    /* az keeps what the account has for what was not given (only while it is on a customer key). */
    const json_t *ckv = json_object_get(cur, "keyvaultproperties");
    const char *csrc = ck_json_str(cur, "keySource");
    if (csrc == NULL || strcasecmp(csrc, "Microsoft.Keyvault") != 0)
        ckv = NULL;
    int to_kv = (src != NULL && strcasecmp(src, "Microsoft.Keyvault") == 0) || (src == NULL && kv != NULL);
    if (to_kv) {
        if (kn == NULL)
            kn = ck_json_str(ckv, "keyname");
        if (uri == NULL)
            uri = ck_json_str(ckv, "keyvaulturi");
        if (kv == NULL)
            kv = ck_json_str(ckv, "keyversion");
    }
    if (to_kv && (kn == NULL || uri == NULL)) {
        cli_err("--encryption-key-source Microsoft.Keyvault needs --encryption-key-name and --encryption-key-vault");
        return CLI_EXIT_USAGE;
    }
    e = json_object();
    if (e == NULL)
        return CLI_EXIT_ERR;
    if (src != NULL)
        ck_json_set_str(e, "keySource", strcasecmp(src, "Microsoft.Storage") == 0 ? "Microsoft.Storage" : "Microsoft.Keyvault");
    if (kn != NULL || uri != NULL || kv != NULL) {
        json_t *p = json_object();
        if (kn != NULL)
            ck_json_set_str(p, "keyname", kn);
        ck_json_set_str(p, "keyversion", kv ? kv : "");
        if (uri != NULL)
            ck_json_set_str(p, "keyvaulturi", uri);
        json_object_set_new(e, "keyvaultproperties", p);
    }
    if (uid != NULL || fc != NULL) {
        json_t *i = json_object();
        if (uid != NULL)
            ck_json_set_str(i, "userAssignedIdentity", uid);
        if (fc != NULL)
            ck_json_set_str(i, "federatedIdentityClientId", fc);
        json_object_set_new(e, "identity", i);
    }
    if (creating) {
        json_object_set_new(e, "services", json_pack("{s:{s:b,s:s},s:{s:b,s:s}}", "blob", "enabled", 1, "keyType",
                                                     "Account", "file", "enabled", 1, "keyType", "Account"));
        json_object_set_new(e, "requireInfrastructureEncryption", json_boolean(infra));
    }
    *out = e;
    return CLI_EXIT_OK;
}

static int cli_st_create(struct cli_ctx *ctx)
{
    const char *sub = NULL, *loc = cli_arg(ctx, "location"), *rg = cli_arg(ctx, "resource-group");
    const char *sku = cli_arg(ctx, "sku"), *kind = cli_arg(ctx, "kind");
    json_t *body = NULL, *props = NULL, *identity = NULL, *enc = NULL, *group = NULL, *tags = NULL, *out = NULL;
    int pub = cli_kv_bool(ctx, "allow-blob-public-access");
    int rc = CLI_EXIT_USAGE;

    if (pub == -2)
        goto out;
    if ((rc = cli_st_identity(ctx, 1, &identity)) != CLI_EXIT_OK ||
        (rc = cli_st_encryption(ctx, 1, NULL, &enc)) != CLI_EXIT_OK)
        goto out;
    rc = CLI_EXIT_USAGE;
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
    props = json_object();
    if (props != NULL && pub >= 0)
        json_object_set_new(props, "allowBlobPublicAccess", json_boolean(pub));
    body = json_pack("{s:{s:s}, s:s, s:s, s:O}", "sku", "name", sku ? sku : "Standard_RAGRS", "kind",
                     kind ? kind : "StorageV2", "location", loc ? loc : "", "tags", tags);
    if (body == NULL || props == NULL) {
        cli_err("out of memory");
        goto out;
    }
    if (enc != NULL)
        json_object_set(props, "encryption", enc);
    json_object_set(body, "properties", props);
    if (identity != NULL)
        json_object_set(body, "identity", identity);
    rc = cli_call_ok(ctx, CLI_API_ARM, "PUT",
                     cli_fmt(ctx, "%s?api-version=" CLI_API_ST, cli_st_path(ctx, sub, rg, cli_arg(ctx, "name"))), body,
                     &out);
    if (rc == CLI_EXIT_OK)
        rc = cli_st_emit(ctx, out, CLI_ST_TABLE_ONE);
out:
    json_decref(body);
    json_decref(props);
    json_decref(identity);
    json_decref(enc);
    json_decref(group);
    json_decref(tags);
    json_decref(out);
    return rc;
}

static int cli_st_update(struct cli_ctx *ctx)
{
    const char *sku = cli_arg(ctx, "sku"), *id = NULL;
    json_t *body = json_object(), *identity = NULL, *enc = NULL, *tags = NULL, *out = NULL, *cur = NULL;
    int pub = cli_kv_bool(ctx, "allow-blob-public-access");
    int rc = CLI_EXIT_USAGE;

    if (body == NULL)
        return CLI_EXIT_ERR;
    if (pub == -2)
        goto out;
    if ((rc = cli_st_identity(ctx, 0, &identity)) != CLI_EXIT_OK)
        goto out;
    if (cli_st_kv_flags(ctx)) {
        /* As az: read the account, then change only the key vault properties that were given. */
        const char *src = cli_arg(ctx, "encryption-key-source");
        if (src != NULL && strcasecmp(src, "Microsoft.Storage") != 0 && strcasecmp(src, "Microsoft.Keyvault") != 0) {
            rc = cli_st_encryption(ctx, 0, NULL, &enc); /* prints the invalid choice */
            goto out;
        }
        if ((rc = cli_storage_account_get(ctx, cli_arg(ctx, "name"), cli_arg(ctx, "resource-group"), &cur)) != CLI_EXIT_OK)
            goto out;
        id = ck_json_str(cur, "id") ? cli_fmt(ctx, "%s", ck_json_str(cur, "id")) : NULL;
    }
    if ((rc = cli_st_encryption(ctx, 0, json_object_get(json_object_get(cur, "properties"), "encryption"), &enc)) !=
        CLI_EXIT_OK)
        goto out;
    if (cli_has(ctx, "tags")) {
        rc = CLI_EXIT_USAGE;
        if ((tags = cli_tags(ctx)) == NULL)
            goto out;
        json_object_set(body, "tags", tags);
    }
    if (sku != NULL)
        json_object_set_new(body, "sku", json_pack("{s:s}", "name", sku));
    if (identity != NULL)
        json_object_set(body, "identity", identity);
    if (enc != NULL || pub >= 0) {
        json_t *props = json_object();
        if (enc != NULL)
            json_object_set(props, "encryption", enc);
        if (pub >= 0)
            json_object_set_new(props, "allowBlobPublicAccess", json_boolean(pub));
        json_object_set_new(body, "properties", props);
    }
    if (json_object_size(body) == 0) {
        rc = cli_need(ctx, "at least one of --sku, --tags, --allow-blob-public-access, --identity-type, "
                           "--user-identity-id, --encryption-key-source, "
                           "--encryption-key-name, --encryption-key-version, --encryption-key-vault, "
                           "--key-vault-user-identity-id, --key-vault-federated-client-id");
        goto out;
    }
    if (id == NULL && (rc = cli_st_id(ctx, "name", &id)) != CLI_EXIT_OK)
        goto out;
    rc = cli_call_ok(ctx, CLI_API_ARM, "PATCH", cli_fmt(ctx, "%s?api-version=" CLI_API_ST, id), body, &out);
    if (rc == CLI_EXIT_OK)
        rc = cli_st_emit(ctx, out, CLI_ST_TABLE_ONE);
out:
    json_decref(cur);
    json_decref(body);
    json_decref(identity);
    json_decref(enc);
    json_decref(tags);
    json_decref(out);
    return rc;
}

static int cli_st_show(struct cli_ctx *ctx)
{
    json_t *v = NULL;
    int rc = cli_storage_account_get(ctx, cli_arg(ctx, "name"), cli_arg(ctx, "resource-group"), &v);
    if (rc == CLI_EXIT_OK)
        rc = cli_st_emit(ctx, v, CLI_ST_TABLE_ONE);
    json_decref(v);
    return rc;
}

static int cli_st_list(struct cli_ctx *ctx)
{
    const char *sub = cli_require_sub(ctx);
    json_t *list = NULL;
    int rc;
    if (sub == NULL)
        return CLI_EXIT_ERR;
    rc = cli_list(ctx, CLI_API_ARM, cli_st_list_path(ctx, sub, cli_arg(ctx, "resource-group")), &list);
    if (rc == CLI_EXIT_OK)
        rc = cli_st_emit(ctx, list, CLI_ST_TABLE_LIST);
    json_decref(list);
    return rc;
}

static int cli_st_delete(struct cli_ctx *ctx)
{
    const char *id = NULL;
    int rc;
    if (!cli_confirm(ctx))
        return CLI_EXIT_ERR;
    if ((rc = cli_st_id(ctx, "name", &id)) != CLI_EXIT_OK)
        return rc;
    return cli_call_ok(ctx, CLI_API_ARM, "DELETE", cli_fmt(ctx, "%s?api-version=" CLI_API_ST, id), NULL, NULL);
}

/* Prints the "keys" array of a listKeys/regenerateKey answer, and wipes it. */
static int cli_st_print_keys(struct cli_ctx *ctx, json_t *out)
{
    json_t *keys = json_object_get(out, "keys");
    int rc;
    if (!json_is_array(keys)) {
        cli_err("the service answered without a \"keys\" array");
        return CLI_EXIT_ERR;
    }
    rc = cli_kv_print(ctx, keys, "[].{KeyName:keyName, Permissions:permissions, Value:value}");
    cli_json_wipe(out);
    return rc;
}

static int cli_st_keys_list(struct cli_ctx *ctx)
{
    const char *id = NULL;
    json_t *out = NULL;
    int rc = cli_st_id(ctx, "account-name", &id);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_call_ok(ctx, CLI_API_ARM, "POST", cli_fmt(ctx, "%s/listKeys?api-version=" CLI_API_ST "&$expand=kerb", id),
                     NULL, &out);
    if (rc == CLI_EXIT_OK)
        rc = cli_st_print_keys(ctx, out);
    json_decref(out);
    return rc;
}

static int cli_st_keys_renew(struct cli_ctx *ctx)
{
    const char *key = cli_arg(ctx, "key"), *id = NULL, *kn;
    json_t *body = NULL, *out = NULL;
    int rc;
    if (strcasecmp(key, "primary") == 0 || strcasecmp(key, "key1") == 0) {
        kn = "key1";
    } else if (strcasecmp(key, "secondary") == 0 || strcasecmp(key, "key2") == 0) {
        kn = "key2";
    } else {
        cli_err("argument --key: invalid choice: '%s' (choose from 'primary', 'secondary')", key);
        return CLI_EXIT_USAGE;
    }
    if ((rc = cli_st_id(ctx, "account-name", &id)) != CLI_EXIT_OK)
        return rc;
    body = json_pack("{s:s}", "keyName", kn);
    rc = cli_call_ok(ctx, CLI_API_ARM, "POST", cli_fmt(ctx, "%s/regenerateKey?api-version=" CLI_API_ST, id), body, &out);
    if (rc == CLI_EXIT_OK)
        rc = cli_st_print_keys(ctx, out);
    json_decref(body);
    json_decref(out);
    return rc;
}

static int cli_st_check_name(struct cli_ctx *ctx)
{
    const char *sub = cli_require_sub(ctx);
    json_t *body;
    int rc;
    if (sub == NULL)
        return CLI_EXIT_ERR;
    body = json_pack("{s:s,s:s}", "name", cli_arg(ctx, "name"), "type", "Microsoft.Storage/storageAccounts");
    rc = cli_run(ctx, CLI_API_ARM, "POST",
                 cli_fmt(ctx, "/subscriptions/%s/providers/Microsoft.Storage/checkNameAvailability?api-version=" CLI_API_ST,
                         cli_enc(ctx, sub)),
                 body, 0);
    json_decref(body);
    return rc;
}

#define CLI_FLAG_ST_NAME {"name", "n", CLI_VALUE, 1, "Name of the storage account (3-24 lower-case letters and digits)."}
#define CLI_FLAG_ST_RG_OPT {"resource-group", "g", CLI_VALUE, 0, "Resource group (default: search the subscription)."}
#define CLI_FLAG_ST_TAGS {"tags", NULL, CLI_MULTI, 0, "Space-separated tags: key[=value]."}
#define CLI_FLAG_ST_IDTYPE                                                                                             \
    {"identity-type", NULL, CLI_VALUE, 0,                                                                              \
     "None, SystemAssigned, UserAssigned or SystemAssigned,UserAssigned."}
#define CLI_FLAG_ST_UID {"user-identity-id", NULL, CLI_VALUE, 0, "Resource id of a user-assigned identity to attach."}
#define CLI_FLAG_ST_SRC                                                                                                \
    {"encryption-key-source", NULL, CLI_VALUE, 0, "Microsoft.Storage (platform key) or Microsoft.Keyvault (customer key)."}
#define CLI_FLAG_ST_KN {"encryption-key-name", NULL, CLI_VALUE, 0, "Name of the customer's key in the vault."}
#define CLI_FLAG_ST_KV                                                                                                 \
    {"encryption-key-version", NULL, CLI_VALUE, 0, "Key version to pin; \"\" follows the newest version."}
#define CLI_FLAG_ST_URI {"encryption-key-vault", NULL, CLI_VALUE, 0, "URI of the customer's vault."}
#define CLI_FLAG_ST_KVUID                                                                                              \
    {"key-vault-user-identity-id", "u", CLI_VALUE, 0, "User-assigned identity the account uses to reach the vault."}
#define CLI_FLAG_ST_PUBLIC                                                                                             \
    {"allow-blob-public-access", NULL, CLI_VALUE, 0,                                                                   \
     "true or false: whether containers may allow anonymous read access (default false)."}
#define CLI_FLAG_ST_FCID                                                                                               \
    {"key-vault-federated-client-id", "f", CLI_VALUE, 0,                                                               \
     "Client id of the multi-tenant application, for a vault in another tenant."}

const struct cli_cmd cli_storage_cmds[] = {
    {"storage account create",
     "Create a storage account (data encrypted at rest under its own key).",
     cli_st_create,
     {CLI_FLAG_ST_NAME,
      {"resource-group", "g", CLI_VALUE, 1, "Name of the resource group."},
      {"location", "l", CLI_VALUE, 0, "Location (default: the resource group's)."},
      {"sku", NULL, CLI_VALUE, 0, "Standard_LRS, Standard_GRS, Standard_RAGRS (default), Standard_ZRS, Premium_LRS, ..."},
      {"kind", NULL, CLI_VALUE, 0, "StorageV2 (default), Storage, BlobStorage, BlockBlobStorage, FileStorage."},
      CLI_FLAG_ST_TAGS,
      CLI_FLAG_ST_PUBLIC,
      {"assign-identity", NULL, CLI_BOOL, 0, "Give the account a system-assigned identity."},
      CLI_FLAG_ST_IDTYPE,
      CLI_FLAG_ST_UID,
      CLI_FLAG_ST_SRC,
      CLI_FLAG_ST_KN,
      CLI_FLAG_ST_KV,
      CLI_FLAG_ST_URI,
      CLI_FLAG_ST_KVUID,
      CLI_FLAG_ST_FCID,
      {"require-infrastructure-encryption", NULL, CLI_BOOL, 0,
       "A second layer of encryption at rest (only at creation)."}},
     "crosskey storage account create -n acct1 -g rg1 --sku Standard_LRS --kind StorageV2"},
    {"storage account update",
     "Update a storage account's SKU, tags, identities or encryption settings.",
     cli_st_update,
     {CLI_FLAG_ST_NAME, CLI_FLAG_ST_RG_OPT,
      {"sku", NULL, CLI_VALUE, 0, "New SKU name."},
      CLI_FLAG_ST_TAGS, CLI_FLAG_ST_PUBLIC, CLI_FLAG_ST_IDTYPE, CLI_FLAG_ST_UID, CLI_FLAG_ST_SRC, CLI_FLAG_ST_KN, CLI_FLAG_ST_KV,
      CLI_FLAG_ST_URI, CLI_FLAG_ST_KVUID, CLI_FLAG_ST_FCID},
     "crosskey storage account update -n acct1 -g rg1 --encryption-key-source Microsoft.Storage"},
    {"storage account show", "Show a storage account.", cli_st_show, {CLI_FLAG_ST_NAME, CLI_FLAG_ST_RG_OPT},
     "crosskey storage account show -n acct1 --query primaryEndpoints.blob -o tsv"},
    {"storage account list",
     "List storage accounts.",
     cli_st_list,
     {{"resource-group", "g", CLI_VALUE, 0, "Only those in this resource group."}},
     "crosskey storage account list -o table"},
    {"storage account delete",
     "Delete a storage account and all its data.",
     cli_st_delete,
     {CLI_FLAG_ST_NAME, CLI_FLAG_ST_RG_OPT, {"yes", "y", CLI_BOOL, 0, "Do not prompt for confirmation."}},
     "crosskey storage account delete -n acct1 -g rg1 --yes"},
    {"storage account keys list",
     "List the account's two access keys.",
     cli_st_keys_list,
     {{"account-name", "n", CLI_VALUE, 1, "Name of the storage account."}, CLI_FLAG_ST_RG_OPT},
     "crosskey storage account keys list -n acct1 -g rg1 --query [0].value -o tsv"},
    {"storage account keys renew",
     "Regenerate one of the account's access keys.",
     cli_st_keys_renew,
     {{"account-name", "n", CLI_VALUE, 1, "Name of the storage account."},
      CLI_FLAG_ST_RG_OPT,
      {"key", NULL, CLI_VALUE, 1, "primary or secondary (key1 or key2)."}},
     "crosskey storage account keys renew -n acct1 -g rg1 --key primary"},
    {"storage account check-name",
     "Check whether a storage account name is valid and free.",
     cli_st_check_name,
     {CLI_FLAG_ST_NAME},
     "crosskey storage account check-name -n acct1"},
    {NULL, NULL, NULL, {{NULL, NULL, 0, 0, NULL}}, NULL},
};
