/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vault audit log: one record per data-plane request (time, caller oid, appid and tid,
 * operation, kid, result, client address, request id, and the client's correlation id when it sent
 * a well-formed x-ms-client-request-id), chained by SHA-256 so that removing,
 * reordering or editing a record is detected: hash = SHA-256(prevHash || "\n" || canonical record),
 * hex-encoded, where the canonical record is its JSON with sorted keys and no spaces
 * (docs/vault.md). A hash chain alone can be recomputed by whoever can write the store, so the
 * chain's head (last sequence and hash) is also kept with an HMAC under a key derived from the vault
 * master key: editing and re-hashing, or dropping the newest records, no longer verifies.
 * Owners read the log through ARM: {vault id}/auditRecords and {vault id}/verifyAudit.
 */
#include "services/vault/kv_int.h"
#include "core/codec.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* hex(HMAC-SHA256(audit key, lower(vault) "\n" seq "\n" hash)) into out[65]. */
static int kv_audit_mac(struct kv *kv, const char *vault, int64_t seq, const char *hash, char out[65])
{
    char msg[200];
    uint8_t mac[CK_SHA256_LEN];
    int n = snprintf(msg, sizeof(msg), "%s\n%lld\n%s", vault, (long long)seq, hash);
    if (n < 0 || (size_t)n >= sizeof(msg))
        return CK_E_INVALID;
    for (char *p = msg; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (ck_hmac_sha256(ck_secret_ptr(kv->audit_key), ck_secret_len(kv->audit_key), msg, (size_t)n, mac) != CK_OK)
        return CK_E_CRYPTO;
    char *hex = ck_hex_encode(mac, sizeof(mac));
    if (hex == NULL)
        return CK_E_NOMEM;
    memcpy(out, hex, 65);
    ck_free(hex);
    return CK_OK;
}

char *kv_audit_canonical(const json_t *record)
{
    return json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
}

static char *kv_audit_hash(const char *prev, const char *canonical)
{
    struct ck_buf b;
    uint8_t h[CK_SHA256_LEN];
    char *out = NULL;
    ck_buf_init(&b, 1 << 20);
    if (ck_buf_puts(&b, prev) == CK_OK && ck_buf_puts(&b, "\n") == CK_OK && ck_buf_puts(&b, canonical) == CK_OK) {
        ck_sha256(b.data, b.len, h);
        out = ck_hex_encode(h, sizeof(h));
    }
    ck_buf_cleanup(&b);
    return out;
}

/* A record waiting for the next group commit. */
struct kv_audit_item {
    struct kv_audit_item *next;
    const char *vault;
    const struct kv_caller *c;
    const char *operation, *kid, *client_address, *request_id, *correlation_id;
    int result;
    pthread_cond_t cond; /* signalled when done, or when this item became the head of the queue */
    int done, rc;
};

/* The head of one vault's chain while a batch is written: read once, moved forward by each record
 * of the batch, and anchored once at the end. */
struct kv_audit_head {
    const char *vault;
    int64_t seq;
    char hash[65];
};

/* The head of it->vault among the heads read so far in this batch, reading it from the store the
 * first time. Returns NULL on a store error. */
static struct kv_audit_head *kv_audit_head(struct kv *kv, struct kv_audit_head *heads, int *nheads,
                                           const struct kv_audit_item *it)
{
    struct ck_db_stmt *st = NULL;
    for (int i = 0; i < *nheads; i++)
        if (strcasecmp(heads[i].vault, it->vault) == 0)
            return &heads[i];
    struct kv_audit_head *h = &heads[*nheads];
    h->vault = it->vault;
    h->seq = 0;
    memcpy(h->hash, KV_ZERO_HASH, sizeof(h->hash));
    if (ck_db_prepare(kv->audit_db, "SELECT seq, hash FROM audit WHERE vault = ?1 ORDER BY seq DESC LIMIT 1", &st) != CK_OK)
        return NULL;
    ck_db_bind_text(st, 1, it->vault);
    int s = ck_db_step(st);
    if (s == 1) {
        h->seq = ck_db_col_int64(st, 0);
        snprintf(h->hash, sizeof(h->hash), "%s", ck_db_col_text(st, 1));
    }
    ck_db_stmt_free(st);
    if (s < 0)
        return NULL;
    (*nheads)++;
    return h;
}

/* Appends one record after head h, inside the caller's transaction, and moves h forward. */
static int kv_audit_write(struct kv *kv, const struct kv_audit_item *it, struct kv_audit_head *h)
{
    struct ck_db_stmt *st = NULL;
    char ts[40];
    char *canon = NULL, *hash = NULL;
    int64_t seq = h->seq + 1;
    int rc = CK_E_DB;

    ck_time_iso8601(ck_time_now(), ts, sizeof(ts));
    /* Optional members (s*) are left out when NULL, so a record without them hashes as before. */
    json_t *r = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s*,s:i,s:s,s:s,s:s*}", "sequence", (json_int_t)seq, "time",
                          ts, "vault", it->vault, "callerOid", it->c->claims.oid, "callerAppId", it->c->claims.appid,
                          "callerTenantId", it->c->claims.tid, "operation", it->operation, "kid", it->kid, "result",
                          it->result, "clientAddress", it->client_address ? it->client_address : "", "requestId",
                          it->request_id, "correlationId", it->correlation_id);
    canon = r ? kv_audit_canonical(r) : NULL;
    json_decref(r);
    hash = canon ? kv_audit_hash(h->hash, canon) : NULL;
    if (hash == NULL)
        goto out;
    if (ck_db_prepare(kv->audit_db, "INSERT INTO audit (vault, seq, record, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                      &st) != CK_OK)
        goto out;
    ck_db_bind_text(st, 1, it->vault);
    ck_db_bind_int64(st, 2, seq);
    ck_db_bind_text(st, 3, canon);
    ck_db_bind_text(st, 4, h->hash);
    ck_db_bind_text(st, 5, hash);
    if (ck_db_step(st) < 0)
        goto out;
    h->seq = seq;
    memcpy(h->hash, hash, sizeof(h->hash));
    rc = CK_OK;
out:
    ck_db_stmt_free(st);
    free(canon);
    ck_free(hash);
    return rc;
}

/* Moves the anchored head of a vault to h, inside the caller's transaction. */
static int kv_audit_anchor(struct kv *kv, const struct kv_audit_head *h)
{
    char mac[65], seqs[24];
    if (kv_audit_mac(kv, h->vault, h->seq, h->hash, mac) != CK_OK)
        return CK_E_CRYPTO;
    snprintf(seqs, sizeof(seqs), "%lld", (long long)h->seq);
    const char *q[4] = {h->vault, seqs, h->hash, mac};
    return ck_db_run(kv->audit_db, "INSERT INTO audit_heads (vault, seq, hash, mac) VALUES (?1, CAST(?2 AS INTEGER), ?3, ?4)"
                                   " ON CONFLICT (vault) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac",
                     4, q);
}

/* Writes a batch in one transaction on the audit connection, so concurrent requests share one
 * flush to disk, and readers on the main connection are not held up by it (WAL). */
static int kv_audit_commit(struct kv *kv, struct kv_audit_item *batch)
{
    int n = 0, nheads = 0, rc;
    for (struct kv_audit_item *it = batch; it != NULL; it = it->next)
        n++;
    struct kv_audit_head *heads = ck_calloc((size_t)n, sizeof(*heads));
    if (heads == NULL)
        return CK_E_NOMEM;
    ck_db_lock(kv->audit_db);
    rc = ck_db_begin(kv->audit_db);
    for (struct kv_audit_item *it = batch; rc == CK_OK && it != NULL; it = it->next) {
        struct kv_audit_head *h = kv_audit_head(kv, heads, &nheads, it);
        rc = h ? kv_audit_write(kv, it, h) : CK_E_DB;
    }
    for (int i = 0; rc == CK_OK && i < nheads; i++)
        rc = kv_audit_anchor(kv, &heads[i]);
    if (rc == CK_OK)
        rc = ck_db_commit(kv->audit_db);
    if (rc != CK_OK)
        ck_db_rollback(kv->audit_db);
    ck_db_unlock(kv->audit_db);
    ck_free(heads);
    return rc;
}

void kv_audit_busy(struct kv *kv, int delta)
{
    atomic_fetch_add(&kv->audit_busy, delta);
}

struct timespec kv_deadline(long us)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (us % 1000000) * 1000;
    ts.tv_sec += us / 1000000 + ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    return ts;
}

const char *kv_audit_correlation(const char *h)
{
    static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:{}";
    size_t n = h ? strspn(h, ok) : 0;
    return n >= 1 && n <= KV_CORRELATION_MAX && h[n] == '\0' ? h : NULL;
}

int kv_audit_append(struct kv *kv, const char *vault, const struct kv_caller *c, const char *operation,
                    const char *kid, int result, const char *client_address, const char *request_id,
                    const char *correlation_id)
{
    struct kv_audit_item item = {.vault = vault, .c = c, .operation = operation, .kid = kid,
                                 .client_address = client_address, .request_id = request_id,
                                 .correlation_id = correlation_id, .result = result};
    pthread_cond_init(&item.cond, NULL);
    /*
     * Group commit. The record is queued; the caller at the head of the queue, when no commit is
     * under way, becomes the writer. Before it takes the queue it waits a little (at most
     * KV_AUDIT_GATHER_US) for the requests that are still in their cryptographic operation, so
     * that they share its flush to disk instead of each paying one; with nothing in flight it
     * commits at once. Every caller is woken only when its own record is on disk (or its batch
     * failed), and the next head only when the writer is done: no thundering herd.
     */
    pthread_mutex_lock(&kv->audit_lock);
    *kv->audit_tail = &item;
    kv->audit_tail = &item.next;
    kv->audit_queued++;
    if (kv->audit_gathering)
        pthread_cond_signal(&kv->audit_gather_cond);
    while (!item.done) {
        if (kv->audit_writing || kv->audit_head != &item) {
            pthread_cond_wait(&item.cond, &kv->audit_lock);
            continue;
        }
        kv->audit_writing = 1;
        if (atomic_load(&kv->audit_busy) > 0) {
            struct timespec until = kv_deadline(KV_AUDIT_GATHER_US);
            kv->audit_gathering = 1;
            while (atomic_load(&kv->audit_busy) > 0 && kv->audit_queued < KV_AUDIT_BATCH_MAX &&
                   pthread_cond_timedwait(&kv->audit_gather_cond, &kv->audit_lock, &until) == 0)
                ;
            kv->audit_gathering = 0;
        }
        struct kv_audit_item *batch = kv->audit_head;
        kv->audit_head = NULL;
        kv->audit_tail = &kv->audit_head;
        kv->audit_queued = 0;
        pthread_mutex_unlock(&kv->audit_lock);
        int rc = kv_audit_commit(kv, batch);
        pthread_mutex_lock(&kv->audit_lock);
        /* The lock is held while the batch is marked: an owner cannot see done (and leave, taking
         * its item off the stack) before the walk is over. */
        for (struct kv_audit_item *it = batch, *next; it != NULL; it = next) {
            next = it->next;
            it->rc = rc;
            it->done = 1;
            if (it != &item)
                pthread_cond_signal(&it->cond);
        }
        kv->audit_writing = 0;
        if (kv->audit_head != NULL)
            pthread_cond_signal(&kv->audit_head->cond);
    }
    pthread_mutex_unlock(&kv->audit_lock);
    pthread_cond_destroy(&item.cond);
    return item.rc;
}

/* The record filters of the listing: a record is listed when each filter given in the query
 * names the same value as the record's member of that name (compared exactly). */
static const char *const kv_audit_filters[] = {"callerOid", "correlationId"};
#define KV_AUDIT_NFILTERS (sizeof(kv_audit_filters) / sizeof(kv_audit_filters[0]))

static int kv_audit_matches(const json_t *r, const char *const *want)
{
    for (size_t i = 0; i < KV_AUDIT_NFILTERS; i++) {
        const char *have = want[i] ? ck_json_str(r, kv_audit_filters[i]) : NULL;
        if (want[i] != NULL && (have == NULL || strcmp(have, want[i]) != 0))
            return 0;
    }
    return 1;
}

/* The nextLink of a page ending at sequence last, carrying $top and the filters. NULL when out of memory. */
static char *kv_audit_next_link(struct kv *kv, struct ck_req *req, long top, long long last, const char *const *want)
{
    struct ck_arena *a = ck_req_arena(req);
    /* The RP path "/rp/vault/subscriptions/.../auditRecords" is the ARM path under /rp/vault. */
    char *next = ck_arena_printf(a, "%s%s?api-version=%s&$top=%ld&$skiptoken=%lld", kv->arm_endpoint,
                                 ck_req_path(req) + strlen("/rp/vault"), "2026-02-01", top, last);
    for (size_t i = 0; next != NULL && i < KV_AUDIT_NFILTERS; i++) {
        if (want[i] == NULL)
            continue;
        char *enc = ck_url_encode(want[i]);
        next = enc ? ck_arena_printf(a, "%s&%s=%s", next, kv_audit_filters[i], enc) : NULL;
        ck_free(enc);
    }
    return next;
}

void kv_audit_list(struct kv *kv, struct ck_req *req, struct ck_resp *resp, const char *vault)
{
    struct ck_db_stmt *st = NULL;
    const char *top_s = ck_req_query(req, "$top");
    const char *skip_s = ck_req_query(req, "$skiptoken");
    const char *want[KV_AUDIT_NFILTERS];
    int filtered = 0;
    long top = 100;
    long long after = 0, last = 0;
    int n = 0, more = 0;
    for (size_t i = 0; i < KV_AUDIT_NFILTERS; i++) {
        want[i] = ck_req_query(req, kv_audit_filters[i]);
        filtered |= want[i] != NULL;
    }
    if (top_s != NULL) {
        char *end = NULL;
        top = strtol(top_s, &end, 10);
        if (*top_s == '\0' || *end != '\0' || top < 1 || top > 1000) {
            kv_arm_error(resp, 400, "InvalidParameter", "$top must be an integer from 1 to 1000.");
            return;
        }
    }
    if (skip_s != NULL) {
        char *end = NULL;
        after = strtoll(skip_s, &end, 10);
        if (*skip_s == '\0' || *end != '\0' || after < 0)
            after = 0;
    }
    json_t *arr = json_array();
    ck_db_lock(kv->db);
    if (ck_db_prepare(kv->db, "SELECT seq, record, prev_hash, hash FROM audit WHERE vault = ?1 AND seq > ?2"
                              " ORDER BY seq LIMIT ?3", &st) == CK_OK) {
        ck_db_bind_text(st, 1, vault);
        ck_db_bind_int64(st, 2, after);
        /* With a filter, records are scanned until the page fills. */
        ck_db_bind_int64(st, 3, filtered ? 100000 : top + 1);
        while (ck_db_step(st) == 1) {
            const char *text = ck_db_col_text(st, 1);
            json_t *r = ck_json_parse_object(text, strlen(text), NULL, 0);
            if (r == NULL)
                continue;
            if (!kv_audit_matches(r, want)) {
                json_decref(r);
                continue;
            }
            if (n == top) {
                more = 1;
                json_decref(r);
                break;
            }
            json_object_set_new(r, "prevHash", json_string(ck_db_col_text(st, 2)));
            json_object_set_new(r, "hash", json_string(ck_db_col_text(st, 3)));
            json_array_append_new(arr, r);
            last = ck_db_col_int64(st, 0);
            n++;
        }
    }
    ck_db_stmt_free(st);
    ck_db_unlock(kv->db);
    json_t *o = json_pack("{s:o}", "value", arr);
    char *next = more ? kv_audit_next_link(kv, req, top, last, want) : NULL;
    json_object_set_new(o, "nextLink", next ? json_string(next) : json_null());
    ck_resp_json(resp, 200, o);
    json_decref(o);
}

void kv_audit_verify(struct kv *kv, struct ck_req *req, struct ck_resp *resp, const char *vault)
{
    struct ck_db_stmt *st = NULL;
    char prev[65] = KV_ZERO_HASH;
    long long expect = 1, count = 0, bad = -1;
    (void)req;
    ck_db_lock(kv->db);
    if (ck_db_prepare(kv->db, "SELECT seq, record, prev_hash, hash FROM audit WHERE vault = ?1 ORDER BY seq", &st) == CK_OK) {
        ck_db_bind_text(st, 1, vault);
        while (ck_db_step(st) == 1) {
            long long seq = ck_db_col_int64(st, 0);
            const char *text = ck_db_col_text(st, 1);
            const char *ph = ck_db_col_text(st, 2);
            const char *h = ck_db_col_text(st, 3);
            json_t *r = ck_json_parse_object(text, strlen(text), NULL, 0);
            char *canon = r ? kv_audit_canonical(r) : NULL;
            char *calc = canon ? kv_audit_hash(prev, canon) : NULL;
            /* The stored text must be canonical, carry its own sequence, and chain to the previous hash. */
            int ok = seq == expect && canon != NULL && strcmp(canon, text) == 0 && ck_json_int(r, "sequence", -1) == seq &&
                     strcmp(ph, prev) == 0 && calc != NULL && strcmp(calc, h) == 0;
            json_decref(r);
            free(canon);
            ck_free(calc);
            count++;
            if (!ok) {
                bad = seq == expect ? seq : expect;
                break;
            }
            snprintf(prev, sizeof(prev), "%s", h);
            expect++;
        }
    }
    ck_db_stmt_free(st);
    st = NULL;
    /* The anchored head must name the last record, with a MAC made with the vault's key. */
    if (bad < 0) {
        int64_t hseq = 0;
        char hhash[65] = "", hmac[65] = "", want[65];
        if (ck_db_prepare(kv->db, "SELECT seq, hash, mac FROM audit_heads WHERE vault = ?1", &st) == CK_OK) {
            ck_db_bind_text(st, 1, vault);
            if (ck_db_step(st) == 1) {
                hseq = ck_db_col_int64(st, 0);
                snprintf(hhash, sizeof(hhash), "%s", ck_db_col_text(st, 1));
                snprintf(hmac, sizeof(hmac), "%s", ck_db_col_text(st, 2));
            }
        }
        ck_db_stmt_free(st);
        st = NULL;
        long long last = expect - 1;
        int anchored = (hseq == 0 && last == 0) ||
                       (hseq == last && strcmp(hhash, prev) == 0 && kv_audit_mac(kv, vault, hseq, hhash, want) == CK_OK &&
                        ck_ct_equal(want, 64, hmac, strlen(hmac)));
        if (!anchored)
            bad = hseq > last ? last + 1 : (hseq > 0 ? hseq : 1);
    }
    ck_db_unlock(kv->db);
    json_t *o = json_pack("{s:b,s:I}", "valid", bad < 0, "records", (json_int_t)count);
    json_object_set_new(o, "firstBadSequence", bad < 0 ? json_null() : json_integer(bad));
    ck_resp_json(resp, 200, o);
    json_decref(o);
}
