// The restart timeline: one row per server with its down window (its stop sent → SQL answering again, from
// the subtasks' times), a bar per run of its stop / start / wait steps (a retry's earlier runs are bars of
// their own), the zones as bands, and the totals. Drawn as SVG; every bar's title holds its exact times.
import { h, put } from "./dom.js";
import { serverLabel } from "./subjects.js";

const NS = "http://www.w3.org/2000/svg";
const ROW = 22;
const LABEL_W = 160;
const AXIS_H = 22;
const DOWN = /^Stop observer process/;
const UP = [/^Wait observer (accessible|active)/, /^Start observer process/];
const STEPS = [DOWN, ...UP];

function svg(tag, attrs, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) e.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}

const ms = (iso) => (iso ? new Date(iso).getTime() : null);
const clock = (t) =>
  new Date(t).toLocaleTimeString([], { hour12: false }) + "." + String(t % 1000).padStart(3, "0");
const secs = (d) => (d / 1000).toFixed(1) + " s";

// Each run of a subtask: earlier runs (a retried subtask's `runs`) and the one its times describe.
export function runsOf(s, now) {
  const runs = [];
  for (const r of (s.runs || []).slice(0, -1)) {
    runs.push({ start: ms(r.startTime), end: ms(r.lastWrittenTime), status: "FAILED", run: r.runTime });
  }
  const start = ms(s.startTime);
  if (start !== null) {
    const end = ms(s.finishTime) ?? (s.status === "RUNNING" || s.status === "CANCELING" ? now : start);
    runs.push({ start, end, status: s.status, run: s.runTime });
  }
  return runs;
}

// Server rows: its zone, its steps' runs, and its down window (open while it is not answering again).
export function serverRows(subtasks, servers, now) {
  const rows = new Map();
  for (const s of subtasks) {
    if (s.serverId === undefined || !STEPS.some((re) => re.test(s.name))) continue;
    if (!rows.has(s.serverId))
      rows.set(s.serverId, { id: s.serverId, zone: s.zone || "", label: serverLabel(s, servers), steps: [] });
    rows.get(s.serverId).steps.push(s);
  }
  for (const row of rows.values()) {
    const stop = row.steps.find((s) => DOWN.test(s.name));
    const up = UP.map((re) => row.steps.find((s) => re.test(s.name))).find(Boolean);
    const stopRuns = stop ? runsOf(stop, now) : [];
    row.down = null;
    if (stopRuns.length) {
      const done = up && up.status === "SUCCESSFUL" && up.finishTime;
      const last = Math.max(...row.steps.flatMap((s) => runsOf(s, now).map((r) => r.end)));
      row.down = { start: stopRuns[0].start, end: done ? ms(up.finishTime) : last, open: !done };
    }
  }
  return [...rows.values()];
}

function bar(x, y, w, cls, title) {
  return svg(
    "rect",
    { x, y, width: Math.max(2, w), height: ROW - 10, rx: 2, class: cls },
    svg("title", {}, title),
  );
}

function axis(scale, t0, t1, width) {
  const span = Math.max(1, t1 - t0);
  const step =
    [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600].map((s) => s * 1000).find((s) => span / s <= 8) || 1200e3;
  const ticks = [];
  for (let t = 0; t <= span; t += step) {
    const x = scale(t0 + t);
    ticks.push(svg("line", { x1: x, x2: x, y1: AXIS_H - 4, y2: "100%", class: "tick" }));
    ticks.push(svg("text", { x: x + 2, y: 12, class: "tick-label" }, `+${t / 1000}s`));
  }
  return svg(
    "g",
    {},
    svg("rect", { x: LABEL_W, y: 0, width: width - LABEL_W, height: AXIS_H, class: "axis" }),
    ticks,
  );
}

function zoneBands(rows, scale, subtasks, now) {
  const bands = [];
  let y = AXIS_H;
  for (const zone of [...new Set(rows.map((r) => r.zone))]) {
    const count = rows.filter((r) => r.zone === zone).length;
    const times = subtasks.filter((s) => s.zone === zone).flatMap((s) => runsOf(s, now));
    const start = Math.min(...times.map((r) => r.start));
    const end = Math.max(...times.map((r) => r.end));
    const title = `${zone}: ${clock(start)} → ${clock(end)} (${secs(end - start)})`;
    bands.push(svg("rect", { x: 0, y, width: "100%", height: count * ROW, class: "zone-band" }));
    if (isFinite(start))
      bands.push(
        svg(
          "rect",
          {
            x: scale(start),
            y,
            width: Math.max(2, scale(end) - scale(start)),
            height: count * ROW,
            class: "zone-span",
            "data-zone": zone,
          },
          svg("title", {}, title),
        ),
      );
    bands.push(svg("text", { x: 4, y: y + 15, class: "zone-name" }, zone));
    y += count * ROW;
  }
  return bands;
}

function serverRow(row, i, scale, now) {
  const y = AXIS_H + i * ROW;
  const parts = [svg("text", { x: 52, y: y + 15, class: "server-name" }, row.label)];
  if (row.down) {
    const d = row.down;
    const what = d.open ? "not answering yet" : "answering again";
    const title = `${row.label}: stop sent ${clock(d.start)} → ${what} ${clock(d.end)} — down ${secs(d.end - d.start)}`;
    const x = scale(d.start);
    const down = svg(
      "rect",
      {
        x,
        y: y + 2,
        width: Math.max(2, scale(d.end) - x),
        height: ROW - 4,
        class: "down" + (d.open ? " open" : ""),
        "data-server": row.id,
      },
      svg("title", {}, title),
    );
    parts.push(
      down,
      svg("text", { x: scale(d.end) + 4, y: y + 15, class: "down-label" }, secs(d.end - d.start)),
    );
  }
  for (const s of row.steps) {
    for (const r of runsOf(s, now)) {
      const title = `${s.name} (run ${r.run}, ${r.status}): ${clock(r.start)} → ${clock(r.end)} (${secs(r.end - r.start)})`;
      parts.push(bar(scale(r.start), y + 5, scale(r.end) - scale(r.start), "run " + r.status, title));
    }
  }
  return svg("g", { class: "server-row", "data-server": row.id, "data-zone": row.zone }, parts);
}

function totals(rows, task, outcome, t0, t1) {
  const downs = rows.filter((r) => r.down).map((r) => r.down.end - r.down.start);
  const figure = outcome && outcome.availability;
  return h(
    "p",
    { class: "timeline-totals", id: "timeline-totals" },
    `${rows.length} servers · down ${secs(downs.reduce((a, b) => a + b, 0))} in all, longest ${secs(Math.max(0, ...downs))}`,
    ` · ${task.finishTime ? "took" : "running for"} ${secs(t1 - t0)}`,
    figure ? ` · longest time with no observer answering: ${figure.longestOutageSeconds.toFixed(1)} s` : null,
  );
}

// Draws (again) the timeline of a task into `box`; nothing when no subtask names a server.
export function drawTimeline(box, task, servers, outcome) {
  const now = Date.now();
  const subtasks = task.subtasks || [];
  const rows = serverRows(subtasks, servers, now).sort(
    (a, b) => a.zone.localeCompare(b.zone) || a.label.localeCompare(b.label, undefined, { numeric: true }),
  );
  box.hidden = rows.length === 0;
  if (!rows.length) return;
  const scroll = box.querySelector(".timeline-scroll");
  const t0 = ms(task.startTime) ?? Math.min(...subtasks.map((s) => ms(s.startTime) ?? now));
  const t1 = ms(task.finishTime) ?? now;
  // The chart fills its card (less its padding); a narrow card scrolls it sideways.
  const width = Math.max(420, (scroll ? scroll.clientWidth : box.clientWidth - 24) || 800);
  const scale = (t) => LABEL_W + ((t - t0) / Math.max(1, t1 - t0)) * (width - LABEL_W - 56);
  const height = AXIS_H + rows.length * ROW + 4;
  const chart = svg(
    "svg",
    {
      width,
      height,
      class: "timeline",
      id: "timeline-svg",
      role: "img",
      "aria-label": "When each server was down",
    },
    zoneBands(rows, scale, subtasks, now),
    axis(scale, t0, t1, width),
    rows.map((r, i) => serverRow(r, i, scale, now)),
  );
  put(box, totals(rows, task, outcome, t0, t1), h("div", { class: "timeline-scroll" }, chart));
}
