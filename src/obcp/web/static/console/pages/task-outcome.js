// What a task came to, at the top of its page: the availability obcp measured while it ran, each restarted
// server's START_SERVICE_TIME before → after (a new process has another), and for a failure the failing
// subtask's message with Retry / Roll back / Skip — only for a user who may update the task (the API checks
// again), each after a confirmation. The figures come with the event stream (`outcome`).
import { h, put } from "../dom.js";
import { subjectOf, serverLabel } from "../subjects.js";

// START_SERVICE_TIME is in microseconds since the epoch.
function serviceTime(us) {
  if (!us) return "—";
  const d = new Date(Math.floor(us / 1000));
  return (
    d.toLocaleString([], { hour12: false }) + "." + String(Math.floor(us / 1000) % 1000).padStart(3, "0")
  );
}

function availabilityLine(figure) {
  if (!figure) return null;
  const unobserved = figure.unobservedSeconds
    ? `; not watched for ${figure.unobservedSeconds.toFixed(1)} s`
    : "";
  return h(
    "p",
    { id: "outcome-availability", class: "figure" },
    h("strong", {}, `Longest time with no observer answering: ${figure.longestOutageSeconds.toFixed(1)} s`),
    h(
      "span",
      { class: "muted" },
      ` (${figure.probeRounds} probe rounds every ${figure.probeIntervalMillis} ms, ` +
        `${figure.roundsWithoutAnswer} without any answer${unobserved}${figure.finished ? "" : "; still measuring"})`,
    ),
  );
}

function serviceTimes(times, servers) {
  if (!times || !times.length) return null;
  const rows = times.map((t) =>
    h(
      "tr",
      { "data-server": t.serverId },
      h("td", { class: "subject" }, serverLabel({ serverId: t.serverId }, servers)),
      h("td", {}, serviceTime(t.before)),
      h("td", {}, serviceTime(t.after)),
      h("td", {}, t.after ? (t.after !== t.before ? "✓ a new process" : "✗ the same process") : "—"),
    ),
  );
  const head = ["Server", "START_SERVICE_TIME before", "after", ""].map((c) => h("th", {}, c));
  const renewed = times.filter((t) => t.after && t.after !== t.before).length;
  return h(
    "details",
    { class: "service-times" },
    h(
      "summary",
      { id: "outcome-renewed" },
      `${renewed} of ${times.length} servers serve SQL as a new process (START_SERVICE_TIME before → after)`,
    ),
    h("table", { id: "outcome-service-times" }, h("thead", {}, h("tr", {}, head)), h("tbody", {}, rows)),
  );
}

// The failing subtask, what it said, and what can be done about it.
function failure(task, servers, canUpdate, act) {
  const failed = (task.subtasks || []).find((s) => s.status === "FAILED");
  if (task.status !== "FAILED" || !failed) return null;
  const base = `/api/v2/tasks/instances/${task.id}`;
  const button = (id, cls, label, what, path) =>
    h(
      "button",
      {
        type: "button",
        id,
        class: cls,
        onclick: () => {
          if (window.confirm(`${label}: ${what}?`)) act(what, path);
        },
      },
      label,
    );
  const actions = canUpdate
    ? [
        button(
          "outcome-retry",
          "primary",
          "Retry",
          `retry “${failed.name}”`,
          `${base}/subtasks/${failed.id}/retry`,
        ),
        task.prohibitRollback
          ? null
          : button("outcome-rollback", "danger", "Roll back", "roll the task back", `${base}/rollback`),
        button(
          "outcome-skip",
          null,
          "Skip",
          `skip “${failed.name}” and go on`,
          `${base}/subtasks/${failed.id}/skip`,
        ),
      ]
    : [];
  const subject = subjectOf(failed, servers);
  return h(
    "div",
    { class: "failure", id: "outcome-failure", role: "alert" },
    h("strong", {}, `✗ ${failed.name}${subject ? " on " + subject : ""} failed`),
    h("pre", { class: "failure-message", id: "outcome-error" }, failed.error || "(no message)"),
    actions.length ? h("div", { class: "actions" }, actions) : null,
  );
}

export function renderOutcome(box, task, outcome, servers, canUpdate, act) {
  const parts = [
    failure(task, servers, canUpdate, act),
    availabilityLine(outcome && outcome.availability),
    serviceTimes(outcome && outcome.serviceTimes, servers),
  ].filter(Boolean);
  box.hidden = parts.length === 0;
  put(box, ...parts);
}
