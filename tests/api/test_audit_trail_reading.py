"""The audit trail's guarantees beyond one event per change: no secret in any column of any row, the list's
filters and paging, who may read it, and the retention's pruning (in the server and on every metadb)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, insert, select
from sqlalchemy.engine import Engine

from obcp import audit
from obcp.api.app import create_app
from obcp.config import Settings
from obcp.meta.audit_tables import audit_event
from obcp.meta.db import Database, now_ms, sync_url
from obcp.meta.migrate import upgrade
from tests.api.conftest import ADMIN_PASSWORD, Inventory, make_client
from tests.api.ocp import create_role, create_user, error, ok, register_host, takeover
from tests.dbs import temporary_database
from tests.support.ak_signer import Signer

Auth = tuple[str, str]
EVENTS = "/api/v2/audit/events"
DAY_MS = 24 * 3600 * 1000


def all_rows(db: Engine) -> list[Any]:
    with db.connect() as conn:
        return list(conn.execute(select(audit_event).order_by(audit_event.c.id)).all())


def test_no_secret_in_any_audit_row(
    client: TestClient, admin: Auth, db: Engine, inventory: Inventory
) -> None:
    c = client
    secrets = {
        "user": "Secret-user-pass-11",
        "reset": "Secret-reset-pass-22",
        "own": "Secret-own-pass-33",
        "agent": "secret-agent-key-44444",
        "agent2": "secret-agent-key-55555",
        "root": "secret-root-pass-66",
        "passphrase": "secret-ssh-pass-77",
        "private": "-----BEGIN KEY secret-private-88-----",
        "rootsys": "secret-root-sys-99",
        "proxyro": "secret-proxyro-00",
        "failed": "secret-wrong-pass-12",
        "import_root": "secret-import-root-13",
        "import_agent": "secret-import-agent-14",
    }
    ok(c.post("/api/v2/iam/users", json={"username": "bob", "password": secrets["user"]}, auth=admin))
    bob_id = ok(c.get("/api/v2/iam/users", params={"keyword": "bob"}, auth=admin))["contents"][0]["id"]
    ok(c.post(f"/api/v2/iam/users/{bob_id}/changePassword", json={"password": secrets["reset"]}, auth=admin))
    own = {"currentPassword": secrets["reset"], "newPassword": secrets["own"]}
    ok(c.post("/api/v2/iam/current/user/changePassword", json=own, auth=("bob", secrets["reset"])))
    host = {"address": "10.2.0.1", "agentPort": 2886, "agentKey": secrets["agent"]}
    hid = ok(c.post("/api/v2/compute/hosts", json=host, auth=admin))["id"]
    ok(c.put(f"/api/v2/compute/hosts/{hid}", json={"agentKey": secrets["agent2"]}, auth=admin))
    takeover(c, admin, "c2", {"zone1": [hid]}, root_password=secrets["root"])
    type_id = ok(c.post("/api/v2/compute/hostTypes", json={"name": "t1"}, auth=admin))["id"]
    for ssh in (
        {"type": "PASSWORD", "username": "admin", "passphrase": secrets["passphrase"]},
        {"type": "PRIVATE_KEY", "username": "admin", "privateKey": secrets["private"]},
    ):
        credential = {"targetType": "HOST", "name": ssh["type"], "sshCredentialProperty": ssh}
        cred_id = ok(c.post("/api/v2/profiles/me/credentials", json=credential, auth=admin))["id"]
    take_over = {
        "address": "127.0.0.1",
        "port": 1,
        "rootSysPassword": secrets["rootsys"],
        "proxyroPassword": secrets["proxyro"],
        "hostInfo": {"hostTypeId": type_id, "credentialId": cred_id},
    }
    taken = ok(c.post("/api/v2/ob/clusters/takeOver", json=take_over, auth=admin))
    # OCP's takeover: its event goes with the task's submission, naming the new cluster and the task.
    (event,) = ok(c.get(EVENTS, params={"action": "CLUSTER_TAKEOVER", "size": 1}, auth=admin))["contents"]
    assert event["resourceId"] == str(taken["clusterId"]) and event["summary"]["taskId"] == taken["id"]
    key = ok(c.post("/api/v2/profiles/me/accessKeys", json={}, auth=admin))
    secrets["access_key"] = key["accessKeySecret"]
    signer = Signer(key["accessKeyId"], key["accessKeySecret"], "testserver")
    ok(
        signer.request(
            c, "POST", "/api/v2/iam/roles", json_body={"name": "R_S", "permissions": ["HOST:*:READ"]}
        )
    )
    error(
        Signer(key["accessKeyId"], "x" + key["accessKeySecret"], "testserver").request(c, "GET", EVENTS), 401
    )
    ok(c.post("/api/v2/iam/login", json={"username": "admin", "password": ADMIN_PASSWORD}))
    c.cookies.clear()
    error(c.post("/api/v2/iam/login", json={"username": "admin", "password": secrets["failed"]}), 401)
    error(c.get("/api/v2/ob/clusters", auth=("admin", secrets["failed"])), 401)
    imported = {
        "name": "c3",
        "rootPassword": secrets["import_root"],
        "hosts": [{"address": "127.0.0.1", "agentPort": 1, "agentKey": secrets["import_agent"]}],
        "servers": [{"observerName": "o", "address": "127.0.0.1", "sqlPort": 1, "zoneName": "z1"}],
    }
    assert c.post("/api/v2/ob/clusters/import", json=imported, auth=admin).status_code >= 400
    secrets["admin"] = ADMIN_PASSWORD
    found = all_rows(db)
    actions = {r.action for r in found}
    assert {
        "USER_CREATE",
        "USER_PASSWORD_RESET",
        "USER_PASSWORD_CHANGE",
        "HOST_CREATE",
        "HOST_UPDATE",
        "CLUSTER_TAKEOVER",
        "CREDENTIAL_CREATE",
        "ACCESS_KEY_CREATE",
        "ROLE_CREATE",
        "LOGIN",
        "CLUSTER_IMPORT",
    } <= actions, actions
    for row in found:
        for column, value in row._mapping.items():
            for name, secret in secrets.items():
                assert secret not in str(value), f"the {name} secret in audit_event.{column} of {row.action}"


def seed(db: Engine, n: int, **values: Any) -> None:
    base = {
        "client_address": "10.9.9.9",
        "resource_type": "HOST",
        "result": "SUCCESS",
        "trace_id": "t",
        "summary": "{}",
        "action": "HOST_UPDATE",
        "created_at": now_ms(),
    }
    with db.begin() as conn:
        conn.execute(insert(audit_event), [{**base, **values, "resource_id": str(i)} for i in range(n)])


def contents(client: TestClient, auth: Auth, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(client.get(EVENTS, params={"size": 100, **params}, auth=auth))[
        "contents"
    ]
    return found


def test_filters_and_paging(client: TestClient, admin: Auth, db: Engine) -> None:
    old = now_ms() - 10 * DAY_MS
    seed(db, 3, user_name="carol", created_at=old)
    seed(
        db, 2, user_name="dave", action="USER_DELETE", resource_type="USER", result="FAILED", error_code=3104
    )
    assert {e["userName"] for e in contents(client, admin, userName="carol")} == {"carol"}
    assert len(contents(client, admin, userName="carol")) == 3
    failed = contents(client, admin, result="failed")
    assert [e["errorCode"] for e in failed] == [3104, 3104] and {e["userName"] for e in failed} == {"dave"}
    assert len(contents(client, admin, action="user_delete")) == 2
    assert [e["resourceId"] for e in contents(client, admin, resourceType="HOST", resourceId="2")] == ["2"]
    # A time range: the three old ones only, then nothing before them.
    around = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((old - DAY_MS) / 1000))
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((old + DAY_MS) / 1000))
    assert {e["userName"] for e in contents(client, admin, startTime=around, endTime=until)} == {"carol"}
    assert contents(client, admin, endTime=around) == []
    # Newest first; pages of 2 over the 5 seeded events and the reads' own none (reads are not audited).
    page = ok(client.get(EVENTS, params={"size": 2, "page": 2}, auth=admin))
    assert page["page"] == {"number": 2, "size": 2, "totalElements": 5, "totalPages": 3}
    ids = [e["id"] for e in contents(client, admin)]
    assert ids == sorted(ids, reverse=True) and [e["id"] for e in page["contents"]] == ids[2:4]
    by_user = contents(client, admin, sort="userName,asc")
    assert [e["userName"] for e in by_user] == ["carol"] * 3 + ["dave"] * 2
    for params, code in (
        ({"result": "MAYBE"}, 1001),
        ({"startTime": "yesterday"}, 1001),
        ({"startTime": until, "endTime": around}, 1001),
        ({"sort": "summary,asc"}, 1011),
    ):
        error(client.get(EVENTS, params=params, auth=admin), 400, code)


def test_reading_needs_audit_read(client: TestClient, admin: Auth) -> None:
    create_user(client, admin, "auditor", "auditor-pass-1", roles=["AUDIT_VIEWER"])
    create_user(client, admin, "manager", "manager-pass-1", roles=["CLUSTER_MANAGER", "USER_MANAGER"])
    assert contents(client, ("auditor", "auditor-pass-1"))[0]["action"] == "USER_CREATE"
    err = error(client.get(EVENTS, auth=("manager", "manager-pass-1")), 403, 3100)
    assert "AUDIT:*:READ" in err["message"]
    create_role(client, admin, "MY_AUDITOR", ["AUDIT:*:READ"])
    ok(client.put("/api/v2/iam/users/3/roles", json={"roles": ["MY_AUDITOR"]}, auth=admin))
    assert contents(client, ("manager", "manager-pass-1"))


def test_the_server_prunes_past_the_retention(sqlite_url: str, tmp_path: Path) -> None:
    upgrade(sqlite_url)
    engine = create_engine(sqlite_url)
    seed(engine, 2, created_at=now_ms() - 40 * DAY_MS)
    seed(engine, 1, created_at=now_ms() - 20 * DAY_MS)
    settings = Settings(
        home=tmp_path / "home",
        db_url=sqlite_url,
        admin_password="pw-123456789",
        audit_retention_days=30,
        audit_prune_interval_seconds=0.2,
    )
    with TestClient(create_app(settings)):
        deadline = time.monotonic() + 10
        while len(all_rows(engine)) > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [r.resource_id for r in all_rows(engine)] == ["0"]
    engine.dispose()


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_events_and_pruning_on_postgresql_and_mariadb(kind: str, tmp_path: Path) -> None:
    """The same transactions as on SQLite (the engine's on the async drivers): a change, an operation's
    submission, a refusal and a failed login, one event each, in order; then the pruning, twice."""
    with temporary_database(kind, tmp_path) as url:
        events = _calls_on(url, tmp_path / "home")
        engine = create_engine(sync_url(url))
        seed(engine, 3, created_at=now_ms() - 91 * DAY_MS)
        seed(engine, 1, created_at=now_ms() - 89 * DAY_MS, summary=json.dumps({"body": {"a": "é"}}))

        async def prune_twice() -> tuple[int, int]:
            db = Database(url)
            try:
                return await audit.prune(db, 90), await audit.prune(db, 90)
            finally:
                await db.dispose()

        assert asyncio.run(prune_twice()) == (3, 0)
        assert len(all_rows(engine)) == len(events) + 1
        engine.dispose()


def _calls_on(url: str, home: Path) -> list[dict[str, Any]]:
    admin = ("admin", ADMIN_PASSWORD)
    with make_client(url, home) as c:
        host = register_host(c, admin, "10.3.0.1")
        cluster = takeover(c, admin, "cm", {"zone1": [host]})
        task = ok(c.post(f"/api/v2/ob/clusters/{cluster['id']}/restart", json={"dryRun": False}, auth=admin))
        error(c.delete("/api/v2/iam/users/1", auth=admin), 400, 3104)
        error(c.get("/api/v2/ob/clusters", auth=("admin", "not-the-password")), 401, 3004)
        # What a caller sends goes into the columns without the NUL that PostgreSQL refuses.
        error(c.get("/api/v2/ob/clusters", auth=("eve\x00", "x")), 401, 3004)
        error(c.delete("/api/v2/compute/hosts/%00", auth=admin), 400, 1001)
        events: list[dict[str, Any]] = ok(c.get(EVENTS, params={"sort": "id,asc"}, auth=admin))["contents"]
    assert [(e["action"], e["result"], e.get("errorCode"), e.get("userName")) for e in events] == [
        ("HOST_CREATE", "SUCCESS", None, "admin"),
        ("CLUSTER_TAKEOVER", "SUCCESS", None, "admin"),
        ("CLUSTER_RESTART", "SUCCESS", None, "admin"),
        ("USER_DELETE", "FAILED", 3104, "admin"),
        ("LOGIN", "FAILED", 3004, "admin"),
        ("LOGIN", "FAILED", 3004, "eve"),
        ("HOST_DELETE", "FAILED", 1001, "admin"),
    ]
    assert events[2]["summary"]["taskId"] == task["tasks"][0]["id"]
    assert events[1]["resourceId"] == str(cluster["id"])
    return events
