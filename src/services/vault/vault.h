/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_SERVICES_VAULT_H
#define CK_SERVICES_VAULT_H

/*
 * The key vault service: vaults (as the Microsoft.KeyVault resource provider behind ARM), each
 * served on its own HTTPS origin, and the Key Vault keys data plane: challenge authentication,
 * RBAC through ARM's check-access, key custody under the vault master key, soft delete, rotation,
 * cryptographic operations and a hash-chained audit log.
 */
#include "core/err.h"
#include "core/secret.h"
#include "http/server/httpd.h"

struct kv;

struct kv_config {
    const char *data_dir;                /* DIR/vault: vault.db lives here */
    const char *authority;               /* identity origin: JWKS and the challenge's authorization URL */
    const char *arm_endpoint;            /* ARM origin, for check-access */
    const char *ca_file;                 /* CA for outgoing HTTPS */
    const struct ck_secret *master_key;  /* 32 bytes: seals key material at rest */
    const struct ck_secret *rp_key;      /* the ARM-to-resource-provider credential (both ways) */
    const char *listen_addr;             /* bind address for vault origins */
    const char *public_host;             /* host name in vault URIs ("localhost") */
    const char *tls_cert_pem;            /* server certificate chain for vault origins */
    const char *tls_key_pem;
    unsigned port_lo, port_hi;           /* port range for vault origins; 0-0: kernel-chosen */
    const char *resource;                /* token audience / challenge resource; "https://vault.azure.net" */
    const struct ck_secret *operator_key; /* the operator credential (docs/internal-api.md) */
    int test_clock;                      /* the operator may move the clock (tests only) */
    int test_faults;                     /* the operator may inject vault faults (tests only) */
    int rotation_interval_ms;            /* rotation scheduler period; 0: 60 s */
    const char *dns_suffix;              /* when set: one origin, vaults routed by Host "{vault}.{suffix}" */
};

int kv_new(const struct kv_config *cfg, struct kv **out) CK_MUST_CHECK;
/* Stops every vault origin and frees the service. NULL is a no-op. */
void kv_free(struct kv *kv);
/* Mounts /rp/vault/ (the resource provider) on the main origin. */
int kv_mount(struct kv *kv, struct ck_httpd *h) CK_MUST_CHECK;
/* Starts the origins of the vaults already in the store. */
int kv_start(struct kv *kv) CK_MUST_CHECK;
/* Quiesces and drains every vault origin (for shutdown). */
void kv_drain(struct kv *kv, int timeout_ms);

#endif
