/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_CORE_ERR_H
#define CK_CORE_ERR_H

/*
 * One error enum for the whole code base, generated from one table. Each row carries the HTTP
 * status a handler answers with when the error escapes to the wire, a generic code string, and a
 * short text. Protocol-specific codes (AADSTS numbers, ARM and Key Vault codes) are chosen by the
 * service that writes the error body; the per-request message carries the human detail.
 */
#define CK_ERRORS(X)                                                                  \
    X(CK_OK, 200, "OK", "success")                                                    \
    X(CK_E_NOMEM, 500, "InternalError", "out of memory")                              \
    X(CK_E_INTERNAL, 500, "InternalError", "internal error")                          \
    X(CK_E_IO, 500, "InternalError", "input/output error")                            \
    X(CK_E_CRYPTO, 500, "InternalError", "cryptographic operation failed")            \
    X(CK_E_DB, 500, "InternalError", "metadata store error")                          \
    X(CK_E_INVALID, 400, "BadRequest", "invalid input")                               \
    X(CK_E_TOO_LARGE, 413, "RequestBodyTooLarge", "input exceeds its size limit")     \
    X(CK_E_NOT_FOUND, 404, "NotFound", "not found")                                   \
    X(CK_E_EXISTS, 409, "Conflict", "already exists")                                 \
    X(CK_E_UNAUTHENTICATED, 401, "Unauthorized", "authentication required")          \
    X(CK_E_FORBIDDEN, 403, "Forbidden", "access denied")                              \
    X(CK_E_VERIFY, 401, "Unauthorized", "verification failed")                        \
    X(CK_E_EXPIRED, 401, "Unauthorized", "expired or not yet valid")                  \
    X(CK_E_UNAVAILABLE, 503, "ServiceUnavailable", "upstream unavailable")            \
    X(CK_E_TIMEOUT, 504, "GatewayTimeout", "upstream timed out")                      \
    X(CK_E_LIMIT, 400, "LimitExceeded", "limit exceeded")                              \
    X(CK_E_CANCELLED, 503, "ServiceUnavailable", "cancelled")

typedef enum {
#define CK_ERR_ENUM(name, status, code, text) name,
    CK_ERRORS(CK_ERR_ENUM)
#undef CK_ERR_ENUM
        CK_E__COUNT
} ck_err;

/* Returns the HTTP status for err (500 for values outside the table). */
int ck_err_status(ck_err err);
/* Returns the generic code string for err; never NULL. */
const char *ck_err_code(ck_err err);
/* Returns the short text for err; never NULL. */
const char *ck_err_text(ck_err err);

#define CK_MUST_CHECK __attribute__((warn_unused_result))

#endif
