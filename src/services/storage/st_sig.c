/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared Key and SAS verification for the Blob data plane (reference/wire-blob.md A.3, A.4). The
 * Shared Key string-to-sign is built as storage-common 12.4.1's StorageSharedKeyCredentialPolicyV2
 * builds it, with its SharedKeyComparator ported table for table; SAS strings-to-sign follow
 * BlobSASSignatureValues (sv 2015-04-05, 2018-11-09, 2020-12-06+) and AccountSASSignatureValues.
 * Every MAC is compared in constant time, key1 first, then key2. Nothing here logs or prints; the
 * caller turns the result into Azure's error XML.
 */
#include "services/storage/st_sig.h"

#include "core/codec.h"
#include "core/mem.h"
#include "core/skorder.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MSG_AUTH_FAILED                                                                                   \
    "Server failed to authenticate the request. Make sure the value of Authorization header is formed " \
    "correctly including the signature."

/* ---- results ---- */

static void res_init(struct st_sig_result *res, enum st_sig_kind kind)
{
    memset(res, 0, sizeof(*res));
    res->status = 200;
    res->kind = kind;
}

static int res_fail(struct st_sig_result *res, int err, int status, const char *code, const char *message,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int res_fail(struct st_sig_result *res, int err, int status, const char *code, const char *message,
                    const char *fmt, ...)
{
    res->status = status;
    snprintf(res->code, sizeof(res->code), "%s", code);
    snprintf(res->message, sizeof(res->message), "%s", message);
    res->detail[0] = '\0';
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
        va_end(ap);
        if (n >= (int)sizeof(res->detail))
            memcpy(res->detail + sizeof(res->detail) - 4, "...", 4);
    }
    res->key_index = 0;
    return err;
}

static int fail_auth(struct st_sig_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_auth(struct st_sig_result *res, const char *fmt, ...)
{
    char buf[ST_SIG_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(buf))
        memcpy(buf + sizeof(buf) - 4, "...", 4);
    return res_fail(res, CK_E_FORBIDDEN, 403, "AuthenticationFailed", MSG_AUTH_FAILED, "%s", buf);
}

static int fail_internal(struct st_sig_result *res, int err)
{
    return res_fail(res, err, 500, "InternalError",
                    "Server encountered an internal error. Please try again after some time.", NULL);
}

/* ---- small string helpers ---- */

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int streq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

static const char *hdr(const struct st_sig_req *r, const char *name)
{
    return r->header != NULL ? r->header(r->ctx, name) : NULL;
}

/* ---- times ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* Reads exactly n digits. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int make_time(int y, int mo, int d, int h, int mi, int s, int64_t *out)
{
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60)
        return CK_E_INVALID;
    *out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s;
    return CK_OK;
}

int st_sig_parse_rfc1123(const char *s, int64_t *out)
{
    static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int d, y, h, mi, sec, mo = -1;
    int64_t t;
    if (s == NULL)
        return CK_E_INVALID;
    while (*s == ' ')
        s++;
    const char *comma = strchr(s, ',');
    if (comma != NULL) {
        if (comma - s != 3)
            return CK_E_INVALID;
        s = comma + 1;
    }
    while (*s == ' ')
        s++;
    if (digits(&s, 2, &d) != 0 && digits(&s, 1, &d) != 0)
        return CK_E_INVALID;
    if (*s++ != ' ')
        return CK_E_INVALID;
    for (int i = 0; i < 12; i++)
        if (strncmp(s, months[i], 3) == 0)
            mo = i + 1;
    if (mo < 0)
        return CK_E_INVALID;
    s += 3;
    if (*s++ != ' ' || digits(&s, 4, &y) != 0 || *s++ != ' ' || digits(&s, 2, &h) != 0 || *s++ != ':' ||
        digits(&s, 2, &mi) != 0 || *s++ != ':' || digits(&s, 2, &sec) != 0)
        return CK_E_INVALID;
    if (strcmp(s, " GMT") != 0 && strcmp(s, " UTC") != 0)
        return CK_E_INVALID;
    if (make_time(y, mo, d, h, mi, sec, &t) != CK_OK)
        return CK_E_INVALID;
    *out = t;
    return CK_OK;
}

int st_sig_parse_iso8601(const char *s, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0;
    int64_t t;
    if (s == NULL || digits(&s, 4, &y) != 0 || *s++ != '-' || digits(&s, 2, &mo) != 0 || *s++ != '-' ||
        digits(&s, 2, &d) != 0)
        return CK_E_INVALID;
    int64_t zone = 0;
    if (*s == 'T') {
        s++;
        if (digits(&s, 2, &h) != 0 || *s++ != ':' || digits(&s, 2, &mi) != 0)
            return CK_E_INVALID;
        if (*s == ':') {
            s++;
            if (digits(&s, 2, &sec) != 0)
                return CK_E_INVALID;
            if (*s == '.') {
                s++;
                int n = 0;
                while (*s >= '0' && *s <= '9' && n < 9) {
                    s++;
                    n++;
                }
                if (n == 0)
                    return CK_E_INVALID;
            }
        }
        if (*s == 'Z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            int sign = *s++ == '-' ? -1 : 1, zh, zm;
            if (digits(&s, 2, &zh) != 0 || *s++ != ':' || digits(&s, 2, &zm) != 0 || zh > 23 || zm > 59)
                return CK_E_INVALID;
            zone = sign * (zh * 3600 + zm * 60);
        } else {
            return CK_E_INVALID;
        }
    }
    if (*s != '\0' || make_time(y, mo, d, h, mi, sec, &t) != CK_OK)
        return CK_E_INVALID;
    *out = t - zone;
    return CK_OK;
}

static const char *fmt_time(int64_t t, char *buf, size_t n)
{
    return ck_time_rfc1123(t, buf, n);
}

int st_sig_header_cmp(const char *a, const char *b)
{
    return ck_sharedkey_less(a, b) ? -1 : 1;
}

/* ---- HMAC under key1, key2 ---- */

/* Returns 1 or 2 for the key whose HMAC of sts equals mac, 0 for none, or -1 on a crypto error. */
static int mac_match(const struct ck_secret *key1, const struct ck_secret *key2, const char *sts, size_t stslen,
                     const uint8_t *mac, size_t maclen)
{
    const struct ck_secret *keys[2] = {key1, key2};
    uint8_t out[CK_SHA256_LEN];
    int found = 0;
    for (int k = 0; k < 2 && found == 0; k++) {
        if (keys[k] == NULL)
            continue;
        if (ck_hmac_sha256(ck_secret_ptr(keys[k]), ck_secret_len(keys[k]), sts, stslen, out) != CK_OK) {
            found = -1;
            break;
        }
        if (ck_ct_equal(out, sizeof(out), mac, maclen))
            found = k + 1;
    }
    ck_wipe(out, sizeof(out));
    return found;
}

/* ---- Shared Key ---- */

/* A collected header or query parameter: lower-cased name and a copy of the value. */
struct kv {
    char *name;
    char *value;
    size_t seq; /* arrival order */
};

struct kvs {
    struct kv *v;
    size_t n, max;
    int err; /* CK_E_TOO_LARGE or CK_E_NOMEM once collecting stopped */
};

/* Appends name[0..nl) lower-cased and value; returns non-zero (and sets err) to stop. */
static int kvs_add(struct kvs *s, const char *name, size_t nl, const char *value)
{
    if (s->n >= s->max || nl > ST_SIG_MAX_STS || strlen(value) > ST_SIG_MAX_STS) {
        s->err = CK_E_TOO_LARGE;
        return 1;
    }
    char *n = ck_strndup(name, nl), *v = ck_strdup(value);
    if (n == NULL || v == NULL) {
        ck_free(n);
        ck_free(v);
        s->err = CK_E_NOMEM;
        return 1;
    }
    for (char *p = n; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    s->v[s->n].name = n;
    s->v[s->n].value = v;
    s->v[s->n].seq = s->n;
    s->n++;
    return 0;
}

static void kvs_cleanup(struct kvs *s)
{
    for (size_t i = 0; i < s->n; i++) {
        ck_free(s->v[i].name);
        ck_free(s->v[i].value);
    }
    ck_free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* x-ms-* headers: name without trailing blanks (trimRight), value without leading ones (trimLeft). */
static int sk_collect(void *arg, const char *name, const char *value)
{
    if (name == NULL || strncasecmp(name, "x-ms-", 5) != 0)
        return 0;
    size_t nl = strlen(name);
    while (nl > 0 && is_ws(name[nl - 1]))
        nl--;
    if (value == NULL)
        value = "";
    while (is_ws(*value))
        value++;
    return kvs_add(arg, name, nl, value);
}

static int q_collect(void *arg, const char *name, const char *value)
{
    if (name == NULL)
        return 0;
    return kvs_add(arg, name, strlen(name), value != NULL ? value : "");
}

/* Sorts by name (byte order, as Array.prototype.sort on ASCII keys), then value, stably. */
static void q_sort(struct kvs *q)
{
    for (size_t i = 1; i < q->n; i++) {
        struct kv x = q->v[i];
        size_t j = i;
        while (j > 0) {
            int c = strcmp(q->v[j - 1].name, x.name);
            if (c < 0 || (c == 0 && strcmp(q->v[j - 1].value, x.value) <= 0))
                break;
            q->v[j] = q->v[j - 1];
            j--;
        }
        q->v[j] = x;
    }
}

/*
 * Appends the query part of the CanonicalizedResource. Documented form (sdk_form 0): every name
 * once, "\nname:v1,v2" with the values sorted. SDK form (sdk_form 1, getURLQueries): parameters
 * with an empty value are left out and a repeated name keeps its last value.
 */
static int canon_query(struct ck_buf *b, const struct kvs *q, int sdk_form)
{
    int rc = CK_OK;
    for (size_t i = 0; i < q->n && rc == CK_OK;) {
        size_t e = i + 1;
        while (e < q->n && streq(q->v[e].name, q->v[i].name))
            e++;
        if (sdk_form) {
            size_t last = i;
            int any = 0;
            for (size_t k = i; k < e; k++)
                if (q->v[k].value[0] != '\0' && (!any || q->v[k].seq > q->v[last].seq)) {
                    last = k;
                    any = 1;
                }
            if (any)
                rc = ck_buf_printf(b, "\n%s:%s", q->v[last].name, q->v[last].value);
        } else {
            rc = ck_buf_printf(b, "\n%s:", q->v[i].name);
            for (size_t k = i; k < e && rc == CK_OK; k++)
                rc = ck_buf_printf(b, "%s%s", k > i ? "," : "", q->v[k].value);
        }
        i = e;
    }
    return rc;
}

static int q_has_empty(const struct kvs *q)
{
    for (size_t i = 0; i < q->n; i++)
        if (q->v[i].value[0] == '\0' || (i > 0 && streq(q->v[i].name, q->v[i - 1].name)))
            return 1;
    return 0;
}

/* Builds one Shared Key string-to-sign. lang_first selects the storage-common <= 12.4.x order. */
static int sk_build(struct ck_buf *b, const struct st_sig_req *r, const char *account, const struct kvs *h,
                    const struct kvs *q, int lang_first, int sdk_query)
{
    static const char *const rest[] = {"Content-Length", "Content-MD5", "Content-Type", "Date",
                                       "If-Modified-Since", "If-Match", "If-None-Match",
                                       "If-Unmodified-Since", "Range"};
    const char *ce = hdr(r, "Content-Encoding"), *cl = hdr(r, "Content-Language");
    const char *first = lang_first ? cl : ce, *second = lang_first ? ce : cl;
    int rc = CK_OK;
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
    for (const char *m = r->method; *m && rc == CK_OK; m++) {
        char c = (*m >= 'a' && *m <= 'z') ? (char)(*m - 'a' + 'A') : *m;
        rc = ck_buf_append(b, &c, 1);
    }
    if (rc == CK_OK)
        rc = ck_buf_printf(b, "\n%s\n%s\n", first ? first : "", second ? second : "");
    for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]) && rc == CK_OK; i++) {
        const char *v = hdr(r, rest[i]);
        if (v == NULL || (i == 0 && streq(v, "0")))
            v = "";
        rc = ck_buf_printf(b, "%s\n", v);
    }
    for (size_t i = 0; i < h->n && rc == CK_OK; i++) {
        if (i > 0 && streq(h->v[i].name, h->v[i - 1].name))
            continue;
        rc = ck_buf_printf(b, "%s:%s\n", h->v[i].name, h->v[i].value);
    }
    if (rc == CK_OK) {
        const char *path = (r->raw_path != NULL && r->raw_path[0] != '\0') ? r->raw_path : "/";
        rc = ck_buf_printf(b, "/%s%s", account, path);
    }
    if (rc == CK_OK)
        rc = canon_query(b, q, sdk_query);
    return rc;
}

/* Parses "SharedKey account:base64". Sets *acct (new string) and *mac (decoded). */
static int sk_parse_auth(const char *auth, char **acct, uint8_t **mac, size_t *maclen)
{
    while (is_ws(*auth))
        auth++;
    if (strncmp(auth, "SharedKey", 9) != 0 || !is_ws(auth[9]))
        return CK_E_INVALID;
    auth += 9;
    while (is_ws(*auth))
        auth++;
    const char *colon = strrchr(auth, ':');
    if (colon == NULL || colon == auth)
        return CK_E_INVALID;
    const char *sig = colon + 1;
    size_t sl = strlen(sig);
    while (sl > 0 && is_ws(sig[sl - 1]))
        sl--;
    if (sl == 0 || sl > 256)
        return CK_E_INVALID;
    char *a = ck_strndup(auth, (size_t)(colon - auth));
    if (a == NULL)
        return CK_E_NOMEM;
    if (ck_b64_decode(sig, sl, mac, maclen) != 0) {
        ck_free(a);
        return CK_E_INVALID;
    }
    *acct = a;
    return CK_OK;
}

int st_sharedkey_check(const struct st_sig_req *r, const char *account, const struct ck_secret *key1,
                       const struct ck_secret *key2, int64_t now, struct st_sig_result *res)
{
    struct kvs h = {NULL, 0, ST_SIG_MAX_HEADERS, CK_OK};
    struct kvs q = {NULL, 0, ST_SIG_MAX_QUERY, CK_OK};
    struct ck_buf b, alt;
    char *acct = NULL;
    uint8_t *mac = NULL;
    size_t maclen = 0;
    char when[64];
    int rc;

    res_init(res, ST_SIG_SHAREDKEY);
    ck_buf_init(&b, ST_SIG_MAX_STS);
    ck_buf_init(&alt, ST_SIG_MAX_STS);

    const char *auth = hdr(r, "Authorization");
    if (auth == NULL) {
        rc = res_fail(res, CK_E_UNAUTHENTICATED, 401, "NoAuthenticationInformation",
                      "Server failed to authenticate the request. Please refer to the information in the "
                      "www-authenticate header.",
                      NULL);
        goto out;
    }
    rc = sk_parse_auth(auth, &acct, &mac, &maclen);
    if (rc == CK_E_NOMEM) {
        rc = fail_internal(res, rc);
        goto out;
    }
    if (rc != CK_OK) {
        rc = res_fail(res, CK_E_INVALID, 400, "InvalidAuthenticationInfo",
                      "Authentication information is not given in the correct format. Check the value of "
                      "Authorization header.",
                      NULL);
        goto out;
    }
    if (!streq(acct, account)) {
        rc = fail_auth(res, "The account name in the Authorization header does not match the account being accessed.");
        goto out;
    }

    const char *date = hdr(r, "x-ms-date");
    if (date == NULL)
        date = hdr(r, "Date");
    int64_t t;
    if (date == NULL) {
        rc = fail_auth(res, "Request date header not specified.");
        goto out;
    }
    if (strlen(date) > 64 || st_sig_parse_rfc1123(date, &t) != CK_OK) {
        rc = fail_auth(res, "The Date header in the request is incorrect.");
        goto out;
    }
    if (t < now - ST_SIG_ACCEPT_SKEW) {
        rc = fail_auth(res, "Request date header too old: '%s'", date);
        goto out;
    }
    if (t > now + ST_SIG_ACCEPT_SKEW) {
        rc = fail_auth(res, "Request date header too new: '%s'; current time is '%s'.", date,
                       fmt_time(now, when, sizeof(when)));
        goto out;
    }

    h.v = ck_calloc(ST_SIG_MAX_HEADERS, sizeof(*h.v));
    q.v = ck_calloc(ST_SIG_MAX_QUERY, sizeof(*q.v));
    if (h.v == NULL || q.v == NULL) {
        rc = fail_internal(res, CK_E_NOMEM);
        goto out;
    }
    if (r->header_each != NULL)
        r->header_each(r->ctx, sk_collect, &h);
    if (r->query_each != NULL && h.err == CK_OK)
        r->query_each(r->ctx, q_collect, &q);
    if (h.err == CK_E_NOMEM || q.err == CK_E_NOMEM) {
        rc = fail_internal(res, CK_E_NOMEM);
        goto out;
    }
    if (h.err != CK_OK || q.err != CK_OK) {
        rc = res_fail(res, CK_E_INVALID, 400, "InvalidAuthenticationInfo",
                      "Authentication information is not given in the correct format. Check the value of "
                      "Authorization header.",
                      "The request has too many or too long x-ms-* headers or query parameters to authenticate.");
        goto out;
    }
    /* Stable insertion sort with the SDK comparator (V8 sorts short arrays by binary insertion,
     * placing equal elements after, which gives the same order). */
    for (size_t i = 1; i < h.n; i++) {
        struct kv x = h.v[i];
        size_t j = i;
        while (j > 0 && ck_sharedkey_less(x.name, h.v[j - 1].name)) {
            h.v[j] = h.v[j - 1];
            j--;
        }
        h.v[j] = x;
    }
    q_sort(&q);

    int swap_ok = hdr(r, "Content-Language") != NULL || hdr(r, "Content-Encoding") != NULL;
    int sdkq_ok = q_has_empty(&q);
    int found = 0;
    for (int variant = 0; variant < 4 && found == 0; variant++) {
        int lang_first = variant & 1, sdk_query = (variant >> 1) & 1;
        if ((lang_first && !swap_ok) || (sdk_query && !sdkq_ok))
            continue;
        struct ck_buf *use = variant == 0 ? &b : &alt;
        rc = sk_build(use, r, account, &h, &q, lang_first, sdk_query);
        if (rc == CK_E_TOO_LARGE) {
            rc = res_fail(res, CK_E_INVALID, 400, "InvalidAuthenticationInfo",
                          "Authentication information is not given in the correct format. Check the value of "
                          "Authorization header.",
                          "The request is too large to authenticate.");
            goto out;
        }
        if (rc != CK_OK) {
            rc = fail_internal(res, rc);
            goto out;
        }
        found = mac_match(key1, key2, use->data, use->len, mac, maclen);
    }
    if (found < 0) {
        rc = fail_internal(res, CK_E_CRYPTO);
        goto out;
    }
    if (found == 0) {
        const char *sig = strrchr(auth, ':') + 1;
        rc = fail_auth(res,
                       "The MAC signature found in the HTTP request '%.200s' is not the same as any computed "
                       "signature. Server used following string to sign: '%s'.",
                       sig, b.data != NULL ? b.data : "");
        goto out;
    }
    res->key_index = found;
    rc = CK_OK;
out:
    kvs_cleanup(&h);
    kvs_cleanup(&q);
    ck_free(acct);
    ck_free(mac);
    ck_buf_cleanup(&b);
    ck_buf_cleanup(&alt);
    return rc;
}

/* ---- SAS ---- */

static int sas_probe(void *arg, const char *name, const char *value)
{
    (void)value;
    int *found = arg;
    if (name != NULL && strcasecmp(name, "sig") == 0) {
        *found = 1;
        return 1;
    }
    return 0;
}

int st_sig_is_sas(const struct st_sig_req *r)
{
    int found = 0;
    if (r->query_each != NULL)
        r->query_each(r->ctx, sas_probe, &found);
    return found;
}

enum sas_field {
    F_SV, F_SS, F_SRT, F_SR, F_SP, F_ST, F_SE, F_SIP, F_SPR, F_SI, F_SES, F_SIG,
    F_RSCC, F_RSCD, F_RSCE, F_RSCL, F_RSCT, F_SNAPSHOT, F_VERSIONID, F__COUNT
};

static const char *const sas_names[F__COUNT] = {"sv",   "ss",   "srt",  "sr",   "sp",   "st",       "se",
                                                "sip",  "spr",  "si",   "ses",  "sig",  "rscc",     "rscd",
                                                "rsce", "rscl", "rsct", "snapshot", "versionid"};

/* Parameters that only a user delegation SAS carries. */
static const char *const udk_names[] = {"skoid", "sktid", "skt", "ske", "sks", "skv", "saoid", "suoid",
                                        "scid",  "skdutid", "sduoid", "srh", "srq"};

struct sas_fields {
    char v[F__COUNT][ST_SIG_FIELD_MAX];
    int present[F__COUNT];
    int dup, too_long, udk;
};

static int sas_collect(void *arg, const char *name, const char *value)
{
    struct sas_fields *f = arg;
    if (name == NULL)
        return 0;
    if (value == NULL)
        value = "";
    for (size_t i = 0; i < sizeof(udk_names) / sizeof(udk_names[0]); i++)
        if (strcasecmp(name, udk_names[i]) == 0)
            f->udk = 1;
    for (int i = 0; i < F__COUNT; i++) {
        if (strcasecmp(name, sas_names[i]) != 0)
            continue;
        if (f->present[i])
            f->dup = 1;
        size_t n = strlen(value);
        if (n >= ST_SIG_FIELD_MAX) {
            f->too_long = 1;
            return 1;
        }
        memcpy(f->v[i], value, n + 1);
        f->present[i] = 1;
        return 0;
    }
    return 0;
}

static int valid_version(const char *v)
{
    int y, m, d;
    const char *p = v;
    return strlen(v) == 10 && digits(&p, 4, &y) == 0 && *p++ == '-' && digits(&p, 2, &m) == 0 && *p++ == '-' &&
           digits(&p, 2, &d) == 0;
}

/* Parses an IP address into 16 bytes (IPv4 as ::ffff:a.b.c.d). */
static int parse_ip(const char *s, uint8_t out[16])
{
    struct in_addr a4;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = 0xff;
        out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        return 0;
    }
    struct in6_addr a6;
    if (inet_pton(AF_INET6, s, &a6) == 1) {
        memcpy(out, &a6, 16);
        return 0;
    }
    return -1;
}

/* Returns 1 when ip lies in sip ("a" or "a-b"), 0 when not, -1 when sip is malformed. */
static int ip_in_range(const char *sip, const char *ip)
{
    char lo[64], hi[64];
    uint8_t l[16], h[16], p[16];
    const char *dash = strchr(sip, '-');
    size_t n = dash ? (size_t)(dash - sip) : strlen(sip);
    if (n == 0 || n >= sizeof(lo) || (dash && strlen(dash + 1) >= sizeof(hi)))
        return -1;
    memcpy(lo, sip, n);
    lo[n] = '\0';
    snprintf(hi, sizeof(hi), "%s", dash ? dash + 1 : lo);
    if (parse_ip(lo, l) != 0 || parse_ip(hi, h) != 0 || memcmp(l, h, 16) > 0)
        return -1;
    if (ip == NULL || parse_ip(ip, p) != 0)
        return 0;
    return memcmp(l, p, 16) <= 0 && memcmp(p, h, 16) <= 0;
}

static int append_lines(struct ck_buf *b, const char *const *lines, size_t n, int trailing_newline)
{
    int rc = CK_OK;
    for (size_t i = 0; i < n && rc == CK_OK; i++)
        rc = ck_buf_printf(b, "%s%s", i > 0 ? "\n" : "", lines[i]);
    if (rc == CK_OK && trailing_newline)
        rc = ck_buf_puts(b, "\n");
    return rc;
}

static int fail_code(struct st_sig_result *res, const char *code, const char *message)
{
    return res_fail(res, CK_E_FORBIDDEN, 403, code, message, NULL);
}

int st_sas_check(const struct st_sig_req *r, const char *account, const struct st_sas_need *need,
                 const struct ck_secret *key1, const struct ck_secret *key2, int64_t now,
                 struct st_sig_result *res)
{
    struct sas_fields *f = NULL;
    struct ck_buf b;
    char *canon = NULL;
    uint8_t *mac = NULL;
    size_t maclen = 0;
    char t1[64], t2[64], t3[64];
    int rc;

    res_init(res, ST_SIG_NONE);
    ck_buf_init(&b, ST_SIG_MAX_STS);
    f = ck_calloc(1, sizeof(*f));
    if (f == NULL) {
        rc = fail_internal(res, CK_E_NOMEM);
        goto out;
    }
    if (r->query_each != NULL)
        r->query_each(r->ctx, sas_collect, f);
    if (f->too_long) {
        rc = fail_auth(res, "A SAS field exceeds %d bytes.", ST_SIG_FIELD_MAX - 1);
        goto out;
    }
    if (f->dup) {
        rc = fail_auth(res, "A SAS field appears more than once in the query.");
        goto out;
    }
    if (!f->present[F_SIG] || f->v[F_SIG][0] == '\0') {
        rc = fail_auth(res, "sig is mandatory. Cannot be empty");
        goto out;
    }
    if (f->udk) {
        rc = fail_auth(res, "User delegation SAS is not supported by this service; use a service or account SAS "
                            "signed with an account key.");
        goto out;
    }
    if (f->present[F_SI]) {
        rc = fail_auth(res, "Stored access policies (si) are not supported by this service; sign the SAS with "
                            "explicit permissions and expiry instead.");
        goto out;
    }
    const char *sv = f->v[F_SV];
    if (!f->present[F_SV] || !valid_version(sv)) {
        rc = fail_auth(res, "sv is mandatory and must be a version of the form YYYY-MM-DD.");
        goto out;
    }
    if (strcmp(sv, "2015-04-05") < 0) {
        rc = fail_auth(res, "SAS version %s is not supported; use 2015-04-05 or later.", sv);
        goto out;
    }
    int account_sas = f->present[F_SS] || f->present[F_SRT];
    if (account_sas && f->present[F_SR]) {
        rc = fail_auth(res, "A SAS cannot carry both sr and ss/srt.");
        goto out;
    }
    if (!account_sas && !f->present[F_SR]) {
        rc = fail_auth(res, "sr is mandatory. Cannot be empty");
        goto out;
    }
    res->kind = account_sas ? ST_SIG_ACCOUNT_SAS : ST_SIG_SERVICE_SAS;
    if (f->v[F_SP][0] == '\0') {
        rc = fail_auth(res, "sp is mandatory. Cannot be empty");
        goto out;
    }
    if (f->v[F_SE][0] == '\0') {
        rc = fail_auth(res, "se is mandatory. Cannot be empty");
        goto out;
    }
    int64_t st = 0, se = 0;
    if (st_sig_parse_iso8601(f->v[F_SE], &se) != CK_OK ||
        (f->v[F_ST][0] != '\0' && st_sig_parse_iso8601(f->v[F_ST], &st) != CK_OK)) {
        rc = fail_auth(res, "Signature fields not well formed: st and se must be ISO 8601 UTC times.");
        goto out;
    }
    const char *spr = f->v[F_SPR];
    int https_only = streq(spr, "https");
    if (spr[0] != '\0' && !https_only && !streq(spr, "https,http") && !streq(spr, "http,https")) {
        rc = fail_auth(res, "Signature fields not well formed: spr must be https or https,http.");
        goto out;
    }
    int ip_ok = 1;
    if (f->v[F_SIP][0] != '\0') {
        ip_ok = ip_in_range(f->v[F_SIP], need->peer_ip);
        if (ip_ok < 0) {
            rc = fail_auth(res, "Signature fields not well formed: sip must be an IP address or a range a-b.");
            goto out;
        }
    }
    int has_ses = strcmp(sv, "2020-12-06") >= 0;
    if (f->present[F_SES] && !has_ses) {
        rc = fail_auth(res, "ses requires sv 2020-12-06 or later.");
        goto out;
    }

    if (account_sas) {
        const char *lines[10] = {account,      f->v[F_SP],  f->v[F_SS],  f->v[F_SRT], f->v[F_ST],
                                 f->v[F_SE],   f->v[F_SIP], f->v[F_SPR], sv,          f->v[F_SES]};
        if (f->v[F_SS][0] == '\0' || f->v[F_SRT][0] == '\0') {
            rc = fail_auth(res, "ss and srt are mandatory in an account SAS. Cannot be empty");
            goto out;
        }
        rc = append_lines(&b, lines, has_ses ? 10 : 9, 1);
    } else {
        const char *sr = f->v[F_SR];
        int is_blob = streq(sr, "b") || streq(sr, "bs") || streq(sr, "bv");
        if (!is_blob && !streq(sr, "c")) {
            rc = fail_auth(res, "The signed resource '%s' is not supported; use sr=c or sr=b.", sr);
            goto out;
        }
        if (need->container == NULL || need->level == ST_SIG_LEVEL_SERVICE || (is_blob && need->blob == NULL)) {
            rc = fail_code(res, "AuthorizationResourceTypeMismatch",
                           "This request is not authorized to perform this operation using this resource type.");
            goto out;
        }
        size_t cl = strlen(account) + strlen(need->container) + (is_blob ? strlen(need->blob) : 0) + 16;
        canon = ck_malloc(cl);
        if (canon == NULL) {
            rc = fail_internal(res, CK_E_NOMEM);
            goto out;
        }
        if (is_blob)
            snprintf(canon, cl, "/blob/%s/%s/%s", account, need->container, need->blob);
        else
            snprintf(canon, cl, "/blob/%s/%s", account, need->container);
        const char *ts = streq(sr, "bs") ? f->v[F_SNAPSHOT] : streq(sr, "bv") ? f->v[F_VERSIONID] : "";
        if (strcmp(sv, "2020-12-06") >= 0) {
            const char *lines[16] = {f->v[F_SP],  f->v[F_ST],   f->v[F_SE],   canon,        f->v[F_SI],   f->v[F_SIP],
                                     f->v[F_SPR], sv,           sr,           ts,           f->v[F_SES],  f->v[F_RSCC],
                                     f->v[F_RSCD], f->v[F_RSCE], f->v[F_RSCL], f->v[F_RSCT]};
            rc = append_lines(&b, lines, 16, 0);
        } else if (strcmp(sv, "2018-11-09") >= 0) {
            const char *lines[15] = {f->v[F_SP],   f->v[F_ST],   f->v[F_SE],   canon,       f->v[F_SI],
                                     f->v[F_SIP],  f->v[F_SPR],  sv,           sr,          ts,
                                     f->v[F_RSCC], f->v[F_RSCD], f->v[F_RSCE], f->v[F_RSCL], f->v[F_RSCT]};
            rc = append_lines(&b, lines, 15, 0);
        } else {
            if (!streq(sr, "b") && !streq(sr, "c")) {
                rc = fail_auth(res, "sr=%s requires sv 2018-11-09 or later.", sr);
                goto out;
            }
            const char *lines[13] = {f->v[F_SP],   f->v[F_ST],   f->v[F_SE],   canon,        f->v[F_SI],
                                     f->v[F_SIP],  f->v[F_SPR],  sv,           f->v[F_RSCC], f->v[F_RSCD],
                                     f->v[F_RSCE], f->v[F_RSCL], f->v[F_RSCT]};
            rc = append_lines(&b, lines, 13, 0);
        }
    }
    if (rc != CK_OK) {
        rc = fail_internal(res, rc);
        goto out;
    }

    if (ck_b64_decode(f->v[F_SIG], strlen(f->v[F_SIG]), &mac, &maclen) != 0) {
        rc = fail_auth(res, "Signature fields not well formed: sig is not base64.");
        goto out;
    }
    int found = mac_match(key1, key2, b.data, b.len, mac, maclen);
    if (found < 0) {
        rc = fail_internal(res, CK_E_CRYPTO);
        goto out;
    }
    if (found == 0) {
        rc = fail_auth(res, "Signature did not match. String to sign used was %s", b.data);
        goto out;
    }

    if (f->v[F_ST][0] != '\0' && se < st) {
        rc = fail_auth(res, "Signed expiry time [%s] must be after signed start time [%s]",
                       fmt_time(se, t1, sizeof(t1)), fmt_time(st, t2, sizeof(t2)));
        goto out;
    }
    if ((f->v[F_ST][0] != '\0' && now < st) || now > se) {
        rc = fail_auth(res, "Signature not valid in the specified time frame: Start [%s] - Expiry [%s] - Current [%s]",
                       f->v[F_ST][0] != '\0' ? fmt_time(st, t1, sizeof(t1)) : "", fmt_time(se, t2, sizeof(t2)),
                       fmt_time(now, t3, sizeof(t3)));
        goto out;
    }
    if (https_only && !need->is_tls) {
        rc = fail_code(res, "AuthorizationProtocolMismatch",
                       "This request is not authorized to perform this operation using this protocol.");
        goto out;
    }
    if (!ip_ok) {
        char m[160];
        snprintf(m, sizeof(m), "This request is not authorized to perform this operation using this source IP %.64s.",
                 need->peer_ip != NULL ? need->peer_ip : "");
        rc = fail_code(res, "AuthorizationSourceIPMismatch", m);
        goto out;
    }
    if (account_sas) {
        static const char lv[4] = {0, 's', 'c', 'o'};
        if (strchr(f->v[F_SS], 'b') == NULL) {
            rc = fail_code(res, "AuthorizationServiceMismatch",
                           "This request is not authorized to perform this operation using this service.");
            goto out;
        }
        if (need->level < ST_SIG_LEVEL_SERVICE || need->level > ST_SIG_LEVEL_OBJECT ||
            strchr(f->v[F_SRT], lv[need->level]) == NULL) {
            rc = fail_code(res, "AuthorizationResourceTypeMismatch",
                           "This request is not authorized to perform this operation using this resource type.");
            goto out;
        }
    }
    int perm_ok = 0;
    for (const char *p = need->perms != NULL ? need->perms : ""; *p && !perm_ok; p++)
        perm_ok = strchr(f->v[F_SP], *p) != NULL;
    if (!perm_ok) {
        rc = fail_code(res, "AuthorizationPermissionMismatch",
                       "This request is not authorized to perform this operation using this permission.");
        goto out;
    }

    res->key_index = found;
    snprintf(res->ses, sizeof(res->ses), "%s", f->v[F_SES]);
    if (!account_sas) {
        snprintf(res->rscc, sizeof(res->rscc), "%s", f->v[F_RSCC]);
        snprintf(res->rscd, sizeof(res->rscd), "%s", f->v[F_RSCD]);
        snprintf(res->rsce, sizeof(res->rsce), "%s", f->v[F_RSCE]);
        snprintf(res->rscl, sizeof(res->rscl), "%s", f->v[F_RSCL]);
        snprintf(res->rsct, sizeof(res->rsct), "%s", f->v[F_RSCT]);
    }
    rc = CK_OK;
out:
    ck_free(f);
    ck_free(canon);
    ck_free(mac);
    ck_buf_cleanup(&b);
    return rc;
}
