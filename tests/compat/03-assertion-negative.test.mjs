// SPDX-License-Identifier: Apache-2.0
// Negative tests of the federated-credential exchange, each with its exact Entra error:
// issuer / subject / audience mismatch (exact, case-sensitive matching), an app without a service
// principal in the tenant, forged assertions (alg none, HS256 keyed with the public key, a key of
// our own, tampered signature or payload, expired / not yet valid), deleted credential, service
// principal and app taking effect on the next token request, and a principal without a role.
// It needs MI tokens, so it runs in its own process with its own workload.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import test from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";
import { SignJWT, exportSPKI, generateKeyPair, importJWK } from "jose";

import {
  ARM, AUTHORITY, EXCHANGE_AUD, ROLE, VAULT_RESOURCE, addFic, arm, assertAadsts, assertionCredential,
  cli, createApp, customer, customerCred, decodeJwt, decodeProtectedHeader, getToken, graph, isv,
  isvCred, provisionChain, raw, record, rejectsAadsts, rejectsArm, roleDefinitionId, tokenRequest,
  v2Issuer,
} from "./lib.mjs";

const s = {};
const exchange = (clientId, assertion, scope = `${VAULT_RESOURCE}/.default`) =>
  tokenRequest(customer.tenantId, {
    client_id: clientId,
    scope,
    grant_type: "client_credentials",
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: assertion,
  });
const b64u = (x) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");

/** An app in the ISV tenant with one FIC (fields overridable) and, by default, an SP at the customer. */
async function appWithFic(name, ficOverrides = {}, { sp = true } = {}) {
  const app = await createApp(s.g, `${name}-${s.tag}`);
  await addFic(s.g, app.id, {
    name: "fic",
    issuer: v2Issuer(isv.tenantId),
    subject: s.uami.principalId,
    audiences: [EXCHANGE_AUD],
    ...ficOverrides,
  });
  const spObj = sp ? await s.gc.api("/servicePrincipals").post({ appId: app.appId }) : undefined;
  return { app, sp: spObj };
}

test("provision the chain and a workload holding the UAMI", async () => {
  Object.assign(s, await provisionChain());
  const wl = cli("workload", "create", "--identity", s.uami.id);
  record("identityHeader", wl.identityHeader);
  process.env.IDENTITY_ENDPOINT = wl.identityEndpoint;
  process.env.IDENTITY_HEADER = wl.identityHeader;
  s.mi = new ManagedIdentityCredential({ clientId: s.uami.clientId });
  s.miToken = await getToken(s.mi, `${EXCHANGE_AUD}/.default`);
  s.claims = decodeJwt(s.miToken);
  const ok = await exchange(s.app.appId, s.miToken);
  assert.equal(ok.status, 200, ok.text);
  record("accessToken", ok.body.access_token);
  assert.ok(ok.body.access_token && Number(ok.body.expires_in) > 0);
  assert.match(String(ok.body.token_type), /^bearer$/i);
});

test("FIC issuer mismatch (case only) -> AADSTS700211", async () => {
  const issuer = v2Issuer(isv.tenantId).replace("https://login.microsoftonline.com", "https://Login.MicrosoftOnline.com");
  const { app } = await appWithFic("iss", { issuer });
  assertAadsts(await exchange(app.appId, s.miToken), 401, "invalid_client", 700211);
  await rejectsAadsts(
    assertionCredential(customer.tenantId, app.appId, async () => s.miToken).getToken(`${VAULT_RESOURCE}/.default`),
    700211,
  );
});

test("FIC subject mismatch (case only) -> AADSTS700213", async () => {
  let subject = s.uami.principalId.toUpperCase();
  if (subject === s.uami.principalId) subject = crypto.randomUUID();
  const { app } = await appWithFic("sub", { subject });
  assertAadsts(await exchange(app.appId, s.miToken), 401, "invalid_client", 700213);
  await rejectsAadsts(
    assertionCredential(customer.tenantId, app.appId, async () => s.miToken).getToken(`${VAULT_RESOURCE}/.default`),
    700213,
  );
});

test("FIC audience mismatch (case only) -> AADSTS700212", async () => {
  const { app } = await appWithFic("aud", { audiences: ["api://azureadtokenexchange"] });
  assertAadsts(await exchange(app.appId, s.miToken), 401, "invalid_client", 700212);
  await rejectsAadsts(
    assertionCredential(customer.tenantId, app.appId, async () => s.miToken).getToken(`${VAULT_RESOURCE}/.default`),
    700212,
  );
});

test("app without a service principal in the tenant -> AADSTS700016", async () => {
  const { app } = await appWithFic("nosp", {}, { sp: false });
  assertAadsts(await exchange(app.appId, s.miToken), 400, "unauthorized_client", 700016);
  await rejectsAadsts(
    assertionCredential(customer.tenantId, app.appId, async () => s.miToken).getToken(`${VAULT_RESOURCE}/.default`),
    700016,
  );
  // unknown client_id altogether
  assertAadsts(await exchange(crypto.randomUUID(), s.miToken), 400, "unauthorized_client", 700016);
});

// ---- forged assertions: every one carries claims that would match the FIC exactly ----

// Entra: AADSTS5002738 "Invalid JWT token. 'none' is not a supported signature algorithm."
test("alg none assertion is refused (AADSTS5002738)", async () => {
  const forged = `${b64u({ alg: "none", typ: "JWT" })}.${b64u(s.claims)}.`;
  assertAadsts(await exchange(s.app.appId, forged), 401, "invalid_client", 5002738);
  const noDot = `${b64u({ alg: "none", typ: "JWT" })}.${b64u(s.claims)}`;
  assertAadsts(await exchange(s.app.appId, noDot), 400, "invalid_request", 50027);
});

test("HS256 assertion keyed with the issuer's public key is refused (AADSTS5002738)", async () => {
  const h = decodeProtectedHeader(s.miToken);
  const jwks = (await raw(`${AUTHORITY}/${isv.tenantId}/discovery/v2.0/keys`)).body.keys;
  const jwk = jwks.find((k) => k.kid === h.kid) ?? jwks[0];
  const pem = await exportSPKI(await importJWK({ kty: "RSA", n: jwk.n, e: jwk.e }, "RS256"));
  for (const secret of [pem, JSON.stringify(jwk), jwk.n]) {
    const forged = await new SignJWT(s.claims)
      .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: h.kid })
      .sign(new TextEncoder().encode(secret));
    assertAadsts(await exchange(s.app.appId, forged), 401, "invalid_client", 5002738);
  }
});

test("assertion signed by a key that is not the issuer's is refused", async () => {
  const { privateKey } = await generateKeyPair("RS256");
  const h = decodeProtectedHeader(s.miToken);
  for (const kid of [h.kid, "not-a-key-of-ours"]) {
    const forged = await new SignJWT(s.claims).setProtectedHeader({ alg: "RS256", typ: "JWT", kid }).sign(privateKey);
    assertAadsts(await exchange(s.app.appId, forged), 401, "invalid_client", 700027);
  }
});

test("tampered signature or payload is refused (AADSTS700027)", async () => {
  const [hh, pp, sig] = s.miToken.split(".");
  const i = Math.floor(sig.length / 2);
  const flipped = sig.slice(0, i) + (sig[i] === "A" ? "B" : "A") + sig.slice(i + 1);
  assertAadsts(await exchange(s.app.appId, `${hh}.${pp}.${flipped}`), 401, "invalid_client", 700027);
  const payload = b64u({ ...s.claims, exp: s.claims.exp + 3600 });
  assertAadsts(await exchange(s.app.appId, `${hh}.${payload}.${sig}`), 401, "invalid_client", 700027);
  assertAadsts(await exchange(s.app.appId, `${hh}.${pp}.`), 401, "invalid_client", 700027);
});

test("expired and not-yet-valid assertions are refused", async () => {
  // No issuer we trust will sign an expired token for us, so these are signed with a key of our own:
  // whichever check the service makes first (lifetime or signature), it must refuse.
  const { privateKey } = await generateKeyPair("RS256");
  const now = Math.floor(Date.now() / 1000);
  const h = decodeProtectedHeader(s.miToken);
  for (const [iat, nbf, exp] of [[now - 7200, now - 7200, now - 3600], [now + 3600, now + 3600, now + 7200]]) {
    const forged = await new SignJWT({ ...s.claims, iat, nbf, exp })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: h.kid })
      .sign(privateKey);
    assertAadsts(await exchange(s.app.appId, forged), 401, "invalid_client", [700024, 700027]);
  }
});

test("malformed assertions -> AADSTS50027", async () => {
  for (const bad of ["abc", "a.b.c", "....", `${b64u("not json")}.${b64u(s.claims)}.sig`, `${b64u({ alg: "RS256" })}.${b64u("[1,2")}.sig`, "é.é.é"]) {
    assertAadsts(await exchange(s.app.appId, bad), 400, "invalid_request", 50027);
  }
  const r = await tokenRequest(customer.tenantId, {
    client_id: s.app.appId, scope: `${VAULT_RESOURCE}/.default`, grant_type: "client_credentials",
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", client_assertion: s.miToken,
  });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.body?.error, "invalid_request", r.text);
});

// ---- deletions take effect on the next token request ----

test("deleted federated credential, service principal and app take effect at once", async () => {
  const { app, sp } = await appWithFic("del");
  assert.equal((await exchange(app.appId, s.miToken)).status, 200);

  const fics = await s.g.api(`/applications/${app.id}/federatedIdentityCredentials`).get();
  assert.equal(fics.value.length, 1);
  await s.g.api(`/applications/${app.id}/federatedIdentityCredentials/${fics.value[0].id}`).delete();
  assertAadsts(await exchange(app.appId, s.miToken), 401, "invalid_client", 700211);
  await addFic(s.g, app.id, { name: "fic2", issuer: v2Issuer(isv.tenantId), subject: s.uami.principalId, audiences: [EXCHANGE_AUD] });
  assert.equal((await exchange(app.appId, s.miToken)).status, 200, "re-added FIC works again");

  await s.gc.api(`/servicePrincipals/${sp.id}`).delete();
  assertAadsts(await exchange(app.appId, s.miToken), 400, "unauthorized_client", 700016);
  await s.gc.api("/servicePrincipals").post({ appId: app.appId });
  assert.equal((await exchange(app.appId, s.miToken)).status, 200, "re-created SP works again");

  await s.g.api(`/applications/${app.id}`).delete();
  assertAadsts(await exchange(app.appId, s.miToken), 400, "unauthorized_client", 700016);
});

// ---- authorization at ARM for the exchanged identity ----

test("principal without a role: 403 AuthorizationFailed; Reader lets it read, not write; removal is immediate", async () => {
  const admin = arm(customerCred(), customer.subscriptionId);
  const rg = `rg-rbac-${s.tag}`;
  await admin.resources.resourceGroups.createOrUpdate(rg, { location: "eastus" });
  const appCred = assertionCredential(customer.tenantId, s.app.appId, async () => s.miToken);
  const asApp = arm(appCred, customer.subscriptionId);

  await rejectsArm(asApp.resources.resourceGroups.get(rg), 403, "AuthorizationFailed");
  await rejectsArm(asApp.resources.resourceGroups.createOrUpdate(`x-${s.tag}`, { location: "eastus" }), 403, "AuthorizationFailed");

  const scope = `/subscriptions/${customer.subscriptionId}/resourceGroups/${rg}`;
  const name = crypto.randomUUID();
  await admin.authz.roleAssignments.create(scope, name, {
    roleDefinitionId: roleDefinitionId(customer.subscriptionId, ROLE.Reader),
    principalId: s.sp.id,
    principalType: "ServicePrincipal",
  });
  const got = await asApp.resources.resourceGroups.get(rg);
  assert.equal(got.name, rg);
  await rejectsArm(asApp.resources.resourceGroups.createOrUpdate(rg, { location: "eastus", tags: { a: "b" } }), 403, "AuthorizationFailed");
  // Reader at the group does not reach another group
  await admin.resources.resourceGroups.createOrUpdate(`${rg}-2`, { location: "eastus" });
  await rejectsArm(asApp.resources.resourceGroups.get(`${rg}-2`), 403, "AuthorizationFailed");

  await admin.authz.roleAssignments.delete(scope, name);
  await rejectsArm(asApp.resources.resourceGroups.get(rg), 403, "AuthorizationFailed");
});

test("the ISV's MI token is no use on the customer's subscription (401 InvalidAuthenticationTokenTenant)", async () => {
  const mi = new ManagedIdentityCredential({ clientId: s.uami.clientId });
  await rejectsArm(arm(mi, customer.subscriptionId).resources.resourceGroups.get(`rg-rbac-${s.tag}`), 401, "InvalidAuthenticationTokenTenant");
  // and a UAMI without any role on its own subscription gets 403
  await rejectsArm(arm(mi, isv.subscriptionId).resources.resourceGroups.get(s.rg), 403, "AuthorizationFailed");
  void ARM;
});
