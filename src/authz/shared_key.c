/* SPDX-License-Identifier: Apache-2.0 */
/* The internal credentials (operator, resource provider) presented as an Authorization scheme. */
#include "authz/shared_key.h"

#include <string.h>
#include <strings.h>

int ck_shared_key_ok(const char *authorization, const char *scheme, const struct ck_secret *key)
{
    size_t sl;
    if (authorization == NULL || scheme == NULL || key == NULL)
        return 0;
    sl = strlen(scheme);
    if (strncasecmp(authorization, scheme, sl) != 0 || authorization[sl] != ' ')
        return 0;
    const char *v = authorization + sl + 1;
    /* Key texts may or may not carry a terminating NUL inside the secret. */
    size_t klen = strnlen((const char *)ck_secret_ptr(key), ck_secret_len(key));
    return ck_ct_equal(v, strlen(v), ck_secret_ptr(key), klen);
}
