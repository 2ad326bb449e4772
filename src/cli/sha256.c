/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104) for `crosskey`, which links no crypto library:
 * the audit-chain check of `keyvault audit verify` hashes records with it, and the Blob client
 * signs Shared Key requests with the HMAC. cli_sha256_selftest() checks both against published
 * vectors (FIPS 180-2 B.1 "abc", RFC 4231 test case 2) before a result is trusted.
 */
#include "cli/cli_int.h"
#include "core/codec.h"

#include <stdint.h>
#include <string.h>

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

void cli_sha256_init(struct cli_sha256 *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memset(s, 0, sizeof(*s));
    memcpy(s->h, iv, sizeof(iv));
}

void cli_sha256_update(struct cli_sha256 *s, const void *data, size_t n)
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

void cli_sha256_final(struct cli_sha256 *s, uint8_t out[CLI_SHA256_LEN])
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

void cli_hmac_sha256(const uint8_t *key, size_t keylen, const void *msg, size_t n, uint8_t out[CLI_SHA256_LEN])
{
    uint8_t k[64], pad[64], inner[CLI_SHA256_LEN];
    struct cli_sha256 s;

    memset(k, 0, sizeof(k));
    if (keylen > sizeof(k)) {
        cli_sha256_init(&s);
        cli_sha256_update(&s, key, keylen);
        cli_sha256_final(&s, k);
    } else if (keylen > 0) {
        memcpy(k, key, keylen);
    }
    for (size_t i = 0; i < sizeof(pad); i++)
        pad[i] = k[i] ^ 0x36;
    cli_sha256_init(&s);
    cli_sha256_update(&s, pad, sizeof(pad));
    cli_sha256_update(&s, msg, n);
    cli_sha256_final(&s, inner);
    for (size_t i = 0; i < sizeof(pad); i++)
        pad[i] = k[i] ^ 0x5c;
    cli_sha256_init(&s);
    cli_sha256_update(&s, pad, sizeof(pad));
    cli_sha256_update(&s, inner, sizeof(inner));
    cli_sha256_final(&s, out);
    ck_wipe(k, sizeof(k));
    ck_wipe(pad, sizeof(pad));
    ck_wipe(inner, sizeof(inner));
    ck_wipe(&s, sizeof(s));
}

/* Compares a digest with its expected lower-case hex form. */
static int cli_digest_is(const uint8_t h[CLI_SHA256_LEN], const char *want)
{
    char *hex = ck_hex_encode(h, CLI_SHA256_LEN);
    int ok = hex != NULL && strcmp(hex, want) == 0;
    ck_free(hex);
    return ok;
}

int cli_sha256_selftest(void)
{
    static const char key[] = "Jefe", msg[] = "what do ya want for nothing?";
    struct cli_sha256 s;
    uint8_t h[CLI_SHA256_LEN];

    cli_sha256_init(&s);
    cli_sha256_update(&s, "abc", 3);
    cli_sha256_final(&s, h);
    if (!cli_digest_is(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        return -1;
    cli_hmac_sha256((const uint8_t *)key, strlen(key), msg, strlen(msg), h);
    if (!cli_digest_is(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"))
        return -1;
    return 0;
}
