/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key-state events (DESIGN.md section 4): new version, disabled, enabled, deleted, recovered,
 * purged, near expiry, and role assignments created or removed at vault or key scope (ARM
 * notifies). Events are stored with an increasing id; subscribers read them with a cursor from
 * GET /events on the vault's origin, long-polling for new ones. Delivery is at least once: a
 * subscriber that was away resumes from its cursor and misses nothing.
 */
#include "services/vault/kv_int.h"
#include "authz/shared_key.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define KV_FEED_MAX 500
#define KV_FEED_MAX_WAIT 30

void kv_event_emit(struct kv *kv, const struct kv_vault *v, const char *type, const char *key, const char *version,
                   const json_t *data)
{
    char *text = data ? ck_json_dump(data) : NULL;
    struct ck_db_stmt *st = NULL;
    int64_t id = 0;
    ck_db_lock(kv->db);
    if (ck_db_prepare(kv->db, "INSERT INTO events (vault, time, type, key_name, version, data) VALUES (?1, ?2, ?3, ?4,"
                              " ?5, ?6)", &st) == CK_OK) {
        ck_db_bind_text(st, 1, v->name);
        ck_db_bind_int64(st, 2, ck_time_now());
        ck_db_bind_text(st, 3, type);
        ck_db_bind_text(st, 4, key);
        ck_db_bind_text(st, 5, version);
        ck_db_bind_text(st, 6, text ? text : "{}");
        if (ck_db_step(st) >= 0) {
            struct ck_db_stmt *q = NULL;
            if (ck_db_prepare(kv->db, "SELECT last_insert_rowid()", &q) == CK_OK && ck_db_step(q) == 1)
                id = ck_db_col_int64(q, 0);
            ck_db_stmt_free(q);
        }
    }
    ck_db_stmt_free(st);
    ck_db_unlock(kv->db);
    free(text);
    if (id == 0) {
        ck_log(CK_LOG_ERROR, "vault %s: the event %s could not be recorded", v->name, type);
        return;
    }
    pthread_mutex_lock(&kv->events_lock);
    if (id > kv->events_last)
        kv->events_last = id;
    pthread_cond_broadcast(&kv->events_cond);
    pthread_mutex_unlock(&kv->events_lock);
}

/* Reads events after cursor into arr; returns how many. */
static int kv_events_read(struct kv *kv, const struct kv_vault *v, const char *origin, const char *key, int64_t cursor,
                          json_t *arr, int64_t *last)
{
    struct ck_db_stmt *st = NULL;
    int n = 0;
    char ts[40];
    ck_db_lock(kv->db);
    if (ck_db_prepare(kv->db, "SELECT id, time, type, key_name, version, data FROM events WHERE vault = ?1 AND id > ?2"
                              " AND (?3 IS NULL OR key_name IS NULL OR key_name = ?3) ORDER BY id LIMIT ?4", &st) == CK_OK) {
        ck_db_bind_text(st, 1, v->name);
        ck_db_bind_int64(st, 2, cursor);
        ck_db_bind_text(st, 3, key);
        ck_db_bind_int64(st, 4, KV_FEED_MAX);
        while (ck_db_step(st) == 1) {
            const char *kn = ck_db_col_text(st, 3);
            const char *ver = ck_db_col_text(st, 4);
            const char *dt = ck_db_col_text(st, 5);
            char subject[600];
            if (kn == NULL)
                snprintf(subject, sizeof(subject), "%s/", origin);
            else if (ver == NULL)
                snprintf(subject, sizeof(subject), "%s/keys/%s", origin, kn);
            else
                snprintf(subject, sizeof(subject), "%s/keys/%s/%s", origin, kn, ver);
            json_t *data = ck_json_parse(dt, strlen(dt), NULL, 0);
            ck_time_iso8601(ck_db_col_int64(st, 1), ts, sizeof(ts));
            *last = ck_db_col_int64(st, 0);
            json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:s,s:s?,s:s?,s:o}", "id", (json_int_t)*last, "eventTime",
                                                 ts, "eventType", ck_db_col_text(st, 2), "subject", subject, "objectName",
                                                 kn, "version", ver, "data", data ? data : json_object()));
            n++;
        }
    }
    ck_db_stmt_free(st);
    ck_db_unlock(kv->db);
    return n;
}

void kv_events_feed(struct kv *kv, const struct kv_vault *v, const char *origin, struct ck_req *req, struct ck_resp *resp,
                    const char *key)
{
    const char *cs = ck_req_query(req, "cursor");
    const char *ws = ck_req_query(req, "timeout");
    int64_t cursor = 0, last;
    long wait = 0;
    char *end = NULL;
    if (cs != NULL) {
        cursor = strtoll(cs, &end, 10);
        if (*cs == '\0' || *end != '\0' || cursor < 0) {
            kv_error(resp, 400, "BadParameter", NULL, "'cursor' must be a non-negative integer (the last event id seen).");
            return;
        }
    }
    if (ws != NULL) {
        wait = strtol(ws, &end, 10);
        if (*ws == '\0' || *end != '\0' || wait < 0 || wait > KV_FEED_MAX_WAIT) {
            kv_error(resp, 400, "BadParameter", NULL, "'timeout' must be an integer from 0 to %d seconds.", KV_FEED_MAX_WAIT);
            return;
        }
    }
    json_t *arr = json_array();
    last = cursor;
    int n = kv_events_read(kv, v, origin, key, cursor, arr, &last);
    if (n == 0 && wait > 0) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += wait;
        pthread_mutex_lock(&kv->events_lock);
        int64_t seen = kv->events_last;
        unsigned long kick = kv->events_kick;
        while (kv->events_last == seen && kv->events_kick == kick && !kv->events_closed) {
            if (pthread_cond_timedwait(&kv->events_cond, &kv->events_lock, &deadline) == ETIMEDOUT)
                break;
        }
        pthread_mutex_unlock(&kv->events_lock);
        n = kv_events_read(kv, v, origin, key, cursor, arr, &last);
    }
    json_t *o = json_pack("{s:o,s:I}", "value", arr, "cursor", (json_int_t)last);
    ck_resp_json(resp, 200, o);
    json_decref(o);
}

void kv_events_close(struct kv *kv)
{
    pthread_mutex_lock(&kv->events_lock);
    kv->events_closed = 1;
    pthread_cond_broadcast(&kv->events_cond);
    pthread_mutex_unlock(&kv->events_lock);
}

void kv_events_kick(struct kv *kv)
{
    pthread_mutex_lock(&kv->events_lock);
    kv->events_kick++;
    pthread_cond_broadcast(&kv->events_cond);
    pthread_mutex_unlock(&kv->events_lock);
}

void kv_events_notification(struct kv *kv, struct ck_req *req, struct ck_resp *resp)
{
    size_t len;
    const char *text = ck_req_body(req, &len);
    json_t *b = ck_json_parse_object(text, len, NULL, 0);
    const char *type = b ? ck_json_str(b, "type") : NULL;
    const char *scope = b ? ck_json_str(b, "scope") : NULL;
    struct kv_vault v;
    /* Any role change anywhere may change a decision below it: forget them all first. */
    ck_access_forget(kv->access);
    if (type == NULL || scope == NULL) {
        json_decref(b);
        json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", "BadRequest", "message", "type and scope are required.");
        ck_resp_json(resp, 400, e);
        json_decref(e);
        return;
    }
    /* ".../providers/Microsoft.KeyVault/vaults/{vault}[/keys/{key}]" */
    const char *p = strcasestr(scope, "/providers/Microsoft.KeyVault/vaults/");
    char vault[32] = "", key[128] = "";
    if (p != NULL) {
        p += strlen("/providers/Microsoft.KeyVault/vaults/");
        size_t vl = strcspn(p, "/");
        if (vl > 0 && vl < sizeof(vault)) {
            memcpy(vault, p, vl);
            vault[vl] = '\0';
            if (strncasecmp(p + vl, "/keys/", 6) == 0) {
                size_t kl = strcspn(p + vl + 6, "/");
                if (kl > 0 && kl < sizeof(key)) {
                    memcpy(key, p + vl + 6, kl);
                    key[kl] = '\0';
                }
            }
        }
    }
    if (vault[0] != '\0' && kv_vault_get(kv, ck_req_arena(req), vault, 0, &v) == CK_OK) {
        json_t *data = json_pack("{s:s?,s:s?,s:s?,s:s}", "principalId", ck_json_str(b, "principalId"), "roleDefinitionId",
                                 ck_json_str(b, "roleDefinitionId"), "roleAssignmentName",
                                 ck_json_str(b, "roleAssignmentName"), "scope", scope);
        char *t = ck_arena_printf(ck_req_arena(req), "Microsoft.KeyVault.%s", type);
        kv_event_emit(kv, &v, t, key[0] ? key : NULL, NULL, data);
        json_decref(data);
    }
    json_decref(b);
    ck_resp_status(resp, 204);
}
