// SPDX-License-Identifier: Apache-2.0
// Changing how the AEK is protected never rewrites data (issue 5, docs/cmk.md "What is stored"):
// an account with blobs large enough to live in extent files under DIR/storage/extents goes from
// Microsoft-managed keys to a customer key, to another key, to a pinned version, follows a
// rotation, and back to Microsoft-managed keys. After every step each extent file is unchanged
// byte for byte (same names, same SHA-256), no extent file appears or disappears, and every blob
// reads back. Driven with the official SDKs only; the files are read from the data directory.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

import { DATA, customer, isv, isvCred, pollUntil, provisionChain, uniq } from "./lib.mjs";
import { KV_ROLE, assignRole, customerVault, prepare } from "./kvlib.mjs";
import {
  accountBody, accountKeys, blobUrl, createAccount, registerFederatedClientIdentity, storageArm, userAssigned,
} from "./stlib.mjs";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";

const EXTENTS = path.join(DATA, "storage", "extents");
const s = {};

/** {relative path -> sha256 hex} of every extent file. */
function snapshot() {
  const out = new Map();
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(path.relative(EXTENTS, p), crypto.createHash("sha256").update(fs.readFileSync(p)).digest("hex"));
    }
  };
  walk(EXTENTS);
  return out;
}

function assertSame(before, label) {
  const after = snapshot();
  assert.equal(after.size, before.size, `${label}: ${after.size} extent files, ${before.size} before`);
  for (const [f, h] of before) assert.equal(after.get(f), h, `${label}: ${f} changed`);
}

async function assertReadable(label) {
  const cc = s.svc.getContainerClient("data");
  for (const [n, data] of s.data) {
    const got = await cc.getBlockBlobClient(n).downloadToBuffer();
    assert.ok(got.equals(data), `${label}: ${n} reads back different bytes`);
  }
}

const kvp = (a) => a.encryption?.keyVaultProperties ?? {};

const { it } = await prepare("chain, customer vault with two keys, an account with data on Microsoft-managed keys", async () => {
  Object.assign(s, await provisionChain(`byt-${uniq()}`));
  await registerFederatedClientIdentity(s.a);
  s.V = await customerVault(s.tag, { purgeProtection: true, prefix: "byt" });
  s.k1 = await s.V.kc.createRsaKey("k1", { keySize: 2048 });
  s.k2 = await s.V.kc.createRsaKey("k2", { keySize: 3072 });
  await assignRole(s.V.a.authz, customer.subscriptionId, s.V.id, KV_ROLE.CryptoServiceEncryptionUser, s.sp.id);
  s.sm = storageArm(isvCred(), isv.subscriptionId);
  s.name = `byt${crypto.randomBytes(6).toString("hex")}`;
  s.acct = await createAccount(s.sm, s.rg, s.name, accountBody({ identity: userAssigned(s.uami.id) }));
  const keys = await accountKeys(s.sm, s.rg, s.name);
  s.svc = new BlobServiceClient(blobUrl(s.acct), new StorageSharedKeyCredential(s.name, keys.key1), {
    retryOptions: { maxTries: 1 },
  });
  await s.svc.getContainerClient("data").create();
  s.data = new Map();
  for (const [n, size] of [["big-1", 300 * 1024 + 5], ["big-2", 1024 * 1024], ["big-3", 200 * 1024 + 1]]) {
    const d = crypto.randomBytes(size);
    await s.svc.getContainerClient("data").getBlockBlobClient(n).upload(d, d.length);
    s.data.set(n, d);
  }
  s.before = snapshot();
  assert.ok(s.before.size >= 3, `expected the big blobs in extent files under ${EXTENTS}`);
});

const cmk = (keyName, keyVersion = "") => ({
  encryption: {
    keySource: "Microsoft.Keyvault",
    keyVaultProperties: { keyName, keyVersion, keyVaultUri: s.V.uri },
    encryptionIdentity: { encryptionUserAssignedIdentity: s.uami.id, encryptionFederatedIdentityClientId: s.app.appId },
  },
});

it("Microsoft-managed -> customer key k1: data files unchanged, data readable", async () => {
  const a = await s.sm.storageAccounts.update(s.rg, s.name, cmk("k1"));
  assert.ok(kvp(a).currentVersionedKeyIdentifier.startsWith(s.k1.id.replace(/\/[^/]+$/, "")));
  assertSame(s.before, "to k1");
  await assertReadable("to k1");
});

it("k1 -> k2 (another key): unchanged", async () => {
  const a = await s.sm.storageAccounts.update(s.rg, s.name, cmk("k2"));
  assert.equal(kvp(a).currentVersionedKeyIdentifier, s.k2.id);
  assertSame(s.before, "to k2");
  await assertReadable("to k2");
});

it("a rotation the account follows: unchanged", async () => {
  const k2b = await s.V.kc.rotateKey("k2");
  await pollUntil("the account follows the rotation", async () =>
    kvp(await s.sm.storageAccounts.getProperties(s.rg, s.name)).currentVersionedKeyIdentifier === k2b.id);
  assertSame(s.before, "after the rotation");
  await assertReadable("after the rotation");
  s.k2b = k2b;
});

it("pinned to the first version of k2: unchanged", async () => {
  const a = await s.sm.storageAccounts.update(s.rg, s.name, cmk("k2", s.k2.properties.version));
  assert.equal(kvp(a).currentVersionedKeyIdentifier, s.k2.id);
  assertSame(s.before, "pinned");
  await assertReadable("pinned");
});

it("back to Microsoft-managed keys: unchanged, and the customer's key no longer matters", async () => {
  const a = await s.sm.storageAccounts.update(s.rg, s.name, {
    encryption: { keySource: "Microsoft.Storage", services: { blob: { enabled: true, keyType: "Account" } } },
  });
  assert.equal(a.encryption.keySource, "Microsoft.Storage");
  assertSame(s.before, "back to Microsoft.Storage");
  await s.V.kc.updateKeyProperties("k2", s.k2.properties.version, { enabled: false });
  await assertReadable("back to Microsoft.Storage, key disabled");
});
