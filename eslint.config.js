// ESLint for the web console's own scripts (ES modules run by the browser as written, no build step); the
// vendored cytoscape and dagre are left as they were published.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["src/obcp/web/static/vendor/", "node_modules/", ".venv/"] },
  {
    files: ["src/obcp/web/static/**/*.js"],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      // cytoscape comes from a classic script loaded before the modules.
      globals: { ...globals.browser, cytoscape: "readonly" },
    },
  },
  {
    files: ["eslint.config.js"],
    ...js.configs.recommended,
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.node },
  },
];
