/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The customer-managed-key engine of the storage service (src/services/storage/st_kek.c,
 * st_keystate.c, the ARM side in st_rp.c and the data path in st_blob.c; docs/cmk.md) over the
 * real stack in one process: identity, ARM, the vault service (fault injection on) and the storage
 * service with its HTTPS blob origin and keeper thread, all over HTTP(S) on 127.0.0.1. The
 * cross-tenant chain is built with the services' own APIs (reference/seed-flow.md): the ISV tenant
 * registers Microsoft.Storage/FederatedClientIdentity, makes a user-assigned identity and a
 * multi-tenant app whose federated credential trusts it; the customer tenant installs the app
 * (service principal), makes vaults with purge protection and RBAC, keys, and grants Key Vault
 * Crypto Service Encryption User.
 *
 * Covered: an account created on the customer's key (the AEK kept only KEK-wrapped, nowhere in the
 * clear on disk, every wrap/unwrap in the customer's audit log); every failing link of the chain
 * answered with its ARM error and no change; a "vault" whose challenge names another authority
 * never sees a credential, nor one whose challenge names another resource than a key vault's;
 * the blob data path when the key is disabled, re-enabled, and when the role goes; ride-through of
 * an unreachable vault and its bound, and a refused key that stays refused while the vault is
 * unreachable; version follow after a rotation (and a pinned version that stays); the switch back
 * to Microsoft-managed keys; changes that keep the key; a change of key; revocation on the
 * identity side (federated credential, service principal); the key's expiry, deletion and
 * recovery; a restart.
 *
 * Checks that fail because of an engine bug say "ENGINE BUG" in their comment and message.
 *
 * Timings: re-validation every 2 s, ride-through 8 s, version poll 2 s. Waits are bounded polls
 * with generous deadlines, never benchmarks. CK_TEST_FILTER=<cmocka pattern> runs a subset.
 */
#include "st_fixture.h"

#include "crypto/keyops.h"

#include <dirent.h>
#include <pthread.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define REVALIDATE_S 2
#define RIDE_S 8
#define POLL_S 2
#define DEADLINE_MS 45000

#define ROLE_KV_SEU "e147488a-f6f5-4113-8e2d-b22465e65bf6"
#define ROLE_KV_OFFICER "14b46e9e-c2b7-41b4-b07b-48a6ebf60603"
#define EXCHANGE_AUD "api://AzureADTokenExchange"
#define BLOB_VERSION "2025-01-05"

/* The ISV (T) and the customer (C). */
static struct sf_tenant T, C;
/* The ISV's user-assigned identity, and its multi-tenant app trusting it (with a service principal
 * in C holding the role on vault V1). */
static char uami_pid[37], uami_cid[37], uami_id[300];
static char app_oid[37], app_id[37], sp_oid[37];
/* The customer's key officer (Crypto Officer on C's subscription) and its vault token. */
static struct sf_principal officer;
static char officer_tok[8192];
/* The customer's main vault. */
static unsigned v1port;
static char v1id[400];

/* ---- small helpers ---- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static json_t *props_of(const json_t *o)
{
    json_t *p = ck_json_obj(o, "properties");
    assert_non_null(p);
    return p;
}

static json_t *kvp_of(const json_t *o)
{
    return ck_json_obj(ck_json_obj(props_of(o), "encryption"), "keyvaultproperties");
}

static const char *vault_uri(unsigned port)
{
    return P("https://localhost:%u", port);
}

/* A graph token of tenant t's admin. */
static void graph_token(const struct sf_tenant *t, char *out, size_t cap)
{
    sf_token(t->tid, t->client_id, t->secret, SF_GRAPH_SCOPE, out, cap);
}

/*
 * A multi-tenant app in T with a federated credential for (T's v2 issuer, subject, the exchange
 * audience); with a service principal in C when sp_in_c (its id into sp, else sp is set to "").
 */
static void make_app(const char *name, const char *subject, int sp_in_c, char oid[37], char appid[37], char sp[37])
{
    char gt[8192], gc[8192];
    graph_token(&T, gt, sizeof(gt));
    json_t *o = sf_arm_ok(gt, "POST", "/v1.0/applications",
                          P("{\"displayName\":\"%s\",\"signInAudience\":\"AzureADMultipleOrgs\"}", name), 201);
    sf_copy(oid, 37, ck_json_str(o, "id"));
    sf_copy(appid, 37, ck_json_str(o, "appId"));
    json_decref(o);
    json_decref(sf_arm_ok(gt, "POST", P("/v1.0/applications/%s/federatedIdentityCredentials", oid),
                          P("{\"name\":\"cmk-%s\",\"issuer\":\"https://login.microsoftonline.com/%s/v2.0\","
                            "\"subject\":\"%s\",\"audiences\":[\"" EXCHANGE_AUD "\"],\"description\":\"CMK\"}",
                            name, T.tid, subject),
                          201));
    sp[0] = '\0';
    if (sp_in_c) {
        graph_token(&C, gc, sizeof(gc));
        o = sf_arm_ok(gc, "POST", "/v1.0/servicePrincipals", P("{\"appId\":\"%s\"}", appid), 201);
        sf_copy(sp, 37, ck_json_str(o, "id"));
        json_decref(o);
    }
}

/* Assigns role to principal at scope in C; writes the assignment's name. */
static void assign(const char *scope, const char *role, const char *principal, char name[37])
{
    assert_int_equal(ck_uuid_new(name), 0);
    json_decref(sf_arm_ok(
        C.armtok, "PUT", P("%s/providers/Microsoft.Authorization/roleAssignments/%s?api-version=2022-04-01", scope, name),
        P("{\"properties\":{\"roleDefinitionId\":\"/subscriptions/%s/providers/Microsoft.Authorization/"
          "roleDefinitions/%s\",\"principalId\":\"%s\",\"principalType\":\"ServicePrincipal\"}}",
          C.sub, role, principal),
        201));
}

static void unassign(const char *scope, const char *name)
{
    json_decref(sf_arm_ok(C.armtok, "DELETE",
                          P("%s/providers/Microsoft.Authorization/roleAssignments/%s?api-version=2022-04-01", scope, name),
                          NULL, 200));
}

/* Creates key name on the vault at port (body: the create request); writes its versioned kid. */
static void make_key(unsigned port, const char *name, const char *body, char kid[512])
{
    json_t *o = sf_kv_ok(port, "POST", P("/keys/%s/create", name), officer_tok, body, 200);
    sf_copy(kid, 512, ck_json_str(ck_json_obj(o, "key"), "kid"));
    json_decref(o);
}

static const char *version_of(const char *kid)
{
    const char *s = strrchr(kid, '/');
    assert_non_null(s);
    return P("%s", s + 1);
}

/* Enables or disables the newest version of key name. */
static void key_enable(unsigned port, const char *name, int enabled)
{
    json_t *o = sf_kv_ok(port, "PATCH", P("/keys/%s/", name), officer_tok,
                         P("{\"attributes\":{\"enabled\":%s}}", enabled ? "true" : "false"), 200);
    assert_true(json_is_boolean(json_object_get(ck_json_obj(o, "attributes"), "enabled")));
    json_decref(o);
}

/* A vault of C with the role for the app's service principal at vault scope; writes the vault's
 * ARM id and the assignment name. Returns the port. */
static unsigned cust_vault(const char *name, int purge_protection, char *vid, size_t vcap, char ra[37])
{
    unsigned port = sf_vault(&C, "crg", name, purge_protection);
    sf_copy(vid, vcap, sf_vault_id(&C, "crg", name));
    assign(vid, ROLE_KV_SEU, sp_oid, ra);
    return port;
}

/*
 * The body of an account on the customer's key: identity UserAssigned (the ISV's UAMI), keySource
 * Microsoft.Keyvault with uri, key and version, and the encryption identity (the UAMI, and the app
 * as federatedIdentityClientId when client is not NULL).
 */
static const char *cmk_body(const char *uri, const char *key, const char *version, const char *client)
{
    char fc[100] = "";
    if (client != NULL)
        snprintf(fc, sizeof(fc), ",\"federatedIdentityClientId\":\"%s\"", client);
    return P("{\"sku\":{\"name\":\"Standard_LRS\"},\"kind\":\"StorageV2\",\"location\":\"eastus\","
             "\"identity\":{\"type\":\"UserAssigned\",\"userAssignedIdentities\":{\"%s\":{}}},"
             "\"properties\":{\"encryption\":{\"services\":{\"blob\":{\"enabled\":true,\"keyType\":\"Account\"}},"
             "\"keySource\":\"Microsoft.Keyvault\",\"keyvaultproperties\":{\"keyname\":\"%s\",\"keyversion\":\"%s\","
             "\"keyvaulturi\":\"%s\"},\"identity\":{\"userAssignedIdentity\":\"%s\"%s}}}}",
             uami_id, key, version, uri, uami_id, fc);
}

/* The PATCH body that moves an account to a customer key. */
static const char *cmk_patch(const char *uri, const char *key, const char *version, const char *client)
{
    char fc[100] = "";
    if (client != NULL)
        snprintf(fc, sizeof(fc), ",\"federatedIdentityClientId\":\"%s\"", client);
    return P("{\"properties\":{\"encryption\":{\"keySource\":\"Microsoft.Keyvault\",\"keyvaultproperties\":"
             "{\"keyname\":\"%s\",\"keyversion\":\"%s\",\"keyvaulturi\":\"%s\"},\"identity\":"
             "{\"userAssignedIdentity\":\"%s\"%s}}}}",
             key, version, uri, uami_id, fc);
}

/* A plain account (Microsoft-managed keys) with the ISV's UAMI attached. */
static void plain_account(const char *name)
{
    json_decref(sf_account_put(&T, "rg1", name,
                               P("{\"sku\":{\"name\":\"Standard_LRS\"},\"kind\":\"StorageV2\",\"location\":\"eastus\","
                                 "\"identity\":{\"type\":\"UserAssigned\",\"userAssignedIdentities\":{\"%s\":{}}}}",
                                 uami_id),
                               201));
}

static const char *acct_url(const char *name)
{
    return P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", name));
}

static json_t *account_get(const char *name)
{
    return sf_arm_ok(T.armtok, "GET", acct_url(name), NULL, 200);
}

static void forget_account_key(const char *name);

static void account_delete(const char *name)
{
    struct rsp r = sf_arm(T.armtok, "DELETE", acct_url(name), NULL);
    if (r.status != 200)
        sf_status(&r, 204);
    rsp_free(&r);
    forget_account_key(name);
}

/* properties.keyState.state through ARM (a copy in a P() buffer), or "" when absent. */
static const char *state_arm(const char *name)
{
    json_t *o = account_get(name);
    const char *s = ck_json_str(ck_json_obj(props_of(o), "keyState"), "state");
    const char *out = P("%s", s ? s : "");
    json_decref(o);
    return out;
}

/* The key state as the storage service holds it, read in-process (no request to storage). */
static const char *state_inproc(const char *name)
{
    json_t *ks = st_ks_json(F.st, name);
    const char *s = ck_json_str(ks, "state");
    const char *out = P("%s", s ? s : "");
    json_decref(ks);
    return out;
}

/* A key state in which data is served on a valid lease: "Usable", or "Revalidating" (a check is in
 * flight; st_state_name shows it whenever one runs, also early in the lease). */
static void assert_serving_state(const char *st)
{
    if (strcmp(st, "Usable") != 0 && strcmp(st, "Revalidating") != 0) {
        print_error("key state %s, want Usable (or Revalidating)\n", st);
        fail();
    }
}

/* Waits (bounded) until the account's key state is want, read in-process (inproc) or through ARM. */
static void wait_state(const char *name, const char *want, int inproc)
{
    int64_t deadline = ck_mono_ms() + DEADLINE_MS;
    const char *got = "";
    while (ck_mono_ms() < deadline) {
        got = inproc ? state_inproc(name) : state_arm(name);
        if (strcmp(got, want) == 0)
            return;
        sleep_ms(200);
    }
    print_error("account %s: key state %s after %d ms, want %s\n", name, got, DEADLINE_MS, want);
    fail();
}

/* The AEK the data path uses for name (any key source); copied into out. */
static void data_aek(const char *name, uint8_t out[ST_AEK_LEN])
{
    struct ck_secret *aek = NULL;
    struct st_key_err err;
    memset(&err, 0, sizeof(err));
    int rc = st_account_key(F.st, name, 1, &aek, &err);
    if (rc != CK_OK) {
        print_error("st_account_key(%s): %d %s %s\n", name, rc, err.code ? err.code : "-", err.message);
        fail();
    }
    assert_int_equal(ck_secret_len(aek), ST_AEK_LEN);
    memcpy(out, ck_secret_ptr(aek), ST_AEK_LEN);
    ck_secret_free(aek);
}

/* ---- the Blob data plane with Shared Key ---- */

struct acct_key {
    char name[32];
    uint8_t key[64];
};
static struct acct_key keys[32];

/* key1 of the account, through ARM listKeys (kept per account). */
static const uint8_t *account_key(const char *name)
{
    int i;
    for (i = 0; i < 32 && keys[i].name[0] != '\0'; i++)
        if (strcmp(keys[i].name, name) == 0)
            return keys[i].key;
    assert_true(i < 32);
    json_t *o = sf_arm_ok(T.armtok, "POST", P("%s/listKeys?api-version=" SF_API, sf_acct_path(&T, "rg1", name)), NULL,
                          200);
    const char *v = ck_json_str(json_array_get(ck_json_arr(o, "keys"), 0), "value");
    uint8_t *raw = NULL;
    size_t rl = 0;
    assert_non_null(v);
    assert_int_equal(ck_b64_decode(v, strlen(v), &raw, &rl), 0);
    assert_int_equal(rl, 64);
    sf_copy(keys[i].name, sizeof(keys[i].name), name);
    memcpy(keys[i].key, raw, 64);
    ck_free(raw);
    json_decref(o);
    return keys[i].key;
}

/* Drops the kept key of a deleted account (its name may be taken again). */
static void forget_account_key(const char *name)
{
    for (int i = 0; i < 32; i++)
        if (strcmp(keys[i].name, name) == 0)
            keys[i].name[0] = '\1'; /* a slot no account name matches, never reused */
}

struct bres {
    long status;
    char body[8192];
    char code[64]; /* x-ms-error-code, or "" */
};

struct qp {
    char name[64], value[128];
};

static int qp_cmp(const void *a, const void *b)
{
    return strcmp(((const struct qp *)a)->name, ((const struct qp *)b)->name);
}

/*
 * One Blob request signed with Shared Key (key1 of acct, through ARM listKeys), path style:
 * {origin}/{acct}{path}[?query]. query holds plain name=value pairs joined by '&' (no encoding
 * needed). blob_type, when not NULL, is sent as x-ms-blob-type. A transport failure fails the test.
 */
static struct bres blob_call(const char *acct, const char *method, const char *path, const char *query, const char *body,
                             const char *blob_type)
{
    struct bres out;
    struct qp qs[8];
    size_t nq = 0;
    char raw_path[512], date[64], sts[4096], clen[32] = "", url[1024], auth[256], hdate[100], hblob[64];
    int put = strcmp(method, "PUT") == 0;
    const char *ctype = put ? "application/octet-stream" : "";
    time_t now = (time_t)ck_time_now();
    struct tm tmv;
    memset(&out, 0, sizeof(out));
    gmtime_r(&now, &tmv);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tmv);
    snprintf(raw_path, sizeof(raw_path), "/%s%s", acct, path);
    if (body != NULL && strlen(body) > 0)
        snprintf(clen, sizeof(clen), "%zu", strlen(body));
    if (query != NULL) {
        char q[512];
        sf_copy(q, sizeof(q), query);
        for (char *tok = q; tok != NULL && *tok != '\0';) {
            char *amp = strchr(tok, '&'), *eq;
            if (amp != NULL)
                *amp = '\0';
            eq = strchr(tok, '=');
            assert_true(nq < 8);
            if (eq != NULL)
                *eq = '\0';
            sf_copy(qs[nq].name, sizeof(qs[nq].name), tok);
            sf_copy(qs[nq].value, sizeof(qs[nq].value), eq ? eq + 1 : "");
            nq++;
            tok = amp ? amp + 1 : NULL;
        }
        qsort(qs, nq, sizeof(qs[0]), qp_cmp);
    }
    int n = snprintf(sts, sizeof(sts), "%s\n\n\n%s\n\n%s\n\n\n\n\n\n\n%s%s%sx-ms-date:%s\nx-ms-version:" BLOB_VERSION
                                       "\n/%s%s",
                     method, clen, ctype, blob_type ? "x-ms-blob-type:" : "", blob_type ? blob_type : "",
                     blob_type ? "\n" : "", date, acct, raw_path);
    assert_true(n > 0 && (size_t)n < sizeof(sts));
    for (size_t i = 0; i < nq; i++) {
        size_t l = strlen(sts);
        n = snprintf(sts + l, sizeof(sts) - l, "\n%s:%s", qs[i].name, qs[i].value);
        assert_true(n > 0 && (size_t)n < sizeof(sts) - l);
    }
    uint8_t mac[CK_SHA256_LEN];
    assert_int_equal(ck_hmac_sha256(account_key(acct), 64, sts, strlen(sts), mac), 0);
    char *sig = ck_b64_encode(mac, sizeof(mac));
    assert_non_null(sig);
    snprintf(auth, sizeof(auth), "Authorization: SharedKey %s:%s", acct, sig);
    ck_free(sig);
    snprintf(hdate, sizeof(hdate), "x-ms-date: %s", date);
    snprintf(url, sizeof(url), "%s%s%s%s", st_blob_origin(F.st), raw_path, query ? "?" : "", query ? query : "");
    struct ck_httpc_req req = {0};
    struct ck_httpc_resp resp;
    int h = 0;
    req.method = method;
    req.url = url;
    req.headers[h++] = auth;
    req.headers[h++] = hdate;
    req.headers[h++] = "x-ms-version: " BLOB_VERSION;
    if (put)
        req.headers[h++] = "Content-Type: application/octet-stream";
    if (blob_type != NULL) {
        snprintf(hblob, sizeof(hblob), "x-ms-blob-type: %s", blob_type);
        req.headers[h++] = hblob;
    }
    req.headers[h] = NULL;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    req.timeout_ms = 30000;
    int rc = ck_httpc_do(&req, &resp);
    if (rc != CK_OK) {
        print_error("%s %s: transport error %d\n", method, url, rc);
        ck_httpc_resp_cleanup(&resp);
        fail();
    }
    out.status = resp.status;
    snprintf(out.body, sizeof(out.body), "%.*s", (int)resp.body.len, resp.body.data ? resp.body.data : "");
    char *code = ck_httpc_resp_header(&resp, "x-ms-error-code");
    if (code != NULL)
        snprintf(out.code, sizeof(out.code), "%s", code);
    ck_free(code);
    ck_httpc_resp_cleanup(&resp);
    return out;
}

static void bres_expect(const struct bres *r, long status, const char *code, const char *what)
{
    if (r->status != status || (code != NULL && strcmp(r->code, code) != 0)) {
        print_error("%s: want %ld %s, got %ld %s %s\n", what, status, code ? code : "", r->status, r->code, r->body);
        fail();
    }
}

static void container_create(const char *acct, const char *c)
{
    struct bres r = blob_call(acct, "PUT", P("/%s", c), "restype=container", NULL, NULL);
    bres_expect(&r, 201, NULL, "Create Container");
}

static void blob_put(const char *acct, const char *c, const char *b, const char *data)
{
    struct bres r = blob_call(acct, "PUT", P("/%s/%s", c, b), NULL, data, "BlockBlob");
    bres_expect(&r, 201, NULL, "Put Blob");
}

static struct bres blob_get(const char *acct, const char *c, const char *b)
{
    return blob_call(acct, "GET", P("/%s/%s", c, b), NULL, NULL, NULL);
}

static void blob_read_ok(const char *acct, const char *c, const char *b, const char *want)
{
    struct bres r = blob_get(acct, c, b);
    bres_expect(&r, 200, NULL, P("Get Blob %s/%s/%s", acct, c, b));
    assert_string_equal(r.body, want);
}

/* Polls Get Blob (bounded) until it answers status (and code, when not NULL); returns the answer. */
static struct bres wait_blob(const char *acct, const char *c, const char *b, long status, const char *code)
{
    int64_t deadline = ck_mono_ms() + DEADLINE_MS;
    struct bres r;
    do {
        r = blob_get(acct, c, b);
        if (r.status == status && (code == NULL || strcmp(r.code, code) == 0))
            return r;
        sleep_ms(200);
    } while (ck_mono_ms() < deadline);
    print_error("Get Blob %s/%s/%s: still %ld %s after %d ms, want %ld %s\n", acct, c, b, r.status, r.code, DEADLINE_MS,
                status, code ? code : "");
    fail();
    return r;
}

/* List Blobs of container c (include: NULL, or e.g. "metadata"). */
static struct bres blob_list(const char *acct, const char *c, const char *include)
{
    return blob_call(acct, "GET", P("/%s", c),
                     include ? P("restype=container&comp=list&include=%s", include) : "restype=container&comp=list",
                     NULL, NULL);
}

/* A call that must answer 200 or 204 (deletions). */
static void ok_2xx(struct rsp r, const char *what)
{
    if (r.status != 200 && r.status != 204) {
        print_error("%s: HTTP %ld %s\n", what, r.status, r.body);
        fail();
    }
    rsp_free(&r);
}

/* ---- scans ---- */

/* Counts the files under dir that hold needle (printing each). */
static int scan_dir(const char *dir, const void *needle, size_t nl, const char *what)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int hits = 0;
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char path[1024];
        struct stat sb;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            hits += scan_dir(path, needle, nl, what);
        } else if (S_ISREG(sb.st_mode)) {
            char *data = NULL;
            size_t dl = 0;
            if (ck_read_file(path, 512u << 20, &data, &dl) != 0)
                continue;
            if (sf_contains((const uint8_t *)data, dl, needle, nl)) {
                print_error("%s found in %s\n", what, path);
                hits++;
            }
            ck_free(data);
        }
    }
    closedir(d);
    return hits;
}

/* ---- group set-up ---- */

static int group_setup(void **state)
{
    char ra[37];
    sf_setup_with_vault(state, REVALIDATE_S, RIDE_S, POLL_S);
    sf_tenant("isv", "rg1", &T);
    sf_tenant("customer", "crg", &C);
    /* The ISV: the feature, then the provider again; the identity; the app and its credential. */
    json_decref(sf_arm_ok(T.armtok, "POST",
                          P("/subscriptions/%s/providers/Microsoft.Features/providers/Microsoft.Storage/features/"
                            "FederatedClientIdentity/register?api-version=2021-07-01",
                            T.sub),
                          NULL, 200));
    json_decref(sf_arm_ok(T.armtok, "POST",
                          P("/subscriptions/%s/providers/Microsoft.Storage/register?api-version=2021-04-01", T.sub),
                          NULL, 200));
    sf_uami(&T, "rg1", "cmk-uami", uami_pid, uami_cid);
    sf_copy(uami_id, sizeof(uami_id), sf_uami_id(&T, "rg1", "cmk-uami"));
    make_app("isv-cmk", uami_pid, 1, app_oid, app_id, sp_oid);
    /* The customer: a key officer, the vault, the role for the app's service principal. */
    sf_principal(&C, "officer", &officer);
    sf_assign(&C, P("/subscriptions/%s", C.sub), ROLE_KV_OFFICER, officer.oid);
    sf_token(C.tid, officer.app_id, officer.secret, SF_VAULT_SCOPE, officer_tok, sizeof(officer_tok));
    v1port = cust_vault("cmkv1", 1, v1id, sizeof(v1id), ra);
    return 0;
}

static int group_teardown(void **state)
{
    int rc = sf_teardown(state);
    memset(&sf_opts, 0, sizeof(sf_opts));
    return rc;
}

/* ---- 1. an account on the customer's key ---- */

static void audit_ops(const json_t *o, int *wraps, int *unwraps)
{
    json_t *rec;
    size_t i;
    json_array_foreach(ck_json_arr(o, "value"), i, rec) {
        const char *op = ck_json_str(rec, "operation"), *corr = ck_json_str(rec, "correlationId");
        if (op == NULL || corr == NULL || !ck_uuid_valid(corr))
            continue;
        if (strcmp(op, "WrapKey") == 0)
            (*wraps)++;
        if (strcmp(op, "UnwrapKey") == 0)
            (*unwraps)++;
    }
}

static void test_create_cmk_account(void **state)
{
    (void)state;
    char kid[512];
    uint8_t aek[ST_AEK_LEN];
    make_key(v1port, "k1", "{\"kty\":\"RSA\",\"key_size\":2048}", kid);
    long before = sf_count("accounts");
    json_t *o = sf_account_put(&T, "rg1", "cmk1", cmk_body(vault_uri(v1port), "k1", "", app_id), 201);
    json_t *enc = ck_json_obj(props_of(o), "encryption");
    assert_string_equal(ck_json_str(enc, "keySource"), "Microsoft.Keyvault");
    assert_string_equal(ck_json_str(kvp_of(o), "currentVersionedKeyIdentifier"), kid);
    assert_non_null(ck_json_str(kvp_of(o), "lastKeyRotationTimestamp"));
    assert_string_equal(ck_json_str(ck_json_obj(enc, "identity"), "federatedIdentityClientId"), app_id);
    json_decref(o);
    assert_int_equal(sf_count("accounts"), before + 1);

    o = account_get("cmk1");
    assert_string_equal(ck_json_str(kvp_of(o), "currentVersionedKeyIdentifier"), kid);
    json_t *ks = ck_json_obj(props_of(o), "keyState");
    assert_non_null(ks);
    assert_serving_state(ck_json_str(ks, "state"));
    assert_string_equal(ck_json_str(ks, "currentKek"), kid);
    assert_non_null(ck_json_str(ks, "since"));
    json_decref(o);

    /* The AEK is not under the root key any more: only the vault's RSA-OAEP-256 wrapping is kept. */
    struct ck_secret *root_aek = NULL;
    assert_int_equal(st_account_root_aek(F.st, "cmk1", &root_aek), CK_E_FORBIDDEN);
    assert_null(root_aek);
    struct ck_bytes wrapped = {0}, kw = {0};
    char *kek = NULL;
    assert_int_equal(st_account_wrapping(F.st, "cmk1", &wrapped, &kek), CK_OK);
    assert_non_null(kek);
    assert_string_equal(kek, kid);
    assert_int_equal(wrapped.len, 256); /* one RSA-2048 block */
    data_aek("cmk1", aek);
    assert_int_equal(ck_aes_kw_wrap(F.root, aek, sizeof(aek), &kw), CK_OK);
    assert_false(kw.len == wrapped.len && memcmp(kw.ptr, wrapped.ptr, kw.len) == 0);
    /* ...and it is the customer's key that unwraps the stored wrapping to this AEK. */
    char *wb = ck_b64url_encode(wrapped.ptr, wrapped.len);
    assert_non_null(wb);
    json_t *u = sf_kv_ok(v1port, "POST", P("/keys/k1/%s/unwrapkey", version_of(kid)), officer_tok,
                         P("{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", wb), 200);
    char *ab = ck_b64url_encode(aek, sizeof(aek));
    assert_non_null(ab);
    assert_string_equal(ck_json_str(u, "value"), ab);
    json_decref(u);
    ck_free(ab);
    ck_free(wb);

    /* Data round-trips on it. */
    container_create("cmk1", "cont1");
    blob_put("cmk1", "cont1", "b1", "customer-managed data");
    blob_read_ok("cmk1", "cont1", "b1", "customer-managed data");

    /* The raw AEK is nowhere on disk: not in the storage store (sf_slurp_store), nor anywhere
     * under the data directory, in any encoding. */
    size_t len = 0;
    uint8_t *all = sf_slurp_store(&len);
    assert_true(len > 0);
    assert_false(sf_contains(all, len, aek, sizeof(aek)));
    assert_false(sf_contains(all, len, aek, 16));
    assert_false(sf_contains(all, len, kw.ptr, kw.len)); /* nor its root-key wrapping */
    ck_free(all);
    char *b64 = ck_b64_encode(aek, sizeof(aek)), *b64u = ck_b64url_encode(aek, sizeof(aek)),
         *hex = ck_hex_encode(aek, sizeof(aek));
    assert_int_equal(scan_dir(F.dir, aek, sizeof(aek), "the raw AEK"), 0);
    assert_int_equal(scan_dir(F.dir, b64, strlen(b64), "the AEK (base64)"), 0);
    assert_int_equal(scan_dir(F.dir, b64u, strlen(b64u), "the AEK (base64url)"), 0);
    assert_int_equal(scan_dir(F.dir, hex, strlen(hex), "the AEK (hex)"), 0);
    ck_free(b64);
    ck_free(b64u);
    ck_free(hex);

    /* Every wrap and unwrap of the app's service principal is in the customer's audit log, with
     * the correlation id storage sent (DESIGN.md section 6, invariant 5). */
    json_t *al = sf_arm_ok(C.armtok, "GET", P("%s/auditRecords?api-version=2026-02-01&callerOid=%s", v1id, sp_oid), NULL,
                           200);
    int wraps = 0, unwraps = 0;
    audit_ops(al, &wraps, &unwraps);
    json_decref(al);
    assert_true(wraps >= 1);
    assert_true(unwraps >= 1);

    account_delete("cmk1");
    assert_int_equal(sf_count("accounts"), before);
    ck_free(wrapped.ptr);
    ck_free(kw.ptr);
    ck_free(kek);
    ck_wipe(aek, sizeof(aek));
}

/* ---- 2. each failing link: its ARM error, and nothing changes ---- */

/* 1 when s starts with one of the '|'-separated prefixes. */
static int prefix_any(const char *s, const char *prefixes)
{
    for (const char *p = prefixes;;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (strncmp(s, p, n) == 0)
            return 1;
        if (bar == NULL)
            return 0;
        p = bar + 1;
    }
}

/* Checks an ARM error with details[0]: its target, and its code (one of the '|'-separated
 * prefixes in detail_prefix). */
static void cmk_err(struct rsp r, long status, const char *code, const char *target, const char *detail_prefix)
{
    json_t *e = ck_json_obj(r.json, "error");
    json_t *d0 = json_array_get(ck_json_arr(e, "details"), 0);
    const char *c = ck_json_str(e, "code"), *t = ck_json_str(d0, "target"), *dc = ck_json_str(d0, "code");
    if (r.status != status || c == NULL || strcmp(c, code) != 0 || t == NULL || strcmp(t, target) != 0 ||
        dc == NULL || !prefix_any(dc, detail_prefix) || ck_json_str(e, "message") == NULL) {
        print_error("want %ld %s, details[0] %s / %s*; got HTTP %ld %s\n", status, code, target, detail_prefix, r.status,
                    r.body);
        fail();
    }
    rsp_free(&r);
}

static void test_refusals(void **state)
{
    (void)state;
    char kid[512], eckid[512], npkid[512], npid[400], ra[37];
    char bad_oid[37], bad_app[37], bad_sp[37], nosp_oid[37], nosp_app[37], nosp_sp[37], nor_oid[37], nor_app[37],
        nor_sp[37], wrong_subject[37];
    make_key(v1port, "kref", "{\"kty\":\"RSA\",\"key_size\":2048}", kid);
    make_key(v1port, "kec", "{\"kty\":\"EC\",\"crv\":\"P-256\"}", eckid);
    /* An app whose credential names another subject (with a service principal in C and the role);
     * an app with the right credential but no service principal in C; one with a service principal
     * but no role. */
    assert_int_equal(ck_uuid_new(wrong_subject), 0);
    make_app("isv-badsubject", wrong_subject, 1, bad_oid, bad_app, bad_sp);
    assign(v1id, ROLE_KV_SEU, bad_sp, ra);
    make_app("isv-nosp", uami_pid, 0, nosp_oid, nosp_app, nosp_sp);
    make_app("isv-norole", uami_pid, 1, nor_oid, nor_app, nor_sp);
    /* A vault without purge protection (the role is there, the key is fine). */
    unsigned npport = cust_vault("cmknopp", 0, npid, sizeof(npid), ra);
    make_key(npport, "k", "{\"kty\":\"RSA\",\"key_size\":2048}", npkid);

    static const struct {
        const char *label;
        int vault; /* 0: V1, 1: no purge protection, 2: nothing listens */
        const char *key, *app; /* app: "main", "bad", "nosp", "norole" */
        const char *code, *target, *detail;
    } cases[] = {
        {"wrong federated credential subject", 0, "kref", "bad", "KeyVaultAuthenticationFailure", "federatedCredential",
         "AADSTS"},
        {"no service principal in the customer tenant", 0, "kref", "nosp", "KeyVaultAuthenticationFailure",
         "servicePrincipal", "AADSTS700016"},
        {"no role", 0, "kref", "norole", "KeyVaultAuthenticationFailure", "role", "ForbiddenByRbac"},
        {"unknown key", 0, "nosuchkey", "main", "KeyVaultEncryptionKeyNotFound", "key", "KeyNotFound"},
        {"EC key", 0, "kec", "main", "InvalidKeyVaultKey", "key", "InvalidKeyType"},
        {"no purge protection", 1, "k", "main", "KeyVaultPolicyError", "vaultPolicy", "recoveryLevel"},
        /* A second call right after a connection failure meets the per-vault backoff (docs/cmk.md). */
        {"unreachable vault", 2, "k", "main", "KeyVaultVaultNotFound", "vault", "ConnectionFailed|BackingOff"},
    };

    plain_account("refplain");
    struct ck_secret *aek0 = NULL;
    assert_int_equal(st_account_root_aek(F.st, "refplain", &aek0), CK_OK);
    json_t *was = account_get("refplain");
    long rows = sf_count("accounts");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *uri = cases[i].vault == 0 ? vault_uri(v1port) : cases[i].vault == 1 ? vault_uri(npport)
                                                                                         : "https://localhost:1";
        char uric[64];
        sf_copy(uric, sizeof(uric), uri);
        const char *app = strcmp(cases[i].app, "bad") == 0      ? bad_app
                          : strcmp(cases[i].app, "nosp") == 0   ? nosp_app
                          : strcmp(cases[i].app, "norole") == 0 ? nor_app
                                                                : app_id;
        print_message("refusal: %s\n", cases[i].label);
        /* A new account: refused, not created. */
        cmk_err(sf_arm(T.armtok, "PUT", acct_url("refnew"), cmk_body(uric, cases[i].key, "", app)), 400, cases[i].code,
                cases[i].target, cases[i].detail);
        assert_int_equal(sf_count("accounts"), rows);
        sf_arm_err(sf_arm(T.armtok, "GET", acct_url("refnew"), NULL), 404, "ResourceNotFound");
        /* An existing account moved to the key: refused, unchanged. */
        cmk_err(sf_arm(T.armtok, "PATCH", acct_url("refplain"), cmk_patch(uric, cases[i].key, "", app)), 400,
                cases[i].code, cases[i].target, cases[i].detail);
        json_t *now = account_get("refplain");
        if (!json_equal(was, now)) {
            char *a = ck_json_dump(was), *b = ck_json_dump(now);
            print_error("%s changed the account:\n%s\n%s\n", cases[i].label, a, b);
            free(a);
            free(b);
            fail();
        }
        json_decref(now);
        struct ck_secret *aek = NULL;
        assert_int_equal(st_account_root_aek(F.st, "refplain", &aek), CK_OK);
        assert_memory_equal(ck_secret_ptr(aek), ck_secret_ptr(aek0), ST_AEK_LEN);
        ck_secret_free(aek);
    }
    assert_int_equal(sf_count("accounts"), rows);
    json_decref(was);

    /* An account already on a customer key is not moved by a refused change either. */
    json_decref(sf_account_put(&T, "rg1", "refcmk", cmk_body(vault_uri(v1port), "kref", "", app_id), 201));
    json_t *cw = account_get("refcmk");
    struct ck_bytes w0 = {0}, w1 = {0};
    char *k0 = NULL, *k1 = NULL;
    assert_int_equal(st_account_wrapping(F.st, "refcmk", &w0, &k0), CK_OK);
    cmk_err(sf_arm(T.armtok, "PATCH", acct_url("refcmk"), cmk_patch(vault_uri(v1port), "kec", "", app_id)), 400,
            "InvalidKeyVaultKey", "key", "InvalidKeyType");
    cmk_err(sf_arm(T.armtok, "PATCH", acct_url("refcmk"), cmk_patch(vault_uri(v1port), "kref", "", nor_app)), 400,
            "KeyVaultAuthenticationFailure", "role", "ForbiddenByRbac");
    json_t *cn = account_get("refcmk");
    json_object_del(props_of(cw), "keyState"); /* lease times move */
    json_object_del(props_of(cn), "keyState");
    assert_true(json_equal(cw, cn));
    assert_int_equal(st_account_wrapping(F.st, "refcmk", &w1, &k1), CK_OK);
    assert_string_equal(k1, k0);
    assert_int_equal(w1.len, w0.len);
    assert_memory_equal(w1.ptr, w0.ptr, w0.len);
    assert_serving_state(state_arm("refcmk"));
    json_decref(cw);
    json_decref(cn);
    ck_free(w0.ptr);
    ck_free(w1.ptr);
    ck_free(k0);
    ck_free(k1);
    ck_secret_free(aek0);
    account_delete("refplain");
    account_delete("refcmk");
}

/* ---- 3. a challenge that names another authority ---- */

static struct {
    pthread_mutex_t lock;
    char authz[300];      /* the authorization parameter of the challenge */
    char resource[200];   /* its resource parameter ("" : https://vault.azure.net) */
    int requests, with_auth, with_assertion, with_jwt;
    char last_bearer[8192]; /* the last bearer token received, if any */
} E = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int evil_header_it(void *arg, const char *k, const char *v)
{
    int *jwt = arg;
    if (strstr(v, "eyJ") != NULL || strcasecmp(k, "Authorization") == 0)
        *jwt = 1;
    return 0;
}

static int evil_query_it(void *arg, const char *k, const char *v)
{
    int *bad = arg;
    if (strstr(k, "assertion") != NULL || (v != NULL && strstr(v, "eyJ") != NULL))
        *bad = 1;
    return 0;
}

/* The "vault": records what it receives and answers every request with a 401 challenge whose
 * authorization names E.authz. */
static void evil_handle(void *ctx, struct ck_req *req, struct ck_resp *resp)
{
    char www[600];
    size_t bl = 0;
    const char *body = ck_req_body(req, &bl);
    int jwt = 0, qbad = 0;
    (void)ctx;
    ck_req_header_each(req, evil_header_it, &jwt);
    ck_req_query_each(req, evil_query_it, &qbad);
    pthread_mutex_lock(&E.lock);
    E.requests++;
    const char *az = ck_req_header(req, "Authorization");
    if (az != NULL) {
        E.with_auth++;
        if (strncmp(az, "Bearer ", 7) == 0)
            snprintf(E.last_bearer, sizeof(E.last_bearer), "%s", az + 7);
    }
    if ((body != NULL && sf_contains((const uint8_t *)body, bl, "assertion", 9)) || qbad)
        E.with_assertion++;
    if (jwt || (body != NULL && sf_contains((const uint8_t *)body, bl, "eyJ", 3)))
        E.with_jwt++;
    snprintf(www, sizeof(www), "Bearer authorization=\"%s\", resource=\"%s\"", E.authz,
             E.resource[0] ? E.resource : "https://vault.azure.net");
    pthread_mutex_unlock(&E.lock);
    ck_resp_header(resp, "WWW-Authenticate", www);
    static const char err[] = "{\"error\":{\"code\":\"Unauthorized\",\"message\":\"AKV10000: Request is missing a "
                              "Bearer or PoP token.\"}}";
    ck_resp_body(resp, "application/json; charset=utf-8", err, sizeof(err) - 1);
    ck_resp_status(resp, 401);
}

static void test_untrusted_authority(void **state)
{
    (void)state;
    struct ck_httpd *evil = NULL;
    struct ck_httpd_config hc = {.bind_addr = "127.0.0.1", .port = 0, .name = "evil-vault",
                                 .tls_cert_pem = F.chain_pem, .tls_key_pem = (const char *)ck_secret_ptr(F.tls_key_pem)};
    struct ck_mount m = {.name = "evil", .handle = evil_handle};
    assert_int_equal(ck_httpd_new(&hc, &evil), CK_OK);
    assert_int_equal(ck_httpd_mount(evil, &m), CK_OK);
    char uri[64];
    sf_copy(uri, sizeof(uri), vault_uri(ck_httpd_port(evil)));
    /* Other authorities, and look-alikes of the trusted one. */
    const char *authorities[] = {
        "https://evil.example/tenant",
        P("https://evil.example/%s", C.tid),
        P("%s.evil.example/%s", F.base, C.tid),
        P("%s@evil.example/%s", F.base, C.tid),
        P("https://login.microsoftonline.com/%s", C.tid),
    };
    char auths[5][200];
    for (size_t i = 0; i < 5; i++)
        sf_copy(auths[i], sizeof(auths[i]), authorities[i]);
    long rows = sf_count("accounts");
    plain_account("evilplain");
    json_t *was = account_get("evilplain");
    for (size_t i = 0; i < 5; i++) {
        pthread_mutex_lock(&E.lock);
        sf_copy(E.authz, sizeof(E.authz), auths[i]);
        int seen = E.requests;
        pthread_mutex_unlock(&E.lock);
        print_message("challenge names %s\n", auths[i]);
        /* Cross-tenant (a federated exchange would follow) and same-tenant (the MI token itself). */
        cmk_err(sf_arm(T.armtok, "PUT", acct_url("evilnew"), cmk_body(uri, "cmk", "", app_id)), 400,
                "KeyVaultVaultNotFound", "vault", "UntrustedAuthority");
        cmk_err(sf_arm(T.armtok, "PUT", acct_url("evilnew"), cmk_body(uri, "cmk", "", NULL)), 400,
                "KeyVaultVaultNotFound", "vault", "UntrustedAuthority");
        cmk_err(sf_arm(T.armtok, "PATCH", acct_url("evilplain"), cmk_patch(uri, "cmk", "", app_id)), 400,
                "KeyVaultVaultNotFound", "vault", "UntrustedAuthority");
        pthread_mutex_lock(&E.lock);
        int got = E.requests - seen;
        pthread_mutex_unlock(&E.lock);
        assert_true(got >= 3); /* it was asked (the unauthenticated probe), each time */
    }
    assert_int_equal(sf_count("accounts"), rows + 1);
    json_t *now = account_get("evilplain");
    assert_true(json_equal(was, now));
    json_decref(was);
    json_decref(now);
    /* It never received a credential of any kind. */
    pthread_mutex_lock(&E.lock);
    int with_auth = E.with_auth, with_assertion = E.with_assertion, with_jwt = E.with_jwt;
    pthread_mutex_unlock(&E.lock);
    ck_httpd_free(evil);
    assert_int_equal(with_auth, 0);
    assert_int_equal(with_assertion, 0);
    assert_int_equal(with_jwt, 0);
    account_delete("evilplain");
}

/* The payload of a JWT, parsed (caller decrefs), or NULL. */
static json_t *jwt_payload(const char *tok)
{
    const char *a = strchr(tok, '.'), *b = a ? strchr(a + 1, '.') : NULL;
    uint8_t *raw = NULL;
    size_t rl = 0;
    if (b == NULL || ck_b64url_decode(a + 1, (size_t)(b - a - 1), &raw, &rl) != 0)
        return NULL;
    json_t *o = ck_json_parse((const char *)raw, rl, NULL, 0);
    ck_free(raw);
    return o;
}

/*
 * A "vault" that names the trusted authority but another resource than a key vault's (ARM, Graph)
 * must not get a token for that resource: the token would be good at ARM or Graph for the
 * identity (same tenant) or for the app's service principal in the tenant it names (cross-tenant).
 * The challenge resource decides the audience of the token storage asks for (st_kek.c
 * st_challenge, st_vault_token), so it must be a key vault resource (docs/cmk.md step 2; Azure's
 * SDKs check that the challenge resource belongs to the vault's domain).
 *
 * ENGINE BUG: st_challenge accepts any resource, st_vault_token asks identity for a token with that
 * audience (st_mi_token same tenant, st_fic_exchange scope "{resource}/.default" cross-tenant) and
 * st_vault_call sends it to the "vault", twice (the 401 retry). This test fails until it is fixed.
 */
static void test_challenge_resource(void **state)
{
    (void)state;
    struct ck_httpd *evil = NULL;
    struct ck_httpd_config hc = {.bind_addr = "127.0.0.1", .port = 0, .name = "evil-vault",
                                 .tls_cert_pem = F.chain_pem, .tls_key_pem = (const char *)ck_secret_ptr(F.tls_key_pem)};
    struct ck_mount m = {.name = "evil", .handle = evil_handle};
    assert_int_equal(ck_httpd_new(&hc, &evil), CK_OK);
    assert_int_equal(ck_httpd_mount(evil, &m), CK_OK);
    char uri[64];
    sf_copy(uri, sizeof(uri), vault_uri(ck_httpd_port(evil)));
    static const char *const resources[] = {"https://management.azure.com", "https://graph.microsoft.com"};
    int leaked = 0;
    for (size_t i = 0; i < 2; i++) {
        for (int cross = 0; cross < 2; cross++) {
            pthread_mutex_lock(&E.lock);
            snprintf(E.authz, sizeof(E.authz), "%s/%s", F.base, cross ? C.tid : T.tid);
            snprintf(E.resource, sizeof(E.resource), "%s", resources[i]);
            E.last_bearer[0] = '\0';
            pthread_mutex_unlock(&E.lock);
            struct rsp r = sf_arm(T.armtok, "PUT", acct_url("resnew"), cmk_body(uri, "cmk", "", cross ? app_id : NULL));
            pthread_mutex_lock(&E.lock);
            char tok[8192];
            snprintf(tok, sizeof(tok), "%s", E.last_bearer);
            pthread_mutex_unlock(&E.lock);
            if (tok[0] != '\0') {
                json_t *pl = jwt_payload(tok);
                print_error("ENGINE BUG: a challenge naming resource %s (%s) got a bearer token sent to %s: aud=%s "
                            "tid=%s oid=%s; PUT answered HTTP %ld %.300s\n",
                            resources[i], cross ? "cross-tenant" : "same tenant", uri,
                            pl && ck_json_str(pl, "aud") ? ck_json_str(pl, "aud") : "?",
                            pl && ck_json_str(pl, "tid") ? ck_json_str(pl, "tid") : "?",
                            pl && ck_json_str(pl, "oid") ? ck_json_str(pl, "oid") : "?", r.status, r.body);
                if (i == 0) {
                    /* Whether ARM takes it (401: not accepted; anything else: authenticated). */
                    struct rsp a = sf_arm(tok, "GET", "/subscriptions?api-version=2022-12-01", NULL);
                    print_error("  ARM answers the leaked token with HTTP %ld %.200s\n", a.status, a.body);
                    rsp_free(&a);
                }
                json_decref(pl);
                leaked++;
            }
            if (r.status != 400)
                print_error("PUT answered HTTP %ld, want 400\n", r.status);
            leaked += r.status != 400;
            rsp_free(&r);
        }
    }
    pthread_mutex_lock(&E.lock);
    E.resource[0] = '\0';
    pthread_mutex_unlock(&E.lock);
    ck_httpd_free(evil);
    assert_int_equal(leaked, 0);
}

/* ---- 4. the data path: a disabled key, a removed role ---- */

static void test_data_path(void **state)
{
    (void)state;
    char vid[400], ra[37], kid[512];
    unsigned port = cust_vault("cmkdata", 1, vid, sizeof(vid), ra);
    make_key(port, "kd", "{\"kty\":\"RSA\",\"key_size\":3072}", kid);
    json_decref(sf_account_put(&T, "rg1", "cmkdata1", cmk_body(vault_uri(port), "kd", "", app_id), 201));
    container_create("cmkdata1", "cont1");
    blob_put("cmkdata1", "cont1", "b1", "first blob");
    blob_read_ok("cmkdata1", "cont1", "b1", "first blob");

    /* The customer disables the key: within the bound, data operations answer 403. */
    key_enable(port, "kd", 0);
    wait_blob("cmkdata1", "cont1", "b1", 403, "KeyVaultEncryptionKeyNotFound");
    struct bres r = blob_call("cmkdata1", "PUT", "/cont1/b2", NULL, "refused", "BlockBlob");
    bres_expect(&r, 403, "KeyVaultEncryptionKeyNotFound", "Put Blob on a disabled key");
    r = blob_call("cmkdata1", "HEAD", "/cont1/b1", NULL, NULL, NULL);
    bres_expect(&r, 403, "KeyVaultEncryptionKeyNotFound", "Get Blob Properties on a disabled key");
    r = blob_list("cmkdata1", "cont1", "metadata");
    bres_expect(&r, 403, "KeyVaultEncryptionKeyNotFound", "List Blobs include=metadata on a disabled key");
    /* Operations that touch no data keep working. */
    r = blob_list("cmkdata1", "cont1", NULL);
    bres_expect(&r, 200, NULL, "List Blobs on a disabled key");
    assert_non_null(strstr(r.body, "<Name>b1</Name>"));
    r = blob_call("cmkdata1", "GET", "", "comp=list", NULL, NULL);
    bres_expect(&r, 200, NULL, "List Containers on a disabled key");
    assert_non_null(strstr(r.body, "<Name>cont1</Name>"));
    container_create("cmkdata1", "cont2");
    json_t *o = account_get("cmkdata1");
    json_t *ks = ck_json_obj(props_of(o), "keyState");
    assert_string_equal(ck_json_str(ks, "state"), "Denied");
    assert_string_equal(ck_json_str(ks, "errorCode"), "KeyVaultEncryptionKeyNotFound");
    json_decref(o);

    /* Re-enabled: access comes back by itself. */
    key_enable(port, "kd", 1);
    wait_blob("cmkdata1", "cont1", "b1", 200, NULL);
    blob_read_ok("cmkdata1", "cont1", "b1", "first blob");
    blob_put("cmkdata1", "cont1", "b2", "second blob");
    wait_state("cmkdata1", "Usable", 0);

    /* The customer removes the role: no token can reach the key any more. */
    unassign(vid, ra);
    wait_blob("cmkdata1", "cont1", "b1", 403, "KeyVaultAccessTokenCannotBeAcquired");
    r = blob_get("cmkdata1", "cont1", "b2");
    bres_expect(&r, 403, "KeyVaultAccessTokenCannotBeAcquired", "Get Blob without the role");
    r = blob_list("cmkdata1", "cont1", NULL);
    bres_expect(&r, 200, NULL, "List Blobs without the role");
    assert_non_null(strstr(r.body, "<Name>b2</Name>"));
    assert_string_equal(state_arm("cmkdata1"), "Denied");

    /* Granted again: back. */
    assign(vid, ROLE_KV_SEU, sp_oid, ra);
    wait_blob("cmkdata1", "cont1", "b1", 200, NULL);
    blob_read_ok("cmkdata1", "cont1", "b2", "second blob");
    account_delete("cmkdata1");
}

/* ---- 5. ride-through ---- */

/*
 * With the vault unreachable, the cached AEK keeps serving until the ride-through bound. Get Blob
 * is tried right after the state turns Unreachable; should that read come later than the bound
 * (a stalled machine), the check is inconclusive rather than failed, and returns 0.
 */
static int served_while_unreachable(const char *acct)
{
    int64_t t0 = ck_mono_ms();
    wait_state(acct, "Unreachable", 1);
    int64_t seen = ck_mono_ms();
    struct bres r = blob_get(acct, "cont1", "b1");
    if (r.status == 200) {
        assert_string_equal(r.body, "riding through");
        return 1;
    }
    if (ck_mono_ms() - seen < (RIDE_S - 2) * 1000) {
        print_error("Get Blob %ld %s %.200s %lld ms after the state turned Unreachable (%lld ms after the fault), "
                    "within the ride-through bound of %d s\n",
                    r.status, r.code, r.body, (long long)(ck_mono_ms() - seen), (long long)(ck_mono_ms() - t0), RIDE_S);
        fail();
    }
    print_message("inconclusive: Get Blob came %lld ms after the state turned Unreachable\n",
                  (long long)(ck_mono_ms() - seen));
    return 0;
}

/* A fault change in a thread of its own: "down" waits for the vault's requests in flight (a
 * storage long poll of /events among them) before it answers, while the origin already refuses
 * new connections, so the test watches the account meanwhile. No P() or tf_http here (not
 * thread-safe). */
struct fault_job {
    pthread_t th;
    char url[128], body[128];
    long status;
};

static void *fault_thread(void *arg)
{
    struct fault_job *j = arg;
    struct ck_httpc_req req = {0};
    struct ck_httpc_resp resp;
    req.method = "POST";
    req.url = j->url;
    req.headers[0] = "Authorization: Operator " SF_OP_KEY;
    req.headers[1] = SF_JSON;
    req.body = j->body;
    req.body_len = strlen(j->body);
    req.timeout_ms = 60000;
    j->status = ck_httpc_do(&req, &resp) == CK_OK ? resp.status : -1;
    ck_httpc_resp_cleanup(&resp);
    ck_httpc_thread_cleanup();
    return NULL;
}

static void fault_start(struct fault_job *j, const char *vault, const char *mode)
{
    memset(j, 0, sizeof(*j));
    snprintf(j->url, sizeof(j->url), "%s/operator/vault/fault", F.base);
    snprintf(j->body, sizeof(j->body), "{\"vault\":\"%s\",\"mode\":\"%s\"}", vault, mode);
    assert_int_equal(pthread_create(&j->th, NULL, fault_thread, j), 0);
}

static void fault_join(struct fault_job *j)
{
    assert_int_equal(pthread_join(j->th, NULL), 0);
    assert_int_equal(j->status, 200);
}

static void test_ride_through(void **state)
{
    (void)state;
    char vid[400], ra[37], kid[512];
    unsigned port = cust_vault("cmkride", 1, vid, sizeof(vid), ra);
    make_key(port, "kr", "{\"kty\":\"RSA\",\"key_size\":2048}", kid);
    json_decref(sf_account_put(&T, "rg1", "cmkride1", cmk_body(vault_uri(port), "kr", "", app_id), 201));
    container_create("cmkride1", "cont1");
    blob_put("cmkride1", "cont1", "b1", "riding through");

    /* The vault answers 500: Unreachable, served on the cached AEK; then back by itself. */
    int ok = 0;
    for (int attempt = 0; attempt < 3 && !ok; attempt++) {
        sf_vault_fault("cmkride", "error", ",\"status\":500");
        ok = served_while_unreachable("cmkride1");
        json_t *o = account_get("cmkride1");
        json_t *ks = ck_json_obj(props_of(o), "keyState");
        if (strcmp(ck_json_str(ks, "state"), "Unreachable") == 0) {
            assert_non_null(ck_json_str(ks, "unreachableSince"));
            assert_string_equal(ck_json_str(ks, "errorCode"), "KeyVaultVaultNotFound");
        }
        json_decref(o);
        sf_vault_fault("cmkride", "none", NULL);
        /* No request to storage: the keeper alone brings it back (read in-process). */
        wait_state("cmkride1", "Usable", 1);
    }
    assert_true(ok);
    blob_read_ok("cmkride1", "cont1", "b1", "riding through");

    /* The vault is down (connections refused) beyond the bound: 403 KeyVaultVaultNotFound; data-free
     * operations keep working. */
    ok = 0;
    for (int attempt = 0; attempt < 3 && !ok; attempt++) {
        struct fault_job job;
        fault_start(&job, "cmkride", "down");
        ok = served_while_unreachable("cmkride1");
        fault_join(&job);
        if (!ok) {
            sf_vault_fault("cmkride", "none", NULL);
            wait_state("cmkride1", "Usable", 1);
        }
    }
    assert_true(ok);
    wait_blob("cmkride1", "cont1", "b1", 403, "KeyVaultVaultNotFound");
    struct bres r = blob_list("cmkride1", "cont1", NULL);
    bres_expect(&r, 200, NULL, "List Blobs beyond the ride-through bound");
    assert_non_null(strstr(r.body, "<Name>b1</Name>"));
    assert_string_equal(state_arm("cmkride1"), "Unreachable");
    sf_vault_fault("cmkride", "none", NULL);
    wait_state("cmkride1", "Usable", 1);
    blob_read_ok("cmkride1", "cont1", "b1", "riding through");
    account_delete("cmkride1");
}

/* ---- a refused key stays refused while the vault is unreachable ---- */

static void test_denied_then_unreachable(void **state)
{
    (void)state;
    char vid[400], ra[37], kid[512];
    unsigned port = cust_vault("cmkdenyout", 1, vid, sizeof(vid), ra);
    make_key(port, "kx", "{\"kty\":\"RSA\",\"key_size\":2048}", kid);
    json_decref(sf_account_put(&T, "rg1", "cmkdenyout1", cmk_body(vault_uri(port), "kx", "", app_id), 201));
    container_create("cmkdenyout1", "cont1");
    blob_put("cmkdenyout1", "cont1", "b1", "stays refused");
    key_enable(port, "kx", 0);
    wait_blob("cmkdenyout1", "cont1", "b1", 403, "KeyVaultEncryptionKeyNotFound");

    /* The vault stops answering: the AEK was wiped at the denial and nothing brings it back; data
     * operations answer 503 ServerBusy (no cached AEK) or, past the bound, 403 — never the data. */
    sf_vault_fault("cmkdenyout", "error", ",\"status\":503");
    wait_state("cmkdenyout1", "Unreachable", 1);
    for (int i = 0; i < 5; i++) {
        struct bres r = blob_get("cmkdenyout1", "cont1", "b1");
        if (!((r.status == 503 && strcmp(r.code, "ServerBusy") == 0) ||
              (r.status == 403 && strcmp(r.code, "KeyVaultVaultNotFound") == 0))) {
            print_error("Get Blob of a denied account with its vault unreachable: %ld %s %.200s\n", r.status, r.code,
                        r.body);
            fail();
        }
        sleep_ms(100);
    }
    struct bres r = blob_list("cmkdenyout1", "cont1", NULL);
    bres_expect(&r, 200, NULL, "List Blobs of a denied account with its vault unreachable");
    /* Back: still denied, for the key's reason; enabled: served. */
    sf_vault_fault("cmkdenyout", "none", NULL);
    wait_blob("cmkdenyout1", "cont1", "b1", 403, "KeyVaultEncryptionKeyNotFound");
    assert_string_equal(state_inproc("cmkdenyout1"), "Denied");
    key_enable(port, "kx", 1);
    wait_blob("cmkdenyout1", "cont1", "b1", 200, NULL);
    blob_read_ok("cmkdenyout1", "cont1", "b1", "stays refused");
    account_delete("cmkdenyout1");
}

/* ---- 6. version follow ---- */

static void test_version_follow(void **state)
{
    (void)state;
    char kid1[512], kid2[512];
    uint8_t aek_before[ST_AEK_LEN], aek_after[ST_AEK_LEN];
    make_key(v1port, "kf", "{\"kty\":\"RSA\",\"key_size\":2048}", kid1);
    char v1[64];
    sf_copy(v1, sizeof(v1), version_of(kid1));
    json_decref(sf_account_put(&T, "rg1", "cmkauto", cmk_body(vault_uri(v1port), "kf", "", app_id), 201));
    json_decref(sf_account_put(&T, "rg1", "cmkpin", cmk_body(vault_uri(v1port), "kf", v1, app_id), 201));
    json_t *o = account_get("cmkauto");
    char ts0[64];
    sf_copy(ts0, sizeof(ts0), ck_json_str(kvp_of(o), "lastKeyRotationTimestamp"));
    json_decref(o);
    container_create("cmkauto", "cont1");
    blob_put("cmkauto", "cont1", "old", "written under version 1");
    container_create("cmkpin", "cont1");
    blob_put("cmkpin", "cont1", "old", "pinned to version 1");
    data_aek("cmkauto", aek_before);

    json_t *rot = sf_kv_ok(v1port, "POST", "/keys/kf/rotate", officer_tok, NULL, 200);
    sf_copy(kid2, sizeof(kid2), ck_json_str(ck_json_obj(rot, "key"), "kid"));
    json_decref(rot);
    assert_string_not_equal(kid1, kid2);

    /* The automatic-version account follows the new version. */
    int64_t deadline = ck_mono_ms() + DEADLINE_MS;
    const char *cur = "";
    for (;;) {
        o = account_get("cmkauto");
        cur = P("%s", ck_json_str(kvp_of(o), "currentVersionedKeyIdentifier"));
        if (strcmp(cur, kid2) == 0)
            break;
        json_decref(o);
        if (ck_mono_ms() > deadline) {
            print_error("cmkauto still on %s after %d ms (want %s)\n", cur, DEADLINE_MS, kid2);
            fail();
        }
        sleep_ms(200);
    }
    assert_string_equal(ck_json_str(kvp_of(o), "keyversion"), "");
    assert_non_null(ck_json_str(kvp_of(o), "lastKeyRotationTimestamp"));
    assert_true(strcmp(ck_json_str(kvp_of(o), "lastKeyRotationTimestamp"), ts0) >= 0);
    json_decref(o);
    struct ck_bytes w = {0};
    char *kek = NULL;
    assert_int_equal(st_account_wrapping(F.st, "cmkauto", &w, &kek), CK_OK);
    assert_string_equal(kek, kid2);
    ck_free(w.ptr);
    ck_free(kek);
    wait_state("cmkauto", "Usable", 0);
    o = account_get("cmkauto");
    assert_string_equal(ck_json_str(ck_json_obj(props_of(o), "keyState"), "currentKek"), kid2);
    json_decref(o);
    /* The AEK is the same: old data stays readable, new data is written. */
    data_aek("cmkauto", aek_after);
    assert_memory_equal(aek_before, aek_after, ST_AEK_LEN);
    blob_read_ok("cmkauto", "cont1", "old", "written under version 1");
    blob_put("cmkauto", "cont1", "new", "written under version 2");
    blob_read_ok("cmkauto", "cont1", "new", "written under version 2");

    /* The pinned account does not move, over several polls and re-validations. */
    sleep_ms((POLL_S * 2 + 1) * 1000);
    o = account_get("cmkpin");
    assert_string_equal(ck_json_str(kvp_of(o), "currentVersionedKeyIdentifier"), kid1);
    assert_string_equal(ck_json_str(kvp_of(o), "keyversion"), v1);
    assert_string_equal(ck_json_str(ck_json_obj(props_of(o), "keyState"), "currentKek"), kid1);
    json_decref(o);
    assert_int_equal(st_account_wrapping(F.st, "cmkpin", &w, &kek), CK_OK);
    assert_string_equal(kek, kid1);
    ck_free(w.ptr);
    ck_free(kek);
    blob_read_ok("cmkpin", "cont1", "old", "pinned to version 1");
    account_delete("cmkauto");
    account_delete("cmkpin");
    ck_wipe(aek_before, sizeof(aek_before));
    ck_wipe(aek_after, sizeof(aek_after));
}

/* ---- 7. back to Microsoft-managed keys ---- */

static void test_switch_back(void **state)
{
    (void)state;
    char kid[512];
    uint8_t aek0[ST_AEK_LEN], aek1[ST_AEK_LEN];
    make_key(v1port, "kb", "{\"kty\":\"RSA\",\"key_size\":2048}", kid);
    plain_account("cmkback");
    struct ck_secret *root = NULL;
    assert_int_equal(st_account_root_aek(F.st, "cmkback", &root), CK_OK);
    memcpy(aek0, ck_secret_ptr(root), ST_AEK_LEN);
    ck_secret_free(root);
    root = NULL;
    container_create("cmkback", "cont1");
    blob_put("cmkback", "cont1", "b0", "under the platform key");

    /* To the customer's key: the same AEK, now only KEK-wrapped. */
    json_t *o = sf_arm_ok(T.armtok, "PATCH", acct_url("cmkback"), cmk_patch(vault_uri(v1port), "kb", "", app_id), 200);
    assert_string_equal(ck_json_str(kvp_of(o), "currentVersionedKeyIdentifier"), kid);
    assert_serving_state(ck_json_str(ck_json_obj(props_of(o), "keyState"), "state"));
    json_decref(o);
    assert_int_equal(st_account_root_aek(F.st, "cmkback", &root), CK_E_FORBIDDEN);
    data_aek("cmkback", aek1);
    assert_memory_equal(aek0, aek1, ST_AEK_LEN);
    blob_read_ok("cmkback", "cont1", "b0", "under the platform key");
    blob_put("cmkback", "cont1", "b1", "under the customer key");

    /* Back to Microsoft.Storage: the AEK is root-wrapped again, the same one. */
    o = sf_arm_ok(T.armtok, "PATCH", acct_url("cmkback"),
                  "{\"properties\":{\"encryption\":{\"keySource\":\"Microsoft.Storage\"}}}", 200);
    json_t *enc = ck_json_obj(props_of(o), "encryption");
    assert_string_equal(ck_json_str(enc, "keySource"), "Microsoft.Storage");
    assert_null(json_object_get(enc, "keyvaultproperties"));
    assert_null(json_object_get(props_of(o), "keyState"));
    json_decref(o);
    assert_int_equal(st_account_root_aek(F.st, "cmkback", &root), CK_OK);
    assert_memory_equal(ck_secret_ptr(root), aek0, ST_AEK_LEN);
    ck_secret_free(root);
    struct ck_bytes w = {0}, kw = {0};
    char *kek = NULL;
    assert_int_equal(st_account_wrapping(F.st, "cmkback", &w, &kek), CK_OK);
    assert_null(kek);
    assert_int_equal(ck_aes_kw_wrap(F.root, aek0, sizeof(aek0), &kw), CK_OK);
    assert_int_equal(w.len, kw.len);
    assert_memory_equal(w.ptr, kw.ptr, kw.len);
    ck_free(w.ptr);
    ck_free(kw.ptr);
    blob_read_ok("cmkback", "cont1", "b0", "under the platform key");
    blob_read_ok("cmkback", "cont1", "b1", "under the customer key");

    /* The customer's key no longer matters. */
    key_enable(v1port, "kb", 0);
    sleep_ms((REVALIDATE_S * 2 + 1) * 1000);
    blob_read_ok("cmkback", "cont1", "b0", "under the platform key");
    blob_read_ok("cmkback", "cont1", "b1", "under the customer key");
    blob_put("cmkback", "cont1", "b2", "after the switch");
    blob_read_ok("cmkback", "cont1", "b2", "after the switch");
    assert_string_equal(state_arm("cmkback"), "");
    key_enable(v1port, "kb", 1);
    account_delete("cmkback");
    ck_wipe(aek0, sizeof(aek0));
    ck_wipe(aek1, sizeof(aek1));
}

/* ---- settings that do not move the key ---- */

/*
 * A change that leaves the customer key where it is runs no chain and keeps the read-only key
 * fields: the same vault URI with a trailing slash (Azure's vaultUri form, which the SDKs and az
 * pass), tags, and both while the key is disabled (account properties are not data).
 */
static void test_settings_same_key(void **state)
{
    (void)state;
    char kid[512];
    make_key(v1port, "ks", "{\"kty\":\"RSA\",\"key_size\":2048}", kid);
    json_decref(sf_account_put(&T, "rg1", "cmksame", cmk_body(vault_uri(v1port), "ks", "", app_id), 201));
    container_create("cmksame", "cont1");
    blob_put("cmksame", "cont1", "b1", "same key");

    /* Tags only. */
    json_t *o = sf_arm_ok(T.armtok, "PATCH", acct_url("cmksame"), "{\"tags\":{\"env\":\"one\"}}", 200);
    assert_string_equal(ck_json_str(kvp_of(o), "currentVersionedKeyIdentifier"), kid);
    json_decref(o);

    /* The same vault, written as Azure writes vaultUri (trailing slash): the same key, so no new
     * wrapping and the read-only fields stay. ENGINE BUG (st_rp.c st_encryption_apply compares
     * keyvaulturi as given, st_cmk_moved compares it without trailing slashes): the read-only fields
     * are dropped and never set again, so currentVersionedKeyIdentifier disappears. */
    o = sf_arm_ok(T.armtok, "PATCH", acct_url("cmksame"), cmk_patch(P("%s/", vault_uri(v1port)), "ks", "", app_id), 200);
    const char *cur = ck_json_str(kvp_of(o), "currentVersionedKeyIdentifier");
    if (cur == NULL || strcmp(cur, kid) != 0) {
        char *t = ck_json_dump(kvp_of(o));
        print_error("ENGINE BUG: after a PATCH naming the same vault with a trailing slash, keyvaultproperties is %s "
                    "(want currentVersionedKeyIdentifier %s)\n", t, kid);
        free(t);
    }
    json_decref(o);
    o = account_get("cmksame");
    const char *cur2 = ck_json_str(kvp_of(o), "currentVersionedKeyIdentifier");
    int kept = cur2 != NULL && strcmp(cur2, kid) == 0;
    json_decref(o);
    blob_read_ok("cmksame", "cont1", "b1", "same key");

    /* Disabled key: the account's properties can still be changed; data stays refused. */
    key_enable(v1port, "ks", 0);
    wait_blob("cmksame", "cont1", "b1", 403, "KeyVaultEncryptionKeyNotFound");
    o = sf_arm_ok(T.armtok, "PATCH", acct_url("cmksame"), "{\"tags\":{\"env\":\"two\"}}", 200);
    assert_string_equal(ck_json_str(ck_json_obj(o, "tags"), "env"), "two");
    assert_string_equal(ck_json_str(ck_json_obj(props_of(o), "keyState"), "state"), "Denied");
    json_decref(o);
    struct bres r = blob_get("cmksame", "cont1", "b1");
    bres_expect(&r, 403, "KeyVaultEncryptionKeyNotFound", "Get Blob after a PATCH of tags on a denied account");
    key_enable(v1port, "ks", 1);
    wait_blob("cmksame", "cont1", "b1", 200, NULL);
    account_delete("cmksame");
    assert_true(kept);
}

/* ---- a change of key ---- */

static void test_change_key(void **state)
{
    (void)state;
    char kida[512], kidb[512], vid[400], ra[37];
    uint8_t aek0[ST_AEK_LEN], aek1[ST_AEK_LEN];
    unsigned port2 = cust_vault("cmkv2", 1, vid, sizeof(vid), ra);
    make_key(v1port, "ka", "{\"kty\":\"RSA\",\"key_size\":2048}", kida);
    make_key(port2, "kb2", "{\"kty\":\"RSA\",\"key_size\":4096}", kidb);
    json_decref(sf_account_put(&T, "rg1", "cmkmove", cmk_body(vault_uri(v1port), "ka", "", app_id), 201));
    container_create("cmkmove", "cont1");
    blob_put("cmkmove", "cont1", "b1", "before the move");
    data_aek("cmkmove", aek0);

    /* To a key in another vault: the same AEK wrapped under the new key; data stays readable. */
    json_t *o = sf_arm_ok(T.armtok, "PATCH", acct_url("cmkmove"), cmk_patch(vault_uri(port2), "kb2", "", app_id), 200);
    assert_string_equal(ck_json_str(kvp_of(o), "currentVersionedKeyIdentifier"), kidb);
    assert_string_equal(ck_json_str(ck_json_obj(props_of(o), "keyState"), "currentKek"), kidb);
    json_decref(o);
    struct ck_bytes w = {0};
    char *kek = NULL;
    assert_int_equal(st_account_wrapping(F.st, "cmkmove", &w, &kek), CK_OK);
    assert_string_equal(kek, kidb);
    assert_int_equal(w.len, 512); /* RSA-4096 */
    ck_free(w.ptr);
    ck_free(kek);
    data_aek("cmkmove", aek1);
    assert_memory_equal(aek0, aek1, ST_AEK_LEN);
    blob_read_ok("cmkmove", "cont1", "b1", "before the move");

    /* The old key no longer matters; the new one does. */
    key_enable(v1port, "ka", 0);
    key_enable(port2, "kb2", 0);
    wait_blob("cmkmove", "cont1", "b1", 403, "KeyVaultEncryptionKeyNotFound");
    key_enable(port2, "kb2", 1);
    wait_blob("cmkmove", "cont1", "b1", 200, NULL);
    blob_read_ok("cmkmove", "cont1", "b1", "before the move");
    assert_serving_state(state_arm("cmkmove"));
    key_enable(v1port, "ka", 1);
    account_delete("cmkmove");
    ck_wipe(aek0, sizeof(aek0));
    ck_wipe(aek1, sizeof(aek1));
}

/* ---- revocation on the identity side ---- */

static void test_identity_revocation(void **state)
{
    (void)state;
    char oid[37], appid[37], sp[37], vid[400], ra[37], kid[512], gt[8192], gc[8192];
    make_app("isv-revoke", uami_pid, 1, oid, appid, sp);
    unsigned port = sf_vault(&C, "crg", "cmkrev", 1);
    sf_copy(vid, sizeof(vid), sf_vault_id(&C, "crg", "cmkrev"));
    assign(vid, ROLE_KV_SEU, sp, ra);
    make_key(port, "kv", "{\"kty\":\"RSA\",\"key_size\":2048}", kid);
    json_decref(sf_account_put(&T, "rg1", "cmkrev1", cmk_body(vault_uri(port), "kv", "", appid), 201));
    container_create("cmkrev1", "cont1");
    blob_put("cmkrev1", "cont1", "b1", "revocable");

    /* The ISV's federated credential goes: the next re-validation cannot get a token. */
    graph_token(&T, gt, sizeof(gt));
    json_t *l = sf_arm_ok(gt, "GET", P("/v1.0/applications/%s/federatedIdentityCredentials", oid), NULL, 200);
    char fic[64];
    sf_copy(fic, sizeof(fic), ck_json_str(json_array_get(ck_json_arr(l, "value"), 0), "id"));
    json_decref(l);
    ok_2xx(sf_arm(gt, "DELETE", P("/v1.0/applications/%s/federatedIdentityCredentials/%s", oid, fic), NULL),
           "DELETE federated credential");
    wait_blob("cmkrev1", "cont1", "b1", 403, "KeyVaultAccessTokenCannotBeAcquired");
    struct bres r = blob_list("cmkrev1", "cont1", NULL);
    bres_expect(&r, 200, NULL, "List Blobs without the federated credential");
    json_decref(sf_arm_ok(gt, "POST", P("/v1.0/applications/%s/federatedIdentityCredentials", oid),
                          P("{\"name\":\"cmk-again\",\"issuer\":\"https://login.microsoftonline.com/%s/v2.0\","
                            "\"subject\":\"%s\",\"audiences\":[\"" EXCHANGE_AUD "\"]}",
                            T.tid, uami_pid),
                          201));
    wait_blob("cmkrev1", "cont1", "b1", 200, NULL);

    /* The customer removes the app's service principal: refused; a new one with the role: back. */
    graph_token(&C, gc, sizeof(gc));
    ok_2xx(sf_arm(gc, "DELETE", P("/v1.0/servicePrincipals/%s", sp), NULL), "DELETE service principal");
    wait_blob("cmkrev1", "cont1", "b1", 403, "KeyVaultAccessTokenCannotBeAcquired");
    assert_string_equal(state_arm("cmkrev1"), "Denied");
    json_t *o = sf_arm_ok(gc, "POST", "/v1.0/servicePrincipals", P("{\"appId\":\"%s\"}", appid), 201);
    sf_copy(sp, sizeof(sp), ck_json_str(o, "id"));
    json_decref(o);
    assign(vid, ROLE_KV_SEU, sp, ra);
    wait_blob("cmkrev1", "cont1", "b1", 200, NULL);
    blob_read_ok("cmkrev1", "cont1", "b1", "revocable");
    account_delete("cmkrev1");
}

/* ---- the key's own life: expiry, soft delete and recovery ---- */

static void test_key_lifecycle(void **state)
{
    (void)state;
    char kid[512];
    make_key(v1port, "kl", "{\"kty\":\"RSA\",\"key_size\":2048}", kid);
    json_decref(sf_account_put(&T, "rg1", "cmklife", cmk_body(vault_uri(v1port), "kl", "", app_id), 201));
    container_create("cmklife", "cont1");
    blob_put("cmklife", "cont1", "b1", "mortal");

    /* Expired: refused like a disabled key; a later expiry brings it back. */
    long long now = (long long)ck_time_now();
    json_decref(sf_kv_ok(v1port, "PATCH", "/keys/kl/", officer_tok, P("{\"attributes\":{\"exp\":%lld}}", now - 60), 200));
    wait_blob("cmklife", "cont1", "b1", 403, "KeyVaultEncryptionKeyNotFound");
    json_decref(
        sf_kv_ok(v1port, "PATCH", "/keys/kl/", officer_tok, P("{\"attributes\":{\"exp\":%lld}}", now + 86400), 200));
    wait_blob("cmklife", "cont1", "b1", 200, NULL);
    json_t *o = account_get("cmklife");
    assert_non_null(ck_json_str(kvp_of(o), "currentVersionedKeyIdentifier"));
    json_decref(o);

    /* Deleted (soft delete): refused; recovered: back. */
    json_decref(sf_kv_ok(v1port, "DELETE", "/keys/kl", officer_tok, NULL, 200));
    wait_blob("cmklife", "cont1", "b1", 403, "KeyVaultEncryptionKeyNotFound");
    struct bres r = blob_list("cmklife", "cont1", NULL);
    bres_expect(&r, 200, NULL, "List Blobs with the key deleted");
    int64_t deadline = ck_mono_ms() + DEADLINE_MS;
    for (;;) { /* the deletion may still be completing */
        struct rsp rr = sf_kv(v1port, "POST", "/deletedkeys/kl/recover", officer_tok, NULL);
        long st = rr.status;
        rsp_free(&rr);
        if (st == 200)
            break;
        assert_true(ck_mono_ms() < deadline);
        sleep_ms(200);
    }
    wait_blob("cmklife", "cont1", "b1", 200, NULL);
    blob_read_ok("cmklife", "cont1", "b1", "mortal");

    /* An account whose key is refused can still be deleted. */
    key_enable(v1port, "kl", 0);
    wait_blob("cmklife", "cont1", "b1", 403, "KeyVaultEncryptionKeyNotFound");
    account_delete("cmklife");
    sf_arm_err(sf_arm(T.armtok, "GET", acct_url("cmklife"), NULL), 404, "ResourceNotFound");
}

/* ---- a restart: nothing of the AEK survives but its KEK wrapping ---- */

static void test_restart(void **state)
{
    (void)state;
    char kid[512];
    uint8_t aek[ST_AEK_LEN], aek2[ST_AEK_LEN];
    make_key(v1port, "kboot", "{\"kty\":\"RSA\",\"key_size\":2048}", kid);
    json_decref(sf_account_put(&T, "rg1", "cmkboot", cmk_body(vault_uri(v1port), "kboot", "", app_id), 201));
    container_create("cmkboot", "cont1");
    blob_put("cmkboot", "cont1", "b1", "across a restart");
    data_aek("cmkboot", aek);
    /* Refused before the stop: a restart must not bring the data back. */
    key_enable(v1port, "kboot", 0);
    wait_blob("cmkboot", "cont1", "b1", 403, "KeyVaultEncryptionKeyNotFound");

    sf_stop();
    /* With the store closed (WAL checkpointed): the AEK is nowhere under the data directory. */
    size_t len = 0;
    uint8_t *all = sf_slurp_store(&len);
    assert_true(len > 0);
    assert_false(sf_contains(all, len, aek, sizeof(aek)));
    ck_free(all);
    char *b64 = ck_b64_encode(aek, sizeof(aek)), *hex = ck_hex_encode(aek, sizeof(aek));
    assert_int_equal(scan_dir(F.dir, aek, sizeof(aek), "the raw AEK"), 0);
    assert_int_equal(scan_dir(F.dir, b64, strlen(b64), "the AEK (base64)"), 0);
    assert_int_equal(scan_dir(F.dir, hex, strlen(hex), "the AEK (hex)"), 0);
    ck_free(b64);
    ck_free(hex);

    sf_start();
    /* Still refused (the key is disabled); then enabled: the same AEK, unwrapped by the vault. */
    wait_blob("cmkboot", "cont1", "b1", 403, "KeyVaultEncryptionKeyNotFound");
    assert_string_equal(state_arm("cmkboot"), "Denied");
    key_enable(v1port, "kboot", 1);
    wait_blob("cmkboot", "cont1", "b1", 200, NULL);
    blob_read_ok("cmkboot", "cont1", "b1", "across a restart");
    data_aek("cmkboot", aek2);
    assert_memory_equal(aek, aek2, ST_AEK_LEN);
    json_t *o = account_get("cmkboot");
    assert_string_equal(ck_json_str(kvp_of(o), "currentVersionedKeyIdentifier"), kid);
    assert_string_equal(ck_json_str(ck_json_obj(props_of(o), "keyState"), "currentKek"), kid);
    json_decref(o);
    account_delete("cmkboot");
    ck_wipe(aek, sizeof(aek));
    ck_wipe(aek2, sizeof(aek2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_cmk_account),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_untrusted_authority),
        cmocka_unit_test(test_challenge_resource),
        cmocka_unit_test(test_data_path),
        cmocka_unit_test(test_ride_through),
        cmocka_unit_test(test_denied_then_unreachable),
        cmocka_unit_test(test_version_follow),
        cmocka_unit_test(test_switch_back),
        cmocka_unit_test(test_settings_same_key),
        cmocka_unit_test(test_change_key),
        cmocka_unit_test(test_identity_revocation),
        cmocka_unit_test(test_key_lifecycle),
        cmocka_unit_test(test_restart), /* last: it restarts the stack */
    };
    if (getenv("CK_TEST_FILTER") != NULL) /* e.g. CK_TEST_FILTER=test_ride_through */
        cmocka_set_test_filter(getenv("CK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
