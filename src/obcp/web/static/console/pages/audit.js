// The audit trail: who changed what, from where, with which result (GET /api/v2/audit/events, newest
// first, 20 a page). The filters and the page live in the hash, so a filtered view can be linked.
import { api } from "../api.js";
import { h, put, when } from "../dom.js";
import { view } from "../router.js";
import { pager } from "./tasks.js";

const AUDIT_PAGE_SIZE = 20;
// The hash's filters and the API's query parameters of the same name.
const TEXT_FILTERS = [
  ["userName", "User", "user name"],
  ["action", "Action", "e.g. CLUSTER_RESTART"],
  ["resourceType", "Resource type", "e.g. OB_CLUSTER"],
  ["resourceId", "Resource id", "id"],
];

function resultBadge(e) {
  const failed = e.result !== "SUCCESS";
  const text = failed ? `FAILED${e.errorCode ? " " + e.errorCode : ""}` : "SUCCESS";
  return h("span", { class: "state " + (failed ? "FAILED" : "SUCCESSFUL"), "data-result": e.result }, text);
}

function who(e) {
  const name = e.userName || "—";
  return e.accessKeyId ? `${name} (key ${e.accessKeyId})` : name;
}

function eventRow(e) {
  const summary = h(
    "details",
    { class: "list" },
    h("summary", {}, e.summary && e.summary.path ? e.summary.path : "request"),
    h("pre", {}, JSON.stringify(e.summary || {}, null, 2)),
  );
  return h(
    "tr",
    { "data-event": e.id, "data-action": e.action },
    h("td", {}, when(e.createTime)),
    h("td", {}, who(e)),
    h("td", { class: "hide-narrow" }, e.clientIpAddress || "—"),
    h("td", {}, e.action),
    h("td", {}, `${e.resourceType}${e.resourceId ? " " + e.resourceId : ""}`),
    h("td", {}, resultBadge(e)),
    h("td", { class: "hide-narrow" }, h("code", {}, e.traceId)),
    h("td", { class: "hide-narrow" }, summary),
  );
}

function eventTable(list) {
  const heads = ["Time", "User", "From", "Action", "Resource", "Result", "Trace id", "Request"];
  const narrow = new Set(["From", "Trace id", "Request"]);
  const head = h(
    "tr",
    {},
    heads.map((t) => h("th", narrow.has(t) ? { class: "hide-narrow" } : {}, t)),
  );
  return h(
    "div",
    { class: "table-wrap card" },
    h("table", { id: "audit-events" }, h("thead", {}, head), h("tbody", {}, list.map(eventRow))),
  );
}

// A datetime-local value (the browser's zone) as the ISO time the API takes, or "".
function isoOf(local) {
  const d = new Date(local);
  return local && !isNaN(d) ? d.toISOString() : "";
}

function localOf(iso) {
  const d = new Date(iso);
  if (!iso || isNaN(d)) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function filterForm(params) {
  const inputs = TEXT_FILTERS.map(([key, , hint]) =>
    h("input", { id: "a-" + key, value: params.get(key) || "", placeholder: hint }),
  );
  const result = h(
    "select",
    { id: "a-result" },
    h("option", { value: "" }, "any"),
    ["SUCCESS", "FAILED"].map((r) => h("option", { value: r, selected: params.get("result") === r }, r)),
  );
  const start = h("input", {
    id: "a-start",
    type: "datetime-local",
    value: localOf(params.get("startTime")),
  });
  const end = h("input", { id: "a-end", type: "datetime-local", value: localOf(params.get("endTime")) });
  const go = (p) => {
    const next = new URLSearchParams();
    TEXT_FILTERS.forEach(([key], i) => {
      if (inputs[i].value.trim()) next.set(key, inputs[i].value.trim());
    });
    if (result.value) next.set("result", result.value);
    if (isoOf(start.value)) next.set("startTime", isoOf(start.value));
    if (isoOf(end.value)) next.set("endTime", isoOf(end.value));
    if (p > 1) next.set("page", String(p));
    const s = next.toString();
    location.hash = "#/audit" + (s ? "?" + s : "");
  };
  const form = h(
    "form",
    {
      class: "filters",
      id: "audit-filters",
      onsubmit: (e) => {
        e.preventDefault();
        go(1);
      },
    },
    TEXT_FILTERS.map(([, label], i) => h("label", {}, label, inputs[i])),
    h("label", {}, "Result", result),
    h("label", {}, "From", start),
    h("label", {}, "To", end),
    h("button", { type: "submit", class: "primary" }, "Filter"),
  );
  return { form, go };
}

export async function auditPage(params) {
  const page = Math.max(1, Number(params.get("page") || 1));
  const q = new URLSearchParams({ page: String(page), size: String(AUDIT_PAGE_SIZE) });
  for (const key of [...TEXT_FILTERS.map(([k]) => k), "result", "startTime", "endTime"]) {
    if (params.get(key)) q.set(key, params.get(key));
  }
  const data = await api("GET", `/api/v2/audit/events?${q}`);
  const { form, go } = filterForm(params);
  const info = data.page;
  put(
    view,
    h(
      "div",
      { class: "head" },
      h("h1", {}, "Audit trail"),
      h("span", { class: "muted", id: "audit-total" }, `${info.totalElements} events`),
    ),
    form,
    data.contents.length ? eventTable(data.contents) : h("p", { class: "card muted" }, "No event matches."),
    pager(info, page, go),
  );
}
