// The studio's entry point: who is signed in, which view shows, and the live job feed they share.

import { api, onSignedOut } from "./api.js";
import { $, $$, h, replace, toast } from "./dom.js";
import { renderAuth, renderFirstRun } from "./auth.js";
import { renderCreate } from "./create.js";
import { JobFeed } from "./jobs.js";
import { renderGallery, renderTrash } from "./gallery.js";
import { renderAdmin, renderSettings } from "./settings.js";
import { state } from "./state.js";


const SIGNED_IN = "artboard.signedIn";

const VIEWS = {
  create: renderCreate,
  gallery: renderGallery,
  trash: renderTrash,
  settings: renderSettings,
  admin: renderAdmin,
};

async function boot() {
  onSignedOut(() => signedOut("Your session ended. Sign in again."));
  $("#sign-out").addEventListener("click", signOut);
  window.addEventListener("hashchange", route);
  const firstRun = new URLSearchParams(location.hash.slice(1)).get("first-run");
  if (firstRun) {
    renderFirstRun($("#main"), firstRun, signedIn);
    return;
  }
  // A browser that never signed in here has no session to ask about (and no 401 to log on the console).
  if (localStorage.getItem(SIGNED_IN)) {
    try {
      state.user = await api("/api/auth/me");
    } catch (error) {
      state.user = null;
      if (error.status !== 401) toast(error.message, "error");
    }
  }
  if (state.user) signedIn(state.user);
  else showAuth();
}

function showAuth(message = null) {
  $("#top").hidden = true;
  renderAuth($("#main"), signedIn, message);
}

export function signedIn(user) {
  state.user = user;
  localStorage.setItem(SIGNED_IN, "1");
  $("#top").hidden = false;
  replace($("#who"), user.username || user.email);
  $('[data-view="admin"]').hidden = user.role !== "admin";
  state.feed?.stop();
  state.feed = new JobFeed(user.id, connectionChanged);
  state.feed.start();
  if (!location.hash.startsWith("#/")) history.replaceState(null, "", "#/create");
  route();
}

function connectionChanged(status) {
  const banner = $("#connection");
  banner.hidden = status === "live";
  if (status === "reconnecting") replace(banner, "Connection lost. Reconnecting to the server…");
  document.body.dataset.connection = status;
}

export async function signOut() {
  try {
    await api("/api/auth/logout", { method: "POST" });
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  signedOut("You are signed out.");
}

export function signedOut(message) {
  state.feed?.stop();
  state.feed = null;
  state.user = null;
  localStorage.removeItem(SIGNED_IN);
  $("#connection").hidden = true;
  history.replaceState(null, "", location.pathname);
  showAuth(message);
}

async function route() {
  if (!state.user) return;
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const view = VIEWS[name] ? name : "create";
  if (view === "admin" && state.user.role !== "admin") {
    location.hash = "#/create";
    return;
  }
  for (const link of $$("nav [data-view]")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const main = $("#main");
  main.dataset.view = view;
  replace(main, h("p", { class: "loading" }, "Loading…"));
  await VIEWS[view](main, rest.map(decodeURIComponent));
  if (document.activeElement === document.body) main.focus({ preventScroll: true });
}

boot();
