"""A real obcp stack for end-to-end tests: an `obcp server` process on its own metadb, and a sandbox of
real seekdb observers behind real agents, registered in it through the CLI. All is stopped by pid."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.agent.harness import free_port, kill_observer

ADMIN_PASSWORD = "Stack_admin_pw_1"
OBCP = str(Path(sys.executable).parent / "obcp")


@dataclass
class Server:
    url: str
    home: Path
    proc: subprocess.Popen[bytes]

    def log(self) -> str:
        return (self.home / "server.log").read_text(errors="replace")


@contextlib.contextmanager
def obcp_server(
    home: Path, *, port: int | None = None, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """`obcp server` on SQLite in `home` (a later call with the same home is the same metadb)."""
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port("127.0.0.1")
    full_env = {**os.environ, "OBCP_HOME": str(home), "OBCP_ADMIN_PASSWORD": ADMIN_PASSWORD, **(env or {})}
    with (home / "server.log").open("ab") as out:
        proc = subprocess.Popen(
            [OBCP, "server", "--port", str(port)],
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", home, proc)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, server.log()[-3000:]
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{server.url}/api/v2/time", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "obcp server did not start:\n" + server.log()[-3000:]
            time.sleep(0.2)
        yield server
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes], grace: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def cli(url: str, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OBCP_URL": url, "OBCP_USER": "admin", "OBCP_PASSWORD": ADMIN_PASSWORD}
    result = subprocess.run([OBCP, *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"obcp {' '.join(args)}: {result.stdout}{result.stderr}"
    return result


@dataclass
class Sandbox:
    root: Path
    cluster_id: int
    state: dict[str, Any]
    root_password: str

    def servers(self) -> list[dict[str, Any]]:
        servers: list[dict[str, Any]] = self.state["servers"]
        return servers


@contextlib.contextmanager
def sandbox(
    url: str, root: Path, *, zones: int, per_zone: int = 1, name: str = "sandbox"
) -> Iterator[Sandbox]:
    try:
        up = cli(url, "sandbox", "up", "--zones", str(zones), "--servers-per-zone", str(per_zone),
                 "--name", name, "--dir", str(root))  # fmt: skip
        match = re.search(r"^cluster id: (\d+)$", up.stdout, re.M)
        assert match, up.stdout
        state = json.loads((root / "sandbox.json").read_text())
        secrets = json.loads((root / "secrets.json").read_text())
        yield Sandbox(root, int(match.group(1)), state, secrets["root_password"])
    finally:
        cli(url, "sandbox", "down", "--purge", "--dir", str(root), check=False)
        kill_leftovers(root)


def kill_leftovers(root: Path) -> None:
    """Whatever a test left running, stopped by the pids the sandbox recorded."""
    state_file = root / "sandbox.json"
    if not state_file.exists():
        return
    for server in json.loads(state_file.read_text())["servers"]:
        kill_observer(Path(server["base_dir"]))
        pid = server.get("agent_pid")
        if pid is not None:
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                if abs(proc.create_time() - server["agent_create_time"]) < 0.01:
                    proc.kill()


class Api:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, auth=("admin", ADMIN_PASSWORD), timeout=30)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, **kwargs)

    def data(self, method: str, path: str, **kwargs: Any) -> Any:
        r = self.call(method, path, **kwargs)
        assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text}"
        return r.json().get("data")

    def wait_task(self, task_id: int, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            task: dict[str, Any] = self.data("GET", f"/api/v2/tasks/instances/{task_id}")
            if task["status"] != "RUNNING":
                return task
            assert time.monotonic() < deadline, f"task {task_id} still RUNNING: {task}"
            time.sleep(0.3)

    def close(self) -> None:
        self.http.close()
