// Settings (provider keys, GPU endpoint, spending, password, sign out) and, for admins, the queue and users.

import { allPages, api } from "./api.js";
import { attempt, field, formatDate, formatMoney, h, replace, toast } from "./dom.js";
import { signedOut, signOut } from "./main.js";
import { setVaultSession, state } from "./state.js";

function section(id, title, ...body) {
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), ...body);
}

function form(onsubmit, submitLabel, ...fields) {
  const error = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, submitLabel);
  const element = h("form", { class: "stack", novalidate: true }, ...fields, error, submit);
  element.addEventListener("submit", async (event) => {
    event.preventDefault();
    await attempt(() => onsubmit(element), { where: error, busy: submit });
  });
  return element;
}

export async function renderSettings(main) {
  const user = state.user;
  const [status, stats] = await Promise.all([
    api("/api/custom/auth/token-status").catch(() => null),
    api("/api/custom/financial/stats").catch(() => null),
  ]);
  replace(
    main,
    h(
      "div",
      { class: "settings" },
      h("h1", {}, "Settings"),
      section("account-title", "Account", h("p", {}, `Signed in as ${user.email}${user.username ? ` (${user.username})` : ""}, ${user.role}.`), passwordForm(), signOutBox()),
      section("vault-title", "Provider keys", vaultBox(status, main)),
      section("gpu-title", "GPU endpoint", gpuForm(user)),
      section("spend-title", "Spending", spending(stats)),
    ),
  );
}

function passwordForm() {
  const old = h("input", { type: "password", autocomplete: "current-password", required: true });
  const next = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: "8" });
  return form(
    async (element) => {
      await api("/api/auth/password", { method: "POST", body: { old_password: old.value, new_password: next.value } });
      element.reset();
      toast("Password changed. Every other device is signed out.");
    },
    "Change password",
    field("Current password", old),
    field("New password", next, "8 to 128 characters. Changing it signs out every other device."),
  );
}

function signOutBox() {
  const everywhere = h("button", { type: "button", class: "danger", onclick: signOutEverywhere }, "Sign out everywhere");
  return h(
    "div",
    { class: "actions" },
    h("button", { type: "button", onclick: signOut }, "Sign out"),
    everywhere,
    h("small", { class: "muted" }, "Signing out everywhere ends every session of yours, on every device, this one too."),
  );
}

async function signOutEverywhere(event) {
  const done = await attempt(() => api("/api/auth/logout-all", { method: "POST" }), { busy: event.currentTarget });
  if (done !== undefined) signedOut("You are signed out on every device.");
}

function vaultBox(status, main) {
  if (!status) return h("p", { class: "muted" }, "Provider keys are not set up on this server.");
  const again = () => renderSettings(main);
  const parts = [];
  const unlocked = status.has_active_session && state.vaultSession;
  parts.push(
    h(
      "p",
      { class: "vault-status", role: "status" },
      !status.has_token ? "No provider keys stored yet." : unlocked ? "Your keys are unlocked for this browser." : "Your keys are stored and locked.",
    ),
  );
  if (status.has_token && !unlocked) {
    const password = h("input", { type: "password", autocomplete: "off", required: true });
    parts.push(
      form(
        async () => {
          const opened = await api("/api/custom/auth/create-session", { method: "POST", body: { password: password.value } });
          setVaultSession(opened.session_id);
          toast(`Keys unlocked until ${formatDate(opened.expires_at)}.`);
          again();
        },
        "Unlock",
        field("Vault password", password),
      ),
    );
  }
  if (unlocked) {
    parts.push(
      h(
        "button",
        {
          type: "button",
          onclick: async () => {
            await attempt(() => api("/api/custom/auth/session", { method: "DELETE", headers: { "X-Session-ID": state.vaultSession } }));
            setVaultSession(null);
            toast("Keys locked.");
            again();
          },
        },
        "Lock",
      ),
    );
  }
  const fal = h("input", { type: "password", autocomplete: "off", required: true });
  const openai = h("input", { type: "password", autocomplete: "off" });
  const password = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: "8" });
  parts.push(
    h(
      "details",
      { class: "setup" },
      h("summary", {}, status.has_token ? "Replace your keys" : "Store your keys"),
      form(
        async () => {
          const body = { fal_token: fal.value, password: password.value };
          if (openai.value) body.openai_token = openai.value;
          await api("/api/custom/tokens/setup", { method: "POST", body });
          setVaultSession(null);
          toast("Keys stored, sealed under your vault password.");
          again();
        },
        "Store keys",
        field("FAL key", fal),
        field("OpenAI key (optional)", openai),
        field("Vault password", password, "Seals the keys; Artboard cannot read them without it. 8 characters or more."),
      ),
    ),
  );
  return h("div", {}, parts);
}

function gpuForm(user) {
  const url = h("input", { type: "url", value: user.gpu_endpoint || "", placeholder: "https://gpu.example.com" });
  const secretBox = h("div", { class: "secret", role: "status" });
  const save = form(
    async () => {
      const { signing_secret: secret, ...saved } = await api("/auth/gpu-endpoint", { method: "PUT", body: { gpu_endpoint: url.value.trim() || null } });
      state.user = { ...state.user, ...saved };
      replace(secretBox, secret ? signingSecret(secret) : null);
      toast(saved.gpu_endpoint ? "GPU endpoint saved." : "GPU endpoint removed.");
    },
    "Save endpoint",
    field("Your GPU server", url, "An http(s) URL; leave empty to remove it. Saving it issues a new signing secret."),
  );
  return h("div", {}, save, secretBox);
}

/** The server answers the secret once and never again: show it with a way to copy it, until the page moves on. */
function signingSecret(secret) {
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      toast("Signing secret copied.");
    } catch {
      toast("Select the secret and copy it with your keyboard or menu.");
    }
  };
  return [
    h("p", {}, h("strong", {}, "Signing secret, shown only now: "), "copy it and store it on your GPU server, which checks the Artboard-Signature of every call with it."),
    h("div", { class: "actions" }, h("code", { id: "signing-secret" }, secret), h("button", { type: "button", onclick: copy }, "Copy")),
  ];
}

function spending(stats) {
  if (!stats) return h("p", { class: "muted" }, "Spending figures are not set up on this server yet.");
  return figures(
    [
      ["Total spent", formatMoney(stats.total_spent)],
      ["Last 30 days", formatMoney(stats.recent_spending)],
      ["Images paid for", String(stats.total_images)],
      ["Average per image", formatMoney(stats.average_cost)],
    ],
    { id: "spending" },
  );
}

/** Labelled figures in a row: the spending, the queue's counts. */
function figures(entries, attributes = {}) {
  return h(
    "dl",
    { class: "figures", ...attributes },
    entries.map(([label, value]) => h("div", { class: "figure" }, h("dt", { class: "muted" }, label), h("dd", {}, value))),
  );
}

// ---- admin --------------------------------------------------------------------------------------------

export async function renderAdmin(main) {
  let queue;
  let users;
  try {
    [queue, users] = await Promise.all([api("/api/admin/queue"), allPages("/api/admin/users")]);
  } catch (error) {
    replace(main, h("p", { class: "error", role: "alert" }, error.message));
    return;
  }
  const again = () => renderAdmin(main);
  const counts = figures(Object.entries(queue.counts).map(([name, count]) => [name.replace("_", " "), String(count)]));
  const toggle = h(
    "button",
    {
      type: "button",
      id: "queue-toggle",
      onclick: async (event) => {
        const done = await attempt(() => api(`/api/admin/queue/${queue.paused ? "resume" : "pause"}`, { method: "POST" }), { busy: event.currentTarget });
        if (done !== undefined) again();
      },
    },
    queue.paused ? "Resume the queue" : "Pause the queue",
  );
  const rows = users.map((user) => {
    const self = user.id === state.user.id;
    const patch = async (body, button) => {
      const done = await attempt(() => api(`/api/admin/users/${user.id}`, { method: "PATCH", body }), { busy: button });
      if (done) again();
    };
    return h(
      "tr",
      { dataset: { userId: user.id } },
      h("td", {}, user.email, user.username ? h("small", { class: "muted" }, ` ${user.username}`) : null),
      h("td", {}, user.role),
      h("td", {}, user.disabled ? "disabled" : "active"),
      h(
        "td",
        { class: "actions" },
        h("button", { type: "button", disabled: self, onclick: (e) => patch({ role: user.role === "admin" ? "user" : "admin" }, e.currentTarget) }, user.role === "admin" ? "Make user" : "Make admin"),
        h("button", { type: "button", class: user.disabled ? "" : "danger", disabled: self, onclick: (e) => patch({ disabled: !user.disabled }, e.currentTarget) }, user.disabled ? "Enable" : "Disable"),
      ),
    );
  });
  replace(
    main,
    h(
      "div",
      { class: "settings" },
      h("h1", {}, "Admin"),
      section(
        "queue-title",
        "Job queue",
        h("p", { role: "status" }, queue.paused ? "Paused: no new job starts; running ones finish." : "Running.", ` ${queue.live_workers} live worker${queue.live_workers === 1 ? "" : "s"}.`, queue.oldest_queued_age_s ? ` Oldest queued job waiting ${Math.round(queue.oldest_queued_age_s)} s.` : ""),
        counts,
        h("div", { class: "actions" }, toggle, h("button", { type: "button", class: "ghost", onclick: again }, "Refresh")),
      ),
      section(
        "users-title",
        "Users",
        h(
          "div",
          { class: "table-wrap" },
          h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "User"), h("th", { scope: "col" }, "Role"), h("th", { scope: "col" }, "State"), h("th", { scope: "col" }, "Actions"))), h("tbody", {}, rows)),
        ),
      ),
    ),
  );
}
