// Pages are routes of the location hash. A page draws into `view` and hands what it must stop when the
// route changes (streams, timers) to `onLeave`.
import { ApiError } from "./api.js";
import { h, put, showError } from "./dom.js";

export const view = document.getElementById("view");
const routes = []; // [pattern, page(match)], the first that matches wins
let cleanup = [];

export function addRoute(pattern, page) {
  routes.push([pattern, page]);
}

export function onLeave(fn) {
  cleanup.push(fn);
}

function leave() {
  for (const fn of cleanup) {
    try {
      fn();
    } catch {
      // A stopped stream may throw; nothing to do.
    }
  }
  cleanup = [];
}

// Draws the page of the current hash (again, when called without a hash change).
export async function route() {
  leave();
  const hash = location.hash || "#/clusters";
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", hash.startsWith("#/" + a.dataset.nav));
  }
  for (const [re, page] of routes) {
    const m = hash.match(re);
    if (m) {
      put(view, h("p", { class: "muted" }, "Loading…"));
      try {
        await page(m);
      } catch (e) {
        // After a 401 the browser is already on its way to the login page.
        if (!(e instanceof ApiError && e.status === 401)) showError(view, e);
      }
      return;
    }
  }
  location.hash = "#/clusters";
}
