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
  const failure = (answer && answer.error) || {};
  // 3004 says how many tries are left; 3003 (locked) and 3014 (address restricted) are shown as they are.
  const tries = failure.code === 3004 ? (failure.message || "").match(/You can retry .*$/) : null;
  if (failure.code === 3003 || failure.code === 3014) {
    error.textContent = failure.message;
  } else if (status === 401) {
    error.textContent = "Wrong user name or password." + (tries ? ` ${tries[0]}` : "");
  } else {
    error.textContent = failure.message || "Logging in failed.";
  }
  error.hidden = false;
});
