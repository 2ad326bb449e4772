// SPDX-License-Identifier: Apache-2.0
// ISV views: the storage accounts of the subscription, and an account's overview. The encryption
// summary and the key state shown here are shared with the Encryption page (encryption.js).
import { API, arm, armList } from "../api.js";
import { subscriptionId } from "../session.js";
import { crumbs, fields, fmtTime, h, lastSegment, loading, resourceGroupOf, sameId, table, tabs } from "../ui.js";

export const accountPath = (rg, name) =>
  `/subscriptions/${subscriptionId()}/resourceGroups/${encodeURIComponent(rg)}/providers/Microsoft.Storage/storageAccounts/${encodeURIComponent(name)}`;

export const getAccount = (rg, name) => arm(accountPath(rg, name), API.storage);

export const isCmk = (a) => String(a?.properties?.encryption?.keySource ?? "").toLowerCase() === "microsoft.keyvault";

/** Key state words (properties.keyState.state, docs/cmk.md). */
const STATES = {
  Usable: ["Usable", "ok", "The account key is unwrapped and in use; data is served."],
  Revalidating: ["Usable (re-validating)", "ok", "The lease ran out; the key is being checked with the vault again while data is served."],
  Unreachable: ["Riding through (vault unreachable)", "warn", "The vault does not answer; data is served on the cached key until the ride-through bound."],
  Denied: ["Denied", "bad", "The vault or the identity chain refused the key; data operations answer 403 until the customer restores access."],
};

export function keyStateLabel(ks) {
  return ks?.state ? (STATES[ks.state]?.[0] ?? ks.state) : "—";
}

export function keyStateBadge(ks) {
  if (!ks?.state) return h("span", { class: "badge plain", text: "—" });
  const [label, kind, help] = STATES[ks.state] ?? [ks.state, "plain", ""];
  return h("span", { class: `badge ${kind}`, "data-state": ks.state, title: help, text: label });
}

/** What the encryption identity is: {type, label, id, principalId, appId}. */
export function encryptionIdentity(a) {
  const e = a?.properties?.encryption ?? {};
  const uami = e.identity?.userAssignedIdentity;
  const appId = e.identity?.federatedIdentityClientId ?? "";
  if (uami) {
    const entry = Object.entries(a?.identity?.userAssignedIdentities ?? {}).find(([k]) => sameId(k, uami));
    return { type: "UserAssigned", label: "User-assigned", id: uami, principalId: entry?.[1]?.principalId ?? "", appId };
  }
  return { type: "SystemAssigned", label: "System-assigned", id: "", principalId: a?.identity?.principalId ?? "", appId };
}

/**
 * The encryption settings in effect, as the portal shows them after a save (seed-flow 4.7): the
 * key in use, automatic version update, the current version, the identity type, its principal ID,
 * the application ID, and the account key state with its reason. Every value sits in a
 * [data-field] element.
 */
export function encryptionSummary(a) {
  const e = a?.properties?.encryption ?? {};
  if (!isCmk(a)) {
    return h(
      "div",
      { class: "panel", id: "encryption-summary", "data-key-source": "Microsoft.Storage" },
      h("h2", { text: "Encryption in effect" }),
      fields([["Encryption type", "Microsoft-managed keys", "encryptionType"]]),
      h("p", { class: "sub", text: "The account key is protected by crosskey's platform root key." }),
    );
  }
  const kvp = e.keyvaultproperties ?? {};
  const ks = a?.properties?.keyState ?? {};
  const id = encryptionIdentity(a);
  const current = kvp.currentVersionedKeyIdentifier ?? "";
  const pinned = kvp.keyversion ?? "";
  return h(
    "div",
    { class: "panel", id: "encryption-summary", "data-key-source": "Microsoft.Keyvault" },
    h("h2", { text: "Encryption in effect" }),
    fields([
      ["Encryption type", "Customer-managed keys", "encryptionType"],
      ["Key in use", current, "keyInUse"],
      ["Key vault URI", kvp.keyvaulturi, "keyVaultUri"],
      ["Key name", kvp.keyname, "keyName"],
      ["Automatic key version update", pinned ? "Disabled" : "Enabled", "autoUpdate"],
      ["Current key version", current ? lastSegment(current) : "", "keyVersion"],
      pinned ? ["Pinned key version", pinned, "pinnedVersion"] : null,
      ["Last key rotation", fmtTime(kvp.lastKeyRotationTimestamp), "lastKeyRotation"],
      kvp.currentVersionedKeyExpirationTimestamp ? ["Key version expires", fmtTime(kvp.currentVersionedKeyExpirationTimestamp), "keyExpires"] : null,
      ["Identity type", id.label, "identityType"],
      id.id ? ["User-assigned identity", id.id, "userAssignedIdentity"] : null,
      ["Identity principal ID", id.principalId, "principalId"],
      ["Application ID (multi-tenant app)", id.appId, "applicationId"],
    ]),
    h("h3", { text: "Account key state" }),
    fields([
      ["State", keyStateBadge(ks), "keyState"],
      ["Reason", ks.reason, "keyStateReason"],
      ks.errorCode ? ["Error code", ks.errorCode, "keyStateError"] : null,
      ["Since", fmtTime(ks.since), "keyStateSince"],
      ks.unreachableSince ? ["Vault unreachable since", fmtTime(ks.unreachableSince), "unreachableSince"] : null,
      ks.leaseExpiresOn ? ["Lease expires", fmtTime(ks.leaseExpiresOn), "leaseExpiresOn"] : null,
    ]),
  );
}

export function accountHeader(a, rg, name, active) {
  return [
    crumbs(["Storage accounts", "#/storage"], [name]),
    h("h1", { id: "account-name", text: name }),
    h("p", { class: "sub", text: `Storage account · resource group ${rg} · ${a?.location ?? ""}` }),
    tabs(
      [
        ["overview", "Overview", `#/storage/${encodeURIComponent(rg)}/${encodeURIComponent(name)}`],
        ["encryption", "Encryption", `#/storage/${encodeURIComponent(rg)}/${encodeURIComponent(name)}/encryption`],
      ],
      active,
    ),
  ];
}

export async function storageListView(box) {
  box.append(h("h1", { text: "Storage accounts" }), h("p", { class: "sub", text: `Subscription ${subscriptionId()}` }));
  const wait = loading();
  box.append(wait);
  const accounts = await armList(`/subscriptions/${subscriptionId()}/providers/Microsoft.Storage/storageAccounts`, API.storage);
  accounts.sort((x, y) => x.name.localeCompare(y.name));
  wait.remove();
  box.append(
    table(
      [
        {
          title: "Name",
          key: "name",
          cell: (a) => h("a", { href: `#/storage/${encodeURIComponent(resourceGroupOf(a.id))}/${encodeURIComponent(a.name)}`, text: a.name }),
        },
        { title: "Resource group", key: "rg", cell: (a) => resourceGroupOf(a.id) },
        { title: "Location", key: "location", cell: (a) => a.location ?? "" },
        { title: "Kind", key: "kind", cell: (a) => a.kind ?? "" },
        { title: "Encryption", key: "encryption", cell: (a) => (isCmk(a) ? "Customer-managed keys" : "Microsoft-managed keys") },
        { title: "Key state", key: "keyState", cell: (a) => (isCmk(a) ? keyStateBadge(a.properties?.keyState) : "—") },
      ],
      accounts,
      { empty: "No storage accounts in this subscription.", rowAttrs: (a) => ({ "data-account": a.name }) },
    ),
  );
}

export async function accountView(box, [rg, name]) {
  const a = await getAccount(rg, name);
  const p = a.properties ?? {};
  const ids = Object.entries(a.identity?.userAssignedIdentities ?? {});
  box.append(
    ...accountHeader(a, rg, name, "overview"),
    h(
      "div",
      { class: "panel" },
      h("h2", { text: "Essentials" }),
      fields([
        ["Resource group", rg, "resourceGroup"],
        ["Location", a.location, "location"],
        ["Kind", a.kind, "kind"],
        ["SKU", a.sku?.name, "sku"],
        ["Blob endpoint", p.primaryEndpoints?.blob, "blobEndpoint"],
        ["Created", fmtTime(p.creationTime), "creationTime"],
        ["Identity", a.identity?.type ?? "None", "identity"],
        ...ids.map(([k, v]) => [`  ${lastSegment(k)}`, `principal ${v?.principalId ?? "—"}, client ${v?.clientId ?? "—"}`, null]),
        ["Resource ID", a.id, "resourceId"],
      ]),
    ),
    encryptionSummary(a),
    h("p", {}, h("a", { href: `#/storage/${encodeURIComponent(rg)}/${encodeURIComponent(name)}/encryption`, id: "to-encryption", text: "Encryption settings ›" })),
  );
}
