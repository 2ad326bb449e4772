/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_SERVICES_STORAGE_H
#define CK_SERVICES_STORAGE_H

/*
 * The storage service: storage accounts (as the Microsoft.Storage resource provider behind ARM)
 * and the Blob data plane on its own origin, path style (/{account}/{container}/{blob}). Every
 * byte of blob data and user metadata is encrypted at rest under the account's AEK (DESIGN.md
 * section 3, docs/data-format.md). With a development account, the well-known devstoreaccount1
 * is also served on a plain-HTTP loopback listener, as Azurite does.
 */
#include "core/err.h"
#include "core/secret.h"
#include "http/server/httpd.h"

struct st;

struct st_config {
    const char *data_dir;                /* DIR/storage: storage.db and the extent files */
    const char *authority;               /* identity origin: JWKS for bearer tokens */
    const char *arm_endpoint;            /* ARM origin, for check-access */
    const char *ca_file;                 /* CA for outgoing HTTPS */
    const struct ck_secret *root_key;    /* 32 bytes: the platform root key (wraps AEKs, seals account keys) */
    const struct ck_secret *rp_key;      /* the ARM-to-resource-provider credential */
    const struct ck_secret *operator_key; /* the operator credential (docs/internal-api.md) */
    const char *listen_addr;             /* bind address for the blob origin */
    const char *public_host;             /* host name in blob URLs ("localhost") */
    const char *tls_cert_pem;            /* server certificate chain for the blob origin */
    const char *tls_key_pem;
    unsigned blob_port;                  /* HTTPS blob origin; 0 picks a free port */
    int dev_account;                     /* also serve devstoreaccount1 on plain HTTP */
    unsigned dev_port;                   /* the plain-HTTP loopback port (crosskeyd: 10000; 0 picks a free port) */
    /* Customer-managed keys (docs/cmk.md); 0 takes the default. */
    unsigned cmk_revalidate_s;           /* lease of an unwrapped AEK (300) */
    unsigned cmk_ride_through_s;         /* how long an unreachable vault is ridden through (900) */
    unsigned cmk_version_poll_s;         /* automatic-version poll (3600) */
    int cmk_events_off;                  /* no event subscriptions: polling only */
};

int st_new(const struct st_config *cfg, struct st **out) CK_MUST_CHECK;
void st_free(struct st *st);
/* Mounts /rp/storage/ (the resource provider) on the main origin. */
int st_mount(struct st *st, struct ck_httpd *h) CK_MUST_CHECK;
/* Starts the blob origin (and the development listener). */
int st_start(struct st *st) CK_MUST_CHECK;
/* The blob origin as clients reach it ("https://localhost:10443"), valid after st_start. */
const char *st_blob_origin(const struct st *st);
/* The development listener's origin ("http://127.0.0.1:10000"), or NULL without --dev-account. */
const char *st_dev_origin(const struct st *st);
/* Quiesces and drains the blob listeners. */
void st_drain(struct st *st, int timeout_ms);

#endif
