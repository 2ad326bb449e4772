#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Cross-tenant customer-managed keys end to end through the crosskey CLI only, with the commands
# and flags of the seed procedure (../shared/reference/seed-flow.md section 2, az replaced by
# crosskey), against a fresh crosskeyd (127.0.0.1 only, kernel-chosen ports, bounded by timeout,
# stopped by its pid). Two tenants made by `tenant create`: isv and customer.
#   ISV (phase 1): multi-tenant app (--query id / appId -o tsv), user-assigned identity
#     (--query principalId -o tsv), federated credential from credential.json.
#   customer (phase 2): service principal of the app, vault with purge protection and RBAC, key,
#     "Key Vault Crypto Service Encryption User" for the service principal on the vault.
#   ISV (phase 3): --key-vault-federated-client-id refused before the feature is registered (and
#     again between feature and provider registration), naming the step; then feature register,
#     feature show, provider register; a NEW account created encrypted with the customer's key,
#     and an EXISTING account holding data moved to it with `storage account update`.
#   Then: currentVersionedKeyIdentifier equals `keyvault key list-versions --query [-1].kid`;
#   blob data round trip (@azure/storage-blob with a bearer token, the ISV principal holding
#   "Storage Blob Data Contributor" given with the CLI); rotation followed; a pinned version
#   (--encryption-key-version) stays; revocation (key disabled) -> keyState Denied and 403
#   KeyVaultEncryptionKeyNotFound on data (get, put, properties, list with metadata) while container
#   listing, creation and deletion and plain blob listing are still served; re-enable -> Usable and
#   the data back; the key role taken from the service principal -> Denied and 403
#   KeyVaultAccessTokenCannotBeAcquired, given back -> Usable; --encryption-key-version "" follows
#   the newest version again; a wrong key name refused (the failing link shown as az shows
#   ARM error details) with storage account show unchanged; back to
#   Microsoft.Storage, after which the customer's key no longer matters.
# The feature-gate negatives run before the feature registration, so phase 3 starts with them
# (the seed registers the feature first). JSON is checked with node, not jq.
# The daemon is stopped at the end and its log judged (sanitizer builds: memory errors fail).
# Usage: test_cli_cmk.sh <build dir>. CK_KEEP=1 keeps the work directory; CK_CMK_EVENTS=off runs
# crosskeyd without vault event subscriptions (polling and re-validation only).
set -u

build=$(CDPATH="" cd -- "${1:?usage: test_cli_cmk.sh <build dir>}" && pwd)
root=$(CDPATH="" cd -- "$(dirname -- "$0")/../.." && pwd)
compat="$root/tests/compat"
work=$(mktemp -d "${TMPDIR:-/tmp}/ck-e2e-cmk.XXXXXX")
data="$work/data"
export CROSSKEY_CONFIG_DIR="$work/config"
ck="$build/crosskey"
ckd="$build/crosskeyd"
pid=""
fails=0
cd "$work" || exit 1

cleanup() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
    if [ "${CK_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
die() { echo "FAIL: $*" >&2; [ -f "$work/daemon.log" ] && tail -n 40 "$work/daemon.log" >&2; exit 1; }

# jget FILE PATH: prints the member at a dotted path (a.b.0.c) of a JSON file; empty when absent.
jget() {
    node -e '
const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
let v = o;
for (const k of process.argv[2].split(".")) { if (v === null || v === undefined) break; v = v[k]; }
if (v !== undefined && v !== null) console.log(typeof v === "object" ? JSON.stringify(v) : String(v));
' "$1" "$2"
}
# jcheck FILE JS-EXPRESSION: true when the expression over o (the parsed file) holds.
jcheck() {
    node -e 'const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
process.exit(('"$2"') ? 0 : 1)' "$1" 2>/dev/null
}
# run NAME WANT-RC CMD...: runs the CLI, keeps stdout in $work/NAME.out and stderr in NAME.err.
run() {
    name=$1 want=$2
    shift 2
    timeout 60 "$ck" "$@" >"$work/$name.out" 2>"$work/$name.err"
    rc=$?
    if [ "$rc" = "$want" ]; then ok "$name (exit $rc)"
    else fail "$name: exit $rc, want $want"; sed 's/^/    /' "$work/$name.err" "$work/$name.out" >&2; fi
}
# quiet NAME CMD...: runs the CLI like run, without judging; returns its exit code.
quiet() {
    name=$1
    shift
    timeout 60 "$ck" "$@" >"$work/$name.out" 2>"$work/$name.err"
}
expect() { # NAME DESCRIPTION JS
    if jcheck "$work/$1.out" "$3"; then ok "$1: $2"; else fail "$1: $2"; sed 's/^/    /' "$work/$1.out" >&2; fi
}
grep_err() { # NAME PATTERN
    if grep -q -- "$2" "$work/$1.err"; then ok "$1: stderr has '$2'"; else fail "$1: stderr lacks '$2'"; sed 's/^/    /' "$work/$1.err" >&2; fi
}
out_is() { # NAME VALUE
    if [ "$(cat "$work/$1.out")" = "$2" ]; then ok "$1: output is '$2'"; else fail "$1: output '$(cat "$work/$1.out")', want '$2'"; fi
}
# poll NAME WANT SECONDS CMD...: reruns a CLI command (with -o tsv output) every 0.5 s until its
# output is WANT; judges the last answer.
poll() {
    name=$1 want=$2 secs=$3
    shift 3
    n=0
    while :; do
        quiet "$name" "$@"
        [ "$(cat "$work/$name.out")" = "$want" ] && break
        [ "$n" -ge $((secs * 2)) ] && break
        sleep 0.5; n=$((n + 1))
    done
    if [ "$(cat "$work/$name.out")" = "$want" ]; then ok "$name: '$want' after ~$((n / 2)) s"
    else fail "$name: '$(cat "$work/$name.out")' after $secs s, want '$want'"; sed 's/^/    /' "$work/$name.err" >&2; fi
}

# ---- blob data through @azure/storage-blob (bearer token of the ISV principal) ----
# blob NAME ACCOUNT OP CONTAINER [BLOB [FILE]]: OP is mkcontainer, put (FILE), get, list (blob
# names), listmeta (the same with include=metadata), containers (container names), rmcontainer. Prints "OK <sha256 or names>" or "ERR <status> <code>"
# into $work/NAME.out.
cat >"$work/blob.cjs" <<'EOF'
const { createRequire } = require("module");
const crypto = require("crypto");
const fs = require("fs");
const req = createRequire(process.env.COMPAT + "/package.json");
const { BlobServiceClient } = req("@azure/storage-blob");
const { ClientSecretCredential } = req("@azure/identity");
const [url, op, container, blob, file] = process.argv.slice(2);
const cred = new ClientSecretCredential(process.env.CK_T, process.env.CK_C, process.env.CK_P,
  { authorityHost: process.env.CK_AUTHORITY, disableInstanceDiscovery: true });
const svc = new BlobServiceClient(url, cred, { retryOptions: { maxTries: 1 } });
const sha = (b) => crypto.createHash("sha256").update(b).digest("hex");
(async () => {
  try {
    const cc = svc.getContainerClient(container);
    let out = "";
    if (op === "mkcontainer") await cc.create();
    else if (op === "put") {
      const d = fs.readFileSync(file);
      await cc.getBlockBlobClient(blob).upload(d, d.length);
      out = sha(d);
    } else if (op === "get") out = sha(await cc.getBlockBlobClient(blob).downloadToBuffer());
    else if (op === "props") out = String((await cc.getBlockBlobClient(blob).getProperties()).contentLength);
    else if (op === "list") { const n = []; for await (const b of cc.listBlobsFlat()) n.push(b.name); out = n.join(","); }
    else if (op === "listmeta") { const n = []; for await (const b of cc.listBlobsFlat({ includeMetadata: true })) n.push(b.name); out = n.join(","); }
    else if (op === "rmcontainer") await cc.delete();
    else if (op === "containers") { const n = []; for await (const c of svc.listContainers()) n.push(c.name); out = n.join(","); }
    else throw new Error("unknown op " + op);
    console.log(("OK " + out).trim());
  } catch (e) {
    // Downloads and HEAD requests carry the error code only in x-ms-error-code (no body parsed).
    const code = e.code ?? e.details?.errorCode ?? e.response?.headers?.get("x-ms-error-code") ?? "";
    if (e.statusCode) console.log(`ERR ${e.statusCode} ${code}`.trim());
    else { console.log(`ERR 0 ${e.name}`); console.error(e.message); }
  }
})();
EOF
have_sdk=0
[ -d "$compat/node_modules/@azure/storage-blob" ] && [ -d "$compat/node_modules/@azure/identity" ] && have_sdk=1
blob() {
    name=$1 acct=$2
    shift 2
    url=$(jget "$work/ep_$acct.out" primaryEndpoints.blob 2>/dev/null)
    COMPAT="$compat" CK_T="$T1" CK_C="$C1" CK_P="$P1" CK_AUTHORITY="$AUTHORITY" \
        NODE_EXTRA_CA_CERTS="$data/tls/ca.pem" timeout 60 node "$work/blob.cjs" "${url%/}" "$@" \
        >"$work/$name.out" 2>"$work/$name.err"
}
# blob_is NAME ACCOUNT WANT OP ...: one data call whose output must be WANT.
blob_is() {
    name=$1 acct=$2 want=$3
    shift 3
    if [ "$have_sdk" = 0 ]; then echo "skip: $name (no @azure/storage-blob in tests/compat)"; return; fi
    blob "$name" "$acct" "$@"
    if [ "$(cat "$work/$name.out")" = "$want" ]; then ok "$name: $want"
    else fail "$name: '$(cat "$work/$name.out")', want '$want'"; sed 's/^/    /' "$work/$name.err" >&2; fi
}
# blob_poll NAME ACCOUNT WANT SECONDS OP ...: repeats a data call until it answers WANT.
blob_poll() {
    name=$1 acct=$2 want=$3 secs=$4
    shift 4
    if [ "$have_sdk" = 0 ]; then echo "skip: $name (no @azure/storage-blob in tests/compat)"; return; fi
    n=0
    while :; do
        blob "$name" "$acct" "$@"
        [ "$(cat "$work/$name.out")" = "$want" ] && break
        [ "$n" -ge "$secs" ] && break
        sleep 1; n=$((n + 1))
    done
    if [ "$(cat "$work/$name.out")" = "$want" ]; then ok "$name: $want (after ~$n s)"
    else fail "$name: '$(cat "$work/$name.out")' after $secs s, want '$want'"; sed 's/^/    /' "$work/$name.err" >&2; fi
}

[ -x "$ck" ] || die "no $ck"
[ -x "$ckd" ] || die "no $ckd"
[ "$have_sdk" = 1 ] || echo "note: tests/compat/node_modules lacks @azure/storage-blob or @azure/identity (scripts/setup.sh): data checks skipped"

# ---- start crosskeyd ----
# Short CMK timings when this crosskeyd has them: re-validation every 3 s, version poll every 5 s.
cmk_flags=""
if "$ckd" --help 2>&1 | grep -q -- "--cmk-revalidate"; then
    cmk_flags="--cmk-revalidate 3 --cmk-version-poll 5"
    # CK_CMK_EVENTS=off: no vault event subscriptions, so rotation and revocation are seen by the
    # version poll and the re-validation alone (every wait below allows for them).
    [ "${CK_CMK_EVENTS:-on}" = off ] && cmk_flags="$cmk_flags --cmk-events off"
else
    echo "note: this crosskeyd has no --cmk-revalidate/--cmk-version-poll; running with its defaults"
fi
mkdir -p "$data"
# shellcheck disable=SC2086
timeout -s TERM 900 "$ckd" --data "$data" --listen 127.0.0.1 --port 0 --mi-port 0 --blob-port 0 \
    --vault-ports 0-0 $cmk_flags </dev/null 2>"$work/daemon.log" >&2 &
pid=$!
i=0
while [ ! -s "$data/endpoints.json" ]; do
    kill -0 "$pid" 2>/dev/null || { pid=""; die "crosskeyd exited during start-up"; }
    [ $i -lt 600 ] || die "no endpoints.json after 60 s"
    sleep 0.1; i=$((i + 1))
done
sleep 0.2
AUTHORITY=$(jget "$data/endpoints.json" authority)
AUTHORITY=${AUTHORITY%/}

run tenant_isv 0 --data "$data" tenant create --display-name isv
run tenant_cust 0 --data "$data" tenant create --display-name customer
T1=$(jget "$work/tenant_isv.out" tenantId); C1=$(jget "$work/tenant_isv.out" clientId)
P1=$(jget "$work/tenant_isv.out" clientSecret); S1=$(jget "$work/tenant_isv.out" subscriptionId)
T2=$(jget "$work/tenant_cust.out" tenantId); C2=$(jget "$work/tenant_cust.out" clientId)
P2=$(jget "$work/tenant_cust.out" clientSecret); S2=$(jget "$work/tenant_cust.out" subscriptionId)
[ -n "$T1" ] && [ -n "$P1" ] && [ -n "$T2" ] && [ -n "$P2" ] || die "tenant create gave no credentials"

# ==== Phase 1: the ISV configures identities (tenant isv) ====
run login_isv 0 login --service-principal -u "$C1" -p "$P1" --tenant "$T1" --data "$data"
run isv_rg 0 group create -n isvrg -l eastus -o none
run app_create 0 ad app create --display-name isv-cmk-app --sign-in-audience AzureADMultipleOrgs --query id -o tsv
APP_OID=$(cat "$work/app_create.out")
run app_show 0 ad app show --id "$APP_OID" --query appId -o tsv
APP_ID=$(cat "$work/app_show.out")
[ -n "$APP_OID" ] && [ -n "$APP_ID" ] && [ "$APP_OID" != "$APP_ID" ] || die "no app object id / appId"
run uami_create 0 identity create --name uami-cmk --resource-group isvrg --location eastus --subscription "$S1" \
    --query principalId -o tsv
UAMI_PID=$(cat "$work/uami_create.out")
run uami_id 0 identity show -n uami-cmk -g isvrg --query id -o tsv
UAMI_ID=$(cat "$work/uami_id.out")
[ -n "$UAMI_PID" ] && [ -n "$UAMI_ID" ] || die "no identity"
cat >"$work/credential.json" <<EOF
{
  "name": "MyFederatedIdentityCredential",
  "issuer": "https://login.microsoftonline.com/$T1/v2.0",
  "subject": "$UAMI_PID",
  "description": "Federated Identity Credential for CMK",
  "audiences": ["api://AzureADTokenExchange"]
}
EOF
run fic_create 0 ad app federated-credential create --id "$APP_OID" --parameters credential.json
expect fic_create "credential trusts the identity" "o.subject === '$UAMI_PID' && o.issuer === 'https://login.microsoftonline.com/$T1/v2.0' && o.audiences.length === 1 && o.audiences[0] === 'api://AzureADTokenExchange'"

# ==== Phase 2: the customer authorizes access (tenant customer) ====
run login_cust 0 login --service-principal -u "$C2" -p "$P2" --tenant "$T2" --data "$data"
run cust_rg 0 group create -n custrg -l eastus -o none
run sp_create 0 ad sp create --id "$APP_ID"
expect sp_create "service principal of the ISV app" "o.appId === '$APP_ID' && o.appOwnerOrganizationId === '$T1'"
run sp_show 0 ad sp show --id "$APP_ID" --query id -o tsv
SP_OID=$(cat "$work/sp_show.out")
run kv_create 0 keyvault create --name custkv --resource-group custrg --location eastus \
    --enable-purge-protection true --enable-rbac-authorization true
expect kv_create "purge protection and RBAC" "o.properties.enablePurgeProtection === true && o.properties.enableRbacAuthorization === true && o.properties.enableSoftDelete === true && o.properties.tenantId === '$T2'"
KV_ID=$(jget "$work/kv_create.out" id)
KV_URI=$(jget "$work/kv_create.out" properties.vaultUri)
[ -n "$KV_ID" ] && [ -n "$KV_URI" ] || die "no vault"
# The customer's own principal needs a key role to create keys (Key Vault Crypto Officer).
run me 0 ad sp show --id "$C2" --query id -o tsv
run officer 0 role assignment create --role "Key Vault Crypto Officer" --scope "$KV_ID" \
    --assignee-object-id "$(cat "$work/me.out")" -o none
run key_create 0 keyvault key create --name cmk --vault-name custkv
expect key_create "RSA key that wraps" "o.key.kty === 'RSA' && o.key.keyOps.includes('wrapKey') && o.key.keyOps.includes('unwrapKey') && /Recoverable/.test(o.attributes.recoveryLevel)"
KID1=$(jget "$work/key_create.out" key.kid)
run grant 0 role assignment create --role "Key Vault Crypto Service Encryption User" --scope "$KV_ID" \
    --assignee-object-id "$SP_OID"
expect grant "role on the vault for the app's service principal" "o.principalId === '$SP_OID' && /e147488a-f6f5-4113-8e2d-b22465e65bf6\$/.test(o.roleDefinitionId) && o.scope === '$KV_ID'"

# ==== Phase 3: the ISV encrypts storage accounts (tenant isv) ====
run account_isv 0 account set --subscription "$S1"
# The existing account: created with Microsoft-managed keys and given data first.
run old_create 0 storage account create -n acctold -g isvrg --sku Standard_LRS --kind StorageV2
expect old_create "Microsoft-managed keys" "o.encryption.keySource === 'Microsoft.Storage'"
OLD_ID=$(jget "$work/old_create.out" id)
run ep_acctold 0 storage account show -n acctold -g isvrg
run me_isv 0 ad sp show --id "$C1" --query id -o tsv
ISV_OID=$(cat "$work/me_isv.out")
run blob_role_old 0 role assignment create --role "Storage Blob Data Contributor" --scope "$OLD_ID" \
    --assignee-object-id "$ISV_OID" -o none
head -c 70000 /dev/urandom >"$work/data1.bin"
head -c 5000 /dev/urandom >"$work/data2.bin"
head -c 3000 /dev/urandom >"$work/data3.bin"
SHA1=$(sha256sum "$work/data1.bin" | cut -d' ' -f1)
SHA2=$(sha256sum "$work/data2.bin" | cut -d' ' -f1)
SHA3=$(sha256sum "$work/data3.bin" | cut -d' ' -f1)
blob_is old_mk acctold "OK" mkcontainer data1
blob_is old_put acctold "OK $SHA1" put data1 before.bin "$work/data1.bin"

# --key-vault-federated-client-id before the feature is registered: refused, naming the step.
run nofeat 1 storage account create -n acctnew -g isvrg --sku Standard_LRS --kind StorageV2 --location eastus \
    --identity-type SystemAssigned,UserAssigned --user-identity-id "$UAMI_ID" \
    --encryption-key-vault "$KV_URI" --encryption-key-name cmk --encryption-key-source Microsoft.Keyvault \
    --key-vault-user-identity-id "$UAMI_ID" --key-vault-federated-client-id "$APP_ID"
grep_err nofeat "SubscriptionNotRegisteredForFeature"
grep_err nofeat "feature register --namespace Microsoft.Storage --name FederatedClientIdentity"
run nofeat_gone 3 storage account show -n acctnew -g isvrg
run nofeat_old 1 storage account update -n acctold -g isvrg --identity-type SystemAssigned,UserAssigned \
    --user-identity-id "$UAMI_ID" --encryption-key-vault "$KV_URI" --encryption-key-name cmk \
    --encryption-key-source Microsoft.Keyvault --key-vault-user-identity-id "$UAMI_ID" \
    --key-vault-federated-client-id "$APP_ID"
grep_err nofeat_old "SubscriptionNotRegisteredForFeature"

# Seed 2.0: feature register, feature show, then the provider again.
run feat 0 feature register --namespace Microsoft.Storage --name FederatedClientIdentity
poll feat_show Registered 15 feature show --namespace Microsoft.Storage --name FederatedClientIdentity \
    --query properties.state -o tsv
run noprov 1 storage account create -n acctnew -g isvrg --sku Standard_LRS --kind StorageV2 --location eastus \
    --identity-type SystemAssigned,UserAssigned --user-identity-id "$UAMI_ID" \
    --encryption-key-vault "$KV_URI" --encryption-key-name cmk --encryption-key-source Microsoft.Keyvault \
    --key-vault-user-identity-id "$UAMI_ID" --key-vault-federated-client-id "$APP_ID"
grep_err noprov "provider register --namespace Microsoft.Storage"
run prov 0 provider register --namespace Microsoft.Storage

# A new account encrypted with the customer's key from the start (seed 2.3, new account, CLI).
run new_create 0 storage account create -n acctnew -g isvrg --sku Standard_LRS --kind StorageV2 \
    --allow-blob-public-access false --location eastus \
    --identity-type SystemAssigned,UserAssigned --user-identity-id "$UAMI_ID" \
    --encryption-key-vault "$KV_URI" --encryption-key-name cmk --encryption-key-source Microsoft.Keyvault \
    --key-vault-user-identity-id "$UAMI_ID" --key-vault-federated-client-id "$APP_ID"
expect new_create "CMK settings under the SDK's names" "o.encryption.keySource === 'Microsoft.Keyvault' && o.encryption.keyVaultProperties.keyName === 'cmk' && o.encryption.keyVaultProperties.keyVaultUri === '$KV_URI' && o.encryption.keyVaultProperties.keyVersion === '' && o.encryption.encryptionIdentity.encryptionUserAssignedIdentity === '$UAMI_ID' && o.encryption.encryptionIdentity.encryptionFederatedIdentityClientId === '$APP_ID' && o.identity.type === 'SystemAssigned,UserAssigned' && o.identity.userAssignedIdentities['$UAMI_ID'].principalId === '$UAMI_PID' && o.allowBlobPublicAccess === false"
expect new_create "the key in use is the newest version" "o.encryption.keyVaultProperties.currentVersionedKeyIdentifier === '$KID1' && typeof o.encryption.keyVaultProperties.lastKeyRotationTimestamp === 'string'"
expect new_create "keyState Usable (crosskey extension, properties.keyState)" "o.keyState && o.keyState.state === 'Usable' && o.keyState.currentKek === '$KID1' && o.keyState.errorCode === null && typeof o.keyState.leaseExpiresOn === 'string'"
NEW_ID=$(jget "$work/new_create.out" id)
run ep_acctnew 0 storage account show -n acctnew -g isvrg
run blob_role_new 0 role assignment create --role "Storage Blob Data Contributor" --scope "$NEW_ID" \
    --assignee-object-id "$ISV_OID" -o none

# The existing account, holding data, moved to the customer's key (seed 2.3, existing account, CLI).
run old_cmk 0 storage account update -n acctold -g isvrg --identity-type SystemAssigned,UserAssigned \
    --user-identity-id "$UAMI_ID" --encryption-key-vault "$KV_URI" --encryption-key-name cmk \
    --encryption-key-source Microsoft.Keyvault --key-vault-user-identity-id "$UAMI_ID" \
    --key-vault-federated-client-id "$APP_ID"
expect old_cmk "CMK settings" "o.encryption.keySource === 'Microsoft.Keyvault' && o.encryption.keyVaultProperties.keyName === 'cmk' && o.encryption.encryptionIdentity.encryptionFederatedIdentityClientId === '$APP_ID' && o.encryption.keyVaultProperties.currentVersionedKeyIdentifier === '$KID1'"

# The procedure's check: the account's key identifier is the vault's newest version.
run cur_new 0 storage account show -n acctnew -g isvrg --query encryption.keyVaultProperties.currentVersionedKeyIdentifier -o tsv
run latest 0 --subscription "$S2" keyvault key list-versions --vault-name custkv --name cmk --query "[-1].kid" -o tsv
out_is latest "$KID1"
out_is cur_new "$KID1"
# (Usable, or Revalidating for a moment on a loaded machine when the lease ran out before the
# background re-validation finished.)
poll state_new Usable 10 storage account show -n acctnew -g isvrg --query keyState.state -o tsv
run table_new 0 storage account show -n acctnew -g isvrg -o table
grep -q "acctnew .*Microsoft.Keyvault" "$work/table_new.out" && ok "-o table shows KeySource Microsoft.Keyvault" || fail "table: $(cat "$work/table_new.out")"

# ---- data round trip ----
blob_is old_get acctold "OK $SHA1" get data1 before.bin
blob_is old_put2 acctold "OK $SHA2" put data1 after.bin "$work/data2.bin"
blob_is old_get2 acctold "OK $SHA2" get data1 after.bin
blob_poll new_mk acctnew "OK" 10 mkcontainer data2
blob_is new_put acctnew "OK $SHA1" put data2 x.bin "$work/data1.bin"
blob_is new_get acctnew "OK $SHA1" get data2 x.bin

# ---- rotation: automatic-version accounts follow ----
run rotate 0 --subscription "$S2" keyvault key rotate --vault-name custkv --name cmk --query key.kid -o tsv
KID2=$(cat "$work/rotate.out")
[ -n "$KID2" ] && [ "$KID2" != "$KID1" ] && ok "rotate made version ${KID2##*/}" || fail "rotate gave '$KID2'"
run latest2 0 --subscription "$S2" keyvault key list-versions --vault-name custkv --name cmk --query "[-1].kid" -o tsv
out_is latest2 "$KID2"
TS1=$(jget "$work/ep_acctnew.out" encryption.keyVaultProperties.lastKeyRotationTimestamp)
poll follow_new "$KID2" 30 storage account show -n acctnew -g isvrg \
    --query encryption.keyVaultProperties.currentVersionedKeyIdentifier -o tsv
poll follow_old "$KID2" 30 storage account show -n acctold -g isvrg \
    --query encryption.keyVaultProperties.currentVersionedKeyIdentifier -o tsv
run after_rot 0 storage account show -n acctnew -g isvrg
expect after_rot "lastKeyRotationTimestamp moved, keyVersion still empty" "o.encryption.keyVaultProperties.lastKeyRotationTimestamp !== '$TS1' && o.encryption.keyVaultProperties.keyVersion === '' && o.keyState.currentKek === '$KID2'"
blob_is rot_get acctold "OK $SHA1" get data1 before.bin
blob_is rot_get_new acctnew "OK $SHA1" get data2 x.bin

# ---- a pinned version does not move ----
V2=${KID2##*/}
run pin 0 storage account update -n acctnew -g isvrg --encryption-key-version "$V2"
expect pin "keyVersion pinned, same key" "o.encryption.keyVaultProperties.keyVersion === '$V2' && o.encryption.keyVaultProperties.keyName === 'cmk' && o.encryption.keyVaultProperties.keyVaultUri === '$KV_URI' && o.encryption.keyVaultProperties.currentVersionedKeyIdentifier === '$KID2'"
run rotate2 0 --subscription "$S2" keyvault key rotate --vault-name custkv --name cmk --query key.kid -o tsv
KID3=$(cat "$work/rotate2.out")
# The automatic account follows (this bounds the wait); the pinned one must not.
poll follow_old3 "$KID3" 30 storage account show -n acctold -g isvrg \
    --query encryption.keyVaultProperties.currentVersionedKeyIdentifier -o tsv
sleep 6
run pinned 0 storage account show -n acctnew -g isvrg \
    --query encryption.keyVaultProperties.currentVersionedKeyIdentifier -o tsv
out_is pinned "$KID2"
# An update that does not name the version keeps the pinned one (az reads the account and changes
# only what was given).
run pin_keep 0 storage account update -n acctnew -g isvrg --identity-type SystemAssigned,UserAssigned \
    --user-identity-id "$UAMI_ID" --encryption-key-vault "$KV_URI" --encryption-key-name cmk \
    --encryption-key-source Microsoft.Keyvault --key-vault-user-identity-id "$UAMI_ID" \
    --key-vault-federated-client-id "$APP_ID"
expect pin_keep "still pinned" "o.encryption.keyVaultProperties.keyVersion === '$V2' && o.encryption.keyVaultProperties.currentVersionedKeyIdentifier === '$KID2'"
blob_is pin_get acctnew "OK $SHA1" get data2 x.bin

# ---- revocation: the customer disables the key ----
run revoke 0 --subscription "$S2" keyvault key set-attributes --vault-name custkv --name cmk --enabled false \
    --query attributes.enabled -o tsv
out_is revoke False
poll denied_old Denied 30 storage account show -n acctold -g isvrg --query keyState.state -o tsv
run denied_show 0 storage account show -n acctold -g isvrg
expect denied_show "keyState names the cause" "o.keyState.state === 'Denied' && o.keyState.errorCode === 'KeyVaultEncryptionKeyNotFound' && /KeyDisabled/.test(o.keyState.reason) && o.keyState.currentKek === '$KID3' && o.keyState.leaseExpiresOn === null"
blob_poll denied_get acctold "ERR 403 KeyVaultEncryptionKeyNotFound" 10 get data1 before.bin
blob_is denied_put acctold "ERR 403 KeyVaultEncryptionKeyNotFound" put data1 new.bin "$work/data3.bin"
blob_is denied_props acctold "ERR 403 KeyVaultEncryptionKeyNotFound" props data1 before.bin
blob_is denied_containers acctold "OK data1" containers data1
blob_is denied_list acctold "OK after.bin,before.bin" list data1
blob_is denied_listmeta acctold "ERR 403 KeyVaultEncryptionKeyNotFound" listmeta data1
blob_is denied_mk acctold "OK" mkcontainer scratch
blob_is denied_rm acctold "OK" rmcontainer scratch
# `set-attributes` without --version disabled the newest version only: the pinned account's
# version is still enabled, so it keeps working; disabling that version revokes it too.
poll pinned_usable Usable 10 storage account show -n acctnew -g isvrg --query keyState.state -o tsv
blob_is pinned_get acctnew "OK $SHA1" get data2 x.bin
run revoke_v2 0 --subscription "$S2" keyvault key set-attributes --vault-name custkv --name cmk --version "$V2" \
    --enabled false -o none
poll denied_new Denied 30 storage account show -n acctnew -g isvrg --query keyState.state -o tsv
blob_poll denied_new_get acctnew "ERR 403 KeyVaultEncryptionKeyNotFound" 10 get data2 x.bin

# ---- restore: enabled again, the accounts come back by themselves ----
run enable 0 --subscription "$S2" keyvault key set-attributes --vault-name custkv --name cmk --enabled true -o none
run enable_v2 0 --subscription "$S2" keyvault key set-attributes --vault-name custkv --name cmk --version "$V2" \
    --enabled true -o none
poll usable_old Usable 30 storage account show -n acctold -g isvrg --query keyState.state -o tsv
poll usable_new Usable 30 storage account show -n acctnew -g isvrg --query keyState.state -o tsv
blob_poll back_get acctold "OK $SHA1" 10 get data1 before.bin
blob_is back_put acctold "OK $SHA3" put data1 new.bin "$work/data3.bin"
blob_is back_get_new acctnew "OK $SHA1" get data2 x.bin

# ---- revocation by the customer's role: the service principal loses the key role ----
run ra_id 0 --subscription "$S2" role assignment list --scope "$KV_ID" --assignee "$SP_OID" --query "[0].id" -o tsv
run ra_delete 0 --subscription "$S2" role assignment delete --ids "$(cat "$work/ra_id.out")"
poll role_denied Denied 30 storage account show -n acctold -g isvrg --query keyState.state -o tsv
run role_code 0 storage account show -n acctold -g isvrg --query keyState.errorCode -o tsv
out_is role_code KeyVaultAccessTokenCannotBeAcquired
blob_poll role_get acctold "ERR 403 KeyVaultAccessTokenCannotBeAcquired" 10 get data1 before.bin
run regrant 0 --subscription "$S2" role assignment create --role "Key Vault Crypto Service Encryption User" \
    --scope "$KV_ID" --assignee-object-id "$SP_OID" -o none
poll role_usable Usable 30 storage account show -n acctold -g isvrg --query keyState.state -o tsv
blob_poll role_back acctold "OK $SHA1" 10 get data1 before.bin

# ---- unpinned again: --encryption-key-version "" follows the newest version ----
run unpin 0 storage account update -n acctnew -g isvrg --encryption-key-version ""
expect unpin "keyVersion empty" "o.encryption.keyVaultProperties.keyVersion === '' && o.encryption.keyVaultProperties.keyName === 'cmk'"
poll follow_unpin "$KID3" 30 storage account show -n acctnew -g isvrg \
    --query encryption.keyVaultProperties.currentVersionedKeyIdentifier -o tsv

# ---- a wrong key name is refused and changes nothing ----
run before_bad 0 storage account show -n acctnew -g isvrg --query encryption
run bad_key 1 storage account update -n acctnew -g isvrg --encryption-key-vault "$KV_URI" --encryption-key-name nosuchkey \
    --encryption-key-source Microsoft.Keyvault --key-vault-user-identity-id "$UAMI_ID" \
    --key-vault-federated-client-id "$APP_ID"
grep_err bad_key "(KeyVaultEncryptionKeyNotFound)"
grep_err bad_key "Exception Details:	(KeyNotFound)"
grep_err bad_key "Target: key"
run after_bad 0 storage account show -n acctnew -g isvrg --query encryption
if cmp -s "$work/before_bad.out" "$work/after_bad.out"; then ok "bad_key: encryption settings unchanged"
else fail "bad_key changed the account"; diff "$work/before_bad.out" "$work/after_bad.out" | sed 's/^/    /' >&2; fi
blob_is bad_get acctnew "OK $SHA1" get data2 x.bin

# ---- back to Microsoft-managed keys ----
run mmk 0 storage account update -n acctold -g isvrg --encryption-key-source Microsoft.Storage
expect mmk "keySource Microsoft.Storage, no key reference" "o.encryption.keySource === 'Microsoft.Storage' && o.encryption.keyVaultProperties === undefined"
blob_is mmk_get acctold "OK $SHA1" get data1 before.bin
blob_is mmk_get3 acctold "OK $SHA3" get data1 new.bin
# The customer's key no longer matters to it: disabled again, the account keeps serving.
run revoke_again 0 --subscription "$S2" keyvault key set-attributes --vault-name custkv --name cmk --enabled false -o none
poll mmk_denied_new Denied 30 storage account show -n acctnew -g isvrg --query keyState.state -o tsv
sleep 4
blob_is mmk_after acctold "OK $SHA1" get data1 before.bin
run enable_again 0 --subscription "$S2" keyvault key set-attributes --vault-name custkv --name cmk --enabled true -o none

# No secret or token in any output of the CLI or in the daemon log.
for f in "$work"/*.err "$work"/*.out "$work/daemon.log"; do
    case "$f" in */tenant_*.out) continue ;; esac
    if grep -q -e "$P1" -e "$P2" -e "eyJ[A-Za-z0-9_-]*\.eyJ" "$f"; then fail "secret or token in $(basename "$f")"; fi
done

# Stop the daemon and judge its log. Sanitizer builds: a memory error or undefined behaviour fails;
# leaks reported at exit are shown only.
kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""
if grep -E 'ERROR: AddressSanitizer|runtime error:' "$work/daemon.log" >&2; then fail "sanitizer report in the daemon log (above)"
else ok "no sanitizer report in the daemon log"; fi
grep 'SUMMARY: AddressSanitizer: .* leaked' "$work/daemon.log" && echo "note: LeakSanitizer reported leaks at exit (not judged here)"

if [ "$fails" -gt 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all CLI cross-tenant CMK checks passed"
