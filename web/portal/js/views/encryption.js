// SPDX-License-Identifier: Apache-2.0
// The storage account's Encryption page, as ../shared/reference/seed-flow.md 2.3 "Existing
// account (portal)" describes it:
//  1. encryption type: Microsoft-managed keys (the default) or customer-managed keys;
//  2. the key: "Select from Key Vault" (a vault of the signed-in tenant and one of its keys) or
//     "Enter key URI" (any vault, e.g. the customer's, in another tenant);
//  3. a key URI without a version gets automatic version updates;
//  4. the subscription whose identities are listed;
//  5. identity type user-assigned, with a picker of the subscription's user-assigned identities;
//  6. Advanced: the multi-tenant application (federated client id), from the tenant's applications;
//  7. Save: ARM PATCH of identity and properties.encryption (api-version 2025-08-01, as
//     @azure/arm-storage sends it).
// After saving, the summary shows what is in effect (seed-flow 4.7) and the account key state.
import { API, arm, armList, graph, vaultList } from "../api.js";
import { session, subscriptionId } from "../session.js";
import { busy, clear, errorBox, h, lastSegment, notice, resourceGroupOf, sameId } from "../ui.js";
import { accountHeader, accountPath, encryptionIdentity, encryptionSummary, getAccount, isCmk } from "./storage.js";

/**
 * A key URI: https://host[:port]/keys/{name}[/{version}] → {vaultUri, name, version}; throws in
 * plain words otherwise.
 */
export function parseKeyUri(text) {
  let u;
  try {
    u = new URL(String(text).trim());
  } catch {
    throw new Error("The key URI is not a URL. It looks like https://<vault>/keys/<key name>[/<version>].");
  }
  const m = /^\/keys\/([A-Za-z0-9-]{1,127})(?:\/([0-9A-Za-z]{1,64}))?\/?$/.exec(u.pathname);
  if (u.protocol !== "https:" || !m || u.search || u.hash) {
    throw new Error("The key URI must look like https://<vault>/keys/<key name>, with an optional /<version>; leave the version off for automatic version updates.");
  }
  return { vaultUri: `${u.origin}/`, name: m[1], version: m[2] ?? "" };
}

/** The key URI of an account's current settings (vault URI + key name [+ pinned version]). */
function keyUriOf(a) {
  const kvp = a?.properties?.encryption?.keyvaultproperties;
  if (!kvp?.keyvaulturi || !kvp?.keyname) return "";
  return `${String(kvp.keyvaulturi).replace(/\/+$/, "")}/keys/${kvp.keyname}${kvp.keyversion ? `/${kvp.keyversion}` : ""}`;
}

function radio(name, value, id, label, checked, onchange) {
  return h("label", { for: id }, h("input", { type: "radio", name, value, id, checked, onchange }), label);
}

const row = (label, forId, ...content) =>
  h("div", { class: "row" }, forId ? h("label", { for: forId, text: label }) : h("span", { class: "label", text: label }), h("div", {}, ...content));

export async function encryptionView(box, [rg, name]) {
  let account = await getAccount(rg, name);
  const header = accountHeader(account, rg, name, "encryption");
  const result = h("div", { id: "save-result" });
  const summaryBox = h("div", {}, encryptionSummary(account));
  const cur = encryptionIdentity(account);
  const st = {
    source: isCmk(account) ? "Microsoft.Keyvault" : "Microsoft.Storage",
    method: isCmk(account) ? "uri" : "vault",
    sub: subscriptionId(),
    idType: isCmk(account) && cur.type === "SystemAssigned" ? "system" : "user",
    uami: cur.type === "UserAssigned" ? cur.id : "",
    appId: cur.appId ?? "",
  };

  // ---- 2. the key ----
  const keyUri = h("input", { type: "text", id: "key-uri", spellcheck: "false", placeholder: "https://<vault>/keys/<key name>", value: keyUriOf(account) });
  const vaultSel = h("select", { id: "kv-vault" });
  const keySel = h("select", { id: "kv-key" });
  const vaultMsg = h("div", { class: "hint" });
  const fromVault = h(
    "div",
    { id: "key-from-vault" },
    row("Key vault", "kv-vault", vaultSel),
    row("Key", "kv-key", keySel),
    vaultMsg,
  );
  const fromUri = h(
    "div",
    { id: "key-from-uri" },
    row(
      "Key URI",
      "key-uri",
      keyUri,
      h("div", { class: "hint", text: "Paste the key identifier the customer gave you. Leave the version off to get automatic key version updates; include it to pin that version." }),
    ),
  );

  let vaultsLoaded = false;
  async function loadVaults() {
    if (vaultsLoaded) return;
    vaultsLoaded = true;
    clear(vaultSel, h("option", { value: "", text: "Loading…" }));
    try {
      const vaults = await armList(`/subscriptions/${st.sub}/providers/Microsoft.KeyVault/vaults`, API.keyvault);
      clear(vaultSel,
        h("option", { value: "", text: vaults.length ? "Choose a key vault" : "No key vaults in this subscription" }),
        vaults.map((v) => h("option", { value: v.properties?.vaultUri ?? "", text: `${v.name} (${resourceGroupOf(v.id)})` })),
      );
      vaultMsg.textContent = "Key vaults of the selected subscription, in your own tenant. For a customer's vault in another tenant, use Enter key URI.";
    } catch (e) {
      vaultsLoaded = false;
      clear(vaultSel, h("option", { value: "", text: "Key vaults could not be listed" }));
      vaultMsg.replaceChildren(errorBox(e));
    }
  }
  vaultSel.addEventListener("change", async () => {
    clear(keySel);
    if (!vaultSel.value) return;
    keySel.append(h("option", { value: "", text: "Loading…" }));
    try {
      const keys = await vaultList(vaultSel.value, "keys");
      clear(keySel,
        h("option", { value: "", text: keys.length ? "Choose a key" : "No keys in this vault" }),
        keys.map((k) => h("option", { value: lastSegment(k.kid), text: lastSegment(k.kid) })),
      );
    } catch (e) {
      clear(keySel, h("option", { value: "", text: "Keys could not be listed" }));
      vaultMsg.replaceChildren(errorBox(e));
    }
  });

  // ---- 4.-5. subscription and identity ----
  const s = session();
  const subSel = h(
    "select",
    { id: "identity-subscription" },
    s.subscriptions.map((x) => h("option", { value: x.id, selected: x.id === st.sub, text: `${x.name} (${x.id})` })),
  );
  const uamiSel = h("select", { id: "user-identity" });
  const uamiMsg = h("div", { class: "hint" });
  async function loadIdentities() {
    clear(uamiSel, h("option", { value: "", text: "Loading…" }));
    uamiMsg.replaceChildren();
    try {
      const ids = await armList(`/subscriptions/${st.sub}/providers/Microsoft.ManagedIdentity/userAssignedIdentities`, API.msi);
      ids.sort((x, y) => x.name.localeCompare(y.name));
      const known = ids.some((x) => sameId(x.id, st.uami));
      clear(uamiSel,
        h("option", { value: "", text: ids.length ? "Choose a user-assigned identity" : "No user-assigned identities in this subscription" }),
        ids.map((x) =>
          h("option", {
            value: x.id,
            selected: sameId(x.id, st.uami),
            "data-principal-id": x.properties?.principalId ?? "",
            text: `${x.name} (${resourceGroupOf(x.id)}) · principal ${x.properties?.principalId ?? "?"}`,
          }),
        ),
        st.uami && !known ? h("option", { value: st.uami, selected: true, text: `${lastSegment(st.uami)} (attached, another subscription)` }) : null,
      );
      uamiMsg.textContent = "The identity must be the one the multi-tenant application's federated credential trusts (its subject is the identity's principal ID).";
    } catch (e) {
      clear(uamiSel, h("option", { value: "", text: "Identities could not be listed" }));
      uamiMsg.replaceChildren(errorBox(e));
    }
  }
  subSel.addEventListener("change", () => {
    st.sub = subSel.value;
    vaultsLoaded = false;
    loadIdentities();
    if (st.method === "vault") loadVaults();
  });
  uamiSel.addEventListener("change", () => {
    st.uami = uamiSel.value;
  });

  // ---- 6. Advanced: the multi-tenant application ----
  const appSel = h("select", { id: "federated-app" });
  const appMsg = h("div", { class: "hint" });
  async function loadApps() {
    clear(appSel, h("option", { value: st.appId, text: st.appId || "Loading…" }));
    try {
      const apps = (await graph("/applications", { list: true })).filter((x) => /Multiple/i.test(x.signInAudience ?? ""));
      apps.sort((x, y) => String(x.displayName).localeCompare(String(y.displayName)));
      const known = apps.some((x) => x.appId === st.appId);
      clear(appSel,
        h("option", { value: "", selected: !st.appId, text: "None (the key vault is in this tenant)" }),
        apps.map((x) => h("option", { value: x.appId, selected: x.appId === st.appId, text: `${x.displayName} (${x.appId})` })),
        st.appId && !known ? h("option", { value: st.appId, selected: true, text: `${st.appId} (not an application of this tenant)` }) : null,
      );
      appMsg.textContent = apps.length
        ? "The multi-tenant application the customer installed in their tenant and gave a role on the key vault. Storage uses it together with the user-assigned identity."
        : "This tenant has no multi-tenant applications.";
    } catch (e) {
      clear(appSel, h("option", { value: st.appId, text: st.appId || "None" }));
      appMsg.replaceChildren(errorBox(e));
    }
  }
  appSel.addEventListener("change", () => {
    st.appId = appSel.value;
  });

  // ---- the form ----
  const idUser = h("div", { id: "user-identity-row" }, row("User-assigned identity", "user-identity", uamiSel, uamiMsg));
  const advanced = h(
    "details",
    { class: "advanced", id: "advanced" },
    h("summary", { text: "Advanced" }),
    row("Multi-tenant application (federated identity client ID)", "federated-app", appSel, appMsg),
  );
  const cmkBox = h(
    "fieldset",
    { id: "cmk-settings", class: "plain" },
    row(
      "Key selection method",
      null,
      h(
        "div",
        { class: "choices" },
        radio("key-selection", "vault", "key-select-vault", "Select from Key Vault", st.method === "vault", () => setMethod("vault")),
        radio("key-selection", "uri", "key-enter-uri", "Enter key URI", st.method === "uri", () => setMethod("uri")),
      ),
    ),
    fromVault,
    fromUri,
    row("Subscription", "identity-subscription", subSel),
    row(
      "Identity type",
      null,
      h(
        "div",
        { class: "choices" },
        radio("identity-type", "user", "identity-user", "User-assigned", st.idType === "user", () => setIdType("user")),
        radio("identity-type", "system", "identity-system", "System-assigned (a key vault in this tenant only)", st.idType === "system", () => setIdType("system")),
      ),
    ),
    idUser,
    advanced,
  );
  function setMethod(m) {
    st.method = m;
    fromVault.hidden = m !== "vault";
    fromUri.hidden = m !== "uri";
    if (m === "vault") loadVaults();
  }
  function setIdType(t) {
    st.idType = t;
    idUser.hidden = t !== "user";
  }
  function setSource(v) {
    st.source = v;
    cmkBox.hidden = v !== "Microsoft.Keyvault";
  }

  const save = h("button", { type: "submit", class: "primary", id: "save", text: "Save" });
  const discard = h("button", { type: "button", id: "discard", text: "Discard", onclick: () => location.reload() });
  const form = h(
    "form",
    { class: "form panel", id: "encryption-form", onsubmit: (e) => onSave(e) },
    h("h2", { text: "Encryption settings" }),
    h("p", { class: "sub", text: "Data in this account is always encrypted at rest. Choose who protects the account's encryption key." }),
    row(
      "Encryption type",
      null,
      h(
        "div",
        { class: "choices" },
        radio("encryption-type", "Microsoft.Storage", "enc-mmk", "Microsoft-managed keys", st.source === "Microsoft.Storage", () => setSource("Microsoft.Storage")),
        radio("encryption-type", "Microsoft.Keyvault", "enc-cmk", "Customer-managed keys", st.source === "Microsoft.Keyvault", () => setSource("Microsoft.Keyvault")),
      ),
    ),
    cmkBox,
    h("div", { class: "actions" }, save, discard),
    result,
  );

  /** The PATCH body for the form's choices; throws in plain words when something is missing. */
  function body() {
    if (st.source === "Microsoft.Storage") return { properties: { encryption: { keySource: "Microsoft.Storage" } } };
    let key;
    if (st.method === "uri") key = parseKeyUri(keyUri.value);
    else {
      if (!vaultSel.value || !keySel.value) throw new Error("Choose a key vault and a key, or enter a key URI.");
      key = { vaultUri: vaultSel.value, name: keySel.value, version: "" };
    }
    const attached = Object.keys(account.identity?.userAssignedIdentities ?? {});
    const hasSystem = /SystemAssigned/i.test(account.identity?.type ?? "");
    const enc = {
      keySource: "Microsoft.Keyvault",
      keyvaultproperties: { keyname: key.name, keyversion: key.version, keyvaulturi: key.vaultUri },
    };
    let identity;
    if (st.idType === "user") {
      if (!st.uami) throw new Error("Choose the user-assigned identity that the multi-tenant application's federated credential trusts.");
      const uas = Object.fromEntries(attached.map((k) => [k, {}]));
      if (!attached.some((k) => sameId(k, st.uami))) uas[st.uami] = {};
      identity = { type: hasSystem ? "SystemAssigned,UserAssigned" : "UserAssigned", userAssignedIdentities: uas };
      enc.identity = { userAssignedIdentity: st.uami, federatedIdentityClientId: st.appId || "" };
    } else {
      if (st.appId) throw new Error("A multi-tenant application works only together with a user-assigned identity: choose User-assigned, or no application under Advanced.");
      identity = attached.length
        ? { type: "SystemAssigned,UserAssigned", userAssignedIdentities: Object.fromEntries(attached.map((k) => [k, {}])) }
        : { type: "SystemAssigned" };
      enc.identity = {};
    }
    return { identity, properties: { encryption: enc } };
  }

  async function onSave(e) {
    e.preventDefault();
    result.replaceChildren();
    let b;
    try {
      b = body();
    } catch (err) {
      result.append(errorBox(err));
      return;
    }
    try {
      account = await busy(save, "Saving…", () => arm(accountPath(rg, name), API.storage, { method: "PATCH", body: b }));
      result.append(
        notice(
          "ok",
          h("span", { id: "saved", text: st.source === "Microsoft.Keyvault" ? "Saved. The account key is now protected by the customer-managed key." : "Saved. The account key is now protected by a Microsoft-managed key." }),
        ),
      );
      clear(summaryBox, encryptionSummary(account));
    } catch (err) {
      result.append(errorBox(err, "The encryption settings were not saved:"));
    }
  }

  const refresh = h("button", {
    type: "button",
    id: "refresh",
    text: "Refresh",
    onclick: async () => {
      try {
        account = await busy(refresh, "Refreshing…", () => getAccount(rg, name));
        clear(summaryBox, encryptionSummary(account));
      } catch (err) {
        clear(summaryBox, errorBox(err));
      }
    },
  });

  box.append(...header, summaryBox, h("div", { class: "actions" }, refresh), form);
  setSource(st.source);
  setIdType(st.idType);
  fromVault.hidden = st.method !== "vault";
  fromUri.hidden = st.method !== "uri";
  // The page is ready (body[data-ready]) once every picker is filled.
  await Promise.all([loadIdentities(), loadApps(), st.method === "vault" ? loadVaults() : null]);
}
