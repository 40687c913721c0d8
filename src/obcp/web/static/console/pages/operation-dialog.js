// The confirmation of an operation: its mode (and zones) and the DAG a dry run says would run. Confirm
// stays disabled until a dry run succeeds; it sends the same body without dryRun and opens the new task.
import { api } from "../api.js";
import { drawDag } from "../dag.js";
import { modelOf } from "../dag-model.js";
import { h, put } from "../dom.js";
import { route } from "../router.js";

const dialog = document.getElementById("confirm");
let previewCy = null;

// A restart's mode and zones (`checked`: the zones ticked at first, default all); answers the body of the
// request, for a dry run or for real.
function restartOptions(options, zones, checked, onChange) {
  const mode = h(
    "select",
    { id: "confirm-mode", onchange: onChange },
    h("option", { value: "ROLLING" }, "Rolling: one zone after another"),
    h("option", { value: "FORCE" }, "Force: all selected zones at once"),
  );
  options.append(h("label", {}, "Mode ", mode));
  const zoneBoxes = [];
  for (const z of zones || []) {
    const on = !checked || checked.includes(z);
    const box = h("input", {
      type: "checkbox",
      value: z,
      checked: on,
      "data-zone-box": z,
      onchange: onChange,
    });
    zoneBoxes.push(box);
    options.append(h("label", {}, box, " ", z));
  }
  return (b) => {
    b.restartMode = mode.value;
    if (zoneBoxes.length && zoneBoxes.some((x) => !x.checked)) {
      b.zoneNames = zoneBoxes.filter((x) => x.checked).map((x) => x.value);
    }
  };
}

function renderPreview(target, data) {
  const subtasks = data && (data.subtasks || data.tasks);
  if (previewCy) {
    previewCy.destroy();
    previewCy = null;
  }
  if (!Array.isArray(subtasks) || !subtasks.length) {
    put(target, h("pre", {}, JSON.stringify(data, null, 2)));
    return;
  }
  const box = h("div", { class: "dag", id: "preview-dag" });
  const how = [data.restartMode, (data.zoneNames || []).length ? "zones " + data.zoneNames.join(", ") : null]
    .filter(Boolean)
    .join(", ");
  put(
    target,
    h(
      "p",
      { class: "muted", id: "preview-summary" },
      `${data.name || "Task"}${how ? " (" + how + ")" : ""}: ${subtasks.length} subtasks`,
    ),
    box,
  );
  const pending = subtasks.map((s) => ({ ...s, status: s.status || "PENDING" }));
  previewCy = drawDag(box, modelOf(pending, new Map(), new Map()).elements, () => {});
}

function refusedDryRun(e) {
  return h(
    "p",
    { class: "error", id: "dry-run-error" },
    "The dry run was refused, so there is nothing to confirm: " +
      e.message +
      (e.code ? ` (code ${e.code}, HTTP ${e.status})` : ` (HTTP ${e.status})`),
  );
}

// op: {title, path, op, restart, zones, checkedZones, note}
export function confirmOperation(op) {
  const options = document.getElementById("confirm-options");
  const preview = document.getElementById("confirm-preview");
  const error = document.getElementById("confirm-error");
  const ok = document.getElementById("confirm-ok");
  document.getElementById("confirm-title").textContent = op.title;
  document.getElementById("confirm-text").textContent =
    (op.note ? op.note + " " : "") +
    (op.restart ? "Choose the mode. Nothing runs until you confirm." : "Nothing runs until you confirm.");
  error.hidden = true;
  put(options);
  const addOptions = op.restart
    ? restartOptions(options, op.zones, op.checkedZones, () => dryRun())
    : () => {};
  const body = (dry) => {
    const b = {};
    addOptions(b);
    if (dry) b.dryRun = true;
    return b;
  };
  let asked = 0; // only the answer to the newest dry run counts
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
      put(preview, refusedDryRun(e));
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
