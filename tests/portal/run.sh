#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Browser tests of the portal (docs/portal.md): playwright-core (tests/portal/package-lock.json)
# driving Debian's chromium headless against a real crosskeyd. Registered with ctest as
# portal_browser (label portal); usage: run.sh <build dir>. Exits 77 (skipped) when chromium is
# not installed (scripts/setup.sh installs it).
#
# Starts crosskeyd on a fresh temporary data directory with every port chosen by the kernel
# (--cmk-revalidate 3, so a revocation shows within seconds; --test-faults, so a test can take the
# customer's vault down), creates the two tenants of the
# procedure (isv, customer) and the cross-tenant chain with the crosskey CLI (chain.sh): the ISV's
# multi-tenant app, user-assigned identity and federated credential, the feature and provider
# registration, an existing storage account on Microsoft-managed keys; the customer's service
# principal of the app, a vault with purge protection and RBAC, an RSA key and Key Vault Crypto
# Service Encryption User for the app. Then runs each *.test.mjs file with `node --test`, in
# order, one process per file. Screenshots go to $CK_PORTAL_OUT (default <build dir>/Testing/portal),
# printed at the end. The daemon is always stopped by its pid; everything is bounded by timeout(1).
#
# Environment: CK_KEEP=1 keeps the temporary directory; CK_TESTS="a.test.mjs" runs only those
# files; CK_CHROMIUM selects the browser (default /usr/bin/chromium); NODE the node binary.
set -u

here=$(CDPATH="" cd -- "$(dirname -- "$0")" && pwd)
build=${1:?usage: run.sh <build dir>}
build=$(CDPATH="" cd -- "$build" && pwd)
node=${NODE:-node}
chromium=${CK_CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$chromium" ]; then
    echo "portal: $chromium is not installed (scripts/setup.sh installs Debian's chromium); skipping"
    exit 77
fi
for b in crosskeyd crosskey; do
    if [ ! -x "$build/$b" ]; then echo "portal: $build/$b is missing (build first)" >&2; exit 1; fi
done
if [ ! -d "$here/node_modules/playwright-core" ]; then
    echo "portal: node_modules missing; installing from package-lock.json"
    (cd "$here" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) || {
        echo "portal: npm ci failed (run scripts/setup.sh)" >&2; exit 1; }
fi

out=${CK_PORTAL_OUT:-$build/Testing/portal}
mkdir -p "$out" && rm -f "$out"/*.png
work=$(mktemp -d "${TMPDIR:-/tmp}/ck-portal.XXXXXX")
data="$work/data"
log="$work/crosskeyd.log"
mkdir -p "$data"
pid=""

stop_daemon() { # sets daemon_rc
    daemon_rc=""
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
        echo "portal: crosskeyd (pid $pid) still running 15 s after SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null
    daemon_rc=$?
    pid=""
}

cleanup() {
    stop_daemon
    if [ "${CK_KEEP:-0}" = 1 ]; then echo "portal: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The daemon is bounded by timeout(1); its pid is timeout's, which forwards SIGTERM.
timeout -s TERM 900 "$build/crosskeyd" --data "$data" --port 0 --mi-port 0 --blob-port 0 --vault-ports 0-0 \
    --cmk-revalidate 3 --cmk-ride-through 30 --cmk-version-poll 5 --test-faults </dev/null 2>"$log" >&2 &
pid=$!

i=0
while [ ! -s "$data/endpoints.json" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "portal: crosskeyd exited during start-up:" >&2; cat "$log" >&2; pid=""; exit 1
    fi
    if [ $i -ge 600 ]; then
        echo "portal: no endpoints.json after 60 s:" >&2; tail -n 50 "$log" >&2; exit 1
    fi
    sleep 0.1; i=$((i + 1))
done
sleep 0.2 # endpoints.json is written once every listener is up; let a non-atomic write finish
cp "$data/endpoints.json" "$work/endpoints.json"
echo "portal: crosskeyd pid $pid, endpoints:"; cat "$work/endpoints.json"; echo

if ! NODE="$node" timeout 300 "$here/chain.sh" "$build" "$data" "$work" >"$work/chain.log" 2>&1; then
    echo "portal: setting up the tenants and the cross-tenant chain failed:" >&2
    cat "$work/chain.log" >&2; tail -n 30 "$log" >&2; exit 1
fi
echo "portal: tenants and chain ready ($work/fixture.json)"

export CK_DATA="$data" CK_WORK="$work" CK_LOG="$log" CK_PORTAL_FIXTURE="$work/fixture.json"
export CK_PORTAL_OUT="$out" CK_CHROMIUM="$chromium"
export NODE_EXTRA_CA_CERTS="$data/tls/ca.pem"
unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy 2>/dev/null || true
export NO_PROXY="localhost,127.0.0.1"

cd "$here" || exit 1
tests=${CK_TESTS:-$(printf '%s\n' ./*.test.mjs | sort)}
failed=""
for f in $tests; do
    f=${f#./}
    echo "== portal: $f"
    if ! timeout -s KILL 300 "$node" --test "$f"; then failed="$failed $f"; fi
done

stop_daemon
if [ "$daemon_rc" != 0 ]; then
    echo "portal: crosskeyd exited with $daemon_rc after SIGTERM (want 0)" >&2
    failed="$failed daemon-exit"
fi
echo "portal: screenshots in $out:"
ls "$out" 2>/dev/null | sed 's/^/    /'
if [ -n "$failed" ]; then
    echo "portal: FAILED:$failed" >&2
    echo "portal: last lines of the daemon log:" >&2; tail -n 40 "$log" >&2
    exit 1
fi
echo "portal: all passed"
