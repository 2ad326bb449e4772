#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds and runs the benchmarks with full-length measurements.
# Usage: bench/run.sh [build-dir] [tokens|unwrap|blob|cmk|all] [options of that benchmark]
#   (default build dir: build-bench, Release; default: all, with the options going to bench_tokens)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-bench"
if [ $# -gt 0 ]; then
  case "$1" in
    tokens|unwrap|blob|cmk|all|-*) ;;
    *) build=$1; shift ;;
  esac
fi
which=all
if [ $# -gt 0 ]; then
  case "$1" in
    tokens|unwrap|blob|cmk|all) which=$1; shift ;;
  esac
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" --target bench_tokens bench_unwrap bench_blob bench_static crosskeyd crosskey -j2 >/dev/null
# Azurite, the blob benchmark's peer, from npm (bench/azurite/package-lock.json); without it the
# benchmark still runs and says "Azurite: not available".
azurite_setup() {
  az="$root/bench/azurite"
  [ -x "$az/node_modules/.bin/azurite-blob" ] && return 0
  if command -v npm >/dev/null 2>&1; then
    (cd "$az" && timeout 600 npm ci --no-audit --no-fund >/dev/null 2>&1) ||
      echo "# npm ci in bench/azurite failed" >&2
  else
    echo "# npm not found" >&2
  fi
  return 0
}
blob() {
  azurite_setup
  "$build/bench/bench_blob" --daemon "$build/crosskeyd" --static "$build/bench/bench_static" \
    --azurite "$root/bench/azurite" "$@"
}
echo "# $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //'); $(nproc) cpus"
echo "# $(openssl version)"
case "$which" in
  tokens) "$build/bench/bench_tokens" "$@" ;;
  unwrap) "$build/bench/bench_unwrap" --daemon "$build/crosskeyd" "$@" ;;
  blob) blob "$@" ;;
  cmk) "$root/bench/bench_cmk.sh" "$build" "$@" ;;
  all)
    "$build/bench/bench_tokens" "$@"
    echo
    "$build/bench/bench_unwrap" --daemon "$build/crosskeyd"
    echo
    blob
    echo
    "$root/bench/bench_cmk.sh" "$build"
    ;;
esac
