/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_CRYPTO_SEGMENT_H
#define CK_CRYPTO_SEGMENT_H

/*
 * The blob data format CKB1 (docs/data-format.md, "Blob data"): a 72-byte header, then the
 * plaintext in fixed-size AES-256-GCM segments under a per-part key derived with HKDF-SHA256 from
 * the account key, a salt and the blob's identity. The AAD of each segment binds the header, the
 * segment index and a final flag. Also HKDF itself and a streaming MD5 for Content-MD5.
 */
#include "core/err.h"
#include "core/mem.h"
#include "core/secret.h"

#include <stddef.h>
#include <stdint.h>

#define CK_SEG_HEADER_LEN 72
#define CK_SEG_TAG_LEN 16
#define CK_SEG_SALT_LEN 32
#define CK_SEG_ID_LEN 16
#define CK_SEG_DEFAULT_SIZE (64u * 1024u)
#define CK_SEG_MAX_SIZE (4u * 1024u * 1024u)

struct ck_seg_header {
    uint32_t seg_size;               /* plaintext bytes per segment */
    uint64_t length;                 /* plaintext bytes in all */
    uint8_t part_id[CK_SEG_ID_LEN];
    uint8_t salt[CK_SEG_SALT_LEN];
};

void ck_seg_header_encode(const struct ck_seg_header *h, uint8_t out[CK_SEG_HEADER_LEN]);
/* Parses a header. Returns CK_OK, or CK_E_CRYPTO when the magic, version, algorithm or a field is
 * wrong. */
int ck_seg_header_decode(const uint8_t in[CK_SEG_HEADER_LEN], struct ck_seg_header *h) CK_MUST_CHECK;
/* Segments in a part (at least 1). */
uint64_t ck_seg_count(const struct ck_seg_header *h);
/* Plaintext bytes in segment i. */
size_t ck_seg_plain_len(const struct ck_seg_header *h, uint64_t i);
/* Offset of segment i in the file, and the exact file size. */
uint64_t ck_seg_offset(const struct ck_seg_header *h, uint64_t i);
uint64_t ck_seg_file_size(const struct ck_seg_header *h);

/* The keyed state for one part: its DEK, the encoded header and a cipher context. Not shared
 * between threads. */
struct ck_seg;

/* Derives the part's DEK from aek (32 bytes) for the part described by h, bound to the account,
 * container and blob names. */
int ck_seg_new(const struct ck_secret *aek, const struct ck_seg_header *h, const char *account,
               const char *container, const char *blob, struct ck_seg **out) CK_MUST_CHECK;
void ck_seg_free(struct ck_seg *s);
/* Encrypts segment i (n = ck_seg_plain_len bytes) into out (n + 16 bytes). */
int ck_seg_seal(struct ck_seg *s, uint64_t i, const uint8_t *pt, size_t n, uint8_t *out) CK_MUST_CHECK;
/* Decrypts segment i (in: n + 16 bytes) into out (n bytes). CK_E_CRYPTO when the tag does not verify;
 * out is then wiped. */
int ck_seg_open(struct ck_seg *s, uint64_t i, const uint8_t *in, size_t inlen, uint8_t *out) CK_MUST_CHECK;

/* HKDF-SHA256 (RFC 5869). */
int ck_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt, size_t saltlen, const void *info,
                   size_t infolen, uint8_t *out, size_t outlen) CK_MUST_CHECK;

/* Streaming MD5 (Content-MD5 of blob bodies; not used for security). */
struct ck_md5;
struct ck_md5 *ck_md5_new(void);
void ck_md5_update(struct ck_md5 *m, const void *p, size_t n);
/* Writes the 16-byte digest and frees m. */
void ck_md5_final(struct ck_md5 *m, uint8_t out[16]);
void ck_md5_free(struct ck_md5 *m);

#endif
