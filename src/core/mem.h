/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_CORE_MEM_H
#define CK_CORE_MEM_H

#include <stddef.h>
#include <stdint.h>

/* A byte span: pointer plus length. Owned by whoever made it unless a function says otherwise. */
struct ck_bytes {
    uint8_t *ptr;
    size_t len;
};

/* Allocation wrappers. They return NULL on failure and never abort. ck_free(NULL) is a no-op. */
void *ck_malloc(size_t n);
void *ck_calloc(size_t n, size_t size);
void *ck_realloc(void *p, size_t n);
char *ck_strdup(const char *s);
char *ck_strndup(const char *s, size_t n);
void ck_free(void *p);
/* Wipes n bytes at p and frees p. NULL is a no-op. */
void ck_freezero(void *p, size_t n);
/* Wipes n bytes at p in a way the compiler cannot drop. */
void ck_wipe(void *p, size_t n);

/*
 * Allocation failure injection for tests: after ck_alloc_fail_after(n), the n-th following
 * allocation fails (0 turns it off).
 */
void ck_alloc_fail_after(long n);

/*
 * An arena: many allocations freed at once, with cleanup hooks run (in reverse order) before the
 * memory goes. One arena per HTTP request.
 */
struct ck_arena;

struct ck_arena *ck_arena_new(void);
/* Runs the cleanup hooks, wipes and frees every block. NULL is a no-op. */
void ck_arena_free(struct ck_arena *a);
/* Returns zeroed memory owned by the arena, or NULL. */
void *ck_arena_alloc(struct ck_arena *a, size_t n);
char *ck_arena_strdup(struct ck_arena *a, const char *s);
char *ck_arena_strndup(struct ck_arena *a, const char *s, size_t n);
/* printf into arena memory; returns NULL on failure. */
char *ck_arena_printf(struct ck_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Registers fn(arg) to run when the arena is freed. Returns 0, or -1 when out of memory (then fn
 * is run at once so the resource is not leaked). */
int ck_arena_defer(struct ck_arena *a, void (*fn)(void *), void *arg);
/*
 * Splits a URL path into its non-empty segments ("/a//b/" gives "a", "b"), copied into the arena.
 * Returns the number of segments, or -1 when out of memory or when there are more than max.
 */
int ck_path_segments(struct ck_arena *a, const char *path, char **seg, int max);

/*
 * A growable buffer with a hard cap. Appends beyond the cap fail with CK_E_TOO_LARGE and leave
 * the buffer unchanged. The contents are always NUL-terminated (the NUL is not counted in len).
 */
struct ck_buf {
    char *data;
    size_t len;
    size_t cap;   /* allocated bytes */
    size_t limit; /* hard cap on len */
    int secret;   /* wipe on growth and free */
};

void ck_buf_init(struct ck_buf *b, size_t limit);
void ck_buf_cleanup(struct ck_buf *b);
int ck_buf_append(struct ck_buf *b, const void *p, size_t n);
int ck_buf_puts(struct ck_buf *b, const char *s);
int ck_buf_printf(struct ck_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (who frees it with ck_free) and resets the buffer. */
char *ck_buf_steal(struct ck_buf *b, size_t *len);

#endif
