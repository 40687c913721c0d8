"""The CLI in a real terminal (Debian's tmux, 120 × 40) against a real 3 zones × 2 servers sandbox (real
seekdb, real agents): `obcp cluster restart --wait` draws the folded view that fits the 40 lines, naming
the servers of the running zone; `obcp cluster show` draws tables; `-o json` is the API's data; the plain
lines of a pipe name each step's server; `obcp task timeline` draws each server's down window.

tmux is installed with apt-get when it is missing (as root, like Chromium for the console's tests). Its
server runs on a socket of its own and is stopped by its pid."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.stack import ADMIN_PASSWORD, OBCP, Api, Sandbox, cli, running_stack

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(1200)]

ROWS, COLUMNS = 40, 120


def ensure_tmux() -> str:
    found = shutil.which("tmux")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.skip("tmux is not installed and only root can apt-get install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "tmux"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800, check=False)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    found = shutil.which("tmux")
    assert found, "apt-get installed tmux but it is not on PATH"
    return found


@dataclass
class Terminal:
    tmux: str
    socket: Path

    def run(self, *args: str) -> str:
        cmd = [self.tmux, "-S", str(self.socket), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def type(self, line: str) -> None:
        self.run("send-keys", "-t", "cli", line, "Enter")

    def screen(self) -> list[str]:
        return self.run("capture-pane", "-p", "-t", "cli").splitlines()


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    """A shell in a 120 × 40 tmux window, with the obcp server's URL and credentials in its environment."""
    term = Terminal(ensure_tmux(), tmp_path / "tmux.sock")
    term.run("-f", "/dev/null", "new-session", "-d", "-s", "cli", "-x", str(COLUMNS), "-y", str(ROWS),
             "env", "TERM=xterm-256color", "PS1=$ ", "bash", "--norc", "--noprofile")  # fmt: skip
    pid = int(term.run("display-message", "-p", "-t", "cli", "#{pid}").strip())
    try:
        yield term
    finally:
        os.kill(pid, signal.SIGTERM)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Api, Sandbox]]:
    with running_stack(tmp_path_factory.mktemp("cli3x2"), zones=3, per_zone=2) as (server, api, sb):
        yield server.url, api, sb


def login(term: Terminal, url: str) -> None:
    term.type(f"export OBCP_URL={url} OBCP_USER=admin OBCP_PASSWORD={ADMIN_PASSWORD}; clear")


def wait_for_exit(term: Terminal, seen: list[list[str]]) -> None:
    """Screens until the shell printed `EXIT=<code>` on a line of its own (the typed command line says
    `EXIT=$?`); a deadline only so a hang fails instead of stalling the suite."""
    deadline = time.monotonic() + 600
    while True:
        screen = term.screen()
        seen.append(screen)
        if any(re.fullmatch(r"EXIT=\d+", line.strip()) for line in screen):
            return
        assert time.monotonic() < deadline, "\n".join(screen)
        time.sleep(0.2)


def addresses(api: Api, sb: Sandbox) -> dict[str, list[str]]:
    servers = api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}/servers")["contents"]
    by_zone: dict[str, list[str]] = {}
    for s in servers:
        by_zone.setdefault(s["zoneName"], []).append(f"{s['ip']}:{s['port']}")
    return by_zone


def test_restart_wait_fits_40_lines_and_names_the_running_zones_servers(
    stack: tuple[str, Api, Sandbox], terminal: Terminal
) -> None:
    url, api, sb = stack
    login(terminal, url)
    terminal.type(f"{OBCP} cluster restart {sb.cluster_id} --wait; echo EXIT=$?")
    seen: list[list[str]] = []
    wait_for_exit(terminal, seen)
    assert any(line.strip() == "EXIT=0" for line in seen[-1]), "\n".join(seen[-1])
    servers = addresses(api, sb)
    # The view while zone2 restarts: zone1 folded done, zone3 folded pending, zone2 whole with its servers.
    # A screen is read whole only once its last line is drawn: tmux can be read while the view is being
    # redrawn (seen once: the header and zone2 drawn, the cluster's line not yet). A view taller than the
    # terminal still fails below: its header has scrolled away.
    during = [
        s
        for s in seen
        if any(line.startswith("▶ zone2 ") for line in s)
        and any(line.startswith("· cluster · 0/3 · pending") for line in s)
    ]
    assert during, "no screen showed zone2 running:\n" + "\n".join(seen[len(seen) // 2])
    for screen in during:
        text = "\n".join(screen)
        header = next(i for i, line in enumerate(screen) if "Restart OB cluster — ▶ RUNNING" in line)
        end = next(i for i, line in enumerate(screen) if line.startswith("· cluster · 0/3 · pending"))
        assert end - header < ROWS, text
        # 21 subtasks a zone of 2 servers: 17 steps and 4 Wait nodes.
        assert "✓ zone1 · 21/21 done in " in text and "· zone3 · 0/21 · pending" in text, text
        assert ", ".join(servers["zone2"]) in text and "subtasks" in text and "elapsed" in text
        assert servers["zone1"][0] not in text and servers["zone3"][0] not in text
    stops = [line for s in during for line in s if "Stop observer process" in line]
    assert {a for a in servers["zone2"] if any(a in line for line in stops)} == set(servers["zone2"])
    assert any("left" in line for s in during for line in s), "no estimate while zone2 ran"
    last = "\n".join(seen[-1])
    assert "longest interval with no observer answering" in last
    print(
        f"\nfolded watch view, {len(during)} screens while zone2 ran; one of them:\n" + "\n".join(during[-1])
    )


def test_cluster_show_draws_tables_and_json_round_trips(
    stack: tuple[str, Api, Sandbox], terminal: Terminal
) -> None:
    url, api, sb = stack
    login(terminal, url)
    terminal.type(f"{OBCP} cluster show {sb.cluster_id}; echo EXIT=$?")
    seen: list[list[str]] = []
    wait_for_exit(terminal, seen)
    text = "\n".join(seen[-1])
    assert "{" not in text and "\nEXIT=0" in text, text
    for zone, listed in addresses(api, sb).items():
        assert any(line.lstrip().startswith(zone) and "RUNNING" in line for line in seen[-1]), text
        for address in listed:
            assert any(address in line and "● RUNNING" in line and zone in line for line in seen[-1]), text
    print("\n" + text)
    data = api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}")
    assert json.loads(cli(url, "cluster", "show", str(sb.cluster_id), "-o", "json").stdout) == data
    tasks = api.data("GET", "/api/v2/tasks/instances", params={"size": 20, "sort": "id,desc"})
    assert json.loads(cli(url, "task", "list", "-o", "json").stdout) == tasks
    servers = api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}/servers")
    assert json.loads(cli(url, "server", "list", str(sb.cluster_id), "-o", "json").stdout) == servers


def test_plain_lines_and_the_timeline_name_the_servers(stack: tuple[str, Api, Sandbox]) -> None:
    url, api, sb = stack
    last = api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}")["lastOperation"]
    if last is None or last["name"] != "Restart OB cluster":
        task_id = api.data("POST", f"/api/v2/ob/clusters/{sb.cluster_id}/restart")["id"]
        api.wait_task(task_id)
    else:
        task_id = last["taskId"]
    servers = addresses(api, sb)
    lines = cli(url, "task", "watch", str(task_id)).stdout.splitlines()
    for zone, listed in servers.items():
        for address in listed:
            assert any(f"Stop observer process {address} ({zone}): SUCCESSFUL" in line for line in lines), (
                lines
            )
    timeline = cli(url, "task", "timeline", str(task_id)).stdout
    rows = [line for line in timeline.splitlines() if "█" in line and " down " in line]
    assert sorted(row.split()[0] for row in rows) == sorted(a for listed in servers.values() for a in listed)
    assert "longest interval with no observer answering" in timeline
    print("\n" + timeline)
