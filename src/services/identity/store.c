/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The identity store: schema and row access for tenants, signing keys, applications, client
 * secrets (salted hashes only), service principals, federated credentials, managed identities
 * and workloads. Callers hold no lock; each function takes the store lock for its own work.
 */
#include "services/identity/idp_int.h"
#include "core/codec.h"
#include "core/fsutil.h"
#include "core/timeutil.h"
#include "crypto/random.h"

#include <stdio.h>
#include <string.h>

static const char *const idp_migrations[] = {
    "CREATE TABLE tenants (id TEXT PRIMARY KEY, display_name TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE signing_keys (kid TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
    "  sealed BLOB NOT NULL, cert_b64 TEXT NOT NULL, created_at INTEGER NOT NULL, active INTEGER NOT NULL);"
    "CREATE TABLE applications (object_id TEXT PRIMARY KEY, app_id TEXT NOT NULL UNIQUE,"
    "  tenant_id TEXT NOT NULL REFERENCES tenants(id), display_name TEXT NOT NULL,"
    "  sign_in_audience TEXT NOT NULL, kind TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE app_secrets (key_id TEXT PRIMARY KEY,"
    "  app_object_id TEXT NOT NULL REFERENCES applications(object_id) ON DELETE CASCADE,"
    "  display_name TEXT, hint TEXT NOT NULL, salt BLOB NOT NULL, hash BLOB NOT NULL,"
    "  start_at INTEGER NOT NULL, end_at INTEGER NOT NULL);"
    "CREATE TABLE service_principals (object_id TEXT PRIMARY KEY, app_id TEXT NOT NULL,"
    "  tenant_id TEXT NOT NULL REFERENCES tenants(id), display_name TEXT NOT NULL, sp_type TEXT NOT NULL,"
    "  app_owner_tenant_id TEXT NOT NULL, directory_admin INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL, UNIQUE(app_id, tenant_id));"
    "CREATE TABLE fics (id TEXT PRIMARY KEY,"
    "  app_object_id TEXT NOT NULL REFERENCES applications(object_id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL, issuer TEXT NOT NULL, subject TEXT NOT NULL, audiences TEXT NOT NULL,"
    "  description TEXT, UNIQUE(app_object_id, name), UNIQUE(app_object_id, issuer, subject));"
    "CREATE TABLE managed_identities (id_lower TEXT PRIMARY KEY, arm_id TEXT NOT NULL, name TEXT NOT NULL,"
    "  subscription_id TEXT NOT NULL, resource_group TEXT NOT NULL, location TEXT NOT NULL,"
    "  tags TEXT NOT NULL, tenant_id TEXT NOT NULL, principal_id TEXT NOT NULL, client_id TEXT NOT NULL,"
    "  app_object_id TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE workloads (id TEXT PRIMARY KEY, salt BLOB NOT NULL, hash BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE workload_identities (workload_id TEXT NOT NULL REFERENCES workloads(id) ON DELETE CASCADE,"
    "  mi_id_lower TEXT NOT NULL, PRIMARY KEY (workload_id, mi_id_lower));",
    /* 2: system-assigned identities live beside user-assigned ones; id_lower is then the owning
     * resource's ARM id in lower case (docs/managed-identity.md). */
    "ALTER TABLE managed_identities ADD COLUMN system_assigned INTEGER NOT NULL DEFAULT 0;",
};

int idp_store_open(struct idp *idp)
{
    char *path = ck_path_join(idp->data_dir, "identity.db");
    int rc;
    if (path == NULL)
        return CK_E_NOMEM;
    if (ck_mkdirs(idp->data_dir, 0700) != 0) {
        ck_free(path);
        return CK_E_IO;
    }
    rc = ck_db_open(path, &idp->db);
    ck_free(path);
    if (rc != CK_OK)
        return rc;
    return ck_db_migrate(idp->db, idp_migrations, (int)(sizeof(idp_migrations) / sizeof(idp_migrations[0])));
}

int idp_tenant_exists(struct idp *idp, const char *tid)
{
    struct ck_db_stmt *st = NULL;
    int found = 0;
    ck_db_lock(idp->db);
    if (ck_db_prepare(idp->db, "SELECT 1 FROM tenants WHERE id = ?1", &st) == CK_OK) {
        ck_db_bind_text(st, 1, tid);
        found = ck_db_step(st) == 1;
    }
    ck_db_stmt_free(st);
    ck_db_unlock(idp->db);
    return found;
}

char *idp_tenant_name(struct idp *idp, struct ck_arena *a, const char *tid)
{
    struct ck_db_stmt *st = NULL;
    char *name = NULL;
    ck_db_lock(idp->db);
    if (ck_db_prepare(idp->db, "SELECT display_name FROM tenants WHERE id = ?1", &st) == CK_OK) {
        ck_db_bind_text(st, 1, tid);
        if (ck_db_step(st) == 1)
            name = ck_arena_strdup(a, ck_db_col_text(st, 0));
    }
    ck_db_stmt_free(st);
    ck_db_unlock(idp->db);
    return name;
}

static char *idp_col(struct ck_arena *a, struct ck_db_stmt *st, int i)
{
    const char *s = ck_db_col_text(st, i);
    return ck_arena_strdup(a, s ? s : "");
}

static int idp_app_query(struct idp *idp, struct ck_arena *a, const char *sql, const char *key, struct idp_app *out)
{
    struct ck_db_stmt *st = NULL;
    int rc = CK_E_NOT_FOUND;
    ck_db_lock(idp->db);
    if (ck_db_prepare(idp->db, sql, &st) != CK_OK) {
        rc = CK_E_DB;
        goto out;
    }
    ck_db_bind_text(st, 1, key);
    int s = ck_db_step(st);
    if (s < 0) {
        rc = -s;
        goto out;
    }
    if (s == 1) {
        out->object_id = idp_col(a, st, 0);
        out->app_id = idp_col(a, st, 1);
        out->tenant_id = idp_col(a, st, 2);
        out->display_name = idp_col(a, st, 3);
        out->sign_in_audience = idp_col(a, st, 4);
        out->kind = idp_col(a, st, 5);
        out->created_at = ck_db_col_int64(st, 6);
        rc = CK_OK;
    }
out:
    ck_db_stmt_free(st);
    ck_db_unlock(idp->db);
    return rc;
}

#define IDP_APP_COLS "object_id, app_id, tenant_id, display_name, sign_in_audience, kind, created_at"

int idp_app_by_app_id(struct idp *idp, struct ck_arena *a, const char *app_id, struct idp_app *out)
{
    /* App ids are GUIDs, stored in lower case and matched without regard to case. */
    return idp_app_query(idp, a, "SELECT " IDP_APP_COLS " FROM applications WHERE app_id = lower(?1)", app_id, out);
}

int idp_app_by_object_id(struct idp *idp, struct ck_arena *a, const char *oid, struct idp_app *out)
{
    return idp_app_query(idp, a, "SELECT " IDP_APP_COLS " FROM applications WHERE object_id = ?1", oid, out);
}

#define IDP_SP_COLS "object_id, app_id, tenant_id, display_name, sp_type, app_owner_tenant_id, directory_admin"

static int idp_sp_query(struct idp *idp, struct ck_arena *a, const char *sql, const char *k1, const char *k2,
                        struct idp_sp *out)
{
    struct ck_db_stmt *st = NULL;
    int rc = CK_E_NOT_FOUND;
    ck_db_lock(idp->db);
    if (ck_db_prepare(idp->db, sql, &st) != CK_OK) {
        rc = CK_E_DB;
        goto out;
    }
    ck_db_bind_text(st, 1, k1);
    if (k2 != NULL)
        ck_db_bind_text(st, 2, k2);
    int s = ck_db_step(st);
    if (s < 0) {
        rc = -s;
        goto out;
    }
    if (s == 1) {
        out->object_id = idp_col(a, st, 0);
        out->app_id = idp_col(a, st, 1);
        out->tenant_id = idp_col(a, st, 2);
        out->display_name = idp_col(a, st, 3);
        out->sp_type = idp_col(a, st, 4);
        out->app_owner_tenant_id = idp_col(a, st, 5);
        out->directory_admin = (int)ck_db_col_int64(st, 6);
        rc = CK_OK;
    }
out:
    ck_db_stmt_free(st);
    ck_db_unlock(idp->db);
    return rc;
}

int idp_sp_by_app(struct idp *idp, struct ck_arena *a, const char *app_id, const char *tid, struct idp_sp *out)
{
    return idp_sp_query(idp, a, "SELECT " IDP_SP_COLS " FROM service_principals WHERE app_id = lower(?1) AND tenant_id = ?2",
                        app_id, tid, out);
}

int idp_sp_by_object_id(struct idp *idp, struct ck_arena *a, const char *oid, struct idp_sp *out)
{
    return idp_sp_query(idp, a, "SELECT " IDP_SP_COLS " FROM service_principals WHERE object_id = ?1", oid, NULL, out);
}

int idp_app_insert(struct idp *idp, const char *tid, const char *name, const char *audience, const char *kind,
                   char object_id[37], char app_id[37])
{
    struct ck_db_stmt *st = NULL;
    int rc = CK_E_DB;
    if (ck_uuid_new(object_id) != 0 || ck_uuid_new(app_id) != 0)
        return CK_E_INTERNAL;
    ck_db_lock(idp->db);
    if (ck_db_prepare(idp->db,
                      "INSERT INTO applications (object_id, app_id, tenant_id, display_name, sign_in_audience, kind,"
                      " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                      &st) != CK_OK)
        goto out;
    ck_db_bind_text(st, 1, object_id);
    ck_db_bind_text(st, 2, app_id);
    ck_db_bind_text(st, 3, tid);
    ck_db_bind_text(st, 4, name);
    ck_db_bind_text(st, 5, audience);
    ck_db_bind_text(st, 6, kind);
    ck_db_bind_int64(st, 7, ck_time_now());
    int s = ck_db_step(st);
    rc = s < 0 ? -s : CK_OK;
out:
    ck_db_stmt_free(st);
    ck_db_unlock(idp->db);
    return rc;
}

int idp_sp_insert(struct idp *idp, const char *app_id, const char *tid, const char *name, const char *sp_type,
                  const char *owner_tid, int directory_admin, char object_id[37])
{
    struct ck_db_stmt *st = NULL;
    int rc = CK_E_DB;
    if (ck_uuid_new(object_id) != 0)
        return CK_E_INTERNAL;
    ck_db_lock(idp->db);
    if (ck_db_prepare(idp->db,
                      "INSERT INTO service_principals (object_id, app_id, tenant_id, display_name, sp_type,"
                      " app_owner_tenant_id, directory_admin, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                      &st) != CK_OK)
        goto out;
    ck_db_bind_text(st, 1, object_id);
    ck_db_bind_text(st, 2, app_id);
    ck_db_bind_text(st, 3, tid);
    ck_db_bind_text(st, 4, name);
    ck_db_bind_text(st, 5, sp_type);
    ck_db_bind_text(st, 6, owner_tid);
    ck_db_bind_int64(st, 7, directory_admin);
    ck_db_bind_int64(st, 8, ck_time_now());
    int s = ck_db_step(st);
    rc = s < 0 ? -s : CK_OK;
out:
    ck_db_stmt_free(st);
    ck_db_unlock(idp->db);
    return rc;
}

int idp_secret_add(struct idp *idp, const char *app_object_id, const char *display_name, int64_t end_at,
                   char key_id[37], struct ck_secret **secret_text, char hint[4])
{
    struct ck_secret *raw = NULL, *text = NULL;
    struct ck_db_stmt *st = NULL;
    uint8_t salt[CK_SECRET_SALT_LEN], hash[CK_SHA256_LEN];
    char *b64 = NULL;
    int rc;

    if ((rc = ck_rand_secret(32, &raw)) != CK_OK)
        return rc;
    if ((rc = ck_rand_bytes(salt, sizeof(salt))) != CK_OK)
        goto out;
    /* The secret text is the base64url form of 32 random bytes, like Entra's 40-character secrets. */
    b64 = ck_b64url_encode(ck_secret_ptr(raw), ck_secret_len(raw));
    rc = CK_E_NOMEM;
    if (b64 == NULL || ck_uuid_new(key_id) != 0)
        goto out;
    text = ck_secret_from(b64, strlen(b64) + 1);
    if (text == NULL)
        goto out;
    ck_secret_hash("ck-client-secret", salt, b64, strlen(b64), hash);
    memcpy(hint, b64, 3);
    hint[3] = '\0';
    rc = CK_E_DB;
    ck_db_lock(idp->db);
    if (ck_db_prepare(idp->db,
                      "INSERT INTO app_secrets (key_id, app_object_id, display_name, hint, salt, hash, start_at, end_at)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                      &st) == CK_OK) {
        ck_db_bind_text(st, 1, key_id);
        ck_db_bind_text(st, 2, app_object_id);
        ck_db_bind_text(st, 3, display_name);
        ck_db_bind_text(st, 4, hint);
        ck_db_bind_blob(st, 5, salt, sizeof(salt));
        ck_db_bind_blob(st, 6, hash, sizeof(hash));
        ck_db_bind_int64(st, 7, ck_time_now());
        ck_db_bind_int64(st, 8, end_at);
        int s = ck_db_step(st);
        rc = s < 0 ? -s : CK_OK;
    }
    ck_db_stmt_free(st);
    ck_db_unlock(idp->db);
    if (rc == CK_OK) {
        *secret_text = text;
        text = NULL;
    }
out:
    if (b64 != NULL)
        ck_freezero(b64, strlen(b64));
    ck_secret_free(raw);
    ck_secret_free(text);
    return rc;
}

int idp_secret_check(struct idp *idp, const char *app_object_id, const char *secret, size_t len)
{
    struct ck_db_stmt *st = NULL;
    int match = 0;
    int64_t now = ck_time_now();
    ck_db_lock(idp->db);
    if (ck_db_prepare(idp->db, "SELECT salt, hash, start_at, end_at FROM app_secrets WHERE app_object_id = ?1",
                      &st) == CK_OK) {
        ck_db_bind_text(st, 1, app_object_id);
        while (ck_db_step(st) == 1) {
            size_t sl = 0, hl = 0;
            const uint8_t *salt = ck_db_col_blob(st, 0, &sl);
            const uint8_t *hash = ck_db_col_blob(st, 1, &hl);
            uint8_t h[CK_SHA256_LEN];
            if (sl != CK_SECRET_SALT_LEN || hl != CK_SHA256_LEN)
                continue;
            ck_secret_hash("ck-client-secret", salt, secret, len, h);
            int eq = ck_ct_equal(h, sizeof(h), hash, hl);
            if (eq && ck_db_col_int64(st, 2) <= now + CK_JWT_SKEW_SECONDS && ck_db_col_int64(st, 3) > now)
                match = 1;
            else if (eq && match == 0)
                match = 2;
        }
    }
    ck_db_stmt_free(st);
    ck_db_unlock(idp->db);
    return match;
}
