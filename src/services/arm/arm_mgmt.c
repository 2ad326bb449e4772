/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Microsoft.Resources and Microsoft.Features as ARM serves them itself: subscriptions (GET, list),
 * resource groups (PUT, GET, HEAD, list, DELETE with cascade), provider registration and feature
 * registration per subscription (wire reference C.2, C.3). Registration completes at once: state
 * goes straight to "Registered", which is what a script polling GET waits for.
 */
#include "services/arm/arm_int.h"
#include "core/codec.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <strings.h>

/* Wall-clock milliseconds (the test clock's offset included), to order registrations. */
static int64_t arm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + (ck_time_now() - (int64_t)ts.tv_sec) * 1000;
}

#define ARM_RG_NAME_MAX 90

/* ---- subscriptions ---- */

static json_t *arm_sub_json(const struct arm_sub *s)
{
    char id[96];
    snprintf(id, sizeof(id), "/subscriptions/%s", s->id);
    return json_pack("{s:s,s:s,s:[],s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s}}", "id", id, "authorizationSource", "RoleBased",
                     "managedByTenants", "subscriptionId", s->id, "tenantId", s->tenant_id, "displayName",
                     s->display_name, "state", "Enabled", "subscriptionPolicies", "locationPlacementId",
                     "Public_2014-09-01", "quotaId", "PayAsYouGo_2014-09-01", "spendingLimit", "Off");
}

static void arm_sub_list(struct arm_call *c)
{
    struct ck_db_stmt *st = NULL;
    json_t *arr = json_array();
    int s;
    ck_db_lock(c->arm->db);
    if (arr == NULL ||
        ck_db_prepare(c->arm->db,
                      "SELECT id, tenant_id, display_name FROM subscriptions WHERE tenant_id = lower(?1) ORDER BY created_at",
                      &st) != CK_OK ||
        ck_db_bind_text(st, 1, c->claims.tid) != CK_OK) {
        s = -1;
        goto out;
    }
    while ((s = ck_db_step(st)) == 1) {
        struct arm_sub sub;
        char scope[96];
        snprintf(sub.id, sizeof(sub.id), "%s", ck_db_col_text(st, 0));
        snprintf(sub.tenant_id, sizeof(sub.tenant_id), "%s", ck_db_col_text(st, 1));
        snprintf(sub.display_name, sizeof(sub.display_name), "%s", ck_db_col_text(st, 2));
        snprintf(scope, sizeof(scope), "/subscriptions/%s", sub.id);
        int any = arm_has_any_access(c->arm, c->claims.tid, c->claims.oid, scope);
        if (any < 0) {
            s = -1;
            break;
        }
        if (any)
            json_array_append_new(arr, arm_sub_json(&sub));
    }
out:
    arm_finish_list(c, st, arr, s);
}

void arm_handle_subscriptions(struct arm_call *c)
{
    struct arm_sub sub;
    char *scope;
    int any;
    if (strcmp(c->method, "GET") != 0) {
        arm_reply_error(c, 405, "MethodNotAllowed", "The requested method is not allowed for subscriptions.");
        return;
    }
    if (c->nseg == 1) {
        arm_sub_list(c);
        return;
    }
    if (arm_load_sub(c, c->seg[1], &sub) != 0)
        return;
    scope = ck_arena_printf(c->a, "/subscriptions/%s", sub.id);
    any = scope ? arm_has_any_access(c->arm, c->claims.tid, c->claims.oid, scope) : -1;
    if (any < 0) {
        arm_reply_db_error(c);
        return;
    }
    if (!any) {
        arm_reply_denied(c, "Microsoft.Resources/subscriptions/read", scope);
        return;
    }
    arm_reply_json(c, 200, arm_sub_json(&sub));
}

/* ---- resource groups ---- */

static json_t *arm_rg_json(struct arm_call *c, const char *sub, const char *name, const char *location, const char *tags)
{
    json_t *t = ck_json_parse(tags ? tags : "{}", strlen(tags ? tags : "{}"), NULL, 0);
    char *id = ck_arena_printf(c->a, "/subscriptions/%s/resourceGroups/%s", sub, name);
    if (t == NULL || id == NULL) {
        json_decref(t);
        return NULL;
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:{s:s}}", "id", id, "name", name, "type", "Microsoft.Resources/resourceGroups",
                     "location", location, "tags", t, "properties", "provisioningState", "Succeeded");
}

/* Loads a group; returns 1 and fills the outputs (arena strings), 0 when absent, <0 on error. */
static int arm_rg_load(struct arm_call *c, const char *sub, const char *rg, char **name, char **location, char **tags)
{
    struct ck_db_stmt *st = NULL;
    int s = -1;
    ck_db_lock(c->arm->db);
    if (ck_db_prepare(c->arm->db,
                      "SELECT name, location, tags FROM resource_groups WHERE sub_id = ?1 AND name_lc = lower(?2)",
                      &st) != CK_OK ||
        ck_db_bind_text(st, 1, sub) != CK_OK || ck_db_bind_text(st, 2, rg) != CK_OK)
        goto out;
    s = ck_db_step(st);
    if (s == 1) {
        *name = ck_arena_strdup(c->a, ck_db_col_text(st, 0));
        *location = ck_arena_strdup(c->a, ck_db_col_text(st, 1));
        *tags = ck_arena_strdup(c->a, ck_db_col_text(st, 2));
        if (*name == NULL || *location == NULL || *tags == NULL)
            s = -1;
    }
out:
    ck_db_stmt_free(st);
    ck_db_unlock(c->arm->db);
    return s;
}

/* Azure's rule: 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'. */
static int arm_rg_name_check(struct arm_call *c, const char *name)
{
    char bad[32] = "";
    size_t nb = 0, len = strlen(name);
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                 ch == '_' || ch == '.' || ch == '(' || ch == ')';
        if (!ok && nb + 1 < sizeof(bad) && strchr(bad, ch) == NULL)
            bad[nb++] = ch;
    }
    if (nb > 0) {
        arm_reply_error(c, 400, "InvalidResourceGroup",
                        "The provided resource group name '%.100s' has these invalid characters: '%s'. The name can "
                        "only be a letter, digit, '-', '.', '(', ')' or '_'.",
                        name, bad);
        return -1;
    }
    if (len == 0 || len > ARM_RG_NAME_MAX || name[len - 1] == '.') {
        arm_reply_error(c, 400, "InvalidResourceGroup",
                        "The provided resource group name '%.100s' is invalid: it must have 1 to 90 characters and "
                        "must not end with a period.",
                        name);
        return -1;
    }
    return 0;
}

static void arm_rg_put(struct arm_call *c, const char *sub, const char *rg, const char *scope)
{
    json_t *body = NULL, *tags, *v;
    const char *location, *k;
    char *tags_s = NULL, *oname, *oloc, *otags;
    int found;
    if (arm_rg_name_check(c, rg) != 0 ||
        arm_authorize(c, "Microsoft.Resources/subscriptions/resourceGroups/write", scope) != 0)
        goto out;
    if ((body = arm_body_object(c, 0)) == NULL)
        goto out;
    v = ck_json_get_ci(body, "location");
    if (v != NULL && !json_is_string(v)) {
        arm_reply_error(c, 400, "InvalidRequestContent",
                        "The request content was invalid and could not be deserialized: 'location' must be a string.");
        goto out;
    }
    location = v ? json_string_value(v) : NULL;
    if (location == NULL || location[0] == '\0' || strlen(location) > 64) {
        arm_reply_error(c, 400, "LocationRequired", "The location property is required for this definition.");
        goto out;
    }
    tags = ck_json_get_ci(body, "tags");
    if (tags != NULL && !json_is_null(tags)) {
        if (!json_is_object(tags) || json_object_size(tags) > 50) {
            arm_reply_error(c, 400, "InvalidRequestContent",
                            "The request content was invalid: 'tags' must be an object of at most 50 strings.");
            goto out;
        }
        json_object_foreach(tags, k, v) {
            if (!json_is_string(v) || strlen(k) > 512 || strlen(json_string_value(v)) > 256) {
                arm_reply_error(c, 400, "InvalidRequestContent",
                                "The request content was invalid: tag '%.64s' must be a string of at most 256 "
                                "characters.",
                                k);
                goto out;
            }
        }
        tags_s = ck_json_dump(tags);
    } else {
        json_t *empty = json_object();
        tags_s = empty ? ck_json_dump(empty) : NULL;
        json_decref(empty);
    }
    if (tags_s == NULL) {
        arm_reply_db_error(c);
        goto out;
    }
    ck_db_lock(c->arm->db);
    found = arm_rg_load(c, sub, rg, &oname, &oloc, &otags);
    if (found == 1 && strcasecmp(oloc, location) != 0) {
        ck_db_unlock(c->arm->db);
        arm_reply_error(c, 409, "InvalidResourceGroupLocation",
                        "Invalid resource group location '%s'. The Resource group already exists in location '%s'.",
                        location, oloc);
        goto out;
    }
    int rc = CK_E_DB;
    if (found == 1) {
        const char *p[3] = {tags_s, sub, rg};
        rc = ck_db_run(c->arm->db, "UPDATE resource_groups SET tags = ?1 WHERE sub_id = ?2 AND name_lc = lower(?3)", 3, p);
    } else if (found == 0) {
        char now[24];
        snprintf(now, sizeof(now), "%lld", (long long)ck_time_now());
        const char *p[5] = {sub, rg, location, tags_s, now};
        rc = ck_db_run(c->arm->db,
                       "INSERT INTO resource_groups (sub_id, name_lc, name, location, tags, created_at)"
                       " VALUES (?1, lower(?2), ?2, ?3, ?4, CAST(?5 AS INTEGER))",
                       5, p);
        oname = (char *)rg;
        oloc = (char *)location;
    }
    ck_db_unlock(c->arm->db);
    if (rc != CK_OK) {
        arm_reply_db_error(c);
        goto out;
    }
    arm_reply_json(c, found ? 200 : 201, arm_rg_json(c, sub, oname, oloc, tags_s));
out:
    free(tags_s);
    json_decref(body);
}

static void arm_rg_delete(struct arm_call *c, const char *sub, const char *rg, const char *scope)
{
    char *scope_lc = arm_lower(c->a, scope);
    const char *p[2] = {sub, rg};
    int rc;
    if (arm_forward_delete_group(c, sub, rg) != 0)
        return;
    if (scope_lc == NULL || arm_purge_scope(c->arm, scope_lc) != CK_OK) {
        arm_reply_db_error(c);
        return;
    }
    ck_db_lock(c->arm->db);
    rc = ck_db_run(c->arm->db, "DELETE FROM resource_groups WHERE sub_id = ?1 AND name_lc = lower(?2)", 2, p);
    ck_db_unlock(c->arm->db);
    if (rc != CK_OK) {
        arm_reply_db_error(c);
        return;
    }
    ck_resp_status(c->resp, 200);
}

static void arm_rg_list(struct arm_call *c, const char *sub)
{
    struct ck_db_stmt *st = NULL;
    json_t *arr = json_array();
    int s = -1;
    ck_db_lock(c->arm->db);
    if (arr == NULL ||
        ck_db_prepare(c->arm->db,
                      "SELECT name, location, tags FROM resource_groups WHERE sub_id = ?1 ORDER BY name_lc", &st) !=
            CK_OK ||
        ck_db_bind_text(st, 1, sub) != CK_OK)
        goto out;
    while ((s = ck_db_step(st)) == 1) {
        const char *name = ck_db_col_text(st, 0);
        char *scope = ck_arena_printf(c->a, "/subscriptions/%s/resourceGroups/%s", sub, name);
        int ok = scope ? arm_check_access(c->arm, c->claims.tid, c->claims.oid, scope,
                                          "Microsoft.Resources/subscriptions/resourceGroups/read", 0, NULL, NULL)
                       : -1;
        if (ok < 0) {
            s = -1;
            break;
        }
        if (ok)
            json_array_append_new(arr, arm_rg_json(c, sub, name, ck_db_col_text(st, 1), ck_db_col_text(st, 2)));
    }
out:
    arm_finish_list(c, st, arr, s);
}

void arm_handle_resource_groups(struct arm_call *c)
{
    struct arm_sub sub;
    const char *m = c->method;
    char *scope, *name, *loc, *tags;
    int found;
    if (arm_load_sub(c, c->seg[1], &sub) != 0)
        return;
    if (c->nseg == 3) {
        if (strcmp(m, "GET") != 0)
            arm_reply_error(c, 405, "MethodNotAllowed", "The requested method is not allowed on this collection.");
        else
            arm_rg_list(c, sub.id);
        return;
    }
    scope = ck_arena_printf(c->a, "/subscriptions/%s/resourceGroups/%s", sub.id, c->seg[3]);
    if (scope == NULL) {
        arm_reply_db_error(c);
        return;
    }
    if (strcmp(m, "PUT") == 0) {
        arm_rg_put(c, sub.id, c->seg[3], scope);
        return;
    }
    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "DELETE") != 0) {
        arm_reply_error(c, 405, "MethodNotAllowed", "The requested method is not allowed on a resource group.");
        return;
    }
    if (arm_authorize(c,
                      strcmp(m, "DELETE") == 0 ? "Microsoft.Resources/subscriptions/resourceGroups/delete"
                                               : "Microsoft.Resources/subscriptions/resourceGroups/read",
                      scope) != 0)
        return;
    found = arm_rg_load(c, sub.id, c->seg[3], &name, &loc, &tags);
    if (found < 0) {
        arm_reply_db_error(c);
        return;
    }
    if (strcmp(m, "HEAD") == 0) {
        ck_resp_status(c->resp, found ? 204 : 404);
        return;
    }
    if (!found) {
        arm_reply_error(c, 404, "ResourceGroupNotFound", "Resource group '%s' could not be found.", c->seg[3]);
        return;
    }
    if (strcmp(m, "DELETE") == 0)
        arm_rg_delete(c, sub.id, name, scope);
    else
        arm_reply_json(c, 200, arm_rg_json(c, sub.id, name, loc, tags));
}

/* ---- providers ---- */

static int arm_ns_valid(const char *ns)
{
    size_t n = strlen(ns);
    if (n < 3 || n > 128 || strchr(ns, '.') == NULL || ns[0] == '.' || ns[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = ns[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.'))
            return 0;
    }
    return 1;
}

static json_t *arm_provider_json(struct arm_call *c, const char *sub, const char *ns, const char *state)
{
    char *id = ck_arena_printf(c->a, "/subscriptions/%s/providers/%s", sub, ns);
    if (id == NULL)
        return NULL;
    return json_pack("{s:s,s:s,s:s,s:s,s:[]}", "id", id, "namespace", ns, "registrationState", state,
                     "registrationPolicy", "RegistrationRequired", "resourceTypes");
}

/* Reads a provider's state (default "NotRegistered") and stored spelling. Returns 0 or -1. */
static int arm_provider_state(struct arm_call *c, const char *sub, const char *ns, const char **spelling,
                              const char **state)
{
    struct ck_db_stmt *st = NULL;
    int s = -1;
    *state = "NotRegistered";
    *spelling = ns;
    ck_db_lock(c->arm->db);
    if (ck_db_prepare(c->arm->db, "SELECT ns, state FROM providers WHERE sub_id = ?1 AND ns_lc = lower(?2)", &st) !=
            CK_OK ||
        ck_db_bind_text(st, 1, sub) != CK_OK || ck_db_bind_text(st, 2, ns) != CK_OK)
        goto out;
    s = ck_db_step(st);
    if (s == 1) {
        *spelling = ck_arena_strdup(c->a, ck_db_col_text(st, 0));
        *state = ck_arena_strdup(c->a, ck_db_col_text(st, 1));
        if (*spelling == NULL || *state == NULL)
            s = -1;
    }
out:
    ck_db_stmt_free(st);
    ck_db_unlock(c->arm->db);
    return s < 0 ? -1 : 0;
}

static void arm_provider_list(struct arm_call *c, const char *sub)
{
    struct ck_db_stmt *st = NULL;
    json_t *arr = json_array();
    int s = -1;
    ck_db_lock(c->arm->db);
    if (arr == NULL || ck_db_prepare(c->arm->db, "SELECT ns, state FROM providers WHERE sub_id = ?1 ORDER BY ns_lc", &st) != CK_OK ||
        ck_db_bind_text(st, 1, sub) != CK_OK)
        goto out;
    while ((s = ck_db_step(st)) == 1)
        json_array_append_new(arr, arm_provider_json(c, sub, ck_db_col_text(st, 0), ck_db_col_text(st, 1)));
    /* Configured providers not yet registered are listed as NotRegistered. */
    for (int i = 0; s == 0 && i < c->arm->nrps; i++) {
        const char *sp, *state;
        if (arm_provider_state(c, sub, c->arm->rps[i].ns, &sp, &state) != 0) {
            s = -1;
            break;
        }
        if (strcmp(state, "NotRegistered") == 0)
            json_array_append_new(arr, arm_provider_json(c, sub, c->arm->rps[i].ns, state));
    }
out:
    arm_finish_list(c, st, arr, s);
}

void arm_handle_providers(struct arm_call *c)
{
    struct arm_sub sub;
    char *scope;
    const char *ns, *spelling, *state;
    if (arm_load_sub(c, c->seg[1], &sub) != 0)
        return;
    scope = ck_arena_printf(c->a, "/subscriptions/%s", sub.id);
    if (scope == NULL) {
        arm_reply_db_error(c);
        return;
    }
    if (c->nseg == 3) {
        if (strcmp(c->method, "GET") != 0) {
            arm_reply_error(c, 405, "MethodNotAllowed", "The requested method is not allowed on this collection.");
            return;
        }
        if (arm_authorize(c, "Microsoft.Resources/subscriptions/providers/read", scope) == 0)
            arm_provider_list(c, sub.id);
        return;
    }
    ns = c->seg[3];
    if (!arm_ns_valid(ns)) {
        arm_reply_error(c, 404, "InvalidResourceNamespace", "The resource namespace '%.128s' is invalid.", ns);
        return;
    }
    if (c->nseg == 4) {
        if (strcmp(c->method, "GET") != 0) {
            arm_reply_error(c, 405, "MethodNotAllowed", "The requested method is not allowed on a provider.");
            return;
        }
        if (arm_authorize(c, "Microsoft.Resources/subscriptions/providers/read", scope) != 0)
            return;
        if (arm_provider_state(c, sub.id, ns, &spelling, &state) != 0) {
            arm_reply_db_error(c);
            return;
        }
        arm_reply_json(c, 200, arm_provider_json(c, sub.id, spelling, state));
        return;
    }
    if (strcmp(c->method, "POST") != 0) {
        arm_reply_error(c, 405, "MethodNotAllowed", "Provider registration takes POST.");
        return;
    }
    int reg = arm_ieq(c->seg[4], "register");
    char *action = ck_arena_printf(c->a, "%s/%s/action", ns, reg ? "register" : "unregister");
    if (action == NULL || arm_authorize(c, action, scope) != 0)
        return;
    if (arm_provider_state(c, sub.id, ns, &spelling, &state) != 0) {
        arm_reply_db_error(c);
        return;
    }
    state = reg ? "Registered" : "Unregistered";
    char ms[32];
    snprintf(ms, sizeof(ms), "%lld", (long long)arm_now_ms());
    const char *p[4] = {sub.id, spelling, state, reg ? ms : NULL};
    ck_db_lock(c->arm->db);
    int rc = ck_db_run(c->arm->db,
                       "INSERT INTO providers (sub_id, ns_lc, ns, state, registered_ms) VALUES (?1, lower(?2), ?2, ?3, ?4)"
                       " ON CONFLICT (sub_id, ns_lc) DO UPDATE SET state = excluded.state,"
                       " registered_ms = excluded.registered_ms",
                       4, p);
    ck_db_unlock(c->arm->db);
    if (rc != CK_OK) {
        arm_reply_db_error(c);
        return;
    }
    arm_reply_json(c, 200, arm_provider_json(c, sub.id, spelling, state));
}

/* ---- features ---- */

static json_t *arm_feature_json(struct arm_call *c, const char *sub, const char *ns, const char *name, const char *state)
{
    char *id = ck_arena_printf(c->a, "/subscriptions/%s/providers/Microsoft.Features/providers/%s/features/%s", sub, ns,
                               name);
    char *full = ck_arena_printf(c->a, "%s/%s", ns, name);
    if (id == NULL || full == NULL)
        return NULL;
    return json_pack("{s:s,s:s,s:s,s:{s:s}}", "id", id, "name", full, "type", "Microsoft.Features/providers/features",
                     "properties", "state", state);
}

/* Lists stored features of the subscription, all of them or those of ns. */
static void arm_feature_list(struct arm_call *c, const char *sub, const char *ns)
{
    struct ck_db_stmt *st = NULL;
    json_t *arr = json_array();
    int s = -1;
    ck_db_lock(c->arm->db);
    if (arr == NULL ||
        ck_db_prepare(c->arm->db,
                      "SELECT ns, name, state FROM features WHERE sub_id = ?1 AND (?2 IS NULL OR ns_lc = lower(?2))"
                      " ORDER BY ns_lc, name_lc",
                      &st) != CK_OK ||
        ck_db_bind_text(st, 1, sub) != CK_OK || ck_db_bind_text(st, 2, ns) != CK_OK)
        goto out;
    while ((s = ck_db_step(st)) == 1)
        json_array_append_new(arr, arm_feature_json(c, sub, ck_db_col_text(st, 0), ck_db_col_text(st, 1),
                                                    ck_db_col_text(st, 2)));
out:
    arm_finish_list(c, st, arr, s);
}

static int arm_feature_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_' || ch == '.'))
            return 0;
    }
    return 1;
}

void arm_handle_features(struct arm_call *c)
{
    struct arm_sub sub;
    char **s = c->seg;
    int n = c->nseg;
    char *scope;
    const char *ns, *name, *state = "NotRegistered", *sp_ns, *sp_name;
    struct ck_db_stmt *st = NULL;

    if (arm_load_sub(c, s[1], &sub) != 0)
        return;
    scope = ck_arena_printf(c->a, "/subscriptions/%s", sub.id);
    if (scope == NULL) {
        arm_reply_db_error(c);
        return;
    }
    if (n == 5 && arm_ieq(s[4], "features") && strcmp(c->method, "GET") == 0) {
        if (arm_authorize(c, "Microsoft.Features/features/read", scope) == 0)
            arm_feature_list(c, sub.id, NULL);
        return;
    }
    if (n < 7 || n > 9 || !arm_ieq(s[4], "providers") || !arm_ieq(s[6], "features") ||
        (n == 9 && !arm_ieq(s[8], "register") && !arm_ieq(s[8], "unregister"))) {
        arm_reply_error(c, 404, "NotFound", "No HTTP resource was found that matches the request URI.");
        return;
    }
    ns = s[5];
    if (!arm_ns_valid(ns) || (n >= 8 && !arm_feature_name_valid(s[7]))) {
        arm_reply_error(c, 400, "InvalidFeatureName", "The feature name or namespace is invalid.");
        return;
    }
    if (strcmp(c->method, n == 9 ? "POST" : "GET") != 0) {
        arm_reply_error(c, 405, "MethodNotAllowed", "The requested method is not allowed on a feature.");
        return;
    }
    if (n == 7) {
        if (arm_authorize(c, "Microsoft.Features/providers/features/read", scope) == 0)
            arm_feature_list(c, sub.id, ns);
        return;
    }
    name = s[7];
    if (arm_authorize(c,
                      n == 8                     ? "Microsoft.Features/providers/features/read"
                      : arm_ieq(s[8], "register") ? "Microsoft.Features/providers/features/register/action"
                                                  : "Microsoft.Features/providers/features/unregister/action",
                      scope) != 0)
        return;
    sp_ns = ns;
    sp_name = name;
    ck_db_lock(c->arm->db);
    int rc = CK_E_DB, r;
    if (ck_db_prepare(c->arm->db,
                      "SELECT ns, name, state FROM features WHERE sub_id = ?1 AND ns_lc = lower(?2) AND name_lc = lower(?3)",
                      &st) != CK_OK ||
        ck_db_bind_text(st, 1, sub.id) != CK_OK || ck_db_bind_text(st, 2, ns) != CK_OK ||
        ck_db_bind_text(st, 3, name) != CK_OK || (r = ck_db_step(st)) < 0)
        goto out;
    if (r == 1) {
        sp_ns = ck_arena_strdup(c->a, ck_db_col_text(st, 0));
        sp_name = ck_arena_strdup(c->a, ck_db_col_text(st, 1));
        state = ck_arena_strdup(c->a, ck_db_col_text(st, 2));
        if (sp_ns == NULL || sp_name == NULL || state == NULL)
            goto out;
    }
    if (n == 9) {
        int reg = arm_ieq(s[8], "register");
        char ms[32];
        state = reg ? "Registered" : "Unregistered";
        snprintf(ms, sizeof(ms), "%lld", (long long)arm_now_ms());
        const char *p[5] = {sub.id, sp_ns, sp_name, state, reg ? ms : NULL};
        /* Registering again keeps the first registration time. */
        if (ck_db_run(c->arm->db,
                      "INSERT INTO features (sub_id, ns_lc, name_lc, ns, name, state, registered_ms)"
                      " VALUES (?1, lower(?2), lower(?3), ?2, ?3, ?4, ?5)"
                      " ON CONFLICT (sub_id, ns_lc, name_lc) DO UPDATE SET state = excluded.state,"
                      " registered_ms = CASE WHEN excluded.registered_ms IS NULL THEN NULL"
                      " ELSE coalesce(features.registered_ms, excluded.registered_ms) END",
                      5, p) != CK_OK)
            goto out;
    }
    rc = CK_OK;
out:
    ck_db_stmt_free(st);
    ck_db_unlock(c->arm->db);
    if (rc != CK_OK)
        arm_reply_db_error(c);
    else
        arm_reply_json(c, 200, arm_feature_json(c, sub.id, sp_ns, sp_name, state));
}
