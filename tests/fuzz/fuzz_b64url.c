/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz harness for ck_b64url_decode and ck_b64_decode: never crash, and decoding is canonical, so
 * re-encoding what decoded gives back the input (without padding for base64url). */
#include "core/codec.h"
#include "core/mem.h"
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    uint8_t *out = NULL;
    size_t outlen = 0;
    if (ck_b64url_decode(s, size, &out, &outlen) == 0) {
        char *again = ck_b64url_encode(out, outlen);
        size_t n = size;
        while (n > 0 && s[n - 1] == '=')
            n--;
        CK_FUZZ_CHECK(again != NULL && strlen(again) == n && memcmp(again, s, n) == 0);
        ck_free(again);
        ck_free(out);
    }
    if (ck_b64_decode(s, size, &out, &outlen) == 0) {
        char *again = ck_b64_encode(out, outlen);
        CK_FUZZ_CHECK(again != NULL && strlen(again) == size && memcmp(again, s, size) == 0);
        ck_free(again);
        ck_free(out);
    }
    return 0;
}
