"""`make demo` end to end: `python -m obcp.demo` with its output not a terminal restarts a real 3 x 1 sandbox
through the HTTP API, prints the outcome, and leaves no process behind — also when a previous demo was
killed in the middle and left its server, agents and observers running."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from obcp.agent.ports import free_port

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(900)]


def demo_env(home: Path) -> dict[str, str]:
    return {**os.environ, "OBCP_DEMO_HOME": str(home), "OBCP_DEMO_PORT": str(free_port("127.0.0.1"))}


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def processes_using(home: Path) -> list[str]:
    """Processes whose command line names the demo home (agents' configs, observers' base dirs)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(home) in cmdline and proc.pid != os.getpid() and alive(proc.pid):
            found.append(f"{proc.pid}: {cmdline[:200]}")
    return found


def test_demo_restarts_the_sandbox_and_stops_everything(tmp_path: Path) -> None:
    home = tmp_path / "demo"

    # A demo killed in the middle leaves its server, agents and observers running...
    first = subprocess.Popen(
        [sys.executable, "-m", "obcp.demo"],
        env=demo_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert first.stdout is not None
    lines = []
    for line in first.stdout:
        lines.append(line)
        if "sandbox ready" in line:
            break
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    output = "".join(lines)
    server_match = re.search(r"obcp server pid (\d+) starting", output)
    assert server_match and "sandbox ready" in output, output
    left = [int(server_match.group(1))]
    left += [s["agent_pid"] for s in json.loads((home / "sandbox" / "sandbox.json").read_text())["servers"]]
    assert all(alive(pid) for pid in left)

    # ...and the next demo stops them, starts afresh, and does the whole job.
    result = subprocess.run(
        [sys.executable, "-m", "obcp.demo"],
        env=demo_env(home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "a previous demo's sandbox is still there" in output
    assert "stopping a previous demo's obcp server" in output
    assert not any(alive(pid) for pid in left), output

    # Progress while setting up, the live task as one line per change (not a terminal), the outcome.
    for expected in ("obcp server ready at", "3 agent(s) answering", "sandbox ready in", "wrote 3 rows"):
        assert expected in output, output
    # Each per-server step names its server and zone (or its index where the CLI cannot tell the server).
    line = r"^\d\d:\d\d:\d\d subtask \d+ Stop observer process (\[0\]|\S+ \(zone\d+\)): SUCCESSFUL$"
    assert re.search(line, output, re.M), output[-3000:]
    assert re.search(r"^\d\d:\d\d:\d\d task \d+ Restart OB cluster: SUCCESSFUL$", output, re.M), output
    assert re.search(r"outcome: task \d+ SUCCESSFUL in [\d.]+ s; cluster status RUNNING", output), output
    proofs = re.findall(r"obs-zone\d-1: START_SERVICE_TIME (\d+) -> (\d+) \(restarted\); rows 3 -> 3", output)
    assert len(proofs) == 3, output
    assert all(int(after) > int(before) for before, after in proofs)
    outage = re.search(r"longest interval with no observer answering SQL: ([\d.]+) s", output)
    assert outage, output
    # Rolling over three zones: one observer always answers.
    assert float(outage.group(1)) == 0.0, output
    assert "demo done: restart SUCCESSFUL" in output

    # Nothing it started remains: the server by the pid it printed, the sandbox's agents and observers by
    # the pids it reported before stopping them, and anything else naming the demo home.
    server_pid = re.search(r"obcp server pid (\d+) starting", output)
    sandbox_pids = re.search(r"sandbox pids \(agents and observers\): ([\d ]+)$", output, re.M)
    assert server_pid and sandbox_pids, output
    pids = [int(server_pid.group(1)), *map(int, sandbox_pids.group(1).split())]
    assert len(pids) == 7
    assert not [pid for pid in pids if alive(pid)], output
    assert processes_using(home) == []
    assert not (home / "sandbox").exists(), "down --purge deletes the sandbox"
