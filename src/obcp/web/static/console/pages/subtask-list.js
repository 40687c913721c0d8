// The subtasks as a list, grouped by zone (the steps of no zone under "Cluster"): each group a header row
// with its progress and state counts that folds and opens it. A large task opens only the groups where work
// is going on (or failed); the user's choice wins from then on.
import { LARGE_TASK, stateCounts, zonesById } from "../dag-model.js";
import { h, put, stateBadge, took } from "../dom.js";
import { subjectOf } from "../subjects.js";

const ACTIVE = ["READY", "RUNNING", "CANCELING", "FAILED"];

function groupsOf(subtasks) {
  const zoneById = zonesById(subtasks);
  const groups = new Map();
  for (const s of subtasks) {
    const key = zoneById.get(s.id) || "";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(s);
  }
  return groups;
}

function row(s, servers, selected, select) {
  const name = s.name + (s.parallelIdx >= 0 && s.serverId === undefined ? ` #${s.parallelIdx}` : "");
  return h(
    "tr",
    {
      class: "clickable" + (s.id === selected ? " selected" : ""),
      "data-subtask": s.id,
      "data-state": s.status,
      onclick: () => select(s.id),
    },
    h("td", {}, String(s.id)),
    h("td", {}, h("button", { type: "button", class: "link-like small", "data-open": s.id }, name)),
    h("td", { class: "subject" }, subjectOf(s, servers) || h("span", { class: "muted" }, "—")),
    h("td", {}, stateBadge(s.status)),
    h("td", {}, String(s.runTime ?? "—")),
    h("td", { class: "hide-narrow" }, took(s.startTime, s.finishTime)),
  );
}

export class SubtaskList {
  constructor(tbody, select) {
    this.tbody = tbody;
    this.select = select;
    this.open = new Map(); // group key → opened by the user (true) or folded (false)
  }

  isOpen(key, members, total) {
    if (this.open.has(key)) return this.open.get(key);
    return total <= LARGE_TASK || members.some((s) => ACTIVE.includes(s.status));
  }

  header(key, members, opened, rerender) {
    const done = members.filter((s) => s.status === "SUCCESSFUL").length;
    const toggle = () => {
      this.open.set(key, !opened);
      rerender();
    };
    return h(
      "tr",
      { class: "zone-row", "data-zone": key || "-" },
      h(
        "td",
        { colspan: 6 },
        h(
          "button",
          {
            type: "button",
            class: "link-like zone-toggle",
            "aria-expanded": String(opened),
            onclick: toggle,
          },
          `${opened ? "▾" : "▸"} ${key || "Cluster"} · ${done}/${members.length}`,
        ),
        h("span", { class: "muted counts" }, "  " + stateCounts(members)),
      ),
    );
  }

  render(task, servers, selected) {
    const subtasks = task.subtasks || [];
    const rows = [];
    const rerender = () => this.render(task, servers, selected);
    for (const [key, members] of groupsOf(subtasks)) {
      const opened = this.isOpen(key, members, subtasks.length);
      rows.push(this.header(key, members, opened, rerender));
      if (opened) rows.push(...members.map((s) => row(s, servers, selected, this.select)));
    }
    put(this.tbody, ...rows);
  }
}
