"""Faults around a restart of a 3 x 1 sandbox (real seekdb, real agents, a real `obcp server`):

- the agent SIGKILLed while "Start observer process" waits for its start, and started again 3 s later
  (after the client's own retries gave up): the step learns from the new agent, which adopted the running
  observer, that the start went through, and the task ends SUCCESSFUL without an operator;
- the host's agent port held by a socket that accepts and never answers, then closed: each time the step
  fails after a bounded wait with a message naming the host, the call and how long it waited; once the
  agent runs again, task retry completes the restart;
- the server SIGKILLed at a random moment (seeded) of a rolling restart and started again, twice (the
  short version of `bench/kill_campaign.py`): each task finishes on its own.

A /proc watcher (`obcp.sandbox.observer_watch`) checks in each case that the observer was replaced exactly
once: two pids, never a second stop or start."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from obcp.sandbox.agent_processes import agent_process
from obcp.sandbox.kill_rounds import RestartableServer, one_round
from obcp.sandbox.observer_watch import ObserverWatch, Sighting
from obcp.sandbox.state import SandboxServer, load_secrets, load_state, save_state
from obcp.sandbox.up import ensure_agent
from tests.stack import ADMIN_PASSWORD, Api, Sandbox, sandbox

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(600)]

AGENT_TIMEOUT = 1.0  # the server's OBCP_AGENT_TIMEOUT_SECONDS: a hanging host fails a step in seconds
KILL_WINDOW = 6.0  # seconds after the restart call; a rolling restart of 3 x 1 without freeze takes longer


@dataclass
class Stack:
    server: RestartableServer
    api: Api
    sb: Sandbox
    watch: ObserverWatch

    def host(self, zone: str) -> SandboxServer:
        state = load_state(self.sb.root)
        assert state is not None
        (found,) = [s for s in state.servers if s.zone == zone]
        return found

    def kill_agent(self, zone: str) -> None:
        proc = agent_process(self.host(zone))
        assert proc is not None, f"the agent of {zone} is not running"
        proc.kill()
        proc.wait(timeout=10)

    def start_agent(self, zone: str) -> None:
        """What `obcp sandbox up` does for a stopped agent: start it, wait until it answers."""
        state = load_state(self.sb.root)
        assert state is not None
        (host,) = [s for s in state.servers if s.zone == zone]
        asyncio.run(ensure_agent(self.sb.root, host, load_secrets(self.sb.root)))
        save_state(self.sb.root, state)

    def restart_server_of(self, zone: str) -> int:
        servers = self.api.data("GET", f"/api/v2/ob/clusters/{self.sb.cluster_id}/servers")["contents"]
        (server_id,) = [s["id"] for s in servers if s["zoneName"] == zone]
        path = f"/api/v2/ob/clusters/{self.sb.cluster_id}/servers/{server_id}/restart"
        return int(self.api.data("POST", path, json={"minorFreeze": False})["id"])

    def log(self, task_id: int, subtask: dict[str, Any]) -> str:
        path = f"/api/v2/tasks/instances/{task_id}/subtasks/{subtask['id']}/log"
        return str(self.api.data("GET", path)["log"])

    def observers_since(self, since: float) -> dict[str, list[Sighting]]:
        """Per zone, the observer processes seen since `since`."""
        seen = self.watch.since(since)
        return {s["zone"]: seen[s["base_dir"]] for s in self.sb.servers()}

    def replaced_once_in(self, zone: str, since: float) -> None:
        """The zone's observer replaced exactly once (two pids, the second running), the others untouched."""
        live = self.watch.live()
        for s in self.sb.servers():
            pids = [x.pid for x in self.watch.since(since)[s["base_dir"]]]
            if s["zone"] == zone:
                assert len(pids) == 2 and live[s["base_dir"]] == [pids[1]], (zone, pids, live)
            else:
                assert len(pids) == 1 and live[s["base_dir"]] == pids, (s["zone"], pids, live)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("restartfaults")
    server = RestartableServer(
        home / "server", ADMIN_PASSWORD, {"OBCP_AGENT_TIMEOUT_SECONDS": str(AGENT_TIMEOUT)}
    )
    server.start()
    try:
        with (
            sandbox(server.url, home / "sandbox", zones=3) as sb,
            ObserverWatch([Path(s["base_dir"]) for s in sb.servers()]) as watch,
        ):
            api = Api(server.url)
            try:
                yield Stack(server, api, sb, watch)
            finally:
                api.close()
    finally:
        server.stop()


def only(task: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [s for s in task["subtasks"] if s["name"] == name]
    assert len(found) == 1, found
    return found[0]


def wait_new_pid(stack: Stack, zone: str, since: float, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while True:
        seen = stack.observers_since(since)[zone]
        if len(seen) >= 2:
            return seen[1].pid
        assert time.monotonic() < deadline, f"no new observer process within {timeout} s: {seen}"
        time.sleep(0.02)


def test_agent_killed_during_start_learns_the_outcome_from_the_new_agent(stack: Stack) -> None:
    since = stack.watch.mark()
    task_id = stack.restart_server_of("zone1")
    # A new observer process exists: the agent launched it and the start call waits for it to be ready.
    new_pid = wait_new_pid(stack, "zone1", since)
    stack.kill_agent("zone1")
    time.sleep(2.0)  # longer than the client's own retries (0.5 + 1 s): only the step's wait can bridge it
    stack.start_agent("zone1")
    task = stack.api.wait_task(task_id)
    assert task["status"] == "SUCCESSFUL", task
    start = only(task, "Start observer process")
    assert start["runTime"] == 1, start  # not failed and retried: the one run learnt the outcome
    log = stack.log(task_id, start)
    assert "the connection dropped before the answer" in log, log
    assert "asking the agent once it answers again" in log, log
    assert f"already running as pid {new_pid}" in log, log
    stack.replaced_once_in("zone1", since)


@contextlib.contextmanager
def silent_listener(address: str, port: int) -> Iterator[socket.socket]:
    """A port that accepts connections (the kernel completes them from the backlog) and never answers."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(64)
    try:
        yield sock
    finally:
        sock.close()


def failure(stack: Stack, task_id: int) -> tuple[dict[str, Any], str]:
    task = stack.api.wait_task(task_id)
    assert task["status"] == "FAILED", task
    (failed,) = [s for s in task["subtasks"] if s["status"] == "FAILED"]
    return failed, stack.log(task_id, failed)


def waited_seconds(log: str) -> float:
    match = re.search(r"gave up after 3 attempt\(s\) in ([\d.]+) s", log)
    assert match, log
    return float(match.group(1))


def test_hanging_then_refusing_host_fails_the_step_and_retry_resumes(stack: Stack) -> None:
    host = stack.host("zone2")
    address = f"{host.address}:{host.agent_port}"
    call = f"status observer {host.observer_name}"
    since = stack.watch.mark()
    stack.kill_agent("zone2")  # the observer goes on running without its agent
    with silent_listener(host.address, host.agent_port):
        task_id = stack.restart_server_of("zone2")
        failed, log = failure(stack, task_id)
    assert f"agent {address}: {call}: no answer within {AGENT_TIMEOUT:g} s (ReadTimeout)" in log, log
    assert waited_seconds(log) >= 3 * AGENT_TIMEOUT  # three attempts, each one bounded
    # Now a closed port: refused at once, again named and bounded.
    stack.api.data("POST", f"/api/v2/tasks/instances/{task_id}/retry")
    failed_again, log = failure(stack, task_id)
    assert failed_again["id"] == failed["id"] and failed_again["runTime"] == failed["runTime"] + 1
    assert f"agent {address}: {call}: cannot connect" in log and "is the agent running?" in log, log
    waited_seconds(log)
    assert all(len(seen) == 1 for seen in stack.observers_since(since).values())  # nothing stopped
    # The host is back: retry resumes the same task, which restarts the observer once.
    stack.start_agent("zone2")
    stack.api.data("POST", f"/api/v2/tasks/instances/{task_id}/retry")
    task = stack.api.wait_task(task_id)
    assert task["status"] == "SUCCESSFUL", task
    stack.replaced_once_in("zone2", since)


def test_server_sigkilled_in_rolling_restarts_finishes_on_its_own(stack: Stack) -> None:
    """The short version of `bench/kill_campaign.py` (no minor freeze, for a shorter restart)."""
    rng = random.Random(12)
    interrupted: list[str] = []
    for n in (1, 2):
        r = one_round(stack.server, stack.sb.cluster_id, stack.watch, n, rng.uniform(0, KILL_WINDOW), False)
        assert not r.killed_after_end, r  # the kill landed while the task ran
        assert r.outcome == "own" and not r.error, r
        assert r.pid_problems == {}, r
        interrupted += r.rerun
    assert interrupted  # the kills interrupted running steps, which ran again
