/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_CORE_LOG_H
#define CK_CORE_LOG_H

/*
 * Logging to stderr, one line per event, with a UTC timestamp. Libraries call ck_log only through
 * the sink a program installs; by default the sink writes to stderr. Nothing secret is ever
 * passed here: callers log identifiers, never tokens, secrets, bodies or query strings.
 */
enum ck_log_level { CK_LOG_DEBUG, CK_LOG_INFO, CK_LOG_WARN, CK_LOG_ERROR };

void ck_log_set_level(enum ck_log_level lvl);
void ck_log(enum ck_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
