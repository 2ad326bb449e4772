/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz harness for ck_url_decode: never crash; a decoded string has no NUL, is no longer than the
 * input, and survives an encode/decode round trip unchanged. */
#include "core/codec.h"
#include "core/mem.h"
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int form = 0; form <= 1; form++) {
        char *d = ck_url_decode((const char *)data, size, form);
        if (d == NULL)
            continue;
        size_t n = strlen(d);
        CK_FUZZ_CHECK(n <= size);
        CK_FUZZ_CHECK(memchr(data, '\0', size) == NULL);
        char *e = ck_url_encode(d);
        CK_FUZZ_CHECK(e != NULL);
        char *d2 = ck_url_decode(e, strlen(e), form);
        CK_FUZZ_CHECK(d2 != NULL && strcmp(d, d2) == 0);
        ck_free(d2);
        ck_free(e);
        ck_free(d);
    }
    return 0;
}
