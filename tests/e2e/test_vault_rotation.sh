#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Rotation policies with the scheduler (moved by the operator's test clock), key-state events and
# the audit log, against a crosskeyd with --test-clock (tests/compat/standalone/vault-rotation-events.mjs).
# Usage: test_vault_rotation.sh <build dir>.
set -u
build=$(CDPATH="" cd -- "${1:?usage: test_vault_rotation.sh <build dir>}" && pwd)
root=$(CDPATH="" cd -- "$(dirname -- "$0")/../.." && pwd)
compat="$root/tests/compat"
if [ ! -d "$compat/node_modules/@azure/keyvault-keys" ]; then
    echo "SKIP: npm dependencies missing (run scripts/setup.sh)"; exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/ck-e2e-vrot.XXXXXX")
data="$work/data"
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
    if [ "${CK_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

timeout -s TERM 240 "$build/crosskeyd" --data "$data" --port 0 --mi-port 0 --vault-ports 0-0 --test-clock \
    </dev/null 2>"$work/daemon.log" &
pid=$!
i=0
while [ ! -s "$data/endpoints.json" ]; do
    kill -0 "$pid" 2>/dev/null || { echo "FAIL: crosskeyd exited"; cat "$work/daemon.log"; pid=""; exit 1; }
    [ $i -lt 300 ] || { echo "FAIL: no endpoints.json"; exit 1; }
    sleep 0.1; i=$((i + 1))
done
"$build/crosskey" --data "$data" tenant create --display-name cust >"$work/tenant.json" || { echo "FAIL: tenant create"; exit 1; }
node_flags=""
[ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ] && node_flags="--experimental-global-webcrypto"
cd "$compat" || exit 1
# shellcheck disable=SC2086
if NODE_EXTRA_CA_CERTS="$data/tls/ca.pem" timeout 150 node $node_flags standalone/vault-rotation-events.mjs \
        "$data" "$work/tenant.json"; then
    echo "ok: all vault rotation and event checks passed"
else
    echo "FAIL: vault rotation and event checks"; tail -n 30 "$work/daemon.log"; exit 1
fi
