/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crosskeyd: runs the selected services in one process over one data directory. On first start
 * it makes the master, operator and resource-provider keys, a local CA and a server certificate
 * for localhost and 127.0.0.1. It starts every listener, mounts the services, writes
 * DIR/endpoints.json, and on SIGTERM or SIGINT drains requests in flight and exits 0.
 * `crosskeyd --data DIR --rotate-root-key` instead rotates the storage platform root key offline
 * (docs/storage.md): every AEK re-wrapped and every account key re-sealed in one transaction, the
 * key file swapped crash-safely; a start finishes or undoes a rotation a crash interrupted.
 */
#include "core/codec.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "crypto/random.h"
#include "daemon/portal.h"
#include "daemon/tls.h"
#include "http/client/httpc.h"
#include "http/server/httpd.h"
#include "services/arm/arm.h"
#include "services/identity/identity.h"
#include "services/storage/storage.h"
#include "services/storage/storage_root.h"
#include "services/vault/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define CKD_DRAIN_MS 10000

struct ckd_opts {
    const char *data;
    const char *listen;
    const char *host;
    long port, blob_port, mi_port, dev_port;
    long vault_lo, vault_hi;
    int role_identity, role_arm, role_vault, role_storage;
    int test_clock, test_faults, dev_account, rotate_root_key;
    const char *vault_dns_suffix;
    long cmk_revalidate, cmk_ride_through, cmk_version_poll; /* seconds; 0: the default */
    int cmk_events_off;
};

static void ckd_usage(FILE *f)
{
    fprintf(f,
            "usage: crosskeyd --data DIR [options]\n"
            "  --data DIR           state directory (created if missing)\n"
            "  --port N             identity, ARM and Graph HTTPS port (default 8443; 0 picks a free port)\n"
            "  --blob-port N        blob HTTPS port (default 10443; 0 picks a free port)\n"
            "  --dev-account        also serve the development account devstoreaccount1 over plain HTTP on\n"
            "                       127.0.0.1 (Azurite's well-known account and key)\n"
            "  --dev-port N         port of the development listener (default 10000)\n"
            "  --mi-port N          managed-identity endpoint, plain HTTP on 127.0.0.1 (default 8180)\n"
            "  --vault-ports A-B    port range for key vault origins (default 8500-8599; 0-0: kernel-chosen)\n"
            "  --roles LIST         services to run: identity,arm,vault,storage (default: all)\n"
            "  --listen ADDR        address for the HTTPS listeners (default 127.0.0.1)\n"
            "  --host NAME          host name clients use in URLs (default localhost)\n"
            "  --log-level LEVEL    debug, info, warn or error (default info)\n"
            "  --test-clock         let the operator move the clock (POST /operator/vault/tick); tests only\n"
            "  --test-faults        let the operator inject vault faults (POST /operator/vault/fault); tests only\n"
            "  --vault-dns-suffix S serve every vault on one origin as https://{vault}.S:{first vault port}/,\n"
            "                       routed by Host header (names must resolve to this host)\n"
            "  --cmk-revalidate S   lease of an AEK under a customer key; the chain runs again after it\n"
            "                       (default 300 s)\n"
            "  --cmk-ride-through S how long an unreachable vault is ridden through on the cached AEK\n"
            "                       (default 900 s)\n"
            "  --cmk-version-poll S how often accounts without a pinned key version look for a newer one\n"
            "                       (default 3600 s; key events are followed at once)\n"
            "  --cmk-events on|off  subscribe to the vaults' key events (default on)\n"
            "  --rotate-root-key    rotate the storage root key (DIR/secrets/storage-root.key or\n"
            "                       $CROSSKEY_STORAGE_ROOT_KEY_FILE) with the daemon stopped, then exit\n");
}

static int ckd_port(const char *s, long *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || v < 0 || v > 65535)
        return -1;
    *out = v;
    return 0;
}

static int ckd_parse(int argc, char **argv, struct ckd_opts *o)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},      {"port", required_argument, NULL, 'p'},
        {"blob-port", required_argument, NULL, 'b'}, {"mi-port", required_argument, NULL, 'm'},
        {"vault-ports", required_argument, NULL, 'v'}, {"roles", required_argument, NULL, 'r'},
        {"listen", required_argument, NULL, 'l'},    {"host", required_argument, NULL, 'H'},
        {"log-level", required_argument, NULL, 'L'}, {"help", no_argument, NULL, 'h'},
        {"test-clock", no_argument, NULL, 'T'},      {"vault-dns-suffix", required_argument, NULL, 'S'},
        {"dev-account", no_argument, NULL, 'D'},     {"dev-port", required_argument, NULL, 'P'},
        {"rotate-root-key", no_argument, NULL, 'R'}, {"test-faults", no_argument, NULL, 'F'},
        {"cmk-revalidate", required_argument, NULL, 1001}, {"cmk-ride-through", required_argument, NULL, 1002},
        {"cmk-version-poll", required_argument, NULL, 1003}, {"cmk-events", required_argument, NULL, 1004},
        {NULL, 0, NULL, 0},
    };
    int c;
    memset(o, 0, sizeof(*o));
    o->port = 8443;
    o->blob_port = 10443;
    o->mi_port = 8180;
    o->dev_port = 10000;
    o->vault_lo = 8500;
    o->vault_hi = 8599;
    o->listen = "127.0.0.1";
    o->host = "localhost";
    o->role_identity = o->role_arm = o->role_vault = o->role_storage = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': o->data = optarg; break;
        case 'p': if (ckd_port(optarg, &o->port)) goto bad; break;
        case 'b': if (ckd_port(optarg, &o->blob_port)) goto bad; break;
        case 'm': if (ckd_port(optarg, &o->mi_port)) goto bad; break;
        case 'P': if (ckd_port(optarg, &o->dev_port)) goto bad; break;
        case 'D': o->dev_account = 1; break;
        case 'R': o->rotate_root_key = 1; break;
        case 'v': {
            char lo[16], hi[16];
            if (sscanf(optarg, "%15[0-9]-%15[0-9]", lo, hi) != 2 || ckd_port(lo, &o->vault_lo) ||
                ckd_port(hi, &o->vault_hi) || o->vault_lo > o->vault_hi)
                goto bad;
            break;
        }
        case 'r': {
            o->role_identity = o->role_arm = o->role_vault = o->role_storage = 0;
            char *copy = strdup(optarg), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (strcmp(t, "identity") == 0)
                    o->role_identity = 1;
                else if (strcmp(t, "arm") == 0)
                    o->role_arm = 1;
                else if (strcmp(t, "vault") == 0)
                    o->role_vault = 1;
                else if (strcmp(t, "storage") == 0)
                    o->role_storage = 1;
                else {
                    fprintf(stderr, "crosskeyd: role '%s' is not in this build (available: identity, arm, vault, storage)\n",
                            t);
                    free(copy);
                    return -1;
                }
            }
            free(copy);
            break;
        }
        case 'l': o->listen = optarg; break;
        case 'H': o->host = optarg; break;
        case 'L':
            if (strcmp(optarg, "debug") == 0) ck_log_set_level(CK_LOG_DEBUG);
            else if (strcmp(optarg, "info") == 0) ck_log_set_level(CK_LOG_INFO);
            else if (strcmp(optarg, "warn") == 0) ck_log_set_level(CK_LOG_WARN);
            else if (strcmp(optarg, "error") == 0) ck_log_set_level(CK_LOG_ERROR);
            else goto bad;
            break;
        case 'T': o->test_clock = 1; break;
        case 'F': o->test_faults = 1; break;
        case 1001:
        case 1002:
        case 1003: {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (optarg[0] == '\0' || *end != '\0' || v < 1 || v > 7 * 86400)
                goto bad;
            *(c == 1001 ? &o->cmk_revalidate : c == 1002 ? &o->cmk_ride_through : &o->cmk_version_poll) = v;
            break;
        }
        case 1004:
            if (strcmp(optarg, "on") == 0) o->cmk_events_off = 0;
            else if (strcmp(optarg, "off") == 0) o->cmk_events_off = 1;
            else goto bad;
            break;
        case 'S':
            if (strlen(optarg) == 0 || strlen(optarg) > 200 || strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(optarg) ||
                optarg[0] == '.' || strchr(optarg, '.') == NULL)
                goto bad;
            o->vault_dns_suffix = optarg;
            break;
        case 'h': ckd_usage(stdout); exit(0);
        default: goto bad;
        }
    }
    if (o->data == NULL || optind != argc)
        goto bad;
    return 0;
bad:
    ckd_usage(stderr);
    return -1;
}

/* Loads a base64url key file, creating it with random bytes (mode 0600) when absent. */
static int ckd_key_file(const char *dir, const char *name, size_t len, struct ck_secret **out)
{
    char *path = ck_path_join(dir, name);
    char *text = NULL;
    size_t tl = 0;
    int rc = CK_E_IO;
    if (path == NULL)
        return CK_E_NOMEM;
    if (ck_read_file(path, 1024, &text, &tl) != 0) {
        struct ck_secret *raw = NULL;
        if (errno != ENOENT || ck_rand_secret(len, &raw) != CK_OK)
            goto out;
        text = ck_b64url_encode(ck_secret_ptr(raw), len);
        ck_secret_free(raw);
        if (text == NULL)
            goto out;
        tl = strlen(text);
        if (ck_write_file_atomic(path, text, tl, 0600) != 0)
            goto out;
    }
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
        ck_log(CK_LOG_WARN, "%s is readable by others; it should be mode 0600", path);
    while (tl > 0 && (text[tl - 1] == '\n' || text[tl - 1] == '\r'))
        text[--tl] = '\0';
    /* The secret holds exactly the key text: what clients present in the Authorization header. */
    *out = ck_secret_from(text, tl);
    rc = *out ? CK_OK : CK_E_NOMEM;
out:
    if (rc != CK_OK)
        ck_log(CK_LOG_ERROR, "cannot read or create %s", path);
    if (text != NULL)
        ck_freezero(text, tl);
    ck_free(path);
    return rc;
}

/* Turns the base64url key text into the raw 32-byte sealing key. */
static int ckd_raw_key(const struct ck_secret *text, struct ck_secret **raw)
{
    uint8_t *b = NULL;
    size_t bl = 0;
    if (ck_b64url_decode((const char *)ck_secret_ptr(text), ck_secret_len(text), &b, &bl) != 0)
        return CK_E_INVALID;
    if (bl != CK_SEAL_KEY_LEN) {
        ck_freezero(b, bl);
        return CK_E_INVALID;
    }
    *raw = ck_secret_from(b, bl);
    ck_freezero(b, bl);
    return *raw ? CK_OK : CK_E_NOMEM;
}

/* Loads a 32-byte sealing key: from the file named by the environment variable env when set (an
 * absolute path, created when missing), else from DIR/secrets/name. */
static int ckd_master_key(const char *secrets_dir, const char *name, const char *env, struct ck_secret **text,
                          struct ck_secret **raw)
{
    const char *ext = getenv(env);
    int rc;
    if (ext != NULL) {
        char *dir = ck_strdup(ext), *slash = dir ? strrchr(dir, '/') : NULL;
        if (dir == NULL || slash == NULL || slash == dir) {
            ck_log(CK_LOG_ERROR, "%s must be an absolute path to a file", env);
            ck_free(dir);
            return CK_E_INVALID;
        }
        *slash = '\0';
        rc = ckd_key_file(dir, slash + 1, CK_SEAL_KEY_LEN, text);
        ck_free(dir);
    } else {
        rc = ckd_key_file(secrets_dir, name, CK_SEAL_KEY_LEN, text);
    }
    if (rc != CK_OK)
        return rc;
    if ((rc = ckd_raw_key(*text, raw)) != CK_OK)
        ck_log(CK_LOG_ERROR, "the key in %s is not 32 bytes of base64url", ext ? ext : name);
    return rc;
}

/* ---- the storage root key (docs/storage.md, "Root key rotation") ---- */

#define CKD_ROOT_KEY_NAME "storage-root.key"
#define CKD_ROOT_KEY_ENV "CROSSKEY_STORAGE_ROOT_KEY_FILE"

/* The root key file: $CROSSKEY_STORAGE_ROOT_KEY_FILE, else DIR/secrets/storage-root.key. */
static char *ckd_root_key_path(const char *secrets_dir)
{
    const char *ext = getenv(CKD_ROOT_KEY_ENV);
    return ext != NULL ? ck_strdup(ext) : ck_path_join(secrets_dir, CKD_ROOT_KEY_NAME);
}

/* Reads an existing 32-byte base64url key file. Returns CK_OK, CK_E_NOT_FOUND or an error. */
static int ckd_read_raw_key(const char *path, struct ck_secret **raw)
{
    char *text = NULL;
    size_t tl = 0;
    int rc;
    if (ck_read_file(path, 1024, &text, &tl) != 0)
        return errno == ENOENT ? CK_E_NOT_FOUND : CK_E_IO;
    while (tl > 0 && (text[tl - 1] == '\n' || text[tl - 1] == '\r'))
        text[--tl] = '\0';
    struct ck_secret *t = ck_secret_from(text, tl);
    ck_freezero(text, tl);
    if (t == NULL)
        return CK_E_NOMEM;
    rc = ckd_raw_key(t, raw);
    ck_secret_free(t);
    return rc;
}

/* fsync of the directory that holds path, so that a rename in it is durable. */
static int ckd_sync_dir_of(const char *path)
{
    char *dir = ck_strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
    int fd, rc = -1;
    if (dir == NULL)
        return -1;
    if (slash == dir)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    fd = open(slash != NULL ? dir : ".", O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        rc = fsync(fd);
        close(fd);
    }
    ck_free(dir);
    return rc;
}

/*
 * The lock that keeps a rotation and a running storage service apart: an exclusive flock on
 * DIR/storage/root.lock, held for the life of the process. Returns the fd, or -1 (logged) when
 * another process holds it.
 */
static int ckd_storage_lock(const char *st_dir)
{
    char *path = ck_path_join(st_dir, "root.lock");
    int fd = -1;
    if (path == NULL || ck_mkdirs(st_dir, 0700) != 0)
        goto out;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ck_log(CK_LOG_ERROR, "%s is locked: another crosskeyd runs the storage service on this data directory", path);
        close(fd);
        fd = -1;
    }
out:
    ck_free(path);
    return fd;
}

/*
 * Finishes or undoes a rotation a crash interrupted: KEY.next exists. If any account row carries
 * the identifier of the next key, the transaction committed and the file swap is finished;
 * otherwise the next key is dropped (nothing was wrapped under it). Returns CK_OK or an error.
 */
static int ckd_root_recover(const char *st_dir, const char *key_path)
{
    char *next_path = NULL;
    struct ck_secret *next = NULL;
    long mine = 0, other = 0;
    int rc;
    size_t n = strlen(key_path) + sizeof(".next");
    next_path = ck_malloc(n);
    if (next_path == NULL)
        return CK_E_NOMEM;
    snprintf(next_path, n, "%s.next", key_path);
    rc = ckd_read_raw_key(next_path, &next);
    if (rc == CK_E_NOT_FOUND) {
        rc = CK_OK;
        goto out;
    }
    if (rc != CK_OK) {
        /* ck_write_file_atomic never leaves a partial file: an unreadable one is not ours. */
        ck_log(CK_LOG_ERROR, "%s exists but is not a root key; move it away", next_path);
        goto out;
    }
    if ((rc = st_root_status(st_dir, next, &mine, &other)) != CK_OK) {
        ck_log(CK_LOG_ERROR, "cannot read the storage store to recover an interrupted root key rotation");
        goto out;
    }
    if (mine > 0 && other > 0) {
        ck_log(CK_LOG_ERROR, "the storage store holds accounts under two root keys; refusing to guess");
        rc = CK_E_CRYPTO;
    } else if (mine > 0) {
        if (rename(next_path, key_path) != 0 || ckd_sync_dir_of(key_path) != 0) {
            ck_log(CK_LOG_ERROR, "cannot rename %s to %s", next_path, key_path);
            rc = CK_E_IO;
        } else {
            ck_log(CK_LOG_INFO, "finished an interrupted storage root key rotation (%ld accounts)", mine);
        }
    } else {
        if (unlink(next_path) != 0 || ckd_sync_dir_of(next_path) != 0) {
            ck_log(CK_LOG_ERROR, "cannot remove %s", next_path);
            rc = CK_E_IO;
        } else {
            ck_log(CK_LOG_INFO, "undid an interrupted storage root key rotation (the current key stays)");
        }
    }
out:
    ck_secret_free(next);
    ck_free(next_path);
    return rc;
}

/* Refuses a root key the store was not written under. */
static int ckd_root_check(const char *st_dir, const struct ck_secret *root)
{
    long mine = 0, other = 0;
    char kid[40];
    if (st_root_status(st_dir, root, &mine, &other) != CK_OK) {
        ck_log(CK_LOG_ERROR, "cannot open the storage store under %s", st_dir);
        return CK_E_DB;
    }
    if (other > 0) {
        st_root_key_id(root, kid, sizeof(kid));
        ck_log(CK_LOG_ERROR, "%ld storage account(s) are under another root key than the configured one (%s); "
               "start with the key they were written under", other, kid);
        return CK_E_CRYPTO;
    }
    return CK_OK;
}

/* crosskeyd --data DIR --rotate-root-key. Returns the exit code. */
static int ckd_rotate_root_key(const char *data)
{
    char *secrets_dir = ck_path_join(data, "secrets"), *st_dir = ck_path_join(data, "storage");
    char *key_path = NULL, *next_path = NULL, *text = NULL;
    struct ck_secret *cur = NULL, *next = NULL;
    char old_kid[40], new_kid[40];
    long rows = 0, mine = 0, other = 0;
    int lock = -1, code = 1, rc;

    if (secrets_dir == NULL || st_dir == NULL || (key_path = ckd_root_key_path(secrets_dir)) == NULL)
        goto out;
    if ((lock = ckd_storage_lock(st_dir)) < 0)
        goto out;
    if (ckd_root_recover(st_dir, key_path) != CK_OK)
        goto out;
    rc = ckd_read_raw_key(key_path, &cur);
    if (rc != CK_OK) {
        ck_log(CK_LOG_ERROR, "cannot read the storage root key %s (%s)", key_path,
               rc == CK_E_NOT_FOUND ? "missing" : "not 32 bytes of base64url");
        goto out;
    }
    if (ckd_root_check(st_dir, cur) != CK_OK || st_root_status(st_dir, cur, &mine, &other) != CK_OK)
        goto out;
    /* 1. the new key, durable under KEY.next */
    size_t n = strlen(key_path) + sizeof(".next");
    if ((next_path = ck_malloc(n)) == NULL || ck_rand_secret(CK_SEAL_KEY_LEN, &next) != CK_OK)
        goto out;
    snprintf(next_path, n, "%s.next", key_path);
    if ((text = ck_b64url_encode(ck_secret_ptr(next), CK_SEAL_KEY_LEN)) == NULL ||
        ck_write_file_atomic(next_path, text, strlen(text), 0600) != 0) {
        ck_log(CK_LOG_ERROR, "cannot write %s", next_path);
        goto out;
    }
    /* 2. every row re-wrapped in one transaction, which records the new key's identifier */
    if ((rc = st_root_rotate(st_dir, cur, next, &rows)) != CK_OK) {
        ck_log(CK_LOG_ERROR, "the storage root key rotation failed (%s); nothing changed", ck_err_text(rc));
        if (unlink(next_path) != 0)
            ck_log(CK_LOG_WARN, "cannot remove %s; the next start removes it", next_path);
        goto out;
    }
    /* 3. the swap; a crash before it is finished by the next start (step 2 committed) */
    if (rename(next_path, key_path) != 0 || ckd_sync_dir_of(key_path) != 0) {
        ck_log(CK_LOG_ERROR, "cannot rename %s to %s; the next start finishes the rotation", next_path, key_path);
        goto out;
    }
    st_root_key_id(cur, old_kid, sizeof(old_kid));
    st_root_key_id(next, new_kid, sizeof(new_kid));
    printf("storage root key rotated: %s -> %s, %ld account(s) re-wrapped\n", old_kid, new_kid, rows);
    ck_log(CK_LOG_INFO, "storage root key rotated: %s -> %s, %ld account(s) re-wrapped", old_kid, new_kid, rows);
    code = 0;
out:
    if (lock >= 0)
        close(lock);
    if (text != NULL)
        ck_freezero(text, strlen(text));
    ck_secret_free(cur);
    ck_secret_free(next);
    ck_free(next_path);
    ck_free(key_path);
    ck_free(secrets_dir);
    ck_free(st_dir);
    return code;
}

static int ckd_write_endpoints(const char *data, const char *main_origin, const char *mi, const char *ca,
                               const char *blob, const char *blob_dev)
{
    char *path = ck_path_join(data, "endpoints.json");
    json_t *o = json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:s,s:s}", "authority", main_origin, "arm", main_origin, "graph",
                          main_origin, "blob", blob, "blobDev", blob_dev, "managedIdentity", mi, "caFile", ca);
    char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    int rc = -1;
    if (path != NULL && text != NULL)
        rc = ck_write_file_atomic(path, text, strlen(text), 0644);
    free(text);
    json_decref(o);
    ck_free(path);
    return rc;
}

int main(int argc, char **argv)
{
    struct ckd_opts o;
    struct ck_secret *master_text = NULL, *master = NULL, *op_key = NULL, *rp_key = NULL;
    struct ck_secret *kv_master_text = NULL, *kv_master = NULL, *st_root_text = NULL, *st_root = NULL;
    struct ckd_tls tls = {0};
    struct ck_httpd *main_l = NULL, *mi_l = NULL;
    struct idp *idp = NULL;
    struct arm *arm = NULL;
    struct kv *kv = NULL;
    struct st *st = NULL;
    char *secrets_dir = NULL, *id_dir = NULL, *arm_dir = NULL, *kv_dir = NULL, *st_dir = NULL, *endpoints = NULL;
    char *root_path = NULL;
    int st_lock = -1;
    char origin[300], mi_origin[64];
    sigset_t sigs;
    int exit_code = 1, sig = 0;
    struct rlimit nocore = {0, 0};

    /* Core dumps would carry keys and tokens (DESIGN.md section 6, invariant 2). */
    setrlimit(RLIMIT_CORE, &nocore);
    if (ckd_parse(argc, argv, &o) != 0)
        return 2;
    umask(077);
    if (o.rotate_root_key)
        return ckd_rotate_root_key(o.data);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    if (ck_httpc_global_init() != CK_OK)
        return 1;
    if (ck_mkdirs(o.data, 0700) != 0) {
        ck_log(CK_LOG_ERROR, "cannot create the data directory %s", o.data);
        return 1;
    }
    endpoints = ck_path_join(o.data, "endpoints.json");
    if (endpoints != NULL)
        unlink(endpoints);
    secrets_dir = ck_path_join(o.data, "secrets");
    id_dir = ck_path_join(o.data, "identity");
    arm_dir = ck_path_join(o.data, "arm");
    kv_dir = ck_path_join(o.data, "vault");
    st_dir = ck_path_join(o.data, "storage");
    if (secrets_dir == NULL || id_dir == NULL || arm_dir == NULL || kv_dir == NULL || st_dir == NULL ||
        ck_mkdirs(secrets_dir, 0700) != 0)
        goto out;
    if (ckd_master_key(secrets_dir, "master.key", "CROSSKEY_MASTER_KEY_FILE", &master_text, &master) != CK_OK)
        goto out;
    if (o.role_vault &&
        ckd_master_key(secrets_dir, "vault-master.key", "CROSSKEY_VAULT_MASTER_KEY_FILE", &kv_master_text, &kv_master) != CK_OK)
        goto out;
    if (o.role_storage) {
        /* Finish or undo an interrupted rotation, then load the key and check the store agrees. */
        if ((st_lock = ckd_storage_lock(st_dir)) < 0 || (root_path = ckd_root_key_path(secrets_dir)) == NULL ||
            ckd_root_recover(st_dir, root_path) != CK_OK ||
            ckd_master_key(secrets_dir, CKD_ROOT_KEY_NAME, CKD_ROOT_KEY_ENV, &st_root_text, &st_root) != CK_OK ||
            ckd_root_check(st_dir, st_root) != CK_OK)
            goto out;
    }
    if (ckd_key_file(secrets_dir, "operator.key", 32, &op_key) != CK_OK ||
        ckd_key_file(secrets_dir, "rp.key", 32, &rp_key) != CK_OK)
        goto out;
    char extra_hosts[256] = "";
    if (o.vault_dns_suffix != NULL)
        snprintf(extra_hosts, sizeof(extra_hosts), "*.%s", o.vault_dns_suffix);
    if (ckd_tls_load(o.data, master, extra_hosts[0] ? extra_hosts : NULL, &tls) != CK_OK) {
        ck_log(CK_LOG_ERROR, "cannot create or load the TLS material under %s/tls", o.data);
        goto out;
    }
    ck_httpc_set_ca_file(tls.ca_file);

    struct ck_httpd_config mc = {.bind_addr = o.listen, .port = (uint16_t)o.port, .tls_cert_pem = tls.chain_pem,
                                 .tls_key_pem = (const char *)ck_secret_ptr(tls.key_pem), .name = "main"};
    if (ck_httpd_new(&mc, &main_l) != CK_OK) {
        ck_log(CK_LOG_ERROR, "cannot listen on %s:%ld (in use?)", o.listen, o.port);
        goto out;
    }
    ck_httpd_set_public_host(main_l, o.host);
    snprintf(origin, sizeof(origin), "https://%s:%u", o.host, ck_httpd_port(main_l));
    if (ckd_portal_mount(main_l) != CK_OK) /* first: /portal/ before the services' matchers */
        goto out;
    if (o.role_identity) {
        struct ck_httpd_config ic = {.bind_addr = "127.0.0.1", .port = (uint16_t)o.mi_port, .name = "mi"};
        if (ck_httpd_new(&ic, &mi_l) != CK_OK) {
            ck_log(CK_LOG_ERROR, "cannot listen on 127.0.0.1:%ld (in use?)", o.mi_port);
            goto out;
        }
        ck_httpd_set_public_host(mi_l, "127.0.0.1");
        snprintf(mi_origin, sizeof(mi_origin), "http://127.0.0.1:%u", ck_httpd_port(mi_l));
        struct idp_config icfg = {.data_dir = id_dir, .authority = origin, .mi_endpoint = mi_origin,
                                  .ca_file = tls.ca_file, .master_key = master, .operator_key = op_key,
                                  .rp_key = rp_key};
        if (idp_new(&icfg, &idp) != CK_OK || idp_mount(idp, main_l) != CK_OK || idp_mount_mi(idp, mi_l) != CK_OK) {
            ck_log(CK_LOG_ERROR, "the identity service failed to start");
            goto out;
        }
    } else {
        mi_origin[0] = '\0';
    }
    if (o.role_vault) {
        struct kv_config kcfg = {.data_dir = kv_dir, .authority = origin, .arm_endpoint = origin,
                                 .ca_file = tls.ca_file, .master_key = kv_master, .rp_key = rp_key,
                                 .listen_addr = o.listen, .public_host = o.host, .tls_cert_pem = tls.chain_pem,
                                 .tls_key_pem = (const char *)ck_secret_ptr(tls.key_pem),
                                 .port_lo = (unsigned)o.vault_lo, .port_hi = (unsigned)o.vault_hi,
                                 .operator_key = op_key, .test_clock = o.test_clock, .test_faults = o.test_faults,
                                 .dns_suffix = o.vault_dns_suffix};
        if (kv_new(&kcfg, &kv) != CK_OK || kv_mount(kv, main_l) != CK_OK) {
            ck_log(CK_LOG_ERROR, "the vault service failed to start");
            goto out;
        }
    }
    if (o.role_storage) {
        struct st_config scfg = {.data_dir = st_dir, .authority = origin, .arm_endpoint = origin,
                                 .ca_file = tls.ca_file, .root_key = st_root, .rp_key = rp_key,
                                 .operator_key = op_key, .listen_addr = o.listen, .public_host = o.host,
                                 .tls_cert_pem = tls.chain_pem, .tls_key_pem = (const char *)ck_secret_ptr(tls.key_pem),
                                 .blob_port = (unsigned)o.blob_port, .dev_account = o.dev_account,
                                 .dev_port = (unsigned)o.dev_port, .cmk_revalidate_s = (unsigned)o.cmk_revalidate,
                                 .cmk_ride_through_s = (unsigned)o.cmk_ride_through,
                                 .cmk_version_poll_s = (unsigned)o.cmk_version_poll,
                                 .cmk_events_off = o.cmk_events_off};
        if (st_new(&scfg, &st) != CK_OK || st_mount(st, main_l) != CK_OK) {
            ck_log(CK_LOG_ERROR, "the storage service failed to start");
            goto out;
        }
    }
    if (o.role_arm) {
        struct arm_config acfg = {.data_dir = arm_dir, .endpoint = origin, .authority = origin,
                                  .ca_file = tls.ca_file, .operator_key = op_key, .rp_key = rp_key};
        char rp_base[400];
        snprintf(rp_base, sizeof(rp_base), "%s/rp/identity", origin);
        char kv_base[400];
        snprintf(kv_base, sizeof(kv_base), "%s/rp/vault", origin);
        acfg.rps[0].ns = "Microsoft.ManagedIdentity";
        acfg.rps[0].base_url = rp_base;
        acfg.rps[1].ns = "Microsoft.KeyVault";
        acfg.rps[1].base_url = kv_base;
        char st_base[400];
        snprintf(st_base, sizeof(st_base), "%s/rp/storage", origin);
        acfg.rps[2].ns = "Microsoft.Storage";
        acfg.rps[2].base_url = st_base;
        acfg.nrps = 3;
        if (arm_new(&acfg, &arm) != CK_OK || arm_mount(arm, main_l) != CK_OK) {
            ck_log(CK_LOG_ERROR, "the ARM service failed to start");
            goto out;
        }
    }
    /* Vault origins start once ARM (check-access) is mounted. */
    if (kv != NULL && kv_start(kv) != CK_OK) {
        ck_log(CK_LOG_ERROR, "the vault origins failed to start");
        goto out;
    }
    if (st != NULL && st_start(st) != CK_OK) {
        ck_log(CK_LOG_ERROR, "the blob service failed to start");
        goto out;
    }
    if (ckd_write_endpoints(o.data, origin, mi_origin, tls.ca_file, st ? st_blob_origin(st) : NULL,
                            st ? st_dev_origin(st) : NULL) != 0) {
        ck_log(CK_LOG_ERROR, "cannot write %s", endpoints);
        goto out;
    }
    ck_log(CK_LOG_INFO, "crosskeyd ready: main %s, managed identity %s, blob %s, data %s", origin,
           mi_origin[0] ? mi_origin : "-", st ? st_blob_origin(st) : "-", o.data);
    sigwait(&sigs, &sig);
    ck_log(CK_LOG_INFO, "signal %d: draining requests in flight", sig);
    ck_httpd_quiesce(main_l);
    ck_httpd_quiesce(mi_l);
    /* Storage first: its key-event long polls and vault calls end before the vaults drain. */
    st_drain(st, CKD_DRAIN_MS);
    if (kv != NULL)
        kv_drain(kv, CKD_DRAIN_MS);
    if (!ck_httpd_wait_idle(main_l, CKD_DRAIN_MS) || (mi_l && !ck_httpd_wait_idle(mi_l, CKD_DRAIN_MS)))
        ck_log(CK_LOG_WARN, "requests still in flight after %d ms; stopping anyway", CKD_DRAIN_MS);
    exit_code = 0;
out:
    ck_httpd_free(main_l);
    ck_httpd_free(mi_l);
    kv_free(kv);
    st_free(st);
    idp_free(idp);
    arm_free(arm);
    if (endpoints != NULL && exit_code == 0)
        unlink(endpoints);
    ckd_tls_cleanup(&tls);
    ck_secret_free(master_text);
    ck_secret_free(master);
    ck_secret_free(kv_master_text);
    ck_secret_free(kv_master);
    ck_secret_free(st_root_text);
    ck_secret_free(st_root);
    if (st_lock >= 0)
        close(st_lock);
    ck_free(root_path);
    ck_free(st_dir);
    ck_secret_free(op_key);
    ck_secret_free(rp_key);
    ck_free(secrets_dir);
    ck_free(id_dir);
    ck_free(arm_dir);
    ck_free(kv_dir);
    ck_free(endpoints);
    ck_log(CK_LOG_INFO, "crosskeyd stopped");
    return exit_code;
}
