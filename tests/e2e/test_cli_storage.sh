#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The crosskey CLI's storage account commands end to end against a fresh crosskeyd (127.0.0.1,
# kernel-chosen ports): create (az defaults: group location, Standard_RAGRS, StorageV2), show with
# and without -g and --query primaryEndpoints.blob, list -o table, update (tags, SKU, a
# user-assigned identity and the customer-managed-key settings with a real vault of the same tenant,
# a vault that does not answer refused with nothing changed, then back to Microsoft.Storage),
# keys list and keys renew, check-name, delete; the refusals az users meet (bad and taken names,
# missing flags, exit 3 for a missing account); system-assigned identities (--assign-identity,
# --identity-type SystemAssigned, off again); then the offline root key rotation:
# `crosskeyd --rotate-root-key` refused while the daemon runs, done once it stopped, the account
# keys the same afterwards and the key file replaced; a crash between the transaction and the key
# file swap finished on the next start. JSON is checked with node, not jq.
# Usage: test_cli_storage.sh <build dir>.
set -u

build=$(CDPATH="" cd -- "${1:?usage: test_cli_storage.sh <build dir>}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ck-e2e-st.XXXXXX")
data="$work/data"
export CROSSKEY_CONFIG_DIR="$work/config"
ck="$build/crosskey"
ckd="$build/crosskeyd"
pid=""
fails=0

stop() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
    pid=""
}
cleanup() {
    stop
    if [ "${CK_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
die() { echo "FAIL: $*" >&2; [ -f "$work/daemon.log" ] && tail -n 30 "$work/daemon.log" >&2; exit 1; }

jget() {
    node -e '
const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
let v = o;
for (const k of process.argv[2].split(".")) { if (v === null || v === undefined) break; v = v[k]; }
if (v !== undefined && v !== null) console.log(typeof v === "object" ? JSON.stringify(v) : String(v));
' "$1" "$2"
}
jcheck() {
    node -e 'const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
process.exit(('"$2"') ? 0 : 1)' "$1" 2>/dev/null
}
run() {
    name=$1 want=$2
    shift 2
    timeout 60 "$ck" "$@" >"$work/$name.out" 2>"$work/$name.err"
    rc=$?
    if [ "$rc" = "$want" ]; then ok "$name (exit $rc)"
    else fail "$name: exit $rc, want $want"; sed 's/^/    /' "$work/$name.err" "$work/$name.out" >&2; fi
}
expect() {
    if jcheck "$work/$1.out" "$3"; then ok "$1: $2"; else fail "$1: $2"; sed 's/^/    /' "$work/$1.out" >&2; fi
}
grep_err() {
    if grep -q -- "$2" "$work/$1.err"; then ok "$1: stderr has '$2'"; else fail "$1: stderr lacks '$2'"; sed 's/^/    /' "$work/$1.err" >&2; fi
}
out_is() {
    if [ "$(cat "$work/$1.out")" = "$2" ]; then ok "$1: output is '$2'"; else fail "$1: output '$(cat "$work/$1.out")', want '$2'"; fi
}
start() {
    rm -f "$data/endpoints.json"
    timeout -s TERM 300 "$ckd" --data "$data" --listen 127.0.0.1 --port 0 --mi-port 0 --blob-port 0 \
        --vault-ports 0-0 </dev/null 2>>"$work/daemon.log" >&2 &
    pid=$!
    i=0
    while [ ! -s "$data/endpoints.json" ]; do
        kill -0 "$pid" 2>/dev/null || { pid=""; die "crosskeyd exited during start-up"; }
        [ $i -lt 600 ] || die "no endpoints.json after 60 s"
        sleep 0.1; i=$((i + 1))
    done
    sleep 0.2
    # The CLI profile keeps endpoints from login; a restart picks new ports, so log in again.
    if [ -n "${C:-}" ]; then
        timeout 60 "$ck" login --service-principal -u "$C" -p "$P" --tenant "$T" --data "$data" >/dev/null 2>&1 ||
            die "login after restart"
    fi
}

[ -x "$ck" ] || die "no $ck"
[ -x "$ckd" ] || die "no $ckd"
"$ckd" --help 2>&1 | grep -q -- "--rotate-root-key" || die "this crosskeyd has no --rotate-root-key"

# ---- no daemon needed ----
run help 0 storage account --help
grep -q "keys" "$work/help.out" && grep -q "check-name" "$work/help.out" && ok "storage account help" || fail "storage account help"
run missing_rg 2 storage account create -n acct1
grep_err missing_rg "the following arguments are required: --resource-group/-g"
run bad_source 2 storage account create -n acct1 -g rg1 --encryption-key-source Acme
run bad_idtype 2 storage account create -n acct1 -g rg1 --identity-type Magic
run assign_ua 2 storage account create -n acct1 -g rg1 --assign-identity --identity-type UserAssigned
run kv_needs_key 2 storage account create -n acct1 -g rg1 --encryption-key-source Microsoft.Keyvault
run renew_bad 2 storage account keys renew -n acct1 -g rg1 --key tertiary

# ---- start crosskeyd ----
mkdir -p "$data"
start
run tenant 0 --data "$data" tenant create --display-name isv
T=$(jget "$work/tenant.out" tenantId); C=$(jget "$work/tenant.out" clientId); P=$(jget "$work/tenant.out" clientSecret)
S=$(jget "$work/tenant.out" subscriptionId)
run tenant2 0 --data "$data" tenant create --display-name other
T2=$(jget "$work/tenant2.out" tenantId); C2=$(jget "$work/tenant2.out" clientId); P2=$(jget "$work/tenant2.out" clientSecret)
[ -n "$T" ] && [ -n "$P" ] && [ -n "$P2" ] || die "tenant create gave no credentials"
run login 0 login --service-principal -u "$C" -p "$P" --tenant "$T" --data "$data"
run group 0 group create -n rg1 -l eastus -o none
run group2 0 group create -n rg2 -l westus -o none

BLOB=$(jget "$data/endpoints.json" blob)
[ -n "$BLOB" ] && ok "endpoints.json has blob $BLOB" || fail "endpoints.json has no blob origin"

# ---- accounts ----
run create 0 storage account create -n acct1 -g rg1
expect create "az defaults" "o.name === 'acct1' && o.resourceGroup === 'rg1' && o.location === 'eastus' && o.kind === 'StorageV2' && o.sku.name === 'Standard_RAGRS' && o.provisioningState === 'Succeeded' && o.encryption.keySource === 'Microsoft.Storage' && o.encryption.services.blob.enabled === true"
ID=$(jget "$work/create.out" id)
run create2 0 storage account create -n acct2 -g rg2 --sku Standard_LRS --kind StorageV2 -l westus --tags env=test \
    --require-infrastructure-encryption
expect create2 "flags" "o.sku.name === 'Standard_LRS' && o.location === 'westus' && o.tags.env === 'test' && o.encryption.requireInfrastructureEncryption === true"
run blob_ep 0 storage account show -n acct1 --query primaryEndpoints.blob -o tsv
out_is blob_ep "${BLOB%/}/acct1/"
run show_g 0 storage account show -n acct1 -g rg1 --query id -o tsv
out_is show_g "$ID"
run list 0 storage account list
expect list "both accounts" "o.length === 2 && o.map(a => a.name).sort().join() === 'acct1,acct2'"
run list_g 0 storage account list -g rg2 -o table
grep -q "acct2" "$work/list_g.out" && ! grep -q "acct1" "$work/list_g.out" && ok "table of rg2" || fail "table of rg2"
run missing 3 storage account show -n nosuchacct
run missing_g 3 storage account show -n nosuchacct -g rg1

# ---- names ----
run bad_name 1 storage account create -n Bad_Name -g rg1
grep_err bad_name "AccountNameInvalid"
run check_taken 0 storage account check-name -n acct1
expect check_taken "taken" "o.nameAvailable === false && o.reason === 'AlreadyExists'"
run check_bad 0 storage account check-name -n NO
expect check_bad "invalid" "o.nameAvailable === false && o.reason === 'AccountNameInvalid'"
run check_free 0 storage account check-name -n freename123
expect check_free "free" "o.nameAvailable === true"
run login2 0 login --service-principal -u "$C2" -p "$P2" --tenant "$T2" --data "$data"
run group_o 0 group create -n rgo -l eastus -o none
run taken 1 storage account create -n acct1 -g rgo
grep_err taken "StorageAccountAlreadyTaken"
run login_back 0 login --service-principal -u "$C" -p "$P" --tenant "$T" --data "$data"

# ---- keys ----
run keys 0 storage account keys list -n acct1 -g rg1
expect keys "two keys" "o.length === 2 && o[0].keyName === 'key1' && o[1].keyName === 'key2' && Buffer.from(o[0].value, 'base64').length === 64 && o[0].value !== o[1].value"
K1=$(jget "$work/keys.out" 0.value); K2=$(jget "$work/keys.out" 1.value)
run renew 0 storage account keys renew -n acct1 --key primary
expect renew "key1 renewed, key2 kept" "o[0].value !== '$K1' && o[1].value === '$K2'"
K1=$(jget "$work/renew.out" 0.value)
run keys_tsv 0 storage account keys list -n acct1 --query "[1].value" -o tsv
out_is keys_tsv "$K2"

# ---- identity and encryption settings ----
run uami 0 identity create -n uami1 -g rg1
UAMI=$(jget "$work/uami.out" id); UPID=$(jget "$work/uami.out" principalId)
APP=6f1e7a62-4c1b-4d55-9b1a-0d3d1c0e9a11
FAKE_VAULT=https://custvault.vault.azure.net
# A federated client id needs the feature FederatedClientIdentity and the provider registered after it
# (checked before anything is asked of the vault, so the vault here need not exist).
run nofeat 1 storage account update -n acct1 -g rg1 --identity-type UserAssigned --user-identity-id "$UAMI" \
    --encryption-key-source Microsoft.Keyvault --encryption-key-name cmk --encryption-key-vault "$FAKE_VAULT" \
    --key-vault-user-identity-id "$UAMI" --key-vault-federated-client-id "$APP"
grep_err nofeat SubscriptionNotRegisteredForFeature
run feat 0 feature register --namespace Microsoft.Storage --name FederatedClientIdentity
run prov 0 provider register --namespace Microsoft.Storage
# The storage service proves the key before it accepts the settings (docs/cmk.md): a vault that
# does not answer is refused with the link named, and the account is left as it was.
run fake_vault_before 0 storage account show -n acct1 -g rg1 --query "{identity:identity, encryption:encryption}"
run fake_vault 1 storage account update -n acct1 -g rg1 --identity-type UserAssigned --user-identity-id "$UAMI" \
    --encryption-key-source Microsoft.Keyvault --encryption-key-name cmk --encryption-key-vault "$FAKE_VAULT" \
    --key-vault-user-identity-id "$UAMI" --key-vault-federated-client-id "$APP"
grep_err fake_vault "(KeyVaultVaultNotFound)"
grep_err fake_vault "Target: vault"
run fake_vault_show 0 storage account show -n acct1 -g rg1 --query "{identity:identity, encryption:encryption}"
expect fake_vault_show "still Microsoft-managed keys" "o.encryption.keySource === 'Microsoft.Storage' && o.encryption.keyVaultProperties === undefined && o.encryption.encryptionIdentity === undefined"
cmp -s "$work/fake_vault_before.out" "$work/fake_vault_show.out" && ok "fake_vault: identity and encryption unchanged" ||
    fail "fake_vault changed the account: $(diff "$work/fake_vault_before.out" "$work/fake_vault_show.out")"
# A real vault of the same tenant (no federated client id; the cross-tenant form, -f with a
# multi-tenant app, is tests/e2e/test_cli_cmk.sh): the identity gets the key role on it.
run kv 0 keyvault create -n stkv1 -g rg1 --enable-purge-protection true --enable-rbac-authorization true
KV_ID=$(jget "$work/kv.out" id); KV_URI=$(jget "$work/kv.out" properties.vaultUri)
run me 0 ad sp show --id "$C" --query id -o tsv
run officer 0 role assignment create --role "Key Vault Crypto Officer" --scope "$KV_ID" \
    --assignee-object-id "$(cat "$work/me.out")" -o none
run kv_key 0 keyvault key create --vault-name stkv1 --name cmk --query key.kid -o tsv
KID=$(cat "$work/kv_key.out")
run kv_grant 0 role assignment create --role "Key Vault Crypto Service Encryption User" --scope "$KV_ID" \
    --assignee-object-id "$UPID" -o none
run cmk 0 storage account update -n acct1 -g rg1 --identity-type UserAssigned --user-identity-id "$UAMI" \
    --encryption-key-source Microsoft.Keyvault --encryption-key-name cmk --encryption-key-vault "$KV_URI" \
    --key-vault-user-identity-id "$UAMI"
expect cmk "customer-managed key settings" "o.identity.type === 'UserAssigned' && o.identity.userAssignedIdentities['$UAMI'].principalId === '$UPID' && o.encryption.keySource === 'Microsoft.Keyvault' && o.encryption.keyVaultProperties.keyName === 'cmk' && o.encryption.keyVaultProperties.keyVaultUri === '$KV_URI' && o.encryption.keyVaultProperties.keyVersion === '' && o.encryption.keyVaultProperties.currentVersionedKeyIdentifier === '$KID' && o.encryption.encryptionIdentity.encryptionUserAssignedIdentity === '$UAMI' && o.encryption.encryptionIdentity.encryptionFederatedIdentityClientId === undefined"
run pin 0 storage account update -n acct1 --encryption-key-name cmk --encryption-key-vault "$KV_URI" \
    --encryption-key-version "${KID##*/}"
expect pin "version pinned" "o.encryption.keyVaultProperties.keyVersion === '${KID##*/}' && o.encryption.keyVaultProperties.currentVersionedKeyIdentifier === '$KID'"
run pin_bad 1 storage account update -n acct1 --encryption-key-version 0682afdd9c104f4285df20107e956cad
grep_err pin_bad "(KeyVaultEncryptionKeyNotFound)"
run sysid 1 storage account update -n acct1 --identity-type SystemAssigned
grep_err sysid "must be one of the account's user-assigned identities"
run back 0 storage account update -n acct1 --encryption-key-source Microsoft.Storage
expect back "Microsoft-managed keys again" "o.encryption.keySource === 'Microsoft.Storage' && o.encryption.keyVaultProperties === undefined"
run sysid_on 0 storage account update -n acct1 --identity-type SystemAssigned,UserAssigned --user-identity-id "$UAMI"
expect sysid_on "system-assigned identity" "o.identity.type === 'SystemAssigned,UserAssigned' && /^[0-9a-f-]{36}$/.test(o.identity.principalId) && o.identity.tenantId === '$T'"
run sysid_off 0 storage account update -n acct1 --identity-type UserAssigned --user-identity-id "$UAMI"
expect sysid_off "system-assigned identity off" "o.identity.type === 'UserAssigned' && o.identity.principalId === undefined"
run assign 0 storage account create -n acctsys -g rg1 --assign-identity --user-identity-id "$UAMI"
expect assign "--assign-identity" "o.identity.type === 'SystemAssigned,UserAssigned' && o.identity.tenantId === '$T' && o.identity.principalId !== o.identity.userAssignedIdentities['$UAMI'].principalId"
run assign_del 0 storage account delete -n acctsys -g rg1 --yes
run tags 0 storage account update -n acct1 --tags team=data
expect tags "tags" "o.tags.team === 'data'"
run nothing 2 storage account update -n acct1

# ---- offline root key rotation ----
old_key=$(cat "$data/secrets/storage-root.key")
if timeout 30 "$ckd" --data "$data" --rotate-root-key >"$work/rot0.out" 2>"$work/rot0.err"; then
    fail "rotation ran while the daemon holds the store"
else
    grep -q "locked" "$work/rot0.err" && ok "rotation refused while the daemon runs" || fail "rotation refusal: $(cat "$work/rot0.err")"
fi
stop
if timeout 30 "$ckd" --data "$data" --rotate-root-key >"$work/rot.out" 2>"$work/rot.err"; then
    grep -q "2 account(s) re-wrapped" "$work/rot.out" && ok "rotation: $(cat "$work/rot.out")" || fail "rotation output: $(cat "$work/rot.out")"
else
    fail "rotation failed: $(cat "$work/rot.err")"
fi
new_key=$(cat "$data/secrets/storage-root.key")
[ "$old_key" != "$new_key" ] && ok "the root key file changed" || fail "the root key file is the same"
[ ! -e "$data/secrets/storage-root.key.next" ] && ok "no leftover .next" || fail "storage-root.key.next left behind"
mode=$(stat -c %a "$data/secrets/storage-root.key")
[ "$mode" = 600 ] && ok "key file mode 0600" || fail "key file mode $mode"
grep -q -e "$old_key" -e "$new_key" "$work/rot.out" "$work/rot.err" && fail "a root key was printed" || ok "no root key printed"
start
run keys_after 0 storage account keys list -n acct1 -g rg1
expect keys_after "same keys after rotation" "o[0].value === '$K1' && o[1].value === '$K2'"
run create3 0 storage account create -n acct3 -g rg1 --sku Standard_LRS
stop

# A crash after the transaction committed but before the key file swap: the start finishes it.
cp "$data/secrets/storage-root.key" "$work/key.before"
cp -p "$data/storage/storage.db" "$work/db.before"
timeout 30 "$ckd" --data "$data" --rotate-root-key >/dev/null 2>&1 || fail "second rotation"
mv "$data/secrets/storage-root.key" "$data/secrets/storage-root.key.next"
cp "$work/key.before" "$data/secrets/storage-root.key"
start
grep -q "finished an interrupted storage root key rotation" "$work/daemon.log" && ok "interrupted rotation finished on start" || fail "no recovery message"
[ ! -e "$data/secrets/storage-root.key.next" ] && ok "KEY.next consumed" || fail "KEY.next still there"
run keys_rec 0 storage account keys list -n acct1 -g rg1
expect keys_rec "same keys after recovery" "o[0].value === '$K1' && o[1].value === '$K2'"
stop
# A crash before the transaction: KEY.next is dropped, the current key stays.
cp "$data/secrets/storage-root.key" "$data/secrets/storage-root.key.keep"
printf '%s' "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" >"$data/secrets/storage-root.key.next"
chmod 600 "$data/secrets/storage-root.key.next"
start
grep -q "undid an interrupted storage root key rotation" "$work/daemon.log" && ok "interrupted rotation undone on start" || fail "no undo message"
cmp -s "$data/secrets/storage-root.key" "$data/secrets/storage-root.key.keep" && ok "current key kept" || fail "current key changed"
run keys_undo 0 storage account keys list -n acct1 -g rg1
expect keys_undo "same keys after undo" "o[0].value === '$K1'"
stop
# A wrong root key is refused at start instead of used.
cp "$data/secrets/storage-root.key" "$work/key.good"
printf '%s' "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA" >"$data/secrets/storage-root.key"
rm -f "$data/endpoints.json"
if timeout 30 "$ckd" --data "$data" --port 0 --mi-port 0 --blob-port 0 --vault-ports 0-0 </dev/null >/dev/null 2>"$work/wrong.err"; then
    fail "crosskeyd started with a wrong root key"
else
    grep -q "under another root key" "$work/wrong.err" && ok "wrong root key refused" || fail "wrong key: $(tail -n 3 "$work/wrong.err")"
fi
cp "$work/key.good" "$data/secrets/storage-root.key"
start

# ---- delete ----
run delete_noyes 1 storage account delete -n acct2 -g rg2
run delete 0 storage account delete -n acct2 -g rg2 --yes
run gone 3 storage account show -n acct2 -g rg2
run check_again 0 storage account check-name -n acct2
expect check_again "name free after delete" "o.nameAvailable === true"

# No secret, token or account key may appear in stderr, nor the daemon log.
for f in "$work"/*.err "$work/daemon.log"; do
    if grep -q -e "$P" -e "$P2" -e "$K1" -e "$K2" -e "eyJ[A-Za-z0-9_-]*\.eyJ" "$f"; then fail "secret in $(basename "$f")"; fi
done
grep -q -e "$old_key" -e "$new_key" "$work/daemon.log" && fail "a root key in the daemon log" || ok "no root key in the daemon log"

if [ "$fails" -gt 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all CLI storage checks passed"
