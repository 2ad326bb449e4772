/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_AUTHZ_ROLES_H
#define CK_AUTHZ_ROLES_H

/*
 * Azure's built-in role definitions (real GUIDs, actions and data actions), and the matching of an
 * operation against a role. The role assignments themselves belong to the ARM service.
 */
#include <stddef.h>

struct ck_role {
    const char *id;   /* GUID */
    const char *name; /* "Key Vault Crypto Service Encryption User" */
    const char *description;
    const char *const *actions;
    const char *const *not_actions;
    const char *const *data_actions;
    const char *const *not_data_actions;
};

/* Returns the built-in roles and their number. */
const struct ck_role *ck_roles_builtin(size_t *count);
/* Finds a role by GUID (case-insensitive), or NULL. */
const struct ck_role *ck_role_find(const char *guid);
/* Finds a role by display name (case-insensitive), or NULL. */
const struct ck_role *ck_role_find_by_name(const char *name);
/*
 * Returns 1 when the role grants operation: a control-plane action when is_data is 0, a data
 * action otherwise. Wildcards follow Azure: "*" matches any run of characters, comparison is
 * case-insensitive, and not_actions subtract.
 */
int ck_role_allows(const struct ck_role *role, const char *operation, int is_data);
/* Azure's wildcard match of an action pattern against an operation (case-insensitive). */
int ck_action_match(const char *pattern, const char *operation);

#endif
