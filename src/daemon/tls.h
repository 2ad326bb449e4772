/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_DAEMON_TLS_H
#define CK_DAEMON_TLS_H

#include "core/secret.h"

/* The daemon's TLS material: a local CA and a server certificate for localhost and 127.0.0.1. */
struct ckd_tls {
    char *ca_file;              /* DIR/tls/ca.pem, handed to clients (NODE_EXTRA_CA_CERTS) */
    char *chain_pem;            /* server certificate followed by the CA certificate */
    struct ck_secret *key_pem;  /* server private key, PEM, NUL-terminated; memory only */
};

/*
 * Loads DIR/tls/, creating the CA and server certificate on first start. extra_hosts (a comma-
 * separated list such as "*.vault.localtest", or NULL) is added to the certificate's names; the
 * certificate is issued again when the list of names changes. Private keys are kept
 * only sealed under master (the .key.sealed files under DIR/tls). Returns CK_OK or an error.
 */
int ckd_tls_load(const char *data_dir, const struct ck_secret *master, const char *extra_hosts, struct ckd_tls *out);
void ckd_tls_cleanup(struct ckd_tls *t);

#endif
