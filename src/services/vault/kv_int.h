/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_SERVICES_KV_INT_H
#define CK_SERVICES_KV_INT_H

/* Key vault service internals shared by its source files. */
#include "authz/checkaccess.h"
#include "authz/jwt.h"
#include "core/secret.h"
#include "crypto/crypto.h"
#include "db/db.h"
#include "http/server/httpd.h"
#include "services/vault/vault.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define KV_DEFAULT_RESOURCE "https://vault.azure.net"
#define KV_APP_ID "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"
#define KV_BODY_LIMIT (1u << 20)
#define KV_MAX_TAGS 15
#define KV_KEYCACHE_SIZE 64
#define KV_KEYCACHE_IDLE 300
#ifndef KV_AUDIT_GATHER_US
#define KV_AUDIT_GATHER_US 1000 /* the longest a group-commit writer waits for records in flight */
#endif
#define KV_AUDIT_BATCH_MAX 64   /* a writer that has this many records queued stops gathering */
#define KV_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define KV_CORRELATION_MAX 64 /* the longest x-ms-client-request-id an audit record carries */

struct kv_audit_item;
struct kv_fault;

/* An opened private key in the cache (kv_keycache.c). */
struct kv_cached {
    char id[200]; /* "vault/name/version", lower case */
    struct ck_pkey *key;
    int64_t used;
};

/* One vault's HTTPS origin. */
struct kv_origin {
    struct kv_origin *next;
    struct kv *kv;
    char name[32];
    unsigned port;
    struct ck_httpd *httpd;
};

struct kv {
    struct kv_config cfg; /* strings below are owned copies */
    char *data_dir, *authority, *arm_endpoint, *ca_file, *listen_addr, *public_host, *tls_cert, *tls_key;
    char *resource;
    char *dns_suffix;            /* NULL: one origin per vault */
    struct ck_httpd *shared;     /* the shared origin when dns_suffix is set */
    struct ck_secret *master_key;
    struct ck_secret *audit_key; /* HMAC key for audit chain heads, derived from the master key */
    struct ck_secret *rp_key;
    struct ck_db *db;
    struct ck_db *audit_db; /* the same store, a second connection: audit appends only */
    struct ck_verifier *verifier;
    pthread_mutex_t lock; /* guards origins */
    struct kv_origin *origins;
    struct ck_secret *operator_key;
    /* Key-state events: waiters on the feed sleep on events_cond. */
    pthread_mutex_t events_lock;
    pthread_cond_t events_cond;
    int64_t events_last;
    int events_closed; /* draining: long polls answer at once */
    unsigned long events_kick; /* bumped to end the long polls in flight (a vault going down) */
    /* The rotation scheduler. */
    pthread_t sched;
    int sched_running, sched_stop;
    pthread_mutex_t sched_lock;
    pthread_cond_t sched_cond;
    /* Audit group commit (kv_audit.c): queued records, whether a writer is at work or gathering,
     * and how many requests are in a cryptographic operation (they will append soon). */
    pthread_mutex_t audit_lock;
    pthread_cond_t audit_gather_cond; /* CLOCK_MONOTONIC; the gathering writer waits on it */
    struct kv_audit_item *audit_head, **audit_tail;
    int audit_queued, audit_writing, audit_gathering;
    _Atomic int audit_busy;
    /* The check-access client (authz/checkaccess.h): its decisions are forgotten on every
     * role-assignment notification from ARM (kv_events.c), and kept 5 s at most. */
    struct ck_access *access;
    /* Opened private keys (kv_keycache.c). */
    pthread_mutex_t keycache_lock;
    struct kv_cached *keycache;
    /* Injected faults (kv_fault.c, --test-faults), one per vault at most. fault_lock guards the
     * list, fault_serial and fault_stop; fault_count lets requests skip the lock when there are
     * none; fault_cond (CLOCK_MONOTONIC) wakes delayed requests when a fault changes or the
     * service stops. fault_op_lock serialises the operator's changes (an origin stop or restart). */
    pthread_mutex_t fault_lock, fault_op_lock;
    pthread_cond_t fault_cond;
    struct kv_fault *faults;
    _Atomic int fault_count;
    unsigned long fault_serial;
    int fault_stop;
};

/* A vault row; strings live in the caller's arena. */
struct kv_vault {
    char *name, *arm_id, *sub, *rg, *location, *tags, *tenant_id, *sku;
    int retention_days, purge_protection, rbac;
    unsigned port;
    int64_t created_at, updated_at, deleted_at;
};

/* A key version row. */
struct kv_version {
    char *name, *version, *kty, *crv, *key_ops, *tags, *public_jwk;
    int key_size, enabled;
    int64_t nbf, exp, created, updated, seq; /* nbf, exp: 0 when unset */
    uint8_t *sealed;
    size_t sealed_len;
};

/* The caller of a data-plane request, after authentication. */
struct kv_caller {
    struct ck_claims claims;
};

/* ---- kv_store.c ---- */
int kv_store_open(struct kv *kv);
/* Loads a vault by name (case-insensitive); include_deleted selects soft-deleted ones too. */
int kv_vault_get(struct kv *kv, struct ck_arena *a, const char *name, int include_deleted, struct kv_vault *out);
int kv_vault_by_port(struct kv *kv, struct ck_arena *a, unsigned port, struct kv_vault *out);
/* Key versions: latest (version NULL or "") or one version of a key that is not deleted. */
int kv_version_get(struct kv *kv, struct ck_arena *a, const char *vault, const char *name, const char *version,
                   int deleted, struct kv_version *out);
const char *kv_recovery_level(const struct kv_vault *v);

/* ---- kv_rp.c ---- */
void kv_handle_rp(struct kv *kv, struct ck_req *req, struct ck_resp *resp);
/* Writes an ARM error: {"error":{"code","message"}}. */
void kv_arm_error(struct ck_resp *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- kv_origin.c ---- */
/* Starts the origin of one vault, choosing a port when it has none; updates the stored port. */
int kv_origin_start(struct kv *kv, const char *name, unsigned *port);
void kv_origin_stop(struct kv *kv, const char *name);
/* Whether vault name has its own origin running. */
int kv_origin_running(struct kv *kv, const char *name);
/* Starts the origin of vault name again on exactly port (no other); CK_OK when it runs already.
 * Returns CK_E_IO when the port cannot be bound. */
int kv_origin_resume(struct kv *kv, const char *name, unsigned port) CK_MUST_CHECK;
/* Writes a Key Vault error: {"error":{"code","message","innererror":{"code"}}}. */
void kv_error(struct ck_resp *resp, int status, const char *code, const char *inner, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The origin clients use for vault v ("https://localhost:8501" or "https://v.suffix:8500"), in arena a. */
char *kv_vault_origin(struct kv *kv, struct ck_arena *a, const struct kv_vault *v);

/* ---- kv_keys.c ---- */
/* Serves one authenticated data-plane request of vault v. */
void kv_handle_keys(struct kv *kv, const struct kv_vault *v, const struct kv_caller *c, const char *origin,
                    struct ck_req *req, struct ck_resp *resp, const char **operation, char **kid);

/* ---- kv_events.c ---- */
/* Records a key-state event for vault v (key name and version may be NULL) and wakes the feed. */
void kv_event_emit(struct kv *kv, const struct kv_vault *v, const char *type, const char *key, const char *version,
                   const json_t *data);
/* GET /events: the cursor feed (long-poll) for callers who may read the vault's (or one key's) keys. */
/* Ends every long poll of the feed and makes new ones answer at once (drain). */
void kv_events_close(struct kv *kv);
/* Ends the long polls in flight now (they answer what they have); later ones wait as usual. */
void kv_events_kick(struct kv *kv);
void kv_events_feed(struct kv *kv, const struct kv_vault *v, const char *origin, struct ck_req *req, struct ck_resp *resp,
                    const char *key);
/* POST /rp/vault/notifications from ARM: role-assignment changes at vault or key scope. */
void kv_events_notification(struct kv *kv, struct ck_req *req, struct ck_resp *resp);

/* ---- kv_rotation.c ---- */
/* Rotates key name of vault v (the policy's expiryTime sets the new version's expiry). Writes the new
 * version into *version (arena a). Returns CK_OK, CK_E_NOT_FOUND or another error. */
int kv_rotate_key(struct kv *kv, struct ck_arena *a, const struct kv_vault *v, const char *name, char **version);
/* Parses an ISO 8601 duration of days, months or years (P90D, P1Y6M) into seconds; -1 if invalid. */
int64_t kv_duration(const char *s);
/* One pass of the rotation policies: rotates what is due, emits near-expiry notices. Returns the
 * number of keys rotated. */
int kv_rotation_pass(struct kv *kv, json_t *report);
int kv_sched_start(struct kv *kv, int interval_ms);
void kv_sched_stop(struct kv *kv);
/* The operator API under /operator/vault/ (operator credential): POST tick {"advanceSeconds":N}
 * moves the test clock (only with a test clock) and runs a rotation pass; POST fault goes to
 * kv_fault_operator. */
void kv_operator(struct kv *kv, struct ck_req *req, struct ck_resp *resp);

/* ---- kv_keycache.c ---- */
/* A new reference to the opened key of a version, or NULL when not cached. */
struct ck_pkey *kv_keycache_get(struct kv *kv, const char *vault, const char *name, const char *version);
void kv_keycache_put(struct kv *kv, const char *vault, const char *name, const char *version, const struct ck_pkey *key);
/* Drops every cached version of a key (name) or of a whole vault (name NULL). */
void kv_keycache_drop(struct kv *kv, const char *vault, const char *name);
void kv_keycache_clear(struct kv *kv);

/* ---- kv_fault.c ---- */
void kv_fault_init(struct kv *kv);
/* Ends every injected delay at once and lets no new one start (shutdown). */
void kv_fault_stop(struct kv *kv);
/* Frees the faults and their locks (after kv_fault_stop and once no request runs). */
void kv_fault_cleanup(struct kv *kv);
/* Applies vault's injected fault to a data-plane request before anything else: waits out a delay,
 * or answers (an injected error, or 503 for a vault that is down) and returns 1. Returns 0 when
 * the request is to be served. */
int kv_fault_gate(struct kv *kv, const char *vault, struct ck_resp *resp);
/* Forgets the fault of a deleted vault. */
void kv_fault_forget(struct kv *kv, const char *vault);
/* POST /operator/vault/fault (the operator credential already checked). */
void kv_fault_operator(struct kv *kv, struct ck_req *req, struct ck_resp *resp);

/* ---- kv_audit.c ---- */
/* Absolute CLOCK_MONOTONIC time us microseconds from now. */
struct timespec kv_deadline(long us);
/* The correlation id an audit record carries for the x-ms-client-request-id header h: h itself
 * when it is 1 to KV_CORRELATION_MAX characters of [A-Za-z0-9-_.:{}], else NULL. */
const char *kv_audit_correlation(const char *h);
/* Counts requests in a cryptographic operation (+1 on entry, -1 on exit): the audit writer waits
 * briefly for them so that they share its flush (kv_audit.c). */
void kv_audit_busy(struct kv *kv, int delta);
/* Appends one record to the vault's hash-chained audit log; returns once it is on disk. */
/* correlation_id (NULL: none) is recorded as "correlationId"; the caller validates it
 * (kv_audit_correlation). */
int kv_audit_append(struct kv *kv, const char *vault, const struct kv_caller *c, const char *operation,
                    const char *kid, int result, const char *client_address, const char *request_id,
                    const char *correlation_id);
/* The canonical text hashed for a record (docs/vault.md). Caller frees. */
char *kv_audit_canonical(const json_t *record);
/* Writes the audit records and the chain check for the RP routes. */
void kv_audit_list(struct kv *kv, struct ck_req *req, struct ck_resp *resp, const char *vault);
void kv_audit_verify(struct kv *kv, struct ck_req *req, struct ck_resp *resp, const char *vault);

#endif
