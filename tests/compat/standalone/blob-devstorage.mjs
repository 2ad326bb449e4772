// SPDX-License-Identifier: Apache-2.0
// The Azurite drop-in (issue 4): @azure/storage-blob (unmodified) with exactly the connection string
// "UseDevelopmentStorage=true", which the SDK resolves to http://127.0.0.1:10000/devstoreaccount1
// with the published key, against crosskeyd --dev-account on its default port
// (tests/e2e/test_blob_devstorage.sh). Creates a container, uploads, lists, downloads and deletes.
// Usage: node blob-devstorage.mjs
import assert from "node:assert/strict";
import crypto from "node:crypto";

import { BlobServiceClient } from "@azure/storage-blob";

const svc = BlobServiceClient.fromConnectionString("UseDevelopmentStorage=true");
assert.equal(svc.accountName, "devstoreaccount1");
assert.equal(svc.url.replace(/\/+$/, ""), "http://127.0.0.1:10000/devstoreaccount1");

const name = `devstorage-${crypto.randomBytes(4).toString("hex")}`;
const cc = svc.getContainerClient(name);
await cc.create();
assert.equal(await cc.exists(), true);

const small = Buffer.from("hello from UseDevelopmentStorage=true\n");
const big = crypto.randomBytes(5 * 1024 * 1024 + 7); // uploadData stages blocks above its threshold
const blobs = { "hello.txt": small, "dir/big.bin": big, "sp ace/ü+&.bin": crypto.randomBytes(1000) };
for (const [n, data] of Object.entries(blobs)) {
  await cc.getBlockBlobClient(n).uploadData(data, { blockSize: 1024 * 1024, maxSingleShotSize: 4 * 1024 * 1024 });
}

const containers = [];
for await (const c of svc.listContainers({ prefix: name })) containers.push(c.name);
assert.deepEqual(containers, [name]);
const listed = [];
for await (const b of cc.listBlobsFlat()) listed.push([b.name, b.properties.contentLength]);
assert.deepEqual(listed.sort(), Object.entries(blobs).map(([n, d]) => [n, d.length]).sort());

for (const [n, data] of Object.entries(blobs)) {
  const bc = cc.getBlobClient(n);
  const got = await bc.downloadToBuffer();
  assert.ok(got.equals(data), `${n}: downloaded bytes differ`);
  const r = await bc.download(3, 10);
  const parts = [];
  for await (const chunk of r.readableStreamBody) parts.push(chunk);
  assert.ok(Buffer.concat(parts).equals(data.subarray(3, 13)), `${n}: range differs`);
  assert.equal(r.isServerEncrypted, true);
}

await cc.getBlobClient("hello.txt").delete();
assert.equal(await cc.getBlobClient("hello.txt").exists(), false);
await cc.delete();
assert.equal(await cc.exists(), false);
console.log(`UseDevelopmentStorage=true: container ${name}: created, ${Object.keys(blobs).length} blobs uploaded, listed, downloaded, deleted`);
