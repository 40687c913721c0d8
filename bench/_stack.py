"""What the benchmarks run against: an `obcp server` process on SQLite, a sandbox of real seekdb observers
registered in it, and bare seekdb processes started the way obcp's agent starts them. Everything is
stopped by its pid."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from obcp.agent.config import DEFAULT_PARAMETERS, DEFAULT_VARIABLES, bundled_seekdb_binary
from obcp.agent.ports import free_port
from obcp.sandbox.down import sandbox_down
from obcp.sandbox.server_process import running_server, stop_process
from obcp.sandbox.state import load_secrets
from obcp.sandbox.up import ServerApiSettings
from obcp.sandbox.up_with_retries import up_with_retries

ADMIN_PASSWORD = "Bench_admin_pw_1"


@contextlib.contextmanager
def obcp_server(home: Path) -> Iterator[str]:
    """`obcp server` on SQLite in `home`; yields its URL."""
    with running_server(home, free_port("127.0.0.1"), {"OBCP_ADMIN_PASSWORD": ADMIN_PASSWORD}) as server:
        yield server.url


@dataclass
class Sandbox:
    cluster_id: int
    root_password: str
    servers: list[tuple[str, int]]  # (address, sql port)


@contextlib.contextmanager
def sandbox(url: str, root: Path, zones: int, name: str) -> Iterator[Sandbox]:
    """`obcp sandbox up` (in process) registered in the server at `url`; down --purge at the end."""

    def say(line: str) -> None:
        print(f"  sandbox: {line}", flush=True)

    try:
        api = ServerApiSettings(url, "admin", ADMIN_PASSWORD)
        up = asyncio.run(up_with_retries(root, zones, 1, name, api, say, attempts=5))
        assert up.state.cluster_id is not None
        servers = [(s.address, s.sql_port) for s in up.state.servers]
        yield Sandbox(up.state.cluster_id, load_secrets(root).root_password, servers)
    finally:
        # Stops observers through their agents, or directly by pid + cwd + start time, then the agents.
        asyncio.run(sandbox_down(root, True, say))


def select_1(host: str, port: int, password: str = "", timeout: float = 2.0) -> bool:
    try:
        conn = pymysql.connect(
            host=host, port=port, user="root", password=password,
            connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout,
        )  # fmt: skip
    except pymysql.MySQLError:
        return False
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            return cur.fetchone() == (1,)
    except pymysql.MySQLError:
        return False
    finally:
        conn.close()


class BareSeekdb:
    """One seekdb run by a minimal script, with the agent's command line (observer_process.py): the
    first start bootstraps with the agent's parameters; a restart passes only --nodaemon, the base dir,
    the port and the log level. Same environment (telemetry off), own session."""

    POLL = 0.05

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir.resolve()
        self.port = free_port("0.0.0.0")
        self.proc: subprocess.Popen[bytes] | None = None

    def _argv(self, first: bool) -> list[str]:
        argv = [str(bundled_seekdb_binary()), "--nodaemon", "--base-dir", str(self.base_dir)]
        argv += ["--port", str(self.port), "--log-level", "WARN"]
        if first:
            for key, value in DEFAULT_PARAMETERS.items():
                argv += ["--parameter", f"{key}={value}"]
            for key, value in DEFAULT_VARIABLES.items():
                argv += ["--variable", f"{key}={value}"]
        return argv

    def _launch(self, first: bool) -> None:
        (self.base_dir / "log").mkdir(parents=True, exist_ok=True)
        with (self.base_dir / "log" / "bench.stdout").open("ab") as out:
            self.proc = subprocess.Popen(
                self._argv(first), cwd=self.base_dir, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env={**os.environ, "TELEMETRY_ENABLED": "false"},
                start_new_session=True,
            )  # fmt: skip

    def _wait_select_1(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not select_1("127.0.0.1", self.port):
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"bare seekdb in {self.base_dir} exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"bare seekdb in {self.base_dir} not ready within {timeout} s")
            time.sleep(self.POLL)

    def initialise(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self._launch(first=True)
        self._wait_select_1()

    def stop(self) -> None:
        # seekdb treats SIGTERM as SIGKILL; wait() reaps it, so the port is free after.
        if self.proc is not None:
            stop_process(self.proc)

    def restart(self) -> float:
        """Seconds from the stop signal to the first successful SELECT 1 of the new process."""
        t0 = time.monotonic()
        self.stop()
        self._launch(first=False)
        self._wait_select_1()
        return time.monotonic() - t0


@contextlib.contextmanager
def bare_seekdbs(root: Path, count: int) -> Iterator[list[BareSeekdb]]:
    dbs = [BareSeekdb(root / f"bare{i + 1}") for i in range(count)]
    try:
        for db in dbs:
            db.initialise()
        yield dbs
    finally:
        for db in dbs:
            db.stop()


PG_URL = os.environ.get("OBCP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def fresh_pg_database(prefix: str = "obcp_bench") -> Iterator[str]:
    """A new database on the machine's PostgreSQL (OBCP_TEST_PG_URL), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(PG_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
