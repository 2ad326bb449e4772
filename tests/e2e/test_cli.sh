#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The crosskey CLI end to end against a fresh crosskeyd (127.0.0.1, kernel-chosen ports): operator
# bootstrap of two tenants, service-principal login (profile 0600 in a 0700 directory), resource
# groups, feature and provider registration, a multi-tenant app with a federated credential, a
# user-assigned identity, the app's service principal in the second tenant, role assignments
# (create, list, delete), workload registration, output formats and --query, and the error cases
# az users rely on (wrong secret -> AADSTS7000215, unknown command, missing flag, exit codes).
# JSON is checked with node, not jq. Usage: test_cli.sh <build dir>.
set -u

build=$(CDPATH="" cd -- "${1:?usage: test_cli.sh <build dir>}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ck-e2e-cli.XXXXXX")
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
# jcheck FILE JS-EXPRESSION: true when the expression over o (the parsed file) holds.
jcheck() {
    node -e 'const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
process.exit(('"$2"') ? 0 : 1)' "$1" 2>/dev/null
}
is_uuid() { echo "$1" | grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'; }

# run NAME WANT-RC CMD...: runs the CLI, keeps stdout in $work/NAME.out and stderr in NAME.err.
run() {
    name=$1 want=$2
    shift 2
    timeout 60 "$ck" "$@" >"$work/$name.out" 2>"$work/$name.err"
    rc=$?
    if [ "$rc" = "$want" ]; then ok "$name (exit $rc)"
    else fail "$name: exit $rc, want $want"; sed 's/^/    /' "$work/$name.err" >&2; fi
}
# expect NAME DESCRIPTION JS: a check on the JSON output of a run.
expect() {
    if jcheck "$work/$1.out" "$3"; then ok "$1: $2"; else fail "$1: $2"; sed 's/^/    /' "$work/$1.out" >&2; fi
}
grep_err() { # NAME PATTERN
    if grep -q -- "$2" "$work/$1.err"; then ok "$1: stderr has '$2'"; else fail "$1: stderr lacks '$2'"; sed 's/^/    /' "$work/$1.err" >&2; fi
}

[ -x "$ck" ] || die "no $ck"
[ -x "$build/crosskeyd" ] || die "no $build/crosskeyd"

# ---- no daemon needed: help, usage errors ----
run help 0 --help
grep -q "Subgroups" "$work/help.out" && grep -q "login" "$work/help.out" && ok "help lists groups and commands" || fail "help output"
run help_cmd 0 role assignment create --help
grep -q -- "--role \[Required\]" "$work/help_cmd.out" && ok "command help lists flags" || fail "command help"
run help_group 0 ad app
grep -q "federated-credential" "$work/help_group.out" && ok "group help lists subgroups" || fail "group help"
run unknown 2 storage frobnicate
grep_err unknown "misspelled or not recognized"
run missing_flag 2 group create -n rg1
grep_err missing_flag "the following arguments are required: --location/-l"
run bad_flag 2 group create -n rg1 -l eastus --bogus
grep_err bad_flag "unrecognized arguments: --bogus"
run bad_output 2 group list -o yaml
run not_logged_in 1 group list
grep_err not_logged_in "crosskey login"
run no_data 2 tenant create --display-name x
grep_err no_data "need --data DIR"

# ---- start crosskeyd ----
mkdir -p "$data"
timeout -s TERM 300 "$build/crosskeyd" --data "$data" --listen 127.0.0.1 --port 0 --mi-port 0 --blob-port 0 \
    </dev/null 2>"$work/daemon.log" >&2 &
pid=$!
i=0
while [ ! -s "$data/endpoints.json" ]; do
    kill -0 "$pid" 2>/dev/null || { pid=""; die "crosskeyd exited during start-up"; }
    [ $i -lt 600 ] || die "no endpoints.json after 60 s"
    sleep 0.1; i=$((i + 1))
done
sleep 0.2

# ---- operator bootstrap ----
run wrong_dir 1 --data "$work/nowhere" tenant list
run tenant1 0 --data "$data" tenant create --display-name isv
expect tenant1 "has tenantId, subscriptionId, clientId, clientSecret" \
    'o.tenantId && o.subscriptionId && o.clientId && o.clientSecret && Object.keys(o).length === 4'
run tenant2 0 --data "$data" tenant create --display-name customer
T1=$(jget "$work/tenant1.out" tenantId); C1=$(jget "$work/tenant1.out" clientId); P1=$(jget "$work/tenant1.out" clientSecret)
S1=$(jget "$work/tenant1.out" subscriptionId)
T2=$(jget "$work/tenant2.out" tenantId); C2=$(jget "$work/tenant2.out" clientId); P2=$(jget "$work/tenant2.out" clientSecret)
S2=$(jget "$work/tenant2.out" subscriptionId)
[ -n "$T1" ] && [ -n "$T2" ] && [ -n "$P1" ] || die "tenant create gave no credentials"
run tenant_list 0 --data "$data" tenant list
expect tenant_list "lists both tenants with their subscriptions" \
    "o.length >= 2 && o.some(t => t.tenantId === '$T1' && t.subscriptionId === '$S1') && o.some(t => t.tenantId === '$T2' && t.subscriptions.includes('$S2'))"
run tenant_list_tsv 0 --data "$data" tenant list -o tsv
grep -q "$T1	isv" "$work/tenant_list_tsv.out" && ok "tenant list -o tsv" || fail "tenant list -o tsv"

# ---- login ----
run login_bad 1 login --service-principal -u "$C1" -p "not-the-secret" --tenant "$T1" --data "$data"
grep_err login_bad "AADSTS7000215"
[ ! -f "$CROSSKEY_CONFIG_DIR/profile.json" ] && ok "failed login saved nothing" || fail "failed login saved a profile"
run login1 0 login --service-principal -u "$C1" -p "$P1" --tenant "$T1" --data "$data"
expect login1 "prints the subscription, default" "o.length === 1 && o[0].id === '$S1' && o[0].tenantId === '$T1' && o[0].isDefault === true && o[0].user.type === 'servicePrincipal'"
grep -q "$P1" "$work/login1.out" "$work/login1.err" && fail "login printed the secret" || ok "login does not print the secret"
mode=$(stat -c %a "$CROSSKEY_CONFIG_DIR/profile.json"); dmode=$(stat -c %a "$CROSSKEY_CONFIG_DIR")
[ "$mode" = 600 ] && [ "$dmode" = 700 ] && ok "profile 0600 in a 0700 directory" || fail "profile mode $mode, dir $dmode"
run account_show 0 account show
expect account_show "current subscription" "o.id === '$S1' && o.name === 'isv'"
run account_show_q 0 account show --query id -o tsv
[ "$(cat "$work/account_show_q.out")" = "$S1" ] && ok "--query id -o tsv" || fail "--query id -o tsv gave '$(cat "$work/account_show_q.out")'"

# ---- resource groups, features, providers (tenant 1) ----
run group_create 0 --debug group create -n rg1 -l eastus --tags env=test
expect group_create "group body" "o.name === 'rg1' && o.location === 'eastus' && o.properties.provisioningState === 'Succeeded' && o.tags.env === 'test'"
grep -q "DEBUG: Request: PUT https://.*/subscriptions/$S1/resourcegroups/rg1\$" "$work/group_create.err" && ok "--debug shows method and URL without query" || fail "--debug line"
grep -qi "api-version\|Bearer\|eyJ" "$work/group_create.err" && fail "--debug leaked a query or token" || ok "--debug shows no query or token"
run group_show 0 group show -n rg1
expect group_show "group show" "o.id === '/subscriptions/$S1/resourceGroups/rg1'"
run group_table 0 group list -o table
grep -q "^rg1  *eastus  *Succeeded" "$work/group_table.out" && ok "group list -o table" || fail "group list -o table"
run group_missing 3 group show -n nope
grep_err group_missing "(ResourceGroupNotFound)"
run feature_register 0 feature register --namespace Microsoft.Storage --name FederatedClientIdentity
expect feature_register "feature result" "o.name === 'Microsoft.Storage/FederatedClientIdentity' && typeof o.properties.state === 'string'"
state=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
    run feature_show 0 feature show --namespace Microsoft.Storage --name FederatedClientIdentity --query properties.state -o tsv
    state=$(cat "$work/feature_show.out")
    [ "$state" = Registered ] && break
    sleep 1
done
[ "$state" = Registered ] && ok "feature reaches Registered" || fail "feature state '$state'"
run provider_register 0 provider register --namespace Microsoft.Storage
run provider_show 0 provider show --namespace Microsoft.Storage
expect provider_show "provider state" "o.namespace.toLowerCase() === 'microsoft.storage' && /Regist/.test(o.registrationState)"

# ---- app, identity, federated credential (tenant 1) ----
run app_create 0 ad app create --display-name isv-cmk-app --sign-in-audience AzureADMultipleOrgs
expect app_create "multi-tenant app" "o.appId && o.id && o.signInAudience === 'AzureADMultipleOrgs'"
APP=$(jget "$work/app_create.out" appId); APPOID=$(jget "$work/app_create.out" id)
run app_show 0 ad app show --id "$APP" --query id -o tsv
[ "$(cat "$work/app_show.out")" = "$APPOID" ] && ok "ad app show by appId" || fail "ad app show by appId"
run app_show_oid 0 ad app show --id "$APPOID"
expect app_show_oid "ad app show by object id" "o.appId === '$APP'"
run identity_create 0 identity create -n uami1 -g rg1
expect identity_create "flattened identity" "o.principalId && o.clientId && o.tenantId === '$T1' && o.resourceGroup === 'rg1' && o.location === 'eastus' && o.properties === undefined"
UAMI_ID=$(jget "$work/identity_create.out" id); UAMI_PID=$(jget "$work/identity_create.out" principalId)
run identity_show 0 identity show -n uami1 -g rg1 --query principalId -o tsv
[ "$(cat "$work/identity_show.out")" = "$UAMI_PID" ] && ok "identity show --query principalId" || fail "identity show"
cat >"$work/credential.json" <<EOF
{"name":"uami-fic","issuer":"https://login.microsoftonline.com/$T1/v2.0","subject":"$UAMI_PID",
 "audiences":["api://AzureADTokenExchange"],"description":"Federated Identity Credential for CMK"}
EOF
run fic_create 0 ad app federated-credential create --id "$APPOID" --parameters "@$work/credential.json"
expect fic_create "credential" "o.name === 'uami-fic' && o.subject === '$UAMI_PID' && o.audiences[0] === 'api://AzureADTokenExchange'"
run fic_list 0 ad app federated-credential list --id "$APP"
expect fic_list "one credential" "o.length === 1 && o[0].issuer === 'https://login.microsoftonline.com/$T1/v2.0'"
run app_filter 0 ad app list --query "[?displayName=='isv-cmk-app'].appId" -o tsv
[ "$(cat "$work/app_filter.out")" = "$APP" ] && ok "--query filter" || fail "--query filter gave '$(cat "$work/app_filter.out")'"
run fic_bad 2 ad app federated-credential create --id "$APPOID" --parameters '{not json'
run workload 0 --data "$data" workload create --identity "$UAMI_ID"
expect workload "endpoint and header" "o.identityEndpoint && o.identityHeader && Object.keys(o).length === 2"

# ---- tenant 2: consent the app, grant it a role ----
run login2 0 login --service-principal -u "$C2" -p "$P2" --tenant "$T2" --data "$data"
run account_list 0 account list
expect account_list "two accounts, the new one default" "o.length === 2 && o.find(a => a.id === '$S2').isDefault && !o.find(a => a.id === '$S1').isDefault"
run sp_create 0 ad sp create --id "$APP"
expect sp_create "service principal of the app" "o.appId === '$APP' && o.id && o.appOwnerOrganizationId === '$T1'"
SPID=$(jget "$work/sp_create.out" id)
run sp_show 0 ad sp show --id "$APP" --query id -o tsv
[ "$(cat "$work/sp_show.out")" = "$SPID" ] && ok "ad sp show --query id" || fail "ad sp show"
run group2 0 group create -n custrg -l eastus -o none
[ -s "$work/group2.out" ] && fail "-o none printed something" || ok "-o none prints nothing"
SCOPE="/subscriptions/$S2/resourceGroups/custrg"
run ra_create 0 role assignment create --assignee-object-id "$SPID" --assignee-principal-type ServicePrincipal \
    --role "Key Vault Crypto Service Encryption User" --scope "$SCOPE"
expect ra_create "assignment" "o.principalId === '$SPID' && /e147488a-f6f5-4113-8e2d-b22465e65bf6\$/.test(o.roleDefinitionId) && o.scope === '$SCOPE' && o.principalType === 'ServicePrincipal'"
RA_ID=$(jget "$work/ra_create.out" id)
run ra_list 0 role assignment list --scope "$SCOPE"
expect ra_list "listed with its role name" "o.length === 1 && o[0].id === '$RA_ID' && o[0].roleDefinitionName === 'Key Vault Crypto Service Encryption User'"
run ra_list_assignee 0 role assignment list --assignee "$APP" --all
expect ra_list_assignee "--assignee appId resolves through Graph" "o.length === 1 && o[0].principalId === '$SPID'"
run ra_create2 0 role assignment create --assignee "$APP" --role Reader --scope "$SCOPE"
run ra_delete_match 0 role assignment delete --assignee "$APP" --role Reader --scope "$SCOPE"
run ra_delete 0 role assignment delete --ids "$RA_ID"
run ra_list_empty 0 role assignment list --scope "$SCOPE"
expect ra_list_empty "no assignment left" "o.length === 0"
run ra_bad_role 1 role assignment create --assignee-object-id "$SPID" --role "No Such Role" --scope "$SCOPE"
grep_err ra_bad_role "Role 'No Such Role' doesn't exist"
run ra_no_assignee 2 role assignment create --role Reader --scope "$SCOPE"

# ---- switching accounts, deleting, signing out ----
run group1_again 0 --subscription "$S1" group show -n rg1 --query name -o tsv
[ "$(cat "$work/group1_again.out")" = rg1 ] && ok "--subscription picks the other account" || fail "--subscription"
run sp_delete 0 ad sp delete --id "$APP"
run sp_gone 3 ad sp show --id "$APP"
run fic_delete 0 --subscription "$S1" ad app federated-credential delete --id "$APP" --federated-credential-id uami-fic
run fic_list_empty 0 --subscription "$S1" ad app federated-credential list --id "$APPOID"
expect fic_list_empty "credential deleted by name" "o.length === 0"
run identity_delete 0 --subscription "$S1" identity delete -n uami1 -g rg1
run identity_gone 3 --subscription "$S1" identity show -n uami1 -g rg1
run app_delete 0 --subscription "$S1" ad app delete --id "$APP"
run app_gone 3 --subscription "$S1" ad app show --id "$APP"
run group_delete_noyes 1 group delete -n custrg </dev/null
grep_err group_delete_noyes "Use --yes"
run group_delete 0 group delete -n custrg --yes
run group_exists 0 group exists -n custrg
[ "$(cat "$work/group_exists.out")" = false ] && ok "deleted group is gone" || fail "group exists after delete"
run account_set 0 account set --subscription isv
run account_show2 0 account show --query id -o tsv
[ "$(cat "$work/account_show2.out")" = "$S1" ] && ok "account set by name" || fail "account set"
run logout 0 logout
run account_list2 0 account list
expect account_list2 "one account left" "o.length === 1 && o[0].id === '$S2' && o[0].isDefault"
run logout2 0 logout
[ ! -f "$CROSSKEY_CONFIG_DIR/profile.json" ] && ok "last logout removes the profile" || fail "profile left after logout"

# No secret may appear in the CLI's stderr anywhere.
for f in "$work"/*.err; do
    if grep -q -e "$P1" -e "$P2" "$f"; then fail "secret in $(basename "$f")"; fi
done

if [ "$fails" -gt 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all CLI checks passed"
