"""`obcp server` as a real process (OBCP_* settings, flags, graceful SIGTERM, no secret in its output) and
`obcp db upgrade`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from obcp.agent.ports import free_port
from obcp.cli.main import app
from obcp.meta.db import sync_url
from obcp.meta.migrate import current_head
from tests.api.secret_flow import assert_no_secret, exercise, find_secrets

OBCP = Path(sys.executable).parent / "obcp"
ADMIN_PASSWORD = "AdminPw-Xc8vB3nM6qW1"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBCP_")}
    env.update(extra)
    return env


@contextmanager
def running_server(
    args: list[str], env: dict[str, str], port: int, out: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`obcp server`, output in files; stopped by its pid (SIGTERM, then SIGKILL) at the end."""
    with open(out / "stdout", "wb") as stdout, open(out / "stderr", "wb") as stderr:
        proc = subprocess.Popen([str(OBCP), "server", *args], env=env, stdout=stdout, stderr=stderr)
        try:
            deadline = time.monotonic() + 90
            while True:
                assert proc.poll() is None, f"obcp server exited: {(out / 'stderr').read_text()[-2000:]}"
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/api/v2/time", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (
                    f"obcp server did not answer: {(out / 'stderr').read_text()[-2000:]}"
                )
                time.sleep(0.2)
            yield proc
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()


def stop(proc: subprocess.Popen[bytes]) -> int:
    os.kill(proc.pid, signal.SIGTERM)
    return proc.wait(timeout=20)


def test_server_honours_env_and_flags_keeps_secrets_and_stops_gracefully(tmp_path: Path) -> None:
    """One real server: settings from OBCP_* variables, overridden by flags where both are given; the secret
    flow; SIGTERM -> exit 0; no secret anywhere in its (debug-level) output."""
    port, env_port = free_port(), free_port()
    home = tmp_path / "home"
    env_db, flag_db = tmp_path / "from-env.sqlite", tmp_path / "from-flag.sqlite"
    env = clean_env(
        OBCP_HOME=str(home),
        OBCP_PORT=str(env_port),
        OBCP_HOST="127.0.0.1",
        OBCP_DB_URL=f"sqlite:///{env_db}",
        OBCP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        OBCP_LOG_LEVEL="debug",
    )
    with running_server(
        ["--port", str(port), "--db-url", f"sqlite:///{flag_db}"], env, port, tmp_path
    ) as proc:
        assert flag_db.exists() and not env_db.exists()  # --db-url beats OBCP_DB_URL
        assert (home / "secret.key").exists()  # OBCP_HOME
        with pytest.raises(httpx.TransportError):  # --port beats OBCP_PORT
            httpx.get(f"http://127.0.0.1:{env_port}/api/v2/time", timeout=2)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            responses = exercise(client, ("admin", ADMIN_PASSWORD))  # OBCP_ADMIN_PASSWORD
            assert client.get("/api/status", auth=("admin", ADMIN_PASSWORD)).text == "okay"
        assert_no_secret(responses)
        assert stop(proc) == 0
    stdout, stderr = (tmp_path / "stdout").read_text(), (tmp_path / "stderr").read_text()
    output = stdout + stderr
    assert "Application startup complete" in output and "Shutting down" in output, output[-2000:]
    assert "POST /api/v2/iam/users" in output  # the access log is there, so the scan below means something
    assert " DEBUG " in output  # OBCP_LOG_LEVEL
    assert "generated password" not in output
    assert find_secrets(output) == [], [line for line in output.splitlines() if find_secrets(line)][:5]
    assert ADMIN_PASSWORD not in output


def _revision(url: str) -> tuple[str | None, set[str]]:
    from alembic.migration import MigrationContext

    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision(), set(
                inspect(conn).get_table_names()
            )
    finally:
        engine.dispose()


def test_db_upgrade(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'flag.sqlite'}"
    for _ in range(2):  # the second run is a no-op
        result = runner.invoke(app, ["db", "upgrade", "--db-url", url], env=clean_env())
        assert result.exit_code == 0, result.output
        assert "latest revision" in result.output
        assert _revision(url)[0] == current_head()
    assert {"iam_user", "ob_cluster", "compute_host"} <= _revision(url)[1]

    home = tmp_path / "env-home"
    result = runner.invoke(app, ["db", "upgrade"], env=clean_env(OBCP_HOME=str(home)))
    assert result.exit_code == 0, result.output
    assert _revision(f"sqlite:///{home / 'obcp.db'}")[0] == current_head()

    env_db = tmp_path / "env.sqlite"
    result = runner.invoke(app, ["db", "upgrade"], env=clean_env(OBCP_DB_URL=f"sqlite:///{env_db}"))
    assert result.exit_code == 0, result.output
    assert _revision(f"sqlite:///{env_db}")[0] == current_head()


def test_db_upgrade_hides_the_url_password(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["db", "upgrade", "--db-url", "postgresql://obcp:DbPw-Lk3jH8gF@127.0.0.1:1/none"],
        env=clean_env(),
    )
    assert result.exit_code != 0
    assert "DbPw-Lk3jH8gF" not in result.output
