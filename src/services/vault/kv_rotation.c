/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key rotation: the rotate operation itself, and the scheduler that applies rotation policies
 * (timeAfterCreate and timeBeforeExpiry triggers with Rotate or Notify actions) on a period, using
 * the service clock, which tests can move through the operator API when the daemon runs with a
 * test clock.
 */
#include "services/vault/kv_int.h"
#include "authz/shared_key.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "crypto/keyops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int64_t kv_duration(const char *s)
{
    int64_t total = 0;
    if (s == NULL || s[0] != 'P' || s[1] == '\0')
        return -1;
    for (const char *p = s + 1; *p;) {
        char *end = NULL;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 36500)
            return -1;
        if (*end == 'D')
            total += (int64_t)v * 86400;
        else if (*end == 'M')
            total += (int64_t)v * 30 * 86400;
        else if (*end == 'Y')
            total += (int64_t)v * 365 * 86400;
        else
            return -1;
        p = end + 1;
    }
    return total;
}

static char *kv_policy_of(struct kv *kv, struct ck_arena *a, const char *vault, const char *name)
{
    struct ck_db_stmt *st = NULL;
    char *out = NULL;
    ck_db_lock(kv->db);
    if (ck_db_prepare(kv->db, "SELECT policy FROM rotation_policies WHERE vault = ?1 AND name = ?2", &st) == CK_OK) {
        ck_db_bind_text(st, 1, vault);
        ck_db_bind_text(st, 2, name);
        if (ck_db_step(st) == 1)
            out = ck_arena_strdup(a, ck_db_col_text(st, 0));
    }
    ck_db_stmt_free(st);
    ck_db_unlock(kv->db);
    return out;
}

/* Defined in kv_keys.c: stores a new version (no response written). */
int kv_keys_store_new(struct kv *kv, struct ck_arena *a, const struct kv_vault *v, const struct ck_pkey *key,
                      const char *name, const char *key_ops, const char *tags, int64_t exp, char **version);

int kv_rotate_key(struct kv *kv, struct ck_arena *a, const struct kv_vault *v, const char *name, char **version)
{
    struct kv_version cur;
    struct ck_pkey *key = NULL;
    int rc = kv_version_get(kv, a, v->name, name, NULL, 0, &cur);
    if (rc != CK_OK)
        return rc;
    rc = strcmp(cur.kty, "EC") == 0 ? ck_pkey_ec_generate(cur.crv, &key) : ck_pkey_rsa_generate(cur.key_size, &key);
    if (rc != CK_OK)
        return rc;
    char *pol = kv_policy_of(kv, a, v->name, cur.name);
    json_t *pj = pol ? ck_json_parse(pol, strlen(pol), NULL, 0) : NULL;
    int64_t life = kv_duration(pj ? ck_json_str(ck_json_obj(pj, "attributes"), "expiryTime") : NULL);
    json_decref(pj);
    rc = kv_keys_store_new(kv, a, v, key, cur.name, cur.key_ops, cur.tags, life > 0 ? ck_time_now() + life : 0, version);
    ck_pkey_free(key);
    return rc;
}

/* Returns 1 the first time (vault, name, version, kind) is seen. */
static int kv_notice_once(struct kv *kv, const char *vault, const char *name, const char *version, const char *kind)
{
    const char *q[4] = {vault, name, version, kind};
    ck_db_lock(kv->db);
    int rc = ck_db_run(kv->db, "INSERT INTO notices (vault, name, version, kind) VALUES (?1, ?2, ?3, ?4)", 4, q);
    ck_db_unlock(kv->db);
    return rc == CK_OK;
}

int kv_rotation_pass(struct kv *kv, json_t *report)
{
    struct ck_arena *a = ck_arena_new();
    struct ck_db_stmt *st = NULL;
    char *vaults[256], *names[256], *policies[256];
    int n = 0, rotated = 0;
    if (a == NULL)
        return 0;
    ck_db_lock(kv->db);
    if (ck_db_prepare(kv->db, "SELECT p.vault, p.name, p.policy FROM rotation_policies p JOIN keys k ON k.vault = p.vault"
                              " AND k.name = p.name JOIN vaults v ON v.name = p.vault WHERE k.deleted_at IS NULL AND"
                              " v.deleted_at IS NULL ORDER BY p.vault, p.name", &st) == CK_OK) {
        while (n < 256 && ck_db_step(st) == 1) {
            vaults[n] = ck_arena_strdup(a, ck_db_col_text(st, 0));
            names[n] = ck_arena_strdup(a, ck_db_col_text(st, 1));
            policies[n] = ck_arena_strdup(a, ck_db_col_text(st, 2));
            n++;
        }
    }
    ck_db_stmt_free(st);
    ck_db_unlock(kv->db);
    int64_t now = ck_time_now();
    for (int i = 0; i < n; i++) {
        struct kv_vault v;
        struct kv_version cur;
        json_t *pol = policies[i] ? ck_json_parse(policies[i], strlen(policies[i]), NULL, 0) : NULL;
        if (pol == NULL || kv_vault_get(kv, a, vaults[i], 0, &v) != CK_OK ||
            kv_version_get(kv, a, vaults[i], names[i], NULL, 0, &cur) != CK_OK) {
            json_decref(pol);
            continue;
        }
        int rotate = 0, notify = 0;
        size_t j;
        json_t *la;
        json_array_foreach(ck_json_arr(pol, "lifetimeActions"), j, la) {
            json_t *tr = ck_json_obj(la, "trigger");
            const char *type = ck_json_str(ck_json_obj(la, "action"), "type");
            int64_t tac = kv_duration(ck_json_str(tr, "timeAfterCreate"));
            int64_t tbe = kv_duration(ck_json_str(tr, "timeBeforeExpiry"));
            int due = (tac > 0 && now >= cur.created + tac) || (tbe > 0 && cur.exp != 0 && now >= cur.exp - tbe);
            if (due && type != NULL && strcasecmp(type, "Rotate") == 0)
                rotate = 1;
            else if (due && type != NULL && strcasecmp(type, "Notify") == 0)
                notify = 1;
        }
        json_decref(pol);
        if (notify && kv_notice_once(kv, v.name, cur.name, cur.version, "near-expiry")) {
            kv_event_emit(kv, &v, "Microsoft.KeyVault.KeyNearExpiry", cur.name, cur.version, NULL);
            if (report != NULL)
                json_array_append_new(ck_json_arr(report, "notified"), json_string(cur.name));
        }
        if (rotate) {
            char *version = NULL;
            if (kv_rotate_key(kv, a, &v, cur.name, &version) == CK_OK) {
                rotated++;
                ck_log(CK_LOG_INFO, "vault %s: key %s rotated by its policy to version %s", v.name, cur.name, version);
                if (report != NULL)
                    json_array_append_new(ck_json_arr(report, "rotated"),
                                          json_pack("{s:s,s:s,s:s}", "vault", v.name, "name", cur.name, "version", version));
            } else {
                ck_log(CK_LOG_ERROR, "vault %s: key %s is due for rotation but could not be rotated", v.name, cur.name);
            }
        }
    }
    ck_arena_free(a);
    return rotated;
}

struct kv_sched_arg {
    struct kv *kv;
    int interval_ms;
};

static void *kv_sched_main(void *p)
{
    struct kv_sched_arg *arg = p;
    struct kv *kv = arg->kv;
    int interval = arg->interval_ms;
    ck_free(arg);
    pthread_mutex_lock(&kv->sched_lock);
    while (!kv->sched_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += interval / 1000;
        ts.tv_nsec += (long)(interval % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&kv->sched_cond, &kv->sched_lock, &ts);
        if (kv->sched_stop)
            break;
        pthread_mutex_unlock(&kv->sched_lock);
        (void)kv_rotation_pass(kv, NULL);
        pthread_mutex_lock(&kv->sched_lock);
    }
    pthread_mutex_unlock(&kv->sched_lock);
    return NULL;
}

int kv_sched_start(struct kv *kv, int interval_ms)
{
    struct kv_sched_arg *arg = ck_calloc(1, sizeof(*arg));
    if (arg == NULL)
        return CK_E_NOMEM;
    arg->kv = kv;
    arg->interval_ms = interval_ms > 0 ? interval_ms : 60000;
    if (pthread_create(&kv->sched, NULL, kv_sched_main, arg) != 0) {
        ck_free(arg);
        return CK_E_INTERNAL;
    }
    kv->sched_running = 1;
    return CK_OK;
}

void kv_sched_stop(struct kv *kv)
{
    if (!kv->sched_running)
        return;
    pthread_mutex_lock(&kv->sched_lock);
    kv->sched_stop = 1;
    pthread_cond_broadcast(&kv->sched_cond);
    pthread_mutex_unlock(&kv->sched_lock);
    pthread_join(kv->sched, NULL);
    kv->sched_running = 0;
}

void kv_operator(struct kv *kv, struct ck_req *req, struct ck_resp *resp)
{
    json_t *e;
    if (!ck_shared_key_ok(ck_req_header(req, "Authorization"), "Operator", kv->operator_key)) {
        e = json_pack("{s:{s:s,s:s}}", "error", "code", "AuthenticationFailed", "message",
                      "The operator credential is missing or wrong.");
        ck_resp_json(resp, 401, e);
        json_decref(e);
        return;
    }
    ck_req_set_principal(req, "operator");
    if (strcmp(ck_req_path(req), "/operator/vault/fault") == 0 && strcmp(ck_req_method(req), "POST") == 0) {
        kv_fault_operator(kv, req, resp);
        return;
    }
    if (strcmp(ck_req_path(req), "/operator/vault/tick") != 0 || strcmp(ck_req_method(req), "POST") != 0) {
        e = json_pack("{s:{s:s,s:s}}", "error", "code", "NotFound", "message", "No operator operation here.");
        ck_resp_json(resp, 404, e);
        json_decref(e);
        return;
    }
    size_t len;
    const char *text = ck_req_body(req, &len);
    json_t *b = len ? ck_json_parse_object(text, len, NULL, 0) : json_object();
    json_t *adv = b ? json_object_get(b, "advanceSeconds") : NULL;
    if (b == NULL || (adv != NULL && (!json_is_integer(adv) || json_integer_value(adv) < 0))) {
        json_decref(b);
        e = json_pack("{s:{s:s,s:s}}", "error", "code", "InvalidRequestContent", "message",
                      "The body must be {\"advanceSeconds\": N} with N >= 0.");
        ck_resp_json(resp, 400, e);
        json_decref(e);
        return;
    }
    if (adv != NULL && json_integer_value(adv) > 0) {
        if (!kv->cfg.test_clock) {
            json_decref(b);
            e = json_pack("{s:{s:s,s:s}}", "error", "code", "Forbidden", "message",
                          "The clock can be moved only when crosskeyd runs with --test-clock.");
            ck_resp_json(resp, 403, e);
            json_decref(e);
            return;
        }
        ck_time_set_offset(ck_time_now() - (int64_t)time(NULL) + json_integer_value(adv));
    }
    json_decref(b);
    json_t *report = json_pack("{s:[],s:[]}", "rotated", "notified");
    (void)kv_rotation_pass(kv, report);
    json_object_set_new(report, "now", json_integer(ck_time_now()));
    ck_resp_json(resp, 200, report);
    json_decref(report);
}
