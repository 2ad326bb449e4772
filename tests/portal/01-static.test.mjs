// SPDX-License-Identifier: Apache-2.0
// The portal's static mount (src/daemon/portal.c, docs/portal.md): the files are served with the
// right Content-Type, ETag and cache and security headers; /portal redirects to /portal/; path
// traversal in every spelling, unknown files, directories and hidden names answer 404; only GET
// and HEAD are allowed. Raw requests (node:https), so no client normalises the paths first.
import assert from "node:assert/strict";
import fs from "node:fs";
import test from "node:test";

import { DATA, rawRequest } from "./lib.mjs";

const FILES = [
  ["/portal/", /^text\/html; charset=utf-8$/],
  ["/portal/index.html", /^text\/html; charset=utf-8$/],
  ["/portal/portal.css", /^text\/css; charset=utf-8$/],
  ["/portal/js/main.js", /^text\/javascript; charset=utf-8$/],
  ["/portal/js/views/encryption.js", /^text\/javascript; charset=utf-8$/],
  ["/portal/favicon.svg", /^image\/svg\+xml$/],
];

for (const [p, type] of FILES) {
  test(`GET ${p}: 200, ${type.source}, ETag, no-cache, nosniff, CSP`, async () => {
    const r = await rawRequest(p);
    assert.equal(r.status, 200, r.body.slice(0, 200));
    assert.match(r.headers["content-type"], type);
    assert.match(r.headers.etag, /^"[0-9a-f]{16}"$/);
    assert.equal(r.headers["cache-control"], "no-cache");
    assert.equal(r.headers["x-content-type-options"], "nosniff");
    assert.match(r.headers["content-security-policy"], /script-src 'self'/);
    assert.match(r.headers["content-security-policy"], /frame-ancestors 'none'/);
    assert.ok(r.body.length > 0);
  });
}

test("the index page loads the module entry point and the stylesheet, with no inline script", async () => {
  const r = await rawRequest("/portal/");
  assert.match(r.body, /<script type="module" src="js\/main\.js"><\/script>/);
  assert.match(r.body, /<link rel="stylesheet" href="portal\.css">/);
  assert.doesNotMatch(r.body, /<script>(?!<\/script>)/);
});

test("If-None-Match with the ETag answers 304 without a body; HEAD answers the headers only", async () => {
  const first = await rawRequest("/portal/js/main.js");
  const again = await rawRequest("/portal/js/main.js", { headers: { "if-none-match": first.headers.etag } });
  assert.equal(again.status, 304);
  assert.equal(again.body, "");
  assert.equal(again.headers.etag, first.headers.etag);
  const head = await rawRequest("/portal/js/main.js", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.body, "");
  assert.match(head.headers["content-type"], /^text\/javascript/);
  assert.equal(Number(head.headers["content-length"]), Buffer.byteLength(first.body));
});

test("/portal redirects to /portal/", async () => {
  const r = await rawRequest("/portal");
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, "/portal/");
});

const secret = (f) => fs.readFileSync(`${DATA}/secrets/${f}`, "utf8").trim();

const NOT_FOUND = [
  "/portal/../secrets/operator.key",
  "/portal/../../secrets/master.key",
  "/portal/%2e%2e/secrets/operator.key",
  "/portal/%2E%2E/secrets/operator.key",
  "/portal/%2e%2e%2fsecrets%2foperator.key",
  "/portal/..%2f..%2fsecrets%2fmaster.key",
  "/portal/..%5csecrets%5coperator.key",
  "/portal/%252e%252e/secrets/operator.key",
  "/portal/js/../index.html",
  "/portal/./index.html",
  "/portal//index.html",
  "/portal/index.html%00.js",
  "/portal/index.html/",
  "/portal/%69ndex.html",
  "/portal/js",
  "/portal/js/",
  "/portal/js/views/",
  "/portal/.git/config",
  "/portal/.htaccess",
  "/portal/nonexistent.js",
  "/portal/secrets/operator.key",
  "/portal/tls/ca.pem",
];

for (const p of NOT_FOUND) {
  test(`GET ${p}: 404, no file content`, async () => {
    const r = await rawRequest(p);
    assert.equal(r.status, 404, `${r.status} ${r.body.slice(0, 200)}`);
    assert.match(r.headers["content-type"], /^text\/plain/);
    for (const f of ["operator.key", "master.key", "rp.key"]) assert.ok(!r.body.includes(secret(f)), `${p} leaked ${f}`);
    assert.doesNotMatch(r.body, /<html|BEGIN CERTIFICATE|import /i);
  });
}

test("paths outside /portal never serve the data directory's files", async () => {
  for (const p of ["/secrets/operator.key", "/../secrets/operator.key", "/%2e%2e/secrets/operator.key", "/tls/ca.pem"]) {
    const r = await rawRequest(p);
    assert.notEqual(r.status, 200, `${p}: ${r.status}`);
    assert.ok(!r.body.includes(secret("operator.key")), `${p} leaked the operator key`);
  }
});

test("methods other than GET and HEAD: 405 with Allow", async () => {
  for (const m of ["POST", "PUT", "DELETE", "OPTIONS"]) {
    const r = await rawRequest("/portal/index.html", { method: m });
    assert.equal(r.status, 405, `${m}: ${r.status}`);
    assert.equal(r.headers.allow, "GET, HEAD");
  }
});
