/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_SERVICES_ST_SIG_H
#define CK_SERVICES_ST_SIG_H

/*
 * Shared Key and SAS verification for the Blob data plane, independent of the HTTP server.
 *
 * The layouts follow what @azure/storage-blob 12.32.0 / storage-common 12.4.1 sign
 * (reference/wire-blob.md A.3 and A.4): the Shared Key string-to-sign with the SDK's header
 * ordering (SharedKeyComparator), service SAS (sr c, b, bs, bv) for sv 2015-04-05, 2018-11-09 and
 * 2020-12-06 onwards, and account SAS. Stored access policies (si) and user delegation SAS are
 * refused. Error codes and texts are Azure's (wire-blob A.9).
 */
#include "core/err.h"
#include "core/secret.h"

#include <stddef.h>
#include <stdint.h>

/*
 * A read-only view of one request. All strings are NUL-terminated and stay valid for the duration
 * of a check call; the functions copy what they keep.
 */
struct st_sig_req {
    const char *method;   /* "PUT" */
    const char *raw_path; /* as on the request line, still percent-encoded, no query */
    void *ctx;
    /* A header by case-insensitive name (the first when repeated), or NULL when absent. */
    const char *(*header)(void *ctx, const char *name);
    /* Calls fn for every header (name as sent, value) until fn returns non-zero. */
    void (*header_each)(void *ctx, int (*fn)(void *arg, const char *name, const char *value), void *arg);
    /* Calls fn for every query parameter, name and value percent-decoded ('+' left as is), until
     * fn returns non-zero. A parameter without '=' may come with value NULL or "". */
    void (*query_each)(void *ctx, int (*fn)(void *arg, const char *name, const char *value), void *arg);
};

/* The resource levels of account SAS `srt`. */
enum st_sig_level {
    ST_SIG_LEVEL_SERVICE = 1,   /* 's': list containers, service properties */
    ST_SIG_LEVEL_CONTAINER = 2, /* 'c': container operations, list blobs */
    ST_SIG_LEVEL_OBJECT = 3,    /* 'o': blob operations */
};

enum st_sig_kind {
    ST_SIG_NONE = 0,
    ST_SIG_SHAREDKEY = 1,
    ST_SIG_SERVICE_SAS = 2,
    ST_SIG_ACCOUNT_SAS = 3,
};

#define ST_SIG_ACCEPT_SKEW 900    /* seconds a Shared Key x-ms-date/Date may be off (15 min) */
#define ST_SIG_MAX_STS (64 * 1024) /* cap on a string-to-sign; larger requests are refused */
#define ST_SIG_MAX_HEADERS 256     /* cap on x-ms-* headers in a Shared Key request */
#define ST_SIG_MAX_QUERY 64        /* cap on query parameters */
#define ST_SIG_FIELD_MAX 1024      /* cap on one SAS field (bytes, NUL included) */
#define ST_SIG_DETAIL_MAX 4096     /* AuthenticationErrorDetail, truncated with "..." */

/*
 * The outcome of a check. On refusal, status/code/message are what the caller answers with (the
 * Blob error XML and x-ms-error-code); detail, when non-empty, goes into
 * <AuthenticationErrorDetail> (it may quote the string-to-sign, never a key). On success status is
 * 200 and, for a service SAS, the rsc* fields carry the response header overrides that Get Blob
 * applies (Cache-Control, Content-Disposition, Content-Encoding, Content-Language, Content-Type;
 * empty when not given) and ses the signed encryption scope (empty when none; the caller decides
 * whether it can honour it).
 */
struct st_sig_result {
    int status;        /* 200, or 400 / 401 / 403 */
    char code[48];     /* "AuthenticationFailed", ... ("" on success) */
    char message[192]; /* Azure's message for the code */
    char detail[ST_SIG_DETAIL_MAX];
    enum st_sig_kind kind; /* what was checked */
    int key_index;         /* 1 or 2: the key that matched (success only) */
    char rscc[ST_SIG_FIELD_MAX], rscd[ST_SIG_FIELD_MAX], rsce[ST_SIG_FIELD_MAX], rscl[ST_SIG_FIELD_MAX],
        rsct[ST_SIG_FIELD_MAX];
    char ses[ST_SIG_FIELD_MAX];
};

/* What the operation needs from a SAS. */
struct st_sas_need {
    const char *container; /* decoded container name, NULL for service-level requests */
    const char *blob;      /* decoded blob name, NULL for container- and service-level requests */
    const char *perms;     /* permission letters of which any one suffices, e.g. "r", "cw" */
    enum st_sig_level level;
    int is_tls;          /* the request arrived over TLS */
    const char *peer_ip; /* the caller's address ("10.0.0.7", "::ffff:10.0.0.7"), or NULL */
};

/* Returns 1 when the query carries a `sig` parameter (a SAS request), else 0. */
int st_sig_is_sas(const struct st_sig_req *r);

/*
 * Verifies `Authorization: SharedKey {account}:{sig}` for the account, with key1 then key2 (raw
 * 64-byte keys; key2 may be NULL), trying the documented header order, the storage-common <= 12.4.x
 * order with Content-Language before Content-Encoding (only when either is present), and the
 * SDK's canonical query that leaves out empty parameters (only when one is present). The request
 * date (x-ms-date, else Date) must be within ST_SIG_ACCEPT_SKEW seconds of now.
 * Returns CK_OK with res->status 200, or:
 *   CK_E_UNAUTHENTICATED  401 NoAuthenticationInformation (no Authorization header)
 *   CK_E_INVALID          400 InvalidAuthenticationInfo (not "SharedKey account:base64")
 *   CK_E_FORBIDDEN        403 AuthenticationFailed (wrong account, missing/bad/stale date, bad MAC)
 *   CK_E_NOMEM / CK_E_CRYPTO 500 InternalError
 * res is always written.
 */
int st_sharedkey_check(const struct st_sig_req *r, const char *account, const struct ck_secret *key1,
                       const struct ck_secret *key2, int64_t now, struct st_sig_result *res) CK_MUST_CHECK;

/*
 * Verifies a service or account SAS in the query for the operation described by need. Order of
 * checks: form, refusal of si and user delegation SAS, resource type, signature (key1 then key2),
 * st <= now <= se, spr, sip, ss (account SAS), srt / signed resource, permissions.
 * Returns CK_OK with res->status 200 (and the overrides), or CK_E_FORBIDDEN with 403 and one of
 * AuthenticationFailed, AuthorizationResourceTypeMismatch, AuthorizationProtocolMismatch,
 * AuthorizationSourceIPMismatch, AuthorizationServiceMismatch, AuthorizationPermissionMismatch;
 * CK_E_NOMEM / CK_E_CRYPTO with 500 InternalError. res is always written.
 */
int st_sas_check(const struct st_sig_req *r, const char *account, const struct st_sas_need *need,
                 const struct ck_secret *key1, const struct ck_secret *key2, int64_t now,
                 struct st_sig_result *res) CK_MUST_CHECK;

/* Parses an RFC 1123 date ("Mon, 23 Nov 2026 08:47:40 GMT"; also without the weekday). Returns
 * CK_OK and sets *out (seconds since the epoch), or CK_E_INVALID. */
int st_sig_parse_rfc1123(const char *s, int64_t *out) CK_MUST_CHECK;
/* Parses a SAS time: "2026-11-23", "2026-11-23T09:37Z", "2026-11-23T09:37:39Z", with optional
 * fractional seconds (dropped) and a "Z" or "+hh:mm"/"-hh:mm" zone. Returns CK_OK or CK_E_INVALID. */
int st_sig_parse_iso8601(const char *s, int64_t *out) CK_MUST_CHECK;

/* The storage-common SharedKeyComparator on lower-cased header names: < 0 when a sorts before b,
 * > 0 otherwise (never 0, like the SDK). Exposed for tests. */
int st_sig_header_cmp(const char *a, const char *b);

#endif
