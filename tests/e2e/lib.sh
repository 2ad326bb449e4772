# SPDX-License-Identifier: Apache-2.0
# Shared by the e2e scripts that run a Node program of tests/compat against their own crosskeyd.
# Source it after setting $build; it sets $root, $compat, $work, $data and a cleanup trap.

root=$(CDPATH="" cd -- "$(dirname -- "$0")/../.." && pwd)
compat="$root/tests/compat"
if [ ! -d "$compat/node_modules/@azure/keyvault-keys" ]; then
    echo "SKIP: npm dependencies missing (run scripts/setup.sh)"; exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/ck-e2e.XXXXXX")
data="$work/data"
pid=""
e2e_cleanup() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
    if [ "${CK_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

# e2e_start [crosskeyd flags...]: starts crosskeyd on $data (kernel-chosen ports, bounded by
# timeout) and waits for endpoints.json; then creates the tenant "cust" into $work/tenant.json.
e2e_start() {
    timeout -s TERM 240 "$build/crosskeyd" --data "$data" --port 0 --mi-port 0 --vault-ports 0-0 "$@" \
        </dev/null 2>"$work/daemon.log" &
    pid=$!
    i=0
    while [ ! -s "$data/endpoints.json" ]; do
        kill -0 "$pid" 2>/dev/null || { echo "FAIL: crosskeyd exited"; cat "$work/daemon.log"; pid=""; exit 1; }
        [ $i -lt 300 ] || { echo "FAIL: no endpoints.json"; exit 1; }
        sleep 0.1; i=$((i + 1))
    done
    "$build/crosskey" --data "$data" tenant create --display-name cust >"$work/tenant.json" || { echo "FAIL: tenant create"; exit 1; }
}

# e2e_node WHAT [node flags...] SCRIPT: runs a compat program with the data dir and tenant file.
e2e_node() {
    what=$1
    shift
    node_flags=""
    [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ] && node_flags="--experimental-global-webcrypto"
    cd "$compat" || exit 1
    # shellcheck disable=SC2086
    if NODE_EXTRA_CA_CERTS="$data/tls/ca.pem" timeout 150 node $node_flags "$@" "$data" "$work/tenant.json"; then
        echo "ok: all $what checks passed"
    else
        echo "FAIL: $what checks"; tail -n 30 "$work/daemon.log"; exit 1
    fi
}
