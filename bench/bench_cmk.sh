#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Customer-managed keys, measured (bench/README.md, "CMK"): crosskeyd on a temporary data directory
# (127.0.0.1, kernel-chosen ports, bounded by timeout(1), stopped by its pid), the cross-tenant
# chain set up with the crosskey CLI only (two tenants, multi-tenant app, user-assigned identity,
# federated credential, service principal in the customer's tenant, vault with purge protection
# and RBAC, RSA key, "Key Vault Crypto Service Encryption User"), then one account under the
# customer's key (cmk) and one under Microsoft-managed keys (mmk). Printed:
#  (a) time from the key being disabled (keyvault key set-attributes --enabled false) to the first
#      403 on a blob GET, with key events (default) and with polling only (--cmk-events off
#      --cmk-revalidate R), R repetitions each, the key enabled again between them;
#  (b) vault requests (the daemon's request log, svc=vault) during N blob operations on the cmk
#      account (N/2 PUTs, N/2 GETs, 4 KiB) between re-validations, per 10,000 operations;
#  (c) Put Blob and Get Blob throughput (ops/s, MB/s) of the two accounts at 64 KiB and 4 MiB over
#      a few connections, the cmk/mmk ratio, with the cmk account measured twice as an A/A control
#      (cmk/cmk2: the noise of the ratio on this machine), and openssl speed -evp aes-256-gcm from
#      the same run.
# Nothing is asserted on time; a failed set-up step or request fails the run.
# Usage: bench_cmk.sh <build dir> [--reps N] [--revalidate S] [--ops N] [--seconds S] [--conns N]
#                     [--sizes KIB,KIB] [--openssl-seconds N] [--keep]
set -u
build=$(CDPATH="" cd -- "${1:?usage: bench_cmk.sh <build dir> [options]}" && pwd)
shift
reps=3 reval=5 nops=10000 seconds=3 conns=4 sizes=64,4096 ossl=3 keep=0
while [ $# -gt 0 ]; do
    case "$1" in
    --reps) reps=$2; shift ;;
    --revalidate) reval=$2; shift ;;
    --ops) nops=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --conns) conns=$2; shift ;;
    --sizes) sizes=$2; shift ;;
    --openssl-seconds) ossl=$2; shift ;;
    --keep) keep=1 ;;
    *) echo "bench_cmk: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
ck="$build/crosskey"
ckd="$build/crosskeyd"
bb="$build/bench/bench_blob"
for f in "$ck" "$ckd" "$bb"; do
    [ -x "$f" ] || { echo "bench_cmk: no $f (build crosskey, crosskeyd and bench_blob)" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/ck-bench-cmk.XXXXXX")
data="$work/data"
export CROSSKEY_CONFIG_DIR="$work/config"
pid="" # timeout(1), whose child is crosskeyd
ppid_probe=""

cleanup() {
    [ -n "$ppid_probe" ] && kill "$ppid_probe" 2>/dev/null
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
    if [ "$keep" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
    echo "bench_cmk: $*" >&2
    for l in "$work"/daemon-*.log; do [ -f "$l" ] && { echo "--- tail of $l" >&2; tail -n 20 "$l" >&2; }; done
    exit 1
}
fail() { die "$@"; }
# The cross-tenant chain (cmk_chain), shared with tests/e2e/test_cmk_crash.sh.
. "$(dirname -- "$0")/../tests/e2e/cmk_chain.sh"
now() { date +%s.%N; }
# cli NAME ARGS...: the CLI, stdout to $work/NAME.out; fails the run on a non-zero exit.
cli() {
    name=$1
    shift
    timeout 60 "$ck" "$@" >"$work/$name.out" 2>"$work/$name.err" ||
        { cat "$work/$name.err" >&2; die "crosskey $name failed"; }
}
val() { cat "$work/$1.out"; }
# jfield FILE KEY: a string member of the CLI's indented JSON output.
jfield() { sed -n 's/^ *"'"$2"'": *"\([^"]*\)".*/\1/p' "$1" | head -n 1; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
rand() { echo $(($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % $1)); }
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# start NAME FLAGS...: crosskeyd on $data; sets pid, dpid and the blob origin.
start() {
    log="$work/daemon-$1.log" # read by revoke_reps
    shift
    rm -f "$data/endpoints.json"
    timeout -s TERM 900 "$ckd" --data "$data" --listen 127.0.0.1 --port 0 --mi-port 0 --blob-port 0 \
        --vault-ports 0-0 "$@" </dev/null 2>"$log" >&2 &
    pid=$!
    i=0
    while [ ! -s "$data/endpoints.json" ]; do
        kill -0 "$pid" 2>/dev/null || { pid=""; die "crosskeyd exited during start-up"; }
        [ $i -lt 600 ] || die "no endpoints.json after 60 s"
        sleep 0.1; i=$((i + 1))
    done
    sleep 0.2
    dpid=$(pgrep -P "$pid" | head -n 1)
    blob=$(sed -n 's/.*"blob": *"\([^"]*\)".*/\1/p' "$data/endpoints.json" | head -n 1)
    cafile=$(sed -n 's/.*"caFile": *"\([^"]*\)".*/\1/p' "$data/endpoints.json" | head -n 1)
    [ -n "$dpid" ] && [ -n "$blob" ] && [ -n "$cafile" ] || die "cannot read endpoints.json or find crosskeyd's pid"
}
# relogin: the main origin's port changes with every start; the CLI's profile follows it.
relogin() {
    cli relogin_cust login --service-principal -u "$C2" -p "$P2" --tenant "$T2" --data "$data" -o none
    cli relogin_isv login --service-principal -u "$C1" -p "$P1" --tenant "$T1" --data "$data" -o none
    cli relogin_set account set --subscription "$S1"
}
stop() {
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=""
}
# bench ARGS...: bench_blob's accounts mode on the two accounts (cmk first), and the cmk account
# a second time on its own connections (cmk2: the A/A control, what the ratio is worth here).
bench() {
    "$bb" --target cmk "${blob%/}" "$A_CMK" "$K_CMK" --target mmk "${blob%/}" "$A_MMK" "$K_MMK" \
        --target cmk2 "${blob%/}" "$A_CMK" "$K_CMK" --ca "$cafile" --pid "$dpid" "$@"
}
state() { timeout 60 "$ck" storage account show -n "$A_CMK" -g isvrg --query keyState.state -o tsv 2>/dev/null; }
set_enabled() { cli "set_$1" --subscription "$S2" keyvault key set-attributes --vault-name custkv --name cmk --enabled "$1" -o none; }

# ---- the chain, with the CLI (the seed procedure, az replaced by crosskey) ----
setup_chain() {
    cmk_chain cmk
    A_CMK=benchcmk A_MMK=benchmmk
    cli acct_cmk storage account create -n "$A_CMK" -g isvrg --sku Standard_LRS --kind StorageV2 --location eastus \
        --identity-type UserAssigned --user-identity-id "$UAMI_ID" \
        --encryption-key-vault "$KV_URI" --encryption-key-name cmk --encryption-key-source Microsoft.Keyvault \
        --key-vault-user-identity-id "$UAMI_ID" --key-vault-federated-client-id "$APP_ID" -o none
    cli acct_mmk storage account create -n "$A_MMK" -g isvrg --sku Standard_LRS --kind StorageV2 --location eastus -o none
    cli src_cmk storage account show -n "$A_CMK" -g isvrg --query encryption.keySource -o tsv
    cli src_mmk storage account show -n "$A_MMK" -g isvrg --query encryption.keySource -o tsv
    [ "$(val src_cmk)" = Microsoft.Keyvault ] && [ "$(val src_mmk)" = Microsoft.Storage ] ||
        die "key sources are $(val src_cmk) and $(val src_mmk)"
    cli key_cmk storage account keys list -n "$A_CMK" -g isvrg --query "[0].value" -o tsv
    cli key_mmk storage account keys list -n "$A_MMK" -g isvrg --query "[0].value" -o tsv
    K_CMK=$(val key_cmk) K_MMK=$(val key_mmk)
}

# ---- (a): key disabled -> first 403 ----
# revoke_reps KEY LABEL MAXDELAY_MS: R times: wait a random 0..MAXDELAY ms with the account readable,
# disable the key, probe until the first 403, enable it again and probe until a 200.
revoke_reps() {
    key=$1 label=$2 maxdelay=$3
    r=1
    while [ $r -le "$reps" ]; do
        out="$work/probe-$key-$r.txt"
        "$bb" --target cmk "${blob%/}" "$A_CMK" "$K_CMK" --ca "$cafile" --probe 403 --max-seconds 120 \
            --interval-ms 2 >"$out" 2>"$work/probe.err" &
        ppid_probe=$!
        i=0
        until grep -q '^ready' "$out"; do
            kill -0 "$ppid_probe" 2>/dev/null || { cat "$work/probe.err" >&2; die "probe ended before the account was readable"; }
            [ $i -lt 600 ] || die "the account was not readable within 60 s"
            sleep 0.1; i=$((i + 1))
        done
        sleep_ms "$(rand "$maxdelay")"
        t0=$(now)
        set_enabled false
        wait "$ppid_probe" || { cat "$work/probe.err" >&2; die "no 403 within 120 s of the disable"; }
        ppid_probe=""
        # The moment the vault answered the disable: its request log line (written as the answer
        # goes out; the event is published when the change commits, just before).
        tpatch=$(grep 'PATCH /keys/cmk/ status=200' "$log" | tail -n 1 | cut -d' ' -f1)
        [ -n "$tpatch" ] || die "no PATCH /keys/cmk/ in the daemon log"
        tpatch=$(date -u -d "$tpatch" +%s.%N)
        t403=$(awk '/^first 403/ { print $3 }' "$out")
        code=$(awk '/^first 403/ { print $4 }' "$out")
        probes=$(awk '/^first 403/ { print $6 }' "$out")
        set_enabled true
        t2=$(now)
        "$bb" --target cmk "${blob%/}" "$A_CMK" "$K_CMK" --ca "$cafile" --probe 200 --max-seconds 120 \
            --interval-ms 5 >"$work/back.txt" 2>"$work/probe.err" || { cat "$work/probe.err" >&2; die "not readable again within 120 s"; }
        tback=$(awk '/^first 200/ { print $3 }' "$work/back.txt")
        printf '%-24s %3d %13s %12s %8s  %-30s %11s\n' "$label" "$r" "$(ms "$tpatch" "$t403")" "$(ms "$t0" "$t403")" \
            "$probes" "$code" "$(ms "$t2" "$tback")"
        ms "$tpatch" "$t403" >>"$work/lat-$key.txt"
        echo >>"$work/lat-$key.txt"
        r=$((r + 1))
    done
}
summary() { # LABEL BOUND
    sort -n "$work/lat-$1.txt" | awk -v l="$1" -v b="$2" '{ v[NR] = $1; s += $1 }
        END { printf "%-24s min %d ms, median %d ms, max %d ms over %d (bound: %s)\n", l, v[1], v[int((NR + 1) / 2)], v[NR], NR, b }'
}

t_start=$(date +%s)
echo "# customer-managed keys: crosskeyd $(basename "$build"), cross-tenant chain made with the crosskey CLI"
mkdir -p "$data"
start events --log-level info
setup_chain
echo "# accounts: $A_CMK (Microsoft.Keyvault, key cmk of vault custkv in the customer's tenant, federated client id)"
echo "#           $A_MMK (Microsoft.Storage); blob origin $blob"

# (b) vault requests during N operations on the cmk account, between re-validations (lease 300 s).
"$bb" --target cmk "${blob%/}" "$A_CMK" "$K_CMK" --ca "$cafile" --ops 200 --sizes 4 >/dev/null ||
    die "warm-up operations failed"
sleep 1
log="$work/daemon-events.log"
before=$(wc -l <"$log")
"$bb" --target cmk "${blob%/}" "$A_CMK" "$K_CMK" --ca "$cafile" --ops "$nops" --sizes 4 --conns "$conns" \
    >"$work/ops.txt" || die "the $nops operations failed"
sleep 0.5
tail -n +"$((before + 1))" "$log" >"$work/window.log"
done_ops=$(awk '/^ops/ { print $2 }' "$work/ops.txt")
secs=$(awk '/^ops/ { print $10 }' "$work/ops.txt")
vault_all=$(grep -c 'svc=vault' "$work/window.log")
vault_events=$(grep 'svc=vault' "$work/window.log" | grep -c '/events')
blob_reqs=$(grep -c 'svc=blob' "$work/window.log")
kek_lines=$(grep -c 'key state\|lease renewed\|follows its key' "$work/window.log")
echo
echo "(b) vault requests during blob operations on $A_CMK (crosskeyd request log, svc=vault), lease 300 s:"
echo "    $done_ops operations (4 KiB: half Put Blob, half Get Blob; $conns connections) in $secs s; $blob_reqs blob requests logged"
awk -v a="$vault_all" -v e="$vault_events" -v n="$done_ops" 'BEGIN {
    printf "    vault requests: %d, of which %d event long-polls (GET /events, one per 20 s while subscribed) and %d key calls\n", a, e, a - e
    printf "    per 10,000 blob operations: %.2f key calls (target 0), %.2f in all\n", (a - e) * 10000 / n, a * 10000 / n }'
[ "$kek_lines" -eq 0 ] || { echo "    note: key state changes in the window:"; grep 'key state\|lease renewed\|follows its key' "$work/window.log" | sed 's/^/      /'; }

# (a) with events.
echo
echo "(a) key disabled (keyvault key set-attributes --enabled false) -> first 403 on Get Blob (probe every 2 ms)"
echo "    disabled at: the vault's answer to the PATCH (its request log); cli: the set-attributes command started"
echo "    (it looks the vault up through ARM, then the challenge and the PATCH); enable->200: enabled again -> first 200"
printf '%-24s %3s %13s %12s %8s  %-30s %11s\n' "mode" "rep" "disabled->403" "cli->403 ms" "probes" "error code" "enable->200"
: >"$work/lat-events.txt"
revoke_reps events events 1000
stop

# (c) throughput, with the request log off (--log-level warn).
start throughput --log-level warn
relogin
bench --seconds "$seconds" --conns "$conns" --sizes "$sizes" --openssl-seconds 0 >"$work/tput.txt" ||
    { cat "$work/tput.txt"; die "throughput run failed"; }
stop

# (a) polling only.
start polling --log-level info --cmk-events off --cmk-revalidate "$reval"
relogin
: >"$work/lat-polling.txt"
revoke_reps polling "polling only ($reval s)" $((reval * 1000))
stop
echo
summary events "an event of the key re-validates at once"
sort -n "$work/lat-polling.txt" | awk -v l="polling only" -v r="$reval" '{ v[NR] = $1 }
    END { printf "%-24s min %d ms, median %d ms, max %d ms over %d (bound: --cmk-revalidate %d s; re-validation every %.1f s)\n",
          l, v[1], v[int((NR + 1) / 2)], v[NR], NR, r, r * 0.8 }'

echo
echo "(c) throughput, account under the customer's key (cmk) vs Microsoft-managed keys (mmk); cmk2 is the cmk"
echo "    account again on its own connections (A/A control: cmk/cmk2 shows what a ratio is worth in this run):"
cat "$work/tput.txt"
if [ "$ossl" -gt 0 ]; then
    a=$(openssl speed -evp aes-256-gcm -seconds "$ossl" 2>/dev/null | awk 'tolower($1) == "aes-256-gcm" { v = $7 } END { sub("k", "", v); printf "%.1f", v * 1000 / 1e6 }')
    echo "openssl speed -evp aes-256-gcm -seconds $ossl, 16 KiB blocks: $a MB/s (one cpu; the physical reference)"
fi
echo
echo "# $(($(date +%s) - t_start)) s in all"
