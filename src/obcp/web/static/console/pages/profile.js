// Personal settings: one's access keys (OCP 4.x AK/SK). A new key's secret is shown this once, with a
// copy button and a CSV download as OCP's console offers; the keys can be disabled, enabled and deleted.
import { api } from "../api.js";
import { h, put, showError, stateBadge, when } from "../dom.js";
import { view } from "../router.js";

const MINE = "/api/v2/profiles/me/accessKeys";
const MAX_KEYS = 5;

function csv(key) {
  const cell = (v) => '"' + String(v).replace(/"/g, '""') + '"';
  return "AccessKeyId,AccessKeySecret\n" + cell(key.accessKeyId) + "," + cell(key.accessKeySecret) + "\n";
}

function download(key) {
  const url = URL.createObjectURL(new Blob([csv(key)], { type: "text/csv" }));
  const a = h("a", { href: url, download: `AccessKey-${key.accessKeyId}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// The secret lives only in this panel: it is dropped when the panel is closed or the page redrawn.
function newKeyPanel(key, onClose) {
  const note = h("span", { id: "copy-note", class: "muted", "aria-live": "polite" });
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(`${key.accessKeyId}\n${key.accessKeySecret}`);
      note.textContent = "copied";
    } catch (e) {
      note.textContent = "cannot copy here: select the text instead (" + e.message + ")";
    }
  };
  return h(
    "div",
    { id: "new-key", class: "card", role: "status" },
    h("h3", {}, "New access key"),
    h("p", { class: "error" }, "The secret is shown this once: copy it or download it now."),
    h(
      "dl",
      { class: "kv" },
      h("dt", {}, "AccessKeyId"),
      h("dd", { id: "new-key-id" }, key.accessKeyId),
      h("dt", {}, "AccessKeySecret"),
      h("dd", { id: "new-key-secret" }, key.accessKeySecret),
    ),
    h(
      "div",
      { class: "actions" },
      h("button", { id: "copy-key", type: "button", onclick: copy }, "Copy"),
      h("button", { id: "download-key", type: "button", onclick: () => download(key) }, "Download CSV"),
      h("button", { id: "close-key", type: "button", onclick: onClose }, "Done"),
      note,
    ),
  );
}

function keyRow(k, act) {
  const toggle =
    k.status === "ACTIVE"
      ? h("button", { class: "small", "data-act": "disable", onclick: () => act(k, "disable") }, "Disable")
      : h("button", { class: "small", "data-act": "enable", onclick: () => act(k, "enable") }, "Enable");
  return h(
    "tr",
    { "data-key": k.accessKeyId },
    h("td", {}, h("code", {}, k.accessKeyId)),
    h("td", {}, k.description || "—"),
    h("td", {}, stateBadge(k.status)),
    h("td", { class: "hide-narrow" }, when(k.createTime)),
    h("td", { class: "hide-narrow" }, k.lastUsedTime ? when(k.lastUsedTime) : "never"),
    h(
      "td",
      {},
      h(
        "div",
        { class: "actions" },
        toggle,
        h(
          "button",
          { class: "small danger", "data-act": "delete", onclick: () => act(k, "delete") },
          "Delete",
        ),
      ),
    ),
  );
}

function keyTable(keys, act) {
  const head = h(
    "tr",
    {},
    ["AccessKeyId", "Description", "Status"].map((t) => h("th", {}, t)),
    h("th", { class: "hide-narrow" }, "Created"),
    h("th", { class: "hide-narrow" }, "Last used"),
    h("th", {}, ""),
  );
  return h(
    "div",
    { class: "table-wrap card" },
    h(
      "table",
      { id: "access-keys" },
      h("thead", {}, head),
      h(
        "tbody",
        {},
        keys.map((k) => keyRow(k, act)),
      ),
    ),
  );
}

export async function profilePage() {
  const message = h("div", { id: "keys-message" });
  const panel = h("div", {});
  const listing = h("div", {});
  const description = h("input", { id: "key-description", maxlength: "255", placeholder: "what it is for" });
  const create = h("button", { id: "create-key", type: "button", class: "primary" }, "Create access key");

  async function draw() {
    const keys = (await api("GET", MINE)).contents || [];
    create.disabled = keys.length >= MAX_KEYS;
    create.title = create.disabled ? `at most ${MAX_KEYS} access keys: delete one first` : "";
    put(listing, keys.length ? keyTable(keys, act) : h("p", { class: "card muted" }, "No access key yet."));
  }

  async function act(key, action) {
    put(message);
    if (
      action === "delete" &&
      !confirm(`Delete the access key ${key.accessKeyId}? Clients using it stop working.`)
    )
      return;
    try {
      if (action === "delete") await api("DELETE", `${MINE}/${key.accessKeyId}`);
      else await api("POST", `${MINE}/${key.accessKeyId}/${action}`);
      await draw();
    } catch (e) {
      showError(message, e);
    }
  }

  create.addEventListener("click", async () => {
    put(message);
    try {
      const body = description.value ? { description: description.value } : {};
      const key = await api("POST", MINE, body);
      description.value = "";
      put(
        panel,
        newKeyPanel(key, () => put(panel)),
      );
      await draw();
    } catch (e) {
      showError(message, e);
    }
  });

  put(
    view,
    h("div", { class: "head" }, h("h1", {}, "Personal settings")),
    h("h2", {}, "Access keys"),
    h(
      "p",
      { class: "muted" },
      `OCP 4.x clients sign their requests with an access key instead of a password (at most ${MAX_KEYS} a user). `,
      "A key acts as you, with your permissions.",
    ),
    h("div", { class: "filters" }, h("label", {}, "Description", description), create),
    message,
    panel,
    listing,
  );
  await draw();
}
