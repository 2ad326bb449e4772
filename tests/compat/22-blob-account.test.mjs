// SPDX-License-Identifier: Apache-2.0
// @azure/storage-blob (unmodified) against an account made with @azure/arm-storage, over HTTPS on
// the blob origin: Shared Key with the keys from listKeys (and after regenerateKey), account SAS,
// and bearer tokens from @azure/identity authorized by the Storage Blob Data roles through ARM —
// including a role removed and taking effect on the next request, a reader that cannot write,
// a principal without a role, and a token of another tenant (401 with the tenant challenge).
import assert from "node:assert/strict";
import crypto from "node:crypto";

import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  StorageSharedKeyCredential,
  generateAccountSASQueryParameters,
} from "@azure/storage-blob";

import { arm, customer, customerCred, getToken, isvCred, raw, record, uniq } from "./lib.mjs";
import { assignRole, customerPrincipal, prepare, sleep } from "./kvlib.mjs";
import { LOCATION, accountBody, accountKeys, accountName, createAccount, storageArm } from "./stlib.mjs";

const ROLE_BLOB = {
  Owner: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
  Contributor: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  Reader: "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
};
const opts = { retryOptions: { maxTries: 1 } };
const tag = uniq();
const sub = customer.subscriptionId;
const s = {};

const { it } = await prepare("account, keys and principals", async () => {
  s.cred = customerCred();
  s.a = arm(s.cred, sub);
  s.sm = storageArm(s.cred, sub);
  s.rg = `rg-blob-${tag}`;
  await s.a.resources.resourceGroups.createOrUpdate(s.rg, { location: LOCATION });
  s.name = accountName("blob");
  s.acct = await createAccount(s.sm, s.rg, s.name, accountBody());
  s.url = String(s.acct.primaryEndpoints?.blob ?? s.acct.properties?.primaryEndpoints?.blob).replace(/\/+$/, "");
  s.keys = await accountKeys(s.sm, s.rg, s.name);
  s.shared = new BlobServiceClient(s.url, new StorageSharedKeyCredential(s.name, s.keys.key1), opts);
  s.writer = await customerPrincipal(`blob-writer-${tag}`);
  s.reader = await customerPrincipal(`blob-reader-${tag}`);
  s.nobody = await customerPrincipal(`blob-nobody-${tag}`);
  s.writerRole = await assignRole(s.a.authz, sub, s.acct.id, ROLE_BLOB.Contributor, s.writer.oid);
  await assignRole(s.a.authz, sub, s.acct.id, ROLE_BLOB.Reader, s.reader.oid);
});

it("primaryEndpoints.blob is the account's URL on the HTTPS blob origin", () => {
  assert.match(s.url, new RegExp(`^https://localhost:\\d+/${s.name}$`));
});

it("Shared Key over HTTPS with listKeys, and key rotation", async () => {
  const cc = s.shared.getContainerClient(`sk${tag}`);
  await cc.create();
  const data = crypto.randomBytes(70000);
  await cc.getBlockBlobClient("x").upload(data, data.length);
  assert.ok((await cc.getBlockBlobClient("x").downloadToBuffer()).equals(data));
  await s.sm.storageAccounts.regenerateKey(s.rg, s.name, { keyName: "key1" });
  await assert.rejects(cc.getProperties(), (e) => e.statusCode === 403 && e.code === "AuthenticationFailed");
  const k2 = new BlobServiceClient(s.url, new StorageSharedKeyCredential(s.name, s.keys.key2), opts);
  assert.ok((await k2.getContainerClient(`sk${tag}`).getBlockBlobClient("x").downloadToBuffer()).equals(data));
  s.keys = await accountKeys(s.sm, s.rg, s.name);
  s.shared = new BlobServiceClient(s.url, new StorageSharedKeyCredential(s.name, s.keys.key1), opts);
  assert.equal((await s.shared.getContainerClient(`sk${tag}`).getProperties()).etag !== undefined, true);
});

it("account SAS: service, container and object levels", async () => {
  const cred = new StorageSharedKeyCredential(s.name, s.keys.key1);
  const sas = generateAccountSASQueryParameters(
    {
      expiresOn: new Date(Date.now() + 3600e3),
      permissions: AccountSASPermissions.parse("rwlc"),
      services: AccountSASServices.parse("b").toString(),
      resourceTypes: AccountSASResourceTypes.parse("sco").toString(),
    },
    cred,
  ).toString();
  const viaSas = new BlobServiceClient(`${s.url}?${sas}`, undefined, opts);
  const cc = viaSas.getContainerClient(`sas${tag}`);
  await cc.create();
  await cc.getBlockBlobClient("a").upload("hello", 5);
  assert.equal((await cc.getBlockBlobClient("a").downloadToBuffer()).toString(), "hello");
  await assert.rejects(cc.getBlockBlobClient("a").delete(), (e) => e.statusCode === 403);
  const onlyObjects = generateAccountSASQueryParameters(
    {
      expiresOn: new Date(Date.now() + 3600e3),
      permissions: AccountSASPermissions.parse("rl"),
      services: "b",
      resourceTypes: "o",
    },
    cred,
  ).toString();
  const o = new BlobServiceClient(`${s.url}?${onlyObjects}`, undefined, opts);
  await assert.rejects(o.getContainerClient(`sas${tag}`).getProperties(), (e) => e.statusCode === 403);
  assert.equal((await o.getContainerClient(`sas${tag}`).getBlockBlobClient("a").downloadToBuffer()).toString(), "hello");
});

it("bearer tokens: Storage Blob Data Contributor writes and reads", async () => {
  const svc = new BlobServiceClient(s.url, s.writer.cred, opts);
  const cc = svc.getContainerClient(`oauth${tag}`);
  await cc.create();
  await cc.getBlockBlobClient("doc").upload("by token", 8, { metadata: { via: "oauth" } });
  const marker = `crosskey-plaintext-marker-oauth-${tag}`;
  record("blobPlaintext", marker);
  await cc.getBlockBlobClient("marked").upload(marker, marker.length);
  assert.equal((await cc.getBlockBlobClient("marked").downloadToBuffer()).toString(), marker);
  const dl = await cc.getBlockBlobClient("doc").download();
  assert.equal(dl.metadata.via, "oauth");
  assert.equal((await cc.getBlockBlobClient("doc").downloadToBuffer()).toString(), "by token");
  const names = [];
  for await (const b of cc.listBlobsFlat()) names.push(b.name);
  assert.deepEqual(names, ["doc", "marked"]);
});

it("bearer tokens: Reader reads but cannot write; no role, nothing", async () => {
  const r = new BlobServiceClient(s.url, s.reader.cred, opts).getContainerClient(`oauth${tag}`);
  assert.equal((await r.getBlockBlobClient("doc").downloadToBuffer()).toString(), "by token");
  await assert.rejects(
    r.getBlockBlobClient("new").upload("x", 1),
    (e) => e.statusCode === 403 && e.code === "AuthorizationPermissionMismatch",
  );
  const n = new BlobServiceClient(s.url, s.nobody.cred, opts).getContainerClient(`oauth${tag}`);
  await assert.rejects(n.getBlockBlobClient("doc").downloadToBuffer(), (e) => e.statusCode === 403);
  await assert.rejects(n.getProperties(), (e) => e.statusCode === 403);
});

it("bearer tokens: a removed role applies to the next request", async () => {
  const cc = new BlobServiceClient(s.url, s.writer.cred, opts).getContainerClient(`oauth${tag}`);
  await cc.getBlockBlobClient("doc").downloadToBuffer();
  const scope = s.acct.id;
  await s.a.authz.roleAssignments.delete(scope, s.writerRole);
  await assert.rejects(cc.getBlockBlobClient("doc").downloadToBuffer(), (e) => e.statusCode === 403);
  s.writerRole = await assignRole(s.a.authz, sub, scope, ROLE_BLOB.Contributor, s.writer.oid);
  assert.equal((await cc.getBlockBlobClient("doc").downloadToBuffer()).toString(), "by token");
});

it("bearer tokens: another tenant's token gets 401 with a challenge naming the account's tenant", async () => {
  const token = await getToken(isvCred(), "https://storage.azure.com/.default");
  const r = await raw(`${s.url}/oauth${tag}/doc`, {
    headers: { authorization: `Bearer ${token}`, "x-ms-version": "2026-04-06" },
  });
  assert.equal(r.status, 401);
  assert.equal(r.headers["x-ms-error-code"], "InvalidAuthenticationInfo");
  assert.match(String(r.headers["www-authenticate"]), new RegExp(`/${customer.tenantId}/oauth2/authorize`));
  const none = await raw(`${s.url}/oauth${tag}/doc`, { headers: { "x-ms-version": "2026-04-06" } });
  assert.equal(none.status, 401);
  assert.equal(none.headers["x-ms-error-code"], "NoAuthenticationInformation");
  const vaultToken = await getToken(s.writer.cred, "https://vault.azure.net/.default");
  const wrongAud = await raw(`${s.url}/oauth${tag}/doc`, {
    headers: { authorization: `Bearer ${vaultToken}`, "x-ms-version": "2026-04-06" },
  });
  assert.equal(wrongAud.status, 401);
  await sleep(0);
});
