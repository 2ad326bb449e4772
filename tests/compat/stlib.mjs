// SPDX-License-Identifier: Apache-2.0
// Shared set-up for the storage files of the compatibility suite (2*-*.test.mjs): storage
// accounts through @azure/arm-storage 20.0.0 (the modular client: `endpoint` is the only option
// that points it at crosskey; it always asks for https://management.azure.com/.default tokens,
// wire reference C.1), helpers for their keys, and a look at the system-assigned identity the
// identity service holds for an account (its internal endpoint, docs/internal-api.md).
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";

import { StorageManagementClient } from "@azure/arm-storage";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";

import { ARM, AUTHORITY, DATA, pollUntil, raw, record, recording } from "./lib.mjs";

export const ST_TYPE = "Microsoft.Storage/storageAccounts";
export const LOCATION = "eastus";
const retryOptions = { maxRetries: 1, retryDelayInMs: 200 };

/** StorageManagementClient on crosskey's ARM endpoint. */
export function storageArm(cred, subscriptionId) {
  return new StorageManagementClient(recording(cred), subscriptionId, { endpoint: ARM, retryOptions });
}

/** Account names: 3-24 lower-case letters and digits, unique on the server. */
export const accountName = (prefix = "st") => `${prefix}${crypto.randomBytes(6).toString("hex")}`.slice(0, 24);

/** ARM id of an account, as Azure spells it. */
export const accountId = (sub, rg, name) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Storage/storageAccounts/${name}`;

/** The account's properties whether the SDK flattened them or not. */
export const propsOf = (a) => a.properties ?? a;

/** A create body (SDK property names). */
export function accountBody({ sku = "Standard_LRS", kind = "StorageV2", tags, ...rest } = {}) {
  return { sku: { name: sku }, kind, location: LOCATION, ...(tags ? { tags } : {}), ...rest };
}

/** beginCreateAndWait, answered synchronously by crosskey (200/201, provisioningState Succeeded). */
export async function createAccount(sm, rg, name, body = accountBody()) {
  const a = await sm.storageAccounts.beginCreateAndWait(rg, name, body, { updateIntervalInMs: 100 });
  assert.equal(a.name, name, JSON.stringify(a));
  return a;
}

/** listKeys; records both values for the secrets scan and returns {key1, key2} (base64). */
export async function accountKeys(sm, rg, name) {
  const r = await sm.storageAccounts.listKeys(rg, name);
  const keys = Object.fromEntries((r.keys ?? []).map((k) => [k.keyName, k.value]));
  for (const v of Object.values(keys)) record("accountKey", v);
  return keys;
}

/**
 * The system-assigned identity the identity service holds for a resource id, through
 * GET /rp/identity/systemAssigned with the RP credential (the operator's view: the key file in
 * DIR/secrets). Resolves {principalId, clientId, tenantId} or null when there is none.
 */
export async function systemIdentity(resourceId) {
  const key = fs.readFileSync(`${DATA}/secrets/rp.key`, "utf8").trim();
  const r = await raw(`${AUTHORITY}/rp/identity/systemAssigned?resourceId=${encodeURIComponent(resourceId)}`, {
    headers: { authorization: `RP ${key}` },
  });
  if (r.status === 404) return null;
  assert.equal(r.status, 200, r.text);
  return r.body;
}

// ---------------------------------------------------------------------------------------------
// Customer-managed keys (docs/cmk.md; files 25 and 26).

/**
 * The procedure's registration step in the ISV subscription: the feature
 * Microsoft.Storage/FederatedClientIdentity, then the provider Microsoft.Storage again.
 * `a` is lib.mjs's arm(). Resolves {feature, provider} as the SDKs return them.
 */
export async function registerFederatedClientIdentity(a) {
  const feature = await a.features.features.register("Microsoft.Storage", "FederatedClientIdentity");
  const provider = await a.resources.providers.register("Microsoft.Storage");
  return { feature, provider };
}

/** identity {type: UserAssigned} with the given UAMI ids (SDK names). */
export const userAssigned = (...ids) => ({
  type: "UserAssigned",
  userAssignedIdentities: Object.fromEntries(ids.map((id) => [id, {}])),
});

/**
 * The encryption object of a (cross-tenant) customer-managed key in SDK names: keySource
 * Microsoft.Keyvault, keyvaultproperties {keyname, keyversion, keyvaulturi}, identity
 * {userAssignedIdentity, federatedIdentityClientId (when appId is given)}.
 */
export function cmkEncryption({ vaultUri, keyName, keyVersion = "", uamiId, appId }) {
  const encryptionIdentity = { encryptionUserAssignedIdentity: uamiId };
  if (appId) encryptionIdentity.encryptionFederatedIdentityClientId = appId;
  return {
    keySource: "Microsoft.Keyvault",
    keyVaultProperties: { keyName, keyVersion, keyVaultUri: vaultUri },
    encryptionIdentity,
  };
}

/**
 * Runs an arm-storage operation with the documented `onResponse` option and resolves
 * {value, body, status}: what the SDK returned and the raw JSON body (for the crosskey extension
 * properties.keyState, which the SDK does not model).
 */
export async function withRaw(call) {
  let resp;
  const value = await call({ onResponse: (r) => { resp = r; } });
  let body = resp?.parsedBody;
  if (body === undefined && resp?.bodyAsText) body = JSON.parse(resp.bodyAsText);
  return { value, body, status: resp?.status };
}

/** getProperties with the raw body: {account, body, keyState}. */
export async function accountWithState(sm, rg, name) {
  const { value, body } = await withRaw((o) => sm.storageAccounts.getProperties(rg, name, o));
  return { account: value, body, keyState: body?.properties?.keyState };
}

/** The account's blob endpoint without the trailing slash. */
export const blobUrl = (a) => String(propsOf(a).primaryEndpoints?.blob).replace(/\/+$/, "");

/** A BlobServiceClient for the account with Shared Key (key1 from listKeys), no retries. */
export async function sharedKeyBlobClient(sm, rg, name, account) {
  const a = account ?? (await sm.storageAccounts.getProperties(rg, name));
  const keys = await accountKeys(sm, rg, name);
  return new BlobServiceClient(blobUrl(a), new StorageSharedKeyCredential(name, keys.key1), {
    retryOptions: { maxTries: 1, tryTimeoutInMs: 30_000 },
  });
}

/**
 * The Blob error code of a storage-blob RestError: `code` from the XML body, or (HEAD requests,
 * which have no body) the x-ms-error-code header the SDK keeps in details / the response.
 */
export const blobErrorCode = (e) =>
  e.code ?? e.details?.errorCode ?? e.response?.headers?.get?.("x-ms-error-code");

/** Rejection from a storage-blob call with HTTP status and error code (x-ms-error-code). */
export async function rejectsBlob(promise, status, code) {
  await assert.rejects(promise, (e) => {
    const ctx = `${e.statusCode} ${blobErrorCode(e)} ${String(e.message).split("\n")[0]}`;
    assert.equal(e.statusCode, status, ctx);
    if (code !== undefined) assert.equal(blobErrorCode(e), code, ctx);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Data-plane probes for accounts on customer-managed keys. A "store" is
// {name, svc (BlobServiceClient), container, data: Map(blob name -> Buffer)}.

export const listBlobs = async (cc, opts) => {
  const out = [];
  for await (const b of cc.listBlobsFlat(opts)) out.push(b);
  return out;
};
export const listContainerNames = async (svc) => {
  const out = [];
  for await (const c of svc.listContainers()) out.push(c.name);
  return out;
};

/** Uploads one blob per name (names starting with "big": 300 KiB + 17, random), with metadata. */
export async function writeBlobs(store, names) {
  const cc = store.svc.getContainerClient(store.container);
  for (const n of names) {
    const data = n.startsWith("big") ? crypto.randomBytes(300 * 1024 + 17) : Buffer.from(`${n} ${crypto.randomUUID()}`);
    const r = await cc.getBlockBlobClient(n).upload(data, data.length, { metadata: { origin: n.replace(/\W/g, "") } });
    assert.equal(r.isServerEncrypted, true);
    store.data.set(n, data);
  }
}

/** Every blob of the store reads back; a new one is written and read; properties and listings work. */
export async function assertServing(store, label) {
  const cc = store.svc.getContainerClient(store.container);
  for (const [n, data] of store.data) {
    const got = await cc.getBlockBlobClient(n).downloadToBuffer();
    assert.ok(got.equals(data), `${label}: ${n} reads back different bytes`);
  }
  const n = `w-${store.data.size}-${crypto.randomBytes(3).toString("hex")}`;
  await writeBlobs(store, [n]);
  assert.ok((await cc.getBlockBlobClient(n).downloadToBuffer()).equals(store.data.get(n)), `${label}: ${n}`);
  const p = await cc.getBlockBlobClient(n).getProperties();
  assert.equal(p.metadata.origin, n.replace(/\W/g, ""));
  assert.equal(p.isServerEncrypted, true);
  const listed = await listBlobs(cc, { includeMetadata: true });
  for (const k of store.data.keys()) assert.ok(listed.some((b) => b.name === k), `${label}: ${k} not listed`);
}

/**
 * What the data plane says now for a Get Blob of the store's first blob: "ok", the error code of a
 * 403, or "HTTP <status> <code>" for another error status. Transport errors are thrown.
 */
export async function dataState(store) {
  const [n] = store.data.keys();
  try {
    await store.svc.getContainerClient(store.container).getBlockBlobClient(n).downloadToBuffer();
    return "ok";
  } catch (e) {
    if (e.statusCode === 403) return blobErrorCode(e);
    if (e.statusCode) return `HTTP ${e.statusCode} ${blobErrorCode(e)}`;
    throw e;
  }
}

/** Polls dataState until it is `want`; resolves the milliseconds; the failure lists what was seen. */
export async function waitData(label, store, want, timeoutMs = 20_000) {
  const seen = [];
  const { ms } = await pollUntil(`${label}: want ${want}`, async () => {
    const st = await dataState(store);
    if (seen.at(-1) !== st) seen.push(st);
    return st === want;
  }, { timeoutMs, intervalMs: 200 }).catch((e) => {
    e.message += ` (states seen: ${seen.join(" -> ")})`;
    throw e;
  });
  return ms;
}

/** Polls the account's properties.keyState until its state is `state`; resolves {ks, ms}. */
export async function waitAccountKeyState(sm, rg, name, state, { label = name, timeoutMs = 20_000, intervalMs = 250 } = {}) {
  let last;
  const { value, ms } = await pollUntil(`${label}: keyState ${state}`, async () => {
    const { keyState } = await accountWithState(sm, rg, name);
    last = keyState;
    return keyState?.state === state ? keyState : null;
  }, { timeoutMs, intervalMs }).catch((e) => {
    e.message += ` (last keyState: ${JSON.stringify(last)})`;
    throw e;
  });
  return { ks: value, ms };
}
