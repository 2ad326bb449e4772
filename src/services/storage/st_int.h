/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_SERVICES_ST_INT_H
#define CK_SERVICES_ST_INT_H

/* Storage service internals shared by its source files. */
#include "authz/checkaccess.h"
#include "authz/jwt.h"
#include "core/secret.h"
#include "db/db.h"
#include "http/server/httpd.h"
#include "services/storage/st_objstore.h"
#include "services/storage/storage.h"

#include <pthread.h>
#include <stdint.h>

#define ST_DEV_ACCOUNT "devstoreaccount1"
#define ST_DEV_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define ST_ACCOUNT_KEY_LEN 64 /* bytes of one account key (512 bits) */
#define ST_AEK_LEN 32

struct st_aek_entry;
struct st_txn;

struct st {
    struct st_config cfg; /* strings below are owned copies */
    char *data_dir, *authority, *arm_endpoint, *ca_file, *listen_addr, *public_host, *tls_cert, *tls_key;
    struct ck_secret *root_key;
    struct ck_secret *rp_key;
    struct ck_secret *operator_key;
    struct ck_db *db;  /* writes: every change goes through the group commit (st_index.c) */
    struct ck_db *rdb; /* reads, on their own connection: they never wait for a commit's sync */
    const struct st_objstore_ops *objs; /* where parts' bytes live (st_objstore.h) */
    void *objs_ctx;
    struct ck_verifier *verifier;
    struct ck_access *access; /* ARM check-access for bearer tokens */
    struct ck_httpd *blob_l; /* the HTTPS blob origin */
    struct ck_httpd *dev_l;  /* the plain-HTTP development listener, or NULL */
    char blob_origin[300];
    char dev_origin[64];
    /* Group commit of index changes (st_index.c). */
    pthread_mutex_t txn_lock;
    pthread_cond_t txn_cond;
    struct st_txn *txn_head, **txn_tail;
    int txn_leader;
    /* The hourly sweeper of expired uncommitted blocks (st.c). */
    pthread_t sweeper;
    int sweeper_running, sweeper_stop;
    pthread_mutex_t sweeper_lock;
    pthread_cond_t sweeper_cond;
    /* Opened AEKs by account (st_account.c). */
    pthread_mutex_t aek_lock;
    struct st_aek_entry *aeks;
};

/* ---- st.c ---- */
/* Opens the index (storage.db) and the object store of parts under data_dir. */
int st_store_open(struct st *st);
void st_store_close(struct st *st);

/* ---- st_account.c: accounts, their keys and their AEK ---- */

/* The data-plane view of an account; strings live in the caller's arena. */
struct st_account {
    char *name, *arm_id, *subscription_id, *resource_group, *tenant_id;
    int dev; /* the development account (not an ARM resource) */
};

/* Loads an account by name. Returns CK_OK or CK_E_NOT_FOUND. */
int st_account_get(struct st *st, struct ck_arena *a, const char *name, struct st_account *out);
/* The two account keys (raw 64 bytes each), unsealed; the caller frees both. */
int st_account_keys(struct st *st, const char *name, struct ck_secret **key1, struct ck_secret **key2);
/* The account's AEK (32 bytes), unwrapped and cached; the caller frees its copy. */
int st_account_aek(struct st *st, const char *name, struct ck_secret **aek);
/* Makes sure the development account exists (its well-known key, an AEK under the root key). */
int st_dev_account_ensure(struct st *st);
/* Wipes and drops every cached AEK. */
void st_aek_cache_clear(struct st *st);

/* ---- st_account.c ---- */

/* A full account row, as the resource provider reads and writes it. Strings live in the caller's
 * arena; tags, identity, encryption and properties are JSON texts (docs/storage.md). */
struct st_account_row {
    char *name, *arm_id, *sub, *rg, *tenant_id, *location, *kind, *sku;
    char *tags, *identity, *encryption, *properties;
    int64_t key1_time, key2_time, created_at, updated_at;
    int dev;
};

/* "root:" + 16 hex digits: the identifier of a root key, stored beside what it wraps. */
#define ST_ROOT_KID_MAX 32
void st_root_kid(const struct ck_secret *root, char out[ST_ROOT_KID_MAX]);
/* Loads one row. Returns CK_OK or CK_E_NOT_FOUND (or CK_E_DB). */
int st_account_row_get(struct st *st, struct ck_arena *a, const char *name, struct st_account_row *out);
/* Names of the ARM accounts of a subscription (and group, when rg is not NULL), sorted, in the
 * arena: *names gets an array of *n strings. */
int st_account_names(struct st *st, struct ck_arena *a, const char *sub, const char *rg, char ***names, int *n);
/* Inserts a new account with two fresh account keys and a fresh AEK (r->key1_time, key2_time,
 * created_at and updated_at are set here). Returns CK_OK, CK_E_EXISTS when the name is taken, or
 * an error. */
int st_account_insert(struct st *st, struct st_account_row *r);
/* Writes the mutable columns of an existing row (tags, identity, encryption, properties, sku,
 * kind; updated_at is set here). Returns CK_OK or CK_E_NOT_FOUND. */
int st_account_update(struct st *st, struct st_account_row *r);
/* Replaces account key slot (1 or 2) with a fresh random key. Returns CK_OK or CK_E_NOT_FOUND. */
int st_account_regenerate(struct st *st, const char *name, int slot);
/* Deletes the account and, in the same transaction, its containers, blobs, staged blocks and
 * parts; their extent files are removed after the commit (any missed are swept on start); its
 * cached AEK is wiped.
 * Returns CK_OK or CK_E_NOT_FOUND. */
int st_account_delete(struct st *st, const char *name);

/* ---- st_rp.c ---- */
void st_handle_rp(struct st *st, struct ck_req *req, struct ck_resp *resp);

/* ---- st_blob.c: the Blob data plane ---- */
/* Called once a request's headers are in: authenticates, and for uploads sets a body sink so that
 * the body streams into the extent store. */
void st_blob_begin(void *ctx, struct ck_req *req, struct ck_resp *resp);
void st_blob_handle(void *ctx, struct ck_req *req, struct ck_resp *resp);
void st_blob_error(void *ctx, struct ck_req *req, struct ck_resp *resp, int status, const char *code,
                   const char *message);

/* Collects orphaned extents and temporary files, and expired uncommitted blocks (on start). */
int st_blob_recover(struct st *st);
/* Discards staged blocks older than seven days, with their data (run hourly while serving). */
int st_blocks_expire(struct st *st);

#endif
