/* SPDX-License-Identifier: Apache-2.0 */
/* ck_arm_path_parse: the ARM resource paths resource providers receive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "authz/armpath.h"

static void test_shapes(void **state)
{
    struct ck_arena *a = ck_arena_new();
    struct ck_arm_path p;
    (void)state;
    const char *ns = "Microsoft.KeyVault", *type = "vaults";
    assert_int_equal(ck_arm_path_parse(a, "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v1",
                                       ns, type, &p), 0);
    assert_string_equal(p.sub, "s1");
    assert_string_equal(p.rg, "rg");
    assert_string_equal(p.name, "v1");
    assert_null(p.child);
    assert_int_equal(p.more, 0);
    /* Case-insensitive fixed segments, doubled slashes, a child and more. */
    assert_int_equal(ck_arm_path_parse(a, "//SUBSCRIPTIONS/s1/resourcegroups/rg/providers/microsoft.keyvault/VAULTS/v1/auditRecords/x",
                                       ns, type, &p), 0);
    assert_string_equal(p.child, "auditRecords");
    assert_int_equal(p.more, 1);
    /* Subscription-wide collection. */
    assert_int_equal(ck_arm_path_parse(a, "/subscriptions/s1/providers/Microsoft.KeyVault/vaults", ns, type, &p), 0);
    assert_null(p.rg);
    assert_null(p.name);
    /* Other shapes are refused. */
    assert_int_equal(ck_arm_path_parse(a, "/subscriptions/s1/resourceGroups/rg", ns, type, &p), -1);
    assert_int_equal(ck_arm_path_parse(a, "/subscriptions/s1/providers/Microsoft.Storage/vaults/v", ns, type, &p), -1);
    assert_int_equal(ck_arm_path_parse(a, "/providers/Microsoft.KeyVault/vaults", ns, type, &p), -1);
    assert_int_equal(ck_arm_path_parse(a, "", ns, type, &p), -1);
    ck_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_shapes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
