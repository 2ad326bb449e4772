/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blob benchmark: crosskey's blob data plane next to Azurite, in the same run, on the same
 * machine, driven by the same client. crosskeyd is spawned on a temporary data directory with
 * kernel-chosen ports and the development account (devstoreaccount1), reached over plain HTTP
 * (the blobDev origin) and over HTTPS (the blob origin); Azurite 3.35 (bench/azurite, from npm) is
 * spawned with `azurite-blob --inMemoryPersistence`; bench_static serves a static in-memory body
 * with the same HTTP stack as the daemon, as the transport ceiling T. Every request carries an
 * account SAS signed here (HMAC-SHA256, reference/wire-blob.md A.4).
 *
 * The client is one thread on the libcurl multi interface with N (default 16) easy handles, each
 * on its own keep-alive connection. Measured per server: 4 KiB Put Blob and Get Blob operations per
 * second (N connections, S seconds each; the GETs read back the blobs the PUT phase wrote), and
 * single-stream MB/s of one 64 MiB Put Blob and one 64 MiB GET (median of R repetitions; bodies
 * come from and go to memory, and are checked outside the timed region). Then
 * `openssl speed -evp aes-256-gcm` at 16 KiB blocks gives A; the combined ceiling is
 * 1/(1/T + 1/A), and the targets are printed with whether each is met. No target fails the run;
 * a failed request, a wrong body or a server that does not start does.
 *
 * Usage: bench_blob --daemon PATH [--static PATH] [--azurite DIR|none] [--seconds S] [--conns N]
 *                   [--big-mib M] [--reps R] [--openssl-seconds N] [--keep]
 *
 * With --target, the accounts mode (accounts_main): the same client against accounts of a daemon
 * started elsewhere, named with their origin and Shared Key (bench/bench_cmk.sh: a customer-managed
 * key account next to a Microsoft-managed one), for throughput at given object sizes, a fixed
 * number of operations, or a probe that waits for a status (the first 403 after a key is disabled).
 *        bench_blob --target LABEL ORIGIN ACCOUNT KEY [--target ...] [--ca FILE] [--pid PID] ...
 */
#include "bench_cpu.h"
#include "core/codec.h"
#include "core/fsutil.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "json/json.h"

#include <curl/curl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ACCOUNT "devstoreaccount1"
#define DEV_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define SAS_VERSION "2025-11-05" /* the newest Azurite 3.35 knows; crosskey serves any */
#define SMALL 4096
#define MAX_CONNS 64
#define MAX_REPS 15

/* ---- small helpers ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_blob: %s\n", what);
    exit(1);
}

static double cpu_of(pid_t pid)
{
    return bench_cpu_of(pid);
}

static double self_cpu(void)
{
    return bench_cpu_self();
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- child processes: spawned under timeout(1), killed with the benchmark, stopped by pid ---- */

struct child {
    pid_t pid;    /* timeout(1) */
    pid_t server; /* the server itself (timeout's child), for its CPU time */
};

/* Starts `timeout -k 5 LIMIT argv...` with stdout and stderr to log; the child gets SIGTERM if the
 * benchmark dies first. */
static int spawn(char *const argv[], const char *log, double limit_s, struct child *c)
{
    char limit[32];
    const char *args[40];
    int n = 0;
    snprintf(limit, sizeof(limit), "%.0f", limit_s);
    args[n++] = "timeout";
    args[n++] = "-k";
    args[n++] = "5";
    args[n++] = limit;
    for (int i = 0; argv[i] != NULL && n < 39; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, 0);
            close(devnull);
        }
        execvp("timeout", (char *const *)args);
        _exit(127);
    }
    c->pid = pid;
    c->server = 0;
    /* timeout(1) forks the server at once; find it for CPU accounting. */
    for (int i = 0; i < 200 && c->server == 0; i++) {
        char path[80], buf[64];
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            if (fgets(buf, sizeof(buf), f) != NULL)
                c->server = (pid_t)strtol(buf, NULL, 10);
            fclose(f);
        }
        if (c->server == 0)
            usleep(10 * 1000);
    }
    return 0;
}

static int child_alive(const struct child *c)
{
    int status;
    return c->pid > 0 && waitpid(c->pid, &status, WNOHANG) == 0;
}

/* SIGTERM to timeout(1), which passes it on to the server; returns the exit status. */
static int stop_child(struct child *c)
{
    int status = -1;
    if (c->pid <= 0)
        return 0;
    kill(c->pid, SIGTERM);
    waitpid(c->pid, &status, 0);
    c->pid = 0;
    return status;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof(a);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static int port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* ---- the account SAS (reference/wire-blob.md A.4) ---- */

/* "sv=...&ss=b&srt=sco&sp=racwdl&se=...&spr=https,http&sig=..." for account, signed with its key
(base64), valid for a day. */
static void make_sas(char *out, size_t cap, const char *account, const char *key_b64)
{
    char se[32], sts[512], enc_se[64];
    uint8_t *key = NULL, mac[CK_SHA256_LEN];
    size_t klen = 0;
    time_t t = time(NULL) + 24 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(se, sizeof(se), "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* accountName, sp, ss, srt, st, se, sip, spr, sv, ses, each followed by a newline. */
    int n = snprintf(sts, sizeof(sts), "%s\nracwdl\nb\nsco\n\n%s\n\nhttps,http\n%s\n\n", account, se, SAS_VERSION);
    if (ck_b64_decode(key_b64, strlen(key_b64), &key, &klen) != 0)
        die("bad account key");
    if (ck_hmac_sha256(key, klen, sts, (size_t)n, mac) != CK_OK)
        die("hmac");
    ck_freezero(key, klen);
    char *sig = ck_b64_encode(mac, sizeof(mac));
    char *esig = sig ? ck_url_encode(sig) : NULL;
    char *ese = ck_url_encode(se);
    if (esig == NULL || ese == NULL || strlen(ese) >= sizeof(enc_se))
        die("out of memory");
    snprintf(out, cap, "sv=%s&ss=b&srt=sco&sp=racwdl&se=%s&spr=https%%2Chttp&sig=%s", SAS_VERSION, ese, esig);
    ck_free(sig);
    ck_free(esig);
    ck_free(ese);
}

/* ---- targets and the client ---- */

struct target {
    const char *label;
    char origin[256];   /* "http://127.0.0.1:P" */
    char account[64];   /* the path's first segment */
    const char *sas;    /* the account SAS of account */
    char container[64]; /* created by the benchmark */
    char ca[600];       /* CA file for HTTPS, or "" */
    char resolve[128];  /* "localhost:P:127.0.0.1" for HTTPS origins named localhost */
    pid_t server;       /* for CPU time; 0 when unknown */
    CURLM *m;           /* the client's kept connections to this server */
    int available;
    char why[1200]; /* why not available */
    /* results */
    double put_ops, get_ops, put_cpu_us, get_cpu_us, put_client_us, get_client_us;
    double big_put, big_get; /* MB/s, medians */
    double gets[MAX_REPS];   /* the single-stream GETs */
    int ngets, big_ready;    /* big_ready: the big blobs are there to read */
    long errors;
    long written[MAX_CONNS]; /* 4 KiB blobs written by each connection so far */
    long read[MAX_CONNS];    /* 4 KiB GETs made by each connection so far */
};

static uint8_t *g_big;
static size_t g_big_len;
static uint8_t g_small[SMALL];
/* What the ops phases (run_phase) write and read: by default 4 KiB blobs "sCC-NNNNNNN"; the
 * accounts mode sets other sizes and prefixes, and a limit on the operations of one phase. */
static const uint8_t *g_body = g_small;
static size_t g_body_len = SMALL;
static const char *g_prefix = "s";
static long g_phase_limit; /* 0: none */
static struct curl_slist *g_put_headers, *g_get_headers;

struct slot {
    CURL *e;
    int idx;
    long seq;
    size_t got;
    const uint8_t *expect; /* when set, the body is compared with it as it arrives */
    int mismatch;
    char url[1024];
    char err[256]; /* the start of an error body */
    size_t errlen;
    struct curl_slist *resolve;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct slot *s = arg;
    size_t len = size * n;
    if (s->expect != NULL) {
        if (s->got + len > g_big_len || memcmp(s->expect + s->got, p, len) != 0)
            s->mismatch = 1;
    }
    if (s->errlen < sizeof(s->err) - 1) {
        size_t k = len < sizeof(s->err) - 1 - s->errlen ? len : sizeof(s->err) - 1 - s->errlen;
        memcpy(s->err + s->errlen, p, k);
        s->errlen += k;
        s->err[s->errlen] = '\0';
    }
    s->got += len;
    return len;
}

static void slot_init(struct slot *s, const struct target *t, int idx)
{
    memset(s, 0, sizeof(*s));
    s->idx = idx;
    s->e = curl_easy_init();
    if (s->e == NULL)
        die("curl_easy_init");
    curl_easy_setopt(s->e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(s->e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->e, CURLOPT_TIMEOUT, 120L);
    if (t->ca[0] != '\0')
        curl_easy_setopt(s->e, CURLOPT_CAINFO, t->ca);
    if (t->resolve[0] != '\0') {
        s->resolve = curl_slist_append(NULL, t->resolve);
        curl_easy_setopt(s->e, CURLOPT_RESOLVE, s->resolve);
    }
}

static void slot_cleanup(struct slot *s)
{
    curl_easy_cleanup(s->e);
    curl_slist_free_all(s->resolve);
}

static void slot_url(struct slot *s, const struct target *t, const char *blob, const char *query)
{
    snprintf(s->url, sizeof(s->url), "%s/%s/%s%s%s?%s%s%s", t->origin, t->account, t->container, blob[0] ? "/" : "",
             blob, query ? query : "", query ? "&" : "", t->sas);
    curl_easy_setopt(s->e, CURLOPT_URL, s->url);
    s->got = 0;
    s->errlen = 0;
    s->err[0] = '\0';
    s->mismatch = 0;
}

static void slot_put(struct slot *s, const struct target *t, const char *blob, const void *body, size_t len)
{
    slot_url(s, t, blob, NULL);
    curl_easy_setopt(s->e, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(s->e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(s->e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(s->e, CURLOPT_HTTPHEADER, g_put_headers);
}

static void slot_get(struct slot *s, const struct target *t, const char *blob)
{
    slot_url(s, t, blob, NULL);
    curl_easy_setopt(s->e, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(s->e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(s->e, CURLOPT_HTTPHEADER, g_get_headers);
}

/* Runs one request on a handle of the multi (so it reuses the multi's kept connections).
 * Returns the HTTP status, or -1 on a transfer failure; *secs is its duration. */
static long run_one(CURLM *m, struct slot *s, double *secs)
{
    int running = 1;
    double t0 = now_s();
    curl_multi_add_handle(m, s->e);
    CURLcode res = CURLE_OK;
    while (running) {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    int q;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(m, &q)) != NULL)
        if (msg->msg == CURLMSG_DONE)
            res = msg->data.result;
    if (secs != NULL)
        *secs = now_s() - t0;
    curl_multi_remove_handle(m, s->e);
    long code = -1;
    if (res == CURLE_OK)
        curl_easy_getinfo(s->e, CURLINFO_RESPONSE_CODE, &code);
    else
        fprintf(stderr, "bench_blob: %s: %s\n", s->url, curl_easy_strerror(res));
    return code;
}

enum phase { PH_PUT, PH_GET };

/* What a server's 4 KiB phases add up to over their slices. */
struct tally {
    long done;
    double secs, server_cpu, client_cpu;
};

/*
 * N connections for `seconds`: 4 KiB PUTs of new blobs ("sCC-NNNNNNN", CC the connection, N
 * counting on from the blobs it wrote before) or GETs cycling over the blobs each connection
 * wrote. Adds the completed operations, the time and the CPU time of server and client to *tl.
 * (Size, body and prefix are g_body_len, g_body and g_prefix; with g_phase_limit set, the phase
 * also ends after that many requests.)
 */
static void run_phase(struct target *t, enum phase ph, int conns, double seconds, struct tally *tl)
{
    struct slot slots[MAX_CONNS];
    char name[64];
    long done = 0, issued = 0;
    int active = 0;
    double d0 = cpu_of(t->server), c0 = self_cpu();
    double t0 = now_s(), deadline = t0 + seconds, last = t0;
    if (g_phase_limit > 0 && conns > g_phase_limit)
        conns = (int)g_phase_limit;
    for (int i = 0; i < conns; i++) {
        slot_init(&slots[i], t, i);
        if (ph == PH_PUT) {
            slots[i].seq = t->written[i];
            snprintf(name, sizeof(name), "%s%02d-%07ld", g_prefix, i, slots[i].seq);
            slot_put(&slots[i], t, name, g_body, g_body_len);
        } else {
            slots[i].seq = t->read[i];
            snprintf(name, sizeof(name), "%s%02d-%07ld", g_prefix, i, slots[i].seq % t->written[i]);
            slot_get(&slots[i], t, name);
        }
        curl_multi_add_handle(t->m, slots[i].e);
        active++;
        issued++;
    }
    while (active > 0) {
        int running;
        if (curl_multi_perform(t->m, &running) != CURLM_OK)
            die("curl_multi_perform");
        int q;
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(t->m, &q)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct slot *s = NULL;
            CURL *e = msg->easy_handle;
            CURLcode res = msg->data.result;
            for (int i = 0; i < conns; i++)
                if (slots[i].e == e)
                    s = &slots[i];
            long code = -1;
            if (res == CURLE_OK)
                curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
            int ok = ph == PH_PUT ? code == 201 : code == 200 && s->got == g_body_len;
            if (ok) {
                done++;
                if (ph == PH_PUT)
                    t->written[s->idx] = s->seq + 1;
            } else if (t->errors++ < 3) {
                fprintf(stderr, "bench_blob: %s %s %s: %s, status %ld, %zu bytes: %.200s\n", t->label,
                        ph == PH_PUT ? "PUT" : "GET", s->url, curl_easy_strerror(res), code, s->got, s->err);
            }
            curl_multi_remove_handle(t->m, e);
            last = now_s();
            s->seq++;
            if (ph == PH_GET)
                t->read[s->idx] = s->seq;
            if (last >= deadline || (g_phase_limit > 0 && issued >= g_phase_limit)) {
                active--;
                continue;
            }
            if (ph == PH_PUT) {
                snprintf(name, sizeof(name), "%s%02d-%07ld", g_prefix, s->idx, s->seq);
                slot_put(s, t, name, g_body, g_body_len);
            } else {
                snprintf(name, sizeof(name), "%s%02d-%07ld", g_prefix, s->idx, s->seq % t->written[s->idx]);
                slot_get(s, t, name);
            }
            curl_multi_add_handle(t->m, e);
            issued++;
        }
        if (active > 0)
            curl_multi_poll(t->m, NULL, 0, 100, NULL);
    }
    for (int i = 0; i < conns; i++)
        slot_cleanup(&slots[i]);
    tl->done += done;
    tl->secs += last - t0;
    tl->server_cpu += cpu_of(t->server) - d0;
    tl->client_cpu += self_cpu() - c0;
}

/* One 64 MiB GET of url on a handle of m; returns MB/s, or -1 (an error printed). When check is
 * set, the body is compared with the source buffer. */
static double big_get(CURLM *m, struct target *t, const char *blob, int check)
{
    struct slot s;
    double secs = 0;
    slot_init(&s, t, 0);
    /* Large reads from the socket: the client's receive loop should cost little next to the
     * server's send loop (curl's default buffer is 16 KiB). */
    curl_easy_setopt(s.e, CURLOPT_BUFFERSIZE, 1024L * 1024);
    slot_get(&s, t, blob);
    s.expect = check ? g_big : NULL;
    long code = run_one(m, &s, &secs);
    double rate = -1;
    if (code != 200 || s.got != g_big_len || s.mismatch) {
        fprintf(stderr, "bench_blob: %s GET %s: status %ld, %zu bytes%s: %.200s\n", t->label, s.url, code, s.got,
                s.mismatch ? ", CONTENT DIFFERS" : "", s.err);
        t->errors++;
    } else {
        rate = (double)g_big_len / secs / 1e6;
    }
    slot_cleanup(&s);
    return rate;
}

static double big_put(CURLM *m, struct target *t, const char *blob)
{
    struct slot s;
    double secs = 0;
    slot_init(&s, t, 0);
    slot_put(&s, t, blob, g_big, g_big_len);
    long code = run_one(m, &s, &secs);
    double rate = -1;
    if (code != 201) {
        fprintf(stderr, "bench_blob: %s PUT %s: status %ld: %.200s\n", t->label, s.url, code, s.err);
        t->errors++;
    } else {
        rate = (double)g_big_len / secs / 1e6;
    }
    slot_cleanup(&s);
    return rate;
}

static int create_container(CURLM *m, struct target *t, int exists_ok)
{
    struct slot s;
    slot_init(&s, t, 0);
    slot_url(&s, t, "", "restype=container");
    curl_easy_setopt(s.e, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(s.e, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(s.e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    curl_easy_setopt(s.e, CURLOPT_HTTPHEADER, g_get_headers);
    long code = run_one(m, &s, NULL);
    int ok = code == 201 || (exists_ok && code == 409);
    if (!ok)
        fprintf(stderr, "bench_blob: %s: create container: status %ld: %.200s\n", t->label, code, s.err);
    slot_cleanup(&s);
    return ok ? 0 : -1;
}

struct opts {
    double seconds;
    int conns, reps;
};

/* Opens a server's connections: its container, then a short burst of 4 KiB PUTs on every
 * connection (TLS sessions included). */
static void prepare(struct target *t, const struct opts *o)
{
    if ((t->m = curl_multi_init()) == NULL)
        die("curl_multi_init");
    curl_multi_setopt(t->m, CURLMOPT_MAXCONNECTS, (long)(o->conns * 2));
    if (create_container(t->m, t, 0) != 0) {
        t->errors++;
        t->available = 0;
        snprintf(t->why, sizeof(t->why), "its container could not be created");
        return;
    }
    struct tally warm = {0};
    run_phase(t, PH_PUT, o->conns, o->seconds / 10 < 0.5 ? o->seconds / 10 : 0.5, &warm);
    for (int i = 0; i < o->conns; i++)
        if (t->written[i] == 0) {
            fprintf(stderr, "bench_blob: %s: connection %d wrote no blob\n", t->label, i);
            t->errors++;
            t->available = 0;
            snprintf(t->why, sizeof(t->why), "its 4 KiB PUTs failed");
            return;
        }
}

/*
 * The 4 KiB phases and the 64 MiB PUTs of every available server, interleaved: the PUT phase is cut
 * into slices of about a second, and the servers take turns slice by slice (then the same for
 * GET, then one 64 MiB PUT per server per round), so that load from outside the benchmark falls
 * alike on each server.
 */
static void measure_all(struct target *t, int nt, const struct opts *o)
{
    int slices = (int)(o->seconds + 0.5);
    slices = slices < 1 ? 1 : slices > 10 ? 10 : slices;
    for (int ph = PH_PUT; ph <= PH_GET; ph++) {
        struct tally tl[8] = {{0}};
        for (int k = 0; k < slices; k++)
            for (int i = 0; i < nt; i++)
                if (t[i].available)
                    run_phase(&t[i], (enum phase)ph, o->conns, o->seconds / slices, &tl[i]);
        for (int i = 0; i < nt; i++) {
            if (tl[i].done == 0)
                continue;
            double ops = (double)tl[i].done / tl[i].secs, scpu = tl[i].server_cpu / (double)tl[i].done * 1e6,
                   ccpu = tl[i].client_cpu / (double)tl[i].done * 1e6;
            if (ph == PH_PUT)
                t[i].put_ops = ops, t[i].put_cpu_us = scpu, t[i].put_client_us = ccpu;
            else
                t[i].get_ops = ops, t[i].get_cpu_us = scpu, t[i].get_client_us = ccpu;
        }
    }
    /* One 4 KiB blob read back and compared, outside the timed phases. */
    for (int i = 0; i < nt; i++) {
        if (!t[i].available)
            continue;
        struct slot s;
        slot_init(&s, &t[i], 0);
        slot_get(&s, &t[i], "s00-0000000");
        long code = run_one(t[i].m, &s, NULL);
        if (code != 200 || s.got != SMALL || memcmp(s.err, g_small, s.errlen) != 0) {
            fprintf(stderr, "bench_blob: %s: 4 KiB blob read back wrong (status %ld, %zu bytes)\n", t[i].label, code,
                    s.got);
            t[i].errors++;
        }
        slot_cleanup(&s);
    }
    /* Single stream: R rounds of one Put Blob of the big body per server. */
    double puts[8][MAX_REPS];
    int np[8] = {0};
    char name[32];
    for (int r = 0; r < o->reps; r++)
        for (int i = 0; i < nt; i++) {
            if (!t[i].available)
                continue;
            snprintf(name, sizeof(name), "big-%d", r);
            double v = big_put(t[i].m, &t[i], name);
            if (v > 0)
                puts[i][np[i]++] = v;
        }
    for (int i = 0; i < nt; i++) {
        t[i].big_put = np[i] == o->reps ? median(puts[i], np[i]) : -1;
        t[i].big_ready = np[i] == o->reps;
    }
}

/*
 * The single-stream GETs of every server, interleaved so that the load other processes put on the
 * machine falls alike on each: R rounds, each one GET per stream in the order given (the transport
 * ceiling next to the crosskey stream it bounds). Before the rounds, one checked GET per stream
 * opens its connection and compares the body with what was uploaded (untimed).
 */
static void big_get_rounds(struct target **s, int ns, int reps)
{
    char name[32];
    for (int i = 0; i < ns; i++) {
        if (!s[i]->available || !s[i]->big_ready)
            continue;
        if (s[i]->m == NULL && (s[i]->m = curl_multi_init()) == NULL)
            die("curl_multi_init");
        if (big_get(s[i]->m, s[i], "big-0", 1) < 0)
            s[i]->big_ready = 0;
    }
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < ns; i++) {
            if (!s[i]->available || !s[i]->big_ready)
                continue;
            snprintf(name, sizeof(name), "big-%d", r);
            double v = big_get(s[i]->m, s[i], name, 0);
            if (v > 0)
                s[i]->gets[s[i]->ngets++] = v;
        }
    for (int i = 0; i < ns; i++) {
        s[i]->big_get = s[i]->ngets == reps ? median(s[i]->gets, reps) : -1;
        if (s[i]->m != NULL)
            curl_multi_cleanup(s[i]->m);
        s[i]->m = NULL;
    }
}

/* ---- the servers ---- */

static json_t *wait_json(const char *path, struct child *c, const char *who)
{
    char *text = NULL;
    size_t len = 0;
    for (int i = 0; i < 1200; i++) {
        if (!child_alive(c)) {
            fprintf(stderr, "bench_blob: %s exited during start-up\n", who);
            return NULL;
        }
        if (ck_read_file(path, 1 << 16, &text, &len) == 0)
            break;
        usleep(50 * 1000);
    }
    if (text == NULL)
        return NULL;
    json_t *o = ck_json_parse_object(text, len, NULL, 0);
    ck_free(text);
    return o;
}

/* "scheme://host:port" -> port, or -1. */
static int origin_port(const char *origin)
{
    const char *p = strrchr(origin, ':');
    return p ? (int)strtol(p + 1, NULL, 10) : -1;
}

/* `openssl speed -evp aes-256-gcm -seconds N`: the 16384-byte column, in MB/s (10^6 bytes). */
static double openssl_aes_gcm(int seconds)
{
    char cmd[128], line[512];
    double mbs = -1;
    snprintf(cmd, sizeof(cmd), "openssl speed -evp aes-256-gcm -seconds %d 2>/dev/null", seconds);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        double v[6];
        if (strncasecmp(line, "aes-256-gcm", 11) == 0 &&
            sscanf(line + 11, " %lfk %lfk %lfk %lfk %lfk %lfk", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) == 6)
            mbs = v[5] * 1000 / 1e6;
    }
    pclose(f);
    return mbs;
}

static void print_row(const char *label, const struct target *t, int nt, int which, int decimals)
{
    printf("%-34s", label);
    for (int i = 0; i < nt; i++) {
        double v = 0;
        switch (which) {
        case 0: v = t[i].put_ops; break;
        case 1: v = t[i].get_ops; break;
        case 2: v = t[i].big_put; break;
        case 3: v = t[i].big_get; break;
        case 4: v = t[i].put_cpu_us; break;
        case 5: v = t[i].get_cpu_us; break;
        case 6: v = t[i].put_client_us; break;
        case 7: v = t[i].get_client_us; break;
        case 8: v = (double)t[i].errors; break;
        }
        if (!t[i].available)
            printf(" %16s", "n/a");
        else if (v < 0 || (which < 4 && v == 0))
            printf(" %16s", "failed");
        else
            printf(" %16.*f", decimals, v);
    }
    printf("\n");
}

static const char *verdict(double v, double target)
{
    return v >= target ? "met" : "NOT met";
}

static char *self_dir(const char *argv0)
{
    char *d = ck_strdup(argv0);
    char *slash = d ? strrchr(d, '/') : NULL;
    if (d == NULL)
        die("out of memory");
    if (slash == NULL) {
        ck_free(d);
        return ck_strdup(".");
    }
    *slash = '\0';
    return d;
}

/* ---- accounts mode: existing accounts of a daemon started elsewhere (bench/bench_cmk.sh) ---- */

#define MAX_TARGETS 4
#define MAX_SIZES 4

static double epoch_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The <Code> of a Blob error body, or "-". */
static void error_code(const char *body, char *out, size_t cap)
{
    const char *p = strstr(body, "<Code>"), *q = p ? strstr(p, "</Code>") : NULL;
    if (p == NULL || q == NULL || (size_t)(q - p - 6) >= cap) {
        snprintf(out, cap, "-");
        return;
    }
    memcpy(out, p + 6, (size_t)(q - p - 6));
    out[q - p - 6] = '\0';
}

/*
 * Probes blob "probe" of target t with GETs on one kept connection until a GET answers `want`
 * (creating the blob first when it is missing). For want 403: first waits for a 200 and prints
 * "ready <epoch>", then prints "first 403 <epoch of the answer> <error code> probes N last200
 * <epoch>" at the first 403. For want 200: prints "first 200 <epoch> probes N". Returns 0, or 1
 * when max_s passes first.
 */
static int probe(struct target *t, long want, double max_s, int interval_ms)
{
    struct slot s;
    char code_s[64];
    long n = 0;
    int ready = want != 403;
    double end = now_s() + max_s, last200 = 0;
    if ((t->m = curl_multi_init()) == NULL)
        die("curl_multi_init");
    slot_init(&s, t, 0);
    while (now_s() < end) {
        slot_get(&s, t, "probe");
        long code = run_one(t->m, &s, NULL);
        double at = epoch_now();
        n++;
        if (code == 404) {
            slot_put(&s, t, "probe", g_small, SMALL);
            if (run_one(t->m, &s, NULL) != 201)
                fprintf(stderr, "bench_blob: %s: PUT probe: %.200s\n", t->label, s.err);
            continue;
        }
        if (code == 200)
            last200 = at;
        if (!ready && code == 200) {
            ready = 1;
            printf("ready %.6f\n", at);
            fflush(stdout);
        } else if (ready && code == want) {
            error_code(s.err, code_s, sizeof(code_s));
            if (want == 403)
                printf("first 403 %.6f %s probes %ld last200 %.6f\n", at, code_s, n, last200);
            else
                printf("first %ld %.6f probes %ld\n", want, at, n);
            fflush(stdout);
            slot_cleanup(&s);
            return 0;
        }
        if (interval_ms > 0)
            usleep((useconds_t)interval_ms * 1000);
    }
    error_code(s.err, code_s, sizeof(code_s));
    fprintf(stderr, "bench_blob: %s: no %ld within %.0f s (%ld probes, last error %s)\n", t->label, want, max_s, n,
            code_s);
    slot_cleanup(&s);
    return 1;
}

/* One checked GET of blob name (len bytes, a prefix of g_big). Returns 0 when the body matches. */
static int check_blob(struct target *t, const char *name, size_t len)
{
    struct slot s;
    slot_init(&s, t, 0);
    slot_get(&s, t, name);
    s.expect = g_big;
    long code = run_one(t->m, &s, NULL);
    int bad = code != 200 || s.got != len || s.mismatch;
    if (bad)
        fprintf(stderr, "bench_blob: %s: %s read back wrong (status %ld, %zu bytes%s)\n", t->label, name, code, s.got,
                s.mismatch ? ", content differs" : "");
    slot_cleanup(&s);
    return bad;
}

#define MAX_SLICES 40

struct acct_result {
    double ops[2], cpu_us[2]; /* [PH_PUT], [PH_GET] */
    double slice_ratio[2];    /* the median over slices of the first target's rate over this one's */
};

static void accounts_usage(void)
{
    fprintf(stderr,
            "usage: bench_blob --target LABEL ORIGIN ACCOUNT KEY [--target ...] [--ca FILE] [--pid PID]\n"
            "          [--container NAME] [--conns N] [--seconds S] [--sizes KIB,KIB,...] [--openssl-seconds N]\n"
            "          [--ops N | --probe 200|403 [--max-seconds S] [--interval-ms MS]]\n");
    exit(2);
}

/*
 * The accounts mode: the targets are accounts of a running daemon, named on the command line with
 * their origin and Shared Key (an account SAS is signed with it). Three uses:
 *  - throughput (default): for each size, PUT then GET phases of S seconds over N connections, cut
 *    into slices of about half a second in which the targets take turns (order rotating), then the
 *    table with the first target's rate over each other's (median over the slices of the ratio within
 *    a slice), and openssl speed -evp aes-256-gcm;
 *  - --ops N: N requests on the first target (N/2 PUTs, then N/2 GETs of what they wrote), so that
 *    a caller can count what the daemon did meanwhile; prints "ops DONE errors E seconds S";
 *  - --probe 200|403: see probe().
 */
static int accounts_main(int argc, char **argv)
{
    struct target t[MAX_TARGETS];
    int nt = 0, conns = 4, ossl_seconds = 3, nsizes = 0, interval_ms = 2;
    long sizes[MAX_SIZES], ops = 0, want = 0, pid = 0;
    double seconds = 3, max_s = 60;
    const char *ca = NULL, *container = "bench", *sizes_arg = "64,4096";
    char sas[MAX_TARGETS][512];
    memset(t, 0, sizeof(t));
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--target") == 0 && i + 4 < argc && nt < MAX_TARGETS) {
            t[nt].label = argv[i + 1];
            snprintf(t[nt].origin, sizeof(t[nt].origin), "%s", argv[i + 2]);
            snprintf(t[nt].account, sizeof(t[nt].account), "%s", argv[i + 3]);
            make_sas(sas[nt], sizeof(sas[nt]), argv[i + 3], argv[i + 4]);
            t[nt].sas = sas[nt];
            t[nt].available = 1;
            nt++;
            i += 4;
        } else if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc)
            ca = argv[++i];
        else if (strcmp(argv[i], "--pid") == 0 && i + 1 < argc)
            pid = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--container") == 0 && i + 1 < argc)
            container = argv[++i];
        else if (strcmp(argv[i], "--conns") == 0 && i + 1 < argc)
            conns = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc)
            sizes_arg = argv[++i];
        else if (strcmp(argv[i], "--openssl-seconds") == 0 && i + 1 < argc)
            ossl_seconds = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
            ops = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--probe") == 0 && i + 1 < argc)
            want = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--max-seconds") == 0 && i + 1 < argc)
            max_s = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc)
            interval_ms = (int)strtol(argv[++i], NULL, 10);
        else
            accounts_usage();
    }
    for (const char *p = sizes_arg; *p != '\0' && nsizes < MAX_SIZES;) {
        char *e;
        long k = strtol(p, &e, 10);
        if (e == p || k < 1 || k > 64 * 1024)
            accounts_usage();
        sizes[nsizes++] = k;
        p = *e == ',' ? e + 1 : e;
    }
    if (nt < 1 || nsizes < 1 || conns < 1 || conns > MAX_CONNS || seconds <= 0 || ops < 0 || ossl_seconds < 0 ||
        (want != 0 && want != 200 && want != 403))
        accounts_usage();
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
        die("curl_global_init");
    long maxk = 4;
    for (int i = 0; i < nsizes; i++)
        maxk = sizes[i] > maxk ? sizes[i] : maxk;
    g_big_len = (size_t)maxk << 10;
    if ((g_big = ck_malloc(g_big_len)) == NULL)
        die("out of memory");
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < g_big_len; i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(g_big + i, &x, 8);
    }
    memcpy(g_small, g_big, SMALL);
    g_put_headers = curl_slist_append(NULL, "x-ms-version: " SAS_VERSION);
    g_put_headers = curl_slist_append(g_put_headers, "x-ms-blob-type: BlockBlob");
    g_put_headers = curl_slist_append(g_put_headers, "Content-Type: application/octet-stream");
    g_put_headers = curl_slist_append(g_put_headers, "Expect:");
    g_get_headers = curl_slist_append(NULL, "x-ms-version: " SAS_VERSION);
    g_get_headers = curl_slist_append(g_get_headers, "Expect:");
    if (g_put_headers == NULL || g_get_headers == NULL)
        die("out of memory");
    for (int i = 0; i < nt; i++) {
        snprintf(t[i].container, sizeof(t[i].container), "%s", container);
        t[i].server = (pid_t)pid;
        if (ca != NULL && strncmp(t[i].origin, "https://", 8) == 0) {
            snprintf(t[i].ca, sizeof(t[i].ca), "%s", ca);
            if (strncmp(t[i].origin + 8, "localhost:", 10) == 0)
                snprintf(t[i].resolve, sizeof(t[i].resolve), "localhost:%d:127.0.0.1", origin_port(t[i].origin));
        }
    }
    int rc = 0;
    if (want != 0) {
        rc = probe(&t[0], want, max_s, interval_ms);
        goto out;
    }
    for (int i = 0; i < nt; i++) {
        if ((t[i].m = curl_multi_init()) == NULL)
            die("curl_multi_init");
        curl_multi_setopt(t[i].m, CURLMOPT_MAXCONNECTS, (long)(conns * 2));
        if (create_container(t[i].m, &t[i], 1) != 0) {
            rc = 1;
            goto out;
        }
    }
    /* Blob names: per size and per target (two targets may be the same account). */
    static char prefixes[MAX_SIZES][MAX_TARGETS][40];
    if (ops > 0) {
        /* N requests on the first target: N/2 PUTs of new blobs, then GETs of them. */
        struct tally tp = {0}, tg = {0};
        snprintf(prefixes[0][0], sizeof(prefixes[0][0]), "o%ld-%ld-", sizes[0], (long)getpid());
        g_prefix = prefixes[0][0];
        g_body = g_big;
        g_body_len = (size_t)sizes[0] << 10;
        g_phase_limit = ops / 2;
        double t0 = now_s();
        run_phase(&t[0], PH_PUT, conns, 1e9, &tp);
        g_phase_limit = ops - ops / 2;
        run_phase(&t[0], PH_GET, conns, 1e9, &tg);
        g_phase_limit = 0;
        printf("ops %ld put %ld get %ld errors %ld seconds %.3f\n", tp.done + tg.done, tp.done, tg.done, t[0].errors,
               now_s() - t0);
        rc = t[0].errors > 0;
        goto out;
    }
    struct acct_result res[MAX_SIZES][MAX_TARGETS];
    memset(res, 0, sizeof(res));
    int slices = (int)(seconds * 2 + 0.5); /* half a second each */
    slices = slices < 1 ? 1 : slices > MAX_SLICES ? MAX_SLICES : slices;
    for (int z = 0; z < nsizes; z++) {
        for (int i = 0; i < nt; i++)
            snprintf(prefixes[z][i], sizeof(prefixes[z][i]), "k%ld-%ld-%d-", sizes[z], (long)getpid(), i);
        g_body = g_big;
        g_body_len = (size_t)sizes[z] << 10;
        for (int i = 0; i < nt; i++) {
            struct tally warm = {0};
            memset(t[i].written, 0, sizeof(t[i].written));
            memset(t[i].read, 0, sizeof(t[i].read));
            /* Opens the connections and gives every one a blob to read back. */
            g_prefix = prefixes[z][i];
            g_phase_limit = conns;
            run_phase(&t[i], PH_PUT, conns, 1e9, &warm);
            g_phase_limit = 0;
        }
        for (int ph = PH_PUT; ph <= PH_GET; ph++) {
            struct tally tl[MAX_TARGETS];
            double rate[MAX_TARGETS][MAX_SLICES];
            memset(tl, 0, sizeof(tl));
            /* Every target's slice comes right after another target's (with the order reversed
             * every other slice, the first and last targets ran twice in a row, on warm connections,
             * and the middle one never did; an A/A run of three targets on one account put the
             * middle one 15-20 % behind), and over nt slices every target takes every place in the
             * order: slice k starts at target k mod nt (two targets: always a b a b ...). */
            for (int k = 0; k < slices; k++)
                for (int j = 0; j < nt; j++) {
                    int i = nt == 2 ? j : (j + k) % nt;
                    struct tally one = {0};
                    g_prefix = prefixes[z][i];
                    run_phase(&t[i], (enum phase)ph, conns, seconds / slices, &one);
                    rate[i][k] = one.secs > 0 ? (double)one.done / one.secs : 0;
                    tl[i].done += one.done;
                    tl[i].secs += one.secs;
                    tl[i].server_cpu += one.server_cpu;
                    tl[i].client_cpu += one.client_cpu;
                }
            for (int i = 0; i < nt; i++) {
                double r[MAX_SLICES];
                int n = 0;
                if (tl[i].done > 0) {
                    res[z][i].ops[ph] = (double)tl[i].done / tl[i].secs;
                    res[z][i].cpu_us[ph] = tl[i].server_cpu / (double)tl[i].done * 1e6;
                }
                for (int k = 0; k < slices; k++)
                    if (rate[i][k] > 0)
                        r[n++] = rate[0][k] / rate[i][k];
                res[z][i].slice_ratio[ph] = median(r, n);
            }
        }
        for (int i = 0; i < nt; i++) {
            char name[80];
            g_prefix = prefixes[z][i];
            snprintf(name, sizeof(name), "%.40s00-0000000", g_prefix);
            if (check_blob(&t[i], name, g_body_len) != 0)
                t[i].errors++;
        }
    }
    double A = ossl_seconds > 0 ? openssl_aes_gcm(ossl_seconds) : -1;
    printf("blob Put Blob and Get Blob over %s with an account SAS; %d connections (libcurl multi, keep-alive);\n"
           "%.1f s per figure in %d slices, the accounts taking turns; MB = 10^6 bytes; %ld cpus\n",
           strncmp(t[0].origin, "https", 5) == 0 ? "HTTPS" : "HTTP", conns, seconds, slices,
           sysconf(_SC_NPROCESSORS_ONLN));
    char h[64];
    printf("%-12s", "");
    for (int i = 0; i < nt; i++) {
        snprintf(h, sizeof(h), "%s ops/s", t[i].label);
        printf(" %12s", h);
        snprintf(h, sizeof(h), "%s MB/s", t[i].label);
        printf(" %11s", h);
    }
    for (int i = 1; i < nt; i++) {
        snprintf(h, sizeof(h), "%s/%s", t[0].label, t[i].label);
        printf(" %9s", h);
    }
    printf("   server CPU us/op");
    for (int i = 0; i < nt; i++)
        printf(" %6.6s", t[i].label);
    printf("\n");
    for (int z = 0; z < nsizes; z++)
        for (int ph = PH_PUT; ph <= PH_GET; ph++) {
            char l[32];
            if (sizes[z] % 1024 == 0)
                snprintf(l, sizeof(l), "%ld MiB %s", sizes[z] / 1024, ph == PH_PUT ? "PUT" : "GET");
            else
                snprintf(l, sizeof(l), "%ld KiB %s", sizes[z], ph == PH_PUT ? "PUT" : "GET");
            printf("%-12s", l);
            for (int i = 0; i < nt; i++) {
                double o = res[z][i].ops[ph];
                printf(" %12.1f %11.1f", o, o * (double)(sizes[z] << 10) / 1e6);
            }
            for (int i = 1; i < nt; i++)
                printf(" %9.3f", res[z][i].slice_ratio[ph]);
            printf("   %16s", "");
            for (int i = 0; i < nt; i++)
                printf(" %6.0f", res[z][i].cpu_us[ph]);
            printf("\n");
        }
    if (A > 0)
        printf("openssl speed -evp aes-256-gcm -seconds %d, 16 KiB blocks: %.1f MB/s (one cpu)\n", ossl_seconds, A);
    if (nt >= 2)
        printf("ratios: the median over the %d slices of the ratio of the two rates in the same slice (the targets\n"
               "take turns within each slice, so load from elsewhere falls alike on both)\n", slices);
    for (int i = 1; i < nt; i++) {
        double lo = 1e9, hi = 0;
        for (int z = 0; z < nsizes; z++)
            for (int ph = PH_PUT; ph <= PH_GET; ph++) {
                double r = res[z][i].slice_ratio[ph];
                lo = r < lo ? r : lo;
                hi = r > hi ? r : hi;
            }
        if (i == 1)
            printf("%s / %s throughput: %.3f to %.3f (target: within 5%%, 0.950 to 1.050): %s\n", t[0].label,
                   t[i].label, lo, hi, lo >= 0.95 && hi <= 1.05 ? "met" : "NOT met");
        else
            printf("%s / %s throughput: %.3f to %.3f\n", t[0].label, t[i].label, lo, hi);
    }
    for (int i = 0; i < nt; i++)
        rc |= t[i].errors > 0;
out:
    for (int i = 0; i < nt; i++)
        if (t[i].m != NULL)
            curl_multi_cleanup(t[i].m);
    curl_slist_free_all(g_put_headers);
    curl_slist_free_all(g_get_headers);
    ck_free(g_big);
    curl_global_cleanup();
    return rc;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s --daemon PATH [--static PATH] [--azurite DIR|none] [--seconds S] [--conns N]\n"
            "          [--big-mib M] [--reps R] [--openssl-seconds N] [--keep]\n",
            argv0);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *daemon = NULL, *static_bin = NULL, *azurite_dir = "none";
    struct opts o = {.seconds = 5.0, .conns = 16, .reps = 3};
    long big_mib = 64;
    int ossl_seconds = 3, keep = 0;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--target") == 0)
            return accounts_main(argc, argv);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--daemon") == 0 && i + 1 < argc)
            daemon = argv[++i];
        else if (strcmp(argv[i], "--static") == 0 && i + 1 < argc)
            static_bin = argv[++i];
        else if (strcmp(argv[i], "--azurite") == 0 && i + 1 < argc)
            azurite_dir = argv[++i];
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            o.seconds = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--conns") == 0 && i + 1 < argc)
            o.conns = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--big-mib") == 0 && i + 1 < argc)
            big_mib = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            o.reps = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--openssl-seconds") == 0 && i + 1 < argc)
            ossl_seconds = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else
            usage(argv[0]);
    }
    if (daemon == NULL || o.seconds <= 0 || o.conns < 1 || o.conns > MAX_CONNS || big_mib < 1 || big_mib > 1024 ||
        o.reps < 1 || o.reps > MAX_REPS || ossl_seconds < 0)
        usage(argv[0]);
    char *dir_self = self_dir(argv[0]);
    char static_default[1024];
    if (static_bin == NULL) {
        snprintf(static_default, sizeof(static_default), "%s/bench_static", dir_self);
        static_bin = static_default;
    }
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
        die("curl_global_init");

    /* Bodies: incompressible bytes, the same for every server. */
    g_big_len = (size_t)big_mib << 20;
    g_big = ck_malloc(g_big_len);
    if (g_big == NULL)
        die("out of memory");
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < g_big_len; i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(g_big + i, &x, 8);
    }
    memcpy(g_small, g_big + 12345, SMALL);
    char sas[512];
    make_sas(sas, sizeof(sas), ACCOUNT, DEV_KEY);
    g_put_headers = curl_slist_append(NULL, "x-ms-version: " SAS_VERSION);
    g_put_headers = curl_slist_append(g_put_headers, "x-ms-blob-type: BlockBlob");
    g_put_headers = curl_slist_append(g_put_headers, "Content-Type: application/octet-stream");
    g_put_headers = curl_slist_append(g_put_headers, "Expect:");
    g_get_headers = curl_slist_append(NULL, "x-ms-version: " SAS_VERSION);
    g_get_headers = curl_slist_append(g_get_headers, "Expect:");
    if (g_put_headers == NULL || g_get_headers == NULL)
        die("out of memory");

    /* Every server lives at most this long, whatever happens to the benchmark. */
    double limit = 120 + (o.seconds * 2.5 + 0.5) * 3 + (double)(o.reps * 3) * 10 + ossl_seconds * 6;
    char dir[] = "/tmp/ck-bench-blob-XXXXXX";
    if (mkdtemp(dir) == NULL)
        die("mkdtemp");
    char data[600], log[600], path[700];
    snprintf(data, sizeof(data), "%s/data", dir);
    struct target t[3];
    memset(t, 0, sizeof(t));
    t[0].label = "crosskey HTTP";
    t[1].label = "crosskey HTTPS";
    t[2].label = "Azurite HTTP";
    for (int i = 0; i < 3; i++) {
        snprintf(t[i].container, sizeof(t[i].container), "bench%d", i);
        snprintf(t[i].account, sizeof(t[i].account), "%s", ACCOUNT);
        t[i].sas = sas;
    }

    /* crosskey */
    struct child ck = {0}, st = {0}, az = {0};
    snprintf(log, sizeof(log), "%s/crosskeyd.log", dir);
    char *dargv[] = {(char *)daemon, "--data", data, "--port", "0", "--mi-port", "0", "--blob-port", "0",
                     "--vault-ports", "0-0", "--dev-account", "--dev-port", "0", "--log-level", "warn", NULL};
    if (spawn(dargv, log, limit, &ck) != 0)
        die("cannot start crosskeyd");
    snprintf(path, sizeof(path), "%s/endpoints.json", data);
    json_t *e = wait_json(path, &ck, "crosskeyd");
    if (e == NULL || ck_json_str(e, "blobDev") == NULL || ck_json_str(e, "blob") == NULL)
        die("crosskeyd did not become ready (see its log with --keep)");
    snprintf(t[0].origin, sizeof(t[0].origin), "%s", ck_json_str(e, "blobDev"));
    snprintf(t[1].origin, sizeof(t[1].origin), "%s", ck_json_str(e, "blob"));
    snprintf(t[1].ca, sizeof(t[1].ca), "%s", ck_json_str(e, "caFile"));
    snprintf(t[1].resolve, sizeof(t[1].resolve), "localhost:%d:127.0.0.1", origin_port(t[1].origin));
    json_decref(e);
    t[0].server = t[1].server = ck.server;
    t[0].available = t[1].available = 1;

    /* bench_static */
    struct target sh = {.label = "static HTTP", .account = ACCOUNT, .sas = sas},
                  ss = {.label = "static HTTPS", .account = ACCOUNT, .sas = sas};
    snprintf(log, sizeof(log), "%s/static.log", dir);
    char mib[16], maxs[32];
    snprintf(mib, sizeof(mib), "%ld", big_mib);
    snprintf(maxs, sizeof(maxs), "%.0f", limit);
    char *sargv[] = {(char *)static_bin, "--dir", dir, "--mib", mib, "--max-seconds", maxs, NULL};
    if (access(static_bin, X_OK) != 0 || spawn(sargv, log, limit, &st) != 0)
        die("cannot start bench_static (--static PATH)");
    {
        char *text = NULL;
        size_t len = 0;
        unsigned hp = 0, sp = 0;
        snprintf(path, sizeof(path), "%s/ports", dir);
        for (int i = 0; i < 600 && text == NULL; i++) {
            if (!child_alive(&st))
                die("bench_static exited during start-up");
            if (ck_read_file(path, 256, &text, &len) != 0)
                usleep(50 * 1000);
        }
        if (text == NULL || sscanf(text, "%u %u", &hp, &sp) != 2)
            die("bench_static did not become ready");
        ck_free(text);
        snprintf(sh.origin, sizeof(sh.origin), "http://127.0.0.1:%u", hp);
        snprintf(ss.origin, sizeof(ss.origin), "https://localhost:%u", sp);
        snprintf(ss.resolve, sizeof(ss.resolve), "localhost:%u:127.0.0.1", sp);
        snprintf(ss.ca, sizeof(ss.ca), "%s/ca.pem", dir);
        sh.server = ss.server = st.server;
        sh.available = ss.available = 1;
    }

    /* Azurite */
    char azbin[1024];
    snprintf(azbin, sizeof(azbin), "%s/node_modules/.bin/azurite-blob", azurite_dir);
    if (strcmp(azurite_dir, "none") == 0) {
        snprintf(t[2].why, sizeof(t[2].why), "not requested (--azurite DIR)");
    } else if (access(azbin, X_OK) != 0) {
        snprintf(t[2].why, sizeof(t[2].why), "%s is not installed (npm ci in %s)", azbin, azurite_dir);
    } else {
        int port = free_port();
        char portstr[16];
        snprintf(portstr, sizeof(portstr), "%d", port);
        snprintf(log, sizeof(log), "%s/azurite.log", dir);
        char *aargv[] = {azbin, "--blobHost", "127.0.0.1", "--blobPort", portstr, "--inMemoryPersistence",
                         "--skipApiVersionCheck", "--disableTelemetry", "--silent", NULL};
        if (port > 0 && spawn(aargv, log, limit, &az) == 0) {
            for (int i = 0; i < 600 && child_alive(&az) && !port_open(port); i++)
                usleep(50 * 1000);
            if (port_open(port)) {
                snprintf(t[2].origin, sizeof(t[2].origin), "http://127.0.0.1:%d", port);
                t[2].server = az.server;
                t[2].available = 1;
            } else {
                snprintf(t[2].why, sizeof(t[2].why), "did not start (see %s with --keep)", log);
                stop_child(&az);
            }
        } else {
            snprintf(t[2].why, sizeof(t[2].why), "cannot start %s", azbin);
        }
    }

    /* The measurements. */
    for (int i = 0; i < 3; i++)
        if (t[i].available)
            prepare(&t[i], &o);
    measure_all(t, 3, &o);
    /* The single-stream GETs; the ceiling's static body answers any path. */
    sh.big_ready = ss.big_ready = 1;
    struct target *streams[] = {&sh, &t[0], &ss, &t[1], &t[2]};
    big_get_rounds(streams, 5, o.reps);
    double T[2] = {sh.big_get, ss.big_get};
    int status_ck = stop_child(&ck), status_st = stop_child(&st);
    stop_child(&az);
    double A = ossl_seconds > 0 ? openssl_aes_gcm(ossl_seconds) : -1;

    /* The table. */
    printf("blob data plane, account devstoreaccount1 with an account SAS; %d connections (libcurl multi, keep-alive),\n"
           "4 KiB ops for %.1f s each; %ld MiB single stream, median of %d; MB = 10^6 bytes; %ld cpus\n",
           o.conns, o.seconds, big_mib, o.reps, sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-34s", "");
    for (int i = 0; i < 3; i++)
        printf(" %16s", t[i].label);
    printf("\n");
    char l[64];
    print_row("4 KiB PUT ops/s", t, 3, 0, 1);
    print_row("4 KiB GET ops/s", t, 3, 1, 1);
    snprintf(l, sizeof(l), "%ld MiB PUT MB/s", big_mib);
    print_row(l, t, 3, 2, 1);
    snprintf(l, sizeof(l), "%ld MiB GET MB/s", big_mib);
    print_row(l, t, 3, 3, 1);
    print_row("server CPU us per 4 KiB PUT", t, 3, 4, 0);
    print_row("server CPU us per 4 KiB GET", t, 3, 5, 0);
    print_row("client CPU us per 4 KiB PUT", t, 3, 6, 0);
    print_row("client CPU us per 4 KiB GET", t, 3, 7, 0);
    print_row("errors", t, 3, 8, 0);
    if (!t[2].available)
        printf("Azurite: not available (%s)\n", t[2].why);
    printf("transport ceiling T (bench_static, %ld MiB GET): HTTP %.1f MB/s, HTTPS %.1f MB/s\n", big_mib, T[0], T[1]);
    if (A > 0)
        printf("openssl speed -evp aes-256-gcm -seconds %d, 16 KiB blocks: A = %.1f MB/s\n", ossl_seconds, A);
    else
        printf("openssl speed: not run\n");
    printf("targets:\n");
    for (int i = 0; i < 2; i++) {
        if (A > 0 && T[i] > 0) {
            double c = 1 / (1 / T[i] + 1 / A);
            double r = t[i].big_get > 0 ? t[i].big_get / c : 0;
            printf("  %s %ld MiB GET / combined ceiling 1/(1/T+1/A) = %.1f / %.1f = %.3f (target >= 0.70): %s\n",
                   t[i].label, big_mib, t[i].big_get, c, r, verdict(r, 0.70));
        } else {
            printf("  %s %ld MiB GET / combined ceiling: not measured\n", t[i].label, big_mib);
        }
    }
    for (int op = 0; op < 2; op++) {
        const char *name = op == 0 ? "GET" : "PUT";
        if (!t[2].available) {
            printf("  crosskey 4 KiB %s vs Azurite: not measured (Azurite not available)\n", name);
            continue;
        }
        double az_ops = op == 0 ? t[2].get_ops : t[2].put_ops;
        for (int i = 0; i < 2; i++) {
            double v = op == 0 ? t[i].get_ops : t[i].put_ops;
            double r = az_ops > 0 ? v / az_ops : 0;
            printf("  %s 4 KiB %s / Azurite = %.1f / %.1f = %.2fx (target >= 5x%s): %s\n", t[i].label, name, v,
                   az_ops, r, i == 0 ? "" : "; informative, Azurite is HTTP", verdict(r, 5));
        }
    }

    long errors = t[0].errors + t[1].errors + t[2].errors + sh.errors + ss.errors;
    if (keep)
        printf("kept: %s (crosskeyd.log, static.log, azurite.log, data/)\n", dir);
    else {
        char cmd[700];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_blob: could not remove %s\n", dir);
    }
    curl_slist_free_all(g_put_headers);
    curl_slist_free_all(g_get_headers);
    ck_free(g_big);
    ck_free(dir_self);
    curl_global_cleanup();
    if (errors > 0) {
        fprintf(stderr, "bench_blob: %ld failed requests\n", errors);
        return 1;
    }
    if (!(WIFEXITED(status_ck) && WEXITSTATUS(status_ck) == 0) || !(WIFEXITED(status_st) && WEXITSTATUS(status_st) == 0)) {
        fprintf(stderr, "bench_blob: crosskeyd or bench_static did not stop cleanly (status %d, %d)\n", status_ck,
                status_st);
        return 1;
    }
    return 0;
}
