// The page that browses the API description: /api/v2/openapi.json grouped by tag, each route with its
// parameters, its JSON body and a curl line. Served by obcp itself, so nothing comes from a CDN.
import { h } from "./console/dom.js";

const root = document.getElementById("root");
const MAX_DEPTH = 6; // the schemas refer to each other; deeper than this they are shown as they are

function resolve(spec, schema, depth) {
  if (!schema || depth > MAX_DEPTH) return schema;
  if (schema.$ref) {
    const target = schema.$ref
      .split("/")
      .slice(1)
      .reduce((o, k) => o[k], spec);
    return resolve(spec, target, depth + 1);
  }
  if (schema.properties) {
    const out = {};
    for (const [k, v] of Object.entries(schema.properties)) out[k] = describe(spec, v, depth + 1);
    return out;
  }
  return describe(spec, schema, depth);
}

function describe(spec, s, depth) {
  if (!s) return "any";
  if (s.$ref) return resolve(spec, s, depth);
  if (s.anyOf) {
    return (
      s.anyOf
        .map((x) => describe(spec, x, depth))
        .filter((x) => x !== "null")
        .join(" | ") || "any"
    );
  }
  if (s.type === "array") return [describe(spec, s.items, depth + 1)];
  let t = s.type || "any";
  if (s.description) t += " — " + s.description;
  return t;
}

function parameterTable(spec, params) {
  const t = h("table", {}, h("tr", {}, h("th", {}, "parameter"), h("th", {}, "in"), h("th", {}, "type")));
  for (const p of params) {
    const type = JSON.stringify(describe(spec, p.schema, 0)) + (p.required ? " (required)" : "");
    t.append(h("tr", {}, h("td", {}, h("code", {}, p.name)), h("td", {}, p.in), h("td", {}, type)));
  }
  return t;
}

function operation(spec, method, path, op) {
  const body = h("div", { class: "body" });
  const params = op.parameters || [];
  if (params.length) body.append(parameterTable(spec, params));
  const rb = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
  if (rb)
    body.append(
      h("div", {}, "JSON body:"),
      h("pre", {}, JSON.stringify(resolve(spec, rb.schema, 0), null, 2)),
    );
  const curl =
    `curl -s --user admin:PASSWORD -X ${method} 'http://${location.host}${path}'` +
    (rb ? " -H 'Content-Type: application/json' -d '{…}'" : "");
  body.append(h("pre", {}, curl));
  const summary = h(
    "summary",
    {},
    h("span", { class: "m " + method }, method),
    h("code", {}, path),
    h("span", { class: "perm" }, op.summary || ""),
  );
  return h("details", {}, summary, body);
}

function render(spec) {
  root.textContent = "";
  root.append(
    h(
      "p",
      {},
      spec.info.description || "",
      " Version ",
      spec.info.version,
      ". ",
      "Authenticate with HTTP Basic (curl --user name:password).",
    ),
  );
  const byTag = {};
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = (op.tags && op.tags[0]) || "other";
      (byTag[tag] = byTag[tag] || []).push([method.toUpperCase(), path, op]);
    }
  }
  for (const [tag, ops] of Object.entries(byTag)) {
    root.append(h("h2", {}, tag));
    for (const [method, path, op] of ops) root.append(operation(spec, method, path, op));
  }
}

fetch("/api/v2/openapi.json")
  .then((r) => r.json())
  .then(render)
  .catch((err) => {
    root.textContent = "Could not load /api/v2/openapi.json: " + err;
  });
