// Small DOM helpers: elements are built with h(), never from HTML strings, so no text is ever markup.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (name === "class") {
      element.className = value;
    } else if (value === true) {
      element.setAttribute(name, "");
    } else if (name in element && typeof value !== "string") {
      element[name] = value;
    } else {
      element.setAttribute(name, value);
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** A short message in the live region, read out by screen readers; errors stay until dismissed. */
export function toast(message, kind = "info") {
  const region = $("#toasts");
  const item = h(
    "div",
    { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", {}, message),
    h("button", { type: "button", class: "ghost", "aria-label": "Dismiss", onclick: () => item.remove() }, "×"),
  );
  region.append(item);
  if (kind !== "error") setTimeout(() => item.remove(), 5000);
}

/** Run an async action from a form or button, showing its error in `where` (or a toast) and disabling `busy`. */
export async function attempt(action, { where = null, busy = null } = {}) {
  if (where) replace(where);
  if (busy) busy.disabled = true;
  try {
    return await action();
  } catch (error) {
    if (where) replace(where, error.message);
    else toast(error.message, "error");
    return undefined;
  } finally {
    if (busy) busy.disabled = false;
  }
}

export function field(label, input, hint = null) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint && h("small", { id: hintId }, hint));
}

export function formatDate(text) {
  if (!text) return "";
  return new Date(text).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function formatMoney(value) {
  const number = Number(value || 0);
  return number.toLocaleString(undefined, { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 4 });
}

export function thumbUrl(imageId) {
  return `/api/images/${encodeURIComponent(imageId)}/file?variant=thumb`;
}

export function squareUrl(imageId) {
  return `/api/images/${encodeURIComponent(imageId)}/file?variant=square`;
}

export function originalUrl(imageId) {
  return `/api/images/${encodeURIComponent(imageId)}/file?variant=original`;
}

/** A <dialog> built on the fly: showModal gives focus trapping and Escape for free. */
export function modal(title, body, { onclose = null, wide = false } = {}) {
  const titleId = `d-${Math.random().toString(36).slice(2, 9)}`;
  const dialog = h(
    "dialog",
    { class: wide ? "wide" : "", "aria-labelledby": titleId },
    h(
      "div",
      { class: "dialog-head" },
      h("h2", { id: titleId }, title),
      h("button", { type: "button", class: "ghost icon", "aria-label": "Close", onclick: () => dialog.close() }, "×"),
    ),
    body,
  );
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (onclose) onclose();
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}
