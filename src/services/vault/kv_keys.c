/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Key Vault keys data plane (wire reference B.3-B.5): create, import, get, list, versions,
 * update, rotate, rotation policy, soft delete, recover, purge, backup, restore, random bytes, and
 * the cryptographic operations. Every request is authorized first (ARM check-access for the
 * operation's data action at the key scope, so vault-level assignments count), then routed. Key
 * material is unsealed only for the operation that needs it and wiped after.
 */
#include "services/vault/kv_int.h"
#include "core/codec.h"
#include "core/timeutil.h"
#include "crypto/keyops.h"
#include "crypto/random.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KV_ACT "Microsoft.KeyVault/vaults/"

struct kv_call {
    struct kv *kv;
    const struct kv_vault *v;
    const struct kv_caller *c;
    struct ck_req *req;
    struct ck_resp *resp;
    struct ck_arena *a;
    const char *origin;
    const char **operation;
    char **kid;
    json_t *body;
};

/* ---- small helpers ---- */

static int kv_name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len < 1 || len > 127)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)n[i]) && n[i] != '-')
            return 0;
    return 1;
}

static char *kv_new_version(struct ck_arena *a)
{
    uint8_t r[16];
    if (ck_rand_bytes(r, sizeof(r)) != CK_OK)
        return NULL;
    char *hex = ck_hex_encode(r, sizeof(r));
    char *out = hex ? ck_arena_strdup(a, hex) : NULL;
    ck_free(hex);
    return out;
}

static char *kv_seal_aad(struct ck_arena *a, const char *vault, const char *name, const char *version)
{
    char *s = ck_arena_printf(a, "ck-kv-key:%s:%s:%s", vault, name, version);
    for (char *p = s; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return s;
}

static int kv_has_op(const char *ops_json, const char *op)
{
    json_t *ops = ck_json_parse(ops_json, strlen(ops_json), NULL, 0);
    size_t i;
    json_t *o;
    int found = 0;
    json_array_foreach(ops, i, o) {
        if (json_is_string(o) && strcmp(json_string_value(o), op) == 0)
            found = 1;
    }
    json_decref(ops);
    return found;
}

static json_t *kv_attributes(const struct kv_call *k, const struct kv_version *ver)
{
    json_t *at = json_pack("{s:b,s:I,s:I,s:s,s:i,s:b}", "enabled", ver->enabled, "created", (json_int_t)ver->created,
                           "updated", (json_int_t)ver->updated, "recoveryLevel", kv_recovery_level(k->v),
                           "recoverableDays", k->v->retention_days, "exportable", 0);
    if (at != NULL && ver->nbf != 0)
        json_object_set_new(at, "nbf", json_integer(ver->nbf));
    if (at != NULL && ver->exp != 0)
        json_object_set_new(at, "exp", json_integer(ver->exp));
    return at;
}

static char *kv_kid(const struct kv_call *k, const char *name, const char *version)
{
    if (version == NULL)
        return ck_arena_printf(k->a, "%s/keys/%s", k->origin, name);
    return ck_arena_printf(k->a, "%s/keys/%s/%s", k->origin, name, version);
}

static json_t *kv_bundle(const struct kv_call *k, const struct kv_version *ver)
{
    json_t *key = ck_json_parse(ver->public_jwk, strlen(ver->public_jwk), NULL, 0);
    json_t *ops = ck_json_parse(ver->key_ops, strlen(ver->key_ops), NULL, 0);
    json_t *tags = ck_json_parse(ver->tags, strlen(ver->tags), NULL, 0);
    if (key == NULL)
        key = json_object();
    json_object_set_new(key, "kid", json_string(kv_kid(k, ver->name, ver->version)));
    json_object_set_new(key, "key_ops", ops ? ops : json_array());
    json_t *b = json_pack("{s:o,s:o}", "key", key, "attributes", kv_attributes(k, ver));
    if (b != NULL && tags != NULL && json_object_size(tags) > 0)
        json_object_set_new(b, "tags", tags);
    else
        json_decref(tags);
    return b;
}

static void kv_send(struct kv_call *k, int status, json_t *v)
{
    if (v == NULL) {
        kv_error(k->resp, 500, "InternalServerError", NULL, "The response could not be built.");
        return;
    }
    ck_resp_json(k->resp, status, v);
    json_decref(v);
}

static void kv_not_found(struct kv_call *k, const char *name, const char *version)
{
    if (version != NULL && *version != '\0')
        kv_error(k->resp, 404, "KeyNotFound", NULL, "A key with (name/id) %s/%s was not found in this key vault. If "
                 "you recently deleted this key you may be able to recover it using the correct recovery command. For "
                 "help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", name, version);
    else
        kv_error(k->resp, 404, "KeyNotFound", NULL, "A key with (name/id) %s was not found in this key vault. If you "
                 "recently deleted this key you may be able to recover it using the correct recovery command. For help "
                 "resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", name);
}

/* Authorizes the data action at the key scope (or the vault scope when name is NULL). */
static int kv_authorize(struct kv_call *k, const char *action, const char *name)
{
    char *scope = name ? ck_arena_printf(k->a, "%s/keys/%s", k->v->arm_id, name) : ck_arena_strdup(k->a, k->v->arm_id);
    char *full = ck_arena_printf(k->a, KV_ACT "%s", action);
    if (scope == NULL || full == NULL) {
        kv_error(k->resp, 500, "InternalServerError", NULL, "Out of memory.");
        return 0;
    }
    int r = ck_access_check(k->kv->access, &k->c->claims, scope, full);
    if (r == 1)
        return 1;
    if (r < 0) {
        kv_error(k->resp, 503, "ServiceUnavailable", NULL, "The authorization service could not be reached.");
        return 0;
    }
    for (char *p = scope; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    kv_error(k->resp, 403, "Forbidden", "ForbiddenByRbac",
             "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role "
             "definitions were changed recently, please observe propagation time.\r\nCaller: appid=%s;oid=%s;iss=%s\r\n"
             "Action: '%s'\r\nResource: '%s'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: "
             "null \r\nVault: %s;location=%s\r\n",
             k->c->claims.appid, k->c->claims.oid, k->c->claims.iss, full, scope, k->v->name, k->v->location);
    return 0;
}

static int kv_body(struct kv_call *k)
{
    size_t len;
    char err[256];
    const char *text = ck_req_body(k->req, &len);
    k->body = ck_json_parse_object(text, len, err, sizeof(err));
    if (k->body == NULL) {
        kv_error(k->resp, 400, "BadParameter", NULL, "The request body is not valid JSON: %s.", err);
        return 0;
    }
    return 1;
}

/* ---- attribute, tag and key_ops parsing ---- */

struct kv_attrs {
    int has_enabled, enabled;
    int has_nbf, has_exp;
    int64_t nbf, exp;
};

static int kv_parse_attrs(struct kv_call *k, const json_t *at, struct kv_attrs *out)
{
    json_t *j;
    memset(out, 0, sizeof(*out));
    if (at == NULL || json_is_null(at))
        return 1;
    if (!json_is_object(at)) {
        kv_error(k->resp, 400, "BadParameter", NULL, "'attributes' must be an object.");
        return 0;
    }
    if ((j = json_object_get(at, "enabled")) != NULL && !json_is_null(j)) {
        if (!json_is_boolean(j)) {
            kv_error(k->resp, 400, "BadParameter", NULL, "'attributes.enabled' must be a boolean.");
            return 0;
        }
        out->has_enabled = 1;
        out->enabled = json_is_true(j);
    }
    const char *names[2] = {"nbf", "exp"};
    for (int i = 0; i < 2; i++) {
        if ((j = json_object_get(at, names[i])) != NULL && !json_is_null(j)) {
            if (!json_is_integer(j) || json_integer_value(j) < 0) {
                kv_error(k->resp, 400, "BadParameter", NULL, "'attributes.%s' must be a time in seconds since the epoch.",
                         names[i]);
                return 0;
            }
            if (i == 0) {
                out->has_nbf = 1;
                out->nbf = json_integer_value(j);
            } else {
                out->has_exp = 1;
                out->exp = json_integer_value(j);
            }
        }
    }
    if ((j = json_object_get(at, "exportable")) != NULL && json_is_true(j)) {
        kv_error(k->resp, 400, "BadParameter", NULL,
                 "Exportable keys need a release policy and a secure key release target; they are not supported.");
        return 0;
    }
    return 1;
}

/* Returns the tags as JSON text in the arena (NULL leaves them unchanged), or writes a 400. */
static int kv_parse_tags(struct kv_call *k, const json_t *tags, char **out)
{
    *out = NULL;
    if (tags == NULL || json_is_null(tags))
        return 1;
    if (!json_is_object(tags) || json_object_size(tags) > KV_MAX_TAGS) {
        kv_error(k->resp, 400, "BadParameter", NULL, "'tags' must be an object of at most %d string values.", KV_MAX_TAGS);
        return 0;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)tags, key, v) {
        if (!json_is_string(v) || strlen(key) > 512 || strlen(json_string_value(v)) > 256) {
            kv_error(k->resp, 400, "BadParameter", NULL, "Tag '%.64s' must be a string of at most 256 characters.", key);
            return 0;
        }
    }
    char *t = ck_json_dump(tags);
    *out = t ? ck_arena_strdup(k->a, t) : NULL;
    free(t);
    return *out != NULL;
}

static int kv_parse_ops(struct kv_call *k, const json_t *ops, char **out)
{
    static const char *const valid[] = {"encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey", "import", "export", NULL};
    size_t i;
    json_t *o;
    *out = NULL;
    if (ops == NULL || json_is_null(ops))
        return 1;
    if (!json_is_array(ops) || json_array_size(ops) > 8) {
        kv_error(k->resp, 400, "BadParameter", NULL, "'key_ops' must be an array of operation names.");
        return 0;
    }
    json_array_foreach(ops, i, o) {
        int ok = 0;
        for (int v = 0; json_is_string(o) && valid[v] != NULL; v++)
            ok |= strcmp(json_string_value(o), valid[v]) == 0;
        if (!ok) {
            kv_error(k->resp, 400, "BadParameter", NULL, "Invalid key operation '%.32s'. Valid operations are encrypt, "
                     "decrypt, sign, verify, wrapKey, unwrapKey, import and export.",
                     json_is_string(o) ? json_string_value(o) : "?");
            return 0;
        }
    }
    char *t = ck_json_dump(ops);
    *out = t ? ck_arena_strdup(k->a, t) : NULL;
    free(t);
    return *out != NULL;
}

/* ---- storing versions ---- */

static char *kv_public_jwk(struct ck_arena *a, const struct ck_pkey *key, const char **kty, int *size, const char **crv)
{
    json_t *j = NULL;
    if (ck_pkey_type(key) == CK_PKEY_RSA) {
        struct ck_bytes n = {0}, e = {0};
        if (ck_pkey_rsa_public(key, &n, &e) == CK_OK) {
            char *nb = ck_b64url_encode(n.ptr, n.len), *eb = ck_b64url_encode(e.ptr, e.len);
            if (nb && eb)
                j = json_pack("{s:s,s:s,s:s}", "kty", "RSA", "n", nb, "e", eb);
            ck_free(nb);
            ck_free(eb);
        }
        ck_free(n.ptr);
        ck_free(e.ptr);
        *kty = "RSA";
        *size = ck_pkey_bits(key);
        *crv = NULL;
    } else if (ck_pkey_type(key) == CK_PKEY_EC) {
        struct ck_bytes x = {0}, y = {0};
        if (ck_pkey_ec_public(key, &x, &y) == CK_OK) {
            char *xb = ck_b64url_encode(x.ptr, x.len), *yb = ck_b64url_encode(y.ptr, y.len);
            if (xb && yb)
                j = json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", ck_pkey_ec_curve(key), "x", xb, "y", yb);
            ck_free(xb);
            ck_free(yb);
        }
        ck_free(x.ptr);
        ck_free(y.ptr);
        *kty = "EC";
        *size = 0;
        *crv = ck_pkey_ec_curve(key);
    }
    char *t = j ? ck_json_dump(j) : NULL;
    json_decref(j);
    char *out = t ? ck_arena_strdup(a, t) : NULL;
    free(t);
    return out;
}

struct kv_newver {
    const char *name;
    const char *key_ops; /* JSON */
    const char *tags;    /* JSON */
    int enabled;
    int64_t nbf, exp;
    int allow_existing; /* 0: create; 1: also fine when the key exists (new version) */
};

/* Seals key and stores it as a new version of key nv->name in vault v. Returns CK_OK and *out (in
 * arena a), CK_E_EXISTS when the key is soft-deleted, or another error. Writes no response. */
static int kv_store_version_in(struct kv *kv, struct ck_arena *a, const struct kv_vault *v, const struct ck_pkey *key,
                               const struct kv_newver *nv, char **out)
{
    struct ck_secret *der = NULL;
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    struct ck_db_stmt *st = NULL;
    const char *kty = NULL, *crv = NULL;
    int size = 0, rc = CK_E_DB;
    char *version = kv_new_version(a);
    char *jwk = kv_public_jwk(a, key, &kty, &size, &crv);
    char *aad = version ? kv_seal_aad(a, v->name, nv->name, version) : NULL;
    int64_t now = ck_time_now();

    if (version == NULL || jwk == NULL || aad == NULL || ck_pkey_private_der(key, &der) != CK_OK ||
        ck_seal(kv->master_key, aad, strlen(aad), ck_secret_ptr(der), ck_secret_len(der), &sealed, &sealed_len) != CK_OK) {
        rc = CK_E_CRYPTO;
        goto out;
    }
    ck_db_lock(kv->db);
    if (ck_db_begin(kv->db) != CK_OK)
        goto unlock;
    /* The key row: new, or existing and not soft-deleted. */
    if (ck_db_prepare(kv->db, "SELECT deleted_at FROM keys WHERE vault = ?1 AND name = ?2", &st) != CK_OK)
        goto rollback;
    ck_db_bind_text(st, 1, v->name);
    ck_db_bind_text(st, 2, nv->name);
    int s = ck_db_step(st);
    int deleted = s == 1 && ck_db_col_int64(st, 0) != 0;
    int exists = s == 1;
    ck_db_stmt_free(st);
    st = NULL;
    if (s < 0)
        goto rollback;
    if (deleted) {
        rc = CK_E_EXISTS;
        goto rollback;
    }
    if (!exists) {
        const char *q[2] = {v->name, nv->name};
        if (ck_db_run(kv->db, "INSERT INTO keys (vault, name) VALUES (?1, ?2)", 2, q) != CK_OK)
            goto rollback;
    }
    if (ck_db_prepare(kv->db,
                      "INSERT INTO key_versions (vault, name, version, kty, key_size, crv, key_ops, enabled, nbf, exp,"
                      " created, updated, tags, public_jwk, sealed, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                      " ?10, ?11, ?11, ?12, ?13, ?14, (SELECT COALESCE(MAX(seq), 0) + 1 FROM key_versions WHERE vault = ?1))",
                      &st) != CK_OK)
        goto rollback;
    ck_db_bind_text(st, 1, v->name);
    ck_db_bind_text(st, 2, nv->name);
    ck_db_bind_text(st, 3, version);
    ck_db_bind_text(st, 4, kty);
    ck_db_bind_int64(st, 5, size);
    ck_db_bind_text(st, 6, crv);
    ck_db_bind_text(st, 7, nv->key_ops);
    ck_db_bind_int64(st, 8, nv->enabled);
    ck_db_bind_int64(st, 9, nv->nbf);
    ck_db_bind_int64(st, 10, nv->exp);
    ck_db_bind_int64(st, 11, now);
    ck_db_bind_text(st, 12, nv->tags);
    ck_db_bind_text(st, 13, jwk);
    ck_db_bind_blob(st, 14, sealed, sealed_len);
    if (ck_db_step(st) < 0)
        goto rollback;
    ck_db_stmt_free(st);
    st = NULL;
    if (ck_db_commit(kv->db) != CK_OK)
        goto rollback;
    ck_db_unlock(kv->db);
    kv_event_emit(kv, v, "Microsoft.KeyVault.KeyNewVersionCreated", nv->name, version, NULL);
    *out = version;
    rc = CK_OK;
    goto out;
rollback:
    ck_db_stmt_free(st);
    ck_db_rollback(kv->db);
unlock:
    ck_db_unlock(kv->db);
out:
    ck_secret_free(der);
    ck_free(sealed);
    return rc;
}

/* Stores a new version for a request; writes the error response and returns NULL on failure. */
static char *kv_store_version(struct kv_call *k, const struct ck_pkey *key, const struct kv_newver *nv)
{
    char *version = NULL;
    int rc = kv_store_version_in(k->kv, k->a, k->v, key, nv, &version);
    if (rc == CK_E_EXISTS)
        kv_error(k->resp, 409, "Conflict", "ObjectIsDeletedButRecoverable",
                 "Key %s is currently in a deleted but recoverable state, and its name cannot be reused; in this "
                 "state, the key can only be recovered or purged.", nv->name);
    else if (rc == CK_E_CRYPTO)
        kv_error(k->resp, 500, "InternalServerError", NULL, "The key could not be sealed.");
    else if (rc != CK_OK)
        kv_error(k->resp, 500, "InternalServerError", NULL, "The key could not be stored.");
    return rc == CK_OK ? version : NULL;
}

int kv_keys_store_new(struct kv *kv, struct ck_arena *a, const struct kv_vault *v, const struct ck_pkey *key,
                      const char *name, const char *key_ops, const char *tags, int64_t exp, char **version);

int kv_keys_store_new(struct kv *kv, struct ck_arena *a, const struct kv_vault *v, const struct ck_pkey *key,
                      const char *name, const char *key_ops, const char *tags, int64_t exp, char **version)
{
    struct kv_newver nv = {.name = name, .key_ops = key_ops, .tags = tags, .enabled = 1, .exp = exp};
    return kv_store_version_in(kv, a, v, key, &nv, version);
}

static void kv_send_version(struct kv_call *k, const char *name, const char *version)
{
    struct kv_version ver;
    if (kv_version_get(k->kv, k->a, k->v->name, name, version, 0, &ver) != CK_OK) {
        kv_error(k->resp, 500, "InternalServerError", NULL, "The key could not be read back.");
        return;
    }
    *k->kid = kv_kid(k, ver.name, ver.version);
    kv_send(k, 200, kv_bundle(k, &ver));
}

/* Unseals a version's private key. */
static int kv_unseal(struct kv_call *k, const struct kv_version *ver, struct ck_pkey **key)
{
    *key = kv_keycache_get(k->kv, k->v->name, ver->name, ver->version);
    if (*key != NULL)
        return CK_OK;
    struct ck_secret *der = NULL;
    char *aad = kv_seal_aad(k->a, k->v->name, ver->name, ver->version);
    int rc = aad ? ck_open(k->kv->master_key, aad, strlen(aad), ver->sealed, ver->sealed_len, &der) : CK_E_NOMEM;
    if (rc == CK_OK)
        rc = ck_pkey_from_private_der(ck_secret_ptr(der), ck_secret_len(der), key);
    ck_secret_free(der);
    if (rc == CK_OK)
        kv_keycache_put(k->kv, k->v->name, ver->name, ver->version, *key);
    return rc;
}

/* ---- create, import, rotate ---- */

static int kv_default_ops(const char *kty, char **out, struct ck_arena *a)
{
    *out = ck_arena_strdup(a, strcmp(kty, "EC") == 0 ? "[\"sign\",\"verify\"]"
                                                     : "[\"encrypt\",\"decrypt\",\"sign\",\"verify\",\"wrapKey\",\"unwrapKey\"]");
    return *out != NULL;
}

static int kv_hsm_refused(struct kv_call *k, const char *kty)
{
    if (kty != NULL && (strcasecmp(kty, "RSA-HSM") == 0 || strcasecmp(kty, "EC-HSM") == 0 ||
                        strcasecmp(kty, "oct-HSM") == 0 || strcasecmp(kty, "oct") == 0)) {
        kv_error(k->resp, 400, "BadParameter", NULL,
                 "Key type '%s' is not supported: this server has no hardware security module, so it offers software "
                 "keys (RSA and EC) only.", kty);
        return 1;
    }
    return 0;
}

static void kv_create(struct kv_call *k, const char *name)
{
    struct ck_pkey *key = NULL;
    struct kv_attrs at;
    struct kv_newver nv = {.name = name};
    char *ops = NULL, *tags = NULL;
    const char *kty = ck_json_str(k->body, "kty");

    if (kty == NULL) {
        kv_error(k->resp, 400, "BadParameter", NULL, "The 'kty' property is required: RSA or EC.");
        return;
    }
    if (kv_hsm_refused(k, kty))
        return;
    if (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0) {
        kv_error(k->resp, 400, "BadParameter", NULL, "Invalid key type '%.32s'. Supported: RSA, EC.", kty);
        return;
    }
    if (json_object_get(k->body, "release_policy") != NULL && !json_is_null(json_object_get(k->body, "release_policy"))) {
        kv_error(k->resp, 400, "BadParameter", NULL, "Key release policies are not supported.");
        return;
    }
    if (!kv_parse_attrs(k, json_object_get(k->body, "attributes"), &at) ||
        !kv_parse_ops(k, json_object_get(k->body, "key_ops"), &ops) ||
        !kv_parse_tags(k, json_object_get(k->body, "tags"), &tags))
        return;
    if (strcmp(kty, "RSA") == 0) {
        json_t *ks = json_object_get(k->body, "key_size");
        int64_t size = ks == NULL || json_is_null(ks) ? 2048 : json_is_integer(ks) ? json_integer_value(ks) : -1;
        json_t *pe = json_object_get(k->body, "public_exponent");
        if (size != 2048 && size != 3072 && size != 4096) {
            kv_error(k->resp, 400, "BadParameter", NULL, "Invalid RSA key size. Supported: 2048, 3072, 4096.");
            return;
        }
        if (pe != NULL && !json_is_null(pe) && (!json_is_integer(pe) || json_integer_value(pe) != 65537)) {
            kv_error(k->resp, 400, "BadParameter", NULL, "Only the public exponent 65537 is supported.");
            return;
        }
        if (ck_pkey_rsa_generate((int)size, &key) != CK_OK)
            goto fail;
    } else {
        const char *crv = ck_json_str(k->body, "crv");
        if (crv == NULL)
            crv = "P-256";
        if (strcmp(crv, "P-256") != 0 && strcmp(crv, "P-384") != 0 && strcmp(crv, "P-521") != 0) {
            kv_error(k->resp, 400, "BadParameter", NULL, "Invalid curve '%.16s'. Supported: P-256, P-384, P-521.", crv);
            return;
        }
        if (ck_pkey_ec_generate(crv, &key) != CK_OK)
            goto fail;
    }
    if (ops == NULL && !kv_default_ops(kty, &ops, k->a))
        goto fail;
    nv.key_ops = ops;
    nv.tags = tags ? tags : "{}";
    nv.enabled = at.has_enabled ? at.enabled : 1;
    nv.nbf = at.nbf;
    nv.exp = at.exp;
    char *version = kv_store_version(k, key, &nv);
    ck_pkey_free(key);
    if (version != NULL)
        kv_send_version(k, name, version);
    return;
fail:
    ck_pkey_free(key);
    kv_error(k->resp, 500, "InternalServerError", NULL, "The key could not be generated.");
}

static int kv_jwk_member(struct kv_call *k, const json_t *jwk, const char *name, struct ck_bytes *out, int required)
{
    const char *s = ck_json_str(jwk, name);
    out->ptr = NULL;
    out->len = 0;
    if (s == NULL) {
        if (required)
            kv_error(k->resp, 400, "BadParameter", NULL, "The JWK member '%s' is required.", name);
        return !required;
    }
    if (ck_b64url_decode(s, strlen(s), &out->ptr, &out->len) != 0) {
        kv_error(k->resp, 400, "BadParameter", NULL, "The JWK member '%s' is not valid base64url.", name);
        return 0;
    }
    return 1;
}

static void kv_import(struct kv_call *k, const char *name)
{
    json_t *jwk = ck_json_obj(k->body, "key");
    struct ck_jwk_parts parts;
    struct ck_pkey *key = NULL;
    struct kv_attrs at;
    struct kv_newver nv = {.name = name};
    char *ops = NULL, *tags = NULL;
    int ok = 0;

    memset(&parts, 0, sizeof(parts));
    if (jwk == NULL) {
        kv_error(k->resp, 400, "BadParameter", NULL, "The 'key' property (a JWK) is required.");
        return;
    }
    if (json_is_true(json_object_get(k->body, "Hsm"))) {
        kv_hsm_refused(k, "RSA-HSM");
        return;
    }
    const char *kty = ck_json_str(jwk, "kty");
    if (kty == NULL || kv_hsm_refused(k, kty))
        goto bad_kty;
    if (!kv_parse_attrs(k, json_object_get(k->body, "attributes"), &at) ||
        !kv_parse_tags(k, json_object_get(k->body, "tags"), &tags))
        return;
    if (!kv_parse_ops(k, json_object_get(jwk, "key_ops"), &ops))
        return;
    if (strcmp(kty, "RSA") == 0) {
        ok = kv_jwk_member(k, jwk, "n", &parts.n, 1) && kv_jwk_member(k, jwk, "e", &parts.e, 1) &&
             kv_jwk_member(k, jwk, "d", &parts.d, 1) && kv_jwk_member(k, jwk, "p", &parts.p, 1) &&
             kv_jwk_member(k, jwk, "q", &parts.q, 1) && kv_jwk_member(k, jwk, "dp", &parts.dp, 1) &&
             kv_jwk_member(k, jwk, "dq", &parts.dq, 1) && kv_jwk_member(k, jwk, "qi", &parts.qi, 1);
    } else if (strcmp(kty, "EC") == 0) {
        parts.crv = ck_json_str(jwk, "crv");
        ok = kv_jwk_member(k, jwk, "x", &parts.x, 1) && kv_jwk_member(k, jwk, "y", &parts.y, 1) &&
             kv_jwk_member(k, jwk, "d", &parts.d, 1);
        if (ok && parts.crv == NULL) {
            kv_error(k->resp, 400, "BadParameter", NULL, "The JWK member 'crv' is required.");
            ok = 0;
        }
    } else {
        goto bad_kty;
    }
    if (ok && ck_pkey_from_jwk(kty, &parts, &key) != CK_OK) {
        kv_error(k->resp, 400, "BadParameter", NULL, "The JWK does not hold a valid %s private key.", kty);
        ok = 0;
    }
    if (ok && ops == NULL)
        ok = kv_default_ops(kty, &ops, k->a);
    if (ok) {
        nv.key_ops = ops;
        nv.tags = tags ? tags : "{}";
        nv.enabled = at.has_enabled ? at.enabled : 1;
        nv.nbf = at.nbf;
        nv.exp = at.exp;
        char *version = kv_store_version(k, key, &nv);
        if (version != NULL)
            kv_send_version(k, name, version);
    }
    goto out;
bad_kty:
    if (!ck_resp_get_status(k->resp))
        kv_error(k->resp, 400, "BadParameter", NULL, "The JWK 'kty' must be RSA or EC.");
out:
    ck_pkey_free(key);
    struct ck_bytes *all[] = {&parts.n, &parts.e, &parts.d, &parts.p, &parts.q, &parts.dp, &parts.dq, &parts.qi, &parts.x, &parts.y};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        ck_freezero(all[i]->ptr, all[i]->len);
}

static char *kv_policy_text(struct kv_call *k, const char *name)
{
    struct ck_db_stmt *st = NULL;
    char *out = NULL;
    ck_db_lock(k->kv->db);
    if (ck_db_prepare(k->kv->db, "SELECT policy FROM rotation_policies WHERE vault = ?1 AND name = ?2", &st) == CK_OK) {
        ck_db_bind_text(st, 1, k->v->name);
        ck_db_bind_text(st, 2, name);
        if (ck_db_step(st) == 1)
            out = ck_arena_strdup(k->a, ck_db_col_text(st, 0));
    }
    ck_db_stmt_free(st);
    ck_db_unlock(k->kv->db);
    return out;
}

static void kv_rotate(struct kv_call *k, const char *name)
{
    char *version = NULL;
    int rc = kv_rotate_key(k->kv, k->a, k->v, name, &version);
    if (rc == CK_E_NOT_FOUND)
        kv_not_found(k, name, NULL);
    else if (rc != CK_OK)
        kv_error(k->resp, 500, "InternalServerError", NULL, "The key could not be rotated.");
    else
        kv_send_version(k, name, version);
}

static void kv_policy(struct kv_call *k, const char *name, int put)
{
    struct kv_version cur;
    if (kv_version_get(k->kv, k->a, k->v->name, name, NULL, 0, &cur) != CK_OK) {
        kv_not_found(k, name, NULL);
        return;
    }
    char *id = ck_arena_printf(k->a, "%s/keys/%s/rotationpolicy", k->origin, cur.name);
    if (!put) {
        char *text = kv_policy_text(k, name);
        json_t *p = text ? ck_json_parse(text, strlen(text), NULL, 0) : NULL;
        if (p == NULL)
            p = json_pack("{s:[{s:{s:s},s:{s:s}}],s:{}}", "lifetimeActions", "trigger", "timeBeforeExpiry", "P30D",
                          "action", "type", "Notify", "attributes");
        json_object_set_new(p, "id", json_string(id));
        kv_send(k, 200, p);
        return;
    }
    json_t *las = json_object_get(k->body, "lifetimeActions");
    json_t *attrs = json_object_get(k->body, "attributes");
    size_t i;
    json_t *la;
    if (las != NULL && !json_is_array(las)) {
        kv_error(k->resp, 400, "BadParameter", NULL, "'lifetimeActions' must be an array.");
        return;
    }
    json_t *clean = json_array();
    json_array_foreach(las, i, la) {
        json_t *tr = ck_json_obj(la, "trigger");
        json_t *ac = ck_json_obj(la, "action");
        const char *tac = tr ? ck_json_str(tr, "timeAfterCreate") : NULL;
        const char *tbe = tr ? ck_json_str(tr, "timeBeforeExpiry") : NULL;
        const char *type = ac ? ck_json_str(ac, "type") : NULL;
        if (type == NULL || (strcasecmp(type, "Rotate") != 0 && strcasecmp(type, "Notify") != 0) ||
            (tac == NULL) == (tbe == NULL) || kv_duration(tac ? tac : tbe) <= 0) {
            json_decref(clean);
            kv_error(k->resp, 400, "BadParameter", NULL,
                     "Each lifetime action needs action.type Rotate or Notify and exactly one trigger, timeAfterCreate "
                     "or timeBeforeExpiry, as an ISO 8601 duration (P90D).");
            return;
        }
        json_array_append_new(clean, json_pack("{s:{s:s},s:{s:s}}", "trigger", tac ? "timeAfterCreate" : "timeBeforeExpiry",
                                               tac ? tac : tbe, "action", "type",
                                               strcasecmp(type, "Rotate") == 0 ? "Rotate" : "Notify"));
    }
    const char *expiry = attrs ? ck_json_str(attrs, "expiryTime") : NULL;
    if (attrs != NULL && !json_is_null(attrs) && !json_is_object(attrs)) {
        json_decref(clean);
        kv_error(k->resp, 400, "BadParameter", NULL, "'attributes' must be an object.");
        return;
    }
    if (expiry != NULL && kv_duration(expiry) < 28 * 86400) {
        json_decref(clean);
        kv_error(k->resp, 400, "BadParameter", NULL, "attributes.expiryTime must be an ISO 8601 duration of at least 28 days.");
        return;
    }
    int64_t now = ck_time_now();
    json_t *pol = json_pack("{s:o,s:{s:I,s:I}}", "lifetimeActions", clean, "attributes", "created", (json_int_t)now,
                            "updated", (json_int_t)now);
    if (expiry != NULL)
        json_object_set_new(ck_json_obj(pol, "attributes"), "expiryTime", json_string(expiry));
    char *text = ck_json_dump(pol);
    char nows[24];
    snprintf(nows, sizeof(nows), "%lld", (long long)now);
    const char *q[4] = {k->v->name, cur.name, text, nows};
    ck_db_lock(k->kv->db);
    int rc = text ? ck_db_run(k->kv->db, "INSERT INTO rotation_policies (vault, name, policy, created, updated) VALUES"
                                         " (?1, ?2, ?3, CAST(?4 AS INTEGER), CAST(?4 AS INTEGER)) ON CONFLICT (vault, name)"
                                         " DO UPDATE SET policy = excluded.policy, updated = excluded.updated", 4, q)
                  : CK_E_NOMEM;
    ck_db_unlock(k->kv->db);
    free(text);
    if (rc != CK_OK) {
        json_decref(pol);
        kv_error(k->resp, 500, "InternalServerError", NULL, "The rotation policy could not be stored.");
        return;
    }
    json_object_set_new(pol, "id", json_string(id));
    kv_send(k, 200, pol);
}

/* ---- get, update, list ---- */

static void kv_update(struct kv_call *k, const char *name, const char *version)
{
    struct kv_version ver;
    struct kv_attrs at;
    char *ops = NULL, *tags = NULL;
    if (kv_version_get(k->kv, k->a, k->v->name, name, version, 0, &ver) != CK_OK) {
        kv_not_found(k, name, version);
        return;
    }
    if (!kv_parse_attrs(k, json_object_get(k->body, "attributes"), &at) ||
        !kv_parse_ops(k, json_object_get(k->body, "key_ops"), &ops) ||
        !kv_parse_tags(k, json_object_get(k->body, "tags"), &tags))
        return;
    struct ck_db_stmt *st = NULL;
    int rc = CK_E_DB;
    ck_db_lock(k->kv->db);
    if (ck_db_prepare(k->kv->db, "UPDATE key_versions SET enabled = ?1, nbf = ?2, exp = ?3, key_ops = ?4, tags = ?5,"
                                 " updated = ?6 WHERE vault = ?7 AND name = ?8 AND version = ?9", &st) == CK_OK) {
        ck_db_bind_int64(st, 1, at.has_enabled ? at.enabled : ver.enabled);
        ck_db_bind_int64(st, 2, at.has_nbf ? at.nbf : ver.nbf);
        ck_db_bind_int64(st, 3, at.has_exp ? at.exp : ver.exp);
        ck_db_bind_text(st, 4, ops ? ops : ver.key_ops);
        ck_db_bind_text(st, 5, tags ? tags : ver.tags);
        ck_db_bind_int64(st, 6, ck_time_now());
        ck_db_bind_text(st, 7, k->v->name);
        ck_db_bind_text(st, 8, ver.name);
        ck_db_bind_text(st, 9, ver.version);
        rc = ck_db_step(st) < 0 ? CK_E_DB : CK_OK;
    }
    ck_db_stmt_free(st);
    ck_db_unlock(k->kv->db);
    if (rc != CK_OK) {
        kv_error(k->resp, 500, "InternalServerError", NULL, "The key could not be updated.");
        return;
    }
    if (at.has_enabled && at.enabled != ver.enabled)
        kv_event_emit(k->kv, k->v, at.enabled ? "Microsoft.KeyVault.KeyEnabled" : "Microsoft.KeyVault.KeyDisabled",
                      ver.name, ver.version, NULL);
    else if (at.has_exp || at.has_nbf || ops != NULL)
        kv_event_emit(k->kv, k->v, "Microsoft.KeyVault.KeyUpdated", ver.name, ver.version, NULL);
    kv_send_version(k, ver.name, ver.version);
}

static int kv_maxresults(struct kv_call *k, int *out)
{
    const char *m = ck_req_query(k->req, "maxresults");
    *out = 25;
    if (m == NULL)
        return 1;
    char *end = NULL;
    long v = strtol(m, &end, 10);
    if (*m == '\0' || *end != '\0' || v < 1 || v > 25) {
        kv_error(k->resp, 400, "BadParameter", NULL, "maxresults must be an integer from 1 to 25.");
        return 0;
    }
    *out = (int)v;
    return 1;
}

/* Lists keys (deleted = 0 or 1) or the versions of one key, paged by name or version. */
static void kv_list(struct kv_call *k, const char *name, int deleted)
{
    struct ck_db_stmt *st = NULL;
    const char *skip = ck_req_query(k->req, "$skiptoken");
    int max, n = 0, more = 0;
    char *last = NULL;
    json_t *arr = json_array();
    if (!kv_maxresults(k, &max)) {
        json_decref(arr);
        return;
    }
    /* Collect the page's (name, version) pairs first, then read each row. */
    char *names[26], *versions[26];
    ck_db_lock(k->kv->db);
    int prc = name != NULL
                  ? ck_db_prepare(k->kv->db, "SELECT v.name, v.version FROM key_versions v JOIN keys k ON k.vault = v.vault"
                                             " AND k.name = v.name WHERE v.vault = ?1 AND v.name = ?2 AND k.deleted_at IS"
                                             " NULL AND v.version > ?3 ORDER BY v.version LIMIT ?4", &st)
                  : ck_db_prepare(k->kv->db, "SELECT k.name, NULL FROM keys k WHERE k.vault = ?1 AND (k.deleted_at IS"
                                             " NOT NULL) = ?2 AND k.name > ?3 COLLATE NOCASE ORDER BY k.name COLLATE"
                                             " NOCASE LIMIT ?4", &st);
    if (prc == CK_OK) {
        ck_db_bind_text(st, 1, k->v->name);
        if (name != NULL)
            ck_db_bind_text(st, 2, name);
        else
            ck_db_bind_int64(st, 2, deleted);
        ck_db_bind_text(st, 3, skip ? skip : "");
        ck_db_bind_int64(st, 4, max + 1);
        while (ck_db_step(st) == 1) {
            if (n == max) {
                more = 1;
                break;
            }
            names[n] = ck_arena_strdup(k->a, ck_db_col_text(st, 0));
            versions[n] = ck_db_col_text(st, 1) ? ck_arena_strdup(k->a, ck_db_col_text(st, 1)) : NULL;
            n++;
        }
    }
    ck_db_stmt_free(st);
    ck_db_unlock(k->kv->db);
    for (int i = 0; i < n; i++) {
        struct kv_version ver;
        if (names[i] == NULL || kv_version_get(k->kv, k->a, k->v->name, names[i], versions[i], deleted, &ver) != CK_OK)
            continue;
        json_t *item = json_pack("{s:s,s:o}", "kid", kv_kid(k, ver.name, name ? ver.version : NULL), "attributes",
                                 kv_attributes(k, &ver));
        json_t *tags = ck_json_parse(ver.tags, strlen(ver.tags), NULL, 0);
        if (tags != NULL && json_object_size(tags) > 0)
            json_object_set_new(item, "tags", tags);
        else
            json_decref(tags);
        if (deleted) {
            struct ck_db_stmt *d = NULL;
            ck_db_lock(k->kv->db);
            if (ck_db_prepare(k->kv->db, "SELECT deleted_at, purge_at FROM keys WHERE vault = ?1 AND name = ?2", &d) == CK_OK) {
                ck_db_bind_text(d, 1, k->v->name);
                ck_db_bind_text(d, 2, ver.name);
                if (ck_db_step(d) == 1) {
                    json_object_set_new(item, "recoveryId",
                                        json_string(ck_arena_printf(k->a, "%s/deletedkeys/%s", k->origin, ver.name)));
                    json_object_set_new(item, "deletedDate", json_integer(ck_db_col_int64(d, 0)));
                    json_object_set_new(item, "scheduledPurgeDate", json_integer(ck_db_col_int64(d, 1)));
                }
            }
            ck_db_stmt_free(d);
            ck_db_unlock(k->kv->db);
        }
        json_array_append_new(arr, item);
        last = name ? ver.version : ver.name;
    }
    json_t *o = json_pack("{s:o}", "value", arr);
    if (more && last != NULL) {
        char *enc = ck_url_encode(last);
        const char *path = name ? ck_arena_printf(k->a, "/keys/%s/versions", name) : deleted ? "/deletedkeys" : "/keys";
        char *next = ck_arena_printf(k->a, "%s%s?api-version=%s&maxresults=%d&$skiptoken=%s", k->origin, path,
                                     ck_req_query(k->req, "api-version"), max, enc ? enc : "");
        ck_free(enc);
        json_object_set_new(o, "nextLink", next ? json_string(next) : json_null());
    } else {
        json_object_set_new(o, "nextLink", json_null());
    }
    kv_send(k, 200, o);
}

/* ---- delete, recover, purge ---- */

static json_t *kv_deleted_bundle(struct kv_call *k, const struct kv_version *ver, int64_t deleted_at, int64_t purge_at)
{
    json_t *b = kv_bundle(k, ver);
    if (b != NULL) {
        json_object_set_new(b, "recoveryId", json_string(ck_arena_printf(k->a, "%s/deletedkeys/%s", k->origin, ver->name)));
        json_object_set_new(b, "deletedDate", json_integer(deleted_at));
        json_object_set_new(b, "scheduledPurgeDate", json_integer(purge_at));
    }
    return b;
}

static int kv_deleted_times(struct kv_call *k, const char *name, int64_t *deleted_at, int64_t *purge_at)
{
    struct ck_db_stmt *st = NULL;
    int found = 0;
    ck_db_lock(k->kv->db);
    if (ck_db_prepare(k->kv->db, "SELECT deleted_at, purge_at FROM keys WHERE vault = ?1 AND name = ?2 AND deleted_at IS"
                                 " NOT NULL", &st) == CK_OK) {
        ck_db_bind_text(st, 1, k->v->name);
        ck_db_bind_text(st, 2, name);
        if (ck_db_step(st) == 1) {
            *deleted_at = ck_db_col_int64(st, 0);
            *purge_at = ck_db_col_int64(st, 1);
            found = 1;
        }
    }
    ck_db_stmt_free(st);
    ck_db_unlock(k->kv->db);
    return found;
}

static void kv_delete(struct kv_call *k, const char *name)
{
    struct kv_version ver;
    int64_t now = ck_time_now(), purge_at = now + (int64_t)k->v->retention_days * 86400;
    if (kv_version_get(k->kv, k->a, k->v->name, name, NULL, 0, &ver) != CK_OK) {
        kv_not_found(k, name, NULL);
        return;
    }
    struct ck_db_stmt *st = NULL;
    int rc = CK_E_DB;
    ck_db_lock(k->kv->db);
    if (ck_db_prepare(k->kv->db, "UPDATE keys SET deleted_at = ?1, purge_at = ?2 WHERE vault = ?3 AND name = ?4", &st) == CK_OK) {
        ck_db_bind_int64(st, 1, now);
        ck_db_bind_int64(st, 2, purge_at);
        ck_db_bind_text(st, 3, k->v->name);
        ck_db_bind_text(st, 4, ver.name);
        rc = ck_db_step(st) < 0 ? CK_E_DB : CK_OK;
    }
    ck_db_stmt_free(st);
    ck_db_unlock(k->kv->db);
    if (rc != CK_OK) {
        kv_error(k->resp, 500, "InternalServerError", NULL, "The key could not be deleted.");
        return;
    }
    *k->kid = kv_kid(k, ver.name, ver.version);
    kv_event_emit(k->kv, k->v, "Microsoft.KeyVault.KeyDeleted", ver.name, NULL, NULL);
    kv_send(k, 200, kv_deleted_bundle(k, &ver, now, purge_at));
}

static void kv_deleted_get(struct kv_call *k, const char *name)
{
    struct kv_version ver;
    int64_t d, p;
    if (!kv_deleted_times(k, name, &d, &p) || kv_version_get(k->kv, k->a, k->v->name, name, NULL, 1, &ver) != CK_OK) {
        kv_error(k->resp, 404, "KeyNotFound", NULL, "Deleted Key not found: %s", name);
        return;
    }
    *k->kid = kv_kid(k, ver.name, ver.version);
    kv_send(k, 200, kv_deleted_bundle(k, &ver, d, p));
}

static void kv_recover(struct kv_call *k, const char *name)
{
    int64_t d, p;
    if (!kv_deleted_times(k, name, &d, &p)) {
        kv_error(k->resp, 404, "KeyNotFound", NULL, "Deleted Key not found: %s", name);
        return;
    }
    const char *q[2] = {k->v->name, name};
    ck_db_lock(k->kv->db);
    int rc = ck_db_run(k->kv->db, "UPDATE keys SET deleted_at = NULL, purge_at = NULL WHERE vault = ?1 AND name = ?2", 2, q);
    ck_db_unlock(k->kv->db);
    if (rc != CK_OK) {
        kv_error(k->resp, 500, "InternalServerError", NULL, "The key could not be recovered.");
        return;
    }
    kv_event_emit(k->kv, k->v, "Microsoft.KeyVault.KeyRecovered", name, NULL, NULL);
    kv_send_version(k, name, NULL);
}

static void kv_purge(struct kv_call *k, const char *name)
{
    int64_t d, p;
    if (!kv_deleted_times(k, name, &d, &p)) {
        kv_error(k->resp, 404, "KeyNotFound", NULL, "Deleted Key not found: %s", name);
        return;
    }
    if (k->v->purge_protection && ck_time_now() < p) {
        kv_error(k->resp, 403, "Forbidden", NULL,
                 "Operation \"purge\" is not allowed because purge protection is enabled for this vault. Key Vault "
                 "service will automatically purge it after the retention period has passed.");
        return;
    }
    const char *q[2] = {k->v->name, name};
    ck_db_lock(k->kv->db);
    int rc = ck_db_run(k->kv->db, "DELETE FROM keys WHERE vault = ?1 AND name = ?2", 2, q);
    ck_db_unlock(k->kv->db);
    if (rc != CK_OK) {
        kv_error(k->resp, 500, "InternalServerError", NULL, "The key could not be purged.");
    } else {
        kv_keycache_drop(k->kv, k->v->name, name);
        kv_event_emit(k->kv, k->v, "Microsoft.KeyVault.KeyPurged", name, NULL, NULL);
        ck_resp_status(k->resp, 204);
    }
}

/* ---- backup and restore ---- */

static char *kv_backup_aad(struct kv_call *k)
{
    char *s = ck_arena_printf(k->a, "ck-kv-backup:%s", k->v->sub);
    for (char *p = s; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return s;
}

static void kv_backup(struct kv_call *k, const char *name)
{
    struct ck_db_stmt *st = NULL;
    struct kv_version latest;
    json_t *vers = json_array();
    struct ck_buf plain;
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int rc = CK_OK;
    ck_buf_init(&plain, 64u << 20);
    plain.secret = 1;
    if (kv_version_get(k->kv, k->a, k->v->name, name, NULL, 0, &latest) != CK_OK) {
        json_decref(vers);
        kv_not_found(k, name, NULL);
        return;
    }
    ck_db_lock(k->kv->db);
    if (ck_db_prepare(k->kv->db, "SELECT version FROM key_versions WHERE vault = ?1 AND name = ?2 ORDER BY seq", &st) == CK_OK) {
        ck_db_bind_text(st, 1, k->v->name);
        ck_db_bind_text(st, 2, latest.name);
        while (ck_db_step(st) == 1)
            json_array_append_new(vers, json_string(ck_db_col_text(st, 0)));
    }
    ck_db_stmt_free(st);
    ck_db_unlock(k->kv->db);
    /* Each version's private key is unsealed and carried inside the backup, which is sealed as a
     * whole for this subscription: only vaults of the same subscription can restore it. */
    json_t *out = json_array();
    size_t i;
    json_t *vv;
    json_array_foreach(vers, i, vv) {
        struct kv_version ver;
        struct ck_secret *der = NULL;
        char *aad;
        if (kv_version_get(k->kv, k->a, k->v->name, latest.name, json_string_value(vv), 0, &ver) != CK_OK ||
            (aad = kv_seal_aad(k->a, k->v->name, ver.name, ver.version)) == NULL ||
            ck_open(k->kv->master_key, aad, strlen(aad), ver.sealed, ver.sealed_len, &der) != CK_OK) {
            rc = CK_E_CRYPTO;
            break;
        }
        char *derb = ck_b64url_encode(ck_secret_ptr(der), ck_secret_len(der));
        ck_secret_free(der);
        json_array_append_new(out, json_pack("{s:s,s:s,s:i,s:s?,s:s,s:b,s:I,s:I,s:I,s:I,s:s,s:s}", "version", ver.version,
                                             "kty", ver.kty, "key_size", ver.key_size, "crv", *ver.crv ? ver.crv : NULL,
                                             "key_ops", ver.key_ops, "enabled", ver.enabled, "nbf", (json_int_t)ver.nbf,
                                             "exp", (json_int_t)ver.exp, "created", (json_int_t)ver.created, "updated",
                                             (json_int_t)ver.updated, "tags", ver.tags, "der", derb ? derb : ""));
        if (derb != NULL)
            ck_freezero(derb, strlen(derb));
    }
    json_decref(vers);
    char *pol = kv_policy_text(k, latest.name);
    json_t *doc = json_pack("{s:i,s:s,s:o,s:s?}", "v", 1, "name", latest.name, "versions", out, "policy", pol);
    char *text = doc && rc == CK_OK ? ck_json_dump(doc) : NULL;
    json_decref(doc);
    char *aad = kv_backup_aad(k);
    if (text == NULL || aad == NULL || ck_buf_puts(&plain, text) != CK_OK ||
        ck_seal(k->kv->master_key, aad, strlen(aad), plain.data, plain.len, &sealed, &sealed_len) != CK_OK) {
        kv_error(k->resp, 500, "InternalServerError", NULL, "The backup could not be made.");
    } else {
        char *b = ck_b64url_encode(sealed, sealed_len);
        json_t *o = json_pack("{s:s}", "value", b ? b : "");
        ck_free(b);
        *k->kid = kv_kid(k, latest.name, NULL);
        kv_send(k, 200, o);
    }
    if (text != NULL)
        ck_freezero(text, strlen(text));
    ck_free(sealed);
    ck_buf_cleanup(&plain);
}

static void kv_restore(struct kv_call *k)
{
    const char *value = ck_json_str(k->body, "value");
    uint8_t *blob = NULL;
    size_t blen = 0;
    struct ck_secret *plain = NULL;
    json_t *doc = NULL;
    char *aad = kv_backup_aad(k);
    if (value == NULL || ck_b64url_decode(value, strlen(value), &blob, &blen) != 0) {
        kv_error(k->resp, 400, "BadParameter", NULL, "'value' must be a key backup in base64url.");
        return;
    }
    if (aad == NULL || ck_open(k->kv->master_key, aad, strlen(aad), blob, blen, &plain) != CK_OK) {
        ck_free(blob);
        kv_error(k->resp, 400, "BadParameter", NULL,
                 "The backup cannot be restored here: it is corrupt, or it was made in a vault of another subscription.");
        return;
    }
    ck_free(blob);
    doc = ck_json_parse_object((const char *)ck_secret_ptr(plain), ck_secret_len(plain), NULL, 0);
    ck_secret_free(plain);
    const char *name = doc ? ck_json_str(doc, "name") : NULL;
    json_t *vers = doc ? ck_json_arr(doc, "versions") : NULL;
    if (name == NULL || vers == NULL || json_array_size(vers) == 0) {
        json_decref(doc);
        kv_error(k->resp, 400, "BadParameter", NULL, "The backup is not a key backup.");
        return;
    }
    const char *q[2] = {k->v->name, name};
    ck_db_lock(k->kv->db);
    int rc = ck_db_begin(k->kv->db);
    if (rc == CK_OK)
        rc = ck_db_run(k->kv->db, "INSERT INTO keys (vault, name) VALUES (?1, ?2)", 2, q);
    size_t i;
    json_t *v;
    int64_t seqbase = 0;
    json_array_foreach(vers, i, v) {
        if (rc != CK_OK)
            break;
        const char *ver = ck_json_str(v, "version"), *derb = ck_json_str(v, "der");
        uint8_t *der = NULL;
        size_t dlen = 0;
        uint8_t *sealed = NULL;
        size_t slen = 0;
        char *vaad = ver ? kv_seal_aad(k->a, k->v->name, name, ver) : NULL;
        struct ck_db_stmt *st = NULL;
        if (vaad == NULL || derb == NULL || ck_b64url_decode(derb, strlen(derb), &der, &dlen) != 0) {
            rc = CK_E_INVALID;
            break;
        }
        rc = ck_seal(k->kv->master_key, vaad, strlen(vaad), der, dlen, &sealed, &slen);
        ck_freezero(der, dlen);
        if (rc == CK_OK && ck_db_prepare(k->kv->db,
                                         "INSERT INTO key_versions (vault, name, version, kty, key_size, crv, key_ops, enabled,"
                                         " nbf, exp, created, updated, tags, public_jwk, sealed, seq) VALUES (?1, ?2, ?3, ?4,"
                                         " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, '', ?14, (SELECT COALESCE(MAX(seq), 0) + 1"
                                         " FROM key_versions WHERE vault = ?1))", &st) == CK_OK) {
            ck_db_bind_text(st, 1, k->v->name);
            ck_db_bind_text(st, 2, name);
            ck_db_bind_text(st, 3, ver);
            ck_db_bind_text(st, 4, ck_json_str(v, "kty"));
            ck_db_bind_int64(st, 5, ck_json_int(v, "key_size", 0));
            ck_db_bind_text(st, 6, ck_json_str(v, "crv"));
            ck_db_bind_text(st, 7, ck_json_str(v, "key_ops"));
            ck_db_bind_int64(st, 8, ck_json_bool(v, "enabled", 1));
            ck_db_bind_int64(st, 9, ck_json_int(v, "nbf", 0));
            ck_db_bind_int64(st, 10, ck_json_int(v, "exp", 0));
            ck_db_bind_int64(st, 11, ck_json_int(v, "created", 0));
            ck_db_bind_int64(st, 12, ck_json_int(v, "updated", 0));
            ck_db_bind_text(st, 13, ck_json_str(v, "tags"));
            ck_db_bind_blob(st, 14, sealed, slen);
            if (ck_db_step(st) < 0)
                rc = CK_E_DB;
        } else if (rc == CK_OK) {
            rc = CK_E_DB;
        }
        ck_db_stmt_free(st);
        ck_free(sealed);
        seqbase++;
    }
    if (rc == CK_OK)
        rc = ck_db_commit(k->kv->db);
    if (rc != CK_OK)
        ck_db_rollback(k->kv->db);
    ck_db_unlock(k->kv->db);
    if (rc == CK_E_EXISTS) {
        /* name points into doc: write the error before freeing it. */
        int64_t d, p;
        if (kv_deleted_times(k, name, &d, &p))
            kv_error(k->resp, 409, "Conflict", "ObjectIsDeletedButRecoverable",
                     "Key %s is currently in a deleted but recoverable state, and its name cannot be reused; in this "
                     "state, the key can only be recovered or purged.", name);
        else
            kv_error(k->resp, 409, "Conflict", NULL, "There is already a key named %s in this vault.", name);
        json_decref(doc);
        return;
    }
    if (rc != CK_OK) {
        json_decref(doc);
        kv_error(k->resp, 400, "BadParameter", NULL, "The backup could not be restored.");
        return;
    }
    /* Public JWKs are rebuilt from the restored private keys. */
    json_array_foreach(vers, i, v) {
        struct kv_version ver;
        struct ck_pkey *key = NULL;
        if (kv_version_get(k->kv, k->a, k->v->name, name, ck_json_str(v, "version"), 0, &ver) == CK_OK &&
            kv_unseal(k, &ver, &key) == CK_OK) {
            const char *kty, *crv;
            int size;
            char *jwk = kv_public_jwk(k->a, key, &kty, &size, &crv);
            const char *q2[4] = {jwk, k->v->name, name, ver.version};
            ck_db_lock(k->kv->db);
            (void)ck_db_run(k->kv->db, "UPDATE key_versions SET public_jwk = ?1 WHERE vault = ?2 AND name = ?3 AND"
                                       " version = ?4", 4, q2);
            ck_db_unlock(k->kv->db);
        }
        ck_pkey_free(key);
    }
    const char *pol = ck_json_str(doc, "policy");
    if (pol != NULL) {
        const char *q3[3] = {k->v->name, name, pol};
        ck_db_lock(k->kv->db);
        (void)ck_db_run(k->kv->db, "INSERT OR REPLACE INTO rotation_policies (vault, name, policy, created, updated)"
                                   " VALUES (?1, ?2, ?3, strftime('%s','now'), strftime('%s','now'))", 3, q3);
        ck_db_unlock(k->kv->db);
    }
    char *nm = ck_arena_strdup(k->a, name);
    json_decref(doc);
    kv_send_version(k, nm, NULL);
}

/* ---- cryptographic operations ---- */

static int kv_b64_value(struct kv_call *k, const char *member, struct ck_bytes *out)
{
    const char *s = ck_json_str(k->body, member);
    if (s == NULL || ck_b64url_decode(s, strlen(s), &out->ptr, &out->len) != 0) {
        kv_error(k->resp, 400, "BadParameter", NULL, "'%s' must be a base64url string.", member);
        return 0;
    }
    return 1;
}

static void kv_crypto(struct kv_call *k, const char *name, const char *version, const char *op)
{
    struct kv_version ver;
    struct ck_pkey *key = NULL;
    struct ck_bytes in = {0}, digest = {0}, out = {0};
    struct ck_secret *pt = NULL;
    const char *opname = strcmp(op, "wrapkey") == 0 ? "wrapKey" : strcmp(op, "unwrapkey") == 0 ? "unwrapKey" : op;
    int secret_op = strcmp(op, "decrypt") == 0 || strcmp(op, "unwrapkey") == 0 || strcmp(op, "sign") == 0;
    const char *alg = ck_json_str(k->body, "alg");
    int64_t now = ck_time_now();

    if (kv_version_get(k->kv, k->a, k->v->name, name, version, 0, &ver) != CK_OK) {
        kv_not_found(k, name, version);
        return;
    }
    *k->kid = kv_kid(k, ver.name, ver.version);
    if (!kv_has_op(ver.key_ops, opname)) {
        kv_error(k->resp, 403, "Forbidden", "KeyOperationForbidden", "Operation %s is not permitted on this key.", opname);
        return;
    }
    if (secret_op && !ver.enabled) {
        kv_error(k->resp, 403, "Forbidden", "KeyDisabled", "Operation %s is not allowed on a disabled key.", opname);
        return;
    }
    /* Outside nbf/exp a key may not protect new data (encrypt, wrap, sign; the JWK and Key Vault
     * rule) nor release protected data (decrypt, unwrap; the revocation contract of this
     * service): only verify stays open. */
    int time_op = strcmp(op, "verify") != 0;
    if (time_op && ver.nbf != 0 && now < ver.nbf) {
        kv_error(k->resp, 403, "Forbidden", "KeyNotYetValid", "Operation %s is not allowed: the key is not yet valid.", opname);
        return;
    }
    if (time_op && ver.exp != 0 && now >= ver.exp) {
        kv_error(k->resp, 403, "Forbidden", "KeyExpired", "Operation %s is not allowed: the key has expired.", opname);
        return;
    }
    int is_sign = strcmp(op, "sign") == 0 || strcmp(op, "verify") == 0;
    if (alg == NULL || (is_sign ? !ck_alg_is_sign(alg) : !ck_alg_is_rsa_enc(alg)) ||
        (!is_sign && strcmp(ver.kty, "RSA") != 0) ||
        (is_sign && ((alg[0] == 'E') != (strcmp(ver.kty, "EC") == 0)))) {
        kv_error(k->resp, 400, "BadParameter", NULL, "Algorithm '%.32s' is not supported for %s with a %s key.",
                 alg ? alg : "(missing)", opname, ver.kty);
        return;
    }
    if (!kv_b64_value(k, "value", &in))
        return;
    if (strcmp(op, "verify") == 0 && !kv_b64_value(k, "digest", &digest))
        goto out;
    if (kv_unseal(k, &ver, &key) != CK_OK) {
        kv_error(k->resp, 500, "InternalServerError", NULL, "The key material could not be opened.");
        goto out;
    }
    int rc;
    if (strcmp(op, "encrypt") == 0 || strcmp(op, "wrapkey") == 0) {
        rc = ck_rsa_encrypt(key, alg, in.ptr, in.len, &out);
        if (rc != CK_OK) {
            kv_error(k->resp, 400, "BadParameter", NULL, "The value cannot be %s with %s (too long?).",
                     strcmp(op, "encrypt") == 0 ? "encrypted" : "wrapped", alg);
            goto out;
        }
    } else if (strcmp(op, "decrypt") == 0 || strcmp(op, "unwrapkey") == 0) {
        rc = ck_rsa_decrypt(key, alg, in.ptr, in.len, &pt);
        if (rc != CK_OK) {
            kv_error(k->resp, 400, "BadParameter", NULL, "The value could not be %s with this key and algorithm.",
                     strcmp(op, "decrypt") == 0 ? "decrypted" : "unwrapped");
            goto out;
        }
    } else if (strcmp(op, "sign") == 0) {
        rc = ck_sign_digest(key, alg, in.ptr, in.len, &out);
        if (rc != CK_OK) {
            kv_error(k->resp, 400, "BadParameter", NULL, "The digest cannot be signed with %s (wrong length or curve?).", alg);
            goto out;
        }
    } else {
        rc = ck_verify_digest(key, alg, digest.ptr, digest.len, in.ptr, in.len);
        if (rc != CK_OK && rc != CK_E_VERIFY) {
            kv_error(k->resp, 400, "BadParameter", NULL, "The digest or signature does not fit %s.", alg);
            goto out;
        }
        kv_send(k, 200, json_pack("{s:b}", "value", rc == CK_OK));
        goto out;
    }
    /* The response is built in wiped memory: unwrapped keys and plaintexts are secrets. */
    char *b = pt ? ck_b64url_encode(ck_secret_ptr(pt), ck_secret_len(pt)) : ck_b64url_encode(out.ptr, out.len);
    char *kid = kv_kid(k, ver.name, ver.version);
    struct ck_buf body;
    ck_buf_init(&body, 64 * 1024);
    body.secret = 1;
    if (b == NULL || kid == NULL || ck_buf_printf(&body, "{\"kid\":\"%s\",\"value\":\"%s\"}", kid, b) != CK_OK) {
        kv_error(k->resp, 500, "InternalServerError", NULL, "The response could not be built.");
    } else {
        ck_resp_status(k->resp, 200);
        ck_resp_body(k->resp, "application/json; charset=utf-8", body.data, body.len);
    }
    ck_buf_cleanup(&body);
    if (b != NULL)
        ck_freezero(b, strlen(b));
out:
    ck_pkey_free(key);
    ck_secret_free(pt);
    ck_freezero(in.ptr, in.len);
    ck_free(digest.ptr);
    ck_free(out.ptr);
}

/* Key Vault versions: 7.0 to 7.9 (with -preview or -preview.N), and dated versions from 2025-07-01
 * on, including newer ones than this server knows, so that a newer SDK is never refused. */
static int kv_api_version_ok(const char *v)
{
    int y, m, d, n = 0;
    if (v[0] == '7' && v[1] == '.' && v[2] >= '0' && v[2] <= '9' &&
        (v[3] == '\0' || strncmp(v + 3, "-preview", 8) == 0))
        return 1;
    if (sscanf(v, "%4d-%2d-%2d%n", &y, &m, &d, &n) == 3 && n == 10 && (v[10] == '\0' || strncmp(v + 10, "-preview", 8) == 0))
        return m >= 1 && m <= 12 && d >= 1 && d <= 31 && y * 10000 + m * 100 + d >= 20250701;
    return 0;
}

static void kv_rng(struct kv_call *k)
{
    json_t *c = json_object_get(k->body, "count");
    if (!json_is_integer(c) || json_integer_value(c) < 1 || json_integer_value(c) > 128) {
        kv_error(k->resp, 400, "BadParameter", NULL, "'count' must be an integer from 1 to 128.");
        return;
    }
    uint8_t buf[128];
    size_t n = (size_t)json_integer_value(c);
    if (ck_rand_bytes(buf, n) != CK_OK) {
        kv_error(k->resp, 500, "InternalServerError", NULL, "No random bytes.");
        return;
    }
    char *b = ck_b64url_encode(buf, n);
    ck_wipe(buf, sizeof(buf));
    kv_send(k, 200, json_pack("{s:s}", "value", b ? b : ""));
    ck_free(b);
}

/* ---- routing ---- */

struct kv_route {
    const char *method;
    const char *shape; /* segments after the leading "/": N = name, V = version (may be empty), literals */
    const char *action;
    const char *operation;
    int needs_body;
};

/* Order matters: literal segments before the version wildcard. */
static const struct kv_route kv_routes[] = {
    {"GET", "keys", "keys/read", "ListKeys", 0},
    {"POST", "keys/restore", "keys/restore/action", "RestoreKey", 1},
    {"POST", "keys/N/create", "keys/create/action", "CreateKey", 1},
    {"PUT", "keys/N", "keys/import/action", "ImportKey", 1},
    {"GET", "keys/N/versions", "keys/read", "ListKeyVersions", 0},
    {"POST", "keys/N/rotate", "keys/rotate/action", "RotateKey", 0},
    {"POST", "keys/N/backup", "keys/backup/action", "BackupKey", 0},
    {"GET", "keys/N/rotationpolicy", "keyrotationpolicies/read", "GetRotationPolicy", 0},
    {"PUT", "keys/N/rotationpolicy", "keyrotationpolicies/write", "SetRotationPolicy", 1},
    {"DELETE", "keys/N", "keys/delete", "DeleteKey", 0},
    {"GET", "keys/N", "keys/read", "GetKey", 0},
    {"GET", "keys/N/V", "keys/read", "GetKey", 0},
    {"PATCH", "keys/N", "keys/update/action", "UpdateKey", 1},
    {"PATCH", "keys/N/V", "keys/update/action", "UpdateKey", 1},
    {"POST", "keys/N/V/encrypt", "keys/encrypt/action", "Encrypt", 1},
    {"POST", "keys/N/V/decrypt", "keys/decrypt/action", "Decrypt", 1},
    {"POST", "keys/N/V/wrapkey", "keys/wrap/action", "WrapKey", 1},
    {"POST", "keys/N/V/unwrapkey", "keys/unwrap/action", "UnwrapKey", 1},
    {"POST", "keys/N/V/sign", "keys/sign/action", "Sign", 1},
    {"POST", "keys/N/V/verify", "keys/verify/action", "Verify", 1},
    {"GET", "deletedkeys", "keys/read", "ListDeletedKeys", 0},
    {"GET", "deletedkeys/N", "keys/read", "GetDeletedKey", 0},
    {"POST", "deletedkeys/N/recover", "keys/recover/action", "RecoverDeletedKey", 0},
    {"DELETE", "deletedkeys/N", "keys/purge/action", "PurgeDeletedKey", 0},
    {"POST", "rng", "keys/read", "GetRandomBytes", 1},
    {"GET", "events", "keys/read", "ReadEvents", 0},
};

#define KV_MAX_SEGS 6

/* Splits the path into at most KV_MAX_SEGS segments, keeping empty ones ("/keys/k//wrapkey"). */
static int kv_split(struct ck_arena *a, const char *path, char **seg)
{
    int n = 0;
    char *copy = ck_arena_strdup(a, path[0] == '/' ? path + 1 : path);
    if (copy == NULL)
        return -1;
    size_t len = strlen(copy);
    if (len > 0 && copy[len - 1] == '/') /* "/keys/{n}/" means the latest version */
        copy[len - 1] = '\0';
    for (char *s = copy;;) {
        if (n == KV_MAX_SEGS)
            return -1;
        seg[n++] = s;
        char *e = strchr(s, '/');
        if (e == NULL)
            break;
        *e = '\0';
        s = e + 1;
    }
    return n;
}

static int kv_match(const struct kv_route *r, char **seg, int n, const char **name, const char **version)
{
    char shape[64];
    char *parts[KV_MAX_SEGS];
    int m = 0;
    snprintf(shape, sizeof(shape), "%s", r->shape);
    for (char *s = shape;;) {
        parts[m++] = s;
        char *e = strchr(s, '/');
        if (e == NULL)
            break;
        *e = '\0';
        s = e + 1;
    }
    if (m != n)
        return 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(parts[i], "N") == 0) {
            if (!kv_name_ok(seg[i]))
                return 0;
            *name = seg[i];
        } else if (strcmp(parts[i], "V") == 0) {
            /* Versions are 32 hex characters; empty means the latest. */
            size_t l = strlen(seg[i]);
            if (l != 0 && (l != 32 || strspn(seg[i], "0123456789abcdefABCDEF") != 32))
                return 0;
            *version = seg[i];
        } else if (strcasecmp(parts[i], seg[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

void kv_handle_keys(struct kv *kv, const struct kv_vault *v, const struct kv_caller *c, const char *origin,
                    struct ck_req *req, struct ck_resp *resp, const char **operation, char **kid)
{
    struct kv_call k = {.kv = kv, .v = v, .c = c, .req = req, .resp = resp, .a = ck_req_arena(req),
                        .origin = origin, .operation = operation, .kid = kid};
    char *seg[KV_MAX_SEGS];
    const char *name = NULL, *version = NULL;
    const struct kv_route *r = NULL;

    *kid = NULL;
    int n = kv_split(k.a, ck_req_path(req), seg);
    for (size_t i = 0; n > 0 && i < sizeof(kv_routes) / sizeof(kv_routes[0]); i++) {
        if (strcmp(kv_routes[i].method, ck_req_method(req)) == 0 && kv_match(&kv_routes[i], seg, n, &name, &version)) {
            r = &kv_routes[i];
            break;
        }
    }
    if (r == NULL) {
        *operation = "Unknown";
        kv_error(resp, 400, "BadParameter", NULL, "The request URI is not a Key Vault keys operation: %s %.200s.",
                 ck_req_method(req), ck_req_path(req));
        return;
    }
    *operation = r->operation;
    if (name != NULL)
        *kid = kv_kid(&k, name, version && *version ? version : NULL);
    const char *api = ck_req_query(req, "api-version");
    if (api == NULL || *api == '\0') {
        kv_error(resp, 400, "BadParameter", NULL, "The 'api-version' query parameter is missing.");
        return;
    }
    if (!kv_api_version_ok(api)) {
        kv_error(resp, 400, "BadParameter", NULL, "The specified version (%.32s) is not recognized. Consider using the "
                 "latest supported version (2025-07-01).", api);
        return;
    }
    /* The event feed may be narrowed to one key; the caller then needs to read that key only. */
    if (strcmp(r->shape, "events") == 0) {
        name = ck_req_query(req, "key");
        if (name != NULL && !kv_name_ok(name)) {
            kv_error(resp, 400, "BadParameter", NULL, "'key' is not a valid key name.");
            return;
        }
    }
    if (!kv_authorize(&k, r->action, name))
        return;
    if (r->needs_body && !kv_body(&k))
        return;
    const char *s = r->shape;
    if (strcmp(s, "keys") == 0)
        kv_list(&k, NULL, 0);
    else if (strcmp(s, "keys/restore") == 0)
        kv_restore(&k);
    else if (strcmp(s, "keys/N/create") == 0)
        kv_create(&k, name);
    else if (strcmp(s, "keys/N") == 0 && strcmp(r->method, "PUT") == 0)
        kv_import(&k, name);
    else if (strcmp(s, "keys/N/versions") == 0)
        kv_list(&k, name, 0);
    else if (strcmp(s, "keys/N/rotate") == 0)
        kv_rotate(&k, name);
    else if (strcmp(s, "keys/N/backup") == 0)
        kv_backup(&k, name);
    else if (strcmp(s, "keys/N/rotationpolicy") == 0)
        kv_policy(&k, name, strcmp(r->method, "PUT") == 0);
    else if (strcmp(s, "keys/N") == 0 && strcmp(r->method, "DELETE") == 0)
        kv_delete(&k, name);
    else if ((strcmp(s, "keys/N") == 0 || strcmp(s, "keys/N/V") == 0) && strcmp(r->method, "GET") == 0) {
        struct kv_version ver;
        if (kv_version_get(kv, k.a, v->name, name, version, 0, &ver) != CK_OK)
            kv_not_found(&k, name, version);
        else {
            *kid = kv_kid(&k, ver.name, ver.version);
            kv_send(&k, 200, kv_bundle(&k, &ver));
        }
    } else if (strcmp(r->method, "PATCH") == 0)
        kv_update(&k, name, version);
    else if (strncmp(s, "keys/N/V/", 9) == 0) {
        kv_audit_busy(kv, 1);
        kv_crypto(&k, name, version, s + 9);
        kv_audit_busy(kv, -1);
    }
    else if (strcmp(s, "deletedkeys") == 0)
        kv_list(&k, NULL, 1);
    else if (strcmp(s, "deletedkeys/N") == 0 && strcmp(r->method, "GET") == 0)
        kv_deleted_get(&k, name);
    else if (strcmp(s, "deletedkeys/N/recover") == 0)
        kv_recover(&k, name);
    else if (strcmp(s, "deletedkeys/N") == 0)
        kv_purge(&k, name);
    else if (strcmp(s, "rng") == 0)
        kv_rng(&k);
    else if (strcmp(s, "events") == 0)
        kv_events_feed(kv, v, origin, req, resp, name);
    json_decref(k.body);
}
