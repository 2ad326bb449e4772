/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_SERVICES_ST_OBJSTORE_H
#define CK_SERVICES_ST_OBJSTORE_H

/*
 * The seam for blob data (DESIGN.md section 5): where the bytes of parts live. The file-system
 * backend keeps one file per part under DIR/storage/extents/; a distributed object store (RADOS,
 * S3) can implement the same table. Objects are written once — created, appended to, then
 * published durably (or abandoned) — read at offsets, removed, and listed for orphan collection.
 * What they hold is already encrypted (docs/data-format.md); a backend never sees plaintext.
 */
#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

struct st_objstore_ops {
    const char *name;
    int (*open_store)(const char *dir, void **ctx);
    void (*close_store)(void *ctx);
    /* Starts a new object; it is invisible until published. */
    int (*create)(void *ctx, const char *id, void **w);
    int (*append)(void *w, const void *p, size_t n);
    /* Makes the object durable and visible under its id, and frees w (also on failure). */
    int (*publish)(void *w);
    /* Drops an unpublished object and frees w. NULL is a no-op. */
    void (*abandon)(void *w);
    /* Opens a published object for reading; *size is its length. CK_E_NOT_FOUND when absent. */
    int (*open)(void *ctx, const char *id, void **r, uint64_t *size);
    /* Reads exactly n bytes at off, or fails. */
    int (*read_at)(void *r, void *buf, size_t n, uint64_t off);
    void (*close)(void *r);
    /* Removes a published object; an absent one is not an error. */
    int (*remove)(void *ctx, const char *id);
    /* Drops every unpublished leftover, then asks keep(arg, id) about each published object and
     * removes those it answers 0 for (a negative answer stops with CK_E_DB). */
    int (*collect)(void *ctx, int (*keep)(void *arg, const char *id), void *arg, long *removed);
};

/* Files under a directory: tmp/ for objects being written, extents/xx/<id>.ckb once published
 * (fsync, rename, directory fsync). */
extern const struct st_objstore_ops st_objstore_fs;

#endif
