#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds and runs the token benchmark with full-length measurements.
# Usage: bench/run.sh [build-dir] [bench_tokens options]   (default build dir: build-bench, Release)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build-bench"}
[ $# -gt 0 ] && shift
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" --target bench_tokens -j2 >/dev/null
echo "# $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //'); $(nproc) cpus"
echo "# $(openssl version)"
"$build/bench/bench_tokens" "$@"
