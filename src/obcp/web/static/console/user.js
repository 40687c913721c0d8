// The logged-in user, so that pages only show the buttons the user may use. The API checks every call
// itself: a button that is not shown cannot be forged into a success.

let me = null; // GET /api/v2/iam/current/user, with `permissions`

export function setUser(user) {
  me = user;
}

// OCP permission expressions, as obcp.iam.permissions.allows: `*` one segment (or all below when last), `**` all.
function granted(g, need) {
  for (let i = 0; i < g.length; i++) {
    if (g[i] === "**") return true;
    if (i >= need.length) return false;
    if (g[i] === "*") {
      if (i === g.length - 1) return true;
      continue;
    }
    if (g[i].toUpperCase() !== need[i].toUpperCase()) return false;
  }
  return g.length === need.length;
}

export function can(permission) {
  const need = permission.split(":");
  return !!me && (me.permissions || []).some((p) => granted(p.split(":"), need));
}
