"""One seekdb for the whole test session, as a metadb: a real OceanBase-kernel server speaking the MySQL
protocol, in which the metadb tests create their throw-away databases as they do on MariaDB.

It is started on first use (most test runs never need it), on a free port and a base directory of its own,
and stopped by its pid when the session ends (tests/conftest.py). OBCP_TEST_SEEKDB_URL points the tests at a
seekdb (or OceanBase) that is already running instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from obcp.agent.ports import free_port
from tests.ob.seekdb_server import SeekdbServer

_server: SeekdbServer | None = None
_failure: str | None = None


def seekdb_admin_url() -> str:
    """The URL of a database on the session's seekdb to create databases from; raises RuntimeError, with
    the reason, when no seekdb can be started here."""
    global _server, _failure
    configured = os.environ.get("OBCP_TEST_SEEKDB_URL")
    if configured:
        return configured
    if _failure is not None:
        raise RuntimeError(_failure)
    if _server is None:
        base = Path(tempfile.mkdtemp(prefix="obcp-seekdb-metadb-")) / "seekdb"
        server = SeekdbServer(base, free_port("0.0.0.0"))
        try:
            server.start(first=True)
        except Exception as exc:  # no wheel, no memory, a port taken: the reason goes in the skip or failure
            server.stop()
            _failure = f"seekdb did not start in {base}: {exc}"
            raise RuntimeError(_failure) from exc
        _server = server
    return f"mysql://root@127.0.0.1:{_server.port}/test"


def stop_session_seekdb() -> None:
    """Stops the session's seekdb, if one was started, by its pid, and removes its base directory."""
    global _server
    server, _server = _server, None
    if server is not None:
        server.stop()
        shutil.rmtree(server.base_dir.parent, ignore_errors=True)
