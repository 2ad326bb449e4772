// SPDX-License-Identifier: Apache-2.0
// The cross-tenant customer-managed-key procedure end to end (reference/seed-flow.md section 2,
// docs/cmk.md), with the official SDKs only, in the two tenants run.sh creates:
//  1. the ISV registers Microsoft.Storage/FederatedClientIdentity and then the provider, and makes
//     the multi-tenant app, the user-assigned identity and the federated credential (Graph, arm-msi);
//  2. the customer installs the app (service principal), makes a vault with purge protection and
//     RBAC, an RSA 2048 key, and grants Key Vault Crypto Service Encryption User at the vault;
//  3. the ISV creates a new account on the customer's key and moves an existing account holding
//     blobs to it with PATCH (currentVersionedKeyIdentifier, lastKeyRotationTimestamp, keyState);
//  4. blobs are written and read on both; the old blobs stay readable; the customer's audit log
//     shows the wrap/unwrap calls of the app's service principal with their correlation ids;
//  5. rotation (followed by the automatic-version account), a pinned version that stays, a key in
//     another vault;
//  6. revocation and restore: disabled key, removed role, deleted service principal, deleted key,
//     deleted federated credential, each timed;
//  7. back to Microsoft-managed keys: the customer's key no longer matters.
// And the configuration refusals of docs/cmk.md (each leaves the account as it was).
// Timings are printed as test diagnostics and summed up by the last test. The daemon runs with
// --cmk-revalidate 3 --cmk-version-poll 5 (run.sh).
import assert from "node:assert/strict";
import fs from "node:fs";

import {
  EXCHANGE_AUD, LOG, addFic, arm, createApp, createUami, customer, customerCred, graph, isv, isvCred, pollUntil,
  uniq, v2Issuer,
} from "./lib.mjs";
import { KV_ROLE, assignRole, auditRecords, customerVault, prepare, sleep, strip } from "./kvlib.mjs";
import {
  LOCATION, accountBody, accountName, accountWithState, assertServing, blobUrl, cmkEncryption, createAccount,
  dataState, listBlobs, listContainerNames, propsOf, registerFederatedClientIdentity, rejectsBlob,
  sharedKeyBlobClient, storageArm, userAssigned, waitAccountKeyState, waitData, withRaw, writeBlobs,
} from "./stlib.mjs";

const tag = uniq();
const s = { timings: [] };
const REVALIDATE_S = 3; // run.sh: --cmk-revalidate 3
const VERSION_POLL_S = 5; // run.sh: --cmk-version-poll 5
const DEADLINE = 20_000;
const SERVICES = { blob: { enabled: true, keyType: "Account" }, file: { enabled: true, keyType: "Account" } };
const NOT_FOUND = "KeyVaultEncryptionKeyNotFound";
const NO_TOKEN = "KeyVaultAccessTokenCannotBeAcquired";

function timing(t, label, ms) {
  s.timings.push([label, ms]);
  t.diagnostic(`${label}: ${ms} ms`);
}

const { it } = await prepare("ISV and customer clients, the ISV resource group", async () => {
  s.isvArm = arm(isvCred(), isv.subscriptionId);
  s.g = graph(isvCred());
  s.gc = graph(customerCred());
  s.sm = storageArm(isvCred(), isv.subscriptionId);
  s.rg = `rg-cmk-${tag}`;
  await s.isvArm.resources.resourceGroups.createOrUpdate(s.rg, { location: LOCATION });
});

// ---------------------------------------------------------------------------------------------
// Helpers.

const ci = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();
const isDate = (d) => d instanceof Date && !Number.isNaN(d.getTime());
const enc = (a) => propsOf(a).encryption;
const kvp = (a) => enc(a)?.keyVaultProperties;

/** The CMK part of an account as the SDK returns it. */
function assertCmk(a, { vaultUri, keyName, keyVersion = "", kid }) {
  const ctx = JSON.stringify(propsOf(a).encryption);
  const e = enc(a);
  assert.equal(e?.keySource, "Microsoft.Keyvault", ctx);
  const p = e.keyVaultProperties;
  assert.ok(p, ctx);
  assert.equal(p.keyName, keyName, ctx);
  assert.equal(p.keyVersion ?? "", keyVersion, ctx);
  assert.equal(strip(p.keyVaultUri), strip(vaultUri), ctx);
  assert.equal(p.currentVersionedKeyIdentifier, kid, ctx);
  assert.ok(isDate(p.lastKeyRotationTimestamp), `lastKeyRotationTimestamp is not a Date: ${ctx}`);
  assert.ok(ci(e.encryptionIdentity?.encryptionUserAssignedIdentity, s.uami.id), ctx);
  assert.equal(e.encryptionIdentity?.encryptionFederatedIdentityClientId, s.app.appId, ctx);
  assert.equal(a.identity?.type, "UserAssigned", JSON.stringify(a.identity));
  const ua = Object.entries(a.identity.userAssignedIdentities ?? {}).find(([k]) => ci(k, s.uami.id));
  assert.ok(ua, JSON.stringify(a.identity));
  assert.equal(ua[1].principalId, s.uami.principalId);
}

/** keyState of a raw account body. */
function assertKeyState(body, state, kek) {
  const ks = body?.properties?.keyState;
  const ctx = JSON.stringify(ks ?? body?.properties);
  assert.equal(ks?.state, state, ctx);
  if (kek) assert.equal(ks.currentKek, kek, ctx);
  return ks;
}

/** The refused operations all answer 403 `code`; the listed ones keep working. */
async function assertDenied(store, code, label) {
  const cc = store.svc.getContainerClient(store.container);
  const [n] = store.data.keys();
  await rejectsBlob(cc.getBlockBlobClient(n).downloadToBuffer(), 403, code);
  await rejectsBlob(cc.getBlockBlobClient(`denied-${uniq()}`).upload("x", 1), 403, code);
  await rejectsBlob(cc.getBlockBlobClient(n).getProperties(), 403, code);
  await rejectsBlob(listBlobs(cc, { includeMetadata: true }), 403, code);
  // Not refused: listing containers and listing blobs without metadata.
  assert.ok((await listContainerNames(store.svc)).includes(store.container), `${label}: container not listed`);
  const names = (await listBlobs(cc)).map((b) => b.name);
  for (const k of store.data.keys()) assert.ok(names.includes(k), `${label}: ${k} not listed without metadata`);
}

const waitKeyState = (label, name, state, timeoutMs = DEADLINE) =>
  waitAccountKeyState(s.sm, s.rg, name, state, { label, timeoutMs });

/**
 * A GET sees Usable (within a few seconds: with a 3 s lease, the background re-validation shows
 * as Revalidating now and then), with the AEK under `kek`.
 */
async function usableOn(name, kek) {
  const { ks } = await waitKeyState(`${name} usable`, name, "Usable", 5000);
  if (kek) assert.equal(ks.currentKek, kek, JSON.stringify(ks));
  return ks;
}

/** A refusal of an arm-storage call: {e (RestError), body (raw JSON error)}. */
async function refusal(call) {
  let resp;
  try {
    await call({ onResponse: (r) => { resp = r; } });
  } catch (e) {
    let body = resp?.parsedBody;
    if (body === undefined && resp?.bodyAsText) {
      try {
        body = JSON.parse(resp.bodyAsText);
      } catch {
        body = undefined;
      }
    }
    return { e, body };
  }
  assert.fail("the call succeeded; a refusal was expected");
}

/** docs/cmk.md "Configuration": status, error.code, details[0].target (one of), details[0].code (match). */
function assertCmkRefusal({ e, body }, { status, code, targets, detailCode, mentions }) {
  const ctx = `${e.statusCode} ${e.code} ${JSON.stringify(body)}`;
  assert.ok([].concat(status).includes(e.statusCode), `status: ${ctx}`);
  assert.equal(e.code, code, ctx);
  assert.equal(body?.error?.code, code, ctx);
  const d0 = body.error.details?.[0];
  assert.ok(d0, `no error.details[0]: ${ctx}`);
  if (targets) assert.ok([].concat(targets).includes(d0.target), `details[0].target: ${ctx}`);
  if (detailCode) assert.match(String(d0.code), detailCode, `details[0].code: ${ctx}`);
  if (mentions) {
    const text = `${body.error.message} ${d0.message ?? ""}`;
    assert.match(text, mentions, `message: ${ctx}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Phase 1: the ISV (tenant 1).

it("1. the ISV registers Microsoft.Storage/FederatedClientIdentity, then the provider Microsoft.Storage", async () => {
  const { feature, provider } = await registerFederatedClientIdentity(s.isvArm);
  assert.equal(feature.name, "Microsoft.Storage/FederatedClientIdentity", JSON.stringify(feature));
  assert.ok(["Registering", "Registered"].includes(feature.properties?.state), JSON.stringify(feature));
  assert.equal(provider.namespace, "Microsoft.Storage", JSON.stringify(provider));
  const f = await s.isvArm.features.features.get("Microsoft.Storage", "FederatedClientIdentity");
  assert.equal(f.properties?.state, "Registered", JSON.stringify(f));
  const p = await s.isvArm.resources.providers.get("Microsoft.Storage");
  assert.equal(p.registrationState, "Registered", JSON.stringify(p));
});

it("1. the ISV creates the multi-tenant app, the user-assigned identity and the federated credential", async () => {
  s.app = await createApp(s.g, `isv-cmk-${tag}`);
  assert.equal(s.app.signInAudience, "AzureADMultipleOrgs");
  s.uami = await createUami(s.isvArm, s.rg, `uami-cmk-${tag}`);
  assert.ok(s.uami.principalId && s.uami.clientId, JSON.stringify(s.uami));
  s.ficBody = {
    name: `cmk-${tag}`,
    issuer: v2Issuer(isv.tenantId),
    subject: s.uami.principalId,
    audiences: [EXCHANGE_AUD],
    description: "Federated Identity Credential for CMK",
  };
  s.fic = await addFic(s.g, s.app.id, s.ficBody);
  const list = await s.g.api(`/applications/${s.app.id}/federatedIdentityCredentials`).get();
  assert.equal(list.value.length, 1, JSON.stringify(list));
  assert.equal(list.value[0].issuer, v2Issuer(isv.tenantId));
  assert.equal(list.value[0].subject, s.uami.principalId);
  assert.deepEqual(list.value[0].audiences, [EXCHANGE_AUD]);
});

// ---------------------------------------------------------------------------------------------
// Phase 2: the customer (tenant 2).

it("2. the customer installs the app, makes a vault (purge protection, RBAC) and an RSA 2048 key, and grants the role", async () => {
  s.sp = await s.gc.api("/servicePrincipals").post({ appId: s.app.appId });
  assert.equal(s.sp.appId, s.app.appId);
  assert.notEqual(s.sp.id, s.app.id);
  s.V = await customerVault(tag, { prefix: "cmk" });
  assert.equal(s.V.vault.properties.enablePurgeProtection, true);
  assert.equal(s.V.vault.properties.enableRbacAuthorization, true);
  assert.equal(s.V.vault.properties.tenantId, customer.tenantId);
  s.key = await s.V.kc.createRsaKey("cmk", { keySize: 2048 });
  assert.equal(s.key.keyType, "RSA");
  assert.equal(s.key.key.n.length, 256);
  assert.match(s.key.properties.recoveryLevel, /^(Customized)?Recoverable(\+ProtectedSubscription)?$/);
  s.ra = await assignRole(s.V.a.authz, customer.subscriptionId, s.V.id, KV_ROLE.CryptoServiceEncryptionUser, s.sp.id);
  const got = await s.V.a.authz.roleAssignments.get(s.V.id, s.ra);
  assert.equal(got.principalId, s.sp.id);
  assert.ok(got.roleDefinitionId.endsWith(KV_ROLE.CryptoServiceEncryptionUser));
  // A second vault of the customer, for the change of key in phase 5; the same service principal.
  s.V2 = await customerVault(tag, { prefix: "cmk2" });
  s.key2 = await s.V2.kc.createRsaKey("cmk2", { keySize: 2048 });
  s.ra2 = await assignRole(s.V2.a.authz, customer.subscriptionId, s.V2.id, KV_ROLE.CryptoServiceEncryptionUser, s.sp.id);
});

// ---------------------------------------------------------------------------------------------
// Phase 3: the ISV configures encryption.

it("3. a NEW account on the customer's key: currentVersionedKeyIdentifier is the key's kid, keyState Usable", async (t) => {
  s.nameA = accountName("cmka");
  const body = accountBody({
    identity: userAssigned(s.uami.id),
    encryption: {
      services: SERVICES,
      ...cmkEncryption({ vaultUri: s.V.uri, keyName: "cmk", uamiId: s.uami.id, appId: s.app.appId }),
    },
  });
  const t0 = Date.now();
  const { value: a, body: raw } = await withRaw((o) =>
    s.sm.storageAccounts.beginCreateAndWait(s.rg, s.nameA, body, { updateIntervalInMs: 100, ...o }));
  timing(t, "create account on CMK (PUT)", Date.now() - t0);
  assert.equal(a.name, s.nameA);
  // The kid names the vault's own origin: https://localhost:PORT/keys/cmk/<version>.
  assert.match(s.key.id, new RegExp(`^${strip(s.V.uri)}/keys/cmk/[0-9a-f]{32}$`));
  assertCmk(a, { vaultUri: s.V.uri, keyName: "cmk", kid: s.key.id });
  if (raw?.properties) assertKeyState(raw, "Usable", s.key.id);
  const st = await accountWithState(s.sm, s.rg, s.nameA);
  assertCmk(st.account, { vaultUri: s.V.uri, keyName: "cmk", kid: s.key.id });
  await usableOn(s.nameA, s.key.id);
  s.A = { name: s.nameA, svc: await sharedKeyBlobClient(s.sm, s.rg, s.nameA, st.account), container: "docs", data: new Map() };
  assert.match(blobUrl(st.account), new RegExp(`/${s.nameA}$`));
});

it("3. an EXISTING account holding blobs moves to the customer's key with PATCH", async (t) => {
  s.nameB = accountName("cmkb");
  const b = await createAccount(s.sm, s.rg, s.nameB, accountBody());
  assert.equal(enc(b).keySource, "Microsoft.Storage");
  s.B = { name: s.nameB, svc: await sharedKeyBlobClient(s.sm, s.rg, s.nameB, b), container: "before", data: new Map() };
  await s.B.svc.getContainerClient("before").create();
  await writeBlobs(s.B, ["old-small", "old-meta", "big-old"]);
  const t0 = Date.now();
  const { value: u, body: raw } = await withRaw((o) =>
    s.sm.storageAccounts.update(s.rg, s.nameB, {
      identity: userAssigned(s.uami.id),
      encryption: cmkEncryption({ vaultUri: s.V.uri, keyName: "cmk", uamiId: s.uami.id, appId: s.app.appId }),
    }, o));
  timing(t, "existing account to CMK (PATCH)", Date.now() - t0);
  assertCmk(u, { vaultUri: s.V.uri, keyName: "cmk", kid: s.key.id });
  assertKeyState(raw, "Usable", s.key.id);
  const st = await accountWithState(s.sm, s.rg, s.nameB);
  assertCmk(st.account, { vaultUri: s.V.uri, keyName: "cmk", kid: s.key.id });
  await usableOn(s.nameB, s.key.id);
});

// ---------------------------------------------------------------------------------------------
// Phase 4: data.

it("4. blobs are written and read on both accounts; the blobs written before the switch stay readable", async () => {
  await s.A.svc.getContainerClient(s.A.container).create();
  await writeBlobs(s.A, ["doc", "big-a"]);
  await assertServing(s.A, "new account");
  await writeBlobs(s.B, ["after-switch"]);
  await assertServing(s.B, "existing account");
  const old = await s.B.svc.getContainerClient("before").getBlockBlobClient("old-meta").download();
  assert.equal(old.metadata.origin, "oldmeta");
  assert.equal(old.isServerEncrypted, true);
});

it("4. the customer's audit log: wrapkey and unwrapkey by the app's service principal, each with a correlation id", async (t) => {
  let recs = [];
  const { ms } = await pollUntil("WrapKey and UnwrapKey records of the service principal", async () => {
    recs = (await auditRecords(s.V.cred, s.V.id, { callerOid: s.sp.id }))
      .filter((r) => /^(un)?wrapkey$/i.test(r.operation));
    return recs.some((r) => /^wrapkey$/i.test(r.operation)) && recs.some((r) => /^unwrapkey$/i.test(r.operation));
  }, { timeoutMs: 5 * REVALIDATE_S * 1000 });
  timing(t, "first UnwrapKey audit record seen after", ms);
  const ctx = JSON.stringify(recs.slice(0, 4));
  for (const r of recs) {
    assert.equal(r.callerOid, s.sp.id, ctx);
    assert.equal(r.callerAppId, s.app.appId, ctx);
    assert.equal(r.callerTenantId, customer.tenantId, ctx);
    assert.equal(r.result, 200, ctx);
    assert.match(String(r.kid), new RegExp(`^${strip(s.V.uri)}/keys/cmk/[0-9a-f]{32}$`), ctx);
    assert.ok(typeof r.correlationId === "string" && r.correlationId.length > 0, `no correlationId: ${JSON.stringify(r)}`);
  }
  // A fresh x-ms-client-request-id on every call (docs/cmk.md, the chain step 5).
  const ids = recs.map((r) => r.correlationId);
  assert.equal(new Set(ids).size, ids.length, `correlation ids repeat: ${ids.join(" ")}`);
  // Storage logs the correlation id beside the account name.
  if (LOG && fs.existsSync(LOG)) {
    const lines = fs.readFileSync(LOG, "utf8").split("\n");
    const logged = ids.filter((id) => lines.some((l) => l.includes(id) && (l.includes(s.nameA) || l.includes(s.nameB))));
    assert.ok(logged.length > 0, `no correlation id of ${ids.length} in the daemon log beside an account name`);
  }
});

// ---------------------------------------------------------------------------------------------
// Configuration refusals (docs/cmk.md "Configuration"): each leaves the account as it was.

it("refusals: set-up (an account on Microsoft-managed keys with the UAMI; apps missing one link each; EC key; vault without purge protection)", async () => {
  s.nameC = accountName("cmkc");
  const c = await createAccount(s.sm, s.rg, s.nameC, accountBody({ identity: userAssigned(s.uami.id) }));
  s.C = { name: s.nameC, svc: await sharedKeyBlobClient(s.sm, s.rg, s.nameC, c), container: "cdata", data: new Map() };
  await s.C.svc.getContainerClient("cdata").create();
  await writeBlobs(s.C, ["c1"]);
  const fic = (app) => addFic(s.g, app.id, { ...s.ficBody, name: `cmk-${uniq()}` });
  // No federated credential for this UAMI (but a service principal with the role).
  s.appNoFic = await createApp(s.g, `isv-nofic-${tag}`);
  const spNoFic = await s.gc.api("/servicePrincipals").post({ appId: s.appNoFic.appId });
  await assignRole(s.V.a.authz, customer.subscriptionId, s.V.id, KV_ROLE.CryptoServiceEncryptionUser, spNoFic.id);
  // No service principal in the customer tenant.
  s.appNoSp = await createApp(s.g, `isv-nosp-${tag}`);
  await fic(s.appNoSp);
  // A service principal without a role.
  s.appNoRole = await createApp(s.g, `isv-norole-${tag}`);
  await fic(s.appNoRole);
  await s.gc.api("/servicePrincipals").post({ appId: s.appNoRole.appId });
  // An EC key in the good vault; a vault without purge protection with an RSA key and the role.
  s.ecKey = await s.V.kc.createEcKey("eckey", { curve: "P-256" });
  s.VNP = await customerVault(tag, { prefix: "cmknp", purgeProtection: false, retentionDays: 7 });
  assert.notEqual(s.VNP.vault.properties.enablePurgeProtection, true);
  await s.VNP.kc.createRsaKey("cmk", { keySize: 2048 });
  await assignRole(s.VNP.a.authz, customer.subscriptionId, s.VNP.id, KV_ROLE.CryptoServiceEncryptionUser, s.sp.id);
});

/** GET before, the refused PATCH, GET after: encryption and identity unchanged, data readable. */
async function refusedPatch(name, store, patch, want) {
  const before = await s.sm.storageAccounts.getProperties(s.rg, name);
  const r = await refusal((o) => s.sm.storageAccounts.update(s.rg, name, patch, o));
  assertCmkRefusal(r, want);
  const after = await s.sm.storageAccounts.getProperties(s.rg, name);
  assert.deepEqual(enc(after), enc(before), "encryption changed by a refused request");
  assert.deepEqual(after.identity, before.identity, "identity changed by a refused request");
  await assertServing(store, `${name} after a refusal`);
  return r;
}
const toCmk = (over = {}) => ({
  encryption: cmkEncryption({ vaultUri: s.V.uri, keyName: "cmk", uamiId: s.uami.id, appId: s.app.appId, ...over }),
});

it("refusal: an app with no federated credential for this UAMI -> 400 KeyVaultAuthenticationFailure (federatedCredential)", async () => {
  await refusedPatch(s.nameC, s.C, toCmk({ appId: s.appNoFic.appId }), {
    status: 400, code: "KeyVaultAuthenticationFailure", targets: "federatedCredential", detailCode: /^AADSTS7002\d*$/,
    mentions: /federated/i,
  });
});

it("refusal: an app without a service principal in the customer tenant -> 400 KeyVaultAuthenticationFailure (servicePrincipal)", async () => {
  await refusedPatch(s.nameC, s.C, toCmk({ appId: s.appNoSp.appId }), {
    status: 400, code: "KeyVaultAuthenticationFailure", targets: ["servicePrincipal", "application"],
    detailCode: /^AADSTS700016$/,
  });
});

it("refusal: a service principal without a role on the vault -> 400 KeyVaultAuthenticationFailure (role)", async () => {
  await refusedPatch(s.nameC, s.C, toCmk({ appId: s.appNoRole.appId }), {
    status: 400, code: "KeyVaultAuthenticationFailure", targets: "role", detailCode: /^(ForbiddenByRbac|Unauthorized|Forbidden)$/,
  });
});

it("refusal: an unknown key name -> 400 KeyVaultEncryptionKeyNotFound (key); a CMK account stays on its key", async () => {
  await refusedPatch(s.nameC, s.C, toCmk({ keyName: "nosuchkey" }), {
    status: 400, code: NOT_FOUND, targets: "key", detailCode: /^KeyNotFound$/,
  });
  // The same on an account already on a customer key.
  await refusedPatch(s.nameB, s.B, toCmk({ keyName: "nosuchkey" }), {
    status: 400, code: NOT_FOUND, targets: "key", detailCode: /^KeyNotFound$/,
  });
  await usableOn(s.nameB);
});

it("refusal: a vault without purge protection -> 400 KeyVaultPolicyError (vaultPolicy)", async () => {
  await refusedPatch(s.nameC, s.C, toCmk({ vaultUri: s.VNP.uri }), {
    status: 400, code: "KeyVaultPolicyError", targets: "vaultPolicy", detailCode: /recoveryLevel/i,
  });
});

it("refusal: an EC key -> 400 InvalidKeyVaultKey (key)", async () => {
  await refusedPatch(s.nameC, s.C, toCmk({ keyName: "eckey" }), { status: 400, code: "InvalidKeyVaultKey", targets: "key" });
});

it("refusal: an unreachable vault (https://localhost:1) -> KeyVaultVaultNotFound (vault), 400 or 503", async () => {
  await refusedPatch(s.nameC, s.C, toCmk({ vaultUri: "https://localhost:1" }), {
    status: [400, 503], code: "KeyVaultVaultNotFound", targets: "vault", detailCode: /^(ConnectionFailed|VaultNotFound)$/,
  });
});

it("refusal at creation: a NEW account whose chain fails is not created", async () => {
  const name = accountName("cmkn");
  const body = accountBody({
    identity: userAssigned(s.uami.id),
    encryption: { services: SERVICES, ...cmkEncryption({ vaultUri: s.V.uri, keyName: "cmk", uamiId: s.uami.id, appId: s.appNoRole.appId }) },
  });
  const r = await refusal((o) => s.sm.storageAccounts.beginCreateAndWait(s.rg, name, body, { updateIntervalInMs: 100, ...o }));
  assertCmkRefusal(r, { status: 400, code: "KeyVaultAuthenticationFailure", targets: "role" });
  await assert.rejects(s.sm.storageAccounts.getProperties(s.rg, name), (e) => e.statusCode === 404);
  const free = await s.sm.storageAccounts.checkNameAvailability({ name, type: "Microsoft.Storage/storageAccounts" });
  assert.equal(free.nameAvailable, true);
});

// ---------------------------------------------------------------------------------------------
// Phase 5: rotation, pinned version, another vault.

it("5. the customer rotates the key: both automatic-version accounts follow; data stays readable", async (t) => {
  const before = kvp(await s.sm.storageAccounts.getProperties(s.rg, s.nameA)).lastKeyRotationTimestamp;
  const t0 = Date.now();
  s.k2 = await s.V.kc.rotateKey("cmk");
  assert.notEqual(s.k2.id, s.key.id);
  for (const [label, name] of [["new account", s.nameA], ["existing account", s.nameB]]) {
    const { value: a } = await pollUntil(`${label} follows the rotation`, async () => {
      const a2 = await s.sm.storageAccounts.getProperties(s.rg, name);
      return kvp(a2)?.currentVersionedKeyIdentifier === s.k2.id ? a2 : null;
    }, { timeoutMs: 15_000, intervalMs: 100 });
    timing(t, `rotation followed (${label})`, Date.now() - t0);
    assertCmk(a, { vaultUri: s.V.uri, keyName: "cmk", kid: s.k2.id });
    assert.ok(kvp(a).lastKeyRotationTimestamp > before, "lastKeyRotationTimestamp did not move");
  }
  await usableOn(s.nameA, s.k2.id);
  await assertServing(s.A, "new account after rotation");
  await assertServing(s.B, "existing account after rotation");
});

it("5. a pinned version stays through the next rotation (the automatic account moves on)", async (t) => {
  const pin = s.k2.properties.version;
  const u = await s.sm.storageAccounts.update(s.rg, s.nameA,
    toCmk({ keyVersion: pin }));
  assertCmk(u, { vaultUri: s.V.uri, keyName: "cmk", keyVersion: pin, kid: s.k2.id });
  const t0 = Date.now();
  s.k3 = await s.V.kc.rotateKey("cmk");
  // The automatic account follows: the rotation was seen by the engine.
  await pollUntil("existing account follows the second rotation", async () =>
    kvp(await s.sm.storageAccounts.getProperties(s.rg, s.nameB))?.currentVersionedKeyIdentifier === s.k3.id,
  { timeoutMs: 15_000, intervalMs: 100 });
  timing(t, "second rotation followed (automatic account)", Date.now() - t0);
  // The pinned one does not, for longer than a version poll.
  const until = Date.now() + (VERSION_POLL_S + 1) * 1000;
  while (Date.now() < until) {
    const a = await s.sm.storageAccounts.getProperties(s.rg, s.nameA);
    assert.equal(kvp(a).currentVersionedKeyIdentifier, s.k2.id, "the pinned account moved");
    assert.equal(kvp(a).keyVersion, pin);
    await sleep(500);
  }
  await assertServing(s.A, "pinned account");
});

it("5. the key moves to another vault of the customer: the identifier follows; data readable", async (t) => {
  const t0 = Date.now();
  const { value: u, body } = await withRaw((o) => s.sm.storageAccounts.update(s.rg, s.nameA,
    toCmk({ vaultUri: s.V2.uri, keyName: "cmk2" }), o));
  timing(t, "change of key to another vault (PATCH)", Date.now() - t0);
  assertCmk(u, { vaultUri: s.V2.uri, keyName: "cmk2", kid: s.key2.id });
  assert.ok(s.key2.id.startsWith(`${strip(s.V2.uri)}/keys/cmk2/`));
  assertKeyState(body, "Usable", s.key2.id);
  await assertServing(s.A, "account on the second vault");
  const recs = await auditRecords(s.V2.cred, s.V2.id, { callerOid: s.sp.id });
  assert.ok(recs.some((r) => /^wrapkey$/i.test(r.operation) && r.kid === s.key2.id), "no WrapKey in the second vault's audit log");
});

// ---------------------------------------------------------------------------------------------
// Phase 6: revocation and restore. Account A is on vault 2 (cmk2), account B on vault 1 (cmk).

async function revoke(t, label, { revoke: doRevoke, restore, code, stores, untouched = [] }) {
  const t0 = Date.now();
  await doRevoke();
  for (const st of stores) await waitData(`${label}: ${st.name} denied`, st, code);
  timing(t, `${label}: denied (${code}) after`, Date.now() - t0);
  for (const st of stores) {
    await assertDenied(st, code, label);
    const { ks } = await waitKeyState(`${label}: ${st.name}`, st.name, "Denied", 5000);
    t.diagnostic(`${label}: ${st.name} keyState ${JSON.stringify(ks)}`);
  }
  for (const st of untouched) await assertServing(st, `${label}: the other account`);
  const t1 = Date.now();
  await restore();
  for (const st of stores) await waitData(`${label}: ${st.name} restored`, st, "ok");
  timing(t, `${label}: serving again after the restore`, Date.now() - t1);
  for (const st of stores) {
    await assertServing(st, `${label}: restored`);
    await waitKeyState(`${label}: ${st.name}`, st.name, "Usable", 5000);
  }
}

it("6a. the customer disables the key -> 403 KeyVaultEncryptionKeyNotFound; enabling it restores", async (t) => {
  const ver = s.key2.properties.version;
  await revoke(t, "disable key", {
    revoke: () => s.V2.kc.updateKeyProperties("cmk2", ver, { enabled: false }),
    restore: () => s.V2.kc.updateKeyProperties("cmk2", ver, { enabled: true }),
    code: NOT_FOUND, stores: [s.A], untouched: [s.B],
  });
});

it("6b. the customer removes the role assignment -> 403 KeyVaultAccessTokenCannotBeAcquired; granting it again restores", async (t) => {
  await revoke(t, "remove role", {
    revoke: () => s.V2.a.authz.roleAssignments.delete(s.V2.id, s.ra2),
    restore: async () => {
      s.ra2 = await assignRole(s.V2.a.authz, customer.subscriptionId, s.V2.id, KV_ROLE.CryptoServiceEncryptionUser, s.sp.id);
    },
    code: NO_TOKEN, stores: [s.A], untouched: [s.B],
  });
});

it("6c. the customer deletes the service principal -> 403 KeyVaultAccessTokenCannotBeAcquired; a new one with the role restores", async (t) => {
  const oldSp = s.sp.id;
  await revoke(t, "delete service principal", {
    revoke: () => s.gc.api(`/servicePrincipals/${oldSp}`).delete(),
    restore: async () => {
      s.sp = await s.gc.api("/servicePrincipals").post({ appId: s.app.appId });
      assert.notEqual(s.sp.id, oldSp);
      s.ra = await assignRole(s.V.a.authz, customer.subscriptionId, s.V.id, KV_ROLE.CryptoServiceEncryptionUser, s.sp.id);
      s.ra2 = await assignRole(s.V2.a.authz, customer.subscriptionId, s.V2.id, KV_ROLE.CryptoServiceEncryptionUser, s.sp.id);
    },
    code: NO_TOKEN, stores: [s.A, s.B],
  });
});

it("6d. the customer deletes the key -> 403 KeyVaultEncryptionKeyNotFound; recovering it restores", async (t) => {
  const poll = { intervalInMs: 100 };
  await revoke(t, "delete key", {
    revoke: async () => (await s.V2.kc.beginDeleteKey("cmk2", poll)).pollUntilDone(),
    restore: async () => (await s.V2.kc.beginRecoverDeletedKey("cmk2", poll)).pollUntilDone(),
    code: NOT_FOUND, stores: [s.A], untouched: [s.B],
  });
});

it("6e. the ISV deletes the federated credential -> 403 KeyVaultAccessTokenCannotBeAcquired; adding it again restores", async (t) => {
  await revoke(t, "delete federated credential", {
    revoke: () => s.g.api(`/applications/${s.app.id}/federatedIdentityCredentials/${s.fic.id}`).delete(),
    restore: async () => {
      s.fic = await addFic(s.g, s.app.id, s.ficBody);
    },
    code: NO_TOKEN, stores: [s.A, s.B],
  });
});

// ---------------------------------------------------------------------------------------------
// Phase 7: back to Microsoft-managed keys.

it("7. back to Microsoft-managed keys: keyvaultproperties go, data readable; the customer's key no longer matters", async (t) => {
  const u = await s.sm.storageAccounts.update(s.rg, s.nameA, { encryption: { keySource: "Microsoft.Storage" } });
  assert.equal(enc(u).keySource, "Microsoft.Storage");
  assert.equal(enc(u).keyVaultProperties, undefined, JSON.stringify(enc(u)));
  const got = await s.sm.storageAccounts.getProperties(s.rg, s.nameA);
  assert.equal(enc(got).keyVaultProperties, undefined);
  await assertServing(s.A, "back on Microsoft-managed keys");
  const ver = s.key2.properties.version;
  await s.V2.kc.updateKeyProperties("cmk2", ver, { enabled: false });
  const t0 = Date.now();
  const until = t0 + (2 * REVALIDATE_S + 2) * 1000;
  let rounds = 0;
  while (Date.now() < until) {
    assert.equal(await dataState(s.A), "ok", "the account on Microsoft-managed keys was refused");
    rounds++;
    await sleep(500);
  }
  await assertServing(s.A, "Microsoft-managed keys, customer key disabled");
  timing(t, `Microsoft-managed account kept serving with the customer key disabled (${rounds} probes) for`, Date.now() - t0);
  await s.V2.kc.updateKeyProperties("cmk2", ver, { enabled: true });
});

it("timings", (t) => {
  const w = Math.max(...s.timings.map(([l]) => l.length));
  const lines = s.timings.map(([l, ms]) => `${l.padEnd(w)}  ${String(ms).padStart(6)} ms`);
  console.log(`\n25-cmk-procedure timings:\n${lines.join("\n")}\n`);
  t.diagnostic(`timings: ${JSON.stringify(Object.fromEntries(s.timings))}`);
});
