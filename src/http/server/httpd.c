/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmicrohttpd adapter: one daemon per listener, a thread per connection, bodies buffered into
 * the request arena up to the mount's cap, one log line per request, and a drain on shutdown.
 */
#include "http/server/httpd.h"
#include "core/codec.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct ck_httpd {
    struct MHD_Daemon *d;
    struct ck_mount mounts[CK_HTTP_MAX_MOUNTS];
    int nmounts;
    uint16_t port;
    int tls;
    char name[32];
    char host[256];
    _Atomic int inflight;
    pthread_mutex_t lock;
    pthread_cond_t idle;
};

struct ck_hdr {
    struct ck_hdr *next;
    char *name;
    char *value;
};

struct ck_resp {
    int status;
    struct ck_hdr *headers;
    char *body;
    size_t len;
    const char *ctype;
    struct ck_arena *arena;
    /* A streamed body (ck_resp_stream). */
    ck_reader_fn reader;
    void (*reader_free)(void *);
    void *reader_arg;
    uint64_t stream_len;
};

struct ck_req {
    struct ck_httpd *h;
    struct MHD_Connection *conn;
    struct ck_arena *arena;
    const struct ck_mount *mount;
    const char *method;
    const char *path;
    const char *raw_path;
    const char *log_path;
    int started;         /* the access handler has seen this request */
    int answered;        /* the begin hook answered before the body */
    ck_sink_fn sink;
    void *sink_arg;
    int sink_failed;
    uint64_t received;
    void *data;
    char id[37];
    char *principal;
    char *origin;
    char peer[INET6_ADDRSTRLEN];
    struct ck_buf body;
    int too_large;
    int64_t start_ms;
    int status;
};

/* ---- request accessors ---- */

struct ck_arena *ck_req_arena(struct ck_req *r)
{
    return r->arena;
}

const char *ck_req_method(const struct ck_req *r)
{
    return r->method;
}

const char *ck_req_path(const struct ck_req *r)
{
    return r->path;
}

const char *ck_req_raw_path(const struct ck_req *r)
{
    return r->raw_path ? r->raw_path : r->path;
}

void ck_req_set_sink(struct ck_req *r, ck_sink_fn fn, void *arg)
{
    r->sink = fn;
    r->sink_arg = arg;
}

void ck_req_set_data(struct ck_req *r, void *data)
{
    r->data = data;
}

void *ck_req_data(const struct ck_req *r)
{
    return r->data;
}

int ck_req_is_tls(const struct ck_req *r)
{
    return r->h->tls;
}

uint64_t ck_req_body_received(const struct ck_req *r)
{
    return r->received;
}

struct ck_header_each {
    int (*fn)(void *arg, const char *k, const char *v);
    void *arg;
};

static enum MHD_Result ck_header_each_it(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct ck_header_each *q = cls;
    (void)kind;
    return q->fn(q->arg, key, value ? value : "") ? MHD_NO : MHD_YES;
}

void ck_req_header_each(struct ck_req *r, int (*fn)(void *arg, const char *k, const char *v), void *arg)
{
    struct ck_header_each q = {fn, arg};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, ck_header_each_it, &q);
}

const char *ck_req_header(struct ck_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *ck_req_query(struct ck_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct ck_query_ci {
    const char *name;
    const char *found;
};

static enum MHD_Result ck_query_ci_it(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct ck_query_ci *q = cls;
    (void)kind;
    if (key != NULL && strcasecmp(key, q->name) == 0) {
        q->found = value ? value : "";
        return MHD_NO;
    }
    return MHD_YES;
}

const char *ck_req_query_ci(struct ck_req *r, const char *name)
{
    struct ck_query_ci q = {name, NULL};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, ck_query_ci_it, &q);
    return q.found;
}

struct ck_query_each {
    int (*fn)(void *arg, const char *k, const char *v);
    void *arg;
};

static enum MHD_Result ck_query_each_it(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct ck_query_each *q = cls;
    (void)kind;
    return q->fn(q->arg, key, value ? value : "") ? MHD_NO : MHD_YES;
}

void ck_req_query_each(struct ck_req *r, int (*fn)(void *arg, const char *k, const char *v), void *arg)
{
    struct ck_query_each q = {fn, arg};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, ck_query_each_it, &q);
}

const char *ck_req_body(const struct ck_req *r, size_t *len)
{
    if (len != NULL)
        *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

const char *ck_req_id(const struct ck_req *r)
{
    return r->id;
}

const char *ck_req_origin(const struct ck_req *r)
{
    return r->origin;
}

const char *ck_req_peer(const struct ck_req *r)
{
    return r->peer;
}

void ck_req_set_log_path(struct ck_req *r, const char *path)
{
    r->log_path = ck_arena_strdup(r->arena, path);
}

void ck_req_set_principal(struct ck_req *r, const char *who)
{
    r->principal = ck_arena_strdup(r->arena, who);
}

/* ---- response ---- */

void ck_resp_status(struct ck_resp *resp, int status)
{
    resp->status = status;
}

int ck_resp_get_status(const struct ck_resp *resp)
{
    return resp->status;
}

void ck_resp_header(struct ck_resp *resp, const char *name, const char *value)
{
    struct ck_hdr *h = ck_arena_alloc(resp->arena, sizeof(*h));
    if (h == NULL)
        return;
    h->name = ck_arena_strdup(resp->arena, name);
    h->value = ck_arena_strdup(resp->arena, value);
    if (h->name == NULL || h->value == NULL)
        return;
    /* Keep insertion order. */
    struct ck_hdr **pp = &resp->headers;
    while (*pp != NULL)
        pp = &(*pp)->next;
    *pp = h;
}

void ck_resp_body(struct ck_resp *resp, const char *content_type, const void *body, size_t len)
{
    resp->body = ck_arena_alloc(resp->arena, len + 1);
    if (resp->body == NULL) {
        resp->len = 0;
        return;
    }
    memcpy(resp->body, body, len);
    resp->len = len;
    resp->ctype = content_type ? ck_arena_strdup(resp->arena, content_type) : NULL;
}

void ck_resp_stream(struct ck_resp *resp, const char *content_type, uint64_t len, ck_reader_fn read,
                    void (*free_fn)(void *), void *arg)
{
    if (resp->reader_free != NULL)
        resp->reader_free(resp->reader_arg);
    resp->reader = read;
    resp->reader_free = free_fn;
    resp->reader_arg = arg;
    resp->stream_len = len;
    resp->body = NULL;
    resp->len = 0;
    resp->ctype = content_type ? ck_arena_strdup(resp->arena, content_type) : NULL;
}

void ck_resp_json(struct ck_resp *resp, int status, const json_t *v)
{
    char *s = ck_json_dump(v);
    resp->status = status;
    if (s == NULL) {
        resp->status = 500;
        ck_resp_body(resp, "application/json; charset=utf-8", "{}", 2);
        return;
    }
    ck_resp_body(resp, "application/json; charset=utf-8", s, strlen(s));
    free(s);
}

/* ---- daemon callbacks ---- */

static void ck_httpd_done(struct ck_httpd *h)
{
    pthread_mutex_lock(&h->lock);
    if (atomic_fetch_sub(&h->inflight, 1) == 1)
        pthread_cond_broadcast(&h->idle);
    pthread_mutex_unlock(&h->lock);
}

static const struct ck_mount *ck_httpd_pick(struct ck_httpd *h, const char *path)
{
    for (int i = 0; i < h->nmounts; i++) {
        const struct ck_mount *m = &h->mounts[i];
        if (m->match == NULL || m->match(m->ctx, path))
            return m;
    }
    return NULL;
}

/* Response bodies may carry tokens or secrets: the copy handed to MHD is wiped when it is freed. */
struct ck_wiped {
    size_t len;
    char data[];
};

static void ck_wiped_free(void *cls)
{
    struct ck_wiped *w = cls;
    ck_freezero(w, sizeof(*w) + w->len);
}

struct ck_stream {
    ck_reader_fn read;
    void (*free_fn)(void *);
    void *arg;
};

static ssize_t ck_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct ck_stream *st = cls;
    long n = st->read(st->arg, pos, buf, max);
    return n > 0 ? (ssize_t)n : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void ck_stream_free(void *cls)
{
    struct ck_stream *st = cls;
    if (st->free_fn != NULL)
        st->free_fn(st->arg);
    ck_free(st);
}

/* Per-connection memory of MHD: request line and headers must fit (larger ones get MHD's own
 * 431), and it bounds the chunks a streamed body arrives in. Mounts enforce tighter header limits
 * in their own error format. */
#define CK_HTTP_CONN_MEMORY (96 * 1024)

/* The most MHD asks a reader for at once (four 64 KiB segments of blob data). */
#define CK_STREAM_BLOCK (256 * 1024)

static struct MHD_Response *ck_httpd_stream_response(struct ck_resp *resp)
{
    struct ck_stream *st = ck_malloc(sizeof(*st));
    struct MHD_Response *mr;
    if (st == NULL) {
        if (resp->reader_free != NULL)
            resp->reader_free(resp->reader_arg);
        resp->reader_free = NULL;
        return NULL;
    }
    st->read = resp->reader;
    st->free_fn = resp->reader_free;
    st->arg = resp->reader_arg;
    resp->reader_free = NULL; /* owned by the MHD response from here */
    mr = MHD_create_response_from_callback(resp->stream_len, CK_STREAM_BLOCK, ck_stream_read, st, ck_stream_free);
    if (mr == NULL)
        ck_stream_free(st);
    return mr;
}

static enum MHD_Result ck_httpd_send(struct ck_req *r, struct ck_resp *resp)
{
    struct MHD_Response *mr;
    enum MHD_Result ret;
    if (resp->reader != NULL) {
        mr = ck_httpd_stream_response(resp);
        if (mr == NULL)
            return MHD_NO;
    } else {
        struct ck_wiped *w = ck_malloc(sizeof(*w) + resp->len + 1);
        if (w == NULL)
            return MHD_NO;
        w->len = resp->len;
        if (resp->len > 0)
            memcpy(w->data, resp->body, resp->len);
        mr = MHD_create_response_from_buffer_with_free_callback_cls(resp->len, w->data, ck_wiped_free, w);
        if (mr == NULL) {
            ck_wiped_free(w);
            return MHD_NO;
        }
    }
    if (resp->ctype != NULL)
        MHD_add_response_header(mr, "Content-Type", resp->ctype);
    for (struct ck_hdr *hd = resp->headers; hd != NULL; hd = hd->next)
        MHD_add_response_header(mr, hd->name, hd->value);
    MHD_add_response_header(mr, "x-ms-request-id", r->id);
    const char *crid = ck_req_header(r, "x-ms-client-request-id");
    if (crid != NULL && strlen(crid) <= 128)
        MHD_add_response_header(mr, "x-ms-client-request-id", crid);
    r->status = resp->status ? resp->status : 200;
    ret = MHD_queue_response(r->conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return ret;
}

static void ck_httpd_error(struct ck_req *r, struct ck_resp *resp, int status, const char *code, const char *msg)
{
    if (r->mount != NULL && r->mount->error != NULL) {
        r->mount->error(r->mount->ctx, r, resp, status, code, msg);
    } else {
        json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
        ck_resp_json(resp, status, e);
        json_decref(e);
    }
    if (resp->status == 0)
        resp->status = status;
}

static enum MHD_Result ck_httpd_access(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version, const char *upload_data,
                                       size_t *upload_data_size, void **con_cls)
{
    struct ck_httpd *h = cls;
    struct ck_req *r = *con_cls;
    (void)version;

    if (r == NULL)
        return MHD_NO;
    if (!r->started) {
        struct ck_arena *a = r->arena;
        r->started = 1;
        r->h = h;
        r->conn = conn;
        r->start_ms = ck_mono_ms();
        r->method = ck_arena_strdup(a, method);
        r->path = ck_arena_strdup(a, url);
        if (ck_uuid_new(r->id) != 0)
            snprintf(r->id, sizeof(r->id), "00000000-0000-0000-0000-000000000000");
        r->origin = ck_arena_printf(a, "%s://%s:%u", h->tls ? "https" : "http", h->host, h->port);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci != NULL && ci->client_addr != NULL) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, r->peer, sizeof(r->peer));
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, r->peer, sizeof(r->peer));
        }
        r->mount = ck_httpd_pick(h, url);
        size_t limit = r->mount && r->mount->body_limit ? r->mount->body_limit : CK_HTTP_DEFAULT_BODY_LIMIT;
        ck_buf_init(&r->body, limit);
        /* Request bodies may carry secrets (client secrets, assertions): wipe them on free. */
        r->body.secret = 1;
        atomic_fetch_add(&h->inflight, 1);
        if (r->mount != NULL && r->mount->begin != NULL) {
            struct ck_resp early = {0};
            early.arena = r->arena;
            r->mount->begin(r->mount->ctx, r, &early);
            if (early.status != 0) {
                r->answered = 1;
                return ck_httpd_send(r, &early);
            }
        }
        return MHD_YES;
    }

    if (*upload_data_size > 0) {
        r->received += *upload_data_size;
        if (r->answered) {
            /* Answered before the body: drop it. */
        } else if (r->sink != NULL) {
            if (!r->sink_failed && r->sink(r->sink_arg, upload_data, *upload_data_size) != CK_OK)
                r->sink_failed = 1;
        } else if (!r->too_large && ck_buf_append(&r->body, upload_data, *upload_data_size) != CK_OK) {
            r->too_large = 1;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->answered)
        return MHD_YES;

    struct ck_resp resp = {0};
    resp.arena = r->arena;
    if (r->too_large) {
        ck_httpd_error(r, &resp, 413, "RequestBodyTooLarge", "The request body exceeds the size limit for this endpoint.");
    } else if (r->mount == NULL) {
        ck_httpd_error(r, &resp, 404, "NotFound", "No service handles this path.");
    } else {
        r->mount->handle(r->mount->ctx, r, &resp);
        if (resp.status == 0)
            resp.status = 200;
    }
    return ck_httpd_send(r, &resp);
}

static void ck_httpd_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                               enum MHD_RequestTerminationCode toe)
{
    struct ck_httpd *h = cls;
    struct ck_req *r = *con_cls;
    (void)conn;
    if (r == NULL)
        return;
    if (!r->started) {
        /* MHD answered the request itself (malformed, or headers too large). */
        ck_arena_free(r->arena);
        *con_cls = NULL;
        return;
    }
    int64_t ms = ck_mono_ms() - r->start_ms;
    ck_log(CK_LOG_INFO, "req=%s %s %s status=%d ms=%lld svc=%s principal=%s%s", r->id, r->method,
           r->log_path ? r->log_path : r->path, r->status, (long long)ms, r->mount ? r->mount->name : h->name, r->principal ? r->principal : "-",
           toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
    ck_buf_cleanup(&r->body);
    ck_arena_free(r->arena);
    *con_cls = NULL;
    ck_httpd_done(h);
}

/* Runs first for every request, with the request line's URI as sent: the request context is
 * made here so that the raw (still percent-encoded) path is kept for signature checks. */
static void *ck_httpd_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct ck_arena *a = ck_arena_new();
    struct ck_req *r;
    (void)cls;
    (void)conn;
    if (a == NULL)
        return NULL;
    r = ck_arena_alloc(a, sizeof(*r));
    if (r == NULL) {
        ck_arena_free(a);
        return NULL;
    }
    memset(r, 0, sizeof(*r));
    r->arena = a;
    if (uri != NULL) {
        size_t n = strcspn(uri, "?");
        char *p = ck_arena_alloc(a, n + 1);
        if (p != NULL) {
            memcpy(p, uri, n);
            p[n] = '\0';
            r->raw_path = p;
        }
    }
    return r;
}

int ck_httpd_new(const struct ck_httpd_config *cfg, struct ck_httpd **out)
{
    struct ck_httpd *h = ck_calloc(1, sizeof(*h));
    struct sockaddr_storage ss;
    const char *bind = cfg->bind_addr ? cfg->bind_addr : "127.0.0.1";
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC;
    if (h == NULL)
        return CK_E_NOMEM;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->idle, NULL);
    snprintf(h->name, sizeof(h->name), "%s", cfg->name ? cfg->name : "http");
    snprintf(h->host, sizeof(h->host), "localhost");
    memset(&ss, 0, sizeof(ss));
    if (strchr(bind, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(cfg->port);
        if (inet_pton(AF_INET6, bind, &s6->sin6_addr) != 1)
            goto fail_inval;
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(cfg->port);
        if (inet_pton(AF_INET, bind, &s4->sin_addr) != 1)
            goto fail_inval;
    }
    if (cfg->tls_cert_pem != NULL) {
        flags |= MHD_USE_TLS;
        h->tls = 1;
        h->d = MHD_start_daemon(flags, cfg->port, NULL, NULL, ck_httpd_access, h, MHD_OPTION_SOCK_ADDR, &ss,
                                MHD_OPTION_HTTPS_MEM_KEY, cfg->tls_key_pem, MHD_OPTION_HTTPS_MEM_CERT,
                                cfg->tls_cert_pem, MHD_OPTION_NOTIFY_COMPLETED, ck_httpd_completed, h, MHD_OPTION_URI_LOG_CALLBACK,
                                ck_httpd_uri, h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CK_HTTP_CONN_MEMORY, MHD_OPTION_END);
    } else {
        h->d = MHD_start_daemon(flags, cfg->port, NULL, NULL, ck_httpd_access, h, MHD_OPTION_SOCK_ADDR, &ss,
                                MHD_OPTION_NOTIFY_COMPLETED, ck_httpd_completed, h, MHD_OPTION_URI_LOG_CALLBACK,
                                ck_httpd_uri, h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CK_HTTP_CONN_MEMORY, MHD_OPTION_END);
    }
    if (h->d == NULL) {
        ck_httpd_free(h);
        return CK_E_IO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : cfg->port;
    *out = h;
    return CK_OK;
fail_inval:
    ck_httpd_free(h);
    return CK_E_INVALID;
}

int ck_httpd_mount(struct ck_httpd *h, const struct ck_mount *m)
{
    if (h->nmounts >= CK_HTTP_MAX_MOUNTS)
        return CK_E_LIMIT;
    h->mounts[h->nmounts++] = *m;
    return CK_OK;
}

uint16_t ck_httpd_port(const struct ck_httpd *h)
{
    return h->port;
}

void ck_httpd_set_public_host(struct ck_httpd *h, const char *host)
{
    snprintf(h->host, sizeof(h->host), "%s", host);
}

void ck_httpd_quiesce(struct ck_httpd *h)
{
    if (h != NULL && h->d != NULL) {
        MHD_socket s = MHD_quiesce_daemon(h->d);
        if (s != MHD_INVALID_SOCKET)
            close(s);
    }
}

int ck_httpd_wait_idle(struct ck_httpd *h, int timeout_ms)
{
    int64_t deadline = ck_mono_ms() + timeout_ms;
    int idle;
    pthread_mutex_lock(&h->lock);
    while (atomic_load(&h->inflight) > 0 && ck_mono_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&h->idle, &h->lock, &ts);
    }
    idle = atomic_load(&h->inflight) == 0;
    pthread_mutex_unlock(&h->lock);
    return idle;
}

void ck_httpd_free(struct ck_httpd *h)
{
    if (h == NULL)
        return;
    if (h->d != NULL)
        MHD_stop_daemon(h->d);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->idle);
    ck_free(h);
}
