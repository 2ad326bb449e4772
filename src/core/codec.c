/* SPDX-License-Identifier: Apache-2.0 */
/* Base64 (standard and URL-safe), hex, UUIDs, kernel randomness and percent-encoding. */
#include "core/codec.h"
#include "core/mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static const char ck_b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char ck_b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *ck_b64_enc(const uint8_t *p, size_t n, const char *alpha, int pad)
{
    if (n > (SIZE_MAX - 8) / 4 * 3)
        return NULL;
    size_t outlen = (n + 2) / 3 * 4;
    char *out = ck_malloc(outlen + 1);
    size_t o = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t rem = n - i;
        if (rem > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (rem > 2)
            v |= p[i + 2];
        out[o++] = alpha[(v >> 18) & 63];
        out[o++] = alpha[(v >> 12) & 63];
        if (rem > 1)
            out[o++] = alpha[(v >> 6) & 63];
        else if (pad)
            out[o++] = '=';
        if (rem > 2)
            out[o++] = alpha[v & 63];
        else if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

char *ck_b64_encode(const uint8_t *p, size_t n)
{
    return ck_b64_enc(p, n, ck_b64_std, 1);
}

char *ck_b64url_encode(const uint8_t *p, size_t n)
{
    return ck_b64_enc(p, n, ck_b64_url, 0);
}

static int ck_b64_val(char c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (!url && c == '+')
        return 62;
    if (!url && c == '/')
        return 63;
    if (url && c == '-')
        return 62;
    if (url && c == '_')
        return 63;
    return -1;
}

static int ck_b64_dec(const char *s, size_t n, uint8_t **out, size_t *outlen, int url)
{
    /* Strip padding; the remaining length must not leave a single dangling sextet. */
    size_t pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (pad > 0 && (n + pad) % 4 != 0)
        return -1;
    if (!url && pad == 0 && n % 4 != 0)
        return -1;
    if (n % 4 == 1)
        return -1;
    size_t cap = n / 4 * 3 + 3;
    uint8_t *d = ck_malloc(cap);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    if (d == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v = ck_b64_val(s[i], url);
        if (v < 0) {
            ck_free(d);
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            d[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* Non-canonical trailing bits are refused. */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
        ck_free(d);
        return -1;
    }
    *out = d;
    *outlen = o;
    return 0;
}

int ck_b64_decode(const char *s, size_t n, uint8_t **out, size_t *outlen)
{
    return ck_b64_dec(s, n, out, outlen, 0);
}

int ck_b64url_decode(const char *s, size_t n, uint8_t **out, size_t *outlen)
{
    return ck_b64_dec(s, n, out, outlen, 1);
}

char *ck_hex_encode(const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    if (n > (SIZE_MAX - 1) / 2)
        return NULL;
    char *out = ck_malloc(2 * n + 1);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[p[i] >> 4];
        out[2 * i + 1] = hx[p[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

int ck_random(void *p, size_t n)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t r = getrandom(b, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

int ck_uuid_new(char out[37])
{
    uint8_t b[16];
    if (ck_random(b, sizeof(b)) != 0)
        return -1;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return 0;
}

int ck_uuid_valid(const char *s)
{
    if (s == NULL || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

static int ck_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *ck_url_decode(const char *s, size_t n, int form)
{
    char *out = ck_malloc(n + 1);
    size_t o = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n || (hi = ck_hexval(s[i + 1])) < 0 || (lo = ck_hexval(s[i + 2])) < 0) {
                ck_free(out);
                return NULL;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (form && c == '+') {
            c = ' ';
        }
        if (c == '\0') {
            ck_free(out);
            return NULL;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

char *ck_url_encode(const char *s)
{
    static const char hx[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = ck_malloc(3 * n + 1);
    size_t o = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '_' || c == '.' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hx[c >> 4];
            out[o++] = hx[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}
