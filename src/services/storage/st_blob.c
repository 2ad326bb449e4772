/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Blob data plane, path style (/{account}/{container}/{blob}): request parsing, the choice of
 * operation, authentication (Shared Key, SAS) before any body is read, the errors and headers every
 * response carries, user metadata (sealed under the AEK), and the container and listing
 * operations. Blob operations are in st_object.c.
 */
#include "services/storage/st_data.h"
#include "services/storage/st_sig.h"
#include "core/codec.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "json/json.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ST_BASE_VERSION "2026-04-06"
#define ST_LIST_MAX 5000

/* ---- errors and common headers ---- */

static const char *st_version(struct ck_req *req)
{
    const char *v = ck_req_header(req, "x-ms-version");
    /* Any well-formed version is served (never an error for a newer SDK); we answer in its name. */
    if (v != NULL && strlen(v) == 10 && isdigit((unsigned char)v[0]) && v[4] == '-' && v[7] == '-')
        return v;
    return ST_BASE_VERSION;
}

static void st_headers(struct ck_req *req, struct ck_resp *resp)
{
    ck_resp_header(resp, "x-ms-version", st_version(req));
    ck_resp_header(resp, "Server", "crosskey-blob");
}

void st_common_headers(struct st_call *c, struct ck_resp *resp)
{
    st_headers(c->req, resp);
}

int st_xml_put(struct ck_buf *b, const char *s)
{
    int rc = CK_OK;
    for (const char *p = s; rc == CK_OK && *p != '\0'; p++) {
        switch (*p) {
        case '<': rc = ck_buf_puts(b, "&lt;"); break;
        case '>': rc = ck_buf_puts(b, "&gt;"); break;
        case '&': rc = ck_buf_puts(b, "&amp;"); break;
        case '"': rc = ck_buf_puts(b, "&quot;"); break;
        case '\'': rc = ck_buf_puts(b, "&apos;"); break;
        default:
            if ((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
                rc = ck_buf_printf(b, "&#x%X;", (unsigned)(unsigned char)*p);
            else
                rc = ck_buf_append(b, p, 1);
        }
    }
    return rc;
}

static void st_error_body(struct ck_req *req, struct ck_resp *resp, int status, const char *code, const char *message,
                          const char *detail)
{
    char ts[40];
    struct ck_buf b;
    ck_resp_status(resp, status);
    st_headers(req, resp);
    ck_resp_header(resp, "x-ms-error-code", code);
    if (strcmp(ck_req_method(req), "HEAD") == 0)
        return;
    ck_time_iso8601(ck_time_now(), ts, sizeof(ts));
    ck_buf_init(&b, 64 * 1024);
    ck_buf_printf(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>%s</Code><Message>", code);
    st_xml_put(&b, message);
    ck_buf_printf(&b, "\nRequestId:%s\nTime:%s</Message>", ck_req_id(req), ts);
    if (detail != NULL && detail[0] != '\0') {
        ck_buf_puts(&b, "<AuthenticationErrorDetail>");
        st_xml_put(&b, detail);
        ck_buf_puts(&b, "</AuthenticationErrorDetail>");
    }
    ck_buf_puts(&b, "</Error>");
    ck_resp_body(resp, "application/xml", b.data ? b.data : "", b.len);
    ck_buf_cleanup(&b);
}

void st_blob_error(void *ctx, struct ck_req *req, struct ck_resp *resp, int status, const char *code,
                   const char *message)
{
    (void)ctx;
    st_error_body(req, resp, status, code, message, NULL);
}

void st_fail(struct st_call *c, struct ck_resp *resp, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    st_error_body(c->req, resp, status, code, msg, NULL);
}

char *st_new_etag(struct st_call *c)
{
    uint8_t r[8];
    uint64_t v = 0;
    if (ck_random(r, sizeof(r)) != 0)
        return NULL;
    for (int i = 0; i < 8; i++)
        v = v << 8 | r[i];
    /* Azure's shape: "0x8D" and 13 more upper-case hex digits. */
    return ck_arena_printf(c->a, "\"0x8D%013llX\"", (unsigned long long)(v & 0xFFFFFFFFFFFFFull));
}

char *st_http_time(struct st_call *c, int64_t t)
{
    char buf[64];
    ck_time_rfc1123(t, buf, sizeof(buf));
    return ck_arena_strdup(c->a, buf);
}

int st_cond_parse(struct st_call *c, struct ck_resp *resp, struct st_cond *cond, int is_read)
{
    const char *ims = ck_req_header(c->req, "If-Modified-Since");
    const char *ius = ck_req_header(c->req, "If-Unmodified-Since");
    cond->if_match = ck_req_header(c->req, "If-Match");
    cond->if_none_match = ck_req_header(c->req, "If-None-Match");
    cond->if_modified_since = cond->if_unmodified_since = -1;
    if (ims != NULL && st_sig_parse_rfc1123(ims, &cond->if_modified_since) != CK_OK) {
        st_fail(c, resp, 400, "InvalidHeaderValue", "The value for the If-Modified-Since header is not a valid date.");
        return -1;
    }
    if (ius != NULL && st_sig_parse_rfc1123(ius, &cond->if_unmodified_since) != CK_OK) {
        st_fail(c, resp, 400, "InvalidHeaderValue", "The value for the If-Unmodified-Since header is not a valid date.");
        return -1;
    }
    switch (st_cond_form(cond, is_read)) {
    case ST_COND_MULTIPLE:
        st_fail(c, resp, 400, "MultipleConditionHeadersNotSupported", "Multiple condition headers are not supported.");
        return -1;
    case ST_COND_UNSATISFIABLE:
        st_fail(c, resp, 400, "UnsatisfiableCondition", "The request includes an unsatisfiable condition for this operation.");
        return -1;
    default: return 0;
    }
}

/* ---- metadata: sealed under a key derived from the AEK ---- */

static struct ck_secret *st_meta_key(struct st_call *c)
{
    static const char info[] = "crosskey/metadata/v1";
    struct ck_secret *k;
    if (c->aek == NULL)
        return NULL;
    k = ck_secret_new(32);
    if (k != NULL && ck_hkdf_sha256(ck_secret_ptr(c->aek), 32, NULL, 0, info, sizeof(info) - 1, ck_secret_ptr(k), 32) != CK_OK) {
        ck_secret_free(k);
        k = NULL;
    }
    return k;
}

char *st_meta_aad(struct st_call *c, const char *container, const char *blob)
{
    if (blob != NULL)
        return ck_arena_printf(c->a, "ck-blob-meta:%s/%s/%s", c->account, container, blob);
    return ck_arena_printf(c->a, "ck-container-meta:%s/%s", c->account, container);
}

static int st_meta_name_ok(const char *n)
{
    if (n[0] == '\0' || !(isalpha((unsigned char)n[0]) || n[0] == '_'))
        return 0;
    for (const char *p = n; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return 0;
    return 1;
}

struct st_meta_collect {
    json_t *obj;
    size_t total;
    const char *bad;
};

static int st_meta_collect_it(void *arg, const char *k, const char *v)
{
    struct st_meta_collect *m = arg;
    if (strncasecmp(k, "x-ms-meta-", 10) != 0)
        return 0;
    const char *name = k + 10;
    if (!st_meta_name_ok(name)) {
        m->bad = k;
        return 1;
    }
    m->total += strlen(name) + strlen(v);
    json_object_set_new(m->obj, name, json_string(v));
    return 0;
}

int st_meta_seal(struct st_call *c, struct ck_resp *resp, const char *aad, uint8_t **out, size_t *len)
{
    struct st_meta_collect m = {json_object(), 0, NULL};
    struct ck_secret *key = NULL;
    char *text = NULL;
    int ret = -1;
    *out = NULL;
    *len = 0;
    if (m.obj == NULL) {
        st_fail(c, resp, 500, "InternalError", "Out of memory.");
        return -1;
    }
    ck_req_header_each(c->req, st_meta_collect_it, &m);
    if (m.bad != NULL) {
        st_fail(c, resp, 400, "InvalidMetadata", "The metadata specified is invalid. It has characters that are not permitted.");
        goto out;
    }
    if (m.total > ST_MAX_META) {
        st_fail(c, resp, 400, "MetadataTooLarge", "The size of the specified metadata exceeds the maximum size permitted.");
        goto out;
    }
    if (json_object_size(m.obj) == 0) {
        ret = 0;
        goto out;
    }
    text = json_dumps(m.obj, JSON_COMPACT | JSON_SORT_KEYS);
    key = st_meta_key(c);
    if (text == NULL || key == NULL || ck_seal(key, aad, strlen(aad), text, strlen(text), out, len) != CK_OK) {
        st_fail(c, resp, 500, "InternalError", "The metadata could not be encrypted.");
        goto out;
    }
    ret = 0;
out:
    if (text != NULL)
        ck_freezero(text, strlen(text));
    ck_secret_free(key);
    json_decref(m.obj);
    return ret;
}

/* Opens sealed metadata into a JSON object (NULL on failure; an empty object when none). */
static json_t *st_meta_open(struct st_call *c, const char *aad, const uint8_t *sealed, size_t len)
{
    struct ck_secret *key, *pt = NULL;
    json_t *obj;
    if (sealed == NULL || len == 0)
        return json_object();
    if (c->aek == NULL)
        return NULL; /* the key is refused: c->kerr says why */
    key = st_meta_key(c);
    if (key == NULL || ck_open(key, aad, strlen(aad), sealed, len, &pt) != CK_OK) {
        ck_secret_free(key);
        ck_log(CK_LOG_ERROR, "storage: metadata of %s fails authentication", aad);
        return NULL;
    }
    ck_secret_free(key);
    obj = ck_json_parse_object((const char *)ck_secret_ptr(pt), ck_secret_len(pt), NULL, 0);
    ck_secret_free(pt);
    return obj;
}

int st_meta_reseal(struct st_call *c, const char *src_aad, const uint8_t *sealed, size_t len, const char *dst_aad,
                   uint8_t **out, size_t *outlen)
{
    json_t *obj = st_meta_open(c, src_aad, sealed, len);
    struct ck_secret *key = st_meta_key(c);
    char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    uint8_t *sealed_out = NULL;
    size_t sl = 0;
    int rc = CK_E_CRYPTO;
    if (text != NULL && key != NULL && ck_seal(key, dst_aad, strlen(dst_aad), text, strlen(text), &sealed_out, &sl) == CK_OK) {
        *out = ck_arena_alloc(c->a, sl);
        if (*out != NULL) {
            memcpy(*out, sealed_out, sl);
            *outlen = sl;
            rc = CK_OK;
        }
        ck_free(sealed_out);
    }
    if (text != NULL)
        ck_freezero(text, strlen(text));
    ck_secret_free(key);
    json_decref(obj);
    return rc;
}

int st_meta_headers(struct st_call *c, struct ck_resp *resp, const char *aad, const uint8_t *sealed, size_t len)
{
    json_t *obj = st_meta_open(c, aad, sealed, len);
    const char *k;
    json_t *v;
    if (obj == NULL && c->aek == NULL && c->kerr.code != NULL) {
        st_fail(c, resp, c->kerr.status, c->kerr.code, "%s", c->kerr.message);
        return -1;
    }
    if (obj == NULL) {
        st_fail(c, resp, 500, "InternalError", "The stored metadata is corrupt and cannot be returned.");
        return -1;
    }
    json_object_foreach(obj, k, v) {
        char *h = ck_arena_printf(c->a, "x-ms-meta-%s", k);
        if (h != NULL && json_is_string(v))
            ck_resp_header(resp, h, json_string_value(v));
    }
    json_decref(obj);
    return 0;
}

int st_meta_xml(struct st_call *c, struct ck_buf *b, const char *aad, const uint8_t *sealed, size_t len)
{
    json_t *obj = st_meta_open(c, aad, sealed, len);
    const char *k;
    json_t *v;
    if (obj == NULL)
        return CK_E_CRYPTO;
    ck_buf_puts(b, "<Metadata>");
    json_object_foreach(obj, k, v) {
        ck_buf_printf(b, "<%s>", k);
        st_xml_put(b, json_string_value(v) ? json_string_value(v) : "");
        ck_buf_printf(b, "</%s>", k);
    }
    json_decref(obj);
    return ck_buf_puts(b, "</Metadata>");
}

/* ---- request parsing ---- */

static int st_container_name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len < 3 || len > 63 || !isalnum((unsigned char)n[0]) || n[len - 1] == '-')
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!(islower((unsigned char)n[i]) || isdigit((unsigned char)n[i]) || n[i] == '-'))
            return 0;
        if (n[i] == '-' && n[i + 1] == '-')
            return 0;
    }
    return 1;
}

/* Splits the raw path into decoded account, container and blob. Returns 0, or -1 when malformed. */
static int st_parse_path(struct st_call *c)
{
    const char *p = ck_req_raw_path(c->req);
    const char *seg[2];
    size_t len[2];
    if (p == NULL || p[0] != '/')
        return -1;
    p++;
    for (int i = 0; i < 2; i++) {
        seg[i] = p;
        len[i] = strcspn(p, "/");
        p += len[i];
        if (*p == '/')
            p++;
        else if (i == 0) {
            seg[1] = p;
            len[1] = 0;
            break;
        }
    }
    c->account = ck_arena_strndup(c->a, seg[0], len[0]);
    if (c->account == NULL || len[0] == 0)
        return -1;
    if (len[1] > 0) {
        char *d = ck_url_decode(seg[1], len[1], 0);
        if (d == NULL)
            return -1;
        c->container = ck_arena_strdup(c->a, d);
        ck_free(d);
    }
    if (c->container != NULL && *p != '\0') {
        char *d = ck_url_decode(p, strlen(p), 0);
        if (d == NULL)
            return -1;
        c->blob = ck_arena_strdup(c->a, d);
        ck_free(d);
    }
    return 0;
}

static enum st_op st_pick_op(struct st_call *c)
{
    const char *comp = ck_req_query(c->req, "comp");
    const char *restype = ck_req_query(c->req, "restype");
    const char *m = c->method;
    int get = strcmp(m, "GET") == 0 || c->head, put = strcmp(m, "PUT") == 0, del = strcmp(m, "DELETE") == 0;
    if (c->container == NULL) {
        if (get && comp && strcmp(comp, "list") == 0)
            return ST_OP_LIST_CONTAINERS;
        if (get && comp && strcmp(comp, "properties") == 0 && restype && strcmp(restype, "account") == 0)
            return ST_OP_ACCOUNT_INFO;
        if (get && comp && strcmp(comp, "properties") == 0 && restype && strcmp(restype, "service") == 0)
            return ST_OP_SERVICE_PROPS;
        return ST_OP_NONE;
    }
    if (c->blob == NULL) {
        if (restype == NULL || strcmp(restype, "container") != 0) {
            if (get && comp && strcmp(comp, "properties") == 0 && restype && strcmp(restype, "account") == 0)
                return ST_OP_ACCOUNT_INFO;
            return ST_OP_NONE;
        }
        if (comp == NULL)
            return put ? ST_OP_CONTAINER_CREATE : get ? ST_OP_CONTAINER_PROPS : del ? ST_OP_CONTAINER_DELETE : ST_OP_NONE;
        if (strcmp(comp, "metadata") == 0)
            return put ? ST_OP_CONTAINER_SET_META : get ? ST_OP_CONTAINER_PROPS : ST_OP_NONE;
        if (strcmp(comp, "list") == 0 && get)
            return ST_OP_LIST_BLOBS;
        return ST_OP_NONE;
    }
    if (comp == NULL) {
        if (put)
            return ck_req_header(c->req, "x-ms-copy-source") ? ST_OP_COPY_BLOB : ST_OP_PUT_BLOB;
        if (c->head)
            return ST_OP_BLOB_PROPS;
        return get ? ST_OP_GET_BLOB : del ? ST_OP_DELETE_BLOB : ST_OP_NONE;
    }
    if (strcmp(comp, "block") == 0 && put)
        return ST_OP_PUT_BLOCK;
    if (strcmp(comp, "blocklist") == 0)
        return put ? ST_OP_PUT_BLOCK_LIST : get ? ST_OP_GET_BLOCK_LIST : ST_OP_NONE;
    if (strcmp(comp, "properties") == 0 && put)
        return ST_OP_SET_PROPS;
    if (strcmp(comp, "metadata") == 0)
        return put ? ST_OP_SET_META : get ? ST_OP_GET_META : ST_OP_NONE;
    return ST_OP_NONE;
}

/* What a SAS must grant for an operation: any one of perms, at level. */
static void st_op_need(enum st_op op, const char **perms, enum st_sig_level *level)
{
    *level = ST_SIG_LEVEL_OBJECT;
    switch (op) {
    case ST_OP_LIST_CONTAINERS: *perms = "l"; *level = ST_SIG_LEVEL_SERVICE; break;
    case ST_OP_ACCOUNT_INFO:
    case ST_OP_SERVICE_PROPS: *perms = "r"; *level = ST_SIG_LEVEL_SERVICE; break;
    case ST_OP_CONTAINER_CREATE: *perms = "cw"; *level = ST_SIG_LEVEL_CONTAINER; break;
    case ST_OP_CONTAINER_PROPS: *perms = "r"; *level = ST_SIG_LEVEL_CONTAINER; break;
    case ST_OP_CONTAINER_DELETE: *perms = "d"; *level = ST_SIG_LEVEL_CONTAINER; break;
    case ST_OP_CONTAINER_SET_META: *perms = "w"; *level = ST_SIG_LEVEL_CONTAINER; break;
    case ST_OP_LIST_BLOBS: *perms = "l"; *level = ST_SIG_LEVEL_CONTAINER; break;
    case ST_OP_PUT_BLOB:
    case ST_OP_COPY_BLOB: *perms = "cw"; break;
    case ST_OP_PUT_BLOCK:
    case ST_OP_PUT_BLOCK_LIST:
    case ST_OP_SET_PROPS:
    case ST_OP_SET_META: *perms = "w"; break;
    case ST_OP_DELETE_BLOB: *perms = "d"; break;
    default: *perms = "r"; break;
    }
}

/* The RBAC action an operation needs with a bearer token, and whether it is a data action. */
static const char *st_op_action(enum st_op op, int *is_data)
{
    *is_data = 1;
    switch (op) {
    case ST_OP_LIST_CONTAINERS:
    case ST_OP_CONTAINER_PROPS:
    case ST_OP_ACCOUNT_INFO:
    case ST_OP_SERVICE_PROPS: *is_data = 0; return "Microsoft.Storage/storageAccounts/blobServices/containers/read";
    case ST_OP_CONTAINER_CREATE:
    case ST_OP_CONTAINER_SET_META: *is_data = 0; return "Microsoft.Storage/storageAccounts/blobServices/containers/write";
    case ST_OP_CONTAINER_DELETE: *is_data = 0; return "Microsoft.Storage/storageAccounts/blobServices/containers/delete";
    case ST_OP_PUT_BLOB:
    case ST_OP_COPY_BLOB:
    case ST_OP_PUT_BLOCK:
    case ST_OP_PUT_BLOCK_LIST:
    case ST_OP_SET_PROPS:
    case ST_OP_SET_META: return "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write";
    case ST_OP_DELETE_BLOB: return "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete";
    default: return "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read";
    }
}

/* ---- authentication ---- */

static const char *st_sig_header(void *ctx, const char *name)
{
    return ck_req_header(ctx, name);
}

static void st_sig_header_each(void *ctx, int (*fn)(void *arg, const char *name, const char *value), void *arg)
{
    ck_req_header_each(ctx, fn, arg);
}

static void st_sig_query_each(void *ctx, int (*fn)(void *arg, const char *name, const char *value), void *arg)
{
    ck_req_query_each(ctx, fn, arg);
}

static void st_challenge(struct st_call *c, struct ck_resp *resp)
{
    const char *tenant = c->acct.tenant_id && c->acct.tenant_id[0] ? c->acct.tenant_id : "common";
    char *v = ck_arena_printf(c->a, "Bearer authorization_uri=%s/%s/oauth2/authorize resource_id=https://storage.azure.com",
                              c->st->authority, tenant);
    if (v != NULL)
        ck_resp_header(resp, "WWW-Authenticate", v);
}

/* Bearer tokens (wire-blob A.5): RS256 from the account's tenant for the storage audience, over
 * HTTPS only, then the operation's action through ARM's role assignments (Storage Blob Data
 * Owner, Contributor, Reader) at the container scope or above. */
static int st_bearer(struct st_call *c, struct ck_resp *resp, const char *token)
{
    static const char *const auds[] = {"https://storage.azure.com", "https://storage.azure.com/",
                                       "e406a681-f3d4-42a8-90b6-c2b029497af1", NULL};
    struct ck_claims claims;
    int is_data;
    if (!ck_req_is_tls(c->req) || c->acct.dev || c->acct.tenant_id == NULL || c->acct.tenant_id[0] == '\0') {
        st_fail(c, resp, 403, "AuthenticationFailed",
                "Bearer tokens are accepted only over HTTPS and for accounts made through the resource manager.");
        return -1;
    }
    while (*token == ' ')
        token++;
    enum ck_token_fail f = ck_verify_token(c->st->verifier, token, auds, c->acct.tenant_id, &claims);
    if (f == CK_TF_UNAVAILABLE) {
        st_fail(c, resp, 503, "ServerBusy", "The token issuer's keys could not be fetched; try again.");
        return -1;
    }
    if (f != CK_TF_NONE) {
        /* The challenge names the account's tenant, so the SDK can fetch a token there. */
        st_challenge(c, resp);
        st_fail(c, resp, 401, "InvalidAuthenticationInfo", "Server failed to authenticate the request: %s.",
                ck_token_fail_text(f));
        return -1;
    }
    ck_req_set_principal(c->req, claims.oid);
    const char *action = st_op_action(c->op, &is_data);
    char *scope = c->container != NULL
                      ? ck_arena_printf(c->a, "%s/blobServices/default/containers/%s", c->acct.arm_id, c->container)
                      : ck_arena_strdup(c->a, c->acct.arm_id);
    int r = scope ? ck_access_check_kind(c->st->access, &claims, scope, action, is_data) : -1;
    if (r < 0) {
        st_fail(c, resp, 503, "ServerBusy", "The authorization service could not be reached; try again.");
        return -1;
    }
    if (r == 0) {
        st_fail(c, resp, 403, "AuthorizationPermissionMismatch",
                "This request is not authorized to perform this operation using this permission. The principal %s "
                "does not have %s at %s.", claims.oid, action, scope);
        return -1;
    }
    return 0;
}

/* Authenticates the request for its operation. 0, or -1 after answering. */
static int st_authenticate(struct st_call *c, struct ck_resp *resp)
{
    struct st_sig_req sr = {.method = c->method, .raw_path = ck_req_raw_path(c->req), .ctx = c->req,
                            .header = st_sig_header, .header_each = st_sig_header_each, .query_each = st_sig_query_each};
    struct st_sig_result *res = ck_arena_alloc(c->a, sizeof(*res));
    struct ck_secret *k1 = NULL, *k2 = NULL;
    const char *authz = ck_req_header(c->req, "Authorization");
    int rc;
    if (res == NULL) {
        st_fail(c, resp, 500, "InternalError", "Out of memory.");
        return -1;
    }
    if (authz != NULL && strncasecmp(authz, "Bearer ", 7) == 0)
        return st_bearer(c, resp, authz + 7);
    int is_sas = authz == NULL && st_sig_is_sas(&sr);
    if (authz == NULL && !is_sas) {
        st_challenge(c, resp);
        st_fail(c, resp, 401, "NoAuthenticationInformation",
                "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.");
        return -1;
    }
    if (st_account_keys(c->st, c->account, &k1, &k2) != CK_OK) {
        st_fail(c, resp, 500, "InternalError", "The account keys are not available.");
        return -1;
    }
    if (is_sas) {
        struct st_sas_need need = {.container = c->container, .blob = c->blob, .is_tls = ck_req_is_tls(c->req),
                                   .peer_ip = ck_req_peer(c->req)};
        st_op_need(c->op, &need.perms, &need.level);
        rc = st_sas_check(&sr, c->account, &need, k1, k2, ck_time_now(), res);
        if (rc == CK_OK) {
            c->sas_rscc = res->rscc[0] ? ck_arena_strdup(c->a, res->rscc) : NULL;
            c->sas_rscd = res->rscd[0] ? ck_arena_strdup(c->a, res->rscd) : NULL;
            c->sas_rsce = res->rsce[0] ? ck_arena_strdup(c->a, res->rsce) : NULL;
            c->sas_rscl = res->rscl[0] ? ck_arena_strdup(c->a, res->rscl) : NULL;
            c->sas_rsct = res->rsct[0] ? ck_arena_strdup(c->a, res->rsct) : NULL;
            ck_req_set_principal(c->req, "sas");
        }
    } else {
        rc = st_sharedkey_check(&sr, c->account, k1, k2, ck_time_now(), res);
        if (rc == CK_OK)
            ck_req_set_principal(c->req, res->key_index == 2 ? "key2" : "key1");
    }
    ck_secret_free(k1);
    ck_secret_free(k2);
    if (rc != CK_OK) {
        st_error_body(c->req, resp, res->status ? res->status : 403, res->code[0] ? res->code : "AuthenticationFailed",
                      res->message[0] ? res->message : "Server failed to authenticate the request.", res->detail);
        return -1;
    }
    return 0;
}

/* Headers beyond this many bytes in all are refused in the Blob error format (MHD itself refuses
 * what does not fit its connection memory). */
#define ST_HEADERS_MAX (32 * 1024)

static int st_has_meta_it(void *arg, const char *k, const char *v)
{
    (void)v;
    if (strncasecmp(k, "x-ms-meta-", 10) == 0)
        *(int *)arg = 1;
    return 0;
}

static int st_header_size_it(void *arg, const char *k, const char *v)
{
    size_t *n = arg;
    *n += strlen(k) + strlen(v) + 4;
    return 0;
}

/* ---- the begin hook and the handler ---- */

/* 1 when the operation reads or writes data or metadata (it needs the AEK). */
static int st_op_needs_key(struct st_call *c)
{
    const char *include = ck_req_query(c->req, "include");
    int meta = 0;
    ck_req_header_each(c->req, st_has_meta_it, &meta);
    switch (c->op) {
    case ST_OP_GET_BLOB:
    case ST_OP_PUT_BLOB:
    case ST_OP_PUT_BLOCK:
    case ST_OP_PUT_BLOCK_LIST:
    case ST_OP_BLOB_PROPS:
    case ST_OP_SET_PROPS:
    case ST_OP_GET_META:
    case ST_OP_SET_META:
    case ST_OP_COPY_BLOB:
    case ST_OP_CONTAINER_SET_META: return 1;
    case ST_OP_CONTAINER_CREATE: return meta;
    case ST_OP_LIST_BLOBS:
    case ST_OP_LIST_CONTAINERS: return include != NULL && strstr(include, "metadata") != NULL;
    default: return 0;
    }
}

static void st_call_release(void *arg)
{
    struct st_call *c = arg;
    st_part_writer_free(c->w);
    c->w = NULL;
    ck_secret_free(c->aek);
    c->aek = NULL;
}

void st_blob_begin(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    struct st *st = ctx;
    struct ck_arena *a = ck_req_arena(req);
    struct st_call *c = ck_arena_alloc(a, sizeof(*c));
    if (c == NULL) {
        st_blob_error(st, req, resp, 500, "InternalError", "Out of memory.");
        return;
    }
    memset(c, 0, sizeof(*c));
    c->st = st;
    c->req = req;
    c->a = a;
    c->method = ck_req_method(req);
    c->head = strcmp(c->method, "HEAD") == 0;
    if (ck_arena_defer(a, st_call_release, c) != CK_OK) {
        st_blob_error(st, req, resp, 500, "InternalError", "Out of memory.");
        return;
    }
    ck_req_set_data(req, c);
    size_t hdr_bytes = 0;
    ck_req_header_each(req, st_header_size_it, &hdr_bytes);
    if (hdr_bytes > ST_HEADERS_MAX) {
        st_fail(c, resp, 400, "InvalidHeaderValue", "The request headers are larger than this server accepts (%d bytes).",
                ST_HEADERS_MAX);
        return;
    }
    if (st_parse_path(c) != 0) {
        st_fail(c, resp, 400, "InvalidUri", "The requested URI does not represent any resource on the server.");
        return;
    }
    /* Plain HTTP serves only the development account (--dev-account). */
    if (!ck_req_is_tls(req) && strcmp(c->account, ST_DEV_ACCOUNT) != 0) {
        st_fail(c, resp, 400, "InvalidUri", "Only the development account is served over plain HTTP.");
        return;
    }
    if (st_account_get(st, a, c->account, &c->acct) != CK_OK) {
        st_fail(c, resp, 404, "ResourceNotFound", "The specified resource does not exist.");
        return;
    }
    if (c->container != NULL && !st_container_name_ok(c->container)) {
        st_fail(c, resp, 400, "InvalidResourceName", "The specified resource name contains invalid characters.");
        return;
    }
    if (c->blob != NULL && (strlen(c->blob) > 1024 || c->blob[0] == '\0')) {
        st_fail(c, resp, 400, "InvalidResourceName", "The specifed resource name length is not within the permissible limits.");
        return;
    }
    c->op = st_pick_op(c);
    if (st_authenticate(c, resp) != 0)
        return;
    if (c->op == ST_OP_NONE) {
        st_fail(c, resp, 400, "UnsupportedQueryParameter" ,
                "This combination of method, resource and query parameters is not supported by this server.");
        return;
    }
    /* The AEK. Under a customer key it may be refused (docs/cmk.md): operations that read or write
     * data or metadata then answer the key's error; the others go on without it. */
    int needs_key = st_op_needs_key(c);
    if (st_account_key(st, c->account, needs_key, &c->aek, &c->kerr) != CK_OK) {
        c->aek = NULL;
        if (c->kerr.code == NULL) {
            c->kerr.status = 500;
            c->kerr.code = "InternalError";
            snprintf(c->kerr.message, sizeof(c->kerr.message), "The account encryption key is not available.");
        }
        if (needs_key) {
            st_fail(c, resp, c->kerr.status, c->kerr.code, "%s", c->kerr.message);
            return;
        }
    }
    if (c->op == ST_OP_PUT_BLOB || c->op == ST_OP_PUT_BLOCK)
        st_upload_begin(c, resp);
}

/* ---- containers ---- */

static void st_container_headers(struct st_call *c, struct ck_resp *resp, const char *etag, int64_t lm)
{
    ck_resp_header(resp, "ETag", etag);
    ck_resp_header(resp, "Last-Modified", st_http_time(c, lm));
}

static void st_container_create_op(struct st_call *c, struct ck_resp *resp)
{
    uint8_t *meta = NULL;
    size_t ml = 0;
    const char *access = ck_req_header(c->req, "x-ms-blob-public-access");
    if (access != NULL && access[0] != '\0') {
        st_fail(c, resp, 409, "PublicAccessNotPermitted", "Public access is not permitted on this storage account.");
        return;
    }
    if (st_meta_seal(c, resp, st_meta_aad(c, c->container, NULL), &meta, &ml) != 0)
        return;
    char *etag = st_new_etag(c);
    int64_t now = ck_time_now();
    int rc = st_container_create(c->st, c->account, c->container, etag, now, meta, ml);
    ck_free(meta);
    if (rc == CK_E_EXISTS) {
        st_fail(c, resp, 409, "ContainerAlreadyExists", "The specified container already exists.");
        return;
    }
    if (rc != CK_OK) {
        st_fail(c, resp, 500, "InternalError", "The container could not be created.");
        return;
    }
    ck_resp_status(resp, 201);
    st_common_headers(c, resp);
    st_container_headers(c, resp, etag, now);
}

static int st_load_container(struct st_call *c, struct ck_resp *resp, struct st_container *ct)
{
    int rc = st_container_get(c->st, c->a, c->account, c->container, ct);
    if (rc == CK_E_NOT_FOUND) {
        st_fail(c, resp, 404, "ContainerNotFound", "The specified container does not exist.");
        return -1;
    }
    if (rc != CK_OK) {
        st_fail(c, resp, 500, "InternalError", "The container could not be read.");
        return -1;
    }
    return 0;
}

static void st_container_props_op(struct st_call *c, struct ck_resp *resp)
{
    struct st_container ct;
    if (st_load_container(c, resp, &ct) != 0)
        return;
    ck_resp_status(resp, 200);
    st_common_headers(c, resp);
    if (st_meta_headers(c, resp, st_meta_aad(c, c->container, NULL), ct.meta, ct.meta_len) != 0)
        return;
    st_container_headers(c, resp, ct.etag, ct.last_modified);
    const char *comp = ck_req_query(c->req, "comp");
    if (comp == NULL) {
        ck_resp_header(resp, "x-ms-lease-status", "unlocked");
        ck_resp_header(resp, "x-ms-lease-state", "available");
        ck_resp_header(resp, "x-ms-has-immutability-policy", "false");
        ck_resp_header(resp, "x-ms-has-legal-hold", "false");
        ck_resp_header(resp, "x-ms-default-encryption-scope", "$account-encryption-key");
        ck_resp_header(resp, "x-ms-deny-encryption-scope-override", "false");
    }
}

static void st_container_delete_op(struct st_call *c, struct ck_resp *resp)
{
    struct st_container ct;
    struct st_cond cond;
    if (st_cond_parse(c, resp, &cond, 0) != 0 || st_load_container(c, resp, &ct) != 0)
        return;
    if (cond.if_match != NULL || cond.if_none_match != NULL) {
        st_fail(c, resp, 400, "UnsupportedHeader", "If-Match and If-None-Match are not supported for this operation.");
        return;
    }
    if (st_cond_eval(&cond, ct.etag, ct.last_modified, 0) != ST_COND_OK) {
        st_fail(c, resp, 412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.");
        return;
    }
    int rc = st_container_delete(c->st, c->account, c->container);
    if (rc == CK_E_NOT_FOUND) {
        st_fail(c, resp, 404, "ContainerNotFound", "The specified container does not exist.");
        return;
    }
    if (rc != CK_OK) {
        st_fail(c, resp, 500, "InternalError", "The container could not be deleted.");
        return;
    }
    ck_resp_status(resp, 202);
    st_common_headers(c, resp);
}

static void st_container_set_meta_op(struct st_call *c, struct ck_resp *resp)
{
    struct st_container ct;
    struct st_cond cond;
    uint8_t *meta = NULL;
    size_t ml = 0;
    if (st_cond_parse(c, resp, &cond, 0) != 0 || st_load_container(c, resp, &ct) != 0)
        return;
    if (st_cond_eval(&cond, ct.etag, ct.last_modified, 0) != ST_COND_OK) {
        st_fail(c, resp, 412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.");
        return;
    }
    if (st_meta_seal(c, resp, st_meta_aad(c, c->container, NULL), &meta, &ml) != 0)
        return;
    char *etag = st_new_etag(c);
    int64_t now = ck_time_now();
    int rc = st_container_set_meta(c->st, c->account, c->container, etag, now, meta, ml);
    ck_free(meta);
    if (rc != CK_OK) {
        st_fail(c, resp, rc == CK_E_NOT_FOUND ? 404 : 500, rc == CK_E_NOT_FOUND ? "ContainerNotFound" : "InternalError",
                "The container metadata could not be set.");
        return;
    }
    ck_resp_status(resp, 200);
    st_common_headers(c, resp);
    st_container_headers(c, resp, etag, now);
    ck_resp_header(resp, "x-ms-request-server-encrypted", "true");
}

/* ---- listings ---- */

/* maxresults: 1..5000 (default 5000). 0, or -1 after answering 400. */
static int st_maxresults(struct st_call *c, struct ck_resp *resp, int *out)
{
    const char *s = ck_req_query(c->req, "maxresults");
    char *end = NULL;
    long v;
    *out = ST_LIST_MAX;
    if (s == NULL)
        return 0;
    v = strtol(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || v <= 0) {
        st_fail(c, resp, 400, "OutOfRangeQueryParameterValue",
                "One of the query parameters specified in the request URI is outside the permissible range.");
        return -1;
    }
    *out = v > ST_LIST_MAX ? ST_LIST_MAX : (int)v;
    return 0;
}

/* Markers are opaque to clients: base64 of the name after which the next page starts. */
static int st_marker(struct st_call *c, struct ck_resp *resp, const char **after)
{
    const char *m = ck_req_query(c->req, "marker");
    uint8_t *raw = NULL;
    size_t rl = 0;
    *after = "";
    if (m == NULL || m[0] == '\0')
        return 0;
    if (ck_b64_decode(m, strlen(m), &raw, &rl) != 0 || rl == 0 || rl > 2048 || memchr(raw, '\0', rl) != NULL) {
        ck_free(raw);
        st_fail(c, resp, 400, "InvalidQueryParameterValue", "The marker is not valid.");
        return -1;
    }
    *after = ck_arena_strndup(c->a, (const char *)raw, rl);
    ck_free(raw);
    return 0;
}

static char *st_marker_encode(struct st_call *c, const char *after)
{
    char *b = ck_b64_encode((const uint8_t *)after, strlen(after));
    char *r = b ? ck_arena_strdup(c->a, b) : NULL;
    ck_free(b);
    return r;
}

static int st_include_has(const char *include, const char *what)
{
    size_t n = strlen(what);
    for (const char *p = include; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncasecmp(p, what, n) == 0)
            return 1;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static void st_send_xml(struct st_call *c, struct ck_resp *resp, struct ck_buf *b)
{
    if (b->data == NULL && b->len == 0) {
        st_fail(c, resp, 500, "InternalError", "The listing could not be built.");
        return;
    }
    ck_resp_status(resp, 200);
    st_common_headers(c, resp);
    ck_resp_body(resp, "application/xml", b->data, b->len);
}

static void st_list_containers_op(struct st_call *c, struct ck_resp *resp)
{
    const char *prefix = ck_req_query(c->req, "prefix");
    const char *include = ck_req_query(c->req, "include");
    const char *after;
    struct st_container *ct = NULL;
    size_t n = 0;
    int max;
    struct ck_buf b;
    if (st_maxresults(c, resp, &max) != 0 || st_marker(c, resp, &after) != 0)
        return;
    if (st_container_list(c->st, c->a, c->account, prefix ? prefix : "", after, max, &ct, &n) != CK_OK) {
        st_fail(c, resp, 500, "InternalError", "The containers could not be listed.");
        return;
    }
    ck_buf_init(&b, 64u * 1024 * 1024);
    ck_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ServiceEndpoint=\"");
    st_xml_put(&b, ck_req_origin(c->req));
    ck_buf_printf(&b, "/%s/\">", c->account);
    if (prefix != NULL) {
        ck_buf_puts(&b, "<Prefix>");
        st_xml_put(&b, prefix);
        ck_buf_puts(&b, "</Prefix>");
    }
    if (ck_req_query(c->req, "marker") != NULL) {
        ck_buf_puts(&b, "<Marker>");
        st_xml_put(&b, ck_req_query(c->req, "marker"));
        ck_buf_puts(&b, "</Marker>");
    }
    if (ck_req_query(c->req, "maxresults") != NULL)
        ck_buf_printf(&b, "<MaxResults>%d</MaxResults>", max);
    ck_buf_puts(&b, "<Containers>");
    size_t shown = n > (size_t)max ? (size_t)max : n;
    for (size_t i = 0; i < shown; i++) {
        ck_buf_puts(&b, "<Container><Name>");
        st_xml_put(&b, ct[i].name);
        ck_buf_printf(&b, "</Name><Properties><Last-Modified>%s</Last-Modified><Etag>%s</Etag>"
                          "<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>"
                          "<DefaultEncryptionScope>$account-encryption-key</DefaultEncryptionScope>"
                          "<DenyEncryptionScopeOverride>false</DenyEncryptionScopeOverride>"
                          "<HasImmutabilityPolicy>false</HasImmutabilityPolicy><HasLegalHold>false</HasLegalHold>"
                          "</Properties>",
                      st_http_time(c, ct[i].last_modified), ct[i].etag);
        if (include != NULL && st_include_has(include, "metadata") &&
            st_meta_xml(c, &b, st_meta_aad(c, ct[i].name, NULL), ct[i].meta, ct[i].meta_len) != CK_OK) {
            ck_buf_cleanup(&b);
            st_fail(c, resp, 500, "InternalError", "The stored metadata of container %s is corrupt.", ct[i].name);
            return;
        }
        ck_buf_puts(&b, "</Container>");
    }
    ck_buf_puts(&b, "</Containers>");
    if (n > (size_t)max)
        ck_buf_printf(&b, "<NextMarker>%s</NextMarker>", st_marker_encode(c, ct[max - 1].name));
    else
        ck_buf_puts(&b, "<NextMarker/>");
    ck_buf_puts(&b, "</EnumerationResults>");
    st_send_xml(c, resp, &b);
    ck_buf_cleanup(&b);
}

static void st_opt_elem(struct ck_buf *b, const char *name, const char *v)
{
    if (v == NULL || v[0] == '\0') {
        ck_buf_printf(b, "<%s />", name);
        return;
    }
    ck_buf_printf(b, "<%s>", name);
    st_xml_put(b, v);
    ck_buf_printf(b, "</%s>", name);
}

static int st_blob_xml(struct st_call *c, struct ck_buf *b, const struct st_blob *bl, int with_meta)
{
    ck_buf_puts(b, "<Blob><Name>");
    st_xml_put(b, bl->name);
    ck_buf_printf(b, "</Name><Properties><Creation-Time>%s</Creation-Time><Last-Modified>%s</Last-Modified>"
                     "<Etag>%.*s</Etag><Content-Length>%llu</Content-Length>",
                  st_http_time(c, bl->created), st_http_time(c, bl->last_modified), (int)(strlen(bl->etag) - 2),
                  bl->etag + 1, (unsigned long long)bl->size);
    st_opt_elem(b, "Content-Type", bl->content_type);
    st_opt_elem(b, "Content-Encoding", bl->content_encoding);
    st_opt_elem(b, "Content-Language", bl->content_language);
    st_opt_elem(b, "Content-MD5", bl->content_md5);
    st_opt_elem(b, "Content-Disposition", bl->content_disposition);
    st_opt_elem(b, "Cache-Control", bl->cache_control);
    ck_buf_puts(b, "<BlobType>BlockBlob</BlobType><AccessTier>Hot</AccessTier><AccessTierInferred>true</AccessTierInferred>"
                   "<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>"
                   "<ServerEncrypted>true</ServerEncrypted></Properties>");
    if (with_meta && st_meta_xml(c, b, st_meta_aad(c, c->container, bl->name), bl->meta, bl->meta_len) != CK_OK)
        return CK_E_CRYPTO;
    return ck_buf_puts(b, "</Blob>");
}

static void st_list_blobs_op(struct st_call *c, struct ck_resp *resp)
{
    const char *prefix = ck_req_query(c->req, "prefix");
    const char *delim = ck_req_query(c->req, "delimiter");
    const char *include = ck_req_query(c->req, "include");
    int with_meta = include != NULL && st_include_has(include, "metadata");
    const char *after;
    struct st_container ct;
    int max, shown = 0;
    struct ck_buf b;
    const char *next = NULL;
    if (st_maxresults(c, resp, &max) != 0 || st_marker(c, resp, &after) != 0 || st_load_container(c, resp, &ct) != 0)
        return;
    if (prefix == NULL)
        prefix = "";
    if (delim != NULL && delim[0] == '\0')
        delim = NULL;
    ck_buf_init(&b, 256u * 1024 * 1024);
    ck_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ServiceEndpoint=\"");
    st_xml_put(&b, ck_req_origin(c->req));
    ck_buf_printf(&b, "/%s/\" ContainerName=\"", c->account);
    st_xml_put(&b, c->container);
    ck_buf_puts(&b, "\">");
    if (prefix[0] != '\0')
        st_opt_elem(&b, "Prefix", prefix);
    if (ck_req_query(c->req, "marker") != NULL)
        st_opt_elem(&b, "Marker", ck_req_query(c->req, "marker"));
    if (ck_req_query(c->req, "maxresults") != NULL)
        ck_buf_printf(&b, "<MaxResults>%d</MaxResults>", max);
    if (delim != NULL)
        st_opt_elem(&b, "Delimiter", delim);
    ck_buf_puts(&b, "<Blobs>");
    /* Walk the index in name order; a name with the delimiter after the prefix rolls up into a
     * BlobPrefix, and the walk then skips past every name under that prefix. */
    char *cursor = ck_arena_strdup(c->a, after);
    const char *last = NULL;
    for (;;) {
        struct st_blob *bl = NULL;
        size_t n = 0;
        if (st_blob_list(c->st, c->a, c->account, c->container, prefix, cursor, 256, &bl, &n) != CK_OK) {
            ck_buf_cleanup(&b);
            st_fail(c, resp, 500, "InternalError", "The blobs could not be listed.");
            return;
        }
        size_t i = 0;
        for (; i < n; i++) {
            if (shown == max) {
                next = last;
                break;
            }
            const char *rest = bl[i].name + strlen(prefix);
            const char *d = delim ? strstr(rest, delim) : NULL;
            if (d != NULL) {
                size_t plen = (size_t)(d - bl[i].name) + strlen(delim);
                char *p = ck_arena_strndup(c->a, bl[i].name, plen);
                ck_buf_puts(&b, "<BlobPrefix><Name>");
                st_xml_put(&b, p);
                ck_buf_puts(&b, "</Name></BlobPrefix>");
                /* 0xFF never occurs in UTF-8: the cursor lands after every name under p. */
                last = cursor = ck_arena_printf(c->a, "%s\xff", p);
                shown++;
                break;
            }
            if (st_blob_xml(c, &b, &bl[i], with_meta) != CK_OK) {
                ck_buf_cleanup(&b);
                st_fail(c, resp, 500, "InternalError", "The stored metadata of blob %s is corrupt.", bl[i].name);
                return;
            }
            last = cursor = bl[i].name;
            shown++;
        }
        if (next != NULL || (i == n && n < 256))
            break;
    }
    ck_buf_puts(&b, "</Blobs>");
    if (next != NULL)
        ck_buf_printf(&b, "<NextMarker>%s</NextMarker>", st_marker_encode(c, next));
    else
        ck_buf_puts(&b, "<NextMarker/>");
    ck_buf_puts(&b, "</EnumerationResults>");
    st_send_xml(c, resp, &b);
    ck_buf_cleanup(&b);
}

static void st_account_info_op(struct st_call *c, struct ck_resp *resp)
{
    ck_resp_status(resp, 200);
    st_common_headers(c, resp);
    ck_resp_header(resp, "x-ms-sku-name", "Standard_LRS");
    ck_resp_header(resp, "x-ms-account-kind", "StorageV2");
    ck_resp_header(resp, "x-ms-is-hns-enabled", "false");
}

static void st_service_props_op(struct st_call *c, struct ck_resp *resp)
{
    static const char xml[] =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><StorageServiceProperties><Logging><Version>1.0</Version>"
        "<Read>false</Read><Write>false</Write><Delete>false</Delete><RetentionPolicy><Enabled>false</Enabled>"
        "</RetentionPolicy></Logging><HourMetrics><Version>1.0</Version><Enabled>false</Enabled><RetentionPolicy>"
        "<Enabled>false</Enabled></RetentionPolicy></HourMetrics><MinuteMetrics><Version>1.0</Version>"
        "<Enabled>false</Enabled><RetentionPolicy><Enabled>false</Enabled></RetentionPolicy></MinuteMetrics>"
        "<Cors /><DeleteRetentionPolicy><Enabled>false</Enabled></DeleteRetentionPolicy></StorageServiceProperties>";
    ck_resp_status(resp, 200);
    st_common_headers(c, resp);
    ck_resp_body(resp, "application/xml", xml, sizeof(xml) - 1);
}

void st_blob_handle(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    struct st_call *c = ck_req_data(req);
    if (c == NULL) {
        st_blob_error(ctx, req, resp, 500, "InternalError", "The request was not prepared.");
        return;
    }
    switch (c->op) {
    case ST_OP_LIST_CONTAINERS: st_list_containers_op(c, resp); break;
    case ST_OP_ACCOUNT_INFO: st_account_info_op(c, resp); break;
    case ST_OP_SERVICE_PROPS: st_service_props_op(c, resp); break;
    case ST_OP_CONTAINER_CREATE: st_container_create_op(c, resp); break;
    case ST_OP_CONTAINER_PROPS: st_container_props_op(c, resp); break;
    case ST_OP_CONTAINER_DELETE: st_container_delete_op(c, resp); break;
    case ST_OP_CONTAINER_SET_META: st_container_set_meta_op(c, resp); break;
    case ST_OP_LIST_BLOBS: st_list_blobs_op(c, resp); break;
    default: st_blob_op(c, resp); break;
    }
}
