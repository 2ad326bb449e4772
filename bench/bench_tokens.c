/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token benchmark: RS256 JWT issuance (ck_jwt_sign of a realistic v1 access-token claim set) and
 * verification (ck_verify_token with the key added directly, so no JWKS fetch) per second, printed
 * next to `openssl speed -seconds N rsa2048` sign/verify rates measured in the same run, with the
 * ratio. The RSA private-key operation dominates issuance and the public-key operation plus JSON
 * and base64url work dominate verification, so the ratio shows the overhead of everything that
 * is not RSA.
 *
 * Usage: bench_tokens [--seconds S] [--openssl-seconds N]   (N = 0 skips the openssl run)
 */
#include "authz/jwt.h"
#include "core/codec.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rates {
    double sign, verify;
};

static double now_s(void)
{
    return (double)ck_mono_ms() / 1000.0;
}

/* A v1 access token as Entra issues it to an application for Azure Storage. */
static json_t *claims_v1(const char *tid, int64_t now)
{
    char iss[128];
    snprintf(iss, sizeof(iss), "https://sts.windows.net/%s/", tid);
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "aud",
                     "https://storage.azure.com", "iss", iss, "iat", (json_int_t)now, "nbf", (json_int_t)now, "exp",
                     (json_int_t)(now + 3599), "aio",
                     "E2ZgYDhWfVnF3ei5mG/7VWqrlr6DAA==", "appid", "8f6e4c2a-1b3d-4e5f-9a0b-1c2d3e4f5a6b", "appidacr",
                     "1", "idp", iss, "idtyp", "app", "oid", "0d1c2b3a-4f5e-6d7c-8b9a-0f1e2d3c4b5a", "rh",
                     "0.AXEAZ2Vub3JhbmRvbXJlZnJlc2hoaW50AAAAAAAAAAAAAAAAcQAA.", "sub",
                     "0d1c2b3a-4f5e-6d7c-8b9a-0f1e2d3c4b5a", "tid", tid, "uti", "q1w2e3r4t5y6u7i8o9p0AA", "ver",
                     "1.0");
}

/* Runs `openssl speed` and reads its "rsa 2048 bits" row. Returns 0 when both rates were read. */
static int openssl_rates(int seconds, struct rates *r)
{
    char cmd[128], line[512];
    int found = -1;
    snprintf(cmd, sizeof(cmd), "openssl speed -seconds %d rsa2048 2>/dev/null", seconds);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        double ts, tv;
        if (sscanf(line, "rsa 2048 bits %lfs %lfs %lf %lf", &ts, &tv, &r->sign, &r->verify) == 4)
            found = 0;
    }
    pclose(f);
    return found;
}

static void row(const char *what, double ours, double theirs, int have)
{
    if (have)
        printf("%-34s %12.1f %16.1f %9.3f\n", what, ours, theirs, ours / theirs);
    else
        printf("%-34s %12.1f %16s %9s\n", what, ours, "n/a", "n/a");
}

int main(int argc, char **argv)
{
    double seconds = 3.0;
    int ossl_seconds = 3;
    struct ck_pkey *key = NULL;
    struct ck_verifier *v = NULL;
    struct ck_verifier_config vc = {0};
    struct ck_secret *tok = NULL;
    struct rates ours = {0}, ossl = {0};
    char tid[37];
    int rc = 1;
    json_t *claims = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--openssl-seconds") == 0 && i + 1 < argc)
            ossl_seconds = (int)strtol(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--seconds S] [--openssl-seconds N]\n", argv[0]);
            return 2;
        }
    }
    if (seconds <= 0)
        seconds = 0.1;
    if (ck_uuid_new(tid) != 0 || ck_pkey_rsa_generate(2048, &key) != CK_OK || ck_verifier_new(&vc, &v) != CK_OK ||
        ck_verifier_add_key(v, tid, "bench-kid", key) != CK_OK) {
        fprintf(stderr, "bench_tokens: setup failed\n");
        goto out;
    }
    claims = claims_v1(tid, ck_time_now());
    if (claims == NULL)
        goto out;

    /* Issuance. */
    long n = 0;
    double t0 = now_s(), t1;
    do {
        ck_secret_free(tok);
        tok = NULL;
        if (ck_jwt_sign(key, "bench-kid", "x5t-thumbprint", claims, &tok) != CK_OK) {
            fprintf(stderr, "bench_tokens: ck_jwt_sign failed\n");
            goto out;
        }
        n++;
        t1 = now_s();
    } while (t1 - t0 < seconds);
    ours.sign = (double)n / (t1 - t0);

    /* Verification of the last token issued. */
    static const char *const auds[] = {"https://storage.azure.com", NULL};
    const char *token = (const char *)ck_secret_ptr(tok);
    n = 0;
    t0 = now_s();
    do {
        struct ck_claims c;
        enum ck_token_fail why = ck_verify_token(v, token, auds, tid, &c);
        if (why != CK_TF_NONE) {
            fprintf(stderr, "bench_tokens: ck_verify_token refused the token: %s\n", ck_token_fail_text(why));
            goto out;
        }
        n++;
        t1 = now_s();
    } while (t1 - t0 < seconds);
    ours.verify = (double)n / (t1 - t0);

    int have = ossl_seconds > 0 && openssl_rates(ossl_seconds, &ossl) == 0;
    printf("RS256 JWT, 2048-bit RSA key, v1 access token of %zu bytes; %.1f s per crosskey figure%s\n",
           strlen(token), seconds, have ? "" : "; openssl speed not measured");
    printf("%-34s %12s %16s %9s\n", "operation", "crosskey/s", "openssl rsa2048/s", "ratio");
    row("issue  (ck_jwt_sign vs sign)", ours.sign, ossl.sign, have);
    row("verify (ck_verify_token vs verify)", ours.verify, ossl.verify, have);
    rc = 0;
out:
    json_decref(claims);
    ck_secret_free(tok);
    ck_verifier_free(v);
    ck_pkey_free(key);
    return rc;
}
