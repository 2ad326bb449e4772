#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds and runs the benchmarks with full-length measurements.
# Usage: bench/run.sh [build-dir] [tokens|unwrap|all] [options of that benchmark]
#   (default build dir: build-bench, Release; default: all, with the options going to bench_tokens)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-bench"
if [ $# -gt 0 ]; then
  case "$1" in
    tokens|unwrap|all|-*) ;;
    *) build=$1; shift ;;
  esac
fi
which=all
if [ $# -gt 0 ]; then
  case "$1" in
    tokens|unwrap|all) which=$1; shift ;;
  esac
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" --target bench_tokens bench_unwrap crosskeyd -j2 >/dev/null
echo "# $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //'); $(nproc) cpus"
echo "# $(openssl version)"
case "$which" in
  tokens) "$build/bench/bench_tokens" "$@" ;;
  unwrap) "$build/bench/bench_unwrap" --daemon "$build/crosskeyd" "$@" ;;
  all)
    "$build/bench/bench_tokens" "$@"
    echo
    "$build/bench/bench_unwrap" --daemon "$build/crosskeyd"
    ;;
esac
