#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The whole test suite: unit, lint, end-to-end and SDK compatibility tests, first on a Release
# build with -Werror (build/), then on a Debug build under AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/). Exits non-zero if anything fails.
#
# Environment: CK_SKIP_ASAN=1 skips the sanitizer pass; CTEST_ARGS adds ctest arguments
# (e.g. "-L compat" or "-R e2e").
set -u

root=$(CDPATH="" cd -- "$(dirname -- "$0")/.." && pwd)
cd "$root" || exit 1

"$root/scripts/setup.sh" || { echo "test.sh: setup failed" >&2; exit 1; }

failed=""

run_pass() { # name builddir cmake-args...
    name=$1 dir=$2
    shift 2
    echo "== $name: configure and build ($dir)"
    if ! cmake -S . -B "$dir" "$@"; then failed="$failed $name:configure"; return; fi
    if ! cmake --build "$dir" -j2; then failed="$failed $name:build"; return; fi
    echo "== $name: ctest"
    # shellcheck disable=SC2086
    if ! ctest --test-dir "$dir" --output-on-failure ${CTEST_ARGS:-}; then failed="$failed $name:ctest"; fi
}

run_pass release build -DCMAKE_BUILD_TYPE=Release -DCK_WERROR=ON

if [ "${CK_SKIP_ASAN:-0}" != 1 ]; then
    # LeakSanitizer cannot run everywhere (e.g. under ptrace or some seccomp sandboxes): try it on
    # a program that leaks nothing and keep leak detection only if that program passes.
    leaks=0
    probe=$(mktemp -d)
    printf 'int main(void){return 0;}\n' >"$probe/p.c"
    if cc -fsanitize=address -o "$probe/p" "$probe/p.c" 2>/dev/null &&
       ASAN_OPTIONS=detect_leaks=1 "$probe/p" >/dev/null 2>&1; then
        leaks=1
    else
        echo "test.sh: LeakSanitizer does not work here; running ASan without leak detection"
    fi
    rm -rf "$probe"
    export ASAN_OPTIONS="detect_leaks=$leaks:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    run_pass asan build-asan -DCMAKE_BUILD_TYPE=Debug -DCK_WERROR=ON -DCK_SANITIZE=ON
fi

if [ -n "$failed" ]; then
    echo "test.sh: FAILED:$failed" >&2
    exit 1
fi
echo "test.sh: all passes succeeded"
