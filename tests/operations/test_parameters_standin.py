"""Cluster parameters through obcp's HTTP API on a distributed OceanBase 4.x cluster: the SCRIPTED STAND-IN
of tests/ob/ob4_standin.py (ob4_standin_parameters.py for GV$OB_PARAMETERS, ALTER SYSTEM SET and
MINOR FREEZE), NOT a real cluster. What runs for real: the API, the checks, the change records in the
metadb, the restart DAG with its freeze and its verification of the pending static parameters."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.api.ocp import error, ok
from tests.operations.test_ob4_standin_dags import Harness, standin

__all__ = ["standin"]
pytestmark = pytest.mark.timeout(120)


async def parameters(h: Harness, name: str) -> dict[str, Any]:
    data = await h.get(f"/api/v2/ob/clusters/{h.cluster_id}/parameters?name={name}")
    (entry,) = [p for p in data["contents"] if p["name"] == name]
    return dict(entry)


async def put(h: Harness, body: object) -> Any:
    return await h.http.put(f"/api/v2/ob/clusters/{h.cluster_id}/parameters", json=body)


def sets(h: Harness) -> list[str]:
    return [sql for _, sql in h.cluster.statements if sql.startswith("ALTER SYSTEM SET")]


async def test_metadata_and_values_in_ocps_shape(standin: Harness) -> None:
    h = standin
    info = await h.get(f"/api/v2/ob/clusters/parameterInfo?clusterId={h.cluster_id}")
    by_name = {i["name"]: i for i in info["contents"]}
    assert set(by_name) == {"cpu_count", "net_thread_count", "server_create_time", "syslog_level"}
    net = by_name["net_thread_count"]
    assert (net["type"], net["minValue"], net["maxValue"], net["needRestart"]) == ("INT", "0", "128", True)
    assert by_name["server_create_time"]["readonly"] and net["version"] == "4.2.1.2"
    entry = await parameters(h, "net_thread_count")
    current = entry["currentValue"]
    assert current["values"] == ["0"] and current["singleValueInCluster"]
    assert current["valueToServers"] == {"0": ["127.0.1.1:2882", "127.0.1.2:2882", "127.0.1.3:2882"]}
    assert [(p["zone"], p["svrIp"], p["svrPort"]) for p in current["obParameters"]] == [
        ("zone1", "127.0.1.1", 2882),
        ("zone2", "127.0.1.2", 2882),
        ("zone3", "127.0.1.3", 2882),
    ]
    assert entry["valueRange"] == {"type": "INT", "minValue": "0", "maxValue": "128"}
    assert not entry["pendingRestart"] and entry["pendingServers"] == []
    page = await h.get(f"/api/v2/ob/clusters/{h.cluster_id}/parameters?size=2&page=2")
    assert page["page"]["totalElements"] == 4 and [p["name"] for p in page["contents"]] == [
        "server_create_time",
        "syslog_level",
    ]


@pytest.mark.parametrize(
    ("body", "code", "names"),
    [
        ([{"name": "cpu_count", "value": 2}, {"name": "no_such_thing", "value": 1}], 11055, "no_such_thing"),
        ([{"name": "cpu_count", "value": 2}, {"name": "net_thread_count", "value": 129}], 11056, "[0, 128]"),
        ([{"name": "net_thread_count", "value": "two"}], 11056, "whole number"),
        ([{"name": "server_create_time", "value": 5}], 11058, "server_create_time"),
        ([{"name": "cpu_count", "value": 2}, {"name": "cpu_count", "value": 3}], 1001, "given twice"),
        ([{"name": "cpu_count", "value": [2]}], None, "value"),
        ([{"name": "cpu_count"}], None, "value"),
        ([], 1001, "empty"),
    ],
)
async def test_a_bad_entry_refuses_the_whole_request(
    standin: Harness, body: object, code: int | None, names: str
) -> None:
    h = standin
    err = error(await put(h, body), 400, code)
    assert names in err["message"], err
    assert sets(h) == []
    assert (await parameters(h, "cpu_count"))["currentValue"]["values"] == ["0"]


def change_records(tmp_path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp_path / "metadb.sqlite") as db:
        return db.execute(
            "SELECT name, old_value, new_value, need_restart, changed_by, trace_id, pending_server_ids "
            "FROM ob_parameter_change ORDER BY id"
        ).fetchall()


async def test_static_pending_until_the_rolling_restart_verifies_it(standin: Harness, tmp_path: Path) -> None:
    h = standin
    r = await put(h, [{"name": "net_thread_count", "value": 4}, {"name": "cpu_count", "value": "2"}])
    ok(r)
    trace = r.json()["traceId"]
    assert change_records(tmp_path) == [
        ("net_thread_count", "0", "4", 1, "admin", trace, "[1, 2, 3]"),
        ("cpu_count", "0", "2", 0, "admin", trace, "[]"),
    ]
    assert sets(h) == ["ALTER SYSTEM SET net_thread_count = '4'", "ALTER SYSTEM SET cpu_count = '2'"]
    # One audit event, in the transaction of the change records (same traceId).
    with sqlite3.connect(tmp_path / "metadb.sqlite") as db:
        audited = db.execute(
            "SELECT user_name, resource_type, resource_id, result, error_code FROM audit_event "
            "WHERE action = 'CLUSTER_PARAMETERS_SET' AND trace_id = ?",
            (trace,),
        ).fetchall()
    assert audited == [("admin", "OB_CLUSTER", str(h.cluster_id), "SUCCESS", None)]
    net = await parameters(h, "net_thread_count")
    assert net["needRestart"] and net["pendingRestart"] and net["pendingValue"] == "4"
    assert [s["svrIp"] for s in net["pendingServers"]] == ["127.0.1.1", "127.0.1.2", "127.0.1.3"]
    assert net["currentValue"]["values"] == ["0"]
    cpu = await parameters(h, "cpu_count")
    assert cpu["currentValue"]["values"] == ["2"] and not cpu["pendingRestart"]
    cluster = await h.get(f"/api/v2/ob/clusters/{h.cluster_id}")
    assert cluster["parametersPendingRestart"] == ["net_thread_count"]

    task = await h.run(f"/api/v2/ob/clusters/{h.cluster_id}/restart")
    assert task["status"] == "SUCCESSFUL", task
    log = await h.log_of(task, "Sync cluster info")
    assert "net_thread_count = 4 in effect on 3/3 servers" in log, log
    freeze = [sql for _, sql in h.cluster.statements if "MINOR FREEZE" in sql]
    sent = [f"ALTER SYSTEM MINOR FREEZE TENANT = all SERVER = ('127.0.1.{i}:2882')" for i in (1, 2, 3)]
    assert freeze == sent
    net = await parameters(h, "net_thread_count")
    assert net["currentValue"]["values"] == ["4"] and not net["pendingRestart"]
    assert (await h.get(f"/api/v2/ob/clusters/{h.cluster_id}"))["parametersPendingRestart"] == []
    assert [row[-1] for row in change_records(tmp_path)] == ["[]", "[]"]


async def test_a_server_reporting_another_value_fails_the_verification(standin: Harness) -> None:
    h = standin
    ok(await put(h, [{"name": "net_thread_count", "value": 4}]))
    second = h.cluster.servers[1]
    h.cluster.pending_static[(second, "net_thread_count")] = "3"
    task = await h.run(
        f"/api/v2/ob/clusters/{h.cluster_id}/servers/{h.server_ids[second.ip]}/restart",
        {"minorFreeze": False},
    )
    assert task["status"] == "FAILED"
    log = await h.log_of(task, "Sync cluster info")
    assert "127.0.1.2:2881 (zone zone2): net_thread_count expected 4, seen 3" in log, log
    assert not [sql for _, sql in h.cluster.statements if "MINOR FREEZE" in sql]
    stop_log = await h.log_of(task, "Stop observer process")
    assert "minor freeze skipped (minorFreeze is false)" in stop_log


async def test_a_failing_freeze_is_the_stop_steps_error_and_busy_refuses_changes(standin: Harness) -> None:
    h = standin
    h.cluster.fail_freeze = True
    task = await h.run(f"/api/v2/ob/clusters/{h.cluster_id}/zones/zone1/restart")
    assert task["status"] == "FAILED"
    log = await h.log_of(task, "Stop observer process")
    assert "minor freeze before the stop failed" in log and "minorFreeze false" in log, log
    err = error(await put(h, [{"name": "cpu_count", "value": 2}]), 400, 11020)
    assert f"task {task['id']}" in err["message"]
    assert sets(h) == []


@pytest.mark.parametrize("lang", ["en-US", "zh-CN"])
async def test_cluster_parameters_have_ocps_shape(standin: Harness, lang: str) -> None:
    from tests.api.ocp import wire
    from tests.api.test_golden import Rule, assert_same_shape, ocp_example

    h = standin
    page = "300.cluster-information/2200.obtains-the-parameter-list-of-the-ob-cluster.md"
    example = ocp_example(page, lang)
    # The sample's first entry shows only name and currentValue; compare with its first complete one.
    full = next(p for p in example["data"]["contents"] if "valueRange" in p)
    example = {**example, "data": {**example["data"], "contents": [full]}}
    resp = await h.http.get(f"/api/v2/ob/clusters/{h.cluster_id}/parameters?size=100")
    actual = wire(resp)
    values = {v for p in actual["data"]["contents"] for v in p["currentValue"]["valueToServers"]}
    assert_same_shape(
        actual,
        example,
        {
            "$.data": Rule(frozenset({"contents"}), frozenset({"page"})),
            # obcp's: pending restart (pendingValue only while pending).
            "$.data.contents[]": Rule(
                frozenset({"name", "currentValue", "needRestart", "readonly", "valueRange"}),
                frozenset({"pendingRestart", "pendingServers", "pendingValue"}),
            ),
            "$.data.contents[].currentValue.obParameters[]": Rule(
                frozenset({"name", "svrIp", "svrPort", "svrType", "value", "zone"}),
                frozenset({"serverId", "sqlPort"}),
            ),
            # A map from value to servers: its keys are the values.
            "$.data.contents[].currentValue.valueToServers": Rule(frozenset(), frozenset(values)),
            "$.data.contents[].valueRange": Rule(frozenset({"type"}), frozenset({"minValue", "maxValue"})),
        },
    )
