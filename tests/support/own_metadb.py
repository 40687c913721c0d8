"""A PostgreSQL or MariaDB server of the test's own, on a free loopback port, that the test may stop and start
again (the machine's own servers on 5432/3306 are never touched). Each is one process, stopped by its pid.

PostgreSQL: the machine's binaries (`initdb`, `postgres`), run as the postgres user, data in a directory of
its own. MariaDB: `mariadb-install-db` and `mariadbd` with a data directory, port and socket of their own.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from obcp.agent.ports import free_port
from tests.dbs import skip_unless_required

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), Path("/nonexistent"))


@dataclass
class OwnMetadb:
    kind: str  # "postgresql" or "mysql"
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="obcp-own-metadb-")))
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.kind == "postgresql":
            return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        return f"mysql://root@127.0.0.1:{self.port}/obcp"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def create(self) -> None:
        """A fresh data directory, started once (and the `obcp` database on MariaDB)."""
        if self.kind == "postgresql":
            if not (PG_BIN / "initdb").exists():
                skip_unless_required(f"no PostgreSQL binaries under {PG_BIN.parent}")
            postgres = pwd.getpwnam("postgres")
            os.chown(self.root, postgres.pw_uid, postgres.pw_gid)
            initdb = [str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]
            self._run_as_postgres([*initdb, "-E", "UTF8", "--no-sync"])
        else:
            if shutil.which("mariadb-install-db") is None or shutil.which("mariadbd") is None:
                skip_unless_required("no mariadb-install-db / mariadbd on this machine")
            subprocess.run(
                [
                    "mariadb-install-db",
                    "--no-defaults",
                    f"--datadir={self.data}",
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                ],
                check=True,
                capture_output=True,
            )
        self.start()
        if self.kind == "mysql":
            admin = create_engine(f"mysql+pymysql://root@127.0.0.1:{self.port}/mysql")
            with admin.begin() as conn:
                conn.execute(text("CREATE DATABASE obcp CHARACTER SET utf8mb4"))
            admin.dispose()

    def start(self, timeout: float = 60) -> None:
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - the child keeps writing to it
        if self.kind == "postgresql":
            command = [str(PG_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port)]
            command += [
                "-k",
                str(self.root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ]
            self.proc = subprocess.Popen(command, user="postgres", group="postgres", stdout=log, stderr=log)
        else:
            command = [
                "mariadbd",
                "--no-defaults",
                f"--datadir={self.data}",
                f"--port={self.port}",
                f"--socket={self.root / 'mariadb.sock'}",
                f"--pid-file={self.root / 'mariadb.pid'}",
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=64M",
                "--max-connections=300",
            ]
            self.proc = subprocess.Popen(command, stdout=log, stderr=log)
        self._wait_ready(timeout)

    def stop(self) -> None:
        """Stop the server by its pid (PostgreSQL: fast shutdown; MariaDB: normal) and wait for it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT if self.kind == "postgresql" else signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        probe = (
            f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
            if self.kind == "postgresql"
            else f"mysql+pymysql://root@127.0.0.1:{self.port}/mysql"
        )
        engine = create_engine(probe)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.proc.poll() is not None:
                    tail = (self.root / "server.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}: {tail}")
                try:
                    with engine.connect() as conn:
                        conn.execute(text("SELECT 1"))
                    return
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        finally:
            engine.dispose()

    @staticmethod
    def _run_as_postgres(command: list[str]) -> None:
        subprocess.run(command, check=True, capture_output=True, user="postgres", group="postgres")
