// The task page's DAG. Drawn once and then only its nodes' data change, unless what is drawn changes: a
// zone or fan-out folded or opened (by the user, or — on a large task — as work moves from zone to zone),
// or the event stream naming the zones and servers the task JSON does not carry. When only part of it
// fits, it keeps the running (or failed) steps in view until the user drags or zooms it.
import { drawDag, show } from "../dag.js";
import { modelOf } from "../dag-model.js";

const FOLLOWED = ["RUNNING", "CANCELING", "FAILED"];

export class TaskGraph {
  constructor(box, subtasks, onSelect, servers) {
    this.box = box;
    this.onSelect = onSelect;
    this.servers = servers;
    this.subtasks = subtasks;
    this.open = new Map(); // zone or fan-out id → opened (true) or folded (false) by the user
    this.userMoved = false;
    this.selected = null;
    this.draw();
    // The box changes size when the timeline appears beside it (with the first event): fit again.
    this.resizes = new ResizeObserver(() => {
      this.cy.resize();
      if (this.userMoved) return;
      show(this.cy, this.box);
      this.follow();
    });
    this.resizes.observe(box);
    box.addEventListener("pointermove", (e) => {
      if (e.buttons) this.userMoved = true;
    });
    box.addEventListener(
      "wheel",
      () => {
        this.userMoved = true;
      },
      { passive: true },
    );
  }

  draw() {
    const model = modelOf(this.subtasks, this.open, this.servers);
    if (this.cy) this.cy.destroy();
    this.shape = model.shape;
    this.cy = drawDag(this.box, model.elements, this.onSelect, (id) => this.toggle(id));
    if (this.selected !== null) this.cy.$id("s" + this.selected).select();
    this.follow();
  }

  // A folded node opens; an open zone or fan-out folds when its box is tapped.
  toggle(id) {
    const node = this.cy.$id(id);
    this.open.set(id, Boolean(node.data("fold")));
    this.userMoved = false;
    // Not inside the tap's own dispatch: the drawing destroys the core that dispatches it. When only part
    // of the graph fits, what was just opened (or folded) is what the user wants to see.
    setTimeout(() => {
      this.draw();
      if (this.box.dataset.cropped === "1" && this.cy.$id(id).length) this.cy.center(this.cy.$id(id));
    }, 0);
  }

  follow() {
    if (this.userMoved || this.box.dataset.cropped !== "1") return;
    const active = this.cy.nodes("[w]").filter((n) => FOLLOWED.includes(n.data("status")));
    if (active.length) this.cy.center(active);
  }

  fit() {
    show(this.cy, this.box, true);
  }

  readableSize() {
    this.userMoved = false;
    show(this.cy, this.box);
    this.follow();
  }

  select(sid) {
    this.selected = sid;
    this.cy.$("node:selected").unselect();
    this.cy.$id("s" + sid).select();
  }

  // The same subtasks in new states (and perhaps with their zones and servers): drawn anew only when what
  // is drawn changed, otherwise each node takes its new state and label where it is.
  update(subtasks, servers) {
    this.subtasks = subtasks;
    if (servers) this.servers = servers;
    const model = modelOf(subtasks, this.open, this.servers);
    if (model.shape !== this.shape) {
      this.draw();
      return;
    }
    this.cy.batch(() => {
      for (const e of model.elements) {
        const node = this.cy.$id(e.data.id);
        if (node.data("label") !== e.data.label || node.data("status") !== e.data.status)
          node.data({ status: e.data.status, label: e.data.label });
      }
    });
    this.follow();
  }

  destroy() {
    this.resizes.disconnect();
    this.cy.destroy();
  }
}
