/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parts: the encrypted extent files of blob data (docs/data-format.md, "Blob data"). A writer seals
 * a streamed body segment by segment into storage/tmp/, then syncs and renames it into
 * storage/extents/xx/; a reader checks a part's header against the index and decrypts only the
 * segments a read needs. Nothing here holds more than one segment of plaintext at a time.
 */
#include "services/storage/st_data.h"
#include "core/codec.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "json/json.h"

#include "core/timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct st_part_writer {
    struct st *st;
    struct ck_seg *seg;
    struct ck_seg_header h;
    struct ck_md5 *md5;
    int fd;
    char *tmp_path;
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

static int st_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return CK_E_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return CK_OK;
}

static char *st_extent_dir(struct st *st, const char *id)
{
    char sub[3] = {id[0], id[1], '\0'};
    char *base = ck_path_join(st->data_dir, "extents");
    char *dir = base ? ck_path_join(base, sub) : NULL;
    ck_free(base);
    return dir;
}

static char *st_extent_path(struct st *st, const char *id)
{
    char *dir = st_extent_dir(st, id);
    char name[2 * CK_SEG_ID_LEN + 8];
    char *p;
    snprintf(name, sizeof(name), "%s.ckb", id);
    p = dir ? ck_path_join(dir, name) : NULL;
    ck_free(dir);
    return p;
}

int st_part_writer_new(struct st *st, const struct ck_secret *aek, const char *account, const char *container,
                       const char *blob, uint64_t length, struct st_part_writer **out)
{
    struct st_part_writer *w = ck_calloc(1, sizeof(*w));
    uint8_t hdr[CK_SEG_HEADER_LEN];
    char name[2 * CK_SEG_ID_LEN + 8];
    char *tmpdir = NULL;
    int rc = CK_E_NOMEM;
    if (w == NULL)
        return CK_E_NOMEM;
    w->st = st;
    w->fd = -1;
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
    tmpdir = ck_path_join(st->data_dir, "tmp");
    snprintf(name, sizeof(name), "%s.tmp", w->id);
    w->tmp_path = tmpdir ? ck_path_join(tmpdir, name) : NULL;
    if (w->tmp_path == NULL)
        goto fail;
    rc = CK_E_IO;
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        ck_log(CK_LOG_ERROR, "storage: cannot create %s: %s", w->tmp_path, strerror(errno));
        goto fail;
    }
    ck_seg_header_encode(&w->h, hdr);
    if (st_write_all(w->fd, hdr, sizeof(hdr)) != CK_OK)
        goto fail;
    ck_free(tmpdir);
    *out = w;
    return CK_OK;
fail:
    ck_free(tmpdir);
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
    return st_write_all(w->fd, w->cipher, n + CK_SEG_TAG_LEN);
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

static int st_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = CK_OK;
    if (fd < 0)
        return CK_E_IO;
    if (fsync(fd) != 0)
        rc = CK_E_IO;
    close(fd);
    return rc;
}

int st_part_finish(struct st_part_writer *w, struct st_part *part, uint8_t md5[16])
{
    char *dir = NULL, *path = NULL;
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
    if (fsync(w->fd) != 0 || close(w->fd) != 0) {
        w->fd = -1;
        return CK_E_IO;
    }
    w->fd = -1;
    dir = st_extent_dir(w->st, w->id);
    path = st_extent_path(w->st, w->id);
    rc = CK_E_IO;
    if (dir == NULL || path == NULL || ck_mkdirs(dir, 0700) != 0)
        goto out;
    if (rename(w->tmp_path, path) != 0) {
        ck_log(CK_LOG_ERROR, "storage: cannot move a part into %s: %s", dir, strerror(errno));
        goto out;
    }
    ck_free(w->tmp_path);
    w->tmp_path = NULL; /* committed: no longer ours to remove */
    if (st_fsync_dir(dir) != CK_OK)
        goto out;
    memset(part, 0, sizeof(*part));
    snprintf(part->id, sizeof(part->id), "%s", w->id);
    memcpy(part->salt, w->h.salt, sizeof(part->salt));
    part->size = w->h.length;
    part->seg_size = w->h.seg_size;
    ck_md5_final(w->md5, md5);
    w->md5 = NULL;
    rc = CK_OK;
out:
    ck_free(dir);
    ck_free(path);
    return rc;
}

void st_part_writer_free(struct st_part_writer *w)
{
    if (w == NULL)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp_path != NULL) {
        unlink(w->tmp_path);
        ck_free(w->tmp_path);
    }
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
    char *path = st_extent_path(st, id);
    if (path != NULL && unlink(path) != 0 && errno != ENOENT)
        ck_log(CK_LOG_WARN, "storage: cannot remove part %s: %s", id, strerror(errno));
    ck_free(path);
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
    int fd;
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
        r->parts[i].fd = -1;
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
    ck_db_lock(st->db);
    if (ck_db_prepare(st->db, "SELECT data FROM parts WHERE id = ?1", &q) == CK_OK && ck_db_bind_text(q, 1, op->p.id) == CK_OK &&
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
    ck_db_unlock(st->db);
    return rc;
}

/* Opens part i: the file's header must match the index row, and its size the format's. */
static int st_reader_open_part(struct st_reader *r, size_t i)
{
    struct st_open_part *op = &r->parts[i];
    uint8_t hdr[CK_SEG_HEADER_LEN];
    uint8_t id[CK_SEG_ID_LEN];
    struct stat sb;
    char *path;
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
        path = st_extent_path(r->st, op->p.id);
        if (path == NULL)
            return CK_E_NOMEM;
        op->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (op->fd < 0) {
            ck_log(CK_LOG_ERROR, "storage: part %s of %s/%s/%s is missing", op->p.id, r->account, r->container, r->blob);
            ck_free(path);
            return CK_E_CRYPTO;
        }
        ck_free(path);
        if (pread(op->fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
            goto bad;
    }
    if (ck_seg_header_decode(hdr, &op->h) != CK_OK)
        goto bad;
    if (st_unhex(op->p.id, id, sizeof(id)) != CK_OK)
        goto bad;
    if (memcmp(id, op->h.part_id, CK_SEG_ID_LEN) != 0 || memcmp(op->p.salt, op->h.salt, CK_SEG_SALT_LEN) != 0 ||
        op->h.length != op->p.size || op->h.seg_size != op->p.seg_size)
        goto bad;
    if (op->p.inline_ ? op->image_len != ck_seg_file_size(&op->h)
                      : (fstat(op->fd, &sb) != 0 || (uint64_t)sb.st_size != ck_seg_file_size(&op->h)))
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
    else if (pread(op->fd, r->cipher, want, (off_t)ck_seg_offset(&op->h, index)) != (ssize_t)want) {
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
        if (r->parts[i].fd >= 0)
            close(r->parts[i].fd);
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

/* Removes every file in dir (the temporary parts of writes that never committed). */
static void st_empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *p = ck_path_join(dir, e->d_name);
        if (p != NULL && unlink(p) != 0)
            ck_log(CK_LOG_WARN, "storage: cannot remove %s: %s", p, strerror(errno));
        ck_free(p);
    }
    closedir(d);
}

/* Deletes extent files that no parts row knows (a crash between rename and commit, or after a
 * commit and before the unlink of what it replaced). */
static int st_sweep_extents(struct st *st, const char *base, long *removed)
{
    DIR *d = opendir(base);
    struct dirent *e;
    if (d == NULL)
        return CK_E_IO;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *sub = ck_path_join(base, e->d_name);
        DIR *sd = sub ? opendir(sub) : NULL;
        struct dirent *f;
        while (sd != NULL && (f = readdir(sd)) != NULL) {
            size_t n = strlen(f->d_name);
            if (f->d_name[0] == '.')
                continue;
            char id[2 * CK_SEG_ID_LEN + 1];
            int known = 0;
            if (n == 2 * CK_SEG_ID_LEN + 4 && strcmp(f->d_name + 2 * CK_SEG_ID_LEN, ".ckb") == 0) {
                memcpy(id, f->d_name, 2 * CK_SEG_ID_LEN);
                id[2 * CK_SEG_ID_LEN] = '\0';
                known = st_part_known(st, id);
                if (known < 0) {
                    closedir(sd);
                    closedir(d);
                    ck_free(sub);
                    return CK_E_DB;
                }
            }
            if (!known) {
                char *p = ck_path_join(sub, f->d_name);
                if (p != NULL && unlink(p) == 0)
                    (*removed)++;
                ck_free(p);
            }
        }
        if (sd != NULL)
            closedir(sd);
        ck_free(sub);
    }
    closedir(d);
    return CK_OK;
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
    char *tmp = ck_path_join(st->data_dir, "tmp");
    char *ext = ck_path_join(st->data_dir, "extents");
    struct ck_arena *a = ck_arena_new();
    struct st_dropped dropped = {0};
    long removed = 0;
    int rc = CK_E_IO;
    if (tmp == NULL || ext == NULL || a == NULL || ck_mkdirs(tmp, 0700) != 0 || ck_mkdirs(ext, 0700) != 0)
        goto out;
    st_empty_dir(tmp);
    /* Staged blocks past Azure's seven days are discarded with their parts. */
    ck_db_lock(st->db);
    rc = st_expire_blocks_locked(st, &dropped);
    if (rc == CK_OK)
        rc = st_sweep_extents(st, ext, &removed);
    ck_db_unlock(st->db);
    if (rc == CK_OK) {
        if (dropped.n > 0 || removed > 0)
            ck_log(CK_LOG_INFO, "storage: recovery removed %zu expired blocks and %ld orphaned parts", dropped.n, removed);
        ck_free(dropped.ids);
        dropped.ids = NULL;
        dropped.n = 0;
    }
out:
    ck_free(dropped.ids);
    ck_arena_free(a);
    ck_free(tmp);
    ck_free(ext);
    return rc;
}
