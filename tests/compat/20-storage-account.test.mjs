// SPDX-License-Identifier: Apache-2.0
// Microsoft.Storage/storageAccounts through @azure/arm-storage 20.0.0 (wire reference C.7):
// beginCreateAndWait answered synchronously, getProperties with the read-only fields the SDK
// parses (dates, primaryEndpoints.blob on crosskey's blob origin), list by subscription and by
// group, update (PATCH, synchronous 200), listKeys and regenerateKey (two 512-bit keys),
// checkNameAvailability, the customer-managed-key shape of the procedure on a real chain (user-assigned
// identity with principalId/clientId, keySource Microsoft.Keyvault with keyVaultProperties and the
// federated client id, the feature gate, an unresolvable vault refused) and the switch back to
// Microsoft.Storage, delete. The whole procedure: 25-cmk-procedure. Refusals: invalid and
// taken names, a caller without a role, requireInfrastructureEncryption after creation. The raw
// account keys never reach the data directory. System-assigned identities: 24-storage-identity.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

import {
  DATA, EXCHANGE_AUD, addFic, arm, createApp, createUami, customer, customerCred, endpoints, graph, isv, isvCred,
  rejectsArm, uniq, v2Issuer,
} from "./lib.mjs";
import { KV_ROLE, assignRole, customerPrincipal, prepare, tenantVault } from "./kvlib.mjs";
import { LOCATION, ST_TYPE, accountBody, accountId, accountKeys, accountName, createAccount, propsOf, storageArm } from "./stlib.mjs";

const tag = uniq();
const sub = customer.subscriptionId;
const s = {};

const { it } = await prepare("resource group and a storage account (arm-storage)", async () => {
  s.cred = customerCred();
  s.a = arm(s.cred, sub);
  s.sm = storageArm(s.cred, sub);
  s.rg = `rg-st-${tag}`;
  s.rg2 = `rg-st2-${tag}`;
  await s.a.resources.resourceGroups.createOrUpdate(s.rg, { location: LOCATION });
  await s.a.resources.resourceGroups.createOrUpdate(s.rg2, { location: LOCATION });
  s.name = accountName("sta");
  s.acct = await createAccount(s.sm, s.rg, s.name, accountBody({ tags: { env: "test" } }));
});

const isDate = (d) => d instanceof Date ? !Number.isNaN(d.getTime()) : !Number.isNaN(new Date(d).getTime());

function assertAccount(a, { name, rg, keySource = "Microsoft.Storage" }) {
  const ctx = JSON.stringify(a);
  const p = propsOf(a);
  assert.equal(a.id, accountId(sub, rg, name), ctx);
  assert.equal(a.name, name, ctx);
  assert.equal(a.type, ST_TYPE, ctx);
  assert.equal(a.location, LOCATION, ctx);
  assert.equal(a.kind, "StorageV2", ctx);
  assert.equal(a.sku?.name, "Standard_LRS", ctx);
  assert.equal(a.sku?.tier, "Standard", ctx);
  assert.equal(p.provisioningState, "Succeeded", ctx);
  assert.equal(p.statusOfPrimary, "available", ctx);
  assert.equal(p.primaryLocation, LOCATION, ctx);
  assert.ok(isDate(p.creationTime), `creationTime: ${ctx}`);
  assert.equal(p.primaryEndpoints?.blob, `${endpoints.blob.replace(/\/+$/, "")}/${name}/`, ctx);
  assert.equal(p.encryption?.keySource, keySource, ctx);
  assert.equal(p.encryption?.services?.blob?.enabled, true, ctx);
  assert.equal(p.encryption?.services?.blob?.keyType, "Account", ctx);
  assert.ok(isDate(p.encryption?.services?.blob?.lastEnabledTime), `lastEnabledTime: ${ctx}`);
  assert.equal(p.encryption?.requireInfrastructureEncryption, false, ctx);
}

it("beginCreateAndWait: the account with its read-only fields, blob endpoint on crosskey's blob origin", () => {
  assertAccount(s.acct, { name: s.name, rg: s.rg });
  assert.deepEqual({ ...s.acct.tags }, { env: "test" });
  assert.match(endpoints.blob, /^https:\/\/localhost:\d+\/?$/);
});

it("getProperties returns the same account", async () => {
  const got = await s.sm.storageAccounts.getProperties(s.rg, s.name);
  assertAccount(got, { name: s.name, rg: s.rg });
  assert.equal(String(propsOf(got).creationTime), String(propsOf(s.acct).creationTime));
});

it("list by subscription and by resource group; another subscription sees nothing", async () => {
  s.name2 = accountName("stb");
  await createAccount(s.sm, s.rg2, s.name2);
  const bySub = [];
  for await (const a of s.sm.storageAccounts.list()) bySub.push(a.name);
  assert.ok(bySub.includes(s.name) && bySub.includes(s.name2), JSON.stringify(bySub));
  const byRg = [];
  for await (const a of s.sm.storageAccounts.listByResourceGroup(s.rg)) {
    assertAccount(a, { name: a.name, rg: s.rg });
    byRg.push(a.name);
  }
  assert.deepEqual(byRg, [s.name]);
  const other = [];
  for await (const a of storageArm(isvCred(), isv.subscriptionId).storageAccounts.list()) other.push(a.name);
  assert.ok(!other.includes(s.name), JSON.stringify(other));
});

it("update (PATCH): tags and access tier, a synchronous 200", async () => {
  const u = await s.sm.storageAccounts.update(s.rg, s.name, { tags: { env: "prod" }, accessTier: "Cool" });
  assert.deepEqual({ ...u.tags }, { env: "prod" });
  assert.equal(propsOf(u).accessTier, "Cool");
  assertAccount(u, { name: s.name, rg: s.rg });
  const got = await s.sm.storageAccounts.getProperties(s.rg, s.name);
  assert.deepEqual({ ...got.tags }, { env: "prod" });
});

it("listKeys: two distinct 512-bit keys with FULL permissions", async () => {
  const r = await s.sm.storageAccounts.listKeys(s.rg, s.name);
  assert.equal(r.keys.length, 2, JSON.stringify(r));
  assert.deepEqual(r.keys.map((k) => k.keyName), ["key1", "key2"]);
  for (const k of r.keys) {
    assert.equal(String(k.permissions).toUpperCase(), "FULL");
    assert.equal(Buffer.from(k.value, "base64").length, 64);
    assert.ok(isDate(k.creationTime));
  }
  s.keys = await accountKeys(s.sm, s.rg, s.name);
  assert.notEqual(s.keys.key1, s.keys.key2);
});

it("regenerateKey: key1 changes, key2 stays", async () => {
  const r = await s.sm.storageAccounts.regenerateKey(s.rg, s.name, { keyName: "key1" });
  const after = Object.fromEntries(r.keys.map((k) => [k.keyName, k.value]));
  assert.notEqual(after.key1, s.keys.key1);
  assert.equal(after.key2, s.keys.key2);
  const again = await accountKeys(s.sm, s.rg, s.name);
  assert.deepEqual(again, after);
  s.oldKey1 = s.keys.key1;
  s.keys = again;
  await rejectsArm(s.sm.storageAccounts.regenerateKey(s.rg, s.name, { keyName: "key3" }), 400,
    "InvalidValuesForRequestParameters");
});

it("checkNameAvailability: taken, invalid, free", async () => {
  const type = ST_TYPE;
  const taken = await s.sm.storageAccounts.checkNameAvailability({ name: s.name, type });
  assert.equal(taken.nameAvailable, false);
  assert.equal(taken.reason, "AlreadyExists");
  assert.match(taken.message, /already taken/);
  const bad = await s.sm.storageAccounts.checkNameAvailability({ name: "Not_Valid", type });
  assert.equal(bad.nameAvailable, false);
  assert.equal(bad.reason, "AccountNameInvalid");
  const free = await s.sm.storageAccounts.checkNameAvailability({ name: accountName("free"), type });
  assert.equal(free.nameAvailable, true);
  // The same answer from another subscription: names are unique on the server.
  const fromIsv = await storageArm(isvCred(), isv.subscriptionId).storageAccounts.checkNameAvailability({ name: s.name, type });
  assert.equal(fromIsv.nameAvailable, false);
});

it("bad names are refused with AccountNameInvalid, and nothing is created", async () => {
  for (const n of ["ab", "UpperCase1", "with-dash", "a".repeat(25)]) {
    await rejectsArm(createAccount(s.sm, s.rg, n), 400, "AccountNameInvalid");
  }
  const all = [];
  for await (const a of s.sm.storageAccounts.listByResourceGroup(s.rg)) all.push(a.name);
  assert.deepEqual(all, [s.name]);
});

it("a name taken by another subscription: 409 StorageAccountAlreadyTaken", async () => {
  const isvArm = arm(isvCred(), isv.subscriptionId);
  const rg = `rg-st-isv-${tag}`;
  await isvArm.resources.resourceGroups.createOrUpdate(rg, { location: LOCATION });
  await rejectsArm(createAccount(storageArm(isvCred(), isv.subscriptionId), rg, s.name), 409, "StorageAccountAlreadyTaken");
  // And by another group of the same subscription.
  await rejectsArm(createAccount(s.sm, s.rg2, s.name), 409, "StorageAccountAlreadyTaken");
});

it("a caller without a role gets 403 AuthorizationFailed and creates nothing", async () => {
  const p = await customerPrincipal(`st-norole-${tag}`);
  const sm = storageArm(p.cred, sub);
  const n = accountName("nor");
  await rejectsArm(createAccount(sm, s.rg, n), 403, "AuthorizationFailed");
  await rejectsArm(sm.storageAccounts.listKeys(s.rg, s.name), 403, "AuthorizationFailed");
  await rejectsArm(s.sm.storageAccounts.getProperties(s.rg, n), 404, "ResourceNotFound");
});

it("customer-managed key: field checks, the feature gate in order, then the chain; user-assigned identity, keySource Microsoft.Keyvault, federated client id", async () => {
  const uami = await createUami(s.a, s.rg, `uami-st-${tag}`);
  // A real chain (docs/cmk.md), with the tenants' parts swapped: this subscription (the customer
  // tenant's) holds the account, so this tenant holds the UAMI, the multi-tenant app and its
  // federated credential, and the vault, the key, the app's service principal and its role are in
  // the other (isv) tenant. The engine checks the whole chain at PUT/PATCH time.
  const g = graph(s.cred);
  const app = await createApp(g, `st-cmk-${tag}`);
  await addFic(g, app.id, {
    name: `st-cmk-${tag}`, issuer: v2Issuer(customer.tenantId), subject: uami.principalId, audiences: [EXCHANGE_AUD],
  });
  const sp = await graph(isvCred()).api("/servicePrincipals").post({ appId: app.appId });
  const V = await tenantVault(isv, tag, { prefix: "stkv" });
  const key = await V.kc.createRsaKey("cmk", { keySize: 2048 });
  await assignRole(V.a.authz, isv.subscriptionId, V.id, KV_ROLE.CryptoServiceEncryptionUser, sp.id);
  const appId = app.appId;
  const name = accountName("cmk");
  const bodyWith = (keyVaultProperties) => accountBody({
    identity: { type: "UserAssigned", userAssignedIdentities: { [uami.id]: {} } },
    encryption: {
      services: { blob: { enabled: true, keyType: "Account" }, file: { enabled: true, keyType: "Account" } },
      keySource: "Microsoft.Keyvault",
      keyVaultProperties,
      encryptionIdentity: { encryptionUserAssignedIdentity: uami.id, encryptionFederatedIdentityClientId: appId },
      requireInfrastructureEncryption: false,
    },
  });
  const body = bodyWith({ keyName: "cmk", keyVersion: "", keyVaultUri: V.uri });
  // Field checks come before anything else.
  await rejectsArm(createAccount(s.sm, s.rg, name, bodyWith({ keyVersion: "", keyVaultUri: V.uri })), 400,
    "InvalidRequestPropertyValue");
  await rejectsArm(createAccount(s.sm, s.rg, name, bodyWith({ keyName: "cmk", keyVaultUri: "http://plain.example" })), 400,
    "InvalidRequestPropertyValue");
  // The federated client id needs the feature, then the provider registered again (seed flow).
  await rejectsArm(createAccount(s.sm, s.rg, name, body), 400, "SubscriptionNotRegisteredForFeature");
  await s.a.features.features.register("Microsoft.Storage", "FederatedClientIdentity");
  await rejectsArm(createAccount(s.sm, s.rg, name, body), 400, "SubscriptionNotRegisteredForFeature");
  await s.a.resources.providers.register("Microsoft.Storage");
  // A vault that cannot be resolved: refused, and nothing is created.
  await assert.rejects(createAccount(s.sm, s.rg, name, bodyWith({ keyName: "cmk", keyVersion: "", keyVaultUri: "https://custvault.invalid" })),
    (e) => {
      assert.ok([400, 503].includes(e.statusCode), `${e.statusCode} ${e.code} ${e.message}`);
      assert.equal(e.code, "KeyVaultVaultNotFound", `${e.statusCode} ${e.code} ${e.message}`);
      return true;
    });
  await rejectsArm(s.sm.storageAccounts.getProperties(s.rg, name), 404, "ResourceNotFound");
  const a = await createAccount(s.sm, s.rg, name, body);
  const ctx = JSON.stringify(a);
  assert.equal(a.identity?.type, "UserAssigned", ctx);
  const ua = a.identity.userAssignedIdentities[uami.id];
  assert.ok(ua, ctx);
  assert.equal(ua.principalId, uami.principalId, ctx);
  assert.equal(ua.clientId, uami.clientId, ctx);
  const enc = propsOf(a).encryption;
  assert.equal(enc.keySource, "Microsoft.Keyvault", ctx);
  assert.equal(enc.keyVaultProperties?.keyName, "cmk", ctx);
  assert.equal(enc.keyVaultProperties?.keyVersion, "", ctx);
  assert.equal(enc.keyVaultProperties?.keyVaultUri, V.uri, ctx);
  assert.equal(enc.keyVaultProperties?.currentVersionedKeyIdentifier, key.id, ctx);
  assert.ok(enc.keyVaultProperties?.lastKeyRotationTimestamp instanceof Date, ctx);
  assert.equal(enc.encryptionIdentity?.encryptionUserAssignedIdentity, uami.id, ctx);
  assert.equal(enc.encryptionIdentity?.encryptionFederatedIdentityClientId, appId, ctx);

  // requireInfrastructureEncryption is create-only.
  await rejectsArm(s.sm.storageAccounts.update(s.rg, name, { encryption: { requireInfrastructureEncryption: true } }),
    400, "InvalidRequestPropertyValue");
  // The encryption identity must be attached to the account.
  await rejectsArm(s.sm.storageAccounts.update(s.rg, name, { identity: { type: "None" } }), 400,
    "InvalidEncryptionIdentity");
  // Moving to a vault that cannot be resolved is refused and changes nothing.
  await assert.rejects(s.sm.storageAccounts.update(s.rg, name, {
    encryption: { keySource: "Microsoft.Keyvault", keyVaultProperties: { keyName: "cmk", keyVersion: "", keyVaultUri: "https://custvault.invalid" } },
  }), (e) => [400, 503].includes(e.statusCode) && e.code === "KeyVaultVaultNotFound");
  const kept = propsOf(await s.sm.storageAccounts.getProperties(s.rg, name)).encryption;
  assert.equal(kept.keyVaultProperties?.keyVaultUri, V.uri);
  assert.equal(kept.keyVaultProperties?.currentVersionedKeyIdentifier, key.id);

  // Back to Microsoft-managed keys.
  const back = await s.sm.storageAccounts.update(s.rg, name, {
    encryption: { keySource: "Microsoft.Storage", services: { blob: { enabled: true, keyType: "Account" } } },
  });
  assert.equal(propsOf(back).encryption.keySource, "Microsoft.Storage");
  assert.equal(propsOf(back).encryption.keyVaultProperties, undefined);
  s.cmkName = name;
});

it("the raw account keys are nowhere under the data directory", () => {
  const walk = (d, out = []) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p, out);
      else if (e.isFile()) out.push(p);
    }
    return out;
  };
  const needles = [s.keys.key1, s.keys.key2, s.oldKey1].flatMap((k) => {
    const raw = Buffer.from(k, "base64");
    return [raw, raw.subarray(0, 24), Buffer.from(k), Buffer.from(raw.toString("hex"))];
  });
  const found = [];
  for (const f of walk(DATA)) {
    if (path.relative(DATA, f).split(path.sep)[0] === "secrets") continue;
    const buf = fs.readFileSync(f);
    for (const n of needles) if (buf.includes(n)) found.push(path.relative(DATA, f));
  }
  assert.deepEqual(found, []);
});

it("delete: 200, then 204; the account and its name are gone", async () => {
  await s.sm.storageAccounts.delete(s.rg2, s.name2);
  await s.sm.storageAccounts.delete(s.rg2, s.name2); // 204: still fine for the SDK
  await rejectsArm(s.sm.storageAccounts.getProperties(s.rg2, s.name2), 404, "ResourceNotFound");
  const r = await s.sm.storageAccounts.checkNameAvailability({ name: s.name2, type: ST_TYPE });
  assert.equal(r.nameAvailable, true);
  if (s.cmkName) await s.sm.storageAccounts.delete(s.rg, s.cmkName);
});
