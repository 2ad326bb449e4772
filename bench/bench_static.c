/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The transport ceiling of the blob benchmark: the project's own HTTP server adapter
 * (src/http/server, libmicrohttpd, thread per connection) serving one static in-memory body to
 * any GET, over plain HTTP and over HTTPS, with no storage, authentication or cryptography of
 * its own. The body goes out through a reader callback (ck_resp_stream) in the 64 KiB blocks the
 * blob GET uses, so the only difference from crosskey's blob GET is the work the blob service does
 * per block. The TLS set-up is the daemon's: a local RSA-2048 CA and an RSA-2048 server
 * certificate for localhost and 127.0.0.1 issued by it, the chain handed over in memory.
 *
 * bench_blob spawns it; it writes DIR/ca.pem, starts both listeners on 127.0.0.1 with
 * kernel-chosen ports, then writes DIR/ports ("HTTP-PORT HTTPS-PORT\n", atomically) and serves
 * until SIGTERM or SIGINT, or until --max-seconds pass. The body is the one bench_blob uploads, so
 * the client checks what it receives.
 *
 * Usage: bench_static --dir DIR [--mib N] [--max-seconds S]
 */
#include "core/fsutil.h"
#include "core/mem.h"
#include "core/secret.h"
#include "crypto/crypto.h"
#include "http/server/httpd.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *body;
static size_t body_len;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static long static_read(void *arg, uint64_t pos, char *buf, size_t max)
{
    (void)arg;
    if (pos >= body_len)
        return -1;
    size_t n = body_len - (size_t)pos < max ? body_len - (size_t)pos : max;
    memcpy(buf, body + pos, n);
    return (long)n;
}

static void static_handle(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    (void)ctx;
    if (strcmp(ck_req_method(req), "GET") != 0 && strcmp(ck_req_method(req), "HEAD") != 0) {
        ck_resp_status(resp, 405);
        return;
    }
    ck_resp_status(resp, 200);
    ck_resp_stream(resp, "application/octet-stream", body_len, static_read, NULL, NULL);
}

static void static_error(void *ctx, struct ck_req *req, struct ck_resp *resp, int status, const char *code,
                         const char *message)
{
    (void)ctx;
    (void)req;
    (void)code;
    ck_resp_status(resp, status);
    ck_resp_body(resp, "text/plain", message, strlen(message));
}

static const struct ck_mount static_mount = {
    .name = "static", .match = NULL, .handle = static_handle, .error = static_error, .ctx = NULL,
};

static int die(const char *what)
{
    fprintf(stderr, "bench_static: %s\n", what);
    return 1;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    long mib = 64;
    double max_seconds = 600;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc)
            mib = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--max-seconds") == 0 && i + 1 < argc)
            max_seconds = strtod(argv[++i], NULL);
        else
            dir = NULL, i = argc;
    }
    if (dir == NULL || mib < 1 || mib > 4096 || max_seconds <= 0) {
        fprintf(stderr, "usage: %s --dir DIR [--mib N] [--max-seconds S]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    body_len = (size_t)mib << 20;
    body = ck_malloc(body_len);
    if (body == NULL)
        return die("out of memory");
    /* The bytes bench_blob uploads (xorshift64 from a fixed seed), so that it can check them. */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < body_len; i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(body + i, &x, 8);
    }

    /* The daemon's TLS set-up (src/daemon/tls.c): a CA, and a server certificate it issues. */
    struct ck_pkey *ca_key = NULL, *srv_key = NULL;
    char *ca_pem = NULL, *srv_pem = NULL;
    struct ck_secret *key_pem = NULL;
    if (ck_pkey_rsa_generate(2048, &ca_key) != CK_OK ||
        ck_x509_self_signed(ca_key, "bench_static CA", 1, 30, &ca_pem) != CK_OK ||
        ck_pkey_rsa_generate(2048, &srv_key) != CK_OK ||
        ck_x509_issue(ca_key, ca_pem, srv_key, "localhost", "localhost,127.0.0.1", 30, &srv_pem) != CK_OK ||
        ck_pkey_private_pem(srv_key, &key_pem) != CK_OK)
        return die("cannot make the TLS certificate");
    size_t cl = strlen(srv_pem) + strlen(ca_pem) + 1;
    char *chain = ck_malloc(cl);
    /* The key PEM is handed over as a C string: copy it with its terminator. */
    char *key = ck_calloc(1, ck_secret_len(key_pem) + 1);
    if (chain == NULL || key == NULL)
        return die("out of memory");
    snprintf(chain, cl, "%s%s", srv_pem, ca_pem);
    memcpy(key, ck_secret_ptr(key_pem), ck_secret_len(key_pem));
    char *ca_path = ck_path_join(dir, "ca.pem"), *ports_path = ck_path_join(dir, "ports");
    if (ca_path == NULL || ports_path == NULL || ck_write_file_atomic(ca_path, ca_pem, strlen(ca_pem), 0644) != 0)
        return die("cannot write ca.pem");

    struct ck_httpd *plain = NULL, *tls = NULL;
    struct ck_httpd_config pc = {.bind_addr = "127.0.0.1", .port = 0, .name = "static-http"};
    struct ck_httpd_config tc = {.bind_addr = "127.0.0.1", .port = 0, .tls_cert_pem = chain, .tls_key_pem = key,
                                 .name = "static-https"};
    if (ck_httpd_new(&pc, &plain) != CK_OK || ck_httpd_mount(plain, &static_mount) != CK_OK ||
        ck_httpd_new(&tc, &tls) != CK_OK || ck_httpd_mount(tls, &static_mount) != CK_OK)
        return die("cannot start the listeners");
    char ports[64];
    int n = snprintf(ports, sizeof(ports), "%u %u\n", ck_httpd_port(plain), ck_httpd_port(tls));
    if (ck_write_file_atomic(ports_path, ports, (size_t)n, 0644) != 0)
        return die("cannot write the ports file");

    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!stop) {
        usleep(50 * 1000);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 > max_seconds)
            break;
    }
    ck_httpd_free(tls);
    ck_httpd_free(plain);
    ck_freezero(key, ck_secret_len(key_pem) + 1);
    ck_secret_free(key_pem);
    ck_pkey_free(ca_key);
    ck_pkey_free(srv_key);
    ck_free(ca_pem);
    ck_free(srv_pem);
    ck_free(chain);
    ck_free(ca_path);
    ck_free(ports_path);
    ck_free(body);
    return 0;
}
