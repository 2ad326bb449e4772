/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small cache of opened private keys, so that a hot key (the storage service's key-encryption
 * key) is not unsealed and decoded on every unwrap. A key version's material never changes, so
 * entries need no invalidation on updates (state checks read the store on every request); they
 * leave the cache when idle for KV_KEYCACHE_IDLE seconds, when the cache is full (least recently
 * used), when the key is purged or restored, and when the vault is deleted. Freed keys are wiped
 * by OpenSSL (private numbers are cleared on free).
 */
#include "services/vault/kv_int.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static void kv_cache_id(char *out, size_t len, const char *vault, const char *name, const char *version)
{
    snprintf(out, len, "%s/%s/%s", vault, name, version ? version : "");
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
}

struct ck_pkey *kv_keycache_get(struct kv *kv, const char *vault, const char *name, const char *version)
{
    char id[200];
    struct ck_pkey *k = NULL;
    int64_t now = ck_time_now();
    kv_cache_id(id, sizeof(id), vault, name, version);
    pthread_mutex_lock(&kv->keycache_lock);
    for (int i = 0; i < KV_KEYCACHE_SIZE; i++) {
        struct kv_cached *c = &kv->keycache[i];
        if (c->key == NULL)
            continue;
        if (now - c->used > KV_KEYCACHE_IDLE) {
            ck_pkey_free(c->key);
            c->key = NULL;
            continue;
        }
        if (strcmp(c->id, id) == 0) {
            c->used = now;
            k = ck_pkey_dup(c->key);
        }
    }
    pthread_mutex_unlock(&kv->keycache_lock);
    return k;
}

void kv_keycache_put(struct kv *kv, const char *vault, const char *name, const char *version, const struct ck_pkey *key)
{
    char id[200];
    int slot = 0;
    kv_cache_id(id, sizeof(id), vault, name, version);
    pthread_mutex_lock(&kv->keycache_lock);
    for (int i = 0; i < KV_KEYCACHE_SIZE; i++) {
        struct kv_cached *c = &kv->keycache[i];
        if (c->key != NULL && strcmp(c->id, id) == 0) {
            slot = -1;
            break;
        }
        if (c->key == NULL || (kv->keycache[slot].key != NULL && c->used < kv->keycache[slot].used))
            slot = i;
    }
    if (slot >= 0) {
        struct kv_cached *c = &kv->keycache[slot];
        ck_pkey_free(c->key);
        c->key = ck_pkey_dup(key);
        c->used = ck_time_now();
        memcpy(c->id, id, sizeof(c->id));
    }
    pthread_mutex_unlock(&kv->keycache_lock);
}

void kv_keycache_drop(struct kv *kv, const char *vault, const char *name)
{
    char prefix[200];
    kv_cache_id(prefix, sizeof(prefix), vault, name ? name : "", NULL);
    /* "vault//" for a whole vault, "vault/name/" for a key. */
    size_t pl = strlen(prefix);
    if (name == NULL)
        pl -= 1;
    pthread_mutex_lock(&kv->keycache_lock);
    for (int i = 0; i < KV_KEYCACHE_SIZE; i++) {
        struct kv_cached *c = &kv->keycache[i];
        if (c->key != NULL && strncmp(c->id, prefix, pl) == 0) {
            ck_pkey_free(c->key);
            c->key = NULL;
        }
    }
    pthread_mutex_unlock(&kv->keycache_lock);
}

void kv_keycache_clear(struct kv *kv)
{
    pthread_mutex_lock(&kv->keycache_lock);
    for (int i = 0; i < KV_KEYCACHE_SIZE; i++) {
        ck_pkey_free(kv->keycache[i].key);
        kv->keycache[i].key = NULL;
    }
    pthread_mutex_unlock(&kv->keycache_lock);
}
