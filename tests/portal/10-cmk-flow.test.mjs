// SPDX-License-Identifier: Apache-2.0
// The portal in a browser, through the cross-tenant customer-managed-key procedure
// (../shared/reference/seed-flow.md 2.3 "Existing account (portal)" and 4.7), on the chain
// chain.sh made with the CLI. One browser, tests in order:
//  1. the ISV signs in and sees its storage accounts;
//  ... (later slices)
// Every page is screenshotted under CK_PORTAL_OUT.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { armGet, field, fixture, isv, launch, open, shot, signIn } from "./lib.mjs";

let b;
before(async () => {
  b = await launch();
});
after(async () => {
  if (b) await b.browser.close();
});

test("a wrong secret is refused in plain words", async () => {
  const { page } = b;
  await page.goto(`${fixture.endpoints.arm.replace(/\/+$/, "")}/portal/#/signin`);
  await page.fill("#tenant-id", isv.tenantId);
  await page.fill("#client-id", isv.clientId);
  await page.fill("#client-secret", "not-the-secret");
  await page.click("#sign-in");
  const err = page.locator("#signin-result .notice.error .plain");
  await err.waitFor();
  assert.match(await err.innerText(), /client secret is wrong/i);
  await shot(page, "signin-wrong-secret");
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  b.consoleErrors.length = 0; // the token endpoint's 401 is logged by the browser
});

test("1. the ISV signs in and sees its storage accounts (the existing account on Microsoft-managed keys)", async () => {
  const { page } = b;
  await signIn(page, isv);
  const s = await page.evaluate(() => JSON.parse(sessionStorage.getItem("crosskey.portal.session")));
  assert.equal(s.tenantId, isv.tenantId);
  assert.ok(s.tokens.arm.token && s.tokens.graph.token && s.tokens.vault.token);
  assert.ok(!JSON.stringify(s).includes(isv.clientSecret), "the client secret was stored");
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  assert.equal(s.subscriptionId, isv.subscriptionId);
  const row = page.locator(`tr[data-account="${fixture.account.name}"]`);
  await row.waitFor();
  assert.equal((await row.locator('td[data-col="encryption"]').innerText()).trim(), "Microsoft-managed keys");
  assert.equal((await row.locator('td[data-col="rg"]').innerText()).trim(), fixture.account.rg);
  const list = await armGet(isv, `/subscriptions/${isv.subscriptionId}/providers/Microsoft.Storage/storageAccounts?api-version=2025-08-01`);
  assert.equal(await page.locator("tr[data-account]").count(), list.value.length);
  await shot(page, "isv-storage-accounts");
  await row.locator("a").click();
  await page.waitForFunction((n) => document.body.dataset.ready === `/storage/isvrg/${n}`, fixture.account.name);
  assert.equal(await field(page, "encryptionType"), "Microsoft-managed keys");
  assert.equal(await field(page, "resourceId"), fixture.account.id);
  await shot(page, "isv-account-overview");
  assert.deepEqual(b.consoleErrors, []);
});
