// SPDX-License-Identifier: Apache-2.0
// The storage account's Encryption page (filled in by the next slice).
import { h } from "../ui.js";
import { accountHeader, encryptionSummary, getAccount } from "./storage.js";

export async function encryptionView(box, [rg, name]) {
  const a = await getAccount(rg, name);
  box.append(...accountHeader(a, rg, name, "encryption"), encryptionSummary(a), h("p", { text: "" }));
}
