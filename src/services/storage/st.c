/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The storage service object: configuration, the store (accounts, containers, blobs, staged
 * blocks), the resource-provider mount on the main origin and the blob listeners.
 */
#include "services/storage/st_int.h"
#include "authz/shared_key.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "crypto/crypto.h"

#include <stdio.h>
#include <time.h>
#include <string.h>

/*
 * Schema. Secrets never appear in a column in the clear: account keys are sealed and the AEK is
 * wrapped under the platform root key; user metadata is sealed under the AEK
 * (docs/data-format.md).
 */
static const char *const st_migrations[] = {
    /* Accounts (st_account.c): key1/key2 sealed under a key derived from the root key, the AEK
     * wrapped under the root key, root_kid the identifier of that root key; tags, identity,
     * encryption and properties are JSON texts (docs/storage.md). */
    "CREATE TABLE accounts (name TEXT PRIMARY KEY, arm_id TEXT NOT NULL, subscription_id TEXT NOT NULL,"
    "  resource_group TEXT NOT NULL, tenant_id TEXT NOT NULL, location TEXT NOT NULL, kind TEXT NOT NULL,"
    "  sku TEXT NOT NULL, tags TEXT NOT NULL, identity TEXT NOT NULL, encryption TEXT NOT NULL,"
    "  properties TEXT NOT NULL, key1 BLOB NOT NULL, key2 BLOB NOT NULL, key1_time INTEGER NOT NULL,"
    "  key2_time INTEGER NOT NULL, aek_wrapped BLOB NOT NULL, root_kid TEXT NOT NULL, dev INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX accounts_scope ON accounts (subscription_id COLLATE NOCASE, resource_group COLLATE NOCASE);",
    "CREATE TABLE containers (account TEXT NOT NULL, name TEXT NOT NULL, etag TEXT NOT NULL,"
    "  last_modified INTEGER NOT NULL, metadata BLOB, PRIMARY KEY (account, name));"
    "CREATE TABLE blobs (account TEXT NOT NULL, container TEXT NOT NULL, name TEXT NOT NULL,"
    "  version_id TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL, created INTEGER NOT NULL,"
    "  last_modified INTEGER NOT NULL, content_type TEXT, content_encoding TEXT, content_language TEXT,"
    "  content_disposition TEXT, cache_control TEXT, content_md5 TEXT, metadata BLOB, parts TEXT NOT NULL,"
    "  PRIMARY KEY (account, container, name));"
    "CREATE TABLE blocks (account TEXT NOT NULL, container TEXT NOT NULL, blob TEXT NOT NULL,"
    "  block_id TEXT NOT NULL, size INTEGER NOT NULL, part TEXT NOT NULL, created INTEGER NOT NULL,"
    "  PRIMARY KEY (account, container, blob, block_id));"
    "CREATE TABLE parts (id TEXT PRIMARY KEY, account TEXT NOT NULL, salt BLOB NOT NULL, size INTEGER NOT NULL,"
    "  seg_size INTEGER NOT NULL, created INTEGER NOT NULL, data BLOB);",
    /* Customer-managed keys (docs/cmk.md): aek_kek is the versioned key id whose RSA-OAEP-256
     * wrapping aek_wrapped then holds; NULL when aek_wrapped is under the root key. */
    "ALTER TABLE accounts ADD COLUMN aek_kek TEXT;",
};

int st_store_open(struct st *st)
{
    char *path = ck_path_join(st->data_dir, "storage.db");
    int rc;
    if (path == NULL)
        return CK_E_NOMEM;
    if (ck_mkdirs(st->data_dir, 0700) != 0) {
        ck_free(path);
        return CK_E_IO;
    }
    rc = ck_db_open(path, &st->db);
    ck_free(path);
    if (rc != CK_OK)
        return rc;
    st->objs = &st_objstore_fs;
    if ((rc = st->objs->open_store(st->data_dir, &st->objs_ctx)) != CK_OK)
        return rc;
    rc = ck_db_migrate(st->db, st_migrations, (int)(sizeof(st_migrations) / sizeof(st_migrations[0])));
    if (rc != CK_OK)
        return rc;
    /* A second connection for reads (WAL lets it read while the writer syncs a commit). */
    path = ck_path_join(st->data_dir, "storage.db");
    if (path == NULL)
        return CK_E_NOMEM;
    rc = ck_db_open(path, &st->rdb);
    ck_free(path);
    return rc;
}

void st_store_close(struct st *st)
{
    if (st->objs != NULL)
        st->objs->close_store(st->objs_ctx);
    st->objs_ctx = NULL;
    ck_db_free(st->rdb);
    st->rdb = NULL;
    ck_db_free(st->db);
    st->db = NULL;
}

static char *st_dup(const char *s)
{
    return s ? ck_strdup(s) : NULL;
}

static struct ck_secret *st_secret_dup(const struct ck_secret *s)
{
    return s ? ck_secret_from(ck_secret_ptr(s), ck_secret_len(s)) : NULL;
}

int st_new(const struct st_config *cfg, struct st **out)
{
    struct st *st = ck_calloc(1, sizeof(*st));
    struct ck_verifier_config vc = {0};
    int rc = CK_E_NOMEM;
    if (st == NULL)
        return CK_E_NOMEM;
    pthread_mutex_init(&st->aek_lock, NULL);
    if (st_ks_init(st) != CK_OK) {
        pthread_mutex_destroy(&st->aek_lock);
        ck_free(st);
        return CK_E_NOMEM;
    }
    pthread_mutex_init(&st->sweeper_lock, NULL);
    pthread_mutex_init(&st->txn_lock, NULL);
    pthread_cond_init(&st->txn_cond, NULL);
    st->txn_tail = &st->txn_head;
    pthread_cond_init(&st->sweeper_cond, NULL);
    st->cfg = *cfg;
    if (cfg->root_key == NULL || ck_secret_len(cfg->root_key) != CK_SEAL_KEY_LEN) {
        rc = CK_E_INVALID;
        goto fail;
    }
    st->data_dir = st_dup(cfg->data_dir);
    st->authority = st_dup(cfg->authority);
    st->arm_endpoint = st_dup(cfg->arm_endpoint);
    st->ca_file = st_dup(cfg->ca_file);
    st->listen_addr = st_dup(cfg->listen_addr ? cfg->listen_addr : "127.0.0.1");
    st->public_host = st_dup(cfg->public_host ? cfg->public_host : "localhost");
    st->tls_cert = st_dup(cfg->tls_cert_pem);
    st->tls_key = st_dup(cfg->tls_key_pem);
    st->root_key = st_secret_dup(cfg->root_key);
    st->rp_key = st_secret_dup(cfg->rp_key);
    st->operator_key = st_secret_dup(cfg->operator_key);
    if (st->data_dir == NULL || st->authority == NULL || st->arm_endpoint == NULL || st->listen_addr == NULL ||
        st->public_host == NULL || st->root_key == NULL)
        goto fail;
    vc.authority = st->authority;
    vc.ca_file = st->ca_file;
    vc.token_cache = 256; /* bearer tokens verified once until they expire (authz/jwt.h) */
    if ((rc = ck_verifier_new(&vc, &st->verifier)) != CK_OK)
        goto fail;
    if ((rc = ck_access_new(st->arm_endpoint, st->ca_file, st->rp_key, &st->access)) != CK_OK)
        goto fail;
    if ((rc = st_store_open(st)) != CK_OK)
        goto fail;
    *out = st;
    return CK_OK;
fail:
    st_free(st);
    return rc;
}

void st_free(struct st *st)
{
    if (st == NULL)
        return;
    st_ks_stop(st);
    if (st->sweeper_running) {
        pthread_mutex_lock(&st->sweeper_lock);
        st->sweeper_stop = 1;
        pthread_cond_broadcast(&st->sweeper_cond);
        pthread_mutex_unlock(&st->sweeper_lock);
        pthread_join(st->sweeper, NULL);
    }
    pthread_mutex_destroy(&st->sweeper_lock);
    pthread_mutex_destroy(&st->txn_lock);
    pthread_cond_destroy(&st->txn_cond);
    pthread_cond_destroy(&st->sweeper_cond);
    ck_httpd_free(st->blob_l);
    ck_httpd_free(st->dev_l);
    st_aek_cache_clear(st);
    pthread_mutex_destroy(&st->aek_lock);
    st_ks_cleanup(st);
    ck_verifier_free(st->verifier);
    ck_access_free(st->access);
    st_store_close(st);
    ck_secret_free(st->root_key);
    ck_secret_free(st->rp_key);
    ck_secret_free(st->operator_key);
    ck_free(st->data_dir);
    ck_free(st->authority);
    ck_free(st->arm_endpoint);
    ck_free(st->ca_file);
    ck_free(st->listen_addr);
    ck_free(st->public_host);
    ck_free(st->tls_cert);
    if (st->tls_key != NULL)
        ck_freezero(st->tls_key, strlen(st->tls_key));
    ck_free(st);
}

static int st_rp_match(void *ctx, const char *path)
{
    (void)ctx;
    return strncmp(path, "/rp/storage/", 12) == 0;
}

static void st_rp_route(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    struct st *st = ctx;
    /* ARM announces every role-assignment change before answering it: cached data-plane
     * decisions are dropped, so the change applies to the next request. */
    if (strcmp(ck_req_path(req), "/rp/storage/notifications") == 0 &&
        ck_shared_key_ok(ck_req_header(req, "Authorization"), "RP", st->rp_key))
        ck_access_forget(st->access);
    st_handle_rp(ctx, req, resp);
}


int st_mount(struct st *st, struct ck_httpd *h)
{
    struct ck_mount m = {.name = "storage-rp", .match = st_rp_match, .handle = st_rp_route,
                         .ctx = st, .body_limit = 256 * 1024};
    return ck_httpd_mount(h, &m);
}

const char *st_dev_origin(const struct st *st)
{
    return st->dev_origin[0] ? st->dev_origin : NULL;
}

const char *st_blob_origin(const struct st *st)
{
    return st->blob_origin;
}

static int st_listen(struct st *st, const char *bind, unsigned port, int tls, const char *name, struct ck_httpd **out)
{
    struct ck_httpd_config c = {.bind_addr = bind, .port = (uint16_t)port, .name = name,
                                .tls_cert_pem = tls ? st->tls_cert : NULL, .tls_key_pem = tls ? st->tls_key : NULL};
    struct ck_mount m = {.name = "blob", .handle = st_blob_handle, .error = st_blob_error, .ctx = st,
                         .begin = st_blob_begin};
    int rc = ck_httpd_new(&c, out);
    if (rc != CK_OK)
        return rc;
    return ck_httpd_mount(*out, &m);
}

#define ST_SWEEP_INTERVAL_S 3600

static void *st_sweeper(void *arg)
{
    struct st *st = arg;
    pthread_mutex_lock(&st->sweeper_lock);
    while (!st->sweeper_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ST_SWEEP_INTERVAL_S;
        pthread_cond_timedwait(&st->sweeper_cond, &st->sweeper_lock, &ts);
        if (st->sweeper_stop)
            break;
        pthread_mutex_unlock(&st->sweeper_lock);
        if (st_blocks_expire(st) != CK_OK)
            ck_log(CK_LOG_WARN, "storage: the sweep of expired blocks failed; it runs again in an hour");
        pthread_mutex_lock(&st->sweeper_lock);
    }
    pthread_mutex_unlock(&st->sweeper_lock);
    return NULL;
}

int st_start(struct st *st)
{
    int rc = st_blob_recover(st);
    if (rc != CK_OK) {
        ck_log(CK_LOG_ERROR, "storage: recovery of the extent store failed");
        return rc;
    }
    if (pthread_create(&st->sweeper, NULL, st_sweeper, st) != 0)
        return CK_E_INTERNAL;
    st->sweeper_running = 1;
    if ((rc = st_listen(st, st->listen_addr, st->cfg.blob_port, 1, "blob", &st->blob_l)) != CK_OK) {
        ck_log(CK_LOG_ERROR, "storage: cannot listen on %s:%u (in use?)", st->listen_addr, st->cfg.blob_port);
        return rc;
    }
    ck_httpd_set_public_host(st->blob_l, st->public_host);
    snprintf(st->blob_origin, sizeof(st->blob_origin), "https://%s:%u", st->public_host, ck_httpd_port(st->blob_l));
    if (st->cfg.dev_account) {
        if ((rc = st_dev_account_ensure(st)) != CK_OK)
            return rc;
        /* Plain HTTP only on loopback, only when asked for (--dev-account). */
        unsigned port = st->cfg.dev_port; /* 0: kernel-chosen */
        if ((rc = st_listen(st, "127.0.0.1", port, 0, "blob-dev", &st->dev_l)) != CK_OK) {
            ck_log(CK_LOG_ERROR, "storage: cannot listen on 127.0.0.1:%u (in use?)", port);
            return rc;
        }
        ck_httpd_set_public_host(st->dev_l, "127.0.0.1");
        snprintf(st->dev_origin, sizeof(st->dev_origin), "http://127.0.0.1:%u", ck_httpd_port(st->dev_l));
    }
    /* Accounts under a customer key: re-validation, version follow, key events (docs/cmk.md). */
    if ((rc = st_ks_start(st)) != CK_OK)
        ck_log(CK_LOG_ERROR, "storage: the key-state keeper could not start");
    return rc;
}

void st_drain(struct st *st, int timeout_ms)
{
    if (st == NULL)
        return;
    st_ks_stop(st); /* long polls to vaults end first */
    ck_httpd_quiesce(st->blob_l);
    ck_httpd_quiesce(st->dev_l);
    if (st->blob_l != NULL)
        ck_httpd_wait_idle(st->blob_l, timeout_ms);
    if (st->dev_l != NULL)
        ck_httpd_wait_idle(st->dev_l, timeout_ms);
}
