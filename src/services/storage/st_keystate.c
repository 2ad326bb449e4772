/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key state of each account (DESIGN.md section 4, docs/cmk.md): for an account under a
 * customer key, its AEK lives in locked memory only while a lease runs, and the lease is renewed
 * by running the whole chain again (st_kek.c) in the background before it ends. The vault saying
 * no wipes the AEK at once (denied); the vault not answering is ridden through on the cached AEK up
 * to a bound (unreachable). A keeper thread schedules re-validations, follows new key versions for
 * accounts without a pinned version (events at once, otherwise on a poll), and keeps one long-poll
 * subscription to the vault's key events per (vault, key, identity chain) in use.
 *
 * Accounts under the root key have an entry too (cmk 0): their AEK comes from st_account.c.
 * Entries are never freed while the service runs (an account deleted is marked, its AEK wiped), so
 * a pointer to one stays valid across an unlock.
 */
#include "services/storage/st_int.h"
#include "services/storage/st_kek.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "http/client/httpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ST_KS_MAX_CHECKS 16
#define ST_KS_COLD_WAIT_MS 10000
#define ST_KS_EVENT_WAIT_S 20
#define ST_KS_UNREACHABLE_RETRY_MS 2000
#define ST_KS_DENIED_RETRY_MAX_MS 30000 /* a denied account tries again at least this often */
#define ST_KS_EVENT_BACKOFF_MAX_MS 10000

enum st_kstate { ST_KS_UNKNOWN = 0, ST_KS_USABLE, ST_KS_DENIED, ST_KS_UNREACHABLE };

/* An account's key settings, as stored. */
struct st_kset {
    int cmk;
    char *vault_uri, *key_name, *key_version, *identity, *client_id, *kek_kid;
    struct ck_bytes wrapped;
};

struct st_ks {
    struct st_ks *next;
    char *name;
    int deleted;
    struct st_kset set;
    uint64_t gen;            /* bumped on every change of settings: older results are dropped */
    enum st_kstate state;
    struct ck_secret *aek;
    int64_t since;           /* epoch s of the last change of state */
    int64_t lease_until;     /* ck_mono_ms */
    int64_t lease_epoch;     /* the same instant, epoch seconds (for display) */
    int64_t unreachable_since, unreachable_epoch;
    int64_t next_check, next_poll; /* ck_mono_ms */
    int inflight, queued, want_check, want_follow;
    char code[48], reason[512];
};

struct st_sub {
    struct st_sub *next;
    char *vault_uri, *key_name, *identity, *client_id;
    pthread_t th;
    volatile int stop;
    int used;
    struct st *st;
};

struct st_lockname {
    struct st_lockname *next;
    char *name;
};

/* ---- settings ---- */

static void st_kset_free(struct st_kset *k)
{
    ck_free(k->vault_uri);
    ck_free(k->key_name);
    ck_free(k->key_version);
    ck_free(k->identity);
    ck_free(k->client_id);
    ck_free(k->kek_kid);
    ck_free(k->wrapped.ptr);
    memset(k, 0, sizeof(*k));
}

static char *st_dup_or_null(const char *s)
{
    return s != NULL && *s != '\0' ? ck_strdup(s) : NULL;
}

/* Loads the key settings of name from its row. */
static int st_kset_load(struct st *st, const char *name, struct st_kset *k)
{
    struct ck_arena *a = ck_arena_new();
    struct st_account_row r;
    json_t *enc = NULL, *idj = NULL;
    int rc;
    memset(k, 0, sizeof(*k));
    if (a == NULL)
        return CK_E_NOMEM;
    if ((rc = st_account_row_get(st, a, name, &r)) != CK_OK)
        goto out;
    if (r.aek_kek == NULL)
        goto out; /* under the root key */
    enc = ck_json_parse(r.encryption, strlen(r.encryption), NULL, 0);
    idj = ck_json_parse(r.identity, strlen(r.identity), NULL, 0);
    json_t *kvp = ck_json_obj(enc, "keyvaultproperties"), *eid = ck_json_obj(enc, "identity");
    const char *uri = ck_json_str(kvp, "keyvaulturi"), *ua = ck_json_str(eid, "userAssignedIdentity");
    if (uri == NULL || ck_json_str(kvp, "keyname") == NULL) {
        ck_log(CK_LOG_ERROR, "storage: account %s is under a customer key but its settings name none", name);
        rc = CK_E_INTERNAL;
        goto out;
    }
    k->cmk = 1;
    k->vault_uri = ck_strdup(uri);
    k->key_name = ck_strdup(ck_json_str(kvp, "keyname"));
    k->key_version = ck_strdup(ck_json_str(kvp, "keyversion") ? ck_json_str(kvp, "keyversion") : "");
    k->identity = ck_strdup(ua != NULL ? ua : r.arm_id);
    k->client_id = st_dup_or_null(ck_json_str(eid, "federatedIdentityClientId"));
    k->kek_kid = ck_strdup(r.aek_kek);
    if (k->vault_uri == NULL || k->key_name == NULL || k->key_version == NULL || k->identity == NULL ||
        k->kek_kid == NULL) {
        rc = CK_E_NOMEM;
        goto out;
    }
    size_t ul = strlen(k->vault_uri);
    while (ul > 0 && k->vault_uri[ul - 1] == '/')
        k->vault_uri[--ul] = '\0';
    char *kek = NULL;
    rc = st_account_wrapping(st, name, &k->wrapped, &kek);
    ck_free(kek);
out:
    json_decref(enc);
    json_decref(idj);
    ck_arena_free(a);
    if (rc != CK_OK)
        st_kset_free(k);
    return rc;
}

static void st_ref_of(const struct st_kset *k, struct st_kek_ref *ref, const char *version)
{
    ref->vault_uri = k->vault_uri;
    ref->key_name = k->key_name;
    ref->key_version = version;
    ref->identity = k->identity;
    ref->client_id = k->client_id;
}

static int st_kset_copy(const struct st_kset *in, struct st_kset *out)
{
    memset(out, 0, sizeof(*out));
    out->cmk = in->cmk;
    if (!in->cmk)
        return CK_OK;
    out->vault_uri = ck_strdup(in->vault_uri);
    out->key_name = ck_strdup(in->key_name);
    out->key_version = ck_strdup(in->key_version);
    out->identity = ck_strdup(in->identity);
    out->client_id = in->client_id ? ck_strdup(in->client_id) : NULL;
    out->kek_kid = ck_strdup(in->kek_kid);
    out->wrapped.ptr = ck_malloc(in->wrapped.len ? in->wrapped.len : 1);
    out->wrapped.len = in->wrapped.len;
    if (out->vault_uri == NULL || out->key_name == NULL || out->key_version == NULL || out->identity == NULL ||
        (in->client_id && out->client_id == NULL) || out->kek_kid == NULL || out->wrapped.ptr == NULL) {
        st_kset_free(out);
        return CK_E_NOMEM;
    }
    memcpy(out->wrapped.ptr, in->wrapped.ptr, in->wrapped.len);
    return CK_OK;
}

/* ---- entries ---- */

static struct st_ks *st_ks_find_locked(struct st *st, const char *name)
{
    for (struct st_ks *k = st->kss; k != NULL; k = k->next)
        if (!k->deleted && strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

static void st_ks_wipe(struct st_ks *k)
{
    ck_secret_free(k->aek);
    k->aek = NULL;
}

static int64_t st_ms(unsigned s, unsigned def)
{
    return (int64_t)(s ? s : def) * 1000;
}

#define ST_REVALIDATE_MS(st) st_ms((st)->cfg.cmk_revalidate_s, 300)
#define ST_RIDE_MS(st) st_ms((st)->cfg.cmk_ride_through_s, 900)
#define ST_POLL_MS(st) st_ms((st)->cfg.cmk_version_poll_s, 3600)

/* Adds an entry with settings set (taken over). Caller holds ks_lock. */
static struct st_ks *st_ks_add_locked(struct st *st, const char *name, struct st_kset *set)
{
    struct st_ks *k = ck_calloc(1, sizeof(*k));
    if (k == NULL || (k->name = ck_strdup(name)) == NULL) {
        ck_free(k);
        return NULL;
    }
    k->set = *set;
    memset(set, 0, sizeof(*set));
    k->since = ck_time_now();
    k->next_poll = ck_mono_ms() + ST_POLL_MS(st);
    k->next = st->kss;
    st->kss = k;
    pthread_cond_broadcast(&st->ks_cond);
    return k;
}

/* The entry of name, loading it from the store when it has none. Caller holds ks_lock (dropped
 * and taken again while loading). */
static struct st_ks *st_ks_get_locked(struct st *st, const char *name, int *rc)
{
    struct st_ks *k = st_ks_find_locked(st, name);
    struct st_kset set;
    *rc = CK_OK;
    if (k != NULL)
        return k;
    pthread_mutex_unlock(&st->ks_lock);
    *rc = st_kset_load(st, name, &set);
    pthread_mutex_lock(&st->ks_lock);
    if (*rc != CK_OK)
        return NULL;
    if ((k = st_ks_find_locked(st, name)) != NULL) {
        st_kset_free(&set); /* another thread loaded it meanwhile */
        return k;
    }
    if ((k = st_ks_add_locked(st, name, &set)) == NULL) {
        st_kset_free(&set);
        *rc = CK_E_NOMEM;
    }
    return k;
}

static const char *st_state_name(const struct st_ks *k)
{
    switch (k->state) {
    /* Renewals start before the lease ends: re-validating is when it ran out first. */
    case ST_KS_USABLE: return k->inflight && ck_mono_ms() > k->lease_until ? "Revalidating" : "Usable";
    case ST_KS_DENIED: return "Denied";
    case ST_KS_UNREACHABLE: return "Unreachable";
    default: return "Revalidating";
    }
}

/*
 * Applies the result of an unwrap (rc, aek, f) made under generation gen. Caller holds ks_lock.
 * Takes aek over.
 */
static void st_ks_apply_locked(struct st *st, struct st_ks *k, uint64_t gen, int rc, struct ck_secret *aek,
                               const struct st_kek_fail *f, const char *corr)
{
    int64_t now = ck_mono_ms();
    enum st_kstate prev = k->state;
    if (k->gen != gen || k->deleted) {
        ck_secret_free(aek);
        return;
    }
    if (rc == CK_OK) {
        st_ks_wipe(k);
        k->aek = aek;
        k->state = ST_KS_USABLE;
        k->lease_until = now + ST_REVALIDATE_MS(st);
        k->lease_epoch = ck_time_now() + ST_REVALIDATE_MS(st) / 1000;
        k->next_check = now + ST_REVALIDATE_MS(st) * 4 / 5;
        k->unreachable_since = k->unreachable_epoch = 0;
        k->code[0] = '\0';
        snprintf(k->reason, sizeof(k->reason), "the AEK was unwrapped under %s", k->set.kek_kid);
        if (prev != ST_KS_USABLE) {
            k->since = ck_time_now();
            ck_log(CK_LOG_INFO, "storage: account %s: key state Usable (unwrapped under %s, correlation %s)", k->name,
                   k->set.kek_kid, corr ? corr : "-");
        } else {
            ck_log(CK_LOG_DEBUG, "storage: account %s: lease renewed (correlation %s)", k->name, corr ? corr : "-");
        }
        return;
    }
    ck_secret_free(aek);
    if (f->transient) {
        if (k->unreachable_since == 0) {
            k->unreachable_since = now;
            k->unreachable_epoch = ck_time_now();
        }
        k->state = ST_KS_UNREACHABLE;
        snprintf(k->code, sizeof(k->code), "KeyVaultVaultNotFound");
        snprintf(k->reason, sizeof(k->reason), "%s", f->message);
        k->next_check = now + (ST_REVALIDATE_MS(st) < ST_KS_UNREACHABLE_RETRY_MS ? ST_REVALIDATE_MS(st)
                                                                                   : ST_KS_UNREACHABLE_RETRY_MS);
        if (k->aek != NULL && now - k->unreachable_since > ST_RIDE_MS(st)) {
            st_ks_wipe(k);
            ck_log(CK_LOG_WARN, "storage: account %s: the vault has not answered for longer than the ride-through "
                   "bound; the AEK is wiped", k->name);
        }
        if (prev != ST_KS_UNREACHABLE) {
            k->since = ck_time_now();
            ck_log(CK_LOG_WARN, "storage: account %s: key state Unreachable (%s); riding through on the cached AEK: %s",
                   k->name, f->message, k->aek ? "yes" : "no");
        }
        return;
    }
    st_ks_wipe(k);
    k->state = ST_KS_DENIED;
    k->unreachable_since = k->unreachable_epoch = 0;
    snprintf(k->code, sizeof(k->code), "%s", st_kek_data_code(f));
    snprintf(k->reason, sizeof(k->reason), "%.400s (%s: %s)", f->message, st_kek_link_name(f->link), f->upstream);
    k->next_check = now + (ST_REVALIDATE_MS(st) < ST_KS_DENIED_RETRY_MAX_MS ? ST_REVALIDATE_MS(st)
                                                                             : ST_KS_DENIED_RETRY_MAX_MS);
    if (prev != ST_KS_DENIED) {
        k->since = ck_time_now();
        ck_log(CK_LOG_WARN, "storage: account %s: key state Denied, %s: %s", k->name, k->code, k->reason);
    }
}

/* ---- the data path ---- */

static int st_key_deny(struct st_key_err *err, int status, const char *code, const char *message)
{
    err->status = status;
    err->code = code;
    snprintf(err->message, sizeof(err->message), "%s", message);
    return status == 503 ? CK_E_UNAVAILABLE : CK_E_FORBIDDEN;
}

static int st_wait_locked(struct st *st, int64_t deadline_ms)
{
    struct timespec ts;
    int64_t left = deadline_ms - ck_mono_ms();
    if (left <= 0)
        return ETIMEDOUT;
    ck_deadline_after_ms(left, &ts);
    return pthread_cond_timedwait(&st->ks_cond, &st->ks_lock, &ts);
}

int st_account_key(struct st *st, const char *name, int wait, struct ck_secret **aek, struct st_key_err *err)
{
    int rc, tried = 0;
    int64_t deadline = ck_mono_ms() + ST_KS_COLD_WAIT_MS;
    *aek = NULL;
    pthread_mutex_lock(&st->ks_lock);
    struct st_ks *k = st_ks_get_locked(st, name, &rc);
    if (k == NULL) {
        pthread_mutex_unlock(&st->ks_lock);
        st_key_deny(err, 500, "InternalError", "The account's key settings could not be read.");
        return rc != CK_OK ? rc : CK_E_INTERNAL;
    }
    for (;;) {
        if (!k->set.cmk) {
            pthread_mutex_unlock(&st->ks_lock);
            rc = st_account_root_aek(st, name, aek);
            if (rc != CK_OK)
                st_key_deny(err, 500, "InternalError", "The account encryption key is not available.");
            return rc;
        }
        int64_t now = ck_mono_ms();
        int beyond = k->state == ST_KS_UNREACHABLE && now - k->unreachable_since > ST_RIDE_MS(st);
        /* A keeper that stopped renewing must not extend the lease for ever. */
        if (k->aek != NULL && (beyond || now > k->lease_until + ST_RIDE_MS(st)))
            st_ks_wipe(k);
        if (k->aek != NULL) {
            *aek = ck_secret_from(ck_secret_ptr(k->aek), ck_secret_len(k->aek));
            pthread_mutex_unlock(&st->ks_lock);
            return *aek ? CK_OK : CK_E_NOMEM;
        }
        if (k->state == ST_KS_DENIED) {
            int key = strcmp(k->code, "KeyVaultEncryptionKeyNotFound") == 0,
                vault = strcmp(k->code, "KeyVaultVaultNotFound") == 0;
            pthread_mutex_unlock(&st->ks_lock);
            if (key)
                return st_key_deny(err, 403, "KeyVaultEncryptionKeyNotFound",
                                   "The key vault key is not found to unwrap the encryption key of this account.");
            if (vault)
                return st_key_deny(err, 403, "KeyVaultVaultNotFound",
                                   "The key vault of this account's customer-managed key is not found.");
            return st_key_deny(err, 403, "KeyVaultAccessTokenCannotBeAcquired",
                               "An access token for the key vault of this account's customer-managed key could not be "
                               "acquired with the account's identity.");
        }
        if (beyond) {
            pthread_mutex_unlock(&st->ks_lock);
            return st_key_deny(err, 403, "KeyVaultVaultNotFound",
                               "The key vault of this account's customer-managed key has not been reachable for longer "
                               "than the ride-through bound.");
        }
        if (!wait) {
            pthread_mutex_unlock(&st->ks_lock);
            return st_key_deny(err, 503, "ServerBusy",
                               "The account's customer-managed key is being validated; retry later.");
        }
        if (tried && k->state == ST_KS_UNREACHABLE) {
            pthread_mutex_unlock(&st->ks_lock);
            return st_key_deny(err, 503, "ServerBusy",
                               "The key vault of this account's customer-managed key is not reachable; retry later.");
        }
        if (k->inflight) {
            if (st_wait_locked(st, deadline) == ETIMEDOUT) {
                pthread_mutex_unlock(&st->ks_lock);
                return st_key_deny(err, 503, "ServerBusy",
                               "The account's customer-managed key is being validated; retry later.");
            }
            continue;
        }
        /* Cold: this request unwraps, the others wait for it (single-flight per account). */
        struct st_kset set;
        struct st_kek_ref ref;
        struct st_kek_fail f;
        struct ck_secret *fresh = NULL;
        char version[64], corr[37] = "";
        uint64_t gen = k->gen;
        memset(&f, 0, sizeof(f));
        if (st_kset_copy(&k->set, &set) != CK_OK) {
            pthread_mutex_unlock(&st->ks_lock);
            return CK_E_NOMEM;
        }
        k->inflight = 1;
        pthread_mutex_unlock(&st->ks_lock);
        if (st_kek_version_of(set.kek_kid, version, sizeof(version)) != CK_OK) {
            f.link = ST_LINK_INTERNAL;
            rc = CK_E_INTERNAL;
        } else {
            st_ref_of(&set, &ref, version);
            rc = st_kek_unwrap(st, &ref, version, set.wrapped.ptr, set.wrapped.len, 0, &fresh, corr, &f);
        }
        st_kset_free(&set);
        pthread_mutex_lock(&st->ks_lock);
        k->inflight = 0;
        st_ks_apply_locked(st, k, gen, rc, fresh, &f, corr);
        pthread_cond_broadcast(&st->ks_cond);
        tried = 1;
    }
}

/* ---- re-validation and version follow ---- */

static char *st_iso_dup(int64_t t)
{
    char ts[40];
    return ck_strdup(ck_time_iso8601(t, ts, sizeof(ts)));
}

/* The account's encryption JSON with the read-only fields of key (a new text, caller frees). */
static char *st_enc_with_key(struct st *st, const char *name, const struct st_kek_key *key)
{
    struct ck_arena *a = ck_arena_new();
    struct st_account_row r;
    char *out = NULL;
    if (a == NULL || st_account_row_get(st, a, name, &r) != CK_OK) {
        ck_arena_free(a);
        return NULL;
    }
    json_t *enc = ck_json_parse(r.encryption, strlen(r.encryption), NULL, 0);
    json_t *kvp = ck_json_obj(enc, "keyvaultproperties");
    char *now = st_iso_dup(ck_time_now()), *exp = key->exp ? st_iso_dup(key->exp) : NULL;
    if (kvp != NULL && now != NULL) {
        json_object_set_new(kvp, "currentVersionedKeyIdentifier", json_string(key->kid));
        json_object_set_new(kvp, "lastKeyRotationTimestamp", json_string(now));
        if (exp != NULL)
            json_object_set_new(kvp, "currentVersionedKeyExpirationTimestamp", json_string(exp));
        else
            json_object_del(kvp, "currentVersionedKeyExpirationTimestamp");
        out = ck_json_dump(enc);
    }
    ck_free(now);
    ck_free(exp);
    json_decref(enc);
    ck_arena_free(a);
    return out;
}

static int st_acct_trylock(struct st *st, const char *name);

/*
 * An automatic-version account: when the newest version of its key differs from the one wrapping
 * its AEK, wrap the AEK under the newest and commit. aek is the AEK (may be NULL: unwrapped first).
 * Returns CK_OK (followed, or nothing to do), or the failure of the chain in *f.
 */
static int st_ks_follow(struct st *st, struct st_ks *k, const struct st_kset *set, struct ck_secret **aek,
                        struct st_kek_fail *f)
{
    struct st_kek_ref ref;
    struct st_kek_key key;
    struct ck_bytes w = {0};
    char cur[64], corr[37];
    char *enc = NULL;
    int rc;
    st_ref_of(set, &ref, "");
    if ((rc = st_kek_get_key(st, &ref, 1, &key, f)) != CK_OK)
        return rc;
    if (st_kek_version_of(set->kek_kid, cur, sizeof(cur)) != CK_OK || strcasecmp(cur, key.version) == 0)
        return CK_OK;
    struct st_kek_fail why;
    if (st_kek_key_usable(&key, ck_time_now(), &why) != CK_OK) {
        ck_log(CK_LOG_WARN, "storage: account %s stays on %s: the newest version is not usable (%s)", k->name,
               set->kek_kid, why.message);
        return CK_OK;
    }
    if (*aek == NULL) {
        st_ref_of(set, &ref, cur);
        if ((rc = st_kek_unwrap(st, &ref, cur, set->wrapped.ptr, set->wrapped.len, 0, aek, corr, f)) != CK_OK)
            return rc;
    }
    st_ref_of(set, &ref, key.version);
    if ((rc = st_kek_wrap(st, &ref, key.version, *aek, &w, corr, f)) != CK_OK)
        return rc;
    if (!st_acct_trylock(st, k->name)) {
        ck_free(w.ptr);
        return CK_OK; /* a settings change is in progress; the next check follows */
    }
    if ((enc = st_enc_with_key(st, k->name, &key)) == NULL)
        rc = CK_E_NOMEM;
    else
        rc = st_account_rewrap(st, k->name, set->kek_kid, key.kid, w.ptr, w.len, enc);
    st_acct_unlock(st, k->name);
    if (rc == CK_OK) {
        ck_log(CK_LOG_INFO, "storage: account %s follows its key to version %s (was %s; correlation %s)", k->name,
               key.kid, set->kek_kid, corr);
        st_ks_changed(st, k->name, *aek);
    } else if (rc != CK_E_EXISTS) {
        ck_log(CK_LOG_ERROR, "storage: account %s could not record the new wrapping (%s)", k->name, ck_err_text(rc));
    }
    ck_free(enc);
    ck_free(w.ptr);
    return CK_OK;
}

struct st_check_arg {
    struct st *st;
    struct st_ks *k;
};

static void *st_ks_check_thread(void *arg)
{
    struct st_check_arg *ca = arg;
    struct st *st = ca->st;
    struct st_ks *k = ca->k;
    struct st_kset set;
    struct st_kek_ref ref;
    struct st_kek_fail f;
    struct ck_secret *aek = NULL, *fresh = NULL;
    char version[64], corr[37] = "";
    int rc, follow;
    uint64_t gen;
    ck_free(ca);
    memset(&f, 0, sizeof(f));
    pthread_mutex_lock(&st->ks_lock);
    k->queued = 0;
    if (k->inflight || k->deleted || !k->set.cmk || st_kset_copy(&k->set, &set) != CK_OK) {
        st->checks_running--;
        pthread_cond_broadcast(&st->ks_cond);
        pthread_mutex_unlock(&st->ks_lock);
        return NULL;
    }
    int64_t now = ck_mono_ms();
    follow = set.key_version[0] == '\0' && (k->want_follow || now >= k->next_poll);
    if (follow)
        k->next_poll = now + ST_POLL_MS(st);
    k->want_check = k->want_follow = 0;
    k->inflight = 1;
    gen = k->gen;
    if (k->aek != NULL)
        aek = ck_secret_from(ck_secret_ptr(k->aek), ck_secret_len(k->aek));
    pthread_mutex_unlock(&st->ks_lock);

    rc = CK_OK;
    if (follow) {
        rc = st_ks_follow(st, k, &set, &aek, &f);
        /* A follow changes the settings: the proof below runs on the new ones next time. */
        pthread_mutex_lock(&st->ks_lock);
        int moved = k->gen != gen;
        pthread_mutex_unlock(&st->ks_lock);
        if (moved) {
            pthread_mutex_lock(&st->ks_lock);
            k->inflight = 0;
            goto done;
        }
    }
    if (rc == CK_OK) {
        /* The proof: the whole chain again, then an unwrap. */
        if (st_kek_version_of(set.kek_kid, version, sizeof(version)) != CK_OK) {
            rc = CK_E_INTERNAL;
            f.link = ST_LINK_INTERNAL;
        } else {
            st_ref_of(&set, &ref, version);
            rc = st_kek_unwrap(st, &ref, version, set.wrapped.ptr, set.wrapped.len, !follow, &fresh, corr, &f);
        }
    }
    pthread_mutex_lock(&st->ks_lock);
    k->inflight = 0;
    st_ks_apply_locked(st, k, gen, rc, fresh, &f, corr);
done:
    st->checks_running--;
    pthread_cond_broadcast(&st->ks_cond);
    pthread_mutex_unlock(&st->ks_lock);
    ck_secret_free(aek);
    st_kset_free(&set);
    ck_httpc_thread_cleanup();
    return NULL;
}

/* ---- event subscriptions ---- */

static int st_sub_match(const struct st_sub *s, const struct st_kset *k)
{
    return strcasecmp(s->vault_uri, k->vault_uri) == 0 && strcasecmp(s->key_name, k->key_name) == 0 &&
           strcasecmp(s->identity, k->identity) == 0 &&
           ((s->client_id == NULL && k->client_id == NULL) ||
            (s->client_id != NULL && k->client_id != NULL && strcasecmp(s->client_id, k->client_id) == 0));
}

/* Marks every account on the subscription's key for a check (and a follow). */
static void st_sub_mark(struct st_sub *s, int follow)
{
    struct st *st = s->st;
    pthread_mutex_lock(&st->ks_lock);
    for (struct st_ks *k = st->kss; k != NULL; k = k->next) {
        if (k->deleted || !k->set.cmk || strcasecmp(k->set.vault_uri, s->vault_uri) != 0 ||
            strcasecmp(k->set.key_name, s->key_name) != 0)
            continue;
        k->want_check = 1;
        if (follow)
            k->want_follow = 1;
    }
    pthread_cond_broadcast(&st->ks_cond);
    pthread_mutex_unlock(&st->ks_lock);
}

static void st_sub_sleep(struct st_sub *s, int ms)
{
    for (int i = 0; i < ms / 100 && !s->stop; i++) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void *st_sub_thread(void *arg)
{
    struct st_sub *s = arg;
    struct st_kek_ref ref = {s->vault_uri, s->key_name, "", s->identity, s->client_id};
    struct st_kek_fail f;
    int64_t cursor = 0;
    int primed = 0, backoff = 1000, failed = 0;
    while (!s->stop) {
        json_t *ev = NULL;
        memset(&f, 0, sizeof(f));
        int rc = st_kek_events(s->st, &ref, &cursor, primed ? ST_KS_EVENT_WAIT_S : 0, failed, &s->stop, &ev, &f);
        failed = rc != CK_OK;
        if (rc != CK_OK) {
            if (!s->stop)
                ck_log(CK_LOG_DEBUG, "storage: key events of %s/keys/%s: %s", s->vault_uri, s->key_name, f.message);
            st_sub_sleep(s, backoff);
            backoff = backoff < ST_KS_EVENT_BACKOFF_MAX_MS ? backoff * 2 : ST_KS_EVENT_BACKOFF_MAX_MS;
            continue;
        }
        backoff = 1000;
        size_t n = json_array_size(ev), i;
        if (!primed) {
            /* Past events are history: skip to the end, then check once (nothing in between is lost). */
            json_decref(ev);
            if (n == 0) {
                primed = 1;
                st_sub_mark(s, 1);
            }
            continue;
        }
        int any = 0, follow = 0;
        json_t *e;
        json_array_foreach(ev, i, e) {
            const char *type = ck_json_str(e, "eventType");
            any = 1;
            if (type != NULL && strstr(type, "NewVersion") != NULL)
                follow = 1;
            ck_log(CK_LOG_INFO, "storage: key event %s for %s/keys/%s", type ? type : "?", s->vault_uri, s->key_name);
        }
        json_decref(ev);
        if (any)
            st_sub_mark(s, follow);
    }
    ck_httpc_thread_cleanup();
    return NULL;
}

static void st_sub_free(struct st_sub *s)
{
    ck_free(s->vault_uri);
    ck_free(s->key_name);
    ck_free(s->identity);
    ck_free(s->client_id);
    ck_free(s);
}

/* Starts the subscriptions the entries need and collects the ones no entry needs into *gone.
 * Caller holds ks_lock. */
static void st_subs_sync_locked(struct st *st, struct st_sub **gone)
{
    for (struct st_sub *s = st->subs; s != NULL; s = s->next)
        s->used = 0;
    for (struct st_ks *k = st->kss; k != NULL; k = k->next) {
        if (k->deleted || !k->set.cmk)
            continue;
        struct st_sub *s;
        for (s = st->subs; s != NULL; s = s->next)
            if (st_sub_match(s, &k->set))
                break;
        if (s != NULL) {
            s->used = 1;
            continue;
        }
        s = ck_calloc(1, sizeof(*s));
        if (s == NULL)
            continue;
        s->st = st;
        s->vault_uri = ck_strdup(k->set.vault_uri);
        s->key_name = ck_strdup(k->set.key_name);
        s->identity = ck_strdup(k->set.identity);
        s->client_id = k->set.client_id ? ck_strdup(k->set.client_id) : NULL;
        s->used = 1;
        if (s->vault_uri == NULL || s->key_name == NULL || s->identity == NULL ||
            (k->set.client_id && s->client_id == NULL) || pthread_create(&s->th, NULL, st_sub_thread, s) != 0) {
            st_sub_free(s);
            continue;
        }
        s->next = st->subs;
        st->subs = s;
    }
    for (struct st_sub **pp = &st->subs; *pp != NULL;) {
        struct st_sub *s = *pp;
        if (s->used) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        s->stop = 1;
        s->next = *gone;
        *gone = s;
    }
}

static void st_subs_join(struct st_sub *gone)
{
    while (gone != NULL) {
        struct st_sub *n = gone->next;
        gone->stop = 1;
        pthread_join(gone->th, NULL);
        st_sub_free(gone);
        gone = n;
    }
}

/* ---- the keeper ---- */

static void *st_keeper(void *arg)
{
    struct st *st = arg;
    pthread_mutex_lock(&st->ks_lock);
    while (!st->keeper_stop) {
        int64_t now = ck_mono_ms();
        for (struct st_ks *k = st->kss; k != NULL; k = k->next) {
            if (k->deleted || !k->set.cmk || k->inflight || k->queued || st->checks_running >= ST_KS_MAX_CHECKS)
                continue;
            int poll_due = k->set.key_version != NULL && k->set.key_version[0] == '\0' && now >= k->next_poll;
            if (!(now >= k->next_check || k->want_check || k->want_follow || poll_due))
                continue;
            struct st_check_arg *ca = ck_calloc(1, sizeof(*ca));
            pthread_t th;
            pthread_attr_t attr;
            if (ca == NULL)
                continue;
            ca->st = st;
            ca->k = k;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            k->queued = 1;
            st->checks_running++;
            if (pthread_create(&th, &attr, st_ks_check_thread, ca) != 0) {
                k->queued = 0;
                st->checks_running--;
                ck_free(ca);
            }
            pthread_attr_destroy(&attr);
        }
        if (!st->cfg.cmk_events_off) {
            struct st_sub *gone = NULL;
            st_subs_sync_locked(st, &gone);
            if (gone != NULL) {
                pthread_mutex_unlock(&st->ks_lock);
                st_subs_join(gone);
                pthread_mutex_lock(&st->ks_lock);
            }
        }
        st_wait_locked(st, ck_mono_ms() + 200);
    }
    pthread_mutex_unlock(&st->ks_lock);
    return NULL;
}

int st_ks_init(struct st *st)
{
    pthread_mutex_init(&st->ks_lock, NULL);
    pthread_cond_init(&st->ks_cond, NULL);
    return st_kek_init(st);
}

int st_ks_start(struct st *st)
{
    struct ck_db_stmt *s = NULL;
    struct ck_arena *a = ck_arena_new();
    char **names = NULL;
    int n = 0, cap = 0, step = -1, rc;
    if (a == NULL)
        return CK_E_NOMEM;
    /* Every account under a customer key is validated at once. */
    ck_db_lock(st->db);
    if (ck_db_prepare(st->db, "SELECT name FROM accounts WHERE aek_kek IS NOT NULL", &s) == CK_OK) {
        while ((step = ck_db_step(s)) == 1) {
            if (n == cap) {
                int ncap = cap ? cap * 2 : 16;
                char **nv = ck_arena_alloc(a, sizeof(char *) * (size_t)ncap);
                if (nv == NULL)
                    break;
                if (n > 0)
                    memcpy(nv, names, sizeof(char *) * (size_t)n);
                names = nv;
                cap = ncap;
            }
            names[n++] = ck_arena_strdup(a, ck_db_col_text(s, 0));
        }
    }
    ck_db_stmt_free(s);
    ck_db_unlock(st->db);
    pthread_mutex_lock(&st->ks_lock);
    for (int i = 0; i < n; i++)
        if (names[i] != NULL)
            (void)st_ks_get_locked(st, names[i], &rc);
    st->keeper_stop = 0;
    rc = pthread_create(&st->keeper, NULL, st_keeper, st) == 0 ? CK_OK : CK_E_INTERNAL;
    st->keeper_running = rc == CK_OK;
    pthread_mutex_unlock(&st->ks_lock);
    ck_arena_free(a);
    return rc;
}

void st_ks_stop(struct st *st)
{
    struct st_sub *gone;
    if (!st->keeper_running)
        return;
    pthread_mutex_lock(&st->ks_lock);
    st->keeper_stop = 1;
    pthread_cond_broadcast(&st->ks_cond);
    pthread_mutex_unlock(&st->ks_lock);
    pthread_join(st->keeper, NULL);
    st->keeper_running = 0;
    pthread_mutex_lock(&st->ks_lock);
    gone = st->subs;
    st->subs = NULL;
    for (struct st_sub *s = gone; s != NULL; s = s->next)
        s->stop = 1;
    pthread_mutex_unlock(&st->ks_lock);
    st_subs_join(gone);
    /* Checks in flight end within their call timeouts. */
    pthread_mutex_lock(&st->ks_lock);
    int64_t deadline = ck_mono_ms() + 30000;
    while (st->checks_running > 0 && st_wait_locked(st, deadline) != ETIMEDOUT)
        ;
    if (st->checks_running > 0)
        ck_log(CK_LOG_WARN, "storage: %d key check(s) still running at shutdown", st->checks_running);
    pthread_mutex_unlock(&st->ks_lock);
}

void st_ks_cleanup(struct st *st)
{
    while (st->kss != NULL) {
        struct st_ks *n = st->kss->next;
        st_ks_wipe(st->kss);
        st_kset_free(&st->kss->set);
        ck_free(st->kss->name);
        ck_free(st->kss);
        st->kss = n;
    }
    while (st->locked != NULL) {
        struct st_lockname *n = st->locked->next;
        ck_free(st->locked->name);
        ck_free(st->locked);
        st->locked = n;
    }
    st_kek_cleanup(st);
    pthread_mutex_destroy(&st->ks_lock);
    pthread_cond_destroy(&st->ks_cond);
}

/* ---- changes of settings ---- */

int st_ks_current_aek(struct st *st, const char *name, struct ck_secret **aek, struct st_kek_fail *f)
{
    struct st_kset set;
    struct st_kek_ref ref;
    char version[64], corr[37];
    int rc;
    memset(f, 0, sizeof(*f));
    pthread_mutex_lock(&st->ks_lock);
    struct st_ks *k = st_ks_find_locked(st, name);
    if (k != NULL && k->set.cmk && k->aek != NULL) {
        *aek = ck_secret_from(ck_secret_ptr(k->aek), ck_secret_len(k->aek));
        pthread_mutex_unlock(&st->ks_lock);
        return *aek ? CK_OK : CK_E_NOMEM;
    }
    pthread_mutex_unlock(&st->ks_lock);
    if ((rc = st_kset_load(st, name, &set)) != CK_OK)
        return rc;
    if (!set.cmk) {
        st_kset_free(&set);
        return st_account_root_aek(st, name, aek);
    }
    if (st_kek_version_of(set.kek_kid, version, sizeof(version)) != CK_OK) {
        st_kset_free(&set);
        return CK_E_INTERNAL;
    }
    st_ref_of(&set, &ref, version);
    rc = st_kek_unwrap(st, &ref, version, set.wrapped.ptr, set.wrapped.len, 1, aek, corr, f);
    st_kset_free(&set);
    return rc;
}

void st_ks_changed(struct st *st, const char *name, const struct ck_secret *aek)
{
    struct st_kset set;
    int rc = st_kset_load(st, name, &set);
    st_aek_drop(st, name);
    pthread_mutex_lock(&st->ks_lock);
    struct st_ks *k = st_ks_find_locked(st, name);
    if (rc != CK_OK) {
        /* Unknown now: the next use loads it again. */
        if (k != NULL) {
            k->deleted = 1;
            st_ks_wipe(k);
        }
        goto out;
    }
    if (k == NULL) {
        if ((k = st_ks_add_locked(st, name, &set)) == NULL) {
            st_kset_free(&set);
            goto out;
        }
    } else { /* the existing entry takes the new settings */
        st_kset_free(&k->set);
        k->set = set;
        memset(&set, 0, sizeof(set));
    }
    k->gen++;
    st_ks_wipe(k);
    k->code[0] = '\0';
    k->want_check = k->want_follow = 0;
    if (k->set.cmk && aek != NULL) {
        int64_t now = ck_mono_ms();
        k->aek = ck_secret_from(ck_secret_ptr(aek), ck_secret_len(aek));
        k->state = ST_KS_USABLE;
        k->lease_until = now + ST_REVALIDATE_MS(st);
        k->lease_epoch = ck_time_now() + ST_REVALIDATE_MS(st) / 1000;
        k->next_check = now + ST_REVALIDATE_MS(st) * 4 / 5;
        k->next_poll = now + ST_POLL_MS(st);
        k->unreachable_since = k->unreachable_epoch = 0;
        k->since = ck_time_now();
        snprintf(k->reason, sizeof(k->reason), "the AEK is wrapped under %s", k->set.kek_kid);
    } else {
        k->state = ST_KS_UNKNOWN;
        k->next_check = 0;
        k->reason[0] = '\0';
    }
out:
    pthread_cond_broadcast(&st->ks_cond);
    pthread_mutex_unlock(&st->ks_lock);
    st_kset_free(&set);
}

void st_ks_forget(struct st *st, const char *name)
{
    pthread_mutex_lock(&st->ks_lock);
    struct st_ks *k = st_ks_find_locked(st, name);
    if (k != NULL) {
        k->deleted = 1;
        k->gen++;
        st_ks_wipe(k);
    }
    pthread_cond_broadcast(&st->ks_cond);
    pthread_mutex_unlock(&st->ks_lock);
}

json_t *st_ks_json(struct st *st, const char *name)
{
    json_t *o = NULL;
    int rc;
    pthread_mutex_lock(&st->ks_lock);
    struct st_ks *k = st_ks_get_locked(st, name, &rc);
    if (k != NULL && k->set.cmk) {
        char since[40], lease[40], unr[40];
        ck_time_iso8601(k->since, since, sizeof(since));
        ck_time_iso8601(k->lease_epoch, lease, sizeof(lease));
        if (k->unreachable_epoch)
            ck_time_iso8601(k->unreachable_epoch, unr, sizeof(unr));
        o = json_pack("{s:s,s:s,s:s,s:s?,s:s,s:s?,s:s?}", "state", st_state_name(k), "since", since, "reason",
                      k->reason, "errorCode", k->state == ST_KS_DENIED || k->state == ST_KS_UNREACHABLE ? k->code : NULL,
                      "currentKek", k->set.kek_kid, "leaseExpiresOn", k->aek ? lease : NULL, "unreachableSince",
                      k->unreachable_epoch ? unr : NULL);
    }
    pthread_mutex_unlock(&st->ks_lock);
    return o;
}

/* ---- per-account write locks ---- */

static int st_acct_locked_locked(struct st *st, const char *name)
{
    for (struct st_lockname *l = st->locked; l != NULL; l = l->next)
        if (strcmp(l->name, name) == 0)
            return 1;
    return 0;
}

static int st_acct_take_locked(struct st *st, const char *name)
{
    struct st_lockname *l = ck_calloc(1, sizeof(*l));
    if (l == NULL || (l->name = ck_strdup(name)) == NULL) {
        ck_free(l);
        return 0;
    }
    l->next = st->locked;
    st->locked = l;
    return 1;
}

void st_acct_lock(struct st *st, const char *name)
{
    pthread_mutex_lock(&st->ks_lock);
    while (st_acct_locked_locked(st, name))
        pthread_cond_wait(&st->ks_cond, &st->ks_lock);
    while (!st_acct_take_locked(st, name))
        st_wait_locked(st, ck_mono_ms() + 100); /* out of memory: try again shortly */
    pthread_mutex_unlock(&st->ks_lock);
}

static int st_acct_trylock(struct st *st, const char *name)
{
    int ok = 0;
    pthread_mutex_lock(&st->ks_lock);
    if (!st_acct_locked_locked(st, name))
        ok = st_acct_take_locked(st, name);
    pthread_mutex_unlock(&st->ks_lock);
    return ok;
}

void st_acct_unlock(struct st *st, const char *name)
{
    pthread_mutex_lock(&st->ks_lock);
    for (struct st_lockname **pp = &st->locked; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->name, name) == 0) {
            struct st_lockname *l = *pp;
            *pp = l->next;
            ck_free(l->name);
            ck_free(l);
            break;
        }
    }
    pthread_cond_broadcast(&st->ks_cond);
    pthread_mutex_unlock(&st->ks_lock);
}
