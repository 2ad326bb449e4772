#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `crosskey --data DIR quickstart --revoke` from a clean data directory, against a fresh crosskeyd
# (127.0.0.1 only, kernel-chosen ports, default CMK settings, bounded by timeout, stopped by its
# pid). Its output is checked step by step, in order: each step's command line as a user types it
# (the seed procedure's commands and flags, secrets as "$ISV_SECRET"/"$CUSTOMER_SECRET") and the
# one-line result under it: two tenants; feature, provider, multi-tenant app, identity, federated
# credential; service principal, vault with purge protection and RBAC, Crypto Officer, key, Crypto
# Service Encryption User; the CMK account (keyState Usable), the version check against
# list-versions [-1].kid, the data role, a container, a blob uploaded and read back identical; a
# rotation followed; the audit log; revocation (keyState Denied with KeyVaultEncryptionKeyNotFound,
# the download refused in plain words) and restore (Usable, the data back). Then: the portal URL
# and both sign-ins only at the end, no secret earlier, none in the daemon log; DIR/quickstart.json
# mode 0600; the printed read-only commands run again by hand give the same answers (they are real
# command lines); a second run succeeds, reuses every object (its create steps say "reused") and
# still follows a new rotation. Both runs must finish well under a minute. Then the CLI's advice
# when storage refuses a customer key (a wrong key name, the role or the service principal taken
# away: "Target: <link>" and "To fix: ..."), and a third run without --revoke that puts the
# broken chain back together.
# Usage: test_quickstart.sh <build dir>. CK_KEEP=1 keeps the work directory.
set -u

build=$(CDPATH="" cd -- "${1:?usage: test_quickstart.sh <build dir>}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ck-e2e-qs.XXXXXX")
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

[ -x "$ck" ] || die "no $ck"
[ -x "$ckd" ] || die "no $ckd"
command -v node >/dev/null || { echo "SKIP: node is needed to check the output"; exit 77; }

mkdir -p "$data"
timeout -s TERM 240 "$ckd" --data "$data" --listen 127.0.0.1 --port 0 --mi-port 0 --blob-port 0 \
    --vault-ports 0-0 </dev/null 2>"$work/daemon.log" >&2 &
pid=$!
i=0
while [ ! -s "$data/endpoints.json" ]; do
    kill -0 "$pid" 2>/dev/null || { pid=""; die "crosskeyd exited during start-up"; }
    [ $i -lt 600 ] || die "no endpoints.json after 60 s"
    sleep 0.1; i=$((i + 1))
done

# The expected steps: "command regex<TAB>result regex", in order (the command without "crosskey ").
# A result regex starting with "=" must match on the second run too, "~" only on the first (the
# second run must say "reused" there).
cat >"$work/steps.tsv" <<'EOF'
--data \S+ tenant create --display-name isv	~^tenant [0-9a-f-]{36}, subscription [0-9a-f-]{36}, admin client id [0-9a-f-]{36}
--data \S+ tenant create --display-name customer	~^tenant [0-9a-f-]{36}, subscription [0-9a-f-]{36}, admin client id
login --service-principal -u [0-9a-f-]{36} -p "\$ISV_SECRET" --tenant [0-9a-f-]{36} --data \S+	=^signed in as the isv admin
group create -n isvrg -l eastus	=: Succeeded$
feature register --namespace Microsoft.Storage --name FederatedClientIdentity	=FederatedClientIdentity: Regist
feature show --namespace Microsoft.Storage --name FederatedClientIdentity --query properties.state -o tsv	=^Registered$
provider register --namespace Microsoft.Storage	=registered
ad app create --display-name isv-cmk-app --sign-in-audience AzureADMultipleOrgs --query id -o tsv	~^multi-tenant application isv-cmk-app, object id [0-9a-f-]{36}$
ad app show --id [0-9a-f-]{36} --query appId -o tsv	=^appId .* [0-9a-f-]{36}$
identity create --name uami-cmk --resource-group isvrg --location eastus --subscription [0-9a-f-]{36} --query principalId -o tsv	~^user-assigned identity uami-cmk, principalId [0-9a-f-]{36}$
identity show -n uami-cmk -g isvrg --query id -o tsv	=^resource id /subscriptions/.*/userAssignedIdentities/uami-cmk$
ad app federated-credential create --id [0-9a-f-]{36} --parameters '\{"name":"MyFederatedIdentityCredential","issuer":"https://login.microsoftonline.com/[0-9a-f-]{36}/v2.0","subject":"[0-9a-f-]{36}","description":"Federated Identity Credential for CMK","audiences":\["api://AzureADTokenExchange"\]\}'	~^the app trusts the identity: issuer https://login.microsoftonline.com/[0-9a-f-]{36}/v2.0, subject [0-9a-f-]{36}, audience api://AzureADTokenExchange$
login --service-principal -u [0-9a-f-]{36} -p "\$CUSTOMER_SECRET" --tenant [0-9a-f-]{36} --data \S+	=^signed in as the customer admin
group create -n custrg -l eastus	=: Succeeded$
ad sp create --id [0-9a-f-]{36}	~^the ISV's app installed in the customer's tenant \(app owner tenant [0-9a-f-]{36}\)$
ad sp show --id [0-9a-f-]{36} --query id -o tsv	=^service principal object id [0-9a-f-]{36}
keyvault create --name custkv[0-9a-f]{4} --resource-group custrg --location eastus --enable-purge-protection true --enable-rbac-authorization true	~^vault custkv[0-9a-f]{4}: soft delete on, purge protection on, RBAC on$
keyvault show -n custkv[0-9a-f]{4} --query id -o tsv	=^/subscriptions/[0-9a-f-]{36}/resourceGroups/custrg/providers/Microsoft.KeyVault/vaults/custkv[0-9a-f]{4}$
keyvault show -n custkv[0-9a-f]{4} --query properties.vaultUri -o tsv	=^vault URI https://
ad sp show --id [0-9a-f-]{36} --query id -o tsv	=^the customer admin's object id [0-9a-f-]{36}$
role assignment create --role "Key Vault Crypto Officer" --scope /subscriptions/\S+/vaults/custkv[0-9a-f]{4} --assignee-object-id [0-9a-f-]{36}	~^Key Vault Crypto Officer: [0-9a-f-]{36}
keyvault key create --name cmk --vault-name custkv[0-9a-f]{4}	~^RSA cmk key, version https://\S+/keys/cmk/[0-9a-f]+$
role assignment create --role "Key Vault Crypto Service Encryption User" --scope /subscriptions/\S+/vaults/custkv[0-9a-f]{4} --assignee-object-id [0-9a-f-]{36}	~^Key Vault Crypto Service Encryption User: [0-9a-f-]{36}
account set --subscription [0-9a-f-]{36}	=is the default again$
storage account create -n isvdata[0-9a-f]{4} -g isvrg --sku Standard_LRS --kind StorageV2 --allow-blob-public-access false --location eastus --identity-type SystemAssigned,UserAssigned --user-identity-id /subscriptions/\S+/uami-cmk --encryption-key-vault https://\S+ --encryption-key-name cmk --encryption-key-source Microsoft.Keyvault --key-vault-user-identity-id /subscriptions/\S+/uami-cmk --key-vault-federated-client-id [0-9a-f-]{36}	~^account isvdata[0-9a-f]{4}: keySource Microsoft.Keyvault, key https://\S+/keys/cmk/[0-9a-f]+, identity uami-cmk with the app [0-9a-f-]{36}; keyState Usable$
storage account show -n isvdata[0-9a-f]{4} -g isvrg --query encryption.keyVaultProperties.currentVersionedKeyIdentifier -o tsv	=^https://\S+/keys/cmk/[0-9a-f]+$
--subscription [0-9a-f-]{36} keyvault key list-versions --vault-name custkv[0-9a-f]{4} --name cmk --query "\[-1\].kid" -o tsv	=the same id, so the account uses the customer's newest key version$
ad sp show --id [0-9a-f-]{36} --query id -o tsv	=^the ISV admin's object id [0-9a-f-]{36}$
role assignment create --role "Storage Blob Data Contributor" --scope /subscriptions/\S+/storageAccounts/isvdata[0-9a-f]{4} --assignee-object-id [0-9a-f-]{36}	~^Storage Blob Data Contributor: [0-9a-f-]{36}
storage container create -n data --account-name isvdata[0-9a-f]{4} --auth-mode login	~^container data created$
storage blob upload --account-name isvdata[0-9a-f]{4} -c data -n hello.txt -f \S+/quickstart/hello.txt --auth-mode login --overwrite	=^uploaded \(etag "0x[0-9A-F]+"\)
storage blob download --account-name isvdata[0-9a-f]{4} -c data -n hello.txt -f \S+/quickstart/hello.read.txt --auth-mode login	=^[0-9]+ bytes read back, identical to \S+/quickstart/hello.txt$
--subscription [0-9a-f-]{36} keyvault key rotate --vault-name custkv[0-9a-f]{4} --name cmk --query key.kid -o tsv	=^new version https://\S+/keys/cmk/[0-9a-f]+$
storage account show -n isvdata[0-9a-f]{4} -g isvrg --query encryption.keyVaultProperties.currentVersionedKeyIdentifier -o tsv	=^the account uses the new version after [0-9.]+ s
storage blob download --account-name isvdata[0-9a-f]{4} -c data -n hello.txt -f \S+/quickstart/hello.read.txt --auth-mode login	=identical to \S+/quickstart/hello.txt after the rotation$
--subscription [0-9a-f-]{36} keyvault audit list -n custkv[0-9a-f]{4} --caller [0-9a-f-]{36}	=^[0-9]+ records of the ISV app's calls; the last: (Un)?[Ww]rapKey
--subscription [0-9a-f-]{36} keyvault key set-attributes --vault-name custkv[0-9a-f]{4} --name cmk --enabled false	=^key cmk disabled \(enabled: false\)$
storage account show -n isvdata[0-9a-f]{4} -g isvrg --query keyState	=^keyState Denied after [0-9.]+ s: KeyVaultEncryptionKeyNotFound
storage blob download --account-name isvdata[0-9a-f]{4} -c data -n hello.txt -f \S+/quickstart/hello.read.txt --auth-mode login	=^refused \(exit 1\), as expected: ERROR: \(KeyVaultEncryptionKeyNotFound\) the customer's key is disabled or access to it was revoked: 
--subscription [0-9a-f-]{36} keyvault key set-attributes --vault-name custkv[0-9a-f]{4} --name cmk --enabled true	=^key cmk enabled$
storage account show -n isvdata[0-9a-f]{4} -g isvrg --query keyState	=^keyState Usable after [0-9.]+ s
storage blob download --account-name isvdata[0-9a-f]{4} -c data -n hello.txt -f \S+/quickstart/hello.read.txt --auth-mode login	=identical to \S+/quickstart/hello.txt again$
EOF

# check_steps OUTPUT RUN: the steps of steps.tsv, in order, numbered 1, 2, 3, ... (RUN 2: the "~"
# results must say "reused" instead).
check_steps() {
    node -e '
const fs = require("fs");
const out = fs.readFileSync(process.argv[1], "utf8").split("\n");
const run = Number(process.argv[3]);
const want = fs.readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean).map(l => l.split("\t"));
let pos = 0, bad = 0, n = 0;
for (const [cmd, res] of want) {
  n++;
  const cre = new RegExp("^ *" + n + "\\. crosskey " + cmd + "$");
  let i = pos;
  while (i < out.length && !/^ *[0-9]+\. crosskey /.test(out[i])) i++;
  const line = out[i] ?? "", result = (out[i + 1] ?? "").replace(/^ *-> /, "");
  const rre = res[0] === "~" && run === 2 ? /^reused/ : new RegExp(res.slice(1));
  if (!cre.test(line)) { console.log(`FAIL: step ${n}: command\n    got:  ${line}\n    want: ${cmd}`); bad++; }
  else if (!/^ *-> /.test(out[i + 1] ?? "") || !rre.test(result)) { console.log(`FAIL: step ${n}: result\n    got:  ${result}\n    want: ${rre}`); bad++; }
  else console.log(`ok: step ${n}: ${cmd.slice(0, 60)}${cmd.length > 60 ? "..." : ""} -> ${result.slice(0, 70)}`);
  pos = i + 1;
}
const extra = out.slice(pos).filter(l => /^ *[0-9]+\. crosskey /.test(l));
if (extra.length) { console.log(`FAIL: ${extra.length} unexpected step(s) after step ${n}: ${extra[0]}`); bad++; }
process.exit(bad ? 1 : 0);
' "$1" "$work/steps.tsv" "$2"
}

# ---- first run, from a clean data directory ----
t0=$(date +%s)
timeout 90 "$ck" --data "$data" quickstart --revoke >"$work/run1.out" 2>"$work/run1.err"
rc=$?
t1=$(date +%s)
if [ "$rc" = 0 ]; then ok "run 1: exit 0 in $((t1 - t0)) s"; else fail "run 1: exit $rc"; cat "$work/run1.out" "$work/run1.err" >&2; die "quickstart failed"; fi
[ $((t1 - t0)) -lt 45 ] && ok "run 1 well under a minute" || fail "run 1 took $((t1 - t0)) s"
if check_steps "$work/run1.out" 1; then ok "run 1: every step's command and result, in order"; else fail "run 1: steps (above)"; fi
[ -s "$work/run1.err" ] && { fail "run 1 wrote to stderr"; sed 's/^/    /' "$work/run1.err" >&2; }

# The end: the portal URL on the main origin, both sign-ins; secrets nowhere before.
ARM=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1])).arm.replace(/\/$/, "")' "$data/endpoints.json")
grep -q "^Portal: $ARM/portal/\$" "$work/run1.out" && ok "portal URL $ARM/portal/" || fail "no 'Portal: $ARM/portal/' line"
STATE="$data/quickstart.json"
[ "$(stat -c %a "$STATE")" = 600 ] && ok "quickstart.json is mode 0600" || fail "quickstart.json mode $(stat -c %a "$STATE")"
P1=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1])).tenants.isv.clientSecret' "$STATE")
P2=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1])).tenants.customer.clientSecret' "$STATE")
T1=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1])).tenants.isv.tenantId' "$STATE")
C2=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1])).tenants.customer.clientId' "$STATE")
S2=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1])).tenants.customer.subscriptionId' "$STATE")
[ -n "$P1" ] && [ -n "$P2" ] || die "no secrets in quickstart.json"
sed '/^== Done/q' "$work/run1.out" >"$work/run1.steps"
if grep -q -F -e "$P1" -e "$P2" "$work/run1.steps"; then fail "a secret is printed before the end"; else ok "no secret before the sign-ins"; fi
sed -n '/^== Done/,$p' "$work/run1.out" >"$work/run1.end"
grep -q "tenant id: *$T1" "$work/run1.end" && grep -q "client secret: *$P1" "$work/run1.end" &&
    grep -q "client id: *$C2" "$work/run1.end" && grep -q "client secret: *$P2" "$work/run1.end" &&
    ok "sign-ins of both tenants (tenant id, client id, client secret)" || { fail "sign-ins"; cat "$work/run1.end" >&2; }
if grep -q -F -e "$P1" -e "$P2" "$work/daemon.log" || grep -q "eyJ[A-Za-z0-9_-]*\.eyJ" "$work/daemon.log"; then
    fail "a secret or token in the daemon log"; else ok "no secret or token in the daemon log"; fi

# The printed commands are real: the read-only ones, run by hand, answer too. Those of phase 2 ran
# while the customer was the default account; by hand now (the ISV is the default) they take the
# customer's subscription, as the end of the output says.
awk '/^== Phase 2/{c=1} /^== Phase 3/{c=0} /^ *[0-9]+\. crosskey .* (show|list-versions) .*-o tsv$/{sub(/^ *[0-9]+\. crosskey /,""); print c "\t" $0}' \
    "$work/run1.out" >"$work/byhand.txt"
n=0
while IFS="$(printf '\t')" read -r cust line; do
    n=$((n + 1))
    sub=""
    [ "$cust" = 1 ] && sub="--subscription $S2"
    # Evaluated as a shell would (quotes included), with crosskey being this build's.
    if out=$(eval "timeout 30 \"\$ck\" $sub $line" 2>"$work/byhand.err") && [ -n "$out" ]; then :
    else fail "by hand: crosskey $sub $line"; sed 's/^/    /' "$work/byhand.err" >&2; fi
done <"$work/byhand.txt"
[ "$n" -ge 8 ] && ok "$n printed show/list commands run again by hand" || fail "only $n show commands found"
# The login line with the exported secret, as the end of the output suggests.
eval "$(grep "^  export ISV_SECRET=" "$work/run1.out")"
LOGIN=$(grep -E '^ *3\. crosskey login ' "$work/run1.out" | sed 's/^ *3\. crosskey //')
if eval "timeout 30 \"\$ck\" $LOGIN -o none"; then ok "the printed login works with \$ISV_SECRET exported"; else fail "printed login"; fi
LIST=$(timeout 30 "$ck" account list --query "[].name" -o tsv | sort | tr '\n' ' ')
[ "$LIST" = "customer isv " ] && ok "the CLI is signed in as both tenants" || fail "account list: $LIST"

# ---- second run: everything reused ----
KID_BEFORE=$(grep -A1 -E '^ *33\. crosskey ' "$work/run1.out" | sed -n 's/^ *-> new version //p')
t0=$(date +%s)
timeout 90 "$ck" --data "$data" quickstart --revoke >"$work/run2.out" 2>"$work/run2.err"
rc=$?
t1=$(date +%s)
if [ "$rc" = 0 ]; then ok "run 2: exit 0 in $((t1 - t0)) s"; else fail "run 2: exit $rc"; cat "$work/run2.out" "$work/run2.err" >&2; fi
if check_steps "$work/run2.out" 2; then ok "run 2: the same steps; every create says reused"; else fail "run 2: steps (above)"; fi
REUSED=$(grep -c -- "-> reused" "$work/run2.out")
[ "$REUSED" -ge 13 ] && ok "run 2: $REUSED steps reused" || fail "run 2: only $REUSED steps reused"
for f in run1 run2; do
    ids=$(grep -o 'custkv[0-9a-f]\{4\}\|isvdata[0-9a-f]\{4\}' "$work/$f.out" | sort -u | tr '\n' ' ')
    echo "$ids" >"$work/$f.names"
done
cmp -s "$work/run1.names" "$work/run2.names" && ok "run 2 used the same vault and account ($(cat "$work/run1.names"))" ||
    fail "names differ: $(cat "$work/run1.names") / $(cat "$work/run2.names")"
TENANTS=$(timeout 30 "$ck" --data "$data" tenant list --query "[].tenantId" -o tsv | wc -l)
[ "$TENANTS" = 2 ] && ok "still two tenants" || fail "$TENANTS tenants after two runs"
KID_AFTER=$(grep -A1 -E '^ *33\. crosskey ' "$work/run2.out" | sed -n 's/^ *-> new version //p')
CUR=$(timeout 30 "$ck" storage account show -n "$(tr -d ' ' <"$work/run1.names" | grep -o 'isvdata[0-9a-f]\{4\}')" -g isvrg \
    --query encryption.keyVaultProperties.currentVersionedKeyIdentifier -o tsv)
[ -n "$KID_AFTER" ] && [ "$KID_AFTER" != "$KID_BEFORE" ] && [ "$CUR" = "$KID_AFTER" ] &&
    ok "run 2 rotated again and the account follows: ${CUR##*/}" || fail "rotation: before $KID_BEFORE, after $KID_AFTER, account $CUR"
VERSIONS=$(timeout 30 "$ck" --subscription "$S2" keyvault key list-versions --vault-name "$(grep -o 'custkv[0-9a-f]\{4\}' "$work/run1.names")" \
    --name cmk --query "[].kid" -o tsv | wc -l)
[ "$VERSIONS" = 3 ] && ok "one key with three versions (created once, rotated twice)" || fail "$VERSIONS key versions"

# ---- the CLI's advice for a refused customer key (ARM error details name the broken link) ----
VAULT=$(grep -o 'custkv[0-9a-f]\{4\}' "$work/run1.names")
ACCT=$(grep -o 'isvdata[0-9a-f]\{4\}' "$work/run1.names")
APPID=$(grep -E '^ *9\. crosskey ' -A1 "$work/run1.out" | sed -n 's/.* \([0-9a-f-]\{36\}\)$/\1/p')
UAMI=$(timeout 30 "$ck" identity show -n uami-cmk -g isvrg --query id -o tsv)
KVURI=$(timeout 30 "$ck" --subscription "$S2" keyvault show -n "$VAULT" --query properties.vaultUri -o tsv)
SPID=$(timeout 30 "$ck" --subscription "$S2" ad sp show --id "$APPID" --query id -o tsv)
# bad_account NAME KEY: a new account with the customer's key KEY; stderr in NAME.err.
bad_account() {
    timeout 60 "$ck" storage account create -n "$1" -g isvrg --sku Standard_LRS --kind StorageV2 --location eastus \
        --identity-type UserAssigned --user-identity-id "$UAMI" --encryption-key-vault "$KVURI" --encryption-key-name "$2" \
        --encryption-key-source Microsoft.Keyvault --key-vault-user-identity-id "$UAMI" --key-vault-federated-client-id "$APPID" \
        >"$work/$1.out" 2>"$work/$1.err"
}
advice() { # NAME TARGET TEXT
    if [ "$rc" != 0 ] && grep -q "Target: $2" "$work/$1.err" && grep -q -F "To fix: $3" "$work/$1.err"; then ok "$1: names '$2' and says: $3"
    else fail "$1: exit $rc, want the link '$2' and 'To fix: $3'"; sed 's/^/    /' "$work/$1.err" >&2; fi
}
bad_account badkey nosuchkey; rc=$?
advice badkey key "check the key name and version"
RA=$(timeout 30 "$ck" --subscription "$S2" role assignment list --scope "$(timeout 30 "$ck" --subscription "$S2" keyvault show -n "$VAULT" --query id -o tsv)" \
    --assignee "$SPID" --role "Key Vault Crypto Service Encryption User" --query "[0].id" -o tsv)
timeout 30 "$ck" --subscription "$S2" role assignment delete --ids "$RA" >/dev/null 2>&1 || fail "role assignment delete"
bad_account badrole cmk; rc=$?
advice badrole role "the customer must grant Key Vault Crypto Service Encryption User on the vault to the app's service principal"
timeout 30 "$ck" --subscription "$S2" ad sp delete --id "$APPID" >/dev/null 2>&1 || fail "ad sp delete"
bad_account badsp cmk; rc=$?
advice badsp servicePrincipal "the customer must create the app's service principal: crosskey ad sp create --id <appId>"
# The quickstart puts the chain back together: a third run recreates the service principal and the role.
timeout 90 "$ck" --data "$data" quickstart >"$work/run3.out" 2>"$work/run3.err"
rc=$?
if [ "$rc" = 0 ] && grep -q "the ISV's app installed in the customer's tenant" "$work/run3.out" &&
    grep -q "^ *-> Key Vault Crypto Service Encryption User: " "$work/run3.out" &&
    grep -q "identical to .* after the rotation" "$work/run3.out"; then ok "run 3 (no --revoke) restores the service principal and the role it lost"
else fail "run 3: exit $rc"; sed 's/^/    /' "$work/run3.out" "$work/run3.err" >&2; fi
grep -q "^== Revocation" "$work/run3.out" && fail "run 3 revoked without --revoke" || ok "run 3 without --revoke shows no revocation"

kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""
if grep -E 'ERROR: AddressSanitizer|runtime error:' "$work/daemon.log" "$work"/run*.err >&2 ||
    grep 'ERROR: LeakSanitizer' "$work"/run*.err >&2; then fail "sanitizer report (above)"
else ok "no sanitizer report in the daemon log, nor a leak in the CLI"; fi

if [ "$fails" -gt 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all quickstart checks passed"
