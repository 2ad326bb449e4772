/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ARM's metadata store on the db seam (SQLite at DIR/arm/arm.db): the schema and its migrations,
 * subscriptions, the access decision over role assignments (an assignment at the scope or any
 * parent scope whose built-in role allows the action), and the index of resources that providers
 * created, which resource-group deletion walks. Every read goes to the store, so role changes take
 * effect on the next request.
 */
#include "services/arm/arm_int.h"
#include "core/codec.h"
#include "core/fsutil.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const arm_migrations[] = {
    "CREATE TABLE subscriptions (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, display_name TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE resource_groups (sub_id TEXT NOT NULL, name_lc TEXT NOT NULL, name TEXT NOT NULL,"
    " location TEXT NOT NULL, tags TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (sub_id, name_lc));"
    "CREATE TABLE providers (sub_id TEXT NOT NULL, ns_lc TEXT NOT NULL, ns TEXT NOT NULL, state TEXT NOT NULL,"
    " PRIMARY KEY (sub_id, ns_lc));"
    "CREATE TABLE features (sub_id TEXT NOT NULL, ns_lc TEXT NOT NULL, name_lc TEXT NOT NULL, ns TEXT NOT NULL,"
    " name TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (sub_id, ns_lc, name_lc));"
    "CREATE TABLE role_assignments (name TEXT PRIMARY KEY, scope TEXT NOT NULL, scope_lc TEXT NOT NULL,"
    " role_id TEXT NOT NULL, principal_id TEXT NOT NULL, principal_type TEXT NOT NULL, tenant_id TEXT NOT NULL,"
    " description TEXT, created_on INTEGER NOT NULL, updated_on INTEGER NOT NULL, created_by TEXT,"
    " updated_by TEXT, UNIQUE (scope_lc, role_id, principal_id));"
    "CREATE INDEX role_assignments_principal ON role_assignments (principal_id);"
    "CREATE TABLE resources (id_lc TEXT PRIMARY KEY, id TEXT NOT NULL, type TEXT NOT NULL, sub_id TEXT NOT NULL,"
    " rg_lc TEXT, api_version TEXT, created_at INTEGER NOT NULL);",
    /* When a feature was registered and when its provider was last registered (ms): a feature takes
     * effect for the provider only once the provider is registered again after it. */
    "ALTER TABLE features ADD COLUMN registered_ms INTEGER;"
    "ALTER TABLE providers ADD COLUMN registered_ms INTEGER;",
};

int arm_store_open(struct arm *arm, const char *data_dir)
{
    char *path = NULL;
    int rc = CK_E_IO;
    if (ck_mkdirs(data_dir, 0700) != 0)
        goto out;
    rc = CK_E_NOMEM;
    path = ck_path_join(data_dir, "arm.db");
    if (path == NULL)
        goto out;
    if ((rc = ck_db_open(path, &arm->db)) != CK_OK)
        goto out;
    rc = ck_db_migrate(arm->db, arm_migrations, (int)(sizeof(arm_migrations) / sizeof(arm_migrations[0])));
out:
    ck_free(path);
    return rc;
}

static void arm_copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

int arm_sub_get(struct arm *arm, const char *sub_id, struct arm_sub *out)
{
    struct ck_db_stmt *st = NULL;
    int rc = CK_E_DB, s;
    ck_db_lock(arm->db);
    if (ck_db_prepare(arm->db, "SELECT id, tenant_id, display_name FROM subscriptions WHERE id = ?1", &st) != CK_OK ||
        ck_db_bind_text(st, 1, sub_id) != CK_OK)
        goto out;
    s = ck_db_step(st);
    if (s < 0)
        goto out;
    if (s == 0) {
        rc = CK_E_NOT_FOUND;
        goto out;
    }
    arm_copy(out->id, sizeof(out->id), ck_db_col_text(st, 0));
    arm_copy(out->tenant_id, sizeof(out->tenant_id), ck_db_col_text(st, 1));
    arm_copy(out->display_name, sizeof(out->display_name), ck_db_col_text(st, 2));
    rc = CK_OK;
out:
    ck_db_stmt_free(st);
    ck_db_unlock(arm->db);
    return rc;
}

/* Inserts a role assignment row; the caller holds the lock (and the transaction). */
static int arm_ra_insert(struct arm *arm, const char *name, const char *scope, const char *scope_lc,
                         const char *role_id, const char *principal, const char *principal_type, const char *tenant,
                         const char *description, const char *by)
{
    struct ck_db_stmt *st = NULL;
    int rc = CK_E_DB, s;
    int64_t now = ck_time_now();
    if (ck_db_prepare(arm->db,
                      "INSERT INTO role_assignments (name, scope, scope_lc, role_id, principal_id, principal_type,"
                      " tenant_id, description, created_on, updated_on, created_by, updated_by)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?10)",
                      &st) != CK_OK)
        goto out;
    if (ck_db_bind_text(st, 1, name) != CK_OK || ck_db_bind_text(st, 2, scope) != CK_OK ||
        ck_db_bind_text(st, 3, scope_lc) != CK_OK || ck_db_bind_text(st, 4, role_id) != CK_OK ||
        ck_db_bind_text(st, 5, principal) != CK_OK || ck_db_bind_text(st, 6, principal_type) != CK_OK ||
        ck_db_bind_text(st, 7, tenant) != CK_OK || ck_db_bind_text(st, 8, description) != CK_OK ||
        ck_db_bind_int64(st, 9, now) != CK_OK || ck_db_bind_text(st, 10, by) != CK_OK)
        goto out;
    s = ck_db_step(st);
    rc = s < 0 ? -s : CK_OK;
out:
    ck_db_stmt_free(st);
    return rc;
}

int arm_ra_create(struct arm *arm, const char *name, const char *scope, const char *scope_lc, const char *role_id,
                  const char *principal, const char *principal_type, const char *tenant, const char *description,
                  const char *by)
{
    int rc;
    ck_db_lock(arm->db);
    rc = arm_ra_insert(arm, name, scope, scope_lc, role_id, principal, principal_type, tenant, description, by);
    ck_db_unlock(arm->db);
    return rc;
}

int arm_sub_create(struct arm *arm, const char *tenant_id, const char *display_name, const char *owner,
                   struct arm_sub *out)
{
    char id[37], ra[37], scope[64];
    struct ck_db_stmt *st = NULL;
    int rc = CK_E_INTERNAL, began = 0;
    if (ck_uuid_new(id) != 0 || ck_uuid_new(ra) != 0)
        return CK_E_INTERNAL;
    snprintf(scope, sizeof(scope), "/subscriptions/%s", id);
    ck_db_lock(arm->db);
    rc = CK_E_DB;
    if (ck_db_begin(arm->db) != CK_OK)
        goto out;
    began = 1;
    if (ck_db_prepare(arm->db, "INSERT INTO subscriptions (id, tenant_id, display_name, created_at) VALUES (?1, ?2, ?3, ?4)",
                      &st) != CK_OK ||
        ck_db_bind_text(st, 1, id) != CK_OK || ck_db_bind_text(st, 2, tenant_id) != CK_OK ||
        ck_db_bind_text(st, 3, display_name) != CK_OK || ck_db_bind_int64(st, 4, ck_time_now()) != CK_OK ||
        ck_db_step(st) < 0)
        goto out;
    if (owner != NULL && (rc = arm_ra_insert(arm, ra, scope, scope, "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", owner,
                                             "ServicePrincipal", tenant_id, NULL, "operator")) != CK_OK)
        goto out;
    rc = CK_E_DB;
    if (ck_db_commit(arm->db) != CK_OK)
        goto out;
    began = 0;
    arm_copy(out->id, sizeof(out->id), id);
    arm_copy(out->tenant_id, sizeof(out->tenant_id), tenant_id);
    arm_copy(out->display_name, sizeof(out->display_name), display_name);
    rc = CK_OK;
out:
    ck_db_stmt_free(st);
    if (began)
        ck_db_rollback(arm->db);
    ck_db_unlock(arm->db);
    return rc;
}

int arm_rg_exists(struct arm *arm, const char *sub_id, const char *rg)
{
    struct ck_db_stmt *st = NULL;
    int r = -1;
    ck_db_lock(arm->db);
    if (ck_db_prepare(arm->db, "SELECT 1 FROM resource_groups WHERE sub_id = lower(?1) AND name_lc = lower(?2)", &st) !=
            CK_OK ||
        ck_db_bind_text(st, 1, sub_id) != CK_OK || ck_db_bind_text(st, 2, rg) != CK_OK)
        goto out;
    r = ck_db_step(st);
    if (r > 1)
        r = 1;
out:
    ck_db_stmt_free(st);
    ck_db_unlock(arm->db);
    return r;
}

int arm_scope_covers(const char *anc, const char *scope)
{
    size_t n = strlen(anc);
    if (strcmp(anc, "/") == 0)
        return 1;
    return strncasecmp(anc, scope, n) == 0 && (scope[n] == '\0' || scope[n] == '/');
}

/*
 * Walks the principal's assignments in tenant. With an action, finds one at scope or above whose
 * role allows it; without, finds any at, above or below scope. Returns 1, 0, or -1 on error.
 */
static int arm_access_scan(struct arm *arm, const char *tenant, const char *principal, const char *scope,
                           const char *action, int is_data, char assignment[64], const char **role_name)
{
    struct ck_db_stmt *st = NULL;
    int r = -1, s;
    if (principal == NULL || principal[0] == '\0' || tenant == NULL)
        return 0;
    ck_db_lock(arm->db);
    if (ck_db_prepare(arm->db,
                      "SELECT name, scope_lc, role_id FROM role_assignments WHERE principal_id = lower(?1)"
                      " AND tenant_id = lower(?2) ORDER BY length(scope_lc)",
                      &st) != CK_OK ||
        ck_db_bind_text(st, 1, principal) != CK_OK || ck_db_bind_text(st, 2, tenant) != CK_OK)
        goto out;
    r = 0;
    while ((s = ck_db_step(st)) == 1) {
        const char *sc = ck_db_col_text(st, 1);
        const struct ck_role *role = ck_role_find(ck_db_col_text(st, 2));
        if (sc == NULL)
            continue;
        if (action == NULL ? !(arm_scope_covers(sc, scope) || arm_scope_covers(scope, sc))
                           : !arm_scope_covers(sc, scope) || !ck_role_allows(role, action, is_data))
            continue;
        if (assignment != NULL)
            arm_copy(assignment, 64, ck_db_col_text(st, 0));
        if (role_name != NULL && role != NULL)
            *role_name = role->name;
        r = 1;
        break;
    }
    if (s < 0)
        r = -1;
out:
    ck_db_stmt_free(st);
    ck_db_unlock(arm->db);
    return r;
}

int arm_check_access(struct arm *arm, const char *tenant, const char *principal, const char *scope,
                     const char *action, int is_data, char assignment[64], const char **role_name)
{
    if (action == NULL)
        return 0;
    return arm_access_scan(arm, tenant, principal, scope, action, is_data, assignment, role_name);
}

int arm_has_any_access(struct arm *arm, const char *tenant, const char *principal, const char *scope)
{
    return arm_access_scan(arm, tenant, principal, scope, NULL, 0, NULL, NULL);
}

int arm_purge_scope(struct arm *arm, const char *scope_lc)
{
    const char *p[1] = {scope_lc};
    int rc;
    ck_db_lock(arm->db);
    rc = ck_db_run(arm->db,
                   "DELETE FROM role_assignments WHERE scope_lc = ?1 OR substr(scope_lc, 1, length(?1) + 1) = ?1 || '/'",
                   1, p);
    if (rc == CK_OK)
        rc = ck_db_run(arm->db, "DELETE FROM resources WHERE id_lc = ?1 OR substr(id_lc, 1, length(?1) + 1) = ?1 || '/'",
                       1, p);
    ck_db_unlock(arm->db);
    return rc;
}

int arm_index_put(struct arm *arm, const char *id, const char *type, const char *sub_id, const char *rg,
                  const char *api_version)
{
    struct ck_db_stmt *st = NULL;
    int rc = CK_E_DB;
    ck_db_lock(arm->db);
    if (ck_db_prepare(arm->db,
                      "INSERT OR REPLACE INTO resources (id_lc, id, type, sub_id, rg_lc, api_version, created_at)"
                      " VALUES (lower(?1), ?1, ?2, lower(?3), lower(?4), ?6, ?5)",
                      &st) != CK_OK ||
        ck_db_bind_text(st, 1, id) != CK_OK || ck_db_bind_text(st, 2, type) != CK_OK ||
        ck_db_bind_text(st, 3, sub_id) != CK_OK || ck_db_bind_text(st, 4, rg) != CK_OK ||
        ck_db_bind_int64(st, 5, ck_time_now()) != CK_OK || ck_db_bind_text(st, 6, api_version) != CK_OK ||
        ck_db_step(st) < 0)
        goto out;
    rc = CK_OK;
out:
    ck_db_stmt_free(st);
    ck_db_unlock(arm->db);
    return rc;
}
