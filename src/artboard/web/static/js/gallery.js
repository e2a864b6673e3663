// The gallery: folders (nested), a paged grid, the full-size viewer with lineage and a before/after slider
// for a drawing against its source, and the trash.

import { allPages, api } from "./api.js";
import { attempt, field, formatDate, formatMoney, h, modal, originalUrl, replace, squareUrl, toast } from "./dom.js";

const PER_PAGE = 24;
let folders = [];

async function loadFolders() {
  folders = await allPages("/api/folders");
  return folders;
}

function childrenOf(parentId) {
  return folders.filter((f) => (f.parent_id || null) === parentId).sort((a, b) => a.name.localeCompare(b.name));
}

function pathOf(folderId) {
  const names = [];
  let folder = folders.find((f) => f.id === folderId);
  while (folder) {
    names.unshift(folder.name);
    folder = folders.find((f) => f.id === folder.parent_id);
  }
  return names.join(" / ");
}

/** Folder options for a <select>: indented by depth. `exclude` leaves out a folder and its subtree. */
function folderOptions(selectedId, { none = "No folder", exclude = null } = {}) {
  const options = [h("option", { value: "", selected: !selectedId }, none)];
  const walk = (parentId, depth) => {
    for (const folder of childrenOf(parentId)) {
      if (folder.id === exclude) continue;
      options.push(h("option", { value: folder.id, selected: folder.id === selectedId }, `${"\u00a0\u00a0".repeat(depth)}${folder.name}`));
      walk(folder.id, depth + 1);
    }
  };
  walk(null, 0);
  return options;
}

export async function renderGallery(main, [folderId = null, pageText = "1"] = []) {
  const current = folderId && folderId !== "all" ? folderId : null;
  const unfiled = folderId === "unfiled";
  const page = Math.max(1, Number.parseInt(pageText, 10) || 1);
  try {
    await loadFolders();
  } catch (error) {
    replace(main, h("p", { class: "error", role: "alert" }, error.message));
    return;
  }
  const query = unfiled ? "&folder_id=" : current ? `&folder_id=${encodeURIComponent(current)}` : "";
  let images;
  try {
    images = await api(`/api/images?page=${page}&per_page=${PER_PAGE}${query}`);
  } catch (error) {
    replace(main, h("p", { class: "error", role: "alert" }, error.message));
    return;
  }
  const rerender = () => renderGallery(main, [folderId, String(page)]);
  const folder = current && !unfiled ? folders.find((f) => f.id === current) : null;
  const title = unfiled ? "Not in a folder" : folder ? pathOf(folder.id) : "All images";

  const grid = h("ul", { class: "grid", "aria-label": title });
  for (const image of images.items) grid.append(tile(image, rerender));
  if (!images.items.length) grid.append(h("li", { class: "muted empty" }, "No pictures here yet."));

  const base = `#/gallery/${folderId || "all"}`;
  const pager =
    images.total_pages > 1
      ? h(
          "nav",
          { class: "pager", "aria-label": "Pages" },
          page > 1 ? h("a", { href: `${base}/${page - 1}`, class: "button" }, "Previous") : h("span"),
          h("span", {}, `Page ${page} of ${images.total_pages}`),
          page < images.total_pages ? h("a", { href: `${base}/${page + 1}`, class: "button" }, "Next") : h("span"),
        )
      : null;

  const toolbar = h(
    "div",
    { class: "toolbar" },
    h("h1", { id: "gallery-title" }, title),
    h("span", { class: "muted" }, `${images.total} picture${images.total === 1 ? "" : "s"}`),
    h("button", { type: "button", onclick: () => folderDialog(null, current, rerender) }, current ? "New subfolder" : "New folder"),
    folder && h("button", { type: "button", class: "ghost", onclick: () => folderDialog(folder, folder.parent_id, rerender) }, "Rename or move folder"),
    folder &&
      h(
        "button",
        {
          type: "button",
          class: "ghost danger",
          onclick: async () => {
            if (await confirmDialog(`Move “${folder.name}” and everything in it to the trash?`, "Move to trash")) {
              const done = await attempt(() => api(`/api/folders/${folder.id}`, { method: "DELETE" }));
              if (done !== undefined) {
                toast(`“${folder.name}” moved to the trash.`);
                location.hash = "#/gallery";
              }
            }
          },
        },
        "Delete folder",
      ),
  );

  replace(
    main,
    h(
      "div",
      { class: "gallery" },
      h("aside", { class: "folders panel", "aria-label": "Folders" }, folderTree(folderId || "all", rerender)),
      h("section", { class: "panel", "aria-labelledby": "gallery-title" }, toolbar, grid, pager),
    ),
  );
}

function folderTree(active, rerender) {
  const link = (id, name, droppable) => {
    const a = h("a", { href: `#/gallery/${id}`, class: "folder-link", dataset: { folderId: id } }, name);
    if (id === active) a.setAttribute("aria-current", "page");
    if (droppable) {
      a.addEventListener("dragover", (event) => {
        event.preventDefault();
        a.classList.add("over");
      });
      a.addEventListener("dragleave", () => a.classList.remove("over"));
      a.addEventListener("drop", async (event) => {
        event.preventDefault();
        a.classList.remove("over");
        const imageId = event.dataTransfer.getData("text/x-artboard-image");
        if (!imageId) return;
        const target = id === "unfiled" ? null : id;
        const moved = await attempt(() => api(`/api/images/${imageId}`, { method: "PATCH", body: { folder_id: target } }));
        if (moved) {
          toast(`Moved to ${target ? pathOf(target) : "no folder"}.`);
          rerender();
        }
      });
    }
    return a;
  };
  const walk = (parentId) => {
    const children = childrenOf(parentId);
    if (!children.length) return null;
    return h("ul", {}, children.map((folder) => h("li", {}, link(folder.id, folder.name, true), walk(folder.id))));
  };
  return h(
    "nav",
    { "aria-label": "Folders" },
    h("h2", {}, "Folders"),
    h("ul", {}, h("li", {}, link("all", "All images", false)), h("li", {}, link("unfiled", "Not in a folder", true))),
    walk(null),
  );
}

function tile(image, rerender) {
  const menu = h(
    "details",
    { class: "menu" },
    h("summary", { "aria-label": `Actions for ${image.title}` }, "⋯"),
    h(
      "div",
      { class: "menu-items" },
      h("button", { type: "button", onclick: () => openImage(image.id, rerender) }, "Open"),
      h("button", { type: "button", onclick: () => moveDialog(image, rerender) }, "Move to folder…"),
      h("a", { href: originalUrl(image.id), download: image.title || "image", class: "button" }, "Download original"),
      h("button", { type: "button", class: "danger", onclick: () => trashImage(image, rerender) }, "Delete"),
    ),
  );
  const item = h(
    "li",
    { class: "tile", draggable: "true", dataset: { imageId: image.id, source: image.lineage?.source_image_id || "" } },
    h(
      "button",
      { type: "button", class: "picture", onclick: () => openImage(image.id, rerender), "aria-label": `Open ${image.title}` },
      h("img", { src: squareUrl(image.id), alt: "", loading: "lazy", width: "512", height: "512" }),
    ),
    h("div", { class: "tile-foot" }, h("span", { class: "tile-title" }, image.title), menu),
  );
  item.addEventListener("dragstart", (event) => {
    event.dataTransfer.setData("text/x-artboard-image", image.id);
    event.dataTransfer.effectAllowed = "move";
  });
  return item;
}

async function trashImage(image, after) {
  const done = await attempt(() => api(`/api/images/${image.id}`, { method: "DELETE" }));
  if (done === undefined) return false;
  toast(`“${image.title}” moved to the trash.`);
  after?.();
  return true;
}

function moveDialog(image, after) {
  const select = h("select", { id: "move-target" }, folderOptions(image.folder_id));
  const error = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, "Move");
  const form = h("form", { method: "dialog" }, field("Folder", select), error, h("div", { class: "actions" }, submit));
  const dialog = modal(`Move “${image.title}”`, form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const target = select.value || null;
    const moved = await attempt(() => api(`/api/images/${image.id}`, { method: "PATCH", body: { folder_id: target } }), { where: error, busy: submit });
    if (moved) {
      dialog.close();
      toast(`Moved to ${target ? pathOf(target) : "no folder"}.`);
      after?.();
    }
  });
  select.focus();
}

function folderDialog(folder, parentId, after) {
  const name = h("input", { type: "text", required: true, maxlength: "200", value: folder?.name || "", id: "folder-name" });
  const parent = h("select", { id: "folder-parent" }, folderOptions(parentId, { none: "Top level", exclude: folder?.id }));
  const error = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, folder ? "Save" : "Create folder");
  const form = h("form", { method: "dialog" }, field("Name", name), field("Inside", parent), error, h("div", { class: "actions" }, submit));
  const dialog = modal(folder ? `Rename “${folder.name}”` : "New folder", form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!name.value.trim()) {
      replace(error, "Give the folder a name.");
      return;
    }
    const body = { name: name.value.trim(), parent_id: parent.value || null };
    const saved = await attempt(
      () => (folder ? api(`/api/folders/${folder.id}`, { method: "PATCH", body }) : api("/api/folders", { method: "POST", body })),
      { where: error, busy: submit },
    );
    if (saved) {
      dialog.close();
      toast(folder ? "Folder saved." : `Folder “${saved.name}” created.`);
      after?.();
    }
  });
  name.focus();
}

function confirmDialog(question, action) {
  return new Promise((resolve) => {
    let answer = false;
    const yes = h("button", { type: "button", class: "primary danger", onclick: () => { answer = true; dialog.close(); } }, action);
    const no = h("button", { type: "button", onclick: () => dialog.close() }, "Cancel");
    const dialog = modal("Are you sure?", h("div", {}, h("p", {}, question), h("div", { class: "actions" }, no, yes)), {
      onclose: () => resolve(answer),
    });
    no.focus();
  });
}

/** The full-size view of one image: picture, before/after against its source, lineage, actions. */
export async function openImage(imageId, after = null) {
  let image;
  try {
    image = await api(`/api/images/${imageId}`);
    if (!folders.length) await loadFolders().catch(() => []);
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  const lineage = image.lineage;
  const sourceId = lineage?.source_image_id;
  const picture = h("img", { class: "full", src: originalUrl(image.id), alt: image.title, width: String(image.width), height: String(image.height) });
  let stage = picture;
  if (sourceId) stage = compare(image, sourceId);
  const facts = h("dl", { class: "lineage" });
  const fact = (term, ...value) => facts.append(h("dt", {}, term), h("dd", {}, ...value));
  fact("Size", `${image.width} × ${image.height}, ${(image.size / 1024).toFixed(0)} KB`);
  fact("Added", formatDate(image.created));
  fact("Folder", image.folder_id ? pathOf(image.folder_id) || "a folder" : "none");
  if (lineage) {
    if (sourceId) {
      fact(
        "Source",
        h("button", { type: "button", class: "link", id: "open-source", dataset: { imageId: sourceId }, onclick: () => { dialog.close(); openImage(sourceId, after); } }, "Open the source picture"),
      );
    }
    fact("Model", lineage.model);
    fact("Engine", lineage.engine);
    const parameters = Object.entries(lineage.parameters || {});
    fact("Parameters", parameters.length ? h("ul", { class: "plain" }, parameters.map(([k, v]) => h("li", {}, `${k}: ${JSON.stringify(v)}`))) : "none");
    fact("Cost", formatMoney(lineage.cost));
    if (lineage.job_id) fact("Job", h("code", {}, lineage.job_id));
  }
  const actions = h(
    "div",
    { class: "actions" },
    h("a", { class: "button", href: originalUrl(image.id), download: image.title || "image" }, "Download original"),
    h("button", { type: "button", onclick: () => { dialog.close(); moveDialog(image, after); } }, "Move to folder…"),
    h("button", { type: "button", class: "danger", onclick: async () => { if (await trashImage(image, after)) dialog.close(); } }, "Delete"),
  );
  const dialog = modal(image.title, h("div", { class: "viewer" }, h("div", { class: "stage" }, stage), h("div", { class: "side" }, facts, actions)), { wide: true });
  dialog.dataset.imageId = image.id;
}

/** A before/after slider: the source underneath, the drawing on top, clipped at the slider's value. */
function compare(image, sourceId) {
  const after = h("img", { class: "after", src: originalUrl(image.id), alt: image.title });
  const before = h("img", { class: "before", src: originalUrl(sourceId), alt: "The source picture" });
  const slider = h("input", { type: "range", min: "0", max: "100", value: "50", "aria-label": "Compare with the source: slide to reveal it", id: "compare-slider" });
  const box = h("div", { class: "compare" }, before, after, h("div", { class: "divider" }));
  const update = () => box.style.setProperty("--split", `${slider.value}%`);
  slider.addEventListener("input", update);
  update();
  return h("div", {}, box, h("div", { class: "compare-labels" }, h("span", {}, "Drawing"), slider, h("span", {}, "Source")));
}

export async function renderTrash(main) {
  let trash;
  try {
    trash = await api("/api/trash");
  } catch (error) {
    replace(main, h("p", { class: "error", role: "alert" }, error.message));
    return;
  }
  const list = h("ul", { class: "trash", "aria-label": "Trash" });
  for (const item of trash.items) {
    list.append(
      h(
        "li",
        { class: "trash-item", dataset: { itemId: item.id, type: item.type } },
        item.type === "image" ? h("img", { src: `/api/images/${item.id}/file?variant=thumb`, alt: "", width: "64", height: "64" }) : h("span", { class: "folder-icon", "aria-hidden": "true" }, "▤"),
        h("div", {}, h("strong", {}, item.name), h("small", { class: "muted" }, `${item.type === "folder" ? "Folder" : "Picture"} deleted ${formatDate(item.deleted_at)}; gone for good after ${formatDate(item.purge_after)}`)),
        h(
          "button",
          {
            type: "button",
            "aria-label": `Restore ${item.name}`,
            onclick: async (event) => {
              const done = await attempt(() => api(`/api/trash/${item.id}/restore`, { method: "POST" }), { busy: event.currentTarget });
              if (done !== undefined) {
                toast(`“${item.name}” restored.`);
                renderTrash(main);
              }
            },
          },
          "Restore",
        ),
      ),
    );
  }
  if (!trash.items.length) list.append(h("li", { class: "muted empty" }, "The trash is empty."));
  replace(
    main,
    h("section", { class: "panel narrow", "aria-labelledby": "trash-title" }, h("h1", { id: "trash-title" }, "Trash"), h("p", { class: "muted" }, "Deleted pictures and folders wait here before they are removed for good."), list),
  );
}
