/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blob data commands with az's names, flags and output shapes: `storage container
 * create|list|show|delete` and `storage blob upload|download|list|show|delete`, against the Blob
 * REST API of the account's primaryEndpoints.blob (blob.c: endpoint, Shared Key or bearer token,
 * errors). Uploads up to one block (4 MiB) are one Put Blob; larger files are read block by block
 * into Put Block requests and committed with Put Block List, so memory stays at one block.
 * Downloads read 4 MiB ranges pinned to the first answer's ETag and stream them into a temporary
 * file next to the destination, renamed over it only when the whole blob arrived. Both show a
 * progress bar on stderr above a few MiB. Without --overwrite an upload does not replace a blob
 * (If-None-Match: *), as az.
 */
#include "cli/cli_int.h"
#include "core/codec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Metadata pairs one command may send (the request header budget, CLI_BLOB_MAX_HEADERS). */
#define CLI_BLOB_MAX_META 6
/* Blocks of one upload (50,000 is the service's limit). */
#define CLI_BLOB_MAX_BLOCKS 50000
/* List pages are at most this large. */
#define CLI_BLOB_LIST_LIMIT (16u << 20)
#define CLI_BLOB_LIST_DEFAULT 5000

/* ---- shared pieces ---- */

/* Adds x-ms-meta-* headers from --metadata k=v ... Returns CLI_EXIT_OK or CLI_EXIT_USAGE (printed). */
static int cli_blob_meta_headers(struct cli_ctx *ctx, struct cli_blob_req *r)
{
    const char *const *vals;
    int n = cli_args_of(ctx, "metadata", &vals);
    if (n > CLI_BLOB_MAX_META) {
        cli_err("argument --metadata: at most %d pairs", CLI_BLOB_MAX_META);
        return CLI_EXIT_USAGE;
    }
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(vals[i], '=');
        size_t kl = eq != NULL ? (size_t)(eq - vals[i]) : strlen(vals[i]);
        int ok = kl > 0 && ((vals[i][0] >= 'A' && vals[i][0] <= 'Z') || (vals[i][0] >= 'a' && vals[i][0] <= 'z') ||
                            vals[i][0] == '_');
        for (size_t k = 0; k < kl && ok; k++) {
            char c = vals[i][k];
            ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        }
        if (!ok) {
            cli_err("argument --metadata: '%s' is not key=value with a key of letters, digits and underscores "
                    "(a C# identifier, as the Blob service requires)",
                    vals[i]);
            return CLI_EXIT_USAGE;
        }
        const char *v = eq != NULL ? eq + 1 : "";
        if (strpbrk(v, "\r\n") != NULL) {
            cli_err("argument --metadata: values cannot contain line breaks");
            return CLI_EXIT_USAGE;
        }
        if (cli_blob_header(r, cli_fmt(ctx, "x-ms-meta-%.*s", (int)kl, vals[i]), v) != 0) {
            cli_err("argument --metadata: too many headers for one request");
            return CLI_EXIT_USAGE;
        }
    }
    return CLI_EXIT_OK;
}

/* The metadata of a response's x-ms-meta-* headers as an object. */
static json_t *cli_blob_meta_from_headers(const struct ck_httpc_resp *resp)
{
    json_t *m = json_object();
    const char *p = resp->headers.data;
    while (m != NULL && p != NULL && *p) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > 10 && strncasecmp(p, "x-ms-meta-", 10) == 0) {
            const char *colon = memchr(p, ':', len);
            if (colon != NULL) {
                const char *v = colon + 1;
                while (v < p + len && (*v == ' ' || *v == '\t'))
                    v++;
                char *k = ck_strndup(p + 10, (size_t)(colon - p - 10));
                if (k != NULL)
                    json_object_set_new(m, k, json_stringn(v, (size_t)(p + len - v)));
                ck_free(k);
            }
        }
        if (eol == NULL)
            break;
        p = eol + 2;
    }
    return m;
}

/* A header of the response as a JSON string, or null. */
static json_t *cli_hdr_json(const struct ck_httpc_resp *resp, const char *name)
{
    char *v = ck_httpc_resp_header(resp, name);
    json_t *j = v != NULL ? json_string(v) : json_null();
    ck_free(v);
    return j;
}

static json_t *cli_hdr_time(const struct ck_httpc_resp *resp, const char *name)
{
    char *v = ck_httpc_resp_header(resp, name);
    json_t *j = cli_blob_time(v);
    ck_free(v);
    return j;
}

/* The blob as az prints it, from the headers of Get Blob / Get Blob Properties. */
static json_t *cli_blob_from_headers(const char *container, const char *name, const struct ck_httpc_resp *resp)
{
    char *len = ck_httpc_resp_header(resp, "x-ms-blob-content-length");
    char *range = ck_httpc_resp_header(resp, "Content-Range");
    char *cl = ck_httpc_resp_header(resp, "Content-Length");
    long long size = -1;
    /* A ranged answer gives the blob's size after the '/' of Content-Range. */
    if (range != NULL && strchr(range, '/') != NULL)
        size = strtoll(strchr(range, '/') + 1, NULL, 10);
    else if (len != NULL)
        size = strtoll(len, NULL, 10);
    else if (cl != NULL)
        size = strtoll(cl, NULL, 10);
    ck_free(len);
    ck_free(range);
    ck_free(cl);
    char *md5 = ck_httpc_resp_header(resp, "x-ms-blob-content-md5");
    if (md5 == NULL)
        md5 = ck_httpc_resp_header(resp, "Content-MD5");
    json_t *settings = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "cacheControl", cli_hdr_json(resp, "Cache-Control"),
                                 "contentDisposition", cli_hdr_json(resp, "Content-Disposition"), "contentEncoding",
                                 cli_hdr_json(resp, "Content-Encoding"), "contentLanguage",
                                 cli_hdr_json(resp, "Content-Language"), "contentMd5",
                                 md5 != NULL ? json_string(md5) : json_null(), "contentType",
                                 cli_hdr_json(resp, "Content-Type"));
    ck_free(md5);
    char *enc = ck_httpc_resp_header(resp, "x-ms-server-encrypted");
    json_t *props = json_pack("{s:o,s:o,s:b,s:o,s:I,s:o,s:o,s:o,s:o,s:{s:n,s:o,s:o},s:b}", "blobType",
                              cli_hdr_json(resp, "x-ms-blob-type"), "blobTier", cli_hdr_json(resp, "x-ms-access-tier"),
                              "blobTierInferred", 1, "contentSettings", settings ? settings : json_null(),
                              "contentLength", (json_int_t)size, "creationTime", cli_hdr_time(resp, "x-ms-creation-time"),
                              "lastModified", cli_hdr_time(resp, "Last-Modified"), "etag", cli_hdr_json(resp, "ETag"),
                              "copy", json_object(), "lease", "duration", "state",
                              cli_hdr_json(resp, "x-ms-lease-state"), "status", cli_hdr_json(resp, "x-ms-lease-status"),
                              "serverEncrypted", enc != NULL && strcmp(enc, "true") == 0);
    ck_free(enc);
    return json_pack("{s:s,s:s,s:o,s:o,s:n,s:n,s:b}", "container", container, "name", name, "metadata",
                     cli_blob_meta_from_headers(resp), "properties", props ? props : json_null(), "snapshot",
                     "versionId", "deleted", 0);
}

/* Changes an XML <Properties> element into az's properties object (names camel-cased). */
static json_t *cli_blob_props_from_xml(const char *p, size_t n, int blob)
{
    static const struct {
        const char *xml, *json;
        int settings; /* goes under contentSettings */
        int kind;     /* 0 string, 1 integer, 2 boolean, 3 time */
    } map[] = {
        {"Creation-Time", "creationTime", 0, 3},
        {"Last-Modified", "lastModified", 0, 3},
        {"Etag", "etag", 0, 0},
        {"Content-Length", "contentLength", 0, 1},
        {"Content-Type", "contentType", 1, 0},
        {"Content-Encoding", "contentEncoding", 1, 0},
        {"Content-Language", "contentLanguage", 1, 0},
        {"Content-MD5", "contentMd5", 1, 0},
        {"Content-Disposition", "contentDisposition", 1, 0},
        {"Cache-Control", "cacheControl", 1, 0},
        {"BlobType", "blobType", 0, 0},
        {"AccessTier", "blobTier", 0, 0},
        {"AccessTierInferred", "blobTierInferred", 0, 2},
        {"ServerEncrypted", "serverEncrypted", 0, 2},
        {"PublicAccess", "publicAccess", 0, 0},
        {"HasImmutabilityPolicy", "hasImmutabilityPolicy", 0, 2},
        {"HasLegalHold", "hasLegalHold", 0, 2},
        {"DefaultEncryptionScope", "defaultEncryptionScope", 0, 0},
    };
    json_t *props = json_object(), *settings = json_object(), *lease = json_object();
    const char *q = p, *end = p + n, *name, *in;
    size_t nl, inl;
    if (props == NULL || settings == NULL || lease == NULL) {
        json_decref(props);
        json_decref(settings);
        json_decref(lease);
        return NULL;
    }
    json_object_set_new(lease, "duration", json_null());
    json_object_set_new(lease, "state", json_null());
    json_object_set_new(lease, "status", json_null());
    if (blob) {
        static const char *const keys[] = {"cacheControl", "contentDisposition", "contentEncoding",
                                           "contentLanguage", "contentMd5", "contentType"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            json_object_set_new(settings, keys[i], json_null());
    }
    while (cli_xml_child(&q, end, &name, &nl, &in, &inl)) {
        json_t *text = cli_xml_string(in, inl);
        const char *t = json_string_value(text);
        if (t == NULL) {
            json_decref(text);
            continue;
        }
        if (nl == 11 && strncmp(name, "LeaseStatus", nl) == 0) {
            json_object_set(lease, "status", text);
        } else if (nl == 10 && strncmp(name, "LeaseState", nl) == 0) {
            json_object_set(lease, "state", text);
        } else {
            for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
                if (strlen(map[i].xml) != nl || strncmp(map[i].xml, name, nl) != 0)
                    continue;
                json_t *v = t[0] == '\0'      ? json_null()
                            : map[i].kind == 1 ? json_integer(strtoll(t, NULL, 10))
                            : map[i].kind == 2 ? json_boolean(strcmp(t, "true") == 0)
                            : map[i].kind == 3 ? cli_blob_time(t)
                                               : json_incref(text);
                json_object_set_new(map[i].settings ? settings : props, map[i].json, v);
            }
        }
        json_decref(text);
    }
    if (blob) {
        /* Listings carry the ETag without quotes; az prints it quoted, as Get Blob Properties gives it. */
        const char *et = ck_json_str(props, "etag");
        if (et != NULL && et[0] != '"')
            json_object_set_new(props, "etag", json_sprintf("\"%s\"", et));
        json_object_set_new(props, "contentSettings", settings);
    } else {
        json_decref(settings);
    }
    json_object_set_new(props, "lease", lease);
    return props;
}

/* <Metadata> children as an object (null when the listing did not include metadata). */
static json_t *cli_blob_meta_from_xml(const char *p, size_t n)
{
    const char *q = p, *in, *mp, *name;
    size_t inl, mn, nl;
    if (!cli_xml_elem(&q, p + n, "Metadata", &mp, &mn))
        return json_null();
    json_t *m = json_object();
    q = mp;
    while (m != NULL && cli_xml_child(&q, mp + mn, &name, &nl, &in, &inl)) {
        char *k = ck_strndup(name, nl);
        if (k != NULL)
            json_object_set_new(m, k, cli_xml_string(in, inl));
        ck_free(k);
    }
    return m;
}

/* Parses a --num-results value: a positive number or "*" (all, returned as -1). */
static int cli_blob_num_results(struct cli_ctx *ctx, long *out)
{
    const char *v = cli_arg(ctx, "num-results");
    char *end = NULL;
    *out = CLI_BLOB_LIST_DEFAULT;
    if (v == NULL)
        return CLI_EXIT_OK;
    if (strcmp(v, "*") == 0) {
        *out = -1;
        return CLI_EXIT_OK;
    }
    errno = 0;
    *out = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || *out < 1) {
        cli_err("argument --num-results: expected a positive whole number or '*', got '%s'", v);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/*
 * Lists containers (container NULL) or the blobs of a container, following NextMarker until max
 * items (max < 0: all). *out is an array of az's objects.
 */
static int cli_blob_list_items(struct cli_ctx *ctx, const struct cli_blob *b, const char *container, long max,
                               int with_meta, json_t **out)
{
    json_t *all = json_array();
    const char *marker = NULL;
    int rc = CLI_EXIT_OK;

    *out = NULL;
    if (all == NULL)
        return CLI_EXIT_ERR;
    for (;;) {
        struct cli_blob_req r;
        struct ck_httpc_resp resp;
        long want = max < 0 ? CLI_BLOB_LIST_DEFAULT : max - (long)json_array_size(all);
        memset(&r, 0, sizeof(r));
        r.method = "GET";
        r.container = container;
        r.limit = CLI_BLOB_LIST_LIMIT;
        if (container != NULL)
            cli_blob_query(&r, "restype", "container");
        cli_blob_query(&r, "comp", "list");
        cli_blob_query(&r, "prefix", cli_arg(ctx, "prefix"));
        cli_blob_query(&r, "marker", marker);
        cli_blob_query(&r, "maxresults", cli_fmt(ctx, "%ld", want > CLI_BLOB_LIST_DEFAULT ? CLI_BLOB_LIST_DEFAULT : want));
        if (with_meta)
            cli_blob_query(&r, "include", "metadata");
        rc = cli_blob_do(ctx, b, &r, &resp);
        if (rc != CLI_EXIT_OK)
            break;
        if (resp.status != 200) {
            rc = cli_blob_fail(ctx, b, &resp, container);
            ck_httpc_resp_cleanup(&resp);
            break;
        }
        const char *p = resp.body.data != NULL ? resp.body.data : "", *end = p + resp.body.len, *in;
        size_t inl;
        const char *item = container != NULL ? "Blob" : "Container";
        while (cli_xml_elem(&p, end, item, &in, &inl)) {
            json_t *name = cli_xml_get(in, inl, "Name"), *props = NULL;
            const char *pp = in, *pin;
            size_t pinl;
            if (cli_xml_elem(&pp, in + inl, "Properties", &pin, &pinl))
                props = cli_blob_props_from_xml(pin, pinl, container != NULL);
            json_t *o = container != NULL
                            ? json_pack("{s:s,s:o,s:o,s:o,s:n,s:n,s:b}", "container", container, "name",
                                        name ? name : json_null(), "metadata", cli_blob_meta_from_xml(in, inl),
                                        "properties", props ? props : json_object(), "snapshot", "versionId",
                                        "deleted", 0)
                            : json_pack("{s:o,s:o,s:o,s:n}", "name", name ? name : json_null(), "metadata",
                                        cli_blob_meta_from_xml(in, inl), "properties", props ? props : json_object(),
                                        "deleted");
            if (o != NULL)
                json_array_append_new(all, o);
        }
        json_t *next = cli_xml_get(resp.body.data != NULL ? resp.body.data : "", resp.body.len, "NextMarker");
        const char *nm = json_string_value(next);
        marker = nm != NULL && nm[0] != '\0' ? cli_fmt(ctx, "%s", nm) : NULL;
        json_decref(next);
        ck_httpc_resp_cleanup(&resp);
        if (marker == NULL || (max >= 0 && (long)json_array_size(all) >= max))
            break;
    }
    if (rc != CLI_EXIT_OK) {
        json_decref(all);
        return rc;
    }
    if (marker != NULL)
        cli_warn("Next Marker: %s (more results: raise --num-results, or pass '*')", marker);
    *out = all;
    return CLI_EXIT_OK;
}

/* ---- containers ---- */

static int cli_container_create(struct cli_ctx *ctx)
{
    struct cli_blob b;
    struct cli_blob_req r;
    struct ck_httpc_resp resp;
    int rc;

    memset(&r, 0, sizeof(r));
    r.method = "PUT";
    r.container = cli_arg(ctx, "name");
    cli_blob_query(&r, "restype", "container");
    if ((rc = cli_blob_meta_headers(ctx, &r)) != CLI_EXIT_OK)
        return rc;
    if ((rc = cli_blob_open(ctx, &b)) != CLI_EXIT_OK || (rc = cli_blob_do(ctx, &b, &r, &resp)) != CLI_EXIT_OK)
        return rc;
    char *code = ck_httpc_resp_header(&resp, "x-ms-error-code");
    if (resp.status == 201) {
        json_t *out = json_pack("{s:b}", "created", 1);
        rc = cli_print(ctx, out);
        json_decref(out);
    } else if (resp.status == 409 && code != NULL && strcmp(code, "ContainerAlreadyExists") == 0 &&
               !cli_has(ctx, "fail-on-exist")) {
        /* az: an existing container is not an error unless --fail-on-exist. */
        json_t *out = json_pack("{s:b}", "created", 0);
        rc = cli_print(ctx, out);
        json_decref(out);
    } else {
        rc = cli_blob_fail(ctx, &b, &resp, NULL);
    }
    ck_free(code);
    ck_httpc_resp_cleanup(&resp);
    return rc;
}

static int cli_container_delete(struct cli_ctx *ctx)
{
    struct cli_blob b;
    struct cli_blob_req r;
    struct ck_httpc_resp resp;
    int rc;

    memset(&r, 0, sizeof(r));
    r.method = "DELETE";
    r.container = cli_arg(ctx, "name");
    cli_blob_query(&r, "restype", "container");
    if ((rc = cli_blob_open(ctx, &b)) != CLI_EXIT_OK || (rc = cli_blob_do(ctx, &b, &r, &resp)) != CLI_EXIT_OK)
        return rc;
    if (resp.status == 202 || (resp.status == 404 && !cli_has(ctx, "fail-not-exist"))) {
        json_t *out = json_pack("{s:b}", "deleted", resp.status == 202);
        rc = cli_print(ctx, out);
        json_decref(out);
    } else {
        rc = cli_blob_fail(ctx, &b, &resp, NULL);
    }
    ck_httpc_resp_cleanup(&resp);
    return rc;
}

static int cli_container_show(struct cli_ctx *ctx)
{
    struct cli_blob b;
    struct cli_blob_req r;
    struct ck_httpc_resp resp;
    int rc;

    memset(&r, 0, sizeof(r));
    r.method = "GET";
    r.container = cli_arg(ctx, "name");
    cli_blob_query(&r, "restype", "container");
    if ((rc = cli_blob_open(ctx, &b)) != CLI_EXIT_OK || (rc = cli_blob_do(ctx, &b, &r, &resp)) != CLI_EXIT_OK)
        return rc;
    if (resp.status == 200) {
        json_t *out = json_pack("{s:s,s:o,s:{s:o,s:o,s:{s:n,s:o,s:o},s:o}}", "name", cli_arg(ctx, "name"), "metadata",
                                cli_blob_meta_from_headers(&resp), "properties", "etag", cli_hdr_json(&resp, "ETag"),
                                "lastModified", cli_hdr_time(&resp, "Last-Modified"), "lease", "duration", "state",
                                cli_hdr_json(&resp, "x-ms-lease-state"), "status",
                                cli_hdr_json(&resp, "x-ms-lease-status"), "publicAccess",
                                cli_hdr_json(&resp, "x-ms-blob-public-access"));
        rc = cli_print(ctx, out);
        json_decref(out);
    } else {
        rc = cli_blob_fail(ctx, &b, &resp, NULL);
    }
    ck_httpc_resp_cleanup(&resp);
    return rc;
}

static int cli_container_list(struct cli_ctx *ctx)
{
    struct cli_blob b;
    json_t *out = NULL;
    long max;
    int rc;

    if ((rc = cli_blob_num_results(ctx, &max)) != CLI_EXIT_OK || (rc = cli_blob_open(ctx, &b)) != CLI_EXIT_OK)
        return rc;
    rc = cli_blob_list_items(ctx, &b, NULL, max, cli_has(ctx, "include-metadata"), &out);
    if (rc == CLI_EXIT_OK)
        rc = cli_kv_print(ctx, out, "[].{Name:name, LeaseStatus:properties.lease.status, LastModified:properties.lastModified}");
    json_decref(out);
    return rc;
}

/* ---- blobs ---- */

/* A content type from the file name, as az guesses it (mimetypes); application/octet-stream else. */
static const char *cli_blob_guess_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } t[] = {{".txt", "text/plain"},       {".html", "text/html"},       {".htm", "text/html"},
             {".css", "text/css"},         {".csv", "text/csv"},         {".js", "text/javascript"},
             {".json", "application/json"}, {".xml", "application/xml"}, {".pdf", "application/pdf"},
             {".zip", "application/zip"},  {".gz", "application/gzip"},  {".tar", "application/x-tar"},
             {".png", "image/png"},        {".jpg", "image/jpeg"},       {".jpeg", "image/jpeg"},
             {".gif", "image/gif"},        {".svg", "image/svg+xml"},    {".md", "text/markdown"}};
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (dot != NULL && (slash == NULL || dot > slash)) {
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
            if (strcasecmp(dot, t[i].ext) == 0)
                return t[i].type;
        }
    }
    return "application/octet-stream";
}

/* Reads exactly n bytes (short only at end of file). Returns the count or -1. */
static ssize_t cli_read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Checks a blob response's status; anything else is printed. */
static int cli_blob_expect(struct cli_ctx *ctx, const struct cli_blob *b, struct ck_httpc_resp *resp, long want,
                           const char *container)
{
    if (resp->status == want)
        return CLI_EXIT_OK;
    return cli_blob_fail(ctx, b, resp, container);
}

/* The result az prints for an upload. */
static int cli_blob_print_upload(struct cli_ctx *ctx, const struct ck_httpc_resp *resp)
{
    char *enc = ck_httpc_resp_header(resp, "x-ms-request-server-encrypted");
    json_t *out = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:o}", "client_request_id",
                            cli_hdr_json(resp, "x-ms-client-request-id"), "content_md5", cli_hdr_json(resp, "Content-MD5"),
                            "date", cli_hdr_time(resp, "Date"), "etag", cli_hdr_json(resp, "ETag"), "lastModified",
                            cli_hdr_time(resp, "Last-Modified"), "request_id", cli_hdr_json(resp, "x-ms-request-id"),
                            "request_server_encrypted", enc != NULL && strcmp(enc, "true") == 0, "version",
                            cli_hdr_json(resp, "x-ms-version"));
    ck_free(enc);
    int rc = cli_print(ctx, out);
    json_decref(out);
    return rc;
}

static int cli_blob_upload(struct cli_ctx *ctx)
{
    const char *file = cli_arg(ctx, "file"), *container = cli_arg(ctx, "container-name"), *name = cli_arg(ctx, "name");
    const char *ctype = cli_arg(ctx, "content-type");
    int overwrite = cli_has(ctx, "overwrite");
    struct cli_blob b;
    struct cli_blob_req r;
    struct ck_httpc_resp resp;
    struct cli_progress prog;
    struct ck_buf list;
    struct stat st;
    char *buf = NULL;
    int fd = -1, rc;

    memset(&resp, 0, sizeof(resp));
    memset(&prog, 0, sizeof(prog));
    ck_buf_init(&list, (size_t)CLI_BLOB_MAX_BLOCKS * 64 + 256);
    if (name == NULL) {
        const char *slash = strrchr(file, '/');
        name = slash != NULL ? slash + 1 : file;
    }
    if (ctype == NULL)
        ctype = cli_blob_guess_type(file);
    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        cli_err("cannot read the file %s: %s", file, fd < 0 ? strerror(errno) : "not a regular file");
        rc = CLI_EXIT_ERR;
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size > (uint64_t)CLI_BLOB_BLOCK * CLI_BLOB_MAX_BLOCKS) {
        cli_err("the file %s is larger than a block blob can be (%u blocks of 4 MiB)", file, CLI_BLOB_MAX_BLOCKS);
        rc = CLI_EXIT_ERR;
        goto out;
    }
    if ((rc = cli_blob_open(ctx, &b)) != CLI_EXIT_OK)
        goto out;
    buf = ck_malloc(CLI_BLOB_BLOCK > size && size > 0 ? (size_t)size : CLI_BLOB_BLOCK);
    if (buf == NULL) {
        cli_err("out of memory");
        rc = CLI_EXIT_ERR;
        goto out;
    }

    if (size <= CLI_BLOB_BLOCK) {
        /* One Put Blob. */
        ssize_t n = cli_read_full(fd, buf, (size_t)size);
        if (n < 0 || (uint64_t)n != size) {
            cli_err("cannot read the file %s: %s", file, n < 0 ? strerror(errno) : "it changed while being read");
            rc = CLI_EXIT_ERR;
            goto out;
        }
        memset(&r, 0, sizeof(r));
        r.method = "PUT";
        r.container = container;
        r.blob = name;
        r.body = buf;
        r.body_len = (size_t)size;
        if (cli_blob_header(&r, "Content-Type", ctype) != 0 || cli_blob_header(&r, "x-ms-blob-type", "BlockBlob") != 0 ||
            cli_blob_header(&r, "x-ms-blob-content-type", ctype) != 0 ||
            (!overwrite && cli_blob_header(&r, "If-None-Match", "*") != 0)) {
            rc = CLI_EXIT_ERR;
            goto out;
        }
        if ((rc = cli_blob_meta_headers(ctx, &r)) != CLI_EXIT_OK || (rc = cli_blob_do(ctx, &b, &r, &resp)) != CLI_EXIT_OK)
            goto out;
        if (resp.status == 409 && !overwrite) {
            rc = cli_blob_fail(ctx, &b, &resp, container);
            goto out;
        }
        if ((rc = cli_blob_expect(ctx, &b, &resp, 201, container)) != CLI_EXIT_OK)
            goto out;
        rc = cli_blob_print_upload(ctx, &resp);
        goto out;
    }

    /* Blocks. Without --overwrite, an existing blob is refused before any byte is sent. */
    if (!overwrite) {
        memset(&r, 0, sizeof(r));
        r.method = "HEAD";
        r.container = container;
        r.blob = name;
        if ((rc = cli_blob_do(ctx, &b, &r, &resp)) != CLI_EXIT_OK)
            goto out;
        if (resp.status == 200) {
            cli_err("(BlobAlreadyExists) The specified blob already exists.");
            fprintf(stderr, "Pass --overwrite to replace it.\n");
            rc = CLI_EXIT_ERR;
            goto out;
        }
        /* A missing blob is the normal case; a missing container or a revoked key is said now. */
        char *code = ck_httpc_resp_header(&resp, "x-ms-error-code");
        int fine = resp.status == 404 && code != NULL && strcmp(code, "BlobNotFound") == 0;
        ck_free(code);
        if (!fine) {
            rc = cli_blob_fail(ctx, &b, &resp, container);
            goto out;
        }
        ck_httpc_resp_cleanup(&resp);
        memset(&resp, 0, sizeof(resp));
    }
    if (ck_buf_puts(&list, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>") != CK_OK) {
        rc = CLI_EXIT_ERR;
        goto out;
    }
    cli_progress_start(ctx, &prog, "Uploading", size);
    uint64_t sent = 0;
    for (unsigned i = 0; sent < size; i++) {
        size_t want = size - sent < CLI_BLOB_BLOCK ? (size_t)(size - sent) : CLI_BLOB_BLOCK;
        ssize_t n = cli_read_full(fd, buf, want);
        if (n < 0 || (size_t)n != want) {
            cli_progress_end(&prog);
            cli_err("cannot read the file %s: %s", file, n < 0 ? strerror(errno) : "it changed while being read");
            rc = CLI_EXIT_ERR;
            goto out;
        }
        /* Block ids: base64 of equally long strings, as the service requires. */
        char raw[32];
        snprintf(raw, sizeof(raw), "crosskey-block-%09u", i);
        char *id = ck_b64_encode((const uint8_t *)raw, strlen(raw));
        if (id == NULL || ck_buf_printf(&list, "<Latest>%s</Latest>", id) != CK_OK) {
            ck_free(id);
            cli_progress_end(&prog);
            cli_err("out of memory");
            rc = CLI_EXIT_ERR;
            goto out;
        }
        memset(&r, 0, sizeof(r));
        r.method = "PUT";
        r.container = container;
        r.blob = name;
        r.body = buf;
        r.body_len = (size_t)n;
        cli_blob_query(&r, "comp", "block");
        cli_blob_query(&r, "blockid", cli_fmt(ctx, "%s", id));
        ck_free(id);
        (void)cli_blob_header(&r, "Content-Type", "application/octet-stream");
        rc = cli_blob_do(ctx, &b, &r, &resp);
        if (rc == CLI_EXIT_OK)
            rc = cli_blob_expect(ctx, &b, &resp, 201, container);
        if (rc != CLI_EXIT_OK) {
            cli_progress_end(&prog);
            goto out;
        }
        ck_httpc_resp_cleanup(&resp);
        memset(&resp, 0, sizeof(resp));
        sent += (uint64_t)n;
        cli_progress_step(&prog, sent);
    }
    cli_progress_end(&prog);
    if (ck_buf_puts(&list, "</BlockList>") != CK_OK) {
        rc = CLI_EXIT_ERR;
        goto out;
    }
    memset(&r, 0, sizeof(r));
    r.method = "PUT";
    r.container = container;
    r.blob = name;
    r.body = list.data;
    r.body_len = list.len;
    cli_blob_query(&r, "comp", "blocklist");
    if (cli_blob_header(&r, "Content-Type", "application/xml") != 0 ||
        cli_blob_header(&r, "x-ms-blob-content-type", ctype) != 0 ||
        (!overwrite && cli_blob_header(&r, "If-None-Match", "*") != 0)) {
        rc = CLI_EXIT_ERR;
        goto out;
    }
    if ((rc = cli_blob_meta_headers(ctx, &r)) != CLI_EXIT_OK || (rc = cli_blob_do(ctx, &b, &r, &resp)) != CLI_EXIT_OK)
        goto out;
    if ((rc = cli_blob_expect(ctx, &b, &resp, 201, container)) != CLI_EXIT_OK)
        goto out;
    rc = cli_blob_print_upload(ctx, &resp);
out:
    if (resp.headers.data != NULL || resp.body.data != NULL)
        ck_httpc_resp_cleanup(&resp);
    ck_buf_cleanup(&list);
    ck_free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Writes all of buf. Returns 0 or -1. */
static int cli_write_full(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

static int cli_blob_download(struct cli_ctx *ctx)
{
    const char *file = cli_arg(ctx, "file"), *container = cli_arg(ctx, "container-name"), *name = cli_arg(ctx, "name");
    struct cli_blob b;
    struct ck_httpc_resp resp, first;
    struct cli_progress prog;
    char *tmp = NULL, *etag = NULL;
    json_t *out = NULL;
    int fd = -1, rc, have_first = 0;
    uint64_t total = 0, got = 0;

    memset(&resp, 0, sizeof(resp));
    memset(&first, 0, sizeof(first));
    memset(&prog, 0, sizeof(prog));
    if ((rc = cli_blob_open(ctx, &b)) != CLI_EXIT_OK)
        return rc;
    for (int part = 0;; part++) {
        struct cli_blob_req r;
        memset(&r, 0, sizeof(r));
        r.method = "GET";
        r.container = container;
        r.blob = name;
        r.limit = CLI_BLOB_BLOCK + 4096;
        (void)cli_blob_header(&r, "x-ms-range",
                              cli_fmt(ctx, "bytes=%llu-%llu", (unsigned long long)got,
                                      (unsigned long long)(got + CLI_BLOB_BLOCK - 1)));
        if (etag != NULL)
            (void)cli_blob_header(&r, "If-Match", etag);
        if ((rc = cli_blob_do(ctx, &b, &r, &resp)) != CLI_EXIT_OK)
            goto out;
        if (part == 0 && resp.status == 416) {
            /* An empty blob has no range: read it whole. */
            ck_httpc_resp_cleanup(&resp);
            r.nheaders = 0;
            if ((rc = cli_blob_do(ctx, &b, &r, &resp)) != CLI_EXIT_OK)
                goto out;
        }
        if (resp.status != 200 && resp.status != 206) {
            if (resp.status == 412)
                cli_err("the blob changed while it was being downloaded; try again");
            else
                rc = cli_blob_fail(ctx, &b, &resp, container);
            rc = rc == CLI_EXIT_OK ? CLI_EXIT_ERR : rc;
            goto out;
        }
        if (part == 0) {
            char *cr = ck_httpc_resp_header(&resp, "Content-Range");
            total = cr != NULL && strchr(cr, '/') != NULL ? strtoull(strchr(cr, '/') + 1, NULL, 10) : resp.body.len;
            ck_free(cr);
            etag = ck_httpc_resp_header(&resp, "ETag");
            /* The destination is written through a temporary file renamed over it at the end. */
            tmp = cli_fmt(ctx, "%s.crosskey-XXXXXX", file);
            fd = mkstemp(tmp);
            if (fd < 0) {
                cli_err("cannot write next to %s: %s", file, strerror(errno));
                rc = CLI_EXIT_ERR;
                tmp = NULL;
                goto out;
            }
            mode_t mask = umask(0);
            umask(mask);
            (void)fchmod(fd, 0666 & ~mask);
            cli_progress_start(ctx, &prog, "Downloading", total);
        }
        if (cli_write_full(fd, resp.body.data != NULL ? resp.body.data : "", resp.body.len) != 0) {
            cli_progress_end(&prog);
            cli_err("cannot write %s: %s", tmp, strerror(errno));
            rc = CLI_EXIT_ERR;
            goto out;
        }
        got += resp.body.len;
        cli_progress_step(&prog, got);
        if (!have_first) {
            first = resp;
            have_first = 1;
        } else {
            ck_httpc_resp_cleanup(&resp);
        }
        memset(&resp, 0, sizeof(resp));
        if (got >= total)
            break;
        if (part > 0 && got == 0) {
            cli_err("the service sent an empty range");
            rc = CLI_EXIT_ERR;
            goto out;
        }
    }
    cli_progress_end(&prog);
    if (got != total) {
        cli_err("the download of %s/%s stopped at %llu of %llu bytes", container, name, (unsigned long long)got,
                (unsigned long long)total);
        rc = CLI_EXIT_ERR;
        goto out;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        cli_err("cannot write %s: %s", tmp, strerror(errno));
        rc = CLI_EXIT_ERR;
        goto out;
    }
    fd = -1;
    if (rename(tmp, file) != 0) {
        cli_err("cannot write %s: %s", file, strerror(errno));
        rc = CLI_EXIT_ERR;
        goto out;
    }
    tmp = NULL;
    out = cli_blob_from_headers(container, name, &first);
    rc = cli_print(ctx, out);
out:
    cli_progress_end(&prog);
    if (fd >= 0)
        close(fd);
    if (tmp != NULL)
        unlink(tmp);
    if (resp.headers.data != NULL || resp.body.data != NULL)
        ck_httpc_resp_cleanup(&resp);
    if (have_first)
        ck_httpc_resp_cleanup(&first);
    ck_free(etag);
    json_decref(out);
    return rc;
}

static int cli_blob_list(struct cli_ctx *ctx)
{
    struct cli_blob b;
    json_t *out = NULL;
    const char *inc = cli_arg(ctx, "include");
    long max;
    int rc;

    if (inc != NULL && strspn(inc, "m") != strlen(inc)) {
        cli_err("argument --include: only 'm' (metadata) is supported");
        return CLI_EXIT_USAGE;
    }
    if ((rc = cli_blob_num_results(ctx, &max)) != CLI_EXIT_OK || (rc = cli_blob_open(ctx, &b)) != CLI_EXIT_OK)
        return rc;
    rc = cli_blob_list_items(ctx, &b, cli_arg(ctx, "container-name"), max, inc != NULL, &out);
    if (rc == CLI_EXIT_OK)
        rc = cli_kv_print(ctx, out,
                          "[].{Name:name, BlobType:properties.blobType, BlobTier:properties.blobTier, "
                          "Length:properties.contentLength, ContentType:properties.contentSettings.contentType, "
                          "LastModified:properties.lastModified}");
    json_decref(out);
    return rc;
}

static int cli_blob_show(struct cli_ctx *ctx)
{
    const char *container = cli_arg(ctx, "container-name"), *name = cli_arg(ctx, "name");
    struct cli_blob b;
    struct cli_blob_req r;
    struct ck_httpc_resp resp;
    int rc;

    memset(&r, 0, sizeof(r));
    r.method = "HEAD";
    r.container = container;
    r.blob = name;
    if ((rc = cli_blob_open(ctx, &b)) != CLI_EXIT_OK || (rc = cli_blob_do(ctx, &b, &r, &resp)) != CLI_EXIT_OK)
        return rc;
    if (resp.status == 200) {
        json_t *out = cli_blob_from_headers(container, name, &resp);
        rc = cli_kv_print(ctx, out,
                          "{Name:name, BlobType:properties.blobType, Length:properties.contentLength, "
                          "ContentType:properties.contentSettings.contentType, LastModified:properties.lastModified}");
        json_decref(out);
    } else {
        rc = cli_blob_fail(ctx, &b, &resp, container);
    }
    ck_httpc_resp_cleanup(&resp);
    return rc;
}

static int cli_blob_delete(struct cli_ctx *ctx)
{
    const char *container = cli_arg(ctx, "container-name");
    struct cli_blob b;
    struct cli_blob_req r;
    struct ck_httpc_resp resp;
    int rc;

    memset(&r, 0, sizeof(r));
    r.method = "DELETE";
    r.container = container;
    r.blob = cli_arg(ctx, "name");
    if ((rc = cli_blob_open(ctx, &b)) != CLI_EXIT_OK || (rc = cli_blob_do(ctx, &b, &r, &resp)) != CLI_EXIT_OK)
        return rc;
    rc = cli_blob_expect(ctx, &b, &resp, 202, container);
    ck_httpc_resp_cleanup(&resp);
    return rc;
}

#define CLI_FLAG_ACCOUNT {"account-name", NULL, CLI_VALUE, 1, "Storage account name."}
#define CLI_FLAG_ACCOUNT_KEY                                                                                           \
    {"account-key", NULL, CLI_VALUE, 0, "Storage account key (base64); default: key1 from listKeys."}
#define CLI_FLAG_AUTH_MODE                                                                                             \
    {"auth-mode", NULL, CLI_VALUE, 0,                                                                                  \
     "key (Shared Key with the account key; default) or login (a token of the signed-in principal, which needs a "    \
     "Storage Blob Data role)."}
#define CLI_FLAG_CONTAINER {"container-name", "c", CLI_VALUE, 1, "The container name."}
#define CLI_FLAG_PROGRESS {"progress", NULL, CLI_BOOL, 0, "Show the progress bar even when stderr is not a terminal."}
#define CLI_FLAG_NO_PROGRESS {"no-progress", NULL, CLI_BOOL, 0, "Never show the progress bar."}
#define CLI_FLAG_META {"metadata", NULL, CLI_MULTI, 0, "Metadata in space-separated key=value pairs (up to 6)."}

const struct cli_cmd cli_storage_blob_cmds[] = {
    {"storage container create",
     "Create a container in a storage account.",
     cli_container_create,
     {{"name", "n", CLI_VALUE, 1, "The container name (3-63 lower-case letters, digits and hyphens)."},
      CLI_FLAG_ACCOUNT, CLI_FLAG_ACCOUNT_KEY, CLI_FLAG_AUTH_MODE, CLI_FLAG_META,
      {"fail-on-exist", NULL, CLI_BOOL, 0, "Fail when the container exists (default: print created: false)."}},
     "crosskey storage container create -n data --account-name acct1 --auth-mode login"},
    {"storage container list",
     "List the containers of a storage account.",
     cli_container_list,
     {CLI_FLAG_ACCOUNT, CLI_FLAG_ACCOUNT_KEY, CLI_FLAG_AUTH_MODE,
      {"prefix", NULL, CLI_VALUE, 0, "Only containers whose names start with this."},
      {"num-results", NULL, CLI_VALUE, 0, "At most this many (default 5000; '*' for all)."},
      {"include-metadata", NULL, CLI_BOOL, 0, "Also return the containers' metadata."}},
     "crosskey storage container list --account-name acct1 -o table"},
    {"storage container show",
     "Show a container's properties and metadata.",
     cli_container_show,
     {{"name", "n", CLI_VALUE, 1, "The container name."}, CLI_FLAG_ACCOUNT, CLI_FLAG_ACCOUNT_KEY, CLI_FLAG_AUTH_MODE},
     "crosskey storage container show -n data --account-name acct1"},
    {"storage container delete",
     "Delete a container and the blobs in it.",
     cli_container_delete,
     {{"name", "n", CLI_VALUE, 1, "The container name."}, CLI_FLAG_ACCOUNT, CLI_FLAG_ACCOUNT_KEY, CLI_FLAG_AUTH_MODE,
      {"fail-not-exist", NULL, CLI_BOOL, 0, "Fail when the container does not exist (default: print deleted: false)."}},
     "crosskey storage container delete -n data --account-name acct1"},
    {"storage blob upload",
     "Upload a file to a block blob (files above 4 MiB in 4 MiB blocks).",
     cli_blob_upload,
     {{"file", "f", CLI_VALUE, 1, "Path of the file to upload."},
      CLI_FLAG_CONTAINER,
      {"name", "n", CLI_VALUE, 0, "The blob name (default: the file's name)."},
      CLI_FLAG_ACCOUNT, CLI_FLAG_ACCOUNT_KEY, CLI_FLAG_AUTH_MODE,
      {"overwrite", NULL, CLI_BOOL, 0, "Replace the blob if it exists (default: refuse)."},
      {"content-type", NULL, CLI_VALUE, 0, "The blob's content type (default: guessed from the file name)."},
      CLI_FLAG_META, CLI_FLAG_PROGRESS, CLI_FLAG_NO_PROGRESS},
     "crosskey storage blob upload --account-name acct1 -c data -n hello.txt -f ./hello.txt --auth-mode login"},
    {"storage blob download",
     "Download a blob to a file (replaced only when the whole blob arrived).",
     cli_blob_download,
     {{"file", "f", CLI_VALUE, 1, "Path of the file to write."},
      CLI_FLAG_CONTAINER,
      {"name", "n", CLI_VALUE, 1, "The blob name."},
      CLI_FLAG_ACCOUNT, CLI_FLAG_ACCOUNT_KEY, CLI_FLAG_AUTH_MODE, CLI_FLAG_PROGRESS, CLI_FLAG_NO_PROGRESS},
     "crosskey storage blob download --account-name acct1 -c data -n hello.txt -f ./copy.txt"},
    {"storage blob list",
     "List the blobs of a container.",
     cli_blob_list,
     {CLI_FLAG_CONTAINER, CLI_FLAG_ACCOUNT, CLI_FLAG_ACCOUNT_KEY, CLI_FLAG_AUTH_MODE,
      {"prefix", NULL, CLI_VALUE, 0, "Only blobs whose names start with this."},
      {"num-results", NULL, CLI_VALUE, 0, "At most this many (default 5000; '*' for all)."},
      {"include", NULL, CLI_VALUE, 0, "m: also return each blob's metadata."}},
     "crosskey storage blob list --account-name acct1 -c data --prefix logs/ -o table"},
    {"storage blob show",
     "Show a blob's properties and metadata.",
     cli_blob_show,
     {CLI_FLAG_CONTAINER, {"name", "n", CLI_VALUE, 1, "The blob name."}, CLI_FLAG_ACCOUNT, CLI_FLAG_ACCOUNT_KEY,
      CLI_FLAG_AUTH_MODE},
     "crosskey storage blob show --account-name acct1 -c data -n hello.txt"},
    {"storage blob delete",
     "Delete a blob.",
     cli_blob_delete,
     {CLI_FLAG_CONTAINER, {"name", "n", CLI_VALUE, 1, "The blob name."}, CLI_FLAG_ACCOUNT, CLI_FLAG_ACCOUNT_KEY,
      CLI_FLAG_AUTH_MODE},
     "crosskey storage blob delete --account-name acct1 -c data -n hello.txt"},
    {NULL, NULL, NULL, {{NULL, NULL, 0, 0, NULL}}, NULL},
};
