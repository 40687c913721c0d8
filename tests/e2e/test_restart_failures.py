"""Restarts that go wrong, on a real 3 zones × 1 server sandbox: an observer that cannot start (its port
held by another process), an agent that is down, the obcp server killed with SIGKILL in the middle, and a
rollback after a failure — each with what a DBA needs: the failing step, a message naming the host and the
cause, and a way to finish (retry) or undo (rollback)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from obcp.agent.client import AgentClient
from tests.stack import Api, Sandbox, cli, obcp_server, running_stack
from tests.support.processes import kill_observer

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(900)]


class Stack:
    def __init__(self, home: Path, api: Api, sb: Sandbox, url: str) -> None:
        self.home = home
        self.api = api
        self.sb = sb
        self.url = url


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("failures")
    with running_stack(home, zones=3) as (server, api, sb):
        yield Stack(home / "server", api, sb, server.url)


def server_of(sb: Sandbox, zone: str) -> dict[str, Any]:
    return next(s for s in sb.servers() if s["zone"] == zone)


def agent(sb: Sandbox, zone: str) -> AgentClient:
    s = server_of(sb, zone)
    keys = json.loads((sb.root / "secrets.json").read_text())["agent_keys"]
    return AgentClient(s["address"], s["agent_port"], keys[s["address"]])


def agent_call(sb: Sandbox, zone: str, action: str) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with agent(sb, zone) as client:
            name = server_of(sb, zone)["observer_name"]
            result: dict[str, Any] = await getattr(client, action)(name)
            return result

    return asyncio.run(go())


@contextlib.contextmanager
def port_squatter(port: int) -> Iterator[None]:
    """Another process's listener on the observer's SQL port (seekdb binds 0.0.0.0)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", port))
    sock.listen(1)
    try:
        yield
    finally:
        sock.close()


def failed_subtask(task: dict[str, Any]) -> dict[str, Any]:
    failed: list[dict[str, Any]] = [s for s in task["subtasks"] if s["status"] == "FAILED"]
    [only] = failed
    return only


def log_of(api: Api, task_id: int, subtask_id: int) -> str:
    text: str = api.data("GET", f"/api/v2/tasks/instances/{task_id}/subtasks/{subtask_id}/log")["log"]
    return text


def test_observer_that_cannot_start_fails_at_start_and_retry_completes(stack: Stack) -> None:
    api, sb = stack.api, stack.sb
    target = server_of(sb, "zone2")
    agent_call(sb, "zone2", "stop")
    with port_squatter(target["sql_port"]):
        task = api.data("POST", f"/api/v2/ob/clusters/{sb.cluster_id}/restart")
        final = api.wait_task(task["id"])
        assert final["status"] == "FAILED"
        failed = failed_subtask(final)
        assert failed["name"] == "Start observer process"
        log = log_of(api, task["id"], failed["id"])
        # The observer, its host, and the cause in the observer's own terms: the port and who holds it.
        assert target["observer_name"] in log and target["address"] in log
        assert str(target["sql_port"]) in log and str(os.getpid()) in log, log
        cluster = api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}")
        assert cluster["status"] == "RESTARTING"  # kept until the task is retried or rolled back
    retried = api.data("POST", f"/api/v2/tasks/instances/{task['id']}/retry")
    assert retried["status"] == "RUNNING"
    final = api.wait_task(task["id"])
    assert final["status"] == "SUCCESSFUL", final
    assert agent_call(sb, "zone2", "status")["running"] is True
    assert api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}")["status"] == "RUNNING"


def test_agent_down_fails_naming_the_host_and_retry_completes_once_it_is_back(stack: Stack) -> None:
    api, sb = stack.api, stack.sb
    target = server_of(sb, "zone3")
    state = json.loads((sb.root / "sandbox.json").read_text())
    agent_pid = next(s["agent_pid"] for s in state["servers"] if s["zone"] == "zone3")
    proc = psutil.Process(agent_pid)
    proc.kill()
    proc.wait(timeout=10)
    task = api.data("POST", f"/api/v2/ob/clusters/{sb.cluster_id}/restart")
    final = api.wait_task(task["id"])
    assert final["status"] == "FAILED"
    failed = failed_subtask(final)
    assert failed["name"] == "Prepare restart cluster"
    log = log_of(api, task["id"], failed["id"])
    assert f"{target['address']}:{target['agent_port']}" in log and "agent" in log, log
    # Nothing was stopped: the failure came before any observer was touched.
    assert all(s["status"] == "PENDING" for s in final["subtasks"] if s["name"] == "Stop observer process")
    cli(stack.url, "sandbox", "up", "--zones", "3", "--dir", str(sb.root))  # brings the agent back
    api.data("POST", f"/api/v2/tasks/instances/{task['id']}/retry")
    assert api.wait_task(task["id"])["status"] == "SUCCESSFUL"


def test_rollback_after_a_failure_starts_again_what_the_task_stopped(stack: Stack) -> None:
    api, sb = stack.api, stack.sb
    blocked = server_of(sb, "zone3")
    agent_call(sb, "zone3", "stop")
    with port_squatter(blocked["sql_port"]):
        task = api.data("POST", f"/api/v2/ob/clusters/{sb.cluster_id}/restart")
        final = api.wait_task(task["id"])
        assert final["status"] == "FAILED" and failed_subtask(final)["name"] == "Start observer process"
        # zone1's observer was stopped and started by this task; it dies behind obcp's back now.
        kill_observer(Path(server_of(sb, "zone1")["base_dir"]))
        assert agent_call(sb, "zone1", "status")["running"] is False
        api.data("POST", f"/api/v2/tasks/instances/{task['id']}/rollback")
        final = api.wait_task(task["id"])
    assert final["status"] == "SUCCESSFUL" and final["operation"] == "ROLLBACK", final
    assert all(s["status"] == "PENDING" for s in final["subtasks"])
    # Rollback walked back through zone1's "Stop observer process": it started the observer again.
    assert agent_call(sb, "zone1", "status")["running"] is True
    cluster = api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}")
    assert cluster["status"] == "RUNNING"
    assert {z["status"] for z in cluster["zones"]} == {"RUNNING"}
    # zone3's observer was not running before the task: the rollback leaves it so.
    assert agent_call(sb, "zone3", "status")["running"] is False
    agent_call(sb, "zone3", "start")


def test_server_killed_in_the_middle_finishes_the_task_after_it_starts_again(stack: Stack) -> None:
    # Last in this module: the server it starts again is stopped at its end.
    api, sb = stack.api, stack.sb
    port = int(stack.url.rsplit(":", 1)[1])
    task = api.data("POST", f"/api/v2/ob/clusters/{sb.cluster_id}/restart")
    deadline = time.monotonic() + 120
    while True:  # kill it once zone1's observer process is being stopped or started
        current = api.data("GET", f"/api/v2/tasks/instances/{task['id']}")
        done = {s["name"] for s in current["subtasks"] if s["status"] == "SUCCESSFUL"}
        if "Stop observer process" in done:
            break
        assert time.monotonic() < deadline, current
        time.sleep(0.05)
    victims = [p for p in psutil.process_iter(["cmdline"]) if _is_server(p, port)]
    assert len(victims) == 1, victims
    victims[0].send_signal(signal.SIGKILL)
    victims[0].wait(timeout=10)
    with obcp_server(stack.home, port=port):
        final = api.wait_task(task["id"], timeout=400)
        assert final["status"] == "SUCCESSFUL", final
        assert api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}")["status"] == "RUNNING"
        assert all(agent_call(sb, z, "status")["running"] for z in ("zone1", "zone2", "zone3"))


def _is_server(proc: psutil.Process, port: int) -> bool:
    cmd = proc.info.get("cmdline") or []
    return "server" in cmd and "--port" in cmd and str(port) in cmd and any("obcp" in c for c in cmd)
