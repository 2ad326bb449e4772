/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz harness for ck_jwt_decode_unverified and ck_bearer_token: never crash, and a decoded
 * token yields two JSON objects. */
#include "authz/jwt.h"
#include "core/mem.h"
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *tok = ck_strndup((const char *)data, size); /* tokens are C strings */
    json_t *h = NULL, *p = NULL;
    if (tok == NULL)
        return 0;
    if (ck_jwt_decode_unverified(tok, &h, &p) == CK_OK) {
        CK_FUZZ_CHECK(json_is_object(h) && json_is_object(p));
        (void)ck_json_str(h, "alg");
        (void)ck_json_str(p, "iss");
        json_decref(h);
        json_decref(p);
    }
    const char *b = ck_bearer_token(tok);
    CK_FUZZ_CHECK(b == NULL || (b >= tok && b < tok + strlen(tok)));
    ck_free(tok);
    return 0;
}
