"""Cluster parameters on a 3 zones x 1 server sandbox (real seekdb observers, real agents, real HTTP): a
static parameter is pending on every server until a restart covers it, the restart's "Sync cluster info"
proves it took effect, a one-zone restart clears only that zone's server, a dynamic parameter is never
pending, a bad entry refuses the whole request; the minor freeze before each stop, and without it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.stack import Api, Sandbox, running_stack

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Sandbox]]:
    home = tmp_path_factory.mktemp("parameters")
    with running_stack(home, zones=3) as (_, api, sb):
        yield api, sb


def parameter(api: Api, sb: Sandbox, name: str) -> dict[str, Any]:
    data = api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}/parameters", params={"name": name})
    (entry,) = [p for p in data["contents"] if p["name"] == name]
    return dict(entry)


def put(api: Api, sb: Sandbox, body: object) -> Any:
    return api.call("PUT", f"/api/v2/ob/clusters/{sb.cluster_id}/parameters", json=body)


def log_of(api: Api, task: dict[str, Any], name: str) -> str:
    logs = []
    for sub in [s for s in task["subtasks"] if s["name"] == name]:
        data = api.data("GET", f"/api/v2/tasks/instances/{task['id']}/subtasks/{sub['id']}/log")
        logs.append(str(data["log"]))
    return "\n".join(logs)


def run(api: Api, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    task = api.data("POST", path, json=body)
    return api.wait_task(task["id"])


def test_static_parameter_pending_until_a_rolling_restart_proves_it(stack: tuple[Api, Sandbox]) -> None:
    api, sb = stack
    r = put(api, sb, [{"name": "net_thread_count", "value": 2}, {"name": "cpu_count", "value": "2"}])
    assert r.status_code == 200, r.text
    net = parameter(api, sb, "net_thread_count")
    assert net["needRestart"] and net["pendingRestart"] and net["pendingValue"] == "2"
    assert sorted(s["zone"] for s in net["pendingServers"]) == ["zone1", "zone2", "zone3"]
    assert net["currentValue"]["values"] == ["0"]  # seekdb reports the value in effect
    cpu = parameter(api, sb, "cpu_count")
    assert cpu["currentValue"]["values"] == ["2"] and not cpu["pendingRestart"] and not cpu["needRestart"]
    detail = api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}")
    assert detail["parametersPendingRestart"] == ["net_thread_count"]

    task = run(api, f"/api/v2/ob/clusters/{sb.cluster_id}/restart")
    assert task["status"] == "SUCCESSFUL", task
    assert len(task["subtasks"]) == 2 + 3 * 14 + 3  # the seed's DAG, unchanged
    sync = log_of(api, task, "Sync cluster info")
    assert "net_thread_count = 2 in effect on 3/3 servers" in sync, sync
    stops = log_of(api, task, "Stop observer process")
    assert len(re.findall(r"minor freeze of [0-9.]+:2882 finished", stops)) == 3, stops
    net = parameter(api, sb, "net_thread_count")
    assert net["currentValue"]["values"] == ["2"] and not net["pendingRestart"], net
    assert api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}")["parametersPendingRestart"] == []
    assert not parameter(api, sb, "cpu_count")["pendingRestart"]


def test_bad_entries_refuse_the_whole_request(stack: tuple[Api, Sandbox]) -> None:
    api, sb = stack
    cases = [
        ([{"name": "cpu_count", "value": 1}, {"name": "net_thread_count", "value": 999}], 11056, "[0, 128]"),
        ([{"name": "cpu_count", "value": 1}, {"name": "no_such_parameter", "value": 1}], 11055, "no_such"),
        ([{"name": "cpu_count", "value": 1}, {"name": "stack_size", "value": "12"}], 11056, "unit"),
        ([{"name": "cpu_count", "value": 1}, {"name": "server_create_time", "value": 1}], 11058, "read-only"),
    ]
    for body, code, says in cases:
        r = put(api, sb, body)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == code and says in r.json()["error"]["message"], r.text
    assert parameter(api, sb, "cpu_count")["currentValue"]["values"] == ["2"]


def test_one_zone_restart_clears_only_that_zones_server(stack: tuple[Api, Sandbox]) -> None:
    api, sb = stack
    r = put(api, sb, [{"name": "stack_size", "value": "512K"}])
    assert r.status_code == 200, r.text
    assert len(parameter(api, sb, "stack_size")["pendingServers"]) == 3
    task = run(api, f"/api/v2/ob/clusters/{sb.cluster_id}/zones/zone2/restart", {"minorFreeze": False})
    assert task["status"] == "SUCCESSFUL", task
    sync = log_of(api, task, "Sync cluster info")
    assert "stack_size = 512K in effect on 1/1 servers" in sync, sync
    assert "stack_size = 512K still pending restart on 2 server(s)" in sync, sync
    assert "minor freeze skipped (minorFreeze is false)" in log_of(api, task, "Stop observer process")
    entry = parameter(api, sb, "stack_size")
    assert sorted(s["zone"] for s in entry["pendingServers"]) == ["zone1", "zone3"]
    by_zone = {p["zone"]: p["value"] for p in entry["currentValue"]["obParameters"]}
    assert by_zone == {"zone1": "256K", "zone2": "512K", "zone3": "256K"}
    detail = api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}")
    assert detail["parametersPendingRestart"] == ["stack_size"]
