// The console's API client. Every call goes to the same /api/v2 routes as any client, with the session
// cookie; state-changing calls repeat the CSRF token from the obcp_csrf cookie in X-CSRF-Token.

export class ApiError extends Error {
  constructor(status, error) {
    super((error && error.message) || "HTTP " + status);
    this.status = status;
    this.code = error && error.code;
  }
}

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return "";
}

// One exchange: the response and its JSON answer (null when the body is not JSON). The login page uses it
// as it is; everything else goes through `api`, which unwraps OCP's envelope.
export async function request(method, path, body) {
  // X-Requested-With makes a 401 come without WWW-Authenticate, so the browser pops no password dialog.
  const headers = { Accept: "application/json", "X-Requested-With": "obcp-console" };
  if (method !== "GET") headers["X-CSRF-Token"] = cookie("obcp_csrf");
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => null);
  return { response, answer };
}

export function toLogin() {
  location.href = "/login?next=" + encodeURIComponent(location.hash || "");
}

// The `data` of a successful answer; an ApiError otherwise. A 401 (the session ended) also opens the login
// page, which comes back to this route once logged in.
export async function api(method, path, body) {
  const { response, answer } = await request(method, path, body);
  if (response.status === 401) {
    toLogin();
    throw new ApiError(401, answer && answer.error);
  }
  if (!response.ok || !answer || !answer.successful)
    throw new ApiError(response.status, answer && answer.error);
  return answer.data;
}
