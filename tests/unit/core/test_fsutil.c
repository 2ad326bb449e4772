/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/core/fsutil.c: recursive mkdir, atomic replace (mode, content, the old file intact
 * on failure, no temporary left behind) and bounded whole-file reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fsutil.h"
#include "core/mem.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ck-fsutil-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    ck_alloc_fail_after(0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *in_tmp(const char *name)
{
    char *p = ck_path_join(tmpdir, name);
    assert_non_null(p);
    return p;
}

/* Counts entries of dir whose names contain needle. */
static int count_entries(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, needle) != NULL)
            n++;
    closedir(d);
    return n;
}

static void expect_content(const char *path, const char *want)
{
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(ck_read_file(path, 1u << 20, &data, &len), 0);
    assert_int_equal(len, strlen(want));
    assert_string_equal(data, want);
    ck_free(data);
}

static void test_path_join(void **state)
{
    (void)state;
    char *p = ck_path_join("/a/b", "c.txt");
    assert_string_equal(p, "/a/b/c.txt");
    ck_free(p);
    ck_alloc_fail_after(1);
    assert_null(ck_path_join("a", "b"));
}

static void test_mkdirs(void **state)
{
    (void)state;
    char *deep = in_tmp("x/y/z");
    struct stat st;
    assert_int_equal(ck_mkdirs(deep, 0700), 0);
    assert_int_equal(stat(deep, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(ck_mkdirs(deep, 0700), 0); /* existing is fine */
    char *withslash = in_tmp("x/y/w/");
    assert_int_equal(ck_mkdirs(withslash, 0700), 0);
    /* A regular file in the way is an error. */
    char *file = in_tmp("plain");
    assert_int_equal(ck_write_file_atomic(file, "x", 1, 0600), 0);
    char *under = in_tmp("plain/sub");
    assert_int_equal(ck_mkdirs(under, 0700), -1);
    ck_free(deep);
    ck_free(withslash);
    ck_free(file);
    ck_free(under);
}

static void test_mkdirs_empty(void **state)
{
    (void)state;
    /* An empty path names no directory: an error, and no read past the string (ASan). */
    assert_int_equal(ck_mkdirs("", 0700), -1);
}

static void test_write_atomic_mode_and_content(void **state)
{
    (void)state;
    char *path = in_tmp("secret.key");
    struct stat st;
    mode_t old = umask(0);
    assert_int_equal(ck_write_file_atomic(path, "first", 5, 0600), 0);
    umask(old);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    expect_content(path, "first");
    /* Replace: new content and the mode asked for, whatever the umask. */
    old = umask(077);
    assert_int_equal(ck_write_file_atomic(path, "second, longer", 14, 0644), 0);
    umask(old);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    expect_content(path, "second, longer");
    /* Shorter content truncates. */
    assert_int_equal(ck_write_file_atomic(path, "3", 1, 0600), 0);
    expect_content(path, "3");
    /* Empty content. */
    assert_int_equal(ck_write_file_atomic(path, "", 0, 0600), 0);
    expect_content(path, "");
    /* Binary content with NULs. */
    assert_int_equal(ck_write_file_atomic(path, "a\0b", 3, 0600), 0);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(ck_read_file(path, 100, &data, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "a\0b", 4);
    ck_free(data);
    assert_int_equal(count_entries(tmpdir, ".tmp"), 0);
    ck_free(path);
}

static void test_write_atomic_failure_keeps_old(void **state)
{
    (void)state;
    char *path = in_tmp("state.json");
    assert_int_equal(ck_write_file_atomic(path, "old", 3, 0600), 0);
    /* Out of memory before anything is written. */
    ck_alloc_fail_after(1);
    assert_int_equal(ck_write_file_atomic(path, "new", 3, 0600), -1);
    expect_content(path, "old");
    /* The rename fails (the target is a non-empty directory): the temporary is removed. */
    char *dir = in_tmp("adir");
    char *inner = in_tmp("adir/keep");
    assert_int_equal(ck_mkdirs(dir, 0700), 0);
    assert_int_equal(ck_write_file_atomic(inner, "keep", 4, 0600), 0);
    assert_int_equal(ck_write_file_atomic(dir, "new", 3, 0600), -1);
    expect_content(inner, "keep");
    assert_int_equal(count_entries(tmpdir, ".tmp"), 0);
    /* A missing directory. */
    char *missing = in_tmp("no/such/dir/file");
    assert_int_equal(ck_write_file_atomic(missing, "x", 1, 0600), -1);
    expect_content(path, "old");
    ck_free(path);
    ck_free(dir);
    ck_free(inner);
    ck_free(missing);
}

static void test_read_file_limit(void **state)
{
    (void)state;
    char *path = in_tmp("hundred");
    char buf[100];
    char *data = (char *)0x1;
    size_t len = 5;
    memset(buf, 'h', sizeof(buf));
    assert_int_equal(ck_write_file_atomic(path, buf, sizeof(buf), 0600), 0);
    errno = 0;
    assert_int_equal(ck_read_file(path, 99, &data, &len), -1);
    assert_int_equal(errno, EFBIG);
    assert_ptr_equal(data, (char *)0x1); /* outputs untouched on failure */
    assert_int_equal(len, 5);
    assert_int_equal(ck_read_file(path, 100, &data, &len), 0);
    assert_int_equal(len, 100);
    assert_int_equal(data[100], '\0');
    ck_free(data);
    assert_int_equal(ck_read_file(path, 1000, &data, NULL), 0);
    ck_free(data);
    errno = 0;
    char *missing = in_tmp("missing");
    assert_int_equal(ck_read_file(missing, 100, &data, &len), -1);
    assert_int_equal(errno, ENOENT);
    ck_alloc_fail_after(1);
    assert_int_equal(ck_read_file(path, 100, &data, &len), -1);
    ck_free(path);
    ck_free(missing);
}

static void test_read_file_directory_fails(void **state)
{
    (void)state;
    /* read(2) on a directory fails with EISDIR; that is an error, not an empty file. */
    char *data = NULL;
    size_t len = 0;
    int rc = ck_read_file(tmpdir, 1u << 20, &data, &len);
    if (rc == 0)
        ck_free(data);
    assert_int_equal(rc, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_path_join, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdirs_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_atomic_mode_and_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_atomic_failure_keeps_old, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_file_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_file_directory_fails, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
