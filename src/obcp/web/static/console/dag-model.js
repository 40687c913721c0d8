// What the DAG draws: subtasks, the parallel groups (fan-outs) and zones they sit in, and — for a large task —
// folded zones ("zone2 · 7/14") and folded fan-outs ("Start observer process × 10") counting their states.
// Pure data for cytoscape; dag.js draws it.
import { serverLabel } from "./subjects.js";

export const STATES = ["PENDING", "READY", "RUNNING", "CANCELING", "FAILED", "SUCCESSFUL"];
export const MARK = { PENDING: "·", READY: "○", RUNNING: "▶", CANCELING: "■", FAILED: "✗", SUCCESSFUL: "✓" };
// More subtasks than this and zones without work going on are folded; more than FOLD_ALL_ZONES and all are.
export const LARGE_TASK = 40;
export const FOLD_ALL_ZONES = 120;
// A fan-out over this many servers or more is one node until opened.
export const FOLD_FANOUT = 5;
const ACTIVE = ["READY", "RUNNING", "CANCELING", "FAILED"];

export function zoneOf(s) {
  return s.zone || (s.params && s.params.zone) || null;
}

// The state a folded node shows: trouble first, then work going on, then done only when all are.
export function summaryState(subtasks) {
  const has = (st) => subtasks.some((s) => s.status === st);
  if (has("FAILED")) return "FAILED";
  if (has("CANCELING")) return "CANCELING";
  if (has("RUNNING")) return "RUNNING";
  if (subtasks.every((s) => s.status === "SUCCESSFUL")) return "SUCCESSFUL";
  if (has("READY") || has("SUCCESSFUL")) return "RUNNING";
  return "PENDING";
}

// "✓ 7  ▶ 2  · 1": how many are in each state, in the order a task goes through them.
export function stateCounts(subtasks) {
  const order = ["SUCCESSFUL", "RUNNING", "CANCELING", "FAILED", "READY", "PENDING"];
  return order
    .map((st) => [st, subtasks.filter((s) => s.status === st).length])
    .filter(([, n]) => n > 0)
    .map(([st, n]) => `${MARK[st]} ${n}`)
    .join("  ");
}

// Parallel instances of one step (same name, same upstreams): on a restart, the servers of one zone.
// Keyed by their first subtask's id, so a group keeps its id whatever else changes.
export function groupsOf(subtasks) {
  const groups = new Map();
  for (const s of subtasks) {
    if (!(s.parallelIdx >= 0)) continue;
    const key = s.name + "|" + [...(s.upstreams || [])].sort((a, b) => a - b).join(",");
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(s);
  }
  return [...groups.values()].filter((g) => g.length > 1).map((g) => ({ id: "g" + g[0].id, members: g }));
}

// A step without a zone of its own (a Wait node joining a zone's servers) belongs to the zone all its
// neighbours are in, so it is drawn inside that zone's box rather than across it.
export function zonesById(subtasks) {
  const zoneById = new Map(subtasks.map((s) => [s.id, zoneOf(s)]));
  for (const s of subtasks) {
    if (zoneById.get(s.id)) continue;
    const around = [...(s.upstreams || []), ...(s.downstreams || [])].map((i) => zoneById.get(i));
    if (around.length && around.every((z) => z && z === around[0])) zoneById.set(s.id, around[0]);
  }
  return zoneById;
}

// Which zones and fan-outs are folded: the user's choice (`open`: id → true/false) first, then the rule.
export function foldingOf(subtasks, open) {
  const zoneById = zonesById(subtasks);
  const byZone = new Map();
  for (const s of subtasks) {
    const z = zoneById.get(s.id);
    if (z) byZone.set(z, [...(byZone.get(z) || []), s]);
  }
  const folded = new Set();
  for (const [zone, members] of byZone) {
    const id = "z:" + zone;
    const active = members.some((s) => ACTIVE.includes(s.status));
    const rule = subtasks.length > FOLD_ALL_ZONES || (subtasks.length > LARGE_TASK && !active);
    if (open.has(id) ? !open.get(id) : rule) folded.add(id);
  }
  const groups = groupsOf(subtasks);
  for (const g of groups) {
    if (open.has(g.id) ? !open.get(g.id) : g.members.length >= FOLD_FANOUT) folded.add(g.id);
  }
  return { zoneById, byZone, groups, folded };
}

function sized(label) {
  const lines = label.split("\n");
  const longest = Math.max(...lines.map((l) => l.length));
  const w = Math.min(190, Math.max(96, Math.round(6.8 * longest + 20)));
  const wrapped = lines.reduce((n, l) => n + Math.max(1, Math.ceil((6.8 * l.length) / (w - 14))), 0);
  return { w, h: 16 * wrapped + 12 };
}

// Inside a parallel group the group's box names the step, so its nodes name their server (or index).
export function nodeLabel(s, short, servers) {
  const who = serverLabel(s, servers || new Map()) || (s.parallelIdx >= 0 ? `#${s.parallelIdx}` : "");
  const what = short ? who : `${s.name}${who ? " " + who : ""}`;
  return `${what}\n${MARK[s.status] || "?"} ${s.status}`;
}

function foldedNode(id, label, members, parent, kind) {
  const status = summaryState(members);
  const text = `${label}\n${status} · ${stateCounts(members)}`;
  return {
    data: { id, label: text, status, fold: kind, parent, ...sized(text) },
    classes: "folded fold-" + kind,
  };
}

function progress(members) {
  return `${members.filter((s) => s.status === "SUCCESSFUL").length}/${members.length}`;
}

// Where each subtask is drawn: its own node, a folded fan-out or a folded zone.
function placesOf(subtasks, f) {
  const at = new Map(subtasks.map((s) => [s.id, "s" + s.id]));
  for (const g of f.groups) if (f.folded.has(g.id)) for (const s of g.members) at.set(s.id, g.id);
  for (const s of subtasks) {
    const z = f.zoneById.get(s.id);
    if (z && f.folded.has("z:" + z)) at.set(s.id, "z:" + z);
  }
  return at;
}

function nodesOf(subtasks, f, servers) {
  const nodes = [];
  const parentOf = new Map();
  for (const [zone, members] of f.byZone) {
    const id = "z:" + zone;
    if (f.folded.has(id))
      nodes.push(foldedNode(id, `${zone} · ${progress(members)}`, members, undefined, "zone"));
    else nodes.push({ data: { id, label: `Zone ${zone} · ${progress(members)}` }, classes: "group zone" });
    for (const s of members) parentOf.set(s.id, id);
  }
  for (const g of f.groups) {
    const zone = f.zoneById.get(g.members[0].id);
    if (zone && f.folded.has("z:" + zone)) continue;
    const parent = zone ? "z:" + zone : undefined;
    const name = `${g.members[0].name} × ${g.members.length}`;
    if (f.folded.has(g.id)) nodes.push(foldedNode(g.id, name, g.members, parent, "fanout"));
    else nodes.push({ data: { id: g.id, label: `${name} in parallel`, parent }, classes: "group" });
    for (const s of g.members) parentOf.set(s.id, g.id);
  }
  const at = placesOf(subtasks, f);
  for (const s of subtasks) {
    if (at.get(s.id) !== "s" + s.id) continue;
    const parent = parentOf.get(s.id);
    const short = parent !== undefined && parent.startsWith("g");
    const label = nodeLabel(s, short, servers);
    nodes.push({
      data: { id: "s" + s.id, sid: s.id, label, short, status: s.status, parent, ...sized(label) },
    });
  }
  return { nodes, at };
}

// The elements to draw, and a key that changes only when what is drawn (not its states) changes.
export function modelOf(subtasks, open, servers) {
  const f = foldingOf(subtasks, open);
  const { nodes, at } = nodesOf(subtasks, f, servers);
  const edges = new Map();
  for (const s of subtasks) {
    for (const d of s.downstreams || []) {
      const a = at.get(s.id);
      const b = at.get(d);
      if (!b || a === b) continue;
      edges.set(`e:${a}>${b}`, { data: { id: `e:${a}>${b}`, source: a, target: b } });
    }
  }
  const shape = nodes.map((n) => n.data.id + "<" + (n.data.parent || "")).join(",");
  return { elements: [...nodes, ...edges.values()], shape };
}
