/* SPDX-License-Identifier: Apache-2.0 */
/* Random secrets from OpenSSL's DRBG. */
#include "crypto/random.h"

#include <openssl/rand.h>

int ck_rand_secret(size_t len, struct ck_secret **out)
{
    struct ck_secret *s = ck_secret_new(len);
    if (s == NULL)
        return CK_E_NOMEM;
    if (RAND_priv_bytes(ck_secret_ptr(s), (int)len) != 1) {
        ck_secret_free(s);
        return CK_E_CRYPTO;
    }
    *out = s;
    return CK_OK;
}

int ck_rand_bytes(void *p, size_t len)
{
    return RAND_bytes(p, (int)len) == 1 ? CK_OK : CK_E_CRYPTO;
}
