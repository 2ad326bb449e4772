#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The main job: install dependencies, build Release, start crosskeyd on a fresh data directory and
# run `crosskey quickstart --revoke` against it: the whole cross-tenant customer-managed-key
# procedure, each step printed as the crosskey command that does it and its result, ending with the
# portal URL and a sign-in for each tenant. crosskeyd keeps running in the background afterwards
# (the script returns); the last lines say where everything is and how to stop it.
#
# Environment: CK_DATA (data directory; default a new out/data.XXXXXX), CK_DAEMON_ARGS (extra
# crosskeyd flags, e.g. "--port 9443"), CROSSKEY_CONFIG_DIR (the CLI profile the quickstart signs
# in to; default DATA.cli, next to the data directory, so ~/.crosskey is left alone).
set -eu

root=$(CDPATH="" cd -- "$(dirname -- "$0")/.." && pwd)
cd "$root"

"$root/scripts/setup.sh"

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2

mkdir -p out
pidfile="$root/out/crosskeyd.pid"
# A daemon left running by an earlier run holds the default ports: stop it (only that pid, and
# only if it still is crosskeyd).
if [ -f "$pidfile" ]; then
    old=$(cat "$pidfile")
    if [ -n "$old" ] && [ "$(cat "/proc/$old/comm" 2>/dev/null)" = crosskeyd ]; then
        echo "main.sh: stopping the crosskeyd started by an earlier run (pid $old)"
        kill "$old" 2>/dev/null || true
        i=0
        while kill -0 "$old" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    fi
    rm -f "$pidfile"
fi

if [ -n "${CK_DATA:-}" ]; then
    data=$CK_DATA
    mkdir -p "$data"
else
    data=$(mktemp -d "$root/out/data.XXXXXX")
fi
data=$(CDPATH="" cd -- "$data" && pwd)
log="$data.log"
rm -f "$data/endpoints.json"
export CROSSKEY_CONFIG_DIR="${CROSSKEY_CONFIG_DIR:-$data.cli}"

echo
echo "== Starting crosskeyd on $data (log: $log)"
# setsid: the daemon outlives this script and the terminal it ran in.
# shellcheck disable=SC2086
setsid "$root/build/crosskeyd" --data "$data" ${CK_DAEMON_ARGS:-} </dev/null >"$log" 2>&1 &
pid=$!
echo "$pid" >"$pidfile"

i=0
while [ ! -s "$data/endpoints.json" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "main.sh: crosskeyd exited during start-up; its log ($log):" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
    if [ $i -ge 300 ]; then
        echo "main.sh: crosskeyd wrote no $data/endpoints.json within 30 s; stopping it" >&2
        kill "$pid" 2>/dev/null || true
        tail -n 40 "$log" >&2
        exit 1
    fi
    sleep 0.1
    i=$((i + 1))
done
echo "crosskeyd is up (pid $pid): $(tr -d '\n ' <"$data/endpoints.json")"
echo

# The procedure, step by step. Its output ends with the portal URL and the tenants' sign-ins; it
# goes to this terminal only (the secrets in it are never written to a log).
if ! "$root/build/crosskey" --data "$data" quickstart --revoke; then
    echo >&2
    echo "main.sh: the quickstart failed (above). crosskeyd's log ($log) ends with:" >&2
    tail -n 20 "$log" >&2
    echo "main.sh: crosskeyd is still running (pid $pid) so that you can look; stop it with: kill $pid" >&2
    exit 1
fi

ca=$(sed -n 's/.*"caFile": *"\([^"]*\)".*/\1/p' "$data/endpoints.json")
echo
echo "crosskeyd keeps running in the background: pid $pid, data $data, log $log"
echo "Use the CLI as the quickstart left it:  export CROSSKEY_CONFIG_DIR=$CROSSKEY_CONFIG_DIR PATH=$root/build:\$PATH"
echo "  then e.g.:                            crosskey storage account list -o table"
echo "Run the procedure again (reuses all):   $root/build/crosskey --data $data quickstart --revoke"
echo "Clients trust its CA with:              export NODE_EXTRA_CA_CERTS=${ca:-$data/tls/ca.pem}"
echo "Stop it with:                           kill $pid"
