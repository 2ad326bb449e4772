/* SPDX-License-Identifier: Apache-2.0 */
/* File helpers: recursive mkdir, crash-safe atomic replace, bounded whole-file reads. */
#include "core/fsutil.h"
#include "core/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ck_mkdirs(const char *dir, unsigned mode)
{
    char *p = ck_strdup(dir);
    int rc = -1;
    if (p == NULL)
        return -1;
    if (*p == '\0') {
        errno = ENOENT;
        goto out;
    }
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, mode) != 0 && errno != EEXIST)
                goto out;
            *s = '/';
        }
    }
    if (mkdir(p, mode) != 0 && errno != EEXIST)
        goto out;
    rc = 0;
out:
    ck_free(p);
    return rc;
}

char *ck_path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = ck_malloc(la + lb + 2);
    if (p == NULL)
        return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

int ck_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    size_t pl = strlen(path);
    char *tmp = ck_malloc(pl + 16);
    char *dcopy = NULL;
    int fd = -1, rc = -1;
    if (tmp == NULL)
        return -1;
    snprintf(tmp, pl + 16, "%s.tmp.%d", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        goto out;
    if (fchmod(fd, mode) != 0)
        goto out;
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            goto out;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0)
        goto out;
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto out;
    dcopy = ck_strdup(path);
    if (dcopy != NULL) {
        int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    ck_free(tmp);
    ck_free(dcopy);
    return rc;
}

int ck_read_file(const char *path, size_t limit, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0)
        goto fail;
    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        goto fail;
    }
    if ((size_t)st.st_size > limit) {
        errno = EFBIG;
        goto fail;
    }
    buf = ck_malloc((size_t)st.st_size + 1);
    if (buf == NULL)
        goto fail;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto fail;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    close(fd);
    *out = buf;
    if (len != NULL)
        *len = got;
    return 0;
fail:
    close(fd);
    ck_free(buf);
    return -1;
}
