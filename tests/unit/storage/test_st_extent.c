/* SPDX-License-Identifier: Apache-2.0 */
/* The blob engine below the HTTP layer (src/services/storage/st_extent.c, st_index.c): parts
 * written in odd-sized pieces and read back at every offset, writers that get too much or too
 * little, commits that replace and drop parts, container deletion, conditional headers, and the
 * recovery on start (temporary files, orphaned extents, expired blocks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fsutil.h"
#include "core/timeutil.h"
#include "services/storage/st_data.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
    char dir[256];
    struct st st;
    struct ck_secret *aek;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    uint8_t k[32];
    snprintf(f->dir, sizeof(f->dir), "/tmp/ck-st-extent.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    f->st.data_dir = ck_strdup(f->dir);
    memset(k, 0x5a, sizeof(k));
    f->aek = ck_secret_from(k, sizeof(k));
    if (st_store_open(&f->st) != CK_OK || st_blob_recover(&f->st) != CK_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[300];
    st_store_close(&f->st);
    ck_free(f->st.data_dir);
    ck_secret_free(f->aek);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[600];
        struct stat sb;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            n += count_files(p);
        else
            n++;
    }
    closedir(d);
    return n;
}

static int extents(struct fx *f)
{
    char p[300];
    snprintf(p, sizeof(p), "%s/extents", f->dir);
    return count_files(p);
}

static void write_part(struct fx *f, const char *blob, const uint8_t *data, size_t n, struct st_part *part)
{
    struct st_part_writer *w = NULL;
    uint8_t md5[16];
    assert_int_equal(st_part_writer_new(&f->st, f->aek, "acct", "cont", blob, n, &w), CK_OK);
    size_t off = 0, step = 1;
    while (off < n) {
        size_t take = n - off < step ? n - off : step;
        assert_int_equal(st_part_write(w, data + off, take), CK_OK);
        off += take;
        step = step * 3 + 7; /* odd sizes that straddle segment boundaries */
    }
    assert_int_equal(st_part_finish(w, part, md5), CK_OK);
    st_part_writer_free(w);
}

/* A part larger than ST_INLINE_MAX, so that it lives in an extent file. */
static void big_part(struct fx *f, const char *blob, char fill, struct st_part *part)
{
    size_t n = ST_INLINE_MAX + 1000;
    uint8_t *d = malloc(n);
    memset(d, fill, n);
    write_part(f, blob, d, n, part);
    free(d);
}

static int64_t inline_rows(struct fx *f)
{
    struct ck_db_stmt *q = NULL;
    int64_t n = -1;
    if (ck_db_prepare(f->st.db, "SELECT count(*) FROM parts WHERE data IS NOT NULL", &q) == CK_OK && ck_db_step(q) == 1)
        n = ck_db_col_int64(q, 0);
    ck_db_stmt_free(q);
    return n;
}

static void test_round_trip_every_offset(void **state)
{
    struct fx *f = *state;
    size_t n = 3 * CK_SEG_DEFAULT_SIZE + 123;
    uint8_t *data = malloc(n), *buf = malloc(n);
    struct st_part part;
    struct st_reader *r = NULL;
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 9));
    write_part(f, "b", data, n, &part);
    assert_int_equal(part.size, n);
    assert_int_equal(extents(f), 1);
    assert_int_equal(st_reader_new(&f->st, f->aek, "acct", "cont", "b", &part, 1, &r), CK_OK);
    const uint64_t offs[] = {0, 1, CK_SEG_DEFAULT_SIZE - 1, CK_SEG_DEFAULT_SIZE, 2 * CK_SEG_DEFAULT_SIZE + 5, n - 1};
    for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
        uint64_t pos = offs[k];
        size_t got = 0;
        while (pos + got < n) {
            long c = st_reader_read(r, pos + got, buf + got, n);
            assert_true(c > 0);
            got += (size_t)c;
        }
        assert_memory_equal(buf, data + pos, n - pos);
    }
    assert_int_equal(st_reader_read(r, n, buf, 10), 0);
    st_reader_free(r);
    /* Read as another blob: refused, with a negative error, never a count. */
    assert_int_equal(st_reader_new(&f->st, f->aek, "acct", "cont", "other", &part, 1, &r), CK_OK);
    assert_true(st_reader_read(r, 0, buf, 10) < 0);
    st_reader_free(r);
    free(data);
    free(buf);
}

static void test_writer_length_rules(void **state)
{
    struct fx *f = *state;
    struct st_part_writer *w = NULL;
    struct st_part part;
    uint8_t md5[16];
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s/tmp", f->dir);
    static uint8_t big[ST_INLINE_MAX + 2];
    /* A file part: a temporary file while it is written, removed when abandoned. */
    assert_int_equal(st_part_writer_new(&f->st, f->aek, "acct", "cont", "b", ST_INLINE_MAX + 1, &w), CK_OK);
    assert_int_equal(count_files(tmp), 1);
    assert_int_equal(st_part_write(w, big, sizeof(big)), CK_E_TOO_LARGE);
    assert_int_equal(st_part_write(w, big, ST_INLINE_MAX), CK_OK);
    assert_int_equal(st_part_finish(w, &part, md5), CK_E_INVALID);
    st_part_writer_free(w);
    assert_int_equal(count_files(tmp), 0);
    assert_int_equal(extents(f), 0);
    /* An inline part: no file at all. */
    assert_int_equal(st_part_writer_new(&f->st, f->aek, "acct", "cont", "b", 5, &w), CK_OK);
    assert_int_equal(count_files(tmp), 0);
    assert_int_equal(st_part_write(w, "123456", 6), CK_E_TOO_LARGE);
    assert_int_equal(st_part_write(w, "1234", 4), CK_OK);
    assert_int_equal(st_part_finish(w, &part, md5), CK_E_INVALID);
    st_part_writer_free(w);
    /* An empty part is one authenticated empty segment, inline. */
    assert_int_equal(st_part_writer_new(&f->st, f->aek, "acct", "cont", "e", 0, &w), CK_OK);
    assert_int_equal(st_part_finish(w, &part, md5), CK_OK);
    assert_true(part.inline_);
    assert_int_equal(part.data_len, CK_SEG_HEADER_LEN + CK_SEG_TAG_LEN);
    st_part_writer_free(w);
    assert_int_equal(extents(f), 0);
}

static void commit(struct fx *f, const char *name, struct st_part *p, const struct st_cond *cond, int expect)
{
    struct st_blob b;
    int missing = 0;
    memset(&b, 0, sizeof(b));
    b.name = (char *)name;
    b.version_id = "v";
    b.etag = "\"0x8D1\"";
    b.content_type = "application/octet-stream";
    b.parts = p;
    b.nparts = 1;
    b.size = p->size;
    b.created = b.last_modified = ck_time_now();
    assert_int_equal(st_blob_commit(&f->st, "acct", "cont", &b, cond, p, 1, 0, &missing), expect);
}

static void test_commit_replace_delete(void **state)
{
    struct fx *f = *state;
    struct st_part a, b2;
    struct st_blob got;
    struct ck_arena *ar = ck_arena_new();
    big_part(f, "x", '1', &a);
    {
        struct st_blob b;
        int missing = 0;
        memset(&b, 0, sizeof(b));
        b.name = "x";
        b.version_id = "v";
        b.etag = "\"0x8D1\"";
        b.parts = &a;
        b.nparts = 1;
        assert_int_equal(st_blob_commit(&f->st, "acct", "cont", &b, NULL, &a, 1, 0, &missing), CK_E_NOT_FOUND);
        assert_int_equal(missing, 1);
    }
    assert_int_equal(st_container_create(&f->st, "acct", "cont", "\"0x8D0\"", ck_time_now(), NULL, 0), CK_OK);
    assert_int_equal(st_container_create(&f->st, "acct", "cont", "\"0x8D0\"", ck_time_now(), NULL, 0), CK_E_EXISTS);
    commit(f, "x", &a, NULL, CK_OK);
    big_part(f, "x", '2', &b2);
    assert_int_equal(extents(f), 2);
    struct st_cond wrong = {.if_match = "\"0x8D9\"", .if_modified_since = -1, .if_unmodified_since = -1};
    commit(f, "x", &b2, &wrong, CK_E_FORBIDDEN);
    st_part_unlink(&f->st, b2.id); /* a refused commit leaves its new parts to the caller */
    struct st_cond none = {.if_none_match = "*", .if_modified_since = -1, .if_unmodified_since = -1};
    big_part(f, "x", '2', &b2);
    commit(f, "x", &b2, &none, CK_E_EXISTS);
    st_part_unlink(&f->st, b2.id);
    assert_int_equal(extents(f), 1); /* only the committed version's part */
    big_part(f, "x", '2', &b2);
    commit(f, "x", &b2, NULL, CK_OK);
    assert_int_equal(extents(f), 1); /* the replaced part is gone */
    assert_int_equal(st_blob_get(&f->st, ar, "acct", "cont", "x", &got), CK_OK);
    assert_int_equal(got.nparts, 1);
    assert_string_equal(got.parts[0].id, b2.id);
    assert_int_equal(st_blob_delete(&f->st, "acct", "cont", "x", NULL), CK_OK);
    assert_int_equal(extents(f), 0);
    assert_int_equal(st_blob_get(&f->st, ar, "acct", "cont", "x", &got), CK_E_NOT_FOUND);
    /* A container goes with its blobs and staged blocks. */
    big_part(f, "y", 'y', &a);
    commit(f, "y", &a, NULL, CK_OK);
    big_part(f, "z", 'z', &b2);
    assert_int_equal(st_block_put(&f->st, "acct", "cont", "z", "QUFBQQ==", &b2), CK_OK);
    assert_int_equal(extents(f), 2);
    assert_int_equal(st_container_delete(&f->st, "acct", "cont"), CK_OK);
    assert_int_equal(extents(f), 0);
    assert_int_equal(st_container_delete(&f->st, "acct", "cont"), CK_E_NOT_FOUND);
    ck_arena_free(ar);
}

static void test_inline_parts(void **state)
{
    struct fx *f = *state;
    struct st_part_writer *w = NULL;
    struct st_part p;
    uint8_t md5[16], buf[32];
    struct st_reader *r = NULL;
    assert_int_equal(st_container_create(&f->st, "acct", "cont", "\"0x8D0\"", ck_time_now(), NULL, 0), CK_OK);
    assert_int_equal(st_part_writer_new(&f->st, f->aek, "acct", "cont", "i", 11, &w), CK_OK);
    assert_int_equal(st_part_write(w, "inline data", 11), CK_OK);
    assert_int_equal(st_part_finish(w, &p, md5), CK_OK);
    assert_true(p.inline_);
    assert_null(memmem(p.data, p.data_len, "inline", 6));
    commit(f, "i", &p, NULL, CK_OK);
    st_part_writer_free(w);
    assert_int_equal(extents(f), 0);
    assert_int_equal(inline_rows(f), 1);
    struct ck_arena *ar = ck_arena_new();
    struct st_blob got;
    assert_int_equal(st_blob_get(&f->st, ar, "acct", "cont", "i", &got), CK_OK);
    assert_true(got.parts[0].inline_);
    assert_int_equal(st_reader_new(&f->st, f->aek, "acct", "cont", "i", got.parts, got.nparts, &r), CK_OK);
    assert_int_equal(st_reader_read(r, 0, buf, sizeof(buf)), 11);
    assert_memory_equal(buf, "inline data", 11);
    st_reader_free(r);
    /* Tampering with the stored row fails the read. */
    const char *v[] = {p.id};
    assert_int_equal(ck_db_run(f->st.db, "UPDATE parts SET data = substr(data, 1, 80) || x'00' || substr(data, 82) WHERE id = ?1", 1, v),
                     CK_OK);
    assert_int_equal(st_reader_new(&f->st, f->aek, "acct", "cont", "i", got.parts, got.nparts, &r), CK_OK);
    assert_true(st_reader_read(r, 0, buf, sizeof(buf)) < 0);
    st_reader_free(r);
    assert_int_equal(st_blob_delete(&f->st, "acct", "cont", "i", NULL), CK_OK);
    assert_int_equal(inline_rows(f), 0);
    ck_arena_free(ar);
}

/* Put Block List reads the staged blocks before its transaction; a Put Blob on the same name that
 * commits in between discards them. The list must then be refused, never committed pointing at
 * parts that are gone. */
static void test_block_list_race(void **state)
{
    struct fx *f = *state;
    struct ck_arena *ar = ck_arena_new();
    struct st_part staged, other;
    struct st_block *bl = NULL;
    size_t n = 0;
    int missing = 0;
    assert_int_equal(st_container_create(&f->st, "acct", "cont", "\"0x8D0\"", ck_time_now(), NULL, 0), CK_OK);
    big_part(f, "r", 'b', &staged);
    assert_int_equal(st_block_put(&f->st, "acct", "cont", "r", "YmxvY2s=", &staged), CK_OK);
    assert_int_equal(st_block_list(&f->st, ar, "acct", "cont", "r", &bl, &n), CK_OK);
    assert_int_equal(n, 1);
    big_part(f, "r", 'p', &other);
    commit(f, "r", &other, NULL, CK_OK); /* discards the staged block */
    struct st_blob b;
    memset(&b, 0, sizeof(b));
    b.name = "r";
    b.version_id = "v2";
    b.etag = "\"0x8D2\"";
    b.parts = &bl[0].part;
    b.nparts = 1;
    b.size = bl[0].part.size;
    assert_int_equal(st_blob_commit(&f->st, "acct", "cont", &b, NULL, NULL, 0, 1, &missing), CK_E_INVALID);
    struct st_blob got;
    assert_int_equal(st_blob_get(&f->st, ar, "acct", "cont", "r", &got), CK_OK);
    assert_string_equal(got.parts[0].id, other.id);
    ck_arena_free(ar);
}

static void test_conditions(void **state)
{
    (void)state;
    struct st_cond c = {.if_modified_since = -1, .if_unmodified_since = -1};
    assert_int_equal(st_cond_eval(&c, "\"e1\"", 100, 1), ST_COND_OK);
    c.if_match = "\"e1\"";
    assert_int_equal(st_cond_eval(&c, "\"e1\"", 100, 1), ST_COND_OK);
    c.if_match = "\"e2\", \"e1\""; /* one ETag per header in the Blob service */
    assert_int_equal(st_cond_eval(&c, "\"e1\"", 100, 1), ST_COND_MULTIPLE);
    c.if_match = "e2";
    assert_int_equal(st_cond_eval(&c, "\"e1\"", 100, 1), ST_COND_FAILED);
    c.if_match = "*";
    assert_int_equal(st_cond_eval(&c, NULL, 0, 0), ST_COND_FAILED);
    c.if_match = NULL;
    c.if_none_match = "\"e1\"";
    assert_int_equal(st_cond_eval(&c, "\"e1\"", 100, 1), ST_COND_NOT_MODIFIED);
    assert_int_equal(st_cond_eval(&c, "\"e1\"", 100, 0), ST_COND_FAILED);
    c.if_none_match = "*";
    assert_int_equal(st_cond_eval(&c, "\"e1\"", 100, 0), ST_COND_EXISTS);
    assert_int_equal(st_cond_eval(&c, NULL, 0, 0), ST_COND_OK);
    c.if_none_match = NULL;
    c.if_modified_since = 100;
    assert_int_equal(st_cond_eval(&c, "\"e1\"", 100, 1), ST_COND_NOT_MODIFIED);
    assert_int_equal(st_cond_eval(&c, "\"e1\"", 101, 1), ST_COND_OK);
    c.if_modified_since = -1;
    c.if_unmodified_since = 100;
    assert_int_equal(st_cond_eval(&c, "\"e1\"", 101, 0), ST_COND_FAILED);
    assert_int_equal(st_cond_eval(&c, "\"e1\"", 100, 0), ST_COND_OK);
    /* Reads: If-None-Match or If-Modified-Since — 304 only when neither holds. */
    struct st_cond r = {.if_none_match = "\"e1\"", .if_modified_since = 50, .if_unmodified_since = -1};
    assert_int_equal(st_cond_eval(&r, "\"e1\"", 100, 1), ST_COND_OK);
    r.if_modified_since = 100;
    assert_int_equal(st_cond_eval(&r, "\"e1\"", 100, 1), ST_COND_NOT_MODIFIED);
    r.if_none_match = "*";
    assert_int_equal(st_cond_form(&r, 1), ST_COND_UNSATISFIABLE);
    /* Writes: at most the pairs If-Match + If-Unmodified-Since, If-None-Match + If-Modified-Since;
     * within a pair the ETag header decides. */
    struct st_cond w = {.if_match = "\"e1\"", .if_modified_since = -1, .if_unmodified_since = 50};
    assert_int_equal(st_cond_eval(&w, "\"e1\"", 100, 0), ST_COND_OK);
    w.if_modified_since = 10;
    assert_int_equal(st_cond_form(&w, 0), ST_COND_MULTIPLE);
    w.if_unmodified_since = -1;
    assert_int_equal(st_cond_form(&w, 0), ST_COND_MULTIPLE);
    w.if_match = NULL;
    w.if_none_match = "\"e2\"";
    w.if_modified_since = 200;
    assert_int_equal(st_cond_eval(&w, "\"e1\"", 100, 0), ST_COND_OK);
}

static void test_recovery(void **state)
{
    struct fx *f = *state;
    struct st_part kept, orphan, old_block, new_block;
    struct st_part_writer *w = NULL;
    struct ck_arena *ar = ck_arena_new();
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s/tmp", f->dir);
    assert_int_equal(st_container_create(&f->st, "acct", "cont", "\"0x8D0\"", ck_time_now(), NULL, 0), CK_OK);
    big_part(f, "k", 'k', &kept);
    commit(f, "k", &kept, NULL, CK_OK);
    big_part(f, "o", 'o', &orphan); /* synced and renamed, never committed */
    big_part(f, "s", 's', &old_block);
    assert_int_equal(st_block_put(&f->st, "acct", "cont", "s", "b2xk", &old_block), CK_OK);
    big_part(f, "s", 'n', &new_block);
    assert_int_equal(st_block_put(&f->st, "acct", "cont", "s", "bmV3", &new_block), CK_OK);
    {
        const char *v[] = {"b2xk"};
        assert_int_equal(ck_db_run(f->st.db, "UPDATE blocks SET created = created - 8 * 86400 WHERE block_id = ?1", 1, v), CK_OK);
    }
    /* A write in progress when the process died. */
    assert_int_equal(st_part_writer_new(&f->st, f->aek, "acct", "cont", "t", ST_INLINE_MAX + 10, &w), CK_OK);
    assert_int_equal(st_part_write(w, "12345", 5), CK_OK);
    assert_int_equal(count_files(tmp), 1);
    assert_int_equal(extents(f), 4);
    assert_int_equal(st_blob_recover(&f->st), CK_OK);
    assert_int_equal(count_files(tmp), 0);
    assert_int_equal(extents(f), 2); /* kept, and the young block */
    struct st_block *bl = NULL;
    size_t n = 0;
    assert_int_equal(st_block_list(&f->st, ar, "acct", "cont", "s", &bl, &n), CK_OK);
    assert_int_equal(n, 1);
    assert_string_equal(bl[0].id, "bmV3");
    struct st_reader *r = NULL;
    uint8_t buf[16];
    assert_int_equal(st_reader_new(&f->st, f->aek, "acct", "cont", "k", &kept, 1, &r), CK_OK);
    assert_int_equal(st_reader_read(r, 0, buf, sizeof(buf)), sizeof(buf));
    assert_memory_equal(buf, "kkkkkkkkkkkkkkkk", sizeof(buf));
    st_reader_free(r);
    st_part_writer_free(w); /* its file is already gone */
    ck_arena_free(ar);
}

static void test_expire_while_serving(void **state)
{
    struct fx *f = *state;
    struct st_part p1, p2;
    struct ck_arena *ar = ck_arena_new();
    struct st_block *bl = NULL;
    size_t n = 0;
    assert_int_equal(st_container_create(&f->st, "acct", "cont", "\"0x8D0\"", ck_time_now(), NULL, 0), CK_OK);
    big_part(f, "s", 's', &p1);
    assert_int_equal(st_block_put(&f->st, "acct", "cont", "s", "b2xk", &p1), CK_OK);
    big_part(f, "s", 'n', &p2);
    assert_int_equal(st_block_put(&f->st, "acct", "cont", "s", "bmV3", &p2), CK_OK);
    assert_int_equal(st_blocks_expire(&f->st), CK_OK);
    assert_int_equal(extents(f), 2); /* nothing is old yet */
    const char *v[] = {"b2xk"};
    assert_int_equal(ck_db_run(f->st.db, "UPDATE blocks SET created = created - 7 * 86400 - 1 WHERE block_id = ?1", 1, v), CK_OK);
    assert_int_equal(st_blocks_expire(&f->st), CK_OK);
    assert_int_equal(extents(f), 1);
    assert_int_equal(st_block_list(&f->st, ar, "acct", "cont", "s", &bl, &n), CK_OK);
    assert_int_equal(n, 1);
    assert_string_equal(bl[0].id, "bmV3");
    ck_arena_free(ar);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_every_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_length_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_replace_delete, setup, teardown),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test_setup_teardown(test_block_list_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inline_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_while_serving, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
