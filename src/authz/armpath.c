/* SPDX-License-Identifier: Apache-2.0 */
/* ARM resource paths, parsed the same way by every resource provider. */
#include "authz/armpath.h"

#include <string.h>
#include <strings.h>

#define CK_ARM_PATH_MAX_SEGS 16

int ck_arm_path_parse(struct ck_arena *a, const char *path, const char *ns, const char *type, struct ck_arm_path *out)
{
    char *seg[CK_ARM_PATH_MAX_SEGS];
    int i = 2, n = ck_path_segments(a, path, seg, CK_ARM_PATH_MAX_SEGS);
    memset(out, 0, sizeof(*out));
    if (n < 2 || strcasecmp(seg[0], "subscriptions") != 0)
        return -1;
    out->sub = seg[1];
    if (i + 1 < n && strcasecmp(seg[i], "resourceGroups") == 0) {
        out->rg = seg[i + 1];
        i += 2;
    }
    if (i + 2 >= n || strcasecmp(seg[i], "providers") != 0 || strcasecmp(seg[i + 1], ns) != 0 ||
        strcasecmp(seg[i + 2], type) != 0)
        return -1;
    i += 3;
    if (i < n)
        out->name = seg[i++];
    if (i < n)
        out->child = seg[i++];
    out->more = n - i;
    return 0;
}
