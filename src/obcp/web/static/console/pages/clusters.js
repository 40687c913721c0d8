// The clusters: each one's status, its zones and servers with their status, and its last operation.
import { api } from "../api.js";
import { h, put, healthBadge, stateBadge, took } from "../dom.js";
import { view } from "../router.js";

// The cluster's newest task and the outage obcp measured while it ran (`lastOperation` of the cluster).
function lastOperationCell(op) {
  if (!op) return h("span", { class: "muted" }, "—");
  const figure = op.availability;
  return h(
    "span",
    {},
    h("a", { href: `#/tasks/${op.taskId}` }, `#${op.taskId} ${op.name}`),
    " ",
    stateBadge(op.status),
    op.finishTime ? h("span", { class: "muted" }, " · took " + took(op.startTime, op.finishTime)) : null,
    figure
      ? h(
          "div",
          { class: "outage", title: "longest interval in which no observer of the cluster answered SQL" },
          `outage: ${figure.longestOutageSeconds.toFixed(1)} s`,
        )
      : null,
  );
}

function zoneSummary(zone) {
  return h(
    "div",
    { class: "zone-line" },
    h("strong", {}, zone.name),
    " ",
    healthBadge(zone.status),
    " ",
    ...(zone.servers || []).map((s) =>
      h("span", { class: "server-line" }, ` ${s.ip}:${s.sqlPort} `, healthBadge(s.status)),
    ),
  );
}

function clusterRow(c) {
  return h(
    "tr",
    { "data-cluster": c.name },
    h("td", {}, h("a", { href: `#/clusters/${c.id}` }, c.name)),
    h("td", {}, healthBadge(c.status)),
    h("td", { class: "hide-narrow" }, c.obVersion || "—"),
    h("td", {}, h("div", { class: "zones" }, (c.zones || []).map(zoneSummary))),
    h("td", { class: "last-op" }, lastOperationCell(c.lastOperation)),
  );
}

function clusterTable(clusters) {
  const head = h(
    "tr",
    {},
    h("th", {}, "Cluster"),
    h("th", {}, "Status"),
    h("th", { class: "hide-narrow" }, "Version"),
    h("th", {}, "Zones and servers"),
    h("th", {}, "Last operation"),
  );
  return h(
    "div",
    { class: "table-wrap card" },
    h("table", { id: "clusters" }, h("thead", {}, head), h("tbody", {}, clusters.map(clusterRow))),
  );
}

export async function clustersPage() {
  const data = await api("GET", "/api/v2/ob/clusters?size=100");
  const clusters = data.contents || [];
  const total = data.page ? data.page.totalElements : clusters.length;
  put(
    view,
    h("div", { class: "head" }, h("h1", {}, "Clusters"), h("span", { class: "muted" }, `${total} in all`)),
    clusters.length
      ? clusterTable(clusters)
      : h(
          "p",
          { class: "card muted" },
          "No cluster yet. Register hosts and take over a cluster through the API or the CLI.",
        ),
  );
}
