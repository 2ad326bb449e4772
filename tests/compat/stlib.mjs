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

import { ARM, AUTHORITY, DATA, raw, record, recording } from "./lib.mjs";

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
