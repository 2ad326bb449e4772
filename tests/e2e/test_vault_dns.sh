#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Vaults under a DNS suffix (crosskeyd --vault-dns-suffix vault.localtest): one shared origin routed
# by Host header, a server certificate for *.vault.localtest, and the unmodified Key Vault SDK
# without disableChallengeResourceVerification (tests/compat/standalone/vault-dns.mjs). Usage: <build dir>.
set -u
build=$(CDPATH="" cd -- "${1:?usage: test_vault_dns.sh <build dir>}" && pwd)
. "$(dirname -- "$0")/lib.sh"

e2e_start --vault-dns-suffix vault.localtest
if ! openssl x509 -in "$data/tls/server.pem" -noout -text | grep -q 'DNS:\*\.vault\.localtest'; then
    echo "FAIL: the server certificate does not name *.vault.localtest"; exit 1
fi
e2e_node "vault DNS-suffix" --import ./standalone/resolve-localtest.mjs standalone/vault-dns.mjs
