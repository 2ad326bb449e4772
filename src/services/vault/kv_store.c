/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vault store: schema and row access for vaults, keys and their versions (private parts only
 * sealed), rotation policies and the audit log. Names of vaults and keys are matched without
 * regard to case, as Key Vault does.
 */
#include "services/vault/kv_int.h"
#include "core/fsutil.h"

#include <string.h>

static const char *const kv_migrations[] = {
    "CREATE TABLE vaults (name TEXT PRIMARY KEY COLLATE NOCASE, arm_id TEXT NOT NULL,"
    "  subscription_id TEXT NOT NULL, resource_group TEXT NOT NULL, location TEXT NOT NULL, tags TEXT NOT NULL,"
    "  tenant_id TEXT NOT NULL, sku TEXT NOT NULL, retention_days INTEGER NOT NULL,"
    "  purge_protection INTEGER NOT NULL, rbac INTEGER NOT NULL, port INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, deleted_at INTEGER);"
    "CREATE TABLE keys (vault TEXT NOT NULL COLLATE NOCASE, name TEXT NOT NULL COLLATE NOCASE,"
    "  deleted_at INTEGER, purge_at INTEGER, PRIMARY KEY (vault, name));"
    "CREATE TABLE key_versions (vault TEXT NOT NULL COLLATE NOCASE, name TEXT NOT NULL COLLATE NOCASE,"
    "  version TEXT NOT NULL, kty TEXT NOT NULL, key_size INTEGER NOT NULL, crv TEXT, key_ops TEXT NOT NULL,"
    "  enabled INTEGER NOT NULL, nbf INTEGER NOT NULL, exp INTEGER NOT NULL, created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL, tags TEXT NOT NULL, public_jwk TEXT NOT NULL, sealed BLOB NOT NULL,"
    "  seq INTEGER NOT NULL, PRIMARY KEY (vault, name, version),"
    "  FOREIGN KEY (vault, name) REFERENCES keys(vault, name) ON DELETE CASCADE);"
    "CREATE TABLE rotation_policies (vault TEXT NOT NULL COLLATE NOCASE, name TEXT NOT NULL COLLATE NOCASE,"
    "  policy TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY (vault, name),"
    "  FOREIGN KEY (vault, name) REFERENCES keys(vault, name) ON DELETE CASCADE);"
    "CREATE TABLE audit (vault TEXT NOT NULL COLLATE NOCASE, seq INTEGER NOT NULL, record TEXT NOT NULL,"
    "  prev_hash TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (vault, seq));",
    "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, vault TEXT NOT NULL COLLATE NOCASE,"
    "  time INTEGER NOT NULL, type TEXT NOT NULL, key_name TEXT COLLATE NOCASE, version TEXT, data TEXT NOT NULL);"
    "CREATE INDEX events_vault ON events (vault, id);"
    "CREATE TABLE notices (vault TEXT NOT NULL COLLATE NOCASE, name TEXT NOT NULL COLLATE NOCASE,"
    "  version TEXT NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (vault, name, version, kind));",
    "CREATE TABLE audit_heads (vault TEXT PRIMARY KEY COLLATE NOCASE, seq INTEGER NOT NULL, hash TEXT NOT NULL,"
    "  mac TEXT NOT NULL);",
};

int kv_store_open(struct kv *kv)
{
    char *path = ck_path_join(kv->data_dir, "vault.db");
    int rc;
    if (path == NULL)
        return CK_E_NOMEM;
    if (ck_mkdirs(kv->data_dir, 0700) != 0) {
        ck_free(path);
        return CK_E_IO;
    }
    rc = ck_db_open(path, &kv->db);
    if (rc == CK_OK)
        rc = ck_db_migrate(kv->db, kv_migrations, (int)(sizeof(kv_migrations) / sizeof(kv_migrations[0])));
    /* The audit log has a connection of its own (kv_audit.c): its commits wait for the disk
     * without holding up reads on the main connection (WAL lets readers run beside one writer). */
    if (rc == CK_OK)
        rc = ck_db_open(path, &kv->audit_db);
    ck_free(path);
    return rc;
}

static char *kv_col(struct ck_arena *a, struct ck_db_stmt *st, int i)
{
    const char *s = ck_db_col_text(st, i);
    return ck_arena_strdup(a, s ? s : "");
}

#define KV_VAULT_COLS "name, arm_id, subscription_id, resource_group, location, tags, tenant_id, sku," \
                      " retention_days, purge_protection, rbac, port, created_at, updated_at, deleted_at"

static void kv_vault_read(struct ck_arena *a, struct ck_db_stmt *st, struct kv_vault *v)
{
    v->name = kv_col(a, st, 0);
    v->arm_id = kv_col(a, st, 1);
    v->sub = kv_col(a, st, 2);
    v->rg = kv_col(a, st, 3);
    v->location = kv_col(a, st, 4);
    v->tags = kv_col(a, st, 5);
    v->tenant_id = kv_col(a, st, 6);
    v->sku = kv_col(a, st, 7);
    v->retention_days = (int)ck_db_col_int64(st, 8);
    v->purge_protection = (int)ck_db_col_int64(st, 9);
    v->rbac = (int)ck_db_col_int64(st, 10);
    v->port = (unsigned)ck_db_col_int64(st, 11);
    v->created_at = ck_db_col_int64(st, 12);
    v->updated_at = ck_db_col_int64(st, 13);
    v->deleted_at = ck_db_col_int64(st, 14);
}

static int kv_vault_query(struct kv *kv, struct ck_arena *a, const char *sql, const char *text, int64_t num,
                          struct kv_vault *out)
{
    struct ck_db_stmt *st = NULL;
    int rc = CK_E_NOT_FOUND;
    ck_db_lock(kv->db);
    if (ck_db_prepare(kv->db, sql, &st) == CK_OK) {
        if (text != NULL)
            ck_db_bind_text(st, 1, text);
        else
            ck_db_bind_int64(st, 1, num);
        int s = ck_db_step(st);
        if (s == 1) {
            kv_vault_read(a, st, out);
            rc = CK_OK;
        } else if (s < 0) {
            rc = -s;
        }
    } else {
        rc = CK_E_DB;
    }
    ck_db_stmt_free(st);
    ck_db_unlock(kv->db);
    return rc;
}

int kv_vault_get(struct kv *kv, struct ck_arena *a, const char *name, int include_deleted, struct kv_vault *out)
{
    return kv_vault_query(kv, a,
                          include_deleted ? "SELECT " KV_VAULT_COLS " FROM vaults WHERE name = ?1"
                                          : "SELECT " KV_VAULT_COLS " FROM vaults WHERE name = ?1 AND deleted_at IS NULL",
                          name, 0, out);
}

int kv_vault_by_port(struct kv *kv, struct ck_arena *a, unsigned port, struct kv_vault *out)
{
    return kv_vault_query(kv, a, "SELECT " KV_VAULT_COLS " FROM vaults WHERE port = ?1 AND deleted_at IS NULL", NULL,
                          port, out);
}

#define KV_VERSION_COLS "v.name, v.version, v.kty, v.key_size, v.crv, v.key_ops, v.enabled, v.nbf, v.exp," \
                        " v.created, v.updated, v.tags, v.public_jwk, v.sealed, v.seq"

int kv_version_get(struct kv *kv, struct ck_arena *a, const char *vault, const char *name, const char *version,
                   int deleted, struct kv_version *out)
{
    struct ck_db_stmt *st = NULL;
    int rc = CK_E_NOT_FOUND;
    int latest = version == NULL || *version == '\0';
    const char *sql = latest
                          ? "SELECT " KV_VERSION_COLS " FROM key_versions v JOIN keys k ON k.vault = v.vault AND"
                            " k.name = v.name WHERE v.vault = ?1 AND v.name = ?2 AND (k.deleted_at IS NULL) = ?3"
                            " ORDER BY v.seq DESC LIMIT 1"
                          : "SELECT " KV_VERSION_COLS " FROM key_versions v JOIN keys k ON k.vault = v.vault AND"
                            " k.name = v.name WHERE v.vault = ?1 AND v.name = ?2 AND (k.deleted_at IS NULL) = ?3"
                            " AND v.version = lower(?4)";
    ck_db_lock(kv->db);
    if (ck_db_prepare(kv->db, sql, &st) != CK_OK) {
        rc = CK_E_DB;
        goto out;
    }
    ck_db_bind_text(st, 1, vault);
    ck_db_bind_text(st, 2, name);
    ck_db_bind_int64(st, 3, deleted ? 0 : 1);
    if (!latest)
        ck_db_bind_text(st, 4, version);
    int s = ck_db_step(st);
    if (s < 0) {
        rc = -s;
        goto out;
    }
    if (s == 1) {
        out->name = kv_col(a, st, 0);
        out->version = kv_col(a, st, 1);
        out->kty = kv_col(a, st, 2);
        out->key_size = (int)ck_db_col_int64(st, 3);
        out->crv = kv_col(a, st, 4);
        out->key_ops = kv_col(a, st, 5);
        out->enabled = (int)ck_db_col_int64(st, 6);
        out->nbf = ck_db_col_int64(st, 7);
        out->exp = ck_db_col_int64(st, 8);
        out->created = ck_db_col_int64(st, 9);
        out->updated = ck_db_col_int64(st, 10);
        out->tags = kv_col(a, st, 11);
        out->public_jwk = kv_col(a, st, 12);
        size_t len = 0;
        const void *b = ck_db_col_blob(st, 13, &len);
        out->sealed = ck_arena_alloc(a, len ? len : 1);
        if (out->sealed != NULL && len > 0)
            memcpy(out->sealed, b, len);
        out->sealed_len = len;
        out->seq = ck_db_col_int64(st, 14);
        rc = out->sealed ? CK_OK : CK_E_NOMEM;
    }
out:
    ck_db_stmt_free(st);
    ck_db_unlock(kv->db);
    return rc;
}

const char *kv_recovery_level(const struct kv_vault *v)
{
    if (v->purge_protection)
        return v->retention_days >= 90 ? "Recoverable" : "CustomizedRecoverable";
    return v->retention_days >= 90 ? "Recoverable+Purgeable" : "CustomizedRecoverable+Purgeable";
}
