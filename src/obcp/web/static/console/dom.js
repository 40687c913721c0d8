// Plain DOM building, no framework: `h` makes an element, `put` replaces what a container holds.
import { ApiError } from "./api.js";

// Attributes named on* become listeners; null, undefined and false attributes and children are left out.
export function h(tag, attrs, ...children) {
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

export function put(target, ...children) {
  target.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

// A task's or subtask's state (PENDING … SUCCESSFUL): solid badges, the state in words.
export function stateBadge(state) {
  return h("span", { class: "state " + state, "data-state": state }, state);
}

// The health of a cluster, zone or server by what its status means; a status not listed reads as idle.
const HEALTH = {
  RUNNING: "ok",
  UNAVAILABLE: "trouble",
  ABNORMAL: "trouble",
  STOPPED: "idle",
  SERVICE_STOPPED: "idle",
  PROCESS_STOPPED: "idle",
  DELETED: "idle",
};
const MEANING = {
  ok: "healthy",
  progress: "an operation is in progress",
  trouble: "needs attention",
  idle: "stopped",
};

export function healthOf(status) {
  if (HEALTH[status]) return HEALTH[status];
  return /ING$/.test(status || "") ? "progress" : "idle";
}

// A cluster's, zone's or server's status: light badges (a task's are solid), the status in words and its
// meaning in the title, so a healthy RUNNING never looks like a RUNNING task.
export function healthBadge(status) {
  const tone = healthOf(status);
  return h(
    "span",
    { class: "health " + tone, "data-health": tone, "data-status": status, title: MEANING[tone] },
    status || "UNKNOWN",
  );
}

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

export function took(start, finish) {
  if (!start) return "—";
  const ms = (finish ? new Date(finish) : new Date()) - new Date(start);
  if (!(ms >= 0)) return "—";
  if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
  return Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
}

export function showError(target, error) {
  const text =
    error instanceof ApiError
      ? `${error.message}${error.code ? " (code " + error.code + ", HTTP " + error.status + ")" : ""}`
      : String(error && error.message ? error.message : error);
  put(target, h("p", { class: "error", role: "alert" }, text));
}
