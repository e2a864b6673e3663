// What the views share: the signed-in user, the live job feed and the model catalog.

import { api } from "./api.js";

export const state = { user: null, feed: null, catalog: null, vaultSession: sessionStorage.getItem("artboard.vault") };

/** The model catalog (display names, parameter schemas), asked for once. */
export async function catalog() {
  state.catalog ??= await api("/api/custom/generate/models").catch(() => ({}));
  return state.catalog;
}

export function setVaultSession(id) {
  state.vaultSession = id;
  if (id) sessionStorage.setItem("artboard.vault", id);
  else sessionStorage.removeItem("artboard.vault");
}
