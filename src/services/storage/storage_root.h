/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_SERVICES_STORAGE_ROOT_H
#define CK_SERVICES_STORAGE_ROOT_H

/*
 * Offline custody of the storage platform root key (docs/storage.md, "Root key rotation"). Every
 * account row records the identifier of the root key its AEK is wrapped under and its account
 * keys are sealed under ("root:" + 16 hex digits of HMAC-SHA256(root, "crosskey root key id")).
 * crosskeyd uses these before it starts the storage service: to finish or undo a rotation a crash
 * interrupted, to refuse a root key the store was not written under, and for
 * `crosskeyd --rotate-root-key`. They open DIR/storage/storage.db themselves and must not run
 * while a storage service has it open.
 */
#include "core/err.h"
#include "core/secret.h"

/*
 * Counts the account rows under root (*mine) and under any other root key (*other). Creates the
 * store when missing. Returns CK_OK or an error; outputs are set only on success.
 */
int st_root_status(const char *storage_dir, const struct ck_secret *root, long *mine, long *other) CK_MUST_CHECK;

/*
 * Re-wraps every AEK and re-seals every account key from old_root to new_root in one transaction:
 * either every row moves to new_root's identifier or none does. Blob data, metadata and extents are
 * not touched. Rows under a third key make it fail with CK_E_CRYPTO before anything changes.
 * Returns CK_OK and the number of rows moved in *rows, or an error (nothing changed).
 */
int st_root_rotate(const char *storage_dir, const struct ck_secret *old_root, const struct ck_secret *new_root,
                   long *rows) CK_MUST_CHECK;

/* Writes the identifier of root ("root:" + 16 hex digits) into out (at least 32 bytes). */
void st_root_key_id(const struct ck_secret *root, char *out, size_t outlen);

#endif
