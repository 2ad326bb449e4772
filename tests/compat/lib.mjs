// SPDX-License-Identifier: Apache-2.0
// Shared set-up for the compatibility suite. run.sh starts crosskeyd, creates the tenants and
// passes their locations in the environment; every *.test.mjs file imports this module.
// Everything here uses the SDKs unmodified: only the documented client options (authorityHost,
// disableInstanceDiscovery, endpoint, Graph baseUrl/customHosts) point them at crosskeyd.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import https from "node:https";

import { ClientAssertionCredential, ClientSecretCredential } from "@azure/identity";
import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { FeatureClient } from "@azure/arm-features";
import { ManagedServiceIdentityClient } from "@azure/arm-msi";
import { ResourceManagementClient } from "@azure/arm-resources";
import { Client } from "@microsoft/microsoft-graph-client";
import { TokenCredentialAuthenticationProvider } from "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js";
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the suite through tests/compat/run.sh <build dir>`);
  return v;
}
const readJson = (p) => JSON.parse(fs.readFileSync(p, "utf8"));
const strip = (u) => String(u).replace(/\/+$/, "");

export const DATA = need("CK_DATA");
export const BUILD = need("CK_BUILD");
export const WORK = need("CK_WORK");
export const LOG = process.env.CK_LOG;
export const endpoints = readJson(process.env.CK_ENDPOINTS_FILE ?? `${DATA}/endpoints.json`);
export const isv = readJson(need("CK_ISV_FILE"));
export const customer = readJson(need("CK_CUSTOMER_FILE"));

export const AUTHORITY = strip(endpoints.authority);
export const ARM = strip(endpoints.arm);
export const GRAPH = strip(endpoints.graph).replace(/\/v1\.0$/, "");
export const MI = strip(endpoints.managedIdentity);
export const EXCHANGE_AUD = "api://AzureADTokenExchange";
export const EXCHANGE_AUD_GUID = "fb60f99c-7a34-4190-8149-302f77469936";
export const VAULT_RESOURCE = "https://vault.azure.net";
export const GRAPH_SCOPE = "https://graph.microsoft.com/.default";
export const v2Issuer = (tid) => `https://login.microsoftonline.com/${tid}/v2.0`;
export const v1Issuer = (tid) => `https://sts.windows.net/${tid}/`;
export const credOptions = { authorityHost: AUTHORITY, disableInstanceDiscovery: true };
// Fail fast on a broken server instead of retrying for half a minute; 4xx are never retried.
const clientOptions = { endpoint: ARM, retryOptions: { maxRetries: 1, retryDelayInMs: 200 } };

export const ROLE = {
  Owner: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
  Contributor: "b24988ac-6180-42a0-ab88-20f7382dd24c",
  Reader: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
  KeyVaultCryptoServiceEncryptionUser: "e147488a-f6f5-4113-8e2d-b22465e65bf6",
};
export const roleDefinitionId = (sub, guid) =>
  `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;

export const uniq = () => crypto.randomBytes(4).toString("hex");

// ---- record every secret and token the suite sees, for secrets-scan.test.mjs ----
export const ISSUED = `${WORK}/issued.jsonl`;
export function record(kind, value) {
  if (typeof value === "string" && value.length >= 8)
    fs.appendFileSync(ISSUED, JSON.stringify({ kind, value }) + "\n");
}
record("clientSecret", isv.clientSecret);
record("clientSecret", customer.clientSecret);

/** Wraps a TokenCredential so that every token it hands to an SDK is recorded. */
export function recording(cred) {
  return {
    async getToken(scopes, options) {
      const t = await cred.getToken(scopes, options);
      if (t) record("accessToken", t.token);
      return t;
    },
  };
}

// ---- credentials and clients ----
export const secretCredential = (t, secret = t.clientSecret) =>
  new ClientSecretCredential(t.tenantId, t.clientId, secret, credOptions);
export const assertionCredential = (tenantId, clientId, getAssertion) =>
  new ClientAssertionCredential(tenantId, clientId, getAssertion, credOptions);

export function graph(cred) {
  return Client.initWithMiddleware({
    authProvider: new TokenCredentialAuthenticationProvider(recording(cred), { scopes: [GRAPH_SCOPE] }),
    baseUrl: GRAPH,
    customHosts: new Set([new URL(GRAPH).hostname]),
    defaultVersion: "v1.0",
  });
}

export function arm(cred, subscriptionId) {
  const c = recording(cred);
  return {
    resources: new ResourceManagementClient(c, subscriptionId, clientOptions),
    features: new FeatureClient(c, subscriptionId, clientOptions),
    msi: new ManagedServiceIdentityClient(c, subscriptionId, clientOptions),
    authz: new AuthorizationManagementClient(c, subscriptionId, clientOptions),
  };
}

export async function getToken(cred, scope) {
  const t = await cred.getToken(scope);
  assert.ok(t && t.token, "getToken returned no token");
  record("accessToken", t.token);
  return t.token;
}

/** The operator CLI; returns its JSON output. */
export function cli(...args) {
  const out = execFileSync(`${BUILD}/crosskey`, ["--data", DATA, ...args], {
    encoding: "utf8",
    timeout: 60_000,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return JSON.parse(out);
}

// ---- independent verification with jose ----
const jwksByTenant = new Map();
export function jwks(tid) {
  if (!jwksByTenant.has(tid))
    jwksByTenant.set(tid, createRemoteJWKSet(new URL(`${AUTHORITY}/${tid}/discovery/v2.0/keys`)));
  return jwksByTenant.get(tid);
}
/** Verifies an RS256 token against tenant tid's JWKS; returns the payload. */
export async function verifyToken(token, { tid, issuer, audience }) {
  const { payload, protectedHeader } = await jwtVerify(token, jwks(tid), {
    issuer,
    audience,
    algorithms: ["RS256"],
  });
  assert.equal(protectedHeader.alg, "RS256");
  assert.ok(protectedHeader.kid, "token header has no kid");
  return payload;
}
export { decodeJwt, decodeProtectedHeader };

// ---- raw HTTP for hand-made (bad) requests ----
/**
 * One HTTPS request with node:https, tolerant of a server that answers (e.g. 413) and closes
 * before the whole body was sent. Resolves {status, headers, text, body(json|undefined)}.
 */
export function raw(url, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const buf = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(String(body));
    const h = { ...headers };
    if (buf !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === "content-length"))
      h["content-length"] = buf.length;
    let done = false;
    const req = https.request(u, { method, headers: h, timeout: 30_000 }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("error", () => {});
      res.on("end", () => {
        done = true;
        const text = Buffer.concat(chunks).toString("utf8");
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, body: json });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on("error", (e) => {
      if (!done) reject(e);
    });
    if (buf !== undefined) req.end(buf);
    else req.end();
  });
}

export const form = (o) => new URLSearchParams(o).toString();

/** POST /{tenant}/oauth2/v2.0/token with a form (object) or a raw body. */
export function tokenRequest(tenant, fields, { contentType, rawBody } = {}) {
  return raw(`${AUTHORITY}/${tenant}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "content-type": contentType ?? "application/x-www-form-urlencoded;charset=utf-8" },
    body: rawBody ?? form(fields),
  });
}

/** Asserts an Entra error response: HTTP status, `error` and the AADSTS code(s). */
export function assertAadsts(r, status, error, codes) {
  const want = [].concat(codes);
  const ctx = `${r.status} ${r.text}`;
  assert.equal(r.status, status, ctx);
  assert.match(String(r.headers["content-type"]), /^application\/json/i, ctx);
  assert.equal(r.body?.error, error, ctx);
  assert.ok(Array.isArray(r.body.error_codes), `no error_codes: ${ctx}`);
  assert.ok(
    want.some((c) => r.body.error_codes.includes(c)),
    `want AADSTS${want.join("|")}: ${ctx}`,
  );
  assert.match(r.body.error_description, new RegExp(`^AADSTS(${want.join("|")}):`), ctx);
  assert.equal(r.body.access_token, undefined, ctx);
}

/** Rejection from an @azure/identity credential carrying the AADSTS code. */
export async function rejectsAadsts(promise, codes) {
  const want = [].concat(codes);
  await assert.rejects(promise, (e) => {
    assert.match(String(e.message), new RegExp(`AADSTS(${want.join("|")})\\b`), e.message);
    return true;
  });
}

/** Rejection from an ARM SDK call with RestError.code and statusCode. */
export async function rejectsArm(promise, status, code) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.statusCode, status, `${e.statusCode} ${e.code} ${e.message}`);
    assert.equal(e.code, code, `${e.statusCode} ${e.code} ${e.message}`);
    return true;
  });
}

/** Rejection from the Graph client with HTTP status (one or a list) and Graph error code. */
export async function rejectsGraph(promise, status, code) {
  await assert.rejects(promise, (e) => {
    const ok = [].concat(status);
    assert.ok(ok.includes(e.statusCode), `want ${ok.join("|")}: ${e.statusCode} ${e.code} ${e.message}`);
    if (code) assert.equal(e.code, code, `${e.statusCode} ${e.code} ${e.message}`);
    return true;
  });
}

// ---- the identity half of the procedure (wire reference section D, steps 1-4) ----
export const isvCred = () => secretCredential(isv);
export const customerCred = () => secretCredential(customer);

/** Creates a multi-tenant app in the ISV tenant. */
export async function createApp(g, name, signInAudience = "AzureADMultipleOrgs") {
  const app = await g.api("/applications").post({ displayName: name, signInAudience });
  assert.ok(app.id && app.appId, JSON.stringify(app));
  return app;
}

export async function addFic(g, appObjectId, fic) {
  const r = await g.api(`/applications/${appObjectId}/federatedIdentityCredentials`).post(fic);
  assert.ok(r.id, JSON.stringify(r));
  return r;
}

/**
 * App (ISV) + RG + UAMI (ISV) + FIC on the app for the UAMI + SP in the customer tenant.
 * Returns everything a later step needs.
 */
export async function provisionChain(tag = uniq()) {
  const g = graph(isvCred());
  const gc = graph(customerCred());
  const a = arm(isvCred(), isv.subscriptionId);
  const rg = `rg-${tag}`;
  await a.resources.resourceGroups.createOrUpdate(rg, { location: "eastus" });
  const uami = await a.msi.userAssignedIdentities.createOrUpdate(rg, `uami-${tag}`, { location: "eastus" });
  const app = await createApp(g, `isv-cmk-app-${tag}`);
  const fic = await addFic(g, app.id, {
    name: `fic-${tag}`,
    issuer: v2Issuer(isv.tenantId),
    subject: uami.principalId,
    audiences: [EXCHANGE_AUD],
    description: "UAMI of the ISV storage account",
  });
  const sp = await gc.api("/servicePrincipals").post({ appId: app.appId });
  return { tag, g, gc, a, rg, uami, app, fic, sp };
}

export async function createUami(a, rg, name) {
  return a.msi.userAssignedIdentities.createOrUpdate(rg, name, { location: "eastus" });
}

// ---- operator endpoints and polling (customer-managed-key files 25, 26) ----
/** The operator credential (docs/internal-api.md): the key file the crosskey CLI reads. */
export const operatorKey = () => fs.readFileSync(`${DATA}/secrets/operator.key`, "utf8").trim();

/** A request to an operator endpoint on the main origin; resolves {status, headers, text, body}. */
export function operator(method, path, body) {
  const headers = { authorization: `Operator ${operatorKey()}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  return raw(`${ARM}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

/**
 * Runs `probe` until it returns a truthy value or `timeoutMs` has passed, `intervalMs` apart.
 * Resolves {value, ms} (ms since the call); rejects naming `what` and the last value or error.
 */
export async function pollUntil(what, probe, { timeoutMs = 20_000, intervalMs = 250 } = {}) {
  const t0 = Date.now();
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return { value: last, ms: Date.now() - t0 };
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 >= timeoutMs) {
      const shown = last instanceof Error ? `${last.statusCode ?? ""} ${last.code ?? ""} ${last.message}` : JSON.stringify(last);
      throw new Error(`${what}: not reached within ${timeoutMs} ms (last: ${String(shown).slice(0, 500)})`);
    }
    await new Promise((ok) => setTimeout(ok, intervalMs));
  }
}
