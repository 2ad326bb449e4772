/* SPDX-License-Identifier: Apache-2.0 */
/* Line-oriented stderr logging with a level filter; each line is written with one write call. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum ck_log_level ck_min_level = CK_LOG_INFO;

void ck_log_set_level(enum ck_log_level lvl)
{
    ck_min_level = lvl;
}

void ck_log(enum ck_log_level lvl, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    char line[2048];
    char ts[40];
    if (lvl < ck_min_level)
        return;
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t tn = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tn, sizeof(ts) - tn, ".%03ldZ", now.tv_nsec / 1000000);
    int n = snprintf(line, sizeof(line), "%s %s ", ts, names[lvl]);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = strlen(line);
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
