/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resource-provider forwarding (docs/internal-api.md): after authentication, the subscription and
 * group checks and RBAC on the operation's action, ARM sends the request to the service that owns
 * the namespace with the RP credential and the caller's identity headers, and relays the answer.
 * Resources the providers create are indexed, so that deleting a resource group deletes them
 * (a forwarded DELETE each) along with the role assignments under them.
 */
#include "services/arm/arm_int.h"
#include "core/codec.h"
#include "core/log.h"
#include "http/client/httpc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct arm_query {
    struct ck_buf *b;
    int rc;
};

static int arm_query_add(void *arg, const char *k, const char *v)
{
    struct arm_query *q = arg;
    char *ek = ck_url_encode(k), *ev = ck_url_encode(v ? v : "");
    if (ek == NULL || ev == NULL)
        q->rc = CK_E_NOMEM;
    else
        q->rc = ck_buf_printf(q->b, "%s%s=%s", q->b->len ? "&" : "", ek, ev);
    ck_free(ek);
    ck_free(ev);
    return q->rc != CK_OK;
}

/* Rebuilds the query string of the request (decoded by the server) in encoded form. */
static char *arm_query_string(struct arm_call *c)
{
    struct ck_buf b;
    struct arm_query q = {&b, CK_OK};
    char *r = NULL;
    ck_buf_init(&b, 16 * 1024);
    ck_req_query_each(c->req, arm_query_add, &q);
    if (q.rc == CK_OK)
        r = ck_arena_strdup(c->a, b.data ? b.data : "");
    ck_buf_cleanup(&b);
    return r;
}

/*
 * Sends one request to a provider on behalf of the caller. Returns the ck_httpc_do result; resp
 * must be cleaned up by the caller in every case.
 */
static int arm_rp_call(struct arm_call *c, const struct arm_rp *rp, const char *method, const char *path,
                       const char *query, const char *body, size_t body_len, struct ck_httpc_resp *resp)
{
    struct ck_httpc_req r = {0};
    struct ck_arena *a = c->a;
    const char *crid = ck_req_header(c->req, "x-ms-client-request-id");
    const char *key = NULL;
    int h = 0;

    memset(resp, 0, sizeof(*resp));
    r.method = method;
    r.url = ck_arena_printf(a, "%s%s%s%s", rp->base_url, path, query && *query ? "?" : "", query ? query : "");
    if (c->arm->rp_key != NULL)
        key = ck_arena_strndup(a, (const char *)ck_secret_ptr(c->arm->rp_key), ck_secret_len(c->arm->rp_key));
    r.headers[h++] = key ? ck_arena_printf(a, "Authorization: RP %s", key) : NULL;
    r.headers[h++] = ck_arena_printf(a, "x-ms-client-principal-id: %s", c->claims.oid);
    r.headers[h++] = ck_arena_printf(a, "x-ms-client-app-id: %s", c->claims.appid);
    r.headers[h++] = ck_arena_printf(a, "x-ms-client-tenant-id: %s", c->claims.tid);
    r.headers[h++] = ck_arena_printf(a, "x-ms-home-tenant-id: %s", c->sub_tenant ? c->sub_tenant : c->claims.tid);
    if (crid != NULL && strlen(crid) <= 128 && strpbrk(crid, "\r\n") == NULL)
        r.headers[h++] = ck_arena_printf(a, "x-ms-client-request-id: %s", crid);
    if (body != NULL && body_len > 0) {
        r.headers[h++] = "Content-Type: application/json";
        r.body = body;
        r.body_len = body_len;
    }
    r.headers[h] = NULL;
    for (int i = 0; i < h; i++) {
        if (r.headers[i] == NULL || r.url == NULL)
            return CK_E_NOMEM;
    }
    r.ca_file = c->arm->ca_file;
    r.timeout_ms = ARM_RP_TIMEOUT_MS;
    /* The key copy lives in the request arena, which is wiped when freed. */
    return ck_httpc_do(&r, resp);
}

static void arm_relay_header(struct arm_call *c, const struct ck_httpc_resp *resp, const char *name)
{
    char *v = ck_httpc_resp_header(resp, name);
    if (v != NULL)
        ck_resp_header(c->resp, name, v);
    ck_free(v);
}

static void arm_reply_upstream(struct arm_call *c, int rc, const char *ns)
{
    if (rc == CK_E_TIMEOUT)
        arm_reply_error(c, 504, "GatewayTimeout", "The resource provider '%s' did not answer in time.", ns);
    else
        arm_reply_error(c, 502, "BadGateway", "The resource provider '%s' could not be reached.", ns);
}

/* The action for method on the provider path tail (segments after the namespace). */
static char *arm_forward_action(struct arm_call *c, const char *ns, char *const *tail, int t)
{
    struct ck_buf b;
    char *r = NULL;
    const char *m = c->method;
    int post = strcmp(m, "POST") == 0;
    int ntypes = t % 2 == 0 ? t / 2 : (post ? t / 2 : t / 2 + 1);
    ck_buf_init(&b, 4096);
    if (ck_buf_puts(&b, ns) != CK_OK)
        goto out;
    for (int i = 0; i < ntypes; i++) {
        if (ck_buf_printf(&b, "/%s", tail[2 * i]) != CK_OK)
            goto out;
    }
    if (post && t % 2 == 1) {
        if (ck_buf_printf(&b, "/%s/action", tail[t - 1]) != CK_OK)
            goto out;
    } else if (ck_buf_puts(&b, post                                            ? "/action"
                                 : strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 ? "/read"
                                 : strcmp(m, "DELETE") == 0                        ? "/delete"
                                                                                   : "/write") != CK_OK) {
        goto out;
    }
    r = ck_arena_strdup(c->a, b.data);
out:
    ck_buf_cleanup(&b);
    return r;
}

/* "NS/type1/type2" for a resource path tail of type/name pairs. */
static char *arm_resource_type(struct arm_call *c, const char *ns, char *const *tail, int t)
{
    char *r = ck_arena_strdup(c->a, ns);
    for (int i = 0; r != NULL && i + 1 < t; i += 2)
        r = ck_arena_printf(c->a, "%s/%s", r, tail[i]);
    return r;
}

void arm_handle_forward(struct arm_call *c)
{
    char **s = c->seg;
    int n = c->nseg;
    int has_rg = arm_ieq(s[2], "resourceGroups");
    int nsi = has_rg ? 5 : 3;
    const char *ns = s[nsi];
    char *const *tail = s + nsi + 1;
    int t = n - nsi - 1;
    const struct arm_rp *rp;
    struct arm_sub sub;
    struct ck_httpc_resp resp;
    char *path, *scope, *action, *query, *ctype;
    const char *body;
    size_t body_len = 0;
    int rc, resource = t >= 2 && t % 2 == 0;

    memset(&resp, 0, sizeof(resp));
    if (arm_load_sub(c, s[1], &sub) != 0)
        return;
    if (has_rg && arm_require_rg(c, sub.id, s[3]) != 0)
        return;
    rp = arm_find_rp(c->arm, ns);
    if (rp == NULL || t < 1) {
        arm_reply_error(c, 404, "InvalidResourceNamespace", "The resource namespace '%.128s' is invalid.", ns);
        return;
    }
    path = arm_canon_path(c->arm, c->a, s, n);
    /* Lists and POST actions are authorized at the parent; resources at themselves. */
    scope = arm_canon_path(c->arm, c->a, s, resource ? n : (t == 1 ? nsi - 1 : n - 1));
    action = arm_forward_action(c, rp->ns, tail, t);
    query = arm_query_string(c);
    if (path == NULL || scope == NULL || action == NULL || query == NULL) {
        arm_reply_db_error(c);
        return;
    }
    if (arm_authorize(c, action, scope) != 0)
        return;
    body = ck_req_body(c->req, &body_len);
    rc = arm_rp_call(c, rp, c->method, path, query, body, body_len, &resp);
    if (rc != CK_OK) {
        ck_log(CK_LOG_WARN, "arm: provider %s failed for %s %s (%s)", rp->ns, c->method, path, ck_err_text(rc));
        arm_reply_upstream(c, rc, rp->ns);
        goto out;
    }
    if (resource && strcmp(c->method, "PUT") == 0 && resp.status >= 200 && resp.status <= 202) {
        char *type = arm_resource_type(c, rp->ns, tail, t);
        if (type == NULL ||
            arm_index_put(c->arm, path, type, sub.id, has_rg ? s[3] : NULL, ck_req_query(c->req, "api-version")) != CK_OK)
            ck_log(CK_LOG_WARN, "arm: could not index %s", path);
    } else if (resource && strcmp(c->method, "DELETE") == 0 &&
               ((resp.status >= 200 && resp.status <= 204) || resp.status == 404)) {
        char *lc = arm_lower(c->a, path);
        if (lc == NULL || arm_purge_scope(c->arm, lc) != CK_OK)
            ck_log(CK_LOG_WARN, "arm: could not purge %s", path);
    }
    ck_resp_status(c->resp, (int)resp.status);
    arm_relay_header(c, &resp, "Location");
    arm_relay_header(c, &resp, "Retry-After");
    arm_relay_header(c, &resp, "Azure-AsyncOperation");
    if (resp.body.len > 0) {
        ctype = ck_httpc_resp_header(&resp, "Content-Type");
        ck_resp_body(c->resp, ctype ? ctype : "application/json; charset=utf-8", resp.body.data, resp.body.len);
        ck_free(ctype);
    }
out:
    ck_httpc_resp_cleanup(&resp);
}

int arm_forward_delete_group(struct arm_call *c, const char *sub_id, const char *rg)
{
    struct ck_db_stmt *st = NULL;
    char **ids = NULL, **vers = NULL;
    int n = 0, cap = 0, s, r = -1;

    ck_db_lock(c->arm->db);
    if (ck_db_prepare(c->arm->db,
                      "SELECT id, api_version FROM resources WHERE sub_id = lower(?1) AND rg_lc = lower(?2)"
                      " ORDER BY length(id_lc) DESC",
                      &st) != CK_OK ||
        ck_db_bind_text(st, 1, sub_id) != CK_OK || ck_db_bind_text(st, 2, rg) != CK_OK) {
        s = -1;
        goto listed;
    }
    while ((s = ck_db_step(st)) == 1) {
        if (n == cap) {
            int ncap = cap ? cap * 2 : 16;
            char **ni = ck_arena_alloc(c->a, sizeof(char *) * (size_t)ncap);
            char **nv = ck_arena_alloc(c->a, sizeof(char *) * (size_t)ncap);
            if (ni == NULL || nv == NULL) {
                s = -1;
                break;
            }
            if (n > 0) {
                memcpy(ni, ids, sizeof(char *) * (size_t)n);
                memcpy(nv, vers, sizeof(char *) * (size_t)n);
            }
            ids = ni;
            vers = nv;
            cap = ncap;
        }
        ids[n] = ck_arena_strdup(c->a, ck_db_col_text(st, 0));
        vers[n] = ck_arena_strdup(c->a, ck_db_col_text(st, 1) ? ck_db_col_text(st, 1) : "2023-01-31");
        if (ids[n] == NULL || vers[n] == NULL) {
            s = -1;
            break;
        }
        n++;
    }
listed:
    ck_db_stmt_free(st);
    ck_db_unlock(c->arm->db);
    if (s < 0) {
        arm_reply_db_error(c);
        return -1;
    }
    /* Children come first (longest ids); the store lock is not held across provider calls. */
    for (int i = 0; i < n; i++) {
        char **seg = NULL;
        int ns = arm_split_path(c->a, ids[i], &seg);
        const struct arm_rp *rp = ns >= 6 ? arm_find_rp(c->arm, seg[5]) : NULL;
        struct ck_httpc_resp resp;
        char *q = ck_arena_printf(c->a, "api-version=%s", vers[i]);
        int rc;
        if (rp == NULL || q == NULL)
            continue;
        rc = arm_rp_call(c, rp, "DELETE", ids[i], q, NULL, 0, &resp);
        long st_code = resp.status;
        ck_httpc_resp_cleanup(&resp);
        if (rc != CK_OK || !((st_code >= 200 && st_code <= 204) || st_code == 404)) {
            arm_reply_error(c, 409, "ResourceGroupDeletionBlocked",
                            "Deletion of resource group '%s' failed as resources with identifiers '%s' could not be "
                            "deleted.",
                            rg, ids[i]);
            goto out;
        }
    }
    r = 0;
out:
    return r;
}

/*
 * Tells the provider that owns scope about a role-assignment change at or under one of its
 * resources (DESIGN.md section 4: arm publishes role-assignment changes at vault and key scopes).
 * Best effort: a provider that misses a notification still sees the change on its next
 * check-access call.
 */
void arm_notify_role_change(struct arm_call *c, const char *type, const char *scope, const char *name,
                            const char *role_id, const char *principal)
{
    /* Every provider hears of every change, before the caller's request returns: an assignment at
     * a subscription or resource group reaches resources below it, and providers that cache
     * authorization decisions must drop them before the next request. */
    json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", type, "scope", scope, "roleAssignmentName", name,
                             "roleDefinitionId", role_id, "principalId", principal);
    char *text = body ? ck_json_dump(body) : NULL;
    json_decref(body);
    if (text == NULL)
        return;
    for (int i = 0; i < c->arm->nrps; i++) {
        struct ck_httpc_resp resp;
        if (arm_rp_call(c, &c->arm->rps[i], "POST", "/notifications", NULL, text, strlen(text), &resp) != CK_OK ||
            resp.status >= 300)
            ck_log(CK_LOG_WARN, "arm: provider %s did not take the role-assignment notification", c->arm->rps[i].ns);
        ck_httpc_resp_cleanup(&resp);
    }
    free(text);
}
