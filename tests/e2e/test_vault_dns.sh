#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Vaults under a DNS suffix (crosskeyd --vault-dns-suffix vault.localtest): one shared origin routed
# by Host header, a server certificate for *.vault.localtest, and the unmodified Key Vault SDK
# without disableChallengeResourceVerification (tests/compat/standalone/vault-dns.mjs). Usage: <build dir>.
set -u
build=$(CDPATH="" cd -- "${1:?usage: test_vault_dns.sh <build dir>}" && pwd)
root=$(CDPATH="" cd -- "$(dirname -- "$0")/../.." && pwd)
compat="$root/tests/compat"
if [ ! -d "$compat/node_modules/@azure/keyvault-keys" ]; then
    echo "SKIP: npm dependencies missing (run scripts/setup.sh)"; exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/ck-e2e-vdns.XXXXXX")
data="$work/data"
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
    if [ "${CK_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

timeout -s TERM 240 "$build/crosskeyd" --data "$data" --port 0 --mi-port 0 --vault-ports 0-0 \
    --vault-dns-suffix vault.localtest </dev/null 2>"$work/daemon.log" &
pid=$!
i=0
while [ ! -s "$data/endpoints.json" ]; do
    kill -0 "$pid" 2>/dev/null || { echo "FAIL: crosskeyd exited"; cat "$work/daemon.log"; pid=""; exit 1; }
    [ $i -lt 300 ] || { echo "FAIL: no endpoints.json"; exit 1; }
    sleep 0.1; i=$((i + 1))
done
if ! openssl x509 -in "$data/tls/server.pem" -noout -text | grep -q 'DNS:\*\.vault\.localtest'; then
    echo "FAIL: the server certificate does not name *.vault.localtest"; exit 1
fi
"$build/crosskey" --data "$data" tenant create --display-name cust >"$work/tenant.json" || { echo "FAIL: tenant create"; exit 1; }
node_flags=""
[ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ] && node_flags="--experimental-global-webcrypto"
cd "$compat" || exit 1
# shellcheck disable=SC2086
if NODE_EXTRA_CA_CERTS="$data/tls/ca.pem" timeout 120 node $node_flags --import ./standalone/resolve-localtest.mjs \
        standalone/vault-dns.mjs "$data" "$work/tenant.json"; then
    echo "ok: all vault DNS-suffix checks passed"
else
    echo "FAIL: vault DNS-suffix checks"; tail -n 30 "$work/daemon.log"; exit 1
fi
