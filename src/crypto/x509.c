/* SPDX-License-Identifier: Apache-2.0 */
/*
 * X.509 certificates: the self-signed local CA made on first start, the server certificate it
 * issues for localhost and 127.0.0.1, and the self-signed certificates published with signing
 * keys in each tenant's JWKS (x5c, x5t).
 */
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <string.h>

static int ck_x509_add_ext(X509 *issuer, X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : -1;
}

static char *ck_x509_to_pem(X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *out = NULL;
    if (bio == NULL)
        return NULL;
    if (PEM_write_bio_X509(bio, cert) == 1) {
        long len = BIO_get_mem_data(bio, &data);
        out = ck_strndup(data, (size_t)len);
    }
    BIO_free(bio);
    return out;
}

static X509 *ck_x509_from_pem(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    return cert;
}

static X509 *ck_x509_base(EVP_PKEY *pub, const char *cn, int days)
{
    X509 *cert = X509_new();
    uint8_t serial[16];
    BIGNUM *bn = NULL;
    if (cert == NULL)
        return NULL;
    if (RAND_bytes(serial, sizeof(serial)) != 1)
        goto fail;
    serial[0] &= 0x7f;
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL)
        goto fail;
    BN_free(bn);
    bn = NULL;
    if (X509_set_version(cert, 2) != 1 || X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400) == NULL ||
        X509_set_pubkey(cert, pub) != 1)
        goto fail;
    X509_NAME *name = X509_get_subject_name(cert);
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1)
        goto fail;
    return cert;
fail:
    BN_free(bn);
    X509_free(cert);
    return NULL;
}

int ck_x509_self_signed(const struct ck_pkey *k, const char *cn, int is_ca, int days, char **cert_pem)
{
    X509 *cert = ck_x509_base(k->pkey, cn, days);
    int rc = CK_E_CRYPTO;
    if (cert == NULL)
        return CK_E_CRYPTO;
    if (X509_set_issuer_name(cert, X509_get_subject_name(cert)) != 1)
        goto out;
    if (is_ca) {
        if (ck_x509_add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") != 0 ||
            ck_x509_add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") != 0 ||
            ck_x509_add_ext(cert, cert, NID_subject_key_identifier, "hash") != 0)
            goto out;
    } else {
        if (ck_x509_add_ext(cert, cert, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
            ck_x509_add_ext(cert, cert, NID_key_usage, "critical,digitalSignature") != 0)
            goto out;
    }
    if (X509_sign(cert, k->pkey, EVP_sha256()) <= 0)
        goto out;
    *cert_pem = ck_x509_to_pem(cert);
    rc = *cert_pem ? CK_OK : CK_E_NOMEM;
out:
    X509_free(cert);
    return rc;
}

int ck_x509_issue(const struct ck_pkey *ca_key, const char *ca_cert_pem, const struct ck_pkey *k,
                  const char *cn, const char *hosts, int days, char **cert_pem)
{
    X509 *ca = ck_x509_from_pem(ca_cert_pem);
    X509 *cert = NULL;
    char san[1024];
    size_t o = 0;
    int rc = CK_E_CRYPTO;

    if (ca == NULL)
        return CK_E_CRYPTO;
    cert = ck_x509_base(k->pkey, cn, days);
    if (cert == NULL || X509_set_issuer_name(cert, X509_get_subject_name(ca)) != 1)
        goto out;
    /* Build "DNS:a,IP:b" from the comma-separated host list. */
    san[0] = '\0';
    for (const char *h = hosts; *h;) {
        const char *end = strchr(h, ',');
        size_t n = end ? (size_t)(end - h) : strlen(h);
        char host[256];
        unsigned char addr[16];
        int is_ip = 0;
        if (n > 0 && n < sizeof(host)) {
            memcpy(host, h, n);
            host[n] = '\0';
            is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
        }
        int w = snprintf(san + o, sizeof(san) - o, "%s%s:%.*s", o ? "," : "", is_ip ? "IP" : "DNS", (int)n, h);
        if (w < 0 || (size_t)w >= sizeof(san) - o)
            goto out;
        o += (size_t)w;
        h += n;
        if (*h == ',')
            h++;
    }
    if (ck_x509_add_ext(ca, cert, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
        ck_x509_add_ext(ca, cert, NID_key_usage, "critical,digitalSignature,keyEncipherment") != 0 ||
        ck_x509_add_ext(ca, cert, NID_ext_key_usage, "serverAuth") != 0 ||
        ck_x509_add_ext(ca, cert, NID_authority_key_identifier, "keyid:always") != 0 ||
        (o > 0 && ck_x509_add_ext(ca, cert, NID_subject_alt_name, san) != 0))
        goto out;
    if (X509_sign(cert, ca_key->pkey, EVP_sha256()) <= 0)
        goto out;
    *cert_pem = ck_x509_to_pem(cert);
    rc = *cert_pem ? CK_OK : CK_E_NOMEM;
out:
    X509_free(ca);
    X509_free(cert);
    return rc;
}

int ck_x509_pem_to_der(const char *pem, struct ck_bytes *der)
{
    X509 *cert = ck_x509_from_pem(pem);
    unsigned char *buf = NULL;
    int len;
    if (cert == NULL)
        return CK_E_CRYPTO;
    len = i2d_X509(cert, &buf);
    X509_free(cert);
    if (len <= 0)
        return CK_E_CRYPTO;
    der->ptr = ck_malloc((size_t)len);
    if (der->ptr == NULL) {
        OPENSSL_free(buf);
        return CK_E_NOMEM;
    }
    memcpy(der->ptr, buf, (size_t)len);
    der->len = (size_t)len;
    OPENSSL_free(buf);
    return CK_OK;
}

int ck_pkey_private_pem(const struct ck_pkey *k, struct ck_secret **pem)
{
    BIO *bio = BIO_new(BIO_s_secmem());
    char *data = NULL;
    int rc = CK_E_CRYPTO;
    if (bio == NULL)
        bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return CK_E_NOMEM;
    if (PEM_write_bio_PKCS8PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) == 1) {
        long len = BIO_get_mem_data(bio, &data);
        /* Keep the terminating NUL inside the secret so it can be used as a C string. */
        *pem = ck_secret_new((size_t)len + 1);
        if (*pem != NULL) {
            memcpy(ck_secret_ptr(*pem), data, (size_t)len);
            rc = CK_OK;
        } else {
            rc = CK_E_NOMEM;
        }
    }
    BIO_free(bio);
    return rc;
}
