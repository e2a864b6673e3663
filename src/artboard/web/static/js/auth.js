// Sign in, create an account, and the first-run form that makes the first admin.

import { api, ApiError } from "./api.js";
import { attempt, field, h, replace } from "./dom.js";

export function renderAuth(main, signedIn, notice = null) {
  let mode = "signin";
  const error = h("p", { class: "error", role: "alert", id: "auth-error" });
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const username = h("input", { type: "text", name: "username", autocomplete: "nickname", maxlength: "50" });
  const password = h("input", {
    type: "password",
    name: "password",
    autocomplete: "current-password",
    required: true,
    minlength: "8",
    maxlength: "128",
  });
  const usernameField = field("Username (optional)", username);
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const heading = h("h1", { id: "auth-title" }, "Sign in to Artboard");
  const switcher = h("button", { type: "button", class: "link", onclick: () => show(mode === "signin" ? "signup" : "signin") });
  const form = h(
    "form",
    { class: "card auth", "aria-labelledby": "auth-title", novalidate: true },
    heading,
    notice && h("p", { class: "notice", role: "status" }, notice),
    field("Email", email),
    usernameField,
    field("Password", password, "8 to 128 characters."),
    error,
    submit,
    h("p", { class: "muted" }, switcher),
  );

  function show(next) {
    mode = next;
    const signup = mode === "signup";
    replace(heading, signup ? "Create your Artboard account" : "Sign in to Artboard");
    replace(submit, signup ? "Create account" : "Sign in");
    replace(switcher, signup ? "I already have an account: sign in" : "New here? Create an account");
    password.autocomplete = signup ? "new-password" : "current-password";
    usernameField.hidden = !signup;
    replace(error);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!email.value || !password.value) {
      replace(error, "Enter your email and password.");
      return;
    }
    const user = await attempt(
      async () => {
        if (mode === "signup") {
          const body = { email: email.value.trim(), password: password.value };
          if (username.value.trim()) body.username = username.value.trim();
          await api("/api/auth/register", { method: "POST", body });
        }
        return signIn(email.value.trim(), password.value);
      },
      { where: error, busy: submit },
    );
    if (user) signedIn(user);
  });

  show("signin");
  replace(main, h("div", { class: "center" }, form));
  email.focus();
}

async function signIn(email, password) {
  try {
    return await api("/api/auth/login", { method: "POST", body: { email, password } });
  } catch (error) {
    if (error.status === 401) {
      throw new ApiError(401, error.code, "Wrong email or password. Check both and try again.");
    }
    throw error;
  }
}

/** The one-time link `artboard serve` prints on a server with no admin: `/#first-run=<token>`. */
export function renderFirstRun(main, token, signedIn) {
  const error = h("p", { class: "error", role: "alert" });
  const email = h("input", { type: "email", autocomplete: "username", required: true });
  const username = h("input", { type: "text", autocomplete: "nickname", maxlength: "50" });
  const password = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: "8" });
  const submit = h("button", { type: "submit", class: "primary" }, "Create admin account");
  const form = h(
    "form",
    { class: "card auth", "aria-labelledby": "first-run-title", novalidate: true },
    h("h1", { id: "first-run-title" }, "Welcome to Artboard"),
    h("p", {}, "This server has no admin yet. Create the first admin account: it can manage users and the job queue."),
    field("Email", email),
    field("Username (optional)", username),
    field("Password", password, "8 to 128 characters."),
    error,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { token, email: email.value.trim(), password: password.value };
    if (username.value.trim()) body.username = username.value.trim();
    const user = await attempt(() => api("/api/admin/first-run", { method: "POST", body }), { where: error, busy: submit });
    if (user) {
      history.replaceState(null, "", `${location.pathname}#/create`);
      signedIn(user);
    }
  });
  replace(main, h("div", { class: "center" }, form));
  email.focus();
}
