#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The Azurite drop-in (issue 4): crosskeyd --dev-account on the default development port 10000,
# used through the connection string "UseDevelopmentStorage=true" exactly
# (tests/compat/standalone/blob-devstorage.mjs). The plain-HTTP listener is on 127.0.0.1:10000 only,
# and a start without --dev-account listens on no port 10000 at all. Skips (77) when something
# else holds port 10000. Usage: test_blob_devstorage.sh <build dir>.
set -u
build=$(CDPATH="" cd -- "${1:?usage: test_blob_devstorage.sh <build dir>}" && pwd)
. "$(dirname -- "$0")/lib.sh"
command -v ss >/dev/null 2>&1 || { echo "SKIP: ss (iproute2) not installed"; exit 77; }

# listeners: the listening TCP sockets on port 10000, as "address:port users:((...pid=N...))".
listeners() {
    ss -ltnpH 'sport = :10000' | awk '{ print $4, $6 }'
}

if [ -n "$(listeners)" ]; then
    echo "SKIP: port 10000 is already in use:"; listeners; exit 77
fi

# start FLAGS...: starts crosskeyd on $data and sets $dpid to the daemon (a child of timeout).
start() {
    rm -f "$data/endpoints.json"
    e2e_start --blob-port 0 "$@"
    dpid=$(pgrep -P "$pid" | head -n 1)
    [ -n "$dpid" ] || { echo "FAIL: cannot find the crosskeyd process under timeout $pid"; exit 1; }
}
# stop: stops crosskeyd and judges its log (each start rewrites it). Sanitizer builds: a memory
# error or undefined behaviour reported in the log fails; leaks reported at exit are shown only.
stop() {
    kill -TERM "$pid"; wait "$pid" 2>/dev/null; pid=""
    if grep -E 'ERROR: AddressSanitizer|runtime error:' "$work/daemon.log"; then
        echo "FAIL: sanitizer report in the daemon log (above)"; exit 1
    fi
    grep 'SUMMARY: AddressSanitizer: .* leaked' "$work/daemon.log" && echo "note: LeakSanitizer reported leaks at exit (not judged here)"
}

# With --dev-account and no --dev-port: the plain-HTTP listener on 127.0.0.1:10000, nowhere else.
start --dev-account
dev=$(jq -r '.blobDev // empty' "$data/endpoints.json")
[ "$dev" = "http://127.0.0.1:10000" ] || { echo "FAIL: endpoints.json blobDev is '$dev', not http://127.0.0.1:10000"; exit 1; }
got=$(listeners)
echo "listening on port 10000: $got"
if [ "$(echo "$got" | wc -l)" -ne 1 ] || ! echo "$got" | grep -q "^127\.0\.0\.1:10000 .*pid=$dpid,"; then
    echo "FAIL: expected exactly one listener on 127.0.0.1:10000, by crosskeyd (pid $dpid)"; exit 1
fi
# Every listener of the daemon, the plain-HTTP ones included, is on loopback (no 0.0.0.0, no [::]).
ss -ltnpH | grep "pid=$dpid," | awk '{ print $4 }' >"$work/ours.txt"
if grep -v '^127\.0\.0\.1:' "$work/ours.txt"; then
    echo "FAIL: crosskeyd listens beyond 127.0.0.1 (above)"; exit 1
fi
echo "ok: the development listener is 127.0.0.1:10000 only ($(wc -l <"$work/ours.txt" | tr -d ' ') listeners, all on 127.0.0.1)"

# Exactly UseDevelopmentStorage=true, as an Azurite user writes it.
(cd "$compat" && exec timeout 120 node standalone/blob-devstorage.mjs) || {
    echo "FAIL: UseDevelopmentStorage=true checks"; tail -n 30 "$work/daemon.log"; exit 1
}
echo "ok: UseDevelopmentStorage=true: container and blob create, upload, list, download, delete"
stop

# Without --dev-account: no listener on port 10000 and no blobDev endpoint.
start
dev=$(jq -r '.blobDev // empty' "$data/endpoints.json")
[ -z "$dev" ] || { echo "FAIL: blobDev '$dev' in endpoints.json without --dev-account"; exit 1; }
if listeners | grep "pid=$dpid,"; then
    echo "FAIL: crosskeyd without --dev-account listens on port 10000 (above)"; exit 1
fi
stop
echo "ok: without --dev-account there is no listener on port 10000"
echo "ok: all blob devstorage checks passed"
