/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/crypto/x509.c: the self-signed local CA, a server certificate it issues for
 * localhost and 127.0.0.1 (checked by the openssl command line: SAN, extensions, chain), PEM to
 * DER, and the in-memory private key PEM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fsutil.h"
#include "core/mem.h"
#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct ck_pkey *ca_key, *srv_key;
static char *ca_pem;
static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/ck-x509-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    if (ck_pkey_rsa_generate(2048, &ca_key) != CK_OK || ck_pkey_rsa_generate(2048, &srv_key) != CK_OK)
        return -1;
    return ck_x509_self_signed(ca_key, "crosskey local CA", 1, 3650, &ca_pem) == CK_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    ck_pkey_free(ca_key);
    ck_pkey_free(srv_key);
    ck_free(ca_pem);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *write_tmp(const char *name, const char *pem)
{
    char *p = ck_path_join(dir, name);
    assert_int_equal(ck_write_file_atomic(p, pem, strlen(pem), 0600), 0);
    return p;
}

/* Runs cmd and returns its stdout (caller frees). */
static char *run(const char *cmd)
{
    FILE *f = popen(cmd, "r");
    struct ck_buf b;
    char chunk[4096];
    size_t n;
    assert_non_null(f);
    ck_buf_init(&b, 1u << 20);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(ck_buf_append(&b, chunk, n), CK_OK);
    pclose(f);
    return ck_buf_steal(&b, NULL);
}

static char *x509_text(const char *pem)
{
    char *path = write_tmp("cert.pem", pem);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "openssl x509 -noout -text -in '%s' 2>&1", path);
    ck_free(path);
    return run(cmd);
}

static void expect_has(const char *text, const char *needle)
{
    if (strstr(text, needle) == NULL)
        fail_msg("\"%s\" not found in:\n%s", needle, text);
}

static void test_self_signed_ca(void **state)
{
    (void)state;
    assert_non_null(strstr(ca_pem, "-----BEGIN CERTIFICATE-----"));
    char *t = x509_text(ca_pem);
    expect_has(t, "Subject: CN = crosskey local CA");
    expect_has(t, "Issuer: CN = crosskey local CA");
    expect_has(t, "CA:TRUE");
    expect_has(t, "Certificate Sign");
    expect_has(t, "sha256WithRSAEncryption");
    expect_has(t, "Public-Key: (2048 bit)");
    ck_free(t);
    /* A plain self-signed certificate (the JWKS x5c) is not a CA. */
    char *leaf = NULL;
    assert_int_equal(ck_x509_self_signed(srv_key, "signing key", 0, 365, &leaf), CK_OK);
    t = x509_text(leaf);
    expect_has(t, "CA:FALSE");
    expect_has(t, "Digital Signature");
    ck_free(t);
    ck_free(leaf);
}

static void test_issue_server_cert(void **state)
{
    (void)state;
    char *cert = NULL;
    assert_int_equal(ck_x509_issue(ca_key, ca_pem, srv_key, "localhost", "localhost,127.0.0.1,::1", 30, &cert),
                     CK_OK);
    char *t = x509_text(cert);
    expect_has(t, "Issuer: CN = crosskey local CA");
    expect_has(t, "Subject: CN = localhost");
    expect_has(t, "DNS:localhost");
    expect_has(t, "IP Address:127.0.0.1");
    expect_has(t, "IP Address:0:0:0:0:0:0:0:1");
    expect_has(t, "TLS Web Server Authentication");
    expect_has(t, "CA:FALSE");
    ck_free(t);
    /* The chain verifies against the CA, for the names asked for. */
    char *ca_path = write_tmp("ca.pem", ca_pem);
    char *srv_path = write_tmp("srv.pem", cert);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "openssl verify -CAfile '%s' -verify_hostname localhost -verify_ip 127.0.0.1 '%s' 2>&1",
             ca_path, srv_path);
    t = run(cmd);
    expect_has(t, ": OK");
    ck_free(t);
    snprintf(cmd, sizeof(cmd), "openssl verify -CAfile '%s' -verify_hostname example.com '%s' 2>&1", ca_path, srv_path);
    t = run(cmd);
    assert_null(strstr(t, ": OK"));
    ck_free(t);
    /* Not signed by another CA. */
    struct ck_pkey *other = NULL;
    char *other_pem = NULL;
    assert_int_equal(ck_pkey_rsa_generate(2048, &other), CK_OK);
    assert_int_equal(ck_x509_self_signed(other, "crosskey local CA", 1, 30, &other_pem), CK_OK);
    char *other_path = write_tmp("other.pem", other_pem);
    snprintf(cmd, sizeof(cmd), "openssl verify -CAfile '%s' '%s' 2>&1", other_path, srv_path);
    t = run(cmd);
    assert_null(strstr(t, ": OK"));
    ck_free(t);
    ck_free(other_path);
    ck_free(other_pem);
    ck_pkey_free(other);
    ck_free(ca_path);
    ck_free(srv_path);
    ck_free(cert);
}

static void test_issue_dns_name_starting_with_digit(void **state)
{
    (void)state;
    /* Host names may start with a digit (RFC 1123); only real addresses are IP entries. */
    char *cert = NULL;
    assert_int_equal(ck_x509_issue(ca_key, ca_pem, srv_key, "node", "localhost,1node.example", 30, &cert), CK_OK);
    char *t = x509_text(cert);
    expect_has(t, "DNS:1node.example");
    ck_free(t);
    ck_free(cert);
}

static void test_issue_bad_input(void **state)
{
    (void)state;
    char *cert = NULL;
    assert_int_equal(ck_x509_issue(ca_key, "not a pem", srv_key, "x", "localhost", 30, &cert), CK_E_CRYPTO);
    assert_int_equal(ck_x509_issue(ca_key, "", srv_key, "x", "localhost", 30, &cert), CK_E_CRYPTO);
    assert_null(cert);
    /* A host list that overflows the SAN buffer is refused, not truncated. */
    size_t n = 4000;
    char *hosts = ck_malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        hosts[i] = (i % 10 == 9) ? ',' : 'h';
    hosts[n] = '\0';
    assert_int_not_equal(ck_x509_issue(ca_key, ca_pem, srv_key, "x", hosts, 30, &cert), CK_OK);
    assert_null(cert);
    ck_free(hosts);
    /* No hosts: no SAN, still a certificate. */
    assert_int_equal(ck_x509_issue(ca_key, ca_pem, srv_key, "x", "", 30, &cert), CK_OK);
    ck_free(cert);
}

static void test_pem_to_der(void **state)
{
    (void)state;
    struct ck_bytes der = {0};
    assert_int_equal(ck_x509_pem_to_der(ca_pem, &der), CK_OK);
    assert_true(der.len > 500);
    assert_int_equal(der.ptr[0], 0x30);
    assert_int_equal(der.ptr[1], 0x82);
    assert_int_equal((size_t)((der.ptr[2] << 8) | der.ptr[3]) + 4, der.len);
    ck_free(der.ptr);
    struct ck_bytes bad = {0};
    assert_int_equal(ck_x509_pem_to_der("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", &bad),
                     CK_E_CRYPTO);
    assert_int_equal(ck_x509_pem_to_der("", &bad), CK_E_CRYPTO);
    assert_null(bad.ptr);
}

static void test_private_pem(void **state)
{
    (void)state;
    struct ck_secret *pem = NULL;
    assert_int_equal(ck_pkey_private_pem(srv_key, &pem), CK_OK);
    const char *s = (const char *)ck_secret_ptr(pem);
    assert_int_equal(strlen(s) + 1, ck_secret_len(pem)); /* NUL-terminated inside the secret */
    assert_true(strncmp(s, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
    assert_non_null(strstr(s, "-----END PRIVATE KEY-----"));
    /* openssl reads it back as the same key the certificate was issued to. */
    char *cert = NULL;
    assert_int_equal(ck_x509_issue(ca_key, ca_pem, srv_key, "localhost", "localhost", 30, &cert), CK_OK);
    char *kp = write_tmp("key.pem", s);
    char *cp = write_tmp("leaf.pem", cert);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "openssl rsa -in '%s' -noout -modulus 2>&1; openssl x509 -in '%s' -noout -modulus 2>&1",
             kp, cp);
    char *t = run(cmd);
    char *nl = strchr(t, '\n');
    assert_non_null(nl);
    assert_true(strncmp(t, "Modulus=", 8) == 0);
    assert_true(strncmp(t, nl + 1, (size_t)(nl - t)) == 0);
    unlink(kp);
    ck_free(t);
    ck_free(kp);
    ck_free(cp);
    ck_free(cert);
    ck_secret_free(pem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_self_signed_ca),
        cmocka_unit_test(test_issue_server_cert),
        cmocka_unit_test(test_issue_dns_name_starting_with_digit),
        cmocka_unit_test(test_issue_bad_input),
        cmocka_unit_test(test_pem_to_der),
        cmocka_unit_test(test_private_pem),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
