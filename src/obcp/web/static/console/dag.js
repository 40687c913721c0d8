// A task's DAG drawn with the vendored cytoscape and its dagre layout (classic scripts loaded before the
// modules, so `cytoscape` is a global with dagre registered).

export const STATES = ["PENDING", "READY", "RUNNING", "CANCELING", "FAILED", "SUCCESSFUL"];
const MARK = { PENDING: "·", READY: "○", RUNNING: "▶", CANCELING: "■", FAILED: "✗", SUCCESSFUL: "✓" };
// Each state's fill, border and text, from the palette in console.css (one source for badges and nodes):
// solid fills for what is being done or is done, light ones for what has not started.
const LOOK = {
  PENDING: ["--waiting-soft", "--waiting", "--waiting"],
  READY: ["--progress-soft", "--progress", "--progress"],
  RUNNING: ["--progress", "--fg", "#fff"],
  CANCELING: ["--canceling", "--fg", "#fff"],
  FAILED: ["--trouble", "--fg", "#fff"],
  SUCCESSFUL: ["--ok", "--ok", "#fff"],
};

function colour(name) {
  if (!name.startsWith("--")) return name;
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

const MIN_READABLE_ZOOM = 0.6;
const MAX_START_ZOOM = 1.3;

// Inside a parallel group the group's box names the step, so its nodes only need their index and state.
export function nodeLabel(s, short) {
  const idx = s.parallelIdx !== undefined && s.parallelIdx >= 0 ? `#${s.parallelIdx}` : "";
  const what = short ? idx : `${s.name}${idx ? " " + idx : ""}`;
  return `${what}\n${MARK[s.status] || "?"} ${s.status}`;
}

export function zoneOf(s) {
  return s.zone || (s.params && s.params.zone) || null;
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

// Steps that name their zone (a restart's zone chains) are drawn inside that zone's box. A step without a
// zone of its own (a Wait node joining a zone's servers) belongs to the zone all its neighbours are in, so
// it is drawn inside that zone's box rather than across it.
function zonesById(subtasks) {
  const zoneById = new Map(subtasks.map((s) => [s.id, zoneOf(s)]));
  for (const s of subtasks) {
    if (zoneById.get(s.id)) continue;
    const around = [...(s.upstreams || []), ...(s.downstreams || [])].map((i) => zoneById.get(i));
    if (around.length && around.every((z) => z && z === around[0])) zoneById.set(s.id, around[0]);
  }
  return zoneById;
}

// The boxes (zones, parallel groups) and the id of the box each subtask sits in.
function boxesOf(subtasks) {
  const boxes = [];
  const parentOf = new Map();
  const zoneById = zonesById(subtasks);
  const zones = [...new Set(subtasks.map((s) => zoneById.get(s.id)).filter(Boolean))];
  for (const z of zones) boxes.push({ data: { id: "z:" + z, label: `Zone ${z}` }, classes: "group zone" });
  for (const s of subtasks) if (zoneById.get(s.id)) parentOf.set(s.id, "z:" + zoneById.get(s.id));
  groupsOf(subtasks).forEach((group, i) => {
    const gid = "g" + i;
    const zone = zoneById.get(group[0].id);
    const label = `${group[0].name} × ${group.length} in parallel`;
    boxes.push({ data: { id: gid, label, parent: zone ? "z:" + zone : undefined }, classes: "group" });
    for (const s of group) parentOf.set(s.id, gid);
  });
  return { boxes, parentOf };
}

// A node sized to its label: the label wraps, so the height follows from the lines it takes.
function subtaskNode(s, parent) {
  const short = parent !== undefined && parent.startsWith("g");
  const label = nodeLabel(s, short);
  const width = short ? 108 : Math.min(150, Math.max(104, Math.round(6.6 * s.name.length + 18)));
  const lines = short ? 1 : Math.ceil((6.6 * (s.name.length + 3)) / (width - 14));
  return {
    data: {
      id: "s" + s.id,
      sid: s.id,
      label,
      short,
      status: s.status,
      w: width,
      h: 16 * (lines + 1) + 12,
      parent,
    },
  };
}

function elementsOf(subtasks) {
  const byId = new Map(subtasks.map((s) => [s.id, s]));
  const { boxes, parentOf } = boxesOf(subtasks);
  const elements = [...boxes, ...subtasks.map((s) => subtaskNode(s, parentOf.get(s.id)))];
  for (const s of subtasks) {
    for (const d of s.downstreams || []) {
      if (byId.has(d)) elements.push({ data: { id: `e${s.id}-${d}`, source: "s" + s.id, target: "s" + d } });
    }
  }
  return elements;
}

// What the DAG looks like: each state in its colours (and in words, in the label), boxes dashed.
function styles() {
  return [
    {
      selector: "node[w]",
      style: {
        shape: "round-rectangle",
        width: "data(w)",
        height: "data(h)",
        label: "data(label)",
        "text-wrap": "wrap",
        "text-max-width": "data(w)",
        "text-valign": "center",
        "text-halign": "center",
        "font-size": 12,
        "font-family": "DejaVu Sans, sans-serif",
        "border-width": 2,
      },
    },
    ...STATES.map((st) => ({
      selector: `node[status = "${st}"]`,
      style: {
        "background-color": colour(LOOK[st][0]),
        "border-color": colour(LOOK[st][1]),
        color: colour(LOOK[st][2]),
        "border-style": st === "PENDING" ? "dashed" : "solid",
        "border-width": st === "RUNNING" ? 4 : 2,
      },
    })),
    {
      selector: "node.group",
      style: {
        "background-color": "#f3f6fa",
        "border-color": "#9fb3c8",
        "border-style": "dashed",
        "border-width": 1,
        label: "data(label)",
        "text-valign": "top",
        "text-halign": "center",
        "font-size": 12,
        color: "#41556b",
        padding: 10,
        shape: "round-rectangle",
        "text-max-width": 400,
      },
    },
    {
      selector: "node.zone",
      style: {
        "background-color": "#eaf0f7",
        "border-style": "solid",
        "font-weight": "bold",
        "font-size": 12,
      },
    },
    {
      selector: "node:selected",
      style: { "overlay-color": "#1f5f9e", "overlay-opacity": 0.18, "overlay-padding": 6 },
    },
    {
      selector: "edge",
      style: {
        width: 1.5,
        "line-color": "#9aa5b1",
        "target-arrow-color": "#9aa5b1",
        "target-arrow-shape": "triangle",
        "curve-style": "bezier",
        "arrow-scale": 0.8,
      },
    },
  ];
}

// Draws the subtasks into container; onSelect gets the id of a tapped subtask. Answers the cytoscape core.
export function drawDag(container, subtasks, onSelect) {
  const cy = cytoscape({
    container,
    // Dagre places siblings in the reverse of the order it meets them: reversed, zone1 and #0 come first.
    elements: elementsOf(subtasks).reverse(),
    minZoom: 0.15,
    maxZoom: 2.5,
    boxSelectionEnabled: false,
    autounselectify: false,
    style: styles(),
  });
  place(cy, container);
  cy.on("tap", "node[sid]", (e) => onSelect(e.target.data("sid")));
  return cy;
}

// Laid out once, when drawn: whichever of left-to-right and top-to-bottom shows the graph larger in this
// box. Updates later only change node data, so nothing moves while the task runs.
function place(cy, container) {
  const W = container.clientWidth || 800;
  const H = container.clientHeight || 500;
  const layout = (rankDir) => {
    cy.layout({
      name: "dagre",
      rankDir,
      nodeSep: 12,
      rankSep: 36,
      edgeSep: 8,
      fit: false,
      animate: false,
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
export function show(cy, container, whole) {
  cy.fit(undefined, 20);
  if (cy.zoom() > MAX_START_ZOOM) {
    cy.zoom(MAX_START_ZOOM);
    cy.center();
  }
  const cropped = !whole && cy.zoom() < MIN_READABLE_ZOOM;
  if (cropped) showStart(cy, container);
  container.dataset.cropped = cropped ? "1" : "0";
}

// Start where the task starts: its first step at the top (or left), in the middle across.
function showStart(cy, container) {
  const bb = cy.elements().boundingBox();
  const z = MIN_READABLE_ZOOM;
  const H = container.clientHeight;
  const W = container.clientWidth;
  const root = cy
    .nodes("[sid]")
    .roots()
    .sort((a, b) => a.data("sid") - b.data("sid"))[0];
  const p = root ? root.position() : { x: bb.x1, y: bb.y1 };
  cy.zoom(z);
  if (cy.scratch("rankDir") === "TB") cy.pan({ x: W / 2 - p.x * z, y: 16 - bb.y1 * z });
  else cy.pan({ x: 16 - bb.x1 * z, y: bb.h * z < H ? (H - bb.h * z) / 2 - bb.y1 * z : H / 2 - p.y * z });
}
