"""Real agents and real seekdb observers for tests: agent processes and their configs, cleanup by pid."""

from __future__ import annotations

import contextlib
import secrets
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from obcp.agent.client import AgentSignatureAuth
from obcp.agent.ports import free_port
from obcp.sandbox.server_process import stop_process
from tests.support.processes import kill_observer

ROOT_PASSWORD = "Root_pw_" + secrets.token_hex(6)


def toml_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


def write_agent_config(
    path: Path, key_file: Path, observers: list[dict[str, Any]], tls: dict[str, str] | None = None
) -> None:
    lines = [f"key_file = {toml_value(str(key_file))}", ""]
    if tls is not None:
        lines.append("[tls]")
        lines += [f"{k} = {toml_value(v)}" for k, v in tls.items()]
        lines.append("")
    for observer in observers:
        lines.append("[[observers]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in observer.items()]
        lines.append("")
    path.write_text("\n".join(lines))


@dataclass
class AgentProcess:
    """An `obcp agent` subprocess in its own session, stopped by its pid."""

    address: str
    port: int
    key: str
    config: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    tls_client: ssl.SSLContext | None = None
    observers_dirs: list[Path] = field(default_factory=list)

    def start(self, timeout: float = 20.0) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "obcp.cli.agent",
                    "--config",
                    str(self.config),
                    "--listen",
                    f"{self.address}:{self.port}",
                    "--log-level",
                    "info",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"agent exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}"
                )
            try:
                if self.request("GET", "/v1/info").status_code == 200:
                    return
            except (httpx.TransportError, ssl.SSLError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"agent did not answer within {timeout} s: {self.log.read_text()[-2000:]}")

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        scheme = "https" if self.tls_client is not None else "http"
        with httpx.Client(
            base_url=f"{scheme}://{self.address}:{self.port}",
            auth=AgentSignatureAuth(self.key.encode()),
            timeout=60,
            trust_env=False,
            verify=self.tls_client if self.tls_client is not None else True,
        ) as client:
            return client.request(method, path, **kwargs)

    def kill(self) -> None:
        """SIGKILL, as a crash would: the observers it started must survive."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace=10)


@contextlib.contextmanager
def running_agent(
    tmp: Path,
    address: str,
    observers: list[dict[str, Any]],
    key: str | None = None,
    tls: dict[str, str] | None = None,
    tls_client: ssl.SSLContext | None = None,
) -> Iterator[AgentProcess]:
    key = key or secrets.token_hex(24)
    key_file = tmp / "agent.key"
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    config = tmp / "agent.toml"
    write_agent_config(config, key_file, observers, tls)
    agent = AgentProcess(address, free_port(address), key, config, tmp / "agent.log", tls_client=tls_client)
    # A home of kind observer is its observer's directory as a base dir is a seekdb's.
    agent.observers_dirs = [Path(o.get("base_dir") or o["home_path"]) for o in observers]
    try:
        agent.start()
        yield agent
    finally:
        agent.stop()
        for base_dir in agent.observers_dirs:
            kill_observer(base_dir)


@contextlib.contextmanager
def foreign_listener(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A process that listens on the port and never speaks (the worst case for a readiness probe)."""
    code = (
        "import socket,sys,time\n"
        "s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
        f"s.bind(('0.0.0.0',{port}));s.listen();print('ok',flush=True);time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ok"
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)
