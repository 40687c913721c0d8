"""Guessing stops (docs/security.md): failed logins are counted per user in the metadb, answered with OCP's
3004 and the tries left, then 3003 (locked) whatever password comes next, until an administrator unlocks the
user; the same for the console login and for access keys; an unknown name gets the same answers at the same
cost; an address that fails too often is refused with 3014."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from obcp.api import auth as auth_module
from obcp.iam import passwords
from obcp.meta.db import sync_url
from tests.api.ocp import create_user, error, ok
from tests.support.ak_signer import Signer

Auth = tuple[str, str]
ME = "/api/v2/iam/current/user"
RETRY = "You can retry {} more times."


def retries(resp: httpx.Response, left: int) -> dict[str, Any]:
    err = error(resp, 401, 3004)
    assert err["message"].endswith(RETRY.format(left)), err
    return dict(err)


def locked(resp: httpx.Response) -> None:
    err = error(resp, 401, 3003)
    assert "locked" in err["message"], err


def test_basic_lockout_unlock_and_login(client: TestClient, admin: Auth) -> None:
    bob = create_user(client, admin, "bob", "bob-password-1")
    right = ("bob", "bob-password-1")
    ok(client.get(ME, auth=right))  # cached: a cached success must not outlive the lock
    for left in (4, 3, 2, 1):
        retries(client.get(ME, auth=("bob", f"guess-{left}")), left)
    locked(client.get(ME, auth=("bob", "guess-5")))
    locked(client.get(ME, auth=right))  # the right password too
    assert "lockedUntil" in ok(client.get(f"/api/v2/iam/users/{bob['id']}", auth=admin))
    listed = ok(client.get("/api/v2/iam/users", auth=admin))["contents"]
    assert [u["username"] for u in listed if "lockedUntil" in u] == ["bob"]
    # Unlocking needs USER:{id}:UPDATE, which bob's peers do not have.
    create_user(client, admin, "carl", "carl-password-1")
    error(client.post(f"/api/v2/iam/users/{bob['id']}/unlock", auth=("carl", "carl-password-1")), 403, 3100)
    error(client.post("/api/v2/iam/users/424242/unlock", auth=admin), 404, 1002)
    unlocked = ok(client.post(f"/api/v2/iam/users/{bob['id']}/unlock", auth=admin))
    assert unlocked["username"] == "bob" and "lockedUntil" not in unlocked
    # The count starts afresh after an unlock, and after a success that checked the password (the lock
    # ended the cached one).
    retries(client.get(ME, auth=("bob", "again")), 4)
    assert ok(client.get(ME, auth=right))["username"] == "bob"
    retries(client.get(ME, auth=("bob", "again")), 4)


def test_console_login_locks_the_same_count(client: TestClient, admin: Auth) -> None:
    dora = create_user(client, admin, "dora", "dora-password-1")

    def login(password: str) -> httpx.Response:
        resp: httpx.Response = client.post(
            "/api/v2/iam/login", json={"username": "dora", "password": password}
        )
        return resp

    retries(login("nope-1"), 4)
    retries(client.get(ME, auth=("dora", "nope-2")), 3)  # Basic and the console share the count
    retries(login("nope-3"), 2)
    retries(login("nope-4"), 1)
    resp = login("nope-5")
    locked(resp)
    assert "www-authenticate" not in resp.headers and "set-cookie" not in resp.headers
    locked(login("dora-password-1"))
    ok(client.post(f"/api/v2/iam/users/{dora['id']}/unlock", auth=admin))
    assert ok(login("dora-password-1"))["username"] == "dora"


def test_an_unknown_name_gets_the_same_answers_at_the_same_cost(
    client: TestClient, admin: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_user(client, admin, "erin", "erin-password-1")
    verifies: list[str] = []
    real = passwords.verify_password

    def counted(password_hash: str, password: str) -> bool:
        verifies.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(auth_module, "verify_password", counted)
    answers: dict[str, list[tuple[int, dict[str, Any], str | None]]] = {}
    for name in ("erin", "nobody-here"):
        answers[name] = []
        for attempt in range(7):
            resp = client.get(ME, auth=(name, f"wrong-{attempt}"))
            body = resp.json()
            answers[name].append((resp.status_code, body["error"], resp.headers.get("www-authenticate")))
    assert answers["erin"] == answers["nobody-here"], answers
    assert [a[1]["code"] for a in answers["erin"]] == [3004] * 4 + [3003] * 3
    # One argon2id check per attempt, known or not, locked or not: the time tells nothing either.
    assert len(verifies) == 14, len(verifies)
    # Even the right password of the locked user costs its check and says locked, as for the unknown name.
    locked(client.get(ME, auth=("erin", "erin-password-1")))
    assert len(verifies) == 15


def test_rows_of_unknown_names_are_bounded(
    client: TestClient, sqlite_url: str, login_limits: Callable[..., None]
) -> None:
    login_limits(unknown_names_max=3, address_max_failures=1000)
    for i in range(6):
        retries(client.get(ME, auth=(f"flood-{i}", "x")), 4)
    engine = create_engine(sync_url(sqlite_url))
    try:
        with engine.connect() as conn:
            subjects = [r[0] for r in conn.execute(text("SELECT subject FROM iam_login_failure"))]
    finally:
        engine.dispose()
    names = [s for s in subjects if s.startswith("name:")]
    assert len(names) == 3, subjects
    assert not any("flood" in s for s in subjects), "an unknown name is kept as an HMAC, never as typed"


def test_an_access_key_locks_its_user(client: TestClient, admin: Auth) -> None:
    fred = create_user(client, admin, "fred", "fred-password-1")
    data = ok(client.post("/api/v2/profiles/me/accessKeys", json={}, auth=("fred", "fred-password-1")))
    key = Signer(data["accessKeyId"], data["accessKeySecret"], "testserver")
    wrong = Signer(data["accessKeyId"], "not-the-secret-" + "x" * 25, "testserver")
    ok(client.get(ME, headers=key.headers("GET", ME)))
    for left in (4, 3, 2, 1):
        err = retries(client.get(ME, headers=wrong.headers("GET", ME)), left)
        assert "signature does not match" in err["message"], err
    locked(client.get(ME, headers=wrong.headers("GET", ME)))
    locked(client.get(ME, headers=key.headers("GET", ME)))  # the right secret too
    locked(client.get(ME, auth=("fred", "fred-password-1")))  # and the user's password
    ok(client.post(f"/api/v2/iam/users/{fred['id']}/unlock", auth=admin))
    assert ok(client.get(ME, headers=key.headers("GET", ME)))["username"] == "fred"


def test_an_address_that_fails_too_often_is_restricted(
    client: TestClient, admin: Auth, login_limits: Callable[..., None]
) -> None:
    login_limits(address_max_failures=4)
    for i, name in enumerate(("gina", "hal", "admin", "ivan")):
        retries(client.get(ME, auth=(name, f"wrong-{i}")), 4)
    # Four failures from this address, across names, restrict it: every name, the right password too.
    error(client.get(ME, auth=("kim", "wrong")), 429, 3014)
    err = error(client.get(ME, auth=admin), 429, 3014)
    assert "testclient" in err["message"], err
    error(client.post("/api/v2/iam/login", json={"username": "admin", "password": admin[1]}), 429, 3014)
    # Another address is not restricted, and admin is not locked (one failure of its own).
    other = TestClient(client.app, client=("192.0.2.7", 40000), raise_server_exceptions=False)
    assert ok(other.get(ME, auth=admin))["username"] == "admin"


def test_a_lock_ends_by_itself(client: TestClient, admin: Auth, login_limits: Callable[..., None]) -> None:
    login_limits(max_failures=2, lock_seconds=1)
    create_user(client, admin, "jane", "jane-password-1")
    retries(client.get(ME, auth=("jane", "x")), 1)
    locked(client.get(ME, auth=("jane", "y")))
    locked(client.get(ME, auth=("jane", "jane-password-1")))
    time.sleep(1.2)
    ok(client.get(ME, auth=("jane", "jane-password-1")))
