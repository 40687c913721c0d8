// A task's DAG drawn with the vendored cytoscape and its dagre layout (classic scripts loaded before the
// modules, so `cytoscape` is a global with dagre registered).

import { STATES } from "./dag-model.js";

export { STATES };
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

// Draws the elements of a model (dag-model.js) into container; onSelect gets the id of a tapped subtask,
// onToggle the id of a tapped folded node or box title (a zone or a fan-out). Answers the cytoscape core.
export function drawDag(container, elements, onSelect, onToggle) {
  const cy = cytoscape({
    container,
    // Dagre places siblings in the reverse of the order it meets them: reversed, zone1 and #0 come first.
    elements: [...elements].reverse(),
    minZoom: 0.15,
    maxZoom: 2.5,
    boxSelectionEnabled: false,
    autounselectify: false,
    style: styles(),
  });
  place(cy, container);
  // One handler on the core, so a tap inside a box is the node's alone (it would bubble to the box).
  cy.on("tap", (e) => {
    const t = e.target;
    if (t === cy || !t.isNode()) return;
    if (t.data("sid") !== undefined) onSelect(t.data("sid"));
    else if (onToggle) onToggle(t.id());
  });
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
    .nodes("[w]")
    .roots()
    .sort((a, b) => a.position("x") + a.position("y") - b.position("x") - b.position("y"))[0];
  const p = root ? root.position() : { x: bb.x1, y: bb.y1 };
  cy.zoom(z);
  if (cy.scratch("rankDir") === "TB") cy.pan({ x: W / 2 - p.x * z, y: 16 - bb.y1 * z });
  else cy.pan({ x: 16 - bb.x1 * z, y: bb.h * z < H ? (H - bb.h * z) / 2 - bb.y1 * z : H / 2 - p.y * z });
}
