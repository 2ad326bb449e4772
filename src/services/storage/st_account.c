/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Storage accounts in the store, and their secrets. Each account has two 512-bit account keys
 * (Shared Key, SAS), kept only sealed (AES-256-GCM) under a key derived from the platform root key
 * with AAD binding the account name and the key slot, and one 256-bit AEK, kept only wrapped: with
 * AES key wrap (RFC 3394) under the root key, or, for an account under a customer key, only by that
 * key through the customer's vault (aek_kek names the key version; docs/cmk.md, st_keystate.c).
 * Every row records the identifier of the root key it was written under, so that rotating the root
 * key (st_root_rotate, offline) re-wraps and re-seals every row in one transaction without touching
 * blob data, and so that a wrong root key is refused instead of producing garbage. Opened AEKs of
 * root-key accounts are cached per account here.
 */
#include "services/storage/st_data.h"
#include "services/storage/storage_root.h"
#include "core/codec.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "crypto/keyops.h"
#include "crypto/random.h"

#include <stdio.h>
#include <string.h>

/* Reads go to the read connection when there is one. */
#define ST_RDB(st) ((st)->rdb != NULL ? (st)->rdb : (st)->db)

#define ST_KID_LABEL "crosskey root key id"
#define ST_SEAL_LABEL "crosskey storage account-key seal v1"
#define ST_KEY_AAD "crosskey storage account key v1"
#define ST_MAX_LIST 5000

struct st_aek_entry {
    struct st_aek_entry *next;
    char *name;
    struct ck_secret *aek;
};

/* ---- keys derived from the root key ---- */

void st_root_key_id(const struct ck_secret *root, char *out, size_t outlen)
{
    uint8_t mac[CK_SHA256_LEN];
    char *hex;
    if (outlen == 0)
        return;
    out[0] = '\0';
    if (ck_hmac_sha256(ck_secret_ptr(root), ck_secret_len(root), ST_KID_LABEL, strlen(ST_KID_LABEL), mac) != CK_OK)
        return;
    hex = ck_hex_encode(mac, 8);
    if (hex != NULL)
        snprintf(out, outlen, "root:%s", hex);
    ck_free(hex);
    ck_wipe(mac, sizeof(mac));
}

void st_root_kid(const struct ck_secret *root, char out[ST_ROOT_KID_MAX])
{
    st_root_key_id(root, out, ST_ROOT_KID_MAX);
}

/* The sealing key for account keys: HMAC-SHA256(root, label). */
static int st_seal_key(const struct ck_secret *root, struct ck_secret **out)
{
    uint8_t k[CK_SHA256_LEN];
    int rc = ck_hmac_sha256(ck_secret_ptr(root), ck_secret_len(root), ST_SEAL_LABEL, strlen(ST_SEAL_LABEL), k);
    if (rc == CK_OK) {
        *out = ck_secret_from(k, sizeof(k));
        rc = *out ? CK_OK : CK_E_NOMEM;
    }
    ck_wipe(k, sizeof(k));
    return rc;
}

/* AAD of a sealed account key: label, account name and slot, NUL-separated. */
static size_t st_key_aad(const char *name, int slot, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s%c%s%ckey%d", ST_KEY_AAD, 0, name, 0, slot);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int st_key_seal(const struct ck_secret *seal, const char *name, int slot, const struct ck_secret *key,
                       struct ck_bytes *out)
{
    char aad[128];
    size_t al = st_key_aad(name, slot, aad, sizeof(aad));
    if (al == 0)
        return CK_E_INVALID;
    return ck_seal(seal, aad, al, ck_secret_ptr(key), ck_secret_len(key), &out->ptr, &out->len);
}

static int st_key_open(const struct ck_secret *seal, const char *name, int slot, const void *in, size_t inlen,
                       struct ck_secret **key)
{
    char aad[128];
    size_t al = st_key_aad(name, slot, aad, sizeof(aad));
    struct ck_secret *k = NULL;
    int rc;
    if (al == 0 || in == NULL)
        return CK_E_CRYPTO;
    rc = ck_open(seal, aad, al, in, inlen, &k);
    if (rc != CK_OK)
        return CK_E_CRYPTO;
    if (ck_secret_len(k) != ST_ACCOUNT_KEY_LEN) {
        ck_secret_free(k);
        return CK_E_CRYPTO;
    }
    *key = k;
    return CK_OK;
}

/* ---- rows ---- */

static int st_blob_copy(struct ck_db_stmt *s, int col, struct ck_bytes *out);

#define ST_ROW_COLS                                                                                                    \
    "name, arm_id, subscription_id, resource_group, tenant_id, location, kind, sku, tags, identity, encryption,"      \
    " properties, key1_time, key2_time, created_at, updated_at, dev, aek_kek"

static char *st_col(struct ck_arena *a, struct ck_db_stmt *s, int i)
{
    const char *v = ck_db_col_text(s, i);
    return ck_arena_strdup(a, v ? v : "");
}

static int st_row_read(struct ck_arena *a, struct ck_db_stmt *s, struct st_account_row *r)
{
    char **f[] = {&r->name, &r->arm_id,   &r->sub,        &r->rg,  &r->tenant_id, &r->location,
                  &r->kind, &r->sku,      &r->tags,       &r->identity, &r->encryption, &r->properties};
    for (int i = 0; i < 12; i++) {
        if ((*f[i] = st_col(a, s, i)) == NULL)
            return CK_E_NOMEM;
    }
    r->key1_time = ck_db_col_int64(s, 12);
    r->key2_time = ck_db_col_int64(s, 13);
    r->created_at = ck_db_col_int64(s, 14);
    r->updated_at = ck_db_col_int64(s, 15);
    r->dev = (int)ck_db_col_int64(s, 16);
    const char *kek = ck_db_col_text(s, 17);
    r->aek_kek = kek != NULL ? ck_arena_strdup(a, kek) : NULL;
    if (kek != NULL && r->aek_kek == NULL)
        return CK_E_NOMEM;
    return CK_OK;
}

int st_account_row_get(struct st *st, struct ck_arena *a, const char *name, struct st_account_row *out)
{
    struct ck_db_stmt *s = NULL;
    struct st_account_row r;
    int rc = CK_E_DB, step;
    memset(&r, 0, sizeof(r));
    ck_db_lock(ST_RDB(st));
    if (ck_db_prepare(ST_RDB(st), "SELECT " ST_ROW_COLS " FROM accounts WHERE name = ?1", &s) == CK_OK &&
        ck_db_bind_text(s, 1, name) == CK_OK) {
        step = ck_db_step(s);
        if (step == 1)
            rc = st_row_read(a, s, &r);
        else if (step == 0)
            rc = CK_E_NOT_FOUND;
    }
    ck_db_stmt_free(s);
    ck_db_unlock(ST_RDB(st));
    if (rc == CK_OK)
        *out = r;
    return rc;
}

int st_account_get(struct st *st, struct ck_arena *a, const char *name, struct st_account *out)
{
    struct st_account_row r;
    int rc = st_account_row_get(st, a, name, &r);
    if (rc != CK_OK)
        return rc;
    out->name = r.name;
    out->arm_id = r.arm_id;
    out->subscription_id = r.sub;
    out->resource_group = r.rg;
    out->tenant_id = r.tenant_id;
    out->dev = r.dev;
    return CK_OK;
}

int st_account_names(struct st *st, struct ck_arena *a, const char *sub, const char *rg, char ***names, int *n)
{
    struct ck_db_stmt *s = NULL;
    char **v = NULL;
    int cnt = 0, cap = 0, step = -1, rc = CK_E_DB;
    ck_db_lock(st->db);
    if (ck_db_prepare(st->db,
                      "SELECT name FROM accounts WHERE dev = 0 AND subscription_id = ?1 COLLATE NOCASE"
                      " AND (?2 IS NULL OR resource_group = ?2 COLLATE NOCASE) ORDER BY name",
                      &s) != CK_OK ||
        ck_db_bind_text(s, 1, sub) != CK_OK || ck_db_bind_text(s, 2, rg) != CK_OK)
        goto out;
    while (cnt < ST_MAX_LIST && (step = ck_db_step(s)) == 1) {
        if (cnt == cap) {
            int ncap = cap ? cap * 2 : 16;
            char **nv = ck_arena_alloc(a, sizeof(char *) * (size_t)ncap);
            if (nv == NULL)
                goto out;
            if (cnt > 0)
                memcpy(nv, v, sizeof(char *) * (size_t)cnt);
            v = nv;
            cap = ncap;
        }
        if ((v[cnt] = st_col(a, s, 0)) == NULL)
            goto out;
        cnt++;
    }
    if (step < 0)
        goto out;
    *names = v;
    *n = cnt;
    rc = CK_OK;
out:
    ck_db_stmt_free(s);
    ck_db_unlock(st->db);
    return rc;
}

/* Makes the secrets of a new row: two account keys (key1 given or random), sealed, and a random
 * AEK wrapped under the root key. */
struct st_new_secrets {
    struct ck_bytes key1, key2, aek;
};

static void st_new_secrets_cleanup(struct st_new_secrets *n)
{
    ck_free(n->key1.ptr);
    ck_free(n->key2.ptr);
    ck_free(n->aek.ptr);
    memset(n, 0, sizeof(*n));
}

static int st_make_secrets(struct st *st, const char *name, const struct ck_secret *key1, int with_aek,
                           struct st_new_secrets *n)
{
    struct ck_secret *seal = NULL, *k1 = NULL, *k2 = NULL, *aek = NULL;
    int rc;
    memset(n, 0, sizeof(*n));
    if ((rc = st_seal_key(st->root_key, &seal)) != CK_OK)
        goto out;
    if (key1 == NULL && (rc = ck_rand_secret(ST_ACCOUNT_KEY_LEN, &k1)) != CK_OK)
        goto out;
    if ((rc = ck_rand_secret(ST_ACCOUNT_KEY_LEN, &k2)) != CK_OK ||
        (with_aek && (rc = ck_rand_secret(ST_AEK_LEN, &aek)) != CK_OK))
        goto out;
    if ((rc = st_key_seal(seal, name, 1, key1 ? key1 : k1, &n->key1)) != CK_OK ||
        (rc = st_key_seal(seal, name, 2, k2, &n->key2)) != CK_OK ||
        (with_aek && (rc = ck_aes_kw_wrap(st->root_key, ck_secret_ptr(aek), ck_secret_len(aek), &n->aek)) != CK_OK))
        goto out;
out:
    if (rc != CK_OK)
        st_new_secrets_cleanup(n);
    ck_secret_free(seal);
    ck_secret_free(k1);
    ck_secret_free(k2);
    ck_secret_free(aek);
    return rc;
}

static int st_insert_row(struct st *st, struct st_account_row *r, const struct st_new_secrets *n)
{
    struct ck_db_stmt *s = NULL;
    char kid[ST_ROOT_KID_MAX];
    const char *text[12] = {r->name, r->arm_id, r->sub, r->rg, r->tenant_id, r->location,
                            r->kind, r->sku,    r->tags, r->identity, r->encryption, r->properties};
    int rc = CK_E_DB, step;
    st_root_kid(st->root_key, kid);
    ck_db_lock(st->db);
    if (ck_db_prepare(st->db,
                      "INSERT INTO accounts (name, arm_id, subscription_id, resource_group, tenant_id, location, kind,"
                      " sku, tags, identity, encryption, properties, key1, key2, key1_time, key2_time, aek_wrapped,"
                      " root_kid, dev, created_at, updated_at, aek_kek) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                      " ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?16, ?17, ?18, ?15, ?15, ?19)",
                      &s) != CK_OK)
        goto out;
    for (int i = 0; i < 12; i++) {
        if (ck_db_bind_text(s, i + 1, text[i] ? text[i] : "") != CK_OK)
            goto out;
    }
    const void *wrap = r->set_wrap ? (const void *)r->wrap : n->aek.ptr;
    size_t wrap_len = r->set_wrap ? r->wrap_len : n->aek.len;
    if (wrap == NULL || wrap_len == 0) {
        rc = CK_E_INVALID;
        goto out;
    }
    if (ck_db_bind_blob(s, 13, n->key1.ptr, n->key1.len) != CK_OK ||
        ck_db_bind_blob(s, 14, n->key2.ptr, n->key2.len) != CK_OK || ck_db_bind_int64(s, 15, r->created_at) != CK_OK ||
        ck_db_bind_blob(s, 16, wrap, wrap_len) != CK_OK || ck_db_bind_text(s, 17, kid) != CK_OK ||
        ck_db_bind_int64(s, 18, r->dev) != CK_OK ||
        ck_db_bind_text(s, 19, r->set_wrap ? r->aek_kek : NULL) != CK_OK)
        goto out;
    step = ck_db_step(s);
    rc = step < 0 ? -step : CK_OK;
out:
    ck_db_stmt_free(s);
    ck_db_unlock(st->db);
    return rc;
}

int st_account_insert(struct st *st, struct st_account_row *r)
{
    struct st_new_secrets n;
    int rc = st_make_secrets(st, r->name, NULL, !r->set_wrap, &n);
    if (rc != CK_OK)
        return rc;
    r->created_at = r->updated_at = r->key1_time = r->key2_time = ck_time_now();
    rc = st_insert_row(st, r, &n);
    st_new_secrets_cleanup(&n);
    return rc;
}

int st_dev_account_ensure(struct st *st)
{
    struct ck_arena *a = ck_arena_new();
    struct st_account_row r;
    struct st_new_secrets n;
    struct ck_secret *k1 = NULL;
    uint8_t *raw = NULL;
    size_t rl = 0;
    int rc = CK_E_NOMEM;
    memset(&n, 0, sizeof(n));
    if (a == NULL)
        return CK_E_NOMEM;
    rc = st_account_row_get(st, a, ST_DEV_ACCOUNT, &r);
    if (rc == CK_OK) {
        rc = r.dev ? CK_OK : CK_E_EXISTS;
        goto out;
    }
    if (rc != CK_E_NOT_FOUND)
        goto out;
    if (ck_b64_decode(ST_DEV_KEY, strlen(ST_DEV_KEY), &raw, &rl) != 0 || rl != ST_ACCOUNT_KEY_LEN) {
        rc = CK_E_INTERNAL;
        goto out;
    }
    if ((k1 = ck_secret_from(raw, rl)) == NULL) {
        rc = CK_E_NOMEM;
        goto out;
    }
    memset(&r, 0, sizeof(r));
    r.name = ST_DEV_ACCOUNT;
    r.arm_id = r.sub = r.rg = r.tenant_id = "";
    r.location = "local";
    r.kind = "StorageV2";
    r.sku = "Standard_LRS";
    r.tags = r.identity = r.properties = "{}";
    r.encryption = "{\"keySource\":\"Microsoft.Storage\"}";
    r.dev = 1;
    r.created_at = r.updated_at = r.key1_time = r.key2_time = ck_time_now();
    if ((rc = st_make_secrets(st, r.name, k1, 1, &n)) != CK_OK)
        goto out;
    rc = st_insert_row(st, &r, &n);
    if (rc == CK_E_EXISTS) /* another node made it first */
        rc = CK_OK;
out:
    if (rc != CK_OK)
        ck_log(CK_LOG_ERROR, "storage: the development account could not be created (%s)", ck_err_text(rc));
    st_new_secrets_cleanup(&n);
    ck_secret_free(k1);
    if (raw != NULL)
        ck_freezero(raw, rl);
    ck_arena_free(a);
    return rc;
}

int st_account_update(struct st *st, struct st_account_row *r)
{
    struct ck_db_stmt *s = NULL;
    const char *text[8] = {r->tags, r->identity, r->encryption, r->properties, r->sku, r->kind, r->name, r->aek_kek};
    int rc = CK_E_DB, step;
    r->updated_at = ck_time_now();
    ck_db_lock(st->db);
    /* The settings and, with set_wrap, the AEK's wrapping change in one statement: a crash leaves
     * the old pair or the new pair, never a wrapping that does not match the settings. */
    if (ck_db_prepare(st->db,
                      r->set_wrap ? "UPDATE accounts SET tags = ?1, identity = ?2, encryption = ?3, properties = ?4,"
                                    " sku = ?5, kind = ?6, updated_at = ?9, aek_kek = ?8, aek_wrapped = ?10"
                                    " WHERE name = ?7 AND dev = 0"
                                  : "UPDATE accounts SET tags = ?1, identity = ?2, encryption = ?3, properties = ?4,"
                                    " sku = ?5, kind = ?6, updated_at = ?9 WHERE name = ?7 AND dev = 0",
                      &s) != CK_OK)
        goto out;
    for (int i = 0; i < 7; i++)
        if (ck_db_bind_text(s, i + 1, text[i] ? text[i] : "") != CK_OK)
            goto out;
    if (ck_db_bind_int64(s, 9, r->updated_at) != CK_OK)
        goto out;
    if (r->set_wrap && (r->wrap == NULL || r->wrap_len == 0 || ck_db_bind_text(s, 8, r->aek_kek) != CK_OK ||
                        ck_db_bind_blob(s, 10, r->wrap, r->wrap_len) != CK_OK))
        goto out;
    step = ck_db_step(s);
    rc = step < 0 ? -step : ck_db_changes(st->db) == 0 ? CK_E_NOT_FOUND : CK_OK;
out:
    ck_db_stmt_free(s);
    ck_db_unlock(st->db);
    return rc;
}

int st_account_wrapping(struct st *st, const char *name, struct ck_bytes *wrapped, char **kek)
{
    struct ck_db_stmt *s = NULL;
    int rc = CK_E_DB, step;
    wrapped->ptr = NULL;
    wrapped->len = 0;
    *kek = NULL;
    ck_db_lock(ST_RDB(st));
    if (ck_db_prepare(ST_RDB(st), "SELECT aek_wrapped, aek_kek FROM accounts WHERE name = ?1", &s) == CK_OK &&
        ck_db_bind_text(s, 1, name) == CK_OK) {
        step = ck_db_step(s);
        if (step == 0) {
            rc = CK_E_NOT_FOUND;
        } else if (step == 1 && (rc = st_blob_copy(s, 0, wrapped)) == CK_OK) {
            const char *k = ck_db_col_text(s, 1);
            if (k != NULL && (*kek = ck_strdup(k)) == NULL)
                rc = CK_E_NOMEM;
        }
    }
    ck_db_stmt_free(s);
    ck_db_unlock(ST_RDB(st));
    if (rc != CK_OK) {
        ck_free(wrapped->ptr);
        wrapped->ptr = NULL;
        ck_free(*kek);
        *kek = NULL;
    }
    return rc;
}

int st_account_rewrap(struct st *st, const char *name, const char *old_kek, const char *new_kek, const uint8_t *wrap,
                      size_t wrap_len, const char *encryption)
{
    struct ck_db_stmt *s = NULL;
    int rc = CK_E_DB, step;
    ck_db_lock(st->db);
    if (ck_db_prepare(st->db,
                      "UPDATE accounts SET aek_kek = ?1, aek_wrapped = ?2, encryption = ?3, updated_at = ?4"
                      " WHERE name = ?5 AND aek_kek = ?6",
                      &s) == CK_OK &&
        ck_db_bind_text(s, 1, new_kek) == CK_OK && ck_db_bind_blob(s, 2, wrap, wrap_len) == CK_OK &&
        ck_db_bind_text(s, 3, encryption) == CK_OK && ck_db_bind_int64(s, 4, ck_time_now()) == CK_OK &&
        ck_db_bind_text(s, 5, name) == CK_OK && ck_db_bind_text(s, 6, old_kek) == CK_OK) {
        step = ck_db_step(s);
        rc = step < 0 ? -step : ck_db_changes(st->db) == 0 ? CK_E_EXISTS : CK_OK;
    }
    ck_db_stmt_free(s);
    ck_db_unlock(st->db);
    return rc;
}

/* Reads the sealed keys and the root key id of one row. */
struct st_sealed {
    struct ck_bytes key1, key2, aek;
    char kid[ST_ROOT_KID_MAX];
    int cmk; /* aek is under a customer key (aek_kek is set) */
};

static void st_sealed_cleanup(struct st_sealed *x)
{
    ck_free(x->key1.ptr);
    ck_free(x->key2.ptr);
    ck_free(x->aek.ptr);
    memset(x, 0, sizeof(*x));
}

static int st_blob_copy(struct ck_db_stmt *s, int col, struct ck_bytes *out)
{
    size_t len = 0;
    const void *p = ck_db_col_blob(s, col, &len);
    if (p == NULL || len == 0)
        return CK_E_DB;
    if ((out->ptr = ck_malloc(len)) == NULL)
        return CK_E_NOMEM;
    memcpy(out->ptr, p, len);
    out->len = len;
    return CK_OK;
}

/* Caller holds the store lock. */
static int st_sealed_read_locked(struct ck_db *db, const char *name, struct st_sealed *x)
{
    struct ck_db_stmt *s = NULL;
    int rc = CK_E_DB, step;
    memset(x, 0, sizeof(*x));
    if (ck_db_prepare(db, "SELECT key1, key2, aek_wrapped, root_kid, aek_kek FROM accounts WHERE name = ?1", &s) != CK_OK ||
        ck_db_bind_text(s, 1, name) != CK_OK)
        goto out;
    step = ck_db_step(s);
    if (step == 0) {
        rc = CK_E_NOT_FOUND;
        goto out;
    }
    if (step != 1)
        goto out;
    const char *kid = ck_db_col_text(s, 3);
    snprintf(x->kid, sizeof(x->kid), "%s", kid ? kid : "");
    x->cmk = ck_db_col_text(s, 4) != NULL;
    if ((rc = st_blob_copy(s, 0, &x->key1)) != CK_OK || (rc = st_blob_copy(s, 1, &x->key2)) != CK_OK ||
        (rc = st_blob_copy(s, 2, &x->aek)) != CK_OK)
        goto out;
out:
    ck_db_stmt_free(s);
    if (rc != CK_OK)
        st_sealed_cleanup(x);
    return rc;
}

/* CK_OK when the row was written under the configured root key; CK_E_CRYPTO (logged) otherwise. */
static int st_kid_check(struct st *st, const char *name, const char *kid)
{
    char mine[ST_ROOT_KID_MAX];
    st_root_kid(st->root_key, mine);
    if (strcmp(mine, kid) == 0)
        return CK_OK;
    ck_log(CK_LOG_ERROR, "storage: account %s is under root key %s, but the configured root key is %s", name, kid,
           mine);
    return CK_E_CRYPTO;
}

int st_account_keys(struct st *st, const char *name, struct ck_secret **key1, struct ck_secret **key2)
{
    struct st_sealed x;
    struct ck_secret *seal = NULL, *k1 = NULL, *k2 = NULL;
    int rc;
    ck_db_lock(ST_RDB(st));
    rc = st_sealed_read_locked(ST_RDB(st), name, &x);
    ck_db_unlock(ST_RDB(st));
    if (rc != CK_OK)
        return rc;
    if ((rc = st_kid_check(st, name, x.kid)) != CK_OK || (rc = st_seal_key(st->root_key, &seal)) != CK_OK)
        goto out;
    if ((rc = st_key_open(seal, name, 1, x.key1.ptr, x.key1.len, &k1)) != CK_OK ||
        (rc = st_key_open(seal, name, 2, x.key2.ptr, x.key2.len, &k2)) != CK_OK)
        goto out;
    *key1 = k1;
    *key2 = k2;
    k1 = k2 = NULL;
out:
    ck_secret_free(k1);
    ck_secret_free(k2);
    ck_secret_free(seal);
    st_sealed_cleanup(&x);
    return rc;
}

int st_account_regenerate(struct st *st, const char *name, int slot)
{
    struct ck_secret *seal = NULL, *k = NULL;
    struct ck_bytes sealed = {0};
    struct ck_db_stmt *s = NULL;
    char kid[ST_ROOT_KID_MAX];
    int rc, step;
    if (slot != 1 && slot != 2)
        return CK_E_INVALID;
    st_root_kid(st->root_key, kid);
    if ((rc = st_seal_key(st->root_key, &seal)) != CK_OK || (rc = ck_rand_secret(ST_ACCOUNT_KEY_LEN, &k)) != CK_OK ||
        (rc = st_key_seal(seal, name, slot, k, &sealed)) != CK_OK)
        goto out;
    ck_db_lock(st->db);
    rc = CK_E_DB;
    /* Only a row under the configured root key: a key sealed under another would not open. */
    if (ck_db_prepare(st->db,
                      slot == 1 ? "UPDATE accounts SET key1 = ?1, key1_time = ?2 WHERE name = ?3 AND root_kid = ?4"
                                : "UPDATE accounts SET key2 = ?1, key2_time = ?2 WHERE name = ?3 AND root_kid = ?4",
                      &s) == CK_OK &&
        ck_db_bind_blob(s, 1, sealed.ptr, sealed.len) == CK_OK && ck_db_bind_int64(s, 2, ck_time_now()) == CK_OK &&
        ck_db_bind_text(s, 3, name) == CK_OK && ck_db_bind_text(s, 4, kid) == CK_OK) {
        step = ck_db_step(s);
        rc = step < 0 ? -step : (ck_db_changes(st->db) == 1 ? CK_OK : CK_E_NOT_FOUND);
    }
    ck_db_stmt_free(s);
    ck_db_unlock(st->db);
out:
    ck_free(sealed.ptr);
    ck_secret_free(k);
    ck_secret_free(seal);
    return rc;
}

/* ---- the AEK cache ---- */

static void st_aek_entry_free(struct st_aek_entry *e)
{
    if (e == NULL)
        return;
    ck_secret_free(e->aek);
    ck_free(e->name);
    ck_free(e);
}

void st_aek_drop(struct st *st, const char *name)
{
    pthread_mutex_lock(&st->aek_lock);
    for (struct st_aek_entry **pp = &st->aeks; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->name, name) == 0) {
            struct st_aek_entry *e = *pp;
            *pp = e->next;
            st_aek_entry_free(e);
            break;
        }
    }
    pthread_mutex_unlock(&st->aek_lock);
}

void st_aek_cache_clear(struct st *st)
{
    struct st_aek_entry *e;
    if (st == NULL)
        return;
    pthread_mutex_lock(&st->aek_lock);
    e = st->aeks;
    st->aeks = NULL;
    pthread_mutex_unlock(&st->aek_lock);
    while (e != NULL) {
        struct st_aek_entry *next = e->next;
        st_aek_entry_free(e);
        e = next;
    }
}

/* A copy of the cached AEK of name, or NULL. */
static struct ck_secret *st_aek_cached(struct st *st, const char *name)
{
    struct ck_secret *r = NULL;
    pthread_mutex_lock(&st->aek_lock);
    for (struct st_aek_entry *e = st->aeks; e != NULL; e = e->next) {
        if (strcmp(e->name, name) == 0) {
            r = ck_secret_from(ck_secret_ptr(e->aek), ck_secret_len(e->aek));
            break;
        }
    }
    pthread_mutex_unlock(&st->aek_lock);
    return r;
}

int st_account_root_aek(struct st *st, const char *name, struct ck_secret **aek)
{
    struct st_sealed x;
    struct ck_secret *k = NULL, *copy = NULL;
    struct st_aek_entry *e = NULL;
    int rc;
    if ((*aek = st_aek_cached(st, name)) != NULL)
        return CK_OK;
    ck_db_lock(ST_RDB(st));
    rc = st_sealed_read_locked(ST_RDB(st), name, &x);
    ck_db_unlock(ST_RDB(st));
    if (rc != CK_OK)
        return rc;
    if ((rc = st_kid_check(st, name, x.kid)) != CK_OK)
        goto out;
    if (x.cmk) {
        rc = CK_E_FORBIDDEN;
        goto out;
    }
    if (ck_aes_kw_unwrap(st->root_key, x.aek.ptr, x.aek.len, &k) != CK_OK || ck_secret_len(k) != ST_AEK_LEN) {
        ck_log(CK_LOG_ERROR, "storage: the AEK of account %s does not unwrap under the root key", name);
        rc = CK_E_CRYPTO;
        goto out;
    }
    copy = ck_secret_from(ck_secret_ptr(k), ck_secret_len(k));
    e = ck_calloc(1, sizeof(*e));
    if (copy == NULL || e == NULL || (e->name = ck_strdup(name)) == NULL) {
        rc = CK_E_NOMEM;
        goto out;
    }
    e->aek = k;
    k = NULL;
    pthread_mutex_lock(&st->aek_lock);
    struct st_aek_entry *have = NULL;
    for (struct st_aek_entry *c = st->aeks; c != NULL; c = c->next) {
        if (strcmp(c->name, name) == 0)
            have = c;
    }
    if (have == NULL) {
        e->next = st->aeks;
        st->aeks = e;
        e = NULL;
    }
    pthread_mutex_unlock(&st->aek_lock);
    *aek = copy;
    copy = NULL;
out:
    st_aek_entry_free(e);
    ck_secret_free(k);
    ck_secret_free(copy);
    st_sealed_cleanup(&x);
    return rc;
}

/* The ids of the account's part files (caller holds the store lock), for removal once the rows
 * are gone. A failure leaves *ids NULL: the files are then left to the sweep on start. */
static void st_part_ids_locked(struct st *st, struct ck_arena *a, const char *name, char ***ids, size_t *n)
{
    struct ck_db_stmt *s = NULL;
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    int step = -1;
    *ids = NULL;
    *n = 0;
    if (ck_db_prepare(st->db, "SELECT id FROM parts WHERE account = ?1", &s) != CK_OK || ck_db_bind_text(s, 1, name) != CK_OK)
        goto out;
    while ((step = ck_db_step(s)) == 1) {
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nv = ck_arena_alloc(a, sizeof(char *) * ncap);
            if (nv == NULL)
                goto out;
            if (cnt > 0)
                memcpy(nv, v, sizeof(char *) * cnt);
            v = nv;
            cap = ncap;
        }
        if ((v[cnt] = st_col(a, s, 0)) == NULL)
            goto out;
        cnt++;
    }
    if (step == 0) {
        *ids = v;
        *n = cnt;
    }
out:
    ck_db_stmt_free(s);
}

int st_account_delete(struct st *st, const char *name)
{
    static const char *const sql[] = {
        "DELETE FROM blocks WHERE account = ?1",
        "DELETE FROM blobs WHERE account = ?1",
        "DELETE FROM parts WHERE account = ?1",
        "DELETE FROM containers WHERE account = ?1",
    };
    const char *q[1] = {name};
    struct ck_arena *a = ck_arena_new();
    char **parts = NULL;
    size_t nparts = 0;
    int rc;
    if (a == NULL)
        return CK_E_NOMEM;
    ck_db_lock(st->db);
    rc = ck_db_begin(st->db);
    if (rc == CK_OK)
        rc = ck_db_run(st->db, "DELETE FROM accounts WHERE name = ?1 AND dev = 0", 1, q);
    if (rc == CK_OK && ck_db_changes(st->db) == 0)
        rc = CK_E_NOT_FOUND;
    if (rc == CK_OK)
        st_part_ids_locked(st, a, name, &parts, &nparts);
    for (size_t i = 0; rc == CK_OK && i < sizeof(sql) / sizeof(sql[0]); i++)
        rc = ck_db_run(st->db, sql[i], 1, q);
    if (rc == CK_OK)
        rc = ck_db_commit(st->db);
    if (rc != CK_OK)
        ck_db_rollback(st->db);
    ck_db_unlock(st->db);
    if (rc == CK_OK) {
        st_aek_drop(st, name);
        /* The index no longer names them: the files go now (any missed are swept on start). */
        for (size_t i = 0; i < nparts; i++)
            st_part_unlink(st, parts[i]);
    }
    ck_arena_free(a);
    return rc;
}

/* ---- offline root key custody (storage_root.h) ---- */

/* Opens the store of storage_dir as st_new does (migrations included). */
static int st_offline_open(const char *storage_dir, struct st *st)
{
    memset(st, 0, sizeof(*st));
    st->data_dir = (char *)storage_dir;
    return st_store_open(st);
}

int st_root_status(const char *storage_dir, const struct ck_secret *root, long *mine, long *other)
{
    struct st st;
    struct ck_db_stmt *s = NULL;
    char kid[ST_ROOT_KID_MAX];
    long m = 0, o = 0;
    int rc = st_offline_open(storage_dir, &st), step = -1;
    if (rc != CK_OK)
        goto out;
    st_root_kid(root, kid);
    rc = CK_E_DB;
    ck_db_lock(st.db);
    if (ck_db_prepare(st.db, "SELECT root_kid = ?1, count(*) FROM accounts GROUP BY root_kid = ?1", &s) == CK_OK &&
        ck_db_bind_text(s, 1, kid) == CK_OK) {
        while ((step = ck_db_step(s)) == 1) {
            if (ck_db_col_int64(s, 0))
                m = (long)ck_db_col_int64(s, 1);
            else
                o = (long)ck_db_col_int64(s, 1);
        }
        if (step == 0)
            rc = CK_OK;
    }
    ck_db_stmt_free(s);
    ck_db_unlock(st.db);
out:
    st_store_close(&st);
    if (rc == CK_OK) {
        *mine = m;
        *other = o;
    }
    return rc;
}

/* Re-wraps and re-seals one row from the old root key to the new one. */
static int st_rewrap_row(struct ck_db *db, const char *name, const struct st_sealed *x,
                         const struct ck_secret *old_root, const struct ck_secret *new_root, const char *new_kid)
{
    struct ck_secret *old_seal = NULL, *new_seal = NULL, *k1 = NULL, *k2 = NULL, *aek = NULL;
    struct ck_bytes s1 = {0}, s2 = {0}, w = {0};
    struct ck_db_stmt *s = NULL;
    int rc, step;
    if ((rc = st_seal_key(old_root, &old_seal)) != CK_OK || (rc = st_seal_key(new_root, &new_seal)) != CK_OK)
        goto out;
    /* An AEK under a customer key is not under the root key: only the account keys move. */
    if ((rc = st_key_open(old_seal, name, 1, x->key1.ptr, x->key1.len, &k1)) != CK_OK ||
        (rc = st_key_open(old_seal, name, 2, x->key2.ptr, x->key2.len, &k2)) != CK_OK ||
        (!x->cmk && ck_aes_kw_unwrap(old_root, x->aek.ptr, x->aek.len, &aek) != CK_OK)) {
        rc = CK_E_CRYPTO;
        goto out;
    }
    if ((rc = st_key_seal(new_seal, name, 1, k1, &s1)) != CK_OK || (rc = st_key_seal(new_seal, name, 2, k2, &s2)) != CK_OK ||
        (!x->cmk && (rc = ck_aes_kw_wrap(new_root, ck_secret_ptr(aek), ck_secret_len(aek), &w)) != CK_OK))
        goto out;
    if (x->cmk) {
        w.ptr = ck_malloc(x->aek.len);
        if (w.ptr == NULL) {
            rc = CK_E_NOMEM;
            goto out;
        }
        memcpy(w.ptr, x->aek.ptr, x->aek.len);
        w.len = x->aek.len;
    }
    rc = CK_E_DB;
    if (ck_db_prepare(db, "UPDATE accounts SET key1 = ?1, key2 = ?2, aek_wrapped = ?3, root_kid = ?4 WHERE name = ?5",
                      &s) == CK_OK &&
        ck_db_bind_blob(s, 1, s1.ptr, s1.len) == CK_OK && ck_db_bind_blob(s, 2, s2.ptr, s2.len) == CK_OK &&
        ck_db_bind_blob(s, 3, w.ptr, w.len) == CK_OK && ck_db_bind_text(s, 4, new_kid) == CK_OK &&
        ck_db_bind_text(s, 5, name) == CK_OK) {
        step = ck_db_step(s);
        rc = step < 0 ? -step : CK_OK;
    }
out:
    ck_db_stmt_free(s);
    ck_free(s1.ptr);
    ck_free(s2.ptr);
    ck_free(w.ptr);
    ck_secret_free(old_seal);
    ck_secret_free(new_seal);
    ck_secret_free(k1);
    ck_secret_free(k2);
    ck_secret_free(aek);
    return rc;
}

int st_root_rotate(const char *storage_dir, const struct ck_secret *old_root, const struct ck_secret *new_root,
                   long *rows)
{
    struct st st;
    struct ck_db_stmt *s = NULL;
    struct ck_arena *a = ck_arena_new();
    char old_kid[ST_ROOT_KID_MAX], new_kid[ST_ROOT_KID_MAX];
    char **names = NULL;
    int n = 0, cap = 0, step, rc = CK_E_NOMEM, in_tx = 0;
    long other = 0;

    memset(&st, 0, sizeof(st));
    if (a == NULL)
        return CK_E_NOMEM;
    if (ck_secret_len(old_root) != CK_SEAL_KEY_LEN || ck_secret_len(new_root) != CK_SEAL_KEY_LEN) {
        rc = CK_E_INVALID;
        goto out;
    }
    st_root_kid(old_root, old_kid);
    st_root_kid(new_root, new_kid);
    if (strcmp(old_kid, new_kid) == 0) {
        rc = CK_E_INVALID;
        goto out;
    }
    if ((rc = st_offline_open(storage_dir, &st)) != CK_OK)
        goto out;
    ck_db_lock(st.db);
    if ((rc = ck_db_begin(st.db)) != CK_OK)
        goto unlock;
    in_tx = 1;
    rc = CK_E_DB;
    if (ck_db_prepare(st.db, "SELECT name, root_kid = ?1 FROM accounts ORDER BY name", &s) != CK_OK ||
        ck_db_bind_text(s, 1, old_kid) != CK_OK)
        goto unlock;
    while ((step = ck_db_step(s)) == 1) {
        if (!ck_db_col_int64(s, 1)) {
            other++;
            continue;
        }
        if (n == cap) {
            int ncap = cap ? cap * 2 : 64;
            char **nv = ck_arena_alloc(a, sizeof(char *) * (size_t)ncap);
            if (nv == NULL) {
                rc = CK_E_NOMEM;
                goto unlock;
            }
            if (n > 0)
                memcpy(nv, names, sizeof(char *) * (size_t)n);
            names = nv;
            cap = ncap;
        }
        if ((names[n++] = st_col(a, s, 0)) == NULL) {
            rc = CK_E_NOMEM;
            goto unlock;
        }
    }
    ck_db_stmt_free(s);
    s = NULL;
    if (step < 0)
        goto unlock;
    if (other > 0) {
        ck_log(CK_LOG_ERROR, "storage: %ld account(s) are under neither the current root key (%s) nor the new one",
               other, old_kid);
        rc = CK_E_CRYPTO;
        goto unlock;
    }
    for (int i = 0; i < n; i++) {
        struct st_sealed x;
        if ((rc = st_sealed_read_locked(st.db, names[i], &x)) != CK_OK)
            goto unlock;
        rc = st_rewrap_row(st.db, names[i], &x, old_root, new_root, new_kid);
        st_sealed_cleanup(&x);
        if (rc != CK_OK) {
            ck_log(CK_LOG_ERROR, "storage: account %s could not be re-wrapped (%s)", names[i], ck_err_text(rc));
            goto unlock;
        }
    }
    rc = ck_db_commit(st.db);
    if (rc == CK_OK)
        in_tx = 0;
unlock:
    ck_db_stmt_free(s);
    if (in_tx)
        ck_db_rollback(st.db);
    ck_db_unlock(st.db);
out:
    st_store_close(&st);
    ck_arena_free(a);
    if (rc == CK_OK)
        *rows = n;
    return rc;
}
