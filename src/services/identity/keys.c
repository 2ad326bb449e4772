/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tenant signing keys: one RS256 key per tenant, made when the tenant is created, persisted only
 * sealed under the identity master key (AAD binds the key id and tenant), published in the
 * tenant's JWKS with a self-signed certificate (x5c, x5t).
 */
#include "services/identity/idp_int.h"
#include "core/codec.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <string.h>

static char *idp_key_aad(const char *tid, const char *kid)
{
    size_t n = strlen(tid) + strlen(kid) + 32;
    char *s = ck_malloc(n);
    if (s != NULL)
        snprintf(s, n, "ck-idp-signing-key:%s:%s", tid, kid);
    return s;
}

/* Adds a loaded key to the in-memory list and the verifier; takes ownership of key and cert_b64. */
static int idp_signer_add(struct idp *idp, const char *tid, const char *kid, struct ck_pkey *key, char *cert_b64)
{
    struct idp_signer *s = ck_calloc(1, sizeof(*s));
    if (s == NULL) {
        ck_pkey_free(key);
        ck_free(cert_b64);
        return CK_E_NOMEM;
    }
    snprintf(s->tid, sizeof(s->tid), "%s", tid);
    snprintf(s->kid, sizeof(s->kid), "%s", kid);
    s->key = key;
    s->cert_b64 = cert_b64;
    pthread_mutex_lock(&idp->lock);
    s->next = idp->signers;
    idp->signers = s;
    pthread_mutex_unlock(&idp->lock);
    return ck_verifier_add_key(idp->verifier, tid, kid, key);
}

int idp_keys_create(struct idp *idp, const char *tid)
{
    struct ck_pkey *key = NULL;
    struct ck_secret *der = NULL;
    struct ck_bytes cert_der = {0};
    char *pem = NULL, *cert_b64 = NULL, *kid = NULL, *aad = NULL;
    uint8_t *sealed = NULL, x5t[CK_SHA1_LEN];
    size_t sealed_len = 0;
    struct ck_db_stmt *st = NULL;
    char cn[96];
    int rc;

    if ((rc = ck_pkey_rsa_generate(2048, &key)) != CK_OK)
        goto out;
    snprintf(cn, sizeof(cn), "crosskey token signing %s", tid);
    if ((rc = ck_x509_self_signed(key, cn, 0, 5 * 365, &pem)) != CK_OK)
        goto out;
    if ((rc = ck_x509_pem_to_der(pem, &cert_der)) != CK_OK)
        goto out;
    ck_sha1(cert_der.ptr, cert_der.len, x5t);
    rc = CK_E_NOMEM;
    /* As in Entra, the key id is the certificate's SHA-1 thumbprint in base64url (= x5t). */
    kid = ck_b64url_encode(x5t, sizeof(x5t));
    cert_b64 = ck_b64_encode(cert_der.ptr, cert_der.len);
    aad = kid ? idp_key_aad(tid, kid) : NULL;
    if (kid == NULL || cert_b64 == NULL || aad == NULL)
        goto out;
    if ((rc = ck_pkey_private_der(key, &der)) != CK_OK)
        goto out;
    if ((rc = ck_seal(idp->master_key, aad, strlen(aad), ck_secret_ptr(der), ck_secret_len(der), &sealed,
                      &sealed_len)) != CK_OK)
        goto out;
    rc = CK_E_DB;
    ck_db_lock(idp->db);
    if (ck_db_prepare(idp->db,
                      "INSERT INTO signing_keys (kid, tenant_id, sealed, cert_b64, created_at, active)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, 1)",
                      &st) == CK_OK) {
        ck_db_bind_text(st, 1, kid);
        ck_db_bind_text(st, 2, tid);
        ck_db_bind_blob(st, 3, sealed, sealed_len);
        ck_db_bind_text(st, 4, cert_b64);
        ck_db_bind_int64(st, 5, ck_time_now());
        int s = ck_db_step(st);
        rc = s < 0 ? -s : CK_OK;
    }
    ck_db_stmt_free(st);
    ck_db_unlock(idp->db);
    if (rc != CK_OK)
        goto out;
    rc = idp_signer_add(idp, tid, kid, key, cert_b64);
    key = NULL;
    cert_b64 = NULL;
out:
    ck_pkey_free(key);
    ck_secret_free(der);
    ck_free(cert_der.ptr);
    ck_free(pem);
    ck_free(cert_b64);
    ck_free(kid);
    ck_free(aad);
    ck_free(sealed);
    return rc;
}

int idp_keys_load(struct idp *idp)
{
    struct ck_db_stmt *st = NULL;
    int rc = CK_E_DB;
    ck_db_lock(idp->db);
    if (ck_db_prepare(idp->db, "SELECT kid, tenant_id, sealed, cert_b64 FROM signing_keys WHERE active = 1", &st) != CK_OK)
        goto out;
    for (;;) {
        int s = ck_db_step(st);
        if (s == 0)
            break;
        if (s < 0)
            goto out;
        const char *kid = ck_db_col_text(st, 0);
        const char *tid = ck_db_col_text(st, 1);
        size_t sealed_len = 0;
        const uint8_t *sealed = ck_db_col_blob(st, 2, &sealed_len);
        const char *cert = ck_db_col_text(st, 3);
        struct ck_secret *der = NULL;
        struct ck_pkey *key = NULL;
        char *aad = idp_key_aad(tid, kid);
        if (aad == NULL) {
            rc = CK_E_NOMEM;
            goto out;
        }
        int orc = ck_open(idp->master_key, aad, strlen(aad), sealed, sealed_len, &der);
        ck_free(aad);
        if (orc != CK_OK) {
            ck_log(CK_LOG_ERROR, "identity: signing key %s of tenant %s cannot be unsealed (wrong master key?)", kid, tid);
            rc = CK_E_CRYPTO;
            goto out;
        }
        orc = ck_pkey_from_private_der(ck_secret_ptr(der), ck_secret_len(der), &key);
        ck_secret_free(der);
        if (orc != CK_OK) {
            rc = orc;
            goto out;
        }
        if ((rc = idp_signer_add(idp, tid, kid, key, ck_strdup(cert))) != CK_OK)
            goto out;
    }
    rc = CK_OK;
out:
    ck_db_stmt_free(st);
    ck_db_unlock(idp->db);
    return rc;
}

int idp_sign(struct idp *idp, const char *tid, const json_t *claims, struct ck_secret **token)
{
    struct ck_pkey *key = NULL;
    char kid[64] = "";
    pthread_mutex_lock(&idp->lock);
    for (struct idp_signer *s = idp->signers; s != NULL; s = s->next) {
        if (strcmp(s->tid, tid) == 0) {
            key = ck_pkey_dup(s->key);
            snprintf(kid, sizeof(kid), "%s", s->kid);
            break;
        }
    }
    pthread_mutex_unlock(&idp->lock);
    if (key == NULL)
        return CK_E_NOT_FOUND;
    int rc = ck_jwt_sign(key, kid, kid, claims, token);
    ck_pkey_free(key);
    return rc;
}

json_t *idp_jwks(struct idp *idp, const char *tid, const char *issuer)
{
    json_t *keys = json_array();
    json_t *doc = json_object();
    if (keys == NULL || doc == NULL) {
        json_decref(keys);
        json_decref(doc);
        return NULL;
    }
    pthread_mutex_lock(&idp->lock);
    for (struct idp_signer *s = idp->signers; s != NULL; s = s->next) {
        struct ck_bytes n = {0}, e = {0};
        if (strcmp(s->tid, tid) != 0 || ck_pkey_rsa_public(s->key, &n, &e) != CK_OK)
            continue;
        char *nb = ck_b64url_encode(n.ptr, n.len);
        char *eb = ck_b64url_encode(e.ptr, e.len);
        json_t *k = json_pack("{s:s,s:s,s:s,s:s,s:s?,s:s?,s:[s],s:s}", "kty", "RSA", "use", "sig", "kid", s->kid, "x5t",
                              s->kid, "n", nb, "e", eb, "x5c", s->cert_b64, "issuer", issuer);
        if (k != NULL)
            json_array_append_new(keys, k);
        ck_free(nb);
        ck_free(eb);
        ck_free(n.ptr);
        ck_free(e.ptr);
    }
    pthread_mutex_unlock(&idp->lock);
    json_object_set_new(doc, "keys", keys);
    return doc;
}
