// SPDX-License-Identifier: Apache-2.0
// The crash test's client (tests/e2e/test_blob_crash.sh), with @azure/storage-blob (unmodified)
// against the development account of crosskeyd --dev-account.
//
//   node blob-crash.mjs upload DATA JOURNAL STARTED CYCLE
//     Runs concurrent uploaders until the daemon stops answering (the shell kills it with SIGKILL):
//     small Put Blob, 1-8 MiB Put Blob, and Put Block + Put Block List, many of them overwriting
//     names written before (by the same worker, by other workers, or in earlier cycles). Before a
//     request is sent, an "attempt" line with its sequence number, name, sha256 and size is appended
//     to JOURNAL and fsynced; once the service acknowledges it, an "ack" line with the sequence
//     number. STARTED is created once the uploads are under way.
//
//   node blob-crash.mjs verify DATA JOURNAL
//     Checks the rule of docs/data-format.md ("Blob data", Durability) after a restart:
//     (a) every name with an acknowledged write reads back with the content of a write that no
//         acknowledged write has superseded: the last acknowledged one, or one attempted later (in
//         flight at the kill; it may have committed without its acknowledgement reaching us);
//     (b) every visible blob holds one of the contents attempted for its name: nothing torn, half
//         written or unknown.
//     Prints "parts N files M": the number of parts the index should hold for what is visible and
//     staged, from Get Block List (a blob from Put Blob is one part; blocks are one part each), and
//     how many of them are extent files (parts above one 64 KiB segment; smaller ones are inline).
import crypto from "node:crypto";
import fs from "node:fs";

import { BlobServiceClient } from "@azure/storage-blob";

const DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const CONTAINER = "crash";
const WORKERS = 8;
const OWN_NAMES = 5; // per worker: b-<worker>-<i>, overwritten only by that worker
const SHARED_NAMES = 4; // s-<i>, overwritten concurrently by every worker
const MiB = 1024 * 1024;
const SEGMENT = 65536; // docs/data-format.md: parts of at most one segment are inline

const [mode, dir, journalPath, startedPath, cycleArg] = process.argv.slice(2);
const ep = JSON.parse(fs.readFileSync(`${dir}/endpoints.json`, "utf8"));
const devBase = String(ep.blobDev ?? "").replace(/\/+$/, "");
if (!devBase) throw new Error("endpoints.json has no blobDev");
const conn =
  `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${DEV_KEY};` +
  `BlobEndpoint=${devBase}/devstoreaccount1;`;
// No retries: a request that fails at the kill must not be replayed against the next daemon.
const container = BlobServiceClient.fromConnectionString(conn, { retryOptions: { maxTries: 1 } })
  .getContainerClient(CONTAINER);
const sha = (b) => crypto.createHash("sha256").update(b).digest("hex");

function journalOpen() {
  const fd = fs.openSync(journalPath, "a");
  return (obj) => {
    fs.writeSync(fd, JSON.stringify(obj) + "\n");
    fs.fsyncSync(fd);
  };
}

async function upload() {
  const cycle = Number(cycleArg);
  const journal = journalOpen();
  await container.createIfNotExists();
  // Sequence numbers continue across cycles: the journal is shared.
  let seq = 0;
  if (fs.existsSync(journalPath)) {
    for (const line of fs.readFileSync(journalPath, "utf8").split("\n")) {
      if (line) seq = Math.max(seq, JSON.parse(line).seq);
    }
  }
  let stop = false;
  let unexpected = false;
  const deadline = Date.now() + 20000;
  const stats = { attempts: 0, acks: 0, bytes: 0 };

  async function worker(w) {
    const rnd = (n) => crypto.randomInt(n);
    while (!stop && Date.now() < deadline) {
      const name = rnd(3) === 0 ? `s-${rnd(SHARED_NAMES)}` : `b-${w}-${rnd(OWN_NAMES)}`;
      const kind = ["small", "large", "blocks"][rnd(3)];
      const size = kind === "small" ? rnd(64 * 1024) : kind === "large" ? MiB + rnd(7 * MiB) : 2 * MiB + rnd(6 * MiB);
      const body = crypto.randomBytes(size);
      const s = ++seq;
      const bbc = container.getBlockBlobClient(name);
      journal({ t: "attempt", seq: s, cycle, name, sha256: sha(body), size, kind });
      stats.attempts++;
      try {
        if (kind === "blocks") {
          const blockSize = 1 * MiB + rnd(MiB);
          const ids = [];
          const staged = [];
          for (let off = 0, i = 0; off < size; off += blockSize, i++) {
            // Block ids are unique per attempt, so attempts never share staged blocks.
            const id = Buffer.from(`${String(s).padStart(8, "0")}-${String(i).padStart(6, "0")}`).toString("base64");
            ids.push(id);
            const chunk = body.subarray(off, Math.min(size, off + blockSize));
            staged.push(bbc.stageBlock(id, chunk, chunk.length));
            if (staged.length === 2) await Promise.all(staged.splice(0));
          }
          await Promise.all(staged);
          await bbc.commitBlockList(ids);
        } else {
          await bbc.upload(body, size);
        }
      } catch (e) {
        // Put Block List discards the blob's other uncommitted blocks, so a worker committing a
        // shared name can void the blocks another worker staged for it: the service answers 400
        // InvalidBlockList, as Azure does. The attempt stays unacknowledged; nothing else is.
        if (e.statusCode === 400 && e.code === "InvalidBlockList" && name.startsWith("s-")) continue;
        stop = true; // the daemon is gone: every worker stops
        if (e.statusCode !== undefined) {
          console.error(`upload ${name} (seq ${s}, ${kind}): ${e.statusCode} ${e.code ?? ""} ${e.message}`);
          unexpected = true;
        }
        return;
      }
      journal({ t: "ack", seq: s, name });
      stats.acks++;
      stats.bytes += size;
      if (stats.acks === 1) fs.writeFileSync(startedPath, "");
    }
  }
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  console.log(`cycle ${cycle}: ${stats.attempts} writes attempted, ${stats.acks} acknowledged (${(stats.bytes / MiB).toFixed(1)} MiB)`);
  // Exit status 2: the service answered a write with an error (not a dropped connection).
  if (unexpected) process.exit(2);
}

async function readAll(bbc) {
  const r = await bbc.download();
  const h = crypto.createHash("sha256");
  let n = 0;
  for await (const chunk of r.readableStreamBody) {
    h.update(chunk);
    n += chunk.length;
  }
  if (n !== r.contentLength) throw new Error(`${bbc.name}: ${n} bytes read, Content-Length ${r.contentLength}`);
  return h.digest("hex");
}

async function verify() {
  const lines = fs.readFileSync(journalPath, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  // Per name: every attempt with its journal position and, if acknowledged, the ack's position.
  const byName = new Map();
  const bySeq = new Map();
  lines.forEach((l, pos) => {
    if (l.t === "attempt") {
      const a = { ...l, pos, ackPos: -1 };
      bySeq.set(l.seq, a);
      if (!byName.has(l.name)) byName.set(l.name, []);
      byName.get(l.name).push(a);
    } else {
      bySeq.get(l.seq).ackPos = pos;
    }
  });
  const failures = [];
  const fail = (m) => {
    failures.push(m);
    console.error(`FAIL: ${m}`);
  };

  const visible = new Map();
  for await (const b of container.listBlobsFlat()) visible.set(b.name, b);

  let checked = 0;
  let inFlight = 0;
  for (const [name, attempts] of byName) {
    const acked = attempts.filter((a) => a.ackPos >= 0);
    // A write is superseded by an acknowledged write to the same name that was sent after it
    // ended: after its acknowledgement, or, if it was never acknowledged, after the kill that
    // ended it (a later cycle). Within a cycle an unacknowledged write may land at any time
    // before the kill, so it can still win over writes acknowledged meanwhile.
    const superseded = (a) => acked.some((b) => (a.ackPos >= 0 ? b.pos > a.ackPos : b.cycle > a.cycle));
    if (!visible.has(name)) {
      if (acked.length) fail(`${name}: acknowledged (seq ${acked.map((a) => a.seq).join(",")}) but not listed`);
      continue;
    }
    let got;
    try {
      got = await readAll(container.getBlockBlobClient(name));
    } catch (e) {
      fail(`${name}: listed, but reading it fails: ${e.statusCode ?? ""} ${e.code ?? ""} ${e.message}`);
      continue;
    }
    const size = visible.get(name).properties.contentLength;
    checked++;
    const match = attempts.filter((a) => a.sha256 === got);
    if (!match.length) {
      fail(`${name}: content (sha256 ${got}, ${size} bytes) is none of the ${attempts.length} attempted`);
    } else if (acked.length && !match.some((a) => !superseded(a))) {
      const last = acked[acked.length - 1];
      fail(`${name}: reads back as seq ${match.map((a) => a.seq).join(",")}, superseded by acknowledged seq ${last.seq}`);
    } else if (!match.some((a) => a.ackPos >= 0)) {
      inFlight++; // committed by the service, but the kill came before the acknowledgement
    }
  }
  for (const name of visible.keys()) {
    if (!byName.has(name)) fail(`${name}: listed but never written`);
  }

  // Parts the index should hold: one per part of each visible blob, one per staged block; and how
  // many of them are files (a part of at most one segment, 64 KiB, is kept inline in the index).
  let parts = 0;
  let fileParts = 0;
  const count = (size) => {
    parts++;
    if (size > SEGMENT) fileParts++;
  };
  for (const name of byName.keys()) {
    const bl = await container.getBlockBlobClient(name).getBlockList("all").catch((e) => {
      if (e.statusCode === 404) return null;
      throw e;
    });
    if (bl === null) continue;
    for (const b of bl.uncommittedBlocks ?? []) count(b.size);
    if (!visible.has(name)) continue;
    if (bl.committedBlocks?.length) {
      for (const b of bl.committedBlocks) count(b.size);
    } else {
      count(visible.get(name).properties.contentLength); // one Put Blob: one part
    }
  }
  const acks = lines.filter((l) => l.t === "ack").length;
  console.log(`verified ${checked} visible blobs of ${byName.size} names (${acks} acknowledged writes in the journal; ${inFlight} hold a write committed but not acknowledged)`);
  console.log(`parts ${parts} files ${fileParts}`);
  process.exit(failures.length ? 1 : 0);
}

if (mode === "upload") await upload();
else if (mode === "verify") await verify();
else throw new Error(`unknown mode ${mode}`);
