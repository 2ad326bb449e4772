// SPDX-License-Identifier: Apache-2.0
// System-assigned managed identities of storage accounts through @azure/arm-storage 20.0.0
// (wire reference C.7, docs/storage.md "Identities"): an account created with
// identity {type: "SystemAssigned"} comes back with identity.principalId and identity.tenantId
// (the subscription's tenant), and the principal is real: @azure/arm-authorization can assign it
// a role at the account's scope. "SystemAssigned,UserAssigned" carries both kinds; the system
// identity survives updates, goes when the type drops it or the account is deleted, and a new one
// comes when it is turned on again (as in Azure).
import assert from "node:assert/strict";

import { arm, createUami, customer, customerCred, uniq } from "./lib.mjs";
import { assignRole, prepare } from "./kvlib.mjs";
import { LOCATION, accountBody, accountId, accountName, createAccount, storageArm, systemIdentity } from "./stlib.mjs";

const tag = uniq();
const sub = customer.subscriptionId;
const s = {};
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1";

const { it } = await prepare("resource group, a user-assigned identity (arm-msi)", async () => {
  s.cred = customerCred();
  s.a = arm(s.cred, sub);
  s.sm = storageArm(s.cred, sub);
  s.rg = `rg-stid-${tag}`;
  await s.a.resources.resourceGroups.createOrUpdate(s.rg, { location: LOCATION });
  s.uami = await createUami(s.a, s.rg, `uami-stid-${tag}`);
});

it("create with SystemAssigned: principalId and tenantId come back and stay on GET", async () => {
  s.name = accountName("sid");
  s.id = accountId(sub, s.rg, s.name);
  const a = await createAccount(s.sm, s.rg, s.name, accountBody({ identity: { type: "SystemAssigned" } }));
  const ctx = JSON.stringify(a.identity);
  assert.equal(a.identity?.type, "SystemAssigned", ctx);
  assert.match(a.identity?.principalId ?? "", GUID, ctx);
  assert.equal(a.identity?.tenantId, customer.tenantId, ctx);
  assert.equal(a.identity?.userAssignedIdentities, undefined, ctx);
  s.principalId = a.identity.principalId;
  const got = await s.sm.storageAccounts.getProperties(s.rg, s.name);
  assert.equal(got.identity?.principalId, s.principalId);
  assert.equal(got.identity?.tenantId, customer.tenantId);
  const held = await systemIdentity(s.id);
  assert.equal(held?.principalId, s.principalId);
  assert.equal(held?.tenantId, customer.tenantId);
});

it("the principal is real: a role assignment names it (arm-authorization)", async () => {
  const ra = await assignRole(s.a.authz, sub, s.id, BLOB_DATA_READER, s.principalId);
  const got = await s.a.authz.roleAssignments.get(s.id, ra);
  assert.equal(got.principalId, s.principalId);
});

it("SystemAssigned,UserAssigned: both kinds, the same system identity; tags keep it", async () => {
  const u = await s.sm.storageAccounts.update(s.rg, s.name, {
    identity: { type: "SystemAssigned,UserAssigned", userAssignedIdentities: { [s.uami.id]: {} } },
  });
  const ctx = JSON.stringify(u.identity);
  assert.equal(u.identity?.type, "SystemAssigned,UserAssigned", ctx);
  assert.equal(u.identity?.principalId, s.principalId, ctx);
  assert.equal(u.identity?.tenantId, customer.tenantId, ctx);
  const ua = Object.entries(u.identity?.userAssignedIdentities ?? {}).find(([k]) => k.toLowerCase() === s.uami.id.toLowerCase());
  assert.ok(ua, ctx);
  assert.equal(ua[1].principalId, s.uami.principalId, ctx);
  assert.equal(ua[1].clientId, s.uami.clientId, ctx);
  const t = await s.sm.storageAccounts.update(s.rg, s.name, { tags: { team: "data" } });
  assert.equal(t.identity?.principalId, s.principalId);
});

it("UserAssigned alone drops the system identity; SystemAssigned again makes a new one", async () => {
  const u = await s.sm.storageAccounts.update(s.rg, s.name, {
    identity: { type: "UserAssigned", userAssignedIdentities: { [s.uami.id]: {} } },
  });
  assert.equal(u.identity?.type, "UserAssigned", JSON.stringify(u.identity));
  assert.equal(u.identity?.principalId, undefined, JSON.stringify(u.identity));
  assert.equal(await systemIdentity(s.id), null);
  const on = await s.sm.storageAccounts.update(s.rg, s.name, { identity: { type: "SystemAssigned" } });
  assert.equal(on.identity?.type, "SystemAssigned");
  assert.match(on.identity?.principalId ?? "", GUID);
  assert.notEqual(on.identity.principalId, s.principalId);
  s.principalId = on.identity.principalId;
  assert.equal((await systemIdentity(s.id))?.principalId, s.principalId);
});

it("create with SystemAssigned,UserAssigned; deleting accounts deletes their system identities", async () => {
  const name = accountName("sid2");
  const id = accountId(sub, s.rg, name);
  const a = await createAccount(s.sm, s.rg, name, accountBody({
    identity: { type: "SystemAssigned,UserAssigned", userAssignedIdentities: { [s.uami.id]: {} } },
  }));
  const ctx = JSON.stringify(a.identity);
  assert.equal(a.identity?.type, "SystemAssigned,UserAssigned", ctx);
  assert.match(a.identity?.principalId ?? "", GUID, ctx);
  assert.equal(a.identity?.tenantId, customer.tenantId, ctx);
  assert.notEqual(a.identity.principalId, s.uami.principalId, ctx);
  assert.equal((await systemIdentity(id))?.principalId, a.identity.principalId);
  await s.sm.storageAccounts.delete(s.rg, name);
  assert.equal(await systemIdentity(id), null);
  await s.sm.storageAccounts.delete(s.rg, s.name);
  assert.equal(await systemIdentity(s.id), null);
});
