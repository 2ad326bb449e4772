// SPDX-License-Identifier: Apache-2.0
// A customer's vault in trouble (docs/cmk.md "Key state", "Per-vault limits"): two accounts on
// customer-managed keys in two different vaults of the customer, both serving traffic; faults are
// injected into the first vault with the operator endpoint POST /operator/vault/fault
// (crosskeyd --test-faults): "down" (connections refused), "delay" (8 s before each answer, past
// the engine's 5 s call timeout) and "error" (500). During each fault the first account keeps
// serving reads and writes on its cached AEK (ride-through) and its keyState becomes Unreachable
// after a re-validation; the second account is unaffected and stays fast (each request < 2 s, a
// generous bound, not a benchmark). Clearing the fault (mode none) brings the first account back
// to Usable with no action on the storage side. Last, a vault down for longer than the
// ride-through bound: the first account then answers 403 KeyVaultVaultNotFound, and comes back
// by itself once the vault does.
// The daemon runs with --cmk-revalidate 3 --cmk-ride-through 30 --test-faults (run.sh).
import assert from "node:assert/strict";
import { after } from "node:test";

import { customer, isv, isvCred, operator, pollUntil, provisionChain, uniq } from "./lib.mjs";
import { KV_ROLE, assignRole, customerVault, prepare, sleep } from "./kvlib.mjs";
import {
  accountBody, accountName, accountWithState, assertServing, cmkEncryption, createAccount, dataState, propsOf,
  registerFederatedClientIdentity, sharedKeyBlobClient, storageArm, userAssigned, waitAccountKeyState, waitData,
  writeBlobs,
} from "./stlib.mjs";

const REVALIDATE_S = 3; // run.sh: --cmk-revalidate 3
const RIDE_THROUGH_S = 30; // run.sh: --cmk-ride-through 30
const FAST_MS = 2000; // generous bound for the unaffected account's requests
const tag = uniq();
const s = { timings: [], refusals: [] };

function timing(t, label, ms) {
  s.timings.push([label, ms]);
  t.diagnostic(`${label}: ${ms} ms`);
}

async function fault(body) {
  const r = await operator("POST", "/operator/vault/fault", body);
  assert.equal(r.status, 200, `POST /operator/vault/fault ${JSON.stringify(body)}: ${r.status} ${r.text}`);
  assert.equal(r.body?.mode, body.mode, r.text);
  return r.body;
}

const { it } = await prepare("the chain (app, UAMI, FIC, SP), two customer vaults with a key each, two CMK accounts", async () => {
  Object.assign(s, await provisionChain(`flt-${tag}`));
  await registerFederatedClientIdentity(s.a);
  s.sm = storageArm(isvCred(), isv.subscriptionId);
  s.V1 = await customerVault(tag, { prefix: "flt1" });
  s.V2 = await customerVault(tag, { prefix: "flt2" });
  for (const V of [s.V1, s.V2]) {
    V.key = await V.kc.createRsaKey("cmk", { keySize: 2048 });
    await assignRole(V.a.authz, customer.subscriptionId, V.id, KV_ROLE.CryptoServiceEncryptionUser, s.sp.id);
  }
  const make = async (prefix, V) => {
    const name = accountName(prefix);
    const a = await createAccount(s.sm, s.rg, name, accountBody({
      identity: userAssigned(s.uami.id),
      encryption: cmkEncryption({ vaultUri: V.uri, keyName: "cmk", uamiId: s.uami.id, appId: s.app.appId }),
    }));
    assert.equal(propsOf(a).encryption?.keyVaultProperties?.currentVersionedKeyIdentifier, V.key.id, JSON.stringify(propsOf(a).encryption));
    const store = { name, svc: await sharedKeyBlobClient(s.sm, s.rg, name, a), container: "data", data: new Map() };
    await store.svc.getContainerClient("data").create();
    await writeBlobs(store, ["doc", "big-1"]);
    return store;
  };
  s.A = await make("flta", s.V1);
  s.B = await make("fltb", s.V2);
  // A third account on Microsoft-managed keys with the UAMI, for configuration attempts.
  const c = await createAccount(s.sm, s.rg, accountName("fltc"), accountBody({ identity: userAssigned(s.uami.id) }));
  s.C = { name: c.name };
  // The operator endpoint is there (crosskeyd --test-faults): clearing a fault that is not set.
  await fault({ vault: s.V1.name, mode: "none" });
});

// The vault is left without a fault whatever happens above.
after(async () => {
  if (s.V1) await operator("POST", "/operator/vault/fault", { vault: s.V1.name, mode: "none" }).catch(() => {});
});

/** One read of every blob and one write, timed; resolves the slowest request in ms. */
async function traffic(store, label) {
  const cc = store.svc.getContainerClient(store.container);
  let worst = 0;
  for (const [n, data] of store.data) {
    if (!n.startsWith("doc") && !n.startsWith("big")) continue;
    const t0 = Date.now();
    const got = await cc.getBlockBlobClient(n).downloadToBuffer();
    worst = Math.max(worst, Date.now() - t0);
    assert.ok(got.equals(data), `${label}: ${n} reads back different bytes`);
  }
  const t0 = Date.now();
  const body = Buffer.from(`${label} ${Date.now()}`);
  await cc.getBlockBlobClient(`t-${uniq()}`).upload(body, body.length);
  worst = Math.max(worst, Date.now() - t0);
  return worst;
}

/**
 * While vault 1 is faulty, moving a third account (Microsoft-managed, UAMI attached) onto it is
 * refused, naming the vault link (docs/cmk.md "Configuration": 400, or 503 when a service could
 * not be reached), and changes nothing. Resolves "status code".
 */
async function configRefused(label) {
  const before = await s.sm.storageAccounts.getProperties(s.rg, s.C.name);
  let resp;
  const e = await s.sm.storageAccounts.update(s.rg, s.C.name, {
    encryption: cmkEncryption({ vaultUri: s.V1.uri, keyName: "cmk", uamiId: s.uami.id, appId: s.app.appId }),
  }, { onResponse: (r) => { resp = r; } }).then(() => null, (err) => err);
  assert.ok(e, `${label}: moving an account onto the faulty vault was accepted`);
  const body = resp?.parsedBody;
  const ctx = `${label}: ${e.statusCode} ${e.code} ${JSON.stringify(body)}`;
  assert.ok([400, 503].includes(e.statusCode), ctx);
  assert.equal(body?.error?.details?.[0]?.target, "vault", ctx);
  const after = await s.sm.storageAccounts.getProperties(s.rg, s.C.name);
  assert.deepEqual(propsOf(after).encryption, propsOf(before).encryption, `${label}: the refused PATCH changed the account`);
  return `${e.statusCode} ${e.code} (${body.error.details[0].code})`;
}

/**
 * Sets `body` on vault 1 and, while the operator call runs (stopping an origin waits for the
 * requests in flight on it), keeps both accounts busy until A's keyState is Unreachable (and a
 * little longer), checking B all along; then clears the fault and waits for A to be Usable again.
 */
async function episode(t, label, body) {
  const t0 = Date.now();
  let setMs = null;
  const setting = fault({ vault: s.V1.name, ...body }).then((r) => {
    setMs = Date.now() - t0;
    return r;
  });
  setting.catch(() => {});
  let unreachable = null;
  let worstA = 0;
  let worstB = 0;
  let rounds = 0;
  const deadline = t0 + 45_000;
  while (Date.now() < deadline) {
    const a0 = await traffic(s.A, `${label}: account on the faulty vault`);
    worstA = Math.max(worstA, a0);
    assert.ok(a0 < FAST_MS, `${label}: a request of the account on the faulty vault took ${a0} ms (it should not wait for the vault)`);
    const b = await traffic(s.B, `${label}: account on the other vault`);
    worstB = Math.max(worstB, b);
    assert.ok(b < FAST_MS, `${label}: a request of the account on the healthy vault took ${b} ms`);
    const [a, bb] = await Promise.all([accountWithState(s.sm, s.rg, s.A.name), accountWithState(s.sm, s.rg, s.B.name)]);
    // Revalidating: the background re-validation of the 3 s lease, served on the cached AEK.
    assert.ok(["Usable", "Revalidating"].includes(bb.keyState?.state), `${label}: the other account: ${JSON.stringify(bb.keyState)}`);
    assert.ok(["Usable", "Revalidating", "Unreachable"].includes(a.keyState?.state),
      `${label}: the account on the faulty vault: ${JSON.stringify(a.keyState)}`);
    rounds++;
    if (a.keyState.state === "Unreachable" && !unreachable) {
      unreachable = { at: Date.now(), ks: a.keyState };
      timing(t, `${label}: keyState Unreachable after`, unreachable.at - t0);
      t.diagnostic(`${label}: ${JSON.stringify(a.keyState)}`);
      assert.ok(a.keyState.unreachableSince, `unreachableSince not set: ${JSON.stringify(a.keyState)}`);
      assert.equal(a.keyState.errorCode, "KeyVaultVaultNotFound", JSON.stringify(a.keyState));
    }
    // Some traffic beyond the moment it was noticed: still served on the cached AEK.
    if (unreachable && setMs !== null && Date.now() - unreachable.at > 2000) break;
    await sleep(200);
  }
  await setting;
  timing(t, `${label}: the operator call setting the fault took`, setMs);
  assert.ok(unreachable, `${label}: keyState never became Unreachable within ${deadline - t0} ms`);
  t.diagnostic(`${label}: ${rounds} rounds of traffic; slowest request ${worstA} ms (faulty vault's account), ${worstB} ms (other)`);
  s.timings.push([`${label}: slowest request, account on the faulty vault (${rounds} rounds)`, worstA]);
  s.timings.push([`${label}: slowest request, account on the healthy vault`, worstB]);
  const refused = await configRefused(label);
  t.diagnostic(`${label}: configuration onto the faulty vault refused: ${refused}`);
  s.refusals.push([label, refused]);
  const t1 = Date.now();
  await fault({ vault: s.V1.name, mode: "none" });
  await waitAccountKeyState(s.sm, s.rg, s.A.name, "Usable", { label, timeoutMs: 75_000, intervalMs: 250 });
  timing(t, `${label}: Usable again after the fault was cleared`, Date.now() - t1);
  await assertServing(s.A, `${label}: after`);
  await assertServing(s.B, `${label}: after (other)`);
}

it("before any fault: both accounts Usable and serving", async () => {
  for (const st of [s.A, s.B]) {
    const { keyState } = await accountWithState(s.sm, s.rg, st.name);
    assert.equal(keyState?.state, "Usable", JSON.stringify(keyState));
    await assertServing(st, st.name);
  }
});

it("vault down (connections refused): ride-through on the cached AEK, Unreachable, back to Usable", async (t) => {
  await episode(t, "down", { mode: "down" });
});

it("vault slow (each answer delayed 8 s): ride-through, Unreachable, the other account stays fast", async (t) => {
  await episode(t, "delay 8000 ms", { mode: "delay", delayMs: 8000 });
});

it("vault failing (500 on every request): ride-through, Unreachable, back to Usable", async (t) => {
  await episode(t, "error 500", { mode: "error", status: 500 });
});

it("vault down beyond the ride-through bound: 403 KeyVaultVaultNotFound, and back by itself", async (t) => {
  const t0 = Date.now();
  const setting = fault({ vault: s.V1.name, mode: "down" });
  setting.catch(() => {});
  let worstB = 0;
  const { ms } = await pollUntil("the account on the dead vault is refused", async () => {
    const st = await dataState(s.A);
    if (st !== "ok") return st;
    const b = await traffic(s.B, "other account");
    worstB = Math.max(worstB, b);
    assert.ok(b < FAST_MS, `a request of the account on the healthy vault took ${b} ms`);
    return null;
  }, { timeoutMs: (RIDE_THROUGH_S + 2 * REVALIDATE_S + 20) * 1000, intervalMs: 500 }).then(({ value, ms }) => {
    assert.equal(value, "KeyVaultVaultNotFound");
    return { ms };
  });
  await setting;
  timing(t, "down: 403 KeyVaultVaultNotFound after", ms);
  // Not before the bound: the first failure comes after the fault was set.
  assert.ok(ms >= (RIDE_THROUGH_S - 1) * 1000, `refused after ${ms} ms, before the ride-through bound of ${RIDE_THROUGH_S} s`);
  const { keyState } = await accountWithState(s.sm, s.rg, s.A.name);
  t.diagnostic(`beyond the bound: ${JSON.stringify(keyState)}`);
  assert.ok(["Unreachable", "Denied"].includes(keyState?.state), JSON.stringify(keyState));
  await assertServing(s.B, "the other account");
  const t1 = Date.now();
  await fault({ vault: s.V1.name, mode: "none" });
  await waitData("vault back", s.A, "ok", 75_000);
  await waitAccountKeyState(s.sm, s.rg, s.A.name, "Usable", { timeoutMs: 20_000 });
  timing(t, "down beyond the bound: serving again after the vault came back", Date.now() - t1);
  await assertServing(s.A, "after the long outage");
  void t0;
});

it("timings", (t) => {
  const w = Math.max(...s.timings.map(([l]) => l.length));
  for (const [l, r] of s.refusals) t.diagnostic(`configuration during "${l}": ${r}`);
  console.log(`\n26-cmk-faults timings:\n${s.timings.map(([l, ms]) => `${l.padEnd(w)}  ${String(ms).padStart(6)} ms`).join("\n")}\n`);
  t.diagnostic(`timings: ${JSON.stringify(Object.fromEntries(s.timings))}`);
});
