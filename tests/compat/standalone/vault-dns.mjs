// SPDX-License-Identifier: Apache-2.0
// Key Vault under a DNS suffix: vaults are https://{vault}.vault.localtest:{port}/, routed by Host
// header, and the challenge names resource https://vault.localtest. So the unmodified KeyClient and
// CryptographyClient work WITHOUT disableChallengeResourceVerification (wire reference B.1 step 4).
// Usage: node --import ./resolve-localtest.mjs vault-dns.mjs <data dir> <tenant json>
import assert from "node:assert/strict";
import fs from "node:fs";
import { ClientSecretCredential } from "@azure/identity";
import { KeyVaultManagementClient } from "@azure/arm-keyvault";
import { ResourceManagementClient } from "@azure/arm-resources";
import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { KeyClient, CryptographyClient } from "@azure/keyvault-keys";

const [dir, tenantFile] = process.argv.slice(2);
const ep = JSON.parse(fs.readFileSync(`${dir}/endpoints.json`, "utf8"));
const t = JSON.parse(fs.readFileSync(tenantFile, "utf8"));
const cred = new ClientSecretCredential(t.tenantId, t.clientId, t.clientSecret,
  { authorityHost: ep.authority, disableInstanceDiscovery: true });
await new ResourceManagementClient(cred, t.subscriptionId, { endpoint: ep.arm })
  .resourceGroups.createOrUpdate("rg", { location: "eastus" });
const v = await new KeyVaultManagementClient(cred, t.subscriptionId, { endpoint: ep.arm }).vaults.createOrUpdate("rg", "vault1", {
  location: "eastus",
  properties: { tenantId: t.tenantId, sku: { family: "A", name: "standard" }, enablePurgeProtection: true, enableRbacAuthorization: true },
});
const uri = new URL(v.properties.vaultUri);
assert.equal(uri.hostname, "vault1.vault.localtest", v.properties.vaultUri);

// The unauthenticated probe: 401 with the suffix as the resource.
const probe = await fetch(`${v.properties.vaultUri}keys?api-version=7.5`);
assert.equal(probe.status, 401);
assert.match(probe.headers.get("www-authenticate"), new RegExp(`authorization="[^"]*/${t.tenantId}", resource="https://vault\\.localtest"`));

const oid = JSON.parse(Buffer.from((await cred.getToken(`${ep.arm}/.default`)).token.split(".")[1], "base64url")).oid;
await new AuthorizationManagementClient(cred, t.subscriptionId, { endpoint: ep.arm }).roleAssignments.create(v.id, crypto.randomUUID(), {
  roleDefinitionId: "/providers/Microsoft.Authorization/roleDefinitions/14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
  principalId: oid, principalType: "ServicePrincipal",
});
// No disableChallengeResourceVerification: the SDK checks vault1.vault.localtest ends with .vault.localtest.
const kc = new KeyClient(v.properties.vaultUri, cred);
const key = await kc.createRsaKey("cmk", { keySize: 2048 });
assert.equal(new URL(key.id).hostname, "vault1.vault.localtest");
const cc = new CryptographyClient(key.id, cred);
const wrapped = await cc.wrapKey("RSA-OAEP-256", Buffer.alloc(32, 9));
const un = await cc.unwrapKey("RSA-OAEP-256", wrapped.result);
assert.deepEqual(Buffer.from(un.result), Buffer.alloc(32, 9));

// Another host under the suffix that names no vault.
const other = await fetch(`https://nosuchvault.vault.localtest:${uri.port}/keys?api-version=7.5`);
assert.equal(other.status, 404);
console.log("ok: vault under a DNS suffix with unmodified KeyClient and CryptographyClient");
