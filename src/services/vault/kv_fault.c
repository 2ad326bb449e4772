/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fault injection for tests (crosskeyd --test-faults). The operator sets at most one fault per
 * vault with POST /operator/vault/fault, and the vault's data plane shows it to every client before
 * anything else (the challenge, /events and authentication included): "down" stops the vault's own
 * origin, so that connections are refused, and any later mode starts it again on the same port (a
 * vault restart); under a DNS suffix, where vaults share one origin, a vault that is down answers
 * 503 instead. "delay" makes each request wait delayMs before it is handled; "error" answers each
 * request with an injected 5xx; "none" clears the fault. Faults live in memory only, so a restart
 * clears them. A request waiting out a delay stops waiting as soon as its vault's fault changes or
 * the service stops, so that a long delay never holds up a vault restart or a shutdown.
 */
#include "services/vault/kv_int.h"
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define KV_FAULT_DELAY_MAX 60000 /* milliseconds */

enum kv_fault_mode { KV_FAULT_NONE, KV_FAULT_DOWN, KV_FAULT_DELAY, KV_FAULT_ERROR };

static const char *const kv_fault_modes[] = {"none", "down", "delay", "error"};

/* One vault's fault. serial changes with every change of the fault, so that a delayed request can
 * tell that the delay it waits out is no longer current. */
struct kv_fault {
    struct kv_fault *next;
    char vault[32];
    enum kv_fault_mode mode;
    int delay_ms, status;
    unsigned long serial;
};

void kv_fault_init(struct kv *kv)
{
    pthread_condattr_t ca;
    pthread_mutex_init(&kv->fault_lock, NULL);
    pthread_mutex_init(&kv->fault_op_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&kv->fault_cond, &ca);
    pthread_condattr_destroy(&ca);
}

void kv_fault_stop(struct kv *kv)
{
    pthread_mutex_lock(&kv->fault_lock);
    kv->fault_stop = 1;
    pthread_cond_broadcast(&kv->fault_cond);
    pthread_mutex_unlock(&kv->fault_lock);
}

void kv_fault_cleanup(struct kv *kv)
{
    while (kv->faults != NULL) {
        struct kv_fault *f = kv->faults;
        kv->faults = f->next;
        ck_free(f);
    }
    pthread_cond_destroy(&kv->fault_cond);
    pthread_mutex_destroy(&kv->fault_op_lock);
    pthread_mutex_destroy(&kv->fault_lock);
}

/* The fault of vault, or NULL. Called with fault_lock held. */
static struct kv_fault *kv_fault_find(struct kv *kv, const char *vault)
{
    for (struct kv_fault *f = kv->faults; f != NULL; f = f->next)
        if (strcasecmp(f->vault, vault) == 0)
            return f;
    return NULL;
}

/* Copies the fault of vault into *out (mode none when there is none). Called with fault_lock held. */
static void kv_fault_read(struct kv *kv, const char *vault, struct kv_fault *out)
{
    struct kv_fault *f = kv_fault_find(kv, vault);
    if (f != NULL)
        *out = *f;
    else
        memset(out, 0, sizeof(*out));
}

int kv_fault_gate(struct kv *kv, const char *vault, struct ck_resp *resp)
{
    struct kv_fault f;
    if (atomic_load(&kv->fault_count) == 0)
        return 0;
    pthread_mutex_lock(&kv->fault_lock);
    kv_fault_read(kv, vault, &f);
    if (f.mode == KV_FAULT_DELAY) {
        struct timespec until = kv_deadline((long)f.delay_ms * 1000);
        unsigned long serial = f.serial;
        while (!kv->fault_stop && f.mode == KV_FAULT_DELAY && f.serial == serial &&
               pthread_cond_timedwait(&kv->fault_cond, &kv->fault_lock, &until) != ETIMEDOUT)
            kv_fault_read(kv, vault, &f);
        /* A delay that ran out (or was cut short by the service stopping) lets the request through;
         * a fault that changed meanwhile applies as it is now, without a second delay. */
        if (f.serial == serial || f.mode == KV_FAULT_DELAY)
            f.mode = KV_FAULT_NONE;
    }
    pthread_mutex_unlock(&kv->fault_lock);
    if (f.mode == KV_FAULT_ERROR) {
        kv_error(resp, f.status, "InternalServerError", NULL, "Injected fault");
        return 1;
    }
    if (f.mode == KV_FAULT_DOWN) {
        /* Under a DNS suffix the origin is shared and stays up; with an origin of its own, only
         * requests already in flight when it stopped get here. */
        kv_error(resp, 503, "ServiceUnavailable", NULL, "The vault is down (injected fault).");
        return 1;
    }
    return 0;
}

/* Sets the fault of vault (mode none removes it) and wakes the requests waiting out a delay. */
static int kv_fault_set(struct kv *kv, const char *vault, enum kv_fault_mode mode, int delay_ms, int status)
{
    int rc = CK_OK;
    pthread_mutex_lock(&kv->fault_lock);
    struct kv_fault **pp = &kv->faults;
    while (*pp != NULL && strcasecmp((*pp)->vault, vault) != 0)
        pp = &(*pp)->next;
    if (mode == KV_FAULT_NONE) {
        if (*pp != NULL) {
            struct kv_fault *gone = *pp;
            *pp = gone->next;
            ck_free(gone);
            atomic_fetch_sub(&kv->fault_count, 1);
        }
    } else {
        if (*pp == NULL && (*pp = ck_calloc(1, sizeof(**pp))) != NULL) {
            snprintf((*pp)->vault, sizeof((*pp)->vault), "%s", vault);
            atomic_fetch_add(&kv->fault_count, 1);
        }
        if (*pp != NULL) {
            (*pp)->mode = mode;
            (*pp)->delay_ms = delay_ms;
            (*pp)->status = status;
            (*pp)->serial = ++kv->fault_serial;
        } else {
            rc = CK_E_NOMEM;
        }
    }
    pthread_cond_broadcast(&kv->fault_cond);
    pthread_mutex_unlock(&kv->fault_lock);
    return rc;
}

void kv_fault_forget(struct kv *kv, const char *vault)
{
    (void)kv_fault_set(kv, vault, KV_FAULT_NONE, 0, 0);
}

/* Reads an optional integer member of b in [lo, hi] into *out. Returns 0, or -1 when it is there
 * but not such an integer. */
static int kv_fault_int(const json_t *b, const char *key, int lo, int hi, int *out)
{
    const json_t *v = json_object_get(b, key);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return -1;
    *out = (int)json_integer_value(v);
    return 0;
}

/* Parses {"vault","mode","delayMs","status"}. Returns 1, or writes a 400 and returns 0. */
static int kv_fault_parse(struct ck_req *req, struct ck_resp *resp, char vault[32], enum kv_fault_mode *mode,
                          int *delay_ms, int *status)
{
    size_t len;
    const char *text = ck_req_body(req, &len), *member;
    json_t *b = len ? ck_json_parse_object(text, len, NULL, 0) : NULL, *v;
    const char *name = ck_json_str(b, "vault"), *m = ck_json_str(b, "mode");
    const char *why = NULL;
    int delay_given = json_object_get(b, "delayMs") != NULL, known = 0;

    *mode = KV_FAULT_NONE;
    *delay_ms = 0;
    *status = 500;
    json_object_foreach(b, member, v) {
        if (strcmp(member, "vault") != 0 && strcmp(member, "mode") != 0 && strcmp(member, "delayMs") != 0 &&
            strcmp(member, "status") != 0)
            why = "Unknown member in the body: only vault, mode, delayMs and status are allowed.";
    }
    if (b == NULL)
        why = "The body must be a JSON object {\"vault\",\"mode\",\"delayMs\",\"status\"}.";
    else if (name == NULL || name[0] == '\0' || strlen(name) >= 32)
        why = "'vault' must be the name of a vault.";
    else if (m == NULL)
        why = "'mode' must be one of none, down, delay, error.";
    else if (kv_fault_int(b, "delayMs", 0, KV_FAULT_DELAY_MAX, delay_ms) != 0)
        why = "'delayMs' must be an integer from 0 to 60000.";
    else if (kv_fault_int(b, "status", 500, 599, status) != 0)
        why = "'status' must be an integer from 500 to 599.";
    for (int i = 0; why == NULL && !known && i <= KV_FAULT_ERROR; i++) {
        known = strcmp(m, kv_fault_modes[i]) == 0;
        *mode = (enum kv_fault_mode)i;
    }
    if (why == NULL && !known)
        why = "'mode' must be one of none, down, delay, error.";
    if (why == NULL && *mode == KV_FAULT_DELAY && !delay_given)
        why = "Mode delay needs 'delayMs'.";
    if (why == NULL)
        snprintf(vault, 32, "%s", name);
    json_decref(b);
    if (why != NULL) {
        kv_arm_error(resp, 400, "InvalidRequestContent", "%s", why);
        return 0;
    }
    return 1;
}

void kv_fault_operator(struct kv *kv, struct ck_req *req, struct ck_resp *resp)
{
    struct kv_vault v;
    char name[32];
    enum kv_fault_mode mode;
    int delay_ms, status, rc = CK_OK;

    if (!kv->cfg.test_faults) {
        kv_arm_error(resp, 403, "Forbidden", "Faults can be injected only when crosskeyd runs with --test-faults.");
        return;
    }
    if (!kv_fault_parse(req, resp, name, &mode, &delay_ms, &status))
        return;
    if (kv_vault_get(kv, ck_req_arena(req), name, 0, &v) != CK_OK) {
        kv_arm_error(resp, 404, "ResourceNotFound", "The vault '%s' does not exist.", name);
        return;
    }
    /* One change at a time: an origin is stopped or started again only by the change that
     * decided it. The fault is set before the origin stops, so that delayed requests stop waiting
     * and the stop does not wait for them; it is cleared only once the origin runs again. */
    pthread_mutex_lock(&kv->fault_op_lock);
    if (mode == KV_FAULT_DOWN) {
        rc = kv_fault_set(kv, v.name, mode, 0, 0);
        if (rc == CK_OK) {
            kv_events_kick(kv); /* a long poll in flight would hold the stop for its whole timeout */
            kv_origin_stop(kv, v.name);
        }
    } else {
        rc = kv_origin_resume(kv, v.name, v.port);
        if (rc == CK_OK)
            rc = kv_fault_set(kv, v.name, mode, delay_ms, status);
    }
    pthread_mutex_unlock(&kv->fault_op_lock);
    if (rc == CK_E_IO) {
        kv_arm_error(resp, 500, "InternalServerError", "The vault's origin could not start again on port %u; the "
                     "vault stays down.", v.port);
        return;
    }
    if (rc != CK_OK) {
        kv_arm_error(resp, 500, "InternalServerError", "The fault could not be applied.");
        return;
    }
    ck_log(CK_LOG_INFO, "vault %s: injected fault %s", v.name, kv_fault_modes[mode]);
    json_t *o = json_pack("{s:s,s:s}", "vault", v.name, "mode", kv_fault_modes[mode]);
    if (o != NULL && mode == KV_FAULT_DELAY)
        json_object_set_new(o, "delayMs", json_integer(delay_ms));
    if (o != NULL && mode == KV_FAULT_ERROR)
        json_object_set_new(o, "status", json_integer(status));
    if (o != NULL && (mode == KV_FAULT_DOWN || mode == KV_FAULT_NONE))
        json_object_set_new(o, "port", json_integer(v.port));
    ck_resp_json(resp, 200, o);
    json_decref(o);
}
