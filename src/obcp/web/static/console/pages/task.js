// One task, live: its DAG, its subtasks as a list, and a side panel for the selected subtask; Retry task
// and Roll back for a FAILED task. Updates come from the event stream (or polling, see live.js).
import { api } from "../api.js";
import { STATES } from "../dag.js";
import { h, put, stateBadge, took, when } from "../dom.js";
import { watchTask } from "../live.js";
import { onLeave, route, view } from "../router.js";
import { can } from "../user.js";
import { serversOf } from "../subjects.js";
import { SubtaskList } from "./subtask-list.js";
import { drawTimeline } from "../timeline.js";
import { renderOutcome } from "./task-outcome.js";
import { SubtaskPanel } from "./subtask-panel.js";
import { TaskGraph } from "./task-graph.js";

function layout(onFit, onReadable) {
  const parts = {
    head: h("div", { class: "head" }),
    headNote: h("p", { class: "error", id: "task-action-error", role: "alert", hidden: true }),
    facts: h("div", { class: "facts card" }),
    outcome: h("section", { class: "card outcome", id: "outcome", hidden: true }),
    timeline: h("section", { class: "card timeline-card", id: "timeline", hidden: true }),
    dagBox: h("div", { class: "dag", id: "dag", role: "img", "aria-label": "The task's DAG" }),
    live: h("span", { class: "live", id: "live" }, "connecting…"),
    side: h(
      "aside",
      { class: "side card", id: "side" },
      h("p", { class: "muted" }, "Select a subtask in the graph or the list."),
    ),
    list: h("tbody", {}),
  };
  const button = (id, title, label, onclick) =>
    h("button", { type: "button", class: "small", id, title, onclick }, label);
  const legend = h(
    "div",
    { class: "legend" },
    STATES.map(stateBadge),
    h("span", { class: "spacer" }),
    button("dag-fit", "Show the whole DAG", "Fit", onFit),
    button("dag-start", "Readable size", "Readable size", onReadable),
    parts.live,
  );
  const columns = ["Id", "Subtask", "On", "Status", "Runs"].map((c) => h("th", {}, c));
  const table = h(
    "table",
    { id: "subtasks" },
    h("thead", {}, h("tr", {}, columns, h("th", { class: "hide-narrow" }, "Took"))),
    parts.list,
  );
  put(
    view,
    h("p", {}, h("a", { href: "#/tasks" }, "← Tasks")),
    parts.head,
    parts.headNote,
    parts.facts,
    parts.outcome,
    h(
      "div",
      { class: "task-grid" },
      h(
        "div",
        {},
        h(
          "div",
          { class: "dag-row" },
          h("div", { class: "card dag-card" }, parts.dagBox, legend),
          parts.timeline,
        ),
        h(
          "details",
          { class: "list card", open: true },
          h("summary", {}, "Subtasks as a list"),
          h("div", { class: "table-wrap" }, table),
        ),
      ),
      parts.side,
    ),
  );
  return parts;
}

function renderFacts(facts, task) {
  const done = (task.subtasks || []).filter((s) => s.status === "SUCCESSFUL").length;
  const fact = (label, value, attrs) =>
    h("span", attrs || {}, h("span", { class: "muted" }, label + " "), value);
  put(
    facts,
    fact(
      "Cluster",
      task.cluster ? h("a", { href: `#/clusters/${task.cluster.id}` }, task.cluster.name) : "—",
    ),
    fact("Creator", task.creator ? task.creator.name : "—"),
    fact("Started", when(task.startTime)),
    fact("Finished", when(task.finishTime)),
    fact("Took", took(task.startTime, task.finishTime)),
    fact(
      "Progress",
      h("span", { id: "progress" }, `${done} of ${(task.subtasks || []).length} subtasks successful`),
    ),
  );
}

// Retry task and Roll back (unless the task prohibits it) for a FAILED task; act(what, action) runs one.
function taskActions(task, act) {
  if (task.status !== "FAILED") return [];
  const button = (id, cls, label, what, action) =>
    h("button", { type: "button", id, class: cls, onclick: () => act(what, action) }, label);
  const actions = [button("task-retry", "primary", "Retry task", "retry the task", "/retry")];
  if (!task.prohibitRollback) {
    actions.push(button("task-rollback", "danger", "Roll back", "roll the task back", "/rollback"));
  }
  return actions;
}

function renderTaskHead(parts, task, actions) {
  put(
    parts.head,
    h("h1", {}, `Task #${task.id} ${task.name}`),
    h("span", { id: "task-status" }, stateBadge(task.status)),
    task.operation && task.operation !== "EXECUTE" ? h("span", { class: "muted" }, task.operation) : null,
    h("div", { class: "actions" }, actions),
  );
  renderFacts(parts.facts, task);
}

// For the browser tests (and anyone curious): the drawn graph and the task it shows. Answers the function
// that takes them away again.
function expose(graph, task) {
  const hook = {
    get cy() {
      return graph.cy;
    },
    task,
  };
  window.obcpConsole = hook;
  return () => {
    if (window.obcpConsole === hook) window.obcpConsole = null;
  };
}

// True when next has exactly the subtasks of task (a submitted task's DAG never changes).
function sameSubtasks(task, next) {
  const known = new Set((task.subtasks || []).map((s) => s.id));
  const subtasks = next.subtasks || [];
  return subtasks.length === known.size && subtasks.every((s) => known.has(s.id));
}

export async function taskPage(id) {
  let task = await api("GET", `/api/v2/tasks/instances/${id}`);
  const canUpdate = can(`TASK:${id}:UPDATE`);
  // The graph is drawn into the layout, so it comes after it; its buttons are only clicked once it exists.
  const parts = layout(
    () => graph.fit(),
    () => graph.readableSize(),
  );

  // A refused action says why next to its button: in the side panel for a subtask, under the title for the task.
  async function act(what, path, note) {
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

  const renderHead = () => {
    const base = `/api/v2/tasks/instances/${id}`;
    const actions = canUpdate
      ? taskActions(task, (what, action) => act(what, base + action, parts.headNote))
      : [];
    renderTaskHead(parts, task, actions);
    renderOutcome(parts.outcome, task, outcome, servers, canUpdate, (what, path) =>
      act(what, path, parts.headNote),
    );
    drawTimeline(parts.timeline, task, servers, outcome);
  };

  const renderList = () => list.render(task, servers, panel.selected);

  function select(sid) {
    panel.select(task, sid, servers);
    renderList();
    graph.select(sid);
  }

  function apply(next) {
    if (!sameSubtasks(task, next)) {
      task = next;
      route(); // the DAG itself changed: draw it anew
      return;
    }
    task = next;
    if (next.outcome) outcome = next.outcome;
    graph.update(task.subtasks || []);
    renderHead();
    renderList();
    panel.update(task);
    openFailure();
  }

  // A subtask that fails opens at once, with its log, unless the user is looking at another failed one.
  let shownFailure = null;
  function openFailure() {
    const failed = (task.subtasks || []).find((s) => s.status === "FAILED");
    const current = (task.subtasks || []).find((s) => s.id === panel.selected);
    if (!failed || failed.id === shownFailure || (current && current.status === "FAILED")) return;
    shownFailure = failed.id;
    select(failed.id);
  }

  const servers = await serversOf(task);
  let outcome = null; // what the event stream measured (availability, START_SERVICE_TIME)
  const panel = new SubtaskPanel(parts.side, id, canUpdate, act);
  const list = new SubtaskList(parts.list, select);
  const graph = new TaskGraph(parts.dagBox, task.subtasks || [], select, servers);
  const hide = expose(graph, () => task);
  onLeave(() => {
    graph.destroy();
    hide();
  });
  renderHead();
  renderList();
  openFailure();
  onLeave(() => panel.stop());
  // While the task runs its timeline's open bars grow with the clock, not only with the task's changes.
  const ticking = setInterval(() => {
    if (task.status === "RUNNING") drawTimeline(parts.timeline, task, servers, outcome);
  }, 1000);
  onLeave(() => clearInterval(ticking));
  onLeave(watchTask(id, apply, parts.live));
}
