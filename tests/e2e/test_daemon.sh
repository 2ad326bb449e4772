#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# crosskeyd end to end: start on a fresh directory with kernel-chosen ports, endpoints.json,
# OIDC discovery over TLS with the local CA, one log line per request with neither query string
# nor secret, SIGTERM -> exit 0, and a restart on the same directory that keeps the tenant, its
# signing key and its client secret. Usage: test_daemon.sh <build dir>.
set -u

build=$(CDPATH="" cd -- "${1:?usage: test_daemon.sh <build dir>}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ck-e2e-daemon.XXXXXX")
data="$work/data"
pid=""
fails=0
log=""

cleanup() {
    if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
    if [ "${CK_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
die() { echo "FAIL: $*" >&2; [ -f "$log" ] && tail -n 30 "$log" >&2; exit 1; }

start() { # log file
    log=$1
    rm -f "$data/endpoints.json.seen"
    timeout -s TERM 300 "$build/crosskeyd" --data "$data" --port 0 --mi-port 0 --blob-port 0 </dev/null 2>"$log" >&2 &
    pid=$!
    i=0
    while [ ! -s "$data/endpoints.json" ]; do
        kill -0 "$pid" 2>/dev/null || { pid=""; die "crosskeyd exited during start-up"; }
        [ $i -lt 600 ] || die "no endpoints.json after 60 s"
        sleep 0.1; i=$((i + 1))
    done
    sleep 0.2
    authority=$(jq -r '.authority' "$data/endpoints.json" | sed 's:/*$::')
    ca=$(jq -r '.caFile' "$data/endpoints.json")
}

stop() { # expects exit 0 after SIGTERM
    kill -TERM "$pid"
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$pid" 2>/dev/null; then fail "crosskeyd still running 15 s after SIGTERM"; kill -KILL "$pid"; fi
    wait "$pid"
    rc=$?
    pid=""
    if [ "$rc" = 0 ]; then ok "SIGTERM -> exit 0"; else fail "SIGTERM -> exit $rc (want 0)"; fi
}

curl_ca() { curl -sS --max-time 20 --cacert "$ca" "$@"; }

# ---- first start ----
start "$work/log1"

# DESIGN.md section 6, invariant 2: core dumps of the daemon would carry keys; it turns them off.
dpid=$(pgrep -P "$pid" -x crosskeyd || echo "$pid")
if grep -Eq '^Max core file size +0 +0 ' "/proc/$dpid/limits"; then
    ok "core dumps are disabled in the daemon"
else
    fail "core dumps are not disabled: $(grep 'core file' "/proc/$dpid/limits")"
fi
for k in authority arm graph blob managedIdentity caFile; do
    if jq -e --arg k "$k" 'has($k)' "$data/endpoints.json" >/dev/null; then ok "endpoints.json has $k"
    else fail "endpoints.json lacks $k"; fi
done
echo "$authority" | grep -Eq '^https://(localhost|127\.0\.0\.1):[0-9]+$' || fail "authority is $authority"
[ "$(echo "$authority" | sed 's/.*://')" != 0 ] || fail "authority port is 0"
jq -r '.managedIdentity' "$data/endpoints.json" | grep -Eq '^http://127\.0\.0\.1:[1-9][0-9]*' || fail "managedIdentity is not http://127.0.0.1:<port>"
[ -s "$ca" ] || fail "caFile $ca missing"
grep -q 'BEGIN CERTIFICATE' "$ca" || fail "caFile is not a PEM certificate"
# only loopback listeners
port=$(echo "$authority" | sed 's/.*://')
if command -v ss >/dev/null 2>&1; then
    if ss -ltnH "sport = :$port" | awk '{print $4}' | grep -vqE '^(127\.0\.0\.1|\[::1\]):'; then fail "main port listens beyond loopback"; fi
fi

isv=$(timeout 60 "$build/crosskey" --data "$data" tenant create --display-name isv) || die "tenant create failed"
tid=$(echo "$isv" | jq -r '.tenantId')
cid=$(echo "$isv" | jq -r '.clientId')
secret=$(echo "$isv" | jq -r '.clientSecret')
sub=$(echo "$isv" | jq -r '.subscriptionId')
for v in "$tid" "$cid" "$secret" "$sub"; do [ -n "$v" ] && [ "$v" != null ] || die "tenant create printed $isv"; done
ok "tenant create: $tid"

doc=$(curl_ca -f "$authority/$tid/v2.0/.well-known/openid-configuration") || die "openid-configuration over TLS failed"
[ "$(echo "$doc" | jq -r .issuer)" = "https://login.microsoftonline.com/$tid/v2.0" ] || fail "issuer: $(echo "$doc" | jq -r .issuer)"
[ "$(echo "$doc" | jq -r .token_endpoint)" = "$authority/$tid/oauth2/v2.0/token" ] || fail "token_endpoint: $(echo "$doc" | jq -r .token_endpoint)"
ok "openid-configuration with --cacert"
# the certificate also names 127.0.0.1
curl_ca -f -o /dev/null "https://127.0.0.1:$port/$tid/v2.0/.well-known/openid-configuration" || fail "TLS to 127.0.0.1 failed"
# and nobody else's CA vouches for it
if curl -sS --max-time 10 -o /dev/null "$authority/$tid/v2.0/.well-known/openid-configuration" 2>/dev/null; then
    fail "server certificate accepted without the local CA"
fi
kid1=$(curl_ca -f "$authority/$tid/discovery/v2.0/keys" | jq -r '.keys[0].kid')
[ -n "$kid1" ] && [ "$kid1" != null ] || fail "JWKS has no key"

marker="qsmarker$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
tok=$(curl_ca -X POST "$authority/$tid/oauth2/v2.0/token?client-request-id=$marker" \
    --data-urlencode "client_id=$cid" --data-urlencode "client_secret=$secret" \
    --data-urlencode "scope=$authority/.default" --data-urlencode grant_type=client_credentials)
at=$(echo "$tok" | jq -r '.access_token // empty')
[ -n "$at" ] || fail "client-secret token: $tok"
code=$(curl_ca -o /dev/null -w '%{http_code}' -X POST "$authority/$tid/oauth2/v2.0/token?$marker=1" \
    --data-urlencode "client_id=$cid" --data-urlencode "client_secret=wrong$marker" \
    --data-urlencode "scope=$authority/.default" --data-urlencode grant_type=client_credentials)
[ "$code" = 401 ] || fail "wrong secret gave $code"
list1=$(timeout 60 "$build/crosskey" --data "$data" tenant list) || fail "tenant list failed"
sleep 0.3

# ---- logs: one line per request, never the query string, a token or a secret ----
n=$(grep -c "/$tid/v2.0/.well-known/openid-configuration" "$work/log1")
[ "$n" = 2 ] || fail "openid-configuration logged $n times (want 2: localhost and 127.0.0.1)"
n=$(grep -c "/$tid/oauth2/v2.0/token" "$work/log1")
[ "$n" = 2 ] || fail "token requests logged $n times (want 2)"
grep "/$tid/oauth2/v2.0/token" "$work/log1" | grep -q '200' || fail "token log line lacks status 200"
grep "/$tid/oauth2/v2.0/token" "$work/log1" | grep -q '401' || fail "token log line lacks status 401"
! grep -q "$marker" "$work/log1" || fail "the log holds the query string (or the wrong secret)"
! grep -qF "$secret" "$work/log1" || fail "the log holds the client secret"
[ -z "$at" ] || ! grep -qF "$at" "$work/log1" || fail "the log holds the access token"
[ -z "$at" ] || ! grep -qF "$(echo "$at" | cut -d. -f3)" "$work/log1" || fail "the log holds the token signature"
ok "request log lines checked"

stop
[ ! -e "$data/endpoints.json" ] || echo "note: endpoints.json left behind after a clean stop"

# ---- restart on the same directory ----
start "$work/log2"
list2=$(timeout 60 "$build/crosskey" --data "$data" tenant list) || fail "tenant list after restart failed"
echo "$list2" | grep -q "$tid" || fail "tenant $tid lost over restart: $list2"
[ "$(echo "$list1" | grep -c "$tid")" -ge 1 ] || fail "tenant list before restart lacked $tid: $list1"
kid2=$(curl_ca -f "$authority/$tid/discovery/v2.0/keys" | jq -r '.keys[0].kid')
[ "$kid1" = "$kid2" ] || fail "signing key changed over restart ($kid1 -> $kid2)"
tok=$(curl_ca -X POST "$authority/$tid/oauth2/v2.0/token" \
    --data-urlencode "client_id=$cid" --data-urlencode "client_secret=$secret" \
    --data-urlencode "scope=$authority/.default" --data-urlencode grant_type=client_credentials)
[ -n "$(echo "$tok" | jq -r '.access_token // empty')" ] || fail "secret no longer works after restart: $tok"
ok "restart kept tenant, key and secret"
stop

if [ "$fails" -ne 0 ]; then
    echo "test_daemon: $fails failure(s); daemon logs:" >&2
    tail -n 20 "$work/log1" "$work/log2" >&2
    exit 1
fi
echo "test_daemon: all passed"
