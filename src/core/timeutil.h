/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_CORE_TIMEUTIL_H
#define CK_CORE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Wall-clock seconds since the epoch. Tests can shift it with ck_time_set_offset(). */
int64_t ck_time_now(void);
/* Adds offset seconds to every later ck_time_now() (a test clock). */
void ck_time_set_offset(int64_t offset);
/* Monotonic milliseconds, for latencies and timeouts. */
int64_t ck_mono_ms(void);
/* The CLOCK_REALTIME instant ms milliseconds from now, for pthread_cond_timedwait. */
struct timespec;
void ck_deadline_after_ms(int64_t ms, struct timespec *ts);
/* Formats t as "2024-01-01T00:00:00.0000000Z" (the ARM form) into out; returns out. */
char *ck_time_iso8601(int64_t t, char *out, size_t outlen);
/* Formats t as "2024-01-01 00:00:00Z" (the Entra error timestamp form). */
char *ck_time_entra(int64_t t, char *out, size_t outlen);
/* Formats t as an RFC 1123 date ("Mon, 01 Jan 2024 00:00:00 GMT"). */
char *ck_time_rfc1123(int64_t t, char *out, size_t outlen);

#endif
