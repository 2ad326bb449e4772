// SPDX-License-Identifier: Apache-2.0
// Shared set-up of the portal tests: the fixture chain.sh wrote, the browser (playwright-core
// driving Debian's chromium headless), screenshots, and the API calls the tests check the portal
// against (plain fetch with the tenant's own token; NODE_EXTRA_CA_CERTS trusts crosskeyd's CA).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";

import { chromium } from "playwright-core";

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests through tests/portal/run.sh <build dir>`);
  return v;
}

export const fixture = JSON.parse(fs.readFileSync(need("CK_PORTAL_FIXTURE"), "utf8"));
export const DATA = need("CK_DATA");
export const OUT = need("CK_PORTAL_OUT");
export const MAIN = String(fixture.endpoints.arm).replace(/\/+$/, "");
export const PORTAL = `${MAIN}/portal/`;
export const { isv, customer } = fixture;

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// ---------------------------------------------------------------------------------------------
// Browser.

/**
 * The SHA-256 of the CA's public key (base64), for chromium's --ignore-certificate-errors-spki-list:
 * the browser then accepts exactly the chains under crosskeyd's own CA, nothing else.
 */
function caSpki() {
  const pem = fs.readFileSync(fixture.endpoints.caFile ?? `${DATA}/tls/ca.pem`);
  const der = execFileSync("openssl", ["x509", "-pubkey", "-noout"], { input: pem });
  const spki = execFileSync("openssl", ["pkey", "-pubin", "-outform", "der"], { input: der });
  return execFileSync("openssl", ["dgst", "-sha256", "-binary"], { input: spki }).toString("base64");
}

export async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CK_CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    timeout: 60_000,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--ignore-certificate-errors-spki-list=${caSpki()}`,
    ],
  });
  const consoleErrors = [];
  /** A page in a context of its own (its own sessionStorage: another signed-in user). */
  const newPage = async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    return page;
  };
  const page = await newPage();
  return { browser, page, newPage, consoleErrors };
}

let shots = 0;
/** A full-page screenshot under OUT, numbered in the order taken. */
export async function shot(page, name) {
  shots += 1;
  const file = path.join(OUT, `${String(shots).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Signs in through the sign-in page as `who` (isv or customer); waits for the accounts list. */
export async function signIn(page, who) {
  await page.goto(`${PORTAL}#/signin`);
  await ready(page, "/signin");
  await page.evaluate(() => {
    delete document.body.dataset.ready;
  });
  await page.fill("#tenant-id", who.tenantId);
  await page.fill("#client-id", who.clientId);
  await page.fill("#client-secret", who.clientSecret);
  await page.click("#sign-in");
  await page.waitForFunction(() => document.body.dataset.ready === "/storage");
}

/** Waits until the current route has rendered (main.js sets body[data-ready] to the path). */
export async function ready(page, route) {
  await page.waitForFunction((r) => document.body.dataset.ready === r, route);
}

/** Navigates to a portal route and waits for it to render. */
export async function open(page, route) {
  await page.evaluate(() => {
    delete document.body.dataset.ready;
  });
  const url = `${PORTAL}#${route}`;
  if (page.url() === url) await page.reload(); // the same hash would not render again
  else await page.goto(url);
  await ready(page, route);
}

/** The text of the [data-field=name] element inside `scope` (a selector). */
export async function field(page, name, scope = "body") {
  const loc = page.locator(`${scope} [data-field="${name}"]`);
  if ((await loc.count()) === 0) return undefined;
  return (await loc.first().innerText()).trim();
}

// ---------------------------------------------------------------------------------------------
// The APIs, as the tests check the portal against them.

const tokens = new Map();
export async function tokenFor(who, resource) {
  const k = `${who.tenantId}|${resource}`;
  const t = tokens.get(k);
  if (t && t.exp > Date.now() + 60_000) return t.token;
  const r = await fetch(`${MAIN}/${who.tenantId}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: who.clientId,
      client_secret: who.clientSecret,
      scope: `${resource}/.default`,
    }),
  });
  const j = await r.json();
  assert.equal(r.status, 200, JSON.stringify(j));
  tokens.set(k, { token: j.access_token, exp: Date.now() + j.expires_in * 1000 });
  return j.access_token;
}

/** GET an ARM path (with its api-version) as `who`; resolves the JSON. */
export async function armGet(who, p) {
  const r = await fetch(`${MAIN}${p}`, { headers: { authorization: `Bearer ${await tokenFor(who, "https://management.azure.com")}` } });
  const j = await r.json();
  assert.equal(r.status, 200, `GET ${p}: ${r.status} ${JSON.stringify(j).slice(0, 400)}`);
  return j;
}

/** GET a vault data-plane path as `who`. */
export async function vaultGet(who, vaultUri, p) {
  const url = `${String(vaultUri).replace(/\/+$/, "")}/${p}${p.includes("?") ? "&" : "?"}api-version=7.5`;
  const r = await fetch(url, { headers: { authorization: `Bearer ${await tokenFor(who, "https://vault.azure.net")}` } });
  const j = await r.json();
  assert.equal(r.status, 200, `GET ${url}: ${r.status} ${JSON.stringify(j).slice(0, 400)}`);
  return j;
}

export const accountPath = () =>
  `/subscriptions/${isv.subscriptionId}/resourceGroups/${fixture.account.rg}/providers/Microsoft.Storage/storageAccounts/${fixture.account.name}?api-version=2025-08-01`;

/**
 * One HTTPS request with the path sent exactly as given (no URL normalisation, unlike fetch):
 * resolves {status, headers, body (string)}.
 */
export function rawRequest(p, { method = "GET", headers = {} } = {}) {
  const u = new URL(MAIN);
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: u.hostname, port: u.port, path: p, method, headers, timeout: 15_000 },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout: ${method} ${p}`)));
    req.on("error", reject);
    req.end();
  });
}

/** Polls fn until it returns a truthy value; rejects naming `what` and the last value. */
export async function until(what, fn, { timeoutMs = 30_000, intervalMs = 500 } = {}) {
  const t0 = Date.now();
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(intervalMs);
  }
}

/** Injects a vault fault (crosskeyd --test-faults, docs/vault.md): mode down, none, delay, error. */
export async function vaultFault(vault, mode) {
  const key = fs.readFileSync(`${DATA}/secrets/operator.key`, "utf8").trim();
  const r = await fetch(`${MAIN}/operator/vault/fault`, {
    method: "POST",
    headers: { authorization: `Operator ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ vault, mode }),
  });
  const j = await r.json();
  assert.equal(r.status, 200, JSON.stringify(j));
  return j;
}
