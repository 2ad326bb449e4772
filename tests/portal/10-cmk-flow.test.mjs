// SPDX-License-Identifier: Apache-2.0
// The portal in a browser, through the cross-tenant customer-managed-key procedure
// (../shared/reference/seed-flow.md 2.3 "Existing account (portal)" and 4.7), on the chain
// chain.sh made with the CLI. One browser, tests in order:
//  1. the ISV signs in and sees its storage accounts;
//  2. on the existing account's Encryption page it chooses customer-managed keys, enters the
//     customer's key URI (a wrong one first: refused in plain words, nothing changes), picks the
//     subscription, the user-assigned identity and, under Advanced, the multi-tenant app, and
//     saves; every field the page then shows is checked against ARM's answer;
//  3. the customer signs in and sees its vault, the key, the role assignments (the ISV app's
//     Crypto Service Encryption User) and the audit log filtered by the app's caller, each unwrap
//     with its correlation id (checked against the auditRecords API);
//  4. the customer disables the key version in use, and the ISV's account page (reloaded, in a
//     browser context of its own) turns to Denied with the reason ARM gives;
//  5. the customer enables it again, and the ISV's account recovers;
//  6. the customer sets the rotation policy and rotates the key; the ISV's account follows;
//  7. the customer's vault goes down (operator fault): the ISV's account rides through
//     ("Riding through (vault unreachable)"), the customer's key page says in plain words that
//     the vault does not answer; back up, the account is Usable again.
// Every page is screenshotted under CK_PORTAL_OUT.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  accountPath, armGet, field, fixture, isv, launch, open, ready, shot, signIn, until, vaultFault, vaultGet,
} from "./lib.mjs";

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
  // Select from Key Vault lists the ISV's own vaults: it has none (the key is the customer's).
  await page.check("#key-select-vault");
  await page.waitForFunction(() => !/Loading/.test(document.querySelector("#kv-vault")?.textContent ?? "Loading"));
  assert.equal((await page.locator("#kv-vault option").first().innerText()).trim(), "No key vaults in this subscription");
  await page.check("#key-enter-uri");
  assert.equal(await page.isVisible("#kv-vault"), false);
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

// ---------------------------------------------------------------------------------------------
// The customer's side.

const vaultRoute = `/vaults/${fixture.vault.rg}/${fixture.vault.name}`;
const keyRoute = `${vaultRoute}/keys/${fixture.key.name}`;
const version = fixture.key.kid.split("/").pop();
const accountRoute = `/storage/${fixture.account.rg}/${fixture.account.name}`;
let cust; // the customer's page
let isvPage; // the ISV's page, in a browser context of its own

/** Reloads the ISV's account page until the key state shows `label`; resolves the fields shown. */
async function isvSees(label, what) {
  return until(what, async () => {
    await open(isvPage, accountRoute);
    const f = await shownFields(isvPage);
    return f.keyState === label ? f : null;
  }, { timeoutMs: 30_000, intervalMs: 1000 });
}

test("3. the customer signs in and sees its vault, the key, and the role of the ISV's application", async () => {
  cust = b.page;
  await signIn(cust, fixture.customer);
  await open(cust, "/vaults");
  const row = cust.locator(`tr[data-vault="${fixture.vault.name}"]`);
  await row.waitFor();
  assert.equal((await row.locator('td[data-col="purge"]').innerText()).trim(), "On");
  assert.equal((await row.locator('td[data-col="rbac"]').innerText()).trim(), "Azure RBAC");
  await shot(cust, "customer-vaults");
  await row.locator("a").click();
  await ready(cust, vaultRoute);
  const key = cust.locator(`tr[data-key="${fixture.key.name}"]`);
  assert.equal((await key.locator('td[data-col="status"]').innerText()).trim(), "Enabled");
  const keys = await vaultGet(fixture.customer, fixture.vault.uri, "keys");
  assert.equal(await cust.locator("tr[data-key]").count(), keys.value.length);
  await shot(cust, "customer-vault-keys");
  // Access control: the app's service principal holds Key Vault Crypto Service Encryption User here.
  await open(cust, `${vaultRoute}/access`);
  const ra = cust.locator(`tr[data-principal="${fixture.sp.id}"]`);
  assert.equal(await ra.count(), 1);
  assert.equal(await ra.getAttribute("data-role"), "Key Vault Crypto Service Encryption User");
  assert.match(await ra.locator('td[data-col="principal"]').innerText(), /isv-cmk-app/);
  assert.equal((await ra.locator('td[data-col="appId"]').innerText()).trim(), fixture.app.appId);
  assert.equal((await ra.locator('td[data-col="scope"]').innerText()).trim(), "This resource");
  const api = await armGet(fixture.customer, `${fixture.vault.id}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01`);
  assert.equal(await cust.locator("tr[data-principal]").count(), api.value.length);
  await shot(cust, "customer-vault-access");
});

test("3. the customer's audit log, filtered by the ISV application's caller: each wrap and unwrap with its correlation id", async () => {
  await open(cust, `${vaultRoute}/audit`);
  await cust.selectOption("#audit-caller", fixture.sp.id);
  // The API first: the page, read after it, holds every one of these records (and perhaps newer
  // ones: the account re-validates every 3 s).
  const api = await armGet(fixture.customer, `${fixture.vault.id}/auditRecords?api-version=2026-02-01&$top=1000&callerOid=${fixture.sp.id}`);
  const recs = api.value;
  await cust.evaluate(() => {
    delete document.body.dataset.ready;
  });
  await cust.click("#audit-apply");
  await ready(cust, `${vaultRoute}/audit`);
  assert.ok(recs.some((r) => r.operation === "UnwrapKey"), JSON.stringify(recs.map((r) => r.operation)));
  const rows = await cust.$$eval("tr[data-seq]", (trs) => trs.map((tr) => Object.fromEntries(
    [...tr.querySelectorAll("td[data-col]")].map((td) => [td.dataset.col, td.innerText.trim()]).concat([["seq", tr.dataset.seq]]))));
  // The page may have read a few more records than the API call before it (re-validations).
  assert.ok(rows.length >= recs.length, `${rows.length} rows, ${recs.length} records`);
  const bySeq = new Map(rows.map((r) => [r.seq, r]));
  for (const r of recs) {
    const shown = bySeq.get(String(r.sequence));
    assert.ok(shown, `record ${r.sequence} not shown`);
    assert.equal(shown.operation, r.operation);
    assert.equal(shown.result, String(r.result));
    assert.equal(shown.callerAppId, fixture.app.appId);
    assert.match(shown.caller, /isv-cmk-app/);
    if (/^(Un)?WrapKey$/.test(r.operation)) {
      assert.match(r.correlationId, /^[0-9a-f-]{36}$/);
      assert.equal(shown.correlationId, r.correlationId);
      assert.equal(shown.kid, `${fixture.key.name}/${r.kid.split("/").pop()}`);
    }
  }
  assert.ok(rows.every((r) => r.caller.includes("isv-cmk-app")), "a row of another caller is shown");
  await shot(cust, "customer-audit-isv-app");
  // One correlation id alone.
  const unwrap = recs.find((r) => r.operation === "UnwrapKey");
  await cust.fill("#audit-correlation", unwrap.correlationId);
  await cust.evaluate(() => {
    delete document.body.dataset.ready;
  });
  await cust.click("#audit-apply");
  await ready(cust, `${vaultRoute}/audit`);
  assert.equal(await cust.locator("tr[data-seq]").count(), 1);
  assert.equal(await cust.locator("tr[data-seq]").getAttribute("data-seq"), String(unwrap.sequence));
});

test("4. the customer disables the key version in use; the ISV's account turns to Denied", async () => {
  isvPage = await b.newPage();
  await signIn(isvPage, isv);
  await open(isvPage, accountRoute);
  assert.match((await shownFields(isvPage)).keyState, /^Usable/);
  await open(cust, keyRoute);
  const row = cust.locator(`tr[data-version="${version}"]`);
  assert.equal(await row.getAttribute("data-current"), "true");
  assert.equal((await row.locator('td[data-col="status"]').innerText()).trim(), "Enabled");
  await shot(cust, "customer-key-versions");
  await row.locator('button[data-action="disable"]').click();
  await cust.locator("#version-updated").waitFor();
  await cust.locator(`tr[data-version="${version}"] button[data-action="enable"]`).waitFor();
  assert.equal((await cust.locator(`tr[data-version="${version}"] td[data-col="status"]`).innerText()).trim(), "Disabled");
  const k = await vaultGet(fixture.customer, fixture.vault.uri, `keys/${fixture.key.name}/${version}`);
  assert.equal(k.attributes.enabled, false);
  await shot(cust, "customer-key-disabled");
  const t0 = Date.now();
  const f = await isvSees("Denied", "the ISV's account turns to Denied");
  console.log(`denied seen on the ISV's page after ${Date.now() - t0} ms`);
  assert.equal(f.keyStateError, "KeyVaultEncryptionKeyNotFound");
  assert.match(f.keyStateReason, /disabled/i);
  await shot(isvPage, "isv-account-denied");
  // Every field of the Encryption page, the reason and error code included, against ARM.
  await open(isvPage, encRoute);
  const { shown, api } = await panelMatchesApi(isvPage, "while denied");
  assert.equal(api.properties.keyState.state, "Denied");
  assert.equal(shown.keyState, "Denied");
  assert.equal(shown.keyStateError, api.properties.keyState.errorCode);
});

test("5. the customer enables the key again; the ISV's account recovers", async () => {
  await cust.locator(`tr[data-version="${version}"] button[data-action="enable"]`).click();
  await cust.locator(`tr[data-version="${version}"] button[data-action="disable"]`).waitFor();
  assert.equal((await cust.locator(`tr[data-version="${version}"] td[data-col="status"]`).innerText()).trim(), "Enabled");
  const t0 = Date.now();
  await isvSees("Usable", "the ISV's account recovers");
  console.log(`usable again on the ISV's page after ${Date.now() - t0} ms`);
  await open(isvPage, encRoute);
  const { shown } = await panelMatchesApi(isvPage, "after the restore");
  assert.equal(shown.keyInUse, fixture.key.kid);
  await shot(isvPage, "isv-account-recovered");
});

test("6. the customer sets the rotation policy and rotates the key; the ISV's account follows the new version", async () => {
  await cust.check("#policy-auto");
  await cust.fill("#policy-after", "P90D");
  await cust.fill("#policy-notify", "P30D");
  await cust.fill("#policy-expiry", "P2Y");
  await cust.click("#policy-save");
  await cust.locator("#policy-saved").waitFor();
  const p = await vaultGet(fixture.customer, fixture.vault.uri, `keys/${fixture.key.name}/rotationpolicy`);
  assert.equal(p.attributes.expiryTime, "P2Y");
  assert.deepEqual(
    p.lifetimeActions.map((a) => [a.action.type.toLowerCase(), a.trigger.timeAfterCreate ?? a.trigger.timeBeforeExpiry]).sort(),
    [["notify", "P30D"], ["rotate", "P90D"]],
  );
  await cust.click("#rotate");
  await cust.locator("#rotated").waitFor();
  const latest = await vaultGet(fixture.customer, fixture.vault.uri, `keys/${fixture.key.name}`);
  assert.notEqual(latest.key.kid, fixture.key.kid);
  await cust.locator(`tr[data-version="${latest.key.kid.split("/").pop()}"][data-current="true"]`).waitFor();
  await shot(cust, "customer-key-rotated");
  const f = await until("the ISV's account follows the rotation", async () => {
    await isvPage.click("#refresh");
    await isvPage.waitForSelector("#refresh:not([disabled])");
    const s = await shownFields(isvPage);
    return s.keyInUse === latest.key.kid ? s : null;
  }, { timeoutMs: 20_000, intervalMs: 500 });
  assert.equal(f.keyVersion, latest.key.kid.split("/").pop());
  assert.equal(f.autoUpdate, "Enabled");
  await panelMatchesApi(isvPage, "after the rotation");
  await shot(isvPage, "isv-account-rotated");
  assert.deepEqual(b.consoleErrors, []);
});

test("signing out forgets the tokens; a sign-in link fills in the tenant and client IDs, never a secret", async () => {
  await isvPage.click("#sign-out");
  await ready(isvPage, "/signin");
  assert.equal(await isvPage.evaluate(() => sessionStorage.length), 0);
  const unready = () => isvPage.evaluate(() => {
    delete document.body.dataset.ready;
  });
  await unready();
  await isvPage.goto(`${fixture.endpoints.arm.replace(/\/+$/, "")}/portal/#/signin?tenant=${isv.tenantId}&client=${isv.clientId}&secret=x`);
  await ready(isvPage, "/signin");
  assert.equal(await isvPage.inputValue("#tenant-id"), isv.tenantId);
  assert.equal(await isvPage.inputValue("#client-id"), isv.clientId);
  assert.equal(await isvPage.inputValue("#client-secret"), "");
  // Signed out, any page leads to the sign-in page.
  await unready();
  await isvPage.goto(`${fixture.endpoints.arm.replace(/\/+$/, "")}/portal/#/storage`);
  await ready(isvPage, "/signin");
  await signIn(isvPage, isv);
});

test("7. the customer's vault goes down: the ISV's account rides through; the portal says the vault does not answer; back up, Usable", async () => {
  await open(isvPage, encRoute);
  await vaultFault(fixture.vault.name, "down");
  try {
    const t0 = Date.now();
    const f = await until("the ISV's account rides through", async () => {
      await isvPage.click("#refresh");
      await isvPage.waitForSelector("#refresh:not([disabled])");
      const s = await shownFields(isvPage);
      return s.keyState === "Riding through (vault unreachable)" ? s : null;
    }, { timeoutMs: 20_000, intervalMs: 500 });
    console.log(`riding through shown after ${Date.now() - t0} ms`);
    assert.match(f.unreachableSince, /UTC$/);
    await shot(isvPage, "isv-account-riding-through");
    await open(cust, keyRoute);
    const err = cust.locator(".notice.error .plain").first();
    await err.waitFor();
    assert.match(await err.innerText(), /Could not reach https:\/\/localhost:\d+\. The service did not answer/);
    await shot(cust, "customer-vault-down");
  } finally {
    await vaultFault(fixture.vault.name, "none");
  }
  await until("the ISV's account is Usable again", async () => {
    await isvPage.click("#refresh");
    await isvPage.waitForSelector("#refresh:not([disabled])");
    return (await shownFields(isvPage)).keyState === "Usable";
  }, { timeoutMs: 30_000, intervalMs: 500 });
  await panelMatchesApi(isvPage, "after the vault came back");
  b.consoleErrors.length = 0; // the browser logs the refused connections
});
