// SPDX-License-Identifier: Apache-2.0
// DESIGN.md section 6, invariant 1, for the vault: no private key material and no unwrapped key
// in clear under the data directory or in the daemon log. This file imports RSA and EC keys whose
// private parts it knows (d, p, q, dp, dq, qi), uses them, and then scans every file under DIR
// (SQLite files, their WAL and journals, everything) for those parts and for the plaintexts the
// vault returned, as raw bytes, base64, base64url and hex. The parts recorded by the other
// Key Vault files (11, 12: kind privateKeyPart / unwrapPlaintext in issued.jsonl) are scanned too.
// secrets-scan.test.mjs then looks for the same values once more, after the daemon has stopped.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

import { DATA, ISSUED, LOG, record, uniq } from "./lib.mjs";
import { b64u, cryptoClient, customerVault, makeKeyPair, prepare, publicKeyOf, recordPrivate } from "./kvlib.mjs";

const tag = uniq();
const s = { plaintexts: [] };

const { it } = await prepare("customer vault with imported RSA and EC keys", async () => {
  s.V = await customerVault(tag, { purgeProtection: false, retentionDays: 7, prefix: "kvs" });
  s.pairs = {};
  for (const kind of ["RSA-2048", "RSA-4096", "P-256", "P-521"]) {
    const pair = makeKeyPair(kind);
    recordPrivate(pair);
    s.pairs[kind] = { pair, key: await s.V.kc.importKey(`scan-${kind.toLowerCase()}`, pair.jwk) };
  }
});

it("use the imported keys: unwrap, decrypt, sign; rotate, delete and recover one", async () => {
  for (const kind of ["RSA-2048", "RSA-4096"]) {
    const { key } = s.pairs[kind];
    const cc = cryptoClient(key.id, s.V.cred);
    for (const alg of ["RSA-OAEP", "RSA-OAEP-256"]) {
      const cek = crypto.randomBytes(32);
      const w = crypto.publicEncrypt({ key: publicKeyOf(key), oaepHash: alg === "RSA-OAEP" ? "sha1" : "sha256" }, cek);
      const u = await cc.unwrapKey(alg, w);
      assert.deepEqual(Buffer.from(u.result), cek);
      s.plaintexts.push(cek);
      const pt = crypto.randomBytes(48);
      const d = await cc.decrypt({ algorithm: alg, ciphertext: crypto.publicEncrypt({ key: publicKeyOf(key), oaepHash: alg === "RSA-OAEP" ? "sha1" : "sha256" }, pt) });
      assert.deepEqual(Buffer.from(d.result), pt);
      s.plaintexts.push(pt);
    }
    await cc.signData("PS256", Buffer.from("scan"));
  }
  for (const [kind, alg] of [["P-256", "ES256"], ["P-521", "ES512"]]) {
    await cryptoClient(s.pairs[kind].key.id, s.V.cred).signData(alg, Buffer.from("scan"));
  }
  for (const p of s.plaintexts) record("unwrapPlaintext", b64u(p));
  await s.V.kc.backupKey("scan-rsa-2048");
  const poll = { intervalInMs: 100 };
  await (await s.V.kc.beginDeleteKey("scan-p-256", poll)).pollUntilDone();
  await (await s.V.kc.beginRecoverDeletedKey("scan-p-256", poll)).pollUntilDone();
});

function walk(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Every secret this run recorded (this file's and the other Key Vault files'), as Buffers. */
function secrets() {
  const out = new Map();
  const add = (kind, buf) => {
    if (buf.length >= 16) out.set(buf.toString("hex"), { kind, buf });
  };
  if (fs.existsSync(ISSUED)) {
    for (const line of fs.readFileSync(ISSUED, "utf8").split("\n").filter(Boolean)) {
      const { kind, value } = JSON.parse(line);
      if (kind === "privateKeyPart" || kind === "unwrapPlaintext") add(kind, Buffer.from(value, "base64url"));
    }
  }
  return [...out.values()];
}

function forms(buf) {
  return [
    ["raw", buf],
    ["base64", Buffer.from(buf.toString("base64"))],
    ["base64url", Buffer.from(buf.toString("base64url"))],
    ["hex", Buffer.from(buf.toString("hex"))],
    ["HEX", Buffer.from(buf.toString("hex").toUpperCase())],
    // A leading zero byte dropped or added, as big-number encodings do.
    ["raw without leading zero", buf[0] === 0 ? buf.subarray(1) : buf],
  ];
}

it("no private key part and no unwrapped plaintext in clear under DIR", () => {
  const all = secrets();
  const parts = all.filter((x) => x.kind === "privateKeyPart");
  assert.ok(parts.length >= 14, `too few private parts recorded (${parts.length})`);
  assert.ok(all.some((x) => x.kind === "unwrapPlaintext"), "no plaintext recorded");
  const problems = [];
  for (const f of walk(DATA)) {
    const buf = fs.readFileSync(f);
    const rel = path.relative(DATA, f);
    for (const { kind, buf: v } of all)
      for (const [how, needle] of forms(v))
        if (needle.length >= 16 && buf.includes(needle)) problems.push(`${rel}: ${kind} (${how}, ${v.length} bytes)`);
  }
  assert.deepEqual([...new Set(problems)], []);
});

it("no private key part and no unwrapped plaintext in the daemon log", { skip: !LOG || !fs.existsSync(LOG) }, () => {
  const log = fs.readFileSync(LOG);
  const problems = [];
  for (const { kind, buf: v } of secrets())
    for (const [how, needle] of forms(v)) if (needle.length >= 16 && log.includes(needle)) problems.push(`log: ${kind} (${how})`);
  assert.deepEqual([...new Set(problems)], []);
});
