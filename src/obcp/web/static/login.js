// The login form: POST /api/v2/iam/login sets the HttpOnly session cookie and the readable CSRF cookie.
import { request } from "./console/api.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

// Where to go once logged in: only an in-page route, never an address another site could pass in.
function next() {
  const route = new URLSearchParams(location.search).get("next") || "";
  return "/" + (route.startsWith("#/") ? route : "");
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const body = {
    username: document.getElementById("username").value,
    password: document.getElementById("password").value,
  };
  let answer;
  try {
    const exchange = await request("POST", "/api/v2/iam/login", body);
    answer = exchange.answer;
    if (exchange.response.ok && answer && answer.successful) {
      location.href = next();
      return;
    }
  } catch {
    answer = { error: { message: "The server cannot be reached." } };
  }
  const status = answer && answer.status;
  error.textContent =
    status === 401
      ? "Wrong user name or password."
      : (answer && answer.error && answer.error.message) || "Logging in failed.";
  error.hidden = false;
});
