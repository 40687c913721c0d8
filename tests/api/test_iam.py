"""Users, roles and passwords through the API; argon2id in the metadb; Basic polling is not throttled."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select

import obcp.api.auth
from obcp.api.app import create_app
from obcp.api.runtime import Runtime
from obcp.config import Settings
from obcp.iam.passwords import verify_password
from obcp.meta.db import sync_url
from obcp.meta.migrate import upgrade
from obcp.meta.tables import iam_user
from tests.api.conftest import ADMIN_PASSWORD, Inventory
from tests.api.ocp import create_role, create_user, error, ok, takeover_body


def test_default_roles_are_present(client: TestClient, admin: tuple[str, str]) -> None:
    page = ok(client.get("/api/v2/iam/roles?size=100&sort=name,asc", auth=admin))
    roles = {r["name"]: r for r in page["contents"]}
    assert {"ADMIN", "CLUSTER_MANAGER", "CLUSTER_VIEWER", "TASK_MANAGER", "PROFILE"} <= set(roles)
    assert list(roles) == sorted(roles)
    assert page["page"]["totalElements"] == len(roles)
    assert roles["ADMIN"]["permissions"] == ["**"] and roles["ADMIN"]["builtin"] is True
    assert "CLUSTER:*:READ" in roles["CLUSTER_VIEWER"]["permissions"]
    assert "TASK:*:*" in roles["TASK_MANAGER"]["permissions"]
    one = ok(client.get(f"/api/v2/iam/roles/{roles['TASK_MANAGER']['id']}", auth=admin))
    assert one == roles["TASK_MANAGER"]


def test_current_user(client: TestClient, admin: tuple[str, str]) -> None:
    me = ok(client.get("/api/v2/iam/current/user", auth=admin))
    assert me["username"] == "admin" and me["enabled"] is True
    assert [r["name"] for r in me["roles"]] == ["ADMIN"] and me["permissions"] == ["**"]
    assert not {"password", "passwordHash", "password_hash"} & set(me)
    create_user(client, admin, "viewer", "viewer-password", ["CLUSTER_VIEWER", "TASK_MANAGER"])
    me = ok(client.get("/api/v2/iam/current/user", auth=("viewer", "viewer-password")))
    assert me["username"] == "viewer"
    assert [r["name"] for r in me["roles"]] == ["CLUSTER_VIEWER", "TASK_MANAGER"]
    assert "TASK:*:*" in me["permissions"] and "CLUSTER:*:READ" in me["permissions"]


def test_create_list_assign(client: TestClient, admin: tuple[str, str]) -> None:
    alice = create_user(client, admin, "alice", "alice-password", ["PROFILE"])
    assert alice["username"] == "alice" and [r["name"] for r in alice["roles"]] == ["PROFILE"]
    assert "password" not in alice
    role = create_role(client, admin, "OPS_5", ["CLUSTER:5:UPDATE", "CLUSTER:5:READ"])
    assert role["permissions"] == ["CLUSTER:5:READ", "CLUSTER:5:UPDATE"] and role["builtin"] is False
    users = ok(client.get("/api/v2/iam/users?sort=username,desc", auth=admin))
    assert [u["username"] for u in users["contents"]] == ["alice", "admin"]
    assert users["page"] == {"number": 1, "size": 10, "totalElements": 2, "totalPages": 1}
    assert ok(client.get("/api/v2/iam/users?keyword=LIC", auth=admin))["page"]["totalElements"] == 1

    alice_auth = ("alice", "alice-password")
    error(client.get("/api/v2/ob/clusters", auth=alice_auth), 403, 3100)
    updated = ok(
        client.put(f"/api/v2/iam/users/{alice['id']}/roles", json={"roles": ["CLUSTER_VIEWER"]}, auth=admin)
    )
    assert [r["name"] for r in updated["roles"]] == ["CLUSTER_VIEWER"]
    # A role change applies to the next request, even with the credential cached.
    ok(client.get("/api/v2/ob/clusters", auth=alice_auth))
    ok(client.put(f"/api/v2/iam/users/{alice['id']}/roles", json={"roles": []}, auth=admin))
    error(client.get("/api/v2/ob/clusters", auth=alice_auth), 403, 3100)
    # A role's permissions can change too, and apply at once.
    ok(client.put(f"/api/v2/iam/users/{alice['id']}/roles", json={"roles": ["OPS_5"]}, auth=admin))
    error(client.get("/api/v2/ob/clusters/6", auth=alice_auth), 403, 3100)
    error(client.get("/api/v2/ob/clusters/5", auth=alice_auth), 404, 11001)
    ok(client.put(f"/api/v2/iam/roles/{role['id']}", json={"permissions": ["CLUSTER:6:READ"]}, auth=admin))
    error(client.get("/api/v2/ob/clusters/5", auth=alice_auth), 403, 3100)
    error(client.get("/api/v2/ob/clusters/6", auth=alice_auth), 404, 11001)
    # Deleting a role takes it from its users; deleting a user locks it out.
    ok(client.delete(f"/api/v2/iam/roles/{role['id']}", auth=admin))
    assert ok(client.get(f"/api/v2/iam/users/{alice['id']}", auth=admin))["roles"] == []
    ok(client.delete(f"/api/v2/iam/users/{alice['id']}", auth=admin))
    error(client.get("/api/v2/iam/current/user", auth=alice_auth), 401, 3004)


def test_cluster_viewer_reads_but_does_not_take_over(
    client: TestClient, admin: tuple[str, str], inventory: Inventory
) -> None:
    create_user(client, admin, "viewer", "viewer-password", ["CLUSTER_VIEWER"])
    viewer = ("viewer", "viewer-password")
    assert ok(client.get("/api/v2/ob/clusters", auth=viewer))["page"]["totalElements"] == 1
    ok(client.get(f"/api/v2/ob/clusters/{inventory.cluster_id}", auth=viewer))
    ok(client.get(f"/api/v2/ob/clusters/{inventory.cluster_id}/zones", auth=viewer))
    ok(client.get("/api/v2/compute/hosts", auth=viewer))
    body = takeover_body("other", {"zone1": [inventory.host_ids[0]]}, sql_port=3881)
    err = error(client.post("/api/v2/ob/clusters/takeover", json=body, auth=viewer), 403, 3100)
    assert "CLUSTER:*:CREATE" in err["message"]
    error(
        client.post("/api/v2/iam/users", json={"username": "x12", "password": "12345678"}, auth=viewer), 403
    )
    error(client.get("/api/v2/iam/users", auth=viewer), 403, 3100)
    # A cluster manager may.
    create_user(client, admin, "manager", "manager-password", ["CLUSTER_MANAGER"])
    ok(client.post("/api/v2/ob/clusters/takeover", json=body, auth=("manager", "manager-password")))


def test_change_own_password(client: TestClient, admin: tuple[str, str]) -> None:
    create_user(client, admin, "bob", "bob-password-1")
    old, new = ("bob", "bob-password-1"), ("bob", "bob-password-2")
    for _ in range(3):  # the credential cache is warm
        ok(client.get("/api/v2/iam/current/user", auth=old))
    err = error(
        client.post(
            "/api/v2/iam/current/user/changePassword",
            json={"currentPassword": "wrong-password", "newPassword": "bob-password-2"},
            auth=old,
        ),
        400,
        3011,
    )
    assert "password" in err["message"]
    error(
        client.post(
            "/api/v2/iam/current/user/changePassword",
            json={"currentPassword": "bob-password-1", "newPassword": "short"},
            auth=old,
        ),
        400,
        3009,
    )
    ok(client.get("/api/v2/iam/current/user", auth=old))  # neither failure changed anything
    resp = client.post(
        "/api/v2/iam/current/user/changePassword",
        json={"currentPassword": "bob-password-1", "newPassword": "bob-password-2"},
        auth=old,
    )
    ok(resp)
    error(client.get("/api/v2/iam/current/user", auth=old), 401, 3004)
    assert ok(client.get("/api/v2/iam/current/user", auth=new))["username"] == "bob"


def test_admin_resets_a_password(client: TestClient, admin: tuple[str, str]) -> None:
    carol = create_user(client, admin, "carol", "carol-password-1")
    old = ("carol", "carol-password-1")
    ok(client.get("/api/v2/iam/current/user", auth=old))
    error(
        client.post(f"/api/v2/iam/users/{carol['id']}/changePassword", json={"password": "x"}, auth=admin),
        400,
        3009,
    )
    ok(client.get("/api/v2/iam/current/user", auth=old))
    ok(
        client.post(
            f"/api/v2/iam/users/{carol['id']}/changePassword",
            json={"password": "carol-password-2"},
            auth=admin,
        )
    )
    error(client.get("/api/v2/iam/current/user", auth=old), 401, 3004)
    ok(client.get("/api/v2/iam/current/user", auth=("carol", "carol-password-2")))
    # Another user's password is not self-service.
    error(
        client.post(
            f"/api/v2/iam/users/{carol['id']}/changePassword",
            json={"password": "carol-password-3"},
            auth=("carol", "carol-password-2"),
        ),
        403,
        3100,
    )


def test_password_hashes_are_argon2id(client: TestClient, admin: tuple[str, str]) -> None:
    create_user(client, admin, "dave", "dave-password")
    engine = create_engine(sync_url(Runtime.of(client.app).settings.resolved_db_url()))
    try:
        with engine.connect() as conn:
            rows = {
                r.username: r.password_hash
                for r in conn.execute(select(iam_user.c.username, iam_user.c.password_hash))
            }
    finally:
        engine.dispose()
    assert set(rows) == {"admin", "dave"}
    for name, password in (("admin", ADMIN_PASSWORD), ("dave", "dave-password")):
        assert rows[name].startswith("$argon2id$"), rows[name]
        assert password not in rows[name]
        assert verify_password(rows[name], password)


def test_basic_polling_is_not_throttled_by_hashing(
    client: TestClient, admin: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """50 requests with the same Basic credential cost one argon2 verify, not 50 (counted, not timed: a
    timing under a loaded CI machine proved nothing)."""
    calls = 0
    real_verify = verify_password

    def counting_verify(password_hash: str, password: str) -> bool:
        nonlocal calls
        calls += 1
        return real_verify(password_hash, password)

    monkeypatch.setattr(obcp.api.auth, "verify_password", counting_verify)
    create_user(client, admin, "poller", "poller-password", ["CLUSTER_VIEWER"])
    auth = ("poller", "poller-password")
    calls = 0
    ok(client.get("/api/v2/ob/clusters", auth=auth))  # the first one verifies
    assert calls == 1

    calls = 0
    for _ in range(50):
        resp = client.get("/api/status", auth=auth)
        assert resp.status_code == 200 and resp.text == "okay"
    assert calls == 0, "a cached credential was verified again"

    # The cache holds only the right password: a wrong one is still refused (and costs a verify).
    error(client.get("/api/v2/ob/clusters", auth=("poller", "poller-passwore")), 401, 3004)
    assert calls == 1


def test_admin_is_created_once_with_the_configured_password(client: TestClient) -> None:
    error(client.get("/api/v2/iam/current/user", auth=("admin", "admin")), 401, 3004)
    ok(client.get("/api/v2/iam/current/user", auth=("admin", ADMIN_PASSWORD)))


def test_a_generated_admin_password_is_printed_once(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upgrade(sqlite_url)
    settings = Settings(home=tmp_path / "home", db_url=sqlite_url, admin_password=None)
    with TestClient(create_app(settings)) as c:
        [password] = re.findall(r"generated password: (\S+)", capsys.readouterr().out)
        assert len(password) >= 12
        ok(c.get("/api/v2/iam/current/user", auth=("admin", password)))
    with TestClient(create_app(settings)) as c:
        assert "password" not in capsys.readouterr().out
        ok(c.get("/api/v2/iam/current/user", auth=("admin", password)))
