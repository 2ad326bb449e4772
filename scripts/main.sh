#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The main job: install dependencies, build Release, start crosskeyd on a fresh data directory,
# create two tenants (an ISV and its customer) and print them with the service endpoints.
# The daemon keeps running afterwards; the last lines say how to stop it.
#
# Environment: CK_DATA (data directory; default a new out/data.XXXXXX), CK_DAEMON_ARGS (extra
# crosskeyd flags, e.g. "--port 9443").
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

echo
echo "== tenant: isv"
"$root/build/crosskey" --data "$data" tenant create --display-name isv
echo
echo "== tenant: customer"
"$root/build/crosskey" --data "$data" tenant create --display-name customer
echo
echo "== endpoints ($data/endpoints.json)"
cat "$data/endpoints.json"
echo
echo
ca=$(jq -r '.caFile // empty' "$data/endpoints.json" 2>/dev/null || true)
echo "crosskeyd is running: pid $pid, data $data, log $log"
echo "Clients trust its CA with:  export NODE_EXTRA_CA_CERTS=${ca:-$data/tls/ca.pem}"
echo "Operator CLI:               $root/build/crosskey --data $data tenant list"
echo "Stop it with:               kill $pid"
