"""Giving a takeover up leaves nothing behind. OCP's takeOver call against the SCRIPTED 4.x STAND-IN of
tests/ob/ob4_standin.py (not a real cluster: obcp's SQL sessions are the stand-in's): with no agent
registered for its hosts the task fails at "Check host agents"; rolling it back removes the cluster row the
call made, so the name and the servers are free for the next try."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from obcp.api.app import create_app
from obcp.config import Settings
from obcp.meta.migrate import upgrade
from tests.api.ocp import error, ok
from tests.ob.ob4_standin import Ob4StandIn

ADMIN = ("admin", "admin-standin-password")
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    url = f"sqlite:///{tmp_path / 'metadb.sqlite'}"
    upgrade(url)
    settings = Settings(home=tmp_path / "home", db_url=url, admin_password=ADMIN[1])
    app = create_app(settings, connect=Ob4StandIn().connector())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://obcp", auth=ADMIN) as client:
            yield client


async def settled(http: httpx.AsyncClient, task_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        task: dict[str, Any] = ok(await http.get(f"/api/v2/tasks/instances/{task_id}"))
        if task["status"] != "RUNNING":
            return task
        assert time.monotonic() < deadline, task
        await asyncio.sleep(0.05)


async def take_over(http: httpx.AsyncClient) -> dict[str, Any]:
    host_type = ok(await http.post("/api/v2/compute/hostTypes", json={"name": f"t{time.monotonic_ns()}"}))
    credential = {
        "targetType": "HOST",
        "name": f"c{time.monotonic_ns()}",
        "sshCredentialProperty": {"type": "PASSWORD", "username": "admin", "passphrase": "ssh-pw-1"},
    }
    cred = ok(await http.post("/api/v2/profiles/me/credentials", json=credential))
    body = {
        "address": "127.0.1.1",
        "port": 2881,
        "rootSysPassword": "root-pass-1",
        "connectionMode": "direct",
        "hostInfo": {"kind": "DEDICATED_PHYSICAL_MACHINE", "hostTypeId": host_type["id"], "sshPort": 22,
                     "credentialId": cred["id"]},
    }  # fmt: skip
    answer: dict[str, Any] = ok(await http.post("/api/v2/ob/clusters/takeOver", json=body))
    return answer


async def test_rolling_back_a_failed_takeover_removes_its_cluster(http: httpx.AsyncClient) -> None:
    answer = await take_over(http)
    task = await settled(http, answer["id"])
    assert task["status"] == "FAILED"
    failed = [s["name"] for s in task["subtasks"] if s["status"] == "FAILED"]
    assert failed == ["Check host agents"], task
    cluster_id = answer["clusterId"]
    assert ok(await http.get(f"/api/v2/ob/clusters/{cluster_id}"))["status"] == "TAKINGOVER"

    ok(await http.post(f"/api/v2/tasks/instances/{answer['id']}/rollback"))
    task = await settled(http, answer["id"])
    assert task["status"] == "SUCCESSFUL", task  # OCP: a rolled-back task ends SUCCESSFUL
    assert {s["operation"] for s in task["subtasks"] if s["name"] == "Discover cluster topology"} == {
        "ROLLBACK"
    }
    error(await http.get(f"/api/v2/ob/clusters/{cluster_id}"), 404, code=11001)
    clusters = ok(await http.get("/api/v2/ob/clusters"))["contents"]
    assert [c["id"] for c in clusters] == []

    # The name and the servers are free again: the same call makes a new cluster and task.
    again = await take_over(http)
    assert again["id"] != answer["id"]
    assert ok(await http.get(f"/api/v2/ob/clusters/{again['clusterId']}"))["status"] == "TAKINGOVER"
