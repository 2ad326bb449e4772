// SPDX-License-Identifier: Apache-2.0
// Microsoft.KeyVault/vaults through @azure/arm-keyvault 5.0.0 (wire reference C.5): create with
// RBAC, soft delete and purge protection, get, list by resource group and subscription, update,
// the refusals (purge protection cannot be turned off, retention 7-90, access policies), delete.
// Then the data plane's first contact: each vault its own origin, the 401 challenge naming the
// vault's tenant, and the subscription Owner holding no data-plane rights until it assigns itself
// a Key Vault role (Owner has no dataActions; role changes apply on the next request).
import assert from "node:assert/strict";
import { ROLE, arm, customer, customerCred, isv, isvCred, rejectsArm, uniq } from "./lib.mjs";
import {
  KV_ROLE, LOCATION, VAULT_TYPE, assertChallenge, assignRole, createVault, kvArm, kvRaw, keyClient,
  oidOf, prepare, rejectsKv, vaultBody, vaultId, vaultName, vaultToken,
} from "./kvlib.mjs";

const tag = uniq();
const s = {};
const sub = customer.subscriptionId;

const { it } = await prepare("resource group and a vault with purge protection (arm-keyvault)", async () => {
  s.cred = customerCred();
  s.a = arm(s.cred, sub);
  s.kvm = kvArm(s.cred, sub);
  s.rg = `rg-kvarm-${tag}`;
  await s.a.resources.resourceGroups.createOrUpdate(s.rg, { location: LOCATION });
  s.name = vaultName("kva");
  s.body = vaultBody(customer.tenantId, { purgeProtection: true, retentionDays: 7, tags: { env: "test" } });
  s.vault = await createVault(s.kvm, s.rg, s.name, s.body);
});

function assertVault(v, { name, rg, purgeProtection, retentionDays }) {
  const ctx = JSON.stringify(v);
  assert.equal(v.id.toLowerCase(), vaultId(sub, rg, name).toLowerCase(), ctx);
  assert.equal(v.name, name, ctx);
  assert.equal(v.type, VAULT_TYPE, ctx);
  assert.equal(v.location, LOCATION, ctx);
  const p = v.properties;
  assert.ok(p, `no properties: ${ctx}`);
  assert.deepEqual({ ...p.sku }, { family: "A", name: "standard" }, ctx);
  assert.equal(p.tenantId, customer.tenantId, ctx);
  assert.match(p.vaultUri, /^https:\/\/localhost:\d+\/$/, ctx);
  assert.equal(p.enableSoftDelete, true, ctx);
  assert.equal(p.softDeleteRetentionInDays, retentionDays, ctx);
  assert.equal(p.enablePurgeProtection ?? false, purgeProtection, ctx);
  assert.equal(p.enableRbacAuthorization, true, ctx);
  assert.equal(p.provisioningState, "Succeeded", ctx);
}

it("create: properties.sku, tenantId, vaultUri on localhost, soft delete, purge protection, RBAC", () => {
  assertVault(s.vault, { name: s.name, rg: s.rg, purgeProtection: true, retentionDays: 7 });
  assert.deepEqual(s.vault.tags, { env: "test" });
  if (s.vault.properties.accessPolicies !== undefined) assert.deepEqual(s.vault.properties.accessPolicies, []);
});

it("the vault URI answers the Key Vault challenge for the vault's tenant", async () => {
  // Wire reference B.1: any unauthenticated request gets 401 before routing.
  const r = await kvRaw(s.vault.properties.vaultUri, "keys");
  assertChallenge(r, customer.tenantId);
});

it("get returns the same vault; an identical re-PUT keeps the vault URI", async () => {
  const got = await s.kvm.vaults.get(s.rg, s.name);
  assertVault(got, { name: s.name, rg: s.rg, purgeProtection: true, retentionDays: 7 });
  assert.equal(got.properties.vaultUri, s.vault.properties.vaultUri);
  const again = await createVault(s.kvm, s.rg, s.name, s.body);
  assert.equal(again.properties.vaultUri, s.vault.properties.vaultUri, "re-PUT moved the vault");
  assert.equal(again.id, s.vault.id);
});

it("a second vault (no purge protection, 90 days) gets its own origin", async () => {
  s.name2 = vaultName("kvb");
  s.vault2 = await createVault(s.kvm, s.rg, s.name2, vaultBody(customer.tenantId, { purgeProtection: false, retentionDays: 90 }));
  assertVault(s.vault2, { name: s.name2, rg: s.rg, purgeProtection: false, retentionDays: 90 });
  assert.notEqual(new URL(s.vault2.properties.vaultUri).port, new URL(s.vault.properties.vaultUri).port);
  assertChallenge(await kvRaw(s.vault2.properties.vaultUri, "keys"), customer.tenantId);
});

it("list by resource group and by subscription", async () => {
  const byRg = [];
  for await (const v of s.kvm.vaults.listByResourceGroup(s.rg)) byRg.push(v);
  const names = byRg.map((v) => v.name).sort();
  assert.deepEqual(names, [s.name, s.name2].sort());
  for (const v of byRg) assert.ok(v.properties?.sku && v.properties.vaultUri, JSON.stringify(v));
  const bySub = [];
  for await (const v of s.kvm.vaults.listBySubscription()) bySub.push(v.name);
  assert.ok(bySub.includes(s.name) && bySub.includes(s.name2), JSON.stringify(bySub));
  // The ISV's subscription does not see the customer's vaults.
  const isvList = [];
  for await (const v of kvArm(isvCred(), isv.subscriptionId).vaults.listBySubscription()) isvList.push(v.name);
  assert.ok(!isvList.includes(s.name), JSON.stringify(isvList));
});

it("update (PATCH): tags; the vault URI and the other properties stay", async () => {
  const u = await s.kvm.vaults.update(s.rg, s.name, { tags: { env: "prod", owner: "customer" } });
  assert.deepEqual(u.tags, { env: "prod", owner: "customer" });
  assertVault(u, { name: s.name, rg: s.rg, purgeProtection: true, retentionDays: 7 });
  assert.equal(u.properties.vaultUri, s.vault.properties.vaultUri);
  const got = await s.kvm.vaults.get(s.rg, s.name);
  assert.deepEqual(got.tags, { env: "prod", owner: "customer" });
});

it("update: purge protection can be turned on, and never off again (400)", async () => {
  const on = await s.kvm.vaults.update(s.rg, s.name2, { properties: { enablePurgeProtection: true } });
  assert.equal(on.properties.enablePurgeProtection, true);
  await rejectsArmStatus(s.kvm.vaults.update(s.rg, s.name2, { properties: { enablePurgeProtection: false } }), 400);
  await rejectsArmStatus(s.kvm.vaults.update(s.rg, s.name, { properties: { enablePurgeProtection: false } }), 400);
  // Nor through a full PUT.
  await rejectsArmStatus(
    createVault(s.kvm, s.rg, s.name, { ...s.body, properties: { ...s.body.properties, enablePurgeProtection: false } }),
    400,
  );
  assert.equal((await s.kvm.vaults.get(s.rg, s.name)).properties.enablePurgeProtection, true);
});

it("softDeleteRetentionInDays outside 7-90 is refused (400) on create and on update", async () => {
  for (const days of [0, 6, 91, 365]) {
    await rejectsArmStatus(
      createVault(s.kvm, s.rg, vaultName("kvr"), vaultBody(customer.tenantId, { retentionDays: days })),
      400,
      `retention ${days}`,
    );
  }
  await rejectsArmStatus(s.kvm.vaults.update(s.rg, s.name2, { properties: { softDeleteRetentionInDays: 5 } }), 400);
  assert.equal((await s.kvm.vaults.get(s.rg, s.name2)).properties.softDeleteRetentionInDays, 90);
});

it("enableRbacAuthorization:false (access policies) is refused with 400", async () => {
  const n = vaultName("kvp");
  await rejectsArmStatus(createVault(s.kvm, s.rg, n, vaultBody(customer.tenantId, { rbac: false })), 400);
  await rejectsArm(s.kvm.vaults.get(s.rg, n), 404, "ResourceNotFound");
  await rejectsArmStatus(s.kvm.vaults.update(s.rg, s.name, { properties: { enableRbacAuthorization: false } }), 400);
  assert.equal((await s.kvm.vaults.get(s.rg, s.name)).properties.enableRbacAuthorization, true);
});

it("get of an unknown vault: 404 ResourceNotFound; the ISV's token: 401 InvalidAuthenticationTokenTenant", async () => {
  await rejectsArm(s.kvm.vaults.get(s.rg, vaultName("nope")), 404, "ResourceNotFound");
  await rejectsArm(kvArm(isvCred(), sub).vaults.get(s.rg, s.name), 401, "InvalidAuthenticationTokenTenant");
});

it("the subscription Owner has no data-plane rights until it assigns itself a Key Vault role", async () => {
  // The customer admin is Owner of its subscription: Owner has actions but no dataActions.
  const kc = keyClient(s.vault.properties.vaultUri, s.cred);
  await rejectsKv(kc.createRsaKey(`k-${tag}`), 403, "Forbidden", "ForbiddenByRbac");
  const list = async () => {
    const out = [];
    for await (const p of kc.listPropertiesOfKeys()) out.push(p);
    return out;
  };
  // The SDK's pager throws its own RestError (no details): status and code only.
  await rejectsKv(list(), 403, "Forbidden");
  s.adminOid = await oidOf(s.cred);
  s.officer = await assignRole(s.a.authz, sub, s.vault.id, KV_ROLE.CryptoOfficer, s.adminOid);
  // The role applies on the very next request, with the same client.
  const k = await kc.createRsaKey(`k-${tag}`);
  assert.equal(k.name, `k-${tag}`);
  assert.equal((await list()).length, 1);
});

it("removing the role takes effect on the next request", async () => {
  const kc = keyClient(s.vault.properties.vaultUri, s.cred);
  await kc.getKey(`k-${tag}`);
  await s.a.authz.roleAssignments.delete(s.vault.id, s.officer);
  await rejectsKv(kc.getKey(`k-${tag}`), 403, "Forbidden", "ForbiddenByRbac");
  // An Owner role at the vault scope is still no data-plane right.
  const owner = await assignRole(s.a.authz, sub, s.vault.id, ROLE.Owner, s.adminOid);
  await rejectsKv(kc.getKey(`k-${tag}`), 403, "Forbidden", "ForbiddenByRbac");
  await s.a.authz.roleAssignments.delete(s.vault.id, owner);
  // Key Vault Administrator at the resource-group scope is inherited by the vault.
  const rgScope = `/subscriptions/${sub}/resourceGroups/${s.rg}`;
  const admin = await assignRole(s.a.authz, sub, rgScope, KV_ROLE.Administrator, s.adminOid);
  assert.equal((await kc.getKey(`k-${tag}`)).name, `k-${tag}`);
  await s.a.authz.roleAssignments.delete(rgScope, admin);
});

it("vault names are global: another subscription cannot take a name in use (409)", async () => {
  const isvKvm = kvArm(isvCred(), isv.subscriptionId);
  const isvA = arm(isvCred(), isv.subscriptionId);
  const rg = `rg-kvsteal-${tag}`;
  await isvA.resources.resourceGroups.createOrUpdate(rg, { location: LOCATION });
  await assert.rejects(createVault(isvKvm, rg, s.name, vaultBody(isv.tenantId)), (e) => {
    assert.equal(e.statusCode, 409, `${e.statusCode} ${e.code} ${e.message}`);
    assert.equal(e.code, "VaultAlreadyExists", e.message);
    return true;
  });
  // The customer's vault is untouched and still answers for the customer's tenant.
  const got = await s.kvm.vaults.get(s.rg, s.name);
  assert.equal(got.properties.tenantId, customer.tenantId);
  assertChallenge(await kvRaw(got.properties.vaultUri, "keys"), customer.tenantId);
});

it("delete: the vault is gone from get and lists, and its URI no longer serves keys", async () => {
  const kc2 = keyClient(s.vault2.properties.vaultUri, s.cred);
  await assignRole(s.a.authz, sub, s.vault2.id, KV_ROLE.CryptoOfficer, s.adminOid);
  await kc2.createRsaKey("k");
  const token = await vaultToken(s.cred);
  assert.equal((await kvRaw(s.vault2.properties.vaultUri, "keys/k/", { token })).status, 200);
  await s.kvm.vaults.delete(s.rg, s.name2);
  await rejectsArm(s.kvm.vaults.get(s.rg, s.name2), 404, "ResourceNotFound");
  const byRg = [];
  for await (const v of s.kvm.vaults.listByResourceGroup(s.rg)) byRg.push(v.name);
  assert.deepEqual(byRg, [s.name]);
  let r;
  try {
    r = await kvRaw(s.vault2.properties.vaultUri, "keys/k/", { token });
  } catch (e) {
    r = { status: `connection error ${e.code ?? e.message}` };
  }
  assert.notEqual(r.status, 200, `a deleted vault still serves its keys: ${r.text?.slice(0, 200)}`);
});

/** Rejection with an HTTP status (the exact code of these refusals is not Azure-documented). */
async function rejectsArmStatus(promise, status, what = "") {
  await assert.rejects(promise, (e) => {
    assert.equal(e.statusCode, status, `${what} ${e.statusCode} ${e.code} ${e.message}`);
    assert.ok(typeof e.code === "string" && e.code.length > 0, `${what}: no error code: ${e.message}`);
    return true;
  });
}

