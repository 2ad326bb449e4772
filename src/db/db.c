/* SPDX-License-Identifier: Apache-2.0 */
/* The store wrapper: locking, transactions, migrations and fault injection over an ops table. */
#include "db/db.h"
#include "core/mem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/*
 * Prepared statements are kept and reused: compiling SQL costs more than running most of these
 * statements. A cached statement is lent to one user at a time; the same SQL prepared again while
 * its statement is lent (a nested use) gets a fresh, uncached statement.
 */
#define CK_DB_STMT_CACHE 64

struct ck_db_cached {
    char *copy; /* the SQL text */
    void *st;
    int lent;
};

struct ck_db {
    const struct ck_db_ops *ops;
    void *conn;
    pthread_mutex_t lock;
    struct ck_db_cached cache[CK_DB_STMT_CACHE];
};

struct ck_db_stmt {
    struct ck_db *db;
    void *st;
    struct ck_db_cached *cached; /* NULL: finalize on free */
};

static _Atomic long ck_db_fail_countdown;

void ck_db_fail_after(long n)
{
    atomic_store(&ck_db_fail_countdown, n);
}

static int ck_db_should_fail(void)
{
    long v = atomic_load(&ck_db_fail_countdown);
    if (v <= 0)
        return 0;
    return atomic_fetch_sub(&ck_db_fail_countdown, 1) == 1;
}

int ck_db_open(const char *path, struct ck_db **out)
{
    struct ck_db *db = ck_calloc(1, sizeof(*db));
    pthread_mutexattr_t at;
    if (db == NULL)
        return CK_E_NOMEM;
    db->ops = &ck_db_sqlite_ops;
    if (db->ops->open(path, &db->conn) != 0) {
        ck_free(db);
        return CK_E_DB;
    }
    pthread_mutexattr_init(&at);
    pthread_mutexattr_settype(&at, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&db->lock, &at);
    pthread_mutexattr_destroy(&at);
    *out = db;
    return CK_OK;
}

void ck_db_free(struct ck_db *db)
{
    if (db == NULL)
        return;
    for (int i = 0; i < CK_DB_STMT_CACHE; i++) {
        if (db->cache[i].st != NULL)
            db->ops->finalize(db->cache[i].st);
        ck_free(db->cache[i].copy);
    }
    db->ops->close(db->conn);
    pthread_mutex_destroy(&db->lock);
    ck_free(db);
}

void ck_db_lock(struct ck_db *db)
{
    pthread_mutex_lock(&db->lock);
}

void ck_db_unlock(struct ck_db *db)
{
    pthread_mutex_unlock(&db->lock);
}

int ck_db_exec(struct ck_db *db, const char *sql)
{
    if (ck_db_should_fail())
        return CK_E_DB;
    return db->ops->exec(db->conn, sql) == 0 ? CK_OK : CK_E_DB;
}

int ck_db_begin(struct ck_db *db)
{
    return ck_db_exec(db, "BEGIN IMMEDIATE");
}

int ck_db_commit(struct ck_db *db)
{
    return ck_db_exec(db, "COMMIT");
}

void ck_db_rollback(struct ck_db *db)
{
    db->ops->exec(db->conn, "ROLLBACK");
}

int ck_db_prepare(struct ck_db *db, const char *sql, struct ck_db_stmt **out)
{
    struct ck_db_stmt *st = ck_calloc(1, sizeof(*st));
    struct ck_db_cached *free_slot = NULL;
    if (st == NULL)
        return CK_E_NOMEM;
    st->db = db;
    pthread_mutex_lock(&db->lock);
    for (int i = 0; i < CK_DB_STMT_CACHE; i++) {
        struct ck_db_cached *c = &db->cache[i];
        if (c->st == NULL) {
            if (free_slot == NULL)
                free_slot = c;
            continue;
        }
        /* By content: callers may build SQL in a reused buffer, so addresses prove nothing. */
        if (!c->lent && strcmp(c->copy, sql) == 0) {
            c->lent = 1;
            st->st = c->st;
            st->cached = c;
            break;
        }
    }
    if (st->st == NULL) {
        if (db->ops->prepare(db->conn, sql, &st->st) != 0) {
            pthread_mutex_unlock(&db->lock);
            ck_free(st);
            return CK_E_DB;
        }
        if (free_slot != NULL && (free_slot->copy = ck_strdup(sql)) != NULL) {
            free_slot->st = st->st;
            free_slot->lent = 1;
            st->cached = free_slot;
        }
    }
    pthread_mutex_unlock(&db->lock);
    *out = st;
    return CK_OK;
}

void ck_db_stmt_free(struct ck_db_stmt *st)
{
    if (st == NULL)
        return;
    struct ck_db *db = st->db;
    if (st->cached != NULL) {
        pthread_mutex_lock(&db->lock);
        db->ops->reset(st->st);
        st->cached->lent = 0;
        pthread_mutex_unlock(&db->lock);
    } else {
        db->ops->finalize(st->st);
    }
    ck_free(st);
}

int ck_db_bind_text(struct ck_db_stmt *st, int idx, const char *s)
{
    if (s == NULL)
        return st->db->ops->bind_null(st->st, idx) == 0 ? CK_OK : CK_E_DB;
    return st->db->ops->bind_text(st->st, idx, s) == 0 ? CK_OK : CK_E_DB;
}

int ck_db_bind_int64(struct ck_db_stmt *st, int idx, int64_t v)
{
    return st->db->ops->bind_int64(st->st, idx, v) == 0 ? CK_OK : CK_E_DB;
}

int ck_db_bind_blob(struct ck_db_stmt *st, int idx, const void *p, size_t n)
{
    return st->db->ops->bind_blob(st->st, idx, p, n) == 0 ? CK_OK : CK_E_DB;
}

int ck_db_step(struct ck_db_stmt *st)
{
    if (ck_db_should_fail())
        return -CK_E_DB;
    int rc = st->db->ops->step(st->st);
    if (rc == -2)
        return -CK_E_EXISTS;
    return rc < 0 ? -CK_E_DB : rc;
}

const char *ck_db_col_text(struct ck_db_stmt *st, int idx)
{
    return st->db->ops->col_text(st->st, idx);
}

int64_t ck_db_col_int64(struct ck_db_stmt *st, int idx)
{
    return st->db->ops->col_int64(st->st, idx);
}

const void *ck_db_col_blob(struct ck_db_stmt *st, int idx, size_t *len)
{
    return st->db->ops->col_blob(st->st, idx, len);
}

int ck_db_changes(struct ck_db *db)
{
    return db->ops->changes(db->conn);
}

int ck_db_run(struct ck_db *db, const char *sql, int nparams, const char *const *params)
{
    struct ck_db_stmt *st = NULL;
    int rc = ck_db_prepare(db, sql, &st);
    if (rc != CK_OK)
        return rc;
    for (int i = 0; i < nparams; i++) {
        if (ck_db_bind_text(st, i + 1, params[i]) != CK_OK) {
            ck_db_stmt_free(st);
            return CK_E_DB;
        }
    }
    int s = ck_db_step(st);
    ck_db_stmt_free(st);
    if (s < 0)
        return -s;
    return CK_OK;
}

int ck_db_migrate(struct ck_db *db, const char *const *migrations, int count)
{
    struct ck_db_stmt *st = NULL;
    int version = 0, rc = CK_E_DB;
    ck_db_lock(db);
    if (ck_db_exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)") != CK_OK)
        goto out;
    if (ck_db_prepare(db, "SELECT version FROM schema_version", &st) != CK_OK)
        goto out;
    int s = ck_db_step(st);
    if (s < 0)
        goto out;
    if (s == 1)
        version = (int)ck_db_col_int64(st, 0);
    else if (ck_db_exec(db, "INSERT INTO schema_version (version) VALUES (0)") != CK_OK)
        goto out;
    ck_db_stmt_free(st);
    st = NULL;
    for (int i = version; i < count; i++) {
        char sql[96];
        if (ck_db_begin(db) != CK_OK)
            goto out;
        snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %d", i + 1);
        if (ck_db_exec(db, migrations[i]) != CK_OK || ck_db_exec(db, sql) != CK_OK) {
            ck_db_rollback(db);
            goto out;
        }
        if (ck_db_commit(db) != CK_OK) {
            ck_db_rollback(db);
            goto out;
        }
    }
    rc = CK_OK;
out:
    ck_db_stmt_free(st);
    ck_db_unlock(db);
    return rc;
}
