/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_CORE_SECRET_H
#define CK_CORE_SECRET_H

#include <stddef.h>
#include <stdint.h>

/*
 * The one type for key material, client secrets and tokens. The bytes live in memory that is
 * locked where the system allows it and wiped when the secret is freed. There is no print
 * function; the bytes are reached only through ck_secret_ptr(), at the point where they are
 * handed to a crypto call or a wire protocol.
 */
struct ck_secret;

/* Returns a secret of len zero bytes, or NULL when out of memory. */
struct ck_secret *ck_secret_new(size_t len);
/* Returns a secret holding a copy of p[0..len), or NULL. */
struct ck_secret *ck_secret_from(const void *p, size_t len);
/* Wipes and frees s. NULL is a no-op. */
void ck_secret_free(struct ck_secret *s);
uint8_t *ck_secret_ptr(const struct ck_secret *s);
size_t ck_secret_len(const struct ck_secret *s);

/* Constant-time comparison of two byte strings. Returns 1 when equal, 0 otherwise; the time
 * taken depends only on the lengths. */
int ck_ct_equal(const void *a, size_t alen, const void *b, size_t blen) __attribute__((warn_unused_result));

#endif
