/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Microsoft.Storage/storageAccounts as a resource provider behind ARM (wire reference C.7): create
 * (PUT, synchronous, and PUT on an existing account updates it), update (PATCH, synchronous 200),
 * get, list by group and subscription, delete, listKeys, regenerateKey and checkNameAvailability.
 * Names are unique on the server. User-assigned identities are looked up in the identity service's
 * resource provider (principalId, clientId, tenant) and may be attached only by a caller that ARM
 * says holds .../userAssignedIdentities/ * /assign/action on them. A system-assigned identity is
 * created by the identity service (PUT /rp/identity/systemAssigned, idempotent by the account's id)
 * before the account row is written, and deleted after the row no longer names it. The encryption object is
 * validated and stored as Azure returns it. A change that sets or moves the customer-managed key
 * (keySource Microsoft.Keyvault) first runs the whole chain to the customer's vault and wraps the
 * AEK under the key; the new wrapping replaces the old one in the same statement as the settings
 * (docs/cmk.md). Every check runs before the first write, so a refused request changes nothing.
 */
#include "services/storage/st_int.h"
#include "services/storage/st_kek.h"
#include "authz/armpath.h"
#include "authz/shared_key.h"
#include "core/codec.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "crypto/keyops.h"
#include "crypto/random.h"
#include "http/client/httpc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ST_NS "Microsoft.Storage"
#define ST_TYPE "storageAccounts"
#define ST_FULL_TYPE ST_NS "/" ST_TYPE
#define ST_MSI_NS "Microsoft.ManagedIdentity"
#define ST_MSI_TYPE "userAssignedIdentities"
#define ST_MSI_API "2024-11-30"
#define ST_ASSIGN_ACTION "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action"
#define ST_MAX_UAMIS 16
#define ST_MAX_TAGS 50
#define ST_CALL_TIMEOUT_MS 10000

static void st_arm_error(struct ck_resp *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void st_arm_error(struct ck_resp *resp, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    ck_resp_json(resp, status, body);
    json_decref(body);
}

static void st_internal_error(struct ck_resp *resp)
{
    st_arm_error(resp, 500, "InternalError", "The storage resource provider failed to process the request.");
}

/* 3-24 lower-case letters and digits (wire reference C.7). */
static int st_name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len < 3 || len > 24)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9')))
            return 0;
    }
    return 1;
}

#define ST_NAME_INVALID_FMT                                                                                            \
    "%.64s is not a valid storage account name. Storage account name must be between 3 and 24 characters in length "  \
    "and use numbers and lower-case letters only."
#define ST_NAME_TAKEN_FMT "The storage account named %.64s is already taken."

static int st_streq_ci(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcasecmp(a, b) == 0;
}

/* Two vault URIs are the same without regard to case or trailing slashes. */
static int st_uri_eq(const char *a, const char *b)
{
    size_t al, bl;
    if (a == NULL || b == NULL)
        return 0;
    al = strlen(a);
    bl = strlen(b);
    while (al > 0 && a[al - 1] == '/')
        al--;
    while (bl > 0 && b[bl - 1] == '/')
        bl--;
    return al == bl && strncasecmp(a, b, al) == 0;
}

/* The canonical spelling of v among choices (compared without regard to case), or NULL. */
static const char *st_choice(const char *v, const char *const *choices)
{
    for (size_t i = 0; v != NULL && choices[i] != NULL; i++) {
        if (strcasecmp(v, choices[i]) == 0)
            return choices[i];
    }
    return NULL;
}

static const char *const st_skus[] = {"Standard_LRS",  "Standard_GRS",  "Standard_RAGRS",  "Standard_ZRS",
                                      "Premium_LRS",   "Premium_ZRS",   "Standard_GZRS",   "Standard_RAGZRS",
                                      NULL};
static const char *const st_kinds[] = {"StorageV2", "Storage", "BlobStorage", "BlockBlobStorage", "FileStorage", NULL};
static const char *const st_tiers[] = {"Hot", "Cool", "Cold", "Premium", NULL};
static const char *const st_tls[] = {"TLS1_0", "TLS1_1", "TLS1_2", "TLS1_3", NULL};
static const char *const st_services[] = {"blob", "file", "queue", "table", NULL};

static char *st_iso(struct ck_arena *a, int64_t t)
{
    char ts[40];
    return ck_arena_strdup(a, ck_time_iso8601(t, ts, sizeof(ts)));
}

static json_t *st_parse_text(const char *text)
{
    json_t *v = text ? ck_json_parse(text, strlen(text), NULL, 0) : NULL;
    return v ? v : json_object();
}

/* ---- calls to ARM and identity (docs/internal-api.md) ---- */

/* One call with the RP credential. Returns CK_OK with *status and *body (caller decrefs; NULL when
 * not JSON), or a transport error. */
static int st_rp_call(struct st *st, struct ck_arena *a, const char *method, const char *url, const json_t *body,
                      long *status, json_t **out)
{
    struct ck_httpc_req r = {0};
    struct ck_httpc_resp resp;
    char *text = body ? ck_json_dump(body) : NULL;
    char *key = NULL;
    int rc, h = 0;
    *out = NULL;
    if (st->rp_key == NULL)
        return CK_E_UNAVAILABLE;
    key = ck_arena_strndup(a, (const char *)ck_secret_ptr(st->rp_key), ck_secret_len(st->rp_key));
    r.method = method;
    r.url = url;
    r.headers[h++] = key ? ck_arena_printf(a, "Authorization: RP %s", key) : NULL;
    if (text != NULL) {
        r.headers[h++] = "Content-Type: application/json";
        r.body = text;
        r.body_len = strlen(text);
    }
    r.headers[h] = NULL;
    r.ca_file = st->ca_file;
    r.timeout_ms = ST_CALL_TIMEOUT_MS;
    if (r.headers[0] == NULL) {
        free(text);
        return CK_E_NOMEM;
    }
    /* The key copy lives in the request arena, which is wiped when freed. */
    rc = ck_httpc_do(&r, &resp);
    if (rc == CK_OK) {
        *status = resp.status;
        if (resp.body.len > 0)
            *out = ck_json_parse(resp.body.data, resp.body.len, NULL, 0);
    }
    ck_httpc_resp_cleanup(&resp);
    free(text);
    return rc;
}

#define ST_FIC_FEATURE "FederatedClientIdentity"

/*
 * Cross-tenant keys (encryption.identity.federatedIdentityClientId) need the subscription's feature
 * Microsoft.Storage/FederatedClientIdentity registered and the provider registered again after it
 * (the procedure's preview step; ARM answers whether both happened). Returns 1, or 0 after
 * answering.
 */
static int st_fic_feature_ok(struct st *st, struct ck_arena *a, struct ck_resp *resp, const char *sub)
{
    char *esub = ck_url_encode(sub);
    char *url = esub ? ck_arena_printf(a, "%s/rp/arm/features?subscriptionId=%s&namespace=Microsoft.Storage&name=" ST_FIC_FEATURE,
                                       st->arm_endpoint, esub)
                     : NULL;
    json_t *out = NULL;
    long status = 0;
    int ok = 0;
    ck_free(esub);
    if (url == NULL) {
        st_internal_error(resp);
        return 0;
    }
    if (st_rp_call(st, a, "GET", url, NULL, &status, &out) != CK_OK || status != 200 || out == NULL) {
        st_arm_error(resp, 503, "ServiceUnavailable", "The resource manager could not say whether the subscription has "
                                                      "registered the feature Microsoft.Storage/" ST_FIC_FEATURE "; try again.");
        json_decref(out);
        return 0;
    }
    const char *state = ck_json_str(out, "state");
    if (json_is_true(json_object_get(out, "effective")))
        ok = 1;
    else if (state != NULL && strcmp(state, "Registered") == 0)
        st_arm_error(resp, 400, "SubscriptionNotRegisteredForFeature",
                     "The subscription %.64s has registered the feature Microsoft.Storage/" ST_FIC_FEATURE
                     ", but the provider Microsoft.Storage has not been registered again since: run 'az provider "
                     "register --namespace Microsoft.Storage', then retry.", sub);
    else
        st_arm_error(resp, 400, "SubscriptionNotRegisteredForFeature",
                     "encryption.identity.federatedIdentityClientId needs the subscription %.64s to register the feature "
                     "Microsoft.Storage/" ST_FIC_FEATURE " ('az feature register --namespace Microsoft.Storage --name "
                     ST_FIC_FEATURE "') and then the provider again ('az provider register --namespace "
                     "Microsoft.Storage'); the feature is %.32s.", sub, state ? state : "NotRegistered");
    json_decref(out);
    return ok;
}

/* The caller of the forwarded request, as ARM names it. */
struct st_caller {
    const char *oid, *tid, *home;
};

/* A UAMI resolved for an account: the id as the caller spelled it and what identity says of it. */
struct st_uami {
    const char *id;
    char *principal_id, *client_id;
};

/*
 * Checks that the UAMI id exists in the identity service, belongs to the account's tenant, and may
 * be assigned by the caller (ARM check-access). Fills u or writes the error and returns 0.
 */
static int st_uami_resolve(struct st *st, struct ck_arena *a, struct ck_resp *resp, const struct st_caller *who,
                           const char *id, struct st_uami *u)
{
    struct ck_arm_path ap;
    json_t *body = NULL, *req = NULL;
    long status = 0;
    int ok = 0;

    if (strlen(id) > 512 || strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.()/") != strlen(id) ||
        ck_arm_path_parse(a, id, ST_MSI_NS, ST_MSI_TYPE, &ap) != 0 || ap.rg == NULL || ap.name == NULL ||
        ap.child != NULL) {
        st_arm_error(resp, 400, "InvalidIdentity",
                     "'%.200s' is not the resource id of a user-assigned identity "
                     "(/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}).",
                     id);
        return 0;
    }
    char *url = ck_arena_printf(a, "%s/rp/identity/subscriptions/%s/resourceGroups/%s/providers/" ST_MSI_NS "/" ST_MSI_TYPE
                                   "/%s?api-version=" ST_MSI_API,
                                st->authority, ap.sub, ap.rg, ap.name);
    if (url == NULL) {
        st_internal_error(resp);
        return 0;
    }
    int rc = st_rp_call(st, a, "GET", url, NULL, &status, &body);
    if (rc != CK_OK) {
        ck_log(CK_LOG_WARN, "storage: the identity service could not be reached (%s)", ck_err_text(rc));
        st_arm_error(resp, 503, "FailedIdentityOperation",
                     "The identity service could not be reached to resolve '%.200s'; try again later.", id);
        goto out;
    }
    json_t *props = ck_json_obj(body, "properties");
    const char *pid = ck_json_str(props, "principalId"), *cid = ck_json_str(props, "clientId"),
               *tid = ck_json_str(props, "tenantId");
    if (status == 404 || (status == 200 && (pid == NULL || cid == NULL || tid == NULL))) {
        st_arm_error(resp, 400, "FailedIdentityOperation",
                     "Identity operation for resource failed: the user-assigned identity '%.200s' was not found.", id);
        goto out;
    }
    if (status != 200) {
        st_arm_error(resp, 502, "FailedIdentityOperation",
                     "The identity service answered HTTP %ld for the user-assigned identity '%.200s'.", status, id);
        goto out;
    }
    if (who->home == NULL || strcasecmp(tid, who->home) != 0) {
        st_arm_error(resp, 400, "FailedIdentityOperation",
                     "The user-assigned identity '%.200s' belongs to another tenant than the storage account's "
                     "subscription.", id);
        goto out;
    }
    u->id = id;
    u->principal_id = ck_arena_strdup(a, pid);
    u->client_id = ck_arena_strdup(a, cid);
    if (u->principal_id == NULL || u->client_id == NULL) {
        st_internal_error(resp);
        goto out;
    }
    /* Attaching an identity lets the account act as it: the caller needs assign rights on it. */
    json_decref(body);
    body = NULL;
    req = json_pack("{s:s,s:s,s:s,s:s,s:b}", "principalId", who->oid ? who->oid : "", "tenantId",
                    who->tid ? who->tid : "", "scope", id, "action", ST_ASSIGN_ACTION, "isDataAction", 0);
    url = ck_arena_printf(a, "%s/rp/arm/checkAccess", st->arm_endpoint);
    if (req == NULL || url == NULL) {
        st_internal_error(resp);
        goto out;
    }
    if (who->oid == NULL || who->tid == NULL ||
        (rc = st_rp_call(st, a, "POST", url, req, &status, &body)) != CK_OK || status != 200 ||
        !json_is_true(json_object_get(body, "allowed"))) {
        if (who->oid != NULL && who->tid != NULL && (rc != CK_OK || status != 200)) {
            st_arm_error(resp, 503, "ServiceUnavailable", "The authorization check for '%.200s' could not be made.", id);
            goto out;
        }
        st_arm_error(resp, 403, "LinkedAuthorizationFailed",
                     "The client '%.64s' does not have permission to perform action '" ST_ASSIGN_ACTION
                     "' on the linked scope '%.200s', or the linked scope is invalid.",
                     who->oid ? who->oid : "", id);
        goto out;
    }
    ok = 1;
out:
    json_decref(body);
    json_decref(req);
    return ok;
}

/*
 * Creates (or finds: the call is idempotent by resource id) the system-assigned identity of the
 * account arm_id in tenant tid, and writes its principalId and tenantId into identity. Writes the
 * error and returns 0 when the identity service cannot be reached or refuses.
 */
static int st_sa_ensure(struct st *st, struct ck_arena *a, struct ck_resp *resp, const char *arm_id, const char *tid,
                        const char *location, json_t *identity)
{
    json_t *req = json_pack("{s:s,s:s,s:s}", "resourceId", arm_id, "tenantId", tid, "location", location ? location : "");
    json_t *body = NULL;
    char *url = ck_arena_printf(a, "%s/rp/identity/systemAssigned", st->authority);
    long status = 0;
    int ok = 0, rc;
    if (req == NULL || url == NULL) {
        st_internal_error(resp);
        goto out;
    }
    if ((rc = st_rp_call(st, a, "PUT", url, req, &status, &body)) != CK_OK) {
        ck_log(CK_LOG_WARN, "storage: the identity service could not be reached (%s)", ck_err_text(rc));
        st_arm_error(resp, 503, "FailedIdentityOperation",
                     "The identity service could not be reached to create the system-assigned identity; try again "
                     "later.");
        goto out;
    }
    const char *pid = ck_json_str(body, "principalId"), *ptid = ck_json_str(body, "tenantId");
    if (status != 200 || pid == NULL || ptid == NULL) {
        ck_log(CK_LOG_WARN, "storage: the identity service answered HTTP %ld for a system-assigned identity", status);
        st_arm_error(resp, 502, "FailedIdentityOperation",
                     "The identity service answered HTTP %ld when asked for the system-assigned identity.", status);
        goto out;
    }
    if (json_object_set_new(identity, "principalId", json_string(pid)) != 0 ||
        json_object_set_new(identity, "tenantId", json_string(ptid)) != 0) {
        st_internal_error(resp);
        goto out;
    }
    ok = 1;
out:
    json_decref(req);
    json_decref(body);
    return ok;
}

/* Deletes the system-assigned identity of arm_id (after the account row stopped naming it). A
 * failure leaves an unused principal behind, which is logged. */
static void st_sa_remove(struct st *st, struct ck_arena *a, const char *arm_id, const char *principal_id)
{
    char *rid = ck_url_encode(arm_id);
    char *url = rid ? ck_arena_printf(a, "%s/rp/identity/systemAssigned?resourceId=%s", st->authority, rid) : NULL;
    json_t *body = NULL;
    long status = 0;
    int rc = url ? st_rp_call(st, a, "DELETE", url, NULL, &status, &body) : CK_E_NOMEM;
    if (rc != CK_OK || (status != 200 && status != 204))
        ck_log(CK_LOG_WARN,
               "storage: the system-assigned identity %s of %s could not be deleted (%s, HTTP %ld); it is left unused",
               principal_id, arm_id, rc != CK_OK ? ck_err_text(rc) : "refused", status);
    else
        ck_log(CK_LOG_INFO, "storage: system-assigned identity %s of %s deleted", principal_id, arm_id);
    json_decref(body);
    ck_free(rid);
}

/* 1 when the identity object's type includes SystemAssigned. */
static int st_identity_sa(const json_t *identity)
{
    const char *t = ck_json_str(identity, "type");
    return t != NULL && strncasecmp(t, "SystemAssigned", 14) == 0;
}

/* ---- request validation ---- */

static int st_tags(struct ck_resp *resp, const json_t *body, json_t **out)
{
    json_t *t = ck_json_get_ci(body, "tags");
    const char *k;
    json_t *v;
    *out = NULL;
    if (t == NULL || json_is_null(t))
        return 1;
    if (!json_is_object(t) || json_object_size(t) > ST_MAX_TAGS) {
        st_arm_error(resp, 400, "InvalidTag", "tags must be an object of at most %d string values.", ST_MAX_TAGS);
        return 0;
    }
    json_object_foreach(t, k, v) {
        if (!json_is_string(v) || strlen(k) == 0 || strlen(k) > 512 || strlen(json_string_value(v)) > 256) {
            st_arm_error(resp, 400, "InvalidTag", "tag '%.64s' must be a string of at most 256 characters.", k);
            return 0;
        }
    }
    *out = json_incref(t);
    return 1;
}

/* A string member that must be one of choices, or absent. *out is the canonical spelling. */
static int st_enum_member(struct ck_resp *resp, const json_t *obj, const char *key, const char *const *choices,
                          const char *what, const char **out)
{
    json_t *v = ck_json_get_ci(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 1;
    if (!json_is_string(v) || (*out = st_choice(json_string_value(v), choices)) == NULL) {
        char list[256] = "";
        for (size_t i = 0; choices[i] != NULL; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", choices[i]);
        st_arm_error(resp, 400, "InvalidRequestPropertyValue", "The value of %s is invalid; expected one of: %s.", what,
                     list);
        return 0;
    }
    return 1;
}

static int st_bool_member(struct ck_resp *resp, const json_t *obj, const char *key, const char *what, int *out)
{
    json_t *v = ck_json_get_ci(obj, key);
    *out = -1;
    if (v == NULL || json_is_null(v))
        return 1;
    if (!json_is_boolean(v)) {
        st_arm_error(resp, 400, "InvalidRequestPropertyValue", "%s must be a boolean.", what);
        return 0;
    }
    *out = json_is_true(v);
    return 1;
}

/*
 * The account's identity after the request: identity (the request's, or NULL) applied to cur (the
 * stored identity object). New user-assigned identities are resolved. A system-assigned identity
 * the account already has keeps its principalId and tenantId; a new one has neither yet (the
 * caller gets it with st_sa_ensure once every check has passed). Writes the error and returns NULL
 * on a refusal.
 */
static json_t *st_identity_apply(struct st *st, struct ck_arena *a, struct ck_resp *resp, const struct st_caller *who,
                                 const json_t *cur, const json_t *identity)
{
    json_t *out = NULL, *map = NULL, *curmap = ck_json_obj(cur, "userAssignedIdentities");
    const char *type;
    int sa = 0;
    if (identity == NULL || json_is_null(identity))
        return json_deep_copy(cur);
    if (!json_is_object(identity) || !json_is_string(ck_json_get_ci(identity, "type"))) {
        st_arm_error(resp, 400, "InvalidRequestContent", "identity must be an object with a string 'type'.");
        return NULL;
    }
    type = json_string_value(ck_json_get_ci(identity, "type"));
    if (strcasecmp(type, "None") == 0)
        return json_pack("{s:s}", "type", "None");
    if (strcasecmp(type, "SystemAssigned") == 0) {
        out = json_pack("{s:s}", "type", "SystemAssigned");
        goto system_assigned;
    }
    /* Azure accepts the pair with or without a space after the comma. */
    sa = strcasecmp(type, "SystemAssigned,UserAssigned") == 0 || strcasecmp(type, "SystemAssigned, UserAssigned") == 0;
    if (!sa && strcasecmp(type, "UserAssigned") != 0) {
        st_arm_error(resp, 400, "InvalidIdentityType",
                     "identity.type '%.64s' is invalid; expected None, SystemAssigned, UserAssigned or "
                     "'SystemAssigned,UserAssigned'.", type);
        return NULL;
    }
    json_t *in = ck_json_get_ci(identity, "userAssignedIdentities");
    if (!json_is_object(in)) {
        st_arm_error(resp, 400, "InvalidIdentity",
                     "identity.userAssignedIdentities is required with type %s: an object whose keys are the "
                     "resource ids of user-assigned identities.", sa ? "SystemAssigned,UserAssigned" : "UserAssigned");
        return NULL;
    }
    if (json_object_size(in) > ST_MAX_UAMIS) {
        st_arm_error(resp, 400, "InvalidIdentity", "At most %d user-assigned identities can be attached.", ST_MAX_UAMIS);
        return NULL;
    }
    map = json_object();
    if (map == NULL) {
        st_internal_error(resp);
        return NULL;
    }
    const char *id;
    json_t *v;
    json_object_foreach(in, id, v) {
        if (json_is_null(v)) /* PATCH semantics: null detaches */
            continue;
        if (!json_is_object(v)) {
            st_arm_error(resp, 400, "InvalidIdentity", "The value for '%.200s' must be an object ({}).", id);
            goto fail;
        }
        /* Identities already attached keep what was resolved; new ones are looked up and checked. */
        const char *kk;
        json_t *have = NULL, *kv;
        json_object_foreach(curmap, kk, kv) {
            if (strcasecmp(kk, id) == 0)
                have = kv;
        }
        if (have != NULL) {
            json_object_set_new(map, id, json_deep_copy(have));
            continue;
        }
        struct st_uami u;
        if (!st_uami_resolve(st, a, resp, who, id, &u))
            goto fail;
        json_object_set_new(map, id, json_pack("{s:s,s:s}", "principalId", u.principal_id, "clientId", u.client_id));
    }
    if (json_object_size(map) == 0) {
        st_arm_error(resp, 400, "InvalidIdentity", "Identity type UserAssigned needs at least one user-assigned identity.");
        goto fail;
    }
    out = json_pack("{s:s,s:o}", "type", sa ? "SystemAssigned,UserAssigned" : "UserAssigned", "userAssignedIdentities",
                    map);
    map = NULL;
    if (!sa)
        goto done;
system_assigned:
    /* The system-assigned identity the account already has stays. */
    if (out != NULL && st_identity_sa(cur) && ck_json_str(cur, "principalId") != NULL) {
        json_object_set_new(out, "principalId", json_string(ck_json_str(cur, "principalId")));
        json_object_set_new(out, "tenantId", json_string(ck_json_str(cur, "tenantId") ? ck_json_str(cur, "tenantId") : ""));
    }
done:
    if (out == NULL)
        st_internal_error(resp);
    return out;
fail:
    json_decref(map);
    return NULL;
}

/* 1 when id is a key of the identity's userAssignedIdentities (ARM ids compare without case). */
static int st_identity_has(const json_t *identity, const char *id)
{
    const char *k;
    json_t *v;
    json_object_foreach(ck_json_obj(identity, "userAssignedIdentities"), k, v) {
        if (strcasecmp(k, id) == 0)
            return 1;
    }
    return 0;
}

/* Key names in Key Vault: 1-127 letters, digits and dashes. Versions: 32 hex digits in Azure;
 * any 1-64 letters and digits here. */
static int st_kv_name_ok(const char *s, size_t max, int dashes)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && !(dashes && s[i] == '-'))
            return 0;
    }
    return 1;
}

static int st_vault_uri_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 9 || n > 256 || strncasecmp(s, "https://", 8) != 0 || s[8] == '/' || s[8] == ':')
        return 0;
    for (size_t i = 8; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '.' && c != '-' && c != ':' && c != '/' && c != '_')
            return 0;
    }
    return 1;
}

/* A string member, or NULL; *bad set when present but not a string. */
static const char *st_str_member(const json_t *o, const char *key, int *bad)
{
    json_t *v = ck_json_get_ci(o, key);
    if (v == NULL || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

/*
 * The account's encryption object after the request. cur is the stored object (NULL when
 * creating), in the request's (NULL when absent), identity the account identity after the
 * request. Returns a new object, or writes the error and returns NULL.
 */
static json_t *st_encryption_apply(struct ck_arena *a, struct ck_resp *resp, const json_t *cur, const json_t *in,
                                   const json_t *identity, int64_t now)
{
    json_t *e = NULL, *services;
    int bad = 0, infra;
    if (cur != NULL) {
        e = json_deep_copy(cur);
    } else {
        char *ts = st_iso(a, now);
        e = ts ? json_pack("{s:s,s:b,s:{s:{s:b,s:s,s:s},s:{s:b,s:s,s:s}}}", "keySource", "Microsoft.Storage",
                           "requireInfrastructureEncryption", 0, "services", "blob", "enabled", 1, "keyType", "Account",
                           "lastEnabledTime", ts, "file", "enabled", 1, "keyType", "Account", "lastEnabledTime", ts)
                : NULL;
    }
    if (e == NULL) {
        st_internal_error(resp);
        return NULL;
    }
    if (in != NULL && !json_is_null(in)) {
        if (!json_is_object(in)) {
            st_arm_error(resp, 400, "InvalidRequestContent", "properties.encryption must be an object.");
            goto fail;
        }
        if (!st_bool_member(resp, in, "requireInfrastructureEncryption", "encryption.requireInfrastructureEncryption",
                            &infra))
            goto fail;
        if (infra >= 0) {
            int have = json_is_true(json_object_get(e, "requireInfrastructureEncryption"));
            if (cur != NULL && infra != have) {
                st_arm_error(resp, 400, "InvalidRequestPropertyValue",
                             "requireInfrastructureEncryption can only be set when the account is created; it is %s "
                             "for this account.", have ? "true" : "false");
                goto fail;
            }
            json_object_set_new(e, "requireInfrastructureEncryption", json_boolean(infra));
        }
        json_t *svc = ck_json_get_ci(in, "services");
        if (svc != NULL && !json_is_null(svc)) {
            if (!json_is_object(svc)) {
                st_arm_error(resp, 400, "InvalidRequestContent", "encryption.services must be an object.");
                goto fail;
            }
            services = json_object_get(e, "services");
            if (!json_is_object(services)) {
                services = json_object();
                json_object_set_new(e, "services", services);
            }
            const char *k;
            json_t *v;
            json_object_foreach(svc, k, v) {
                const char *name = st_choice(k, st_services);
                int enabled;
                const char *kt;
                if (name == NULL || (!json_is_object(v) && !json_is_null(v))) {
                    st_arm_error(resp, 400, "InvalidRequestPropertyValue",
                                 "encryption.services may name blob, file, queue and table, each with an object.");
                    goto fail;
                }
                if (json_is_null(v))
                    continue;
                if (!st_bool_member(resp, v, "enabled", "encryption.services.*.enabled", &enabled))
                    goto fail;
                if (enabled == 0) {
                    st_arm_error(resp, 400, "InvalidRequestPropertyValue",
                                 "Encryption at rest is always on; encryption.services.%s.enabled cannot be false.", name);
                    goto fail;
                }
                static const char *const kts[] = {"Service", "Account", NULL};
                if (!st_enum_member(resp, v, "keyType", kts, "encryption.services.*.keyType", &kt))
                    goto fail;
                json_t *old = json_object_get(services, name);
                const char *oldkt = ck_json_str(old, "keyType");
                if (kt != NULL && strcmp(kt, "Account") != 0 && (strcmp(name, "blob") == 0 || strcmp(name, "file") == 0)) {
                    st_arm_error(resp, 400, "InvalidRequestPropertyValue",
                                 "encryption.services.%s.keyType must be 'Account'.", name);
                    goto fail;
                }
                if (kt != NULL && cur != NULL && oldkt != NULL && strcmp(kt, oldkt) != 0) {
                    st_arm_error(resp, 400, "InvalidRequestPropertyValue",
                                 "encryption.services.%s.keyType can only be set when the account is created.", name);
                    goto fail;
                }
                if (old == NULL) {
                    char *ts = st_iso(a, now);
                    json_object_set_new(services, name,
                                        json_pack("{s:b,s:s,s:s}", "enabled", 1, "keyType", kt ? kt : "Account",
                                                  "lastEnabledTime", ts ? ts : ""));
                }
            }
        }
        const char *src = NULL;
        static const char *const sources[] = {"Microsoft.Storage", "Microsoft.Keyvault", NULL};
        if (!st_enum_member(resp, in, "keySource", sources, "encryption.keySource", &src))
            goto fail;
        if (src != NULL)
            json_object_set_new(e, "keySource", json_string(src));
        json_t *kvp = ck_json_get_ci(in, "keyvaultproperties");
        if (kvp != NULL && !json_is_null(kvp)) {
            if (!json_is_object(kvp)) {
                st_arm_error(resp, 400, "InvalidRequestContent", "encryption.keyvaultproperties must be an object.");
                goto fail;
            }
            const char *kn = st_str_member(kvp, "keyname", &bad), *kver = st_str_member(kvp, "keyversion", &bad),
                       *uri = st_str_member(kvp, "keyvaulturi", &bad);
            if (bad) {
                st_arm_error(resp, 400, "InvalidRequestContent",
                             "encryption.keyvaultproperties keyname, keyversion and keyvaulturi must be strings.");
                goto fail;
            }
            json_t *old = json_object_get(e, "keyvaultproperties");
            json_t *nk = json_object();
            if (nk == NULL) {
                st_internal_error(resp);
                goto fail;
            }
            ck_json_set(nk, "keyname", json_string(kn ? kn : ck_json_str(old, "keyname") ? ck_json_str(old, "keyname") : ""));
            ck_json_set(nk, "keyversion", json_string(kver ? kver : ""));
            ck_json_set(nk, "keyvaulturi",
                        json_string(uri ? uri : ck_json_str(old, "keyvaulturi") ? ck_json_str(old, "keyvaulturi") : ""));
            /* Read-only fields survive only while the key stays the same. */
            if (old != NULL && st_streq_ci(ck_json_str(old, "keyname"), ck_json_str(nk, "keyname")) &&
                st_uri_eq(ck_json_str(old, "keyvaulturi"), ck_json_str(nk, "keyvaulturi")) &&
                st_streq_ci(ck_json_str(old, "keyversion"), ck_json_str(nk, "keyversion"))) {
                static const char *const ro[] = {"currentVersionedKeyIdentifier", "lastKeyRotationTimestamp",
                                                 "currentVersionedKeyExpirationTimestamp", NULL};
                for (size_t i = 0; ro[i] != NULL; i++) {
                    json_t *rv = json_object_get(old, ro[i]);
                    if (rv != NULL)
                        json_object_set(nk, ro[i], rv);
                }
            }
            json_object_set_new(e, "keyvaultproperties", nk);
        }
        json_t *eid = ck_json_get_ci(in, "identity");
        if (eid != NULL && !json_is_null(eid)) {
            if (!json_is_object(eid)) {
                st_arm_error(resp, 400, "InvalidRequestContent", "encryption.identity must be an object.");
                goto fail;
            }
            const char *ua = st_str_member(eid, "userAssignedIdentity", &bad),
                       *fc = st_str_member(eid, "federatedIdentityClientId", &bad);
            if (bad) {
                st_arm_error(resp, 400, "InvalidRequestContent",
                             "encryption.identity userAssignedIdentity and federatedIdentityClientId must be strings.");
                goto fail;
            }
            json_t *ni = json_object();
            if (ni == NULL) {
                st_internal_error(resp);
                goto fail;
            }
            if (ua != NULL && *ua != '\0')
                ck_json_set(ni, "userAssignedIdentity", json_string(ua));
            if (fc != NULL && *fc != '\0')
                ck_json_set(ni, "federatedIdentityClientId", json_string(fc));
            json_object_set_new(e, "identity", ni);
        }
    }
    /* The result must hold together. */
    const char *src = ck_json_str(e, "keySource");
    json_t *eid = json_object_get(e, "identity");
    const char *ua = ck_json_str(eid, "userAssignedIdentity"), *fc = ck_json_str(eid, "federatedIdentityClientId");
    if (ua != NULL && !st_identity_has(identity, ua)) {
        st_arm_error(resp, 400, "InvalidEncryptionIdentity",
                     "encryption.identity.userAssignedIdentity '%.200s' must be one of the account's user-assigned "
                     "identities (identity.userAssignedIdentities).", ua);
        goto fail;
    }
    if (fc != NULL && !ck_uuid_valid(fc)) {
        st_arm_error(resp, 400, "InvalidRequestPropertyValue",
                     "encryption.identity.federatedIdentityClientId must be the application (client) id, a GUID.");
        goto fail;
    }
    if (src != NULL && strcmp(src, "Microsoft.Keyvault") == 0) {
        json_t *kvp = json_object_get(e, "keyvaultproperties");
        const char *kn = ck_json_str(kvp, "keyname"), *kver = ck_json_str(kvp, "keyversion"),
                   *uri = ck_json_str(kvp, "keyvaulturi");
        if (kn == NULL || !st_kv_name_ok(kn, 127, 1)) {
            st_arm_error(resp, 400, "InvalidRequestPropertyValue",
                         "keySource Microsoft.Keyvault needs encryption.keyvaultproperties.keyname: 1-127 letters, "
                         "digits and dashes.");
            goto fail;
        }
        if (uri == NULL || !st_vault_uri_ok(uri)) {
            st_arm_error(resp, 400, "InvalidRequestPropertyValue",
                         "keySource Microsoft.Keyvault needs encryption.keyvaultproperties.keyvaulturi: the vault's "
                         "https:// URI.");
            goto fail;
        }
        if (kver != NULL && *kver != '\0' && !st_kv_name_ok(kver, 64, 0)) {
            st_arm_error(resp, 400, "InvalidRequestPropertyValue",
                         "encryption.keyvaultproperties.keyversion must be empty (follow the newest version) or a key "
                         "version id.");
            goto fail;
        }
        if (ua == NULL && (cur == NULL || !st_identity_sa(identity))) {
            st_arm_error(resp, 400, "InvalidEncryptionIdentity",
                         cur == NULL ? "keySource Microsoft.Keyvault at account creation needs "
                                       "encryption.identity.userAssignedIdentity (a system-assigned identity exists only "
                                       "once the account does)."
                                     : "keySource Microsoft.Keyvault needs encryption.identity.userAssignedIdentity, or "
                                       "a system-assigned identity on the account (identity.type SystemAssigned).");
            goto fail;
        }
        if (ua == NULL && fc != NULL) {
            st_arm_error(resp, 400, "InvalidEncryptionIdentity",
                         "encryption.identity.federatedIdentityClientId is used together with "
                         "encryption.identity.userAssignedIdentity, which is missing.");
            goto fail;
        }
    } else {
        /* Back to Microsoft-managed keys: the key reference goes (Azure clears it too). */
        json_object_del(e, "keyvaultproperties");
    }
    return e;
fail:
    json_decref(e);
    return NULL;
}

/* Other account properties kept and returned as given. */
static json_t *st_props_apply(struct ck_resp *resp, const json_t *cur, const json_t *in)
{
    json_t *p = cur ? json_deep_copy(cur) : json_pack("{s:s,s:b,s:s,s:b,s:b}", "accessTier", "Hot",
                                                      "supportsHttpsTrafficOnly", 1, "minimumTlsVersion", "TLS1_2",
                                                      "allowBlobPublicAccess", 0, "allowSharedKeyAccess", 1);
    const char *tier, *tls, *pna;
    int https, pub, shared;
    static const char *const pnas[] = {"Enabled", "Disabled", NULL};
    if (p == NULL) {
        st_internal_error(resp);
        return NULL;
    }
    if (in == NULL)
        return p;
    if (!st_enum_member(resp, in, "accessTier", st_tiers, "properties.accessTier", &tier) ||
        !st_enum_member(resp, in, "minimumTlsVersion", st_tls, "properties.minimumTlsVersion", &tls) ||
        !st_enum_member(resp, in, "publicNetworkAccess", pnas, "properties.publicNetworkAccess", &pna) ||
        !st_bool_member(resp, in, "supportsHttpsTrafficOnly", "properties.supportsHttpsTrafficOnly", &https) ||
        !st_bool_member(resp, in, "allowBlobPublicAccess", "properties.allowBlobPublicAccess", &pub) ||
        !st_bool_member(resp, in, "allowSharedKeyAccess", "properties.allowSharedKeyAccess", &shared))
        goto fail;
    if (shared == 0) {
        st_arm_error(resp, 400, "FeatureNotSupported",
                     "allowSharedKeyAccess false is not supported by this server yet; Shared Key and SAS stay on.");
        goto fail;
    }
    if (pna != NULL && strcmp(pna, "Disabled") == 0) {
        st_arm_error(resp, 400, "FeatureNotSupported",
                     "publicNetworkAccess Disabled is not supported by this server: it has no private endpoints.");
        goto fail;
    }
    if (tier != NULL)
        json_object_set_new(p, "accessTier", json_string(tier));
    if (tls != NULL)
        json_object_set_new(p, "minimumTlsVersion", json_string(tls));
    if (pna != NULL)
        json_object_set_new(p, "publicNetworkAccess", json_string(pna));
    if (https >= 0)
        json_object_set_new(p, "supportsHttpsTrafficOnly", json_boolean(https));
    if (pub >= 0)
        json_object_set_new(p, "allowBlobPublicAccess", json_boolean(pub));
    if (shared >= 0)
        json_object_set_new(p, "allowSharedKeyAccess", json_boolean(shared));
    return p;
fail:
    json_decref(p);
    return NULL;
}

/* ---- the customer-managed key (docs/cmk.md) ---- */

/* The ARM error for a failed link of the chain; details[0] carries the upstream code. */
static void st_cmk_error(struct ck_resp *resp, const struct st_kek_fail *f)
{
    static const struct {
        enum st_kek_link link;
        const char *code, *what;
    } map[] = {
        {ST_LINK_IDENTITY, "KeyVaultAuthenticationFailure", "The managed identity could not get a token"},
        {ST_LINK_VAULT, "KeyVaultVaultNotFound", "The key vault could not be used"},
        {ST_LINK_FIC, "KeyVaultAuthenticationFailure",
         "The federated identity credential of the application does not accept the managed identity's token"},
        {ST_LINK_SP, "KeyVaultAuthenticationFailure",
         "The application (federatedIdentityClientId) has no service principal in the key vault's tenant"},
        {ST_LINK_ROLE, "KeyVaultAuthenticationFailure",
         "The key vault refused the identity: it needs a role that allows get, wrapKey and unwrapKey (Key Vault "
         "Crypto Service Encryption User) on the vault or the key"},
        {ST_LINK_KEY, "KeyVaultEncryptionKeyNotFound", "The key cannot be used"},
        {ST_LINK_POLICY, "KeyVaultPolicyError", "The key vault must have soft delete and purge protection"},
    };
    const char *code = "InternalError", *what = "The customer-managed key could not be checked";
    int status = 500;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (map[i].link == f->link) {
            code = map[i].code;
            what = map[i].what;
            status = 400;
        }
    }
    if (f->link == ST_LINK_KEY && (strcmp(f->upstream, "InvalidKeyType") == 0 ||
                                   strcmp(f->upstream, "InvalidKeySize") == 0 ||
                                   strcmp(f->upstream, "KeyOperationForbidden") == 0))
        code = "InvalidKeyVaultKey";
    /* An answer of 5xx or 429 (not a refusal, not a missing host) may pass: retry. */
    if (f->transient && strcmp(f->upstream, "ConnectionFailed") != 0 && strcmp(f->upstream, "BackingOff") != 0 &&
        strcmp(f->upstream, "Timeout") != 0) {
        status = 503;
        code = "ServiceUnavailable";
    }
    char msg[1100];
    snprintf(msg, sizeof(msg), "%s (%s): %s.", what, st_kek_link_name(f->link), f->message);
    json_t *body = json_pack("{s:{s:s,s:s,s:[{s:s,s:s,s:s}]}}", "error", "code", code, "message", msg, "details",
                             "code", f->upstream[0] ? f->upstream : code, "target", st_kek_link_name(f->link),
                             "message", f->message);
    ck_resp_json(resp, status, body);
    json_decref(body);
}

/* The chain reference of an encryption object; identity is the account's id for a system-assigned
 * identity. Strings point into enc and uri_buf. */
static void st_cmk_ref(const json_t *enc, const char *arm_id, char *uri_buf, size_t ulen, struct st_kek_ref *ref)
{
    json_t *kvp = json_object_get(enc, "keyvaultproperties"), *eid = json_object_get(enc, "identity");
    snprintf(uri_buf, ulen, "%s", ck_json_str(kvp, "keyvaulturi") ? ck_json_str(kvp, "keyvaulturi") : "");
    size_t n = strlen(uri_buf);
    while (n > 0 && uri_buf[n - 1] == '/')
        uri_buf[--n] = '\0';
    ref->vault_uri = uri_buf;
    ref->key_name = ck_json_str(kvp, "keyname");
    ref->key_version = ck_json_str(kvp, "keyversion") ? ck_json_str(kvp, "keyversion") : "";
    ref->identity = ck_json_str(eid, "userAssignedIdentity") ? ck_json_str(eid, "userAssignedIdentity") : arm_id;
    ref->client_id = ck_json_str(eid, "federatedIdentityClientId");
}

/* 1 when the customer key settings of enc differ from cur's (or cur has none in effect). */
static int st_cmk_moved(const json_t *cur, const json_t *enc, int cur_wrapped, const char *arm_id)
{
    struct st_kek_ref a, b;
    char ua[600], ub[600];
    if (!cur_wrapped || cur == NULL)
        return 1;
    st_cmk_ref(cur, arm_id, ua, sizeof(ua), &a);
    st_cmk_ref(enc, arm_id, ub, sizeof(ub), &b);
    return !st_uri_eq(a.vault_uri, b.vault_uri) || !st_streq_ci(a.key_name, b.key_name) ||
           !st_streq_ci(a.key_version, b.key_version) || !st_streq_ci(a.identity, b.identity) ||
           !((a.client_id == NULL && b.client_id == NULL) ||
             (a.client_id != NULL && b.client_id != NULL && strcasecmp(a.client_id, b.client_id) == 0));
}

/*
 * Proves the customer key enc names can be used (docs/cmk.md steps 1-5) and wraps aek under it:
 * the key is read with a fresh chain and checked, the AEK wrapped, and the wrapping unwrapped again
 * (the identity must be able to unwrap, not only wrap). Sets the read-only key fields of enc.
 * Fills *wrap (ck_malloc'd) and *kid (ck_strdup'd). Writes the error and returns 0.
 */
static int st_cmk_prepare(struct st *st, struct ck_resp *resp, const char *account, json_t *enc, const char *arm_id,
                          const struct ck_secret *aek, struct ck_bytes *wrap, char **kid)
{
    struct st_kek_ref ref;
    struct st_kek_key key;
    struct st_kek_fail f;
    struct ck_secret *back = NULL;
    char uri[600], corr[37], corr2[37], ts[40];
    memset(&f, 0, sizeof(f));
    st_cmk_ref(enc, arm_id, uri, sizeof(uri), &ref);
    if (st_kek_get_key(st, &ref, 1, &key, &f) != CK_OK || st_kek_key_usable(&key, ck_time_now(), &f) != CK_OK)
        goto fail;
    ref.key_version = key.version;
    if (st_kek_wrap(st, &ref, key.version, aek, wrap, corr, &f) != CK_OK)
        goto fail;
    if (st_kek_unwrap(st, &ref, key.version, wrap->ptr, wrap->len, 0, &back, corr2, &f) != CK_OK)
        goto fail;
    if (!ck_ct_equal(ck_secret_ptr(back), ck_secret_len(back), ck_secret_ptr(aek), ck_secret_len(aek))) {
        f.link = ST_LINK_KEY;
        f.transient = 0;
        snprintf(f.upstream, sizeof(f.upstream), "UnwrapMismatch");
        snprintf(f.message, sizeof(f.message), "the key %.300s did not give back what it wrapped", key.kid);
        goto fail;
    }
    ck_secret_free(back);
    json_t *kvp = json_object_get(enc, "keyvaultproperties");
    json_object_set_new(kvp, "currentVersionedKeyIdentifier", json_string(key.kid));
    json_object_set_new(kvp, "lastKeyRotationTimestamp", json_string(ck_time_iso8601(ck_time_now(), ts, sizeof(ts))));
    if (key.exp != 0)
        json_object_set_new(kvp, "currentVersionedKeyExpirationTimestamp",
                            json_string(ck_time_iso8601(key.exp, ts, sizeof(ts))));
    else
        json_object_del(kvp, "currentVersionedKeyExpirationTimestamp");
    if ((*kid = ck_strdup(key.kid)) == NULL) {
        ck_free(wrap->ptr);
        wrap->ptr = NULL;
        st_internal_error(resp);
        return 0;
    }
    ck_log(CK_LOG_INFO, "storage: account %s: AEK wrapped under %s (wrap %s, unwrap %s)", account, key.kid, corr, corr2);
    return 1;
fail:
    ck_secret_free(back);
    ck_free(wrap->ptr);
    wrap->ptr = NULL;
    ck_log(CK_LOG_WARN, "storage: account %s: the customer-managed key was refused (%s, %s): %s", account,
           st_kek_link_name(f.link), f.upstream, f.message);
    st_cmk_error(resp, &f);
    return 0;
}

/* ---- responses ---- */

static const char *st_origin(struct st *st, struct ck_arena *a)
{
    const char *o = st_blob_origin(st);
    if (o != NULL && *o != '\0')
        return o;
    return ck_arena_printf(a, "https://%s:%u", st->public_host, st->cfg.blob_port ? st->cfg.blob_port : 10443);
}

static json_t *st_account_json(struct st *st, struct ck_arena *a, const struct st_account_row *r)
{
    json_t *props = st_parse_text(r->properties);
    json_t *enc = st_parse_text(r->encryption);
    json_t *identity = st_parse_text(r->identity);
    const char *origin = st_origin(st, a);
    char *created = st_iso(a, r->created_at), *k1 = st_iso(a, r->key1_time), *k2 = st_iso(a, r->key2_time);
    char *blob = ck_arena_printf(a, "%s/%s/", origin ? origin : "", r->name);
    if (ck_json_str(identity, "type") == NULL) {
        json_decref(identity);
        identity = json_pack("{s:s}", "type", "None");
    }
    if (props != NULL && created != NULL && k1 != NULL && k2 != NULL && blob != NULL) {
        json_object_set_new(props, "provisioningState", json_string("Succeeded"));
        json_object_set_new(props, "creationTime", json_string(created));
        json_object_set_new(props, "primaryLocation", json_string(r->location));
        json_object_set_new(props, "statusOfPrimary", json_string("available"));
        json_object_set_new(props, "primaryEndpoints", json_pack("{s:s}", "blob", blob));
        json_object_set_new(props, "keyCreationTime", json_pack("{s:s,s:s}", "key1", k1, "key2", k2));
        json_object_set_new(props, "networkAcls", json_pack("{s:s,s:s,s:[],s:[]}", "bypass", "AzureServices",
                                                            "defaultAction", "Allow", "ipRules", "virtualNetworkRules"));
        json_object_set(props, "encryption", enc);
        json_t *ks = st_ks_json(st, r->name);
        if (ks != NULL)
            json_object_set_new(props, "keyState", ks);
    }
    json_decref(enc);
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:{s:s,s:s},s:s,s:o,s:o}", "id", r->arm_id, "name", r->name, "type",
                     ST_FULL_TYPE, "location", r->location, "tags", st_parse_text(r->tags), "sku", "name", r->sku,
                     "tier", strncmp(r->sku, "Premium", 7) == 0 ? "Premium" : "Standard", "kind", r->kind, "identity",
                     identity ? identity : json_object(), "properties", props ? props : json_object());
}

static void st_reply_account(struct st *st, struct ck_req *req, struct ck_resp *resp, const char *name, int status)
{
    struct st_account_row r;
    struct ck_arena *a = ck_req_arena(req);
    if (st_account_row_get(st, a, name, &r) != CK_OK) {
        st_internal_error(resp);
        return;
    }
    json_t *o = st_account_json(st, a, &r);
    if (o == NULL) {
        st_internal_error(resp);
        return;
    }
    ck_resp_json(resp, status, o);
    json_decref(o);
}

static void st_keys_reply(struct st *st, struct ck_req *req, struct ck_resp *resp, const char *name)
{
    struct ck_arena *a = ck_req_arena(req);
    struct ck_secret *k1 = NULL, *k2 = NULL;
    struct st_account_row r;
    char *b1 = NULL, *b2 = NULL;
    json_t *o = NULL;
    if (st_account_row_get(st, a, name, &r) != CK_OK || st_account_keys(st, name, &k1, &k2) != CK_OK) {
        st_internal_error(resp);
        goto out;
    }
    b1 = ck_b64_encode(ck_secret_ptr(k1), ck_secret_len(k1));
    b2 = ck_b64_encode(ck_secret_ptr(k2), ck_secret_len(k2));
    char *t1 = st_iso(a, r.key1_time), *t2 = st_iso(a, r.key2_time);
    if (b1 == NULL || b2 == NULL || t1 == NULL || t2 == NULL ||
        (o = json_pack("{s:[{s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s}]}", "keys", "keyName", "key1", "value", b1, "permissions",
                       "FULL", "creationTime", t1, "keyName", "key2", "value", b2, "permissions", "FULL",
                       "creationTime", t2)) == NULL) {
        st_internal_error(resp);
        goto out;
    }
    ck_resp_json(resp, 200, o);
out:
    /* The response holds its own copy; every other copy of the keys is wiped. */
    if (o != NULL) {
        json_t *keys = json_object_get(o, "keys"), *k;
        size_t i;
        json_array_foreach(keys, i, k) {
            const char *v = ck_json_str(k, "value");
            if (v != NULL)
                ck_wipe((void *)v, strlen(v));
        }
    }
    json_decref(o);
    if (b1 != NULL)
        ck_freezero(b1, strlen(b1));
    if (b2 != NULL)
        ck_freezero(b2, strlen(b2));
    ck_secret_free(k1);
    ck_secret_free(k2);
}

/* ---- operations ---- */

struct st_rp_path {
    char *sub, *rg, *name, *action;
};

/* The account of the path, or a 404 written. */
static int st_rp_account(struct st *st, struct ck_req *req, struct ck_resp *resp, const struct st_rp_path *p,
                         struct st_account_row *r)
{
    int rc = st_account_row_get(st, ck_req_arena(req), p->name, r);
    if (rc == CK_OK && !r->dev && strcasecmp(r->sub, p->sub) == 0 && strcasecmp(r->rg, p->rg) == 0)
        return 1;
    if (rc != CK_OK && rc != CK_E_NOT_FOUND) {
        st_internal_error(resp);
        return 0;
    }
    st_arm_error(resp, 404, "ResourceNotFound",
                 "The Resource '" ST_FULL_TYPE "/%.64s' under resource group '%.90s' was not found.", p->name, p->rg);
    return 0;
}

static void st_rp_list(struct st *st, struct ck_req *req, struct ck_resp *resp, const struct st_rp_path *p)
{
    struct ck_arena *a = ck_req_arena(req);
    char **names = NULL;
    int n = 0;
    json_t *arr = json_array();
    if (arr == NULL || st_account_names(st, a, p->sub, p->rg, &names, &n) != CK_OK) {
        json_decref(arr);
        st_internal_error(resp);
        return;
    }
    for (int i = 0; i < n; i++) {
        struct st_account_row r;
        if (st_account_row_get(st, a, names[i], &r) == CK_OK)
            json_array_append_new(arr, st_account_json(st, a, &r));
    }
    json_t *o = json_pack("{s:o}", "value", arr);
    ck_resp_json(resp, 200, o);
    json_decref(o);
}

/* PUT (create, or update an existing account of the same group) and PATCH; the caller holds the
 * account's write lock. */
static void st_rp_write_locked(struct st *st, struct ck_req *req, struct ck_resp *resp, const struct st_rp_path *p,
                               const json_t *body, int is_put)
{
    struct ck_arena *a = ck_req_arena(req);
    struct st_account_row cur, nr;
    struct st_caller who = {ck_req_header(req, "x-ms-client-principal-id"), ck_req_header(req, "x-ms-client-tenant-id"),
                            ck_req_header(req, "x-ms-home-tenant-id")};
    json_t *props_in = ck_json_get_ci(body, "properties");
    json_t *cur_identity = NULL, *identity = NULL, *enc = NULL, *props = NULL, *tags = NULL, *cur_enc = NULL,
           *cur_props = NULL;
    const char *sku = NULL, *kind = NULL, *arm_id = NULL;
    int exists, rc, sa_made = 0;
    struct ck_secret *aek = NULL;
    struct ck_bytes wrap = {0};
    char *kek_kid = NULL;

    memset(&nr, 0, sizeof(nr));
    rc = st_account_row_get(st, a, p->name, &cur);
    if (rc != CK_OK && rc != CK_E_NOT_FOUND) {
        st_internal_error(resp);
        return;
    }
    exists = rc == CK_OK;
    if (exists && (cur.dev || strcasecmp(cur.sub, p->sub) != 0 || strcasecmp(cur.rg, p->rg) != 0)) {
        st_arm_error(resp, 409, "StorageAccountAlreadyTaken", ST_NAME_TAKEN_FMT, p->name);
        return;
    }
    if (!exists && strcmp(p->name, ST_DEV_ACCOUNT) == 0) {
        /* Reserved for --dev-account, whether or not it is on. */
        st_arm_error(resp, 409, "StorageAccountAlreadyTaken", ST_NAME_TAKEN_FMT, p->name);
        return;
    }
    if (!exists && !is_put) {
        st_arm_error(resp, 404, "ResourceNotFound",
                     "The Resource '" ST_FULL_TYPE "/%.64s' under resource group '%.90s' was not found.", p->name, p->rg);
        return;
    }
    if (!exists && who.home == NULL) {
        st_arm_error(resp, 400, "InvalidRequest", "The subscription's tenant (x-ms-home-tenant-id) is missing.");
        return;
    }
    if (props_in != NULL && !json_is_null(props_in) && !json_is_object(props_in)) {
        st_arm_error(resp, 400, "InvalidRequestContent", "'properties' must be an object.");
        return;
    }
    if (json_is_null(props_in))
        props_in = NULL;
    const char *location = NULL;
    json_t *jl = ck_json_get_ci(body, "location");
    if (jl != NULL && !json_is_null(jl)) {
        if (!json_is_string(jl) || json_string_length(jl) == 0 || json_string_length(jl) > 64) {
            st_arm_error(resp, 400, "InvalidRequestContent", "location must be a non-empty string.");
            return;
        }
        location = json_string_value(jl);
    }
    if (is_put && location == NULL) {
        st_arm_error(resp, 400, "LocationRequired", "The location property is required for this definition.");
        return;
    }
    if (exists && location != NULL && strcasecmp(location, cur.location) != 0) {
        st_arm_error(resp, 409, "InvalidResourceLocation",
                     "The resource '%.64s' already exists in location '%.64s'. A resource with the same name cannot be "
                     "created in location '%.64s'.", p->name, cur.location, location);
        return;
    }
    json_t *jsku = ck_json_get_ci(body, "sku");
    if (jsku != NULL && !json_is_null(jsku)) {
        if (!json_is_object(jsku) || !st_enum_member(resp, jsku, "name", st_skus, "sku.name", &sku))
            goto bad_sku;
        if (sku == NULL)
            goto bad_sku;
    } else if (is_put && !exists) {
        goto bad_sku;
    }
    if (exists && sku != NULL && strncmp(sku, cur.sku, 7) != 0) {
        st_arm_error(resp, 400, "InvalidRequestPropertyValue",
                     "The account is %s; it cannot change to %s.", cur.sku, sku);
        return;
    }
    if (!st_enum_member(resp, body, "kind", st_kinds, "kind", &kind))
        return;
    if (exists && kind != NULL && strcmp(kind, cur.kind) != 0) {
        st_arm_error(resp, 400, "InvalidRequestPropertyValue", "The account kind is %s; it cannot change to %s.",
                     cur.kind, kind);
        return;
    }
    if (!st_tags(resp, body, &tags))
        return;
    if (exists) {
        cur_identity = st_parse_text(cur.identity);
        cur_enc = st_parse_text(cur.encryption);
        cur_props = st_parse_text(cur.properties);
    } else {
        cur_identity = json_pack("{s:s}", "type", "None");
    }
    int64_t now = ck_time_now();
    if ((identity = st_identity_apply(st, a, resp, &who, cur_identity, ck_json_get_ci(body, "identity"))) == NULL)
        goto out;
    if ((enc = st_encryption_apply(a, resp, exists ? cur_enc : NULL, ck_json_get_ci(props_in, "encryption"), identity,
                                   now)) == NULL)
        goto out;
    /* A federated client id that this request sets or changes needs the feature. */
    {
        const char *fc = ck_json_str(json_object_get(enc, "identity"), "federatedIdentityClientId");
        const char *was = exists ? ck_json_str(json_object_get(cur_enc, "identity"), "federatedIdentityClientId") : NULL;
        if (fc != NULL && (was == NULL || strcasecmp(fc, was) != 0) && !st_fic_feature_ok(st, a, resp, p->sub))
            goto out;
    }
    if ((props = st_props_apply(resp, exists ? cur_props : NULL, props_in)) == NULL)
        goto out;
    /* Every check has passed. A system-assigned identity the account is to get is made now, before
     * the row names it; the call is idempotent by the account's id, so a retry after a failure or a
     * crash gets the same identity. */
    arm_id = exists ? cur.arm_id
                    : ck_arena_printf(a, "/subscriptions/%s/resourceGroups/%s/providers/" ST_FULL_TYPE "/%s", p->sub,
                                      p->rg, p->name);
    if (arm_id == NULL) {
        st_internal_error(resp);
        goto out;
    }
    if (st_identity_sa(identity) && ck_json_str(identity, "principalId") == NULL) {
        if (!st_sa_ensure(st, a, resp, arm_id, exists ? cur.tenant_id : who.home, exists ? cur.location : location,
                          identity))
            goto out;
        sa_made = 1;
    }
    /* The customer key: a change that sets or moves it is proven and the AEK wrapped under it first;
     * a switch back to Microsoft.Storage wraps the AEK under the root key again. */
    {
        const char *src = ck_json_str(enc, "keySource");
        int new_cmk = src != NULL && strcmp(src, "Microsoft.Keyvault") == 0;
        int cur_wrapped = exists && cur.aek_kek != NULL;
        struct st_kek_fail f;
        if (new_cmk && st_cmk_moved(exists ? cur_enc : NULL, enc, cur_wrapped, arm_id)) {
            if (!exists)
                rc = ck_rand_secret(ST_AEK_LEN, &aek);
            else
                rc = st_ks_current_aek(st, p->name, &aek, &f);
            if (rc != CK_OK) {
                if (exists && f.link != ST_LINK_NONE)
                    st_cmk_error(resp, &f);
                else
                    st_internal_error(resp);
                goto out;
            }
            if (!st_cmk_prepare(st, resp, p->name, enc, arm_id, aek, &wrap, &kek_kid))
                goto out;
        } else if (!new_cmk && cur_wrapped) {
            memset(&f, 0, sizeof(f));
            if ((rc = st_ks_current_aek(st, p->name, &aek, &f)) != CK_OK) {
                if (f.link != ST_LINK_NONE) {
                    st_cmk_error(resp, &f);
                } else {
                    st_internal_error(resp);
                }
                goto out;
            }
            if (ck_aes_kw_wrap(st->root_key, ck_secret_ptr(aek), ck_secret_len(aek), &wrap) != CK_OK) {
                st_internal_error(resp);
                goto out;
            }
        }
    }
    const char *old_sa = st_identity_sa(cur_identity) ? ck_json_str(cur_identity, "principalId") : NULL;
    char *tags_s = tags ? ck_json_dump(tags) : NULL, *id_s = ck_json_dump(identity), *enc_s = ck_json_dump(enc),
         *props_s = ck_json_dump(props);
    if ((tags != NULL && tags_s == NULL) || id_s == NULL || enc_s == NULL || props_s == NULL) {
        st_internal_error(resp);
    } else if (exists) {
        nr = cur;
        if (tags_s != NULL)
            nr.tags = tags_s;
        nr.identity = id_s;
        nr.encryption = enc_s;
        nr.properties = props_s;
        if (sku != NULL)
            nr.sku = (char *)sku;
        if (wrap.ptr != NULL) {
            nr.set_wrap = 1;
            nr.wrap = wrap.ptr;
            nr.wrap_len = wrap.len;
            nr.aek_kek = kek_kid; /* NULL: back under the root key */
        }
        rc = st_account_update(st, &nr);
        if (rc != CK_OK) {
            st_internal_error(resp);
        } else {
            /* The row no longer names the old system-assigned identity: it can go. */
            if (old_sa != NULL && ck_json_str(identity, "principalId") == NULL)
                st_sa_remove(st, a, arm_id, old_sa);
            if (wrap.ptr != NULL) {
                ck_log(CK_LOG_INFO, "storage: account %s: AEK now under %s", p->name,
                       kek_kid ? kek_kid : "the root key");
                st_ks_changed(st, p->name, aek);
            }
            st_reply_account(st, req, resp, p->name, 200);
        }
    } else {
        nr.name = p->name;
        nr.arm_id = (char *)arm_id;
        nr.sub = p->sub;
        nr.rg = p->rg;
        nr.tenant_id = (char *)(who.home ? who.home : "");
        nr.location = (char *)location;
        nr.kind = (char *)(kind ? kind : "StorageV2");
        nr.sku = (char *)sku;
        nr.tags = tags_s ? tags_s : "{}";
        nr.identity = id_s;
        nr.encryption = enc_s;
        nr.properties = props_s;
        if (wrap.ptr != NULL) {
            nr.set_wrap = 1;
            nr.wrap = wrap.ptr;
            nr.wrap_len = wrap.len;
            nr.aek_kek = kek_kid;
        }
        if ((rc = st_account_insert(st, &nr)) == CK_E_EXISTS) {
            st_arm_error(resp, 409, "StorageAccountAlreadyTaken", ST_NAME_TAKEN_FMT, p->name);
        } else if (rc != CK_OK) {
            st_internal_error(resp);
        } else {
            ck_log(CK_LOG_INFO, "storage: account %s created (AEK under %s)", p->name,
                   kek_kid ? kek_kid : "the root key");
            st_ks_changed(st, p->name, aek);
            st_reply_account(st, req, resp, p->name, 201);
        }
    }
    if (sa_made && ck_resp_get_status(resp) >= 300)
        ck_log(CK_LOG_WARN, "storage: account %s was not written; the system-assigned identity made for it stays "
               "(a retry uses it)", p->name);
    free(tags_s);
    free(id_s);
    free(enc_s);
    free(props_s);
out:
    ck_secret_free(aek);
    ck_free(wrap.ptr);
    ck_free(kek_kid);
    json_decref(cur_identity);
    json_decref(cur_enc);
    json_decref(cur_props);
    json_decref(identity);
    json_decref(enc);
    json_decref(props);
    json_decref(tags);
    return;
bad_sku:
    if (ck_resp_get_status(resp) == 0)
        st_arm_error(resp, 400, "InvalidRequestPropertyValue",
                     "sku.name is required: one of Standard_LRS, Standard_GRS, Standard_RAGRS, Standard_ZRS, "
                     "Premium_LRS, Premium_ZRS, Standard_GZRS, Standard_RAGZRS.");
}

static void st_rp_write(struct st *st, struct ck_req *req, struct ck_resp *resp, const struct st_rp_path *p,
                        const json_t *body, int is_put)
{
    st_acct_lock(st, p->name);
    st_rp_write_locked(st, req, resp, p, body, is_put);
    st_acct_unlock(st, p->name);
}

static void st_rp_check_name(struct st *st, struct ck_req *req, struct ck_resp *resp, const json_t *body)
{
    struct st_account_row r;
    const char *name = ck_json_str(body, "name"), *type = ck_json_str(body, "type");
    json_t *o;
    if (name == NULL || (type != NULL && strcasecmp(type, ST_FULL_TYPE) != 0)) {
        st_arm_error(resp, 400, "InvalidRequestContent",
                     "The body must be {\"name\": \"...\", \"type\": \"" ST_FULL_TYPE "\"}.");
        return;
    }
    if (!st_name_ok(name)) {
        char msg[300];
        snprintf(msg, sizeof(msg), ST_NAME_INVALID_FMT, name);
        o = json_pack("{s:b,s:s,s:s}", "nameAvailable", 0, "reason", "AccountNameInvalid", "message", msg);
    } else {
        int rc = st_account_row_get(st, ck_req_arena(req), name, &r);
        if (rc != CK_OK && rc != CK_E_NOT_FOUND) {
            st_internal_error(resp);
            return;
        }
        if (rc == CK_OK || strcmp(name, ST_DEV_ACCOUNT) == 0) {
            char msg[200];
            snprintf(msg, sizeof(msg), ST_NAME_TAKEN_FMT, name);
            o = json_pack("{s:b,s:s,s:s}", "nameAvailable", 0, "reason", "AlreadyExists", "message", msg);
        } else {
            o = json_pack("{s:b}", "nameAvailable", 1);
        }
    }
    ck_resp_json(resp, 200, o);
    json_decref(o);
}

static void st_rp_action(struct st *st, struct ck_req *req, struct ck_resp *resp, const struct st_rp_path *p,
                         const json_t *body)
{
    struct st_account_row r;
    const char *method = ck_req_method(req);
    if (strcmp(method, "POST") != 0) {
        st_arm_error(resp, 405, "MethodNotAllowed", "Method %s is not allowed on '%.64s'.", method, p->action);
        return;
    }
    if (strcasecmp(p->action, "listKeys") != 0 && strcasecmp(p->action, "regenerateKey") != 0) {
        st_arm_error(resp, 404, "InvalidResourceType", "No operation '%.64s' on storage accounts.", p->action);
        return;
    }
    if (!st_rp_account(st, req, resp, p, &r))
        return;
    if (strcasecmp(p->action, "regenerateKey") == 0) {
        const char *kn = ck_json_str(body, "keyName");
        int slot = kn == NULL ? 0 : strcasecmp(kn, "key1") == 0 ? 1 : strcasecmp(kn, "key2") == 0 ? 2 : 0;
        if (slot == 0) {
            st_arm_error(resp, 400, "InvalidValuesForRequestParameters",
                         "keyName must be 'key1' or 'key2' (Kerberos keys are not supported).");
            return;
        }
        if (st_account_regenerate(st, r.name, slot) != CK_OK) {
            st_internal_error(resp);
            return;
        }
        ck_log(CK_LOG_INFO, "storage: account %s: key%d regenerated", r.name, slot);
    }
    st_keys_reply(st, req, resp, r.name);
}

/* "/subscriptions/{s}/providers/Microsoft.Storage/checkNameAvailability" */
static int st_is_check_name(struct ck_arena *a, const char *path)
{
    char *seg[8];
    int n = ck_path_segments(a, path, seg, 8);
    return n == 5 && strcasecmp(seg[0], "subscriptions") == 0 && strcasecmp(seg[2], "providers") == 0 &&
           strcasecmp(seg[3], ST_NS) == 0 && strcasecmp(seg[4], "checkNameAvailability") == 0;
}

void st_handle_rp(struct st *st, struct ck_req *req, struct ck_resp *resp)
{
    struct ck_arena *a = ck_req_arena(req);
    struct ck_arm_path ap;
    struct st_rp_path p;
    const char *method = ck_req_method(req);
    const char *path = ck_req_path(req) + strlen("/rp/storage");
    json_t *body = NULL;
    size_t len = 0;
    char err[256];

    if (!ck_shared_key_ok(ck_req_header(req, "Authorization"), "RP", st->rp_key)) {
        st_arm_error(resp, 401, "AuthenticationFailed", "Only the resource manager may call the resource provider.");
        return;
    }
    const char *caller = ck_req_header(req, "x-ms-client-principal-id");
    if (caller != NULL)
        ck_req_set_principal(req, caller);
    /* Role-assignment notices from ARM: storage keeps no authorization state for accounts yet. */
    if (strcmp(path, "/notifications") == 0 && strcmp(method, "POST") == 0) {
        ck_resp_status(resp, 204);
        return;
    }
    /* Bodies of PUT, PATCH and POST are JSON objects; an empty POST body reads as {}. */
    if (strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0 || strcmp(method, "POST") == 0) {
        const char *text = ck_req_body(req, &len);
        if (len == 0 && strcmp(method, "POST") == 0)
            body = json_object();
        else
            body = ck_json_parse_object(text, len, err, sizeof(err));
        if (body == NULL) {
            st_arm_error(resp, 400, "InvalidRequestContent",
                         "The request content was invalid and could not be deserialized: %s.", len ? err : "empty body");
            return;
        }
    }
    if (st_is_check_name(a, path)) {
        if (strcmp(method, "POST") != 0)
            st_arm_error(resp, 405, "MethodNotAllowed", "checkNameAvailability takes POST.");
        else
            st_rp_check_name(st, req, resp, body);
        goto out;
    }
    if (ck_arm_path_parse(a, path, ST_NS, ST_TYPE, &ap) != 0 || ap.more > 0) {
        st_arm_error(resp, 404, "InvalidResourceType",
                     "The resource type could not be found in the namespace '" ST_NS "'.");
        goto out;
    }
    p.sub = ap.sub;
    p.rg = ap.rg;
    p.name = ap.name;
    p.action = ap.child;
    if (p.name == NULL) {
        if (strcmp(method, "GET") == 0)
            st_rp_list(st, req, resp, &p);
        else
            st_arm_error(resp, 405, "MethodNotAllowed", "Method %s is not allowed on a collection.", method);
        goto out;
    }
    if (p.rg == NULL) {
        st_arm_error(resp, 404, "InvalidResourceType", "Storage accounts live in a resource group.");
        goto out;
    }
    if (!st_name_ok(p.name)) {
        if (strcmp(method, "PUT") == 0)
            st_arm_error(resp, 400, "AccountNameInvalid", ST_NAME_INVALID_FMT, p.name);
        else if (strcmp(method, "DELETE") == 0)
            ck_resp_status(resp, 204);
        else
            st_arm_error(resp, 404, "ResourceNotFound",
                         "The Resource '" ST_FULL_TYPE "/%.64s' under resource group '%.90s' was not found.", p.name,
                         p.rg);
        goto out;
    }
    if (p.action != NULL) {
        st_rp_action(st, req, resp, &p, body);
    } else if (strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
        st_rp_write(st, req, resp, &p, body, strcmp(method, "PUT") == 0);
    } else if (strcmp(method, "GET") == 0) {
        struct st_account_row r;
        if (st_rp_account(st, req, resp, &p, &r)) {
            json_t *o = st_account_json(st, a, &r);
            if (o == NULL)
                st_internal_error(resp);
            else
                ck_resp_json(resp, 200, o);
            json_decref(o);
        }
    } else if (strcmp(method, "DELETE") == 0) {
        struct st_account_row r;
        int rc = st_account_row_get(st, a, p.name, &r);
        if (rc == CK_E_NOT_FOUND || (rc == CK_OK && (r.dev || strcasecmp(r.sub, p.sub) != 0 ||
                                                     strcasecmp(r.rg, p.rg) != 0))) {
            ck_resp_status(resp, 204);
        } else if (rc != CK_OK || (rc = st_account_delete(st, p.name)) != CK_OK) {
            if (rc == CK_E_NOT_FOUND)
                ck_resp_status(resp, 204);
            else
                st_internal_error(resp);
        } else {
            ck_log(CK_LOG_INFO, "storage: account %s deleted", p.name);
            st_ks_forget(st, p.name);
            /* After the commit: a crash here leaves an unused identity, never an account without one. */
            json_t *idj = st_parse_text(r.identity);
            if (st_identity_sa(idj) && ck_json_str(idj, "principalId") != NULL)
                st_sa_remove(st, a, r.arm_id, ck_json_str(idj, "principalId"));
            json_decref(idj);
            ck_resp_status(resp, 200);
        }
    } else {
        st_arm_error(resp, 405, "MethodNotAllowed", "Method %s is not allowed.", method);
    }
out:
    json_decref(body);
}
