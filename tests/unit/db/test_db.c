/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/db: open, migrations (idempotent, atomic), statements, uniqueness conflicts,
 * transactions and the step fault injector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/mem.h"
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char dir[64];
static char path[128];
static struct ck_db *db;

static const char *const migrations[] = {
    "CREATE TABLE vaults (name TEXT PRIMARY KEY, tenant TEXT NOT NULL, n INTEGER, blob BLOB)",
    "CREATE TABLE keys (vault TEXT NOT NULL REFERENCES vaults(name), kid TEXT NOT NULL, UNIQUE (vault, kid))",
};

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/ck-db-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/meta.db", dir);
    if (ck_db_open(path, &db) != CK_OK)
        return -1;
    return ck_db_migrate(db, migrations, 2) == CK_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    ck_db_fail_after(0);
    ck_alloc_fail_after(0);
    ck_db_free(db);
    db = NULL;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int64_t count(const char *sql)
{
    struct ck_db_stmt *st = NULL;
    assert_int_equal(ck_db_prepare(db, sql, &st), CK_OK);
    assert_int_equal(ck_db_step(st), 1);
    int64_t n = ck_db_col_int64(st, 0);
    ck_db_stmt_free(st);
    return n;
}

static int insert_vault(const char *name, const char *tenant)
{
    const char *p[] = {name, tenant};
    return ck_db_run(db, "INSERT INTO vaults (name, tenant) VALUES (?1, ?2)", 2, p);
}

static void test_open_and_mode(void **state)
{
    (void)state;
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(count("SELECT version FROM schema_version"), 2);
    assert_int_equal(count("SELECT COUNT(*) FROM schema_version"), 1);
    ck_db_free(NULL);
    struct ck_db *bad = NULL;
    assert_int_equal(ck_db_open("/nonexistent-dir/x/meta.db", &bad), CK_E_DB);
    assert_null(bad);
}

static void test_migrate_idempotent_on_reopen(void **state)
{
    (void)state;
    assert_int_equal(insert_vault("v1", "t1"), CK_OK);
    ck_db_free(db);
    assert_int_equal(ck_db_open(path, &db), CK_OK);
    /* The migrations are not idempotent SQL: running them again would fail. */
    assert_int_equal(ck_db_migrate(db, migrations, 2), CK_OK);
    assert_int_equal(ck_db_migrate(db, migrations, 2), CK_OK);
    assert_int_equal(count("SELECT COUNT(*) FROM vaults"), 1);
    /* A new migration runs alone. */
    const char *const more[] = {migrations[0], migrations[1], "ALTER TABLE vaults ADD COLUMN extra TEXT"};
    assert_int_equal(ck_db_migrate(db, more, 3), CK_OK);
    assert_int_equal(count("SELECT version FROM schema_version"), 3);
    assert_int_equal(count("SELECT COUNT(extra) FROM vaults"), 0);
}

static void test_migration_failure_is_atomic(void **state)
{
    (void)state;
    const char *const more[] = {migrations[0], migrations[1],
                                "CREATE TABLE half (x); INSERT INTO no_such_table VALUES (1)"};
    assert_int_equal(ck_db_migrate(db, more, 3), CK_E_DB);
    assert_int_equal(count("SELECT version FROM schema_version"), 2);
    assert_int_equal(count("SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'"), 0);
}

static void test_migrate_step_fault_keeps_version(void **state)
{
    (void)state;
    /* A failed read of the version must fail the migration, not restart it from version 0. */
    ck_db_free(db);
    assert_int_equal(ck_db_open(path, &db), CK_OK);
    ck_db_fail_after(2); /* 1: CREATE TABLE IF NOT EXISTS, 2: the SELECT's step */
    assert_int_not_equal(ck_db_migrate(db, migrations, 2), CK_OK);
    ck_db_fail_after(0);
    assert_int_equal(count("SELECT COUNT(*) FROM schema_version"), 1);
    assert_int_equal(count("SELECT version FROM schema_version"), 2);
    assert_int_equal(ck_db_migrate(db, migrations, 2), CK_OK);
}

static void test_run_prepare_bind_step(void **state)
{
    (void)state;
    struct ck_db_stmt *st = NULL;
    static const uint8_t blob[] = {0, 1, 2, 0, 255};
    assert_int_equal(ck_db_prepare(db, "INSERT INTO vaults (name, tenant, n, blob) VALUES (?1, ?2, ?3, ?4)", &st),
                     CK_OK);
    assert_int_equal(ck_db_bind_text(st, 1, "v1"), CK_OK);
    assert_int_equal(ck_db_bind_text(st, 2, "t1"), CK_OK);
    assert_int_equal(ck_db_bind_int64(st, 3, INT64_MIN), CK_OK);
    assert_int_equal(ck_db_bind_blob(st, 4, blob, sizeof(blob)), CK_OK);
    assert_int_equal(ck_db_bind_text(st, 9, "x"), CK_E_DB); /* no such parameter */
    assert_int_equal(ck_db_step(st), 0);
    ck_db_stmt_free(st);
    assert_int_equal(ck_db_changes(db), 1);

    const char *p[] = {"v2", "t'; DROP TABLE vaults; --"}; /* parameters are never SQL */
    assert_int_equal(ck_db_run(db, "INSERT INTO vaults (name, tenant) VALUES (?1, ?2)", 2, p), CK_OK);

    assert_int_equal(ck_db_prepare(db, "SELECT name, tenant, n, blob FROM vaults ORDER BY name", &st), CK_OK);
    assert_int_equal(ck_db_step(st), 1);
    assert_string_equal(ck_db_col_text(st, 0), "v1");
    assert_string_equal(ck_db_col_text(st, 1), "t1");
    assert_int_equal(ck_db_col_int64(st, 2), INT64_MIN);
    size_t len = 0;
    const void *b = ck_db_col_blob(st, 3, &len);
    assert_int_equal(len, sizeof(blob));
    assert_memory_equal(b, blob, sizeof(blob));
    assert_int_equal(ck_db_step(st), 1);
    assert_string_equal(ck_db_col_text(st, 0), "v2");
    assert_string_equal(ck_db_col_text(st, 1), "t'; DROP TABLE vaults; --");
    assert_null(ck_db_col_text(st, 2)); /* SQL NULL */
    assert_int_equal(ck_db_step(st), 0);
    ck_db_stmt_free(st);
    ck_db_stmt_free(NULL);

    /* NULL text binds SQL NULL. */
    const char *pn[] = {"v3", "t3", NULL};
    assert_int_equal(ck_db_run(db, "INSERT INTO vaults (name, tenant, n) VALUES (?1, ?2, ?3)", 3, pn), CK_OK);
    assert_int_equal(count("SELECT COUNT(*) FROM vaults WHERE n IS NULL"), 2);
    /* Bad SQL. */
    st = NULL;
    assert_int_equal(ck_db_prepare(db, "SELEKT 1", &st), CK_E_DB);
    assert_null(st);
    assert_int_equal(ck_db_run(db, "INSERT INTO nope VALUES (1)", 0, NULL), CK_E_DB);
    assert_int_equal(ck_db_exec(db, "CREATE TABLE"), CK_E_DB);
}

static void test_uniqueness_conflict(void **state)
{
    (void)state;
    assert_int_equal(insert_vault("v1", "t1"), CK_OK);
    assert_int_equal(insert_vault("v1", "t2"), CK_E_EXISTS); /* primary key */
    const char *k[] = {"v1", "k1"};
    assert_int_equal(ck_db_run(db, "INSERT INTO keys (vault, kid) VALUES (?1, ?2)", 2, k), CK_OK);
    assert_int_equal(ck_db_run(db, "INSERT INTO keys (vault, kid) VALUES (?1, ?2)", 2, k), CK_E_EXISTS); /* UNIQUE */
    assert_int_equal(count("SELECT COUNT(*) FROM keys"), 1);
    /* The store is usable after a conflict. */
    assert_int_equal(insert_vault("v2", "t1"), CK_OK);
}

static void test_other_constraints_are_not_conflicts(void **state)
{
    (void)state;
    /* NOT NULL and foreign key violations are bad statements, not "already exists" (409). */
    assert_int_equal(insert_vault("v1", NULL), CK_E_DB);
    const char *k[] = {"no-such-vault", "k1"};
    assert_int_equal(ck_db_run(db, "INSERT INTO keys (vault, kid) VALUES (?1, ?2)", 2, k), CK_E_DB);
}

static void test_transactions(void **state)
{
    (void)state;
    ck_db_lock(db);
    assert_int_equal(ck_db_begin(db), CK_OK);
    assert_int_equal(insert_vault("v1", "t1"), CK_OK);
    assert_int_equal(insert_vault("v2", "t1"), CK_OK);
    ck_db_rollback(db);
    ck_db_unlock(db);
    assert_int_equal(count("SELECT COUNT(*) FROM vaults"), 0);

    ck_db_lock(db);
    ck_db_lock(db); /* the lock is recursive */
    assert_int_equal(ck_db_begin(db), CK_OK);
    assert_int_equal(insert_vault("v1", "t1"), CK_OK);
    assert_int_equal(ck_db_commit(db), CK_OK);
    ck_db_unlock(db);
    ck_db_unlock(db);
    assert_int_equal(count("SELECT COUNT(*) FROM vaults"), 1);

    /* A conflict inside a transaction, then rollback: nothing of it remains. */
    assert_int_equal(ck_db_begin(db), CK_OK);
    assert_int_equal(insert_vault("v2", "t1"), CK_OK);
    assert_int_equal(insert_vault("v1", "t1"), CK_E_EXISTS);
    ck_db_rollback(db);
    assert_int_equal(count("SELECT COUNT(*) FROM vaults"), 1);
    /* Commit without a transaction is an error; rollback without one is harmless. */
    assert_int_equal(ck_db_commit(db), CK_E_DB);
    ck_db_rollback(db);
    /* Committed data survives reopening. */
    ck_db_free(db);
    assert_int_equal(ck_db_open(path, &db), CK_OK);
    assert_int_equal(count("SELECT COUNT(*) FROM vaults"), 1);
}

static void test_fault_injection(void **state)
{
    (void)state;
    ck_db_fail_after(1);
    assert_int_equal(insert_vault("v1", "t1"), CK_E_DB); /* the step fails; nothing written */
    assert_int_equal(count("SELECT COUNT(*) FROM vaults"), 0);
    assert_int_equal(insert_vault("v1", "t1"), CK_OK); /* one-shot */
    ck_db_fail_after(2);
    assert_int_equal(insert_vault("v2", "t1"), CK_OK);
    assert_int_equal(insert_vault("v3", "t1"), CK_E_DB);
    assert_int_equal(count("SELECT COUNT(*) FROM vaults"), 2);
    /* Exec and begin fail too. */
    ck_db_fail_after(1);
    assert_int_equal(ck_db_begin(db), CK_E_DB);
    ck_db_fail_after(1);
    assert_int_equal(ck_db_exec(db, "SELECT 1"), CK_E_DB);
    /* A failed commit leaves the transaction to be rolled back. */
    assert_int_equal(ck_db_begin(db), CK_OK);
    assert_int_equal(insert_vault("v4", "t1"), CK_OK);
    ck_db_fail_after(1);
    assert_int_equal(ck_db_commit(db), CK_E_DB);
    ck_db_rollback(db);
    assert_int_equal(count("SELECT COUNT(*) FROM vaults WHERE name = 'v4'"), 0);
    /* Stepping a SELECT that fails mid-way returns a negative error. */
    struct ck_db_stmt *st = NULL;
    assert_int_equal(ck_db_prepare(db, "SELECT name FROM vaults", &st), CK_OK);
    assert_int_equal(ck_db_step(st), 1);
    ck_db_fail_after(1);
    assert_int_equal(ck_db_step(st), -CK_E_DB);
    ck_db_stmt_free(st);
    ck_db_fail_after(0);
}

static void test_nomem(void **state)
{
    (void)state;
    struct ck_db_stmt *st = NULL;
    ck_alloc_fail_after(1);
    assert_int_equal(ck_db_prepare(db, "SELECT 1", &st), CK_E_NOMEM);
    assert_null(st);
    ck_alloc_fail_after(1);
    assert_int_equal(insert_vault("v1", "t1"), CK_E_NOMEM);
    struct ck_db *d2 = NULL;
    ck_alloc_fail_after(1);
    assert_int_equal(ck_db_open(path, &d2), CK_E_NOMEM);
    assert_null(d2);
    ck_alloc_fail_after(0);
    assert_int_equal(count("SELECT COUNT(*) FROM vaults"), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_and_mode),
        T(test_migrate_idempotent_on_reopen),
        T(test_migration_failure_is_atomic),
        T(test_migrate_step_fault_keeps_version),
        T(test_run_prepare_bind_step),
        T(test_uniqueness_conflict),
        T(test_other_constraints_are_not_conflicts),
        T(test_transactions),
        T(test_fault_injection),
        T(test_nomem),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
