// SPDX-License-Identifier: Apache-2.0
// @azure/storage-blob (unmodified) against crosskeyd --dev-account: the well-known development
// account on the plain-HTTP loopback listener, through a connection string written for Azurite.
// Containers, blobs, blocks, ranges, metadata, listings with paging, conditions, SAS, copy and
// special names; every uploaded byte is checked on the way back.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { Readable } from "node:stream";
import { test } from "node:test";

import {
  BlobSASPermissions,
  BlobServiceClient,
  ContainerSASPermissions,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";

import { endpoints, record, uniq } from "./lib.mjs";

const DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const devBase = String(endpoints.blobDev ?? "").replace(/\/+$/, "");
const CONN =
  `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${DEV_KEY};` +
  `BlobEndpoint=${devBase}/devstoreaccount1;`;
const opts = { retryOptions: { maxTries: 2, retryDelayInMs: 100 } };
const svc = () => BlobServiceClient.fromConnectionString(CONN, opts);
const MARK = "crosskey-plaintext-marker-";
// The scan after the suite (secrets-scan.test.mjs) must find none of these under the data directory.
record("blobPlaintext", MARK + "dev");
record("metadataValue", "metadata-marker-blue-7f3a");

async function newContainer(prefix = "c") {
  const cc = svc().getContainerClient(`${prefix}${uniq()}`);
  await cc.create();
  return cc;
}

async function drain(stream) {
  const parts = [];
  for await (const chunk of stream) parts.push(chunk);
  return Buffer.concat(parts);
}

// Random bytes with a distinctive marker at the front, so that the data-directory scan can look
// for it.
function payload(n) {
  const b = crypto.randomBytes(n);
  Buffer.from(MARK + "dev").copy(b, 0);
  return b;
}

test("the dev listener is configured", () => {
  assert.ok(devBase.startsWith("http://127.0.0.1:"), `endpoints.blobDev: ${devBase}`);
});

test("containers: create, exists, properties, metadata, duplicate, delete", async () => {
  const cc = await newContainer();
  assert.equal(await cc.exists(), true);
  await assert.rejects(cc.create(), (e) => e.statusCode === 409 && e.code === "ContainerAlreadyExists");
  await cc.setMetadata({ owner: "alice", Project_1: "x y" });
  const p = await cc.getProperties();
  assert.deepEqual(p.metadata, { owner: "alice", project_1: "x y" });
  assert.ok(p.etag && p.lastModified);
  await cc.delete();
  assert.equal(await cc.exists(), false);
  await assert.rejects(cc.delete(), (e) => e.statusCode === 404 && e.code === "ContainerNotFound");
});

test("list containers: prefix, metadata and paging", async () => {
  const prefix = `p${uniq()}`;
  const names = [];
  for (let i = 0; i < 5; i++) {
    const cc = svc().getContainerClient(`${prefix}-${i}`);
    await cc.create({ metadata: { n: String(i) } });
    names.push(cc.containerName);
  }
  const seen = [];
  let pages = 0;
  for await (const page of svc().listContainers({ prefix, includeMetadata: true }).byPage({ maxPageSize: 2 })) {
    pages++;
    for (const c of page.containerItems) {
      seen.push(c.name);
      assert.equal(c.metadata.n, c.name.split("-")[1]);
    }
  }
  assert.deepEqual(seen, names);
  assert.equal(pages, 3);
});

test("blobs: upload, download, properties, metadata, content settings", async () => {
  const cc = await newContainer();
  const bb = cc.getBlockBlobClient("dir/a.txt");
  const data = payload(1000);
  const up = await bb.upload(data, data.length, {
    metadata: { color: "blue", marker: "metadata-marker-blue-7f3a" },
    blobHTTPHeaders: { blobContentType: "text/plain", blobCacheControl: "no-cache" },
  });
  assert.equal(up.isServerEncrypted, true);
  assert.equal(Buffer.from(up.contentMD5).toString("hex"), crypto.createHash("md5").update(data).digest("hex"));
  const dl = await bb.download();
  assert.deepEqual(await drain(dl.readableStreamBody), data);
  assert.equal(dl.contentType, "text/plain");
  assert.equal(dl.isServerEncrypted, true);
  assert.deepEqual(dl.metadata, { color: "blue", marker: "metadata-marker-blue-7f3a" });
  const props = await bb.getProperties();
  assert.equal(props.contentLength, 1000);
  assert.equal(props.cacheControl, "no-cache");
  assert.equal(props.blobType, "BlockBlob");
  assert.equal(props.etag, up.etag);
  await bb.setMetadata({ shape: "round" });
  // A whole blob that is nothing but the marker: the scan looks for it verbatim.
  await cc.getBlockBlobClient("marker.txt").upload(MARK + "dev-whole-blob", (MARK + "dev-whole-blob").length);
  assert.deepEqual((await bb.getProperties()).metadata, { shape: "round" });
  await bb.setHTTPHeaders({ blobContentType: "application/json" });
  const p2 = await bb.getProperties();
  assert.equal(p2.contentType, "application/json");
  assert.equal(p2.cacheControl, undefined);
  assert.deepEqual(await bb.downloadToBuffer(), data);
  const empty = cc.getBlockBlobClient("empty");
  await empty.upload(Buffer.alloc(0), 0);
  assert.equal((await empty.downloadToBuffer()).length, 0);
  assert.equal((await empty.getProperties()).contentLength, 0);
});

test("ranges: download with offsets, open ranges, and out of range", async () => {
  const cc = await newContainer();
  const bb = cc.getBlockBlobClient("r");
  const data = payload(300 * 1024 + 17); // several 64 KiB segments
  await bb.upload(data, data.length);
  for (const [off, count] of [[0, 1], [1, 10], [65535, 2], [65536, 65536], [100000, 200000], [300 * 1024, 17]]) {
    const r = await bb.download(off, count);
    assert.deepEqual(await drain(r.readableStreamBody), data.subarray(off, off + count), `range ${off}+${count}`);
    assert.equal(r.contentRange, `bytes ${off}-${off + count - 1}/${data.length}`);
  }
  const tail = await bb.download(307000);
  assert.deepEqual(await drain(tail.readableStreamBody), data.subarray(307000));
  await assert.rejects(bb.download(data.length + 5, 10), (e) => e.statusCode === 416);
  const md5 = await bb.download(10, 100, { rangeGetContentMD5: true });
  assert.equal(
    Buffer.from(md5.contentMD5).toString("hex"),
    crypto.createHash("md5").update(data.subarray(10, 110)).digest("hex"),
  );
});

test("uploadData of 64 MiB stages blocks in parallel; downloadToBuffer reads ranges in parallel", async () => {
  const cc = await newContainer();
  const bb = cc.getBlockBlobClient("big");
  const data = payload(64 * 1024 * 1024);
  await bb.uploadData(data, { blockSize: 4 * 1024 * 1024, maxSingleShotSize: 4 * 1024 * 1024, concurrency: 5 });
  const list = await bb.getBlockList("all");
  assert.equal(list.committedBlocks.length, 16);
  assert.equal(list.uncommittedBlocks.length, 0);
  const back = await bb.downloadToBuffer(undefined, undefined, { blockSize: 4 * 1024 * 1024, concurrency: 5 });
  assert.ok(back.equals(data));
  const whole = await drain((await bb.download()).readableStreamBody);
  assert.ok(whole.equals(data));
});

test("uploadStream; stageBlock, getBlockList and commitBlockList", async () => {
  const cc = await newContainer();
  const bb = cc.getBlockBlobClient("stream");
  const data = payload(3 * 1024 * 1024 + 5);
  await bb.uploadStream(Readable.from([data.subarray(0, 1000000), data.subarray(1000000)]), 1024 * 1024, 3);
  assert.ok((await bb.downloadToBuffer()).equals(data));

  const b2 = cc.getBlockBlobClient("blocks");
  const id = (i) => Buffer.from(`block-${String(i).padStart(6, "0")}`).toString("base64");
  await b2.stageBlock(id(1), Buffer.from("hello "), 6);
  await b2.stageBlock(id(2), Buffer.from("world"), 5);
  const staged = await b2.getBlockList("uncommitted");
  assert.deepEqual(staged.uncommittedBlocks.map((b) => [b.name, b.size]), [[id(1), 6], [id(2), 5]]);
  await assert.rejects(b2.getProperties(), (e) => e.statusCode === 404);
  await b2.commitBlockList([id(2), id(1)]);
  assert.equal((await b2.downloadToBuffer()).toString(), "worldhello ");
  // Re-use a committed block, add a new one.
  await b2.stageBlock(id(3), Buffer.from("!"), 1);
  await b2.commitBlockList([id(1), id(3)]);
  assert.equal((await b2.downloadToBuffer()).toString(), "hello !");
  await assert.rejects(b2.commitBlockList([id(9)]), (e) => e.statusCode === 400 && e.code === "InvalidBlockList");
  assert.equal((await b2.downloadToBuffer()).toString(), "hello !");
});

test("listing: flat and hierarchical, with metadata and paging", async () => {
  const cc = await newContainer();
  const names = ["a", "b/1", "b/2", "b/c/3", "d", "e/4"];
  for (const n of names) await cc.getBlockBlobClient(n).upload("x", 1, { metadata: { name: n.replace(/\//g, "_") } });
  const flat = [];
  for await (const page of cc.listBlobsFlat({ includeMetadata: true }).byPage({ maxPageSize: 4 })) {
    for (const b of page.segment.blobItems) {
      flat.push(b.name);
      assert.equal(b.metadata.name, b.name.replace(/\//g, "_"));
      assert.equal(b.properties.serverEncrypted, true);
      assert.equal(b.properties.contentLength, 1);
    }
  }
  assert.deepEqual(flat, names);
  const top = [];
  for await (const page of cc.listBlobsByHierarchy("/").byPage({ maxPageSize: 2 })) {
    for (const p of page.segment.blobPrefixes ?? []) top.push(`prefix:${p.name}`);
    for (const b of page.segment.blobItems) top.push(b.name);
  }
  assert.deepEqual(top.sort(), ["a", "d", "prefix:b/", "prefix:e/"].sort());
  const inB = [];
  for await (const item of cc.listBlobsByHierarchy("/", { prefix: "b/" })) inB.push(item.kind + ":" + item.name);
  assert.deepEqual(inB.sort(), ["blob:b/1", "blob:b/2", "prefix:b/c/"]);
});

test("conditions: If-Match, If-None-Match, If-Modified-Since on reads and writes", async () => {
  const cc = await newContainer();
  const bb = cc.getBlockBlobClient("cond");
  const first = await bb.upload("v1", 2);
  await assert.rejects(
    bb.upload("v2", 2, { conditions: { ifNoneMatch: "*" } }),
    (e) => e.statusCode === 409 && e.code === "BlobAlreadyExists",
  );
  await assert.rejects(
    bb.upload("v2", 2, { conditions: { ifMatch: '"0x8D000000000000"' } }),
    (e) => e.statusCode === 412 && e.code === "ConditionNotMet",
  );
  const second = await bb.upload("v2", 2, { conditions: { ifMatch: first.etag } });
  assert.notEqual(second.etag, first.etag);
  await assert.rejects(bb.getProperties({ conditions: { ifNoneMatch: second.etag } }), (e) => e.statusCode === 304);
  await assert.rejects(bb.download(0, undefined, { conditions: { ifMatch: first.etag } }), (e) => e.statusCode === 412);
  const future = new Date(Date.now() + 3600e3);
  await assert.rejects(bb.getProperties({ conditions: { ifModifiedSince: future } }), (e) => e.statusCode === 304);
  await assert.rejects(
    bb.setMetadata({ a: "b" }, { conditions: { ifUnmodifiedSince: new Date(Date.now() - 3600e3) } }),
    (e) => e.statusCode === 412,
  );
  await assert.rejects(bb.delete({ conditions: { ifMatch: first.etag } }), (e) => e.statusCode === 412);
  assert.equal((await bb.downloadToBuffer()).toString(), "v2");
  await bb.delete({ conditions: { ifMatch: second.etag } });
  assert.equal(await bb.exists(), false);
  assert.equal(await bb.deleteIfExists().then((r) => r.succeeded), false);
});

test("SAS URLs from generateSasUrl: container and blob, permissions and expiry", async () => {
  const cc = await newContainer();
  const bb = cc.getBlockBlobClient("sas.txt");
  await bb.upload("secret", 6);
  const cred = new StorageSharedKeyCredential("devstoreaccount1", DEV_KEY);
  const expiresOn = new Date(Date.now() + 3600e3);
  const readUrl = await bb.generateSasUrl({ permissions: BlobSASPermissions.parse("r"), expiresOn });
  const { BlobClient, ContainerClient, BlockBlobClient } = await import("@azure/storage-blob");
  assert.equal((await new BlobClient(readUrl, undefined, opts).downloadToBuffer()).toString(), "secret");
  await assert.rejects(
    new BlockBlobClient(readUrl, undefined, opts).upload("x", 1),
    (e) => e.statusCode === 403 && e.code === "AuthorizationPermissionMismatch",
  );
  const rcUrl = await bb.generateSasUrl({
    permissions: BlobSASPermissions.parse("r"),
    expiresOn,
    contentDisposition: "attachment; filename=s.txt",
    contentType: "text/x-test",
  });
  const withOverrides = await new BlobClient(rcUrl, undefined, opts).download();
  assert.equal(withOverrides.contentDisposition, "attachment; filename=s.txt");
  assert.equal(withOverrides.contentType, "text/x-test");
  const expired = await bb.generateSasUrl({
    permissions: BlobSASPermissions.parse("r"),
    startsOn: new Date(Date.now() - 7200e3),
    expiresOn: new Date(Date.now() - 3600e3),
  });
  await assert.rejects(new BlobClient(expired, undefined, opts).download(), (e) => e.statusCode === 403);
  const altered = readUrl.replace(/sp=r/, "sp=rw");
  await assert.rejects(new BlobClient(altered, undefined, opts).download(), (e) => e.statusCode === 403);
  const contUrl = await cc.generateSasUrl({ permissions: ContainerSASPermissions.parse("racwdl"), expiresOn });
  const viaSas = new ContainerClient(contUrl, undefined, opts);
  await viaSas.getBlockBlobClient("by-sas").upload("y", 1);
  const names = [];
  for await (const b of viaSas.listBlobsFlat()) names.push(b.name);
  assert.deepEqual(names, ["by-sas", "sas.txt"]);
  void cred;
});

test("copy within the account, and special characters in names", async () => {
  const cc = await newContainer();
  const names = ["a b.txt", "ü/ñ/ø.bin", "q?x=1&y#z", "percent%20kept", "plus+sign", "日本語"];
  for (const n of names) {
    const bb = cc.getBlockBlobClient(n);
    await bb.upload(n, Buffer.byteLength(n), { metadata: { k: "v" } });
    assert.equal((await bb.downloadToBuffer()).toString(), n, n);
  }
  const listed = [];
  for await (const b of cc.listBlobsFlat()) listed.push(b.name);
  assert.deepEqual(listed.sort(), [...names].sort());
  const src = cc.getBlockBlobClient("a b.txt");
  const dst = cc.getBlockBlobClient("copy of a b.txt");
  const poller = await dst.beginCopyFromURL(src.url);
  const res = await poller.pollUntilDone();
  assert.equal(res.copyStatus, "success");
  assert.equal((await dst.downloadToBuffer()).toString(), "a b.txt");
  assert.deepEqual((await dst.getProperties()).metadata, { k: "v" });
});

test("bad input: bad Shared Key, missing container, bad block id, malformed block list", async () => {
  const bad = BlobServiceClient.fromConnectionString(CONN.replace(DEV_KEY, Buffer.alloc(64, 1).toString("base64")), opts);
  await assert.rejects(bad.getContainerClient("nope").create(), (e) => e.statusCode === 403 && e.code === "AuthenticationFailed");
  const cc = svc().getContainerClient(`missing${uniq()}`);
  await assert.rejects(cc.getBlockBlobClient("x").upload("x", 1), (e) => e.statusCode === 404 && e.code === "ContainerNotFound");
  await assert.rejects(cc.getBlockBlobClient("x").download(), (e) => e.statusCode === 404 && e.code === "ContainerNotFound");
  const real = await newContainer();
  await assert.rejects(real.getBlockBlobClient("x").download(), (e) => e.statusCode === 404 && e.code === "BlobNotFound");
  await assert.rejects(real.getBlockBlobClient("x").stageBlock("!!!", Buffer.from("a"), 1), (e) => e.statusCode === 400);
  await assert.rejects(
    real.getBlockBlobClient("x").upload("abc", 3, { metadata: { "bad-name": "v" } }),
    (e) => e.statusCode === 400,
  );
  assert.equal(await real.getBlockBlobClient("x").exists(), false);
  await assert.rejects(svc().getContainerClient("Bad_Name").create(), (e) => e.statusCode === 400);
});

// Every combination of the four conditional headers on reads (HEAD, GET) and writes (Set Metadata,
// Delete): 4 x 4 x 3 x 3 = 144 combinations per operation, each compared with the documented rules
// of the Blob service ("Specifying conditional headers for Blob service operations"). Reads:
// If-Match and If-Unmodified-Since must hold (412), and If-None-Match or If-Modified-Since when
// given (304 only when neither holds); If-None-Match: * on a read is 400. Writes: one header, or
// the pairs If-Match + If-Unmodified-Since and If-None-Match + If-Modified-Since (anything else is
// 400), the ETag header deciding within a pair; failure is 412. Nothing changes when a write is
// refused.
test("conditional headers: every combination on reads and writes", async () => {
  const cc = await newContainer("cond");
  const bb = cc.getBlockBlobClient("m");
  await bb.upload("matrix", 6);
  let props = await bb.getProperties();
  const other = '"0x8D0000000000001"';
  const matchOpts = (etag) => [undefined, etag, other, "*"];
  const lmOpts = (lm) => [undefined, new Date(lm.getTime() - 10e3), new Date(lm.getTime() + 10e3)];
  const etagIn = (h, etag) => h === "*" || h === etag;
  function expected(c, etag, lm, read) {
    const has = (k) => c[k] !== undefined;
    if (read) {
      if (c.ifNoneMatch === "*") return 400;
      if (has("ifMatch") && !etagIn(c.ifMatch, etag)) return 412;
      if (has("ifUnmodifiedSince") && lm > c.ifUnmodifiedSince) return 412;
      const inm = has("ifNoneMatch") ? !etagIn(c.ifNoneMatch, etag) : undefined;
      const ims = has("ifModifiedSince") ? lm > c.ifModifiedSince : undefined;
      if ((inm === false && ims !== true) || (ims === false && inm !== true)) return 304;
      return 200;
    }
    const n = ["ifMatch", "ifNoneMatch", "ifModifiedSince", "ifUnmodifiedSince"].filter(has).length;
    if (n > 2 || (n === 2 && has("ifNoneMatch") + has("ifModifiedSince") === 1)) return 400;
    if (has("ifNoneMatch")) return etagIn(c.ifNoneMatch, etag) ? 412 : 0;
    if (has("ifMatch")) return etagIn(c.ifMatch, etag) ? 0 : 412;
    if (has("ifModifiedSince") && lm <= c.ifModifiedSince) return 412;
    if (has("ifUnmodifiedSince") && lm > c.ifUnmodifiedSince) return 412;
    return 0;
  }
  const ops = [
    ["HEAD", true, (c) => bb.getProperties({ conditions: c })],
    ["GET", true, (c) => bb.download(0, undefined, { conditions: c }).then(async (r) => { await drain(r.readableStreamBody); return r; })],
    ["SetMetadata", false, (c) => bb.setMetadata({ n: "1" }, { conditions: c })],
    ["Delete", false, (c) => bb.delete({ conditions: c })],
  ];
  let checked = 0;
  for (const [name, read, op] of ops) {
    for (const ifMatch of matchOpts(props.etag))
      for (const ifNoneMatch of matchOpts(props.etag))
        for (const ifModifiedSince of lmOpts(props.lastModified))
          for (const ifUnmodifiedSince of lmOpts(props.lastModified)) {
            const c = { ifMatch, ifNoneMatch, ifModifiedSince, ifUnmodifiedSince };
            const want = expected(c, props.etag, props.lastModified, read);
            let got;
            try {
              await op(c);
              got = read ? 200 : 0;
            } catch (e) {
              got = e.statusCode;
            }
            assert.equal(got, want, `${name} ${JSON.stringify(c)}`);
            checked++;
            if (!read && got === 0) {
              // The write happened: put the blob back as it was for the next combination.
              if (name === "Delete") await bb.upload("matrix", 6);
              props = await bb.getProperties();
            } else if (!read) {
              const now = await bb.getProperties();
              assert.equal(now.etag, props.etag, `${name} refused but the blob changed`);
            }
          }
  }
  assert.equal(checked, 4 * 144);
});
