/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_BENCH_CPU_H
#define CK_BENCH_CPU_H

/* CPU time of a process (the daemon, from /proc) and of this process (the client), for the
 * per-operation CPU figures of the benchmarks. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

/* CPU seconds (user + system, all threads) used so far by pid; 0 when unknown. */
static inline double bench_cpu_of(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long long ut = 0, st = 0;
    if (pid <= 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name (which ends with the last ')'): state is field 3, utime 14. */
    const char *p = strrchr(buf, ')');
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds (user + system, all threads) used so far by this process. */
static inline double bench_cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

#endif
