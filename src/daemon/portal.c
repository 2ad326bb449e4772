/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The portal's static-file mount (docs/portal.md): serves the files of web/portal that the build
 * embedded (portal_files.c, made by cmake/portal_embed.cmake) at /portal/ on the main origin,
 * with their content type by extension, a strong ETag (If-None-Match answers 304), "no-cache" so
 * that a browser revalidates after an upgrade, and headers that keep the pages from being framed
 * or sniffed and limit what they may load (a Content-Security-Policy allowing only the portal's
 * own scripts and styles, and connections to the HTTPS origins of the APIs). A path is looked up
 * exactly as the request line sent it, in the embedded table only; an unknown name, a
 * percent-encoded one or one with dot segments answers 404, and there is no directory listing.
 */
#include "daemon/portal.h"

#include <string.h>
#include <strings.h>

#define CKD_PORTAL_PREFIX "/portal/"

/* The portal connects to the main origin (identity, ARM, Graph) and to each vault's own origin,
 * which has a port of its own: https: as a whole is allowed for connections, nothing else. */
#define CKD_PORTAL_CSP                                                                                \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "                 \
    "connect-src 'self' https:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static const struct {
    const char *ext;
    const char *type;
} ckd_portal_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".json", "application/json; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
};

/* The content type of path by its extension (case-insensitive); octet-stream when unknown. */
static const char *ckd_portal_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot != NULL && strchr(dot, '/') == NULL) {
        for (size_t i = 0; i < sizeof(ckd_portal_types) / sizeof(ckd_portal_types[0]); i++)
            if (strcasecmp(dot, ckd_portal_types[i].ext) == 0)
                return ckd_portal_types[i].type;
    }
    return "application/octet-stream";
}

static int ckd_portal_match(void *ctx, const char *path)
{
    (void)ctx;
    return strcmp(path, "/portal") == 0 || strncmp(path, CKD_PORTAL_PREFIX, strlen(CKD_PORTAL_PREFIX)) == 0;
}

/* The embedded file for a raw request path, or NULL. "/portal/" is index.html. */
static const struct ckd_portal_file *ckd_portal_find(const char *raw)
{
    char want[512];
    if (raw == NULL || strchr(raw, '%') != NULL || strlen(raw) >= sizeof(want) - sizeof("index.html"))
        return NULL;
    memcpy(want, raw, strlen(raw) + 1);
    if (strcmp(want, CKD_PORTAL_PREFIX) == 0)
        memcpy(want + strlen(CKD_PORTAL_PREFIX), "index.html", sizeof("index.html"));
    for (size_t i = 0; i < ckd_portal_nfiles; i++)
        if (ckd_portal_files[i].path != NULL && strcmp(ckd_portal_files[i].path, want) == 0)
            return &ckd_portal_files[i];
    return NULL;
}

static void ckd_portal_common_headers(struct ck_resp *resp)
{
    ck_resp_header(resp, "X-Content-Type-Options", "nosniff");
    ck_resp_header(resp, "X-Frame-Options", "DENY");
    ck_resp_header(resp, "Referrer-Policy", "no-referrer");
    ck_resp_header(resp, "Content-Security-Policy", CKD_PORTAL_CSP);
}

static void ckd_portal_text(struct ck_resp *resp, int status, const char *text)
{
    ckd_portal_common_headers(resp);
    ck_resp_header(resp, "Cache-Control", "no-store");
    ck_resp_status(resp, status);
    ck_resp_body(resp, "text/plain; charset=utf-8", text, strlen(text));
}

static void ckd_portal_error(void *ctx, struct ck_req *req, struct ck_resp *resp, int status, const char *code,
                             const char *message)
{
    (void)ctx;
    (void)req;
    (void)code;
    ckd_portal_text(resp, status, message);
}

/* Whether an If-None-Match value lists etag (or is "*"). */
static int ckd_portal_etag_matches(const char *inm, const char *etag)
{
    size_t el = strlen(etag);
    if (inm == NULL)
        return 0;
    for (const char *p = inm; *p != '\0';) {
        p += strspn(p, " \t,");
        if (*p == '\0')
            break;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t'))
            m--;
        if ((m == 1 && p[0] == '*') || (m == el && memcmp(p, etag, el) == 0) ||
            (m == el + 2 && strncmp(p, "W/", 2) == 0 && memcmp(p + 2, etag, el) == 0))
            return 1;
        p += n;
    }
    return 0;
}

static void ckd_portal_handle(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    const char *method = ck_req_method(req);
    const struct ckd_portal_file *f;
    (void)ctx;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        ck_resp_header(resp, "Allow", "GET, HEAD");
        ckd_portal_text(resp, 405, "Method not allowed.\n");
        return;
    }
    if (strcmp(ck_req_path(req), "/portal") == 0 && strcmp(ck_req_raw_path(req), "/portal") == 0) {
        ck_resp_header(resp, "Location", CKD_PORTAL_PREFIX);
        ckd_portal_text(resp, 301, "Moved to /portal/.\n");
        return;
    }
    if ((f = ckd_portal_find(ck_req_raw_path(req))) == NULL) {
        ckd_portal_text(resp, 404, "Not found.\n");
        return;
    }
    ckd_portal_common_headers(resp);
    ck_resp_header(resp, "Cache-Control", "no-cache");
    ck_resp_header(resp, "ETag", f->etag);
    if (ckd_portal_etag_matches(ck_req_header(req, "If-None-Match"), f->etag)) {
        ck_resp_status(resp, 304);
        return;
    }
    ck_resp_status(resp, 200);
    ck_resp_body(resp, ckd_portal_type(f->path), f->data, f->len);
}

int ckd_portal_mount(struct ck_httpd *h)
{
    struct ck_mount m = {
        .name = "portal",
        .match = ckd_portal_match,
        .handle = ckd_portal_handle,
        .error = ckd_portal_error,
        .ctx = NULL,
        .body_limit = 16 * 1024,
    };
    return ck_httpd_mount(h, &m);
}
