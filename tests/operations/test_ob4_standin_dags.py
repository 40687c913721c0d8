"""Whole operation DAGs on a distributed OceanBase 4.x cluster, through obcp's HTTP API and engine, against
the SCRIPTED STAND-IN of tests/ob/ob4_standin.py: NOT a real cluster. No multi-node OceanBase runs here,
so obcp's sessions and agents are replaced (`create_app(connect=..., agent_factory=...)`) by the stand-in's:
its 4.x views answer obcp's SELECTs unchanged, its ALTER SYSTEM STOP/START ZONE/SERVER refuse what would
lose a majority, and its agents "stop" a server by taking it out of the views and "start" it with its log
streams out of sync and its schema stale for a few reads. What runs for real: the API, the planner and the
rolling-safety check, the engine, every step of the restart DAGs, readiness and the availability monitor.

The seekdb end-to-end tests (tests/e2e) cover the same DAGs on real processes, standalone only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from obcp.api.app import create_app
from obcp.config import Settings
from obcp.meta.inventory import ServerRef
from obcp.meta.migrate import upgrade
from tests.api.ocp import error, ok, takeover_body
from tests.ob.ob4_standin import Ob4StandIn, StandInAgent

ADMIN = ("admin", "admin-standin-password")
pytestmark = pytest.mark.timeout(120)


@dataclass
class Harness:
    http: httpx.AsyncClient
    cluster: Ob4StandIn
    agents: dict[str, StandInAgent]  # by host address
    cluster_id: int
    server_ids: dict[str, int]  # by host address

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post(path, json=body) if body is not None else await self.http.post(path)

    async def get(self, path: str) -> Any:
        return ok(await self.http.get(path))

    async def run(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        task: dict[str, Any] = ok(await self.post(path, body))
        return await self.wait(task["id"])

    async def wait(self, task_id: int, seconds: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while True:
            task: dict[str, Any] = await self.get(f"/api/v2/tasks/instances/{task_id}")
            if task["status"] != "RUNNING":
                return task
            assert time.monotonic() < deadline, f"task {task_id} still running: {task}"
            await asyncio.sleep(0.05)

    async def run_failing(self, path: str, step: str, index: int) -> tuple[dict[str, Any], str]:
        """Runs the operation, which must fail at `step` alone; the task and the log of the failed one."""
        task = await self.run(path)
        assert task["status"] == "FAILED", task
        failed = [s for s in task["subtasks"] if s["status"] == "FAILED"]
        assert [s["name"] for s in failed] == [step], failed
        return task, await self.log_of(task, step, index)

    async def log_of(self, task: dict[str, Any], name: str, index: int = 0) -> str:
        sub = [s for s in task["subtasks"] if s["name"] == name][index]
        data = await self.get(f"/api/v2/tasks/instances/{task['id']}/subtasks/{sub['id']}/log")
        return str(data["log"])

    def journal(self) -> list[str]:
        """ALTER SYSTEM statements and agent actions, in the order the stand-in received them; the minor
        freezes before each stop are left out (tests/operations/test_parameters_standin.py has them)."""
        return [
            sql
            for _, sql in self.cluster.statements
            if sql.startswith(("ALTER SYSTEM", "AGENT ")) and "MINOR FREEZE" not in sql
        ]


@pytest.fixture
async def standin(tmp_path: Path) -> AsyncIterator[Harness]:
    url = f"sqlite:///{tmp_path / 'metadb.sqlite'}"
    upgrade(url)
    cluster = Ob4StandIn()
    agents = {addr.ip: cluster.agent(addr.ip) for addr in cluster.servers}

    def agent_of(ref: ServerRef, _key: str) -> StandInAgent:
        return agents[ref.address]

    settings = Settings(home=tmp_path / "home", db_url=url, admin_password=ADMIN[1])
    app = create_app(settings, connect=cluster.connector(), agent_factory=agent_of)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://obcp", auth=ADMIN) as http:
            host_ids = {}
            for addr in cluster.servers:
                body = {"address": addr.ip, "agentPort": 2886, "agentKey": "stand-in-agent-key-0123"}
                host_ids[addr.ip] = ok(await http.post("/api/v2/compute/hosts", json=body))["id"]
            zones = {cluster.zone_of(a): [host_ids[a.ip]] for a in cluster.servers}
            view = ok(await http.post("/api/v2/ob/clusters/takeover", json=takeover_body("ob4", zones)))
            servers = await http.get(f"/api/v2/ob/clusters/{view['id']}/servers")
            ids = {s["ip"]: s["id"] for s in ok(servers)["contents"]}
            yield Harness(http, cluster, agents, view["id"], ids)


def zone_cycle(zone: str, ip: str) -> list[str]:
    return [
        f"ALTER SYSTEM STOP ZONE '{zone}'",
        f"AGENT STOP {ip} (zone {zone} INACTIVE, 0 leaders)",
        f"AGENT START {ip} (zone {zone} INACTIVE, 0 leaders)",
        f"ALTER SYSTEM START ZONE '{zone}'",
    ]


ROLLING = [
    *zone_cycle("zone1", "127.0.1.1"),
    *zone_cycle("zone2", "127.0.1.2"),
    *zone_cycle("zone3", "127.0.1.3"),
]


async def test_rolling_restart_stops_each_zone_before_its_observers_and_waits_for_catch_up(
    standin: Harness,
) -> None:
    h = standin
    task = await h.run(f"/api/v2/ob/clusters/{h.cluster_id}/restart")
    assert task["status"] == "SUCCESSFUL", task
    # One zone at a time: STOP ZONE (leaders leave it: 0 left when its observer stops), process stop and
    # start, START ZONE only once the restarted observer serves with its logs in sync and schema refreshed.
    assert h.journal() == ROLLING
    assert [h.cluster.zone_status(z) for z in h.cluster.zones] == ["ACTIVE"] * 3
    accessible = await h.log_of(task, "Wait observer accessible")
    assert "IN_SYNC=NO" in accessible and "schema refreshed on 127.0.1.1:2882" in accessible
    assert "START_SERVICE_TIME" in accessible and "a new process" in accessible
    prepare_zone = await h.log_of(task, "Prepare restart OB zone", 1)
    assert "health gate: " in prepare_zone and "zone zone2 stopped" in prepare_zone, prepare_zone
    cluster = await h.get(f"/api/v2/ob/clusters/{h.cluster_id}")
    assert cluster["status"] == "RUNNING" and {z["status"] for z in cluster["zones"]} == {"RUNNING"}
    # Two zones served throughout: the availability monitor saw no second without an answer.
    availability = cluster["lastOperation"]["availability"]
    assert availability["longestOutageSeconds"] == 0 and availability["probeRounds"] > 0, availability
    sync = await h.log_of(task, "Sync cluster info")
    assert "distributed cluster, version OceanBase 4.2.1.2; zones: zone1, zone2, zone3" in sync


async def test_rolling_is_refused_when_a_zone_stop_would_lose_a_majority_and_force_runs_instead(
    standin: Harness,
) -> None:
    h = standin
    h.cluster.set_in_sync(h.cluster.servers[1], False)  # zone2 lags: stopping zone1 or zone3 loses a majority
    err = error(await h.post(f"/api/v2/ob/clusters/{h.cluster_id}/restart"), 400, 1001)
    assert "restartMode ROLLING" in err["message"] and "majority" in err["message"], err
    tasks = await h.get("/api/v2/tasks/instances")
    assert tasks["contents"] == [], "a refused call must create no task"
    assert h.journal() == []

    task = await h.run(f"/api/v2/ob/clusters/{h.cluster_id}/restart", {"restartMode": "FORCE"})
    assert task["status"] == "SUCCESSFUL", task
    journal = h.journal()
    # Force: no STOP ZONE; every observer stopped while its zone was still ACTIVE.
    assert not [s for s in journal if s.startswith("ALTER SYSTEM")], journal
    assert sorted(s.split(" (")[0] for s in journal) == sorted(
        f"AGENT {verb} 127.0.1.{n}" for verb in ("STOP", "START") for n in (1, 2, 3)
    )
    assert all("ACTIVE," in s and "INACTIVE" not in s for s in journal), journal


async def test_health_gate_stops_the_roll_before_the_next_zone_and_retry_finishes_it(
    standin: Harness,
) -> None:
    h = standin
    lagging = h.cluster.servers[2]
    # While zone1 restarts, zone3 falls behind: zone2 must not be stopped (zone3 would be the majority).
    h.agents["127.0.1.1"].on_start = lambda: h.cluster.set_in_sync(lagging, False)
    path = f"/api/v2/ob/clusters/{h.cluster_id}/restart"
    task, log = await h.run_failing(path, "Prepare restart OB zone", 1)
    assert "zone zone2 is not stopped" in log and "127.0.1.3" in log, log
    assert h.journal() == zone_cycle("zone1", "127.0.1.1"), "zone2 must not have been touched"
    assert h.cluster.zone_status("zone2") == "ACTIVE"

    h.cluster.catch_up(lagging)
    ok(await h.post(f"/api/v2/tasks/instances/{task['id']}/retry"))
    final = await h.wait(task["id"])
    assert final["status"] == "SUCCESSFUL", final
    assert h.journal() == ROLLING


async def test_failed_start_then_rollback_starts_the_observer_and_the_zone_again(standin: Harness) -> None:
    h = standin
    h.agents["127.0.1.2"].fail_starts = 1
    path = f"/api/v2/ob/clusters/{h.cluster_id}/restart"
    task, log = await h.run_failing(path, "Start observer process", 1)
    assert "127.0.1.2:2886" in log and "exited during start" in log, log
    assert h.cluster.zone_status("zone2") == "INACTIVE"
    assert h.cluster.servers[1] in h.cluster.down

    ok(await h.post(f"/api/v2/tasks/instances/{task['id']}/rollback"))
    final = await h.wait(task["id"])
    assert final["status"] == "SUCCESSFUL" and final["operation"] == "ROLLBACK", final
    # Rollback walked back through zone2 (its observer started again, then START ZONE for the zone this
    # task stopped), then zone1 (its observer runs: the agent leaves it; the zone is ACTIVE: no START
    # ZONE); zone3 was never touched.
    assert h.journal()[4:] == [
        "ALTER SYSTEM STOP ZONE 'zone2'",
        "AGENT STOP 127.0.1.2 (zone zone2 INACTIVE, 0 leaders)",
        "AGENT START 127.0.1.2 (zone zone2 INACTIVE, 0 leaders)",
        "AGENT START 127.0.1.2 (zone zone2 INACTIVE, 0 leaders)",
        "ALTER SYSTEM START ZONE 'zone2'",
        "AGENT START 127.0.1.1 (zone zone1 ACTIVE, 4 leaders)",
    ]
    assert h.cluster.servers[1] not in h.cluster.down
    assert [h.cluster.zone_status(z) for z in h.cluster.zones] == ["ACTIVE"] * 3
    cluster = await h.get(f"/api/v2/ob/clusters/{h.cluster_id}")
    assert cluster["status"] == "RUNNING" and {z["status"] for z in cluster["zones"]} == {"RUNNING"}


async def test_zone_and_server_restarts_use_stop_zone_and_stop_server(standin: Harness) -> None:
    h = standin
    task = await h.run(f"/api/v2/ob/clusters/{h.cluster_id}/zones/zone2/restart")
    assert task["status"] == "SUCCESSFUL", task
    assert h.journal() == zone_cycle("zone2", "127.0.1.2")

    # Force first, on the server holding every leader: its process stops with them (they move only as it
    # dies); then without force on the server that took them over: STOP SERVER moves them off first.
    h.cluster.statements.clear()
    first, second = h.server_ids["127.0.1.1"], h.server_ids["127.0.1.2"]
    task = await h.run(f"/api/v2/ob/clusters/{h.cluster_id}/servers/{first}/restart", {"force": True})
    assert task["status"] == "SUCCESSFUL", task
    assert h.journal() == [
        "AGENT STOP 127.0.1.1 (zone zone1 ACTIVE, 4 leaders)",
        "AGENT START 127.0.1.1 (zone zone1 ACTIVE, 0 leaders)",
    ]
    assert h.cluster.leaders_in("zone2") == 4

    h.cluster.statements.clear()
    task = await h.run(f"/api/v2/ob/clusters/{h.cluster_id}/servers/{second}/restart")
    assert task["status"] == "SUCCESSFUL", task
    assert h.journal() == [
        "ALTER SYSTEM STOP SERVER '127.0.1.2:2882'",
        "AGENT STOP 127.0.1.2 (zone zone2 ACTIVE, 0 leaders)",
        "AGENT START 127.0.1.2 (zone zone2 ACTIVE, 0 leaders)",
        "ALTER SYSTEM START SERVER '127.0.1.2:2882'",
    ]


async def test_stop_and_start_of_zone_server_and_cluster(standin: Harness) -> None:
    h = standin
    base = f"/api/v2/ob/clusters/{h.cluster_id}"
    server3 = h.server_ids["127.0.1.3"]

    async def run(path: str) -> list[str]:
        h.cluster.statements.clear()
        task = await h.run(base + path)
        assert task["status"] == "SUCCESSFUL", (path, task)
        return h.journal()

    # A stop that would leave a log stream without a majority is refused at once, naming it.
    h.cluster.set_in_sync(h.cluster.servers[2], False)
    err = error(await h.post(base + "/zones/zone2/stop"), 400, 1001)
    assert "zone zone2" in err["message"] and "majority" in err["message"] and "1002" in err["message"], err
    h.cluster.catch_up(h.cluster.servers[2])

    assert await run("/zones/zone2/stop") == [
        "ALTER SYSTEM STOP ZONE 'zone2'",
        "AGENT STOP 127.0.1.2 (zone zone2 INACTIVE, 0 leaders)",
    ]
    assert await run("/zones/zone2/start") == [
        "AGENT START 127.0.1.2 (zone zone2 INACTIVE, 0 leaders)",
        "ALTER SYSTEM START ZONE 'zone2'",
    ]
    assert await run(f"/servers/{server3}/stop") == [
        "ALTER SYSTEM STOP SERVER '127.0.1.3:2882'",
        "AGENT STOP 127.0.1.3 (zone zone3 ACTIVE, 0 leaders)",
    ]
    assert await run(f"/servers/{server3}/start") == [
        "AGENT START 127.0.1.3 (zone zone3 ACTIVE, 0 leaders)",
        "ALTER SYSTEM START SERVER '127.0.1.3:2882'",
    ]
    # A cluster stop is an outage by intent: every observer stops, side by side, no ALTER SYSTEM.
    stopped = await run("/stop")
    assert sorted(s.split(" (")[0] for s in stopped) == [f"AGENT STOP 127.0.1.{n}" for n in (1, 2, 3)]
    assert set(h.cluster.servers) == h.cluster.down
    assert (await h.get(base))["status"] == "STOPPED"
    started = await run("/start")
    assert sorted(s.split(" (")[0] for s in started) == [f"AGENT START 127.0.1.{n}" for n in (1, 2, 3)]
    assert not h.cluster.down
    cluster = await h.get(base)
    assert cluster["status"] == "RUNNING" and {z["status"] for z in cluster["zones"]} == {"RUNNING"}
