"""A real obcp stack for end-to-end tests: an `obcp server` process on its own metadb, and a sandbox of
real seekdb observers behind real agents, registered in it through the CLI. All is stopped by pid."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from obcp.agent.ports import free_port
from obcp.sandbox.server_process import ServerProcess, running_server
from tests.support.processes import kill_sandbox_leftovers

ADMIN_PASSWORD = "Stack_admin_pw_1"
OBCP = str(Path(sys.executable).parent / "obcp")


@contextlib.contextmanager
def obcp_server(
    home: Path, *, port: int | None = None, env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """`obcp server` on SQLite in `home` (a later call with the same home is the same metadb)."""
    full_env = {"OBCP_ADMIN_PASSWORD": ADMIN_PASSWORD, **(env or {})}
    with running_server(home, port or free_port("127.0.0.1"), full_env) as server:
        yield server


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
        kill_sandbox_leftovers(root)


@contextlib.contextmanager
def running_stack(home: Path, zones: int, per_zone: int = 1) -> Iterator[tuple[ServerProcess, Api, Sandbox]]:
    """A server in home/server, a sandbox of `zones` x `per_zone` in home/sandbox registered in it, and its
    API."""
    with (
        obcp_server(home / "server") as server,
        sandbox(server.url, home / "sandbox", zones=zones, per_zone=per_zone) as sb,
    ):
        api = Api(server.url)
        try:
            yield server, api, sb
        finally:
            api.close()


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
