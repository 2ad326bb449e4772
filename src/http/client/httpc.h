/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_HTTP_CLIENT_HTTPC_H
#define CK_HTTP_CLIENT_HTTPC_H

/*
 * The HTTP client over libcurl: one blocking request at a time per call, TLS verified against
 * the system store or a given CA file, a timeout on every request, and a capped response body.
 */
#include "core/err.h"
#include "core/mem.h"

#include <stddef.h>

#define CK_HTTPC_MAX_HEADERS 16
#define CK_HTTPC_DEFAULT_LIMIT (4u << 20)

struct ck_httpc_req {
    const char *method;  /* "GET" by default */
    const char *url;
    const char *headers[CK_HTTPC_MAX_HEADERS]; /* "Name: value", NULL-terminated */
    const char *body;
    size_t body_len;
    const char *ca_file; /* extra CA trusted besides the system store; NULL: the process default
                          * (ck_httpc_set_ca_file) */
    long timeout_ms;     /* 0: 10 s */
    size_t limit;        /* response body cap; 0: CK_HTTPC_DEFAULT_LIMIT */
    const volatile int *abort_flag; /* when set and non-zero, the transfer stops (CK_E_CANCELLED);
                                     * checked about once a second (long polls end at shutdown) */
};

struct ck_httpc_resp {
    long status;
    struct ck_buf body;
    struct ck_buf headers; /* raw header lines of the final response */
};

/* One-time process setup (curl_global_init). */
int ck_httpc_global_init(void);
/* Sets the CA file trusted, in addition to the system store, when a request names none (copied). */
void ck_httpc_set_ca_file(const char *path);

/*
 * Performs the request. Returns CK_OK when a response arrived (any status), CK_E_TIMEOUT,
 * CK_E_UNAVAILABLE (connect or TLS failure) or CK_E_TOO_LARGE. resp must be cleaned up with
 * ck_httpc_resp_cleanup whatever the result.
 */
int ck_httpc_do(const struct ck_httpc_req *req, struct ck_httpc_resp *resp) CK_MUST_CHECK;
void ck_httpc_resp_cleanup(struct ck_httpc_resp *resp);
/* Frees the calling thread's kept connection handle (threads that end free theirs by themselves). */
void ck_httpc_thread_cleanup(void);
/* Returns a copy (caller frees) of the first response header with that name, or NULL. */
char *ck_httpc_resp_header(const struct ck_httpc_resp *resp, const char *name);

#endif
