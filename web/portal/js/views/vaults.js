// SPDX-License-Identifier: Apache-2.0
// Customer views: the subscription's key vaults (ARM), a vault's keys and a key's versions (the
// vault's own data plane: list, disable and enable a version, rotate, the rotation policy), the
// role assignments on the vault (ARM, with role and principal names), and the vault's audit log
// (ARM auditRecords, filterable by caller and correlation id), where each wrap and unwrap the
// ISV's application made shows with the correlation id the storage service sent.
import { API, arm, armList, graph, vault, vaultList } from "../api.js";
import { subscriptionId } from "../session.js";
import { busy, clear, crumbs, errorBox, fields, fmtTime, h, lastSegment, loading, notice, resourceGroupOf, sameId, table, tabs } from "../ui.js";

const vaultPath = (rg, name) =>
  `/subscriptions/${subscriptionId()}/resourceGroups/${encodeURIComponent(rg)}/providers/Microsoft.KeyVault/vaults/${encodeURIComponent(name)}`;
const vaultRoute = (rg, name) => `#/vaults/${encodeURIComponent(rg)}/${encodeURIComponent(name)}`;
const keyRoute = (rg, name, key) => `${vaultRoute(rg, name)}/keys/${encodeURIComponent(key)}`;

const getVault = (rg, name) => arm(vaultPath(rg, name), API.keyvault);

const enabledBadge = (on) =>
  h("span", { class: `badge ${on ? "ok" : "bad"}`, "data-enabled": on ? "true" : "false", text: on ? "Enabled" : "Disabled" });

/** Key Vault times are epoch seconds. */
const kvTime = (t) => (t ? fmtTime(t) : "—");

function vaultHeader(v, rg, name, active) {
  const p = v.properties ?? {};
  return [
    crumbs(["Key vaults", "#/vaults"], [name]),
    h("h1", { id: "vault-name", text: name }),
    h("p", { class: "sub" }, `Key vault · resource group ${rg} · `, h("code", { id: "vault-uri", text: p.vaultUri ?? "" })),
    tabs(
      [
        ["keys", "Keys", vaultRoute(rg, name)],
        ["access", "Access control (IAM)", `${vaultRoute(rg, name)}/access`],
        ["audit", "Audit log", `${vaultRoute(rg, name)}/audit`],
      ],
      active,
    ),
  ];
}

export async function vaultListView(box) {
  box.append(h("h1", { text: "Key vaults" }), h("p", { class: "sub", text: `Subscription ${subscriptionId()}` }));
  const wait = loading();
  box.append(wait);
  const vaults = await armList(`/subscriptions/${subscriptionId()}/providers/Microsoft.KeyVault/vaults`, API.keyvault);
  vaults.sort((x, y) => x.name.localeCompare(y.name));
  wait.remove();
  box.append(
    table(
      [
        { title: "Name", key: "name", cell: (v) => h("a", { href: vaultRoute(resourceGroupOf(v.id), v.name), text: v.name }) },
        { title: "Resource group", key: "rg", cell: (v) => resourceGroupOf(v.id) },
        { title: "Location", key: "location", cell: (v) => v.location ?? "" },
        { title: "Vault URI", key: "uri", cell: (v) => h("code", { text: v.properties?.vaultUri ?? "" }) },
        { title: "Purge protection", key: "purge", cell: (v) => (v.properties?.enablePurgeProtection ? "On" : "Off") },
        { title: "Permission model", key: "rbac", cell: (v) => (v.properties?.enableRbacAuthorization ? "Azure RBAC" : "Access policies") },
      ],
      vaults,
      { empty: "No key vaults in this subscription.", rowAttrs: (v) => ({ "data-vault": v.name }) },
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Keys.

export async function vaultKeysView(box, [rg, name]) {
  const v = await getVault(rg, name);
  const uri = v.properties?.vaultUri;
  const p = v.properties ?? {};
  box.append(
    ...vaultHeader(v, rg, name, "keys"),
    h(
      "div",
      { class: "panel" },
      fields([
        ["Vault URI", uri, "vaultUri"],
        ["Tenant", p.tenantId, "tenantId"],
        ["Soft delete", `On, ${p.softDeleteRetentionInDays ?? 90} days`, "softDelete"],
        ["Purge protection", p.enablePurgeProtection ? "On" : "Off", "purgeProtection"],
        ["Permission model", p.enableRbacAuthorization ? "Azure role-based access control" : "Access policies", "permissionModel"],
      ]),
    ),
  );
  const list = h("div", {}, loading());
  const out = h("div", { id: "keys-result" });
  const newName = h("input", { type: "text", id: "new-key-name", placeholder: "key name", spellcheck: "false" });
  const newSize = h("select", { id: "new-key-size" }, [2048, 3072, 4096].map((n) => h("option", { value: String(n), text: `RSA ${n}` })));
  const create = h("button", { type: "submit", id: "create-key", text: "Generate" });
  box.append(
    h("h2", { text: "Keys" }),
    list,
    h(
      "form",
      {
        class: "filters",
        onsubmit: async (e) => {
          e.preventDefault();
          out.replaceChildren();
          try {
            const k = await busy(create, "Generating…", () =>
              vault(uri, `keys/${encodeURIComponent(newName.value.trim())}/create`, { method: "POST", body: { kty: "RSA", key_size: Number(newSize.value) } }));
            out.append(notice("ok", `Key ${lastSegment(k.key?.kid?.replace(/\/[^/]+$/, ""))} generated: ${k.key?.kid}`));
            newName.value = "";
            await showKeys();
          } catch (err) {
            out.append(errorBox(err, "The key was not generated:"));
          }
        },
      },
      h("label", {}, "New key name", newName),
      h("label", {}, "Type and size", newSize),
      create,
    ),
    out,
  );
  async function showKeys() {
    try {
      const keys = await vaultList(uri, "keys");
      keys.sort((x, y) => lastSegment(x.kid).localeCompare(lastSegment(y.kid)));
      clear(
        list,
        table(
          [
            { title: "Name", key: "name", cell: (k) => h("a", { href: keyRoute(rg, name, lastSegment(k.kid)), text: lastSegment(k.kid) }) },
            { title: "Status", key: "status", cell: (k) => enabledBadge(k.attributes?.enabled !== false) },
            { title: "Created", key: "created", cell: (k) => kvTime(k.attributes?.created) },
            { title: "Updated", key: "updated", cell: (k) => kvTime(k.attributes?.updated) },
            { title: "Expires", key: "expires", cell: (k) => kvTime(k.attributes?.exp) },
          ],
          keys,
          { empty: "No keys in this vault.", rowAttrs: (k) => ({ "data-key": lastSegment(k.kid) }) },
        ),
      );
    } catch (err) {
      clear(list, errorBox(err, "The keys could not be listed:"));
    }
  }
  await showKeys();
}

function policyText(p) {
  const acts = (p?.lifetimeActions ?? []).map((a) => {
    const t = a.trigger ?? {};
    const when = t.timeAfterCreate ? `${t.timeAfterCreate} after creation` : t.timeBeforeExpiry ? `${t.timeBeforeExpiry} before expiry` : "?";
    return `${a.action?.type ?? "?"} ${when}`;
  });
  return acts.length ? acts.join("; ") : "none";
}

export async function keyView(box, [rg, name, key]) {
  const v = await getVault(rg, name);
  const uri = v.properties?.vaultUri;
  box.append(
    crumbs(["Key vaults", "#/vaults"], [name, vaultRoute(rg, name)], [key]),
    h("h1", { id: "key-name", text: key }),
    h("p", { class: "sub" }, `Key in ${name} · `, h("code", { text: `${String(uri).replace(/\/+$/, "")}/keys/${key}` })),
  );
  const out = h("div", { id: "key-result" });
  const versionsBox = h("div", {}, loading());
  const policyBox = h("div", {}, loading());
  const rotate = h("button", { type: "button", id: "rotate", text: "Rotate now" });
  rotate.addEventListener("click", async () => {
    out.replaceChildren();
    try {
      const k = await busy(rotate, "Rotating…", () => vault(uri, `keys/${encodeURIComponent(key)}/rotate`, { method: "POST" }));
      out.append(notice("ok", h("span", { id: "rotated", text: `Rotated: the new current version is ${lastSegment(k.key?.kid)}. Storage accounts with automatic key version update follow it.` })));
      await showVersions();
    } catch (err) {
      out.append(errorBox(err, "The key was not rotated:"));
    }
  });
  box.append(
    h("h2", { text: "Versions" }),
    h("p", { class: "sub", text: "Disabling the version a storage account uses revokes its access: its data operations answer 403 until the version is enabled again." }),
    h("div", { class: "actions" }, rotate),
    out,
    versionsBox,
    h("h2", { text: "Rotation policy" }),
    policyBox,
  );

  async function setEnabled(version, enabled, button) {
    out.replaceChildren();
    try {
      await busy(button, enabled ? "Enabling…" : "Disabling…", () =>
        vault(uri, `keys/${encodeURIComponent(key)}/${version}`, { method: "PATCH", body: { attributes: { enabled } } }));
      out.append(notice("ok", h("span", { id: "version-updated", text: `Version ${version} ${enabled ? "enabled" : "disabled"}.` })));
      await showVersions();
    } catch (err) {
      out.append(errorBox(err, `The version was not ${enabled ? "enabled" : "disabled"}:`));
    }
  }

  async function showVersions() {
    try {
      const [latest, versions] = await Promise.all([vault(uri, `keys/${encodeURIComponent(key)}`), vaultList(uri, `keys/${encodeURIComponent(key)}/versions`)]);
      const current = latest.key?.kid;
      versions.sort((x, y) => (y.attributes?.created ?? 0) - (x.attributes?.created ?? 0) || (x.kid === current ? -1 : y.kid === current ? 1 : 0));
      clear(
        versionsBox,
        table(
          [
            { title: "Version", key: "version", cell: (k) => h("code", { text: lastSegment(k.kid) }) },
            { title: "", key: "current", cell: (k) => (k.kid === current ? h("span", { class: "badge plain", text: "Current version" }) : "") },
            { title: "Status", key: "status", cell: (k) => enabledBadge(k.attributes?.enabled !== false) },
            { title: "Created", key: "created", cell: (k) => kvTime(k.attributes?.created) },
            { title: "Expires", key: "expires", cell: (k) => kvTime(k.attributes?.exp) },
            {
              title: "",
              key: "actions",
              cell: (k) => {
                const on = k.attributes?.enabled !== false;
                const b = h("button", { type: "button", class: on ? "danger" : "", "data-action": on ? "disable" : "enable", text: on ? "Disable" : "Enable" });
                b.addEventListener("click", () => setEnabled(lastSegment(k.kid), !on, b));
                return b;
              },
            },
          ],
          versions,
          { empty: "No versions.", rowAttrs: (k) => ({ "data-version": lastSegment(k.kid), "data-current": k.kid === current ? "true" : null }) },
        ),
      );
    } catch (err) {
      clear(versionsBox, errorBox(err, "The versions could not be listed:"));
    }
  }

  async function showPolicy() {
    let p;
    try {
      p = await vault(uri, `keys/${encodeURIComponent(key)}/rotationpolicy`);
    } catch (err) {
      clear(policyBox, errorBox(err, "The rotation policy could not be read:"));
      return;
    }
    const acts = p.lifetimeActions ?? [];
    const rot = acts.find((a) => a.action?.type?.toLowerCase() === "rotate");
    const notify = acts.find((a) => a.action?.type?.toLowerCase() === "notify");
    const auto = h("input", { type: "checkbox", id: "policy-auto", checked: !!rot });
    const after = h("input", { type: "text", id: "policy-after", spellcheck: "false", value: rot?.trigger?.timeAfterCreate ?? "P90D" });
    const notifyIn = h("input", { type: "text", id: "policy-notify", spellcheck: "false", value: notify?.trigger?.timeBeforeExpiry ?? "" });
    const expiry = h("input", { type: "text", id: "policy-expiry", spellcheck: "false", value: p.attributes?.expiryTime ?? "" });
    const save = h("button", { type: "submit", class: "primary", id: "policy-save", text: "Save policy" });
    const res = h("div", { id: "policy-result" });
    clear(
      policyBox,
      h(
        "form",
        {
          class: "form panel",
          onsubmit: async (e) => {
            e.preventDefault();
            res.replaceChildren();
            const lifetimeActions = [];
            if (auto.checked) {
              const t = after.value.trim();
              lifetimeActions.push({ trigger: { timeAfterCreate: t }, action: { type: "Rotate" } });
            }
            if (notifyIn.value.trim()) lifetimeActions.push({ trigger: { timeBeforeExpiry: notifyIn.value.trim() }, action: { type: "Notify" } });
            const body = { lifetimeActions, attributes: expiry.value.trim() ? { expiryTime: expiry.value.trim() } : {} };
            try {
              const np = await busy(save, "Saving…", () => vault(uri, `keys/${encodeURIComponent(key)}/rotationpolicy`, { method: "PUT", body }));
              res.append(notice("ok", h("span", { id: "policy-saved", text: `Saved: ${policyText(np)}${np.attributes?.expiryTime ? `; new versions expire ${np.attributes.expiryTime} after creation` : ""}.` })));
            } catch (err) {
              res.append(errorBox(err, "The rotation policy was not saved:"));
            }
          },
        },
        fields([["In effect", `${policyText(p)}${p.attributes?.expiryTime ? `; versions expire ${p.attributes.expiryTime} after creation` : ""}`, "rotationPolicy"]]),
        h("div", { class: "row" }, h("label", { for: "policy-auto", text: "Rotate automatically" }), h("div", { class: "choices" }, h("label", {}, auto, "Enable automatic rotation"))),
        h("div", { class: "row" }, h("label", { for: "policy-after", text: "Rotate after" }), h("div", {}, after, h("div", { class: "hint", text: "An ISO 8601 duration after the version's creation, e.g. P90D (at least 7 days)." }))),
        h("div", { class: "row" }, h("label", { for: "policy-notify", text: "Notify before expiry" }), h("div", {}, notifyIn, h("div", { class: "hint", text: "e.g. P30D; empty: no notification." }))),
        h("div", { class: "row" }, h("label", { for: "policy-expiry", text: "Expiry time of new versions" }), h("div", {}, expiry, h("div", { class: "hint", text: "e.g. P2Y (at least 28 days); empty: no expiry." }))),
        h("div", { class: "actions" }, save),
        res,
      ),
    );
  }

  await Promise.all([showVersions(), showPolicy()]);
}

// ---------------------------------------------------------------------------------------------
// Role assignments.

/** Role assignments at, above and below the vault, with role and principal names. */
async function assignments(vaultId) {
  const [list, defs] = await Promise.all([
    armList(`${vaultId}/providers/Microsoft.Authorization/roleAssignments`, API.authorization),
    armList(`${vaultId}/providers/Microsoft.Authorization/roleDefinitions`, API.authorization).catch(() => []),
  ]);
  const roleNames = new Map(defs.map((d) => [String(d.name).toLowerCase(), d.properties?.roleName ?? d.name]));
  const principals = new Map();
  await Promise.all(
    [...new Set(list.map((a) => a.properties?.principalId).filter(Boolean))].map(async (id) => {
      try {
        const sp = await graph(`/servicePrincipals/${encodeURIComponent(id)}`);
        principals.set(id, { name: sp.displayName ?? id, appId: sp.appId ?? "" });
      } catch {
        principals.set(id, { name: "", appId: "" });
      }
    }),
  );
  return list.map((a) => {
    const p = a.properties ?? {};
    const guid = lastSegment(p.roleDefinitionId).toLowerCase();
    return { ...a, roleName: roleNames.get(guid) ?? guid, principal: principals.get(p.principalId) ?? { name: "", appId: "" } };
  });
}

function scopeWords(scope, vaultId) {
  if (sameId(scope, vaultId)) return "This resource";
  if (String(scope).toLowerCase().startsWith(`${String(vaultId).toLowerCase()}/`)) return `Key ${lastSegment(scope)}`;
  if (/\/resourceGroups\/[^/]+$/i.test(scope)) return "Resource group (inherited)";
  if (/^\/subscriptions\/[^/]+$/i.test(scope)) return "Subscription (inherited)";
  return scope;
}

export async function vaultAccessView(box, [rg, name]) {
  const v = await getVault(rg, name);
  box.append(
    ...vaultHeader(v, rg, name, "access"),
    h("p", { class: "sub", text: "Role assignments that apply to this key vault. The ISV's application needs Key Vault Crypto Service Encryption User here; removing it revokes the ISV's access to your key." }),
  );
  const out = h("div", { id: "access-result" });
  const list = h("div", {}, loading());
  box.append(out, list);
  const roles = await armList(`${v.id}/providers/Microsoft.Authorization/roleDefinitions`, API.authorization).catch(() => []);
  const roleSel = h(
    "select",
    { id: "assign-role" },
    roles
      .filter((r) => /Key Vault|Owner|Reader|Contributor/.test(r.properties?.roleName ?? ""))
      .sort((x, y) => String(x.properties?.roleName).localeCompare(String(y.properties?.roleName)))
      .map((r) => h("option", { value: r.id, selected: r.properties?.roleName === "Key Vault Crypto Service Encryption User", text: r.properties?.roleName })),
  );
  const principal = h("input", { type: "text", id: "assign-principal", placeholder: "object id of the service principal", spellcheck: "false" });
  const add = h("button", { type: "submit", id: "assign", text: "Add role assignment" });

  async function show() {
    try {
      const items = await assignments(v.id);
      items.sort((x, y) => x.roleName.localeCompare(y.roleName));
      clear(
        list,
        table(
          [
            { title: "Role", key: "role", cell: (a) => a.roleName },
            {
              title: "Principal",
              key: "principal",
              cell: (a) => h("span", {}, a.principal.name ? h("strong", { text: a.principal.name }) : "", a.principal.name ? " " : "", h("code", { text: a.properties?.principalId ?? "" })),
            },
            { title: "Application ID", key: "appId", cell: (a) => a.principal.appId || "—" },
            { title: "Type", key: "type", cell: (a) => a.properties?.principalType ?? "" },
            { title: "Scope", key: "scope", cell: (a) => scopeWords(a.properties?.scope, v.id) },
            {
              title: "",
              key: "actions",
              cell: (a) => {
                if (!sameId(a.properties?.scope, v.id)) return "";
                const b = h("button", { type: "button", class: "danger", "data-action": "remove", text: "Remove" });
                b.addEventListener("click", async () => {
                  out.replaceChildren();
                  try {
                    await busy(b, "Removing…", () => arm(a.id, API.authorization, { method: "DELETE" }));
                    out.append(notice("ok", `Removed ${a.roleName} from ${a.principal.name || a.properties?.principalId}.`));
                    await show();
                  } catch (err) {
                    out.append(errorBox(err, "The role assignment was not removed:"));
                  }
                });
                return b;
              },
            },
          ],
          items,
          { empty: "No role assignments apply to this vault.", rowAttrs: (a) => ({ "data-principal": a.properties?.principalId, "data-role": a.roleName }) },
        ),
      );
    } catch (err) {
      clear(list, errorBox(err, "The role assignments could not be listed:"));
    }
  }

  box.append(
    h("h2", { text: "Add a role assignment at this vault" }),
    h(
      "form",
      {
        class: "filters",
        onsubmit: async (e) => {
          e.preventDefault();
          out.replaceChildren();
          try {
            const id = principal.value.trim();
            if (!/^[0-9a-f-]{36}$/i.test(id)) throw new Error("Enter the object id (a GUID) of the service principal to assign the role to.");
            await busy(add, "Adding…", () =>
              arm(`${v.id}/providers/Microsoft.Authorization/roleAssignments/${crypto.randomUUID()}`, API.authorization, {
                method: "PUT",
                body: { properties: { roleDefinitionId: roleSel.value, principalId: id, principalType: "ServicePrincipal" } },
              }));
            out.append(notice("ok", "Role assignment added."));
            principal.value = "";
            await show();
          } catch (err) {
            out.append(errorBox(err, "The role assignment was not added:"));
          }
        },
      },
      h("label", {}, "Role", roleSel),
      h("label", {}, "Principal", principal),
      add,
    ),
  );
  await show();
}

// ---------------------------------------------------------------------------------------------
// Audit log.

/** "name/version" (or "name") of a key URL https://vault/keys/{name}[/{version}]. */
function keyAndVersion(kid) {
  const m = /\/keys\/([^/]+)(?:\/([^/]+))?\/?$/.exec(String(kid));
  return m ? (m[2] ? `${m[1]}/${m[2]}` : m[1]) : String(kid);
}

const AUDIT_PAGES = 10;
const AUDIT_SHOWN = 500;

export async function vaultAuditView(box, [rg, name], query) {
  const v = await getVault(rg, name);
  const caller = query.get("caller") ?? "";
  const corr = query.get("correlationId") ?? "";
  box.append(
    ...vaultHeader(v, rg, name, "audit"),
    h("p", { class: "sub", text: "Every authenticated request to this vault's keys, newest first. The storage service sends a correlation id with each wrap and unwrap it makes for an account; filter by the ISV application's service principal to see them." }),
  );
  // Callers to choose from: the principals with a role that applies to the vault.
  let known = [];
  try {
    known = await assignments(v.id);
  } catch {
    known = [];
  }
  const callers = new Map();
  for (const a of known) {
    const id = a.properties?.principalId;
    if (id && !callers.has(id)) callers.set(id, a.principal.name ? `${a.principal.name} (${id})` : id);
  }
  const callerSel = h(
    "select",
    { id: "audit-caller" },
    h("option", { value: "", text: "All callers" }),
    [...callers].map(([id, label]) => h("option", { value: id, selected: id === caller, text: label })),
    caller && !callers.has(caller) ? h("option", { value: caller, selected: true, text: caller }) : null,
  );
  const callerText = h("input", { type: "text", id: "audit-caller-oid", placeholder: "or a caller object id", spellcheck: "false", value: caller && !callers.has(caller) ? caller : "" });
  const corrIn = h("input", { type: "text", id: "audit-correlation", placeholder: "correlation id", spellcheck: "false", value: corr });
  const apply = h("button", { type: "submit", id: "audit-apply", class: "primary", text: "Apply" });
  box.append(
    h(
      "form",
      {
        class: "filters",
        id: "audit-filters",
        onsubmit: (e) => {
          e.preventDefault();
          const q = new URLSearchParams();
          const c = callerText.value.trim() || callerSel.value;
          if (c) q.set("caller", c);
          if (corrIn.value.trim()) q.set("correlationId", corrIn.value.trim());
          const qs = q.toString();
          location.hash = `${vaultRoute(rg, name)}/audit${qs ? `?${qs}` : ""}`;
        },
      },
      h("label", {}, "Caller", callerSel),
      h("label", {}, "Caller object id", callerText),
      h("label", {}, "Correlation id", corrIn),
      apply,
    ),
  );
  const wait = loading("Reading the audit log…");
  box.append(wait);
  let url = `${v.id}/auditRecords?$top=1000${caller ? `&callerOid=${encodeURIComponent(caller)}` : ""}${corr ? `&correlationId=${encodeURIComponent(corr)}` : ""}`;
  const recs = [];
  let pages = 0;
  for (; url && pages < AUDIT_PAGES; pages++) {
    const r = await arm(url, API.audit);
    recs.push(...(r.value ?? []));
    url = r.nextLink ?? null;
  }
  wait.remove();
  recs.sort((x, y) => (y.sequence ?? 0) - (x.sequence ?? 0));
  const shown = recs.slice(0, AUDIT_SHOWN);
  const names = new Map([...callers].map(([id, label]) => [id, label]));
  const nameOf = new Map(known.filter((a) => a.principal.name).map((a) => [a.properties?.principalId, a.principal.name]));
  box.append(
    h(
      "p",
      { id: "audit-count" },
      `${recs.length} record${recs.length === 1 ? "" : "s"}${url ? " (more exist; narrow the filter)" : ""}${recs.length > shown.length ? `, showing the newest ${shown.length}` : ""}`,
      caller ? ` · caller ${names.get(caller) ?? caller}` : "",
      corr ? ` · correlation id ${corr}` : "",
      ".",
    ),
    table(
      [
        { title: "Time", key: "time", cell: (r) => fmtTime(r.time) },
        { title: "Operation", key: "operation", cell: (r) => r.operation },
        { title: "Result", key: "result", cell: (r) => h("span", { class: `badge ${r.result >= 200 && r.result < 300 ? "ok" : "bad"}`, text: String(r.result) }) },
        { title: "Caller", key: "caller", cell: (r) => h("span", { title: r.callerOid }, nameOf.get(r.callerOid) ?? r.callerOid ?? "") },
        { title: "Caller app ID", key: "callerAppId", cell: (r) => r.callerAppId ?? "" },
        { title: "Key version", key: "kid", cell: (r) => (r.kid ? h("code", { title: r.kid, text: keyAndVersion(r.kid) }) : "—") },
        { title: "Correlation id", key: "correlationId", cell: (r) => (r.correlationId ? h("code", { text: r.correlationId }) : "—") },
      ],
      shown,
      { empty: "No records match.", rowAttrs: (r) => ({ "data-seq": String(r.sequence), "data-operation": r.operation }) },
    ),
  );
}
