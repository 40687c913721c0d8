"""Real `obcp server` processes for the crash and replica tests, with the test templates enabled
(OBCP_ENGINE_MODULES=obcp.engine.testing) and the engine's default timers (a dead replica's runs are taken
over in about two seconds)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from obcp.agent.ports import free_port
from tests.api.conftest import ADMIN_PASSWORD

ADMIN = ("admin", ADMIN_PASSWORD)
OBCP = Path(sys.executable).with_name("obcp")
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    db_url: str
    home: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    # Seconds this server's own clock is off (tests.engine.skewed_clock); the metadb's clock is not.
    clock_offset: float = 0.0
    env: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        env = {
            **os.environ,
            "OBCP_HOME": str(self.home),
            "OBCP_DB_URL": self.db_url,
            "OBCP_PORT": str(self.port),
            "OBCP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "OBCP_LOG_LEVEL": "warning",
            "OBCP_ENGINE_MODULES": "obcp.engine.testing",
            "OBCP_ENGINE_LOG_FLUSH_SECONDS": "0.3",
            **self.env,
        }
        command = [str(OBCP), "server"]
        if self.clock_offset:
            env["PYTHONPATH"] = str(ROOT)
            command = [sys.executable, "-m", "tests.engine.skewed_clock", str(self.clock_offset), "server"]
        self.starts += 1
        log = open(self.home / f"server-{self.port}-{self.starts}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"obcp server exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                if httpx.get(f"{self.base}/api/v2/time", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"obcp server did not start: {self.log_tail()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        stop_all([self])

    def terminate(self) -> None:
        """SIGTERM, and wait for the graceful stop."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    def log_tail(self) -> str:
        logs = sorted(self.home.glob(f"server-{self.port}-*.log"))
        return logs[-1].read_text(errors="replace")[-3000:] if logs else ""

    def get(self, path: str, **kwargs: Any) -> Any:
        response = httpx.get(f"{self.base}{path}", auth=ADMIN, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()["data"]

    def post(self, path: str) -> httpx.Response:
        return httpx.post(f"{self.base}{path}", auth=ADMIN, timeout=10)


def stop_all(servers: list[Server]) -> None:
    """SIGTERM every server, then wait for them together (each shuts down gracefully in a few seconds)."""
    running = [s.proc for s in servers if s.proc is not None and s.proc.poll() is None]
    for proc in running:
        proc.terminate()
    deadline = time.monotonic() + 20
    for proc in running:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
