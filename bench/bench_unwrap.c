/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unwrap benchmark: the real daemon (crosskeyd spawned on a temporary data directory with
 * kernel-chosen ports) serving POST /keys/{name}/{version}/unwrapkey (RSA-OAEP-256, RSA-2048) to
 * concurrent clients over HTTPS with keep-alive: each client thread keeps its own connection (the
 * HTTP client keeps one curl handle per thread). Prints unwraps per second and the p50 and p99
 * latency of one unwrap for one client and for N clients, next to `openssl speed -multi C
 * -seconds S rsa2048` private-key operations per second measured in the same run (C = the
 * number of CPUs), and the ratio. Every request goes the whole way: TLS, token verification,
 * ARM check-access over HTTPS, unsealing the key, RSA decryption, the audit record. Also the CPU
 * time per unwrap of the daemon (/proc) and of the clients (getrusage), which depends less on
 * other load than the rates do, and a floor: the same request without a token (401 before any
 * token, key, RSA or audit work), i.e. what TLS, HTTP and this client cost per request.
 *
 * Setup, all through the public APIs: a tenant (operator API), a subscription owned by the
 * tenant's admin service principal, a resource group and a vault (ARM), the role Key Vault
 * Crypto Service Encryption User for that principal at the vault, an RSA-2048 key, and one
 * 32-byte key wrapped under it; the clients then unwrap that same value.
 *
 * Usage: bench_unwrap --daemon PATH [--seconds S] [--threads N] [--openssl-seconds N] [--keep]
 *   (--openssl-seconds 0 skips the openssl run; --keep leaves the data directory)
 */
#include "bench_cpu.h"
#include "core/codec.h"
#include "core/fsutil.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "http/client/httpc.h"
#include "json/json.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_THREADS 64
#define MAX_SAMPLES (1u << 20)
#define ROLE_SEU "e147488a-f6f5-4113-8e2d-b22465e65bf6"

struct ctx {
    char authority[256];
    char vault[256]; /* "https://localhost:P/" */
    char op_key[128];
    char tid[64], client_id[64], secret[256], sp[64], sub[64];
    char arm_tok[8192], kv_tok[8192];
    char unwrap_url[600];
    char vault_id[512]; /* the vault's ARM id */
    char unwrap_body[1024];
    char expect[128]; /* the unwrapped value, base64url */
};

static struct ctx C;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_unwrap: %s\n", what);
    exit(1);
}

/* One request; returns the parsed JSON body (caller decrefs) and checks the status. */
static json_t *call(const char *method, const char *url, const char *auth, const char *ctype, const char *body,
                    long want)
{
    struct ck_httpc_req rq = {0};
    struct ck_httpc_resp rs;
    char ah[9000];
    int h = 0;
    rq.method = method;
    rq.url = url;
    if (auth != NULL) {
        snprintf(ah, sizeof(ah), "Authorization: %s", auth);
        rq.headers[h++] = ah;
    }
    if (ctype != NULL)
        rq.headers[h++] = ctype;
    rq.headers[h] = NULL;
    rq.body = body;
    rq.body_len = body ? strlen(body) : 0;
    rq.timeout_ms = 30000;
    if (ck_httpc_do(&rq, &rs) != CK_OK || rs.status != want) {
        fprintf(stderr, "bench_unwrap: %s %s -> %ld %.*s\n", method, url, rs.status, (int)rs.body.len,
                rs.body.data ? rs.body.data : "");
        exit(1);
    }
    json_t *o = rs.body.len ? ck_json_parse(rs.body.data, rs.body.len, NULL, 0) : NULL;
    ck_httpc_resp_cleanup(&rs);
    return o;
}

static void copy(char *dst, size_t cap, const char *src)
{
    if (src == NULL || strlen(src) >= cap)
        die("unexpected response");
    memcpy(dst, src, strlen(src) + 1);
}

static void token(const char *scope, char *out, size_t cap)
{
    char url[512], form[1024];
    char *s = ck_url_encode(scope), *sec = ck_url_encode(C.secret);
    snprintf(url, sizeof(url), "%s/%s/oauth2/v2.0/token", C.authority, C.tid);
    snprintf(form, sizeof(form), "grant_type=client_credentials&client_id=%s&scope=%s&client_secret=%s", C.client_id, s,
             sec);
    ck_free(s);
    ck_free(sec);
    json_t *o = call("POST", url, NULL, "Content-Type: application/x-www-form-urlencoded", form, 200);
    copy(out, cap, ck_json_str(o, "access_token"));
    json_decref(o);
}

/* ---- the daemon ---- */

static pid_t spawn_daemon(const char *daemon, const char *dir)
{
    char log[600];
    posix_spawn_file_actions_t fa;
    pid_t pid;
    snprintf(log, sizeof(log), "%s.log", dir);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    /* Every listener on a kernel-chosen port, so that other daemons on the machine do not collide. */
    char *argv[] = {(char *)daemon, "--data", (char *)dir, "--port", "0", "--mi-port", "0", "--vault-ports", "0-0",
                    "--blob-port", "0", "--log-level", "warn", NULL};
    if (posix_spawn(&pid, daemon, &fa, NULL, argv, environ) != 0)
        die("cannot start the daemon");
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static void wait_ready(const char *dir, pid_t pid)
{
    char path[600], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/endpoints.json", dir);
    for (int i = 0; i < 600; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            die("the daemon exited during start-up (see DIR.log)");
        if (ck_read_file(path, 1 << 16, &text, &len) == 0)
            break;
        usleep(50 * 1000);
    }
    if (text == NULL)
        die("the daemon did not become ready");
    json_t *e = ck_json_parse_object(text, len, NULL, 0);
    ck_free(text);
    if (e == NULL)
        die("bad endpoints.json");
    copy(C.authority, sizeof(C.authority), ck_json_str(e, "authority"));
    ck_httpc_set_ca_file(ck_json_str(e, "caFile"));
    json_decref(e);
    snprintf(path, sizeof(path), "%s/secrets/operator.key", dir);
    if (ck_read_file(path, 1024, &text, &len) != 0)
        die("no operator key");
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    copy(C.op_key, sizeof(C.op_key), text);
    ck_freezero(text, len);
}

/* Tenant, subscription, resource group, vault, role, key, one wrapped value. */
static void provision(void)
{
    char url[1024], auth[9100], body[1024];
    snprintf(auth, sizeof(auth), "Operator %s", C.op_key);
    snprintf(url, sizeof(url), "%s/operator/identity/tenants", C.authority);
    json_t *o = call("POST", url, auth, "Content-Type: application/json", "{\"displayName\":\"bench\"}", 201);
    copy(C.tid, sizeof(C.tid), ck_json_str(o, "tenantId"));
    copy(C.client_id, sizeof(C.client_id), ck_json_str(o, "clientId"));
    copy(C.secret, sizeof(C.secret), ck_json_str(o, "clientSecret"));
    copy(C.sp, sizeof(C.sp), ck_json_str(o, "servicePrincipalId"));
    json_decref(o);
    snprintf(url, sizeof(url), "%s/operator/arm/subscriptions", C.authority);
    snprintf(body, sizeof(body), "{\"tenantId\":\"%s\",\"displayName\":\"bench\",\"ownerPrincipalId\":\"%s\"}", C.tid, C.sp);
    o = call("POST", url, auth, "Content-Type: application/json", body, 201);
    copy(C.sub, sizeof(C.sub), ck_json_str(o, "subscriptionId"));
    json_decref(o);
    token("https://management.azure.com/.default", C.arm_tok, sizeof(C.arm_tok));
    snprintf(auth, sizeof(auth), "Bearer %s", C.arm_tok);
    snprintf(url, sizeof(url), "%s/subscriptions/%s/resourcegroups/bench?api-version=2021-04-01", C.authority, C.sub);
    json_decref(call("PUT", url, auth, "Content-Type: application/json", "{\"location\":\"eastus\"}", 201));
    char vid[512];
    snprintf(vid, sizeof(vid), "/subscriptions/%s/resourceGroups/bench/providers/Microsoft.KeyVault/vaults/benchvault",
             C.sub);
    copy(C.vault_id, sizeof(C.vault_id), vid);
    snprintf(url, sizeof(url), "%s%s?api-version=2026-02-01", C.authority, vid);
    snprintf(body, sizeof(body),
             "{\"location\":\"eastus\",\"properties\":{\"tenantId\":\"%s\",\"sku\":{\"family\":\"A\",\"name\":\"standard\"},"
             "\"enableSoftDelete\":true,\"enablePurgeProtection\":true,\"enableRbacAuthorization\":true}}",
             C.tid);
    o = call("PUT", url, auth, "Content-Type: application/json", body, 201);
    copy(C.vault, sizeof(C.vault), ck_json_str(ck_json_obj(o, "properties"), "vaultUri"));
    json_decref(o);
    char ra[37];
    if (ck_uuid_new(ra) != CK_OK)
        die("uuid");
    snprintf(url, sizeof(url), "%s%s/providers/Microsoft.Authorization/roleAssignments/%s?api-version=2022-04-01",
             C.authority, vid, ra);
    snprintf(body, sizeof(body),
             "{\"properties\":{\"roleDefinitionId\":\"/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/"
             "%s\",\"principalId\":\"%s\",\"principalType\":\"ServicePrincipal\"}}",
             C.sub, ROLE_SEU, C.sp);
    json_decref(call("PUT", url, auth, "Content-Type: application/json", body, 201));
    /* The key is created by a Crypto Officer assignment made for the purpose, then removed: the
     * benchmark principal holds only what storage holds, wrap/unwrap/read. */
    char ra2[37];
    if (ck_uuid_new(ra2) != CK_OK)
        die("uuid");
    char url2[1024];
    snprintf(url2, sizeof(url2), "%s%s/providers/Microsoft.Authorization/roleAssignments/%s?api-version=2022-04-01",
             C.authority, vid, ra2);
    snprintf(body, sizeof(body),
             "{\"properties\":{\"roleDefinitionId\":\"/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/"
             "14b46e9e-c2b7-41b4-b07b-48a6ebf60603\",\"principalId\":\"%s\",\"principalType\":\"ServicePrincipal\"}}",
             C.sub, C.sp);
    json_decref(call("PUT", url2, auth, "Content-Type: application/json", body, 201));
    token("https://vault.azure.net/.default", C.kv_tok, sizeof(C.kv_tok));
    char kauth[9100];
    snprintf(kauth, sizeof(kauth), "Bearer %s", C.kv_tok);
    snprintf(url, sizeof(url), "%skeys/cmk/create?api-version=7.5", C.vault);
    o = call("POST", url, kauth, "Content-Type: application/json", "{\"kty\":\"RSA\",\"key_size\":2048}", 200);
    char kid[512];
    copy(kid, sizeof(kid), ck_json_str(ck_json_obj(o, "key"), "kid"));
    json_decref(o);
    json_decref(call("DELETE", url2, auth, NULL, NULL, 200));
    uint8_t cek[32];
    for (size_t i = 0; i < sizeof(cek); i++)
        cek[i] = (uint8_t)(i * 7 + 3);
    char *cb = ck_b64url_encode(cek, sizeof(cek));
    copy(C.expect, sizeof(C.expect), cb);
    snprintf(url, sizeof(url), "%s/wrapkey?api-version=7.5", kid);
    snprintf(body, sizeof(body), "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", cb);
    ck_free(cb);
    o = call("POST", url, kauth, "Content-Type: application/json", body, 200);
    snprintf(C.unwrap_body, sizeof(C.unwrap_body), "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", ck_json_str(o, "value"));
    json_decref(o);
    snprintf(C.unwrap_url, sizeof(C.unwrap_url), "%s/unwrapkey?api-version=7.5", kid);
}

/* ---- the clients ---- */

struct worker {
    pthread_t th;
    double deadline;
    int floor; /* the same request without a token: answered 401 before any key work */
    double *lat;
    size_t n, cap;
    long errors;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    char auth[9100];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", C.kv_tok);
    struct ck_httpc_req rq = {.method = "POST", .url = C.unwrap_url, .body = C.unwrap_body,
                              .body_len = strlen(C.unwrap_body), .timeout_ms = 30000};
    rq.headers[0] = w->floor ? "Content-Type: application/json" : auth;
    rq.headers[1] = w->floor ? NULL : "Content-Type: application/json";
    rq.headers[2] = NULL;
    while (now_s() < w->deadline) {
        struct ck_httpc_resp rs;
        double t0 = now_s();
        int rc = ck_httpc_do(&rq, &rs);
        double t1 = now_s();
        int ok = w->floor ? rc == CK_OK && rs.status == 401
                          : rc == CK_OK && rs.status == 200 && rs.body.len > 0 && strstr(rs.body.data, C.expect) != NULL;
        if (!ok) {
            if (w->errors++ == 0)
                fprintf(stderr, "bench_unwrap: unwrap answered %ld %.*s\n", rs.status, (int)rs.body.len,
                        rs.body.data ? rs.body.data : "");
        } else if (w->n < w->cap) {
            w->lat[w->n++] = t1 - t0;
        }
        ck_httpc_resp_cleanup(&rs);
    }
    ck_httpc_thread_cleanup();
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct result {
    double rate, p50_ms, p99_ms;
    double daemon_us, client_us; /* CPU time per unwrap (user + system), of the daemon and of this client */
    long errors;
    size_t n;
};

static pid_t daemon_pid;

/* CPU seconds used so far by the daemon, and by this process (the clients). */
static double daemon_cpu_s(void)
{
    return bench_cpu_of(daemon_pid);
}

static double client_cpu_s(void)
{
    return bench_cpu_self();
}

static struct result run_clients(int threads, double seconds, int floor)
{
    struct worker w[MAX_THREADS];
    struct result r = {0};
    size_t cap = MAX_SAMPLES / (size_t)threads;
    double d0 = daemon_cpu_s(), c0 = client_cpu_s();
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].deadline = t0 + seconds;
        w[i].floor = floor;
        w[i].cap = cap;
        w[i].lat = malloc(cap * sizeof(double));
        if (w[i].lat == NULL || pthread_create(&w[i].th, NULL, worker_run, &w[i]) != 0)
            die("cannot start a client thread");
    }
    size_t total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(w[i].th, NULL);
        total += w[i].n;
        r.errors += w[i].errors;
    }
    double elapsed = now_s() - t0;
    if (total > 0) {
        r.daemon_us = (daemon_cpu_s() - d0) / (double)total * 1e6;
        r.client_us = (client_cpu_s() - c0) / (double)total * 1e6;
    }
    double *all = malloc((total ? total : 1) * sizeof(double));
    if (all == NULL)
        die("out of memory");
    size_t k = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, w[i].lat, w[i].n * sizeof(double));
        k += w[i].n;
        free(w[i].lat);
    }
    qsort(all, total, sizeof(double), cmp_double);
    r.n = total;
    r.rate = (double)total / elapsed;
    if (total > 0) {
        r.p50_ms = all[(size_t)((double)(total - 1) * 0.50)] * 1000.0;
        r.p99_ms = all[(size_t)((double)(total - 1) * 0.99)] * 1000.0;
    }
    free(all);
    return r;
}

/* `openssl speed -multi N -seconds S rsa2048`: the "rsa 2048 bits" row's sign/s (all processes). */
static double openssl_sign_rate(int procs, int seconds)
{
    char cmd[160], line[512];
    double sign = -1, ts, tv, verify;
    snprintf(cmd, sizeof(cmd), "openssl speed -multi %d -seconds %d rsa2048 2>/dev/null", procs, seconds);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        double s;
        if (sscanf(line, "rsa 2048 bits %lfs %lfs %lf %lf", &ts, &tv, &s, &verify) == 4)
            sign = s;
    }
    pclose(f);
    return sign;
}

int main(int argc, char **argv)
{
    const char *daemon = NULL;
    double seconds = 5.0;
    int threads = 8, ossl_seconds = 3, keep = 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--daemon") == 0 && i + 1 < argc)
            daemon = argv[++i];
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--openssl-seconds") == 0 && i + 1 < argc)
            ossl_seconds = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else {
            fprintf(stderr, "usage: %s --daemon PATH [--seconds S] [--threads N] [--openssl-seconds N] [--keep]\n",
                    argv[0]);
            return 2;
        }
    }
    if (daemon == NULL || threads < 1 || threads > MAX_THREADS || seconds <= 0) {
        fprintf(stderr, "usage: %s --daemon PATH [--seconds S] [--threads N] [--openssl-seconds N] [--keep]\n", argv[0]);
        return 2;
    }
    if (cpus < 1)
        cpus = 1;
    signal(SIGPIPE, SIG_IGN);
    if (ck_httpc_global_init() != CK_OK)
        die("curl");
    char dir[] = "/tmp/ck-bench-unwrap-XXXXXX";
    if (mkdtemp(dir) == NULL)
        die("mkdtemp");
    pid_t pid = spawn_daemon(daemon, dir);
    daemon_pid = pid;
    wait_ready(dir, pid);
    provision();

    /* Warm-up: one connection per thread is made in the first request. */
    struct result warm = run_clients(threads, seconds / 10 < 0.3 ? seconds / 10 : 0.3, 0);
    struct result one = run_clients(1, seconds, 0);
    struct result many = run_clients(threads, seconds, 0);
    /* The floor: the same request without a token, which the vault answers 401 with its challenge
     * after looking the vault up: TLS, HTTP, the client, and no token, key, RSA or audit work. */
    struct result bare = run_clients(threads, seconds / 2, 1);
    double ossl = ossl_seconds > 0 ? openssl_sign_rate((int)cpus, ossl_seconds) : -1;

    printf("unwrapkey RSA-OAEP-256, RSA-2048, HTTPS keep-alive (one connection per client), crosskeyd on %ld cpus;"
           " %.1f s per figure\n",
           cpus, seconds);
    printf("%-28s %12s %10s %10s %8s\n", "clients", "unwraps/s", "p50 ms", "p99 ms", "errors");
    printf("%-28d %12.1f %10.2f %10.2f %8ld\n", 1, one.rate, one.p50_ms, one.p99_ms, one.errors);
    printf("%-28d %12.1f %10.2f %10.2f %8ld\n", threads, many.rate, many.p50_ms, many.p99_ms, many.errors);
    if (ossl > 0)
        printf("openssl speed -multi %ld rsa2048: %.1f private-key ops/s; ratio %d clients / openssl = %.3f (target >= 0.60)\n",
               cpus, ossl, threads, many.rate / ossl);
    else
        printf("openssl speed: not run\n");
    /* CPU time per unwrap does not depend on what else runs on the machine as much as rates do:
     * cpus / (daemon + client CPU per unwrap) is the rate the CPUs allow, and cpus / openssl's rate
     * the CPU time of one bare private-key operation. */
    printf("CPU per unwrap (%d clients): daemon %.0f us, client %.0f us; CPU-bound limit %.0f unwraps/s",
           threads, many.daemon_us, many.client_us, (double)cpus * 1e6 / (many.daemon_us + many.client_us));
    if (ossl > 0)
        printf("; one openssl private-key op %.0f us", (double)cpus * 1e6 / ossl);
    printf("\n");
    printf("floor (%d clients, same request without a token, 401): %.1f requests/s, p50 %.2f ms; CPU per request:"
           " daemon %.0f us, client %.0f us\n",
           threads, bare.rate, bare.p50_ms, bare.daemon_us, bare.client_us);

    /* The audit chain written by concurrent requests must verify, one record per request. */
    char url[1024], auth[9100];
    snprintf(url, sizeof(url), "%s%s/verifyAudit?api-version=2026-02-01", C.authority, C.vault_id);
    snprintf(auth, sizeof(auth), "Bearer %s", C.arm_tok);
    json_t *va = call("POST", url, auth, NULL, NULL, 200);
    long records = (long)ck_json_int(va, "records", -1);
    int audit_ok = json_is_true(json_object_get(va, "valid"));
    json_decref(va);
    long requests = (long)(warm.n + one.n + many.n + warm.errors + one.errors + many.errors) + 2;
    printf("audit: %ld records, chain %s (%ld requests made)\n", records, audit_ok ? "valid" : "INVALID", requests);

    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!keep) {
        char cmd[700];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s.log'", dir, dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_unwrap: could not remove %s\n", dir);
    } else {
        printf("data directory kept: %s (log %s.log)\n", dir, dir);
    }
    long errors = warm.errors + one.errors + many.errors + bare.errors;
    if (!audit_ok || records < requests) {
        fprintf(stderr, "bench_unwrap: the audit log does not hold every request\n");
        return 1;
    }
    if (errors > 0 || one.n == 0 || many.n == 0 || bare.n == 0) {
        fprintf(stderr, "bench_unwrap: %ld failed unwraps\n", errors);
        return 1;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
