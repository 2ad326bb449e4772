/* SPDX-License-Identifier: Apache-2.0 */
/* Clock access with a test offset, and the date formats the Azure protocols use. */
#include "core/timeutil.h"

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static _Atomic int64_t ck_time_offset;

void ck_time_set_offset(int64_t offset)
{
    atomic_store(&ck_time_offset, offset);
}

int64_t ck_time_now(void)
{
    return (int64_t)time(NULL) + atomic_load(&ck_time_offset);
}

int64_t ck_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct tm ck_gm(int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    return tm;
}

char *ck_time_iso8601(int64_t t, char *out, size_t outlen)
{
    struct tm tm = ck_gm(t);
    if (strftime(out, outlen, "%Y-%m-%dT%H:%M:%S.0000000Z", &tm) == 0 && outlen > 0)
        out[0] = '\0';
    return out;
}

char *ck_time_entra(int64_t t, char *out, size_t outlen)
{
    struct tm tm = ck_gm(t);
    if (strftime(out, outlen, "%Y-%m-%d %H:%M:%SZ", &tm) == 0 && outlen > 0)
        out[0] = '\0';
    return out;
}

char *ck_time_rfc1123(int64_t t, char *out, size_t outlen)
{
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm = ck_gm(t);
    snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return out;
}

void ck_deadline_after_ms(int64_t ms, struct timespec *ts)
{
    if (ms < 0)
        ms = 0;
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}
