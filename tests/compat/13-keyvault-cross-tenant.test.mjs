// SPDX-License-Identifier: Apache-2.0
// The customer half of the cross-tenant procedure (wire reference D steps 4-7 and 10, DESIGN.md
// section 2), driven with the unmodified SDKs: the ISV's multi-tenant app, UAMI and federated
// credential (as in 02-mi-exchange), its service principal in the customer tenant; the customer's
// vault with purge protection and RBAC, its key, and Key Vault Crypto Service Encryption User for
// the app's service principal. Then the storage service's chain: ManagedIdentityCredential ->
// ClientAssertionCredential in the customer tenant -> CryptographyClient(key id) wraps and unwraps.
// Revocation: removing the role assignment or disabling the key stops the next unwrap (403), and
// restoring it lets the next one through. ManagedIdentityCredential fixes its source per process:
// this file runs in its own process.
import assert from "node:assert/strict";
import crypto from "node:crypto";

import { ManagedIdentityCredential } from "@azure/identity";

import {
  EXCHANGE_AUD, assertionCredential, cli, customer, decodeJwt, getToken, isv, isvCred,
  provisionChain, record, uniq,
} from "./lib.mjs";
import {
  KV_ROLE, assertKvError, assignRole, b64u, cryptoClient, customerVault, keyClient,
  kvRaw, prepare, publicKeyOf, rejectsKv, strip, vaultToken,
} from "./kvlib.mjs";

const s = {};
const UNWRAP = "Microsoft.KeyVault/vaults/keys/unwrap/action";

const { it } = await prepare("ISV chain (app, UAMI, FIC, SP in the customer tenant), workload, customer vault and key", async () => {
  Object.assign(s, await provisionChain(`kvx-${uniq()}`));
  const wl = cli("workload", "create", "--identity", s.uami.id);
  record("identityHeader", wl.identityHeader);
  process.env.IDENTITY_ENDPOINT = wl.identityEndpoint;
  process.env.IDENTITY_HEADER = wl.identityHeader;
  s.mi = new ManagedIdentityCredential({ clientId: s.uami.clientId });
  // The storage service's credential: the MI token is the assertion of the app in the customer tenant.
  s.appCred = assertionCredential(customer.tenantId, s.app.appId, async () => getToken(s.mi, `${EXCHANGE_AUD}/.default`));
  s.V = await customerVault(s.tag, { purgeProtection: true, prefix: "kvx" });
  s.key = await s.V.kc.createRsaKey("cmk", { keySize: 3072 });
  s.other = await s.V.kc.createRsaKey("other");
});

it("the customer assigns Crypto Service Encryption User to the app's service principal at the vault scope", async () => {
  s.ra = await assignRole(s.V.a.authz, customer.subscriptionId, s.V.id, KV_ROLE.CryptoServiceEncryptionUser, s.sp.id);
  const got = await s.V.a.authz.roleAssignments.get(s.V.id, s.ra);
  assert.equal(got.principalId, s.sp.id);
  assert.equal(got.scope.toLowerCase(), s.V.id.toLowerCase());
});

it("the exchanged token is the app's service principal in the customer tenant", async () => {
  const p = decodeJwt(await vaultToken(s.appCred));
  assert.equal(p.tid, customer.tenantId);
  assert.equal(p.oid, s.sp.id);
  assert.equal(p.appid, s.app.appId);
});

it("CryptographyClient(key id, exchanged credential): wrap locally, unwrap in the vault -> equal", async () => {
  const cc = cryptoClient(s.key.id, s.appCred);
  for (const alg of ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"]) {
    const cek = crypto.randomBytes(32);
    const w = await cc.wrapKey(alg, cek);
    const u = await cc.unwrapKey(alg, w.result);
    assert.deepEqual(Buffer.from(u.result), cek, alg);
    assert.equal(u.keyID, s.key.id);
  }
  s.cc = cc;
  s.cek = crypto.randomBytes(32);
  s.wrapped = (await cc.wrapKey("RSA-OAEP", s.cek)).result;
});

it("the same through the versionless id (keyversion \"\" as storage configures it)", async () => {
  const cc = cryptoClient(`${strip(s.V.uri)}/keys/cmk`, s.appCred);
  const cek = crypto.randomBytes(32);
  const w = await cc.wrapKey("RSA-OAEP-256", cek); // remote: /keys/cmk//wrapkey
  assert.equal(w.keyID, s.key.id);
  assert.deepEqual(Buffer.from((await cc.unwrapKey("RSA-OAEP-256", w.result)).result), cek);
  // The service principal may read the key (keys/read), which is how storage finds the current version.
  const k = await keyClient(s.V.uri, s.appCred).getKey("cmk");
  assert.equal(k.id, s.key.id);
});

it("the role grants wrap, unwrap and read only: sign, decrypt, create, rotate, update, delete -> 403 ForbiddenByRbac", async () => {
  const kc = keyClient(s.V.uri, s.appCred);
  await rejectsKv(s.cc.sign("RS256", crypto.randomBytes(32)), 403, "Forbidden", "ForbiddenByRbac");
  const ct = crypto.publicEncrypt({ key: publicKeyOf(s.key), oaepHash: "sha256" }, Buffer.from("x"));
  await rejectsKv(s.cc.decrypt({ algorithm: "RSA-OAEP-256", ciphertext: ct }), 403, "Forbidden", "ForbiddenByRbac");
  await rejectsKv(kc.createRsaKey("evil"), 403, "Forbidden", "ForbiddenByRbac");
  await rejectsKv(kc.rotateKey("cmk"), 403, "Forbidden", "ForbiddenByRbac");
  await rejectsKv(kc.updateKeyProperties("cmk", { enabled: false }), 403, "Forbidden", "ForbiddenByRbac");
  await rejectsKv(kc.beginDeleteKey("cmk"), 403, "Forbidden", "ForbiddenByRbac");
  await rejectsKv(kc.backupKey("cmk"), 403, "Forbidden", "ForbiddenByRbac");
  assert.equal((await s.V.kc.getKey("cmk")).properties.enabled, true);
});

it("removing the role assignment: the next unwrap fails 403 Forbidden / ForbiddenByRbac naming caller, action and scope", async () => {
  await s.V.a.authz.roleAssignments.delete(s.V.id, s.ra);
  // Same client, same cached token: the decision is made per request.
  await rejectsKv(s.cc.unwrapKey("RSA-OAEP", s.wrapped), 403, "Forbidden", "ForbiddenByRbac");
  // The full error, by hand.
  const token = await vaultToken(s.appCred);
  const r = await kvRaw(s.V.uri, `keys/cmk/${s.key.properties.version}/unwrapkey`, {
    method: "POST", token, body: { alg: "RSA-OAEP", value: b64u(s.wrapped) },
  });
  const err = assertKvError(r, 403, "Forbidden", "ForbiddenByRbac");
  const msg = err.message.toLowerCase();
  assert.ok(msg.includes(s.sp.id.toLowerCase()), `message does not name the caller's oid ${s.sp.id}: ${err.message}`);
  assert.ok(msg.includes(UNWRAP.toLowerCase()), `message does not name the action ${UNWRAP}: ${err.message}`);
  assert.ok(msg.includes(s.V.id.toLowerCase()), `message does not name the scope ${s.V.id}: ${err.message}`);
  // A fresh client is refused too: its GET gets 403, it falls back to remote-only, and the remote wrap is refused.
  const fresh = cryptoClient(s.key.id, s.appCred);
  await rejectsKv(fresh.wrapKey("RSA-OAEP-256", s.cek), 403, "Forbidden", "ForbiddenByRbac");
  await rejectsKv(keyClient(s.V.uri, s.appCred).getKey("cmk"), 403, "Forbidden", "ForbiddenByRbac");
});

it("re-adding the role assignment: the next unwrap works again", async () => {
  s.ra = await assignRole(s.V.a.authz, customer.subscriptionId, s.V.id, KV_ROLE.CryptoServiceEncryptionUser, s.sp.id);
  const u = await s.cc.unwrapKey("RSA-OAEP", s.wrapped);
  assert.deepEqual(Buffer.from(u.result), s.cek);
});

it("a role assignment at the key scope covers that key only", async () => {
  await s.V.a.authz.roleAssignments.delete(s.V.id, s.ra);
  const scope = `${s.V.id}/keys/cmk`;
  const ra = await assignRole(s.V.a.authz, customer.subscriptionId, scope, KV_ROLE.CryptoServiceEncryptionUser, s.sp.id);
  assert.deepEqual(Buffer.from((await s.cc.unwrapKey("RSA-OAEP", s.wrapped)).result), s.cek);
  const oc = cryptoClient(s.other.id, s.appCred);
  const w = crypto.publicEncrypt({ key: publicKeyOf(s.other), oaepHash: "sha1" }, s.cek);
  await rejectsKv(oc.unwrapKey("RSA-OAEP", w), 403, "Forbidden", "ForbiddenByRbac");
  await s.V.a.authz.roleAssignments.delete(scope, ra);
  await rejectsKv(s.cc.unwrapKey("RSA-OAEP", s.wrapped), 403, "Forbidden", "ForbiddenByRbac");
  s.ra = await assignRole(s.V.a.authz, customer.subscriptionId, s.V.id, KV_ROLE.CryptoServiceEncryptionUser, s.sp.id);
  assert.deepEqual(Buffer.from((await oc.unwrapKey("RSA-OAEP", w)).result), s.cek);
});

it("the customer disables the key: unwrap 403 KeyDisabled; enabling it again restores access", async () => {
  await s.V.kc.updateKeyProperties("cmk", s.key.properties.version, { enabled: false });
  await rejectsKv(s.cc.unwrapKey("RSA-OAEP", s.wrapped), 403, "Forbidden", "KeyDisabled");
  await s.V.kc.updateKeyProperties("cmk", s.key.properties.version, { enabled: true });
  assert.deepEqual(Buffer.from((await s.cc.unwrapKey("RSA-OAEP", s.wrapped)).result), s.cek);
});

it("the customer rotates: the service principal reads the new version; the old version still unwraps", async () => {
  const r = await s.V.kc.rotateKey("cmk");
  const latest = await keyClient(s.V.uri, s.appCred).getKey("cmk");
  assert.equal(latest.id, r.id);
  assert.deepEqual(Buffer.from((await s.cc.unwrapKey("RSA-OAEP", s.wrapped)).result), s.cek);
  const nc = cryptoClient(r.id, s.appCred);
  const w = await nc.wrapKey("RSA-OAEP", s.cek);
  assert.deepEqual(Buffer.from((await nc.unwrapKey("RSA-OAEP", w.result)).result), s.cek);
});

it("tokens of the ISV tenant are refused by the customer's vault: 401 AKV10032", async () => {
  for (const [what, token] of [
    ["ISV admin, vault audience", await vaultToken(isvCred())],
    ["the MI token itself", await getToken(s.mi, `${EXCHANGE_AUD}/.default`)],
  ]) {
    const r = await kvRaw(s.V.uri, `keys/cmk/${s.key.properties.version}/unwrapkey`, {
      method: "POST", token, body: { alg: "RSA-OAEP", value: b64u(s.wrapped) },
    });
    const ctx = `${what}: ${r.status} ${r.text.slice(0, 300)}`;
    assert.equal(r.status, 401, ctx);
    assert.equal(r.body?.error?.code, "Unauthorized", ctx);
    assert.match(String(r.headers["www-authenticate"]), new RegExp(`authorization="[^"]*/${customer.tenantId}"`), ctx);
    if (what.startsWith("ISV")) {
      assert.match(r.body.error.message, /AKV10032/, ctx);
      assert.ok(r.body.error.message.includes(isv.tenantId), `the message names the issuer found: ${ctx}`);
    }
  }
});

it("GET key as the service principal: public parts only", async () => {
  const token = await vaultToken(s.appCred);
  const r = await kvRaw(s.V.uri, "keys/cmk/", { token });
  assert.equal(r.status, 200, r.text);
  for (const k of ["d", "p", "q", "dp", "dq", "qi"]) assert.equal(r.body.key[k], undefined, `GET key returns ${k}`);
});
