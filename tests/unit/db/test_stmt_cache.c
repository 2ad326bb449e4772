/* SPDX-License-Identifier: Apache-2.0 */
/* The prepared-statement cache of src/db/db.c: reuse, nested use, bindings reset, and SQL built
 * in a reused buffer (the same address holding different statements). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct ck_db *open_db(char *path, size_t len)
{
    struct ck_db *db = NULL;
    snprintf(path, len, "/tmp/ck-stmt-cache-%d.db", (int)getpid());
    unlink(path);
    assert_int_equal(ck_db_open(path, &db), CK_OK);
    assert_int_equal(ck_db_exec(db, "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)"), CK_OK);
    for (int i = 0; i < 5; i++) {
        char k[8], v[8];
        snprintf(k, sizeof(k), "k%d", i);
        snprintf(v, sizeof(v), "%d", i * 10);
        const char *p[2] = {k, v};
        assert_int_equal(ck_db_run(db, "INSERT INTO t (k, v) VALUES (?1, CAST(?2 AS INTEGER))", 2, p), CK_OK);
    }
    return db;
}

static int64_t value_of(struct ck_db *db, const char *sql, const char *k)
{
    struct ck_db_stmt *st = NULL;
    int64_t v = -1;
    assert_int_equal(ck_db_prepare(db, sql, &st), CK_OK);
    if (k != NULL)
        assert_int_equal(ck_db_bind_text(st, 1, k), CK_OK);
    if (ck_db_step(st) == 1)
        v = ck_db_col_int64(st, 0);
    ck_db_stmt_free(st);
    return v;
}

static void test_reuse_and_reset(void **state)
{
    char path[64];
    struct ck_db *db = open_db(path, sizeof(path));
    (void)state;
    /* The same statement many times: each run starts from the first row, with fresh bindings. */
    for (int round = 0; round < 200; round++) {
        char k[8];
        snprintf(k, sizeof(k), "k%d", round % 5);
        assert_int_equal(value_of(db, "SELECT v FROM t WHERE k = ?1", k), (round % 5) * 10);
    }
    /* An unbound parameter after a bound run is NULL again, not the old value. */
    assert_int_equal(value_of(db, "SELECT v FROM t WHERE k = ?1", NULL), -1);
    ck_db_free(db);
    unlink(path);
}

static void test_nested_same_sql(void **state)
{
    char path[64];
    struct ck_db *db = open_db(path, sizeof(path));
    struct ck_db_stmt *outer = NULL;
    int rows = 0;
    (void)state;
    assert_int_equal(ck_db_prepare(db, "SELECT k, v FROM t ORDER BY k", &outer), CK_OK);
    while (ck_db_step(outer) == 1) {
        /* The same SQL while the outer statement is lent: a separate statement, outer unharmed. */
        struct ck_db_stmt *inner = NULL;
        int inner_rows = 0;
        assert_int_equal(ck_db_prepare(db, "SELECT k, v FROM t ORDER BY k", &inner), CK_OK);
        while (ck_db_step(inner) == 1)
            inner_rows++;
        ck_db_stmt_free(inner);
        assert_int_equal(inner_rows, 5);
        assert_int_equal(ck_db_col_int64(outer, 1), rows * 10);
        rows++;
    }
    ck_db_stmt_free(outer);
    assert_int_equal(rows, 5);
    ck_db_free(db);
    unlink(path);
}

static void test_reused_buffer(void **state)
{
    char path[64], sql[128];
    struct ck_db *db = open_db(path, sizeof(path));
    (void)state;
    /* One buffer, different statements: the cache must go by content, not by address. */
    snprintf(sql, sizeof(sql), "SELECT v FROM t WHERE k = 'k1'");
    assert_int_equal(value_of(db, sql, NULL), 10);
    snprintf(sql, sizeof(sql), "SELECT v FROM t WHERE k = 'k3'");
    assert_int_equal(value_of(db, sql, NULL), 30);
    snprintf(sql, sizeof(sql), "SELECT v + 1 FROM t WHERE k = 'k3'");
    assert_int_equal(value_of(db, sql, NULL), 31);
    ck_db_free(db);
    unlink(path);
}

static void test_many_distinct(void **state)
{
    char path[64], sql[128];
    struct ck_db *db = open_db(path, sizeof(path));
    (void)state;
    /* More distinct statements than the cache holds: the rest are prepared and finalized. */
    for (int i = 0; i < 300; i++) {
        snprintf(sql, sizeof(sql), "SELECT v + %d FROM t WHERE k = 'k2'", i);
        assert_int_equal(value_of(db, sql, NULL), 20 + i);
    }
    ck_db_free(db);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_and_reset),
        cmocka_unit_test(test_nested_same_sql),
        cmocka_unit_test(test_reused_buffer),
        cmocka_unit_test(test_many_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
