/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The file-system object store for parts: an object being written is storage/tmp/<id>.tmp (mode
 * 0600); publishing syncs it, renames it to storage/extents/<first two hex digits>/<id>.ckb and
 * syncs that directory, so a crash leaves either no object or a whole one.
 */
#include "services/storage/st_objstore.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FS_ID_MAX 64

struct fs_store {
    char *tmp, *ext;
};

struct fs_writer {
    struct fs_store *s;
    int fd;
    char id[FS_ID_MAX + 1];
    char *tmp_path;
};

struct fs_reader {
    int fd;
};

static int fs_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n < 2 || n > FS_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return 1;
}

static char *fs_dir_of(struct fs_store *s, const char *id)
{
    char sub[3] = {id[0], id[1], '\0'};
    return ck_path_join(s->ext, sub);
}

static char *fs_path_of(struct fs_store *s, const char *id)
{
    char name[FS_ID_MAX + 8];
    char *dir = fs_dir_of(s, id);
    char *p;
    snprintf(name, sizeof(name), "%s.ckb", id);
    p = dir ? ck_path_join(dir, name) : NULL;
    ck_free(dir);
    return p;
}

static int fs_open_store(const char *dir, void **ctx)
{
    struct fs_store *s = ck_calloc(1, sizeof(*s));
    if (s == NULL)
        return CK_E_NOMEM;
    s->tmp = ck_path_join(dir, "tmp");
    s->ext = ck_path_join(dir, "extents");
    if (s->tmp == NULL || s->ext == NULL || ck_mkdirs(s->tmp, 0700) != 0 || ck_mkdirs(s->ext, 0700) != 0) {
        ck_free(s->tmp);
        ck_free(s->ext);
        ck_free(s);
        return CK_E_IO;
    }
    *ctx = s;
    return CK_OK;
}

static void fs_close_store(void *ctx)
{
    struct fs_store *s = ctx;
    if (s == NULL)
        return;
    ck_free(s->tmp);
    ck_free(s->ext);
    ck_free(s);
}

static int fs_create(void *ctx, const char *id, void **out)
{
    struct fs_store *s = ctx;
    struct fs_writer *w;
    char name[FS_ID_MAX + 8];
    if (!fs_id_ok(id))
        return CK_E_INVALID;
    w = ck_calloc(1, sizeof(*w));
    if (w == NULL)
        return CK_E_NOMEM;
    w->s = s;
    snprintf(w->id, sizeof(w->id), "%s", id);
    snprintf(name, sizeof(name), "%s.tmp", id);
    w->tmp_path = ck_path_join(s->tmp, name);
    if (w->tmp_path == NULL) {
        ck_free(w);
        return CK_E_NOMEM;
    }
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        ck_log(CK_LOG_ERROR, "storage: cannot create %s: %s", w->tmp_path, strerror(errno));
        ck_free(w->tmp_path);
        ck_free(w);
        return CK_E_IO;
    }
    *out = w;
    return CK_OK;
}

static int fs_append(void *wp, const void *p, size_t n)
{
    struct fs_writer *w = wp;
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = write(w->fd, b, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return CK_E_IO;
        }
        b += k;
        n -= (size_t)k;
    }
    return CK_OK;
}

static int fs_fsync_dir(const char *dir)
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

static void fs_abandon(void *wp)
{
    struct fs_writer *w = wp;
    if (w == NULL)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp_path != NULL) {
        unlink(w->tmp_path);
        ck_free(w->tmp_path);
    }
    ck_free(w);
}

static int fs_publish(void *wp)
{
    struct fs_writer *w = wp;
    char *dir = NULL, *path = NULL;
    int rc = CK_E_IO;
    int synced = fsync(w->fd) == 0;
    if (close(w->fd) != 0)
        synced = 0;
    w->fd = -1;
    if (!synced)
        goto out;
    dir = fs_dir_of(w->s, w->id);
    path = fs_path_of(w->s, w->id);
    if (dir == NULL || path == NULL || ck_mkdirs(dir, 0700) != 0)
        goto out;
    if (rename(w->tmp_path, path) != 0) {
        ck_log(CK_LOG_ERROR, "storage: cannot move a part into %s: %s", dir, strerror(errno));
        goto out;
    }
    ck_free(w->tmp_path);
    w->tmp_path = NULL; /* published: no longer ours to remove */
    rc = fs_fsync_dir(dir);
out:
    ck_free(dir);
    ck_free(path);
    fs_abandon(w);
    return rc;
}

static int fs_open(void *ctx, const char *id, void **out, uint64_t *size)
{
    struct fs_store *s = ctx;
    struct fs_reader *r;
    struct stat sb;
    char *path;
    if (!fs_id_ok(id))
        return CK_E_NOT_FOUND;
    path = fs_path_of(s, id);
    if (path == NULL)
        return CK_E_NOMEM;
    r = ck_calloc(1, sizeof(*r));
    if (r == NULL) {
        ck_free(path);
        return CK_E_NOMEM;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_free(path);
    if (r->fd < 0 || fstat(r->fd, &sb) != 0) {
        if (r->fd >= 0)
            close(r->fd);
        ck_free(r);
        return CK_E_NOT_FOUND;
    }
    *size = (uint64_t)sb.st_size;
    *out = r;
    return CK_OK;
}

static int fs_read_at(void *rp, void *buf, size_t n, uint64_t off)
{
    struct fs_reader *r = rp;
    uint8_t *b = buf;
    while (n > 0) {
        ssize_t k = pread(r->fd, b, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return CK_E_IO;
        b += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return CK_OK;
}

static void fs_close(void *rp)
{
    struct fs_reader *r = rp;
    if (r == NULL)
        return;
    close(r->fd);
    ck_free(r);
}

static int fs_remove(void *ctx, const char *id)
{
    struct fs_store *s = ctx;
    char *path;
    int rc = CK_OK;
    if (!fs_id_ok(id))
        return CK_E_INVALID;
    path = fs_path_of(s, id);
    if (path == NULL)
        return CK_E_NOMEM;
    if (unlink(path) != 0 && errno != ENOENT) {
        ck_log(CK_LOG_WARN, "storage: cannot remove part %s: %s", id, strerror(errno));
        rc = CK_E_IO;
    }
    ck_free(path);
    return rc;
}

/* Removes every entry of dir (the temporary objects of writes that never published). */
static void fs_empty_dir(const char *dir)
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

static int fs_collect(void *ctx, int (*keep)(void *arg, const char *id), void *arg, long *removed)
{
    struct fs_store *s = ctx;
    DIR *d;
    struct dirent *e;
    int rc = CK_OK;
    fs_empty_dir(s->tmp);
    d = opendir(s->ext);
    if (d == NULL)
        return CK_E_IO;
    while (rc == CK_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *sub = ck_path_join(s->ext, e->d_name);
        DIR *sd = sub ? opendir(sub) : NULL;
        struct dirent *f;
        while (rc == CK_OK && sd != NULL && (f = readdir(sd)) != NULL) {
            size_t n = strlen(f->d_name);
            char id[FS_ID_MAX + 1];
            int k = 0;
            if (f->d_name[0] == '.')
                continue;
            if (n > 4 && n - 4 <= FS_ID_MAX && strcmp(f->d_name + n - 4, ".ckb") == 0) {
                memcpy(id, f->d_name, n - 4);
                id[n - 4] = '\0';
                k = fs_id_ok(id) ? keep(arg, id) : 0;
            }
            if (k < 0) {
                rc = CK_E_DB;
                break;
            }
            if (k == 0) {
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
    return rc;
}

const struct st_objstore_ops st_objstore_fs = {
    .name = "files",
    .open_store = fs_open_store,
    .close_store = fs_close_store,
    .create = fs_create,
    .append = fs_append,
    .publish = fs_publish,
    .abandon = fs_abandon,
    .open = fs_open,
    .read_at = fs_read_at,
    .close = fs_close,
    .remove = fs_remove,
    .collect = fs_collect,
};
