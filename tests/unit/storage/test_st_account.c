/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Storage accounts through ARM over the real stack (identity, ARM, the storage resource provider):
 * create, read, list, update, delete, keys and their custody on disk (sealed account keys, wrapped
 * AEK: the raw bytes never reach the store), regenerateKey, the AEK across restarts, offline root
 * key rotation (every row re-wrapped, nothing else touched, the old key refused afterwards),
 * user-assigned and system-assigned identities and the encryption object (wire reference C.7), the development
 * account, and bad input: names, taken names, RP credential, malformed and oversized bodies, each
 * answered in ARM's error format with no state change.
 */
#include "st_fixture.h"

static struct sf_tenant T, T2;

static int group_setup(void **state)
{
    sf_setup(state);
    sf_tenant("isv", "rg1", &T);
    sf_tenant("other", "rgx", &T2);
    return 0;
}

static json_t *props_of(const json_t *o)
{
    json_t *p = ck_json_obj(o, "properties");
    assert_non_null(p);
    return p;
}

/* listKeys through ARM: the two keys, decoded (64 bytes each). */
static void list_keys(const char *name, uint8_t k1[64], uint8_t k2[64])
{
    json_t *o = sf_arm_ok(T.armtok, "POST", P("%s/listKeys?api-version=" SF_API, sf_acct_path(&T, "rg1", name)), NULL, 200);
    json_t *keys = ck_json_arr(o, "keys");
    assert_int_equal(json_array_size(keys), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *k = json_array_get(keys, i);
        assert_string_equal(ck_json_str(k, "keyName"), i == 0 ? "key1" : "key2");
        assert_string_equal(ck_json_str(k, "permissions"), "FULL");
        assert_non_null(ck_json_str(k, "creationTime"));
        const char *v = ck_json_str(k, "value");
        assert_non_null(v);
        assert_int_equal(strlen(v), 88);
        uint8_t *raw = NULL;
        size_t rl = 0;
        assert_int_equal(ck_b64_decode(v, strlen(v), &raw, &rl), 0);
        assert_int_equal(rl, 64);
        memcpy(i == 0 ? k1 : k2, raw, 64);
        ck_free(raw);
    }
    json_decref(o);
}

static void test_create_get_list(void **state)
{
    (void)state;
    json_t *o = sf_account_put(&T, "rg1", "acct1", "{\"sku\":{\"name\":\"standard_lrs\"},\"location\":\"eastus\","
                                                    "\"tags\":{\"env\":\"test\"}}", 201);
    assert_string_equal(ck_json_str(o, "name"), "acct1");
    assert_string_equal(ck_json_str(o, "type"), "Microsoft.Storage/storageAccounts");
    assert_string_equal(ck_json_str(o, "id"), sf_acct_path(&T, "rg1", "acct1"));
    assert_string_equal(ck_json_str(o, "kind"), "StorageV2");
    assert_string_equal(ck_json_str(ck_json_obj(o, "sku"), "name"), "Standard_LRS");
    assert_string_equal(ck_json_str(ck_json_obj(o, "sku"), "tier"), "Standard");
    assert_string_equal(ck_json_str(ck_json_obj(o, "tags"), "env"), "test");
    assert_string_equal(ck_json_str(ck_json_obj(o, "identity"), "type"), "None");
    json_t *p = props_of(o);
    assert_string_equal(ck_json_str(p, "provisioningState"), "Succeeded");
    assert_string_equal(ck_json_str(p, "statusOfPrimary"), "available");
    assert_string_equal(ck_json_str(p, "primaryLocation"), "eastus");
    assert_non_null(ck_json_str(p, "creationTime"));
    assert_string_equal(ck_json_str(ck_json_obj(p, "primaryEndpoints"), "blob"), "https://localhost:10443/acct1/");
    json_t *enc = ck_json_obj(p, "encryption");
    assert_string_equal(ck_json_str(enc, "keySource"), "Microsoft.Storage");
    assert_true(json_is_false(json_object_get(enc, "requireInfrastructureEncryption")));
    json_t *blob = ck_json_obj(ck_json_obj(enc, "services"), "blob");
    assert_true(json_is_true(json_object_get(blob, "enabled")));
    assert_string_equal(ck_json_str(blob, "keyType"), "Account");
    assert_non_null(ck_json_str(blob, "lastEnabledTime"));
    assert_null(json_object_get(enc, "keyvaultproperties"));
    json_decref(o);

    /* The data-plane view. */
    struct ck_arena *a = ck_arena_new();
    struct st_account acc;
    assert_int_equal(st_account_get(F.st, a, "acct1", &acc), CK_OK);
    assert_string_equal(acc.tenant_id, T.tid);
    assert_string_equal(acc.subscription_id, T.sub);
    assert_string_equal(acc.resource_group, "rg1");
    assert_int_equal(acc.dev, 0);
    assert_int_equal(st_account_get(F.st, a, "nosuch", &acc), CK_E_NOT_FOUND);
    ck_arena_free(a);

    o = sf_arm_ok(T.armtok, "GET", P("%s?api-version=" SF_API, sf_acct_path(&T, "RG1", "acct1")), NULL, 200);
    assert_string_equal(ck_json_str(o, "name"), "acct1");
    json_decref(o);
    json_decref(sf_account_put(&T, "rg1", "acct2", SF_PLAIN_BODY, 201));
    sf_group(&T, "rg2");
    json_decref(sf_account_put(&T, "rg2", "acct3", SF_PLAIN_BODY, 201));
    o = sf_arm_ok(T.armtok, "GET",
                  P("/subscriptions/%s/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts?api-version=" SF_API,
                    T.sub),
                  NULL, 200);
    assert_int_equal(json_array_size(ck_json_arr(o, "value")), 2);
    json_decref(o);
    o = sf_arm_ok(T.armtok, "GET",
                  P("/subscriptions/%s/providers/Microsoft.Storage/storageAccounts?api-version=" SF_API, T.sub), NULL, 200);
    assert_int_equal(json_array_size(ck_json_arr(o, "value")), 3);
    json_decref(o);
    /* Another tenant sees none of them. */
    o = sf_arm_ok(T2.armtok, "GET",
                  P("/subscriptions/%s/providers/Microsoft.Storage/storageAccounts?api-version=" SF_API, T2.sub), NULL, 200);
    assert_int_equal(json_array_size(ck_json_arr(o, "value")), 0);
    json_decref(o);
    /* GET in the wrong group is 404. */
    sf_arm_err(sf_arm(T.armtok, "GET", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg2", "acct1")), NULL), 404,
               "ResourceNotFound");
}

static void test_update(void **state)
{
    (void)state;
    /* PATCH: tags and properties; the rest stays. */
    json_t *o = sf_arm_ok(T.armtok, "PATCH", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct1")),
                          "{\"tags\":{\"env\":\"prod\"},\"properties\":{\"accessTier\":\"cool\",\"minimumTlsVersion\":\"TLS1_2\"}}",
                          200);
    assert_string_equal(ck_json_str(ck_json_obj(o, "tags"), "env"), "prod");
    assert_string_equal(ck_json_str(props_of(o), "accessTier"), "Cool");
    assert_string_equal(ck_json_str(o, "kind"), "StorageV2");
    json_decref(o);
    /* PUT on an existing account of the same group updates it (200). */
    o = sf_account_put(&T, "rg1", "acct1", "{\"sku\":{\"name\":\"Standard_GRS\"},\"location\":\"eastus\"}", 200);
    assert_string_equal(ck_json_str(ck_json_obj(o, "sku"), "name"), "Standard_GRS");
    assert_string_equal(ck_json_str(ck_json_obj(o, "tags"), "env"), "prod");
    json_decref(o);
    /* Location and kind cannot change; requireInfrastructureEncryption is create-only. */
    sf_arm_err(sf_arm(T.armtok, "PUT", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct1")),
                      "{\"sku\":{\"name\":\"Standard_LRS\"},\"location\":\"westus\"}"),
               409, "InvalidResourceLocation");
    sf_arm_err(sf_arm(T.armtok, "PATCH", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct1")),
                      "{\"kind\":\"BlobStorage\"}"),
               400, "InvalidRequestPropertyValue");
    sf_arm_err(sf_arm(T.armtok, "PATCH", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct1")),
                      "{\"properties\":{\"encryption\":{\"requireInfrastructureEncryption\":true}}}"),
               400, "InvalidRequestPropertyValue");
    sf_arm_err(sf_arm(T.armtok, "PATCH", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct1")),
                      "{\"properties\":{\"encryption\":{\"services\":{\"blob\":{\"enabled\":false}}}}}"),
               400, "InvalidRequestPropertyValue");
    /* PATCH of a missing account is 404. */
    sf_arm_err(sf_arm(T.armtok, "PATCH", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "nosuchacct")), "{}"), 404,
               "ResourceNotFound");
    /* requireInfrastructureEncryption at creation sticks. */
    o = sf_account_put(&T, "rg1", "infra1",
                       "{\"sku\":{\"name\":\"Standard_LRS\"},\"location\":\"eastus\",\"properties\":{\"encryption\":"
                       "{\"requireInfrastructureEncryption\":true,\"keySource\":\"Microsoft.Storage\"}}}",
                       201);
    assert_true(json_is_true(json_object_get(ck_json_obj(props_of(o), "encryption"), "requireInfrastructureEncryption")));
    json_decref(o);
    o = sf_arm_ok(T.armtok, "PATCH", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "infra1")),
                  "{\"properties\":{\"encryption\":{\"requireInfrastructureEncryption\":true}}}", 200);
    json_decref(o);
}

static void test_keys_custody(void **state)
{
    (void)state;
    uint8_t k1[64], k2[64], r1[64], r2[64];
    struct ck_secret *s1 = NULL, *s2 = NULL, *aek = NULL, *aek2 = NULL;
    list_keys("acct1", k1, k2);
    assert_memory_not_equal(k1, k2, 64);
    /* The data plane's view is the same pair. */
    assert_int_equal(st_account_keys(F.st, "acct1", &s1, &s2), CK_OK);
    assert_memory_equal(ck_secret_ptr(s1), k1, 64);
    assert_memory_equal(ck_secret_ptr(s2), k2, 64);
    assert_int_equal(st_account_root_aek(F.st, "acct1", &aek), CK_OK);
    assert_int_equal(ck_secret_len(aek), ST_AEK_LEN);
    assert_int_equal(st_account_root_aek(F.st, "acct1", &aek2), CK_OK); /* from the cache */
    assert_memory_equal(ck_secret_ptr(aek), ck_secret_ptr(aek2), ST_AEK_LEN);

    /* regenerateKey replaces one key only. */
    json_t *o = sf_arm_ok(T.armtok, "POST", P("%s/regenerateKey?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct1")),
                          "{\"keyName\":\"key1\"}", 200);
    assert_int_equal(json_array_size(ck_json_arr(o, "keys")), 2);
    json_decref(o);
    list_keys("acct1", r1, r2);
    assert_memory_not_equal(r1, k1, 64);
    assert_memory_equal(r2, k2, 64);
    sf_arm_err(sf_arm(T.armtok, "POST", P("%s/regenerateKey?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct1")),
                      "{\"keyName\":\"kerb1\"}"),
               400, "InvalidValuesForRequestParameters");

    /* No raw key or AEK in the store, in any form, with the store closed (WAL checkpointed). */
    uint8_t aekb[ST_AEK_LEN];
    memcpy(aekb, ck_secret_ptr(aek), ST_AEK_LEN);
    sf_stop();
    size_t len = 0;
    uint8_t *all = sf_slurp_store(&len);
    assert_true(len > 0);
    const uint8_t *secrets[] = {k1, k2, r1, aekb};
    const size_t lens[] = {64, 64, 64, ST_AEK_LEN};
    for (size_t i = 0; i < 4; i++) {
        char *b64 = ck_b64_encode(secrets[i], lens[i]), *hex = ck_hex_encode(secrets[i], lens[i]);
        assert_false(sf_contains(all, len, secrets[i], lens[i]));
        assert_false(sf_contains(all, len, secrets[i], 16)); /* not even a prefix */
        assert_false(sf_contains(all, len, b64, strlen(b64)));
        assert_false(sf_contains(all, len, hex, strlen(hex)));
        ck_free(b64);
        ck_free(hex);
    }
    ck_free(all);

    /* The AEK is the same after a restart. */
    sf_start();
    struct ck_secret *aek3 = NULL;
    assert_int_equal(st_account_root_aek(F.st, "acct1", &aek3), CK_OK);
    assert_memory_equal(ck_secret_ptr(aek3), aekb, ST_AEK_LEN);
    /* A different root key is refused, not used. */
    struct ck_secret *wrong = NULL, *x = NULL, *y = NULL;
    struct st *st2 = NULL;
    assert_int_equal(ck_rand_secret(CK_SEAL_KEY_LEN, &wrong), CK_OK);
    assert_int_equal(sf_storage_new(wrong, &st2), CK_OK);
    assert_int_equal(st_account_root_aek(st2, "acct1", &x), CK_E_CRYPTO);
    assert_int_equal(st_account_keys(st2, "acct1", &x, &y), CK_E_CRYPTO);
    st_free(st2);
    ck_secret_free(wrong);
    ck_secret_free(aek3);
    ck_secret_free(s1);
    ck_secret_free(s2);
    ck_secret_free(aek);
    ck_secret_free(aek2);
    ck_wipe(aekb, sizeof(aekb));
}

static void test_root_rotation(void **state)
{
    (void)state;
    uint8_t k1[64], k2[64], aekb[ST_AEK_LEN];
    struct ck_secret *aek = NULL, *newroot = NULL, *s1 = NULL, *s2 = NULL;
    long mine = -1, other = -1, rows = -1;
    list_keys("acct2", k1, k2);
    assert_int_equal(st_account_root_aek(F.st, "acct2", &aek), CK_OK);
    memcpy(aekb, ck_secret_ptr(aek), ST_AEK_LEN);
    ck_secret_free(aek);
    aek = NULL;
    /* A container row stands in for blob data: rotation must leave it as it is. */
    const char *q[1] = {"acct2"};
    ck_db_lock(F.st->db);
    assert_int_equal(ck_db_run(F.st->db, "INSERT INTO containers (account, name, etag, last_modified, metadata)"
                                         " VALUES (?1, 'c1', '\"0x1\"', 1, x'00112233')", 1, q),
                     CK_OK);
    ck_db_unlock(F.st->db);
    long accounts = sf_count("accounts");
    sf_stop();

    assert_int_equal(st_root_status(F.stdir, F.root, &mine, &other), CK_OK);
    assert_int_equal(mine, accounts);
    assert_int_equal(other, 0);
    assert_int_equal(ck_rand_secret(CK_SEAL_KEY_LEN, &newroot), CK_OK);
    /* The same key twice is refused. */
    assert_int_equal(st_root_rotate(F.stdir, F.root, F.root, &rows), CK_E_INVALID);
    assert_int_equal(st_root_rotate(F.stdir, F.root, newroot, &rows), CK_OK);
    assert_int_equal(rows, accounts);
    assert_int_equal(st_root_status(F.stdir, newroot, &mine, &other), CK_OK);
    assert_int_equal(mine, accounts);
    assert_int_equal(other, 0);
    assert_int_equal(st_root_status(F.stdir, F.root, &mine, &other), CK_OK);
    assert_int_equal(mine, 0);
    /* Rotating from a key the rows are not under changes nothing. */
    assert_int_equal(st_root_rotate(F.stdir, F.root, newroot, &rows), CK_E_CRYPTO);
    char k_old[ST_ROOT_KID_MAX], k_new[ST_ROOT_KID_MAX];
    st_root_key_id(F.root, k_old, sizeof(k_old));
    st_root_key_id(newroot, k_new, sizeof(k_new));
    assert_string_not_equal(k_old, k_new);
    assert_int_equal(strncmp(k_new, "root:", 5), 0);
    assert_int_equal(strlen(k_new), 21);

    /* Start under the new key: same keys, same AEK, container untouched. */
    ck_secret_free(F.root);
    F.root = newroot;
    sf_start();
    assert_int_equal(st_account_keys(F.st, "acct2", &s1, &s2), CK_OK);
    assert_memory_equal(ck_secret_ptr(s1), k1, 64);
    assert_memory_equal(ck_secret_ptr(s2), k2, 64);
    assert_int_equal(st_account_root_aek(F.st, "acct2", &aek), CK_OK);
    assert_memory_equal(ck_secret_ptr(aek), aekb, ST_AEK_LEN);
    struct ck_db_stmt *s = NULL;
    ck_db_lock(F.st->db);
    assert_int_equal(ck_db_prepare(F.st->db, "SELECT hex(metadata), etag FROM containers WHERE account = 'acct2'", &s),
                     CK_OK);
    assert_int_equal(ck_db_step(s), 1);
    assert_string_equal(ck_db_col_text(s, 0), "00112233");
    assert_string_equal(ck_db_col_text(s, 1), "\"0x1\"");
    ck_db_stmt_free(s);
    ck_db_unlock(F.st->db);
    /* New accounts and key renewals work under the new key. */
    json_decref(sf_account_put(&T, "rg1", "afterrot", SF_PLAIN_BODY, 201));
    json_decref(sf_arm_ok(T.armtok, "POST", P("%s/regenerateKey?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct2")),
                          "{\"keyName\":\"key2\"}", 200));
    ck_secret_free(s1);
    ck_secret_free(s2);
    ck_secret_free(aek);
}

static void test_names(void **state)
{
    (void)state;
    static const char *const bad[] = {"ab", "Acct1", "acct_1", "acct-1", "abcdefghijklmnopqrstuvwxy", "acct.1"};
    long before = sf_count("accounts");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        sf_arm_err(sf_arm(T.armtok, "PUT", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", bad[i])), SF_PLAIN_BODY),
                   400, "AccountNameInvalid");
    /* Taken by another subscription, by another group, or reserved for the development account. */
    sf_arm_err(sf_arm(T2.armtok, "PUT", P("%s?api-version=" SF_API, sf_acct_path(&T2, "rgx", "acct1")), SF_PLAIN_BODY),
               409, "StorageAccountAlreadyTaken");
    sf_arm_err(sf_arm(T.armtok, "PUT", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg2", "acct1")), SF_PLAIN_BODY),
               409, "StorageAccountAlreadyTaken");
    sf_arm_err(sf_arm(T.armtok, "PUT", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", ST_DEV_ACCOUNT)),
                      SF_PLAIN_BODY),
               409, "StorageAccountAlreadyTaken");
    assert_int_equal(sf_count("accounts"), before);

    const char *cn = P("/subscriptions/%s/providers/Microsoft.Storage/checkNameAvailability?api-version=" SF_API, T2.sub);
    json_t *o = sf_arm_ok(T2.armtok, "POST", cn, "{\"name\":\"acct1\",\"type\":\"Microsoft.Storage/storageAccounts\"}", 200);
    assert_true(json_is_false(json_object_get(o, "nameAvailable")));
    assert_string_equal(ck_json_str(o, "reason"), "AlreadyExists");
    assert_non_null(ck_json_str(o, "message"));
    json_decref(o);
    o = sf_arm_ok(T2.armtok, "POST", cn, "{\"name\":\"Bad-Name\",\"type\":\"Microsoft.Storage/storageAccounts\"}", 200);
    assert_true(json_is_false(json_object_get(o, "nameAvailable")));
    assert_string_equal(ck_json_str(o, "reason"), "AccountNameInvalid");
    json_decref(o);
    o = sf_arm_ok(T2.armtok, "POST", cn, "{\"name\":\"freename42\",\"type\":\"Microsoft.Storage/storageAccounts\"}", 200);
    assert_true(json_is_true(json_object_get(o, "nameAvailable")));
    json_decref(o);
    sf_arm_err(sf_arm(T2.armtok, "POST", cn, "{\"name\":\"x\",\"type\":\"Microsoft.Compute/disks\"}"), 400,
               "InvalidRequestContent");
}

static void test_bad_input(void **state)
{
    (void)state;
    long before = sf_count("accounts");
    char path[400], apath[400];
    sf_copy(path, sizeof(path), P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "badinput1")));
    sf_copy(apath, sizeof(apath), P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct1")));
    static const char *const bodies[] = {
        "{\"sku\":", "[1,2]", "{\"location\":\"eastus\"}", "{\"sku\":{\"name\":\"Standard_XYZ\"},\"location\":\"eastus\"}",
        "{\"sku\":{\"name\":\"Standard_LRS\"}}", "{\"sku\":{\"name\":\"Standard_LRS\"},\"location\":\"eastus\",\"kind\":\"Tape\"}",
        "{\"sku\":{\"name\":\"Standard_LRS\"},\"location\":\"eastus\",\"tags\":[1]}",
        "{\"sku\":{\"name\":\"Standard_LRS\"},\"location\":\"eastus\",\"properties\":{\"encryption\":{\"keySource\":\"Acme\"}}}",
        "{\"sku\":{\"name\":\"Standard_LRS\"},\"location\":\"eastus\",\"properties\":{\"allowSharedKeyAccess\":false}}",
        "{\"sku\":{\"name\":\"Standard_XYZ\"},\"location\":\"eastus\",\"identity\":{\"type\":\"SystemAssigned\"}}",
        "{\"sku\":{\"name\":\"Standard_LRS\"},\"location\":\"eastus\",\"properties\":{\"encryption\":{\"keySource\":"
        "\"Microsoft.Keyvault\",\"keyvaultproperties\":{\"keyname\":\"k\",\"keyvaulturi\":\"https://v.example\"}}}}",
    };
    static const long want[] = {400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct rsp r = sf_arm(T.armtok, "PUT", path, bodies[i]);
        if (r.status != want[i])
            print_error("body %zu: %s\n", i, bodies[i]);
        sf_status(&r, want[i]);
        assert_non_null(ck_json_str(ck_json_obj(r.json, "error"), "code"));
        rsp_free(&r);
    }
    assert_int_equal(sf_count("accounts"), before);
    /* The refused SystemAssigned account got no identity: every check runs before it is made. */
    assert_false(sf_sa_identity(sf_acct_path(&T, "rg1", "badinput1"), NULL));
    /* Malformed JSON on an existing account changes nothing. */
    json_t *o = sf_arm_ok(T.armtok, "GET", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct1")), NULL, 200);
    char *was = ck_json_dump(o);
    json_decref(o);
    sf_arm_err(sf_arm(T.armtok, "PATCH", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct1")), "{\"tags\":"),
               400, "InvalidRequestContent");
    sf_arm_err(sf_arm(T.armtok, "PATCH", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct1")),
                      "{\"tags\":{\"a\":\"b\"},\"identity\":{\"type\":\"Bogus\"}}"),
               400, "InvalidIdentityType");
    o = sf_arm_ok(T.armtok, "GET", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct1")), NULL, 200);
    char *now = ck_json_dump(o);
    json_decref(o);
    assert_string_equal(was, now);
    free(now);

    /* Oversized bodies: over the provider's cap (ARM relays the 413) and over ARM's own. */
    size_t sizes[] = {300u * 1024, 2u * 1024 * 1024};
    for (size_t i = 0; i < 2; i++) {
        size_t n = sizes[i];
        char *big = ck_malloc(n + 1);
        assert_non_null(big);
        memset(big, ' ', n);
        const char *head = "{\"sku\":{\"name\":\"Standard_LRS\"},\"location\":\"eastus\",\"tags\":{\"a\":\"b\"}}";
        memcpy(big, head, strlen(head));
        big[n] = '\0';
        struct rsp r = sf_main("PATCH", apath, P("Bearer %s", T.armtok), big, n);
        sf_status(&r, 413);
        rsp_free(&r);
        r = sf_main("PUT", path, P("Bearer %s", T.armtok), big, n);
        sf_status(&r, 413);
        rsp_free(&r);
        ck_free(big);
    }
    o = sf_arm_ok(T.armtok, "GET", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct1")), NULL, 200);
    now = ck_json_dump(o);
    json_decref(o);
    assert_string_equal(was, now);
    free(now);
    free(was);
    assert_int_equal(sf_count("accounts"), before);
}

static void test_rp_credential(void **state)
{
    (void)state;
    const char *path = P("/rp/storage%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct1"));
    struct rsp r = sf_main("GET", path, NULL, NULL, 0);
    sf_arm_err(r, 401, "AuthenticationFailed");
    sf_arm_err(sf_main("GET", path, "RP cnAta2V5LWZvci1zdG9yYWdlLXRlc3RzLTAxMjM0NTY4", NULL, 0), 401,
               "AuthenticationFailed");
    sf_arm_err(sf_main("GET", path, "Bearer " SF_RP_KEY, NULL, 0), 401, "AuthenticationFailed");
    /* Even a well-formed create is refused without the credential. */
    long before = sf_count("accounts");
    const char *cp = P("/rp/storage%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "sneaky1"));
    sf_arm_err(sf_main("PUT", cp, "RP wrong", SF_PLAIN_BODY, strlen(SF_PLAIN_BODY)), 401, "AuthenticationFailed");
    assert_int_equal(sf_count("accounts"), before);
    /* With it, the provider answers (ARM is what normally calls it). */
    r = sf_main("GET", path, "RP " SF_RP_KEY, NULL, 0);
    sf_status(&r, 200);
    rsp_free(&r);
    /* Callers without a role get ARM's 403 and no account. */
    struct sf_principal nobody;
    sf_principal(&T, "nobody", &nobody);
    sf_arm_err(sf_arm(nobody.armtok, "PUT", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "norole1")), SF_PLAIN_BODY),
               403, "AuthorizationFailed");
    sf_arm_err(sf_arm(nobody.armtok, "POST", P("%s/listKeys?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct1")), NULL),
               403, "AuthorizationFailed");
    /* Reader may read the account but not its keys. */
    sf_assign(&T, P("/subscriptions/%s/resourceGroups/rg1", T.sub), SF_ROLE_READER, nobody.oid);
    json_decref(sf_arm_ok(nobody.armtok, "GET", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct1")), NULL, 200));
    sf_arm_err(sf_arm(nobody.armtok, "POST", P("%s/listKeys?api-version=" SF_API, sf_acct_path(&T, "rg1", "acct1")), NULL),
               403, "AuthorizationFailed");
    assert_int_equal(sf_count("accounts"), before);
}

static void test_identity_encryption(void **state)
{
    (void)state;
    char pid[37], cid[37], pid2[37], cid2[37];
    sf_group(&T, "rgid");
    sf_uami(&T, "rgid", "uami1", pid, cid);
    sf_uami(&T, "rgid", "uami2", pid2, cid2);
    const char *u1 = sf_uami_id(&T, "rgid", "uami1");
    char u1c[300];
    sf_copy(u1c, sizeof(u1c), u1);
    const char *app = "6f1e7a62-4c1b-4d55-9b1a-0d3d1c0e9a11";
    const char *body = P("{\"sku\":{\"name\":\"Standard_LRS\"},\"kind\":\"StorageV2\",\"location\":\"eastus\","
                         "\"identity\":{\"type\":\"UserAssigned\",\"userAssignedIdentities\":{\"%s\":{}}},"
                         "\"properties\":{\"encryption\":{\"services\":{\"blob\":{\"enabled\":true,\"keyType\":\"Account\"},"
                         "\"file\":{\"enabled\":true,\"keyType\":\"Account\"}},\"keySource\":\"Microsoft.Keyvault\","
                         "\"keyvaultproperties\":{\"keyname\":\"cmk\",\"keyversion\":\"\",\"keyvaulturi\":"
                         "\"https://127.0.0.1:1\"},\"identity\":{\"userAssignedIdentity\":\"%s\","
                         "\"federatedIdentityClientId\":\"%s\"},\"requireInfrastructureEncryption\":false}}}",
                         u1c, u1c, app);
    /* A federated client id needs Microsoft.Storage/FederatedClientIdentity, then the provider
     * registered again; until both, nothing is created. */
    long before = sf_count("accounts");
    sf_arm_err(sf_arm(T.armtok, "PUT", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "cmkacct1")), body), 400,
               "SubscriptionNotRegisteredForFeature");
    json_decref(sf_arm_ok(T.armtok, "POST",
                          P("/subscriptions/%s/providers/Microsoft.Features/providers/Microsoft.Storage/features/"
                            "FederatedClientIdentity/register?api-version=2021-07-01", T.sub),
                          NULL, 200));
    sf_arm_err(sf_arm(T.armtok, "PUT", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "cmkacct1")), body), 400,
               "SubscriptionNotRegisteredForFeature");
    assert_int_equal(sf_count("accounts"), before);
    json_decref(sf_arm_ok(T.armtok, "POST",
                          P("/subscriptions/%s/providers/Microsoft.Storage/register?api-version=2021-04-01", T.sub), NULL,
                          200));
    /* The settings are well formed now, so storage runs the chain to the vault before anything is
     * written: a vault that does not answer is refused, naming the link, and nothing is created. */
    sf_arm_err(sf_arm(T.armtok, "PUT", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "cmkacct1")), body), 400,
               "KeyVaultVaultNotFound");
    assert_int_equal(sf_count("accounts"), before);
    /* The account with its user-assigned identity and platform-managed keys: the checks below. */
    json_t *o = sf_account_put(&T, "rg1", "cmkacct1",
                               P("{\"sku\":{\"name\":\"Standard_LRS\"},\"kind\":\"StorageV2\",\"location\":\"eastus\","
                                 "\"identity\":{\"type\":\"UserAssigned\",\"userAssignedIdentities\":{\"%s\":{}}}}",
                                 u1c),
                               201);
    json_t *id = ck_json_obj(o, "identity");
    assert_string_equal(ck_json_str(id, "type"), "UserAssigned");
    json_t *entry = ck_json_obj(ck_json_obj(id, "userAssignedIdentities"), u1c);
    assert_non_null(entry);
    assert_string_equal(ck_json_str(entry, "principalId"), pid);
    assert_string_equal(ck_json_str(entry, "clientId"), cid);
    json_t *enc = ck_json_obj(props_of(o), "encryption");
    assert_string_equal(ck_json_str(enc, "keySource"), "Microsoft.Storage");
    assert_null(ck_json_obj(props_of(o), "keyState"));
    json_decref(o);
    struct ck_secret *aek = NULL;
    assert_int_equal(st_account_root_aek(F.st, "cmkacct1", &aek), CK_OK);
    ck_secret_free(aek);

    const char *path = P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "cmkacct1"));
    char pathc[400];
    sf_copy(pathc, sizeof(pathc), path);
    /* The encryption identity can be named ahead of the key (it is kept with platform-managed keys). */
    o = sf_arm_ok(T.armtok, "PATCH", pathc,
                  P("{\"properties\":{\"encryption\":{\"identity\":{\"userAssignedIdentity\":\"%s\","
                    "\"federatedIdentityClientId\":\"%s\"}}}}",
                    u1c, app),
                  200);
    assert_string_equal(ck_json_str(ck_json_obj(ck_json_obj(props_of(o), "encryption"), "identity"),
                                    "federatedIdentityClientId"),
                        app);
    json_decref(o);
    /* The encryption identity must stay attached, also when the account turns to SystemAssigned:
     * then no system-assigned identity is made (the checks run first). */
    sf_arm_err(sf_arm(T.armtok, "PATCH", pathc, "{\"identity\":{\"type\":\"None\"}}"), 400, "InvalidEncryptionIdentity");
    sf_arm_err(sf_arm(T.armtok, "PATCH", pathc, "{\"identity\":{\"type\":\"SystemAssigned\"}}"), 400,
               "InvalidEncryptionIdentity");
    assert_false(sf_sa_identity(sf_acct_path(&T, "rg1", "cmkacct1"), NULL));
    /* An unknown identity, or one of another tenant, is refused. */
    sf_arm_err(sf_arm(T.armtok, "PATCH", pathc,
                      P("{\"identity\":{\"type\":\"UserAssigned\",\"userAssignedIdentities\":{\"%s\":{}}}}",
                        sf_uami_id(&T, "rgid", "nosuchuami"))),
               400, "FailedIdentityOperation");
    char xp[37], xc[37];
    sf_uami(&T2, "rgx", "foreign1", xp, xc);
    sf_arm_err(sf_arm(T.armtok, "PATCH", pathc,
                      P("{\"identity\":{\"type\":\"UserAssigned\",\"userAssignedIdentities\":{\"%s\":{}}}}",
                        sf_uami_id(&T2, "rgx", "foreign1"))),
               400, "FailedIdentityOperation");
    /* Keyvault without a key name, with a bad URI, or with an identity not attached. */
    sf_arm_err(sf_arm(T.armtok, "PATCH", pathc,
                      "{\"properties\":{\"encryption\":{\"keySource\":\"Microsoft.Keyvault\",\"keyvaultproperties\":"
                      "{\"keyname\":\"\",\"keyvaulturi\":\"https://custvault.vault.azure.net\"}}}}"),
               400, "InvalidRequestPropertyValue");
    sf_arm_err(sf_arm(T.armtok, "PATCH", pathc,
                      "{\"properties\":{\"encryption\":{\"keySource\":\"Microsoft.Keyvault\",\"keyvaultproperties\":"
                      "{\"keyname\":\"cmk\",\"keyvaulturi\":\"http://custvault\"}}}}"),
               400, "InvalidRequestPropertyValue");
    sf_arm_err(sf_arm(T.armtok, "PATCH", pathc,
                      P("{\"properties\":{\"encryption\":{\"identity\":{\"userAssignedIdentity\":\"%s\"}}}}",
                        sf_uami_id(&T, "rgid", "uami2"))),
               400, "InvalidEncryptionIdentity");
    sf_arm_err(sf_arm(T.armtok, "PATCH", pathc,
                      "{\"properties\":{\"encryption\":{\"identity\":{\"federatedIdentityClientId\":\"not-a-guid\"}}}}"),
               400, "InvalidRequestPropertyValue");
    /* A pinned version on a vault that does not answer: refused, nothing changes. */
    sf_arm_err(sf_arm(T.armtok, "PATCH", pathc,
                      P("{\"properties\":{\"encryption\":{\"keySource\":\"Microsoft.Keyvault\",\"keyvaultproperties\":"
                        "{\"keyname\":\"cmk\",\"keyversion\":\"0682afdd9c104f4285df20107e956cad\",\"keyvaulturi\":"
                        "\"https://127.0.0.1:1\"},\"identity\":{\"userAssignedIdentity\":\"%s\"}}}}",
                        u1c)),
               400, "KeyVaultVaultNotFound");
    /* Add the second identity. */
    o = sf_arm_ok(T.armtok, "PATCH", pathc,
                  P("{\"identity\":{\"type\":\"UserAssigned\",\"userAssignedIdentities\":{\"%s\":{},\"%s\":{}}}}",
                    u1c, sf_uami_id(&T, "rgid", "uami2")),
                  200);
    assert_int_equal(json_object_size(ck_json_obj(ck_json_obj(o, "identity"), "userAssignedIdentities")), 2);
    assert_string_equal(ck_json_str(ck_json_obj(props_of(o), "encryption"), "keySource"), "Microsoft.Storage");
    json_decref(o);
    /* Back to Microsoft-managed keys: the key reference goes. */
    o = sf_arm_ok(T.armtok, "PATCH", pathc,
                  "{\"properties\":{\"encryption\":{\"keySource\":\"Microsoft.Storage\",\"services\":{\"blob\":"
                  "{\"enabled\":true}}}}}",
                  200);
    enc = ck_json_obj(props_of(o), "encryption");
    assert_string_equal(ck_json_str(enc, "keySource"), "Microsoft.Storage");
    assert_null(json_object_get(enc, "keyvaultproperties"));
    json_decref(o);

    /* A contributor of rg1 who has no rights on the identity's group cannot attach it. */
    struct sf_principal c;
    sf_principal(&T, "contrib", &c);
    sf_assign(&T, P("/subscriptions/%s/resourceGroups/rg1", T.sub), SF_ROLE_CONTRIBUTOR, c.oid);
    sf_arm_err(sf_arm(c.armtok, "PUT", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "linked1")),
                      P("{\"sku\":{\"name\":\"Standard_LRS\"},\"location\":\"eastus\",\"identity\":{\"type\":"
                        "\"UserAssigned\",\"userAssignedIdentities\":{\"%s\":{}}}}",
                        u1c)),
               403, "LinkedAuthorizationFailed");
    json_decref(sf_account_put(&T, "rg1", "linked2", SF_PLAIN_BODY, 201));
    json_decref(sf_arm_ok(c.armtok, "PUT", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", "linked1")),
                          SF_PLAIN_BODY, 201));
}

/* The account's identity object from a response; checks type. */
static json_t *identity_of(const json_t *o, const char *type)
{
    json_t *id = ck_json_obj(o, "identity");
    assert_non_null(id);
    assert_string_equal(ck_json_str(id, "type"), type);
    return id;
}

static void test_system_assigned(void **state)
{
    (void)state;
    char path[400], rid[300], pa[37], pb[37], upid[37], ucid[37], got[37];
    sf_group(&T, "rgsa");
    sf_uami(&T, "rgsa", "sauami", upid, ucid);
    char uami[300];
    sf_copy(uami, sizeof(uami), sf_uami_id(&T, "rgsa", "sauami"));
    sf_copy(rid, sizeof(rid), sf_acct_path(&T, "rgsa", "sysacct1"));
    sf_copy(path, sizeof(path), P("%s?api-version=" SF_API, rid));

    /* Created with SystemAssigned: principalId and tenantId (the account's tenant) come back, and
     * the identity service holds a principal for the account. */
    json_t *o = sf_account_put(&T, "rgsa", "sysacct1",
                               "{\"sku\":{\"name\":\"Standard_LRS\"},\"location\":\"eastus\",\"identity\":{\"type\":"
                               "\"SystemAssigned\"}}",
                               201);
    json_t *id = identity_of(o, "SystemAssigned");
    sf_copy(pa, sizeof(pa), ck_json_str(id, "principalId"));
    assert_true(ck_uuid_valid(pa));
    assert_string_equal(ck_json_str(id, "tenantId"), T.tid);
    assert_null(ck_json_get_ci(id, "userAssignedIdentities"));
    json_decref(o);
    assert_true(sf_sa_identity(rid, got));
    assert_string_equal(got, pa);
    /* GET, a PUT of the same body and a PATCH of tags keep it. */
    o = sf_arm_ok(T.armtok, "GET", path, NULL, 200);
    assert_string_equal(ck_json_str(identity_of(o, "SystemAssigned"), "principalId"), pa);
    json_decref(o);
    o = sf_account_put(&T, "rgsa", "sysacct1",
                       "{\"sku\":{\"name\":\"Standard_LRS\"},\"location\":\"eastus\",\"identity\":{\"type\":"
                       "\"systemassigned\"}}",
                       200);
    assert_string_equal(ck_json_str(identity_of(o, "SystemAssigned"), "principalId"), pa);
    json_decref(o);
    o = sf_arm_ok(T.armtok, "PATCH", path, "{\"tags\":{\"a\":\"b\"}}", 200);
    assert_string_equal(ck_json_str(identity_of(o, "SystemAssigned"), "principalId"), pa);
    json_decref(o);
    /* A real principal: role assignments can name it. */
    sf_assign(&T, rid, SF_ROLE_READER, pa);

    /* Both types (Azure takes the pair with or without a space): the same system identity. */
    o = sf_arm_ok(T.armtok, "PATCH", path,
                  P("{\"identity\":{\"type\":\"SystemAssigned, UserAssigned\",\"userAssignedIdentities\":{\"%s\":{}}}}",
                    uami),
                  200);
    id = identity_of(o, "SystemAssigned,UserAssigned");
    assert_string_equal(ck_json_str(id, "principalId"), pa);
    assert_string_equal(ck_json_str(id, "tenantId"), T.tid);
    assert_string_equal(ck_json_str(ck_json_obj(ck_json_obj(id, "userAssignedIdentities"), uami), "principalId"), upid);
    json_decref(o);

    /* Turned off (UserAssigned alone): the identity goes, after the row stops naming it. */
    o = sf_arm_ok(T.armtok, "PATCH", path,
                  P("{\"identity\":{\"type\":\"UserAssigned\",\"userAssignedIdentities\":{\"%s\":{}}}}", uami), 200);
    id = identity_of(o, "UserAssigned");
    assert_null(ck_json_get_ci(id, "principalId"));
    assert_null(ck_json_get_ci(id, "tenantId"));
    json_decref(o);
    assert_false(sf_sa_identity(rid, NULL));
    /* On again: a new principal (as in Azure); None removes it too. */
    o = sf_arm_ok(T.armtok, "PATCH", path, "{\"identity\":{\"type\":\"SystemAssigned\"}}", 200);
    sf_copy(pb, sizeof(pb), ck_json_str(identity_of(o, "SystemAssigned"), "principalId"));
    assert_string_not_equal(pb, pa);
    json_decref(o);
    assert_true(sf_sa_identity(rid, got));
    assert_string_equal(got, pb);
    o = sf_arm_ok(T.armtok, "PATCH", path, "{\"identity\":{\"type\":\"None\"}}", 200);
    identity_of(o, "None");
    json_decref(o);
    assert_false(sf_sa_identity(rid, NULL));

    /* The identity service unreachable: 503 in ARM's format, nothing changes. */
    o = sf_arm_ok(T.armtok, "GET", path, NULL, 200);
    char *was = ck_json_dump(o);
    json_decref(o);
    long before = sf_count("accounts");
    char *authority = F.st->authority;
    F.st->authority = "http://127.0.0.1:1";
    sf_arm_err(sf_arm(T.armtok, "PATCH", path, "{\"identity\":{\"type\":\"SystemAssigned\"}}"), 503,
               "FailedIdentityOperation");
    sf_arm_err(sf_arm(T.armtok, "PUT", P("%s?api-version=" SF_API, sf_acct_path(&T, "rgsa", "sysacct2")),
                      "{\"sku\":{\"name\":\"Standard_LRS\"},\"location\":\"eastus\",\"identity\":{\"type\":"
                      "\"SystemAssigned\"}}"),
               503, "FailedIdentityOperation");
    F.st->authority = authority;
    assert_int_equal(sf_count("accounts"), before);
    o = sf_arm_ok(T.armtok, "GET", path, NULL, 200);
    char *now = ck_json_dump(o);
    json_decref(o);
    assert_string_equal(was, now);
    free(was);
    free(now);
    assert_false(sf_sa_identity(rid, NULL));

    /* Both at creation; deleting the account deletes its system-assigned identity. */
    char rid2[300];
    sf_copy(rid2, sizeof(rid2), sf_acct_path(&T, "rgsa", "sysacct2"));
    o = sf_account_put(&T, "rgsa", "sysacct2",
                       P("{\"sku\":{\"name\":\"Standard_LRS\"},\"location\":\"eastus\",\"identity\":{\"type\":"
                         "\"SystemAssigned,UserAssigned\",\"userAssignedIdentities\":{\"%s\":{}}}}",
                         uami),
                       201);
    id = identity_of(o, "SystemAssigned,UserAssigned");
    sf_copy(pa, sizeof(pa), ck_json_str(id, "principalId"));
    assert_string_equal(ck_json_str(id, "tenantId"), T.tid);
    assert_string_equal(ck_json_str(ck_json_obj(ck_json_obj(id, "userAssignedIdentities"), uami), "clientId"), ucid);
    json_decref(o);
    assert_true(sf_sa_identity(rid2, got));
    assert_string_equal(got, pa);
    struct rsp r = sf_arm(T.armtok, "DELETE", P("%s?api-version=" SF_API, rid2), NULL);
    sf_status(&r, 200);
    rsp_free(&r);
    assert_false(sf_sa_identity(rid2, NULL));
    /* And so does deleting its resource group (ARM deletes the account through the provider). */
    sf_group(&T, "rgsadel");
    json_decref(sf_account_put(&T, "rgsadel", "sysacct3",
                               "{\"sku\":{\"name\":\"Standard_LRS\"},\"location\":\"eastus\",\"identity\":{\"type\":"
                               "\"SystemAssigned\"}}",
                               201));
    char rid3[300];
    sf_copy(rid3, sizeof(rid3), sf_acct_path(&T, "rgsadel", "sysacct3"));
    assert_true(sf_sa_identity(rid3, NULL));
    r = sf_arm(T.armtok, "DELETE", P("/subscriptions/%s/resourcegroups/rgsadel?api-version=2021-04-01", T.sub), NULL);
    assert_true(r.status == 200 || r.status == 202);
    rsp_free(&r);
    assert_false(sf_sa_identity(rid3, NULL));
}

static void test_delete(void **state)
{
    (void)state;
    const char *q[1] = {"acct3"};
    ck_db_lock(F.st->db);
    assert_int_equal(ck_db_run(F.st->db, "INSERT INTO containers (account, name, etag, last_modified)"
                                         " VALUES (?1, 'c1', '\"0x1\"', 1)", 1, q),
                     CK_OK);
    /* A part row and its extent file stand in for blob data. */
    const char *pid = "ab0123456789abcdef0123456789abcd";
    char pdir[400], pfile[450];
    snprintf(pdir, sizeof(pdir), "%s/extents/ab", F.stdir);
    snprintf(pfile, sizeof(pfile), "%s/%s.ckb", pdir, pid);
    assert_int_equal(ck_mkdirs(pdir, 0700), 0);
    assert_int_equal(ck_write_file_atomic(pfile, "x", 1, 0600), 0);
    const char *pq[2] = {pid, "acct3"};
    assert_int_equal(ck_db_run(F.st->db, "INSERT INTO parts (id, account, salt, size, seg_size, created)"
                                         " VALUES (?1, ?2, x'00', 1, 65536, 1)", 2, pq),
                     CK_OK);
    ck_db_unlock(F.st->db);
    struct ck_secret *aek = NULL;
    assert_int_equal(st_account_root_aek(F.st, "acct3", &aek), CK_OK);
    ck_secret_free(aek);
    long containers = sf_count("containers");
    const char *path = P("%s?api-version=" SF_API, sf_acct_path(&T, "rg2", "acct3"));
    char pc[400];
    sf_copy(pc, sizeof(pc), path);
    struct rsp r = sf_arm(T.armtok, "DELETE", pc, NULL);
    sf_status(&r, 200);
    rsp_free(&r);
    assert_int_equal(sf_count("containers"), containers - 1);
    assert_int_equal(access(pfile, F_OK), -1); /* the extent file went with its row */
    assert_int_equal(st_account_root_aek(F.st, "acct3", &aek), CK_E_NOT_FOUND);
    r = sf_arm(T.armtok, "DELETE", pc, NULL);
    sf_status(&r, 204);
    rsp_free(&r);
    sf_arm_err(sf_arm(T.armtok, "GET", pc, NULL), 404, "ResourceNotFound");
    /* The name is free again. */
    json_decref(sf_account_put(&T, "rg1", "acct3", SF_PLAIN_BODY, 201));
    /* Deleting the group deletes its accounts through the provider. */
    sf_group(&T, "rgdel");
    json_decref(sf_account_put(&T, "rgdel", "ingroup1", SF_PLAIN_BODY, 201));
    r = sf_arm(T.armtok, "DELETE", P("/subscriptions/%s/resourcegroups/rgdel?api-version=2021-04-01", T.sub), NULL);
    assert_true(r.status == 200 || r.status == 202);
    rsp_free(&r);
    struct ck_arena *a = ck_arena_new();
    struct st_account acc;
    assert_int_equal(st_account_get(F.st, a, "ingroup1", &acc), CK_E_NOT_FOUND);
    ck_arena_free(a);
}

static void test_dev_account(void **state)
{
    (void)state;
    struct ck_secret *k1 = NULL, *k2 = NULL, *aek = NULL, *aek2 = NULL;
    uint8_t *raw = NULL;
    size_t rl = 0;
    assert_int_equal(st_dev_account_ensure(F.st), CK_OK);
    assert_int_equal(st_account_root_aek(F.st, ST_DEV_ACCOUNT, &aek), CK_OK);
    assert_int_equal(st_dev_account_ensure(F.st), CK_OK); /* idempotent: same AEK */
    st_aek_cache_clear(F.st);
    assert_int_equal(st_account_root_aek(F.st, ST_DEV_ACCOUNT, &aek2), CK_OK);
    assert_memory_equal(ck_secret_ptr(aek), ck_secret_ptr(aek2), ST_AEK_LEN);
    assert_int_equal(st_account_keys(F.st, ST_DEV_ACCOUNT, &k1, &k2), CK_OK);
    assert_int_equal(ck_b64_decode(ST_DEV_KEY, strlen(ST_DEV_KEY), &raw, &rl), 0);
    assert_int_equal(rl, 64);
    assert_memory_equal(ck_secret_ptr(k1), raw, 64);
    assert_memory_not_equal(ck_secret_ptr(k2), raw, 64);
    struct ck_arena *a = ck_arena_new();
    struct st_account acc;
    assert_int_equal(st_account_get(F.st, a, ST_DEV_ACCOUNT, &acc), CK_OK);
    assert_int_equal(acc.dev, 1);
    ck_arena_free(a);
    /* Not an ARM resource: not listed, not deletable through ARM. */
    json_t *o = sf_arm_ok(T.armtok, "GET",
                          P("/subscriptions/%s/providers/Microsoft.Storage/storageAccounts?api-version=" SF_API, T.sub),
                          NULL, 200);
    json_t *v;
    size_t i;
    json_array_foreach(ck_json_arr(o, "value"), i, v) assert_string_not_equal(ck_json_str(v, "name"), ST_DEV_ACCOUNT);
    json_decref(o);
    struct rsp r = sf_arm(T.armtok, "DELETE", P("%s?api-version=" SF_API, sf_acct_path(&T, "rg1", ST_DEV_ACCOUNT)), NULL);
    sf_status(&r, 204);
    rsp_free(&r);
    ck_free(raw);
    ck_secret_free(k1);
    ck_secret_free(k2);
    ck_secret_free(aek);
    ck_secret_free(aek2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_get_list),
        cmocka_unit_test(test_update),
        cmocka_unit_test(test_keys_custody),
        cmocka_unit_test(test_root_rotation),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_rp_credential),
        cmocka_unit_test(test_identity_encryption),
        cmocka_unit_test(test_system_assigned),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_dev_account),
    };
    return cmocka_run_group_tests(tests, group_setup, sf_teardown);
}
