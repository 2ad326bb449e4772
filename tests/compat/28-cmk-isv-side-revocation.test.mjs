// SPDX-License-Identifier: Apache-2.0
// Revocation from the ISV's own side of the chain (issue 5 "Run time": "... or the ISV's federated
// credential or app is deleted"): deleting the multi-tenant application, or the user-assigned
// identity the account acts as, puts the account in the denied state — 403
// KeyVaultAccessTokenCannotBeAcquired on data operations, keyState Denied — within the
// re-validation bound (run.sh starts crosskeyd with --cmk-revalidate 3), while listing keeps
// working. An application cannot be restored, so the account is then moved back to
// Microsoft-managed keys... which needs the AEK, and the AEK is only under the customer's key:
// that move is refused, naming the link, and the account is left as it was. Official SDKs only.
import assert from "node:assert/strict";
import crypto from "node:crypto";

import { customer, isv, isvCred, provisionChain, uniq } from "./lib.mjs";
import { KV_ROLE, assignRole, customerVault, prepare } from "./kvlib.mjs";
import {
  accountBody, accountKeys, accountWithState, blobUrl, createAccount, listBlobs, registerFederatedClientIdentity,
  storageArm, userAssigned, waitAccountKeyState, waitData,
} from "./stlib.mjs";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";

const s = {};

async function cmkAccount(chain, label) {
  const name = `${label}${crypto.randomBytes(5).toString("hex")}`;
  const body = accountBody({
    identity: userAssigned(chain.uami.id),
    encryption: {
      keySource: "Microsoft.Keyvault",
      keyVaultProperties: { keyName: "cmk", keyVersion: "", keyVaultUri: s.V.uri },
      encryptionIdentity: { encryptionUserAssignedIdentity: chain.uami.id, encryptionFederatedIdentityClientId: chain.app.appId },
    },
  });
  const acct = await createAccount(s.sm, chain.rg, name, body);
  const keys = await accountKeys(s.sm, chain.rg, name);
  const svc = new BlobServiceClient(blobUrl(acct), new StorageSharedKeyCredential(name, keys.key1), { retryOptions: { maxTries: 1 } });
  const store = { name, svc, container: "data", data: new Map() };
  await svc.getContainerClient("data").create();
  const d = Buffer.from(`${label} ${crypto.randomUUID()}`);
  await svc.getContainerClient("data").getBlockBlobClient("b1").upload(d, d.length);
  store.data.set("b1", d);
  return store;
}

const { it } = await prepare("two ISV chains on one customer vault, a CMK account on each", async () => {
  s.c1 = await provisionChain(`rva-${uniq()}`);
  s.c2 = await provisionChain(`rvb-${uniq()}`);
  await registerFederatedClientIdentity(s.c1.a);
  s.V = await customerVault(s.c1.tag, { purgeProtection: true, prefix: "rv" });
  await s.V.kc.createRsaKey("cmk", { keySize: 2048 });
  for (const c of [s.c1, s.c2])
    await assignRole(s.V.a.authz, customer.subscriptionId, s.V.id, KV_ROLE.CryptoServiceEncryptionUser, c.sp.id);
  s.sm = storageArm(isvCred(), isv.subscriptionId);
  s.a1 = await cmkAccount(s.c1, "rvapp");
  s.a2 = await cmkAccount(s.c2, "rvuami");
});

it("the ISV deletes the multi-tenant application -> 403 KeyVaultAccessTokenCannotBeAcquired, Denied; listing works", async () => {
  await s.c1.g.api(`/applications/${s.c1.app.id}`).delete();
  const ms = await waitData("app deleted", s.a1, "KeyVaultAccessTokenCannotBeAcquired");
  console.log(`# app deleted -> first 403 after ${ms} ms`);
  const { ks } = await waitAccountKeyState(s.sm, s.c1.rg, s.a1.name, "Denied");
  assert.equal(ks.errorCode, "KeyVaultAccessTokenCannotBeAcquired");
  assert.match(ks.reason, /AADSTS/);
  assert.deepEqual((await listBlobs(s.a1.svc.getContainerClient("data"))).map((b) => b.name), ["b1"]);
  // The other chain's account is untouched.
  await waitData("other account", s.a2, "ok");
});

it("moving that account back to Microsoft-managed keys needs the AEK: refused, naming the link, nothing changed", async () => {
  const before = (await accountWithState(s.sm, s.c1.rg, s.a1.name)).body.properties.encryption;
  await assert.rejects(
    s.sm.storageAccounts.update(s.c1.rg, s.a1.name, { encryption: { keySource: "Microsoft.Storage" } }),
    (e) => {
      assert.equal(e.statusCode, 400, e.message);
      assert.equal(e.code, "KeyVaultAuthenticationFailure", e.message);
      return true;
    });
  const after = (await accountWithState(s.sm, s.c1.rg, s.a1.name)).body.properties.encryption;
  assert.deepEqual(after, before);
});

it("the ISV deletes the user-assigned identity -> 403 KeyVaultAccessTokenCannotBeAcquired, Denied", async () => {
  await s.c2.a.msi.userAssignedIdentities.delete(s.c2.rg, s.c2.uami.name);
  const ms = await waitData("identity deleted", s.a2, "KeyVaultAccessTokenCannotBeAcquired");
  console.log(`# identity deleted -> first 403 after ${ms} ms`);
  const { ks } = await waitAccountKeyState(s.sm, s.c2.rg, s.a2.name, "Denied");
  assert.equal(ks.errorCode, "KeyVaultAccessTokenCannotBeAcquired");
  assert.deepEqual((await listBlobs(s.a2.svc.getContainerClient("data"))).map((b) => b.name), ["b1"]);
});
