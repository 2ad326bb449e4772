// SPDX-License-Identifier: Apache-2.0
// The sign-in page: tenant id, client id and client secret of a tenant admin application.
import { busy, errorBox, h } from "../ui.js";
import { signIn } from "../session.js";

/**
 * The sign-in page. `#/signin?tenant=<id>&client=<id>` fills the two IDs in (a link an operator
 * may hand out); a secret is never taken from the URL.
 */
export async function signinView(box, _params, query) {
  const out = h("div", { id: "signin-result" });
  const tenant = h("input", { type: "text", id: "tenant-id", name: "tenant", autocomplete: "off", spellcheck: "false", placeholder: "00000000-0000-0000-0000-000000000000" });
  const client = h("input", { type: "text", id: "client-id", name: "client", autocomplete: "off", spellcheck: "false" });
  const secret = h("input", { type: "password", id: "client-secret", name: "secret", autocomplete: "off" });
  const button = h("button", { type: "submit", class: "primary", id: "sign-in", text: "Sign in" });
  const form = h(
    "form",
    {
      class: "form",
      onsubmit: async (e) => {
        e.preventDefault();
        out.replaceChildren();
        try {
          await busy(button, "Signing in…", () => signIn(tenant.value, client.value, secret.value));
          secret.value = "";
          location.hash = "#/storage";
        } catch (err) {
          out.append(errorBox(err, "Sign-in failed:"));
        }
      },
    },
    h("div", { class: "row" }, h("label", { for: "tenant-id", text: "Tenant ID" }), tenant),
    h("div", { class: "row" }, h("label", { for: "client-id", text: "Client ID" }), client),
    h("div", { class: "row" }, h("label", { for: "client-secret", text: "Client secret" }), secret),
    h("div", { class: "actions" }, button),
  );
  box.append(
    h(
      "div",
      { class: "signin panel" },
      h("h1", { text: "Sign in" }),
      h(
        "p",
        { class: "sub" },
        "Sign in as a tenant admin with the application that ",
        h("code", { text: "crosskey tenant create" }),
        " printed for your tenant. The secret is used once, to get tokens, and is not kept; the tokens stay in this browser tab only.",
      ),
      form,
      out,
    ),
  );
  tenant.value = query?.get("tenant") ?? "";
  client.value = query?.get("client") ?? "";
  (tenant.value && client.value ? secret : tenant).focus();
}
