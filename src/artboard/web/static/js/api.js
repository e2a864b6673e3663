// The one way the studio talks to Artboard: same-origin fetch with the HttpOnly cookies of seed 004's flow.
// Every failure becomes an ApiError whose message is a sentence a person can act on: the server's own
// sentence from the error envelope when there is one.

export const OFFLINE = "Cannot reach the server. Check that Artboard is running, then try again.";

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

// Routes whose 401 means wrong credentials, not an ended session: never refreshed, never a sign-out.
const CREDENTIAL_CHECKS = new Set(["/api/auth/login", "/api/auth/register", "/api/auth/refresh", "/api/auth/password", "/api/admin/first-run"]);

let refreshing = null;
let signedOutHandler = () => {};

export function onSignedOut(handler) {
  signedOutHandler = handler;
}

/** Renew both cookies from the refresh cookie once, however many requests found the access token expired. */
export function refreshSession() {
  refreshing ??= fetch("/api/auth/refresh", { method: "POST", credentials: "same-origin" })
    .then((response) => response.ok)
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** Call the API; JSON in and out. Options: method, body (JSON), headers, raw (the Response), quiet404. */
export async function api(path, options = {}) {
  const { method = "GET", body, headers = {}, raw = false } = options;
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", OFFLINE);
  }
  if (response.status === 401 && !CREDENTIAL_CHECKS.has(path) && options.retried !== true) {
    if (await refreshSession()) return api(path, { ...options, retried: true });
    // The session is over (expired, or ended everywhere): the page shows the sign-in form, and this call
    // never settles, so the view that made it draws no error over that form.
    signedOutHandler();
    return new Promise(() => {});
  }
  if (!response.ok) throw await toError(response);
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

/** The error a failed response stands for, with the server's sentence when it sent one. */
export async function toError(response) {
  let message = null;
  let code = "error";
  try {
    const body = await response.json();
    message = body.message || (typeof body.detail === "string" ? body.detail : null);
    code = body.error || code;
  } catch {
    // not JSON: a proxy's page, or nothing
  }
  const retryAfter = Number(response.headers.get("Retry-After")) || null;
  if (response.status === 429 && !message) {
    message = `Too many attempts. Try again${retryAfter ? ` in ${retryAfter} seconds` : " in a moment"}.`;
  }
  if (!message && [502, 503, 504].includes(response.status)) message = OFFLINE;
  if (!message) message = `The server answered ${response.status}. Try again in a moment.`;
  return new ApiError(response.status, code, message, retryAfter);
}

/** Every item of a paginated list (Artboard's `{items, page, total_pages}`). */
export async function allPages(path, perPage = 100) {
  const items = [];
  const join = path.includes("?") ? "&" : "?";
  for (let page = 1; ; page += 1) {
    const reply = await api(`${path}${join}page=${page}&per_page=${perPage}`);
    items.push(...reply.items);
    if (page >= (reply.total_pages || 1)) return items;
  }
}

/**
 * Send one file through seed 004's presigned flow: ask for an upload URL, send the bytes with XHR (for its
 * progress events), then confirm, which validates the picture and answers the gallery image.
 */
export async function uploadFile(file, onProgress) {
  const contentType = file.type || guessType(file.name);
  const ticket = await api("/api/upload/presigned-url", {
    method: "POST",
    body: { filename: file.name || "pasted-image", content_type: contentType, size: file.size },
  });
  await new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(ticket.method || "POST", ticket.upload_url);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", async () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve();
      } else {
        reject(await toError(new Response(xhr.responseText, { status: xhr.status })));
      }
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "network", OFFLINE)));
    if ((ticket.method || "POST").toUpperCase() === "PUT") {
      xhr.setRequestHeader("Content-Type", contentType);
      xhr.send(file);
    } else {
      const form = new FormData();
      for (const [name, value] of Object.entries(ticket.fields || {})) form.append(name, value);
      form.append("file", file);
      xhr.send(form);
    }
  });
  return api("/api/upload/confirm", { method: "POST", body: { key: ticket.key } });
}

function guessType(name = "") {
  const extension = name.split(".").pop().toLowerCase();
  const types = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", webp: "image/webp", gif: "image/gif" };
  return types[extension] || "application/octet-stream";
}
