/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error bodies in the three shapes the identity service speaks: Entra's token-endpoint JSON with
 * AADSTS codes (wire reference A.4), Graph's error object (C.8), and ARM's envelope for the
 * operator API and the managed-identity resource provider; plus the shared-key check.
 */
#include "services/identity/idp_int.h"
#include "authz/shared_key.h"
#include "core/timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void idp_aad_error(struct ck_req *req, struct ck_resp *resp, int status, const char *error, int aadsts,
                   const char *fmt, ...)
{
    char msg[1024], desc[1400], ts[40], uri[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ck_time_entra(ck_time_now(), ts, sizeof(ts));
    const char *corr = ck_req_header(req, "client-request-id");
    if (corr == NULL)
        corr = ck_req_query(req, "client-request-id");
    if (corr == NULL || strlen(corr) > 64)
        corr = ck_req_id(req);
    snprintf(desc, sizeof(desc), "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aadsts, msg,
             ck_req_id(req), corr, ts);
    snprintf(uri, sizeof(uri), "https://login.microsoftonline.com/error?code=%d", aadsts);
    json_t *body = json_pack("{s:s,s:s,s:[i],s:s,s:s,s:s,s:s}", "error", error, "error_description", desc,
                             "error_codes", aadsts, "timestamp", ts, "trace_id", ck_req_id(req), "correlation_id", corr,
                             "error_uri", uri);
    ck_resp_json(resp, status, body);
    json_decref(body);
}

void idp_graph_error(struct ck_req *req, struct ck_resp *resp, int status, const char *code, const char *fmt, ...)
{
    char msg[1024], ts[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *crid = ck_req_header(req, "client-request-id");
    ck_time_iso8601(ck_time_now(), ts, sizeof(ts));
    json_t *body = json_pack("{s:{s:s,s:s,s:{s:s,s:s,s:s?}}}", "error", "code", code, "message", msg, "innerError",
                             "date", ts, "request-id", ck_req_id(req), "client-request-id", crid);
    ck_resp_json(resp, status, body);
    json_decref(body);
}

void idp_arm_error(struct ck_req *req, struct ck_resp *resp, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    (void)req;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    ck_resp_json(resp, status, body);
    json_decref(body);
}

int idp_check_shared_key(struct ck_req *req, const char *scheme, const struct ck_secret *key)
{
    return ck_shared_key_ok(ck_req_header(req, "Authorization"), scheme, key);
}
