/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The secret byte container: locked, wiped on free, never printable; and constant-time compare.
 *
 * Secret bytes come from a pool of pages that are locked once (mlock) and excluded from core dumps
 * (MADV_DONTDUMP), carved into size classes with a free list each. A request handles several small
 * secrets (keys, tokens); locking and unlocking heap pages for each one cost a system call apiece,
 * split the kernel's mappings, and could unlock a page another secret still shared. Secrets larger
 * than the biggest class get mappings of their own. Under AddressSanitizer the pool is off (plain
 * allocations, so that use after free stays detectable).
 */
#include "core/secret.h"
#include "core/mem.h"

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define CK_SECRET_POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CK_SECRET_POOL 0
#endif
#endif
#ifndef CK_SECRET_POOL
#define CK_SECRET_POOL 1
#endif

struct ck_secret {
    size_t len;
    size_t cap;   /* bytes reserved: the class size, or the mapping's length */
    int cls;      /* size class, or -1 for a mapping of its own, -2 for a plain allocation */
    int locked;
    uint8_t *bytes;
};

#define CK_POOL_CLASSES 7
#define CK_POOL_CHUNK (64 * 1024)
static const size_t ck_pool_sizes[CK_POOL_CLASSES] = {32, 64, 128, 256, 512, 1024, 4096};

struct ck_pool_free {
    struct ck_pool_free *next;
};

static pthread_mutex_t ck_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ck_pool_free *ck_pool_lists[CK_POOL_CLASSES];

static int ck_pool_class(size_t n)
{
    for (int i = 0; i < CK_POOL_CLASSES; i++)
        if (n <= ck_pool_sizes[i])
            return i;
    return -1;
}

/* A new locked, non-dumpable mapping of n bytes (rounded up to pages); *locked tells whether
 * mlock succeeded (it may not, under a low RLIMIT_MEMLOCK). */
static uint8_t *ck_pool_map(size_t n, int *locked)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
#ifdef MADV_DONTDUMP
    madvise(p, n, MADV_DONTDUMP);
#endif
    *locked = mlock(p, n) == 0;
    return p;
}

static size_t ck_page_round(size_t n)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t ps = pg > 0 ? (size_t)pg : 4096;
    return (n + ps - 1) / ps * ps;
}

/* Takes one block of class c from the pool, carving a new locked chunk when the list is empty. */
static uint8_t *ck_pool_take(int c, int *locked)
{
    uint8_t *p = NULL;
    pthread_mutex_lock(&ck_pool_lock);
    if (ck_pool_lists[c] == NULL) {
        int lk = 0;
        uint8_t *chunk = ck_pool_map(CK_POOL_CHUNK, &lk);
        if (chunk != NULL) {
            /* Chunks are kept for the life of the process; the lock state is the chunk's. */
            size_t sz = ck_pool_sizes[c];
            for (size_t off = 0; off + sz <= CK_POOL_CHUNK; off += sz) {
                struct ck_pool_free *f = (struct ck_pool_free *)(void *)(chunk + off);
                f->next = ck_pool_lists[c];
                ck_pool_lists[c] = f;
            }
            if (!lk)
                *locked = 0;
        }
    }
    if (ck_pool_lists[c] != NULL) {
        struct ck_pool_free *f = ck_pool_lists[c];
        ck_pool_lists[c] = f->next;
        p = (uint8_t *)f;
    }
    pthread_mutex_unlock(&ck_pool_lock);
    if (p != NULL)
        memset(p, 0, ck_pool_sizes[c]);
    return p;
}

static void ck_pool_give(int c, uint8_t *p)
{
    struct ck_pool_free *f = (struct ck_pool_free *)(void *)p;
    pthread_mutex_lock(&ck_pool_lock);
    f->next = ck_pool_lists[c];
    ck_pool_lists[c] = f;
    pthread_mutex_unlock(&ck_pool_lock);
}

struct ck_secret *ck_secret_new(size_t len)
{
    struct ck_secret *s = ck_calloc(1, sizeof(*s));
    size_t n = len ? len : 1;
    if (s == NULL)
        return NULL;
    s->len = len;
    s->locked = 1;
    if (!CK_SECRET_POOL) {
        s->cls = -2;
        s->cap = n;
        s->bytes = ck_calloc(1, n);
        if (s->bytes != NULL)
            s->locked = mlock(s->bytes, n) == 0;
    } else if ((s->cls = ck_pool_class(n)) >= 0) {
        s->cap = ck_pool_sizes[s->cls];
        s->bytes = ck_pool_take(s->cls, &s->locked);
    } else {
        s->cap = ck_page_round(n);
        s->bytes = ck_pool_map(s->cap, &s->locked);
    }
    if (s->bytes == NULL) {
        ck_free(s);
        return NULL;
    }
    return s;
}

struct ck_secret *ck_secret_from(const void *p, size_t len)
{
    struct ck_secret *s = ck_secret_new(len);
    if (s != NULL && len > 0)
        memcpy(s->bytes, p, len);
    return s;
}

void ck_secret_free(struct ck_secret *s)
{
    if (s == NULL)
        return;
    ck_wipe(s->bytes, s->cap);
    if (s->cls >= 0) {
        ck_pool_give(s->cls, s->bytes);
    } else if (s->cls == -1) {
        munmap(s->bytes, s->cap);
    } else {
        if (s->locked)
            munlock(s->bytes, s->cap);
        ck_free(s->bytes);
    }
    ck_free(s);
}

uint8_t *ck_secret_ptr(const struct ck_secret *s)
{
    return s->bytes;
}

size_t ck_secret_len(const struct ck_secret *s)
{
    return s->len;
}

int ck_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return 0;
    if (alen == 0)
        return 1;
    const volatile uint8_t *x = a;
    const volatile uint8_t *y = b;
    uint8_t acc = 0;
    for (size_t i = 0; i < alen; i++)
        acc |= (uint8_t)(x[i] ^ y[i]);
    return acc == 0;
}
