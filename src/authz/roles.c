/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Azure's built-in role definitions with their real GUIDs, actions, notActions, dataActions and
 * notDataActions (as published in learn.microsoft.com "Azure built-in roles", reference note R29),
 * and Azure's matching of an operation against them: case-insensitive, "*" matching any run of
 * characters, notActions subtracting from actions. Only the roles the cross-tenant CMK procedure
 * and its management plane need are listed.
 */
#include "authz/roles.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define ROLE_LIST(...) ((const char *const[]){__VA_ARGS__, NULL})
#define ROLE_NONE ((const char *const[]){NULL})

/* The management-plane reads shared by the Key Vault data roles. */
#define KV_READS                                                                                   \
    "Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*", "Microsoft.Resources/deployments/*", \
        "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Support/*",            \
        "Microsoft.KeyVault/checkNameAvailability/read", "Microsoft.KeyVault/deletedVaults/read",  \
        "Microsoft.KeyVault/locations/*/read", "Microsoft.KeyVault/vaults/*/read",                 \
        "Microsoft.KeyVault/operations/read"

#define BLOB_CONTAINERS "Microsoft.Storage/storageAccounts/blobServices/containers"
#define BLOB_BLOBS "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
#define BLOB_UDK "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"

static const struct ck_role roles_builtin[] = {
    {
        .id = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        .name = "Owner",
        .description = "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
        .actions = ROLE_LIST("*"),
        .not_actions = ROLE_NONE,
        .data_actions = ROLE_NONE,
        .not_data_actions = ROLE_NONE,
    },
    {
        .id = "b24988ac-6180-42a0-ab88-20f7382dd24c",
        .name = "Contributor",
        .description = "Grants full access to manage all resources, but does not allow you to assign roles in Azure "
                       "RBAC, manage assignments in Azure Blueprints, or share image galleries.",
        .actions = ROLE_LIST("*"),
        .not_actions = ROLE_LIST("Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
                                 "Microsoft.Authorization/elevateAccess/Action",
                                 "Microsoft.Blueprint/blueprintAssignments/write",
                                 "Microsoft.Blueprint/blueprintAssignments/delete",
                                 "Microsoft.Compute/galleries/share/action", "Microsoft.Purview/consents/write",
                                 "Microsoft.Purview/consents/delete",
                                 "Microsoft.Resources/deploymentStacks/manageDenySetting/action"),
        .data_actions = ROLE_NONE,
        .not_data_actions = ROLE_NONE,
    },
    {
        .id = "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        .name = "Reader",
        .description = "View all resources, but does not allow you to make any changes.",
        .actions = ROLE_LIST("*/read"),
        .not_actions = ROLE_NONE,
        .data_actions = ROLE_NONE,
        .not_data_actions = ROLE_NONE,
    },
    {
        .id = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        .name = "User Access Administrator",
        .description = "Lets you manage user access to Azure resources.",
        .actions = ROLE_LIST("*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"),
        .not_actions = ROLE_NONE,
        .data_actions = ROLE_NONE,
        .not_data_actions = ROLE_NONE,
    },
    {
        .id = "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59",
        .name = "Managed Identity Contributor",
        .description = "Create, Read, Update, and Delete User Assigned Identity",
        .actions = ROLE_LIST("Microsoft.ManagedIdentity/userAssignedIdentities/read",
                             "Microsoft.ManagedIdentity/userAssignedIdentities/write",
                             "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
                             "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
                             "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
                             "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete",
                             "Microsoft.ManagedIdentity/userAssignedIdentities/revokeTokens/action",
                             "Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*",
                             "Microsoft.Resources/subscriptions/resourceGroups/read",
                             "Microsoft.Resources/deployments/*", "Microsoft.Support/*"),
        .not_actions = ROLE_NONE,
        .data_actions = ROLE_NONE,
        .not_data_actions = ROLE_NONE,
    },
    {
        .id = "f1a07417-d97a-45cb-824c-7a7467783830",
        .name = "Managed Identity Operator",
        .description = "Read and Assign User Assigned Identity",
        .actions = ROLE_LIST("Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
                             "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
                             "Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*",
                             "Microsoft.Resources/subscriptions/resourceGroups/read",
                             "Microsoft.Resources/deployments/*", "Microsoft.Support/*"),
        .not_actions = ROLE_NONE,
        .data_actions = ROLE_NONE,
        .not_data_actions = ROLE_NONE,
    },
    {
        .id = "00482a5a-887f-4fb3-b363-3b7fe8e74483",
        .name = "Key Vault Administrator",
        .description = "Perform all data plane operations on a key vault and all objects in it, including "
                       "certificates, keys, and secrets. Cannot manage key vault resources or manage role "
                       "assignments. Only works for key vaults that use the 'Azure role-based access control' "
                       "permission model.",
        .actions = ROLE_LIST(KV_READS),
        .not_actions = ROLE_NONE,
        .data_actions = ROLE_LIST("Microsoft.KeyVault/vaults/*"),
        .not_data_actions = ROLE_NONE,
    },
    {
        .id = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
        .name = "Key Vault Crypto Officer",
        .description = "Perform any action on the keys of a key vault, except manage permissions. Only works for "
                       "key vaults that use the 'Azure role-based access control' permission model.",
        .actions = ROLE_LIST(KV_READS),
        .not_actions = ROLE_NONE,
        .data_actions = ROLE_LIST("Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keyrotationpolicies/*"),
        .not_data_actions = ROLE_NONE,
    },
    {
        .id = "12338af0-0e69-4776-bea7-57ae8d297424",
        .name = "Key Vault Crypto User",
        .description = "Perform cryptographic operations using keys. Only works for key vaults that use the 'Azure "
                       "role-based access control' permission model.",
        .actions = ROLE_NONE,
        .not_actions = ROLE_NONE,
        .data_actions = ROLE_LIST("Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/update/action",
                                  "Microsoft.KeyVault/vaults/keys/backup/action",
                                  "Microsoft.KeyVault/vaults/keys/encrypt/action",
                                  "Microsoft.KeyVault/vaults/keys/decrypt/action",
                                  "Microsoft.KeyVault/vaults/keys/wrap/action",
                                  "Microsoft.KeyVault/vaults/keys/unwrap/action",
                                  "Microsoft.KeyVault/vaults/keys/sign/action",
                                  "Microsoft.KeyVault/vaults/keys/verify/action"),
        .not_data_actions = ROLE_NONE,
    },
    {
        .id = "e147488a-f6f5-4113-8e2d-b22465e65bf6",
        .name = "Key Vault Crypto Service Encryption User",
        .description = "Read metadata of keys and perform wrap/unwrap operations. Only works for key vaults that use "
                       "the 'Azure role-based access control' permission model.",
        .actions = ROLE_LIST("Microsoft.EventGrid/eventSubscriptions/write", "Microsoft.EventGrid/eventSubscriptions/read",
                             "Microsoft.EventGrid/eventSubscriptions/delete"),
        .not_actions = ROLE_NONE,
        .data_actions = ROLE_LIST("Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/wrap/action",
                                  "Microsoft.KeyVault/vaults/keys/unwrap/action"),
        .not_data_actions = ROLE_NONE,
    },
    {
        .id = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
        .name = "Storage Blob Data Owner",
        .description = "Allows for full access to Azure Storage blob containers and data, including assigning POSIX "
                       "access control.",
        .actions = ROLE_LIST(BLOB_CONTAINERS "/*", BLOB_UDK),
        .not_actions = ROLE_NONE,
        .data_actions = ROLE_LIST(BLOB_BLOBS "/*"),
        .not_data_actions = ROLE_NONE,
    },
    {
        .id = "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        .name = "Storage Blob Data Contributor",
        .description = "Allows for read, write and delete access to Azure Storage blob containers and data",
        .actions = ROLE_LIST(BLOB_CONTAINERS "/delete", BLOB_CONTAINERS "/read", BLOB_CONTAINERS "/write", BLOB_UDK),
        .not_actions = ROLE_NONE,
        .data_actions = ROLE_LIST(BLOB_BLOBS "/delete", BLOB_BLOBS "/read", BLOB_BLOBS "/write",
                                  BLOB_BLOBS "/move/action", BLOB_BLOBS "/add/action"),
        .not_data_actions = ROLE_NONE,
    },
    {
        .id = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
        .name = "Storage Blob Data Reader",
        .description = "Allows for read access to Azure Storage blob containers and data",
        .actions = ROLE_LIST(BLOB_CONTAINERS "/read", BLOB_UDK),
        .not_actions = ROLE_NONE,
        .data_actions = ROLE_LIST(BLOB_BLOBS "/read"),
        .not_data_actions = ROLE_NONE,
    },
    {
        .id = "17d1049b-9a84-46fb-8f53-869881c3d3ab",
        .name = "Storage Account Contributor",
        .description = "Lets you manage storage accounts, including accessing storage account keys which provide "
                       "full access to storage account data.",
        .actions = ROLE_LIST("Microsoft.Authorization/*/read", "Microsoft.Insights/diagnosticSettings/*",
                             "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action",
                             "Microsoft.ResourceHealth/availabilityStatuses/read", "Microsoft.Resources/deployments/*",
                             "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Storage/storageAccounts/*",
                             "Microsoft.Support/*"),
        .not_actions = ROLE_NONE,
        .data_actions = ROLE_NONE,
        .not_data_actions = ROLE_NONE,
    },
};

const struct ck_role *ck_roles_builtin(size_t *count)
{
    if (count != NULL)
        *count = sizeof(roles_builtin) / sizeof(roles_builtin[0]);
    return roles_builtin;
}

static const struct ck_role *roles_find(const char *key, int by_name)
{
    if (key == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(roles_builtin) / sizeof(roles_builtin[0]); i++) {
        if (strcasecmp(by_name ? roles_builtin[i].name : roles_builtin[i].id, key) == 0)
            return &roles_builtin[i];
    }
    return NULL;
}

const struct ck_role *ck_role_find(const char *guid)
{
    return roles_find(guid, 0);
}

const struct ck_role *ck_role_find_by_name(const char *name)
{
    return roles_find(name, 1);
}

/*
 * Iterative glob match with backtracking to the last star: linear in practice and without
 * recursion, so hostile patterns cannot exhaust the stack.
 */
int ck_action_match(const char *pattern, const char *operation)
{
    const char *p = pattern, *s = operation;
    const char *star = NULL, *retry = NULL;
    if (pattern == NULL || operation == NULL)
        return 0;
    while (*s != '\0') {
        if (*p == '*') {
            star = p++;
            retry = s;
        } else if (*p != '\0' && tolower((unsigned char)*p) == tolower((unsigned char)*s)) {
            p++;
            s++;
        } else if (star != NULL) {
            p = star + 1;
            s = ++retry;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

static int roles_any_match(const char *const *patterns, const char *operation)
{
    if (patterns == NULL)
        return 0;
    for (size_t i = 0; patterns[i] != NULL; i++) {
        if (ck_action_match(patterns[i], operation))
            return 1;
    }
    return 0;
}

int ck_role_allows(const struct ck_role *role, const char *operation, int is_data)
{
    if (role == NULL || operation == NULL || operation[0] == '\0')
        return 0;
    if (is_data)
        return roles_any_match(role->data_actions, operation) && !roles_any_match(role->not_data_actions, operation);
    return roles_any_match(role->actions, operation) && !roles_any_match(role->not_actions, operation);
}
