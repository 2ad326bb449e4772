// SPDX-License-Identifier: Apache-2.0
// KeyClient of @azure/keyvault-keys 4.10.2 against a crosskey vault (wire reference B.3, B.4):
// create RSA 2048/3072/4096 and EC P-256/P-384/P-521, create with attributes, get latest and by
// version, list keys and versions (with paging), update properties, rotate, the rotation policy,
// the delete / recover / purge pollers, import of RSA and EC keys made by node:crypto,
// backup/restore, random bytes, recoveryLevel per vault, and HSM key types refused.
import assert from "node:assert/strict";
import crypto from "node:crypto";

import { customer, uniq } from "./lib.mjs";
import {
  assertKid, b64u, createVault, cryptoClient, customerVault, keyClient, makeKeyPair, prepare, publicKeyOf,
  recordPrivate, rejectsKv, strip, vaultBody, vaultName, KV_API, KV_ROLE, assignRole, kvRaw, vaultToken,
} from "./kvlib.mjs";

const tag = uniq();
const s = {};
const poll = { intervalInMs: 100 };
const sec = (d) => Math.floor(new Date(d).getTime() / 1000);

const { it } = await prepare("customer vaults A (purge protection, 90 days) and B (no purge protection, 7 days), Crypto Officer", async () => {
  s.A = await customerVault(tag, { purgeProtection: true, retentionDays: 90, prefix: "kvka" });
  s.B = await customerVault(tag, { purgeProtection: false, retentionDays: 7, prefix: "kvkb" });
});

function assertKey(k, v, name, { kty, ops } = {}) {
  const ctx = JSON.stringify({ id: k.id, keyType: k.keyType, ops: k.keyOperations, props: k.properties });
  s.lastVersion = assertKid(k.id, v.uri, name);
  assert.equal(k.name, name, ctx);
  assert.equal(k.key.kid, k.id, ctx);
  assert.equal(k.properties.id, k.id, ctx);
  assert.equal(k.properties.version, s.lastVersion, ctx);
  assert.equal(k.properties.vaultUrl, strip(v.uri), ctx);
  if (kty) assert.equal(k.keyType, kty, ctx);
  if (ops) for (const op of ops) assert.ok(k.keyOperations?.includes(op), `${op} missing: ${ctx}`);
  for (const priv of ["d", "p", "q", "dp", "dq", "qi", "k", "t"]) assert.equal(k.key[priv], undefined, `key bundle carries ${priv}`);
  assert.ok(k.properties.createdOn instanceof Date && k.properties.updatedOn instanceof Date, ctx);
  assert.ok(Math.abs(Date.now() - k.properties.createdOn.getTime()) < 120_000, `createdOn is not now: ${ctx}`);
  assert.equal(k.properties.managed ?? false, false, ctx);
  return s.lastVersion;
}

it("createRsaKey 2048, 3072, 4096: kid, kty, n, e, default key_ops, no private parts", async () => {
  for (const bits of [2048, 3072, 4096]) {
    const name = `rsa${bits}`;
    const k = await s.A.kc.createRsaKey(name, { keySize: bits });
    assertKey(k, s.A, name, { kty: "RSA", ops: ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"] });
    assert.equal(k.key.n.length, bits / 8, `modulus of ${name}`);
    assert.equal(Buffer.from(k.key.e).toString("hex"), "010001");
    assert.equal(k.properties.enabled, true);
    // node can use the public half.
    assert.equal(publicKeyOf(k).asymmetricKeyDetails.modulusLength, bits);
  }
  // createKey("RSA") without a size is RSA 2048.
  const d = await s.A.kc.createKey("rsadefault", "RSA");
  assert.equal(d.key.n.length, 256);
});

it("createEcKey P-256, P-384, P-521: crv, x, y; sign and verify only", async () => {
  for (const [crv, len] of [["P-256", 32], ["P-384", 48], ["P-521", 66]]) {
    const name = `ec${crv.slice(2)}`;
    const k = await s.A.kc.createEcKey(name, { curve: crv });
    assertKey(k, s.A, name, { kty: "EC", ops: ["sign", "verify"] });
    assert.equal(k.key.crv, crv);
    assert.equal(k.key.x.length, len);
    assert.equal(k.key.y.length, len);
    for (const op of ["encrypt", "decrypt", "wrapKey", "unwrapKey"]) assert.ok(!k.keyOperations.includes(op), `EC key offers ${op}`);
    assert.equal(publicKeyOf(k).asymmetricKeyDetails.namedCurve, { "P-256": "prime256v1", "P-384": "secp384r1", "P-521": "secp521r1" }[crv]);
  }
});

it("createKey with keyOps, enabled:false, notBefore, expiresOn and tags echoes them", async () => {
  const nbf = new Date(Date.now() - 3600_000);
  const exp = new Date(Date.now() + 30 * 86400_000);
  const k = await s.A.kc.createKey("attrs", "RSA", {
    keySize: 2048,
    keyOps: ["wrapKey", "unwrapKey"],
    enabled: false,
    notBefore: nbf,
    expiresOn: exp,
    tags: { purpose: "cmk", team: "storage" },
  });
  assertKey(k, s.A, "attrs", { kty: "RSA" });
  assert.deepEqual([...k.keyOperations].sort(), ["unwrapKey", "wrapKey"]);
  assert.equal(k.properties.enabled, false);
  assert.equal(sec(k.properties.notBefore), sec(nbf));
  assert.equal(sec(k.properties.expiresOn), sec(exp));
  assert.deepEqual(k.properties.tags, { purpose: "cmk", team: "storage" });
  const got = await s.A.kc.getKey("attrs");
  assert.equal(got.properties.enabled, false);
  assert.deepEqual([...got.keyOperations].sort(), ["unwrapKey", "wrapKey"]);
  assert.equal(sec(got.properties.expiresOn), sec(exp));
});

it("recoveryLevel and recoverableDays follow the vault (wire reference B.4)", async () => {
  const a = await s.A.kc.getKey("rsa2048");
  assert.equal(a.properties.recoveryLevel, "Recoverable");
  assert.equal(a.properties.recoverableDays, 90);
  const b = await s.B.kc.createRsaKey("lvl");
  assert.equal(b.properties.recoveryLevel, "CustomizedRecoverable+Purgeable");
  assert.equal(b.properties.recoverableDays, 7);
  // The other two combinations, on two more vaults of the same resource group.
  for (const [pp, days, level] of [[true, 7, "CustomizedRecoverable"], [false, 90, "Recoverable+Purgeable"]]) {
    const n = vaultName("kvlv");
    const v = await createVault(s.A.kvm, s.A.rg, n, vaultBody(customer.tenantId, { purgeProtection: pp, retentionDays: days }));
    await assignRole(s.A.a.authz, customer.subscriptionId, v.id, KV_ROLE.CryptoOfficer, s.A.adminOid);
    const k = await keyClient(v.properties.vaultUri, s.A.cred).createEcKey("lvl", { curve: "P-256" });
    assert.equal(k.properties.recoveryLevel, level, `purge protection ${pp}, ${days} days`);
    assert.equal(k.properties.recoverableDays, days);
    if (!s.C) s.C = { ...v, uri: v.properties.vaultUri, kc: keyClient(v.properties.vaultUri, s.A.cred) };
  }
});

it("getKey: latest (no version) and by version; a new version becomes the latest", async () => {
  const v1 = await s.A.kc.createRsaKey("multi");
  const v2 = await s.A.kc.createRsaKey("multi", { keySize: 3072 });
  assert.notEqual(v1.properties.version, v2.properties.version);
  const latest = await s.A.kc.getKey("multi");
  assert.equal(latest.id, v2.id);
  assert.equal(latest.key.n.length, 384);
  const old = await s.A.kc.getKey("multi", { version: v1.properties.version });
  assert.equal(old.id, v1.id);
  assert.deepEqual(Buffer.from(old.key.n), Buffer.from(v1.key.n));
  s.multi = [v1, v2];
});

it("listPropertiesOfKeys: every key once, versionless ids; paging with maxPageSize", async () => {
  const all = [];
  for await (const p of s.A.kc.listPropertiesOfKeys()) all.push(p);
  const names = all.map((p) => p.name).sort();
  const want = ["attrs", "ec256", "ec384", "ec521", "multi", "rsa2048", "rsa3072", "rsa4096", "rsadefault"];
  assert.deepEqual(names, want);
  for (const p of all) {
    assert.equal(p.id, `${strip(s.A.uri)}/keys/${p.name}`, "list ids are versionless");
    assert.equal(p.version, undefined);
    assert.equal(p.vaultUrl, strip(s.A.uri));
    assert.ok(p.createdOn instanceof Date, JSON.stringify(p));
  }
  assert.equal(all.find((p) => p.name === "attrs").enabled, false);
  assert.deepEqual(all.find((p) => p.name === "attrs").tags, { purpose: "cmk", team: "storage" });
  // Paging: maxresults on the wire, nextLink followed verbatim.
  const pages = [];
  for await (const page of s.A.kc.listPropertiesOfKeys().byPage({ maxPageSize: 2 })) pages.push(page.map((p) => p.name));
  assert.ok(pages.length >= 5, `want >= 5 pages of <= 2, got ${JSON.stringify(pages)}`);
  for (const page of pages) assert.ok(page.length <= 2, JSON.stringify(pages));
  assert.deepEqual(pages.flat().sort(), want);
});

it("wire shapes (raw): KeyBundle, list and DeletedKeyBundle as wire reference B.4 says", async () => {
  const token = await vaultToken(s.A.cred);
  const r = await kvRaw(s.A.uri, "keys/rsa2048/", { token });
  assert.equal(r.status, 200, r.text);
  assert.match(String(r.headers["content-type"]), /^application\/json/i);
  const b = r.body;
  assert.equal(b.key.kty, "RSA");
  for (const f of ["n", "e"]) assert.match(b.key[f], /^[A-Za-z0-9_-]+$/, `${f} is not unpadded base64url`);
  for (const f of ["created", "updated"]) assert.ok(Number.isInteger(b.attributes[f]), `attributes.${f} is not epoch seconds: ${b.attributes[f]}`);
  assert.ok(Math.abs(b.attributes.created - Date.now() / 1000) < 600, `created ${b.attributes.created}`);
  assert.equal(b.attributes.enabled, true);
  assert.equal(b.attributes.recoveryLevel, "Recoverable");
  assert.equal(b.attributes.recoverableDays, 90);
  const l = await kvRaw(s.A.uri, "keys", { token, query: `api-version=${KV_API}&maxresults=1` });
  assert.equal(l.status, 200, l.text);
  assert.ok(Array.isArray(l.body.value) && l.body.value.length === 1, l.text);
  assert.match(l.body.nextLink, new RegExp(`^${strip(s.A.uri)}/keys\\?`), `nextLink must be an absolute URL on the vault: ${l.body.nextLink}`);
  const item = l.body.value[0];
  assert.match(item.kid, new RegExp(`^${strip(s.A.uri)}/keys/[^/]+$`));
  assert.equal(item.key, undefined, "list items carry no key material");
  const last = await kvRaw(s.A.uri, "keys", { token, query: `api-version=${KV_API}&maxresults=25` });
  assert.ok(last.body.nextLink === null || last.body.nextLink === undefined, `a complete page has nextLink ${last.body.nextLink}`);
});

it("listPropertiesOfKeyVersions: every version, versioned ids", async () => {
  const vs = [];
  for await (const p of s.A.kc.listPropertiesOfKeyVersions("multi")) vs.push(p);
  assert.deepEqual(vs.map((p) => p.id).sort(), s.multi.map((k) => k.id).sort());
  for (const p of vs) {
    assert.equal(p.name, "multi");
    assert.match(p.version, /^[0-9a-f]{32}$/);
  }
  const one = [];
  for await (const p of s.A.kc.listPropertiesOfKeyVersions("rsa2048")) one.push(p);
  assert.equal(one.length, 1);
});

it("updateKeyProperties: enabled, expiresOn, keyOps, tags; on a version and on the latest", async () => {
  const [v1, v2] = s.multi;
  const exp = new Date(Date.now() + 365 * 86400_000);
  const u = await s.A.kc.updateKeyProperties("multi", v1.properties.version, {
    enabled: false,
    expiresOn: exp,
    keyOps: ["sign", "verify"],
    tags: { state: "old" },
  });
  assert.equal(u.id, v1.id, "update of a version changed another version");
  assert.equal(u.properties.enabled, false);
  assert.equal(sec(u.properties.expiresOn), sec(exp));
  assert.deepEqual([...u.keyOperations].sort(), ["sign", "verify"]);
  assert.deepEqual(u.properties.tags, { state: "old" });
  assert.ok(u.properties.updatedOn.getTime() >= v1.properties.updatedOn.getTime());
  // The latest is untouched.
  const l = await s.A.kc.getKey("multi");
  assert.equal(l.id, v2.id);
  assert.equal(l.properties.enabled, true);
  // No version: the latest.
  const u2 = await s.A.kc.updateKeyProperties("multi", { tags: { state: "current" } });
  assert.equal(u2.id, v2.id);
  assert.deepEqual(u2.properties.tags, { state: "current" });
  assert.equal(u2.properties.enabled, true);
  // Re-enable and read back the old version.
  const back = await s.A.kc.updateKeyProperties("multi", v1.properties.version, { enabled: true });
  assert.equal(back.properties.enabled, true);
  assert.deepEqual(back.properties.tags, { state: "old" }, "an update without tags dropped them");
  assert.equal((await s.A.kc.getKey("multi", { version: v1.properties.version })).properties.enabled, true);
});

it("rotateKey: a new version of the same type, size and operations", async () => {
  const before = await s.A.kc.getKey("rsa3072");
  const r = await s.A.kc.rotateKey("rsa3072");
  assertKey(r, s.A, "rsa3072", { kty: "RSA" });
  assert.notEqual(r.id, before.id);
  assert.equal(r.key.n.length, 384);
  assert.notDeepEqual(Buffer.from(r.key.n), Buffer.from(before.key.n));
  assert.deepEqual([...r.keyOperations].sort(), [...before.keyOperations].sort());
  assert.equal((await s.A.kc.getKey("rsa3072")).id, r.id);
  const vs = [];
  for await (const p of s.A.kc.listPropertiesOfKeyVersions("rsa3072")) vs.push(p.id);
  assert.deepEqual(vs.sort(), [before.id, r.id].sort());
  const ec = await s.A.kc.rotateKey("ec384");
  assert.equal(ec.keyType, "EC");
  assert.equal(ec.key.crv, "P-384");
  await rejectsKv(s.A.kc.rotateKey(`nope-${tag}`), 404, "KeyNotFound");
});

it("getKeyRotationPolicy: a default policy when none is set (not 404)", async () => {
  const p = await s.A.kc.getKeyRotationPolicy("rsa2048");
  assert.equal(p.id, `${strip(s.A.uri)}/keys/rsa2048/rotationpolicy`);
  assert.ok(Array.isArray(p.lifetimeActions), JSON.stringify(p));
  for (const a of p.lifetimeActions) assert.notEqual(a.action, "Rotate", `the default policy rotates: ${JSON.stringify(p)}`);
});

it("updateKeyRotationPolicy then getKeyRotationPolicy: the same policy", async () => {
  const policy = {
    lifetimeActions: [
      { timeAfterCreate: "P90D", action: "Rotate" },
      { timeBeforeExpiry: "P30D", action: "Notify" },
    ],
    expiresIn: "P2Y",
  };
  const set = await s.A.kc.updateKeyRotationPolicy("rsa2048", policy);
  const norm = (x) => x.lifetimeActions.map((a) => ({ action: a.action, timeAfterCreate: a.timeAfterCreate, timeBeforeExpiry: a.timeBeforeExpiry }))
    .sort((a, b) => a.action.localeCompare(b.action));
  assert.deepEqual(norm(set), norm(policy));
  assert.equal(set.expiresIn, "P2Y");
  assert.equal(set.id, `${strip(s.A.uri)}/keys/rsa2048/rotationpolicy`);
  const got = await s.A.kc.getKeyRotationPolicy("rsa2048");
  assert.deepEqual(norm(got), norm(policy));
  assert.equal(got.expiresIn, "P2Y");
  assert.ok(got.updatedOn instanceof Date, JSON.stringify(got));
  // Replace it: the policy is set as a whole.
  const only = await s.A.kc.updateKeyRotationPolicy("rsa2048", { lifetimeActions: [{ timeAfterCreate: "P30D", action: "Rotate" }], expiresIn: "P1Y" });
  assert.equal(only.lifetimeActions.length, 1);
  assert.equal((await s.A.kc.getKeyRotationPolicy("rsa2048")).lifetimeActions[0].timeAfterCreate, "P30D");
});

it("beginDeleteKey(...).pollUntilDone(): soft delete; getDeletedKey; listDeletedKeys; the key is gone", async () => {
  const k = await s.A.kc.createRsaKey("del");
  const poller = await s.A.kc.beginDeleteKey("del", poll);
  const d = await poller.pollUntilDone();
  assert.equal(d.name, "del");
  assert.equal(d.id, k.id, "a deleted key keeps its /keys/ kid");
  assert.equal(d.properties.recoveryId, `${strip(s.A.uri)}/deletedkeys/del`);
  assert.ok(d.properties.deletedOn instanceof Date, JSON.stringify(d.properties));
  assert.ok(Math.abs(d.properties.deletedOn.getTime() - Date.now()) < 120_000);
  const days = (d.properties.scheduledPurgeDate.getTime() - d.properties.deletedOn.getTime()) / 86400_000;
  assert.ok(Math.abs(days - 90) < 0.01, `scheduledPurgeDate is ${days} days after deletedOn, want 90`);
  await rejectsKv(s.A.kc.getKey("del"), 404, "KeyNotFound");
  const gd = await s.A.kc.getDeletedKey("del");
  assert.equal(gd.properties.recoveryId, d.properties.recoveryId);
  assert.equal(gd.id, k.id);
  assert.equal(gd.keyType, "RSA");
  const deleted = [];
  for await (const x of s.A.kc.listDeletedKeys()) deleted.push(x);
  const item = deleted.find((x) => x.name === "del");
  assert.ok(item, JSON.stringify(deleted.map((x) => x.name)));
  assert.equal(item.properties.recoveryId, d.properties.recoveryId);
  assert.ok(item.properties.scheduledPurgeDate instanceof Date);
  const live = [];
  for await (const p of s.A.kc.listPropertiesOfKeys()) live.push(p.name);
  assert.ok(!live.includes("del"), "a deleted key is still listed");
  const raw = await kvRaw(s.A.uri, "deletedkeys/del", { token: await vaultToken(s.A.cred) });
  assert.equal(raw.status, 200, raw.text);
  assert.equal(raw.body.recoveryId, `${strip(s.A.uri)}/deletedkeys/del`);
  assert.equal(raw.body.key.kid, k.id);
  for (const f of ["deletedDate", "scheduledPurgeDate"]) assert.ok(Number.isInteger(raw.body[f]), `${f}: ${raw.body[f]}`);
  const pages = [];
  for await (const page of s.A.kc.listDeletedKeys().byPage({ maxPageSize: 1 })) pages.push(page.length);
  assert.ok(pages.every((n) => n <= 1), JSON.stringify(pages));
  await rejectsKv(s.A.kc.getDeletedKey("rsa2048"), 404, "KeyNotFound");
  s.deleted = k;
});

it("beginRecoverDeletedKey(...).pollUntilDone(): the same key and version are back", async () => {
  const poller = await s.A.kc.beginRecoverDeletedKey("del", poll);
  const r = await poller.pollUntilDone();
  assert.equal(r.name, "del");
  const k = await s.A.kc.getKey("del");
  assert.equal(k.id, s.deleted.id);
  assert.deepEqual(Buffer.from(k.key.n), Buffer.from(s.deleted.key.n));
  await rejectsKv(s.A.kc.getDeletedKey("del"), 404, "KeyNotFound");
});

it("purgeDeletedKey: refused (403) under purge protection; allowed without it", async () => {
  await (await s.A.kc.beginDeleteKey("del", poll)).pollUntilDone();
  await rejectsKv(s.A.kc.purgeDeletedKey("del"), 403, "Forbidden");
  assert.equal((await s.A.kc.getDeletedKey("del")).name, "del", "the refused purge removed the key");

  const k = await s.B.kc.createRsaKey("gone");
  const d = await (await s.B.kc.beginDeleteKey("gone", poll)).pollUntilDone();
  const days = (d.properties.scheduledPurgeDate.getTime() - d.properties.deletedOn.getTime()) / 86400_000;
  assert.ok(Math.abs(days - 7) < 0.01, `scheduledPurgeDate ${days} days after deletion, want 7`);
  await s.B.kc.purgeDeletedKey("gone");
  await rejectsKv(s.B.kc.getDeletedKey("gone"), 404, "KeyNotFound");
  await rejectsKv(s.B.kc.getKey("gone"), 404, "KeyNotFound");
  // The name is free again, for a new key.
  const again = await s.B.kc.createRsaKey("gone");
  assert.notEqual(again.id, k.id);
});

it("importKey: RSA and EC JWKs with private parts made by node:crypto", async () => {
  for (const kind of ["RSA-2048", "RSA-3072", "P-256", "P-384", "P-521"]) {
    const pair = makeKeyPair(kind);
    recordPrivate(pair);
    const name = `imp-${kind.toLowerCase()}`;
    const k = await s.A.kc.importKey(name, pair.jwk, { tags: { origin: "node" } });
    assertKey(k, s.A, name, { kty: pair.kty });
    assert.deepEqual(k.properties.tags, { origin: "node" });
    if (pair.kty === "RSA") {
      assert.equal(b64u(k.key.n), b64u(pair.jwk.n));
      assert.equal(b64u(k.key.e), b64u(pair.jwk.e));
    } else {
      assert.equal(k.key.crv, pair.jwk.crv);
      assert.equal(b64u(k.key.x), b64u(pair.jwk.x));
      assert.equal(b64u(k.key.y), b64u(pair.jwk.y));
    }
  }
  // Import over an existing key adds a version.
  const pair = makeKeyPair("RSA-2048");
  recordPrivate(pair);
  const v2 = await s.A.kc.importKey("imp-rsa-2048", pair.jwk);
  assert.equal(b64u(v2.key.n), b64u(pair.jwk.n));
  const vs = [];
  for await (const p of s.A.kc.listPropertiesOfKeyVersions("imp-rsa-2048")) vs.push(p.id);
  assert.equal(vs.length, 2);
  // The imported private key really is the one in the vault: the vault signs, node verifies.
  const data = crypto.randomBytes(100);
  const sig = await cryptoClient(v2.id, s.A.cred).signData("RS256", data);
  assert.ok(crypto.verify("sha256", data, pair.publicKey, Buffer.from(sig.result)), "vault signature does not verify with the imported key");
});

it("backupKey / restoreKeyBackup: into the same vault after purge, and into another vault", async () => {
  const k1 = await s.B.kc.createRsaKey("bk");
  const k2 = await s.B.kc.rotateKey("bk");
  const blob = await s.B.kc.backupKey("bk");
  assert.ok(blob instanceof Uint8Array && blob.length > 100, `backup is ${blob?.length} bytes`);
  s.backup = blob;
  await (await s.B.kc.beginDeleteKey("bk", poll)).pollUntilDone();
  await s.B.kc.purgeDeletedKey("bk");
  const r = await s.B.kc.restoreKeyBackup(blob);
  assert.equal(r.name, "bk");
  assert.equal(r.id, k2.id, "restore changed the latest version");
  const vs = [];
  for await (const p of s.B.kc.listPropertiesOfKeyVersions("bk")) vs.push(p.id);
  assert.deepEqual(vs.sort(), [k1.id, k2.id].sort());
  assert.deepEqual(Buffer.from((await s.B.kc.getKey("bk", { version: k1.properties.version })).key.n), Buffer.from(k1.key.n));
  // Another vault of the same subscription: same name and versions, on that vault's origin.
  const other = await s.C.kc.restoreKeyBackup(blob);
  assertKid(other.id, s.C.uri, "bk");
  assert.equal(other.properties.version, k2.properties.version);
  assert.deepEqual(Buffer.from(other.key.n), Buffer.from(k2.key.n));
  // A corrupted backup is refused.
  const bad = Buffer.from(blob);
  bad[Math.floor(bad.length / 2)] ^= 0x55;
  await rejectsKv(s.A.kc.restoreKeyBackup(bad), 400, "BadParameter");
});

it("restoreKeyBackup over a live key of the same name is refused with 409 Conflict", async () => {
  const k = await s.A.kc.createRsaKey("live");
  const blob = await s.A.kc.backupKey("live");
  await rejectsKv(s.A.kc.restoreKeyBackup(blob), 409, "Conflict");
  assert.equal((await s.A.kc.getKey("live")).id, k.id);
});

it("getRandomBytes: the requested count, different each time", async () => {
  const a = await s.A.kc.getRandomBytes(32);
  const b = await s.A.kc.getRandomBytes(32);
  assert.ok(a instanceof Uint8Array);
  assert.equal(a.length, 32);
  assert.notDeepEqual(Buffer.from(a), Buffer.from(b));
  assert.equal((await s.A.kc.getRandomBytes(1)).length, 1);
  assert.equal((await s.A.kc.getRandomBytes(128)).length, 128);
});

it("HSM key types are refused with a clear 400 (no HSM backend)", async () => {
  for (const [what, run] of [
    ["RSA-HSM", () => s.A.kc.createRsaKey("hsm-rsa", { hsm: true })],
    ["EC-HSM", () => s.A.kc.createEcKey("hsm-ec", { curve: "P-256", hsm: true })],
    ["import Hsm:true", () => s.A.kc.importKey("hsm-imp", makeKeyPair("RSA-2048").jwk, { hardwareProtected: true })],
  ]) {
    await assert.rejects(run(), (e) => {
      assert.equal(e.statusCode, 400, `${what}: ${e.statusCode} ${e.code} ${e.message}`);
      assert.match(String(e.message), /hsm/i, `${what}: the message should say HSM keys are not available: ${e.message}`);
      return true;
    });
  }
  await rejectsKv(s.A.kc.getKey("hsm-rsa"), 404, "KeyNotFound");
});

it("serviceVersion 7.5 and 7.6 work too (wire reference B.2)", async () => {
  for (const serviceVersion of ["7.5", "7.6"]) {
    const kc = keyClient(s.A.uri, s.A.cred, { serviceVersion });
    assert.equal((await kc.getKey("rsa2048")).name, "rsa2048");
  }
});
