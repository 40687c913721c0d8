"""A real seekdb observer for tests, started `--nodaemon` in its own session with telemetry off and stopped by
its pid."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import time
from pathlib import Path

import pymysql

MEMORY_FLAGS = [
    "--parameter",
    "memory_budget=1G",
    "--parameter",
    "log_disk_size=2G",
    "--parameter",
    "datafile_size=32M",
    "--parameter",
    "datafile_maxsize=2G",
    "--variable",
    "time_zone=+00:00",
]


def seekdb_binary() -> str:
    spec = importlib.util.find_spec("pylibseekdb")
    assert spec is not None and spec.origin is not None, "pylibseekdb is not installed"
    return os.path.join(os.path.dirname(spec.origin), "seekdb")


class SeekdbServer:
    def __init__(self, base_dir: Path, port: int) -> None:
        self.base_dir = base_dir
        self.port = port
        self.password = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self._out = open(base_dir.parent / f"{base_dir.name}.stdout", "ab")  # noqa: SIM115

    def start(self, *, first: bool = False) -> float:
        """Start the observer; returns seconds until a login + SELECT 1 answered."""
        args = [seekdb_binary(), "--nodaemon", "--base-dir", str(self.base_dir), "--port", str(self.port)]
        if first:
            args += ["--log-level", "WARN", *MEMORY_FLAGS]
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            args,
            env={**os.environ, "TELEMETRY_ENABLED": "false"},
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        deadline = t0 + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"seekdb exited with {self.proc.returncode}; see {self.base_dir}/log")
            try:
                conn = pymysql.connect(
                    host="127.0.0.1",
                    port=self.port,
                    user="root",
                    password=self.password,
                    connect_timeout=1,
                    read_timeout=5,
                )
                conn.cursor().execute("SELECT 1")
                conn.close()
                return time.monotonic() - t0
            except pymysql.err.MySQLError:
                time.sleep(0.1)
        raise RuntimeError("seekdb did not become accessible within 90 s")

    def set_root_password(self, password: str) -> None:
        conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root", password=self.password)
        try:
            conn.cursor().execute("ALTER USER root IDENTIFIED BY %s", (password,))
        finally:
            conn.close()
        self.password = password

    def kill(self) -> None:
        """SIGKILL by pid (seekdb treats SIGTERM as SIGKILL anyway) and reap it."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        try:
            self.kill()
        finally:
            self._out.close()
