// The Create view: upload (drop, pick or paste) through presigned URLs, pick a source, make a sketch or run
// a catalog model with a form built from its parameter schema, and watch the job cards.

import { api, uploadFile } from "./api.js";
import { attempt, field, h, modal, replace, thumbUrl, toast } from "./dom.js";
import { openImage } from "./gallery.js";
import { mountJobCards } from "./jobs.js";
import { catalog, state } from "./state.js";

let pasteHandler = null;

export async function renderCreate(main) {
  const [styles, models] = await Promise.all([api("/api/sketch/styles/available").catch(() => null), catalog()]);
  const sources = h("div", { class: "sources", role: "radiogroup", "aria-labelledby": "source-title" });
  const uploads = h("ul", { class: "uploads", "aria-label": "Uploads" });
  const cards = h("div", { class: "cards", id: "job-cards" });
  let selected = null;

  function addSource(image, select = false) {
    const id = `src-${image.id}`;
    document.getElementById(`item-${id}`)?.remove();
    sources.querySelector(".empty")?.remove();
    const input = h("input", { type: "radio", name: "source", value: image.id, id, class: "visually-hidden" });
    input.addEventListener("change", () => {
      selected = image.id;
    });
    const label = h(
      "label",
      { for: id, class: "source", title: image.title },
      h("img", { src: thumbUrl(image.id), alt: image.title || "Uploaded picture", width: "96", height: "96" }),
    );
    sources.prepend(h("div", { class: "source-item", id: `item-${id}` }, input, label));
    if (select || !selected) {
      input.checked = true;
      selected = image.id;
    }
  }

  // ---- upload ---------------------------------------------------------------------------------------
  const picker = h("input", { type: "file", accept: "image/*", multiple: true, id: "file-picker", class: "visually-hidden" });
  picker.addEventListener("change", () => {
    sendFiles([...picker.files]);
    picker.value = "";
  });
  const drop = h(
    "div",
    { class: "drop", id: "drop-zone" },
    h("p", {}, h("strong", {}, "Drop pictures here"), ", paste one, or "),
    h("label", { for: "file-picker", class: "button" }, "Choose files"),
    picker,
    h("small", { class: "muted" }, "JPEG, PNG, WebP or GIF."),
  );
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    sendFiles([...event.dataTransfer.files]);
  });
  if (pasteHandler) document.removeEventListener("paste", pasteHandler);
  pasteHandler = (event) => {
    if (!drop.isConnected) return;
    const files = [...(event.clipboardData?.files || [])];
    if (files.length) {
      event.preventDefault();
      sendFiles(files);
    }
  };
  document.addEventListener("paste", pasteHandler);

  function sendFiles(files) {
    for (const file of files) sendFile(file);
  }

  async function sendFile(file) {
    const bar = h("progress", { max: "1", value: "0", "aria-label": `Upload of ${file.name}` });
    const status = h("span", { class: "upload-status", role: "status" }, "Uploading…");
    const row = h("li", { class: "upload", dataset: { name: file.name } }, h("span", { class: "upload-name" }, file.name), bar, status);
    uploads.prepend(row);
    try {
      const image = await uploadFile(file, (fraction) => {
        bar.value = fraction;
      });
      row.classList.add("done");
      replace(status, "Uploaded");
      addSource(image, true);
    } catch (error) {
      row.classList.add("failed");
      bar.remove();
      status.setAttribute("role", "alert");
      replace(status, error.message);
    }
  }

  // ---- make -----------------------------------------------------------------------------------------
  const sketchPanel = renderSketchForm(styles, () => selected);
  const modelPanel = renderModelForm(models, () => selected);
  const tabs = tabbed([
    ["Sketch", sketchPanel],
    ["Model", modelPanel],
  ]);

  replace(
    main,
    h(
      "div",
      { class: "create" },
      h(
        "section",
        { class: "panel", "aria-labelledby": "upload-title" },
        h("h2", { id: "upload-title" }, "1. Upload"),
        drop,
        uploads,
        h("h2", { id: "source-title" }, "2. Pick a source"),
        sources,
        h("h2", {}, "3. Make something"),
        tabs,
      ),
      h("section", { class: "panel jobs-panel", "aria-labelledby": "jobs-title", tabindex: "0" }, h("h2", { id: "jobs-title" }, "Jobs"), cards),
    ),
  );

  mountJobCards(cards, openImage);
  try {
    const recent = await api("/api/images?per_page=12");
    for (const image of recent.items.slice().reverse()) addSource(image);
    if (!recent.items.length) sources.append(h("p", { class: "muted empty" }, "Upload a picture to start."));
  } catch (error) {
    toast(error.message, "error");
  }
}

function tabbed(panels) {
  const list = h("div", { role: "tablist", class: "tabs", "aria-label": "What to make" });
  const bodies = [];
  panels.forEach(([label, body], index) => {
    const tabId = `tab-${label.toLowerCase()}`;
    const panelId = `panel-${label.toLowerCase()}`;
    const tab = h("button", { type: "button", role: "tab", id: tabId, "aria-controls": panelId }, label);
    const panel = h("div", { role: "tabpanel", id: panelId, "aria-labelledby": tabId }, body);
    tab.addEventListener("click", () => pick(index));
    tab.addEventListener("keydown", (event) => {
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        const next = (index + (event.key === "ArrowRight" ? 1 : panels.length - 1)) % panels.length;
        pick(next);
        list.children[next].focus();
      }
    });
    list.append(tab);
    bodies.push(panel);
  });
  function pick(chosen) {
    [...list.children].forEach((tab, index) => {
      tab.setAttribute("aria-selected", String(index === chosen));
      tab.tabIndex = index === chosen ? 0 : -1;
      bodies[index].hidden = index !== chosen;
    });
  }
  pick(0);
  return h("div", {}, list, bodies);
}

function renderSketchForm(styles, source) {
  if (!styles) return h("p", { class: "muted" }, "Sketch styles are not available on this server.");
  const error = h("p", { class: "error", role: "alert" });
  const grid = h("fieldset", { class: "styles" }, h("legend", {}, "Style"));
  styles.styles.forEach((style, index) => {
    const id = `style-${style.name.toLowerCase()}`;
    grid.append(
      h(
        "div",
        { class: "style-item" },
        h("input", { type: "radio", name: "style", value: style.name.toLowerCase(), id, checked: index === 0, class: "visually-hidden" }),
        h(
          "label",
          { for: id, class: "style", title: style.description },
          h("span", { class: "preview" }, h("img", { src: new URL(style.preview_url, location.href).pathname, alt: "", loading: "lazy" })),
          h("span", {}, style.display_name),
        ),
      ),
    );
  });
  const method = h(
    "select",
    { name: "method", id: "sketch-method" },
    styles.methods.map((m) => h("option", { value: m.name, title: m.description }, m.display_name)),
  );
  const describe = h("small", { class: "muted", id: "method-help" }, styles.methods[0]?.description || "");
  method.setAttribute("aria-describedby", "method-help");
  method.addEventListener("change", () => replace(describe, styles.methods.find((m) => m.name === method.value)?.description || ""));
  const sheet = h(
    "button",
    {
      type: "button",
      class: "link",
      onclick: () =>
        modal(
          "Every style and method",
          h("img", { class: "sheet", src: new URL(styles.preview_url, location.href).pathname, alt: "One photo drawn in every style and method" }),
          { wide: true },
        ),
    },
    "See every style and method side by side",
  );
  const submit = h("button", { type: "submit", class: "primary" }, "Make sketch");
  const form = h(
    "form",
    { class: "make", id: "sketch-form" },
    grid,
    sheet,
    h("div", { class: "field" }, h("label", { for: "sketch-method" }, "Method"), method, describe),
    error,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const imageId = source();
    if (!imageId) {
      replace(error, "Upload or pick a source picture first.");
      return;
    }
    const style = new FormData(form).get("style");
    const created = await attempt(
      () => api("/api/sketch/create", { method: "POST", body: { image_id: imageId, style, method: method.value } }),
      { where: error, busy: submit },
    );
    if (created) track(created.task_id);
  });
  return form;
}

async function track(jobId) {
  try {
    state.feed?.apply(await api(`/api/jobs/${jobId}`));
  } catch {
    // the socket brings it anyway
  }
  reveal(jobId);
}

/** Bring a new job's card into view (on a phone the cards sit below the form). */
function reveal(jobId) {
  const card = document.querySelector(`article.job[data-job-id="${CSS.escape(jobId)}"]`);
  card?.scrollIntoView({ block: "nearest", behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
}

function renderModelForm(models, source) {
  const names = Object.keys(models);
  if (!names.length) return h("p", { class: "muted" }, "No models are set up on this server.");
  const error = h("p", { class: "error", role: "alert" });
  const select = h(
    "select",
    { id: "model-select", name: "model" },
    names.map((name) => h("option", { value: name }, `${models[name].display_name}${models[name].cost_per_image ? ` (${models[name].cost_per_image} per image)` : ""}`)),
  );
  const about = h("p", { class: "muted", id: "model-about" });
  const fields = h("div", { class: "params" });
  const remember = h("input", { type: "checkbox", id: "remember", checked: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Run");
  const form = h(
    "form",
    { class: "make", id: "model-form" },
    field("Model", select),
    about,
    fields,
    h("div", { class: "check" }, remember, h("label", { for: "remember" }, "Remember these settings for this model")),
    error,
    submit,
  );
  let inputs = {};

  async function load() {
    const name = select.value;
    const model = models[name];
    replace(about, model.description || "");
    let saved = {};
    try {
      const reply = await api("/api/custom/preferences/get", { method: "POST", body: { model_name: name } });
      saved = reply.preferences || {};
    } catch {
      // no saved preferences: the schema's defaults
    }
    if (select.value !== name) return; // another model was picked meanwhile: its own load fills the form
    inputs = {};
    replace(
      fields,
      Object.entries(model.parameters || {}).map(([name, schema]) => {
        const input = parameterInput(name, schema, saved[name] ?? schema.default);
        inputs[name] = [input, schema];
        return field(label(name, schema), input, schema.description);
      }),
    );
  }
  select.addEventListener("change", load);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const model = models[select.value];
    const parameters = {};
    for (const [name, [input, schema]] of Object.entries(inputs)) {
      const value = readInput(input, schema);
      if (value !== undefined) parameters[name] = value;
    }
    const body = { model: select.value, parameters };
    if (model.needs_source) {
      body.image_id = source();
      if (!body.image_id) {
        replace(error, "This model starts from a picture: upload or pick a source first.");
        return;
      }
    }
    const headers = state.vaultSession ? { "X-Session-ID": state.vaultSession } : {};
    const job = await attempt(
      async () => {
        const created = await api("/api/jobs", { method: "POST", body, headers });
        if (remember.checked) {
          await api("/api/custom/preferences/save", { method: "POST", body: { model_name: select.value, preferences: parameters } });
        }
        return created;
      },
      { where: error, busy: submit },
    );
    if (job) {
      state.feed?.apply(job);
      reveal(job.id);
    }
  });
  load();
  return form;
}

function label(name, schema) {
  const text = name.replaceAll("_", " ");
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}${schema.required ? " (required)" : ""}`;
}

/** An input for one parameter of a model's schema: {type, default, options, min, max, required}. */
function parameterInput(name, schema, value) {
  const id = `param-${name}`;
  if (schema.options) {
    return h("select", { id, name }, schema.options.map((option) => h("option", { value: String(option), selected: String(option) === String(value) }, String(option))));
  }
  if (schema.type === "boolean") return h("input", { id, name, type: "checkbox", checked: Boolean(value) });
  if (schema.type === "number" || schema.type === "integer") {
    return h("input", {
      id,
      name,
      type: "number",
      step: schema.type === "integer" ? "1" : "any",
      min: schema.min ?? null,
      max: schema.max ?? null,
      value: value ?? "",
      required: Boolean(schema.required),
    });
  }
  if (name.includes("prompt")) return h("textarea", { id, name, rows: "3", required: Boolean(schema.required) }, value ?? "");
  return h("input", { id, name, type: "text", value: value ?? "", required: Boolean(schema.required) });
}

function readInput(input, schema) {
  if (schema.type === "boolean") return input.checked;
  if (input.value === "") return undefined;
  if (schema.type === "number" || (schema.type === "integer" && schema.options)) return Number(input.value);
  if (schema.type === "integer") return Number.parseInt(input.value, 10);
  return input.value;
}
