"""Rounds of the kill campaign (`bench/kill_campaign.py`, and its short version in the tests): a rolling
restart of a sandbox cluster with the `obcp server` SIGKILLed at a given moment and started again on the
same home and port, so with the same server id: a restarted server takes its own runs back at once
(`docs/engine.md`, "Crash recovery"). What each round tells: whether the task finished on its own, after
one retry, or never; which steps the kill interrupted (run more than once); and whether each observer was
replaced exactly once (`observer_watch`)."""

from __future__ import annotations

import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from obcp.agent.ports import free_port
from obcp.sandbox.observer_watch import ObserverWatch, replaced_once
from obcp.sandbox.server_process import ServerProcess, start_server, stop_process, wait_answering

TASK_TIMEOUT = 600.0


@dataclass
class Round:
    number: int
    kill_after: float
    outcome: str = "never"  # "own", "retry" or "never"
    seconds: float = 0.0
    rerun: list[str] = field(default_factory=list)  # steps that ran more than once (the kill's victims)
    # The task had ended before the kill moment (not killed then): the round tested nothing.
    killed_after_end: bool = False
    pid_problems: dict[str, str] = field(default_factory=dict)
    error: str = ""


class RestartableServer:
    """The `obcp server` under test: one home (its SQLite metadb), one port, so one server id, started
    again after each SIGKILL."""

    def __init__(self, home: Path, password: str, env: Mapping[str, str] | None = None) -> None:
        self.home = home
        self.password = password
        self.env = {"OBCP_ADMIN_PASSWORD": password, **(env or {})}
        self.port = free_port("127.0.0.1")
        self.proc: ServerProcess | None = None

    def start(self) -> None:
        self.proc = start_server(self.home, self.port, self.env)
        wait_answering(self.proc)

    def sigkill(self) -> None:
        assert self.proc is not None
        self.proc.proc.send_signal(signal.SIGKILL)
        self.proc.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc.proc)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def api(server: RestartableServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=("admin", server.password), timeout=30)


def data(client: httpx.Client, method: str, path: str) -> Any:
    r = client.request(method, path)
    if r.status_code != 200:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
    return r.json()["data"]


def wait_task(server: RestartableServer, task_id: int, timeout: float = TASK_TIMEOUT) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with api(server) as client:
        while True:
            task: dict[str, Any] = data(client, "GET", f"/api/v2/tasks/instances/{task_id}")
            if task["status"] != "RUNNING" or time.monotonic() > deadline:
                return task
            time.sleep(0.3)


def submit_restart(server: RestartableServer, cluster_id: int, freeze: bool) -> int:
    body = None if freeze else {"minorFreeze": False}
    with api(server) as client:
        r = client.post(f"/api/v2/ob/clusters/{cluster_id}/restart", json=body)
        if r.status_code != 200:
            raise RuntimeError(f"restart: {r.status_code} {r.text[:500]}")
        return int(r.json()["data"]["id"])


def failed_steps(server: RestartableServer, task: dict[str, Any]) -> str:
    """Each FAILED subtask with the end of its log (where the engine writes why)."""
    parts = []
    with api(server) as client:
        for s in task["subtasks"]:
            if s["status"] == "FAILED":
                path = f"/api/v2/tasks/instances/{task['id']}/subtasks/{s['id']}/log"
                log = str(data(client, "GET", path)["log"]).strip().splitlines()
                parts.append(f"{s['name']} #{s['id']}: {' | '.join(log[-3:])[-400:]}")
    return "; ".join(parts)


def one_round(
    server: RestartableServer, cluster_id: int, watch: ObserverWatch, number: int, delay: float, freeze: bool
) -> Round:
    """A restart of the cluster, the server SIGKILLed `delay` s after the call (if the task still runs then)
    and started again, the task waited for (and retried once if it failed), the observers' pids checked."""
    result = Round(number, round(delay, 3))
    since = watch.mark()
    t0 = time.monotonic()
    task_id = submit_restart(server, cluster_id, freeze)
    time.sleep(max(0.0, delay - (time.monotonic() - t0)))
    if _status(server, task_id) != "RUNNING":
        # Over before the kill: a kill now would test nothing. The round is reported as missed.
        result.killed_after_end = True
    else:
        server.sigkill()
        server.start()
    task = wait_task(server, task_id)
    if task["status"] == "SUCCESSFUL":
        result.outcome = "own"
    else:
        result.error = f"{task['status']}: {failed_steps(server, task)}"
        if task["status"] == "FAILED":
            with api(server) as client:
                data(client, "POST", f"/api/v2/tasks/instances/{task_id}/retry")
            task = wait_task(server, task_id)
            if task["status"] == "SUCCESSFUL":
                result.outcome = "retry"
    result.seconds = round(time.monotonic() - t0, 2)
    result.rerun = sorted(s["name"] for s in task["subtasks"] if int(s.get("runTime") or 1) > 1)
    result.killed_after_end = result.killed_after_end or (not result.rerun and _ended_before(task, delay))
    result.pid_problems = replaced_once(watch, since)
    return result


def _status(server: RestartableServer, task_id: int) -> str:
    with api(server) as client:
        return str(data(client, "GET", f"/api/v2/tasks/instances/{task_id}")["status"])


def _ended_before(task: dict[str, Any], delay: float) -> bool:
    """Whether the task had finished before the kill (it ended between the look and the kill): its own span
    (server clock) shorter than the delay."""
    try:
        start = datetime.fromisoformat(task["startTime"])
        end = datetime.fromisoformat(task["finishTime"])
    except (KeyError, TypeError, ValueError):
        return False
    return (end - start).total_seconds() < delay
