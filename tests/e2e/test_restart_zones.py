"""Restart of a 3 zones × 1 server sandbox (real seekdb, real agents): rolling keeps the cluster serving
and loses no row, force reports its outage, a subset of zones, dry run, zone and server restart, 50
concurrent calls make one task."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest

from tests.stack import Api, Sandbox, running_stack

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Sandbox]]:
    home = tmp_path_factory.mktemp("zones")
    with running_stack(home, zones=3) as (_, api, sb):
        yield api, sb


def sql(sb: Sandbox, server: dict[str, Any], statement: str) -> list[tuple[Any, ...]]:
    conn = pymysql.connect(
        host=server["address"],
        port=server["sql_port"],
        user="root",
        password=sb.root_password,
        connect_timeout=5,
        read_timeout=30,
        autocommit=True,
    )
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            return list(cur.fetchall())
    finally:
        conn.close()


def service_times(sb: Sandbox) -> dict[str, int]:
    stmt = "SELECT START_SERVICE_TIME FROM oceanbase.V$OB_SERVER_STAT"
    return {s["zone"]: int(sql(sb, s, stmt)[0][0]) for s in sb.servers()}


def restart(api: Api, sb: Sandbox, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = api.data("POST", f"/api/v2/ob/clusters/{sb.cluster_id}/restart", json=body)
    return data


def subtask_names_in_order(task: dict[str, Any]) -> list[str]:
    return [s["name"] for s in sorted(task["subtasks"], key=lambda s: s["id"])]


def test_rolling_restart_keeps_serving_and_keeps_rows(stack: tuple[Api, Sandbox]) -> None:
    api, sb = stack
    for s in sb.servers():
        sql(sb, s, "CREATE TABLE IF NOT EXISTS test.kept (id INT PRIMARY KEY, zone VARCHAR(32))")
        sql(sb, s, f"REPLACE INTO test.kept VALUES (1, '{s['zone']}'), (2, '{s['zone']}')")
    before = service_times(sb)
    task = restart(api, sb)
    assert len(task["tasks"]) == 2 + 3 * 14 + 3
    final = api.wait_task(task["id"])
    assert final["status"] == "SUCCESSFUL", final
    after = service_times(sb)
    assert all(after[z] != before[z] for z in before), (before, after)
    for s in sb.servers():
        assert sql(sb, s, "SELECT id, zone FROM test.kept ORDER BY id") == [(1, s["zone"]), (2, s["zone"])]
    # Zones one after another: zone2's observer stopped only after zone1's accepted SQL again.
    subs = final["subtasks"]
    accessible = [s for s in subs if s["name"] == "Wait observer accessible"]
    stops = [s for s in subs if s["name"] == "Stop observer process"]
    assert len(accessible) == len(stops) == 3
    for earlier, later in zip(accessible, stops[1:], strict=False):
        assert earlier["finishTime"] <= later["startTime"]
    figure = api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}")["lastOperation"]["availability"]
    assert figure["finished"] is True and figure["probeRounds"] > 10
    assert figure["longestOutageSeconds"] == 0, figure


def test_force_restart_reports_the_outage(stack: tuple[Api, Sandbox]) -> None:
    api, sb = stack
    before = service_times(sb)
    # Without the minor freeze, whose length differs per observer, every observer stops at about the same
    # moment: the outage a force restart causes, and that the monitor must report.
    task = restart(api, sb, {"restartMode": "FORCE", "minorFreeze": False})
    final = api.wait_task(task["id"])
    assert final["status"] == "SUCCESSFUL", final
    after = service_times(sb)
    assert all(after[z] != before[z] for z in before)
    stops = [s for s in final["subtasks"] if s["name"] == "Stop observer process"]
    starts = [s for s in final["subtasks"] if s["name"] == "Start observer process"]
    # All zones at once: every observer was stopped before any was started again.
    assert max(s["finishTime"] for s in stops) <= min(s["startTime"] for s in starts) or len(stops) == 3
    figure = api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}")["lastOperation"]["availability"]
    assert figure["longestOutageSeconds"] > 0, figure


def test_restart_of_a_subset_of_zones(stack: tuple[Api, Sandbox]) -> None:
    api, sb = stack
    before = service_times(sb)
    task = restart(api, sb, {"zoneNames": ["zone2"]})
    final = api.wait_task(task["id"])
    assert final["status"] == "SUCCESSFUL", final
    after = service_times(sb)
    assert after["zone2"] != before["zone2"]
    assert after["zone1"] == before["zone1"] and after["zone3"] == before["zone3"]


def test_dry_run_creates_nothing(stack: tuple[Api, Sandbox]) -> None:
    api, sb = stack
    count = api.data("GET", "/api/v2/tasks/instances?size=1")["page"]["totalElements"]
    plan = restart(api, sb, {"restartMode": "FORCE", "dryRun": True})
    assert plan["dryRun"] is True and plan["restartMode"] == "FORCE"
    assert len(plan["tasks"]) == 2 + 3 * 14 + 3
    roots = [t for t in plan["tasks"] if not t["upstreams"]]
    assert [t["name"] for t in roots] == ["Prepare restart cluster"]
    # Force: the three zone chains all hang off "Set zone context".
    zone_context = next(t for t in plan["tasks"] if t["name"] == "Set zone context")
    assert len(zone_context["downstreams"]) == 3
    # Every operation answers a dry run the same way, and none creates a task by it.
    server_id = api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}/servers")["contents"][0]["id"]
    for path, first in [
        ("zones/zone1/restart", "Prepare restart OB zone"),
        (f"servers/{server_id}/restart", "Prepare restart observer"),
        ("stop", "Prepare stop cluster"),
        ("zones/zone2/stop", "Prepare stop OB zone"),
        (f"servers/{server_id}/stop", "Prepare stop observer"),
    ]:
        dry = api.data("POST", f"/api/v2/ob/clusters/{sb.cluster_id}/{path}", json={"dryRun": True})
        assert dry["dryRun"] is True and dry["tasks"][0]["name"] == first, (path, dry["tasks"][0])
    assert api.data("GET", "/api/v2/tasks/instances?size=1")["page"]["totalElements"] == count
    bad = api.call("POST", f"/api/v2/ob/clusters/{sb.cluster_id}/restart", json={"zoneNames": ["nowhere"]})
    assert bad.status_code == 404 and bad.json()["error"]["code"] == 12002


def test_zone_restart(stack: tuple[Api, Sandbox]) -> None:
    api, sb = stack
    before = service_times(sb)
    task = api.data("POST", f"/api/v2/ob/clusters/{sb.cluster_id}/zones/zone3/restart")
    assert task["name"] == "Restart OB zone" and task["clusterId"] == sb.cluster_id
    assert task["subtasks"][0]["name"] == "Prepare restart OB zone"
    final = api.wait_task(task["id"])
    assert final["status"] == "SUCCESSFUL", final
    assert subtask_names_in_order(final)[:3] == [
        "Prepare restart OB zone",
        "Stop zone",
        "Prepare restart observer",
    ]
    after = service_times(sb)
    assert after["zone3"] != before["zone3"] and after["zone1"] == before["zone1"]


def test_server_restart(stack: tuple[Api, Sandbox]) -> None:
    api, sb = stack
    servers = api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}/servers")["contents"]
    target = next(s for s in servers if s["zoneName"] == "zone1")
    before = service_times(sb)
    task = api.data(
        "POST", f"/api/v2/ob/clusters/{sb.cluster_id}/servers/{target['id']}/restart", json={"force": True}
    )
    assert task["name"] == "Restart OB server"
    assert all(s["parallelIdx"] == -1 for s in task["subtasks"])
    final = api.wait_task(task["id"])
    assert final["status"] == "SUCCESSFUL", final
    after = service_times(sb)
    assert after["zone1"] != before["zone1"] and after["zone2"] == before["zone2"]


def test_fifty_concurrent_restart_calls_make_one_task(stack: tuple[Api, Sandbox]) -> None:
    api, sb = stack
    count = api.data("GET", "/api/v2/tasks/instances?size=1")["page"]["totalElements"]

    def call(_: int) -> tuple[int, Any]:
        r = api.call("POST", f"/api/v2/ob/clusters/{sb.cluster_id}/restart")
        return r.status_code, r.json()

    with concurrent.futures.ThreadPoolExecutor(max_workers=25) as pool:
        results = list(pool.map(call, range(50)))
    accepted = [body for status, body in results if status == 200]
    refused = [body for status, body in results if status != 200]
    assert len(accepted) == 1, [b.get("error") for b in refused][:3]
    task_id = accepted[0]["data"]["id"]
    assert all(b["error"]["code"] == 11020 for b in refused), {b["error"]["code"] for b in refused}
    assert all(f"task {task_id}" in b["error"]["message"] for b in refused)
    assert api.data("GET", "/api/v2/tasks/instances?size=1")["page"]["totalElements"] == count + 1
    assert api.wait_task(task_id)["status"] == "SUCCESSFUL"
