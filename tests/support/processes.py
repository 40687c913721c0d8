"""Observers and agents that tests left running, found by the pids obcp recorded and stopped by them."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import psutil

from obcp.agent.process_record import live_process


def observer_pid(base_dir: Path) -> int | None:
    """The pid of the seekdb running in base_dir, checked the way the agent checks it."""
    try:
        pid = int((base_dir / "run" / "seekdb.pid").read_text().strip())
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        if os.path.realpath(proc.cwd()) != os.path.realpath(base_dir):
            return None
        return pid
    except (OSError, ValueError, psutil.Error):
        return None


def kill_observer(base_dir: Path) -> None:
    pid = observer_pid(base_dir)
    if pid is None:
        return
    with contextlib.suppress(psutil.Error):
        proc = psutil.Process(pid)
        proc.kill()
        proc.wait(timeout=10)


def kill_sandbox_leftovers(root: Path) -> None:
    """Whatever a sandbox left running, stopped by the pids it recorded (agents checked by start time)."""
    state_file = root / "sandbox.json"
    if not state_file.exists():
        return
    for server in json.loads(state_file.read_text()).get("servers", []):
        kill_observer(Path(server["base_dir"]))
        pid, started = server.get("agent_pid"), server.get("agent_create_time")
        if pid is None or started is None:
            continue
        with contextlib.suppress(psutil.Error):
            agent = live_process(pid, started)
            if agent is not None:
                agent.kill()
