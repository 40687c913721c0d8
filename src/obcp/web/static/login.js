"use strict";
// The login form: POST /api/v2/iam/login sets the HttpOnly session cookie and the readable CSRF cookie.
(function () {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const body = {
      username: document.getElementById("username").value,
      password: document.getElementById("password").value,
    };
    let answer = null;
    try {
      const response = await fetch("/api/v2/iam/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-Requested-With": "obcp-console" },
        body: JSON.stringify(body),
      });
      answer = await response.json().catch(() => null);
      if (response.ok && answer && answer.successful) {
        const next = new URLSearchParams(location.search).get("next") || "";
        // Only an in-page route: never an address another site could pass in.
        location.href = "/" + (next.startsWith("#/") ? next : "");
        return;
      }
    } catch (e) {
      answer = { error: { message: "The server cannot be reached." } };
    }
    const status = answer && answer.status;
    error.textContent = status === 401
      ? "Wrong user name or password."
      : (answer && answer.error && answer.error.message) || "Logging in failed.";
    error.hidden = false;
  });
})();
