/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The check-access client shared by the resource services: asks ARM (POST /rp/arm/checkAccess
 * with the resource-provider key) whether a principal holds a data action at a scope, and keeps
 * the answers for at most CK_ACCESS_TTL_MS in a small direct-mapped cache keyed by SHA-256 of
 * principal, tenant, scope and action (lower case). Every forget bumps a generation counter, and
 * an answer is cached only if no forget happened since it was asked for, so a decision made
 * before a role change is never served after the provider heard of the change.
 */
#include "authz/checkaccess.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "http/client/httpc.h"
#include "json/json.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ck_access_entry {
    uint8_t id[CK_SHA256_LEN]; /* SHA-256 of principal, tenant, scope and action, lower case */
    int allowed;
    int64_t expires_ms; /* monotonic; 0: empty */
};

struct ck_access {
    char *endpoint;
    char *ca_file;
    struct ck_secret *rp_key;
    pthread_mutex_t lock;
    uint64_t gen; /* bumped by every forget */
    struct ck_access_entry cache[CK_ACCESS_CACHE];
};

int ck_access_new(const char *arm_endpoint, const char *ca_file, const struct ck_secret *rp_key, struct ck_access **out)
{
    struct ck_access *a = NULL;
    if (arm_endpoint == NULL)
        return CK_E_INVALID;
    a = ck_calloc(1, sizeof(*a));
    if (a == NULL)
        return CK_E_NOMEM;
    pthread_mutex_init(&a->lock, NULL);
    a->endpoint = ck_strdup(arm_endpoint);
    a->ca_file = ca_file ? ck_strdup(ca_file) : NULL;
    a->rp_key = rp_key ? ck_secret_from(ck_secret_ptr(rp_key), ck_secret_len(rp_key)) : NULL;
    if (a->endpoint == NULL || (ca_file != NULL && a->ca_file == NULL) || (rp_key != NULL && a->rp_key == NULL)) {
        ck_access_free(a);
        return CK_E_NOMEM;
    }
    *out = a;
    return CK_OK;
}

void ck_access_free(struct ck_access *a)
{
    if (a == NULL)
        return;
    pthread_mutex_destroy(&a->lock);
    ck_free(a->endpoint);
    ck_free(a->ca_file);
    ck_secret_free(a->rp_key);
    ck_free(a);
}

void ck_access_forget(struct ck_access *a)
{
    pthread_mutex_lock(&a->lock);
    memset(a->cache, 0, sizeof(a->cache));
    a->gen++;
    pthread_mutex_unlock(&a->lock);
}

/* One question to ARM. Returns 1, 0, or -1 when ARM did not answer. */
static int ck_access_ask(struct ck_access *a, const struct ck_claims *caller, const char *scope, const char *action,
                         int is_data)
{
    struct ck_httpc_req rq = {0};
    struct ck_httpc_resp rs;
    char url[600], auth[128];
    int allowed = -1;
    json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:b}", "principalId", caller->oid, "tenantId", caller->tid, "scope",
                             scope, "action", action, "isDataAction", is_data ? 1 : 0);
    char *text = body ? ck_json_dump(body) : NULL;
    json_decref(body);
    if (text == NULL || a->rp_key == NULL)
        goto out;
    snprintf(url, sizeof(url), "%s/rp/arm/checkAccess", a->endpoint);
    snprintf(auth, sizeof(auth), "Authorization: RP %.*s", (int)ck_secret_len(a->rp_key),
             (const char *)ck_secret_ptr(a->rp_key));
    rq.method = "POST";
    rq.url = url;
    rq.headers[0] = auth;
    rq.headers[1] = "Content-Type: application/json";
    rq.body = text;
    rq.body_len = strlen(text);
    rq.ca_file = a->ca_file;
    rq.timeout_ms = 5000;
    if (ck_httpc_do(&rq, &rs) == CK_OK && rs.status == 200) {
        json_t *r = ck_json_parse_object(rs.body.data, rs.body.len, NULL, 0);
        if (r != NULL && json_is_boolean(json_object_get(r, "allowed")))
            allowed = ck_json_bool(r, "allowed", 0);
        json_decref(r);
    } else {
        ck_log(CK_LOG_WARN, "check-access at ARM failed (status %ld)", rs.status);
    }
    ck_httpc_resp_cleanup(&rs);
    ck_wipe(auth, sizeof(auth));
out:
    free(text);
    return allowed;
}

int ck_access_check(struct ck_access *a, const struct ck_claims *caller, const char *scope, const char *action)
{
    return ck_access_check_kind(a, caller, scope, action, 1);
}

int ck_access_check_kind(struct ck_access *a, const struct ck_claims *caller, const char *scope, const char *action,
                         int is_data)
{
    struct ck_buf b;
    uint8_t id[CK_SHA256_LEN];
    int64_t now = ck_mono_ms();
    ck_buf_init(&b, 4096);
    if (ck_buf_printf(&b, "%s\n%s\n%s\n%s\n%d", caller->oid, caller->tid, scope, action, is_data ? 1 : 0) != CK_OK) {
        ck_buf_cleanup(&b);
        return ck_access_ask(a, caller, scope, action, is_data);
    }
    for (char *p = b.data; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    ck_sha256(b.data, b.len, id);
    ck_buf_cleanup(&b);
    size_t slot = ((size_t)id[0] << 8 | id[1]) % CK_ACCESS_CACHE;
    pthread_mutex_lock(&a->lock);
    struct ck_access_entry *e = &a->cache[slot];
    if (e->expires_ms > now && memcmp(e->id, id, sizeof(id)) == 0) {
        int allowed = e->allowed;
        pthread_mutex_unlock(&a->lock);
        return allowed;
    }
    uint64_t gen = a->gen;
    pthread_mutex_unlock(&a->lock);
    int r = ck_access_ask(a, caller, scope, action, is_data);
    if (r < 0)
        return r;
    pthread_mutex_lock(&a->lock);
    /* A forget while ARM was answering: the answer may predate the change, so it is used once
     * and not kept. */
    if (a->gen == gen) {
        e = &a->cache[slot];
        memcpy(e->id, id, sizeof(id));
        e->allowed = r;
        e->expires_ms = now + CK_ACCESS_TTL_MS;
    }
    pthread_mutex_unlock(&a->lock);
    return r;
}
