#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The starting point of the portal tests, made with the crosskey CLI as the procedure writes it
# (../shared/reference/seed-flow.md section 2, az replaced by crosskey), on a running crosskeyd:
#   two tenants (isv, customer) with `crosskey tenant create`;
#   ISV: resource group, the multi-tenant app, the user-assigned identity, the federated
#     credential, the feature Microsoft.Storage/FederatedClientIdentity and the provider
#     registered again, and an EXISTING storage account on Microsoft-managed keys;
#   customer: the app's service principal, a vault with purge protection and RBAC, Key Vault Crypto
#     Officer for the customer admin, an RSA key, and Key Vault Crypto Service Encryption User for
#     the app's service principal at the vault.
# The account is NOT moved to the customer's key: the browser test does that on the Encryption page.
# Writes WORK/fixture.json. Usage: chain.sh <build dir> <data dir> <work dir>.
set -eu

build=$1 data=$2 work=$3
node=${NODE:-node}
export CROSSKEY_CONFIG_DIR="$work/config"
ck() { timeout 60 "$build/crosskey" "$@"; }
# jget FILE PATH: the member at a dotted path of a JSON file.
jget() {
    "$node" -e '
let v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
for (const k of process.argv[2].split(".")) v = v == null ? v : v[k];
if (v == null) process.exit(1);
console.log(typeof v === "object" ? JSON.stringify(v) : String(v));' "$1" "$2"
}
step() { echo "== $*"; }

step tenants
ck --data "$data" tenant create --display-name isv >"$work/isv.json"
ck --data "$data" tenant create --display-name customer >"$work/customer.json"
T1=$(jget "$work/isv.json" tenantId); C1=$(jget "$work/isv.json" clientId)
P1=$(jget "$work/isv.json" clientSecret); S1=$(jget "$work/isv.json" subscriptionId)
T2=$(jget "$work/customer.json" tenantId); C2=$(jget "$work/customer.json" clientId)
P2=$(jget "$work/customer.json" clientSecret); S2=$(jget "$work/customer.json" subscriptionId)

step "ISV: app, identity, federated credential, registration, existing account"
ck login --service-principal -u "$C1" -p "$P1" --tenant "$T1" --data "$data" >/dev/null
ck group create -n isvrg -l eastus -o none
ck ad app create --display-name isv-cmk-app --sign-in-audience AzureADMultipleOrgs >"$work/app.json"
APP_OID=$(jget "$work/app.json" id); APP_ID=$(jget "$work/app.json" appId)
ck identity create --name uami-cmk --resource-group isvrg --location eastus >"$work/uami.json"
UAMI_ID=$(jget "$work/uami.json" id); UAMI_PID=$(jget "$work/uami.json" principalId)
cat >"$work/credential.json" <<EOF
{
  "name": "MyFederatedIdentityCredential",
  "issuer": "https://login.microsoftonline.com/$T1/v2.0",
  "subject": "$UAMI_PID",
  "description": "Federated Identity Credential for CMK",
  "audiences": ["api://AzureADTokenExchange"]
}
EOF
ck ad app federated-credential create --id "$APP_OID" --parameters "$work/credential.json" -o none
ck feature register --namespace Microsoft.Storage --name FederatedClientIdentity -o none
ck provider register --namespace Microsoft.Storage -o none
ck storage account create -n isvdata -g isvrg --sku Standard_LRS --kind StorageV2 \
    --allow-blob-public-access false --location eastus >"$work/account.json"
ACCT_ID=$(jget "$work/account.json" id)

step "customer: service principal, vault, key, role"
ck login --service-principal -u "$C2" -p "$P2" --tenant "$T2" --data "$data" >/dev/null
ck group create -n custrg -l eastus -o none
ck ad sp create --id "$APP_ID" >"$work/sp.json"
SP_OID=$(jget "$work/sp.json" id)
ck keyvault create --name custkv --resource-group custrg --location eastus \
    --enable-purge-protection true --enable-rbac-authorization true >"$work/vault.json"
KV_ID=$(jget "$work/vault.json" id); KV_URI=$(jget "$work/vault.json" properties.vaultUri)
ME2=$(ck ad sp show --id "$C2" --query id -o tsv)
ck role assignment create --role "Key Vault Crypto Officer" --scope "$KV_ID" --assignee-object-id "$ME2" -o none
ck keyvault key create --name cmk --vault-name custkv >"$work/key.json"
KID=$(jget "$work/key.json" key.kid)
ck role assignment create --role "Key Vault Crypto Service Encryption User" --scope "$KV_ID" \
    --assignee-object-id "$SP_OID" -o none

step fixture
"$node" -e '
const fs = require("fs");
const [work, ...v] = process.argv.slice(1);
const rd = (f) => JSON.parse(fs.readFileSync(`${work}/${f}`, "utf8"));
const [appId, appOid, uamiId, uamiPid, acctId, spOid, kvId, kvUri, kid, me2] = v;
const f = {
  endpoints: rd("endpoints.json"), isv: rd("isv.json"), customer: rd("customer.json"),
  app: { id: appOid, appId, displayName: "isv-cmk-app" },
  uami: { id: uamiId, principalId: uamiPid, name: "uami-cmk" },
  account: { id: acctId, name: "isvdata", rg: "isvrg" },
  sp: { id: spOid }, customerAdminOid: me2,
  vault: { id: kvId, uri: kvUri, name: "custkv", rg: "custrg" },
  key: { name: "cmk", kid },
};
fs.writeFileSync(`${work}/fixture.json`, JSON.stringify(f, null, 2));
' "$work" "$APP_ID" "$APP_OID" "$UAMI_ID" "$UAMI_PID" "$ACCT_ID" "$SP_OID" "$KV_ID" "$KV_URI" "$KID" "$ME2"
echo "chain ready"
