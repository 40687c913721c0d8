"""Sessions that end (docs/security.md), across two replicas: two apps, each with its own credential cache, on
one metadb. A console session expires when idle and after its absolute lifetime; logout, a password change, a
role change and a lock end the user's other sessions and cached credentials at once on the other replica."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from obcp.api import auth as auth_module
from obcp.api import sessions
from obcp.iam import passwords
from tests.api.conftest import make_client
from tests.api.ocp import create_user, error, ok

Auth = tuple[str, str]
ME = "/api/v2/iam/current/user"


@pytest.fixture
def other(client: TestClient, sqlite_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """A second replica on the metadb and the key file of `client`."""
    with make_client(sqlite_url, tmp_path / "home", migrate=False) as c:
        yield c


@pytest.fixture
def verifies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The argon2id checks made from now on (a cached credential makes none)."""
    made: list[str] = []

    def counted(password_hash: str, password: str) -> bool:
        made.append(password_hash)
        return passwords.verify_password(password_hash, password)

    monkeypatch.setattr(auth_module, "verify_password", counted)
    return made


class Browser:
    """A console session made on one replica, replayed to any (a load balancer's round-robin)."""

    def __init__(self, replica: TestClient, user: Auth) -> None:
        resp = replica.post("/api/v2/iam/login", json={"username": user[0], "password": user[1]})
        data = ok(resp)
        self.cookie = f"obcp_session={resp.cookies['obcp_session']}"
        self.csrf = str(data["csrfToken"])
        replica.cookies.clear()

    def get(self, replica: TestClient, path: str = ME) -> httpx.Response:
        resp: httpx.Response = replica.get(
            path, headers={"Cookie": self.cookie, "X-Requested-With": "obcp-console"}
        )
        return resp

    def post(self, replica: TestClient, path: str, body: object = None) -> httpx.Response:
        headers = {"Cookie": self.cookie, "X-CSRF-Token": self.csrf, "X-Requested-With": "obcp-console"}
        resp: httpx.Response = replica.post(path, json=body, headers=headers)
        return resp

    def alive(self, replica: TestClient) -> bool:
        resp = self.get(replica)
        if resp.status_code == 200:
            return True
        error(resp, 401, 3000)
        return False


def _timing(monkeypatch: pytest.MonkeyPatch, idle: int, most: int) -> None:
    timing = sessions.SessionSettings(idle_seconds=idle, max_seconds=most, touch_seconds=0)
    monkeypatch.setattr(sessions, "settings", lambda: timing)


def test_idle_and_absolute_expiry_on_both_replicas(
    client: TestClient, other: TestClient, admin: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    _timing(monkeypatch, idle=1, most=100)
    idle = Browser(client, admin)
    assert idle.alive(other)
    time.sleep(1.3)
    assert not idle.alive(client) and not idle.alive(other)
    page = client.get("/", headers={"Cookie": idle.cookie}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"

    _timing(monkeypatch, idle=100, most=2)
    busy = Browser(other, admin)
    started = time.monotonic()
    while time.monotonic() - started < 1.5:  # in use all along, on both replicas
        assert busy.alive(client) and busy.alive(other)
        time.sleep(0.3)
    time.sleep(max(0.0, 2.2 - (time.monotonic() - started)))
    assert not busy.alive(client) and not busy.alive(other)


def test_password_and_role_changes_end_sessions_and_cached_credentials_on_the_other_replica(
    client: TestClient, other: TestClient, admin: Auth, verifies: list[str]
) -> None:
    lea = create_user(client, admin, "lea", "lea-password-1", ["CLUSTER_VIEWER"])
    old = ("lea", "lea-password-1")
    session = Browser(client, old)
    ok(other.get(ME, auth=old))  # cached on the other replica
    checks = len(verifies)
    ok(other.get(ME, auth=old))
    assert len(verifies) == checks, "the second call was served from the cache"
    ok(
        client.post(
            f"/api/v2/iam/users/{lea['id']}/changePassword", json={"password": "lea-password-2"}, auth=admin
        )
    )
    assert not session.alive(other) and not session.alive(client)
    error(other.get(ME, auth=old), 401, 3004)
    new = ("lea", "lea-password-2")
    session = Browser(other, new)
    ok(client.get(ME, auth=new))
    ok(other.get(ME, auth=admin))  # admin's own check, made before counting
    checks = len(verifies)
    ok(other.put(f"/api/v2/iam/users/{lea['id']}/roles", json={"roles": ["CLUSTER_MANAGER"]}, auth=admin))
    assert not session.alive(client)
    # The cached credential of the other replica ended too: checked again, with the new roles.
    me = ok(client.get(ME, auth=new))
    assert len(verifies) == checks + 1 and [r["name"] for r in me["roles"]] == ["CLUSTER_MANAGER"]


def test_logout_ends_the_users_other_sessions(client: TestClient, other: TestClient, admin: Auth) -> None:
    create_user(client, admin, "max", "max-password-1")
    user = ("max", "max-password-1")
    here, there = Browser(client, user), Browser(other, user)
    assert here.alive(other) and there.alive(client)
    assert here.post(client, "/api/v2/iam/logout").status_code == 200
    assert not there.alive(other) and not there.alive(client) and not here.alive(other)
    assert ok(other.get(ME, auth=admin))["username"] == "admin"  # other users are untouched


def test_own_password_change_keeps_this_session_and_ends_the_others(
    client: TestClient, other: TestClient, admin: Auth
) -> None:
    create_user(client, admin, "nina", "nina-password-1")
    user = ("nina", "nina-password-1")
    here, there = Browser(client, user), Browser(other, user)
    body = {"currentPassword": user[1], "newPassword": "nina-password-2"}
    ok(here.post(other, "/api/v2/iam/current/user/changePassword", body))
    assert here.alive(client) and here.alive(other)
    assert not there.alive(client)


def test_a_lock_ends_sessions_on_the_other_replica(
    client: TestClient, other: TestClient, admin: Auth
) -> None:
    create_user(client, admin, "olga", "olga-password-1")
    session = Browser(client, ("olga", "olga-password-1"))
    for _ in range(5):
        other.get(ME, auth=("olga", "wrong"))
    assert not session.alive(client)
    error(
        client.post("/api/v2/iam/login", json={"username": "olga", "password": "olga-password-1"}), 401, 3003
    )
