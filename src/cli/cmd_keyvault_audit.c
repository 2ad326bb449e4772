/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Local check of a vault's audit hash chain for `keyvault audit verify`, so that the verdict does
 * not rest on the service alone. Each listed record carries prevHash and hash; with the record
 * itself being the listed object minus those two members, hash = hex(SHA-256(prevHash || "\n" ||
 * canonical record)), the canonical record being its JSON with sorted keys, no spaces and non-ASCII
 * escaped (docs/vault.md), and the first prevHash 64 zeros. Sequences run 1, 2, 3... without gaps.
 * SHA-256 comes from the crypto module (OpenSSL). The unit of truth is
 * tests/e2e/test_cli_keyvault.sh (a tampered chain must be refused).
 */
#include "cli/cli_int.h"
#include "crypto/crypto.h"
#include "core/codec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_KV_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* hex(SHA-256(prev || "\n" || canonical)) into out[65]. Returns 0 or -1. */
static int cli_kv_chain_hash(const char *prev, const char *canonical, char out[2 * CLI_SHA256_LEN + 1])
{
    uint8_t h[CLI_SHA256_LEN];
    size_t pl = strlen(prev), cl = strlen(canonical);
    char *msg = ck_malloc(pl + 1 + cl), *hex;

    if (msg == NULL)
        return -1;
    memcpy(msg, prev, pl);
    msg[pl] = '\n';
    memcpy(msg + pl + 1, canonical, cl);
    ck_sha256(msg, pl + 1 + cl, h);
    ck_free(msg);
    hex = ck_hex_encode(h, sizeof(h));
    if (hex == NULL)
        return -1;
    snprintf(out, 2 * CLI_SHA256_LEN + 1, "%s", hex);
    ck_free(hex);
    return 0;
}

int cli_kv_audit_check(struct cli_ctx *ctx, const json_t *records, json_t **result)
{
    char prev[2 * CLI_SHA256_LEN + 1] = CLI_KV_ZERO_HASH, calc[2 * CLI_SHA256_LEN + 1];
    json_int_t expect = 1, count = 0, bad = -1;
    size_t i;
    json_t *r;

    *result = NULL;
    json_array_foreach(records, i, r) {
        const char *ph = ck_json_str(r, "prevHash"), *h = ck_json_str(r, "hash");
        json_t *copy = json_deep_copy(r);
        char *canon = NULL;
        int ok;

        if (copy != NULL) {
            json_object_del(copy, "prevHash");
            json_object_del(copy, "hash");
            canon = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        }
        json_decref(copy);
        if (canon == NULL) {
            cli_err("out of memory");
            return CLI_EXIT_ERR;
        }
        ok = ck_json_int(r, "sequence", -1) == expect && ph != NULL && h != NULL && strcmp(ph, prev) == 0 &&
             cli_kv_chain_hash(prev, canon, calc) == 0 && strcmp(calc, h) == 0;
        free(canon);
        count++;
        if (!ok) {
            cli_debug(ctx, "audit record %" JSON_INTEGER_FORMAT " does not chain", expect);
            bad = expect;
            break;
        }
        snprintf(prev, sizeof(prev), "%s", h);
        expect++;
    }
    *result = json_pack("{s:b, s:I}", "valid", bad < 0, "records", count);
    if (*result == NULL) {
        cli_err("out of memory");
        return CLI_EXIT_ERR;
    }
    json_object_set_new(*result, "firstBadSequence", bad < 0 ? json_null() : json_integer(bad));
    return CLI_EXIT_OK;
}
