"""The processes of one fleet run: the SIMULATION process, the obcp server replicas, the metadb.

Every process is started here and stopped by its pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from obcp.agent.ports import free_port
from obcp.meta.db import sync_url

HERE = Path(__file__).resolve().parent
ADMIN_PASSWORD = "Fleet_admin_pw_1"
TASK_TABLES = ("task_instance", "subtask_instance", "subtask_dependency", "subtask_log", "resource_lock")


def _stop(proc: subprocess.Popen[Any], seconds: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Simulation:
    proc: subprocess.Popen[str]
    agent_port: int
    channel_port: int


@contextlib.contextmanager
def simulation(args: Any, home: Path, agent_port: int, faults: list[str]) -> Iterator[Simulation]:
    channel_port = free_port("127.0.0.1")
    argv = [
        sys.executable, str(HERE / "sim_process.py"), "--clusters", str(args.clusters), "--zones",
        str(args.zones), "--servers", str(args.servers), "--seed", str(args.seed), "--agent-port",
        str(agent_port), "--channel-port", str(channel_port), *faults,
    ]  # fmt: skip
    log = (home / "simulation.log").open("w")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line or not json.loads(line).get("ready"):
            raise RuntimeError(f"the simulation process did not start: see {home / 'simulation.log'}")
        yield Simulation(proc, agent_port, channel_port)
    finally:
        _stop(proc)
        log.close()


@dataclass
class Replica:
    proc: subprocess.Popen[bytes]
    url: str
    home: Path

    def counters(self) -> dict[str, float]:
        """CPU seconds and metadb statements so far (the replica writes them on SIGUSR1)."""
        path = self.home / f"counters-{self.proc.pid}.json"
        path.unlink(missing_ok=True)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not path.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"replica {self.url} wrote no counters")
            time.sleep(0.02)
        counts: dict[str, float] = json.loads(path.read_text())
        return counts


def _wait_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"obcp server exited ({proc.returncode}): see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if (
                httpx.get(f"{url}/api/v2/ob/clusters", auth=("admin", ADMIN_PASSWORD), timeout=5).status_code
                == 200
            ):
                return
        time.sleep(0.2)
    raise RuntimeError(f"obcp server {url} not up in 120 s: see {log}")


@contextlib.contextmanager
def replicas(
    count: int, home: Path, db_url: str, channel_port: int, engine_env: dict[str, str]
) -> Iterator[list[Replica]]:
    started: list[Replica] = []
    try:
        for n in range(count):
            port = free_port("127.0.0.1")
            log = home / f"server-{n + 1}.log"
            argv = [
                sys.executable, str(HERE / "fleet_server.py"), "--port", str(port), "--home", str(home),
                "--db-url", db_url, "--channel-port", str(channel_port), "--admin-password", ADMIN_PASSWORD,
            ] + (["--migrate"] if n == 0 else [])  # fmt: skip
            env = {**os.environ, **engine_env}
            with log.open("w") as out:
                proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
            replica = Replica(proc, f"http://127.0.0.1:{port}", home)
            started.append(replica)
            _wait_up(replica.url, proc, log)
        yield started
    finally:
        for replica in started:
            _stop(replica.proc)


@contextlib.contextmanager
def metadb(kind: str, home: Path) -> Iterator[str]:
    """A fresh metadb: a SQLite file, or a database created in the machine's PostgreSQL and dropped."""
    if kind == "sqlite":
        yield f"sqlite:///{home / 'metadb.sqlite'}"
        return
    base = os.environ.get("OBCP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"obcp_fleet_{os.getpid()}_{int(time.time())}"
    admin = create_engine(sync_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgresql_reachable() -> bool:
    base = os.environ.get("OBCP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        engine = create_engine(sync_url(base), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def task_table_size(db_url: str) -> tuple[dict[str, int], int]:
    """Rows per task table and the bytes they take (PostgreSQL: tables with their indexes; SQLite: the
    database file, for a before/after difference)."""
    engine = create_engine(sync_url(db_url))
    try:
        with engine.connect() as conn:
            rows = {t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in TASK_TABLES}
            if engine.dialect.name == "postgresql":
                sizes = [
                    int(conn.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar_one())
                    for t in TASK_TABLES
                ]
                return rows, sum(sizes)
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            pages = int(conn.execute(text("PRAGMA page_count")).scalar_one())
            size = int(conn.execute(text("PRAGMA page_size")).scalar_one())
            return rows, pages * size
    finally:
        engine.dispose()
