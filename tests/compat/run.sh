#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Compatibility suite: the official Azure SDKs for JavaScript (tests/compat/package-lock.json)
# against a real crosskeyd. Registered with ctest as compat_sdk; usage: run.sh <build dir>.
#
# Starts crosskeyd on a fresh temporary data directory with every port chosen by the kernel
# (port 0; the real ones are read from DIR/endpoints.json), creates the two tenants of the
# procedure (isv, customer) with the operator CLI, then runs each *.test.mjs file with
# `node --test`, one process per file (ManagedIdentityCredential fixes its source per process).
# After the daemon has stopped (SIGTERM must give exit 0), the secrets scan runs once more over the
# quiesced data directory. The daemon is always stopped by its pid; everything is bounded by
# timeout(1).
#
# Environment: CK_KEEP=1 keeps the temporary directory; CK_TESTS="a.test.mjs b.test.mjs" runs
# only those files; CK_DAEMON_FLAGS adds crosskeyd flags (e.g. "--cmk-events off"); NODE selects the
# node binary.
set -u

here=$(CDPATH="" cd -- "$(dirname -- "$0")" && pwd)
build=${1:?usage: run.sh <build dir>}
build=$(CDPATH="" cd -- "$build" && pwd)
node=${NODE:-node}

for b in crosskeyd crosskey; do
    if [ ! -x "$build/$b" ]; then echo "compat: $build/$b is missing (build first)" >&2; exit 1; fi
done
if [ ! -d "$here/node_modules/@azure/identity" ]; then
    echo "compat: node_modules missing; installing from package-lock.json"
    (cd "$here" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) || {
        echo "compat: npm ci failed (run scripts/setup.sh)" >&2; exit 1; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ck-compat.XXXXXX")
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
        echo "compat: crosskeyd (pid $pid) still running 15 s after SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null
    daemon_rc=$?
    pid=""
}

cleanup() {
    stop_daemon
    if [ "${CK_KEEP:-0}" = 1 ]; then
        echo "compat: kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The daemon itself is bounded by timeout(1); its pid is timeout's, which forwards SIGTERM.
timeout -s TERM 900 "$build/crosskeyd" --data "$data" --port 0 --mi-port 0 --blob-port 0 \
    --dev-account --dev-port 0 --cmk-revalidate 3 --cmk-ride-through 30 --cmk-version-poll 5 --test-faults ${CK_DAEMON_FLAGS:-} \
    </dev/null 2>"$log" >&2 &
pid=$!

i=0
while [ ! -s "$data/endpoints.json" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "compat: crosskeyd exited during start-up:" >&2; cat "$log" >&2; pid=""; exit 1
    fi
    if [ $i -ge 600 ]; then
        echo "compat: no endpoints.json after 60 s:" >&2; tail -n 50 "$log" >&2; exit 1
    fi
    sleep 0.1; i=$((i + 1))
done
sleep 0.2 # endpoints.json is written once every listener is up; let a non-atomic write finish
# crosskeyd removes endpoints.json when it stops; the tests read a copy.
cp "$data/endpoints.json" "$work/endpoints.json"
echo "compat: crosskeyd pid $pid, endpoints:"; cat "$work/endpoints.json"; echo

for t in isv customer; do
    if ! timeout 60 "$build/crosskey" --data "$data" tenant create --display-name "$t" >"$work/$t.json"; then
        echo "compat: crosskey tenant create --display-name $t failed" >&2; tail -n 20 "$log" >&2; exit 1
    fi
done

ca=$("$node" -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).caFile||"")' \
    "$work/endpoints.json")
[ -n "$ca" ] || ca="$data/tls/ca.pem"
export NODE_EXTRA_CA_CERTS="$ca"
export CK_DATA="$data" CK_BUILD="$build" CK_WORK="$work" CK_LOG="$log" CK_ENDPOINTS_FILE="$work/endpoints.json"
export CK_ISV_FILE="$work/isv.json" CK_CUSTOMER_FILE="$work/customer.json"
# Keep the SDKs on our endpoints only.
unset AZURE_AUTHORITY_HOST AZURE_REGIONAL_AUTHORITY_NAME MSAL_FORCE_REGION IDENTITY_ENDPOINT \
      IDENTITY_HEADER MSI_ENDPOINT MSI_SECRET IMDS_ENDPOINT AZURE_POD_IDENTITY_AUTHORITY_HOST \
      AZURE_FEDERATED_TOKEN_FILE AZURE_CLIENT_ID AZURE_TENANT_ID AZURE_CLIENT_SECRET \
      HTTPS_PROXY https_proxy HTTP_PROXY http_proxy 2>/dev/null || true
export NO_PROXY="localhost,127.0.0.1"

# Node 18 (Debian 12's own nodejs) has the Web Crypto global only behind a flag; the pinned SDKs
# (core-util, msal-node) use it. Node >= 20 has it by default.
major=$("$node" -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
    export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--experimental-global-webcrypto"
fi

cd "$here" || exit 1
tests=${CK_TESTS:-$(printf '%s\n' ./*.test.mjs | sort)}
failed=""
for f in $tests; do
    f=${f#./}
    echo "== compat: $f"
    if ! timeout -s KILL 300 "$node" --test "$f"; then failed="$failed $f"; fi
done

stop_daemon
if [ "$daemon_rc" != 0 ]; then
    echo "compat: crosskeyd exited with $daemon_rc after SIGTERM (want 0)" >&2
    failed="$failed daemon-exit"
fi
if [ -f secrets-scan.test.mjs ]; then
    echo "== compat: secrets-scan.test.mjs (daemon stopped)"
    if ! CK_DAEMON_STOPPED=1 timeout -s KILL 120 "$node" --test secrets-scan.test.mjs; then
        failed="$failed secrets-scan-after-stop"
    fi
fi

if [ -n "$failed" ]; then
    echo "compat: FAILED:$failed" >&2
    echo "compat: last lines of the daemon log:" >&2; tail -n 40 "$log" >&2
    exit 1
fi
echo "compat: all passed"
