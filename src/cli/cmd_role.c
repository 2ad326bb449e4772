/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Role-based access control commands (ARM Microsoft.Authorization, api 2022-04-01):
 * `role assignment create|list|delete` and `role definition list`. A role is given by name (looked
 * up with roleDefinitions?$filter=roleName eq '…' at the scope and matched again on our side), by
 * GUID or by full id; an assignee by object id, or by appId / object id resolved through Graph.
 * Assignment names are new random UUIDs. Output is flattened as az prints it.
 */
#include "cli/cli_int.h"
#include "core/codec.h"

#include <string.h>
#include <strings.h>

#define CLI_API_RBAC "2022-04-01"

/* The scope the command works on: --scope, else -g's group, else the subscription. */
static const char *cli_role_scope(struct cli_ctx *ctx)
{
    const char *scope = cli_arg(ctx, "scope"), *rg = cli_arg(ctx, "resource-group");
    if (scope != NULL) {
        size_t n = strlen(scope);
        while (n > 1 && scope[n - 1] == '/')
            n--;
        return cli_fmt(ctx, "%s%.*s", scope[0] == '/' ? "" : "/", (int)n, scope);
    }
    const char *sub = cli_require_sub(ctx);
    if (sub == NULL)
        return NULL;
    if (rg != NULL)
        return cli_fmt(ctx, "/subscriptions/%s/resourceGroups/%s", sub, rg);
    return cli_fmt(ctx, "/subscriptions/%s", sub);
}

/* The last path segment of an ARM id. */
static const char *cli_last_seg(const char *id)
{
    const char *p = strrchr(id, '/');
    return p ? p + 1 : id;
}

/*
 * Resolves --role to a role definition id at scope. Returns CLI_EXIT_OK with *def_id (arena), or
 * an exit code (printed).
 */
static int cli_role_resolve(struct cli_ctx *ctx, const char *scope, const char *role, const char **def_id)
{
    json_t *defs = NULL;
    size_t i;
    json_t *d;
    int rc, hits = 0;

    if (role[0] == '/') {
        *def_id = role;
        return CLI_EXIT_OK;
    }
    if (ck_uuid_valid(role)) {
        /* Role definitions live at the subscription of the scope (tenant level without one). */
        if (strncasecmp(scope, "/subscriptions/", 15) == 0) {
            size_t n = strcspn(scope + 15, "/");
            *def_id = cli_fmt(ctx, "%.*s/providers/Microsoft.Authorization/roleDefinitions/%s", (int)(15 + n), scope,
                              role);
        } else {
            *def_id = cli_fmt(ctx, "/providers/Microsoft.Authorization/roleDefinitions/%s", role);
        }
        return CLI_EXIT_OK;
    }
    char *filter = cli_fmt(ctx, "roleName eq '%s'", role);
    rc = cli_list(ctx, CLI_API_ARM,
                  cli_fmt(ctx, "%s/providers/Microsoft.Authorization/roleDefinitions?$filter=%s&api-version=" CLI_API_RBAC,
                          scope, cli_enc(ctx, filter)),
                  &defs);
    if (rc != CLI_EXIT_OK)
        return rc;
    json_array_foreach(defs, i, d) {
        const char *name = ck_json_str(ck_json_obj(d, "properties"), "roleName");
        if (name != NULL && strcasecmp(name, role) == 0 && ck_json_str(d, "id") != NULL) {
            *def_id = cli_fmt(ctx, "%s", ck_json_str(d, "id"));
            hits++;
        }
    }
    json_decref(defs);
    if (hits != 1) {
        cli_err(hits == 0 ? "Role '%s' doesn't exist." : "More than one role matches the given name '%s'. Please pick "
                                                         "an id from '--role' instead.",
                role);
        return CLI_EXIT_ERR;
    }
    return CLI_EXIT_OK;
}

/* Resolves --assignee (appId or object id of a service principal) to an object id via Graph. */
static int cli_assignee_resolve(struct cli_ctx *ctx, const char *assignee, const char **oid)
{
    const char *paths[2];
    int n = 0;

    if (ck_uuid_valid(assignee))
        paths[n++] = cli_fmt(ctx, "/servicePrincipals(appId='%s')", assignee);
    paths[n++] = cli_fmt(ctx, "/servicePrincipals/%s", cli_enc(ctx, assignee));
    for (int i = 0; i < n; i++) {
        struct cli_resp resp;
        int rc = cli_call(ctx, CLI_API_GRAPH, "GET", paths[i], NULL, &resp);
        if (rc != CLI_EXIT_OK)
            return rc;
        if (resp.status == 200 && ck_json_str(resp.body, "id") != NULL) {
            *oid = cli_fmt(ctx, "%s", ck_json_str(resp.body, "id"));
            cli_resp_cleanup(&resp);
            return CLI_EXIT_OK;
        }
        cli_resp_cleanup(&resp);
    }
    cli_err("Cannot find user or service principal in graph database for '%s'. If the assignee is an appId, make "
            "sure the corresponding service principal is created with 'crosskey ad sp create --id %s'.",
            assignee, assignee);
    return CLI_EXIT_ERR;
}

static int cli_ra_create(struct cli_ctx *ctx)
{
    const char *scope = cli_role_scope(ctx);
    const char *oid = cli_arg(ctx, "assignee-object-id"), *ptype = cli_arg(ctx, "assignee-principal-type");
    const char *def_id = NULL;
    char name[37];
    json_t *body = json_object(), *props = json_object(), *out = NULL;
    int rc = CLI_EXIT_ERR;

    if (scope == NULL || body == NULL || props == NULL)
        goto out;
    if (oid == NULL && cli_arg(ctx, "assignee") == NULL) {
        rc = cli_need(ctx, "--assignee or --assignee-object-id");
        goto out;
    }
    if (oid == NULL) {
        rc = cli_assignee_resolve(ctx, cli_arg(ctx, "assignee"), &oid);
        if (rc != CLI_EXIT_OK)
            goto out;
        if (ptype == NULL)
            ptype = "ServicePrincipal";
    }
    rc = cli_role_resolve(ctx, scope, cli_arg(ctx, "role"), &def_id);
    if (rc != CLI_EXIT_OK)
        goto out;
    if (ck_uuid_new(name) != 0) {
        cli_err("cannot make a random assignment name");
        rc = CLI_EXIT_ERR;
        goto out;
    }
    ck_json_set_str(props, "roleDefinitionId", def_id);
    ck_json_set_str(props, "principalId", oid);
    if (ptype != NULL)
        ck_json_set_str(props, "principalType", ptype);
    if (cli_arg(ctx, "description") != NULL)
        ck_json_set_str(props, "description", cli_arg(ctx, "description"));
    json_object_set(body, "properties", props);
    rc = cli_call_ok(ctx, CLI_API_ARM, "PUT",
                     cli_fmt(ctx, "%s/providers/Microsoft.Authorization/roleAssignments/%s?api-version=" CLI_API_RBAC,
                             scope, name),
                     body, &out);
    if (rc == CLI_EXIT_OK) {
        cli_flatten(out, 1);
        rc = cli_print(ctx, out);
    }
out:
    json_decref(body);
    json_decref(props);
    json_decref(out);
    return rc;
}

/* 1 when the assignment's scope is the given scope, or (inherited) one of its parents. */
static int cli_scope_matches(const char *have, const char *want, int inherited)
{
    size_t hl = strlen(have);
    if (strcasecmp(have, want) == 0)
        return 1;
    if (!inherited)
        return 0;
    if (strcmp(have, "/") == 0)
        return 1;
    return strncasecmp(have, want, hl) == 0 && want[hl] == '/';
}

/*
 * Lists the assignments matching --assignee/--assignee-object-id, --role and the scope filter,
 * flattened. Returns CLI_EXIT_OK with *out (array), or an exit code (printed).
 */
static int cli_ra_find(struct cli_ctx *ctx, json_t **out)
{
    const char *scope = cli_role_scope(ctx);
    const char *oid = cli_arg(ctx, "assignee-object-id"), *role = cli_arg(ctx, "role");
    const char *def_id = NULL;
    int all = cli_has(ctx, "all") && cli_arg(ctx, "scope") == NULL && cli_arg(ctx, "resource-group") == NULL;
    json_t *list = NULL, *res = json_array(), *names = json_object();
    size_t i;
    json_t *a;
    int rc = CLI_EXIT_ERR;

    *out = NULL;
    if (scope == NULL || res == NULL || names == NULL)
        goto out;
    if (oid == NULL && cli_arg(ctx, "assignee") != NULL) {
        rc = cli_assignee_resolve(ctx, cli_arg(ctx, "assignee"), &oid);
        if (rc != CLI_EXIT_OK)
            goto out;
    }
    if (role != NULL) {
        rc = cli_role_resolve(ctx, scope, role, &def_id);
        if (rc != CLI_EXIT_OK)
            goto out;
    }
    rc = cli_list(ctx, CLI_API_ARM,
                  cli_fmt(ctx, "%s/providers/Microsoft.Authorization/roleAssignments?api-version=" CLI_API_RBAC, scope),
                  &list);
    if (rc != CLI_EXIT_OK)
        goto out;
    json_array_foreach(list, i, a) {
        json_t *p = ck_json_obj(a, "properties");
        const char *pid = ck_json_str(p, "principalId"), *rd = ck_json_str(p, "roleDefinitionId");
        const char *sc = ck_json_str(p, "scope");
        if (oid != NULL && (pid == NULL || strcasecmp(pid, oid) != 0))
            continue;
        if (def_id != NULL && (rd == NULL || strcasecmp(cli_last_seg(rd), cli_last_seg(def_id)) != 0))
            continue;
        if (!all && (sc == NULL || !cli_scope_matches(sc, scope, cli_has(ctx, "include-inherited"))))
            continue;
        json_t *row = json_deep_copy(a);
        cli_flatten(row, 1);
        /* az adds roleDefinitionName; look each definition up once. */
        if (rd != NULL && json_object_get(names, rd) == NULL) {
            struct cli_resp resp;
            const char *rn = NULL;
            if (cli_call(ctx, CLI_API_ARM, "GET", cli_fmt(ctx, "%s?api-version=" CLI_API_RBAC, rd), NULL, &resp) ==
                    CLI_EXIT_OK &&
                resp.status == 200)
                rn = ck_json_str(ck_json_obj(resp.body, "properties"), "roleName");
            json_object_set_new(names, rd, rn ? json_string(rn) : json_null());
            cli_resp_cleanup(&resp);
        }
        if (rd != NULL && json_is_string(json_object_get(names, rd)))
            json_object_set(row, "roleDefinitionName", json_object_get(names, rd));
        json_array_append_new(res, row);
    }
    *out = res;
    res = NULL;
    rc = CLI_EXIT_OK;
out:
    json_decref(list);
    json_decref(res);
    json_decref(names);
    return rc;
}

static int cli_ra_list(struct cli_ctx *ctx)
{
    json_t *out = NULL;
    int rc = cli_ra_find(ctx, &out);
    if (rc == CLI_EXIT_OK)
        rc = cli_print(ctx, out);
    json_decref(out);
    return rc;
}

static int cli_ra_delete(struct cli_ctx *ctx)
{
    const char *const *ids;
    int n = cli_args_of(ctx, "ids", &ids);
    json_t *found = NULL;
    int rc = CLI_EXIT_OK;

    if (n == 0) {
        if (cli_arg(ctx, "assignee") == NULL && cli_arg(ctx, "assignee-object-id") == NULL &&
            cli_arg(ctx, "role") == NULL && cli_arg(ctx, "scope") == NULL && cli_arg(ctx, "resource-group") == NULL)
            return cli_need(ctx, "--ids, or at least one of --assignee, --role, --scope, --resource-group");
        rc = cli_ra_find(ctx, &found);
        if (rc != CLI_EXIT_OK)
            return rc;
        if (json_array_size(found) == 0) {
            cli_err("No matched assignments were found to delete");
            json_decref(found);
            return CLI_EXIT_ERR;
        }
    }
    size_t total = found != NULL ? json_array_size(found) : (size_t)n;
    for (size_t i = 0; i < total && rc == CLI_EXIT_OK; i++) {
        const char *id = found != NULL ? ck_json_str(json_array_get(found, i), "id") : ids[i];
        if (id == NULL || id[0] != '/') {
            cli_err("'%s' is not a role assignment id", id ? id : "");
            rc = CLI_EXIT_USAGE;
            break;
        }
        rc = cli_call_ok(ctx, CLI_API_ARM, "DELETE", cli_fmt(ctx, "%s?api-version=" CLI_API_RBAC, id), NULL, NULL);
    }
    json_decref(found);
    return rc;
}

static int cli_rd_list(struct cli_ctx *ctx)
{
    const char *scope = cli_role_scope(ctx);
    const char *name = cli_arg(ctx, "name");
    json_t *list = NULL, *out = json_array();
    size_t i;
    json_t *d;
    int rc = CLI_EXIT_ERR;

    if (scope == NULL || out == NULL)
        goto out;
    rc = cli_list(ctx, CLI_API_ARM,
                  cli_fmt(ctx, "%s/providers/Microsoft.Authorization/roleDefinitions?api-version=" CLI_API_RBAC, scope),
                  &list);
    if (rc != CLI_EXIT_OK)
        goto out;
    json_array_foreach(list, i, d) {
        const char *rn = ck_json_str(ck_json_obj(d, "properties"), "roleName");
        if (name != NULL && (rn == NULL || (strcasecmp(rn, name) != 0 && strcasecmp(cli_last_seg(ck_json_str(d, "id") ? ck_json_str(d, "id") : ""), name) != 0)))
            continue;
        json_t *row = json_deep_copy(d);
        cli_flatten(row, 1);
        json_array_append_new(out, row);
    }
    rc = cli_print(ctx, out);
out:
    json_decref(list);
    json_decref(out);
    return rc;
}

#define CLI_FLAG_SCOPE {"scope", NULL, CLI_VALUE, 0, "Scope, e.g. /subscriptions/{s}/resourceGroups/{g}/providers/..."}
#define CLI_FLAG_RG {"resource-group", "g", CLI_VALUE, 0, "Use the resource group as the scope."}
#define CLI_FLAG_ASSIGNEE {"assignee", NULL, CLI_VALUE, 0, "appId or object id of a service principal (looked up in Graph)."}
#define CLI_FLAG_ASSIGNEE_OID {"assignee-object-id", NULL, CLI_VALUE, 0, "Object id of the assignee (no Graph lookup)."}

const struct cli_cmd cli_role_cmds[] = {
    {"role assignment create",
     "Create a role assignment.",
     cli_ra_create,
     {CLI_FLAG_ASSIGNEE_OID,
      {"assignee-principal-type", NULL, CLI_VALUE, 0, "ServicePrincipal, User, Group or ForeignGroup."},
      CLI_FLAG_ASSIGNEE,
      {"role", NULL, CLI_VALUE, 1, "Role name (\"Key Vault Crypto Service Encryption User\"), GUID or full id."},
      CLI_FLAG_SCOPE,
      CLI_FLAG_RG,
      {"description", NULL, CLI_VALUE, 0, "Description of the assignment."}},
     "crosskey role assignment create --assignee-object-id <oid> --assignee-principal-type ServicePrincipal "
     "--role \"Key Vault Crypto Service Encryption User\" --scope <vault id>"},
    {"role assignment list",
     "List role assignments at a scope (default: the subscription).",
     cli_ra_list,
     {CLI_FLAG_ASSIGNEE,
      CLI_FLAG_ASSIGNEE_OID,
      {"role", NULL, CLI_VALUE, 0, "Role name, GUID or full id."},
      CLI_FLAG_SCOPE,
      CLI_FLAG_RG,
      {"include-inherited", NULL, CLI_BOOL, 0, "Include assignments at parent scopes."},
      {"all", NULL, CLI_BOOL, 0, "Show all assignments the server returns, at any scope."}},
     "crosskey role assignment list --scope <scope> -o table"},
    {"role assignment delete",
     "Delete role assignments by id, or those matching assignee, role and scope.",
     cli_ra_delete,
     {{"ids", NULL, CLI_MULTI, 0, "Full ids of role assignments."},
      CLI_FLAG_ASSIGNEE,
      CLI_FLAG_ASSIGNEE_OID,
      {"role", NULL, CLI_VALUE, 0, "Role name, GUID or full id."},
      CLI_FLAG_SCOPE,
      CLI_FLAG_RG,
      {"include-inherited", NULL, CLI_BOOL, 0, "Also delete matching assignments at parent scopes."},
      {"yes", "y", CLI_BOOL, 0, "Accepted for compatibility; role deletion does not prompt."}},
     "crosskey role assignment delete --assignee <appId> --role Owner --scope <scope>"},
    {"role definition list",
     "List role definitions.",
     cli_rd_list,
     {{"name", "n", CLI_VALUE, 0, "Role name or GUID."}, CLI_FLAG_SCOPE, CLI_FLAG_RG},
     "crosskey role definition list --name \"Key Vault Crypto Officer\""},
    {NULL, NULL, NULL, {{NULL, NULL, 0, 0, NULL}}, NULL},
};
