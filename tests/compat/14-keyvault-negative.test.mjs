// SPDX-License-Identifier: Apache-2.0
// Negative tests of the Key Vault data plane, each with the exact status and code of wire
// reference B.5: the 401 challenge before any routing or validation, tokens of the wrong tenant or
// audience, RBAC (no role, the data actions of each built-in role, key scope), disabled,
// expired and not-yet-valid keys, key_ops, wrong algorithm, bad base64url, unknown key or version,
// purge under protection, create over a soft-deleted name, oversized and malformed bodies, and the
// api-version query parameter. Raw HTTPS where the SDK would stop the request locally.
import assert from "node:assert/strict";
import crypto from "node:crypto";

import { ARM, AUTHORITY, GRAPH_SCOPE, VAULT_RESOURCE, customer, getToken, isv, isvCred, uniq } from "./lib.mjs";
import {
  KV_API, KV_ROLE, assertChallenge, assertKvError, assignRole, b64u, cryptoClient, customerPrincipal,
  customerVault, keyClient, kvRaw, makeKeyPair, prepare, publicKeyOf, rejectsKv, vaultToken,
} from "./kvlib.mjs";

const tag = uniq();
const s = {};
const poll = { intervalInMs: 100 };
const oaep256 = (k, data) => crypto.publicEncrypt({ key: publicKeyOf(k), oaepHash: "sha256" }, data);
const post = (path, body, token = s.token) => kvRaw(s.V.uri, path, { method: "POST", token, body });
const ver = (k) => `keys/${k.name}/${k.properties.version}`;

const { it } = await prepare("customer vault with purge protection, Crypto Officer, keys, a second principal", async () => {
  s.V = await customerVault(tag, { purgeProtection: true, prefix: "kvn" });
  s.rsa = await s.V.kc.createRsaKey("rsa");
  s.ec = await s.V.kc.createEcKey("ec", { curve: "P-256" });
  s.token = await vaultToken(s.V.cred);
  s.reader = await customerPrincipal(`kv-reader-${tag}`);
});

// ---- authentication ----

it("no token: 401 challenge naming the vault's tenant, before any routing or validation", async () => {
  const cases = [
    ["POST", "keys/new-key/create", ""], // the SDK's probe: no body, Content-Length 0
    ["GET", "keys/does-not-exist/", undefined],
    ["GET", `keys/rsa/${"0".repeat(32)}`, undefined],
    ["POST", "keys/rsa//unwrapkey", ""],
    ["POST", "keys/rsa//unwrapkey", "{not json"],
    ["GET", "keys", undefined],
    ["GET", "deletedkeys", undefined],
    ["DELETE", "keys/rsa", undefined],
    ["DELETE", "deletedkeys/rsa", undefined],
    ["PUT", "keys/imp", "{}"],
    ["POST", "rng", ""],
    ["GET", "no/such/route", undefined],
    ["GET", "secrets/x", undefined],
  ];
  for (const [method, path, body] of cases) {
    const r = await kvRaw(s.V.uri, path, { method, body, query: `api%2Dversion=${KV_API}`, headers: { "content-type": "application/json" } });
    try {
      assertChallenge(r, customer.tenantId);
    } catch (e) {
      e.message = `${method} /${path}: ${e.message}`;
      throw e;
    }
  }
});

it("a malformed or forged bearer token: 401 Unauthorized with the challenge", async () => {
  const [h, p, sig] = s.token.split(".");
  for (const [what, auth] of [
    ["garbage", "Bearer garbage"],
    ["three dots", "Bearer a.b.c"],
    ["tampered signature", `Bearer ${h}.${p}.${sig.slice(0, -4)}${sig.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`],
    ["no signature", `Bearer ${h}.${p}.`],
    ["Basic scheme", "Basic dXNlcjpwYXNz"],
  ]) {
    const r = await kvRaw(s.V.uri, "keys/rsa/", { headers: { authorization: auth } });
    const ctx = `${what}: ${r.status} ${r.text.slice(0, 300)}`;
    assert.equal(r.status, 401, ctx);
    assert.equal(r.body?.error?.code, "Unauthorized", ctx);
    assert.equal(r.headers["www-authenticate"], `Bearer authorization="${AUTHORITY}/${customer.tenantId}", resource="${VAULT_RESOURCE}"`, ctx);
  }
});

it("a token for another audience (ARM, Graph) of the right tenant: 401 Unauthorized", async () => {
  for (const scope of [`${ARM}/.default`, GRAPH_SCOPE]) {
    const t = await getToken(s.V.cred, scope);
    const r = await kvRaw(s.V.uri, "keys/rsa/", { token: t });
    const ctx = `${scope}: ${r.status} ${r.text.slice(0, 300)}`;
    assert.equal(r.status, 401, ctx);
    assert.equal(r.body?.error?.code, "Unauthorized", ctx);
    assert.ok(r.headers["www-authenticate"], ctx);
  }
});

it("a vault token of the ISV tenant on the customer's vault: 401 AKV10032 Invalid issuer", async () => {
  const t = await vaultToken(isvCred());
  const r = await kvRaw(s.V.uri, ver(s.rsa), { token: t });
  assertChallenge(r, customer.tenantId, "AKV10032");
  assert.ok(r.body.error.message.includes(customer.tenantId), `expected issuer named: ${r.body.error.message}`);
  assert.ok(r.body.error.message.includes(isv.tenantId), `found issuer named: ${r.body.error.message}`);
  // The SDK with the ISV's credential cannot even get a token for the customer's tenant.
  await assert.rejects(keyClient(s.V.uri, isvCred()).getKey("rsa"));
});

// ---- authorization (RBAC) ----

it("no role: 403 Forbidden / ForbiddenByRbac naming caller, action and vault", async () => {
  const t = await vaultToken(s.reader.cred);
  for (const [method, path, body, action] of [
    ["GET", "keys/rsa/", undefined, "Microsoft.KeyVault/vaults/keys/read"],
    ["POST", "keys/x/create", { kty: "RSA" }, "Microsoft.KeyVault/vaults/keys/create/action"],
    ["POST", `${ver(s.rsa)}/unwrapkey`, { alg: "RSA-OAEP-256", value: b64u(oaep256(s.rsa, Buffer.alloc(32))) }, "Microsoft.KeyVault/vaults/keys/unwrap/action"],
    ["POST", `${ver(s.rsa)}/sign`, { alg: "RS256", value: b64u(Buffer.alloc(32)) }, "Microsoft.KeyVault/vaults/keys/sign/action"],
    ["GET", "keys", undefined, "Microsoft.KeyVault/vaults/keys/read"],
  ]) {
    const r = await kvRaw(s.V.uri, path, { method, token: t, body });
    const err = assertKvError(r, 403, "Forbidden", "ForbiddenByRbac");
    const m = err.message.toLowerCase();
    assert.ok(m.includes(s.reader.oid.toLowerCase()), `${method} ${path}: caller oid missing: ${err.message}`);
    assert.ok(m.includes(action.toLowerCase()), `${method} ${path}: action ${action} missing: ${err.message}`);
    assert.ok(m.includes(s.V.id.toLowerCase()), `${method} ${path}: vault scope missing: ${err.message}`);
  }
  await rejectsKv(keyClient(s.V.uri, s.reader.cred).getKey("rsa"), 403, "Forbidden", "ForbiddenByRbac");
});

it("each built-in role grants its data actions and nothing more", async () => {
  const mx = await s.V.kc.createRsaKey("mx");
  const kc = keyClient(s.V.uri, s.reader.cred);
  const cc = cryptoClient(mx.id, s.reader.cred);
  const cek = crypto.randomBytes(32);
  const wrapped = oaep256(mx, cek);
  const digest = crypto.createHash("sha256").update("m").digest();
  const ops = {
    read: () => kc.getKey("mx"),
    unwrap: () => cc.unwrapKey("RSA-OAEP-256", wrapped),
    wrap: () => cc.wrapKey("RSA-OAEP-256", cek),
    sign: () => cc.sign("RS256", digest),
    update: () => kc.updateKeyProperties("mx", { tags: { by: "reader" } }),
    create: () => kc.createRsaKey(`r-${uniq()}`),
    rotate: () => kc.rotateKey("mx"),
    backup: () => kc.backupKey("mx"),
    policy: () => kc.getKeyRotationPolicy("mx"),
  };
  const table = [
    ["CryptoServiceEncryptionUser", ["read", "unwrap", "wrap"]],
    ["CryptoUser", ["read", "unwrap", "wrap", "sign", "update", "backup"]],
    ["CryptoOfficer", Object.keys(ops)],
    ["Administrator", Object.keys(ops)],
  ];
  for (const [role, allowed] of table) {
    const ra = await assignRole(s.V.a.authz, customer.subscriptionId, s.V.id, KV_ROLE[role], s.reader.oid);
    for (const [op, run] of Object.entries(ops)) {
      if (allowed.includes(op)) {
        try {
          await run();
        } catch (e) {
          assert.fail(`${role} must allow ${op}: ${e.statusCode} ${e.code} ${e.message}`);
        }
      } else {
        await assert.rejects(run(), (e) => {
          assert.equal(e.statusCode, 403, `${role} must refuse ${op}: ${e.statusCode} ${e.code} ${e.message}`);
          assert.equal(e.details?.error?.innerError?.code, "ForbiddenByRbac", `${role}/${op}: ${e.message}`);
          return true;
        });
      }
    }
    await s.V.a.authz.roleAssignments.delete(s.V.id, ra);
  }
  await rejectsKv(ops.read(), 403, "Forbidden", "ForbiddenByRbac");
});

it("a role at the key scope covers that key only", async () => {
  const scope = `${s.V.id}/keys/rsa`;
  const ra = await assignRole(s.V.a.authz, customer.subscriptionId, scope, KV_ROLE.CryptoUser, s.reader.oid);
  const kc = keyClient(s.V.uri, s.reader.cred);
  assert.equal((await kc.getKey("rsa")).name, "rsa");
  await rejectsKv(kc.getKey("ec"), 403, "Forbidden", "ForbiddenByRbac");
  await rejectsKv(kc.createRsaKey("rsa2"), 403, "Forbidden", "ForbiddenByRbac");
  const cek = crypto.randomBytes(32);
  assert.deepEqual(Buffer.from((await cryptoClient(s.rsa.id, s.reader.cred).unwrapKey("RSA-OAEP-256", oaep256(s.rsa, cek))).result), cek);
  await s.V.a.authz.roleAssignments.delete(scope, ra);
  await rejectsKv(kc.getKey("rsa"), 403, "Forbidden", "ForbiddenByRbac");
});

// ---- key state ----

it("disabled key: unwrap, decrypt, sign -> 403 Forbidden / KeyDisabled; wrap, encrypt, verify still work", async () => {
  const k = await s.V.kc.createRsaKey("dis");
  const cc = cryptoClient(k.id, s.V.cred);
  const cek = crypto.randomBytes(32);
  const digest = crypto.createHash("sha256").update("m").digest();
  const sig = (await cc.sign("RS256", digest)).result;
  await s.V.kc.updateKeyProperties("dis", { enabled: false });
  assert.equal((await s.V.kc.getKey("dis")).properties.enabled, false, "GET of a disabled key works");
  await rejectsKv(cc.unwrapKey("RSA-OAEP-256", oaep256(k, cek)), 403, "Forbidden", "KeyDisabled");
  await rejectsKv(cc.decrypt({ algorithm: "RSA-OAEP", ciphertext: oaep256(k, cek) }), 403, "Forbidden", "KeyDisabled");
  await rejectsKv(cc.sign("RS256", digest), 403, "Forbidden", "KeyDisabled");
  const r = await post(`${ver(k)}/unwrapkey`, { alg: "RSA-OAEP-256", value: b64u(oaep256(k, cek)) });
  const err = assertKvError(r, 403, "Forbidden", "KeyDisabled");
  assert.match(err.message, /disabled/i);
  // Reported real behaviour (wire reference B.5): these still succeed.
  const w = await cc.wrapKey("RSA-OAEP-256", cek); // remote
  assert.equal(w.result.length, 256);
  const e = await cc.encrypt({ algorithm: "RSA-OAEP-256", plaintext: cek }); // remote
  assert.equal(e.result.length, 256);
  assert.equal((await cc.verify("RS256", digest, sig)).result, true); // remote
  // Enabled again: unwrap works on what was wrapped while disabled.
  await s.V.kc.updateKeyProperties("dis", { enabled: true });
  assert.deepEqual(Buffer.from((await cc.unwrapKey("RSA-OAEP-256", w.result)).result), cek);
});

it("expired key (exp in the past) and not-yet-valid key (nbf in the future): wrap, encrypt, sign -> 403 Forbidden", async () => {
  // Raw REST: the SDK refuses these locally once it has read exp/nbf (wire reference B.6).
  // Azure docs, about-keys-details.md, key attributes: after exp a key "MUST NOT be used for
  // encryption of new data, wrapping of new keys, and signing"; before nbf, not at all except as
  // the next test says.
  const past = await s.V.kc.createRsaKey("expired");
  await s.V.kc.updateKeyProperties("expired", { expiresOn: new Date(Date.now() - 60_000) });
  const future = await s.V.kc.createRsaKey("notyet", { notBefore: new Date(Date.now() + 3600_000) });
  for (const k of [past, future]) {
    for (const [op, body] of [
      ["wrapkey", { alg: "RSA-OAEP-256", value: b64u(crypto.randomBytes(32)) }],
      ["encrypt", { alg: "RSA-OAEP-256", value: b64u(crypto.randomBytes(32)) }],
      ["sign", { alg: "RS256", value: b64u(crypto.randomBytes(32)) }],
    ]) {
      const r = await post(`${ver(k)}/${op}`, body);
      try {
        assertKvError(r, 403, "Forbidden");
      } catch (e) {
        e.message = `${k.name} ${op}: ${e.message}`;
        throw e;
      }
    }
  }
  // The SDK's own local check, for the record.
  await assert.rejects(cryptoClient(past.id, s.V.cred).wrapKey("RSA-OAEP", Buffer.alloc(32)), /expired/);
});

it("outside nbf/exp: unwrap and decrypt -> 403 Forbidden (KeyExpired / KeyNotYetValid); verify still works", async () => {
  // A deliberate difference from Azure, documented in docs/vault.md ("Key state"): Azure's
  // about-keys-details.md ("Date-time controlled operations") lets keys outside the nbf/exp window
  // decrypt, unwrap and verify; crosskey refuses decrypt and unwrap too, so that an expired
  // customer key makes the data it protects unreadable, like a disabled one. Verify stays open.
  for (const [name, inner] of [["expired", "KeyExpired"], ["notyet", "KeyNotYetValid"]]) {
    const k = await s.V.kc.getKey(name);
    const cek = crypto.randomBytes(32);
    assertKvError(await post(`${ver(k)}/unwrapkey`, { alg: "RSA-OAEP-256", value: b64u(oaep256(k, cek)) }), 403, "Forbidden", inner);
    assertKvError(await post(`${ver(k)}/decrypt`, { alg: "RSA-OAEP-256", value: b64u(oaep256(k, cek)) }), 403, "Forbidden", inner);
    const v = await post(`${ver(k)}/verify`, { alg: "RS256", digest: b64u(crypto.randomBytes(32)), value: b64u(crypto.randomBytes(256)) });
    assert.equal(v.status, 200, `${name} verify: ${v.text}`);
    assert.equal(v.body.value, false);
  }
  // Moving exp into the future makes the key usable again.
  await s.V.kc.updateKeyProperties("expired", { expiresOn: new Date(Date.now() + 86400_000) });
  const k = await s.V.kc.getKey("expired");
  const cek = crypto.randomBytes(32);
  const r = await post(`${ver(k)}/unwrapkey`, { alg: "RSA-OAEP-256", value: b64u(oaep256(k, cek)) });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Buffer.from(r.body.value, "base64url"), cek);
});

it("key_ops without unwrapKey: 403 Forbidden / KeyOperationForbidden (raw REST; the SDK checks locally)", async () => {
  const k = await s.V.kc.createKey("wraponly", "RSA", { keyOps: ["wrapKey", "encrypt", "verify"] });
  const cek = crypto.randomBytes(32);
  for (const [op, body, name] of [
    ["unwrapkey", { alg: "RSA-OAEP-256", value: b64u(oaep256(k, cek)) }, "unwrapKey"],
    ["decrypt", { alg: "RSA-OAEP-256", value: b64u(oaep256(k, cek)) }, "decrypt"],
    ["sign", { alg: "RS256", value: b64u(crypto.randomBytes(32)) }, "sign"],
  ]) {
    const err = assertKvError(await post(`${ver(k)}/${op}`, body), 403, "Forbidden", "KeyOperationForbidden");
    assert.ok(err.message.includes(name), `the message names the operation ${name}: ${err.message}`);
  }
  const w = await post(`${ver(k)}/wrapkey`, { alg: "RSA-OAEP-256", value: b64u(cek) });
  assert.equal(w.status, 200, w.text);
  // Adding unwrapKey to key_ops allows it.
  await s.V.kc.updateKeyProperties("wraponly", k.properties.version, { keyOps: ["wrapKey", "unwrapKey"] });
  const u = await post(`${ver(k)}/unwrapkey`, { alg: "RSA-OAEP-256", value: w.body.value });
  assert.equal(u.status, 200, u.text);
  assert.deepEqual(Buffer.from(u.body.value, "base64url"), cek);
  await assert.rejects(cryptoClient(k.id, s.V.cred).sign("RS256", crypto.randomBytes(32)), /not supported/);
});

// ---- bad input ----

it("wrong algorithm: 400 BadParameter", async () => {
  const cek = b64u(crypto.randomBytes(32));
  for (const [path, body] of [
    [`${ver(s.rsa)}/wrapkey`, { alg: "RSA-OAEP-512", value: cek }],
    [`${ver(s.rsa)}/wrapkey`, { alg: "A256KW", value: cek }],
    [`${ver(s.rsa)}/unwrapkey`, { alg: "ES256", value: cek }],
    [`${ver(s.rsa)}/sign`, { alg: "ES256", value: cek }],
    [`${ver(s.rsa)}/sign`, { alg: "HS256", value: cek }],
    [`${ver(s.ec)}/sign`, { alg: "RS256", value: cek }],
    [`${ver(s.ec)}/sign`, { alg: "ES384", value: b64u(crypto.randomBytes(48)) }],
    [`${ver(s.rsa)}/encrypt`, { alg: "", value: cek }],
  ]) {
    try {
      assertKvError(await post(path, body), 400, "BadParameter");
    } catch (e) {
      e.message = `${path} ${body.alg}: ${e.message}`;
      throw e;
    }
  }
  // Through the SDK: the RSA provider does not know ES256, so the request goes remote.
  await rejectsKv(cryptoClient(s.rsa.id, s.V.cred).sign("ES256", crypto.randomBytes(32)), 400, "BadParameter");
  await rejectsKv(cryptoClient(s.ec.id, s.V.cred).sign("ES512", crypto.randomBytes(64)), 400, "BadParameter");
});

it("bad base64url values, wrong digest or ciphertext lengths: 400 BadParameter", async () => {
  for (const [op, body] of [
    ["unwrapkey", { alg: "RSA-OAEP", value: "!!!not base64!!!" }],
    ["unwrapkey", { alg: "RSA-OAEP", value: "a" }],
    ["unwrapkey", { alg: "RSA-OAEP", value: 12345 }],
    ["unwrapkey", { alg: "RSA-OAEP", value: b64u(crypto.randomBytes(10)) }],
    ["unwrapkey", { alg: "RSA-OAEP", value: b64u(crypto.randomBytes(256)) }],
    ["unwrapkey", { alg: "RSA-OAEP" }],
    ["decrypt", { alg: "RSA-OAEP", value: "%%%" }],
    ["sign", { alg: "RS256", value: "@@" }],
    ["sign", { alg: "RS256", value: b64u(crypto.randomBytes(20)) }],
    ["verify", { alg: "RS256", digest: "***", value: b64u(crypto.randomBytes(256)) }],
  ]) {
    try {
      assertKvError(await post(`${ver(s.rsa)}/${op}`, body), 400, "BadParameter");
    } catch (e) {
      e.message = `${op} ${JSON.stringify(body).slice(0, 80)}: ${e.message}`;
      throw e;
    }
  }
  // The SDK's own unwrap of garbage (256 random bytes are no valid OAEP block).
  await rejectsKv(cryptoClient(s.rsa.id, s.V.cred).unwrapKey("RSA-OAEP", crypto.randomBytes(256)), 400, "BadParameter");
});

it("bad create / import parameters: 400 BadParameter", async () => {
  for (const [path, method, body] of [
    ["keys/k1/create", "POST", { kty: "XYZ" }],
    ["keys/k1/create", "POST", {}],
    ["keys/k1/create", "POST", { kty: "RSA", key_size: 1024 }],
    ["keys/k1/create", "POST", { kty: "RSA", key_size: 2049 }],
    ["keys/k1/create", "POST", { kty: "EC", crv: "P-192" }],
    ["keys/k1/create", "POST", { kty: "RSA", key_ops: ["fly"] }],
    ["keys/bad_name/create", "POST", { kty: "RSA" }],
    ["keys/k1", "PUT", { key: { kty: "RSA", n: "AQAB" } }],
    ["keys/k1", "PUT", { key: { kty: "RSA", n: b64u(crypto.randomBytes(256)), e: "AQAB", d: "!!" } }],
    ["keys/k1", "PUT", {}],
    ["rng", "POST", { count: 0 }],
    ["rng", "POST", { count: 1025 }],
  ]) {
    try {
      assertKvError(await kvRaw(s.V.uri, path, { method, token: s.token, body }), 400, "BadParameter");
    } catch (e) {
      e.message = `${method} ${path} ${JSON.stringify(body).slice(0, 80)}: ${e.message}`;
      throw e;
    }
  }
  await rejectsKv(s.V.kc.getKey("k1"), 404, "KeyNotFound");
  // oct keys belong to Managed HSM, not to vaults.
  await assert.rejects(s.V.kc.createOctKey("oct1"), (e) => e.statusCode === 400);
});

it("unknown key, unknown version, unknown deleted key: 404 KeyNotFound", async () => {
  await rejectsKv(s.V.kc.getKey(`nope-${tag}`), 404, "KeyNotFound");
  await rejectsKv(s.V.kc.getKey("rsa", { version: crypto.randomBytes(16).toString("hex") }), 404, "KeyNotFound");
  await rejectsKv(s.V.kc.getDeletedKey("rsa"), 404, "KeyNotFound");
  await rejectsKv(s.V.kc.updateKeyProperties(`nope-${tag}`, { enabled: false }), 404, "KeyNotFound");
  await rejectsKv(s.V.kc.beginDeleteKey(`nope-${tag}`), 404, "KeyNotFound");
  await rejectsKv(s.V.kc.getKeyRotationPolicy(`nope-${tag}`), 404, "KeyNotFound");
  const value = b64u(oaep256(s.rsa, Buffer.alloc(32)));
  const err = assertKvError(await post(`keys/nope-${tag}//unwrapkey`, { alg: "RSA-OAEP-256", value }), 404, "KeyNotFound");
  assert.ok(err.message.includes(`nope-${tag}`), err.message);
  assertKvError(await post(`keys/rsa/${"f".repeat(32)}/unwrapkey`, { alg: "RSA-OAEP-256", value }), 404, "KeyNotFound");
  assertKvError(await kvRaw(s.V.uri, `keys/rsa/${s.ec.properties.version}`, { token: s.token }), 404, "KeyNotFound");
});

it("purge under purge protection: 403 Forbidden; create or import over a soft-deleted name: 409 Conflict / ObjectIsDeletedButRecoverable", async () => {
  await s.V.kc.createRsaKey("sd");
  await (await s.V.kc.beginDeleteKey("sd", poll)).pollUntilDone();
  await rejectsKv(s.V.kc.purgeDeletedKey("sd"), 403, "Forbidden");
  const err = assertKvError(await kvRaw(s.V.uri, "deletedkeys/sd", { method: "DELETE", token: s.token }), 403, "Forbidden");
  assert.match(err.message, /purge protection/i);
  await rejectsKv(s.V.kc.createRsaKey("sd"), 409, "Conflict", "ObjectIsDeletedButRecoverable");
  await rejectsKv(s.V.kc.importKey("sd", makeKeyPair("P-256").jwk), 409, "Conflict", "ObjectIsDeletedButRecoverable");
  // Recovering a live key, or deleting a deleted one, is not found.
  await rejectsKv(s.V.kc.getKey("sd"), 404, "KeyNotFound");
  assertKvError(await kvRaw(s.V.uri, "keys/sd", { method: "DELETE", token: s.token }), 404, "KeyNotFound");
  assertKvError(await kvRaw(s.V.uri, "deletedkeys/rsa/recover", { method: "POST", token: s.token }), 404, "KeyNotFound");
});

it("oversized body (> 1 MiB): 413", async () => {
  const big = JSON.stringify({ alg: "RSA-OAEP", value: "A".repeat(1536 * 1024) });
  const r = await post(`${ver(s.rsa)}/unwrapkey`, big);
  assert.equal(r.status, 413, `${r.status} ${r.text.slice(0, 300)}`);
  if (r.body) assert.ok(r.body.error?.code, r.text.slice(0, 300));
  // The vault still answers on a fresh connection.
  assert.equal((await kvRaw(s.V.uri, "keys/rsa/", { token: s.token })).status, 200);
});

it("malformed JSON, or JSON that is not an object: 400 BadParameter", async () => {
  for (const [method, path, body] of [
    ["POST", "keys/mj/create", '{"kty":"RSA"'],
    ["POST", "keys/mj/create", "[]"],
    ["POST", "keys/mj/create", '"RSA"'],
    ["POST", `${ver(s.rsa)}/unwrapkey`, "not json"],
    ["POST", `${ver(s.rsa)}/unwrapkey`, '{"alg":"RSA-OAEP","value":"abc",}'],
    ["PATCH", "keys/rsa/", "{"],
    ["PUT", "keys/rsa/rotationpolicy", "{]"],
    ["POST", "keys/restore", "{"],
  ]) {
    try {
      assertKvError(await kvRaw(s.V.uri, path, { method, token: s.token, body }), 400, "BadParameter");
    } catch (e) {
      e.message = `${method} ${path} ${body}: ${e.message}`;
      throw e;
    }
  }
  await rejectsKv(s.V.kc.getKey("mj"), 404, "KeyNotFound");
});

it("invalid rotation policies: 400 BadParameter", async () => {
  for (const policy of [
    { lifetimeActions: [{ timeAfterCreate: "soon", action: "Rotate" }] },
    { lifetimeActions: [{ timeAfterCreate: "P90D", action: "Explode" }] },
  ]) {
    await assert.rejects(s.V.kc.updateKeyRotationPolicy("rsa", policy), (e) => {
      assert.equal(e.statusCode, 400, `${JSON.stringify(policy)}: ${e.statusCode} ${e.code} ${e.message}`);
      assert.equal(e.code, "BadParameter", e.message);
      return true;
    });
  }
});

it("api-version: the percent-encoded name works; missing or empty -> 400", async () => {
  for (const q of [`api%2Dversion=${KV_API}`, `api-version=${KV_API}`, "api-version=7.4", "api-version=7.6", `api%2dversion=${KV_API}`]) {
    const r = await kvRaw(s.V.uri, "keys/rsa/", { token: s.token, query: q });
    assert.equal(r.status, 200, `?${q}: ${r.status} ${r.text.slice(0, 200)}`);
    assert.equal(r.body.key.kid, s.rsa.id);
  }
  // Unknown query parameters are ignored.
  assert.equal((await kvRaw(s.V.uri, "keys/rsa/", { token: s.token, query: `api-version=${KV_API}&foo=bar` })).status, 200);
  await badApiVersions([["missing", ""], ["empty", "api-version="]]);
});

it("api-version that is not a Key Vault version (1999-01-01, x): 400", async () => {
  // Key Vault answers 400 BadParameter "The specified version (...) is not recognized".
  await badApiVersions([["unknown", "api-version=1999-01-01"], ["garbage", "api-version=x"]]);
});

async function badApiVersions(cases) {
  const problems = [];
  for (const [what, query] of cases) {
    const r = await kvRaw(s.V.uri, "keys/rsa/", { token: s.token, query });
    if (r.status !== 400 || !r.body?.error?.code || !/api-version|version/i.test(r.body.error.message ?? ""))
      problems.push(`${what} api-version (?${query}): want 400 naming the api-version, got ${r.status} ${r.text.slice(0, 120)}`);
  }
  assert.deepEqual(problems, []);
}
