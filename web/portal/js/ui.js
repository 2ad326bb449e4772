// SPDX-License-Identifier: Apache-2.0
// Small DOM helpers: the portal builds its pages with h(), never with innerHTML, so no value from
// an API can become markup.

/**
 * Creates an element. attrs: `class`, `text`, `on<event>` (functions), `checked`, `disabled`,
 * `value`, `selected`, `open` (properties), anything else as an attribute (null/false: left out).
 * Children: nodes, strings, numbers, arrays of them; null and false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = String(v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (["checked", "disabled", "value", "selected", "open"].includes(k)) el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Empties el, then appends children (flattened, like h()). */
export function clear(el, ...children) {
  while (el.firstChild) el.removeChild(el.firstChild);
  append(el, children);
  return el;
}

/** An ISO 8601 time as "2026-11-23 10:00:05 UTC"; "—" when absent. */
export function fmtTime(v) {
  if (v === null || v === undefined || v === "") return "—";
  const d = typeof v === "number" ? new Date(v * 1000) : new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");
}

export const dash = (v) => (v === null || v === undefined || v === "" ? "—" : String(v));

/** A notice box: kind is info, ok or error. */
export function notice(kind, ...content) {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, ...content);
}

/**
 * An error in plain words (err.message) with the technical details (HTTP status, codes, request)
 * folded away.
 */
export function errorBox(err, lead) {
  const tech = err?.technical ? err.technical() : String(err?.stack ?? err);
  return notice(
    "error",
    h("div", { class: "plain", "data-error-code": err?.code ?? null }, lead ? `${lead} ` : "", err?.message ?? String(err)),
    h("details", {}, h("summary", { text: "Technical details" }), h("pre", { text: tech })),
  );
}

/**
 * A definition list of [label, value, field] rows. value may be a node or text; field names the
 * `data-field` attribute of the <dd> (tests and users read the value from it).
 */
export function fields(rows) {
  const dl = h("dl", { class: "fields" });
  for (const r of rows) {
    if (!r) continue;
    const [label, value, field] = r;
    dl.append(h("dt", { text: label }));
    dl.append(h("dd", { "data-field": field ?? null }, value instanceof Node ? value : dash(value)));
  }
  return dl;
}

/** A table: columns [{title, cell(row) -> node|text}], rows; `empty` when there are none. */
export function table(columns, rows, { empty = "Nothing to show.", rowAttrs } = {}) {
  if (!rows.length) return h("p", { class: "empty", text: empty });
  return h(
    "table",
    { class: "grid" },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { text: c.title })))),
    h(
      "tbody",
      {},
      rows.map((r) => h("tr", rowAttrs ? rowAttrs(r) : {}, columns.map((c) => h("td", { "data-col": c.key ?? null }, c.cell(r))))),
    ),
  );
}

export function tabs(items, active) {
  return h(
    "nav",
    { class: "tabs" },
    items.map(([id, label, href]) => h("a", { href, class: id === active ? "active" : null, "data-tab": id, text: label })),
  );
}

export function crumbs(...items) {
  const out = [];
  items.forEach(([label, href], i) => {
    if (i) out.push(" › ");
    out.push(href ? h("a", { href, text: label }) : label);
  });
  return h("div", { class: "crumbs" }, out);
}

export const loading = (what = "Loading…") => h("p", { class: "loading", text: what });

/** The last path segment of an ARM id or URL. */
export const lastSegment = (s) => String(s ?? "").replace(/\/+$/, "").split("/").pop();

/** The resource group of an ARM id. */
export function resourceGroupOf(id) {
  const m = /\/resourceGroups\/([^/]+)/i.exec(String(id ?? ""));
  return m ? m[1] : "";
}

/** Case-insensitive equality of ARM ids. */
export const sameId = (a, b) => String(a ?? "").toLowerCase() === String(b ?? "").toLowerCase();

/** Runs fn with the button disabled and a busy label; returns fn's result. */
export async function busy(button, label, fn) {
  const old = button.textContent;
  button.disabled = true;
  if (label) button.textContent = label;
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.textContent = old;
  }
}
