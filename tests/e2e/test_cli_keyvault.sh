#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The crosskey CLI's Key Vault commands end to end against a fresh crosskeyd (127.0.0.1,
# kernel-chosen ports, vault origins too): vault create/show/list/update/delete through ARM; the
# data plane behind the 401 challenge (wire reference B.1) with every key command (create RSA and
# EC, show by name and by --id, list, list-versions with [-1].kid, set-attributes, rotate, rotation
# policy, encrypt/decrypt, wrap/unwrap, delete/show-deleted/recover, backup/purge/restore, JWK
# import); the error cases az users rely on (no role -> Forbidden/ForbiddenByRbac, unknown key ->
# KeyNotFound and exit 3, disabled key, purge under protection, a vault of another tenant); the
# audit log (list, --caller, --top, verify on the service and locally, tampering detected); and
# that no secret or token reaches stdout or stderr. JSON is checked with node, not jq.
# Usage: test_cli_keyvault.sh <build dir>.
set -u

build=$(CDPATH="" cd -- "${1:?usage: test_cli_keyvault.sh <build dir>}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ck-e2e-kv.XXXXXX")
data="$work/data"
export CROSSKEY_CONFIG_DIR="$work/config"
ck="$build/crosskey"
pid=""
fails=0

cleanup() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
    if [ "${CK_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
die() { echo "FAIL: $*" >&2; [ -f "$work/daemon.log" ] && tail -n 30 "$work/daemon.log" >&2; exit 1; }

# jget FILE PATH: prints the member at a dotted path (a.b.0.c) of a JSON file; empty when absent.
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
# run NAME WANT-RC CMD...: runs the CLI, keeps stdout in $work/NAME.out and stderr in NAME.err.
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
grep_err() { # NAME PATTERN
    if grep -q -- "$2" "$work/$1.err"; then ok "$1: stderr has '$2'"; else fail "$1: stderr lacks '$2'"; sed 's/^/    /' "$work/$1.err" >&2; fi
}
out_is() { # NAME VALUE
    if [ "$(cat "$work/$1.out")" = "$2" ]; then ok "$1: output is '$2'"; else fail "$1: output '$(cat "$work/$1.out")', want '$2'"; fi
}

[ -x "$ck" ] || die "no $ck"
[ -x "$build/crosskeyd" ] || die "no $build/crosskeyd"
"$build/crosskeyd" --help 2>&1 | grep -q -- "--vault-ports" || die "this crosskeyd has no --vault-ports"

# ---- no daemon needed ----
run help 0 keyvault key --help
grep -q "rotation-policy" "$work/help.out" && grep -q "list-versions" "$work/help.out" && ok "key group help" || fail "key group help"
run help_import 0 keyvault key import --help
grep -q "pem-file" "$work/help_import.out" && grep -q "not supported yet" "$work/help_import.out" && ok "import help explains --pem-file" || fail "import help"
run missing_name 2 keyvault key create --vault-name kv1
grep_err missing_name "the following arguments are required: --name/-n"
run pem 2 keyvault key import --vault-name kv1 --name k --pem-file /dev/null
grep_err pem "not supported yet"
run bad_size 2 keyvault key create --vault-name kv1 --name k --size 1024
run bad_ops 2 keyvault key create --vault-name kv1 --name k --ops frobnicate
run bad_time 2 keyvault key set-attributes --vault-name kv1 --name k --expires tomorrow
run bad_retention 2 keyvault create -n kv1 -g rg --retention-days 3
run bad_id 2 keyvault key show --id https://localhost/secrets/x

# ---- start crosskeyd ----
mkdir -p "$data"
timeout -s TERM 600 "$build/crosskeyd" --data "$data" --listen 127.0.0.1 --port 0 --mi-port 0 --blob-port 0 \
    --vault-ports 0-0 </dev/null 2>"$work/daemon.log" >&2 &
pid=$!
i=0
while [ ! -s "$data/endpoints.json" ]; do
    kill -0 "$pid" 2>/dev/null || { pid=""; die "crosskeyd exited during start-up"; }
    [ $i -lt 600 ] || die "no endpoints.json after 60 s"
    sleep 0.1; i=$((i + 1))
done
sleep 0.2

run tenant 0 --data "$data" tenant create --display-name customer
T=$(jget "$work/tenant.out" tenantId); C=$(jget "$work/tenant.out" clientId); P=$(jget "$work/tenant.out" clientSecret)
S=$(jget "$work/tenant.out" subscriptionId)
run tenant2 0 --data "$data" tenant create --display-name other
T2=$(jget "$work/tenant2.out" tenantId); C2=$(jget "$work/tenant2.out" clientId); P2=$(jget "$work/tenant2.out" clientSecret)
[ -n "$T" ] && [ -n "$P" ] && [ -n "$P2" ] || die "tenant create gave no credentials"
run login 0 login --service-principal -u "$C" -p "$P" --tenant "$T" --data "$data"
run group 0 group create -n rg1 -l eastus -o none

# ---- vaults (management plane) ----
run kv_create 0 keyvault create --name kv1 --resource-group rg1 --location eastus --enable-purge-protection true \
    --enable-rbac-authorization true
expect kv_create "vault body" "o.name === 'kv1' && o.resourceGroup === 'rg1' && o.properties.tenantId === '$T' && o.properties.sku.name === 'standard' && o.properties.enablePurgeProtection === true && o.properties.enableRbacAuthorization === true && o.properties.enableSoftDelete === true && /^https:\/\//.test(o.properties.vaultUri)"
KV_ID=$(jget "$work/kv_create.out" id)
run kv_uri 0 keyvault show -n kv1 --query properties.vaultUri -o tsv
grep -Eq '^https://[^/]+:[0-9]+/?$' "$work/kv_uri.out" && ok "vaultUri without -g" || fail "vaultUri '$(cat "$work/kv_uri.out")'"
run kv_show_g 0 keyvault show -n kv1 -g rg1 --query id -o tsv
out_is kv_show_g "$KV_ID"
run kv2_create 0 keyvault create -n kv2 -g rg1 --retention-days 7
expect kv2_create "defaults: RBAC on, no purge protection, location of the group" "o.properties.enableRbacAuthorization === true && !o.properties.enablePurgeProtection && o.properties.softDeleteRetentionInDays === 7 && o.location === 'eastus'"
run kv_list 0 keyvault list
expect kv_list "both vaults" "o.length === 2 && o.every(v => v.resourceGroup === 'rg1')"
run kv_list_table 0 keyvault list -g rg1 -o table
grep -q "^eastus  *kv1  *rg1" "$work/kv_list_table.out" && ok "keyvault list -o table" || fail "keyvault list -o table"
run kv_update 0 keyvault update -n kv1 --tags env=prod
expect kv_update "tags updated" "o.tags.env === 'prod' && o.properties.enablePurgeProtection === true"
run kv_purge_off 1 keyvault update -n kv1 --enable-purge-protection false
run kv_missing 3 keyvault show -n nosuchvault
grep_err kv_missing "not found"

# ---- data plane without a role ----
run no_role 1 keyvault key create --vault-name kv1 --name cmk
grep_err no_role "(Forbidden)"
grep_err no_role "Inner error: ForbiddenByRbac"
run sp 0 ad sp show --id "$C" --query id -o tsv
OID=$(cat "$work/sp.out")
run ra 0 role assignment create --assignee-object-id "$OID" --assignee-principal-type ServicePrincipal \
    --role "Key Vault Crypto Officer" --scope "$KV_ID"
RA_ID=$(jget "$work/ra.out" id)
KV2_ID=$(node -e 'console.log(process.argv[1].replace(/kv1$/, "kv2"))' "$KV_ID")
run ra2 0 role assignment create --assignee-object-id "$OID" --assignee-principal-type ServicePrincipal \
    --role "Key Vault Crypto Officer" --scope "$KV2_ID" -o none

# ---- keys ----
run create 0 --debug keyvault key create --vault-name kv1 --name cmk --kty RSA --size 3072 --tags purpose=cmk
expect create "RSA 3072 key bundle in az's shape" "/^https:\/\/[^/]+\/keys\/cmk\/[0-9a-f]{32}\$/.test(o.key.kid) && o.key.kty === 'RSA' && Array.isArray(o.key.keyOps) && o.key.key_ops === undefined && o.key.n && !o.key.d && o.attributes.enabled === true && /\+00:00\$/.test(o.attributes.created) && o.attributes.recoveryLevel === 'Recoverable' && o.tags.purpose === 'cmk'"
KID1=$(jget "$work/create.out" key.kid)
grep -q "DEBUG: Request: POST https://[^ ]*/keys/cmk/create\$" "$work/create.err" && ok "--debug shows the data-plane URL without query" || fail "--debug line"
grep -q "Response status: 401" "$work/create.err" && ok "the first request met the challenge" || fail "no 401 challenge seen"
grep -qi "api-version\|Bearer \|eyJ[A-Za-z0-9_-]*\.eyJ" "$work/create.err" && fail "--debug leaked a query or token" || ok "--debug shows no query or token"
run create_q 0 keyvault key create --vault-name kv1 --name cmk2 --query key.kid -o tsv
grep -Eq '^https://.*/keys/cmk2/[0-9a-f]{32}$' "$work/create_q.out" && ok "--query key.kid" || fail "--query key.kid gave '$(cat "$work/create_q.out")'"
run create_ec 0 keyvault key create --vault-name kv1 --name ec1 --kty EC --curve P-384 --ops sign verify
expect create_ec "EC P-384 with its ops" "o.key.kty === 'EC' && o.key.crv === 'P-384' && o.key.x && o.key.y && !o.key.d && JSON.stringify(o.key.keyOps) === '[\"sign\",\"verify\"]'"
run create_hsm 1 keyvault key create --vault-name kv1 --name h1 --kty RSA-HSM
run show 0 keyvault key show --vault-name kv1 --name cmk
expect show "show: latest version" "o.key.kid === '$KID1' && o.key.n.length > 500"
run show_id 0 keyvault key show --id "$KID1" --query key.kid -o tsv
out_is show_id "$KID1"
run show_ver 0 keyvault key show --vault-name kv1 --name cmk --version "${KID1##*/}" --query key.kid -o tsv
out_is show_ver "$KID1"
run list 0 keyvault key list --vault-name kv1
expect list "three keys, named, versionless kids" "o.length === 3 && ['cmk','cmk2','ec1'].every(n => o.some(k => k.name === n && /\/keys\/[a-z0-9]+\$/.test(k.kid) && k.attributes.enabled === true))"
run list_table 0 keyvault key list --vault-name kv1 -o table
grep -q "^Name  *Enabled" "$work/list_table.out" && grep -q "^cmk  *True" "$work/list_table.out" && ok "key list -o table" || fail "key list -o table"
run rotate 0 keyvault key rotate --vault-name kv1 --name cmk
KID2=$(jget "$work/rotate.out" key.kid)
[ -n "$KID2" ] && [ "$KID2" != "$KID1" ] && ok "rotate made a new version" || fail "rotate kid '$KID2'"
expect rotate "same type and size" "o.key.kty === 'RSA' && Buffer.from(o.key.n, 'base64url').length === 384"
run versions 0 keyvault key list-versions --vault-name kv1 --name cmk
expect versions "two versions, oldest first" "o.length === 2 && o[0].kid === '$KID1' && o[1].kid === '$KID2'"
run versions_last 0 keyvault key list-versions --vault-name kv1 --name cmk --query "[-1].kid" -o tsv
out_is versions_last "$KID2"
run set_attr 0 keyvault key set-attributes --vault-name kv1 --name cmk --expires 2030-01-01T00:00:00Z --tags env=test
expect set_attr "expiry and tags" "o.attributes.expires === '2030-01-01T00:00:00+00:00' && o.tags.env === 'test' && o.key.kid === '$KID2'"

# ---- cryptography ----
run enc 0 keyvault key encrypt --vault-name kv1 --name cmk --algorithm RSA-OAEP-256 --value aGVsbG8gd29ybGQ=
CT=$(jget "$work/enc.out" result)
expect enc "ciphertext" "o.algorithm === 'RSA-OAEP-256' && o.kid === '$KID2' && Buffer.from(o.result, 'base64').length === 384"
run dec 0 keyvault key decrypt --vault-name kv1 --name cmk --algorithm RSA-OAEP-256 --value "$CT" --query result -o tsv
out_is dec "aGVsbG8gd29ybGQ="
run dec_text 0 keyvault key decrypt --id "$KID2" --algorithm RSA-OAEP-256 --value "$CT" --data-type plaintext --query result -o tsv
out_is dec_text "hello world"
run wrap 0 keyvault key wrap --vault-name kv1 --name cmk --algorithm RSA-OAEP --value AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
WR=$(jget "$work/wrap.out" result)
run unwrap 0 keyvault key unwrap --vault-name kv1 --name cmk --algorithm RSA-OAEP --value "$WR" --query result -o tsv
out_is unwrap "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
run bad_b64 2 keyvault key decrypt --vault-name kv1 --name cmk --algorithm RSA-OAEP --value '***'
run bad_alg 1 keyvault key wrap --vault-name kv1 --name cmk --algorithm A256KW --value AAEC
grep_err bad_alg "ERROR: ("
run disable 0 keyvault key set-attributes --vault-name kv1 --name cmk --enabled false --query attributes.enabled -o tsv
out_is disable "False"
run dec_disabled 1 keyvault key unwrap --vault-name kv1 --name cmk --algorithm RSA-OAEP --value "$WR"
grep_err dec_disabled "(Forbidden)"
grep_err dec_disabled "KeyDisabled"
run enable 0 keyvault key set-attributes --vault-name kv1 --name cmk --enabled true -o none

# ---- rotation policy ----
run policy_default 0 keyvault key rotation-policy show --vault-name kv1 --name cmk
expect policy_default "a policy even when none was set" "typeof o.id === 'string' && Array.isArray(o.lifetimeActions)"
cat >"$work/policy.json" <<'EOF'
{"lifetimeActions":[{"trigger":{"timeAfterCreate":"P90D"},"action":{"type":"Rotate"}},
 {"trigger":{"timeBeforeExpiry":"P30D"},"action":{"type":"Notify"}}],"attributes":{"expiryTime":"P2Y"}}
EOF
run policy_set 0 keyvault key rotation-policy update --vault-name kv1 --name cmk --value "@$work/policy.json"
expect policy_set "policy stored" "o.lifetimeActions.length === 2 && o.attributes.expiryTime === 'P2Y'"
run policy_show 0 keyvault key rotation-policy show --vault-name kv1 --name cmk --query "lifetimeActions[0].trigger.timeAfterCreate" -o tsv
out_is policy_show "P90D"

# ---- delete, recover, purge, backup, restore ----
run del 0 keyvault key delete --vault-name kv1 --name cmk2
expect del "deleted key" "/\/deletedkeys\/cmk2\$/.test(o.recoveryId) && /\+00:00\$/.test(o.scheduledPurgeDate)"
run gone 3 keyvault key show --vault-name kv1 --name cmk2
grep_err gone "(KeyNotFound)"
run show_deleted 0 keyvault key show-deleted --vault-name kv1 --name cmk2 --query recoveryId -o tsv
run list_deleted 0 keyvault key list-deleted --vault-name kv1
expect list_deleted "one deleted key" "o.length === 1 && o[0].name === 'cmk2'"
run purge_protected 1 keyvault key purge --vault-name kv1 --name cmk2
grep_err purge_protected "(Forbidden)"
run recover 0 keyvault key recover --vault-name kv1 --name cmk2
expect recover "recovered" "/\/keys\/cmk2\/[0-9a-f]{32}\$/.test(o.key.kid)"
run back 0 keyvault key show --vault-name kv1 --name cmk2 -o none
run k2 0 keyvault key create --vault-name kv2 --name bk --kty RSA --size 2048 --query key.kid -o tsv
BK=$(cat "$work/k2.out")
run backup 0 keyvault key backup --vault-name kv2 --name bk --file "$work/bk.blob"
[ -s "$work/bk.blob" ] && [ "$(stat -c %a "$work/bk.blob")" = 600 ] && ok "backup file 0600" || fail "backup file"
run backup_again 2 keyvault key backup --vault-name kv2 --name bk --file "$work/bk.blob"
run del2 0 keyvault key delete --vault-name kv2 --name bk -o none
run restore_deleted 1 keyvault key restore --vault-name kv2 --file "$work/bk.blob"
grep_err restore_deleted "(Conflict)"
run purge 0 keyvault key purge --vault-name kv2 --name bk
[ -s "$work/purge.out" ] && fail "purge printed something" || ok "purge prints nothing"
run purged 3 keyvault key show-deleted --vault-name kv2 --name bk
sleep 1
run restore 0 keyvault key restore --vault-name kv2 --file "$work/bk.blob" --query key.kid -o tsv
out_is restore "$BK"

# ---- import ----
node -e 'const { generateKeyPairSync } = require("crypto");
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
process.stdout.write(JSON.stringify(privateKey.export({ format: "jwk" })));' >"$work/imp.jwk"
chmod 600 "$work/imp.jwk"
run import 0 keyvault key import --vault-name kv1 --name byok --jwk-file "$work/imp.jwk" --ops wrapKey unwrapKey
expect import "imported, public parts only" "o.key.kty === 'RSA' && !o.key.d && o.key.n === JSON.parse(require('fs').readFileSync('$work/imp.jwk','utf8')).n && JSON.stringify(o.key.keyOps) === '[\"wrapKey\",\"unwrapKey\"]'"
D=$(jget "$work/imp.jwk" d)
grep -q -- "$D" "$work"/*.out "$work"/*.err && fail "the private exponent was printed" || ok "private exponent not printed"
echo '{"kty":"RSA","n":"AQAB","e":"AQAB"}' >"$work/pub.jwk"
run import_pub 2 keyvault key import --vault-name kv1 --name pub --jwk-file "$work/pub.jwk"

# ---- errors ----
run unknown 3 keyvault key show --vault-name kv1 --name nosuchkey
grep_err unknown "(KeyNotFound)"
run unknown_ver 3 keyvault key show --vault-name kv1 --name cmk --version 00000000000000000000000000000000
run unknown_vault 3 keyvault key list --vault-name nosuchvault

# ---- a vault of another tenant ----
run login2 0 login --service-principal -u "$C2" -p "$P2" --tenant "$T2" --data "$data"
run other_tenant 1 keyvault key show --id "$KID2"
grep_err other_tenant "belongs to tenant $T"
run account_back 0 account set --subscription "$S"

# ---- audit ----
run audit 0 keyvault audit list --name kv1
expect audit "records of the data-plane operations, chained" "o.length >= 20 && o[0].sequence === 1 && o.every((r, i) => r.sequence === i + 1 && /^[0-9a-f]{64}\$/.test(r.hash) && (i === 0 || r.prevHash === o[i-1].hash)) && o.some(r => r.callerOid === '$OID' && /create/i.test(r.operation))"
run audit_caller 0 keyvault audit list --name kv1 -g rg1 --caller "$OID" --top 3
expect audit_caller "--caller and --top" "o.length === 3 && o.every(r => r.callerOid === '$OID')"
run audit_table 0 keyvault audit list --name kv1 --top 2 -o table
grep -q "^Sequence  *Time  *Operation" "$work/audit_table.out" && ok "audit list -o table" || fail "audit list -o table"
run verify 0 keyvault audit verify --name kv1
expect verify "valid on the service and locally" "o.valid === true && o.server.valid === true && o.local.valid === true && o.local.records === o.server.records && o.server.records >= 20"
# Tampering: edit one stored record (the service's own store) and both checks must see it.
db=$(find "$data" -name 'vault.db' | head -n 1)
if [ -n "$db" ] && command -v sqlite3 >/dev/null; then
    sqlite3 "$db" "UPDATE audit SET record = replace(record, '\"requestId\":\"', '\"requestId\":\"x') WHERE seq = 3;" \
        2>"$work/sqlite.err"
    run verify_bad 1 keyvault audit verify --name kv1
    expect verify_bad "tampering found" "o.valid === false && o.server.firstBadSequence === 3"
    grep_err verify_bad "broken at sequence 3"
else
    echo "skip: no vault.db or sqlite3 for the tampering check"
fi

# ---- removing the role takes effect on the next request ----
run ra_delete 0 role assignment delete --ids "$RA_ID"
run after_revoke 1 keyvault key show --vault-name kv1 --name cmk
grep_err after_revoke "ForbiddenByRbac"

# ---- vault delete ----
run kv2_delete 0 keyvault delete -n kv2
run kv2_gone 3 keyvault show -n kv2 -g rg1

# No secret or token may appear in any output of the CLI.
for f in "$work"/*.err "$work"/*.out; do
    case "$f" in */tenant*.out) continue ;; esac
    if grep -q -e "$P" -e "$P2" -e "eyJ[A-Za-z0-9_-]*\.eyJ" "$f"; then fail "secret or token in $(basename "$f")"; fi
done

if [ "$fails" -gt 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all CLI keyvault checks passed"
