/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Local check of a vault's audit hash chain for `keyvault audit verify`, so that the verdict does
 * not rest on the service alone. Each listed record carries prevHash and hash; with the record
 * itself being the listed object minus those two members, hash = hex(SHA-256(prevHash || "\n" ||
 * canonical record)), the canonical record being its JSON with sorted keys, no spaces and non-ASCII
 * escaped (docs/vault.md), and the first prevHash 64 zeros. Sequences run 1, 2, 3... without gaps.
 * The CLI does not link OpenSSL, so SHA-256 (FIPS 180-4) is implemented here; the unit of truth is
 * the test vector check in tests/e2e/test_cli_keyvault.sh (a tampered chain must be refused).
 */
#include "cli/cli_int.h"
#include "core/codec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_SHA256_LEN 32
#define CLI_KV_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

struct cli_sha256 {
    uint32_t h[8];
    uint8_t block[64];
    size_t fill;
    uint64_t bits;
};

static const uint32_t cli_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t cli_ror(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void cli_sha256_block(struct cli_sha256 *s, const uint8_t *p)
{
    uint32_t w[64], v[8], t1, t2;
    int i;

    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (; i < 64; i++) {
        uint32_t s0 = cli_ror(w[i - 15], 7) ^ cli_ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = cli_ror(w[i - 2], 17) ^ cli_ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(v, s->h, sizeof(v));
    for (i = 0; i < 64; i++) {
        t1 = v[7] + (cli_ror(v[4], 6) ^ cli_ror(v[4], 11) ^ cli_ror(v[4], 25)) + ((v[4] & v[5]) ^ (~v[4] & v[6])) +
             cli_sha256_k[i] + w[i];
        t2 = (cli_ror(v[0], 2) ^ cli_ror(v[0], 13) ^ cli_ror(v[0], 22)) + ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof(v[0]));
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (i = 0; i < 8; i++)
        s->h[i] += v[i];
}

static void cli_sha256_init(struct cli_sha256 *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memset(s, 0, sizeof(*s));
    memcpy(s->h, iv, sizeof(iv));
}

static void cli_sha256_update(struct cli_sha256 *s, const void *data, size_t n)
{
    const uint8_t *p = data;
    s->bits += (uint64_t)n * 8;
    while (n > 0) {
        size_t take = 64 - s->fill < n ? 64 - s->fill : n;
        memcpy(s->block + s->fill, p, take);
        s->fill += take;
        p += take;
        n -= take;
        if (s->fill == 64) {
            cli_sha256_block(s, s->block);
            s->fill = 0;
        }
    }
}

static void cli_sha256_final(struct cli_sha256 *s, uint8_t out[CLI_SHA256_LEN])
{
    uint64_t bits = s->bits;
    uint8_t pad = 0x80, len[8];

    cli_sha256_update(s, &pad, 1);
    pad = 0;
    while (s->fill != 56)
        cli_sha256_update(s, &pad, 1);
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    cli_sha256_update(s, len, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

/* hex(SHA-256(prev || "\n" || canonical)) into out[65]. Returns 0 or -1. */
static int cli_kv_chain_hash(const char *prev, const char *canonical, char out[2 * CLI_SHA256_LEN + 1])
{
    struct cli_sha256 s;
    uint8_t h[CLI_SHA256_LEN];
    char *hex;

    cli_sha256_init(&s);
    cli_sha256_update(&s, prev, strlen(prev));
    cli_sha256_update(&s, "\n", 1);
    cli_sha256_update(&s, canonical, strlen(canonical));
    cli_sha256_final(&s, h);
    hex = ck_hex_encode(h, sizeof(h));
    if (hex == NULL)
        return -1;
    snprintf(out, 2 * CLI_SHA256_LEN + 1, "%s", hex);
    ck_free(hex);
    return 0;
}

/* The SHA-256 of "abc" (FIPS 180-2 B.1), so that a broken build is not taken for a broken log. */
static int cli_sha256_selftest(void)
{
    static const char want[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    struct cli_sha256 s;
    uint8_t h[CLI_SHA256_LEN];
    char *hex;
    int ok;

    cli_sha256_init(&s);
    cli_sha256_update(&s, "abc", 3);
    cli_sha256_final(&s, h);
    hex = ck_hex_encode(h, sizeof(h));
    ok = hex != NULL && strcmp(hex, want) == 0;
    ck_free(hex);
    return ok ? 0 : -1;
}

int cli_kv_audit_check(struct cli_ctx *ctx, const json_t *records, json_t **result)
{
    char prev[2 * CLI_SHA256_LEN + 1] = CLI_KV_ZERO_HASH, calc[2 * CLI_SHA256_LEN + 1];
    json_int_t expect = 1, count = 0, bad = -1;
    size_t i;
    json_t *r;

    *result = NULL;
    if (cli_sha256_selftest() != 0) {
        cli_err("the CLI's SHA-256 fails its known-answer test");
        return CLI_EXIT_ERR;
    }
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
