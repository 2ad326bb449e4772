/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_CRYPTO_RANDOM_H
#define CK_CRYPTO_RANDOM_H

#include "core/err.h"
#include "core/secret.h"

#include <stddef.h>

/* Makes a secret of len random bytes from OpenSSL's private DRBG. */
int ck_rand_secret(size_t len, struct ck_secret **out) CK_MUST_CHECK;
/* Fills p with len public random bytes. */
int ck_rand_bytes(void *p, size_t len) CK_MUST_CHECK;

#endif
