// SPDX-License-Identifier: Apache-2.0
// DESIGN.md section 6, invariant 1: no client secret, managed-identity header, access token or
// private key appears in clear anywhere under the data directory (SQLite files, their WAL and
// journals, TLS files, everything). DIR/secrets/ is the documented exception: it holds the
// operator, resource-provider and master keys by design (docs/internal-api.md).
// Also the daemon log: it must carry no secret, token or query string.
// run.sh runs this file last while the daemon is up, and once more after it stopped.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import test from "node:test";

import { DATA, ISSUED, LOG } from "./lib.mjs";

function walk(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

const issued = fs.existsSync(ISSUED)
  ? [...new Map(fs.readFileSync(ISSUED, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)).map((x) => [x.value, x])).values()]
  : [];

/** The forms a value could be stored in: as is, base64, base64url, hex. */
function forms(v) {
  const b = Buffer.from(v);
  return [
    ["as issued", b],
    ["base64", Buffer.from(b.toString("base64"))],
    ["base64url", Buffer.from(b.toString("base64url"))],
    ["hex", Buffer.from(b.toString("hex"))],
  ];
}

const PEM_PRIVATE = /-----BEGIN (RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----/;
const JWK_PRIVATE = /"(d|p|q|dp|dq|qi)"\s*:\s*"[A-Za-z0-9_-]{40,}"/;
// DER headers of unencrypted RSA private keys: PKCS#8 rsaEncryption PrivateKeyInfo, and PKCS#1
// RSAPrivateKey with a 2048/3072/4096-bit modulus.
const DER_PRIVATE = [
  "020100300d06092a864886f70d010101050004",
  "0201000282010100",
  "0201000282018100",
  "0201000282020100",
].map((h) => Buffer.from(h, "hex"));

test("the suite recorded what it must look for", () => {
  assert.ok(issued.some((x) => x.kind === "clientSecret"), "no client secret recorded");
  if (!process.env.CK_TESTS) {
    assert.ok(issued.some((x) => x.kind === "accessToken"), "no access token recorded");
    assert.ok(issued.some((x) => x.kind === "identityHeader"), "no identityHeader recorded");
  }
});

test(`no secret, token or private key in clear under the data directory${process.env.CK_DAEMON_STOPPED ? " (daemon stopped)" : ""}`, () => {
  const files = walk(DATA);
  assert.ok(files.length > 0, "empty data directory");
  const inSecrets = (f) => path.relative(DATA, f).split(path.sep)[0] === "secrets";
  const problems = [];
  for (const f of files) {
    if (inSecrets(f)) continue;
    const buf = fs.readFileSync(f);
    const rel = path.relative(DATA, f);
    for (const { kind, value } of issued) {
      for (const [how, needle] of forms(value)) if (buf.includes(needle)) problems.push(`${rel}: ${kind} (${how})`);
      if (kind === "accessToken") {
        const sig = value.split(".")[2];
        if (sig && sig.length > 40 && buf.includes(sig)) problems.push(`${rel}: access token signature`);
      }
    }
    const text = buf.toString("latin1");
    if (PEM_PRIVATE.test(text)) problems.push(`${rel}: unencrypted PEM private key`);
    if (JWK_PRIVATE.test(text)) problems.push(`${rel}: JWK private key member`);
    for (const h of DER_PRIVATE) if (buf.includes(h)) problems.push(`${rel}: DER private key header ${h.toString("hex")}`);
  }
  assert.deepEqual(problems, []);
});

test("DIR/secrets/ files are mode 0600 and nothing under DIR is world-readable with secrets", () => {
  const dir = path.join(DATA, "secrets");
  assert.ok(fs.existsSync(dir), "no DIR/secrets");
  for (const f of walk(dir)) {
    const mode = fs.statSync(f).mode & 0o777;
    assert.equal(mode & 0o077, 0, `${path.relative(DATA, f)} has mode ${mode.toString(8)}`);
  }
  const dmode = fs.statSync(dir).mode & 0o777;
  assert.equal(dmode & 0o077, 0, `DIR/secrets has mode ${dmode.toString(8)}`);
});

test("the daemon log holds no secret, token or query string", { skip: !LOG || !fs.existsSync(LOG) }, () => {
  const log = fs.readFileSync(LOG);
  const problems = [];
  for (const { kind, value } of issued) {
    if (log.includes(Buffer.from(value))) problems.push(`log: ${kind}`);
    if (kind === "accessToken") {
      const sig = value.split(".")[2];
      if (sig && sig.length > 40 && log.includes(sig)) problems.push("log: access token signature");
    }
  }
  const text = log.toString("utf8");
  for (const q of ["api-version=", "client-request-id=", "client_id=", "resource=", "client_secret", "client_assertion="])
    if (text.includes(q)) problems.push(`log: query or form text ${q}`);
  assert.deepEqual(problems, []);
});
