/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation wrappers with failure injection, per-request arenas and capped growable buffers. */
#include "core/mem.h"
#include "core/err.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Atomic long ck_fail_countdown;

void ck_alloc_fail_after(long n)
{
    atomic_store(&ck_fail_countdown, n);
}

static int ck_should_fail(void)
{
    long v = atomic_load(&ck_fail_countdown);
    if (v <= 0)
        return 0;
    v = atomic_fetch_sub(&ck_fail_countdown, 1);
    return v == 1;
}

void *ck_malloc(size_t n)
{
    if (ck_should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *ck_calloc(size_t n, size_t size)
{
    if (ck_should_fail())
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *ck_realloc(void *p, size_t n)
{
    if (ck_should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

char *ck_strndup(const char *s, size_t n)
{
    char *d = ck_malloc(n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *ck_strdup(const char *s)
{
    return s ? ck_strndup(s, strlen(s)) : NULL;
}

void ck_free(void *p)
{
    free(p);
}

void ck_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        explicit_bzero(p, n);
}

void ck_freezero(void *p, size_t n)
{
    if (p == NULL)
        return;
    ck_wipe(p, n);
    free(p);
}

/* ---- arena ---- */

struct ck_arena_block {
    struct ck_arena_block *next;
    size_t size;
    size_t used;
    max_align_t data[];
};

struct ck_arena_hook {
    struct ck_arena_hook *next;
    void (*fn)(void *);
    void *arg;
};

struct ck_arena {
    struct ck_arena_block *blocks;
    struct ck_arena_hook *hooks;
};

#define CK_ARENA_BLOCK 8192

struct ck_arena *ck_arena_new(void)
{
    return ck_calloc(1, sizeof(struct ck_arena));
}

void ck_arena_free(struct ck_arena *a)
{
    if (a == NULL)
        return;
    while (a->hooks != NULL) {
        struct ck_arena_hook *h = a->hooks;
        a->hooks = h->next;
        h->fn(h->arg);
    }
    while (a->blocks != NULL) {
        struct ck_arena_block *b = a->blocks;
        a->blocks = b->next;
        ck_freezero(b, sizeof(*b) + b->size);
    }
    free(a);
}

void *ck_arena_alloc(struct ck_arena *a, size_t n)
{
    const size_t align = sizeof(max_align_t);
    size_t need = (n + align - 1) / align * align;
    struct ck_arena_block *b = a->blocks;

    if (need < n)
        return NULL;
    if (b == NULL || b->size - b->used < need) {
        size_t size = need > CK_ARENA_BLOCK ? need : CK_ARENA_BLOCK;
        if (size > SIZE_MAX - sizeof(*b))
            return NULL;
        b = ck_calloc(1, sizeof(*b) + size);
        if (b == NULL)
            return NULL;
        b->size = size;
        b->next = a->blocks;
        a->blocks = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += need;
    memset(p, 0, n);
    return p;
}

char *ck_arena_strndup(struct ck_arena *a, const char *s, size_t n)
{
    char *d = ck_arena_alloc(a, n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *ck_arena_strdup(struct ck_arena *a, const char *s)
{
    return s ? ck_arena_strndup(a, s, strlen(s)) : NULL;
}

char *ck_arena_printf(struct ck_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *d = ck_arena_alloc(a, (size_t)n + 1);
    if (d == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return d;
}

int ck_arena_defer(struct ck_arena *a, void (*fn)(void *), void *arg)
{
    struct ck_arena_hook *h = ck_arena_alloc(a, sizeof(*h));
    if (h == NULL) {
        fn(arg);
        return -1;
    }
    h->fn = fn;
    h->arg = arg;
    h->next = a->hooks;
    a->hooks = h;
    return 0;
}

int ck_path_segments(struct ck_arena *a, const char *path, char **seg, int max)
{
    int n = 0;
    char *copy = ck_arena_strdup(a, path);
    if (copy == NULL)
        return -1;
    for (char *s = copy; *s;) {
        while (*s == '/')
            s++;
        if (*s == '\0')
            break;
        if (n == max)
            return -1;
        seg[n++] = s;
        char *e = strchr(s, '/');
        if (e == NULL)
            break;
        *e = '\0';
        s = e + 1;
    }
    return n;
}

/* ---- growable buffer ---- */

void ck_buf_init(struct ck_buf *b, size_t limit)
{
    memset(b, 0, sizeof(*b));
    b->limit = limit;
}

void ck_buf_cleanup(struct ck_buf *b)
{
    if (b->secret)
        ck_freezero(b->data, b->cap);
    else
        free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int ck_buf_reserve(struct ck_buf *b, size_t add)
{
    if (add > b->limit || b->len > b->limit - add)
        return CK_E_TOO_LARGE;
    size_t need = b->len + add + 1;
    if (need <= b->cap)
        return CK_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *d = ck_malloc(cap);
    if (d == NULL)
        return CK_E_NOMEM;
    if (b->data != NULL) {
        memcpy(d, b->data, b->len + 1);
        if (b->secret)
            ck_freezero(b->data, b->cap);
        else
            free(b->data);
    }
    b->data = d;
    b->cap = cap;
    return CK_OK;
}

int ck_buf_append(struct ck_buf *b, const void *p, size_t n)
{
    int rc = ck_buf_reserve(b, n);
    if (rc != CK_OK)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return CK_OK;
}

int ck_buf_puts(struct ck_buf *b, const char *s)
{
    return ck_buf_append(b, s, strlen(s));
}

int ck_buf_printf(struct ck_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return CK_E_INVALID;
    int rc = ck_buf_reserve(b, (size_t)n);
    if (rc != CK_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return CK_OK;
}

char *ck_buf_steal(struct ck_buf *b, size_t *len)
{
    char *d = b->data;
    if (d == NULL)
        d = ck_strdup("");
    if (len != NULL)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}
