// One cluster: restart / start / stop for the cluster, each zone and each server (for a user who may update
// the cluster), the parameters still pending restart with a restart of exactly their servers, and its
// recent tasks.
import { api } from "../api.js";
import { h, put, showError, healthBadge, when } from "../dom.js";
import { view } from "../router.js";
import { can } from "../user.js";
import { confirmOperation } from "./operation-dialog.js";
import { taskTable } from "./tasks.js";

const OPERATIONS = ["restart", "start", "stop"];

function cap(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// The buttons of one target (the cluster, a zone, a server); `path` is its API address.
function operationButtons(label, path, target, zones) {
  return h(
    "div",
    { class: "actions" },
    OPERATIONS.map((op) =>
      h(
        "button",
        {
          type: "button",
          class: "small",
          "data-action": `${op}`,
          "data-target": target,
          onclick: () =>
            confirmOperation({
              title: `${cap(op)} ${label}?`,
              path: `${path}/${op}`,
              op,
              restart: op === "restart",
              zones,
            }),
        },
        cap(op),
      ),
    ),
  );
}

function serverRow(s, base, manage) {
  return h(
    "tr",
    { "data-server": s.id },
    h("td", {}, `${s.ip}:${s.sqlPort}`),
    h("td", {}, healthBadge(s.status)),
    h("td", { class: "hide-narrow" }, s.observerName || "—"),
    manage
      ? h(
          "td",
          {},
          operationButtons(`server ${s.ip}:${s.sqlPort}`, `${base}/servers/${s.id}`, `server:${s.id}`),
        )
      : null,
  );
}

function zoneCard(z, base, manage) {
  const head = h(
    "tr",
    {},
    h("th", {}, "Server"),
    h("th", {}, "Status"),
    h("th", { class: "hide-narrow" }, "Observer"),
    manage ? h("th", {}, "Operations") : null,
  );
  return h(
    "div",
    { class: "card zone", "data-zone": z.name },
    h(
      "div",
      { class: "head" },
      h("h3", {}, `Zone ${z.name}`),
      healthBadge(z.status),
      h("span", { class: "muted" }, [z.regionName, z.idcName].filter(Boolean).join(" / ")),
      manage
        ? operationButtons(`zone ${z.name}`, `${base}/zones/${encodeURIComponent(z.name)}`, `zone:${z.name}`)
        : null,
    ),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        {},
        h("thead", {}, head),
        h(
          "tbody",
          {},
          (z.servers || []).map((s) => serverRow(s, base, manage)),
        ),
      ),
    ),
  );
}

// The static parameters changed since some server's last start, and a restart of exactly those servers:
// one server's own restart, or the cluster's over the zones that hold them.
function pendingCard(c, base, manage, target) {
  api("GET", `${base}/parameters?pendingRestart=true&size=2000`)
    .then((d) => {
      const list = d.contents || [];
      if (!list.length) {
        put(target);
        return;
      }
      const servers = new Map();
      for (const p of list) for (const s of p.pendingServers || []) servers.set(s.serverId, s);
      const zones = [...new Set([...servers.values()].map((s) => s.zone))];
      const apply = () => {
        const note = `Applies ${list.map((p) => p.name).join(", ")}.`;
        if (servers.size === 1) {
          const [s] = servers.values();
          confirmOperation({
            title: `Restart server ${s.svrIp}:${s.sqlPort}?`,
            path: `${base}/servers/${s.serverId}/restart`,
            op: "restart",
            restart: false,
            note,
          });
          return;
        }
        confirmOperation({
          title: `Restart ${servers.size} servers of cluster ${c.name}?`,
          path: `${base}/restart`,
          op: "restart",
          restart: true,
          zones: (c.zones || []).map((z) => z.name),
          checkedZones: zones,
          note,
        });
      };
      put(
        target,
        h(
          "div",
          { class: "card", id: "pending-parameters" },
          h(
            "div",
            { class: "head" },
            h("h3", {}, "Parameters pending restart"),
            manage
              ? h(
                  "button",
                  { type: "button", class: "small", "data-action": "restart-to-apply", onclick: apply },
                  "Restart to apply",
                )
              : null,
          ),
          h(
            "ul",
            {},
            list.map((p) =>
              h(
                "li",
                { "data-parameter": p.name },
                `${p.name} = ${p.pendingValue} on restart of `,
                (p.pendingServers || []).map((s) => `${s.zone} ${s.svrIp}:${s.sqlPort}`).join(", "),
              ),
            ),
          ),
        ),
      );
    })
    .catch((e) => showError(target, e));
}

function recentTasks(id, target) {
  if (!can("TASK:*:READ")) {
    put(target, h("p", { class: "muted" }, "You may not read tasks."));
    return;
  }
  api("GET", `/api/v2/tasks/instances?clusterId=${id}&size=5`)
    .then((d) => {
      const list = d.contents || [];
      put(target, list.length ? taskTable(list) : h("p", { class: "muted" }, "No task yet."));
    })
    .catch((e) => showError(target, e));
}

export async function clusterPage(id) {
  const c = await api("GET", `/api/v2/ob/clusters/${id}`);
  const manage = can(`CLUSTER:${id}:UPDATE`);
  const base = `/api/v2/ob/clusters/${id}`;
  const zoneNames = (c.zones || []).map((z) => z.name);
  const recent = h("div", {}, h("p", { class: "muted" }, "…"));
  const pending = h("div", { id: "pending-slot" });
  put(
    view,
    h("p", {}, h("a", { href: "#/clusters" }, "← Clusters")),
    h(
      "div",
      { class: "head" },
      h("h1", {}, `Cluster ${c.name}`),
      healthBadge(c.status),
      manage ? operationButtons(`cluster ${c.name}`, base, "cluster", zoneNames) : null,
    ),
    h(
      "dl",
      { class: "kv card" },
      h("dt", {}, "Version"),
      h("dd", {}, c.obVersion || "—"),
      h("dt", {}, "OceanBase cluster id"),
      h("dd", {}, String(c.obClusterId)),
      h("dt", {}, "Servers"),
      h("dd", {}, String(c.serverCount)),
      h("dt", {}, "Created"),
      h("dd", {}, when(c.createTime)),
    ),
    pending,
    h("h2", {}, "Zones"),
    ...(c.zones || []).map((z) => zoneCard(z, base, manage)),
    h("h2", {}, "Recent tasks"),
    recent,
  );
  recentTasks(id, recent);
  if ((c.parametersPendingRestart || []).length) pendingCard(c, base, manage, pending);
}
