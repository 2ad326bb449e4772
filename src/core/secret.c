/* SPDX-License-Identifier: Apache-2.0 */
/* The secret byte container: locked, wiped on free, never printable; and constant-time compare. */
#include "core/secret.h"
#include "core/mem.h"

#include <string.h>
#include <sys/mman.h>

struct ck_secret {
    size_t len;
    int locked;
    uint8_t *bytes;
};

struct ck_secret *ck_secret_new(size_t len)
{
    struct ck_secret *s = ck_calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->bytes = ck_calloc(1, len ? len : 1);
    if (s->bytes == NULL) {
        ck_free(s);
        return NULL;
    }
    s->len = len;
    s->locked = mlock(s->bytes, len ? len : 1) == 0;
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
    size_t n = s->len ? s->len : 1;
    ck_wipe(s->bytes, n);
    if (s->locked)
        munlock(s->bytes, n);
    ck_free(s->bytes);
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
