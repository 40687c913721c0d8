"""An agent dies or a host stops answering under a restart (real seekdb, real agents, a real server):

- the agent SIGKILLed while "Start observer process" waits for its start, and started again 3 s later
  (after the client's own retries gave up): the step learns from the new agent, which adopted the running
  observer, that the start went through, and the task ends SUCCESSFUL without an operator;
- the host's agent port held by a socket that accepts and never answers, then closed: each time the step
  fails after a bounded wait with a message naming the host, the call and how long it waited; once the
  agent runs again, task retry completes the restart.

A /proc watcher (`obcp.sandbox.observer_watch`) checks in each case that the observer was replaced exactly
once: two pids, never a second stop or start."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from obcp.sandbox.agent_processes import agent_process
from obcp.sandbox.observer_watch import ObserverWatch, replaced_once
from obcp.sandbox.state import SandboxServer, load_secrets, load_state, save_state
from obcp.sandbox.up import ensure_agent
from tests.stack import Api, Sandbox, obcp_server, sandbox

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(600)]

AGENT_TIMEOUT = 2.0  # the server's OBCP_AGENT_TIMEOUT_SECONDS: a hanging host fails a step in seconds


@dataclass
class Stack:
    api: Api
    sb: Sandbox
    watch: ObserverWatch

    def server(self) -> SandboxServer:
        state = load_state(self.sb.root)
        assert state is not None
        return state.servers[0]

    def kill_agent(self) -> None:
        proc = agent_process(self.server())
        assert proc is not None, "the sandbox's agent is not running"
        proc.kill()
        proc.wait(timeout=10)

    def start_agent(self) -> None:
        """What `obcp sandbox up` does for a stopped agent: start it, wait until it answers."""
        state = load_state(self.sb.root)
        assert state is not None
        asyncio.run(ensure_agent(self.sb.root, state.servers[0], load_secrets(self.sb.root)))
        save_state(self.sb.root, state)

    def restart(self) -> int:
        path = f"/api/v2/ob/clusters/{self.sb.cluster_id}/restart"
        return int(self.api.data("POST", path, json={"minorFreeze": False})["id"])

    def log(self, task_id: int, subtask: dict[str, Any]) -> str:
        path = f"/api/v2/tasks/instances/{task_id}/subtasks/{subtask['id']}/log"
        return str(self.api.data("GET", path)["log"])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("agentfaults")
    env = {"OBCP_AGENT_TIMEOUT_SECONDS": str(AGENT_TIMEOUT)}
    with (
        obcp_server(home / "server", env=env) as server,
        sandbox(server.url, home / "sandbox", zones=1) as sb,
        ObserverWatch([Path(s["base_dir"]) for s in sb.servers()]) as watch,
    ):
        api = Api(server.url)
        try:
            yield Stack(api, sb, watch)
        finally:
            api.close()


def only(task: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [s for s in task["subtasks"] if s["name"] == name]
    assert len(found) == 1, found
    return found[0]


def wait_new_pid(watch: ObserverWatch, since: float, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while True:
        (pids,) = watch.pids_since(since).values()
        if len(pids) >= 2:
            return pids[1]
        assert time.monotonic() < deadline, f"no new observer process within {timeout} s: {pids}"
        time.sleep(0.02)


def test_agent_killed_during_start_learns_the_outcome_from_the_new_agent(stack: Stack) -> None:
    since = stack.watch.mark()
    task_id = stack.restart()
    # A new observer process exists: the agent launched it and the start call waits for it to be ready.
    new_pid = wait_new_pid(stack.watch, since)
    stack.kill_agent()
    time.sleep(3)  # longer than the client's own retries (0.5 + 1 s): only the step's wait can bridge it
    stack.start_agent()
    task = stack.api.wait_task(task_id)
    assert task["status"] == "SUCCESSFUL", task
    start = only(task, "Start observer process")
    assert start["runTime"] == 1, start  # not failed and retried: the one run learnt the outcome
    log = stack.log(task_id, start)
    assert "the connection dropped before the answer" in log, log
    assert "asking the agent once it answers again" in log, log
    assert f"already running as pid {new_pid}" in log, log
    assert replaced_once(stack.watch, since) == {}


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
    server = stack.server()
    host = f"{server.address}:{server.agent_port}"
    call = f"status observer {server.observer_name}"
    since = stack.watch.mark()
    stack.kill_agent()  # the observer goes on running without its agent
    with silent_listener(server.address, server.agent_port):
        task_id = stack.restart()
        failed, log = failure(stack, task_id)
    assert f"agent {host}: {call}: no answer within {AGENT_TIMEOUT:g} s (ReadTimeout)" in log, log
    assert waited_seconds(log) >= 3 * AGENT_TIMEOUT  # three attempts, each one bounded
    # Now a closed port: refused at once, again named and bounded.
    stack.api.data("POST", f"/api/v2/tasks/instances/{task_id}/retry")
    failed_again, log = failure(stack, task_id)
    assert failed_again["id"] == failed["id"] and failed_again["runTime"] == failed["runTime"] + 1
    assert f"agent {host}: {call}: cannot connect" in log and "is the agent running?" in log, log
    waited_seconds(log)
    assert stack.watch.pids_since(since) == stack.watch.live()  # nothing was stopped meanwhile
    # The host is back: retry resumes the same task, which restarts the observer once.
    stack.start_agent()
    stack.api.data("POST", f"/api/v2/tasks/instances/{task_id}/retry")
    task = stack.api.wait_task(task_id)
    assert task["status"] == "SUCCESSFUL", task
    assert replaced_once(stack.watch, since) == {}
