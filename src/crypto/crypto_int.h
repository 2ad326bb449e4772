/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_CRYPTO_INT_H
#define CK_CRYPTO_INT_H

#include <openssl/evp.h>

struct ck_pkey {
    EVP_PKEY *pkey;
};

/* Takes ownership of pk; returns NULL (and frees pk) when out of memory. */
struct ck_pkey *ck_pkey_wrap(EVP_PKEY *pk);

#endif
