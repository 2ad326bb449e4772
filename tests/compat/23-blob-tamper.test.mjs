// SPDX-License-Identifier: Apache-2.0
// Encryption at rest, seen from the SDK: tampering with any stored byte of a blob's extent file,
// truncating it, swapping segments inside it, or swapping two blobs' files makes the read fail
// with a server error — never corrupt data. Segments a range does not touch still read. Also the
// request-level bad input of the Blob protocol: absurd ranges, malformed block lists, a newer
// x-ms-version than any SDK sends, oversized metadata; each gets the protocol's error and changes
// nothing.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { test } from "node:test";

import { BlobSASPermissions, BlobServiceClient, ContainerSASPermissions } from "@azure/storage-blob";

import http from "node:http";

import { DATA, endpoints, uniq } from "./lib.mjs";

// One plain-HTTP request to the development listener; resolves {status, headers, text}.
function raw(url, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const buf = body === undefined ? undefined : Buffer.from(String(body));
    const h = { ...headers };
    if (buf !== undefined) h["content-length"] = buf.length;
    const req = http.request(new URL(url), { method, headers: h, timeout: 30_000 }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on("timeout", () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on("error", reject);
    req.end(buf);
  });
}

const DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const devBase = String(endpoints.blobDev ?? "").replace(/\/+$/, "");
const CONN = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${DEV_KEY};BlobEndpoint=${devBase}/devstoreaccount1;`;
const svc = BlobServiceClient.fromConnectionString(CONN, { retryOptions: { maxTries: 1 } });
const EXTENTS = path.join(DATA, "storage", "extents");
const HEADER = 72;
const SEG = 64 * 1024;
const TAG = 16;

function extentFiles() {
  const out = new Set();
  if (!fs.existsSync(EXTENTS)) return out;
  for (const d of fs.readdirSync(EXTENTS)) for (const f of fs.readdirSync(path.join(EXTENTS, d))) out.add(path.join(EXTENTS, d, f));
  return out;
}

// Uploads data as a single Put Blob and returns the new extent file's path.
async function uploadAndFind(bb, data) {
  const before = extentFiles();
  await bb.upload(data, data.length);
  const added = [...extentFiles()].filter((f) => !before.has(f));
  assert.equal(added.length, 1, `one new extent file expected, got ${added.length}`);
  return added[0];
}

async function drain(stream) {
  const parts = [];
  for await (const c of stream) parts.push(c);
  return Buffer.concat(parts);
}

// Reads [off, off+count) and returns the bytes, or the error the SDK raised.
async function read(bb, off = 0, count = undefined) {
  try {
    const r = await bb.download(off, count, { maxRetryRequests: 0 });
    return await drain(r.readableStreamBody);
  } catch (e) {
    return e;
  }
}

const isServerError = (r) => r instanceof Error && (r.statusCode === 500 || r.statusCode === undefined);
const segOffset = (i) => HEADER + i * (SEG + TAG);

test("tampering with one byte of any segment fails the read of that segment; other segments still read", async () => {
  const cc = svc.getContainerClient(`tamper${uniq()}`);
  await cc.create();
  const bb = cc.getBlockBlobClient("t.bin");
  const data = crypto.randomBytes(3 * SEG + 1000); // 4 segments
  const file = await uploadAndFind(bb, data);
  const original = fs.readFileSync(file);
  assert.equal(original.length, HEADER + data.length + 4 * TAG);
  assert.equal(original.includes(data.subarray(0, 32)), false, "ciphertext only");
  for (const seg of [0, 2, 3]) {
    const t = Buffer.from(original);
    t[segOffset(seg) + 5] ^= 0x20;
    fs.writeFileSync(file, t);
    // A read that starts in the damaged segment: a clean 500 before any byte.
    const hit = await read(bb, seg * SEG, 100);
    assert.ok(isServerError(hit), `segment ${seg}: ${hit}`);
    if (hit.statusCode === 500) assert.equal(hit.code, "InternalError");
    // The whole blob: never returned in full.
    const whole = await read(bb);
    assert.ok(whole instanceof Error, `segment ${seg}: a whole read must fail`);
    // A range in an untouched segment still reads correctly.
    const other = seg === 0 ? 1 : 0;
    assert.deepEqual(await read(bb, other * SEG, 1000), data.subarray(other * SEG, other * SEG + 1000));
  }
  // The header (salt, length, part id): every read fails.
  for (const at of [0, 8, 20, 30, 50]) {
    const t = Buffer.from(original);
    t[at] ^= 0x01;
    fs.writeFileSync(file, t);
    assert.ok(isServerError(await read(bb, 0, 10)), `header byte ${at}`);
  }
  fs.writeFileSync(file, original);
  assert.deepEqual(await read(bb), data);
});

test("truncation, extension and swapped segments are caught", async () => {
  const cc = svc.getContainerClient(`trunc${uniq()}`);
  await cc.create();
  const bb = cc.getBlockBlobClient("t.bin");
  const data = crypto.randomBytes(3 * SEG); // 3 full segments
  const file = await uploadAndFind(bb, data);
  const original = fs.readFileSync(file);
  fs.writeFileSync(file, original.subarray(0, original.length - (SEG + TAG))); // last segment gone
  assert.ok(isServerError(await read(bb, 0, 10)));
  fs.writeFileSync(file, Buffer.concat([original, original.subarray(segOffset(2))])); // a segment appended
  assert.ok(isServerError(await read(bb, 0, 10)));
  const swapped = Buffer.from(original);
  original.copy(swapped, segOffset(0), segOffset(1), segOffset(2));
  original.copy(swapped, segOffset(1), segOffset(0), segOffset(1));
  fs.writeFileSync(file, swapped);
  assert.ok(isServerError(await read(bb, 0, 10)));
  assert.ok(isServerError(await read(bb, SEG, 10)));
  assert.deepEqual(await read(bb, 2 * SEG, 10), data.subarray(2 * SEG, 2 * SEG + 10));
  fs.writeFileSync(file, original);
  assert.deepEqual(await read(bb), data);
});

test("two blobs' extent files swapped: neither reads, and no data crosses over", async () => {
  const cc = svc.getContainerClient(`swap${uniq()}`);
  await cc.create();
  const a = cc.getBlockBlobClient("a"), b = cc.getBlockBlobClient("b");
  const da = crypto.randomBytes(70000), db = crypto.randomBytes(70000); // above the inline limit: files
  const fa = await uploadAndFind(a, da), fb = await uploadAndFind(b, db);
  const ba = fs.readFileSync(fa), bbuf = fs.readFileSync(fb);
  fs.writeFileSync(fa, bbuf);
  fs.writeFileSync(fb, ba);
  assert.ok(isServerError(await read(a)));
  assert.ok(isServerError(await read(b)));
  // Even with the index's salt check passed (headers put back), the segments belong to another blob.
  const mixed = Buffer.concat([ba.subarray(0, HEADER), bbuf.subarray(HEADER)]);
  fs.writeFileSync(fa, mixed);
  assert.ok(isServerError(await read(a)));
  fs.writeFileSync(fa, ba);
  fs.writeFileSync(fb, bbuf);
  assert.deepEqual(await read(a), da);
  assert.deepEqual(await read(b), db);
});

test("bad input gets the protocol's error and changes nothing", async () => {
  const cc = svc.getContainerClient(`bad${uniq()}`);
  await cc.create();
  const bb = cc.getBlockBlobClient("x");
  await bb.upload("0123456789", 10);
  const etag = (await bb.getProperties()).etag;
  const blobSas = await bb.generateSasUrl({ permissions: BlobSASPermissions.parse("rw"), expiresOn: new Date(Date.now() + 3600e3) });
  const v = "2026-04-06";
  // Ranges: beyond the end, inverted, garbage.
  let r = await raw(blobSas, { headers: { "x-ms-version": v, "x-ms-range": "bytes=100-200" } });
  assert.equal(r.status, 416);
  assert.equal(r.headers["x-ms-error-code"], "InvalidRange");
  assert.equal(r.headers["content-range"], "bytes */10");
  r = await raw(blobSas, { headers: { "x-ms-version": v, "x-ms-range": "bytes=5-2" } });
  assert.equal(r.status, 400);
  r = await raw(blobSas, { headers: { "x-ms-version": v, "x-ms-range": "bytes=99999999999999999999999-" } });
  assert.equal(r.status, 400);
  r = await raw(blobSas, { headers: { "x-ms-version": v, range: "chars=1-2" } });
  assert.equal(r.status, 400);
  assert.match(r.text, /<Error><Code>InvalidHeaderValue<\/Code>/);
  // A version newer than any SDK sends is served, not refused.
  r = await raw(blobSas, { headers: { "x-ms-version": "2099-12-31" } });
  assert.equal(r.status, 200);
  assert.equal(r.text, "0123456789");
  // Malformed block lists.
  const contSas = await cc.generateSasUrl({ permissions: ContainerSASPermissions.parse("rwl"), expiresOn: new Date(Date.now() + 3600e3) });
  const [base, q] = contSas.split("?");
  const listUrl = `${base}/x?comp=blocklist&${q}`;
  for (const body of [
    "<BlockList><Latest>not base64!</Latest></BlockList>",
    "<BlockList><Latest>AAAA</Latest>",
    "<Other/>",
    '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">]><BlockList><Latest>&a;</Latest></BlockList>',
    "",
  ]) {
    r = await raw(listUrl, { method: "PUT", headers: { "x-ms-version": v, "content-type": "application/xml" }, body });
    assert.equal(r.status, 400, body);
    assert.equal(r.headers["x-ms-error-code"], "InvalidXmlDocument", body);
  }
  // Oversized headers: the Blob error below the server's limit of 32 KiB in all, the HTTP stack's
  // 431 beyond its 96 KiB of connection memory; the connection survives neither as a 200.
  r = await raw(blobSas, { headers: { "x-ms-version": v, "x-ms-meta-pad": "p".repeat(40 * 1024) } });
  assert.equal(r.status, 400);
  assert.equal(r.headers["x-ms-error-code"], "InvalidHeaderValue");
  assert.match(r.text, /<Code>InvalidHeaderValue<\/Code>/);
  r = await raw(blobSas, { headers: { "x-ms-version": v, "x-pad": "p".repeat(300 * 1024) } }).catch((e) => ({ status: e.code }));
  assert.ok(r.status === 431 || r.status === "ECONNRESET" || r.status === "EPIPE", String(r.status));
  // Metadata over 8 KiB.
  await assert.rejects(bb.setMetadata({ big: "x".repeat(9000) }), (e) => e.statusCode === 400);
  // Nothing changed.
  const after = await bb.getProperties();
  assert.equal(after.etag, etag);
  assert.deepEqual(after.metadata, {});
  assert.equal((await bb.downloadToBuffer()).toString(), "0123456789");
});
