/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `crosskey --data DIR quickstart [--revoke]`: the whole cross-tenant customer-managed-key
 * procedure of seed-flow.md section 2 against a running crosskeyd, as a host operator would show
 * it. Each step is an ordinary crosskey command line, printed exactly as a user would type it
 * (literal ids, the seed's flags and --query forms; a client secret shows as "$ISV_SECRET" or
 * "$CUSTOMER_SECRET") and run in this process through cli_dispatch, the entry the program itself
 * uses, with its result captured and summed up on one line. The steps: two tenants (operator);
 * the ISV's feature and provider registration, multi-tenant app, user-assigned identity and
 * federated credential; the customer's service principal for the app, vault with purge protection
 * and RBAC, Key Vault Crypto Officer for its admin, key and Key Vault Crypto Service Encryption User
 * for the app; the ISV's storage account encrypted with that key; a blob uploaded and read back; a
 * rotation the account follows; with --revoke, the key disabled (keyState Denied, the data 403
 * KeyVaultEncryptionKeyNotFound) and enabled again (Usable, the data back). At the end: the portal
 * URL and each tenant's sign-in, the only place secrets are printed.
 *
 * It is idempotent: the tenants' credentials, the random suffix of the global names and the app's
 * object id live in DIR/quickstart.json (mode 0600, next to the daemon's own secrets); a second
 * run finds every object again (a silent show before each create), prints the create command with
 * "reused", and repeats only the demonstrations (upload, rotation, revocation); what is missing is
 * made again, and an account denied meanwhile gets the seed's update command. The CLI profile it
 * signs in to is the ordinary one ($CROSSKEY_CONFIG_DIR or ~/.crosskey), so the printed commands
 * can be run by hand afterwards; the ISV's subscription is left as the default.
 */
#include "cli/cli_int.h"
#include "core/codec.h"
#include "core/fsutil.h"
#include "core/timeutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QS_STATE_FILE "quickstart.json"
#define QS_FILES_DIR "quickstart"
#define QS_LOCATION "eastus"
#define QS_ISV_RG "isvrg"
#define QS_CUST_RG "custrg"
#define QS_APP_NAME "isv-cmk-app"
#define QS_UAMI "uami-cmk"
#define QS_FIC_NAME "MyFederatedIdentityCredential"
#define QS_KEY "cmk"
#define QS_CONTAINER "data"
#define QS_BLOB "hello.txt"
/* Polls of the account's state: every 200 ms, for at most 30 s. */
#define QS_POLL_MS 200
#define QS_POLL_MAX_MS 30000
/* Cap on the stderr kept from one command. */
#define QS_ERR_MAX (64u << 10)
#define QS_MAX_WORDS 48

/* Builds a NULL-terminated word list in place. */
#define QS_W(...) ((const char *const[]){__VA_ARGS__, NULL})

struct qs_tenant {
    const char *name; /* "isv" or "customer" */
    const char *var;  /* the shell variable that stands for its secret */
    const char *tid, *sub, *client, *secret;
};

struct qs {
    struct cli_ctx *ctx;
    const char *data;       /* DIR as given */
    const char *state_path; /* DIR/quickstart.json */
    const char *files;      /* DIR/quickstart */
    json_t *state;
    int step;
    int64_t t0;
    struct qs_tenant isv, cust;
    char *err; /* stderr of the last command run (ck_malloc), NUL-terminated */
    /* Names and ids found on the way (arena). */
    const char *suffix, *vault, *account;
    const char *app_oid, *app_id, *uami_pid, *uami_id, *sp_id, *kv_id, *kv_uri, *kid, *acct_id;
};

static const char *qs_dup(struct qs *q, const char *s)
{
    return s != NULL ? cli_fmt(q->ctx, "%s", s) : NULL;
}

/* ---- running commands ---- */

/* Runs a command line in this process; its result goes to *out (NULL: discarded) and its stderr
 * to q->err. Returns its exit code. */
static int qs_exec(struct qs *q, const char *const *words, json_t **out)
{
    char *argv[QS_MAX_WORDS + 2];
    json_t *discard = NULL;
    int argc = 0, rc, saved = -1;
    FILE *tmp;

    argv[argc++] = "crosskey";
    for (int i = 0; words[i] != NULL && argc <= QS_MAX_WORDS; i++)
        argv[argc++] = (char *)words[i];
    argv[argc] = NULL;
    if (out != NULL)
        *out = NULL;
    fflush(stdout);
    fflush(stderr);
    tmp = tmpfile();
    if (tmp != NULL && (saved = dup(STDERR_FILENO)) >= 0)
        dup2(fileno(tmp), STDERR_FILENO);
    rc = cli_dispatch(argc, argv, out != NULL ? out : &discard);
    fflush(stderr);
    if (saved >= 0) {
        dup2(saved, STDERR_FILENO);
        close(saved);
    }
    json_decref(discard);
    ck_free(q->err);
    q->err = NULL;
    if (tmp != NULL) {
        long n = ftell(tmp);
        size_t len = n > 0 ? (size_t)n : 0;
        if (len > QS_ERR_MAX)
            len = QS_ERR_MAX;
        q->err = ck_malloc(len + 1);
        if (q->err != NULL) {
            rewind(tmp);
            len = fread(q->err, 1, len, tmp);
            q->err[len] = '\0';
        }
        fclose(tmp);
    }
    return rc;
}

/* A word as a POSIX shell reads it back: bare when safe, else double or single quotes. */
static const char *qs_quote(struct qs *q, const char *w)
{
    /* A secret is passed as the very string the tenant holds, so it is told by its address. */
    if (q->isv.secret != NULL && w == q->isv.secret)
        return cli_fmt(q->ctx, "\"$%s\"", q->isv.var);
    if (q->cust.secret != NULL && w == q->cust.secret)
        return cli_fmt(q->ctx, "\"$%s\"", q->cust.var);
    if (w[0] != '\0' && strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./:=@%+,") == strlen(w))
        return w;
    if (strpbrk(w, "\"$`\\!") == NULL)
        return cli_fmt(q->ctx, "\"%s\"", w);
    const char *out = "'";
    for (const char *p = w; *p; p++)
        out = *p == '\'' ? cli_fmt(q->ctx, "%s'\\''", out) : cli_fmt(q->ctx, "%s%c", out, *p);
    return cli_fmt(q->ctx, "%s'", out);
}

/* Prints the next step's command line. */
static void qs_show(struct qs *q, const char *const *words)
{
    q->step++;
    printf("%2d. crosskey", q->step);
    for (int i = 0; words[i] != NULL; i++)
        printf(" %s", qs_quote(q, words[i]));
    printf("\n");
    fflush(stdout);
}

static void qs_result(struct qs *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void qs_result(struct qs *q, const char *fmt, ...)
{
    va_list ap;
    (void)q;
    printf("    -> ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static void qs_section(const char *title)
{
    printf("\n== %s\n", title);
    fflush(stdout);
}

/* Reports a failed step with the command's own error lines and returns its exit code. */
static int qs_failed(struct qs *q, int rc)
{
    printf("    -> FAILED (exit %d)\n", rc);
    if (q->err != NULL && q->err[0] != '\0') {
        for (char *line = q->err, *nl; line != NULL && *line; line = nl) {
            nl = strchr(line, '\n');
            printf("       %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
            if (nl != NULL)
                nl++;
        }
    }
    printf("\nquickstart: stopped at step %d. Fix the cause and run it again: what exists is reused.\n", q->step);
    fflush(stdout);
    return rc == CLI_EXIT_OK ? CLI_EXIT_ERR : rc;
}

/* Prints, runs and checks one step. On failure the error is reported (qs_failed). */
static int qs_run(struct qs *q, const char *const *words, json_t **out)
{
    qs_show(q, words);
    int rc = qs_exec(q, words, out);
    if (rc != CLI_EXIT_OK) {
        if (out != NULL) {
            json_decref(*out);
            *out = NULL;
        }
        return qs_failed(q, rc);
    }
    return CLI_EXIT_OK;
}

/* The string a command printed (its -o tsv value), copied into the arena, or NULL. */
static const char *qs_text(struct qs *q, const json_t *v)
{
    return json_is_string(v) ? qs_dup(q, json_string_value(v)) : NULL;
}

/* Runs a show command silently: 1 when it found something (its result in *out when out is not
 * NULL), 0 when not. */
static int qs_probe(struct qs *q, const char *const *words, json_t **out)
{
    json_t *v = NULL;
    int rc = qs_exec(q, words, &v);
    int found = rc == CLI_EXIT_OK && v != NULL && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0) &&
                !(json_is_array(v) && json_array_size(v) == 0);
    if (found && out != NULL)
        *out = v;
    else
        json_decref(v);
    return found;
}

/* Runs a command until the value at path of its result (the result itself when path is NULL)
 * is want; prints the command once. *ms gets the time it took. Returns CLI_EXIT_OK, or an exit
 * code after reporting the failure or the timeout. */
static int qs_poll(struct qs *q, const char *const *words, const char *path, const char *want, int64_t *ms,
                   json_t **last)
{
    int64_t start = ck_mono_ms();
    json_t *v = NULL;
    qs_show(q, words);
    for (;;) {
        json_decref(v);
        v = NULL;
        int rc = qs_exec(q, words, &v);
        if (rc != CLI_EXIT_OK)
            return qs_failed(q, rc);
        const json_t *at = path != NULL ? json_object_get(v, path) : v;
        if (json_is_string(at) && strcmp(json_string_value(at), want) == 0)
            break;
        if (ck_mono_ms() - start > QS_POLL_MAX_MS) {
            const char *seen = json_is_string(at) ? json_string_value(at) : "nothing";
            printf("    -> FAILED: still '%s' after %d s, want '%s'\n", seen, QS_POLL_MAX_MS / 1000, want);
            printf("       Is crosskeyd following key events (--cmk-events on, the default)?\n");
            printf("\nquickstart: stopped at step %d. Fix the cause and run it again: what exists is reused.\n", q->step);
            json_decref(v);
            return CLI_EXIT_ERR;
        }
        struct timespec ts = {0, QS_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    *ms = ck_mono_ms() - start;
    if (last != NULL)
        *last = v;
    else
        json_decref(v);
    return CLI_EXIT_OK;
}

/* ---- state (DIR/quickstart.json) ---- */

static int qs_state_load(struct qs *q)
{
    char *text = NULL, why[160];
    size_t len = 0;
    if (ck_read_file(q->state_path, CLI_FILE_LIMIT, &text, &len) != 0) {
        if (errno != ENOENT) {
            cli_err("cannot read %s: %s", q->state_path, strerror(errno));
            return CLI_EXIT_ERR;
        }
        q->state = json_object();
    } else {
        q->state = ck_json_parse_object(text, len, why, sizeof(why));
        ck_freezero(text, len + 1);
        if (q->state == NULL) {
            cli_err("%s is not valid JSON (%s): move it away to start over", q->state_path, why);
            return CLI_EXIT_ERR;
        }
    }
    if (q->state == NULL) {
        cli_err("out of memory");
        return CLI_EXIT_ERR;
    }
    if (ck_json_obj(q->state, "tenants") == NULL)
        json_object_set_new(q->state, "tenants", json_object());
    const char *sfx = ck_json_str(q->state, "suffix");
    if (sfx == NULL || strlen(sfx) != 4 || strspn(sfx, "0123456789abcdef") != 4) {
        uint8_t r[2];
        if (ck_random(r, sizeof(r)) != 0) {
            cli_err("no randomness for the names' suffix");
            return CLI_EXIT_ERR;
        }
        json_object_set_new(q->state, "suffix", json_sprintf("%02x%02x", r[0], r[1]));
    }
    json_object_set_new(q->state, "version", json_integer(1));
    q->suffix = qs_dup(q, ck_json_str(q->state, "suffix"));
    return CLI_EXIT_OK;
}

static int qs_state_save(struct qs *q)
{
    char *text = json_dumps(q->state, JSON_INDENT(2) | JSON_SORT_KEYS);
    int rc = CLI_EXIT_OK;
    if (text == NULL || ck_write_file_atomic(q->state_path, text, strlen(text), 0600) != 0) {
        cli_err("cannot write %s: %s", q->state_path, text == NULL ? "out of memory" : strerror(errno));
        rc = CLI_EXIT_ERR;
    }
    if (text != NULL)
        ck_freezero(text, strlen(text));
    return rc;
}

/* ---- the steps ---- */

/* Operator: a tenant with its admin application and subscription, or the one saved earlier. */
static int qs_tenant(struct qs *q, struct qs_tenant *t)
{
    const char *const *w = QS_W("--data", q->data, "tenant", "create", "--display-name", t->name);
    json_t *saved = ck_json_obj(ck_json_obj(q->state, "tenants"), t->name), *out = NULL, *list = NULL;
    int rc;

    if (ck_json_str(saved, "tenantId") && ck_json_str(saved, "subscriptionId") && ck_json_str(saved, "clientId") &&
        ck_json_str(saved, "clientSecret")) {
        int alive = 0;
        if (qs_probe(q, QS_W("--data", q->data, "tenant", "list"), &list)) {
            size_t i;
            json_t *e;
            json_array_foreach(list, i, e) alive |= ck_json_str(e, "tenantId") != NULL &&
                                                    strcasecmp(ck_json_str(e, "tenantId"), ck_json_str(saved, "tenantId")) == 0;
        }
        json_decref(list);
        if (alive) {
            t->tid = qs_dup(q, ck_json_str(saved, "tenantId"));
            t->sub = qs_dup(q, ck_json_str(saved, "subscriptionId"));
            t->client = qs_dup(q, ck_json_str(saved, "clientId"));
            t->secret = qs_dup(q, ck_json_str(saved, "clientSecret"));
            qs_show(q, w);
            qs_result(q, "reused: tenant %s, subscription %s, admin client id %s (from %s)", t->tid, t->sub, t->client,
                      q->state_path);
            return CLI_EXIT_OK;
        }
    }
    if ((rc = qs_run(q, w, &out)) != CLI_EXIT_OK)
        return rc;
    t->tid = qs_dup(q, ck_json_str(out, "tenantId"));
    t->sub = qs_dup(q, ck_json_str(out, "subscriptionId"));
    t->client = qs_dup(q, ck_json_str(out, "clientId"));
    t->secret = qs_dup(q, ck_json_str(out, "clientSecret"));
    cli_json_wipe(out);
    json_decref(out);
    if (t->tid == NULL || t->sub == NULL || t->client == NULL || t->secret == NULL) {
        cli_err("tenant create answered without its credentials");
        return CLI_EXIT_ERR;
    }
    json_object_set_new(ck_json_obj(q->state, "tenants"), t->name,
                        json_pack("{s:s,s:s,s:s,s:s}", "tenantId", t->tid, "subscriptionId", t->sub, "clientId",
                                  t->client, "clientSecret", t->secret));
    if ((rc = qs_state_save(q)) != CLI_EXIT_OK)
        return rc;
    qs_result(q, "tenant %s, subscription %s, admin client id %s (its secret is kept in %s)", t->tid, t->sub, t->client,
              q->state_path);
    return CLI_EXIT_OK;
}

static int qs_login(struct qs *q, const struct qs_tenant *t)
{
    json_t *out = NULL;
    int rc = qs_run(q,
                    QS_W("login", "--service-principal", "-u", t->client, "-p", t->secret, "--tenant", t->tid, "--data",
                         q->data),
                    &out);
    if (rc != CLI_EXIT_OK)
        return rc;
    qs_result(q, "signed in as the %s admin (client id %s); subscription '%s' (%s) is the default", t->name, t->client,
              ck_json_str(json_array_get(out, 0), "name") ? ck_json_str(json_array_get(out, 0), "name") : "?", t->sub);
    json_decref(out);
    return CLI_EXIT_OK;
}

static int qs_group(struct qs *q, const char *name)
{
    json_t *out = NULL;
    int rc = qs_run(q, QS_W("group", "create", "-n", name, "-l", QS_LOCATION), &out);
    if (rc == CLI_EXIT_OK)
        qs_result(q, "resource group %s in %s: %s", name, QS_LOCATION,
                  ck_json_str(ck_json_obj(out, "properties"), "provisioningState")
                      ? ck_json_str(ck_json_obj(out, "properties"), "provisioningState")
                      : "created");
    json_decref(out);
    return rc;
}

/* A role assignment at scope for a principal, unless it is there already. */
static int qs_role(struct qs *q, const char *role, const char *scope, const char *oid, const char *why)
{
    const char *const *w = QS_W("role", "assignment", "create", "--role", role, "--scope", scope, "--assignee-object-id", oid);
    json_t *out = NULL;
    if (qs_probe(q, QS_W("role", "assignment", "list", "--scope", scope, "--assignee", oid, "--role", role, "--query", "[0].id",
                         "-o", "tsv"),
                 NULL)) {
        qs_show(q, w);
        qs_result(q, "reused: %s already holds %s (%s)", oid, role, why);
        return CLI_EXIT_OK;
    }
    int rc = qs_run(q, w, &out);
    if (rc == CLI_EXIT_OK)
        qs_result(q, "%s: %s (%s)", role, ck_json_str(out, "name") ? ck_json_str(out, "name") : "assigned", why);
    json_decref(out);
    return rc;
}

/* Phase 1: the ISV's identities. */
static int qs_phase1(struct qs *q)
{
    json_t *out = NULL;
    int rc;

    qs_section("Phase 1: the ISV configures identities (tenant isv)");
    if ((rc = qs_login(q, &q->isv)) != CLI_EXIT_OK || (rc = qs_group(q, QS_ISV_RG)) != CLI_EXIT_OK)
        return rc;
    if ((rc = qs_run(q, QS_W("feature", "register", "--namespace", "Microsoft.Storage", "--name", "FederatedClientIdentity"),
                     &out)) != CLI_EXIT_OK)
        return rc;
    qs_result(q, "feature Microsoft.Storage/FederatedClientIdentity: %s",
              ck_json_str(ck_json_obj(out, "properties"), "state") ? ck_json_str(ck_json_obj(out, "properties"), "state")
                                                                    : "registering");
    json_decref(out);
    int64_t ms;
    if ((rc = qs_poll(q,
                      QS_W("feature", "show", "--namespace", "Microsoft.Storage", "--name", "FederatedClientIdentity",
                           "--query", "properties.state", "-o", "tsv"),
                      NULL, "Registered", &ms, NULL)) != CLI_EXIT_OK)
        return rc;
    qs_result(q, "Registered");
    if ((rc = qs_run(q, QS_W("provider", "register", "--namespace", "Microsoft.Storage"), NULL)) != CLI_EXIT_OK)
        return rc;
    qs_result(q, "provider Microsoft.Storage registered again after the feature (the preview's rule)");

    /* The multi-tenant app: the object id is saved, so a second run finds the same app. */
    const char *const *app_w =
        QS_W("ad", "app", "create", "--display-name", QS_APP_NAME, "--sign-in-audience", "AzureADMultipleOrgs", "--query",
             "id", "-o", "tsv");
    const char *saved_oid = ck_json_str(q->state, "appObjectId");
    if (saved_oid != NULL && qs_probe(q, QS_W("ad", "app", "show", "--id", saved_oid, "--query", "appId", "-o", "tsv"), NULL)) {
        q->app_oid = qs_dup(q, saved_oid);
        qs_show(q, app_w);
        qs_result(q, "reused: application %s, object id %s", QS_APP_NAME, q->app_oid);
    } else {
        if ((rc = qs_run(q, app_w, &out)) != CLI_EXIT_OK)
            return rc;
        q->app_oid = qs_text(q, out);
        json_decref(out);
        if (q->app_oid == NULL) {
            cli_err("ad app create printed no object id");
            return CLI_EXIT_ERR;
        }
        json_object_set_new(q->state, "appObjectId", json_string(q->app_oid));
        if ((rc = qs_state_save(q)) != CLI_EXIT_OK)
            return rc;
        qs_result(q, "multi-tenant application %s, object id %s", QS_APP_NAME, q->app_oid);
    }
    if ((rc = qs_run(q, QS_W("ad", "app", "show", "--id", q->app_oid, "--query", "appId", "-o", "tsv"), &out)) != CLI_EXIT_OK)
        return rc;
    q->app_id = qs_text(q, out);
    json_decref(out);
    if (q->app_id == NULL)
        return qs_failed(q, CLI_EXIT_ERR);
    qs_result(q, "appId (client id, the same in every tenant) %s", q->app_id);

    /* The user-assigned identity. */
    const char *const *uami_w = QS_W("identity", "create", "--name", QS_UAMI, "--resource-group", QS_ISV_RG, "--location",
                                     QS_LOCATION, "--subscription", q->isv.sub, "--query", "principalId", "-o", "tsv");
    if (qs_probe(q, QS_W("identity", "show", "-n", QS_UAMI, "-g", QS_ISV_RG, "--query", "principalId", "-o", "tsv"), &out)) {
        q->uami_pid = qs_text(q, out);
        json_decref(out);
        qs_show(q, uami_w);
        qs_result(q, "reused: identity %s, principalId %s", QS_UAMI, q->uami_pid);
    } else {
        if ((rc = qs_run(q, uami_w, &out)) != CLI_EXIT_OK)
            return rc;
        q->uami_pid = qs_text(q, out);
        json_decref(out);
        qs_result(q, "user-assigned identity %s, principalId %s", QS_UAMI, q->uami_pid ? q->uami_pid : "?");
    }
    if ((rc = qs_run(q, QS_W("identity", "show", "-n", QS_UAMI, "-g", QS_ISV_RG, "--query", "id", "-o", "tsv"), &out)) !=
        CLI_EXIT_OK)
        return rc;
    q->uami_id = qs_text(q, out);
    json_decref(out);
    if (q->uami_pid == NULL || q->uami_id == NULL)
        return qs_failed(q, CLI_EXIT_ERR);
    qs_result(q, "resource id %s", q->uami_id);

    /* The federated credential: the app trusts tokens the ISV's tenant issues to the identity. */
    const char *issuer = cli_fmt(q->ctx, "https://login.microsoftonline.com/%s/v2.0", q->isv.tid);
    json_t *params = json_pack("{s:s,s:s,s:s,s:s,s:[s]}", "name", QS_FIC_NAME, "issuer", issuer, "subject", q->uami_pid,
                               "description", "Federated Identity Credential for CMK", "audiences",
                               "api://AzureADTokenExchange");
    char *ptext = params != NULL ? json_dumps(params, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(params);
    if (ptext == NULL) {
        cli_err("out of memory");
        return CLI_EXIT_ERR;
    }
    const char *pjson = qs_dup(q, ptext);
    free(ptext);
    const char *const *fic_w = QS_W("ad", "app", "federated-credential", "create", "--id", q->app_oid, "--parameters", pjson);
    json_t *fic = NULL;
    if (qs_probe(q,
                 QS_W("ad", "app", "federated-credential", "show", "--id", q->app_oid, "--federated-credential-id",
                      QS_FIC_NAME),
                 &fic)) {
        int same = ck_json_str(fic, "subject") != NULL && strcmp(ck_json_str(fic, "subject"), q->uami_pid) == 0 &&
                   ck_json_str(fic, "issuer") != NULL && strcmp(ck_json_str(fic, "issuer"), issuer) == 0;
        json_decref(fic);
        if (same) {
            qs_show(q, fic_w);
            qs_result(q, "reused: credential %s (issuer %s, subject %s)", QS_FIC_NAME, issuer, q->uami_pid);
            return CLI_EXIT_OK;
        }
        /* A credential for an identity that no longer exists: replace it. */
        if ((rc = qs_run(q,
                         QS_W("ad", "app", "federated-credential", "delete", "--id", q->app_oid,
                              "--federated-credential-id", QS_FIC_NAME),
                         NULL)) != CLI_EXIT_OK)
            return rc;
        qs_result(q, "an old credential with another subject removed");
    }
    if ((rc = qs_run(q, fic_w, &out)) != CLI_EXIT_OK)
        return rc;
    qs_result(q, "the app trusts the identity: issuer %s, subject %s, audience %s", ck_json_str(out, "issuer"),
              ck_json_str(out, "subject"), "api://AzureADTokenExchange");
    json_decref(out);
    return CLI_EXIT_OK;
}

/* Phase 2: the customer's service principal, vault, key and roles. */
static int qs_phase2(struct qs *q)
{
    json_t *out = NULL;
    int rc;

    qs_section("Phase 2: the customer authorizes the ISV's app (tenant customer)");
    if ((rc = qs_login(q, &q->cust)) != CLI_EXIT_OK || (rc = qs_group(q, QS_CUST_RG)) != CLI_EXIT_OK)
        return rc;
    const char *const *sp_w = QS_W("ad", "sp", "create", "--id", q->app_id);
    if (qs_probe(q, QS_W("ad", "sp", "show", "--id", q->app_id, "--query", "id", "-o", "tsv"), NULL)) {
        qs_show(q, sp_w);
        qs_result(q, "reused: the app is installed in the customer's tenant");
    } else {
        if ((rc = qs_run(q, sp_w, &out)) != CLI_EXIT_OK)
            return rc;
        qs_result(q, "the ISV's app installed in the customer's tenant (app owner tenant %s)",
                  ck_json_str(out, "appOwnerOrganizationId") ? ck_json_str(out, "appOwnerOrganizationId") : "?");
        json_decref(out);
    }
    if ((rc = qs_run(q, QS_W("ad", "sp", "show", "--id", q->app_id, "--query", "id", "-o", "tsv"), &out)) != CLI_EXIT_OK)
        return rc;
    q->sp_id = qs_text(q, out);
    json_decref(out);
    if (q->sp_id == NULL)
        return qs_failed(q, CLI_EXIT_ERR);
    qs_result(q, "service principal object id %s (the role goes to it)", q->sp_id);

    const char *const *kv_w = QS_W("keyvault", "create", "--name", q->vault, "--resource-group", QS_CUST_RG, "--location",
                                   QS_LOCATION, "--enable-purge-protection", "true", "--enable-rbac-authorization", "true");
    if (qs_probe(q, QS_W("keyvault", "show", "-n", q->vault, "-g", QS_CUST_RG, "--query", "id", "-o", "tsv"), NULL)) {
        qs_show(q, kv_w);
        qs_result(q, "reused: vault %s", q->vault);
    } else {
        if ((rc = qs_run(q, kv_w, &out)) != CLI_EXIT_OK)
            return rc;
        json_t *p = ck_json_obj(out, "properties");
        qs_result(q, "vault %s: soft delete %s, purge protection %s, RBAC %s", q->vault,
                  ck_json_bool(p, "enableSoftDelete", 0) ? "on" : "off",
                  ck_json_bool(p, "enablePurgeProtection", 0) ? "on" : "off",
                  ck_json_bool(p, "enableRbacAuthorization", 0) ? "on" : "off");
        json_decref(out);
    }
    if ((rc = qs_run(q, QS_W("keyvault", "show", "-n", q->vault, "--query", "id", "-o", "tsv"), &out)) != CLI_EXIT_OK)
        return rc;
    q->kv_id = qs_text(q, out);
    json_decref(out);
    if (q->kv_id == NULL)
        return qs_failed(q, CLI_EXIT_ERR);
    qs_result(q, "%s", q->kv_id);
    if ((rc = qs_run(q, QS_W("keyvault", "show", "-n", q->vault, "--query", "properties.vaultUri", "-o", "tsv"), &out)) !=
        CLI_EXIT_OK)
        return rc;
    q->kv_uri = qs_text(q, out);
    json_decref(out);
    if (q->kv_uri == NULL)
        return qs_failed(q, CLI_EXIT_ERR);
    qs_result(q, "vault URI %s (the vault's own HTTPS origin)", q->kv_uri);

    /* The customer's admin needs a key role to create keys. */
    if ((rc = qs_run(q, QS_W("ad", "sp", "show", "--id", q->cust.client, "--query", "id", "-o", "tsv"), &out)) != CLI_EXIT_OK)
        return rc;
    const char *me = qs_text(q, out);
    json_decref(out);
    if (me == NULL)
        return qs_failed(q, CLI_EXIT_ERR);
    qs_result(q, "the customer admin's object id %s", me);
    if ((rc = qs_role(q, "Key Vault Crypto Officer", q->kv_id, me, "the customer's admin may create keys")) != CLI_EXIT_OK)
        return rc;

    const char *const *key_w = QS_W("keyvault", "key", "create", "--name", QS_KEY, "--vault-name", q->vault);
    json_t *key = NULL;
    if (qs_probe(q, QS_W("keyvault", "key", "show", "--vault-name", q->vault, "--name", QS_KEY), &key)) {
        q->kid = qs_dup(q, ck_json_str(ck_json_obj(key, "key"), "kid"));
        int enabled = ck_json_bool(ck_json_obj(key, "attributes"), "enabled", 1);
        json_decref(key);
        qs_show(q, key_w);
        qs_result(q, "reused: key %s, newest version %s", QS_KEY, q->kid ? q->kid : "?");
        if (!enabled) {
            /* An earlier run stopped between revocation and restore. */
            if ((rc = qs_run(q,
                             QS_W("keyvault", "key", "set-attributes", "--vault-name", q->vault, "--name", QS_KEY,
                                  "--enabled", "true"),
                             NULL)) != CLI_EXIT_OK)
                return rc;
            qs_result(q, "enabled again (an earlier run had stopped while it was disabled)");
        }
    } else {
        if ((rc = qs_run(q, key_w, &out)) != CLI_EXIT_OK)
            return rc;
        q->kid = qs_dup(q, ck_json_str(ck_json_obj(out, "key"), "kid"));
        qs_result(q, "%s %s key, version %s", ck_json_str(ck_json_obj(out, "key"), "kty") ? ck_json_str(ck_json_obj(out, "key"), "kty") : "RSA",
                  QS_KEY, q->kid ? q->kid : "?");
        json_decref(out);
    }
    return qs_role(q, "Key Vault Crypto Service Encryption User", q->kv_id, q->sp_id,
                   "the ISV's app may wrap and unwrap with the key");
}

/* Phase 3: the ISV's account encrypted with the customer's key, and data. */
static int qs_phase3(struct qs *q)
{
    json_t *out = NULL, *acct = NULL;
    int rc;

    qs_section("Phase 3: the ISV encrypts a storage account with the customer's key (tenant isv)");
    if ((rc = qs_run(q, QS_W("account", "set", "--subscription", q->isv.sub), NULL)) != CLI_EXIT_OK)
        return rc;
    qs_result(q, "the ISV's subscription %s is the default again", q->isv.sub);
    const char *const *create_w =
        QS_W("storage", "account", "create", "-n", q->account, "-g", QS_ISV_RG, "--sku", "Standard_LRS", "--kind",
             "StorageV2", "--allow-blob-public-access", "false", "--location", QS_LOCATION, "--identity-type",
             "SystemAssigned,UserAssigned", "--user-identity-id", q->uami_id, "--encryption-key-vault", q->kv_uri,
             "--encryption-key-name", QS_KEY, "--encryption-key-source", "Microsoft.Keyvault", "--key-vault-user-identity-id",
             q->uami_id, "--key-vault-federated-client-id", q->app_id);
    int reused = qs_probe(q, QS_W("storage", "account", "show", "-n", q->account, "-g", QS_ISV_RG), &acct);
    if (reused) {
        qs_show(q, create_w);
    } else if ((rc = qs_run(q, create_w, &acct)) != CLI_EXIT_OK) {
        return rc;
    }
    const json_t *enc = ck_json_obj(acct, "encryption");
    const json_t *kvp = ck_json_obj(enc, "keyVaultProperties");
    q->acct_id = qs_dup(q, ck_json_str(acct, "id"));
    qs_result(q, "%saccount %s: keySource %s, key %s, identity %s with the app %s; keyState %s", reused ? "reused: " : "",
              q->account, ck_json_str(enc, "keySource") ? ck_json_str(enc, "keySource") : "?",
              ck_json_str(kvp, "currentVersionedKeyIdentifier") ? ck_json_str(kvp, "currentVersionedKeyIdentifier") : "?",
              QS_UAMI, q->app_id,
              ck_json_str(ck_json_obj(acct, "keyState"), "state") ? ck_json_str(ck_json_obj(acct, "keyState"), "state")
                                                                  : "?");
    const char *ks = qs_dup(q, ck_json_str(ck_json_obj(acct, "keyState"), "state"));
    json_decref(acct);
    if (q->acct_id == NULL)
        return qs_failed(q, CLI_EXIT_ERR);
    if (reused && ks != NULL && strcmp(ks, "Usable") != 0 && strcmp(ks, "Revalidating") != 0) {
        /*
         * The chain was broken since the last run (a role or the service principal taken away, the
         * key disabled) and has just been put back by phase 2. Storage retries a denied account on
         * its re-validation interval; the seed's command for an existing account proves the key at
         * once.
         */
        if ((rc = qs_run(q,
                         QS_W("storage", "account", "update", "-n", q->account, "-g", QS_ISV_RG, "--identity-type",
                              "SystemAssigned,UserAssigned", "--user-identity-id", q->uami_id, "--encryption-key-vault",
                              q->kv_uri, "--encryption-key-name", QS_KEY, "--encryption-key-source", "Microsoft.Keyvault",
                              "--key-vault-user-identity-id", q->uami_id, "--key-vault-federated-client-id", q->app_id),
                         &acct)) != CLI_EXIT_OK)
            return rc;
        json_decref(acct);
        qs_result(q, "the account was %s (its chain to the key had been broken); the key was proved again", ks);
        int64_t ms;
        if ((rc = qs_poll(q, QS_W("storage", "account", "show", "-n", q->account, "-g", QS_ISV_RG, "--query", "keyState"),
                          "state", "Usable", &ms, NULL)) != CLI_EXIT_OK)
            return rc;
        qs_result(q, "keyState Usable after %.1f s", (double)ms / 1000);
    }

    /* The procedure's check: the account uses the vault's newest version. */
    if ((rc = qs_run(q,
                     QS_W("storage", "account", "show", "-n", q->account, "-g", QS_ISV_RG, "--query",
                          "encryption.keyVaultProperties.currentVersionedKeyIdentifier", "-o", "tsv"),
                     &out)) != CLI_EXIT_OK)
        return rc;
    const char *in_use = qs_text(q, out);
    json_decref(out);
    qs_result(q, "%s", in_use ? in_use : "?");
    if ((rc = qs_run(q,
                     QS_W("--subscription", q->cust.sub, "keyvault", "key", "list-versions", "--vault-name", q->vault,
                          "--name", QS_KEY, "--query", "[-1].kid", "-o", "tsv"),
                     &out)) != CLI_EXIT_OK)
        return rc;
    const char *newest = qs_text(q, out);
    json_decref(out);
    int match = in_use != NULL && newest != NULL && strcmp(in_use, newest) == 0;
    qs_result(q, "%s: %s", newest ? newest : "?",
              match ? "the same id, so the account uses the customer's newest key version"
                    : "not the account's version yet (a rotation is being followed)");

    /* Data, through the CLI with the ISV admin's token (a data role is needed). */
    if ((rc = qs_run(q, QS_W("ad", "sp", "show", "--id", q->isv.client, "--query", "id", "-o", "tsv"), &out)) != CLI_EXIT_OK)
        return rc;
    const char *isv_oid = qs_text(q, out);
    json_decref(out);
    if (isv_oid == NULL)
        return qs_failed(q, CLI_EXIT_ERR);
    qs_result(q, "the ISV admin's object id %s", isv_oid);
    if ((rc = qs_role(q, "Storage Blob Data Contributor", q->acct_id, isv_oid, "data access with --auth-mode login")) !=
        CLI_EXIT_OK)
        return rc;
    if ((rc = qs_run(q,
                     QS_W("storage", "container", "create", "-n", QS_CONTAINER, "--account-name", q->account, "--auth-mode",
                          "login"),
                     &out)) != CLI_EXIT_OK)
        return rc;
    qs_result(q, ck_json_bool(out, "created", 0) ? "container %s created" : "reused: container %s exists", QS_CONTAINER);
    json_decref(out);
    return CLI_EXIT_OK;
}

/* Compares two files byte for byte; returns the size when equal, -1 otherwise. */
static long long qs_same_file(const char *a, const char *b)
{
    char *da = NULL, *db = NULL;
    size_t la = 0, lb = 0;
    long long r = -1;
    if (ck_read_file(a, CLI_FILE_LIMIT, &da, &la) == 0 && ck_read_file(b, CLI_FILE_LIMIT, &db, &lb) == 0 && la == lb &&
        memcmp(da, db, la) == 0)
        r = (long long)la;
    ck_free(da);
    ck_free(db);
    return r;
}

/* Downloads the blob and checks it against the uploaded file. */
static int qs_read_back(struct qs *q, const char *src, const char *dst, const char *what)
{
    unlink(dst);
    int rc = qs_run(q,
                    QS_W("storage", "blob", "download", "--account-name", q->account, "-c", QS_CONTAINER, "-n", QS_BLOB,
                         "-f", dst, "--auth-mode", "login"),
                    NULL);
    if (rc != CLI_EXIT_OK)
        return rc;
    long long n = qs_same_file(src, dst);
    if (n < 0) {
        printf("    -> FAILED: %s differs from %s\n", dst, src);
        return CLI_EXIT_ERR;
    }
    qs_result(q, "%lld bytes read back, identical to %s%s", n, src, what);
    return CLI_EXIT_OK;
}

static int qs_data(struct qs *q, const char *src, const char *dst)
{
    json_t *out = NULL;
    int rc = qs_run(q,
                    QS_W("storage", "blob", "upload", "--account-name", q->account, "-c", QS_CONTAINER, "-n", QS_BLOB, "-f",
                         src, "--auth-mode", "login", "--overwrite"),
                    &out);
    if (rc != CLI_EXIT_OK)
        return rc;
    qs_result(q, "uploaded (etag %s); stored encrypted under the account's key, which only the customer's key unwraps",
              ck_json_str(out, "etag") ? ck_json_str(out, "etag") : "?");
    json_decref(out);
    return qs_read_back(q, src, dst, "");
}

/* A rotation by the customer, followed by the account. */
static int qs_rotation(struct qs *q, const char *src, const char *dst)
{
    json_t *out = NULL;
    int64_t ms;
    int rc;

    qs_section("Rotation: the customer rotates the key, the account follows by itself");
    if ((rc = qs_run(q,
                     QS_W("--subscription", q->cust.sub, "keyvault", "key", "rotate", "--vault-name", q->vault, "--name",
                          QS_KEY, "--query", "key.kid", "-o", "tsv"),
                     &out)) != CLI_EXIT_OK)
        return rc;
    const char *kid = qs_text(q, out);
    json_decref(out);
    if (kid == NULL)
        return qs_failed(q, CLI_EXIT_ERR);
    qs_result(q, "new version %s", kid);
    if ((rc = qs_poll(q,
                      QS_W("storage", "account", "show", "-n", q->account, "-g", QS_ISV_RG, "--query",
                           "encryption.keyVaultProperties.currentVersionedKeyIdentifier", "-o", "tsv"),
                      NULL, kid, &ms, NULL)) != CLI_EXIT_OK)
        return rc;
    qs_result(q, "the account uses the new version after %.1f s (the vault's key event; no data was re-encrypted)",
              (double)ms / 1000);
    if ((rc = qs_read_back(q, src, dst, " after the rotation")) != CLI_EXIT_OK)
        return rc;
    /* The customer's view: every use of the key by the ISV's app is in the vault's audit log. */
    if ((rc = qs_run(q,
                     QS_W("--subscription", q->cust.sub, "keyvault", "audit", "list", "-n", q->vault, "--caller", q->sp_id),
                     &out)) != CLI_EXIT_OK)
        return rc;
    const json_t *last = json_array_get(out, json_array_size(out) - 1);
    if (json_array_size(out) > 0)
        qs_result(q, "%zu records of the ISV app's calls; the last: %s %s, correlation id %s", json_array_size(out),
                  ck_json_str(last, "operation") ? ck_json_str(last, "operation") : "?",
                  ck_json_str(last, "time") ? ck_json_str(last, "time") : "?",
                  ck_json_str(last, "correlationId") ? ck_json_str(last, "correlationId") : "-");
    else
        qs_result(q, "no records of the ISV app's calls yet");
    json_decref(out);
    return CLI_EXIT_OK;
}

/* Revocation (the key disabled) and restore (enabled again). */
static int qs_revoke(struct qs *q, const char *src, const char *dst)
{
    json_t *out = NULL;
    int64_t ms;
    int rc;

    qs_section("Revocation: the customer disables the key, the ISV's data becomes unreadable");
    if ((rc = qs_run(q,
                     QS_W("--subscription", q->cust.sub, "keyvault", "key", "set-attributes", "--vault-name", q->vault,
                          "--name", QS_KEY, "--enabled", "false"),
                     &out)) != CLI_EXIT_OK)
        return rc;
    qs_result(q, "key %s disabled (enabled: %s)", QS_KEY,
              ck_json_bool(ck_json_obj(out, "attributes"), "enabled", 1) ? "true" : "false");
    json_decref(out);
    const char *const *state_w = QS_W("storage", "account", "show", "-n", q->account, "-g", QS_ISV_RG, "--query", "keyState");
    if ((rc = qs_poll(q, state_w, "state", "Denied", &ms, &out)) != CLI_EXIT_OK)
        return rc;
    qs_result(q, "keyState Denied after %.1f s: %s (%s)", (double)ms / 1000,
              ck_json_str(out, "errorCode") ? ck_json_str(out, "errorCode") : "?",
              ck_json_str(out, "reason") ? ck_json_str(out, "reason") : "?");
    json_decref(out);
    const char *const *down_w = QS_W("storage", "blob", "download", "--account-name", q->account, "-c", QS_CONTAINER, "-n",
                                     QS_BLOB, "-f", dst, "--auth-mode", "login");
    unlink(dst);
    qs_show(q, down_w);
    rc = qs_exec(q, down_w, NULL);
    if (rc == CLI_EXIT_OK || q->err == NULL || strstr(q->err, "(KeyVaultEncryptionKeyNotFound)") == NULL) {
        if (rc == CLI_EXIT_OK)
            printf("    -> FAILED: the blob was still readable with the key disabled\n");
        return qs_failed(q, rc == CLI_EXIT_OK ? CLI_EXIT_ERR : rc);
    }
    size_t l = strcspn(q->err, "\n");
    qs_result(q, "refused (exit %d), as expected: %.*s", rc, (int)(l > 300 ? 300 : l), q->err);

    qs_section("Restore: the customer enables the key again, the data comes back by itself");
    if ((rc = qs_run(q,
                     QS_W("--subscription", q->cust.sub, "keyvault", "key", "set-attributes", "--vault-name", q->vault,
                          "--name", QS_KEY, "--enabled", "true"),
                     NULL)) != CLI_EXIT_OK)
        return rc;
    qs_result(q, "key %s enabled", QS_KEY);
    if ((rc = qs_poll(q, state_w, "state", "Usable", &ms, NULL)) != CLI_EXIT_OK)
        return rc;
    qs_result(q, "keyState Usable after %.1f s; nothing was changed on the account", (double)ms / 1000);
    return qs_read_back(q, src, dst, " again");
}

/* Writes the sample file uploaded by the quickstart. */
static int qs_sample(struct qs *q, const char *path)
{
    const char *text = cli_fmt(q->ctx,
                               "Hello from crosskey quickstart.\n"
                               "This blob is stored in storage account %s of the ISV. It is encrypted at rest under the\n"
                               "account's key, which only the customer's key %s in vault %s (another tenant) can unwrap.\n",
                               q->account, QS_KEY, q->vault);
    if (ck_mkdirs(q->files, 0700) != 0 || ck_write_file_atomic(path, text, strlen(text), 0644) != 0) {
        cli_err("cannot write %s: %s", path, strerror(errno));
        return CLI_EXIT_ERR;
    }
    return CLI_EXIT_OK;
}

static void qs_signin(const struct qs_tenant *t, const char *who)
{
    printf("  %s (tenant '%s')\n", who, t->name);
    printf("    tenant id:      %s\n", t->tid);
    printf("    client id:      %s\n", t->client);
    printf("    client secret:  %s\n", t->secret);
}

static int cli_quickstart(struct cli_ctx *ctx)
{
    struct qs q;
    int rc;

    memset(&q, 0, sizeof(q));
    q.ctx = ctx;
    q.isv.name = "isv";
    q.isv.var = "ISV_SECRET";
    q.cust.name = "customer";
    q.cust.var = "CUSTOMER_SECRET";
    q.t0 = ck_mono_ms();
    if ((rc = cli_operator_open(ctx)) != CLI_EXIT_OK)
        return rc;
    q.data = ctx->data_dir;
    q.state_path = cli_fmt(ctx, "%s/" QS_STATE_FILE, q.data);
    q.files = cli_fmt(ctx, "%s/" QS_FILES_DIR, q.data);
    if ((rc = qs_state_load(&q)) != CLI_EXIT_OK)
        goto out;
    q.vault = cli_fmt(ctx, "custkv%s", q.suffix);
    q.account = cli_fmt(ctx, "isvdata%s", q.suffix);
    const char *src = cli_fmt(ctx, "%s/" QS_BLOB, q.files), *dst = cli_fmt(ctx, "%s/hello.read.txt", q.files);

    printf("crosskey quickstart: cross-tenant customer-managed keys, step by step\n");
    printf("  crosskeyd:  %s (data directory %s)\n", ctx->op_ep.arm, q.data);
    printf("  state:      %s (a second run reuses what it finds)\n", q.state_path);
    printf("  Each step prints the crosskey command that does it, then its result. The tenants' client secrets\n"
           "  appear as \"$ISV_SECRET\" and \"$CUSTOMER_SECRET\"; they are printed once, at the end.\n");

    qs_section("The host operator creates two tenants");
    if ((rc = qs_tenant(&q, &q.isv)) != CLI_EXIT_OK || (rc = qs_tenant(&q, &q.cust)) != CLI_EXIT_OK)
        goto out;
    if ((rc = qs_phase1(&q)) != CLI_EXIT_OK || (rc = qs_phase2(&q)) != CLI_EXIT_OK || (rc = qs_phase3(&q)) != CLI_EXIT_OK)
        goto out;
    if ((rc = qs_sample(&q, src)) != CLI_EXIT_OK || (rc = qs_data(&q, src, dst)) != CLI_EXIT_OK)
        goto out;
    if ((rc = qs_rotation(&q, src, dst)) != CLI_EXIT_OK)
        goto out;
    if (cli_has(ctx, "revoke") && (rc = qs_revoke(&q, src, dst)) != CLI_EXIT_OK)
        goto out;

    printf("\n== Done: %d steps in %.1f s\n", q.step, (double)(ck_mono_ms() - q.t0) / 1000);
    printf("Portal: %s/portal/\n", ctx->op_ep.arm);
    printf("Sign in with a tenant's admin credentials (keep them private; they are also in %s):\n", q.state_path);
    qs_signin(&q.isv, "The ISV");
    qs_signin(&q.cust, "The customer");
    printf("The CLI is signed in as both (crosskey account list); the ISV's subscription is the default, and the\n"
           "customer's commands take --subscription %s. For the commands above:\n"
           "  export ISV_SECRET='%s' CUSTOMER_SECRET='%s'\n",
           q.cust.sub, q.isv.secret, q.cust.secret);
    fflush(stdout);
    rc = CLI_EXIT_OK;
out:
    ck_free(q.err);
    cli_json_wipe(q.state);
    json_decref(q.state);
    return rc;
}

const struct cli_cmd cli_quickstart_cmds[] = {
    {"quickstart",
     "Operator: run the whole cross-tenant customer-managed-key procedure against crosskeyd, printing each "
     "command and its result (idempotent).",
     cli_quickstart,
     {{"revoke", NULL, CLI_BOOL, 0,
       "Also show revocation (the key disabled: the account's data answers 403) and restore (enabled again)."}},
     "crosskey --data /var/lib/crosskey quickstart --revoke"},
    {NULL, NULL, NULL, {{NULL, NULL, 0, 0, NULL}}, NULL},
};
