/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the built-in role table and Azure's action matching (wire reference C.6, R29):
 * real GUIDs, wildcards, case-insensitivity, notActions and the split between actions and data
 * actions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "authz/roles.h"

static void test_wildcard_match(void **state)
{
    (void)state;
    assert_true(ck_action_match("*", "Microsoft.Storage/storageAccounts/write"));
    assert_true(ck_action_match("*/read", "Microsoft.Storage/storageAccounts/read"));
    assert_false(ck_action_match("*/read", "Microsoft.Storage/storageAccounts/write"));
    assert_true(ck_action_match("Microsoft.Authorization/*/Write", "microsoft.authorization/roleassignments/write"));
    assert_true(ck_action_match("Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/keys/versions/read"));
    assert_false(ck_action_match("Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/read"));
    assert_true(ck_action_match("a*b*c", "aXXbYYc"));
    assert_false(ck_action_match("a*b*c", "aXXbYY"));
    assert_false(ck_action_match("abc", "abcd"));
    assert_true(ck_action_match("**", ""));
    assert_false(ck_action_match(NULL, "x"));
}

static void test_builtin_guids(void **state)
{
    static const char *const ids[] = {
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-42a0-ab88-20f7382dd24c",
        "acdd72a7-3385-48ef-bd42-f606fba81ae7", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59", "f1a07417-d97a-45cb-824c-7a7467783830",
        "00482a5a-887f-4fb3-b363-3b7fe8e74483", "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
        "12338af0-0e69-4776-bea7-57ae8d297424", "e147488a-f6f5-4113-8e2d-b22465e65bf6",
        "b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "17d1049b-9a84-46fb-8f53-869881c3d3ab",
    };
    size_t n = 0;
    (void)state;
    assert_non_null(ck_roles_builtin(&n));
    assert_int_equal(n, sizeof(ids) / sizeof(ids[0]));
    for (size_t i = 0; i < n; i++)
        assert_non_null(ck_role_find(ids[i]));
    assert_non_null(ck_role_find("8E3AF657-A8FF-443C-A75C-2FE8C4BCB635"));
    assert_null(ck_role_find("00000000-0000-0000-0000-000000000000"));
    assert_string_equal(ck_role_find_by_name("key vault crypto service encryption user")->id,
                        "e147488a-f6f5-4113-8e2d-b22465e65bf6");
    assert_null(ck_role_find_by_name("Nobody"));
}

static void test_role_allows(void **state)
{
    const struct ck_role *owner = ck_role_find_by_name("Owner");
    const struct ck_role *contrib = ck_role_find_by_name("Contributor");
    const struct ck_role *reader = ck_role_find_by_name("Reader");
    const struct ck_role *uaa = ck_role_find_by_name("User Access Administrator");
    const struct ck_role *kvseu = ck_role_find_by_name("Key Vault Crypto Service Encryption User");
    const struct ck_role *officer = ck_role_find_by_name("Key Vault Crypto Officer");
    const struct ck_role *blob_reader = ck_role_find_by_name("Storage Blob Data Reader");
    (void)state;
    assert_true(ck_role_allows(owner, "Microsoft.Authorization/roleAssignments/write", 0));
    /* Control-plane "*" grants no data actions. */
    assert_false(ck_role_allows(owner, "Microsoft.KeyVault/vaults/keys/unwrap/action", 1));
    assert_true(ck_role_allows(contrib, "Microsoft.Resources/subscriptions/resourceGroups/write", 0));
    assert_false(ck_role_allows(contrib, "Microsoft.Authorization/roleAssignments/write", 0));
    assert_false(ck_role_allows(contrib, "Microsoft.Authorization/roleAssignments/delete", 0));
    assert_true(ck_role_allows(contrib, "Microsoft.Authorization/roleAssignments/read", 0));
    assert_true(ck_role_allows(reader, "Microsoft.Resources/subscriptions/resourceGroups/read", 0));
    assert_false(ck_role_allows(reader, "Microsoft.Resources/subscriptions/resourceGroups/write", 0));
    assert_true(ck_role_allows(uaa, "Microsoft.Authorization/roleAssignments/write", 0));
    assert_false(ck_role_allows(uaa, "Microsoft.Resources/subscriptions/resourceGroups/write", 0));
    assert_true(ck_role_allows(kvseu, "Microsoft.KeyVault/vaults/keys/unwrap/action", 1));
    assert_true(ck_role_allows(kvseu, "microsoft.keyvault/vaults/keys/wrap/action", 1));
    assert_false(ck_role_allows(kvseu, "Microsoft.KeyVault/vaults/keys/create/action", 1));
    assert_false(ck_role_allows(kvseu, "Microsoft.KeyVault/vaults/keys/unwrap/action", 0));
    assert_true(ck_role_allows(officer, "Microsoft.KeyVault/vaults/keys/rotate/action", 1));
    assert_true(ck_role_allows(officer, "Microsoft.KeyVault/vaults/keyrotationpolicies/write", 1));
    assert_true(ck_role_allows(blob_reader, "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", 1));
    assert_false(ck_role_allows(blob_reader, "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write", 1));
    assert_false(ck_role_allows(NULL, "x", 0));
    assert_false(ck_role_allows(owner, "", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wildcard_match),
        cmocka_unit_test(test_builtin_guids),
        cmocka_unit_test(test_role_allows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
