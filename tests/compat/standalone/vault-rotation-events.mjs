// SPDX-License-Identifier: Apache-2.0
// Key rotation policies with the scheduler, key-state events and the audit log, against a crosskeyd
// started with --test-clock (the operator moves the clock with POST /operator/vault/tick).
// Usage: node vault-rotation-events.mjs <data dir> <tenant json>
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
const opKey = fs.readFileSync(`${dir}/secrets/operator.key`, "utf8").trim();
const kvOpts = { disableChallengeResourceVerification: true };
// A new credential after each clock move: tokens cached by MSAL were issued on the old clock.
const newCred = () => new ClientSecretCredential(t.tenantId, t.clientId, t.clientSecret,
  { authorityHost: ep.authority, disableInstanceDiscovery: true });
const tick = async (advanceSeconds) => {
  const r = await fetch(`${ep.arm}/operator/vault/tick`, { method: "POST",
    headers: { authorization: `Operator ${opKey}`, "content-type": "application/json" }, body: JSON.stringify({ advanceSeconds }) });
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
};
const bearer = async (cred) => `Bearer ${(await cred.getToken("https://vault.azure.net/.default")).token}`;
const feed = async (cred, uri, q) => {
  const r = await fetch(`${uri}events?api-version=7.5&${q}`, { headers: { authorization: await bearer(cred) } });
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
};

let cred = newCred();
const armCred = cred;
await new ResourceManagementClient(cred, t.subscriptionId, { endpoint: ep.arm }).resourceGroups.createOrUpdate("rg", { location: "eastus" });
const kvm = new KeyVaultManagementClient(cred, t.subscriptionId, { endpoint: ep.arm });
const v = await kvm.vaults.createOrUpdate("rg", "rotvault", { location: "eastus",
  properties: { tenantId: t.tenantId, sku: { family: "A", name: "standard" }, enablePurgeProtection: true, enableRbacAuthorization: true } });
const uri = v.properties.vaultUri;
const authz = new AuthorizationManagementClient(cred, t.subscriptionId, { endpoint: ep.arm });
const oid = JSON.parse(Buffer.from((await cred.getToken(`${ep.arm}/.default`)).token.split(".")[1], "base64url")).oid;
const raName = crypto.randomUUID();
await authz.roleAssignments.create(v.id, raName, {
  roleDefinitionId: "/providers/Microsoft.Authorization/roleDefinitions/14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
  principalId: oid, principalType: "ServicePrincipal" });

// 1. Events: the role assignment at the vault scope, a new version, disable/enable.
let kc = new KeyClient(uri, cred, kvOpts);
const k1 = await kc.createRsaKey("cmk", { keySize: 2048 });
await kc.updateKeyProperties("cmk", k1.properties.version, { enabled: false });
await kc.updateKeyProperties("cmk", k1.properties.version, { enabled: true });
let f = await feed(cred, uri, "cursor=0");
const types = f.value.map((e) => e.eventType);
assert.deepEqual(types, ["Microsoft.KeyVault.RoleAssignmentCreated", "Microsoft.KeyVault.KeyNewVersionCreated",
  "Microsoft.KeyVault.KeyDisabled", "Microsoft.KeyVault.KeyEnabled"], JSON.stringify(types));
assert.equal(f.value[1].subject, k1.id);
assert.equal(f.value[0].data.principalId, oid);
const ids = f.value.map((e) => e.id);
assert.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]), "event ids increase");
// A subscriber that was away resumes from its cursor and sees only what it missed.
const cursor = f.cursor;
await kc.createEcKey("other", { curve: "P-256" });
f = await feed(cred, uri, `cursor=${cursor}&key=cmk`);
assert.equal(f.value.length, 0, "the key filter leaves out other keys' events");
f = await feed(cred, uri, `cursor=${cursor}`);
assert.deepEqual(f.value.map((e) => e.objectName), ["other"]);
// Long poll: the feed answers as soon as the event happens.
const t0 = Date.now();
const waiting = feed(cred, uri, `cursor=${f.cursor}&key=cmk&timeout=20`);
setTimeout(() => kc.updateKeyProperties("cmk", k1.properties.version, { enabled: false }), 300);
const lp = await waiting;
assert.deepEqual(lp.value.map((e) => e.eventType), ["Microsoft.KeyVault.KeyDisabled"]);
assert.ok(Date.now() - t0 < 5000, `long poll took ${Date.now() - t0} ms`);
await kc.updateKeyProperties("cmk", k1.properties.version, { enabled: true });
// Bad cursor and timeout values.
const bad = await fetch(`${uri}events?api-version=7.5&cursor=-1`, { headers: { authorization: await bearer(cred) } });
assert.equal(bad.status, 400);

// 2. Rotation policy: rotate 30 days after creation, new versions expire after 90 days.
await kc.updateKeyRotationPolicy("cmk", { lifetimeActions: [{ action: "Rotate", timeAfterCreate: "P30D" },
  { action: "Notify", timeBeforeExpiry: "P10D" }], expiresIn: "P90D" });
const pol = await kc.getKeyRotationPolicy("cmk");
assert.equal(pol.expiresIn, "P90D");
let r = await tick(0);
assert.deepEqual(r.rotated, [], "nothing is due yet");
r = await tick(29 * 86400);
assert.deepEqual(r.rotated, [], "29 days: not yet");
r = await tick(2 * 86400);
assert.equal(r.rotated.length, 1, JSON.stringify(r));
assert.equal(r.rotated[0].name, "cmk");
cred = newCred();
kc = new KeyClient(uri, cred, kvOpts);
const latest = await kc.getKey("cmk");
assert.equal(latest.properties.version, r.rotated[0].version);
assert.ok(latest.properties.expiresOn, "the rotated version carries the policy's expiry");
const days = (latest.properties.expiresOn.getTime() - latest.properties.createdOn.getTime()) / 86400000;
assert.ok(Math.abs(days - 90) < 0.01, `expiry ${days} days after creation`);
// The old version still unwraps what it wrapped (rotation never re-encrypts).
const oldCc = new CryptographyClient(k1.id, cred, kvOpts);
const wrapped = await oldCc.wrapKey("RSA-OAEP-256", Buffer.alloc(32, 3));
assert.deepEqual(Buffer.from((await oldCc.unwrapKey("RSA-OAEP-256", wrapped.result)).result), Buffer.alloc(32, 3));
// 81 more days: the new version is 10 days from expiry -> one near-expiry notice, and 30 days old -> rotated again.
r = await tick(81 * 86400);
assert.deepEqual(r.notified, ["cmk"]);
assert.equal(r.rotated.length, 1);
r = await tick(0);
assert.deepEqual(r.notified, [], "a notice is sent once per version");
cred = newCred();
f = await feed(cred, uri, `cursor=${cursor}&key=cmk`);
const rotTypes = f.value.map((e) => e.eventType);
assert.ok(rotTypes.includes("Microsoft.KeyVault.KeyNearExpiry"), JSON.stringify(rotTypes));
assert.equal(rotTypes.filter((x) => x === "Microsoft.KeyVault.KeyNewVersionCreated").length, 2);

// 3. Removing the role assignment is an event too, and the next request is refused.
await new AuthorizationManagementClient(armCred, t.subscriptionId, { endpoint: ep.arm }).roleAssignments.delete(v.id, raName).catch(async () => {
  await new AuthorizationManagementClient(newCred(), t.subscriptionId, { endpoint: ep.arm }).roleAssignments.delete(v.id, raName);
});
const denied = await fetch(`${uri}events?api-version=7.5&cursor=0`, { headers: { authorization: await bearer(cred) } });
assert.equal(denied.status, 403);

// 4. The audit log, read through ARM: every request above is there, and the chain verifies.
const armTok = `Bearer ${(await newCred().getToken(`${ep.arm}/.default`)).token}`;
let records = [];
for (let url = `${ep.arm}${v.id}/auditRecords?api-version=2026-02-01&$top=50`; url;) {
  const page = await (await fetch(url, { headers: { authorization: armTok } })).json();
  records = records.concat(page.value);
  url = page.nextLink;
}
const ops = new Set(records.map((x) => x.operation));
for (const op of ["CreateKey", "UpdateKey", "ReadEvents", "SetRotationPolicy", "GetRotationPolicy", "WrapKey", "UnwrapKey", "GetKey"])
  assert.ok(ops.has(op), `audit has ${op}: ${[...ops]}`);
assert.ok(records.some((x) => x.operation === "ReadEvents" && x.result === 403), "the refused request is audited");
assert.ok(records.every((x, i) => x.sequence === i + 1));
const ver = await (await fetch(`${ep.arm}${v.id}/verifyAudit?api-version=2026-02-01`, { method: "POST", headers: { authorization: armTok } })).json();
assert.deepEqual(ver, { valid: true, records: records.length, firstBadSequence: null });
console.log(`ok: events, rotation policy with the scheduler, and ${records.length} audit records`);
