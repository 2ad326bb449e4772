/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl wrapper: verified TLS, per-request timeouts, capped bodies, raw header capture. */
#include "http/client/httpc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#define CK_HTTPC_SYSTEM_CA_DIR "/etc/ssl/certs"

static char *ck_httpc_ca;
static pthread_mutex_t ck_httpc_ca_lock = PTHREAD_MUTEX_INITIALIZER;

/* One curl handle per thread, kept between requests so that connections (and their TLS
 * sessions) are reused: service-to-service calls then cost a round trip, not a handshake. */
static pthread_key_t ck_httpc_tls_key;
static pthread_once_t ck_httpc_once = PTHREAD_ONCE_INIT;

static void ck_httpc_handle_free(void *h)
{
    curl_easy_cleanup(h);
}

static void ck_httpc_key_init(void)
{
    pthread_key_create(&ck_httpc_tls_key, ck_httpc_handle_free);
}

static CURL *ck_httpc_handle(void)
{
    pthread_once(&ck_httpc_once, ck_httpc_key_init);
    CURL *c = pthread_getspecific(ck_httpc_tls_key);
    if (c != NULL) {
        curl_easy_reset(c);
        return c;
    }
    c = curl_easy_init();
    if (c != NULL && pthread_setspecific(ck_httpc_tls_key, c) != 0) {
        curl_easy_cleanup(c);
        return NULL;
    }
    return c;
}

void ck_httpc_thread_cleanup(void)
{
    pthread_once(&ck_httpc_once, ck_httpc_key_init);
    CURL *c = pthread_getspecific(ck_httpc_tls_key);
    if (c != NULL) {
        pthread_setspecific(ck_httpc_tls_key, NULL);
        curl_easy_cleanup(c);
    }
}

int ck_httpc_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? CK_OK : CK_E_INTERNAL;
}

void ck_httpc_set_ca_file(const char *path)
{
    pthread_mutex_lock(&ck_httpc_ca_lock);
    ck_free(ck_httpc_ca);
    ck_httpc_ca = path ? ck_strdup(path) : NULL;
    pthread_mutex_unlock(&ck_httpc_ca_lock);
}

static size_t ck_httpc_write(char *p, size_t size, size_t n, void *arg)
{
    struct ck_buf *b = arg;
    size_t len = size * n;
    return ck_buf_append(b, p, len) == CK_OK ? len : 0;
}

static size_t ck_httpc_header(char *p, size_t size, size_t n, void *arg)
{
    struct ck_buf *b = arg;
    size_t len = size * n;
    /* A new status line starts a new header block (after 100-continue or redirects). */
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0)
        b->len = 0;
    return ck_buf_append(b, p, len) == CK_OK ? len : 0;
}

static int ck_httpc_progress(void *arg, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    const volatile int *flag = arg;
    (void)dlt;
    (void)dln;
    (void)ult;
    (void)uln;
    return flag != NULL && *flag ? 1 : 0;
}

int ck_httpc_do(const struct ck_httpc_req *req, struct ck_httpc_resp *resp)
{
    CURL *c = ck_httpc_handle();
    struct curl_slist *hdrs = NULL;
    char ca[4096] = "";
    int rc = CK_E_UNAVAILABLE;

    memset(resp, 0, sizeof(*resp));
    ck_buf_init(&resp->body, req->limit ? req->limit : CK_HTTPC_DEFAULT_LIMIT);
    ck_buf_init(&resp->headers, 64 * 1024);
    resp->body.secret = 1; /* bodies may carry tokens */
    if (c == NULL)
        return CK_E_NOMEM;
    for (int i = 0; i < CK_HTTPC_MAX_HEADERS && req->headers[i] != NULL; i++) {
        struct curl_slist *n = curl_slist_append(hdrs, req->headers[i]);
        if (n == NULL) {
            rc = CK_E_NOMEM;
            goto out;
        }
        hdrs = n;
    }
    /* Suppress curl's own "Expect: 100-continue" round trip. */
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method ? req->method : "GET");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms ? req->timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ck_httpc_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, ck_httpc_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &resp->headers);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (req->abort_flag != NULL) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, ck_httpc_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)req->abort_flag);
    }
    if (req->body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (req->method != NULL && strcmp(req->method, "GET") != 0 && strcmp(req->method, "DELETE") != 0 &&
               strcmp(req->method, "HEAD") != 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    if (req->method != NULL && strcmp(req->method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    /* A CA file replaces curl's default bundle; the system store stays trusted through its
     * directory, so real external issuers verify as well as the local CA's servers. */
    curl_easy_setopt(c, CURLOPT_CAPATH, CK_HTTPC_SYSTEM_CA_DIR);
    if (req->ca_file != NULL) {
        curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file);
    } else {
        pthread_mutex_lock(&ck_httpc_ca_lock);
        if (ck_httpc_ca != NULL)
            strncpy(ca, ck_httpc_ca, sizeof(ca) - 1);
        pthread_mutex_unlock(&ck_httpc_ca_lock);
        if (ca[0] != '\0')
            curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
        rc = CK_OK;
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        rc = CK_E_TIMEOUT;
    } else if (cc == CURLE_WRITE_ERROR) {
        rc = CK_E_TOO_LARGE;
    } else if (cc == CURLE_OUT_OF_MEMORY) {
        rc = CK_E_NOMEM;
    } else if (cc == CURLE_ABORTED_BY_CALLBACK) {
        rc = CK_E_CANCELLED;
    }
out:
    /* Leave no pointer into this call's memory behind in the kept handle. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
    curl_slist_free_all(hdrs);
    return rc;
}

void ck_httpc_resp_cleanup(struct ck_httpc_resp *resp)
{
    ck_buf_cleanup(&resp->body);
    ck_buf_cleanup(&resp->headers);
}

char *ck_httpc_resp_header(const struct ck_httpc_resp *resp, const char *name)
{
    size_t nl = strlen(name);
    const char *p = resp->headers.data;
    if (p == NULL)
        return NULL;
    while (*p) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            return ck_strndup(v, (size_t)(p + len - v));
        }
        if (eol == NULL)
            break;
        p = eol + 2;
    }
    return NULL;
}
