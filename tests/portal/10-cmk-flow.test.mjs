// SPDX-License-Identifier: Apache-2.0
// The portal in a browser, through the cross-tenant customer-managed-key procedure
// (../shared/reference/seed-flow.md 2.3 "Existing account (portal)" and 4.7), on the chain
// chain.sh made with the CLI. One browser, tests in order:
//  1. the ISV signs in and sees its storage accounts;
//  2. on the existing account's Encryption page it chooses customer-managed keys, enters the
//     customer's key URI (a wrong one first: refused in plain words, nothing changes), picks the
//     subscription, the user-assigned identity and, under Advanced, the multi-tenant app, and
//     saves; every field the page then shows is checked against ARM's answer;
// Every page is screenshotted under CK_PORTAL_OUT.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { accountPath, armGet, field, fixture, isv, launch, open, shot, signIn, until } from "./lib.mjs";

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

/** The portal's time format (ui.js fmtTime). */
const fmtTime = (v) => (v ? new Date(v).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC") : "—");
const STATE_LABEL = { Usable: "Usable", Revalidating: "Usable (re-validating)", Unreachable: "Riding through (vault unreachable)", Denied: "Denied" };
const ci = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();
const encRoute = `/storage/${fixture.account.rg}/${fixture.account.name}/encryption`;

/** Every field of the page's "Encryption in effect" panel, as text, by data-field. */
async function shownFields(page) {
  return page.$$eval("#encryption-summary [data-field]", (els) =>
    Object.fromEntries(els.map((e) => [e.dataset.field, e.innerText.trim()])));
}

/** What the panel must show for an account as ARM returns it (seed-flow 4.7 and keyState). */
function expectedFields(a) {
  const e = a.properties.encryption;
  const kvp = e.keyvaultproperties;
  const ks = a.properties.keyState;
  const uami = e.identity.userAssignedIdentity;
  const ua = Object.entries(a.identity.userAssignedIdentities).find(([k]) => ci(k, uami));
  const want = {
    encryptionType: "Customer-managed keys",
    keyInUse: kvp.currentVersionedKeyIdentifier,
    keyVaultUri: kvp.keyvaulturi,
    keyName: kvp.keyname,
    autoUpdate: kvp.keyversion ? "Disabled" : "Enabled",
    keyVersion: kvp.currentVersionedKeyIdentifier.split("/").pop(),
    lastKeyRotation: fmtTime(kvp.lastKeyRotationTimestamp),
    identityType: "User-assigned",
    userAssignedIdentity: uami,
    principalId: ua[1].principalId,
    applicationId: e.identity.federatedIdentityClientId,
    keyState: STATE_LABEL[ks.state],
    keyStateReason: ks.reason || "—",
    keyStateSince: fmtTime(ks.since),
  };
  if (kvp.keyversion) want.pinnedVersion = kvp.keyversion;
  if (kvp.currentVersionedKeyExpirationTimestamp) want.keyExpires = fmtTime(kvp.currentVersionedKeyExpirationTimestamp);
  if (ks.errorCode) want.keyStateError = ks.errorCode;
  if (ks.unreachableSince) want.unreachableSince = fmtTime(ks.unreachableSince);
  if (ks.leaseExpiresOn) want.leaseExpiresOn = fmtTime(ks.leaseExpiresOn);
  return want;
}

/**
 * Refreshes the page's panel and reads ARM right after, until both agree on every field (the key
 * state moves every few seconds, with --cmk-revalidate 3). Resolves {shown, api}.
 */
async function panelMatchesApi(page, label) {
  let last;
  return until(`${label}: the Encryption page agrees with ARM`, async () => {
    await page.click("#refresh");
    await page.waitForSelector("#refresh:not([disabled])");
    const shown = await shownFields(page);
    const api = await armGet(isv, accountPath());
    const want = expectedFields(api);
    last = { shown, want };
    try {
      assert.deepEqual(shown, want);
    } catch {
      return null;
    }
    return { shown, api };
  }, { timeoutMs: 20_000, intervalMs: 300 }).catch((e) => {
    e.message += `\n${JSON.stringify(last, null, 2)}`;
    throw e;
  });
}

test("2. a wrong key URI is refused in plain words, naming the failing link; the account stays on Microsoft-managed keys", async () => {
  const { page } = b;
  await open(page, encRoute);
  await shot(page, "isv-encryption-before");
  assert.equal(await page.isChecked("#enc-mmk"), true, "Microsoft-managed keys is not the current choice");
  assert.equal(await page.isVisible("#cmk-settings"), false);
  await page.check("#enc-cmk");
  await page.check("#key-select-vault");
  await page.check("#key-enter-uri");
  await page.fill("#key-uri", `${fixture.vault.uri.replace(/\/+$/, "")}/keys/nosuchkey`);
  await page.selectOption("#identity-subscription", isv.subscriptionId);
  await page.check("#identity-user");
  await page.selectOption("#user-identity", fixture.uami.id);
  await page.click("#advanced > summary");
  await page.selectOption("#federated-app", fixture.app.appId);
  await page.click("#save");
  const err = page.locator("#save-result .notice.error .plain");
  await err.waitFor();
  const text = await err.innerText();
  assert.match(text, /not saved/);
  assert.match(text, /failing link is the key/i, text);
  assert.equal(await err.getAttribute("data-error-code"), "KeyVaultEncryptionKeyNotFound");
  await shot(page, "isv-encryption-wrong-key");
  const a = await armGet(isv, accountPath());
  assert.equal(a.properties.encryption.keySource, "Microsoft.Storage");
});

test("2. the ISV configures the customer's key on the Encryption page; every displayed field matches ARM", async () => {
  const { page } = b;
  await page.fill("#key-uri", `${fixture.vault.uri.replace(/\/+$/, "")}/keys/${fixture.key.name}`);
  assert.equal(await page.inputValue("#user-identity"), fixture.uami.id);
  assert.equal(await page.inputValue("#federated-app"), fixture.app.appId);
  assert.match(await page.locator("#federated-app option:checked").innerText(), /isv-cmk-app/);
  await shot(page, "isv-encryption-filled");
  await page.click("#save");
  await page.locator("#saved").waitFor();
  const a = await armGet(isv, accountPath());
  const e = a.properties.encryption;
  assert.equal(e.keySource, "Microsoft.Keyvault");
  assert.equal(e.keyvaultproperties.keyname, fixture.key.name);
  assert.equal(e.keyvaultproperties.keyversion ?? "", "");
  assert.equal(e.keyvaultproperties.currentVersionedKeyIdentifier, fixture.key.kid);
  assert.ok(ci(e.identity.userAssignedIdentity, fixture.uami.id));
  assert.equal(e.identity.federatedIdentityClientId, fixture.app.appId);
  assert.equal(a.identity.type, "UserAssigned");
  const { shown } = await panelMatchesApi(page, "after saving");
  assert.equal(shown.keyInUse, fixture.key.kid);
  assert.equal(shown.autoUpdate, "Enabled");
  assert.equal(shown.principalId, fixture.uami.principalId);
  assert.equal(shown.applicationId, fixture.app.appId);
  assert.match(shown.keyState, /^Usable/);
  await shot(page, "isv-encryption-saved");
  // The list and the overview say the same.
  await open(page, "/storage");
  const row = page.locator(`tr[data-account="${fixture.account.name}"]`);
  assert.equal((await row.locator('td[data-col="encryption"]').innerText()).trim(), "Customer-managed keys");
  assert.match(await row.locator('td[data-col="keyState"]').innerText(), /^Usable/);
  await open(page, `/storage/${fixture.account.rg}/${fixture.account.name}`);
  assert.equal(await field(page, "keyInUse"), fixture.key.kid);
  await shot(page, "isv-account-overview-cmk");
  assert.deepEqual(b.consoleErrors.filter((m) => !/status of 400/.test(m)), []);
  b.consoleErrors.length = 0;
});
