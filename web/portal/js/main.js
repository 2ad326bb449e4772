// SPDX-License-Identifier: Apache-2.0
// The portal's entry point: the top bar (views, subscription, who is signed in) and a hash router.
// Every page is a view function that renders into <main>; a newer navigation makes an older
// view's late results go nowhere (each render gets its own container).
import { clear, errorBox, h } from "./ui.js";
import { selectSubscription, session, signOut } from "./session.js";
import { signinView } from "./views/signin.js";
import { accountView, storageListView } from "./views/storage.js";
import { encryptionView } from "./views/encryption.js";
import { keyView, vaultAccessView, vaultAuditView, vaultKeysView, vaultListView } from "./views/vaults.js";

const ROUTES = [
  [/^\/signin$/, signinView, null],
  [/^\/storage$/, storageListView, "storage"],
  [/^\/storage\/([^/]+)\/([^/]+)$/, accountView, "storage"],
  [/^\/storage\/([^/]+)\/([^/]+)\/encryption$/, encryptionView, "storage"],
  [/^\/vaults$/, vaultListView, "vaults"],
  [/^\/vaults\/([^/]+)\/([^/]+)$/, vaultKeysView, "vaults"],
  [/^\/vaults\/([^/]+)\/([^/]+)\/keys\/([^/]+)$/, keyView, "vaults"],
  [/^\/vaults\/([^/]+)\/([^/]+)\/access$/, vaultAccessView, "vaults"],
  [/^\/vaults\/([^/]+)\/([^/]+)\/audit$/, vaultAuditView, "vaults"],
];

/** Navigates to a portal route ("/storage"). */
export function go(route) {
  const want = `#${route}`;
  if (location.hash === want) render();
  else location.hash = want;
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  return { path, query: new URLSearchParams(query) };
}

function renderTop(section) {
  const nav = clear(document.getElementById("nav"));
  const who = clear(document.getElementById("who"));
  const s = session();
  if (!s) return;
  nav.append(
    h("a", { href: "#/storage", class: section === "storage" ? "active" : null, "data-nav": "storage", text: "Storage accounts" }),
    h("a", { href: "#/vaults", class: section === "vaults" ? "active" : null, "data-nav": "vaults", text: "Key vaults" }),
  );
  const sel = h(
    "select",
    {
      id: "subscription",
      title: "Subscription",
      onchange: (e) => {
        selectSubscription(e.target.value);
        go(section === "vaults" ? "/vaults" : "/storage");
      },
    },
    s.subscriptions.map((x) => h("option", { value: x.id, selected: x.id === s.subscriptionId, text: `${x.name} (${x.id})` })),
  );
  who.append(
    s.subscriptions.length ? sel : h("span", { text: "no subscription" }),
    h("span", { id: "signed-in", title: `tenant ${s.tenantId}, client ${s.clientId}` }, `Tenant ${s.tenantId}`),
    h("button", {
      id: "sign-out",
      type: "button",
      text: "Sign out",
      onclick: () => {
        signOut();
        go("/signin");
      },
    }),
  );
}

let generation = 0;

export async function render() {
  const { path, query } = parseHash();
  const main = document.getElementById("main");
  const mine = ++generation;
  if (!session() && path !== "/signin") {
    location.replace(`#/signin`);
    return;
  }
  if (path === "/" || path === "") {
    location.replace("#/storage");
    return;
  }
  for (const [re, view, section] of ROUTES) {
    const m = re.exec(path);
    if (!m) continue;
    renderTop(section);
    const box = h("div", { class: "view" });
    clear(main, box);
    try {
      await view(box, m.slice(1).map(decodeURIComponent), query);
    } catch (e) {
      if (mine === generation) box.append(errorBox(e));
    }
    if (mine === generation) document.body.dataset.ready = path;
    return;
  }
  renderTop(null);
  clear(main, h("h1", { text: "Not found" }), h("p", {}, "This page does not exist. ", h("a", { href: "#/storage", text: "Storage accounts" })));
}

window.addEventListener("hashchange", render);
render();
