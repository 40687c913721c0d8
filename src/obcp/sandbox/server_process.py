"""An `obcp server` subprocess on a home of its own, for the demo, the benchmarks and the end-to-end tests:
started in its own session, waited for until its API answers, stopped by its pid."""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

LOG_FILE = "server.log"


class ServerStartError(RuntimeError):
    pass


@dataclass
class ServerProcess:
    url: str
    home: Path
    proc: subprocess.Popen[bytes]

    @property
    def log_path(self) -> Path:
        return self.home / LOG_FILE

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    home: Path,
    port: int,
    env: Mapping[str, str],
    args: Sequence[str] = (),
    cwd: Path | None = None,
    scheme: str = "http",
) -> ServerProcess:
    """Launches `obcp server` on 127.0.0.1:port with OBCP_HOME=home over this process's environment; its
    own session, so a Ctrl-C reaches only the caller, which stops it in its own order. `scheme` is https
    when args (or env) give it a TLS certificate."""
    home.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "OBCP_HOME": str(home), **env}
    argv = [sys.executable, "-m", "obcp", "server", "--host", "127.0.0.1", "--port", str(port), *args]
    with (home / LOG_FILE).open("ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return ServerProcess(f"{scheme}://127.0.0.1:{port}", home, proc)


def wait_answering(server: ServerProcess, timeout: float = 90, verify: ssl.SSLContext | bool = True) -> None:
    """Until GET /api/v2/time answers 200; raises, with the log's tail, if the server exits or is late.
    `verify`: how an https:// server's certificate is checked (a context with the test's CA)."""
    deadline = time.monotonic() + timeout
    while True:
        if server.proc.poll() is not None:
            raise ServerStartError(
                f"obcp server exited with code {server.proc.returncode}; "
                f"{server.log_path}:\n{server.log()[-3000:]}"
            )
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.url}/api/v2/time", timeout=2, verify=verify).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise ServerStartError(
                f"obcp server did not answer within {timeout:g} s; {server.log_path}:\n{server.log()[-3000:]}"
            )
        time.sleep(0.2)


def stop_process(proc: subprocess.Popen[bytes], grace: float = 15) -> None:
    """SIGTERM to the process we started, SIGKILL after the grace period; never anything by name."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextlib.contextmanager
def running_server(
    home: Path,
    port: int,
    env: Mapping[str, str],
    args: Sequence[str] = (),
    cwd: Path | None = None,
    timeout: float = 90,
) -> Iterator[ServerProcess]:
    """`obcp server` from start until it answers, to its stop at the end of the block."""
    server = start_server(home, port, env, args, cwd)
    try:
        wait_answering(server, timeout)
        yield server
    finally:
        stop_process(server.proc)
