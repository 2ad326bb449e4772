/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_SERVICES_ST_INT_H
#define CK_SERVICES_ST_INT_H

/* Storage service internals shared by its source files. */
#include "authz/checkaccess.h"
#include "authz/jwt.h"
#include "core/secret.h"
#include "db/db.h"
#include "http/server/httpd.h"
#include "json/json.h"
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
struct st_kek_state;
struct st_ks;
struct st_sub;
struct st_lockname;

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
    /* Opened AEKs of accounts under the root key, by account (st_account.c). */
    pthread_mutex_t aek_lock;
    struct st_aek_entry *aeks;
    /* The customer's key: the chain client (st_kek.c) and each account's key state, the keeper
     * thread, event subscriptions and per-account write locks (st_keystate.c). */
    struct st_kek_state *kek;
    pthread_mutex_t ks_lock;
    pthread_cond_t ks_cond;
    struct st_ks *kss;
    struct st_sub *subs;
    struct st_lockname *locked;
    pthread_t keeper;
    int keeper_running, checks_running;
    volatile int keeper_stop;
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
    char *aek_kek; /* read: the versioned key id wrapping the AEK, or NULL (root key) */
    /* Write (st_account_insert, st_account_update): with set_wrap, the AEK's new wrapping goes in
     * the same statement: wrap/wrap_len under the key aek_kek (NULL: wrap is under the root key). */
    int set_wrap;
    const uint8_t *wrap;
    size_t wrap_len;
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

/* Reads the wrapped AEK of a row and its KEK id (NULL: under the root key). *wrapped is ck_malloc'd. */
int st_account_wrapping(struct st *st, const char *name, struct ck_bytes *wrapped, char **kek);
/* Replaces the wrapping of an account under a customer key, only if it is still old_kek (a
 * version follow). encryption is the new encryption JSON. Returns CK_OK, CK_E_EXISTS when the row
 * moved meanwhile, or an error. */
int st_account_rewrap(struct st *st, const char *name, const char *old_kek, const char *new_kek, const uint8_t *wrap,
                      size_t wrap_len, const char *encryption);
/* The AEK of an account under the root key (AES key wrap), unwrapped; CK_E_FORBIDDEN when the
 * account is under a customer key. */
int st_account_root_aek(struct st *st, const char *name, struct ck_secret **aek);
/* Drops the cached root-key AEK of name. */
void st_aek_drop(struct st *st, const char *name);

/* ---- st_keystate.c: the key state of accounts under a customer key (docs/cmk.md) ---- */

/* Why an account's AEK cannot be used: an HTTP status and a Blob error code. */
struct st_key_err {
    int status;
    const char *code;
    char message[400];
};
/* The AEK for a data operation (any key source). Returns CK_OK with *aek (caller frees), or
 * CK_E_FORBIDDEN / CK_E_UNAVAILABLE with *err filled, or another error. Without wait, an account
 * under a customer key that has no AEK in memory answers at once (503) instead of unwrapping it. */
int st_account_key(struct st *st, const char *name, int wait, struct ck_secret **aek, struct st_key_err *err);
/* The AEK for a change of settings: cached, or unwrapped under the current wrapping (fresh chain).
 * On refusal *f says why. */
struct st_kek_fail;
int st_ks_current_aek(struct st *st, const char *name, struct ck_secret **aek, struct st_kek_fail *f);
/* After a committed change of name's settings: reloads them; aek (may be NULL) is the AEK, which
 * did not change. */
void st_ks_changed(struct st *st, const char *name, const struct ck_secret *aek);
/* The account is gone. */
void st_ks_forget(struct st *st, const char *name);
/* properties.keyState of name, or NULL for an account under the root key. */
json_t *st_ks_json(struct st *st, const char *name);
/* Serializes changes of one account's key settings (RP writes, version follows). */
void st_acct_lock(struct st *st, const char *name);
void st_acct_unlock(struct st *st, const char *name);
/* The keeper: re-validation, version follow, events. */
int st_ks_init(struct st *st);
int st_ks_start(struct st *st);
void st_ks_stop(struct st *st);
void st_ks_cleanup(struct st *st);

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
