/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Blob data plane for `crosskey storage container|blob`. It finds the account's blob endpoint
 * (primaryEndpoints.blob, through ARM) and authenticates as az does: Shared Key with key1 from
 * listKeys (--auth-mode key, the default) or with --account-key, or a bearer token for
 * https://storage.azure.com as the signed-in principal (--auth-mode login). Shared Key requests are
 * signed on the client side of reference/wire-blob.md A.3: the standard header slots, the x-ms-*
 * headers in the order of storage-common's SharedKeyComparator (the order crosskeyd and the SDK
 * use; its weight tables are copied below), then "/" + account + the URL path as sent and the
 * decoded query parameters. Requests go over ck_httpc; the service's XML (listings, errors) is read
 * with a few element scanners, and its errors are printed with the Blob error code, its message and,
 * for the codes whose cause is known (the customer's key revoked, a missing data role, a wrong
 * account key), what it means and how to fix it. Also the progress bar of uploads and downloads.
 */
#include "cli/cli_int.h"
#include "crypto/crypto.h"
#include "core/skorder.h"
#include "core/codec.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CLI_BLOB_SCOPE "https://storage.azure.com/.default"
#define CLI_API_ST "2025-08-01"
/* Caps on what the client builds and reads. */
#define CLI_BLOB_STS_MAX (64u << 10)
#define CLI_BLOB_DEFAULT_LIMIT (1u << 20)
#define CLI_BLOB_TIMEOUT_MS 120000L


/* ---- requests ---- */

void cli_blob_query(struct cli_blob_req *r, const char *name, const char *value)
{
    if (value == NULL || value[0] == '\0' || r->nquery >= CLI_BLOB_MAX_QUERY)
        return;
    r->query[r->nquery].name = name;
    r->query[r->nquery].value = value;
    r->nquery++;
}

int cli_blob_header(struct cli_blob_req *r, const char *name, const char *value)
{
    if (r->nheaders >= CLI_BLOB_MAX_HEADERS)
        return -1;
    r->headers[r->nheaders].name = name;
    r->headers[r->nheaders].value = value;
    r->nheaders++;
    return 0;
}

static const char *cli_blob_hdr(const struct cli_blob_req *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    }
    return NULL;
}

/* Percent-encodes a blob name segment by segment, keeping its '/' separators. */
static const char *cli_blob_enc_path(struct cli_ctx *ctx, const char *name)
{
    const char *out = "";
    const char *p = name;
    for (;;) {
        size_t n = strcspn(p, "/");
        char *seg = cli_fmt(ctx, "%.*s", (int)n, p);
        out = cli_fmt(ctx, "%s%s", out, cli_enc(ctx, seg));
        if (p[n] == '\0')
            break;
        out = cli_fmt(ctx, "%s/", out);
        p += n + 1;
    }
    return out;
}

/* The lower-case x-ms-* headers, sorted as the SDK sorts them; returns how many. */
static int cli_blob_xms(struct cli_ctx *ctx, const struct cli_blob_req *r, const char **names, const char **vals)
{
    int n = 0;
    for (int i = 0; i < r->nheaders; i++) {
        if (strncasecmp(r->headers[i].name, "x-ms-", 5) != 0)
            continue;
        char *lower = cli_fmt(ctx, "%s", r->headers[i].name);
        for (char *c = lower; *c; c++)
            *c = (char)((*c >= 'A' && *c <= 'Z') ? *c - 'A' + 'a' : *c);
        const char *v = r->headers[i].value;
        while (*v == ' ' || *v == '\t')
            v++;
        int j = n;
        while (j > 0 && ck_sharedkey_less(lower, names[j - 1])) {
            names[j] = names[j - 1];
            vals[j] = vals[j - 1];
            j--;
        }
        names[j] = lower;
        vals[j] = v;
        n++;
    }
    return n;
}

/* The Shared Key string-to-sign of a request (wire-blob.md A.3), in the arena. */
static char *cli_blob_sts(struct cli_ctx *ctx, const struct cli_blob *b, const struct cli_blob_req *r, const char *path)
{
    static const char *const slots[] = {"If-Modified-Since", "If-Match", "If-None-Match", "If-Unmodified-Since"};
    const char *names[CLI_BLOB_MAX_HEADERS], *vals[CLI_BLOB_MAX_HEADERS];
    const char *ct = cli_blob_hdr(r, "Content-Type");
    struct ck_buf s;
    char *out = NULL;
    int rc;

    ck_buf_init(&s, CLI_BLOB_STS_MAX);
    rc = ck_buf_printf(&s, "%s\n\n\n%s\n\n%s\n\n", r->method, r->body_len > 0 ? cli_fmt(ctx, "%zu", r->body_len) : "",
                       ct != NULL ? ct : "");
    for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]) && rc == CK_OK; i++) {
        const char *v = cli_blob_hdr(r, slots[i]);
        rc = ck_buf_printf(&s, "%s\n", v != NULL ? v : "");
    }
    if (rc == CK_OK)
        rc = ck_buf_puts(&s, "\n"); /* Range: the client sends x-ms-range instead */
    int n = cli_blob_xms(ctx, r, names, vals);
    for (int i = 0; i < n && rc == CK_OK; i++) {
        if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
            continue;
        rc = ck_buf_printf(&s, "%s:%s\n", names[i], vals[i]);
    }
    if (rc == CK_OK)
        rc = ck_buf_printf(&s, "/%s%s", b->account, path);
    /* Query parameters by name (all lower case here, never repeated), with their decoded values. */
    int order[CLI_BLOB_MAX_QUERY];
    for (int i = 0; i < r->nquery; i++) {
        int j = i;
        while (j > 0 && strcmp(r->query[i].name, r->query[order[j - 1]].name) < 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    for (int i = 0; i < r->nquery && rc == CK_OK; i++)
        rc = ck_buf_printf(&s, "\n%s:%s", r->query[order[i]].name, r->query[order[i]].value);
    if (rc == CK_OK)
        out = cli_fmt(ctx, "%s", s.data != NULL ? s.data : "");
    else
        cli_err("the request is too large to sign");
    ck_buf_cleanup(&s);
    return out;
}

int cli_blob_do(struct cli_ctx *ctx, const struct cli_blob *b, const struct cli_blob_req *r, struct ck_httpc_resp *resp)
{
    struct ck_httpc_req req;
    char date[64], reqid[37];
    const char *path, *url;
    int h = 0, rc;

    memset(&req, 0, sizeof(req));
    memset(resp, 0, sizeof(*resp));
    path = b->base_path;
    if (r->container == NULL)
        path = cli_fmt(ctx, "%s/", path);
    else if (r->blob == NULL)
        path = cli_fmt(ctx, "%s/%s", path, cli_enc(ctx, r->container));
    else
        path = cli_fmt(ctx, "%s/%s/%s", path, cli_enc(ctx, r->container), cli_blob_enc_path(ctx, r->blob));
    url = cli_fmt(ctx, "%s%s", b->origin, path);
    for (int i = 0; i < r->nquery; i++)
        url = cli_fmt(ctx, "%s%c%s=%s", url, i == 0 ? '?' : '&', r->query[i].name, cli_enc(ctx, r->query[i].value));

    /* Headers this function adds: the date, the version, a request id, the content type slot. */
    struct cli_blob_req all = *r;
    ck_time_rfc1123(ck_time_now(), date, sizeof(date));
    if (ck_uuid_new(reqid) != 0)
        snprintf(reqid, sizeof(reqid), "00000000-0000-0000-0000-000000000000");
    if (cli_blob_header(&all, "x-ms-date", date) != 0 || cli_blob_header(&all, "x-ms-version", CLI_BLOB_VERSION) != 0 ||
        cli_blob_header(&all, "x-ms-client-request-id", reqid) != 0) {
        cli_err("too many request headers");
        return CLI_EXIT_USAGE;
    }
    for (int i = 0; i < all.nheaders; i++)
        req.headers[h++] = cli_fmt(ctx, "%s: %s", all.headers[i].name, all.headers[i].value);
    /* curl would add a form content type to any request with a body; none is sent unless given. */
    if (cli_blob_hdr(&all, "Content-Type") == NULL)
        req.headers[h++] = "Content-Type:";
    if (b->login) {
        req.headers[h++] = cli_fmt(ctx, "Authorization: Bearer %s", b->token);
    } else {
        uint8_t mac[CLI_SHA256_LEN];
        char *sts = cli_blob_sts(ctx, b, &all, path);
        if (sts == NULL)
            return CLI_EXIT_ERR;
        if (ck_hmac_sha256(b->key, b->key_len, sts, strlen(sts), mac) != CK_OK) {
            cli_err("the request could not be signed");
            return CLI_EXIT_ERR;
        }
        char *sig = ck_b64_encode(mac, sizeof(mac));
        ck_wipe(mac, sizeof(mac));
        if (sig == NULL) {
            cli_err("out of memory");
            return CLI_EXIT_ERR;
        }
        req.headers[h++] = cli_fmt(ctx, "Authorization: SharedKey %s:%s", b->account, sig);
        ck_free(sig);
    }
    req.headers[h] = NULL;
    req.method = r->method;
    req.url = url;
    req.ca_file = b->ca_file;
    req.body = r->body;
    req.body_len = r->body_len;
    req.timeout_ms = CLI_BLOB_TIMEOUT_MS;
    req.limit = r->limit ? r->limit : CLI_BLOB_DEFAULT_LIMIT;
    cli_debug(ctx, "Request: %s %s (x-ms-client-request-id %s)", r->method, cli_fmt(ctx, "%s%s", b->origin, path), reqid);
    rc = ck_httpc_do(&req, resp);
    if (rc != CK_OK) {
        if (rc == CK_E_TIMEOUT)
            cli_err("the request to %s%s timed out", b->origin, path);
        else if (rc == CK_E_TOO_LARGE)
            cli_err("the response from %s%s is larger than expected", b->origin, path);
        else
            cli_err("cannot connect to the blob endpoint %s (connection or TLS failure); is crosskeyd running?", b->origin);
        ck_httpc_resp_cleanup(resp);
        memset(resp, 0, sizeof(*resp));
        return CLI_EXIT_ERR;
    }
    cli_debug(ctx, "Response status: %ld", resp->status);
    return CLI_EXIT_OK;
}

/* ---- the account: endpoint and credential ---- */

int cli_blob_open(struct cli_ctx *ctx, struct cli_blob *b)
{
    const char *name = cli_arg(ctx, "account-name"), *mode = cli_arg(ctx, "auth-mode");
    const char *given_key = cli_arg(ctx, "account-key");
    json_t *acct = NULL, *keys = NULL;
    int rc;

    static const char *const modes[] = {"key", "login"}; /* az's --auth-mode choices */

    memset(b, 0, sizeof(*b));
    b->account = name;
    if (mode != NULL && strcmp(mode, modes[0]) != 0 && strcmp(mode, modes[1]) != 0) {
        cli_err("argument --auth-mode: invalid choice: '%s' (choose from 'key', 'login')", mode);
        return CLI_EXIT_USAGE;
    }
    b->login = mode != NULL && strcmp(mode, modes[1]) == 0;
    if (b->login && given_key != NULL) {
        cli_err("--account-key and --auth-mode login cannot be used together");
        return CLI_EXIT_USAGE;
    }
    rc = cli_storage_account_get(ctx, name, NULL, &acct);
    if (rc != CLI_EXIT_OK)
        goto out;
    b->ca_file = cli_account_endpoints(ctx)->ca_file;
    b->id = ck_json_str(acct, "id") != NULL ? cli_fmt(ctx, "%s", ck_json_str(acct, "id")) : "<the account's id>";
    const char *ep = ck_json_str(ck_json_obj(ck_json_obj(acct, "properties"), "primaryEndpoints"), "blob");
    if (ep == NULL || strncmp(ep, "https://", 8) != 0) {
        cli_err("storage account '%s' has no blob endpoint (properties.primaryEndpoints.blob)", name);
        rc = CLI_EXIT_ERR;
        goto out;
    }
    /* https://host:port/path/ -> origin "https://host:port", base path "/path" without the slash. */
    const char *slash = strchr(ep + 8, '/');
    size_t olen = slash != NULL ? (size_t)(slash - ep) : strlen(ep);
    b->origin = cli_fmt(ctx, "%.*s", (int)olen, ep);
    const char *bp = slash != NULL ? slash : "";
    size_t bl = strlen(bp);
    while (bl > 0 && bp[bl - 1] == '/')
        bl--;
    b->base_path = cli_fmt(ctx, "%.*s", (int)bl, bp);

    if (b->login) {
        rc = cli_token(ctx, CLI_BLOB_SCOPE, 0, &b->token);
        goto out;
    }
    const char *k = given_key;
    if (k == NULL) {
        /* As az does without credentials: key1 from listKeys. */
        rc = cli_call_ok(ctx, CLI_API_ARM, "POST",
                         cli_fmt(ctx, "%s/listKeys?api-version=" CLI_API_ST, ck_json_str(acct, "id")), NULL, &keys);
        if (rc != CLI_EXIT_OK) {
            cli_err("cannot read the keys of storage account '%s' (listKeys); use --auth-mode login with a Storage "
                    "Blob Data role, or --account-key",
                    name);
            goto out;
        }
        k = ck_json_str(json_array_get(ck_json_arr(keys, "keys"), 0), "value");
        if (k == NULL) {
            cli_err("listKeys of storage account '%s' answered without key1", name);
            rc = CLI_EXIT_ERR;
            goto out;
        }
    }
    uint8_t *raw = NULL;
    size_t rl = 0;
    if (ck_b64_decode(k, strlen(k), &raw, &rl) != 0 || rl == 0) {
        cli_err("argument --account-key: not a base64 account key");
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    uint8_t *copy = ck_arena_alloc(ctx->arena, rl);
    if (copy != NULL)
        memcpy(copy, raw, rl);
    ck_freezero(raw, rl);
    if (copy == NULL) {
        cli_err("out of memory");
        rc = CLI_EXIT_ERR;
        goto out;
    }
    b->key = copy;
    b->key_len = rl;
    rc = CLI_EXIT_OK;
out:
    cli_json_wipe(keys);
    json_decref(keys);
    json_decref(acct);
    return rc;
}

/* ---- XML ---- */

/* Returns the position just after "<tag" when it starts an element of that exact name. */
static const char *cli_xml_open(const char *p, const char *end, const char *tag)
{
    size_t tl = strlen(tag);
    for (; p + tl + 1 < end; p++) {
        if (p[0] != '<' || strncmp(p + 1, tag, tl) != 0)
            continue;
        char c = p[1 + tl];
        if (c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\r' || c == '\n')
            return p + 1 + tl;
    }
    return NULL;
}

int cli_xml_elem(const char **p, const char *end, const char *tag, const char **in, size_t *inlen)
{
    const char *o = cli_xml_open(*p, end, tag);
    if (o == NULL)
        return 0;
    const char *gt = memchr(o, '>', (size_t)(end - o));
    if (gt == NULL)
        return 0;
    if (gt[-1] == '/') { /* <tag/> */
        *in = gt + 1;
        *inlen = 0;
        *p = gt + 1;
        return 1;
    }
    const char *start = gt + 1;
    size_t tl = strlen(tag);
    for (const char *q = start; q + tl + 3 <= end; q++) {
        if (q[0] == '<' && q[1] == '/' && strncmp(q + 2, tag, tl) == 0 && q[2 + tl] == '>') {
            *in = start;
            *inlen = (size_t)(q - start);
            *p = q + 3 + tl;
            return 1;
        }
    }
    return 0;
}

int cli_xml_child(const char **p, const char *end, const char **name, size_t *nlen, const char **in, size_t *inlen)
{
    const char *q = *p;
    while (q < end && *q != '<')
        q++;
    if (q + 1 >= end || q[1] == '/')
        return 0;
    const char *n = q + 1;
    size_t l = strcspn(n, " \t\r\n/>");
    if (n + l >= end)
        return 0;
    char tag[128];
    if (l == 0 || l >= sizeof(tag))
        return 0;
    memcpy(tag, n, l);
    tag[l] = '\0';
    if (!cli_xml_elem(&q, end, tag, in, inlen))
        return 0;
    *name = n;
    *nlen = l;
    *p = q;
    return 1;
}

/* Appends one code point as UTF-8. */
static int cli_utf8_put(struct ck_buf *b, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else if (cp < 0x110000) {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    } else {
        return CK_E_INVALID;
    }
    return ck_buf_append(b, u, n);
}

json_t *cli_xml_string(const char *s, size_t n)
{
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}};
    struct ck_buf b;
    json_t *v = NULL;
    int rc = CK_OK;

    ck_buf_init(&b, n + 1);
    for (size_t i = 0; i < n && rc == CK_OK;) {
        if (s[i] != '&') {
            rc = ck_buf_append(&b, s + i, 1);
            i++;
            continue;
        }
        int done = 0;
        for (size_t e = 0; e < sizeof(ents) / sizeof(ents[0]) && !done; e++) {
            size_t el = strlen(ents[e].ent);
            if (i + el <= n && strncmp(s + i, ents[e].ent, el) == 0) {
                rc = ck_buf_append(&b, &ents[e].c, 1);
                i += el;
                done = 1;
            }
        }
        if (!done && i + 3 < n && s[i + 1] == '#') {
            char *endp = NULL;
            int hex = s[i + 2] == 'x' || s[i + 2] == 'X';
            unsigned long cp = strtoul(s + i + (hex ? 3 : 2), &endp, hex ? 16 : 10);
            if (endp != NULL && endp < s + n && *endp == ';') {
                rc = cli_utf8_put(&b, cp);
                i = (size_t)(endp - s) + 1;
                done = 1;
            }
        }
        if (!done) {
            rc = ck_buf_append(&b, s + i, 1);
            i++;
        }
    }
    if (rc == CK_OK)
        v = json_stringn(b.data != NULL ? b.data : "", b.len);
    ck_buf_cleanup(&b);
    return v;
}

json_t *cli_xml_get(const char *s, size_t n, const char *tag)
{
    const char *p = s, *in;
    size_t inlen;
    if (!cli_xml_elem(&p, s + n, tag, &in, &inlen))
        return NULL;
    return cli_xml_string(in, inlen);
}

/* "Sun, 23 Nov 2025 15:02:00 GMT" -> "2025-11-23T15:02:00+00:00" (az's form); other text as is. */
json_t *cli_blob_time(const char *http_date)
{
    static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int d, y, h, mi, s;
    char mon[4];
    if (http_date == NULL)
        return json_null();
    const char *p = strchr(http_date, ',');
    p = p != NULL ? p + 1 : http_date;
    if (sscanf(p, " %2d %3s %4d %2d:%2d:%2d", &d, mon, &y, &h, &mi, &s) == 6) {
        for (int m = 0; m < 12; m++) {
            if (strcmp(mon, months[m]) == 0) {
                char out[40];
                snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02d+00:00", y, m + 1, d, h, mi, s);
                return json_string(out);
            }
        }
    }
    return json_string(http_date);
}

/* ---- errors ---- */

/* The object id (oid claim) of the principal a token was issued to, for hints; a placeholder when
 * it cannot be read. The token itself is never printed. */
static const char *cli_blob_token_oid(struct cli_ctx *ctx, const char *tok)
{
    const char *dot1 = tok != NULL ? strchr(tok, '.') : NULL;
    const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    const char *oid = "<the principal's object id>";
    uint8_t *raw = NULL;
    size_t rl = 0;
    char why[80];
    if (dot2 == NULL || ck_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &raw, &rl) != 0)
        return oid;
    json_t *claims = ck_json_parse((const char *)raw, rl, why, sizeof(why));
    if (ck_json_str(claims, "oid") != NULL)
        oid = cli_fmt(ctx, "%s", ck_json_str(claims, "oid"));
    cli_json_wipe(claims);
    json_decref(claims);
    ck_freezero(raw, rl);
    return oid;
}

/* Default messages for errors that arrive without a body (HEAD). */
static const char *cli_blob_default_message(const char *code, long status)
{
    static const struct {
        const char *code, *msg;
    } m[] = {
        {"BlobNotFound", "The specified blob does not exist."},
        {"ContainerNotFound", "The specified container does not exist."},
        {"ResourceNotFound", "The specified resource does not exist."},
        {"AuthenticationFailed", "Server failed to authenticate the request."},
        {"AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission."},
        {"KeyVaultEncryptionKeyNotFound", "The key vault key is not found to unwrap the encryption key."},
        {"KeyVaultVaultNotFound", "The key vault cannot be found."},
        {"KeyVaultAccessTokenCannotBeAcquired", "The access token to the key vault could not be acquired."},
    };
    for (size_t i = 0; code != NULL && i < sizeof(m) / sizeof(m[0]); i++) {
        if (strcmp(m[i].code, code) == 0)
            return m[i].msg;
    }
    return status == 404 ? "The specified resource does not exist." : "The request was refused.";
}

int cli_blob_fail(struct cli_ctx *ctx, const struct cli_blob *b, const struct ck_httpc_resp *resp, const char *container)
{
    char *hcode = ck_httpc_resp_header(resp, "x-ms-error-code");
    json_t *xcode = NULL, *xmsg = NULL;
    const char *code, *msg;
    int rc = resp->status == 404 ? CLI_EXIT_NOTFOUND : CLI_EXIT_ERR;

    if (resp->body.len > 0) {
        xcode = cli_xml_get(resp->body.data, resp->body.len, "Code");
        xmsg = cli_xml_get(resp->body.data, resp->body.len, "Message");
    }
    code = hcode != NULL ? hcode : json_string_value(xcode);
    msg = json_string_value(xmsg);
    if (msg == NULL)
        msg = cli_blob_default_message(code, resp->status);
    /* The service's message ends with RequestId and Time lines; the first line says it. */
    size_t ml = strcspn(msg, "\r\n");
    const char *acct = b->account;
    if (code == NULL)
        code = cli_fmt(ctx, "HTTP %ld", resp->status);

    if (strcmp(code, "KeyVaultEncryptionKeyNotFound") == 0) {
        cli_err("(%s) the customer's key is disabled or access to it was revoked: %.*s", code, (int)ml, msg);
        fprintf(stderr,
                "Storage account '%s' is encrypted with a customer-managed key, and the customer's vault no longer "
                "lets storage use it (the key is disabled, deleted or expired). The data is intact: it becomes "
                "readable again by itself once the customer enables the key. The account's key state: crosskey "
                "storage account show -n %s --query keyState\n",
                acct, acct);
    } else if (strcmp(code, "KeyVaultAccessTokenCannotBeAcquired") == 0) {
        cli_err("(%s) storage cannot get a token for the customer's key vault: %.*s", code, (int)ml, msg);
        fprintf(stderr,
                "The chain from storage account '%s' to the customer's vault is broken: the user-assigned identity, "
                "the multi-tenant app's federated credential, its service principal in the customer's tenant, or "
                "its role on the vault (Key Vault Crypto Service Encryption User) is missing. The data is intact "
                "and becomes readable again once the link is restored. Which link failed: crosskey storage account "
                "show -n %s --query keyState\n",
                acct, acct);
    } else if (strcmp(code, "KeyVaultVaultNotFound") == 0) {
        cli_err("(%s) the customer's key vault cannot be found or reached: %.*s", code, (int)ml, msg);
        fprintf(stderr,
                "Storage account '%s' cannot reach the vault that holds its customer-managed key. The data is "
                "intact and becomes readable again once the vault answers. Details: crosskey storage account show "
                "-n %s --query keyState\n",
                acct, acct);
    } else if (strcmp(code, "AuthenticationFailed") == 0 && !b->login) {
        cli_err("(%s) the account key was refused: %.*s", code, (int)ml, msg);
        fprintf(stderr,
                "The Shared Key signature does not match a key of storage account '%s': the key is wrong or was "
                "regenerated. Leave out --account-key to use key1 from 'crosskey storage account keys list -n %s', "
                "or use --auth-mode login.\n",
                acct, acct);
    } else if (strcmp(code, "AuthenticationFailed") == 0 || strcmp(code, "InvalidAuthenticationInfo") == 0) {
        cli_err("(%s) the access token was refused: %.*s", code, (int)ml, msg);
        fprintf(stderr, "Sign in again ('crosskey login') and retry.\n");
    } else if (strcmp(code, "AuthorizationPermissionMismatch") == 0 || strcmp(code, "AuthorizationFailure") == 0) {
        cli_err("(%s) %.*s", code, (int)ml, msg);
        if (b->login)
            fprintf(stderr,
                    "The signed-in principal has no data role on storage account '%s' that allows this. Give it one "
                    "(as an owner of the account): crosskey role assignment create --role \"Storage Blob Data "
                    "Contributor\" --scope %s --assignee-object-id %s; or use --auth-mode key.\n",
                    acct, b->id, cli_blob_token_oid(ctx, b->token));
    } else if (strcmp(code, "ContainerNotFound") == 0) {
        cli_err("(%s) %.*s", code, (int)ml, msg);
        if (container != NULL)
            fprintf(stderr, "Create it first: crosskey storage container create -n %s --account-name %s\n", container,
                    acct);
    } else if (strcmp(code, "BlobAlreadyExists") == 0) {
        cli_err("(%s) %.*s", code, (int)ml, msg);
        fprintf(stderr, "Pass --overwrite to replace it.\n");
    } else {
        cli_err("(%s) %.*s", code, (int)ml, msg);
    }
    ck_free(hcode);
    json_decref(xcode);
    json_decref(xmsg);
    return rc;
}

/* ---- progress ---- */

void cli_progress_start(struct cli_ctx *ctx, struct cli_progress *p, const char *what, uint64_t total)
{
    memset(p, 0, sizeof(*p));
    p->tty = isatty(STDERR_FILENO);
    p->on = total > CLI_PROGRESS_MIN && !cli_has(ctx, "no-progress") && (p->tty || cli_has(ctx, "progress"));
    p->what = what;
    p->total = total;
    p->last = -1;
    cli_progress_step(p, 0);
}

void cli_progress_step(struct cli_progress *p, uint64_t done)
{
    const int width = 30;
    if (!p->on)
        return;
    p->done = done;
    int pct = p->total > 0 ? (int)(done * 100 / p->total) : 100;
    if (pct == p->last)
        return;
    p->last = pct;
    int fill = pct * width / 100;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "%s%s [%s] %3d%%  %.1f/%.1f MiB%s", p->tty ? "\r" : "", p->what, bar, pct,
            (double)done / (1 << 20), (double)p->total / (1 << 20), p->tty ? "" : "\n");
    fflush(stderr);
}

void cli_progress_end(struct cli_progress *p)
{
    if (p->on && p->tty)
        fputc('\n', stderr);
    p->on = 0;
}
