/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parts: the encrypted extent files of blob data (docs/data-format.md, "Blob data"). A writer seals
 * a streamed body segment by segment into storage/tmp/, then syncs and renames it into
 * storage/extents/xx/; a reader checks a part's header against the index and decrypts only the
 * segments a read needs. Nothing here holds more than one segment of plaintext at a time.
 */
#include "services/storage/st_data.h"
#include "core/codec.h"
#include "core/log.h"
#include "json/json.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <string.h>

struct st_part_writer {
    struct st *st;
    struct ck_seg *seg;
    struct ck_seg_header h;
    struct ck_md5 *md5;
    void *obj; /* the object being written (file parts) */
    char id[2 * CK_SEG_ID_LEN + 1];
    uint64_t written;  /* plaintext bytes taken */
    uint64_t index;    /* next segment to seal */
    uint8_t *plain;    /* one segment of plaintext being filled */
    size_t fill;
    uint8_t *cipher;   /* one sealed segment */
    int inline_;       /* no file: the whole part is kept in `image` for the index */
    uint8_t *image;    /* inline: header + the one sealed segment */
    size_t image_len;
};

int st_part_writer_new(struct st *st, const struct ck_secret *aek, const char *account, const char *container,
                       const char *blob, uint64_t length, struct st_part_writer **out)
{
    struct st_part_writer *w = ck_calloc(1, sizeof(*w));
    uint8_t hdr[CK_SEG_HEADER_LEN];
    int rc = CK_E_NOMEM;
    if (w == NULL)
        return CK_E_NOMEM;
    w->st = st;
    w->h.seg_size = CK_SEG_DEFAULT_SIZE;
    w->h.length = length;
    if (ck_random(w->h.part_id, sizeof(w->h.part_id)) != 0 || ck_random(w->h.salt, sizeof(w->h.salt)) != 0) {
        rc = CK_E_CRYPTO;
        goto fail;
    }
    char *hex = ck_hex_encode(w->h.part_id, sizeof(w->h.part_id));
    if (hex == NULL)
        goto fail;
    snprintf(w->id, sizeof(w->id), "%s", hex);
    ck_free(hex);
    if ((rc = ck_seg_new(aek, &w->h, account, container, blob, &w->seg)) != CK_OK)
        goto fail;
    rc = CK_E_NOMEM;
    w->plain = ck_malloc(w->h.seg_size);
    w->cipher = ck_malloc(w->h.seg_size + CK_SEG_TAG_LEN);
    w->md5 = ck_md5_new();
    if (w->plain == NULL || w->cipher == NULL || w->md5 == NULL)
        goto fail;
    if (length <= ST_INLINE_MAX) {
        w->inline_ = 1;
        w->image_len = (size_t)ck_seg_file_size(&w->h);
        w->image = ck_malloc(w->image_len);
        if (w->image == NULL)
            goto fail;
        ck_seg_header_encode(&w->h, w->image);
        *out = w;
        return CK_OK;
    }
    if ((rc = st->objs->create(st->objs_ctx, w->id, &w->obj)) != CK_OK)
        goto fail;
    ck_seg_header_encode(&w->h, hdr);
    if ((rc = st->objs->append(w->obj, hdr, sizeof(hdr))) != CK_OK)
        goto fail;
    *out = w;
    return CK_OK;
fail:
    st_part_writer_free(w);
    return rc;
}

static int st_part_flush(struct st_part_writer *w)
{
    size_t n = w->fill;
    int rc = ck_seg_seal(w->seg, w->index, w->plain, n, w->cipher);
    ck_wipe(w->plain, n);
    w->fill = 0;
    if (rc != CK_OK)
        return rc;
    w->index++;
    if (w->inline_) {
        if (CK_SEG_HEADER_LEN + n + CK_SEG_TAG_LEN != w->image_len)
            return CK_E_INTERNAL;
        memcpy(w->image + CK_SEG_HEADER_LEN, w->cipher, n + CK_SEG_TAG_LEN);
        return CK_OK;
    }
    return w->st->objs->append(w->obj, w->cipher, n + CK_SEG_TAG_LEN);
}

int st_part_write(struct st_part_writer *w, const void *p, size_t n)
{
    const uint8_t *b = p;
    if (n > w->h.length - w->written)
        return CK_E_TOO_LARGE;
    ck_md5_update(w->md5, p, n);
    w->written += n;
    while (n > 0) {
        size_t take = w->h.seg_size - w->fill;
        if (take > n)
            take = n;
        memcpy(w->plain + w->fill, b, take);
        w->fill += take;
        b += take;
        n -= take;
        /* A full segment is sealed once more data follows it, or once it is the last one. */
        if (w->fill == w->h.seg_size && (w->written < w->h.length || n > 0)) {
            int rc = st_part_flush(w);
            if (rc != CK_OK)
                return rc;
        }
    }
    return CK_OK;
}

uint64_t st_part_written(const struct st_part_writer *w)
{
    return w->written;
}

int st_part_finish(struct st_part_writer *w, struct st_part *part, uint8_t md5[16])
{
    int rc;
    if (w->written != w->h.length)
        return CK_E_INVALID;
    /* The final segment (possibly empty, possibly full). */
    if ((rc = st_part_flush(w)) != CK_OK)
        return rc;
    if (w->index != ck_seg_count(&w->h))
        return CK_E_CRYPTO;
    if (w->inline_) {
        memset(part, 0, sizeof(*part));
        snprintf(part->id, sizeof(part->id), "%s", w->id);
        memcpy(part->salt, w->h.salt, sizeof(part->salt));
        part->size = w->h.length;
        part->seg_size = w->h.seg_size;
        part->inline_ = 1;
        part->data = w->image;
        part->data_len = w->image_len;
        ck_md5_final(w->md5, md5);
        w->md5 = NULL;
        return CK_OK;
    }
    /* Durable and visible under its id; the object is no longer the writer's to drop. */
    rc = w->st->objs->publish(w->obj);
    w->obj = NULL;
    if (rc != CK_OK)
        return rc;
    memset(part, 0, sizeof(*part));
    snprintf(part->id, sizeof(part->id), "%s", w->id);
    memcpy(part->salt, w->h.salt, sizeof(part->salt));
    part->size = w->h.length;
    part->seg_size = w->h.seg_size;
    ck_md5_final(w->md5, md5);
    w->md5 = NULL;
    return CK_OK;
}

void st_part_writer_free(struct st_part_writer *w)
{
    if (w == NULL)
        return;
    if (w->obj != NULL)
        w->st->objs->abandon(w->obj);
    ck_seg_free(w->seg);
    ck_md5_free(w->md5);
    if (w->plain != NULL)
        ck_freezero(w->plain, w->h.seg_size);
    ck_free(w->cipher);
    ck_free(w->image);
    ck_free(w);
}

void st_part_unlink(struct st *st, const char *id)
{
    /* Inline parts have no object; removing an absent one is not an error. */
    (void)st->objs->remove(st->objs_ctx, id);
}

/* Decodes exactly 2n lower- or upper-case hex digits. */
static int st_unhex(const char *s, uint8_t *out, size_t n)
{
    if (strlen(s) != 2 * n)
        return CK_E_INVALID;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0)
            return CK_E_INVALID;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return CK_OK;
}

/* ---- reading ---- */

struct st_open_part {
    struct st_part p;
    struct ck_seg_header h;
    uint64_t start; /* offset of the part in the blob */
    void *obj;      /* an open object (file parts) */
    uint64_t obj_size;
    uint8_t *image; /* an inline part's bytes, read from the index */
    size_t image_len;
    struct ck_seg *seg;
};

struct st_reader {
    struct st *st;
    const struct ck_secret *aek;
    char *account, *container, *blob;
    struct st_open_part *parts;
    size_t nparts;
    uint64_t size;
    /* The last decrypted segment. */
    size_t cur_part;
    uint64_t cur_index;
    int cur_valid;
    uint8_t *plain;
    size_t plain_len;
    uint32_t plain_cap;
    uint8_t *cipher;
};

int st_reader_new(struct st *st, const struct ck_secret *aek, const char *account, const char *container,
                  const char *blob, const struct st_part *parts, size_t nparts, struct st_reader **out)
{
    struct st_reader *r = ck_calloc(1, sizeof(*r));
    uint32_t maxseg = 0;
    if (r == NULL)
        return CK_E_NOMEM;
    r->st = st;
    r->aek = aek;
    r->account = ck_strdup(account);
    r->container = ck_strdup(container);
    r->blob = ck_strdup(blob);
    r->parts = ck_calloc(nparts ? nparts : 1, sizeof(*r->parts));
    if (r->account == NULL || r->container == NULL || r->blob == NULL || r->parts == NULL) {
        st_reader_free(r);
        return CK_E_NOMEM;
    }
    r->nparts = nparts;
    for (size_t i = 0; i < nparts; i++) {
        r->parts[i].p = parts[i];
        r->parts[i].start = r->size;
        r->size += parts[i].size;
        if (parts[i].seg_size == 0 || parts[i].seg_size > CK_SEG_MAX_SIZE) {
            st_reader_free(r);
            return CK_E_CRYPTO;
        }
        if (parts[i].seg_size > maxseg)
            maxseg = parts[i].seg_size;
    }
    r->plain_cap = maxseg ? maxseg : 1;
    r->plain = ck_malloc(r->plain_cap);
    r->cipher = ck_malloc((size_t)r->plain_cap + CK_SEG_TAG_LEN);
    if (r->plain == NULL || r->cipher == NULL) {
        st_reader_free(r);
        return CK_E_NOMEM;
    }
    *out = r;
    return CK_OK;
}

/* Reads an inline part's bytes from its index row. */
static int st_inline_load(struct st *st, struct st_open_part *op)
{
    struct ck_db_stmt *q = NULL;
    int rc = CK_E_NOT_FOUND;
    ck_db_lock((st->rdb != NULL ? st->rdb : st->db));
    if (ck_db_prepare((st->rdb != NULL ? st->rdb : st->db), "SELECT data FROM parts WHERE id = ?1", &q) == CK_OK && ck_db_bind_text(q, 1, op->p.id) == CK_OK &&
        ck_db_step(q) == 1) {
        size_t n = 0;
        const void *d = ck_db_col_blob(q, 0, &n);
        if (d != NULL && n >= CK_SEG_HEADER_LEN && (op->image = ck_malloc(n)) != NULL) {
            memcpy(op->image, d, n);
            op->image_len = n;
            rc = CK_OK;
        }
    }
    ck_db_stmt_free(q);
    ck_db_unlock((st->rdb != NULL ? st->rdb : st->db));
    return rc;
}

/* Opens part i: the file's header must match the index row, and its size the format's. */
static int st_reader_open_part(struct st_reader *r, size_t i)
{
    struct st_open_part *op = &r->parts[i];
    uint8_t hdr[CK_SEG_HEADER_LEN];
    uint8_t id[CK_SEG_ID_LEN];
    int rc = CK_E_CRYPTO;
    if (op->seg != NULL)
        return CK_OK;
    if (op->p.inline_) {
        if (st_inline_load(r->st, op) != CK_OK) {
            ck_log(CK_LOG_ERROR, "storage: inline part %s of %s/%s/%s is missing", op->p.id, r->account, r->container,
                   r->blob);
            return CK_E_CRYPTO;
        }
        memcpy(hdr, op->image, sizeof(hdr));
    } else {
        if (r->st->objs->open(r->st->objs_ctx, op->p.id, &op->obj, &op->obj_size) != CK_OK) {
            ck_log(CK_LOG_ERROR, "storage: part %s of %s/%s/%s is missing", op->p.id, r->account, r->container, r->blob);
            return CK_E_CRYPTO;
        }
        if (op->obj_size < sizeof(hdr) || r->st->objs->read_at(op->obj, hdr, sizeof(hdr), 0) != CK_OK)
            goto bad;
    }
    if (ck_seg_header_decode(hdr, &op->h) != CK_OK)
        goto bad;
    if (st_unhex(op->p.id, id, sizeof(id)) != CK_OK)
        goto bad;
    if (memcmp(id, op->h.part_id, CK_SEG_ID_LEN) != 0 || memcmp(op->p.salt, op->h.salt, CK_SEG_SALT_LEN) != 0 ||
        op->h.length != op->p.size || op->h.seg_size != op->p.seg_size)
        goto bad;
    if ((op->p.inline_ ? op->image_len : op->obj_size) != ck_seg_file_size(&op->h))
        goto bad;
    if ((rc = ck_seg_new(r->aek, &op->h, r->account, r->container, r->blob, &op->seg)) != CK_OK)
        return rc;
    return CK_OK;
bad:
    ck_log(CK_LOG_ERROR, "storage: part %s of %s/%s/%s does not match the index", op->p.id, r->account, r->container,
           r->blob);
    return CK_E_CRYPTO;
}

static int st_reader_load(struct st_reader *r, size_t pi, uint64_t index)
{
    struct st_open_part *op = &r->parts[pi];
    int rc;
    if (r->cur_valid && r->cur_part == pi && r->cur_index == index)
        return CK_OK;
    r->cur_valid = 0;
    if ((rc = st_reader_open_part(r, pi)) != CK_OK)
        return rc;
    size_t n = ck_seg_plain_len(&op->h, index);
    size_t want = n + CK_SEG_TAG_LEN;
    if (op->p.inline_)
        memcpy(r->cipher, op->image + ck_seg_offset(&op->h, index), want);
    else if (r->st->objs->read_at(op->obj, r->cipher, want, ck_seg_offset(&op->h, index)) != CK_OK) {
        ck_log(CK_LOG_ERROR, "storage: part %s is short", op->p.id);
        return CK_E_CRYPTO;
    }
    if ((rc = ck_seg_open(op->seg, index, r->cipher, want, r->plain)) != CK_OK) {
        ck_log(CK_LOG_ERROR, "storage: segment %llu of part %s of %s/%s/%s fails authentication",
               (unsigned long long)index, op->p.id, r->account, r->container, r->blob);
        return CK_E_CRYPTO;
    }
    r->plain_len = n;
    r->cur_part = pi;
    r->cur_index = index;
    r->cur_valid = 1;
    return CK_OK;
}

long st_reader_read(struct st_reader *r, uint64_t pos, uint8_t *buf, size_t max)
{
    size_t pi = 0;
    if (pos >= r->size || max == 0)
        return 0;
    /* Parts are few (one per block); a linear walk is fine. */
    while (pi + 1 < r->nparts && pos >= r->parts[pi + 1].start)
        pi++;
    while (r->parts[pi].p.size == 0 && pi + 1 < r->nparts)
        pi++;
    struct st_open_part *op = &r->parts[pi];
    uint64_t off = pos - op->start;
    uint64_t index = off / op->p.seg_size;
    int rc = st_reader_load(r, pi, index);
    if (rc != CK_OK)
        return -(long)rc; /* ck_err codes are positive: never mistake one for a byte count */
    size_t in_seg = (size_t)(off - index * op->p.seg_size);
    size_t n = r->plain_len - in_seg;
    if (n > max)
        n = max;
    memcpy(buf, r->plain + in_seg, n);
    return (long)n;
}

void st_reader_free(struct st_reader *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; r->parts != NULL && i < r->nparts; i++) {
        if (r->parts[i].obj != NULL)
            r->st->objs->close(r->parts[i].obj);
        ck_free(r->parts[i].image);
        ck_seg_free(r->parts[i].seg);
    }
    ck_free(r->parts);
    if (r->plain != NULL)
        ck_freezero(r->plain, r->plain_cap);
    ck_free(r->cipher);
    ck_free(r->account);
    ck_free(r->container);
    ck_free(r->blob);
    ck_free(r);
}

/* ---- the index's list of parts ---- */

char *st_parts_json(const struct st_part *parts, size_t n)
{
    json_t *arr = json_array();
    char *s = NULL;
    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char *salt = ck_hex_encode(parts[i].salt, sizeof(parts[i].salt));
        json_t *o = salt ? json_pack("{s:s,s:I,s:s,s:I}", "id", parts[i].id, "size", (json_int_t)parts[i].size, "salt",
                                     salt, "seg", (json_int_t)parts[i].seg_size)
                         : NULL;
        ck_free(salt);
        if (o != NULL && parts[i].block_id[0] != '\0')
            json_object_set_new(o, "block", json_string(parts[i].block_id));
        if (o != NULL && parts[i].inline_)
            json_object_set_new(o, "inline", json_true());
        if (o == NULL || json_array_append_new(arr, o) != 0)
            goto out;
    }
    s = json_dumps(arr, JSON_COMPACT);
out:
    json_decref(arr);
    return s;
}

int st_parts_parse(struct ck_arena *a, const char *text, struct st_part **parts, size_t *n)
{
    json_t *arr = ck_json_parse(text, strlen(text), NULL, 0);
    int rc = CK_E_CRYPTO;
    size_t count;
    struct st_part *p;
    if (arr == NULL || !json_is_array(arr))
        goto out;
    count = json_array_size(arr);
    p = ck_arena_alloc(a, (count ? count : 1) * sizeof(*p));
    if (p == NULL) {
        rc = CK_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        json_t *o = json_array_get(arr, i);
        const char *id = json_string_value(json_object_get(o, "id"));
        const char *salt = json_string_value(json_object_get(o, "salt"));
        json_int_t size = json_integer_value(json_object_get(o, "size"));
        json_int_t seg = json_integer_value(json_object_get(o, "seg"));
        if (id == NULL || strlen(id) != 2 * CK_SEG_ID_LEN || salt == NULL || strlen(salt) != 2 * CK_SEG_SALT_LEN ||
            size < 0 || seg <= 0 || seg > (json_int_t)CK_SEG_MAX_SIZE)
            goto out;
        memset(&p[i], 0, sizeof(p[i]));
        snprintf(p[i].id, sizeof(p[i].id), "%s", id);
        if (st_unhex(salt, p[i].salt, sizeof(p[i].salt)) != CK_OK)
            goto out;
        p[i].size = (uint64_t)size;
        p[i].seg_size = (uint32_t)seg;
        p[i].inline_ = json_is_true(json_object_get(o, "inline"));
        const char *block = json_string_value(json_object_get(o, "block"));
        if (block != NULL && strlen(block) < sizeof(p[i].block_id))
            snprintf(p[i].block_id, sizeof(p[i].block_id), "%s", block);
    }
    *parts = p;
    *n = count;
    rc = CK_OK;
out:
    json_decref(arr);
    return rc;
}

/* ---- recovery on start ---- */

static int st_part_known(struct st *st, const char *id)
{
    struct ck_db_stmt *q = NULL;
    int s = -1;
    if (ck_db_prepare(st->db, "SELECT 1 FROM parts WHERE id = ?1", &q) == CK_OK && ck_db_bind_text(q, 1, id) == CK_OK)
        s = ck_db_step(q);
    ck_db_stmt_free(q);
    return s;
}

static int st_part_keep(void *arg, const char *id)
{
    return st_part_known(arg, id);
}

/* Deletes staged blocks older than ST_BLOCK_EXPIRY_S and their parts rows in one transaction
 * (lock held); their part ids go to dropped, for unlinking after the commit. */
static int st_expire_blocks_locked(struct st *st, struct st_dropped *dropped)
{
    struct ck_db_stmt *q = NULL;
    int64_t cutoff = ck_time_now() - ST_BLOCK_EXPIRY_S;
    int s = -1, rc = CK_E_DB;
    if (ck_db_begin(st->db) != CK_OK)
        return CK_E_DB;
    if (ck_db_prepare(st->db, "SELECT part FROM blocks WHERE created < ?1", &q) == CK_OK &&
        ck_db_bind_int64(q, 1, cutoff) == CK_OK) {
        while ((s = ck_db_step(q)) == 1) {
            const char *id = ck_db_col_text(q, 0);
            if (st_dropped_add(dropped, id ? id : "") != CK_OK) {
                s = -1;
                break;
            }
        }
    }
    ck_db_stmt_free(q);
    q = NULL;
    if (s == 0) {
        int ok = 1;
        for (size_t i = 0; ok && i < dropped->n; i++) {
            const char *v[] = {dropped->ids[i]};
            ok = ck_db_run(st->db, "DELETE FROM parts WHERE id = ?1", 1, v) == CK_OK;
        }
        if (ok && ck_db_prepare(st->db, "DELETE FROM blocks WHERE created < ?1", &q) == CK_OK &&
            ck_db_bind_int64(q, 1, cutoff) == CK_OK && ck_db_step(q) >= 0) {
            ck_db_stmt_free(q);
            q = NULL;
            rc = ck_db_commit(st->db);
        }
        ck_db_stmt_free(q);
    }
    if (rc != CK_OK)
        ck_db_rollback(st->db);
    return rc;
}

int st_blocks_expire(struct st *st)
{
    struct st_dropped dropped = {0};
    int rc;
    ck_db_lock(st->db);
    rc = st_expire_blocks_locked(st, &dropped);
    ck_db_unlock(st->db);
    if (rc == CK_OK) {
        if (dropped.n > 0)
            ck_log(CK_LOG_INFO, "storage: %zu uncommitted blocks expired", dropped.n);
        st_dropped_unlink(st, &dropped);
    }
    ck_free(dropped.ids);
    return rc;
}

int st_blob_recover(struct st *st)
{
    struct st_dropped dropped = {0};
    long removed = 0;
    int rc;
    /* Staged blocks past Azure's seven days are discarded with their parts. */
    ck_db_lock(st->db);
    rc = st_expire_blocks_locked(st, &dropped);
    /* Objects never published, and published ones no parts row knows (a crash between publish
     * and commit, or after a commit and before the removal of what it replaced). */
    if (rc == CK_OK)
        rc = st->objs->collect(st->objs_ctx, st_part_keep, st, &removed);
    ck_db_unlock(st->db);
    if (rc == CK_OK) {
        if (dropped.n > 0 || removed > 0)
            ck_log(CK_LOG_INFO, "storage: recovery removed %zu expired blocks and %ld orphaned parts", dropped.n, removed);
    }
    ck_free(dropped.ids);
    return rc;
}
