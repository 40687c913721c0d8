// The side panel of the selected subtask: its state, runs, times, last error, the actions its state and the
// user's permissions allow, and its log, read again every second while it runs.
import { api } from "../api.js";
import { h, put, stateBadge, took, when } from "../dom.js";
import { subjectOf, subtaskTitle } from "../subjects.js";

const LOG_REFRESH_MS = 1000;

function facts(s, servers) {
  return h(
    "dl",
    { class: "kv" },
    h("dt", {}, "On"),
    h("dd", { id: "side-subject" }, subjectOf(s, servers) || "—"),
    h("dt", {}, "Runs"),
    h("dd", { id: "side-runs" }, String(s.runTime ?? "—")),
    h("dt", {}, "Operation"),
    h("dd", {}, s.operation || "—"),
    h("dt", {}, "Started"),
    h("dd", {}, when(s.startTime)),
    h("dt", {}, "Finished"),
    h("dd", {}, when(s.finishTime)),
    h("dt", {}, "Took"),
    h("dd", {}, took(s.startTime, s.finishTime)),
    h("dt", {}, "Executor"),
    h("dd", {}, s.executor || "—"),
    h("dt", {}, "Timeout"),
    h("dd", {}, s.timeout ? s.timeout + " s" : "—"),
  );
}

export class SubtaskPanel {
  // act(what, path, note) runs an action and says in `note` why it was refused.
  constructor(side, taskId, canUpdate, act) {
    this.side = side;
    this.taskId = taskId;
    this.canUpdate = canUpdate;
    this.act = act;
    this.task = null;
    this.selected = null;
    this.servers = new Map();
    this.logTimer = null;
    this.logFor = null; // "id:status" the log was last read for
  }

  subtask() {
    return (this.task.subtasks || []).find((x) => x.id === this.selected);
  }

  actions(s) {
    if (!this.canUpdate) return [];
    const base = `/api/v2/tasks/instances/${this.taskId}/subtasks/${s.id}`;
    const button = (id, cls, label, what, action) =>
      h(
        "button",
        {
          type: "button",
          id,
          class: cls,
          onclick: () => this.act(what, base + action, document.getElementById("action-error")),
        },
        label,
      );
    const actions = [];
    if (s.status === "FAILED") {
      actions.push(button("subtask-retry", "primary", "Retry", "retry the subtask", "/retry"));
      actions.push(button("subtask-skip", null, "Skip", "skip the subtask", "/skip"));
    }
    if (s.status === "RUNNING")
      actions.push(button("subtask-cancel", "danger", "Cancel", "cancel the subtask", "/cancel"));
    return actions;
  }

  render() {
    const s = this.subtask();
    if (!s) return;
    const actions = this.actions(s);
    // The log element is kept across renders, so its scroll position and text stay while the task runs.
    const log = this.side.querySelector("pre.log") || h("pre", { class: "log", id: "subtask-log" }, "…");
    put(
      this.side,
      h("h2", { id: "side-title" }, subtaskTitle(s, this.servers)),
      h("div", {}, stateBadge(s.status), " ", h("span", { class: "muted" }, `subtask ${s.id}`)),
      facts(s, this.servers),
      s.error ? h("p", { class: "error", id: "side-error" }, s.error) : null,
      actions.length ? h("div", { class: "actions", id: "side-actions" }, actions) : null,
      h("p", { class: "error", id: "action-error", hidden: true }),
      h("h3", {}, "Log"),
      log,
    );
  }

  async loadLog() {
    const s = this.subtask();
    if (!s) return;
    const pre = this.side.querySelector("pre.log");
    try {
      const data = await api("GET", `/api/v2/tasks/instances/${this.taskId}/subtasks/${s.id}/log`);
      if (!pre || this.selected !== s.id) return;
      const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      pre.textContent = data.log || "(no log yet)";
      if (stick) pre.scrollTop = pre.scrollHeight;
    } catch (e) {
      if (pre) pre.textContent = "The log cannot be read: " + e.message;
    }
  }

  scheduleLog() {
    clearInterval(this.logTimer);
    const s = this.subtask();
    // A running subtask's log grows: read it again every second while it runs.
    if (s && (s.status === "RUNNING" || s.status === "CANCELING")) {
      this.logTimer = setInterval(() => this.loadLog(), LOG_REFRESH_MS);
    }
  }

  logKey() {
    return this.selected + ":" + (this.subtask() || {}).status;
  }

  select(task, sid, servers) {
    this.task = task;
    if (servers) this.servers = servers;
    this.selected = sid;
    this.logFor = null;
    const pre = this.side.querySelector("pre.log");
    if (pre) pre.remove();
    this.render();
    this.loadLog();
    this.scheduleLog();
    // On a narrow screen the panel is under the graph and the list: bring it into view.
    if (window.matchMedia("(max-width: 820px)").matches) this.side.scrollIntoView({ block: "start" });
    this.logFor = this.logKey();
  }

  // The task in a new state: the log is read again when the selected subtask's state changed.
  update(task) {
    this.task = task;
    if (this.selected === null) return;
    this.render();
    const key = this.logKey();
    if (key !== this.logFor) {
      this.logFor = key;
      this.loadLog();
      this.scheduleLog();
    }
  }

  stop() {
    clearInterval(this.logTimer);
  }
}
