"""Session login, CSRF, idle expiry, the pages' headers and the task event stream, over plain HTTP."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from obcp.engine import Context
from tests.api.ocp import error, ok
from tests.web import steps
from tests.web.conftest import ADMIN, ADMIN_PASSWORD, VIEWER, Console

BROWSER = {"X-Requested-With": "obcp-console"}


@contextmanager
def logged_in(console: Console, user: tuple[str, str] = ADMIN) -> Iterator[tuple[httpx.Client, str]]:
    """A cookie-carrying client (no Basic) logged in as `user`, and its CSRF token."""
    with httpx.Client(base_url=console.url, timeout=30) as client:
        body = {"username": user[0], "password": user[1]}
        data = ok(client.post("/api/v2/iam/login", json=body, headers=BROWSER))
        yield client, data["csrfToken"]


def test_login_sets_an_httponly_strict_session_cookie_and_a_readable_csrf_token(console: Console) -> None:
    with httpx.Client(base_url=console.url) as c:
        resp = c.post("/api/v2/iam/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        data = ok(resp)
        assert set(data) == {"username", "csrfToken", "idleTimeoutSeconds"} and data["username"] == "admin"
        assert ADMIN_PASSWORD not in resp.text
        cookies = {h.split("=", 1)[0]: h for h in resp.headers.get_list("set-cookie")}
        session, csrf = cookies["obcp_session"], cookies["obcp_csrf"]
        assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/" in session
        assert "HttpOnly" not in csrf and "SameSite=strict" in csrf
        assert f"obcp_csrf={data['csrfToken']};" in csrf
        session_id = c.cookies["obcp_session"]
        assert len(session_id) >= 40 and session_id not in resp.text
    # Only a hash of the session id is kept in the metadb.
    with sqlite3.connect(console.db_path) as db:
        rows = db.execute("SELECT id_hash FROM web_session").fetchall()
    assert rows and all(session_id not in r[0] for r in rows)


def test_wrong_password_and_unknown_user_get_the_same_401(console: Console) -> None:
    with httpx.Client(base_url=console.url) as c:
        # The viewer fails nowhere else: it has its five tries, as an unknown name does.
        wrong = c.post("/api/v2/iam/login", json={"username": VIEWER[0], "password": "nope"}, headers=BROWSER)
        unknown = c.post(
            "/api/v2/iam/login", json={"username": "nobody", "password": "nope"}, headers=BROWSER
        )
        for resp in (wrong, unknown):
            assert error(resp, 401, 3004)
            assert "www-authenticate" not in resp.headers, "a browser must not get a Basic dialog"
            assert "set-cookie" not in resp.headers
        assert wrong.json()["error"] == unknown.json()["error"]


def test_the_cookie_authenticates_and_writes_need_the_csrf_token(console: Console) -> None:
    with logged_in(console) as (client, token):
        me = ok(client.get("/api/v2/iam/current/user"))
        assert me["username"] == "admin" and "**" in me["permissions"]
        missing = client.post("/api/v2/tasks/instances/999999/retry", headers=BROWSER)
        assert error(missing, 403, 3100)
        forged = client.post(
            "/api/v2/tasks/instances/999999/retry", headers={**BROWSER, "X-CSRF-Token": "x" * 43}
        )
        assert error(forged, 403, 3100)
        # With the token the request gets through authentication: the task does not exist.
        passed = client.post(
            "/api/v2/tasks/instances/999999/retry", headers={**BROWSER, "X-CSRF-Token": token}
        )
        assert error(passed, 404, 4001)


def test_basic_calls_work_unchanged_without_csrf(console: Console) -> None:
    with console.client() as c:
        assert error(c.post("/api/v2/tasks/instances/999999/retry"), 404, 4001)
        unauthenticated = httpx.get(f"{console.url}/api/v2/ob/clusters")
        assert error(unauthenticated, 401, 3000)
        assert unauthenticated.headers["www-authenticate"].startswith("Basic")
        # A page's call (X-Requested-With) gets no challenge, so the browser shows no password dialog.
        page_call = httpx.get(f"{console.url}/api/v2/ob/clusters", headers=BROWSER)
        assert error(page_call, 401, 3000) and "www-authenticate" not in page_call.headers


def test_logout_needs_the_token_and_ends_the_session(console: Console) -> None:
    with logged_in(console) as (client, token):
        assert error(client.post("/api/v2/iam/logout", headers=BROWSER), 403, 3100)
        assert ok(client.get("/api/v2/iam/current/user"))["username"] == "admin"
        resp = client.post("/api/v2/iam/logout", headers={**BROWSER, "X-CSRF-Token": token})
        assert resp.status_code == 200 and "data" not in resp.json()
        assert "obcp_session" not in client.cookies
    stale = httpx.Client(base_url=console.url, cookies={"obcp_session": "whatever-was-stolen"})
    with stale:
        resp = stale.get("/api/v2/iam/current/user")
        assert error(resp, 401, 3000) and "www-authenticate" not in resp.headers


def test_an_idle_session_expires(console: Console) -> None:
    with logged_in(console) as (client, _):
        assert ok(client.get("/api/v2/iam/current/user"))
        idle_ms = 31 * 60 * 1000  # longer than the default 30 minutes
        with sqlite3.connect(console.db_path) as db:
            db.execute("UPDATE web_session SET last_seen_at = last_seen_at - ?", (idle_ms,))
        assert error(client.get("/api/v2/iam/current/user"), 401, 3000)
        page = client.get("/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login"


def test_pages_need_a_session_and_load_nothing_from_elsewhere(console: Console) -> None:
    with httpx.Client(base_url=console.url) as anonymous:
        resp = anonymous.get("/", follow_redirects=False)
        assert resp.status_code == 303 and resp.headers["location"] == "/login"
        page = anonymous.get("/login")
        assert page.status_code == 200 and "<form" in page.text
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
        for path in (
            "/static/console.js",
            "/static/vendor/cytoscape.min.js",
            "/static/vendor/cytoscape-dagre.min.js",
        ):
            assert anonymous.get(path).status_code == 200, path
        outside = anonymous.get("/static/%2e%2e/api/auth.py")
        assert outside.status_code == 404 and "import" not in outside.text
    with logged_in(console) as (client, _):
        page = client.get("/")
        assert page.status_code == 200 and "/static/console.js" in page.text
        for src in ("http://", "https://", "//cdn"):
            assert f'src="{src}' not in page.text and f'href="{src}' not in page.text


def test_task_events_stream_the_task_from_the_metadb(console: Console, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    task_id = console.submit(
        steps.live_template(), Context(string_map={"gate": str(gate)}, list_map={"items": ["a", "b"]})
    )
    seen: list[str] = []
    with console.client() as c, c.stream("GET", f"/api/v2/tasks/instances/{task_id}/events") as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        event = None
        deadline = time.monotonic() + 30
        for line in resp.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "task":
                task = json.loads(line.split(":", 1)[1])
                assert task["id"] == task_id and len(task["subtasks"]) == 5
                seen.append(task["status"])
                if len(seen) == 1:
                    gate.write_text("go")  # the stream must report what happens next on its own
                if task["status"] == "SUCCESSFUL":
                    break
            assert time.monotonic() < deadline, f"no SUCCESSFUL in the stream; saw {seen}"
    assert seen[0] == "RUNNING" and seen[-1] == "SUCCESSFUL"


def test_task_events_need_task_read_permission(console: Console) -> None:
    task_id = console.submit(steps.live_template(), Context(list_map={"items": ["a"]}))
    with console.client() as c:
        assert error(c.get("/api/v2/tasks/instances/999999/events"), 404, 4001)
        ok(
            c.post(
                "/api/v2/iam/users",
                json={"username": "nobody1", "password": "Nobody_pw_123", "roles": ["PROFILE"]},
            )
        )
    with console.client(("nobody1", "Nobody_pw_123")) as c:
        assert error(c.get(f"/api/v2/tasks/instances/{task_id}/events"), 403, 3100)
    with console.client(VIEWER) as c, c.stream("GET", f"/api/v2/tasks/instances/{task_id}/events") as resp:
        assert resp.status_code == 200


def test_an_odd_cookie_of_another_application_does_not_hide_the_session(console: Console) -> None:
    with logged_in(console) as (client, _):
        session_id = client.cookies["obcp_session"]
    headers = {**BROWSER, "Cookie": f'theme"dark=1; obcp_session={session_id}; x'}
    me = ok(httpx.get(f"{console.url}/api/v2/iam/current/user", headers=headers))
    assert me["username"] == "admin"
