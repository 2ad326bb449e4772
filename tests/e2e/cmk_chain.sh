# SPDX-License-Identifier: Apache-2.0
# The cross-tenant chain of the seed procedure with the crosskey CLI (az replaced by crosskey), for
# the scripts that need one ready-made: tests/e2e/test_cmk_crash.sh and bench/bench_cmk.sh.
# Source it; the caller provides $ck (the CLI), $data, $work, and the functions
#   cli NAME ARGS...   the CLI, stdout to $work/NAME.out, failing the run on an error
#   val NAME           what that call printed
#   jfield FILE KEY    a string member of the CLI's indented JSON output
#   fail MESSAGE...    ends the run
#
# cmk_chain KEY...: tenants isv and customer; the ISV's multi-tenant app, user-assigned identity
# (uami-cmk in isvrg) and federated credential; the customer's service principal of the app, vault
# custkv (purge protection, RBAC) with the keys named, Crypto Officer for the customer admin and
# Crypto Service Encryption User for the app; the feature and the provider registered. Sets T1 C1
# P1 S1 (isv), T2 C2 P2 S2 (customer), APP_OID APP_ID UAMI_PID UAMI_ID KV_URI; the CLI is left
# on the ISV's subscription.
cmk_chain() {
    cli tenant_isv --data "$data" tenant create --display-name isv
    cli tenant_cust --data "$data" tenant create --display-name customer
    T1=$(jfield "$work/tenant_isv.out" tenantId); C1=$(jfield "$work/tenant_isv.out" clientId)
    P1=$(jfield "$work/tenant_isv.out" clientSecret); S1=$(jfield "$work/tenant_isv.out" subscriptionId)
    T2=$(jfield "$work/tenant_cust.out" tenantId); C2=$(jfield "$work/tenant_cust.out" clientId)
    P2=$(jfield "$work/tenant_cust.out" clientSecret); S2=$(jfield "$work/tenant_cust.out" subscriptionId)
    [ -n "$T1" ] && [ -n "$P1" ] && [ -n "$T2" ] && [ -n "$P2" ] || fail "tenant create gave no credentials"
    # The ISV: app, identity, federated credential.
    cli login_isv login --service-principal -u "$C1" -p "$P1" --tenant "$T1" --data "$data"
    cli isv_rg group create -n isvrg -l eastus -o none
    cli app ad app create --display-name isv-cmk-app --sign-in-audience AzureADMultipleOrgs --query id -o tsv
    APP_OID=$(val app)
    cli app_id ad app show --id "$APP_OID" --query appId -o tsv
    APP_ID=$(val app_id)
    cli uami identity create --name uami-cmk --resource-group isvrg --location eastus --query principalId -o tsv
    UAMI_PID=$(val uami)
    cli uami_id identity show -n uami-cmk -g isvrg --query id -o tsv
    UAMI_ID=$(val uami_id)
    cat >"$work/credential.json" <<EOF
{"name": "MyFederatedIdentityCredential", "issuer": "https://login.microsoftonline.com/$T1/v2.0",
 "subject": "$UAMI_PID", "description": "Federated Identity Credential for CMK",
 "audiences": ["api://AzureADTokenExchange"]}
EOF
    cli fic ad app federated-credential create --id "$APP_OID" --parameters "$work/credential.json"
    # The customer: service principal of the app, vault, keys, roles.
    cli login_cust login --service-principal -u "$C2" -p "$P2" --tenant "$T2" --data "$data"
    cli cust_rg group create -n custrg -l eastus -o none
    cli sp ad sp create --id "$APP_ID" -o none
    cli sp_id ad sp show --id "$APP_ID" --query id -o tsv
    cli kv keyvault create --name custkv --resource-group custrg --location eastus \
        --enable-purge-protection true --enable-rbac-authorization true -o none
    cli kv_id keyvault show --name custkv --query id -o tsv
    cli kv_uri keyvault show --name custkv --query properties.vaultUri -o tsv
    KV_URI=$(val kv_uri)
    cli me ad sp show --id "$C2" --query id -o tsv
    cli officer role assignment create --role "Key Vault Crypto Officer" --scope "$(val kv_id)" \
        --assignee-object-id "$(val me)" -o none
    for k in "$@"; do
        cli "kvkey_$k" keyvault key create --name "$k" --vault-name custkv -o none
    done
    cli grant role assignment create --role "Key Vault Crypto Service Encryption User" --scope "$(val kv_id)" \
        --assignee-object-id "$(val sp_id)" -o none
    # The ISV again: the feature, then the provider.
    cli account_isv account set --subscription "$S1"
    cli feat feature register --namespace Microsoft.Storage --name FederatedClientIdentity -o none
    i=0
    until [ "$(timeout 60 "$ck" feature show --namespace Microsoft.Storage --name FederatedClientIdentity \
        --query properties.state -o tsv 2>/dev/null)" = Registered ]; do
        [ $i -lt 60 ] || fail "feature FederatedClientIdentity not Registered after 30 s"
        sleep 0.5; i=$((i + 1))
    done
    cli prov provider register --namespace Microsoft.Storage -o none
}
