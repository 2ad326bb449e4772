/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The blob index: containers, blobs (with the list of parts of their current version), staged
 * blocks and parts. Every change is one transaction; part files that a change made unreachable are
 * removed only after the transaction is durable (docs/data-format.md, "Durability").
 */
#include "services/storage/st_data.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <string.h>

/* Reads go to the read connection when there is one (tests may run with the writer alone). */
#define ST_RDB(st) ((st)->rdb != NULL ? (st)->rdb : (st)->db)

#define ST_BLOB_COLS                                                                                              \
    "name, version_id, etag, content_type, content_encoding, content_language, content_disposition,"           \
    " cache_control, content_md5, size, created, last_modified, metadata, parts"

static char *st_col(struct ck_arena *a, struct ck_db_stmt *q, int i)
{
    const char *s = ck_db_col_text(q, i);
    return s ? ck_arena_strdup(a, s) : NULL;
}

static uint8_t *st_col_blob(struct ck_arena *a, struct ck_db_stmt *q, int i, size_t *len)
{
    size_t n = 0;
    const void *p = ck_db_col_blob(q, i, &n);
    uint8_t *out;
    *len = 0;
    if (p == NULL || n == 0)
        return NULL;
    out = ck_arena_alloc(a, n);
    if (out != NULL) {
        memcpy(out, p, n);
        *len = n;
    }
    return out;
}

static int st_bind_all(struct ck_db_stmt *q, int n, const char *const *v)
{
    for (int i = 0; i < n; i++)
        if (ck_db_bind_text(q, i + 1, v[i]) != CK_OK)
            return CK_E_DB;
    return CK_OK;
}

static int st_bind_meta(struct ck_db_stmt *q, int idx, const uint8_t *meta, size_t len)
{
    if (meta == NULL || len == 0)
        return ck_db_bind_text(q, idx, NULL);
    return ck_db_bind_blob(q, idx, meta, len);
}

/* Runs one statement to completion. */
static int st_exec(struct ck_db_stmt *q)
{
    int s = ck_db_step(q);
    ck_db_stmt_free(q);
    return s < 0 ? CK_E_DB : CK_OK;
}

void st_dropped_unlink(struct st *st, struct st_dropped *d)
{
    for (size_t i = 0; i < d->n; i++)
        st_part_unlink(st, d->ids[i]);
    ck_free(d->ids);
    memset(d, 0, sizeof(*d));
}

int st_dropped_add(struct st_dropped *d, const char *id)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        void *p = ck_realloc(d->ids, cap * sizeof(*d->ids));
        if (p == NULL)
            return CK_E_NOMEM;
        d->ids = p;
        d->cap = cap;
    }
    snprintf(d->ids[d->n++], sizeof(d->ids[0]), "%s", id);
    return CK_OK;
}

/* Deletes the parts rows of the given ids and remembers their files. */
static int st_drop_parts(struct st *st, const struct st_part *p, size_t n, struct st_dropped *d)
{
    for (size_t i = 0; i < n; i++) {
        struct ck_db_stmt *q = NULL;
        if (ck_db_prepare(st->db, "DELETE FROM parts WHERE id = ?1", &q) != CK_OK ||
            ck_db_bind_text(q, 1, p[i].id) != CK_OK) {
            ck_db_stmt_free(q);
            return CK_E_DB;
        }
        if (st_exec(q) != CK_OK || st_dropped_add(d, p[i].id) != CK_OK)
            return CK_E_DB;
    }
    return CK_OK;
}

static int st_insert_part(struct st *st, const char *account, const struct st_part *p, int64_t now)
{
    struct ck_db_stmt *q = NULL;
    if (ck_db_prepare(st->db,
                      "INSERT INTO parts (id, account, salt, size, seg_size, created, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                      &q) != CK_OK)
        return CK_E_DB;
    if (p->inline_ && (p->data == NULL || p->data_len < CK_SEG_HEADER_LEN)) {
        ck_db_stmt_free(q);
        return CK_E_INVALID;
    }
    if (ck_db_bind_text(q, 1, p->id) != CK_OK || ck_db_bind_text(q, 2, account) != CK_OK ||
        ck_db_bind_blob(q, 3, p->salt, sizeof(p->salt)) != CK_OK || ck_db_bind_int64(q, 4, (int64_t)p->size) != CK_OK ||
        ck_db_bind_int64(q, 5, p->seg_size) != CK_OK || ck_db_bind_int64(q, 6, now) != CK_OK ||
        (p->inline_ ? ck_db_bind_blob(q, 7, p->data, p->data_len) : ck_db_bind_text(q, 7, NULL)) != CK_OK) {
        ck_db_stmt_free(q);
        return CK_E_DB;
    }
    return st_exec(q);
}

/* ---- conditions ---- */

static int st_etag_in_list(const char *list, const char *etag)
{
    /* A comma-separated list of quoted or bare ETags, or "*". */
    size_t el = strlen(etag);
    const char *p = list;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p != '\0' && *p != ',')
            p++;
        const char *end = p;
        while (end > start && end[-1] == ' ')
            end--;
        if (end - start == 1 && *start == '*')
            return 1;
        if (end - start >= 2 && start[0] == 'W' && start[1] == '/')
            start += 2;
        if ((size_t)(end - start) == el && strncmp(start, etag, el) == 0)
            return 1;
        /* Compare without quotes on either side. */
        if (end - start >= 2 && start[0] == '"' && end[-1] == '"' && el >= 2 && etag[0] == '"' &&
            (size_t)(end - start) == el && strncmp(start + 1, etag + 1, el - 2) == 0)
            return 1;
        if (el >= 2 && etag[0] == '"' && (size_t)(end - start) == el - 2 && strncmp(start, etag + 1, el - 2) == 0)
            return 1;
    }
    return 0;
}

static int st_is_star(const char *h)
{
    while (*h == ' ')
        h++;
    return h[0] == '*' && (h[1] == '\0' || h[1] == ' ');
}

/* The Blob service takes one ETag (or "*") per header. */
static int st_etag_count(const char *h)
{
    int n = 0, inq = 0, any = 0;
    for (const char *p = h; *p; p++) {
        if (*p == '"')
            inq = !inq;
        else if (*p == ',' && !inq) {
            n += any;
            any = 0;
            continue;
        }
        if (*p != ' ')
            any = 1;
    }
    return n + any;
}

enum st_cond_result st_cond_form(const struct st_cond *c, int is_read)
{
    int im = c->if_match != NULL, inm = c->if_none_match != NULL;
    int ims = c->if_modified_since >= 0, ius = c->if_unmodified_since >= 0;
    if ((im && st_etag_count(c->if_match) > 1) || (inm && st_etag_count(c->if_none_match) > 1))
        return ST_COND_MULTIPLE;
    if (is_read)
        return inm && st_is_star(c->if_none_match) ? ST_COND_UNSATISFIABLE : ST_COND_OK;
    /* Writes: one header, or If-Match with If-Unmodified-Since, or If-None-Match with
     * If-Modified-Since. */
    int n = im + inm + ims + ius;
    if (n > 2 || (n == 2 && inm + ims == 1))
        return ST_COND_MULTIPLE;
    return ST_COND_OK;
}

enum st_cond_result st_cond_eval(const struct st_cond *c, const char *etag, int64_t last_modified, int is_read)
{
    if (c == NULL)
        return ST_COND_OK;
    int im = c->if_match != NULL, inm = c->if_none_match != NULL;
    int ims = c->if_modified_since >= 0, ius = c->if_unmodified_since >= 0;
    if (st_cond_form(c, is_read) != ST_COND_OK)
        return st_cond_form(c, is_read);
    if (etag == NULL) /* no such resource: only If-Match can fail */
        return im ? ST_COND_FAILED : ST_COND_OK;
    if (is_read) {
        /* If-Match && If-Unmodified-Since && (If-None-Match || If-Modified-Since). */
        if (im && !st_etag_in_list(c->if_match, etag))
            return ST_COND_FAILED;
        if (ius && last_modified > c->if_unmodified_since)
            return ST_COND_FAILED;
        int inm_pass = inm ? !st_etag_in_list(c->if_none_match, etag) : -1;
        int ims_pass = ims ? last_modified > c->if_modified_since : -1;
        if ((inm_pass == 0 && ims_pass != 1) || (ims_pass == 0 && inm_pass != 1))
            return ST_COND_NOT_MODIFIED;
        return ST_COND_OK;
    }
    /* Writes: If-None-Match decides over If-Modified-Since, If-Match over If-Unmodified-Since. */
    if (inm) {
        if (st_is_star(c->if_none_match))
            return ST_COND_EXISTS;
        return st_etag_in_list(c->if_none_match, etag) ? ST_COND_FAILED : ST_COND_OK;
    }
    if (im)
        return st_etag_in_list(c->if_match, etag) ? ST_COND_OK : ST_COND_FAILED;
    if (ims && last_modified <= c->if_modified_since)
        return ST_COND_FAILED;
    if (ius && last_modified > c->if_unmodified_since)
        return ST_COND_FAILED;
    return ST_COND_OK;
}

/* ---- group commit ----
 *
 * Every change is a transaction body run inside one shared SQLite transaction, each under its own
 * savepoint: the first caller to find no commit in progress becomes the leader, takes every body
 * queued so far, runs them, commits once (one WAL sync for the whole batch) and wakes the others.
 * A body that fails is rolled back to its savepoint and does not affect the rest. A caller returns
 * only after the commit that holds its change is durable; the parts its change dropped are unlinked
 * after that commit. */

struct st_txn {
    int (*fn)(struct st *st, void *arg, struct st_dropped *d);
    void *arg;
    struct st_dropped d;
    int rc;
    int done;
    struct st_txn *next;
};

static void st_txn_batch(struct st *st, struct st_txn *batch)
{
    int ok;
    ck_db_lock(st->db);
    ok = ck_db_begin(st->db) == CK_OK;
    for (struct st_txn *t = batch; t != NULL; t = t->next) {
        if (!ok) {
            t->rc = CK_E_DB;
            continue;
        }
        if (ck_db_exec(st->db, "SAVEPOINT st_txn") != CK_OK) {
            t->rc = CK_E_DB;
            continue;
        }
        t->rc = t->fn(st, t->arg, &t->d);
        if (t->rc != CK_OK) {
            ck_db_exec(st->db, "ROLLBACK TO st_txn");
            ck_free(t->d.ids);
            memset(&t->d, 0, sizeof(t->d));
        }
        if (ck_db_exec(st->db, "RELEASE st_txn") != CK_OK && t->rc == CK_OK)
            t->rc = CK_E_DB;
    }
    if (ok && ck_db_commit(st->db) != CK_OK) {
        ck_db_rollback(st->db);
        ok = 0;
    } else if (!ok) {
        ck_db_rollback(st->db);
    }
    ck_db_unlock(st->db);
    if (!ok)
        for (struct st_txn *t = batch; t != NULL; t = t->next)
            if (t->rc == CK_OK) {
                t->rc = CK_E_DB;
                ck_free(t->d.ids);
                memset(&t->d, 0, sizeof(t->d));
            }
}

int st_txn_run(struct st *st, int (*fn)(struct st *st, void *arg, struct st_dropped *d), void *arg)
{
    struct st_txn t;
    memset(&t, 0, sizeof(t));
    t.fn = fn;
    t.arg = arg;
    pthread_mutex_lock(&st->txn_lock);
    if (st->txn_tail == NULL)
        st->txn_tail = &st->txn_head;
    *st->txn_tail = &t;
    st->txn_tail = &t.next;
    while (!t.done) {
        if (!st->txn_leader) {
            struct st_txn *batch = st->txn_head;
            st->txn_leader = 1;
            st->txn_head = NULL;
            st->txn_tail = &st->txn_head;
            pthread_mutex_unlock(&st->txn_lock);
            st_txn_batch(st, batch);
            pthread_mutex_lock(&st->txn_lock);
            for (struct st_txn *b = batch; b != NULL;) {
                struct st_txn *next = b->next; /* b may leave as soon as it is done */
                b->done = 1;
                b = next;
            }
            st->txn_leader = 0;
            pthread_cond_broadcast(&st->txn_cond);
        } else {
            pthread_cond_wait(&st->txn_cond, &st->txn_lock);
        }
    }
    pthread_mutex_unlock(&st->txn_lock);
    if (t.rc == CK_OK)
        st_dropped_unlink(st, &t.d);
    else
        ck_free(t.d.ids);
    return t.rc;
}

/* ---- containers ---- */

static void st_container_row(struct ck_arena *a, struct ck_db_stmt *q, struct st_container *c)
{
    c->name = st_col(a, q, 0);
    c->etag = st_col(a, q, 1);
    c->last_modified = ck_db_col_int64(q, 2);
    c->meta = st_col_blob(a, q, 3, &c->meta_len);
}

int st_container_get(struct st *st, struct ck_arena *a, const char *account, const char *name, struct st_container *out)
{
    struct ck_db_stmt *q = NULL;
    const char *v[] = {account, name};
    int rc = CK_E_DB, s;
    ck_db_lock(ST_RDB(st));
    if (ck_db_prepare(ST_RDB(st), "SELECT name, etag, last_modified, metadata FROM containers WHERE account = ?1 AND name = ?2",
                      &q) != CK_OK ||
        st_bind_all(q, 2, v) != CK_OK)
        goto out;
    s = ck_db_step(q);
    if (s == 1) {
        st_container_row(a, q, out);
        rc = CK_OK;
    } else if (s == 0) {
        rc = CK_E_NOT_FOUND;
    }
out:
    ck_db_stmt_free(q);
    ck_db_unlock(ST_RDB(st));
    return rc;
}

struct st_ct_args {
    const char *account, *name, *etag;
    int64_t now;
    const uint8_t *meta;
    size_t meta_len;
};

static int st_container_create_body(struct st *st, void *arg, struct st_dropped *d)
{
    struct st_ct_args *x = arg;
    struct ck_db_stmt *q = NULL;
    int s;
    (void)d;
    if (ck_db_prepare(st->db,
                      "INSERT INTO containers (account, name, etag, last_modified, metadata) VALUES (?1, ?2, ?3, ?4, ?5)",
                      &q) != CK_OK)
        return CK_E_DB;
    if (ck_db_bind_text(q, 1, x->account) != CK_OK || ck_db_bind_text(q, 2, x->name) != CK_OK ||
        ck_db_bind_text(q, 3, x->etag) != CK_OK || ck_db_bind_int64(q, 4, x->now) != CK_OK ||
        st_bind_meta(q, 5, x->meta, x->meta_len) != CK_OK) {
        ck_db_stmt_free(q);
        return CK_E_DB;
    }
    s = ck_db_step(q);
    ck_db_stmt_free(q);
    return s == -CK_E_EXISTS ? CK_E_EXISTS : s < 0 ? CK_E_DB : CK_OK;
}

int st_container_create(struct st *st, const char *account, const char *name, const char *etag, int64_t now,
                        const uint8_t *meta, size_t meta_len)
{
    struct st_ct_args x = {account, name, etag, now, meta, meta_len};
    return st_txn_run(st, st_container_create_body, &x);
}

static int st_container_set_meta_body(struct st *st, void *arg, struct st_dropped *d)
{
    struct st_ct_args *x = arg;
    struct ck_db_stmt *q = NULL;
    int rc = CK_E_DB;
    (void)d;
    if (ck_db_prepare(st->db, "UPDATE containers SET etag = ?3, last_modified = ?4, metadata = ?5 WHERE account = ?1 AND name = ?2",
                      &q) != CK_OK)
        return CK_E_DB;
    if (ck_db_bind_text(q, 1, x->account) == CK_OK && ck_db_bind_text(q, 2, x->name) == CK_OK &&
        ck_db_bind_text(q, 3, x->etag) == CK_OK && ck_db_bind_int64(q, 4, x->now) == CK_OK &&
        st_bind_meta(q, 5, x->meta, x->meta_len) == CK_OK && ck_db_step(q) >= 0)
        rc = ck_db_changes(st->db) > 0 ? CK_OK : CK_E_NOT_FOUND;
    ck_db_stmt_free(q);
    return rc;
}

int st_container_set_meta(struct st *st, const char *account, const char *name, const char *etag, int64_t now,
                          const uint8_t *meta, size_t meta_len)
{
    struct st_ct_args x = {account, name, etag, now, meta, meta_len};
    return st_txn_run(st, st_container_set_meta_body, &x);
}

/* Collects the part ids of every blob and staged block matching where (with params) into d, and
 * deletes their parts rows. */
static int st_collect_parts(struct st *st, const char *where_blobs, const char *where_blocks, int n, const char *const *v,
                            struct st_dropped *d)
{
    struct ck_arena *a = ck_arena_new();
    struct ck_db_stmt *q = NULL;
    char sql[512];
    int rc = CK_E_DB, s;
    if (a == NULL)
        return CK_E_NOMEM;
    snprintf(sql, sizeof(sql), "SELECT parts FROM blobs WHERE %s", where_blobs);
    if (ck_db_prepare(st->db, sql, &q) != CK_OK || st_bind_all(q, n, v) != CK_OK)
        goto out;
    while ((s = ck_db_step(q)) == 1) {
        struct st_part *p = NULL;
        size_t np = 0;
        const char *txt = ck_db_col_text(q, 0);
        if (txt != NULL && st_parts_parse(a, txt, &p, &np) == CK_OK) {
            for (size_t i = 0; i < np; i++)
                if (st_dropped_add(d, p[i].id) != CK_OK)
                    goto out;
        }
    }
    if (s < 0)
        goto out;
    ck_db_stmt_free(q);
    q = NULL;
    snprintf(sql, sizeof(sql), "SELECT part FROM blocks WHERE %s", where_blocks);
    if (ck_db_prepare(st->db, sql, &q) != CK_OK || st_bind_all(q, n, v) != CK_OK)
        goto out;
    while ((s = ck_db_step(q)) == 1)
        if (st_dropped_add(d, ck_db_col_text(q, 0)) != CK_OK)
            goto out;
    if (s < 0)
        goto out;
    ck_db_stmt_free(q);
    q = NULL;
    for (size_t i = 0; i < d->n; i++) {
        const char *id[] = {d->ids[i]};
        if (ck_db_run(st->db, "DELETE FROM parts WHERE id = ?1", 1, id) != CK_OK)
            goto out;
    }
    rc = CK_OK;
out:
    ck_db_stmt_free(q);
    ck_arena_free(a);
    return rc;
}

static int st_container_delete_body(struct st *st, void *arg, struct st_dropped *d)
{
    struct st_ct_args *x = arg;
    const char *v[] = {x->account, x->name};
    if (ck_db_run(st->db, "DELETE FROM containers WHERE account = ?1 AND name = ?2", 2, v) != CK_OK)
        return CK_E_DB;
    if (ck_db_changes(st->db) == 0)
        return CK_E_NOT_FOUND;
    if (st_collect_parts(st, "account = ?1 AND container = ?2", "account = ?1 AND container = ?2", 2, v, d) != CK_OK ||
        ck_db_run(st->db, "DELETE FROM blobs WHERE account = ?1 AND container = ?2", 2, v) != CK_OK ||
        ck_db_run(st->db, "DELETE FROM blocks WHERE account = ?1 AND container = ?2", 2, v) != CK_OK)
        return CK_E_DB;
    return CK_OK;
}

int st_container_delete(struct st *st, const char *account, const char *name)
{
    struct st_ct_args x = {.account = account, .name = name};
    return st_txn_run(st, st_container_delete_body, &x);
}

int st_container_list(struct st *st, struct ck_arena *a, const char *account, const char *prefix, const char *after,
                      int limit, struct st_container **out, size_t *n)
{
    struct ck_db_stmt *q = NULL;
    struct st_container *c = ck_arena_alloc(a, (size_t)(limit + 1) * sizeof(*c));
    size_t k = 0;
    int rc = CK_E_DB, s;
    if (c == NULL)
        return CK_E_NOMEM;
    ck_db_lock(ST_RDB(st));
    if (ck_db_prepare(ST_RDB(st),
                      "SELECT name, etag, last_modified, metadata FROM containers WHERE account = ?1 AND name > ?2"
                      " AND name >= ?3 AND substr(name, 1, length(?3)) = ?3 ORDER BY name LIMIT ?4",
                      &q) != CK_OK)
        goto out;
    if (ck_db_bind_text(q, 1, account) != CK_OK || ck_db_bind_text(q, 2, after) != CK_OK ||
        ck_db_bind_text(q, 3, prefix) != CK_OK || ck_db_bind_int64(q, 4, limit + 1) != CK_OK)
        goto out;
    while (k < (size_t)limit + 1 && (s = ck_db_step(q)) == 1)
        st_container_row(a, q, &c[k++]);
    *out = c;
    *n = k;
    rc = CK_OK;
out:
    ck_db_stmt_free(q);
    ck_db_unlock(ST_RDB(st));
    return rc;
}

/* ---- blobs ---- */

static int st_blob_row(struct ck_arena *a, struct ck_db_stmt *q, struct st_blob *b, int with_parts)
{
    memset(b, 0, sizeof(*b));
    b->name = st_col(a, q, 0);
    b->version_id = st_col(a, q, 1);
    b->etag = st_col(a, q, 2);
    b->content_type = st_col(a, q, 3);
    b->content_encoding = st_col(a, q, 4);
    b->content_language = st_col(a, q, 5);
    b->content_disposition = st_col(a, q, 6);
    b->cache_control = st_col(a, q, 7);
    b->content_md5 = st_col(a, q, 8);
    b->size = (uint64_t)ck_db_col_int64(q, 9);
    b->created = ck_db_col_int64(q, 10);
    b->last_modified = ck_db_col_int64(q, 11);
    b->meta = st_col_blob(a, q, 12, &b->meta_len);
    if (with_parts) {
        const char *p = ck_db_col_text(q, 13);
        if (p == NULL || st_parts_parse(a, p, &b->parts, &b->nparts) != CK_OK) {
            ck_log(CK_LOG_ERROR, "storage: the index entry of blob %s has a bad part list", b->name ? b->name : "?");
            return CK_E_CRYPTO;
        }
    }
    return CK_OK;
}

/* Reads the current version inside a transaction (lock held). */
static int st_blob_get_locked(struct ck_db *db, struct ck_arena *a, const char *account, const char *container,
                              const char *name, struct st_blob *out)
{
    struct ck_db_stmt *q = NULL;
    const char *v[] = {account, container, name};
    int rc = CK_E_DB, s;
    if (ck_db_prepare(db, "SELECT " ST_BLOB_COLS " FROM blobs WHERE account = ?1 AND container = ?2 AND name = ?3",
                      &q) != CK_OK ||
        st_bind_all(q, 3, v) != CK_OK)
        goto out;
    s = ck_db_step(q);
    if (s == 1)
        rc = st_blob_row(a, q, out, 1);
    else if (s == 0)
        rc = CK_E_NOT_FOUND;
out:
    ck_db_stmt_free(q);
    return rc;
}

int st_blob_get(struct st *st, struct ck_arena *a, const char *account, const char *container, const char *name,
                struct st_blob *out)
{
    int rc;
    ck_db_lock(ST_RDB(st));
    rc = st_blob_get_locked(ST_RDB(st), a, account, container, name, out);
    ck_db_unlock(ST_RDB(st));
    return rc;
}

static int st_container_exists_locked(struct st *st, const char *account, const char *container)
{
    struct ck_db_stmt *q = NULL;
    const char *v[] = {account, container};
    int s = -1;
    if (ck_db_prepare(st->db, "SELECT 1 FROM containers WHERE account = ?1 AND name = ?2", &q) == CK_OK &&
        st_bind_all(q, 2, v) == CK_OK)
        s = ck_db_step(q);
    ck_db_stmt_free(q);
    return s;
}

static int st_block_list_locked(struct ck_db *db, struct ck_arena *a, const char *account, const char *container,
                                const char *blob, struct st_block **out, size_t *n);

/* 1 when a parts row with this id exists, 0 when not, -1 on a store error (lock held). */
static int st_part_exists_locked(struct st *st, const char *id)
{
    struct ck_db_stmt *q = NULL;
    int s = -1;
    if (ck_db_prepare(st->db, "SELECT 1 FROM parts WHERE id = ?1", &q) == CK_OK && ck_db_bind_text(q, 1, id) == CK_OK)
        s = ck_db_step(q);
    ck_db_stmt_free(q);
    return s;
}

static int st_cond_to_rc(enum st_cond_result r)
{
    return r == ST_COND_OK ? CK_OK : r == ST_COND_EXISTS ? CK_E_EXISTS : CK_E_FORBIDDEN;
}

static int st_write_blob_row(struct st *st, const char *account, const char *container, const struct st_blob *b)
{
    struct ck_db_stmt *q = NULL;
    char *parts = st_parts_json(b->parts, b->nparts);
    int rc = CK_E_DB;
    if (parts == NULL)
        return CK_E_NOMEM;
    if (ck_db_prepare(st->db,
                      "INSERT OR REPLACE INTO blobs (account, container, " ST_BLOB_COLS ") VALUES (?1, ?2, ?3, ?4, ?5,"
                      " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                      &q) != CK_OK)
        goto out;
    const char *v[] = {account, container, b->name, b->version_id, b->etag, b->content_type, b->content_encoding,
                       b->content_language, b->content_disposition, b->cache_control, b->content_md5};
    if (st_bind_all(q, 11, v) != CK_OK || ck_db_bind_int64(q, 12, (int64_t)b->size) != CK_OK ||
        ck_db_bind_int64(q, 13, b->created) != CK_OK || ck_db_bind_int64(q, 14, b->last_modified) != CK_OK ||
        st_bind_meta(q, 15, b->meta, b->meta_len) != CK_OK || ck_db_bind_text(q, 16, parts) != CK_OK)
        goto out;
    rc = st_exec(q);
    q = NULL;
out:
    ck_db_stmt_free(q);
    free(parts);
    return rc;
}

static int st_part_listed(const struct st_part *p, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].id, id) == 0)
            return 1;
    return 0;
}

struct st_commit_args {
    const char *account, *container, *name;
    const struct st_blob *b;
    const struct st_cond *cond;
    const struct st_part *new_parts;
    size_t n_new;
    int from_blocks;
    int missing_container;
    int metadata_only;
};

static int st_blob_commit_body(struct st *st, void *arg, struct st_dropped *d)
{
    struct st_commit_args *x = arg;
    const struct st_blob *b = x->b;
    struct ck_arena *a = ck_arena_new();
    struct st_blob old;
    struct st_block *blocks = NULL;
    size_t nblocks = 0;
    int rc = CK_E_DB, have_old;
    if (a == NULL)
        return CK_E_NOMEM;
    int ex = st_container_exists_locked(st, x->account, x->container);
    if (ex <= 0) {
        rc = ex == 0 ? CK_E_NOT_FOUND : CK_E_DB;
        x->missing_container = ex == 0;
        goto out;
    }
    rc = st_blob_get_locked(st->db, a, x->account, x->container, b->name, &old);
    if (rc != CK_OK && rc != CK_E_NOT_FOUND)
        goto out;
    have_old = rc == CK_OK;
    if ((rc = st_cond_to_rc(st_cond_eval(x->cond, have_old ? old.etag : NULL, have_old ? old.last_modified : 0, 0))) != CK_OK)
        goto out;
    /* The blocks a list names were looked up before this transaction: a concurrent commit to the
     * same name may have discarded them since. Each must still exist, or the list is invalid. */
    if (x->from_blocks)
        for (size_t i = 0; i < b->nparts; i++) {
            int k = st_part_exists_locked(st, b->parts[i].id);
            if (k <= 0) {
                rc = k == 0 ? CK_E_INVALID : CK_E_DB;
                goto out;
            }
        }
    rc = CK_E_DB;
    for (size_t i = 0; i < x->n_new; i++)
        if (st_insert_part(st, x->account, &x->new_parts[i], b->last_modified) != CK_OK)
            goto out;
    /* Parts of the old version that the new one does not keep. */
    if (have_old)
        for (size_t i = 0; i < old.nparts; i++)
            if (!st_part_listed(b->parts, b->nparts, old.parts[i].id) && st_drop_parts(st, &old.parts[i], 1, d) != CK_OK)
                goto out;
    /* Staged blocks: those the new version uses become its parts; the rest are discarded. */
    if (st_block_list_locked(st->db, a, x->account, x->container, b->name, &blocks, &nblocks) != CK_OK)
        goto out;
    for (size_t i = 0; i < nblocks; i++)
        if (!(x->from_blocks && st_part_listed(b->parts, b->nparts, blocks[i].part.id)) &&
            st_drop_parts(st, &blocks[i].part, 1, d) != CK_OK)
            goto out;
    const char *v[] = {x->account, x->container, b->name};
    if (ck_db_run(st->db, "DELETE FROM blocks WHERE account = ?1 AND container = ?2 AND blob = ?3", 3, v) != CK_OK ||
        st_write_blob_row(st, x->account, x->container, b) != CK_OK)
        goto out;
    rc = CK_OK;
out:
    ck_arena_free(a);
    return rc;
}

int st_blob_commit(struct st *st, const char *account, const char *container, const struct st_blob *b,
                   const struct st_cond *cond, const struct st_part *new_parts, size_t n_new, int from_blocks,
                   int *missing_container)
{
    struct st_commit_args x = {.account = account, .container = container, .b = b, .cond = cond,
                               .new_parts = new_parts, .n_new = n_new, .from_blocks = from_blocks};
    int rc = st_txn_run(st, st_blob_commit_body, &x);
    *missing_container = x.missing_container;
    return rc;
}

static int st_blob_update_body(struct st *st, void *arg, struct st_dropped *d)
{
    struct st_commit_args *x = arg;
    const struct st_blob *b = x->b;
    struct ck_arena *a = ck_arena_new();
    struct st_blob cur;
    int rc;
    (void)d;
    if (a == NULL)
        return CK_E_NOMEM;
    if ((rc = st_blob_get_locked(st->db, a, x->account, x->container, b->name, &cur)) != CK_OK)
        goto out;
    if ((rc = st_cond_to_rc(st_cond_eval(x->cond, cur.etag, cur.last_modified, 0))) != CK_OK)
        goto out;
    cur.etag = b->etag;
    cur.last_modified = b->last_modified;
    if (x->metadata_only) {
        cur.meta = b->meta;
        cur.meta_len = b->meta_len;
    } else {
        cur.content_type = b->content_type;
        cur.content_encoding = b->content_encoding;
        cur.content_language = b->content_language;
        cur.content_disposition = b->content_disposition;
        cur.cache_control = b->cache_control;
        cur.content_md5 = b->content_md5;
    }
    rc = st_write_blob_row(st, x->account, x->container, &cur);
out:
    ck_arena_free(a);
    return rc;
}

int st_blob_update(struct st *st, const char *account, const char *container, const struct st_blob *b,
                   const struct st_cond *cond, int metadata_only)
{
    struct st_commit_args x = {.account = account, .container = container, .b = b, .cond = cond,
                               .metadata_only = metadata_only};
    return st_txn_run(st, st_blob_update_body, &x);
}

static int st_blob_delete_body(struct st *st, void *arg, struct st_dropped *d)
{
    struct st_commit_args *x = arg;
    struct ck_arena *a = ck_arena_new();
    struct st_blob cur;
    const char *v[] = {x->account, x->container, x->name};
    int rc;
    if (a == NULL)
        return CK_E_NOMEM;
    if ((rc = st_blob_get_locked(st->db, a, x->account, x->container, x->name, &cur)) != CK_OK)
        goto out;
    if ((rc = st_cond_to_rc(st_cond_eval(x->cond, cur.etag, cur.last_modified, 0))) != CK_OK)
        goto out;
    rc = CK_E_DB;
    if (st_collect_parts(st, "account = ?1 AND container = ?2 AND name = ?3",
                         "account = ?1 AND container = ?2 AND blob = ?3", 3, v, d) != CK_OK ||
        ck_db_run(st->db, "DELETE FROM blocks WHERE account = ?1 AND container = ?2 AND blob = ?3", 3, v) != CK_OK ||
        ck_db_run(st->db, "DELETE FROM blobs WHERE account = ?1 AND container = ?2 AND name = ?3", 3, v) != CK_OK)
        goto out;
    rc = CK_OK;
out:
    ck_arena_free(a);
    return rc;
}

int st_blob_delete(struct st *st, const char *account, const char *container, const char *name,
                   const struct st_cond *cond)
{
    struct st_commit_args x = {.account = account, .container = container, .name = name, .cond = cond};
    return st_txn_run(st, st_blob_delete_body, &x);
}

int st_blob_list(struct st *st, struct ck_arena *a, const char *account, const char *container, const char *prefix,
                 const char *after, int limit, struct st_blob **out, size_t *n)
{
    struct ck_db_stmt *q = NULL;
    struct st_blob *b = ck_arena_alloc(a, (size_t)(limit > 0 ? limit : 1) * sizeof(*b));
    size_t k = 0;
    int rc = CK_E_DB, s = 0;
    if (b == NULL)
        return CK_E_NOMEM;
    ck_db_lock(ST_RDB(st));
    if (ck_db_prepare(ST_RDB(st),
                      "SELECT " ST_BLOB_COLS " FROM blobs WHERE account = ?1 AND container = ?2 AND name > ?3"
                      " AND name >= ?4 AND substr(name, 1, length(?4)) = ?4 ORDER BY name LIMIT ?5",
                      &q) != CK_OK)
        goto out;
    if (ck_db_bind_text(q, 1, account) != CK_OK || ck_db_bind_text(q, 2, container) != CK_OK ||
        ck_db_bind_text(q, 3, after) != CK_OK || ck_db_bind_text(q, 4, prefix) != CK_OK ||
        ck_db_bind_int64(q, 5, limit) != CK_OK)
        goto out;
    while (k < (size_t)limit && (s = ck_db_step(q)) == 1)
        if (st_blob_row(a, q, &b[k++], 0) != CK_OK)
            goto out;
    if (s < 0)
        goto out;
    *out = b;
    *n = k;
    rc = CK_OK;
out:
    ck_db_stmt_free(q);
    ck_db_unlock(ST_RDB(st));
    return rc;
}

/* ---- staged blocks ---- */

static int st_block_list_locked(struct ck_db *db, struct ck_arena *a, const char *account, const char *container,
                                const char *blob, struct st_block **out, size_t *n)
{
    struct ck_db_stmt *q = NULL;
    const char *v[] = {account, container, blob};
    size_t cap = 16, k = 0;
    struct st_block *b = ck_arena_alloc(a, cap * sizeof(*b));
    int rc = CK_E_DB, s;
    if (b == NULL)
        return CK_E_NOMEM;
    if (ck_db_prepare(db,
                      "SELECT b.block_id, b.size, p.id, p.salt, p.size, p.seg_size, p.data IS NOT NULL FROM blocks b"
                      " JOIN parts p ON p.id = b.part"
                      " WHERE b.account = ?1 AND b.container = ?2 AND b.blob = ?3 ORDER BY b.created, b.rowid",
                      &q) != CK_OK ||
        st_bind_all(q, 3, v) != CK_OK)
        goto out;
    while ((s = ck_db_step(q)) == 1) {
        if (k == cap) {
            struct st_block *nb = ck_arena_alloc(a, cap * 2 * sizeof(*b));
            if (nb == NULL) {
                rc = CK_E_NOMEM;
                goto out;
            }
            memcpy(nb, b, cap * sizeof(*b));
            b = nb;
            cap *= 2;
        }
        struct st_block *e = &b[k++];
        size_t sl = 0;
        const void *salt = ck_db_col_blob(q, 3, &sl);
        memset(e, 0, sizeof(*e));
        e->id = st_col(a, q, 0);
        e->size = (uint64_t)ck_db_col_int64(q, 1);
        snprintf(e->part.id, sizeof(e->part.id), "%s", ck_db_col_text(q, 2) ? ck_db_col_text(q, 2) : "");
        if (salt == NULL || sl != CK_SEG_SALT_LEN) {
            rc = CK_E_CRYPTO;
            goto out;
        }
        memcpy(e->part.salt, salt, sl);
        e->part.size = (uint64_t)ck_db_col_int64(q, 4);
        e->part.seg_size = (uint32_t)ck_db_col_int64(q, 5);
        e->part.inline_ = ck_db_col_int64(q, 6) != 0;
        snprintf(e->part.block_id, sizeof(e->part.block_id), "%s", e->id ? e->id : "");
    }
    if (s < 0)
        goto out;
    *out = b;
    *n = k;
    rc = CK_OK;
out:
    ck_db_stmt_free(q);
    return rc;
}

int st_block_list(struct st *st, struct ck_arena *a, const char *account, const char *container, const char *blob,
                  struct st_block **out, size_t *n)
{
    int rc;
    ck_db_lock(ST_RDB(st));
    rc = st_block_list_locked(ST_RDB(st), a, account, container, blob, out, n);
    ck_db_unlock(ST_RDB(st));
    return rc;
}

struct st_block_args {
    const char *account, *container, *blob, *block_id;
    const struct st_part *part;
};

static int st_block_put_body(struct st *st, void *arg, struct st_dropped *d)
{
    struct st_block_args *x = arg;
    struct ck_arena *a = ck_arena_new();
    struct st_block *blocks = NULL;
    size_t n = 0;
    int rc = CK_E_DB;
    int64_t now = ck_time_now();
    if (a == NULL)
        return CK_E_NOMEM;
    int ex = st_container_exists_locked(st, x->account, x->container);
    if (ex <= 0) {
        rc = ex == 0 ? CK_E_NOT_FOUND : CK_E_DB;
        goto out;
    }
    if (st_block_list_locked(st->db, a, x->account, x->container, x->blob, &blocks, &n) != CK_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (strlen(blocks[i].id) != strlen(x->block_id)) {
            rc = CK_E_INVALID;
            goto out;
        }
        if (strcmp(blocks[i].id, x->block_id) == 0 && st_drop_parts(st, &blocks[i].part, 1, d) != CK_OK)
            goto out;
    }
    if (n >= ST_MAX_UNCOMMITTED) {
        rc = CK_E_LIMIT;
        goto out;
    }
    if (st_insert_part(st, x->account, x->part, now) != CK_OK)
        goto out;
    struct ck_db_stmt *q = NULL;
    if (ck_db_prepare(st->db,
                      "INSERT OR REPLACE INTO blocks (account, container, blob, block_id, size, part, created)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                      &q) != CK_OK)
        goto out;
    const char *v[] = {x->account, x->container, x->blob, x->block_id};
    if (st_bind_all(q, 4, v) != CK_OK || ck_db_bind_int64(q, 5, (int64_t)x->part->size) != CK_OK ||
        ck_db_bind_text(q, 6, x->part->id) != CK_OK || ck_db_bind_int64(q, 7, now) != CK_OK) {
        ck_db_stmt_free(q);
        goto out;
    }
    if (st_exec(q) != CK_OK)
        goto out;
    rc = CK_OK;
out:
    ck_arena_free(a);
    return rc;
}

int st_block_put(struct st *st, const char *account, const char *container, const char *blob, const char *block_id,
                 const struct st_part *part)
{
    struct st_block_args x = {account, container, blob, block_id, part};
    return st_txn_run(st, st_block_put_body, &x);
}
