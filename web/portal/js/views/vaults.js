// SPDX-License-Identifier: Apache-2.0
// Customer views (filled in by a later slice).
import { h } from "../ui.js";

const todo = async (box) => box.append(h("p", { text: "Coming soon." }));
export const vaultListView = todo;
export const vaultKeysView = todo;
export const keyView = todo;
export const vaultAccessView = todo;
export const vaultAuditView = todo;
