// SPDX-License-Identifier: Apache-2.0
// Sign-in. A tenant admin signs in with the tenant id, the client id and a client secret of an
// application that holds admin rights (what `crosskey tenant create` prints). The portal asks the
// identity service's token endpoint for three tokens at once (client credentials): ARM, Graph and
// Key Vault. The secret is then dropped: it is never stored, only the tokens are, in this tab's
// sessionStorage (gone when the tab closes; never localStorage). When a token runs out, the user
// signs in again.
import { ApiError, API, armList, tokenRequest } from "./api.js";

const KEY = "crosskey.portal.session";

export const RESOURCES = {
  arm: "https://management.azure.com",
  graph: "https://graph.microsoft.com",
  vault: "https://vault.azure.net",
};

let current = null;

/** The signed-in session, or null. */
export function session() {
  if (current) return current;
  try {
    current = JSON.parse(sessionStorage.getItem(KEY) ?? "null");
  } catch {
    current = null;
  }
  return current;
}

function save(s) {
  current = s;
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
}

export function signOut() {
  save(null);
}

/** The claims of a JWT (not verified: the services verify it; the portal only reads names). */
export function claims(jwt) {
  try {
    const p = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(p + "===".slice((p.length + 3) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0))));
  } catch {
    return {};
  }
}

/**
 * Signs in: three tokens by client credentials. The ARM token is required (a wrong secret fails
 * here, in plain words); Graph and Key Vault tokens failing leaves those views unavailable.
 * Then lists the subscriptions the principal sees. Resolves the session.
 */
export async function signIn(tenantId, clientId, secret) {
  tenantId = String(tenantId ?? "").trim();
  clientId = String(clientId ?? "").trim();
  if (!tenantId || !clientId || !secret) throw new ApiError("Enter the tenant ID, the client ID and the client secret.", { code: "MissingInput" });
  if (/[/?#\s]/.test(tenantId)) throw new ApiError("The tenant ID must be a tenant's GUID (or domain name), without slashes or spaces.", { code: "BadTenant" });
  const get = (res) =>
    tokenRequest(tenantId, {
      grant_type: "client_credentials",
      client_id: clientId,
      client_secret: secret,
      scope: `${res}/.default`,
    });
  const tokens = {};
  const armTok = await get(RESOURCES.arm);
  tokens.arm = { token: armTok.access_token, exp: claims(armTok.access_token).exp ?? 0 };
  const errors = {};
  for (const kind of ["graph", "vault"]) {
    try {
      const t = await get(RESOURCES[kind]);
      tokens[kind] = { token: t.access_token, exp: claims(t.access_token).exp ?? 0 };
    } catch (e) {
      errors[kind] = e.message;
    }
  }
  const c = claims(tokens.arm.token);
  const s = { tenantId: c.tid ?? tenantId, clientId, oid: c.oid, appId: c.appid ?? c.azp ?? clientId, tokens, errors, subscriptions: [], subscriptionId: null };
  save(s);
  try {
    await refreshSubscriptions();
  } catch (e) {
    save(null);
    throw e;
  }
  return session();
}

/** Re-reads the subscriptions; keeps the selected one when it is still there. */
export async function refreshSubscriptions() {
  const s = session();
  const subs = await armList("/subscriptions", API.subscriptions);
  s.subscriptions = subs.map((x) => ({ id: x.subscriptionId, name: x.displayName ?? x.subscriptionId }));
  if (!s.subscriptions.some((x) => x.id === s.subscriptionId)) s.subscriptionId = s.subscriptions[0]?.id ?? null;
  save(s);
  return s.subscriptions;
}

export function selectSubscription(id) {
  const s = session();
  if (!s) return;
  s.subscriptionId = id;
  save(s);
}

/** The subscription the views work in; throws in plain words when there is none. */
export function subscriptionId() {
  const s = session();
  if (!s?.subscriptionId) throw new ApiError("You have no subscription in this tenant (or no role in one).", { code: "NoSubscription" });
  return s.subscriptionId;
}

/** The bearer token for "arm", "graph" or "vault"; throws in plain words when missing or expired. */
export function token(kind) {
  const s = session();
  const t = s?.tokens?.[kind];
  if (!s) throw new ApiError("You are not signed in.", { code: "NotSignedIn" });
  if (!t) throw new ApiError(`No ${kind === "vault" ? "Key Vault" : kind === "graph" ? "directory (Graph)" : "ARM"} token was issued at sign-in: ${s.errors?.[kind] ?? "unknown reason"}`, { code: "NoToken" });
  if (t.exp && t.exp * 1000 < Date.now() + 30_000) throw new ApiError("Your sign-in has expired. Sign out and sign in again.", { code: "TokenExpired" });
  return t.token;
}
