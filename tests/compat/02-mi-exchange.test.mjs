// SPDX-License-Identifier: Apache-2.0
// The cross-tenant chain (DESIGN.md section 2, steps 1 and 3): a workload of the ISV gets a
// managed-identity token for its UAMI from ManagedIdentityCredential (App Service protocol, through
// IDENTITY_ENDPOINT/IDENTITY_HEADER), and exchanges it with ClientAssertionCredential for a token of
// the multi-tenant app in the customer tenant. Every claim is checked with jose against the JWKS.
// ManagedIdentityCredential fixes its source once per process: this file runs in its own process.
import assert from "node:assert/strict";
import test from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";

import {
  ARM, EXCHANGE_AUD, EXCHANGE_AUD_GUID, MI, VAULT_RESOURCE, assertionCredential, cli, createUami,
  customer, getToken, isv, provisionChain, raw, record, uniq, v1Issuer, v2Issuer, verifyToken,
} from "./lib.mjs";

const s = {};

test("provision: app, UAMI, FIC, service principal in the customer tenant", async () => {
  Object.assign(s, await provisionChain(`mi-${uniq()}`));
  s.uami2 = await createUami(s.a, s.rg, `uami2-${s.tag}`); // assigned to the workload too
  s.uami3 = await createUami(s.a, s.rg, `uami3-${s.tag}`); // not assigned to it
});

test("crosskey workload create prints the App Service endpoint and header", () => {
  const wl = cli("workload", "create", "--identity", s.uami.id, "--identity", s.uami2.id);
  assert.ok(wl.identityEndpoint && wl.identityHeader, JSON.stringify(Object.keys(wl)));
  assert.match(wl.identityEndpoint, /^http:\/\/127\.0\.0\.1:\d+\//);
  record("identityHeader", wl.identityHeader);
  s.wl = wl;
  process.env.IDENTITY_ENDPOINT = wl.identityEndpoint;
  process.env.IDENTITY_HEADER = wl.identityHeader;
});

test("ManagedIdentityCredential: token for api://AzureADTokenExchange, claims as Entra's", async () => {
  const mi = new ManagedIdentityCredential({ clientId: s.uami.clientId });
  const token = await getToken(mi, `${EXCHANGE_AUD}/.default`);
  const p = await verifyToken(token, {
    tid: isv.tenantId,
    issuer: v2Issuer(isv.tenantId),
    audience: [EXCHANGE_AUD, EXCHANGE_AUD_GUID],
  });
  assert.equal(p.sub, s.uami.principalId, "sub must be the UAMI principalId (FIC subject)");
  assert.equal(p.oid, s.uami.principalId);
  assert.equal(p.tid, isv.tenantId);
  assert.ok(p.exp - p.iat >= 3600, "MI tokens live long");
  if (p.xms_mirid !== undefined) assert.equal(p.xms_mirid.toLowerCase(), s.uami.id.toLowerCase());
  s.miToken = token;
});

test("ManagedIdentityCredential: the identity can be chosen by clientId, resourceId or objectId", async () => {
  for (const opts of [{ resourceId: s.uami.id }, { objectId: s.uami.principalId }]) {
    const t = await getToken(new ManagedIdentityCredential(opts), `${EXCHANGE_AUD}/.default`);
    const p = await verifyToken(t, { tid: isv.tenantId, issuer: v2Issuer(isv.tenantId), audience: [EXCHANGE_AUD, EXCHANGE_AUD_GUID] });
    assert.equal(p.sub, s.uami.principalId, JSON.stringify(opts));
  }
  const t2 = await getToken(new ManagedIdentityCredential({ clientId: s.uami2.clientId }), `${EXCHANGE_AUD}/.default`);
  const p2 = await verifyToken(t2, { tid: isv.tenantId, issuer: v2Issuer(isv.tenantId), audience: [EXCHANGE_AUD, EXCHANGE_AUD_GUID] });
  assert.equal(p2.sub, s.uami2.principalId);
});

test("ManagedIdentityCredential: token for an ARM resource is a v1 token of the UAMI", async () => {
  const t = await getToken(new ManagedIdentityCredential({ clientId: s.uami.clientId }), `${ARM}/.default`);
  const p = await verifyToken(t, { tid: isv.tenantId, issuer: v1Issuer(isv.tenantId), audience: [ARM, `${ARM}/`] });
  assert.equal(p.oid, s.uami.principalId);
  assert.equal(p.tid, isv.tenantId);
});

test("ManagedIdentityCredential: an identity not assigned to the workload gets no token", async () => {
  await assert.rejects(
    new ManagedIdentityCredential({ clientId: s.uami3.clientId }).getToken(`${EXCHANGE_AUD}/.default`),
    (e) => {
      assert.match(e.name, /AuthenticationError|CredentialUnavailableError/, e.message);
      return true;
    },
  );
});

test("MI endpoint (App Service protocol): wrong or missing X-IDENTITY-HEADER is refused", async () => {
  const q = new URLSearchParams({ "api-version": "2019-08-01", resource: EXCHANGE_AUD, client_id: s.uami.clientId });
  const url = `${s.wl.identityEndpoint}${s.wl.identityEndpoint.includes("?") ? "&" : "?"}${q}`;
  const http = await import("node:http");
  const get = (headers) =>
    new Promise((ok, ko) => {
      http.get(url, { headers }, (res) => {
        let b = "";
        res.on("data", (c) => (b += c));
        res.on("end", () => ok({ status: res.statusCode, text: b }));
      }).on("error", ko);
    });
  const good = await get({ "X-IDENTITY-HEADER": s.wl.identityHeader });
  assert.equal(good.status, 200, good.text);
  const body = JSON.parse(good.text);
  assert.ok(body.access_token && body.expires_on, good.text);
  record("accessToken", body.access_token);
  for (const h of [{}, { "X-IDENTITY-HEADER": "wrong" }, { "X-IDENTITY-HEADER": s.wl.identityHeader.slice(0, -1) }]) {
    const r = await get(h);
    assert.ok(r.status >= 400 && r.status < 500 && r.status !== 404 && r.status !== 410, `${r.status} ${r.text}`);
    assert.ok(!r.text.includes("access_token"), r.text);
  }
});

test("MI endpoint (IMDS protocol): an unidentified caller gets a 400, never a token", async () => {
  const http = await import("node:http");
  const q = new URLSearchParams({ "api-version": "2018-02-01", resource: EXCHANGE_AUD, client_id: s.uami.clientId });
  for (const path of [`/metadata/identity/oauth2/token?${q}`, `/metadata/identity/oauth2/token/?${q}`]) {
    const r = await new Promise((ok, ko) => {
      http.get(`${MI}${path}`, { headers: { Metadata: "true" } }, (res) => {
        let b = "";
        res.on("data", (c) => (b += c));
        res.on("end", () => ok({ status: res.statusCode, text: b }));
      }).on("error", ko);
    });
    assert.ok([400, 401, 403].includes(r.status), `${path}: ${r.status} ${r.text}`);
    assert.ok(!r.text.includes("access_token"), r.text);
  }
});

test("ClientAssertionCredential: the MI token buys a vault token in the customer tenant", async () => {
  let calls = 0;
  const cred = assertionCredential(customer.tenantId, s.app.appId, async () => {
    calls++;
    return s.miToken;
  });
  const token = await getToken(cred, `${VAULT_RESOURCE}/.default`);
  assert.ok(calls >= 1, "getAssertion was not called");
  const p = await verifyToken(token, {
    tid: customer.tenantId,
    issuer: v1Issuer(customer.tenantId),
    audience: [VAULT_RESOURCE, `${VAULT_RESOURCE}/`],
  });
  assert.equal(p.tid, customer.tenantId, "tid is the customer tenant");
  assert.equal(p.oid, s.sp.id, "oid is the app's service principal in the customer tenant");
  assert.equal(p.sub, s.sp.id);
  assert.equal(p.appid, s.app.appId);
  assert.equal(p.appidacr, "2");
  assert.notEqual(p.oid, s.uami.principalId);
  // The customer tenant's keys signed it, not the ISV's.
  await assert.rejects(verifyToken(token, { tid: isv.tenantId, issuer: v1Issuer(customer.tenantId), audience: VAULT_RESOURCE }));
});

test("ClientAssertionCredential chained to ManagedIdentityCredential (the storage service's chain)", async () => {
  const mi = new ManagedIdentityCredential({ clientId: s.uami.clientId });
  const cred = assertionCredential(customer.tenantId, s.app.appId, async () =>
    (await mi.getToken(`${EXCHANGE_AUD}/.default`)).token,
  );
  const token = await getToken(cred, `${VAULT_RESOURCE}/.default`);
  const p = await verifyToken(token, { tid: customer.tenantId, issuer: v1Issuer(customer.tenantId), audience: [VAULT_RESOURCE, `${VAULT_RESOURCE}/`] });
  assert.equal(p.oid, s.sp.id);
  // Any <resource>/.default is accepted, including ARM's own base URL.
  const at = await getToken(cred, `${ARM}/.default`);
  const ap = await verifyToken(at, { tid: customer.tenantId, issuer: v1Issuer(customer.tenantId), audience: [ARM, `${ARM}/`] });
  assert.equal(ap.oid, s.sp.id);
});

test("the MI token is no use in the customer tenant for the wrong app", async () => {
  const { rejectsAadsts } = await import("./lib.mjs");
  // The customer's admin app has no federated credential at all.
  await rejectsAadsts(
    assertionCredential(customer.tenantId, customer.clientId, async () => s.miToken).getToken(`${VAULT_RESOURCE}/.default`),
    700211,
  );
});
