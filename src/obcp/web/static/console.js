// obcp web console: clusters, tasks, the live task DAG and personal settings. Plain DOM, no framework and no build step: the
// browser loads these ES modules as they are written. Pages are routes of the location hash.
import { api, ApiError } from "./console/api.js";
import { showError } from "./console/dom.js";
import { auditPage } from "./console/pages/audit.js";
import { clusterPage } from "./console/pages/cluster.js";
import { clustersPage } from "./console/pages/clusters.js";
import { profilePage } from "./console/pages/profile.js";
import { taskPage } from "./console/pages/task.js";
import { tasksPage } from "./console/pages/tasks.js";
import { addRoute, route, view } from "./console/router.js";
import { can, setUser } from "./console/user.js";

addRoute(/^#\/clusters\/(\d+)$/, (m) => clusterPage(Number(m[1])));
addRoute(/^#\/tasks\/(\d+)$/, (m) => taskPage(Number(m[1])));
addRoute(/^#\/tasks(?:\?(.*))?$/, (m) => tasksPage(new URLSearchParams(m[1] || "")));
addRoute(/^#\/clusters$/, () => clustersPage());
addRoute(/^#\/profile$/, () => profilePage());
addRoute(/^#\/audit(?:\?(.*))?$/, (m) => auditPage(new URLSearchParams(m[1] || "")));

document.getElementById("logout").addEventListener("click", async () => {
  try {
    await api("POST", "/api/v2/iam/logout");
  } finally {
    location.href = "/login";
  }
});

async function start() {
  let me;
  try {
    me = await api("GET", "/api/v2/iam/current/user");
  } catch (e) {
    // After a 401 the browser is already on its way to the login page.
    if (!(e instanceof ApiError && e.status === 401)) showError(view, e);
    return;
  }
  setUser(me);
  // Only for those who may read it (AUDIT:*:READ, OCP's AUDIT_VIEWER); the API checks every call anyway.
  document.querySelector("[data-nav=audit]").hidden = !can("AUDIT:*:READ");
  document.getElementById("who").textContent = me.username;
  window.addEventListener("hashchange", route);
  await route();
  // For the load-time test (and anyone curious): when the first page was drawn, from navigation start.
  performance.mark("obcp-ready");
  document.body.dataset.ready = "1";
}

start();
