/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_AUTHZ_SHARED_KEY_H
#define CK_AUTHZ_SHARED_KEY_H

#include "core/secret.h"

/*
 * Checks an "Authorization: <scheme> <key>" header value against key (the key's text, as held in
 * the key files of docs/internal-api.md) in constant time. The scheme is matched without regard
 * to case. Returns 1 on a match, 0 otherwise (including NULL arguments).
 */
int ck_shared_key_ok(const char *authorization, const char *scheme, const struct ck_secret *key)
    __attribute__((warn_unused_result));

#endif
