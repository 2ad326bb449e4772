/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_DB_DB_H
#define CK_DB_DB_H

/*
 * The metadata store seam: a small SQL interface behind an ops table. The embedded SQLite backend
 * is the first; a PostgreSQL backend can implement the same table, so services write portable SQL
 * with positional parameters (?1, ?2, ...). A handle is shared by a service's threads: callers
 * bracket each logical operation with ck_db_lock/ck_db_unlock (transactions with ck_db_begin,
 * ck_db_commit, ck_db_rollback while holding the lock).
 */
#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

struct ck_db;
struct ck_db_stmt;

struct ck_db_ops {
    const char *name;
    int (*open)(const char *path, void **conn);
    void (*close)(void *conn);
    int (*exec)(void *conn, const char *sql);
    int (*prepare)(void *conn, const char *sql, void **stmt);
    int (*bind_text)(void *stmt, int idx, const char *s);
    int (*bind_int64)(void *stmt, int idx, int64_t v);
    int (*bind_blob)(void *stmt, int idx, const void *p, size_t n);
    int (*bind_null)(void *stmt, int idx);
    int (*step)(void *stmt); /* 1 row, 0 done, <0 error */
    const char *(*col_text)(void *stmt, int idx);
    int64_t (*col_int64)(void *stmt, int idx);
    const void *(*col_blob)(void *stmt, int idx, size_t *len);
    int (*col_is_null)(void *stmt, int idx);
    void (*finalize)(void *stmt);
    void (*reset)(void *stmt); /* ready for a new execution, bindings cleared */
    int (*changes)(void *conn);
};

extern const struct ck_db_ops ck_db_sqlite_ops;

/* Opens (creating) the store at path with the SQLite backend. */
int ck_db_open(const char *path, struct ck_db **out) CK_MUST_CHECK;
/* Closes the store. NULL is a no-op. */
void ck_db_free(struct ck_db *db);

void ck_db_lock(struct ck_db *db);
void ck_db_unlock(struct ck_db *db);
int ck_db_begin(struct ck_db *db);
int ck_db_commit(struct ck_db *db);
void ck_db_rollback(struct ck_db *db);

/*
 * Applies migrations: migrations[i] is the SQL that takes the schema from version i to i+1. The
 * current version lives in the store; each migration runs in its own transaction.
 */
int ck_db_migrate(struct ck_db *db, const char *const *migrations, int count) CK_MUST_CHECK;

int ck_db_exec(struct ck_db *db, const char *sql);
/* Prepares sql; the statement is finalized by ck_db_stmt_free. */
int ck_db_prepare(struct ck_db *db, const char *sql, struct ck_db_stmt **out) CK_MUST_CHECK;
void ck_db_stmt_free(struct ck_db_stmt *st);
int ck_db_bind_text(struct ck_db_stmt *st, int idx, const char *s);
int ck_db_bind_int64(struct ck_db_stmt *st, int idx, int64_t v);
int ck_db_bind_blob(struct ck_db_stmt *st, int idx, const void *p, size_t n);
/* Returns 1 for a row, 0 when done, or a negative ck_err. */
int ck_db_step(struct ck_db_stmt *st);
/* Column access; text is NULL for SQL NULL and lives until the next step. */
const char *ck_db_col_text(struct ck_db_stmt *st, int idx);
int64_t ck_db_col_int64(struct ck_db_stmt *st, int idx);
const void *ck_db_col_blob(struct ck_db_stmt *st, int idx, size_t *len);
/* Rows changed by the last statement. */
int ck_db_changes(struct ck_db *db);

/*
 * Convenience: prepares sql, binds the text parameters (NULL binds SQL NULL), steps once and
 * finalizes. For statements without results. Returns CK_OK, CK_E_EXISTS on a uniqueness
 * conflict, or CK_E_DB.
 */
int ck_db_run(struct ck_db *db, const char *sql, int nparams, const char *const *params);

/* Fault injection for tests: the n-th following step fails with CK_E_DB (0 turns it off). */
void ck_db_fail_after(long n);

#endif
