/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blob operations: Put Blob and Put Block (bodies stream into sealed parts), Put Block List and
 * Get Block List, Get Blob (ranges and conditions, streamed out segment by segment), Get Blob
 * Properties, Set Blob Properties, Get and Set Blob Metadata, Delete Blob and Copy Blob.
 */
#include "services/storage/st_data.h"
#include "core/codec.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ST_COND_MSG "The condition specified using HTTP conditional header(s) is not met."

/* ---- uploads ---- */

static int st_sink(void *arg, const void *data, size_t len)
{
    struct st_call *c = arg;
    int rc = st_part_write(c->w, data, len);
    if (rc != CK_OK)
        c->sink_rc = rc;
    return rc;
}

/* Parses Content-Length. 0, or -1 after answering. */
static int st_content_length(struct st_call *c, struct ck_resp *resp, uint64_t limit, uint64_t *out)
{
    const char *s = ck_req_header(c->req, "Content-Length");
    char *end = NULL;
    unsigned long long v;
    if (s == NULL) {
        st_fail(c, resp, 411, "MissingContentLengthHeader", "Content-Length header value must be specified.");
        return -1;
    }
    v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0') {
        st_fail(c, resp, 400, "InvalidHeaderValue", "The value for the Content-Length header is not valid.");
        return -1;
    }
    if (v > limit) {
        st_fail(c, resp, 413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible limit.");
        return -1;
    }
    *out = v;
    return 0;
}

static int st_block_id_ok(const char *id)
{
    uint8_t *raw = NULL;
    size_t rl = 0;
    int ok = id != NULL && id[0] != '\0' && strlen(id) <= 88 && ck_b64_decode(id, strlen(id), &raw, &rl) == 0 &&
             rl > 0 && rl <= 64;
    ck_free(raw);
    return ok;
}

int st_upload_begin(struct st_call *c, struct ck_resp *resp)
{
    uint64_t limit = c->op == ST_OP_PUT_BLOB ? ST_MAX_PUT_BLOB : ST_MAX_BLOCK;
    if (c->op == ST_OP_PUT_BLOB) {
        const char *type = ck_req_header(c->req, "x-ms-blob-type");
        if (type == NULL) {
            st_fail(c, resp, 400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified.");
            return -1;
        }
        if (strcmp(type, "BlockBlob") != 0) {
            st_fail(c, resp, 400, "InvalidHeaderValue",
                    "x-ms-blob-type %s is not supported by this server; only BlockBlob is.", type);
            return -1;
        }
    } else if (!st_block_id_ok(ck_req_query(c->req, "blockid"))) {
        st_fail(c, resp, 400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid.");
        return -1;
    }
    if (ck_req_header(c->req, "x-ms-encryption-key") != NULL || ck_req_header(c->req, "x-ms-encryption-scope") != NULL) {
        st_fail(c, resp, 400, "UnsupportedHeader",
                "Customer-provided keys and encryption scopes are not supported; data is encrypted with the account key.");
        return -1;
    }
    if (ck_req_header(c->req, "x-ms-structured-body") != NULL) {
        st_fail(c, resp, 400, "UnsupportedHeader", "Structured message bodies are not supported by this server.");
        return -1;
    }
    if (st_content_length(c, resp, limit, &c->length) != 0)
        return -1;
    if (st_part_writer_new(c->st, c->aek, c->account, c->container, c->blob, c->length, &c->w) != CK_OK) {
        st_fail(c, resp, 500, "InternalError", "The upload could not be started.");
        return -1;
    }
    ck_req_set_sink(c->req, st_sink, c);
    return 0;
}

/* Finishes a streamed upload: checks the body and its Content-MD5. 0, or -1 after answering. */
static int st_upload_finish(struct st_call *c, struct ck_resp *resp, struct st_part *part, uint8_t md5[16])
{
    const char *want = ck_req_header(c->req, "Content-MD5");
    if (c->w == NULL) {
        st_fail(c, resp, 500, "InternalError", "The upload was not started.");
        return -1;
    }
    if (c->sink_rc != CK_OK || st_part_written(c->w) != c->length) {
        if (c->sink_rc == CK_E_TOO_LARGE)
            st_fail(c, resp, 400, "InvalidInput", "The request body is longer than its Content-Length.");
        else if (c->sink_rc != CK_OK)
            st_fail(c, resp, 500, "InternalError", "The data could not be stored.");
        else
            st_fail(c, resp, 400, "InvalidInput", "The request body is shorter than its Content-Length.");
        return -1;
    }
    if (st_part_finish(c->w, part, md5) != CK_OK) {
        st_fail(c, resp, 500, "InternalError", "The data could not be stored durably.");
        return -1;
    }
    /* The writer stays until the request ends: an inline part's bytes live in it. */
    if (want != NULL) {
        char *got = ck_b64_encode(md5, 16);
        int ok = got != NULL && strcmp(got, want) == 0;
        ck_free(got);
        if (!ok) {
            st_part_unlink(c->st, part->id);
            st_fail(c, resp, 400, "Md5Mismatch",
                    "The MD5 value specified in the request did not match with the MD5 value calculated by the server.");
            return -1;
        }
    }
    return 0;
}

static const char *st_hdr(struct st_call *c, const char *name)
{
    const char *v = ck_req_header(c->req, name);
    return v && v[0] ? ck_arena_strdup(c->a, v) : NULL;
}

/* Content properties of a write from x-ms-blob-content-* (and Content-Type for Put Blob). */
static void st_content_props(struct st_call *c, struct st_blob *b, int put_blob)
{
    b->content_type = (char *)st_hdr(c, "x-ms-blob-content-type");
    if (b->content_type == NULL && put_blob)
        b->content_type = (char *)st_hdr(c, "Content-Type");
    if (b->content_type == NULL)
        b->content_type = "application/octet-stream";
    b->content_encoding = (char *)st_hdr(c, "x-ms-blob-content-encoding");
    b->content_language = (char *)st_hdr(c, "x-ms-blob-content-language");
    b->content_disposition = (char *)st_hdr(c, "x-ms-blob-content-disposition");
    b->cache_control = (char *)st_hdr(c, "x-ms-blob-cache-control");
    b->content_md5 = (char *)st_hdr(c, "x-ms-blob-content-md5");
}

static void st_cond_fail(struct st_call *c, struct ck_resp *resp, int rc, int put_blob)
{
    if (rc == CK_E_EXISTS && put_blob)
        st_fail(c, resp, 409, "BlobAlreadyExists", "The specified blob already exists.");
    else
        st_fail(c, resp, 412, "ConditionNotMet", ST_COND_MSG);
}

static void st_write_headers(struct st_call *c, struct ck_resp *resp, int status, const char *etag, int64_t lm)
{
    ck_resp_status(resp, status);
    st_common_headers(c, resp);
    if (etag != NULL) {
        ck_resp_header(resp, "ETag", etag);
        ck_resp_header(resp, "Last-Modified", st_http_time(c, lm));
    }
    ck_resp_header(resp, "x-ms-request-server-encrypted", "true");
}

/* Commits b; answers the errors. 0 on success. */
static int st_commit(struct st_call *c, struct ck_resp *resp, struct st_blob *b, const struct st_cond *cond,
                     const struct st_part *new_parts, size_t n_new, int from_blocks)
{
    int missing = 0;
    int rc = st_blob_commit(c->st, c->account, c->container, b, cond, new_parts, n_new, from_blocks, &missing);
    if (rc == CK_OK)
        return 0;
    for (size_t i = 0; i < n_new; i++)
        st_part_unlink(c->st, new_parts[i].id);
    if (missing)
        st_fail(c, resp, 404, "ContainerNotFound", "The specified container does not exist.");
    else if (rc == CK_E_INVALID && from_blocks)
        st_fail(c, resp, 400, "InvalidBlockList",
                "The specified block list is invalid: a block it names was discarded by a concurrent commit.");
    else if (rc == CK_E_FORBIDDEN || rc == CK_E_EXISTS)
        st_cond_fail(c, resp, rc, !from_blocks);
    else
        st_fail(c, resp, 500, "InternalError", "The blob could not be committed.");
    return -1;
}

static int st_new_version(struct st_call *c, struct ck_resp *resp, struct st_blob *b, int put_blob)
{
    char uuid[37];
    memset(b, 0, sizeof(*b));
    b->name = c->blob;
    if (ck_uuid_new(uuid) != 0 || (b->etag = st_new_etag(c)) == NULL) {
        st_fail(c, resp, 500, "InternalError", "Out of memory.");
        return -1;
    }
    b->version_id = ck_arena_strdup(c->a, uuid);
    b->created = b->last_modified = ck_time_now();
    st_content_props(c, b, put_blob);
    if (st_meta_seal(c, resp, st_meta_aad(c, c->container, c->blob), &b->meta, &b->meta_len) != 0)
        return -1;
    if (b->meta != NULL) {
        uint8_t *m = ck_arena_alloc(c->a, b->meta_len);
        if (m != NULL)
            memcpy(m, b->meta, b->meta_len);
        ck_free(b->meta);
        b->meta = m;
    }
    return 0;
}

static void st_put_blob(struct st_call *c, struct ck_resp *resp)
{
    struct st_part part;
    uint8_t md5[16];
    struct st_blob b;
    struct st_cond cond;
    if (st_cond_parse(c, resp, &cond, 0) != 0 || st_upload_finish(c, resp, &part, md5) != 0)
        return;
    if (st_new_version(c, resp, &b, 1) != 0) {
        st_part_unlink(c->st, part.id);
        return;
    }
    char *md5b64 = ck_b64_encode(md5, 16);
    if (b.content_md5 == NULL && md5b64 != NULL)
        b.content_md5 = ck_arena_strdup(c->a, md5b64);
    b.parts = &part;
    b.nparts = 1;
    b.size = part.size;
    if (st_commit(c, resp, &b, &cond, &part, 1, 0) == 0) {
        st_write_headers(c, resp, 201, b.etag, b.last_modified);
        if (md5b64 != NULL)
            ck_resp_header(resp, "Content-MD5", b.content_md5);
    }
    ck_free(md5b64);
}

static void st_put_block(struct st_call *c, struct ck_resp *resp)
{
    struct st_part part;
    uint8_t md5[16];
    const char *id = ck_req_query(c->req, "blockid");
    if (st_upload_finish(c, resp, &part, md5) != 0)
        return;
    snprintf(part.block_id, sizeof(part.block_id), "%s", id);
    int rc = st_block_put(c->st, c->account, c->container, c->blob, id, &part);
    if (rc != CK_OK) {
        st_part_unlink(c->st, part.id);
        if (rc == CK_E_NOT_FOUND)
            st_fail(c, resp, 404, "ContainerNotFound", "The specified container does not exist.");
        else if (rc == CK_E_INVALID)
            st_fail(c, resp, 400, "InvalidBlobOrBlock", "The specified blob or block content is invalid.");
        else if (rc == CK_E_LIMIT)
            st_fail(c, resp, 409, "BlockCountExceedsLimit", "The uncommitted block count cannot exceed the maximum limit of 100,000 blocks.");
        else
            st_fail(c, resp, 500, "InternalError", "The block could not be stored.");
        return;
    }
    st_write_headers(c, resp, 201, NULL, 0);
    char *m = ck_b64_encode(md5, 16);
    if (m != NULL)
        ck_resp_header(resp, "Content-MD5", m);
    ck_free(m);
}

/* ---- block lists ---- */

enum st_bl_kind { ST_BL_LATEST, ST_BL_COMMITTED, ST_BL_UNCOMMITTED };

struct st_bl_entry {
    enum st_bl_kind kind;
    char id[96];
};

/* Parses a <BlockList> body. Returns the count, or -1 when malformed. */
static long st_blocklist_parse(struct st_call *c, const char *body, size_t len, struct st_bl_entry **out)
{
    xmlDocPtr doc;
    xmlNodePtr root;
    long n = 0, cap = 0;
    struct st_bl_entry *e = NULL;
    if (len == 0 || len > ST_XML_LIMIT)
        return -1;
    doc = xmlReadMemory(body, (int)len, "blocklist.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL)
        return -1;
    root = xmlDocGetRootElement(doc);
    /* No DTDs at all: no entity tricks. */
    if (doc->intSubset != NULL || root == NULL || xmlStrcmp(root->name, (const xmlChar *)"BlockList") != 0)
        goto bad;
    for (xmlNodePtr ch = root->children; ch != NULL; ch = ch->next) {
        if (ch->type != XML_ELEMENT_NODE)
            continue;
        enum st_bl_kind k;
        if (xmlStrcmp(ch->name, (const xmlChar *)"Latest") == 0)
            k = ST_BL_LATEST;
        else if (xmlStrcmp(ch->name, (const xmlChar *)"Committed") == 0)
            k = ST_BL_COMMITTED;
        else if (xmlStrcmp(ch->name, (const xmlChar *)"Uncommitted") == 0)
            k = ST_BL_UNCOMMITTED;
        else
            goto bad;
        xmlChar *txt = xmlNodeGetContent(ch);
        if (txt == NULL || !st_block_id_ok((const char *)txt) || n >= ST_MAX_BLOCKS) {
            xmlFree(txt);
            goto bad;
        }
        if (n == cap) {
            long nc = cap ? cap * 2 : 64;
            struct st_bl_entry *ne = ck_arena_alloc(c->a, (size_t)nc * sizeof(*ne));
            if (ne == NULL) {
                xmlFree(txt);
                goto bad;
            }
            if (n > 0)
                memcpy(ne, e, (size_t)n * sizeof(*e));
            e = ne;
            cap = nc;
        }
        e[n].kind = k;
        snprintf(e[n].id, sizeof(e[n].id), "%s", (const char *)txt);
        n++;
        xmlFree(txt);
    }
    xmlFreeDoc(doc);
    *out = e;
    return n;
bad:
    xmlFreeDoc(doc);
    return -1;
}

static const struct st_part *st_find_committed(const struct st_blob *b, const char *id)
{
    for (size_t i = 0; b != NULL && i < b->nparts; i++)
        if (b->parts[i].block_id[0] != '\0' && strcmp(b->parts[i].block_id, id) == 0)
            return &b->parts[i];
    return NULL;
}

static const struct st_part *st_find_staged(const struct st_block *bl, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(bl[i].id, id) == 0)
            return &bl[i].part;
    return NULL;
}

static void st_put_block_list(struct st_call *c, struct ck_resp *resp)
{
    size_t len = 0;
    const char *body = ck_req_body(c->req, &len);
    struct st_bl_entry *e = NULL;
    struct st_blob cur, b;
    struct st_block *staged = NULL;
    size_t nstaged = 0;
    struct st_cond cond;
    int have_cur;
    if (st_cond_parse(c, resp, &cond, 0) != 0)
        return;
    long n = st_blocklist_parse(c, body, len, &e);
    if (n < 0) {
        st_fail(c, resp, 400, "InvalidXmlDocument", "XML specified is not syntactically valid.");
        return;
    }
    int rc = st_blob_get(c->st, c->a, c->account, c->container, c->blob, &cur);
    if (rc != CK_OK && rc != CK_E_NOT_FOUND) {
        st_fail(c, resp, 500, "InternalError", "The blob could not be read.");
        return;
    }
    have_cur = rc == CK_OK;
    if (st_block_list(c->st, c->a, c->account, c->container, c->blob, &staged, &nstaged) != CK_OK) {
        st_fail(c, resp, 500, "InternalError", "The staged blocks could not be read.");
        return;
    }
    if (st_new_version(c, resp, &b, 0) != 0)
        return;
    b.parts = ck_arena_alloc(c->a, (size_t)(n ? n : 1) * sizeof(*b.parts));
    if (b.parts == NULL) {
        st_fail(c, resp, 500, "InternalError", "Out of memory.");
        return;
    }
    for (long i = 0; i < n; i++) {
        const struct st_part *p = NULL;
        if (e[i].kind != ST_BL_COMMITTED)
            p = st_find_staged(staged, nstaged, e[i].id);
        if (p == NULL && e[i].kind != ST_BL_UNCOMMITTED)
            p = st_find_committed(have_cur ? &cur : NULL, e[i].id);
        if (p == NULL) {
            st_fail(c, resp, 400, "InvalidBlockList", "The specified block list is invalid.");
            return;
        }
        b.parts[i] = *p;
        snprintf(b.parts[i].block_id, sizeof(b.parts[i].block_id), "%s", e[i].id);
        b.size += p->size;
    }
    b.nparts = (size_t)n;
    if (st_commit(c, resp, &b, &cond, NULL, 0, 1) == 0)
        st_write_headers(c, resp, 201, b.etag, b.last_modified);
}

static void st_get_block_list(struct st_call *c, struct ck_resp *resp)
{
    const char *type = ck_req_query(c->req, "blocklisttype");
    int committed = 1, uncommitted = 0;
    struct st_blob cur;
    struct st_block *staged = NULL;
    size_t nstaged = 0;
    struct ck_buf b;
    if (type != NULL) {
        if (strcasecmp(type, "committed") == 0)
            committed = 1;
        else if (strcasecmp(type, "uncommitted") == 0)
            committed = 0, uncommitted = 1;
        else if (strcasecmp(type, "all") == 0)
            uncommitted = 1;
        else {
            st_fail(c, resp, 400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid.");
            return;
        }
    }
    int rc = st_blob_get(c->st, c->a, c->account, c->container, c->blob, &cur);
    if (rc != CK_OK && rc != CK_E_NOT_FOUND) {
        st_fail(c, resp, 500, "InternalError", "The blob could not be read.");
        return;
    }
    if (st_block_list(c->st, c->a, c->account, c->container, c->blob, &staged, &nstaged) != CK_OK) {
        st_fail(c, resp, 500, "InternalError", "The staged blocks could not be read.");
        return;
    }
    if (rc == CK_E_NOT_FOUND && nstaged == 0) {
        st_fail(c, resp, 404, "BlobNotFound", "The specified blob does not exist.");
        return;
    }
    ck_buf_init(&b, 16u * 1024 * 1024);
    ck_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    if (committed) {
        ck_buf_puts(&b, "<CommittedBlocks>");
        for (size_t i = 0; rc == CK_OK && i < cur.nparts; i++)
            if (cur.parts[i].block_id[0] != '\0')
                ck_buf_printf(&b, "<Block><Name>%s</Name><Size>%llu</Size></Block>", cur.parts[i].block_id,
                              (unsigned long long)cur.parts[i].size);
        ck_buf_puts(&b, "</CommittedBlocks>");
    }
    if (uncommitted) {
        ck_buf_puts(&b, "<UncommittedBlocks>");
        for (size_t i = 0; i < nstaged; i++)
            ck_buf_printf(&b, "<Block><Name>%s</Name><Size>%llu</Size></Block>", staged[i].id,
                          (unsigned long long)staged[i].size);
        ck_buf_puts(&b, "</UncommittedBlocks>");
    }
    ck_buf_puts(&b, "</BlockList>");
    ck_resp_status(resp, 200);
    st_common_headers(c, resp);
    if (rc == CK_OK) {
        ck_resp_header(resp, "ETag", cur.etag);
        ck_resp_header(resp, "Last-Modified", st_http_time(c, cur.last_modified));
        char *len = ck_arena_printf(c->a, "%llu", (unsigned long long)cur.size);
        ck_resp_header(resp, "x-ms-blob-content-length", len);
    }
    ck_resp_body(resp, "application/xml", b.data ? b.data : "", b.len);
    ck_buf_cleanup(&b);
}

/* ---- reads ---- */

static int st_load_blob(struct st_call *c, struct ck_resp *resp, struct st_blob *b)
{
    int rc = st_blob_get(c->st, c->a, c->account, c->container, c->blob, b);
    if (rc == CK_OK)
        return 0;
    if (rc == CK_E_NOT_FOUND) {
        struct st_container ct;
        if (st_container_get(c->st, c->a, c->account, c->container, &ct) == CK_E_NOT_FOUND)
            st_fail(c, resp, 404, "ContainerNotFound", "The specified container does not exist.");
        else
            st_fail(c, resp, 404, "BlobNotFound", "The specified blob does not exist.");
    } else {
        st_fail(c, resp, 500, "InternalError", "The blob index entry could not be read.");
    }
    return -1;
}

/* Evaluates read conditions: 0 to go on, -1 after answering 304 or 412. */
static int st_read_cond(struct st_call *c, struct ck_resp *resp, const struct st_blob *b)
{
    struct st_cond cond;
    if (st_cond_parse(c, resp, &cond, 1) != 0)
        return -1;
    switch (st_cond_eval(&cond, b->etag, b->last_modified, 1)) {
    case ST_COND_OK: return 0;
    case ST_COND_NOT_MODIFIED:
        ck_resp_status(resp, 304);
        st_common_headers(c, resp);
        ck_resp_header(resp, "x-ms-error-code", "ConditionNotMet");
        ck_resp_header(resp, "ETag", b->etag);
        ck_resp_header(resp, "Last-Modified", st_http_time(c, b->last_modified));
        return -1;
    default: st_fail(c, resp, 412, "ConditionNotMet", ST_COND_MSG); return -1;
    }
}

static void st_prop(struct ck_resp *resp, const char *name, const char *v, const char *override)
{
    if (override != NULL)
        ck_resp_header(resp, name, override);
    else if (v != NULL && v[0] != '\0')
        ck_resp_header(resp, name, v);
}

/* The headers of Get Blob and Get Blob Properties. -1 after answering (corrupt metadata). */
static int st_blob_headers(struct st_call *c, struct ck_resp *resp, const struct st_blob *b)
{
    ck_resp_header(resp, "ETag", b->etag);
    ck_resp_header(resp, "Last-Modified", st_http_time(c, b->last_modified));
    ck_resp_header(resp, "x-ms-creation-time", st_http_time(c, b->created));
    ck_resp_header(resp, "x-ms-blob-type", "BlockBlob");
    ck_resp_header(resp, "Accept-Ranges", "bytes");
    ck_resp_header(resp, "x-ms-lease-status", "unlocked");
    ck_resp_header(resp, "x-ms-lease-state", "available");
    ck_resp_header(resp, "x-ms-server-encrypted", "true");
    st_prop(resp, "Content-Encoding", b->content_encoding, c->sas_rsce);
    st_prop(resp, "Content-Language", b->content_language, c->sas_rscl);
    st_prop(resp, "Content-Disposition", b->content_disposition, c->sas_rscd);
    st_prop(resp, "Cache-Control", b->cache_control, c->sas_rscc);
    return st_meta_headers(c, resp, st_meta_aad(c, c->container, c->blob), b->meta, b->meta_len);
}

/* Parses one decimal number of at most 19 digits at *p (advancing it). 0, or -1. */
static int st_range_num(const char **p, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;
    while (**p >= '0' && **p <= '9') {
        if (++n > 19)
            return -1;
        v = v * 10 + (uint64_t)(**p - '0');
        (*p)++;
    }
    if (n == 0)
        return -1;
    *out = v;
    return 0;
}

/* Parses "bytes=s-e" / "bytes=s-" (x-ms-range wins over Range). 1 when a range is given, 0 when
 * none, -1 when malformed (inverted, overflowing, suffix or multiple ranges). */
static int st_range_parse(struct st_call *c, uint64_t *start, uint64_t *end, int *open)
{
    const char *r = ck_req_header(c->req, "x-ms-range");
    if (r == NULL)
        r = ck_req_header(c->req, "Range");
    if (r == NULL)
        return 0;
    if (strncmp(r, "bytes=", 6) != 0)
        return -1;
    r += 6;
    if (st_range_num(&r, start) != 0 || *r++ != '-')
        return -1;
    if (*r == '\0') {
        *open = 1;
        return 1;
    }
    if (st_range_num(&r, end) != 0 || *r != '\0' || *end < *start)
        return -1;
    *open = 0;
    return 1;
}

struct st_stream {
    struct st_reader *r;
    struct ck_secret *aek;
    uint64_t start, len; /* the range served */
};

/* Fills as much of buf as the blob has, segment after segment (fewer, larger sends). */
static long st_stream_read(void *arg, uint64_t pos, char *buf, size_t max)
{
    struct st_stream *s = arg;
    size_t got = 0;
    if (pos >= s->len)
        return -1;
    if (max > s->len - pos)
        max = (size_t)(s->len - pos);
    while (got < max) {
        long n = st_reader_read(s->r, s->start + pos + got, (uint8_t *)buf + got, max - got);
        if (n < 0)
            return -1; /* never a short body taken for a whole one: the connection is closed */
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return got > 0 ? (long)got : -1;
}

static void st_stream_free(void *arg)
{
    struct st_stream *s = arg;
    st_reader_free(s->r);
    ck_secret_free(s->aek);
    ck_free(s);
}

static long st_no_read(void *arg, uint64_t pos, char *buf, size_t max)
{
    (void)arg;
    (void)pos;
    (void)buf;
    (void)max;
    return -1;
}

static void st_get_blob(struct st_call *c, struct ck_resp *resp)
{
    struct st_blob b;
    uint64_t start = 0, end = 0;
    int open = 0, ranged;
    if (st_load_blob(c, resp, &b) != 0 || st_read_cond(c, resp, &b) != 0)
        return;
    ranged = st_range_parse(c, &start, &end, &open);
    if (ranged < 0) {
        st_fail(c, resp, 400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.");
        return;
    }
    if (ranged && (start >= b.size)) {
        st_fail(c, resp, 416, "InvalidRange", "The range specified is invalid for the current size of the resource.");
        ck_resp_header(resp, "Content-Range", ck_arena_printf(c->a, "bytes */%llu", (unsigned long long)b.size));
        return;
    }
    if (!ranged || open || end >= b.size)
        end = b.size ? b.size - 1 : 0;
    uint64_t len = b.size ? end - start + 1 : 0;
    ck_resp_status(resp, ranged ? 206 : 200);
    st_common_headers(c, resp);
    if (st_blob_headers(c, resp, &b) != 0)
        return;
    const char *ctype = c->sas_rsct ? c->sas_rsct : b.content_type ? b.content_type : "application/octet-stream";
    if (ranged) {
        ck_resp_header(resp, "Content-Range",
                       ck_arena_printf(c->a, "bytes %llu-%llu/%llu", (unsigned long long)start, (unsigned long long)end,
                                       (unsigned long long)b.size));
        if (b.content_md5 != NULL)
            ck_resp_header(resp, "x-ms-blob-content-md5", b.content_md5);
    } else if (b.content_md5 != NULL) {
        ck_resp_header(resp, "Content-MD5", b.content_md5);
    }
    if (c->head) {
        ck_resp_stream(resp, ctype, len, st_no_read, NULL, NULL);
        return;
    }
    if (len == 0) {
        ck_resp_body(resp, ctype, "", 0);
        return;
    }
    struct st_stream *s = ck_calloc(1, sizeof(*s));
    if (s == NULL || (s->aek = ck_secret_from(ck_secret_ptr(c->aek), ck_secret_len(c->aek))) == NULL ||
        st_reader_new(c->st, s->aek, c->account, c->container, c->blob, b.parts, b.nparts, &s->r) != CK_OK) {
        if (s != NULL)
            st_stream_free(s);
        st_fail(c, resp, 500, "InternalError", "The blob could not be opened.");
        return;
    }
    s->start = start;
    s->len = len;
    /* The first segment is checked before the status line goes out: corruption there is a clean 500. */
    uint8_t probe[1];
    if (st_reader_read(s->r, start, probe, 1) != 1) {
        st_stream_free(s);
        st_fail(c, resp, 500, "InternalError", "The stored data of blob %s fails its integrity check; it is not returned.",
                c->blob);
        return;
    }
    const char *want_md5 = ck_req_header(c->req, "x-ms-range-get-content-md5");
    if (ranged && want_md5 != NULL && strcasecmp(want_md5, "true") == 0) {
        if (len > 4u * 1024 * 1024) {
            st_stream_free(s);
            st_fail(c, resp, 400, "OutOfRangeInput", "The range must be 4 MiB or less when x-ms-range-get-content-md5 is set.");
            return;
        }
        uint8_t *buf = ck_malloc((size_t)len);
        uint64_t got = 0;
        while (buf != NULL && got < len) {
            long n = st_reader_read(s->r, start + got, buf + got, (size_t)(len - got));
            if (n <= 0)
                break;
            got += (uint64_t)n;
        }
        st_stream_free(s);
        if (buf == NULL || got != len) {
            ck_free(buf);
            st_fail(c, resp, 500, "InternalError", "The stored data of blob %s fails its integrity check.", c->blob);
            return;
        }
        uint8_t md5[16];
        struct ck_md5 *m = ck_md5_new();
        if (m != NULL) {
            ck_md5_update(m, buf, (size_t)len);
            ck_md5_final(m, md5);
            char *h = ck_b64_encode(md5, 16);
            if (h != NULL)
                ck_resp_header(resp, "Content-MD5", h);
            ck_free(h);
        }
        ck_resp_body(resp, ctype, buf, (size_t)len);
        ck_freezero(buf, (size_t)len);
        return;
    }
    ck_resp_stream(resp, ctype, len, st_stream_read, st_stream_free, s);
}

static void st_blob_props(struct st_call *c, struct ck_resp *resp)
{
    struct st_blob b;
    if (st_load_blob(c, resp, &b) != 0 || st_read_cond(c, resp, &b) != 0)
        return;
    ck_resp_status(resp, 200);
    st_common_headers(c, resp);
    if (st_blob_headers(c, resp, &b) != 0)
        return;
    ck_resp_header(resp, "x-ms-access-tier", "Hot");
    ck_resp_header(resp, "x-ms-access-tier-inferred", "true");
    if (b.content_md5 != NULL)
        ck_resp_header(resp, "Content-MD5", b.content_md5);
    const char *ctype = c->sas_rsct ? c->sas_rsct : b.content_type ? b.content_type : "application/octet-stream";
    ck_resp_stream(resp, ctype, b.size, st_no_read, NULL, NULL);
}

static void st_get_meta(struct st_call *c, struct ck_resp *resp)
{
    struct st_blob b;
    if (st_load_blob(c, resp, &b) != 0 || st_read_cond(c, resp, &b) != 0)
        return;
    ck_resp_status(resp, 200);
    st_common_headers(c, resp);
    ck_resp_header(resp, "ETag", b.etag);
    ck_resp_header(resp, "Last-Modified", st_http_time(c, b.last_modified));
    st_meta_headers(c, resp, st_meta_aad(c, c->container, c->blob), b.meta, b.meta_len);
}

/* ---- updates ---- */

static void st_update(struct st_call *c, struct ck_resp *resp, int metadata_only)
{
    struct st_blob b;
    struct st_cond cond;
    if (st_cond_parse(c, resp, &cond, 0) != 0 || st_new_version(c, resp, &b, 0) != 0)
        return;
    if (!metadata_only && ck_req_header(c->req, "x-ms-blob-content-type") == NULL)
        b.content_type = NULL;
    int rc = st_blob_update(c->st, c->account, c->container, &b, &cond, metadata_only);
    if (rc == CK_E_NOT_FOUND) {
        struct st_blob tmp;
        st_load_blob(c, resp, &tmp);
        return;
    }
    if (rc == CK_E_FORBIDDEN || rc == CK_E_EXISTS) {
        st_cond_fail(c, resp, rc, 0);
        return;
    }
    if (rc != CK_OK) {
        st_fail(c, resp, 500, "InternalError", "The blob could not be updated.");
        return;
    }
    st_write_headers(c, resp, 200, b.etag, b.last_modified);
}

static void st_delete(struct st_call *c, struct ck_resp *resp)
{
    struct st_cond cond;
    if (st_cond_parse(c, resp, &cond, 0) != 0)
        return;
    int rc = st_blob_delete(c->st, c->account, c->container, c->blob, &cond);
    if (rc == CK_E_NOT_FOUND) {
        struct st_blob tmp;
        st_load_blob(c, resp, &tmp);
        return;
    }
    if (rc == CK_E_FORBIDDEN || rc == CK_E_EXISTS) {
        st_cond_fail(c, resp, rc, 0);
        return;
    }
    if (rc != CK_OK) {
        st_fail(c, resp, 500, "InternalError", "The blob could not be deleted.");
        return;
    }
    ck_resp_status(resp, 202);
    st_common_headers(c, resp);
    ck_resp_header(resp, "x-ms-delete-type-permanent", "true");
}

/* ---- copy within an account ---- */

/* Finds "/{account}/{container}/{blob}" in a copy source URL of this server; names decoded. */
static int st_copy_source(struct st_call *c, const char *url, char **container, char **blob)
{
    const char *p = strstr(url, "://");
    if (p == NULL)
        return -1;
    p = strchr(p + 3, '/');
    if (p == NULL)
        return -1;
    size_t n = strcspn(p, "?");
    char *path = ck_arena_strndup(c->a, p, n);
    char *seg[3] = {0};
    if (path == NULL)
        return -1;
    char *s = path + 1;
    for (int i = 0; i < 2; i++) {
        char *slash = strchr(s, '/');
        if (slash == NULL)
            return -1;
        *slash = '\0';
        seg[i] = s;
        s = slash + 1;
    }
    seg[2] = s;
    if (strcmp(seg[0], c->account) != 0 || seg[1][0] == '\0' || seg[2][0] == '\0')
        return -1;
    char *cd = ck_url_decode(seg[1], strlen(seg[1]), 0), *bd = ck_url_decode(seg[2], strlen(seg[2]), 0);
    *container = cd ? ck_arena_strdup(c->a, cd) : NULL;
    *blob = bd ? ck_arena_strdup(c->a, bd) : NULL;
    ck_free(cd);
    ck_free(bd);
    return *container && *blob ? 0 : -1;
}

static void st_copy_blob(struct st_call *c, struct ck_resp *resp)
{
    const char *src = ck_req_header(c->req, "x-ms-copy-source");
    char *scont = NULL, *sblob = NULL;
    struct st_blob sb, b;
    struct st_cond cond;
    struct st_reader *r = NULL;
    struct st_part_writer *w = NULL;
    struct st_part part;
    uint8_t md5[16], *buf = NULL;
    if (st_cond_parse(c, resp, &cond, 0) != 0)
        return;
    if (st_copy_source(c, src, &scont, &sblob) != 0) {
        st_fail(c, resp, 400, "CannotVerifyCopySource", "Copy is supported only from a blob of the same account on this server.");
        return;
    }
    if (st_blob_get(c->st, c->a, c->account, scont, sblob, &sb) != CK_OK) {
        st_fail(c, resp, 404, "CannotVerifyCopySource", "The specified blob does not exist.");
        return;
    }
    /* Re-encrypt into a part bound to the destination's name. */
    if (st_reader_new(c->st, c->aek, c->account, scont, sblob, sb.parts, sb.nparts, &r) != CK_OK ||
        st_part_writer_new(c->st, c->aek, c->account, c->container, c->blob, sb.size, &w) != CK_OK ||
        (buf = ck_malloc(CK_SEG_DEFAULT_SIZE)) == NULL)
        goto fail500;
    for (uint64_t pos = 0; pos < sb.size;) {
        long n = st_reader_read(r, pos, buf, CK_SEG_DEFAULT_SIZE);
        if (n <= 0 || st_part_write(w, buf, (size_t)n) != CK_OK)
            goto fail500;
        pos += (uint64_t)n;
    }
    if (st_part_finish(w, &part, md5) != CK_OK)
        goto fail500;
    st_reader_free(r);
    r = NULL;
    ck_freezero(buf, CK_SEG_DEFAULT_SIZE);
    buf = NULL;
    /* The writer (with an inline part's bytes) is released with the request. */
    c->w = w;
    w = NULL;
    if (st_new_version(c, resp, &b, 0) != 0) {
        st_part_unlink(c->st, part.id);
        return;
    }
    /* Content properties and (without x-ms-meta-*) metadata come from the source. */
    b.content_type = sb.content_type;
    b.content_encoding = sb.content_encoding;
    b.content_language = sb.content_language;
    b.content_disposition = sb.content_disposition;
    b.cache_control = sb.cache_control;
    b.content_md5 = sb.content_md5;
    if (b.meta == NULL && sb.meta != NULL &&
        st_meta_reseal(c, st_meta_aad(c, scont, sblob), sb.meta, sb.meta_len, st_meta_aad(c, c->container, c->blob),
                       &b.meta, &b.meta_len) != CK_OK) {
        /* Metadata is sealed to its blob: it is re-sealed under the destination's name. */
        st_part_unlink(c->st, part.id);
        st_fail(c, resp, 500, "InternalError", "The source blob's metadata is corrupt.");
        return;
    }
    b.parts = &part;
    b.nparts = 1;
    b.size = part.size;
    if (st_commit(c, resp, &b, &cond, &part, 1, 0) != 0)
        return;
    char uuid[37];
    if (ck_uuid_new(uuid) != 0)
        snprintf(uuid, sizeof(uuid), "00000000-0000-0000-0000-000000000000");
    st_write_headers(c, resp, 202, b.etag, b.last_modified);
    ck_resp_header(resp, "x-ms-copy-id", uuid);
    ck_resp_header(resp, "x-ms-copy-status", "success");
    return;
fail500:
    st_part_writer_free(w);
    st_reader_free(r);
    if (buf != NULL)
        ck_freezero(buf, CK_SEG_DEFAULT_SIZE);
    st_fail(c, resp, 500, "InternalError", "The copy failed: the source could not be read or the destination written.");
}

void st_blob_op(struct st_call *c, struct ck_resp *resp)
{
    switch (c->op) {
    case ST_OP_PUT_BLOB: st_put_blob(c, resp); break;
    case ST_OP_PUT_BLOCK: st_put_block(c, resp); break;
    case ST_OP_PUT_BLOCK_LIST: st_put_block_list(c, resp); break;
    case ST_OP_GET_BLOCK_LIST: st_get_block_list(c, resp); break;
    case ST_OP_GET_BLOB: st_get_blob(c, resp); break;
    case ST_OP_BLOB_PROPS: st_blob_props(c, resp); break;
    case ST_OP_SET_PROPS: st_update(c, resp, 0); break;
    case ST_OP_SET_META: st_update(c, resp, 1); break;
    case ST_OP_GET_META: st_get_meta(c, resp); break;
    case ST_OP_DELETE_BLOB: st_delete(c, resp); break;
    case ST_OP_COPY_BLOB: st_copy_blob(c, resp); break;
    default: st_fail(c, resp, 400, "UnsupportedQueryParameter", "This operation is not supported."); break;
    }
}
