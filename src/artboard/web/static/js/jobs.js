// Live job cards over WS /ws: the socket replays every event after the last `seq` this browser saw
// (kept in localStorage per user), so a reload or a dropped network misses nothing.

import { api, refreshSession } from "./api.js";
import { h, replace, squareUrl, thumbUrl, toast } from "./dom.js";
import { catalog, state } from "./state.js";

const FINISHED = new Set(["succeeded", "failed", "canceled", "timed_out"]);
// The order a job goes through its statuses: a card lists those it was seen in this way, whatever order
// the page learned them in (a list reply can overtake a replayed event).
const LIFECYCLE = ["queued", "running", "succeeded", "failed", "canceled", "timed_out"];
const LABELS = {
  queued: "Queued",
  running: "Running",
  succeeded: "Done",
  failed: "Failed",
  canceled: "Canceled",
  timed_out: "Timed out",
};

export class JobFeed {
  constructor(userId, onConnection) {
    this.userId = userId;
    this.key = `artboard.seq.${userId}`;
    this.onConnection = onConnection;
    this.jobs = new Map(); // id -> {job, seen: Set of statuses}
    this.listeners = new Set();
    this.socket = null;
    this.delay = 500;
    this.stopped = false;
  }

  get seq() {
    const stored = localStorage.getItem(this.key);
    return stored === null ? null : Number(stored);
  }

  set seq(value) {
    localStorage.setItem(this.key, String(value));
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close(1000);
    this.socket = null;
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const since = this.seq;
    const url = `${scheme}://${location.host}/ws${since === null ? "" : `?since=${since}`}`;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.delay = 500;
      this.onConnection("live");
      this.loadRecent();
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type !== "job.updated") return;
      this.seq = message.seq;
      this.apply(message.job);
    });
    socket.addEventListener("close", async (event) => {
      if (this.socket !== socket || this.stopped) return;
      this.socket = null;
      this.onConnection("reconnecting");
      if (event.code === 4401 && !(await refreshSession())) {
        // The WebSocket cannot tell an expired token from a server that restarted with a new secret:
        // ask the API, which signs the page out on a real 401.
        await api("/api/auth/me").catch(() => {});
      }
      if (this.stopped) return;
      this.timer = setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 5000);
    });
  }

  /** The latest jobs from the list route, merged: covers events older than the socket's replay. */
  async loadRecent() {
    try {
      const page = await api("/api/jobs?per_page=20");
      for (const job of page.items.reverse()) this.apply(job);
    } catch {
      // the socket still brings what changes
    }
  }

  /** Take a job's state if it is newer than what the card shows (events and list replies both arrive, in
   * either order); an older one still counts as a status the job went through. */
  apply(job) {
    const entry = this.jobs.get(job.id);
    const seen = entry ? entry.seen : new Set();
    seen.add(job.status);
    const newer = !entry || Date.parse(job.updated) >= Date.parse(entry.job.updated);
    this.jobs.set(job.id, { job: newer ? job : entry.job, seen });
    for (const listener of this.listeners) listener(job.id);
  }

  async cancel(jobId) {
    try {
      this.apply(await api(`/api/jobs/${jobId}/cancel`, { method: "POST" }));
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async retry(jobId) {
    try {
      this.apply(await api(`/api/jobs/${jobId}/retry`, { method: "POST" }));
    } catch (error) {
      toast(error.message, "error");
    }
  }
}

/** Mount the job cards in `container`, newest first, kept live until the container leaves the page. */
export async function mountJobCards(container, openImage) {
  const models = await catalog();
  const feed = state.feed;
  const cards = new Map();
  const empty = h("p", { class: "muted empty" }, "Nothing yet: what you make shows up here, live.");

  function draw(jobId) {
    if (!container.isConnected) {
      unsubscribe();
      return;
    }
    const entry = feed.jobs.get(jobId);
    if (!entry) return;
    const old = cards.get(jobId);
    const focused = old?.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    const card = renderCard(entry, models, feed, openImage);
    cards.set(jobId, card);
    if (old) old.replaceWith(card);
    else container.prepend(card);
    if (focused) card.querySelector(`[data-action="${focused}"]`)?.focus();
    empty.remove();
  }

  replace(container);
  const entries = [...feed.jobs.values()].sort((a, b) => Date.parse(a.job.created) - Date.parse(b.job.created));
  for (const entry of entries) draw(entry.job.id);
  if (!entries.length) container.append(empty);
  const unsubscribe = feed.subscribe(draw);
}

function renderCard({ job, seen }, models, feed, openImage) {
  const name = models[job.model]?.display_name || job.model;
  const status = job.status;
  let detail;
  if (status === "queued") {
    detail = job.queue_position ? `Waiting: number ${job.queue_position} in line` : "Waiting in line";
  } else if (status === "running") {
    detail = `${Math.round((job.progress || 0) * 100)}%${job.message ? `: ${job.message}` : ""}`;
  } else if (status === "succeeded") {
    detail = job.cost ? `Done. Cost ${job.cost}` : "Done.";
  } else {
    detail = job.error?.message || LABELS[status];
  }
  const output = job.result?.images?.[0];
  const actions = [];
  if (!FINISHED.has(status)) {
    actions.push(h("button", { type: "button", class: "ghost", dataset: { action: "cancel" }, onclick: () => feed.cancel(job.id) }, "Cancel"));
  }
  if (["failed", "canceled", "timed_out"].includes(status)) {
    actions.push(h("button", { type: "button", dataset: { action: "retry" }, onclick: () => feed.retry(job.id) }, "Retry"));
  }
  const source = job.input?.image_id;
  return h(
    "article",
    {
      class: `job ${status}`,
      dataset: { jobId: job.id, status, seen: LIFECYCLE.filter((each) => seen.has(each)).join(" ") },
      "aria-label": `${name}: ${LABELS[status]}`,
    },
    h(
      "div",
      { class: "job-pictures" },
      output
        ? h(
            "button",
            { type: "button", class: "picture", dataset: { action: "open" }, onclick: () => openImage(output), "aria-label": `Open ${name}` },
            h("img", { src: squareUrl(output), alt: `${name} result`, loading: "lazy" }),
          )
        : source
          ? h("img", { class: "faded", src: thumbUrl(source), alt: "", loading: "lazy" })
          : h("div", { class: "placeholder" }),
    ),
    h(
      "div",
      { class: "job-body" },
      h("div", { class: "job-head" }, h("strong", {}, name), h("span", { class: `badge ${status}` }, LABELS[status])),
      h("p", { class: "job-detail" }, detail),
      !FINISHED.has(status) &&
        h("progress", {
          max: "1",
          value: String(status === "running" ? job.progress || 0 : 0),
          "aria-label": `${name} progress`,
        }),
      actions.length > 0 && h("div", { class: "actions" }, actions),
    ),
  );
}
