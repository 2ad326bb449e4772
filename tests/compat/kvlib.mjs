// SPDX-License-Identifier: Apache-2.0
// Shared set-up for the Key Vault files of the compatibility suite (1*-keyvault*.test.mjs):
// vaults through @azure/arm-keyvault, role assignments through @azure/arm-authorization, keys
// through @azure/keyvault-keys (KeyClient, and CryptographyClient built from a key id so that the
// operations go remote), and raw HTTPS for the requests the SDKs never send.
// Only documented client options point the SDKs at crosskeyd: `endpoint` on the ARM clients,
// `disableChallengeResourceVerification` on the Key Vault clients (wire reference B.1 step 4).
import assert from "node:assert/strict";
import crypto from "node:crypto";
import test from "node:test";

import { ClientSecretCredential } from "@azure/identity";
import { KeyVaultManagementClient } from "@azure/arm-keyvault";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

import {
  ARM, AUTHORITY, VAULT_RESOURCE, arm, credOptions, customer, customerCred, decodeJwt, getToken,
  graph, raw, record, recording, roleDefinitionId, secretCredential,
} from "./lib.mjs";

/** Built-in Key Vault roles (wire reference C.6); the GUIDs are the same in every tenant. */
export const KV_ROLE = {
  Administrator: "00482a5a-887f-4fb3-b363-3b7fe8e74483",
  CryptoOfficer: "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
  CryptoUser: "12338af0-0e69-4776-bea7-57ae8d297424",
  CryptoServiceEncryptionUser: "e147488a-f6f5-4113-8e2d-b22465e65bf6",
};
/** What @azure/keyvault-keys 4.10.2 sends by default (wire reference B.2). */
export const KV_API = "2025-07-01";
export const VAULT_TYPE = "Microsoft.KeyVault/vaults";
export const LOCATION = "eastus";

const retryOptions = { maxRetries: 1, retryDelayInMs: 200 };
export const kvOptions = { disableChallengeResourceVerification: true, retryOptions };

/** Strips trailing slashes. */
export const strip = (u) => String(u).replace(/\/+$/, "");
export const b64u = (b) => Buffer.from(b).toString("base64url");
export const fromB64u = (s) => new Uint8Array(Buffer.from(s, "base64url"));
export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// ---------------------------------------------------------------------------------------------
// Gating: every file creates its vault(s) first. Until the vault service exists that fails, and
// the file should say so once, clearly, instead of failing each test with a confusing error.

/** One line for any error an SDK or assert throws: status, code, message and request. */
export function describeError(e) {
  if (!e || typeof e !== "object") return String(e);
  const parts = [];
  if (e.statusCode !== undefined) parts.push(`HTTP ${e.statusCode}`);
  if (e.code !== undefined) parts.push(`code ${e.code}`);
  const inner = e.details?.error?.innerError?.code;
  if (inner) parts.push(`innererror ${inner}`);
  parts.push(String(e.message ?? e).split("\n")[0].slice(0, 400));
  if (e.request?.url) parts.push(`(${e.request.method} ${e.request.url})`);
  return parts.join(" ");
}

/**
 * Runs the file's set-up before any test. On failure it registers one failing test that names the
 * set-up step and the server's answer, and every test of the file is skipped.
 * Returns {ok, it}: `it(name, fn)` or `it(name, options, fn)` registers a test that is skipped
 * when the set-up failed.
 */
export async function prepare(what, fn) {
  let ok = true;
  try {
    await fn();
  } catch (e) {
    ok = false;
    const msg = `set-up failed (${what}): ${describeError(e)}`;
    test(`set-up: ${what}`, () => {
      const err = new Error(msg);
      err.cause = e;
      throw err;
    });
  }
  const skip = ok ? false : `set-up failed: ${what}`;
  const it = (name, opts, fn2) => {
    if (typeof opts === "function") [opts, fn2] = [{}, opts];
    return test(name, { ...opts, skip: skip || opts.skip }, fn2);
  };
  return { ok, it };
}

// ---------------------------------------------------------------------------------------------
// Management plane.

/** KeyVaultManagementClient (arm-keyvault 5, modular) on crosskey's ARM endpoint. */
export function kvArm(cred, subscriptionId) {
  return new KeyVaultManagementClient(recording(cred), subscriptionId, { endpoint: ARM, retryOptions });
}

/** ARM resource id of a vault, as Azure spells it. */
export const vaultId = (sub, rg, name) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.KeyVault/vaults/${name}`;

/** Vault names: 3-24 characters, letters, digits and hyphens, starting with a letter. */
export const vaultName = (prefix) => `${prefix}-${crypto.randomBytes(4).toString("hex")}`.slice(0, 24);

/** The request body of wire reference C.5. */
export function vaultBody(tenantId, { purgeProtection = true, retentionDays = 90, rbac = true, tags } = {}) {
  const properties = {
    tenantId,
    sku: { family: "A", name: "standard" },
    enableSoftDelete: true,
    softDeleteRetentionInDays: retentionDays,
    enableRbacAuthorization: rbac,
  };
  // Azure refuses enablePurgeProtection:false on create; "without purge protection" omits it.
  if (purgeProtection !== undefined && purgeProtection !== false) properties.enablePurgeProtection = purgeProtection;
  const body = { location: LOCATION, properties };
  if (tags) body.tags = tags;
  return body;
}

/** PUT a vault through the arm-keyvault poller; returns the Vault. */
export async function createVault(kvm, rg, name, body) {
  return kvm.vaults.beginCreateOrUpdateAndWait(rg, name, body, { updateIntervalInMs: 200 });
}

/** Role assignment at a scope (vault id or `{vault id}/keys/{name}`); returns its name. */
export async function assignRole(authz, sub, scope, roleGuid, principalId, principalType = "ServicePrincipal") {
  const name = crypto.randomUUID();
  const ra = await authz.roleAssignments.create(scope, name, {
    roleDefinitionId: roleDefinitionId(sub, roleGuid),
    principalId,
    principalType,
  });
  assert.equal(ra.name, name);
  return name;
}

/** Object id (oid) of a credential's principal, read from an ARM token. */
export async function oidOf(cred) {
  return decodeJwt(await getToken(cred, `${ARM}/.default`)).oid;
}

/**
 * The customer's usual starting point: resource group, vault (RBAC), and the customer admin
 * holding `role` at the vault scope (none when role is null). Returns everything a test needs.
 */
export async function customerVault(tag, { purgeProtection = true, retentionDays = 90, role = KV_ROLE.CryptoOfficer, prefix = "kv" } = {}) {
  const cred = customerCred();
  const a = arm(cred, customer.subscriptionId);
  const kvm = kvArm(cred, customer.subscriptionId);
  const rg = `rg-${prefix}-${tag}`;
  await a.resources.resourceGroups.createOrUpdate(rg, { location: LOCATION });
  const name = vaultName(prefix);
  const vault = await createVault(kvm, rg, name, vaultBody(customer.tenantId, { purgeProtection, retentionDays }));
  assert.ok(vault?.properties?.vaultUri, `vault has no properties.vaultUri: ${JSON.stringify(vault)}`);
  const uri = vault.properties.vaultUri;
  const id = vault.id ?? vaultId(customer.subscriptionId, rg, name);
  const adminOid = await oidOf(cred);
  if (role) await assignRole(a.authz, customer.subscriptionId, id, role, adminOid);
  return { cred, a, kvm, rg, name, vault, uri, id, adminOid, kc: keyClient(uri, cred) };
}

/**
 * customerVault for any tenant of lib.mjs (isv or customer): resource group, vault (RBAC) in that
 * tenant's subscription, and its admin holding `role` at the vault scope.
 */
export async function tenantVault(tenant, tag, { purgeProtection = true, retentionDays = 90, role = KV_ROLE.CryptoOfficer, prefix = "kv" } = {}) {
  const cred = secretCredential(tenant);
  const a = arm(cred, tenant.subscriptionId);
  const kvm = kvArm(cred, tenant.subscriptionId);
  const rg = `rg-${prefix}-${tag}`;
  await a.resources.resourceGroups.createOrUpdate(rg, { location: LOCATION });
  const name = vaultName(prefix);
  const vault = await createVault(kvm, rg, name, vaultBody(tenant.tenantId, { purgeProtection, retentionDays }));
  assert.ok(vault?.properties?.vaultUri, `vault has no properties.vaultUri: ${JSON.stringify(vault)}`);
  const uri = vault.properties.vaultUri;
  const id = vault.id ?? vaultId(tenant.subscriptionId, rg, name);
  const adminOid = await oidOf(cred);
  if (role) await assignRole(a.authz, tenant.subscriptionId, id, role, adminOid);
  return { cred, a, kvm, rg, name, vault, uri, id, adminOid, kc: keyClient(uri, cred) };
}

// ---------------------------------------------------------------------------------------------
// Data plane.

export const keyClient = (vaultUri, cred, extra = {}) => new KeyClient(vaultUri, recording(cred), { ...kvOptions, ...extra });
export const cryptoClient = (keyId, cred) => new CryptographyClient(keyId, recording(cred), kvOptions);

/** A bearer token for the vault resource. */
export const vaultToken = (cred) => getToken(cred, `${VAULT_RESOURCE}/.default`);

/**
 * A raw request to a vault: `path` is relative to the vault URI ("keys/k/"), the query carries
 * `api-version` unless `query` says otherwise. JSON bodies are serialised; strings go as they are.
 */
export function kvRaw(vaultUri, path, { method = "GET", token, body, query = `api-version=${KV_API}`, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let b = body;
  if (b !== undefined && typeof b !== "string" && !Buffer.isBuffer(b)) b = JSON.stringify(b);
  if (b !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === "content-type")) h["content-type"] = "application/json";
  const url = `${strip(vaultUri)}/${path}${query ? `?${query}` : ""}`;
  return raw(url, { method, headers: h, body: b });
}

/** Asserts a Key Vault error response (wire reference B.5). */
export function assertKvError(r, status, code, inner) {
  const ctx = `${r.status} ${r.text.slice(0, 600)}`;
  assert.equal(r.status, status, ctx);
  assert.match(String(r.headers["content-type"]), /^application\/json/i, ctx);
  assert.ok(r.body?.error, `no error object: ${ctx}`);
  if (code !== undefined) assert.equal(r.body.error.code, code, ctx);
  assert.ok(typeof r.body.error.message === "string" && r.body.error.message.length > 0, `no message: ${ctx}`);
  if (inner !== undefined) assert.equal(r.body.error.innererror?.code, inner, ctx);
  return r.body.error;
}

/** The 401 challenge of wire reference B.1 step 2, for the vault of tenant `tid`. */
export function assertChallenge(r, tid, akv = "AKV10000") {
  const ctx = `${r.status} ${JSON.stringify(r.headers["www-authenticate"])} ${r.text.slice(0, 400)}`;
  assert.equal(r.status, 401, ctx);
  assert.equal(
    r.headers["www-authenticate"],
    `Bearer authorization="${strip(AUTHORITY)}/${tid}", resource="${VAULT_RESOURCE}"`,
    ctx,
  );
  assert.match(String(r.headers["content-type"]), /^application\/json/i, ctx);
  assert.equal(r.body?.error?.code, "Unauthorized", ctx);
  if (akv) assert.match(r.body.error.message, new RegExp(`^${akv}\\b`), ctx);
}

/**
 * Rejection from a KeyClient / CryptographyClient call with HTTP status, RestError.code and
 * (optionally) the inner error code, which the SDK keeps in `details.error.innerError`.
 */
export async function rejectsKv(promise, status, code, inner) {
  await assert.rejects(promise, (e) => {
    const ctx = describeError(e);
    assert.equal(e.statusCode, status, ctx);
    if (code !== undefined) assert.equal(e.code, code, ctx);
    if (inner !== undefined) assert.equal(e.details?.error?.innerError?.code, inner, ctx);
    return true;
  });
}

/** kid of a key version on this vault: https://localhost:<port>/keys/<name>/<32 hex>. */
export function assertKid(kid, vaultUri, name) {
  const re = new RegExp(`^${strip(vaultUri).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/keys/${name}/[0-9a-f]{32}$`);
  assert.match(String(kid), re);
  return kid.split("/").pop();
}

// ---------------------------------------------------------------------------------------------
// Keys made here, so that their private parts are known (import, and the DIR scan).

/**
 * An RSA or EC key pair from node:crypto. Returns {jwk (SDK form, Uint8Array members),
 * publicKey, privateKey, parts: {d,p,q,...} as Buffers}.
 */
export function makeKeyPair(kind) {
  const [type, opt] = kind.startsWith("P-")
    ? ["ec", { namedCurve: kind }]
    : ["rsa", { modulusLength: Number(kind.replace(/^RSA-?/, "")) || 2048 }];
  const { publicKey, privateKey } = crypto.generateKeyPairSync(type, opt);
  const j = privateKey.export({ format: "jwk" });
  const jwk = { kty: j.kty };
  const parts = {};
  for (const [k, v] of Object.entries(j)) {
    if (k === "kty") continue;
    if (k === "crv") jwk.crv = v;
    else {
      jwk[k] = fromB64u(v);
      if (["d", "p", "q", "dp", "dq", "qi"].includes(k)) parts[k] = Buffer.from(v, "base64url");
    }
  }
  return { jwk, publicKey, privateKey, parts, kty: j.kty };
}

/** Records private key parts (base64url) for the scans of 19-keyvault-scan and secrets-scan. */
export function recordPrivate(pair) {
  for (const v of Object.values(pair.parts)) record("privateKeyPart", b64u(v));
}

/** A node:crypto public KeyObject from a KeyVaultKey's JWK (Uint8Array members). */
export function publicKeyOf(kvKey) {
  const k = kvKey.key;
  const jwk =
    k.kty === "EC" || k.kty === "EC-HSM"
      ? { kty: "EC", crv: k.crv, x: b64u(k.x), y: b64u(k.y) }
      : { kty: "RSA", n: b64u(k.n), e: b64u(k.e) };
  return crypto.createPublicKey({ key: jwk, format: "jwk" });
}

// ---------------------------------------------------------------------------------------------
// A second principal in the customer tenant (single-tenant app with a secret and its service
// principal), with no role unless a test gives it one.

export async function customerPrincipal(name) {
  const g = graph(customerCred());
  const app = await g.api("/applications").post({ displayName: name, signInAudience: "AzureADMyOrg" });
  const pw = await g.api(`/applications/${app.id}/addPassword`).post({ passwordCredential: { displayName: "kv" } });
  assert.ok(pw.secretText, `addPassword returned no secretText: ${JSON.stringify(Object.keys(pw))}`);
  record("clientSecret", pw.secretText);
  const sp = await g.api("/servicePrincipals").post({ appId: app.appId });
  const cred = new ClientSecretCredential(customer.tenantId, app.appId, pw.secretText, credOptions);
  return { app, sp, cred, oid: sp.id };
}

// ---------------------------------------------------------------------------------------------
// The audit log through ARM (docs/vault.md "Audit log").

/**
 * Every audit record of a vault (all pages), optionally only those of one caller oid, read
 * through ARM with `cred` (a control-plane role on the vault is needed).
 */
export async function auditRecords(cred, vaultArmId, { callerOid, top = 1000 } = {}) {
  const token = await getToken(cred, `${ARM}/.default`);
  let url = `${ARM}${vaultArmId}/auditRecords?api-version=2026-02-01&$top=${top}` +
    (callerOid ? `&callerOid=${encodeURIComponent(callerOid)}` : "");
  const out = [];
  while (url) {
    const r = await raw(url, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200, `GET auditRecords: ${r.status} ${r.text.slice(0, 400)}`);
    out.push(...r.body.value);
    url = r.body.nextLink;
  }
  return out;
}
