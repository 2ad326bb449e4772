/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_HTTP_SERVER_HTTPD_H
#define CK_HTTP_SERVER_HTTPD_H

/*
 * The HTTP server adapter over libmicrohttpd. A listener (one address and port, TLS or plain)
 * carries mounts; a mount is a path matcher plus a handler and an error formatter for its
 * protocol. Each request gets an arena that lives until the response has been sent. Handlers
 * see a fully buffered body, capped per mount; exceeding the cap answers 413 in the mount's
 * error format before the handler runs. A mount that must not hold whole bodies in memory (blob
 * uploads and downloads) streams instead: its begin hook runs once the headers are in and may
 * attach a body sink, and a response body may come from a reader callback.
 */
#include "core/err.h"
#include "core/mem.h"
#include "json/json.h"

#include <stddef.h>
#include <stdint.h>

struct ck_httpd;
struct ck_req;

/* A response under construction. Handlers set status, headers and body through the functions
 * below; the body is copied into the response. */
struct ck_resp;

typedef void (*ck_handler_fn)(void *ctx, struct ck_req *req, struct ck_resp *resp);
/* Writes an error response in the mount's protocol format (status, code, message). */
typedef void (*ck_error_fn)(void *ctx, struct ck_req *req, struct ck_resp *resp, int status,
                            const char *code, const char *message);
/* Returns 1 when the mount serves req's path. */
typedef int (*ck_match_fn)(void *ctx, const char *path);
/*
 * Optional: called once the request line and headers are in, before any body. It may answer at
 * once (by setting a status on resp: the body is then not read, the connection is closed after
 * the answer, and handle is not called), attach a body sink (ck_req_set_sink), or do nothing
 * (the body is buffered as usual).
 */
typedef void (*ck_begin_fn)(void *ctx, struct ck_req *req, struct ck_resp *resp);
/* Receives the next piece of a streamed request body. Returns CK_OK, or an error: the rest of
 * the body is then read and dropped, and the handler sees the sink's state. */
typedef int (*ck_sink_fn)(void *arg, const void *data, size_t len);
/* Fills buf with up to max bytes of a streamed response body starting at pos. Returns the count
 * (> 0), or -1 on failure: the connection is closed before the body is complete, so a client
 * never takes a short body for a whole one. */
typedef long (*ck_reader_fn)(void *arg, uint64_t pos, char *buf, size_t max);

struct ck_mount {
    const char *name;   /* service name for logs */
    ck_match_fn match;  /* NULL matches everything */
    ck_handler_fn handle;
    ck_error_fn error;  /* NULL: ARM's {"error":{"code","message"}} JSON */
    void *ctx;
    size_t body_limit;  /* bytes; 0 means CK_HTTP_DEFAULT_BODY_LIMIT */
    ck_begin_fn begin;  /* optional, see above */
};

#define CK_HTTP_DEFAULT_BODY_LIMIT (1u << 20)
#define CK_HTTP_MAX_MOUNTS 8

struct ck_httpd_config {
    const char *bind_addr;       /* "127.0.0.1", "0.0.0.0", "::1"; default 127.0.0.1 */
    uint16_t port;               /* 0 picks a free port; read it back with ck_httpd_port */
    const char *tls_cert_pem;    /* NULL for plain HTTP; chain: server cert then CA */
    const char *tls_key_pem;     /* private key PEM (in memory only) */
    const char *name;            /* listener name for logs */
};

/* Starts a listener. Returns CK_OK and *out, or an error (CK_E_IO when the port is taken). */
int ck_httpd_new(const struct ck_httpd_config *cfg, struct ck_httpd **out) CK_MUST_CHECK;
/* Adds a mount; mounts are tried in the order added. Returns CK_OK or CK_E_LIMIT. Call before
 * the first request arrives (right after ck_httpd_new). */
int ck_httpd_mount(struct ck_httpd *h, const struct ck_mount *m);
uint16_t ck_httpd_port(const struct ck_httpd *h);
/* Stops accepting new connections; requests in flight carry on. */
void ck_httpd_quiesce(struct ck_httpd *h);
/* Waits until no request is in flight or timeout_ms passes. Returns 1 when idle. */
int ck_httpd_wait_idle(struct ck_httpd *h, int timeout_ms);
/* Stops the listener and frees it. NULL is a no-op. */
void ck_httpd_free(struct ck_httpd *h);

/* ---- request access (valid during the handler; strings live in the request arena) ---- */
struct ck_arena *ck_req_arena(struct ck_req *r);
const char *ck_req_method(const struct ck_req *r);
/* The decoded path, without the query string. */
const char *ck_req_path(const struct ck_req *r);
/* The path exactly as on the request line (still percent-encoded), without the query string. */
const char *ck_req_raw_path(const struct ck_req *r);
/* Calls fn for every request header (name as sent, value) until it returns non-zero. */
void ck_req_header_each(struct ck_req *r, int (*fn)(void *arg, const char *k, const char *v), void *arg);
/* Streams the rest of the request body into fn instead of buffering it (from a begin hook). */
void ck_req_set_sink(struct ck_req *r, ck_sink_fn fn, void *arg);
/* A pointer the mount keeps with the request, from its begin hook to its handler. */
void ck_req_set_data(struct ck_req *r, void *data);
void *ck_req_data(const struct ck_req *r);
/* Whether the request arrived over TLS. */
int ck_req_is_tls(const struct ck_req *r);
/* Bytes of request body received so far. */
uint64_t ck_req_body_received(const struct ck_req *r);
/* A request header (case-insensitive name), or NULL. */
const char *ck_req_header(struct ck_req *r, const char *name);
/* A query parameter by decoded name (case-sensitive), or NULL. */
const char *ck_req_query(struct ck_req *r, const char *name);
/* Like ck_req_query, with a case-insensitive name. */
const char *ck_req_query_ci(struct ck_req *r, const char *name);
/* Calls fn for every query parameter (decoded name and value) until it returns non-zero. */
void ck_req_query_each(struct ck_req *r, int (*fn)(void *arg, const char *k, const char *v), void *arg);
const char *ck_req_body(const struct ck_req *r, size_t *len);
const char *ck_req_id(const struct ck_req *r);
/* The listener's origin as clients reach it, e.g. "https://localhost:8443". */
const char *ck_req_origin(const struct ck_req *r);
/* The caller's address ("127.0.0.1"). */
const char *ck_req_peer(const struct ck_req *r);
/* Replaces the path shown in the request log line (copied), for paths that carry a credential. */
void ck_req_set_log_path(struct ck_req *r, const char *path);
/* Sets the principal shown in the request log line (copied). */
void ck_req_set_principal(struct ck_req *r, const char *who);

/* ---- response ---- */
void ck_resp_status(struct ck_resp *resp, int status);
/* The status set so far (0 when none). */
int ck_resp_get_status(const struct ck_resp *resp);
/* Adds a header (both strings copied). */
void ck_resp_header(struct ck_resp *resp, const char *name, const char *value);
/* Sets the body (copied) and its content type. */
void ck_resp_body(struct ck_resp *resp, const char *content_type, const void *body, size_t len);
/* Streams the body from read (len bytes in all, Content-Length: len). free_fn(arg), when not
 * NULL, runs once the response is done with, sent or not. For HEAD, nothing is read. */
void ck_resp_stream(struct ck_resp *resp, const char *content_type, uint64_t len, ck_reader_fn read,
                    void (*free_fn)(void *), void *arg);
/* Serialises v as the JSON body with "application/json; charset=utf-8" and sets status (v is not
 * consumed). */
void ck_resp_json(struct ck_resp *resp, int status, const json_t *v);

/* Sets the host name used in origins ("localhost" by default). */
void ck_httpd_set_public_host(struct ck_httpd *h, const char *host);

#endif
