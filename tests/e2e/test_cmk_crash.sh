#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Crash test of customer-managed keys (docs/cmk.md, "What is stored"): kill -9 during a key change
# or a rotation leaves the account readable under either the old or the new wrapping, never
# neither. crosskeyd runs with --cmk-revalidate 2 --cmk-version-poll 2; the cross-tenant chain is set
# up with the crosskey CLI (two tenants, multi-tenant app, user-assigned identity, federated
# credential, service principal, vault with purge protection and RBAC holding two RSA keys cmk1
# and cmk2, "Key Vault Crypto Service Encryption User"), and one account under cmk1 (newest
# version followed) holds a few blobs written with @azure/storage-blob (Shared Key). Then, CYCLES
# times, alternately:
#   - a key change: `storage account update --encryption-key-name <the other key>`;
#   - a rotation of the key in use (`keyvault key rotate`), which the account follows (key event,
#     and the 2 s version poll);
# and crosskeyd is killed with SIGKILL at a random moment 0-300 ms after the command started
# (rotations: up to 300 ms beyond the time a rotation command takes, measured once without a kill,
# so that kills also fall while the account follows the new version). After each restart on
# the same data directory: the daemon starts; keyState reaches Usable; currentVersionedKeyIdentifier
# and keyState.currentKek name the version the account had before the change or the newest version
# of the key it was moving to, and keyName agrees with it; every blob reads back byte for byte; a
# new blob can be written. After a rotation the account must reach the new version.
# Usage: test_cmk_crash.sh <build dir>. CK_KEEP=1 keeps the work directory.
set -u
build=$(CDPATH="" cd -- "${1:?usage: test_cmk_crash.sh <build dir>}" && pwd)
. "$(dirname -- "$0")/lib.sh"
. "$(dirname -- "$0")/cmk_chain.sh"
if [ ! -d "$compat/node_modules/@azure/storage-blob" ]; then
    echo "SKIP: @azure/storage-blob missing in tests/compat/node_modules (run scripts/setup.sh)"; exit 77
fi

cycles=${CK_CMK_CRASH_CYCLES:-8}
ck="$build/crosskey"
ckd="$build/crosskeyd"
export CROSSKEY_CONFIG_DIR="$work/config"
dpid="" # crosskeyd itself (a child of timeout, whose pid is $pid)
t0=$(date +%s)

fail() {
    echo "FAIL: $*"
    tail -n 30 "$work/daemon.log"
    exit 1
}
# cli NAME ARGS...: the CLI, stdout to $work/NAME.out, stderr to NAME.err; fails the test on an error.
cli() {
    name=$1
    shift
    timeout 60 "$ck" "$@" >"$work/$name.out" 2>"$work/$name.err" || { cat "$work/$name.err"; fail "crosskey $name"; }
}
val() { cat "$work/$1.out"; }
jfield() { sed -n 's/^ *"'"$2"'": *"\([^"]*\)".*/\1/p' "$1" | head -n 1; }

# start N: crosskeyd on $data (kernel-chosen ports; the vault keeps its port), then the CLI
# signed in again (the main origin's port is new).
start() {
    rm -f "$data/endpoints.json"
    echo "=== start $1" >>"$work/daemon.log"
    timeout -s TERM 280 "$ckd" --data "$data" --listen 127.0.0.1 --port 0 --mi-port 0 --blob-port 0 \
        --vault-ports 0-0 --cmk-revalidate 2 --cmk-version-poll 2 </dev/null 2>>"$work/daemon.log" &
    pid=$!
    i=0
    while [ ! -s "$data/endpoints.json" ]; do
        kill -0 "$pid" 2>/dev/null || { pid=""; fail "crosskeyd exited during start $1"; }
        [ $i -lt 300 ] || fail "no endpoints.json (start $1)"
        sleep 0.1; i=$((i + 1))
    done
    dpid=$(pgrep -P "$pid" | head -n 1)
    [ -n "$dpid" ] || fail "cannot find the crosskeyd process under timeout $pid"
    if [ "$1" != 0 ]; then
        cli relogin_cust login --service-principal -u "$C2" -p "$P2" --tenant "$T2" --data "$data" -o none
        cli relogin_isv login --service-principal -u "$C1" -p "$P1" --tenant "$T1" --data "$data" -o none
        cli relogin_set account set --subscription "$S1"
    fi
}

# The blobs: every file of $work/blobs is a blob of container "data" with the same name.
cat >"$work/blob.cjs" <<'EOF'
const { createRequire } = require("module");
const fs = require("fs");
const path = require("path");
const req = createRequire(process.env.COMPAT + "/package.json");
const { BlobServiceClient, StorageSharedKeyCredential } = req("@azure/storage-blob");
const [op, url, account, key, dir, only] = process.argv.slice(2);
const svc = new BlobServiceClient(url, new StorageSharedKeyCredential(account, key),
  { retryOptions: { maxTries: 1, tryTimeoutInMs: 30000 } });
const cc = svc.getContainerClient("data");
(async () => {
  const names = only ? [only] : fs.readdirSync(dir).sort();
  if (op === "put") {
    await cc.createIfNotExists();
    for (const n of names) {
      const d = fs.readFileSync(path.join(dir, n));
      await cc.getBlockBlobClient(n).upload(d, d.length);
    }
  } else {
    for (const n of names) {
      const want = fs.readFileSync(path.join(dir, n));
      let got;
      try {
        got = await cc.getBlockBlobClient(n).downloadToBuffer();
      } catch (e) {
        throw new Error(`${n}: ${e.statusCode ?? ""} ${e.code ?? e.message}`);
      }
      if (!got.equals(want)) throw new Error(`${n}: ${got.length} bytes read back, ${want.length} written, or different bytes`);
    }
  }
  console.log(`${op} ${names.length} blob(s) ok`);
})().catch((e) => { console.error(`blob ${op}: ${e.message}`); process.exit(1); });
EOF
# blobs OP [NAME]: put or verify the blobs (all, or NAME) on the account's current endpoint.
blobs() {
    cli ep storage account show -n "$ACCT" -g isvrg --query primaryEndpoints.blob -o tsv
    url=$(val ep)
    (cd "$compat" && COMPAT="$compat" NODE_EXTRA_CA_CERTS="$data/tls/ca.pem" timeout 60 \
        node "$work/blob.cjs" "$1" "${url%/}" "$ACCT" "$KEY" "$work/blobs" ${2:+"$2"}) >"$work/blob.out" 2>&1
}

mkdir -p "$data" "$work/blobs"
start 0

# ---- the chain (the seed procedure with the CLI) ----
cmk_chain cmk1 cmk2
ACCT=crashcmk
cli acct storage account create -n "$ACCT" -g isvrg --sku Standard_LRS --kind StorageV2 --location eastus \
    --identity-type UserAssigned --user-identity-id "$UAMI_ID" \
    --encryption-key-vault "$KV_URI" --encryption-key-name cmk1 --encryption-key-source Microsoft.Keyvault \
    --key-vault-user-identity-id "$UAMI_ID" --key-vault-federated-client-id "$APP_ID" -o none
cli acct_key storage account keys list -n "$ACCT" -g isvrg --query "[0].value" -o tsv
KEY=$(val acct_key)
echo "ok: chain set up with the CLI; account $ACCT under cmk1 of $KV_URI ($(($(date +%s) - t0)) s)"

# ---- data ----
head -c 100 /dev/urandom >"$work/blobs/tiny"
head -c 5000 /dev/urandom >"$work/blobs/small"
head -c 70000 /dev/urandom >"$work/blobs/medium"
head -c 1100000 /dev/urandom >"$work/blobs/large"
blobs put || { cat "$work/blob.out"; fail "writing the first blobs"; }
blobs verify || { cat "$work/blob.out"; fail "reading the first blobs back"; }
echo "ok: $(ls "$work/blobs" | wc -l | tr -d ' ') blobs written and read back"

# newest KEYNAME: sets newest_kid to the kid of the key's newest version.
newest() {
    cli "newest_$1" --subscription "$S2" keyvault key list-versions --vault-name custkv --name "$1" --query "[-1].kid" -o tsv
    newest_kid=$(val "newest_$1")
}
# account_kek: sets cur (currentVersionedKeyIdentifier), curkek (keyState.currentKek), curname
# (keyName) and curstate (keyState.state); empty when the account cannot be read.
account_kek() {
    cur="" curkek="" curname="" curstate=""
    timeout 60 "$ck" storage account show -n "$ACCT" -g isvrg --query "{v:encryption.keyVaultProperties.currentVersionedKeyIdentifier, k:keyState.currentKek, n:encryption.keyVaultProperties.keyName, s:keyState.state}" \
        -o tsv >"$work/show.out" 2>"$work/show.err" || return 0
    # shellcheck disable=SC2046 # the four tab-separated fields, none with blanks
    set -- $(cat "$work/show.out")
    cur=${1:-} curkek=${2:-} curname=${3:-} curstate=${4:-}
}
# wait_usable CYCLE: polls until keyState is Usable (20 s).
wait_usable() {
    i=0
    while :; do
        account_kek
        [ "$curstate" = Usable ] && break
        [ $i -lt 80 ] || { cat "$work/show.err"; fail "cycle $1: keyState '$curstate' 20 s after the restart (kek '$cur')"; }
        sleep 0.25; i=$((i + 1))
    done
    [ "$cur" = "$curkek" ] || fail "cycle $1: currentVersionedKeyIdentifier $cur but keyState.currentKek $curkek"
    case "$cur" in
    */keys/"$curname"/*) ;;
    *) fail "cycle $1: keyName $curname does not match the wrapping key $cur" ;;
    esac
}

wait_usable 0
echo "ok: account on $cur"
# Once each without a kill: the commands work, and how long they take (the kills fall 0-300 ms
# after a command starts).
ms_now() { echo $(($(date +%s%N) / 1000000)); }
m0=$(ms_now)
cli cal_change storage account update -n "$ACCT" -g isvrg --encryption-key-source Microsoft.Keyvault \
    --encryption-key-vault "$KV_URI" --encryption-key-name cmk2 --key-vault-user-identity-id "$UAMI_ID" \
    --key-vault-federated-client-id "$APP_ID" -o none
m1=$(ms_now)
wait_usable calibration
newest cmk2
[ "$cur" = "$newest_kid" ] || fail "calibration: the key change left the account on $cur, not $newest_kid"
m2=$(ms_now)
cli cal_rotate --subscription "$S2" keyvault key rotate --vault-name custkv --name cmk2 -o none
m3=$(ms_now)
newest cmk2
i=0
until account_kek; [ "$cur" = "$newest_kid" ]; do
    [ $i -lt 40 ] || fail "calibration: the account did not follow the rotation to $newest_kid (on $cur)"
    sleep 0.25; i=$((i + 1))
done
m4=$(ms_now)
blobs verify || { cat "$work/blob.out"; fail "calibration: blobs after a key change and a rotation"; }
rot_ms=$((m3 - m2))
echo "ok: calibration: key change cmk1 -> cmk2 took $((m1 - m0)) ms (command); rotation $((m3 - m2)) ms (command), followed $((m4 - m3)) ms later; blobs read back"
new=0 old=0
c=1
while [ "$c" -le "$cycles" ]; do
    before=$cur
    if [ $((c % 2)) = 1 ]; then
        target=$([ "$curname" = cmk1 ] && echo cmk2 || echo cmk1)
        what="key change $curname -> $target"
        set -- storage account update -n "$ACCT" -g isvrg --encryption-key-source Microsoft.Keyvault \
            --encryption-key-vault "$KV_URI" --encryption-key-name "$target" --key-vault-user-identity-id "$UAMI_ID" \
            --key-vault-federated-client-id "$APP_ID" -o none
    else
        target=$curname
        what="rotation of $curname"
        set -- --subscription "$S2" keyvault key rotate --vault-name custkv --name "$curname" -o none
    fi
    # Key changes: 0-300 ms after the command starts (it takes ~70 ms). Rotations: 0 to the
    # calibrated duration + 300 ms, so that the kill also falls while the account follows the new
    # version (the follow starts when the vault's event arrives, after the rotation is done).
    r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
    if [ $((c % 2)) = 1 ]; then ms=$((r % 301)); else ms=$((r % (301 + rot_ms))); fi
    timeout 30 "$ck" "$@" >"$work/change.out" 2>"$work/change.err" &
    cpid=$!
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    kill -KILL "$dpid"
    wait "$pid" 2>/dev/null
    pid=""
    crc=0; wait "$cpid" || crc=$?
    [ "$crc" != 2 ] || { cat "$work/change.err"; fail "cycle $c: $what: the command line was refused"; }
    start "$c"
    newest "$target"
    newest_target=$newest_kid
    wait_usable "$c"
    if [ "$cur" = "$before" ]; then old=$((old + 1)); side="old wrapping"
    elif [ "$cur" = "$newest_target" ]; then new=$((new + 1)); side="new wrapping"
    else fail "cycle $c ($what): the account is on $cur, neither the old $before nor the new $newest_target"; fi
    blobs verify || { cat "$work/blob.out"; fail "cycle $c ($what): blobs do not read back after the restart"; }
    head -c $((1000 + r)) /dev/urandom >"$work/blobs/c$c"
    blobs put "c$c" || { cat "$work/blob.out"; fail "cycle $c: writing a new blob"; }
    echo "ok: cycle $c: $what, SIGKILL after $ms ms (command exit $crc); restarted, Usable under the $side ${cur##*/keys/}; $(ls "$work/blobs" | wc -l | tr -d ' ') blobs read back"
    if [ "$target" = "$curname" ] && [ "$cur" != "$newest_target" ]; then
        # A rotation that committed in the vault but not yet in the account: it must follow.
        i=0
        until [ "$cur" = "$newest_target" ]; do
            [ $i -lt 60 ] || fail "cycle $c: the account stays on $cur, not following the new version $newest_target"
            sleep 0.25; i=$((i + 1))
            account_kek
        done
        blobs verify || { cat "$work/blob.out"; fail "cycle $c: blobs after following the new version"; }
        echo "ok: cycle $c: followed to the new version ${cur##*/keys/} ($((i / 4)) s); blobs read back"
    fi
    c=$((c + 1))
done
kill -TERM "$pid"; wait "$pid" 2>/dev/null; pid=""
if grep -E 'ERROR: AddressSanitizer|runtime error:' "$work/daemon.log"; then
    echo "FAIL: sanitizer report in the daemon log (above)"; exit 1
fi
echo "ok: all CMK crash checks passed ($cycles kill -9 cycles: $old on the old wrapping, $new on the new; $(($(date +%s) - t0)) s)"
