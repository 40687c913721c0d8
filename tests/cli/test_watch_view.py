"""Subtasks that name their server and zone, and the folded live view of a restart, against the stub API."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
from rich.console import Console
from typer.testing import CliRunner

from obcp.cli import dag_view, subjects, watch_view
from obcp.cli.client import ApiClient
from obcp.cli.main import app
from tests.cli.restart_task import T0, RestartTask, context_log, event_json, restart_task, servers_json
from tests.cli.stub_api import StubApi, stub_api

TASK = "/api/v2/tasks/instances/7"


@pytest.fixture
def api() -> Iterator[StubApi]:
    with stub_api() as api:
        yield api


def serve(api: StubApi, task: RestartTask, *, log: bool = True) -> None:
    api.events(f"{TASK}/events", event_json(task))
    api.ok("GET", "/api/v2/ob/clusters/1/servers", servers_json(task))
    if log:
        api.ok("GET", f"{TASK}/subtasks/1/log", {"log": context_log(task)})


def by_name(task: RestartTask, name: str) -> list[int]:
    return [s["id"] for s in task.subtasks if s["name"] == name]


@pytest.mark.parametrize("from_log", [True, False])
def test_each_step_names_its_zone_and_each_instance_its_server(api: StubApi, from_log: bool) -> None:
    task = restart_task(3, 2)
    task.run_until(1 if from_log else -1)  # without a run subtask, no log: the cluster's servers in id order
    serve(api, task, log=from_log)
    found = subjects.load(ApiClient(api.url), task.json())
    stops = by_name(task, "Stop observer process")
    assert [found.where(sid) for sid in stops] == [
        "127.0.0.11:2882 zone1", "127.0.0.12:2882 zone1", "127.0.0.13:2882 zone2",
        "127.0.0.14:2882 zone2", "127.0.0.15:2882 zone3", "127.0.0.16:2882 zone3",
    ]  # fmt: skip
    assert found.zone_order == ["zone1", "zone2", "zone3"]
    waits = by_name(task, "Wait node")
    assert [found.zone(w) for w in waits[:5:4]] == ["zone1", "zone2"]
    assert found.where(by_name(task, "Prepare restart OB zone")[1]) == "zone2"
    assert found.where(1) == "" and found.where(by_name(task, "Sync cluster info")[0]) == ""
    step = next(s for s in task.subtasks if s["id"] == stops[2])
    assert dag_view.line_label(step, found) == "Stop observer process 127.0.0.13:2882 (zone2)"
    assert [c.path for c in api.calls].count("/api/v2/ob/clusters/1/servers") == 1


def test_without_the_event_stream_the_view_is_flat_as_before(api: StubApi) -> None:
    task = restart_task(1, 2)
    found = subjects.load(ApiClient(api.url), task.json())  # the stub has no route: 404
    assert found.zones == {} and found.servers == {}
    stop = next(s for s in task.subtasks if s["name"] == "Stop observer process" and s["parallelIdx"] == 1)
    assert dag_view.line_label(stop, found) == "Stop observer process [1]"


def test_a_server_operation_names_its_one_server(api: StubApi) -> None:
    task = RestartTask(["zone2"], 1)
    first = task.add("Prepare restart OB server", [], "zone2")
    task.add("Stop observer process", [first], "zone2")
    task.run_until(1)
    serve(api, task)
    body = task.json() | {"name": "Restart OB server"}
    found = subjects.load(ApiClient(api.url), body)
    assert found.where(2) == "127.0.0.11:2882 zone2"


def rendered(task: RestartTask, found: subjects.Subjects, height: int = 40, width: int = 100) -> str:
    out = io.StringIO()
    view = watch_view.render(task.json(), found, height=height, width=width, now=T0 + timedelta(seconds=30))
    Console(file=out, width=width, height=height, color_system=None).print(view)
    return out.getvalue()


def test_the_running_zone_is_shown_whole_and_the_others_fold(api: StubApi) -> None:
    task = restart_task(3, 2)
    zone2_stop = by_name(task, "Stop observer process")[2]
    task.run_until(zone2_stop - 1)
    serve(api, task)
    found = subjects.load(ApiClient(api.url), task.json())
    text = rendered(task, found)
    lines = text.splitlines()
    assert len(lines) <= 40, text
    per_zone = sum(1 for z in found.zones.values() if z == "zone1")
    assert per_zone == 21  # as obcp's template: 17 steps and 4 Wait nodes for 2 servers
    assert f"✓ zone1 · {per_zone}/{per_zone} done in " in text
    assert f"· zone3 · 0/{per_zone} · pending" in text
    assert "▶ zone2 · 4/21 · 1 RUNNING · " in text and "127.0.0.13:2882, 127.0.0.14:2882" in text
    running = next(line for line in lines if "RUNNING" in line and "Stop observer process" in line)
    assert "127.0.0.13:2882" in running
    assert "Task 7" not in text and "elapsed" in text and "left" in text
    assert "127.0.0.11" not in text.split("✓ zone1")[1].split("▶ zone2")[0]


def test_a_large_running_zone_folds_its_fanouts_to_fit(api: StubApi) -> None:
    task = restart_task(3, 10)
    task.run_until(by_name(task, "Stop observer process")[13] - 1)
    serve(api, task)
    found = subjects.load(ApiClient(api.url), task.json())
    text = rendered(task, found)
    assert len(text.splitlines()) <= 40, text
    fanout = next(line for line in text.splitlines() if "Stop observer process × 10" in line)
    assert "127.0.0.24:2882" in fanout and "✓ 3 ▶ 1 · 6" in fanout


def test_the_estimate_follows_the_measured_steps() -> None:
    task = restart_task(2, 1)
    assert watch_view.remaining_seconds(task.json(), T0) is None  # nothing measured yet
    task.run_until(len(task.subtasks) // 2, seconds_each=1.0)
    running = next(s for s in task.subtasks if s["status"] == "RUNNING")
    now = watch_view._parse(running["startTime"])
    assert now is not None
    left = watch_view.remaining_seconds(task.json(), now)
    pending = sum(1 for s in task.subtasks if s["status"] in ("PENDING", "RUNNING"))
    assert left == pytest.approx(pending * 1.0)


def test_the_timeline_draws_zones_down_windows_retries_and_availability(api: StubApi) -> None:
    task = restart_task(2, 2)
    task.run_until(len(task.subtasks))
    retried = by_name(task, "Start observer process")[0]
    task.subtasks[retried - 1]["runTime"] = 2
    first_run = (
        "############{EXECUTE}{2025-01-01T12:00:02.000+00:00}############\n"
        "2025-01-01 12:00:02.100  INFO 1 --- [subtask-9] obcp.task.X : starting\n"
        "2025-01-01 12:00:02.400 ERROR 1 --- [subtask-9] obcp.task.X : observer did not start\n"
        "Set state for subtask: 9, current state: RUNNING, new state: FAILED\n"
    )
    api.ok("GET", f"{TASK}/subtasks/{retried}/log", {"log": first_run + context_log(task)})
    serve(api, task)
    body = task.json("SUCCESSFUL") | {"finishTime": task.subtasks[-1]["finishTime"]}
    api.ok("GET", TASK, body)
    figure = {"longestOutageSeconds": 0.0, "probeRounds": 50, "roundsWithoutAnswer": 0}
    api.ok("GET", "/api/v2/ob/clusters/1", {"lastOperation": {"taskId": 7, "availability": figure}})
    result = CliRunner().invoke(app, ["--url", api.url, "task", "timeline", "7"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("task 7 Restart OB cluster — ✓ SUCCESSFUL · 12:00:00.0 → ")
    zone1 = next(i for i, line in enumerate(lines) if line.startswith("zone1 "))
    assert lines[zone1 + 1].strip().startswith("127.0.0.11:2882") and "█" in lines[zone1 + 1]
    stop, back = by_name(task, "Stop observer process")[0], by_name(task, "Wait observer accessible")[0]
    assert f"down {(back - stop + 1) * 0.5:.1f} s at +{(stop - 1) * 0.5:.1f} s" in lines[zone1 + 1]
    assert lines[zone1 + 2].strip().startswith("↳ run 1: Start observer process") and "░" in lines[zone1 + 2]
    assert "ran 0.4 s at +2.0 s" in lines[zone1 + 2]
    assert lines[zone1 + 3].strip().startswith("127.0.0.12:2882")
    assert any(line.startswith("zone2 ") for line in lines)
    assert "longest interval with no observer answering: 0.0 s (0 of 50 probe rounds unanswered)" in lines
