// SPDX-License-Identifier: Apache-2.0
// Negative tests of the resource side (ARM and Graph): a token of tenant A on tenant B's
// subscription, missing and forged bearer tokens (garbage, alg none, HS256 keyed with the public
// key, a foreign key, tampered), wrong audience, malformed JSON, missing api-version, oversized
// bodies. Each checks the exact ARM / Graph error, and that no state changed.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import test from "node:test";

import { SignJWT, exportSPKI, generateKeyPair, importJWK } from "jose";

import {
  ARM, AUTHORITY, GRAPH, GRAPH_SCOPE, arm, customer, customerCred, decodeJwt, decodeProtectedHeader,
  getToken, graph, isv, isvCred, raw, rejectsArm, uniq,
} from "./lib.mjs";

const tag = uniq();
const s = {};
const rgUrl = (sub, rg, v = "2025-04-01") =>
  `${ARM}/subscriptions/${sub}/resourcegroups/${rg}${v ? `?api-version=${v}` : ""}`;
const b64u = (x) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");

function assertArmError(r, status, code) {
  const ctx = `${r.status} ${r.text.slice(0, 400)}`;
  assert.equal(r.status, status, ctx);
  assert.match(String(r.headers["content-type"]), /^application\/json/i, ctx);
  assert.equal(r.body?.error?.code, code, ctx);
  assert.ok(typeof r.body.error.message === "string" && r.body.error.message.length > 0, ctx);
  if (status === 401) {
    const w = String(r.headers["www-authenticate"] ?? "");
    assert.match(w, /^Bearer /, `401 without WWW-Authenticate: ${ctx}`);
    assert.match(w, /authorization_uri="[^"]+"/, w);
    assert.doesNotMatch(w, /claims=/, "a claims challenge would make the SDK loop");
  }
}

test("setup: tokens and a resource group", async () => {
  s.isvArm = await getToken(isvCred(), `${ARM}/.default`);
  s.custArm = await getToken(customerCred(), `${ARM}/.default`);
  s.rg = `rg-neg-${tag}`;
  await arm(customerCred(), customer.subscriptionId).resources.resourceGroups.createOrUpdate(s.rg, { location: "eastus" });
  const r = await raw(rgUrl(customer.subscriptionId, s.rg), { headers: { authorization: `Bearer ${s.custArm}` } });
  assert.equal(r.status, 200, r.text);
});

test("tenant A's token on tenant B's subscription -> 401 InvalidAuthenticationTokenTenant", async () => {
  const asIsv = arm(isvCred(), customer.subscriptionId);
  await rejectsArm(asIsv.resources.resourceGroups.get(s.rg), 401, "InvalidAuthenticationTokenTenant");
  await rejectsArm(asIsv.resources.resourceGroups.createOrUpdate(`evil-${tag}`, { location: "eastus" }), 401, "InvalidAuthenticationTokenTenant");
  const r = await raw(rgUrl(customer.subscriptionId, s.rg), { headers: { authorization: `Bearer ${s.isvArm}` } });
  assertArmError(r, 401, "InvalidAuthenticationTokenTenant");
  // nothing was created
  await rejectsArm(arm(customerCred(), customer.subscriptionId).resources.resourceGroups.get(`evil-${tag}`), 404, "ResourceGroupNotFound");
});

test("no Authorization header -> 401 AuthenticationFailed with WWW-Authenticate", async () => {
  assertArmError(await raw(rgUrl(customer.subscriptionId, s.rg)), 401, "AuthenticationFailed");
});

test("malformed and forged bearer tokens -> 401 InvalidAuthenticationToken", async () => {
  const claims = decodeJwt(s.custArm);
  const h = decodeProtectedHeader(s.custArm);
  const [hh, pp, sig] = s.custArm.split(".");
  const jwk = (await raw(`${AUTHORITY}/${customer.tenantId}/discovery/v2.0/keys`)).body.keys.find((k) => k.kid === h.kid);
  assert.ok(jwk, "signing key not in the JWKS");
  const pem = await exportSPKI(await importJWK({ kty: "RSA", n: jwk.n, e: jwk.e }, "RS256"));
  const { privateKey } = await generateKeyPair("RS256");
  const i = Math.floor(sig.length / 2);
  const forged = {
    garbage: "abc",
    "three dots": "a.b.c",
    "alg none": `${b64u({ alg: "none", typ: "JWT" })}.${pp}.`,
    "HS256 with the public key": await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: h.kid }).sign(new TextEncoder().encode(pem)),
    "foreign key, real kid": await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: h.kid }).sign(privateKey),
    "tampered signature": `${hh}.${pp}.${sig.slice(0, i)}${sig[i] === "A" ? "B" : "A"}${sig.slice(i + 1)}`,
    "tampered payload": `${hh}.${b64u({ ...claims, oid: crypto.randomUUID() })}.${sig}`,
    "no signature": `${hh}.${pp}.`,
    "unknown alg": `${b64u({ ...h, alg: "RS1" })}.${pp}.${sig}`,
  };
  for (const [what, tok] of Object.entries(forged)) {
    const r = await raw(rgUrl(customer.subscriptionId, s.rg), { headers: { authorization: `Bearer ${tok}` } });
    assert.equal(r.status, 401, `${what}: ${r.status} ${r.text}`);
    assertArmError(r, 401, "InvalidAuthenticationToken");
  }
  for (const hdr of ["Bearer", "Bearer ", "Basic dXNlcjpwdw==", `bearer  ${s.custArm} x`]) {
    const r = await raw(rgUrl(customer.subscriptionId, s.rg), { headers: { authorization: hdr } });
    assert.equal(r.status, 401, `${JSON.stringify(hdr)}: ${r.status} ${r.text}`);
  }
});

test("token for another audience -> 401 InvalidAuthenticationTokenAudience", async () => {
  const vaultTok = await getToken(customerCred(), "https://vault.azure.net/.default");
  assertArmError(
    await raw(rgUrl(customer.subscriptionId, s.rg), { headers: { authorization: `Bearer ${vaultTok}` } }),
    401,
    "InvalidAuthenticationTokenAudience",
  );
  // the audiences ARM does accept
  for (const scope of ["https://management.azure.com/.default", "https://management.core.windows.net//.default"]) {
    const t = await getToken(customerCred(), scope);
    const r = await raw(rgUrl(customer.subscriptionId, s.rg), { headers: { authorization: `Bearer ${t}` } });
    assert.equal(r.status, 200, `${scope}: ${r.text}`);
  }
});

test("ARM: malformed JSON, missing api-version, unknown subscription, oversized body", async () => {
  const auth = { authorization: `Bearer ${s.custArm}`, "content-type": "application/json" };
  const url = rgUrl(customer.subscriptionId, `rg-bad-${tag}`);
  for (const body of ["{", "[]", "nul", '{"location":', '{"location":12}', "\u0000"]) {
    const r = await raw(url, { method: "PUT", headers: auth, body });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.match(r.body?.error?.code ?? "", /^(InvalidRequestContent|BadRequest|InvalidRequestFormat|LocationRequired)$/, r.text);
  }
  const deep = `${"[".repeat(100000)}${"]".repeat(100000)}`;
  const rd = await raw(url, { method: "PUT", headers: auth, body: `{"location":"eastus","tags":${deep}}` });
  assert.ok(rd.status === 400 || rd.status === 413, `deep JSON: ${rd.status} ${rd.text.slice(0, 200)}`);
  assertArmError(await raw(rgUrl(customer.subscriptionId, s.rg, ""), { headers: auth }), 400, "MissingApiVersionParameter");
  const big = await raw(url, { method: "PUT", headers: auth, body: JSON.stringify({ location: "eastus", tags: { x: "a".repeat(8 << 20) } }) });
  assert.equal(big.status, 413, `${big.status} ${big.text.slice(0, 200)}`);
  const r404 = await raw(rgUrl(crypto.randomUUID(), s.rg), { headers: auth });
  assert.ok([401, 403, 404].includes(r404.status), r404.text);
  // nothing was created by any of the bad PUTs
  await rejectsArm(arm(customerCred(), customer.subscriptionId).resources.resourceGroups.get(`rg-bad-${tag}`), 404, "ResourceGroupNotFound");
});

test("ARM: the //subscriptions shape the SDKs send works", async () => {
  const r = await raw(`${ARM}//subscriptions/${customer.subscriptionId}/resourceGroups/${s.rg}?api-version=2025-04-01`, {
    headers: { authorization: `Bearer ${s.custArm}` },
  });
  assert.equal(r.status, 200, r.text);
});

test("Graph: no token, another tenant's app, malformed JSON, oversized body", async () => {
  const gt = await getToken(customerCred(), GRAPH_SCOPE);
  const auth = { authorization: `Bearer ${gt}`, "content-type": "application/json" };
  const before = (await graph(customerCred()).api("/applications").get()).value.length;

  const anon = await raw(`${GRAPH}/v1.0/applications`);
  assert.equal(anon.status, 401, anon.text);
  assert.ok(anon.body?.error?.code, anon.text);

  for (const body of ["{", "[]", '{"displayName":', '{"displayName":5}', "\u0000", '{"signInAudience":"Nope","displayName":"x"}']) {
    const r = await raw(`${GRAPH}/v1.0/applications`, { method: "POST", headers: auth, body });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    // Graph answers BadRequest for an unreadable payload, Request_BadRequest for invalid values
    assert.match(r.body?.error?.code ?? "", /^(BadRequest|Request_BadRequest)$/, r.text);
  }
  const big = await raw(`${GRAPH}/v1.0/applications`, {
    method: "POST", headers: auth, body: JSON.stringify({ displayName: "a".repeat(8 << 20) }),
  });
  assert.equal(big.status, 413, `${big.status} ${big.text.slice(0, 200)}`);

  // A token of the ISV tenant cannot see or touch the customer's objects.
  const isvApp = await graph(isvCred()).api("/applications").post({ displayName: `mine-${tag}`, signInAudience: "AzureADMyOrg" });
  const r = await raw(`${GRAPH}/v1.0/applications/${isvApp.id}`, { headers: auth });
  assert.equal(r.status, 404, `customer reads the ISV's app: ${r.text}`);
  const d = await raw(`${GRAPH}/v1.0/applications/${isvApp.id}`, { method: "DELETE", headers: auth });
  assert.equal(d.status, 404, `customer deletes the ISV's app: ${d.text}`);
  assert.equal((await graph(isvCred()).api(`/applications/${isvApp.id}`).get()).id, isvApp.id);

  // An ARM token is not a Graph token.
  const wrongAud = await raw(`${GRAPH}/v1.0/applications`, { headers: { authorization: `Bearer ${s.custArm}` } });
  assert.equal(wrongAud.status, 401, wrongAud.text);

  const after = (await graph(customerCred()).api("/applications").get()).value.length;
  assert.equal(after, before, "a rejected request changed the directory");
});
