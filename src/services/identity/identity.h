/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_SERVICES_IDENTITY_H
#define CK_SERVICES_IDENTITY_H

/*
 * The identity service (Entra-like): tenants, applications, service principals, federated
 * identity credentials, user-assigned managed identities (as the Microsoft.ManagedIdentity
 * resource provider behind ARM), signing keys, the OAuth2 token endpoint, OIDC discovery and
 * JWKS, the Graph subset, and the managed-identity endpoint for workloads.
 */
#include "core/err.h"
#include "core/secret.h"
#include "http/server/httpd.h"

struct idp;

struct idp_config {
    const char *data_dir;                  /* DIR/identity: identity.db lives here */
    const char *authority;                 /* public origin, "https://localhost:8443" */
    const char *mi_endpoint;               /* "http://127.0.0.1:8180" */
    const char *ca_file;                   /* CA for outgoing HTTPS (external OIDC issuers) */
    const struct ck_secret *master_key;    /* 32 bytes: seals signing keys at rest */
    const struct ck_secret *operator_key;  /* the operator credential (docs/internal-api.md) */
    const struct ck_secret *rp_key;        /* the ARM-to-resource-provider credential */
};

int idp_new(const struct idp_config *cfg, struct idp **out) CK_MUST_CHECK;
void idp_free(struct idp *idp);
/* Mounts the main-origin routes: /operator/identity/, /rp/identity/, /v1.0/ (Graph), /{tenant}/... */
int idp_mount(struct idp *idp, struct ck_httpd *h) CK_MUST_CHECK;
/* Mounts the managed-identity endpoint (IMDS and App Service protocols) on its own listener. */
int idp_mount_mi(struct idp *idp, struct ck_httpd *h) CK_MUST_CHECK;

#endif
