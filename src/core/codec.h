/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_CORE_CODEC_H
#define CK_CORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

/*
 * Text encodings. Encoders return a NUL-terminated string the caller frees with ck_free, or NULL
 * when out of memory. Decoders return 0 and set *out and *outlen (caller frees *out) or -1 on
 * malformed input, in which case nothing is allocated.
 */
char *ck_b64_encode(const uint8_t *p, size_t n);
char *ck_b64url_encode(const uint8_t *p, size_t n); /* without padding */
int ck_b64_decode(const char *s, size_t n, uint8_t **out, size_t *outlen) __attribute__((warn_unused_result));
/* Accepts base64url with or without padding. */
int ck_b64url_decode(const char *s, size_t n, uint8_t **out, size_t *outlen) __attribute__((warn_unused_result));
char *ck_hex_encode(const uint8_t *p, size_t n); /* lower case */

/* Writes a random version-4 UUID in lower-case canonical form into out[37]. Returns 0 or -1. */
int ck_uuid_new(char out[37]);
/* Returns 1 when s is a canonical UUID (any case), else 0. */
int ck_uuid_valid(const char *s);
/* Fills p with n bytes from the kernel's CSPRNG. Returns 0 or -1. */
int ck_random(void *p, size_t n);

/* Percent-decodes s[0..n) ('+' to space when form is set). Returns a new string or NULL on
 * malformed escapes or embedded NUL. */
char *ck_url_decode(const char *s, size_t n, int form);
/* Percent-encodes s for a query component. */
char *ck_url_encode(const char *s);

#endif
