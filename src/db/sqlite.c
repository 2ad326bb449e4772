/* SPDX-License-Identifier: Apache-2.0 */
/* The embedded SQLite backend of the store ops table: WAL journal, full sync, foreign keys. */
#include "db/db.h"

#include <sqlite3.h>
#include <sys/stat.h>

static int ck_sq_open(const char *path, void **conn)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    chmod(path, 0600);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    *conn = db;
    return 0;
}

static void ck_sq_close(void *conn)
{
    sqlite3_close(conn);
}

static int ck_sq_exec(void *conn, const char *sql)
{
    return sqlite3_exec(conn, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int ck_sq_prepare(void *conn, const char *sql, void **stmt)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(conn, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    *stmt = st;
    return 0;
}

static int ck_sq_bind_text(void *stmt, int idx, const char *s)
{
    return sqlite3_bind_text(stmt, idx, s, -1, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : -1;
}

static int ck_sq_bind_int64(void *stmt, int idx, int64_t v)
{
    return sqlite3_bind_int64(stmt, idx, v) == SQLITE_OK ? 0 : -1;
}

static int ck_sq_bind_blob(void *stmt, int idx, const void *p, size_t n)
{
    return sqlite3_bind_blob64(stmt, idx, p, n, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : -1;
}

static int ck_sq_bind_null(void *stmt, int idx)
{
    return sqlite3_bind_null(stmt, idx) == SQLITE_OK ? 0 : -1;
}

static int ck_sq_step(void *stmt)
{
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    int xrc = sqlite3_extended_errcode(sqlite3_db_handle(stmt));
    if (xrc == SQLITE_CONSTRAINT_UNIQUE || xrc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return -2;
    return -1;
}

static const char *ck_sq_col_text(void *stmt, int idx)
{
    return (const char *)sqlite3_column_text(stmt, idx);
}

static int64_t ck_sq_col_int64(void *stmt, int idx)
{
    return sqlite3_column_int64(stmt, idx);
}

static const void *ck_sq_col_blob(void *stmt, int idx, size_t *len)
{
    const void *p = sqlite3_column_blob(stmt, idx);
    *len = (size_t)sqlite3_column_bytes(stmt, idx);
    return p;
}

static int ck_sq_col_is_null(void *stmt, int idx)
{
    return sqlite3_column_type(stmt, idx) == SQLITE_NULL;
}

static void ck_sq_finalize(void *stmt)
{
    sqlite3_finalize(stmt);
}

static void ck_sq_reset(void *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

static int ck_sq_changes(void *conn)
{
    return sqlite3_changes(conn);
}

const struct ck_db_ops ck_db_sqlite_ops = {
    .name = "sqlite",
    .open = ck_sq_open,
    .close = ck_sq_close,
    .exec = ck_sq_exec,
    .prepare = ck_sq_prepare,
    .bind_text = ck_sq_bind_text,
    .bind_int64 = ck_sq_bind_int64,
    .bind_blob = ck_sq_bind_blob,
    .bind_null = ck_sq_bind_null,
    .step = ck_sq_step,
    .col_text = ck_sq_col_text,
    .col_int64 = ck_sq_col_int64,
    .col_blob = ck_sq_col_blob,
    .col_is_null = ck_sq_col_is_null,
    .finalize = ck_sq_finalize,
    .reset = ck_sq_reset,
    .changes = ck_sq_changes,
};
