"""OCP's task endpoints over HTTP, on the real app (auth, envelope, engine in the lifespan)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from obcp.api.runtime import Runtime
from obcp.engine import Context, TemplateBuilder
from tests.api.conftest import ADMIN_PASSWORD, make_client

from .helpers import SCRIPT, A, B, C, reset

ADMIN = ("admin", ADMIN_PASSWORD)
BASE = "/api/v2/tasks/instances"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    reset()
    with make_client(f"sqlite:///{tmp_path / 'meta.sqlite'}", tmp_path / "home") as c:
        yield c


def submit(client: TestClient, *classes: type, **kwargs: Any) -> int:
    builder = TemplateBuilder("API test task")
    for cls in classes:
        builder.then(cls)
    engine = Runtime.of(client.app).engine
    call = partial(engine.submit, builder.build(), Context(), creator="admin", creator_id=1, **kwargs)
    assert client.portal is not None
    return int(client.portal.call(call))


def wait(client: TestClient, tid: int, want: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        data: dict[str, Any] = client.get(f"{BASE}/{tid}", auth=ADMIN).json()["data"]
        if data["status"] == want:
            return data
        time.sleep(0.05)
    raise AssertionError(f"task {tid} not {want}: {data}")


def test_details_list_and_log(client: TestClient) -> None:
    tid = submit(client, A, B)
    task = wait(client, tid, "SUCCESSFUL")
    assert task["creator"] == {"id": 1, "name": "admin"} and task["type"] == "MANUAL"
    assert task["taskDefinitionId"] == -1 and task["prohibitRollback"] is False
    assert [s["status"] for s in task["subtasks"]] == ["SUCCESSFUL", "SUCCESSFUL"]
    assert "context" not in task and "className" not in task["subtasks"][0]

    listing = client.get(BASE, auth=ADMIN, params={"status": "SUCCESSFUL", "name": "API", "sort": "id,asc"})
    body = listing.json()
    assert body["data"]["page"]["totalElements"] == 1
    item = body["data"]["contents"][0]
    assert item["id"] == tid and set(item["subtasks"][0]) == {
        "description",
        "id",
        "name",
        "operation",
        "status",
    }
    assert client.get(BASE, auth=ADMIN, params={"status": "FAILED"}).json()["data"]["contents"] == []
    assert client.get(BASE, auth=ADMIN, params={"status": "BOGUS"}).status_code == 400
    assert client.get(BASE, auth=ADMIN, params={"sort": "secret,asc"}).status_code == 400

    sid = task["subtasks"][0]["id"]
    log = client.get(f"{BASE}/{tid}/subtasks/{sid}/log", auth=ADMIN).json()["data"]["log"]
    assert log.startswith("############{EXECUTE}{") and "Set state for subtask" in log


def test_errors_and_auth(client: TestClient) -> None:
    tid = submit(client, A)
    wait(client, tid, "SUCCESSFUL")
    missing = client.get(f"{BASE}/999999", auth=ADMIN)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == 4001
    other = submit(client, B)
    wait(client, other, "SUCCESSFUL")
    foreign_sid = client.get(f"{BASE}/{other}", auth=ADMIN).json()["data"]["subtasks"][0]["id"]
    for method, path in [
        ("get", f"{BASE}/{tid}/subtasks/{foreign_sid}/log"),
        ("post", f"{BASE}/{tid}/subtasks/{foreign_sid}/retry"),
        ("post", f"{BASE}/{tid}/subtasks/{foreign_sid}/skip"),
        ("post", f"{BASE}/{tid}/subtasks/{foreign_sid}/cancel"),
    ]:
        response = client.request(method, path, auth=ADMIN)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["code"] == 4002
    retry = client.post(f"{BASE}/{tid}/retry", auth=ADMIN)
    assert retry.status_code == 400 and retry.json()["error"]["code"] == 4007
    rollback = client.post(f"{BASE}/{tid}/rollback", auth=ADMIN)
    assert rollback.status_code == 400 and rollback.json()["error"]["code"] == 4007
    assert client.get(f"{BASE}/{tid}").status_code == 401


def test_operator_actions(client: TestClient) -> None:
    SCRIPT[("B:run", 1)] = "fail"
    tid = submit(client, A, B, C)
    task = wait(client, tid, "FAILED")
    failed = task["subtasks"][1]
    assert failed["status"] == "FAILED"
    retried = client.post(f"{BASE}/{tid}/subtasks/{failed['id']}/retry", auth=ADMIN)
    assert retried.status_code == 200
    assert retried.json()["data"]["id"] == failed["id"] and retried.json()["data"]["operation"] == "RETRY"
    wait(client, tid, "SUCCESSFUL")

    SCRIPT[("B:run", 1)] = "fail"
    tid = submit(client, A, B, C)
    task = wait(client, tid, "FAILED")
    skip = client.post(f"{BASE}/{tid}/subtasks/{task['subtasks'][1]['id']}/skip", auth=ADMIN)
    assert skip.status_code == 200 and "data" not in skip.json()
    wait(client, tid, "SUCCESSFUL")

    SCRIPT[("C:run", 1)] = "fail"
    tid = submit(client, A, B, C)
    wait(client, tid, "FAILED")
    rolled = client.post(f"{BASE}/{tid}/rollback", auth=ADMIN)
    assert rolled.status_code == 200 and rolled.json()["data"]["operation"] == "ROLLBACK"
    done = wait(client, tid, "SUCCESSFUL")
    assert done["operation"] == "ROLLBACK" and {s["status"] for s in done["subtasks"]} == {"PENDING"}

    SCRIPT[("A:run", 2)] = "hang"
    SCRIPT[("A:run", 1)] = "fail"
    tid = submit(client, A)
    wait(client, tid, "FAILED")
    retry = client.post(f"{BASE}/{tid}/retry", auth=ADMIN)
    assert retry.status_code == 200 and retry.json()["data"]["operation"] == "RETRY"
    sid = retry.json()["data"]["subtasks"][0]["id"]
    deadline = time.monotonic() + 10
    while client.get(f"{BASE}/{tid}", auth=ADMIN).json()["data"]["subtasks"][0]["status"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # Readable while the run is live (flushed every log_flush_seconds).
    while "{RETRY}" not in client.get(f"{BASE}/{tid}/subtasks/{sid}/log", auth=ADMIN).json()["data"]["log"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.get(f"{BASE}/{tid}", auth=ADMIN).json()["data"]["subtasks"][0]["status"] == "RUNNING"
    cancel = client.post(f"{BASE}/{tid}/subtasks/{sid}/cancel", auth=ADMIN)
    assert cancel.status_code == 200 and "data" not in cancel.json()
    task = wait(client, tid, "FAILED")
    assert task["subtasks"][0]["operation"] == "CANCEL"


def test_permissions(client: TestClient) -> None:
    SCRIPT[("A:run", 1)] = "fail"
    tid = submit(client, A)
    task = wait(client, tid, "FAILED")
    sid = task["subtasks"][0]["id"]
    for name, role in [("viewer", "TASK_VIEWER"), ("hostonly", "HOST_VIEWER"), ("operator", "TASK_MANAGER")]:
        created = client.post(
            "/api/v2/iam/users",
            auth=ADMIN,
            json={"username": name, "password": "Secret-pass-123!", "roles": [role]},
        )
        assert created.status_code == 200, created.text
    viewer = ("viewer", "Secret-pass-123!")
    hostonly = ("hostonly", "Secret-pass-123!")
    operator = ("operator", "Secret-pass-123!")
    assert client.get(f"{BASE}/{tid}", auth=viewer).status_code == 200
    assert client.get(BASE, auth=viewer).status_code == 200
    assert client.get(f"{BASE}/{tid}/subtasks/{sid}/log", auth=viewer).status_code == 200
    for path in (f"{BASE}/{tid}/retry", f"{BASE}/{tid}/rollback", f"{BASE}/{tid}/subtasks/{sid}/skip"):
        denied = client.post(path, auth=viewer)
        assert denied.status_code == 403 and denied.json()["error"]["code"] == 3100
    assert client.get(f"{BASE}/{tid}", auth=hostonly).status_code == 403
    assert client.get(BASE, auth=hostonly).status_code == 403
    assert client.post(f"{BASE}/{tid}/subtasks/{sid}/skip", auth=operator).status_code == 200
    wait(client, tid, "SUCCESSFUL")


def _add_cluster(client: TestClient, name: str) -> int:
    from sqlalchemy import insert

    from obcp.meta.db import Database, now_ms
    from obcp.meta.tables import ob_cluster

    db: Database = Runtime.of(client.app).db

    async def add() -> int:
        values = {"name": name, "ob_cluster_id": 7, "status": "RUNNING", "root_password_enc": "x"}
        async with db.tx() as conn:
            res = await conn.execute(
                insert(ob_cluster).values(**values, creator="admin", created_at=now_ms(), updated_at=now_ms())
            )
        assert res.inserted_primary_key is not None
        return int(res.inserted_primary_key[0])

    assert client.portal is not None
    return int(client.portal.call(add))


def test_list_filters(client: TestClient) -> None:
    cid = _add_cluster(client, "prod_1")
    other = _add_cluster(client, "prodX1")
    on_cluster = submit(client, A, cluster_id=cid, host_id=3, name="Restart 100%")
    elsewhere = submit(client, A, cluster_id=other, tenant_id=9, name="Restart_all")
    loose = submit(client, A)
    for tid in (on_cluster, elsewhere, loose):
        wait(client, tid, "SUCCESSFUL")

    def ids(**params: Any) -> list[int]:
        body = client.get(BASE, auth=ADMIN, params={"sort": "id,asc", **params}).json()
        return [t["id"] for t in body["data"]["contents"]]

    assert ids() == [on_cluster, elsewhere, loose]
    assert ids(sort="id,desc") == [loose, elsewhere, on_cluster]
    assert ids(clusterName="prod_") == [on_cluster]  # `_` is a character, not a wildcard
    assert ids(cluterName="prod") == [on_cluster, elsewhere]  # OCP's misspelt alias
    assert ids(clusterName="prod", clusterId=other) == [elsewhere]
    assert ids(clusterName="nothing") == []
    assert ids(name="100%") == [on_cluster] and ids(name="t_a") == [elsewhere]
    assert ids(tenantId=9) == [elsewhere] and ids(tenantName="any") == []
    assert ids(hostId=3) == [on_cluster] and ids(type="manual") == [on_cluster, elsewhere, loose]
    listed = client.get(BASE, auth=ADMIN, params={"clusterId": cid}).json()["data"]["contents"][0]
    assert listed["cluster"] == {"id": cid, "name": "prod_1", "obClusterId": 7, "type": "PRIMARY"}
    assert client.get(f"{BASE}/{loose}", auth=ADMIN).json()["data"].get("cluster") is None
