/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests of `crosskey` over ck_httpc: the operator credential read from DIR/secrets/operator.key,
 * client-credentials token requests, bearer calls to ARM and Graph (one retry with a fresh token
 * after a 401), ARM long-running operations that answer 202 with a Location, list paging through
 * nextLink, and the translation of ARM, Graph and token error bodies into az's
 * "ERROR: (code) message" lines. --debug shows method, URL without its query, and status; never a
 * header, token or body.
 */
#include "cli/cli_int.h"
#include "core/codec.h"
#include "core/fsutil.h"
#include "http/client/httpc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define CLI_SCOPE_ARM "https://management.azure.com/.default"
#define CLI_SCOPE_GRAPH "https://graph.microsoft.com/.default"
/* Bounds on polling a long-running ARM operation. */
#define CLI_LRO_MAX_POLLS 120
/* Bounds on following list pages. */
#define CLI_MAX_PAGES 100

char *cli_fmt(struct cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    s = n >= 0 ? ck_arena_alloc(ctx->arena, (size_t)n + 1) : NULL;
    if (s == NULL) {
        cli_err("out of memory");
        exit(CLI_EXIT_ERR);
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

const char *cli_enc(struct cli_ctx *ctx, const char *s)
{
    char *e = ck_url_encode(s);
    char *r;
    if (e == NULL) {
        cli_err("out of memory");
        exit(CLI_EXIT_ERR);
    }
    r = cli_fmt(ctx, "%s", e);
    ck_free(e);
    return r;
}

int cli_operator_open(struct cli_ctx *ctx)
{
    char *path, *key = NULL;
    size_t len = 0;
    int rc;

    if (ctx->op_key != NULL)
        return CLI_EXIT_OK;
    if (ctx->data_dir == NULL) {
        cli_err("operator commands need --data DIR, the data directory of crosskeyd");
        return CLI_EXIT_USAGE;
    }
    rc = cli_endpoints_from_data(ctx, ctx->data_dir, &ctx->op_ep);
    if (rc != CLI_EXIT_OK)
        return rc;
    path = cli_fmt(ctx, "%s/secrets/operator.key", ctx->data_dir);
    if (ck_read_file(path, 4096, &key, &len) != 0) {
        if (errno == EACCES || errno == EPERM)
            cli_err("cannot read the operator credential %s: permission denied. Operator commands must run as "
                    "the user that runs crosskeyd (usually root).",
                    path);
        else if (errno == ENOENT)
            cli_err("the operator credential %s does not exist: is %s the data directory of crosskeyd?", path,
                    ctx->data_dir);
        else
            cli_err("cannot read the operator credential %s: %s", path, strerror(errno));
        return CLI_EXIT_ERR;
    }
    while (len > 0 && (key[len - 1] == '\n' || key[len - 1] == '\r' || key[len - 1] == ' '))
        key[--len] = '\0';
    ctx->op_key = ck_arena_strndup(ctx->arena, key, len);
    ck_freezero(key, len + 1);
    if (ctx->op_key == NULL || len == 0) {
        cli_err("the operator credential %s is empty", path);
        ctx->op_key = NULL;
        return CLI_EXIT_ERR;
    }
    return CLI_EXIT_OK;
}

/* Prints the URL without its query string. */
static void cli_debug_url(const struct cli_ctx *ctx, const char *method, const char *url)
{
    size_t n = strcspn(url, "?");
    cli_debug(ctx, "Request: %s %.*s", method, (int)n, url);
}

static const char *cli_status_text(long status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 409:
        return "Conflict";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

/*
 * What fixes a broken link of the customer-managed-key chain that storage names in an ARM error's
 * details (target; docs/cmk.md), in the words of the procedure (seed-flow.md section 2), or NULL.
 */
static const char *cli_link_fix(const char *target)
{
    static const struct {
        const char *target, *fix;
    } fixes[] = {
        {"identity", "check the user-assigned identity: it must exist, be attached to the account (--user-identity-id) "
                     "and be the one named by --key-vault-user-identity-id"},
        {"vault", "check the vault URI (--encryption-key-vault): the customer's vault must exist and be reachable "
                  "(crosskey keyvault show -n <vault> --query properties.vaultUri)"},
        {"federatedCredential", "check the app's federated credential: issuer "
                                "https://login.microsoftonline.com/<ISV tenant id>/v2.0, subject = the identity's "
                                "principalId, audience api://AzureADTokenExchange (crosskey ad app "
                                "federated-credential list --id <app object id>)"},
        {"servicePrincipal", "the customer must create the app's service principal: crosskey ad sp create --id <appId>"},
        {"role", "the customer must grant Key Vault Crypto Service Encryption User on the vault to the app's service "
                 "principal (crosskey role assignment create --role \"Key Vault Crypto Service Encryption User\" "
                 "--scope <vault id> --assignee-object-id <service principal object id>)"},
        {"key", "check the key name and version (--encryption-key-name, --encryption-key-version): the key must exist, "
                "be enabled, be RSA 2048/3072/4096 and allow wrapKey and unwrapKey"},
        {"vaultPolicy", "enable purge protection on the vault (crosskey keyvault update -n <vault> "
                        "--enable-purge-protection true)"},
    };
    for (size_t i = 0; target != NULL && i < sizeof(fixes) / sizeof(fixes[0]); i++) {
        if (strcmp(fixes[i].target, target) == 0)
            return fixes[i].fix;
    }
    return NULL;
}

int cli_resp_error(const struct cli_resp *resp)
{
    const json_t *b = resp->body;
    const json_t *e = ck_json_obj(b, "error");
    int rc = resp->status == 404 ? CLI_EXIT_NOTFOUND : CLI_EXIT_ERR;

    if (e != NULL) {
        const char *code = ck_json_str(e, "code"), *msg = ck_json_str(e, "message");
        const char *inner = ck_json_str(ck_json_obj(e, "innererror"), "code");
        fprintf(stderr, "ERROR: (%s) %s\n", code ? code : cli_status_text(resp->status), msg ? msg : "");
        /*
         * ARM's envelope may name the failing part in details (a customer-managed key refused by
         * storage: which link of the chain, the upstream code); az prints them as azure-core does.
         */
        const json_t *details = json_object_get(e, "details");
        if (json_is_array(details) && json_array_size(details) > 0) {
            fputs("Exception Details:", stderr);
            for (size_t i = 0; i < json_array_size(details); i++) {
                const json_t *d = json_array_get(details, i);
                const char *dc = ck_json_str(d, "code"), *dm = ck_json_str(d, "message"), *dt = ck_json_str(d, "target");
                if (!json_is_object(d))
                    continue;
                fprintf(stderr, "\t(%s) %s\n\tCode: %s\n\tMessage: %s\n", dc ? dc : "", dm ? dm : "", dc ? dc : "",
                        dm ? dm : "");
                if (dt != NULL)
                    fprintf(stderr, "\tTarget: %s\n", dt);
            }
            for (size_t i = 0; i < json_array_size(details); i++) {
                const char *fix = cli_link_fix(ck_json_str(json_array_get(details, i), "target"));
                if (fix != NULL)
                    fprintf(stderr, "To fix: %s\n", fix);
            }
        }
        /* Key Vault's envelope names the precise cause in innererror (ForbiddenByRbac, KeyDisabled). */
        if (inner != NULL)
            fprintf(stderr, "Inner error: %s\n", inner);
    } else if (ck_json_str(b, "error") != NULL) {
        const char *desc = ck_json_str(b, "error_description");
        size_t n = desc ? strcspn(desc, "\r\n") : 0;
        fprintf(stderr, "ERROR: (%s) %.*s\n", ck_json_str(b, "error"), (int)n, desc ? desc : "");
    } else if (ck_json_str(b, "code") != NULL) {
        const char *msg = ck_json_str(b, "message");
        fprintf(stderr, "ERROR: (%s) %s\n", ck_json_str(b, "code"), msg ? msg : "");
    } else {
        fprintf(stderr, "ERROR: Operation returned an invalid status code '%s' (%ld)\n",
                cli_status_text(resp->status), resp->status);
    }
    return rc;
}

int cli_send(struct cli_ctx *ctx, const char *method, const char *url, const char *const *hdrs,
             const char *body, size_t body_len, const char *ca_file, struct cli_resp *resp)
{
    struct ck_httpc_req req;
    struct ck_httpc_resp hr;
    char why[160];
    int n = 0, rc;

    memset(&req, 0, sizeof(req));
    memset(resp, 0, sizeof(*resp));
    req.method = method;
    req.url = url;
    req.ca_file = ca_file;
    req.body = body;
    req.body_len = body_len;
    req.timeout_ms = 30000;
    for (; hdrs != NULL && hdrs[n] != NULL && n < CK_HTTPC_MAX_HEADERS - 1; n++)
        req.headers[n] = hdrs[n];
    req.headers[n] = NULL;
    cli_debug_url(ctx, method, url);
    rc = ck_httpc_do(&req, &hr);
    if (rc != CK_OK) {
        size_t hn = strcspn(url, "?");
        if (rc == CK_E_TIMEOUT)
            cli_err("the request to %.*s timed out", (int)hn, url);
        else if (rc == CK_E_TOO_LARGE)
            cli_err("the response from %.*s is too large", (int)hn, url);
        else
            cli_err("cannot connect to %.*s (connection or TLS failure%s); is crosskeyd running?", (int)hn, url,
                    ca_file ? "" : ", no CA file configured");
        ck_httpc_resp_cleanup(&hr);
        return CLI_EXIT_ERR;
    }
    cli_debug(ctx, "Response status: %ld", hr.status);
    resp->status = hr.status;
    resp->location = ck_httpc_resp_header(&hr, "Location");
    resp->www_authenticate = ck_httpc_resp_header(&hr, "WWW-Authenticate");
    if (hr.body.len > 0)
        resp->body = ck_json_parse(hr.body.data, hr.body.len, why, sizeof(why));
    ck_httpc_resp_cleanup(&hr);
    return CLI_EXIT_OK;
}

void cli_resp_cleanup(struct cli_resp *resp)
{
    if (resp->body != NULL) {
        cli_json_wipe(resp->body);
        json_decref(resp->body);
    }
    ck_free(resp->location);
    ck_free(resp->www_authenticate);
    memset(resp, 0, sizeof(*resp));
}

int cli_token_request(struct cli_ctx *ctx, const struct cli_endpoints *ep, const char *tenant,
                      const char *client_id, const char *secret, const char *scope, json_t **body)
{
    struct ck_buf form;
    struct cli_resp resp;
    char *id = ck_url_encode(client_id), *sec = ck_url_encode(secret), *sc = ck_url_encode(scope);
    const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded;charset=utf-8",
                          "Accept: application/json", NULL};
    int rc = CLI_EXIT_ERR;

    *body = NULL;
    ck_buf_init(&form, 64 * 1024);
    form.secret = 1;
    if (id == NULL || sec == NULL || sc == NULL ||
        ck_buf_printf(&form, "grant_type=client_credentials&client_id=%s&client_secret=%s&scope=%s", id, sec, sc) !=
            CK_OK) {
        cli_err("out of memory");
        goto out;
    }
    char *url = cli_fmt(ctx, "%s/%s/oauth2/v2.0/token", ep->authority, cli_enc(ctx, tenant));
    rc = cli_send(ctx, "POST", url, hdrs, form.data, form.len, ep->ca_file, &resp);
    if (rc != CLI_EXIT_OK)
        goto out;
    if (resp.status != 200 || ck_json_str(resp.body, "access_token") == NULL) {
        rc = cli_resp_error(&resp);
        if (rc == CLI_EXIT_NOTFOUND)
            rc = CLI_EXIT_ERR;
        cli_resp_cleanup(&resp);
        goto out;
    }
    *body = resp.body;
    resp.body = NULL;
    cli_resp_cleanup(&resp);
    rc = CLI_EXIT_OK;
out:
    ck_buf_cleanup(&form);
    ck_free(id);
    if (sec != NULL)
        ck_freezero(sec, strlen(sec));
    ck_free(sc);
    return rc;
}

/* Finds the base URL of an API. Returns CLI_EXIT_OK or an exit code (printed). */
static int cli_base(struct cli_ctx *ctx, enum cli_api api, const char **base, const char **ca_file)
{
    const struct cli_endpoints *ep;
    int rc;
    if (api == CLI_API_OP_IDENTITY || api == CLI_API_OP_ARM) {
        rc = cli_operator_open(ctx);
        if (rc != CLI_EXIT_OK)
            return rc;
        *ca_file = ctx->op_ep.ca_file;
        *base = api == CLI_API_OP_IDENTITY ? ctx->op_ep.authority : ctx->op_ep.arm;
        return CLI_EXIT_OK;
    }
    rc = cli_account_get(ctx);
    if (rc != CLI_EXIT_OK)
        return rc;
    ep = cli_account_endpoints(ctx);
    *ca_file = ep->ca_file;
    *base = api == CLI_API_GRAPH ? cli_fmt(ctx, "%s/v1.0", ep->graph) : ep->arm;
    return CLI_EXIT_OK;
}

int cli_call(struct cli_ctx *ctx, enum cli_api api, const char *method, const char *path, const json_t *body,
             struct cli_resp *resp)
{
    const char *ca = NULL, *base = NULL;
    const char *tok = NULL;
    char *text = NULL;
    int rc;

    memset(resp, 0, sizeof(*resp));
    rc = cli_base(ctx, api, &base, &ca);
    if (rc != CLI_EXIT_OK)
        return rc;
    /* An absolute URL (nextLink, Location) is followed only on the same origin, so a token is
     * never sent elsewhere. */
    const char *url;
    if (strncmp(path, "https://", 8) == 0 || strncmp(path, "http://", 7) == 0) {
        size_t bl = strlen(base);
        if (api == CLI_API_GRAPH)
            bl -= strlen("/v1.0");
        if (strncmp(path, base, bl) != 0 || (path[bl] != '/' && path[bl] != '\0')) {
            cli_err("refusing to follow a link to another origin");
            return CLI_EXIT_ERR;
        }
        url = path;
    } else {
        url = cli_fmt(ctx, "%s%s", base, path);
    }
    if (body != NULL && (text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL) {
        cli_err("out of memory");
        return CLI_EXIT_ERR;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        const char *hdrs[5] = {"Accept: application/json", NULL, NULL, NULL, NULL};
        int h = 1;
        if (api == CLI_API_OP_IDENTITY || api == CLI_API_OP_ARM) {
            hdrs[h++] = cli_fmt(ctx, "Authorization: Operator %s", ctx->op_key);
        } else {
            rc = cli_token(ctx, api == CLI_API_GRAPH ? CLI_SCOPE_GRAPH : CLI_SCOPE_ARM, attempt > 0, &tok);
            if (rc != CLI_EXIT_OK)
                goto out;
            hdrs[h++] = cli_fmt(ctx, "Authorization: Bearer %s", tok);
        }
        if (text != NULL)
            hdrs[h++] = "Content-Type: application/json";
        rc = cli_send(ctx, method, url, hdrs, text, text ? strlen(text) : 0, ca, resp);
        if (rc != CLI_EXIT_OK)
            goto out;
        /* A cached token the server no longer takes (a restarted daemon, new keys): retry once. */
        if (resp->status != 401 || api == CLI_API_OP_IDENTITY || api == CLI_API_OP_ARM || attempt > 0)
            break;
        cli_debug(ctx, "401 with a cached token; requesting a new one");
        cli_token_forget(ctx);
        cli_resp_cleanup(resp);
    }
out:
    if (text != NULL)
        ck_freezero(text, strlen(text));
    return rc;
}

/* Polls a 202 + Location answer until the operation finishes; resp is replaced by the result. */
static int cli_lro(struct cli_ctx *ctx, enum cli_api api, struct cli_resp *resp)
{
    for (int i = 0; i < CLI_LRO_MAX_POLLS && resp->status == 202 && resp->location != NULL; i++) {
        char *loc = ck_strdup(resp->location);
        struct timespec ts = {1, 0};
        int rc;
        if (loc == NULL)
            return CLI_EXIT_ERR;
        nanosleep(&ts, NULL);
        cli_resp_cleanup(resp);
        rc = cli_call(ctx, api, "GET", loc, NULL, resp);
        ck_free(loc);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    return CLI_EXIT_OK;
}

int cli_call_ok(struct cli_ctx *ctx, enum cli_api api, const char *method, const char *path, const json_t *body,
                json_t **out)
{
    struct cli_resp resp;
    int rc = cli_call(ctx, api, method, path, body, &resp);

    if (out != NULL)
        *out = NULL;
    if (rc != CLI_EXIT_OK)
        return rc;
    if (resp.status == 202 && resp.location != NULL && api == CLI_API_ARM && strcmp(method, "GET") != 0) {
        rc = cli_lro(ctx, api, &resp);
        if (rc != CLI_EXIT_OK)
            goto out;
    }
    rc = cli_resp_take(&resp, out);
out:
    cli_resp_cleanup(&resp);
    return rc;
}

int cli_resp_take(struct cli_resp *resp, json_t **out)
{
    if (resp->status < 200 || resp->status > 299)
        return cli_resp_error(resp);
    if (out != NULL) {
        *out = resp->body;
        resp->body = NULL;
    }
    return CLI_EXIT_OK;
}

/* Fetches one page of an ARM or Graph list. */
static int cli_list_page(struct cli_ctx *ctx, void *arg, const char *url, json_t **body)
{
    return cli_call_ok(ctx, *(const enum cli_api *)arg, "GET", url, NULL, body);
}

int cli_list(struct cli_ctx *ctx, enum cli_api api, const char *path, json_t **out)
{
    return cli_list_pages(ctx, cli_list_page, &api, path, out);
}

int cli_list_pages(struct cli_ctx *ctx, cli_page_fn fetch, void *arg, const char *path, json_t **out)
{
    json_t *all = json_array();
    const char *next = path;
    int rc = CLI_EXIT_OK;

    *out = NULL;
    if (all == NULL)
        return CLI_EXIT_ERR;
    for (int page = 0; next != NULL && page < CLI_MAX_PAGES; page++) {
        json_t *body = NULL;
        rc = fetch(ctx, arg, next, &body);
        if (rc != CLI_EXIT_OK)
            break;
        if (ck_json_arr(body, "value") != NULL)
            json_array_extend(all, ck_json_arr(body, "value"));
        const char *nl = ck_json_str(body, "@odata.nextLink");
        if (nl == NULL)
            nl = ck_json_str(body, "nextLink");
        next = nl != NULL && nl[0] != '\0' ? cli_fmt(ctx, "%s", nl) : NULL;
        json_decref(body);
    }
    if (rc != CLI_EXIT_OK) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return CLI_EXIT_OK;
}

json_t *cli_json_arg(struct cli_ctx *ctx, const char *flag, const char *text)
{
    char why[160];
    char *file = NULL;
    size_t len;
    json_t *v;

    if (text[0] == '@' || (text[0] != '{' && text[0] != '[' && access(text, R_OK) == 0)) {
        /* az takes "@file" and, for --parameters, also a bare file name. */
        const char *path = text[0] == '@' ? text + 1 : text;
        if (ck_read_file(path, CLI_FILE_LIMIT, &file, &len) != 0) {
            cli_err("argument --%s: cannot read %s: %s", flag, path, strerror(errno));
            return NULL;
        }
        v = ck_json_parse(file, len, why, sizeof(why));
        ck_free(file);
    } else {
        v = ck_json_parse(text, strlen(text), why, sizeof(why));
    }
    if (v == NULL)
        cli_err("argument --%s: not valid JSON: %s", flag, why);
    (void)ctx;
    return v;
}

void cli_flatten(json_t *v, int lift_properties)
{
    const char *id = ck_json_str(v, "id");
    if (!json_is_object(v))
        return;
    if (lift_properties) {
        json_t *props = ck_json_obj(v, "properties");
        if (props != NULL) {
            json_incref(props);
            json_object_del(v, "properties");
            json_object_update_missing(v, props);
            json_decref(props);
        }
    }
    if (id != NULL && json_object_get(v, "resourceGroup") == NULL) {
        /* "/subscriptions/{s}/resourceGroups/{rg}/..." (any case) */
        const char *p = strcasestr(id, "/resourcegroups/");
        if (p != NULL) {
            p += strlen("/resourcegroups/");
            json_object_set_new(v, "resourceGroup", json_stringn(p, strcspn(p, "/")));
        }
    }
}

void cli_flatten_all(json_t *v)
{
    size_t i;
    json_t *e;
    if (json_is_array(v)) {
        json_array_foreach(v, i, e) cli_flatten(e, 1);
    } else {
        cli_flatten(v, 1);
    }
}

/* Prints a fetched body (flattened first when flat is set) and releases it. */
static int cli_emit(struct cli_ctx *ctx, int rc, json_t *out, int flat)
{
    if (rc == CLI_EXIT_OK) {
        if (flat)
            cli_flatten_all(out);
        rc = cli_print(ctx, out);
    }
    json_decref(out);
    return rc;
}

int cli_run(struct cli_ctx *ctx, enum cli_api api, const char *method, const char *path, const json_t *body, int flat)
{
    json_t *out = NULL;
    int rc = cli_call_ok(ctx, api, method, path, body, &out);
    return cli_emit(ctx, rc, out, flat);
}

int cli_run_list(struct cli_ctx *ctx, enum cli_api api, const char *path, int flat)
{
    json_t *out = NULL;
    int rc = cli_list(ctx, api, path, &out);
    return cli_emit(ctx, rc, out, flat);
}

int cli_arm_find(struct cli_ctx *ctx, const char *item, const char *list, const char *name, const char *what,
                 json_t **out)
{
    json_t *all = NULL, *v;
    size_t i;
    int rc;
    *out = NULL;
    if (item != NULL)
        return cli_call_ok(ctx, CLI_API_ARM, "GET", item, NULL, out);
    rc = cli_list(ctx, CLI_API_ARM, list, &all);
    if (rc != CLI_EXIT_OK)
        return rc;
    json_array_foreach(all, i, v) {
        const char *n = ck_json_str(v, "name");
        if (n != NULL && strcasecmp(n, name) == 0) {
            *out = json_incref(v);
            break;
        }
    }
    json_decref(all);
    if (*out == NULL) {
        cli_err("(ResourceNotFound) The %s '%s' was not found within the subscription.", what, name);
        return CLI_EXIT_NOTFOUND;
    }
    return CLI_EXIT_OK;
}
