/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_CORE_FSUTIL_H
#define CK_CORE_FSUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Creates dir and its parents with the given mode; existing directories are fine. 0 or -1. */
int ck_mkdirs(const char *dir, unsigned mode);
/*
 * Writes data to path atomically: a temporary file in the same directory with the given mode,
 * fsync, rename, fsync of the directory. Returns 0 or -1; on failure the old file is untouched.
 */
int ck_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* Reads a whole file of at most limit bytes. Returns 0 and a NUL-terminated *out (caller frees
 * with ck_freezero(*out, *len + 1) if it may be secret) or -1 (errno set; EFBIG over limit). */
int ck_read_file(const char *path, size_t limit, char **out, size_t *len);
/* Joins two path parts into a new string. */
char *ck_path_join(const char *a, const char *b);

#endif
