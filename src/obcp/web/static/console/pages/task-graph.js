// The task page's DAG: drawn once, then only its nodes' data change. When only part of it fits, it keeps
// the running (or failed) steps in view until the user drags or zooms it.
import { drawDag, nodeLabel, show, zoneOf } from "../dag.js";

const FOLLOWED = ["RUNNING", "CANCELING", "FAILED"];

export class TaskGraph {
  constructor(box, subtasks, onSelect) {
    this.box = box;
    this.onSelect = onSelect;
    this.userMoved = false;
    this.cy = drawDag(box, subtasks, onSelect);
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
    this.follow();
  }

  follow() {
    if (this.userMoved || this.box.dataset.cropped !== "1") return;
    const active = this.cy.nodes("[sid]").filter((n) => FOLLOWED.includes(n.data("status")));
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
    this.cy.$("node:selected").unselect();
    this.cy.$id("s" + sid).select();
  }

  // The same subtasks in new states. The event stream also names each step's zone; if the first drawing
  // could not box the zones, draw once more with them (at once, before anything has changed), then never again.
  update(subtasks, selected) {
    if (!this.cy.nodes(".zone").length && subtasks.some(zoneOf)) {
      this.cy.destroy();
      this.cy = drawDag(this.box, subtasks, this.onSelect);
      if (selected !== null) this.cy.$id("s" + selected).select();
    }
    this.cy.batch(() => {
      for (const s of subtasks) {
        const node = this.cy.$id("s" + s.id);
        if (node.data("status") !== s.status)
          node.data({ status: s.status, label: nodeLabel(s, node.data("short")) });
      }
    });
    this.follow();
  }

  destroy() {
    this.cy.destroy();
  }
}
