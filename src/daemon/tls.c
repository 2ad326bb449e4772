/* SPDX-License-Identifier: Apache-2.0 */
/*
 * First-start TLS bootstrap: a local CA (10 years) and a server certificate it issues for
 * localhost and 127.0.0.1 (2 years). Certificates are plain PEM files; the private keys are
 * persisted only sealed under the master key, and unsealed into memory for the TLS library.
 */
#include "daemon/tls.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "crypto/crypto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CKD_SERVER_HOSTS "localhost,127.0.0.1,::1"

static int ckd_save_key(const char *path, const char *aad, const struct ck_secret *master, const struct ck_pkey *k)
{
    struct ck_secret *der = NULL;
    uint8_t *sealed = NULL;
    size_t sl = 0;
    int rc = ck_pkey_private_der(k, &der);
    if (rc == CK_OK)
        rc = ck_seal(master, aad, strlen(aad), ck_secret_ptr(der), ck_secret_len(der), &sealed, &sl);
    if (rc == CK_OK && ck_write_file_atomic(path, sealed, sl, 0600) != 0)
        rc = CK_E_IO;
    ck_secret_free(der);
    ck_free(sealed);
    return rc;
}

static int ckd_load_key(const char *path, const char *aad, const struct ck_secret *master, struct ck_pkey **out)
{
    char *sealed = NULL;
    size_t sl = 0;
    struct ck_secret *der = NULL;
    int rc;
    if (ck_read_file(path, 64 * 1024, &sealed, &sl) != 0)
        return errno == ENOENT ? CK_E_NOT_FOUND : CK_E_IO;
    rc = ck_open(master, aad, strlen(aad), (const uint8_t *)sealed, sl, &der);
    ck_free(sealed);
    if (rc != CK_OK) {
        ck_log(CK_LOG_ERROR, "%s cannot be unsealed with this master key", path);
        return rc;
    }
    rc = ck_pkey_from_private_der(ck_secret_ptr(der), ck_secret_len(der), out);
    ck_secret_free(der);
    return rc;
}

int ckd_tls_load(const char *data_dir, const struct ck_secret *master, const char *extra_hosts, struct ckd_tls *out)
{
    char hosts[1024];
    char *hosts_path = NULL, *old_hosts = NULL;
    char *dir = ck_path_join(data_dir, "tls");
    char *ca_pem_path = dir ? ck_path_join(dir, "ca.pem") : NULL;
    char *ca_key_path = dir ? ck_path_join(dir, "ca.key.sealed") : NULL;
    char *srv_pem_path = dir ? ck_path_join(dir, "server.pem") : NULL;
    char *srv_key_path = dir ? ck_path_join(dir, "server.key.sealed") : NULL;
    struct ck_pkey *ca_key = NULL, *srv_key = NULL;
    char *ca_pem = NULL, *srv_pem = NULL;
    size_t len;
    int rc = CK_E_NOMEM;

    memset(out, 0, sizeof(*out));
    snprintf(hosts, sizeof(hosts), "%s%s%s", CKD_SERVER_HOSTS, extra_hosts ? "," : "", extra_hosts ? extra_hosts : "");
    hosts_path = dir ? ck_path_join(dir, "server.hosts") : NULL;
    if (srv_key_path == NULL || hosts_path == NULL || ck_mkdirs(dir, 0700) != 0)
        goto out;
    /* A change of names (a new --vault-dns-suffix) needs a new server certificate. */
    if (ck_read_file(hosts_path, 4096, &old_hosts, &len) != 0 || strcmp(old_hosts, hosts) != 0) {
        unlink(srv_pem_path);
        unlink(srv_key_path);
    }
    /* The CA: load both halves, or make a new one. */
    rc = ckd_load_key(ca_key_path, "ck-tls-key:ca", master, &ca_key);
    if (rc == CK_OK && ck_read_file(ca_pem_path, 64 * 1024, &ca_pem, &len) != 0)
        rc = CK_E_IO;
    if (rc == CK_E_NOT_FOUND) {
        if ((rc = ck_pkey_rsa_generate(2048, &ca_key)) != CK_OK ||
            (rc = ck_x509_self_signed(ca_key, "crosskey local CA", 1, 3650, &ca_pem)) != CK_OK ||
            (rc = ckd_save_key(ca_key_path, "ck-tls-key:ca", master, ca_key)) != CK_OK)
            goto out;
        if (ck_write_file_atomic(ca_pem_path, ca_pem, strlen(ca_pem), 0644) != 0) {
            rc = CK_E_IO;
            goto out;
        }
        unlink(srv_pem_path);
        unlink(srv_key_path);
    } else if (rc != CK_OK) {
        goto out;
    }
    /* The server certificate. */
    rc = ckd_load_key(srv_key_path, "ck-tls-key:server", master, &srv_key);
    if (rc == CK_OK && ck_read_file(srv_pem_path, 64 * 1024, &srv_pem, &len) != 0)
        rc = CK_E_IO;
    if (rc == CK_E_NOT_FOUND || rc == CK_E_IO) {
        ck_pkey_free(srv_key);
        srv_key = NULL;
        if ((rc = ck_pkey_rsa_generate(2048, &srv_key)) != CK_OK ||
            (rc = ck_x509_issue(ca_key, ca_pem, srv_key, "localhost", hosts, 730, &srv_pem)) != CK_OK ||
            (rc = ckd_save_key(srv_key_path, "ck-tls-key:server", master, srv_key)) != CK_OK)
            goto out;
        if (ck_write_file_atomic(srv_pem_path, srv_pem, strlen(srv_pem), 0644) != 0 ||
            ck_write_file_atomic(hosts_path, hosts, strlen(hosts), 0644) != 0) {
            rc = CK_E_IO;
            goto out;
        }
    } else if (rc != CK_OK) {
        goto out;
    }
    rc = CK_E_NOMEM;
    size_t cl = strlen(srv_pem) + strlen(ca_pem) + 1;
    out->chain_pem = ck_malloc(cl);
    if (out->chain_pem == NULL)
        goto out;
    snprintf(out->chain_pem, cl, "%s%s", srv_pem, ca_pem);
    if ((rc = ck_pkey_private_pem(srv_key, &out->key_pem)) != CK_OK)
        goto out;
    out->ca_file = ca_pem_path;
    ca_pem_path = NULL;
    rc = CK_OK;
out:
    if (rc != CK_OK)
        ckd_tls_cleanup(out);
    ck_pkey_free(ca_key);
    ck_pkey_free(srv_key);
    ck_free(ca_pem);
    ck_free(srv_pem);
    ck_free(dir);
    ck_free(ca_pem_path);
    ck_free(ca_key_path);
    ck_free(srv_pem_path);
    ck_free(srv_key_path);
    ck_free(hosts_path);
    ck_free(old_hosts);
    return rc;
}

void ckd_tls_cleanup(struct ckd_tls *t)
{
    ck_free(t->ca_file);
    ck_free(t->chain_pem);
    ck_secret_free(t->key_pem);
    memset(t, 0, sizeof(*t));
}
