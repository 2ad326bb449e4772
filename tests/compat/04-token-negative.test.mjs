// SPDX-License-Identifier: Apache-2.0
// Negative tests of the token endpoint with client secrets and hand-made requests: wrong secret,
// unknown tenant, an app that is not in the tenant, malformed form bodies, wrong grant types and
// scopes, oversized bodies. Each checks the exact Entra error, and that nothing changed.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import test from "node:test";

import {
  ARM, AUTHORITY, assertAadsts, customer, form, isv, raw, rejectsAadsts, secretCredential, tokenRequest,
} from "./lib.mjs";

const good = (t = isv) => ({
  client_id: t.clientId,
  client_secret: t.clientSecret,
  scope: `${ARM}/.default`,
  grant_type: "client_credentials",
});

test("a good request (control)", async () => {
  const r = await tokenRequest(isv.tenantId, good());
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers["content-type"], /^application\/json/);
  assert.ok(r.body.access_token && Number(r.body.expires_in) > 0);
  assert.match(String(r.body.token_type), /^bearer$/i);
  const { record } = await import("./lib.mjs");
  record("accessToken", r.body.access_token);
  // MSAL's extra fields (telemetry, CAE claims, client-request-id query) are ignored
  const r2 = await raw(`${AUTHORITY}/${isv.tenantId}/oauth2/v2.0/token?client-request-id=${crypto.randomUUID()}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded;charset=utf-8" },
    body: form({
      ...good(),
      "x-client-SKU": "msal.js.node", "x-client-VER": "5.6.0", "x-ms-lib-capability": "retry-after, h429",
      claims: JSON.stringify({ access_token: { xms_cc: { values: ["cp1"] } } }),
    }),
  });
  assert.equal(r2.status, 200, r2.text);
  record("accessToken", r2.body.access_token);
});

test("wrong client secret -> 401 AADSTS7000215", async () => {
  assertAadsts(await tokenRequest(isv.tenantId, { ...good(), client_secret: "wrong" }), 401, "invalid_client", 7000215);
  assertAadsts(await tokenRequest(isv.tenantId, { ...good(), client_secret: `${isv.clientSecret}x` }), 401, "invalid_client", 7000215);
  assertAadsts(await tokenRequest(isv.tenantId, { ...good(), client_secret: isv.clientSecret.slice(0, -1) }), 401, "invalid_client", 7000215);
  // another tenant's secret for this app
  assertAadsts(await tokenRequest(isv.tenantId, { ...good(), client_secret: customer.clientSecret }), 401, "invalid_client", 7000215);
  await rejectsAadsts(secretCredential(isv, "wrong-secret").getToken(`${ARM}/.default`), 7000215);
});

// Entra answers invalid_request at the token endpoint and invalid_tenant at discovery (wire reference A.4).
test("unknown tenant -> 400 invalid_request AADSTS90002", async () => {
  assertAadsts(await tokenRequest(crypto.randomUUID(), good()), 400, "invalid_request", 90002);
  const d = await raw(`${AUTHORITY}/${crypto.randomUUID()}/v2.0/.well-known/openid-configuration`);
  assert.ok(d.status === 400 || d.status === 404, `${d.status} ${d.text}`);
});

test("an app that is not in the tenant -> 400 AADSTS700016", async () => {
  // The ISV's admin app is single-tenant: it has no service principal in the customer tenant.
  assertAadsts(await tokenRequest(customer.tenantId, good(isv)), 400, "unauthorized_client", 700016);
  await rejectsAadsts(
    secretCredential({ ...isv, tenantId: customer.tenantId }).getToken(`${ARM}/.default`),
    700016,
  );
  assertAadsts(await tokenRequest(isv.tenantId, { ...good(), client_id: crypto.randomUUID() }), 400, "unauthorized_client", 700016);
});

test("malformed form bodies -> 400 invalid_request", async () => {
  const t = isv.tenantId;
  const omit = (k) => {
    const o = good();
    delete o[k];
    return form(o);
  };
  const cases = [
    ["empty body", { rawBody: "" }],
    ["missing grant_type", { rawBody: omit("grant_type") }],
    ["missing client_id", { rawBody: omit("client_id") }],
    ["missing scope", { rawBody: omit("scope") }],
    ["bad percent-encoding", { rawBody: `${form(good())}&x=%zz%` }],
    ["JSON instead of a form", { rawBody: JSON.stringify(good()), contentType: "application/json" }],
    ["binary garbage", { rawBody: crypto.randomBytes(512) }],
  ];
  for (const [what, opts] of cases) {
    const r = await tokenRequest(t, undefined, opts);
    assert.equal(r.status, 400, `${what}: ${r.status} ${r.text}`);
    assert.equal(r.body?.error, "invalid_request", `${what}: ${r.text}`);
    assert.ok(Array.isArray(r.body.error_codes) && r.body.error_codes.length, `${what}: ${r.text}`);
    assert.match(r.body.error_description, /^AADSTS\d+:/, `${what}: ${r.text}`);
  }
  // neither client_secret nor client_assertion (Entra: AADSTS7000218, invalid_client)
  const r = await tokenRequest(t, undefined, { rawBody: omit("client_secret") });
  assert.ok(r.status === 400 || r.status === 401, r.text);
  assert.match(r.body?.error ?? "", /^(invalid_client|invalid_request)$/, r.text);
  assert.equal(r.body.access_token, undefined);
});

test("wrong grant type -> 400 unsupported_grant_type", async () => {
  for (const g of ["password", "authorization_code", "", "client_credentials "]) {
    const r = await tokenRequest(isv.tenantId, { ...good(), grant_type: g });
    assert.equal(r.status, 400, `${JSON.stringify(g)}: ${r.text}`);
    assert.match(r.body?.error ?? "", /^(unsupported_grant_type|invalid_request)$/, r.text);
  }
});

test("scope that is not <resource>/.default -> 400 invalid_scope AADSTS1002012", async () => {
  for (const scope of ["https://vault.azure.net/user_impersonation", "openid", `${ARM}/.default ${ARM}/x`]) {
    assertAadsts(await tokenRequest(isv.tenantId, { ...good(), scope }), 400, "invalid_scope", 1002012);
  }
});

test("oversized token request -> 413", async () => {
  const big = `${form(good())}&pad=${"a".repeat(4 << 20)}`;
  const r = await tokenRequest(isv.tenantId, undefined, { rawBody: big });
  assert.equal(r.status, 413, `${r.status} ${r.text.slice(0, 200)}`);
  // and the service is still there
  const ok = await tokenRequest(isv.tenantId, good());
  assert.equal(ok.status, 200);
  const { record } = await import("./lib.mjs");
  record("accessToken", ok.body.access_token);
});

test("GET on the token endpoint is not a token request", async () => {
  const r = await raw(`${AUTHORITY}/${isv.tenantId}/oauth2/v2.0/token?${form(good())}`);
  assert.ok(r.status === 400 || r.status === 405, `${r.status} ${r.text}`);
  assert.ok(!r.text.includes("access_token"), r.text);
});
