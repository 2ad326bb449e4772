/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_AUTHZ_ARMPATH_H
#define CK_AUTHZ_ARMPATH_H

#include "core/mem.h"

/* An ARM resource path as a resource provider receives it (docs/internal-api.md). Strings live in
 * the arena given to ck_arm_path_parse. */
struct ck_arm_path {
    char *sub;   /* subscription id */
    char *rg;    /* resource group, or NULL for subscription-wide paths */
    char *name;  /* resource name, or NULL for the collection */
    char *child; /* the segment after the name, or NULL */
    int more;    /* how many segments follow child */
};

/*
 * Parses "/subscriptions/{s}[/resourceGroups/{rg}]/providers/{ns}/{type}[/{name}[/{child}...]]",
 * matching fixed segments, ns and type without regard to case and ignoring doubled slashes.
 * Returns 0 and fills *out, or -1 when the path is not of that shape.
 */
int ck_arm_path_parse(struct ck_arena *a, const char *path, const char *ns, const char *type, struct ck_arm_path *out);

#endif
