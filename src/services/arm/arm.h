/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_SERVICES_ARM_H
#define CK_SERVICES_ARM_H

/*
 * The management plane (Azure Resource Manager): subscriptions, resource groups, provider and
 * feature registration, role definitions and assignments with RBAC enforcement, and dispatch of
 * resource types to the resource provider that owns them (over HTTPS, docs/internal-api.md).
 */
#include "core/err.h"
#include "core/secret.h"
#include "http/server/httpd.h"

struct arm;

/* A resource provider namespace served by another service. */
struct arm_rp {
    const char *ns;       /* "Microsoft.ManagedIdentity" */
    const char *base_url; /* "https://localhost:8443/rp/identity" */
};

#define ARM_MAX_RPS 8

struct arm_config {
    const char *data_dir;                 /* DIR/arm: arm.db lives here */
    const char *endpoint;                 /* ARM's public origin, "https://localhost:8443" */
    const char *authority;                /* identity origin for JWKS, "https://localhost:8443" */
    const char *ca_file;                  /* CA for outgoing HTTPS */
    const struct ck_secret *operator_key; /* the operator credential */
    const struct ck_secret *rp_key;       /* credential presented to resource providers */
    struct arm_rp rps[ARM_MAX_RPS];
    int nrps;
};

int arm_new(const struct arm_config *cfg, struct arm **out) CK_MUST_CHECK;
void arm_free(struct arm *arm);
/* Mounts /subscriptions, //subscriptions, /providers, /operator/arm/ and /rp/arm/ routes. */
int arm_mount(struct arm *arm, struct ck_httpd *h) CK_MUST_CHECK;

#endif
