// The tasks: filters (name, status, cluster) in the hash, 20 a page.
import { api } from "../api.js";
import { h, put, stateBadge, took, when } from "../dom.js";
import { view } from "../router.js";

const TASK_PAGE_SIZE = 20;

function taskRow(t) {
  return h(
    "tr",
    {
      class: "clickable",
      "data-task": t.id,
      onclick: () => {
        location.hash = `#/tasks/${t.id}`;
      },
    },
    h("td", {}, h("a", { href: `#/tasks/${t.id}` }, String(t.id))),
    h("td", {}, t.name),
    h("td", {}, stateBadge(t.status)),
    h("td", { class: "hide-narrow" }, t.cluster ? t.cluster.name : "—"),
    h("td", { class: "hide-narrow" }, t.creator ? t.creator.name : "—"),
    h("td", {}, when(t.startTime)),
    h("td", { class: "hide-narrow" }, took(t.startTime, t.finishTime)),
  );
}

// Also the cluster page's recent tasks.
export function taskTable(list) {
  const head = h(
    "tr",
    {},
    h("th", {}, "Id"),
    h("th", {}, "Task"),
    h("th", {}, "Status"),
    h("th", { class: "hide-narrow" }, "Cluster"),
    h("th", { class: "hide-narrow" }, "Creator"),
    h("th", {}, "Started"),
    h("th", { class: "hide-narrow" }, "Took"),
  );
  return h(
    "div",
    { class: "table-wrap card" },
    h("table", { class: "tasks" }, h("thead", {}, head), h("tbody", {}, list.map(taskRow))),
  );
}

function filterForm(params) {
  const name = h("input", { id: "f-name", value: params.get("name") || "", placeholder: "part of the name" });
  const cluster = h("input", {
    id: "f-cluster",
    value: params.get("clusterName") || "",
    placeholder: "cluster name",
  });
  const status = h(
    "select",
    { id: "f-status" },
    h("option", { value: "" }, "any"),
    ["RUNNING", "FAILED", "SUCCESSFUL"].map((s) =>
      h("option", { value: s, selected: params.get("status") === s }, s),
    ),
  );
  // The filters and the page live in the hash, so a filtered page can be linked and reloaded.
  const go = (p) => {
    const next = new URLSearchParams();
    if (name.value.trim()) next.set("name", name.value.trim());
    if (status.value) next.set("status", status.value);
    if (cluster.value.trim()) next.set("clusterName", cluster.value.trim());
    if (p > 1) next.set("page", String(p));
    const s = next.toString();
    location.hash = "#/tasks" + (s ? "?" + s : "");
  };
  const form = h(
    "form",
    {
      class: "filters",
      onsubmit: (e) => {
        e.preventDefault();
        go(1);
      },
    },
    h("label", {}, "Name", name),
    h("label", {}, "Status", status),
    h("label", {}, "Cluster", cluster),
    h("button", { type: "submit", class: "primary" }, "Filter"),
  );
  return { form, go };
}

// Also the audit page's.
export function pager(info, page, go) {
  return h(
    "div",
    { class: "pager" },
    h(
      "button",
      { type: "button", id: "prev", disabled: page <= 1, onclick: () => go(page - 1) },
      "← Previous",
    ),
    h("span", { id: "page-info" }, `page ${info.number} of ${Math.max(1, info.totalPages)}`),
    h(
      "button",
      { type: "button", id: "next", disabled: page >= info.totalPages, onclick: () => go(page + 1) },
      "Next →",
    ),
  );
}

export async function tasksPage(params) {
  const page = Math.max(1, Number(params.get("page") || 1));
  const q = new URLSearchParams({ page: String(page), size: String(TASK_PAGE_SIZE) });
  for (const key of ["name", "status", "clusterName"]) if (params.get(key)) q.set(key, params.get(key));
  const data = await api("GET", `/api/v2/tasks/instances?${q}`);
  const { form, go } = filterForm(params);
  const info = data.page || { number: page, totalPages: 1, totalElements: (data.contents || []).length };
  put(
    view,
    h(
      "div",
      { class: "head" },
      h("h1", {}, "Tasks"),
      h("span", { class: "muted" }, `${info.totalElements} in all`),
    ),
    form,
    (data.contents || []).length
      ? taskTable(data.contents)
      : h("p", { class: "card muted" }, "No task matches."),
    pager(info, page, go),
  );
}
