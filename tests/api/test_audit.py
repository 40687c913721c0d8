"""The audit trail through the in-process app: each kind of change leaves exactly one event with the right
fields, a refused change leaves its error code and changes nothing, no secret reaches any column, and the
list filters and pages. Cluster operations and task actions run for real on the engine (their steps fail at
once: the hosts are unreachable addresses, which is what gives the task actions something to act on)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from obcp import audit
from obcp.api.audit import ACTIONS, SAFE_METHODS
from obcp.api.sessions import CSRF_COOKIE, CSRF_HEADER
from obcp.meta.audit_tables import audit_event
from obcp.meta.tables import compute_host
from tests.api.conftest import Inventory
from tests.api.ocp import create_user, error, ok
from tests.api.test_route_auth import endpoints
from tests.support.ak_signer import Signer

Auth = tuple[str, str]
EVENTS = "/api/v2/audit/events"


def rows(db: Engine) -> list[Any]:
    with db.connect() as conn:
        return list(conn.execute(select(audit_event).order_by(audit_event.c.id)).all())


class Trail:
    """Calls the API and checks that each call added exactly one event, which it returns (as the API
    shows it)."""

    def __init__(self, client: TestClient, admin: Auth, db: Engine) -> None:
        self.client, self.admin, self.db = client, admin, db

    def newest(self) -> dict[str, Any]:
        event: dict[str, Any] = ok(self.client.get(EVENTS, params={"size": 1}, auth=self.admin))["contents"][
            0
        ]
        return event

    def one(self, call: Callable[[], httpx.Response], action: str, **expected: Any) -> dict[str, Any]:
        before = len(rows(self.db))
        resp = call()
        after = rows(self.db)
        assert len(after) == before + 1, (
            f"{action}: {len(after) - before} events for one call: {after[before:]}"
        )
        event = self.newest()
        assert event["action"] == action, event
        assert event["traceId"] == resp.headers["x-trace-id"], (event, resp.headers)
        assert event["clientIpAddress"] == "testclient"
        expected.setdefault("result", "SUCCESS" if resp.status_code < 400 else "FAILED")
        for key, value in expected.items():
            assert event.get(key) == value, f"{action}: {key} is {event.get(key)!r}, not {value!r}: {event}"
        if resp.status_code >= 400:
            assert event["errorCode"] == resp.json()["error"]["code"], event
        else:
            assert "errorCode" not in event, event
        return event

    def none(self, call: Callable[[], httpx.Response]) -> httpx.Response:
        before = len(rows(self.db))
        resp = call()
        assert len(rows(self.db)) == before, f"an event for {resp.request.method} {resp.request.url}"
        return resp


@pytest.fixture
def trail(client: TestClient, admin: Auth, db: Engine) -> Trail:
    return Trail(client, admin, db)


def test_every_changing_route_is_audited(client: TestClient) -> None:
    """Each route that may change something is named in ACTIONS, and ACTIONS names no route that is gone."""
    changing = {
        f"{ep.method} {ep.path}"
        for ep in endpoints(client.app)
        if ep.path.startswith("/api/") and ep.method not in SAFE_METHODS
    }
    assert changing - set(ACTIONS) == set(), "routes that change something without an audit action"
    assert set(ACTIONS) - changing == set(), "audit actions of routes that do not exist"


def test_iam_hosts_and_keys_leave_one_event_each(client: TestClient, admin: Auth, trail: Trail) -> None:
    c = client
    host = trail.one(
        lambda: c.post(
            "/api/v2/compute/hosts",
            json={"address": "10.1.0.1", "agentPort": 2886, "agentKey": "k" * 20},
            auth=admin,
        ),
        "HOST_CREATE",
        resourceType="HOST",
        userName="admin",
        userId=1,
    )
    hid = host["resourceId"]
    assert host["summary"]["body"]["address"] == "10.1.0.1" and host["summary"]["method"] == "POST"
    trail.one(
        lambda: c.put(f"/api/v2/compute/hosts/{hid}", json={"agentPort": 2999}, auth=admin),
        "HOST_UPDATE",
        resourceId=hid,
    )
    trail.one(lambda: c.delete(f"/api/v2/compute/hosts/{hid}", auth=admin), "HOST_DELETE", resourceId=hid)
    role = trail.one(
        lambda: c.post(
            "/api/v2/iam/roles", json={"name": "R_AUDIT", "permissions": ["TASK:*:READ"]}, auth=admin
        ),
        "ROLE_CREATE",
        resourceType="ROLE",
    )
    rid = role["resourceId"]
    trail.one(
        lambda: c.put(f"/api/v2/iam/roles/{rid}", json={"permissions": ["HOST:*:READ"]}, auth=admin),
        "ROLE_UPDATE",
        resourceId=rid,
    )
    user = trail.one(
        lambda: c.post(
            "/api/v2/iam/users", json={"username": "alice", "password": "Alice-pass-123"}, auth=admin
        ),
        "USER_CREATE",
        resourceType="USER",
    )
    uid = user["resourceId"]
    assert uid == str(
        ok(c.get("/api/v2/iam/users", params={"keyword": "alice"}, auth=admin))["contents"][0]["id"]
    )
    trail.one(
        lambda: c.put(f"/api/v2/iam/users/{uid}/roles", json={"roles": ["R_AUDIT"]}, auth=admin),
        "USER_ROLES_SET",
        resourceId=uid,
    )
    trail.one(
        lambda: c.post(
            f"/api/v2/iam/users/{uid}/changePassword", json={"password": "Alice-pass-456"}, auth=admin
        ),
        "USER_PASSWORD_RESET",
        resourceId=uid,
    )
    alice = ("alice", "Alice-pass-456")
    body = {"currentPassword": "Alice-pass-456", "newPassword": "Alice-pass-789"}
    wrong = {"currentPassword": "not-it", "newPassword": "Alice-pass-000"}
    trail.one(
        lambda: c.post("/api/v2/iam/current/user/changePassword", json=wrong, auth=alice),
        "USER_PASSWORD_CHANGE",
        errorCode=3011,
        resourceId=uid,
        userName="alice",
    )
    trail.one(
        lambda: c.post("/api/v2/iam/current/user/changePassword", json=body, auth=alice),
        "USER_PASSWORD_CHANGE",
        resourceId=uid,
        userName="alice",
    )
    key = trail.one(
        lambda: c.post("/api/v2/profiles/me/accessKeys", json={}, auth=admin),
        "ACCESS_KEY_CREATE",
        resourceType="ACCESS_KEY",
    )
    kid = key["resourceId"]
    assert kid.startswith("AK")
    mine = "/api/v2/profiles/me/accessKeys"
    trail.one(lambda: c.post(f"{mine}/{kid}/disable", auth=admin), "ACCESS_KEY_DISABLE", resourceId=kid)
    trail.one(lambda: c.post(f"{mine}/{kid}/enable", auth=admin), "ACCESS_KEY_ENABLE", resourceId=kid)
    theirs = "/api/v2/iam/users/1/accessKeys"
    trail.one(lambda: c.post(f"{theirs}/{kid}/disable", auth=admin), "ACCESS_KEY_DISABLE", resourceId=kid)
    trail.one(lambda: c.delete(f"{theirs}/{kid}", auth=admin), "ACCESS_KEY_DELETE", resourceId=kid)
    trail.one(lambda: c.delete(f"/api/v2/iam/users/{uid}", auth=admin), "USER_DELETE", resourceId=uid)
    trail.one(lambda: c.delete(f"/api/v2/iam/roles/{rid}", auth=admin), "ROLE_DELETE", resourceId=rid)
    # Reading changes nothing and leaves nothing.
    trail.none(lambda: c.get("/api/v2/iam/users", auth=admin))


def test_console_login_logout_and_failed_logins(client: TestClient, admin: Auth, trail: Trail) -> None:
    c = client
    trail.one(
        lambda: c.post("/api/v2/iam/login", json={"username": "admin", "password": "wrong-password-1"}),
        "LOGIN",
        result="FAILED",
        errorCode=3004,
        userName="admin",
        resourceType="USER",
    )
    login = trail.one(
        lambda: c.post("/api/v2/iam/login", json={"username": "admin", "password": admin[1]}),
        "LOGIN",
        userName="admin",
        userId=1,
        resourceId="1",
    )
    assert login["summary"]["body"] == {"password": "[redacted]", "username": "admin"}
    csrf = {CSRF_HEADER.decode(): c.cookies[CSRF_COOKIE]}
    # With the session but without its CSRF token: refused before any route, audited with the session's user.
    role = {"name": "R_CSRF", "permissions": ["TASK:*:READ"]}
    trail.one(
        lambda: c.post("/api/v2/iam/roles", json=role),
        "ROLE_CREATE",
        result="FAILED",
        errorCode=3100,
        userName="admin",
    )
    trail.one(lambda: c.post("/api/v2/iam/logout", headers=csrf), "LOGOUT", userName="admin", resourceId="1")
    c.cookies.clear()
    # A wrong Basic password, on a read as on a change, is a failed login; no credentials at all is not.
    trail.one(
        lambda: c.get("/api/v2/ob/clusters", auth=("admin", "wrong-password-2")),
        "LOGIN",
        result="FAILED",
        errorCode=3004,
        userName="admin",
    )
    trail.one(
        lambda: c.get("/api/v2/ob/clusters", auth=("nobody", "x")),
        "LOGIN",
        result="FAILED",
        userName="nobody",
    )
    trail.none(lambda: c.get("/api/v2/ob/clusters"))


def test_access_key_calls_and_refused_signatures(client: TestClient, admin: Auth, trail: Trail) -> None:
    created = ok(client.post("/api/v2/profiles/me/accessKeys", json={}, auth=admin))
    key = Signer(created["accessKeyId"], created["accessKeySecret"], "testserver")
    role = {"name": "R_SIGNED", "permissions": ["TASK:*:READ"]}
    trail.one(
        lambda: key.request(client, "POST", "/api/v2/iam/roles", json_body=role),
        "ROLE_CREATE",
        userName="admin",
        accessKeyId=key.key_id,
    )
    wrong = Signer(key.key_id, key.secret[::-1], "testserver")
    event = trail.one(
        lambda: wrong.request(client, "GET", "/api/v2/iam/roles"),
        "LOGIN",
        result="FAILED",
        errorCode=3004,
        accessKeyId=key.key_id,
        resourceType="ACCESS_KEY",
        resourceId=key.key_id,
    )
    assert "userName" not in event


def wait_task(client: TestClient, admin: Auth, task_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        task: dict[str, Any] = ok(client.get(f"/api/v2/tasks/instances/{task_id}", auth=admin))
        if task["status"] != "RUNNING" or time.monotonic() > deadline:
            return task
        time.sleep(0.05)


def failed_subtask(task: dict[str, Any]) -> int:
    sid: int = next(s["id"] for s in task["subtasks"] if s["status"] == "FAILED")
    return sid


def test_operations_and_task_actions(
    client: TestClient, admin: Auth, trail: Trail, inventory: Inventory
) -> None:
    c, cid = client, inventory.cluster_id
    path = f"/api/v2/ob/clusters/{cid}"
    trail.none(lambda: c.post(f"{path}/restart", json={"dryRun": True}, auth=admin))
    restart = trail.one(
        lambda: c.post(f"{path}/restart", json={"restartMode": "FORCE"}, auth=admin),
        "CLUSTER_RESTART",
        resourceType="OB_CLUSTER",
        resourceId=str(cid),
    )
    task_id = restart["summary"]["taskId"]
    assert restart["summary"]["body"] == {"restartMode": "FORCE"}
    task = wait_task(c, admin, task_id)
    assert task["status"] == "FAILED", task
    # Refused while the task holds the cluster: the event keeps the code, and no task is made.
    tasks_before = ok(c.get("/api/v2/tasks/instances", auth=admin))["page"]["totalElements"]
    trail.one(
        lambda: c.post(f"{path}/zones/zone1/stop", auth=admin),
        "ZONE_STOP",
        result="FAILED",
        resourceType="OB_ZONE",
        resourceId=f"{cid}/zone1",
    )
    server_id = ok(c.get(f"{path}/servers", auth=admin))["contents"][0]["id"]
    trail.one(
        lambda: c.post(f"{path}/servers/{server_id}/start", auth=admin),
        "SERVER_START",
        result="FAILED",
        resourceType="OB_SERVER",
        resourceId=str(server_id),
    )
    assert ok(c.get("/api/v2/tasks/instances", auth=admin))["page"]["totalElements"] == tasks_before
    tpath = f"/api/v2/tasks/instances/{task_id}"
    trail.one(
        lambda: c.post(f"{tpath}/retry", auth=admin),
        "TASK_RETRY",
        resourceType="TASK",
        resourceId=str(task_id),
    )
    sid = failed_subtask(wait_task(c, admin, task_id))
    event = trail.one(
        lambda: c.post(f"{tpath}/subtasks/{sid}/retry", auth=admin), "SUBTASK_RETRY", resourceId=str(task_id)
    )
    assert event["summary"]["subtaskId"] == sid
    sid = failed_subtask(wait_task(c, admin, task_id))
    # Cancelling a subtask that is not running is refused (its state), and audited so.
    trail.one(lambda: c.post(f"{tpath}/subtasks/{sid}/cancel", auth=admin), "SUBTASK_CANCEL", result="FAILED")
    trail.one(
        lambda: c.post(f"{tpath}/subtasks/{sid}/skip", auth=admin), "SUBTASK_SKIP", resourceId=str(task_id)
    )
    wait_task(c, admin, task_id)
    trail.one(lambda: c.post(f"{tpath}/rollback", auth=admin), "TASK_ROLLBACK", resourceId=str(task_id))
    wait_task(c, admin, task_id)
    # Parameters cannot be read from unreachable observers: refused, with the code, nothing changed.
    body = [{"name": "net_thread_count", "value": "2"}]
    trail.one(
        lambda: c.put(f"{path}/parameters", json=body, auth=admin),
        "CLUSTER_PARAMETERS_SET",
        result="FAILED",
        resourceId=str(cid),
    )


def test_refused_changes_keep_their_code_and_change_nothing(
    client: TestClient, admin: Auth, trail: Trail, db: Engine, inventory: Inventory
) -> None:
    c = client
    create_user(c, admin, "viewer", "viewer-pass-1", roles=["CLUSTER_VIEWER"])
    viewer = ("viewer", "viewer-pass-1")
    hid = inventory.host_ids[0]
    with db.connect() as conn:
        hosts_before = conn.execute(select(compute_host.c.id)).all()
    trail.one(
        lambda: c.delete(f"/api/v2/compute/hosts/{hid}", auth=viewer),
        "HOST_DELETE",
        errorCode=3100,
        userName="viewer",
        resourceId=str(hid),
    )
    trail.one(lambda: c.delete(f"/api/v2/compute/hosts/{hid}", auth=admin), "HOST_DELETE", errorCode=7004)
    trail.one(
        lambda: c.post(
            "/api/v2/compute/hosts",
            json={"address": "10.0.0.1", "agentPort": 2886, "agentKey": "k" * 20},
            auth=admin,
        ),
        "HOST_CREATE",
        errorCode=7001,
    )
    event = trail.one(
        lambda: c.post(
            "/api/v2/iam/users",
            content=b"{not json",
            auth=admin,
            headers={"content-type": "application/json"},
        ),
        "USER_CREATE",
        errorCode=1001,
    )
    assert event["summary"]["body"] == "(9 bytes, not JSON)"
    trail.one(lambda: c.delete("/api/v2/iam/users/1", auth=admin), "USER_DELETE", errorCode=3104)
    with db.connect() as conn:
        assert conn.execute(select(compute_host.c.id)).all() == hosts_before


def test_the_event_commits_with_its_change_or_not_at_all(
    client: TestClient,
    admin: Auth,
    trail: Trail,
    inventory: Inventory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A transaction that fails after its event was written loses both: no host, no task, and the call
    leaves its FAILED event (1999) instead of a SUCCESS that did not happen."""
    real_record, real_record_in = audit.record, audit.record_in

    async def record_then_fail(conn: Any, **kwargs: Any) -> None:
        await real_record(conn, **kwargs)
        raise RuntimeError("the change's transaction fails after its event")

    def record_in_then_fail(conn: Any, entry: Any, **kwargs: Any) -> None:
        real_record_in(conn, entry, **kwargs)
        raise RuntimeError("the submission's transaction fails after its event")

    monkeypatch.setattr(audit, "record", record_then_fail)
    monkeypatch.setattr(audit, "record_in", record_in_then_fail)
    hosts = ok(client.get("/api/v2/compute/hosts", auth=admin))["page"]["totalElements"]
    tasks = ok(client.get("/api/v2/tasks/instances", auth=admin))["page"]["totalElements"]
    host = {"address": "10.4.0.1", "agentPort": 2886, "agentKey": "k" * 20}
    trail.one(
        lambda: client.post("/api/v2/compute/hosts", json=host, auth=admin), "HOST_CREATE", errorCode=1999
    )
    path = f"/api/v2/ob/clusters/{inventory.cluster_id}/restart"
    trail.one(lambda: client.post(path, auth=admin), "CLUSTER_RESTART", errorCode=1999)
    assert ok(client.get("/api/v2/compute/hosts", auth=admin))["page"]["totalElements"] == hosts
    assert ok(client.get("/api/v2/tasks/instances", auth=admin))["page"]["totalElements"] == tasks


def test_a_lock_and_an_unlock_are_audited(client: TestClient, admin: Auth, trail: Trail, db: Engine) -> None:
    erin = create_user(client, admin, "erin", "erin-password-1")
    me = "/api/v2/iam/current/user"
    for n in range(4):
        trail.one(partial(client.get, me, auth=("erin", f"guess-{n}")), "LOGIN", errorCode=3004)
    before = len(rows(db))
    error(client.get(me, auth=("erin", "guess-5")), 401, 3003)
    added = rows(db)[before:]
    # The fifth failure is a failed login and the lock it causes, in the lock's own transaction.
    assert sorted((r.action, r.result, r.error_code or 0) for r in added) == [
        ("LOGIN", "FAILED", 3003),
        ("USER_LOCK", "SUCCESS", 0),
    ], added
    lock = next(r for r in added if r.action == "USER_LOCK")
    assert (lock.resource_type, lock.resource_id, lock.user_name) == ("USER", str(erin["id"]), "erin")
    trail.one(
        lambda: client.post(f"/api/v2/iam/users/{erin['id']}/unlock", auth=admin),
        "USER_UNLOCK",
        userName="admin",
        resourceId=str(erin["id"]),
    )
