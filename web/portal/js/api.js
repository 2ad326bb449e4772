// SPDX-License-Identifier: Apache-2.0
// Calls to crosskey's APIs from the browser, and their errors in plain words.
//  - identity (token endpoint), ARM and Graph live on the portal's own origin;
//  - each key vault's data plane lives on the vault's own origin (properties.vaultUri), which
//    allows the portal's origin by CORS (docs/portal.md).
// Every call takes the bearer token of the resource it talks to from session.js.
import { token } from "./session.js";

/** The api-versions the official SDKs send (tests/compat's pinned packages). */
export const API = {
  subscriptions: "2022-12-01",
  storage: "2025-08-01",
  keyvault: "2025-05-01",
  msi: "2024-11-30",
  authorization: "2022-04-01",
  audit: "2026-02-01",
  keys: "2025-07-01",
};

const ORIGIN = globalThis.location?.origin ?? "";

/** An API call that failed: `message` is the plain-words explanation. */
export class ApiError extends Error {
  constructor(message, info = {}) {
    super(message);
    this.name = "ApiError";
    Object.assign(this, info); // status, code, detailCode, target, url, method, body
  }

  technical() {
    const lines = [];
    if (this.method || this.url) lines.push(`${this.method ?? "GET"} ${redact(this.url)}`);
    if (this.status !== undefined) lines.push(`HTTP ${this.status}`);
    if (this.code) lines.push(`code: ${this.code}`);
    if (this.detailCode) lines.push(`detail: ${this.detailCode}${this.target ? ` (target ${this.target})` : ""}`);
    if (this.body) lines.push(typeof this.body === "string" ? this.body.slice(0, 2000) : JSON.stringify(this.body, null, 2).slice(0, 2000));
    return lines.join("\n");
  }
}

/** Query strings never carry secrets here, but keep them short in the details. */
const redact = (u) => String(u ?? "").replace(/(client_secret=)[^&]*/g, "$1***");

// ---------------------------------------------------------------------------------------------
// Plain words.

/** ARM's failing-link targets of a refused customer-managed key (docs/cmk.md). */
const LINKS = {
  identity: "the user-assigned managed identity (it could not get a token)",
  vault: "the key vault (it could not be reached or does not exist)",
  federatedCredential: "the federated credential on the multi-tenant application (its issuer, subject or audience does not match the managed identity)",
  servicePrincipal: "the multi-tenant application's service principal in the customer's tenant (the customer has not installed the application)",
  application: "the multi-tenant application (it does not exist)",
  role: "the role assignment on the key vault (the application's service principal may not use the key)",
  key: "the key (missing, disabled, expired, or not an RSA key that can wrap and unwrap)",
  vaultPolicy: "the key vault's settings (soft delete and purge protection must be on)",
};

const AADSTS = {
  90002: "There is no tenant with this ID.",
  700016: "There is no application with this client ID in this tenant.",
  7000215: "The client secret is wrong.",
  7000222: "The client secret has expired.",
  7000218: "A client secret is required.",
  900144: "The sign-in request is incomplete.",
  1002012: "The requested scope is not valid.",
};

function aadWords(status, body) {
  const code = Array.isArray(body?.error_codes) ? body.error_codes[0] : undefined;
  const desc = String(body?.error_description ?? "").split(/\r?\n/)[0];
  const known = code !== undefined ? AADSTS[code] : undefined;
  const text = desc.replace(/^AADSTS\d+:\s*/, "");
  const message = known ? `${known}${text && !known.startsWith(text) ? ` (${text})` : ""}` : text || `Sign-in failed (${body?.error ?? `HTTP ${status}`}).`;
  return { message, code: code !== undefined ? `AADSTS${code}` : body?.error };
}

function armWords(status, body) {
  const e = body?.error ?? {};
  const d0 = Array.isArray(e.details) ? e.details[0] : undefined;
  const code = e.code;
  let message = String(e.message ?? `The request failed with HTTP ${status}.`);
  switch (code) {
    case "AuthorizationFailed":
      message = `You do not have permission to do this. ${message}`;
      break;
    case "InvalidAuthenticationToken":
    case "ExpiredAuthenticationToken":
    case "AuthenticationFailed":
      message = `Your sign-in is no longer accepted; sign in again. (${message})`;
      break;
    case "InvalidAuthenticationTokenTenant":
      message = `This resource belongs to another tenant than the one you signed in to. (${message})`;
      break;
    case "LinkedAuthorizationFailed":
      message = `You may not assign this managed identity. ${message}`;
      break;
    default:
      break;
  }
  if (d0?.target && LINKS[d0.target]) {
    message += ` The failing link is ${LINKS[d0.target]}.`;
    if (d0.message && !message.includes(d0.message)) message += ` ${d0.message}`;
  }
  return { message, code, detailCode: d0?.code, target: d0?.target };
}

function kvWords(status, body) {
  const e = body?.error ?? {};
  const inner = e.innererror?.code;
  let message = String(e.message ?? `The key vault answered HTTP ${status}.`);
  if (inner === "ForbiddenByRbac") message = `Your role on this key vault does not allow this operation. ${message}`;
  else if (status === 401 && /AKV10032/.test(message)) message = `This key vault belongs to another tenant than the one you signed in to. (${message})`;
  else if (status === 401) message = `The key vault did not accept your sign-in; sign in again. (${message})`;
  else if (e.code === "KeyNotFound" || status === 404) message = `Not found in this key vault. ${message}`;
  return { message, code: e.code, detailCode: inner };
}

function graphWords(status, body) {
  const e = body?.error ?? {};
  let message = String(e.message ?? `The directory answered HTTP ${status}.`);
  if (e.code === "Authorization_RequestDenied") message = `You need directory admin rights in this tenant to read this. (${message})`;
  return { message, code: e.code };
}

const WORDS = { aad: aadWords, arm: armWords, vault: kvWords, graph: graphWords };

// ---------------------------------------------------------------------------------------------
// Requests.

async function call(kind, url, { method = "GET", headers = {}, body, form } = {}) {
  const h = { ...headers };
  let payload;
  if (form !== undefined) {
    payload = new URLSearchParams(form);
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    h["content-type"] = "application/json";
  }
  let resp;
  try {
    resp = await fetch(url, { method, headers: h, body: payload, cache: "no-store", credentials: "omit" });
  } catch (e) {
    const origin = (() => {
      try {
        return new URL(url).origin;
      } catch {
        return url;
      }
    })();
    throw new ApiError(
      `Could not reach ${origin}. The service did not answer: check that crosskeyd is running (and, for a key vault, that the vault is up) and that this browser trusts crosskeyd's certificate.`,
      { url, method, code: "NetworkError", body: String(e?.message ?? e) },
    );
  }
  const text = await resp.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!resp.ok) {
    const w = WORDS[kind](resp.status, json ?? {});
    if (!json && text) w.message = `${w.message} ${text.slice(0, 200)}`;
    throw new ApiError(w.message, { ...w, status: resp.status, url, method, body: json ?? text });
  }
  return json ?? {};
}

const withVersion = (path, v) => (/[?&]api-version=/.test(path) ? path : `${path}${path.includes("?") ? "&" : "?"}api-version=${v}`);
const abs = (base, path) => (/^https?:\/\//.test(path) ? path : `${base}${path}`);

/** A token request to the identity service (client credentials). Resolves the token response. */
export function tokenRequest(tenantId, form) {
  return call("aad", `${ORIGIN}/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`, { method: "POST", form });
}

/** ARM: path from /subscriptions... (or an absolute nextLink); apiVersion required. */
export function arm(path, apiVersion, opts = {}) {
  return call("arm", withVersion(abs(ORIGIN, path), apiVersion), {
    ...opts,
    headers: { authorization: `Bearer ${token("arm")}`, ...(opts.headers ?? {}) },
  });
}

/** Every item of an ARM list, following nextLink (at most `pages` pages). */
export async function armList(path, apiVersion, { pages = 20 } = {}) {
  const out = [];
  let url = path;
  for (let i = 0; url && i < pages; i++) {
    const r = await arm(url, apiVersion);
    out.push(...(r.value ?? []));
    url = r.nextLink ?? null;
  }
  return out;
}

/** Graph v1.0: path like "/applications". Follows @odata.nextLink for lists when `list` is set. */
export async function graph(path, opts = {}) {
  const get = (url) =>
    call("graph", abs(`${ORIGIN}/v1.0`, url), { ...opts, headers: { authorization: `Bearer ${token("graph")}` } });
  if (!opts.list) return get(path);
  const out = [];
  let url = path;
  for (let i = 0; url && i < 20; i++) {
    const r = await get(url);
    out.push(...(r.value ?? []));
    url = r["@odata.nextLink"] ?? null;
  }
  return out;
}

const uuid = () => (globalThis.crypto?.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);

/**
 * A key vault data-plane call: vaultUri is the vault's properties.vaultUri, path like
 * "keys/cmk/versions". Each call carries an x-ms-client-request-id, which the vault's audit log
 * keeps as the correlation id.
 */
export function vault(vaultUri, path, opts = {}) {
  const base = String(vaultUri).replace(/\/+$/, "");
  const url = withVersion(/^https?:\/\//.test(path) ? path : `${base}/${path.replace(/^\/+/, "")}`, API.keys);
  return call("vault", url, {
    ...opts,
    headers: { authorization: `Bearer ${token("vault")}`, "x-ms-client-request-id": uuid() },
  });
}

/** Every item of a vault list, following nextLink. */
export async function vaultList(vaultUri, path) {
  const out = [];
  let url = path;
  for (let i = 0; url && i < 20; i++) {
    const r = await vault(vaultUri, url);
    out.push(...(r.value ?? []));
    url = r.nextLink ?? null;
  }
  return out;
}
