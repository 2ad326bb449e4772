// SPDX-License-Identifier: Apache-2.0
// The identity half of the procedure, driven step by step with the unmodified SDKs
// (wire reference section D, steps 1-4): discovery, client-secret tokens, Graph applications and
// federated credentials, resource groups, feature and provider registration, user-assigned
// managed identities, a service principal in the second tenant, and role assignments.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import test from "node:test";

import {
  ARM, AUTHORITY, EXCHANGE_AUD, ROLE, arm, createApp, customer, customerCred, decodeProtectedHeader,
  getToken, graph, isv, isvCred, raw, rejectsArm, rejectsGraph, roleDefinitionId, uniq, v1Issuer,
  v2Issuer, verifyToken,
} from "./lib.mjs";

const tag = uniq();
const s = {}; // state shared by the steps below, in order

test("endpoints.json names every service and the CA", async () => {
  const { endpoints } = await import("./lib.mjs");
  for (const k of ["authority", "arm", "graph", "blob", "managedIdentity", "caFile"])
    assert.ok(k in endpoints, `endpoints.json lacks ${k}`);
  for (const k of ["authority", "arm", "graph", "managedIdentity", "caFile"]) assert.ok(endpoints[k], `endpoints.json: ${k} is empty`);
  // blob is null until the blob service exists (a later issue)
  assert.match(endpoints.authority, /^https:\/\/(localhost|127\.0\.0\.1):\d+\/?$/);
  assert.match(endpoints.managedIdentity, /^http:\/\/127\.0\.0\.1:\d+/);
});

test("OIDC discovery and JWKS for each tenant", async () => {
  for (const t of [isv, customer]) {
    const r = await raw(`${AUTHORITY}/${t.tenantId}/v2.0/.well-known/openid-configuration`);
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers["content-type"], /^application\/json/);
    for (const k of ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"])
      assert.ok(r.body[k], `discovery lacks ${k}`);
    assert.equal(r.body.issuer, v2Issuer(t.tenantId));
    assert.equal(r.body.token_endpoint, `${AUTHORITY}/${t.tenantId}/oauth2/v2.0/token`);
    assert.equal(r.body.jwks_uri, `${AUTHORITY}/${t.tenantId}/discovery/v2.0/keys`);
    const k = await raw(r.body.jwks_uri);
    assert.equal(k.status, 200, k.text);
    assert.ok(Array.isArray(k.body.keys) && k.body.keys.length >= 1);
    for (const key of k.body.keys) {
      assert.equal(key.kty, "RSA");
      assert.ok(key.kid && key.n && key.e);
      for (const priv of ["d", "p", "q", "dp", "dq", "qi"]) assert.equal(key[priv], undefined, `JWKS leaks ${priv}`);
    }
  }
  const a = await raw(`${AUTHORITY}/${isv.tenantId}/discovery/v2.0/keys`);
  const b = await raw(`${AUTHORITY}/${customer.tenantId}/discovery/v2.0/keys`);
  const kids = (r) => r.body.keys.map((k) => k.kid);
  assert.ok(!kids(a).some((k) => kids(b).includes(k)), "tenants share a signing key");
});

test("ClientSecretCredential: tokens for ARM and Graph, claims checked with jose", async () => {
  const cred = isvCred();
  const token = await getToken(cred, `${ARM}/.default`);
  assert.equal(decodeProtectedHeader(token).alg, "RS256");
  const p = await verifyToken(token, { tid: isv.tenantId, issuer: v1Issuer(isv.tenantId), audience: [ARM, `${ARM}/`] });
  assert.equal(p.tid, isv.tenantId);
  assert.equal(p.appid, isv.clientId);
  assert.equal(p.appidacr, "1");
  assert.ok(p.oid && p.sub === p.oid, "oid/sub");
  assert.ok(p.exp > p.iat && p.nbf <= Math.floor(Date.now() / 1000) + 5);
  if (isv.servicePrincipalId) assert.equal(p.oid, isv.servicePrincipalId);

  const gt = await getToken(cred, "https://graph.microsoft.com/.default");
  const gp = await verifyToken(gt, {
    tid: isv.tenantId, issuer: v1Issuer(isv.tenantId),
    audience: ["https://graph.microsoft.com", "https://graph.microsoft.com/"],
  });
  assert.equal(gp.oid, p.oid);
  // The Azure CLI style scope keeps its double slash: resource https://management.core.windows.net/
  const ct = await getToken(cred, "https://management.core.windows.net//.default");
  const cp = await verifyToken(ct, { tid: isv.tenantId, issuer: v1Issuer(isv.tenantId), audience: "https://management.core.windows.net/" });
  assert.equal(cp.tid, isv.tenantId);
  s.isvAdminOid = p.oid;
});

test("Graph: multi-tenant application in the ISV tenant (create, get, get by appId, list)", async () => {
  const g = graph(isvCred());
  const app = await createApp(g, `isv-cmk-app-${tag}`);
  assert.equal(app.signInAudience, "AzureADMultipleOrgs");
  assert.equal(app.displayName, `isv-cmk-app-${tag}`);
  assert.match(app.appId, /^[0-9a-f-]{36}$/);
  assert.notEqual(app.id, app.appId);
  const got = await g.api(`/applications/${app.id}`).get();
  assert.equal(got.appId, app.appId);
  const byAppId = await g.api(`/applications(appId='${app.appId}')`).get();
  assert.equal(byAppId.id, app.id);
  const list = await g.api("/applications").get();
  assert.ok(list.value.some((a) => a.id === app.id), "list lacks the new app");
  await rejectsGraph(g.api(`/applications/${crypto.randomUUID()}`).get(), 404, "Request_ResourceNotFound");
  s.app = app;
});

test("ARM: resource group create, get, idempotent re-PUT, delete", async () => {
  const a = arm(isvCred(), isv.subscriptionId);
  const rg = await a.resources.resourceGroups.createOrUpdate(`rg-${tag}`, { location: "eastus", tags: { t: tag } });
  assert.equal(rg.id, `/subscriptions/${isv.subscriptionId}/resourceGroups/rg-${tag}`);
  assert.equal(rg.name, `rg-${tag}`);
  assert.equal(rg.location, "eastus");
  assert.equal(rg.properties?.provisioningState, "Succeeded");
  const again = await a.resources.resourceGroups.createOrUpdate(`rg-${tag}`, { location: "eastus" });
  assert.equal(again.id, rg.id);
  const got = await a.resources.resourceGroups.get(`rg-${tag}`);
  assert.equal(got.id, rg.id);

  await a.resources.resourceGroups.createOrUpdate(`rg-gone-${tag}`, { location: "eastus" });
  await a.resources.resourceGroups.beginDeleteAndWait(`rg-gone-${tag}`, { updateIntervalInMs: 200 });
  await rejectsArm(a.resources.resourceGroups.get(`rg-gone-${tag}`), 404, "ResourceGroupNotFound");
  s.rg = `rg-${tag}`;
});

test("ARM: feature FederatedClientIdentity registers and converges to Registered", async () => {
  const a = arm(isvCred(), isv.subscriptionId);
  const r = await a.features.features.register("Microsoft.Storage", "FederatedClientIdentity");
  assert.equal(r.name, "Microsoft.Storage/FederatedClientIdentity");
  assert.equal(r.type, "Microsoft.Features/providers/features");
  assert.ok(r.properties?.state, JSON.stringify(r));
  let state = r.properties.state;
  for (let i = 0; i < 50 && state !== "Registered"; i++) {
    await new Promise((ok) => setTimeout(ok, 200));
    state = (await a.features.features.get("Microsoft.Storage", "FederatedClientIdentity")).properties.state;
  }
  assert.equal(state, "Registered");
});

test("ARM: provider Microsoft.Storage register and get", async () => {
  const a = arm(isvCred(), isv.subscriptionId);
  const r = await a.resources.providers.register("Microsoft.Storage");
  assert.equal(r.namespace, "Microsoft.Storage");
  assert.match(r.registrationState, /^(Registering|Registered)$/);
  let p = r;
  for (let i = 0; i < 50 && p.registrationState !== "Registered"; i++) {
    await new Promise((ok) => setTimeout(ok, 200));
    p = await a.resources.providers.get("Microsoft.Storage");
  }
  assert.equal(p.registrationState, "Registered");
});

test("ARM: user-assigned managed identity create, get, list", async () => {
  const a = arm(isvCred(), isv.subscriptionId);
  const u = await a.msi.userAssignedIdentities.createOrUpdate(s.rg, `uami-${tag}`, { location: "eastus" });
  assert.match(u.principalId, /^[0-9a-f-]{36}$/);
  assert.match(u.clientId, /^[0-9a-f-]{36}$/);
  assert.equal(u.tenantId, isv.tenantId);
  assert.equal(u.type, "Microsoft.ManagedIdentity/userAssignedIdentities");
  assert.equal(
    u.id.toLowerCase(),
    `/subscriptions/${isv.subscriptionId}/resourcegroups/${s.rg}/providers/microsoft.managedidentity/userassignedidentities/uami-${tag}`.toLowerCase(),
  );
  const got = await a.msi.userAssignedIdentities.get(s.rg, `uami-${tag}`);
  assert.equal(got.principalId, u.principalId);
  assert.equal(got.clientId, u.clientId);
  const again = await a.msi.userAssignedIdentities.createOrUpdate(s.rg, `uami-${tag}`, { location: "eastus", tags: { a: "b" } });
  assert.equal(again.principalId, u.principalId, "re-PUT changed the identity");
  const list = [];
  for await (const x of a.msi.userAssignedIdentities.listByResourceGroup(s.rg)) list.push(x);
  assert.ok(list.some((x) => x.principalId === u.principalId));
  await rejectsArm(a.msi.userAssignedIdentities.get(s.rg, `nope-${tag}`), 404, "ResourceNotFound");
  s.uami = u;
});

test("Graph: federated identity credential on the app (create, list, get, uniqueness)", async () => {
  const g = graph(isvCred());
  const body = {
    name: "uami-fic",
    issuer: v2Issuer(isv.tenantId),
    subject: s.uami.principalId,
    audiences: [EXCHANGE_AUD],
    description: "cross-tenant CMK",
  };
  const fic = await g.api(`/applications/${s.app.id}/federatedIdentityCredentials`).post(body);
  assert.ok(fic.id);
  assert.equal(fic.name, body.name);
  assert.equal(fic.issuer, body.issuer);
  assert.equal(fic.subject, body.subject);
  assert.deepEqual(fic.audiences, body.audiences);
  const list = await g.api(`/applications/${s.app.id}/federatedIdentityCredentials`).get();
  assert.ok(list.value.some((f) => f.id === fic.id));
  const got = await g.api(`/applications/${s.app.id}/federatedIdentityCredentials/${fic.id}`).get();
  assert.equal(got.subject, body.subject);
  // issuer+subject must be unique per app, and so must the name
  await rejectsGraph(
    g.api(`/applications/${s.app.id}/federatedIdentityCredentials`).post({ ...body, name: "other-name" }),
    [400, 409],
  );
  await rejectsGraph(
    g.api(`/applications/${s.app.id}/federatedIdentityCredentials`).post({ ...body, subject: crypto.randomUUID() }),
    [400, 409],
  );
  s.fic = fic;
});

test("Graph: at most 20 federated credentials per app", async () => {
  const g = graph(isvCred());
  const app = await createApp(g, `fic-limit-${tag}`);
  for (let i = 0; i < 20; i++)
    await g.api(`/applications/${app.id}/federatedIdentityCredentials`).post({
      name: `f${i}`, issuer: v2Issuer(isv.tenantId), subject: crypto.randomUUID(), audiences: [EXCHANGE_AUD],
    });
  await rejectsGraph(
    g.api(`/applications/${app.id}/federatedIdentityCredentials`).post({
      name: "f20", issuer: v2Issuer(isv.tenantId), subject: crypto.randomUUID(), audiences: [EXCHANGE_AUD],
    }),
    [400, 409],
  );
  await g.api(`/applications/${app.id}`).delete();
});

test("Graph (customer tenant): service principal for the multi-tenant app", async () => {
  const gc = graph(customerCred());
  const sp = await gc.api("/servicePrincipals").post({ appId: s.app.appId });
  assert.match(sp.id, /^[0-9a-f-]{36}$/);
  assert.equal(sp.appId, s.app.appId);
  assert.notEqual(sp.id, s.app.id);
  if (sp.appOwnerOrganizationId !== undefined) assert.equal(sp.appOwnerOrganizationId, isv.tenantId);
  const got = await gc.api(`/servicePrincipals(appId='${s.app.appId}')`).get();
  assert.equal(got.id, sp.id);
  s.sp = sp;
});

test("Graph: a single-tenant app cannot get a service principal in another tenant", async () => {
  const g = graph(isvCred());
  const single = await createApp(g, `single-${tag}`, "AzureADMyOrg");
  await rejectsGraph(graph(customerCred()).api("/servicePrincipals").post({ appId: single.appId }), 400);
  await rejectsGraph(graph(customerCred()).api("/servicePrincipals").post({ appId: crypto.randomUUID() }), 400);
});

test("ARM (customer tenant): role assignment create, get, list, delete for the app's service principal", async () => {
  const a = arm(customerCred(), customer.subscriptionId);
  const rg = `rg-cust-${tag}`;
  await a.resources.resourceGroups.createOrUpdate(rg, { location: "eastus" });
  const scope = `/subscriptions/${customer.subscriptionId}/resourceGroups/${rg}`;
  const name = crypto.randomUUID();
  const params = {
    roleDefinitionId: roleDefinitionId(customer.subscriptionId, ROLE.KeyVaultCryptoServiceEncryptionUser),
    principalId: s.sp.id,
    principalType: "ServicePrincipal",
  };
  // The scope starts with "/": arm-authorization sends //subscriptions/... on the wire.
  const ra = await a.authz.roleAssignments.create(scope, name, params);
  assert.equal(ra.name, name);
  assert.equal(ra.principalId, s.sp.id);
  assert.equal(ra.type, "Microsoft.Authorization/roleAssignments");
  assert.equal(ra.id.toLowerCase(), `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`.toLowerCase());
  assert.match(ra.roleDefinitionId, new RegExp(`${ROLE.KeyVaultCryptoServiceEncryptionUser}$`));
  assert.equal(ra.scope.toLowerCase(), scope.toLowerCase());
  const again = await a.authz.roleAssignments.create(scope, name, params);
  assert.equal(again.id, ra.id);
  await rejectsArm(a.authz.roleAssignments.create(scope, crypto.randomUUID(), params), 409, "RoleAssignmentExists");
  const got = await a.authz.roleAssignments.get(scope, name);
  assert.equal(got.principalId, s.sp.id);
  const list = [];
  for await (const x of a.authz.roleAssignments.listForScope(scope)) list.push(x);
  assert.ok(list.some((x) => x.name === name), "listForScope lacks the assignment");
  const del = await a.authz.roleAssignments.delete(scope, name);
  assert.equal(del?.name ?? name, name);
  const after = [];
  for await (const x of a.authz.roleAssignments.listForScope(scope)) after.push(x);
  assert.ok(!after.some((x) => x.name === name), "deleted assignment still listed");
  await rejectsArm(a.authz.roleAssignments.create(scope, "not-a-guid", params), 400, "InvalidRoleAssignmentId");
});

test("ARM: path segments are case-insensitive", async () => {
  const token = await getToken(isvCred(), `${ARM}/.default`);
  const r = await raw(
    `${ARM}/SUBSCRIPTIONS/${isv.subscriptionId}/RESOURCEGROUPS/${s.rg}?api-version=2025-04-01`,
    { headers: { authorization: `Bearer ${token}` } },
  );
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.name, s.rg);
});
