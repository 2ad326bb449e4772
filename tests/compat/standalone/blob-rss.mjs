// SPDX-License-Identifier: Apache-2.0
// Large blobs stream (issue 4): the client of tests/e2e/test_blob_rss.sh, with @azure/storage-blob
// (unmodified) against the development account of crosskeyd --dev-account. Uploads SIZE bytes
// (default 1 GiB) twice, generated on the fly from a seeded stream so that no copy is held here:
//   1. uploadStream with 8 MiB blocks, 4 in flight (Put Block + Put Block List);
//   2. one streamed Put Blob with Content-Length SIZE, over plain node:http to a SAS URL made by the
//      SDK's own generateSasUrl;
// and reads each back with download(), comparing a running sha256. The shell reads the daemon's
// peak RSS afterwards. Usage: node blob-rss.mjs DATA [SIZE]
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

import { BlobSASPermissions, BlobServiceClient } from "@azure/storage-blob";

const DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const MiB = 1024 * 1024;
const [dir, sizeArg] = process.argv.slice(2);
const SIZE = Number(sizeArg ?? 1024 * MiB);
const ep = JSON.parse(fs.readFileSync(`${dir}/endpoints.json`, "utf8"));
const devBase = String(ep.blobDev ?? "").replace(/\/+$/, "");
assert.ok(devBase.startsWith("http://127.0.0.1:"), `endpoints.json blobDev: ${devBase}`);
const conn =
  `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${DEV_KEY};` +
  `BlobEndpoint=${devBase}/devstoreaccount1;`;
const svc = BlobServiceClient.fromConnectionString(conn, { retryOptions: { maxTries: 1 } });
const cc = svc.getContainerClient(`rss${crypto.randomBytes(4).toString("hex")}`);

// A deterministic byte stream: the AES-128-CTR keystream of SEED, SIZE bytes in 1 MiB chunks,
// hashed as it goes. hash() is valid once the stream has ended.
function seeded(seed, size) {
  const key = crypto.createHash("sha256").update(seed).digest().subarray(0, 16);
  const ctr = crypto.createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  const zeros = Buffer.alloc(MiB);
  const h = crypto.createHash("sha256");
  let left = size;
  const stream = new Readable({
    highWaterMark: MiB,
    read() {
      if (left === 0) return this.push(null);
      const n = Math.min(left, MiB);
      const chunk = ctr.update(zeros.subarray(0, n));
      h.update(chunk);
      left -= n;
      this.push(chunk);
    },
  });
  let digest = null;
  return { stream, hash: () => (digest ??= h.digest("hex")) };
}

async function readBack(name) {
  const r = await cc.getBlobClient(name).download();
  assert.equal(r.contentLength, SIZE, `${name}: Content-Length`);
  const h = crypto.createHash("sha256");
  let n = 0;
  for await (const chunk of r.readableStreamBody) {
    h.update(chunk);
    n += chunk.length;
  }
  assert.equal(n, SIZE, `${name}: bytes downloaded`);
  return h.digest("hex");
}

const timed = async (what, f) => {
  const t = Date.now();
  const v = await f();
  const s = (Date.now() - t) / 1000;
  console.log(`${what}: ${s.toFixed(1)} s (${(SIZE / MiB / s).toFixed(0)} MiB/s)`);
  return v;
};

await cc.create();

// 1. uploadStream: 8 MiB blocks, 4 in flight.
const a = seeded("crosskey-rss-a", SIZE);
await timed("uploadStream (8 MiB blocks, 4 in flight)", () =>
  cc.getBlockBlobClient("stream.bin").uploadStream(a.stream, 8 * MiB, 4));
assert.equal(await timed("download of the uploadStream blob", () => readBack("stream.bin")), a.hash(), "stream.bin: sha256");

// 2. One Put Blob of SIZE bytes, streamed by node:http to a SAS URL from generateSasUrl.
const put = cc.getBlockBlobClient("put.bin");
const sas = await put.generateSasUrl({
  permissions: BlobSASPermissions.parse("rcw"),
  expiresOn: new Date(Date.now() + 3600 * 1000),
});
const b = seeded("crosskey-rss-b", SIZE);
const status = await timed("single Put Blob (streamed)", async () => {
  const req = http.request(sas, {
    method: "PUT",
    headers: { "content-length": String(SIZE), "x-ms-blob-type": "BlockBlob", "content-type": "application/octet-stream" },
  });
  const res = new Promise((resolve, reject) => {
    req.on("response", (r) => {
      let body = "";
      r.setEncoding("utf8");
      r.on("data", (d) => (body += d));
      r.on("end", () => resolve({ code: r.statusCode, body }));
    });
    req.on("error", reject);
  });
  await pipeline(b.stream, req);
  return res;
});
assert.equal(status.code, 201, `Put Blob of ${SIZE} bytes: ${status.code} ${status.body}`);
assert.equal(await timed("download of the Put Blob blob", () => readBack("put.bin")), b.hash(), "put.bin: sha256");

await cc.delete();
console.log(`ok: ${SIZE} bytes by uploadStream and by one Put Blob, both read back with the same sha256`);
