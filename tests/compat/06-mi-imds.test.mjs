// SPDX-License-Identifier: Apache-2.0
// ManagedIdentityCredential over the IMDS protocol. IMDS requests carry no secret header, so the
// workload's identity header travels in the path: AZURE_POD_IDENTITY_AUTHORITY_HOST is set to
// {managedIdentity}/w/{identityHeader}, and MSAL calls {that}/metadata/identity/oauth2/token/.
// Note: msal-node (5.6.0) builds that URL by string concatenation (the path prefix survives) and
// then canonicalizes it with toLowerCase() and a trailing slash, so the whole URL, header
// included, reaches the server in lower case. Its own availability probe (new URL(path, host))
// would drop the prefix, but it is skipped when the variable is set.
// The MI source is fixed per process: this file runs in its own process.
import assert from "node:assert/strict";
import test from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";

import {
  EXCHANGE_AUD, EXCHANGE_AUD_GUID, MI, VAULT_RESOURCE, assertionCredential, cli, customer, getToken, isv,
  provisionChain, record, v1Issuer, v2Issuer, verifyToken,
} from "./lib.mjs";

const s = {};

test("provision the chain and a workload", async () => {
  Object.assign(s, await provisionChain());
  s.wl = cli("workload", "create", "--identity", s.uami.id);
  record("identityHeader", s.wl.identityHeader);
  process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = `${MI}/w/${s.wl.identityHeader}`;
});

test("IMDS: ManagedIdentityCredential gets the exchange token through AZURE_POD_IDENTITY_AUTHORITY_HOST", async () => {
  const mi = new ManagedIdentityCredential({ clientId: s.uami.clientId });
  const token = await getToken(mi, `${EXCHANGE_AUD}/.default`);
  const p = await verifyToken(token, { tid: isv.tenantId, issuer: v2Issuer(isv.tenantId), audience: [EXCHANGE_AUD, EXCHANGE_AUD_GUID] });
  assert.equal(p.sub, s.uami.principalId);
  assert.equal(p.oid, s.uami.principalId);
  const cred = assertionCredential(customer.tenantId, s.app.appId, async () => token);
  const vt = await getToken(cred, `${VAULT_RESOURCE}/.default`);
  const vp = await verifyToken(vt, { tid: customer.tenantId, issuer: v1Issuer(customer.tenantId), audience: [VAULT_RESOURCE, `${VAULT_RESOURCE}/`] });
  assert.equal(vp.oid, s.sp.id);
});

test("IMDS: no Metadata header, or a wrong header in the path -> 400, never a token", async () => {
  const http = await import("node:http");
  const get = (url, headers) =>
    new Promise((ok, ko) => {
      http.get(url, { headers }, (res) => {
        let b = "";
        res.on("data", (c) => (b += c));
        res.on("end", () => ok({ status: res.statusCode, text: b }));
      }).on("error", ko);
    });
  const q = `api-version=2018-02-01&resource=${encodeURIComponent(EXCHANGE_AUD)}&client_id=${s.uami.clientId}`;
  const good = `${MI}/w/${s.wl.identityHeader}/metadata/identity/oauth2/token?${q}`;
  const r1 = await get(good, {});
  assert.equal(r1.status, 400, r1.text);
  const r2 = await get(`${MI}/w/not-the-header/metadata/identity/oauth2/token?${q}`, { Metadata: "true" });
  assert.equal(r2.status, 400, r2.text);
  assert.ok(!r2.text.includes("access_token"));
  const r3 = await get(good, { Metadata: "true" });
  assert.equal(r3.status, 200, r3.text);
  const body = JSON.parse(r3.text);
  record("accessToken", body.access_token);
  assert.ok(body.access_token && body.expires_on);
});
