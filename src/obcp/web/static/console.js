"use strict";
// obcp web console: clusters, tasks and the live task DAG. Plain DOM (no framework, no build step); pages are
// routes of the location hash. Every call goes to the same /api/v2 routes as any client, with the session
// cookie, and state-changing calls repeat the CSRF token from the obcp_csrf cookie in X-CSRF-Token.
(function () {
  const view = document.getElementById("view");
  const STATES = ["PENDING", "READY", "RUNNING", "CANCELING", "FAILED", "SUCCESSFUL"];
  const MARK = { PENDING: "·", READY: "○", RUNNING: "▶", CANCELING: "■", FAILED: "✗", SUCCESSFUL: "✓" };
  const FILL = {
    PENDING: "#eceff1", READY: "#e8f0fe", RUNNING: "#f6c26b", CANCELING: "#d7a8e6",
    FAILED: "#c5221f", SUCCESSFUL: "#188038",
  };
  const BORDER = {
    PENDING: "#6b7280", READY: "#1a73e8", RUNNING: "#8a5300", CANCELING: "#8e24aa",
    FAILED: "#8c1411", SUCCESSFUL: "#0d5323",
  };
  const TEXT = { FAILED: "#fff", SUCCESSFUL: "#fff" };
  const TASK_PAGE_SIZE = 20;
  let me = null; // the current user, with `permissions`
  let cleanup = []; // what the current page must stop (streams, timers) when the route changes

  // ---- helpers -----------------------------------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "class") e.className = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function put(target, ...children) {
    target.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  }

  function stateBadge(state) {
    return h("span", { class: "state " + state, "data-state": state }, state);
  }

  function when(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  function took(start, finish) {
    if (!start) return "—";
    const ms = (finish ? new Date(finish) : new Date()) - new Date(start);
    if (!(ms >= 0)) return "—";
    return ms < 60000 ? (ms / 1000).toFixed(1) + " s" : Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
  }

  function cookie(name) {
    for (const part of document.cookie.split(";")) {
      const [k, ...v] = part.trim().split("=");
      if (k === name) return decodeURIComponent(v.join("="));
    }
    return "";
  }

  class ApiError extends Error {
    constructor(status, error) {
      super((error && error.message) || "HTTP " + status);
      this.status = status;
      this.code = error && error.code;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json", "X-Requested-With": "obcp-console" };
    if (method !== "GET") headers["X-CSRF-Token"] = cookie("obcp_csrf");
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await response.json().catch(() => null);
    if (response.status === 401) {
      toLogin();
      throw new ApiError(401, answer && answer.error);
    }
    if (!response.ok || !answer || !answer.successful) throw new ApiError(response.status, answer && answer.error);
    return answer.data;
  }

  function toLogin() {
    location.href = "/login?next=" + encodeURIComponent(location.hash || "");
  }

  // OCP permission expressions, as obcp.iam.permissions.allows: `*` one segment (or all below when last), `**` all.
  function granted(g, need) {
    for (let i = 0; i < g.length; i++) {
      if (g[i] === "**") return true;
      if (i >= need.length) return false;
      if (g[i] === "*") { if (i === g.length - 1) return true; continue; }
      if (g[i].toUpperCase() !== need[i].toUpperCase()) return false;
    }
    return g.length === need.length;
  }

  function can(permission) {
    const need = permission.split(":");
    return !!me && (me.permissions || []).some((p) => granted(p.split(":"), need));
  }

  function showError(target, error) {
    const text = error instanceof ApiError
      ? `${error.message}${error.code ? " (code " + error.code + ", HTTP " + error.status + ")" : ""}`
      : String(error && error.message ? error.message : error);
    put(target, h("p", { class: "error", role: "alert" }, text));
  }

  function onLeave(fn) { cleanup.push(fn); }

  // ---- routing -----------------------------------------------------------------------------------------

  const routes = [
    [/^#\/clusters\/(\d+)$/, (m) => clusterPage(Number(m[1]))],
    [/^#\/tasks\/(\d+)$/, (m) => taskPage(Number(m[1]))],
    [/^#\/tasks(?:\?(.*))?$/, (m) => tasksPage(new URLSearchParams(m[1] || ""))],
    [/^#\/clusters$/, () => clustersPage()],
  ];

  async function route() {
    for (const fn of cleanup) { try { fn(); } catch (e) { /* a stopped stream may throw; nothing to do */ } }
    cleanup = [];
    const hash = location.hash || "#/clusters";
    for (const a of document.querySelectorAll("[data-nav]")) {
      a.classList.toggle("active", hash.startsWith("#/" + a.dataset.nav));
    }
    for (const [re, page] of routes) {
      const m = hash.match(re);
      if (m) {
        put(view, h("p", { class: "muted" }, "Loading…"));
        try { await page(m); } catch (e) { if (!(e instanceof ApiError && e.status === 401)) showError(view, e); }
        return;
      }
    }
    location.hash = "#/clusters";
  }

  // ---- clusters ----------------------------------------------------------------------------------------

  // The cluster's newest task and the outage obcp measured while it ran (`lastOperation` of the cluster).
  function lastOperationCell(op) {
    if (!op) return h("span", { class: "muted" }, "—");
    const figure = op.availability;
    return h("span", {},
      h("a", { href: `#/tasks/${op.taskId}` }, `#${op.taskId} ${op.name}`), " ", stateBadge(op.status),
      op.finishTime ? h("span", { class: "muted" }, " · took " + took(op.startTime, op.finishTime)) : null,
      figure ? h("div", { class: "outage", title: "longest interval in which no observer of the cluster answered SQL" },
        `outage: ${figure.longestOutageSeconds.toFixed(1)} s`) : null);
  }

  function zoneSummary(zone) {
    return h("div", { class: "zone-line" },
      h("strong", {}, zone.name), " ", stateBadge(zone.status), " ",
      ...(zone.servers || []).map((s) => h("span", { class: "server-line" },
        ` ${s.ip}:${s.sqlPort} `, stateBadge(s.status))));
  }

  async function clustersPage() {
    const data = await api("GET", "/api/v2/ob/clusters?size=100");
    const clusters = data.contents || [];
    const rows = clusters.map((c) => {
      const last = h("td", { class: "last-op" }, lastOperationCell(c.lastOperation));
      return h("tr", { "data-cluster": c.name },
        h("td", {}, h("a", { href: `#/clusters/${c.id}` }, c.name)),
        h("td", {}, stateBadge(c.status)),
        h("td", { class: "hide-narrow" }, c.obVersion || "—"),
        h("td", {}, h("div", { class: "zones" }, (c.zones || []).map(zoneSummary))),
        last);
    });
    put(view, 
      h("div", { class: "head" }, h("h1", {}, "Clusters"), h("span", { class: "muted" }, `${data.page ? data.page.totalElements : clusters.length} in all`)),
      clusters.length
        ? h("div", { class: "table-wrap card" }, h("table", { id: "clusters" },
          h("thead", {}, h("tr", {}, h("th", {}, "Cluster"), h("th", {}, "Status"), h("th", { class: "hide-narrow" }, "Version"),
            h("th", {}, "Zones and servers"), h("th", {}, "Last operation"))),
          h("tbody", {}, rows)))
        : h("p", { class: "card muted" }, "No cluster yet. Register hosts and take over a cluster through the API or the CLI."));
  }

  async function clusterPage(id) {
    const c = await api("GET", `/api/v2/ob/clusters/${id}`);
    const manage = can(`CLUSTER:${id}:UPDATE`);
    const base = `/api/v2/ob/clusters/${id}`;
    const ops = (label, path, target, restart, zones) => manage
      ? h("div", { class: "actions" }, ["restart", "start", "stop"].map((op) => h("button", {
        type: "button", class: "small", "data-action": `${op}`, "data-target": target,
        onclick: () => confirmOperation({ title: `${cap(op)} ${label}?`, path: `${path}/${op}`, op, restart: op === "restart", zones }),
      }, cap(op))))
      : null;
    const recent = h("div", {}, h("p", { class: "muted" }, "…"));
    put(view, 
      h("p", {}, h("a", { href: "#/clusters" }, "← Clusters")),
      h("div", { class: "head" }, h("h1", {}, `Cluster ${c.name}`), stateBadge(c.status),
        ops(`cluster ${c.name}`, base, "cluster", true, (c.zones || []).map((z) => z.name))),
      h("dl", { class: "kv card" },
        h("dt", {}, "Version"), h("dd", {}, c.obVersion || "—"),
        h("dt", {}, "OceanBase cluster id"), h("dd", {}, String(c.obClusterId)),
        h("dt", {}, "Servers"), h("dd", {}, String(c.serverCount)),
        h("dt", {}, "Created"), h("dd", {}, when(c.createTime))),
      h("h2", {}, "Zones"),
      ...(c.zones || []).map((z) => h("div", { class: "card zone", "data-zone": z.name },
        h("div", { class: "head" }, h("h3", {}, `Zone ${z.name}`), stateBadge(z.status),
          h("span", { class: "muted" }, [z.regionName, z.idcName].filter(Boolean).join(" / ")),
          ops(`zone ${z.name}`, `${base}/zones/${encodeURIComponent(z.name)}`, `zone:${z.name}`, true)),
        h("div", { class: "table-wrap" }, h("table", {},
          h("thead", {}, h("tr", {}, h("th", {}, "Server"), h("th", {}, "Status"), h("th", { class: "hide-narrow" }, "Observer"), manage ? h("th", {}, "Operations") : null)),
          h("tbody", {}, (z.servers || []).map((s) => h("tr", { "data-server": s.id },
            h("td", {}, `${s.ip}:${s.sqlPort}`), h("td", {}, stateBadge(s.status)),
            h("td", { class: "hide-narrow" }, s.observerName || "—"),
            manage ? h("td", {}, ops(`server ${s.ip}:${s.sqlPort}`, `${base}/servers/${s.id}`, `server:${s.id}`, true)) : null))))))),
      h("h2", {}, "Recent tasks"), recent);
    if (can("TASK:*:READ")) {
      api("GET", `/api/v2/tasks/instances?clusterId=${id}&size=5`).then((d) => {
        const list = d.contents || [];
        put(recent, list.length ? taskTable(list) : h("p", { class: "muted" }, "No task yet."));
      }).catch((e) => showError(recent, e));
    } else {
      put(recent, h("p", { class: "muted" }, "You may not read tasks."));
    }
  }

  function cap(s) { return s.charAt(0).toUpperCase() + s.slice(1); }

  // ---- the confirmation of an operation: its mode and the DAG a dry run says would run -----------------

  const dialog = document.getElementById("confirm");
  let previewCy = null;

  function confirmOperation(op) {
    const options = document.getElementById("confirm-options");
    const preview = document.getElementById("confirm-preview");
    const error = document.getElementById("confirm-error");
    const ok = document.getElementById("confirm-ok");
    document.getElementById("confirm-title").textContent = op.title;
    document.getElementById("confirm-text").textContent =
      op.restart ? "Choose the mode. Nothing runs until you confirm." : "Nothing runs until you confirm.";
    error.hidden = true;
    put(options, );
    let mode = null;
    const zoneBoxes = [];
    if (op.restart) {
      mode = h("select", { id: "confirm-mode", onchange: () => dryRun() },
        h("option", { value: "ROLLING" }, "Rolling: one zone after another"),
        h("option", { value: "FORCE" }, "Force: all selected zones at once"));
      options.append(h("label", {}, "Mode ", mode));
      for (const z of op.zones || []) {
        const box = h("input", { type: "checkbox", value: z, checked: true, onchange: () => dryRun() });
        zoneBoxes.push(box);
        options.append(h("label", {}, box, " ", z));
      }
    }
    const body = (dry) => {
      const b = {};
      if (mode) b.restartMode = mode.value;
      if (zoneBoxes.length && zoneBoxes.some((x) => !x.checked)) b.zoneNames = zoneBoxes.filter((x) => x.checked).map((x) => x.value);
      if (dry) b.dryRun = true;
      return b;
    };
    let asked = 0;
    async function dryRun() {
      const ticket = ++asked;
      ok.disabled = true;
      error.hidden = true;
      put(preview, h("p", { class: "muted" }, "Asking the server for a dry run…"));
      try {
        const data = await api("POST", op.path, body(true));
        if (ticket !== asked) return;
        renderPreview(preview, data);
        ok.disabled = false;
      } catch (e) {
        if (ticket !== asked) return;
        put(preview, h("p", { class: "error", id: "dry-run-error" },
          "The dry run was refused, so there is nothing to confirm: " + e.message +
          (e.code ? ` (code ${e.code}, HTTP ${e.status})` : ` (HTTP ${e.status})`)));
      }
    }
    ok.onclick = async () => {
      ok.disabled = true;
      try {
        const task = await api("POST", op.path, body(false));
        dialog.close();
        if (task && task.id) location.hash = `#/tasks/${task.id}`;
        else route();
      } catch (e) {
        error.textContent = e.message;
        error.hidden = false;
        ok.disabled = false;
      }
    };
    document.getElementById("confirm-cancel").onclick = () => dialog.close();
    dialog.showModal();
    dryRun();
  }

  function renderPreview(target, data) {
    const subtasks = data && (data.subtasks || data.tasks);
    if (previewCy) { previewCy.destroy(); previewCy = null; }
    if (!Array.isArray(subtasks) || !subtasks.length) {
      put(target, h("pre", {}, JSON.stringify(data, null, 2)));
      return;
    }
    const box = h("div", { class: "dag", id: "preview-dag" });
    const how = [data.restartMode, (data.zoneNames || []).length ? "zones " + data.zoneNames.join(", ") : null]
      .filter(Boolean).join(", ");
    put(target, h("p", { class: "muted", id: "preview-summary" },
      `${data.name || "Task"}${how ? " (" + how + ")" : ""}: ${subtasks.length} subtasks`), box);
    previewCy = drawDag(box, subtasks.map((s) => ({ ...s, status: s.status || "PENDING" })), () => {});
  }

  // ---- tasks -------------------------------------------------------------------------------------------

  function taskTable(list) {
    return h("div", { class: "table-wrap card" }, h("table", { class: "tasks" },
      h("thead", {}, h("tr", {}, h("th", {}, "Id"), h("th", {}, "Task"), h("th", {}, "Status"),
        h("th", { class: "hide-narrow" }, "Cluster"), h("th", { class: "hide-narrow" }, "Creator"),
        h("th", {}, "Started"), h("th", { class: "hide-narrow" }, "Took"))),
      h("tbody", {}, list.map((t) => h("tr", { class: "clickable", "data-task": t.id, onclick: () => { location.hash = `#/tasks/${t.id}`; } },
        h("td", {}, h("a", { href: `#/tasks/${t.id}` }, String(t.id))), h("td", {}, t.name), h("td", {}, stateBadge(t.status)),
        h("td", { class: "hide-narrow" }, t.cluster ? t.cluster.name : "—"),
        h("td", { class: "hide-narrow" }, t.creator ? t.creator.name : "—"),
        h("td", {}, when(t.startTime)), h("td", { class: "hide-narrow" }, took(t.startTime, t.finishTime)))))));
  }

  async function tasksPage(params) {
    const page = Math.max(1, Number(params.get("page") || 1));
    const q = new URLSearchParams({ page: String(page), size: String(TASK_PAGE_SIZE) });
    for (const key of ["name", "status", "clusterName"]) if (params.get(key)) q.set(key, params.get(key));
    const data = await api("GET", `/api/v2/tasks/instances?${q}`);
    const name = h("input", { id: "f-name", value: params.get("name") || "", placeholder: "part of the name" });
    const cluster = h("input", { id: "f-cluster", value: params.get("clusterName") || "", placeholder: "cluster name" });
    const status = h("select", { id: "f-status" }, h("option", { value: "" }, "any"),
      ["RUNNING", "FAILED", "SUCCESSFUL"].map((s) => h("option", { value: s, selected: params.get("status") === s }, s)));
    const go = (p) => {
      const next = new URLSearchParams();
      if (name.value.trim()) next.set("name", name.value.trim());
      if (status.value) next.set("status", status.value);
      if (cluster.value.trim()) next.set("clusterName", cluster.value.trim());
      if (p > 1) next.set("page", String(p));
      const s = next.toString();
      location.hash = "#/tasks" + (s ? "?" + s : "");
    };
    const info = data.page || { number: page, totalPages: 1, totalElements: (data.contents || []).length };
    put(view, 
      h("div", { class: "head" }, h("h1", {}, "Tasks"), h("span", { class: "muted" }, `${info.totalElements} in all`)),
      h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); go(1); } },
        h("label", {}, "Name", name), h("label", {}, "Status", status), h("label", {}, "Cluster", cluster),
        h("button", { type: "submit", class: "primary" }, "Filter")),
      (data.contents || []).length ? taskTable(data.contents) : h("p", { class: "card muted" }, "No task matches."),
      h("div", { class: "pager" },
        h("button", { type: "button", id: "prev", disabled: page <= 1, onclick: () => go(page - 1) }, "← Previous"),
        h("span", { id: "page-info" }, `page ${info.number} of ${Math.max(1, info.totalPages)}`),
        h("button", { type: "button", id: "next", disabled: page >= info.totalPages, onclick: () => go(page + 1) }, "Next →")));
  }

  // ---- the DAG -----------------------------------------------------------------------------------------

  // Inside a parallel group the group's box names the step, so its nodes only need their index and state.
  function nodeLabel(s, short) {
    const idx = s.parallelIdx !== undefined && s.parallelIdx >= 0 ? `#${s.parallelIdx}` : "";
    const what = short ? idx : `${s.name}${idx ? " " + idx : ""}`;
    return `${what}\n${MARK[s.status] || "?"} ${s.status}`;
  }

  // Parallel instances of one step (same name, same upstreams) are drawn inside one compound node: on a
  // restart these are the servers of one zone, so each zone's servers sit in their own box.
  function groupsOf(subtasks) {
    const groups = new Map();
    for (const s of subtasks) {
      if (!(s.parallelIdx >= 0)) continue;
      const key = s.name + "|" + [...(s.upstreams || [])].sort((a, b) => a - b).join(",");
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(s);
    }
    return [...groups.values()].filter((g) => g.length > 1);
  }

  function zoneOf(s) {
    return s.zone || (s.params && s.params.zone) || null;
  }

  function drawDag(container, subtasks, onSelect) {
    const byId = new Map(subtasks.map((s) => [s.id, s]));
    const elements = [];
    const parentOf = new Map();
    // Steps that name their zone (a restart's zone chains) are drawn inside that zone's box.
    // A step without a zone of its own (a Wait node joining a zone's servers) belongs to the zone all its
    // neighbours are in, so it is drawn inside that zone's box rather than across it.
    const zoneById = new Map(subtasks.map((s) => [s.id, zoneOf(s)]));
    for (const s of subtasks) {
      if (zoneById.get(s.id)) continue;
      const around = [...(s.upstreams || []), ...(s.downstreams || [])].map((i) => zoneById.get(i));
      if (around.length && around.every((z) => z && z === around[0])) zoneById.set(s.id, around[0]);
    }
    const zones = [...new Set(subtasks.map((s) => zoneById.get(s.id)).filter(Boolean))];
    for (const z of zones) elements.push({ data: { id: "z:" + z, label: `Zone ${z}` }, classes: "group zone" });
    for (const s of subtasks) if (zoneById.get(s.id)) parentOf.set(s.id, "z:" + zoneById.get(s.id));
    groupsOf(subtasks).forEach((group, i) => {
      const gid = "g" + i;
      const zone = zoneById.get(group[0].id);
      elements.push({ data: { id: gid, label: `${group[0].name} × ${group.length} in parallel`, parent: zone ? "z:" + zone : undefined }, classes: "group" });
      for (const s of group) parentOf.set(s.id, gid);
    });
    for (const s of subtasks) {
      const short = parentOf.has(s.id) && parentOf.get(s.id).startsWith("g");
      const label = nodeLabel(s, short);
      const width = short ? 108 : Math.min(150, Math.max(104, Math.round(6.6 * s.name.length + 18)));
      const lines = short ? 1 : Math.ceil((6.6 * (s.name.length + 3)) / (width - 14));
      elements.push({ data: {
        id: "s" + s.id, sid: s.id, label, short, status: s.status, w: width, h: 16 * (lines + 1) + 12,
        parent: parentOf.get(s.id),
      } });
    }
    for (const s of subtasks) {
      for (const d of s.downstreams || []) {
        if (byId.has(d)) elements.push({ data: { id: `e${s.id}-${d}`, source: "s" + s.id, target: "s" + d } });
      }
    }
    const cy = cytoscape({
      container,
      // Dagre places siblings in the reverse of the order it meets them: reversed, zone1 and #0 come first.
      elements: elements.reverse(),
      minZoom: 0.15,
      maxZoom: 2.5,
      boxSelectionEnabled: false,
      autounselectify: false,
      style: [
        { selector: "node[w]", style: {
          shape: "round-rectangle", width: "data(w)", height: "data(h)", label: "data(label)", "text-wrap": "wrap",
          "text-max-width": "data(w)", "text-valign": "center", "text-halign": "center", "font-size": 12,
          "font-family": "DejaVu Sans, sans-serif", "border-width": 2,
        } },
        ...STATES.map((st) => ({ selector: `node[status = "${st}"]`, style: {
          "background-color": FILL[st], "border-color": BORDER[st], color: TEXT[st] || "#1d2330",
          "border-style": st === "PENDING" ? "dashed" : "solid", "border-width": st === "RUNNING" ? 4 : 2,
        } })),
        { selector: "node.group", style: {
          "background-color": "#f3f6fa", "border-color": "#9fb3c8", "border-style": "dashed", "border-width": 1,
          label: "data(label)", "text-valign": "top", "text-halign": "center", "font-size": 12, color: "#41556b",
          padding: 10, shape: "round-rectangle", "text-max-width": 400,
        } },
        { selector: "node.zone", style: { "background-color": "#eaf0f7", "border-style": "solid", "font-weight": "bold", "font-size": 12 } },
        { selector: "node:selected", style: { "overlay-color": "#1f5f9e", "overlay-opacity": 0.18, "overlay-padding": 6 } },
        { selector: "edge", style: {
          width: 1.5, "line-color": "#9aa5b1", "target-arrow-color": "#9aa5b1", "target-arrow-shape": "triangle",
          "curve-style": "bezier", "arrow-scale": 0.8,
        } },
      ],
    });
    place(cy, container);
    cy.on("tap", "node[sid]", (e) => onSelect(e.target.data("sid")));
    return cy;
  }

  const MIN_READABLE_ZOOM = 0.6;
  const MAX_START_ZOOM = 1.3;

  // Laid out once, when drawn: whichever of left-to-right and top-to-bottom shows the graph larger in this
  // box. Updates later only change node data, so nothing moves while the task runs.
  function place(cy, container) {
    const W = container.clientWidth || 800;
    const H = container.clientHeight || 500;
    const layout = (rankDir) => {
      cy.layout({
        name: "dagre", rankDir, nodeSep: 12, rankSep: 36, edgeSep: 8, fit: false, animate: false,
      }).run();
      cy.scratch("rankDir", rankDir);
      const bb = cy.elements().boundingBox();
      return Math.min((W - 40) / bb.w, (H - 40) / bb.h);
    };
    const lr = layout("LR");
    if (layout("TB") < lr) layout("LR");
    show(cy, container);
  }

  // The whole graph when it stays readable; otherwise its start at a readable size (drag or pinch for more).
  function show(cy, container, whole) {
    cy.fit(undefined, 20);
    if (cy.zoom() > MAX_START_ZOOM) { cy.zoom(MAX_START_ZOOM); cy.center(); }
    const cropped = !whole && cy.zoom() < MIN_READABLE_ZOOM;
    if (cropped) {
      const bb = cy.elements().boundingBox();
      const z = MIN_READABLE_ZOOM;
      const H = container.clientHeight;
      const W = container.clientWidth;
      // Start where the task starts: its first step at the top (or left), in the middle across.
      const root = cy.nodes("[sid]").roots().sort((a, b) => a.data("sid") - b.data("sid"))[0];
      const p = root ? root.position() : { x: bb.x1, y: bb.y1 };
      cy.zoom(z);
      if (cy.scratch("rankDir") === "TB") cy.pan({ x: W / 2 - p.x * z, y: 16 - bb.y1 * z });
      else cy.pan({ x: 16 - bb.x1 * z, y: bb.h * z < H ? (H - bb.h * z) / 2 - bb.y1 * z : H / 2 - p.y * z });
    }
    container.dataset.cropped = cropped ? "1" : "0";
  }

  // ---- one task, live -------------------------------------------------------------------------------

  async function taskPage(id) {
    let task = await api("GET", `/api/v2/tasks/instances/${id}`);
    let selected = null;
    let logTimer = null;
    let logFor = null;
    const canUpdate = can(`TASK:${id}:UPDATE`);
    const head = h("div", { class: "head" });
    const headNote = h("p", { class: "error", id: "task-action-error", role: "alert", hidden: true });
    const facts = h("div", { class: "facts card" });
    const dagBox = h("div", { class: "dag", id: "dag", role: "img", "aria-label": "The task's DAG" });
    const live = h("span", { class: "live", id: "live" }, "connecting…");
    const side = h("aside", { class: "side card", id: "side" }, h("p", { class: "muted" }, "Select a subtask in the graph or the list."));
    const list = h("tbody", {});
    put(view, 
      h("p", {}, h("a", { href: "#/tasks" }, "← Tasks")), head, headNote, facts,
      h("div", { class: "task-grid" },
        h("div", {},
          h("div", { class: "card dag-card" }, dagBox,
            h("div", { class: "legend" }, STATES.map(stateBadge), h("span", { class: "spacer" }),
              h("button", { type: "button", class: "small", id: "dag-fit", title: "Show the whole DAG", onclick: () => show(cy, dagBox, true) }, "Fit"),
              h("button", { type: "button", class: "small", id: "dag-start", title: "Readable size", onclick: () => { userMoved = false; show(cy, dagBox); follow(); } }, "Readable size"),
              live)),
          h("details", { class: "list card", open: true }, h("summary", {}, "Subtasks as a list"),
            h("div", { class: "table-wrap" }, h("table", { id: "subtasks" },
              h("thead", {}, h("tr", {}, h("th", {}, "Id"), h("th", {}, "Subtask"), h("th", {}, "Status"), h("th", {}, "Runs"), h("th", { class: "hide-narrow" }, "Took"))),
              list)))),
        side));

    let cy = drawDag(dagBox, task.subtasks || [], select);
    window.obcpConsole = { cy, task: () => task };
    // When only part of the DAG fits, keep the running (or failed) steps in view, until the user moves it.
    let userMoved = false;
    dagBox.addEventListener("pointermove", (e) => { if (e.buttons) userMoved = true; });
    dagBox.addEventListener("wheel", () => { userMoved = true; }, { passive: true });
    const follow = () => {
      if (userMoved || dagBox.dataset.cropped !== "1") return;
      const active = cy.nodes("[sid]").filter((n) => ["RUNNING", "CANCELING", "FAILED"].includes(n.data("status")));
      if (active.length) cy.center(active);
    };
    follow();
    onLeave(() => { cy.destroy(); if (window.obcpConsole && window.obcpConsole.cy === cy) window.obcpConsole = null; });

    // The event stream also names each step's zone; if the first drawing could not box the zones, draw
    // once more with them (at once, before anything has changed), then never again.
    const redrawWithZones = () => {
      cy.destroy();
      cy = drawDag(dagBox, task.subtasks || [], select);
      window.obcpConsole.cy = cy;
      if (selected !== null) cy.$id("s" + selected).select();
    };

    function renderHead() {
      const actions = [];
      if (canUpdate && task.status === "FAILED") {
        actions.push(h("button", { type: "button", id: "task-retry", class: "primary", onclick: () => act("retry the task", `/api/v2/tasks/instances/${id}/retry`, "task") }, "Retry task"));
        if (!task.prohibitRollback) {
          actions.push(h("button", { type: "button", id: "task-rollback", class: "danger", onclick: () => act("roll the task back", `/api/v2/tasks/instances/${id}/rollback`, "task") }, "Roll back"));
        }
      }
      put(head, h("h1", {}, `Task #${task.id} ${task.name}`), h("span", { id: "task-status" }, stateBadge(task.status)),
        task.operation && task.operation !== "EXECUTE" ? h("span", { class: "muted" }, task.operation) : null,
        h("div", { class: "actions" }, actions));
      const done = (task.subtasks || []).filter((s) => s.status === "SUCCESSFUL").length;
      const fact = (label, value, attrs) => h("span", attrs || {}, h("span", { class: "muted" }, label + " "), value);
      put(facts,
        fact("Cluster", task.cluster ? h("a", { href: `#/clusters/${task.cluster.id}` }, task.cluster.name) : "—"),
        fact("Creator", task.creator ? task.creator.name : "—"),
        fact("Started", when(task.startTime)),
        fact("Finished", when(task.finishTime)),
        fact("Took", took(task.startTime, task.finishTime)),
        fact("Progress", h("span", { id: "progress" }, `${done} of ${(task.subtasks || []).length} subtasks successful`)));
    }

    function renderList() {
      put(list, ...(task.subtasks || []).map((s) => h("tr", {
        class: "clickable" + (s.id === selected ? " selected" : ""), "data-subtask": s.id, "data-state": s.status,
        onclick: () => select(s.id),
      }, h("td", {}, String(s.id)), h("td", {}, h("button", { type: "button", class: "link-like small", "data-open": s.id }, s.name + (s.parallelIdx >= 0 ? ` #${s.parallelIdx}` : ""))),
      h("td", {}, stateBadge(s.status)), h("td", {}, String(s.runTime ?? "—")),
      h("td", { class: "hide-narrow" }, took(s.startTime, s.finishTime)))));
    }

    // A refused action says why next to its button: in the side panel for a subtask, under the title for
    // the task.
    async function act(what, path, where) {
      const note = where === "task" ? headNote : document.getElementById("action-error");
      try {
        const data = await api("POST", path);
        if (data && data.subtasks) apply(data);
        if (note) note.hidden = true;
      } catch (e) {
        if (!note) return;
        note.hidden = false;
        note.textContent = `Could not ${what}: ${e.message}`;
      }
    }

    function renderSide() {
      const s = (task.subtasks || []).find((x) => x.id === selected);
      if (!s) return;
      const actions = [];
      if (canUpdate) {
        const base = `/api/v2/tasks/instances/${id}/subtasks/${s.id}`;
        if (s.status === "FAILED") {
          actions.push(h("button", { type: "button", id: "subtask-retry", class: "primary", onclick: () => act("retry the subtask", base + "/retry") }, "Retry"));
          actions.push(h("button", { type: "button", id: "subtask-skip", onclick: () => act("skip the subtask", base + "/skip") }, "Skip"));
        }
        if (s.status === "RUNNING") {
          actions.push(h("button", { type: "button", id: "subtask-cancel", class: "danger", onclick: () => act("cancel the subtask", base + "/cancel") }, "Cancel"));
        }
      }
      const log = side.querySelector("pre.log") || h("pre", { class: "log", id: "subtask-log" }, "…");
      put(side, 
        h("h2", { id: "side-title" }, `${s.name}${s.parallelIdx >= 0 ? " #" + s.parallelIdx : ""}`),
        h("div", {}, stateBadge(s.status), " ", h("span", { class: "muted" }, `subtask ${s.id}`)),
        h("dl", { class: "kv" },
          h("dt", {}, "Runs"), h("dd", { id: "side-runs" }, String(s.runTime ?? "—")),
          h("dt", {}, "Operation"), h("dd", {}, s.operation || "—"),
          h("dt", {}, "Started"), h("dd", {}, when(s.startTime)),
          h("dt", {}, "Finished"), h("dd", {}, when(s.finishTime)),
          h("dt", {}, "Took"), h("dd", {}, took(s.startTime, s.finishTime)),
          h("dt", {}, "Executor"), h("dd", {}, s.executor || "—"),
          h("dt", {}, "Timeout"), h("dd", {}, s.timeout ? s.timeout + " s" : "—")),
        s.error ? h("p", { class: "error", id: "side-error" }, s.error) : null,
        actions.length ? h("div", { class: "actions", id: "side-actions" }, actions) : null,
        h("p", { class: "error", id: "action-error", hidden: true }),
        h("h3", {}, "Log"), log);
    }

    async function loadLog() {
      const s = (task.subtasks || []).find((x) => x.id === selected);
      if (!s) return;
      const pre = side.querySelector("pre.log");
      try {
        const data = await api("GET", `/api/v2/tasks/instances/${id}/subtasks/${s.id}/log`);
        if (!pre || selected !== s.id) return;
        const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
        pre.textContent = data.log || "(no log yet)";
        if (stick) pre.scrollTop = pre.scrollHeight;
      } catch (e) {
        if (pre) pre.textContent = "The log cannot be read: " + e.message;
      }
    }

    function scheduleLog() {
      clearInterval(logTimer);
      const s = (task.subtasks || []).find((x) => x.id === selected);
      // A running subtask's log grows: read it again every second while it runs.
      if (s && (s.status === "RUNNING" || s.status === "CANCELING")) logTimer = setInterval(loadLog, 1000);
    }

    function select(sid) {
      selected = sid;
      logFor = null;
      const pre = side.querySelector("pre.log");
      if (pre) pre.remove();
      renderSide();
      renderList();
      cy.$("node:selected").unselect();
      cy.$id("s" + sid).select();
      loadLog();
      scheduleLog();
      // On a narrow screen the panel is under the graph and the list: bring it into view.
      if (window.matchMedia("(max-width: 820px)").matches) side.scrollIntoView({ block: "start" });
      logFor = sid + ":" + ((task.subtasks || []).find((x) => x.id === sid) || {}).status;
    }

    function apply(next) {
      const known = new Set((task.subtasks || []).map((s) => s.id));
      const same = (next.subtasks || []).length === known.size && (next.subtasks || []).every((s) => known.has(s.id));
      task = next;
      if (!same) { route(); return; } // the DAG itself changed (never for a submitted task): draw it anew
      if (!cy.nodes(".zone").length && (task.subtasks || []).some(zoneOf)) redrawWithZones();
      cy.batch(() => {
        for (const s of task.subtasks) {
          const node = cy.$id("s" + s.id);
          if (node.data("status") !== s.status) node.data({ status: s.status, label: nodeLabel(s, node.data("short")) });
        }
      });
      follow();
      renderHead();
      renderList();
      if (selected !== null) {
        renderSide();
        const key = selected + ":" + ((task.subtasks || []).find((x) => x.id === selected) || {}).status;
        if (key !== logFor) { logFor = key; loadLog(); scheduleLog(); }
      }
    }

    renderHead();
    renderList();
    onLeave(() => clearInterval(logTimer));

    // Live: server-sent events; when the stream cannot be kept, poll the JSON endpoint instead.
    let polling = null;
    const startPolling = () => {
      if (polling) return;
      live.textContent = "live (polling)";
      polling = setInterval(async () => {
        try { apply(await api("GET", `/api/v2/tasks/instances/${id}`)); } catch (e) { live.textContent = "offline: " + e.message; }
      }, 2000);
    };
    onLeave(() => clearInterval(polling));
    if (window.EventSource) {
      const source = new EventSource(`/api/v2/tasks/instances/${id}/events`);
      let failures = 0;
      source.addEventListener("open", () => { live.textContent = "live"; live.dataset.mode = "sse"; failures = 0; });
      source.addEventListener("task", (e) => { failures = 0; apply(JSON.parse(e.data)); });
      source.addEventListener("error", () => {
        failures += 1;
        if (source.readyState === EventSource.CLOSED || failures >= 3) {
          source.close();
          live.dataset.mode = "polling";
          startPolling();
        } else {
          live.textContent = "reconnecting…";
        }
      });
      onLeave(() => source.close());
    } else {
      startPolling();
    }
  }

  // ---- start -------------------------------------------------------------------------------------------

  document.getElementById("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/v2/iam/logout"); } finally { location.href = "/login"; }
  });

  async function start() {
    try {
      me = await api("GET", "/api/v2/iam/current/user");
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) showError(view, e);
      return;
    }
    document.getElementById("who").textContent = me.username;
    window.addEventListener("hashchange", route);
    await route();
    // For the load-time test (and anyone curious): when the first page was drawn, from navigation start.
    performance.mark("obcp-ready");
    document.body.dataset.ready = "1";
  }

  start();
})();
